from domino.base_piece import BasePiece
from .models import InputModel, OutputModel
import dockerdep


class ToolPiece(BasePiece):

    def piece_function(self, input_data: InputModel):
        return OutputModel(answer=dockerdep.answer())
