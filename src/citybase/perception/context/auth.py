"""Who reads and who changes the NGSI-LD context store.

Every entity, history and subscription belongs to a unit. Only that unit's managers (or a
platform administrator) change an entity or rewrite its history; a subscription is seen, changed
and deleted by its own unit only. Reading follows ``perception.entity_read``: every signed-in
reader of perception data (``platform``), or each unit its own (``unit``); the types named in
``perception.public_entity_types`` are open to anyone, signed in or not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from citybase.core.errors import Forbidden, NotAuthenticated
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.identity.schemas import Principal
from citybase.core.web.access import declares_access
from citybase.core.web.deps import AppSettings
from citybase.perception.context import jsonld
from citybase.perception.context.service import EVERYONE, ReadScope, Writer
from citybase.perception.devices.auth import PERCEPTION_READ


@lru_cache(maxsize=16)
def public_types(names: str) -> frozenset[str]:
    """The public entity types (``perception.public_entity_types``) as IRIs."""
    listed = {n.strip() for n in names.split(",") if n.strip()}
    if not listed:
        return frozenset()
    return frozenset(jsonld.expand_names(jsonld.context_of(None), set(), listed)[1].values())


def scope_for(principal: Principal | None, entity_read: str, public: frozenset[str]) -> ReadScope:
    """What this caller reads: everything, its own unit's and the public types, or (signed
    out, or not a reader of perception data) the public types only."""
    if principal is None or not principal.can(PERCEPTION_READ):
        return ReadScope(frozenset(), public)
    if "*" in principal.permissions or entity_read == "platform":
        return EVERYONE
    return ReadScope(frozenset({principal.unit_code}), public)


@declares_access(f"permission {PERCEPTION_READ}, or anyone for the public entity types")
def read_scope(principal: OptionalPrincipal, settings: AppSettings) -> ReadScope:
    public = public_types(settings.perception.public_entity_types)
    if not public:  # nothing is open: a reader of perception data is needed
        if principal is None:
            raise NotAuthenticated("sign in or send an API key", field="authorization")
        if not principal.can(PERCEPTION_READ):
            raise Forbidden(f"this needs the permission {PERCEPTION_READ}", field="permission")
    return scope_for(principal, settings.perception.entity_read, public)


Scope = Annotated[ReadScope, Depends(read_scope)]


def writer_of(principal: Principal) -> Writer:
    """The unit a writer acts for; a platform administrator may change any unit's entities."""
    return Writer(unit=principal.unit_code, any_unit="*" in principal.permissions)


def subscription_unit(principal: Principal) -> str | None:
    """The unit whose subscriptions a caller sees and changes (None: an administrator, all)."""
    return None if "*" in principal.permissions else principal.unit_code
