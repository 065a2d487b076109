"""Final-energy balance and renewable share of final energy consumption (metric and constraint).

Reads a solved (or a built but unsolved) ``pypsa.Network``, the scenario's ``accounting`` options,
``data/final_energy.csv`` (non-electric final energy the network does not model) and
``data/coal_equivalent_factor.csv``; writes nothing. The accounting rules are documented in
``docs/accounting.md``; the symbols below follow that page.

One definition serves both uses. :func:`compute_annual_balance` collects the annual energy terms
either from a solved network (numbers) or from the linopy variables of ``n.model`` (linear
expressions); :func:`compute_mix_pool` and :func:`compute_share_terms` turn a balance into the
pool of an annual mix rule and the numerator and denominator of the share with plain arithmetic
that works on both. The reported share and the enforced constraint therefore come from the same
code path.

Attribution rules for renewable electricity (docs/accounting.md §3): ``annual_mix`` (headline:
the year's local generation mix), ``green_contract`` (green deliveries deducted first), both
enforceable; ``hourly_mix`` and the bounds ``export_first <= hourly_mix <= local_first``,
reported.
"""

from energy_model.accounting.attribution import (
    HOURLY_COLUMNS,
    Attribution,
    compute_attribution,
    compute_hourly_flows,
)
from energy_model.accounting.balance import (
    AnnualBalance,
    FlowValues,
    MixPool,
    ShareTerms,
    Topology,
    compute_annual_balance,
    compute_green_exports,
    compute_local_buses,
    compute_mix_local_renewable,
    compute_mix_pool,
    compute_model_share_terms,
    compute_share_terms,
    compute_topology,
    find_target,
)
from energy_model.accounting.inputs import (
    CALORIFIC_KGCE_PER_KWH,
    COAL_EQUIVALENT_TABLE,
    CONSTRAINT_PREFIX,
    DATA_CENTRE_CARRIER,
    FINAL_ENERGY_COLUMNS,
    VERDICT_TOLERANCE_PP,
    FinalEnergyTable,
    compute_electricity_factors,
    load_coal_equivalent_factor,
    load_final_energy_table,
    mix_constraint_name_of,
    scaled_final_energy_table,
    share_constraint_name,
)
from energy_model.accounting.shares import (
    VERDICT_COLUMNS,
    EnforcedTargetState,
    compute_enforcement_changes,
    compute_share_metrics,
    compute_verdicts,
    evaluate_enforced_target,
    format_unreachable_message,
    headline_share,
    judge,
    price_per_share_point,
    robust_verdict,
)
from energy_model.tables import (
    ANNUAL_ATTRIBUTIONS,
    ATTRIBUTIONS,
    DEFENSIBLE_ATTRIBUTIONS,
    HOURLY_ATTRIBUTIONS,
    METRIC_COLUMNS,
    VALUATIONS,
)

__all__ = [
    "price_per_share_point",
    "ATTRIBUTIONS",
    "CALORIFIC_KGCE_PER_KWH",
    "COAL_EQUIVALENT_TABLE",
    "CONSTRAINT_PREFIX",
    "DATA_CENTRE_CARRIER",
    "FINAL_ENERGY_COLUMNS",
    "HOURLY_ATTRIBUTIONS",
    "HOURLY_COLUMNS",
    "ANNUAL_ATTRIBUTIONS",
    "DEFENSIBLE_ATTRIBUTIONS",
    "METRIC_COLUMNS",
    "VALUATIONS",
    "VERDICT_COLUMNS",
    "VERDICT_TOLERANCE_PP",
    "AnnualBalance",
    "Attribution",
    "FinalEnergyTable",
    "FlowValues",
    "ShareTerms",
    "Topology",
    "compute_annual_balance",
    "compute_attribution",
    "compute_electricity_factors",
    "compute_enforcement_changes",
    "compute_hourly_flows",
    "compute_local_buses",
    "compute_model_share_terms",
    "compute_green_exports",
    "compute_mix_local_renewable",
    "compute_mix_pool",
    "MixPool",
    "judge",
    "robust_verdict",
    "compute_share_metrics",
    "compute_share_terms",
    "compute_topology",
    "compute_verdicts",
    "EnforcedTargetState",
    "evaluate_enforced_target",
    "find_target",
    "format_unreachable_message",
    "headline_share",
    "load_coal_equivalent_factor",
    "load_final_energy_table",
    "scaled_final_energy_table",
    "mix_constraint_name_of",
    "share_constraint_name",
]
