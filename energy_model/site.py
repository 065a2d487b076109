"""Site stage: the static HTML pages of the published result bundle.

Reads ``results/<scenario>/`` folders (``run.json``, ``scenario.yaml``, ``verdict.csv``,
``metrics.csv``, ``figures/*.png``/``*.svg``) and ``results/comparison/``; writes
``results/<scenario>/index.html`` and ``results/index.html``. Pages are plain HTML with a small
inline style sheet, no JavaScript and only relative links, so the ``results/`` folder can be
published on any web server or opened from disk as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from energy_model.records import RunRecord, RunRecordError, read_run_record
from energy_model.report.catalog import COMPARISON_FIGURES, SCENARIO_FIGURES, FigureSpec, omitted_reason
from energy_model.report.loading import load_metrics, load_scenario_yaml, load_verdicts, scenario_name
from energy_model.report.quantities import ELECTRICITY_GROUP, headline_share, metric_values, share_table
from energy_model.report.wording import (
    DOC_PAGES,
    VALUATION_NAMES,
    cost_breakdown,
    failing_rules,
    headline_rule_text,
    rule_name,
    target_name,
    variant_name,
    verdict_sentence,
)
from energy_model.tables import headline_attribution

logger = logging.getLogger(__name__)

#: Folder of the cross-scenario figures and tables inside ``results/``.
COMPARISON_DIR = "comparison"
#: Observed-vs-modelled page written by ``energy_model.report.validation``.
VALIDATION_PAGE = "validation/index.html"
#: Folder of the uncertainty sweeps (docs/sweeps.md): ``<name>/index.html`` + ``summary.txt``.
SWEEPS_DIR = "sweeps"
#: Page of the least-cost pathway (docs/pathway.md), linked when present.
PATHWAY_PAGE = "pathway-2035/index.html"

#: Known files of a scenario folder and what they hold (shown on the scenario page).
FILE_DESCRIPTIONS: dict[str, str] = {
    "scenario.yaml": "resolved scenario (all defaults filled in)",
    "run.json": "run provenance: status, objective, timings, versions, checksums",
    "metrics.csv": "all metrics, tidy table: metric, variant, carrier, bus, value, unit",
    "verdict.csv": "target verdicts: accounting variant, achieved share, margin [percentage points], "
    "PASS/FAIL",
    "network.nc": "solved PyPSA network (netCDF; open with pypsa.Network(path))",
    "temperature.csv": "hourly outdoor temperature used for heat demand [°C]",
    "log.txt": "log of the run",
    "solver.log": "HiGHS solver log",
}

#: Tables at the top of ``results/`` written by ``energy-model compare`` (linked when present).
ROOT_TABLES: dict[str, str] = {
    "summary.csv": "one row per scenario: objective and system-wide metrics (units in the headers)",
    "verdicts.csv": "verdicts of all scenarios (shares as fractions, margin in percentage points)",
}

STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1rem 1.5rem 3rem; color: #1d1d1d; line-height: 1.45;
       overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
nav { font-size: .95rem; margin-bottom: 1rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #b42318; font-weight: 600; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .92rem; color: #333; max-width: 60rem; }
.muted { color: #666; font-size: .9rem; }
.scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
.answer { font-size: 1.08rem; margin: .4rem 0 .8rem; padding: 0; list-style: none; }
.answer li { margin: .35rem 0; padding: .45rem .7rem; border-left: 4px solid #999; background: #f7f7f7; }
.answer li.pass { border-left-color: #1a7f37; } .answer li.fail { border-left-color: #b42318; }
.answer li.pass, .answer li.fail { color: #1d1d1d; font-weight: normal; }
footer { margin-top: 2.5rem; border-top: 1px solid #ddd; padding-top: .5rem; font-size: .85rem;
         color: #555; }
@media (max-width: 600px) { body { padding: .6rem .7rem 2rem; } table { font-size: .85rem; }
  th, td { padding: .2rem .35rem; } }
@media print { nav, .noprint { display: none; } figure { break-inside: avoid; } }
"""


# ---------------------------------------------------------------------------------------------
# reading a scenario folder
# ---------------------------------------------------------------------------------------------


