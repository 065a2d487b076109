"""Bad-input corpus: every case is rejected with one line naming file, row/key and cause, exit 2.

Each folder under ``tests/data/bad/<case>/`` holds ``case.yaml``:

``description``
    What the user did wrong.
``edits``
    Changes applied to a copy of ``tests/data/networks/toy``: ``{file, replace, with}`` (the text
    must occur exactly once), ``{file, write[, encoding]}`` or ``{file, delete: true}``.
``expect``
    Fragments the one-line error message must contain (file, row/column or key, cause).

and optionally ``scenario.yaml`` (the scenario file; default: the toy network in 2022). The case
is run through the command line (``energy-model run <scenario> --results <tmp>``) in-process for
every case, and as a real ``python -m energy_model`` subprocess and through ``validate`` for a
few, against a results
folder that already holds a previous bundle of the same scenario, which must stay untouched.
The list of cases with the message each produces is in ``docs/reliability.md``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from energy_model.cli import main

TESTS = Path(__file__).parent
ROOT = TESTS.parent
BAD = TESTS / "data" / "bad"
TOY = TESTS / "data" / "networks" / "toy"
DEFAULT_SCENARIO = "network: networks/toy\nyear: 2022\n"
CASES = sorted(p.name for p in BAD.iterdir() if (p / "case.yaml").is_file())
#: Cases also run as a separate ``python -m energy_model`` process (each costs an interpreter
#: start with PyPSA imports, a few seconds).
SUBPROCESS_CASES = ["csv_series_shifted_index", "yaml_malformed"]
#: Cases also checked through ``energy-model validate``.
VALIDATE_CASES = ["csv_generator_on_missing_bus", "csv_wrong_encoding", "yaml_target_above_one"]


def load_case(case: str) -> dict:
    """``case.yaml`` of a corpus case."""
    return yaml.safe_load((BAD / case / "case.yaml").read_text(encoding="utf-8"))


def apply_edits(network: Path, edits: list[dict]) -> None:
    """Apply a case's edits to a copy of the toy network."""
    for edit in edits:
        path = network / edit["file"]
        if edit.get("delete"):
            path.unlink()
        elif "write" in edit:
            path.write_bytes(edit["write"].encode(edit.get("encoding", "utf-8")))
        else:
            text = path.read_text(encoding="utf-8")
            count = text.count(edit["replace"])
            assert count == 1, f"{edit['file']}: {edit['replace']!r} occurs {count} times"
            path.write_text(text.replace(edit["replace"], edit["with"]), encoding="utf-8")


def snapshot_tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under ``folder``, hidden ones included."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def build_case(case: str, tmp_path: Path) -> tuple[Path, Path]:
    """Project with the edited toy and the scenario; results folder with a previous bundle."""
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(TOY, project / "networks" / "toy")
    apply_edits(project / "networks" / "toy", load_case(case).get("edits", []))
    source = BAD / case / "scenario.yaml"
    text = source.read_text(encoding="utf-8") if source.is_file() else DEFAULT_SCENARIO
    scenario = project / "scenarios" / f"{case}.yaml"
    scenario.write_text(text, encoding="utf-8")
    results_root = tmp_path / "results"
    previous = results_root / case
    (previous / "figures").mkdir(parents=True)
    (previous / "run.json").write_text('{"status": "ok", "scenario": "previous"}\n', encoding="utf-8")
    (previous / "metrics.csv").write_text("metric,variant,carrier,bus,value,unit\nx,,,,1,MW\n",
                                          encoding="utf-8")
    return scenario, results_root


def check_rejection(case: str, code: int, stderr: str, before: dict, results_root: Path) -> str:
    """Assert exit 2, one stderr line with the expected fragments, results untouched."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, f"{case}: exit {code}, stderr: {stderr}"
    assert len(lines) == 1, f"{case}: stderr has {len(lines)} lines:\n{stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in load_case(case)["expect"]:
        assert fragment in line, f"{case}: {fragment!r} not in {line!r}"
    assert snapshot_tree(results_root) == before, f"{case}: the results folder changed"
    return line


def test_corpus_is_large_and_documented():
    assert len(CASES) >= 30
    kinds = {case.split("_", 1)[0] for case in CASES}
    assert kinds == {"csv", "yaml"}
    for case in CASES:
        spec = load_case(case)
        assert spec["description"].strip(), case
        assert spec["expect"], case
        assert (BAD / case / "scenario.yaml").is_file() or spec.get("edits"), case
    documented = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    missing = [case for case in CASES if f"`{case}`" not in documented]
    assert not missing, f"cases not listed in docs/reliability.md: {missing}"


def test_unedited_toy_is_accepted(tmp_path, capsys):
    """Control: without the edits the same project validates, so each rejection is the edit's."""
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(TOY, project / "networks" / "toy")
    scenario = project / "scenarios" / "control.yaml"
    scenario.write_text(DEFAULT_SCENARIO, encoding="utf-8")
    code = main(["validate", str(scenario), "--results", str(tmp_path / "results")])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_rejected(case, tmp_path, capsys):
    scenario, results_root = build_case(case, tmp_path)
    before = snapshot_tree(results_root)
    code = main(["run", str(scenario), "--results", str(results_root)])
    captured = capsys.readouterr()
    check_rejection(case, code, captured.err, before, results_root)
    assert "wrote" not in captured.out


@pytest.mark.parametrize("case", VALIDATE_CASES)
def test_validate_rejects_bad_input(case, tmp_path, capsys):
    scenario, results_root = build_case(case, tmp_path)
    before = snapshot_tree(results_root)
    code = main(["validate", str(scenario), "--results", str(results_root)])
    check_rejection(case, code, capsys.readouterr().err, before, results_root)


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_bad_input_through_python_m(case, tmp_path):
    scenario, results_root = build_case(case, tmp_path)
    before = snapshot_tree(results_root)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="default")
    proc = subprocess.run(
        [sys.executable, "-m", "energy_model", "run", str(scenario), "--results", str(results_root)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False,
    )
    check_rejection(case, proc.returncode, proc.stderr, before, results_root)
