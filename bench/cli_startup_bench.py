"""CLI start-up benchmark: how long `citybase --help` and `citybase perception mqtt --help` take,
and how long the MQTT ingestor takes from its start until the broker has granted its subscriptions.

    python bench/cli_startup_bench.py [--runs 15] [--module] [--broker mqtt://127.0.0.1:1883]

Each command runs ``--runs`` times as a fresh process, alternating with the reference, an empty
``python -c pass`` of the same interpreter, so that a busy machine slows all of them alike. Prints
the median and fastest wall time of each, the median CPU time (user + system, which other work on
the machine disturbs less than wall time), and the ratio of each median to the reference's.
``--module`` runs ``python -m citybase.cli`` instead of the installed script, so that
``PYTHONPATH`` can point it at another checkout's ``src`` (to compare with an older version).
With a broker answering (``--broker``), the ingestor is started ``--runs`` times on a data
directory made once beforehand, and timed until it prints that it is subscribed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse


def command_prefix() -> list[str]:
    """The installed ``citybase`` script beside this interpreter, else ``python -m citybase.cli``."""
    script = Path(sys.executable).parent / "citybase"
    if script.exists():
        return [str(script)]
    found = shutil.which("citybase")
    return [found] if found else [sys.executable, "-m", "citybase.cli"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def ingestor_ready(citybase: list[str], broker: str, home: Path) -> float:
    """Wall seconds from starting ``citybase perception mqtt`` until its subscriptions are
    granted (it prints so), on a database already at the newest schema."""
    env = {**os.environ, "CITYBASE_HOME": str(home)}
    start = time.perf_counter()
    process = subprocess.Popen([*citybase, "perception", "mqtt", "--url", broker], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("subscribed"):
                return time.perf_counter() - start
        raise RuntimeError("the ingestor stopped before it subscribed")
    finally:
        process.kill()
        process.wait()


def broker_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 1883), 1):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--module", action="store_true", help="run python -m citybase.cli")
    parser.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", help="for the ingestor's start"
    )
    args = parser.parse_args()
    citybase = [sys.executable, "-m", "citybase.cli"] if args.module else command_prefix()
    series = Path(tempfile.mkdtemp()) / "series.csv"
    series.write_text("timestamp,value\n" + "".join(f"{t},{t % 3}\n" for t in range(10)))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "citybase --help": [*citybase, "--help"],
        "citybase perception mqtt --help": [*citybase, "perception", "mqtt", "--help"],
        "citybase perception score-series (10 readings)": [
            *citybase,
            "perception",
            "score-series",
            "--input",
            str(series),
            "--output",
            str(series.with_suffix(".out.csv")),
        ],
    }
    env_note = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    for argv in commands.values():  # warm the file cache: the first run reads every .pyc
        run_once(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            wall, cpu = run_once(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    reference = statistics.median(walls["python -c pass"])
    print(f"{args.runs} runs each; {env_note}, {os.getloadavg()[0]:.2f} at the end")
    print(f"{'command':34} {'median':>9} {'fastest':>9} {'CPU med.':>9} {'ratio':>7}")
    for name in commands:
        median = statistics.median(walls[name])
        print(
            f"{name:34} {median * 1000:7.0f} ms {min(walls[name]) * 1000:6.0f} ms "
            f"{statistics.median(cpus[name]) * 1000:6.0f} ms {median / reference:6.1f}×"
        )
    if not broker_answers(args.broker):
        print(f"no broker at {args.broker}: the ingestor's start is not measured")
        return
    with tempfile.TemporaryDirectory() as home:
        made = [*citybase, "init", "--data-dir", home, "--admin-password", "bench-password-1"]
        subprocess.run(made, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = [ingestor_ready(citybase, args.broker, Path(home)) for _ in range(args.runs)]
    median = statistics.median(ready)
    print(f"{'ingestor: start to subscribed':34} {median * 1000:7.0f} ms "
          f"{min(ready) * 1000:6.0f} ms {'':>9} {median / reference:6.1f}×")  # fmt: skip


if __name__ == "__main__":
    main()
