"""Strict reading of a PyPSA CSV folder: every cell as PyPSA will read it, or a one-line error.

Reads ``networks/<folder>/*.csv`` (PyPSA's own CSV format); writes nothing.

PyPSA's importer is lenient: a misspelled column (``p_nom_extendible``) is kept as a custom
attribute, undefined carriers only warn, NaN cells fall back to defaults, and pandas' type
inference turns ``False`` into ``True`` in a column that holds one cell it cannot read as a
boolean. :func:`load_network` first reads every file itself (:func:`validate_folder`), so that
each mistake becomes a one-line :class:`~energy_model.exceptions.NetworkValidationError` naming
file, row and column; then imports with PyPSA, refuses any cell PyPSA reads differently from the
engine, and runs the PyPSA consistency checks whose findings break the LP. Columns that are not
PyPSA attributes are kept as PyPSA keeps them (with a notice), except near-misses of a real
attribute, which are errors with "did you mean". Limits of numbers: docs/reliability.md.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pypsa

from energy_model.exceptions import NetworkValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

#: Files of a PyPSA CSV folder that are not component tables.
NETWORK_FILES = {"network.csv", "snapshots.csv", "investment_periods.csv"}
#: Non-CSV files PyPSA writes into a folder; ignored.
IGNORED_SUFFIXES = {".json", ".md", ".txt", ".png", ".svg"}
#: Component lists the engine accepts in a CSV folder.
COMPONENT_LISTS = (
    "buses",
    "carriers",
    "generators",
    "loads",
    "links",
    "lines",
    "storage_units",
    "stores",
    "transformers",
    "line_types",
    "transformer_types",
    "shunt_impedances",
    "global_constraints",
    "shapes",
    "processes",
)
#: Columns that name a bus, per component list (``busN`` of links is matched by pattern).
BUS_COLUMNS = ("bus", "bus0", "bus1")
MULTI_PORT = re.compile(r"^(bus|efficiency)(\d+)$")
#: Attributes that must not be negative.
NON_NEGATIVE = {
    "p_nom",
    "p_nom_min",
    "p_nom_max",
    "e_nom",
    "e_nom_min",
    "e_nom_max",
    "s_nom",
    "s_nom_min",
    "s_nom_max",
    "max_hours",
    "capital_cost",
    "length",
    "standing_loss",
    "efficiency_store",
    "efficiency_dispatch",
    "v_nom",
}
#: Per-unit attributes and their allowed range, per component list.
PU_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "generators": {"p_max_pu": (0.0, 1.0), "p_min_pu": (-1.0, 1.0)},
    "storage_units": {
        "p_max_pu": (0.0, 1.0),
        "p_min_pu": (-1.0, 0.0),
        "efficiency_store": (0.0, 1.0),
        "efficiency_dispatch": (0.0, 1.0),
        "standing_loss": (0.0, 1.0),
    },
    "links": {"p_max_pu": (-1.0, 1.0), "p_min_pu": (-1.0, 1.0)},
    "lines": {"s_max_pu": (0.0, 1.0)},
    "stores": {"e_max_pu": (-1.0, 1.0), "e_min_pu": (-1.0, 1.0), "standing_loss": (0.0, 1.0)},
}
STRING_TYPES = {"string"}
#: Custom (non-PyPSA) columns expected per component list (no notice for them).
CUSTOM_COLUMNS: dict[str, set[str]] = {"buses": {"country"}}
#: Time-varying attributes where an empty cell means "not set" in PyPSA.
NAN_ALLOWED = {"state_of_charge_set"}


def configure_pypsa() -> None:
    """Set the PyPSA options the engine relies on (explicit, so no FutureWarnings)."""
    pypsa.options.api.legacy_string_dtype = False
    pypsa.options.params.optimize.include_objective_constant = False


#: Largest magnitude of a finite capacity, capacity limit or power set-point [MW or MWh].
#: 1000 times China's installed capacity (about 3e6 MW in 2024): a larger value is a unit slip
#: or a stand-in for "unlimited", which is ``inf`` (allowed where PyPSA's default is ``inf``).
CAPACITY_LIMIT = 1e9
#: Largest magnitude of a cost [currency per MW, MWh or start-up]. Far above any real cost
#: (PyPSA-Eur's load shedding is 1e5 EUR/MWh); HiGHS treats 1e20 as infinite and loses
#: precision long before that.
COST_LIMIT = 1e9
#: Largest magnitude of any other finite number (e.g. a CO2 limit in t) [-].
OTHER_LIMIT = 1e15
COST_ATTRIBUTES = {
    "capital_cost",
    "marginal_cost",
    "marginal_cost_quadratic",
    "marginal_cost_storage",
    "start_up_cost",
    "shut_down_cost",
    "stand_by_cost",
    "overnight_cost",
}
CAPACITY_PATTERN = re.compile(r"^(p_nom|e_nom|s_nom)(_min|_max|_set|_mod)?$|^(p_set|q_set|e_initial)$")
#: A number as the engine reads it: decimal digits, optional sign, fraction and exponent, or
#: ``inf``/``infinity`` (any case). Hexadecimal, ``1_000`` and thousands separators are refused.
NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$", re.IGNORECASE)
#: Spellings of booleans the engine reads (after trimming spaces, any case).
BOOLEAN_WORDS = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
#: Relative difference below which the engine's and pandas' reading of a number are the same
#: value: pandas' fast float parser is not correctly rounded for more than 17 digits.
SAME_NUMBER_RTOL = 1e-12
#: Weighting columns of snapshots.csv (PyPSA's, and the legacy single ``weightings``).
WEIGHTING_COLUMNS = ("objective", "stores", "generators", "weightings")
#: Longest distance (insertions, deletions, substitutions, swaps) between an unknown name and a
#: known one for it to count as a misspelling: 1 for names of 5 to 9 characters, 2 from 10 on
#: (``length_m`` next to ``length`` is SciGRID's custom column, not a typo).
NEAR_MISS_DISTANCE = 2


def _read_csv(path: Path, *, index_col: int | None = 0) -> pd.DataFrame:
    """Read one CSV of a network folder with a one-line error for unreadable files."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8"
        raise NetworkValidationError(msg, file=path) from err
    if not text.strip():
        msg = "file is empty; a component table needs at least a header row"
        raise NetworkValidationError(msg, file=path)
    header = text.splitlines()[0]
    if "," not in header and any(sep in header for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header)
        msg = f"columns are separated by {sep!r}; PyPSA CSV files use ','"
        raise NetworkValidationError(msg, file=path, row=1)
    rows = list(csv.reader(text.splitlines()))
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != width:
            msg = f"has {len(row)} cells but the header has {width}"
            raise NetworkValidationError(msg, file=path, row=f"line {number}")
    try:
        frame = pd.read_csv(path, index_col=index_col, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as err:
        msg = f"cannot be parsed as CSV ({' '.join(str(err).split())})"
        raise NetworkValidationError(msg, file=path) from err
    return frame


@functools.cache
def _attribute_table(list_name: str) -> pd.DataFrame:
    """Return PyPSA's attribute table (defaults, type, status) of a component list."""
    return pypsa.Network().components[list_name].defaults


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent swaps (optimal string alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def near_miss(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` is most likely a misspelling of, or ``None``.

    A misspelling is at least 5 characters long (``typ`` next to ``type`` is a custom column of
    SciGRID, not a typo) and one edit from the candidate, or up to :data:`NEAR_MISS_DISTANCE`
    edits for names of 10 characters or more.
    """
    if len(name) < 5:
        return None
    allowed = 1 if len(name) < 10 else NEAR_MISS_DISTANCE
    scored = sorted((_distance(name, str(c)), str(c)) for c in candidates if str(c) != name)
    if scored and scored[0][0] <= allowed:
        return scored[0][1]
    return None


def _check_names(frame: pd.DataFrame, path: Path) -> None:
    names = pd.Index(frame.index.astype(str))
    if (names.str.strip() == "").any():
        position = int(np.flatnonzero(names.str.strip() == "")[0]) + 2
        msg = "component name is empty"
        raise NetworkValidationError(msg, file=path, row=f"line {position}", column="name")
    duplicated = names[names.duplicated()]
    if len(duplicated):
        msg = "duplicate component name; names must be unique within a file"
        raise NetworkValidationError(msg, file=path, row=duplicated[0])


def parse_number(value: str) -> float:
    """Read one numeric cell the engine's way (:data:`NUMBER`); ``ValueError`` if it is not one."""
    text = value.strip()
    if not NUMBER.match(text):
        msg = f"value {value!r} is not a number"
        raise ValueError(msg)
    return float(text)


def _to_float(value: str, path: Path, row: object, column: str) -> float:
    if value.strip().lower() in {"nan", "-nan", "+nan"}:
        msg = "value is NaN; give a number or remove the column to use the PyPSA default"
        raise NetworkValidationError(msg, file=path, row=row, column=column)
    try:
        return parse_number(value)
    except ValueError as err:
        raise NetworkValidationError(str(err), file=path, row=row, column=column) from err


def _magnitude_limit(attribute: str) -> tuple[float, str]:
    """Largest finite magnitude of an attribute and what kind of number it is."""
    if attribute in COST_ATTRIBUTES:
        return COST_LIMIT, "costs"
    if CAPACITY_PATTERN.match(attribute):
        return CAPACITY_LIMIT, "capacities and power set-points"
    return OTHER_LIMIT, "numbers"


def _check_value_range(
    value: float, list_name: str, attribute: str, path: Path, row: object
) -> None:
    if np.isnan(value):
        msg = "value is NaN; give a number or remove the column to use the PyPSA default"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    attrs = _attribute_table(list_name)
    default = attrs.at[attribute, "default"] if attribute in attrs.index else None
    limit, kind = _magnitude_limit(attribute)
    if np.isinf(value):
        if not (isinstance(default, float) and default == value):
            msg = (
                f"value {value:g} is not allowed for {attribute} (only attributes whose PyPSA "
                f"default is {value:g} may be infinite); give a number within ±{limit:g}"
            )
            raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    elif abs(value) > limit:
        msg = (
            f"value {value:g} is beyond the limit ±{limit:g} of {kind} (check the unit; "
            "docs/reliability.md, 'Limits')"
        )
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    if attribute in NON_NEGATIVE and value < 0:
        msg = f"value {value:g} is negative; {attribute} must be >= 0"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    low, high = PU_RANGES.get(list_name, {}).get(attribute, (-np.inf, np.inf))
    if not low <= value <= high:
        msg = f"value {value:g} is outside [{low:g}, {high:g}]"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)


def _column_kind(list_name: str, column: str) -> str:
    """``string``, ``boolean``, ``int`` or ``float`` (PyPSA's type of a column)."""
    attrs = _attribute_table(list_name)
    is_port = MULTI_PORT.match(column)
    if is_port:
        return "string" if is_port.group(1) == "bus" else "float"
    kind = str(attrs.at[column, "type"])
    if kind in STRING_TYPES or kind in {"boolean", "int"}:
        return kind
    return "float" if kind == "float" or "static" in kind else kind


def _unknown_columns(list_name: str, frame: pd.DataFrame, path: Path, custom: set[str]) -> list[str]:
    """Columns that are not PyPSA attributes: misspellings are errors, the rest are kept."""
    attrs = _attribute_table(list_name)
    kept = []
    for column in frame.columns:
        if MULTI_PORT.match(column) and list_name in {"links", "processes"}:
            continue
        if column in attrs.index or column in custom:
            continue
        guess = near_miss(column, attrs.index)
        if guess is not None:
            msg = (
                f"unknown column '{column}' (not a PyPSA attribute of {list_name}; did you mean "
                f"'{guess}'?)"
            )
            raise NetworkValidationError(msg, file=path, column=column)
        kept.append(column)
    if kept:
        logger.warning(
            "%s: kept non-PyPSA column(s) %s as custom attributes (PyPSA ignores them)",
            path, ", ".join(kept),
        )
    return kept


def _check_static(list_name: str, path: Path, custom: set[str]) -> pd.DataFrame:
    """Validate ``<list_name>.csv`` and return its cells as the engine reads them.

    Returns
    -------
    pandas.DataFrame
        One column per PyPSA attribute in the file (custom columns left out), object dtype:
        ``str`` for strings (empty cell: PyPSA's default), ``bool`` for booleans (empty: the
        default), ``float`` for numbers.
    """
    frame = _read_csv(path)
    _check_names(frame, path)
    attrs = _attribute_table(list_name)
    custom = custom | CUSTOM_COLUMNS.get(list_name, set())
    kept = set(_unknown_columns(list_name, frame, path, custom)) | custom
    parsed = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if column in kept:
            continue
        kind = _column_kind(list_name, column)
        default = attrs.at[column, "default"] if column in attrs.index else ""
        values: list[object] = []
        for row, raw in frame[column].items():
            if kind == "string":
                values.append(raw if raw != "" else str(default))
                continue
            if raw == "":
                if kind == "boolean":
                    values.append(bool(default))
                    continue
                msg = "empty cell; give a value or remove the column to use the PyPSA default"
                raise NetworkValidationError(msg, file=path, row=row, column=column)
            if kind == "boolean":
                word = raw.strip().lower()
                if word not in BOOLEAN_WORDS:
                    msg = f"value {raw!r} is not a boolean (True/False or 1/0)"
                    raise NetworkValidationError(msg, file=path, row=row, column=column)
                values.append(BOOLEAN_WORDS[word])
                continue
            value = _to_float(raw, path, row, column)
            _check_value_range(value, list_name, column, path, row)
            if kind == "int" and value != int(value):
                msg = f"value {raw!r} is not a whole number; {column} is an integer"
                raise NetworkValidationError(msg, file=path, row=row, column=column)
            values.append(value)
        parsed[column] = pd.Series(values, index=frame.index, dtype=object)
    _check_static_physics(list_name, parsed, path)
    return parsed


def _check_static_physics(list_name: str, parsed: pd.DataFrame, path: Path) -> None:
    """Row-wise physics of one table: minimum above maximum, negative efficiency."""
    for nominal in ("p_nom", "e_nom", "s_nom"):
        low, high = f"{nominal}_min", f"{nominal}_max"
        if low in parsed.columns and high in parsed.columns:
            for row in parsed.index:
                if float(parsed.at[row, low]) > float(parsed.at[row, high]):
                    msg = (
                        f"{low} {float(parsed.at[row, low]):g} is above {high} "
                        f"{float(parsed.at[row, high]):g}; no capacity can satisfy both"
                    )
                    raise NetworkValidationError(msg, file=path, row=row, column=low)
    if list_name == "links" and "efficiency" in parsed.columns:
        for row, value in parsed["efficiency"].items():
            _check_efficiency(float(value), path, row, "efficiency")


def _check_efficiency(value: float, path: Path, row: object, column: str) -> None:
    if value < 0:
        msg = (
            f"value {value:g} is negative; a link's efficiency to bus1 must be >= 0 (an extra "
            "input is a negative efficiency2, efficiency3, ... on busN)"
        )
        raise NetworkValidationError(msg, file=path, row=row, column=column)


def _parse_series(frame: pd.DataFrame, attribute: str, path: Path) -> pd.DataFrame:
    """Numbers of a time-series file as the engine reads them; refuse any other cell."""
    values: dict[str, list[float]] = {}
    for column in frame.columns:
        text = frame[column].astype(str).str.strip()
        empty = text == ""
        number = text.str.fullmatch(NUMBER.pattern, case=False)
        bad = ~number & ~(empty & (attribute in NAN_ALLOWED))
        if bad.any():
            row = frame.index[bad.to_numpy().argmax()]
            raw = frame.at[row, column]
            what = "empty cell" if raw == "" else f"value {raw!r} is not a number"
            msg = f"{what}; time series need a number in every snapshot"
            raise NetworkValidationError(msg, file=path, row=row, column=column)
        values[column] = [float(t) if t else np.nan for t in text]
    return pd.DataFrame(values, index=frame.index, columns=frame.columns, dtype=float)


def _check_dynamic(
    list_name: str,
    attribute: str,
    path: Path,
    names: pd.Index,
    snapshots: pd.Index,
    positions: pd.Index,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate ``<list_name>-<attribute>.csv``: attribute, columns, index and values.

    Returns
    -------
    raw, values
        The cells as text and as the engine reads them (float; NaN only where allowed).
    """
    attrs = _attribute_table(list_name)
    known = attribute in attrs.index and "series" in str(attrs.at[attribute, "type"])
    if not known and not (MULTI_PORT.match(attribute) and list_name == "links"):
        msg = f"'{attribute}' is not a time-varying attribute of {list_name}"
        raise NetworkValidationError(msg, file=path)
    frame = _read_csv(path)
    unknown = [c for c in frame.columns if c not in names]
    if unknown:
        msg = f"column '{unknown[0]}' is not a component in {list_name}.csv"
        raise NetworkValidationError(msg, file=path, column=unknown[0])
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        msg = "duplicate column"
        raise NetworkValidationError(msg, file=path, column=duplicated[0])
    if len(frame) != len(snapshots):
        msg = f"has {len(frame)} rows but the network has {len(snapshots)} snapshots"
        raise NetworkValidationError(msg, file=path)
    index = pd.Index(frame.index.astype(str))
    if index.equals(positions):
        index = snapshots
    mismatch = np.flatnonzero(index != pd.Index(snapshots.astype(str)))
    if len(mismatch):
        first = mismatch[0]
        msg = (
            f"index '{index[first]}' does not match snapshot '{snapshots[first]}' "
            f"(row {first + 2}); time series must use the network's snapshots in order"
        )
        raise NetworkValidationError(msg, file=path, row=index[first])
    values = _parse_series(frame, attribute, path)
    low, high = PU_RANGES.get(list_name, {}).get(attribute, (-np.inf, np.inf))
    if attribute in NON_NEGATIVE:
        low = max(low, 0.0)
    default = attrs.at[attribute, "default"] if attribute in attrs.index else None
    limit, kind = _magnitude_limit(attribute)
    for column in frame.columns:
        column_values = values[column]
        infinite = np.isinf(column_values) & ~(column_values == default)
        huge = np.isfinite(column_values) & (column_values.abs() > limit)
        out = (column_values < low) | (column_values > high)
        for mask, text in (
            (infinite, f"is not allowed for {attribute} (its PyPSA default is {default!s}); give a "
                       f"number within ±{limit:g}"),
            (huge, f"is beyond the limit ±{limit:g} of {kind} (check the unit; "
                   "docs/reliability.md, 'Limits')"),
            (out, f"is outside [{low:g}, {high:g}]"),
        ):
            if mask.any():
                row = frame.index[mask.to_numpy().argmax()]
                msg = f"value {float(values.at[row, column]):g} {text}"
                raise NetworkValidationError(msg, file=path, row=row, column=column)
        if list_name == "links" and attribute == "efficiency" and (column_values < 0).any():
            row = frame.index[(column_values < 0).to_numpy().argmax()]
            _check_efficiency(float(values.at[row, column]), path, row, column)
    return frame, values


def _parse_snapshots(labels: pd.Index, path: Path) -> None:
    """Timestamps must all parse, carry no timezone and rise strictly; plain labels are kept."""
    stamps = []
    for label in labels:
        try:
            stamps.append(pd.Timestamp(label))
        except (ValueError, TypeError):
            stamps.append(None)
    parsed = [s for s in stamps if s is not None]
    if not parsed or labels.str.fullmatch(r"\s*[+-]?\d+\s*").all():
        return  # labels such as "now" or 0, 1, 2: no time axis
    for label, stamp in zip(labels, stamps, strict=True):
        if stamp is None:
            msg = "snapshot is not a timestamp while the others are (e.g. a typo in the date)"
            raise NetworkValidationError(msg, file=path, row=label)
        if stamp.tzinfo is not None:
            msg = (
                "snapshot has a timezone offset; write local times without an offset "
                "(PyPSA and the engine's time axis are timezone-naive)"
            )
            raise NetworkValidationError(msg, file=path, row=label)
    for i in range(1, len(stamps)):
        if stamps[i] <= stamps[i - 1]:
            msg = f"snapshots are not in increasing time order (this one follows '{labels[i - 1]}')"
            raise NetworkValidationError(msg, file=path, row=labels[i])


def _snapshots(folder: Path) -> tuple[pd.Index, pd.Index, pd.DataFrame]:
    """Snapshot labels, the index PyPSA may use in time-series files (labels or positions),
    and the snapshot weightings as the engine reads them [h]."""
    path = folder / "snapshots.csv"
    if not path.exists():
        return pd.Index(["now"]), pd.Index(["now"]), pd.DataFrame()
    frame = _read_csv(path, index_col=None)
    column = "snapshot" if "snapshot" in frame.columns else frame.columns[0]
    positional = column != frame.columns[0]
    if "period" in frame.columns and frame["period"].astype(str).str.strip().ne("").any():
        msg = "multi-period (investment period) networks are not supported"
        raise NetworkValidationError(msg, file=path, column="period")
    snapshots = pd.Index(frame[column].astype(str))
    duplicated = snapshots[snapshots.duplicated()]
    if len(duplicated):
        msg = "duplicate snapshot"
        raise NetworkValidationError(msg, file=path, row=duplicated[0])
    _parse_snapshots(snapshots, path)
    weightings = pd.DataFrame(index=snapshots)
    for name in (c for c in WEIGHTING_COLUMNS if c in frame.columns):
        values = []
        for label, raw in zip(snapshots, frame[name], strict=True):
            if raw.strip() == "":
                msg = "empty weighting; every snapshot needs its duration in hours"
                raise NetworkValidationError(msg, file=path, row=label, column=name)
            try:
                value = parse_number(raw)
            except ValueError as err:
                raise NetworkValidationError(str(err), file=path, row=label, column=name) from err
            if not (np.isfinite(value) and 0 <= value <= OTHER_LIMIT):
                msg = f"weighting {value:g} must be a finite number >= 0 [h]"
                raise NetworkValidationError(msg, file=path, row=label, column=name)
            values.append(value)
        weightings[name] = values
    alternative = pd.Index(frame[frame.columns[0]].astype(str)) if positional else snapshots
    return snapshots, alternative, weightings


class _Tables:
    """What the engine read from a folder, to compare with what PyPSA imports."""

    def __init__(self) -> None:
        self.statics: dict[str, pd.DataFrame] = {}
        self.raw_statics: dict[str, pd.DataFrame] = {}
        self.dynamics: dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]] = {}
        self.snapshots = pd.Index([])
        self.weightings = pd.DataFrame()


def validate_folder(folder: Path, allow_custom_columns: Iterable[str] = ()) -> None:
    """Check every file of a PyPSA CSV folder before PyPSA imports it.

    Parameters
    ----------
    folder
        The PyPSA CSV folder.
    allow_custom_columns
        Non-PyPSA columns that are expected, as ``"<list>.<column>"`` (no notice for them).

    Raises
    ------
    NetworkValidationError
        On the first problem found, naming file, row and column.
    """
    _validate(folder, allow_custom_columns)


def _validate(folder: Path, allow_custom_columns: Iterable[str]) -> _Tables:
    if not folder.is_dir():
        msg = "network folder does not exist"
        raise NetworkValidationError(msg, file=folder)
    csv_files = sorted(folder.glob("*.csv"))
    if not any(p.name == "buses.csv" for p in csv_files):
        msg = "no buses.csv: not a PyPSA CSV network folder"
        raise NetworkValidationError(msg, file=folder)
    tables = _Tables()
    snapshots, positions, tables.weightings = _snapshots(folder)
    tables.snapshots = snapshots
    dynamics: list[tuple[str, str, Path]] = []
    for path in csv_files:
        stem = path.stem
        if path.name in NETWORK_FILES:
            _read_csv(path, index_col=None)
            continue
        if stem in COMPONENT_LISTS:
            custom = {
                entry.partition(".")[2]
                for entry in allow_custom_columns
                if entry.partition(".")[0] == stem
            }
            tables.statics[stem] = _check_static(stem, path, custom)
            continue
        list_name, _, attribute = stem.partition("-")
        if list_name in COMPONENT_LISTS and attribute:
            dynamics.append((list_name, attribute, path))
            continue
        msg = (
            "unknown file: expected <component>.csv or <component>-<attribute>.csv "
            f"with a PyPSA component list name ({', '.join(COMPONENT_LISTS[:8])}, ...)"
        )
        raise NetworkValidationError(msg, file=path)
    for path in folder.iterdir():
        if path.suffix not in IGNORED_SUFFIXES | {".csv"} and not path.name.startswith("."):
            logger.debug("ignoring %s", path)
    for list_name, attribute, path in dynamics:
        names = tables.statics[list_name].index if list_name in tables.statics else pd.Index([])
        tables.dynamics[list_name, attribute] = _check_dynamic(
            list_name, attribute, path, pd.Index(names.astype(str)), snapshots, positions
        )
    _check_references(folder, tables.statics)
    _check_topology_physics(folder, tables)
    return tables


def _check_references(folder: Path, statics: dict[str, pd.DataFrame]) -> None:
    """Components must sit on existing buses and use defined carriers.

    A bus reference marked required by PyPSA (``bus``, ``bus0``, ``bus1``) must name a bus;
    optional ones (``busN`` of links, ``bus`` of a global constraint) may be empty. An
    undefined carrier of a bus is a label only (a notice); of any other component it is an
    error, since the carrier decides costs, emissions and the renewable accounting.
    """
    buses = statics.get("buses", pd.DataFrame()).index.astype(str)
    carriers = statics.get("carriers")
    for list_name, frame in statics.items():
        path = folder / f"{list_name}.csv"
        attrs = _attribute_table(list_name)
        for column in frame.columns:
            is_bus_column = column in BUS_COLUMNS or (
                MULTI_PORT.match(column) and column.startswith("bus")
            )
            if not is_bus_column or list_name == "buses":
                continue
            required = column in attrs.index and "required" in str(attrs.at[column, "status"])
            for row, bus in frame[column].items():
                if bus == "" and not required:
                    continue
                if bus not in buses:
                    guess = near_miss(str(bus), buses)
                    hint = f"; did you mean '{guess}'?" if guess else ""
                    msg = f"bus '{bus}' is not defined in buses.csv{hint}"
                    raise NetworkValidationError(msg, file=path, row=row, column=column)
        if carriers is None or "carrier" not in frame.columns or list_name == "carriers":
            continue
        undefined = sorted({c for c in frame["carrier"] if c != "" and c not in carriers.index})
        if not undefined:
            continue
        if list_name == "buses":
            logger.warning("%s: bus carrier(s) %s not in carriers.csv (labels only)",
                           path, ", ".join(undefined))
            continue
        row = frame.index[frame["carrier"].isin(undefined).to_numpy().argmax()]
        carrier = str(frame.at[row, "carrier"])
        guess = near_miss(carrier, carriers.index)
        hint = f"; did you mean '{guess}'?" if guess else ""
        msg = f"carrier '{carrier}' is not defined in carriers.csv{hint}"
        raise NetworkValidationError(msg, file=path, row=row, column="carrier")


def _check_topology_physics(folder: Path, tables: _Tables) -> None:
    """Physics across tables: energy from nothing over a link, branches that break the LP.

    * A link between two buses of the same carrier moves that carrier; an efficiency above 1
      (static or in any snapshot) creates energy from nothing.
    * An AC line or transformer with zero reactance ``x``, or a DC line with zero resistance
      ``r``, makes PyPSA's flow equations divide by zero (a DC line's zero ``x`` is fine; a
      branch with a standard ``type`` takes its impedance from the type).
    """
    buses = tables.statics.get("buses", pd.DataFrame())
    carrier_of = buses["carrier"].astype(str) if "carrier" in buses.columns else None
    links = tables.statics.get("links")
    if links is not None and carrier_of is not None:
        for column in [c for c in links.columns if MULTI_PORT.match(c) and c.startswith("bus")]:
            if column != "bus0":
                _check_link_gain(folder, tables, links, carrier_of, column)
    for list_name in ("lines", "transformers"):
        frame = tables.statics.get(list_name)
        if frame is None or carrier_of is None:
            continue
        for row in frame.index:
            dc = list_name == "lines" and carrier_of.get(frame.at[row, "bus0"], "") == "DC"
            column = "r" if dc else "x"
            value = float(frame.at[row, column]) if column in frame.columns else 0.0
            active = bool(frame.at[row, "active"]) if "active" in frame.columns else True
            typed = "type" in frame.columns and str(frame.at[row, "type"]) != ""
            if value == 0 and active and not typed:
                kind = "DC line" if dc else ("AC line" if list_name == "lines" else "transformer")
                msg = (
                    f"{column} is 0 on an {kind}: its flow equation would divide by zero "
                    f"(give the {'resistance' if dc else 'reactance'} in ohm)"
                )
                raise NetworkValidationError(msg, file=folder / f"{list_name}.csv", row=row, column=column)


def _check_link_gain(
    folder: Path, tables: _Tables, links: pd.DataFrame, carrier_of: pd.Series, port: str
) -> None:
    """No efficiency above 1 between two buses of the same carrier (static or any snapshot)."""
    efficiency = "efficiency" if port == "bus1" else f"efficiency{port[3:]}"
    carrier0 = links["bus0"].map(carrier_of)
    same = (links[port].map(carrier_of) == carrier0) & (links[port] != "") & carrier0.ne("")
    series = tables.dynamics.get(("links", efficiency), (None, pd.DataFrame()))[1]
    for row in links.index[same.to_numpy()]:
        found: list[tuple[float, Path, object, str]] = []
        if efficiency in links.columns:
            found.append((float(links.at[row, efficiency]), folder / "links.csv", row, efficiency))
        if row in series.columns and len(series):
            peak = series[row].idxmax()
            found.append((float(series.at[peak, row]), folder / f"links-{efficiency}.csv", peak, row))
        for value, path, at, column in found:
            if value > 1:
                msg = (
                    f"efficiency {value:g} > 1 on link '{row}' between two '{carrier0[row]}' buses "
                    f"({links.at[row, 'bus0']!s} -> {links.at[row, port]!s}) creates energy from nothing"
                )
                raise NetworkValidationError(msg, file=path, row=at, column=column)


def _differs(kind: str, mine: object, theirs: object) -> bool:
    if kind == "string":
        return str(mine) != str(theirs)
    if kind == "boolean":
        return bool(mine) != bool(theirs)
    a, b = float(mine), float(theirs)
    if np.isnan(a) or np.isnan(b):
        return not (np.isnan(a) and np.isnan(b))
    return not (a == b or abs(a - b) <= SAME_NUMBER_RTOL * max(abs(a), abs(b)))


def _compare_with_pypsa(n: pypsa.Network, tables: _Tables, folder: Path) -> None:
    """Every cell must mean to PyPSA what it means to the engine, else the file is refused.

    PyPSA reads CSV with pandas' type inference: in a column that also holds one cell pandas
    cannot read as a boolean, ``False`` becomes ``True``; names such as ``01`` or ``NA``
    become ``1`` or ``nan``. Such cells are refused with what PyPSA would have read.
    """
    for list_name, parsed in tables.statics.items():
        static = n.components[list_name].static
        path = folder / f"{list_name}.csv"
        held = [str(name) for name in static.index]
        for mine, theirs in zip(parsed.index.astype(str), held, strict=True):
            if mine != theirs:
                msg = (
                    f"component name '{mine}' is read by PyPSA as '{theirs}' (pandas takes it for "
                    "a number or a missing value); use a name that starts with a letter"
                )
                raise NetworkValidationError(msg, file=path, row=mine)
        for column in parsed.columns:
            if column not in static.columns:
                continue
            kind = _column_kind(list_name, column)
            for row, mine, theirs in zip(parsed.index, parsed[column], static[column], strict=True):
                if _differs(kind, mine, theirs):
                    msg = (
                        f"the cell means {mine!r} but PyPSA reads it as {theirs!r} (pandas infers "
                        f"one type for the whole column); write "
                        f"{'True/False' if kind == 'boolean' else repr(mine)} in every cell"
                    )
                    raise NetworkValidationError(msg, file=path, row=row, column=column)
    for (list_name, attribute), (_, values) in tables.dynamics.items():
        dynamic = n.components[list_name].dynamic
        if attribute not in dynamic:
            continue
        held = dynamic[attribute]
        path = folder / f"{list_name}-{attribute}.csv"
        for column in values.columns:
            theirs = held[column].to_numpy(dtype=float)
            mine = values[column].to_numpy(dtype=float)
            same = (mine == theirs) | np.isclose(
                mine, theirs, rtol=SAME_NUMBER_RTOL, atol=0.0, equal_nan=True
            )
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                msg = f"the cell means {mine[i]!r} but PyPSA reads it as {theirs[i]!r}"
                raise NetworkValidationError(msg, file=path, row=values.index[i], column=column)
    for column in tables.weightings.columns:
        if column not in n.snapshot_weightings.columns:
            continue
        theirs = n.snapshot_weightings[column].to_numpy(dtype=float)
        mine = tables.weightings[column].to_numpy(dtype=float)
        if not np.allclose(mine, theirs, rtol=SAME_NUMBER_RTOL, atol=0.0):
            i = int(np.flatnonzero(~np.isclose(mine, theirs, rtol=SAME_NUMBER_RTOL, atol=0.0))[0])
            msg = f"the weighting means {mine[i]!r} but PyPSA reads it as {theirs[i]!r}"
            raise NetworkValidationError(msg, file=folder / "snapshots.csv",
                                         row=tables.snapshots[i], column=column)


#: PyPSA consistency checks whose finding breaks the LP (others are covered by the engine's
#: own checks, e.g. zero impedance per line kind, or are harmless, e.g. an unused bus).
LP_BREAKING_CHECKS = [
    "unknown_buses",
    "time_series",
    "static_power_attrs",
    "time_series_power_attrs",
    "nans_for_component_default_attrs",
    "phase_shift_bounds",
    "generators",
    "dispatch_delays",
    "maintenance",
    "investment_periods",
    "line_types",
    "transformer_types",
]


def check_consistency(n: pypsa.Network) -> None:
    """PyPSA's consistency check, strict for :data:`LP_BREAKING_CHECKS`, its other findings to
    the debug log (the engine checks zero impedances and carriers itself)."""
    consistency_logger = logging.getLogger("pypsa.consistency")
    level = consistency_logger.level
    consistency_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n.consistency_check(strict=LP_BREAKING_CHECKS)
    finally:
        consistency_logger.setLevel(level)


def load_network(folder: str | Path, allow_custom_columns: Iterable[str] = ()) -> pypsa.Network:
    """Load a PyPSA CSV folder with the engine's strict checks.

    Parameters
    ----------
    folder
        PyPSA CSV folder (``network.csv``, ``buses.csv``, ``generators.csv``,
        ``generators-p_max_pu.csv``, ...).
    allow_custom_columns
        Non-PyPSA columns that are expected, as ``"<list>.<column>"`` (no notice for them).

    Returns
    -------
    pypsa.Network
        The imported network.

    Raises
    ------
    NetworkValidationError
        Misspelt column, unknown file, empty/NaN/non-numeric/negative/out-of-range/too large
        value, time series not matching the snapshots, duplicate name, missing bus or undefined
        carrier, physics that cannot hold, or a cell that PyPSA would read differently.
    """
    folder = Path(folder)
    configure_pypsa()
    tables = _validate(folder, allow_custom_columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        n = pypsa.Network(folder)
    _compare_with_pypsa(n, tables, folder)
    try:
        check_consistency(n)
    except Exception as err:  # PyPSA raises ConsistencyError; keep message on one line
        msg = f"PyPSA consistency check failed: {' '.join(str(err).split())}"
        raise NetworkValidationError(msg, file=folder) from err
    logger.info(
        "loaded %s: %d buses, %d generators, %d links, %d snapshots",
        folder,
        len(n.buses),
        len(n.generators),
        len(n.links),
        len(n.snapshots),
    )
    return n
