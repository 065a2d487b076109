r"""Independent cross-check: the same network written as a Pyomo LP and solved with HiGHS.

Reads a ``pypsa.Network`` (scenario already applied) and the scenario; writes nothing. The LP
below is written from the PyPSA documentation of each component, not from PyPSA's or linopy's
code: only the input data is read through PyPSA (``get_switchable_as_dense``). The function
:func:`run_crosscheck` solves the network twice, with PyPSA/linopy and with this formulation,
and compares objective, dispatch and build times. It also evaluates PyPSA's solution inside
this LP (constraint violations and cost), which shows whether a dispatch difference is only an
alternative optimum.

Formulation (one investment period; all sums over active components)
--------------------------------------------------------------------
Snapshots :math:`t` with weightings :math:`w^o_t` (objective), :math:`w^s_t` (stores: elapsed
hours) and :math:`w^g_t` (generators: energy of global constraints), all in h.

.. math::

    \min \sum_t w^o_t \Big(\sum_g c_{g,t} p_{g,t} + \sum_l c_{l,t} p_{l,t}
        + \sum_s (c_{s,t} p^{d}_{s,t} + c^{e}_{s,t} e_{s,t} + c^{sp}_{s,t} q_{s,t})
        + \sum_r (c_{r,t} p_{r,t} + c^{e}_{r,t} e_{r,t}) \Big)
        + \sum_{i \in \mathrm{ext}} k_i P_i

subject to

* generators :math:`\underline{\pi}_{g,t} P_g \le p_{g,t} \le \bar\pi_{g,t} P_g` and
  :math:`e^{min}_g \le \sum_t w^g_t p_{g,t} \le e^{max}_g` (``e_sum_min/max``, MWh);
* links :math:`\underline{\pi}_{l,t} P_l \le p_{l,t} \le \bar\pi_{l,t} P_l` (``p`` withdrawn at
  ``bus0``, :math:`\eta^k_{l,t} p_{l,t}` delivered at ``bus<k>``);
* storage units :math:`0 \le p^d \le \bar\pi P`, :math:`0 \le p^{st} \le -\underline\pi P`,
  :math:`0 \le e \le h P`, :math:`0 \le q \le \mathrm{inflow}` and
  :math:`e_t = (1-\lambda)^{w^s_t} e_{t-1}
  + w^s_t(\eta^{st} p^{st}_t - p^d_t/\eta^d + \mathrm{inflow}_t - q_t)`,
  with :math:`e_{-1} = e_{T-1}` when cyclic, else :math:`e_{-1}` = ``state_of_charge_initial``
  taken without standing loss; :math:`e_t` fixed where ``state_of_charge_set`` is given;
* stores :math:`\underline\epsilon_t E \le e_t \le \bar\epsilon_t E`,
  :math:`e_t = (1-\lambda)^{w^s_t} e_{t-1} - w^s_t p_t` (``e_cyclic`` or ``e_initial``);
* lines :math:`|f_{k,t}| \le \bar\sigma_{k,t} S_k` and Kirchhoff's voltage law in angle form
  :math:`f_{k,t} = (\theta_{a,t} - \theta_{b,t}) / x_k`, with :math:`x_k = x / v_{nom}^2`
  for AC buses and :math:`r / v_{nom}^2` for DC buses, one reference angle per connected grid;
* bus balance :math:`\sum_g \sigma_g p_{g,t} + \sum_s \sigma_s (p^d - p^{st}) + \sum_r \sigma_r p_r
  + \sum_l (\eta^k_{l,t}\,[\mathrm{bus}_k = b] - [\mathrm{bus}_0 = b]) p_{l,t}
  + \sum_k (f_{k,t}[\mathrm{bus}_1 = b] - f_{k,t}[\mathrm{bus}_0=b]) = \sum_d p^{set}_{d,t}`;
* ``primary_energy`` global constraints
  :math:`\sum_{g,t} w^g_t\, p_{g,t}\, \epsilon_g / \eta_g
  + \sum_{s,\,r\ \mathrm{non\text{-}cyclic}} \epsilon (e^{init} - e_{T-1}) \lessgtr K`;
* the scenario's export contracts :math:`\sum_{l\in L}\sum_t w^g_t \eta_{l,t} p_{l,t} \ge 10^6 E`;
* the scenario's enforced renewable-share targets (rule ``nea_annual``, both indicators and
  both electricity valuations), written from docs/accounting.md with Pyomo expressions of the
  variables above: :func:`add_renewable_share_constraints` (formula and symbols there).

==========================  =========================================================  =========
symbol                      meaning                                                    unit
==========================  =========================================================  =========
:math:`p, p^d, p^{st}, f`   power (generator, link at bus0, storage, line)             MW
:math:`e`                   stored energy                                              MWh
:math:`P, E, S`             nominal power / energy capacity (variable when extendable)  MW, MWh
:math:`c, c^e, c^{sp}`      marginal cost, storage cost, spill cost                    cur/MWh
:math:`k`                   ``capital_cost + fom_cost``                                cur/MW
:math:`\pi, \epsilon`       per-unit bounds                                            –
:math:`\eta, \lambda`       efficiency, standing loss per hour                         –, 1/h
:math:`\sigma`              ``sign`` of generators/storage (+1 inject, −1 consume)     –
:math:`\epsilon_g`          carrier attribute (e.g. ``co2_emissions``)                 t/MWh_th
==========================  =========================================================  =========

The objective excludes PyPSA's objective constant (the capital cost of capacity that exists
before the optimisation), matching ``n.optimize(include_objective_constant=False)``.
"""

