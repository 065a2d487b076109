"""Look of the report figures: theme, carrier names and colours, and small figure helpers.

Display names and colours of carriers come only from the network's ``carriers`` table
(``nice_name``, ``color``); carriers without a valid colour get a fixed colour derived from their
id, so a carrier has the same colour in every figure and every scenario.

The seaborn theme (``paper`` context, white grid) and the settings that make the files
reproducible (SVG text kept as text, a fixed SVG hash salt for stable element ids) are applied
only inside :func:`report_theme`, a :func:`matplotlib.rc_context`: importing this module or
drawing a figure leaves the process's matplotlib settings as they were. Every ``plot_*``
function builds its figure inside the theme (:func:`themed`) and
:func:`energy_model.report.rendering.write_figure` saves inside it.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib as mpl
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import is_color_like, to_hex
from matplotlib.figure import Figure

from energy_model.network import HEAT_BUS_CARRIER
from energy_model.report.series import ELECTRIC_BUS_CARRIERS, LOAD_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import pypsa
    from matplotlib.axes import Axes

P = ParamSpec("P")

#: Seaborn context, axes style, font family and colour cycle of every report figure.
THEME_CONTEXT = "paper"
THEME_STYLE = "whitegrid"
THEME_FONT = "sans-serif"
THEME_PALETTE = "deep"
#: Settings on top of the seaborn theme: SVG text kept as text, stable SVG element ids (same
#: results, same SVG bytes) and the screen resolution figures are built at [dots per inch].
FILE_SETTINGS: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "energy_model",
    "figure.dpi": 100,
}
#: Fallback colours for carriers without a ``color`` in ``carriers.csv``.
FALLBACK_PALETTE = sns.color_palette("tab20", 20).as_hex()
#: Colour of loads in balance figures (light grey, distinct from coal's dark grey).
LOAD_COLOR = "#b5b5b5"
#: Colour of the headline renewable share and its range over the rules (share figures).
SHARE_COLOR = "#4c72b0"
#: Markers of the non-headline attribution rules in the share figure.
RULE_MARKERS = ("_", "x", "+", "1", "2", "3")
#: Markers and line styles that tell overlapping series apart (also in grey-scale print).
HEAT_MARKERS = ("o", "^", "s", "v", "D", "P")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)))
#: Bus carriers other than electricity whose loads are drawn grey and named "<carrier> demand".
OTHER_BUS_CARRIERS = (HEAT_BUS_CARRIER, "h2", "gas")


# ---------------------------------------------------------------------------------------------
# theme
# ---------------------------------------------------------------------------------------------


@functools.cache
def theme_settings() -> dict[str, Any]:
    """The matplotlib settings of the report theme (computed once, never applied globally).

    The same values as ``sns.set_theme("paper", style="whitegrid")`` (context, then style with
    the font family, then the ``deep`` colour cycle) followed by :data:`FILE_SETTINGS`. Unlike
    ``set_theme`` it does not remap matplotlib's one-letter colour codes, which no report
    figure uses.
    """
    settings: dict[str, Any] = {}
    settings.update(sns.plotting_context(THEME_CONTEXT))
    settings.update(sns.axes_style(THEME_STYLE, rc={"font.family": THEME_FONT}))
    settings["axes.prop_cycle"] = cycler("color", sns.color_palette(THEME_PALETTE))
    settings.update(FILE_SETTINGS)
    return settings


@contextlib.contextmanager
def report_theme() -> Iterator[None]:
    """Apply the report theme for the duration of a block; matplotlib's settings are restored after."""
    with mpl.rc_context(theme_settings()):
        yield


