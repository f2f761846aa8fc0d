"""The one Alembic migration chain for every domain's tables.

It sits above the layers (like ``app.py``) because it is the one place that must know every
domain's models; ``core.db.migrate`` runs it by name and imports none of them.
"""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> MetaData:
    """The metadata with every domain's tables registered, for autogenerate and schema checks."""
    from citybase.core.bus import models as _bus
    from citybase.core.db.base import Base
    from citybase.core.identity import models as _identity
    from citybase.core.ledger import models as _ledger
    from citybase.core.orgs import models as _orgs
    from citybase.data.catalog import models as _catalog
    from citybase.data.grading import models as _grading
    from citybase.data.sources import models as _sources

    del _bus, _catalog, _grading, _identity, _ledger, _orgs, _sources
    return Base.metadata