from __future__ import annotations

import logging
import time
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
        "p_set",
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
    "StorageUnit": ("p_set", "p_dispatch_set", "p_store_set"),
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


class _Builder:
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
        enforced = [target for target in self.sc.targets if target.enforce]
        if enforced:
            if self.project_root is None:
                msg = (
                    f"scenario '{self.sc.name}' enforces renewable-share targets: pass "
                    "project_root (the folder that holds data/) to build the cross-check"
                )
                raise ValueError(msg)
            add_renewable_share_constraints(self, enforced, self.project_root)

    def build(self) -> pyo.ConcreteModel:
        self.add_generators()
        self.add_loads()
        self.add_links()
        self.add_storage_units()
        self.add_stores()
        self.add_lines()
        self.add_bus_balance()
        self.add_global_constraints()
        self.add_scenario_constraints()
        self.m.objective = pyo.Objective(
            expr=pyo.quicksum(self.cost_terms) + pyo.quicksum(self.capex_terms), sense=pyo.minimize
        )
        return self.m


# --------------------------------------------------------------------------------------------
# Enforced renewable-share targets (rule nea_annual), written from docs/accounting.md
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
    from energy_model.accounting import HEAT_BUS_CARRIER  # noqa: PLC0415
    from energy_model.network import local_buses  # noqa: PLC0415
    from energy_model.scenario import ELECTRICITY_BUS_CARRIERS  # noqa: PLC0415

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


def _annual_share_terms(b: _Builder, sc: Scenario, roles: ShareRoles) -> dict[str, Any]:
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


def add_renewable_share_constraints(b: _Builder, targets: list[Any], project_root: Path) -> None:
    r"""Add one Pyomo constraint per enforced renewable-share target (rule ``nea_annual``).

    Written from docs/accounting.md (§1 definition, §3 ``nea_annual``, §5 constraint), not from
    the linopy code. For a ``final_energy`` target (both sides in tce):

    .. math::

        c_{el}(G_{RE} - X - \Lambda) + c_h(F^{RE}_h + H^{RE}_{dh} + a\,Q_{amb}) + 10^6\,T_{RE}
        \;\ge\; s\,\big[c_{el} E_{el} + c_h(F_h + H_{dh} + a\,Q_{amb}) + 10^6\,T\big]

    and for an ``electricity`` target (MWh): :math:`G_{RE} - X - \Lambda \ge s\,E_{el}`, with

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
    constraint binds (as in the accounting's LP form). The clip of ``nea_annual`` at zero
    (:math:`\max(G_{RE} - X - \Lambda, 0)`) is not applied: the linear form is the stricter one.

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
    :func:`solve_pyomo_model`.

    Raises
    ------
    CrosscheckUnsupportedError
        A renewable conversion link whose electricity port can change sign (its output is not
        linear in the flow).
    """
    from energy_model.accounting import (  # noqa: PLC0415 - data helpers only (numbers, tables)
        compute_electricity_factors,
        load_final_energy_table,
    )

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
    for target in targets:
        local_re = terms["G_RE"] - terms["X"] - terms["Lambda"]
        if target.indicator == "electricity":
            numerator, denominator = local_re, terms["E_el"]
            t_all = t_re = 0.0
        else:
            table = load_final_energy_table(root / sc.accounting.final_energy_table, sc.year)
            rows = table.rows
            t_all = float(rows["value_mtce"].sum()) * _TCE_PER_MTCE
            t_re = float(rows.loc[rows["renewable"].astype(bool), "value_mtce"].sum()) * _TCE_PER_MTCE
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
            terms={**terms, "T": t_all, "T_RE": t_re},
            numerator=numerator,
            denominator=denominator,
            constraint=None,
        )
    m.renewable_share = pyo.Constraint(names, rule=lambda _m, name: constraints[name])
    for name in names:
        b.shares[name].constraint = m.renewable_share[name]
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    logger.info(
        "added %d renewable-share constraint(s) to the Pyomo LP (%d auxiliary variables)",
        len(names),
        len(b.share_aux),
    )


