"""The independent Pyomo LP of a PyPSA network (formulation: see :mod:`energy_model.analysis.crosscheck`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from energy_model.exceptions import EnergyModelError

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)


#: Relative objective tolerance of the cross-check [-].
OBJECTIVE_RTOL = 1e-6
#: Absolute tolerance on constraint violations of PyPSA's solution in this LP [MW or MWh],
#: scaled by ``max(1, |right-hand side|)``.
FEASIBILITY_TOL = 1e-5
MWH_PER_TWH = 1e6

#: Static attributes this formulation does not model; a non-default value is an error.
_UNSUPPORTED_STATIC: dict[str, tuple[str, ...]] = {
    "Generator": (
        "committable",
        "marginal_cost_quadratic",
        "ramp_limit_up",
        "ramp_limit_down",
        "p_nom_mod",
        "p_nom_set",
        "p_set",
        "overnight_cost",
    ),
    "Link": (
        "committable",
        "marginal_cost_quadratic",
        "ramp_limit_up",
        "ramp_limit_down",
        "p_nom_mod",
        "p_nom_set",
        "p_set",
        "overnight_cost",
    ),
    "StorageUnit": (
        "marginal_cost_quadratic",
        "p_nom_mod",
        "p_nom_set",
        "p_dispatch_set",
        "p_store_set",
        "overnight_cost",
    ),
    "Store": ("marginal_cost_quadratic", "e_nom_mod", "e_nom_set", "p_set", "e_set", "overnight_cost"),
    "Line": ("s_nom_mod", "s_nom_set", "overnight_cost"),
}
#: Time-varying inputs this formulation does not model; any value is an error.
_UNSUPPORTED_DYNAMIC: dict[str, tuple[str, ...]] = {
    "Generator": ("p_set", "marginal_cost_quadratic"),
    "Link": ("p_set", "marginal_cost_quadratic"),
    "StorageUnit": ("p_dispatch_set", "p_store_set"),
    "Store": ("p_set", "e_set"),
}
_SUPPORTED_GLOBAL_CONSTRAINTS = {"primary_energy"}


class CrosscheckUnsupportedError(EnergyModelError, ValueError):
    """The network uses a feature that the independent formulation does not model (exit 1)."""


@dataclass(frozen=True)
class CrosscheckResult:
    """Comparison of PyPSA/linopy with the independent Pyomo formulation.

    Attributes
    ----------
    objective_pypsa, objective_pyomo
        Optimal objectives without PyPSA's objective constant [currency of the network].
    rel_diff
        ``|pyomo - pypsa| / max(|pypsa|, 1)`` [-].
    max_dispatch_diff
        Largest absolute difference of any dispatch or capacity value [MW or MWh]; a non-zero
        value with a feasible PyPSA solution of equal cost is an alternative optimum.
    dispatch_diffs
        The same, per quantity (``Generator-p``, ``Link-p0``, ``Generator-p_nom`` ...).
    pypsa_max_violation
        Largest violation of this LP's constraints by PyPSA's solution, scaled by
        ``max(1, |bound|)`` [-].
    pypsa_cost_in_pyomo
        PyPSA's solution priced by this LP's objective [currency].
    build_seconds, solve_seconds
        ``{"linopy": s, "pyomo": s}``: model build (Python side, incl. scenario constraints) and
        solver call (incl. hand-over to HiGHS) [s].
    lp_size
        ``{"linopy": {...}, "pyomo": {...}}``: variables and constraints.
    targets
        Per enforced renewable-share target: ``min_share``, ``share_pyomo`` (the Pyomo
        expressions at the Pyomo optimum), ``share_pypsa`` (the same expressions at PyPSA's
        solution; NaN without ``check_feasibility``) [-], ``denominator_pyomo`` (final energy
        [tce], or local electricity [MWh] for ``electricity`` targets, at the Pyomo optimum) and
        the constraint duals ``dual_pypsa``, ``dual_pyomo`` [CNY/tce, or CNY/MWh]. The cost of
        one more percentage point is about ``dual * denominator / 100``. Duals of a degenerate
        LP need not be unique: compare them only where they are.
    ok
        Objectives agree within ``OBJECTIVE_RTOL`` and PyPSA's solution is feasible in this LP
        within ``FEASIBILITY_TOL``.
    """

    objective_pypsa: float
    objective_pyomo: float
    rel_diff: float
    max_dispatch_diff: float
    dispatch_diffs: dict[str, float]
    pypsa_max_violation: float
    pypsa_cost_in_pyomo: float
    build_seconds: dict[str, float]
    solve_seconds: dict[str, float]
    lp_size: dict[str, dict[str, int]] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    mix_ratios: dict[str, float] = field(default_factory=dict)
    """Fixed mix ratio of each enforced final-energy target in both LPs (the engine's last)."""
    ok: bool = False

    def summary(self) -> str:
        """One line for logs and the CLI."""
        shares = "".join(
            f"; target {name}: share >= {t['min_share'] * 100:.2f} %, pyomo "
            f"{t['share_pyomo'] * 100:.4f} %, pypsa {t['share_pypsa'] * 100:.4f} %, dual pypsa "
            f"{t['dual_pypsa']:.6g}, pyomo {t['dual_pyomo']:.6g}"
            for name, t in self.targets.items()
        )
        return (
            f"objective pypsa {self.objective_pypsa:.10g}, pyomo {self.objective_pyomo:.10g}, "
            f"rel diff {self.rel_diff:.2e}; max dispatch diff {self.max_dispatch_diff:.3g}; "
            f"PyPSA solution violates the Pyomo LP by {self.pypsa_max_violation:.2e}"
            f"{shares}; build linopy {self.build_seconds['linopy']:.2f} s vs pyomo "
            f"{self.build_seconds['pyomo']:.2f} s; solve linopy {self.solve_seconds['linopy']:.2f} s "
            f"vs pyomo {self.solve_seconds['pyomo']:.2f} s; {'OK' if self.ok else 'MISMATCH'}"
        )


# --------------------------------------------------------------------------------------------
# Input data
# --------------------------------------------------------------------------------------------


def _active(n: pypsa.Network, component: str) -> pd.DataFrame:
    static = n.components[component].static
    if static.empty:
        return static
    if "active" in static.columns:
        static = static[static["active"].astype(bool)]
    return static


def _dense(n: pypsa.Network, component: str, attr: str, names: pd.Index) -> np.ndarray:
    """Input ``attr`` as a (snapshot × name) float array."""
    if len(names) == 0:
        return np.zeros((len(n.snapshots), 0))
    return n.get_switchable_as_dense(component, attr)[names].to_numpy(dtype=float)


def _capital_cost(static: pd.DataFrame) -> pd.Series:
    """Capital plus fixed O&M cost per unit of capacity [currency/MW(h)/horizon]."""
    fom = static["fom_cost"] if "fom_cost" in static.columns else 0.0
    return (static["capital_cost"] + fom).astype(float)


def validate_supported(n: pypsa.Network) -> None:
    """Raise when the network uses something this formulation does not model.

    Raises
    ------
    CrosscheckUnsupportedError
        Naming the component, the attribute and the first offending row.
    """
    if n.has_periods or n.has_scenarios:
        msg = "investment periods and stochastic scenarios are not modelled by the cross-check"
        raise CrosscheckUnsupportedError(msg)
    for component in ("Transformer", "ShuntImpedance", "Process"):
        if component in [c.name for c in n.components] and not n.components[component].static.empty:
            msg = f"{component} components are not modelled by the cross-check"
            raise CrosscheckUnsupportedError(msg)
    for component, attrs in _UNSUPPORTED_STATIC.items():
        c = n.components[component]
        static = _active(n, component)
        for attr in attrs:
            if attr not in static.columns:
                continue
            default = c.defaults.loc[attr, "default"]
            values = static[attr]
            if pd.isna(default):
                bad = values.notna()
            elif isinstance(default, bool | np.bool_):
                bad = values.astype(bool) != bool(default)
            else:
                bad = values.astype(float) != float(default)
            if bad.any():
                msg = (
                    f"{component} '{bad[bad].index[0]}': attribute '{attr}' = "
                    f"{values[bad].iloc[0]!r} is not modelled by the cross-check"
                )
                raise CrosscheckUnsupportedError(msg)
    for component, attrs in _UNSUPPORTED_DYNAMIC.items():
        dynamic = n.components[component].dynamic
        for attr in attrs:
            df = dynamic.get(attr)
            if df is not None and not df.empty and df.notna().to_numpy().any():
                msg = f"{component}: time-varying '{attr}' is not modelled by the cross-check"
                raise CrosscheckUnsupportedError(msg)
    gcs = n.components["GlobalConstraint"].static
    for name, row in gcs.iterrows():
        if row["type"] not in _SUPPORTED_GLOBAL_CONSTRAINTS:
            msg = f"GlobalConstraint '{name}': type '{row['type']}' is not modelled by the cross-check"
            raise CrosscheckUnsupportedError(msg)


# --------------------------------------------------------------------------------------------
# The Pyomo model
# --------------------------------------------------------------------------------------------


def _nominal_var(
    model: pyo.ConcreteModel, name: str, static: pd.DataFrame, attr: str, ext: pd.Index
) -> pyo.Var:
    """Capacity variables of the extendable components, bounded by ``<attr>_min/_max``."""
    lower = static.loc[ext, f"{attr}_min"].astype(float)
    upper = static.loc[ext, f"{attr}_max"].astype(float)
    bounds = {i: (lower[i], upper[i] if np.isfinite(upper[i]) else None) for i in ext}
    var = pyo.Var(list(ext), bounds=lambda _m, i: bounds[i])
    model.add_component(name, var)
    return var


def _grid_components(buses: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Map each bus to a representative bus of its connected grid (union-find)."""
    parent = {b: b for b in buses}

    def find(b: str) -> str:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    return {b: find(b) for b in buses}


@dataclass
class ShareConstraint:
    """One enforced target in the Pyomo LP: its constraint and the Pyomo expressions of its terms.

    ``terms`` holds the annual quantities of docs/accounting.md §1 as Pyomo expressions
    (``G_RE, X, Lambda, E_el, F_h, F_h_RE, H_dh, H_dh_RE, Q_amb`` in MWh; ``T, T_RE`` in tce) and
    ``numerator``/``denominator`` the two sides of the share (tce, or MWh for ``electricity``).
    """

    target: str
    indicator: str
    valuation: str
    min_share: float
    electricity_factor: float
    terms: dict[str, Any]
    numerator: Any
    denominator: Any
    constraint: Any


class PyomoBuilder:
    """Build the Pyomo LP of a network; keeps the index maps for reading solutions."""

    def __init__(
        self, n: pypsa.Network, sc: Scenario | None, project_root: Path | None = None
    ) -> None:
        self.n = n
        self.sc = sc
        self.project_root = project_root
        self.m = pyo.ConcreteModel(name="crosscheck")
        self.T = list(range(len(n.snapshots)))
        w = n.snapshot_weightings
        self.w_obj = w["objective"].to_numpy(dtype=float)
        self.w_sto = w["stores"].to_numpy(dtype=float)
        self.w_gen = w["generators"].to_numpy(dtype=float)
        self.balance: dict[str, list[list[tuple[float, Any]]]] = {
            b: [[] for _ in self.T] for b in n.buses.index
        }
        self.demand = pd.DataFrame(0.0, index=self.T, columns=n.buses.index)
        self.cost_terms: list[Any] = []
        self.capex_terms: list[Any] = []
        self.nominal: dict[str, tuple[pd.Index, pyo.Var]] = {}
        self.end_levels: dict[str, Any] = {}
        #: enforced renewable-share targets: constraint and expressions, by target name
        self.shares: dict[str, ShareConstraint] = {}
        #: auxiliary variables ``a_t >= expr_t, a_t >= 0`` of the share constraints
        self.share_aux: list[tuple[Any, Any]] = []

    # -- components ----------------------------------------------------------------------
    def add_generators(self) -> None:
        n, m, T = self.n, self.m, self.T
        static = _active(n, "Generator")
        names = static.index
        m.G = pyo.Set(initialize=list(names), ordered=True)
        ext = names[static["p_nom_extendable"].astype(bool)]
        fix = names.difference(ext)
        p_max = _dense(n, "Generator", "p_max_pu", names)
        p_min = _dense(n, "Generator", "p_min_pu", names)
        cost = _dense(n, "Generator", "marginal_cost", names)
        p_nom = static["p_nom"].astype(float)
        col = {g: i for i, g in enumerate(names)}
        fixed = set(fix)

        def bounds(_m: Any, g: str, t: int) -> tuple[float | None, float | None]:
            if g in fixed:
                return (p_min[t, col[g]] * p_nom[g], p_max[t, col[g]] * p_nom[g])
            return (None, None)

        m.gen_p = pyo.Var(m.G, T, bounds=bounds)
        P = _nominal_var(m, "gen_p_nom", static, "p_nom", ext)
        self.nominal["Generator-p_nom"] = (ext, P)
        ext_l = list(ext)
        m.gen_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, g, t: m.gen_p[g, t] - p_max[t, col[g]] * P[g] <= 0
        )
        m.gen_lower = pyo.Constraint(
            ext_l, T, rule=lambda _m, g, t: m.gen_p[g, t] - p_min[t, col[g]] * P[g] >= 0
        )
        sign = static["sign"].astype(float)
        for g in names:
            j = col[g]
            bus = self.balance[static.at[g, "bus"]]
            for t in T:
                bus[t].append((sign[g], m.gen_p[g, t]))
                if cost[t, j] != 0:
                    self.cost_terms.append(self.w_obj[t] * cost[t, j] * m.gen_p[g, t])
        k = _capital_cost(static)
        self.capex_terms += [k[g] * P[g] for g in ext if k[g] != 0]
        # energy over the horizon, weighted by the generators weighting
        m.gen_energy_limits = pyo.ConstraintList()
        for attr in ("e_sum_min", "e_sum_max"):
            if attr not in static.columns:
                continue
            for g, limit in static[attr].astype(float).items():
                if not np.isfinite(limit):
                    continue
                energy = pyo.quicksum(self.w_gen[t] * m.gen_p[g, t] for t in T)
                m.gen_energy_limits.add(energy >= limit if attr == "e_sum_min" else energy <= limit)
        self.gen_names = names

    def add_loads(self) -> None:
        static = _active(self.n, "Load")
        p_set = _dense(self.n, "Load", "p_set", static.index)
        sign = static["sign"].astype(float).to_numpy()
        withdrawn = -p_set * sign  # PyPSA's load sign is -1: a positive p_set is consumed
        frame = pd.DataFrame(withdrawn, index=self.T, columns=static.index)
        for bus, loads in static.groupby("bus").groups.items():
            self.demand[bus] += frame[list(loads)].sum(axis=1)

    def add_links(self) -> None:
        n, m, T = self.n, self.m, self.T
        static = _active(n, "Link")
        names = static.index
        m.L = pyo.Set(initialize=list(names), ordered=True)
        ext = names[static["p_nom_extendable"].astype(bool)]
        fixed = set(names.difference(ext))
        p_max = _dense(n, "Link", "p_max_pu", names)
        p_min = _dense(n, "Link", "p_min_pu", names)
        cost = _dense(n, "Link", "marginal_cost", names)
        p_nom = static["p_nom"].astype(float)
        col = {name: i for i, name in enumerate(names)}

        def bounds(_m: Any, name: str, t: int) -> tuple[float | None, float | None]:
            if name in fixed:
                return (p_min[t, col[name]] * p_nom[name], p_max[t, col[name]] * p_nom[name])
            return (None, None)

        m.link_p = pyo.Var(m.L, T, bounds=bounds)
        P = _nominal_var(m, "link_p_nom", static, "p_nom", ext)
        self.nominal["Link-p_nom"] = (ext, P)
        ext_l = list(ext)
        m.link_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, name, t: m.link_p[name, t] - p_max[t, col[name]] * P[name] <= 0
        )
        m.link_lower = pyo.Constraint(
            ext_l, T, rule=lambda _m, name, t: m.link_p[name, t] - p_min[t, col[name]] * P[name] >= 0
        )
        ports = sorted(
            int(c[3:]) for c in static.columns if c.startswith("bus") and c[3:].isdigit() and c != "bus0"
        )
        efficiencies = {
            k: _dense(n, "Link", "efficiency" if k == 1 else f"efficiency{k}", names) for k in ports
        }
        self.link_efficiency = efficiencies.get(1)
        self.link_efficiencies = efficiencies
        self.link_p_min_pu = p_min
        for name in names:
            j = col[name]
            bus0 = self.balance[static.at[name, "bus0"]]
            outputs = [
                (self.balance[static.at[name, f"bus{k}"]], efficiencies[k][:, j])
                for k in ports
                if isinstance(static.at[name, f"bus{k}"], str) and static.at[name, f"bus{k}"] != ""
            ]
            for t in T:
                var = m.link_p[name, t]
                bus0[t].append((-1.0, var))
                for bus, eta in outputs:
                    if eta[t] != 0:
                        bus[t].append((eta[t], var))
                if cost[t, j] != 0:
                    self.cost_terms.append(self.w_obj[t] * cost[t, j] * var)
        k = _capital_cost(static)
        self.capex_terms += [k[name] * P[name] for name in ext if k[name] != 0]
        self.link_names = names
        self.link_col = col

    def add_storage_units(self) -> None:
        n, m, T = self.n, self.m, self.T
        static = _active(n, "StorageUnit")
        names = static.index
        m.S = pyo.Set(initialize=list(names), ordered=True)
        ext = names[static["p_nom_extendable"].astype(bool)]
        fixed = set(names.difference(ext))
        col = {s: i for i, s in enumerate(names)}
        p_max = _dense(n, "StorageUnit", "p_max_pu", names)
        p_min = _dense(n, "StorageUnit", "p_min_pu", names)
        inflow = _dense(n, "StorageUnit", "inflow", names)
        eta_store = _dense(n, "StorageUnit", "efficiency_store", names)
        eta_dispatch = _dense(n, "StorageUnit", "efficiency_dispatch", names)
        loss = _dense(n, "StorageUnit", "standing_loss", names)
        soc_set = _dense(n, "StorageUnit", "state_of_charge_set", names)
        cost = _dense(n, "StorageUnit", "marginal_cost", names)
        cost_e = _dense(n, "StorageUnit", "marginal_cost_storage", names)
        cost_spill = _dense(n, "StorageUnit", "spill_cost", names)
        p_nom = static["p_nom"].astype(float)
        max_hours = static["max_hours"].astype(float)

        def b_dispatch(_m: Any, s: str, t: int) -> tuple[float, float | None]:
            return (0.0, p_max[t, col[s]] * p_nom[s] if s in fixed else None)

        def b_store(_m: Any, s: str, t: int) -> tuple[float, float | None]:
            return (0.0, -p_min[t, col[s]] * p_nom[s] if s in fixed else None)

        def b_soc(_m: Any, s: str, t: int) -> tuple[float, float | None]:
            return (0.0, max_hours[s] * p_nom[s] if s in fixed else None)

        m.su_dispatch = pyo.Var(m.S, T, bounds=b_dispatch)
        m.su_store = pyo.Var(m.S, T, bounds=b_store)
        m.su_soc = pyo.Var(m.S, T, bounds=b_soc)
        spill_idx = [(s, t) for s in names for t in T if inflow[t, col[s]] > 0]
        m.su_spill = pyo.Var(spill_idx, bounds=lambda _m, s, t: (0.0, inflow[t, col[s]]))
        P = _nominal_var(m, "su_p_nom", static, "p_nom", ext)
        self.nominal["StorageUnit-p_nom"] = (ext, P)
        ext_l = list(ext)
        m.su_dispatch_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, s, t: m.su_dispatch[s, t] - p_max[t, col[s]] * P[s] <= 0
        )
        m.su_store_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, s, t: m.su_store[s, t] + p_min[t, col[s]] * P[s] <= 0
        )
        m.su_soc_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, s, t: m.su_soc[s, t] - max_hours[s] * P[s] <= 0
        )
        cyclic = static["cyclic_state_of_charge"].astype(bool)
        initial = static["state_of_charge_initial"].astype(float)
        spill_set = set(spill_idx)
        last = T[-1]

        def energy_balance(_m: Any, s: str, t: int) -> Any:
            j = col[s]
            hours = self.w_sto[t]
            change = hours * (
                eta_store[t, j] * m.su_store[s, t] - m.su_dispatch[s, t] / eta_dispatch[t, j] + inflow[t, j]
            )
            if (s, t) in spill_set:
                change -= hours * m.su_spill[s, t]
            if t > 0:
                before = (1 - loss[t, j]) ** hours * m.su_soc[s, t - 1]
            elif cyclic[s]:
                before = (1 - loss[t, j]) ** hours * m.su_soc[s, last]
            else:
                before = initial[s]
            return m.su_soc[s, t] == before + change

        m.su_balance = pyo.Constraint(m.S, T, rule=energy_balance)
        # A fixed schedule (p_set, e.g. a grid-dispatched pumped-storage plant) fixes the net
        # output: dispatch - store = p_set [MW] where p_set is given (PyPSA's StorageUnit-p_set).
        p_set = _dense(n, "StorageUnit", "p_set", names)
        fixed_net = [(s, t) for s in names for t in T if not np.isnan(p_set[t, col[s]])]
        m.su_p_set = pyo.Constraint(
            fixed_net, rule=lambda _m, s, t: m.su_dispatch[s, t] - m.su_store[s, t] == p_set[t, col[s]]
        )
        for s in names:
            j = col[s]
            for t in np.flatnonzero(~np.isnan(soc_set[:, j])):
                m.su_soc[s, int(t)].fix(float(soc_set[t, j]))
        sign = static["sign"].astype(float)
        for s in names:
            j = col[s]
            bus = self.balance[static.at[s, "bus"]]
            for t in T:
                bus[t].append((sign[s], m.su_dispatch[s, t]))
                bus[t].append((-sign[s], m.su_store[s, t]))
                w = self.w_obj[t]
                if cost[t, j] != 0:
                    self.cost_terms.append(w * cost[t, j] * m.su_dispatch[s, t])
                if cost_e[t, j] != 0:
                    self.cost_terms.append(w * cost_e[t, j] * m.su_soc[s, t])
                if (s, t) in spill_set and cost_spill[t, j] != 0:
                    self.cost_terms.append(w * cost_spill[t, j] * m.su_spill[s, t])
            if not cyclic[s]:
                self.end_levels[f"StorageUnit:{s}"] = (initial[s], m.su_soc[s, last])
        k = _capital_cost(static)
        self.capex_terms += [k[s] * P[s] for s in ext if k[s] != 0]
        self.su_names = names

    def add_stores(self) -> None:
        n, m, T = self.n, self.m, self.T
        static = _active(n, "Store")
        names = static.index
        m.R = pyo.Set(initialize=list(names), ordered=True)
        ext = names[static["e_nom_extendable"].astype(bool)]
        fixed = set(names.difference(ext))
        col = {r: i for i, r in enumerate(names)}
        e_max = _dense(n, "Store", "e_max_pu", names)
        e_min = _dense(n, "Store", "e_min_pu", names)
        loss = _dense(n, "Store", "standing_loss", names)
        cost = _dense(n, "Store", "marginal_cost", names)
        cost_e = _dense(n, "Store", "marginal_cost_storage", names)
        e_nom = static["e_nom"].astype(float)

        def b_e(_m: Any, r: str, t: int) -> tuple[float | None, float | None]:
            if r in fixed:
                return (e_min[t, col[r]] * e_nom[r], e_max[t, col[r]] * e_nom[r])
            return (None, None)

        m.store_p = pyo.Var(m.R, T)
        m.store_e = pyo.Var(m.R, T, bounds=b_e)
        E = _nominal_var(m, "store_e_nom", static, "e_nom", ext)
        self.nominal["Store-e_nom"] = (ext, E)
        ext_l = list(ext)
        m.store_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, r, t: m.store_e[r, t] - e_max[t, col[r]] * E[r] <= 0
        )
        m.store_lower = pyo.Constraint(
            ext_l, T, rule=lambda _m, r, t: m.store_e[r, t] - e_min[t, col[r]] * E[r] >= 0
        )
        cyclic = static["e_cyclic"].astype(bool)
        initial = static["e_initial"].astype(float)
        last = T[-1]

        def energy_balance(_m: Any, r: str, t: int) -> Any:
            j = col[r]
            hours = self.w_sto[t]
            if t > 0:
                before = (1 - loss[t, j]) ** hours * m.store_e[r, t - 1]
            elif cyclic[r]:
                before = (1 - loss[t, j]) ** hours * m.store_e[r, last]
            else:
                before = initial[r]
            return m.store_e[r, t] == before - hours * m.store_p[r, t]

        m.store_balance = pyo.Constraint(m.R, T, rule=energy_balance)
        sign = static["sign"].astype(float)
        for r in names:
            j = col[r]
            bus = self.balance[static.at[r, "bus"]]
            for t in T:
                bus[t].append((sign[r], m.store_p[r, t]))
                w = self.w_obj[t]
                if cost[t, j] != 0:
                    self.cost_terms.append(w * cost[t, j] * m.store_p[r, t])
                if cost_e[t, j] != 0:
                    self.cost_terms.append(w * cost_e[t, j] * m.store_e[r, t])
            if not cyclic[r]:
                self.end_levels[f"Store:{r}"] = (initial[r], m.store_e[r, last])
        k = _capital_cost(static)
        self.capex_terms += [k[r] * E[r] for r in ext if k[r] != 0]
        self.store_names = names

    def add_lines(self) -> None:
        n, m, T = self.n, self.m, self.T
        static = _active(n, "Line")
        names = static.index
        m.K = pyo.Set(initialize=list(names), ordered=True)
        ext = names[static["s_nom_extendable"].astype(bool)]
        fixed = set(names.difference(ext))
        col = {k: i for i, k in enumerate(names)}
        s_max = _dense(n, "Line", "s_max_pu", names)
        s_nom = static["s_nom"].astype(float)

        def bounds(_m: Any, k: str, t: int) -> tuple[float | None, float | None]:
            if k in fixed:
                limit = s_max[t, col[k]] * s_nom[k]
                return (-limit, limit)
            return (None, None)

        m.line_p = pyo.Var(m.K, T, bounds=bounds)
        S = _nominal_var(m, "line_s_nom", static, "s_nom", ext)
        self.nominal["Line-s_nom"] = (ext, S)
        ext_l = list(ext)
        m.line_upper = pyo.Constraint(
            ext_l, T, rule=lambda _m, k, t: m.line_p[k, t] - s_max[t, col[k]] * S[k] <= 0
        )
        m.line_lower = pyo.Constraint(
            ext_l, T, rule=lambda _m, k, t: m.line_p[k, t] + s_max[t, col[k]] * S[k] >= 0
        )
        # Kirchhoff's voltage law in angle form; the reactance is taken in per unit of the
        # bus0 voltage, the resistance for lines in DC grids.
        buses = n.buses
        v_nom = buses.loc[static["bus0"], "v_nom"].to_numpy(dtype=float)
        is_dc = (buses.loc[static["bus0"], "carrier"] == "DC").to_numpy()
        impedance = np.where(is_dc, static["r"].to_numpy(dtype=float), static["x"].to_numpy(dtype=float))
        x_pu = pd.Series(impedance / v_nom**2, index=names)
        # Angles are only defined up to a factor: measuring them in units of the largest
        # impedance keeps the KVL coefficients near 1 (per-unit reactances of 1e-9 would be
        # dropped by HiGHS as zero matrix entries).
        largest = float(x_pu.abs().max()) if len(x_pu) else 1.0
        x_pu = x_pu / (largest if largest > 0 else 1.0)
        line_buses = sorted(set(static["bus0"]) | set(static["bus1"]))
        reference = _grid_components(line_buses, list(zip(static["bus0"], static["bus1"], strict=True)))
        slack = {root for root in reference.values()}
        m.theta = pyo.Var(line_buses, T)
        for bus in slack:
            for t in T:
                m.theta[bus, t].fix(0.0)
        m.kvl = pyo.Constraint(
            m.K,
            T,
            rule=lambda _m, k, t: x_pu[k] * m.line_p[k, t]
            == m.theta[static.at[k, "bus0"], t] - m.theta[static.at[k, "bus1"], t],
        )
        for k in names:
            bus0 = self.balance[static.at[k, "bus0"]]
            bus1 = self.balance[static.at[k, "bus1"]]
            for t in T:
                bus0[t].append((-1.0, m.line_p[k, t]))
                bus1[t].append((1.0, m.line_p[k, t]))
        cost = _capital_cost(static)
        self.capex_terms += [cost[k] * S[k] for k in ext if cost[k] != 0]
        self.line_names = names
        self.line_x_pu = x_pu
        self.line_buses = line_buses

    def add_bus_balance(self) -> None:
        m = self.m
        demand = self.demand

        def rule(_m: Any, bus: str, t: int) -> Any:
            terms = self.balance[bus][t]
            if not terms:
                if abs(demand.at[t, bus]) > 0:
                    msg = f"bus '{bus}' has a load but nothing that can supply it"
                    raise CrosscheckUnsupportedError(msg)
                return pyo.Constraint.Skip
            return pyo.quicksum(c * v for c, v in terms) == demand.at[t, bus]

        m.bus_balance = pyo.Constraint(list(self.n.buses.index), self.T, rule=rule)

    def add_global_constraints(self) -> None:
        n, m = self.n, self.m
        gcs = n.components["GlobalConstraint"].static
        m.global_constraints = pyo.ConstraintList()
        self.global_names: list[str] = []
        gens = _active(n, "Generator")
        efficiency = _dense(n, "Generator", "efficiency", gens.index)
        for name, row in gcs.iterrows():
            attribute = row["carrier_attribute"]
            rate = n.carriers[attribute].astype(float) if attribute in n.carriers else pd.Series()
            rate = rate[rate != 0]
            terms = []
            for j, g in enumerate(gens.index):
                carrier = gens.at[g, "carrier"]
                if carrier not in rate.index:
                    continue
                terms += [
                    self.w_gen[t] * rate[carrier] / efficiency[t, j] * m.gen_p[g, t] for t in self.T
                ]
            for key, (initial, end) in self.end_levels.items():
                component, unit = key.split(":", 1)
                static = _active(n, component)
                carrier = static.at[unit, "carrier"]
                if carrier in rate.index:
                    terms.append(rate[carrier] * (initial - end))
            if not terms:
                continue
            lhs = pyo.quicksum(terms)
            constant = float(row["constant"])
            sense = row["sense"]
            if sense == "<=":
                m.global_constraints.add(lhs <= constant)
            elif sense == ">=":
                m.global_constraints.add(lhs >= constant)
            else:
                m.global_constraints.add(lhs == constant)
            self.global_names.append(str(name))

    def add_scenario_constraints(self) -> None:
        """Export contracts of the scenario (delivered energy at ``bus1``)."""
        m = self.m
        m.export_contracts = pyo.ConstraintList()
        if self.sc is None:
            return
        for contract in self.sc.export_contracts:
            terms = []
            for link in contract.links:
                j = self.link_col[link]
                terms += [
                    self.w_gen[t] * self.link_efficiency[t, j] * m.link_p[link, t] for t in self.T
                ]
            m.export_contracts.add(pyo.quicksum(terms) >= contract.min_energy_twh * MWH_PER_TWH)

    def build(self, add_targets: Callable[[PyomoBuilder], None] | None = None) -> pyo.ConcreteModel:
        """Build the LP; ``add_targets`` adds the scenario's share targets after its contracts."""
        self.add_generators()
        self.add_loads()
        self.add_links()
        self.add_storage_units()
        self.add_stores()
        self.add_lines()
        self.add_bus_balance()
        self.add_global_constraints()
        self.add_scenario_constraints()
        if add_targets is not None:
            add_targets(self)
        self.m.objective = pyo.Objective(
            expr=pyo.quicksum(self.cost_terms) + pyo.quicksum(self.capex_terms), sense=pyo.minimize
        )
        return self.m


