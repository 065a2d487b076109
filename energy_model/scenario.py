"""Scenario files: the strict pydantic schema and ``load_scenario``.

Reads ``scenarios/<name>.yaml``; writes nothing. Defaults live here and only here: a scenario
file holds what differs from them. Unknown keys are rejected, and every error names the file
and the dotted key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from energy_model.exceptions import ScenarioError

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
#: Bus carriers that carry electricity (PyPSA uses ``AC``/``DC``; some example networks call
#: the carrier ``electricity``). Defined once; accounting and report both use it.
ELECTRICITY_BUS_CARRIERS: tuple[str, ...] = ("AC", "DC", "electricity")
SCENARIO_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
#: Longest scenario name [characters]: the name becomes ``results/<name>/`` and the hidden
#: ``.<name>.tmp-<pid>``/``.<name>.old-<pid>``/``.<name>.lock`` next to it, which must stay
#: well inside the 255-byte file-name limit of common file systems.
MAX_NAME_LENGTH = 64
#: Folders the engine itself writes into ``results/`` (comparison figures, the validation and
#: cross-check pages, sweeps, the site's copy of the docs): a scenario may not take these names.
RESERVED_RESULT_NAMES = frozenset({"comparison", "crosscheck", "docs", "sweeps", "validation"})
#: ``kind`` of a pathway spec (docs/pathway.md): a file in ``scenarios/`` with ``kind: pathway``
#: is run by the pathway runner, not loaded as a single-year scenario.
PATHWAY_KIND = "pathway"
#: Name prefix of every pathway spec, hence of its result folder ``results/pathway-<...>/``: a
#: single-year scenario may not take it (the two would write into one folder).
PATHWAY_NAME_PREFIX = "pathway-"

#: PyPSA component list names an override may address.
ComponentListName = Literal[
    "buses",
    "carriers",
    "generators",
    "loads",
    "links",
    "lines",
    "storage_units",
    "stores",
    "global_constraints",
]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML safe loader that refuses a key repeated in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                msg = f"duplicate key '{key}' on lines {seen[key]} and {line}; YAML keeps only the last"
                raise ScenarioError(msg, key=str(key))
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file strictly (duplicate keys are errors); one-line ScenarioError otherwise."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text ({err.reason})"
        raise ScenarioError(msg, file=path) from err
    except ScenarioError as err:
        raise ScenarioError(err.message, file=path, key=err.key) from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        msg = f"malformed YAML: {where}{problem}"
        raise ScenarioError(msg, file=path) from err


class StrictModel(BaseModel):
    """Base model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class TimeResolution(StrictModel):
    """How the year of snapshots is represented in the optimisation."""

    method: Literal["hourly", "resample", "segment"] = "hourly"
    """``hourly``: every snapshot of the network; ``resample``: uniform blocks of ``hours``;
    ``segment``: tsam segmentation into ``segments`` variable-length blocks."""
    hours: int = Field(default=1, ge=1, le=8784)
    """Block length for ``resample`` [h]."""
    segments: int = Field(default=876, ge=1, le=8784)
    """Number of segments for ``segment`` [-]."""


class SnapshotWindow(StrictModel):
    """Optimise only the snapshots between ``start`` and ``end`` (inclusive), e.g. for a quick
    look at one season. Storage is cyclic within the window."""

    start: str
    """First snapshot, e.g. ``"2022-01-01"`` (any string pandas parses as a timestamp)."""
    end: str
    """Last snapshot, e.g. ``"2022-01-31 23:00"``."""


class ScreeningConfig(StrictModel):
    """Investment screening (:mod:`energy_model.optimization.screening`): extendable capacities that a
    coarse run leaves unbuilt are fixed in the full LP, and their reduced costs prove afterwards
    that fixing them did not change the optimum (a failing one is released and the LP re-solved)."""

    enabled: bool = True
    """Screen before solving; ``false`` solves the full LP with every option open."""
    coarse_segments: int = Field(default=292, ge=2, le=8784)
    """Snapshots of the coarse proposal run (tsam segments) [-]."""
    min_snapshots: int = Field(default=2000, ge=0)
    """Screen only LPs with at least this many snapshots; smaller ones solve fast anyway [-]."""


