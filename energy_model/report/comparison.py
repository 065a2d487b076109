"""Cross-scenario figures and tables (``results/comparison/``).

The figures of :data:`~energy_model.report.catalog.COMPARISON_FIGURES` compare the saved
metrics of several scenarios: headline renewable share with its range and the targets [%],
system cost [billion CNY/yr], curtailment and exports [TWh/yr], installed power capacity at the
local buses [GW]. Only ``metrics.csv``, the verdicts and small tables of ``network.nc``
(carriers, buses; read alone with xarray) are read, never a whole network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from energy_model.network import local_bus_mask
from energy_model.report.catalog import MissingDataError
from energy_model.report.loading import VERDICT_COLUMNS, load_bus_table, load_carrier_table
from energy_model.report.quantities import headline_share, metric_values, power_rows
from energy_model.report.scenario_results import ScenarioResults, load_scenario_results, scenario_targets
from energy_model.report.series import ABS_TOL, REL_TOL
from energy_model.report.style import (
    SHARE_COLOR,
    carrier_color,
    carrier_order,
    display_name,
    label_bar_ends,
    legend_below,
    load_carrier_styles,
    merge_carrier_styles,
    new_figure,
    themed,
)
from energy_model.report.wording import corridor_label
from energy_model.tables import METRIC_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Columns of ``comparison/metrics.csv``: the metrics table with the scenario in front.
COMPARISON_METRIC_COLUMNS = ["scenario", *METRIC_COLUMNS]
#: Colour of the targets in the share comparison.
TARGET_COLOR = "#c44e52"


# ---------------------------------------------------------------------------------------------
# data of the comparison
# ---------------------------------------------------------------------------------------------


@dataclass
class ComparisonData:
    """What the comparison figures read, loaded once from the scenario result folders."""

    #: The scenarios, in display order.
    scenarios: list[ScenarioResults]
    #: Metrics of all scenarios, columns :data:`COMPARISON_METRIC_COLUMNS`.
    metrics: pd.DataFrame
    #: Carrier display names and colours (first scenario that defines a carrier wins).
    styles: pd.DataFrame
    #: Scenario name -> its local bus ids (scenarios with a ``network.nc`` only).
    local_buses: dict[str, list[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Scenario names in display order."""
        return [r.name for r in self.scenarios]


def local_bus_ids(buses: pd.DataFrame, region: str) -> list[str]:
    """Local buses of a bus table (same rule as :func:`energy_model.network.local_buses`)."""
    return list(buses.index[local_bus_mask(buses, region).to_numpy()])


def comparison_metrics(scenarios: Iterable[ScenarioResults]) -> pd.DataFrame:
    """The metrics of all scenarios in one table with a ``scenario`` column in front."""
    tables = [r.metrics.assign(scenario=r.name) for r in scenarios if not r.metrics.empty]
    if not tables:
        return pd.DataFrame(columns=COMPARISON_METRIC_COLUMNS)
    return pd.concat(tables, ignore_index=True)[COMPARISON_METRIC_COLUMNS]


def comparison_verdicts(scenarios: Iterable[ScenarioResults]) -> pd.DataFrame:
    """The verdicts of all scenarios in one table (``scenario`` column = the scenario name)."""
    tables = [r.verdicts.assign(scenario=r.name) for r in scenarios if not r.verdicts.empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=VERDICT_COLUMNS)


def load_comparison_data(scenario_dirs: Sequence[Path]) -> ComparisonData:
    """Load the metrics, verdicts, carrier styles and local buses of the scenarios to compare."""
    scenarios = [load_scenario_results(Path(d)) for d in scenario_dirs]
    styles = merge_carrier_styles(
        load_carrier_styles(load_carrier_table(r.network_path))
        for r in scenarios
        if r.network_path is not None
    )
    local = {
        r.name: local_bus_ids(load_bus_table(r.network_path), r.region)
        for r in scenarios
        if r.network_path is not None
    }
    return ComparisonData(scenarios, comparison_metrics(scenarios), styles, local)


