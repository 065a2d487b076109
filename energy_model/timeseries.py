"""Time aggregation of a network: uniform resampling or tsam segmentation.

Reads a ``pypsa.Network`` and a :class:`~energy_model.scenario.TimeResolution`; writes nothing
to disk. The network is changed in place: its snapshots, snapshot weightings and every
time-varying input series are replaced by their aggregated counterparts.

Aggregation preserves the modelled hours: the weighting of an aggregated snapshot is the sum
of the weightings of the original snapshots it stands for, in all three columns
(``objective``, ``stores``, ``generators``). PyPSA uses ``stores`` as the elapsed hours of the
state-of-charge balance of storage units and stores, so the energy balance over a block of
``w`` hours reads ``soc_t = (1 - standing_loss)^w soc_{t-1} + w (eta_store p_store -
p_dispatch / eta_dispatch + inflow - spill)``, and a cyclic state of charge closes the year
over the aggregated snapshots (last block back to the first). Series are averaged over each
block (``e_max_pu`` takes the minimum and ``e_min_pu`` the maximum, PyPSA's rules), so annual
energies of loads, inflows and capacity factors are kept exactly.

Methods
-------
``hourly``
    Nothing changes.
``resample``
    Uniform blocks of ``hours`` snapshots-hours, via PyPSA's
    ``n.cluster.temporal.get_resample_result`` (pandas resampling of a DatetimeIndex).
``segment``
    ``segments`` variable-length blocks chosen by tsam's segmentation algorithm (Ward
    clustering of adjacent snapshots) on all time-varying inputs (each column scaled to its
    maximum absolute value), applied with PyPSA's
    ``n.cluster.temporal.get_from_snapshot_map_result``. The segmentation is computed here
    rather than with ``n.cluster.temporal.segment``, because the latter fails on snapshots
    that are not one hour apart, weights segments by their number of snapshots instead of
    their hours, and (through ``tsam.aggregate``) needs ~30 s and 1.2 GB for a year of hours;
    see :func:`compute_segment_map`.
"""

from __future__ import annotations

import logging
import time as _time
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.exceptions import ScenarioError

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import TimeResolution

logger = logging.getLogger(__name__)

#: Time-varying attributes that describe results, never inputs; they are not aggregated.
_OUTPUT_ATTRIBUTES = frozenset(
    {
        "p",
        "q",
        "p0",
        "p1",
        "p2",
        "p3",
        "p4",
        "q0",
        "q1",
        "state_of_charge",
        "e",
        "spill",
        "p_store",
        "p_dispatch",
        "mu_upper",
        "mu_lower",
        "mu_state_of_charge_set",
        "mu_energy_balance",
        "marginal_price",
        "v_ang",
        "v_mag_pu",
        "status",
        "start_up",
        "shut_down",
    }
)


def _input_series(n: pypsa.Network) -> list[tuple[str, str, pd.DataFrame]]:
    """Return ``(component, attribute, frame)`` for every non-empty time-varying input."""
    found = []
    for c in n.components:
        if c.static.empty:
            continue
        for attr, df in c.dynamic.items():
            if df.empty or attr in _OUTPUT_ATTRIBUTES or attr.startswith("mu_"):
                continue
            found.append((c.name, attr, df))
    return found


def _segment_features(n: pypsa.Network) -> np.ndarray:
    """All time-varying inputs as a (snapshot × series) array, each scaled by its max |value|."""
    columns = [
        df[col].to_numpy(dtype=float)
        for _, _, df in _input_series(n)
        for col in df.columns
    ]
    if not columns:
        msg = "the network has no time-varying input to segment"
        raise ValueError(msg)
    data = np.column_stack(columns)
    scale = np.abs(data).max(axis=0)
    scale[scale == 0] = 1.0
    return np.nan_to_num(data / scale)


