"""Share metrics, verdicts and enforcement changes of a solved network (tidy metric rows)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pypsa

from energy_model.accounting.attribution import Attribution, compute_attribution, compute_hourly_flows
from energy_model.accounting.balance import (
    AnnualBalance,
    FlowValues,
    ShareTerms,
    Topology,
    compute_annual_balance,
    compute_green_exports,
    compute_mix_local_renewable,
    compute_mix_pool,
    compute_share_terms,
    compute_topology,
)
from energy_model.accounting.inputs import (
    CALORIFIC_KGCE_PER_KWH,
    DATA_CENTRE_CARRIER,
    VERDICT_TOLERANCE_PP,
    FinalEnergyTable,
    compute_electricity_factors,
    mix_constraint_name_of,
    scaled_final_energy_table,
    share_constraint_name,
)
from energy_model.exceptions import InputError
from energy_model.scenario import Scenario, Target
from energy_model.tables import (
    ANNUAL_ATTRIBUTIONS,
    ATTRIBUTIONS,
    DEFENSIBLE_ATTRIBUTIONS,
    DEFENSIBLE_VALUATION,
    HOURLY_ATTRIBUTIONS,
    METRIC_COLUMNS,
    VALUATIONS,
    share_metric,
    share_variant,
)
from energy_model.tables import row as _row

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Metrics and verdicts
# ---------------------------------------------------------------------------------------------

def _share(numerator: float, denominator: float, what: str) -> float:
    """``numerator / denominator``; 0 with a warning when nothing is consumed (denominator <= 0)."""
    if denominator > 0:
        return float(numerator) / float(denominator)
    logger.warning("%s: no local consumption (denominator %.3g), share reported as 0 %%", what,
                   denominator)
    return 0.0


def headline_share(sc: Scenario, target: Target) -> tuple[str, str]:
    """Metric and variant of the headline share a target is judged on (the one definition).

    The scenario's headline valuation and attribution (``sc.accounting``) applied to the
    target's indicator; see :func:`energy_model.tables.share_variant`.
    """
    variant = share_variant(
        target.indicator, sc.accounting.electricity_valuation, sc.accounting.attribution
    )
    return share_metric(target.indicator), variant


@dataclass(frozen=True)
class _SolvedAccounts:
    """What the share-metric rows are computed from: one solved network's annual accounts."""

    n: pypsa.Network
    sc: Scenario
    factors: dict[str, float]
    table: FinalEnergyTable
    balance: AnnualBalance
    flows: pd.DataFrame
    weights: pd.Series
    attributions: dict[str, Attribution]
    re_local: dict[str, float]
    """Renewable electricity attributed to local use per rule [MWh]."""
    re_exported: dict[str, float]
    """Renewable electricity attributed to exports per rule [MWh]."""
    topology: Topology
    values: FlowValues
    """The network's numbers, each frame read once for every row above and below."""

    def share_terms(self, rule: str, valuation: str) -> ShareTerms:
        """Final-energy share terms [tce] under an attribution rule and a valuation."""
        return compute_share_terms(
            self.balance,
            self.re_local[rule],
            indicator="final_energy",
            electricity_factor=self.factors[valuation],
            table=self.table,
            include_ambient_heat=self.sc.accounting.include_ambient_heat,
        )


