from __future__ import annotations

from pathlib import Path

import pytest

from citybase.core.db.engine import Database
from citybase.core.errors import TooMany
from citybase.core.settings import Settings
from citybase.core.shared.service import DatabaseStore
from citybase.core.web.limits import Limiter


def test_a_limiter_counts_in_windows(database: Database, tmp_path: Path) -> None:
    store = DatabaseStore.beside(Settings(home=tmp_path), database)
    store.forget_all()
    limits = Limiter(store)
    for _ in range(2):
        limits.hit("k", 2, 60, "too many", now=100.0)
    with pytest.raises(TooMany) as refused:
        limits.hit("k", 2, 60, "too many", now=130.0)
    assert refused.value.retry_after == 30
    limits.hit("k", 2, 60, "too many", now=160.0)  # a new window
    limits.hit("other", 2, 60, "too many", now=130.0)
    limits.hit("free", 0, 60, "too many", now=130.0)  # 0: no limit
    assert limits.blocked_for("k", 1, now=170.0) == 50
    assert limits.blocked_for("k", 2, now=170.0) == 0
    limits.count("k", 60, now=171.0)
    assert limits.blocked_for("k", 2, now=171.0) == 49
    store.close()
