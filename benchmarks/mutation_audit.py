"""Mutation audit: do the tests catch plausible one-line mistakes in the deciding modules?

Each entry of :data:`MUTATIONS` replaces one exact snippet of the engine (a sign, a term, a
tolerance, an iteration limit) with a plausible mistake. For every mutant the script copies the
project to a temporary folder (the working tree is never modified), applies the change to the
copy and runs, once, the test selection that covers that code (``MutationCase.files`` and
``k``): the older tests and the tests written for the audit (:func:`is_new_test`). Then:

* ``before``: killed when one of the older tests fails;
* ``after``: killed when any test fails.

A collection error or a timeout kills both; a mutant *survives* when its run passes. A snippet
that no longer occurs in the source is reported as ``n/a`` (the engine changed; update the
list). The script prints a table and the kill rates.

Usage::

    .venv/bin/python benchmarks/mutation_audit.py              # all mutants, before and after
    .venv/bin/python benchmarks/mutation_audit.py --only dinkelbach_one_step tolerance_1pp
    .venv/bin/python benchmarks/mutation_audit.py --list

Each test run is targeted (two or three files and a ``-k`` selection of the tests that reach
the mutated code), so the whole audit takes about 15-20 minutes on two cores. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Folders and files copied into the temporary project (results/ and .venv are not).
COPIED = ("energy_model", "tests", "data", "scenarios", "networks", "pyproject.toml")
#: Seconds after which a mutant's test run is stopped and counted as killed (a hang is caught).
TIMEOUT_S = 600

ACC = "energy_model/accounting"
NEW_ACC = "tests/test_mistakes_accounting.py"


@dataclass(frozen=True)
class MutationCase:
    """One mutant: replace ``original`` (must occur exactly once) in ``path`` by ``mutant``."""

    name: str
    path: str
    original: str
    mutant: str
    files: list[str]
    """Test files run against the mutant (old and new tests)."""
    k: str | None = None
    """pytest ``-k`` expression applied to ``files`` (``None``: every fast test in them)."""
    issue: bool = False
    """One of the seven mistakes the audit of the issue found surviving."""


#: Tests written for the audit: files, and test functions added to older files.
NEW_TEST_FILES = ("tests/test_mistakes_",)
NEW_TEST_FUNCTIONS = {"test_degree_hours_by_hand", "test_zone_degree_hours_use_the_parameter_base",
                      "test_heat_pump_and_heater_sizing"}


def is_new_test(nodeid: str) -> bool:
    """Whether a pytest node id belongs to the tests written for the audit."""
    function = nodeid.rsplit("::", maxsplit=1)[-1].split("[", maxsplit=1)[0]
    return nodeid.startswith(NEW_TEST_FILES) or function in NEW_TEST_FUNCTIONS


#: The hand-computed (solve-free or one-solve) tests of tests/test_accounting.py.
ACC_OLD = ("hourly_flows or attribution_rules or final_energy_share_by_hand or balance_items or "
           "storage_pass or export_exceeding or green_contract or verdict or calibration")
HEAT_OLD = ("demand or cop or season or remap or missing_temperatures or conventions or "
            "thermal_storage or heating_metrics")


ACC_FILES = ["tests/test_accounting.py", NEW_ACC]

MUTATIONS: list[MutationCase] = [
    # --- the seven survivors of the first audit ---------------------------------------------
    MutationCase(
        "tolerance_1pp", f"{ACC}/inputs.py",
        "VERDICT_TOLERANCE_PP = 1e-3", "VERDICT_TOLERANCE_PP = 1.0",
        [*ACC_FILES, "tests/test_checks.py"], f"{ACC_OLD} or share", issue=True,
    ),
    MutationCase(
        "two_way_exports_netted", f"{ACC}/balance.py",
        'w = values.positive_part(w, "export")', "w = w",
        ACC_FILES, f"{ACC_OLD} or binds_and_agrees or enforcing or two_way", issue=True,
    ),
    MutationCase(
        "data_centre_matched_is_annual", f"{ACC}/shares.py",
        '_row("data_centre_renewable_share", matched * 100',
        '_row("data_centre_renewable_share", annual * 100',
        ACC_FILES, f"{ACC_OLD} or data_centre", issue=True,
    ),
    MutationCase(
        "dinkelbach_one_step", "energy_model/optimization/reachable.py",
        "    for _ in range(max_iter):\n        objective = as_linear(",
        "    for _ in range(1):\n        objective = as_linear(",
        [*ACC_FILES, "tests/test_diagnose.py"], "reachable or unreachable or diagnos", issue=True,
    ),
    MutationCase(
        "publish_not_atomic", "energy_model/results.py",
        "        final.rename(parked)\n", "        shutil.rmtree(final)\n",
        ["tests/test_interrupt.py", "tests/test_mistakes_publish.py"],
        "publish or recover or leftover or complete", issue=True,
    ),
    MutationCase(
        "hidden_folder_complete", "energy_model/results.py",
        'if result_dir.name.startswith(".") or not (result_dir / RUN_FILE).is_file():',
        "if not (result_dir / RUN_FILE).is_file():",
        ["tests/test_interrupt.py", "tests/test_mistakes_publish.py"],
        "publish or recover or leftover or complete", issue=True,
    ),
    MutationCase(
        "balance_floor_1000x", "energy_model/checks.py",
        "FLOOR_MW = 1.0", "FLOOR_MW = 1000.0",
        ["tests/test_checks.py", "tests/test_mistakes_checks.py"], "not zhangjiakou", issue=True,
    ),
    # --- accounting: topology, balance terms, share terms -----------------------------------
    MutationCase(
        "one_way_import_as_negative_export", f"{ACC}/balance.py",
        "            continue  # a one-way link whose local end is an output port only imports",
        "            pass",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "network_losses_dropped", f"{ACC}/balance.py",
        "    losses = _sum_terms(values.total(values.withdrawal(p)) for p in topo.internal_ports)",
        "    losses = 0.0",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "storage_link_losses_dropped", f"{ACC}/balance.py",
        "    for port in topo.storage_ports:\n        consumption.append(",
        "    for port in topo.storage_ports[:0]:\n        consumption.append(",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "store_sign_flipped", f"{ACC}/balance.py",
        'consumption.append(-1 * values.total(values.flow("Store", "p", topo.stores)))',
        'consumption.append(values.total(values.flow("Store", "p", topo.stores)))',
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "heat_fuel_ignores_efficiency", f"{ACC}/balance.py",
        "heat_fuel[gen] = values.total(p * (1.0 / eff))", "heat_fuel[gen] = values.total(p)",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "ambient_heat_is_heat_output", f"{ACC}/balance.py",
        "gain = (eff - 1.0).clip(min=0)", "gain = eff.clip(min=0)",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "district_heat_left_out_of_denominator", f"{ACC}/balance.py",
        "+ c_h * (heat_all + dh_all + ambient)", "+ c_h * (heat_all + ambient)",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "pool_without_losses", f"{ACC}/balance.py",
        "total = balance.electricity + balance.exports + balance.network_losses",
        "total = balance.electricity + balance.exports",
        ACC_FILES, f"{ACC_OLD} or zoo or mix_pool",
    ),
    MutationCase(
        "green_contract_not_capped", f"{ACC}/balance.py",
        "green = min(green, float(balance.renewable_generation))", "green = green",
        ACC_FILES, f"{ACC_OLD} or mix_pool",
    ),
    MutationCase(
        "storage_links_as_conversion", f"{ACC}/balance.py",
        "elif all(b in el_local or b in storage_set for b in port_buses.values()):",
        "elif False:",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "heat_pumps_not_detected", f"{ACC}/balance.py",
        "if bus0 in el_local and port_buses.get(1) in heat_local and not non_local:",
        "if False:",
        ACC_FILES, f"{ACC_OLD} or zoo",
    ),
    MutationCase(
        "reversible_link_one_way", f"{ACC}/balance.py",
        "two_way = reverses or len(signs) > 1", "two_way = len(signs) > 1",
        ACC_FILES, f"{ACC_OLD} or binds_and_agrees or enforcing or two_way",
    ),
    MutationCase(
        "hourly_imports_netted", f"{ACC}/attribution.py",
        'flows["exports"] += w.clip(lower=0)', 'flows["exports"] += w',
        ACC_FILES, f"{ACC_OLD} or two_way",
    ),
    MutationCase(
        "data_centre_hourly_rule_local_first", f"{ACC}/shares.py",
        'hourly_rule = headline if headline in accounts.attributions else "hourly_mix"',
        'hourly_rule = headline if headline in accounts.attributions else "local_first"',
        ACC_FILES, f"{ACC_OLD} or data_centre",
    ),
    MutationCase(
        "calibration_band_one_sided", f"{ACC}/shares.py",
        'return "CALIBRATED" if abs(margin_pp) <= target.calibration_band_pp else "OFF"',
        'return "CALIBRATED" if margin_pp <= target.calibration_band_pp else "OFF"',
        ACC_FILES, ACC_OLD,
    ),
    MutationCase(
        "reachable_share_skips_step_two", "energy_model/optimization/reachable.py",
        '    if target.indicator == "electricity":\n        return ratio\n',
        "    return ratio\n",
        [*ACC_FILES, "tests/test_diagnose.py"], "reachable or unreachable or diagnos",
    ),
    # --- checks and results -----------------------------------------------------------------
    MutationCase(
        "balance_rtol_1000x", "energy_model/checks.py",
        "BALANCE_RTOL = 1e-6", "BALANCE_RTOL = 1e-3",
        ["tests/test_checks.py", "tests/test_mistakes_checks.py"], "not zhangjiakou",
    ),
    MutationCase(
        "recover_never_restores", "energy_model/results.py",
        "if not final.exists() and (parked / RUN_FILE).exists():", "if False:",
        ["tests/test_interrupt.py", "tests/test_mistakes_publish.py"],
        "publish or recover or leftover or complete",
    ),
    # --- heating ----------------------------------------------------------------------------
    MutationCase(
        "degree_hours_without_smoothing", "energy_model/heating.py",
        "smoothed = temperature.rolling(smoothing_hours, min_periods=1).mean()",
        "smoothed = temperature",
        ["tests/test_heating.py"], f"{HEAT_OLD} or degree_hours",
    ),
    MutationCase(
        "degree_hour_base_shifted", "energy_model/heating.py",
        "return (base_temperature - smoothed).clip(lower=0.0)",
        "return (base_temperature - 2.0 - smoothed).clip(lower=0.0)",
        ["tests/test_heating.py"], f"{HEAT_OLD} or degree_hours",
    ),
    MutationCase(
        "heat_pump_sized_at_mean_cop", "energy_model/heating.py",
        "hp_p_nom = hp_heat / cop_season_min", "hp_p_nom = hp_heat / float(np.mean(cop))",
        ["tests/test_heating.py"], f"{HEAT_OLD} or sizing",
    ),
    MutationCase(
        "boiler_ignores_design_day", "energy_model/heating.py",
        "boiler_heat = max(peak * margin, design_day / valley)", "boiler_heat = peak * margin",
        ["tests/test_heating.py"], f"{HEAT_OLD} or sizing",
    ),
]


def copy_project(target: Path) -> None:
    """Copy what the tests need into ``target`` (never the results or the environment)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "results")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / name)


