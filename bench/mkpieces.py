#!/usr/bin/env python3
"""Writes a Domino pieces repository with G dependency groups for bench/run.sh's
plan case, shaped like testdata/pieces/repo and the real repositories
(openai_domino_pieces, social_media_domino_pieces): requirements groups, a few
Dockerfile groups (the domino-base-piece FROM, the three COPY lines, a pip
install) and one group of pieces without dependencies, three pieces a group,
each with models.py, piece.py and metadata.json. It also writes the wheels the
groups install into WHEELHOUSE. The same bytes on every run.

    mkpieces.py DIR WHEELHOUSE G
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkwheels  # noqa: E402

MODELS = '''from pydantic import BaseModel, Field


class InputModel(BaseModel):
    """
    {name} Input Model
    """
    text: str = Field(default="hello {n}", description="Text to work on")
    count: int = Field(default={n}, description="How many times")


class OutputModel(BaseModel):
    """
    {name} Output Model
    """
    result: str = Field(description="The result")


class SecretsModel(BaseModel):
    """
    {name} Secrets Model
    """
    TOKEN_{n}: str = Field(description="A token")
'''

PIECE = '''from domino.base_piece import BasePiece
from .models import InputModel, OutputModel
{imp}

class {name}(BasePiece):

    def piece_function(self, input_data: InputModel):
        return OutputModel(result=input_data.text * input_data.count)
'''

DOCKERFILE = '''FROM ghcr.io/tauffer-consulting/domino-base-piece:latest

# Need to copy pieces source code
COPY config.toml domino/pieces_repository/
COPY pieces domino/pieces_repository/pieces
COPY .domino domino/pieces_repository/.domino

# Install specific python dependencies
RUN pip install --no-cache-dir {pkg}==1.0.0
'''


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    root, wheels, groups = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(wheels, exist_ok=True)
    write(os.path.join(root, "config.toml"), '[repository]\nREGISTRY_NAME = "bench"\nREPOSITORY_NAME = "bench_domino_pieces"\nREPOSITORY_LABEL = "Bench Domino Pieces"\nVERSION = "0.1.0"\n')
    dockerfiles = max(1, groups // 7)
    n = 0
    for g in range(groups):
        dep, imp = {}, ""
        if g < groups - 1:  # the last group has no dependencies
            pkg = "benchdep%02d" % g
            mkwheels.make(wheels, pkg, "1.0.0", [], modules=4)
            imp = "import %s\n" % pkg
            if g < dockerfiles:
                dep = {"dockerfile": "Dockerfile_%02d" % g}
                write(os.path.join(root, "dependencies", dep["dockerfile"]), DOCKERFILE.format(pkg=pkg))
            else:
                dep = {"requirements_file": "requirements_%02d.txt" % g}
                write(os.path.join(root, "dependencies", dep["requirements_file"]), "%s==1.0.0\n" % pkg)
        for _ in range(3):
            name = "Bench%03dPiece" % n
            d = os.path.join(root, "pieces", name)
            meta = {"name": name, "description": "Generated piece %d of group %d." % (n, g)}
            if dep:
                meta["dependency"] = dep
            meta["style"] = {"node_label": "Bench %d" % n, "icon_class_name": "fa-solid:cube"}
            write(os.path.join(d, "metadata.json"), json.dumps(meta, indent=4) + "\n")
            write(os.path.join(d, "models.py"), MODELS.format(name=name, n=n))
            write(os.path.join(d, "piece.py"), PIECE.format(name=name, imp=imp))
            n += 1


if __name__ == "__main__":
    main()
