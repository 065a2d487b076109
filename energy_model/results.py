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
after everything succeeded, so an existing result is never half-overwritten. ``results/`` is
output only: nothing here is ever read back as an input of a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

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
            shutil.rmtree(parked, ignore_errors=True)
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


def publish(tmp: Path, results_root: Path, name: str) -> Path:
    """Move a complete temporary bundle into ``results/<name>``, replacing an older one.

    The old bundle is parked under a hidden name first and removed only after the new one is
    in place; :func:`recover_interrupted` restores it if the process dies in between.
    """
    final = results_root / name
    parked = results_root / f".{name}.old-{os.getpid()}"
    if final.exists():
        final.rename(parked)
    tmp.rename(final)
    if parked.exists():
        shutil.rmtree(parked)
    return final


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
