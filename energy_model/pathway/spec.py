"""Pathway spec: the strict schema of a pathway file (``scenarios/<name>.yaml`` with
``kind: pathway``) and its loader.

A pathway spec describes a multi-period capacity expansion from the base network (the 2022
plan state) to a horizon year: investment periods, per-period renewable-share targets, demand
growth, candidate technologies with their cost tables, resource potentials, growth limits and
the studies to run (foresight variants, cost-of-target curve, MGA ranges). Defaults live here,
in the pydantic models; a spec file holds only what differs. See docs/pathway.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from energy_model.exceptions import ScenarioError
from energy_model.scenario import (
    ID_PATTERN,
    PATHWAY_NAME_PREFIX,
    SCENARIO_NAME_PATTERN,
    AccountingConfig,
    ExportContract,
    StrictModel,
    format_validation_error,
    load_yaml,
)

#: Technology groups the spec talks about (growth limits, potentials, MGA directions).
TECHNOLOGIES = ("wind", "solar", "storage", "electrolysis", "h2_storage", "corridor")
Technology = Literal["wind", "solar", "storage", "electrolysis", "h2_storage", "corridor"]
MgaTechnology = Literal["wind", "solar", "storage", "corridor"]
Potential = Literal["wind", "solar"]
Foresight = Literal["perfect", "myopic"]
#: Network carrier of each generation/storage technology group (corridors: the links listed).
TECHNOLOGY_CARRIERS: dict[str, str] = {
    "wind": "onwind",
    "solar": "solar",
    "storage": "battery",
    "electrolysis": "electrolysis",
    "h2_storage": "h2_storage",
}


class ShareTargetPath(StrictModel):
    """Renewable-share targets per period: anchors, interpolated linearly between them."""

    indicator: Literal["final_energy", "electricity"] = "final_energy"
    """Indicator of the share (docs/accounting.md); the headline rule of ``accounting`` applies."""
    anchors: dict[int, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {2022: 0.30, 2035: 0.50}
    )
    """Target share [-] at anchor years; a period between two anchors gets the linear
    interpolation, a period outside the anchors the nearest anchor's value."""
    enforce: bool = True
    """Add the per-period targets as constraints (``false``: report them only)."""
    source: str = (
        "Zhangjiakou renewable-energy demonstration-zone development plan (State Council, 2015): "
        "30 % of final energy by 2020 (kept for 2022) and 50 % by 2030 (kept for 2035)"
    )
    """Where the anchors come from."""

    @model_validator(mode="after")
    def _has_anchor(self) -> ShareTargetPath:
        if not self.anchors:
            msg = "give at least one anchor year"
            raise ValueError(msg)
        return self

    def share(self, period: int) -> float:
        """Target share of ``period`` [-] (linear between anchors, flat outside)."""
        years = sorted(self.anchors)
        if period <= years[0]:
            return float(self.anchors[years[0]])
        if period >= years[-1]:
            return float(self.anchors[years[-1]])
        for low, high in zip(years[:-1], years[1:], strict=True):
            if low <= period <= high:
                weight = (period - low) / (high - low)
                return float(self.anchors[low] + weight * (self.anchors[high] - self.anchors[low]))
        msg = f"no anchor interval holds {period}"  # unreachable: the anchors are sorted
        raise ValueError(msg)


class CorridorCandidate(StrictModel):
    """An export corridor that can be reinforced: a parallel link of the same kind and cost."""

    link: str
    """Name of the existing link (``links.csv``) the reinforcement runs parallel to."""
    first_period: int = Field(ge=2000, le=2100)
    """First investment period the reinforcement can be built in (planning and construction)."""
    max_mw: float = Field(gt=0)
    """Largest reinforcement over the whole horizon [MW]."""
    source: str = ""
    """Why the corridor and its size are candidates."""


class MgaConfig(StrictModel):
    """Near-optimal alternatives on the pathway's horizon fleet."""

    slacks: list[Annotated[float, Field(gt=0, le=0.5)]] = Field(default_factory=lambda: [0.02, 0.05])
    """Cost slacks [-] relative to the optimal total discounted cost."""
    technologies: list[MgaTechnology] = Field(
        default_factory=lambda: list[MgaTechnology](["wind", "solar", "storage", "corridor"])
    )
    """Capacity directions to minimise and maximise (new capacity active in the last period)."""


