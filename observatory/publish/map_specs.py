"""The maps' content, apart from their drawing (:mod:`observatory.publish.maps`): which maps are made
(:data:`MAPS`), the one figure per territory each reads from the published indicator table, their classes
(Fisher-Jenks or quantiles, 4–6 classes), and the words around them (the "Lecture :" sentence, the text
alternative)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from observatory.errors import PublicationError
from observatory.publish import fmt
from observatory.reference import cog

SOURCE = "Source : Insee (SIRENE, Base Tous salariés) — traitement Observatoire de l'ESS"
METHODS = {"fisher_jenks": "Fisher-Jenks", "quantiles": "quantiles"}
K_RANGE = (4, 6)
NBSP = "\u00a0"
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
