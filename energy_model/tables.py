"""The metrics table: its columns, row helpers and the vocabulary of its share variants.

A leaf module (imports only pandas): the metric functions of accounting, heating and the
analysis layer build rows with :func:`row` and :func:`tidy`; the report and the site read the
same vocabulary (attribution rules, valuations, the headline variant) from here, so each is
defined once.

The metrics table (``metrics.csv``) has one row per value, columns ``metric, variant, carrier,
bus, value, unit`` (ids only, never display names). A share ``variant`` is
``<valuation>|<attribution>`` for the final-energy share and ``<attribution>`` for the share of
local electricity consumption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Columns of the tidy metrics table, in order.
METRIC_COLUMNS: list[str] = ["metric", "variant", "carrier", "bus", "value", "unit"]
#: Unit conversion [MWh/TWh].
MWH_PER_TWH = 1e6

#: Annual attribution rules: the annual generation mix (the headline, as an energy balance
#: would count it) and the green-contract rule (green deliveries deducted first, the rest of the
#: exports leave with the mix). Both can be enforced as targets.
ANNUAL_ATTRIBUTIONS: tuple[str, ...] = ("annual_mix", "green_contract")
#: Hourly attribution rules (numbers only): the hourly generation mix, and the two outer bounds.
HOURLY_ATTRIBUTIONS: tuple[str, ...] = ("hourly_mix", "export_first", "local_first")
#: All attribution rules, in the order they are reported.
ATTRIBUTIONS: tuple[str, ...] = (*ANNUAL_ATTRIBUTIONS, *HOURLY_ATTRIBUTIONS)
#: Rules an enforced target can use (linear for a fixed mix ratio).
ENFORCEABLE_ATTRIBUTIONS: tuple[str, ...] = ANNUAL_ATTRIBUTIONS
#: The rules an official could defend; a verdict is robust when it holds under all of them.
DEFENSIBLE_ATTRIBUTIONS: tuple[str, ...] = ("annual_mix", "hourly_mix", "green_contract")
#: Outer bounds of the locally consumed renewable electricity (reported, labelled as bounds).
BOUND_ATTRIBUTIONS: tuple[str, ...] = ("export_first", "local_first")
#: Electricity valuations of the final-energy share.
VALUATIONS: tuple[str, ...] = ("coal_equivalent", "calorific")
#: The valuation of the robust verdict (calorific is a different indicator, shown apart).
DEFENSIBLE_VALUATION = "coal_equivalent"
#: Headline attribution and valuation when a scenario names none (the schema's defaults).
DEFAULT_ATTRIBUTION = ANNUAL_ATTRIBUTIONS[0]
DEFAULT_VALUATION = VALUATIONS[0]
#: Metric of the final-energy share and of the share of local electricity consumption.
SHARE_METRIC = "renewable_share"
ELECTRICITY_SHARE_METRIC = "renewable_share_electricity"


def row(
    metric: str,
    value: float,
    unit: str,
    variant: str = "",
    carrier: str = "",
    bus: str = "",
) -> dict[str, object]:
    """One metrics row as a dict (helper for metric functions)."""
    return {
        "metric": metric,
        "variant": variant,
        "carrier": carrier,
        "bus": bus,
        "value": float(value),
        "unit": unit,
    }


def tidy(series: pd.Series, metric: str, unit: str) -> pd.DataFrame:
    """Turn a ``(component, bus, carrier)`` statistics series into tidy rows."""
    if series.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    frame = series.rename("value").reset_index()
    frame = frame.rename(columns={"component": "variant"})
    for column in ("variant", "bus", "carrier"):
        if column not in frame.columns:
            frame[column] = ""
    frame["metric"] = metric
    frame["unit"] = unit
    return frame[METRIC_COLUMNS]


def share_variant(indicator: str, valuation: str, attribution: str) -> str:
    """The metrics ``variant`` of a share: ``<valuation>|<attribution>`` or ``<attribution>``.

    ``indicator`` is ``final_energy`` (the share of final energy consumption, valued with
    ``valuation``) or ``electricity`` (the share of local electricity consumption, which has
    no valuation).
    """
    if indicator == "electricity":
        return attribution
    return f"{valuation}|{attribution}"


def share_metric(indicator: str) -> str:
    """The metric name of a share indicator (``final_energy`` or ``electricity``)."""
    return ELECTRICITY_SHARE_METRIC if indicator == "electricity" else SHARE_METRIC


def headline_attribution(accounting: Mapping[str, Any] | None) -> str:
    """The headline attribution rule of a scenario's ``accounting`` section (a plain mapping).

    The one place that chooses the headline: the scenario's ``attribution``, else the schema's
    default. Readers of saved results (report, site) pass the ``accounting`` mapping of the
    saved ``scenario.yaml``; the engine passes ``Scenario.accounting.model_dump()``.
    """
    value = (accounting or {}).get("attribution")
    return str(value) if value else DEFAULT_ATTRIBUTION


def headline_valuation(accounting: Mapping[str, Any] | None) -> str:
    """The headline electricity valuation of a scenario's ``accounting`` section."""
    value = (accounting or {}).get("electricity_valuation")
    return str(value) if value else DEFAULT_VALUATION


def parse_share_variant(variant: str) -> tuple[str, str]:
    """Split a share variant ``<valuation…>|<attribution>`` into (group, attribution).

    The last ``|``-separated part is the attribution rule; a single part is the rule when it
    is a known rule (:data:`ATTRIBUTIONS`), else the group.
    """
    parts = [p for p in str(variant).split("|") if p]
    if len(parts) >= 2:
        return "|".join(parts[:-1]), parts[-1]
    if parts and parts[0] in ATTRIBUTIONS:
        return "share", parts[0]
    return (parts[0] if parts else "share"), ""
