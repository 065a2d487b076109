r"""Constraints of the pathway model and the per-period view of the accounting.

The renewable share of a period is the engine's one definition
(:mod:`energy_model.accounting`: :func:`~energy_model.accounting.compute_annual_balance`,
:func:`~energy_model.accounting.compute_mix_pool`,
:func:`~energy_model.accounting.compute_share_terms`), evaluated on the period's year of
snapshots: inside :func:`period_view` the ``generators`` snapshot weighting of every other
period is 0, so each annual sum of the accounting (a weighted sum over snapshots) is the sum
over that period's year. The same view serves the constraint (linear expressions of
``n.model``, :func:`energy_model.optimization.constraints.add_share_requirement`) and the
reported share (numbers of the solved network,
:func:`energy_model.accounting.evaluate_enforced_target`), so the constrained share is the
reported one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from energy_model.accounting import (
    EnforcedTargetState,
    compute_annual_balance,
    compute_electricity_factors,
    compute_green_exports,
    compute_mix_pool,
    compute_share_terms,
    evaluate_enforced_target,
    load_final_energy_table,
    mix_constraint_name_of,
    price_per_share_point,
    share_constraint_name,
)
from energy_model.optimization.compat import absent_slots_as_zero
from energy_model.optimization.constraints import EXPORT_CONTRACT_PREFIX, add_share_requirement, as_linear
from energy_model.pathway.build import active_mask
from energy_model.scenario import Scenario, Target
from energy_model.tables import MWH_PER_TWH

if TYPE_CHECKING:
    import pypsa

    from energy_model.pathway.build import PathwayNetwork

logger = logging.getLogger(__name__)

#: Components and size variables of the candidate technologies.
SIZE_VARIABLE = {"Generator": "p_nom", "Link": "p_nom", "StorageUnit": "p_nom", "Store": "e_nom"}
PREFIX = "GlobalConstraint-pathway_"


@contextmanager
def period_view(n: pypsa.Network, period: int) -> Iterator[None]:
    """Within the block, the ``generators`` weighting of every other period's snapshots is 0."""
    saved = n.snapshot_weightings.copy()
    other = n.snapshots.get_level_values("period") != period
    weights = saved.copy()
    weights.loc[other, "generators"] = 0.0
    n.snapshot_weightings = weights
    try:
        yield
    finally:
        n.snapshot_weightings = saved


def period_scenario(pn: PathwayNetwork, period: int, share: float | None, *, enforce: bool) -> Scenario:
    """The single-year scenario of ``period`` the accounting functions read.

    Year (coal-equivalent factor, final-energy table row), the per-period final-energy table,
    the spec's accounting options and export contracts, and the period's target (if any).
    """
    spec = pn.spec
    targets = []
    if share is not None:
        targets.append(Target(name=target_name(spec.targets.indicator, period),
                              indicator=spec.targets.indicator, min_share=share, enforce=enforce,
                              source=spec.targets.source))
    accounting = spec.accounting
    if pn.final_energy_table is not None:
        accounting = accounting.model_copy(update={"final_energy_table": str(pn.final_energy_table)})
    return Scenario(name=f"{spec.name}-{period}", network=spec.network, year=period, targets=targets,
                    export_contracts=list(spec.export_contracts), accounting=accounting)


def target_name(indicator: str, period: int) -> str:
    """Name of the target of a period, e.g. ``final_energy_2030``."""
    return f"{indicator}_{period}"


def evaluate_period(
    pn: PathwayNetwork, period: int, share: float, root: Path
) -> EnforcedTargetState:
    """Share, mix ratio and needed mix ratio of ``period`` on the solved network."""
    sc = period_scenario(pn, period, share, enforce=True)
    with period_view(pn.n, period):
        return evaluate_enforced_target(pn.n, sc, sc.targets[0], root)


