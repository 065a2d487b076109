"""Build, solve and save the tiny network used by the report and site tests.

Run from the project root with ``python tests/data/solved_toy/make_solved_toy.py``; it rewrites
``network.nc``, ``metrics.csv``, ``run.json``, ``scenario.yaml`` and ``verdict.csv`` in this
folder, in the layout of a ``results/<scenario>/`` bundle.

The toy is synthetic (no real data): two local buses (electricity ``zjk_ac`` and heat
``zjk_heat``, location ``zhangjiakou``) and one external bus (``beijing``, location ``beijing``),
96 hourly snapshots in January and 96 in July 2022. Wind, solar and coal generators, a battery
storage unit, an export link to Beijing, a heat pump link (COP from a synthetic temperature) and
a hot-water store. All numbers are invented round values chosen to make every figure non-empty
(curtailment, exports, storage cycling, heat-pump use); they describe no real system.

Metrics are computed with the project's ``energy_model.analysis.metrics.compute_core_metrics`` in the
tidy layout of ``metrics.csv`` (``metric, variant, carrier, bus, value, unit``). The renewable share in this
toy is a simple electricity-only share of local demand (renewable generation attributed to
local use and exports by three rules), which is enough to test the figures; the project's real
definition lives in ``energy_model/accounting.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pypsa

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REGION = "zhangjiakou"


def build_toy() -> pypsa.Network:
    """Return the unsolved toy network (see module docstring)."""
    pypsa.options.api.legacy_string_dtype = False
    n = pypsa.Network()
    n.name = "solved_toy"
    winter = pd.date_range("2022-01-10", periods=96, freq="h")
    summer = pd.date_range("2022-07-11", periods=96, freq="h")
    sns = winter.append(summer)
    n.set_snapshots(sns)

    hours = np.asarray(sns.hour)
    is_winter = np.asarray(sns.month) == 1
    rng = np.random.default_rng(7)

    # Synthetic outdoor temperature [degC]: -12 degC mean in January, +24 degC in July.
    temperature = np.where(is_winter, -12.0, 24.0) + 5.0 * np.sin((hours - 9) / 24 * 2 * np.pi)
    temperature = temperature + rng.normal(0, 1.5, len(sns))
    # Heat-pump COP [-], Staffell-style ASHP regression with a 40 degC sink, clipped at 1.
    delta = 40.0 - temperature
    cop = np.clip(6.08 - 0.09 * delta + 0.0005 * delta**2, 1.0, None)
    # Heat demand [MW]: heating-degree-hours above 15 degC base.
    heat_demand = np.clip(15.0 - temperature, 0.0, None) * 4.0

    carriers = pd.DataFrame(
        {
            "nice_name": [
                "Electricity",
                "Heat",
                "Onshore wind",
                "Solar PV",
                "Coal power",
                "Battery",
                "Heat pump",
                "Export HVDC",
                "Hot-water tank",
            ],
            "color": [
                "#6c9ac3",
                "#b22222",
                "#235ebc",
                "#f9d002",
                "#545454",
                "#ace37f",
                "#2fb537",
                "#8a1caf",
                "#e69487",
            ],
        },
        index=["AC", "heat", "onwind", "solar", "coal", "battery", "heat_pump", "hvdc", "water_tank"],
    )
    for name, row in carriers.iterrows():
        n.add("Carrier", name, nice_name=row.nice_name, color=row.color)

    n.add("Bus", "zjk_ac", carrier="AC", location=REGION, unit="MW")
    n.add("Bus", "zjk_heat", carrier="heat", location=REGION, unit="MW")
    n.add("Bus", "beijing", carrier="AC", location="beijing", unit="MW")

    wind_cf = np.clip(0.45 + 0.3 * np.sin(np.arange(len(sns)) / 11.0) + rng.normal(0, 0.1, len(sns)), 0, 1)
    solar_cf = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None) * np.where(is_winter, 0.55, 0.85)
    n.add(
        "Generator",
        "zjk_onwind",
        bus="zjk_ac",
        carrier="onwind",
        p_nom_extendable=True,
        capital_cost=4000.0,
        marginal_cost=0.0,
        p_max_pu=pd.Series(wind_cf, sns),
    )
    n.add(
        "Generator",
        "zjk_solar",
        bus="zjk_ac",
        carrier="solar",
        p_nom_extendable=True,
        capital_cost=2500.0,
        marginal_cost=0.0,
        p_max_pu=pd.Series(solar_cf, sns),
    )
    n.add("Generator", "zjk_coal", bus="zjk_ac", carrier="coal", p_nom=100.0, marginal_cost=200.0)
    n.add("Generator", "beijing_coal", bus="beijing", carrier="coal", p_nom=400.0, marginal_cost=420.0)

    elec_load = 80.0 + 25.0 * np.sin((hours - 14) / 24 * 2 * np.pi)
    n.add("Load", "zjk_elec", bus="zjk_ac", carrier="AC", p_set=pd.Series(elec_load, sns))
    n.add("Load", "zjk_heat", bus="zjk_heat", carrier="heat", p_set=pd.Series(heat_demand, sns))
    n.add("Load", "beijing_elec", bus="beijing", carrier="AC", p_set=pd.Series(250.0, sns))

    n.add(
        "StorageUnit",
        "zjk_battery",
        bus="zjk_ac",
        carrier="battery",
        p_nom_extendable=True,
        capital_cost=2500.0,
        max_hours=4.0,
        efficiency_store=0.95,
        efficiency_dispatch=0.95,
        cyclic_state_of_charge=True,
    )
    n.add(
        "Link",
        "zjk_beijing_hvdc",
        bus0="zjk_ac",
        bus1="beijing",
        carrier="hvdc",
        p_nom=120.0,
        efficiency=0.97,
        p_min_pu=0.0,
    )
    n.add(
        "Link",
        "zjk_heat_pump",
        bus0="zjk_ac",
        bus1="zjk_heat",
        carrier="heat_pump",
        p_nom_extendable=True,
        capital_cost=600.0,
        efficiency=pd.Series(cop, sns),
    )
    n.add(
        "Store",
        "zjk_water_tank",
        bus="zjk_heat",
        carrier="water_tank",
        e_nom_extendable=True,
        capital_cost=60.0,
        standing_loss=0.005,
        e_cyclic=True,
    )
    n._toy_temperature = pd.Series(temperature, sns, name="temperature_c")
    return n


def compute_toy_metrics(n: pypsa.Network, objective: float) -> pd.DataFrame:
    """Tidy metrics of the solved toy: the project's core metrics plus a toy renewable share."""
    from energy_model.analysis.metrics import compute_core_metrics
    from energy_model.network import border_flows
    from energy_model.optimization.solve import SolveResult
    from energy_model.scenario import Scenario
    from energy_model.tables import METRIC_COLUMNS, row

    sc = Scenario(name="solved_toy", network="tests/data/solved_toy", year=2022)
    result = SolveResult(status="ok", condition="optimal", objective=objective)
    core = compute_core_metrics(n, sc, result)

    # Toy renewable shares, in the layout of energy_model.accounting: renewable electricity used
    # locally / local electricity demand (``renewable_share_electricity``, variant = attribution
    # rule: annual mix, local first, export first), and a stand-in "final energy" share
    # (``renewable_share``, variant ``<valuation>|<rule>``) = electricity share x 0.7
    # (coal-equivalent) or x 0.4 (calorific). Invented factors: the toy has no final-energy data.
    weights = n.snapshot_weightings.generators
    exported = float(border_flows(n, REGION, components=("Link",)).clip(lower=0).mul(weights, axis=0).sum().sum())
    gen = n.generators_t.p.mul(weights, axis=0).sum()
    local_gens = n.generators.index[n.generators.bus == "zjk_ac"]
    re_gen = float(gen[local_gens[n.generators.carrier[local_gens].isin(["onwind", "solar"])]].sum())
    local_gen = float(gen[local_gens].sum())
    demand = float(
        n.loads_t.p["zjk_elec"].mul(weights).sum() + n.links_t.p0["zjk_heat_pump"].mul(weights).sum()
    )
    rules = {
        "annual_mix": min(re_gen * (1 - exported / local_gen), demand),
        "local_first": min(re_gen, demand),
        "export_first": min(max(re_gen - exported, 0.0), demand),
    }
    shares = [
        row("renewable_share_electricity", 100 * re_local / demand, "%", variant=rule)
        for rule, re_local in rules.items()
    ]
    shares += [
        row("renewable_share", 100 * factor * re_local / demand, "%", variant=f"{valuation}|{rule}")
        for valuation, factor in (("coal_equivalent", 0.7), ("calorific", 0.4))
        for rule, re_local in rules.items()
    ]
    return pd.concat([core, pd.DataFrame(shares, columns=METRIC_COLUMNS)], ignore_index=True)


