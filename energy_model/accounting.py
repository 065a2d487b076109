"""Final-energy balance and renewable share of final energy consumption (metric and constraint).

Reads a solved (or a built but unsolved) ``pypsa.Network``, the scenario's ``accounting`` options,
``data/final_energy.csv`` (non-electric final energy the network does not model) and
``data/coal_equivalent_factor.csv``; writes nothing. The accounting rules are documented in
``docs/accounting.md``; the symbols below follow that page.

One definition serves both uses. :func:`compute_annual_balance` collects the annual energy terms
either from a solved network (numbers) or from the linopy variables of ``n.model`` (linear
expressions), and :func:`compute_share_terms` turns a balance into the numerator and denominator
of the share with plain arithmetic that works on both. The reported ``nea_annual`` share and the
enforced constraint therefore come from the same code path.

Attribution rules for renewable electricity (hourly, see docs/accounting.md for the proofs)::

    nea_annual  <=  export_first  <=  pro_rata  <=  local_first

``nea_annual`` is linear in the dispatch and is the rule a target is enforced with; the three
hourly rules are reported beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pypsa
import xarray as xr

from energy_model.exceptions import InfeasibleError, InputError
from energy_model.metrics import METRIC_COLUMNS
from energy_model.metrics import row as _row
from energy_model.network import local_bus_mask
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS, Scenario, Target

logger = logging.getLogger(__name__)

#: Bus carrier of heat buses (see docs/heating.md).
HEAT_BUS_CARRIER = "heat"
#: Load carrier of data centres.
DATA_CENTRE_CARRIER = "data_centre"
#: Calorific value of electricity and of heat [kgce/kWh] = [tce/MWh]: 3.6 MJ / 29.3076 MJ/kgce.
CALORIFIC_KGCE_PER_KWH = 3.6 / 29.3076
#: Prefix of the linopy constraint name; the target name is appended.
CONSTRAINT_PREFIX = "GlobalConstraint-renewable_share_"
#: Name of the linear attribution rule used by the constraint.
LP_ATTRIBUTION = "nea_annual"
#: Hourly attribution rules (reported, not enforceable).
HOURLY_ATTRIBUTIONS: tuple[str, ...] = ("pro_rata", "local_first", "export_first")
#: All attribution rules, in the order they are reported.
ATTRIBUTIONS: tuple[str, ...] = (*HOURLY_ATTRIBUTIONS, LP_ATTRIBUTION)
#: Electricity valuations.
VALUATIONS: tuple[str, ...] = ("coal_equivalent", "calorific")
#: Default path of the coal-equivalent factor table, relative to the project root.
COAL_EQUIVALENT_TABLE = "data/coal_equivalent_factor.csv"
#: Tolerance of the PASS/FAIL verdict [percentage points]; covers solver tolerances of a
#: target that binds exactly.
VERDICT_TOLERANCE_PP = 1e-3
#: Tolerance of the hourly balance check [MWh per snapshot, relative to the largest flow].
_BALANCE_RTOL = 1e-4

Number = float


def _constraint_name(target_name: str) -> str:
    return f"{CONSTRAINT_PREFIX}{target_name}"


# ---------------------------------------------------------------------------------------------
# Input tables
# ---------------------------------------------------------------------------------------------

FINAL_ENERGY_COLUMNS = ("year", "sector", "fuel", "renewable", "value_mtce", "source")


@dataclass(frozen=True)
class FinalEnergyTable:
    """Non-electric final energy of one year that the network does not model.

    Attributes
    ----------
    rows
        Columns ``sector, fuel, renewable, value_mtce`` [Mtce, calorific].
    path
        File the rows come from.
    """

    rows: pd.DataFrame
    path: Path

    @property
    def total_mtce(self) -> float:
        """Total of the rows [Mtce]."""
        return float(self.rows["value_mtce"].sum())

    @property
    def renewable_mtce(self) -> float:
        """Renewable part of the rows [Mtce]."""
        return float(self.rows.loc[self.rows["renewable"], "value_mtce"].sum())


def load_final_energy_table(path: str | Path, year: int) -> FinalEnergyTable:
    """Read ``data/final_energy.csv`` and keep the rows of ``year``.

    Parameters
    ----------
    path
        CSV with columns ``year, sector, fuel, renewable, value_mtce, source``.
    year
        Scenario year.

    Returns
    -------
    FinalEnergyTable
        Rows of that year (values in Mtce).

    Raises
    ------
    InputError
        Missing file or column, a non-numeric or negative value, a non-boolean ``renewable``,
        an empty ``source``, a duplicated (year, sector, fuel) row, or no row for ``year``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("final-energy table does not exist", file=path)
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in FINAL_ENERGY_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=path)
    unknown = [c for c in table.columns if c not in FINAL_ENERGY_COLUMNS]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}", file=path)
    rows = []
    for i, raw in table.iterrows():
        row_id = i + 2  # header is line 1
        try:
            row_year = int(raw["year"])
        except ValueError:
            raise InputError("not an integer", file=path, row=row_id, column="year") from None
        try:
            value = float(raw["value_mtce"])
        except ValueError:
            raise InputError("not a number", file=path, row=row_id, column="value_mtce") from None
        if not np.isfinite(value) or value < 0:
            raise InputError(
                f"must be a finite number >= 0 (got {value})",
                file=path,
                row=row_id,
                column="value_mtce",
            )
        renewable = raw["renewable"].strip().lower()
        if renewable not in {"true", "false"}:
            raise InputError(
                f"must be true or false (got {raw['renewable']!r})",
                file=path,
                row=row_id,
                column="renewable",
            )
        for column in ("sector", "fuel", "source"):
            if not raw[column].strip():
                raise InputError("must not be empty", file=path, row=row_id, column=column)
        rows.append(
            {
                "year": row_year,
                "sector": raw["sector"].strip(),
                "fuel": raw["fuel"].strip(),
                "renewable": renewable == "true",
                "value_mtce": value,
            }
        )
    frame = pd.DataFrame(rows, columns=["year", "sector", "fuel", "renewable", "value_mtce"])
    duplicated = frame.duplicated(["year", "sector", "fuel"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise InputError(
            f"duplicated row for year {first['year']}, sector '{first['sector']}', "
            f"fuel '{first['fuel']}'",
            file=path,
        )
    selected = frame[frame["year"] == year].drop(columns="year").reset_index(drop=True)
    if selected.empty:
        years = sorted(frame["year"].unique().tolist())
        raise InputError(f"no rows for year {year} (years present: {years})", file=path)
    return FinalEnergyTable(rows=selected, path=path)


def load_coal_equivalent_factor(path: str | Path, year: int) -> float:
    """Coal-equivalent factor of electricity for ``year`` [kgce/kWh].

    Linear interpolation between the years of the table (columns ``year, gce_per_kwh, source``);
    a year outside the table's range is an error.

    Parameters
    ----------
    path
        ``data/coal_equivalent_factor.csv``.
    year
        Scenario year.

    Returns
    -------
    float
        Factor [kgce/kWh] (the table is in gce/kWh).

    Raises
    ------
    InputError
        Missing file or column, bad value, or ``year`` outside the table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("coal-equivalent factor table does not exist", file=path)
    table = pd.read_csv(path, comment="#")
    for column in ("year", "gce_per_kwh", "source"):
        if column not in table.columns:
            raise InputError(f"missing column '{column}'", file=path)
    values = pd.to_numeric(table["gce_per_kwh"], errors="coerce")
    bad = values.isna() | (values <= 0) | (values >= 1000)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError("must be a number in (0, 1000)", file=path, row=row, column="gce_per_kwh")
    series = pd.Series(values.to_numpy(), index=table["year"].astype(int)).sort_index()
    if series.index.has_duplicates:
        raise InputError("duplicated year", file=path, column="year")
    if year < series.index.min() or year > series.index.max():
        raise InputError(
            f"year {year} is outside the table ({series.index.min()}-{series.index.max()}); "
            "add a row or set accounting.coal_equivalent_kgce_per_kwh",
            file=path,
        )
    gce = float(np.interp(year, series.index.to_numpy(), series.to_numpy()))
    return gce / 1000.0


def compute_electricity_factors(sc: Scenario, project_root: str | Path) -> dict[str, float]:
    """Electricity valuation factors of the scenario [kgce/kWh = tce/MWh].

    Returns
    -------
    dict
        ``{"coal_equivalent": c_eq, "calorific": 0.1229}``; ``c_eq`` is
        ``sc.accounting.coal_equivalent_kgce_per_kwh`` or, when that is ``None``, the year's value
        from ``data/coal_equivalent_factor.csv``.
    """
    c_eq = sc.accounting.coal_equivalent_kgce_per_kwh
    if c_eq is None:
        c_eq = load_coal_equivalent_factor(Path(project_root) / COAL_EQUIVALENT_TABLE, sc.year)
    return {"coal_equivalent": float(c_eq), "calorific": CALORIFIC_KGCE_PER_KWH}


# ---------------------------------------------------------------------------------------------
# Topology: which component plays which role
# ---------------------------------------------------------------------------------------------


@dataclass
class _Port:
    """A link port or line end at a local electricity bus."""

    component: str  # "Link" or "Line"
    name: str
    port: int
    two_way: bool  # the withdrawal can take both signs
    withdraws: bool = True  # one-way port whose withdrawal is >= 0 (an input of the link)


@dataclass
class Topology:
    """Roles of the network's components for the accounting (names only, no values)."""

    local: pd.Series
    electricity_buses: list[str]
    heat_buses: list[str]
    storage_buses: list[str]
    renewable_generators: list[str]
    other_generators: list[str]
    loads: list[str]
    data_centre_loads: list[str]
    storage_units: list[str]
    stores: list[str]
    border_ports: list[_Port] = field(default_factory=list)
    conversion_ports: list[_Port] = field(default_factory=list)
    storage_ports: list[_Port] = field(default_factory=list)
    internal_ports: list[_Port] = field(default_factory=list)
    heat_generators: list[str] = field(default_factory=list)
    district_heat_ports: list[_Port] = field(default_factory=list)
    heat_pumps: list[str] = field(default_factory=list)
    renewable_conversion_ports: list[_Port] = field(default_factory=list)


def _link_ports(n: pypsa.Network) -> list[int]:
    ports = [0, 1]
    k = 2
    while f"bus{k}" in n.links.columns:
        ports.append(k)
        k += 1
    return ports


def compute_local_buses(n: pypsa.Network, region: str) -> pd.Series:
    """Whether each bus is inside the region.

    A bus is local when its ``location`` equals ``region``, or when no bus of the network sets a
    ``location`` at all.

    Returns
    -------
    pandas.Series
        Boolean, indexed by bus name.
    """
    return local_bus_mask(n.buses, region)


def compute_topology(n: pypsa.Network, sc: Scenario) -> Topology:
    """Classify buses, generators, loads, storage, links and lines for the accounting.

    Rules (docs/accounting.md, section 1):

    * electricity bus: carrier in :data:`ELECTRICITY_BUS_CARRIERS`; heat bus: carrier ``heat``.
    * storage bus: a local non-electricity bus with no load and no generator whose links all
      lead to local electricity buses (battery, H2-to-power loops): its links are storage.
    * border link/line: connects a local electricity bus with a non-local bus (export/import).
    * internal link: all ports on local electricity buses (its losses are network losses).
    * conversion link: other links with a port on a local electricity bus (heat pumps, electric
      boilers, electrolysis take electricity; power plants fed from a fuel bus give it).
    """
    buses = n.buses
    local = compute_local_buses(n, sc.accounting.region)
    is_el = buses["carrier"].isin(ELECTRICITY_BUS_CARRIERS)
    el_local = set(buses.index[is_el & local])
    heat_local = set(buses.index[(buses["carrier"] == HEAT_BUS_CARRIER) & local])
    renewable = set(sc.accounting.renewable_carriers)
    ports = _link_ports(n)

    links = n.links
    link_buses = {k: links[f"bus{k}"].fillna("").astype(str) for k in ports}

    # storage buses: local, not electricity, no loads/generators, every link touching them
    # has all its other ports on local electricity buses.
    storage_buses: list[str] = []
    attached_loads = set(n.loads["bus"])
    attached_gens = set(n.generators["bus"])
    for bus in buses.index[~is_el & local]:
        if bus in attached_loads or bus in attached_gens or bus in heat_local:
            continue
        touching = [
            name
            for name in links.index
            if any(link_buses[k][name] == bus for k in ports)
        ]
        if not touching:
            continue
        ok = True
        for name in touching:
            others = [link_buses[k][name] for k in ports if link_buses[k][name] not in ("", bus)]
            if not others or not all(o in el_local for o in others):
                ok = False
                break
        if ok:
            storage_buses.append(bus)
    storage_set = set(storage_buses)

    gens = n.generators
    gen_local_el = gens.index[gens["bus"].isin(el_local)]
    renewable_generators = [g for g in gen_local_el if gens.at[g, "carrier"] in renewable]
    other_generators = [g for g in gen_local_el if gens.at[g, "carrier"] not in renewable]
    heat_generators = list(gens.index[gens["bus"].isin(heat_local)])

    loads_local = n.loads.index[n.loads["bus"].isin(el_local)]
    data_centre = [x for x in loads_local if n.loads.at[x, "carrier"] == DATA_CENTRE_CARRIER]

    su = n.storage_units
    storage_units = list(su.index[su["bus"].isin(el_local)])
    st = n.stores
    stores = list(st.index[st["bus"].isin(el_local)])

    p_min = n.get_switchable_as_dense("Link", "p_min_pu") if len(links) else pd.DataFrame()
    efficiency = {
        k: n.get_switchable_as_dense("Link", "efficiency" if k == 1 else f"efficiency{k}")
        for k in ports[1:]
        if len(links)
    }
    # pure store buses: no load, no generator (heat stores, battery stores, ...)
    store_only = {
        b for b in buses.index if b not in attached_loads and b not in attached_gens
    }
    border: list[_Port] = []
    conversion: list[_Port] = []
    storage_ports: list[_Port] = []
    internal: list[_Port] = []
    district_heat: list[_Port] = []
    heat_pumps: list[str] = []
    renewable_ports: list[_Port] = []
    for name in links.index:
        port_buses = {k: link_buses[k][name] for k in ports if link_buses[k][name]}
        el_ports = [k for k, b in port_buses.items() if b in el_local]
        non_local = [k for k, b in port_buses.items() if b in local.index and not local[b]]
        reverses = bool((p_min[name] < 0).any()) if name in p_min else False

        def port_of(k: int, name: str = name, reverses: bool = reverses) -> _Port:
            # sign of the withdrawal p_k when p0 >= 0: + for port 0, sign(-efficiency_k) else
            if k == 0:
                signs = {1.0}
            else:
                eff = efficiency[k][name].to_numpy() if name in efficiency[k] else np.ones(1)
                signs = set(np.sign(-eff[eff != 0]).tolist()) or {0.0}
            two_way = reverses or len(signs) > 1
            return _Port("Link", name, k, two_way, withdraws=(not two_way and signs == {1.0}))

        if el_ports:
            if non_local:
                role = border
            elif all(b in el_local for b in port_buses.values()):
                role = internal
            elif all(b in el_local or b in storage_set for b in port_buses.values()):
                role = storage_ports
            else:
                role = conversion
            for k in el_ports:
                role.append(port_of(k))
                if role is conversion and links.at[name, "carrier"] in renewable:
                    renewable_ports.append(port_of(k))
        bus0 = port_buses.get(0, "")
        fuel_fed = (
            bus0 not in el_local
            and bus0 not in heat_local
            and bus0 in buses.index
            and buses.at[bus0, "carrier"] not in ELECTRICITY_BUS_CARRIERS
            and bus0 not in store_only
        )
        if fuel_fed:
            for k, b in port_buses.items():
                if k != 0 and b in heat_local:
                    district_heat.append(port_of(k))
        if bus0 in el_local and port_buses.get(1) in heat_local and not non_local:
            heat_pumps.append(name)

    lines = n.lines
    for name in lines.index:
        b0, b1 = lines.at[name, "bus0"], lines.at[name, "bus1"]
        l0 = b0 in el_local
        l1 = b1 in el_local
        if l0 and not local.get(b1, True):
            border.append(_Port("Line", name, 0, True, withdraws=False))
        elif l1 and not local.get(b0, True):
            border.append(_Port("Line", name, 1, True, withdraws=False))

    return Topology(
        local=local,
        electricity_buses=sorted(el_local),
        heat_buses=sorted(heat_local),
        storage_buses=storage_buses,
        renewable_generators=renewable_generators,
        other_generators=other_generators,
        loads=list(loads_local),
        data_centre_loads=data_centre,
        storage_units=storage_units,
        stores=stores,
        border_ports=border,
        conversion_ports=conversion,
        storage_ports=storage_ports,
        internal_ports=internal,
        heat_generators=heat_generators,
        district_heat_ports=district_heat,
        heat_pumps=heat_pumps,
        renewable_conversion_ports=renewable_ports,
    )


# ---------------------------------------------------------------------------------------------
# Values: numbers from a solved network or linopy variables from n.model
# ---------------------------------------------------------------------------------------------

_VARIABLES = {
    ("Generator", "p"): "Generator-p",
    ("Link", "p0"): "Link-p",
    ("Line", "p0"): "Line-s",
    ("StorageUnit", "p_dispatch"): "StorageUnit-p_dispatch",
    ("StorageUnit", "p_store"): "StorageUnit-p_store",
    ("Store", "p"): "Store-p",
}


def _frame_to_array(frame: pd.DataFrame, names: list[str]) -> xr.DataArray:
    frame = frame.reindex(columns=names, fill_value=0.0).fillna(0.0)
    array = xr.DataArray(
        frame.to_numpy(dtype=float),
        coords={"snapshot": frame.index, "name": names},
        dims=("snapshot", "name"),
    )
    return array


class _Values:
    """Access to flows either as numbers (solved network) or as linopy variables (``n.model``)."""

    def __init__(self, n: pypsa.Network, *, model: bool, prefix: str = "") -> None:
        self.n = n
        self.model = model
        self.prefix = prefix
        self.weights = xr.DataArray(
            n.snapshot_weightings["generators"].to_numpy(dtype=float),
            coords={"snapshot": n.snapshots},
            dims="snapshot",
        )
        self._aux = 0

    def flow(self, component: str, attr: str, names: list[str]) -> Any:
        """Per-snapshot flow [MW] with dims (snapshot, name)."""
        if self.model:
            var = self.n.model.variables[_VARIABLES[(component, attr)]]
            if set(names) <= set(var.indexes["name"]):
                return var.sel(name=names)
            # inactive assets have no variable: they contribute zero (as in the numeric path)
            return var.reindex(name=names).fillna(0)
        static = self.n.components[component]
        frame = static.dynamic[attr] if attr in static.dynamic else pd.DataFrame()
        if frame.empty:
            frame = pd.DataFrame(0.0, index=self.n.snapshots, columns=names)
        return _frame_to_array(frame, names)

    def dense(self, component: str, attr: str, names: list[str]) -> xr.DataArray:
        """Per-snapshot parameter as numbers with dims (snapshot, name)."""
        frame = self.n.get_switchable_as_dense(component, attr)
        return _frame_to_array(frame, names)

    def load(self, names: list[str]) -> xr.DataArray:
        """Load withdrawal [MW] (loads are fixed, so numbers in both modes)."""
        if not self.model and not self.n.loads_t.p.empty:
            return _frame_to_array(self.n.loads_t.p, names)
        return self.dense("Load", "p_set", names)

    def withdrawal(self, port: _Port) -> Any:
        """Withdrawal [MW] at a link port or line end (positive = leaves the bus)."""
        if port.component == "Line":
            flow = self.flow("Line", "p0", [port.name])
            return flow if port.port == 0 else -1 * flow
        p0 = self.flow("Link", "p0", [port.name])
        if port.port == 0:
            return p0
        attr = "efficiency" if port.port == 1 else f"efficiency{port.port}"
        eff = self.dense("Link", attr, [port.name])
        return -1 * (p0 * eff)

    def positive_part(self, expr: Any, label: str) -> Any:
        """``max(expr, 0)`` per snapshot: a number, or an auxiliary variable ``a >= expr, a >= 0``.

        The auxiliary variable equals ``max(expr, 0)`` wherever it is pushed down by the
        constraint it enters with a negative sign (the case for exports and consumption).
        """
        if not self.model:
            return expr.clip(min=0)
        m = self.n.model
        self._aux += 1
        name = f"{self.prefix}-{label}-aux{self._aux}"
        aux = m.add_variables(lower=0, coords=expr.coords, name=name)
        m.add_constraints(aux - expr >= 0, name=f"{name}-lower")
        return aux

    def total(self, expr: Any) -> Any:
        """Weighted sum over snapshots and names [MWh]: a float or a linopy expression."""
        result = (expr * self.weights).sum()
        if self.model:
            return result
        return float(result)


@dataclass
class AnnualBalance:
    """Annual energy terms of the local energy system [MWh].

    Every field is a float (solved network) or a linopy ``LinearExpression`` (``n.model``).

    Attributes
    ----------
    renewable_generation
        ``G_RE``: local renewable electricity generation after curtailment.
    exports
        ``X``: electricity sent from local to non-local buses (positive part per snapshot).
    network_losses
        ``Λ``: losses of links between local electricity buses.
    electricity
        ``E_el``: local final electricity consumption = loads + electricity taken by conversion
        links + net storage charging (storage losses).
    heat_fuel
        ``F_h,j``: fuel input of heat generators on local heat buses, by generator.
    heat_fuel_renewable
        Whether each heat generator's fuel is renewable.
    district_heat
        ``H_dh,k``: heat delivered to local heat buses by links not fed with electricity.
    district_heat_renewable
        Whether each such link is renewable.
    ambient_heat
        ``Q_amb``: heat-pump output minus electricity input.
    """

    renewable_generation: Any
    exports: Any
    network_losses: Any
    electricity: Any
    heat_fuel: dict[str, Any]
    heat_fuel_renewable: dict[str, bool]
    district_heat: dict[str, Any]
    district_heat_renewable: dict[str, bool]
    ambient_heat: Any


def _sum_terms(terms: Iterable[Any]) -> Any:
    total: Any = 0.0
    for term in terms:
        total = total + term
    return total


def compute_annual_balance(
    n: pypsa.Network, sc: Scenario, *, model: bool = False, prefix: str = "accounting"
) -> AnnualBalance:
    """Annual local energy balance, from the solution or as linopy expressions.

    Parameters
    ----------
    n
        Network; solved when ``model`` is False, with ``n.model`` built when True.
    sc
        Scenario (``accounting`` options).
    model
        False: numbers from the solved network. True: linear expressions of ``n.model``'s
        variables (auxiliary variables are added for flows that can change sign).
    prefix
        Name prefix of auxiliary variables/constraints added in model mode.

    Returns
    -------
    AnnualBalance
        Terms in MWh per year (weighted by ``snapshot_weightings.generators``).
    """
    topo = compute_topology(n, sc)
    values = _Values(n, model=model, prefix=prefix)
    renewable = set(sc.accounting.renewable_carriers)

    generation = []
    if topo.renewable_generators:
        generation.append(values.total(values.flow("Generator", "p", topo.renewable_generators)))
    for port in topo.renewable_conversion_ports:
        if port.two_way or port.withdraws:
            continue  # only one-way outputs of renewable conversion links generate
        generation.append(-1 * values.total(values.withdrawal(port)))
    g_re = _sum_terms(generation)

    exports = []
    for port in topo.border_ports:
        w = values.withdrawal(port)
        if port.two_way:
            w = values.positive_part(w, "export")
        elif not port.withdraws:
            continue  # a one-way link whose local end is an output port only imports
        exports.append(values.total(w))
    x = _sum_terms(exports)

    losses = _sum_terms(values.total(values.withdrawal(p)) for p in topo.internal_ports)

    consumption = []
    if topo.loads:
        consumption.append(values.total(values.load(topo.loads)))
    for port in topo.conversion_ports:
        w = values.withdrawal(port)
        if port.two_way:
            w = values.positive_part(w, "conversion")
        elif not port.withdraws:
            continue  # output port of a one-way conversion link: generation, not use
        consumption.append(values.total(w))
    # storage: net charging over the year = storage losses
    for port in topo.storage_ports:
        consumption.append(values.total(values.withdrawal(port)))
    if topo.storage_units:
        consumption.append(values.total(values.flow("StorageUnit", "p_store", topo.storage_units)))
        consumption.append(
            -1 * values.total(values.flow("StorageUnit", "p_dispatch", topo.storage_units))
        )
    if topo.stores:
        consumption.append(-1 * values.total(values.flow("Store", "p", topo.stores)))
    e_el = _sum_terms(consumption)

    heat_fuel: dict[str, Any] = {}
    heat_fuel_renewable: dict[str, bool] = {}
    for gen in topo.heat_generators:
        p = values.flow("Generator", "p", [gen])
        eff = values.dense("Generator", "efficiency", [gen])
        heat_fuel[gen] = values.total(p * (1.0 / eff))
        heat_fuel_renewable[gen] = n.generators.at[gen, "carrier"] in renewable

    district_heat: dict[str, Any] = {}
    district_heat_renewable: dict[str, bool] = {}
    for port in topo.district_heat_ports:
        district_heat[port.name] = -1 * values.total(values.withdrawal(port))
        district_heat_renewable[port.name] = n.links.at[port.name, "carrier"] in renewable

    ambient = []
    for name in topo.heat_pumps:
        p0 = values.flow("Link", "p0", [name])
        eff = values.dense("Link", "efficiency", [name])
        gain = (eff - 1.0).clip(min=0)
        ambient.append(values.total(p0 * gain))
    q_amb = _sum_terms(ambient)

    return AnnualBalance(
        renewable_generation=g_re,
        exports=x,
        network_losses=losses,
        electricity=e_el,
        heat_fuel=heat_fuel,
        heat_fuel_renewable=heat_fuel_renewable,
        district_heat=district_heat,
        district_heat_renewable=district_heat_renewable,
        ambient_heat=q_amb,
    )


def compute_nea_local_renewable(balance: AnnualBalance) -> Any:
    r"""Renewable electricity consumed locally under the ``nea_annual`` rule [MWh].

    .. math:: E^{nea}_{RE,loc} = \max(G_{RE} - X - \Lambda, 0)

    NEA monitoring rule (local RE generation + RE imports - RE sent out) with imports counted as
    non-renewable and exports and internal network losses counted as renewable first.

    With numbers (a solved network) the clip at zero applies: green-first exports cannot take
    more renewable electricity than was generated. With linopy expressions the clip is dropped
    (``max`` is not linear); the linear form is a lower bound of the clipped one and equal to it
    whenever :math:`G_{RE} \ge X + \Lambda`, so an enforced target is never weaker than the
    reported ``nea_annual`` share.
    """
    local = balance.renewable_generation - balance.exports - balance.network_losses
    if isinstance(local, int | float | np.floating):
        return max(float(local), 0.0)
    return local


@dataclass
class ShareTerms:
    """Numerator and denominator of a share (floats or linopy expressions).

    ``final_energy`` terms are in tce, ``electricity`` terms in MWh.
    """

    numerator: Any
    denominator: Any


def compute_share_terms(
    balance: AnnualBalance,
    re_electricity_local: Any,
    *,
    indicator: str,
    electricity_factor: float,
    table: FinalEnergyTable | None,
    include_ambient_heat: bool,
) -> ShareTerms:
    r"""Numerator and denominator of the renewable share (generic over numbers and linopy).

    Final energy (tce):

    .. math::

        RE  &= c_{el} E_{RE,loc} + c_h \big(\sum_{j \in RE} F_{h,j} + \sum_{k \in RE} H_{dh,k}
               + a Q_{amb}\big) + 10^6 T_{RE} \\
        FEC &= c_{el} E_{el} + c_h \big(\sum_j F_{h,j} + \sum_k H_{dh,k} + a Q_{amb}\big)
               + 10^6 T

    Electricity (MWh): :math:`RE = E_{RE,loc}`, :math:`D = E_{el}`.

    ======================  =====================================================  ==========
    symbol                  meaning                                                unit
    ======================  =====================================================  ==========
    :math:`E_{RE,loc}`      renewable electricity consumed locally (per rule)      MWh
    :math:`E_{el}`          local final electricity consumption                    MWh
    :math:`c_{el}`          electricity factor (coal-equivalent or 0.1229)         tce/MWh
    :math:`c_h`             calorific value of heat and fuels, 0.1229              tce/MWh
    :math:`F_{h,j}`         fuel input of heat generator j                         MWh
    :math:`H_{dh,k}`        heat delivered by non-electric link k                  MWh
    :math:`Q_{amb}`         ambient heat of heat pumps, :math:`a \in \{0,1\}`      MWh
    :math:`T, T_{RE}`       non-modelled final energy (table), its renewable part  Mtce
    ======================  =====================================================  ==========
    """
    if indicator == "electricity":
        return ShareTerms(re_electricity_local, balance.electricity)
    if indicator != "final_energy":
        msg = f"unknown indicator {indicator!r}"
        raise ValueError(msg)
    c_h = CALORIFIC_KGCE_PER_KWH
    heat_re = _sum_terms(v for k, v in balance.heat_fuel.items() if balance.heat_fuel_renewable[k])
    heat_all = _sum_terms(balance.heat_fuel.values())
    dh_re = _sum_terms(
        v for k, v in balance.district_heat.items() if balance.district_heat_renewable[k]
    )
    dh_all = _sum_terms(balance.district_heat.values())
    ambient = balance.ambient_heat if include_ambient_heat else 0.0
    table_re = table.renewable_mtce * 1e6 if table is not None else 0.0
    table_all = table.total_mtce * 1e6 if table is not None else 0.0
    numerator = (
        electricity_factor * re_electricity_local
        + c_h * (heat_re + dh_re + ambient)
        + table_re
    )
    denominator = (
        electricity_factor * balance.electricity
        + c_h * (heat_all + dh_all + ambient)
        + table_all
    )
    return ShareTerms(numerator, denominator)


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


def compute_hourly_flows(n: pypsa.Network, sc: Scenario) -> pd.DataFrame:
    """Hourly electricity flows of the local electricity buses of a solved network [MW].

    Columns: supplies ``renewable`` (local renewable generators), ``other`` (other local
    generation, incl. power from conversion links), ``imports``, ``discharge`` (storage);
    uses ``loads`` (loads + electricity taken by conversion links), ``charge`` (storage),
    ``exports``, ``losses`` (internal links). Storage units, stores on electricity buses and
    links to storage buses are storage.
    """
    topo = compute_topology(n, sc)
    values = _Values(n, model=False)
    zero = pd.Series(0.0, index=n.snapshots)

    def per_snapshot(array: xr.DataArray) -> pd.Series:
        return pd.Series(array.sum("name").to_numpy(), index=n.snapshots)

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
        flows["exports"] += w.clip(lower=0)
        flows["imports"] += (-w).clip(lower=0)
    renewable_outputs = {
        (p.name, p.port) for p in topo.renewable_conversion_ports if not p.two_way
    }
    for port in topo.conversion_ports:
        w = per_snapshot(values.withdrawal(port))
        flows["loads"] += w.clip(lower=0)
        if (port.name, port.port) in renewable_outputs and not port.withdraws:
            flows["renewable"] += (-w).clip(lower=0)
        else:
            flows["other"] += (-w).clip(lower=0)
    for port in topo.storage_ports:
        w = per_snapshot(values.withdrawal(port))
        flows["charge"] += w.clip(lower=0)
        flows["discharge"] += (-w).clip(lower=0)
    if topo.storage_units:
        flows["charge"] += per_snapshot(values.flow("StorageUnit", "p_store", topo.storage_units))
        flows["discharge"] += per_snapshot(
            values.flow("StorageUnit", "p_dispatch", topo.storage_units)
        )
    if topo.stores:
        p = per_snapshot(values.flow("Store", "p", topo.stores))
        flows["discharge"] += p.clip(lower=0)
        flows["charge"] += (-p).clip(lower=0)
    for port in topo.internal_ports:
        flows["losses"] += per_snapshot(values.withdrawal(port))
    frame = pd.DataFrame(flows)
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

    * ``pro_rata``: :math:`R^{loc}_t = R_t U_t / S_t` (one pool for local uses and exports);
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
        ``pro_rata``, ``local_first`` or ``export_first``.
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
        if rule == "pro_rata":
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


# ---------------------------------------------------------------------------------------------
# Metrics and verdicts
# ---------------------------------------------------------------------------------------------

def _share(numerator: float, denominator: float, what: str) -> float:
    """``numerator / denominator``; 0 with a warning when nothing is consumed (denominator <= 0)."""
    if denominator > 0:
        return float(numerator) / float(denominator)
    logger.warning("%s: no local consumption (denominator %.3g), share reported as 0 %%", what,
                   denominator)
    return 0.0


def _target_variant(sc: Scenario, target: Target) -> str:
    attribution = sc.accounting.attribution
    if target.indicator == "electricity":
        return attribution
    return f"{sc.accounting.electricity_valuation}|{attribution}"


def compute_share_metrics(
    n: pypsa.Network,
    sc: Scenario,
    project_root: str | Path,
    duals: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Final-energy balance, renewable shares, verdicts and shadow prices of a solved network.

    Parameters
    ----------
    n
        Solved network.
    sc
        Scenario.
    project_root
        Folder that holds ``data/`` (the final-energy and coal-equivalent tables).
    duals
        Duals of enforced targets, ``{constraint name: dual}`` as read from
        ``n.model.constraints[name].dual`` [CNY/tce for ``final_energy``, CNY/MWh for
        ``electricity`` targets]; ``None`` when nothing was enforced.

    Returns
    -------
    pandas.DataFrame
        Tidy rows ``metric, variant, carrier, bus, value, unit`` (see docs/accounting.md,
        "Metrics").
    """
    root = Path(project_root)
    factors = compute_electricity_factors(sc, root)
    table = load_final_energy_table(root / sc.accounting.final_energy_table, sc.year)
    balance = compute_annual_balance(n, sc, model=False)
    flows = compute_hourly_flows(n, sc)
    weights = n.snapshot_weightings["generators"]
    include_ambient = sc.accounting.include_ambient_heat

    attributions = {rule: compute_attribution(flows, weights, rule) for rule in HOURLY_ATTRIBUTIONS}
    re_local: dict[str, float] = {rule: a.local for rule, a in attributions.items()}
    re_local[LP_ATTRIBUTION] = float(compute_nea_local_renewable(balance))
    unclipped = balance.renewable_generation - balance.exports - balance.network_losses
    if unclipped < 0:
        logger.warning(
            "exports plus network losses exceed local renewable generation by %.3g TWh: the %s "
            "rule attributes no renewable electricity to local use (an enforced target counts "
            "the negative amount and is stricter than the reported share)",
            -unclipped / 1e6,
            LP_ATTRIBUTION,
        )

    rows: list[dict] = []
    twh = 1e-6
    rows.append(_row("coal_equivalent_factor", factors["coal_equivalent"], "kgce/kWh"))
    rows.append(_row("calorific_factor", factors["calorific"], "kgce/kWh"))
    rows.append(
        _row("electricity_local_consumption", balance.electricity * twh, "TWh", carrier="AC")
    )
    rows.append(
        _row("renewable_generation_local", balance.renewable_generation * twh, "TWh", carrier="AC")
    )
    w = weights.reindex(flows.index).to_numpy(dtype=float)
    for column, metric in [
        ("exports", "electricity_exports"),
        ("imports", "electricity_imports"),
        ("other", "other_generation_local"),
        ("loads", "electricity_final_use"),
        ("charge", "storage_charge_local_electricity"),
        ("discharge", "storage_discharge_local_electricity"),
        ("losses", "network_losses"),
    ]:
        rows.append(_row(metric, float((flows[column].to_numpy() * w).sum()) * twh, "TWh"))
    for rule in ATTRIBUTIONS:
        rows.append(_row("renewable_electricity_local", re_local[rule] * twh, "TWh", rule))
        exported = (
            attributions[rule].exported
            if rule in attributions
            else min(float(balance.exports), float(balance.renewable_generation))
        )
        rows.append(_row("renewable_electricity_exported", exported * twh, "TWh", rule))
    for rule, a in attributions.items():
        rows.append(_row("storage_renewable_fraction", a.storage_fraction * 100, "%", rule))

    # final-energy balance items [Mtce]
    heat_items: dict[tuple[str, str, str], float] = {}
    for gen, value in balance.heat_fuel.items():
        key = ("final_energy_heat_fuel", str(n.generators.at[gen, "carrier"]),
               str(n.generators.at[gen, "bus"]))
        heat_items[key] = heat_items.get(key, 0.0) + float(value)
    for port in compute_topology(n, sc).district_heat_ports:
        key = ("final_energy_district_heat", str(n.links.at[port.name, "carrier"]),
               str(n.links.at[port.name, f"bus{port.port}"]))
        heat_items[key] = heat_items.get(key, 0.0) + float(balance.district_heat[port.name])
    for (metric, carrier, bus), value in sorted(heat_items.items()):
        rows.append(_row(metric, value * CALORIFIC_KGCE_PER_KWH / 1e6, "Mtce", carrier=carrier,
                         bus=bus))
        rows.append(_row(metric, value * twh, "TWh", carrier=carrier, bus=bus))
    rows.append(_row("ambient_heat", balance.ambient_heat * twh, "TWh", carrier="heat"))
    for _, item in table.rows.iterrows():
        rows.append(_row("final_energy_table", item["value_mtce"], "Mtce",
                         variant=item["sector"], carrier=item["fuel"]))
        rows.append(_row("final_energy_table", item["value_mtce"] * 1e6 / CALORIFIC_KGCE_PER_KWH
                         * twh, "TWh", variant=item["sector"], carrier=item["fuel"]))

    shares: dict[tuple[str, str], float] = {}
    for valuation in VALUATIONS:
        c_el = factors[valuation]
        rows.append(_row("final_energy_electricity", balance.electricity * c_el / 1e6, "Mtce",
                         valuation, carrier="AC"))
        for rule in ATTRIBUTIONS:
            terms = compute_share_terms(
                balance,
                re_local[rule],
                indicator="final_energy",
                electricity_factor=c_el,
                table=table,
                include_ambient_heat=include_ambient,
            )
            variant = f"{valuation}|{rule}"
            share = _share(terms.numerator, terms.denominator, f"renewable_share {variant}")
            shares[(valuation, rule)] = share
            rows.append(_row("renewable_final_energy", terms.numerator / 1e6, "Mtce", variant))
            if rule == LP_ATTRIBUTION:
                rows.append(_row("final_energy_total", terms.denominator / 1e6, "Mtce", valuation))
            rows.append(_row("renewable_share", share * 100, "%", variant))
    electricity_shares: dict[str, float] = {}
    for rule in ATTRIBUTIONS:
        share = _share(re_local[rule], balance.electricity, f"renewable_share_electricity {rule}")
        electricity_shares[rule] = share
        rows.append(_row("renewable_share_electricity", share * 100, "%", rule))

    # data centres: renewable supply share, annual local mix vs hourly matched (pro rata)
    topo = compute_topology(n, sc)
    if topo.data_centre_loads:
        values = _Values(n, model=False)
        dc = values.load(topo.data_centre_loads).sum("name").to_pandas()
        dc_energy = float((dc * weights.reindex(dc.index)).sum())
        if dc_energy > 0:
            headline = sc.accounting.attribution
            hourly = attributions[headline].hourly_fraction
            matched = float((hourly * dc * weights.reindex(dc.index)).sum()) / dc_energy
            u = flows[["loads", "charge", "losses"]].sum(axis=1)
            annual = float(
                (hourly * u * weights.reindex(u.index)).sum()
                / max(float((u * weights.reindex(u.index)).sum()), 1e-12)
            )
            rows.append(_row("data_centre_consumption", dc_energy * twh, "TWh",
                             carrier=DATA_CENTRE_CARRIER))
            rows.append(_row("data_centre_renewable_share", annual * 100, "%",
                             f"annual|{headline}", carrier=DATA_CENTRE_CARRIER))
            rows.append(_row("data_centre_renewable_share", matched * 100, "%",
                             f"hourly|{headline}", carrier=DATA_CENTRE_CARRIER))

    # verdicts
    for target in sc.targets:
        variant = _target_variant(sc, target)
        if target.indicator == "electricity":
            achieved = electricity_shares[sc.accounting.attribution]
        else:
            achieved = shares[(sc.accounting.electricity_valuation, sc.accounting.attribution)]
        margin = (achieved - target.min_share) * 100
        passed = margin >= -VERDICT_TOLERANCE_PP
        rows.append(_row("target_share", target.min_share * 100, "%", target.name))
        rows.append(_row("target_achieved_share", achieved * 100, "%", target.name))
        rows.append(_row("target_margin", margin, "pp", target.name))
        rows.append(_row("target_pass", 1.0 if passed else 0.0, "bool", target.name))
        if target.enforce:
            enforced = (
                electricity_shares[LP_ATTRIBUTION]
                if target.indicator == "electricity"
                else shares[(sc.accounting.electricity_valuation, LP_ATTRIBUTION)]
            )
            rows.append(_row("target_enforced_share", enforced * 100, "%", target.name))

    # shadow prices of enforced targets
    for target in sc.targets:
        if not target.enforce or duals is None:
            continue
        name = _constraint_name(target.name)
        if name not in duals:
            continue
        dual = abs(float(duals[name]))
        if target.indicator == "electricity":
            denominator = balance.electricity
            rows.append(_row("shadow_price", dual, "CNY/MWh", target.name))
        else:
            terms = compute_share_terms(
                balance,
                re_local[LP_ATTRIBUTION],
                indicator="final_energy",
                electricity_factor=factors[sc.accounting.electricity_valuation],
                table=table,
                include_ambient_heat=include_ambient,
            )
            denominator = terms.denominator
            rows.append(_row("shadow_price", dual, "CNY/tce", target.name))
        rows.append(_row("shadow_price", dual * denominator * 0.01, "CNY/pp", target.name))

    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


VERDICT_COLUMNS = (
    "scenario",
    "target",
    "indicator",
    "variant",
    "enforced",
    "target_share",
    "achieved_share",
    "margin_pp",
    "status",
)


def compute_verdicts(metrics: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """One verdict row per target of the scenario.

    Parameters
    ----------
    metrics
        Output of :func:`compute_share_metrics` (or a metrics table that contains its rows).
    sc
        Scenario.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, target, indicator, variant, enforced, target_share [-],
        achieved_share [-], margin_pp [percentage points], status`` (``PASS``/``FAIL``).
        ``variant`` names the valuation and attribution of the achieved share (the scenario's
        headline). A target passes when ``margin_pp >= -VERDICT_TOLERANCE_PP``.
    """
    rows = []
    for target in sc.targets:
        variant = _target_variant(sc, target)
        metric = "renewable_share_electricity" if target.indicator == "electricity" else (
            "renewable_share"
        )
        hit = metrics[(metrics["metric"] == metric) & (metrics["variant"] == variant)]
        if hit.empty:
            msg = f"metrics have no '{metric}' row for variant '{variant}'"
            raise KeyError(msg)
        achieved = float(hit["value"].iloc[0]) / 100
        wanted = target.min_share
        margin = (achieved - wanted) * 100
        rows.append(
            {
                "scenario": sc.name,
                "target": target.name,
                "indicator": target.indicator,
                "variant": variant,
                "enforced": target.enforce,
                "target_share": wanted,
                "achieved_share": achieved,
                "margin_pp": margin,
                "status": "PASS" if margin >= -VERDICT_TOLERANCE_PP else "FAIL",
            }
        )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


# ---------------------------------------------------------------------------------------------
# Constraint and reachable share
# ---------------------------------------------------------------------------------------------


def _find_target(sc: Scenario, target: Target | str) -> Target:
    if isinstance(target, Target):
        return target
    for candidate in sc.targets:
        if candidate.name == target:
            return candidate
    msg = f"scenario '{sc.name}' has no target '{target}'"
    raise KeyError(msg)


def compute_model_share_terms(
    n: pypsa.Network, sc: Scenario, target: Target, project_root: str | Path, prefix: str
) -> ShareTerms:
    """Share numerator/denominator of ``target`` as linopy expressions of ``n.model``."""
    root = Path(project_root)
    factors = compute_electricity_factors(sc, root)
    table = (
        load_final_energy_table(root / sc.accounting.final_energy_table, sc.year)
        if target.indicator == "final_energy"
        else None
    )
    balance = compute_annual_balance(n, sc, model=True, prefix=prefix)
    return compute_share_terms(
        balance,
        compute_nea_local_renewable(balance),
        indicator=target.indicator,
        electricity_factor=factors[sc.accounting.electricity_valuation],
        table=table,
        include_ambient_heat=sc.accounting.include_ambient_heat,
    )


def add_renewable_share_constraint(
    n: pypsa.Network,
    sns: pd.Index,
    sc: Scenario,
    target: Target | str,
    project_root: str | Path,
) -> str:
    r"""Require the renewable share of ``target`` to reach ``target.min_share``.

    Adds one linear constraint to ``n.model`` (rule ``nea_annual``, the scenario's electricity
    valuation):

    .. math::

        c_{el}(G_{RE} - X - \Lambda) + c_h(F^{RE}_h + H^{RE}_{dh} + aQ_{amb}) + 10^6 T_{RE}
        \;\ge\; s \,\big[c_{el} E_{el} + c_h(F_h + H_{dh} + aQ_{amb}) + 10^6 T\big]

    for ``final_energy`` targets (both sides in tce), and
    :math:`G_{RE} - X - \Lambda \ge s\,E_{el}` (MWh) for ``electricity`` targets.

    ==================  ===========================================================  =========
    symbol              meaning                                                      unit
    ==================  ===========================================================  =========
    :math:`G_{RE}`      local renewable generation, :math:`\sum_t w_t p_{g,t}`         MWh
    :math:`X`           exports, :math:`\sum_t w_t \max(p_{\ell,t}, 0)` at local ends  MWh
    :math:`\Lambda`     losses of links between local electricity buses              MWh
    :math:`E_{el}`      local final electricity consumption (loads, conversion       MWh
                        links, storage losses)
    :math:`c_{el}`      electricity factor of the headline valuation                 tce/MWh
    :math:`c_h`         calorific factor of heat and fuels, 0.1229                   tce/MWh
    :math:`F_h, H_{dh}` heat-generator fuel input, non-electric district heat         MWh
    :math:`Q_{amb}`     heat-pump ambient heat (:math:`a` = include_ambient_heat)     MWh
    :math:`T, T_{RE}`   non-modelled final energy, renewable part (final_energy.csv) Mtce
    :math:`s`           ``target.min_share``                                         \-
    :math:`w_t`         snapshot weighting (generators)                              h
    ==================  ===========================================================  =========

    Flows that can change sign (lines, two-way links) enter through auxiliary variables
    :math:`a_t \ge p_t, a_t \ge 0`, exact at the optimum of a binding constraint. The dual of the
    constraint (``n.model.constraints[name].dual``) is in CNY/tce (CNY/MWh for electricity).

    Parameters
    ----------
    n
        Network whose ``n.model`` is being built (inside ``extra_functionality``).
    sns
        Snapshots of the optimisation (unused; the model's snapshots are taken).
    sc
        Scenario.
    target
        The target (or its name).
    project_root
        Folder that holds ``data/``.

    Returns
    -------
    str
        Constraint name ``GlobalConstraint-renewable_share_<target>``.
    """
    target = _find_target(sc, target)
    name = _constraint_name(target.name)
    terms = compute_model_share_terms(n, sc, target, project_root, prefix=name)
    lhs = terms.numerator - target.min_share * terms.denominator
    n.model.add_constraints(lhs >= 0, name=name)
    logger.info(
        "added %s: %s share >= %.1f %% (rule %s)",
        name,
        target.indicator,
        target.min_share * 100,
        LP_ATTRIBUTION,
    )
    return name


def _evaluate(term: Any) -> float:
    """Value of a linopy expression at the solution, or of a constant."""
    if hasattr(term, "solution") and not isinstance(term, xr.DataArray):
        return float(term.solution)
    return float(term)


def compute_max_reachable_share(
    n: pypsa.Network,
    sc: Scenario,
    target: Target | str,
    project_root: str | Path,
    *,
    extra_functionality: Callable[[pypsa.Network, pd.Index], None] | None = None,
    max_iter: int = 8,
    tol: float = 1e-5,
) -> float:
    r"""Largest share of ``target``'s indicator (rule ``nea_annual``) the network can reach.

    Dinkelbach's method on the linear-fractional program :math:`\max N(x)/D(x)` over the
    network's feasible set (costs ignored): solve :math:`\max N - q_k D`, set
    :math:`q_{k+1} = N/D` at the optimum, stop when :math:`\max N - q_k D \le tol \cdot D`.

    Parameters
    ----------
    n
        Network (not modified; a copy is optimised).
    sc, target, project_root
        As in :func:`add_renewable_share_constraint`.
    extra_functionality
        Adds the scenario's other constraints (e.g. export contracts) to the copy's model; it
        must not add the renewable-share constraint itself.
    max_iter
        Iteration limit.
    tol
        Convergence tolerance on the share [-].

    Returns
    -------
    float
        Largest reachable share [-].

    Raises
    ------
    InfeasibleError
        The network is infeasible even without the target.
    """
    target = _find_target(sc, target)
    work = n.copy()
    work.optimize.create_model(include_objective_constant=False)
    sns = work.snapshots
    if extra_functionality is not None:
        extra_functionality(work, sns)
    terms = compute_model_share_terms(
        work, sc, target, project_root, prefix=f"max_share_{target.name}"
    )
    m = work.model
    # this objective (no costs) has a large optimal face: an interior-point run without
    # crossover may stop without a reliable vertex, so crossover is switched on
    options: dict[str, Any] = {"output_flag": False, **sc.solver.options}
    if options.get("solver", "ipm") == "ipm":
        options["run_crossover"] = "on"
    q = 0.0
    share = 0.0
    for _ in range(max_iter):
        objective = terms.numerator - q * terms.denominator
        objective = objective - objective.const  # linopy objectives take no constant
        m.add_objective(objective, overwrite=True, sense="max")
        status, condition = m.solve(solver_name=sc.solver.name, io_api="direct", **options)
        if status != "ok" or condition != "optimal":
            msg = (
                f"cannot compute the largest reachable share of target '{target.name}': "
                f"the network has no feasible dispatch (status {status}, {condition})"
            )
            raise InfeasibleError(msg, status=str(status), condition=str(condition))
        num = _evaluate(terms.numerator)
        den = _evaluate(terms.denominator)
        if den <= 0:
            return 0.0
        share = num / den
        if share - q <= tol:
            break
        q = share
    return share


def format_unreachable_message(sc: Scenario, target: Target, max_share: float) -> str:
    """One-line message for a target the optimisation cannot reach.

    Example: ``scenario 'target-2035': target 'final_energy_2035' (renewable share of final
    energy >= 50.0 %, coal_equivalent valuation, nea_annual attribution) is unreachable; the
    largest reachable share is 41.3 %``.
    """
    what = (
        "renewable share of final energy"
        if target.indicator == "final_energy"
        else "renewable share of local electricity"
    )
    valuation = (
        f"{sc.accounting.electricity_valuation} valuation, "
        if target.indicator == "final_energy"
        else ""
    )
    return (
        f"scenario '{sc.name}': target '{target.name}' ({what} >= {target.min_share * 100:.1f} %, "
        f"{valuation}{LP_ATTRIBUTION} attribution) is unreachable; the largest reachable share "
        f"is {max_share * 100:.1f} %"
    )


def _capacity_by_carrier(n: pypsa.Network) -> pd.DataFrame:
    """Optimal capacity by component and carrier [MW; MWh for stores]."""
    frames = []
    for component, attr, unit in [
        ("Generator", "p_nom_opt", "MW"),
        ("StorageUnit", "p_nom_opt", "MW"),
        ("Link", "p_nom_opt", "MW"),
        ("Store", "e_nom_opt", "MWh"),
    ]:
        static = n.components[component].static
        if static.empty or attr not in static:
            continue
        grouped = static.groupby("carrier")[attr].sum()
        frames.append(
            pd.DataFrame(
                {"component": component, "carrier": grouped.index, "value": grouped.to_numpy(),
                 "unit": unit}
            )
        )
    if not frames:
        return pd.DataFrame(columns=["component", "carrier", "value", "unit"])
    return pd.concat(frames, ignore_index=True)


def compute_enforcement_changes(
    reference: pypsa.Network, enforced: pypsa.Network, sc: Scenario
) -> pd.DataFrame:
    """What the optimiser built or changed to reach the enforced targets.

    Compares two solved networks of the same scenario: ``reference`` without and ``enforced``
    with the renewable-share constraints.

    Returns
    -------
    pandas.DataFrame
        Tidy rows (``metric`` = ``target_change``): capacity differences by component and carrier
        (``variant`` = ``capacity|<component>``, MW or MWh) and differences of the annual local
        balance (``variant`` = ``renewable_generation``, ``curtailment``, ``exports``,
        ``electricity_local_consumption``, TWh), each ``enforced - reference``.
    """
    rows: list[dict] = []
    cap_ref = _capacity_by_carrier(reference).set_index(["component", "carrier"])
    cap_enf = _capacity_by_carrier(enforced).set_index(["component", "carrier"])
    joined = cap_enf.join(cap_ref, how="outer", lsuffix="_enf", rsuffix="_ref")
    for (component, carrier), item in joined.iterrows():
        delta = float(np.nan_to_num(item["value_enf"])) - float(np.nan_to_num(item["value_ref"]))
        if abs(delta) > 1e-3:  # below solver tolerance
            unit = item["unit_enf"] if isinstance(item["unit_enf"], str) else item["unit_ref"]
            rows.append(_row("target_change", delta, unit, f"capacity|{component}", carrier))

    def energy(n: pypsa.Network) -> dict[str, float]:
        balance = compute_annual_balance(n, sc)
        topo = compute_topology(n, sc)
        w = n.snapshot_weightings["generators"]
        curtailment = 0.0
        if topo.renewable_generators:
            names = topo.renewable_generators
            available = n.get_switchable_as_dense("Generator", "p_max_pu")[names].mul(
                n.generators.loc[names, "p_nom_opt"], axis=1
            )
            curtailment = float(
                (available - n.generators_t.p[names]).clip(lower=0).mul(w, axis=0).sum().sum()
            )
        return {
            "renewable_generation": float(balance.renewable_generation),
            "curtailment": curtailment,
            "exports": float(balance.exports),
            "electricity_local_consumption": float(balance.electricity),
        }

    before, after = energy(reference), energy(enforced)
    for key in before:
        rows.append(_row("target_change", (after[key] - before[key]) * 1e-6, "TWh", key))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def read_share_duals(n: pypsa.Network, sc: Scenario) -> dict[str, float]:
    """Duals of the enforced renewable-share constraints of a solved ``n.model``.

    Returns
    -------
    dict
        ``{constraint name: dual}`` [CNY/tce, or CNY/MWh for electricity targets].
    """
    duals: dict[str, float] = {}
    model = getattr(n, "model", None)
    if model is None:
        return duals
    for target in sc.targets:
        name = _constraint_name(target.name)
        if target.enforce and name in model.constraints:
            duals[name] = float(model.constraints[name].dual)
    return duals


__all__ = [
    "ATTRIBUTIONS",
    "CALORIFIC_KGCE_PER_KWH",
    "CONSTRAINT_PREFIX",
    "LP_ATTRIBUTION",
    "AnnualBalance",
    "Attribution",
    "FinalEnergyTable",
    "ShareTerms",
    "Topology",
    "add_renewable_share_constraint",
    "compute_annual_balance",
    "compute_attribution",
    "compute_electricity_factors",
    "compute_enforcement_changes",
    "compute_hourly_flows",
    "compute_local_buses",
    "compute_max_reachable_share",
    "compute_model_share_terms",
    "compute_nea_local_renewable",
    "compute_share_metrics",
    "compute_share_terms",
    "compute_topology",
    "compute_verdicts",
    "format_unreachable_message",
    "load_coal_equivalent_factor",
    "load_final_energy_table",
    "read_share_duals",
]
