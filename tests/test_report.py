"""Figures and pages of the published bundle, on the stored solved toy (no solver needed).

The toy (``tests/data/solved_toy/``, rebuilt by ``make_solved_toy.py`` in that folder) has a local
electricity bus and heat bus (location ``zhangjiakou``), an external bus ``beijing``, wind, solar
and coal generators, a battery, an export link, a heat pump and a hot-water store, 96 hours in
January and 96 in July 2022.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pypsa
import pytest
from matplotlib.figure import Figure

from energy_model import site
from energy_model.network import corridor_flows, local_buses
from energy_model.report import (
    catalog,
    comparison,
    figures,
    loading,
    quantities,
    rendering,
    scenario_results,
    series,
    style,
    wording,
)
from energy_model.tables import ATTRIBUTIONS, DEFAULT_ATTRIBUTION

TOY = Path(__file__).parent / "data" / "solved_toy"
REGION = "zhangjiakou"


@pytest.fixture(scope="module")
def network() -> pypsa.Network:
    return scenario_results.load_network_file(TOY / "network.nc")


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    return loading.load_metrics(TOY / "metrics.csv")


@pytest.fixture(scope="module")
def styles(network: pypsa.Network) -> pd.DataFrame:
    return style.load_carrier_styles(network)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A writable copy of the toy result folder inside ``<tmp>/results/``."""
    target = tmp_path / "results" / "solved_toy"
    shutil.copytree(TOY, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _rc_params() -> dict[str, object]:
    """matplotlib's settings, read without resolving the backend (reading it can switch it)."""
    return {key: dict.__getitem__(matplotlib.rcParams, key) for key in matplotlib.rcParams}


@dataclass(frozen=True)
class SiteRender:
    """The rendered ``results/`` folder and matplotlib's settings just before and after the
    scenario's figures were rendered (in this process)."""

    root: Path
    rc_before: dict[str, object]
    rc_after: dict[str, object]


@pytest.fixture(scope="module")
def site_render(tmp_path_factory: pytest.TempPathFactory) -> SiteRender:
    """``results/`` with the toy rendered once, a second scenario, comparison and index.

    Also holds a temporary folder of a running scenario (``.other.tmp``), a half-written
    ``run.json`` (``broken``), one without a status (``nostatus``) and one not ``ok``
    (``failed``), which must all be ignored. The toy's figures are all drawn in this process
    (``workers=1``), so the settings recorded around it show what rendering leaves behind.
    """
    root = tmp_path_factory.mktemp("site") / "results"
    toy = root / "solved_toy"
    shutil.copytree(TOY, toy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rc_before = _rc_params()
    rendering.render_scenario_figures(toy, workers=1)
    rc_after = _rc_params()
    site.write_scenario_page(toy)
    second = root / "second"
    shutil.copytree(toy, second)
    (second / "scenario.yaml").write_text(
        (second / "scenario.yaml").read_text().replace("name: solved_toy", "name: second")
    )
    site.write_scenario_page(second)
    shutil.copytree(toy, root / ".other.tmp")
    (root / "broken").mkdir()
    (root / "broken" / "run.json").write_text('{"status": ')
    (root / "nostatus").mkdir()
    (root / "nostatus" / "run.json").write_text(json.dumps({"objective": 1}))
    (root / "failed").mkdir()
    (root / "failed" / "run.json").write_text(json.dumps({"status": "infeasible"}))
    rendering.render_comparison(root, site.list_scenario_dirs(root))
    site.write_site_index(root)
    return SiteRender(root, rc_before, rc_after)


@pytest.fixture(scope="module")
def site_tree(site_render: SiteRender) -> Path:
    """The ``results/`` folder of :func:`site_render`."""
    return site_render.root


def _labels(fig: Figure) -> str:
    """All axis labels, titles and legend texts of a figure, joined."""
    texts = []
    for ax in fig.axes:
        texts += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_title("left")]
    texts += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    if fig._suptitle is not None:
        texts.append(fig._suptitle.get_text())
    if fig._supxlabel is not None:
        texts.append(fig._supxlabel.get_text())
    return " | ".join(texts)


# --- carrier styles and helpers ---------------------------------------------------------------


def test_styles_come_from_carriers_table(network: pypsa.Network, styles: pd.DataFrame) -> None:
    assert list(styles.index) == list(network.carriers.index)
    assert styles.at["onwind", "nice_name"] == "Onshore wind"
    assert styles.at["onwind", "color"] == network.carriers.at["onwind", "color"]


def test_missing_or_invalid_colour_gets_a_fixed_fallback(network: pypsa.Network) -> None:
    n = network.copy()
    n.carriers.loc["solar", "color"] = "not-a-colour"
    n.carriers.loc["coal", "nice_name"] = ""
    styles = style.load_carrier_styles(n)
    assert styles.at["solar", "color"] == style.fallback_color("solar")
    assert styles.at["coal", "nice_name"] == "coal"
    # same id -> same colour, whatever figure asks
    assert style.carrier_color("unknown_x", styles) == style.carrier_color("unknown_x", pd.DataFrame())


def test_unit_conversion() -> None:
    assert quantities.convert(2500.0, "MW", "GW") == pytest.approx(2.5)
    assert quantities.convert(0.5, "TWh", "GWh") == pytest.approx(500.0)
    assert quantities.convert(3e9, "CNY/yr", "billion CNY") == pytest.approx(3.0)
    assert quantities.convert(30.0, "%", "-") == pytest.approx(0.3)
    with pytest.raises(ValueError, match="cannot convert"):
        quantities.convert(1.0, "MW", "TWh")


def test_local_buses_follow_location(network: pypsa.Network) -> None:
    assert set(local_buses(network, REGION)) == {"zjk_ac", "zjk_heat"}
    n = network.copy()
    n.buses["location"] = ""
    assert set(local_buses(n, REGION)) == set(n.buses.index)


def test_power_balance_of_the_local_bus_closes(network: pypsa.Network) -> None:
    balance = series.bus_power_balance(network, pd.Index(["zjk_ac"]))
    assert {"onwind", "hvdc", "heat_pump", "battery"} <= set(balance.columns)
    assert np.abs(balance.sum(axis=1)).max() < 1e-3  # MW: supply = consumption every hour
    assert (balance["hvdc"] <= 1e-9).all()  # export is consumption at the local bus


def test_week_selection_picks_the_season(network: pypsa.Network) -> None:
    buses = pd.Index(["zjk_ac"])
    winter = series.select_week(network, "winter", buses)
    summer = series.select_week(network, "summer", buses)
    assert set(pd.DatetimeIndex(winter).month) == {1}
    assert set(pd.DatetimeIndex(summer).month) == {7}
    assert len(winter) == 96 and len(summer) == 96  # the toy holds four days per season
    n = network.copy()
    n.set_snapshots(network.snapshots[:96])
    with pytest.raises(catalog.MissingDataError):
        series.select_week(n, "summer", buses)


def test_expand_to_hours_repeats_resampled_snapshots() -> None:
    index = pd.date_range("2022-01-01", periods=3, freq="3h")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=index)
    hourly = series.expand_to_hours(frame, pd.Series(3.0, index=index))
    assert len(hourly) == 9
    assert hourly.index[1] == pd.Timestamp("2022-01-01 01:00")
    assert hourly["a"].tolist() == [1.0] * 3 + [2.0] * 3 + [3.0] * 3


