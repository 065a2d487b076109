"""Time aggregation: weightings, energy preservation, storage across aggregated snapshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pypsa
import pytest

from energy_model.scenario import TimeResolution
from energy_model.timeseries import (
    apply_time_resolution,
    compute_segment_map,
    compute_time_resolution,
)

pypsa.options.api.legacy_string_dtype = False

EXAMPLES = Path(__file__).parent / "data" / "pypsa-examples"
HIGHS_QUIET = {"output_flag": False, "threads": 1}


def _toy_network(hours: int = 48, block: int = 1, standing_loss: float = 0.0) -> pypsa.Network:
    """One bus: extendable solar, gas, extendable cyclic battery and cyclic store, a load.

    Solar availability and load are constant within blocks of ``block`` hours.
    """
    rng = np.random.default_rng(7)
    sns = pd.date_range("2022-01-01", periods=hours, freq="h")
    n = pypsa.Network()
    n.set_snapshots(sns)
    n.add("Carrier", ["AC", "solar", "gas", "battery", "heat"])
    n.add("Bus", "el", carrier="AC")
    n.add("Bus", "store_bus", carrier="heat")
    n_blocks = -(-hours // block)
    solar = np.repeat(rng.uniform(0, 1, n_blocks), block)[:hours]
    solar[np.arange(hours) % 24 < 6] = 0.0
    load = np.repeat(rng.uniform(50, 150, n_blocks), block)[:hours]
    n.add("Load", "demand", bus="el", p_set=pd.Series(load, index=sns))
    n.add(
        "Generator",
        "solar",
        bus="el",
        carrier="solar",
        p_nom_extendable=True,
        capital_cost=30.0,
        marginal_cost=0.0,
        p_max_pu=pd.Series(solar, index=sns),
    )
    n.add("Generator", "gas", bus="el", carrier="gas", p_nom=200.0, marginal_cost=60.0)
    n.add(
        "StorageUnit",
        "battery",
        bus="el",
        carrier="battery",
        p_nom_extendable=True,
        capital_cost=20.0,
        max_hours=4.0,
        efficiency_store=0.95,
        efficiency_dispatch=0.95,
        standing_loss=standing_loss,
        cyclic_state_of_charge=True,
    )
    n.add("Link", "charger", bus0="el", bus1="store_bus", p_nom=30.0, efficiency=0.9)
    n.add("Link", "discharger", bus0="store_bus", bus1="el", p_nom=30.0, efficiency=0.9)
    n.add(
        "Store",
        "tank",
        bus="store_bus",
        carrier="heat",
        e_nom_extendable=True,
        capital_cost=1.0,
        e_cyclic=True,
        standing_loss=standing_loss,
    )
    return n


def _solve(n: pypsa.Network) -> float:
    status, condition = n.optimize(
        solver_name="highs", include_objective_constant=False, solver_options=HIGHS_QUIET
    )
    assert (status, condition) == ("ok", "optimal")
    return float(n.objective)


def test_hourly_leaves_network_unchanged() -> None:
    n = _toy_network()
    before = n.generators_t.p_max_pu.copy()
    apply_time_resolution(n, TimeResolution(method="hourly"))
    assert len(n.snapshots) == 48
    pd.testing.assert_frame_equal(n.generators_t.p_max_pu, before)


def test_resample_one_hour_on_hourly_data_is_a_no_op() -> None:
    n = _toy_network()
    assert compute_time_resolution(n, TimeResolution(method="resample", hours=1)) is None


@pytest.mark.parametrize("hours", [2, 5, 24])
def test_resample_keeps_hours_and_energies(hours: int) -> None:
    n = _toy_network()
    energy = (n.loads_t.p_set["demand"] * n.snapshot_weightings.generators).sum()
    solar = (n.generators_t.p_max_pu["solar"] * n.snapshot_weightings.generators).sum()
    apply_time_resolution(n, TimeResolution(method="resample", hours=hours))
    assert len(n.snapshots) == -(-48 // hours)
    for column in ["objective", "stores", "generators"]:
        assert n.snapshot_weightings[column].sum() == pytest.approx(48.0)
    w = n.snapshot_weightings.generators
    assert (n.loads_t.p_set["demand"] * w).sum() == pytest.approx(energy)
    assert (n.generators_t.p_max_pu["solar"] * w).sum() == pytest.approx(solar)
    assert n.generators_t.p_max_pu.index.equals(n.snapshots)


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_resample_of_block_constant_inputs_reproduces_the_hourly_optimum() -> None:
    """With inputs constant over 3-h blocks and no standing loss, 3-h blocks lose nothing.

    Averaging any hourly solution over a block is feasible for the aggregated LP at the same
    cost, and a block solution repeated hour by hour is feasible for the hourly LP, so both
    optima are equal. A wrong storage weighting (e.g. one hour per block) breaks this.
    """
    hourly = _toy_network(block=3)
    objective_hourly = _solve(hourly)
    aggregated = _toy_network(block=3)
    apply_time_resolution(aggregated, TimeResolution(method="resample", hours=3))
    objective_aggregated = _solve(aggregated)
    assert objective_aggregated == pytest.approx(objective_hourly, rel=1e-7)
    assert aggregated.storage_units.p_nom_opt["battery"] == pytest.approx(
        hourly.storage_units.p_nom_opt["battery"], rel=1e-5, abs=1e-6
    )


def test_storage_balance_uses_block_hours_and_closes_the_year() -> None:
    n = _toy_network(standing_loss=0.01)
    apply_time_resolution(n, TimeResolution(method="resample", hours=4))
    _solve(n)
    w = n.snapshot_weightings.stores
    soc = n.storage_units_t.state_of_charge["battery"]
    p_store = n.storage_units_t.p_store["battery"]
    p_dispatch = n.storage_units_t.p_dispatch["battery"]
    previous = soc.shift(1)
    previous.iloc[0] = soc.iloc[-1]  # cyclic: the first block follows the last
    expected = (1 - 0.01) ** w * previous + w * (0.95 * p_store - p_dispatch / 0.95)
    np.testing.assert_allclose(soc, expected, atol=1e-5)
    e = n.stores_t.e["tank"]
    e_previous = e.shift(1)
    e_previous.iloc[0] = e.iloc[-1]
    expected_e = (1 - 0.01) ** w * e_previous - w * n.stores_t.p["tank"]
    np.testing.assert_allclose(e, expected_e, atol=1e-5)
    assert (soc.abs() + p_store + p_dispatch).sum() > 1.0  # the battery is actually used


def test_segment_map_is_contiguous_and_has_the_requested_size() -> None:
    n = _toy_network(hours=96)
    snapshot_map = compute_segment_map(n, 12)
    assert snapshot_map.index.equals(n.snapshots)
    assert snapshot_map.nunique() == 12
    assert snapshot_map.is_monotonic_increasing
    # each segment is labelled by its own first snapshot
    firsts = snapshot_map.groupby(snapshot_map).apply(lambda s: s.index[0])
    assert (firsts.index == firsts.to_numpy()).all()


# PyPSA's CSV importer leaves meta.json/crs.json open (ResourceWarning at garbage collection).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_segment_weights_hours_not_snapshot_counts_on_three_hourly_data() -> None:
    """model-energy has 2920 snapshots of 3 h each; 100 segments must still cover 8760 h."""
    n = pypsa.Network(EXAMPLES / "model-energy")
    solar = (n.generators_t.p_max_pu["solar"] * n.snapshot_weightings.generators).sum()
    apply_time_resolution(n, TimeResolution(method="segment", segments=100))
    assert len(n.snapshots) == 100
    assert n.snapshot_weightings.sum().to_dict() == pytest.approx(
        {"objective": 8760.0, "stores": 8760.0, "generators": 8760.0}
    )
    w = n.snapshot_weightings.generators
    assert (n.generators_t.p_max_pu["solar"] * w).sum() == pytest.approx(solar)


def test_segment_with_all_snapshots_is_a_no_op() -> None:
    n = _toy_network()
    assert compute_time_resolution(n, TimeResolution(method="segment", segments=48)) is None


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_segment_objective_approaches_hourly_as_segments_grow() -> None:
    reference = _solve(_toy_network(hours=96))
    errors = []
    for segments in [8, 48]:
        n = _toy_network(hours=96)
        apply_time_resolution(n, TimeResolution(method="segment", segments=segments))
        errors.append(abs(_solve(n) / reference - 1))
    assert errors[1] < errors[0]
    assert errors[1] < 0.05


def test_sparse_ward_segmentation_equals_tsam() -> None:
    """The default engine reproduces ``tsam.aggregate``'s segments exactly."""
    n = _toy_network(hours=240)
    ours = compute_segment_map(n, 30)
    theirs = compute_segment_map(n, 30, engine="tsam")
    pd.testing.assert_series_equal(ours, theirs)
