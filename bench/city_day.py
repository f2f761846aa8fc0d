"""A city's day on many processes, measured: the demo city of Fuzhou served by two web processes,
two workers and an MQTT ingestor on PostgreSQL, NATS JetStream and Redis, driven stream by stream
at stated rates while one web process and one worker are killed partway.

    python bench/city_day.py [--minutes 10] [--scale 0.05] [--database-url URL] [--home DIR]
    python bench/city_day.py --smoke          # about 20 s at a tiny scale (the test's run)

Processes (real subprocesses, as deployed): ``citybase serve --no-worker`` twice (web-1, web-2),
``citybase worker`` twice, ``citybase perception mqtt`` once; the bus on NATS JetStream (a
stream of this run's own, deleted after), the shared store in Redis (a key prefix of this run's
own), the database on PostgreSQL. The demo city is built once in the database and reused by the
next runs (with the same ``--home``, which keeps its keys and dispatch models).

Streams, each driven by a small thread pool at ``rate × scale`` per second:

- readings over MQTT (QoS 1, acknowledged by the broker's PUBACK) and over HTTP (batches of 20
  to ``/api/v1/perception/readings``, acknowledged by the 200 that says they are committed);
- NGSI-LD updates (``PATCH /ngsi-ld/v1/entities/{id}/attrs``, each entity written by one thread
  in order, so that the last acknowledged value must be the stored one);
- 12345 requests through Open311 (``POST /open311/v2/requests.json``) and through the portal
  (the page read, its picture code answered, the form posted);
- cases worked by units: each request taken in is dispatched (or reassigned) by the 12345
  centre to 鼓楼区城管局, signed and answered by its handler (three API calls);
- shared-data reads under the consumer's grants (``/api/v1/sharing/resources/{code}/rows``);
- catalog searches (``/api/v1/search``); dashboard views (the city brain's page, signed in).

Requests go to the two web processes in turn, as a load balancer would; a request refused by a
process that is down (connection refused or reset before any answer, sent after the kill) is sent
to the other one, as a load balancer with a passive health check does. A request that was in
flight at a process's kill and got no answer counts as an error "in flight at the kill"; any
other failure counts as "other". At 40 % of the run web-1 and worker-1 are killed with SIGKILL and
started again 5 s later.

At the end, after the workers have had time to settle: every acknowledged 12345 request is a case
in the database, every acknowledged reading is stored, every acknowledged NGSI-LD value is the
entity's (or a later one), every acknowledged case step left the case at least that far. Printed:
per stream sent, acknowledged, errors, throughput, p50/p99 and lost; the reference (one process's
``/healthz``, sequential, before the load); the load average; the scale against Fuzhou's.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "src"))

from citybase.core.db import migrate  # noqa: E402
from citybase.core.db.engine import Database  # noqa: E402
from citybase.core.settings import Settings  # noqa: E402

# a database of its own (its schema is dropped when the demo city is built): never the tests'
POSTGRES_URL = os.environ.get(
    "CITYBASE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/citybase_bench"
)
NATS_URL = "nats://127.0.0.1:4222"
REDIS_URL = "redis://127.0.0.1:6379/14"
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
HANDLER_UNIT = "gl.urban"  # 鼓楼区城管局, where the demo's handler works
DEVICES = 50  # bench devices (half over MQTT, half over HTTP) beside the demo's 18
ENTITIES = 40  # NGSI-LD entities the updates go to
HTTP_BATCH = 20  # readings in one HTTP batch, as a gateway sends them
KILL_AT, RESTART_AFTER = 0.4, 5.0  # of the run; seconds
TIMEOUT = 30.0  # seconds a request may take before it counts as an error

# --- the scale -------------------------------------------------------------------------------
# Fuzhou: about 8.4 million residents. The figures below are this benchmark's assumptions for
# an average day of the whole city on one platform (none is taken from the plans, which give no
# such counts): scale 1 drives them at these rates, averaged over 24 hours.
FUZHOU_DAY = {
    "readings": 100_000 * 288,  # 100,000 sensors, one reading each every 5 minutes
    "ngsi": 10_000 * 144,  # 10,000 context entities, updated every 10 minutes
    "12345": 10_000,  # requests taken in a day through the portal and Open311 (≈1 in 840 people)
    "case steps": 30_000,  # three steps per request: dispatched, signed, answered
    "shared reads": 100_000,  # reads of another unit's data under grants
    "searches": 20_000,  # catalog searches
    "dashboards": 200 * 8 * 60,  # 200 screens, refreshed each minute, 8 hours
}
DAY = 86_400


KEYS = {"mqtt": "readings (MQTT)", "http": "readings (HTTP, 20 a batch)",
        "ngsi": "NGSI-LD updates", "open311": "12345 via Open311",
        "portal": "12345 via the portal", "cases": "cases worked by units",
        "shared": "shared-data reads", "search": "catalog searches",
        "dashboard": "dashboard views"}  # fmt: skip
FLOOR = 0.5  # a second: a stream the scale would drive slower is driven at this rate


def rate_of(stream: str, scale: float, share: float = 1.0, items: int = 1) -> float:
    """Requests a second for ``share`` of the stream at ``scale`` of Fuzhou's average day,
    ``items`` to a request, and at least ``FLOOR`` (so that the rare streams, 12345 first, give
    enough requests to measure: the report says each stream's own multiple of Fuzhou's)."""
    return max(FUZHOU_DAY[stream] * share * scale / DAY / items, FLOOR)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    health: str = ""  # a URL answering 200 when up
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from citybase.cli import main; main()", *self.args],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_up(self, seconds: float = 180.0) -> None:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}: see {self.log}"
                )
            if not self.health:
                return
            try:
                with urllib.request.urlopen(self.health, timeout=2) as answer:  # noqa: S310 -- http on this machine
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {self.health} within {seconds:.0f} s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


# --- the city's data -------------------------------------------------------------------------


@dataclass
class Keys:
    admin: str
    operator: str
    handler: str
    consumer: str
    steward: str
    resources: list[str]
    devices: list[str]


def prepare(db: Database, settings: Settings, home: Path, url: str) -> Keys:
    """The demo city (built unless this home already holds it for this database), the bench's
    devices and an API key per role."""
    from citybase.core.identity import service as identity
    from citybase.core.identity.schemas import ApiKeyCreate
    from citybase.core.ledger.schemas import Actor
    from citybase.data.sharing.models import ShareGrant
    from citybase.demo.seed import build_demo, demo_exists
    from citybase.perception.devices import service as devices
    from citybase.perception.devices.schemas import AttributeSpec, DeviceIn, DeviceTypeIn

    marker = home / "cityday-database"
    if not (marker.exists() and marker.read_text() == url and demo_exists(db)):
        started = time.perf_counter()
        with db.engine.begin() as c:
            if db.dialect == "postgresql":
                c.execute(text("DROP SCHEMA public CASCADE"))
                c.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(db.engine)
        build_demo(db, settings)
        marker.write_text(url)
        print(f"demo city built in {time.perf_counter() - started:.0f} s")
    actor = Actor.system("cityday")
    names = [f"cityday-m-{n:03d}" for n in range(DEVICES // 2)] + [
        f"cityday-h-{n:03d}" for n in range(DEVICES // 2)
    ]
    with db.session_scope() as s:
        devices.put_type(s, actor, DeviceTypeIn(code="cityday_probe", name="压测探头", attributes=[
            AttributeSpec(name="value", label="读数", unit="", min=0, max=1_000_000_000)]))  # fmt: skip
        for name in names:
            devices.put_device(s, None, actor, DeviceIn(
                device_id=name, name=name, type_code="cityday_probe", owner_unit="fz.bigdata",
                protocol="mqtt" if "-m-" in name else "http"))  # fmt: skip
        made = {
            user: identity.create_api_key(
                s, settings, identity.principal_for(s, user),
                ApiKeyCreate(name=f"cityday {secrets.token_hex(3)}"),
            )
            for user in ("admin", "operator", "handler", "consumer", "steward")
        }  # fmt: skip
        consumer = identity.principal_for(s, "consumer")
        grants = s.scalars(select(ShareGrant).where(
            ShareGrant.consumer_unit_code == consumer.unit_code, ShareGrant.revoked_at.is_(None)
        )).all()  # fmt: skip
        for grant in grants:  # a key reads only under grants naming it (its system)
            grant.api_key_ids = [*grant.api_key_ids, made["consumer"].id]
        resources = sorted({g.resource_code for g in grants})
    if not resources:
        raise RuntimeError("the consumer holds no grant: the demo city is not as expected")
    return Keys(**{k: v.secret for k, v in made.items()}, resources=resources, devices=names)


# --- the client side -------------------------------------------------------------------------


@dataclass
class Outcome:
    started: float
    seconds: float
    ok: bool
    web: int  # which web process answered (or failed), -1: none of them (MQTT)
    reason: str = ""


@dataclass
class Stream:
    name: str
    rate: float  # per second
    threads: int
    do: Callable[[Stream, int], None]
    kind: str = "read"  # read (a page or a read: the p99 aim applies), write
    fuzhou: float = 0.0  # items a second that Fuzhou's assumed average day has in this stream
    items: int = 1  # items in one request
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: list[Any] = field(default_factory=list)  # what the check at the end looks for
    lost: int | None = None

    def record(self, outcome: Outcome, ack: Any = None) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if ack is not None:
                self.acked.append(ack)


class Unreachable(Exception):
    """The process refused the connection or closed it without answering: nothing was done."""


class City:
    """The two web processes behind a client-side balancer, and what the kill changed."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.turn = 0
        self.lock = threading.Lock()
        self.down_until = [0.0] * len(urls)
        self.killed: dict[int, tuple[float, float]] = {}  # web → (killed at, restarted at)

    def pick(self) -> int:
        with self.lock:
            self.turn += 1
            now = time.monotonic()
            order = [(self.turn + n) % len(self.urls) for n in range(len(self.urls))]
            for web in order:
                if self.down_until[web] <= now:
                    return web
            return order[0]

    def mark_down(self, web: int) -> None:
        with self.lock:
            self.down_until[web] = time.monotonic() + 1.0

    def in_flight_at_kill(self, web: int, started: float, ended: float) -> bool:
        killed = self.killed.get(web)
        return killed is not None and started <= killed[0] <= ended