def run_tests(project: Path, case: MutationCase) -> tuple[str, str, list[str], float]:
    """Run the mutant's tests once; return (before, after, failing node ids, seconds).

    ``before`` is ``killed`` when a test that existed before the audit fails, ``after`` when
    any test fails; a collection error or a timeout kills both. The older tests come first
    in ``case.files`` and the run stops at the first failure (``-x``).
    """
    env = dict(os.environ, PYTHONPATH=str(project), PYTHONDONTWRITEBYTECODE="1")
    # -x: the older tests come first in ``case.files``, so the first failure tells whether
    # they kill the mutant; the new tests run only when the older ones all pass
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
               "-m", "not slow", *case.files]
    if case.k:
        command += ["-k", case.k]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return "killed", "killed", ["(timeout)"], time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode == 0:
        return "survived", "survived", [], seconds
    if done.returncode == 5:  # nothing collected: the selection is wrong, not a kill
        return "no tests", "no tests", [], seconds
    failing = [line.split()[1] for line in done.stdout.splitlines()
               if line.startswith(("FAILED ", "ERROR ")) and len(line.split()) > 1]
    if not failing or any("::" not in nodeid for nodeid in failing):  # collection error
        return "killed", "killed", failing or ["(error)"], seconds
    before = "killed" if any(not is_new_test(nodeid) for nodeid in failing) else "survived"
    return before, "killed", failing, seconds


