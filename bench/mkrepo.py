#!/usr/bin/env python3
"""Writes a repository of N generated files for bench/run.sh's scale case.

    mkrepo.py DIR N [MEAN_KB]

Files of 0.25-4 kB (or, with MEAN_KB, 0.5-1.5 times MEAN_KB kB) of
compressible text (source-like), 100 to a directory, the same bytes on
every run (a fixed seed), and an assemble.toml building the whole tree as
one layer. The tree is committed to a new git repository, as a checkout
is (set MKREPO_GIT=0 for a plain directory).
"""
import os
import random
import subprocess
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    mean = int(sys.argv[3]) * 1024 if len(sys.argv) > 3 else 0
    rng = random.Random(n)
    words = [("w%d" % i) for i in range(2000)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 14))) + "\n" for _ in range(4000)]
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        d = os.path.join(root, "src", "d%03d" % (i // 10000), "d%02d" % (i // 100 % 100))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = rng.randint(mean // 2, mean * 3 // 2) if mean else rng.randint(256, 4096)
        # About 50 bytes a line: draw a few too many, then cut at size.
        body = "".join(rng.choices(lines, k=size // 40 + 1))[:size]
        with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
            f.write(body + "%07d\n" % i)
    with open(os.path.join(root, "assemble.toml"), "w") as f:
        f.write('[[image]]\nname = "scale"\n[[image.layer]]\ndir = "."\n')
    if os.environ.get("MKREPO_GIT", "1") != "0":
        # gc.auto=0: no detached gc of the 100k loose objects running during the
        # measurements (and into the cleanup).
        git = ["git", "-C", root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "gc.auto=0", "-c", "maintenance.auto=0"]
        subprocess.run(git + ["init", "-q"], check=True)
        # Fast zlib: the objects are the benchmark's setup, not its subject.
        subprocess.run(git + ["-c", "core.looseCompression=1", "add", "-A"], check=True)
        subprocess.run(git + ["commit", "-q", "-m", "generated"], check=True)


if __name__ == "__main__":
    main()
