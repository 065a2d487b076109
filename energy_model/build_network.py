"""Build the Zhangjiakou base network (``networks/zhangjiakou/``) from the project's ``data/``.

Reads
    ``data/parameters.csv`` (every scalar: capacities, full-load-hour targets, corridor ratings,
    prices, assumptions; columns ``name, value, unit, source``),
    ``data/cf_onwind_solar_2020_hebei_innermongolia_atlite_era5.csv`` (hourly capacity factors,
    weather year 2020, CST),
    ``data/load_2018_hourly_MW_hebei_wu_kan.csv`` (hourly Hebei load 2018, CST),
    ``data/costs_2020_pypsa-china-pik_subset.csv`` (China-adjusted technology costs, EUR-2020).
Writes
    a PyPSA CSV folder (default ``networks/zhangjiakou``) with deterministic, byte-for-byte
    reproducible files: fixed float formatting, sorted rows and columns, only real PyPSA
    attributes.

The base network is the 2022 plan state (13 GW wind, 6 GW solar, the 2022 export corridors,
Fengning pumped storage; Shangyi pumped storage present with ``p_nom = 0``). The scenario files
change years through overrides. Run ``python -m energy_model.build_network [--out DIR]``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pypsa

from energy_model.exceptions import InputError
from energy_model.heating import compute_season_mask, load_heating_parameters
from energy_model.network_writer import REGION, _format_value, plot_topology, write_network

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_OUT_DIR = PROJECT_ROOT / "networks" / "zhangjiakou"

CF_FILE = "cf_onwind_solar_2020_hebei_innermongolia_atlite_era5.csv"
LOAD_FILE = "load_2018_hourly_MW_hebei_wu_kan.csv"
COST_FILE = "costs_2020_pypsa-china-pik_subset.csv"
PARAMETER_FILE = "parameters.csv"

#: Local electricity buses (PyPSA ``location`` = ``zhangjiakou``).
LOCAL_BUSES = ("zhangbei", "kangbao", "guyuan", "shangyi", "chongli", "city", "huailai")
#: External buses (``location`` = their own id).
EXTERNAL_BUSES = ("beijing", "xiongan", "fengning", "north_hebei")
HOURS_PER_YEAR = 8760

#: Carrier id -> (nice name, colour, CO2 emissions [t/MWh_th]).
CARRIERS: dict[str, tuple[str, str, float]] = {
    "AC": ("Electricity (AC bus)", "#6c757d", 0.0),
    "h2": ("Hydrogen", "#e377c2", 0.0),
    "onwind": ("Onshore wind", "#235ebc", 0.0),
    "solar": ("Solar PV", "#f9d002", 0.0),
    "coal": ("Coal (condensing and CHP, electricity side)", "#545454", 0.34),
    "biomass": ("Biomass", "#baa741", 0.0),
    "battery": ("Battery storage", "#ace37f", 0.0),
    "phs": ("Pumped hydro storage", "#51dbcc", 0.0),
    "electrolysis": ("Electrolysis", "#ff29d9", 0.0),
    "h2_storage": ("Hydrogen storage", "#bf13a0", 0.0),
    "hvdc": ("Zhangbei VSC-HVDC grid", "#8a1caf", 0.0),
    "uhv_ac": ("1000 kV UHV AC", "#b5179e", 0.0),
    "ac500": ("500 kV AC channel", "#7209b7", 0.0),
    "ac_internal": ("Intra-city AC transmission", "#adb5bd", 0.0),
    "export_market": ("Export market", "#2a9d8f", 0.0),
    "grid_import": ("Import from North-Hebei grid", "#e76f51", 0.0),
    "electricity_demand": ("Electricity demand", "#264653", 0.0),
    "data_centre": ("Data centres", "#f4a261", 0.0),
    "h2_demand": ("Hydrogen demand", "#d62a8a", 0.0),
}

#: Call ``energy_model.heating.add_heating`` at the end of the build (switched on once that
#: function is committed, which it is; ``--no-heating`` / ``--heating`` override it).
WITH_HEATING = True



@dataclass(frozen=True)
class Parameter:
    """One row of ``data/parameters.csv``."""

    value: float
    unit: str
    source: str


def load_parameters(data_dir: Path) -> dict[str, Parameter]:
    """Read ``parameters.csv`` into a mapping ``name -> Parameter``.

    Parameters
    ----------
    data_dir
        Project data folder.

    Returns
    -------
    dict
        Every parameter by name; values are floats in the unit of the ``unit`` column.

    Raises
    ------
    InputError
        Missing file, duplicate names or non-numeric values.
    """
    path = data_dir / PARAMETER_FILE
    if not path.is_file():
        msg = "parameter table does not exist"
        raise InputError(msg, file=path)
    table = pd.read_csv(path, dtype={"name": str, "unit": str, "source": str})
    duplicated = table["name"][table["name"].duplicated()]
    if not duplicated.empty:
        msg = "duplicate parameter name"
        raise InputError(msg, file=path, row=duplicated.iloc[0], column="name")
    params: dict[str, Parameter] = {}
    for row in table.itertuples(index=False):
        try:
            value = float(row.value)
        except ValueError as err:
            msg = f"value {row.value!r} is not a number"
            raise InputError(msg, file=path, row=row.name, column="value") from err
        if math.isnan(value):
            msg = "value is missing"
            raise InputError(msg, file=path, row=row.name, column="value")
        params[str(row.name)] = Parameter(value, str(row.unit), str(row.source))
    return params


def _p(params: dict[str, Parameter], name: str) -> float:
    """Return the value of parameter ``name`` or raise ``InputError`` naming it."""
    try:
        return params[name].value
    except KeyError as err:
        msg = "required parameter is missing"
        raise InputError(msg, file=PARAMETER_FILE, row=name) from err


def load_costs(data_dir: Path, file: str = COST_FILE) -> pd.DataFrame:
    """Read a PyPSA-China-PIK cost table subset as ``technology x parameter`` values.

    Parameters
    ----------
    data_dir
        Project data folder.
    file
        File name inside ``data_dir``.

    Returns
    -------
    pandas.DataFrame
        Index technology, columns parameter (``investment`` [EUR/kW or EUR/kWh or EUR/MW/km],
        ``FOM`` [%/a], ``VOM`` [EUR/MWh], ``lifetime`` [a], ``efficiency`` [-], ``fuel``
        [EUR/MWh_th]); missing entries are 0.
    """
    path = data_dir / file
    if not path.is_file():
        msg = "cost table does not exist"
        raise InputError(msg, file=path)
    table = pd.read_csv(path)
    wide = table.pivot_table(index="technology", columns="parameter", values="value", aggfunc="first")
    return wide.fillna(0.0)


def compute_annuity(discount_rate: float, lifetime: float) -> float:
    """Capital recovery factor.

    .. math:: a = \\frac{r}{1 - (1 + r)^{-n}}

    Parameters
    ----------
    discount_rate
        r [1/a]; 0 gives 1/n.
    lifetime
        n [a].

    Returns
    -------
    float
        Annuity factor [1/a].
    """
    if discount_rate == 0:
        return 1.0 / lifetime
    return discount_rate / (1.0 - (1.0 + discount_rate) ** -lifetime)


def compute_annualised_cost(
    costs: pd.DataFrame,
    technology: str,
    params: dict[str, Parameter],
    per_unit: float = 1000.0,
) -> float:
    """Annualised investment plus fixed O&M in CNY per MW (or MWh, or MW/km) and year.

    .. math:: c = I \\cdot u \\cdot (a(r, n) + \\mathrm{FOM}/100) \\cdot x

    I: investment from the table [EUR per kW, kWh or MW/km]; u: ``per_unit`` (1000 for per-kW
    entries, 1 for per-MW entries); a: annuity [1/a]; FOM [%/a]; x: EUR->CNY rate [CNY/EUR].

    Parameters
    ----------
    costs
        Output of :func:`load_costs`.
    technology
        Row of the cost table.
    params
        Parameter table (discount rate, exchange rate).
    per_unit
        Factor from the table's unit to per-MW(h) [-].

    Returns
    -------
    float
        Annualised cost [CNY/(MW a)], [CNY/(MWh a)] or [CNY/(MW km a)].
    """
    row = costs.loc[technology]
    annuity = compute_annuity(_p(params, "economics.discount_rate"), float(row["lifetime"]))
    fom = float(row.get("FOM", 0.0)) / 100.0
    return float(row["investment"]) * per_unit * (annuity + fom) * _p(params, "economics.eur_to_cny")


def load_snapshots(params: dict[str, Parameter]) -> pd.DatetimeIndex:
    """Return the 8760 hourly snapshots of the (non-leap) label year, CST, tz-naive."""
    year = int(_p(params, "snapshots.year"))
    snapshots = pd.date_range(f"{year}-01-01 00:00", f"{year}-12-31 23:00", freq="h", name="snapshot")
    if len(snapshots) != HOURS_PER_YEAR:
        msg = f"snapshot year {year} is a leap year; use a non-leap year"
        raise InputError(msg, file=PARAMETER_FILE, row="snapshots.year")
    return snapshots


def load_capacity_factors(data_dir: Path) -> pd.DataFrame:
    """Read the 2020 atlite capacity factors and drop 29 February (8784 h -> 8760 h).

    Returns
    -------
    pandas.DataFrame
        8760 rows in calendar order (1 Jan 00:00 ... 31 Dec 23:00 CST of weather year 2020
        without 29 Feb), columns ``Hebei_onwind, InnerMongolia_onwind, Hebei_solar,
        InnerMongolia_solar`` [p.u.], integer index 0..8759 (hour of the non-leap year).
    """
    path = data_dir / CF_FILE
    frame = pd.read_csv(path, parse_dates=["time_CST_UTC+8"])
    time = frame.pop("time_CST_UTC+8")
    leap_day = (time.dt.month == 2) & (time.dt.day == 29)
    frame = frame.loc[~leap_day.to_numpy()].reset_index(drop=True)
    if len(frame) != HOURS_PER_YEAR or frame.isna().any().any():
        msg = f"expected 8784 complete hourly rows (8760 after dropping 29 Feb), got {len(frame)}"
        raise InputError(msg, file=path)
    return frame


def load_load_shape(data_dir: Path) -> pd.Series:
    """Read the Hebei 2018 hourly load and normalise it to a sum of 1.

    Returns
    -------
    pandas.Series
        8760 values [1/h-share], integer index 0..8759 (hour of year 2018, CST).
    """
    path = data_dir / LOAD_FILE
    frame = pd.read_csv(path)
    if len(frame) != HOURS_PER_YEAR or frame["Hebei_MW"].isna().any():
        msg = f"expected 8760 complete hourly rows, got {len(frame)}"
        raise InputError(msg, file=path)
    shape = frame["Hebei_MW"].astype(float)
    return shape / shape.sum()


def compute_scaled_profile(shape: np.ndarray, target_flh: float) -> np.ndarray:
    """Rescale a capacity-factor shape to a full-load-hour target, clipping at 1.

    Finds the factor k with :math:`\\sum_t \\min(1, k\\,s_t) = F` by bisection.

    Parameters
    ----------
    shape
        Hourly capacity factors s_t [p.u.], 8760 values.
    target_flh
        F, the annual full-load hours [h]; must be below the number of non-zero hours.

    Returns
    -------
    numpy.ndarray
        Hourly p_max_pu [p.u.] in [0, 1].
    """
    if target_flh >= np.count_nonzero(shape):
        msg = f"full-load-hour target {target_flh} h cannot be reached with this shape"
        raise InputError(msg, file=PARAMETER_FILE)
    low, high = 0.0, 1.0
    while np.minimum(1.0, high * shape).sum() < target_flh:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if np.minimum(1.0, mid * shape).sum() < target_flh:
            low = mid
        else:
            high = mid
    return np.minimum(1.0, high * shape)


def add_buses(n: pypsa.Network, params: dict[str, Parameter]) -> None:
    """Add the 7 local and 4 external electricity buses and the city hydrogen bus."""
    for bus in LOCAL_BUSES + EXTERNAL_BUSES:
        n.add(
            "Bus",
            bus,
            carrier="AC",
            x=_p(params, f"bus.{bus}.x"),
            y=_p(params, f"bus.{bus}.y"),
            location=REGION if bus in LOCAL_BUSES else bus,
            unit="MW",
        )
    n.add(
        "Bus",
        "city_h2",
        carrier="h2",
        x=_p(params, "bus.city.x") + 0.08,
        y=_p(params, "bus.city.y") - 0.08,
        location=REGION,
        unit="MW",
    )


def add_renewables(
    n: pypsa.Network,
    params: dict[str, Parameter],
    costs: pd.DataFrame,
    cf: pd.DataFrame,
) -> None:
    """Add fixed-capacity wind and solar generators per zone with rescaled profiles.

    The zone's shape is ``(1 - w) * Hebei + w * InnerMongolia`` (w from
    ``shape.innermongolia_weight.<zone>``), rescaled to ``<tech>.flh.<zone>`` full-load hours.
    """
    eur = _p(params, "economics.eur_to_cny")
    for tech in ("onwind", "solar"):
        capital_cost = compute_annualised_cost(costs, tech, params)
        marginal_cost = float(costs.loc[tech, "VOM"]) * eur
        for zone in LOCAL_BUSES:
            weight = _p(params, f"shape.innermongolia_weight.{zone}")
            shape = (1.0 - weight) * cf[f"Hebei_{tech}"].to_numpy() + weight * cf[
                f"InnerMongolia_{tech}"
            ].to_numpy()
            profile = compute_scaled_profile(shape, _p(params, f"{tech}.flh.{zone}"))
            n.add(
                "Generator",
                f"{zone}_{tech}",
                bus=zone,
                carrier=tech,
                p_nom=_p(params, f"{tech}.p_nom.{zone}"),
                p_max_pu=pd.Series(profile, index=n.snapshots),
                capital_cost=capital_cost,
                marginal_cost=marginal_cost,
                lifetime=float(costs.loc[tech, "lifetime"]),
            )


def compute_coal_min_load(
    snapshots: pd.DatetimeIndex,
    *,
    min_stable_load_pu: float,
    committed_share: float,
    chp_season: pd.Series | None = None,
    chp_season_min_pu: float = 0.0,
) -> pd.Series:
    """Hourly minimum output of a coal fleet per unit of its rating, for an LP without commitment.

    Formula (per snapshot t)::

        p_min_pu(t) = max(c * m, s(t) * h)

    Symbols:
        m      minimum stable load of a committed unit [p.u. of rating]
        c      share of the fleet's rating kept committed all year [-] (the rest is on planned
               outage or reserve shutdown)
        s(t)   1 inside the CHP heating season, else 0 [-] (CHP fleets only; 0 for condensing)
        h      heat-led minimum electric output of a CHP fleet in the heating season
               [p.u. of rating] (all CHP units committed to serve district heat)

    The fleet's output then satisfies ``p(t) >= p_min_pu(t) * p_nom`` [MW], which keeps coal
    online when wind and solar could replace it: the source of curtailment when corridors are
    full. With c = 0 and h = 0 the fleet is fully flexible (the pre-2026 model).

    Returns
    -------
    pandas.Series
        ``p_min_pu`` [p.u.] indexed by ``snapshots``, in [0, 1].
    """
    for name, value in (
        ("min_stable_load_pu", min_stable_load_pu),
        ("committed_share", committed_share),
        ("chp_season_min_pu", chp_season_min_pu),
    ):
        if not 0.0 <= value <= 1.0:
            msg = f"{name} = {value} lies outside [0, 1]"
            raise InputError(msg, key=name)
    base = np.full(len(snapshots), committed_share * min_stable_load_pu)
    if chp_season is not None:
        season = chp_season.reindex(snapshots).fillna(False).to_numpy(dtype=bool)
        base = np.where(season, np.maximum(base, chp_season_min_pu), base)
    return pd.Series(base, index=snapshots, name="p_min_pu")


def add_thermal(
    n: pypsa.Network,
    params: dict[str, Parameter],
    costs: pd.DataFrame,
    chp_season: pd.Series | None = None,
) -> None:
    """Add the city's coal (condensing, CHP electricity side) and biomass generators.

    Coal marginal cost = fuel price / efficiency + VOM; annual coal generation is capped at
    ``p_nom * coal.utilisation_hours`` through ``e_sum_max``; hourly output is at least
    :func:`compute_coal_min_load` (minimum stable load of the committed fleet; heat-led CHP
    must-run inside ``chp_season``).
    """
    eur = _p(params, "economics.eur_to_cny")
    fuel = _p(params, "coal.fuel_price")
    hours = _p(params, "coal.utilisation_hours")
    for name, tech, p_nom_key, season in (
        ("city_coal", "coal", "coal.p_nom.city", None),
        ("city_coal_chp", "central coal CHP", "coal_chp.p_nom.city", chp_season),
    ):
        efficiency = float(costs.loc[tech, "efficiency"])
        p_nom = _p(params, p_nom_key)
        p_min_pu = compute_coal_min_load(
            n.snapshots,
            min_stable_load_pu=_p(params, "coal.min_stable_load_pu"),
            committed_share=_p(params, "coal.committed_share"),
            chp_season=season,
            chp_season_min_pu=_p(params, "coal_chp.heating_season_min_pu"),
        )
        min_energy = float(p_min_pu.sum()) * p_nom
        if min_energy > p_nom * hours:
            msg = (
                f"{name}: the minimum load implies {min_energy / 1e6:.2f} TWh/a, more than the "
                f"utilisation cap {p_nom * hours / 1e6:.2f} TWh/a (coal.utilisation_hours)"
            )
            raise InputError(msg, key="coal.committed_share")
        n.add(
            "Generator",
            name,
            bus="city",
            carrier="coal",
            p_nom=p_nom,
            p_min_pu=p_min_pu,
            efficiency=efficiency,
            marginal_cost=fuel / efficiency + float(costs.loc[tech, "VOM"]) * eur,
            capital_cost=compute_annualised_cost(costs, tech, params),
            e_sum_max=p_nom * hours,
            lifetime=float(costs.loc[tech, "lifetime"]),
        )
    efficiency = float(costs.loc["biomass", "efficiency"])
    n.add(
        "Generator",
        "city_biomass",
        bus="city",
        carrier="biomass",
        p_nom=_p(params, "biomass.p_nom.city"),
        p_max_pu=_p(params, "biomass.p_max_pu"),
        efficiency=efficiency,
        marginal_cost=float(costs.loc["biomass", "fuel"]) * eur / efficiency,
        capital_cost=compute_annualised_cost(costs, "biomass", params),
        lifetime=float(costs.loc["biomass", "lifetime"]),
    )


def load_chp_season(data_dir: Path, snapshots: pd.DatetimeIndex) -> pd.Series:
    """Hours of the city's CHP heating season (``chp_season_start``/``_end`` of the heating table)."""
    heating = load_heating_parameters(data_dir)
    return compute_season_mask(snapshots, heating["chp_season_start"], heating["chp_season_end"])


