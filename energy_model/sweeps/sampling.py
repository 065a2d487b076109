"""Sample designs: Saltelli (Sobol) and Morris from SALib, Latin hypercube from scipy, one-at-a-time.

Every design is drawn on the unit hypercube (one column per parameter, quantiles in [0, 1])
and mapped to values through each parameter's inverse CDF, so the samplers never see the
distributions and every distribution works with every sampler. The design is a pure function
of the sweep (parameters, sampler, samples, seed): the same seed gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.sweeps.spec import quantile_to_value

if TYPE_CHECKING:
    from energy_model.sweeps.spec import Sweep

#: Grid levels of the Morris design [-].
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class Design:
    """The sample design of a sweep.

    Attributes
    ----------
    values
        One row per sample (position 0..n-1), one column per parameter, in the parameters' units.
    unit_points
        The same samples as quantiles in [0, 1] (what SALib analyses for Morris).
    sampler
        ``sobol``, ``morris``, ``lhs`` or ``oat``.
    base_samples
        Sobol: N (rows come in blocks of D + 2); Morris: trajectories (blocks of D + 1);
        LHS: number of samples; OAT: 1 (row 0 is the median case, then low/high per parameter).
    """

    values: pd.DataFrame
    unit_points: np.ndarray
    sampler: str
    base_samples: int

    @property
    def block_size(self) -> int:
        """Rows per Saltelli block (D + 2) or Morris trajectory (D + 1); 1 otherwise."""
        d = self.values.shape[1]
        return {"sobol": d + 2, "morris": d + 1}.get(self.sampler, 1)


def salib_problem(sweep: Sweep) -> dict[str, object]:
    """SALib problem on the unit hypercube (values are mapped by the inverse CDFs afterwards)."""
    return {
        "num_vars": len(sweep.parameters),
        "names": [p.name for p in sweep.parameters],
        "bounds": [[0.0, 1.0]] * len(sweep.parameters),
    }


def sobol_base_size(samples: int, parameters: int) -> int:
    """Largest power of two N with N (D + 2) <= samples (at least 2)."""
    per_block = parameters + 2
    n = 2
    while 2 * n * per_block <= samples:
        n *= 2
    return n


def unit_design(sweep: Sweep) -> tuple[np.ndarray, int]:
    """Points in [0, 1]^D of the sweep's sampler, and the base sample count."""
    d = len(sweep.parameters)
    if sweep.sampler == "sobol":
        from SALib.sample import sobol  # noqa: PLC0415

        n = sobol_base_size(sweep.samples, d)
        points = sobol.sample(salib_problem(sweep), n, calc_second_order=False, seed=sweep.seed)
        return np.asarray(points, dtype=float), n
    if sweep.sampler == "morris":
        from SALib.sample import morris  # noqa: PLC0415

        trajectories = max(2, sweep.samples // (d + 1))
        points = morris.sample(
            salib_problem(sweep), trajectories, num_levels=MORRIS_LEVELS, seed=sweep.seed
        )
        return np.asarray(points, dtype=float), trajectories
    if sweep.sampler == "lhs":
        from scipy.stats import qmc  # noqa: PLC0415

        sampler = qmc.LatinHypercube(d=d, seed=np.random.default_rng(sweep.seed))
        return sampler.random(n=sweep.samples), sweep.samples
    # one at a time: the median case, then each parameter at its low (q = 0) and high (q = 1) end
    points = np.full((2 * d + 1, d), 0.5)
    for j in range(d):
        points[1 + 2 * j, j] = 0.0
        points[2 + 2 * j, j] = 1.0
    return points, 1


def build_design(sweep: Sweep) -> Design:
    """The sweep's samples in the parameters' units (see :class:`Design`)."""
    points, base = unit_design(sweep)
    columns = {}
    for j, parameter in enumerate(sweep.parameters):
        columns[parameter.name] = [quantile_to_value(parameter.distribution, q) for q in points[:, j]]
    values = pd.DataFrame(columns, index=pd.RangeIndex(len(points), name="position"))
    return Design(values=values, unit_points=points, sampler=sweep.sampler, base_samples=base)


__all__ = ["MORRIS_LEVELS", "Design", "build_design", "salib_problem", "sobol_base_size", "unit_design"]
