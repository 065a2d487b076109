"""Observed-vs-modelled validation: the model's outputs next to public figures of a real year.

Inputs are the tidy metrics of a solved scenario (``metrics.csv``) and a table of observed
figures (``data/observed/*.csv``, one row per figure with its source). Each observed row names a
*model quantity* (:data:`MODEL_QUANTITIES`), defined here once from the metrics. Nothing here
feeds back into the model: the observed figures are never used to set an input.

Observed table columns: ``id, scenario, quantity, model_quantity, observed, observed_low,
observed_high, unit, year, tag, source``. ``observed`` may be empty when only a range is known;
``tag`` is ``S`` (stated by the source) or ``D`` (derived, the derivation in ``source``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from energy_model.exceptions import InputError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Carriers of variable renewables and of local renewable generation.
VARIABLE_RENEWABLES = ("onwind", "solar")
#: Export corridors that carry the contracted green power (Zhangbei VSC legs leaving the city and
#: the Zhangbei-Xiong'an UHV line).
GREEN_CORRIDORS = ("vsc_zhangbei_beijing", "vsc_kangbao_fengning", "uhv_zhangbei_xiongan")
#: Headline share variant (see docs/accounting.md).
HEADLINE_VARIANT = "coal_equivalent|annual_mix"

OBSERVED_COLUMNS = (
    "id", "scenario", "quantity", "model_quantity", "observed", "observed_low", "observed_high",
    "unit", "year", "tag", "source",
)


def _pick(metrics: pd.DataFrame, metric: str, **match: str) -> pd.Series:
    rows = metrics[metrics["metric"] == metric]
    for column, value in match.items():
        rows = rows[rows[column] == value]
    return rows["value"].astype(float)


def _supply(metrics: pd.DataFrame, carriers: tuple[str, ...]) -> float:
    rows = metrics[(metrics["metric"] == "supply") & metrics["carrier"].isin(carriers)]
    return float(rows["value"].astype(float).sum())


def _capacity(metrics: pd.DataFrame, carriers: tuple[str, ...]) -> float:
    rows = metrics[
        (metrics["metric"] == "capacity")
        & (metrics["variant"] == "Generator")
        & metrics["carrier"].isin(carriers)
    ]
    return float(rows["value"].astype(float).sum())


def renewable_generation_twh(metrics: pd.DataFrame) -> float:
    """Local renewable generation [TWh] (metric ``renewable_generation_local``)."""
    return float(_pick(metrics, "renewable_generation_local").sum())


def thermal_generation_twh(metrics: pd.DataFrame) -> float:
    """Local non-renewable generation [TWh] (metric ``other_generation_local``)."""
    return float(_pick(metrics, "other_generation_local").sum())


def total_generation_twh(metrics: pd.DataFrame) -> float:
    """Local generation [TWh] = renewable + other."""
    return renewable_generation_twh(metrics) + thermal_generation_twh(metrics)


def renewable_share_of_generation_pct(metrics: pd.DataFrame) -> float:
    """Renewable share of local generation [%]."""
    total = total_generation_twh(metrics)
    return 100.0 * renewable_generation_twh(metrics) / total if total > 0 else math.nan


def wind_full_load_hours_h(metrics: pd.DataFrame) -> float:
    """Wind generation / wind capacity [h]."""
    capacity_mw = _capacity(metrics, ("onwind",))
    return 1e6 * _supply(metrics, ("onwind",)) / capacity_mw if capacity_mw > 0 else math.nan


def thermal_full_load_hours_h(metrics: pd.DataFrame) -> float:
    """Coal generation / coal capacity [h]."""
    capacity_mw = _capacity(metrics, ("coal",))
    return 1e6 * _supply(metrics, ("coal",)) / capacity_mw if capacity_mw > 0 else math.nan


def curtailment_rate_pct(metrics: pd.DataFrame) -> float:
    """Curtailed / available wind and PV energy [%]."""
    renewable = metrics["carrier"].isin(VARIABLE_RENEWABLES)
    curtailed = metrics[(metrics["metric"] == "curtailment") & renewable]
    available = metrics[(metrics["metric"] == "available_energy") & renewable]
    total = float(available["value"].astype(float).sum())
    return 100.0 * float(curtailed["value"].astype(float).sum()) / total if total > 0 else math.nan


def fengning_generation_twh(metrics: pd.DataFrame) -> float:
    """Generation of the Fengning pumped-storage plant [TWh]."""
    return float(_pick(metrics, "storage_discharge", variant="fengning_phs").sum())


def green_corridor_exports_twh(metrics: pd.DataFrame) -> float:
    """Exports over the VSC legs leaving the city and the UHV line to Xiong'an [TWh]."""
    rows = metrics[(metrics["metric"] == "export") & metrics["variant"].isin(GREEN_CORRIDORS)]
    return float(rows["value"].astype(float).sum())