def test_duration_curve_is_sorted_and_weighted() -> None:
    values = pd.Series([1.0, 3.0, 2.0])
    x, y = series.duration_curve(values, pd.Series([1.0, 2.0, 4.0]))
    assert list(y) == [3.0, 2.0, 1.0, 1.0]
    assert list(x) == [0.0, 2.0, 6.0, 7.0]


def test_corridor_flows_net_both_directions(network: pypsa.Network) -> None:
    flows = corridor_flows(network, REGION)
    assert list(flows.columns) == ["zjk_beijing_hvdc"]
    pd.testing.assert_series_equal(
        flows["zjk_beijing_hvdc"], network.links_t.p0["zjk_beijing_hvdc"], check_names=False
    )
    n = network.copy()
    n.add("Link", "zjk_beijing_hvdc_import", bus0="beijing", bus1="zjk_ac", carrier="hvdc", p_nom=50)
    n.links_t.p0["zjk_beijing_hvdc_import"] = 10.0
    n.links_t.p1["zjk_beijing_hvdc_import"] = -9.0
    flows = corridor_flows(n, REGION)
    assert list(flows.columns) == ["zjk_beijing_hvdc"]  # one corridor, named after the export link
    expected = network.links_t.p0["zjk_beijing_hvdc"] - 9.0
    np.testing.assert_allclose(flows["zjk_beijing_hvdc"].to_numpy(), expected.to_numpy())


# --- each figure function ----------------------------------------------------------------------


def test_plot_capacity(network: pypsa.Network, metrics: pd.DataFrame, styles: pd.DataFrame) -> None:
    local = local_buses(network, REGION)
    fig = figures.plot_capacity(metrics, styles, series.storage_energy_capacity(network, local), local)
    power, energy = fig.axes
    assert power.get_xlabel() == "Power capacity [GW]"
    assert energy.get_xlabel() == "Storage energy capacity [GWh]"
    names = [t.get_text() for t in power.get_yticklabels()]
    assert "Onshore wind" in names and "Hot-water tank" not in names  # stores are energy, not power
    coal = power.patches[names.index("Coal power")]
    assert coal.get_width() == pytest.approx(0.1)  # the Beijing coal plant is not local
    wind = power.patches[names.index("Onshore wind")]
    expected = network.generators.p_nom_opt["zjk_onwind"] / 1e3
    assert wind.get_width() == pytest.approx(expected, rel=1e-6)
    assert wind.get_facecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb("#235ebc"))
    tank = [t.get_text() for t in energy.get_yticklabels()].index("Hot-water tank")
    assert energy.patches[tank].get_width() == pytest.approx(network.stores.e_nom_opt["zjk_water_tank"] / 1e3)


def test_plot_energy_balance(network: pypsa.Network, metrics: pd.DataFrame, styles: pd.DataFrame) -> None:
    local = local_buses(network, REGION)
    fig = figures.plot_energy_balance(metrics, styles, network.buses.carrier.astype(str), local)
    assert [ax.get_title() for ax in fig.axes] == ["Local buses: Electricity", "Local buses: Heat"]
    assert "[TWh/yr]" in _labels(fig)
    elec = fig.axes[0]
    names = [t.get_text() for t in elec.get_yticklabels()]
    assert "Electricity demand" in names and "Export HVDC" in names
    # the Beijing load (external bus) is not part of the local balance
    total_withdrawn = sum(p.get_width() for p in elec.patches if p.get_width() < 0)
    local_rows = metrics[(metrics.metric == "withdrawal") & (metrics.bus == "zjk_ac")]
    assert total_withdrawn == pytest.approx(-local_rows.value.sum(), rel=1e-6)


