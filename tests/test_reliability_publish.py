"""Publishing under signals and concurrency: old bundle or new one complete, never in between.

``publish`` holds SIGINT/SIGTERM back while it renames and removes the replaced bundle; a
signal that arrives meanwhile is delivered afterwards as ``PublishInterrupted`` (the CLI says
the new result is complete). ``ScenarioLock`` keeps two runs of one scenario apart: a second
run is refused naming the holder's PID, and the lock of a dead process is taken over.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from energy_model import cli
from energy_model import results as res


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def bundle(folder: Path, text: str) -> None:
    (folder / "figures").mkdir(parents=True)
    (folder / res.RUN_FILE).write_text(text, encoding="utf-8")
    (folder / res.METRICS_FILE).write_text(text, encoding="utf-8")
    (folder / "figures" / "a.svg").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_publishing_completes_the_new_bundle(tmp_path, monkeypatch, signum):
    """The signal arrives while the old bundle is being removed (the slowest step).

    Before: the KeyboardInterrupt stopped the removal, leaving a hidden ``.old`` folder, and the
    command line said "no result was changed" although the new bundle was already in place.
    """
    results = tmp_path / "results"
    bundle(results / "toy", "old\n")
    tmp = res.temporary_dir(results, "toy")
    bundle(tmp / "new", "new\n")
    for item in (tmp / "new").iterdir():
        item.rename(tmp / item.name)
    (tmp / "new").rmdir()
    real_rmtree = res.shutil.rmtree

    def rmtree_with_signal(path, *args, **kwargs):
        os.kill(os.getpid(), signum)
        return real_rmtree(path, *args, **kwargs)

    previous = signal.signal(signal.SIGTERM, cli._raise_keyboard_interrupt)
    monkeypatch.setattr(res.shutil, "rmtree", rmtree_with_signal)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            res.publish(tmp, results, "toy")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert isinstance(caught.value, res.PublishInterrupted)
    assert "published completely" in caught.value.outcome
    assert (results / "toy" / res.RUN_FILE).read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in results.iterdir()) == ["toy"], "no hidden leftovers"


def test_cli_says_which_bundle_survived(monkeypatch, capsys, tmp_path):
    def interrupted(args):
        raise res.PublishInterrupted(tmp_path / "results" / "toy")

    monkeypatch.setattr(cli, "cmd_run", interrupted)
    assert cli.main(["run", "whatever.yaml"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"interrupted: the new result was published completely: {tmp_path / 'results' / 'toy'}"


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from energy_model.results import ScenarioLock

    lock = ScenarioLock(Path(sys.argv[1]), "toy-2022").acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)


def hold_lock(results: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(results)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_refuses_a_second_run_and_takes_over_a_stale_lock(tmp_path, caplog):
    results = tmp_path / "results"
    proc = hold_lock(results)
    try:
        lock_file = results / ".toy-2022.lock"
        assert lock_file.read_text(encoding="utf-8").strip() == str(proc.pid)
        with pytest.raises(res.ConcurrentRunError, match=f"being run by process {proc.pid}"):
            res.ScenarioLock(results, "toy-2022").acquire()
    finally:
        proc.kill()
        proc.wait()
    # the holder died without releasing: its PID is still in the file, the lock is stale
    assert lock_file.read_text(encoding="utf-8").strip() == str(proc.pid)
    with caplog.at_level(logging.WARNING), res.ScenarioLock(results, "toy-2022"):
        assert lock_file.read_text(encoding="utf-8").strip() == str(os.getpid())
    assert f"stale lock of process {proc.pid}" in caplog.text
    assert not lock_file.exists(), "released: the lock file is removed"


def test_run_while_another_run_holds_the_lock_changes_nothing(make_project, tmp_path, capsys,
                                                              write_valid_run_record):
    scenario = make_project()
    results = tmp_path / "results"
    (results / "toy-2022").mkdir(parents=True)
    write_valid_run_record(results / "toy-2022", "toy-2022")
    before = (results / "toy-2022" / res.RUN_FILE).read_bytes()
    proc = hold_lock(results)
    try:
        code = cli.main(["run", str(scenario), "--results", str(results)])
        err = capsys.readouterr().err.strip()
    finally:
        proc.kill()
        proc.wait()
    assert code == 1, err
    assert f"scenario 'toy-2022' is being run by process {proc.pid}" in err
    assert len(err.splitlines()) == 1
    assert (results / "toy-2022" / res.RUN_FILE).read_bytes() == before
    assert sorted(p.name for p in results.iterdir()) == [".toy-2022.lock", "toy-2022"]
