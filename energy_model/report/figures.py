"""Per-scenario figures: one ``plot_*`` function per figure of :data:`SCENARIO_FIGURES`.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot (Agg
canvas, no global figure registry) inside the report theme (:func:`~energy_model.report.style.themed`).
Units are fixed per quantity (power GW, storage energy GWh, annual energy TWh, price CNY/MWh) so
figures of different scenarios compare directly; the captions in
:data:`~energy_model.report.catalog.SCENARIO_FIGURES` state them.

A figure whose data is absent (no heat bus, no storage, no export corridor …) raises
:class:`~energy_model.report.catalog.MissingDataError`; the renderer skips it with a logged note.
:func:`scenario_figure_builders` ties each figure name to its function and the data of a result
folder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import DateFormatter
from matplotlib.ticker import FuncFormatter, PercentFormatter

from energy_model.network import (
    HEAT_BUS_CARRIER,
    border_corridors,
    corridor_flows,
    heat_buses,
    local_buses,
)
from energy_model.report.catalog import MissingDataError
from energy_model.report.quantities import ELECTRICITY_GROUP, metric_values, power_rows, share_table
from energy_model.report.scenario_results import scenario_targets
from energy_model.report.series import (
    ABS_TOL,
    ELECTRIC_BUS_CARRIERS,
    LOAD_PREFIX,
    break_gaps,
    bus_power_balance,
    corridor_carrier,
    duration_curve,
    electric_buses,
    electric_heating_links,
    expand_to_hours,
    select_week,
    significant,
    snapshot_hours,
    storage_energy_capacity,
    thin,
)
from energy_model.report.style import (
    HEAT_MARKERS,
    LINESTYLES,
    RULE_MARKERS,
    SHARE_COLOR,
    carrier_color,
    carrier_order,
    display_name,
    label_bar_ends,
    legend_below,
    load_carrier_styles,
    new_figure,
    themed,
    thousands,
)
from energy_model.report.wording import corridor_label, indicator_name, rule_name
from energy_model.tables import DEFAULT_ATTRIBUTION, headline_attribution

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import pypsa
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from energy_model.report.scenario_results import ScenarioResults

logger = logging.getLogger(__name__)

#: Column of the heat demand in :func:`daily_heat_power` (the other columns are carriers).
HEAT_DEMAND_COLUMN = "__heat_demand__"
#: Colour of the heat demand when the network's carriers define no ``heat`` colour.
HEAT_DEMAND_COLOR = "#b22222"


# ---------------------------------------------------------------------------------------------
# capacity and annual energy (from metrics.csv)
# ---------------------------------------------------------------------------------------------


@themed
def plot_capacity(
    metrics: pd.DataFrame,
    styles: pd.DataFrame,
    storage_energy: pd.Series | None = None,
    local: Iterable[str] | None = None,
) -> Figure:
    """Installed power capacity by carrier [GW] and storage energy capacity [GWh].

    Parameters
    ----------
    metrics
        Tidy metrics; rows ``capacity`` in power units are used, except rows of stores
        (``variant == "Store"``, whose capacity is energy).
    styles
        Carrier display names and colours (:func:`~energy_model.report.style.load_carrier_styles`).
    storage_energy
        Energy capacity by carrier [MWh]
        (:func:`~energy_model.report.series.storage_energy_capacity`), optional.
    local
        Keep only rows whose ``bus`` is one of these (the local buses; a link counts at the bus
        the metrics name); all rows when ``None``.
    """
    rows = metric_values(metrics, "capacity")
    rows = power_rows(rows)
    if local is not None and "bus" in rows:
        rows = rows[rows["bus"].isin(set(local)) | (rows["bus"] == "")]
    rows = metric_values(rows, "capacity", "MW")
    if "variant" in rows:
        rows = rows[rows["variant"].astype(str) != "Store"]
    power = significant(rows.groupby("carrier")["value"].sum()) / 1e3
    energy = storage_energy if storage_energy is not None else pd.Series(dtype=float)
    energy = significant(energy) / 1e3
    if power.empty and energy.empty:
        msg = "no capacity rows in the metrics"
        raise MissingDataError(msg)
    panels = [(power, "Power capacity [GW]")] if not power.empty else []
    if not energy.empty:
        panels.append((energy, "Storage energy capacity [GWh]"))
    heights = [len(values) + 1.5 for values, _ in panels]
    fig = new_figure(7.5, 0.8 + 0.28 * sum(heights))
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (values, label) in zip(axes, panels, strict=True):
        order = carrier_order(values.index, styles)
        names = [display_name(c, styles) for c in order]
        ax.barh(names, values.reindex(order).to_numpy(), color=[carrier_color(c, styles) for c in order])
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_ylabel("")
        label_bar_ends(ax, values.reindex(order).to_numpy())
        ax.margins(x=0.12)
    fig.suptitle(
        "Installed capacity by carrier (local buses)"
        if local is not None
        else "Installed capacity by carrier"
    )
    return fig


def energy_balance_rows(
    metrics: pd.DataFrame, bus_carriers: pd.Series | None, local: Iterable[str] | None
) -> pd.DataFrame:
    """Supply (> 0) and withdrawal (< 0) rows [TWh] with the ``panel`` (bus carrier) of each.

    Withdrawals of loads (``variant == "Load"``) are keyed ``load:<carrier>``; only rows at
    ``local`` buses (or without a bus) are kept when ``local`` is given.

    Raises
    ------
    MissingDataError
        No supply or withdrawal row is left.
    """
    supply = metric_values(metrics, "supply", "TWh")
    withdrawal = metric_values(metrics, "withdrawal", "TWh")
    withdrawal = withdrawal.assign(value=-withdrawal["value"].abs())
    if "variant" in withdrawal:
        is_load = withdrawal["variant"].astype(str) == "Load"
        withdrawal.loc[is_load, "carrier"] = LOAD_PREFIX + withdrawal.loc[is_load, "carrier"].astype(str)
    rows = pd.concat([supply, withdrawal], ignore_index=True)
    if local is not None and "bus" in rows:
        local = set(local)
        rows = rows[rows["bus"].isin(local) | (rows["bus"] == "")]
    if rows.empty:
        msg = "no supply/withdrawal rows in the metrics"
        raise MissingDataError(msg)
    if bus_carriers is not None:
        return rows.assign(panel=rows["bus"].map(bus_carriers).fillna("").astype(str))
    return rows.assign(panel="")


def energy_balance_panels(rows: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per panel (electricity first), supply and withdrawal by carrier above the tolerances [TWh].

    Raises
    ------
    MissingDataError
        Nothing is above the tolerances.
    """
    panels = sorted(rows["panel"].unique(), key=lambda p: (p not in ELECTRIC_BUS_CARRIERS, p))
    contents = {}
    for panel in panels:
        part = rows[rows["panel"] == panel]
        scale = float(part["value"].abs().max()) if not part.empty else 0.0
        positive = part[part["value"] > 0].groupby("carrier")["value"].sum()
        negative = part[part["value"] < 0].groupby("carrier")["value"].sum()
        # TWh -> MWh for the absolute tolerance
        positive = significant(positive * 1e6, scale * 1e6) / 1e6
        negative = significant(negative * 1e6, scale * 1e6) / 1e6
        if not positive.empty or not negative.empty:
            contents[panel] = (positive, negative)
    if not contents:
        msg = "no supply/withdrawal above the tolerance"
        raise MissingDataError(msg)
    return contents


