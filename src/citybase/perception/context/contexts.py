"""The JSON-LD contexts kept in the database, so that none is fetched from the network: loaded
from a folder, and put into the processor's cache at start."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.perception.context import jsonld
from citybase.perception.context.errors import InvalidRequest
from citybase.perception.context.models import StoredContext


def load_contexts(session: Session, directory: Path, base_url: str = "") -> list[str]:
    """Keep every ``*.jsonld``/``*.json`` context in ``directory``, each under the URL given in
    a sibling ``urls.txt`` (``file name<TAB>url`` lines) or ``base_url`` + its file name."""
    urls: dict[str, str] = {}
    listing = directory / "urls.txt"
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, url = line.partition("\t")
                urls[name.strip()] = url.strip()
    loaded = []
    for path in sorted([*directory.glob("*.jsonld"), *directory.glob("*.json")]):
        url = urls.get(path.name) or (base_url.rstrip("/") + "/" + path.name if base_url else "")
        if not url:
            raise InvalidRequest(f"{path.name}: no URL for it (urls.txt or --base-url)",
                                 field="url")  # fmt: skip
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidRequest(f"{path.name} is not JSON: {exc}", field="file") from None
        if not isinstance(document, dict) or "@context" not in document:
            raise InvalidRequest(f"{path.name} holds no @context", field="file")
        stored = session.get(StoredContext, url) or StoredContext(url=url)
        stored.body = text
        session.add(stored)
        jsonld.remember(url, document)
        loaded.append(url)
    session.flush()
    return loaded


def warm(session: Session) -> int:
    """Put the contexts kept in the database into the processor's cache (at start)."""
    rows = list(session.scalars(select(StoredContext)))
    for row in rows:
        jsonld.remember(row.url, json.loads(row.body))
    return len(rows)
