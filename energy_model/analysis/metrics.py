"""Metrics stage: tidy tables computed from a solved network (no I/O, no plots).

Reads a solved ``pypsa.Network`` and the ``SolveResult``; returns a long table with columns
``metric, variant, carrier, bus, value, unit`` (ids, never display names). Built on
``n.statistics(..., nice_names=False)``; the renewable-share accounting lives in
:mod:`energy_model.accounting` and the heating metrics in :mod:`energy_model.heating`; rows
are built with the helpers of :mod:`energy_model.tables`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model import accounting, heating
from energy_model.network import HEAT_BUS_CARRIER, border_flows
from energy_model.tables import METRIC_COLUMNS, MWH_PER_TWH, row
from energy_model.tables import tidy as _tidy

if TYPE_CHECKING:
    from pathlib import Path

    import pypsa

    from energy_model.optimization.solve import SolveResult
    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)


def _capacity_frame(n: pypsa.Network) -> pd.DataFrame:
    """``capacity`` rows by bus and carrier [MW; MWh for stores] (PyPSA's optimal capacity)."""
    stats = n.statistics.optimal_capacity(groupby=["bus", "carrier"], nice_names=False)
    capacity = _tidy(stats, "capacity", "MW")
    capacity.loc[capacity["variant"] == "Store", "unit"] = "MWh"  # a Store's capacity is e_nom
    return capacity


def _curtailment_rows(n: pypsa.Network) -> list[dict[str, object]]:
    """Curtailment of variable renewables (generators with a p_max_pu series), from PyPSA's
    statistics: energy by bus and carrier [TWh], by bus, carrier and calendar month
    (``curtailment_monthly``, variant ``month=MM``; an aggregated snapshot counts in the month
    it starts in) and rate by carrier [%]."""
    rows: list[dict[str, object]] = []
    weights = n.snapshot_weightings.generators
    gens = n.generators
    variable = gens.index[gens.index.isin(n.generators_t.p_max_pu.columns)]
    if len(variable):
        available = n.generators_t.p_max_pu[variable].mul(gens.p_nom_opt[variable]).mul(weights, axis=0)
        by_carrier_available = available.sum().groupby(gens.carrier[variable]).sum()
        hourly = n.statistics.curtailment(
            components="Generator", aggregate_time=False, groupby=["bus", "carrier"], nice_names=False
        )
        pairs = pd.MultiIndex.from_arrays([gens.bus[variable], gens.carrier[variable]]).unique()
        hourly = hourly.loc[hourly.index.isin(pairs)].T.clip(lower=0).mul(weights, axis=0)
        for (bus, carrier), energy in hourly.sum().items():
            rows.append(row("curtailment", energy / MWH_PER_TWH, "TWh", carrier=str(carrier), bus=str(bus)))
        monthly = hourly.groupby(hourly.index.month).sum()
        for month, by_pair in monthly.iterrows():
            for (bus, carrier), energy in by_pair.items():
                rows.append(
                    row(
                        "curtailment_monthly",
                        energy / MWH_PER_TWH,
                        "TWh",
                        variant=f"month={int(month):02d}",
                        carrier=str(carrier),
                        bus=str(bus),
                    )
                )
        by_carrier_curtailed = hourly.sum().groupby(level="carrier").sum()
        for carrier, total in by_carrier_available.items():
            curtailed = float(by_carrier_curtailed.get(carrier, 0.0))
            rate = 100 * curtailed / total if total > 0 else 0.0
            rows.append(row("curtailment_rate", rate, "%", carrier=str(carrier)))
            rows.append(row("available_energy", total / MWH_PER_TWH, "TWh", carrier=str(carrier)))
    return rows


def _corridor_rows(n: pypsa.Network, sc: Scenario) -> list[dict[str, object]]:
    """Corridor flows [TWh], utilisation of each corridor [%]."""
    rows: list[dict[str, object]] = []
    weights = n.snapshot_weightings.generators
    flows = border_flows(n, sc.accounting.region, components=("Link",))
    for link in flows.columns:
        energy = flows[link].mul(weights)
        bus = n.links.at[link, "bus1"] if energy.sum() >= 0 else n.links.at[link, "bus0"]
        rows.append(row("export", energy.clip(lower=0).sum() / MWH_PER_TWH, "TWh", variant=link, bus=bus))
        rows.append(row("import", -energy.clip(upper=0).sum() / MWH_PER_TWH, "TWh", variant=link, bus=bus))
        p_nom = n.links.at[link, "p_nom_opt"]
        if p_nom > 0:
            utilisation = 100 * flows[link].abs().mul(weights).sum() / (p_nom * weights.sum())
            rows.append(row("corridor_utilisation", utilisation, "%", variant=link, bus=bus))
    return rows


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Metric frames as one table, sorted, index reset (the same solution, the same table)."""
    table = pd.concat([f[METRIC_COLUMNS] for f in frames if not f.empty], ignore_index=True)
    table[["variant", "carrier", "bus"]] = table[["variant", "carrier", "bus"]].fillna("").astype(str)
    return table.sort_values(["metric", "variant", "carrier", "bus"], kind="stable").reset_index(drop=True)


def compute_core_metrics(n: pypsa.Network, sc: Scenario, result: SolveResult) -> pd.DataFrame:
    """Capacities, energy balance, curtailment, costs, prices, corridor flows and storage.

    Parameters
    ----------
    n
        Solved network.
    sc
        The scenario (for the accounting region).
    result
        Outcome of :func:`energy_model.optimization.solve.solve`.
    """
    stats = n.statistics
    groupby = ["bus", "carrier"]
    frames = [
        _capacity_frame(n),
        _tidy(stats.supply(groupby=groupby, nice_names=False) / MWH_PER_TWH, "supply", "TWh"),
        _tidy(stats.withdrawal(groupby=groupby, nice_names=False) / MWH_PER_TWH, "withdrawal", "TWh"),
        _tidy(stats.capex(groupby=groupby, nice_names=False), "capex", "CNY/yr"),
        _tidy(stats.opex(groupby=groupby, nice_names=False), "opex", "CNY/yr"),
    ]
    rows: list[dict[str, object]] = [
        row("objective", result.objective, "CNY/yr"),
        row(
            "system_cost",
            stats.capex(nice_names=False).sum() + stats.opex(nice_names=False).sum(),
            "CNY/yr",
        ),
    ]
    weights = n.snapshot_weightings.generators
    rows += _curtailment_rows(n)
    rows += _corridor_rows(n, sc)

    # Storage throughput [TWh] (energy discharged).
    for name in n.storage_units.index:
        discharged = n.storage_units_t.p[name].clip(lower=0).mul(weights).sum()
        rows.append(row("storage_discharge", discharged / MWH_PER_TWH, "TWh", variant=name,
                        carrier=n.storage_units.at[name, "carrier"], bus=n.storage_units.at[name, "bus"]))
    store_weights = n.snapshot_weightings.stores
    for name in n.stores.index:
        discharged = n.stores_t.p[name].clip(lower=0).mul(store_weights).sum()
        rows.append(row("storage_discharge", discharged / MWH_PER_TWH, "TWh", variant=name,
                        carrier=n.stores.at[name, "carrier"], bus=n.stores.at[name, "bus"]))

    # Load-weighted mean marginal price per bus [CNY/MWh].
    prices = n.buses_t.marginal_price
    for bus in prices.columns:
        rows.append(row("mean_price", float(np.average(prices[bus], weights=weights)), "CNY/MWh", bus=bus))

    frames.append(pd.DataFrame(rows, columns=METRIC_COLUMNS))
    table = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    table[["variant", "carrier", "bus"]] = table[["variant", "carrier", "bus"]].fillna("").astype(str)
    return table


def compute_metrics(
    n: pypsa.Network, sc: Scenario, result: SolveResult, project_root: Path
) -> pd.DataFrame:
    """All metrics of a solved scenario: core, renewable-share accounting and heating.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, variant, carrier, bus, value, unit``; sorted, index reset, so the same
        solution always gives the same table.
    """
    frames = [compute_core_metrics(n, sc, result)]
    frames.append(accounting.compute_share_metrics(n, sc, project_root, result.duals))
    if (n.buses.carrier == HEAT_BUS_CARRIER).any():
        frames.append(heating.compute_heating_metrics(n, sc))
    return _combine(frames)


#: Metrics of :func:`compute_core_metrics` that :func:`compute_record_metrics` keeps.
RECORD_CORE_METRICS = ("objective", "capacity", "curtailment", "export", "import")


def compute_record_metrics(
    n: pypsa.Network, sc: Scenario, result: SolveResult, project_root: Path
) -> pd.DataFrame:
    """The rows of :func:`compute_metrics` a sweep sample's record reads, for a fraction of its cost.

    Capacities, curtailment by bus and carrier, corridor export/import, the objective, every
    row of the share accounting and the heating metrics, computed by the same functions as
    :func:`compute_metrics` (so each row is identical to that row of the full table); without
    the supply/withdrawal/cost statistics, storage throughput and prices, which no sweep record
    holds. ``tests/test_sweeps.py`` checks that a sample's record is the same from both tables.
    """
    core = [row("objective", result.objective, "CNY/yr"), *_curtailment_rows(n), *_corridor_rows(n, sc)]
    core_frame = pd.DataFrame(core, columns=METRIC_COLUMNS)
    frames = [
        _capacity_frame(n),
        core_frame[core_frame["metric"].isin(RECORD_CORE_METRICS)],
        accounting.compute_share_metrics(n, sc, project_root, result.duals),
    ]
    if (n.buses.carrier == HEAT_BUS_CARRIER).any():
        frames.append(heating.compute_heating_metrics(n, sc))
    return _combine(frames)
