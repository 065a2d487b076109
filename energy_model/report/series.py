"""Time series and quantities extracted from a solved network (no drawing).

Power balance of a set of buses by carrier, the example weeks, duration curves, snapshot
weightings spread back over hours, border-corridor carriers and storage energy capacity. Used by
the per-scenario figures (:mod:`energy_model.report.figures`); pandas and numpy only (the
network is passed in, PyPSA is not imported here).

Units: power in MW, energy in MWh, durations in hours [h], as in the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.report.catalog import MissingDataError
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pypsa

#: Bus carriers treated as electricity buses.
ELECTRIC_BUS_CARRIERS = ELECTRICITY_BUS_CARRIERS
#: Months of the winter and summer example weeks.
SEASON_MONTHS = {"winter": (12, 1, 2), "summer": (6, 7, 8)}
#: Absolute tolerance below which a power [MW] or energy [MWh] value counts as zero (solver noise,
#: e.g. of an interior-point solve without crossover).
ABS_TOL = 1e-3
#: Relative tolerance (to the largest value of a panel) below which a bar or series is dropped.
REL_TOL = 1e-5
#: Prefix of the keys that group loads by their carrier (``load:<carrier>``).
LOAD_PREFIX = "load:"
#: Largest number of points drawn per duration curve (more are thinned evenly; SVG size).
MAX_CURVE_POINTS = 1500


def significant(values: pd.Series, scale: float | None = None) -> pd.Series:
    """Values whose magnitude exceeds :data:`ABS_TOL` and :data:`REL_TOL` × the largest one."""
    if values.empty:
        return values
    top = float(values.abs().max()) if scale is None else scale
    return values[values.abs() > max(ABS_TOL, REL_TOL * top)]


def electric_buses(n: pypsa.Network, buses: pd.Index) -> pd.Index:
    """Subset of ``buses`` that carry electricity (bus carrier in :data:`ELECTRIC_BUS_CARRIERS`)."""
    carriers = n.buses.loc[buses, "carrier"].astype(str)
    return buses[carriers.isin(ELECTRIC_BUS_CARRIERS).to_numpy()]


def snapshot_hours(n: pypsa.Network) -> pd.Series:
    """Duration represented by each snapshot [h] (objective weighting)."""
    return n.snapshot_weightings["objective"].astype(float)


def timestamps(index: pd.Index) -> pd.DatetimeIndex:
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
        out.index = timestamps(frame.index)
        return out
    repeats = rounded.astype(int)
    starts = np.repeat(timestamps(frame.index).to_numpy(), repeats)
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
    times = timestamps(frame.index)
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


def thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``limit`` evenly spaced points of a monotone curve (first and last kept)."""
    if len(x) <= limit:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, limit).round().astype(int))
    return x[keep], y[keep]


def port_columns(n: pypsa.Network) -> list[int]:
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
    for port in port_columns(n):
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
    peaks = significant(balance.abs().max())
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
    times = timestamps(n.snapshots)
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


def corridor_carrier(n: pypsa.Network, name: str) -> str:
    """Carrier of a corridor named after one of its links or lines (``""`` if unknown)."""
    for table in (n.links, n.lines):
        if name in table.index and "carrier" in table:
            return str(table.at[name, "carrier"])
    return ""


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


__all__ = [
    "ABS_TOL",
    "ELECTRIC_BUS_CARRIERS",
    "LOAD_PREFIX",
    "MAX_CURVE_POINTS",
    "REL_TOL",
    "SEASON_MONTHS",
    "break_gaps",
    "bus_power_balance",
    "corridor_carrier",
    "duration_curve",
    "electric_buses",
    "electric_heating_links",
    "expand_to_hours",
    "port_columns",
    "select_week",
    "significant",
    "snapshot_hours",
    "storage_energy_capacity",
    "thin",
    "timestamps",
]