def price_per_point(
    pn: PathwayNetwork, period: int, share: float, root: Path, share_dual: float, mix_dual: float,
    *, slack_pp: float = 0.0,
) -> float:
    r"""Cost of one more percentage point of ``period``'s share [CNY, as the duals].

    The engine's rule (:mod:`energy_model.accounting`, shadow prices): the target is held by the
    share constraint at the fixed mix ratio (dual :math:`\lambda_s` per tce of the
    denominator :math:`D`) and the mix constraint (dual :math:`\lambda_m` per MWh of the pool
    :math:`T`); one point costs :math:`\min(0.01\,\lambda_s D,\ 0.01\,\lambda_m T D /
    (c_{el} E_{el}))`, whichever priced way is cheaper
    (:func:`energy_model.accounting.shares.price_per_share_point`, the one definition; 0 when
    the period's share exceeds its target by ``slack_pp`` [pp]).
    """
    sc = period_scenario(pn, period, share, enforce=True)
    n = pn.n
    with period_view(n, period):
        balance = compute_annual_balance(n, sc, model=False)
        pool = compute_mix_pool(balance, sc.enforced_attribution, compute_green_exports(n, sc))
    factor = compute_electricity_factors(sc, root)[sc.accounting.electricity_valuation]
    table = load_final_energy_table(root / sc.accounting.final_energy_table, sc.year)
    denominator = float(compute_share_terms(
        balance, 0.0, indicator=sc.targets[0].indicator, electricity_factor=factor, table=table,
        include_ambient_heat=sc.accounting.include_ambient_heat).denominator)
    return price_per_share_point(
        share_dual=share_dual if math.isfinite(share_dual) else 0.0,
        mix_dual=mix_dual if math.isfinite(mix_dual) else None,
        denominator_tce=denominator,
        pool_mwh=float(pool.total),
        electricity_tce=factor * float(balance.electricity),
        slack_pp=slack_pp,
    )


def _sizes(n: pypsa.Network, component: str, names: list[str]) -> Any:
    return n.model[f"{component}-{SIZE_VARIABLE[component]}"].sel(name=names).sum()


def add_potential_constraints(pn: PathwayNetwork) -> list[str]:
    r"""Capacity active in each period stays within the resource potential.

    .. math:: \sum_{g \in G_c,\ \text{active in } p} P_g \;\le\; \bar P_c \qquad \forall p

    ==============  ====================================================  ====
    symbol          meaning                                               unit
    ==============  ====================================================  ====
    :math:`G_c`     generators of carrier *c* (``onwind``, ``solar``)     –
    :math:`P_g`     capacity: ``Generator-p_nom`` or the fixed ``p_nom``  MW
    :math:`\bar P`  ``spec.potentials_mw`` (wind 40 GW, solar 30 GW)      MW
    ==============  ====================================================  ====

    and each corridor's reinforcements over all periods stay within ``corridor.max_mw``.
    """
    n, names = pn.n, list[str]()
    carriers = {"wind": "onwind", "solar": "solar"}
    for technology, limit in pn.spec.potentials_mw.items():
        for period in pn.spec.periods:
            gens = n.generators[(n.generators["carrier"] == carriers[technology])
                                & active_mask(n, "Generator", period)]
            extendable = list(gens.index[gens["p_nom_extendable"].astype(bool)])
            fixed = float(gens.loc[~gens["p_nom_extendable"].astype(bool), "p_nom"].sum())
            if not extendable:
                continue
            name = f"{PREFIX}potential_{technology}_{period}"
            n.model.add_constraints(_sizes(n, "Generator", extendable) <= limit - fixed, name=name)
            names.append(name)
    for corridor in pn.spec.corridors:
        frame = pn.candidates[(pn.candidates["technology"] == "corridor")
                              & (pn.candidates["base"] == corridor.link)]
        live = [x for x in frame["name"] if bool(n.links.at[x, "p_nom_extendable"])]
        built = float(n.links.loc[[x for x in frame["name"] if x not in live], "p_nom"].sum())
        if live:
            name = f"{PREFIX}corridor_{corridor.link}"
            n.model.add_constraints(_sizes(n, "Link", live) <= corridor.max_mw - built, name=name)
            names.append(name)
    return names


