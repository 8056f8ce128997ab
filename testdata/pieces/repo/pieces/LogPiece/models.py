from pydantic import BaseModel, Field


class InputModel(BaseModel):
    """
    Log Piece Input Model
    """
    message: str = Field(default="logged", description="What to log")


class OutputModel(BaseModel):
    """
    Log Piece Output Model
    """
    logged: bool = Field(description="Whether it was logged")