class PathwaySolver(StrictModel):
    """HiGHS options (validated against HiGHS's own option list)."""

    options: dict[str, bool | int | float | str] = Field(
        default_factory=lambda: dict[str, bool | int | float | str](threads=2, solver="ipm",
                                                                   run_crossover="on")
    )
    """HiGHS options. Default: interior point with crossover (the multi-period LPs are larger
    than a single year's; crossover gives the basic solution the duals are read from)."""


class PathwaySpec(StrictModel):
    """One pathway study: base network, periods, targets, candidates and studies to run."""

    kind: Literal["pathway"] = "pathway"
    """Marks the file as a pathway spec (a scenario file with ``kind: pathway`` is run by the
    pathway runner, :func:`energy_model.scenario.is_pathway_file`)."""
    name: Annotated[str, Field(pattern=SCENARIO_NAME_PATTERN)]
    """Pathway id; equals the file stem."""
    description: str = ""
    """One paragraph for the result page."""
    network: str
    """Base network folder (the first period's existing fleet), relative to the project root."""
    periods: list[Annotated[int, Field(ge=2000, le=2100)]] = Field(
        default_factory=lambda: [2022, 2025, 2030, 2035], min_length=1
    )
    """Investment periods (ascending); each is represented by one year of snapshots."""
    last_period_years: int = Field(default=5, ge=1, le=50)
    """Years the last period stands for [a] (the others: the gap to the next period)."""
    discount_rate: float | None = Field(default=None, ge=0, lt=1)
    """Real discount rate [1/a]; ``None`` takes ``economics.discount_rate`` of
    ``data/parameters.csv`` (the rate the cost tables are annualised with)."""
    segments: int = Field(default=200, ge=2, le=8784)
    """Time segments per period (tsam segmentation of the base year) [-]."""
    targets: ShareTargetPath = Field(default_factory=ShareTargetPath)
    """Per-period renewable-share targets."""
    accounting: AccountingConfig = Field(default_factory=AccountingConfig)
    """Accounting options of the shares (headline rule; docs/accounting.md)."""
    demand: dict[str, dict[int, Annotated[float, Field(gt=0)]]] = Field(default_factory=dict)
    """Load scale per load carrier at anchor years, relative to the base network's loads [-];
    geometric (constant growth rate) between anchors, flat outside. Carriers not listed stay
    at the base network's loads."""
    first_build_period: int | None = Field(default=None, ge=2000, le=2100)
    """First period in which new wind and solar can be built (``None``: the first period). The
    base network's extendable assets (batteries, electrolysis, hydrogen tanks, sized by the
    single-year scenarios too) are candidates from the first period on."""
    existing_build_year: dict[str, Annotated[int, Field(ge=1950, le=2100)]] = Field(default_factory=dict)
    """Commissioning year assumed for the base network's fixed assets, by carrier (retirement
    at ``build_year + lifetime``); carriers not listed get the first period."""
    potentials_mw: dict[Potential, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: dict[Potential, float]({"wind": 40000.0, "solar": 30000.0})
    )
    """Resource potential [MW]: the capacity active in any period (existing + new) stays below."""
    growth_limits_mw: dict[Technology, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    """Largest new build per period by technology [MW; MWh for h2_storage]; unlisted: none."""
    cost_tables: dict[int, str] = Field(
        default_factory=lambda: {
            2020: "data/costs_2020_pypsa-china-pik_subset.csv",
            2030: "data/costs_2030_pypsa-china-pik_subset.csv",
        }
    )
    """Cost tables by cost year; a period takes the latest table year not after it."""
    corridors: list[CorridorCandidate] = Field(default_factory=list)
    """Export corridors that can be reinforced."""
    export_contracts: list[ExportContract] = Field(default_factory=list)
    """Annual deliveries enforced in every period."""
    foresight: list[Foresight] = Field(
        default_factory=lambda: list[Foresight](["perfect", "myopic"]), min_length=1
    )
    """Foresight variants to solve (``perfect`` is the reference of the other studies)."""
    cost_curve: list[Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=list)
    """Last-period targets [-] of the cost-of-target curve (the last anchor replaced, the path
    re-interpolated); empty: no curve. The no-target pathway is solved with the curve."""
    mga: MgaConfig | None = None
    """Near-optimal alternatives; ``None``: not run."""
    solver: PathwaySolver = Field(default_factory=PathwaySolver)
    """Solver options."""

    @model_validator(mode="after")
    def _consistent(self) -> PathwaySpec:
        if list(self.periods) != sorted(set(self.periods)):
            msg = f"periods must be strictly ascending, got {self.periods}"
            raise ValueError(msg)
        if not self.cost_tables or min(self.cost_tables) > self.periods[0]:
            msg = "cost_tables needs a table year at or before the first period"
            raise ValueError(msg)
        for carrier, anchors in self.demand.items():
            if not anchors:
                msg = f"demand.{carrier}: give at least one anchor year"
                raise ValueError(msg)
        names = [c.name for c in self.export_contracts]
        if len(names) != len(set(names)):
            msg = f"export contract names must be unique, got {names}"
            raise ValueError(msg)
        for corridor in self.corridors:
            if corridor.first_period > self.periods[-1]:
                msg = f"corridor '{corridor.link}': first_period is after the last period"
                raise ValueError(msg)
        return self

    def period_years(self) -> dict[int, int]:
        """Years each period stands for [a]: the gap to the next period; the last: a setting."""
        periods = list(self.periods)
        gaps = [b - a for a, b in zip(periods[:-1], periods[1:], strict=True)]
        return dict(zip(periods, [*gaps, self.last_period_years], strict=True))

    def target_shares(self, last: float | None = None) -> dict[int, float]:
        """Target share per period [-]; ``last`` replaces the last anchor (cost-of-target curve)."""
        path = self.targets
        if last is not None:
            anchors = dict(path.anchors)
            anchors[max(*anchors, self.periods[-1])] = last
            path = path.model_copy(update={"anchors": anchors})
        return {p: path.share(p) for p in self.periods}

    def demand_scale(self, carrier: str, period: int) -> float:
        """Load scale of ``carrier`` in ``period`` relative to the base network [-].

        Geometric interpolation between anchor years :math:`y_0 < y_1` with scales
        :math:`f_0, f_1`: :math:`f(y) = f_0 (f_1/f_0)^{(y-y_0)/(y_1-y_0)}` (a constant annual
        growth rate); flat outside the anchors; 1 for carriers without anchors.
        """
        anchors = self.demand.get(carrier)
        if not anchors:
            return 1.0
        years = sorted(anchors)
        if period <= years[0]:
            return float(anchors[years[0]])
        if period >= years[-1]:
            return float(anchors[years[-1]])
        for low, high in zip(years[:-1], years[1:], strict=True):
            if low <= period <= high:
                ratio = anchors[high] / anchors[low]
                return float(anchors[low] * ratio ** ((period - low) / (high - low)))
        msg = f"no anchor interval holds {period}"  # unreachable
        raise ValueError(msg)


def load_pathway_spec(path: str | Path) -> PathwaySpec:
    """Read and validate a pathway spec file.

    Raises
    ------
    ScenarioError
        One line naming the file, the key and the cause (unknown key, wrong type, a name that
        is not the file stem, inconsistent periods).
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError("pathway spec does not exist", file=path)
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise ScenarioError("a pathway spec must be a YAML mapping", file=path)
    try:
        spec = PathwaySpec.model_validate(raw)
    except ValidationError as err:
        key, message = format_validation_error(err)
        raise ScenarioError(message, file=path, key=key or None) from None
    if spec.name != path.stem:
        msg = f"name '{spec.name}' must equal the file stem '{path.stem}'"
        raise ScenarioError(msg, file=path, key="name")
    if not spec.name.startswith(PATHWAY_NAME_PREFIX):
        msg = (f"name '{spec.name}' must start with '{PATHWAY_NAME_PREFIX}' (pathway result "
               "folders are kept apart from single-year scenarios by that prefix)")
        raise ScenarioError(msg, file=path, key="name")
    return spec


__all__ = [
    "ID_PATTERN",
    "TECHNOLOGIES",
    "TECHNOLOGY_CARRIERS",
    "CorridorCandidate",
    "MgaConfig",
    "PathwaySpec",
    "ShareTargetPath",
    "load_pathway_spec",
]
