"""Values from the tidy metrics table in the units the report shows.

Unit conversion, the rows of one metric in a target unit and the renewable-share table (headline
and range over the attribution rules). Light (pandas and numpy only): used by the figures, the
comparison and the site. The vocabulary of share variants (attribution rules, valuations, the
headline choice) comes from :mod:`energy_model.tables`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from energy_model.tables import (
    DEFAULT_ATTRIBUTION,
    ELECTRICITY_SHARE_METRIC,
    SHARE_METRIC,
    VALUATIONS,
    headline_attribution,
    headline_valuation,
    parse_share_variant,
)

logger = logging.getLogger(__name__)

#: Group name of the share of local electricity consumption in :func:`share_table`.
ELECTRICITY_GROUP = "electricity"

#: unit -> (dimension, factor to the base unit of that dimension: MW, MWh, CNY or fraction).
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "W": ("power", 1e-6),
    "kW": ("power", 1e-3),
    "MW": ("power", 1.0),
    "GW": ("power", 1e3),
    "Wh": ("energy", 1e-6),
    "kWh": ("energy", 1e-3),
    "MWh": ("energy", 1.0),
    "GWh": ("energy", 1e3),
    "TWh": ("energy", 1e6),
    "CNY": ("money", 1.0),
    "CNY/yr": ("money", 1.0),
    "CNY/a": ("money", 1.0),
    "million CNY": ("money", 1e6),
    "million CNY/yr": ("money", 1e6),
    "billion CNY": ("money", 1e9),
    "billion CNY/yr": ("money", 1e9),
    "-": ("fraction", 1.0),
    "%": ("fraction", 0.01),
}


def convert(values: pd.Series | float, unit: str, target: str) -> pd.Series | float:
    """Convert values from ``unit`` to ``target`` (power, energy, money or share units).

    Raises
    ------
    ValueError
        Unknown unit or different dimensions (e.g. MW to TWh).
    """
    unit = unit.strip()
    if unit == target:
        return values
    if unit not in UNIT_FACTORS or target not in UNIT_FACTORS:
        msg = f"cannot convert unit '{unit}' to '{target}'"
        raise ValueError(msg)
    dim_from, factor_from = UNIT_FACTORS[unit]
    dim_to, factor_to = UNIT_FACTORS[target]
    if dim_from != dim_to:
        msg = f"cannot convert unit '{unit}' to '{target}'"
        raise ValueError(msg)
    return values * (factor_from / factor_to)


def metric_values(metrics: pd.DataFrame, metric: str, target_unit: str | None = None) -> pd.DataFrame:
    """Rows of one metric, values converted row by row to ``target_unit`` (if given).

    Rows whose unit cannot be converted are dropped with a logged note.
    """
    rows = metrics[metrics["metric"] == metric].copy()
    if target_unit is None or rows.empty:
        return rows
    keep = []
    for index, row in rows.iterrows():
        try:
            rows.at[index, "value"] = convert(float(row["value"]), str(row["unit"]), target_unit)
            keep.append(index)
        except ValueError:
            logger.info(
                "metric '%s': unit '%s' is not convertible to %s; row skipped",
                metric,
                row["unit"],
                target_unit,
            )
    rows = rows.loc[keep]
    rows["unit"] = target_unit
    return rows


def power_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``unit`` is a power unit (MW, GW …)."""
    mask = np.array([UNIT_FACTORS.get(str(u), ("", 0.0))[0] == "power" for u in rows["unit"]], dtype=bool)
    return rows[mask]


def share_table(metrics: pd.DataFrame, headline: str = DEFAULT_ATTRIBUTION) -> pd.DataFrame:
    """Renewable share per group: headline value and bounds over attribution rules [-].

    Groups are the valuations of the final-energy share (``renewable_share`` rows, variant
    ``<valuation>|<attribution>``, e.g. ``coal_equivalent``) and, when present, the share of
    local electricity consumption (``renewable_share_electricity`` rows, variant
    ``<attribution>``) as group :data:`ELECTRICITY_GROUP`. Rules are parsed with
    :func:`energy_model.tables.parse_share_variant`.

    Returns
    -------
    pandas.DataFrame
        Index group, columns ``headline``, ``low``, ``high`` and ``rule:<attribution>`` for
        each rule (fractions, -). Empty when the metrics hold no share rows.
    """
    rows = metric_values(metrics, SHARE_METRIC, "-")
    electricity = metric_values(metrics, ELECTRICITY_SHARE_METRIC, "-")
    if rows.empty and electricity.empty:
        return pd.DataFrame(columns=["headline", "low", "high"])
    parsed = rows["variant"].map(parse_share_variant)
    rows = rows.assign(group=parsed.map(lambda p: p[0]), attribution=parsed.map(lambda p: p[1]))
    if not electricity.empty:
        # the variant of this metric is the rule itself, also one the vocabulary does not know
        # (e.g. in results saved before a rule was renamed)
        rules = electricity["variant"].map(lambda v: parse_share_variant(v)[1] or str(v))
        electricity = electricity.assign(group=ELECTRICITY_GROUP, attribution=rules)
        rows = pd.concat([rows, electricity], ignore_index=True)
    out = {}
    for group, part in rows.groupby("group", sort=False):
        by_rule = part.set_index("attribution")["value"]
        if headline in by_rule.index:
            value = float(by_rule[headline])
        elif "" in by_rule.index:
            value = float(by_rule[""])
        else:
            value = float(by_rule.iloc[0])
        out[group] = {
            "headline": value,
            "low": float(by_rule.min()),
            "high": float(by_rule.max()),
            **{f"rule:{rule}": float(v) for rule, v in by_rule.items() if rule},
        }
    table = pd.DataFrame.from_dict(out, orient="index")
    order = sorted(
        table.index,
        key=lambda g: (
            g == ELECTRICITY_GROUP,
            VALUATIONS.index(g) if g in VALUATIONS else len(VALUATIONS),
            g,
        ),
    )
    return table.loc[order]


def headline_share(metrics: pd.DataFrame, accounting: Mapping[str, Any] | None) -> pd.Series | None:
    """The headline row of :func:`share_table` for a scenario's ``accounting`` section [-].

    The scenario's headline attribution rule, and the group of its electricity valuation
    (the first group when no group names it). ``None`` when the metrics hold no share rows.
    """
    shares = share_table(metrics, headline_attribution(accounting))
    if shares.empty:
        return None
    valuation = headline_valuation(accounting)
    match = [g for g in shares.index if valuation in str(g).split("|")]
    return shares.loc[match[0] if match else shares.index[0]]


__all__ = [
    "ELECTRICITY_GROUP",
    "UNIT_FACTORS",
    "convert",
    "headline_share",
    "metric_values",
    "power_rows",
    "share_table",
]
