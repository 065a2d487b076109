"""Results stage: the layout of ``results/<scenario>/``, atomic writes and provenance.

Writes, for one scenario::

    results/<scenario>/
      scenario.yaml   resolved scenario (defaults filled in)
      run.json        status, objective, timings, versions, git commit, SHA-256 of every input
      metrics.csv     tidy metrics (metric, variant, carrier, bus, value, unit)
      verdict.csv     renewable-share verdict per target
      network.nc      the solved network (netCDF)
      log.txt         log of the run (engine + solver)
      figures/        figures, and index.html (written by report/site)

A bundle is first written into ``results/.<scenario>.tmp-<pid>/`` and renamed into place only
after everything succeeded, so an existing result is never half-overwritten. The two renames of
:func:`publish` and the removal of the replaced bundle run with SIGINT/SIGTERM held back, so a
signal leaves either the old bundle or the new one, complete (:class:`PublishInterrupted` says
which). A run holds ``results/.<scenario>.lock`` (:class:`ScenarioLock`, the holder's PID inside)
from before its temporary folder exists until after it is published, so two runs of the same
scenario cannot interleave. ``results/`` is output only: nothing here is ever read back as an
input of a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from energy_model.exceptions import EnergyModelError
from energy_model.records import RUN_FILE, RunRecordError, read_run_record

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.csv"
VERDICT_FILE = "verdict.csv"
NETWORK_FILE = "network.nc"
SCENARIO_FILE = "scenario.yaml"
LOG_FILE = "log.txt"
PACKAGES = ("energy_model", "pypsa", "linopy", "highspy", "pandas", "numpy", "xarray", "pydantic",
            "pyomo", "seaborn", "matplotlib", "tsam")


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_checksums(paths: list[Path], project_root: Path) -> dict[str, str]:
    """SHA-256 of every file in ``paths`` (folders are walked), keyed by project-relative path."""
    checksums: dict[str, str] = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                continue
            try:
                key = file.resolve().relative_to(project_root.resolve()).as_posix()
            except ValueError:
                key = file.resolve().as_posix()
            checksums[key] = sha256_file(file)
    return checksums


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that determine a result."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def git_commit(project_root: Path) -> str:
    """Commit of the project checkout (``+dirty`` when there are uncommitted changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root, capture_output=True, text=True,
            check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_root,
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def temporary_dir(results_root: Path, name: str) -> Path:
    """Create an empty temporary bundle folder next to the final one."""
    results_root.mkdir(parents=True, exist_ok=True)
    tmp = results_root / f".{name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def recover_interrupted(results_root: Path, name: str) -> None:
    """Clean up after a run that was killed: restore a parked old bundle, drop temp folders."""
    final = results_root / name
    for parked in sorted(results_root.glob(f".{name}.old-*")):
        if not final.exists() and (parked / RUN_FILE).exists():
            parked.rename(final)
            logger.warning("restored %s from an interrupted replacement", final)
        else:
            _remove_parked(parked)
    for tmp in results_root.glob(f".{name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Signals held back while a bundle is being published.
DEFERRED_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class PublishInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM arrived while publishing; the new bundle was completed first.

    ``outcome`` says so for the one-line message of the command line.
    """

    def __init__(self, final: Path) -> None:
        self.outcome = f"the new result was published completely: {final}"
        super().__init__(self.outcome)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM in the block; raise ``KeyboardInterrupt`` after it if one came.

    The Python-level handlers are swapped for ones that only record the signal (blocking the
    signal with ``pthread_sigmask`` would not do: another thread, e.g. a solver's, would take it
    and Python runs handlers in the main thread anyway). Outside the main thread, where handlers
    cannot be set, the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in DEFERRED_SIGNALS}
    for signum in DEFERRED_SIGNALS:
        signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if caught:
        raise KeyboardInterrupt(signal.Signals(caught[0]).name)


def publish(tmp: Path, results_root: Path, name: str) -> Path:
    """Move a complete temporary bundle into ``results/<name>``, replacing an older one.

    The old bundle is parked under a hidden name, the new one renamed into place, and the parked
    one removed, all with SIGINT/SIGTERM held back: a signal is delivered after the new bundle
    is complete and the old one is gone, as :class:`PublishInterrupted`. A process killed
    outright (SIGKILL) in between leaves the parked bundle, which
    :func:`recover_interrupted` restores or removes on the next run.

    Raises
    ------
    PublishInterrupted
        A signal arrived while publishing (the new bundle is in place).
    """
    final = results_root / name
    parked = results_root / f".{name}.old-{os.getpid()}"
    try:
        with _signals_held():
            if parked.exists():  # left by an earlier process with the same PID
                shutil.rmtree(parked)
            if final.exists():
                final.rename(parked)
            try:
                tmp.rename(final)
            except OSError:
                if parked.exists() and not final.exists():
                    parked.rename(final)
                raise
            _remove_parked(parked)
    except KeyboardInterrupt as err:
        if isinstance(err, PublishInterrupted) or not (final / RUN_FILE).is_file():
            raise
        raise PublishInterrupted(final) from err
    return final


def _remove_parked(parked: Path) -> None:
    """Remove a replaced bundle: first its run record (so it can never look complete), then the rest."""
    if not parked.exists():
        return
    with contextlib.suppress(OSError):
        (parked / RUN_FILE).unlink(missing_ok=True)
    try:
        shutil.rmtree(parked)
    except OSError as err:  # e.g. a file someone made read-only: the run itself succeeded
        logger.warning("could not remove the replaced bundle %s (%s); the next run retries", parked, err)


class ConcurrentRunError(EnergyModelError):
    """Another live process is running the same scenario into the same results folder."""


class ScenarioLock:
    """``results/.<name>.lock``: one run of a scenario at a time, the holder's PID inside.

    The lock is an exclusive ``flock`` on the file, which the kernel releases when the holder
    dies however it dies; a lock file whose PID is no longer running is therefore stale and
    taken over (with a notice). The holder removes the file when it releases the lock.
    """

    def __init__(self, results_root: Path, name: str) -> None:
        self.path = results_root / f".{name}.lock"
        self.name = name
        self._fd: int | None = None

    def acquire(self) -> ScenarioLock:
        """Take the lock or raise :class:`ConcurrentRunError` naming the holder's PID."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                msg = (
                    f"{self.path.parent}: scenario '{self.name}' is being run by process {holder} "
                    f"right now (lock file {self.path.name}); wait for it to finish"
                )
                raise ConcurrentRunError(msg) from None
            try:
                current = self.path.stat().st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if not current:  # released and removed by its holder between open and flock
                os.close(fd)
                continue
            stale = os.read(fd, 64).decode("ascii", "replace").strip()
            if stale:
                alive = stale.isdigit() and _pid_alive(int(stale))
                logger.warning(
                    "%s: stale lock of process %s (%s) taken over", self.path, stale,
                    "that PID now belongs to another program" if alive else "no longer running",
                )
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            self._fd = fd
            return self

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ScenarioLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def write_metrics(path: Path, metrics: pd.DataFrame) -> None:
    """Write the tidy metrics table with a fixed float format (deterministic output)."""
    metrics.to_csv(path, index=False, float_format="%.10g")


def is_complete(result_dir: Path) -> bool:
    """A result folder is complete when it is not hidden and holds a valid run record.

    A record is valid when it parses as :class:`~energy_model.records.RunRecord` (its status
    is then ``ok``: nothing else is ever written).
    """
    if result_dir.name.startswith(".") or not (result_dir / RUN_FILE).is_file():
        return False
    try:
        read_run_record(result_dir)
    except RunRecordError as err:
        logger.info("%s: not a complete result (%s)", result_dir, err)
        return False
    return True


def stale_inputs(result_dir: Path, project_root: Path) -> list[str]:
    """Input files whose checksum differs from the one recorded in ``run.json`` (or vanished)."""
    recorded = read_run_record(result_dir).input_checksums
    changed = []
    for key, digest in recorded.items():
        path = Path(key) if Path(key).is_absolute() else project_root / key
        if not path.is_file() or sha256_file(path) != digest:
            changed.append(key)
    return changed


class StageTimer:
    """Collect wall time per named stage [s]."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, stage: str, since: float) -> float:
        """Record the time since ``since`` under ``stage`` and return now."""
        now = time.perf_counter()
        self.timings[stage] = round(now - since, 4)
        return now

    def total(self) -> float:
        """Seconds since the timer was created."""
        return time.perf_counter() - self._start
