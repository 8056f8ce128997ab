from pydantic import BaseModel, Field


class InputModel(BaseModel):
    """
    Tool Piece Input Model
    """
    ratio: float = Field(default=0.0001, description="A small ratio")
    limit: int = Field(default=10000000000000000, description="A big limit")


class OutputModel(BaseModel):
    """
    Tool Piece Output Model
    """
    answer: str = Field(description="What the tool said")


class SecretsModel(BaseModel):
    """
    Tool Piece Secrets Model
    """
    TOOL_LICENSE: str = Field(description="License key of the tool")
