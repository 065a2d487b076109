"""Share metrics, verdicts and enforcement changes of a solved network (tidy metric rows)."""

from __future__ import annotations

import logging
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
    compute_annual_balance,
    compute_nea_local_renewable,
    compute_share_terms,
    compute_topology,
)
from energy_model.accounting.inputs import (
    CALORIFIC_KGCE_PER_KWH,
    DATA_CENTRE_CARRIER,
    VERDICT_TOLERANCE_PP,
    FinalEnergyTable,
    compute_electricity_factors,
    load_final_energy_table,
    share_constraint_name,
)
from energy_model.scenario import Scenario, Target
from energy_model.tables import (
    ATTRIBUTIONS,
    HOURLY_ATTRIBUTIONS,
    LP_ATTRIBUTION,
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
    balance = compute_annual_balance(n, sc, model=False)
    flows = compute_hourly_flows(n, sc)
    weights = n.snapshot_weightings["generators"]
    attributions = {rule: compute_attribution(flows, weights, rule) for rule in HOURLY_ATTRIBUTIONS}
    re_local: dict[str, float] = {rule: a.local for rule, a in attributions.items()}
    re_local[LP_ATTRIBUTION] = float(compute_nea_local_renewable(balance))
    unclipped = balance.renewable_generation - balance.exports - balance.network_losses
    if unclipped < 0:
        logger.warning(
            "exports plus network losses exceed local renewable generation by %.3g TWh: the %s "
            "rule attributes no renewable electricity to local use (an enforced target counts "
            "the negative amount and is stricter than the reported share)",
            -unclipped / 1e6,
            LP_ATTRIBUTION,
        )
    return _SolvedAccounts(
        n=n,
        sc=sc,
        factors=compute_electricity_factors(sc, root),
        table=load_final_energy_table(root / sc.accounting.final_energy_table, sc.year),
        balance=balance,
        flows=flows,
        weights=weights,
        attributions=attributions,
        re_local=re_local,
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
        *_shadow_price_rows(accounts, duals),
    ]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


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
        exported = (
            accounts.attributions[rule].exported
            if rule in accounts.attributions
            else min(float(balance.exports), float(balance.renewable_generation))
        )
        rows.append(_row("renewable_electricity_exported", exported * twh, "TWh", rule))
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
    for port in compute_topology(n, accounts.sc).district_heat_ports:
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
            if rule == LP_ATTRIBUTION:
                rows.append(_row("final_energy_total", terms.denominator / 1e6, "Mtce", valuation))
            rows.append(_row("renewable_share", share * 100, "%", variant))
    for rule in ATTRIBUTIONS:
        re_local = accounts.re_local[rule]
        share = _share(re_local, balance.electricity, f"renewable_share_electricity {rule}")
        shares[(share_metric("electricity"), share_variant("electricity", "", rule))] = share
        rows.append(_row("renewable_share_electricity", share * 100, "%", rule))
    return shares, rows


def _data_centre_rows(accounts: _SolvedAccounts) -> list[dict[str, object]]:
    """Data centres' renewable supply share: annual local mix vs hourly matched (headline rule)."""
    n, flows, weights = accounts.n, accounts.flows, accounts.weights
    topo = compute_topology(n, accounts.sc)
    if not topo.data_centre_loads:
        return []
    dc = FlowValues(n, model=False).load(topo.data_centre_loads).sum("name").to_pandas()
    dc_energy = float((dc * weights.reindex(dc.index)).sum())
    if dc_energy <= 0:
        return []
    headline = accounts.sc.accounting.attribution
    hourly = accounts.attributions[headline].hourly_fraction
    matched = float((hourly * dc * weights.reindex(dc.index)).sum()) / dc_energy
    u = flows[["loads", "charge", "losses"]].sum(axis=1)
    annual = float(
        (hourly * u * weights.reindex(u.index)).sum()
        / max(float((u * weights.reindex(u.index)).sum()), 1e-12)
    )
    return [
        _row("data_centre_consumption", dc_energy * 1e-6, "TWh", carrier=DATA_CENTRE_CARRIER),
        _row("data_centre_renewable_share", annual * 100, "%", f"annual|{headline}",
             carrier=DATA_CENTRE_CARRIER),
        _row("data_centre_renewable_share", matched * 100, "%", f"hourly|{headline}",
             carrier=DATA_CENTRE_CARRIER),
    ]


def _verdict_rows(sc: Scenario, shares: dict[tuple[str, str], float]) -> list[dict[str, object]]:
    """Target, achieved (headline) and enforced (``nea_annual``) share, margin and pass per target."""
    rows = []
    for target in sc.targets:
        achieved = shares[headline_share(sc, target)]
        margin = (achieved - target.min_share) * 100
        passed = margin >= -VERDICT_TOLERANCE_PP
        rows.append(_row("target_share", target.min_share * 100, "%", target.name))
        rows.append(_row("target_achieved_share", achieved * 100, "%", target.name))
        rows.append(_row("target_margin", margin, "pp", target.name))
        rows.append(_row("target_pass", 1.0 if passed else 0.0, "bool", target.name))
        if target.enforce:
            enforced_variant = share_variant(
                target.indicator, sc.accounting.electricity_valuation, LP_ATTRIBUTION
            )
            enforced = shares[(share_metric(target.indicator), enforced_variant)]
            rows.append(_row("target_enforced_share", enforced * 100, "%", target.name))
    return rows


def _shadow_price_rows(
    accounts: _SolvedAccounts, duals: dict[str, float] | None
) -> list[dict[str, object]]:
    """Shadow price of each enforced target [CNY/tce or CNY/MWh, and CNY per percentage point]."""
    sc, rows = accounts.sc, []
    for target in sc.targets:
        if not target.enforce or duals is None:
            continue
        name = share_constraint_name(target.name)
        if name not in duals:
            continue
        dual = abs(float(duals[name]))
        if target.indicator == "electricity":
            denominator = accounts.balance.electricity
            rows.append(_row("shadow_price", dual, "CNY/MWh", target.name))
        else:
            terms = accounts.share_terms(LP_ATTRIBUTION, sc.accounting.electricity_valuation)
            denominator = terms.denominator
            rows.append(_row("shadow_price", dual, "CNY/tce", target.name))
        rows.append(_row("shadow_price", dual * denominator * 0.01, "CNY/pp", target.name))
    return rows


VERDICT_COLUMNS = (
    "scenario",
    "target",
    "indicator",
    "variant",
    "enforced",
    "target_share",
    "achieved_share",
    "margin_pp",
    "status",
)


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
        Columns ``scenario, target, indicator, variant, enforced, target_share [-],
        achieved_share [-], margin_pp [percentage points], status`` (``PASS``/``FAIL``).
        ``variant`` names the valuation and attribution of the achieved share (the scenario's
        headline). A target passes when ``margin_pp >= -VERDICT_TOLERANCE_PP``.
    """
    rows = []
    for target in sc.targets:
        metric, variant = headline_share(sc, target)
        hit = metrics[(metrics["metric"] == metric) & (metrics["variant"] == variant)]
        if hit.empty:
            msg = f"metrics have no '{metric}' row for variant '{variant}'"
            raise KeyError(msg)
        achieved = float(hit["value"].iloc[0]) / 100
        wanted = target.min_share
        margin = (achieved - wanted) * 100
        rows.append(
            {
                "scenario": sc.name,
                "target": target.name,
                "indicator": target.indicator,
                "variant": variant,
                "enforced": target.enforce,
                "target_share": wanted,
                "achieved_share": achieved,
                "margin_pp": margin,
                "status": "PASS" if margin >= -VERDICT_TOLERANCE_PP else "FAIL",
            }
        )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))



def format_unreachable_message(sc: Scenario, target: Target, max_share: float) -> str:
    """One-line message for a target the optimisation cannot reach.

    Example: ``scenario 'target-2035': target 'final_energy_2035' (renewable share of final
    energy >= 50.0 %, coal_equivalent valuation, nea_annual attribution) is unreachable; the
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
        f"{valuation}{LP_ATTRIBUTION} attribution) is unreachable; the largest reachable share "
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




