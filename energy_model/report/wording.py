"""Plain words for the site: names of indicators and accounting rules, verdict sentences, costs.

Pure Python and pandas (no plotting): the site's first screen reads ``verdict.csv`` and
``metrics.csv`` and says, per target, in one sentence, what the share is, against which target,
by how much it passes or fails and under which accounting rule the answer changes. The ids of the
metrics table (``coal_equivalent|annual_mix``, ``final_energy_2022``) stay in the CSV files; the
page shows the names defined here and links to ``docs/accounting.md`` and ``docs/glossary.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energy_model.tables import (
    DEFAULT_VALUATION,
    DEFENSIBLE_VALUATION,
    ELECTRICITY_SHARE_METRIC,
    SHARE_METRIC,
)

#: What a target's indicator measures, in words.
INDICATOR_NAMES: dict[str, str] = {
    "final_energy": "final energy",
    "electricity": "local electricity consumption",
}

#: Attribution rules: how renewable electricity is split between local use and exports.
RULE_NAMES: dict[str, str] = {
    "annual_mix": "annual generation mix",
    "green_contract": "green contracts counted first",
    "hourly_mix": "hourly generation mix",
    "export_first": "exports take renewables first (lower bound)",
    "local_first": "local use takes renewables first (upper bound)",
}

#: The same rules as the condition of a sentence ("fails if ...").
RULE_CONDITIONS: dict[str, str] = {
    "annual_mix": "the year's generation mix is used",
    "green_contract": "green contracts are counted first",
    "hourly_mix": "renewables are attributed hour by hour",
    "export_first": "exports take renewables first",
    "local_first": "local use takes renewables first",
}

#: Valuations of electricity in the final-energy share.
VALUATION_NAMES: dict[str, str] = {
    "coal_equivalent": "electricity valued coal-equivalent",
    "calorific": "electricity valued by its energy content",
}

#: Documentation pages the site copies into ``results/docs/`` and links from its first screen.
DOC_PAGES: dict[str, str] = {
    "accounting.md": "how the share is counted",
    "glossary.md": "glossary",
    "topology.png": "network map",
}

_NUMBER_UNIT = re.compile(r"(\d) (%|pp)")
_DETAIL = re.compile(r"(?P<status>[A-Z]+) under (?P<rule>[a-z_]+) \((?P<margin>[-+0-9.]+) pp\)")


#: First words of a corridor id that name its technology, not a place (``ac500_guyuan_taiping``).
CORRIDOR_PREFIXES = ("ac", "dc", "hvdc", "uhv", "vsc", "line", "link")
#: Last words of a corridor id that name its technology or direction (``zjk_beijing_hvdc``).
CORRIDOR_SUFFIXES = ("ac", "dc", "hvdc", "uhv", "vsc", "line", "link", "import", "export")


def corridor_label(name: str, carrier_name: str = "") -> str:
    """A readable corridor name from its id: ``ac500_guyuan_taiping`` → ``Guyuan – Taiping``,
    with the carrier's display name in brackets."""
    words = [w for w in str(name).split("_") if w]
    if words and (words[0] in CORRIDOR_PREFIXES or any(ch.isdigit() for ch in words[0])):
        words = words[1:]
    while len(words) > 1 and words[-1] in CORRIDOR_SUFFIXES:
        words = words[:-1]
    places = " – ".join(w.capitalize() for w in words) or str(name)
    return f"{places} ({carrier_name})" if carrier_name else places


def rule_name(rule: str) -> str:
    """Human name of an attribution rule (the id itself when unknown)."""
    return RULE_NAMES.get(rule, rule.replace("_", " "))


def variant_name(variant: str) -> str:
    """Human name of a share variant ``<valuation>|<attribution>`` or ``<attribution>``."""
    if "|" in variant:
        valuation, rule = variant.split("|", 1)
        return f"{rule_name(rule)}, {VALUATION_NAMES.get(valuation, valuation.replace('_', ' '))}"
    return rule_name(variant)


def indicator_name(indicator: str) -> str:
    """Human name of a target's indicator."""
    return INDICATOR_NAMES.get(indicator, indicator.replace("_", " "))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def target_name(verdict: Mapping[str, Any], year: Any = None) -> str:
    """A target in words, e.g. ``2022 goal: 30 % of final energy`` or ``2018 statistics
    (calibration): 23 % of final energy``."""
    share = 100 * _number(verdict.get("target_share"))
    what = indicator_name(str(verdict.get("indicator", "")))
    when = f"{year} " if year not in (None, "", "–") else ""
    if str(verdict.get("kind", "goal")) == "calibration":
        return f"{when}statistics (calibration): {share:.0f} % of {what}"
    return f"{when}goal: {share:.0f} % of {what}"


def failing_rules(detail: Any) -> list[tuple[str, str, float]]:
    """``(status, rule, margin_pp)`` of each rule named in a verdict's ``robust_detail``."""
    if not isinstance(detail, str):
        return []
    return [(m["status"], m["rule"], float(m["margin"])) for m in _DETAIL.finditer(detail)]


