r"""Re-solve one LP in place for many samples of the same network (uncertainty sweeps).

A sweep solves the same network hundreds of times with a few input numbers changed (a load
scaled, an availability series rescaled, a fixed capacity, a contract volume). Building PyPSA's
linopy model costs more than HiGHS needs to solve it at sweep resolution, so a worker builds the
model once (:class:`InPlaceResolver`, from the first sample's network) and HiGHS object
(linopy's direct-API ``linopy.solvers.Solver``) and, per sample, writes the sample's numbers
straight into the live ``highspy.Highs`` object (``changeColsBounds``, ``changeRowsBounds``,
``changeCoeff`` at the columns and rows linopy's build put them in; linopy's model keeps the
template's numbers) and re-solves from the template's optimal basis, so each re-solve starts
warm. Only the primal solution and the objective are read back (no duals).

Which inputs can change, and where they enter the LP (PyPSA 1.4 formulation; every mapping is
checked against the built model when the resolver is created, :meth:`InPlaceResolver.validate`,
and a mapping that does not reproduce the model's own numbers, or whose positions in the HiGHS
object do not hold them, is switched off):

=====================================  ===================================================
changed input                          LP numbers recomputed (absolute, from the sample)
=====================================  ===================================================
``Load.p_set``                         right-hand side of ``Bus-nodal_balance``:
                                       :math:`b_{i,t} = -\sum_{l \in i} s_l\, p^{set}_{l,t}`
``<c>.<nom>``, ``<min_pu>``,           bounds of ``<c>-<x>`` of fixed-capacity assets
``<max_pu>`` (Generator p, Link p,     (PyPSA's limit rows moved to bounds by
Store e)                               ``constraints.move_fixed_limits_to_bounds``):
                                       :math:`\underline{u}_{t} N \le x_t \le \bar u_{t} N`
``<min_pu>``, ``<max_pu>`` of          coefficient of the capacity in ``<c>-ext-<x>-lower/upper``:
extendable assets                      :math:`x_t - \bar u_t X \le 0` (coefficient :math:`-\bar u_t`)
export contract ``min_energy_twh``     right-hand side :math:`10^6 E` of its row
accounting keys, data tables           nothing (used after the solve only)
=====================================  ===================================================

==================  =====================================================  =========
symbol              meaning                                                unit
==================  =====================================================  =========
:math:`s_l`         load sign (PyPSA ``sign``, -1 for consumption)          –
:math:`p^{set}`     load                                                   MW
:math:`N`           fixed capacity (``p_nom``, ``e_nom``)                   MW, MWh
:math:`X`           capacity variable of an extendable asset                MW, MWh
:math:`\underline u, \bar u`  per-unit limits (``p_min_pu``/``p_max_pu``,   –
                    ``e_min_pu``/``e_max_pu``)
:math:`E`           contracted delivery                                    TWh/yr
==================  =====================================================  =========

Any other difference from the template (another attribute, a changed component set, snapshots,
a capacity of an extendable asset, a different scenario apart from contract volumes and
accounting, an enforced target) raises :class:`NotResolvableError`; the caller then solves the
sample the ordinary way (:func:`energy_model.optimization.solve.solve_scenario`). The result is
the LP optimum of the sample's own model, exactly as a fresh build would give (checked in
``tests/test_sweeps.py`` against :func:`~energy_model.optimization.solve.solve`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from energy_model.checks import check_solution
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.compat import (
    assign_primal_result,
    attach_model,
    label_positions,
    model_window,
    native_solver,
    result_duals,
)
from energy_model.optimization.constraints import constraint_names, export_contract_name, extra_functionality
from energy_model.optimization.model import (
    SOLVER_NAME,
    build_model,
    lp_size,
    main_solver_options,
    objective_value,
    write_solution,
)
from energy_model.optimization.solve import SolveResult
from energy_model.tables import MWH_PER_TWH

if TYPE_CHECKING:
    from pathlib import Path

    import linopy
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

#: Component -> (operational variable, capacity attribute, lower per-unit, upper per-unit).
OPERATIONAL: dict[str, tuple[str, str, str, str]] = {
    "Generator": ("p", "p_nom", "p_min_pu", "p_max_pu"),
    "Link": ("p", "p_nom", "p_min_pu", "p_max_pu"),
    "Store": ("e", "e_nom", "e_min_pu", "e_max_pu"),
}
#: Components derived from the others (the topology), not inputs: not compared.
DERIVED_COMPONENTS = ("SubNetwork",)
#: Name of the group of LP numbers that loads change.
NODAL_GROUP = "Load"
#: Relative tolerance of the validation of a mapping against the built model [-].
VALIDATION_RTOL = 1e-9


class NotResolvableError(Exception):
    """The sample differs from the template in something the in-place update does not map."""


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return bool(a.shape == b.shape and a.equals(b))


def _differing_columns(ref: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """Columns of ``ref`` whose ``Series.equals`` with the column of ``new`` is False (same rows,
    same set of columns), in ``ref``'s order: float, integer and boolean columns of one dtype are
    compared all at once (as ``equals`` does: NaN equals NaN), the others one by one."""
    if ref.columns.equals(new.columns) and ref.equals(new):
        return []
    dtypes_new = new.dtypes.to_dict()
    by_dtype: dict[np.dtype, list[Any]] = {}
    differing: list[Any] = []
    for column, dtype in ref.dtypes.items():
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub" and dtypes_new[column] == dtype:
            by_dtype.setdefault(dtype, []).append(column)
        elif not ref[column].equals(new[column]):
            differing.append(column)
    for dtype, columns in by_dtype.items():
        a, b = ref[columns].to_numpy(dtype=dtype), new[columns].to_numpy(dtype=dtype)
        same = a == b
        if dtype.kind == "f":
            same |= np.isnan(a) & np.isnan(b)
        differing += [column for column, equal in zip(columns, same.all(axis=0), strict=True) if not equal]
    order = {column: i for i, column in enumerate(ref.columns)}
    return sorted(differing, key=order.__getitem__)


def changed_inputs(ref: pypsa.Network, n: pypsa.Network) -> dict[tuple[str, str], pd.Index]:
    """Inputs of ``n`` that differ from ``ref``: ``(component, attribute) -> names``.

    Compares every static column and every time series of every component (inputs; neither
    network may be solved) except :data:`DERIVED_COMPONENTS`. Raises :class:`NotResolvableError`
    when the structure differs: snapshots, weightings or the set of components.
    """
    if not ref.snapshots.equals(n.snapshots) or not _frames_equal(
        ref.snapshot_weightings, n.snapshot_weightings
    ):
        raise NotResolvableError("snapshots or snapshot weightings differ")
    changed: dict[tuple[str, str], pd.Index] = {}
    for component in ref.components:
        name = component.name
        if name in DERIVED_COMPONENTS:
            continue
        static_ref, static_n = component.static, n.components[name].static
        if not static_ref.index.equals(static_n.index) or set(static_ref.columns) != set(static_n.columns):
            raise NotResolvableError(f"the {name} table differs in its rows or columns")
        for column in _differing_columns(static_ref, static_n):
            a, b = static_ref[column], static_n[column]
            differs = ~((a == b) | (a.isna() & b.isna()))
            changed[(name, column)] = static_ref.index[differs.to_numpy()]
        dynamic_n = n.components[name].dynamic
        for attribute, frame_ref in component.dynamic.items():
            frame_n = dynamic_n[attribute]
            if frame_ref.empty and frame_n.empty:
                continue
            if set(frame_ref.columns) != set(frame_n.columns):
                names = frame_ref.columns.symmetric_difference(frame_n.columns)
            else:
                b = frame_n if frame_n.columns.equals(frame_ref.columns) else frame_n[frame_ref.columns]
                if frame_ref.equals(b):
                    continue
                differs = ~((frame_ref == b) | (frame_ref.isna() & b.isna())).all()
                names = frame_ref.columns[differs.to_numpy()]
            if len(names):
                key = (name, attribute)
                changed[key] = changed.get(key, pd.Index([])).union(names)
    return changed


def _array_like(values: np.ndarray, snapshots: pd.Index, names: pd.Index, like: xr.DataArray) -> xr.DataArray:
    """Numbers of snapshots x names as a DataArray laid out like ``like`` (NaN where absent)."""
    rows = snapshots.get_indexer(like.indexes["snapshot"])
    columns = names.get_indexer(like.indexes["name"])
    data = np.full((len(rows), len(columns)), np.nan)
    found_rows, found_columns = rows >= 0, columns >= 0
    data[np.ix_(found_rows, found_columns)] = values[np.ix_(rows[found_rows], columns[found_columns])]
    coords = {d: like.indexes[d] for d in ("snapshot", "name")}
    return xr.DataArray(data, coords=coords, dims=("snapshot", "name")).transpose(*like.dims)


def _as_array(frame: pd.DataFrame, like: xr.DataArray) -> xr.DataArray:
    """A snapshots x names frame as a DataArray laid out like ``like`` (NaN where absent)."""
    return _array_like(frame.to_numpy(dtype=float), frame.index, frame.columns, like)


def _dense(n: pypsa.Network, component: str, attribute: str, names: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Columns ``names`` of ``n.get_switchable_as_dense(component, attribute)`` and its snapshots."""
    frame = n.get_switchable_as_dense(component, attribute)
    positions = frame.columns.get_indexer(names)
    if (positions < 0).any():
        raise KeyError(f"{component}.{attribute}: no column for {list(names[positions < 0])[:3]}")
    return frame.to_numpy(dtype=float)[:, positions], frame.index


