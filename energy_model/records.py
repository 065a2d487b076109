"""The typed run record (``run.json``): what a finished run solved, found and used.

Written by the CLI after a successful run (:func:`write_run_record`), read by ``results``,
``report``, ``site`` and ``compare`` (:func:`read_run_record`) — never as a dict with string
keys. A leaf module: it imports only pydantic.

A record with an unknown key, a missing key or a value of the wrong type is not a record of
this version: :func:`read_run_record` raises :class:`RunRecordError` naming the file and key,
and readers that list results treat such a folder as incomplete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

#: File name of the record inside a result folder.
RUN_FILE = "run.json"


class RunRecordError(ValueError):
    """``run.json`` is missing, not JSON, or not a run record of this version."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Verdict(_Record):
    """The renewable-share verdict of one target (one row of ``verdict.csv``)."""

    scenario: str
    target: str
    indicator: Literal["final_energy", "electricity"]
    variant: str
    """Valuation and attribution of the achieved share (the scenario's headline)."""
    kind: Literal["goal", "calibration"] = "goal"
    enforced: bool
    target_share: float
    """Required share [-]."""
    achieved_share: float
    """Achieved share under the headline rule [-]."""
    margin_pp: float
    """``achieved - target`` [percentage points]."""
    status: Literal["PASS", "FAIL", "CALIBRATED", "OFF"]
    """Headline status: PASS/FAIL for a goal, CALIBRATED/OFF for a calibration year."""
    robust_status: str = ""
    """Status across the defensible accounting rules (``PASS under every rule``, ``DEPENDS ON
    ACCOUNTING``, ``FAIL under every rule``; CALIBRATED/OFF for calibrations)."""
    robust_detail: str = ""
    """Rules under which the target is not met, and by how much [pp]."""


class Timings(_Record):
    """Wall time per stage of the run [s]; stages that did not run are absent (``None``)."""

    load_and_validate: float | None = None
    screen: float | None = None
    build: float | None = None
    solve: float | None = None
    certify: float | None = None
    post: float | None = None
    metrics: float | None = None
    write: float | None = None
    report: float | None = None
    total: float | None = None


class SolverRecord(_Record):
    """Solver name and exactly the options passed to it."""

    name: str
    options: dict[str, Any]


class RunRecord(_Record):
    """Provenance and outcome of one scenario run (``results/<scenario>/run.json``)."""

    scenario: str
    status: Literal["ok"]
    """Only successful runs are written; anything else leaves no result folder."""
    condition: str
    """Solver termination condition (``optimal``)."""
    objective: float
    """Objective value [``objective_unit``]: annualised system cost net of export revenue."""
    objective_unit: str = "CNY/yr"
    duals: dict[str, float]
    """Dual of each scenario constraint by constraint name [CNY/MWh or CNY/tce]."""
    lp_size: dict[str, int]
    """``variables``, ``constraints`` (and ``nonzeros`` when counted) of the LP."""
    solver: SolverRecord
    screening: dict[str, Any]
    """What the investment screening did (``ScreeningReport.as_dict``)."""
    mix_iterations: list[dict[str, float]] = []
    """Steps of the mix-ratio iteration of enforced final-energy targets (objective, fixed and
    achieved mix ratio and share per target); empty when nothing is enforced."""
    snapshots: int
    window_share_of_year: float = 1.0
    """Share of the network's year the optimised snapshots cover (a ``snapshots:`` window) [-];
    the annual export contracts were scaled by it. 1 for a full year."""
    run_date: str = ""
    """When the run started, UTC, ISO 8601 (``2026-01-31T12:00:00Z``); empty in older records."""
    versions: dict[str, str]
    """Versions of Python and of the packages that determine a result."""
    git_commit: str
    input_checksums: dict[str, str]
    """SHA-256 of every input file, keyed by project-relative path."""
    verdicts: list[Verdict]
    timings_s: Timings


def write_run_record(path: Path, record: RunRecord) -> None:
    """Write the record as JSON with sorted keys and a trailing newline (deterministic)."""
    payload = record.model_dump(mode="json")
    payload["timings_s"] = record.timings_s.model_dump(mode="json", exclude_none=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def read_run_record(result_dir: Path) -> RunRecord:
    """Read and validate ``<result_dir>/run.json``.

    Raises
    ------
    RunRecordError
        One line naming the file and, for a schema error, the first offending key.
    """
    path = Path(result_dir) / RUN_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        msg = f"{path}: not found"
        raise RunRecordError(msg) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: not a readable JSON file ({err})"
        raise RunRecordError(msg) from err
    try:
        return RunRecord.model_validate(payload)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        msg = f"{path}: key '{key}': {first['msg']}"
        raise RunRecordError(msg) from err
