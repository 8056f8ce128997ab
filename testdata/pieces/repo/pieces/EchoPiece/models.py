from pydantic import BaseModel, Field


class InputModel(BaseModel):
    """
    Echo Piece Input Model
    """
    text: str = Field(default="hello", description="Text to echo")


class OutputModel(BaseModel):
    """
    Echo Piece Output Model
    """
    text: str = Field(description="The same text")


class SecretsModel(BaseModel):
    """
    Echo Piece Secrets Model
    """
    ECHO_API_KEY: str = Field(description="API key")
    ECHO_ACCOUNT: str = Field(description="Account name")
