"""Sweep files: the strict pydantic schema of ``sweeps/<name>.yaml`` and ``load_sweep``.

A sweep names a base scenario, the uncertain inputs (each a distribution and a target: what the
sampled value changes) and how to sample them. Unknown keys are rejected, and every error names
the sweep file and the dotted key (exit code 2), as for scenario files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import Field, ValidationError, model_validator

from energy_model.accounting import load_final_energy_table
from energy_model.exceptions import InputError, ScenarioError
from energy_model.scenario import (
    ID_PATTERN,
    SCENARIO_NAME_PATTERN,
    Override,
    Scenario,
    StrictModel,
    TimeResolution,
    format_validation_error,
    load_scenario,
    resolve_project_path,
)


class SweepError(InputError):
    """A sweep YAML file is invalid (exit code 2)."""


# --------------------------------------------------------------------------------------
# Distributions (each maps a unit-interval quantile q in [0, 1] to a value)


class Uniform(StrictModel):
    """Uniform between ``low`` and ``high`` (in the parameter's unit)."""

    type: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            msg = f"low ({self.low}) must be below high ({self.high})"
            raise ValueError(msg)
        return self


class Triangular(StrictModel):
    """Triangular between ``low`` and ``high`` with its peak at ``mode``."""

    type: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            msg = f"need low <= mode <= high and low < high (got {self.low}, {self.mode}, {self.high})"
            raise ValueError(msg)
        return self


class TruncatedNormal(StrictModel):
    """Normal with ``mean`` and standard deviation ``sd``, truncated to [``low``, ``high``]."""

    type: Literal["truncated_normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> TruncatedNormal:
        if not self.low < self.high:
            msg = f"low ({self.low}) must be below high ({self.high})"
            raise ValueError(msg)
        return self


class Choice(StrictModel):
    """One of ``values`` with probabilities ``weights`` (equal when omitted)."""

    type: Literal["choice"]
    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                msg = f"{len(self.weights)} weights for {len(self.values)} values"
                raise ValueError(msg)
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                msg = "weights must be >= 0 with a positive sum"
                raise ValueError(msg)
        return self


Distribution = Annotated[
    Uniform | Triangular | TruncatedNormal | Choice, Field(discriminator="type")
]


# --------------------------------------------------------------------------------------
# Targets (what a sampled value changes)


class OverrideTarget(StrictModel):
    """Scenario overrides whose ``set`` or ``scale`` value is replaced by the sampled value.

    Each entry is a scenario :class:`~energy_model.scenario.Override`; the number written in
    the file is the nominal value (documentation only), the sampled value replaces it. All
    entries receive the same value (e.g. one electrification share scaling heat pumps, heaters
    and thermal stores together).
    """

    kind: Literal["override"]
    overrides: list[Override] = Field(min_length=1)


class ExportContractTarget(StrictModel):
    """``min_energy_twh`` of one export contract of the base scenario [TWh/yr]."""

    kind: Literal["export_contract"]
    contract: str
    """Name of the contract in the base scenario's ``export_contracts``."""


class FinalEnergyRowTarget(StrictModel):
    """``value_mtce`` of rows of the final-energy table of the base year (set, or scale).

    Rows are selected by ``year`` and any of ``sector``, ``fuel`` and ``renewable`` (all rows
    of the year when none is given; at least one row must match). The sample's modified table
    is written into the sweep's scratch folder and the sample's scenario points
    ``accounting.final_energy_table`` at it (absolute path); the accounting code is unchanged.
    """

    kind: Literal["final_energy_row"]
    year: int
    sector: str | None = None
    fuel: str | None = None
    renewable: bool | None = None
    """``false``: the non-renewable (fossil) rows, e.g. to scale the fossil remainder together."""
    action: Literal["set", "scale"] = "scale"
    """``set``: the value is each selected row's new value [Mtce]; ``scale``: a factor [-]."""

    def matches(self, rows: pd.DataFrame) -> pd.Series:
        """Mask of the selected rows of a table with columns ``year, sector, fuel, renewable``
        (values as text or typed)."""
        mask = rows["year"].astype(str).str.strip() == str(self.year)
        if self.sector is not None:
            mask &= rows["sector"].astype(str).str.strip() == self.sector
        if self.fuel is not None:
            mask &= rows["fuel"].astype(str).str.strip() == self.fuel
        if self.renewable is not None:
            mask &= rows["renewable"].astype(str).str.strip().str.lower() == str(self.renewable).lower()
        return mask

    def describe(self) -> str:
        """``year 2022, sector 'industry', fuel 'coal'`` (the selectors given)."""
        parts = [f"year {self.year}"]
        parts += [f"{k} '{v}'" for k, v in (("sector", self.sector), ("fuel", self.fuel),
                                             ("renewable", self.renewable)) if v is not None]
        return ", ".join(parts)


class ScenarioKeyTarget(StrictModel):
    """A scalar accounting key of the scenario, e.g. ``accounting.coal_equivalent_kgce_per_kwh``."""

    kind: Literal["scenario_key"]
    key: Annotated[str, Field(pattern=r"^accounting\.[a-z_]+$")]
    """Dotted key below ``accounting`` (keys that change the network are not allowed)."""


class CapacityFactorTarget(StrictModel):
    """Scale the available full-load hours of variable generators by the sampled factor [-].

    Per generator, ``p_max_pu`` becomes ``min(1, k p_max_pu)`` with ``k`` found by bisection so
    that the weighted sum of ``p_max_pu`` is the factor times its base value (the network
    builder's own rescaling rule), so no hour exceeds its capacity.
    """

    kind: Literal["capacity_factor"]
    carrier: list[str] = Field(min_length=1)
    """Generator carriers to rescale, e.g. ``[onwind]``."""


class HeatingElectrificationTarget(StrictModel):
    """Share s [-] of the modelled electric heating that exists; the rest is heated with coal.

    Electric heating links (``p_nom``) and thermal stores (``e_nom``) are scaled by s; on every
    heat bus the coal backup generators get ``p_nom = (1 - s) x`` the bus's peak heat load
    (split equally between the backup generators of the bus), so s = 1 is the base scenario
    unchanged and s < 1 moves up to the matching part of the heat to coal. The rule is the one of
    a scenario's ``heating`` section (``energy_model.network.apply_heating_electrification``).
    """

    kind: Literal["heating_electrification"]
    electric_carriers: list[str] = Field(
        default_factory=lambda: ["heat_pump", "resistive_heater", "electric_boiler"]
    )
    """Link carriers of electric heating (scaled by s)."""
    store_carriers: list[str] = Field(default_factory=lambda: ["heat_storage", "water_tank"])
    """Store carriers of thermal storage (scaled by s)."""
    backup_carriers: list[str] = Field(default_factory=lambda: ["coal_stove", "coal_boiler"])
    """Generator carriers of the coal backup (sized to (1 - s) x the peak heat load)."""


ParameterTarget = Annotated[
    OverrideTarget | ExportContractTarget | FinalEnergyRowTarget | ScenarioKeyTarget
    | CapacityFactorTarget | HeatingElectrificationTarget,
    Field(discriminator="kind"),
]


class Parameter(StrictModel):
    """One uncertain input: its distribution, what it changes, its unit and its source."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    """Id, used as column name ``input.<name>`` in the sample store."""
    unit: str
    """Unit of the sampled value, e.g. ``-`` for a factor, ``TWh/yr``, ``kgce/kWh``."""
    source: str = Field(min_length=1)
    """Where the range comes from (source or stated assumption)."""
    distribution: Distribution
    target: ParameterTarget


class Sweep(StrictModel):
    """One uncertainty sweep over a base scenario."""

    name: Annotated[str, Field(pattern=SCENARIO_NAME_PATTERN)]
    """Sweep id; equals the file stem. Output goes to ``results/sweeps/<name>/``."""
    description: str = ""
    base: str
    """Base scenario file, relative to the project root (e.g. ``scenarios/plan-2022.yaml``)."""
    parameters: list[Parameter] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)
    """Fixed overrides applied to the base network of every sample (before time aggregation)."""
    sampler: Literal["sobol", "morris", "lhs", "oat"] = "sobol"
    """``sobol``: Saltelli design (SALib), first- and total-order indices; ``morris``: elementary
    effects (SALib); ``lhs``: Latin hypercube (scipy.stats.qmc); ``oat``: one at a time, each
    parameter at its low and high end, the others at their median (tornado)."""
    samples: int = Field(default=64, ge=1, le=1_000_000)
    """Budget of model runs [-]: ``lhs`` uses it exactly; ``sobol`` takes the largest power of two
    N with N (D + 2) <= samples; ``morris`` r = samples // (D + 1) trajectories; ``oat`` always
    runs 2 D + 1 (D = number of parameters)."""
    seed: int = Field(default=0, ge=0)
    """Seed of the sampler (same seed, same samples)."""
    time: TimeResolution = Field(
        default_factory=lambda: TimeResolution(method="segment", segments=876)
    )
    """Time resolution of every sample (replaces the base scenario's)."""
    in_place: bool = True
    """Re-solve each worker's one LP in place for its samples
    (:class:`energy_model.optimization.resolve.InPlaceResolver`: same optimum, no rebuild);
    ``false`` builds every sample's LP from scratch. Not part of the sample id."""

    @model_validator(mode="after")
    def _unique_parameter_names(self) -> Sweep:
        names = [p.name for p in self.parameters]
        if len(names) != len(set(names)):
            msg = f"parameter names must be unique, got {names}"
            raise ValueError(msg)
        return self


def project_root_of(sweep_path: str | Path) -> Path:
    """Project root of a sweep file: the parent of the folder that holds it."""
    return Path(sweep_path).resolve().parent.parent


#: Tags of the tagged unions of the sweep schema: left out of the key of an error message.
_UNION_TAGS = frozenset({
    "uniform", "triangular", "truncated_normal", "choice", "override", "export_contract",
    "final_energy_row", "scenario_key", "capacity_factor", "heating_electrification",
})


def load_sweep(path: str | Path) -> tuple[Sweep, Scenario]:
    """Read and validate a sweep file and its base scenario.

    Checks the schema, that ``name`` equals the file stem, that the base scenario loads, and that
    every target exists in it (export contracts by name, final-energy rows by year/sector/fuel,
    accounting keys).

    Returns
    -------
    tuple of (Sweep, Scenario)
        The sweep and its base scenario.

    Raises
    ------
    InputError
        One line naming the sweep file and the key (``SweepError``), or the base scenario file
        and its key (``ScenarioError``).
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError("sweep file does not exist", file=path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise SweepError(f"not UTF-8 text ({err.reason})", file=path) from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise SweepError(f"malformed YAML: {where}{problem}", file=path) from err
    if not isinstance(raw, dict):
        raise SweepError("a sweep file must be a YAML mapping of keys to values", file=path)
    raw.setdefault("name", path.stem)
    try:
        sweep = Sweep.model_validate(raw)
    except ValidationError as err:
        key, message = format_validation_error(
            err, hidden_parts=_UNION_TAGS, unknown_key_first=True
        )
        raise SweepError(message, file=path, key=key) from err
    if sweep.name != path.stem:
        msg = f"name '{sweep.name}' must equal the file stem '{path.stem}'"
        raise SweepError(msg, file=path, key="name")
    base_path = resolve_project_path(path, sweep.base)
    if not base_path.is_file():
        raise SweepError(f"base scenario '{sweep.base}' does not exist", file=path, key="base")
    base = load_scenario(base_path)
    _check_targets(sweep, base, path)
    return sweep, base


def _check_targets(sweep: Sweep, base: Scenario, path: Path) -> None:
    """Every target must name something that exists in the base scenario and its data."""
    contracts = {c.name for c in base.export_contracts}
    root = project_root_of(path)
    for i, parameter in enumerate(sweep.parameters):
        key = f"parameters.{i}.target"
        target = parameter.target
        if isinstance(target, ExportContractTarget) and target.contract not in contracts:
            msg = f"base scenario has no export contract '{target.contract}' (has {sorted(contracts)})"
            raise SweepError(msg, file=path, key=f"{key}.contract")
        if isinstance(target, ScenarioKeyTarget):
            field = target.key.split(".", 1)[1]
            if field not in type(base.accounting).model_fields:
                msg = f"'{target.key}' is not a key of the scenario's accounting section"
                raise SweepError(msg, file=path, key=f"{key}.key")
        if isinstance(target, FinalEnergyRowTarget):
            if target.year != base.year:
                msg = f"year {target.year} is not the base scenario's year {base.year}"
                raise SweepError(msg, file=path, key=f"{key}.year")
            table_path = root / base.accounting.final_energy_table
            try:
                rows = load_final_energy_table(table_path, base.year).rows
            except InputError as err:
                raise SweepError(err.message, file=path, key=key) from err
            if not bool(target.matches(rows.assign(year=base.year)).any()):
                msg = f"{base.accounting.final_energy_table} has no row for {target.describe()}"
                raise SweepError(msg, file=path, key=key)
        dist = parameter.distribution
        if isinstance(target, HeatingElectrificationTarget) and not (
            _lowest(dist) >= 0 and distribution_bounds(dist)[1] <= 1
        ):
            msg = "a heating electrification share must lie in [0, 1]"
            raise SweepError(msg, file=path, key=f"parameters.{i}.distribution")
        if isinstance(target, CapacityFactorTarget | OverrideTarget) and _lowest(dist) < 0:
            msg = "a scale factor or override value must not be negative"
            raise SweepError(msg, file=path, key=f"parameters.{i}.distribution")


def _lowest(dist: Uniform | Triangular | TruncatedNormal | Choice) -> float:
    if isinstance(dist, Choice):
        return min(dist.values)
    return dist.low


def override_sweep(sweep: Sweep, *, samples: int | None = None, time: TimeResolution | None = None,
                   sampler: str | None = None) -> Sweep:
    """The sweep with the command line's ``--samples``, ``--time`` and ``--sampler`` applied."""
    update: dict[str, Any] = {}
    if sampler is not None:
        update["sampler"] = sampler
    if samples is not None:
        update["samples"] = samples
    if time is not None:
        update["time"] = time
    return sweep.model_copy(update=update) if update else sweep


def parse_time_option(text: str) -> TimeResolution:
    """Parse ``--time METHOD:VALUE``: ``segment:876``, ``resample:3`` [h] or ``hourly``.

    Raises
    ------
    InputError
        Unknown method or a value that is not a positive integer.
    """
    method, _, value = text.partition(":")
    try:
        if method == "hourly" and not value:
            return TimeResolution(method="hourly")
        if method == "segment":
            return TimeResolution(method="segment", segments=int(value))
        if method == "resample":
            return TimeResolution(method="resample", hours=int(value))
    except (ValueError, ValidationError):
        pass
    msg = f"--time must be 'segment:N', 'resample:HOURS' or 'hourly' (got {text!r})"
    raise InputError(msg, key="--time")


def quantile_to_value(dist: Uniform | Triangular | TruncatedNormal | Choice, q: float) -> float:
    """Inverse CDF: the value of ``dist`` at quantile ``q`` in [0, 1]."""
    from scipy import stats  # noqa: PLC0415

    q = min(max(float(q), 0.0), 1.0)
    if isinstance(dist, Uniform):
        return dist.low + q * (dist.high - dist.low)
    if isinstance(dist, Triangular):
        width = dist.high - dist.low
        c = (dist.mode - dist.low) / width
        return float(stats.triang.ppf(q, c, loc=dist.low, scale=width))
    if isinstance(dist, TruncatedNormal):
        a = (dist.low - dist.mean) / dist.sd
        b = (dist.high - dist.mean) / dist.sd
        value = float(stats.truncnorm.ppf(q, a, b, loc=dist.mean, scale=dist.sd))
        return min(max(value, dist.low), dist.high)
    weights = dist.weights or [1.0] * len(dist.values)
    cumulative = pd.Series(weights, dtype=float).cumsum() / sum(weights)
    index = int((cumulative < q - 1e-12).sum())
    return float(dist.values[min(index, len(dist.values) - 1)])


def distribution_bounds(dist: Uniform | Triangular | TruncatedNormal | Choice) -> tuple[float, float]:
    """Smallest and largest value the distribution can take."""
    if isinstance(dist, Choice):
        return min(dist.values), max(dist.values)
    return dist.low, dist.high


def is_finite_number(value: object) -> bool:
    """True for a real, finite number."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "CapacityFactorTarget",
    "Choice",
    "ExportContractTarget",
    "FinalEnergyRowTarget",
    "HeatingElectrificationTarget",
    "OverrideTarget",
    "Parameter",
    "ScenarioError",
    "ScenarioKeyTarget",
    "Sweep",
    "SweepError",
    "Triangular",
    "TruncatedNormal",
    "Uniform",
    "distribution_bounds",
    "load_sweep",
    "override_sweep",
    "parse_time_option",
    "project_root_of",
    "quantile_to_value",
]