def load_run(result_dir: Path) -> RunRecord | None:
    """The run record of a finished scenario, or ``None`` when missing, half-written or invalid.

    Same rule as :func:`energy_model.results.is_complete`: ``run.json`` parses as a
    :class:`~energy_model.records.RunRecord` (whose status is then ``ok``).
    """
    try:
        return read_run_record(Path(result_dir))
    except RunRecordError as err:
        logger.info("%s; folder ignored", err)
        return None


def list_scenario_dirs(results_root: Path) -> list[Path]:
    """Scenario folders of ``results/`` with a complete ``run.json``, sorted by name.

    Folders whose name starts with ``.`` (temporary or incomplete bundles) and the
    ``comparison`` folder are ignored.
    """
    root = Path(results_root)
    if not root.is_dir():
        return []
    dirs = []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith(".") or path.name == COMPARISON_DIR:
            continue
        if load_run(path) is None:
            continue
        dirs.append(path)
    return dirs


# ---------------------------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    """A complete HTML document with the inline style sheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{escape(title)}</title>\n<link rel="icon" href="data:,">\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are given as already-escaped HTML."""
    numeric = numeric or set()
    head = "".join(f'<th scope="col">{h}</th>' for h in header)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n'
        "</table></div>"
    )


def _fmt(value: Any, digits: int = 1) -> str:
    """Format a number (thousands separator), or the escaped text of anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return escape(str(value))
    if pd.isna(number):
        return "–"
    return f"{number:,.{digits}f}"


def _status_cell(status: Any) -> str:
    """PASS / FAIL (CALIBRATED / OFF for calibration years) with a class for colour (text stays
    readable in black and white)."""
    text = str(status).upper()
    css = "pass" if text in ("PASS", "CALIBRATED") else "fail" if text in ("FAIL", "OFF") else ""
    return f'<span class="{css}">{escape(text)}</span>' if css else escape(text)


def _robust_cell(status: Any, detail: Any) -> str:
    """The verdict across the defensible accounting rules, with the rules that disagree."""
    text = "" if status is None or (isinstance(status, float) and pd.isna(status)) else str(status)
    extra = "" if detail is None or (isinstance(detail, float) and pd.isna(detail)) else str(detail)
    if not text:
        return "–"
    rules = failing_rules(extra)
    if rules:
        extra = "; ".join(
            f"{status} with {rule_name(rule)} ({margin:+.1f} pp)" for status, rule, margin in rules
        )
    return escape(text) + (f'<br><span class="muted">{escape(extra)}</span>' if extra else "")


def _verdict_rows(
    verdicts: pd.DataFrame, with_scenario: bool, link_prefix: str = "", years: dict[str, Any] | None = None
) -> list[list[str]]:
    """Rows of a verdict table: (scenario,) target, accounting, target, achieved, margin, verdict.

    Targets, indicators and accounting rules are shown by name (the ids stay in the CSV files);
    ``years`` maps a scenario to its year for the target's name.
    """
    rows = []
    for _, v in verdicts.iterrows():
        row = []
        if with_scenario:
            name = escape(str(v.get("scenario", "")))
            row.append(
                f'<a href="{escape(link_prefix + str(v.get("scenario", "")))}/index.html">{name}</a>'
                if link_prefix is not None and v.get("_has_page", False)
                else name
            )
        variant = v.get("variant", "")
        year = (years or {}).get(str(v.get("scenario", "")))
        row += [
            escape(target_name(v.to_dict(), year)),
            _status_cell(v.get("status", "")),
            _fmt(v.get("margin_pp", float("nan"))),
            _fmt(float(v.get("achieved_share", float("nan"))) * 100),
            _fmt(float(v.get("target_share", float("nan"))) * 100),
            _robust_cell(v.get("robust_status", ""), v.get("robust_detail", "")),
            escape(variant_name(str(variant)) if pd.notna(variant) else ""),
        ]
        rows.append(row)
    return rows


#: Columns of a verdict table; the verdict comes right after the target so that it stays on a
#: phone's screen (the table scrolls sideways for the rest).
VERDICT_HEADER = [
    "Target",
    "Verdict",
    "Margin [pp]",
    "Achieved share [%]",
    "Target share [%]",
    "Across accounting rules",
    "Accounting (headline)",
]


def _figure_html(folder: str, spec: FigureSpec, number: int) -> str:
    """A figure: PNG shown, linked to the SVG, with a numbered caption."""
    png = f"{folder}/{spec.name}.png"
    svg = f"{folder}/{spec.name}.svg"
    return (
        f'<figure id="fig-{escape(spec.name)}">\n'
        f'<a href="{escape(svg)}"><img src="{escape(png)}" alt="{escape(spec.title)}"></a>\n'
        f"<figcaption><strong>Figure {number}. {escape(spec.title)}.</strong> {escape(spec.caption)} "
        f'<a href="{escape(svg)}">SVG</a> · <a href="{escape(png)}">PNG</a></figcaption>\n</figure>'
    )


def _figures_html(base: Path, folder: str, specs: tuple[FigureSpec, ...], start: int = 0) -> str:
    """All figures of ``specs`` whose PNG and SVG exist under ``base/folder`` (numbered after
    ``start``)."""
    parts = []
    omitted = []
    number = start
    for spec in specs:
        reason = omitted_reason(base / folder, spec.name)
        if reason and not _figure_exists(base, folder, spec):
            omitted.append(f"<li>{escape(spec.title)}: {escape(reason)}</li>")
        if _figure_exists(base, folder, spec):
            number += 1
            parts.append(_figure_html(folder, spec, number))
    if not parts:
        parts.append('<p class="muted">No figures were rendered.</p>')
    if omitted:
        parts.append(
            '<p class="muted">Not drawn (no data to show):</p>\n<ul class="muted">'
            + "".join(omitted)
            + "</ul>"
        )
    return "\n".join(parts)


#: The figure shown on the first screen, under the verdict sentences (scenario page, index).
SCENARIO_ANSWER_FIGURE = "renewable_share"
COMPARISON_ANSWER_FIGURE = "shares"


def _split_figures(
    base: Path, folder: str, specs: tuple[FigureSpec, ...], first: str
) -> tuple[str, str]:
    """The figure ``first`` (for the first screen) and the other figures, numbered in page order."""
    lead = tuple(spec for spec in specs if spec.name == first)
    others = tuple(spec for spec in specs if spec.name != first)
    head = _figures_html(base, folder, lead) if lead and _figure_exists(base, folder, lead[0]) else ""
    return head, _figures_html(base, folder, others, start=1 if head else 0)


def _figure_exists(base: Path, folder: str, spec: FigureSpec) -> bool:
    return (base / folder / f"{spec.name}.png").is_file() and (base / folder / f"{spec.name}.svg").is_file()


def _shorten(text: str, limit: int = 160) -> str:
    """A description cut at a word boundary near ``limit`` characters (full text on the scenario page)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _size(path: Path) -> str:
    """Human-readable file size."""
    size = float(path.stat().st_size)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