def add_loads(n: pypsa.Network, params: dict[str, Parameter], shape: pd.Series) -> None:
    """Add electricity demand per zone (Hebei 2018 shape), flat data-centre and H2 demand."""
    annual = _p(params, "load.electricity.annual") * 1e6  # MWh
    profile = shape.to_numpy() * annual
    for zone in LOCAL_BUSES:
        share = _p(params, f"load.share.{zone}")
        n.add(
            "Load",
            f"{zone}_electricity_demand",
            bus=zone,
            carrier="electricity_demand",
            p_set=pd.Series(profile * share, index=n.snapshots),
        )
    dc_annual = _p(params, "load.data_centre.annual") * 1e6
    for zone in ("zhangbei", "city", "huailai"):
        flat = dc_annual * _p(params, f"data_centre.share.{zone}") / HOURS_PER_YEAR
        n.add(
            "Load",
            f"{zone}_data_centre",
            bus=zone,
            carrier="data_centre",
            p_set=pd.Series(np.full(HOURS_PER_YEAR, flat), index=n.snapshots),
        )
    h2_mw = _p(params, "h2.demand") * _p(params, "h2.lhv") / HOURS_PER_YEAR
    n.add(
        "Load",
        "city_h2_demand",
        bus="city_h2",
        carrier="h2_demand",
        p_set=pd.Series(np.full(HOURS_PER_YEAR, h2_mw), index=n.snapshots),
    )


