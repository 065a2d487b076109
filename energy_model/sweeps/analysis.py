"""What a finished sweep says: probability of meeting each target, sensitivities, tornado.

Works on the design table (one row per position of the design) joined with the store's records
(one row per sample id), so a sample that appears twice in a design (Morris grids can repeat a
point) counts twice, as the design intends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_model.sweeps.sampling import MORRIS_LEVELS, build_design, salib_problem

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from energy_model.sweeps.spec import Sweep

#: Two-sided 95 % normal quantile [-].
Z95 = 1.959963984540054
#: Sensitivity indices computed when at least this many complete blocks are available [-].
MIN_BLOCKS = 2


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float, float]:
    """Proportion and Wilson score interval ``(p, low, high)`` [-] of ``successes`` in ``trials``.

    ``(nan, nan, nan)`` without trials. For 7 of 10: (0.70, 0.397, 0.892).
    """
    if trials <= 0:
        return math.nan, math.nan, math.nan
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return p, max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class SweepAnalysis:
    """Analysis of one sweep.

    Attributes
    ----------
    samples
        Design joined with records: one row per design position.
    probabilities
        Per target (:data:`PROBABILITY_COLUMNS`): ``target``, ``min_share`` [%], counts
        ``meets``, ``n`` (samples with an outcome: ``feasible`` + ``infeasible``), ``feasible``,
        ``infeasible``, ``errors`` (failed samples, not counted in ``n``); proportions [-] with
        their Wilson 95 % interval: ``p``/``low``/``high`` = P(meet) over all ``n`` samples, an
        infeasible sample counted as not meeting (the system cannot serve its demand);
        ``p_feasible``/``low_feasible``/``high_feasible`` = P(meet | feasible);
        ``p_infeasible``/``low_infeasible``/``high_infeasible`` = P(infeasible).
    sensitivity
        Tidy: ``output``, ``parameter``, ``measure`` (``S1``, ``ST``, ``mu_star``, ``sigma``,
        ``spearman``), ``value``, ``conf`` (95 % half-width where SALib gives one).
    tornado
        OAT only: ``output``, ``parameter``, ``low_value``, ``high_value`` (inputs) and
        ``low``, ``high``, ``median`` (output at the parameter's low/high end, others at median).
    status_counts
        Samples per status (``ok``, ``infeasible``, ``error``, ``missing``).
    """

    samples: pd.DataFrame
    probabilities: pd.DataFrame
    sensitivity: pd.DataFrame
    tornado: pd.DataFrame
    status_counts: dict[str, int] = field(default_factory=dict)

    def influential(self, output: str, top: int = 3) -> list[tuple[str, str, float]]:
        """The ``top`` parameters driving ``output``: ``(parameter, measure, value)``, largest first."""
        table = self.sensitivity[self.sensitivity["output"] == output]
        for measure in ("ST", "mu_star", "spearman"):
            part = table[table["measure"] == measure]
            if not part.empty:
                order = part.assign(size=part["value"].abs()).sort_values("size", ascending=False)
                return [(str(r["parameter"]), measure, float(r["value"]))
                        for r in order.head(top).to_dict(orient="records")]
        if not self.tornado.empty:
            part = self.tornado[self.tornado["output"] == output]
            swing = (part["high"] - part["low"]).abs()
            order = part.assign(size=swing).sort_values("size", ascending=False)
            return [(str(r["parameter"]), "swing", float(r["size"]))
                    for r in order.head(top).to_dict(orient="records")]
        return []


def targets_of(records: pd.DataFrame) -> list[str]:
    """Target names present in the records (from the ``margin.<target>`` columns)."""
    return sorted(c.split(".", 1)[1] for c in records.columns if c.startswith("margin."))


def outputs_of(records: pd.DataFrame) -> list[str]:
    """Continuous outputs analysed: per target the achieved share and the margin, and the objective."""
    outputs = []
    for target in targets_of(records):
        outputs += [f"achieved.{target}", f"margin.{target}"]
    if "objective" in records.columns:
        outputs.append("objective")
    return outputs


def join_samples(design: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Design positions with their records (status ``missing`` where no record exists yet)."""
    drop = [c for c in records.columns if c.startswith("input.")]
    joined = design.merge(records.drop(columns=drop), on="sample_id", how="left")
    joined["status"] = joined["status"].fillna("missing")
    return joined.sort_values("position").reset_index(drop=True)


PROBABILITY_COLUMNS = [
    "target", "min_share", "meets", "n", "feasible", "infeasible", "errors",
    "p", "low", "high", "p_feasible", "low_feasible", "high_feasible",
    "p_infeasible", "low_infeasible", "high_infeasible",
]


def _probabilities(samples: pd.DataFrame) -> pd.DataFrame:
    """Per target: P(meet) over all samples with an outcome, P(meet | feasible), P(infeasible).

    A sample has an outcome when it solved (``ok``) or the LP was infeasible; an infeasible
    sample does not meet the target. Failed (``error``) and missing samples say nothing about
    the system and are only counted.
    """
    ok = samples[samples["status"] == "ok"]
    infeasible = int((samples["status"] == "infeasible").sum())
    errors = int((samples["status"] == "error").sum())
    n = len(ok) + infeasible
    rows = []
    for target in targets_of(samples):
        meets = int(ok[f"meets.{target}"].astype(bool).sum())
        p, low, high = wilson_interval(meets, n)
        p_ok, low_ok, high_ok = wilson_interval(meets, len(ok))
        p_inf, low_inf, high_inf = wilson_interval(infeasible, n)
        min_share = float(ok[f"target.{target}"].iloc[0]) if len(ok) else math.nan
        rows.append({"target": target, "min_share": min_share, "meets": meets, "n": n,
                     "feasible": len(ok), "infeasible": infeasible, "errors": errors,
                     "p": p, "low": low, "high": high,
                     "p_feasible": p_ok, "low_feasible": low_ok, "high_feasible": high_ok,
                     "p_infeasible": p_inf, "low_infeasible": low_inf, "high_infeasible": high_inf})
    return pd.DataFrame(rows, columns=PROBABILITY_COLUMNS)


def _complete_blocks(samples: pd.DataFrame, output: str, block: int) -> np.ndarray:
    """Boolean mask of rows in blocks (of ``block`` consecutive positions) without a missing value."""
    values = pd.to_numeric(samples[output], errors="coerce").to_numpy(dtype=float)
    usable = len(values) - len(values) % block
    good = np.isfinite(values[:usable]).reshape(-1, block).all(axis=1)
    mask = np.zeros(len(values), dtype=bool)
    mask[:usable] = np.repeat(good, block)
    return mask


def _sobol(sweep: Sweep, samples: pd.DataFrame, output: str) -> list[dict[str, Any]]:
    from SALib.analyze import sobol  # noqa: PLC0415

    block = len(sweep.parameters) + 2
    mask = _complete_blocks(samples, output, block)
    if mask.sum() < MIN_BLOCKS * block:
        return []
    y = samples.loc[mask, output].to_numpy(dtype=float)
    result = sobol.analyze(salib_problem(sweep), y, calc_second_order=False, seed=sweep.seed)
    rows = []
    for j, parameter in enumerate(sweep.parameters):
        for measure in ("S1", "ST"):
            rows.append({"output": output, "parameter": parameter.name, "measure": measure,
                         "value": float(result[measure][j]),
                         "conf": float(result[f"{measure}_conf"][j])})
    return rows


def _morris(sweep: Sweep, samples: pd.DataFrame, output: str) -> list[dict[str, Any]]:
    from SALib.analyze import morris  # noqa: PLC0415

    block = len(sweep.parameters) + 1
    mask = _complete_blocks(samples, output, block)
    if mask.sum() < MIN_BLOCKS * block:
        return []
    points = build_design(sweep).unit_points[: len(samples)]
    result = morris.analyze(salib_problem(sweep), points[mask],
                            samples.loc[mask, output].to_numpy(dtype=float),
                            num_levels=MORRIS_LEVELS, seed=sweep.seed)
    rows = []
    for j, parameter in enumerate(sweep.parameters):
        rows.append({"output": output, "parameter": parameter.name, "measure": "mu_star",
                     "value": float(result["mu_star"][j]), "conf": float(result["mu_star_conf"][j])})
        rows.append({"output": output, "parameter": parameter.name, "measure": "sigma",
                     "value": float(result["sigma"][j]), "conf": math.nan})
    return rows


def _spearman(sweep: Sweep, samples: pd.DataFrame, output: str) -> list[dict[str, Any]]:
    ok = samples[pd.to_numeric(samples[output], errors="coerce").notna()]
    if len(ok) < 3:
        return []
    rows = []
    for parameter in sweep.parameters:
        x = ok[f"input.{parameter.name}"].rank()
        y = ok[output].astype(float).rank()
        rho = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else 0.0
        rows.append({"output": output, "parameter": parameter.name, "measure": "spearman",
                     "value": rho, "conf": math.nan})
    return rows


def _tornado(sweep: Sweep, samples: pd.DataFrame, output: str) -> list[dict[str, Any]]:
    values = pd.to_numeric(samples[output], errors="coerce").to_numpy(dtype=float)
    rows = []
    for j, parameter in enumerate(sweep.parameters):
        low_pos, high_pos = 1 + 2 * j, 2 + 2 * j
        if high_pos >= len(values):
            break
        inputs = samples[f"input.{parameter.name}"].to_numpy(dtype=float)
        rows.append({"output": output, "parameter": parameter.name,
                     "low_value": float(inputs[low_pos]), "high_value": float(inputs[high_pos]),
                     "low": values[low_pos], "high": values[high_pos], "median": values[0]})
    return rows


SENSITIVITY_COLUMNS = ["output", "parameter", "measure", "value", "conf"]
TORNADO_COLUMNS = ["output", "parameter", "low_value", "high_value", "low", "high", "median"]


def analyse(sweep: Sweep, design: pd.DataFrame, records: pd.DataFrame) -> SweepAnalysis:
    """Probabilities (Wilson 95 %), sensitivity indices and tornado of a sweep's samples.

    Sobol: first (``S1``) and total (``ST``) indices from the Saltelli blocks without a failed
    sample; Morris: ``mu_star`` and ``sigma`` from complete trajectories; LHS: Spearman rank
    correlation of each input with the output; OAT: tornado (output at each input's low and high
    end, the others at their median).
    """
    samples = join_samples(design, records)
    counts = {str(k): int(v) for k, v in samples["status"].value_counts().items()}
    sensitivity: list[dict[str, Any]] = []
    tornado: list[dict[str, Any]] = []
    for output in outputs_of(samples):
        if sweep.sampler == "sobol":
            sensitivity += _sobol(sweep, samples, output)
        elif sweep.sampler == "morris":
            sensitivity += _morris(sweep, samples, output)
        elif sweep.sampler == "lhs":
            sensitivity += _spearman(sweep, samples, output)
        else:
            tornado += _tornado(sweep, samples, output)
    return SweepAnalysis(
        samples=samples,
        probabilities=_probabilities(samples),
        sensitivity=pd.DataFrame(sensitivity, columns=SENSITIVITY_COLUMNS),
        tornado=pd.DataFrame(tornado, columns=TORNADO_COLUMNS),
        status_counts=counts,
    )


def _percent(row: Mapping[Hashable, Any], suffix: str) -> tuple[float, float, float]:
    """``p``, ``low``, ``high`` (with ``suffix``) of a probabilities row, in %."""
    return (100 * float(row[f"p{suffix}"]), 100 * float(row[f"low{suffix}"]),
            100 * float(row[f"high{suffix}"]))


def _pct(value: float) -> str:
    """A percentage for the summary: one decimal below 10 % (0.5 %, not 0 %), else whole."""
    return f"{value:.1f}" if 0 < value < 10 else f"{value:.0f}"


def summary_paragraph(sweep: Sweep, analysis: SweepAnalysis) -> str:
    """One paragraph: probability of meeting each target with its interval, and the top inputs.

    E.g. ``plan-2035-uncertainty (sobol, 96 samples, 36 infeasible): meets 50 %
    (final_energy_2035) in 40 % of 96 samples (95 % CI 31-50 %), infeasible counted as not
    meeting; 64 % of the 60 feasible samples (52-75 %); infeasible 38 % (28-47 %); most
    influential: ...``. Without infeasible samples the two probabilities are the same and only
    one is given.
    """
    total = len(analysis.samples)
    parts = [f"{sweep.name} ({sweep.sampler}, {total} samples"]
    failed = {k: v for k, v in analysis.status_counts.items() if k != "ok"}
    if failed:
        parts.append(", " + ", ".join(f"{v} {k}" for k, v in sorted(failed.items())))
    text = "".join(parts) + "):"
    sentences = []
    for row in analysis.probabilities.to_dict(orient="records"):
        target, n, feasible = str(row["target"]), int(row["n"]), int(row["feasible"])
        if n == 0:
            sentences.append(f" target {target}: no sample solved")
            continue
        if feasible == 0:
            sentences.append(f" target {target}: none of the {n} samples is feasible")
            continue
        p, low, high = _percent(row, "")
        # the count too: "0 %" would hide 2 meeting samples of 416
        sentence = (f" meets {float(row['min_share']):.0f} % ({target}) in {_pct(p)} % of {n} samples "
                    f"({int(row['meets'])} of {n}; 95 % CI {_pct(low)}-{_pct(high)} %)")
        if int(row["infeasible"]):
            p_ok, low_ok, high_ok = _percent(row, "_feasible")
            p_inf, low_inf, high_inf = _percent(row, "_infeasible")
            sentence += (f", infeasible counted as not meeting; {_pct(p_ok)} % of the {feasible} "
                         f"feasible samples ({_pct(low_ok)}-{_pct(high_ok)} %); infeasible "
                         f"{_pct(p_inf)} % ({_pct(low_inf)}-{_pct(high_inf)} %)")
        top = analysis.influential(f"achieved.{target}")
        if top:
            sentence += "; most influential: " + ", ".join(
                f"{name} ({measure} {value:.2f})" for name, measure, value in top
            )
        sentences.append(sentence)
    return text + ";".join(sentences) + "."


__all__ = [
    "PROBABILITY_COLUMNS",
    "SweepAnalysis",
    "analyse",
    "join_samples",
    "outputs_of",
    "summary_paragraph",
    "targets_of",
    "wilson_interval",
]