def _key_figures(metrics: pd.DataFrame, scenario: dict[str, Any]) -> list[list[str]]:
    """Headline numbers of a scenario from its metrics (rows: label, value, unit)."""
    rows = []
    headline = headline_attribution(scenario.get("accounting"))
    shares = share_table(metrics, headline)
    for group, share in shares.iterrows():
        what = (
            "local electricity consumption"
            if group == ELECTRICITY_GROUP
            else "final energy, " + VALUATION_NAMES.get(str(group), str(group).replace("_", " "))
        )
        label = f"Renewable share of {what} ({rule_name(headline)})"
        rows.append(
            [
                escape(label),
                _fmt(share["headline"] * 100, 1),
                f"% (range {_fmt(share['low'] * 100)}–{_fmt(share['high'] * 100)})",
            ]
        )
    exports = metric_values(metrics, "export", "TWh")
    if not exports.empty:
        rows.append(["Exports, all corridors", _fmt(exports["value"].sum(), 3), "TWh/yr"])
    curtailment = metric_values(metrics, "curtailment", "TWh")
    variable = metrics.loc[metrics["metric"] == "curtailment_rate", "carrier"]
    if "variant" in curtailment and (curtailment["variant"] == "Generator").any():
        curtailment = curtailment[curtailment["variant"] == "Generator"]
    if not variable.empty:
        curtailment = curtailment[curtailment["carrier"].isin(set(variable))]
    if not curtailment.empty:
        rows.append(["Curtailment of variable renewables", _fmt(curtailment["value"].sum(), 3), "TWh/yr"])
    return rows


