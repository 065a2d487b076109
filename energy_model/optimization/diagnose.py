"""Diagnosis of an infeasible or unbounded scenario: where, when and which requirement fails.

Reads a network with the scenario applied (the one whose solve was not optimal); writes nothing
and leaves that network unchanged (a copy is optimised). Called by
:func:`energy_model.optimization.solve.solve` before it raises
:class:`~energy_model.exceptions.InfeasibleError`, so the error message says what falls short.

Method
------
1. **Relaxed solve.** A copy of the network gets, at every bus, a *shedding* generator (supplies
   the bus at ``VOLL`` CNY/MWh: unserved demand) and a *dumping* generator (absorbs power at
   ``VOLL`` CNY/MWh: excess supply that nothing can take, e.g. must-run output), each of
   ``slack_p_nom`` MW. Every export contract and every enforced renewable-share target is
   *softened*: a non-negative slack variable is added to its left-hand side and penalised in the
   objective (``CONTRACT_PENALTY`` CNY/MWh, ``TARGET_PENALTY`` CNY/tce or CNY/MWh). The penalties
   are far above any cost in the networks (annualised capital costs are at most ~1.3e6 CNY/MW/yr,
   marginal costs ~1e3 CNY/MWh), so slack is used only where no dispatch or investment can meet
   the requirement; ``VOLL`` is ten times ``CONTRACT_PENALTY``, so the model first gives up a
   contract or a target before it leaves local demand unserved.
2. **Isolation.** When the relaxed solve needs more than one kind of slack (and took at most
   ``ISOLATE_MAX_SECONDS``), each requirement that fell short is tried *alone* (as a hard
   constraint, the other requirements removed, load shedding still allowed): a requirement
   that is infeasible alone, or forces shedding alone, is reported as the one that cannot be
   met. Finally demand alone (no contracts, no targets) is checked the same way.

Symbols and units: shed and dumped energy :math:`\\sum_t w_t p_t` [MWh] with snapshot weights
:math:`w_t` [h]; contract shortfall [MWh delivered at ``bus1``]; target shortfall [tce of
renewable final energy, or MWh for ``electricity`` targets] and [percentage points].
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_model.optimization.compat import detach_solver_model
from energy_model.optimization.constraints import (
    add_export_contract_constraint,
    add_share_requirement,
    export_contract_name,
    renewable_share_constraint_name,
)
from energy_model.optimization.model import (
    auxiliary_solver_options,
    build_model,
    run_highs,
    write_solution,
)
from energy_model.scenario import ELECTRICITY_BUS_CARRIERS

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import ExportContract, Scenario, Target

logger = logging.getLogger(__name__)

#: Cost of unserved demand and of dumped excess supply in the relaxed model [CNY/MWh].
VOLL = 1e7
#: Penalty on an export-contract shortfall [CNY per MWh not delivered].
CONTRACT_PENALTY = 1e6
#: Penalty on a renewable-share target shortfall [CNY per tce (final_energy) or per MWh
#: (electricity) of renewable energy missing].
TARGET_PENALTY = 1e6
#: Carrier of the slack generators added to the copy.
SHED_CARRIER = "load_shedding"
#: Energy below which a slack is considered unused [MWh] (solver tolerance).
SLACK_TOLERANCE_MWH = 1e-3
#: Isolation solves are skipped when the relaxed solve took longer than this [s]; each
#: isolation solve costs about as much (a full-year network: minutes).
ISOLATE_MAX_SECONDS = 120.0
#: Key of :attr:`Diagnosis.isolated` for the solve without contracts and targets.
DEMAND_ALONE = "demand alone"


@dataclass
class Diagnosis:
    """Outcome of :func:`diagnose_infeasibility`.

    Attributes
    ----------
    scenario
        Scenario name.
    condition
        Termination condition of the failed solve.
    relaxed_condition
        Termination condition of the relaxed solve (``optimal`` when the slack restored
        feasibility).
    shortfalls
        One row per bus with slack: ``bus, carrier, kind`` (``unserved`` or ``excess``),
        ``energy_mwh`` [MWh], ``hours`` [h of snapshots with slack], ``peak_mw`` [MW],
        ``first``, ``last`` (snapshots).
    contracts
        Contract name → ``{"required_mwh", "shortfall_mwh"}`` [MWh].
    targets
        Target name → ``{"min_share_pct", "shortfall", "unit", "shortfall_pp"}``.
    isolated
        Requirement label → finding when tried alone.
    unbounded
        Components that can make the objective unbounded (negative cost, no upper limit).
    isolation_skipped
        The isolation solves were skipped because the relaxed solve took longer than
        ``ISOLATE_MAX_SECONDS``.
    summary
        One paragraph (one line) for the error message.
    """

    scenario: str
    condition: str
    relaxed_condition: str = ""
    shortfalls: pd.DataFrame = field(default_factory=pd.DataFrame)
    contracts: dict[str, dict[str, float]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    isolated: dict[str, str] = field(default_factory=dict)
    unbounded: list[str] = field(default_factory=list)
    isolation_skipped: bool = False
    summary: str = ""

    def __str__(self) -> str:
        return self.summary


# ---------------------------------------------------------------------------------------------
# Relaxed model


def _demand_kind(carrier: str) -> str:
    if carrier in (*ELECTRICITY_BUS_CARRIERS, ""):
        return "electricity demand"
    if carrier == "heat":
        return "heat demand"
    return f"{carrier} demand"


def compute_slack_capacity(n: pypsa.Network) -> float:
    """Capacity of each shedding/dumping generator [MW].

    Twice the sum of all load peaks, generator and storage capacities and link capacities, at
    least 1,000 MW: larger than any imbalance the network can produce at one bus.
    """
    loads = n.get_switchable_as_dense("Load", "p_set").abs().max().sum() if len(n.loads) else 0.0
    total = float(loads)
    for component, attribute in (("Generator", "p_nom"), ("StorageUnit", "p_nom"),
                                 ("Link", "p_nom"), ("Line", "s_nom")):
        static = n.components[component].static
        if len(static):
            values = static[attribute].astype(float)
            extendable = f"{attribute}_extendable"
            if extendable in static.columns and f"{attribute}_max" in static.columns:
                upper = static[f"{attribute}_max"].astype(float)
                upper = upper.where(np.isfinite(upper), values)
                values = values.where(~static[extendable].astype(bool), upper)
            total += float(values[np.isfinite(values)].abs().sum())
    return max(1000.0, 2.0 * total)


def add_slack_generators(n: pypsa.Network, p_nom: float) -> tuple[list[str], list[str]]:
    """Add a shedding and a dumping generator at every bus, in place.

    Returns
    -------
    shed, dump
        Names of the added generators (``<bus>__shed``, ``<bus>__dump``).
    """
    if SHED_CARRIER not in n.carriers.index:
        n.add("Carrier", SHED_CARRIER)
    buses = n.buses.index
    shed = [f"{bus}__shed" for bus in buses]
    dump = [f"{bus}__dump" for bus in buses]
    n.add("Generator", shed, bus=buses, carrier=SHED_CARRIER, p_nom=p_nom, marginal_cost=VOLL)
    n.add("Generator", dump, bus=buses, carrier=SHED_CARRIER, p_nom=p_nom, p_min_pu=-1.0,
          p_max_pu=0.0, marginal_cost=VOLL)
    # A dumping generator has p <= 0; a positive marginal cost would pay it to dump. The cost
    # term is marginal_cost * p, so dumping costs VOLL per MWh with marginal_cost = -VOLL.
    n.generators.loc[dump, "marginal_cost"] = -VOLL
    return shed, dump


def _add_requirements(
    n: pypsa.Network,
    sc: Scenario,
    project_root: Path,
    contracts: list[ExportContract],
    targets: list[Target],
    *,
    soften: bool,
    mix_ratios: dict[str, float],
) -> dict[str, Any]:
    """Add contract and target constraints to ``n.model``; soften them when asked.

    A final-energy target is added at its fixed mix ratio ``mix_ratios[name]`` (the last one the
    solve used), else at its own minimum share (a proxy: the mix must then reach the target
    share itself).

    Returns
    -------
    dict
        Constraint name → share denominator expression (targets) or ``None`` (contracts).
    """
    m = n.model
    sns = n.snapshots
    added: dict[str, Any] = {}
    for contract in contracts:
        name = add_export_contract_constraint(n, sns, contract)
        if soften:
            m.constraints[name].soften(CONTRACT_PENALTY)
        added[name] = None
    for target in targets:
        ratio = mix_ratios.get(target.name, target.min_share)
        name, terms = add_share_requirement(n, sc, target, project_root, ratio)
        if soften:
            m.constraints[name].soften(TARGET_PENALTY)
        added[name] = terms.denominator
    return added


def _solve_relaxed(
    n: pypsa.Network,
    sc: Scenario,
    project_root: Path,
    contracts: list[ExportContract],
    targets: list[Target],
    *,
    soften: bool,
    slack_p_nom: float,
    mix_ratios: dict[str, float],
) -> tuple[pypsa.Network, str, str, dict[str, Any]]:
    """Copy ``n``, add slack generators and the requirements, solve; return the copy."""
    detach_solver_model(n)  # n.copy() refuses a network with a live solver model
    work = n.copy()
    add_slack_generators(work, slack_p_nom)
    m = build_model(work, limits_as_bounds=False, quiet=True)
    added = _add_requirements(
        work, sc, project_root, contracts, targets, soften=soften, mix_ratios=mix_ratios
    )
    # an infeasible isolation solve is an expected outcome here: linopy's warning stays quiet
    run = run_highs(m, auxiliary_solver_options(sc.solver.options), expect_failure=True)
    if run.optimal:
        write_solution(work, duals=False, quiet=True)
    return work, run.status, run.condition, added



# ---------------------------------------------------------------------------------------------
# Reading the relaxed solution


def _format_time(label: object) -> str:
    text = str(label)
    return text[:-3] if text.endswith(":00:00") else text


def compute_shortfalls(work: pypsa.Network, snapshot_hours: pd.Series) -> pd.DataFrame:
    """Unserved and excess energy per bus of a solved relaxed copy.

    Parameters
    ----------
    work
        Solved copy with slack generators.
    snapshot_hours
        Snapshot weighting [h].

    Returns
    -------
    pandas.DataFrame
        ``bus, carrier, kind, energy_mwh, hours, peak_mw, first, last``, largest energy first.
    """
    columns = ["bus", "carrier", "kind", "energy_mwh", "hours", "peak_mw", "first", "last"]
    slack = work.generators.index[work.generators.carrier == SHED_CARRIER]
    p = work.generators_t.p.reindex(columns=slack).fillna(0.0)
    rows = []
    for name in slack:
        flow = p[name].abs()
        energy = float((flow * snapshot_hours).sum())
        if energy <= SLACK_TOLERANCE_MWH:
            continue
        bus = str(work.generators.at[name, "bus"])
        used = flow[flow * snapshot_hours > SLACK_TOLERANCE_MWH]
        rows.append({
            "bus": bus,
            "carrier": str(work.buses.at[bus, "carrier"]),
            "kind": "unserved" if name.endswith("__shed") else "excess",
            "energy_mwh": energy,
            "hours": float(snapshot_hours.reindex(used.index).sum()),
            "peak_mw": float(flow.max()),
            "first": _format_time(used.index[0]) if len(used) else "",
            "last": _format_time(used.index[-1]) if len(used) else "",
        })
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("energy_mwh", ascending=False, kind="stable").reset_index(drop=True)


def _slack_value(work: pypsa.Network, name: str) -> float:
    constraint = work.model.constraints[name]
    slack = constraint.slack
    if slack is None:
        return 0.0
    return float(np.asarray(slack.positive.solution).sum())


def _describe_shortfall(row: pd.Series) -> str:
    what = _demand_kind(row["carrier"])
    if row["kind"] == "excess":
        text = f"{row['energy_mwh']:,.1f} MWh of excess supply at bus '{row['bus']}' cannot be absorbed"
    else:
        text = f"{what} at bus '{row['bus']}' is short by {row['energy_mwh']:,.1f} MWh"
    span = (f"in {row['hours']:g} h between {row['first']} and {row['last']}"
            if row["first"] != row["last"] else f"at {row['first']}")
    return f"{text} {span} (peak {row['peak_mw']:,.1f} MW)"


def _contract_label(contract: ExportContract) -> str:
    return f"export contract '{contract.name}' (>= {contract.min_energy_twh:g} TWh/yr)"


def _target_label(target: Target) -> str:
    what = "final energy" if target.indicator == "final_energy" else "local electricity"
    return (f"renewable-share target '{target.name}' (>= {target.min_share * 100:.1f} % of "
            f"{what})")


def find_unbounded_candidates(n: pypsa.Network) -> list[str]:
    """Components that can drive the objective to minus infinity.

    Extendable components with a negative capital cost and no finite ``*_nom_max``, and
    components with a negative marginal cost whose output has no finite bound (extendable
    without ``*_nom_max``).
    """
    found = []
    for component, nominal in (("Generator", "p_nom"), ("Link", "p_nom"), ("StorageUnit", "p_nom"),
                               ("Store", "e_nom"), ("Line", "s_nom")):
        static = n.components[component].static
        if static.empty or f"{nominal}_extendable" not in static.columns:
            continue
        extendable = static[f"{nominal}_extendable"].astype(bool)
        unlimited = ~np.isfinite(static[f"{nominal}_max"].astype(float))
        negative = static["capital_cost"].astype(float) < 0
        if "marginal_cost" in static.columns:
            negative |= static["marginal_cost"].astype(float) < 0
        for name in static.index[extendable & unlimited & negative]:
            found.append(f"{component} '{name}'")
    return found


# ---------------------------------------------------------------------------------------------
# Entry point


def diagnose_infeasibility(
    n: pypsa.Network,
    sc: Scenario,
    project_root: str | Path,
    *,
    condition: str = "infeasible",
    isolate: bool = True,
    mix_ratios: dict[str, float] | None = None,
) -> Diagnosis:
    """Explain why a scenario has no optimal solution.

    Parameters
    ----------
    n
        The network with the scenario applied (not modified).
    sc
        The scenario.
    project_root
        Folder that holds ``data/`` (for the share accounting of enforced targets).
    condition
        Termination condition of the failed solve (for the message).
    isolate
        Try each short requirement alone when the relaxed solve needs more than one kind of
        slack (up to ``len(contracts) + len(enforced targets) + 1`` more solves; skipped when
        the relaxed solve took longer than ``ISOLATE_MAX_SECONDS``).

    Returns
    -------
    Diagnosis
        Shortfalls by bus and time, contract and target shortfalls, isolated findings, and a
        one-paragraph ``summary``.
    """
    root = Path(project_root)
    contracts = list(sc.export_contracts)
    targets = [t for t in sc.targets if t.enforce]
    diagnosis = Diagnosis(scenario=sc.name, condition=condition)
    slack_p_nom = compute_slack_capacity(n)
    hours = n.snapshot_weightings["generators"]
    logger.info("diagnosing scenario %s: relaxed solve with load shedding at %d buses "
                "(VOLL %.0e CNY/MWh, %.0f MW each)", sc.name, len(n.buses), VOLL, slack_p_nom)
    start = time.perf_counter()
    ratios = mix_ratios or {}
    work, status, relaxed, added = _solve_relaxed(
        n, sc, root, contracts, targets, soften=True, slack_p_nom=slack_p_nom, mix_ratios=ratios
    )
    seconds = time.perf_counter() - start
    diagnosis.relaxed_condition = relaxed
    if status != "ok" or relaxed != "optimal":
        diagnosis.unbounded = find_unbounded_candidates(n)
        diagnosis.summary = _unbounded_summary(sc, condition, relaxed, diagnosis.unbounded)
        return diagnosis

    diagnosis.shortfalls = compute_shortfalls(work, hours)
    for contract in contracts:
        name = export_contract_name(contract)
        diagnosis.contracts[contract.name] = {
            "required_mwh": contract.min_energy_twh * 1e6,
            "shortfall_mwh": _slack_value(work, name),
        }
    for target in targets:
        name = renewable_share_constraint_name(target)
        shortfall = _slack_value(work, name)
        expression = added[name]
        denominator = float(getattr(expression, "solution", expression))
        diagnosis.targets[target.name] = {
            "min_share_pct": target.min_share * 100,
            "shortfall": shortfall,
            "unit": "MWh" if target.indicator == "electricity" else "tce",
            "shortfall_pp": 100 * shortfall / denominator if denominator > 0 else float("nan"),
        }

    short_contracts = [c for c in contracts
                       if diagnosis.contracts[c.name]["shortfall_mwh"] > SLACK_TOLERANCE_MWH]
    short_targets = [t for t in targets if diagnosis.targets[t.name]["shortfall"] > SLACK_TOLERANCE_MWH]
    kinds = len(short_contracts) + len(short_targets) + int(not diagnosis.shortfalls.empty)
    if isolate and kinds > 1 and seconds > ISOLATE_MAX_SECONDS:
        logger.warning("diagnosis: the relaxed solve took %.0f s; isolation solves skipped",
                       seconds)
        diagnosis.isolation_skipped = True
    elif isolate and kinds > 1:
        for contract in short_contracts:
            diagnosis.isolated[_contract_label(contract)] = _isolate(
                n, sc, root, [contract], [], slack_p_nom, hours, ratios)
        for target in short_targets:
            diagnosis.isolated[_target_label(target)] = _isolate(
                n, sc, root, [], [target], slack_p_nom, hours, ratios)
        if not diagnosis.shortfalls.empty:
            diagnosis.isolated[DEMAND_ALONE] = _isolate(n, sc, root, [], [], slack_p_nom, hours, ratios)
    diagnosis.summary = _summary(sc, diagnosis, short_contracts, short_targets)
    logger.info("diagnosis: %s", diagnosis.summary)
    return diagnosis


def _isolate(
    n: pypsa.Network,
    sc: Scenario,
    root: Path,
    contracts: list[ExportContract],
    targets: list[Target],
    slack_p_nom: float,
    hours: pd.Series,
    mix_ratios: dict[str, float],
) -> str:
    """Try one requirement alone (hard), with load shedding allowed."""
    work, status, condition, _ = _solve_relaxed(
        n, sc, root, contracts, targets, soften=False, slack_p_nom=slack_p_nom,
        mix_ratios=mix_ratios,
    )
    if status != "ok" or condition != "optimal":
        return "cannot be met even with unlimited load shedding"
    shortfalls = compute_shortfalls(work, hours)
    if shortfalls.empty:
        return "can be met on its own"
    total = float(shortfalls["energy_mwh"].sum())
    return f"forces {total:,.1f} MWh of unserved demand or excess supply"


def _summary(
    sc: Scenario,
    diagnosis: Diagnosis,
    short_contracts: list[ExportContract],
    short_targets: list[Target],
) -> str:
    parts = [f"scenario '{sc.name}' is {diagnosis.condition.replace('_', ' ')}"]
    findings = []
    for contract in short_contracts:
        info = diagnosis.contracts[contract.name]
        delivered = info["required_mwh"] - info["shortfall_mwh"]
        findings.append(
            f"{_contract_label(contract)} cannot be met: at most {delivered / 1e6:.6g} TWh can be "
            f"delivered, {info['shortfall_mwh']:,.1f} MWh short"
        )
    for target in short_targets:
        info = diagnosis.targets[target.name]
        findings.append(
            f"{_target_label(target)} cannot be met: {info['shortfall']:,.1f} {info['unit']} of "
            f"renewable energy missing (about {info['shortfall_pp']:.2f} pp)"
        )
    for _, row in diagnosis.shortfalls.head(3).iterrows():
        findings.append(_describe_shortfall(row))
    if len(diagnosis.shortfalls) > 3:
        rest = diagnosis.shortfalls.iloc[3:]
        findings.append(f"and {len(rest)} more bus(es) with {rest['energy_mwh'].sum():,.1f} MWh")
    for label, finding in diagnosis.isolated.items():
        if label == DEMAND_ALONE:
            findings.append(f"without any contract or target, demand still {finding}"
                            if not finding.startswith("can") else
                            "without contracts and targets, demand can be met")
        else:
            findings.append(f"tried alone, {label} {finding}")
    if diagnosis.isolation_skipped:
        findings.append("requirements were not tried one by one (the relaxed solve took longer "
                        f"than {ISOLATE_MAX_SECONDS:.0f} s; use a snapshot window to isolate them)")
    if not findings:
        findings.append(
            "the relaxed model (load shedding at every bus, contracts and targets softened) "
            "needs no slack, so the failure is numerical; try solver options "
            "{solver: simplex} or check the magnitudes of costs and capacities"
        )
    text = parts[0] + ": " + "; ".join(findings) + (
        f" (relaxed re-solve with load shedding at {VOLL:.0e} CNY/MWh at every bus)"
    )
    return " ".join(text.split())


def _unbounded_summary(sc: Scenario, condition: str, relaxed: str, candidates: list[str]) -> str:
    text = (f"scenario '{sc.name}' is {condition.replace('_', ' ')}, and the relaxed re-solve "
            f"with load shedding ended '{relaxed}', so the problem is unbounded, not short of supply")
    if candidates:
        shown = ", ".join(candidates[:5])
        text += (f": {shown} can grow without limit at a negative cost; set a finite "
                 "p_nom_max/e_nom_max or a non-negative cost")
    else:
        text += ("; look for negative costs on components whose capacity or output has no "
                 "finite upper bound")
    return " ".join(text.split())


__all__ = [
    "CONTRACT_PENALTY",
    "SHED_CARRIER",
    "TARGET_PENALTY",
    "VOLL",
    "Diagnosis",
    "add_slack_generators",
    "compute_shortfalls",
    "compute_slack_capacity",
    "diagnose_infeasibility",
    "find_unbounded_candidates",
]
