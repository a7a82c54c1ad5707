"""Maps of the indicator table: choropleths of shares, proportional circles of counts (INSEE conventions).

Every map follows ``shared/domain/products.md`` §4: metropolitan France in Lambert-93 (EPSG:2154), each
overseas département in its own inset in its local projection (971/972 EPSG:5490, 973 EPSG:2972, 974
EPSG:2975, 976 EPSG:4471), a Paris + petite couronne zoom on département maps drawn with the *same* classes,
choropleths for rates and shares only (Fisher-Jenks or quantiles, 4–6 classes, method and bounds in the
legend), proportional circles for counts, secret cells hatched grey with an ``s`` legend entry, "n.d." (never
zero) where a source excludes a territory (Mayotte). Every map carries a title, the unit, the source, the
field (*champ*) and a "Lecture :" sentence.

The maps read only the published indicator table (``output/<millesime>/tables/indicateurs.parquet``) and the
geometries of :mod:`observatory.reference.geo`. Files are written atomically.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish import fmt
from observatory.reference import cog

SOURCE = "Source : Insee (SIRENE, Base Tous salariés) — traitement Observatoire de l'ESS"
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
METHODS = {"fisher_jenks": "Fisher-Jenks", "quantiles": "quantiles"}
K_RANGE = (4, 6)
DPI = 200
NBSP = "\u00a0"

SECRET_STYLE = {"facecolor": "#d9d9d9", "edgecolor": "#8c8c8c", "hatch": "//////", "linewidth": 0.4}
ND_STYLE = {"facecolor": "#ffffff", "edgecolor": "#a6a6a6", "linewidth": 0.4}
BACKGROUND = "#eeeeee"
CIRCLE_COLOR = "#1f7a74"
TEXT_GREY = "#404040"
# Charnière of the COG "type de nom en clair" (TNCC): "du Rhône", "de la Lozère", "de l'Ain"...
_CHARNIERE = {"0": "de ", "1": "d'", "2": "du ", "3": "de la ", "4": "des ", "5": "de l'", "6": "des "}


# --------------------------------------------------------------------------------------------- formatting
def fr_number(x: float, decimals: int = 0) -> str:
    """French number format (``2 600 000``, ``13,7``), the one of every publication (:mod:`.fmt`)."""
    return fmt.nombre(x, decimals)


def _de(niveau: str, code: str, libelle: str) -> str:
    """The territory after "de": ``du département de la Lozère``, ``des Hauts-de-France``."""
    types = _type_nom(niveau)
    charniere = _CHARNIERE.get(types.get(code, "0"), "de ")
    if niveau == "departement":
        return f"du département {charniere}{libelle}"
    return f"{charniere}{libelle}"


@lru_cache(maxsize=2)
def _type_nom(niveau: str) -> dict[str, str]:
    return cog.type_nom("departement" if niveau == "departement" else "region")


# --------------------------------------------------------------------------------------------- data
def indicator_values(table: pd.DataFrame, indicateur: str, niveau: str, champ: str = "ess") -> pd.DataFrame:
    """One figure per territory: the cell ``famille='toutes'``, ``secteur='tous'``, all sizes, sexes, PCS.

    Returns ``code``, ``libelle``, ``valeur`` (float, NaN when secret), ``statut``, ``unite``. A share
    (``unite='pourcent'``) is in percent (0–100). Raises :class:`PublicationError` when a territory has
    more than one such cell.
    """
    sel = table[
        (table["niveau"] == niveau)
        & (table["champ"] == champ)
        & (table["indicateur"] == indicateur)
        & (table["famille"] == "toutes")
        & (table["secteur"] == "tous")
        & (table["tranche"] == "toutes")
        & (table["sexe"] == "tous")
        & (table["pcs"] == "toutes")
    ]
    dup = sel["code"][sel["code"].duplicated()]
    if len(dup):
        raise PublicationError(
            f"indicator table: several '{indicateur}' cells for {niveau} {', '.join(dup.unique()[:5])}"
        )
    out = sel[["code", "libelle", "valeur", "statut", "unite"]].reset_index(drop=True)
    out["valeur"] = pd.to_numeric(out["valeur"], errors="coerce").astype("float64")
    out.loc[out["statut"].astype(str).str.startswith("secret"), "valeur"] = np.nan
    return out


def _millesime(table: pd.DataFrame) -> int:
    years = pd.unique(table["millesime"])
    if len(years) != 1:
        raise PublicationError(f"indicator table: expected one vintage, found {sorted(years)}")
    return int(years[0])


def _state(geo, values: pd.DataFrame):
    """Join values onto the layer: ``valeur``, ``statut``, ``etat`` (``valeur``, ``secret``, ``nd``)."""
    out = geo.merge(values[["code", "valeur", "statut"]], on="code", how="left")
    secret = out["statut"].astype("string").str.startswith("secret").fillna(False).astype(bool)
    out["etat"] = np.where(secret, "secret", np.where(out["valeur"].notna(), "valeur", "nd"))
    out["statut"] = out["statut"].fillna("nd")
    return out


# --------------------------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class Classes:
    """Class breaks of a choropleth: class ``i`` holds ``bounds[i] < x <= bounds[i+1]`` (the first includes
    its lower bound). ``counts`` are the territories in each class; none is empty."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    method: str

    @property
    def k(self) -> int:
        return len(self.counts)

    @property
    def method_label(self) -> str:
        return METHODS[self.method]

    def classify(self, values) -> np.ndarray:
        """Class index (0..k-1) of each value; -1 for NaN."""
        v = np.asarray(values, dtype=float)
        idx = np.searchsorted(np.asarray(self.bounds[1:-1]), v, side="left")
        return np.where(np.isnan(v), -1, idx)

    def decimals(self, base: int = 1) -> int:
        """The fewest decimals (from ``base``) that keep distinct bounds distinct when printed.

        A class holding one value has equal bounds (``de 2,6 à 2,6``): they need not print apart.
        """
        distinct = len({round(float(b), 9) for b in self.bounds})
        for d in range(base, 4):
            printed = [fr_number(b, d) for b in self.bounds]
            if len(set(printed)) == distinct:
                return d
        return 3

    def labels(self, decimals: int | None = None, counts: bool = True) -> list[str]:
        """Legend texts: ``de 7,0 à 9,8 (21)``, ``plus de 9,8 à 11,2 (30)``..."""
        d = self.decimals() if decimals is None else decimals
        out = []
        for i in range(self.k):
            lo, hi = fr_number(self.bounds[i], d), fr_number(self.bounds[i + 1], d)
            text = f"de {lo} à {hi}" if i == 0 else f"plus de {lo} à {hi}"
            out.append(f"{text} ({self.counts[i]})" if counts else text)
        return out


