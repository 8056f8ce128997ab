#!/usr/bin/env python3
"""Writes N small pure-Python wheels (with a dependency chain and a console
script) into a wheelhouse, plus a requirements file naming all of them and
Debian's real pip/setuptools/wheel wheels. Used by bench/run.sh.

usage: mkwheels.py OUTDIR N
       mkwheels.py --from SRCDIR DIST VERSION OUTDIR   (a wheel of a package directory)
"""
import base64, hashlib, os, sys, zipfile

def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def make(out, name, version, requires, modules):
    dist = f"{name}-{version}"
    files = {}
    for i in range(modules):
        body = "".join(f"def f{j}(x):\n    return x * {j} + {i}\n\n" for j in range(40))
        files[f"{name}/mod{i}.py"] = body.encode()
    files[f"{name}/__init__.py"] = f"__version__ = '{version}'\n\ndef main():\n    print('{name}', __version__)\n".encode()
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    for r in requires:
        meta += f"Requires-Dist: {r}\n"
    files[f"{dist}.dist-info/METADATA"] = meta.encode()
    files[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mkwheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist}.dist-info/entry_points.txt"] = f"[console_scripts]\n{name}-cli = {name}:main\n".encode()
    files[f"{dist}.dist-info/top_level.txt"] = f"{name}\n".encode()
    lines = [record_line(n, d) for n, d in sorted(files.items())] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(lines) + "\n").encode()
    path = os.path.join(out, f"{dist}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in sorted(files.items()):
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), d)

def from_dir(src, dist, version, out):
    norm = dist.replace("-", "_")
    info = f"{norm}-{version}.dist-info"
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                files[os.path.relpath(p, src).replace(os.sep, "/")] = f.read()
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mkwheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    lines = [record_line(n, d) for n, d in sorted(files.items())] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(os.path.join(out, f"{norm}-{version}-py3-none-any.whl"), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in sorted(files.items()):
            z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), d)

def main():
    if sys.argv[1] == "--from":
        from_dir(*sys.argv[2:6])
        return
    out, n = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    names = [f"benchpkg{i:02d}" for i in range(n)]
    for i, name in enumerate(names):
        requires = [f"{names[i + 1]}>=1.0"] if i + 1 < n and i % 3 == 0 else []
        make(out, name, "1.0.0", requires, modules=20)
    with open(os.path.join(out, "requirements.txt"), "w") as f:
        for name in names + ["pip", "setuptools", "wheel"]:
            f.write(name + "\n")

if __name__ == "__main__":
    main()
