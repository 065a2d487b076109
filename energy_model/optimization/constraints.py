"""Constraint stage: the scenario's extra constraints, added to PyPSA's linopy model.

Reads the scenario; writes constraints into ``n.model``. Each ``add_*_constraint`` adds exactly
one named constraint and documents its formula. ``extra_functionality(sc, project_root)``
returns the single callable that adds them all (PyPSA's ``extra_functionality`` signature).
:func:`move_fixed_limits_to_bounds` rewrites PyPSA's single-variable limit rows as variable
bounds (same feasible set, smaller LP). The share terms themselves (numbers or linear
expressions) come from :mod:`energy_model.accounting`; this module only states the inequality.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from energy_model.accounting import (
    ShareTerms,
    compute_model_share_terms,
    find_target,
    mix_constraint_name_of,
    share_constraint_name,
)
from energy_model.optimization.compat import fixed_limit_rows, set_variable_bounds
from energy_model.tables import MWH_PER_TWH

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import linopy
    import pypsa

    from energy_model.scenario import ExportContract, Scenario, Target

logger = logging.getLogger(__name__)

EXPORT_CONTRACT_PREFIX = "GlobalConstraint-export_contract_"


def export_contract_name(contract: ExportContract) -> str:
    """Name of the linopy constraint of an export contract."""
    return f"{EXPORT_CONTRACT_PREFIX}{contract.name}"


def renewable_share_constraint_name(target: Target) -> str:
    """Name of the linopy constraint that enforces a renewable-share target."""
    return share_constraint_name(target.name)


def mix_constraint_name(target: Target) -> str:
    """Name of the mix-ratio constraint of an enforced final-energy target."""
    return mix_constraint_name_of(target.name)


def add_export_contract_constraint(
    n: pypsa.Network, sns: pd.Index, contract: ExportContract
) -> str:
    r"""Require a minimum annual delivery over the contract's export links.

    .. math:: \sum_{l \in L} \sum_{t} w_t \, \eta_{l,t} \, p_{l,t} \ \ge\ 10^6 \, E

    ==============  ==========================================================  =======
    symbol          meaning                                                     unit
    ==============  ==========================================================  =======
    :math:`L`       ``contract.links`` (links from a local to an external bus)  –
    :math:`p_{l,t}` ``Link-p``: power withdrawn at ``bus0`` of link *l*         MW
    :math:`\eta`    link efficiency (static or time-varying)                    –
    :math:`w_t`     snapshot weighting (``generators`` column)                  h
    :math:`E`       ``contract.min_energy_twh``: delivered energy at ``bus1``   TWh
    ==============  ==========================================================  =======

    Returns
    -------
    str
        The constraint name (``GlobalConstraint-export_contract_<name>``).
    """
    m = n.model
    links = pd.Index(contract.links)
    weights = n.snapshot_weightings.generators.loc[sns]
    efficiency = n.get_switchable_as_dense("Link", "efficiency", sns)[links]
    coefficient = efficiency.mul(weights, axis=0)
    coefficient.index.name = "snapshot"
    coefficient.columns.name = "name"
    flow = m["Link-p"].sel(name=links, snapshot=sns)
    delivered = (flow * coefficient.stack().to_xarray().transpose(*flow.dims)).sum()
    name = export_contract_name(contract)
    m.add_constraints(delivered >= contract.min_energy_twh * MWH_PER_TWH, name=name)
    logger.info("added %s: >= %.3f TWh over %s", name, contract.min_energy_twh, list(links))
    return name


def move_fixed_limits_to_bounds(m: linopy.Model) -> int:
    r"""Turn PyPSA's single-variable limit rows into variable bounds; return the rows moved.

    PyPSA (1.x) writes the operating limits of fixed-capacity assets as rows
    (:func:`energy_model.optimization.compat.fixed_limit_rows`), e.g.
    :math:`p_{g,t} \le \bar p_{g,t} P_g` with :math:`P_g` a number. A row that holds one
    variable with a positive coefficient,

    .. math:: a\,x \le b \iff x \le b/a \qquad (a\,x \ge b \iff x \ge b/a),

    is the bound :math:`x \le b/a`, intersected with the bound the variable already has:
    :math:`u' = \min(u, b/a)`, :math:`l' = \max(l, b/a)`.

    ==============  ===============================================  ==================
    symbol          meaning                                          unit
    ==============  ===============================================  ==================
    :math:`x`       the row's variable (e.g. ``Generator-p``)         MW (MWh for stores)
    :math:`a`       its coefficient in the row (> 0)                 –
    :math:`b`       the row's right-hand side                        MW (MWh)
    :math:`l, u`    the variable's lower and upper bound             MW (MWh)
    ==============  ===============================================  ==================

    Blocks with another shape (several terms, a non-positive coefficient, mixed signs, a
    variable other than the expected one) are left as rows. On the full-year Zhangjiakou LP
    these are 1.2 M of 1.45 M rows; as bounds, the feasible set is the same, HiGHS allocates
    far less and presolve has less to do. The rows' duals are lost; PyPSA does not assign them
    to the network anyway.
    """
    moved = 0
    for block in fixed_limit_rows(m):
        constraint, variable = m.constraints[block.constraint], m.variables[block.variable]
        if constraint.vars.sizes.get("_term") != 1 or set(constraint.labels.dims) - set(variable.dims):
            continue
        coefficient = constraint.coeffs.isel(_term=0)
        signs = np.unique(constraint.sign.values)
        expected = "<=" if block.side == "upper" else ">="
        if len(signs) != 1 or signs[0] != expected or bool((coefficient <= 0).any()):
            continue
        labels = variable.labels.sel({d: constraint.labels.coords[d] for d in constraint.labels.dims})
        if not (labels == constraint.vars.isel(_term=0)).all():
            continue
        bound = (constraint.rhs / coefficient).where(constraint.labels >= 0)
        bound = bound.reindex_like(variable.labels)
        if block.side == "upper":
            current = variable.upper.broadcast_like(variable.labels)
            set_variable_bounds(
                variable, upper=xr.where(bound.notnull(), np.minimum(current, bound), current)
            )
        else:
            current = variable.lower.broadcast_like(variable.labels)
            set_variable_bounds(
                variable, lower=xr.where(bound.notnull(), np.maximum(current, bound), current)
            )
        moved += int((constraint.labels >= 0).sum())
        m.remove_constraints(block.constraint)
    return moved


def as_linear(m: linopy.Model, value: Any) -> Any:
    """``value`` as a linopy expression: constants (no variable left in them) get ``0 * x``.

    A share term can be a constant when every flow in it is fixed (e.g. fixed loads and a
    fixed mix ratio); linopy takes a constraint or an objective only as an expression.
    """
    if hasattr(value, "vars"):
        return value
    anchor = m.variables[next(iter(m.variables))]
    return 0 * anchor.sum() + float(value)


def add_renewable_share_constraint(
    n: pypsa.Network,
    sns: pd.Index,
    sc: Scenario,
    target: Target | str,
    project_root: str | Path,
    mix_ratio: float | None = None,
) -> str:
    r"""Require the renewable share of ``target`` under the enforced rule to reach ``s``.

    The headline rules are annual mix rules (``annual_mix``, ``green_contract``): locally
    consumed electricity carries the renewable fraction :math:`R/T` of the year's local
    electricity pool (:func:`energy_model.accounting.compute_mix_pool`). The share is then a
    ratio of decision variables; with the mix ratio fixed at :math:`\rho` it is linear, and two
    constraints together imply the target:

    .. math::

        R - \rho\, T \;\ge\; 0 \qquad\text{(the network's own mix reaches } \rho\text{)}

        c_{el}\,\rho\,E_{el} + N_o \;\ge\; s\,\big[c_{el} E_{el} + D_o\big]
        \qquad\text{(final_energy targets)}

    Any dispatch that meets both has :math:`R/T \ge \rho` and therefore a share
    :math:`\ge s`; :func:`energy_model.optimization.solve.solve_scenario` moves :math:`\rho` to the
    mix of the last solution until it stops moving. For ``electricity`` targets the share *is*
    the mix ratio, so :math:`R - s\,T \ge 0` alone is exact (no iteration).

    ==================  ===========================================================  =========
    symbol              meaning                                                      unit
    ==================  ===========================================================  =========
    :math:`R, T`        renewable and total electricity pool of the rule             MWh
    :math:`\rho`        fixed mix ratio (``mix_ratio``)                              \-
    :math:`E_{el}`      local final electricity consumption                          MWh
    :math:`c_{el}`      electricity factor of the headline valuation                 tce/MWh
    :math:`N_o`         renewable final energy other than electricity: heat          tce
                        (calorific 0.1229 tce/MWh), ambient heat if counted, table
    :math:`D_o`         final energy other than electricity (heat, fuels, table)      tce
    :math:`s`           ``target.min_share``                                         \-
    ==================  ===========================================================  =========

    The constraint named by the return value is the share constraint (final energy; its dual is
    in CNY/tce) or the mix constraint (electricity; CNY/MWh); the mix constraint of a
    final-energy target is named ``<name>_mix``.

    Parameters
    ----------
    n
        Network whose ``n.model`` is being built (inside ``extra_functionality``).
    sns
        Snapshots of the optimisation (unused; the model's snapshots are taken).
    sc
        Scenario (``sc.enforced_attribution`` is the rule).
    target
        The target (or its name).
    project_root
        Folder that holds ``data/``.
    mix_ratio
        :math:`\rho` [-]; required for ``final_energy`` targets, ignored for ``electricity``.

    Returns
    -------
    str
        Constraint name ``GlobalConstraint-renewable_share_<target>``.
    """
    name, _ = add_share_requirement(n, sc, find_target(sc, target), project_root, mix_ratio)
    return name


def add_share_requirement(
    n: pypsa.Network,
    sc: Scenario,
    target: Target,
    project_root: str | Path,
    mix_ratio: float | None = None,
) -> tuple[str, ShareTerms]:
    """Add the constraints of :func:`add_renewable_share_constraint`; return name and terms.

    The terms (share numerator and denominator as linear expressions at the fixed mix ratio)
    are what the infeasibility diagnosis needs to measure a shortfall.
    """
    name = renewable_share_constraint_name(target)
    rule = sc.enforced_attribution
    if target.indicator == "electricity":
        ratio = target.min_share
    elif mix_ratio is None:
        msg = f"target '{target.name}': a final-energy target needs the fixed mix ratio"
        raise ValueError(msg)
    else:
        ratio = mix_ratio
    terms, pool = compute_model_share_terms(
        n, sc, target, project_root, prefix=name, rule=rule, mix_ratio=ratio
    )
    m = n.model
    mix = as_linear(m, pool.renewable - ratio * pool.total)
    if target.indicator == "electricity":
        m.add_constraints(mix >= 0, name=name)
        terms = ShareTerms(numerator=pool.renewable, denominator=pool.total)
    else:
        m.add_constraints(mix >= 0, name=mix_constraint_name(target))
        share = as_linear(m, terms.numerator - target.min_share * terms.denominator)
        m.add_constraints(share >= 0, name=name)
    logger.info(
        "added %s: %s share >= %.1f %% (rule %s, mix ratio %.6f)",
        name,
        target.indicator,
        target.min_share * 100,
        rule,
        ratio,
    )
    return name, terms


def extra_functionality(
    sc: Scenario, project_root: str | Path, mix_ratios: dict[str, float] | None = None
) -> Callable[[pypsa.Network, pd.Index], None]:
    """Return the callable that adds every scenario constraint to ``n.model``.

    The callable adds one export-contract constraint per ``sc.export_contracts`` entry
    (:func:`add_export_contract_constraint`) and the constraints of each enforced target
    (:func:`add_renewable_share_constraint`) at its fixed mix ratio ``mix_ratios[target]``.
    """

    def add_constraints(n: pypsa.Network, sns: pd.Index) -> None:
        for contract in sc.export_contracts:
            add_export_contract_constraint(n, sns, contract)
        for target in sc.targets:
            if target.enforce:
                ratio = (mix_ratios or {}).get(target.name)
                add_renewable_share_constraint(n, sns, sc, target, project_root, ratio)

    return add_constraints


def constraint_names(sc: Scenario) -> list[str]:
    """Names of the constraints :func:`extra_functionality` adds (for reading duals)."""
    names = [export_contract_name(c) for c in sc.export_contracts]
    names += [renewable_share_constraint_name(t) for t in sc.targets if t.enforce]
    names += [
        mix_constraint_name(t) for t in sc.targets if t.enforce and t.indicator == "final_energy"
    ]
    return names


def read_duals(m: linopy.Model, sc: Scenario) -> dict[str, float]:
    """Dual of each scenario constraint of a solved model, by constraint name.

    [CNY/MWh for export contracts and electricity targets, CNY/tce for final-energy targets.]
    """
    return {
        name: float(m.constraints[name].dual.values.item())
        for name in constraint_names(sc)
        if name in m.constraints
    }
