from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    """What a trained model is: where it came from and how it was made."""

    name: str
    labels: list[str]
    examples: int
    trained_at: datetime
    seconds: float = Field(description="Training time")
    source: str = Field(description="The file it learned from")
    temperature: float = Field(description="Scales decision scores into confidences")
    method: str


class Prediction(BaseModel):
    label: str
    confidence: float = Field(ge=0, le=1)
    top: list[tuple[str, float]] = Field(description="The three likeliest, for the operator")


class ClassReport(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class Coverage(BaseModel):
    """What auto-dispatching above a confidence threshold would do."""

    threshold: float
    share: float = Field(description="Share of messages dispatched automatically")
    accuracy: float = Field(description="Accuracy on those")


class Evaluation(BaseModel):
    model: str
    examples: int
    accuracy: float
    macro_f1: float
    classes: list[ClassReport]
    coverage: list[Coverage]
    per_second: float = Field(description="Messages classified per second")