def _hvdc_efficiency(params: dict[str, Parameter], length_km: float) -> float:
    """Converter-pair plus line efficiency of a VSC link [-]."""
    return _p(params, "link.hvdc.efficiency_static") * _p(
        params, "link.hvdc.efficiency_per_1000km"
    ) ** (length_km / 1000.0)


def add_corridors(n: pypsa.Network, params: dict[str, Parameter], costs: pd.DataFrame) -> None:
    """Add export corridors (local -> external), 500 kV channels (both ways) and internal links.

    One-way lossy links are used throughout: a two-way corridor is a pair of links, so that
    losses apply in both directions.
    """
    hvdc_km = compute_annualised_cost(costs, "HVDC overhead", params, per_unit=1.0)
    hvdc_pair = compute_annualised_cost(costs, "HVDC inverter pair", params, per_unit=1.0)
    hvac_km = compute_annualised_cost(costs, "HVAC overhead", params, per_unit=1.0)
    lifetime = float(costs.loc["HVDC overhead", "lifetime"])

    for name, bus0, bus1 in (
        ("vsc_zhangbei_beijing", "zhangbei", "beijing"),
        ("vsc_kangbao_fengning", "kangbao", "fengning"),
        ("vsc_fengning_beijing", "fengning", "beijing"),
    ):
        length = _p(params, f"link.{name}.length")
        n.add(
            "Link",
            name,
            bus0=bus0,
            bus1=bus1,
            carrier="hvdc",
            p_nom=_p(params, f"link.{name}.p_nom"),
            efficiency=_hvdc_efficiency(params, length),
            length=length,
            capital_cost=hvdc_km * length + hvdc_pair,
            lifetime=lifetime,
        )

    for name, bus0, bus1, key in (
        ("uhv_zhangbei_xiongan", "zhangbei", "xiongan", "uhv_zhangbei_xiongan"),
        ("uhv_huailai_tianjin", "huailai", "north_hebei", "uhv_huailai_tianjin"),
    ):
        length = _p(params, f"link.{key}.length")
        # The Huailai-Tianjin line is not in service in 2022: p_nom 0 in the base.
        p_nom = _p(params, f"link.{key}.p_nom") if name == "uhv_zhangbei_xiongan" else 0.0
        n.add(
            "Link",
            name,
            bus0=bus0,
            bus1=bus1,
            carrier="uhv_ac",
            p_nom=p_nom,
            efficiency=_p(params, "link.uhv_zhangbei_xiongan.efficiency"),
            length=length,
            capital_cost=hvac_km * length,
            lifetime=lifetime,
        )

    ac500_length = _p(params, "link.ac500.length")
    for name, zone in (
        ("ac500_guyuan_taiping", "guyuan"),
        ("ac500_wanquan_shunyi", "city"),
        ("ac500_zhangnan_changping", "city"),
    ):
        for suffix, bus0, bus1 in (("", zone, "north_hebei"), ("_import", "north_hebei", zone)):
            n.add(
                "Link",
                f"{name}{suffix}",
                bus0=bus0,
                bus1=bus1,
                carrier="ac500",
                p_nom=_p(params, "link.ac500.p_nom"),
                efficiency=_p(params, "link.ac500.efficiency"),
                length=ac500_length,
                capital_cost=hvac_km * ac500_length if suffix == "" else 0.0,
                lifetime=lifetime,
            )

    for suffix, bus0, bus1 in (("", "fengning", "north_hebei"), ("_import", "north_hebei", "fengning")):
        n.add(
            "Link",
            f"ac500_fengning_north_hebei{suffix}",
            bus0=bus0,
            bus1=bus1,
            carrier="ac500",
            p_nom=_p(params, "link.fengning_north_hebei.p_nom"),
            efficiency=_p(params, "link.fengning_north_hebei.efficiency"),
        )

    internal_length = _p(params, "link.internal.length")
    for a, b in (
        ("kangbao", "zhangbei"),
        ("guyuan", "zhangbei"),
        ("shangyi", "zhangbei"),
        ("zhangbei", "city"),
        ("chongli", "city"),
        ("city", "huailai"),
    ):
        p_nom = _p(params, f"link.{a}_{b}.p_nom")
        for bus0, bus1 in ((a, b), (b, a)):
            n.add(
                "Link",
                f"{bus0}_to_{bus1}",
                bus0=bus0,
                bus1=bus1,
                carrier="ac_internal",
                p_nom=p_nom,
                efficiency=_p(params, "link.internal.efficiency"),
                marginal_cost=_p(params, "link.internal.marginal_cost"),
                length=internal_length,
                capital_cost=0.5 * hvac_km * internal_length,
                lifetime=lifetime,
            )


