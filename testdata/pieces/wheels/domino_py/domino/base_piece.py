class BasePiece:
    """Stand-in for domino.base_piece.BasePiece."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
