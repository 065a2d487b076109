r"""The one multi-period LP of a pathway, built once and re-solved with changes for every study.

Building PyPSA's multi-period linopy model costs more than solving it (measured at 48 segments x
4 periods: ``create_model`` ~17 s, the pathway constraints ~40 s, of which the four periods'
share terms 33 s, against a HiGHS solve of ~10-20 s; docs/pathway.md). Every study of a
pathway (the mix-ratio steps of perfect foresight, the myopic steps, the cost-of-target points,
the no-target pathway, the MGA directions, the largest reachable shares) differs from the
reference model only in

* the share-requirement rows of some periods (target and fixed mix ratio): re-made from the
  period's share terms, computed once (:func:`energy_model.pathway.constraints.share_requirement_rows`);
* which periods' export contracts hold: rows removed and added again;
* the objective: the cost at other period weightings (myopic; PyPSA's objective builder,
  :func:`energy_model.optimization.model.set_cost_objective`), a capacity direction within a
  cost budget (MGA), or a ratio (Dinkelbach);
* the bounds of candidate sizes: fixed at an earlier step's size or not buildable (myopic).

:class:`PathwayModel` holds that model and applies those changes; every solve is a plain
re-solve (:func:`energy_model.optimization.model.run_highs`: the model is handed to HiGHS again,
no warm start; the hand-over is ~1 s of a 10-20 s solve). ``tests/test_pathway.py`` checks that
the re-used model gives the objective and shares of a fresh build.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_model.exceptions import InfeasibleError
from energy_model.optimization.compat import detach_solver_model, solver_run_seconds
from energy_model.optimization.model import (
    MGA_BUDGET,
    HighsRun,
    SavedRows,
    add_cost_budget,
    add_rows,
    build_multi_period_model,
    lp_size,
    remove_rows,
    run_highs,
    set_capacity_objective,
    set_cost_objective,
    set_size_bounds,
    write_solution,
)
from energy_model.optimization.reachable import RATIO_FLOOR_REL, maximise_ratio, ratio_solver_options
from energy_model.pathway.constraints import (
    SIZE_VARIABLE,
    PeriodShareTerms,
    add_energy_cap_constraints,
    add_export_contracts,
    add_growth_constraints,
    add_potential_constraints,
    compute_period_share_terms,
    share_requirement_rows,
)

if TYPE_CHECKING:
    import pypsa

    from energy_model.pathway.build import PathwayNetwork

logger = logging.getLogger(__name__)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class PathwayModel:
    """The multi-period model of ``pn`` with every constraint that all studies share.

    Built once: PyPSA's model (:func:`energy_model.optimization.model.build_multi_period_model`),
    potentials, growth limits and energy caps in every period, the export contracts of every
    period; the share terms of each period on first use. ``timings`` collects wall and CPU
    seconds per step (``build``, ``share_terms``, ``update``, ``solve`` incl. hand-over,
    ``highs`` = HiGHS's own run time, ``post``) and ``solves``; a study swaps in its own dict.
    """

    def __init__(self, pn: PathwayNetwork, root: Path, options: dict[str, Any]) -> None:
        self.pn, self.root, self.options = pn, root, options
        self.timings: dict[str, float] = {}
        n = pn.n
        detach_solver_model(n)
        self.contracts: dict[int, list[str]] = {}
        start = _clock()

        def add(n: pypsa.Network, sns: pd.Index) -> None:
            del n, sns
            add_potential_constraints(pn)
            add_growth_constraints(pn)
            add_energy_cap_constraints(pn)
            for period in pn.spec.periods:
                self.contracts[period] = add_export_contracts(pn, [period])

        self.m = build_multi_period_model(n, add)
        self._add_time("build", start)
        self.cost = self.m.objective.expression
        self.weights = n.investment_period_weightings.copy()
        self.terms: dict[int, PeriodShareTerms] = {}
        self.share_rows: list[str] = []
        self.suspended: dict[str, SavedRows] = {}
        self.bounds = {f"{c}-{s}": (self.m.variables[f"{c}-{s}"].lower.copy(),
                                    self.m.variables[f"{c}-{s}"].upper.copy())
                       for c, s in SIZE_VARIABLE.items() if f"{c}-{s}" in self.m.variables}
        self.reweighted = False
        self.size = lp_size(self.m)
        logger.info("pathway model built once: %d variables, %d constraints",
                    self.size["variables"], self.size["constraints"])

    # --- bookkeeping ---------------------------------------------------------------------------

    def _add_time(self, key: str, start: tuple[float, float]) -> None:
        wall, cpu = _clock()
        self.timings[key] = self.timings.get(key, 0.0) + wall - start[0]
        self.timings[f"{key}_cpu"] = self.timings.get(f"{key}_cpu", 0.0) + cpu - start[1]

    def period_terms(self, period: int) -> PeriodShareTerms:
        """Share terms of ``period`` (computed on first use)."""
        if period not in self.terms:
            start = _clock()
            self.terms[period] = compute_period_share_terms(self.pn, period, self.root)
            self._add_time("share_terms", start)
        return self.terms[period]

    # --- changes -------------------------------------------------------------------------------

    def set_targets(self, shares: dict[int, float], ratios: dict[int, float]) -> None:
        """Share requirements of the periods in ``ratios`` (target ``shares[p]``); no others."""
        for period in ratios:
            self.period_terms(period)
        start = _clock()
        remove_rows(self.m, self.share_rows)
        self.share_rows = []
        for period, ratio in ratios.items():
            rows = share_requirement_rows(self.pn, self.m, period, self.terms[period],
                                          shares[period], ratio)
            add_rows(self.m, rows)
            self.share_rows += list(rows)
        self._add_time("update", start)

    def set_contract_periods(self, periods: list[int]) -> None:
        """Export contracts hold in ``periods`` only (the others' rows removed, kept aside)."""
        start = _clock()
        for period, names in self.contracts.items():
            if period in periods:
                add_rows(self.m, {name: self.suspended.pop(name) for name in names
                                  if name in self.suspended})
            else:
                self.suspended.update(remove_rows(self.m, names))
        self._add_time("update", start)

    def set_weightings(self, weights: pd.DataFrame | None) -> None:
        """Cost objective at investment-period ``weights`` (``None``: the spec's weightings)."""
        start = _clock()
        n = self.pn.n
        if weights is None:
            n.investment_period_weightings = self.weights.copy()
            set_cost_objective(n, self.m, self.cost)
            self.reweighted = False
        else:
            n.investment_period_weightings = weights
            set_cost_objective(n, self.m)
            self.reweighted = True
        self._add_time("update", start)

    def set_candidates(self, fixed: dict[str, float], closed: list[str]) -> None:
        """Candidates ``fixed`` at a size, ``closed`` ones at 0, every other at its own bounds."""
        start = _clock()
        frame = self.pn.candidates.set_index("name")
        for variable, (lower, upper) in self.bounds.items():
            component = variable.split("-", 1)[0]
            names = [x for x in frame.index[frame["component"] == component]
                     if x in fixed or x in closed]
            low = pd.Series(lower.to_numpy(), index=lower.indexes["name"], dtype=float)
            high = pd.Series(upper.to_numpy(), index=upper.indexes["name"], dtype=float)
            for name in names:
                low[name] = fixed.get(name, 0.0)
                high[name] = fixed.get(name, 0.0)
            set_size_bounds(self.m, variable, low, high)
        self._add_time("update", start)

    def reset(self) -> None:
        """The reference state: every period's contracts, the spec's weightings, open candidates,
        no share requirement, no cost budget."""
        self.set_contract_periods(list(self.pn.spec.periods))
        if self.reweighted:
            self.set_weightings(None)
        else:
            set_cost_objective(self.pn.n, self.m, self.cost)
        self.set_candidates({}, [])
        self.set_targets({}, {})
        remove_rows(self.m, [MGA_BUDGET])

    # --- solves --------------------------------------------------------------------------------

    def solve(self, options: dict[str, Any] | None = None, *, expect_failure: bool = False) -> HighsRun:
        """Re-solve the model as it stands (hand-over to HiGHS included)."""
        start = _clock()
        run = run_highs(self.m, options or self.options, expect_failure=expect_failure)
        self._add_time("solve", start)
        self.timings["highs"] = self.timings.get("highs", 0.0) + solver_run_seconds(self.m)
        self.timings["solves"] = self.timings.get("solves", 0.0) + 1
        return run

    def write(self) -> None:
        """Write the last solution into the network's tables."""
        start = _clock()
        write_solution(self.pn.n)
        self._add_time("post", start)

    def max_mix_ratio(self, period: int) -> float:
        r"""Largest mix ratio :math:`\max R_p/T_p` of ``period`` in the model's current state,
        without share requirements (:func:`energy_model.optimization.reachable.maximise_ratio`,
        Dinkelbach's method); the objective and the share rows are restored."""
        terms = self.period_terms(period)
        saved_objective = self.m.objective.expression
        saved_rows = remove_rows(self.m, self.share_rows)
        try:
            return maximise_ratio(self.m, terms.renewable, terms.total, ratio_solver_options(self.options),
                                  f"mix ratio of {period}")
        finally:
            set_cost_objective(self.pn.n, self.m, saved_objective)
            add_rows(self.m, saved_rows)

    def max_reachable_share(self, period: int) -> float:
        r"""Largest share of ``period`` in the model's current state, costs ignored [-].

        The two steps of :func:`energy_model.optimization.reachable.compute_max_reachable_share`
        on this model: :math:`\rho^* = \max R/T`; then, with :math:`R \ge \rho^*(1 - 10^{-7}) T`,
        the largest share at that ratio (a lower bound of the true maximum when a lower mix with
        more local use could do better, as there).
        """
        ratio = self.max_mix_ratio(period) * (1.0 - RATIO_FLOOR_REL)
        terms = self.terms[period]
        saved_objective = self.m.objective.expression
        saved_rows = remove_rows(self.m, self.share_rows)
        floor = share_requirement_rows(self.pn, self.m, period, terms, 0.0, ratio)
        mix_row = {k: v for k, v in floor.items() if k.endswith("_mix")}
        add_rows(self.m, mix_row)
        numerator = terms.numerator_at_0 + ratio * (terms.numerator_at_1 - terms.numerator_at_0)
        try:
            return maximise_ratio(self.m, numerator, terms.denominator, ratio_solver_options(self.options),
                                  f"share of {period}", tol=1e-5)
        except InfeasibleError:
            return float("nan")
        finally:
            remove_rows(self.m, list(mix_row))
            set_cost_objective(self.pn.n, self.m, saved_objective)
            add_rows(self.m, saved_rows)

    def near_optimal(self, optimal_objective: float, slack: float) -> None:
        """Add the cost budget of ``slack`` (replacing an earlier one) to the reference cost."""
        start = _clock()
        remove_rows(self.m, [MGA_BUDGET])
        add_cost_budget(self.m, self.cost, optimal_objective, slack)
        self._add_time("update", start)

    def direct(self, weights: dict[str, dict[str, Any]], sense: str) -> None:
        """Objective: minimise (``min``) or maximise (``max``) the capacity direction ``weights``."""
        start = _clock()
        set_capacity_objective(self.pn.n, self.m, weights, sense)
        self._add_time("update", start)


__all__ = ["PathwayModel"]
