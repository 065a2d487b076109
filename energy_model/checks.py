"""Physical checks of a solved network: balance, storage bounds, capacities, shares.

Reads a solved ``pypsa.Network`` (after ``assign_solution``) or a metrics table; writes nothing.
Every solve is followed by :func:`check_solution`; a violation is a
:class:`~energy_model.exceptions.PhysicsCheckError` whose one-line message names the check, the
component or bus, the snapshot and the size of the violation. These checks recompute the
quantities from the primal solution independently of PyPSA's statistics module, so they catch a
wrong sign convention or a mis-assigned solution as well as solver trouble.

Tolerances
----------
``BALANCE_RTOL`` (1e-6): the residual of the power balance at a bus and snapshot, relative to the
gross flow through that bus in that snapshot (sum of the absolute values of all injections and
withdrawals) or to ``FLOOR_MW`` (1 MW), whichever is larger. ``BOUND_RTOL`` (1e-6): bounds of
dispatch, flows and storage levels, relative to the capacity (or ``FLOOR_MW``/``FLOOR_MWH``).
``SHARE_ATOL_PP`` (1e-3 pp): shares must lie in [0, 100] % and an enforced target must hold
within this many percentage points (the verdict tolerance of ``accounting``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.exceptions import InfeasibleError, PhysicsCheckError

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

#: Relative tolerance of the bus power balance [-].
BALANCE_RTOL = 1e-6
#: Relative tolerance of capacity and storage bounds [-].
BOUND_RTOL = 1e-6
#: Floor of the reference flow of the relative tolerances [MW].
FLOOR_MW = 1.0
#: Floor of the reference energy of the storage-level tolerance [MWh].
FLOOR_MWH = 1.0
#: Tolerance of share bounds and of enforced targets [percentage points].
SHARE_ATOL_PP = 1e-3
#: Metrics (``metric`` column) that are shares in % and must lie in [0, 100].
SHARE_METRICS = (
    "renewable_share",
    "renewable_share_electricity",
    "renewable_share_sensitivity",
    "data_centre_renewable_share",
    "storage_renewable_fraction",
    "target_achieved_share",
    "target_enforced_share",
)


def _fail(check: str, where: str, detail: str) -> PhysicsCheckError:
    text = f"physical check '{check}' failed: {where}: {detail}"
    return PhysicsCheckError(" ".join(text.split()))


def _first_violation(excess: pd.DataFrame) -> tuple[object, str, float] | None:
    """(snapshot, column, excess) of the largest positive excess, or ``None``."""
    if excess.empty:
        return None
    values = excess.to_numpy(dtype=float)
    values = np.where(np.isnan(values), np.inf, values)
    if not (values > 0).any():
        return None
    i, j = np.unravel_index(int(np.argmax(values)), values.shape)
    return excess.index[i], str(excess.columns[j]), float(values[i, j])


def _active(n: pypsa.Network, component: str) -> pd.Index:
    static = n.components[component].static
    if "active" in static.columns:
        return static.index[static["active"].astype(bool)]
    return static.index


def compute_bus_balance(n: pypsa.Network) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Net injection and gross flow per bus and snapshot of a solved network.

    Injections are ``sign * p`` of generators, loads, storage units, stores and shunt
    impedances, and ``-p_k`` at port ``k`` of links, lines and transformers (PyPSA's branch
    ``p_k`` is the power withdrawn from ``bus_k``).

    Returns
    -------
    net, gross
        DataFrames (snapshots × buses) [MW]: sum of injections (zero when the balance closes)
        and sum of their absolute values.
    """
    net = pd.DataFrame(0.0, index=n.snapshots, columns=n.buses.index)
    gross = net.copy()

    def add(flow: pd.DataFrame, buses: pd.Series) -> None:
        if flow.empty:
            return
        flow = flow.reindex(index=n.snapshots).fillna(0.0)
        grouped = flow.T.groupby(buses.reindex(flow.columns).to_numpy()).sum().T
        grouped_abs = flow.abs().T.groupby(buses.reindex(flow.columns).to_numpy()).sum().T
        net.loc[:, grouped.columns] += grouped
        gross.loc[:, grouped_abs.columns] += grouped_abs

    for component in ("Generator", "Load", "StorageUnit", "Store", "ShuntImpedance"):
        c = n.components[component]
        names = _active(n, component)
        if names.empty or "p" not in c.dynamic:
            continue
        p = c.dynamic["p"].reindex(columns=names).fillna(0.0)
        sign = c.static["sign"].reindex(names).astype(float)
        add(p * sign, c.static["bus"].reindex(names))
    for component in ("Link", "Line", "Transformer"):
        c = n.components[component]
        names = _active(n, component)
        if names.empty:
            continue
        ports = [
            column[3:] for column in c.static.columns
            if column.startswith("bus") and column[3:].isdigit()
        ]
        for port in ports:
            key = f"p{port}"
            if key not in c.dynamic or c.dynamic[key].empty:
                continue
            buses = c.static[f"bus{port}"].reindex(names)
            connected = buses.index[buses.astype(str).str.strip() != ""]
            flow = c.dynamic[key].reindex(columns=connected).fillna(0.0)
            add(-flow, buses.reindex(connected))
    return net, gross


