"""Server-rendered console pages: one Jinja2 environment, a layout, a navigation registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from citybase.core.web import i18n, once

SHANGHAI = ZoneInfo("Asia/Shanghai")


def format_figure(value: float | None) -> str:
    """A figure as the cockpit shows it: up to six significant digits, thousands separated;
    a dash for none."""
    return "—" if value is None else f"{value:,.6g}"


def format_size(size: int | None) -> str:
    """Bytes as people read them: 820 B, 14 kB, 3.2 MB."""
    if not size:
        return ""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB"


@dataclass(frozen=True)
class NavEntry:
    """One console page in the navigation, under one layer's heading."""

    layer: str  # English message id of the layer heading
    title: str  # English message id
    path: str
    # shown only to principals holding it (or, for several, any of them); None: any signed-in
    permission: str | tuple[str, ...] | None = None
    order: int = 100


def may_open(principal: Any, permission: str | tuple[str, ...] | None) -> bool:
    """Whether a signed-in principal holds what a page asks (one permission, or any of several)."""
    if permission is None:
        return True
    wanted = (permission,) if isinstance(permission, str) else permission
    return any(principal.can(p) for p in wanted)


@dataclass(frozen=True)
class Waiting:
    """One kind of work that waits for the signed-in user, as the home page's desk lists it:
    what (an English message id), how many, since when the oldest has waited, and the page that
    lists them to act on."""

    label: str
    count: int
    oldest: datetime | None
    link: str


WaitingMaker = Callable[[Any, Any], list[Waiting]]


@dataclass(frozen=True)
class Panel:
    """A section one domain adds to another domain's page (a resource's level on the catalog's
    resource page): a heading, a template rendered with ``ctx``, and a link to more."""

    title: str  # English message id
    template: str
    context: dict[str, Any]
    link: str = ""


# (session, principal, the page's subject) → a panel, or None to show nothing
PanelMaker = Callable[[Any, Any, Any], "Panel | None"]


class Console:
    def __init__(self) -> None:
        self._dirs: list[Path] = [Path(__file__).parent / "templates"]
        self.nav: list[NavEntry] = []
        self._env: Environment | None = None
        self._panels: dict[str, list[tuple[int, PanelMaker]]] = {}
        self._waiting: list[WaitingMaker] = []

    def add_waiting(self, maker: WaitingMaker) -> None:
        """A domain's contribution to the home page's desk: ``maker(session, principal)`` says
        what of that domain waits for the principal (nothing, for roles it does not concern)."""
        if all(m is not maker for m in self._waiting):
            self._waiting.append(maker)

    def waiting(self, session: Any, principal: Any) -> list[Waiting]:
        """What waits for ``principal`` across the domains, the longest waiting first; kinds
        with nothing waiting are left out."""
        found = [w for make in self._waiting for w in make(session, principal) if w.count > 0]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(found, key=lambda w: w.oldest or far)

    def add_panel(self, page: str, order: int, maker: PanelMaker) -> None:
        """Show a panel on every page of a kind (``"catalog.resource"``); the page's domain
        need not know the domains that add them."""
        makers = self._panels.setdefault(page, [])
        if all(m is not maker for _, m in makers):
            makers.append((order, maker))
            makers.sort(key=lambda pair: pair[0])

    def panels(self, page: str, session: Any, principal: Any, subject: Any) -> list[Panel]:
        return [
            panel
            for _, make in self._panels.get(page, [])
            if (panel := make(session, principal, subject)) is not None
        ]

    def add_templates(self, directory: str | Path) -> None:
        path = Path(directory)
        if path not in self._dirs:
            self._dirs.append(path)
            self._env = None

    def add_page(self, entry: NavEntry) -> None:
        if entry.path not in {e.path for e in self.nav}:
            self.nav.append(entry)

    @property
    def env(self) -> Environment:
        if self._env is None:
            env = Environment(
                loader=ChoiceLoader([FileSystemLoader(str(d)) for d in self._dirs]),
                autoescape=select_autoescape(["html"]),
                trim_blocks=True,
                lstrip_blocks=True,
                # the templates are installed with the code: not looked at again on each use
                # (a page with hundreds of included cells would stat each file every time)
                auto_reload=False,
            )
            env.filters["localtime"] = format_time
            env.filters["filesize"] = format_size
            env.filters["figure"] = format_figure
            self._env = env
        return self._env

    def template_dirs(self) -> list[Path]:
        return list(self._dirs)

    def render(
        self, request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
    ) -> HTMLResponse:
        lang = request.state.lang if hasattr(request.state, "lang") else "zh"
        principal = getattr(request.state, "principal", None)
        nav = [
            e
            for e in sorted(self.nav, key=lambda e: e.order)
            if principal is not None and may_open(principal, e.permission)
        ]
        layers: dict[str, list[NavEntry]] = {}
        for entry in nav:
            layers.setdefault(entry.layer, []).append(entry)

        def _(message: str, **values: Any) -> str:
            return i18n.translate(lang, message, **values)

        path = request.url.path
        # the page's own entry: the one whose path is the longest that the page's path is, or
        # lies under (so that /console/cockpit/tasks/3 marks 任务, not also 一屏通览)
        under = [
            e.path for e in nav
            if path == e.path or (e.path != "/" and path.startswith(e.path.rstrip("/") + "/"))
        ]  # fmt: skip
        labels = (context or {}).get("labels") or {}
        values: dict[str, Any] = {
            "request": request,
            "current_nav": max(under, key=len) if under else None,
            "lang": lang,
            "languages": i18n.LANGUAGES,
            "_": _,
            "principal": principal,
            "nav": layers,
            "csrf_token": principal.csrf_token if principal is not None else "",
            "form_token": lambda: once.hidden_field(request.app.state.settings),
            # an error as the page shows it: the field's label and the reason, in its language
            "error_text": lambda field, message: i18n.error_text(lang, field, message, labels),
            "error_line": lambda text: i18n.error_line(lang, text, labels),
            # a field as its form names it (a field with no known label keeps its name)
            "field_label": lambda field: i18n.field_label(lang, field, labels) or field,
            "current_path": request.url.path,
        }
        values.update(context or {})
        html = self.env.get_template(name).render(values)
        return HTMLResponse(html, status_code=status)


def format_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


console = Console()