def compute_price_profile(shape: pd.Series, mean_price: float, exponent: float) -> np.ndarray:
    """Hourly price with a given annual mean that follows the load shape.

    .. math:: \\pi_t = \bar\\pi \\, \frac{(L_t / \bar L)^k}{\\mathrm{mean}_t (L_t / \bar L)^k}

    Parameters
    ----------
    shape
        Hourly load shape L_t [any unit], 8760 values.
    mean_price
        Annual mean price [CNY/MWh].
    exponent
        k [-]; 0 gives a flat price.

    Returns
    -------
    numpy.ndarray
        Hourly prices [CNY/MWh].
    """
    factor = (shape.to_numpy() / shape.mean()) ** exponent
    return mean_price * factor / factor.mean()


def add_markets(n: pypsa.Network, params: dict[str, Parameter], shape: pd.Series) -> None:
    """Add export sinks at the external demand buses and the import source at ``north_hebei``.

    An export sink is a generator with ``p_min_pu = -1``, ``p_max_pu = 0`` and a *positive*
    marginal cost equal to the export price pi_t: its dispatch p <= 0, so its objective term
    pi_t * p = -pi_t * |p| is a revenue of pi_t per MWh absorbed. Both prices follow the Hebei
    load shape (:func:`compute_price_profile`); the import price is above the export price in
    every hour.
    """
    size = _p(params, "market.p_nom")
    exponent = _p(params, "market.price_shape_exponent")
    export_price = compute_price_profile(shape, _p(params, "market.export_price"), exponent)
    import_price = compute_price_profile(shape, _p(params, "market.import_price"), exponent)
    for bus in ("beijing", "xiongan", "north_hebei"):
        n.add(
            "Generator",
            f"{bus}_export_market",
            bus=bus,
            carrier="export_market",
            p_nom=size,
            p_min_pu=-1.0,
            p_max_pu=0.0,
            marginal_cost=pd.Series(export_price, index=n.snapshots),
        )
    n.add(
        "Generator",
        "north_hebei_grid_import",
        bus="north_hebei",
        carrier="grid_import",
        p_nom=size,
        marginal_cost=pd.Series(import_price, index=n.snapshots),
    )


