"""The strict loader reads every cell as PyPSA will, or refuses it.

Property: for random edits of one cell of the toy network (booleans in any case and spacing,
numbers in unusual notations, snapshot weightings), either the loader refuses the folder with a
one-line :class:`~energy_model.exceptions.NetworkValidationError`, or the value the loader parsed
equals what PyPSA holds after its own import (numbers to :data:`SAME_NUMBER_RTOL`: pandas' CSV
float parser is not correctly rounded beyond 17 digits). Plus hand-made cases with the exact
value PyPSA would have used silently.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_model.exceptions import NetworkValidationError
from energy_model.network_files import SAME_NUMBER_RTOL, _validate, load_network

TOY = Path(__file__).parent / "data" / "networks" / "toy"
EXAMPLES = Path(__file__).parent / "data" / "pypsa-examples"

BOOLEAN_SPELLINGS = ["True", "False", "true", "false", "TRUE", "FALSE", " True", "False ", " false ",
                     "1", "0", "1.0", "0.0", " 1", "yes", "no", "Y", "", "tRuE", "T", "F"]


def toy_with(edit) -> Path:
    """A copy of the toy network in a fresh temporary folder, edited by ``edit(folder)``."""
    folder = Path(tempfile.mkdtemp()) / "toy"
    shutil.copytree(TOY, folder)
    edit(folder)
    return folder


def load_or_refuse(folder: Path):
    """``(tables, network)`` when accepted, ``None`` when refused with a one-line error."""
    try:
        n = load_network(folder)
    except NetworkValidationError as err:
        assert "\n" not in str(err)
        return None
    finally:
        logging.getLogger().handlers.clear()
    return _validate(folder, ()), n


def same_number(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= SAME_NUMBER_RTOL * max(abs(a), abs(b))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(BOOLEAN_SPELLINGS), min_size=3, max_size=3))
def test_booleans_mean_what_pypsa_reads(spellings):
    """A boolean column of the generators, one spelling per generator."""
    def edit(folder: Path) -> None:
        lines = (folder / "generators.csv").read_text(encoding="utf-8").splitlines()
        lines[0] += ",p_nom_extendable"
        for i, word in enumerate(spellings, start=1):
            lines[i] += f",{word}"
        (folder / "generators.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    folder = toy_with(edit)
    outcome = load_or_refuse(folder)
    shutil.rmtree(folder.parent)
    canonical = all(w in {"True", "False", ""} for w in spellings)
    if outcome is None:
        assert not canonical, f"canonical spellings {spellings} were refused"
        return
    tables, n = outcome
    mine = tables.statics["generators"]["p_nom_extendable"]
    held = n.generators["p_nom_extendable"]
    assert list(mine) == list(held), (spellings, list(mine), list(held))
    assert [bool(v) for v in mine] == [
        {"true": True, "1": True, "1.0": True}.get(w.strip().lower(), False) for w in spellings
    ]


def number_texts() -> st.SearchStrategy[str]:
    finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    return st.one_of(
        finite.map(repr),
        finite.map(lambda x: f"{x:.25g}"),
        finite.map(lambda x: f"{x:e}"),
        finite.map(lambda x: f"{x:E}"),
        finite.map(lambda x: f" {x!r} "),
        finite.map(lambda x: f"+{abs(x)!r}"),
        st.integers(0, 10**6).map(lambda i: f"{i:07d}"),
        st.integers(0, 10**6).map(lambda i: f"{i}."),
        st.integers(0, 10**6).map(lambda i: f"{i:_}"),
        st.integers(0, 10**6).map(lambda i: f"{i:,}"),
        st.integers(0, 10**6).map(hex),
        st.sampled_from(["inf", "-inf", "Infinity", "nan", "NaN", "NA", "1e400", "1e-400", ".5", "-0",
                         "1e9", "1.5e15", "", "null", "None"]),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number_texts(), number_texts())
def test_numbers_mean_what_pypsa_reads(cost, weighting):
    """A marginal cost (static) and a snapshot weighting in unusual notations."""
    def edit(folder: Path) -> None:
        path = folder / "generators.csv"
        text = path.read_text(encoding="utf-8").replace("coal,local,coal,200.0,300.0,",
                                                         f'coal,local,coal,200.0,"{cost}",')
        path.write_text(text, encoding="utf-8")
        path = folder / "snapshots.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[2] = lines[2].replace(",1.0,1.0,1.0", f',"{weighting}",1.0,1.0')
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    folder = toy_with(edit)
    outcome = load_or_refuse(folder)
    shutil.rmtree(folder.parent)
    if outcome is None:
        return
    tables, n = outcome
    mine = float(tables.statics["generators"].at["coal", "marginal_cost"])
    assert same_number(mine, float(n.generators.at["coal", "marginal_cost"])), (cost, mine)
    assert np.isfinite(mine) and abs(mine) <= 1e9
    weight = float(tables.weightings["objective"].iloc[1])
    assert same_number(weight, float(n.snapshot_weightings["objective"].iloc[1])), weighting
    assert np.isfinite(weight) and weight >= 0


def test_property_inputs_are_not_all_refused():
    """Control for the properties: plain notations are accepted with their value."""
    def edit(folder: Path) -> None:
        path = folder / "generators.csv"
        path.write_text(path.read_text(encoding="utf-8").replace("300.0,", "3e2,"), encoding="utf-8")

    folder = toy_with(edit)
    tables, n = load_or_refuse(folder)
    shutil.rmtree(folder.parent)
    assert n.generators.at["coal", "marginal_cost"] == 300.0
    assert tables.statics["generators"].at["coal", "marginal_cost"] == 300.0


@pytest.mark.parametrize(
    ("column_cells", "pypsa_reads"),
    [
        (["True", " False", "False"], [True, True, True]),  # pandas keeps text: every cell is True
        (["1", "False", "0"], [True, True, True]),
    ],
)
def test_silent_boolean_flip_is_refused(column_cells, pypsa_reads):
    """Cells the old loader accepted and PyPSA reads as True: now refused, naming the cell."""
    import pandas as pd
    import pypsa

    def edit(folder: Path) -> None:
        lines = (folder / "generators.csv").read_text(encoding="utf-8").splitlines()
        lines[0] += ",p_nom_extendable"
        for i, word in enumerate(column_cells, start=1):
            lines[i] += f",{word}"
        (folder / "generators.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    folder = toy_with(edit)
    pypsa.options.api.legacy_string_dtype = False
    assert list(pypsa.Network(folder).generators["p_nom_extendable"]) == pypsa_reads
    with pytest.raises(NetworkValidationError, match="PyPSA reads it as True") as err:
        load_network(folder)
    assert "generators.csv" in str(err.value)
    assert "column 'p_nom_extendable'" in str(err.value)
    shutil.rmtree(folder.parent)
    del pd


@pytest.mark.parametrize("example", ["ac-dc-meshed", "storage-hvdc", "model-energy"])
def test_pypsa_examples_load_unmodified(example):
    """PyPSA's own example networks load (custom columns kept, optional bus references empty)."""
    n = load_network(EXAMPLES / example)
    assert len(n.buses) > 0
    if example == "ac-dc-meshed":
        assert "marginal_cost" in n.carriers.columns  # kept as PyPSA keeps it
        assert n.global_constraints.at["co2_limit", "bus"] == ""
