"""Interrupted runs: the previous result survives, nothing half-written looks complete, next run works.

A run is started as a separate ``python -m energy_model``-like process (the CLI's ``main``) whose
solver call first writes a marker file and then waits, so the signal arrives deterministically
*mid-solve* (the temporary bundle folder exists, the solver has not returned). One more case
kills an unpatched run at the moment its temporary folder appears. ``make`` treats
``results/<scenario>/run.json`` as the target, and ``compare``/``report``/the site read only
folders that :func:`energy_model.results.is_complete` accepts, so "nothing looks complete" means:
no new non-hidden folder, the old ``run.json`` unchanged, and no hidden folder that
``is_complete`` accepts.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from energy_model import results as res
from energy_model.cli import main

ROOT = Path(__file__).parent.parent
SCALE_LOAD = "overrides: [{component: loads, attribute: p_set, name: [demand], scale: 1.1}]\n"
WRAPPER = textwrap.dedent(
    """
    import pathlib, sys, time
    import linopy

    marker = pathlib.Path(sys.argv[1])
    original = linopy.Model.solve

    def slow_solve(self, *args, **kwargs):
        marker.write_text("solving", encoding="utf-8")
        time.sleep(300)
        return original(self, *args, **kwargs)

    linopy.Model.solve = slow_solve
    from energy_model.cli import main

    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def tree(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _default_signal_state() -> None:
    """In the child, before exec: SIGINT/SIGTERM unblocked and at their defaults, as from a shell.

    A test worker process may hold them ignored or blocked (left by other tests or libraries it
    ran); a child inherits both, and an ignored SIGINT would never reach the CLI.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def start(args: list[str], cwd: Path, wrapper: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, str(wrapper)] if wrapper else [sys.executable, "-m", "energy_model"]
    return subprocess.Popen(
        [*command, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_default_signal_state,  # noqa: PLW1509 - no threads started here
    )


def wait_for(condition, timeout: float = 180.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_nothing_looks_complete(results: Path, name: str, before: dict) -> None:
    """Only the previous bundle is visible and unchanged; hidden leftovers are not complete."""
    visible = sorted(p.name for p in results.iterdir() if not p.name.startswith("."))
    assert visible == [name]
    assert tree(results / name) == before
    for hidden in (p for p in results.iterdir() if p.name.startswith(".")):
        assert not res.is_complete(hidden), hidden


@pytest.fixture
def previous_result(make_project, tmp_path, write_valid_run_record):
    """A toy project and a complete previous bundle of ``toy-2022`` (written directly: only its
    bytes and its completeness matter here; tests/test_cli.py checks real bundles)."""
    path = make_project(SCALE_LOAD)
    results = tmp_path / "results"
    bundle = results / "toy-2022"
    (bundle / "figures").mkdir(parents=True)
    write_valid_run_record(bundle, "toy-2022")
    (bundle / res.METRICS_FILE).write_text("metric,variant,carrier,bus,value,unit\n", encoding="utf-8")
    (bundle / "figures" / "dispatch.svg").write_text("<svg/>\n", encoding="utf-8")
    assert res.is_complete(bundle)
    before = tree(bundle)
    wrapper = tmp_path / "slow_solve.py"
    wrapper.write_text(WRAPPER, encoding="utf-8")
    return path, results, before, wrapper


def test_sigint_mid_solve_cleans_up(previous_result, tmp_path):
    """Ctrl-C (SIGTERM takes the same path: the CLI turns it into KeyboardInterrupt)."""
    path, results, before, wrapper = previous_result
    marker = tmp_path / "solving"
    proc = start([str(marker), "run", str(path), "--results", str(results)], tmp_path, wrapper)
    wait_for(marker.exists, what="the solve to start")
    assert list(results.glob(".toy-2022.tmp-*")), "the temporary bundle exists mid-solve"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted: no result was changed"
    assert_nothing_looks_complete(results, "toy-2022", before)
    assert not [p for p in results.iterdir() if p.name.startswith(".")], "no temporary folder left"


def test_sigkill_mid_solve_then_next_run_succeeds(previous_result, tmp_path):
    path, results, before, wrapper = previous_result
    marker = tmp_path / "solving"
    proc = start([str(marker), "run", str(path), "--results", str(results)], tmp_path, wrapper)
    wait_for(marker.exists, what="the solve to start")
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    leftovers = list(results.glob(".toy-2022.tmp-*"))
    assert leftovers, "SIGKILL cannot clean up: the temporary folder stays, hidden"
    assert_nothing_looks_complete(results, "toy-2022", before)
    # the next run recovers: it succeeds, replaces the old bundle and removes the leftover
    assert main(["run", str(path), "--results", str(results)]) == 0
    assert sorted(p.name for p in results.iterdir()) == ["toy-2022"]
    assert res.is_complete(results / "toy-2022")
    assert tree(results / "toy-2022")["metrics.csv"] != before["metrics.csv"]


def test_sigkill_at_a_real_point_of_the_run(previous_result, tmp_path):
    """Unpatched run killed when its temporary folder appears (solving, computing or rendering)."""
    path, results, before, _ = previous_result
    proc = start(["run", str(path), "--results", str(results)], tmp_path)
    wait_for(lambda: bool(list(results.glob(".toy-2022.tmp-*"))) or proc.poll() is not None,
             what="the run to create its temporary folder")
    proc.kill()
    proc.communicate(timeout=60)
    visible = sorted(p.name for p in results.iterdir() if not p.name.startswith("."))
    assert visible == ["toy-2022"]
    # either the kill came first (old bundle intact) or the run had finished (new, complete)
    assert res.is_complete(results / "toy-2022")
    current = tree(results / "toy-2022")
    if proc.returncode == -signal.SIGKILL:
        assert current == before
    else:
        assert proc.returncode == 0
        assert current["metrics.csv"] != before["metrics.csv"]
    for hidden in (p for p in results.iterdir() if p.name.startswith(".")):
        assert not res.is_complete(hidden)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_kill_between_the_two_renames_of_publish(tmp_path):
    """Killed after parking the old bundle and before renaming the new one into place."""
    results = tmp_path / "results"
    pid = dead_pid()
    parked = results / f".toy.old-{pid}"
    parked.mkdir(parents=True)
    (parked / res.RUN_FILE).write_text('{"status": "ok"}\n', encoding="utf-8")
    (parked / res.METRICS_FILE).write_text("old\n", encoding="utf-8")
    complete_tmp = results / f".toy.tmp-{pid}"
    complete_tmp.mkdir()
    (complete_tmp / res.RUN_FILE).write_text('{"status": "ok"}\n', encoding="utf-8")
    assert not (results / "toy").exists()  # the state `make` would see: no target
    res.recover_interrupted(results, "toy")
    assert (results / "toy" / res.METRICS_FILE).read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in results.iterdir()) == ["toy"]


def test_leftover_of_a_live_process_is_kept(tmp_path):
    """A temporary folder of a process that is still running (another run) is not removed."""
    results = tmp_path / "results"
    other = results / f".toy.tmp-{os.getppid()}"
    other.mkdir(parents=True)
    res.recover_interrupted(results, "toy")
    assert other.is_dir()
    shutil.rmtree(other)