def tighten_share_auxiliaries(b: _Builder) -> None:
    """Set each auxiliary ``a_t`` to ``max(c_t p_t, 0)`` at the current flows (exact value)."""
    for aux, expr in b.share_aux:
        value = pyo.value(expr, exception=False)
        if value is not None:
            aux.set_value(max(float(value), 0.0), skip_validation=True)


def evaluate_shares(b: _Builder) -> dict[str, tuple[float, float]]:
    """Share [-] and denominator [tce, or MWh] of each enforced target at the current values.

    Call :func:`tighten_share_auxiliaries` first so that the positive parts are exact.
    """
    shares: dict[str, tuple[float, float]] = {}
    for name, share in b.shares.items():
        den = float(pyo.value(share.denominator))
        num = float(pyo.value(share.numerator))
        shares[name] = (num / den if den > 0 else float("nan"), den)
    return shares


def build_pyomo_model(
    n: pypsa.Network, sc: Scenario | None = None, project_root: Path | None = None
) -> tuple[pyo.ConcreteModel, Any]:
    """Build the independent Pyomo LP of ``n`` (see the module docstring for the formulation).

    Parameters
    ----------
    n
        Network with the scenario applied; not modified.
    sc
        Scenario whose export contracts and enforced renewable-share targets are added;
        ``None`` for a bare network.
    project_root
        Folder that holds ``data/`` (final-energy and coal-equivalent tables); required when
        the scenario enforces a renewable-share target.

    Returns
    -------
    tuple
        The Pyomo model and the builder that holds the index maps.

    Raises
    ------
    CrosscheckUnsupportedError
        The network uses a feature this formulation does not model.
    """
    validate_supported(n)
    builder = _Builder(n, sc, project_root)
    return builder.build(), builder


def solve_pyomo_model(model: pyo.ConcreteModel, options: dict[str, Any]) -> tuple[str, float]:
    """Solve with HiGHS through ``pyomo.contrib.appsi`` and return (condition, objective).

    When the model has enforced renewable-share constraints (``model.renewable_share``), their
    duals (HiGHS row duals, CNY per tce or per MWh) are loaded into the suffix ``model.dual``.
    """
    import highspy  # noqa: PLC0415
    from pyomo.contrib.appsi.solvers import Highs  # noqa: PLC0415

    # appsi runs HiGHS in the calling thread, whose task scheduler keeps the thread count of
    # the first solve: a later solve with another ``threads`` option would end "unknown"
    # (linopy is not affected: it runs each solve in a new thread). Start from a fresh one.
    reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
    if reset is not None:
        reset(True)
    solver = Highs()
    solver.highs_options = {"output_flag": False, **options}
    solver.config.stream_solver = False
    solver.config.load_solution = False
    results = solver.solve(model)
    condition = str(results.termination_condition.name)
    if condition != "optimal":
        return condition, float("nan")
    results.solution_loader.load_vars()
    shares = model.component("renewable_share")
    if shares is not None and len(shares) > 0:
        duals = results.solution_loader.get_duals(cons_to_load=list(shares.values()))
        for con, value in duals.items():
            model.dual[con] = float(value)
    return condition, float(pyo.value(model.objective))


# --------------------------------------------------------------------------------------------
# Comparing the two solutions
# --------------------------------------------------------------------------------------------


def _frame(var: pyo.Var, names: pd.Index, n_t: int) -> pd.DataFrame:
    values = np.array(
        [[pyo.value(var[i, t], exception=False) for i in names] for t in range(n_t)], dtype=float
    )
    return pd.DataFrame(values.reshape(n_t, len(names)), columns=names)


