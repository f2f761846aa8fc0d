"""CLI start-up benchmark: how long `citybase --help` and `citybase perception mqtt --help` take.

    python bench/cli_startup_bench.py [--runs 15] [--module]

Each command runs ``--runs`` times as a fresh process, alternating with the reference, an empty
``python -c pass`` of the same interpreter, so that a busy machine slows all of them alike. Prints
the median and fastest wall time of each, the median CPU time (user + system, which other work on
the machine disturbs less than wall time), and the ratio of each median to the reference's.
``--module`` runs ``python -m citybase.cli`` instead of the installed script, so that
``PYTHONPATH`` can point it at another checkout's ``src`` (to compare with an older version).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--module", action="store_true", help="run python -m citybase.cli")
    args = parser.parse_args()
    citybase = [sys.executable, "-m", "citybase.cli"] if args.module else command_prefix()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "citybase --help": [*citybase, "--help"],
        "citybase perception mqtt --help": [*citybase, "perception", "mqtt", "--help"],
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


if __name__ == "__main__":
    main()