def test_plot_dispatch(network: pypsa.Network, styles: pd.DataFrame) -> None:
    buses = pd.Index(["zjk_ac"])
    fig = figures.plot_dispatch(network, series.select_week(network, "winter", buses), buses, styles)
    labels = _labels(fig)
    assert "Power [GW]" in labels
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend.count("Battery") == 1  # charging and discharging share one entry
    assert {"Onshore wind", "Export HVDC", "Electricity demand"} <= set(legend)
    with pytest.raises(catalog.MissingDataError):
        figures.plot_dispatch(network, network.snapshots[:0], buses, styles)


def test_plot_curtailment_heatmap(network: pypsa.Network, styles: pd.DataFrame) -> None:
    local = local_buses(network, REGION)
    fig = figures.plot_curtailment_heatmap(network, local, styles)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Onshore wind", "Solar PV"]
    mesh = fig.axes[0].collections[0]
    gens = ["zjk_onwind"]
    expected = (
        (
            network.generators_t.p_max_pu[gens] * network.generators.p_nom_opt[gens]
            - network.generators_t.p[gens]
        )
        .clip(lower=0)
        .sum()
        .sum()
    ) / 1e3
    assert np.nansum(mesh.get_array()) == pytest.approx(expected, rel=1e-6)
    assert any("Curtailment [GW]" in ax.get_ylabel() for ax in fig.axes)  # colour bar label


def test_plot_state_of_charge(network: pypsa.Network, styles: pd.DataFrame) -> None:
    fig = figures.plot_state_of_charge(network, styles)
    panels = [ax for ax in fig.axes if ax.get_title("left")]
    assert [ax.get_title("left") for ax in panels] == ["Battery", "Hot-water tank"]
    assert all(ax.get_ylabel() == "Energy [GWh]" for ax in panels)
    line = panels[1].get_lines()[0].get_ydata()
    assert np.nanmax(line) == pytest.approx(network.stores_t.e["zjk_water_tank"].max() / 1e3)


def test_plot_export_duration(network: pypsa.Network, styles: pd.DataFrame) -> None:
    fig = figures.plot_export_duration(network, REGION, styles)
    ax = fig.axes[0]
    assert "[GW]" in ax.get_ylabel() and "[h]" in ax.get_xlabel()
    line = ax.get_lines()[0]
    assert line.get_xdata()[-1] == pytest.approx(192.0)  # hours represented by the toy
    assert line.get_ydata()[0] == pytest.approx(network.links_t.p0["zjk_beijing_hvdc"].max() / 1e3)
    assert fig.legends[0].get_texts()[0].get_text() == "Zjk – Beijing (Export HVDC)"
    rating = network.links.at["zjk_beijing_hvdc", "p_nom_opt"] / 1e3  # dotted line at the rating
    assert any(list(line.get_ydata()) == [rating, rating] and line.get_linestyle() == ":" for line in ax.get_lines())


def test_plot_heat_with_and_without_temperature(network: pypsa.Network, styles: pd.DataFrame) -> None:
    temperature = loading.load_temperature(TOY)
    assert temperature is not None
    fig = figures.plot_heat(network, REGION, styles, temperature)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "Daily mean outdoor temperature [°C]"
    points = fig.axes[0].collections[0].get_offsets()
    assert len(points) == 8  # eight days in the toy
    # colder days need more heat
    assert np.corrcoef(points[:, 0], points[:, 1])[0, 1] < -0.9
    fig = figures.plot_heat(network, REGION, styles, None)
    assert len(fig.axes) == 1
    assert "Daily mean power [GW]" in fig.axes[0].get_ylabel()


def test_plot_renewable_share(metrics: pd.DataFrame) -> None:
    targets = pd.DataFrame(
        {"target": ["a", "b"], "indicator": ["final_energy", "electricity"], "target_share": [0.3, 0.95]}
    )
    fig = figures.plot_renewable_share(metrics, targets)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Renewable share [%]"
    groups = [t.get_text() for t in ax.get_xticklabels()]
    assert groups == [
        "final energy\ncoal equivalent",
        "final energy\ncalorific",
        "electricity\n(local consumption)",
    ]
    headline = ax.collections[1].get_offsets()[:, 1]
    shares = metrics[metrics.metric.str.startswith("renewable_share")].set_index("variant").value
    assert headline[0] == pytest.approx(shares["coal_equivalent|annual_mix"])  # metrics are in %
    assert headline[2] == pytest.approx(shares["annual_mix"])
    target_lines = [line.get_ydata()[0] for line in ax.get_lines()]
    assert sorted(target_lines) == pytest.approx([30.0, 95.0])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Goal: 95 % of local electricity consumption" in legend
    assert "Headline (annual generation mix)" in legend
    assert not any("_" in text or "|" in text for text in legend)  # names, not ids


