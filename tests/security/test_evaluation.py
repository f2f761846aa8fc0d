"""好差评's boundaries: only the applicant rates (a wrong phone changes nothing), a unit sees and
answers its own ratings only, the revisit is the centre's, and nobody signed out reads any."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.services.evaluation.models import Rating
from tests.core.identity.factories import sign_in
from tests.services.evaluation.factories import PHONE, city, closed

API = "/api/v1/evaluation/ratings"
WRONG = ["13900000000", "138 0591 1235", "13805911230", "x' OR '1'='1", "%"]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Rating)) or 0


def test_only_the_applicant_rates(client: TestClient, session: Session) -> None:
    city(session)
    number = closed(session)
    for phone in WRONG:
        answer = client.post(API, json={"kind": "case", "subject_id": number, "phone": phone,
                                        "grade": "very_satisfied"})  # fmt: skip
        assert answer.status_code in (403, 422), answer.text
    assert _count(session) == 0
    # after five wrong phones the subject is shut for the hour, even to the right phone
    right = client.post(API, json={"kind": "case", "subject_id": number, "phone": PHONE,
                                   "grade": "very_satisfied"})  # fmt: skip
    assert right.status_code == 429
    assert _count(session) == 0


def test_a_unit_sees_and_answers_its_own_ratings_only(client: TestClient, session: Session) -> None:
    city(session)
    number = closed(session)
    made = client.post(API, json={"kind": "case", "subject_id": number, "phone": PHONE,
                                  "grade": "unsatisfied", "reasons": ["slow"]})  # fmt: skip
    rating_id = made.json()["id"]
    # nobody signed in
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{rating_id}").status_code == 401
    assert client.get("/console/evaluation", follow_redirects=False).status_code in (303, 401)
    # another unit
    token = sign_in(client, "tj.handler")
    assert client.get(API).json()["total"] == 0
    assert client.get(f"{API}/{rating_id}").status_code == 404
    assert client.get(f"/console/evaluation/{rating_id}").status_code == 404
    assert client.get("/api/v1/evaluation/figures").json() == []
    refused = client.post(f"{API}/{rating_id}/answer", json={"answer": "冒名反馈"},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert refused.status_code == 404
    book = client.get(f"{API}.xlsx")
    assert b"FZ" not in book.content  # the export holds none of another unit's
    # the rated unit answers, but may not make the revisit
    client.cookies.clear()
    token = sign_in(client, "gl.handler")
    headers = {"X-CSRF-Token": token}
    assert client.post(f"{API}/{rating_id}/answer", json={"answer": "已整改"},
                       headers=headers).status_code == 200  # fmt: skip
    assert client.post(f"{API}/{rating_id}/revisit", json={"accepted": True},
                       headers=headers).status_code == 403  # fmt: skip
    assert session.get(Rating, rating_id).rectify_state == "answered"  # type: ignore[union-attr]
