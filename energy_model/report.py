"""Report stage: seaborn figures of saved results (never solves, never touches ``n.model``).

Reads a scenario result folder ``results/<scenario>/`` written by :mod:`energy_model.results`:
``metrics.csv`` (tidy ``metric, variant, carrier, bus, value, unit``), ``network.nc`` (the solved
network: hourly dispatch, storage levels, prices), ``scenario.yaml``, ``run.json``,
``verdict.csv`` and, when present, ``temperature.csv`` (``snapshot, temperature_c`` [°C]).
Writes ``results/<scenario>/figures/<name>.png`` and ``.svg`` and, across scenarios,
``results/comparison/<name>.png``/``.svg`` plus ``comparison/metrics.csv`` and
``comparison/verdicts.csv``.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot
(Agg canvas, no global figure registry). Display names and colours of carriers come only from
the network's ``carriers`` table (``nice_name``, ``color``); carriers without a valid colour get
a fixed colour derived from their id, so a carrier has the same colour in every figure and every
scenario. Units are fixed per quantity (power GW, storage energy GWh, annual energy TWh, price
CNY/MWh, cost billion CNY/yr) so figures of different scenarios compare directly; the captions
in :data:`SCENARIO_FIGURES` and :data:`COMPARISON_FIGURES` state them.

A figure whose data is absent (no heat bus, no storage, no export corridor …) is skipped with a
logged note; the plot functions raise :class:`MissingDataError` in that case.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import os
import pickle
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl

mpl.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import yaml  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import is_color_like, to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from energy_model.network import local_bus_mask, local_buses  # noqa: E402
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.sharedctypes import Synchronized

    import pypsa
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

#: Accounting region used when ``scenario.yaml`` does not give one.
DEFAULT_REGION = "zhangjiakou"
#: Bus carriers treated as electricity buses.
ELECTRIC_BUS_CARRIERS = ELECTRICITY_BUS_CARRIERS
#: Attribution rules known to the accounting (any other rule named in the metrics is shown too);
#: the first is the default headline.
ATTRIBUTIONS = ("pro_rata", "local_first", "export_first", "nea_annual")
#: Valuations of electricity in the final-energy share, in display order (headline first).
VALUATIONS = ("coal_equivalent", "calorific")
#: Metric of the renewable share of local electricity consumption (variant = attribution rule).
ELECTRICITY_SHARE_METRIC = "renewable_share_electricity"
#: Group name of that share in :func:`share_table`.
ELECTRICITY_GROUP = "electricity"
#: Months of the winter and summer example weeks.
SEASON_MONTHS = {"winter": (12, 1, 2), "summer": (6, 7, 8)}
#: Absolute tolerance below which a power [MW] or energy [MWh] value counts as zero (solver noise,
#: e.g. of an interior-point solve without crossover).
ABS_TOL = 1e-3
#: Relative tolerance (to the largest value of a panel) below which a bar or series is dropped.
REL_TOL = 1e-5
#: Markers of the non-headline attribution rules in the share figure.
RULE_MARKERS = ("_", "x", "+", "1", "2", "3")
#: Markers and line styles that tell overlapping series apart (also in grey-scale print).
HEAT_MARKERS = ("o", "^", "s", "v", "D", "P")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)))
#: Figure formats written for every figure.
FORMATS = ("png", "svg")
#: Resolution of PNG files [dots per inch].
PNG_DPI = 150
#: Fallback colours for carriers without a ``color`` in ``carriers.csv``.
FALLBACK_PALETTE = sns.color_palette("tab20", 20).as_hex()

_UNIT_FACTORS: dict[str, tuple[str, float]] = {
    # unit -> (dimension, factor to the base unit of that dimension)
    "W": ("power", 1e-6),
    "kW": ("power", 1e-3),
    "MW": ("power", 1.0),
    "GW": ("power", 1e3),
    "Wh": ("energy", 1e-6),
    "kWh": ("energy", 1e-3),
    "MWh": ("energy", 1.0),
    "GWh": ("energy", 1e3),
    "TWh": ("energy", 1e6),
    "CNY": ("money", 1.0),
    "CNY/yr": ("money", 1.0),
    "CNY/a": ("money", 1.0),
    "million CNY": ("money", 1e6),
    "million CNY/yr": ("money", 1e6),
    "billion CNY": ("money", 1e9),
    "billion CNY/yr": ("money", 1e9),
    "-": ("fraction", 1.0),
    "%": ("fraction", 0.01),
}


class MissingDataError(LookupError):
    """The saved results hold nothing to draw for a figure (e.g. no heat bus)."""


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the bundle: file stem, title and caption (the caption states the units)."""

    name: str
    title: str
    caption: str


#: Per-scenario figures in page order.
SCENARIO_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "capacity",
        "Installed capacity",
        "Optimal installed capacity by carrier at the local buses: power capacity of generators, "
        "links (counted at the bus named in the metrics) and storage units [GW] (top) and energy "
        "capacity of storage units and stores [GWh] (bottom).",
    ),
    FigureSpec(
        "energy_balance",
        "Annual energy balance",
        "Annual energy supplied (positive) and withdrawn (negative) by carrier at the local buses "
        "of the region, one panel per bus carrier [TWh/yr]. Exports appear as withdrawals of the "
        "corridor carrier; loads as withdrawals of the load carrier.",
    ),
    FigureSpec(
        "dispatch_winter",
        "Dispatch, winter week",
        "Hourly power balance of the local electricity buses over the seven days around the "
        "highest local electricity load in December–February [GW]: supply stacked above zero, "
        "consumption (loads, exports, storage charging, heat pumps) below zero.",
    ),
    FigureSpec(
        "dispatch_summer",
        "Dispatch, summer week",
        "Hourly power balance of the local electricity buses over the seven days around the "
        "highest local electricity load in June–August [GW]: supply stacked above zero, "
        "consumption below zero.",
    ),
    FigureSpec(
        "curtailment_heatmap",
        "Wind and solar curtailment",
        "Curtailed power of local variable renewable generators (available minus dispatched) "
        "by day (x) and hour of day (y) [GW], one panel per carrier; white cells are hours "
        "without snapshots.",
    ),
    FigureSpec(
        "state_of_charge",
        "Storage state of charge",
        "Energy stored in storage units and stores over the year, summed by carrier [GWh], one "
        "panel per carrier.",
    ),
    FigureSpec(
        "export_duration",
        "Export flow duration curves",
        "Net flow on each corridor (the links or lines joining a local and an external bus, "
        "both directions summed), measured at the local end and sorted from highest to lowest "
        "[GW] against the number of hours in the year it is reached [h]; positive = export, "
        "negative = import.",
    ),
    FigureSpec(
        "heat",
        "Heat demand, temperature and heat pumps",
        "Left: daily mean heat demand of the local heat buses and daily mean electricity drawn "
        "by electric heating links [GW] against the daily mean outdoor temperature [°C] "
        "(when the temperature was saved with the results). Right: the same daily means over "
        "the year [GW].",
    ),
    FigureSpec(
        "renewable_share",
        "Renewable share against targets",
        "Renewable share of final energy for each valuation of electricity (coal-equivalent, "
        "calorific) and, when computed, of local electricity consumption [%]: dot = headline "
        "attribution rule of the scenario, small marks = the other rules (e.g. local-first, "
        "export-first, NEA annual), bar = range over all rules; dashed lines = the scenario's "
        "targets with their indicator [%].",
    ),
    FigureSpec(
        "price_duration",
        "Price duration curve",
        "Marginal price of electricity at each local electricity bus sorted from highest to "
        "lowest [CNY/MWh] against the number of hours in the year it is reached [h].",
    ),
)

#: Cross-scenario figures in page order (written to ``results/comparison/``).
COMPARISON_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "shares",
        "Renewable share by scenario",
        "Headline renewable share of each scenario [%] (dot) with the range over the "
        "attribution rules (bar), and each scenario's targets [%] (red marks).",
    ),
    FigureSpec(
        "system_cost",
        "System cost",
        "Total annualised system cost (capital plus operating cost) of each scenario [billion CNY/yr].",
    ),
    FigureSpec(
        "curtailment",
        "Curtailment",
        "Annual curtailed energy of variable renewable generators by carrier [TWh/yr].",
    ),
    FigureSpec(
        "exports",
        "Exports",
        "Annual energy exported over each corridor from the region [TWh/yr].",
    ),
    FigureSpec(
        "capacity",
        "Installed capacity",
        "Optimal installed power capacity by carrier at the local buses, scenarios side by side [GW].",
    ),
)


# ---------------------------------------------------------------------------------------------
# loading saved results
# ---------------------------------------------------------------------------------------------


@dataclass
class ScenarioResults:
    """What a result folder holds, loaded once for all figures of a scenario."""

    name: str
    result_dir: Path
    metrics: pd.DataFrame
    run: dict[str, Any] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    network_path: Path | None = None
    temperature: pd.Series | None = None
    _network: pypsa.Network | None = None

    @property
    def region(self) -> str:
        """Accounting region (``accounting.region`` of the resolved scenario)."""
        accounting = self.scenario.get("accounting") or {}
        return str(accounting.get("region") or DEFAULT_REGION)

    @property
    def network(self) -> pypsa.Network | None:
        """The solved network from ``network.nc`` (loaded lazily), or ``None`` if absent."""
        if self._network is None and self.network_path is not None:
            self._network = load_network_file(self.network_path)
        return self._network


def load_network_file(path: Path) -> pypsa.Network:
    """Load a saved solved network (netCDF or CSV folder) with the project's PyPSA options."""
    import pypsa  # noqa: PLC0415 - heavy import only when a network is needed

    pypsa.options.api.legacy_string_dtype = False
    return pypsa.Network(path)


def load_metrics(path: Path) -> pd.DataFrame:
    """Read a tidy ``metrics.csv``; ``variant``, ``carrier``, ``bus`` and ``unit`` as strings."""
    if not path.is_file():
        return pd.DataFrame(columns=["metric", "variant", "carrier", "bus", "value", "unit"])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["value"] = pd.to_numeric(table["value"], errors="coerce")
    return table