def test_share_table_bounds(metrics: pd.DataFrame) -> None:
    table = quantities.share_table(metrics)
    rows = metrics[metrics.metric == "renewable_share"].set_index("variant").value / 100
    assert table.loc["coal_equivalent", "low"] == pytest.approx(rows["coal_equivalent|export_first"])
    assert table.loc["coal_equivalent", "high"] == pytest.approx(rows["coal_equivalent|local_first"])
    assert table.loc["calorific", "headline"] == pytest.approx(rows["calorific|annual_mix"])
    local_first = quantities.share_table(metrics, headline="local_first")
    assert local_first.loc["calorific", "headline"] == pytest.approx(rows["calorific|local_first"])
    elec = metrics[metrics.metric == "renewable_share_electricity"].set_index("variant").value / 100
    assert table.loc["electricity", "headline"] == pytest.approx(elec["annual_mix"])


def test_plot_price_duration(network: pypsa.Network) -> None:
    fig = figures.plot_price_duration(network, pd.Index(["zjk_ac"]))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Marginal price [CNY/MWh]"
    y = ax.get_lines()[0].get_ydata()
    assert (np.diff(y) <= 1e-9).all()
    assert y[0] == pytest.approx(network.buses_t.marginal_price["zjk_ac"].max())


def test_figures_without_components_raise_missing_data(network: pypsa.Network, styles: pd.DataFrame) -> None:
    n = network.copy()
    n.remove("StorageUnit", n.storage_units.index)
    n.remove("Store", n.stores.index)
    with pytest.raises(catalog.MissingDataError):
        figures.plot_state_of_charge(n, styles)
    n.remove("Bus", ["zjk_heat"])
    n.remove("Link", ["zjk_heat_pump", "zjk_beijing_hvdc"])
    n.remove("Load", ["zjk_heat"])
    with pytest.raises(catalog.MissingDataError):
        figures.plot_heat(n, REGION, styles)
    with pytest.raises(catalog.MissingDataError):
        figures.plot_export_duration(n, REGION, styles)
    with pytest.raises(catalog.MissingDataError):
        figures.plot_renewable_share(
            pd.DataFrame(columns=["metric", "variant", "carrier", "bus", "value", "unit"]), pd.DataFrame()
        )


# --- rendering and pages ------------------------------------------------------------------------


def test_render_scenario_figures_writes_png_and_svg(site_tree: Path) -> None:
    folder = site_tree / "solved_toy" / "figures"
    names = [spec.name for spec in catalog.SCENARIO_FIGURES]
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(f"{n}.{fmt}" for n in names for fmt in ("png", "svg"))
    for path in folder.iterdir():
        assert path.stat().st_size > 1000
    assert (folder / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "capacity.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_render_skips_missing_components_with_a_note(bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = scenario_results.load_network_file(bundle / "network.nc")
    n.remove("StorageUnit", n.storage_units.index)
    n.remove("Store", n.stores.index)
    n.remove("Link", ["zjk_heat_pump"])
    n.remove("Load", ["zjk_heat"])
    n.remove("Bus", ["zjk_heat"])
    n.export_to_netcdf(bundle / "network.nc")
    (bundle / "temperature.csv").unlink()
    caplog.set_level("INFO", logger="energy_model.report")
    written = rendering.render_scenario_figures(bundle)
    stems = {p.stem for p in written}
    assert "state_of_charge" not in stems and "heat" not in stems
    assert {"capacity", "dispatch_winter", "export_duration"} <= stems
    assert "figure 'heat' skipped: no local heat bus" in caplog.text
    assert "figure 'state_of_charge' skipped: no storage unit or store" in caplog.text


def test_render_without_network_draws_metric_figures_only(bundle: Path) -> None:
    (bundle / "network.nc").unlink()
    written = rendering.render_scenario_figures(bundle)
    assert {p.stem for p in written} == {"capacity", "energy_balance", "renewable_share"}


def test_render_comparison(site_tree: Path) -> None:
    folder = site_tree / "comparison"
    names = {p.name for p in folder.iterdir()}
    for spec in catalog.COMPARISON_FIGURES:
        assert {f"{spec.name}.png", f"{spec.name}.svg"} <= names
    verdicts = pd.read_csv(folder / "verdicts.csv")
    assert sorted(verdicts.scenario.unique()) == ["second", "solved_toy"]
    assert len(verdicts) == 4
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.scenario) == {"second", "solved_toy"}
    toy = loading.load_metrics(TOY / "metrics.csv")
    assert len(table) == 2 * len(toy)


def test_carrier_table_read_alone_matches_network(network: pypsa.Network) -> None:
    table = loading.load_carrier_table(TOY / "network.nc")
    pd.testing.assert_frame_equal(
        style.load_carrier_styles(table), style.load_carrier_styles(network), check_names=False
    )


def test_plot_comparison_shares_marks_targets() -> None:
    shares = pd.DataFrame({"headline": [0.4, 0.6], "low": [0.3, 0.5], "high": [0.45, 0.7]}, index=["a", "b"])
    targets = pd.DataFrame(
        {"scenario": ["a", "b", "b"], "target": ["t1", "t1", "t2"], "target_share": [0.3, 0.3, 0.5]}
    )
    fig = comparison.plot_comparison_shares(shares, targets)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Renewable share [%]"
    marks = [
        c
        for c in ax.collections
        if isinstance(c, plt.matplotlib.collections.PathCollection) and len(c.get_offsets()) == 1
    ]
    assert sorted(float(c.get_offsets()[0][0]) for c in marks) == pytest.approx([30.0, 30.0, 50.0])


