"""Publishing a result bundle: a failure at the swap never loses the old bundle, and hidden or
temporary folders are never counted as complete results.

In-process and fast (no solve, no subprocess): the rename that swaps the new bundle into place
is made to fail, as a full disk or a permission error would, and the old bundle must then be in
place, or be put back by :func:`energy_model.results.recover_interrupted` (what the next run
does first), byte for byte.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from energy_model import cli
from energy_model import results as res


def tree(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def bundles(tmp_path: Path, write_valid_run_record):
    """``results/toy`` (old, complete) and a complete new bundle in a temporary folder."""
    results = tmp_path / "results"
    old = results / "toy"
    (old / "figures").mkdir(parents=True)
    write_valid_run_record(old, "toy")
    (old / res.METRICS_FILE).write_text("metric,value\nold,1\n", encoding="utf-8")
    (old / "figures" / "dispatch.svg").write_text("<svg>old</svg>\n", encoding="utf-8")
    new = res.temporary_dir(results, "toy")
    write_valid_run_record(new, "toy")
    (new / res.METRICS_FILE).write_text("metric,value\nnew,2\n", encoding="utf-8")
    assert res.is_complete(old)
    return results, old, new


def fail_renames_of(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every rename/replace whose source is ``source`` raise ``OSError``."""
    source = source.resolve()

    def guard(original):
        def wrapped(src, dst, *args, **kwargs):
            if Path(src).resolve() == source:
                raise OSError(28, "No space left on device (simulated)")
            return original(src, dst, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(os, "rename", guard(os.rename))
    monkeypatch.setattr(os, "replace", guard(os.replace))
    monkeypatch.setattr(Path, "rename", guard(Path.rename))
    monkeypatch.setattr(Path, "replace", guard(Path.replace))


def test_publish_replaces_the_old_bundle(bundles) -> None:
    results, old, new = bundles
    final = res.publish(new, results, "toy")
    assert final == old
    assert (final / res.METRICS_FILE).read_text(encoding="utf-8") == "metric,value\nnew,2\n"
    assert not (final / "figures").exists()  # nothing of the old bundle is mixed in
    assert sorted(p.name for p in results.iterdir()) == ["toy"]


def test_publish_failing_at_the_swap_keeps_the_old_bundle(bundles, monkeypatch) -> None:
    results, old, new = bundles
    before = tree(old)
    fail_renames_of(new, monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        res.publish(new, results, "toy")
    monkeypatch.undo()
    # what the next run does first: put a parked old bundle back, drop dead leftovers
    res.recover_interrupted(results, "toy")
    assert old.is_dir()
    assert tree(old) == before
    assert res.is_complete(old)
    assert [p.name for p in results.iterdir() if not p.name.startswith(".")] == ["toy"]
    for hidden in (p for p in results.iterdir() if p.name.startswith(".")):
        assert not res.is_complete(hidden), hidden


@pytest.mark.parametrize("name", [".toy.tmp-123", ".toy.old-123", ".toy", ".hidden"])
def test_hidden_and_temporary_folders_are_never_complete(
    tmp_path: Path, write_valid_run_record, name: str
) -> None:
    results = tmp_path / "results"
    hidden = results / name
    hidden.mkdir(parents=True)
    write_valid_run_record(hidden, "toy")
    visible = results / "toy"
    visible.mkdir()
    write_valid_run_record(visible, "toy")
    assert not res.is_complete(hidden)
    assert res.is_complete(visible)
    assert cli._complete_dirs(results) == [visible]


def test_folder_without_a_valid_run_record_is_not_complete(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    assert not res.is_complete(folder)
    (folder / res.RUN_FILE).write_text('{"status": "ok"}\n', encoding="utf-8")  # not a RunRecord
    assert not res.is_complete(folder)
