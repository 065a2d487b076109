r"""Build the multi-period network of a pathway from the base network and the cost tables.

Reads the base network folder (the first period's fleet), ``data/parameters.csv`` (discount and
exchange rate), the cost tables and ``data/final_energy.csv``; returns a
:class:`PathwayNetwork` (a ``pypsa.Network`` with investment periods plus what the constraints
need). Nothing is written to the project.

The construction, in order (docs/pathway.md has the numbers):

1. the base network with the base year aggregated to ``spec.segments`` segments (the
   engine's tsam segmentation, :func:`energy_model.network.apply_scenario`);
2. investment periods (``n.set_investment_periods``: every time series repeated per period);
   period weightings ``years`` = the gap to the next period and

   .. math:: W_p = \sum_{i=0}^{Y_p - 1} (1 + r)^{-(p - p_0 + i)}

   (``objective``: discount factor of each year the period stands for, base year :math:`p_0`);
3. fixed assets of the base network get ``build_year`` (``spec.existing_build_year`` by
   carrier, else the first period) and keep their ``lifetime``: an asset is active in period
   :math:`p` when :math:`b \le p < b + L` (PyPSA's rule);
4. candidates: per period :math:`p`, an extendable copy ``<name>-<p>`` of every wind and solar
   generator (same zone, same availability profile), of every extendable asset of the base
   network (batteries, electrolysis, hydrogen tanks; the originals are replaced) and of every
   corridor in ``spec.corridors`` from its ``first_period`` on; ``build_year`` = :math:`p`,
   ``lifetime`` and ``capital_cost`` from the cost table of the latest table year not after
   :math:`p` (:func:`compute_candidate_cost`); corridors keep the base link's annualised cost
   (the HVAC/HVDC entries are the same in the 2020 and 2030 tables);
5. loads scaled per period and load carrier (:meth:`PathwaySpec.demand_scale`);
6. annual energy caps (``e_sum_max``, the coal fleet's planned generation) moved out of PyPSA
   (which would sum them over all periods) into :attr:`PathwayNetwork.energy_caps`, held per
   period by :func:`energy_model.pathway.constraints.add_energy_cap_constraints`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pypsa

from energy_model.exceptions import InputError, ScenarioError
from energy_model.network import apply_scenario, load_network
from energy_model.pathway.spec import TECHNOLOGY_CARRIERS, PathwaySpec
from energy_model.scenario import Scenario, TimeResolution

logger = logging.getLogger(__name__)

PARAMETERS_FILE = "data/parameters.csv"
#: Cost-table rows of each candidate technology: (technology, units of the row per MW of the
#: asset; ``None`` = the asset's ``max_hours``), all per-kW(h) entries (x 1000 to per MW(h)).
COST_ROWS: dict[str, list[tuple[str, float | None]]] = {
    "onwind": [("onwind", 1.0)],
    "solar": [("solar", 1.0)],
    "battery": [("battery inverter", 1.0), ("battery storage", None)],
    "electrolysis": [("electrolysis", 1.0)],
    "h2_storage": [("hydrogen storage tank type 1 including compressor", 1.0)],
}
#: Technology group of each candidate carrier (corridors are named by ``spec.corridors``).
CARRIER_TECHNOLOGY = {carrier: tech for tech, carrier in TECHNOLOGY_CARRIERS.items()}
CANDIDATE_COLUMNS = ("component", "name", "technology", "carrier", "period", "base")


@dataclass
class PathwayNetwork:
    """The multi-period network and what the pathway constraints need."""

    n: pypsa.Network
    spec: PathwaySpec
    candidates: pd.DataFrame
    """One row per candidate asset: ``component, name, technology, carrier, period, base``
    (``base``: the base-network asset it copies)."""
    energy_caps: dict[str, float] = field(default_factory=dict)
    """Annual energy cap per generator [MWh/a] (from the base network's ``e_sum_max``)."""
    discount_rate: float = 0.0
    """Discount rate of the period weightings [1/a]."""
    final_energy_table: Path | None = None
    """The non-modelled final-energy table per period (interpolated; see
    :func:`write_final_energy_table`)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Wall time of the build steps [s]."""


def load_parameter(root: Path, name: str) -> float:
    """One value of ``data/parameters.csv`` (columns ``name, value, unit, source``)."""
    path = root / PARAMETERS_FILE
    if not path.is_file():
        raise InputError("parameter table does not exist", file=path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    hit = table[table["name"] == name]
    if hit.empty:
        raise InputError(f"parameter '{name}' is missing", file=path)
    try:
        return float(hit["value"].iloc[0])
    except ValueError:
        raise InputError("not a number", file=path, row=name, column="value") from None


def load_cost_table(path: Path) -> pd.DataFrame:
    """A PyPSA-China-PIK cost table as ``technology x parameter`` (missing entries 0)."""
    if not path.is_file():
        raise InputError("cost table does not exist", file=path)
    table = pd.read_csv(path)
    missing = [c for c in ("technology", "parameter", "value") if c not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=path)
    wide = table.pivot_table(index="technology", columns="parameter", values="value", aggfunc="first")
    return wide.fillna(0.0)


def compute_annuity(discount_rate: float, lifetime: float) -> float:
    r"""Capital recovery factor :math:`a = r / (1 - (1+r)^{-L})` [1/a] (:math:`1/L` at r = 0)."""
    if discount_rate == 0:
        return 1.0 / lifetime
    return discount_rate / (1.0 - (1.0 + discount_rate) ** -lifetime)


def compute_candidate_cost(
    costs: pd.DataFrame, carrier: str, discount_rate: float, eur_to_cny: float, max_hours: float = 0.0
) -> tuple[float, float]:
    r"""Annualised cost [CNY/(MW a) or CNY/(MWh a)] and lifetime [a] of a candidate.

    .. math:: c = \sum_k 1000\, I_k\, u_k\, \big(a(r, L_k) + \mathrm{FOM}_k/100\big)\, x

    The same formula as the base network's costs (docs/data.md): :math:`I_k` investment of
    row *k* [EUR/kW or EUR/kWh], :math:`u_k` its units per MW (``max_hours`` for the energy
    part of a battery), :math:`L_k` its lifetime, :math:`x` the CNY/EUR rate. The asset's
    lifetime is the longest of its rows (a battery lives as long as its cells; the inverter's
    replacement is in its annuity).
    """
    total, lifetime = 0.0, 0.0
    for technology, per_unit in COST_ROWS[carrier]:
        if technology not in costs.index:
            msg = f"cost table has no row '{technology}' (needed for {carrier})"
            raise InputError(msg)
        values: dict[Hashable, float] = costs.loc[technology].astype(float).to_dict()
        units = max_hours if per_unit is None else per_unit
        life = values["lifetime"]
        fom = values.get("FOM", 0.0) / 100.0
        total += values["investment"] * 1000.0 * units * (compute_annuity(discount_rate, life) + fom)
        lifetime = max(lifetime, life)
    return total * eur_to_cny, lifetime


def cost_year(spec: PathwaySpec, period: int) -> int:
    """Cost-table year of a period: the latest table year not after it."""
    return max(year for year in spec.cost_tables if year <= period)


def compute_period_weightings(periods: list[int], years: dict[int, int], rate: float) -> pd.DataFrame:
    r"""``years`` and ``objective`` weighting per period (:math:`W_p` in the module docstring)."""
    base = periods[0]
    rows = {
        p: {
            "years": float(years[p]),
            "objective": float(sum((1.0 + rate) ** -(p - base + i) for i in range(years[p]))),
        }
        for p in periods
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "period"
    return frame


def base_scenario(spec: PathwaySpec) -> Scenario:
    """The single-year scenario that loads and aggregates the base network."""
    return Scenario(
        name=spec.name,
        network=spec.network,
        year=spec.periods[0],
        export_contracts=list(spec.export_contracts),
        time=TimeResolution(method="segment", segments=spec.segments),
        accounting=spec.accounting,
    )


def load_base_network(spec: PathwaySpec, root: Path, spec_file: Path | None = None) -> pypsa.Network:
    """Base network folder, validated, aggregated to ``spec.segments`` segments."""
    folder = Path(spec.network)
    if not folder.is_absolute():
        folder = root / folder
    if not folder.is_dir():
        raise ScenarioError(f"network folder '{spec.network}' does not exist", file=spec_file,
                            key="network")
    n = load_network(folder)
    apply_scenario(n, base_scenario(spec), file=spec_file)
    return n


def _active(frame: pd.DataFrame, period: int) -> pd.Series:
    """PyPSA's activity rule: ``build_year <= period < build_year + lifetime``."""
    return (frame["build_year"] <= period) & (period < frame["build_year"] + frame["lifetime"])


def active_mask(n: pypsa.Network, component: str, period: int) -> pd.Series:
    """Whether each asset of ``component`` is active in ``period`` (PyPSA's rule)."""
    static = n.components[component].static
    return _active(static, period) & static.get("active", pd.Series(True, index=static.index))


def _copy_asset(n: pypsa.Network, component: str, name: str, new: str, **attrs: object) -> None:
    """Add ``new`` as a copy of ``name`` (static and time-varying attributes), then ``attrs``."""
    c = n.components[component]
    defaults = c.defaults
    inputs = set(defaults.index[defaults["status"].astype(str).str.startswith("Input")])
    row = {k: v for k, v in c.static.loc[name].to_dict().items() if k in inputs}
    row.update(attrs)
    keep = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
    n.add(component, new, **keep)
    for attr, frame in c.dynamic.items():
        if name in frame.columns and attr in inputs:
            frame[new] = frame[name]


def build_pathway_network(
    spec: PathwaySpec, root: Path, base: pypsa.Network, table_dir: Path
) -> PathwayNetwork:
    """The multi-period network of ``spec`` from the (aggregated) base network ``base``.

    Parameters
    ----------
    spec
        The pathway spec.
    root
        Project root (``data/``).
    base
        Base network after :func:`load_base_network`; left unchanged.
    table_dir
        Folder for the per-period final-energy table (:func:`write_final_energy_table`).
    """
    rate = spec.discount_rate if spec.discount_rate is not None else load_parameter(
        root, "economics.discount_rate")
    eur_to_cny = load_parameter(root, "economics.eur_to_cny")
    tables = {year: load_cost_table(root / path) for year, path in spec.cost_tables.items()}
    periods = list(spec.periods)
    n = base.copy()
    first = periods[0]

    # 3. the base network's fixed assets: vintage and lifetime; energy caps out of PyPSA
    energy_caps: dict[str, float] = {}
    for component in ("Generator", "Link", "StorageUnit", "Store"):
        static = n.components[component].static
        static["build_year"] = [
            spec.existing_build_year.get(str(carrier), first) for carrier in static["carrier"]
        ]
    capped = n.generators.index[np.isfinite(n.generators["e_sum_max"])]
    for gen in capped:
        energy_caps[str(gen)] = float(n.generators.at[gen, "e_sum_max"])
        n.generators.loc[gen, "e_sum_max"] = np.inf

    # 2. investment periods (time series repeated per period) and their weightings
    n.set_investment_periods(periods)
    n.investment_period_weightings = compute_period_weightings(periods, spec.period_years(), rate)

    # 4. candidates per period
    rows: list[dict[str, object]] = []
    extendable = {
        component: list(n.components[component].static.index[
            n.components[component].static[attr + "_extendable"].astype(bool)])
        for component, attr in (("Generator", "p_nom"), ("Link", "p_nom"), ("StorageUnit", "p_nom"),
                                ("Store", "e_nom"))
    }
    renewables = [g for g in n.generators.index
                  if n.generators.at[g, "carrier"] in ("onwind", "solar")
                  and g not in extendable["Generator"]]
    for period in periods:
        costs = tables[cost_year(spec, period)]
        new_renewables = renewables if period >= (spec.first_build_period or first) else []
        for component, names in [("Generator", new_renewables), *list(extendable.items())]:
            for name in names:
                carrier = str(n.components[component].static.at[name, "carrier"])
                if carrier not in COST_ROWS:
                    msg = f"extendable asset '{name}' has carrier '{carrier}' without a cost rule"
                    raise ScenarioError(msg, key="network")
                static = n.components[component].static
                max_hours = float(static.at[name, "max_hours"]) if "max_hours" in static else 0.0
                capital_cost, lifetime = compute_candidate_cost(costs, carrier, rate, eur_to_cny, max_hours)
                size = "e_nom" if component == "Store" else "p_nom"
                new = f"{name}-{period}"
                _copy_asset(n, component, name, new, build_year=period, lifetime=lifetime,
                            capital_cost=capital_cost, **{size: 0.0, f"{size}_extendable": True,
                                                          f"{size}_max": np.inf, f"{size}_min": 0.0})
                rows.append({"component": component, "name": new, "technology": CARRIER_TECHNOLOGY[carrier],
                             "carrier": carrier, "period": period, "base": name})
        for corridor in spec.corridors:
            if corridor.link not in n.links.index:
                msg = f"corridor link '{corridor.link}' is not in links.csv"
                raise ScenarioError(msg, key="corridors")
            if period < corridor.first_period:
                continue
            new = f"{corridor.link}-{period}"
            lifetime = float(n.links.at[corridor.link, "lifetime"])
            _copy_asset(n, "Link", corridor.link, new, build_year=period,
                        lifetime=lifetime if np.isfinite(lifetime) else 40.0, p_nom=0.0,
                        p_nom_extendable=True, p_nom_max=corridor.max_mw, p_nom_min=0.0)
            rows.append({"component": "Link", "name": new, "technology": "corridor",
                         "carrier": str(n.links.at[corridor.link, "carrier"]), "period": period,
                         "base": corridor.link})
    for component, names in extendable.items():
        n.remove(component, names)

    # 5. demand per period and load carrier
    loads = n.loads_t.p_set
    for period in periods:
        for carrier in {str(c) for c in n.loads["carrier"]}:
            scale = spec.demand_scale(carrier, period)
            columns = [x for x in n.loads.index[n.loads["carrier"] == carrier] if x in loads.columns]
            if scale != 1.0 and columns:
                loads.loc[period, columns] = loads.loc[period, columns].to_numpy() * scale
    for carrier in spec.demand:
        if carrier not in set(n.loads["carrier"]):
            raise ScenarioError(f"no load has carrier '{carrier}'", key=f"demand.{carrier}")

    table = write_final_energy_table(root / spec.accounting.final_energy_table, periods, table_dir)
    candidates = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    logger.info("pathway network: %d periods x %d snapshots, %d candidates, discount rate %.3f",
                len(periods), len(n.snapshots) // len(periods), len(candidates), rate)
    return PathwayNetwork(n=n, spec=spec, candidates=candidates, energy_caps=energy_caps,
                          discount_rate=rate, final_energy_table=table)


def write_final_energy_table(source: Path, periods: list[int], folder: Path) -> Path:
    """Non-modelled final energy for every period, interpolated from ``source`` [Mtce].

    Rows of a year in ``source`` are kept; a period between two table years gets each
    ``(sector, fuel, renewable)`` item linearly interpolated between them (an item missing in
    one year counts 0 there); outside the table's years, the nearest year. The table's years
    carry the plan's energy-use anchors (14.45, 16.225 and 18.794 Mtce for 2018, 2022 and 2035,
    docs/accounting.md), so the periods between follow their straight line.
    """
    if not source.is_file():
        raise InputError("final-energy table does not exist", file=source)
    table = pd.read_csv(source, comment="#", dtype={"source": str}, keep_default_na=False)
    years = sorted({int(y) for y in table["year"]})
    key = ["sector", "fuel", "renewable"]
    out = []
    for period in periods:
        if period in years:
            rows = table[table["year"] == period].copy()
        else:
            low = max([y for y in years if y <= period], default=years[0])
            high = min([y for y in years if y >= period], default=years[-1])
            a = table[table["year"] == low].set_index(key)["value_mtce"].astype(float)
            b = table[table["year"] == high].set_index(key)["value_mtce"].astype(float)
            index = a.index.union(b.index)
            a, b = a.reindex(index, fill_value=0.0), b.reindex(index, fill_value=0.0)
            weight = 0.0 if high == low else (period - low) / (high - low)
            values = a + weight * (b - a)
            rows = values.rename("value_mtce").reset_index()
            rows["source"] = (f"[D] linear interpolation of the {low} and {high} rows of the "
                              "final-energy table")
        rows["year"] = period
        out.append(rows[["year", "sector", "fuel", "renewable", "value_mtce", "source"]])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "final_energy_by_period.csv"
    frame = pd.concat(out, ignore_index=True)
    frame["renewable"] = frame["renewable"].astype(str).str.lower()
    frame.to_csv(path, index=False)
    return path
