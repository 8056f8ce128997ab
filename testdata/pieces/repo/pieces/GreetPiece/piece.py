from domino.base_piece import BasePiece
from .models import InputModel, OutputModel, SecretsModel
import reqdep


class GreetPiece(BasePiece):

    def piece_function(self, input_data: InputModel, secrets_data: SecretsModel = None):
        return OutputModel(message=reqdep.greet(input_data.name))