def check_balance(n: pypsa.Network, rtol: float = BALANCE_RTOL) -> None:
    """Power balance closes at every bus and snapshot.

    .. math:: |\\sum_i s_i p_{i,b,t}| \\le \\mathrm{rtol} \\cdot \\max(\\sum_i |p_{i,b,t}|, 1\\,\\mathrm{MW})

    Raises
    ------
    PhysicsCheckError
        Naming the bus and snapshot of the largest relative residual [MW].
    """
    net, gross = compute_bus_balance(n)
    allowed = rtol * np.maximum(gross, FLOOR_MW)
    hit = _first_violation(net.abs() - allowed)
    if hit is None:
        return
    snapshot, bus, _ = hit
    residual = float(net.at[snapshot, bus])
    raise _fail(
        "energy balance",
        f"bus '{bus}', snapshot '{snapshot}'",
        f"injections minus withdrawals = {residual:.6g} MW (gross flow "
        f"{float(gross.at[snapshot, bus]):.6g} MW, tolerance {rtol:g} relative)",
    )


def _capacity(static: pd.DataFrame, nominal: str) -> pd.Series:
    """Optimised capacity (``<nominal>_opt``), falling back to the fixed one [MW or MWh]."""
    opt = f"{nominal}_opt"
    if opt in static.columns:
        return static[opt].astype(float).fillna(static[nominal].astype(float))
    return static[nominal].astype(float)


def _bound(pu: pd.DataFrame, capacity: pd.Series) -> pd.DataFrame:
    """Per-unit bound times capacity; a zero per-unit bound stays zero for an infinite capacity."""
    bound = pu * capacity
    return bound.where(pu != 0, 0.0)


def _check_bounds(
    check: str,
    component: str,
    value: pd.DataFrame,
    lower: pd.DataFrame | None,
    upper: pd.DataFrame | None,
    reference: pd.Series,
    unit: str,
    rtol: float,
) -> None:
    """Raise when ``value`` leaves ``[lower, upper]`` by more than ``rtol * reference``."""
    if value.empty:
        return
    tolerance = pd.DataFrame(
        np.tile(rtol * reference.reindex(value.columns).to_numpy(dtype=float), (len(value), 1)),
        index=value.index,
        columns=value.columns,
    )
    for bound, excess, word in (
        (upper, value - upper if upper is not None else None, "above"),
        (lower, lower - value if lower is not None else None, "below"),
    ):
        if bound is None or excess is None:
            continue
        hit = _first_violation(excess - tolerance)
        if hit is None:
            continue
        snapshot, name, _ = hit
        raise _fail(
            check,
            f"{component} '{name}', snapshot '{snapshot}'",
            f"value {float(value.at[snapshot, name]):.6g} {unit} is {word} the bound "
            f"{float(bound.at[snapshot, name]):.6g} {unit}",
        )


