"""citybase as several processes: what one process spends or counts holds in every other, and
each process stops cleanly on SIGTERM.

Two real ``citybase serve`` processes (separate Python interpreters, different ports) run
against one database — a SQLite file, and PostgreSQL when it is reachable — with the shared
store in the database, and again in Redis when Redis answers on 127.0.0.1:6379. A caller's
look-ups are counted across both (the fourth is refused by either), a picture code answered on
one is refused by the other, and a form sent to one and again to the other makes one case.

A real ``citybase worker`` runs a job that waits for the test to open a gate; it answers its
health port, is sent SIGTERM in the middle of the job, finishes that job, hands back the claims
of the jobs it had not begun and exits 0.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from citybase.core.bus import service as bus
from citybase.core.bus.models import Job
from citybase.core.db.engine import Database
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.hub.cases.models import Case
from tests.conftest import reachable
from tests.core.bus.gate_jobs import KIND as GATE
from tests.hub.cases.factories import city
from tests.services.hotline.test_portal import REQUEST

ROOT = Path(__file__).parents[1]
REDIS_URL = "redis://127.0.0.1:6379/15"
STARTUP = 120.0  # seconds a process may take to answer (a bound on a hang, not a measurement)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(check, what: str, process: subprocess.Popen[bytes]) -> None:  # type: ignore[no-untyped-def]
    ends = time.monotonic() + STARTUP
    while time.monotonic() < ends:
        if process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {STARTUP:.0f} s")


def _start(
    args: list[str], env: dict[str, str], log: Path, preload: str = ""
) -> subprocess.Popen[bytes]:
    """``citybase ARGS`` in a process of its own (``preload``: a module imported first)."""
    code = f"import sys{', ' + preload if preload else ''}; from citybase.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


def _environment(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBASE_")}
    return (
        env
        | {
            "CITYBASE_HOME": str(settings.home),
            "CITYBASE_DATABASE_URL": settings.resolved_database_url,
            "PYTHONPATH": str(ROOT),
        }
        | extra
    )


@pytest.fixture(params=["database", "redis"])
def two_servers(
    request: pytest.FixtureRequest, fresh_db: Database, fresh_settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    extra = {"CITYBASE_HUB__PORTAL_LOOKUPS_PER_HOUR": "3"}
    if request.param == "redis":
        if fresh_db.dialect != "sqlite":
            pytest.skip("Redis does not depend on the database: run it once")
        if not reachable(REDIS_URL, 6379):
            pytest.skip("Redis is not reachable")
        extra |= {
            "CITYBASE_SHARED__BACKEND": "redis",
            "CITYBASE_SHARED__REDIS_URL": REDIS_URL,
            "CITYBASE_SHARED__REDIS_PREFIX": f"test-{secrets.token_hex(6)}:",
        }
    with fresh_db.session_scope() as session:
        city(session)
    fresh_settings.masking_key  # noqa: B018 -- made once here, not raced for by both servers
    env = _environment(fresh_settings, extra)
    ports = [_free_port(), _free_port()]
    servers = [
        _start(["serve", "--no-worker", "--port", str(port)], env, tmp_path / f"web-{port}.log")
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, server in zip(urls, servers, strict=True):
            _wait_until(lambda u=url: httpx.get(f"{u}/healthz").status_code == 200, url, server)
        yield urls[0], urls[1]
    finally:
        codes = [_stop(server) for server in servers]
    assert codes == [0, 0], "a server did not stop cleanly on SIGTERM"


def _portal(client: httpx.Client, settings: Settings) -> dict[str, str]:
    page = client.get("/hotline").text
    token = re.search(r'name="captcha_token" value="([^"]+)"', page)
    form = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token, "the portal shows no picture code"
    assert form, "the portal shows no form token"
    return {
        "captcha_token": token[1],
        "captcha": captcha.read(settings, token[1])[0].lower(),
        "form_token": form[1],
    }


def test_limits_and_spent_tokens_hold_across_two_servers(
    two_servers: tuple[str, str], fresh_db: Database, fresh_settings: Settings
) -> None:
    a, b = (httpx.Client(base_url=url, timeout=60) for url in two_servers)
    with a, b:
        # a look-up limit of 3 an hour: two on one server and one on the other use it up
        track = {"number": "FZ000", "phone": "13805911234"}
        assert [c.post("/hotline/track", data=track).status_code for c in (a, a, b)] == [404] * 3
        assert b.post("/hotline/track", data=track).status_code == 429
        assert a.post("/hotline/track", data=track).status_code == 429

        # a form and its picture code sent to one server, then again to the other: one case
        codes = _portal(a, fresh_settings)
        made = a.post("/hotline", data=REQUEST | {"do": "send"} | codes)
        assert made.status_code == 200, made.text
        again = b.post("/hotline", data=REQUEST | {"do": "send"} | codes, follow_redirects=False)
        assert again.status_code == 303  # the first one's result, not a second case

        # the spent picture code, with a fresh form from the other server: refused there
        reused = b.post("/hotline", data=REQUEST | {"do": "send"} | _portal(b, fresh_settings)
                        | {k: codes[k] for k in ("captcha_token", "captcha")})  # fmt: skip
        assert reused.status_code == 422
        assert "验证码已使用" in reused.text
    with fresh_db.session_scope(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_worker_answers_its_probes_and_stops_cleanly_on_sigterm(
    fresh_db: Database, fresh_settings: Settings, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    long_ago = datetime.now(UTC) - timedelta(hours=1)  # before the periodic jobs
    with fresh_db.session_scope() as session:
        ids = [
            bus.schedule(session, GATE, run_at=long_ago + timedelta(seconds=n),
                         payload={"folder": str(gate), "name": str(n)}).id
            for n in range(3)
        ]  # fmt: skip
    port = _free_port()
    env = _environment(fresh_settings, {})
    worker = _start(["worker", "--health-port", str(port)], env, tmp_path / "worker.log",
                    preload="tests.core.bus.gate_jobs")  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, "healthz", worker)
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json() | {"bus": "off", "broker": "off"} == {
            "status": "ok", "database": "ok", "shared": "ok", "bus": "off", "broker": "off"
        }  # fmt: skip
        _wait_until(lambda: (gate / "began-0").exists(), "the first job", worker)
        with fresh_db.session_scope(readonly=True) as session:
            held = session.scalars(select(Job).where(Job.id.in_(ids))).all()
            assert {j.status for j in held} == {"running"}  # all three claimed by it
        worker.send_signal(signal.SIGTERM)  # in the middle of the first job
        (gate / "open").touch()
        assert worker.wait(timeout=60) == 0
    finally:
        _stop(worker)
    assert not (gate / "began-1").exists()  # the jobs not begun were not begun
    with fresh_db.session_scope(readonly=True) as session:
        jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}
        assert jobs[ids[0]].status == "done"
        for job_id in ids[1:]:  # handed back: due again at once for any worker, not after a lease
            assert (jobs[job_id].status, jobs[job_id].locked_by) == ("pending", "")
            assert jobs[job_id].locked_until is None
        assert not session.scalars(select(Job).where(Job.locked_by != "")).all()


def _children(pid: int) -> list[int]:
    """The web processes uvicorn's supervisor spawned (multiprocessing's resource tracker, which
    ends on its own after its parent, aside)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def test_serve_runs_n_web_processes_and_stops_them_all(
    fresh_db: Database, fresh_settings: Settings, tmp_path: Path
) -> None:
    if fresh_db.dialect != "sqlite":
        pytest.skip("the processes do not depend on the database: run it once")
    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc to count processes with")
    port = _free_port()
    env = _environment(fresh_settings, {})
    server = _start(["serve", "--workers", "2", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, "readyz", server)
        _wait_until(lambda: len(_children(server.pid)) >= 2, "two web processes", server)
        web = _children(server.pid)
        answers = [httpx.get(f"{url}/healthz").status_code for _ in range(20)]
        assert answers == [200] * 20
    finally:
        code = _stop(server)
    assert code == 0
    assert not [pid for pid in web if Path(f"/proc/{pid}").exists()]  # none left behind
