"""Network stage: load a PyPSA CSV folder strictly and apply a scenario to it.

Reads ``networks/<folder>/*.csv`` (PyPSA's own CSV format); writes nothing. The strict reading
of the folder lives in :mod:`energy_model.network_files` (:func:`load_network` is re-exported
here); this module holds the geography of a loaded network (local buses, border flows) and the
application of a scenario (overrides, snapshot window, time resolution).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pypsa

from energy_model.exceptions import ScenarioError
from energy_model.network_files import (
    BUS_COLUMNS,
    MULTI_PORT,
    NON_NEGATIVE,
    PU_RANGES,
    check_consistency,
    configure_pypsa,
    load_network,
    near_miss,
    validate_folder,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from energy_model.scenario import Override, Scenario

logger = logging.getLogger(__name__)

__all__ = ["configure_pypsa", "load_network", "validate_folder"]


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


#: Key of ``n.meta`` that holds the share of the network's year a snapshot window covers [-].
WINDOW_SHARE_KEY = "window_share_of_year"

#: Annual energy limits of the network, left as they are in a snapshot window: (component, attribute).
ANNUAL_ENERGY_LIMITS = (("Generator", "e_sum_min"), ("Generator", "e_sum_max"))


def window_share(n: pypsa.Network) -> float:
    """Share of the network's year the optimised snapshots cover (1 without a window) [-]."""
    return float(n.meta.get(WINDOW_SHARE_KEY, 1.0))


def apply_snapshot_window(n: pypsa.Network, start: str, end: str, *, file: Path | None = None) -> None:
    r"""Keep only the snapshots from ``start`` to ``end`` (inclusive), in place.

    The window's share of the year is recorded in ``n.meta[WINDOW_SHARE_KEY]``
    (:func:`window_share`); the accounting scales the year's non-modelled final energy by it and
    the CLI the scenario's export contracts (:math:`E' = s\,E`):

    .. math:: s = \sum_{t \in W} w_t \Big/ \sum_{t \in Y} w_t

    The network's annual energy limits (:data:`ANNUAL_ENERGY_LIMITS`, e.g. the coal fleet's
    planned generation ``e_sum_max``) are *not* scaled: their seasonal profile is unknown, and a
    pro-rata cap makes heat-led winter weeks infeasible (in two January weeks the CHP's
    heating-season minimum alone needs 201.6 GWh against 201.5 GWh pro rata). In a window they
    hold as annual limits (loose); a warning names them.

    ==========  ==========================================================  =====
    symbol      meaning                                                     unit
    ==========  ==========================================================  =====
    :math:`w_t` snapshot weighting of the network (``generators`` column)    h
    :math:`W`   snapshots of the window; :math:`Y` every snapshot of the
                network (its year)                                          –
    :math:`E`   an annual quantity scaled to the window                    TWh, Mtce
    :math:`s`   share of the year the window covers                         –
    ==========  ==========================================================  =====
    """
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
    year_hours = float(n.snapshot_weightings["generators"].sum())
    window_hours = float(n.snapshot_weightings.loc[keep, "generators"].sum())
    n.set_snapshots(keep)
    share = window_hours / year_hours if year_hours > 0 else 1.0
    n.meta[WINDOW_SHARE_KEY] = share
    for component, attribute in ANNUAL_ENERGY_LIMITS:
        static = n.components[component].static
        if attribute not in static.columns:
            continue
        finite = np.isfinite(static[attribute].astype(float))
        if finite.any() and share < 1.0:
            logger.warning("snapshot window covers %.2f %% of the year: the annual %s %s of %s "
                           "applies to the window unscaled (its seasonal profile is unknown)",
                           100 * share, component, attribute, ", ".join(static.index[finite]))


#: Link carriers of electric heating, store carriers of thermal storage, generator carriers of
#: fossil heat (see ``energy_model.heating``); used to realise a partial electrification.
ELECTRIC_HEATING_CARRIERS = ("heat_pump", "resistive_heater", "electric_boiler")
HEAT_STORE_CARRIERS = ("heat_storage", "water_tank")
FOSSIL_HEAT_CARRIERS = ("coal_stove", "coal_boiler")


