"""Input tables of the accounting: non-modelled final energy, coal-equivalent factor."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.exceptions import InputError
from energy_model.network import window_share
from energy_model.scenario import Scenario

if TYPE_CHECKING:
    import pypsa

logger = logging.getLogger(__name__)

#: Load carrier of data centres.
DATA_CENTRE_CARRIER = "data_centre"
#: Calorific value of electricity and of heat [kgce/kWh] = [tce/MWh]: 3.6 MJ / 29.3076 MJ/kgce.
CALORIFIC_KGCE_PER_KWH = 3.6 / 29.3076
#: Prefix of the linopy constraint name; the target name is appended.
CONSTRAINT_PREFIX = "GlobalConstraint-renewable_share_"
#: Default path of the coal-equivalent factor table, relative to the project root.
COAL_EQUIVALENT_TABLE = "data/coal_equivalent_factor.csv"
#: Tolerance of the PASS/FAIL verdict [percentage points]; covers solver tolerances of a
#: target that binds exactly.
VERDICT_TOLERANCE_PP = 1e-3

Number = float


def share_constraint_name(target_name: str) -> str:
    """Name of the linopy constraint that enforces the renewable-share target ``target_name``.

    Defined here, beside the share it constrains, so that the metrics can read its dual
    (``duals[name]``) without depending on the optimisation layer that adds it.
    """
    return f"{CONSTRAINT_PREFIX}{target_name}"


def mix_constraint_name_of(target_name: str) -> str:
    """Name of the mix-ratio constraint of the enforced final-energy target ``target_name``."""
    return f"{share_constraint_name(target_name)}_mix"


# ---------------------------------------------------------------------------------------------
# Input tables
# ---------------------------------------------------------------------------------------------

FINAL_ENERGY_COLUMNS = ("year", "sector", "fuel", "renewable", "value_mtce", "source")


@dataclass(frozen=True)
class FinalEnergyTable:
    """Non-electric final energy of one year that the network does not model.

    Attributes
    ----------
    rows
        Columns ``sector, fuel, renewable, value_mtce`` [Mtce, calorific].
    path
        File the rows come from.
    """

    rows: pd.DataFrame
    path: Path

    @property
    def total_mtce(self) -> float:
        """Total of the rows [Mtce]."""
        return float(self.rows["value_mtce"].sum())

    @property
    def renewable_mtce(self) -> float:
        """Renewable part of the rows [Mtce]."""
        return float(self.rows.loc[self.rows["renewable"], "value_mtce"].sum())


def load_final_energy_table(path: str | Path, year: int) -> FinalEnergyTable:
    """Read ``data/final_energy.csv`` and keep the rows of ``year``.

    Parameters
    ----------
    path
        CSV with columns ``year, sector, fuel, renewable, value_mtce, source``.
    year
        Scenario year.

    Returns
    -------
    FinalEnergyTable
        Rows of that year (values in Mtce).

    Raises
    ------
    InputError
        Missing file or column, a non-numeric or negative value, a non-boolean ``renewable``,
        an empty ``source``, a duplicated (year, sector, fuel) row, or no row for ``year``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("final-energy table does not exist", file=path)
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in FINAL_ENERGY_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=path)
    unknown = [c for c in table.columns if c not in FINAL_ENERGY_COLUMNS]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}", file=path)
    rows = []
    for i, raw in table.iterrows():
        row_id = i + 2  # header is line 1
        try:
            row_year = int(raw["year"])
        except ValueError:
            raise InputError("not an integer", file=path, row=row_id, column="year") from None
        try:
            value = float(raw["value_mtce"])
        except ValueError:
            raise InputError("not a number", file=path, row=row_id, column="value_mtce") from None
        if not np.isfinite(value) or value < 0:
            raise InputError(
                f"must be a finite number >= 0 (got {value})",
                file=path,
                row=row_id,
                column="value_mtce",
            )
        renewable = raw["renewable"].strip().lower()
        if renewable not in {"true", "false"}:
            raise InputError(
                f"must be true or false (got {raw['renewable']!r})",
                file=path,
                row=row_id,
                column="renewable",
            )
        for column in ("sector", "fuel", "source"):
            if not raw[column].strip():
                raise InputError("must not be empty", file=path, row=row_id, column=column)
        rows.append(
            {
                "year": row_year,
                "sector": raw["sector"].strip(),
                "fuel": raw["fuel"].strip(),
                "renewable": renewable == "true",
                "value_mtce": value,
            }
        )
    frame = pd.DataFrame(rows, columns=["year", "sector", "fuel", "renewable", "value_mtce"])
    duplicated = frame.duplicated(["year", "sector", "fuel"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise InputError(
            f"duplicated row for year {first['year']}, sector '{first['sector']}', "
            f"fuel '{first['fuel']}'",
            file=path,
        )
    selected = frame[frame["year"] == year].drop(columns="year").reset_index(drop=True)
    if selected.empty:
        years = sorted(frame["year"].unique().tolist())
        raise InputError(f"no rows for year {year} (years present: {years})", file=path)
    return FinalEnergyTable(rows=selected, path=path)


def scaled_final_energy_table(path: str | Path, year: int, n: pypsa.Network) -> FinalEnergyTable:
    r"""The year's non-modelled final energy (:func:`load_final_energy_table`) for the optimised hours.

    The table holds annual totals; when only a snapshot window of the year is optimised
    (:func:`energy_model.network.apply_snapshot_window`), each row is scaled to the window's
    share of the year, so the share compares the window's modelled energy with the same part
    of the year's other fuels (an even spread over the year: an approximation for seasonal
    fuels; docs/accounting.md):

    .. math:: T'_k = s\,T_k

    ==========  =====================================================  =====
    symbol      meaning                                                unit
    ==========  =====================================================  =====
    :math:`T_k` row *k* of the table for ``year``                       Mtce
    :math:`s`   share of the year optimised (1 without a window)       –
    ==========  =====================================================  =====
    """
    table = load_final_energy_table(path, year)
    share = window_share(n)
    if share == 1.0:
        return table
    rows = table.rows.copy()
    rows["value_mtce"] = rows["value_mtce"] * share
    return FinalEnergyTable(rows=rows, path=table.path)


def load_coal_equivalent_factor(path: str | Path, year: int) -> float:
    """Coal-equivalent factor of electricity for ``year`` [kgce/kWh].

    Linear interpolation between the years of the table (columns ``year, gce_per_kwh, source``);
    a year outside the table's range is an error.

    Parameters
    ----------
    path
        ``data/coal_equivalent_factor.csv``.
    year
        Scenario year.

    Returns
    -------
    float
        Factor [kgce/kWh] (the table is in gce/kWh).

    Raises
    ------
    InputError
        Missing file or column, bad value, or ``year`` outside the table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("coal-equivalent factor table does not exist", file=path)
    table = pd.read_csv(path, comment="#")
    for column in ("year", "gce_per_kwh", "source"):
        if column not in table.columns:
            raise InputError(f"missing column '{column}'", file=path)
    values = pd.to_numeric(table["gce_per_kwh"], errors="coerce")
    bad = values.isna() | (values <= 0) | (values >= 1000)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError("must be a number in (0, 1000)", file=path, row=row, column="gce_per_kwh")
    series = pd.Series(values.to_numpy(), index=table["year"].astype(int)).sort_index()
    if series.index.has_duplicates:
        raise InputError("duplicated year", file=path, column="year")
    if year < series.index.min() or year > series.index.max():
        raise InputError(
            f"year {year} is outside the table ({series.index.min()}-{series.index.max()}); "
            "add a row or set accounting.coal_equivalent_kgce_per_kwh",
            file=path,
        )
    gce = float(np.interp(year, series.index.to_numpy(), series.to_numpy()))
    return gce / 1000.0


def compute_electricity_factors(sc: Scenario, project_root: str | Path) -> dict[str, float]:
    """Electricity valuation factors of the scenario [kgce/kWh = tce/MWh].

    Returns
    -------
    dict
        ``{"coal_equivalent": c_eq, "calorific": 0.1229}``; ``c_eq`` is
        ``sc.accounting.coal_equivalent_kgce_per_kwh`` or, when that is ``None``, the year's value
        from ``data/coal_equivalent_factor.csv``.
    """
    c_eq = sc.accounting.coal_equivalent_kgce_per_kwh
    if c_eq is None:
        c_eq = load_coal_equivalent_factor(Path(project_root) / COAL_EQUIVALENT_TABLE, sc.year)
    return {"coal_equivalent": float(c_eq), "calorific": CALORIFIC_KGCE_PER_KWH}