def check_isolation(project: Path) -> None:
    """The copy, not the working tree, is what the tests import."""
    env = dict(os.environ, PYTHONPATH=str(project))
    out = subprocess.run(
        [sys.executable, "-c", "import energy_model; print(energy_model.__file__)"],
        cwd=project, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(project.resolve()):
        msg = f"the copy is not imported (energy_model comes from {out})"
        raise SystemExit(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="names of the mutants to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    cases = [c for c in MUTATIONS if not args.only or c.name in args.only]
    if args.list:
        for case in cases:
            sys.stdout.write(f"{case.name:40s} {case.path}{'  (issue)' if case.issue else ''}\n")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="mutation-audit-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        copy_project(project)
        check_isolation(project)
        for case in cases:
            path = project / case.path
            source = path.read_text(encoding="utf-8")
            if source.count(case.original) != 1:
                rows.append((case, "n/a", "n/a", 0.0))
                continue
            path.write_text(source.replace(case.original, case.mutant), encoding="utf-8")
            try:
                before, after, failing, seconds = run_tests(project, case)
            finally:
                path.write_text(source, encoding="utf-8")
            rows.append((case, before, after, seconds))
            sys.stderr.write(f"{case.name}: before {before}, after {after} ({seconds:.0f} s); "
                             f"failing: {' '.join(failing[:4])}\n")
    report(rows)
    return 0


def report(rows: list[tuple[MutationCase, str, str, float]]) -> None:
    """Print the table and the kill rates (all mutants, and the seven of the issue)."""
    out = sys.stdout
    out.write(f"\n| {'mutant':40s} | {'module':38s} | before   | after    | s    |\n")
    out.write(f"|{'-' * 42}|{'-' * 40}|----------|----------|------|\n")
    for case, before, after, seconds in rows:
        name = case.name + (" *" if case.issue else "")
        out.write(f"| {name:40s} | {case.path:38s} | {before:8s} | {after:8s} | {seconds:4.0f} |\n")
    for label, subset in (("all", rows), ("issue (*)", [r for r in rows if r[0].issue])):
        applicable = [r for r in subset if r[1] != "n/a"]
        if not applicable:
            continue
        killed_before = sum(r[1] == "killed" for r in applicable)
        killed_after = sum(r[2] == "killed" for r in applicable)
        out.write(
            f"kill rate, {label}: before {killed_before}/{len(applicable)} "
            f"({100 * killed_before / len(applicable):.0f} %), after {killed_after}/"
            f"{len(applicable)} ({100 * killed_after / len(applicable):.0f} %)\n"
        )
    survivors = [r[0].name for r in rows if r[2] not in ("killed", "n/a")]
    out.write(f"survivors: {', '.join(survivors) if survivors else 'none'}\n")


if __name__ == "__main__":
    raise SystemExit(main())