def themed(plot: Callable[P, Figure]) -> Callable[P, Figure]:
    """Decorate a ``plot_*`` function so that it builds its figure inside :func:`report_theme`."""

    @functools.wraps(plot)
    def build_in_theme(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with report_theme():
            return plot(*args, **kwargs)

    return build_in_theme


def new_figure(width: float = 7.5, height: float = 4.5, **kwargs: Any) -> Figure:
    """A figure [inches] attached to the Agg canvas, with constrained layout, outside pyplot.

    Call it inside :func:`report_theme` (the ``plot_*`` functions are :func:`themed`): the
    figure takes its resolution and look from the settings in force when it is created.
    """
    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def legend_below(fig: Figure, ax: Axes, ncol: int = 4, **kwargs: Any) -> None:
    """Put the legend of ``ax`` below the plots so it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    if handles:
        longest = max(len(label) for label in labels)
        fits = max(1, int(fig.get_figwidth() * 12 / (longest + 5)))  # ~12 legend characters per inch
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=max(1, min(ncol, len(labels), fits)),
            frameon=False,
            fontsize="small",
            **kwargs,
        )


def label_bar_ends(ax: Axes, values: Iterable[float]) -> None:
    """Write each value (two decimals) just right of the end of horizontal bar 0, 1, 2 …"""
    for y, value in enumerate(values):
        ax.annotate(
            f"{value:,.2f}",
            (value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )


def thousands(value: float, _pos: int) -> str:
    """Tick label with a thousands separator (for :class:`matplotlib.ticker.FuncFormatter`)."""
    return f"{value:,.0f}"


# ---------------------------------------------------------------------------------------------
# carrier names and colours
# ---------------------------------------------------------------------------------------------


def fallback_color(carrier: str) -> str:
    """Fixed colour of a carrier without a ``color`` (same id → same colour everywhere)."""
    return FALLBACK_PALETTE[zlib.crc32(carrier.encode("utf-8")) % len(FALLBACK_PALETTE)]


def load_carrier_styles(n: pypsa.Network | pd.DataFrame | None) -> pd.DataFrame:
    """Display name and colour of every carrier of a network (or of its ``carriers`` table).

    Returns
    -------
    pandas.DataFrame
        Index carrier id; columns ``nice_name`` (id when empty) and ``color`` (hex; a fixed
        fallback colour when missing or invalid). Row order is the order of ``carriers.csv``.
    """
    if n is None:
        return pd.DataFrame(columns=["nice_name", "color"])
    carriers = n if isinstance(n, pd.DataFrame) else n.carriers
    if carriers.empty:
        return pd.DataFrame(columns=["nice_name", "color"])
    names = [
        str(nice) if isinstance(nice, str) and nice.strip() and nice != "nan" else str(cid)
        for cid, nice in zip(
            carriers.index, carriers.get("nice_name", pd.Series(index=carriers.index)), strict=True
        )
    ]
    colors = [
        to_hex(color)
        if isinstance(color, str) and color.strip() and is_color_like(color)
        else fallback_color(str(cid))
        for cid, color in zip(
            carriers.index, carriers.get("color", pd.Series(index=carriers.index)), strict=True
        )
    ]
    return pd.DataFrame({"nice_name": names, "color": colors}, index=carriers.index.astype(str))


def merge_carrier_styles(styles: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Union of carrier styles of several scenarios; the first definition of a carrier wins."""
    frames = [s for s in styles if not s.empty]
    if not frames:
        return pd.DataFrame(columns=["nice_name", "color"])
    merged = pd.concat(frames)
    return merged[~merged.index.duplicated(keep="first")]


def _is_bus_carrier(carrier: str) -> bool:
    """Whether a carrier id is a bus carrier (electricity or :data:`OTHER_BUS_CARRIERS`)."""
    return carrier in ELECTRIC_BUS_CARRIERS or carrier in OTHER_BUS_CARRIERS


def display_name(carrier: str, styles: pd.DataFrame) -> str:
    """Display name of a carrier id (``load:<carrier>`` → ``<name> demand``; ``Load`` for none)."""
    if carrier.startswith(LOAD_PREFIX):
        base = carrier.removeprefix(LOAD_PREFIX)
        if not base:
            return "Load"
        name = display_name(base, styles)
        return f"{name} demand" if _is_bus_carrier(base) and "demand" not in name.lower() else name
    if not carrier:
        return "Load"
    if carrier in styles.index:
        return str(styles.at[carrier, "nice_name"])
    return carrier


def carrier_color(carrier: str, styles: pd.DataFrame) -> str:
    """Colour of a carrier id (hex); loads (``load:<carrier>``) take their carrier's colour,
    light grey when the load carrier is a bus carrier (e.g. ``AC``) or undefined."""
    if carrier.startswith(LOAD_PREFIX) or not carrier:
        base = carrier.removeprefix(LOAD_PREFIX)
        if base in styles.index and not _is_bus_carrier(base):
            return str(styles.at[base, "color"])
        return LOAD_COLOR
    if carrier in styles.index:
        return str(styles.at[carrier, "color"])
    return fallback_color(carrier or "load")


def carrier_order(carriers: Iterable[str], styles: pd.DataFrame) -> list[str]:
    """Carriers in the order of ``carriers.csv``, unknown ones after them in alphabetical order."""
    carriers = list(dict.fromkeys(str(c) for c in carriers))
    loads = sorted(c for c in carriers if c.startswith(LOAD_PREFIX))
    known = [c for c in styles.index if c in carriers]
    return known + sorted(c for c in carriers if c not in styles.index and c not in loads) + loads


__all__ = [
    "FALLBACK_PALETTE",
    "HEAT_MARKERS",
    "LINESTYLES",
    "LOAD_COLOR",
    "RULE_MARKERS",
    "SHARE_COLOR",
    "carrier_color",
    "carrier_order",
    "display_name",
    "fallback_color",
    "legend_below",
    "load_carrier_styles",
    "merge_carrier_styles",
    "new_figure",
    "report_theme",
    "theme_settings",
    "themed",
    "thousands",
]
