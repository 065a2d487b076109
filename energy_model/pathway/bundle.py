"""Result bundle of a pathway: tables, figures and a self-contained HTML page.

Writes into ``results/<pathway>/`` (the caller passes a temporary folder that is renamed when
complete): ``shares.csv``, ``capacities.csv``, ``generation.csv``, ``costs.csv``,
``cost_curve.csv``, ``mga.csv``, ``iterations.csv``, ``run.json``, ``capacities.png``,
``cost_curve.png``, ``mga_ranges.png`` and ``index.html``. Figures are drawn from these tables
only.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.ticker import FuncFormatter

from energy_model.report.style import legend_below, new_figure, themed, thousands

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.figure import Figure

    from energy_model.pathway.solve import PathwayResult

#: Display order and colours of the technology groups in the figures.
GROUPS = {
    "wind": "#235ebc", "solar": "#f9d002", "storage": "#ace37f", "electrolysis": "#ff29d9",
    "corridor": "#b5179e", "coal": "#545454", "other": "#adb5bd",
}


def _group(row: pd.Series) -> str:
    if row["technology"]:
        return str(row["technology"])
    carrier = str(row["carrier"])
    return {"onwind": "wind", "solar": "solar", "battery": "storage", "coal": "coal",
            "electrolysis": "electrolysis"}.get(carrier, "other")


def stack_results(results: list[PathwayResult], attr: str) -> pd.DataFrame:
    """One table of ``attr`` (``shares``, ``capacities``, …) over results, with a ``variant``."""
    frames = [getattr(r, attr).assign(variant=r.label) for r in results]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame[["variant", *[c for c in frame.columns if c != "variant"]]] if not frame.empty else frame


@themed
def plot_capacities(capacities: pd.DataFrame) -> Figure:
    """Wind, solar, storage and corridor capacity per period and variant (existing + new) [GW]."""
    frame = capacities[capacities["unit"] == "MW"].copy()
    frame["group"] = frame.apply(_group, axis=1)
    frame = frame[frame["group"].isin(["wind", "solar", "storage", "coal"])
                  | ((frame["group"] == "corridor") & (frame["origin"] == "new"))]
    table = frame.groupby(["variant", "period", "group"])["capacity"].sum().unstack("group").fillna(0) / 1e3
    variants = list(dict.fromkeys(frame["variant"]))
    fig = new_figure(7.5, 4.2)
    axes = fig.subplots(1, len(variants), sharey=True, squeeze=False)[0]
    for ax, variant in zip(axes, variants, strict=True):
        part = table.loc[variant]
        bottom = pd.Series(0.0, index=part.index)
        for group in [g for g in GROUPS if g in part.columns]:
            ax.bar([str(p) for p in part.index], part[group], bottom=bottom, color=GROUPS[group],
                   label=group if ax is axes[0] else None)
            bottom = bottom + part[group]
        ax.set_title(variant)
        ax.set_xlabel("period")
    axes[0].set_ylabel("capacity active in the period [GW]")
    legend_below(fig, axes[0], ncol=5)
    return fig


@themed
def plot_cost_curve(curve: pd.DataFrame) -> Figure:
    """Total discounted cost against the last period's target [bn CNY]."""
    fig = new_figure(6.5, 4.0)
    ax = fig.subplots()
    solved = curve[curve["status"] == "optimal"]
    ax.plot(solved["last_target_pct"], solved["total_cost_bn_cny"], marker="o", label="with targets")
    free = curve[curve["status"] == "no targets"]
    if not free.empty:
        ax.axhline(float(free["total_cost_bn_cny"].iloc[0]), color="grey", linestyle="--",
                   label="no share targets")
    ax.set_xlabel("target share of final energy in the last period [%]")
    ax.set_ylabel("total discounted system cost [bn CNY]")
    ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    legend_below(fig, ax, ncol=2)
    return fig


@themed
def plot_mga_ranges(mga: pd.DataFrame) -> Figure:
    """Range of each technology's new capacity in the last period per cost slack [GW]."""
    fig = new_figure(6.5, 3.8)
    ax = fig.subplots()
    technologies = list(dict.fromkeys(mga["technology"]))
    slacks = sorted(set(mga["slack"]))
    height = 0.8 / max(len(slacks), 1)
    for k, slack in enumerate(slacks):
        part = mga[mga["slack"] == slack].pivot_table(index="technology", columns="sense",
                                                     values="value_mw")
        for i, technology in enumerate(technologies):
            if technology not in part.index:
                continue
            low, high = float(part.at[technology, "min"]) / 1e3, float(part.at[technology, "max"]) / 1e3
            ax.barh(i + (k - (len(slacks) - 1) / 2) * height, high - low, left=low, height=height * 0.9,
                    color=f"C{k}", label=f"+{slack:.0%} cost" if i == 0 else None)
    optimum = mga.groupby("technology")["optimum_mw"].first()
    for i, technology in enumerate(technologies):
        ax.plot([optimum[technology] / 1e3] * 2, [i - 0.45, i + 0.45], color="black", linewidth=1.5,
                label="least cost" if i == 0 else None)
    ax.set_yticks(range(len(technologies)), technologies)
    ax.set_xlabel("new capacity active in the last period [GW]")
    legend_below(fig, ax, ncol=3)
    return fig


