"""Maps of the indicator table: choropleths of shares, proportional circles of counts (INSEE conventions).

Every map follows ``shared/domain/products.md`` §4: metropolitan France in Lambert-93 (EPSG:2154), each
overseas département in its own inset in its local projection (971/972 EPSG:5490, 973 EPSG:2972, 974
EPSG:2975, 976 EPSG:4471), a Paris + petite couronne zoom on département maps drawn with the *same* classes,
choropleths for rates and shares only (Fisher-Jenks or quantiles, 4–6 classes, method and bounds in the
legend), proportional circles for counts, secret cells hatched grey with an ``s`` legend entry, "n.d." (never
zero) where a source excludes a territory (Mayotte). Every map carries a title, the unit, the source, the
field (*champ*) and a "Lecture :" sentence.

What each map shows, its classes and its words are in :mod:`observatory.publish.map_specs`; here, the
drawing. The maps read only the published indicator table (``output/<millesime>/tables/indicateurs.parquet``)
and the geometries of :mod:`observatory.reference.geo`. Files are written atomically.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish.map_specs import (
    MAPS,
    NBSP,
    SOURCE,
    Classes,
    MapSpec,
    TooFewTerritories,
    _lecture,
    _millesime,
    _state,
    class_colors,
    classify,
    fr_number,
    indicator_values,
    map_alt,
)
from observatory.reference import cog

#: Overseas départements: name and local projection of their inset.
DOM = {
    "971": ("Guadeloupe", "EPSG:5490"),
    "972": ("Martinique", "EPSG:5490"),
    "973": ("Guyane", "EPSG:2972"),
    "974": ("La Réunion", "EPSG:2975"),
    "976": ("Mayotte", "EPSG:4471"),
}
#: The overseas régions are single départements.
REGION_DOM = {"01": "971", "02": "972", "03": "973", "04": "974", "06": "976"}
PETITE_COURONNE = ("75", "92", "93", "94")
LAMBERT93 = "EPSG:2154"
DPI = 200

SECRET_STYLE = {"facecolor": "#d9d9d9", "edgecolor": "#8c8c8c", "hatch": "//////", "linewidth": 0.4}
ND_STYLE = {"facecolor": "#ffffff", "edgecolor": "#a6a6a6", "linewidth": 0.4}
BACKGROUND = "#eeeeee"
CIRCLE_COLOR = "#1f7a74"
TEXT_GREY = "#404040"


# --------------------------------------------------------------------------------------------- geometry
class _Geo:
    """Layers of one rendering run: WGS 84, Lambert-93 for the metropolitan part, local CRS per DOM."""

    def __init__(self, cache_dir: Path | None = None):
        from observatory.reference.geo import geometries

        self.layers = {n: geometries(n, cache_dir) for n in ("departement", "region")}

    @staticmethod
    def _overseas(gdf, niveau: str):
        """The overseas département code of each row (None for a metropolitan territory)."""
        if niveau == "departement":
            return gdf["code"].where(gdf["code"].isin(list(DOM)), None)
        return gdf["code"].map(REGION_DOM)

    def metro(self, gdf, niveau: str):
        """The metropolitan rows of ``gdf`` (a ``niveau`` layer) in Lambert-93."""
        return gdf[self._overseas(gdf, niveau).isna().to_numpy()].to_crs(LAMBERT93)

    def dom(self, gdf, niveau: str, dep: str):
        """The rows of ``gdf`` (a ``niveau`` layer) for one overseas département, in its local projection."""
        return gdf[(self._overseas(gdf, niveau) == dep).to_numpy()].to_crs(DOM[dep][1])


# --------------------------------------------------------------------------------------------- drawing
def _draw_polygons(ax, gdf, colors: pd.Series | None = None, base: str = BACKGROUND, linewidth: float = 0.4):
    """Draw territories: by class colour (or ``base``), secret hatched grey, n.d. white; artists get gids."""
    val = gdf[gdf["etat"] == "valeur"]
    if len(val):
        fc = list(colors.loc[val.index]) if colors is not None else base
        val.plot(ax=ax, color=fc, edgecolor="white", linewidth=linewidth)
        ax.collections[-1].set_gid("valeur")
    sec = gdf[gdf["etat"] == "secret"]
    if len(sec):
        sec.plot(ax=ax, **{**SECRET_STYLE, "linewidth": linewidth})
        ax.collections[-1].set_gid("secret")
        ax.collections[-1].set_hatch_linewidth(0.5)
    nd = gdf[gdf["etat"] == "nd"]
    if len(nd):
        nd.plot(ax=ax, **{**ND_STYLE, "linewidth": linewidth})
        ax.collections[-1].set_gid("nd")


def _halo(width: float = 2.2):
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=width, foreground="white")]


def _bare(ax) -> None:
    ax.set_axis_off()
    ax.set_aspect("equal")


def _frame(ax, color: str = "#b3b3b3") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    for s in ax.spines.values():
        s.set_edgecolor(color)
        s.set_linewidth(0.6)


def _fit(ax, bounds, margin: float = 0.08) -> None:
    minx, miny, maxx, maxy = bounds
    dx, dy = (maxx - minx) * margin, (maxy - miny) * margin
    ax.set_xlim(minx - dx, maxx + dx)
    ax.set_ylim(miny - dy, maxy + dy)


def _label_nd(ax, gdf) -> None:
    for _, row in gdf[gdf["etat"] == "nd"].iterrows():
        p = row.geometry.representative_point()
        ax.text(p.x, p.y, "n.d.", ha="center", va="center", fontsize=7, color=TEXT_GREY, fontweight="bold")


def _circles(ax, gdf, vmax: float, dmax: float) -> None:
    """Proportional circles (area ∝ value) at each territory's representative point, largest first."""
    val = gdf[gdf["etat"] == "valeur"].sort_values("valeur", ascending=False)
    if val.empty:
        return
    pts = val.geometry.representative_point()
    diam = dmax * np.sqrt(val["valeur"].to_numpy() / vmax)
    coll = ax.scatter(
        pts.x, pts.y, s=diam**2, color=CIRCLE_COLOR, alpha=0.82, edgecolors="white", linewidths=0.6, zorder=3
    )
    coll.set_gid("cercles")


