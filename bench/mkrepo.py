#!/usr/bin/env python3
"""Writes a repository of N generated files for bench/run.sh's scale case.

    mkrepo.py DIR N

Files of 0.25-4 kB of compressible text (source-like), 100 to a directory,
the same bytes on every run (a fixed seed), and an assemble.toml building
the whole tree as one layer.
"""
import os
import random
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(n)
    words = [("w%d" % i) for i in range(2000)]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 14))) + "\n" for _ in range(4000)]
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        d = os.path.join(root, "src", "d%03d" % (i // 10000), "d%02d" % (i // 100 % 100))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = rng.randint(256, 4096)
        body = []
        total = 0
        while total < size:
            body.append(rng.choice(lines))
            total += len(body[-1])
        body.append("%07d\n" % i)
        with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
            f.write("".join(body))
    with open(os.path.join(root, "assemble.toml"), "w") as f:
        f.write('[[image]]\nname = "scale"\n[[image.layer]]\ndir = "."\n')


if __name__ == "__main__":
    main()