class TooFewTerritories(PublicationError):
    """A national map cannot be drawn: too few territories carry a published value (an extract that covers
    one or a few régions, or a level mostly secret)."""


def classify(values, k: int = 5, method: str = "fisher_jenks", k_range: tuple[int, int] = K_RANGE) -> Classes:
    """Classes for a choropleth with mapclassify, never with an empty class.

    Tries ``k`` classes, then the other counts of ``k_range`` nearest to it (smaller first); keeps the first
    classification where every class holds at least one territory and the bounds are strictly increasing.
    Quantiles that cannot (ties) fall back to Fisher-Jenks; the method used is in the result. Raises :class:`PublicationError` when the data cannot support ``k_range[0]`` classes.
    """
    import warnings

    import mapclassify

    if method not in METHODS:
        raise PublicationError(f"unknown classification method {method!r}: expected {', '.join(METHODS)}")
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    distinct = len(np.unique(v))
    if distinct < k_range[0]:
        raise TooFewTerritories(
            f"cannot classify: {distinct} distinct value(s) among {len(v)} territories, "
            f"at least {k_range[0]} needed for {k_range[0]} classes"
        )
    order = sorted(range(k_range[0], k_range[1] + 1), key=lambda n: (abs(n - k), n > k))
    for n in order:
        if n > distinct:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "fisher_jenks":
                c = mapclassify.FisherJenks(v, k=n)
            else:
                c = mapclassify.Quantiles(v, k=n)
        bins = np.asarray(c.bins, dtype=float)
        counts = np.asarray(c.counts)
        if len(bins) == n and (counts >= 1).all() and (np.diff(bins) > 0).all():
            bounds = (float(v.min()), *map(float, bins))
            return Classes(bounds=bounds, counts=tuple(int(x) for x in counts), method=method)
    if method == "quantiles":  # heavy ties defeat quantiles: natural breaks still separate the values
        return classify(v, k, "fisher_jenks", k_range)
    raise PublicationError(
        f"cannot make {k_range[0]}–{k_range[1]} non-empty {METHODS[method]} classes from {len(v)} values"
    )


