from pydantic import BaseModel, Field


class InputModel(BaseModel):
    """
    Add Piece Input Model
    """
    a: int = Field(default=1, description="First number")
    b: float = Field(default=0.5, description="Second number")


class OutputModel(BaseModel):
    """
    Add Piece Output Model
    """
    result: float = Field(description="The sum")
