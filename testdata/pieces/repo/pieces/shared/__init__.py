# Not a piece: Domino only reads folders named *Piece.
