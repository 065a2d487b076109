"""Every use of a PyPSA or linopy internal, in one place.

Each function here relies on something PyPSA or linopy does not document as public API. Each
names the versions it was written against (:data:`WRITTEN_AGAINST`); ``tests/test_compat.py``
exercises each on a tiny network and fails loudly when an upgrade changes the behaviour, so an
upgrade is a one-module review instead of a hunt through the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import linopy
    import pypsa

#: Versions the internals below were written and tested against.
WRITTEN_AGAINST = {"pypsa": "1.4.0", "linopy": "0.10"}

#: Infix of the row names PyPSA (1.x) gives the operating limits of fixed-capacity assets:
#: ``<Component>-fix-<attribute>-lower`` / ``-upper``.
FIXED_LIMIT_INFIX = "-fix-"


@dataclass(frozen=True)
class FixedLimitRows:
    """A constraint of PyPSA's fixed-capacity operating limits and the variable it bounds."""

    constraint: str
    """Row-block name, e.g. ``Generator-fix-p-upper``."""
    variable: str
    """Variable name, e.g. ``Generator-p``."""
    side: str
    """``lower`` (rows ``a x >= b``) or ``upper`` (rows ``a x <= b``)."""


def fixed_limit_rows(m: linopy.Model) -> Iterator[FixedLimitRows]:
    """The row blocks PyPSA writes for the limits of fixed-capacity assets (PyPSA 1.4.0).

    PyPSA names them ``<Component>-fix-<attribute>-lower/upper`` (e.g.
    ``Generator-fix-p-upper``: :math:`p_{g,t} \\le \\bar p_{g,t} P_g` with :math:`P_g` a
    number). The names are not public API; this parser is the only place that relies on them.
    Blocks whose variable does not exist are skipped.
    """
    for name in list(m.constraints):
        component, _, rest = name.partition(FIXED_LIMIT_INFIX)
        if not rest or not rest.endswith(("-lower", "-upper")):
            continue
        attribute, _, side = rest.rpartition("-")
        variable = f"{component}-{attribute}"
        if variable in m.variables:
            yield FixedLimitRows(constraint=name, variable=variable, side=side)


def set_variable_bounds(variable: Any, **bounds: Any) -> None:
    """Set a linopy variable's ``lower``/``upper`` bounds (linopy 0.9 and 0.10).

    linopy 0.10 replaced the bound setters (``variable.upper = …``) by ``Variable.update``;
    0.9 has only the setters.
    """
    if hasattr(variable, "update"):
        variable.update(**bounds)
        return
    for side, value in bounds.items():
        setattr(variable, side, value)


def variable_label_count(m: linopy.Model) -> int:
    """Number of variable labels linopy has handed out (the next free label; linopy 0.10).

    Read from the private counter ``Model._xCounter``; labels of removed variables stay
    allocated, so this is an upper bound of every label in the model plus one.
    """
    return int(m._xCounter)  # noqa: SLF001 - the only reader of this private counter


def detach_solver_model(n: pypsa.Network) -> None:
    """Drop the live HiGHS object of ``n``'s linopy model so that ``n.copy()`` works (PyPSA 1.4).

    After a direct-API solve linopy keeps the solver object on ``n.model.solver_model``;
    ``pypsa.Network.copy`` refuses to deep-copy it. The model lives on the private attribute
    ``n._model`` (``n.model`` raises when there is none).
    """
    model = getattr(n, "_model", None)
    if getattr(model, "solver_model", None) is not None:
        model.solver_model = None  # type: ignore[union-attr]