class SolverConfig(StrictModel):
    """Solver and its options (passed to HiGHS unchanged)."""

    name: Literal["highs"] = "highs"
    """Solver name; only HiGHS is shipped and tested."""
    options: dict[str, bool | int | float | str] = Field(
        default_factory=lambda: dict[str, bool | int | float | str](threads=2, solver="simplex"),
    )
    """HiGHS options. Default: dual simplex, measured 3.6x faster than IPM on the full-year
    plan-2022 LP (docs/performance.md); e.g. ``{solver: ipm, run_crossover: "off"}`` for IPM."""
    screening: ScreeningConfig = Field(default_factory=ScreeningConfig)
    """Investment screening before the solve (exact; see :mod:`energy_model.optimization.screening`)."""


class Override(StrictModel):
    """Set or scale one attribute of the components chosen by name, carrier and/or bus.

    Static attributes (a column of ``<component>.csv``) and time-varying ones
    (``<component>-<attribute>.csv``) are both supported; ``scale`` multiplies, ``set`` replaces.
    """

    component: ComponentListName
    """PyPSA list name, e.g. ``generators``."""
    attribute: str
    """Attribute to change, e.g. ``p_nom`` or ``p_set``."""
    name: list[str] | None = None
    """Component names (all must exist)."""
    carrier: list[str] | None = None
    """Carrier ids; selects components whose ``carrier`` is in this list."""
    bus: list[str] | None = None
    """Bus names; selects components attached (``bus``, ``bus0`` or ``bus1``) to these buses."""
    set: float | bool | str | None = None
    """New value."""
    scale: float | None = Field(default=None, ge=0)
    """Factor applied to the current value."""

    @model_validator(mode="after")
    def _one_action_and_a_selector(self) -> Override:
        if (self.set is None) == (self.scale is None):
            msg = "give exactly one of 'set' or 'scale'"
            raise ValueError(msg)
        if self.name is None and self.carrier is None and self.bus is None:
            msg = "give at least one selector: 'name', 'carrier' or 'bus'"
            raise ValueError(msg)
        return self


class Target(StrictModel):
    """A renewable-share goal from the plan, checked after every run and optionally enforced."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    """Id of the target, e.g. ``final_energy_2022``."""
    indicator: Literal["final_energy", "electricity"] = "final_energy"
    """``final_energy``: renewable share of final energy consumption; ``electricity``: renewable
    share of local electricity consumption."""
    min_share: float = Field(ge=0, le=1)
    """Minimum share [-], e.g. 0.30."""
    enforce: bool = False
    """Add the target as a constraint of the optimisation."""
    source: str = ""
    """Where the target comes from."""
    kind: Literal["goal", "calibration"] = "goal"
    """``goal``: a plan target, judged PASS/FAIL. ``calibration``: a share already reported for
    a historical year; the model is judged CALIBRATED (within ``calibration_band_pp``) or OFF,
    never PASS/FAIL."""
    calibration_band_pp: float = Field(default=2.0, gt=0, le=20)
    """Half-width of the calibration band [percentage points] (``kind: calibration`` only)."""

    @model_validator(mode="after")
    def _calibration_is_not_enforced(self) -> Target:
        if self.kind == "calibration" and self.enforce:
            msg = "a calibration target reports a historical share; it cannot be enforced"
            raise ValueError(msg)
        return self


class ExportContract(StrictModel):
    """A contracted annual delivery over one or more export links (e.g. 14.1 TWh/yr to Beijing)."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    """Id of the contract."""
    links: list[str] = Field(min_length=1)
    """Names of the links whose delivered energy (at ``bus1``) counts."""
    min_energy_twh: float = Field(ge=0)
    """Minimum delivered energy per year [TWh]."""
    renewable_only: bool = False
    """Reserved for green-certificate contracts; the delivered energy is attributed by the
    accounting rules either way."""


class AccountingConfig(StrictModel):
    """How the renewable share of final energy is computed (see docs/accounting.md)."""

    region: str = "zhangjiakou"
    """Buses whose ``location`` equals this are local; flows to other buses are exports."""
    renewable_carriers: list[str] = Field(
        default_factory=lambda: [
            "onwind", "solar", "biomass", "biomass_boiler", "solar_thermal"
        ],
    )
    """Carrier ids of renewable generators (carriers absent from the network are ignored)."""
    electricity_valuation: Literal["coal_equivalent", "calorific"] = "coal_equivalent"
    """Headline valuation of electricity in tce; both are always reported."""
    coal_equivalent_kgce_per_kwh: float | None = Field(default=None, gt=0, lt=1)
    """Coal-equivalent factor [kgce/kWh]; ``None`` takes the year's value from data."""
    attribution: Literal[
        "annual_mix", "green_contract", "hourly_mix", "export_first", "local_first"
    ] = "annual_mix"
    """Headline rule to split renewable electricity between local use and exports (all are
    reported; docs/accounting.md). ``annual_mix``: the annual local generation mix, as an energy
    balance counts it."""
    enforce_attribution: Literal["annual_mix", "green_contract"] | None = None
    """Rule an enforced target is held to; ``None``: the headline rule (which must then be an
    annual rule)."""
    include_ambient_heat: bool = False
    """Count heat-pump ambient heat as renewable (EU RED style)."""
    final_energy_table: str = "data/final_energy.csv"
    """Non-electric final energy by year/sector/fuel [Mtce], relative to the project root."""