def check_capacities(n: pypsa.Network, rtol: float = BOUND_RTOL) -> None:
    """Dispatch of generators, links, lines and storage units stays within capacity.

    Generators: :math:`\\underline{p}_{t} P \\le p_t \\le \\overline{p}_{t} P`
    (the lower bound is skipped for committable units); links: same with ``p0``; lines and
    transformers: :math:`|p_{0,t}| \\le \\overline{s}_t S`; storage units: dispatch
    :math:`\\le \\overline{p}_t P` and store :math:`\\le -\\underline{p}_t P`.
    :math:`P, S` are the optimised (or fixed) capacities [MW].

    Raises
    ------
    PhysicsCheckError
        Naming the component and snapshot of the first violation.
    """
    sns = n.snapshots
    for component, flow_key, nominal in (
        ("Generator", "p", "p_nom"),
        ("Link", "p0", "p_nom"),
    ):
        c = n.components[component]
        names = _active(n, component)
        if names.empty or flow_key not in c.dynamic:
            continue
        capacity = _capacity(c.static, nominal).reindex(names)
        flow = c.dynamic[flow_key].reindex(index=sns, columns=names).fillna(0.0)
        high = _bound(n.get_switchable_as_dense(component, "p_max_pu", sns)[names], capacity)
        low = _bound(n.get_switchable_as_dense(component, "p_min_pu", sns)[names], capacity)
        if "committable" in c.static.columns:
            committable = c.static["committable"].reindex(names).astype(bool)
            low.loc[:, committable[committable].index] = -np.inf
        reference = np.maximum(capacity.abs(), FLOOR_MW)
        _check_bounds("capacity", component, flow, low, high, reference, "MW", rtol)
    for component in ("Line", "Transformer"):
        c = n.components[component]
        names = _active(n, component)
        if names.empty or "p0" not in c.dynamic:
            continue
        capacity = _capacity(c.static, "s_nom").reindex(names)
        flow = c.dynamic["p0"].reindex(index=sns, columns=names).fillna(0.0).abs()
        high = _bound(n.get_switchable_as_dense(component, "s_max_pu", sns)[names], capacity)
        reference = np.maximum(capacity.abs(), FLOOR_MW)
        _check_bounds("capacity", component, flow, None, high, reference, "MW", rtol)
    c = n.components["StorageUnit"]
    names = _active(n, "StorageUnit")
    if not names.empty and "p_dispatch" in c.dynamic:
        capacity = _capacity(c.static, "p_nom").reindex(names)
        reference = np.maximum(capacity.abs(), FLOOR_MW)
        dispatch = c.dynamic["p_dispatch"].reindex(index=sns, columns=names).fillna(0.0)
        store = c.dynamic["p_store"].reindex(index=sns, columns=names).fillna(0.0)
        high = _bound(n.get_switchable_as_dense("StorageUnit", "p_max_pu", sns)[names], capacity)
        low = _bound(n.get_switchable_as_dense("StorageUnit", "p_min_pu", sns)[names], capacity)
        _check_bounds("capacity", "StorageUnit", dispatch, None, high, reference, "MW", rtol)
        _check_bounds("capacity", "StorageUnit", store, None, -low, reference, "MW", rtol)


