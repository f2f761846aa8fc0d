"""Runs one sandbox code job (代码作业) in an isolated process, and is that process.

The parent side (``run``) starts ``python -I runner.py`` in the job's working directory, with an
empty environment, in a new session (so the whole group is killed at the wall-clock limit), and —
where Linux lets an unprivileged process do it — in new user and network namespaces
(``unshare --user --net``): the job then has no network interface but a loopback that is down.

The child side (``main``, run before any line of the job) puts on, in this order:

1. resource limits: address space (``RLIMIT_AS``), CPU seconds (``RLIMIT_CPU``), no core files,
   the size of any file written (``RLIMIT_FSIZE``) and the open files;
2. Landlock (Linux ≥ 5.13, no set-up, inherited and irreversible): the file system is read-only
   and only where Python and its libraries live; read and write only inside the working
   directory; no TCP bind or connect (Landlock ABI ≥ 4); no signals or abstract sockets to
   processes outside (ABI ≥ 6);
3. a Python audit hook (``sys.addaudithook``): a job that opens a socket, starts a process,
   changes its limits, or opens, lists, renames or removes a
   path outside its working directory is stopped at once (``os._exit``, so no ``except``
   catches it), the reason written for the parent; and the job's own imports are limited to
   ``ALLOWED_MODULES``.

The hook is a tripwire, not a boundary: native code (a library's C or Rust) does not pass
through it; the namespaces and Landlock are what hold there, when the kernel has them. Which
guards were in force is reported with every run.

This file imports nothing outside the standard library: the child loads it by path.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# what a job's own code may import (the libraries below pull in what they need themselves)
ALLOWED_MODULES = frozenset({
    "math", "statistics", "json", "csv", "collections", "itertools", "functools", "datetime",
    "decimal", "fractions", "re", "random", "string", "operator", "dataclasses", "typing",
    "numpy", "polars", "duckdb", "PIL",
})  # fmt: skip
REFUSED = "CITYBASE-SANDBOX-REFUSED "  # the line a stopped job's reason is written on
_NETWORK = ("socket.", "urllib.", "http.", "ftplib.", "smtplib.", "nntplib.", "poplib.",
            "imaplib.", "telnetlib.", "webbrowser.")  # fmt: skip
_PROCESS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
            "os.forkpty", "os.kill", "os.killpg", "pty.spawn", "os.startfile")  # fmt: skip
# ctypes is not importable by a job; the libraries use it themselves (polars loads its runtime)
_NATIVE = ("resource.setrlimit", "resource.prlimit")
_LOOKS = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}  # reads: allowed where readable
_PATHS = {"os.listdir": 1, "os.scandir": 1, "os.mkdir": 1, "os.rmdir": 1, "os.remove": 1,
          "os.rename": 2, "os.truncate": 1, "os.utime": 1, "os.chmod": 1, "os.chown": 1,
          "os.symlink": 2, "os.link": 2, "os.chdir": 1, "glob.glob": 1, "shutil.rmtree": 1,
          "shutil.copyfile": 2, "shutil.move": 2}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    seconds: int = 30  # wall clock; the CPU limit is the same
    memory_mb: int = 1024  # address space
    file_mb: int = 64  # any one file written


@dataclass
class Outcome:
    """How a run ended: ``done`` (exit 0), ``refused`` (a guard stopped it: ``rule``,
    ``reason``), ``timeout``, ``memory`` or ``error`` (a failing job: the end of its stderr)."""

    state: str
    rule: str = ""
    reason: str = ""
    seconds: float = 0.0
    start_seconds: float = 0.0  # from launch to the job's first line
    stdout: str = ""
    stderr: str = ""
    guards: list[str] = field(default_factory=list)


_MEMORY = ("MemoryError", "Memory allocation", "memory allocation", "Out of Memory")
_DENIED = ("Permission denied", "disabled through configuration", "Permission Error")

# --- parent side -------------------------------------------------------------------------------

_unshare: list[str] | None = None


def namespaces() -> list[str]:
    """The ``unshare`` prefix that puts a job in its own user and network namespaces, or
    nothing when this machine does not allow it (checked once per process)."""
    global _unshare
    if _unshare is None:
        prefix = ["unshare", "--user", "--net", "--"]
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=5, env={})  # noqa: S603
            _unshare = prefix if ok.returncode == 0 else []
        except (OSError, subprocess.SubprocessError):
            _unshare = []
    return _unshare


def run(workdir: Path, language: str, code: str, limits: Limits) -> Outcome:
    """Run ``code`` (``sql`` or ``python``) in ``workdir`` under ``limits``; never raises for
    what the job does."""
    workdir = workdir.resolve()
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    spec = {"language": language, "code": code, "seconds": limits.seconds,
            "memory_mb": limits.memory_mb, "file_mb": limits.file_mb}  # fmt: skip
    (workdir / "job.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    prefix = namespaces()
    command = [*prefix, sys.executable, "-I", "-X", "utf8", str(Path(__file__).resolve())]
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 (a fixed command; the job's code is in job.json)
        command, cwd=workdir, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=limits.seconds + 2)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        timed_out = True
    seconds = time.monotonic() - started
    stdout = out.decode("utf-8", "replace")[-4000:]
    stderr = err.decode("utf-8", "replace")
    guards = ["rlimits", "empty-env", "audit-hook", *(["netns"] if prefix else [])]
    outcome = Outcome("done", seconds=seconds, stdout=stdout, guards=guards)
    for line in stderr.splitlines():
        if line.startswith("CITYBASE-SANDBOX-GUARDS "):
            outcome.guards = [*guards, *json.loads(line.split(" ", 1)[1])]
        elif line.startswith("CITYBASE-SANDBOX-STARTED "):
            outcome.start_seconds = float(line.split(" ", 1)[1]) - _epoch_of(started)
        elif line.startswith(REFUSED):
            found = json.loads(line[len(REFUSED) :])
            outcome.state, outcome.rule, outcome.reason = "refused", found["rule"], found["reason"]
    outcome.stderr = "\n".join(
        line for line in stderr.splitlines() if not line.startswith("CITYBASE-SANDBOX-")
    )[-4000:]
    if outcome.state == "refused":
        return outcome
    code_ = process.returncode
    if timed_out or code_ in (-signal.SIGXCPU, -signal.SIGKILL):
        outcome.state, outcome.rule = "timeout", "job.timeout"
        outcome.reason = f"the job ran past its limit of {limits.seconds} s"
    elif code_ != 0 and any(d in outcome.stderr for d in _DENIED):
        # a library's native code met Landlock or DuckDB's lock on files: refused all the same
        outcome.state, outcome.rule = "refused", "job.filesystem"
        outcome.reason = "the job reached for a file outside its working directory: " + (
            outcome.stderr.strip().splitlines() or [""])[-1][:300]  # fmt: skip
    elif (code_ != 0 and any(m in outcome.stderr for m in _MEMORY)) or code_ == -signal.SIGSEGV:
        outcome.state, outcome.rule = "memory", "job.memory"
        outcome.reason = f"the job needed more than its {limits.memory_mb} MB of memory"
    elif code_ != 0:
        outcome.state, outcome.rule = "error", "job.error"
        outcome.reason = (outcome.stderr.strip().splitlines() or [f"exit status {code_}"])[-1]
    return outcome


def _epoch_of(monotonic: float) -> float:
    return time.time() - (time.monotonic() - monotonic)


# --- child side --------------------------------------------------------------------------------

_SYSCALL = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_READ_FS = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read directory
_FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)


def _landlock(workdir: str, readable: list[str]) -> list[str]:
    """Restrict this process and its children: read-only beneath ``readable``, everything
    beneath ``workdir``, nothing else; no TCP; scoped signals. Returns the guards set up."""
    numbers = _SYSCALL.get(os.uname().machine)
    if numbers is None:
        return []
    create, add_rule, restrict = numbers
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(create, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return []
    fs = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1}.get(abi, (1 << 16) - 1)
    net = 0b11 if abi >= 4 else 0
    scoped = 0b11 if abi >= 6 else 0
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(create, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return []

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    def allow(path: str, access: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS & fs
        rule = PathBeneath(access, fd)
        libc.syscall(add_rule, ruleset, 1, ctypes.byref(rule), 0)
        os.close(fd)

    for path in readable:
        allow(path, _READ_FS)
    allow(workdir, fs)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if libc.syscall(restrict, ruleset, 0) != 0:
        return []
    os.close(ruleset)
    return [
        "landlock-fs",
        *(["landlock-tcp"] if net else []),
        *(["landlock-scope"] if scoped else []),
    ]


def _stop(rule: str, reason: str) -> None:
    sys.stderr.write(
        REFUSED + json.dumps({"rule": rule, "reason": reason}, ensure_ascii=False) + "\n"
    )
    sys.stderr.flush()
    os._exit(70)


def _inside(path: Any, roots: tuple[str, ...]) -> bool:
    if isinstance(path, int):
        return True  # an open file descriptor: it was checked when opened
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    real = os.path.realpath(os.fspath(path))
    return any(real == r or real.startswith(r + os.sep) for r in roots)


def _hook(workdir: str, readable: tuple[str, ...]) -> Any:
    area = (workdir,)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode = args[0], args[1] or "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writes = any(m in str(mode) for m in "wax+") or flags & (os.O_WRONLY | os.O_RDWR)
            if path is None or _inside(path, area) or (not writes and _inside(path, readable)):
                return
            _stop("job.filesystem", f"the job opened {path} outside its working directory")
        elif event in _PATHS:
            allowed = area + readable if event in _LOOKS else area
            for path in args[: _PATHS[event]]:
                if path is not None and not _inside(path, allowed):
                    _stop("job.filesystem", f"{event} on {path} outside the working directory")
        elif event.startswith(_NETWORK):
            _stop("job.network", f"the job tried the network ({event}): a job has none")
        elif event.startswith(_PROCESS):
            _stop("job.process", f"the job tried to start or signal a process ({event})")
        elif event.startswith(_NATIVE):
            _stop("job.native", f"the job tried {event}, which a job may not")

    return hook


def _guarded_import(original: Any) -> Any:
    def guarded(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                level: int = 0) -> Any:  # fmt: skip
        if sys._getframe(1).f_globals.get("__name__") == "__job__":
            top = name.split(".")[0]
            if level or top not in ALLOWED_MODULES:
                _stop("job.import", f"the job imported {name}: allowed are "
                      + ", ".join(sorted(ALLOWED_MODULES)))  # fmt: skip
        return original(name, globals, locals, fromlist, level)

    return guarded


def _run_sql(code: str) -> None:
    import csv as _csv

    import duckdb

    connection = duckdb.connect(":memory:")
    for source in sorted(Path("in").glob("*.csv")):
        # the name is a catalog resource code (digits and dashes), written by the parent
        table = source.stem.replace('"', "")
        connection.execute(f'CREATE TABLE "{table}" AS SELECT * FROM read_csv(?)', [str(source)])  # noqa: S608
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    result = connection.execute(code)
    columns = [d[0] for d in result.description or []]
    with open("out/result.csv", "w", newline="", encoding="utf-8") as file:
        writer = _csv.writer(file)
        writer.writerow(columns)
        writer.writerows(result.fetchall())


def main() -> None:
    spec = json.loads(Path("job.json").read_text(encoding="utf-8"))
    workdir = os.path.realpath(os.getcwd())
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (spec["memory_mb"] * mb, spec["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (spec["seconds"], spec["seconds"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["file_mb"] * mb, spec["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    paths = sysconfig.get_paths()
    readable = sorted({os.path.realpath(p) for p in (
        sys.prefix, sys.base_prefix, sys.exec_prefix, paths["stdlib"], paths["platstdlib"],
        paths["purelib"], paths["platlib"], os.path.dirname(os.path.realpath(sys.executable)),
    )} | {"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache", "/dev/null",
          "/dev/urandom", "/sys/devices/system/cpu", "/sys/fs/cgroup", "/proc/self",
          os.path.dirname(os.path.realpath(__file__))})  # fmt: skip
    guards = _landlock(workdir, readable)
    sys.stderr.write("CITYBASE-SANDBOX-GUARDS " + json.dumps(guards) + "\n")
    sys.addaudithook(_hook(workdir, tuple(readable)))
    code = spec["code"]
    sys.stderr.write(f"CITYBASE-SANDBOX-STARTED {time.time()}\n")
    sys.stderr.flush()
    if spec["language"] == "sql":
        _run_sql(code)
        return
    import builtins

    builtins.__import__ = _guarded_import(builtins.__import__)
    source = os.path.join(workdir, "job.py")
    with open(source, "w", encoding="utf-8") as file:
        file.write(code)
    job = {"__name__": "__job__", "__builtins__": builtins}
    exec(compile(code, source, "exec"), job)  # noqa: S102 (running the job is the point)


if __name__ == "__main__":
    main()