class HeatingRealisation(StrictModel):
    """How much of the planned heat electrification exists (plan = 1, 1).

    The network carries the plan's electric heating (600,000 rural households, 16 Mm2 of urban
    floor area); a share below 1 keeps that share of the electric heaters and stores and heats
    the rest with coal stoves (rural) or coal boilers (urban), see
    ``energy_model.network.apply_heating_electrification``.
    """

    rural_electrified_share: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share [-] of the plan's rural households heated electrically."""
    urban_electrified_share: float = Field(default=1.0, ge=0.0, le=1.0)
    """Share [-] of the plan's urban floor area heated electrically."""
    source: str = ""
    """Where the shares come from (required when a share is below 1)."""

    @model_validator(mode="after")
    def _sourced(self) -> HeatingRealisation:
        if min(self.rural_electrified_share, self.urban_electrified_share) < 1.0 and not self.source.strip():
            msg = "heating.source must say where an electrified share below 1 comes from"
            raise ValueError(msg)
        return self


class Scenario(StrictModel):
    """One scenario: a base network, its year, targets and what differs from the base."""

    name: Annotated[str, Field(pattern=SCENARIO_NAME_PATTERN)]
    """Scenario id; equals the file stem."""
    description: str = ""
    """One paragraph for the report."""
    network: str
    """Network CSV folder, relative to the project root (e.g. ``networks/zhangjiakou``) or absolute."""
    year: int = Field(ge=2000, le=2100)
    """Calendar year the scenario represents."""
    targets: list[Target] = Field(default_factory=list)
    """Renewable-share targets to check (and optionally enforce)."""
    overrides: list[Override] = Field(default_factory=list)
    """Changes to the base network, applied in order."""
    export_contracts: list[ExportContract] = Field(default_factory=list)
    """Minimum annual deliveries over export corridors."""
    snapshots: SnapshotWindow | None = None
    """Optimise a window of the year only; ``None`` (default) = every snapshot of the network."""
    time: TimeResolution = Field(default_factory=TimeResolution)
    """Time resolution of the optimisation."""
    solver: SolverConfig = Field(default_factory=SolverConfig)
    """Solver options."""
    accounting: AccountingConfig = Field(default_factory=AccountingConfig)
    """Renewable-share accounting options."""
    heating: HeatingRealisation = Field(default_factory=HeatingRealisation)
    """Electrified share of the planned rural and urban heating (plan: all of it)."""
    allow_custom_columns: list[Annotated[str, Field(pattern=r"^[a-z_]+\.[A-Za-z0-9_]+$")]] = Field(
        default_factory=list
    )
    """Non-PyPSA CSV columns the network may carry, as ``<list>.<column>``; any other unknown
    column is rejected as a likely misspelling."""

    @model_validator(mode="after")
    def _unique_target_names(self) -> Scenario:
        names = [t.name for t in self.targets]
        if len(names) != len(set(names)):
            msg = f"target names must be unique, got {names}"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _enforceable_rule(self) -> Scenario:
        accounting = self.accounting
        if (
            any(t.enforce for t in self.targets)
            and accounting.enforce_attribution is None
            and accounting.attribution not in ("annual_mix", "green_contract")
        ):
            msg = (
                f"a target is enforced but the headline rule '{accounting.attribution}' is hourly "
                "and cannot be enforced; set accounting.enforce_attribution to annual_mix or "
                "green_contract"
            )
            raise ValueError(msg)
        return self

    @property
    def enforced_attribution(self) -> str:
        """The attribution rule enforced targets are held to."""
        return self.accounting.enforce_attribution or self.accounting.attribution