class _Links(HTMLParser):
    """Collect ``href`` and ``src`` attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value and not value.startswith("data:"):
                self.targets.append(value)


def _targets(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.targets


def test_scenario_page_links_are_relative_and_resolve(site_tree: Path) -> None:
    toy = site_tree / "solved_toy"
    page = toy / "index.html"
    html = page.read_text(encoding="utf-8")
    targets = _targets(page)
    assert "../index.html" in targets
    for spec in catalog.SCENARIO_FIGURES:
        assert f"figures/{spec.name}.png" in targets
        assert escape(spec.caption) in html
    for name in ("metrics.csv", "network.nc", "verdict.csv", "scenario.yaml", "run.json"):
        assert name in targets
    for target in targets:
        assert not urlsplit(target).scheme and not target.startswith("/"), target
        assert (toy / target).is_file(), target
    assert '<span class="fail">FAIL</span>' in html and '<span class="pass">PASS</span>' in html


def test_site_index_lists_complete_scenarios_only(site_tree: Path) -> None:
    assert site.list_scenario_dirs(site_tree) == [site_tree / "second", site_tree / "solved_toy"]
    page = site_tree / "index.html"
    targets = _targets(page)
    assert {"solved_toy/index.html", "second/index.html", "comparison/shares.png"} <= set(targets)
    assert not any(t.startswith((".other", "broken", "nostatus", "failed")) for t in targets)
    for target in targets:
        assert not urlsplit(target).scheme and not target.startswith("/"), target
        assert (site_tree / target).is_file(), target
    html = page.read_text(encoding="utf-8")
    assert html.count('<span class="fail">FAIL</span>') == 2  # one failed target per scenario
    for spec in catalog.COMPARISON_FIGURES:
        assert escape(spec.caption) in html


def test_site_index_without_results(tmp_path: Path) -> None:
    page = site.write_site_index(tmp_path / "results")
    assert "No completed scenario" in page.read_text(encoding="utf-8")


def test_solver_noise_is_not_drawn(network: pypsa.Network, styles: pd.DataFrame) -> None:
    n = network.copy()
    n.storage_units_t.state_of_charge.loc[:, "zjk_battery"] = 2e-9  # MWh: an unused battery
    fig = figures.plot_state_of_charge(n, styles)
    assert [ax.get_title("left") for ax in fig.axes] == ["Hot-water tank"]
    n.generators_t.p.loc[:, "zjk_coal"] = 1e-7  # MW: interior-point noise of a unit that is off
    n.generators_t.p.loc[:, "zjk_onwind"] += 1e-7
    balance = series.bus_power_balance(n, pd.Index(["zjk_ac"]))
    assert "coal" not in balance.columns or not (balance["coal"] > 0).any()


def test_break_gaps_closes_steps_and_splits_runs() -> None:
    index = pd.DatetimeIndex(["2022-01-01 00:00", "2022-01-01 03:00", "2022-07-01 00:00"])
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=index)
    out = series.break_gaps(frame, pd.Series(3.0, index=index), steps=True)
    assert out.loc[pd.Timestamp("2022-01-01 06:00"), "a"] == 2.0  # last block drawn to its end
    assert out["a"].isna().sum() == 1  # one break between January and July
    assert out.index[-1] == pd.Timestamp("2022-07-01 03:00")


@pytest.mark.parametrize(
    "name", ["capacity", "energy_balance", "dispatch_winter", "heat", "export_duration", "renewable_share"]
)
def test_legends_and_labels_stay_inside_the_figure(
    name: str, network: pypsa.Network, metrics: pd.DataFrame
) -> None:
    """Long display names (as in the real carriers.csv) must not push legends off the page."""
    n = network.copy()
    n.carriers["nice_name"] = n.carriers["nice_name"] + " (a long descriptive display name)"
    styles = style.load_carrier_styles(n)
    local = local_buses(n, REGION)
    elec = series.electric_buses(n, local)
    targets = pd.DataFrame(
        {"target": ["final_energy_2022"], "indicator": ["final_energy"], "target_share": [0.3]}
    )
    build = {
        "capacity": lambda: figures.plot_capacity(metrics, styles, series.storage_energy_capacity(n), local),
        "energy_balance": lambda: figures.plot_energy_balance(metrics, styles, n.buses.carrier, local),
        "dispatch_winter": lambda: figures.plot_dispatch(
            n, series.select_week(n, "winter", elec), elec, styles
        ),
        "heat": lambda: figures.plot_heat(n, REGION, styles, loading.load_temperature(TOY)),
        "export_duration": lambda: figures.plot_export_duration(n, REGION, styles),
        "renewable_share": lambda: figures.plot_renewable_share(metrics, targets),
    }
    fig = build[name]()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1, f"{name}: legend wider than the figure"
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: legend covers a plot"
    for ax in fig.axes:
        for label in ax.get_yticklabels():
            assert label.get_window_extent(renderer).x0 >= page.x0 - 1, f"{name}: label cut off"


def test_a_failing_figure_is_logged_and_left_out(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (bundle / "network.nc").unlink()  # metric figures only: fast

    def broken(*_args: object, **_kwargs: object) -> Figure:
        raise RuntimeError("bug in a figure")

    monkeypatch.setattr(figures, "plot_energy_balance", broken)
    caplog.set_level("INFO", logger="energy_model.report")
    written = rendering.render_scenario_figures(bundle, workers=1)  # the patch exists in this process only
    assert {p.stem for p in written} == {"capacity", "renewable_share"}
    assert "figure 'energy_balance' failed and is left out" in caplog.text
    assert "RuntimeError: bug in a figure" in caplog.text


def test_rendering_is_reproducible(network: pypsa.Network, tmp_path: Path) -> None:
    buses = pd.Index(["zjk_ac"])
    first = rendering.write_figure(figures.plot_price_duration(network, buses), tmp_path / "a", "price")
    second = rendering.write_figure(figures.plot_price_duration(network, buses), tmp_path / "b", "price")
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name


def test_empty_bundles_skip_every_figure_without_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "results" / "empty"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": "ok"}))
    (folder / "metrics.csv").write_text("metric,variant,carrier,bus,value,unit\n")
    caplog.set_level("INFO", logger="energy_model.report")
    assert rendering.render_scenario_figures(folder) == []
    written = rendering.render_comparison(tmp_path / "results", [folder])
    assert {p.name for p in written} == {"metrics.csv", "verdicts.csv"}
    assert "WARNING" not in [record.levelname for record in caplog.records]
    page = site.write_scenario_page(folder)
    html = page.read_text(encoding="utf-8")
    assert "No figures were rendered" in html
    assert "Not drawn (no data to show)" in html and "State of charge" not in html.split("Not drawn")[0]


def test_share_variants_parse_any_attribution_rule() -> None:
    headline = DEFAULT_ATTRIBUTION  # the rule a scenario gets when it names none
    other = next(rule for rule in reversed(ATTRIBUTIONS) if rule != headline)
    metrics = pd.DataFrame(
        {
            "metric": ["renewable_share"] * 3 + ["renewable_share_electricity"] * 2,
            "variant": [
                f"calorific|{other}",
                f"calorific|{headline}",
                f"coal_equivalent|{other}",
                other,
                headline,
            ],
            "carrier": "",
            "bus": "",
            "value": [8.0, 20.0, 6.0, 0.0, 55.0],
            "unit": "%",
        }
    )
    table = quantities.share_table(metrics)
    assert list(table.index) == ["coal_equivalent", "calorific", "electricity"]
    assert table.loc["calorific", "low"] == pytest.approx(0.08)
    assert table.loc["calorific", "headline"] == pytest.approx(0.20)
    assert table.loc["electricity", f"rule:{other}"] == pytest.approx(0.0)
    assert table.loc["coal_equivalent", "headline"] == pytest.approx(0.06)  # only rule present


# --- parallel rendering ---------------------------------------------------------------------------


def _wait_for(path: Path, timeout_s: float = 120.0) -> None:
    """Wait until ``path`` exists (written by a worker process that has started)."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} after {timeout_s} s"
        time.sleep(0.05)


