"""Site stage: the static HTML pages of the published result bundle.

Reads ``results/<scenario>/`` folders (``run.json``, ``scenario.yaml``, ``verdict.csv``,
``metrics.csv``, ``figures/*.png``/``*.svg``) and ``results/comparison/``; writes
``results/<scenario>/index.html`` and ``results/index.html``. Pages are plain HTML with a small
inline style sheet, no JavaScript and only relative links, so the ``results/`` folder can be
published on any web server or opened from disk as it is.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from energy_model.records import RunRecord, RunRecordError, read_run_record
from energy_model.report.catalog import COMPARISON_FIGURES, SCENARIO_FIGURES, FigureSpec
from energy_model.report.loading import load_metrics, load_scenario_yaml, load_verdicts, scenario_name
from energy_model.report.quantities import ELECTRICITY_GROUP, headline_share, metric_values, share_table
from energy_model.tables import headline_attribution

logger = logging.getLogger(__name__)

#: Folder of the cross-scenario figures and tables inside ``results/``.
COMPARISON_DIR = "comparison"

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
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1rem 1.5rem 3rem; color: #1d1d1d; line-height: 1.45; }
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
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


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
    return escape(text) + (f'<br><span class="muted">{escape(extra)}</span>' if extra else "")


def _verdict_rows(verdicts: pd.DataFrame, with_scenario: bool, link_prefix: str = "") -> list[list[str]]:
    """Rows of a verdict table: (scenario,) target, indicator, target, achieved, margin, verdict."""
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
        row += [
            escape(str(v.get("target", ""))),
            escape(str(v.get("indicator", ""))),
            escape(str(v.get("variant", "") if pd.notna(v.get("variant", "")) else "")),
            _fmt(float(v.get("target_share", float("nan"))) * 100),
            _fmt(float(v.get("achieved_share", float("nan"))) * 100),
            _fmt(v.get("margin_pp", float("nan"))),
            _status_cell(v.get("status", "")),
            _robust_cell(v.get("robust_status", ""), v.get("robust_detail", "")),
        ]
        rows.append(row)
    return rows


VERDICT_HEADER = [
    "Target",
    "Indicator",
    "Accounting",
    "Target share [%]",
    "Achieved share [%]",
    "Margin [pp]",
    "Verdict",
    "Across accounting rules",
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


def _figures_html(base: Path, folder: str, specs: tuple[FigureSpec, ...]) -> str:
    """All figures of ``specs`` whose PNG and SVG exist under ``base/folder``."""
    parts = []
    number = 0
    for spec in specs:
        if (base / folder / f"{spec.name}.png").is_file() and (base / folder / f"{spec.name}.svg").is_file():
            number += 1
            parts.append(_figure_html(folder, spec, number))
    if not parts:
        return '<p class="muted">No figures were rendered.</p>'
    return "\n".join(parts)


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
    cost = metric_values(metrics, "system_cost", "billion CNY")
    if not cost.empty:
        rows.append(["System cost", _fmt(cost["value"].sum(), 3), "billion CNY/yr"])
    headline = headline_attribution(scenario.get("accounting"))
    shares = share_table(metrics, headline)
    for group, share in shares.iterrows():
        what = (
            "local electricity consumption"
            if group == ELECTRICITY_GROUP
            else "final energy, " + str(group).replace("|", ", ").replace("_", " ")
        )
        label = f"Renewable share of {what} ({headline.replace('_', '-')})"
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
    if run is not None:
        facts.append(["Objective [CNY/yr]", _fmt(run.objective, 0)])
    time = scenario.get("time") or {}
    if time:
        facts.append(["Time resolution", escape(", ".join(f"{k}={v}" for k, v in time.items()))])
    return facts


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
    if scenario.get("description"):
        parts.append(f"<p>{escape(str(scenario['description']))}</p>")
    parts.append(_table(["Item", "Value"], _facts_rows(scenario, run)))

    parts.append('<h2 id="verdicts">Targets</h2>')
    if verdicts.empty:
        parts.append('<p class="muted">This scenario checks no renewable-share target.</p>')
    else:
        parts.append(
            '<p class="muted">Shares in % of the indicator; margin = achieved − target in '
            "percentage points [pp].</p>"
        )
        parts.append(_table(VERDICT_HEADER, _verdict_rows(verdicts, with_scenario=False), {3, 4, 5}))

    key = _key_figures(metrics, scenario)
    if key:
        parts.append('<h2 id="key-figures">Key figures</h2>')
        parts.append(_table(["Quantity", "Value", "Unit"], key, {1}))

    parts.append('<h2 id="figures">Figures</h2>')
    parts.append(_figures_html(result_dir, "figures", SCENARIO_FIGURES))

    parts.append('<h2 id="files">Data files</h2>')
    parts.append(_table(["File", "Content", "Size"], _data_file_rows(result_dir), {2}))
    parts.append('<p class="muted noprint"><a href="../index.html">← All scenarios</a></p>')

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
    "System cost [billion CNY/yr]",
    "Targets met",
]


def _scenario_list_row(folder: Path, has_page: bool) -> tuple[list[str], pd.DataFrame]:
    """A scenario's row of the index's scenario list, and its verdicts."""
    scenario = load_scenario_yaml(folder)
    run = load_run(folder)
    verdicts = load_verdicts(folder, run)
    metrics = load_metrics(folder / "metrics.csv")
    share = headline_share(metrics, scenario.get("accounting"))
    cost = metric_values(metrics, "system_cost", "billion CNY")
    n_pass = int((verdicts.get("status", pd.Series(dtype=str)).astype(str).str.upper() == "PASS").sum())
    row = [
        f'<a href="{escape(folder.name)}/index.html">{escape(folder.name)}</a>'
        if has_page
        else escape(folder.name),
        escape(_shorten(str(scenario.get("description", "")))),
        escape(str(scenario.get("year", ""))),
        escape(run.status if run is not None else ""),
        _fmt(share["headline"] * 100) if share is not None else "–",
        f"{_fmt(share['low'] * 100)}–{_fmt(share['high'] * 100)}" if share is not None else "–",
        _fmt(cost["value"].sum(), 3) if not cost.empty else "–",
        f"{n_pass}/{len(verdicts)}" if len(verdicts) else "–",
    ]
    return row, verdicts


def _comparison_section(root: Path) -> list[str]:
    """The index's comparison figures and the links to the comparison tables that exist."""
    parts = ['<h2 id="comparison">Comparison</h2>', _figures_html(root, COMPARISON_DIR, COMPARISON_FIGURES)]
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