def add_growth_constraints(pn: PathwayNetwork, periods: list[int] | None = None) -> list[str]:
    r"""New build per period and technology stays within the growth limit.

    .. math:: \sum_{a \in C_{k,p}} P_a \;\le\; \Delta_k \qquad \forall p

    ==================  ==================================================  ===========
    symbol              meaning                                             unit
    ==================  ==================================================  ===========
    :math:`C_{k,p}`     candidates of technology *k* built in period *p*    –
    :math:`P_a`         their capacity (``p_nom``; ``e_nom`` for tanks)     MW (MWh)
    :math:`\Delta_k`    ``spec.growth_limits_mw[k]``                         MW (MWh)
    ==================  ==================================================  ===========
    """
    n, names = pn.n, list[str]()
    frame = pn.candidates
    for technology, limit in pn.spec.growth_limits_mw.items():
        for period in periods or pn.spec.periods:
            chosen = frame[(frame["technology"] == technology) & (frame["period"] == period)]
            terms = []
            for component, group in chosen.groupby("component"):
                static = n.components[str(component)].static
                size = SIZE_VARIABLE[str(component)]
                live = [x for x in group["name"] if bool(static.at[x, f"{size}_extendable"])]
                if live:
                    terms.append(_sizes(n, str(component), live))
            if not terms:
                continue
            name = f"{PREFIX}growth_{technology}_{period}"
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            n.model.add_constraints(total <= limit, name=name)
            names.append(name)
    return names


def add_energy_cap_constraints(pn: PathwayNetwork) -> list[str]:
    r"""Annual energy cap of a generator, per period (PyPSA's ``e_sum_max`` sums all periods).

    .. math:: \sum_{t \in p} w_t\, p_{g,t} \;\le\; E_g \qquad \forall p,\ g \text{ active in } p

    ==============  ====================================================  =====
    symbol          meaning                                               unit
    ==============  ====================================================  =====
    :math:`p_{g,t}` ``Generator-p``                                       MW
    :math:`w_t`     ``generators`` snapshot weighting                     h
    :math:`E_g`     the base network's ``e_sum_max`` (planned generation)  MWh
    ==============  ====================================================  =====
    """
    n, names = pn.n, list[str]()
    if not pn.energy_caps:
        return names
    weights = n.snapshot_weightings["generators"]
    for period in pn.spec.periods:
        active = active_mask(n, "Generator", period)
        gens = [g for g in pn.energy_caps if bool(active.get(g, False))]
        if not gens:
            continue
        sns = n.snapshots[n.snapshots.get_level_values("period") == period]
        p = n.model["Generator-p"].sel(name=gens, snapshot=sns)
        energy = (p * _snapshot_array(weights, sns)).sum("snapshot")
        caps = pd.Series({g: pn.energy_caps[g] for g in gens})
        caps.index.name = "name"
        name = f"{PREFIX}energy_cap_{period}"
        n.model.add_constraints(energy <= caps.to_xarray(), name=name)
        names.append(name)
    return names


def _snapshot_array(values: pd.Series | pd.DataFrame, sns: pd.Index) -> xr.DataArray:
    """Values indexed by (a subset of) the multi-period snapshots as an xarray array whose
    ``snapshot`` dimension carries the ``(period, timestep)`` MultiIndex (as the model's)."""
    coords = xr.Coordinates.from_pandas_multiindex(pd.MultiIndex.from_tuples(list(sns),
                                                                              names=sns.names), "snapshot")
    if isinstance(values, pd.Series):
        return xr.DataArray(values.loc[sns].to_numpy(dtype=float), coords=coords, dims="snapshot")
    frame = values.loc[sns]
    array = xr.DataArray(frame.to_numpy(dtype=float), dims=("snapshot", "name"),
                         coords={"name": list(frame.columns)})
    return array.assign_coords(coords)


