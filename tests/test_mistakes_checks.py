"""The bus-balance check on small buses: its 1 MW floor, in both directions.

The allowed residual is ``BALANCE_RTOL x max(gross flow, FLOOR_MW)`` = 1e-6 MW on a bus that
carries less than 1 MW. Flows are set by hand on a one-bus network (no solve).
"""

from __future__ import annotations

import pandas as pd
import pypsa
import pytest

from energy_model import checks
from energy_model.exceptions import PhysicsCheckError
from energy_model.network import configure_pypsa

configure_pypsa()


def small_bus(generation_mw: float, load_mw: float) -> pypsa.Network:
    """One bus, one generator and one load, one snapshot, dispatch written by hand."""
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(1, name="snapshot"))
    n.add("Carrier", ["AC"])
    n.add("Bus", "tiny", carrier="AC")
    n.add("Generator", "g", bus="tiny", carrier="AC", p_nom=1)
    n.add("Load", "d", bus="tiny", p_set=load_mw)
    n.components["Generator"].dynamic["p"] = pd.DataFrame({"g": [generation_mw]}, index=n.snapshots)
    n.components["Load"].dynamic["p"] = pd.DataFrame({"d": [load_mw]}, index=n.snapshots)
    return n


def test_floor_and_tolerance_values() -> None:
    assert checks.FLOOR_MW == 1.0
    assert checks.BALANCE_RTOL == 1e-6


def test_small_bus_residual_within_the_floor_passes() -> None:
    """Gross flow 0.02 MW; residual 5e-7 MW <= 1e-6 x 1 MW (without the floor: 2e-8 allowed)."""
    n = small_bus(0.01 + 5e-7, 0.01)
    net, gross = checks.compute_bus_balance(n)
    assert float(net.iloc[0, 0]) == pytest.approx(5e-7, abs=1e-12)
    assert float(gross.iloc[0, 0]) == pytest.approx(0.02 + 5e-7)
    checks.check_balance(n)


@pytest.mark.parametrize("residual_mw", [2e-6, 1e-4, 1e-3])
def test_small_bus_residual_above_the_floor_fails(residual_mw: float) -> None:
    """Gross flow 0.5 MW: a residual of 2e-6 MW or more is over 1e-6 x max(0.5, 1) MW."""
    n = small_bus(0.25 + residual_mw, 0.25)
    with pytest.raises(PhysicsCheckError, match="bus 'tiny'"):
        checks.check_balance(n)


def test_large_bus_tolerance_is_relative() -> None:
    """Gross flow 2000 MW: 1e-3 MW (5e-7 relative) passes, 1e-2 MW (5e-6 relative) fails."""
    checks.check_balance(small_bus(1000 + 1e-3, 1000))
    with pytest.raises(PhysicsCheckError, match="energy balance"):
        checks.check_balance(small_bus(1000 + 1e-2, 1000))
