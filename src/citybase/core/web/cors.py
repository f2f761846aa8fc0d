"""CORS for the public read APIs, so that a web page on another origin (a city's map, a data
journalist's notebook) reads open data directly: the CKAN Action API, the DCAT catalog and
its URIs, Open311 and NGSI-LD. Which origins may is ``Settings.web.cors_origins`` (``*`` by
default: open data is public). No credentials are ever allowed: a cross-origin page never
rides on a signed-in user's cookie, so what it reads is what an anonymous caller reads, or what
an API key it holds itself allows.

A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) on these paths is answered
here (204); any other request on them gets ``Access-Control-Allow-Origin`` on its answer,
errors included. Console pages and the rest of ``/api`` send nothing of CORS.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybase.core.settings import Settings

READS = "GET, HEAD, OPTIONS"
# path prefix -> the methods a cross-origin page may use there
PUBLIC_PATHS: tuple[tuple[str, str], ...] = (
    ("/api/3", "GET, HEAD, POST, OPTIONS"),  # CKAN: ckanapi sends its reads as POST
    ("/api/action/", "GET, HEAD, POST, OPTIONS"),
    ("/catalog", READS),  # the DCAT catalog in each of its serializations
    ("/open/", READS),  # the catalog's URIs (datasets, themes, units, regions)
    ("/open311/v2/", "GET, HEAD, POST, OPTIONS"),  # posting needs the caller's own api_key
    ("/ngsi-ld/v1/", READS),  # what is public there is decided per request, as ever
)
ALLOW_HEADERS = "Accept, Accept-Language, Authorization, Content-Type, Link, NGSILD-Tenant"
EXPOSE_HEADERS = "Link, Location, NGSILD-Results-Count, Content-Disposition"


def methods_for(path: str) -> str | None:
    return next((methods for prefix, methods in PUBLIC_PATHS if path.startswith(prefix)), None)


class CorsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        origins = [o.strip().rstrip("/") for o in settings.web.cors_origins.split(",")]
        self.any = "*" in origins
        self.origins = frozenset(o for o in origins if o and o != "*")

    def allowed(self, origin: str) -> str | None:
        if self.any:
            return "*"
        return origin if origin.rstrip("/") in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        methods = methods_for(scope["path"])
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if methods is None or origin is None:
            await self.app(scope, receive, send)
            return
        allow = self.allowed(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self.preflight(allow, methods, headers)(scope, receive, send)
            return
        if allow is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                raw.append((b"access-control-allow-origin", allow.encode()))
                raw.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
                if allow != "*":
                    raw.append((b"vary", b"Origin"))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def preflight(allow: str | None, methods: str, headers: Headers) -> Response:
        wanted = headers["access-control-request-method"].upper()
        if allow is None:
            return PlainTextResponse("this origin may not read this API", status_code=403)
        if wanted not in [m.strip() for m in methods.split(",")]:
            return PlainTextResponse(f"{wanted} is not allowed here from another origin",
                                     status_code=403, headers={"Allow": methods})  # fmt: skip
        answer = {
            "Access-Control-Allow-Origin": allow,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "86400",
        }
        if allow != "*":
            answer["Vary"] = "Origin"
        return Response(status_code=204, headers=answer)