def _pairs(n: pypsa.Network, b: _Builder) -> list[tuple[str, pd.DataFrame, Any, pd.Index]]:
    """``(label, PyPSA solution, Pyomo variable, names)`` of every dispatch quantity."""
    pairs: list[tuple[str, pd.DataFrame, Any, pd.Index]] = [
        ("Generator-p", n.generators_t.p, b.m.gen_p, b.gen_names),
        ("Link-p0", n.links_t.p0, b.m.link_p, b.link_names),
        ("StorageUnit-p_dispatch", n.storage_units_t.p_dispatch, b.m.su_dispatch, b.su_names),
        ("StorageUnit-p_store", n.storage_units_t.p_store, b.m.su_store, b.su_names),
        ("StorageUnit-state_of_charge", n.storage_units_t.state_of_charge, b.m.su_soc, b.su_names),
        ("Store-p", n.stores_t.p, b.m.store_p, b.store_names),
        ("Store-e", n.stores_t.e, b.m.store_e, b.store_names),
        ("Line-p0", n.lines_t.p0, b.m.line_p, b.line_names),
    ]
    return [p for p in pairs if len(p[3]) > 0]


def compare_dispatch(n: pypsa.Network, b: _Builder) -> dict[str, float]:
    """Largest absolute difference per quantity between PyPSA's and this LP's solution."""
    n_t = len(b.T)
    diffs: dict[str, float] = {}
    for label, solved, var, names in _pairs(n, b):
        ours = _frame(var, names, n_t).to_numpy()
        theirs = solved.reindex(columns=names).to_numpy(dtype=float)
        diffs[label] = float(np.nanmax(np.abs(ours - theirs))) if ours.size else 0.0
    optimal_attr = {"Generator-p_nom": "p_nom_opt", "Link-p_nom": "p_nom_opt",
                    "StorageUnit-p_nom": "p_nom_opt", "Store-e_nom": "e_nom_opt", "Line-s_nom": "s_nom_opt"}
    for label, (ext, var) in b.nominal.items():
        if len(ext) == 0:
            continue
        component = label.split("-")[0]
        solved = n.components[component].static.loc[ext, optimal_attr[label]].astype(float)
        ours = np.array([pyo.value(var[i]) for i in ext], dtype=float)
        diffs[label] = float(np.max(np.abs(ours - solved.to_numpy())))
    return diffs


def _load_pypsa_solution(n: pypsa.Network, b: _Builder) -> None:
    """Set the Pyomo variables to PyPSA's solution (angles from the line flows)."""
    m = b.m
    for _label, solved, var, names in _pairs(n, b):
        values = solved.reindex(columns=names).to_numpy(dtype=float)
        for j, name in enumerate(names):
            for t in b.T:
                if not var[name, t].fixed:
                    var[name, t].set_value(float(values[t, j]), skip_validation=True)
    if len(b.su_names):
        spill = n.storage_units_t.get("spill", pd.DataFrame())
        for (s, t) in m.su_spill:
            value = spill[s].iloc[t] if s in spill.columns else 0.0
            m.su_spill[s, t].set_value(float(value), skip_validation=True)
    optimal_attr = {"Generator": "p_nom_opt", "Link": "p_nom_opt", "StorageUnit": "p_nom_opt",
                    "Store": "e_nom_opt", "Line": "s_nom_opt"}
    for label, (ext, var) in b.nominal.items():
        component = label.split("-")[0]
        solved = n.components[component].static[optimal_attr[component]]
        for i in ext:
            var[i].set_value(float(solved[i]), skip_validation=True)
    if len(b.line_names):
        # angles: least-squares solution of theta_a - theta_b = x f per snapshot, the slack
        # angles fixed at zero; a KVL violation by PyPSA shows up as a residual.
        static = n.lines.loc[b.line_names]
        free = [bus for bus in b.line_buses if not m.theta[bus, 0].fixed]
        if free:
            index = {bus: i for i, bus in enumerate(free)}
            incidence = np.zeros((len(b.line_names), len(free)))
            for row, (a, c) in enumerate(zip(static["bus0"], static["bus1"], strict=True)):
                if a in index:
                    incidence[row, index[a]] += 1.0
                if c in index:
                    incidence[row, index[c]] -= 1.0
            flows = n.lines_t.p0[b.line_names].to_numpy(dtype=float)
            rhs = (flows * b.line_x_pu.to_numpy()).T
            theta, *_ = np.linalg.lstsq(incidence, rhs, rcond=None)
            for bus, i in index.items():
                for t in b.T:
                    m.theta[bus, t].set_value(float(theta[i, t]), skip_validation=True)


