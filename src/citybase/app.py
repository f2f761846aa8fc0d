"""Build the FastAPI application from every domain's routes and console pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fastapi_offline
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

import citybase
import citybase.api_docs as _api_docs
from citybase.cockpit.assessment import routes as cockpit_assessment_routes
from citybase.cockpit.assessment import views as cockpit_assessment_views
from citybase.cockpit.indicators import routes as cockpit_indicator_routes
from citybase.cockpit.indicators import tasks as _cockpit_tasks
from citybase.cockpit.indicators import views as cockpit_indicator_views
from citybase.cockpit.plans import routes as cockpit_plan_routes
from citybase.cockpit.plans import tasks as _cockpit_plan_tasks
from citybase.cockpit.plans import views as cockpit_plan_views
from citybase.cockpit.tasks import routes as cockpit_task_routes
from citybase.cockpit.tasks import views as cockpit_task_views
from citybase.core.bus import routes as bus_routes
from citybase.core.bus import service as bus
from citybase.core.bus import views as bus_views
from citybase.core.bus.tasks import Worker
from citybase.core.db.engine import Database
from citybase.core.errors import NotFound
from citybase.core.files import tasks as _files_tasks
from citybase.core.identity import routes as identity_routes
from citybase.core.identity import service as identity
from citybase.core.identity import tasks as _identity_tasks
from citybase.core.identity import views as identity_views
from citybase.core.identity.auth import CurrentPrincipal
from citybase.core.ledger import routes as ledger_routes
from citybase.core.ledger import service as ledger
from citybase.core.ledger import tasks as _ledger_tasks
from citybase.core.ledger import views as ledger_views
from citybase.core.net import OutboundPolicy
from citybase.core.orgs import routes as orgs_routes
from citybase.core.orgs import service as orgs
from citybase.core.orgs import views as orgs_views
from citybase.core.settings import Settings
from citybase.core.shared.service import open_store
from citybase.core.sms import tasks as _sms_tasks
from citybase.core.sms import views as sms_views
from citybase.core.web import apidocs, errors
from citybase.core.web import routes as web_routes
from citybase.core.web.access import Public, public_mount
from citybase.core.web.bodies import BodyLimitMiddleware
from citybase.core.web.cors import CorsMiddleware
from citybase.core.web.deps import DbSession
from citybase.core.web.i18n import LANGUAGES, add_translations
from citybase.core.web.metrics import Metrics
from citybase.core.web.middleware import ConsoleMiddleware
from citybase.core.web.templating import NavEntry, console
from citybase.data.baselib import routes as baselib_routes
from citybase.data.baselib import tasks as _baselib_tasks
from citybase.data.baselib import views as baselib_views
from citybase.data.catalog import routes as catalog_routes
from citybase.data.catalog import views as catalog_views
from citybase.data.certificates import routes as certificate_routes
from citybase.data.certificates import views as certificate_views
from citybase.data.datastore import routes as datastore_routes
from citybase.data.datastore import views as datastore_views
from citybase.data.grading import routes as grading_routes
from citybase.data.grading import views as grading_views
from citybase.data.masking import routes as masking_routes
from citybase.data.masking import views as masking_views
from citybase.data.opendata import ckan as opendata_ckan
from citybase.data.opendata import routes as opendata_routes
from citybase.data.opendata import views as opendata_views
from citybase.data.products import contract_routes as products_contract_routes
from citybase.data.products import contract_views as products_contract_views
from citybase.data.products import delivery_routes as products_delivery_routes
from citybase.data.products import dsp_catalog_routes as products_dsp_catalog_routes
from citybase.data.products import dsp_routes as products_dsp_routes
from citybase.data.products import dsp_transfer_routes as products_dsp_transfer_routes
from citybase.data.products import revenue_routes as products_revenue_routes
from citybase.data.products import revenue_views as products_revenue_views
from citybase.data.products import routes as products_routes
from citybase.data.products import sample_views as products_sample_views
from citybase.data.products import tasks as _products_tasks
from citybase.data.products import views as products_views
from citybase.data.quality import routes as quality_routes
from citybase.data.quality import tasks as _quality_tasks
from citybase.data.quality import views as quality_views
from citybase.data.review import routes as review_routes
from citybase.data.review import views as review_views
from citybase.data.sandbox import govern_views as sandbox_govern_views
from citybase.data.sandbox import jobs_routes as sandbox_jobs_routes
from citybase.data.sandbox import jobs_views as sandbox_jobs_views
from citybase.data.sandbox import release_routes as sandbox_release_routes
from citybase.data.sandbox import release_views as sandbox_release_views
from citybase.data.sandbox import routes as sandbox_routes
from citybase.data.sandbox import tasks as _sandbox_tasks
from citybase.data.sandbox import views as sandbox_views
from citybase.data.search import routes as search_routes
from citybase.data.search import views as search_views
from citybase.data.sharing import routes as sharing_routes
from citybase.data.sharing import tasks as _sharing_tasks
from citybase.data.sharing import views as sharing_views
from citybase.data.sources import routes as sources_routes
from citybase.data.sources import views as sources_views
from citybase.hub.brains import tasks as _hub_brain_tasks
from citybase.hub.brains import views as hub_brain_views
from citybase.hub.cases import routes as hub_case_routes
from citybase.hub.cases import views as hub_case_views
from citybase.hub.dispatch import routes as hub_dispatch_routes
from citybase.hub.dispatch import tasks as _hub_dispatch_tasks
from citybase.hub.dispatch import views as hub_dispatch_views
from citybase.hub.events import routes as hub_event_routes
from citybase.hub.events import views as hub_event_views
from citybase.hub.federation import routes as hub_federation_routes
from citybase.hub.federation import tasks as _hub_federation_tasks
from citybase.hub.federation import views as hub_federation_views
from citybase.hub.supervision import routes as hub_supervision_routes
from citybase.hub.supervision import tasks as _hub_supervision_tasks
from citybase.perception.context import contexts as context_contexts
from citybase.perception.context import routes as context_routes
from citybase.perception.context.auth import public_types, scope_for
from citybase.perception.context.notify import Notifier
from citybase.perception.context.service import EVERYONE
from citybase.perception.devices import routes as device_routes
from citybase.perception.devices import tasks as _device_tasks
from citybase.perception.devices import views as device_views
from citybase.perception.rules import routes as rule_routes
from citybase.perception.rules import tasks as _rule_tasks
from citybase.perception.telemetry import routes as telemetry_routes
from citybase.perception.telemetry import service as telemetry
from citybase.services.evaluation import routes as evaluation_routes
from citybase.services.evaluation import tasks as _evaluation_tasks
from citybase.services.evaluation import views as evaluation_views
from citybase.services.hotline import desk as hotline_desk
from citybase.services.hotline import open311 as hotline_open311
from citybase.services.hotline import routes as hotline_routes
from citybase.services.hotline import views as hotline_views
from citybase.services.onething import routes as onething_routes
from citybase.services.onething import tasks as _onething_tasks
from citybase.services.onething import views as onething_views
from citybase.services.portal import views as portal_views

del _files_tasks, _identity_tasks, _ledger_tasks, _quality_tasks, _sharing_tasks  # for their jobs
del _products_tasks, _sandbox_tasks
del _api_docs  # the API documentation's Chinese, for the docs page
del (
    _cockpit_tasks,
    _cockpit_plan_tasks,
    _hub_supervision_tasks,
    _hub_dispatch_tasks,
    _hub_brain_tasks,
    _hub_federation_tasks,
    _rule_tasks,
    _device_tasks,
    _baselib_tasks,
    _evaluation_tasks,
    _onething_tasks,
    _sms_tasks,
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layer:
    """A layer of the plans and what it holds; ``built`` names the parts in service today."""

    key: str
    title: str
    plans: tuple[str, ...]
    built: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"/console/{self.key}"

    @property
    def in_service(self) -> bool:
        return bool(self.built)


LAYERS = (
    Layer(
        "perception",
        "Perception",
        (
            "Devices and sensors joined by one access standard",
            "Telemetry and its curves",
            "An NGSI-LD context store of the city's things",
            "Rules, anomaly detection and forecasts",
            "A streaming anomaly detector for any series",
        ),
        built=(
            "Devices and sensors joined by one access standard",
            "Telemetry and its curves",
            "An NGSI-LD context store of the city's things",
            "Rules, anomaly detection and forecasts",
            "A streaming anomaly detector for any series",
        ),
    ),
    Layer(
        "data",
        "Data",
        (
            "The public data resource catalog",
            "Normative review against data elements",
            "One data, one source",
            "Classification and grading of data",
            "Sharing between units under approval, every access traced",
            "Open data and data products",
        ),
        built=(
            "The public data resource catalog",
            "Normative review against data elements",
            "One data, one source",
            "Classification and grading of data",
            "Sharing between units under approval, every access traced",
        ),
    ),
    Layer(
        "hub",
        "City brain",
        (
            "One event centre for alarms, requests and reports",
            "One event taxonomy of up to three levels",
            "Cases routed to the responsible unit",
            "A dispatch classifier learned from citizens' messages",
            "Supervision against deadlines until closed",
        ),
        built=(
            "One event centre for alarms, requests and reports",
            "One event taxonomy of up to three levels",
            "Cases routed to the responsible unit",
            "A dispatch classifier learned from citizens' messages",
            "Supervision against deadlines until closed",
        ),
    ),
    Layer(
        "services",
        "Applications",
        (
            "The 12345 citizen hotline and Open311",
            "One-thing service packages",
            "Evaluation of service",
        ),
        built=(
            "The 12345 citizen hotline and Open311",
            "One-thing service packages",
            "Evaluation of service",
        ),
    ),
    Layer(
        "cockpit",
        "Plan supervision",
        (
            "The plans' indicators and annual targets",
            "Tasks, responsible units and monthly progress",
        ),
        built=(
            "The plans' indicators and annual targets",
            "Tasks, responsible units and monthly progress",
        ),
    ),
)

add_translations(
    "zh",
    {
        "Layers": "各层",
        "Waiting for you": "我的待办",
        "What": "事项",
        "How many": "数量",
        "Waiting since": "最早等待自",
        "{n} days": "已等 {n} 天",
        "Act": "去处理",
        "Nothing waits for you.": "暂无待办事项。",
        "Layer": "层",
        "In service": "已运行",
        "Partly in service": "部分运行",
        "In service:": "已运行：",
        "Still to come:": "待建：",
        "Overview": "总览",
        "Regions and units": "区划与单位",
        "Ledger entries": "审计记录数",
        "Devices and sensors joined by one access standard": "按统一标准接入的各类设备与传感器",
        "Telemetry and its curves": "监测数据及其曲线",
        "An NGSI-LD context store of the city's things": "基于 NGSI-LD 的城市实体上下文库",
        "Rules, anomaly detection and forecasts": "规则、异常检测与预测",
        "A streaming anomaly detector for any series": "适用于任意序列的流式异常检测器",
        "The public data resource catalog": "公共数据资源目录",
        "Classification and grading of data": "数据分类分级",
        "Normative review against data elements": "对照数据元的规范性审查",
        "One data, one source": "一数一源",
        "Sharing between units under approval, every access traced": "经审批的跨单位共享，访问全程留痕",
        "Open data and data products": "公共数据开放与数据产品",
        "One event centre for alarms, requests and reports": "统一事件中心：告警、诉求与上报",
        "Cases routed to the responsible unit": "案件派发至责任单位",
        "One event taxonomy of up to three levels": "统一的三级事件分类",
        "A dispatch classifier learned from citizens' messages": "从群众诉求文本学习的智能派单分类器",
        "Supervision against deadlines until closed": "按时限督办直至办结",
        "The 12345 citizen hotline and Open311": "12345 政务服务便民热线与 Open311",
        "One-thing service packages": "“一件事”集成服务",
        "Evaluation of service": "服务评价",
        "The plans' indicators and annual targets": "规划指标与年度目标",
        "Tasks, responsible units and monthly progress": "任务、责任单位与月度进展",
    },
)

for _layer in LAYERS:
    console.add_page(NavEntry(_layer.title, "Overview", _layer.path, None, order=50))
console.add_page(NavEntry("Kernel", "Home", "/", None, order=0))

_SWAGGER = Path(fastapi_offline.__file__).parent / "static"
_STATIC = Path(__file__).parent / "core" / "web" / "static"
# Leaflet and its clustering plugin, served from their installed packages (never copied here)
_LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)
_CLUSTER = Path(xstatic.pkg.leaflet_markercluster.BASE_DIR)


def create_app(
    settings: Settings, db: Database | None = None, *, run_worker: bool = False
) -> FastAPI:
    database = db or Database(settings.resolved_database_url)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        try:  # the JSON-LD contexts kept in the database, into the processor's cache
            with database.session_scope(readonly=True) as session:
                context_contexts.warm(session)
        except Exception:
            logging.getLogger(__name__).warning("no stored JSON-LD contexts loaded")
        notifier = Notifier(  # NGSI-LD subscriptions' notifications
            database,
            outbound=OutboundPolicy.parse(settings.web.outbound_allow),
            scope=scope_for(
                None,
                settings.perception.entity_read,
                public_types(settings.perception.public_entity_types),
            )
            if settings.perception.entity_read == "unit"
            else EVERYONE,
            shared=app.state.shared,
            attempts=settings.perception.notification_attempts,
            retry_seconds=settings.perception.notification_retry_seconds,
        ).start()
        if run_worker:
            worker = Worker(database, settings, shared=app.state.shared)
            thread = threading.Thread(
                target=worker.run_forever, args=(stop,), name="citybase-worker", daemon=True
            )
            thread.start()
        yield
        stop.set()
        notifier.stop()
        if thread is not None:
            thread.join(timeout=settings.web.graceful_seconds)
        app.state.shared.close()

    app = FastAPI(
        title="citybase",
        version=citybase.__version__,
        description="The city's digital base (城市数字底座): API of the kernel and its layers.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.metrics = Metrics()
    app.state.shared = open_store(settings, database)
    errors.install(app)
    _add_gauges(app.state.metrics, database, settings)

    # added first, so that it sits inside ConsoleMiddleware: its refusals are counted and
    # carry the security headers
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(
        ConsoleMiddleware,
        metrics=app.state.metrics,
        default_language=settings.web.default_language,
    )
    # outermost: preflights answered before anything else, every answer of the public read
    # APIs (refusals included) carries the origin allowed
    app.add_middleware(CorsMiddleware, settings=settings)

    for router in (
        web_routes.router,
        identity_routes.router,
        identity_views.router,
        orgs_routes.router,
        orgs_views.router,
        ledger_routes.router,
        ledger_views.router,
        sms_views.router,
        bus_routes.router,
        bus_views.router,
        # before the catalog's: its /resources/{code}/{action} would take …/rows
        datastore_routes.router,
        datastore_views.router,
        catalog_routes.router,
        catalog_views.router,
        grading_routes.router,
        grading_views.router,
        review_routes.router,
        review_views.router,
        sources_routes.router,
        sources_views.router,
        search_routes.router,
        search_views.router,
        sharing_routes.router,
        sharing_views.router,
        masking_routes.router,
        masking_views.router,
        quality_routes.router,
        quality_views.router,
        opendata_ckan.router,
        opendata_routes.router,
        opendata_views.router,
        cockpit_plan_routes.router,
        cockpit_plan_views.router,
        cockpit_indicator_routes.router,
        cockpit_indicator_views.router,
        cockpit_task_routes.router,
        cockpit_task_views.router,
        cockpit_assessment_routes.router,
        cockpit_assessment_views.router,
        hub_event_routes.router,
        hub_case_routes.router,
        hub_brain_views.router,
        hub_case_views.router,
        hub_dispatch_routes.router,
        hub_dispatch_views.router,
        hub_supervision_routes.router,
        hub_federation_routes.router,
        hub_federation_views.router,
        hotline_open311.router,
        hotline_views.router,
        hotline_desk.router,
        hotline_routes.router,
        evaluation_routes.router,
        evaluation_views.router,
        onething_routes.router,
        onething_views.router,
        portal_views.router,
        device_routes.router,
        context_routes.router,
        device_views.router,
        telemetry_routes.router,
        rule_routes.router,
        hub_event_views.router,
        baselib_routes.router,
        baselib_views.router,
        products_revenue_routes.router,  # before products_routes: its /{product_id} takes any name
        products_contract_routes.router,  # the same
        products_dsp_routes.router,
        products_dsp_catalog_routes.router,
        products_dsp_transfer_routes.router,
        products_delivery_routes.router,
        products_routes.router,
        products_contract_views.router,  # before products_views, for the same reason
        products_sample_views.router,
        products_revenue_views.router,
        products_views.router,
        sandbox_routes.router,
        sandbox_jobs_routes.router,
        sandbox_views.router,
        sandbox_govern_views.router,
        sandbox_jobs_views.router,
        sandbox_release_routes.router,
        sandbox_release_views.router,
        certificate_routes.router,
        certificate_views.router,
    ):
        app.include_router(router)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request, _: Public) -> HTMLResponse:
        # the console's language: its cookie, else the platform's default
        return apidocs.docs_page(request.state.lang)

    @app.get("/openapi.{lang}.json", include_in_schema=False)
    def openapi_in(request: Request, lang: str, _: Public) -> JSONResponse:
        """The OpenAPI document in one of the console's languages (/openapi.json: English)."""
        if lang not in LANGUAGES:
            raise NotFound(f"no API documentation in {lang!r}: {', '.join(LANGUAGES)}")
        return JSONResponse(apidocs.document(request.app, lang))

    @app.get("/", include_in_schema=False)
    def home(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
        city = request.app.state.settings.city_code
        try:
            city_name = orgs.get_region(session, city).name
        except NotFound:  # a platform not yet given its regions
            city_name = city
        cards = [
            {
                "label": "Regions",
                "value": len(orgs.list_regions(session)),
                "path": "/console/regions",
            },
            {"label": "Units", "value": len(orgs.list_units(session)), "path": "/console/units"},
        ]
        if principal.can(identity.USERS_READ):
            cards.append({"label": "Users", "value": identity.count_users(session),
                          "path": "/console/users"})  # fmt: skip
        if principal.can(identity.LEDGER_READ) or principal.can(identity.LEDGER_READ_UNIT):
            cards.append({"label": "Ledger entries", "value": ledger.size(session),
                          "path": "/console/ledger"})  # fmt: skip
        now = datetime.now(UTC)
        desk = [(w, (now - w.oldest).days if w.oldest else None)
                for w in console.waiting(session, principal)]  # fmt: skip
        return console.render(
            request, "home.html",
            {"city_name": city_name, "cards": cards, "layers": LAYERS, "desk": desk},
        )  # fmt: skip

    def _layer_page(layer: Layer) -> Callable[..., Response]:
        def page(request: Request, principal: CurrentPrincipal) -> Response:
            del principal
            return console.render(request, "layer.html", {"layer": layer})

        return page

    routed = {getattr(r, "path", "") for r in app.routes}
    for layer in LAYERS:
        if layer.path not in routed:  # a layer whose own overview is built keeps it
            app.add_api_route(
                layer.path, _layer_page(layer), methods=["GET"], include_in_schema=False
            )

    app.mount(public_mount("/static/core"), StaticFiles(directory=_STATIC), name="static-core")
    app.mount(public_mount("/static/swagger"), StaticFiles(directory=_SWAGGER), name="swagger")
    app.mount(public_mount("/static/leaflet"), StaticFiles(directory=_LEAFLET), name="leaflet")
    app.mount(
        public_mount("/static/leaflet-cluster"), StaticFiles(directory=_CLUSTER), name="cluster"
    )
    return app


def app_from_environment() -> FastAPI:
    """The app of one web process of ``citybase serve --workers N`` (uvicorn's factory): the
    settings from the environment, the database already migrated by the parent, no background
    worker (the parent runs one for all)."""
    from citybase.core.runtime import load_settings, open_database

    settings = load_settings()
    return create_app(settings, open_database(settings, upgrade=False), run_worker=False)


def _add_gauges(metrics: Metrics, db: Database, settings: Settings) -> None:
    def ledger_size() -> float:
        with db.session_scope(readonly=True) as session:
            return float(ledger.size(session))

    def outbox_pending() -> float:
        with db.session_scope(readonly=True) as session:
            return float(bus.status(session, settings.bus.max_attempts).pending)

    def outbox(field: str) -> Callable[[], float]:
        def read() -> float:
            with db.session_scope(readonly=True) as session:
                return float(getattr(bus.status(session, settings.bus.max_attempts), field))

        return read

    def jobs(field: str) -> Callable[[], float]:
        def read() -> float:
            with db.session_scope(readonly=True) as session:
                return float(bus.job_counts(session)[field])

        return read

    def signing(index: int) -> Callable[[], float]:
        def read() -> float:
            with db.session_scope(readonly=True) as session:
                return float(ledger.signing_lag(session)[index])

        return read

    metrics.gauge("citybase_ledger_entries", "Entries in the audit ledger", ledger_size)
    metrics.gauge(
        "citybase_ledger_unsigned_entries",
        "Ledger entries not yet covered by a stored signed tree head",
        signing(0),
    )
    metrics.gauge(
        "citybase_ledger_head_age_seconds",
        "Seconds since the newest signed tree head was signed (0: none yet)",
        signing(1),
    )
    metrics.gauge("citybase_outbox_pending", "Events not yet delivered", outbox_pending)
    metrics.gauge("citybase_bus_failing", "Deliveries failing and to be retried", outbox("failing"))
    metrics.gauge(
        "citybase_bus_parked", "Deliveries given up on after bus.max_attempts", outbox("parked")
    )
    metrics.gauge("citybase_jobs_failed", "Jobs given up on", jobs("failed"))
    metrics.gauge(
        "citybase_jobs_overdue",
        "Jobs due more than five minutes ago that no worker holds",
        jobs("overdue"),
    )
    metrics.counter("citybase_readings_accepted", "Device readings stored, by protocol",
                    ["protocol"], lambda: {(p,): n for p, n in telemetry.ACCEPTED.items()})  # fmt: skip
    metrics.counter("citybase_readings_rejected", "Device readings refused, by protocol and why",
                    ["protocol", "reason"], lambda: {k: float(n) for k, n in telemetry.REJECTED.items()})  # fmt: skip