def compute_pumped_storage_schedule(
    snapshots: pd.DatetimeIndex,
    *,
    annual_generation_mwh: float,
    round_trip: float,
    pump_start_hour: int,
    pump_hours: int,
    generation_start_hours: Sequence[int],
    generation_block_hours: int,
) -> pd.Series:
    """Net output of a grid-scheduled pumped-storage plant, the same every day [MW].

    Formula (hour of day h, every day d of the year)::

        p(h) = + G / (365 * H_g)          if h is in a generation block
        p(h) = - G / (eta * 365 * H_p)    if h is in the pumping window
        p(h) = 0                          otherwise

    Symbols:
        G    design annual generation [MWh/a]
        eta  round-trip efficiency [-] (pumping energy = G / eta)
        H_g  generation hours per day = number of blocks x ``generation_block_hours`` [h]
        H_p  pumping hours per day (``pump_hours``) [h], from ``pump_start_hour`` [h, 0-23]

    Positive = generation, negative = pumping (PyPSA's ``StorageUnit.p_set`` convention, which
    fixes ``p_dispatch - p_store``). Each day's stored energy returns to where it started, so the
    schedule is consistent with a cyclic state of charge.
    """
    hours = np.asarray(snapshots.hour)
    generating = np.zeros(len(snapshots), dtype=bool)
    for start in generation_start_hours:
        generating |= (hours - start) % 24 < generation_block_hours
    pumping = (hours - pump_start_hour) % 24 < pump_hours
    if (generating & pumping).any():
        msg = "the pumped-storage schedule pumps and generates in the same hour"
        raise InputError(msg, key="phs.fengning.pump_hours")
    daily_generation = annual_generation_mwh / 365.0
    h_g = generation_block_hours * len(generation_start_hours)
    p = np.where(generating, daily_generation / h_g, 0.0)
    p = np.where(pumping, -daily_generation / (round_trip * pump_hours), p)
    return pd.Series(p, index=snapshots, name="p_set")