def load_verdicts(result_dir: Path, run: dict[str, Any]) -> pd.DataFrame:
    """Verdict table of a scenario from ``verdict.csv``, else from ``run.json['verdicts']``."""
    path = result_dir / "verdict.csv"
    table = pd.DataFrame()
    if path.is_file():
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            logger.info("%s is empty", path)
    elif run.get("verdicts"):
        table = pd.DataFrame(run["verdicts"])
    if table.empty:
        return pd.DataFrame(
            columns=[
                "scenario",
                "target",
                "indicator",
                "target_share",
                "achieved_share",
                "margin_pp",
                "status",
            ]
        )
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


def load_scenario_results(result_dir: Path) -> ScenarioResults:
    """Load everything the figures of one scenario need from its result folder."""
    result_dir = Path(result_dir)
    run: dict[str, Any] = {}
    if (result_dir / "run.json").is_file():
        run = json.loads((result_dir / "run.json").read_text(encoding="utf-8"))
    scenario: dict[str, Any] = {}
    if (result_dir / "scenario.yaml").is_file():
        scenario = yaml.safe_load((result_dir / "scenario.yaml").read_text(encoding="utf-8")) or {}
    network_path = result_dir / "network.nc"
    # the folder name is the scenario's id in results/ (links, comparison); a temporary folder
    # (".<name>.tmp" or similar) takes the name from scenario.yaml
    if result_dir.name.startswith("."):
        name = str(scenario.get("name") or result_dir.name.lstrip(".").removesuffix(".tmp"))
    else:
        name = result_dir.name
    return ScenarioResults(
        name=name,
        result_dir=result_dir,
        metrics=load_metrics(result_dir / "metrics.csv"),
        run=run,
        scenario=scenario,
        verdicts=load_verdicts(result_dir, run),
        network_path=network_path if network_path.exists() else None,
        temperature=load_temperature(result_dir),
    )


# ---------------------------------------------------------------------------------------------
# carrier styles, units and small helpers
# ---------------------------------------------------------------------------------------------


def fallback_color(carrier: str) -> str:
    """Fixed colour of a carrier without a ``color`` (same id → same colour everywhere)."""
    return FALLBACK_PALETTE[zlib.crc32(carrier.encode("utf-8")) % len(FALLBACK_PALETTE)]


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


def local_bus_ids(buses: pd.DataFrame, region: str) -> list[str]:
    """Local buses of a bus table (same rule as :func:`local_buses`)."""
    return list(buses.index[local_bus_mask(buses, region).to_numpy()])


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


def load_carrier_styles(n: pypsa.Network | pd.DataFrame | None) -> pd.DataFrame:
    """Display name and colour of every carrier of a network (or of its ``carriers`` table).

    Returns
    -------
    pandas.DataFrame
        Index carrier id; columns ``nice_name`` (id when empty) and ``color`` (hex; a fixed
        fallback colour when missing or invalid). Row order is the order of ``carriers.csv``.
    """
    if n is None:
        return pd.DataFrame(columns=["nice_name", "color"])
    carriers = n if isinstance(n, pd.DataFrame) else n.carriers
    if carriers.empty:
        return pd.DataFrame(columns=["nice_name", "color"])
    names = [
        str(nice) if isinstance(nice, str) and nice.strip() and nice != "nan" else str(cid)
        for cid, nice in zip(
            carriers.index, carriers.get("nice_name", pd.Series(index=carriers.index)), strict=True
        )
    ]
    colors = [
        to_hex(color)
        if isinstance(color, str) and color.strip() and is_color_like(color)
        else fallback_color(str(cid))
        for cid, color in zip(
            carriers.index, carriers.get("color", pd.Series(index=carriers.index)), strict=True
        )
    ]
    return pd.DataFrame({"nice_name": names, "color": colors}, index=carriers.index.astype(str))


def merge_carrier_styles(styles: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Union of carrier styles of several scenarios; the first definition of a carrier wins."""
    frames = [s for s in styles if not s.empty]
    if not frames:
        return pd.DataFrame(columns=["nice_name", "color"])
    merged = pd.concat(frames)
    return merged[~merged.index.duplicated(keep="first")]


#: Prefix of the keys that group loads by their carrier (``load:<carrier>``).
LOAD_PREFIX = "load:"
#: Colour of loads in balance figures (light grey, distinct from coal's dark grey).
LOAD_COLOR = "#b5b5b5"


def display_name(carrier: str, styles: pd.DataFrame) -> str:
    """Display name of a carrier id (``load:<carrier>`` → ``<name> demand``; ``Load`` for none)."""
    if carrier.startswith(LOAD_PREFIX):
        base = carrier.removeprefix(LOAD_PREFIX)
        if not base:
            return "Load"
        name = display_name(base, styles)
        is_bus_carrier = base in ELECTRIC_BUS_CARRIERS or base in ("heat", "h2", "gas")
        return f"{name} demand" if is_bus_carrier and "demand" not in name.lower() else name
    if not carrier:
        return "Load"
    if carrier in styles.index:
        return str(styles.at[carrier, "nice_name"])
    return carrier


def carrier_color(carrier: str, styles: pd.DataFrame) -> str:
    """Colour of a carrier id (hex); loads (``load:<carrier>``) take their carrier's colour,
    light grey when the load carrier is a bus carrier (e.g. ``AC``) or undefined."""
    if carrier.startswith(LOAD_PREFIX) or not carrier:
        base = carrier.removeprefix(LOAD_PREFIX)
        is_bus_carrier = base in ELECTRIC_BUS_CARRIERS or base in ("heat", "h2", "gas")
        if base in styles.index and not is_bus_carrier:
            return str(styles.at[base, "color"])
        return LOAD_COLOR
    if carrier in styles.index:
        return str(styles.at[carrier, "color"])
    return fallback_color(carrier or "load")


def carrier_order(carriers: Iterable[str], styles: pd.DataFrame) -> list[str]:
    """Carriers in the order of ``carriers.csv``, unknown ones after them in alphabetical order."""
    carriers = list(dict.fromkeys(str(c) for c in carriers))
    loads = sorted(c for c in carriers if c.startswith(LOAD_PREFIX))
    known = [c for c in styles.index if c in carriers]
    return known + sorted(c for c in carriers if c not in styles.index and c not in loads) + loads


def convert(values: pd.Series | float, unit: str, target: str) -> pd.Series | float:
    """Convert values from ``unit`` to ``target`` (power, energy, money or share units).

    Raises
    ------
    ValueError
        Unknown unit or different dimensions (e.g. MW to TWh).
    """
    unit = unit.strip()
    if unit == target:
        return values
    if unit not in _UNIT_FACTORS or target not in _UNIT_FACTORS:
        msg = f"cannot convert unit '{unit}' to '{target}'"
        raise ValueError(msg)
    dim_from, factor_from = _UNIT_FACTORS[unit]
    dim_to, factor_to = _UNIT_FACTORS[target]
    if dim_from != dim_to:
        msg = f"cannot convert unit '{unit}' to '{target}'"
        raise ValueError(msg)
    return values * (factor_from / factor_to)


def metric_values(metrics: pd.DataFrame, metric: str, target_unit: str | None = None) -> pd.DataFrame:
    """Rows of one metric, values converted row by row to ``target_unit`` (if given).

    Rows whose unit cannot be converted are dropped with a logged note.
    """
    rows = metrics[metrics["metric"] == metric].copy()
    if target_unit is None or rows.empty:
        return rows
    keep = []
    for index, row in rows.iterrows():
        try:
            rows.at[index, "value"] = convert(float(row["value"]), str(row["unit"]), target_unit)
            keep.append(index)
        except ValueError:
            logger.info(
                "metric '%s': unit '%s' is not convertible to %s; row skipped",
                metric,
                row["unit"],
                target_unit,
            )
    rows = rows.loc[keep]
    rows["unit"] = target_unit
    return rows


def _power_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``unit`` is a power unit (MW, GW …)."""
    mask = np.array([_UNIT_FACTORS.get(str(u), ("", 0.0))[0] == "power" for u in rows["unit"]], dtype=bool)
    return rows[mask]



def electric_buses(n: pypsa.Network, buses: pd.Index) -> pd.Index:
    """Subset of ``buses`` that carry electricity (bus carrier in :data:`ELECTRIC_BUS_CARRIERS`)."""
    carriers = n.buses.loc[buses, "carrier"].astype(str)
    return buses[carriers.isin(ELECTRIC_BUS_CARRIERS).to_numpy()]


def heat_buses(n: pypsa.Network, buses: pd.Index) -> pd.Index:
    """Subset of ``buses`` whose bus carrier contains ``heat``."""
    carriers = n.buses.loc[buses, "carrier"].astype(str)
    return buses[carriers.str.contains("heat").to_numpy()]


def snapshot_hours(n: pypsa.Network) -> pd.Series:
    """Duration represented by each snapshot [h] (objective weighting)."""
    return n.snapshot_weightings["objective"].astype(float)


def _timestamps(index: pd.Index) -> pd.DatetimeIndex:
    """Timestamps of a snapshot index (the last level of a multi-period index)."""
    if isinstance(index, pd.MultiIndex):
        index = index.get_level_values(-1)
    return pd.DatetimeIndex(index)


def expand_to_hours(frame: pd.DataFrame, hours: pd.Series) -> pd.DataFrame:
    """Repeat each snapshot over the hours it represents (for resampled or segmented runs).

    Snapshot ``t`` with weighting ``w`` [h] becomes the hourly rows ``t, t+1h, …, t+(w-1)h``.
    If the weightings are not whole hours the frame is returned unchanged.
    """
    weights = hours.reindex(frame.index).to_numpy()
    rounded = np.rint(weights)
    if len(weights) == 0 or not np.allclose(weights, rounded) or (rounded < 1).any() or (rounded == 1).all():
        out = frame.copy()
        out.index = _timestamps(frame.index)
        return out
    repeats = rounded.astype(int)
    starts = np.repeat(_timestamps(frame.index).to_numpy(), repeats)
    offsets = np.concatenate([np.arange(r) for r in repeats]).astype("timedelta64[h]")
    out = pd.DataFrame(np.repeat(frame.to_numpy(), repeats, axis=0), columns=frame.columns)
    out.index = pd.DatetimeIndex(starts + offsets)
    return out


def break_gaps(frame: pd.DataFrame, hours: pd.Series, *, steps: bool = False) -> pd.DataFrame:
    """Prepare snapshot data for line or step plots over time.

    Inserts a NaN row after snapshots followed by a gap, so lines are not drawn across it.
    With ``steps=True`` (for ``step="post"`` drawing) the last value of each contiguous run is
    repeated at the run's end, so the last snapshot is drawn over its full duration.
    """
    times = _timestamps(frame.index)
    out = frame.copy()
    out.index = times
    if len(times) == 0:
        return out
    duration = pd.to_timedelta(hours.reindex(frame.index).to_numpy(), unit="h")
    ends = times + duration
    gaps = np.flatnonzero(ends[:-1] < times[1:])
    parts = [out]
    if steps:
        last = np.append(gaps, len(times) - 1)
        closing = frame.iloc[last].copy()
        closing.index = ends[last]
        parts.append(closing)
    if len(gaps):
        parts.append(
            pd.DataFrame(
                np.nan,
                index=ends[gaps] + pd.Timedelta(seconds=1) if steps else ends[gaps],
                columns=frame.columns,
            )
        )
    if len(parts) == 1:
        return out
    return pd.concat(parts).sort_index(kind="stable")


def duration_curve(values: pd.Series, hours: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values (highest first) and the cumulative hours at which each is reached.

    Returns
    -------
    tuple of numpy.ndarray
        ``x`` [h] (start of each step, plus the end) and ``y`` (values, last one repeated), for
        ``ax.step(x, y, where="post")``.
    """
    order = np.argsort(-values.to_numpy(), kind="stable")
    y = values.to_numpy()[order]
    w = hours.reindex(values.index).to_numpy()[order]
    x = np.concatenate([[0.0], np.cumsum(w)])
    return x, np.concatenate([y, y[-1:]]) if len(y) else y


#: Largest number of points drawn per duration curve (more are thinned evenly; SVG size).
MAX_CURVE_POINTS = 1500


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``limit`` evenly spaced points of a monotone curve (first and last kept)."""
    if len(x) <= limit:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, limit).round().astype(int))
    return x[keep], y[keep]