def _nice(x: float) -> float:
    """Round down to a round figure for the circle legend: 187 340 → 150 000, 42 000 → 40 000."""
    if x <= 0:
        return x
    e = 10 ** np.floor(np.log10(x))
    m = max(step for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8) if step <= x / e + 1e-9)
    return float(m * e)


@dataclass
class _Drawing:
    """What one map draws in every panel (main, DOM insets, Paris zoom)."""

    spec: MapSpec
    classes: Classes | None
    colors: list[str]
    vmax: float = 0.0
    dmax: float = 30.0

    def draw(self, ax, gdf, boundaries=None, linewidth: float = 0.4) -> None:
        if self.spec.kind == "choropleth":
            idx = self.classes.classify(gdf["valeur"])
            colors = pd.Series([self.colors[i] if i >= 0 else "#ffffff" for i in idx], index=gdf.index)
            _draw_polygons(ax, gdf, colors, linewidth=linewidth)
        else:
            _draw_polygons(ax, gdf, None, linewidth=linewidth)
        if boundaries is not None and len(boundaries):
            boundaries.boundary.plot(ax=ax, color="#4d4d4d", linewidth=0.7)
        if self.spec.kind == "circles":
            _circles(ax, gdf, self.vmax, self.dmax)
        _label_nd(ax, gdf)
        ax.set_xlabel("")
        ax.set_ylabel("")

    def legend_handles(self, gdf_all, national_counts: bool = True):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = []
        if self.spec.kind == "choropleth":
            labels = self.classes.labels(counts=national_counts)
            for color, label in zip(reversed(self.colors), reversed(labels), strict=True):
                handles.append(Patch(facecolor=color, edgecolor="#808080", linewidth=0.4, label=label))
        else:
            top = _nice(self.vmax)
            for ref in (top, _nice(top / 4), _nice(top / 20)):
                d = self.dmax * np.sqrt(ref / self.vmax)
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        markersize=d,
                        markerfacecolor=CIRCLE_COLOR,
                        markeredgecolor="white",
                        alpha=0.82,
                        label=fr_number(ref),
                    )
                )
        etats = set(gdf_all["etat"])
        if "secret" in etats:
            handles.append(Patch(**SECRET_STYLE, label="s : secret statistique"))
        if "nd" in etats:
            handles.append(Patch(**ND_STYLE, label="n.d. : non disponible"))
        return handles

    def legend_title(self) -> str:
        if self.spec.kind == "choropleth":
            return f"{self.spec.legend_title}\n{self.classes.method_label}, {self.classes.k} classes"
        return f"{self.spec.legend_title}\n(surface proportionnelle)"