def add_storage(n: pypsa.Network, params: dict[str, Parameter], costs: pd.DataFrame) -> None:
    """Add pumped hydro (Fengning grid-scheduled, Shangyi optimised) and extendable batteries.

    Fengning (Chengde, outside the city) is dispatched by the North China grid, not by the city:
    its net output is fixed to :func:`compute_pumped_storage_schedule` (``p_set``) at its design
    annual generation. A scenario that changes its ``p_nom`` must scale ``p_set`` by the same
    factor (the loader refuses a schedule above the rating).
    """
    phs_cost = compute_annualised_cost(costs, "PHS", params)
    for name, bus, key, p_nom in (
        ("fengning_phs", "fengning", "fengning", _p(params, "phs.fengning.p_nom")),
        ("shangyi_phs", "shangyi", "shangyi", 0.0),  # 2026 asset: set in plan-2035
    ):
        round_trip = _p(params, f"phs.{key}.round_trip")
        one_way = math.sqrt(round_trip)
        schedule = None
        if name == "fengning_phs":
            schedule = compute_pumped_storage_schedule(
                n.snapshots,
                annual_generation_mwh=_p(params, "phs.fengning.design_generation") * 1e6,
                round_trip=round_trip,
                pump_start_hour=int(_p(params, "phs.fengning.pump_start_hour")),
                pump_hours=int(_p(params, "phs.fengning.pump_hours")),
                generation_start_hours=(
                    int(_p(params, "phs.fengning.generation_morning_start_hour")),
                    int(_p(params, "phs.fengning.generation_evening_start_hour")),
                ),
                generation_block_hours=int(_p(params, "phs.fengning.generation_block_hours")),
            )
            if schedule.abs().max() > p_nom:
                peak = schedule.abs().max()
                msg = f"{name}: the schedule peaks at {peak:.0f} MW, above p_nom {p_nom:.0f} MW"
                raise InputError(msg, key="phs.fengning.pump_hours")
        n.add(
            "StorageUnit",
            name,
            bus=bus,
            carrier="phs",
            p_nom=p_nom,
            **({} if schedule is None else {"p_set": schedule}),
            max_hours=_p(params, f"phs.{key}.max_hours"),
            efficiency_store=one_way,
            efficiency_dispatch=one_way,
            cyclic_state_of_charge=True,
            capital_cost=phs_cost,
            lifetime=float(costs.loc["PHS", "lifetime"]),
        )
    max_hours = _p(params, "battery.max_hours")
    inverter = compute_annualised_cost(costs, "battery inverter", params)
    energy = compute_annualised_cost(costs, "battery storage", params)
    one_way = float(costs.loc["battery inverter", "efficiency"])
    for zone in ("zhangbei", "city"):
        n.add(
            "StorageUnit",
            f"{zone}_battery",
            bus=zone,
            carrier="battery",
            p_nom_extendable=True,
            p_nom_max=_p(params, "battery.p_nom_max"),
            max_hours=max_hours,
            efficiency_store=one_way,
            efficiency_dispatch=one_way,
            cyclic_state_of_charge=True,
            capital_cost=inverter + max_hours * energy,
            lifetime=float(costs.loc["battery storage", "lifetime"]),
        )