# ---------------------------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------------------------


def _facts_rows(scenario: dict[str, Any], run: RunRecord | None) -> list[list[str]]:
    """Rows (item, value) of the facts table of a scenario page: year, network, region, solver."""
    facts = [
        ["Year", escape(str(scenario.get("year", "–")))],
        ["Network", escape(str(scenario.get("network", "–")))],
        ["Accounting region", escape(str((scenario.get("accounting") or {}).get("region", "–")))],
        [
            "Solver status",
            escape(f"{run.status} ({run.condition})" if run is not None else "–"),
        ],
    ]
    time = scenario.get("time") or {}
    if time:
        facts.append(["Time resolution", escape(", ".join(f"{k}={v}" for k, v in time.items()))])
    window = scenario.get("snapshots") or {}
    if window:
        share = f" ({100 * run.window_share_of_year:.1f} % of the year)" if run is not None else ""
        facts.append(
            [
                "Snapshot window",
                escape(
                    f"{window.get('start')} to {window.get('end')}{share}; annual export contracts "
                    "scaled to the window"
                ),
            ]
        )
    return facts


def _cost_html(metrics: pd.DataFrame, run: RunRecord | None) -> list[str]:
    """The cost breakdown table with its sign convention (empty without cost metrics)."""
    lines = cost_breakdown(metrics, run.objective if run is not None else None)
    if not lines:
        return []
    rows = [[escape(line.label), _fmt(line.value_bn, 2), escape(line.note)] for line in lines]
    return [
        '<h2 id="cost">Cost</h2>',
        '<p class="muted">Billion CNY per year. Costs are positive; export revenue is shown as a '
        "positive amount and subtracted, so a negative net cost means the region earns more from "
        "exports than its system costs.</p>",
        _table(["Item", "billion CNY/yr", "What it is"], rows, {1}),
    ]


def _answer_html(verdicts: pd.DataFrame, metrics_of: dict[str, pd.DataFrame]) -> str:
    """The first screen's answer: one plain sentence per target (``metrics_of``: by scenario)."""
    items = []
    for _, v in verdicts.iterrows():
        row = v.to_dict()
        status = str(row.get("status", "")).upper()
        css = "pass" if status in ("PASS", "CALIBRATED") else "fail" if status in ("FAIL", "OFF") else ""
        sentence = escape(verdict_sentence(row, metrics_of.get(str(row.get("scenario", "")))))
        items.append(f'<li class="{css}">{sentence}</li>')
    return '<ul class="answer">\n' + "\n".join(items) + "\n</ul>"


def _footer_html(runs: list[RunRecord]) -> str:
    """Run date, commit and versions of the runs behind a page."""
    if not runs:
        return ""
    dates = sorted(r.run_date for r in runs if r.run_date)
    commits = sorted({r.git_commit for r in runs})
    latest = max(runs, key=lambda r: r.run_date)
    versions = ", ".join(
        f"{name} {latest.versions[name]}"
        for name in ("energy_model", "pypsa", "linopy", "highspy", "pandas", "python")
        if name in latest.versions
    )
    when = (
        f"Run {dates[0]}" if len(dates) == 1 or (dates and dates[0] == dates[-1])
        else f"Runs {dates[0]} to {dates[-1]}" if dates else "Run date not recorded"
    )
    return (
        f"<footer>{escape(when)} · commit {escape(', '.join(c[:12] for c in commits))} · "
        f"{escape(versions)}</footer>"
    )


def _data_file_rows(result_dir: Path) -> list[list[str]]:
    """Rows (link, content, size) of the files of a scenario folder: known files first."""
    listed = [f for f in FILE_DESCRIPTIONS if (result_dir / f).is_file()]
    others = sorted(
        p.name
        for p in result_dir.iterdir()
        if p.is_file()
        and p.name not in FILE_DESCRIPTIONS
        and p.name != "index.html"
        and not p.name.startswith(".")
    )
    return [
        [
            f'<a href="{escape(f)}">{escape(f)}</a>',
            escape(FILE_DESCRIPTIONS.get(f, "")),
            _size(result_dir / f),
        ]
        for f in listed + others
    ]


