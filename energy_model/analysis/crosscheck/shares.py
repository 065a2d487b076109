"""Enforced renewable-share targets in the Pyomo LP (annual mix rules), written from docs/accounting.md."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from energy_model.accounting import (
    compute_electricity_factors,
    compute_green_exports,
    scaled_final_energy_table,
)
from energy_model.analysis.crosscheck.lp import (
    CrosscheckUnsupportedError,
    PyomoBuilder,
    ShareConstraint,
    _active,
    _dense,
)
from energy_model.network import HEAT_BUS_CARRIER, local_buses
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Enforced renewable-share targets (annual mix rules), written from docs/accounting.md
# --------------------------------------------------------------------------------------------

#: Calorific value of heat and fuels [tce/MWh]: 3.6 MJ/kWh / 29.3076 MJ/kgce.
_C_HEAT = 3.6 / 29.3076
#: tce per Mtce (the final-energy table is in Mtce).
_TCE_PER_MTCE = 1e6


@dataclass
class ShareRoles:
    """Which components enter the renewable-share terms (names only; docs/accounting.md §1).

    Ports are ``(link, k)`` pairs: the link's port ``bus<k>``; line ends are ``(line, 0|1)``.
    """

    electricity_buses: set[str]
    heat_buses: set[str]
    storage_buses: set[str]
    renewable_generators: list[str] = field(default_factory=list)
    heat_generators: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    storage_units: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    border_link_ports: list[tuple[str, int]] = field(default_factory=list)
    border_line_ends: list[tuple[str, int]] = field(default_factory=list)
    internal_links: list[str] = field(default_factory=list)
    storage_link_ports: list[tuple[str, int]] = field(default_factory=list)
    conversion_ports: list[tuple[str, int]] = field(default_factory=list)
    renewable_conversion_ports: list[tuple[str, int]] = field(default_factory=list)
    district_heat_ports: list[tuple[str, int]] = field(default_factory=list)
    heat_pumps: list[str] = field(default_factory=list)


def _link_port_buses(links: pd.DataFrame) -> dict[str, dict[int, str]]:
    """``{link: {k: bus<k>}}`` for every non-empty port of every link."""
    ports = sorted(int(c[3:]) for c in links.columns if c.startswith("bus") and c[3:].isdigit())
    result: dict[str, dict[int, str]] = {}
    for name in links.index:
        buses = {}
        for k in ports:
            bus = links.at[name, f"bus{k}"]
            if isinstance(bus, str) and bus.strip():
                buses[k] = bus
        result[name] = buses
    return result


def classify_share_roles(n: pypsa.Network, sc: Scenario) -> ShareRoles:
    """Sort the network's components into the roles of the accounting (docs/accounting.md §1).

    * local buses: :func:`energy_model.network.local_buses` (``location`` = ``accounting.region``);
      electricity buses have a carrier in ``ELECTRICITY_BUS_CARRIERS``, heat buses ``heat``;
    * storage bus: local, neither electricity nor heat, no load, no generator, and every link
      touching it has all its other ports on local electricity buses;
    * a link with a port on a local electricity bus is a *border* link when another port is on a
      non-local bus, *internal* when all ports are on local electricity buses, *storage* when all
      are on local electricity or storage buses, else *conversion*;
    * a line with one end on a local electricity bus and the other on a non-local bus is a border
      line;
    * district heat: ports ``k >= 1`` on local heat buses of links whose ``bus0`` is a fuel bus
      (not electricity, not a local heat bus, with a load or a generator);
    * heat pump: ``bus0`` on a local electricity bus, ``bus1`` on a local heat bus, no non-local port.
    """
    buses = n.buses
    local = set(local_buses(n, sc.accounting.region))
    carrier = buses["carrier"].astype(str)
    el = {b for b in local if carrier[b] in ELECTRICITY_BUS_CARRIERS}
    heat = {b for b in local if carrier[b] == HEAT_BUS_CARRIER}
    renewable = set(sc.accounting.renewable_carriers)
    gens, loads = _active(n, "Generator"), _active(n, "Load")
    links, lines = _active(n, "Link"), _active(n, "Line")
    with_load = set(loads["bus"]) if len(loads) else set()
    with_gen = set(gens["bus"]) if len(gens) else set()
    port_buses = _link_port_buses(links) if len(links) else {}

    storage: set[str] = set()
    for bus in local - el - heat - with_load - with_gen:
        touching = [name for name, pb in port_buses.items() if bus in pb.values()]
        if not touching:
            continue
        if all(
            (others := [b for b in pb.values() if b != bus]) and all(b in el for b in others)
            for pb in (port_buses[name] for name in touching)
        ):
            storage.add(bus)

    roles = ShareRoles(electricity_buses=el, heat_buses=heat, storage_buses=storage)
    for g in gens.index:
        if gens.at[g, "bus"] in el and gens.at[g, "carrier"] in renewable:
            roles.renewable_generators.append(g)
        elif gens.at[g, "bus"] in heat:
            roles.heat_generators.append(g)
    roles.loads = [d for d in loads.index if loads.at[d, "bus"] in el]
    su, st = _active(n, "StorageUnit"), _active(n, "Store")
    roles.storage_units = [s for s in su.index if su.at[s, "bus"] in el]
    roles.stores = [r for r in st.index if st.at[r, "bus"] in el]

    for name, pb in port_buses.items():
        el_ports = [k for k, b in pb.items() if b in el]
        non_local = any(b not in local for b in pb.values())
        if el_ports:
            if non_local:
                roles.border_link_ports += [(name, k) for k in el_ports]
            elif all(b in el for b in pb.values()):
                roles.internal_links.append(name)
            elif all(b in el or b in storage for b in pb.values()):
                roles.storage_link_ports += [(name, k) for k in el_ports]
            else:
                roles.conversion_ports += [(name, k) for k in el_ports]
                if links.at[name, "carrier"] in renewable:
                    roles.renewable_conversion_ports += [(name, k) for k in el_ports]
        bus0 = pb.get(0, "")
        fuel_bus = (
            bus0 in buses.index
            and carrier[bus0] not in ELECTRICITY_BUS_CARRIERS
            and bus0 not in heat
            and (bus0 in with_load or bus0 in with_gen)
        )
        if fuel_bus:
            roles.district_heat_ports += [(name, k) for k, b in pb.items() if k >= 1 and b in heat]
        if bus0 in el and pb.get(1) in heat and not non_local:
            roles.heat_pumps.append(name)
    for name in lines.index:
        b0, b1 = lines.at[name, "bus0"], lines.at[name, "bus1"]
        if b0 in el and b1 not in local:
            roles.border_line_ends.append((name, 0))
        elif b1 in el and b0 not in local:
            roles.border_line_ends.append((name, 1))
    return roles




def _sign_range(coefficients: np.ndarray, reverses: bool) -> str:
    """Sign of a withdrawal ``c_t p_t``: ``"draws"`` (>= 0), ``"feeds"`` (<= 0) or ``"both"``.

    ``p_t >= 0`` unless the component can reverse (``p_min_pu < 0``).
    """
    nonzero = coefficients[coefficients != 0]
    if nonzero.size == 0:
        return "feeds"  # never withdraws anything
    if reverses:
        return "both"
    if (nonzero > 0).all():
        return "draws"
    if (nonzero < 0).all():
        return "feeds"
    return "both"


def _annual_share_terms(b: PyomoBuilder, sc: Scenario, roles: ShareRoles) -> dict[str, Any]:
    """Annual terms of the local balance as Pyomo expressions [MWh], weighted by ``w^g_t``."""
    m, T, w = b.m, b.T, b.w_gen
    n = b.n
    col = b.link_col
    port_buses = _link_port_buses(_active(n, "Link"))

    def withdrawal_coefficients(link: str, k: int) -> np.ndarray:
        """``c_{k,t}`` with withdrawal at port k = ``c_{k,t} p_{l,t}`` (1 at bus0, -eta_k else)."""
        if k == 0:
            return np.ones(len(T))
        return -b.link_efficiencies[k][:, col[link]]

    def reverses(link: str) -> bool:
        return bool((b.link_p_min_pu[:, col[link]] < 0).any())

    def annual(coefficients: np.ndarray, var: Any, key: str) -> Any:
        return pyo.quicksum(
            float(w[t] * coefficients[t]) * var[key, t] for t in T if coefficients[t] != 0
        )

    def positive_part(coefficients: np.ndarray, var: Any, key: str, sign: str) -> Any:
        """``sum_t w_t max(c_t p_t, 0)``: exact for one-signed flows, else ``a_t >= c_t p_t``."""
        if sign == "draws":
            return annual(coefficients, var, key)
        if sign == "feeds":
            return 0.0
        terms = []
        for t in T:
            expr = float(coefficients[t]) * var[key, t]
            aux = m.share_aux.add()
            m.share_aux_lower.add(aux - expr >= 0)
            b.share_aux.append((aux, expr))
            terms.append(float(w[t]) * aux)
        return pyo.quicksum(terms)

    ones = np.ones(len(T))
    terms: dict[str, Any] = {}

    # G_RE: renewable generators on local electricity buses + one-way outputs of renewable
    # conversion links
    g_re = [annual(ones, m.gen_p, g) for g in roles.renewable_generators]
    for link, k in roles.renewable_conversion_ports:
        c = withdrawal_coefficients(link, k)
        sign = _sign_range(c, reverses(link))
        if sign == "both":
            msg = (
                f"Link '{link}': renewable conversion link whose port bus{k} can both take and "
                "give electricity; its renewable output cannot be written as a linear term and "
                "is not modelled by the cross-check"
            )
            raise CrosscheckUnsupportedError(msg)
        if sign == "feeds":
            g_re.append(annual(-c, m.link_p, link))
    terms["G_RE"] = pyo.quicksum(g_re)

    # X: exports, positive part of the withdrawal at local ends of border links and lines
    x = []
    for link, k in roles.border_link_ports:
        c = withdrawal_coefficients(link, k)
        x.append(positive_part(c, m.link_p, link, _sign_range(c, reverses(link))))
    for line, end in roles.border_line_ends:
        c = ones if end == 0 else -ones
        x.append(positive_part(c, m.line_p, line, "both"))
    terms["X"] = pyo.quicksum(x)

    # Lambda: losses of links between local electricity buses, p0 (1 - sum_k eta_k)
    losses = []
    for link in roles.internal_links:
        c = sum(withdrawal_coefficients(link, k) for k in port_buses[link])
        losses.append(annual(np.asarray(c, dtype=float), m.link_p, link))
    terms["Lambda"] = pyo.quicksum(losses)

    # E_el: loads + electricity taken by conversion links + storage losses
    e_el: list[Any] = []
    loads = _active(n, "Load")
    if roles.loads:
        p_set = _dense(n, "Load", "p_set", pd.Index(roles.loads))
        sign = loads.loc[roles.loads, "sign"].astype(float).to_numpy()
        e_el.append(float((w[:, None] * (-sign * p_set)).sum()))
    for link, k in roles.conversion_ports:
        c = withdrawal_coefficients(link, k)
        e_el.append(positive_part(c, m.link_p, link, _sign_range(c, reverses(link))))
    for link, k in roles.storage_link_ports:
        e_el.append(annual(withdrawal_coefficients(link, k), m.link_p, link))
    for s in roles.storage_units:
        e_el.append(annual(ones, m.su_store, s))
        e_el.append(annual(-ones, m.su_dispatch, s))
    for r in roles.stores:
        e_el.append(annual(-ones, m.store_p, r))
    terms["E_el"] = pyo.quicksum(e_el)

    # F_h: fuel input of heat generators, p / efficiency
    renewable = set(sc.accounting.renewable_carriers)
    gens = _active(n, "Generator")
    fuel, fuel_re = [], []
    if roles.heat_generators:
        eff = _dense(n, "Generator", "efficiency", pd.Index(roles.heat_generators))
        for j, g in enumerate(roles.heat_generators):
            term = annual(1.0 / eff[:, j], m.gen_p, g)
            fuel.append(term)
            if gens.at[g, "carrier"] in renewable:
                fuel_re.append(term)
    terms["F_h"], terms["F_h_RE"] = pyo.quicksum(fuel), pyo.quicksum(fuel_re)

    # H_dh: heat delivered to local heat buses by links fed from a fuel bus, eta_k p0
    links = _active(n, "Link")
    heat, heat_re = [], []
    for link, k in roles.district_heat_ports:
        term = annual(-withdrawal_coefficients(link, k), m.link_p, link)
        heat.append(term)
        if links.at[link, "carrier"] in renewable:
            heat_re.append(term)
    terms["H_dh"], terms["H_dh_RE"] = pyo.quicksum(heat), pyo.quicksum(heat_re)

    # Q_amb: heat-pump ambient heat, p0 max(eta_1 - 1, 0)
    terms["Q_amb"] = pyo.quicksum(
        annual(np.clip(b.link_efficiencies[1][:, col[link]] - 1.0, 0.0, None), m.link_p, link)
        for link in roles.heat_pumps
    )
    return terms


def add_renewable_share_constraints(
    b: PyomoBuilder,
    targets: list[Any],
    project_root: Path,
    mix_ratios: dict[str, float] | None = None,
) -> None:
    r"""Add the Pyomo constraints of each enforced renewable-share target (annual mix rules).

    Written from docs/accounting.md (the annual mix rules and their enforcement), not from the
    linopy code. With the mix ratio fixed at :math:`\rho` (``mix_ratios[target]``: the engine's
    last fixed ratio), for a ``final_energy`` target (both sides in tce):

    .. math::

        R - \rho\,T \ge 0, \qquad R = G_{RE} - X_g, \quad T = E_{el} + X + \Lambda - X_g

        c_{el}\,\rho\,E_{el} + c_h(F^{RE}_h + H^{RE}_{dh} + a\,Q_{amb}) + 10^6\,T_{RE}
        \;\ge\; s\,\big[c_{el} E_{el} + c_h(F_h + H_{dh} + a\,Q_{amb}) + 10^6\,T\big]

    (:math:`X_g` = green-contract deliveries for the ``green_contract`` rule, else 0), and for
    an ``electricity`` target (MWh) the exact :math:`R - s\,T \ge 0`.

    with

    .. math::

        G_{RE} &= \sum_t w_t \Big(\sum_{g \in RE} p_{g,t} + \sum_{(l,k) \in RE} \eta^k_{l,t} p_{l,t}\Big),
        \qquad X = \sum_t w_t \Big(\sum_{(l,k)} a_{l,k,t} + \sum_{(j,e)} a_{j,e,t}\Big) \\
        \Lambda &= \sum_t w_t \sum_{l \in int} (1 - \textstyle\sum_{k \ge 1} \eta^k_{l,t})\,p_{l,t},
        \qquad Q_{amb} = \sum_t w_t \sum_{l \in HP} \max(\eta_{l,t} - 1, 0)\,p_{l,t} \\
        E_{el} &= \sum_t w_t \Big(\sum_d p^{set}_{d,t} + \sum_{(l,k) \in conv} a_{l,k,t}
                 + \sum_{(l,k) \in sto} c_{l,k,t}\,p_{l,t} + \sum_s (p^{st}_{s,t} - p^{d}_{s,t})
                 - \sum_r p_{r,t}\Big) \\
        F_h &= \sum_t w_t \sum_{g \in heat} p_{g,t} / \eta_{g,t},
        \qquad H_{dh} = \sum_t w_t \sum_{(l,k) \in dh} \eta^k_{l,t}\,p_{l,t}

    where the withdrawal of link *l* at port *k* is :math:`c_{l,k,t}\,p_{l,t}` with
    :math:`c_{l,0,t} = 1`, :math:`c_{l,k,t} = -\eta^k_{l,t}`, and :math:`a_t` is its positive part:
    the withdrawal itself where it cannot be negative, 0 where it cannot be positive, and otherwise
    an auxiliary variable :math:`a_t \ge c_t p_t,\ a_t \ge 0` (a line end: :math:`\pm f_{j,t}`).
    The auxiliaries enter with a negative sign, so they equal the positive part wherever the
    constraint binds (as in the accounting's LP form).

    ======================  ===============================================================  =========
    symbol                  meaning                                                          unit
    ======================  ===============================================================  =========
    :math:`p_{g,t}`         generator output (``gen_p``)                                     MW
    :math:`p_{l,t}`         link flow withdrawn at ``bus0`` (``link_p``)                      MW
    :math:`f_{j,t}`         line flow ``bus0`` -> ``bus1`` (``line_p``)                       MW
    :math:`p^{st}, p^{d}`   storage-unit charge / discharge on local electricity buses        MW
    :math:`p_{r,t}`         store power on local electricity buses (> 0 = discharge)         MW
    :math:`p^{set}_{d,t}`   loads on local electricity buses (incl. data centres)            MW
    :math:`\eta^k_{l,t}`    link efficiency to ``bus<k>``; :math:`\eta_{g,t}` generator's      \-
    :math:`w_t`             snapshot weighting ``generators``                                h
    :math:`G_{RE}`          local renewable electricity generation                           MWh
    :math:`X`               exports (withdrawal at local ends of border links/lines, > 0)    MWh
    :math:`\Lambda`         losses of links between local electricity buses                  MWh
    :math:`E_{el}`          local final electricity consumption                              MWh
    :math:`F_h, F^{RE}_h`   fuel input of heat generators on local heat buses (renewable)    MWh
    :math:`H_{dh}`          heat to local heat buses from fuel-fed links (renewable)         MWh
    :math:`Q_{amb}`         heat-pump ambient heat; :math:`a` = ``include_ambient_heat``       MWh
    :math:`c_{el}`          electricity factor of ``accounting.electricity_valuation``        tce/MWh
    :math:`c_h`             calorific value of heat and fuels, 3.6/29.3076 = 0.12284         tce/MWh
    :math:`T, T_{RE}`       non-modelled final energy and its renewable part (table)         Mtce
    :math:`s`               ``target.min_share``                                             \-
    ======================  ===============================================================  =========

    Roles (which bus is local, which link is a border, internal, storage or conversion link) are
    those of :func:`classify_share_roles`. The constraint is ``b.m.renewable_share[<target>]``;
    its dual is in CNY/tce (CNY/MWh for ``electricity`` targets), loaded into ``b.m.dual`` by
    :func:`energy_model.analysis.crosscheck.run.solve_pyomo_model`.

    Raises
    ------
    CrosscheckUnsupportedError
        A renewable conversion link whose electricity port can change sign (its output is not
        linear in the flow).
    """
    sc, m = b.sc, b.m
    assert sc is not None
    root = Path(project_root)
    roles = classify_share_roles(b.n, sc)
    m.share_aux = pyo.VarList(domain=pyo.NonNegativeReals)
    m.share_aux_lower = pyo.ConstraintList()
    terms = _annual_share_terms(b, sc, roles)
    factors = compute_electricity_factors(sc, root)
    valuation = sc.accounting.electricity_valuation
    c_el = float(factors[valuation])
    ambient = terms["Q_amb"] if sc.accounting.include_ambient_heat else 0.0
    names = [target.name for target in targets]
    constraints: dict[str, Any] = {}
    green = compute_green_exports(b.n, sc) if sc.enforced_attribution == "green_contract" else 0.0
    pool_renewable = terms["G_RE"] - green
    pool_total = terms["E_el"] + terms["X"] + terms["Lambda"] - green
    mix: dict[str, Any] = {}
    for target in targets:
        if target.indicator == "electricity":
            ratio = float(target.min_share)
            numerator, denominator = pool_renewable, pool_total
            t_all = t_re = 0.0
        else:
            ratio = float((mix_ratios or {})[target.name])
            mix[target.name] = pool_renewable - ratio * pool_total >= 0
            table = scaled_final_energy_table(root / sc.accounting.final_energy_table, sc.year, b.n)
            rows = table.rows
            t_all = float(rows["value_mtce"].sum()) * _TCE_PER_MTCE
            t_re = float(rows.loc[rows["renewable"].astype(bool), "value_mtce"].sum()) * _TCE_PER_MTCE
            local_re = ratio * terms["E_el"]
            numerator = (
                c_el * local_re + _C_HEAT * (terms["F_h_RE"] + terms["H_dh_RE"] + ambient) + t_re
            )
            denominator = (
                c_el * terms["E_el"] + _C_HEAT * (terms["F_h"] + terms["H_dh"] + ambient) + t_all
            )
        constraints[target.name] = numerator - target.min_share * denominator >= 0
        b.shares[target.name] = ShareConstraint(
            target=target.name,
            indicator=target.indicator,
            valuation=valuation if target.indicator == "final_energy" else "",
            min_share=float(target.min_share),
            electricity_factor=c_el,
            terms={**terms, "T": t_all, "T_RE": t_re, "X_g": green, "rho": ratio},
            numerator=numerator,
            denominator=denominator,
            constraint=None,
        )
    m.renewable_mix = pyo.Constraint(list(mix), rule=lambda _m, name: _row(mix[name]))
    m.renewable_share = pyo.Constraint(names, rule=lambda _m, name: _row(constraints[name]))
    for name in names:
        # a share row without variables (every term fixed) holds or fails as a constant
        present = name in m.renewable_share  # Pyomo's IndexedConstraint has no .get
        b.shares[name].constraint = m.renewable_share[name] if present else None
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    logger.info(
        "added %d renewable-share constraint(s) to the Pyomo LP (%d auxiliary variables)",
        len(names),
        len(b.share_aux),
    )


def _row(relation: Any) -> Any:
    """A constraint expression, or ``Constraint.Feasible``/``Infeasible`` for a constant one."""
    if isinstance(relation, bool | np.bool_):
        return pyo.Constraint.Feasible if relation else pyo.Constraint.Infeasible
    return relation


def tighten_share_auxiliaries(b: PyomoBuilder) -> None:
    """Set each auxiliary ``a_t`` to ``max(c_t p_t, 0)`` at the current flows (exact value)."""
    for aux, expr in b.share_aux:
        value = pyo.value(expr, exception=False)
        if value is not None:
            aux.set_value(max(float(value), 0.0), skip_validation=True)


def evaluate_shares(b: PyomoBuilder) -> dict[str, tuple[float, float]]:
    """Share [-] and denominator [tce, or MWh] of each enforced target at the current values.

    Call :func:`tighten_share_auxiliaries` first so that the positive parts are exact.
    """
    shares: dict[str, tuple[float, float]] = {}
    for name, share in b.shares.items():
        den = float(pyo.value(share.denominator))
        num = float(pyo.value(share.numerator))
        shares[name] = (num / den if den > 0 else float("nan"), den)
    return shares