TITLE_SIZE, UNIT_SIZE, FOOT_SIZE = 13.0, 9.5, 7.5
MARGIN = 0.25  # inches, left and right


def _wrap(text: str, width_in: float, fontsize: float, bold: bool = False) -> list[str]:
    """Wrap ``text`` to ``width_in`` inches at ``fontsize`` (DejaVu Sans average character widths)."""
    per_char = fontsize * (0.62 if bold else 0.54) / 72
    return textwrap.wrap(text, max(20, int(width_in / per_char)))


@dataclass
class _Texts:
    """Title and unit above the map; Lecture, Champ, Source below; heights in inches for the layout."""

    title: list[str]
    unit: str
    footer: list[str]
    title_size: float = TITLE_SIZE

    @classmethod
    def make(cls, spec: MapSpec, title: str, lecture: str, width: float, title_size: float = TITLE_SIZE):
        text_w = width - 2 * MARGIN
        footer = _wrap(lecture, text_w, FOOT_SIZE) + _wrap(spec.champ, text_w, FOOT_SIZE) + [SOURCE]
        return cls(_wrap(title, text_w, title_size, bold=True), spec.unit, footer, title_size)

    @property
    def header_h(self) -> float:
        return 0.2 + len(self.title) * self.title_size * 1.25 / 72 + 0.08 + UNIT_SIZE * 1.3 / 72 + 0.15

    @property
    def footer_h(self) -> float:
        return 0.12 + len(self.footer) * FOOT_SIZE * 1.45 / 72 + 0.1

    def draw(self, fig) -> None:
        w, h = fig.get_figwidth(), fig.get_figheight()
        x = MARGIN / w
        fig.text(
            x,
            1 - 0.2 / h,
            "\n".join(self.title),
            fontsize=self.title_size,
            fontweight="bold",
            va="top",
            color="#1a1a1a",
            linespacing=1.15,
        )
        y_unit = 0.2 + len(self.title) * self.title_size * 1.25 / 72 + 0.08
        fig.text(x, 1 - y_unit / h, self.unit, fontsize=UNIT_SIZE, va="top", color=TEXT_GREY)
        fig.text(
            x,
            (self.footer_h - 0.12) / h,
            "\n".join(self.footer),
            fontsize=FOOT_SIZE,
            va="top",
            color=TEXT_GREY,
            linespacing=1.45,
        )


def _legend(
    ax, drawing: _Drawing, gdf_all, loc="lower left", anchor=(0.0, 0.0), counts=True, title: str | None = None
):
    leg = ax.legend(
        handles=drawing.legend_handles(gdf_all, counts),
        title=title or drawing.legend_title(),
        loc=loc,
        bbox_to_anchor=anchor,
        frameon=False,
        fontsize=7.5,
        title_fontsize=8,
        alignment="left",
        labelspacing=1.1 if drawing.spec.kind == "circles" else 0.5,
        handlelength=1.6 if drawing.spec.kind == "choropleth" else 2.4,
        handleheight=1.1,
        borderaxespad=0.2,
    )
    leg.set_gid("legende")
    return leg


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=100)


def _paris_inset(ax, drawing: _Drawing, metro) -> None:
    """The département map's inset of Paris and the petite couronne (codes written on them), and its frame
    on the main map."""
    import matplotlib.patches as mpatches

    pc = metro[metro["code"].isin(PETITE_COURONNE)]
    inset = ax.inset_axes((0.80, 0.47, 0.20, 0.25), label="paris")
    _frame(inset)
    drawing.draw(inset, pc, linewidth=0.8)
    _fit(inset, pc.total_bounds, 0.06)
    for _, row in pc.iterrows():
        p = row.geometry.representative_point()
        inset.text(
            p.x,
            p.y,
            row["code"],
            fontsize=6.5,
            color="#1a1a1a",
            ha="center",
            va="center",
            path_effects=_halo(),
            zorder=4,
        )
    inset.set_title("Paris et petite couronne", fontsize=7, color=TEXT_GREY, pad=2)
    x0, y0, x1, y1 = pc.total_bounds
    frame = mpatches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#333333", linewidth=0.6)
    ax.add_patch(frame)