def write_scenario_page(result_dir: Path) -> Path:
    """Write ``<result_dir>/index.html``: verdicts, key numbers, figures with captions, files.

    Works on the temporary folder before it is renamed into place: every link is relative to
    the folder (``figures/…``, ``metrics.csv``) or to its parent (``../index.html``).

    Parameters
    ----------
    result_dir
        A scenario result folder.

    Returns
    -------
    pathlib.Path
        The page written.
    """
    result_dir = Path(result_dir)
    scenario = load_scenario_yaml(result_dir)
    name = scenario_name(result_dir, scenario)
    run = load_run(result_dir)
    metrics = load_metrics(result_dir / "metrics.csv")
    verdicts = load_verdicts(result_dir, run)

    parts = [
        '<nav><a href="../index.html">← All scenarios</a></nav>',
        f"<h1>Scenario {escape(name)}</h1>",
    ]
    if not verdicts.empty:
        parts.append(_answer_html(verdicts.assign(scenario=name), {name: metrics}))
        parts.append(
            '<p class="muted">Headline accounting: '
            f"{escape(headline_rule_text(scenario.get('accounting')))}. "
            "Shares in % of the indicator; margin = achieved − target in percentage points [pp].</p>"
        )
    first, rest = _split_figures(result_dir, "figures", SCENARIO_FIGURES, SCENARIO_ANSWER_FIGURE)
    parts.append(first)
    if scenario.get("description"):
        parts.append(f"<p>{escape(str(scenario['description']))}</p>")
    parts.append(_table(["Item", "Value"], _facts_rows(scenario, run)))

    parts.append('<h2 id="verdicts">Targets</h2>')
    if verdicts.empty:
        parts.append('<p class="muted">This scenario checks no renewable-share target.</p>')
    else:
        years = {name: scenario.get("year")}
        rows = _verdict_rows(verdicts.assign(scenario=name), with_scenario=False, years=years)
        parts.append(_table(VERDICT_HEADER, rows, {2, 3, 4}))

    parts += _cost_html(metrics, run)
    key = _key_figures(metrics, scenario)
    if key:
        parts.append('<h2 id="key-figures">Key figures</h2>')
        parts.append(_table(["Quantity", "Value", "Unit"], key, {1}))

    parts.append('<h2 id="figures">Figures</h2>')
    parts.append(rest)

    parts.append('<h2 id="files">Data files</h2>')
    parts.append(_table(["File", "Content", "Size"], _data_file_rows(result_dir), {2}))
    parts.append('<p class="muted noprint"><a href="../index.html">← All scenarios</a></p>')
    parts.append(_footer_html([run] if run is not None else []))

    path = result_dir / "index.html"
    path.write_text(_page(f"Scenario {name}", "\n".join(parts)), encoding="utf-8")
    logger.info("wrote %s", path)
    return path


#: Header of the scenario list of the index page.
SCENARIO_LIST_HEADER = [
    "Scenario",
    "Description",
    "Year",
    "Status",
    "Renewable share of final energy, headline [%]",
    "Range over attribution rules [%]",
    "Net system cost [billion CNY/yr]",
    "Goals met",
]


@dataclass
class _ScenarioEntry:
    """What the index needs of one scenario folder."""

    row: list[str]
    verdicts: pd.DataFrame
    metrics: pd.DataFrame
    run: RunRecord | None
    year: Any
    accounting: dict[str, Any] | None


def _scenario_entry(folder: Path, has_page: bool) -> _ScenarioEntry:
    """A scenario's row of the index's scenario list, with its verdicts and metrics."""
    scenario = load_scenario_yaml(folder)
    run = load_run(folder)
    verdicts = load_verdicts(folder, run)
    metrics = load_metrics(folder / "metrics.csv")
    share = headline_share(metrics, scenario.get("accounting"))
    cost = metric_values(metrics, "system_cost", "billion CNY")
    kinds = verdicts["kind"].astype(str) if "kind" in verdicts.columns else pd.Series("goal", verdicts.index)
    status = verdicts.get("status", pd.Series(dtype=str)).astype(str).str.upper()
    goals = kinds != "calibration"
    n_pass = int((status[goals] == "PASS").sum())
    met = f"{n_pass}/{int(goals.sum())}" if goals.any() else ""
    if (~goals).any():
        calibration = ", ".join(status[~goals].str.lower())
        met = f"{met}; calibration {calibration}" if met else f"calibration year: {calibration}"
    row = [
        f'<a href="{escape(folder.name)}/index.html">{escape(folder.name)}</a>'
        if has_page
        else escape(folder.name),
        escape(_shorten(str(scenario.get("description", "")))),
        escape(str(scenario.get("year", ""))),
        escape(run.status if run is not None else ""),
        _fmt(share["headline"] * 100) if share is not None else "–",
        f"{_fmt(share['low'] * 100)}–{_fmt(share['high'] * 100)}" if share is not None else "–",
        _fmt(cost["value"].sum(), 2) if not cost.empty else "–",
        escape(met) if met else "–",
    ]
    return _ScenarioEntry(row, verdicts, metrics, run, scenario.get("year"), scenario.get("accounting"))


