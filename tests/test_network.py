"""Strict network loading and scenario overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_model.exceptions import NetworkValidationError, ScenarioError
from energy_model.network import apply_override, apply_scenario, load_network
from energy_model.scenario import Override, is_pathway_file, load_scenario, resolve_project_path

ROOT = Path(__file__).parents[1]
SHIPPED_NETWORKS = sorted(p for p in (ROOT / "networks").glob("*") if (p / "buses.csv").exists())
# single-year scenarios (a kind: pathway spec is tested in test_pathway.py)
SHIPPED_SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if not is_pathway_file(p))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_toy_loads(toy_copy):
    n = load_network(toy_copy)
    assert list(n.buses.index) == ["local", "outside"]
    assert len(n.snapshots) == 4


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("generators.csv", "carrier,p_nom,", "carrier,p_nom_extendible,", "unknown column 'p_nom_extendible'"),
        ("generators.csv", "coal,local,coal", "coal,nowhere,coal", "bus 'nowhere' is not defined"),
        ("generators.csv", "coal,local,coal", "coal,local,lignite", "carrier 'lignite' is not defined"),
        ("generators.csv", "wind,local,onwind,100.0", "wind,local,onwind,-100.0", "negative"),
        ("generators.csv", "wind,local,onwind,100.0", "wind,local,onwind,", "empty cell"),
        ("generators.csv", "wind,local,onwind,100.0", "wind,local,onwind,abc", "not a number"),
        ("generators.csv", "coal,local,coal", "wind,local,coal", "duplicate component name"),
        ("generators-p_max_pu.csv", "01:00:00,0.2", "01:00:00,1.2", "outside [0, 1]"),
        ("generators-p_max_pu.csv", "01:00:00,0.2", "01:00:00,nan", "not a number"),
        ("generators-p_max_pu.csv", "2022-01-01 01:00:00", "2022-01-01 05:00:00", "does not match snapshot"),
        ("generators-p_max_pu.csv", "snapshot,wind", "snapshot,windd", "not a component"),
        ("generators-p_max_pu.csv", "2022-01-01 03:00:00,0.5\n", "", "has 3 rows"),
    ],
)
def test_bad_cell_is_rejected_with_location(toy_copy, file, old, new, expected):
    edit(toy_copy / file, old, new)
    with pytest.raises(NetworkValidationError) as info:
        load_network(toy_copy)
    message = str(info.value)
    assert expected in message
    assert file in message
    assert "\n" not in message


def test_semicolon_file_is_rejected(toy_copy):
    path = toy_copy / "loads.csv"
    path.write_text(path.read_text().replace(",", ";"))
    with pytest.raises(NetworkValidationError, match="separated by ';'"):
        load_network(toy_copy)


def test_custom_column_is_kept_with_a_notice_unless_declared(toy_copy, caplog):
    """A non-PyPSA column is kept as PyPSA keeps it (issue 16); declaring it silences the notice."""
    edit(toy_copy / "carriers.csv", "co2_emissions\n", "co2_emissions,source\n")
    for carrier in ("AC", "onwind", "coal", "dc", "export_market"):
        edit(toy_copy / "carriers.csv", f"\n{carrier},", f"\n{carrier},")
    text = (toy_copy / "carriers.csv").read_text().splitlines()
    (toy_copy / "carriers.csv").write_text("\n".join([text[0]] + [line + ",x" for line in text[1:]]) + "\n")
    with caplog.at_level("WARNING"):
        n = load_network(toy_copy)
    assert "kept non-PyPSA column(s) source" in caplog.text
    assert "source" in n.carriers.columns
    caplog.clear()
    with caplog.at_level("WARNING"):
        n = load_network(toy_copy, ["carriers.source"])
    assert "source" in n.carriers.columns
    assert "kept non-PyPSA" not in caplog.text


def test_override_scales_static_and_series(toy_copy):
    n = load_network(toy_copy)
    apply_override(n, Override(component="generators", carrier=["onwind"], attribute="p_max_pu", scale=0.5))
    assert n.generators_t.p_max_pu["wind"].tolist() == [0.5, 0.1, 0.0, 0.25]
    apply_override(n, Override(component="links", bus=["outside"], attribute="p_nom", set=70))
    assert n.links.at["corridor", "p_nom"] == 70


def test_override_selecting_nothing_is_an_error(toy_copy):
    n = load_network(toy_copy)
    with pytest.raises(ScenarioError, match="selects no generators"):
        apply_override(n, Override(component="generators", carrier=["solar"], attribute="p_nom", scale=2))
    with pytest.raises(ScenarioError, match="no component named 'ghost'"):
        apply_override(n, Override(component="generators", name=["ghost"], attribute="p_nom", scale=2))
    with pytest.raises(ScenarioError, match="not an attribute"):
        apply_override(n, Override(component="generators", name=["wind"], attribute="p_nominal", set=2))


def test_scenario_with_unknown_contract_link(make_project):
    path = make_project("export_contracts: [{name: c, links: [ghost], min_energy_twh: 1}]\n")
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    with pytest.raises(ScenarioError, match="export_contracts.0.links"):
        apply_scenario(n, sc, file=path)


@pytest.mark.parametrize("folder", SHIPPED_NETWORKS, ids=[p.name for p in SHIPPED_NETWORKS])
def test_every_shipped_network_validates(folder, shipped_network):
    n = shipped_network(folder)
    assert len(n.snapshots) > 0


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=[p.stem for p in SHIPPED_SCENARIOS])
def test_every_shipped_scenario_applies_to_its_network(path, shipped_network):
    """(The network is loaded once and copied for each scenario: see ``shipped_network``.)"""
    sc = load_scenario(path)
    n = shipped_network(resolve_project_path(path, sc.network), sc.allow_custom_columns)
    hours = float(n.snapshot_weightings.generators.sum())
    apply_scenario(n, sc, file=path)
    weights = n.snapshot_weightings.generators
    assert (weights > 0).all()
    if sc.snapshots is None:  # time aggregation keeps the hours of the year
        assert float(weights.sum()) == pytest.approx(hours)