def write_site_index(results_root: Path) -> Path:
    """Write ``results/index.html``: verdict table, scenario list and comparison figures.

    Lists every scenario folder with a complete ``run.json`` (see :func:`list_scenario_dirs`);
    temporary and incomplete folders (names starting with ``.``) are ignored.

    Parameters
    ----------
    results_root
        The ``results/`` folder.

    Returns
    -------
    pathlib.Path
        The page written.
    """
    root = Path(results_root)
    root.mkdir(parents=True, exist_ok=True)
    dirs = list_scenario_dirs(root)
    summaries = []
    verdict_tables = []
    for folder in dirs:
        has_page = (folder / "index.html").is_file()
        row, verdicts = _scenario_list_row(folder, has_page)
        summaries.append(row)
        if not verdicts.empty:
            verdict_tables.append(verdicts.assign(scenario=folder.name, _has_page=has_page))

    parts = [
        "<h1>Zhangjiakou energy scenarios</h1>",
        "<p>Results of the scenario engine: each scenario is an hourly optimisation of wind, solar, "
        "storage, export corridors, local demand and clean-heating load, checked against the city's "
        "renewable-share targets. Every figure and table is rendered from the saved results in this "
        "folder.</p>",
        '<h2 id="verdicts">Verdicts</h2>',
    ]
    if verdict_tables:
        verdicts = pd.concat(verdict_tables, ignore_index=True)
        parts.append(
            '<p class="muted">One row per scenario and target. Shares in % of the target\'s '
            "indicator (headline accounting of the scenario); margin = achieved − target in "
            "percentage points [pp].</p>"
        )
        parts.append(
            _table(["Scenario", *VERDICT_HEADER], _verdict_rows(verdicts, with_scenario=True), {4, 5, 6})
        )
    else:
        parts.append('<p class="muted">No verdicts yet.</p>')

    parts.append('<h2 id="scenarios">Scenarios</h2>')
    if summaries:
        parts.append(_table(SCENARIO_LIST_HEADER, summaries, {2, 4, 5, 6, 7}))
    else:
        parts.append('<p class="muted">No completed scenario in this folder.</p>')

    if dirs and (root / COMPARISON_DIR).is_dir():
        parts += _comparison_section(root)
    root_rows = [
        [f'<a href="{escape(name)}">{escape(name)}</a>', escape(text)]
        for name, text in ROOT_TABLES.items()
        if (root / name).is_file()
    ]
    if dirs and root_rows:
        parts.append('<h2 id="tables">Tables</h2>')
        parts.append(_table(["File", "Content"], root_rows))

    path = root / "index.html"
    path.write_text(_page("Zhangjiakou energy scenarios", "\n".join(parts)), encoding="utf-8")
    logger.info("wrote %s (%d scenarios)", path, len(dirs))
    return path


__all__ = [
    "list_scenario_dirs",
    "load_run",
    "write_scenario_page",
    "write_site_index",
]