def call(
    city: City, opener: urllib.request.OpenerDirector, method: str, path: str, *,
    body: bytes | None = None, headers: dict[str, str] | None = None, web: int | None = None,
) -> tuple[int, int, bytes]:  # fmt: skip
    """(web, status, body) of one request; ``Unreachable`` if the process is down."""
    web = city.pick() if web is None else web
    request = urllib.request.Request(  # noqa: S310 -- http on this machine
        city.urls[web] + path, data=body, method=method, headers=headers or {}
    )
    try:
        with opener.open(request, timeout=TIMEOUT) as answer:
            return web, answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return web, exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError | ConnectionResetError | ConnectionError):
            city.mark_down(web)
            raise Unreachable(web, str(reason)) from exc
        if "closed connection without response" in str(exc) or "Remote end closed" in str(exc):
            city.mark_down(web)
            raise Unreachable(web, str(exc)) from exc
        raise


def run_one(
    stream: Stream, city: City, work: Callable[[int | None], tuple[int, bool, Any, str]]
) -> bool:
    """One unit of a stream's work, sent again to the other process if the first was down
    before it was sent; recorded with its latency and outcome. True if acknowledged."""
    started = time.monotonic()
    web: int | None = None
    for _attempt in range(3):
        begun = time.monotonic()
        try:
            answered, ok, ack, reason = work(web)
            stream.record(Outcome(started, time.monotonic() - started, ok, answered, reason),
                          ack if ok else None)  # fmt: skip
            return ok
        except Unreachable as exc:
            ended = time.monotonic()
            w = exc.args[0]
            if city.in_flight_at_kill(w, begun, ended):
                stream.record(Outcome(started, ended - started, False, w, "in flight at the kill"))
                return False
            web = None
        except Exception as exc:
            stream.record(Outcome(started, time.monotonic() - started, False, -1,
                                  f"{type(exc).__name__}: {str(exc)[:120]}"))  # fmt: skip
            return False
    stream.record(Outcome(started, time.monotonic() - started, False, -1, "no process answered"))
    return False


