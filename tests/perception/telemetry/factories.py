"""A private Mosquitto for a test: started from a config written in the test's folder, on a
free port of the loopback, stopped afterwards. Tests that need one skip when there is no
``mosquitto`` binary."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[3] / "docs" / "deploy" / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )
    if found is None:
        pytest.skip("no mosquitto binary")
    return found


def from_example(folder: Path, port: int, *, auth: bool) -> str:
    """The shipped example with what is the machine's replaced: the listener (loopback, a free
    port), the folders, and the credential files (in ``folder``, or anonymous access)."""
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {folder}/"
        elif key == "password_file":
            line = f"password_file {folder / 'passwd'}" if auth else ""
        elif key == "acl_file":
            line = f"acl_file {folder / 'acl'}" if auth else ""
        elif key == "allow_anonymous" and not auth:
            line = "allow_anonymous true"
        lines.append(line)
    # run as whoever runs the test (as root, Mosquitto would turn into the user mosquitto, who
    # cannot write in the test's folder)
    return "\n".join(lines) + (
        f"\nuser {getpass.getuser()}\npid_file {folder / 'mosquitto.pid'}\n"
        f"log_dest file {folder / 'mosquitto.log'}\nlog_type all\n"
    )


@dataclass
class Broker:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def reload(self) -> None:
        """SIGHUP: the broker reads its password and ACL files again."""
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)


@contextmanager
def private_broker(
    folder: Path, config: str | None = None, *, auth: bool = False, port: int = 0
) -> Iterator[Broker]:
    """``config``: a config of the test's own ({port} and {folder} filled in); without, the
    shipped example (``auth``: with the password and ACL files in ``folder``)."""
    binary = mosquitto()
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(config.format(port=port, folder=folder) if config else
                    from_example(folder, port, auth=auth))  # fmt: skip
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    log = (
                        (folder / "mosquitto.log").read_text()
                        if (folder / "mosquitto.log").exists()
                        else ""
                    )
                    raise RuntimeError(f"mosquitto did not start: {err} {log[-2000:]}") from None
                time.sleep(0.05)
        yield Broker(port, folder, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
