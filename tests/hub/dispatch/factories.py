"""Closed cases to learn from, for the dispatch models' tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citybase.hub.cases.models import Case

KINDS = {
    "010202": ("井盖", ["缺失", "破损", "松动", "被偷了", "塌陷"], "gl.urban"),
    "010203": ("路灯", ["不亮", "闪烁", "坏了", "白天也亮", "倒了"], "gl.urban"),
    "020102": ("广场舞", ["太吵", "噪音扰民", "音响很大", "半夜还在跳", "吵得睡不着"], "tj.urban"),
}


def closed_cases(session: Session, n: int, end: datetime, days: int, seed: int) -> None:
    """n closed cases of three kinds, closed over the ``days`` before ``end``."""
    rng = random.Random(seed)
    for i in range(n):
        code, (thing, words, unit) = rng.choice(list(KINDS.items()))
        at = end - timedelta(hours=rng.uniform(1, days * 24))
        session.add(Case(
            number=f"T{seed}-{i}", source="hotline", channel="phone", state="closed",
            text=f"{rng.choice(['鼓东路', '五一路', '工业路'])}{rng.randint(1, 99)}号{thing}"
                 f"{rng.choice(words)}，请处理", category_code=code, lead_unit=unit,
            accepted_at=at - timedelta(days=2), closed_at=at,
        ))  # fmt: skip
    session.flush()