def _solved_accounts(n: pypsa.Network, sc: Scenario, project_root: str | Path) -> _SolvedAccounts:
    root = Path(project_root)
    topology, values = compute_topology(n, sc), FlowValues(n, model=False)
    balance = compute_annual_balance(n, sc, model=False, topology=topology, values=values)
    flows = compute_hourly_flows(n, sc, topology=topology, values=values)
    weights = n.snapshot_weightings["generators"]
    attributions = {rule: compute_attribution(flows, weights, rule) for rule in HOURLY_ATTRIBUTIONS}
    re_local: dict[str, float] = {rule: a.local for rule, a in attributions.items()}
    re_exported: dict[str, float] = {rule: a.exported for rule, a in attributions.items()}
    green = compute_green_exports(n, sc)
    for rule in ANNUAL_ATTRIBUTIONS:
        re_local[rule], re_exported[rule] = compute_mix_local_renewable(balance, rule, green)
    return _SolvedAccounts(
        n=n,
        sc=sc,
        factors=compute_electricity_factors(sc, root),
        table=scaled_final_energy_table(root / sc.accounting.final_energy_table, sc.year, n),
        balance=balance,
        flows=flows,
        weights=weights,
        attributions=attributions,
        re_local=re_local,
        re_exported=re_exported,
        topology=topology,
        values=values,
    )