def drive(stream: Stream, seconds: float, stop: threading.Event) -> list[threading.Thread]:
    """``stream.threads`` threads sharing the stream's rate, each on a fixed schedule (a late
    request does not make the next ones wait for their slot to be caught up)."""
    if stream.rate <= 0:
        return []
    interval = stream.threads / stream.rate
    begin = time.monotonic()

    def loop(index: int) -> None:
        n = 0
        due = begin + interval * index / stream.threads
        while not stop.is_set() and due < begin + seconds:
            pause = due - time.monotonic()
            if pause > 0 and stop.wait(pause):
                return
            stream.do(stream, index * 1_000_000 + n)
            n += 1
            due += interval
            if due < time.monotonic() - interval * 5:  # far behind: skip slots, not pile up
                due = time.monotonic()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(stream.threads)]
    for t in threads:
        t.start()
    return threads


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


# --- the streams -----------------------------------------------------------------------------


def build_streams(
    city: City, keys: Keys, settings: Settings, scale: float, base_ms: int, topic: str
) -> list[Stream]:  # fmt: skip
    from citybase.core.web import captcha

    openers = threading.local()

    def opener() -> urllib.request.OpenerDirector:
        if not hasattr(openers, "plain"):
            openers.plain = urllib.request.build_opener()
        return openers.plain  # type: ignore[no-any-return]

    def bearer(key: str, kind: str = "application/json") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {key}",
            "Content-Type": kind,
            "Accept": "application/json",
        }

    sequence = iter(range(10**9))
    seq_lock = threading.Lock()

    def next_ts() -> int:
        with seq_lock:
            return base_ms + next(sequence)

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")

    # readings over HTTP
    http_devices = [d for d in keys.devices if "-h-" in d]

    def readings_http(stream: Stream, n: int) -> None:
        batch = [(random.choice(http_devices), next_ts()) for _ in range(HTTP_BATCH)]
        body = json.dumps([{"device_id": d, "ts": iso(ts), "values": {"value": ts % 1000}}
                           for d, ts in batch]).encode()  # fmt: skip

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, answer = call(city, opener(), "POST", "/api/v1/perception/readings",
                                     body=body, headers=bearer(keys.admin), web=web)  # fmt: skip
            accepted = json.loads(answer).get("accepted") if status == 200 else None
            if status == 200 and accepted == len(batch):
                return w, True, batch, ""
            return w, False, None, f"{status}: {answer[:120]!r}"

        run_one(stream, city, work)

    # readings over MQTT (one client per thread, QoS 1: acknowledged by the broker's PUBACK)
    mqtt_devices = [d for d in keys.devices if "-m-" in d]
    clients = threading.local()

    def readings_mqtt(stream: Stream, n: int) -> None:
        import paho.mqtt.client as mqtt

        if not hasattr(clients, "c"):
            c = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=f"cityday-{secrets.token_hex(4)}"
            )
            c.connect(MQTT_HOST, MQTT_PORT)
            c.loop_start()
            clients.c = c
        device, ts = random.choice(mqtt_devices), next_ts()
        started = time.monotonic()
        try:
            info = clients.c.publish(topic.format(device_id=device),
                                     json.dumps({"value": ts % 1000, "ts": iso(ts)}), qos=1)  # fmt: skip
            info.wait_for_publish(TIMEOUT)
            ok = info.is_published()
            stream.record(Outcome(started, time.monotonic() - started, ok, -1,
                                  "" if ok else "no PUBACK"), [(device, ts)] if ok else None)  # fmt: skip
        except Exception as exc:
            stream.record(Outcome(started, time.monotonic() - started, False, -1, repr(exc)[:120]))

    # NGSI-LD updates: entity k is written by thread k % threads only, in order
    ngsi_threads = 2

    def ngsi(stream: Stream, n: int) -> None:
        thread, step = divmod(n, 1_000_000)
        mine = [k for k in range(ENTITIES) if k % ngsi_threads == thread]
        k = mine[step % len(mine)]
        value = n + 1
        body = json.dumps({"cityDaySeq": {"type": "Property", "value": value}}).encode()

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, answer = call(
                city, opener(), "PATCH", f"/ngsi-ld/v1/entities/urn:ngsi-ld:CityDayProbe:{k:03d}/attrs",
                body=body, headers=bearer(keys.admin), web=web)  # fmt: skip
            return w, status == 204, (k, value), f"{status}: {answer[:120]!r}"

        run_one(stream, city, work)

    # 12345: Open311 and the portal; each number taken in goes to the case workers' queue
    queue: list[str] = []
    queue_lock = threading.Lock()
    texts = ["鼓东路口的井盖缺失了，晚上很危险", "杨桥路人行道上的路灯不亮", "五四路有垃圾堆放多日无人清运",
             "东街口地铁站出口共享单车乱停放堵住盲道", "鼓楼区温泉路施工噪音夜间扰民"]  # fmt: skip

    def phone() -> str:
        return f"13{random.randint(5, 9)}{random.randint(0, 99_999_999):08d}"

    def open311(stream: Stream, n: int) -> None:
        body = urllib.parse.urlencode({
            "api_key": keys.operator, "service_code": "0102", "description": random.choice(texts),
            "address_string": "鼓楼区鼓东街道虎节社区鼓东路", "phone": phone(),
            "first_name": "林", "lat": "26.087", "long": "119.302",
        }).encode()  # fmt: skip

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, answer = call(city, opener(), "POST", "/open311/v2/requests.json", body=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"},
                                     web=web)  # fmt: skip
            if status == 200:
                number = json.loads(answer)[0]["service_request_id"]
                with queue_lock:
                    queue.append(number)
                return w, True, number, ""
            return w, False, None, f"{status}: {answer[:160]!r}"

        run_one(stream, city, work)

    def portal(stream: Stream, n: int) -> None:
        jar = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, page = call(city, jar, "GET", "/hotline", web=web)
            if status != 200:
                return w, False, None, f"page {status}"
            token = re.search(rb'name="captcha_token" value="([^"]+)"', page)
            form = re.search(rb'name="form_token" value="([^"]+)"', page)
            if not (token and form):
                return w, False, None, "no picture code or form token"
            code = captcha.read(settings, token[1].decode())[0].lower()
            body = urllib.parse.urlencode({
                "text": random.choice(texts), "address": "鼓楼区鼓东街道虎节社区鼓东路",
                "region_code": "", "category_code": "0102", "reporter_phone": phone(),
                "reporter_name": "林", "do": "send", "captcha_token": token[1].decode(),
                "captcha": code, "form_token": form[1].decode(),
            }).encode()  # fmt: skip
            # the form goes back to the process that drew its picture code, as a sticky session
            # would send it; either would take it (the code is checked in the shared store)
            w, status, answer = call(city, jar, "POST", "/hotline", body=body, web=w,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            found = re.search(rb"\b[A-Z]{1,4}\d{15}\b", answer)
            if status == 200 and found:
                number = found[0].decode()
                with queue_lock:
                    queue.append(number)
                return w, True, number, ""
            return w, False, None, f"{status}: {answer[:160]!r}"

        run_one(stream, city, work)

    # cases worked: the centre dispatches to the handler's unit, the handler signs and answers
    progress: dict[
        str, int
    ] = {}  # number → steps acknowledged (1 dispatched, 2 signed, 3 answered)

    def case_step(stream: Stream, n: int) -> None:
        with queue_lock:
            if not queue:
                return
            number = queue.pop(0)
        done = progress.get(number, 0)
        step = ["dispatch", "sign", "reply"][done]
        key = keys.operator if step == "dispatch" else keys.handler
        payload: dict[str, Any] = {}
        if step == "dispatch":
            payload = {"lead_unit": HANDLER_UNIT, "note": "压测派单"}
        elif step == "reply":
            payload = {"reply": "已处理：现场核实并完成整改。", "note": "压测答复"}

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            action = step
            if step == "dispatch":  # taken in as accepted, or dispatched by the classifier
                w, status, answer = call(city, opener(), "GET", f"/api/v1/hub/cases/{number}",
                                         headers=bearer(key), web=web)  # fmt: skip
                if status != 200:
                    return w, False, None, f"read {status}: {answer[:120]!r}"
                case = json.loads(answer)
                if case.get("state") == "dispatched" and case.get("lead_unit") == HANDLER_UNIT:
                    return w, True, (number, 1), ""
                if case.get("state") != "accepted":
                    action = "reassign"
                web = w
            w, status, answer = call(city, opener(), "POST",
                                     f"/api/v1/hub/cases/{number}/actions/{action}",
                                     body=json.dumps(payload).encode(), headers=bearer(key), web=web)  # fmt: skip
            return w, status == 200, (number, done + 1), f"{action} {status}: {answer[:160]!r}"

        if run_one(stream, city, work):
            progress[number] = done + 1
            if done + 1 < 3:
                with queue_lock:
                    queue.append(number)
        else:  # tried again later
            with queue_lock:
                queue.append(number)

    def shared(stream: Stream, n: int) -> None:
        code = keys.resources[n % len(keys.resources)]
        headers = bearer(keys.consumer) | {
            "X-Citybase-Issue": f"YB{datetime.now(UTC):%Y%m%d}{n % 10_000:04d}", "X-Citybase-UserId": "huanglei",
            "X-Citybase-Purpose": urllib.parse.quote("参保人员身份核验"),
        }  # fmt: skip

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, answer = call(city, opener(), "GET",
                                     f"/api/v1/sharing/resources/{code}/rows?limit=20",
                                     headers=headers, web=web)  # fmt: skip
            return w, status == 200, None, f"{status}: {answer[:120]!r}"

        run_one(stream, city, work)

    words = ["人口", "企业", "医保", "公积金", "水位", "交通", "教育", "不动产", "社保", "气象"]

    def search(stream: Stream, n: int) -> None:
        q = urllib.parse.quote(words[n % len(words)])

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, answer = call(city, opener(), "GET", f"/api/v1/search?q={q}",
                                     headers=bearer(keys.steward), web=web)  # fmt: skip
            return w, status == 200, None, f"{status}: {answer[:120]!r}"

        run_one(stream, city, work)

    signed_in = threading.local()

    def dashboard(stream: Stream, n: int) -> None:
        if not hasattr(signed_in, "jar"):
            started = time.monotonic()
            try:  # a sign-in that fails counts as a failed view, and is tried again next time
                signed_in.jar = sign_in(city, "supervisor")
            except Exception as exc:
                stream.record(Outcome(started, time.monotonic() - started, False, -1,
                                      f"sign-in: {type(exc).__name__}: {str(exc)[:100]}"))  # fmt: skip
                return

        def work(web: int | None) -> tuple[int, bool, Any, str]:
            w, status, page = call(city, signed_in.jar, "GET", "/console/hub/brain", web=web)
            return w, status == 200 and b"<html" in page[:500].lower(), None, f"{status}"

        run_one(stream, city, work)

    def stream(name: str, of: str, share: float, threads: int, do: Callable[[Stream, int], None],
               kind: str = "read", items: int = 1) -> Stream:  # fmt: skip
        return Stream(name, rate_of(of, scale, share, items), threads, do, kind,
                      FUZHOU_DAY[of] * share / DAY, items)  # fmt: skip

    streams = [
        stream("readings (MQTT)", "readings", 0.5, 4, readings_mqtt, "write"),
        stream(
            "readings (HTTP, 20 a batch)", "readings", 0.5, 2, readings_http, "write", HTTP_BATCH
        ),
        stream("NGSI-LD updates", "ngsi", 1, ngsi_threads, ngsi, "write"),
        stream("12345 via Open311", "12345", 0.6, 2, open311, "write"),
        stream("12345 via the portal", "12345", 0.4, 2, portal, "write"),
        stream("cases worked by units", "case steps", 1, 2, case_step, "write"),
        stream("shared-data reads", "shared reads", 1, 2, shared),
        stream("catalog searches", "searches", 1, 1, search),
        stream("dashboard views", "dashboards", 1, 2, dashboard),
    ]
    # three steps a request: the case workers go at 1.5 times that, idle when none waits
    cases = next(s for s in streams if s.name == "cases worked by units")
    cases.rate = max(cases.rate, 4.5 * sum(s.rate for s in streams if s.name.startswith("12345")))
    cases.threads = 3
    return streams


def sign_in(city: City, username: str) -> urllib.request.OpenerDirector:
    from citybase.demo.seed import DEMO_PASSWORD

    jar = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    for _ in range(10):
        try:
            web, _status, page = call(city, jar, "GET", "/login")
            token = re.search(rb'name="login_token" value="([^"]+)"', page)
            assert token is not None, "the sign-in page has no token"
            body = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD,
                                           "next": "/", "login_token": token[1].decode()}).encode()  # fmt: skip
            _web, status, _ = call(city, jar, "POST", "/login", body=body, web=web,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            if status == 200:
                return jar
        except Unreachable:
            time.sleep(0.5)
    raise RuntimeError(f"{username} could not sign in")


# --- the checks at the end -------------------------------------------------------------------


def check_lost(db: Database, streams: dict[str, Stream], base_ms: int, settle: float) -> None:
    from citybase.hub.cases.models import Case
    from citybase.perception.context.models import ContextEntity
    from citybase.perception.telemetry.models import Reading, Series

    # a stream left out (--skip) stands as an empty one here
    streams = {n: streams.get(n) or Stream(n, 0, 0, lambda *_: None) for n in KEYS.values()}
    readings = {(d, ts) for name in ("readings (MQTT)", "readings (HTTP, 20 a batch)")
                for batch in streams[name].acked for d, ts in batch}  # fmt: skip

    def stored_readings() -> set[tuple[str, int]]:
        with db.session_scope(readonly=True) as s:
            return set(s.execute(
                select(Series.device_id, Reading.ts).join(Reading, Reading.series_id == Series.id)
                .where(Series.device_id.like("cityday-%"), Reading.ts >= base_ms)
            ).all())  # fmt: skip

    ends = time.monotonic() + settle  # the ingestor's last batch: stored before it is acknowledged
    missing = readings - stored_readings()
    while missing and time.monotonic() < ends:
        time.sleep(1)
        missing = readings - stored_readings()
    for name in ("readings (MQTT)", "readings (HTTP, 20 a batch)"):
        mine = {r for batch in streams[name].acked for r in batch}
        streams[name].lost = len(mine & missing)

    numbers = [n for name in ("12345 via Open311", "12345 via the portal")
               for n in streams[name].acked]  # fmt: skip
    with db.session_scope(readonly=True) as s:
        found = set()
        for start in range(0, len(numbers), 1000):
            found |= set(
                s.scalars(select(Case.number).where(Case.number.in_(numbers[start : start + 1000])))
            )
        for name in ("12345 via Open311", "12345 via the portal"):
            streams[name].lost = len(set(streams[name].acked) - found)

        reached: dict[str, int] = {}
        for number, step in streams["cases worked by units"].acked:
            reached[number] = max(reached.get(number, 0), step)
        order = {"accepted": 0, "dispatched": 1, "signed": 2, "handling": 2, "replied": 3,
                 "followed_up": 4, "closed": 5}  # fmt: skip
        lost = 0
        for start in range(0, len(reached), 1000):
            chunk = list(reached)[start : start + 1000]
            for number, status in s.execute(
                select(Case.number, Case.state).where(Case.number.in_(chunk))
            ):
                state = status.value if hasattr(status, "value") else str(status)
                if order.get(state, -1) < reached[number]:
                    lost += 1
        streams["cases worked by units"].lost = lost

        last: dict[int, int] = {}
        for k, value in streams["NGSI-LD updates"].acked:
            last[k] = max(last.get(k, 0), value)
        lost = 0
        for entity in s.scalars(
            select(ContextEntity).where(ContextEntity.id.like("urn:ngsi-ld:CityDayProbe:%"))
        ):
            k = int(entity.id.rsplit(":", 1)[1])
            stored = entity_value(entity)
            if k in last and (stored is None or stored < last[k]):
                lost += 1
        streams["NGSI-LD updates"].lost = lost


def entity_value(entity: Any) -> int | None:
    """The stored cityDaySeq of an entity (its attributes are kept expanded)."""
    for name, value in (entity.attrs or {}).items():
        if name.endswith("cityDaySeq"):
            instance = value[0] if isinstance(value, list) else value
            found = instance.get("https://uri.etsi.org/ngsi-ld/hasValue", instance.get("value"))
            if isinstance(found, list):
                found = found[0]
            if isinstance(found, dict):
                found = found.get("@value")
            return int(found) if found is not None else None
    return None


# --- the run ---------------------------------------------------------------------------------


def reference(url: str, seconds: float) -> tuple[float, float]:
    """Requests per second and p50 ms of ``/healthz`` from one process, one after another."""
    opener = urllib.request.build_opener()
    spent: list[float] = []
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        start = time.perf_counter()
        with opener.open(f"{url}/healthz", timeout=10) as answer:
            answer.read()
        spent.append(time.perf_counter() - start)
    return len(spent) / sum(spent), statistics.median(spent) * 1000


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=0.05,
                        help="share of Fuzhou's assumed average day (1: the whole city)")  # fmt: skip
    parser.add_argument("--database-url", default=POSTGRES_URL)
    parser.add_argument(
        "--home", type=Path, default=Path(tempfile.gettempdir()) / "citybase-cityday"
    )
    parser.add_argument("--smoke", action="store_true", help="about 20 s at a tiny scale")
    parser.add_argument("--no-kill", action="store_true", help="kill no process")
    parser.add_argument(
        "--skip", default="", help=f"streams left out, comma-separated: {', '.join(KEYS)}"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.minutes, args.scale = 1 / 3, 0.005
    seconds = args.minutes * 60
    home: Path = args.home
    home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    settings = Settings(home=home, database_url=args.database_url)
    settings.masking_key  # noqa: B018 -- made once here, not raced for by the processes
    db = Database(args.database_url)
    if db.dialect != "postgresql":
        raise SystemExit("the city's day runs on PostgreSQL: give --database-url")
    keys = prepare(db, settings, home, args.database_url)
    topic = f"cityday-{token}/{{device_id}}/attrs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBASE_")} | {
        "CITYBASE_HOME": str(home),
        "CITYBASE_DATABASE_URL": args.database_url,
        "CITYBASE_BUS_URL": NATS_URL,
        "CITYBASE_BUS__STREAM": f"CITYDAY_{token.upper()}",
        "CITYBASE_SHARED__BACKEND": "redis",
        "CITYBASE_SHARED__REDIS_URL": REDIS_URL,
        "CITYBASE_SHARED__REDIS_PREFIX": f"cityday-{token}:",
        "CITYBASE_PERCEPTION__JSON_TOPIC": topic,
        "CITYBASE_HUB__PORTAL_SUBMISSIONS_PER_HOUR": "0",  # one client address sends them all
        "PYTHONPATH": str(ROOT / "src"),
    }  # fmt: skip
    logs = home / f"logs-{token}"
    logs.mkdir()
    ports = [free_port(), free_port()]
    webs = [Proc(f"web-{i + 1}", ["serve", "--no-worker", "--port", str(p)], env,
                 logs / f"web-{i + 1}.log", f"http://127.0.0.1:{p}/readyz")
            for i, p in enumerate(ports)]  # fmt: skip
    health = [free_port(), free_port()]
    workers = [Proc(f"worker-{i + 1}", ["worker", "--health-port", str(p)], env,
                    logs / f"worker-{i + 1}.log", f"http://127.0.0.1:{p}/healthz")
               for i, p in enumerate(health)]  # fmt: skip
    ingestor = Proc("mqtt", ["perception", "mqtt", "--url", f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
                             "--client-id", f"cityday-ingest-{token}"], env, logs / "mqtt.log")  # fmt: skip
    processes = [*webs, *workers, ingestor]
    result: dict[str, dict[str, Any]] = {}
    try:
        for p in processes:
            p.start()
        for p in processes:
            p.wait_up()
        time.sleep(2)  # the ingestor subscribes
        city = City([f"http://127.0.0.1:{p}" for p in ports])
        ref_rate, ref_p50 = reference(city.urls[1], 3 if args.smoke else 10)
        load_before = os.getloadavg()
        opener = urllib.request.build_opener()
        upsert = [{"id": f"urn:ngsi-ld:CityDayProbe:{k:03d}", "type": "CityDayProbe",
                   "cityDaySeq": {"type": "Property", "value": 0}} for k in range(ENTITIES)]  # fmt: skip
        _, status, answer = call(city, opener, "POST", "/ngsi-ld/v1/entityOperations/upsert",
                                 body=json.dumps(upsert).encode(),
                                 headers={"Authorization": f"Bearer {keys.admin}",
                                          "Content-Type": "application/json"})  # fmt: skip
        if status not in (201, 204):
            raise RuntimeError(f"the NGSI-LD entities were not made: {status} {answer[:200]!r}")
        base_ms = int((datetime.now(UTC) - timedelta(hours=6)).timestamp() * 1000)
        skip = {KEYS[k.strip()] for k in args.skip.split(",") if k.strip()}
        streams = [s for s in build_streams(city, keys, settings, args.scale, base_ms, topic)
                   if s.name not in skip]  # fmt: skip
        print(f"driving {len(streams)} streams for {seconds:.0f} s at scale {args.scale} of "
              f"Fuzhou's assumed day; processes' logs in {logs}")  # fmt: skip
        stop = threading.Event()
        began = time.monotonic()
        threads = [t for s in streams for t in drive(s, seconds, stop)]
        kills: list[str] = []
        if not args.no_kill:
            time.sleep(seconds * KILL_AT)
            killed_at = time.monotonic()
            city.killed[0] = (killed_at, float("inf"))
            webs[0].kill()
            workers[0].kill()
            kills.append(f"web-1 and worker-1 killed (SIGKILL) at {killed_at - began:.0f} s")
            time.sleep(RESTART_AFTER)
            webs[0].start()
            workers[0].start()
            webs[0].wait_up()
            workers[0].wait_up()
            kills.append(f"both started again {RESTART_AFTER:.0f} s later, web-1 ready at "
                         f"{time.monotonic() - began:.0f} s")  # fmt: skip
        for t in threads:
            t.join(timeout=max(1.0, seconds - (time.monotonic() - began)) + TIMEOUT + 5)
        stop.set()
        print(f"the streams stopped at {time.monotonic() - began:.0f} s")
        elapsed = seconds  # the rates are over the driven window
        load_after = os.getloadavg()
        by_name = {s.name: s for s in streams}
        check_lost(db, by_name, base_ms, settle=60.0)
        with db.session_scope(readonly=True) as s:
            pending = s.scalar(text("SELECT count(*) FROM bus_outbox WHERE dispatched_at IS NULL"))
        result = report(streams, elapsed, args, ref_rate, ref_p50, load_before, load_after, kills,
                        pending)  # fmt: skip
    finally:
        codes = {p.name: p.stop() for p in processes}
        print(f"exit codes on SIGTERM: {codes}")
        drop_stream(f"CITYDAY_{token.upper()}")
        db.dispose()
    return result