def apply_heating_electrification(
    n: pypsa.Network,
    buses: Iterable[str],
    share: float,
    *,
    key: str,
    file: Path | None = None,
    electric_carriers: Iterable[str] = ELECTRIC_HEATING_CARRIERS,
    store_carriers: Iterable[str] = HEAT_STORE_CARRIERS,
    backup_carriers: Iterable[str] = FOSSIL_HEAT_CARRIERS,
) -> None:
    """Keep a share of the electric heating on ``buses``; heat the rest with fossil fuel, in place.

    Formula, per heat bus b in ``buses``::

        P_link  := s * P_link          for electric-heating links into b
        E_store := s * E_store         for thermal stores on b
        P_gen   := (1 - s) * L_b / k   for the k fossil-heat generators on b (not extendable)

    Symbols:
        s       electrified share of the heat demand served on b [-], in [0, 1]
        P_link  link rating ``p_nom`` [MW_el]; E_store store size ``e_nom`` [MWh_th]
        L_b     peak heat load of bus b over the snapshots [MW_th]
        k       number of fossil-heat generators (``backup_carriers``, default
                :data:`FOSSIL_HEAT_CARRIERS`) on b

    s = 1 leaves the network unchanged (the plan case: every household and square metre
    electrified); s < 1 realises a partial roll-out, the non-electrified part burning coal in
    stoves or boilers, which the accounting counts as fossil final energy.

    Raises
    ------
    ScenarioError
        ``share`` < 1 but the network has no heat bus in ``buses`` with a fossil-heat generator.
    """
    buses = pd.Index(list(buses))
    if share >= 1.0:
        return
    links = n.links.index[
        n.links["carrier"].isin(list(electric_carriers)) & n.links["bus1"].isin(buses)
    ]
    backup = n.generators.index[
        n.generators["carrier"].isin(list(backup_carriers)) & n.generators["bus"].isin(buses)
    ]
    if links.empty or backup.empty:
        msg = (
            "the network has no electric heating and fossil back-up on the heat buses "
            f"{list(buses)}: an electrified share below 1 cannot be realised"
        )
        raise ScenarioError(msg, file=file, key=key)
    n.links.loc[links, "p_nom"] = n.links.loc[links, "p_nom"] * share
    stores = n.stores.index[
        n.stores["carrier"].isin(list(store_carriers)) & n.stores["bus"].isin(buses)
    ]
    n.stores.loc[stores, "e_nom"] = n.stores.loc[stores, "e_nom"] * share
    loads = n.loads.index[n.loads["bus"].isin(buses)]
    peak_by_bus = (
        n.get_switchable_as_dense("Load", "p_set")[loads].max().groupby(n.loads.loc[loads, "bus"]).sum()
    )
    for bus, peak in peak_by_bus.items():
        on_bus = backup[n.generators.loc[backup, "bus"] == bus]
        n.generators.loc[on_bus, "p_nom_extendable"] = False
        n.generators.loc[on_bus, "p_nom"] = (1.0 - share) * float(peak) / max(len(on_bus), 1)


def _check_storage_schedules(n: pypsa.Network, file: Path | None) -> None:
    """Refuse a storage unit whose fixed schedule ``p_set`` exceeds its rating ``p_nom``.

    A scheduled unit (e.g. a grid-dispatched pumped-storage plant) whose ``p_nom`` an override
    lowered must have its ``p_set`` scaled too; otherwise the model would be infeasible, or the
    rating would silently not mean what the scenario says.
    """
    schedules = n.storage_units_t.p_set
    if schedules.empty:
        return
    for name in schedules.columns:
        peak = float(schedules[name].abs().max())
        p_nom = float(n.storage_units.at[name, "p_nom"])
        if peak > p_nom * (1 + 1e-9) + 1e-6:
            msg = (
                f"storage unit '{name}' has a fixed schedule (p_set) peaking at {peak:.1f} MW above "
                f"its p_nom {p_nom:.1f} MW: scale its p_set with the same override as its p_nom"
            )
            raise ScenarioError(msg, file=file, key="overrides")


