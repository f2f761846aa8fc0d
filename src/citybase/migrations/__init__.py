"""The one Alembic migration chain for every domain's tables.

It sits above the layers (like ``app.py``) because it is the one place that must know every
domain's models; ``core.db.migrate`` runs it by name and imports none of them.
"""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> MetaData:
    """The metadata with every domain's tables registered, for autogenerate and schema checks."""
    from citybase.cockpit.assessment import models as _assessment
    from citybase.cockpit.indicators import models as _indicators
    from citybase.cockpit.plans import models as _plans
    from citybase.cockpit.tasks import models as _tasks
    from citybase.core.bus import models as _bus
    from citybase.core.db.base import Base
    from citybase.core.files import models as _files
    from citybase.core.identity import models as _identity
    from citybase.core.ledger import models as _ledger
    from citybase.core.orgs import models as _orgs
    from citybase.core.shared import models as _shared
    from citybase.core.sms import models as _sms
    from citybase.core.web import models as _web
    from citybase.data.baselib import models as _baselib
    from citybase.data.catalog import models as _catalog
    from citybase.data.certificates import models as _certificates
    from citybase.data.datastore import models as _datastore
    from citybase.data.grading import models as _grading
    from citybase.data.masking import models as _masking
    from citybase.data.opendata import models as _opendata
    from citybase.data.products import models as _products
    from citybase.data.quality import models as _quality
    from citybase.data.sandbox import models as _sandbox
    from citybase.data.search import models as _search
    from citybase.data.sharing import models as _sharing
    from citybase.data.sources import models as _sources
    from citybase.hub.brains import models as _brains
    from citybase.hub.cases import models as _cases
    from citybase.hub.dispatch import models as _dispatch
    from citybase.hub.events import models as _events
    from citybase.hub.federation import models as _federation
    from citybase.perception.context import models as _context
    from citybase.perception.devices import models as _devices
    from citybase.perception.rules import models as _rules
    from citybase.perception.telemetry import models as _telemetry
    from citybase.services.evaluation import models as _evaluation
    from citybase.services.hotline import models as _hotline
    from citybase.services.onething import models as _onething
    from citybase.services.portal import models as _portal

    del (
        _shared,
        _sms,
        _portal,
        _onething,
        _assessment,
        _bus,
        _indicators,
        _plans,
        _tasks,
        _brains,
        _cases,
        _catalog,
        _certificates,
        _dispatch,
        _context,
        _datastore,
        _devices,
        _rules,
        _telemetry,
        _events,
        _federation,
        _grading,
        _hotline,
        _evaluation,
        _files,
        _identity,
        _ledger,
        _masking,
        _opendata,
        _orgs,
        _quality,
        _sandbox,
        _search,
        _sharing,
        _sources,
        _baselib,
        _products,
        _web,
    )
    return Base.metadata


FTS_TABLES = ("data_search_fts", "products_catalog_fts")
GIN_INDEXES = ("ix_data_search_docs_vector", "ix_products_catalog_vector")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave out what autogenerate cannot compare: SQLite's FTS5 search tables and their shadow
    tables, made by the search and product catalog migrations' own statements."""
    return not (type_ == "table" and (name or "").startswith(FTS_TABLES))


def include_object(obj: object, name: str | None, type_: str, *args: object) -> bool:
    """Leave out the GIN indexes over the search vectors, made on PostgreSQL only."""
    return not (type_ == "index" and name in GIN_INDEXES)