def drop_stream(name: str) -> None:
    try:
        import asyncio

        import nats

        async def drop() -> None:
            nc = await nats.connect(NATS_URL)
            try:
                await nc.jetstream().delete_stream(name)
            finally:
                await nc.close()

        asyncio.run(drop())
    except Exception as exc:  # the run's figures stand; the stream is left for its max age
        print(f"the stream {name} was not deleted: {exc}")


def report(
    streams: list[Stream], elapsed: float, args: argparse.Namespace, ref_rate: float,
    ref_p50: float, load_before: tuple[float, ...], load_after: tuple[float, ...],
    kills: list[str], pending: int | None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    import platform

    print(f"\nmachine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} after (1/5/15 min)")  # fmt: skip
    print(f"scale {args.scale} of Fuzhou's assumed average day (about 8.4 M residents; "
          f"12345: {FUZHOU_DAY['12345']:,} requests a day; readings: "
          f"{FUZHOU_DAY['readings']:,} a day), {elapsed:.0f} s driven")  # fmt: skip
    for line in kills:
        print(line)
    print(f"reference: /healthz of one web process, one request after another: {ref_rate:,.0f}/s, "
          f"p50 {ref_p50:.1f} ms")  # fmt: skip
    print("| stream | target/s | × Fuzhou's day | sent | acknowledged | errors: in flight at the "
          "kill | errors: other | acknowledged/s | p50 ms | p99 ms | p99 ÷ ref p50 | lost |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    out: dict[str, dict[str, Any]] = {}
    for s in streams:
        ok = [o.seconds * 1000 for o in s.outcomes if o.ok]
        in_flight = sum(1 for o in s.outcomes if not o.ok and o.reason == "in flight at the kill")
        other = [o for o in s.outcomes if not o.ok and o.reason != "in flight at the kill"]
        p50, p99 = percentile(ok, 0.5), percentile(ok, 0.99)
        lost = "—" if s.lost is None else str(s.lost)
        times = s.fuzhou and s.rate * s.items / s.fuzhou
        print(f"| {s.name} | {s.rate:.2f} | {times:.3g} | {len(s.outcomes):,} | {len(ok):,} | {in_flight} | "
              f"{len(other)} | {len(ok) / elapsed:.2f} | {p50:.0f} | {p99:.0f} | "
              f"{p99 / ref_p50:.0f} | {lost} |")  # fmt: skip
        for reason in sorted({o.reason for o in other})[:3]:
            print(f"    other error: {reason}")
        out[s.name] = {"sent": len(s.outcomes), "acknowledged": len(ok), "in_flight": in_flight,
                       "other": len(other), "p50": p50, "p99": p99, "lost": s.lost,
                       "kind": s.kind}  # fmt: skip
    print(f"outbox rows not relayed to JetStream at the end: {pending}")
    return out


if __name__ == "__main__":
    main()