def nodal_balance_rhs(n: pypsa.Network, like: xr.DataArray) -> xr.DataArray:
    r""":math:`b_{i,t} = -\sum_{l \in i} s_l\, p^{set}_{l,t}` over the active loads (0 without)."""
    loads = n.loads
    active = loads["active"].astype(bool) if "active" in loads else pd.Series(True, index=loads.index)
    names = loads.index[active.to_numpy()]
    p_set = n.get_switchable_as_dense("Load", "p_set")[names]
    values = -p_set.mul(loads.loc[names, "sign"].astype(float), axis=1)
    by_bus = values.T.groupby(loads.loc[names, "bus"]).sum().T
    return _as_array(by_bus, like).fillna(0.0)


def _fixed_and_extendable(n: pypsa.Network, component: str) -> tuple[pd.Index, pd.Index]:
    _, nom, _, _ = OPERATIONAL[component]
    static = n.components[component].static
    extendable = static[f"{nom}_extendable"].to_numpy(dtype=bool)
    no = np.zeros(len(static), dtype=bool)
    committable = static["committable"].to_numpy(dtype=bool) if "committable" in static else no
    return static.index[~extendable & ~committable], static.index[extendable & ~committable]


def fixed_bounds(n: pypsa.Network, component: str, like: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    r"""Bounds :math:`\underline u_t N, \bar u_t N` of the fixed-capacity assets (NaN elsewhere).

    As PyPSA: an infinite capacity with a zero per-unit limit gives 0, not NaN.
    """
    _, nom, lower_pu, upper_pu = OPERATIONAL[component]
    fixed, _ = _fixed_and_extendable(n, component)
    fixed = fixed.intersection(like.indexes["name"])
    static = n.components[component].static
    capacity = static[nom].to_numpy(dtype=float)[static.index.get_indexer(fixed)][None, :]
    bounds = []
    for attribute in (lower_pu, upper_pu):
        per_unit, snapshots = _dense(n, component, attribute, fixed)
        value = np.where(np.isinf(capacity) & (per_unit == 0), 0.0, per_unit * capacity)
        bounds.append(_array_like(value, snapshots, fixed, like))
    return bounds[0], bounds[1]


def extendable_coefficients(n: pypsa.Network, component: str, side: str, like: xr.DataArray) -> xr.DataArray:
    r"""Coefficient :math:`-u_t` of the capacity in ``<c>-ext-<x>-<side>`` (NaN elsewhere)."""
    _, _, lower_pu, upper_pu = OPERATIONAL[component]
    _, extendable = _fixed_and_extendable(n, component)
    extendable = extendable.intersection(like.indexes["name"])
    per_unit, snapshots = _dense(n, component, lower_pu if side == "lower" else upper_pu, extendable)
    return _array_like(-per_unit, snapshots, extendable, like)


def _close(model_values: xr.DataArray, computed: xr.DataArray, where: xr.DataArray) -> bool:
    mask = (where & computed.notnull()).to_numpy()
    a = np.asarray(model_values.to_numpy(), dtype=float)[mask]
    b = np.asarray(computed.to_numpy(), dtype=float)[mask]
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    return bool(np.all(both_inf | np.isclose(a, b, rtol=VALIDATION_RTOL, atol=1e-9)))


class InPlaceResolver:
    """The linopy model of a template network, re-solved in place for samples of it.

    Parameters
    ----------
    template
        A network with the sample structure (a sample applied); copied, never changed.
    sc
        Its scenario; samples may differ from it only in export-contract volumes and
        accounting keys.
    project_root
        Folder of the scenario's relative data paths.
    """

    def __init__(self, template: pypsa.Network, sc: Scenario, project_root: Path) -> None:
        from linopy.solvers import Solver  # noqa: PLC0415

        if any(t.enforce for t in sc.targets):
            raise NotResolvableError("an enforced target needs the mix-ratio iteration")
        start = time.perf_counter()
        self.ref = template.copy()
        self.sc = sc
        self.project_root = project_root
        work = template.copy()
        self.model: linopy.Model = build_model(work, extra_functionality(sc, project_root))
        self.window = model_window(work)
        attach_model(work, None)
        self.size = lp_size(self.model)
        self.options = main_solver_options(sc.solver.options)
        # the sample numbers go straight to the HiGHS object (below); linopy's model keeps the
        # template's numbers, so linopy need not track updates
        self.solver = Solver.from_name(SOLVER_NAME, model=self.model, io_api="direct", options=self.options)
        self.columns, self.rows = label_positions(self.model)
        #: model-derived arrays of the mapping (masks, label positions), made on first use
        self._layout: dict[str, Any] = {}
        self.supported = self.validate()
        self.dirty: set[str] = set()
        self._highs_object: Any = None
        self._highs_clock = 0.0
        self.solves = 0
        result = self.solver.solve()
        assign_primal_result(self.model, result, self.solver)
        if str(self.model.termination_condition) != "optimal":
            msg = f"the template LP ended '{self.model.termination_condition}'; no start basis"
            raise NotResolvableError(msg)
        self._highs_clock = self._runtime(result)
        self._highs_object = native_solver(self.solver)
        self.basis = native_solver(self.solver).getBasis()
        self.build_seconds = time.perf_counter() - start
        logger.info("in-place resolver built in %.2f s; mappings checked: %s",
                    self.build_seconds, ", ".join(sorted(self.supported)) or "none")

    @staticmethod
    def _runtime(result: Any) -> float:
        """HiGHS's run clock after a run [s] (``Highs.getRunTime()``, cumulative per object)."""
        report = getattr(result, "report", None)
        runtime = getattr(report, "runtime", None)
        return float(runtime) if runtime is not None else float("nan")

    # --- the mapping --------------------------------------------------------------------------

    def _groups(self) -> list[str]:
        groups = [NODAL_GROUP] if "Bus-nodal_balance" in self.model.constraints else []
        for component, (attr, _, _, _) in OPERATIONAL.items():
            if f"{component}-{attr}" in self.model.variables:
                groups.append(component)
            if any(f"{component}-ext-{attr}-{side}" in self.model.constraints for side in ("lower", "upper")):
                groups.append(f"{component}-ext")
        return groups

    def _compute(self, group: str, n: pypsa.Network) -> dict[str, Any]:
        """The group's LP numbers computed from ``n``: target -> (array, model array, mask)."""
        m = self.model
        if group == NODAL_GROUP:
            con = m.constraints["Bus-nodal_balance"]
            return {"rhs": (nodal_balance_rhs(n, con.rhs), con.rhs, con.labels >= 0)}
        component, _, ext = group.partition("-")
        attr, _, _, _ = OPERATIONAL[component]
        if not ext:
            var = m.variables[f"{component}-{attr}"]
            if f"{component}-maintenance" in m.variables:
                raise NotResolvableError(f"{component} has maintenance variables")
            lower, upper = fixed_bounds(n, component, var.labels)
            mask = var.labels >= 0
            return {"lower": (lower, var.lower, mask), "upper": (upper, var.upper, mask)}
        out = {}
        _, nom, _, _ = OPERATIONAL[component]
        capacity_labels = m.variables[f"{component}-{nom}"].labels.to_numpy().ravel()
        for side in ("lower", "upper"):
            name = f"{component}-ext-{attr}-{side}"
            if name not in m.constraints:
                continue
            con = m.constraints[name]
            if con.vars.sizes.get("_term") != 2:
                raise NotResolvableError(f"{name} has terms other than dispatch and capacity")
            key = f"{name}:mask"
            if key not in self._layout:  # the model's, the same for every sample
                is_capacity = xr.DataArray(np.isin(con.vars.to_numpy(), capacity_labels), dims=con.vars.dims)
                self._layout[key] = is_capacity & (con.labels >= 0)
            computed = extendable_coefficients(n, component, side, con.labels).broadcast_like(con.coeffs)
            out[side] = (computed, con.coeffs, self._layout[key])
        return out

    def validate(self) -> set[str]:
        """The groups whose mapping reproduces the built model's numbers from the template, and
        whose numbers sit where :meth:`_native_entries` puts them in the HiGHS object."""
        native = self._native_lp()
        supported = set()
        for group in self._groups():
            try:
                parts = self._compute(group, self.ref)
            except NotResolvableError as err:
                logger.info("in-place update of %s off: %s", group, err)
                continue
            if not all(_close(model, computed, mask) for computed, model, mask in parts.values()):
                logger.warning("in-place update of %s off: the mapping does not reproduce the model", group)
                continue
            if not self._native_matches(group, parts, native):
                logger.warning("in-place update of %s off: HiGHS does not hold the model's numbers", group)
                continue
            supported.add(group)
        for contract in self.sc.export_contracts:
            con = self.model.constraints[export_contract_name(contract)]
            row = self.rows[int(con.labels.item())]
            rhs = contract.min_energy_twh * MWH_PER_TWH
            if not (np.allclose(con.rhs.to_numpy(), rhs) and str(con.sign.item()) == ">="
                    and np.isclose(native["row_lower"][row], rhs)):
                return supported
        supported.add("contracts")
        return supported

    def _native_lp(self) -> dict[str, Any]:
        """Bounds and matrix of the HiGHS object as built (for :meth:`validate`)."""
        import highspy  # noqa: PLC0415
        from scipy.sparse import csc_matrix, csr_matrix  # noqa: PLC0415

        lp = native_solver(self.solver).getLp()
        matrix = lp.a_matrix_
        layout = csr_matrix if matrix.format_ == highspy.MatrixFormat.kRowwise else csc_matrix
        return {
            "col_lower": np.asarray(lp.col_lower_), "col_upper": np.asarray(lp.col_upper_),
            "row_lower": np.asarray(lp.row_lower_), "row_upper": np.asarray(lp.row_upper_),
            "matrix": layout((np.asarray(matrix.value_), np.asarray(matrix.index_),
                              np.asarray(matrix.start_)), shape=(lp.num_row_, lp.num_col_)),
        }

    def _native_matches(self, group: str, parts: dict[str, Any], native: dict[str, Any]) -> bool:
        """Whether HiGHS holds the model's numbers at the positions the group writes to."""
        # the model's own numbers at the positions the group writes to
        as_built = {side: (model.where(computed.notnull()), model, mask)
                    for side, (computed, model, mask) in parts.items()}
        for kind, index, values in self._native_entries(group, as_built):
            if kind == "cols":
                lower, upper = values
                held = (native["col_lower"][index], native["col_upper"][index])
            elif kind == "rows":
                lower, upper = values
                held = (native["row_lower"][index], native["row_upper"][index])
            else:
                rows, cols = index
                lower = upper = values
                held = (np.asarray(native["matrix"][rows, cols]).ravel(),) * 2
            for a, b in zip((lower, upper), held, strict=True):
                if not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                   rtol=VALIDATION_RTOL, atol=1e-9, equal_nan=True):
                    return False
        return True

    def _group_of(self, component: str, attribute: str, names: pd.Index) -> list[str]:
        if component == "Load" and attribute == "p_set":
            return [NODAL_GROUP]
        if component not in OPERATIONAL:
            return []
        _, nom, lower_pu, upper_pu = OPERATIONAL[component]
        key = f"{component}:fixed_and_extendable"
        if key not in self._layout:  # of the template, which never changes
            self._layout[key] = _fixed_and_extendable(self.ref, component)
        fixed, extendable = self._layout[key]
        if attribute == nom and names.isin(fixed).all():
            return [component]
        if attribute in (lower_pu, upper_pu):
            groups = [component] if names.isin(fixed).any() else []
            return groups + ([f"{component}-ext"] if names.isin(extendable).any() else [])
        return []

    def groups_for(self, n: pypsa.Network, sc: Scenario) -> set[str]:
        """The groups a sample changes; :class:`NotResolvableError` when it changes more."""
        if any(t.enforce for t in sc.targets):
            raise NotResolvableError("an enforced target needs the mix-ratio iteration")
        ref = self.sc.model_dump(exclude={"accounting"})
        new = sc.model_dump(exclude={"accounting"})
        if "contracts" not in self.supported and ref["export_contracts"] != new["export_contracts"]:
            raise NotResolvableError("a contract volume changed; its row is not mapped")
        for contracts in (ref["export_contracts"], new["export_contracts"]):
            for contract in contracts:
                contract.pop("min_energy_twh")
        if ref != new:
            raise NotResolvableError("the scenario differs in more than contracts and accounting")
        groups: set[str] = set()
        for (component, attribute), names in changed_inputs(self.ref, n).items():
            found = self._group_of(component, attribute, names)
            if not found or not set(found) <= self.supported:
                raise NotResolvableError(f"{component}.{attribute} of {list(names)[:3]} changed")
            groups.update(found)
        return groups

    # --- one sample ---------------------------------------------------------------------------

    def _native_entries(self, group: str, parts: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """Where the group's numbers go in HiGHS and their values (computed where the mapping
        gives a number, the model's template value elsewhere).

        ``("cols", columns, (lower, upper))`` for variable bounds, ``("rows", rows, (lower,
        upper))`` for right-hand sides (row bounds by the constraint's sign), ``("coeffs", (rows,
        columns), values)`` for matrix coefficients.
        """
        m = self.model

        def numbers(array: xr.DataArray, dims: tuple[Any, ...]) -> np.ndarray:
            return np.asarray(array.transpose(*dims).to_numpy(), dtype=float)

        if group == NODAL_GROUP:
            computed, _, mask = parts["rhs"]
            con = m.constraints["Bus-nodal_balance"]
            dims = mask.dims
            value = numbers(computed, dims)
            where = mask.to_numpy() & ~np.isnan(value)
            rhs = value[where]
            sign = con.sign.broadcast_like(mask).transpose(*dims).to_numpy()[where]
            lower = np.where(sign == "<=", -np.inf, rhs)
            upper = np.where(sign == ">=", np.inf, rhs)
            return [("rows", self.rows[con.labels.transpose(*dims).to_numpy()[where]], (lower, upper))]
        component, _, ext = group.partition("-")
        attr, _, _, _ = OPERATIONAL[component]
        if not ext:
            var = m.variables[f"{component}-{attr}"]
            (low, low_now, mask), (up, up_now, _) = parts["lower"], parts["upper"]
            dims = mask.dims
            low_value, up_value = numbers(low, dims), numbers(up, dims)
            where = mask.to_numpy() & ~(np.isnan(low_value) & np.isnan(up_value))
            lower = np.where(np.isnan(low_value), numbers(low_now, dims), low_value)[where]
            upper = np.where(np.isnan(up_value), numbers(up_now, dims), up_value)[where]
            return [("cols", self.columns[var.labels.transpose(*dims).to_numpy()[where]], (lower, upper))]
        entries: list[tuple[str, Any, Any]] = []
        for side, (computed, _, mask) in parts.items():
            name = f"{component}-ext-{attr}-{side}"
            con = m.constraints[name]
            dims = con.coeffs.dims
            key = f"{name}:positions"
            if key not in self._layout:  # the model's, the same for every sample
                labels = con.labels.broadcast_like(con.coeffs).transpose(*dims).to_numpy()
                variables = con.vars.transpose(*dims).to_numpy()
                self._layout[key] = (labels, variables, mask.transpose(*dims).to_numpy())
            labels, variables, in_mask = self._layout[key]
            value = numbers(computed, dims)
            where = in_mask & ~np.isnan(value)
            positions = (self.rows[labels[where]], self.columns[variables[where]])
            entries.append(("coeffs", positions, value[where]))
        return entries

    def _write(self, group: str, n: pypsa.Network) -> None:
        """Write the group's numbers of sample ``n`` into the HiGHS object (not into linopy's model)."""
        highs = native_solver(self.solver)
        for kind, index, values in self._native_entries(group, self._compute(group, n)):
            if kind in ("cols", "rows"):
                change = highs.changeColsBounds if kind == "cols" else highs.changeRowsBounds
                lower, upper = (np.ascontiguousarray(v, dtype=float) for v in values)
                change(len(index), np.ascontiguousarray(index, dtype=np.int32), lower, upper)
            else:
                for row, column, value in zip(*index, values, strict=True):
                    highs.changeCoeff(int(row), int(column), float(value))

    def solve(self, n: pypsa.Network, sc: Scenario) -> SolveResult:
        """Solve sample ``n`` (the template with other numbers) in place; write the solution into ``n``.

        Raises
        ------
        NotResolvableError
            When the sample changes something the update does not map (nothing was changed).
        InfeasibleError
            When HiGHS does not end optimal.
        """
        start = time.perf_counter()
        groups = self.groups_for(n, sc)
        # the sample's numbers straight into the live Highs object; a group the previous sample
        # changed and this one does not is written too (back to this sample's = template values)
        for group in sorted(groups | self.dirty):
            self._write(group, n)
        self.dirty = groups
        native = native_solver(self.solver)
        for contract in sc.export_contracts if "contracts" in self.supported else ():
            row = self.rows[int(self.model.constraints[export_contract_name(contract)].labels.item())]
            native.changeRowBounds(int(row), contract.min_energy_twh * MWH_PER_TWH, np.inf)
        timings = {"update": time.perf_counter() - start}
        start = time.perf_counter()
        # every sample starts from the template's optimal basis, with no other state of the
        # previous run (edge weights, factorisation): the result does not depend on the order
        native.clearSolver()
        native.setBasis(self.basis)
        result = self.solver.solve()
        # primal values only: the duals (shadow prices) are not read back, the records use none
        assign_primal_result(self.model, result, self.solver)
        timings["solve"] = time.perf_counter() - start
        # HiGHS's run clock accumulates over the runs of one Highs object: take the difference
        runtime = self._runtime(result)
        previous = self._highs_clock if native is self._highs_object else 0.0
        timings["highs"] = runtime - previous
        self._highs_object, self._highs_clock = native, runtime
        self.solves += 1
        status, condition = str(self.model.status), str(self.model.termination_condition)
        if status != "ok" or condition != "optimal":
            msg = (
                f"scenario '{sc.name}': the optimisation ended with status '{status}' and "
                f"condition '{condition}', not optimal; no result was written"
            )
            raise InfeasibleError(msg, status=status, condition=condition)
        start = time.perf_counter()
        attach_model(n, self.model, self.window)
        try:
            write_solution(n)
            check_solution(n, sc)
        finally:
            attach_model(n, None)
        names = [name for name in constraint_names(sc) if name in self.model.constraints]
        duals = result_duals(self.model, result, names)
        timings["post"] = time.perf_counter() - start
        return SolveResult(
            status=status,
            condition=condition,
            objective=objective_value(self.model),
            duals=duals,
            timings=timings,
            lp_size=self.size,
            solver_options=self.options,
            screening={"enabled": False, "reason": "in-place re-solve of a sweep sample"},
        )


__all__ = [
    "InPlaceResolver",
    "NotResolvableError",
    "changed_inputs",
    "extendable_coefficients",
    "fixed_bounds",
    "nodal_balance_rhs",
]