def draw_map(table: pd.DataFrame, spec: MapSpec, cache_dir: Path | None = None, geo: _Geo | None = None):
    """The matplotlib Figure of one national map (France with overseas insets; Paris zoom on département maps).

    Axes are named by their label: ``metropole``, ``dom-971``…``dom-976``, ``paris`` (département maps).
    Secret territories are drawn by collections with gid ``secret``; the legend has gid ``legende``.
    """
    geo = geo or _Geo(cache_dir)
    millesime = _millesime(table)
    values = indicator_values(table, spec.indicateur, spec.niveau)
    layer = _state(geo.layers[spec.niveau], values)
    if spec.kind == "choropleth":
        classes = classify(layer["valeur"])
        drawing = _Drawing(spec, classes, class_colors(spec.cmap, classes.k))
    else:
        vmax = float(layer["valeur"].max()) if layer["valeur"].notna().any() else 0.0
        if vmax <= 0:
            raise TooFewTerritories(f"no published '{spec.indicateur}' value to draw circles")
        drawing = _Drawing(spec, None, [], vmax=vmax)

    metro = geo.metro(layer, spec.niveau)
    minx, miny, maxx, maxy = metro.total_bounds
    xlim, ylim = (minx - 120_000, maxx + 180_000), (miny - 15_000, maxy + 20_000)
    width = 8.27
    texts = _Texts.make(spec, f"{spec.title}, {millesime}", _lecture(spec, values, millesime), width)
    map_w = width - 2 * MARGIN
    map_h = map_w * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    dom_h, dom_gap = 1.15, 0.25
    height = texts.header_h + map_h + 0.3 + dom_h + dom_gap + texts.footer_h
    fig = _figure((width, height))
    dom_y = texts.footer_h + dom_gap
    ax = fig.add_axes(
        (MARGIN / width, (dom_y + dom_h + 0.3) / height, map_w / width, map_h / height), label="metropole"
    )
    _bare(ax)
    regions = geo.metro(geo.layers["region"], "region") if spec.niveau == "departement" else None
    drawing.draw(ax, metro, regions)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    _legend(ax, drawing, layer)

    if spec.niveau == "departement":
        _paris_inset(ax, drawing, metro)

    box_w = (map_w - 4 * 0.15) / 5
    for i, (dep, (name, _crs)) in enumerate(DOM.items()):
        dax = fig.add_axes(
            ((MARGIN + i * (box_w + 0.15)) / width, dom_y / height, box_w / width, dom_h / height),
            label=f"dom-{dep}",
        )
        _frame(dax)
        part = geo.dom(layer, spec.niveau, dep)
        drawing.draw(dax, part)
        _fit(dax, part.total_bounds, 0.1)
        dax.set_title(name, fontsize=7.5, color=TEXT_GREY, pad=2)

    texts.draw(fig)
    return fig


def save_figure(fig, path: Path, title: str | None = None, description: str | None = None) -> Path:
    """Write ``fig`` atomically; the format is the suffix of ``path`` (png, svg, pdf).

    ``title`` and ``description`` (the map's text alternative, :func:`map_alt`) go into the file: the SVG's
    ``<title>`` and ``<desc>`` (what a screen reader says of an SVG opened on its own), the PNG's ``Title``
    and ``Description`` text chunks.
    """
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    metadata = {"Title": title, "Description": description} if fmt == "png" and description else None
    with matplotlib.rc_context({"svg.fonttype": "none"}), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=DPI, facecolor="white", metadata=metadata)
        if fmt == "svg" and description:
            _describe_svg(tmp, title or "", description)
        os.chmod(tmp, 0o644)
    return path


def _describe_svg(path: Path, title: str, description: str) -> None:
    """Put ``<title>`` and ``<desc>`` first in the SVG's root element, with ``role="img"``."""
    from xml.sax.saxutils import escape

    text = path.read_text(encoding="utf-8")
    start = text.index("<svg")
    end = text.index(">", start)
    head = text[start:end].replace("<svg", '<svg role="img" aria-labelledby="titre description"', 1)
    tags = f'<title id="titre">{escape(title)}</title><desc id="description">{escape(description)}</desc>'
    path.write_text(text[:start] + head + ">" + tags + text[end + 1 :], encoding="utf-8")


