"""A snapshot window scales the annual quantities of the scenario and the accounting to its hours.

Annual quantities: the scenario's export contracts (CLI, ``scale_to_window``) and the year's
non-modelled final energy (``data/final_energy.csv``). Without the scaling a two-week window
would compare two weeks of electricity with a whole year of other fuels. The network's annual
energy limits (``e_sum_min``/``e_sum_max``) are left unscaled, with a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pypsa
import pytest

from energy_model.accounting import load_final_energy_table, scaled_final_energy_table
from energy_model.cli import main
from energy_model.network import WINDOW_SHARE_KEY, apply_snapshot_window, configure_pypsa, window_share

TOY_TABLE = Path(__file__).parent / "data" / "toy_final_energy.csv"


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def four_hour_network() -> pypsa.Network:
    configure_pypsa()
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-01", periods=4, freq="h"))
    n.add("Bus", "b")
    n.add("Generator", "coal", bus="b", p_nom=10.0, e_sum_max=30.0)
    n.add("Generator", "floor", bus="b", p_nom=10.0, e_sum_min=8.0)
    n.add("Generator", "wind", bus="b", p_nom=10.0)
    return n


def test_window_records_its_share_and_names_the_unscaled_energy_limits(caplog):
    n = four_hour_network()
    n.snapshot_weightings.loc[n.snapshots[3], ["objective", "generators", "stores"]] = 2.0  # 5 h year
    apply_snapshot_window(n, "2022-01-01 01:00", "2022-01-01 02:00")
    assert len(n.snapshots) == 2
    assert window_share(n) == pytest.approx(2 / 5)
    assert n.meta[WINDOW_SHARE_KEY] == pytest.approx(0.4)
    # annual energy limits are not spread pro rata (unknown seasonal profile): kept, and named
    assert n.generators.at["coal", "e_sum_max"] == 30.0
    assert n.generators.at["floor", "e_sum_min"] == 8.0
    assert "Generator e_sum_max of coal applies to the window unscaled" in caplog.text


def test_no_window_means_the_whole_year():
    n = four_hour_network()
    assert window_share(n) == 1.0
    table = load_final_energy_table(TOY_TABLE, 2022)
    same = scaled_final_energy_table(TOY_TABLE, 2022, n)
    assert same.rows.equals(table.rows)


def test_final_energy_table_is_scaled_to_the_window():
    n = four_hour_network()
    apply_snapshot_window(n, "2022-01-01 00:00", "2022-01-01 00:00")
    table = load_final_energy_table(TOY_TABLE, 2022)
    scaled = scaled_final_energy_table(TOY_TABLE, 2022, n)
    assert table.total_mtce > 0
    assert scaled.total_mtce == pytest.approx(table.total_mtce / 4)
    assert scaled.renewable_mtce == pytest.approx(table.renewable_mtce / 4)


def test_window_run_reports_the_window_part_of_other_fuels(make_project, tmp_path):
    """Two of the toy's four hours: the metrics carry half of each row of the year's table."""
    path = make_project("snapshots: {start: '2022-01-01 00:00', end: '2022-01-01 01:00'}\n")
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results)]) == 0
    metrics = pd.read_csv(results / "toy-2022" / "metrics.csv", keep_default_na=False)
    reported = metrics.query("metric == 'final_energy_table' and unit == 'Mtce'")
    table = load_final_energy_table(path.parent.parent / "data" / "final_energy.csv", 2022)
    assert len(reported) == len(table.rows) > 0
    assert reported.value.sum() == pytest.approx(table.total_mtce / 2, rel=1e-9)
