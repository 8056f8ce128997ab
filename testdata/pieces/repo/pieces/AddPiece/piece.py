from domino.base_piece import BasePiece
from .models import InputModel, OutputModel
import reqdep


class AddPiece(BasePiece):

    def piece_function(self, input_data: InputModel):
        return OutputModel(result=reqdep.add(input_data.a, input_data.b))
