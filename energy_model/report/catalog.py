"""The figures of the published bundle: file stem, title and caption of each, in page order.

Pure Python (no pandas, no matplotlib), so the site and any other reader of the bundle can list
the figures without loading the plotting stack. The captions state the units; the ``plot_*``
functions of :mod:`energy_model.report.figures` and :mod:`energy_model.report.comparison` draw
exactly what they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MissingDataError(LookupError):
    """The saved results hold nothing to draw for a figure (e.g. no heat bus)."""


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the bundle: file stem, title and caption (the caption states the units)."""

    name: str
    title: str
    caption: str


#: Per-scenario figures in page order.
SCENARIO_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "capacity",
        "Installed capacity",
        "Optimal installed capacity by carrier at the local buses: power capacity of generators, "
        "links (counted at the bus named in the metrics) and storage units [GW] (top) and energy "
        "capacity of storage units and stores [GWh] (bottom).",
    ),
    FigureSpec(
        "energy_balance",
        "Annual energy balance",
        "Annual energy supplied (positive) and withdrawn (negative) by carrier at the local buses "
        "of the region, one panel per bus carrier [TWh/yr]. Exports appear as withdrawals of the "
        "corridor carrier; loads as withdrawals of the load carrier.",
    ),
    FigureSpec(
        "dispatch_winter",
        "Dispatch, winter week",
        "Hourly power balance of the local electricity buses over the seven days around the "
        "highest local electricity load in December–February [GW]: supply stacked above zero, "
        "consumption (loads, exports, storage charging, heat pumps) below zero.",
    ),
    FigureSpec(
        "dispatch_summer",
        "Dispatch, summer week",
        "Hourly power balance of the local electricity buses over the seven days around the "
        "highest local electricity load in June–August [GW]: supply stacked above zero, "
        "consumption below zero.",
    ),
    FigureSpec(
        "curtailment_heatmap",
        "Wind and solar curtailment",
        "Curtailed power of local variable renewable generators (available minus dispatched) "
        "by day (x) and hour of day (y) [GW], one panel per carrier; white cells are hours "
        "without snapshots.",
    ),
    FigureSpec(
        "state_of_charge",
        "Storage state of charge",
        "Energy stored in storage units and stores over the year, summed by carrier [GWh], one "
        "panel per carrier.",
    ),
    FigureSpec(
        "export_duration",
        "Export flow duration curves",
        "Net flow on each corridor (the links or lines joining a local and an external bus, "
        "both directions summed), measured at the local end and sorted from highest to lowest "
        "[GW] against the number of hours in the year it is reached [h]; positive = export, "
        "negative = import. Dotted lines in the same colour: each corridor's export rating.",
    ),
    FigureSpec(
        "heat",
        "Heat demand, temperature and heat pumps",
        "Left: daily mean heat demand of the local heat buses and daily mean electricity drawn "
        "by electric heating links [GW] against the daily mean outdoor temperature [°C] "
        "(when the temperature was saved with the results). Right: the same daily means over "
        "the year [GW].",
    ),
    FigureSpec(
        "renewable_share",
        "Renewable share against targets",
        "Renewable share of final energy for each valuation of electricity (coal-equivalent, "
        "calorific) and, when computed, of local electricity consumption [%]: dot = headline "
        "attribution rule of the scenario, small marks = the other rules (e.g. local-first, "
        "export-first, NEA annual), bar = range over all rules; dashed lines = the scenario's "
        "targets with their indicator [%].",
    ),
    FigureSpec(
        "price_duration",
        "Price duration curve",
        "Marginal price of electricity at each local electricity bus sorted from highest to "
        "lowest [CNY/MWh] against the number of hours in the year it is reached [h].",
    ),
)

#: Cross-scenario figures in page order (written to ``results/comparison/``).
COMPARISON_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "shares",
        "Renewable share by scenario",
        "Headline renewable share of each scenario [%] (dot) with the range over the "
        "attribution rules (bar), and each scenario's targets [%] (red marks).",
    ),
    FigureSpec(
        "system_cost",
        "System cost",
        "Total annualised system cost (capital plus operating cost) of each scenario [billion CNY/yr].",
    ),
    FigureSpec(
        "curtailment",
        "Curtailment",
        "Annual curtailed energy of variable renewable generators by carrier [TWh/yr].",
    ),
    FigureSpec(
        "exports",
        "Exports",
        "Annual energy exported over each corridor from the region [TWh/yr].",
    ),
    FigureSpec(
        "capacity",
        "Installed capacity",
        "Optimal installed power capacity by carrier at the local buses, scenarios side by side [GW].",
    ),
)


#: Suffix of the note a skipped figure leaves in its folder: why it was not drawn (the site
#: shows it instead of an empty panel).
OMITTED_SUFFIX = ".omitted.txt"


def omitted_reason(folder: Path, name: str) -> str | None:
    """Why figure ``name`` was not drawn into ``folder`` (``None``: drawn, or never rendered)."""
    note = Path(folder) / f"{name}{OMITTED_SUFFIX}"
    return note.read_text(encoding="utf-8").strip() if note.is_file() else None


def scenario_figure_names() -> list[str]:
    """File stems of the per-scenario figures, in page order."""
    return [spec.name for spec in SCENARIO_FIGURES]


def comparison_figure_names() -> list[str]:
    """File stems of the cross-scenario figures, in page order."""
    return [spec.name for spec in COMPARISON_FIGURES]


__all__ = [
    "COMPARISON_FIGURES",
    "SCENARIO_FIGURES",
    "FigureSpec",
    "OMITTED_SUFFIX",
    "MissingDataError",
    "comparison_figure_names",
    "omitted_reason",
    "scenario_figure_names",
]
