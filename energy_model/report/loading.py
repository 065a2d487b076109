"""Reading the files of a scenario result folder ``results/<scenario>/`` (never writes).

Light (pandas and yaml; xarray only when a table is read alone from ``network.nc``), so the site
uses it without the plotting or modelling stack; PyPSA is never imported here. The solved
network itself is read by :mod:`energy_model.report.scenario_results`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from energy_model.records import RunRecord
from energy_model.tables import METRIC_COLUMNS

logger = logging.getLogger(__name__)

#: Columns of an empty verdict table (shares as fractions [-], margin in percentage points).
VERDICT_COLUMNS = [
    "scenario",
    "target",
    "indicator",
    "target_share",
    "achieved_share",
    "margin_pp",
    "status",
]


def load_metrics(path: Path) -> pd.DataFrame:
    """Read a tidy ``metrics.csv``; ``variant``, ``carrier``, ``bus`` and ``unit`` as strings."""
    if not path.is_file():
        return pd.DataFrame(columns=METRIC_COLUMNS)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["value"] = pd.to_numeric(table["value"], errors="coerce")
    return table


def load_verdicts(result_dir: Path, run: RunRecord | None) -> pd.DataFrame:
    """Verdict table of a scenario from ``verdict.csv``, else from the run record's verdicts."""
    path = result_dir / "verdict.csv"
    table = pd.DataFrame()
    if path.is_file():
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            logger.info("%s is empty", path)
    elif run is not None and run.verdicts:
        table = pd.DataFrame([verdict.model_dump() for verdict in run.verdicts])
    if table.empty:
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    if "scenario" not in table.columns:
        table.insert(0, "scenario", result_dir.name)
    return table


def load_temperature(result_dir: Path) -> pd.Series | None:
    """Hourly outdoor temperature [°C] saved with the results (``temperature.csv``), if any.

    The file has the snapshot time in its first column and one or more temperature columns
    [°C] (e.g. one per heating zone); several columns are averaged.
    """
    path = result_dir / "temperature.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, index_col=0)
    if table.empty:
        return None
    times = pd.to_datetime(table.index.astype(str), format="ISO8601", errors="coerce")
    if times.isna().any():
        logger.info("%s: snapshot column is not ISO 8601 date-times; temperature not used", path)
        return None
    table.index = times
    if table.shape[1] > 1:
        logger.info("temperature.csv: %d columns, their mean is drawn", table.shape[1])
    return table.astype(float).mean(axis=1).rename("temperature_c")


def load_scenario_yaml(result_dir: Path) -> dict[str, Any]:
    """The resolved scenario of a result folder as a dict (empty when absent)."""
    path = Path(result_dir) / "scenario.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def scenario_name(result_dir: Path, scenario: dict[str, Any]) -> str:
    """Scenario name: the folder name, or for a temporary folder (``.…``) the ``scenario.yaml`` name.

    The folder name is the scenario's id in ``results/`` (links, comparison); a temporary
    folder (``.<name>.tmp`` or similar) takes the name from ``scenario.yaml``.
    """
    folder = Path(result_dir).name
    if not folder.startswith("."):
        return folder
    return str(scenario.get("name") or folder.lstrip(".").removesuffix(".tmp"))


def load_bus_table(path: Path) -> pd.DataFrame:
    """The buses (``carrier``, ``location``) of a saved netCDF network, read alone."""
    import xarray as xr  # noqa: PLC0415 - only needed here

    with xr.open_dataset(path) as ds:
        if "buses_i" not in ds.variables:
            return pd.DataFrame(columns=["carrier", "location"])
        index = pd.Index([str(b) for b in ds["buses_i"].values], name="name")
        table = pd.DataFrame(index=index)
        for column in ("carrier", "location"):
            variable = f"buses_{column}"
            table[column] = [str(v) for v in ds[variable].values] if variable in ds else ""
    return table


def load_carrier_table(path: Path) -> pd.DataFrame:
    """The ``carriers`` table (``nice_name``, ``color``) of a saved netCDF network, read alone.

    Reading only these variables is much faster than loading the whole network; used for the
    comparison figures. Returns an empty frame when the file has no carriers.
    """
    import xarray as xr  # noqa: PLC0415 - only needed here

    with xr.open_dataset(path) as ds:
        if "carriers_i" not in ds.coords and "carriers_i" not in ds.variables:
            return pd.DataFrame(columns=["nice_name", "color"])
        index = pd.Index([str(c) for c in ds["carriers_i"].values], name="name")
        table = pd.DataFrame(index=index)
        for column in ("nice_name", "color"):
            variable = f"carriers_{column}"
            table[column] = [str(v) for v in ds[variable].values] if variable in ds else ""
    return table


__all__ = [
    "VERDICT_COLUMNS",
    "load_bus_table",
    "load_carrier_table",
    "load_metrics",
    "load_scenario_yaml",
    "load_temperature",
    "load_verdicts",
    "scenario_name",
]