@themed
def plot_energy_balance(
    metrics: pd.DataFrame,
    styles: pd.DataFrame,
    bus_carriers: pd.Series | None = None,
    local: Iterable[str] | None = None,
) -> Figure:
    """Annual supply (+) and withdrawal (−) by carrier [TWh/yr], one panel per bus carrier.

    Parameters
    ----------
    metrics
        Tidy metrics; rows ``supply`` and ``withdrawal`` (energy, any of MWh/GWh/TWh).
    styles
        Carrier display names and colours.
    bus_carriers
        Bus id → bus carrier (``n.buses.carrier``) to split the balance into panels; without it
        all rows form one panel.
    local
        Bus ids to keep (the local buses); all buses when ``None``.
    """
    contents = energy_balance_panels(energy_balance_rows(metrics, bus_carriers, local))
    heights = [len(set(p.index) | set(m.index)) + 1.5 for p, m in contents.values()]
    fig = new_figure(7.5, 1.0 + 0.28 * sum(heights))
    axes = fig.subplots(len(contents), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (panel, (positive, negative)) in zip(axes, contents.items(), strict=True):
        order = carrier_order(list(positive.index) + list(negative.index), styles)
        names = [display_name(c, styles) for c in order]
        colors = [carrier_color(c, styles) for c in order]
        ax.barh(names, positive.reindex(order).fillna(0.0).to_numpy(), color=colors)
        ax.barh(
            names,
            negative.reindex(order).fillna(0.0).to_numpy(),
            color=colors,
            hatch="//",
            edgecolor="white",
            linewidth=0,
        )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_title(f"Local buses: {display_name(panel, styles)}" if panel else "All buses")
        ax.set_xlabel("")
    fig.supxlabel("Energy [TWh/yr]; supply > 0, withdrawal < 0 (hatched)")
    fig.suptitle("Annual energy balance by carrier")
    return fig


# ---------------------------------------------------------------------------------------------
# hourly operation (from network.nc)
# ---------------------------------------------------------------------------------------------


@themed
def plot_dispatch(
    n: pypsa.Network, snapshots: pd.Index, buses: pd.Index, styles: pd.DataFrame, title: str = ""
) -> Figure:
    """Hourly power balance of a set of buses as stacked areas [GW].

    Supply is stacked above zero and consumption below zero, each carrier in its colour; the
    black line is the net (should be ~0 for a whole bus set).

    Parameters
    ----------
    n
        Solved network.
    snapshots
        Snapshots to show (e.g. :func:`~energy_model.report.series.select_week`).
    buses
        Buses whose balance is drawn (the local electricity buses).
    styles
        Carrier display names and colours.
    title
        Figure title.
    """
    if len(buses) == 0:
        msg = "no local electricity bus"
        raise MissingDataError(msg)
    if len(snapshots) == 0:
        msg = "no snapshots selected"
        raise MissingDataError(msg)
    balance = bus_power_balance(n, buses).loc[snapshots] / 1e3
    if balance.empty:
        msg = "no flows at the local electricity buses"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    order = carrier_order(balance.columns, styles)
    positive = break_gaps(balance[order].clip(lower=0), hours, steps=True)
    negative = break_gaps(balance[order].clip(upper=0), hours, steps=True)
    times = positive.index
    fig = new_figure(8.0, 4.8)
    ax = fig.subplots()
    pos_cols = [c for c in order if (balance[c] > 1e-9).any()]
    neg_cols = [c for c in order if (balance[c] < -1e-9).any()]
    for cols, frame, labelled in ((pos_cols, positive, True), (neg_cols, negative, False)):
        if not cols:
            continue
        ax.stackplot(
            times,
            *[frame[c].to_numpy() for c in cols],
            colors=[carrier_color(c, styles) for c in cols],
            labels=[display_name(c, styles) if labelled or c not in pos_cols else "_" for c in cols],
            step="post",
            linewidth=0,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("Power [GW] (supply > 0, consumption < 0)")
    ax.set_xlabel("Time")
    ax.xaxis.set_major_formatter(DateFormatter("%d %b\n%H:%M"))
    ax.margins(x=0)
    if title:
        ax.set_title(title)
    legend_below(fig, ax, ncol=5)
    return fig


def _heatmap(ax: Axes, grid: pd.DataFrame, vmax: float, label: str) -> None:
    """Draw ``grid`` (rows bottom to top, columns left to right) as cells with a colour bar.

    The look of ``seaborn.heatmap(grid, cmap="rocket_r", vmin=0, rasterized=True)`` (no
    spines, empty cells for NaN, colour bar without outline) without its extra draw of the
    whole figure, which seaborn does to choose tick labels and which dominated this figure's
    time on a full year. The caller sets the ticks.
    """
    values = grid.to_numpy(dtype=float)
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values),
        cmap="rocket_r",
        vmin=0,
        vmax=vmax,
        linewidths=0,
        edgecolor="white",
        rasterized=True,
    )
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set(xlim=(0, values.shape[1]), ylim=(0, values.shape[0]))
    colorbar = ax.figure.colorbar(mesh, ax=ax, label=label)
    colorbar.outline.set_linewidth(0)
    if colorbar.solids is not None:
        colorbar.solids.set_rasterized(True)


