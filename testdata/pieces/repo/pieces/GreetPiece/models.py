from enum import Enum
from typing import Optional

from pydantic import BaseModel, Field


class Language(str, Enum):
    english = "en"
    german = "de"


class InputModel(BaseModel):
    """
    Greet Piece Input Model
    """
    name: str = Field(default="world", description="Who to greet")
    language: Language = Field(default=Language.english, description="Language")
    times: Optional[int] = Field(default=None, description="How many times")


class OutputModel(BaseModel):
    """
    Greet Piece Output Model
    """
    message: str = Field(description="The greeting")


class SecretsModel(BaseModel):
    """
    Greet Piece Secrets Model
    """
    GREETING_TOKEN: str = Field(description="A token for the greeting service")
