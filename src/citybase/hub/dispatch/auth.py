"""Who may see and steer the dispatch classifier's learning: its versions, figures and the
corrections it learns from are for the centre's supervisors (the quality team) and auditors;
training a challenger, promoting and rolling back are for supervisors only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

MODELS_READ = identity.define_permission(
    "hub:dispatch.models.read",
    "See the dispatch models' versions and figures and the corrections they learn from",
    Role.supervisor, Role.auditor,
)  # fmt: skip
MODELS_TRAIN = identity.define_permission(
    "hub:dispatch.models.train",
    "Train a challenger dispatch model, promote it or go back to an earlier version",
    Role.supervisor,
)  # fmt: skip

ModelReader = Annotated[Principal, Depends(require(MODELS_READ))]
ModelTrainer = Annotated[Principal, Depends(require(MODELS_TRAIN))]