def hourly_curtailment(n: pypsa.Network, buses: pd.Index) -> pd.DataFrame:
    """Curtailed power of variable renewables at ``buses`` by carrier, hour by hour [GW].

    Curtailment of generator g at snapshot t is ``p_nom_opt[g] · p_max_pu[t, g] − p[t, g]``
    (clipped at 0) for generators with a time-varying ``p_max_pu``; resampled or segmented
    snapshots are spread over the hours they represent.

    Raises
    ------
    MissingDataError
        No such generator at ``buses``.
    """
    gens = n.generators.index[n.generators.bus.isin(buses)]
    variable = gens[gens.isin(n.generators_t.p_max_pu.columns)]
    if len(variable) == 0:
        msg = "no local generator with a time-varying availability"
        raise MissingDataError(msg)
    available = n.generators_t.p_max_pu[variable] * n.generators.p_nom_opt[variable]
    dispatched = n.generators_t.p.reindex(columns=variable, fill_value=0.0)
    curtailed = available - dispatched
    curtailed = curtailed.where(curtailed > ABS_TOL, 0.0) / 1e3  # MW -> GW, solver noise -> 0
    by_carrier = curtailed.T.groupby(n.generators.carrier[variable].astype(str).to_numpy()).sum().T
    return expand_to_hours(by_carrier, snapshot_hours(n))


