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

from energy_model.analysis.crosscheck.lp import (
    FEASIBILITY_TOL,
    OBJECTIVE_RTOL,
    CrosscheckResult,
    CrosscheckUnsupportedError,
    PyomoBuilder,
    ShareConstraint,
    validate_supported,
)
from energy_model.analysis.crosscheck.run import (
    build_pyomo_model,
    max_violation,
    run_crosscheck,
    solve_pyomo_model,
)
from energy_model.analysis.crosscheck.shares import (
    ShareRoles,
    add_renewable_share_constraints,
    classify_share_roles,
    evaluate_shares,
    tighten_share_auxiliaries,
)

__all__ = [
    "FEASIBILITY_TOL",
    "OBJECTIVE_RTOL",
    "CrosscheckResult",
    "CrosscheckUnsupportedError",
    "PyomoBuilder",
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
