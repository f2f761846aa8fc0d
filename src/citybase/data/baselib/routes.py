"""The base libraries' API: run the linkage, decide the review queue, read a file (traced)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from citybase.core.errors import NotFound
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.params import Id
from citybase.data.baselib import runs, service, theme_builds, themes
from citybase.data.baselib.auth import BaselibReader, BaselibSteward, BaselibThemes
from citybase.data.baselib.schemas import (
    GradeReview,
    Kind,
    ReviewDecide,
    ReviewRead,
    ReviewStatus,
    RunRead,
    ThemeBuildRead,
    ThemeCreate,
    ThemeRead,
    ThemeUpdate,
)
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.auth import Context

router = APIRouter(prefix="/api/v1/baselib", tags=["base libraries"])
PATHS = {"persons": Kind.person, "enterprises": Kind.enterprise}


def _kind(path: str) -> Kind:
    if path not in PATHS:
        raise NotFound(f"no base library {path}: persons or enterprises", field="library")
    return PATHS[path]


def _answer(result: object) -> Response:
    if isinstance(result, access.Refused):
        # returned, not raised: the refusal's ledger entry commits with the request
        return JSONResponse({"error": result.error().to_dict()}, status_code=result.refusal.status)
    assert hasattr(result, "model_dump")
    return JSONResponse(result.model_dump(mode="json"),
                        headers={"X-Citybase-Access": str(getattr(result, "access_id", ""))})  # fmt: skip


# --- theme libraries (主题库); before the files' routes, whose paths would take theirs ----------


@router.get("/themes")
def list_themes(session: DbSession, _: Public, who: OptionalPrincipal) -> list[ThemeRead]:
    """The theme libraries one may see: the open ones for anyone, and those whose catalog entry
    one's unit sees."""
    return themes.list_themes(session, who)


@router.post("/themes", status_code=201)
def define_theme(session: DbSession, principal: BaselibThemes, data: ThemeCreate) -> ThemeRead:
    """Define a theme library (JSON or YAML definition); it is registered in the catalog."""
    return themes.define_theme(session, principal, data)


@router.get("/themes/{code}")
def get_theme(session: DbSession, _: Public, who: OptionalPrincipal, code: str) -> ThemeRead:
    """A theme library: definition, owner, grade, quality score, schedule and lineage."""
    return themes.get_theme(session, who, code)


@router.put("/themes/{code}")
def update_theme(
    session: DbSession, principal: BaselibThemes, code: str, data: ThemeUpdate
) -> ThemeRead:
    """A new version of the definition (the owner unit's stewards)."""
    return themes.update_theme(session, principal, code, data)


@router.post("/themes/{code}/builds", status_code=201)
def build_theme(
    session: DbSession, settings: AppSettings, principal: BaselibThemes, code: str
) -> ThemeBuildRead:
    """Build it now: read the sources (traced), store the rows, grade and score them."""
    return theme_builds.build_theme(session, principal, code, ops.keys_for(settings.masking_key),
                              settings.baselib)  # fmt: skip


@router.get("/themes/{code}/builds")
def list_builds(
    session: DbSession, _: Public, who: OptionalPrincipal, code: str
) -> list[ThemeBuildRead]:
    """Its build history: each build's sources with their traced reads, rows, grade, score."""
    return themes.builds_of(session, who, code)


@router.post("/themes/{code}/grade")
def review_grade(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, code: str,
    data: GradeReview,
) -> ThemeRead:  # fmt: skip
    """Grade it below its sources' highest, with a reason (the base libraries' stewards)."""
    return themes.review_grade(session, principal, code, data, settings.baselib)


@router.post("/{library}/runs", status_code=201)
def run_linkage(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str
) -> RunRead:
    """Link every row of the library's sources into files (the steward unit only). A run that
    fails is kept, failed, with why (its work rolled back), and answered as an error."""
    kind = _kind(library)
    with runs.failure_kept(session, kind, settings.baselib, principal=principal):
        return service.link_base_library(
            session, principal, kind, settings.baselib, ops.keys_for(settings.masking_key),
            dispute_days=settings.quality.dispute_days,
        )  # fmt: skip


@router.get("/{library}/runs/latest")
def latest_run(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str
) -> RunRead:
    """The last run: its counts and the trained model's match weights per comparison."""
    run = service.last_run(session, principal, _kind(library), settings.baselib)
    if run is None:
        raise NotFound(f"{library} has not been linked yet", field="library")
    return run


@router.get("/{library}/reviews")
def list_reviews(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, library: str,
    status: ReviewStatus | None = ReviewStatus.open,
) -> list[ReviewRead]:  # fmt: skip
    """Pairs the model is unsure of, with each comparison's match weight."""
    return service.list_reviews(session, principal, _kind(library), settings.baselib, status)


@router.post("/reviews/{review_id}")
def decide_review(
    session: DbSession, settings: AppSettings, principal: BaselibSteward, review_id: Id,
    data: ReviewDecide,
) -> ReviewRead:  # fmt: skip
    """Confirm (the same) or split (not the same): every later run keeps to it."""
    return service.decide_review(session, principal, review_id, data, settings.baselib)


@router.get("/{library}/lookup")
@traced_read
def lookup(
    session: DbSession, settings: AppSettings, principal: BaselibReader, ctx: Context,
    library: str,
    number: Annotated[str, Query(min_length=1, max_length=40,
                                 description="公民身份号码 (15 or 18) or 统一社会信用代码")],
) -> Response:  # fmt: skip
    """A file found by citizen ID or credit code, read through the sharing rules."""
    return _answer(service.find_file(
        session, principal, _kind(library), number, ctx, ops.keys_for(settings.masking_key),
        settings.baselib,
    ))  # fmt: skip


@router.get("/{library}/{file_id}")
@traced_read
def read_file(
    session: DbSession, settings: AppSettings, principal: BaselibReader, ctx: Context,
    library: str, file_id: Id,
) -> Response:  # fmt: skip
    """A person's or enterprise's file: the fields whose sources one's unit holds grants for,
    masked by grade, each with its resource, unit and time. Name the purpose
    (X-Citybase-Purpose) and, for personal data, the case (X-Citybase-Issue)."""
    return _answer(service.read_file(
        session, principal, _kind(library), file_id, ctx, ops.keys_for(settings.masking_key),
        settings.baselib,
    ))  # fmt: skip
