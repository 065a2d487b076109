"""Write a built network as a deterministic PyPSA CSV folder, and draw its topology.

Split from :mod:`energy_model.build_network` (which builds the network from ``data/``): writing
is byte-for-byte deterministic so that a rebuild shows real changes only in ``git diff``.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import TYPE_CHECKING

import numpy as np
import pypsa

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

logger = logging.getLogger(__name__)

#: Region label of the city's buses (``buses.csv`` column ``location``).
REGION = "zhangjiakou"

#: Float format per column; time series use a fixed number of decimals.
STATIC_FLOAT_FORMAT = "{:.6f}"
TIMESERIES_DECIMALS = {"p_max_pu": 5, "p_min_pu": 5, "p_set": 3, "marginal_cost": 3}


def _format_value(value: object) -> str:
    """Format a static cell deterministically (floats with 6 decimals, trailing zeros cut)."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating):
        text = STATIC_FLOAT_FORMAT.format(float(value))
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return "0" if text in {"-0", ""} else text
    return str(value)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write rows with ``\\n`` line endings and minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_network(n: pypsa.Network, out: Path) -> list[Path]:
    """Write ``n`` as a PyPSA CSV folder, byte-for-byte deterministic.

    Static tables hold the index plus every attribute that differs from the PyPSA default in at
    least one row (columns sorted, ``name`` first); time series hold every varying column
    (sorted) with a fixed number of decimals. Files from earlier builds that are no longer
    produced are removed.

    Parameters
    ----------
    n
        Network to write.
    out
        Target folder (created).

    Returns
    -------
    list of pathlib.Path
        Files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    path = out / "network.csv"
    _write_csv(path, ["name", "pypsa_version"], [[str(n.name), pypsa.__version__]])
    written.append(path)
    path = out / "snapshots.csv"
    # PyPSA's own layout (leading integer column) so that the importer parses the dates.
    _write_csv(
        path,
        ["", "snapshot", "objective", "stores", "generators"],
        [
            [str(i), ts.strftime("%Y-%m-%d %H:%M:%S"), *(_format_value(float(w)) for w in row)]
            for i, (ts, row) in enumerate(
                zip(
                    n.snapshots,
                    n.snapshot_weightings[["objective", "stores", "generators"]].to_numpy(),
                    strict=True,
                )
            )
        ],
    )
    written.append(path)
    for list_name in ("carriers", "buses", "generators", "loads", "links", "storage_units", "stores"):
        component = n.components[list_name]
        static = component.static
        if static.empty:
            continue
        defaults = component.defaults
        static_attrs = defaults.index[defaults["status"].str.startswith("Input")]
        columns = []
        for attr in static_attrs:
            if attr == "name" or attr not in static.columns:
                continue
            default = defaults.at[attr, "default"]
            series = static[attr]
            if defaults.at[attr, "type"] == "series":
                continue
            differs = series.astype(str) != str(default) if isinstance(default, str) else None
            if differs is None:
                try:
                    differs = ~np.isclose(series.astype(float), float(default), equal_nan=True)
                except (TypeError, ValueError):
                    differs = series.astype(str) != str(default)
            if bool(np.any(differs)):
                columns.append(attr)
        columns = sorted(columns)
        static = static.sort_index()
        rows = [
            [str(name), *(_format_value(static.at[name, c]) for c in columns)] for name in static.index
        ]
        path = out / f"{list_name}.csv"
        _write_csv(path, ["name", *columns], rows)
        written.append(path)
        for attr, unsorted in sorted(component.dynamic.items()):
            if unsorted.empty or defaults.at[attr, "status"].startswith("Output"):
                continue
            frame = unsorted.reindex(sorted(unsorted.columns), axis=1)
            decimals = TIMESERIES_DECIMALS.get(attr, 6)
            values = np.round(frame.to_numpy(dtype=float), decimals) + 0.0
            fmt = f"{{:.{decimals}f}}"
            rows = [
                [ts.strftime("%Y-%m-%d %H:%M:%S"), *(_strip(fmt.format(v)) for v in row)]
                for ts, row in zip(frame.index, values, strict=True)
            ]
            path = out / f"{list_name}-{attr}.csv"
            _write_csv(path, ["snapshot", *frame.columns], rows)
            written.append(path)
    for stale in sorted(set(out.glob("*.csv")) - set(written)):
        stale.unlink()
        logger.info("removed stale %s", stale.name)
    return written


def _strip(text: str) -> str:
    """Cut trailing zeros of a fixed-decimal number ("0.50000" -> "0.5", "0.000" -> "0")."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def plot_topology(n: pypsa.Network, path: Path) -> None:
    """Draw buses at their x/y and links as arrows, labelled with ``p_nom`` [MW]; save PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - only `make networks` draws
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(9, 8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # Electricity and hydrogen buses only (heat buses belong to the heating model).
    buses = n.buses[n.buses.carrier.isin(["AC", "h2"])]
    colors = {"hvdc": "#8a1caf", "uhv_ac": "#b5179e", "ac500": "#7209b7", "ac_internal": "#adb5bd"}
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name, link in n.links.sort_index().iterrows():
        if link.carrier not in colors or not {link.bus0, link.bus1} <= set(buses.index):
            continue
        key = (*sorted((link.bus0, link.bus1)), link.carrier)
        groups.setdefault(key, []).append(str(name))
    for (_, _, carrier), names in sorted(groups.items()):
        first = n.links.loc[names[0]]
        x0, y0 = buses.at[first.bus0, "x"], buses.at[first.bus0, "y"]
        x1, y1 = buses.at[first.bus1, "x"], buses.at[first.bus1, "y"]
        two_way = any(n.links.at[m, "bus0"] != first.bus0 for m in names)
        forward = [m for m in names if n.links.at[m, "bus0"] == first.bus0]
        p_nom = n.links.loc[forward, "p_nom"].sum()
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "<|-|>" if two_way else "-|>",
                "color": colors[carrier],
                "lw": 1.8,
                "ls": "dashed" if p_nom == 0 else "solid",
            },
        )
        label = "\n".join(sorted({m.replace("_import", "") for m in forward}))
        ax.text(
            (x0 + x1) / 2, (y0 + y1) / 2, f"{label}\n{p_nom:.0f} MW",
            fontsize=6, ha="center", color=colors[carrier],
        )
    for bus, row in buses.iterrows():
        local = row.location == REGION
        ax.scatter(
            row.x, row.y, s=160, zorder=3,
            color="#2a9d8f" if local else "#e76f51", edgecolor="k",
        )
        gens = n.generators[n.generators.bus == bus]
        wind = gens.loc[gens.carrier == "onwind", "p_nom"].sum() / 1e3
        solar = gens.loc[gens.carrier == "solar", "p_nom"].sum() / 1e3
        extra = f"\nwind {wind:.1f} GW, PV {solar:.1f} GW" if wind + solar > 0 else ""
        ax.text(row.x + 0.05, row.y + 0.05, f"{bus}{extra}", fontsize=8, zorder=4)
    ax.set_xlabel("longitude [deg E] (schematic)")
    ax.set_ylabel("latitude [deg N] (schematic)")
    ax.set_title("Zhangjiakou base network (2022 plan state): local (green) and external (red) buses")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})


__all__ = ["plot_topology", "write_network"]
