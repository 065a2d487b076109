"""Validation page: observed vs modelled figures of the observed-year scenarios.

Reads ``data/observed/*.csv`` (see :mod:`energy_model.analysis.validation`) and the metrics of
every complete result whose scenario the table names; writes ``<results>/validation/``:
``validation.csv`` (one row per figure), ``observed_vs_modelled.png`` and ``index.html``. The
folder is written under a temporary name and published whole (``results.publish``, as a
scenario bundle), so a reader never sees half a page.
"""

from __future__ import annotations

import html
import logging
import math
from typing import TYPE_CHECKING

import pandas as pd

from energy_model.analysis.validation import compare_observed, read_observed
from energy_model.report.style import new_figure, report_theme
from energy_model.results import publish, temporary_dir

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

VALIDATION_DIR = "validation"
TABLE_FILE = "validation.csv"
FIGURE_FILE = "observed_vs_modelled.png"
METRICS_FILE = "metrics.csv"


def collect_validation(observed_dir: Path, scenario_dirs: Sequence[Path]) -> pd.DataFrame:
    """Observed vs modelled rows for every observed table and every scenario it names that has results."""
    by_name = {d.name: d for d in scenario_dirs}
    frames = []
    for path in sorted(observed_dir.glob("*.csv")) if observed_dir.is_dir() else []:
        observed = read_observed(path)
        for scenario, rows in observed.groupby("scenario", sort=True):
            result_dir = by_name.get(str(scenario))
            if result_dir is None:
                logger.info("validation: no result for scenario %s (table %s)", scenario, path.name)
                continue
            metrics = pd.read_csv(result_dir / METRICS_FILE, keep_default_na=False)
            compared = compare_observed(rows.reset_index(drop=True), metrics)
            compared.insert(0, "table", path.name)
            frames.append(compared)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _reference(row: pd.Series) -> float:
    """The observed value, or the middle of a closed range."""
    if not math.isnan(row["observed"]):
        return float(row["observed"])
    return 0.5 * (float(row["observed_low"]) + float(row["observed_high"]))


def plot_observed_vs_modelled(table: pd.DataFrame) -> Figure:
    """Dot plot: each figure's observed value (range as a bar) and the model, in % of observed."""
    with report_theme():
        rows = table.iloc[::-1].reset_index(drop=True)
        fig = new_figure(width=9.5, height=0.45 * len(rows) + 1.5)
        ax = fig.subplots()
        for i, row in rows.iterrows():
            ref = _reference(row)
            scale = 100.0 / ref if ref else math.nan
            low = row["observed_low"] if not math.isnan(row["observed_low"]) else row["observed"]
            high = row["observed_high"] if not math.isnan(row["observed_high"]) else row["observed"]
            ax.plot([low * scale, high * scale], [i, i], color="#b5b5b5", linewidth=6, solid_capstyle="butt")
            if not math.isnan(row["observed"]):
                ax.plot(100.0, i, "o", color="black", label="observed" if i == 0 else None)
            ax.plot(row["modelled"] * scale, i, "D", color="#c44e52", label="modelled" if i == 0 else None)
        ax.axvline(100.0, color="black", linewidth=0.6)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{q} ({y})" for q, y in zip(rows["quantity"], rows["year"], strict=True)])
        ax.set_xlabel("% of the observed value (grey bar: observed range)")
        ax.legend(loc="lower right")
        return fig


def _html_table(table: pd.DataFrame) -> str:
    def fmt(value: object) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return html.escape(str(value))

    head = (
        "<tr><th>Scenario</th><th>Figure</th><th>Year</th><th>Unit</th><th>Observed</th>"
        "<th>Range</th><th>Modelled</th><th>Difference</th><th>Tag</th><th>Source</th></tr>"
    )
    body = []
    for _, row in table.iterrows():
        span = ""
        if not (math.isnan(row["observed_low"]) and math.isnan(row["observed_high"])):
            span = f"{fmt(row['observed_low'])}–{fmt(row['observed_high'])}"
            span += " (inside)" if row["within_range"] else " (outside)"
        diff = fmt(row["difference"])
        if not math.isnan(row["difference_pct"]):
            diff += f" ({row['difference_pct']:+.1f} %)"
        body.append(
            f"<tr><td>{fmt(row['scenario'])}</td><td>{fmt(row['quantity'])}</td><td>{fmt(row['year'])}</td>"
            f"<td>{fmt(row['unit'])}</td><td>{fmt(row['observed'])}</td><td>{span}</td>"
            f"<td>{fmt(row['modelled'])}</td><td>{diff}</td><td>{fmt(row['tag'])}</td>"
            f"<td>{fmt(row['source'])}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def write_validation_page(
    results_root: Path, observed_dir: Path, scenario_dirs: Sequence[Path]
) -> Path | None:
    """Write ``<results_root>/validation/`` (table, figure, page); ``None`` if nothing to compare."""
    table = collect_validation(observed_dir, scenario_dirs)
    if table.empty:
        return None
    tmp = temporary_dir(results_root, VALIDATION_DIR)
    table.to_csv(tmp / TABLE_FILE, index=False, float_format="%.10g")
    fig = plot_observed_vs_modelled(table)
    fig.savefig(tmp / FIGURE_FILE, dpi=110)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Validation: observed vs modelled</title>
<style>body{{font-family:sans-serif;max-width:70rem;margin:auto;padding:1rem}}
table{{border-collapse:collapse;font-size:.9rem}}
td,th{{border:1px solid #ccc;padding:.3rem;vertical-align:top}}
.wrap{{overflow-x:auto}}img{{max-width:100%}}</style></head><body>
<p><a href="../index.html">All scenarios</a></p>
<h1>Validation: observed vs modelled</h1>
<p>Each row puts a public figure of a real year next to the same quantity computed by the model
for the observed-year scenario. The observed figures are never inputs: no parameter is set to
reproduce them. Tags: S = stated by the source, D = derived (the derivation is in the source
column). Differences are modelled − observed. Why the gaps arise is discussed in
docs/validation.md.</p>
<img src="{FIGURE_FILE}" alt="Modelled vs observed, in % of the observed value">
<div class="wrap">{_html_table(table)}</div>
<p>Table as CSV: <a href="{TABLE_FILE}">{TABLE_FILE}</a></p>
</body></html>
"""
    (tmp / "index.html").write_text(page, encoding="utf-8")
    final = publish(tmp, results_root, VALIDATION_DIR)
    return final / "index.html"


__all__ = ["collect_validation", "plot_observed_vs_modelled", "write_validation_page"]