# --------------------------------------------------------------------------------------------- region map
def region_map(table: pd.DataFrame, code_region: str, path: Path, cache_dir: Path | None = None) -> Path:
    """Map of one région's départements (ESS share of all employment), for the regional panorama.

    Classes are the national ones (Fisher-Jenks on all départements), so a région's map reads against the
    France map; neighbouring départements are drawn in light grey for context. Writes ``path`` (PNG, or
    the format of its suffix) atomically and returns it.
    """
    spec = MAPS[0]
    geo = _Geo(cache_dir)
    millesime = _millesime(table)
    values = indicator_values(table, spec.indicateur, "departement")
    layer = _state(geo.layers["departement"], values)
    inside = layer["code_region"] == code_region
    if not inside.any():
        raise PublicationError(f"unknown région code {code_region!r}")
    libelle = geo.layers["region"].set_index("code").loc[code_region, "libelle"]
    classes = classify(layer["valeur"])
    drawing = _Drawing(spec, classes, class_colors(spec.cmap, classes.k))
    crs = DOM[REGION_DOM[code_region]][1] if code_region in REGION_DOM else LAMBERT93
    projected = layer.to_crs(crs)
    part = projected[inside.to_numpy()]

    minx, miny, maxx, maxy = part.total_bounds
    pad = max(maxx - minx, maxy - miny) * 0.05
    window = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    aspect = (window[3] - window[1]) / (window[2] - window[0])
    width, legend_w = 7.0, 2.1
    title = f"{spec.title.split(',')[0]} — {libelle}, {millesime}"
    region_values = values[values["code"].isin(part["code"])]
    texts = _Texts.make(spec, title, _lecture(spec, region_values, millesime), width, title_size=11.5)
    map_w = width - 2 * MARGIN - legend_w
    map_h = min(map_w * aspect, 5.2)
    map_w = map_h / aspect
    height = texts.header_h + map_h + 0.15 + texts.footer_h
    fig = _figure((width, height))
    bottom = (texts.footer_h + 0.15) / height
    ax = fig.add_axes((MARGIN / width, bottom, map_w / width, map_h / height), label="region")
    _bare(ax)
    if code_region not in REGION_DOM:
        context = projected[~inside.to_numpy()].cx[window[0] : window[2], window[1] : window[3]]
        if len(context):
            context.plot(ax=ax, color="#f2f2f2", edgecolor="white", linewidth=0.5)
    drawing.draw(ax, part, linewidth=0.7)
    part.dissolve().boundary.plot(ax=ax, color="#4d4d4d", linewidth=0.9)
    ax.set_xlim(window[0], window[2])
    ax.set_ylim(window[1], window[3])
    aside = _label_departements(ax, part, inches_per_unit=map_w / (window[2] - window[0]))
    leg_ax = fig.add_axes(
        ((width - MARGIN - legend_w + 0.15) / width, bottom, (legend_w - 0.15) / width, map_h / height),
        label="legende",
    )
    leg_ax.set_axis_off()
    legend_title = f"{spec.legend_title}\nclasses nationales :\n{classes.method_label}, {classes.k} classes"
    _legend(leg_ax, drawing, part, loc="center left", anchor=(0.0, 0.5), counts=False, title=legend_title)
    if aside:
        leg_ax.text(0.0, 0.02, "\n".join(aside), fontsize=7, va="bottom", color=TEXT_GREY, linespacing=1.4)
    texts.draw(fig)
    return save_figure(fig, path)


def _label_departements(ax, part, inches_per_unit: float) -> list[str]:
    """Label each département with its name (or code) and value, with a white halo.

    A département too small on the map for its code and value gets its code only (or nothing); the
    returned lines (``75 Paris : 14,3 %``) give their values beside the map.
    """
    aside = []
    for _, row in part.sort_values("code").iterrows():
        p = row.geometry.representative_point()
        x0, y0, x1, y1 = row.geometry.bounds
        size_in = min(x1 - x0, y1 - y0) * inches_per_unit
        if row["etat"] == "secret":
            value = "s"
        elif row["etat"] == "nd":
            value = "n.d."
        else:
            value = f"{fr_number(row['valeur'], 1)}{NBSP}%"
        if size_in >= 0.45 and len(row["libelle"]) * 6.5 * 0.54 / 72 < 0.8 * (x1 - x0) * inches_per_unit:
            text = f"{row['libelle']}\n{value}"
        elif size_in >= 0.55:
            text = f"{row['code']}\n{value}"
        else:
            text = row["code"] if size_in >= 0.2 else None
            aside.append(f"{row['code']} {row['libelle']} : {value}")
        if text:
            ax.text(
                p.x,
                p.y,
                text,
                fontsize=6.5,
                ha="center",
                va="center",
                color="#1a1a1a",
                path_effects=_halo(),
                linespacing=1.1,
                zorder=4,
            )
    return aside


