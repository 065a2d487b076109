"""Everything the figures of one scenario read from its result folder, loaded once.

:class:`ScenarioResults` holds the tables of the folder (read by :mod:`energy_model.report.loading`)
and reads the solved network from ``network.nc`` the first time it is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_model.records import RunRecord, RunRecordError, read_run_record
from energy_model.report.loading import (
    load_metrics,
    load_scenario_yaml,
    load_temperature,
    load_verdicts,
    scenario_name,
)
from energy_model.scenario import AccountingConfig

if TYPE_CHECKING:
    import pypsa

#: Accounting region used when ``scenario.yaml`` does not give one (the schema's default).
DEFAULT_REGION: str = AccountingConfig.model_fields["region"].default


logger = logging.getLogger(__name__)

@dataclass
class ScenarioResults:
    """What a result folder holds, loaded once for all figures of a scenario."""

    name: str
    result_dir: Path
    metrics: pd.DataFrame
    run: RunRecord | None = None
    scenario: dict[str, Any] = field(default_factory=dict)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    network_path: Path | None = None
    temperature: pd.Series | None = None
    #: The solved network once read (or handed over by the caller that just solved it).
    loaded_network: pypsa.Network | None = field(default=None, repr=False)

    @property
    def region(self) -> str:
        """Accounting region (``accounting.region`` of the resolved scenario)."""
        accounting = self.scenario.get("accounting") or {}
        return str(accounting.get("region") or DEFAULT_REGION)

    @property
    def accounting(self) -> dict[str, Any]:
        """The ``accounting`` section of the resolved scenario (empty when absent)."""
        return dict(self.scenario.get("accounting") or {})

    @property
    def network(self) -> pypsa.Network | None:
        """The solved network from ``network.nc`` (loaded lazily), or ``None`` if absent."""
        if self.loaded_network is None and self.network_path is not None:
            self.loaded_network = load_network_file(self.network_path)
        return self.loaded_network


def load_network_file(path: Path) -> pypsa.Network:
    """Load a saved solved network (netCDF or CSV folder) with the project's PyPSA options."""
    import pypsa  # noqa: PLC0415 - heavy import only when a network is needed

    pypsa.options.api.legacy_string_dtype = False
    return pypsa.Network(path)


def load_scenario_results(result_dir: Path) -> ScenarioResults:
    """Load everything the figures of one scenario need from its result folder.

    The solved network is read only when first used (:attr:`ScenarioResults.network`).
    """
    result_dir = Path(result_dir)
    try:
        run: RunRecord | None = read_run_record(result_dir)
    except RunRecordError as err:
        logger.info("%s", err)
        run = None
    scenario = load_scenario_yaml(result_dir)
    network_path = result_dir / "network.nc"
    return ScenarioResults(
        name=scenario_name(result_dir, scenario),
        result_dir=result_dir,
        metrics=load_metrics(result_dir / "metrics.csv"),
        run=run,
        scenario=scenario,
        verdicts=load_verdicts(result_dir, run),
        network_path=network_path if network_path.exists() else None,
        temperature=load_temperature(result_dir),
    )


def scenario_targets(results: ScenarioResults) -> pd.DataFrame:
    """Targets of a scenario: ``target``, ``indicator``, ``kind``, ``target_share`` [-] (verdicts
    first)."""
    columns = ["target", "indicator", "kind", "target_share"]
    verdicts = results.verdicts
    if not verdicts.empty and {"target", "target_share"} <= set(verdicts.columns):
        table = verdicts.copy()
        if "indicator" not in table:
            table["indicator"] = ""
        if "kind" not in table:
            table["kind"] = "goal"
        return table[columns]
    targets = results.scenario.get("targets") or []
    return pd.DataFrame(
        [
            {
                "target": t.get("name", ""),
                "indicator": t.get("indicator", ""),
                "kind": t.get("kind", "goal"),
                "target_share": float(t.get("min_share", np.nan)),
            }
            for t in targets
        ],
        columns=columns,
    )


__all__ = [
    "DEFAULT_REGION",
    "ScenarioResults",
    "load_network_file",
    "load_scenario_results",
    "scenario_targets",
]
