"""Hourly attribution of renewable electricity to local use and exports (numbers only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pypsa
import xarray as xr

from energy_model.accounting.balance import FlowValues, Topology, compute_topology
from energy_model.scenario import Scenario
from energy_model.tables import (
    HOURLY_ATTRIBUTIONS,
)

logger = logging.getLogger(__name__)

#: Tolerance of the hourly balance check [MWh per snapshot, relative to the largest flow].
_BALANCE_RTOL = 1e-4

# ---------------------------------------------------------------------------------------------
# Hourly attribution (numbers only)
# ---------------------------------------------------------------------------------------------

HOURLY_COLUMNS = (
    "renewable",
    "other",
    "imports",
    "discharge",
    "loads",
    "charge",
    "exports",
    "losses",
)


def compute_hourly_flows(
    n: pypsa.Network,
    sc: Scenario,
    *,
    topology: Topology | None = None,
    values: FlowValues | None = None,
) -> pd.DataFrame:
    """Hourly electricity flows of the local electricity buses of a solved network [MW].

    Columns: supplies ``renewable`` (local renewable generators), ``other`` (other local
    generation, incl. power from conversion links), ``imports``, ``discharge`` (storage);
    uses ``loads`` (loads + electricity taken by conversion links), ``charge`` (storage),
    ``exports``, ``losses`` (internal links). Storage units, stores on electricity buses and
    links to storage buses are storage. ``topology`` (``compute_topology(n, sc)``) and
    ``values`` (a numbers-mode :class:`FlowValues` of ``n``): when the caller has them already.
    """
    topo = topology if topology is not None else compute_topology(n, sc)
    if values is None:
        values = FlowValues(n, model=False)
    elif values.model:
        raise ValueError("hourly flows are numbers: values must not be linopy expressions")
    # numbers per snapshot; the same floats as xarray's sum over names and pandas' clip, without
    # their per-call overhead (one sum and two clips per port)
    zero = np.zeros(len(n.snapshots))

    def per_snapshot(array: xr.DataArray) -> np.ndarray:
        data = array.to_numpy()
        return np.sum(np.where(np.isnan(data), 0.0, data), axis=array.get_axis_num("name"))

    def positive(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x) | (x >= 0), x, 0.0)

    flows = {c: zero.copy() for c in HOURLY_COLUMNS}
    if topo.renewable_generators:
        flows["renewable"] += per_snapshot(
            values.flow("Generator", "p", topo.renewable_generators).clip(min=0)
        )
    if topo.other_generators:
        p = values.flow("Generator", "p", topo.other_generators)
        flows["other"] += per_snapshot(p.clip(min=0))
        flows["loads"] += per_snapshot((-p).clip(min=0))
    if topo.loads:
        load = values.load(topo.loads)
        flows["loads"] += per_snapshot(load.clip(min=0))
        flows["other"] += per_snapshot((-load).clip(min=0))
    for port in topo.border_ports:
        w = per_snapshot(values.withdrawal(port))
        flows["exports"] += positive(w)
        flows["imports"] += positive(-w)
    renewable_outputs = {
        (p.name, p.port) for p in topo.renewable_conversion_ports if not p.two_way
    }
    for port in topo.conversion_ports:
        w = per_snapshot(values.withdrawal(port))
        flows["loads"] += positive(w)
        if (port.name, port.port) in renewable_outputs and not port.withdraws:
            flows["renewable"] += positive(-w)
        else:
            flows["other"] += positive(-w)
    for port in topo.storage_ports:
        w = per_snapshot(values.withdrawal(port))
        flows["charge"] += positive(w)
        flows["discharge"] += positive(-w)
    if topo.storage_units:
        flows["charge"] += per_snapshot(values.flow("StorageUnit", "p_store", topo.storage_units))
        flows["discharge"] += per_snapshot(
            values.flow("StorageUnit", "p_dispatch", topo.storage_units)
        )
    if topo.stores:
        p = per_snapshot(values.flow("Store", "p", topo.stores))
        flows["discharge"] += positive(p)
        flows["charge"] += positive(-p)
    for port in topo.internal_ports:
        flows["losses"] += per_snapshot(values.withdrawal(port))
    frame = pd.DataFrame(flows, index=n.snapshots)
    supply = frame[["renewable", "other", "imports", "discharge"]].sum(axis=1)
    use = frame[["loads", "charge", "exports", "losses"]].sum(axis=1)
    scale = max(float(supply.abs().max()), float(use.abs().max()), 1.0)
    mismatch = float((supply - use).abs().max())
    if mismatch > _BALANCE_RTOL * scale:
        logger.warning(
            "local electricity balance does not close: max |supply - use| = %.3g MW "
            "(largest flow %.3g MW); attribution uses the uses side",
            mismatch,
            scale,
        )
    return frame


@dataclass(frozen=True)
class Attribution:
    """Result of one attribution rule (annual, MWh).

    Attributes
    ----------
    local
        Renewable electricity consumed locally (loads + storage losses).
    exported
        Renewable electricity attributed to exports.
    storage_fraction
        Renewable fraction of the energy charged into (and discharged from) storage [-].
    hourly_fraction
        Renewable fraction of the local uses per snapshot [-].
    """

    local: float
    exported: float
    storage_fraction: float
    hourly_fraction: pd.Series


def compute_attribution(
    flows: pd.DataFrame, weights: pd.Series, rule: str, *, max_iter: int = 200
) -> Attribution:
    r"""Attribute renewable electricity hour by hour to local uses and to exports.

    Per snapshot, with renewable supply :math:`R_t = G_{RE,t} + f D_t` and local uses
    :math:`U_t = L_t + C_t + \Lambda_t`, total :math:`S_t = U_t + X_t`:

    * ``hourly_mix``: :math:`R^{loc}_t = R_t U_t / S_t` (one pool for local uses and exports);
    * ``local_first``: :math:`R^{loc}_t = \min(R_t, U_t)` (upper bound);
    * ``export_first``: :math:`R^{loc}_t = \max(R_t - X_t, 0)` (lower bound).

    :math:`R^{loc}_t` is shared among loads, storage charging and losses by volume. The
    storage fraction :math:`f` (renewable share of charged energy, which the discharge carries)
    is the fixed point of :math:`f = \sum_t R^{loc}_t C_t/U_t \,/\, \sum_t C_t`. Local
    renewable consumption :math:`= \sum_t R^{loc}_t L_t/U_t + f(\sum C - \sum D)`.

    Parameters
    ----------
    flows
        Output of :func:`compute_hourly_flows` [MW].
    weights
        Snapshot weightings [h].
    rule
        ``hourly_mix``, ``local_first`` or ``export_first``.
    max_iter
        Iteration limit of the storage fixed point.
    """
    if rule not in HOURLY_ATTRIBUTIONS:
        msg = f"unknown hourly attribution rule {rule!r}"
        raise ValueError(msg)
    w = weights.reindex(flows.index).to_numpy(dtype=float)
    g = flows["renewable"].to_numpy(dtype=float)
    d = flows["discharge"].to_numpy(dtype=float)
    loads = flows["loads"].to_numpy(dtype=float)
    c = flows["charge"].to_numpy(dtype=float)
    x = flows["exports"].to_numpy(dtype=float)
    lam = flows["losses"].to_numpy(dtype=float)
    u = loads + c + lam
    s = u + x
    charged = float((c * w).sum())
    discharged = float((d * w).sum())

    def local_re(f: float) -> np.ndarray:
        r = np.minimum(g + f * d, s)
        if rule == "hourly_mix":
            return np.divide(r * u, s, out=np.zeros_like(r), where=s > 0)
        if rule == "local_first":
            return np.minimum(r, u)
        return np.clip(r - x, 0, None)

    def share_of(part: np.ndarray, r_loc: np.ndarray) -> np.ndarray:
        return np.divide(r_loc * part, u, out=np.zeros_like(r_loc), where=u > 0)

    f = 0.0
    if charged > 0:
        for _ in range(max_iter):
            f_new = float((share_of(c, local_re(f)) * w).sum()) / charged
            f_new = min(max(f_new, 0.0), 1.0)
            if abs(f_new - f) < 1e-12:
                f = f_new
                break
            f = f_new
    r_loc = local_re(f)
    to_loads = float((share_of(loads, r_loc) * w).sum())
    local = to_loads + f * (charged - discharged)
    r_total = np.minimum(g + f * d, s)
    exported = float(((r_total - r_loc) * w).sum())
    fraction = pd.Series(np.divide(r_loc, u, out=np.zeros_like(r_loc), where=u > 0), flows.index)
    return Attribution(local=local, exported=exported, storage_fraction=f, hourly_fraction=fraction)