def _new_figure(width: float = 7.5, height: float = 4.5, **kwargs: Any) -> Figure:
    """A figure attached to the Agg canvas, with constrained layout, outside pyplot."""
    apply_theme()
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


_THEME_APPLIED = False


def apply_theme() -> None:
    """Set the seaborn theme of all report figures once (``paper`` context, white grid)."""
    global _THEME_APPLIED  # noqa: PLW0603 - the theme is process-wide state by design
    if not _THEME_APPLIED:
        sns.set_theme("paper", style="whitegrid")
        mpl.rcParams["svg.fonttype"] = "none"
        mpl.rcParams["svg.hashsalt"] = "energy_model"  # stable element ids: same results, same SVG
        mpl.rcParams["figure.dpi"] = 100
        _THEME_APPLIED = True


def _legend_below(fig: Figure, ax: Axes, ncol: int = 4, **kwargs: Any) -> None:
    """Put the legend of ``ax`` below the plots so it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        longest = max(len(label) for label in labels)
        fits = max(1, int(fig.get_figwidth() * 12 / (longest + 5)))  # ~12 legend characters per inch
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=max(1, min(ncol, len(labels), fits)),
            frameon=False,
            fontsize="small",
            **kwargs,
        )


def _thousands(value: float, _pos: int) -> str:
    """Tick label with a thousands separator."""
    return f"{value:,.0f}"


# ---------------------------------------------------------------------------------------------
# time series extracted from a solved network
# ---------------------------------------------------------------------------------------------


def _port_columns(n: pypsa.Network) -> list[int]:
    """Port numbers of links (0, 1 and any extra ``busN``)."""
    ports = [int(c[3:]) for c in n.links.columns if c.startswith("bus") and c[3:].isdigit()]
    return sorted(ports) or [0, 1]


def bus_power_balance(n: pypsa.Network, buses: pd.Index) -> pd.DataFrame:
    """Power injected into a set of buses by carrier [MW], snapshots × carrier.

    Positive = supply into the buses (generation, storage discharge, imports, link output);
    negative = consumption (loads, storage charging, exports, link input). Flows between two
    buses of the set cancel. Loads are grouped under their carrier (``""`` = plain load).
    """
    parts: list[pd.DataFrame] = []
    snapshots = n.snapshots

    def add(flows: pd.DataFrame, carriers: pd.Series, sign: float) -> None:
        if flows.empty:
            return
        flows = flows.reindex(index=snapshots).fillna(0.0) * sign
        grouped = flows.T.groupby(carriers.reindex(flows.columns).fillna("").astype(str).to_numpy()).sum().T
        parts.append(grouped)

    gens = n.generators.index[n.generators.bus.isin(buses)]
    add(n.generators_t.p.reindex(columns=gens, fill_value=0.0), n.generators.carrier, 1.0)
    units = n.storage_units.index[n.storage_units.bus.isin(buses)]
    add(n.storage_units_t.p.reindex(columns=units, fill_value=0.0), n.storage_units.carrier, 1.0)
    stores = n.stores.index[n.stores.bus.isin(buses)]
    add(n.stores_t.p.reindex(columns=stores, fill_value=0.0), n.stores.carrier, 1.0)
    loads = n.loads.index[n.loads.bus.isin(buses)]
    add(n.loads_t.p.reindex(columns=loads, fill_value=0.0), LOAD_PREFIX + n.loads.carrier.astype(str), -1.0)
    for port in _port_columns(n):
        column = f"bus{port}"
        if column not in n.links.columns:
            continue
        links = n.links.index[n.links[column].isin(buses)]
        table = n.links_t.get(f"p{port}", pd.DataFrame(index=snapshots))
        add(table.reindex(columns=links, fill_value=0.0), n.links.carrier, -1.0)
    for port in (0, 1):
        lines = n.lines.index[n.lines[f"bus{port}"].isin(buses)]
        add(n.lines_t[f"p{port}"].reindex(columns=lines, fill_value=0.0), n.lines.carrier, -1.0)
    if not parts:
        return pd.DataFrame(index=snapshots)
    balance = pd.concat(parts, axis=1)
    balance = balance.T.groupby(level=0).sum().T
    balance = balance.where(balance.abs() > ABS_TOL, 0.0)  # solver noise -> 0
    peaks = _significant(balance.abs().max())
    return balance.loc[:, list(peaks.index)]


def select_week(n: pypsa.Network, season: str, buses: pd.Index) -> pd.Index:
    """Snapshots of the seven days around the highest local load of a season.

    Parameters
    ----------
    season
        ``winter`` (December–February) or ``summer`` (June–August).
    buses
        Buses whose summed load picks the peak.

    Raises
    ------
    MissingDataError
        No snapshot falls in the season.
    """
    times = _timestamps(n.snapshots)
    in_season = np.isin(times.month, SEASON_MONTHS[season])
    if not in_season.any():
        msg = f"no snapshot in the {season} months {SEASON_MONTHS[season]}"
        raise MissingDataError(msg)
    loads = n.loads.index[n.loads.bus.isin(buses)]
    load = n.loads_t.p.reindex(columns=loads, fill_value=0.0).sum(axis=1).to_numpy()
    masked = np.where(in_season, load, -np.inf)
    peak = times[int(np.argmax(masked))]
    start = peak.normalize() - pd.Timedelta(days=3)
    end = start + pd.Timedelta(days=7)
    chosen = (times >= start) & (times < end) & in_season
    return n.snapshots[chosen]


def electric_heating_links(n: pypsa.Network, elec: pd.Index, heat: pd.Index) -> pd.Index:
    """Links that take electricity from ``elec`` buses (bus0) and deliver to ``heat`` buses (bus1)."""
    return n.links.index[n.links.bus0.isin(elec) & n.links.bus1.isin(heat)]


def corridor_flows(n: pypsa.Network, region: str) -> pd.DataFrame:
    """Net flow at the local end of each corridor crossing the region border [MW].

    A corridor is the set of links (and lines) joining the same local bus and external bus
    with the same carrier, e.g. an export link and its reverse ``…_import`` link. The flow is
    what the corridor withdraws from the local bus: positive = export, negative = import.
    Columns are named after the corridor's export-direction link (``bus0`` local), else its
    first member.
    """
    local = set(local_buses(n, region))
    members: dict[tuple[str, str, str], list[tuple[str, pd.Series, bool]]] = {}

    def add(table: dict[str, pd.DataFrame], name: str, row: pd.Series) -> None:
        for port, other in ((0, 1), (1, 0)):
            here, there = row[f"bus{port}"], row[f"bus{other}"]
            if here in local and there not in local:
                flow = table[f"p{port}"]
                series = flow[name] if name in flow else pd.Series(0.0, index=n.snapshots)
                key = (str(here), str(there), str(row.get("carrier", "")))
                members.setdefault(key, []).append((str(name), series, port == 0))

    link_tables = {"p0": n.links_t.p0, "p1": n.links_t.p1}
    for name, row in n.links.iterrows():
        add(link_tables, name, row)
    line_tables = {"p0": n.lines_t.p0, "p1": n.lines_t.p1}
    for name, row in n.lines.iterrows():
        add(line_tables, name, row)
    columns: dict[str, pd.Series] = {}
    for parts in members.values():
        outward = [name for name, _, is_bus0 in parts if is_bus0]
        label = outward[0] if outward else parts[0][0]
        columns[label] = sum((series for _, series, _ in parts), start=pd.Series(0.0, index=n.snapshots))
    return pd.DataFrame(columns, index=n.snapshots)


def corridor_carrier(n: pypsa.Network, name: str) -> str:
    """Carrier of a corridor named after one of its links or lines (``""`` if unknown)."""
    for table in (n.links, n.lines):
        if name in table.index and "carrier" in table:
            return str(table.at[name, "carrier"])
    return ""


# ---------------------------------------------------------------------------------------------
# per-scenario figures
# ---------------------------------------------------------------------------------------------


def _significant(values: pd.Series, scale: float | None = None) -> pd.Series:
    """Values whose magnitude exceeds :data:`ABS_TOL` and :data:`REL_TOL` × the largest one."""
    if values.empty:
        return values
    top = float(values.abs().max()) if scale is None else scale
    return values[values.abs() > max(ABS_TOL, REL_TOL * top)]


def storage_energy_capacity(n: pypsa.Network, buses: Iterable[str] | None = None) -> pd.Series:
    """Energy capacity by carrier [MWh]: storage units ``p_nom_opt × max_hours``, stores ``e_nom_opt``.

    Parameters
    ----------
    buses
        Only components at these buses (e.g. the local buses); all when ``None``.
    """
    parts = []
    su = n.storage_units
    st = n.stores
    if buses is not None:
        keep = set(buses)
        su = su[su.bus.isin(keep)]
        st = st[st.bus.isin(keep)]
    if not su.empty:
        parts.append((su.p_nom_opt * su.max_hours).groupby(su.carrier.astype(str)).sum())
    if not st.empty:
        parts.append(st.e_nom_opt.groupby(st.carrier.astype(str)).sum())
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts).groupby(level=0).sum()


def plot_capacity(
    metrics: pd.DataFrame,
    styles: pd.DataFrame,
    storage_energy: pd.Series | None = None,
    local: Iterable[str] | None = None,
) -> Figure:
    """Installed power capacity by carrier [GW] and storage energy capacity [GWh].

    Parameters
    ----------
    metrics
        Tidy metrics; rows ``capacity`` in power units are used, except rows of stores
        (``variant == "Store"``, whose capacity is energy).
    styles
        Carrier display names and colours (:func:`load_carrier_styles`).
    storage_energy
        Energy capacity by carrier [MWh] (:func:`storage_energy_capacity`), optional.
    local
        Keep only rows whose ``bus`` is one of these (the local buses; a link counts at the bus
        the metrics name); all rows when ``None``.
    """
    rows = metric_values(metrics, "capacity")
    rows = _power_rows(rows)
    if local is not None and "bus" in rows:
        rows = rows[rows["bus"].isin(set(local)) | (rows["bus"] == "")]
    rows = metric_values(rows, "capacity", "MW")
    if "variant" in rows:
        rows = rows[rows["variant"].astype(str) != "Store"]
    power = _significant(rows.groupby("carrier")["value"].sum()) / 1e3
    energy = storage_energy if storage_energy is not None else pd.Series(dtype=float)
    energy = _significant(energy) / 1e3
    if power.empty and energy.empty:
        msg = "no capacity rows in the metrics"
        raise MissingDataError(msg)
    panels = [(power, "Power capacity [GW]")] if not power.empty else []
    if not energy.empty:
        panels.append((energy, "Storage energy capacity [GWh]"))
    heights = [len(values) + 1.5 for values, _ in panels]
    fig = _new_figure(7.5, 0.8 + 0.28 * sum(heights))
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (values, label) in zip(axes, panels, strict=True):
        order = carrier_order(values.index, styles)
        names = [display_name(c, styles) for c in order]
        ax.barh(names, values.reindex(order).to_numpy(), color=[carrier_color(c, styles) for c in order])
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_ylabel("")
        for y, value in enumerate(values.reindex(order).to_numpy()):
            ax.annotate(
                f"{value:,.2f}",
                (value, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="x-small",
            )
        ax.margins(x=0.12)
    fig.suptitle(
        "Installed capacity by carrier (local buses)"
        if local is not None
        else "Installed capacity by carrier"
    )
    return fig


def plot_energy_balance(
    metrics: pd.DataFrame,
    styles: pd.DataFrame,
    bus_carriers: pd.Series | None = None,
    local: Iterable[str] | None = None,
) -> Figure:
    """Annual supply (+) and withdrawal (−) by carrier [TWh/yr], one panel per bus carrier.

    Parameters
    ----------
    metrics
        Tidy metrics; rows ``supply`` and ``withdrawal`` (energy, any of MWh/GWh/TWh).
    styles
        Carrier display names and colours.
    bus_carriers
        Bus id → bus carrier (``n.buses.carrier``) to split the balance into panels; without it
        all rows form one panel.
    local
        Bus ids to keep (the local buses); all buses when ``None``.
    """
    supply = metric_values(metrics, "supply", "TWh")
    withdrawal = metric_values(metrics, "withdrawal", "TWh")
    withdrawal = withdrawal.assign(value=-withdrawal["value"].abs())
    if "variant" in withdrawal:
        is_load = withdrawal["variant"].astype(str) == "Load"
        withdrawal.loc[is_load, "carrier"] = LOAD_PREFIX + withdrawal.loc[is_load, "carrier"].astype(str)
    rows = pd.concat([supply, withdrawal], ignore_index=True)
    if local is not None and "bus" in rows:
        local = set(local)
        rows = rows[rows["bus"].isin(local) | (rows["bus"] == "")]
    if rows.empty:
        msg = "no supply/withdrawal rows in the metrics"
        raise MissingDataError(msg)
    if bus_carriers is not None:
        rows = rows.assign(panel=rows["bus"].map(bus_carriers).fillna("").astype(str))
    else:
        rows = rows.assign(panel="")
    panels = sorted(rows["panel"].unique(), key=lambda p: (p not in ELECTRIC_BUS_CARRIERS, p))
    contents = {}
    for panel in panels:
        part = rows[rows["panel"] == panel]
        scale = float(part["value"].abs().max()) if not part.empty else 0.0
        positive = part[part["value"] > 0].groupby("carrier")["value"].sum()
        negative = part[part["value"] < 0].groupby("carrier")["value"].sum()
        # TWh -> MWh for the absolute tolerance
        positive = _significant(positive * 1e6, scale * 1e6) / 1e6
        negative = _significant(negative * 1e6, scale * 1e6) / 1e6
        if not positive.empty or not negative.empty:
            contents[panel] = (positive, negative)
    if not contents:
        msg = "no supply/withdrawal above the tolerance"
        raise MissingDataError(msg)
    heights = [len(set(p.index) | set(m.index)) + 1.5 for p, m in contents.values()]
    fig = _new_figure(7.5, 1.0 + 0.28 * sum(heights))
    axes = fig.subplots(len(contents), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (panel, (positive, negative)) in zip(axes, contents.items(), strict=True):
        order = carrier_order(list(positive.index) + list(negative.index), styles)
        names = [display_name(c, styles) for c in order]
        colors = [carrier_color(c, styles) for c in order]
        ax.barh(names, positive.reindex(order).fillna(0.0).to_numpy(), color=colors)
        ax.barh(
            names,
            negative.reindex(order).fillna(0.0).to_numpy(),
            color=colors,
            hatch="//",
            edgecolor="white",
            linewidth=0,
        )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_title(f"Local buses: {display_name(panel, styles)}" if panel else "All buses")
        ax.set_xlabel("")
    fig.supxlabel("Energy [TWh/yr]; supply > 0, withdrawal < 0 (hatched)")
    fig.suptitle("Annual energy balance by carrier")
    return fig


def plot_dispatch(
    n: pypsa.Network, snapshots: pd.Index, buses: pd.Index, styles: pd.DataFrame, title: str = ""
) -> Figure:
    """Hourly power balance of a set of buses as stacked areas [GW].

    Supply is stacked above zero and consumption below zero, each carrier in its colour; the
    black line is the net (should be ~0 for a whole bus set).

    Parameters
    ----------
    n
        Solved network.
    snapshots
        Snapshots to show (e.g. :func:`select_week`).
    buses
        Buses whose balance is drawn (the local electricity buses).
    styles
        Carrier display names and colours.
    title
        Figure title.
    """
    if len(buses) == 0:
        msg = "no local electricity bus"
        raise MissingDataError(msg)
    if len(snapshots) == 0:
        msg = "no snapshots selected"
        raise MissingDataError(msg)
    balance = bus_power_balance(n, buses).loc[snapshots] / 1e3
    if balance.empty:
        msg = "no flows at the local electricity buses"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    order = carrier_order(balance.columns, styles)
    positive = break_gaps(balance[order].clip(lower=0), hours, steps=True)
    negative = break_gaps(balance[order].clip(upper=0), hours, steps=True)
    times = positive.index
    fig = _new_figure(8.0, 4.8)
    ax = fig.subplots()
    pos_cols = [c for c in order if (balance[c] > 1e-9).any()]
    neg_cols = [c for c in order if (balance[c] < -1e-9).any()]
    for cols, frame, labelled in ((pos_cols, positive, True), (neg_cols, negative, False)):
        if not cols:
            continue
        ax.stackplot(
            times,
            *[frame[c].to_numpy() for c in cols],
            colors=[carrier_color(c, styles) for c in cols],
            labels=[display_name(c, styles) if labelled or c not in pos_cols else "_" for c in cols],
            step="post",
            linewidth=0,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("Power [GW] (supply > 0, consumption < 0)")
    ax.set_xlabel("Time")
    ax.xaxis.set_major_formatter(mpl.dates.DateFormatter("%d %b\n%H:%M"))
    ax.margins(x=0)
    if title:
        ax.set_title(title)
    _legend_below(fig, ax, ncol=5)
    return fig


def _heatmap(ax: Axes, grid: pd.DataFrame, vmax: float, label: str) -> None:
    """Draw ``grid`` (rows bottom to top, columns left to right) as cells with a colour bar.

    The look of ``seaborn.heatmap(grid, cmap="rocket_r", vmin=0, rasterized=True)`` (no
    spines, empty cells for NaN, colour bar without outline) without its extra draw of the
    whole figure, which seaborn does to choose tick labels and which dominated this figure's
    time on a full year. The caller sets the ticks.
    """
    values = grid.to_numpy(dtype=float)
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values),
        cmap="rocket_r",
        vmin=0,
        vmax=vmax,
        linewidths=0,
        edgecolor="white",
        rasterized=True,
    )
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set(xlim=(0, values.shape[1]), ylim=(0, values.shape[0]))
    colorbar = ax.get_figure().colorbar(mesh, ax=ax, label=label)
    colorbar.outline.set_linewidth(0)
    colorbar.solids.set_rasterized(True)


def plot_curtailment_heatmap(n: pypsa.Network, buses: pd.Index, styles: pd.DataFrame) -> Figure:
    """Curtailment of variable renewables by day and hour of day [GW], one panel per carrier.

    Curtailment of generator g at snapshot t is ``p_nom_opt[g] · p_max_pu[t, g] − p[t, g]``
    (clipped at 0) for generators at ``buses`` with a time-varying ``p_max_pu``.
    """
    gens = n.generators.index[n.generators.bus.isin(buses)]
    variable = gens[gens.isin(n.generators_t.p_max_pu.columns)]
    if len(variable) == 0:
        msg = "no local generator with a time-varying availability"
        raise MissingDataError(msg)
    available = n.generators_t.p_max_pu[variable] * n.generators.p_nom_opt[variable]
    dispatched = n.generators_t.p.reindex(columns=variable, fill_value=0.0)
    curtailed = available - dispatched
    curtailed = curtailed.where(curtailed > ABS_TOL, 0.0) / 1e3  # MW -> GW, solver noise -> 0
    by_carrier = curtailed.T.groupby(n.generators.carrier[variable].astype(str).to_numpy()).sum().T
    hourly = expand_to_hours(by_carrier, snapshot_hours(n))
    order = carrier_order(hourly.columns, styles)
    vmax = max(float(hourly.to_numpy().max()), 1e-3)
    fig = _new_figure(8.0, 1.0 + 2.3 * len(order))
    axes = fig.subplots(len(order), 1, squeeze=False, sharex=True)[:, 0]
    for ax, carrier in zip(axes, order, strict=True):
        series = hourly[carrier]
        table = pd.DataFrame(
            {"day": series.index.normalize(), "hour": series.index.hour, "v": series.to_numpy()}
        )
        grid = table.pivot_table(index="hour", columns="day", values="v", aggfunc="mean")
        grid = grid.reindex(range(24))
        _heatmap(ax, grid, vmax, "Curtailment [GW]")
        ax.set_ylabel("Hour of day")
        ax.set_yticks([0.5, 6.5, 12.5, 18.5], ["0", "6", "12", "18"], rotation="vertical", va="center")
        total = float(series.sum())
        ax.set_title(display_name(carrier, styles) + ("" if total > 0 else " (no curtailment)"))
        days = list(grid.columns)
        step = max(1, len(days) // 12)
        ticks = list(range(0, len(days), step))
        ax.set_xticks(
            [t + 0.5 for t in ticks], [pd.Timestamp(days[t]).strftime("%d %b") for t in ticks], rotation=0
        )
        ax.set_xlabel("")
    axes[-1].set_xlabel("Day")
    fig.suptitle("Curtailment of local wind and solar")
    return fig


def plot_state_of_charge(n: pypsa.Network, styles: pd.DataFrame) -> Figure:
    """Stored energy over the year by storage carrier [GWh], one panel per carrier."""
    parts = []
    if not n.storage_units.empty and not n.storage_units_t.state_of_charge.empty:
        soc = n.storage_units_t.state_of_charge
        parts.append(
            soc.T.groupby(n.storage_units.carrier.reindex(soc.columns).astype(str).to_numpy()).sum().T
        )
    if not n.stores.empty and not n.stores_t.e.empty:
        e = n.stores_t.e
        parts.append(e.T.groupby(n.stores.carrier.reindex(e.columns).astype(str).to_numpy()).sum().T)
    if not parts:
        msg = "no storage unit or store"
        raise MissingDataError(msg)
    levels = pd.concat(parts, axis=1).T.groupby(level=0).sum().T
    capacity = storage_energy_capacity(n).reindex(levels.columns).fillna(0.0)
    used = [c for c in levels.columns if levels[c].abs().max() > max(ABS_TOL, 1e-4 * capacity[c])]
    unused = sorted(set(levels.columns) - set(used))
    if unused:
        logger.info("state of charge: never charged, not drawn: %s", ", ".join(unused))
    if not used:
        msg = "no storage is ever charged"
        raise MissingDataError(msg)
    levels = levels[used] / 1e3
    order = carrier_order(levels.columns, styles)
    levels = break_gaps(levels[order], snapshot_hours(n))
    fig = _new_figure(8.0, 0.8 + 1.9 * len(order))
    axes = fig.subplots(len(order), 1, squeeze=False, sharex=True)[:, 0]
    for ax, carrier in zip(axes, order, strict=True):
        color = carrier_color(carrier, styles)
        ax.plot(levels.index, levels[carrier], color=color, linewidth=0.8)
        ax.fill_between(
            levels.index,
            0,
            levels[carrier].to_numpy(),
            color=color,
            alpha=0.3,
            linewidth=0,
            rasterized=len(levels) > 2000,
        )
        ax.set_ylabel("Energy [GWh]")
        ax.set_title(display_name(carrier, styles), loc="left")
        ax.set_ylim(bottom=0)
    axes[-1].xaxis.set_major_formatter(mpl.dates.DateFormatter("%d %b"))
    axes[-1].set_xlabel("Time")
    fig.suptitle("Storage state of charge")
    return fig


def plot_export_duration(n: pypsa.Network, region: str, styles: pd.DataFrame) -> Figure:
    """Duration curves of the flow on every corridor leaving the region [GW] vs hours [h]."""
    flows = corridor_flows(n, region) / 1e3
    if flows.empty:
        msg = f"no link or line between a bus in '{region}' and an external bus"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    fig = _new_figure(7.5, 4.5)
    ax = fig.subplots()
    palette = sns.color_palette("colorblind", len(flows.columns))
    for i, (color, name) in enumerate(zip(palette, flows.columns, strict=True)):
        x, y = _thin(*duration_curve(flows[name], hours))
        carrier = corridor_carrier(n, name)
        label = f"{name} ({display_name(str(carrier), styles)})" if carrier else name
        ax.step(
            x,
            y,
            where="post",
            color=color,
            label=label,
            linewidth=1.4,
            linestyle=LINESTYLES[i % len(LINESTYLES)],
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Hours per year at or above the flow [h]")
    ax.set_ylabel("Flow at local end [GW] (export > 0)")
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlim(0, float(hours.sum()))
    ax.set_title("Export corridor flow duration curves")
    _legend_below(fig, ax, ncol=2)
    return fig


def plot_heat(
    n: pypsa.Network,
    region: str,
    styles: pd.DataFrame,
    temperature: pd.Series | None = None,
) -> Figure:
    """Daily heat demand and heat-pump electricity [GW] against temperature [°C] and over time.

    Parameters
    ----------
    n
        Solved network with at least one local heat bus (bus carrier containing ``heat``).
    region
        Accounting region (local buses).
    styles
        Carrier display names and colours.
    temperature
        Hourly outdoor temperature [°C] indexed by snapshot time; without it only the time
        panel is drawn.
    """
    local = local_buses(n, region)
    heat = heat_buses(n, local)
    if len(heat) == 0:
        msg = "no local heat bus"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    loads = n.loads.index[n.loads.bus.isin(heat)]
    demand = n.loads_t.p.reindex(columns=loads, fill_value=0.0).sum(axis=1)
    links = electric_heating_links(n, electric_buses(n, local), heat)
    electricity = n.links_t.p0.reindex(columns=links, fill_value=0.0)
    electricity = electricity.T.groupby(n.links.carrier[links].astype(str).to_numpy()).sum().T
    series = pd.concat([demand.rename("__heat_demand__"), electricity], axis=1)
    hourly = expand_to_hours(series, hours) / 1e3
    daily = hourly.resample("D").mean().dropna(how="all")
    temp_daily = None
    if temperature is not None and not temperature.empty:
        temp = temperature.copy()
        temp.index = pd.DatetimeIndex(temp.index)
        temp_daily = temp.resample("D").mean().reindex(daily.index)
        if temp_daily.notna().sum() == 0:
            logger.info("heat figure: temperature does not cover the snapshots; drawn without it")
            temp_daily = None
    columns = [
        (
            "__heat_demand__",
            "Heat demand",
            carrier_color("heat", styles) if "heat" in styles.index else "#b22222",
        )
    ]
    columns += [
        (c, f"{display_name(c, styles)} electricity", carrier_color(c, styles)) for c in electricity.columns
    ]
    if temp_daily is not None:
        fig = _new_figure(9.0, 4.2)
        ax_t, ax_y = fig.subplots(1, 2, width_ratios=[1, 1.4])
        for i, (column, label, color) in enumerate(columns):
            marker = HEAT_MARKERS[i % len(HEAT_MARKERS)]
            ax_t.scatter(
                temp_daily.to_numpy(),
                daily[column].to_numpy(),
                s=10,
                color=color,
                label=label,
                marker=marker,
                alpha=0.8,
                linewidths=0,
            )
        ax_t.set_xlabel("Daily mean outdoor temperature [°C]")
        ax_t.set_ylabel("Daily mean power [GW]")
        ax_t.set_title("Against temperature")
    else:
        if temperature is None or temperature.empty:
            logger.info("heat figure: no temperature saved with the results; time panel only")
        fig = _new_figure(8.0, 4.2)
        ax_y = fig.subplots()
    gapped = break_gaps(daily, pd.Series(24.0, index=daily.index))
    for i, (column, label, color) in enumerate(columns):
        # line style and sparse markers tell the series apart in grey-scale print
        ax_y.plot(
            gapped.index,
            gapped[column],
            color=color,
            label=label,
            linewidth=1.0,
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            marker=HEAT_MARKERS[i % len(HEAT_MARKERS)],
            markersize=4,
            markevery=max(1, len(gapped) // 12),
        )
    ax_y.set_ylabel("Daily mean power [GW]")
    ax_y.set_xlabel("Day")
    ax_y.xaxis.set_major_formatter(mpl.dates.DateFormatter("%b"))
    ax_y.set_title("Over the year")
    _legend_below(fig, ax_y, ncol=3)
    fig.suptitle("Heat demand and electric heating")
    return fig


def _parse_share_variant(variant: str) -> tuple[str, str]:
    """Split a share variant ``<valuation…>|<attribution>`` into (group, attribution).

    The last ``|``-separated part is the attribution rule; a single part is the rule when it
    is a known rule (:data:`ATTRIBUTIONS`), else the group.
    """
    parts = [p for p in str(variant).split("|") if p]
    if len(parts) >= 2:
        return "|".join(parts[:-1]), parts[-1]
    if parts and parts[0] in ATTRIBUTIONS:
        return "share", parts[0]
    return (parts[0] if parts else "share"), ""


def share_table(metrics: pd.DataFrame, headline: str = "pro_rata") -> pd.DataFrame:
    """Renewable share per group: headline value and bounds over attribution rules [-].

    Groups are the valuations of the final-energy share (``renewable_share`` rows, variant
    ``<valuation>|<attribution>``, e.g. ``coal_equivalent``) and, when present, the share of
    local electricity consumption (``renewable_share_electricity`` rows, variant
    ``<attribution>``) as group :data:`ELECTRICITY_GROUP`.

    Returns
    -------
    pandas.DataFrame
        Index group, columns ``headline``, ``low``, ``high`` and ``rule:<attribution>`` for
        each rule (fractions, -). Empty when the metrics hold no share rows.
    """
    rows = metric_values(metrics, "renewable_share", "-")
    electricity = metric_values(metrics, ELECTRICITY_SHARE_METRIC, "-")
    if rows.empty and electricity.empty:
        return pd.DataFrame(columns=["headline", "low", "high"])
    parsed = rows["variant"].map(_parse_share_variant)
    rows = rows.assign(group=parsed.map(lambda p: p[0]), attribution=parsed.map(lambda p: p[1]))
    if not electricity.empty:
        parsed = electricity["variant"].map(_parse_share_variant)
        electricity = electricity.assign(group=ELECTRICITY_GROUP, attribution=parsed.map(lambda p: p[1]))
        rows = pd.concat([rows, electricity], ignore_index=True)
    out = {}
    for group, part in rows.groupby("group", sort=False):
        by_rule = part.set_index("attribution")["value"]
        if headline in by_rule.index:
            value = float(by_rule[headline])
        elif "" in by_rule.index:
            value = float(by_rule[""])
        else:
            value = float(by_rule.iloc[0])
        out[group] = {
            "headline": value,
            "low": float(by_rule.min()),
            "high": float(by_rule.max()),
            **{f"rule:{rule}": float(v) for rule, v in by_rule.items() if rule},
        }
    table = pd.DataFrame.from_dict(out, orient="index")
    order = sorted(
        table.index,
        key=lambda g: (
            g == ELECTRICITY_GROUP,
            VALUATIONS.index(g) if g in VALUATIONS else len(VALUATIONS),
            g,
        ),
    )
    return table.loc[order]


def scenario_targets(results: ScenarioResults) -> pd.DataFrame:
    """Targets of a scenario: ``target``, ``indicator``, ``target_share`` [-] (verdicts first)."""
    verdicts = results.verdicts
    if not verdicts.empty and {"target", "target_share"} <= set(verdicts.columns):
        table = verdicts.copy()
        if "indicator" not in table:
            table["indicator"] = ""
        return table[["target", "indicator", "target_share"]]
    targets = results.scenario.get("targets") or []
    return pd.DataFrame(
        [
            {
                "target": t.get("name", ""),
                "indicator": t.get("indicator", ""),
                "target_share": float(t.get("min_share", np.nan)),
            }
            for t in targets
        ],
        columns=["target", "indicator", "target_share"],
    )


def _label_group(group: str) -> str:
    """Readable label of a share group (``coal_equivalent`` → ``final energy, coal equivalent``)."""
    if group == ELECTRICITY_GROUP:
        return "electricity\n(local consumption)"
    return "final energy\n" + group.replace("|", "\n").replace("_", " ")


def plot_renewable_share(
    metrics: pd.DataFrame, targets: pd.DataFrame, headline: str = "pro_rata", title: str = ""
) -> Figure:
    """Renewable share per valuation with attribution bounds against the targets [%].

    Parameters
    ----------
    metrics
        Tidy metrics with ``renewable_share`` rows (variant ``<valuation>|<attribution>``).
    targets
        ``target``, ``target_share`` [-] (:func:`scenario_targets`).
    headline
        Attribution rule drawn as the dot.
    title
        Figure title.
    """
    shares = (share_table(metrics, headline) * 100).dropna(how="all")
    if shares.empty:
        msg = "no renewable_share rows in the metrics"
        raise MissingDataError(msg)
    fig = _new_figure(7.0, 4.2)
    ax = fig.subplots()
    x = np.arange(len(shares))
    ax.vlines(
        x,
        shares["low"],
        shares["high"],
        color="#4c72b0",
        linewidth=6,
        alpha=0.35,
        label="Range over attribution rules",
    )
    ax.scatter(
        x,
        shares["headline"],
        color="#4c72b0",
        zorder=3,
        s=40,
        label=f"Headline ({headline.replace('_', '-')})",
    )
    rules = [c for c in shares.columns if c.startswith("rule:") and c != f"rule:{headline}"]
    for i, column in enumerate(rules):
        ax.scatter(
            x,
            shares[column],
            marker=RULE_MARKERS[i % len(RULE_MARKERS)],
            color="#333333",
            s=22,
            zorder=4,
            label=column.removeprefix("rule:").replace("_", "-"),
        )
    for xi, value in zip(x, shares["headline"], strict=True):
        ax.annotate(
            f"{value:.1f} %",
            (xi, value),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            zorder=5,
        )
    palette = sns.color_palette("dark", max(len(targets), 1))
    for color, (_, target) in zip(palette, targets.iterrows(), strict=False):
        share = float(target["target_share"]) * 100
        indicator = str(target.get("indicator", "") or "").replace("_", " ")
        ax.axhline(
            share,
            color=color,
            linestyle="--",
            linewidth=1.2,
            label=f"Target {target['target']}"
            + (f" ({indicator})" if indicator else "")
            + f": {share:.0f} %",
        )
    ax.set_xticks(x, [_label_group(g) for g in shares.index])
    ax.set_xlim(-0.6, len(shares) - 0.4)
    wanted = pd.to_numeric(targets.get("target_share", pd.Series(dtype=float)), errors="coerce") * 100
    top = float(np.nanmax([*shares["high"].to_numpy(), *wanted.to_numpy(), 1.0]))
    ax.set_ylim(0, min(105.0, top * 1.15 + 2) if top <= 100 else top * 1.1)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylabel("Renewable share [%]")
    ax.set_xlabel("Indicator and valuation of electricity")
    ax.set_title(title or "Renewable share against targets")
    _legend_below(fig, ax, ncol=2)
    return fig


def plot_price_duration(n: pypsa.Network, buses: pd.Index) -> Figure:
    """Duration curve of the marginal electricity price at each bus [CNY/MWh] vs hours [h]."""
    prices = n.buses_t.marginal_price.reindex(columns=buses).dropna(axis=1, how="all")
    if prices.empty:
        msg = "no marginal prices saved for the local electricity buses"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    fig = _new_figure(7.5, 4.2)
    ax = fig.subplots()
    palette = sns.color_palette("colorblind", len(prices.columns))
    for i, (color, bus) in enumerate(zip(palette, prices.columns, strict=True)):
        x, y = _thin(*duration_curve(prices[bus].fillna(0.0), hours))
        ax.step(
            x,
            y,
            where="post",
            color=color,
            label=str(bus),
            linewidth=1.4,
            linestyle=LINESTYLES[i % len(LINESTYLES)],
        )
    ax.set_xlabel("Hours per year at or above the price [h]")
    ax.set_ylabel("Marginal price [CNY/MWh]")
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlim(0, float(hours.sum()))
    ax.set_title("Electricity price duration curve (local buses)")
    _legend_below(fig, ax, ncol=3)
    return fig


# ---------------------------------------------------------------------------------------------
# comparison figures
# ---------------------------------------------------------------------------------------------


def _scenario_bar(ax: Axes, names: list[str], values: Iterable[float], label: str) -> None:
    """Horizontal bars, one per scenario, with value labels."""
    values = list(values)
    ax.barh(names, values, color=sns.color_palette("colorblind", 1)[0])
    for y, value in enumerate(values):
        ax.annotate(
            f"{value:,.2f}",
            (value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.margins(x=0.15)


def plot_comparison_shares(shares: pd.DataFrame, targets: pd.DataFrame) -> Figure:
    """Headline renewable share with attribution bounds per scenario, with targets [%].

    Parameters
    ----------
    shares
        Index scenario; columns ``headline``, ``low``, ``high`` [-].
    targets
        ``scenario``, ``target``, ``target_share`` [-].
    """
    if shares.empty:
        msg = "no scenario with renewable_share rows"
        raise MissingDataError(msg)
    fig = _new_figure(7.5, 1.6 + 0.45 * len(shares))
    ax = fig.subplots()
    y = np.arange(len(shares))
    ax.hlines(
        y,
        shares["low"] * 100,
        shares["high"] * 100,
        color="#4c72b0",
        linewidth=7,
        alpha=0.35,
        label="Range over attribution rules",
    )
    ax.scatter(shares["headline"] * 100, y, color="#4c72b0", zorder=3, s=36, label="Headline share")
    first = True
    for yi, scenario in zip(y, shares.index, strict=True):
        for _, target in targets[targets["scenario"] == scenario].iterrows():
            ax.scatter(
                float(target["target_share"]) * 100,
                yi,
                marker="|",
                s=300,
                color="#c44e52",
                zorder=4,
                label="Target" if first else "_",
            )
            first = False
    ax.set_yticks(y, list(shares.index))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("Renewable share [%]")
    ax.set_xlim(left=0)
    ax.set_title("Renewable share by scenario")
    _legend_below(fig, ax, ncol=3)
    return fig


def plot_comparison_cost(costs: pd.Series) -> Figure:
    """Total system cost per scenario [billion CNY/yr] (``costs`` indexed by scenario)."""
    if costs.empty:
        msg = "no system_cost rows"
        raise MissingDataError(msg)
    fig = _new_figure(7.0, 1.4 + 0.4 * len(costs))
    ax = fig.subplots()
    _scenario_bar(ax, list(costs.index), costs.to_numpy(), "System cost [billion CNY/yr]")
    ax.set_title("Annualised system cost")
    return fig


def plot_comparison_stacked(
    table: pd.DataFrame, label: str, title: str, colors: dict[str, str], names: dict[str, str]
) -> Figure:
    """Stacked horizontal bars: scenarios (index) × parts (columns).

    Parameters
    ----------
    table
        Values in the unit named by ``label``.
    colors, names
        Colour and display name per column.
    """
    table = table.loc[:, (table.abs() > 1e-12).any()] if not table.empty else table
    if table.empty:
        msg = f"nothing to draw for '{title}'"
        raise MissingDataError(msg)
    fig = _new_figure(7.5, 1.8 + 0.4 * len(table))
    ax = fig.subplots()
    left = np.zeros(len(table))
    for column in table.columns:
        values = table[column].fillna(0.0).to_numpy()
        ax.barh(
            list(table.index), values, left=left, color=colors.get(column), label=names.get(column, column)
        )
        left += values
    for y, total in enumerate(left):
        ax.annotate(
            f"{total:,.2f}",
            (total, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
    ax.invert_yaxis()
    ax.margins(x=0.15)
    ax.set_xlabel(label)
    ax.set_title(title)
    _legend_below(fig, ax, ncol=4)
    return fig


def plot_comparison_capacity(capacity: pd.DataFrame, styles: pd.DataFrame) -> Figure:
    """Installed power capacity by carrier, scenarios side by side [GW].

    Parameters
    ----------
    capacity
        Columns ``scenario``, ``carrier``, ``value`` [GW].
    """
    if capacity.empty:
        msg = "no capacity rows"
        raise MissingDataError(msg)
    order = carrier_order(capacity["carrier"].unique(), styles)
    data = capacity.assign(name=capacity["carrier"].map(lambda c: display_name(c, styles)))
    scenarios = list(dict.fromkeys(capacity["scenario"]))
    fig = _new_figure(8.0, 1.8 + 0.22 * len(order) * max(1, len(scenarios)) ** 0.7)
    ax = fig.subplots()
    sns.barplot(
        data=data,
        y="name",
        x="value",
        hue="scenario",
        order=[display_name(c, styles) for c in order],
        hue_order=scenarios,
        orient="h",
        ax=ax,
        palette="colorblind",
        errorbar=None,
    )
    ax.set_xlabel("Power capacity [GW]")
    ax.set_ylabel("")
    ax.set_title("Installed capacity by carrier")
    _legend_below(fig, ax, ncol=3, title="Scenario")
    return fig


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def write_figure(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Save a figure as ``<name>.png`` and ``<name>.svg`` in ``folder`` and release it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        _freeze_layout(fig)
        for fmt in FORMATS:
            path = folder / f"{name}.{fmt}"
            fig.savefig(path, dpi=PNG_DPI if fmt == "png" else None, metadata=_metadata(fmt))
            paths.append(path)
    finally:
        fig.clear()
    return paths


def _freeze_layout(fig: Figure) -> None:
    """Solve the figure's constrained layout once, at the PNG resolution, and keep it fixed.

    With a layout engine set, ``savefig`` makes a dry-run draw of the whole figure before
    every file to solve the layout; solving it here once and removing the engine saves that
    draw for the PNG and for the SVG. The layout is the one the PNG save would compute.
    """
    engine = fig.get_layout_engine()
    if engine is None:
        return
    dpi = fig.dpi
    try:
        fig.dpi = PNG_DPI
        engine.execute(fig)
    finally:
        fig.dpi = dpi
    fig.set_layout_engine(None)


def _metadata(fmt: str) -> dict[str, str | None]:
    """File metadata without dates, so re-rendering the same results gives the same files."""
    if fmt == "svg":
        return {"Date": None}
    return {"Software": "energy_model"}


def _render(folder: Path, name: str, build: Callable[[], Figure]) -> list[Path]:
    """Build one figure and save it, or log why it is skipped; stale files of a skipped figure are removed."""
    try:
        fig = build()
    except MissingDataError as err:
        logger.info("figure '%s' skipped: %s", name, err)
        for fmt in FORMATS:
            (folder / f"{name}.{fmt}").unlink(missing_ok=True)
        return []
    except Exception:
        # a figure must never lose a solved run: log the bug with its traceback and go on
        logger.warning("figure '%s' failed and is left out", name, exc_info=True)
        for fmt in FORMATS:
            (folder / f"{name}.{fmt}").unlink(missing_ok=True)
        return []
    return write_figure(fig, folder, name)


# ---------------------------------------------------------------------------------------------
# rendering several figures: in parallel processes when the machine has the CPUs
# ---------------------------------------------------------------------------------------------

#: Most processes that render the figures of one scenario (or of the comparison) at once: this
#: process plus forked helpers. Fewer are used on machines with fewer CPUs.
MAX_WORKERS = 4
#: Figures in decreasing order of drawing time on a full year; parallel rendering hands out the
#: slowest first so that the processes finish together. Other figures follow in page order.
SLOWEST_FIRST = (
    "state_of_charge",
    "energy_balance",
    "curtailment_heatmap",
    "dispatch_winter",
    "heat",
    "dispatch_summer",
    "capacity",
    "price_duration",
    "export_duration",
    "renewable_share",
)
#: Seconds without any word from a helper process after which it is given up (stopped) and this
#: process renders the figures it has not delivered. No figure takes near this long.
HELPER_TIMEOUT_S = 300.0


def render_figures(
    folder: Path,
    builders: dict[str, Callable[[], Figure]],
    names: Sequence[str],
    workers: int | None = None,
) -> list[Path]:
    """Build and save the figures ``names`` (page order) with :func:`_render`, in parallel if possible.

    With more than one worker, this process forks helpers (Linux only) that inherit the loaded
    results, so nothing is pickled or re-read. Each process takes the next figure not yet taken
    until none is left. The log records of the figures are held back and then logged in page
    order, so the log is the same as with one worker. Every figure is drawn and saved the same way
    in whichever process, so the files are byte-identical to a serial rendering.

    Parameters
    ----------
    folder
        Where the PNG and SVG files go.
    builders
        Figure name -> function returning the figure (it only reads data already loaded).
    names
        Figures to render, in page order.
    workers
        Number of processes; ``None`` = up to :data:`MAX_WORKERS`, at most one per CPU; ``1``
        renders everything in this process.

    Returns
    -------
    list of pathlib.Path
        The files written, in page order.
    """
    names = list(names)
    count = _worker_count(len(names), workers)
    with _gc_frozen():
        if count == 1:
            done = {name: _render(folder, name, builders[name]) for name in names}
        else:
            done = _render_forked(folder, builders, names, count)
    return [path for name in names for path in done[name]]


def _worker_count(jobs: int, workers: int | None) -> int:
    """Processes to use: the request (or the CPUs, at most :data:`MAX_WORKERS`), one per job at most."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1  # helpers share the loaded data by fork(); elsewhere render in this process
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(MAX_WORKERS, cpus)
    return max(1, min(workers, jobs))


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before rendering.

    A full-year solved network (and, during ``run``, the solver's model) holds many objects; every
    full collection triggered by the figures' garbage would walk them all. Frozen, they are also
    not touched in forked helpers, whose memory then stays shared. Nothing is frozen if something
    else already froze objects.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _HeldRecords(logging.Handler):
    """Collects log records (made picklable) instead of emitting them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


@contextlib.contextmanager
def _held_logs() -> Iterator[list[logging.LogRecord]]:
    """Hold back every log record of a block (to log them later with :func:`_log_held`)."""
    root = logging.getLogger()
    holder = _HeldRecords()
    handlers = list(root.handlers)
    root.handlers = [holder]
    try:
        yield holder.records
    finally:
        root.handlers = handlers


def _log_held(records: Iterable[logging.LogRecord]) -> None:
    """Log records held back by :func:`_held_logs` (in this or a helper process) now."""
    for record in records:
        logging.getLogger(record.name).handle(record)


def _next_jobs(queue: list[str], counter: Synchronized) -> Iterator[str]:
    """The figures of ``queue`` not yet taken by any process, one at a time."""
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        if index >= len(queue):
            return
        yield queue[index]


def _helper(
    send: Connection,
    folder: Path,
    builders: dict[str, Callable[[], Figure]],
    queue: list[str],
    counter: Synchronized,
) -> None:
    """Forked helper: render figures until none is left, reporting each to the parent."""
    try:
        for name in _next_jobs(queue, counter):
            with _held_logs() as records:
                try:
                    paths = _render(folder, name, builders[name])
                except BaseException as err:  # noqa: BLE001 - handed to the parent, which raises it
                    failure: BaseException = err
                    try:
                        pickle.dumps(err)
                    except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                        failure = RuntimeError(f"figure '{name}': {type(err).__name__}: {err}")
                    send.send(("error", name, failure, records))
                    return
            send.send(("ok", name, paths, records))
    finally:
        send.close()


def _render_forked(
    folder: Path, builders: dict[str, Callable[[], Figure]], names: list[str], count: int
) -> dict[str, list[Path]]:
    """Render ``names`` in this process and ``count - 1`` forked helpers; files by figure name."""
    context = multiprocessing.get_context("fork")
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    queue = sorted(names, key=lambda name: rank.get(name, len(rank)))
    counter = context.Value("i", 0)
    done: dict[str, list[Path]] = {}
    held: dict[str, list[logging.LogRecord]] = {}
    failure: BaseException | None = None
    helpers = []
    finished = set()  # helpers that closed their pipe after their last figure
    try:
        try:
            for _ in range(count - 1):
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_helper, args=(send, folder, builders, queue, counter), daemon=True
                )
                try:
                    process.start()
                except OSError as err:  # e.g. no memory for another process: render here
                    logger.info("no figure helper process started (%s); rendering with fewer", err)
                    receive.close()
                    send.close()
                    break
                send.close()
                helpers.append((process, receive))
            for name in _next_jobs(queue, counter):
                with _held_logs() as held[name]:
                    done[name] = _render(folder, name, builders[name])
            for process, receive in helpers:
                while process not in finished and receive.poll(HELPER_TIMEOUT_S):
                    try:
                        status, name, result, records = receive.recv()
                    except EOFError:
                        finished.add(process)
                        continue
                    held[name] = records
                    if status == "ok":
                        done[name] = result
                    elif failure is None:
                        failure = result
                if process not in finished:
                    logger.warning("figure helper process %d does not answer; stopped", process.pid)
        finally:
            for process, receive in helpers:
                receive.close()
                process.join(HELPER_TIMEOUT_S if process in finished else 0)
                if process.is_alive():
                    process.kill()
                    process.join()
        missing = [name for name in queue if name not in held]
        if missing and failure is None:
            logger.warning("figures %s were not delivered by a helper process; rendered here", missing)
            for name in missing:
                with _held_logs() as held[name]:
                    done[name] = _render(folder, name, builders[name])
    finally:
        for name in names:
            _log_held(held.get(name, []))
    if failure is not None:
        raise failure
    return done


def render_scenario_figures(
    result_dir: Path, network: pypsa.Network | None = None, workers: int | None = None
) -> list[Path]:
    """Render every figure of one scenario into ``<result_dir>/figures/`` (PNG and SVG).

    Parameters
    ----------
    result_dir
        A scenario result folder (``metrics.csv``, ``network.nc``, ``scenario.yaml`` …).
    network
        The solved network that was just written to ``network.nc``, to save re-reading it
        (≈ 5 s for a full year); ``None`` reads ``network.nc``. Only its data is used.
    workers
        Processes that render the figures (:func:`render_figures`); ``None`` = one per CPU, up
        to :data:`MAX_WORKERS`; ``1`` = all in this process. The files are the same either way.

    Returns
    -------
    list of pathlib.Path
        The files written. Figures without data are skipped with a logged note.
    """
    result_dir = Path(result_dir)
    results = load_scenario_results(result_dir)
    if network is not None:
        results._network = network
    folder = result_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    n = results.network
    if n is None:
        logger.info("%s: no network.nc; only figures from metrics.csv are drawn", result_dir)
    styles = load_carrier_styles(n)
    region = results.region
    local = local_buses(n, region) if n is not None else pd.Index([])
    elec = electric_buses(n, local) if n is not None else pd.Index([])
    accounting = results.scenario.get("accounting") or {}
    headline = str(accounting.get("attribution") or ATTRIBUTIONS[0])

    def need_network() -> pypsa.Network:
        if n is None:
            msg = "no network.nc in the result folder"
            raise MissingDataError(msg)
        return n

    builders: dict[str, Callable[[], Figure]] = {
        "capacity": lambda: plot_capacity(
            results.metrics,
            styles,
            storage_energy_capacity(n, local) if n is not None else None,
            local if n is not None else None,
        ),
        "energy_balance": lambda: plot_energy_balance(
            results.metrics,
            styles,
            n.buses.carrier.astype(str) if n is not None else None,
            local if n is not None else None,
        ),
        "dispatch_winter": lambda: plot_dispatch(
            need_network(),
            select_week(need_network(), "winter", elec),
            elec,
            styles,
            "Local electricity balance, winter week",
        ),
        "dispatch_summer": lambda: plot_dispatch(
            need_network(),
            select_week(need_network(), "summer", elec),
            elec,
            styles,
            "Local electricity balance, summer week",
        ),
        "curtailment_heatmap": lambda: plot_curtailment_heatmap(need_network(), local, styles),
        "state_of_charge": lambda: plot_state_of_charge(need_network(), styles),
        "export_duration": lambda: plot_export_duration(need_network(), region, styles),
        "heat": lambda: plot_heat(need_network(), region, styles, results.temperature),
        "renewable_share": lambda: plot_renewable_share(
            results.metrics,
            scenario_targets(results),
            headline,
            f"Renewable share against targets: {results.name}",
        ),
        "price_duration": lambda: plot_price_duration(need_network(), elec),
    }
    written = render_figures(folder, builders, [spec.name for spec in SCENARIO_FIGURES], workers)
    logger.info("%s: %d figure files written", results.name, len(written))
    return written


def render_comparison(
    results_root: Path, scenario_dirs: list[Path], workers: int | None = None
) -> list[Path]:
    """Render the cross-scenario figures and tables into ``<results_root>/comparison/``.

    Parameters
    ----------
    results_root
        The ``results/`` folder.
    scenario_dirs
        Scenario result folders to compare (in display order).
    workers
        Processes that render the figures, as in :func:`render_scenario_figures`.

    Returns
    -------
    list of pathlib.Path
        Figures (PNG, SVG) and the tables ``metrics.csv`` and ``verdicts.csv`` written.
    """
    folder = Path(results_root) / "comparison"
    folder.mkdir(parents=True, exist_ok=True)
    loaded = [load_scenario_results(Path(d)) for d in scenario_dirs]
    styles = merge_carrier_styles(
        load_carrier_styles(load_carrier_table(r.network_path)) for r in loaded if r.network_path is not None
    )
    written: list[Path] = []

    tables = [r.metrics.assign(scenario=r.name) for r in loaded if not r.metrics.empty]
    metrics = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=["scenario", "metric", "variant", "carrier", "bus", "value", "unit"])
    )
    metrics = metrics[["scenario", "metric", "variant", "carrier", "bus", "value", "unit"]]
    metrics.to_csv(folder / "metrics.csv", index=False)
    written.append(folder / "metrics.csv")
    verdict_tables = [r.verdicts.assign(scenario=r.name) for r in loaded if not r.verdicts.empty]
    verdicts = pd.concat(verdict_tables, ignore_index=True) if verdict_tables else load_verdicts(folder, {})
    verdicts.to_csv(folder / "verdicts.csv", index=False)
    written.append(folder / "verdicts.csv")

    names = [r.name for r in loaded]

    def shares() -> Figure:
        rows = {}
        for r in loaded:
            accounting = r.scenario.get("accounting") or {}
            table = share_table(r.metrics, str(accounting.get("attribution") or ATTRIBUTIONS[0]))
            if table.empty:
                continue
            valuation = str(accounting.get("electricity_valuation") or "coal_equivalent")
            match = [g for g in table.index if valuation in g.split("|")]
            rows[r.name] = table.loc[match[0] if match else table.index[0]]
        targets = (
            pd.concat([scenario_targets(r).assign(scenario=r.name) for r in loaded], ignore_index=True)
            if loaded
            else pd.DataFrame(columns=["scenario", "target", "target_share"])
        )
        return plot_comparison_shares(pd.DataFrame.from_dict(rows, orient="index"), targets)

    def cost() -> Figure:
        part = metric_values(metrics[metrics["metric"] == "system_cost"], "system_cost", "billion CNY")
        series = part.groupby("scenario", sort=False)["value"].sum().reindex(names).dropna()
        return plot_comparison_cost(series)

    def curtailment() -> Figure:
        part = metric_values(metrics[metrics["metric"] == "curtailment"], "curtailment", "TWh")
        if "variant" in part and (part["variant"] == "Generator").any():
            part = part[part["variant"] == "Generator"]
        variable = metrics.loc[metrics["metric"].isin(["curtailment_rate", "available_energy"]), "carrier"]
        if not variable.empty:
            part = part[part["carrier"].isin(set(variable))]
        table = part.pivot_table(index="scenario", columns="carrier", values="value", aggfunc="sum")
        table = table.reindex(
            index=[s for s in names if s in table.index], columns=carrier_order(table.columns, styles)
        )
        return plot_comparison_stacked(
            table,
            "Curtailed energy [TWh/yr]",
            "Curtailment of variable renewables",
            {c: carrier_color(c, styles) for c in table.columns},
            {c: display_name(c, styles) for c in table.columns},
        )

    def exports() -> Figure:
        part = metric_values(metrics[metrics["metric"] == "export"], "export", "TWh")
        table = part.pivot_table(index="scenario", columns="variant", values="value", aggfunc="sum")
        table = table.reindex(index=[s for s in names if s in table.index])
        palette = sns.color_palette("colorblind", max(len(table.columns), 1)).as_hex()
        return plot_comparison_stacked(
            table,
            "Exported energy [TWh/yr]",
            "Exports by corridor",
            dict(zip(table.columns, palette, strict=False)),
            {c: str(c) for c in table.columns},
        )

    local_by_scenario = {
        r.name: local_bus_ids(load_bus_table(r.network_path), r.region)
        for r in loaded
        if r.network_path is not None
    }

    def capacity() -> Figure:
        part = metric_values(metrics[metrics["metric"] == "capacity"], "capacity")
        if part.empty:
            msg = "no capacity rows"
            raise MissingDataError(msg)
        is_local = np.array(
            [
                scenario not in local_by_scenario or bus == "" or bus in local_by_scenario[scenario]
                for scenario, bus in zip(part["scenario"], part["bus"], strict=True)
            ],
            dtype=bool,
        )
        part = part[is_local]
        part = _power_rows(part)
        part = metric_values(part, "capacity", "GW")
        if "variant" in part:
            part = part[part["variant"].astype(str) != "Store"]
        table = part.groupby(["scenario", "carrier"], sort=False)["value"].sum().reset_index()
        if not table.empty:
            table = table[
                table["value"].abs() * 1e3 > max(ABS_TOL, REL_TOL * table["value"].abs().max() * 1e3)
            ]
        return plot_comparison_capacity(table, styles)

    builders: dict[str, Callable[[], Figure]] = {
        "shares": shares,
        "system_cost": cost,
        "curtailment": curtailment,
        "exports": exports,
        "capacity": capacity,
    }
    written += render_figures(folder, builders, [spec.name for spec in COMPARISON_FIGURES], workers)
    logger.info("comparison of %d scenarios: %d files written", len(loaded), len(written))
    return written


__all__ = [
    "COMPARISON_FIGURES",
    "SCENARIO_FIGURES",
    "FigureSpec",
    "MissingDataError",
    "ScenarioResults",
    "load_carrier_styles",
    "load_scenario_results",
    "plot_capacity",
    "plot_comparison_capacity",
    "plot_comparison_cost",
    "plot_comparison_shares",
    "plot_comparison_stacked",
    "plot_curtailment_heatmap",
    "plot_dispatch",
    "plot_energy_balance",
    "plot_export_duration",
    "plot_heat",
    "plot_price_duration",
    "plot_renewable_share",
    "plot_state_of_charge",
    "render_comparison",
    "render_figures",
    "render_scenario_figures",
]