def add_export_contracts(pn: PathwayNetwork, periods: list[int]) -> list[str]:
    r"""Every export contract of the spec, in every period of ``periods``.

    The engine's contract
    (:func:`~energy_model.optimization.constraints.add_export_contract_constraint`) on the
    period's snapshots:

    .. math:: \sum_{l \in L} \sum_{t \in p} w_t\, \eta_{l,t}\, p_{l,t} \;\ge\; 10^6 E

    ==============  =====================================================  ====
    symbol          meaning                                                unit
    ==============  =====================================================  ====
    :math:`L`       ``contract.links``                                     –
    :math:`p_{l,t}` ``Link-p`` (withdrawn at ``bus0``)                      MW
    :math:`\eta`    link efficiency                                        –
    :math:`w_t`     ``generators`` snapshot weighting                      h
    :math:`E`       ``contract.min_energy_twh`` (delivered at ``bus1``)    TWh
    ==============  =====================================================  ====

    Constraint ``GlobalConstraint-export_contract_<contract>_<period>``.
    """
    n, names = pn.n, list[str]()
    weights = n.snapshot_weightings["generators"]
    for period in periods:
        sns = n.snapshots[n.snapshots.get_level_values("period") == period]
        for contract in pn.spec.export_contracts:
            links = list(contract.links)
            efficiency = n.get_switchable_as_dense("Link", "efficiency")[links]
            coefficient = efficiency.mul(weights, axis=0)
            flow = n.model["Link-p"].sel(name=links, snapshot=sns)
            delivered = (flow * _snapshot_array(coefficient, sns)).sum()
            name = f"{EXPORT_CONTRACT_PREFIX}{contract.name}_{period}"
            n.model.add_constraints(delivered >= contract.min_energy_twh * MWH_PER_TWH, name=name)
            names.append(name)
    return names


def pathway_constraints(
    pn: PathwayNetwork,
    root: Path,
    shares: dict[int, float],
    ratios: dict[int, float] | None,
    *,
    periods: list[int] | None = None,
) -> Callable[[pypsa.Network, pd.Index], None]:
    """The callable that adds every pathway constraint to ``n.model``.

    Potentials, growth limits and energy caps in every period; export contracts and (with
    ``ratios``) the share requirement of each period in ``periods`` (default: all) at its
    fixed mix ratio (:func:`energy_model.optimization.constraints.add_share_requirement`
    inside :func:`period_view`).
    """
    scope = list(periods or pn.spec.periods)

    def add(n: pypsa.Network, sns: pd.Index) -> None:
        del sns
        add_potential_constraints(pn)
        add_growth_constraints(pn)
        add_energy_cap_constraints(pn)
        add_export_contracts(pn, scope)
        for period, ratio in (ratios or {}).items():
            sc = period_scenario(pn, period, shares[period], enforce=True)
            with period_view(n, period), absent_slots_as_zero():
                add_share_requirement(n, sc, sc.targets[0], root, ratio)

    return add


@dataclass(frozen=True)
class PeriodShareTerms:
    r"""The share requirement's terms of one period as linear expressions of ``n.model``.

    Built once per model (:func:`compute_period_share_terms`); the requirement at any target
    :math:`s` and mix ratio :math:`\rho` is then two rows (:func:`share_requirement_rows`)
    without a new model.
    """

    renewable: Any
    """:math:`R`: renewable electricity pool of the enforced rule [MWh]."""
    total: Any
    """:math:`T`: total electricity pool [MWh]."""
    numerator_at_0: Any
    """Share numerator at :math:`\\rho = 0`: :math:`N_o` [tce]."""
    numerator_at_1: Any
    """Share numerator at :math:`\\rho = 1`: :math:`c_{el} E_{el} + N_o` [tce]."""
    denominator: Any
    """:math:`c_{el} E_{el} + D_o` [tce]."""