def _sweeps_section(root: Path) -> list[str]:
    """Links to every sweep page under ``sweeps/`` with its one-paragraph summary (docs/sweeps.md)."""
    rows = []
    for page in sorted((root / SWEEPS_DIR).glob("*/index.html")):
        summary = page.parent / "summary.txt"
        text = summary.read_text(encoding="utf-8").strip() if summary.is_file() else ""
        link = f"{SWEEPS_DIR}/{page.parent.name}/index.html"
        rows.append(f'<li><a href="{escape(link)}">{escape(page.parent.name)}</a>'
                    + (f": {escape(text)}" if text else "") + "</li>")
    if not rows:
        return []
    return ['<h2 id="sweeps">Uncertainty sweeps</h2>',
            "<p>How likely each target is met when the uncertain inputs vary over their ranges, "
            "and which inputs decide it (probability with a 95 % interval, sensitivity indices, "
            "tornado):</p>", "<ul>", *rows, "</ul>"]


def _comparison_section(root: Path, skip: str = "") -> list[str]:
    """The index's comparison figures (without ``skip``, shown on the first screen, numbered
    after it) and the links to the comparison tables that exist."""
    specs = tuple(spec for spec in COMPARISON_FIGURES if spec.name != skip)
    start = 1 if skip else 0
    parts = ['<h2 id="comparison">Comparison</h2>', _figures_html(root, COMPARISON_DIR, specs, start=start)]
    tables = [
        (f"{COMPARISON_DIR}/metrics.csv", "metrics of all scenarios (tidy, with a scenario column)"),
        (f"{COMPARISON_DIR}/verdicts.csv", "verdicts of all scenarios"),
    ]
    rows = [
        [f'<a href="{escape(href)}">{escape(href)}</a>', escape(text)]
        for href, text in tables
        if (root / href).is_file()
    ]
    if rows:
        parts.append(_table(["File", "Content"], rows))
    return parts


def copy_docs(results_root: Path, docs_dir: Path | None) -> dict[str, str]:
    """Copy the accounting page and the glossary into ``results/docs/``; return link → title.

    The published folder then explains its own words. Pages missing from ``docs_dir`` are left
    out (and not linked).
    """
    if docs_dir is None:
        return {}
    links = {}
    for name, title in DOC_PAGES.items():
        source = Path(docs_dir) / name
        if source.is_file():
            target = Path(results_root) / "docs" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            links[f"docs/{name}"] = title
    return links