@themed
def plot_curtailment_heatmap(n: pypsa.Network, buses: pd.Index, styles: pd.DataFrame) -> Figure:
    """Curtailment of variable renewables by day and hour of day [GW], one panel per carrier.

    See :func:`hourly_curtailment` for the definition.
    """
    hourly = hourly_curtailment(n, buses)
    curtailed = [c for c in hourly.columns if float(hourly[c].max()) > ABS_TOL / 1e3]
    if not curtailed:
        msg = "no wind or solar output was curtailed in this scenario (every panel would be empty)"
        raise MissingDataError(msg)
    skipped = sorted(set(hourly.columns) - set(curtailed))
    if skipped:
        logger.info("curtailment heatmap: no curtailment of %s, panel left out", ", ".join(skipped))
    hourly = hourly[curtailed]
    order = carrier_order(hourly.columns, styles)
    vmax = max(float(hourly.to_numpy().max()), 1e-3)
    fig = new_figure(8.0, 1.0 + 2.3 * len(order))
    axes = fig.subplots(len(order), 1, squeeze=False, sharex=True)[:, 0]
    for ax, carrier in zip(axes, order, strict=True):
        series = hourly[carrier]
        table = pd.DataFrame(
            {"day": series.index.normalize(), "hour": series.index.hour, "v": series.to_numpy()}
        )
        grid = table.pivot_table(index="hour", columns="day", values="v", aggfunc="mean")
        grid = grid.reindex(range(24))
        _heatmap(ax, grid, vmax, "Curtailment [GW]")
        ax.set_ylabel("Hour of day")
        ax.set_yticks([0.5, 6.5, 12.5, 18.5], ["0", "6", "12", "18"], rotation="vertical", va="center")
        ax.set_title(display_name(carrier, styles))
        days = list(grid.columns)
        step = max(1, len(days) // 12)
        ticks = list(range(0, len(days), step))
        ax.set_xticks(
            [t + 0.5 for t in ticks], [pd.Timestamp(days[t]).strftime("%d %b") for t in ticks], rotation=0
        )
        ax.set_xlabel("")
    axes[-1].set_xlabel("Day")
    title = "Curtailment of local wind and solar"
    if skipped:
        title += " (no curtailment: " + ", ".join(display_name(c, styles) for c in skipped) + ")"
    fig.suptitle(title)
    return fig


def storage_levels(n: pypsa.Network) -> pd.DataFrame:
    """Energy stored by storage carrier [MWh], snapshots × carrier, of storage ever charged.

    Storage units (``state_of_charge``) and stores (``e``) are summed by carrier; a carrier
    whose level never exceeds :data:`~energy_model.report.series.ABS_TOL` and 10⁻⁴ of its
    energy capacity is left out with a logged note.

    Raises
    ------
    MissingDataError
        No storage unit or store, or none is ever charged.
    """
    parts = []
    if not n.storage_units.empty and not n.storage_units_t.state_of_charge.empty:
        soc = n.storage_units_t.state_of_charge
        parts.append(
            soc.T.groupby(n.storage_units.carrier.reindex(soc.columns).astype(str).to_numpy()).sum().T
        )
    if not n.stores.empty and not n.stores_t.e.empty:
        e = n.stores_t.e
        parts.append(e.T.groupby(n.stores.carrier.reindex(e.columns).astype(str).to_numpy()).sum().T)
    if not parts:
        msg = "no storage unit or store"
        raise MissingDataError(msg)
    levels = pd.concat(parts, axis=1).T.groupby(level=0).sum().T
    capacity = storage_energy_capacity(n).reindex(levels.columns).fillna(0.0)
    used = [c for c in levels.columns if levels[c].abs().max() > max(ABS_TOL, 1e-4 * capacity[c])]
    unused = sorted(set(levels.columns) - set(used))
    if unused:
        logger.info("state of charge: never charged, not drawn: %s", ", ".join(unused))
    if not used:
        msg = "no storage is ever charged"
        raise MissingDataError(msg)
    return levels[used]


@themed
def plot_state_of_charge(n: pypsa.Network, styles: pd.DataFrame) -> Figure:
    """Stored energy over the year by storage carrier [GWh], one panel per carrier."""
    levels = storage_levels(n) / 1e3
    order = carrier_order(levels.columns, styles)
    levels = break_gaps(levels[order], snapshot_hours(n))
    fig = new_figure(8.0, 0.8 + 1.9 * len(order))
    axes = fig.subplots(len(order), 1, squeeze=False, sharex=True)[:, 0]
    for ax, carrier in zip(axes, order, strict=True):
        color = carrier_color(carrier, styles)
        ax.plot(levels.index, levels[carrier], color=color, linewidth=0.8)
        ax.fill_between(
            levels.index,
            0,
            levels[carrier].to_numpy(),
            color=color,
            alpha=0.3,
            linewidth=0,
            rasterized=len(levels) > 2000,
        )
        ax.set_ylabel("Energy [GWh]")
        ax.set_title(display_name(carrier, styles), loc="left")
        ax.set_ylim(bottom=0)
    axes[-1].xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes[-1].set_xlabel("Time")
    fig.suptitle("Storage state of charge")
    return fig


def corridor_ratings(n: pypsa.Network, region: str) -> pd.Series:
    """Export rating of each corridor of :func:`~energy_model.network.corridor_flows` [MW].

    Sum of ``p_nom_opt · p_max_pu`` (links) or ``s_nom_opt`` (lines) of its branches whose
    ``bus0`` is local, i.e. the most it can carry out of the region at the local end.
    """
    local = set(local_buses(n, region))
    ratings = {}
    for label, names in border_corridors(n, region).items():
        total = 0.0
        for name in names:
            if name in n.links.index and n.links.at[name, "bus0"] in local:
                total += float(n.links.at[name, "p_nom_opt"]) * float(n.links.at[name, "p_max_pu"])
            elif name in n.lines.index and n.lines.at[name, "bus0"] in local:
                total += float(n.lines.at[name, "s_nom_opt"])
        ratings[label] = total
    return pd.Series(ratings, dtype=float)


def _draw_duration_curves(ax: Axes, values: pd.DataFrame, labels: Sequence[str], hours: pd.Series) -> None:
    """One duration curve per column of ``values`` (``hours`` [h] per snapshot), thinned for SVG size."""
    palette = _curve_palette(len(values.columns))
    for i, (color, column, label) in enumerate(zip(palette, values.columns, labels, strict=True)):
        x, y = thin(*duration_curve(values[column], hours))
        ax.step(
            x,
            y,
            where="post",
            color=color,
            label=label,
            linewidth=1.4,
            linestyle=LINESTYLES[i % len(LINESTYLES)],
        )


def _curve_palette(count: int) -> list[Any]:
    """Distinct colours for ``count`` curves (colour-blind safe up to 10, then tab20)."""
    return list(sns.color_palette("colorblind" if count <= 10 else "tab20", count))


@themed
def plot_export_duration(n: pypsa.Network, region: str, styles: pd.DataFrame) -> Figure:
    """Duration curves of the flow on every corridor leaving the region [GW] vs hours [h]."""
    flows = corridor_flows(n, region) / 1e3
    if flows.empty:
        msg = f"no link or line between a bus in '{region}' and an external bus"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    labels = []
    for name in flows.columns:
        carrier = corridor_carrier(n, name)
        labels.append(corridor_label(str(name), display_name(str(carrier), styles) if carrier else ""))
    _draw_duration_curves(ax, flows, labels, hours)
    ratings = corridor_ratings(n, region).reindex(flows.columns).fillna(0.0) / 1e3
    for color, rating in zip(_curve_palette(len(flows.columns)), ratings, strict=True):
        if rating > 0:
            ax.axhline(rating, color=color, linestyle=":", linewidth=0.9, alpha=0.9)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Hours per year at or above the flow [h]")
    ax.set_ylabel("Flow at local end [GW] (export > 0)")
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlim(0, float(hours.sum()))
    ax.set_title("Export corridor flow duration curves")
    legend_below(fig, ax, ncol=2)
    return fig


@themed
def plot_price_duration(n: pypsa.Network, buses: pd.Index) -> Figure:
    """Duration curve of the marginal electricity price at each bus [CNY/MWh] vs hours [h]."""
    prices = n.buses_t.marginal_price.reindex(columns=buses).dropna(axis=1, how="all")
    if prices.empty:
        msg = "no marginal prices saved for the local electricity buses"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    fig = new_figure(7.5, 4.2)
    ax = fig.subplots()
    _draw_duration_curves(ax, prices.fillna(0.0), [str(bus) for bus in prices.columns], hours)
    ax.set_xlabel("Hours per year at or above the price [h]")
    ax.set_ylabel("Marginal price [CNY/MWh]")
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlim(0, float(hours.sum()))
    ax.set_title("Electricity price duration curve (local buses)")
    legend_below(fig, ax, ncol=3)
    return fig


# ---------------------------------------------------------------------------------------------
# heat
# ---------------------------------------------------------------------------------------------


def daily_heat_power(n: pypsa.Network, region: str) -> pd.DataFrame:
    """Daily mean heat demand of the local heat buses and electricity of heating links [GW].

    Returns
    -------
    pandas.DataFrame
        Index day; column :data:`HEAT_DEMAND_COLUMN` (demand of the loads at the local heat
        buses) and one column per carrier of the links that take electricity from a local
        electricity bus (bus0) to a local heat bus (bus1), their ``p0``.

    Raises
    ------
    MissingDataError
        No local heat bus.
    """
    local = local_buses(n, region)
    heat = heat_buses(n, local)
    if len(heat) == 0:
        msg = "no local heat bus"
        raise MissingDataError(msg)
    hours = snapshot_hours(n)
    loads = n.loads.index[n.loads.bus.isin(heat)]
    demand = n.loads_t.p.reindex(columns=loads, fill_value=0.0).sum(axis=1)
    links = electric_heating_links(n, electric_buses(n, local), heat)
    electricity = n.links_t.p0.reindex(columns=links, fill_value=0.0)
    electricity = electricity.T.groupby(n.links.carrier[links].astype(str).to_numpy()).sum().T
    series = pd.concat([demand.rename(HEAT_DEMAND_COLUMN), electricity], axis=1)
    hourly = expand_to_hours(series, hours) / 1e3
    return hourly.resample("D").mean().dropna(how="all")


def daily_temperature(temperature: pd.Series | None, days: pd.Index) -> pd.Series | None:
    """Daily mean outdoor temperature [°C] on ``days``, or ``None`` when it does not cover them."""
    if temperature is None or temperature.empty:
        return None
    temp = temperature.copy()
    temp.index = pd.DatetimeIndex(temp.index)
    temp_daily = temp.resample("D").mean().reindex(days)
    if temp_daily.notna().sum() == 0:
        logger.info("heat figure: temperature does not cover the snapshots; drawn without it")
        return None
    return temp_daily


def _draw_heat_against_temperature(
    ax: Axes, daily: pd.DataFrame, temp_daily: pd.Series, series: list[tuple[str, str, str]]
) -> None:
    """Scatter of each daily series [GW] against the daily mean temperature [°C]."""
    for i, (column, label, color) in enumerate(series):
        marker = HEAT_MARKERS[i % len(HEAT_MARKERS)]
        ax.scatter(
            temp_daily.to_numpy(),
            daily[column].to_numpy(),
            s=10,
            color=color,
            label=label,
            marker=marker,
            alpha=0.8,
            linewidths=0,
        )
    ax.set_xlabel("Daily mean outdoor temperature [°C]")
    ax.set_ylabel("Daily mean power [GW]")
    ax.set_title("Against temperature")


def _draw_heat_over_year(ax: Axes, daily: pd.DataFrame, series: list[tuple[str, str, str]]) -> None:
    """Each daily series [GW] over the year, with gaps between runs of days left open."""
    gapped = break_gaps(daily, pd.Series(24.0, index=daily.index))
    for i, (column, label, color) in enumerate(series):
        # line style and sparse markers tell the series apart in grey-scale print
        ax.plot(
            gapped.index,
            gapped[column],
            color=color,
            label=label,
            linewidth=1.0,
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            marker=HEAT_MARKERS[i % len(HEAT_MARKERS)],
            markersize=4,
            markevery=max(1, len(gapped) // 12),
        )
    ax.set_ylabel("Daily mean power [GW]")
    ax.set_xlabel("Day")
    ax.xaxis.set_major_formatter(DateFormatter("%b"))
    ax.set_title("Over the year")


@themed
def plot_heat(
    n: pypsa.Network,
    region: str,
    styles: pd.DataFrame,
    temperature: pd.Series | None = None,
) -> Figure:
    """Daily heat demand and heat-pump electricity [GW] against temperature [°C] and over time.

    Parameters
    ----------
    n
        Solved network with at least one local heat bus (bus carrier ``heat``).
    region
        Accounting region (local buses).
    styles
        Carrier display names and colours.
    temperature
        Hourly outdoor temperature [°C] indexed by snapshot time; without it only the time
        panel is drawn.
    """
    daily = daily_heat_power(n, region)
    temp_daily = daily_temperature(temperature, daily.index)
    has_heat_style = HEAT_BUS_CARRIER in styles.index
    heat_color = carrier_color(HEAT_BUS_CARRIER, styles) if has_heat_style else HEAT_DEMAND_COLOR
    series = [(HEAT_DEMAND_COLUMN, "Heat demand", heat_color)]
    series += [
        (c, f"{display_name(c, styles)} electricity", carrier_color(c, styles))
        for c in daily.columns
        if c != HEAT_DEMAND_COLUMN
    ]
    if temp_daily is not None:
        fig = new_figure(9.0, 4.2)
        ax_t, ax_y = fig.subplots(1, 2, width_ratios=[1, 1.4])
        _draw_heat_against_temperature(ax_t, daily, temp_daily, series)
    else:
        if temperature is None or temperature.empty:
            logger.info("heat figure: no temperature saved with the results; time panel only")
        fig = new_figure(8.0, 4.2)
        ax_y = fig.subplots()
    _draw_heat_over_year(ax_y, daily, series)
    legend_below(fig, ax_y, ncol=3)
    fig.suptitle("Heat demand and electric heating")
    return fig


# ---------------------------------------------------------------------------------------------
# renewable share
# ---------------------------------------------------------------------------------------------


def _label_group(group: str) -> str:
    """Readable label of a share group (``coal_equivalent`` → ``final energy, coal equivalent``)."""
    if group == ELECTRICITY_GROUP:
        return "electricity\n(local consumption)"
    return "final energy\n" + group.replace("|", "\n").replace("_", " ")


def _draw_share_ranges(ax: Axes, shares: pd.DataFrame, headline: str) -> None:
    """Range bar, headline dot (labelled with its value) and a mark per other rule, per group [%]."""
    x = np.arange(len(shares))
    ax.vlines(
        x,
        shares["low"],
        shares["high"],
        color=SHARE_COLOR,
        linewidth=6,
        alpha=0.35,
        label="Range over attribution rules",
    )
    ax.scatter(
        x,
        shares["headline"],
        color=SHARE_COLOR,
        zorder=3,
        s=40,
        label=f"Headline ({rule_name(headline)})",
    )
    rules = [c for c in shares.columns if c.startswith("rule:") and c != f"rule:{headline}"]
    for i, column in enumerate(rules):
        ax.scatter(
            x,
            shares[column],
            marker=RULE_MARKERS[i % len(RULE_MARKERS)],
            color="#333333",
            s=22,
            zorder=4,
            label=rule_name(column.removeprefix("rule:")),
        )
    for xi, value in zip(x, shares["headline"], strict=True):
        ax.annotate(
            f"{value:.1f} %",
            (xi, value),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            zorder=5,
        )


def _draw_share_targets(ax: Axes, targets: pd.DataFrame) -> None:
    """A dashed line per target [%], labelled in words (``Goal: 30 % of final energy``)."""
    palette = sns.color_palette("dark", max(len(targets), 1))
    for color, (_, target) in zip(palette, targets.iterrows(), strict=False):
        share = float(target["target_share"]) * 100
        kind = "Calibration (reported)" if str(target.get("kind", "goal")) == "calibration" else "Goal"
        indicator = indicator_name(str(target.get("indicator", "") or "final_energy"))
        ax.axhline(
            share, color=color, linestyle="--", linewidth=1.2,
            label=f"{kind}: {share:.0f} % of {indicator}",
        )


@themed
def plot_renewable_share(
    metrics: pd.DataFrame, targets: pd.DataFrame, headline: str = DEFAULT_ATTRIBUTION, title: str = ""
) -> Figure:
    """Renewable share per valuation with attribution bounds against the targets [%].

    Parameters
    ----------
    metrics
        Tidy metrics with ``renewable_share`` rows (variant ``<valuation>|<attribution>``).
    targets
        ``target``, ``target_share`` [-] (:func:`~energy_model.report.scenario_results.scenario_targets`).
    headline
        Attribution rule drawn as the dot.
    title
        Figure title.
    """
    shares = (share_table(metrics, headline) * 100).dropna(how="all")
    if shares.empty:
        msg = "no renewable_share rows in the metrics"
        raise MissingDataError(msg)
    fig = new_figure(7.0, 4.2)
    ax = fig.subplots()
    _draw_share_ranges(ax, shares, headline)
    _draw_share_targets(ax, targets)
    ax.set_xticks(np.arange(len(shares)), [_label_group(g) for g in shares.index])
    ax.set_xlim(-0.6, len(shares) - 0.4)
    wanted = pd.to_numeric(targets.get("target_share", pd.Series(dtype=float)), errors="coerce") * 100
    top = float(np.nanmax([*shares["high"].to_numpy(), *wanted.to_numpy(), 1.0]))
    ax.set_ylim(0, min(105.0, top * 1.15 + 2) if top <= 100 else top * 1.1)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylabel("Renewable share [%]")
    ax.set_xlabel("Indicator and valuation of electricity")
    ax.set_title(title or "Renewable share against targets")
    legend_below(fig, ax, ncol=2)
    return fig


# ---------------------------------------------------------------------------------------------
# the figures of a result folder
# ---------------------------------------------------------------------------------------------


def scenario_figure_builders(results: ScenarioResults) -> dict[str, Callable[[], Figure]]:
    """Figure name → function drawing that figure from ``results`` (every name of the catalog).

    Reads the solved network (:attr:`ScenarioResults.network`) if the folder has one; without
    it the figures that need it raise :class:`MissingDataError` when built.
    """
    n = results.network
    styles = load_carrier_styles(n)
    region = results.region
    local = local_buses(n, region) if n is not None else pd.Index([])
    elec = electric_buses(n, local) if n is not None else pd.Index([])
    headline = headline_attribution(results.accounting)

    def need_network() -> pypsa.Network:
        if n is None:
            msg = "no network.nc in the result folder"
            raise MissingDataError(msg)
        return n

    return {
        "capacity": lambda: plot_capacity(
            results.metrics,
            styles,
            storage_energy_capacity(n, local) if n is not None else None,
            local if n is not None else None,
        ),
        "energy_balance": lambda: plot_energy_balance(
            results.metrics,
            styles,
            n.buses.carrier.astype(str) if n is not None else None,
            local if n is not None else None,
        ),
        "dispatch_winter": lambda: plot_dispatch(
            need_network(),
            select_week(need_network(), "winter", elec),
            elec,
            styles,
            "Local electricity balance, winter week",
        ),
        "dispatch_summer": lambda: plot_dispatch(
            need_network(),
            select_week(need_network(), "summer", elec),
            elec,
            styles,
            "Local electricity balance, summer week",
        ),
        "curtailment_heatmap": lambda: plot_curtailment_heatmap(need_network(), local, styles),
        "state_of_charge": lambda: plot_state_of_charge(need_network(), styles),
        "export_duration": lambda: plot_export_duration(need_network(), region, styles),
        "heat": lambda: plot_heat(need_network(), region, styles, results.temperature),
        "renewable_share": lambda: plot_renewable_share(
            results.metrics,
            scenario_targets(results),
            headline,
            f"Renewable share against targets: {results.name}",
        ),
        "price_duration": lambda: plot_price_duration(need_network(), elec),
    }


__all__ = [
    "daily_heat_power",
    "energy_balance_panels",
    "energy_balance_rows",
    "hourly_curtailment",
    "plot_capacity",
    "plot_curtailment_heatmap",
    "plot_dispatch",
    "plot_energy_balance",
    "plot_export_duration",
    "plot_heat",
    "plot_price_duration",
    "plot_renewable_share",
    "plot_state_of_charge",
    "scenario_figure_builders",
    "storage_levels",
]