def _segment_durations_tsam(data: np.ndarray, segments: int) -> np.ndarray:
    """Segment lengths [snapshots] from ``tsam.aggregate`` (one period spanning the horizon)."""
    import tsam  # noqa: PLC0415

    frame = pd.DataFrame(
        data,
        # tsam wants a regular DatetimeIndex; segments are counted in time steps, so a
        # synthetic hourly index stands for the snapshots whatever their real spacing is.
        index=pd.date_range("2001-01-01", periods=len(data), freq="h"),
        columns=[f"s{i}" for i in range(data.shape[1])],
    )
    with warnings.catch_warnings():
        # tsam warns when rescaled representatives exceed the input range by rounding error;
        # only the segment boundaries are used here, never tsam's values.
        warnings.simplefilter("ignore")
        result = tsam.aggregate(
            frame,
            n_clusters=1,
            period_duration=len(data),
            temporal_resolution=1.0,
            segments=tsam.SegmentConfig(n_segments=segments),
            preserve_column_means=False,
        )
    return (
        result.cluster_representatives.index.get_level_values("Segment Duration").to_numpy().astype(int)
    )


def _segment_durations_ward(data: np.ndarray, segments: int) -> np.ndarray:
    """Segment lengths [snapshots] by tsam's algorithm with a sparse connectivity matrix.

    tsam segments by Ward agglomerative clustering (scikit-learn) of time steps that may only
    merge with their neighbours (``tsam.algorithms.segmentation``). It passes the neighbour
    relation as a dense ``T × T`` matrix, which for a year of hours takes 0.6 GB and, with
    tsam's result tables, about 30 s; the same clustering with a sparse matrix takes < 1 s.
    """
    from scipy import sparse  # noqa: PLC0415
    from sklearn.cluster import AgglomerativeClustering  # noqa: PLC0415

    n_steps = len(data)
    if segments == 1:
        return np.array([n_steps])
    # tsam's first stage: min-max scaling of every column to [0, 1] (constant columns -> 0)
    low, high = data.min(axis=0), data.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    data = (data - low) / span
    ones = np.ones(n_steps - 1)
    chain = sparse.diags([ones, ones], [1, -1], format="csr")
    clustering = AgglomerativeClustering(n_clusters=segments, linkage="ward", connectivity=chain)
    labels = clustering.fit_predict(data)
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    return np.diff(np.concatenate([starts, [n_steps]]))


def compute_segment_map(n: pypsa.Network, segments: int, *, engine: str = "ward") -> pd.Series:
    """Segment the snapshots of ``n`` into ``segments`` contiguous blocks.

    Neighbouring snapshots whose input profiles are most alike are merged (tsam's
    segmentation: Ward agglomerative clustering restricted to adjacent time steps). All
    time-varying inputs of the network take part, each scaled by its maximum absolute value so
    that MW and per-unit series weigh alike.

    Parameters
    ----------
    n
        Network whose snapshots are consecutive time steps.
    segments
        Number of segments [-], ``1 <= segments <= len(n.snapshots)``.
    engine
        ``"ward"`` (default): tsam's clustering called with a sparse neighbour matrix;
        ``"tsam"``: ``tsam.aggregate`` itself (same segments, ~30 s and 1.2 GB for 8760 h).

    Returns
    -------
    pandas.Series
        Index: original snapshots; values: the first snapshot of the segment each belongs to.

    Raises
    ------
    ValueError
        ``segments`` out of range, unknown engine, or the network has no time-varying input.
    """
    n_snapshots = len(n.snapshots)
    if not 1 <= segments <= n_snapshots:
        msg = f"segments must be between 1 and the number of snapshots ({n_snapshots}), got {segments}"
        raise ValueError(msg)
    data = _segment_features(n)
    if engine == "ward":
        durations = _segment_durations_ward(data, segments)
    elif engine == "tsam":
        durations = _segment_durations_tsam(data, segments)
    else:
        msg = f"unknown segmentation engine '{engine}'"
        raise ValueError(msg)
    if durations.sum() != n_snapshots or len(durations) != segments:
        msg = (
            f"segmentation returned {len(durations)} segments covering {durations.sum()} of "
            f"{n_snapshots} snapshots"
        )
        raise RuntimeError(msg)
    starts = np.concatenate([[0], np.cumsum(durations)[:-1]])
    position = np.searchsorted(starts, np.arange(n_snapshots), side="right") - 1
    return pd.Series(n.snapshots[starts][position], index=n.snapshots, name="snapshot")