def class_colors(cmap: str, k: int) -> list[str]:
    """``k`` colours of a sequential matplotlib colormap, light to dark (avoiding its near-white end).

    The span 0.12–0.95 keeps two neighbouring classes 10 or more apart (CIE ΔE) for readers with
    protanopia, deuteranopia or tritanopia too, for 4 to 6 classes (``tests/test_accessibility.py``).
    """
    import matplotlib
    from matplotlib.colors import to_hex

    cm = matplotlib.colormaps[cmap]
    return [to_hex(cm(x)) for x in np.linspace(0.12, 0.95, k)]


# --------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class MapSpec:
    """One published map: which cell of the table, how it is drawn, and its texts."""

    name: str
    indicateur: str
    niveau: str
    kind: str  # "choropleth" or "circles"
    title: str
    unit: str
    champ: str
    lecture: Callable[[str, str, int], str]  # (territory after "de", formatted value, millesime) -> sentence
    cmap: str = "YlGnBu"
    legend_title: str = ""


_CHAMP_EMPLOI = (
    "Champ : établissements employeurs de l'ESS, salariés au 31/12 ; emploi salarié total "
    "(public et privé) au dénominateur."
)
MAPS = (
    MapSpec(
        name="part-ess-emploi-departements",
        indicateur="part_emploi_total",
        niveau="departement",
        kind="choropleth",
        title="Part de l'ESS dans l'emploi salarié, par département",
        unit="En % de l'emploi salarié total",
        champ=_CHAMP_EMPLOI,
        lecture=lambda de, v, y: f"en {y}, l'ESS représente {v} de l'emploi salarié {de}.",
        legend_title="Part de l'ESS (en %)",
    ),
    MapSpec(
        name="part-ess-emploi-regions",
        indicateur="part_emploi_total",
        niveau="region",
        kind="choropleth",
        title="Part de l'ESS dans l'emploi salarié, par région",
        unit="En % de l'emploi salarié total",
        champ=_CHAMP_EMPLOI,
        lecture=lambda de, v, y: f"en {y}, l'ESS représente {v} de l'emploi salarié {de}.",
        legend_title="Part de l'ESS (en %)",
    ),
    MapSpec(
        name="effectifs-ess-departements",
        indicateur="effectif_31_12",
        niveau="departement",
        kind="circles",
        title="Emploi salarié dans l'ESS, par département",
        unit="Nombre de salariés au 31/12",
        champ="Champ : établissements employeurs de l'ESS, salariés au 31/12 (postes non annexes).",
        lecture=lambda de, v, y: (
            f"en {y}, l'ESS emploie {v} salariés au 31/12 {de.replace('du ', 'dans le ', 1)}."
        ),
        legend_title="Salariés de l'ESS",
    ),
    MapSpec(
        name="part-femmes-ess-departements",
        indicateur="part_femmes",
        niveau="departement",
        kind="choropleth",
        title="Part des femmes parmi les salariés de l'ESS, par département",
        unit="En % des salariés de l'ESS au 31/12",
        champ="Champ : établissements employeurs de l'ESS, salariés au 31/12.",
        lecture=lambda de, v, y: f"en {y}, {v} des salariés de l'ESS {de} sont des femmes.",
        cmap="RdPu",
        legend_title="Part des femmes (en %)",
    ),
    MapSpec(
        name="ecart-salarial-fh-ess-departements",
        indicateur="ecart_salarial_fh",
        niveau="departement",
        kind="choropleth",
        title="Écart de salaire entre femmes et hommes dans l'ESS, par département",
        unit="Écart de salaire net horaire moyen, en % du salaire des hommes",
        champ="Champ : postes non annexes des établissements employeurs de l'ESS ; salaire net horaire moyen.",
        lecture=lambda de, v, y: (
            f"en {y}, dans l'ESS {de}, le salaire net horaire moyen des femmes est inférieur de {v} "
            "à celui des hommes."
        ),
        cmap="OrRd",
        legend_title="Écart F/H (en %)",
    ),
)