def format_validation_error(
    error: ValidationError,
    *,
    hidden_parts: frozenset[str] = frozenset(),
    unknown_key_first: bool = False,
) -> tuple[str, str]:
    """Return ``(dotted key, message)`` of the first pydantic error.

    ``hidden_parts`` are left out of the key (e.g. the tags of a tagged union). With
    ``unknown_key_first`` an unknown key is reported before any other error: a misspelt key
    also makes the correctly spelt one "missing", and the misspelling is the cause.
    """
    errors = error.errors()
    first = errors[0]
    if unknown_key_first:
        first = next((e for e in errors if e["type"] == "extra_forbidden"), first)
    key = ".".join(str(p) for p in first["loc"] if str(p) not in hidden_parts) or "<root>"
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = first["msg"]
        if "input" in first and not isinstance(first["input"], dict | list):
            message += f" (got {first['input']!r})"
    return key, message


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Parameters
    ----------
    path
        ``scenarios/<name>.yaml``.

    Returns
    -------
    Scenario
        The validated scenario, defaults filled in.

    Raises
    ------
    ScenarioError
        Missing file, malformed YAML, unknown key, wrong type or value, or ``name`` not equal
        to the file stem. The message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        msg = "scenario file does not exist"
        raise ScenarioError(msg, file=path)
    raw: Any = load_yaml(path)
    if not isinstance(raw, dict):
        msg = "a scenario file must be a YAML mapping of keys to values"
        raise ScenarioError(msg, file=path)
    if raw.get("kind") == PATHWAY_KIND:
        msg = (
            "a pathway spec (kind: pathway), not a single-year scenario: run it with "
            "'energy-model run' or 'energy-model pathway'"
        )
        raise ScenarioError(msg, file=path, key="kind")
    raw.setdefault("name", path.stem)
    name = str(raw["name"])
    if name.startswith(PATHWAY_NAME_PREFIX):
        msg = (
            f"scenario name '{name}' starts with '{PATHWAY_NAME_PREFIX}', the prefix of pathway "
            "result folders; choose another name (or mark a pathway spec with kind: pathway)"
        )
        raise ScenarioError(msg, file=path, key="name")
    if len(name) > MAX_NAME_LENGTH:
        msg = (
            f"scenario name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed "
            "(it names the result folder)"
        )
        raise ScenarioError(msg, file=path, key="name")
    if name in RESERVED_RESULT_NAMES:
        msg = (
            f"scenario name '{name}' is the name of a folder the engine writes into results/ "
            f"({', '.join(sorted(RESERVED_RESULT_NAMES))}); choose another name"
        )
        raise ScenarioError(msg, file=path, key="name")
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        key, message = format_validation_error(err)
        raise ScenarioError(message, file=path, key=key) from err
    if scenario.name != path.stem:
        msg = f"name '{scenario.name}' must equal the file stem '{path.stem}'"
        raise ScenarioError(msg, file=path, key="name")
    return scenario


def is_pathway_file(path: str | Path) -> bool:
    """Whether ``path`` is a pathway spec: a YAML mapping with ``kind: pathway``.

    A file that does not parse is not one (the scenario loader then reports the error).
    """
    try:
        raw = load_yaml(Path(path))
    except (ScenarioError, OSError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == PATHWAY_KIND


def resolve_project_path(scenario_path: str | Path, relative: str) -> Path:
    """Resolve a path written in a scenario file.

    Relative paths are taken from the project root, the parent of the folder that holds the
    scenario file (``<root>/scenarios/<name>.yaml``).
    """
    candidate = Path(relative)
    if candidate.is_absolute():
        return candidate
    return (Path(scenario_path).resolve().parent.parent / candidate).resolve()


def scenario_to_yaml(scenario: Scenario) -> str:
    """Serialise a scenario with all defaults filled in (the 'resolved scenario')."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


__all__ = [
    "ELECTRICITY_BUS_CARRIERS",
    "ID_PATTERN",
    "AccountingConfig",
    "ExportContract",
    "Override",
    "Scenario",
    "SnapshotWindow",
    "SolverConfig",
    "Target",
    "TimeResolution",
    "load_scenario",
    "resolve_project_path",
    "scenario_to_yaml",
]