def compute_period_share_terms(pn: PathwayNetwork, period: int, root: Path) -> PeriodShareTerms:
    r"""Share and pool terms of ``period`` on ``n.model`` (the accounting of the period view).

    The same functions as :func:`energy_model.accounting.compute_model_share_terms` (which
    :func:`energy_model.optimization.constraints.add_share_requirement` calls): one annual
    balance in model mode (:func:`period_view`), the rule's pool, and the share terms at
    :math:`\rho = 0` and :math:`\rho = 1`. The numerator is affine in :math:`\rho`
    (:math:`N(\rho) = N_o + \rho\, c_{el} E_{el}`), so the two give it at every ratio; the
    balance, the expensive part of a build (~8 s per period at 48 segments x 4 periods),
    is computed once. ``tests/test_pathway.py`` checks the rows against a fresh build with
    ``add_share_requirement``.
    """
    sc = period_scenario(pn, period, 0.0, enforce=True)
    target = sc.targets[0]
    factor = compute_electricity_factors(sc, root)[sc.accounting.electricity_valuation]
    table = load_final_energy_table(root / sc.accounting.final_energy_table, sc.year)
    name = share_constraint_name(target.name)
    with period_view(pn.n, period), absent_slots_as_zero():
        balance = compute_annual_balance(pn.n, sc, model=True, prefix=name)
        pool = compute_mix_pool(balance, sc.enforced_attribution, compute_green_exports(pn.n, sc))
        kwargs: dict[str, Any] = {"indicator": target.indicator, "electricity_factor": factor,
                                  "table": table,
                                  "include_ambient_heat": sc.accounting.include_ambient_heat}
        at_0 = compute_share_terms(balance, 0.0 * balance.electricity, **kwargs)
        at_1 = compute_share_terms(balance, balance.electricity, **kwargs)
    return PeriodShareTerms(renewable=pool.renewable, total=pool.total,
                            numerator_at_0=at_0.numerator, numerator_at_1=at_1.numerator,
                            denominator=at_0.denominator)


def share_requirement_rows(
    pn: PathwayNetwork, m: Any, period: int, terms: PeriodShareTerms, share: float, ratio: float
) -> dict[str, tuple[Any, str, float]]:
    r"""The two rows of ``period``'s share requirement at ``share`` and mix ratio ``ratio``.

    .. math::

        R - \rho\, T \ge 0, \qquad
        N_o + \rho\,(N(1) - N_o) - s\, D \ge 0

    (:func:`energy_model.optimization.constraints.add_share_requirement`, same names: the
    share row ``GlobalConstraint-renewable_share_<indicator>_<period>`` and its ``_mix`` row).

    ==================  ===========================================================  =====
    symbol              meaning                                                      unit
    ==================  ===========================================================  =====
    :math:`R, T`        renewable and total electricity pool of the rule             MWh
    :math:`\rho`        fixed mix ratio ``ratio``                                    \-
    :math:`N_o, N(1)`   share numerator at ratio 0 and 1 (:class:`PeriodShareTerms`)  tce
    :math:`D`           share denominator                                            tce
    :math:`s`           ``share`` (the period's target)                              \-
    ==================  ===========================================================  =====

    Returns ``name -> (lhs, sign, rhs)`` for
    :func:`energy_model.optimization.model.add_rows`.
    """
    target = target_name(pn.spec.targets.indicator, period)
    name = share_constraint_name(target)
    with absent_slots_as_zero():
        mix = as_linear(m, terms.renewable - ratio * terms.total)
        numerator = terms.numerator_at_0 + ratio * (terms.numerator_at_1 - terms.numerator_at_0)
        requirement = as_linear(m, numerator - share * terms.denominator)
        mix_lhs, mix_rhs = mix - mix.const, -float(mix.const)
        share_lhs, share_rhs = requirement - requirement.const, -float(requirement.const)
    return {mix_constraint_name_of(target): (mix_lhs, ">=", mix_rhs),
            name: (share_lhs, ">=", share_rhs)}
