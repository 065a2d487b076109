"""Annual energy balance and share terms, as numbers (solved network) or linear expressions.

One definition serves both the reported share and the enforced constraint: see the package
docstring of :mod:`energy_model.accounting`.
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

from energy_model.accounting.inputs import (
    CALORIFIC_KGCE_PER_KWH,
    DATA_CENTRE_CARRIER,
    FinalEnergyTable,
    compute_electricity_factors,
    scaled_final_energy_table,
)
from energy_model.network import HEAT_BUS_CARRIER, local_bus_mask
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS, Scenario, Target

logger = logging.getLogger(__name__)

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


def _storage_buses(
    n: pypsa.Network, candidates: list[str], el_local: set[str], heat_local: set[str]
) -> list[str]:
    """Storage buses among local non-electricity ``candidates``.

    A storage bus has no load, no generator and is not a heat bus, and every link touching it
    has all its other ports on local electricity buses (battery, H2-to-power loops).
    """
    ports = _link_ports(n)
    links = n.links
    link_buses = {k: links[f"bus{k}"].fillna("").astype(str) for k in ports}
    attached = set(n.loads["bus"]) | set(n.generators["bus"]) | heat_local
    storage_buses: list[str] = []
    for bus in candidates:
        if bus in attached:
            continue
        touching = [name for name in links.index if any(link_buses[k][name] == bus for k in ports)]
        if touching and all(
            (others := [link_buses[k][name] for k in ports if link_buses[k][name] not in ("", bus)])
            and all(o in el_local for o in others)
            for name in touching
        ):
            storage_buses.append(bus)
    return storage_buses


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

    storage_buses = _storage_buses(n, list(buses.index[~is_el & local]), el_local, heat_local)
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
    attached = set(n.loads["bus"]) | set(n.generators["bus"])
    store_only = {b for b in buses.index if b not in attached}
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


class FlowValues:
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
        # (component, attribute) -> (numbers, NaN as 0; columns; snapshots): each frame is read
        # (and made dense) once per instance, so the network must not change while it is in use
        self._frames: dict[tuple[str, str], tuple[np.ndarray, dict[Any, int], pd.Index]] = {}
        self._templates: dict[tuple[str, ...], xr.DataArray] = {}
        self._withdrawals: dict[tuple[str, str, int], xr.DataArray] = {}
        self._arrays: dict[tuple[tuple[str, str], tuple[str, ...]], xr.DataArray] = {}

    def _numbers(
        self, key: tuple[str, str], frame: Callable[[], pd.DataFrame], names: list[str]
    ) -> tuple[np.ndarray, pd.Index]:
        """Columns ``names`` of ``frame()`` as floats (snapshots x names, column-major as
        ``frame.reindex(columns=names).to_numpy()``; 0 where ``frame`` has no such column or a
        value is NaN) and its snapshots; ``frame`` is called once per key."""
        if key not in self._frames:
            table = frame()
            columns = {name: i for i, name in enumerate(table.columns)}
            self._frames[key] = (table.fillna(0.0).to_numpy(dtype=float), columns, table.index)
        numbers, columns, snapshots = self._frames[key]
        positions = np.array([columns.get(name, -1) for name in names], dtype=int)
        found = positions >= 0
        data = np.zeros((len(snapshots), len(names)), order="F")
        data[:, found] = numbers[:, positions[found]]
        return data, snapshots

    def _columns(
        self, key: tuple[str, str], frame: Callable[[], pd.DataFrame], names: list[str]
    ) -> xr.DataArray:
        """:meth:`_numbers` as a DataArray (snapshot, name); one read-only array per request."""
        request = (key, tuple(names))
        if request not in self._arrays:
            data, snapshots = self._numbers(key, frame, names)
            template = self._templates.get(request[1])
            if template is None or not template.indexes["snapshot"].equals(snapshots):
                template = xr.DataArray(
                    data, coords={"snapshot": snapshots, "name": names}, dims=("snapshot", "name")
                )
                self._templates[request[1]] = template
            # the same coordinates for the same names (building them costs ~20 x the copy)
            self._arrays[request] = template.copy(deep=False, data=data)
        return self._arrays[request]

    def _dynamic(self, component: str, attr: str) -> pd.DataFrame:
        static = self.n.components[component]
        frame = static.dynamic[attr] if attr in static.dynamic else pd.DataFrame()
        if frame.empty:
            return pd.DataFrame(0.0, index=self.n.snapshots, columns=pd.Index([], dtype=object))
        return frame

    def flow(self, component: str, attr: str, names: list[str]) -> Any:
        """Per-snapshot flow [MW] with dims (snapshot, name)."""
        if self.model:
            var = self.n.model.variables[_VARIABLES[(component, attr)]]
            if set(names) <= set(var.indexes["name"]):
                return var.sel(name=names)
            # inactive assets have no variable: they contribute zero (as in the numeric path)
            return var.reindex(name=names).fillna(0)
        return self._columns((component, attr), lambda: self._dynamic(component, attr), names)

    def dense(self, component: str, attr: str, names: list[str]) -> xr.DataArray:
        """Per-snapshot parameter as numbers with dims (snapshot, name)."""
        return self._columns(
            (component, f"dense:{attr}"), lambda: self.n.get_switchable_as_dense(component, attr), names
        )

    def load(self, names: list[str]) -> xr.DataArray:
        """Load withdrawal [MW] (loads are fixed, so numbers in both modes)."""
        if not self.model and not self.n.loads_t.p.empty:
            return self._columns(("Load", "p"), lambda: self.n.loads_t.p, names)
        return self.dense("Load", "p_set", names)

    def withdrawal(self, port: _Port) -> Any:
        """Withdrawal [MW] at a link port or line end (positive = leaves the bus)."""
        if self.model:
            return self._withdrawal(port)
        key = (port.component, port.name, port.port)
        if key not in self._withdrawals:  # numbers: once per port (read-only arrays)
            self._withdrawals[key] = self._withdrawal(port)
        return self._withdrawals[key]

    def _withdrawal(self, port: _Port) -> Any:
        if port.component == "Line":
            flow = self.flow("Line", "p0", [port.name])
            return flow if port.port == 0 else -1 * flow
        p0 = self.flow("Link", "p0", [port.name])
        if port.port == 0:
            return p0
        attr = "efficiency" if port.port == 1 else f"efficiency{port.port}"
        if not self.model:
            eff_numbers, snapshots = self._numbers(
                ("Link", f"dense:{attr}"), lambda: self.n.get_switchable_as_dense("Link", attr), [port.name]
            )
            if snapshots.equals(p0.indexes["snapshot"]):  # the product below, element by element
                return p0.copy(data=-1 * (p0.to_numpy() * eff_numbers))
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
        if (
            not self.model
            and isinstance(expr, xr.DataArray)
            and expr.dims == ("snapshot", "name")
            and expr.indexes["snapshot"].equals(self.weights.indexes["snapshot"])
        ):
            # numbers: xarray's own arithmetic without its per-call overhead (product, then
            # sum with NaN as 0, in the product's memory order): the same float, bit for bit
            weighted = expr.to_numpy() * self.weights.to_numpy()[:, None]
            return float(np.sum(np.where(np.isnan(weighted), 0.0, weighted)))
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
    n: pypsa.Network,
    sc: Scenario,
    *,
    model: bool = False,
    prefix: str = "accounting",
    topology: Topology | None = None,
    values: FlowValues | None = None,
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
    topology, values
        ``compute_topology(n, sc)`` and a :class:`FlowValues` of ``n`` in the same mode, when
        the caller has them already (computed here when ``None``).

    Returns
    -------
    AnnualBalance
        Terms in MWh per year (weighted by ``snapshot_weightings.generators``).
    """
    topo = topology if topology is not None else compute_topology(n, sc)
    if values is None:
        values = FlowValues(n, model=model, prefix=prefix)
    elif values.model != model:
        msg = f"values are {'linopy expressions' if values.model else 'numbers'}, model={model}"
        raise ValueError(msg)
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


