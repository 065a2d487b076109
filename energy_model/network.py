"""Network stage: load a PyPSA CSV folder strictly and apply a scenario to it.

Reads ``networks/<folder>/*.csv`` (PyPSA's own CSV format); writes nothing.

PyPSA's importer is lenient: a misspelled column (``p_nom_extendible``) is kept as a custom
attribute, undefined carriers only warn, NaN cells fall back to defaults. ``load_network`` first
checks every file itself, so that each mistake becomes a one-line
:class:`~energy_model.exceptions.NetworkValidationError` naming file, row and column, then
imports with PyPSA and runs ``n.consistency_check(strict=["all"])``.
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

from energy_model.exceptions import NetworkValidationError, ScenarioError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from energy_model.scenario import Override, Scenario

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
    "storage_units": {"p_max_pu": (0.0, 1.0), "p_min_pu": (-1.0, 0.0)},
    "links": {"p_max_pu": (-1.0, 1.0), "p_min_pu": (-1.0, 1.0)},
    "lines": {"s_max_pu": (0.0, 1.0)},
    "stores": {"e_max_pu": (-1.0, 1.0), "e_min_pu": (-1.0, 1.0)},
}
STRING_TYPES = {"string"}
#: Custom (non-PyPSA) columns accepted per component list. PyPSA-Eur and PyPSA's own examples
#: put ``country`` on buses; anything else is treated as a misspelling.
CUSTOM_COLUMNS: dict[str, set[str]] = {"buses": {"country"}}
#: Time-varying attributes where an empty cell means "not set" in PyPSA.
NAN_ALLOWED = {"state_of_charge_set"}


def local_bus_mask(buses: pd.DataFrame, region: str) -> pd.Series:
    """Whether each bus of a bus table is inside the region (the one definition of "local").

    A bus is local when its ``location`` equals ``region``, or when no bus sets a ``location``
    at all (e.g. PyPSA's example networks): then the whole network is the region.

    Returns
    -------
    pandas.Series
        Boolean, indexed by bus name.
    """
    if "location" not in buses.columns:
        return pd.Series(data=True, index=buses.index)
    location = buses["location"].fillna("").astype(str).replace("nan", "").str.strip()
    if (location == "").all():
        return pd.Series(data=True, index=buses.index)
    return location == region


def local_buses(n: pypsa.Network, region: str) -> pd.Index:
    """Names of the buses inside the region (see :func:`local_bus_mask`)."""
    return n.buses.index[local_bus_mask(n.buses, region).to_numpy()]


#: Bus carrier of heat buses (see docs/heating.md); the one definition of a "heat bus".
HEAT_BUS_CARRIER = "heat"


def heat_buses(n: pypsa.Network, buses: Iterable[str] | None = None) -> pd.Index:
    """Names of the heat buses (bus carrier :data:`HEAT_BUS_CARRIER`), within ``buses`` if given."""
    index = n.buses.index if buses is None else pd.Index(list(buses))
    carriers = n.buses.loc[index, "carrier"].astype(str)
    return index[(carriers == HEAT_BUS_CARRIER).to_numpy()]


def border_flows(
    n: pypsa.Network, region: str, components: tuple[str, ...] = ("Link", "Line")
) -> pd.DataFrame:
    """Hourly flow leaving the region over each branch that crosses its border [MW].

    A branch (link or line) crosses the border when exactly one of ``bus0``/``bus1`` is local
    (:func:`local_buses`). Its flow is what it withdraws at the local end: ``p0`` when ``bus0``
    is local, ``p1`` when ``bus1`` is. Positive = power leaves the region (export), negative =
    power enters it (import). Never netted across branches.

    Returns
    -------
    pandas.DataFrame
        Snapshots × branch names (links first, then lines, each in network order) [MW].
    """
    local = set(local_buses(n, region))
    columns: dict[str, pd.Series] = {}
    for component in components:
        static = n.components[component].static
        dynamic = n.components[component].dynamic
        for name, bus0, bus1 in zip(static.index, static["bus0"], static["bus1"], strict=True):
            in0, in1 = bus0 in local, bus1 in local
            if in0 == in1:
                continue
            flow = dynamic["p0" if in0 else "p1"]
            columns[str(name)] = flow[name] if name in flow else pd.Series(0.0, index=n.snapshots)
    return pd.DataFrame(columns, index=n.snapshots)


def border_corridors(n: pypsa.Network, region: str) -> dict[str, list[str]]:
    """Group the border-crossing branches into corridors, keyed by the corridor's label.

    A corridor is the set of links and lines joining the same local bus and external bus with
    the same carrier, e.g. an export link and its reverse ``…_import`` link. It is labelled
    after its first export-direction link (``bus0`` local), else its first member.
    """
    local = set(local_buses(n, region))
    members: dict[tuple[str, str, str], list[tuple[str, bool]]] = {}
    for component in ("Link", "Line"):
        static = n.components[component].static
        for name, row in static.iterrows():
            for port, other in ((0, 1), (1, 0)):
                here, there = row[f"bus{port}"], row[f"bus{other}"]
                if here in local and there not in local:
                    key = (str(here), str(there), str(row.get("carrier", "")))
                    members.setdefault(key, []).append((str(name), port == 0))
    corridors: dict[str, list[str]] = {}
    for parts in members.values():
        outward = [name for name, is_bus0 in parts if is_bus0]
        label = outward[0] if outward else parts[0][0]
        corridors[label] = [name for name, _ in parts]
    return corridors


def corridor_flows(n: pypsa.Network, region: str) -> pd.DataFrame:
    """Net flow of each border corridor (:func:`border_corridors`) at its local end [MW].

    The sum of :func:`border_flows` over the corridor's branches: positive = export,
    negative = import.
    """
    flows = border_flows(n, region)
    columns = {
        label: flows[names].sum(axis=1) if names else pd.Series(0.0, index=n.snapshots)
        for label, names in border_corridors(n, region).items()
    }
    return pd.DataFrame(columns, index=n.snapshots)


def configure_pypsa() -> None:
    """Set the PyPSA options the engine relies on (explicit, so no FutureWarnings)."""
    pypsa.options.api.legacy_string_dtype = False
    pypsa.options.params.optimize.include_objective_constant = False


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


def _to_float(value: str, path: Path, row: object, column: str) -> float:
    try:
        return float(value)
    except ValueError as err:
        msg = f"value {value!r} is not a number"
        raise NetworkValidationError(msg, file=path, row=row, column=column) from err


def _check_value_range(
    value: float, list_name: str, attribute: str, path: Path, row: object
) -> None:
    if np.isnan(value):
        msg = "value is NaN; give a number or remove the column to use the PyPSA default"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    if attribute in NON_NEGATIVE and value < 0:
        msg = f"value {value:g} is negative; {attribute} must be >= 0"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)
    low, high = PU_RANGES.get(list_name, {}).get(attribute, (-np.inf, np.inf))
    if not low <= value <= high:
        msg = f"value {value:g} is outside [{low:g}, {high:g}]"
        raise NetworkValidationError(msg, file=path, row=row, column=attribute)


def _check_static(list_name: str, path: Path, custom: set[str]) -> pd.DataFrame:
    """Validate ``<list_name>.csv``: columns, names, types and ranges of each cell."""
    frame = _read_csv(path)
    _check_names(frame, path)
    attrs = _attribute_table(list_name)
    custom = custom | CUSTOM_COLUMNS.get(list_name, set())
    for column in frame.columns:
        if MULTI_PORT.match(column) and list_name in {"links", "processes"}:
            continue
        if column not in attrs.index and column not in custom:
            msg = f"unknown column '{column}' (not a PyPSA attribute of {list_name}; check the spelling)"
            raise NetworkValidationError(msg, file=path, column=column)
    for column in frame.columns:
        if column in custom:
            continue
        kind = str(attrs.at[column, "type"]) if column in attrs.index else "float"
        is_port = MULTI_PORT.match(column)
        if is_port and is_port.group(1) == "bus":
            kind = "string"
        if kind in STRING_TYPES:
            continue
        for row, raw in frame[column].items():
            if raw == "":
                if kind == "boolean":
                    continue
                msg = "empty cell; give a value or remove the column to use the PyPSA default"
                raise NetworkValidationError(msg, file=path, row=row, column=column)
            if kind == "boolean":
                if raw.strip().lower() not in {"true", "false", "1", "0", "1.0", "0.0"}:
                    msg = f"value {raw!r} is not a boolean (True/False)"
                    raise NetworkValidationError(msg, file=path, row=row, column=column)
                continue
            if kind in {"float", "int"} or "static" in kind:
                value = _to_float(raw, path, row, column)
                _check_value_range(value, list_name, column, path, row)
    return frame


def _check_dynamic(
    list_name: str,
    attribute: str,
    path: Path,
    names: pd.Index,
    snapshots: pd.Index,
    positions: pd.Index,
) -> None:
    """Validate ``<list_name>-<attribute>.csv``: attribute, columns, index and values."""
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
    values = frame.apply(pd.to_numeric, errors="coerce")
    for column in frame.columns:
        bad = values[column].isna()
        if attribute in NAN_ALLOWED:
            bad &= frame[column] != ""
        if bad.any():
            row = frame.index[bad.to_numpy().argmax()]
            raw = frame.at[row, column]
            what = "empty cell" if raw == "" else f"value {raw!r} is not a number"
            msg = f"{what}; time series need a number in every snapshot"
            raise NetworkValidationError(msg, file=path, row=row, column=column)
        low, high = PU_RANGES.get(list_name, {}).get(attribute, (-np.inf, np.inf))
        if attribute in NON_NEGATIVE:
            low = max(low, 0.0)
        out = (values[column] < low) | (values[column] > high)
        if out.any():
            row = frame.index[out.to_numpy().argmax()]
            value = values.at[row, column]
            msg = f"value {value:g} is outside [{low:g}, {high:g}]"
            raise NetworkValidationError(msg, file=path, row=row, column=column)


def _snapshots(folder: Path) -> tuple[pd.Index, pd.Index]:
    """Snapshot labels and the index PyPSA may use in time-series files (labels or positions)."""
    path = folder / "snapshots.csv"
    if not path.exists():
        return pd.Index(["now"]), pd.Index(["now"])
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
    alternative = pd.Index(frame[frame.columns[0]].astype(str)) if positional else snapshots
    return snapshots, alternative


def validate_folder(folder: Path, allow_custom_columns: Iterable[str] = ()) -> None:
    """Check every file of a PyPSA CSV folder before PyPSA imports it.

    Parameters
    ----------
    folder
        The PyPSA CSV folder.
    allow_custom_columns
        Extra non-PyPSA columns to accept, as ``"<list>.<column>"`` (e.g. ``carriers.marginal_cost``).

    Raises
    ------
    NetworkValidationError
        On the first problem found, naming file, row and column.
    """
    if not folder.is_dir():
        msg = "network folder does not exist"
        raise NetworkValidationError(msg, file=folder)
    csv_files = sorted(folder.glob("*.csv"))
    if not any(p.name == "buses.csv" for p in csv_files):
        msg = "no buses.csv: not a PyPSA CSV network folder"
        raise NetworkValidationError(msg, file=folder)
    snapshots, positions = _snapshots(folder)
    statics: dict[str, pd.DataFrame] = {}
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
            statics[stem] = _check_static(stem, path, custom)
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
        names = statics[list_name].index if list_name in statics else pd.Index([])
        _check_dynamic(
            list_name, attribute, path, pd.Index(names.astype(str)), snapshots, positions
        )
    _check_references(folder, statics)


def _check_references(folder: Path, statics: dict[str, pd.DataFrame]) -> None:
    """Components must sit on existing buses and use defined carriers."""
    buses = statics.get("buses", pd.DataFrame()).index.astype(str)
    carriers = statics.get("carriers")
    for list_name, frame in statics.items():
        path = folder / f"{list_name}.csv"
        for column in frame.columns:
            is_bus_column = column in BUS_COLUMNS or (
                MULTI_PORT.match(column) and column.startswith("bus")
            )
            if not is_bus_column or list_name == "buses":
                continue
            for row, bus in frame[column].items():
                optional = column not in BUS_COLUMNS
                if bus == "" and optional:
                    continue
                if bus not in buses:
                    msg = f"bus '{bus}' is not defined in buses.csv"
                    raise NetworkValidationError(msg, file=path, row=row, column=column)
        if carriers is not None and "carrier" in frame.columns and list_name != "carriers":
            for row, carrier in frame["carrier"].items():
                if carrier != "" and carrier not in carriers.index:
                    msg = f"carrier '{carrier}' is not defined in carriers.csv"
                    raise NetworkValidationError(msg, file=path, row=row, column="carrier")


def load_network(folder: str | Path, allow_custom_columns: Iterable[str] = ()) -> pypsa.Network:
    """Load a PyPSA CSV folder with the engine's strict checks.

    Parameters
    ----------
    folder
        PyPSA CSV folder (``network.csv``, ``buses.csv``, ``generators.csv``,
        ``generators-p_max_pu.csv``, ...).
    allow_custom_columns
        Non-PyPSA columns to accept, as ``"<list>.<column>"``.

    Returns
    -------
    pypsa.Network
        The imported network.

    Raises
    ------
    NetworkValidationError
        Unknown column or file, empty/NaN/non-numeric/negative/out-of-range value, time
        series not matching the snapshots, duplicate name, missing bus or undefined carrier.
    """
    folder = Path(folder)
    configure_pypsa()
    validate_folder(folder, allow_custom_columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        n = pypsa.Network(folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n.consistency_check(strict=["all"])
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


# --------------------------------------------------------------------------------------
# Scenario application


def _select(n: pypsa.Network, override: Override, key: str, file: Path | None) -> pd.Index:
    """Names of the components an override addresses (intersection of its selectors)."""
    static = n.components[override.component].static
    mask = pd.Series(data=True, index=static.index)
    if override.name is not None:
        missing = [name for name in override.name if name not in static.index]
        if missing:
            msg = f"{override.component} has no component named '{missing[0]}'"
            raise ScenarioError(msg, file=file, key=f"{key}.name")
        mask &= static.index.isin(override.name)
    if override.carrier is not None:
        if "carrier" not in static.columns:
            msg = f"{override.component} have no carrier attribute"
            raise ScenarioError(msg, file=file, key=f"{key}.carrier")
        mask &= static["carrier"].isin(override.carrier)
    if override.bus is not None:
        bus_columns = [c for c in static.columns if c in BUS_COLUMNS]
        if not bus_columns:
            msg = f"{override.component} are not attached to buses"
            raise ScenarioError(msg, file=file, key=f"{key}.bus")
        mask &= static[bus_columns].isin(override.bus).any(axis=1)
    selected = static.index[mask]
    if selected.empty:
        msg = f"override selects no {override.component} (selectors match nothing)"
        raise ScenarioError(msg, file=file, key=key)
    return selected


def _check_override_set(override: Override, attrs: pd.DataFrame, key: str, file: Path | None) -> None:
    """A ``set`` value must be a number for a numeric attribute (not text or a boolean)."""
    kind = str(attrs.at[override.attribute, "type"]) if override.attribute in attrs.index else ""
    numeric = kind in {"float", "int"} or "static" in kind
    value = override.set
    if numeric and value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        msg = f"value {value!r} is not a number; '{override.attribute}' needs a number"
        raise ScenarioError(msg, file=file, key=f"{key}.set")


def _check_override_range(
    n: pypsa.Network, override: Override, selected: pd.Index, key: str, file: Path | None
) -> None:
    """The changed values must stay in the attribute's range (as in the CSV checks)."""
    component = n.components[override.component]
    attribute = override.attribute
    low, high = PU_RANGES.get(override.component, {}).get(attribute, (-np.inf, np.inf))
    if attribute in NON_NEGATIVE:
        low = max(low, 0.0)
    if not (np.isfinite(low) or np.isfinite(high)):
        return
    values = [component.static.loc[selected, attribute]]
    if attribute in component.dynamic:
        series = component.dynamic[attribute]
        values.append(series[selected.intersection(series.columns)].stack())
    for value in values:
        numbers = pd.to_numeric(value, errors="coerce").astype(float)
        out = numbers.isna() | (numbers < low) | (numbers > high)
        if out.any():
            msg = (
                f"the override makes {override.component} {attribute} "
                f"{float(numbers[out].iloc[0]):g}, outside [{low:g}, {high:g}]"
            )
            raise ScenarioError(msg, file=file, key=key)


def apply_override(
    n: pypsa.Network, override: Override, *, key: str = "overrides", file: Path | None = None
) -> pd.Index:
    """Set or scale one attribute of the selected components in place.

    Time-varying attributes given as a series are changed in ``<component>-<attr>``; otherwise
    the static value is changed (a ``set`` on a series attribute replaces the series by the
    static value).

    Returns
    -------
    pandas.Index
        Names of the changed components.
    """
    component = n.components[override.component]
    selected = _select(n, override, key, file)
    attribute = override.attribute
    attrs = component.defaults
    if attribute not in attrs.index and not MULTI_PORT.match(attribute):
        msg = f"'{attribute}' is not an attribute of {override.component}"
        raise ScenarioError(msg, file=file, key=f"{key}.attribute")
    static = component.static
    dynamic = component.dynamic
    series = dynamic[attribute] if attribute in dynamic else pd.DataFrame()
    in_series = selected.intersection(series.columns)
    if override.scale is not None:
        if attribute in static.columns and not pd.api.types.is_numeric_dtype(static[attribute]):
            msg = f"cannot scale non-numeric attribute '{attribute}'"
            raise ScenarioError(msg, file=file, key=f"{key}.scale")
        static_only = selected.difference(in_series)
        if attribute not in static.columns:
            static[attribute] = attrs.at[attribute, "default"]
        static.loc[static_only, attribute] = static.loc[static_only, attribute] * override.scale
        if len(in_series):
            series.loc[:, in_series] = series.loc[:, in_series] * override.scale
    else:
        _check_override_set(override, attrs, key, file)
        if len(in_series):
            dynamic[attribute] = series.drop(columns=in_series)
        value = override.set
        if attribute not in static.columns:
            static[attribute] = attrs.at[attribute, "default"]
        static.loc[selected, attribute] = value
    _check_override_range(n, override, selected, key, file)
    logger.info(
        "override %s: %s.%s %s on %d component(s)",
        key,
        override.component,
        attribute,
        f"x{override.scale}" if override.scale is not None else f"= {override.set}",
        len(selected),
    )
    return selected


def apply_snapshot_window(n: pypsa.Network, start: str, end: str, *, file: Path | None = None) -> None:
    """Keep only the snapshots from ``start`` to ``end`` (inclusive), in place."""
    try:
        stamps = pd.DatetimeIndex(n.snapshots)
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except (TypeError, ValueError) as err:
        msg = f"snapshot window needs timestamps ({' '.join(str(err).split())})"
        raise ScenarioError(msg, file=file, key="snapshots") from err
    keep = n.snapshots[(stamps >= first) & (stamps <= last)]
    if keep.empty:
        msg = (
            f"window {start} .. {end} contains no snapshot of the network "
            f"({n.snapshots[0]} .. {n.snapshots[-1]})"
        )
        raise ScenarioError(msg, file=file, key="snapshots")
    n.set_snapshots(keep)


def apply_scenario(n: pypsa.Network, sc: Scenario, *, file: Path | None = None) -> None:
    """Apply a scenario's overrides and time resolution to a loaded network, in place.

    Raises
    ------
    ScenarioError
        An override names a missing component or attribute, or selects nothing.
    """
    for i, override in enumerate(sc.overrides):
        apply_override(n, override, key=f"overrides.{i}", file=file)
    for i, contract in enumerate(sc.export_contracts):
        missing = [link for link in contract.links if link not in n.links.index]
        if missing:
            msg = f"export contract names link '{missing[0]}' that is not in links.csv"
            raise ScenarioError(msg, file=file, key=f"export_contracts.{i}.links")
    carriers = set(n.carriers.index)
    for i, target in enumerate(sc.targets):
        del target
        if not set(sc.accounting.renewable_carriers) & carriers:
            msg = "none of accounting.renewable_carriers is a carrier of the network"
            raise ScenarioError(msg, file=file, key=f"targets.{i}")
    if sc.snapshots is not None:
        apply_snapshot_window(n, sc.snapshots.start, sc.snapshots.end, file=file)
    if sc.time.method != "hourly":
        from energy_model.timeseries import apply_time_resolution  # noqa: PLC0415

        apply_time_resolution(n, sc.time)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n.consistency_check(strict=["all"])
    except Exception as err:
        msg = f"network is inconsistent after the overrides: {' '.join(str(err).split())}"
        raise ScenarioError(msg, file=file, key="overrides") from err