def _format_value(value: float, unite: str) -> str:
    if unite == "pourcent":
        return f"{fr_number(value, 1)}{NBSP}%"
    return fr_number(value, 0)


def _lecture(spec: MapSpec, values: pd.DataFrame, millesime: int) -> str:
    """The "Lecture :" sentence, read on the territory with the highest published value."""
    pub = values[values["valeur"].notna()]
    if pub.empty:
        return "Lecture : aucune valeur publiable."
    top = pub.loc[pub["valeur"].idxmax()]
    de = _de(spec.niveau, top["code"], top["libelle"])
    return "Lecture : " + spec.lecture(de, _format_value(top["valeur"], top["unite"]), millesime)


def map_alt(table: pd.DataFrame, spec: MapSpec) -> str:
    """The text alternative of a national map, in French, from the cells it draws, as the map prints them.

    What a sighted reader takes from it: the highest value (the map's "Lecture :" territory) and the lowest,
    how many territories are under statistical secrecy or not available, then every territory's value from
    the highest to the lowest (secret ones said "secret statistique", territories outside the source
    "non disponible"). Written into the SVG (``<title>``/``<desc>``) and PNG files and shown beside the
    map's links in the portal (:func:`observatory.publish.alt.listing`, the documents' wording).
    """
    from observatory.publish import alt

    millesime = _millesime(table)
    values = indicator_values(table, spec.indicateur, spec.niveau)
    ref = cog.departements() if spec.niveau == "departement" else cog.regions()
    code_col = "code_departement" if spec.niveau == "departement" else "code_region"
    names = dict(zip(ref[code_col], ref["libelle"], strict=True))
    by_code = values.set_index("code")
    pub = values[values["valeur"].notna()].sort_values(["valeur", "code"], ascending=[False, True])
    secret = [c for c in names if c in by_code.index and str(by_code.at[c, "statut"]).startswith("secret")]
    nd = [c for c in names if c not in set(pub["code"]) and c not in secret]
    level = "départements" if spec.niveau == "departement" else "régions"
    unit = spec.unit[0].lower() + spec.unit[1:]
    parts = [f"Carte de France, {millesime} : {spec.title[0].lower()}{spec.title[1:]} ({unit})."]
    if len(pub):

        def where(value: float) -> str:  # every territory at that value, in code order
            return ", ".join(names.get(r.code, r.libelle) for r in pub[pub["valeur"] == value].itertuples())

        top, low = pub.iloc[0], pub.iloc[-1]
        parts.append(
            f"La valeur la plus forte est {_format_value(top['valeur'], top['unite'])} ({where(top['valeur'])}), "
            f"la plus faible {_format_value(low['valeur'], low['unite'])} ({where(low['valeur'])})."
        )
    if secret:
        parts.append(f"{len(secret)} {level if len(secret) > 1 else level[:-1]} sous secret statistique.")
    if nd:
        parts.append(f"Non disponible : {', '.join(names[c] for c in nd)}.")
    items = [(names.get(r.code, r.libelle), _format_value(r.valeur, r.unite)) for r in pub.itertuples()]
    items += [(names[c], fmt.SECRET) for c in secret] + [(names[c], fmt.MISSING) for c in nd]
    parts.append(alt.listing("Valeurs, de la plus forte à la plus faible", items))
    return " ".join(parts)


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