def compute_green_exports(n: pypsa.Network, sc: Scenario) -> float:
    r"""Renewable electricity sent out under green contracts, at the local end [MWh/yr].

    .. math:: X_g = \sum_{c \in C_g} 10^6 E_c / \bar\eta_c

    ==================  =====================================================  =======
    symbol              meaning                                                unit
    ==================  =====================================================  =======
    :math:`C_g`         export contracts with ``renewable_only: true``          –
    :math:`E_c`         ``min_energy_twh``: contracted delivery at ``bus1``      TWh
    :math:`\bar\eta_c`   mean efficiency of the contract's links (time mean)    –
    ==================  =====================================================  =======

    The contracted volume, not the flow: certificates are issued for the contract, and the
    contract constraint makes the flow at least this large. A constant, so the green-contract
    rule stays linear for a fixed mix ratio.
    """
    total = 0.0
    for contract in sc.export_contracts:
        if not contract.renewable_only:
            continue
        links = [link for link in contract.links if link in n.links.index]
        if not links:
            continue
        efficiency = n.get_switchable_as_dense("Link", "efficiency")[links]
        mean_efficiency = float(efficiency.to_numpy().mean())
        if mean_efficiency > 0:
            total += contract.min_energy_twh * 1e6 / mean_efficiency
    return total