def _small_figure() -> Figure:
    fig = style.new_figure(2.0, 2.0)
    fig.subplots().plot([0, 1], [0, 1])
    return fig


def _save_into_a_file(folder: Path, names: Sequence[str]) -> list[rendering.FigureOutcome]:
    """Worker job whose figure cannot be saved: the folder it writes to is a file (``taken``)."""

    def build() -> Figure:
        (folder / "taken").touch()  # tells the caller that this worker has taken a figure
        return _small_figure()

    return rendering.render_taken_figures(folder / "taken", names, lambda: dict.fromkeys(names, build))


def _die_at_first_figure(folder: Path, names: Sequence[str]) -> list[rendering.FigureOutcome]:
    """Worker job whose worker dies without a word once it has taken a figure."""

    def build() -> Figure:
        (folder / "taken").touch()
        os._exit(1)

    return rendering.render_taken_figures(folder, names, lambda: dict.fromkeys(names, build))


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_parallel_rendering_gives_the_same_files_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Figures drawn by worker processes are byte-identical to serial ones, and logged in page order."""
    caplog.set_level("INFO", logger="energy_model.report")
    files, logs = {}, {}
    for workers in (1, 2):
        folder = tmp_path / f"workers_{workers}" / "solved_toy"
        shutil.copytree(TOY, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        (folder / "temperature.csv").unlink()  # one more note in the log (heat figure without it)
        caplog.clear()
        written = rendering.render_scenario_figures(folder, workers=workers)
        files[workers] = [(p.relative_to(folder), p.read_bytes()) for p in written]
        logs[workers] = [r.getMessage() for r in caplog.records if r.name.startswith("energy_model")]
    assert [path for path, _ in files[2]] == [path for path, _ in files[1]]
    assert len(files[1]) == 2 * len(catalog.SCENARIO_FIGURES)
    for (path, serial), (_, parallel) in zip(files[1], files[2], strict=True):
        assert serial == parallel, path
    assert logs[2] == logs[1]
    assert any("no temperature saved" in message for message in logs[2])
    assert multiprocessing.active_children() == []


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_figures_drawn_by_a_worker_equal_serial_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A worker surely draws some figures (this process waits for its first one): same bytes, same log."""
    caplog.set_level("INFO", logger="energy_model.report")
    serial = tmp_path / "serial" / "solved_toy"
    shutil.copytree(TOY, serial, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (serial / "temperature.csv").unlink()
    parallel = tmp_path / "parallel" / "solved_toy"
    shutil.copytree(serial, parallel)
    caplog.clear()
    written = rendering.render_scenario_figures(serial, workers=1)
    serial_log = [r.getMessage() for r in caplog.records if r.name.startswith("energy_model")]

    names = catalog.scenario_figure_names()
    builders = figures.scenario_figure_builders(scenario_results.load_scenario_results(parallel))
    worker_first = parallel / "figures" / f"{names[-1]}.svg"  # workers take from the back

    def render_here(name: str) -> list[Path]:
        _wait_for(worker_first)
        return rendering.render_figure(parallel / "figures", name, builders[name])

    (parallel / "figures").mkdir()
    caplog.clear()
    done = rendering.render_with_workers(
        names, render_here, functools.partial(rendering.render_scenario_job, parallel), workers=2
    )
    parallel_log = [r.getMessage() for r in caplog.records if r.name.startswith("energy_model")]
    assert [p.relative_to(parallel) for n in names for p in done[n]] == [p.relative_to(serial) for p in written]
    for path in written:
        assert (parallel / path.relative_to(serial)).read_bytes() == path.read_bytes(), path.name
    assert parallel_log == serial_log[:-1]  # the serial log ends with the count of files
    assert multiprocessing.active_children() == []


def test_an_error_while_saving_in_a_worker_is_raised(tmp_path: Path) -> None:
    names = ["a", "b", "c"]

    def render_here(name: str) -> list[Path]:
        _wait_for(tmp_path / "taken")  # the worker has taken a figure
        return rendering.render_figure(tmp_path, name, _small_figure)

    with pytest.raises(FileExistsError, match="taken"):
        rendering.render_with_workers(
            names, render_here, functools.partial(_save_into_a_file, tmp_path), workers=2
        )
    assert multiprocessing.active_children() == []


def test_figures_of_a_worker_that_dies_are_rendered_by_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = ["a", "b", "c"]

    def render_here(name: str) -> list[Path]:
        _wait_for(tmp_path / "taken")  # the worker has taken a figure
        return rendering.render_figure(tmp_path, name, _small_figure)

    done = rendering.render_with_workers(
        names, render_here, functools.partial(_die_at_first_figure, tmp_path), workers=2
    )
    written = [path for name in names for path in done[name]]
    assert [p.name for p in written] == [f"{n}.{fmt}" for n in names for fmt in rendering.FORMATS]
    assert "figures ['c'] were not delivered by a worker process (it died); rendered here" in caplog.text
    assert multiprocessing.active_children() == []


# --- no process-wide side effects -----------------------------------------------------------------


def test_rendering_leaves_matplotlib_settings_unchanged(site_render: SiteRender, network: pypsa.Network) -> None:
    """Rendering every figure of the toy in this process (done once, by ``site_render``) and
    drawing one more figure leave matplotlib's settings as they were."""
    assert site_render.rc_after == site_render.rc_before
    assert (site_render.root / "solved_toy" / "figures" / "capacity.svg").is_file()  # it did render
    before = _rc_params()
    figures.plot_price_duration(network, pd.Index(["zjk_ac"]))
    assert _rc_params() == before
    with style.report_theme():  # and the theme does apply while rendering
        assert matplotlib.rcParams["svg.hashsalt"] == "energy_model"
    assert _rc_params() == before


@pytest.mark.parametrize(
    ("module", "unwanted"),
    [
        ("energy_model.site", ("matplotlib", "seaborn", "pypsa")),
        ("energy_model.report.catalog", ("matplotlib", "seaborn", "pypsa", "pandas")),
        ("energy_model.report.loading", ("matplotlib", "seaborn", "pypsa")),
        ("energy_model.report.quantities", ("matplotlib", "seaborn", "pypsa")),
    ],
)
def test_light_modules_import_no_plotting_or_modelling_stack(module: str, unwanted: tuple[str, ...]) -> None:
    code = f"import {module}, sys; print(sorted(m for m in {unwanted!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_importing_the_report_changes_no_matplotlib_setting() -> None:
    code = (
        "import matplotlib, sys\n"
        "read = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) for k in matplotlib.rcParams}\n"
        "before = read()\n"
        "import energy_model.report.rendering\n"
        "sys.exit(0 if read() == before else 1)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- plain words on the site (report.wording) ------------------------------------------------

#: A verdict row as compute_verdicts writes it, and the share rows behind it [%].
PLAN_VERDICT = {
    "scenario": "plan-2022", "target": "final_energy_2022", "kind": "goal",
    "indicator": "final_energy", "variant": "coal_equivalent|annual_mix", "enforced": False,
    "target_share": 0.3, "achieved_share": 0.304, "margin_pp": 0.4, "status": "PASS",
    "robust_status": "DEPENDS ON ACCOUNTING", "robust_detail": "FAIL under green_contract (-8.15 pp)",
}
PLAN_SHARES = pd.DataFrame(
    {
        "metric": ["renewable_share"] * 3,
        "variant": ["coal_equivalent|annual_mix", "coal_equivalent|green_contract", "calorific|green_contract"],
        "carrier": "", "bus": "", "value": [30.35, 21.85, 16.4], "unit": "%",
    }
)


def test_verdict_sentence_names_share_target_margin_and_the_rule_that_changes_it() -> None:
    sentence = wording.verdict_sentence(PLAN_VERDICT, PLAN_SHARES)
    assert sentence == (
        "plan-2022 reaches 30.4\u00a0% of final energy from renewables against a 30\u00a0% target: "
        "PASS by 0.4\u00a0pp; fails if green contracts are counted first (21.9\u00a0%)."
    )
    robust = dict(PLAN_VERDICT, robust_status="PASS under every rule", robust_detail="")
    assert wording.verdict_sentence(robust).endswith("the same under every defensible accounting rule.")
    failing = dict(PLAN_VERDICT, status="FAIL", margin_pp=-1.0, achieved_share=0.29,
                   robust_detail="PASS under hourly_mix (+0.50 pp)")
    assert "FAIL by 1.0\u00a0pp; passes if renewables are attributed hour by hour" in wording.verdict_sentence(failing)


def test_calibration_sentence_says_it_is_not_a_goal() -> None:
    row = dict(PLAN_VERDICT, scenario="baseline-2018", target="final_energy_2018", kind="calibration",
               target_share=0.23, achieved_share=0.269, margin_pp=3.9, status="OFF",
               robust_status="OFF under every rule", robust_detail="")
    sentence = wording.verdict_sentence(row)
    assert sentence.startswith("baseline-2018 (calibration year) gives 26.9\u00a0% of final energy")
    assert "against the 23\u00a0% reported: OFF by 3.9\u00a0pp" in sentence and "not a goal" in sentence
    assert wording.target_name(row, 2018) == "2018 statistics (calibration): 23 % of final energy"
    assert wording.target_name(PLAN_VERDICT, 2022) == "2022 goal: 30 % of final energy"


def test_names_replace_ids() -> None:
    assert wording.variant_name("coal_equivalent|annual_mix") == (
        "annual generation mix, electricity valued coal-equivalent"
    )
    assert wording.variant_name("green_contract") == "green contracts counted first"
    assert wording.failing_rules("FAIL under green_contract (-8.15 pp); FAIL under hourly_mix (-0.20 pp)") == [
        ("FAIL", "green_contract", -8.15), ("FAIL", "hourly_mix", -0.2)
    ]


def test_cost_breakdown_sign_convention() -> None:
    """capex 20 + opex (7 fuel, -12 export sales) = 15 bn net; objective reported beside it."""
    metrics = pd.DataFrame(
        {
            "metric": ["capex", "capex", "opex", "opex", "opex"],
            "variant": "Generator", "carrier": ["onwind", "coal", "coal", "export_market", "export_market"],
            "bus": "", "value": [12e9, 8e9, 7e9, -9e9, -3e9], "unit": "CNY/yr",
        }
    )
    lines = {line.label: line.value_bn for line in wording.cost_breakdown(metrics, objective_cny=-9.07e9)}
    assert lines == pytest.approx(
        {"Capital cost": 20.0, "Operating cost": 7.0, "Export revenue": 12.0, "Net system cost": 15.0,
         "Optimisation objective": -9.07}
    )
    assert wording.cost_breakdown(metrics.iloc[0:0]) == []


def test_pages_show_names_cost_and_footer_not_raw_ids(site_tree: Path) -> None:
    index = (site_tree / "index.html").read_text(encoding="utf-8")
    page = (site_tree / "solved_toy" / "index.html").read_text(encoding="utf-8")
    for html in (index, page):
        assert '<ul class="answer">' in html
        assert "solved_toy reaches" in html
        assert "coal_equivalent|annual_mix" not in html and "final_energy_2022" not in html
        assert "2022 goal: 30 % of final energy" in html
        assert "<footer>" in html and "commit" in html
        assert '<div class="scroll"><table>' in html
    assert '<h2 id="cost">Cost</h2>' in page and "Export revenue" in page and "subtracted" in page
    # the share-against-target figure comes right after the sentences, before the tables
    assert index.index('<ul class="answer">') < index.index("comparison/shares.png") < index.index("<table>")
    assert page.index('<ul class="answer">') < page.index("figures/renewable_share.png") < page.index("<table>")


def test_site_links_copied_docs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "glossary.md").write_text("# Glossary\n", encoding="utf-8")
    links = site.copy_docs(tmp_path / "results", docs)
    assert links == {"docs/glossary.md": "glossary"}
    assert (tmp_path / "results" / "docs" / "glossary.md").read_text(encoding="utf-8") == "# Glossary\n"
    assert site.copy_docs(tmp_path / "results", None) == {}


def test_empty_curtailment_heatmap_is_omitted_with_the_reason(network: pypsa.Network, styles: pd.DataFrame, tmp_path: Path) -> None:
    n = network.copy()
    variable = n.generators.index[n.generators.carrier.isin(["onwind", "solar"])]
    n.generators_t.p[variable] = n.generators_t.p_max_pu[variable] * n.generators.p_nom_opt[variable]
    with pytest.raises(catalog.MissingDataError, match="no wind or solar output was curtailed"):
        figures.plot_curtailment_heatmap(n, local_buses(n, REGION), styles)
    folder = tmp_path / "figures"
    folder.mkdir()

    def build() -> Figure:
        raise catalog.MissingDataError("no wind or solar output was curtailed")

    assert rendering.render_figure(folder, "curtailment_heatmap", build) == []
    assert catalog.omitted_reason(folder, "curtailment_heatmap") == "no wind or solar output was curtailed"
