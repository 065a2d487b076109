"""Clean-heating load: hourly heat demand, heat-pump COP, heat components and heating metrics.

Reads ``data/heating/`` (station temperature, intraday profile, ``parameters.csv``) and the
project cost table; writes nothing. ``add_heating`` is called by the network builder at its end;
``compute_heating_metrics`` by ``metrics.py`` on a solved network. See ``docs/heating.md``.

Component conventions (relied on by ``accounting.py``):

* heat buses have carrier ``heat``;
* electric heating is a ``Link`` from an electricity bus (``bus0``) to a heat bus (``bus1``),
  ``efficiency`` = COP (time-varying for heat pumps); its input ``p0`` is final electricity;
* fossil heat used by end users is a ``Generator`` on a heat bus (carriers ``coal_stove``,
  ``coal_boiler``) with ``efficiency`` set; fuel input = ``p / efficiency`` [MWh_th fuel];
* thermal storage is a ``Store`` on the heat bus with ``standing_loss``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_model.exceptions import InputError
from energy_model.network import FOSSIL_HEAT_CARRIERS, HEAT_BUS_CARRIER, local_buses
from energy_model.tables import METRIC_COLUMNS
from energy_model.tables import row as _row

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

HEATING_DIR = "heating"
PARAMETERS_FILE = "parameters.csv"
TEMPERATURE_FILE = "temperature_hourly_2013_2017_north_beijing.csv"
PROFILE_FILE = "intraday_profile_bdew.csv"
COSTS_FILE = "costs_2020_pypsa-china-pik_heat.csv"
PROJECT_PARAMETERS_FILE = "parameters.csv"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

#: Carriers added by ``add_heating``: id -> (nice_name, color).
HEAT_CARRIERS: dict[str, tuple[str, str]] = {
    "heat": ("Heat", "#c0504d"),
    "heat_pump": ("Air-source heat pump", "#e97f6f"),
    "resistive_heater": ("Electric heater (direct and storage)", "#f2b84b"),
    "electric_boiler": ("Electric boiler (district heating)", "#d98c1f"),
    "heat_storage": ("Storage heater (ceramic brick)", "#8c6d31"),
    "water_tank": ("Hot-water tank (district heating)", "#6b8fb3"),
    "coal_stove": ("Loose-coal stove", "#4d4d4d"),
    "coal_boiler": ("Coal boiler (district heating)", "#7f7f7f"),
}
#: Carriers of electric heating links, fossil heat generators and thermal stores are defined once,
#: in ``energy_model.network`` (which also realises a partial electrification).


@dataclass(frozen=True)
class HeatSegment:
    """One heat bus: who is heated, where, and with what.

    Attributes
    ----------
    name
        Heat bus id, e.g. ``rural_bashang_heat``.
    electricity_bus
        Electricity bus the electric heaters draw from.
    zone
        Climate zone: ``basin`` or ``bashang``.
    kind
        ``rural`` (household heat pumps, heaters, brick storage, coal stoves) or ``urban``
        (district heating: electric boilers, hot-water tanks, coal boilers).
    annual_heat_mwh
        Heat delivered per heating season [MWh_th].
    """

    name: str
    electricity_bus: str
    zone: str
    kind: str
    annual_heat_mwh: float


# --------------------------------------------------------------------------------------------
# Loading


def load_heating_parameters(data_dir: Path) -> dict[str, str]:
    """Read ``data/heating/parameters.csv`` (columns ``parameter, value, unit, source``).

    Parameters
    ----------
    data_dir
        The project's ``data/`` folder.

    Returns
    -------
    dict
        Parameter id -> value as text (convert with :func:`_number`).

    Raises
    ------
    InputError
        Missing file, missing column, duplicate id or a row without a source.
    """
    path = Path(data_dir) / HEATING_DIR / PARAMETERS_FILE
    if not path.is_file():
        raise InputError("heating parameter table does not exist", file=path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("parameter", "value", "unit", "source"):
        if column not in table.columns:
            raise InputError("required column is missing", file=path, column=column)
    duplicated = table["parameter"][table["parameter"].duplicated()]
    if len(duplicated):
        raise InputError("duplicate parameter", file=path, row=duplicated.iloc[0])
    for _, row in table.iterrows():
        if not row["source"].strip():
            raise InputError(
                "every heating number needs a source", file=path, row=row["parameter"], column="source"
            )
        if not row["value"].strip():
            raise InputError("empty value", file=path, row=row["parameter"], column="value")
    return dict(zip(table["parameter"], table["value"], strict=True))


def _number(params: dict[str, str], key: str, data_dir: Path | None = None) -> float:
    """Return parameter ``key`` as a float, with a one-line error naming the row."""
    file = Path(data_dir) / HEATING_DIR / PARAMETERS_FILE if data_dir is not None else PARAMETERS_FILE
    if key not in params:
        raise InputError("required parameter is missing", file=file, row=key)
    try:
        return float(params[key])
    except ValueError as err:
        raise InputError(f"not a number: {params[key]!r}", file=file, row=key, column="value") from err


def load_station_temperature(data_dir: Path, columns: list[str], max_gap_hours: int = 6) -> pd.Series:
    """Hourly mean outdoor temperature of the north-Beijing stations, gaps interpolated.

    Parameters
    ----------
    data_dir
        The project's ``data/`` folder.
    columns
        Station columns to average [degC].
    max_gap_hours
        Longest run of missing hours that is filled by linear interpolation [h].

    Returns
    -------
    pandas.Series
        Station-mean 2 m air temperature [degC], hourly, China Standard Time (naive index).

    Raises
    ------
    InputError
        Missing file/column, a non-hourly index, or a gap longer than ``max_gap_hours``.
    """
    path = Path(data_dir) / HEATING_DIR / TEMPERATURE_FILE
    if not path.is_file():
        raise InputError("temperature file does not exist", file=path)
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    for column in columns:
        if column not in frame.columns:
            raise InputError("temperature column is missing", file=path, column=column)
    frame = frame[columns]
    steps = frame.index.to_series().diff().dropna().unique()
    if len(steps) != 1 or steps[0] != pd.Timedelta(hours=1):
        raise InputError("time index must be hourly without gaps", file=path, column=frame.index.name)
    missing = int(frame.isna().sum().sum())
    for column in columns:
        isna = frame[column].isna()
        runs = isna.groupby((~isna).cumsum()).sum()
        if runs.max() > max_gap_hours:
            raise InputError(
                f"gap of {int(runs.max())} missing hours exceeds {max_gap_hours}", file=path, column=column
            )
    filled = frame.interpolate(method="time", limit_direction="both")
    logger.info("station temperature: %d missing values filled by linear interpolation", missing)
    return filled.mean(axis=1).rename("temperature_degC")


def load_intraday_profile(data_dir: Path) -> pd.Series:
    """BDEW residential space-heating intraday factors (hour 0-23, mean 1) [-]."""
    path = Path(data_dir) / HEATING_DIR / PROFILE_FILE
    if not path.is_file():
        raise InputError("intraday profile does not exist", file=path)
    profile = pd.read_csv(path, index_col="hour")["residential_space_weekday"]
    if list(profile.index) != list(range(24)) or (profile <= 0).any():
        raise InputError("need 24 positive factors for hours 0-23", file=path)
    return profile / profile.mean()


# --------------------------------------------------------------------------------------------
# Pure functions


def compute_weather_year(temperature: pd.Series, start: str) -> pd.Series:
    """Cut one 12-month weather year out of a longer hourly series.

    Parameters
    ----------
    temperature
        Hourly temperature [degC].
    start
        First day of the year, e.g. ``2015-07-01`` (a heating-season year keeps a winter whole).

    Returns
    -------
    pandas.Series
        8,760 or 8,784 hourly values.
    """
    begin = pd.Timestamp(start)
    end = begin + pd.DateOffset(years=1) - pd.Timedelta(hours=1)
    year = temperature.loc[begin:end]
    expected = int((end - begin) / pd.Timedelta(hours=1)) + 1
    if len(year) != expected:
        msg = f"weather year {start}: {len(year)} hours in the data, need {expected}"
        raise InputError(msg, file=TEMPERATURE_FILE)
    return year


def compute_zone_offsets(station: pd.Series, normals: pd.Series) -> pd.Series:
    """Hourly offset that moves the station climate to a zone's monthly normals [K].

    ``offset_m = normal_m - mean_station_m`` (station mean over all years of ``station``),
    interpolated linearly between mid-month anchors (periodic), so the shift has no steps.

    Parameters
    ----------
    station
        The full hourly station series (all years) [degC].
    normals
        Zone monthly normal temperature, index 1..12 [degC].

    Returns
    -------
    pandas.Series
        Offset per day of year 1..366 [K].
    """
    station_monthly = station.groupby(station.index.month).mean()
    offsets = normals.reindex(range(1, 13)) - station_monthly.reindex(range(1, 13))
    mid_doy = np.array([15.5 + 30.42 * (m - 1) for m in range(1, 13)])
    anchors_x = np.concatenate([mid_doy - 365.25, mid_doy, mid_doy + 365.25])
    anchors_y = np.tile(offsets.to_numpy(), 3)
    days = np.arange(1, 367)
    return pd.Series(np.interp(days, anchors_x, anchors_y), index=days, name="offset_K")


def apply_zone_offset(temperature: pd.Series, daily_offset: pd.Series, extra: float = 0.0) -> pd.Series:
    """Add a day-of-year offset (and a constant ``extra`` [K]) to an hourly series [degC]."""
    doy = temperature.index.dayofyear
    return temperature + daily_offset.reindex(doy).to_numpy() + extra


def compute_season_mask(index: pd.DatetimeIndex, start: str, end: str) -> pd.Series:
    """True for hours inside a heating season that wraps the new year.

    Parameters
    ----------
    index
        Hourly timestamps.
    start, end
        ``MM-DD`` of the first and last heating day (inclusive), e.g. ``11-01`` and ``03-31``.

    Returns
    -------
    pandas.Series
        Boolean mask indexed like ``index``.
    """
    month_day = index.month * 100 + index.day
    first = int(start.replace("-", ""))
    last = int(end.replace("-", ""))
    if first <= last:
        inside = (month_day >= first) & (month_day <= last)
    else:
        inside = (month_day >= first) | (month_day <= last)
    return pd.Series(inside, index=index, name="heating_season")


def compute_heating_degree_hours(
    temperature: pd.Series, base_temperature: float = 18.0, smoothing_hours: int = 24
) -> pd.Series:
    """Heating degree-hours on thermally smoothed temperature.

    ``HDH(t) = max(0, T_base - T_eff(t))`` with ``T_eff`` the trailing ``smoothing_hours`` mean.

    Parameters
    ----------
    temperature
        Chronological hourly outdoor temperature [degC].
    base_temperature
        Degree-hour base ``T_base`` [degC].
    smoothing_hours
        Window of the trailing mean [h].

    Returns
    -------
    pandas.Series
        Degree-hours per hour [K h].
    """
    smoothed = temperature.rolling(smoothing_hours, min_periods=1).mean()
    return (base_temperature - smoothed).clip(lower=0.0)


def compute_heat_demand(
    degree_hours: pd.Series,
    season: pd.Series,
    annual_heat_mwh: float,
    intraday: pd.Series | None = None,
) -> pd.Series:
    """Hourly heat demand that integrates to a seasonal total.

    ``Q(t) = Q_season * s(t) HDH(t) w(h_t) / sum_t s(t) HDH(t) w(h_t)``

    =========  =====================================================  ======
    symbol     meaning                                                unit
    =========  =====================================================  ======
    Q(t)       heat demand in hour t                                  MW_th
    Q_season   heat delivered per heating season (``annual_heat_mwh``) MWh_th
    s(t)       1 inside the heating season, else 0                    -
    HDH(t)     heating degree-hours                                   K h
    w(h)       intraday factor of hour-of-day h (mean 1)               -
    =========  =====================================================  ======

    Parameters
    ----------
    degree_hours, season
        Indexed by the same hourly timestamps (weights of 1 h assumed).
    annual_heat_mwh
        Seasonal total [MWh_th].
    intraday
        Factors for hours 0..23; ``None`` = flat.

    Returns
    -------
    pandas.Series
        Heat demand [MW_th].
    """
    weight = degree_hours.where(season, 0.0)
    if intraday is not None:
        weight = weight * intraday.reindex(degree_hours.index.hour).to_numpy()
    total = float(weight.sum())
    if total <= 0:
        msg = "no heating degree-hours inside the heating season"
        raise InputError(msg, file=PARAMETERS_FILE)
    return weight * (annual_heat_mwh / total)


def compute_cop(
    temperature: pd.Series | np.ndarray,
    sink_temperature: float = 35.0,
    a: float = 6.81,
    b: float = -0.121,
    c: float = 0.000630,
    delta_t_min: float = 15.0,
    delta_t_max: float = 75.0,
    cop_min: float = 1.0,
) -> pd.Series | np.ndarray:
    """Air-source heat-pump COP from outdoor temperature (Staffell et al. 2012).

    ``COP = max(cop_min, a + b dT + c dT^2)``, ``dT = clip(T_sink - T_out, dT_min, dT_max)``

    ======  ==================================  =====
    symbol  meaning                             unit
    ======  ==================================  =====
    T_out   outdoor (source) air temperature    degC
    T_sink  heat sink (supply) temperature      degC
    dT      temperature lift                    K
    a,b,c   regression coefficients             -, 1/K, 1/K^2
    ======  ==================================  =====

    Returns
    -------
    Same type as ``temperature``: COP [-].
    """
    delta_t = np.clip(sink_temperature - temperature, delta_t_min, delta_t_max)
    cop = a + b * delta_t + c * delta_t**2
    return np.maximum(cop, cop_min)


def compute_standing_loss(time_constant_days: float) -> float:
    """Hourly standing loss of a thermal store, ``1 - exp(-1 / (24 tau))`` [1/h] (PyPSA-Eur)."""
    return float(1.0 - np.exp(-1.0 / (24.0 * time_constant_days)))


def remap_to_snapshots(series: pd.Series, snapshots: pd.Index) -> pd.Series:
    """Move a weather-year series onto the network calendar by month, day and hour.

    Network snapshots without a match (29 Feb when the weather year has none) raise.

    Parameters
    ----------
    series
        Hourly values of the weather year (timestamps unique per month/day/hour).
    snapshots
        Network snapshots (timestamps).

    Returns
    -------
    pandas.Series
        Values indexed by ``snapshots``.
    """
    times = pd.DatetimeIndex(snapshots)
    keys = pd.MultiIndex.from_arrays([series.index.month, series.index.day, series.index.hour])
    lookup = pd.Series(series.to_numpy(), index=keys)
    wanted = pd.MultiIndex.from_arrays([times.month, times.day, times.hour])
    values = lookup.reindex(wanted)
    if values.isna().any():
        first = times[np.asarray(values.isna())][0]
        msg = f"snapshot {first} has no hour in the weather year"
        raise InputError(msg, file=TEMPERATURE_FILE)
    return pd.Series(values.to_numpy(), index=snapshots, name=series.name)


# --------------------------------------------------------------------------------------------
# Network


def compute_segments(params: dict[str, str], data_dir: Path | None = None) -> list[HeatSegment]:
    """The three heat segments and their seasonal heat [MWh_th] from the parameters."""
    num = lambda key: _number(params, key, data_dir)  # noqa: E731
    households = num("rural_households")
    share_bashang = num("bashang_household_share")
    area = num("heated_area_per_household")
    kwh_to_mwh = 1e-3
    return [
        HeatSegment(
            "rural_bashang_heat",
            "zhangbei",
            "bashang",
            "rural",
            households * share_bashang * area * num("specific_heat_demand_bashang") * kwh_to_mwh,
        ),
        HeatSegment(
            "rural_basin_heat",
            "city",
            "basin",
            "rural",
            households * (1 - share_bashang) * area * num("specific_heat_demand_basin") * kwh_to_mwh,
        ),
        HeatSegment(
            "urban_heat",
            "city",
            "basin",
            "urban",
            num("urban_floor_area") * num("specific_heat_demand_urban") * kwh_to_mwh,
        ),
    ]


def compute_zone_temperatures(
    data_dir: Path, params: dict[str, str], snapshots: pd.Index
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """Zone temperatures on the network calendar: raw (for COP) and degree-hours (for demand).

    Returns
    -------
    tuple of dict
        ``{zone: temperature [degC]}`` and ``{zone: heating degree-hours [K h]}``, both indexed
        by ``snapshots``; smoothing is done on the chronological weather year before remapping.
    """
    num = lambda key: _number(params, key, data_dir)  # noqa: E731
    station = load_station_temperature(
        data_dir, params["station_columns"].split("|"), int(num("max_gap_hours"))
    )
    normals = pd.Series([num(f"normal_basin_{m}") for m in MONTHS], index=range(1, 13))
    daily_offset = compute_zone_offsets(station, normals)
    year = compute_weather_year(station, params["weather_year_start"])
    extra = {"basin": 0.0, "bashang": num("bashang_offset")}
    raw: dict[str, pd.Series] = {}
    hdh: dict[str, pd.Series] = {}
    for zone, shift in extra.items():
        zone_t = apply_zone_offset(year, daily_offset, shift)
        degree_hours = compute_heating_degree_hours(
            zone_t, num("base_temperature"), int(num("smoothing_hours"))
        )
        raw[zone] = remap_to_snapshots(zone_t, snapshots)
        hdh[zone] = remap_to_snapshots(degree_hours, snapshots)
    return raw, hdh


def add_heating(n: pypsa.Network, data_dir: Path) -> None:
    """Add heat buses, heat loads and heating technologies to a network (in place).

    Three heat buses: ``rural_bashang_heat`` (fed from ``zhangbei``), ``rural_basin_heat`` and
    ``urban_heat`` (fed from ``city``). Rural: air-source heat pumps (``heat_pump``, hourly
    COP), direct and storage heaters (``resistive_heater``), ceramic-brick storage
    (``heat_storage`` Store) and loose-coal stoves (``coal_stove``, ``p_nom`` 0 in the plan).
    Urban district heating: electric boilers (``electric_boiler``), hot-water tanks
    (``water_tank``) and coal boilers (``coal_boiler``, ``p_nom`` 0 in the plan).
    Capacities are fixed from the weather-year peak (see ``docs/heating.md``); the coal
    generators carry their fuel cost so a scenario can make them extendable.

    Parameters
    ----------
    n
        Network whose electricity buses include ``city`` and ``zhangbei``; hourly snapshots.
    data_dir
        The project's ``data/`` folder (``data/heating/`` and the cost table).

    Raises
    ------
    InputError
        A missing electricity bus, data file or parameter.
    """
    data_dir = Path(data_dir)
    params = load_heating_parameters(data_dir)
    num = lambda key: _number(params, key, data_dir)  # noqa: E731
    segments = compute_segments(params, data_dir)
    for segment in segments:
        if segment.electricity_bus not in n.buses.index:
            msg = f"electricity bus '{segment.electricity_bus}' needed by the heating segments is missing"
            raise InputError(msg, file="networks (buses)", row=segment.electricity_bus)
    snapshots = n.snapshots
    raw, hdh = compute_zone_temperatures(data_dir, params, snapshots)
    intraday = load_intraday_profile(data_dir)
    seasons = {
        zone: compute_season_mask(
            pd.DatetimeIndex(snapshots), params[f"season_{zone}_start"], params[f"season_{zone}_end"]
        )
        for zone in ("basin", "bashang")
    }
    costs = load_heating_costs(data_dir)
    location = n.buses["location"] if "location" in n.buses.columns else None

    for carrier, (nice_name, color) in HEAT_CARRIERS.items():
        if carrier not in n.carriers.index:
            co2 = num("coal_co2_intensity") if carrier in FOSSIL_HEAT_CARRIERS else 0.0
            n.add("Carrier", carrier, nice_name=nice_name, color=color, co2_emissions=co2)

    margin = num("capacity_margin")
    valley = num("valley_hours")
    cover = num("storage_cover_hours")
    for segment in segments:
        flat = segment.kind == "urban" and num("urban_intraday_flat") == 1
        profile = None if flat else intraday
        demand = compute_heat_demand(
            hdh[segment.zone], seasons[segment.zone].set_axis(snapshots), segment.annual_heat_mwh, profile
        )
        demand.index = snapshots
        peak = float(demand.max())
        design_day = float(demand.groupby(pd.DatetimeIndex(snapshots).date).sum().max())
        bus_kwargs = {"carrier": "heat"}
        if location is not None:
            bus_kwargs["location"] = location.get(segment.electricity_bus, "")
        n.add("Bus", segment.name, **bus_kwargs)
        n.add("Load", segment.name, bus=segment.name, carrier="heat", p_set=demand)
        prefix = segment.name.removesuffix("_heat")
        if segment.kind == "rural":
            cop = compute_cop(
                raw[segment.zone],
                num("heat_pump_sink_temperature"),
                num("cop_a"),
                num("cop_b"),
                num("cop_c"),
                num("cop_delta_t_min"),
                num("cop_delta_t_max"),
                num("cop_min"),
            )
            cop_season_min = float(cop[seasons[segment.zone].to_numpy()].min())
            heater_eff = num("rural_heater_efficiency")
            share_hp = num("rural_share_heat_pump")
            hp_heat = share_hp * peak * margin
            hp_p_nom = hp_heat / cop_season_min
            # heat pumps serve only their own households: heat output <= share_hp * Q(t)
            hp_p_max_pu = (share_hp * demand / (np.asarray(cop) * hp_p_nom)).clip(upper=1.0)
            heater_heat = (
                num("rural_share_direct_heater") * peak * margin
                + num("rural_share_storage_heater") * design_day / valley
            )
            n.add(
                "Link",
                f"{prefix}_heat_pump",
                bus0=segment.electricity_bus,
                bus1=segment.name,
                carrier="heat_pump",
                efficiency=pd.Series(np.asarray(cop), index=snapshots),
                p_nom=hp_p_nom,
                p_max_pu=hp_p_max_pu,
                **costs["heat_pump"],
            )
            n.add(
                "Link",
                f"{prefix}_resistive_heater",
                bus0=segment.electricity_bus,
                bus1=segment.name,
                carrier="resistive_heater",
                efficiency=heater_eff,
                p_nom=heater_heat / heater_eff,
                **costs["resistive_heater"],
            )
            n.add(
                "Store",
                f"{prefix}_heat_storage",
                bus=segment.name,
                carrier="heat_storage",
                e_nom=num("rural_share_storage_heater") * design_day * cover / 24.0,
                e_cyclic=True,
                standing_loss=compute_standing_loss(num("rural_storage_time_constant")),
                **costs["heat_storage"],
            )
            n.add(
                "Generator",
                f"{prefix}_coal_stove",
                bus=segment.name,
                carrier="coal_stove",
                p_nom=0.0,
                efficiency=num("coal_stove_efficiency"),
                marginal_cost=costs["coal_fuel_per_mwh"] / num("coal_stove_efficiency"),
            )
        else:
            boiler_eff = num("urban_boiler_efficiency")
            boiler_heat = max(peak * margin, design_day / valley)
            n.add(
                "Link",
                f"{prefix}_electric_boiler",
                bus0=segment.electricity_bus,
                bus1=segment.name,
                carrier="electric_boiler",
                efficiency=boiler_eff,
                p_nom=boiler_heat / boiler_eff,
                **costs["electric_boiler"],
            )
            n.add(
                "Store",
                f"{prefix}_water_tank",
                bus=segment.name,
                carrier="water_tank",
                e_nom=design_day * cover / 24.0,
                e_cyclic=True,
                standing_loss=compute_standing_loss(num("urban_tank_time_constant")),
                **costs["water_tank"],
            )
            n.add(
                "Generator",
                f"{prefix}_coal_boiler",
                bus=segment.name,
                carrier="coal_boiler",
                p_nom=0.0,
                efficiency=num("coal_boiler_efficiency"),
                marginal_cost=costs["coal_fuel_per_mwh"] / num("coal_boiler_efficiency"),
                **costs["coal_boiler"],
            )
        logger.info(
            "heating %s: %.2f TWh_th/season, peak %.0f MW_th, design day %.0f MWh_th",
            segment.name,
            segment.annual_heat_mwh / 1e6,
            peak,
            design_day,
        )


def compute_annuity(discount_rate: float, lifetime_years: float) -> float:
    """Capital recovery factor ``r / (1 - (1 + r)^-n)`` [1/a] (``1/n`` when ``r`` is 0)."""
    if discount_rate == 0:
        return 1.0 / lifetime_years
    return discount_rate / (1.0 - (1.0 + discount_rate) ** -lifetime_years)


def _project_parameter(data_dir: Path, name: str) -> float:
    """One value of the project table ``data/parameters.csv`` (columns ``name, value``)."""
    path = Path(data_dir) / PROJECT_PARAMETERS_FILE
    if not path.is_file():
        raise InputError("project parameter table does not exist", file=path)
    table = pd.read_csv(path, index_col="name")
    if name not in table.index:
        raise InputError("required parameter is missing", file=path, row=name)
    try:
        return float(table.at[name, "value"])
    except ValueError as err:
        raise InputError("not a number", file=path, row=name, column="value") from err


def load_heating_costs(data_dir: Path) -> dict:
    """Cost attributes of the heat components from the heat rows of the PyPSA-China-PIK table.

    ``capital_cost = (annuity(r, lifetime) + FOM) * investment * eur_to_cny`` [CNY/MW/a or
    CNY/MWh/a]; heat-pump and heater investments are per kW of heat, links are sized in
    electricity, so they are multiplied by the table's nominal efficiency (as PyPSA-Eur does).
    ``marginal_cost`` of a link is its VOM per MWh of heat times its efficiency [CNY/MWh_el].
    Coal stoves and boilers are existing stock (no capital cost); their ``marginal_cost`` is
    the project coal price divided by the efficiency (set in ``add_heating``).

    Parameters
    ----------
    data_dir
        The project's ``data/`` folder: ``heating/costs_2020_pypsa-china-pik_heat.csv`` and
        ``parameters.csv`` (``economics.eur_to_cny``, ``economics.discount_rate``,
        ``coal.fuel_price``).

    Returns
    -------
    dict
        ``{carrier: {attribute: value}}`` plus ``coal_fuel_per_mwh`` [CNY/MWh_th].
    """
    data_dir = Path(data_dir)
    path = data_dir / HEATING_DIR / COSTS_FILE
    if not path.is_file():
        raise InputError("heat cost table does not exist", file=path)
    table = pd.read_csv(path).set_index(["technology", "parameter"])["value"]
    eur_to_cny = _project_parameter(data_dir, "economics.eur_to_cny")
    rate = _project_parameter(data_dir, "economics.discount_rate")

    def value(technology: str, parameter: str) -> float:
        if (technology, parameter) not in table.index:
            raise InputError("cost entry is missing", file=path, row=f"{technology}|{parameter}")
        return float(table.loc[(technology, parameter)])

    def capital(technology: str, per_unit_output: float = 1.0) -> float:
        fixed = compute_annuity(rate, value(technology, "lifetime")) + value(technology, "FOM") / 100.0
        return fixed * value(technology, "investment") * 1e3 * eur_to_cny * per_unit_output

    heat_pump = "decentral air-sourced heat pump"
    heater = "decentral resistive heater"
    boiler = "central resistive heater"
    small_tank = "decentral water tank storage"
    large_tank = "central water tank storage"
    return {
        "heat_pump": {
            "capital_cost": capital(heat_pump, value(heat_pump, "efficiency")),
            "lifetime": value(heat_pump, "lifetime"),
        },
        "resistive_heater": {
            "capital_cost": capital(heater, value(heater, "efficiency")),
            "lifetime": value(heater, "lifetime"),
        },
        "electric_boiler": {
            "capital_cost": capital(boiler, value(boiler, "efficiency")),
            "marginal_cost": value(boiler, "VOM") * value(boiler, "efficiency") * eur_to_cny,
            "lifetime": value(boiler, "lifetime"),
        },
        "heat_storage": {
            "capital_cost": capital(small_tank),
            "lifetime": value(small_tank, "lifetime"),
        },
        "water_tank": {
            "capital_cost": capital(large_tank),
            "lifetime": value(large_tank, "lifetime"),
        },
        "coal_boiler": {},
        "coal_fuel_per_mwh": _project_parameter(data_dir, "coal.fuel_price"),
    }


# --------------------------------------------------------------------------------------------
# Metrics

MWH_PER_TWH = 1e6
#: Energy content of one tonne of standard coal equivalent [MWh] (29.3076 GJ).
MWH_PER_TCE = 29.3076 / 3.6
def compute_heating_metrics(n: pypsa.Network, sc: Scenario) -> pd.DataFrame:
    """Heating metrics of a solved network (tidy: ``metric, variant, carrier, bus, value, unit``).

    Metrics
    -------
    ``heat_demand`` [TWh]
        Heat load per heat bus.
    ``heat_supply`` [TWh]
        Heat delivered by each technology carrier to each heat bus (links ``-p1``, generators
        ``p``; stores: net discharge, negative = stored and lost).
    ``heating_electricity`` [TWh], ``heating_electricity_peak`` [MW]
        Electricity drawn by electric heating links (``p0``) per carrier and electricity bus, and
        in total (``carrier``/``bus`` empty); the peak is the highest hourly total.
    ``heating_coal_use`` [Mtce]
        Fuel of coal stoves/boilers, ``sum p / efficiency / 8.141 MWh/tce``.
    ``coal_displaced`` [Mtce]
        Coal the baseline would burn for the heat not served by coal:
        ``(Q_bus - Q_coal,bus) / eta_baseline,bus / 8.141``, with ``eta_baseline`` the efficiency of
        the bus's coal generator (stove 0.5, boiler 0.78).
    ``heating_season_curtailment`` [TWh, %] (variant ``heating_season``)
        Curtailed energy of the scenario's renewable carriers in snapshots with any heat load,
        and its share of their available energy in those snapshots.
    ``heating_renewable_electricity`` [TWh, %] (variant ``hourly_mix``)
        Heating electricity times the hourly renewable fraction of local electricity supply
        ``r(t) = G_RE(t) / (G_local(t) + M(t))`` (local generators on electricity buses, imports
        ``M`` over border links). Indicative only: the official share is computed by
        ``energy_model.accounting``.

    Parameters
    ----------
    n
        Solved network with heat buses (carrier ``heat``).
    sc
        Scenario (renewable carriers and accounting region).

    Returns
    -------
    pandas.DataFrame
        Tidy metric rows.
    """
    weights = n.snapshot_weightings.generators
    store_weights = n.snapshot_weightings.stores
    heat_buses = n.buses.index[n.buses.carrier == HEAT_BUS_CARRIER]
    rows: list[dict] = []
    if heat_buses.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)

    loads = n.loads[n.loads.bus.isin(heat_buses)]
    load_p = n.loads_t.p.reindex(columns=loads.index, fill_value=0.0)
    if load_p.empty or not load_p.abs().to_numpy().any():
        load_p = n.get_switchable_as_dense("Load", "p_set").reindex(columns=loads.index, fill_value=0.0)
    demand_by_bus = load_p.mul(weights, axis=0).sum().groupby(loads.bus).sum()
    for bus, value in demand_by_bus.items():
        rows.append(_row("heat_demand", value / MWH_PER_TWH, "TWh", carrier="heat", bus=str(bus)))

    links = n.links[n.links.bus1.isin(heat_buses) & ~n.links.bus0.isin(heat_buses)]
    p0 = n.links_t.p0.reindex(columns=links.index, fill_value=0.0)
    p1 = n.links_t.p1.reindex(columns=links.index, fill_value=0.0)
    gens = n.generators[n.generators.bus.isin(heat_buses)]
    gen_p = n.generators_t.p.reindex(columns=gens.index, fill_value=0.0)
    stores = n.stores[n.stores.bus.isin(heat_buses)]
    store_p = n.stores_t.p.reindex(columns=stores.index, fill_value=0.0)

    heat_from_links = (-p1).mul(weights, axis=0).sum()
    for (carrier, bus), value in heat_from_links.groupby([links.carrier, links.bus1]).sum().items():
        rows.append(_row("heat_supply", value / MWH_PER_TWH, "TWh", carrier=str(carrier), bus=str(bus)))
    heat_from_gens = gen_p.mul(weights, axis=0).sum()
    for (carrier, bus), value in heat_from_gens.groupby([gens.carrier, gens.bus]).sum().items():
        rows.append(_row("heat_supply", value / MWH_PER_TWH, "TWh", carrier=str(carrier), bus=str(bus)))
    store_net = store_p.mul(store_weights, axis=0).sum()
    for (carrier, bus), value in store_net.groupby([stores.carrier, stores.bus]).sum().items():
        rows.append(_row("heat_supply", value / MWH_PER_TWH, "TWh", carrier=str(carrier), bus=str(bus)))
    for name in stores.index:
        discharged = store_p[name].clip(lower=0).mul(store_weights).sum()
        rows.append(_row("heat_storage_discharge", discharged / MWH_PER_TWH, "TWh", variant=str(name),
                         carrier=str(stores.at[name, "carrier"]), bus=str(stores.at[name, "bus"])))

    electricity = p0.mul(weights, axis=0)
    for (carrier, bus), value in electricity.sum().groupby([links.carrier, links.bus0]).sum().items():
        rows.append(
            _row("heating_electricity", value / MWH_PER_TWH, "TWh", carrier=str(carrier), bus=str(bus))
        )
    total_electricity = p0.sum(axis=1)
    rows.append(_row("heating_electricity", electricity.to_numpy().sum() / MWH_PER_TWH, "TWh"))
    peak = float(total_electricity.max()) if len(total_electricity) else 0.0
    rows.append(_row("heating_electricity_peak", peak, "MW"))

    efficiency = gens.efficiency.where(gens.efficiency > 0, 1.0)
    fuel = gen_p.mul(weights, axis=0).sum() / efficiency
    for (carrier, bus), value in fuel.groupby([gens.carrier, gens.bus]).sum().items():
        rows.append(
            _row("heating_coal_use", value / MWH_PER_TCE / 1e6, "Mtce", carrier=str(carrier), bus=str(bus))
        )
    rows.append(_row("heating_coal_use", fuel.sum() / MWH_PER_TCE / 1e6, "Mtce"))

    displaced_total = 0.0
    for bus in heat_buses:
        coal_here = gens.index[(gens.bus == bus) & gens.carrier.isin(FOSSIL_HEAT_CARRIERS)]
        if coal_here.empty:
            continue
        eta = float(efficiency[coal_here].mean())
        served_otherwise = float(demand_by_bus.get(bus, 0.0)) - float(heat_from_gens[coal_here].sum())
        displaced = max(served_otherwise, 0.0) / eta / MWH_PER_TCE / 1e6
        displaced_total += displaced
        rows.append(_row("coal_displaced", displaced, "Mtce", bus=str(bus)))
    rows.append(_row("coal_displaced", displaced_total, "Mtce"))

    # Heating-season curtailment of renewable generators.
    season = load_p.sum(axis=1) > 0
    renewable = n.generators.index[
        n.generators.carrier.isin(sc.accounting.renewable_carriers)
        & n.generators.index.isin(n.generators_t.p_max_pu.columns)
    ]
    if len(renewable):
        p_max = n.generators_t.p_max_pu[renewable]
        available = p_max.mul(n.generators.p_nom_opt[renewable]).mul(weights, axis=0)
        dispatched = n.generators_t.p[renewable].mul(weights, axis=0)
        curtailed = float((available - dispatched)[season].to_numpy().sum())
        available_season = float(available[season].to_numpy().sum())
        rows.append(
            _row("heating_season_curtailment", curtailed / MWH_PER_TWH, "TWh", variant="heating_season")
        )
        share = 100 * curtailed / available_season if available_season > 0 else 0.0
        rows.append(_row("heating_season_curtailment", share, "%", variant="heating_season"))

    # Indicative renewable part of heating electricity (hourly pro-rata of local supply).
    fraction = compute_local_renewable_fraction(n, sc)
    if fraction is not None and len(links):
        renewable_heating = float((total_electricity * fraction).mul(weights).sum())
        variant = "hourly_mix"
        rows.append(
            _row("heating_renewable_electricity", renewable_heating / MWH_PER_TWH, "TWh", variant=variant)
        )
        total = float(total_electricity.mul(weights).sum())
        share = 100 * renewable_heating / total if total > 0 else 0.0
        rows.append(_row("heating_renewable_electricity", share, "%", variant=variant))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def compute_local_renewable_fraction(n: pypsa.Network, sc: Scenario) -> pd.Series | None:
    """Hourly renewable fraction of local electricity supply ``G_RE / (G_local + M)`` [-].

    Local buses: ``location`` equals ``sc.accounting.region`` (all buses when no location is
    set); heat buses and their generators are excluded. Imports ``M(t)``: power entering the
    region over links with one end outside. Storage is treated as pass-through (ignored).
    Returns ``None`` when there is no local generation.
    """
    local = local_buses(n, sc.accounting.region)
    electric = local[n.buses.carrier.reindex(local) != "heat"]
    gens = n.generators[n.generators.bus.isin(electric)]
    if gens.empty:
        return None
    gen_p = n.generators_t.p.reindex(columns=gens.index, fill_value=0.0).clip(lower=0)
    renewable = gen_p.loc[:, gens.carrier.isin(sc.accounting.renewable_carriers)].sum(axis=1)
    in0 = n.links.bus0.isin(electric)
    in1 = n.links.bus1.isin(electric)
    known = n.links.bus0.isin(n.buses.index) & n.links.bus1.isin(n.buses.index)
    inward = n.links.index[in1 & ~in0 & known & (n.buses.carrier.reindex(n.links.bus0).to_numpy() != "heat")]
    outward = n.links.index[in0 & ~in1 & known & (n.buses.carrier.reindex(n.links.bus1).to_numpy() != "heat")]
    imports = (-n.links_t.p1.reindex(columns=inward, fill_value=0.0)).clip(lower=0).sum(axis=1)
    imports = imports + (-n.links_t.p0.reindex(columns=outward, fill_value=0.0)).clip(lower=0).sum(axis=1)
    supply = gen_p.sum(axis=1) + imports
    return (renewable / supply.where(supply > 0)).fillna(0.0)
