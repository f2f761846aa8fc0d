"""The abuse suite counts what it tried: every request its tests send, by the answer's class.
The tally is printed at the end of a run that includes these tests (the figures in
docs/benchmarks.md come from it); it judges nothing — each test asserts its own refusals."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

TALLY: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _count_requests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    original = TestClient.request
    module = request.node.module.__name__.rsplit(".", 1)[-1]

    def counted(self: TestClient, *args: Any, **kwargs: Any) -> Any:
        answer = original(self, *args, **kwargs)
        kind = "refused" if 400 <= answer.status_code < 500 else (
            "failed" if answer.status_code >= 500 else "answered")  # fmt: skip
        TALLY[f"{module} {kind}"] += 1
        return answer

    monkeypatch.setattr(TestClient, "request", counted)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    modules = sorted({k.split()[0] for k in TALLY})
    terminalreporter.section("abuse suite: requests sent, by answer")
    terminalreporter.write_line(f"{'module':28} {'sent':>7} {'refused 4xx':>12} {'5xx':>5}")
    for name in modules:
        sent = sum(v for k, v in TALLY.items() if k.split()[0] == name)
        terminalreporter.write_line(f"{name:28} {sent:7} {TALLY[f'{name} refused']:12} "
                                    f"{TALLY[f'{name} failed']:5}")  # fmt: skip