def write_toy(folder: Path = HERE) -> None:
    """Solve the toy and write the bundle files into ``folder``."""
    n = build_toy()
    temperature = n._toy_temperature
    status, condition = n.optimize(solver_name="highs", include_objective_constant=False)
    if condition != "optimal":
        msg = f"toy did not solve: {status} {condition}"
        raise RuntimeError(msg)
    metrics = compute_toy_metrics(n, float(n.objective))
    n.export_to_netcdf(folder / "network.nc")
    metrics.to_csv(folder / "metrics.csv", index=False)
    temperature.rename_axis("snapshot").to_csv(folder / "temperature.csv")

    targets = [("final_energy_2022", "final_energy", 0.30), ("electricity_2035", "electricity", 0.95)]
    verdicts = []
    for name, indicator, target in targets:
        metric, variant = (
            ("renewable_share", "coal_equivalent|annual_mix")
            if indicator == "final_energy"
            else ("renewable_share_electricity", "annual_mix")
        )
        hit = metrics[(metrics.metric == metric) & (metrics.variant == variant)]
        achieved = float(hit.value.iloc[0]) / 100
        verdicts.append(
            {
                "scenario": "solved_toy",
                "target": name,
                "indicator": indicator,
                "variant": variant,
                "enforced": False,
                "target_share": target,
                "achieved_share": achieved,
                "margin_pp": (achieved - target) * 100,
                "status": "PASS" if achieved >= target else "FAIL",
            }
        )
    pd.DataFrame(verdicts).to_csv(folder / "verdict.csv", index=False, float_format="%.10g")
    from energy_model.records import RunRecord, SolverRecord, Timings, write_run_record

    record = RunRecord(
        scenario="solved_toy",
        status="ok",
        condition=condition,
        objective=float(n.objective),
        duals={},
        lp_size={},
        solver=SolverRecord(name="highs", options={}),
        screening={},
        snapshots=len(n.snapshots),
        versions={"pypsa": pypsa.__version__},
        git_commit="unknown",
        input_checksums={},
        verdicts=verdicts,
        timings_s=Timings(),
    )
    write_run_record(folder / "run.json", record)
    scenario = "\n".join(
        [
            "name: solved_toy",
            "description: Synthetic two-region toy used by the report tests (not real data).",
            "network: tests/data/solved_toy",
            "year: 2022",
            "targets:",
            *[
                f"- name: {name}\n  indicator: {indicator}\n  min_share: {share}"
                for name, indicator, share in targets
            ],
            "accounting:",
            f"  region: {REGION}",
            "",
        ]
    )
    (folder / "scenario.yaml").write_text(scenario, encoding="utf-8")
    logger.info("wrote the solved toy to %s (objective %.1f)", folder, n.objective)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    write_toy()