def renewable_final_energy_share_pct(metrics: pd.DataFrame) -> float:
    """Renewable share of final energy under the headline rule [%]."""
    values = _pick(metrics, "renewable_share", variant=HEADLINE_VARIANT)
    return float(values.iloc[0]) if len(values) else math.nan


def renewable_capacity_share_pct(metrics: pd.DataFrame) -> float:
    """Wind, PV and biomass capacity / (those + coal) [%]."""
    renewable = _capacity(metrics, ("onwind", "solar", "biomass"))
    total = renewable + _capacity(metrics, ("coal",))
    return 100.0 * renewable / total if total > 0 else math.nan


#: Model quantity name -> function of the tidy metrics table.
MODEL_QUANTITIES: dict[str, Callable[[pd.DataFrame], float]] = {
    f.__name__: f
    for f in (
        renewable_generation_twh,
        thermal_generation_twh,
        total_generation_twh,
        renewable_share_of_generation_pct,
        wind_full_load_hours_h,
        thermal_full_load_hours_h,
        curtailment_rate_pct,
        fengning_generation_twh,
        green_corridor_exports_twh,
        renewable_final_energy_share_pct,
        renewable_capacity_share_pct,
    )
}


def read_observed(path: Path) -> pd.DataFrame:
    """Read an observed-figures table and check it.

    Raises
    ------
    InputError
        Missing columns, an unknown ``model_quantity``, a row with neither a value nor a range,
        a range that does not contain the value, or an empty source.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in OBSERVED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=path)
    if table["id"].duplicated().any():
        raise InputError("duplicate id", file=path, row=table["id"][table["id"].duplicated()].iloc[0])
    for column in ("observed", "observed_low", "observed_high"):
        try:
            table[column] = pd.to_numeric(table[column].replace("", math.nan))
        except ValueError as err:
            raise InputError(f"non-numeric value in column {column}", file=path) from err
    for record in table.to_dict("records"):
        row_id, quantity = str(record["id"]), str(record["model_quantity"])
        value, low, high = (float(record[c]) for c in ("observed", "observed_low", "observed_high"))
        if quantity not in MODEL_QUANTITIES:
            msg = f"unknown model_quantity {quantity!r}; known: {sorted(MODEL_QUANTITIES)}"
            raise InputError(msg, file=path, row=row_id, column="model_quantity")
        if math.isnan(value) and (math.isnan(low) or math.isnan(high)):
            raise InputError("give a value or a full range", file=path, row=row_id, column="observed")
        lo = -math.inf if math.isnan(low) else low
        hi = math.inf if math.isnan(high) else high
        if lo > hi or (not math.isnan(value) and not lo <= value <= hi):
            raise InputError("the range must contain the value", file=path, row=row_id, column="observed_low")
        if not str(record["source"]).strip():
            raise InputError("every observed figure needs a source", file=path, row=row_id, column="source")
    return table


def compare_observed(observed: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Observed vs modelled, one row per observed figure.

    Columns added: ``modelled``, ``difference`` (modelled - observed, in the row's unit; against
    the nearest range end when only a range is given), ``difference_pct`` (relative to the
    observed value) and ``within_range`` (True/False when a range is given, else empty).
    """
    out = observed.copy()
    modelled = [MODEL_QUANTITIES[name](metrics) for name in observed["model_quantity"]]
    out["modelled"] = modelled
    differences: list[float] = []
    relative: list[float] = []
    inside: list[bool | None] = []
    for value, low, high, model in zip(
        out["observed"].astype(float).tolist(),
        out["observed_low"].astype(float).tolist(),
        out["observed_high"].astype(float).tolist(),
        modelled,
        strict=True,
    ):
        has_range = not (math.isnan(low) and math.isnan(high))
        lo = -math.inf if math.isnan(low) else low
        hi = math.inf if math.isnan(high) else high
        if not math.isnan(value):
            differences.append(model - value)
            relative.append(100.0 * (model - value) / value if value else math.nan)
        else:
            differences.append(0.0 if lo <= model <= hi else (model - hi if model > hi else model - lo))
            relative.append(math.nan)
        inside.append((lo <= model <= hi) if has_range else None)
    out["difference"] = differences
    out["difference_pct"] = relative
    out["within_range"] = inside
    return out


__all__ = ["MODEL_QUANTITIES", "compare_observed", "read_observed"]
