"""The charts of the baromètre publications: the long series as an index, the year-on-year changes as bars,
and the map of a change by département (diverging palette centred on 0, each overseas département in its own
inset, secret cells hatched). Drawn with the house style of :mod:`observatory.publish.charts`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import matplotlib.ticker as mticker
from matplotlib.figure import Figure

from observatory.publish import charts, fmt
from observatory.publish.maps import DOM, LAMBERT93
from observatory.publish.model import Cell

CHAMPS = {"ess": "ESS", "prive_hors_ess": "Privé hors ESS", "prive": "Ensemble du privé"}
"""The champs of the baromètre and their labels (its private field is the Urssaf's, hence "Ensemble du privé")."""
OVERSEAS_CRS = {code: crs for code, (_name, crs) in DOM.items()}
METRO_CRS = LAMBERT93
SECRET_STATUTS = ("secret_primaire", "secret_secondaire")


def series_chart(quarters: list[str], series: dict[str, list[float | None]], path: Path) -> Path:
    """Headcount of each champ as an index, base 100 at its first published quarter (gaps where secret)."""
    with matplotlib.rc_context(charts.STYLE):
        fig, ax = charts._figure(2.6)
        xs = list(range(len(quarters)))
        for champ, values in series.items():
            base = next((v for v in values if v), None)
            ys = [float("nan") if (v is None or base is None) else 100 * v / base for v in values]
            ax.plot(
                xs,
                ys,
                color=charts.COLORS.get(champ, charts.COLORS["ensemble"]),
                linewidth=1.8,
                label=CHAMPS.get(champ, champ),
                marker="o",
                markersize=2.5,
            )
        step = -(-len(quarters) // 8)  # at most 8 labels, each on two lines ("T3" over "2021")
        ax.set_xticks(xs[::step], [f"{q[-2:]}\n{q[:4]}" for q in quarters[::step]])
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: fmt.nombre(v)))
        ax.axhline(100, color="#888888", linewidth=0.6)
        ax.grid(axis="y", color=charts.GRID, linewidth=0.6)
        ax.legend(loc="upper left", frameon=False, ncol=len(series))
        return charts._save(fig, path)


def change_bars(labels: list[str], series: dict[str, list[Cell]], path: Path) -> Path:
    """Horizontal bars of year-on-year changes (fractions) around 0, one bar per champ; ``s``/``n.d.`` shown
    (:func:`observatory.publish.charts.change_bars` on the cells' values and printed texts)."""
    return charts.change_bars(
        labels,
        {
            champ: [(c.value if c.ok else None, c.text()) for c in cells]
            for champ, cells in series.items()
        },
        CHAMPS,
        path,
    )


def change_map(cells: dict[str, Cell], path: Path, cache_dir: Path | None = None) -> Path:
    """Choropleth of a year-on-year change by département, diverging palette centred on 0.

    ``cells`` maps département codes to their cell; only those départements are drawn. Metropolitan
    départements are in Lambert-93, each overseas one in its own projection and inset; secret cells are
    hatched grey (``s``), cells outside the field light grey (``n.d.``).
    """
    from observatory.reference import geo

    gdf = geo.geometries("departement", cache_dir)
    gdf = gdf[gdf["code"].isin(cells)].copy()
    gdf["valeur"] = [cells[c].value if cells[c].ok else float("nan") for c in gdf["code"]]
    gdf["statut"] = [cells[c].statut for c in gdf["code"]]
    values = gdf["valeur"].dropna()
    span = float(values.abs().max()) if len(values) else 0.01
    span = span or 0.01
    norm = mcolors.TwoSlopeNorm(vmin=-span, vcenter=0.0, vmax=span)
    cmap = matplotlib.colormaps["RdBu"]
    metro = gdf[~gdf["code"].isin(OVERSEAS_CRS)]
    overseas = [c for c in OVERSEAS_CRS if c in set(gdf["code"])]
    with matplotlib.rc_context(charts.STYLE):
        fig = Figure(figsize=(charts.WIDTH_IN, 4.6 if len(metro) else 2.4))
        main_width = 0.8 if overseas and len(metro) else 0.98
        panels = []
        if len(metro):
            panels.append(
                (fig.add_axes((0.19 if overseas else 0.01, 0.02, main_width, 0.96)), metro, METRO_CRS)
            )
        for i, code in enumerate(overseas):
            if len(metro):
                box = (0.0, 0.8 - i * 0.19, 0.17, 0.17)
            else:
                box = (i / len(overseas), 0.1, 0.9 / len(overseas), 0.85)
            panels.append((fig.add_axes(box), gdf[gdf["code"] == code], OVERSEAS_CRS[code]))
        for ax, part, crs in panels:
            part = part.to_crs(crs)
            ok = part[part["valeur"].notna()]
            secret = part[part["statut"].isin(SECRET_STATUTS)]
            nd = part[part["valeur"].isna() & ~part["statut"].isin(SECRET_STATUTS)]
            if len(ok):
                ok.plot(ax=ax, color=[cmap(norm(v)) for v in ok["valeur"]], edgecolor="white", linewidth=0.3)
            if len(secret):
                secret.plot(ax=ax, color="#D0D0D0", edgecolor="#808080", hatch="////", linewidth=0.3)
            if len(nd):
                nd.plot(ax=ax, color="#F0F0F0", edgecolor="#B0B0B0", linewidth=0.3)
                for geom in nd.geometry:
                    p = geom.representative_point()
                    ax.text(p.x, p.y, fmt.MISSING, ha="center", va="center", fontsize=charts.FONT_SIZE - 1.5)
            ax.set_axis_off()
            ax.set_aspect("equal")
        sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        cax = fig.add_axes((0.3, -0.04, 0.45, 0.03))
        cbar = fig.colorbar(sm, cax=cax, orientation="horizontal")
        cbar.ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: fmt.pourcent(v, 1)))
        cbar.ax.tick_params(labelsize=charts.FONT_SIZE - 1)
        fig.legend(
            handles=[
                mpatches.Patch(facecolor="#D0D0D0", edgecolor="#808080", hatch="////", label="s : secret"),
                mpatches.Patch(facecolor="#F0F0F0", edgecolor="#B0B0B0", label="n.d. : non disponible"),
            ],
            loc="lower right",
            bbox_to_anchor=(1.0, -0.09),
            frameon=False,
            fontsize=charts.FONT_SIZE - 1,
        )
        return charts._save(fig, path)