def max_violation(model: pyo.ConcreteModel) -> float:
    """Largest constraint or bound violation at the current variable values, scaled by
    ``max(1, |bound|)`` [-]."""
    worst = 0.0
    for con in model.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(con.body, exception=False)
        if body is None:
            continue
        for bound, sign in ((con.lower, -1.0), (con.upper, 1.0)):
            if bound is None:
                continue
            limit = pyo.value(bound)
            excess = sign * (body - limit)
            worst = max(worst, excess / max(1.0, abs(limit)))
    for var in model.component_data_objects(pyo.Var):
        value = var.value
        if value is None or var.fixed:
            continue
        if var.lb is not None:
            worst = max(worst, (var.lb - value) / max(1.0, abs(var.lb)))
        if var.ub is not None:
            worst = max(worst, (value - var.ub) / max(1.0, abs(var.ub)))
    return worst


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _crosscheck_options(sc: Scenario | None) -> dict[str, Any]:
    """HiGHS options for both solves: the scenario's, with crossover on for exact optima."""
    options: dict[str, Any] = dict(sc.solver.options) if sc is not None else {"threads": 2}
    if options.get("solver", "choose") == "ipm":
        options["run_crossover"] = "on"
    return options


def _solve_pypsa(
    n: pypsa.Network, sc: Scenario | None, project_root: Path | None, options: dict[str, Any]
) -> tuple[float, float, float, dict[str, int], dict[str, float]]:
    """Solve ``n`` with PyPSA/linopy.

    With a scenario this is the engine's own :func:`energy_model.solve.solve` (limit rows as
    bounds, investment screening with its pricing certificate), so the cross-check tests what
    ``energy-model run`` computes; without one, plain ``create_model`` + HiGHS.

    Returns objective, build and solve time (solve includes the screening's coarse run and
    pricing), LP size and the duals of the enforced renewable-share constraints by target name.
    """
    if sc is not None:
        from energy_model.constraints import renewable_share_constraint_name  # noqa: PLC0415
        from energy_model.solve import solve as engine_solve  # noqa: PLC0415

        run_sc = sc.model_copy(update={"solver": sc.solver.model_copy(update={"options": options})})
        result = engine_solve(n, run_sc, project_root or Path.cwd(), diagnose=False)
        logger.info("PyPSA: screening %s", result.screening)
        solve_time = sum(result.timings.get(k, 0.0) for k in ("screen", "solve", "certify"))
        duals = {
            target.name: result.duals[renewable_share_constraint_name(target)]
            for target in sc.targets
            if target.enforce and renewable_share_constraint_name(target) in result.duals
        }
        return result.objective, result.timings["build"], solve_time, dict(result.lp_size), duals
    start = time.perf_counter()
    m = n.optimize.create_model(include_objective_constant=False)
    if sc is not None:
        from energy_model.constraints import extra_functionality  # noqa: PLC0415

        extra_functionality(sc, project_root)(n, n.snapshots)
    build = time.perf_counter() - start
    start = time.perf_counter()
    status, condition = m.solve(solver_name="highs", io_api="direct", output_flag=False, **options)
    solve = time.perf_counter() - start
    if status != "ok" or condition != "optimal":
        msg = f"PyPSA solve ended with status '{status}', condition '{condition}'"
        raise RuntimeError(msg)
    n.optimize.assign_solution()
    duals: dict[str, float] = {}
    if sc is not None:
        from energy_model.constraints import renewable_share_constraint_name  # noqa: PLC0415

        for target in sc.targets:
            name = renewable_share_constraint_name(target)
            if target.enforce and name in m.constraints:
                duals[target.name] = float(m.constraints[name].dual.values.item())
    size = {"variables": int(m.nvars), "constraints": int(m.ncons)}
    return float(m.objective.value), build, solve, size, duals


