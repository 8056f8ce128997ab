from domino.base_piece import BasePiece
from .models import InputModel, OutputModel


class LogPiece(BasePiece):

    def piece_function(self, input_data: InputModel):
        print(input_data.message)
        return OutputModel(logged=True)