@dataclass
class MixPool:
    """The annual electricity pool of a mix rule (floats or linopy expressions) [MWh].

    ``renewable / total`` is the renewable fraction that locally consumed electricity carries.
    """

    renewable: Any
    total: Any


def compute_mix_pool(balance: AnnualBalance, rule: str, green_exports: float = 0.0) -> MixPool:
    r"""Renewable and total pool of an annual mix rule.

    Annually the local supply equals the local uses, :math:`G_{RE} + G_O + M = E_{el} + X +
    \Lambda`, so the pool is written with the uses side (no import or other-generation terms):

    * ``annual_mix``: :math:`R = G_{RE}`, :math:`T = E_{el} + X + \Lambda`;
    * ``green_contract``: green deliveries leave first,
      :math:`R = G_{RE} - X_g`, :math:`T = E_{el} + X + \Lambda - X_g`.

    ==================  ==============================================================  =====
    symbol              meaning                                                         unit
    ==================  ==============================================================  =====
    :math:`G_{RE}`      local renewable generation                                      MWh
    :math:`G_O, M`      other local generation, imports (counted non-renewable)         MWh
    :math:`E_{el}`      local final electricity consumption                             MWh
    :math:`X`           exports (positive part at the local ends)                       MWh
    :math:`\Lambda`     losses of links between local electricity buses                 MWh
    :math:`X_g`         green-contract deliveries at the local end
                        (:func:`compute_green_exports`; with numbers capped at
                        :math:`G_{RE}`)                                                 MWh
    ==================  ==============================================================  =====
    """
    total = balance.electricity + balance.exports + balance.network_losses
    if rule == "annual_mix":
        return MixPool(renewable=balance.renewable_generation, total=total)
    if rule == "green_contract":
        green = green_exports
        if isinstance(balance.renewable_generation, int | float | np.floating):
            green = min(green, float(balance.renewable_generation))
        return MixPool(renewable=balance.renewable_generation - green, total=total - green)
    msg = f"no annual mix pool for attribution rule {rule!r}"
    raise ValueError(msg)


def compute_mix_local_renewable(
    balance: AnnualBalance, rule: str, green_exports: float = 0.0
) -> tuple[float, float]:
    r"""Renewable electricity consumed locally and exported under an annual mix rule [MWh].

    .. math:: E_{RE,loc} = E_{el} \, R / T, \qquad E_{RE,exp} = G_{RE} - E_{RE,loc} - \Lambda R/T

    (numbers only; :func:`compute_mix_pool` defines :math:`R` and :math:`T`). Returns
    ``(local, exported)``.
    """
    pool = compute_mix_pool(balance, rule, green_exports)
    total = float(pool.total)
    ratio = min(max(float(pool.renewable) / total, 0.0), 1.0) if total > 0 else 0.0
    local = float(balance.electricity) * ratio
    losses = float(balance.network_losses) * ratio
    exported = max(float(balance.renewable_generation) - local - losses, 0.0)
    return local, exported


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
# Constraint and reachable share
# ---------------------------------------------------------------------------------------------


def find_target(sc: Scenario, target: Target | str) -> Target:
    if isinstance(target, Target):
        return target
    for candidate in sc.targets:
        if candidate.name == target:
            return candidate
    msg = f"scenario '{sc.name}' has no target '{target}'"
    raise KeyError(msg)


def compute_model_share_terms(
    n: pypsa.Network,
    sc: Scenario,
    target: Target,
    project_root: str | Path,
    prefix: str,
    *,
    rule: str,
    mix_ratio: float,
) -> tuple[ShareTerms, MixPool]:
    """Share and mix-pool terms of ``target`` as linopy expressions of ``n.model``.

    The locally consumed renewable electricity is ``mix_ratio * E_el`` (the mix ratio fixed,
    so the share is linear); the pool of ``rule`` (:func:`compute_mix_pool`) is returned for
    the constraint that the network's own mix reaches ``mix_ratio``.
    """
    root = Path(project_root)
    factors = compute_electricity_factors(sc, root)
    table = (
        scaled_final_energy_table(root / sc.accounting.final_energy_table, sc.year, n)
        if target.indicator == "final_energy"
        else None
    )
    balance = compute_annual_balance(n, sc, model=True, prefix=prefix)
    pool = compute_mix_pool(balance, rule, compute_green_exports(n, sc))
    terms = compute_share_terms(
        balance,
        mix_ratio * balance.electricity,
        indicator=target.indicator,
        electricity_factor=factors[sc.accounting.electricity_valuation],
        table=table,
        include_ambient_heat=sc.accounting.include_ambient_heat,
    )
    return terms, pool


