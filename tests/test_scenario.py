"""Scenario schema: accepted and rejected files, and every shipped scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_model.exceptions import ScenarioError
from energy_model.scenario import Scenario, is_pathway_file, load_scenario, scenario_to_yaml

ROOT = Path(__file__).parents[1]
# single-year scenarios (a kind: pathway spec is tested in test_pathway.py)
SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if not is_pathway_file(p))


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_scenario_fills_defaults(tmp_path):
    sc = load_scenario(write(tmp_path, "network: networks/x\nyear: 2022\n"))
    assert sc.name == "demo"
    assert sc.time.method == "hourly"
    assert sc.solver.name == "highs"
    assert sc.accounting.electricity_valuation == "coal_equivalent"


def test_resolved_scenario_round_trips(tmp_path):
    sc = load_scenario(write(tmp_path, "network: n\nyear: 2022\ntargets: [{name: t, min_share: 0.3}]\n"))
    again = write(tmp_path, scenario_to_yaml(sc), name="demo")
    assert load_scenario(again) == sc


@pytest.mark.parametrize(
    ("text", "key", "cause"),
    [
        ("network: n\nyear: 2022\nyaer: 2023\n", "yaer", "unknown key"),
        ("network: n\nyear: twenty\n", "year", "valid integer"),
        ("year: 2022\n", "network", "required key is missing"),
        ("network: n\nyear: 2022\ntargets: [{name: t, min_share: 1.5}]\n", "targets.0.min_share", "less than or equal"),
        ("network: n\nyear: 2022\noverrides: [{component: generators, attribute: p_nom, scale: 2}]\n",
         "overrides.0", "selector"),
        ("network: n\nyear: 2022\noverrides: [{component: gens, name: [a], attribute: p_nom, scale: 2}]\n",
         "overrides.0.component", "Input should be"),
        ("network: n\nyear: 2022\nsolver: {name: gurobi}\n", "solver.name", "Input should be"),
        ("network: n\nyear: 2022\naccounting: {electricity_valuation: kcal}\n",
         "accounting.electricity_valuation", "Input should be"),
    ],
)
def test_bad_scenario_names_file_and_key(tmp_path, text, key, cause):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert cause in message
    assert "\n" not in message


def test_malformed_yaml_reports_line(tmp_path):
    path = write(tmp_path, "network: n\nyear: [2022\n")
    with pytest.raises(ScenarioError, match=r"malformed YAML: line \d+"):
        load_scenario(path)


def test_name_must_match_file_stem(tmp_path):
    with pytest.raises(ScenarioError, match="must equal the file stem"):
        load_scenario(write(tmp_path, "name: other\nnetwork: n\nyear: 2022\n"))


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "absent.yaml")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_validates(path):
    sc = load_scenario(path)
    # the resolved scenario round-trips through the schema unchanged (what scenario.yaml stores)
    assert Scenario.model_validate(sc.model_dump()) == sc
