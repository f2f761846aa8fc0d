"""Who reads the knowledge base and who keeps it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

KNOWLEDGE_READ = identity.define_permission(
    "hotline:knowledge.read", "Search the 12345 knowledge base of standard answers",
    Role.hotline_operator, Role.supervisor, Role.case_handler, Role.unit_admin, Role.auditor,
    Role.viewer,
)  # fmt: skip
KNOWLEDGE_KEEP = identity.define_permission(
    "hotline:knowledge.keep", "Write and retire standard answers", Role.supervisor
)

KnowledgeReader = Annotated[Principal, Depends(require(KNOWLEDGE_READ))]
KnowledgeKeeper = Annotated[Principal, Depends(require(KNOWLEDGE_KEEP))]