def compute_share_metrics(
    n: pypsa.Network,
    sc: Scenario,
    project_root: str | Path,
    duals: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Final-energy balance, renewable shares, verdicts and shadow prices of a solved network.

    Parameters
    ----------
    n
        Solved network.
    sc
        Scenario.
    project_root
        Folder that holds ``data/`` (the final-energy and coal-equivalent tables).
    duals
        Duals of enforced targets, ``{constraint name: dual}`` as read from
        ``n.model.constraints[name].dual`` [CNY/tce for ``final_energy``, CNY/MWh for
        ``electricity`` targets]; ``None`` when nothing was enforced.

    Returns
    -------
    pandas.DataFrame
        Tidy rows ``metric, variant, carrier, bus, value, unit`` (see docs/accounting.md,
        "Metrics").
    """
    accounts = _solved_accounts(n, sc, project_root)
    shares, share_rows = _share_rows(accounts)
    rows = [
        *_electricity_rows(accounts),
        *_final_energy_item_rows(accounts),
        *share_rows,
        *_data_centre_rows(accounts),
        *_verdict_rows(sc, shares),
        *_fossil_table_sensitivity_rows(accounts, project_root),
        *_shadow_price_rows(accounts, duals),
    ]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


@dataclass(frozen=True)
class EnforcedTargetState:
    """A target under the enforced rule, evaluated on a solved network (numbers)."""

    share: float
    """Achieved share under the enforced rule [-]."""
    mix_ratio: float
    """Renewable fraction :math:`R/T` of the rule's annual electricity pool [-]."""
    needed_ratio: float
    """Mix ratio at which this dispatch's share would equal the target [-]."""


def evaluate_enforced_target(
    n: pypsa.Network, sc: Scenario, target: Target, project_root: str | Path
) -> EnforcedTargetState:
    r"""Share, mix ratio and the mix ratio the target needs, on a solved network.

    With :math:`N(\rho) = c_{el}\rho E_{el} + N_o` and denominator :math:`D`, the needed ratio
    solves :math:`N(\rho) = s D`: :math:`\rho^* = (sD - N_o)/(c_{el}E_{el})` (for electricity
    targets :math:`\rho^* = s`). Same definitions as the reported share and the constraint
    (:func:`energy_model.accounting.compute_mix_pool`, :func:`compute_share_terms`).
    """
    root = Path(project_root)
    rule = sc.enforced_attribution
    balance = compute_annual_balance(n, sc, model=False)
    pool = compute_mix_pool(balance, rule, compute_green_exports(n, sc))
    total = float(pool.total)
    ratio = min(max(float(pool.renewable) / total, 0.0), 1.0) if total > 0 else 0.0
    if target.indicator == "electricity":
        return EnforcedTargetState(share=ratio, mix_ratio=ratio, needed_ratio=target.min_share)
    factor = compute_electricity_factors(sc, root)[sc.accounting.electricity_valuation]
    table = scaled_final_energy_table(root / sc.accounting.final_energy_table, sc.year, n)

    def terms(re_local: float) -> ShareTerms:
        return compute_share_terms(
            balance,
            re_local,
            indicator="final_energy",
            electricity_factor=factor,
            table=table,
            include_ambient_heat=sc.accounting.include_ambient_heat,
        )

    at_ratio = terms(ratio * float(balance.electricity))
    without_electricity = terms(0.0)
    share = _share(at_ratio.numerator, at_ratio.denominator, f"target {target.name}")
    electricity_tce = factor * float(balance.electricity)
    needed = (
        (target.min_share * without_electricity.denominator - without_electricity.numerator)
        / electricity_tce
        if electricity_tce > 0
        else float("inf")
    )
    return EnforcedTargetState(share=share, mix_ratio=ratio, needed_ratio=needed)


def _electricity_rows(accounts: _SolvedAccounts) -> list[dict[str, object]]:
    """Valuation factors, the local electricity balance and the attribution of renewables."""
    balance, flows, twh = accounts.balance, accounts.flows, 1e-6
    rows = [
        _row("coal_equivalent_factor", accounts.factors["coal_equivalent"], "kgce/kWh"),
        _row("calorific_factor", accounts.factors["calorific"], "kgce/kWh"),
        _row("electricity_local_consumption", balance.electricity * twh, "TWh", carrier="AC"),
        _row("renewable_generation_local", balance.renewable_generation * twh, "TWh", carrier="AC"),
    ]
    w = accounts.weights.reindex(flows.index).to_numpy(dtype=float)
    for column, metric in [
        ("exports", "electricity_exports"),
        ("imports", "electricity_imports"),
        ("other", "other_generation_local"),
        ("loads", "electricity_final_use"),
        ("charge", "storage_charge_local_electricity"),
        ("discharge", "storage_discharge_local_electricity"),
        ("losses", "network_losses"),
    ]:
        rows.append(_row(metric, float((flows[column].to_numpy() * w).sum()) * twh, "TWh"))
    for rule in ATTRIBUTIONS:
        rows.append(_row("renewable_electricity_local", accounts.re_local[rule] * twh, "TWh", rule))
        rows.append(
            _row("renewable_electricity_exported", accounts.re_exported[rule] * twh, "TWh", rule)
        )
    for rule, a in accounts.attributions.items():
        rows.append(_row("storage_renewable_fraction", a.storage_fraction * 100, "%", rule))
    return rows


def _final_energy_item_rows(accounts: _SolvedAccounts) -> list[dict[str, object]]:
    """Final-energy balance items other than electricity [Mtce and TWh]."""
    n, balance, twh = accounts.n, accounts.balance, 1e-6
    heat_items: dict[tuple[str, str, str], float] = {}
    for gen, value in balance.heat_fuel.items():
        key = ("final_energy_heat_fuel", str(n.generators.at[gen, "carrier"]),
               str(n.generators.at[gen, "bus"]))
        heat_items[key] = heat_items.get(key, 0.0) + float(value)
    for port in accounts.topology.district_heat_ports:
        key = ("final_energy_district_heat", str(n.links.at[port.name, "carrier"]),
               str(n.links.at[port.name, f"bus{port.port}"]))
        heat_items[key] = heat_items.get(key, 0.0) + float(balance.district_heat[port.name])
    rows = []
    for (metric, carrier, bus), value in sorted(heat_items.items()):
        rows.append(_row(metric, value * CALORIFIC_KGCE_PER_KWH / 1e6, "Mtce", carrier=carrier,
                         bus=bus))
        rows.append(_row(metric, value * twh, "TWh", carrier=carrier, bus=bus))
    rows.append(_row("ambient_heat", balance.ambient_heat * twh, "TWh", carrier="heat"))
    for _, item in accounts.table.rows.iterrows():
        rows.append(_row("final_energy_table", item["value_mtce"], "Mtce",
                         variant=item["sector"], carrier=item["fuel"]))
        rows.append(_row("final_energy_table", item["value_mtce"] * 1e6 / CALORIFIC_KGCE_PER_KWH
                         * twh, "TWh", variant=item["sector"], carrier=item["fuel"]))
    return rows


def _share_rows(
    accounts: _SolvedAccounts,
) -> tuple[dict[tuple[str, str], float], list[dict[str, object]]]:
    """Every share (valuation × rule, and of electricity per rule) and its rows.

    Returns the shares [-] keyed by ``(metric, variant)`` and the rows.
    """
    balance = accounts.balance
    shares: dict[tuple[str, str], float] = {}
    rows = []
    for valuation in VALUATIONS:
        c_el = accounts.factors[valuation]
        rows.append(_row("final_energy_electricity", balance.electricity * c_el / 1e6, "Mtce",
                         valuation, carrier="AC"))
        for rule in ATTRIBUTIONS:
            terms = accounts.share_terms(rule, valuation)
            variant = share_variant("final_energy", valuation, rule)
            share = _share(terms.numerator, terms.denominator, f"renewable_share {variant}")
            shares[(share_metric("final_energy"), variant)] = share
            rows.append(_row("renewable_final_energy", terms.numerator / 1e6, "Mtce", variant))
            if rule == ANNUAL_ATTRIBUTIONS[0]:  # the denominator does not depend on the rule
                rows.append(_row("final_energy_total", terms.denominator / 1e6, "Mtce", valuation))
            rows.append(_row("renewable_share", share * 100, "%", variant))
    for rule in ATTRIBUTIONS:
        re_local = accounts.re_local[rule]
        share = _share(re_local, balance.electricity, f"renewable_share_electricity {rule}")
        shares[(share_metric("electricity"), share_variant("electricity", "", rule))] = share
        rows.append(_row("renewable_share_electricity", share * 100, "%", rule))
    return shares, rows


#: Year whose non-modelled fossil rows the sensitivity holds fixed (the plan's first milestone).
SENSITIVITY_FOSSIL_YEAR = 2022


def _fossil_table_sensitivity_rows(
    accounts: _SolvedAccounts, project_root: str | Path
) -> list[dict[str, object]]:
    """Headline share with the non-modelled fossil rows of the table held at their 2022 level.

    For a year other than 2022 (e.g. 2035) the share depends on how much non-modelled fossil
    energy the plan's total leaves; this row reports the headline share (every valuation, the
    headline rule) with the table's non-renewable rows replaced by the 2022 rows, its renewable
    rows kept. Metric ``renewable_share_sensitivity``, variant
    ``fossil_table_at_2022|<valuation>|<rule>`` [%]. Absent for 2022 itself or when the table
    has no 2022 rows.
    """
    sc = accounts.sc
    if sc.year == SENSITIVITY_FOSSIL_YEAR:
        return []
    path = Path(project_root) / sc.accounting.final_energy_table
    try:
        reference = scaled_final_energy_table(path, SENSITIVITY_FOSSIL_YEAR, accounts.n)
    except InputError:
        return []
    own = accounts.table.rows
    fossil_2022 = reference.rows[~reference.rows["renewable"].astype(bool)]
    mixed = pd.concat([own[own["renewable"].astype(bool)], fossil_2022], ignore_index=True)
    table = FinalEnergyTable(rows=mixed, path=path)
    rule = sc.accounting.attribution
    rows = []
    for valuation in VALUATIONS:
        terms = compute_share_terms(
            accounts.balance,
            accounts.re_local[rule],
            indicator="final_energy",
            electricity_factor=accounts.factors[valuation],
            table=table,
            include_ambient_heat=sc.accounting.include_ambient_heat,
        )
        share = _share(terms.numerator, terms.denominator, "renewable_share_sensitivity")
        variant = f"fossil_table_at_{SENSITIVITY_FOSSIL_YEAR}|{valuation}|{rule}"
        rows.append(_row("renewable_share_sensitivity", share * 100, "%", variant))
    return rows


def _data_centre_rows(accounts: _SolvedAccounts) -> list[dict[str, object]]:
    """Data centres' renewable supply share: the headline's annual share vs hourly matched.

    ``annual|<headline>``: the share every local use gets under the headline rule;
    ``hourly|<rule>``: the hour-by-hour renewable fraction (headline rule if hourly, else
    ``hourly_mix``) weighted by the data-centre load [%].
    """
    flows, weights = accounts.flows, accounts.weights
    topo = accounts.topology
    if not topo.data_centre_loads:
        return []
    dc = accounts.values.load(topo.data_centre_loads).sum("name").to_pandas()
    dc_energy = float((dc * weights.reindex(dc.index)).sum())
    if dc_energy <= 0:
        return []
    headline = accounts.sc.accounting.attribution
    # hour by hour: the headline rule if it is hourly, else the hourly generation mix
    hourly_rule = headline if headline in accounts.attributions else "hourly_mix"
    hourly = accounts.attributions[hourly_rule].hourly_fraction
    matched = float((hourly * dc * weights.reindex(dc.index)).sum()) / dc_energy
    if headline in ANNUAL_ATTRIBUTIONS:
        # the year's mix, as every other local use gets it under the headline rule
        electricity = float(accounts.balance.electricity)
        annual = accounts.re_local[headline] / electricity if electricity > 0 else 0.0
    else:
        u = flows[["loads", "charge", "losses"]].sum(axis=1)
        annual = float(
            (hourly * u * weights.reindex(u.index)).sum()
            / max(float((u * weights.reindex(u.index)).sum()), 1e-12)
        )
    return [
        _row("data_centre_consumption", dc_energy * 1e-6, "TWh", carrier=DATA_CENTRE_CARRIER),
        _row("data_centre_renewable_share", annual * 100, "%", f"annual|{headline}",
             carrier=DATA_CENTRE_CARRIER),
        _row("data_centre_renewable_share", matched * 100, "%", f"hourly|{hourly_rule}",
             carrier=DATA_CENTRE_CARRIER),
    ]


def _verdict_rows(sc: Scenario, shares: dict[tuple[str, str], float]) -> list[dict[str, object]]:
    """Target, achieved (headline) and enforced share, margin and pass/calibrated per target."""
    rows = []
    for target in sc.targets:
        achieved = shares[headline_share(sc, target)]
        margin = (achieved - target.min_share) * 100
        passed = judge(target, margin) in ("PASS", "CALIBRATED")
        rows.append(_row("target_share", target.min_share * 100, "%", target.name))
        rows.append(_row("target_achieved_share", achieved * 100, "%", target.name))
        rows.append(_row("target_margin", margin, "pp", target.name))
        rows.append(_row("target_pass", 1.0 if passed else 0.0, "bool", target.name))
        if target.enforce:
            enforced_variant = share_variant(
                target.indicator, sc.accounting.electricity_valuation, sc.enforced_attribution
            )
            enforced = shares[(share_metric(target.indicator), enforced_variant)]
            rows.append(_row("target_enforced_share", enforced * 100, "%", target.name))
    return rows


def price_per_share_point(
    *,
    share_dual: float,
    mix_dual: float | None,
    denominator_tce: float,
    pool_mwh: float,
    electricity_tce: float,
    slack_pp: float = 0.0,
) -> float:
    r"""Cost of one more percentage point of a final-energy share held at a fixed mix ratio [CNY].

    .. math:: \min\{\,0.01\,|\lambda_s| D,\ 0.01\,|\lambda_m| T D / (c_{el} E_{el})\,\}

    over the routes whose dual is non-zero and finite. Symbols: :math:`\lambda_s` dual of the share
    row [CNY/tce], :math:`\lambda_m` dual of the mix row [CNY/MWh], :math:`D` denominator [tce],
    :math:`T` mix pool [MWh], :math:`c_{el} E_{el}` local electricity [tce]. A zero dual on a
    degenerate row (tight only because the other row is) is not a free point; with no priced route
    the price is 0. A target met with room to spare (``slack_pp``, achieved − target [pp], above
    :data:`VERDICT_TOLERANCE_PP`) costs nothing at the margin: 0, whatever dual the mix row
    carries (it is tight by construction, the ratio being fixed at the achieved mix).
    """
    if slack_pp > VERDICT_TOLERANCE_PP:
        return 0.0
    routes = [abs(share_dual) * denominator_tce * 0.01]
    if mix_dual is not None and electricity_tce > 0:
        routes.append(abs(mix_dual) * pool_mwh * denominator_tce / electricity_tce * 0.01)
    priced = [price for price in routes if math.isfinite(price) and price > 0]
    return min(priced) if priced else 0.0


def _shadow_price_rows(
    accounts: _SolvedAccounts, duals: dict[str, float] | None
) -> list[dict[str, object]]:
    r"""Shadow price of each enforced target [CNY/MWh or CNY/tce, and CNY per percentage point].

    Electricity targets: the dual :math:`\lambda` of :math:`R - sT \ge 0` [CNY/MWh of pool];
    one point costs :math:`0.01\,\lambda T`. Final-energy targets are held by two constraints
    at the fixed mix ratio :math:`\rho` (share: dual :math:`\lambda_s` [CNY/tce]; mix: dual
    :math:`\lambda_m` [CNY/MWh]); one more point can be had either with the ratio fixed
    (:math:`0.01\,\lambda_s D`) or by raising the ratio by :math:`0.01\,D/(c_{el}E_{el})`
    (:math:`0.01\,\lambda_m T D/(c_{el}E_{el})`); the cheaper of the two routes whose dual is
    non-zero is reported (a zero dual on a degenerate row is not a free point), and CNY/tce is
    that price per tce of the denominator :math:`D`.
    """
    sc, rows = accounts.sc, []
    for target in sc.targets:
        if not target.enforce or duals is None:
            continue
        name = share_constraint_name(target.name)
        if name not in duals:
            continue
        rule = sc.enforced_attribution
        pool = compute_mix_pool(accounts.balance, rule, compute_green_exports(accounts.n, sc))
        if target.indicator == "electricity":
            dual = abs(float(duals[name]))
            rows.append(_row("shadow_price", dual, "CNY/MWh", target.name))
            rows.append(_row("shadow_price", dual * float(pool.total) * 0.01, "CNY/pp", target.name))
            continue
        valuation = sc.accounting.electricity_valuation
        terms = accounts.share_terms(rule, valuation)
        denominator = float(terms.denominator)
        achieved = float(terms.numerator) / denominator if denominator > 0 else 0.0
        mix_dual = duals.get(mix_constraint_name_of(target.name))
        per_point = price_per_share_point(
            share_dual=float(duals[name]),
            mix_dual=None if mix_dual is None else float(mix_dual),
            denominator_tce=denominator,
            pool_mwh=float(pool.total),
            electricity_tce=accounts.factors[valuation] * float(accounts.balance.electricity),
            slack_pp=100 * (achieved - target.min_share),
        )
        rows.append(_row("shadow_price", per_point / (0.01 * denominator), "CNY/tce", target.name))
        rows.append(_row("shadow_price", per_point, "CNY/pp", target.name))
    return rows


VERDICT_COLUMNS = (
    "scenario",
    "target",
    "kind",
    "indicator",
    "variant",
    "enforced",
    "target_share",
    "achieved_share",
    "margin_pp",
    "status",
    "robust_status",
    "robust_detail",
)
#: Robust status when every defensible rule agrees, by kind and agreement, and when they differ.
ROBUST_ALL = {("goal", True): "PASS under every rule", ("goal", False): "FAIL under every rule",
              ("calibration", True): "CALIBRATED under every rule",
              ("calibration", False): "OFF under every rule"}
ROBUST_DEPENDS = "DEPENDS ON ACCOUNTING"


def judge(target: Target, margin_pp: float) -> str:
    """Status of a target at a margin [pp]: PASS/FAIL for goals, CALIBRATED/OFF for calibrations.

    A goal passes when ``margin_pp >= -VERDICT_TOLERANCE_PP``; a calibration is CALIBRATED when
    ``|margin_pp| <= calibration_band_pp``.
    """
    if target.kind == "calibration":
        return "CALIBRATED" if abs(margin_pp) <= target.calibration_band_pp else "OFF"
    return "PASS" if margin_pp >= -VERDICT_TOLERANCE_PP else "FAIL"


def _share_value(metrics: pd.DataFrame, metric: str, variant: str) -> float:
    hit = metrics[(metrics["metric"] == metric) & (metrics["variant"] == variant)]
    if hit.empty:
        msg = f"metrics have no '{metric}' row for variant '{variant}'"
        raise KeyError(msg)
    return float(hit["value"].iloc[0]) / 100


def robust_verdict(metrics: pd.DataFrame, target: Target) -> tuple[str, str]:
    """Status of ``target`` under every defensible rule (coal-equivalent valuation).

    The defensible rules are :data:`energy_model.tables.DEFENSIBLE_ATTRIBUTIONS`; calorific
    valuation is a different indicator and not part of the set. Returns ``(robust status,
    detail)``; when the rules disagree, the detail names each rule under which the target is
    not met and by how much, e.g. ``FAIL under hourly_mix (-1.20 pp)``.
    """
    margins = {
        rule: (
            _share_value(
                metrics,
                share_metric(target.indicator),
                share_variant(target.indicator, DEFENSIBLE_VALUATION, rule),
            )
            - target.min_share
        )
        * 100
        for rule in DEFENSIBLE_ATTRIBUTIONS
    }
    statuses = {rule: judge(target, margin) for rule, margin in margins.items()}
    good = {"PASS", "CALIBRATED"}
    if all(status in good for status in statuses.values()):
        return ROBUST_ALL[(target.kind, True)], ""
    if not any(status in good for status in statuses.values()):
        return ROBUST_ALL[(target.kind, False)], ""
    detail = "; ".join(
        f"{status} under {rule} ({margins[rule]:+.2f} pp)"
        for rule, status in statuses.items()
        if status not in good
    )
    return ROBUST_DEPENDS, detail


def compute_verdicts(metrics: pd.DataFrame, sc: Scenario) -> pd.DataFrame:
    """One verdict row per target of the scenario.

    Parameters
    ----------
    metrics
        Output of :func:`compute_share_metrics` (or a metrics table that contains its rows).
    sc
        Scenario.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VERDICT_COLUMNS`: ``target_share`` and ``achieved_share`` [-],
        ``margin_pp`` [percentage points]; ``status`` under the headline (``variant``: the
        scenario's valuation and attribution; see :func:`judge`), ``robust_status`` and
        ``robust_detail`` across the defensible rules (:func:`robust_verdict`).
    """
    rows = []
    for target in sc.targets:
        metric, variant = headline_share(sc, target)
        achieved = _share_value(metrics, metric, variant)
        margin = (achieved - target.min_share) * 100
        robust, detail = robust_verdict(metrics, target)
        rows.append(
            {
                "scenario": sc.name,
                "target": target.name,
                "kind": target.kind,
                "indicator": target.indicator,
                "variant": variant,
                "enforced": target.enforce,
                "target_share": target.min_share,
                "achieved_share": achieved,
                "margin_pp": margin,
                "status": judge(target, margin),
                "robust_status": robust,
                "robust_detail": detail,
            }
        )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def format_unreachable_message(sc: Scenario, target: Target, max_share: float) -> str:
    """One-line message for a target the optimisation cannot reach.

    Example: ``scenario 'target-2035': target 'final_energy_2035' (renewable share of final
    energy >= 50.0 %, coal_equivalent valuation, annual_mix attribution) is unreachable; the
    largest reachable share is 41.3 %``.
    """
    what = (
        "renewable share of final energy"
        if target.indicator == "final_energy"
        else "renewable share of local electricity"
    )
    valuation = (
        f"{sc.accounting.electricity_valuation} valuation, "
        if target.indicator == "final_energy"
        else ""
    )
    return (
        f"scenario '{sc.name}': target '{target.name}' ({what} >= {target.min_share * 100:.1f} %, "
        f"{valuation}{sc.enforced_attribution} attribution) is unreachable; the largest reachable share "
        f"is {max_share * 100:.1f} %"
    )


def _capacity_by_carrier(n: pypsa.Network) -> pd.DataFrame:
    """Optimal capacity by component and carrier [MW; MWh for stores]."""
    frames = []
    for component, attr, unit in [
        ("Generator", "p_nom_opt", "MW"),
        ("StorageUnit", "p_nom_opt", "MW"),
        ("Link", "p_nom_opt", "MW"),
        ("Store", "e_nom_opt", "MWh"),
    ]:
        static = n.components[component].static
        if static.empty or attr not in static:
            continue
        grouped = static.groupby("carrier")[attr].sum()
        frames.append(
            pd.DataFrame(
                {"component": component, "carrier": grouped.index, "value": grouped.to_numpy(),
                 "unit": unit}
            )
        )
    if not frames:
        return pd.DataFrame(columns=["component", "carrier", "value", "unit"])
    return pd.concat(frames, ignore_index=True)


def compute_enforcement_changes(
    reference: pypsa.Network, enforced: pypsa.Network, sc: Scenario
) -> pd.DataFrame:
    """What the optimiser built or changed to reach the enforced targets.

    Compares two solved networks of the same scenario: ``reference`` without and ``enforced``
    with the renewable-share constraints.

    Returns
    -------
    pandas.DataFrame
        Tidy rows (``metric`` = ``target_change``): capacity differences by component and carrier
        (``variant`` = ``capacity|<component>``, MW or MWh) and differences of the annual local
        balance (``variant`` = ``renewable_generation``, ``curtailment``, ``exports``,
        ``electricity_local_consumption``, TWh), each ``enforced - reference``.
    """
    rows: list[dict] = []
    cap_ref = _capacity_by_carrier(reference).set_index(["component", "carrier"])
    cap_enf = _capacity_by_carrier(enforced).set_index(["component", "carrier"])
    joined = cap_enf.join(cap_ref, how="outer", lsuffix="_enf", rsuffix="_ref")
    for (component, carrier), item in joined.iterrows():
        delta = float(np.nan_to_num(item["value_enf"])) - float(np.nan_to_num(item["value_ref"]))
        if abs(delta) > 1e-3:  # below solver tolerance
            unit = item["unit_enf"] if isinstance(item["unit_enf"], str) else item["unit_ref"]
            rows.append(_row("target_change", delta, unit, f"capacity|{component}", carrier))

    def energy(n: pypsa.Network) -> dict[str, float]:
        balance = compute_annual_balance(n, sc)
        topo = compute_topology(n, sc)
        w = n.snapshot_weightings["generators"]
        curtailment = 0.0
        if topo.renewable_generators:
            names = topo.renewable_generators
            available = n.get_switchable_as_dense("Generator", "p_max_pu")[names].mul(
                n.generators.loc[names, "p_nom_opt"], axis=1
            )
            curtailment = float(
                (available - n.generators_t.p[names]).clip(lower=0).mul(w, axis=0).sum().sum()
            )
        return {
            "renewable_generation": float(balance.renewable_generation),
            "curtailment": curtailment,
            "exports": float(balance.exports),
            "electricity_local_consumption": float(balance.electricity),
        }

    before, after = energy(reference), energy(enforced)
    for key in before:
        rows.append(_row("target_change", (after[key] - before[key]) * 1e-6, "TWh", key))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))




