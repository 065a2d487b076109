"""Constraint stage: the scenario's extra constraints, added to PyPSA's linopy model.

Reads the scenario; writes constraints into ``n.model``. Each ``add_*_constraint`` adds exactly
one named constraint and documents its formula. ``extra_functionality(sc, project_root)``
returns the single callable passed to ``n.optimize``. :func:`move_fixed_limits_to_bounds`
rewrites PyPSA's single-variable limit rows as variable bounds (same feasible set, smaller LP).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pypsa

    from energy_model.scenario import ExportContract, Scenario, Target

logger = logging.getLogger(__name__)

EXPORT_CONTRACT_PREFIX = "GlobalConstraint-export_contract_"
RENEWABLE_SHARE_PREFIX = "GlobalConstraint-renewable_share_"
MWH_PER_TWH = 1e6


def export_contract_name(contract: ExportContract) -> str:
    """Name of the linopy constraint of an export contract."""
    return f"{EXPORT_CONTRACT_PREFIX}{contract.name}"


def renewable_share_constraint_name(target: Target) -> str:
    """Name of the linopy constraint that enforces a renewable-share target."""
    return f"{RENEWABLE_SHARE_PREFIX}{target.name}"


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


def _set_bounds(variable: Any, **bounds: Any) -> None:
    """Set a linopy variable's bounds (``Variable.update`` from linopy 0.10, the setters before)."""
    if hasattr(variable, "update"):
        variable.update(**bounds)
        return
    for side, value in bounds.items():
        setattr(variable, side, value)


def move_fixed_limits_to_bounds(m: Any) -> int:
    r"""Turn PyPSA's single-variable limit rows into variable bounds; return the rows moved.

    PyPSA (1.x) writes the operating limits of fixed-capacity assets as rows
    ``<Component>-fix-<var>-lower/upper``, e.g. :math:`p_{g,t} \le \bar p_{g,t} P_g` with
    :math:`P_g` a number. Each row holds one variable with a positive coefficient, so
    :math:`a\,x \le b` is the bound :math:`x \le b/a` (and :math:`\ge` a lower bound). On the
    full-year Zhangjiakou LP these are 1.2 M of 1.45 M rows; as bounds, the feasible set is the
    same, HiGHS allocates far less and presolve has less to do. The rows' duals are lost; PyPSA
    does not assign them to the network anyway.
    """
    moved = 0
    for name in list(m.constraints):
        component, _, rest = name.partition("-fix-")
        if not rest or not rest.endswith(("-lower", "-upper")):
            continue
        attribute, _, side = rest.rpartition("-")
        variable_name = f"{component}-{attribute}"
        if variable_name not in m.variables:
            continue
        constraint, variable = m.constraints[name], m.variables[variable_name]
        if constraint.vars.sizes.get("_term") != 1 or set(constraint.labels.dims) - set(variable.dims):
            continue
        coefficient = constraint.coeffs.isel(_term=0)
        signs = np.unique(constraint.sign.values)
        expected = "<=" if side == "upper" else ">="
        if len(signs) != 1 or signs[0] != expected or bool((coefficient <= 0).any()):
            continue
        labels = variable.labels.sel({d: constraint.labels.coords[d] for d in constraint.labels.dims})
        if not (labels == constraint.vars.isel(_term=0)).all():
            continue
        bound = (constraint.rhs / coefficient).where(constraint.labels >= 0)
        bound = bound.reindex_like(variable.labels)
        if side == "upper":
            current = variable.upper.broadcast_like(variable.labels)
            _set_bounds(variable, upper=xr.where(bound.notnull(), np.minimum(current, bound), current))
        else:
            current = variable.lower.broadcast_like(variable.labels)
            _set_bounds(variable, lower=xr.where(bound.notnull(), np.maximum(current, bound), current))
        moved += int((constraint.labels >= 0).sum())
        m.remove_constraints(name)
    return moved


def extra_functionality(
    sc: Scenario, project_root: Path
) -> Callable[[pypsa.Network, pd.Index], None]:
    """Return the callable that adds every scenario constraint to ``n.model``.

    The callable adds one export-contract constraint per ``sc.export_contracts`` entry and one
    renewable-share constraint per enforced target (see
    :func:`energy_model.accounting.add_renewable_share_constraint`).
    """

    def add_constraints(n: pypsa.Network, sns: pd.Index) -> None:
        for contract in sc.export_contracts:
            add_export_contract_constraint(n, sns, contract)
        enforced = [target for target in sc.targets if target.enforce]
        if enforced:
            from energy_model.accounting import add_renewable_share_constraint  # noqa: PLC0415

            for target in enforced:
                add_renewable_share_constraint(n, sns, sc, target, project_root)

    return add_constraints


def constraint_names(sc: Scenario) -> list[str]:
    """Names of the constraints :func:`extra_functionality` adds (for reading duals)."""
    names = [export_contract_name(c) for c in sc.export_contracts]
    names += [renewable_share_constraint_name(t) for t in sc.targets if t.enforce]
    return names