def rule_share(metrics: pd.DataFrame | None, indicator: str, rule: str) -> float | None:
    """Share [%] of ``indicator`` under attribution ``rule`` (coal-equivalent valuation)."""
    if metrics is None or metrics.empty:
        return None
    if indicator == "electricity":
        metric, variant = ELECTRICITY_SHARE_METRIC, rule
    else:
        metric, variant = SHARE_METRIC, f"{DEFENSIBLE_VALUATION}|{rule}"
    hit = metrics[(metrics["metric"] == metric) & (metrics["variant"] == variant)]
    return None if hit.empty else float(hit["value"].iloc[0])


def _keep_units(text: str) -> str:
    """A no-break space between a number and its unit (``30.4 %`` never breaks across lines)."""
    return _NUMBER_UNIT.sub("\\1\u00a0\\2", text)


def verdict_sentence(verdict: Mapping[str, Any], metrics: pd.DataFrame | None = None) -> str:
    """One plain sentence per target, from a row of ``verdict.csv`` (and the scenario's metrics).

    Goal: ``plan-2022 reaches 30.4 % of final energy from renewables against a 30 % target:
    PASS by 0.4 pp; fails if green contracts are counted first (21.8 %).`` Calibration year:
    ``baseline-2018 (calibration year) gives 26.9 % of final energy from renewables against the
    23 % reported: OFF by 3.9 pp (the model is not checked against a goal here).``
    """
    scenario = str(verdict.get("scenario", ""))
    indicator = str(verdict.get("indicator", ""))
    what = indicator_name(indicator)
    achieved = 100 * _number(verdict.get("achieved_share"))
    target = 100 * _number(verdict.get("target_share"))
    margin = _number(verdict.get("margin_pp"))
    status = str(verdict.get("status", "")).upper()
    robust = str(verdict.get("robust_status", "") or "")
    others = failing_rules(verdict.get("robust_detail"))
    if str(verdict.get("kind", "goal")) == "calibration":
        text = (
            f"{scenario} (calibration year) gives {achieved:.1f} % of {what} from renewables "
            f"against the {target:.0f} % reported: {status}"
        )
        text += f" by {abs(margin):.1f} pp" if status == "OFF" else f" ({margin:+.1f} pp)"
        return _keep_units(text + " — a check of the model against statistics, not a goal.")
    text = (
        f"{scenario} reaches {achieved:.1f} % of {what} from renewables against a {target:.0f} % "
        f"target: {status} by {abs(margin):.1f} pp"
    )
    if others:
        verb = "fails" if status == "PASS" else "passes"
        clauses = []
        for _, rule, _margin in others:
            share = rule_share(metrics, indicator, rule)
            value = f" ({share:.1f} %)" if share is not None else ""
            clauses.append(f"{RULE_CONDITIONS.get(rule, rule_name(rule))}{value}")
        text += f"; {verb} if " + " or if ".join(clauses)
    elif robust.startswith(("PASS", "FAIL")):
        text += "; the same under every defensible accounting rule"
    return _keep_units(text + ".")


@dataclass(frozen=True)
class CostLine:
    """One line of the cost breakdown [billion CNY/yr]."""

    label: str
    value_bn: float
    note: str


def cost_breakdown(metrics: pd.DataFrame, objective_cny: float | None = None) -> list[CostLine]:
    """Capital, operating, export revenue and net system cost [billion CNY/yr] from the metrics.

    Sign convention: costs are positive; export revenue is shown as a positive amount and
    subtracted: net = capital + operating − export revenue (the metric ``system_cost``).
    Export revenue is the negative operating cost of the rows priced below zero (the sales to the
    receiving markets). The solver's objective is added for reference: it leaves out the capital
    cost of capacity the scenario fixes (a constant the optimisation cannot change).
    """
    capex = metrics.loc[metrics["metric"] == "capex", "value"].astype(float)
    opex = metrics.loc[metrics["metric"] == "opex", "value"].astype(float)
    if capex.empty and opex.empty:
        return []
    capital = float(capex.sum()) / 1e9
    operating = float(opex[opex >= 0].sum()) / 1e9
    revenue = -float(opex[opex < 0].sum()) / 1e9
    lines = [
        CostLine("Capital cost", capital, "annualised investment in all capacity, built or fixed"),
        CostLine("Operating cost", operating, "fuel and variable operation and maintenance"),
        CostLine("Export revenue", revenue, "sales over the export corridors; subtracted"),
        CostLine(
            "Net system cost", capital + operating - revenue,
            "capital + operating − export revenue; negative means revenue exceeds cost",
        ),
    ]
    if objective_cny is not None:
        lines.append(
            CostLine(
                "Optimisation objective", objective_cny / 1e9,
                "net system cost without the capital cost of capacity the scenario fixes",
            )
        )
    return lines


def headline_rule_text(accounting: Mapping[str, Any] | None) -> str:
    """The headline accounting of a scenario in words (``annual generation mix, electricity
    valued coal-equivalent``)."""
    accounting = accounting or {}
    rule = str(accounting.get("attribution") or "annual_mix")
    valuation = str(accounting.get("electricity_valuation") or DEFAULT_VALUATION)
    return f"{rule_name(rule)}, {VALUATION_NAMES.get(valuation, valuation)}"


__all__ = [
    "DOC_PAGES",
    "INDICATOR_NAMES",
    "RULE_NAMES",
    "VALUATION_NAMES",
    "CostLine",
    "corridor_label",
    "cost_breakdown",
    "failing_rules",
    "headline_rule_text",
    "indicator_name",
    "rule_name",
    "rule_share",
    "target_name",
    "variant_name",
    "verdict_sentence",
]