def add_hydrogen(n: pypsa.Network, params: dict[str, Parameter], costs: pd.DataFrame) -> None:
    """Add extendable electrolysis (city -> city_h2) and extendable H2 tank storage."""
    n.add(
        "Link",
        "city_electrolysis",
        bus0="city",
        bus1="city_h2",
        carrier="electrolysis",
        p_nom_extendable=True,
        p_nom_max=_p(params, "electrolysis.p_nom_max"),
        efficiency=float(costs.loc["electrolysis", "efficiency"]),
        capital_cost=compute_annualised_cost(costs, "electrolysis", params),
        lifetime=float(costs.loc["electrolysis", "lifetime"]),
    )
    tank = "hydrogen storage tank type 1 including compressor"
    n.add(
        "Store",
        "city_h2_store",
        bus="city_h2",
        carrier="h2_storage",
        e_nom_extendable=True,
        e_nom_max=_p(params, "h2.store.e_nom_max"),
        e_cyclic=True,
        capital_cost=compute_annualised_cost(costs, tank, params),
        lifetime=float(costs.loc[tank, "lifetime"]),
    )


def add_carriers(n: pypsa.Network) -> None:
    """Add every carrier used so far that is in :data:`CARRIERS` and not yet defined.

    Carriers: nice name, colour and CO2 intensity [t/MWh_th].
    """
    for carrier in sorted(_used_carriers(n) - set(n.carriers.index)):
        if carrier not in CARRIERS:
            msg = f"carrier '{carrier}' has no entry in CARRIERS"
            raise InputError(msg, file=__file__)
        nice_name, color, co2 = CARRIERS[carrier]
        n.add("Carrier", carrier, nice_name=nice_name, color=color, co2_emissions=co2)


def _used_carriers(n: pypsa.Network) -> set[str]:
    """Carrier ids referenced by buses and by the branch/one-port components."""
    used = set(n.buses.carrier)
    for component in ("generators", "loads", "links", "storage_units", "stores"):
        used |= set(n.components[component].static.carrier)
    return used


def validate_carriers(n: pypsa.Network) -> None:
    """Raise ``InputError`` when a used carrier is not defined in ``n.carriers``."""
    missing = sorted(_used_carriers(n) - set(n.carriers.index))
    if missing:
        msg = f"carriers used but not defined (heating builder must add them): {missing}"
        raise InputError(msg, file=__file__)


def apply_heating(n: pypsa.Network, data_dir: Path) -> bool:
    """Call ``energy_model.heating.add_heating`` when that function exists.

    Returns
    -------
    bool
        True when heating was added.
    """
    try:
        heating = importlib.import_module("energy_model.heating")
    except ModuleNotFoundError:
        logger.info("energy_model.heating not present: building without heating")
        return False
    add_heating = getattr(heating, "add_heating", None)
    if add_heating is None:
        logger.info("energy_model.heating has no add_heating: building without heating")
        return False
    add_heating(n, data_dir)
    logger.info("heating added by energy_model.heating.add_heating")
    return True


def build_network(data_dir: Path = DEFAULT_DATA_DIR, *, with_heating: bool = WITH_HEATING) -> pypsa.Network:
    """Build the base (2022) Zhangjiakou network in memory.

    Parameters
    ----------
    data_dir
        Project data folder.
    with_heating
        Call the heating builder when it exists.

    Returns
    -------
    pypsa.Network
        8760 hourly snapshots (label year from ``snapshots.year``), all components.
    """
    pypsa.options.api.legacy_string_dtype = False
    params = load_parameters(data_dir)
    costs = load_costs(data_dir)
    n = pypsa.Network(name="zhangjiakou")
    n.set_snapshots(load_snapshots(params))
    add_buses(n, params)
    add_renewables(n, params, costs, load_capacity_factors(data_dir))
    add_thermal(n, params, costs, load_chp_season(data_dir, n.snapshots))
    shape = load_load_shape(data_dir)
    add_loads(n, params, shape)
    add_corridors(n, params, costs)
    add_markets(n, params, shape)
    add_storage(n, params, costs)
    add_hydrogen(n, params, costs)
    add_carriers(n)
    if with_heating:
        apply_heating(n, data_dir)
    validate_carriers(n)
    return n


DOC_START = "<!-- parameters:start (generated by python -m energy_model.build_network --docs) -->"
DOC_END = "<!-- parameters:end -->"