def check_storage_levels(n: pypsa.Network, rtol: float = BOUND_RTOL) -> None:
    """Storage levels stay within their bounds.

    Storage units: :math:`0 \\le e_t \\le h P` (``max_hours`` :math:`h` [h], :math:`P` [MW]);
    stores: :math:`\\underline{e}_t E \\le e_t \\le \\overline{e}_t E` (:math:`E` [MWh]).

    Raises
    ------
    PhysicsCheckError
        Naming the storage and snapshot of the first violation [MWh].
    """
    sns = n.snapshots
    c = n.components["StorageUnit"]
    names = _active(n, "StorageUnit")
    if not names.empty and "state_of_charge" in c.dynamic:
        energy = _capacity(c.static, "p_nom").reindex(names) * c.static["max_hours"].reindex(names)
        level = c.dynamic["state_of_charge"].reindex(index=sns, columns=names).fillna(0.0)
        high = pd.DataFrame(
            np.tile(energy.to_numpy(dtype=float), (len(sns), 1)), index=sns, columns=names
        )
        low = high * 0.0
        reference = np.maximum(energy.abs(), FLOOR_MWH)
        _check_bounds("storage level", "StorageUnit", level, low, high, reference, "MWh", rtol)
    c = n.components["Store"]
    names = _active(n, "Store")
    if not names.empty and "e" in c.dynamic:
        capacity = _capacity(c.static, "e_nom").reindex(names)
        level = c.dynamic["e"].reindex(index=sns, columns=names).fillna(0.0)
        high = _bound(n.get_switchable_as_dense("Store", "e_max_pu", sns)[names], capacity)
        low = _bound(n.get_switchable_as_dense("Store", "e_min_pu", sns)[names], capacity)
        reference = np.maximum(capacity.abs(), FLOOR_MWH)
        _check_bounds("storage level", "Store", level, low, high, reference, "MWh", rtol)


def check_solution(n: pypsa.Network, sc: Scenario | None = None) -> None:
    """Run every physical check on a solved network.

    Parameters
    ----------
    n
        Network after ``n.optimize.assign_solution()``.
    sc
        The scenario (used for the message only).

    Raises
    ------
    PhysicsCheckError
        The first violated invariant: balance at a bus and snapshot, a dispatch or flow above
        (or below) capacity, or a storage level outside its bounds.
    """
    try:
        check_balance(n)
        check_capacities(n)
        check_storage_levels(n)
    except PhysicsCheckError as err:
        if sc is None:
            raise
        raise PhysicsCheckError(f"scenario '{sc.name}': {err}") from err
    logger.info("physical checks passed: balance, capacities, storage levels")


def _can_inject(n: pypsa.Network) -> set[str]:
    """Buses where at least one active component could ever inject power.

    Generators and storage with capacity (or extendable) and a positive per-unit maximum in
    some snapshot; lines and transformers at either end; links at any output port ``busN`` with
    a positive efficiency, and at ``bus0`` when they can run backwards (``p_min_pu < 0``).
    """
    sns = n.snapshots
    able: set[str] = set()
    for component, nominal, extendable, pu in (
        ("Generator", "p_nom", "p_nom_extendable", "p_max_pu"),
        ("StorageUnit", "p_nom", "p_nom_extendable", "p_max_pu"),
        ("Store", "e_nom", "e_nom_extendable", None),
    ):
        static = n.components[component].static
        names = _active(n, component)
        if names.empty:
            continue
        sized = (static.loc[names, nominal].astype(float) > 0) | static.loc[names, extendable].astype(bool)
        if pu is not None:
            sized &= (n.get_switchable_as_dense(component, pu, sns)[names] > 0).any()
        able |= set(static.loc[names[sized.to_numpy()], "bus"].astype(str))
    for component in ("Line", "Transformer"):
        static = n.components[component].static.loc[_active(n, component)]
        able |= set(static["bus0"].astype(str)) | set(static["bus1"].astype(str))
    links = n.links.loc[_active(n, "Link")]
    if not links.empty:
        sized = (links["p_nom"].astype(float) > 0) | links["p_nom_extendable"].astype(bool)
        backwards = (n.get_switchable_as_dense("Link", "p_min_pu", sns)[links.index] < 0).any()
        able |= set(links.loc[(sized & backwards).to_numpy(), "bus0"].astype(str))
        for column in (c for c in links.columns if c.startswith("bus") and c[3:].isdigit()):
            if column == "bus0":
                continue
            port = column[3:]
            key = "efficiency" if port == "1" else f"efficiency{port}"
            if key not in links.columns:
                continue
            efficiency = n.get_switchable_as_dense("Link", key, sns)[links.index]
            forward = sized & (efficiency > 0).any()
            able |= set(links.loc[forward.to_numpy(), column].astype(str))
    return able - {""}