def run_crosscheck(
    n: pypsa.Network,
    sc: Scenario | None = None,
    project_root: Path | None = None,
    *,
    solver_options: dict[str, Any] | None = None,
    check_feasibility: bool = True,
) -> CrosscheckResult:
    """Solve ``n`` with PyPSA and with the independent Pyomo LP and compare.

    Parameters
    ----------
    n
        Network with the scenario applied (time resolution included); it is solved by PyPSA
        in place (its results are overwritten).
    sc
        Scenario for the export contracts, enforced renewable-share targets and HiGHS options;
        ``None`` for a bare network.
    project_root
        Project root (holds ``data/``) for the scenario constraints of both formulations.
    solver_options
        HiGHS options for both solves; default: the scenario's, with crossover on.
    check_feasibility
        Also evaluate PyPSA's solution in the Pyomo LP (slow for full-year models: it walks
        every constraint in Python).

    Returns
    -------
    CrosscheckResult
        Objectives, differences, build and solve times; ``ok`` when the objectives agree
        within ``OBJECTIVE_RTOL`` and PyPSA's solution is feasible in the Pyomo LP.

    Raises
    ------
    CrosscheckUnsupportedError
        The network uses a feature the Pyomo formulation does not model.
    RuntimeError
        Either solve does not end optimal.
    """
    options = dict(solver_options) if solver_options is not None else _crosscheck_options(sc)

    start = time.perf_counter()
    model, builder = build_pyomo_model(n, sc, project_root)
    build_pyomo = time.perf_counter() - start
    size_pyomo = {"variables": model.nvariables(), "constraints": model.nconstraints()}
    logger.info("built Pyomo LP in %.2f s: %s", build_pyomo, size_pyomo)

    objective_pypsa, build_linopy, solve_linopy, size_linopy, duals_pypsa = _solve_pypsa(
        n, sc, project_root, options
    )
    logger.info(
        "PyPSA: objective %.10g (build %.2f s, solve %.2f s)", objective_pypsa, build_linopy, solve_linopy
    )

    start = time.perf_counter()
    condition, objective_pyomo = solve_pyomo_model(model, options)
    solve_pyomo = time.perf_counter() - start
    if not np.isfinite(objective_pyomo):
        msg = f"Pyomo/HiGHS solve ended with condition '{condition}'"
        raise RuntimeError(msg)
    logger.info("Pyomo: objective %.10g (solve %.2f s)", objective_pyomo, solve_pyomo)

    rel_diff = abs(objective_pyomo - objective_pypsa) / max(abs(objective_pypsa), 1.0)
    diffs = compare_dispatch(n, builder)
    tighten_share_auxiliaries(builder)
    targets = {
        name: {
            "min_share": builder.shares[name].min_share,
            "share_pyomo": share,
            "share_pypsa": float("nan"),
            "denominator_pyomo": denominator,
            "dual_pypsa": duals_pypsa.get(name, float("nan")),
            "dual_pyomo": float(model.dual.get(builder.shares[name].constraint, float("nan"))),
        }
        for name, (share, denominator) in evaluate_shares(builder).items()
    }

    violation, cost_in_pyomo = float("nan"), float("nan")
    if check_feasibility:
        _load_pypsa_solution(n, builder)
        tighten_share_auxiliaries(builder)
        for name, (share, _) in evaluate_shares(builder).items():
            targets[name]["share_pypsa"] = share
        violation = max_violation(model)
        cost_in_pyomo = float(pyo.value(model.objective))
    ok = rel_diff <= OBJECTIVE_RTOL and (not check_feasibility or violation <= FEASIBILITY_TOL)
    result = CrosscheckResult(
        objective_pypsa=objective_pypsa,
        objective_pyomo=objective_pyomo,
        rel_diff=rel_diff,
        max_dispatch_diff=max(diffs.values(), default=0.0),
        dispatch_diffs=diffs,
        pypsa_max_violation=violation,
        pypsa_cost_in_pyomo=cost_in_pyomo,
        build_seconds={"linopy": build_linopy, "pyomo": build_pyomo},
        solve_seconds={"linopy": solve_linopy, "pyomo": solve_pyomo},
        lp_size={"linopy": size_linopy, "pyomo": size_pyomo},
        targets=targets,
        ok=ok,
    )
    logger.info("cross-check: %s", result.summary())
    return result


__all__ = [
    "CrosscheckResult",
    "CrosscheckUnsupportedError",
    "ShareConstraint",
    "ShareRoles",
    "add_renewable_share_constraints",
    "build_pyomo_model",
    "classify_share_roles",
    "evaluate_shares",
    "max_violation",
    "run_crosscheck",
    "solve_pyomo_model",
    "tighten_share_auxiliaries",
    "validate_supported",
]
