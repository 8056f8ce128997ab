"""A stand-in for domino-py in assemble's tests: just enough of the
package for pieces to import (domino.base_piece.BasePiece) and a
`domino` command on PATH."""
__version__ = "0.9.4+assemble.test"