def check_supply(n: pypsa.Network, scenario: str = "") -> None:
    """Every bus with demand has something that could ever supply it (before any solve).

    A bus whose loads withdraw power in some snapshot (:math:`p_{set} > 0`) while no active
    component could inject there (:func:`_can_inject`) makes the LP infeasible; PyPSA even
    refuses to build it ("Empty LHS with non-zero RHS").

    Raises
    ------
    InfeasibleError
        Naming the first such bus and its peak demand [MW].
    """
    loads = n.loads.loc[_active(n, "Load")]
    if loads.empty:
        return
    demand = n.get_switchable_as_dense("Load", "p_set", n.snapshots)[loads.index]
    demand = demand * loads["sign"].astype(float).abs().to_numpy()
    peak = demand.max().groupby(loads["bus"].astype(str).to_numpy()).max()
    able = _can_inject(n)
    for bus, value in peak.items():
        if value > 0 and bus not in able:
            prefix = f"scenario '{scenario}': " if scenario else ""
            msg = (
                f"{prefix}bus '{bus}' has a demand of up to {value:.6g} MW but nothing could ever "
                "supply it (no generator, storage, line or incoming link with capacity there); "
                "no result was written"
            )
            raise InfeasibleError(msg, status="warning", condition="infeasible")


def check_shares(metrics: pd.DataFrame, sc: Scenario | None = None) -> None:
    """Shares in a metrics table lie in [0, 100] % and enforced targets hold.

    Parameters
    ----------
    metrics
        Tidy metrics (``metric, variant, carrier, bus, value, unit``).
    sc
        Scenario; its enforced targets are checked against ``target_enforced_share``
        (under the enforced rule, ``sc.enforced_attribution``).

    Raises
    ------
    PhysicsCheckError
        Naming the metric and variant of a share outside [0, 100] % (NaN included), or an
        enforced target whose share is below its minimum by more than ``SHARE_ATOL_PP``.
    """
    rows = metrics[metrics["metric"].isin(SHARE_METRICS) & metrics["unit"].eq("%")]
    for _, row in rows.iterrows():
        value = float(row["value"])
        if not (-SHARE_ATOL_PP <= value <= 100 + SHARE_ATOL_PP):
            where = f"metric '{row['metric']}', variant '{row['variant']}'"
            if row["carrier"]:
                where += f", carrier '{row['carrier']}'"
            prefix = f"scenario '{sc.name}': " if sc is not None else ""
            what = (
                "is not a number (its denominator is zero: no consumption of that kind was "
                "found in the network)"
                if np.isnan(value)
                else f"{value:.6g} % is outside [0, 100] %"
            )
            raise PhysicsCheckError(
                f"{prefix}physical check 'share bounds' failed: {where}: value {what}"
            )
    if sc is None:
        return
    for target in sc.targets:
        if not target.enforce:
            continue
        hit = metrics[metrics["metric"].eq("target_enforced_share")
                      & metrics["variant"].eq(target.name)]
        if hit.empty:
            continue
        achieved = float(hit["value"].iloc[0])
        if achieved < target.min_share * 100 - SHARE_ATOL_PP:
            raise PhysicsCheckError(
                f"scenario '{sc.name}': physical check 'enforced target' failed: target "
                f"'{target.name}': share {achieved:.6g} % is below the enforced minimum "
                f"{target.min_share * 100:.6g} %"
            )


__all__ = [
    "BALANCE_RTOL",
    "BOUND_RTOL",
    "check_balance",
    "check_capacities",
    "check_shares",
    "check_solution",
    "check_storage_levels",
    "check_supply",
    "compute_bus_balance",
]
