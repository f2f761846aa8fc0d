"""The database a benchmark runs on: a SQLite file in a scratch directory, or the local
PostgreSQL test database emptied first. Shared by the benchmarks that take ``--backend``."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from citybase.core.db import migrate
from citybase.core.db.engine import Database

POSTGRES_URL = os.environ.get(
    "CITYBASE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def open_db(backend: str, where: Path) -> Database:
    if backend == "sqlite":
        db = Database(f"sqlite:///{where / 'bench.db'}")
    else:
        db = Database(POSTGRES_URL)
        with db.engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db.engine)
    return db


class Served:
    """The app served by uvicorn in a process of its own, as in production: the benchmark's
    client then does not share the server's interpreter. ``peak_mb()`` reads the server's peak
    resident memory."""

    CODE = (
        "import sys, uvicorn\n"
        "from pathlib import Path\n"
        "from citybase.app import create_app\n"
        "from citybase.core.settings import Settings\n"
        "settings = Settings(home=Path(sys.argv[1]), database_url=sys.argv[2])\n"
        "uvicorn.run(create_app(settings), host='127.0.0.1', port=int(sys.argv[3]),"
        " log_level='warning')\n"
    )

    def __init__(self, home: Path, database_url: str) -> None:
        import socket
        import subprocess
        import sys
        import time

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(home), database_url, str(port)]
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start")

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