def write_site_index(results_root: Path, docs_dir: Path | None = None) -> Path:
    """Write ``results/index.html``: the answer first, then verdicts, scenarios and comparison.

    The first screen holds one plain sentence per scenario and target (share, target, margin,
    and the accounting rule under which the answer changes), the headline accounting in words
    with links to the accounting page and the glossary (copied from ``docs_dir`` into
    ``results/docs/``), and the share-against-target figure. Lists every scenario folder with a
    complete ``run.json`` (see :func:`list_scenario_dirs`); temporary and incomplete folders
    (names starting with ``.``) are ignored.

    Parameters
    ----------
    results_root
        The ``results/`` folder.
    docs_dir
        The project's ``docs/`` folder (``accounting.md``, ``glossary.md``), if any.

    Returns
    -------
    pathlib.Path
        The page written.
    """
    root = Path(results_root)
    root.mkdir(parents=True, exist_ok=True)
    dirs = list_scenario_dirs(root)
    entries = {}
    verdict_tables = []
    for folder in dirs:
        has_page = (folder / "index.html").is_file()
        entry = _scenario_entry(folder, has_page)
        entries[folder.name] = entry
        if not entry.verdicts.empty:
            verdict_tables.append(entry.verdicts.assign(scenario=folder.name, _has_page=has_page))
    links = copy_docs(root, docs_dir)

    parts = [
        "<h1>Zhangjiakou energy scenarios</h1>",
        "<p>Does each scenario meet its renewable-share target, by how much, and under which "
        "way of counting? Each scenario is an hourly optimisation of wind, solar, storage, "
        "export corridors, local demand and clean-heating load.</p>",
    ]
    if verdict_tables:
        verdicts = pd.concat(verdict_tables, ignore_index=True)
        parts.append(_answer_html(verdicts, {name: e.metrics for name, e in entries.items()}))
        rules = sorted({headline_rule_text(e.accounting) for e in entries.values()})
        explained = " · ".join(
            f'<a href="{escape(href)}">{escape(title)}</a>' for href, title in links.items()
        )
        parts.append(
            f'<p class="muted">Headline accounting: {escape("; ".join(rules))}. A calibration year '
            "compares the model with reported statistics; it is not a goal."
            + (f" See {explained}." if explained else "")
            + "</p>"
        )
    else:
        parts.append('<p class="muted">No verdicts yet.</p>')
    has_comparison = bool(dirs) and (root / COMPARISON_DIR).is_dir()
    answer_figure = ""
    if has_comparison:
        answer_figure, _ = _split_figures(root, COMPARISON_DIR, COMPARISON_FIGURES, COMPARISON_ANSWER_FIGURE)
        parts.append(answer_figure)

    if verdict_tables:
        parts.append('<h2 id="verdicts">Verdicts</h2>')
        parts.append(
            '<p class="muted">One row per scenario and target. Shares in % of the target\'s '
            "indicator (headline accounting of the scenario); margin = achieved − target in "
            "percentage points [pp]; the last column checks the verdict under every defensible "
            "accounting rule.</p>"
        )
        years = {name: e.year for name, e in entries.items()}
        rows = _verdict_rows(verdicts, with_scenario=True, years=years)
        parts.append(_table(["Scenario", *VERDICT_HEADER], rows, {3, 4, 5}))

    parts.append('<h2 id="scenarios">Scenarios</h2>')
    if entries:
        parts.append(_table(SCENARIO_LIST_HEADER, [e.row for e in entries.values()], {2, 4, 5, 6}))
    else:
        parts.append('<p class="muted">No completed scenario in this folder.</p>')

    if (root / VALIDATION_PAGE).is_file():
        parts.append('<h2 id="validation">Validation against an observed year</h2>')
        parts.append(
            '<p>The observed-year scenarios set against public figures of that year (generation, '
            "curtailment, corridor flows, storage output, shares), with sources and differences: "
            f'<a href="{escape(VALIDATION_PAGE)}">observed vs modelled</a>.</p>'
        )
    if (root / PATHWAY_PAGE).is_file():
        parts.append('<h2 id="pathway">Pathway 2022 → 2035</h2>')
        parts.append(
            "<p>The least-cost build-out that meets every period's target, against no target and "
            f'with near-optimal ranges: <a href="{escape(PATHWAY_PAGE)}">pathway page</a>.</p>'
        )
    parts += _sweeps_section(root)
    if has_comparison:
        parts += _comparison_section(root, skip=COMPARISON_ANSWER_FIGURE if answer_figure else "")
    root_rows = [
        [f'<a href="{escape(name)}">{escape(name)}</a>', escape(text)]
        for name, text in ROOT_TABLES.items()
        if (root / name).is_file()
    ]
    if dirs and root_rows:
        parts.append('<h2 id="tables">Tables</h2>')
        parts.append(_table(["File", "Content"], root_rows))
    parts.append(_footer_html([e.run for e in entries.values() if e.run is not None]))

    path = root / "index.html"
    path.write_text(_page("Zhangjiakou energy scenarios", "\n".join(parts)), encoding="utf-8")
    logger.info("wrote %s (%d scenarios)", path, len(dirs))
    return path


__all__ = [
    "copy_docs",
    "list_scenario_dirs",
    "load_run",
    "write_scenario_page",
    "write_site_index",
]
