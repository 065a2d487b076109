"""The sample store: one small Parquet file per finished sample, written atomically.

Layout under the sweep's output folder::

    samples/<sample_id>.parquet   one row per finished sample (ok, infeasible or error)
    design.parquet                position in the design -> sample_id and input values
    scratch/<sample_id>/          per-sample data tables (final-energy table targets)

A record is written to ``samples/.<id>.parquet.tmp`` and renamed into place, so a file under
its final name is always complete; a killed sweep leaves at most a hidden temporary file, which
the next run ignores and overwrites. A sample whose file exists is finished and is not solved
again (resume).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SAMPLES_DIR = "samples"
DESIGN_FILE = "design.parquet"
SCRATCH_DIR = "scratch"
SUFFIX = ".parquet"


def samples_dir(out: Path) -> Path:
    """Folder of the per-sample files."""
    return Path(out) / SAMPLES_DIR


def finished_ids(out: Path) -> set[str]:
    """Ids of the samples with a complete record (hidden temporary files are not counted)."""
    folder = samples_dir(out)
    if not folder.is_dir():
        return set()
    return {p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX)
            and not p.name.startswith(".")}


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def write_record(out: Path, record: dict[str, Any]) -> Path:
    """Write one sample's record to ``samples/<sample_id>.parquet`` (atomic rename)."""
    folder = samples_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['sample_id']}{SUFFIX}"
    _write_atomic(pa.Table.from_pylist([record]), path)
    return path


def read_records(out: Path) -> pd.DataFrame:
    """Every finished sample's record, one row per sample id (columns: the union of all records)."""
    folder = samples_dir(out)
    files = sorted(p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".")) \
        if folder.is_dir() else []
    frames = [pq.read_table(p).to_pandas() for p in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["sample_id", "status"])
    return pd.concat(frames, ignore_index=True, sort=False)


def write_design(out: Path, design: pd.DataFrame) -> Path:
    """Write the design table (``position``, ``sample_id``, ``input.<name>``) atomically."""
    Path(out).mkdir(parents=True, exist_ok=True)
    path = Path(out) / DESIGN_FILE
    _write_atomic(pa.Table.from_pandas(design, preserve_index=False), path)
    return path


def read_design(out: Path) -> pd.DataFrame:
    """The design table written by :func:`write_design`."""
    return pq.read_table(Path(out) / DESIGN_FILE).to_pandas()


__all__ = [
    "DESIGN_FILE",
    "SAMPLES_DIR",
    "SCRATCH_DIR",
    "finished_ids",
    "read_design",
    "read_records",
    "samples_dir",
    "write_design",
    "write_record",
]