# --------------------------------------------------------------------------------------------- outputs
def write_map_csv(table: pd.DataFrame, spec: MapSpec, path: Path) -> Path:
    """The data table of a national map: every territory of its level (code order) with the value it draws,
    by the documents' CSV writer (``;``, ``,`` decimals, UTF-8 BOM, percentages 0–100, ``s`` when secret,
    empty when not available)."""
    from observatory.publish import model, render

    values = indicator_values(table, spec.indicateur, spec.niveau).set_index("code")
    ref = cog.departements() if spec.niveau == "departement" else cog.regions()
    code_col = "code_departement" if spec.niveau == "departement" else "code_region"
    rows = []
    for code, libelle in zip(ref[code_col], ref["libelle"], strict=True):
        if code not in values.index:
            cell = model.Cell(None, "absent")
        else:
            v = values.loc[code]
            pct = v["unite"] == "pourcent"
            value = None if pd.isna(v["valeur"]) else float(v["valeur"]) / (100 if pct else 1)
            statut = v["statut"] if str(v["statut"]).startswith("secret") or value is not None else "absent"
            cell = model.Cell(value, statut, "pourcent" if pct else "nombre")
        rows.append([code, libelle, cell])
    level = "Département" if spec.niveau == "departement" else "Région"
    fig = model.Figure(
        spec.name, spec.title, spec.unit, spec.champ, "", ["Code", level, spec.title.split(",")[0]], rows
    )
    return render.write_csv(fig, path)


def write_geopackage(
    table: pd.DataFrame, path: Path, cache_dir: Path | None = None, geo: _Geo | None = None
) -> Path:
    """``indicateurs.gpkg``: layers ``departements`` and ``regions`` (WGS 84) with the mapped indicators.

    For each indicator: ``<indicateur>`` (NULL when secret or not available) and ``<indicateur>_statut``
    (``publie``, ``secret_primaire``, ``secret_secondaire``, or ``nd``). Written atomically with pyogrio.
    """
    import pyogrio

    geo = geo or _Geo(cache_dir)
    path = Path(path)
    layers = {}
    for niveau, name in (("departement", "departements"), ("region", "regions")):
        gdf = geo.layers[niveau].copy()
        for ind in dict.fromkeys(s.indicateur for s in MAPS):
            values = indicator_values(table, ind, niveau)
            st = _state(geo.layers[niveau][["code"]], values)
            gdf[ind] = st["valeur"].to_numpy()
            gdf[f"{ind}_statut"] = st["statut"].to_numpy()
        layers[name] = gdf
    with atomic_path(path) as tmp:
        work = tmp.with_name(tmp.name + ".gpkg")
        try:
            for name, gdf in layers.items():
                pyogrio.write_dataframe(gdf, work, layer=name, driver="GPKG", append=work.exists())
            os.replace(work, tmp)
            os.chmod(tmp, 0o644)
        finally:
            work.unlink(missing_ok=True)
    return path


def render_maps(
    table: pd.DataFrame, out_dir: Path, cache_dir: Path | None = None, skipped: dict[str, str] | None = None
) -> list[Path]:
    """Render every national map of the vintage into ``out_dir/cartes/``: PNG and SVG, the CSV of the values
    each map draws, and the GeoPackage.

    ``out_dir`` is the vintage's publication folder (``output/<millesime>/``); ``table`` the published
    indicator table. A map that too few territories can fill (:class:`TooFewTerritories`: an extract of one
    or a few régions) is not drawn: its files of an earlier publication are removed, and its name and the
    reason go into ``skipped`` when given. Returns the paths written.
    """
    geo = _Geo(cache_dir)
    cartes = Path(out_dir) / "cartes"
    written = []
    millesime = _millesime(table)
    for spec in MAPS:
        try:
            fig = draw_map(table, spec, geo=geo)
        except TooFewTerritories as exc:
            for ext in ("png", "svg", "csv"):
                (cartes / f"{spec.name}.{ext}").unlink(missing_ok=True)
            if skipped is not None:
                skipped[spec.name] = str(exc)
            continue
        description = map_alt(table, spec)
        for ext in ("png", "svg"):
            path = cartes / f"{spec.name}.{ext}"
            written.append(save_figure(fig, path, f"{spec.title}, {millesime}", description))
        written.append(write_map_csv(table, spec, cartes / f"{spec.name}.csv"))
    written.append(write_geopackage(table, cartes / "indicateurs.gpkg", geo=geo))
    return written