def write_comparison_tables(folder: Path, data: ComparisonData) -> list[Path]:
    """Write ``metrics.csv`` and ``verdicts.csv`` of all scenarios into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data.metrics.to_csv(folder / "metrics.csv", index=False)
    comparison_verdicts(data.scenarios).to_csv(folder / "verdicts.csv", index=False)
    return [folder / "metrics.csv", folder / "verdicts.csv"]


def headline_shares(data: ComparisonData) -> pd.DataFrame:
    """Headline renewable share of each scenario with its range over the rules [-].

    Index scenario; columns ``headline``, ``low``, ``high`` (and ``rule:<attribution>``), the
    scenario's own valuation and attribution (:func:`~energy_model.report.quantities.headline_share`).
    Scenarios without share rows are left out.
    """
    rows = {}
    for r in data.scenarios:
        share = headline_share(r.metrics, r.accounting)
        if share is not None:
            rows[r.name] = share
    return pd.DataFrame.from_dict(rows, orient="index")


def all_targets(data: ComparisonData) -> pd.DataFrame:
    """Targets of every scenario: ``scenario``, ``target``, ``indicator``, ``target_share`` [-]."""
    if not data.scenarios:
        return pd.DataFrame(columns=["scenario", "target", "target_share"])
    return pd.concat([scenario_targets(r).assign(scenario=r.name) for r in data.scenarios], ignore_index=True)


def system_costs(data: ComparisonData) -> pd.Series:
    """Total system cost per scenario [billion CNY/yr] (scenarios without the metric left out)."""
    metrics = data.metrics
    part = metric_values(metrics[metrics["metric"] == "system_cost"], "system_cost", "billion CNY")
    return part.groupby("scenario", sort=False)["value"].sum().reindex(data.names).dropna()


def curtailment_table(data: ComparisonData) -> pd.DataFrame:
    """Curtailed energy of variable renewables [TWh/yr], scenarios × carrier.

    Generator rows only (when the metrics distinguish components), of carriers that have a
    ``curtailment_rate`` or ``available_energy`` row (the variable renewables).
    """
    metrics = data.metrics
    part = metric_values(metrics[metrics["metric"] == "curtailment"], "curtailment", "TWh")
    if "variant" in part and (part["variant"] == "Generator").any():
        part = part[part["variant"] == "Generator"]
    variable = metrics.loc[metrics["metric"].isin(["curtailment_rate", "available_energy"]), "carrier"]
    if not variable.empty:
        part = part[part["carrier"].isin(set(variable))]
    table = part.pivot_table(index="scenario", columns="carrier", values="value", aggfunc="sum")
    return table.reindex(
        index=[s for s in data.names if s in table.index], columns=carrier_order(table.columns, data.styles)
    )


def export_table(data: ComparisonData) -> pd.DataFrame:
    """Exported energy [TWh/yr], scenarios × corridor (the ``variant`` of the ``export`` rows)."""
    metrics = data.metrics
    part = metric_values(metrics[metrics["metric"] == "export"], "export", "TWh")
    table = part.pivot_table(index="scenario", columns="variant", values="value", aggfunc="sum")
    return table.reindex(index=[s for s in data.names if s in table.index])


def local_power_capacity(data: ComparisonData) -> pd.DataFrame:
    """Installed power capacity at the local buses [GW]: columns ``scenario``, ``carrier``, ``value``.

    Rows of stores (energy capacity) and values below the tolerances are left out; a scenario
    without ``network.nc`` keeps all its rows.

    Raises
    ------
    MissingDataError
        No ``capacity`` row at all.
    """
    metrics = data.metrics
    part = metric_values(metrics[metrics["metric"] == "capacity"], "capacity")
    if part.empty:
        msg = "no capacity rows"
        raise MissingDataError(msg)
    local = data.local_buses
    is_local = np.array(
        [
            scenario not in local or bus == "" or bus in local[scenario]
            for scenario, bus in zip(part["scenario"], part["bus"], strict=True)
        ],
        dtype=bool,
    )
    part = part[is_local]
    part = power_rows(part)
    part = metric_values(part, "capacity", "GW")
    if "variant" in part:
        part = part[part["variant"].astype(str) != "Store"]
    table = part.groupby(["scenario", "carrier"], sort=False)["value"].sum().reset_index()
    if not table.empty:
        table = table[table["value"].abs() * 1e3 > max(ABS_TOL, REL_TOL * table["value"].abs().max() * 1e3)]
    return table


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def _scenario_bar(ax: Axes, names: list[str], values: Iterable[float], label: str) -> None:
    """Horizontal bars, one per scenario, with value labels."""
    values = list(values)
    ax.barh(names, values, color=sns.color_palette("colorblind", 1)[0])
    label_bar_ends(ax, values)
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.margins(x=0.15)


@themed
def plot_comparison_shares(shares: pd.DataFrame, targets: pd.DataFrame) -> Figure:
    """Headline renewable share with attribution bounds per scenario, with targets [%].

    Parameters
    ----------
    shares
        Index scenario; columns ``headline``, ``low``, ``high`` [-].
    targets
        ``scenario``, ``target``, ``target_share`` [-].
    """
    if shares.empty:
        msg = "no scenario with renewable_share rows"
        raise MissingDataError(msg)
    fig = new_figure(7.5, 1.6 + 0.45 * len(shares))
    ax = fig.subplots()
    y = np.arange(len(shares))
    ax.hlines(
        y,
        shares["low"] * 100,
        shares["high"] * 100,
        color=SHARE_COLOR,
        linewidth=7,
        alpha=0.35,
        label="Range over attribution rules",
    )
    ax.scatter(shares["headline"] * 100, y, color=SHARE_COLOR, zorder=3, s=36, label="Headline share")
    first = True
    for yi, scenario in zip(y, shares.index, strict=True):
        for _, target in targets[targets["scenario"] == scenario].iterrows():
            ax.scatter(
                float(target["target_share"]) * 100,
                yi,
                marker="|",
                s=300,
                color=TARGET_COLOR,
                zorder=4,
                label="Target" if first else "_",
            )
            first = False
    ax.set_yticks(y, list(shares.index))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("Renewable share [%]")
    ax.set_xlim(left=0)
    ax.set_title("Renewable share by scenario")
    legend_below(fig, ax, ncol=3)
    return fig


@themed
def plot_comparison_cost(costs: pd.Series) -> Figure:
    """Total system cost per scenario [billion CNY/yr] (``costs`` indexed by scenario)."""
    if costs.empty:
        msg = "no system_cost rows"
        raise MissingDataError(msg)
    fig = new_figure(7.0, 1.4 + 0.4 * len(costs))
    ax = fig.subplots()
    _scenario_bar(ax, list(costs.index), costs.to_numpy(), "System cost [billion CNY/yr]")
    ax.set_title("Annualised system cost")
    return fig


@themed
def plot_comparison_stacked(
    table: pd.DataFrame, label: str, title: str, colors: dict[str, str], names: dict[str, str]
) -> Figure:
    """Stacked horizontal bars: scenarios (index) × parts (columns).

    Parameters
    ----------
    table
        Values in the unit named by ``label``.
    colors, names
        Colour and display name per column.
    """
    table = table.loc[:, (table.abs() > 1e-12).any()] if not table.empty else table
    if table.empty:
        msg = f"nothing to draw for '{title}'"
        raise MissingDataError(msg)
    fig = new_figure(7.5, 1.8 + 0.4 * len(table))
    ax = fig.subplots()
    left = np.zeros(len(table))
    for column in table.columns:
        values = table[column].fillna(0.0).to_numpy()
        ax.barh(
            list(table.index), values, left=left, color=colors.get(column), label=names.get(column, column)
        )
        left += values
    label_bar_ends(ax, left)
    ax.invert_yaxis()
    ax.margins(x=0.15)
    ax.set_xlabel(label)
    ax.set_title(title)
    legend_below(fig, ax, ncol=4)
    return fig


@themed
def plot_comparison_capacity(capacity: pd.DataFrame, styles: pd.DataFrame) -> Figure:
    """Installed power capacity by carrier, scenarios side by side [GW].

    Parameters
    ----------
    capacity
        Columns ``scenario``, ``carrier``, ``value`` [GW].
    """
    if capacity.empty:
        msg = "no capacity rows"
        raise MissingDataError(msg)
    order = carrier_order(capacity["carrier"].unique(), styles)
    data = capacity.assign(name=capacity["carrier"].map(lambda c: display_name(c, styles)))
    scenarios = list(dict.fromkeys(capacity["scenario"]))
    fig = new_figure(8.0, 1.8 + 0.22 * len(order) * max(1, len(scenarios)) ** 0.7)
    ax = fig.subplots()
    sns.barplot(
        data=data,
        y="name",
        x="value",
        hue="scenario",
        order=[display_name(c, styles) for c in order],
        hue_order=scenarios,
        orient="h",
        ax=ax,
        palette="colorblind",
        errorbar=None,
    )
    ax.set_xlabel("Power capacity [GW]")
    ax.set_ylabel("")
    ax.set_title("Installed capacity by carrier")
    legend_below(fig, ax, ncol=3, title="Scenario")
    return fig


def _plot_curtailment(data: ComparisonData) -> Figure:
    """The ``curtailment`` comparison figure."""
    table = curtailment_table(data)
    return plot_comparison_stacked(
        table,
        "Curtailed energy [TWh/yr]",
        "Curtailment of variable renewables",
        {c: carrier_color(c, data.styles) for c in table.columns},
        {c: display_name(c, data.styles) for c in table.columns},
    )


def _plot_exports(data: ComparisonData) -> Figure:
    """The ``exports`` comparison figure (one colour per corridor)."""
    table = export_table(data)
    palette = sns.color_palette("colorblind", max(len(table.columns), 1)).as_hex()
    return plot_comparison_stacked(
        table,
        "Exported energy [TWh/yr]",
        "Exports by corridor",
        dict(zip(table.columns, palette, strict=False)),
        {c: corridor_label(str(c)) for c in table.columns},
    )


def comparison_figure_builders(data: ComparisonData) -> dict[str, Callable[[], Figure]]:
    """Figure name → function drawing that comparison figure from ``data``."""
    return {
        "shares": lambda: plot_comparison_shares(headline_shares(data), all_targets(data)),
        "system_cost": lambda: plot_comparison_cost(system_costs(data)),
        "curtailment": lambda: _plot_curtailment(data),
        "exports": lambda: _plot_exports(data),
        "capacity": lambda: plot_comparison_capacity(local_power_capacity(data), data.styles),
    }


__all__ = [
    "ComparisonData",
    "all_targets",
    "comparison_figure_builders",
    "comparison_metrics",
    "comparison_verdicts",
    "curtailment_table",
    "export_table",
    "headline_shares",
    "load_comparison_data",
    "local_bus_ids",
    "local_power_capacity",
    "plot_comparison_capacity",
    "plot_comparison_cost",
    "plot_comparison_shares",
    "plot_comparison_stacked",
    "system_costs",
    "write_comparison_tables",
]
