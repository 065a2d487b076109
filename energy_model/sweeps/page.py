"""Static page of a sweep: ``<out>/index.html`` with figures, tables and the data files.

Figures are matplotlib ``Figure`` objects on the Agg canvas (no pyplot state); the style is
applied inside ``mpl.rc_context`` so no global rcParams change. Writes ``index.html``,
``figures/*.png``, ``samples.csv`` (one row per design position), ``probabilities.csv``,
``sensitivity.csv``, ``tornado.csv`` and ``summary.txt`` into the sweep's output folder.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from energy_model.sweeps.analysis import SweepAnalysis
    from energy_model.sweeps.spec import Sweep

#: Local style of every figure (applied with ``mpl.rc_context``).
STYLE: dict[RcKeyType, Any] = {
    "figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "font.size": 9,
}
FIGURES_DIR = "figures"


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", bbox_inches="tight")
    tmp.replace(path)


def _share_distribution(analysis: SweepAnalysis, target: str, path: Path) -> None:
    """Histogram of the achieved (headline) share [%] with the target line."""
    ok = analysis.samples[analysis.samples["status"] == "ok"]
    shares = ok[f"achieved.{target}"].astype(float)
    goal = float(ok[f"target.{target}"].iloc[0])
    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot()
    ax.hist(shares, bins=min(40, max(5, len(shares) // 4)), color="#4c72b0", alpha=0.85)
    ax.axvline(goal, color="#c44e52", lw=2, label=f"target {goal:.0f} %")
    ax.set_xlabel(f"renewable share, headline ({target}) [%]")
    ax.set_ylabel("samples")
    ax.legend(loc="upper left")
    _save(fig, path)


def _sensitivity_bars(analysis: SweepAnalysis, output: str, path: Path) -> bool:
    """Bars of the sensitivity measures of ``output`` per parameter; False when there are none."""
    table = analysis.sensitivity[analysis.sensitivity["output"] == output]
    if table.empty:
        return False
    pivot = table.pivot_table(index="parameter", columns="measure", values="value", sort=False)
    conf = table.pivot_table(index="parameter", columns="measure", values="conf", sort=False)
    lead = next(m for m in ("ST", "mu_star", "spearman") if m in pivot.columns)
    pivot = pivot.reindex(pivot[lead].abs().sort_values().index)
    conf = conf.reindex(pivot.index)
    fig = Figure(figsize=(6, 0.45 * len(pivot) + 1.2))
    ax = fig.add_subplot()
    height = 0.8 / len(pivot.columns)
    for k, measure in enumerate(pivot.columns):
        positions = np.arange(len(pivot)) + k * height
        errors = conf[measure].to_numpy(dtype=float) if measure in conf.columns else None
        ax.barh(positions, pivot[measure], height=height, label=measure,
                xerr=None if errors is None or np.isnan(errors).all() else errors)
    ax.set_yticks(np.arange(len(pivot)) + 0.4 - height / 2, pivot.index)
    ax.set_xlabel(f"sensitivity of {output}")
    ax.legend(loc="lower right")
    _save(fig, path)
    return True


def _tornado(analysis: SweepAnalysis, output: str, path: Path) -> bool:
    """Tornado: output at each input's low and high end minus the median case."""
    table = analysis.tornado[analysis.tornado["output"] == output]
    if table.empty:
        return False
    swing = (table["high"] - table["low"]).abs()
    table = table.assign(swing=swing).sort_values("swing")
    median = float(table["median"].iloc[0])
    fig = Figure(figsize=(6, 0.45 * len(table) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(table))
    ax.barh(y, table["low"] - median, left=median, color="#c44e52", label="input at low end")
    ax.barh(y, table["high"] - median, left=median, color="#4c72b0", label="input at high end")
    ax.axvline(median, color="black", lw=1)
    ax.set_yticks(y, table["parameter"])
    ax.set_xlabel(output)
    ax.legend(loc="lower right")
    _save(fig, path)
    return True


def _scatter(analysis: SweepAnalysis, target: str, parameters: list[str], path: Path) -> bool:
    """Achieved share against the most influential inputs, one panel each."""
    ok = analysis.samples[analysis.samples["status"] == "ok"]
    if ok.empty or not parameters:
        return False
    goal = float(ok[f"target.{target}"].iloc[0])
    fig = Figure(figsize=(3.2 * len(parameters), 3))
    for k, name in enumerate(parameters):
        ax = fig.add_subplot(1, len(parameters), k + 1)
        meets = ok[f"meets.{target}"].astype(bool)
        ax.scatter(ok[f"input.{name}"], ok[f"achieved.{target}"], s=8,
                   c=np.where(meets, "#4c72b0", "#c44e52"))
        ax.axhline(goal, color="#c44e52", lw=1)
        ax.set_xlabel(name)
        if k == 0:
            ax.set_ylabel("achieved share [%]")
    _save(fig, path)
    return True


def _table_html(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else float_format.format(v))
    return shown.to_html(index=False, border=0, classes="table", escape=True)


def write_page(sweep: Sweep, analysis: SweepAnalysis, out: Path, summary: str) -> Path:
    """Write the sweep's page and its data files into ``out``; return ``out/index.html``."""
    out = Path(out)
    figures = out / FIGURES_DIR
    figures.mkdir(parents=True, exist_ok=True)
    analysis.samples.to_csv(out / "samples.csv", index=False, float_format="%.10g")
    analysis.probabilities.to_csv(out / "probabilities.csv", index=False, float_format="%.10g")
    analysis.sensitivity.to_csv(out / "sensitivity.csv", index=False, float_format="%.10g")
    analysis.tornado.to_csv(out / "tornado.csv", index=False, float_format="%.10g")
    (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    sections: list[str] = []
    with mpl.rc_context(STYLE):
        for row in analysis.probabilities.itertuples():
            target = str(row.target)
            if row.feasible == 0:
                continue
            parts = [f"<h2>Target {html.escape(target)}</h2>"]
            name = f"share_{target}.png"
            _share_distribution(analysis, target, figures / name)
            parts.append(f'<figure><img src="{FIGURES_DIR}/{name}" alt="share distribution">'
                         f"<figcaption>Headline renewable share of the {row.feasible} feasible samples; red: "
                         f"the target.</figcaption></figure>")
            for output in (f"achieved.{target}", f"margin.{target}"):
                name = f"sensitivity_{output.replace('.', '_')}.png"
                if _sensitivity_bars(analysis, output, figures / name):
                    parts.append(f'<figure><img src="{FIGURES_DIR}/{name}" alt="sensitivity">'
                                 f"<figcaption>Sensitivity of {html.escape(output)} "
                                 f"({sweep.sampler}).</figcaption></figure>")
                name = f"tornado_{output.replace('.', '_')}.png"
                if _tornado(analysis, output, figures / name):
                    parts.append(f'<figure><img src="{FIGURES_DIR}/{name}" alt="tornado">'
                                 f"<figcaption>Tornado of {html.escape(output)}: each input at the "
                                 f"low and high end of its range, the others at their median."
                                 f"</figcaption></figure>")
            top = [p for p, _, _ in analysis.influential(f"achieved.{target}")]
            name = f"scatter_{target}.png"
            if _scatter(analysis, target, top, figures / name):
                parts.append(f'<figure><img src="{FIGURES_DIR}/{name}" alt="scatter">'
                             f"<figcaption>Achieved share against the most influential inputs "
                             f"(blue: meets the target).</figcaption></figure>")
            sections.append("\n".join(parts))
    parameters = pd.DataFrame(
        [{"parameter": p.name, "unit": p.unit, "distribution": p.distribution.model_dump_json(),
          "target": p.target.model_dump_json(exclude_none=True), "source": p.source}
         for p in sweep.parameters]
    )
    labels = {"": "P(meet)", "_feasible": "P(meet | feasible)", "_infeasible": "P(infeasible)"}
    columns = {"min_share": "min_share [%]"}
    for suffix, label in labels.items():
        columns |= {f"p{suffix}": f"{label} [%]", f"low{suffix}": f"{label} low [%]",
                    f"high{suffix}": f"{label} high [%]"}
    probabilities = analysis.probabilities.copy()
    proportions = [c for c in columns if c != "min_share"]
    probabilities[proportions] = 100 * probabilities[proportions]
    probabilities = probabilities.rename(columns=columns)
    sensitivity = analysis.sensitivity
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep {html.escape(sweep.name)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:0.85em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}
figure{{margin:1em 0}}img{{max-width:100%}}</style></head><body>
<h1>Uncertainty sweep {html.escape(sweep.name)}</h1>
<p>{html.escape(sweep.description)}</p>
<p><strong>{html.escape(summary)}</strong></p>
<p>Base scenario <code>{html.escape(sweep.base)}</code>, sampler <code>{sweep.sampler}</code>,
seed {sweep.seed}, time resolution <code>{html.escape(sweep.time.model_dump_json())}</code>.
Samples by status: {html.escape(str(analysis.status_counts))}. P(meet) counts every sample with
an outcome (<code>n</code> = feasible + infeasible): an infeasible sample, whose system cannot
serve its demand, does not meet the target. P(meet | feasible) counts the feasible samples only,
P(infeasible) the share of infeasible ones; failed samples (<code>errors</code>) are not counted.
Each interval is the Wilson 95 % score interval of the proportion on its left.</p>
<h2>Probability of meeting each target</h2>
{_table_html(probabilities)}
{"".join(sections)}
<h2>Sensitivity indices</h2>
{_table_html(sensitivity) if not sensitivity.empty else "<p>none for this sampler.</p>"}
<h2>Uncertain inputs</h2>
{_table_html(parameters)}
<h2>Data</h2>
<ul><li><a href="samples.csv">samples.csv</a>: one row per sample (inputs, status, shares under
every accounting rule, margins, capacities, flows, timings)</li>
<li><a href="probabilities.csv">probabilities.csv</a>, <a href="sensitivity.csv">sensitivity.csv</a>,
<a href="tornado.csv">tornado.csv</a>, <a href="summary.txt">summary.txt</a></li>
<li><code>samples/*.parquet</code>: the store (one file per sample id)</li></ul>
</body></html>
"""
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(index)
    return index


__all__ = ["write_page"]