#: Cost-table technologies used, with the network components they price.
COST_USES = (
    ("onwind", "onwind generators", 1000.0, "CNY/(MW a)"),
    ("solar", "solar generators", 1000.0, "CNY/(MW a)"),
    ("coal", "city_coal", 1000.0, "CNY/(MW a)"),
    ("central coal CHP", "city_coal_chp (electricity side)", 1000.0, "CNY/(MW a)"),
    ("biomass", "city_biomass", 1000.0, "CNY/(MW a)"),
    ("battery inverter", "batteries (power part)", 1000.0, "CNY/(MW a)"),
    ("battery storage", "batteries (energy part, x max_hours)", 1000.0, "CNY/(MWh a)"),
    ("PHS", "fengning_phs, shangyi_phs", 1000.0, "CNY/(MW a)"),
    ("electrolysis", "city_electrolysis", 1000.0, "CNY/(MW_e a)"),
    ("hydrogen storage tank type 1 including compressor", "city_h2_store", 1000.0, "CNY/(MWh a)"),
    ("HVDC overhead", "VSC links (x length)", 1.0, "CNY/(MW km a)"),
    ("HVDC inverter pair", "VSC links", 1.0, "CNY/(MW a)"),
    ("HVAC overhead", "UHV, 500 kV and internal links (x length)", 1.0, "CNY/(MW km a)"),
)


def _cell(technology: str, parameter: str, table: pd.DataFrame) -> str:
    """Value of one cost-table entry, or '-' when the table has none."""
    hit = table.loc[(table.technology == technology) & (table.parameter == parameter), "value"]
    return _format_value(float(hit.iloc[0])) if len(hit) else "-"


def _md(text: str) -> str:
    """Escape a cell for a markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_data_doc(data_dir: Path, path: Path) -> None:
    """Render the parameter and cost tables into ``path`` between the generated-block markers.

    The rest of the file (the prose) is kept as written. The tables are: every row of
    ``parameters.csv`` (name, value, unit, source) and every cost-table technology used, with
    its investment, FOM, lifetime and the annualised cost that goes into ``capital_cost``.
    """
    params = load_parameters(data_dir)
    costs = load_costs(data_dir)
    lines = [DOC_START, "", "| parameter | value | unit | source / assumption |", "|---|---|---|---|"]
    for name, par in params.items():
        lines.append(f"| `{name}` | {_format_value(par.value)} | {_md(par.unit)} | {_md(par.source)} |")
    lines += [
        "",
        "Costs (PyPSA-China-PIK `costs_2020`, EUR-2020 -> CNY-2020 at "
        f"{_format_value(_p(params, 'economics.eur_to_cny'))} CNY/EUR, discount rate "
        f"{_format_value(_p(params, 'economics.discount_rate'))}, lifetime from the table, FOM "
        "included; `capital_cost = investment x (annuity + FOM)`):",
        "",
        "| technology (cost table) | used for | investment | FOM [%/a] | lifetime [a] | "
        "VOM [EUR/MWh] | efficiency | annualised cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    table = pd.read_csv(data_dir / COST_FILE)
    for tech, use, per_unit, unit in COST_USES:
        row = costs.loc[tech]
        inv_unit = table.loc[(table.technology == tech) & (table.parameter == "investment"), "unit"]
        annual = compute_annualised_cost(costs, tech, params, per_unit=per_unit)
        lines.append(
            f"| {tech} | {use} | {_format_value(float(row['investment']))} {inv_unit.iloc[0]} | "
            f"{_format_value(float(row.get('FOM', 0.0)))} | {_format_value(float(row['lifetime']))} | "
            f"{_format_value(float(row.get('VOM', 0.0)))} | {_cell(tech, 'efficiency', table)} | "
            f"{annual:,.0f} {unit} |"
        )
    lines += ["", DOC_END]
    text = path.read_text(encoding="utf-8") if path.is_file() else f"{DOC_START}\n{DOC_END}\n"
    if DOC_START not in text or DOC_END not in text:
        msg = "generated-block markers are missing"
        raise InputError(msg, file=path)
    head, rest = text.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    path.write_text(head + "\n".join(lines) + tail, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the network CSV folder (and optionally the topology figure).

    Returns
    -------
    int
        Exit code 0 on success, 2 on bad input.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="network CSV folder")
    parser.add_argument("--figure", type=Path, default=None, help="write the topology PNG here")
    parser.add_argument("--docs", type=Path, default=None,
                        help="re-render the generated tables of this markdown file (docs/data.md)")
    heating = parser.add_mutually_exclusive_group()
    heating.add_argument("--heating", dest="heating", action="store_true", default=WITH_HEATING,
                         help="call energy_model.heating.add_heating")
    heating.add_argument("--no-heating", dest="heating", action="store_false",
                         help="do not call add_heating")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
    try:
        n = build_network(args.data, with_heating=args.heating)
    except InputError as err:
        logger.error("%s", err.one_line())
        return err.exit_code
    files = write_network(n, args.out)
    logger.info("wrote %d files to %s", len(files), args.out)
    if args.figure is not None:
        plot_topology(n, args.figure)
        logger.info("wrote %s", args.figure)
    if args.docs is not None:
        write_data_doc(args.data, args.docs)
        logger.info("wrote the parameter tables of %s", args.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