def compute_time_resolution(
    n: pypsa.Network, time: TimeResolution
) -> tuple[pypsa.Network, pd.Series] | None:
    """Aggregate a copy of ``n`` to the requested time resolution.

    Parameters
    ----------
    n
        Network with its original (e.g. hourly) snapshots; left unchanged.
    time
        Requested resolution.

    Returns
    -------
    tuple of (pypsa.Network, pandas.Series) or None
        The aggregated copy and the map original snapshot → aggregated snapshot, or ``None``
        when the resolution leaves the network as it is (``hourly``, ``resample`` with one
        hour on hourly data, or at least as many segments as snapshots).

    Raises
    ------
    ScenarioError
        ``resample`` on a network whose snapshots are not a DatetimeIndex.
    """
    if time.method == "hourly":
        return None
    if time.method == "resample":
        if not isinstance(n.snapshots, pd.DatetimeIndex):
            msg = (
                "time.method 'resample' needs timestamp snapshots; write snapshots.csv in PyPSA's "
                "layout (a leading unnamed index column, then 'snapshot') so PyPSA parses the dates"
            )
            raise ScenarioError(msg, key="time.method")
        step = pd.Series(n.snapshots).diff().min() if len(n.snapshots) > 1 else pd.Timedelta("1h")
        if pd.Timedelta(hours=time.hours) <= step:
            return None
        result = n.cluster.temporal.get_resample_result(f"{time.hours}h")
        return result.n, result.snapshot_map
    if time.segments >= len(n.snapshots):
        return None
    snapshot_map = compute_segment_map(n, time.segments)
    result = n.cluster.temporal.get_from_snapshot_map_result(snapshot_map)
    return result.n, snapshot_map


def apply_time_resolution(n: pypsa.Network, time: TimeResolution) -> None:
    """Replace the snapshots of ``n`` by aggregated ones, in place.

    Snapshot weightings of an aggregated snapshot are the sums over the original snapshots it
    represents (all three columns), so the objective, the generator-weighted energies of global
    constraints and the state-of-charge balance of storage (``stores`` weighting = elapsed
    hours) all keep the modelled year of hours. Cyclic storage attributes
    (``cyclic_state_of_charge``, ``e_cyclic``) are static and keep their meaning over the
    aggregated snapshots.

    Parameters
    ----------
    n
        Network, modified in place.
    time
        ``method``: ``hourly`` (no change), ``resample`` (blocks of ``hours`` [h]) or
        ``segment`` (``segments`` blocks [-] from tsam).

    Raises
    ------
    ValueError
        The resolution cannot be applied to this network (see
        :func:`compute_time_resolution`).
    """
    start = _time.perf_counter()
    aggregated = compute_time_resolution(n, time)
    if aggregated is None:
        logger.info("Time resolution '%s': network left at %d snapshots", time.method, len(n.snapshots))
        return
    m, _ = aggregated
    n_before = len(n.snapshots)
    hours_before = float(n.snapshot_weightings["objective"].sum())
    n.set_snapshots(m.snapshots)
    n.snapshot_weightings = m.snapshot_weightings.copy()
    for c in m.components:
        if c.static.empty:
            continue
        target = n.components[c.name].dynamic
        for attr, df in c.dynamic.items():
            if attr in _OUTPUT_ATTRIBUTES or attr.startswith("mu_"):
                continue
            target[attr] = df.copy()
    hours_after = float(n.snapshot_weightings["objective"].sum())
    if not np.isclose(hours_before, hours_after):
        msg = f"time aggregation changed the modelled hours from {hours_before} to {hours_after}"
        raise RuntimeError(msg)
    logger.info(
        "Time resolution '%s': %d -> %d snapshots (%.0f h kept) in %.2f s",
        time.method,
        n_before,
        len(n.snapshots),
        hours_after,
        _time.perf_counter() - start,
    )


__all__ = ["apply_time_resolution", "compute_segment_map", "compute_time_resolution"]