def _table_html(frame: pd.DataFrame, floatfmt: str = "{:,.2f}") -> str:
    return frame.to_html(index=False, float_format=floatfmt.format, border=0,
                         classes="table")


def write_page(folder: Path, summary: dict[str, Any], tables: dict[str, pd.DataFrame],
               figures: list[str]) -> Path:
    """``index.html``: the closing note, the tables and the figures (relative links only)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Pathway {html.escape(summary['name'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;font-size:0.85rem;margin:0.5rem 0 1.5rem}"
        "td,th{padding:0.2rem 0.6rem;border-bottom:1px solid #ddd;text-align:right}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>Least-cost pathway {html.escape(summary['name'])}</h1>",
        f"<p>{html.escape(summary.get('description', ''))}</p>",
        "<h2>Closing note</h2><ul>",
        *[f"<li>{html.escape(line)}</li>" for line in summary["note"]],
        "</ul>",
    ]
    for figure in figures:
        parts.append(f"<p><img src='{html.escape(figure)}' alt='{html.escape(figure)}'></p>")
    for title, frame in tables.items():
        if frame.empty:
            continue
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(_table_html(frame))
    parts.append("<p>Tables: <a href='shares.csv'>shares.csv</a>, <a href='capacities.csv'>"
                 "capacities.csv</a>, <a href='generation.csv'>generation.csv</a>, "
                 "<a href='costs.csv'>costs.csv</a>, <a href='cost_curve.csv'>cost_curve.csv</a>, "
                 "<a href='mga.csv'>mga.csv</a>, <a href='run.json'>run.json</a>.</p></body></html>")
    path = folder / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_bundle(folder: Path, summary: dict[str, Any], results: list[PathwayResult],
                 curve: pd.DataFrame, mga: pd.DataFrame) -> list[Path]:
    """Write tables, figures, ``run.json`` and ``index.html`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    capacities = stack_results(results, "capacities")
    for name, frame in {
        "shares": stack_results(results, "shares"),
        "capacities": capacities,
        "generation": stack_results(results, "generation"),
        "costs": stack_results(results, "costs"),
        "cost_curve": curve,
        "mga": mga,
        "iterations": pd.DataFrame([{"variant": r.label, **s} for r in results for s in r.iterations]),
    }.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    figures = []
    plots: list[tuple[str, Callable[[pd.DataFrame], Figure], pd.DataFrame]] = [
        ("capacities.png", plot_capacities, capacities)]
    if not curve.empty:
        plots.append(("cost_curve.png", plot_cost_curve, curve))
    if not mga.empty:
        plots.append(("mga_ranges.png", plot_mga_ranges, mga))
    for file, plot, frame in plots:
        fig = plot(frame)
        fig.savefig(folder / file)
        figures.append(file)
        written.append(folder / file)
    (folder / "run.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    written.append(folder / "run.json")
    shares = stack_results(results, "shares")
    show_shares = shares.assign(target_pct=shares["target_share"] * 100,
                                achieved_pct=shares["achieved_share"] * 100)[
        ["variant", "period", "target_pct", "achieved_pct", "margin_pp", "shadow_price_cny_per_pp_a"]
    ] if not shares.empty else shares
    new = capacities[capacities["origin"] == "new"] if not capacities.empty else capacities
    built = (new.groupby(["variant", "period", "technology"])["capacity"].sum().unstack("technology")
             .reset_index() if not new.empty else new)
    costs = stack_results(results, "costs")
    written.append(write_page(folder, summary, {
        "Shares against targets (headline rule)": show_shares,
        "New capacity active per period [MW; h2_storage MWh]": built,
        "Costs per period [CNY]": costs,
        "Cost of the target": curve,
        "Near-optimal ranges (new capacity in the last period)": mga[
            [c for c in ("slack", "technology", "sense", "value_mw", "optimum_mw", "min_margin_pp")
             if c in mga.columns]] if not mga.empty else mga,
    }, figures))
    return written