def _apply_heating_realisation(n: pypsa.Network, sc: Scenario, file: Path | None) -> None:
    """Apply ``sc.heating``: rural heat buses ``rural_*``, urban ``urban_*`` (carrier ``heat``)."""
    buses = heat_buses(n)
    for group, share in (
        ("rural", sc.heating.rural_electrified_share),
        ("urban", sc.heating.urban_electrified_share),
    ):
        apply_heating_electrification(
            n,
            buses[buses.str.startswith(f"{group}_")],
            share,
            key=f"heating.{group}_electrified_share",
            file=file,
        )


def check_scenario_names(n: pypsa.Network, sc: Scenario, *, file: Path | None = None) -> None:
    """Names in the scenario that must exist in the network, checked before any solve.

    * ``accounting.region``: when buses carry a ``location`` and none equals the region, the
      region is an error if it is a near-miss of a location, was set in the file, or a target
      needs it (otherwise the network is simply not the region's, a notice);
    * ``accounting.renewable_carriers``: a carrier absent from the network is ignored, unless it
      is a near-miss of a network carrier (``onwnd``);
    * override selectors ``carrier`` and ``bus``: every listed name must exist.

    Raises
    ------
    ScenarioError
        Naming the key and the missing name (with "did you mean" where one is close).
    """
    locations = sorted(
        {str(v).strip() for v in n.buses.get("location", pd.Series(dtype=str)).fillna("")} - {"", "nan"}
    )
    region = sc.accounting.region
    if locations and region not in locations:
        guess = near_miss(region, locations)
        if guess or "region" in sc.accounting.model_fields_set or sc.targets:
            hint = f"did you mean '{guess}'?" if guess else f"locations: {', '.join(locations[:8])}"
            msg = f"no bus of the network has location '{region}' ({hint})"
            raise ScenarioError(msg, file=file, key="accounting.region")
        logger.warning("no bus has location '%s': the whole network is outside the region", region)
    carriers = [str(c) for c in n.carriers.index]
    for i, carrier in enumerate(sc.accounting.renewable_carriers):
        guess = near_miss(carrier, carriers) if carrier not in carriers else None
        if guess:
            msg = f"carrier '{carrier}' is not in the network; did you mean '{guess}'?"
            raise ScenarioError(msg, file=file, key=f"accounting.renewable_carriers.{i}")
    for i, override in enumerate(sc.overrides):
        static = n.components[override.component].static
        known = {"carrier": set(static["carrier"].astype(str)) if "carrier" in static else set(),
                 "bus": set(n.buses.index.astype(str))}
        for selector in ("carrier", "bus"):
            for name in getattr(override, selector) or []:
                if name not in known[selector]:
                    guess = near_miss(name, known[selector])
                    hint = f"; did you mean '{guess}'?" if guess else ""
                    msg = f"no component of {override.component} has {selector} '{name}'{hint}"
                    raise ScenarioError(msg, file=file, key=f"overrides.{i}.{selector}")


def apply_scenario(n: pypsa.Network, sc: Scenario, *, file: Path | None = None) -> None:
    """Apply a scenario's overrides and time resolution to a loaded network, in place.

    Raises
    ------
    ScenarioError
        An override names a missing component or attribute, or selects nothing.
    """
    for i, override in enumerate(sc.overrides):
        apply_override(n, override, key=f"overrides.{i}", file=file)
    _check_storage_schedules(n, file)
    _apply_heating_realisation(n, sc, file)
    for i, contract in enumerate(sc.export_contracts):
        missing = [link for link in contract.links if link not in n.links.index]
        if missing:
            msg = f"export contract names link '{missing[0]}' that is not in links.csv"
            raise ScenarioError(msg, file=file, key=f"export_contracts.{i}.links")
    check_scenario_names(n, sc, file=file)
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
        check_consistency(n)
    except Exception as err:
        msg = f"network is inconsistent after the overrides: {' '.join(str(err).split())}"
        raise ScenarioError(msg, file=file, key="overrides") from err
