"""The publications' model: labels and sources, one :class:`Cell`, the indicator table's reader
(:class:`IndicatorTable`, :class:`Territory`) and one document structure (:class:`Document` of
:class:`Section` of :class:`Figure`).

Shares: the table stores them with ``unite='pourcent'`` in percent (0–100); :meth:`Territory.get` is the
one place that turns them into fractions. Ranks of départements (``rang_region``, ``rang_france``) are read
as ranks by ESS salaried headcount. Exported values (:func:`export_value`) keep the table's publication
precision, in the CSV and the XLSX alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from observatory.errors import PublicationError
from observatory.publish import fmt
from observatory.reference.indicateurs import to_natural

TEMPLATES = Path(__file__).resolve().parent / "templates"
SOURCE = "Source : Insee (SIRENE, Base Tous salariés) — traitement Observatoire de l'ESS"
NOTE_SECRET = "s : secret statistique (cellule masquée pour protéger les données individuelles)."

CHAMPS = {
    "ess": "ESS",
    "prive_hors_ess": "Privé hors ESS",
    "public": "Public",
    "prive": "Privé",
    "ensemble": "Ensemble",
}
FAMILLES = {
    "association": "Associations",
    "cooperative": "Coopératives",
    "mutuelle": "Mutuelles",
    "fondation": "Fondations",
    "autre_obnl": "Autres OBNL",
    "societe_commerciale_ess": "Sociétés commerciales de l'ESS",
}
FAMILLES_SING = {
    "association": "les associations",
    "cooperative": "les coopératives",
    "mutuelle": "les mutuelles",
    "fondation": "les fondations",
    "autre_obnl": "les autres OBNL",
    "societe_commerciale_ess": "les sociétés commerciales de l'ESS",
}
TRANCHES = {
    "0": "0 salarié au 31/12",
    "1-9": "1 à 9 salariés",
    "10-49": "10 à 49 salariés",
    "50-249": "50 à 249 salariés",
    "250+": "250 salariés ou plus",
}
PCS = {
    "cadres": "Cadres",
    "prof_intermediaires": "Professions intermédiaires",
    "employes": "Employés",
    "ouvriers": "Ouvriers",
}
SECTEURS = {
    "AGR": "Agriculture, sylviculture et pêche",
    "IND": "Industrie et construction",
    "COM": "Commerce",
    "TRA": "Transports et entreposage",
    "HEB": "Hébergement et restauration",
    "INF": "Information et communication",
    "FIN": "Activités financières et d'assurance",
    "IMM": "Activités immobilières",
    "SOU": "Soutien aux entreprises",
    "ADM": "Administration publique",
    "ENS": "Enseignement",
    "SAN": "Santé humaine",
    "HMS": "Hébergement médico-social et social",
    "ASS": "Action sociale sans hébergement",
    "ART": "Arts et spectacles",
    "SPO": "Sports et loisirs",
    "AUT": "Autres activités de services",
    "NCL": "Non classé",
}
"""Sector labels (perimeter.md §6), short enough for a chart axis."""

CHAMP_EMPLOI = "établissements employeurs, effectifs salariés au 31/12"
CHAMP_POSTES = "postes non annexes au 31/12"
CHAMP_SALAIRES = "postes non annexes, salaire net horaire moyen"

SECTION_TITLES = {
    "panorama": [
        "Chiffres clés",
        "Les familles de l'ESS",
        "Les secteurs d'activité",
        "La taille des établissements",
        "Les départements",
        "Les emplois",
        "Égalité femmes-hommes",
        "L'évolution de l'emploi",
        "Méthodologie",
    ],
    "plaquette": [
        "Chiffres clés",
        "Poids dans la région",
        "Les familles de l'ESS",
        "Les principaux secteurs",
        "Égalité femmes-hommes",
        "Méthodologie",
    ],
    "egalite": [
        "Salaires selon le sexe et la catégorie socioprofessionnelle",
        "Temps partiel",
        "Accès aux postes de cadres",
        "Part des femmes par famille et par secteur",
        "La pyramide des âges",
        "Méthodologie",
    ],
    "portrait": [
        "Chiffres clés",
        "Comparaison territoriale",
        "Les familles de l'ESS",
        "Secteurs et taille des établissements",
        "Égalité femmes-hommes",
        "Méthodologie",
    ],
}
"""The section titles every document of a kind carries, in order (checked by the layout check)."""

AGES = {
    "effectif_age_moins_25": "Moins de 25 ans",
    "effectif_age_25_34": "25 à 34 ans",
    "effectif_age_35_44": "35 à 44 ans",
    "effectif_age_45_54": "45 à 54 ans",
    "effectif_age_55_plus": "55 ans ou plus",
}
"""Age bands of the headcount at 31/12 (indicator codes), youngest first."""

TITRE_PYRAMIDE = "Pyramide des âges des salariés de l'ESS"
PYRAMIDE_ABSENTE = (
    "La pyramide des âges n'est pas disponible : la table des indicateurs de ce millésime ne contient pas "
    "les effectifs par tranche d'âge."
)
TITRE_EVOLUTION = "Évolution de l'effectif salarié au 31/12"
EVOLUTION_ABSENTE = "Aucun millésime antérieur n'est publié : l'évolution ne peut pas encore être présentée."
REQUIRED_CONTENT = {
    "panorama": [(TITRE_PYRAMIDE, PYRAMIDE_ABSENTE), (TITRE_EVOLUTION, EVOLUTION_ABSENTE)],
    "plaquette": [("Évolution", EVOLUTION_ABSENTE)],
    "egalite": [(TITRE_PYRAMIDE, PYRAMIDE_ABSENTE)],
}
"""Per document kind, figures that must be there — or the sentence saying why not (layout check)."""
VINTAGES_SHOWN = 5
"""Most vintages in the evolution table (the latest ones)."""


# --------------------------------------------------------------------------------------------- cells
KIND_OF = {
    "etablissements_employeurs": "nombre",
    "entreprises_employeuses": "nombre",
    "effectif_31_12": "nombre",
    "etp": "nombre",
    "masse_salariale_brute": "montant",
    "salaire_brut_annuel_moyen_etp": "euros",
    "salaire_net_horaire_moyen": "euros2",
    "rang_region": "rang",
    "rang_france": "rang",
}
FORMATS: dict[str, Callable[[float], str]] = {
    "nombre": fmt.nombre,
    "pourcent": fmt.pourcent,
    "euros": fmt.euros,
    "euros2": lambda x: fmt.euros(x, 1),
    "montant": fmt.montant,
    "rang": fmt.rang,
    "fois": fmt.fois,
    "evolution": fmt.evolution,
    "solde": fmt.solde,
}
PCT_KINDS = {"pourcent", "evolution"}
"""Kinds holding fractions in a :class:`Cell`: exported in percent (0–100), as the indicator table stores
them, in the CSV and the XLSX alike."""
EXPORT_DECIMALS = {
    "nombre": 0,
    "pourcent": 1,
    "evolution": 1,
    "euros": 0,
    "euros2": 1,
    "montant": -3,
    "rang": 0,
    "fois": 1,
    "solde": 0,
}
"""Decimals of an exported figure by kind (percent kinds: of the percentage), the publication precision of
``observatory/reference/indicateurs.csv``: a figure a document derives (a share of two published counts)
is exported no more precisely than the table's own."""


@dataclass(frozen=True)
class Cell:
    """One figure: its value (shares as **fractions**), its secrecy status and how it prints.

    ``statut`` is the table's (``publie``, ``secret_primaire``, ``secret_secondaire``), ``absent`` when
    the table has no such cell, or ``sans_objet`` when the figure has no meaning there.
    """

    value: float | None
    statut: str = "publie"
    kind: str = "nombre"

    @property
    def secret(self) -> bool:
        """True when the cell is under statistical secrecy."""
        return self.statut.startswith("secret")

    @property
    def ok(self) -> bool:
        """True when the cell has a publishable value."""
        return not self.secret and self.value is not None

    def text(self) -> str:
        """The cell printed in French: ``s`` if secret, ``n.d.`` if absent."""
        if self.secret:
            return fmt.SECRET
        if self.statut == "sans_objet":
            return fmt.SANS_OBJET
        if self.value is None:
            return fmt.MISSING
        return FORMATS[self.kind](self.value)


def derive(fn: Callable[..., float], *cells: Cell, kind: str = "pourcent") -> Cell:
    """A figure computed from others: secret when one of its inputs is, absent when one is missing."""
    if any(c.secret for c in cells):
        return Cell(None, "secret_secondaire", kind)
    if any(c.value is None for c in cells):
        return Cell(None, "absent", kind)
    try:
        return Cell(float(fn(*(c.value for c in cells))), "publie", kind)
    except ZeroDivisionError:
        return Cell(None, "absent", kind)


def share(part: Cell, total: Cell) -> Cell:
    """``part / total`` as a share (fraction)."""
    return derive(lambda a, b: a / b, part, total)


# --------------------------------------------------------------------------------------------- reader


_KEYS = ["champ", "famille", "secteur", "tranche", "sexe", "pcs", "indicateur"]
_COLUMNS = [*_KEYS, "valeur", "statut", "unite"]


def _cells_of(columns: dict) -> dict[tuple, tuple]:
    """``{(champ, …, indicateur): (valeur, statut, unite)}`` from one territory's columns (object arrays or
    lists: iterating Arrow-backed columns is slow)."""
    keys = zip(*(columns[c].tolist() for c in _KEYS))
    return dict(zip(keys, zip(*(columns[c].tolist() for c in ("valeur", "statut", "unite")))))


class Territory:
    """The cells of one territory of the indicator table, looked up by their key columns."""

    def __init__(self, niveau: str, code: str, libelle: str, rows: pd.DataFrame | None = None):
        self.niveau, self.code, self.libelle = niveau, code, libelle
        self._cells: dict[tuple, tuple] = {}
        if rows is not None:
            self._cells = _cells_of({c: rows[c].to_numpy(dtype=object) for c in _COLUMNS})

    @classmethod
    def from_columns(cls, niveau: str, code: str, libelle: str, columns: dict) -> Territory:
        """A territory from its rows' columns already extracted (:class:`IndicatorTable` does it once)."""
        t = cls(niveau, code, libelle)
        t._cells = _cells_of(columns)
        return t

    def get(
        self,
        indicateur: str,
        champ: str = "ess",
        famille: str = "toutes",
        secteur: str = "tous",
        tranche: str = "toutes",
        sexe: str = "tous",
        pcs: str = "toutes",
        kind: str | None = None,
    ) -> Cell:
        """The cell for these keys. Values with ``unite='pourcent'`` (percent, 0–100) become fractions."""
        hit = self._cells.get((champ, famille, secteur, tranche, sexe, pcs, indicateur))
        if hit is None:
            return self._absent(indicateur, (champ, famille, secteur, tranche, sexe, pcs), kind)
        valeur, statut, unite = hit
        value = (
            None if valeur is None or pd.isna(valeur) or str(statut).startswith("secret") else float(valeur)
        )
        default = "pourcent" if unite == "pourcent" else KIND_OF.get(indicateur, "nombre")
        return Cell(to_natural(value, unite), str(statut), kind or default)

    def _absent(self, indicateur: str, key: tuple, kind: str | None) -> Cell:
        """The cell of ``key`` (champ, famille, secteur, tranche, sexe, pcs) that the table does not have."""
        return Cell(None, "absent", kind or KIND_OF.get(indicateur, "nombre"))

    @property
    def dans(self) -> str:
        """The territory as a place in a sentence ("en Bretagne", "dans le Finistère")."""
        return fmt.locatif(self.niveau, self.code, self.libelle, _type_nom().get(self.code))


@lru_cache(maxsize=1)
def _type_nom() -> dict[str, str]:
    """COG article type of each département (for "dans le Finistère")."""
    try:
        from observatory.reference import cog

        return cog.type_nom("departement")
    except (ImportError, OSError, KeyError, ValueError):  # cosmetic: without COG the name is used as is
        return {}


@lru_cache(maxsize=1)
def _departements_cog() -> pd.DataFrame:
    from observatory.reference import cog

    return cog.departements()


class IndicatorTable:
    """The published indicator table, indexed by territory (built once per table, cheap per lookup)."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.millesime = int(df["millesime"].iloc[0]) if len(df) else 0
        versions = df["perimetre_version"].dropna().unique() if len(df) else []
        self.perimetre_version = str(versions[0]) if len(versions) else "n.d."
        # row positions of each territory; its cells are read from columns extracted once for the table
        self._groups = df.groupby(["niveau", "code"], sort=False).indices if len(df) else {}
        self._columns: dict | None = None
        self._codes: dict[str, list[str]] = {}
        self._cache: dict[tuple[str, str], Territory] = {}

    @classmethod
    def read(cls, path: str | Path) -> IndicatorTable:
        """Read ``indicateurs.parquet`` (codes kept as text) through :func:`observatory.api.read_indicators`."""
        from observatory import api

        return cls(api.read_indicators(path))

    def territory(self, niveau: str, code: str) -> Territory:
        """One territory's cells; a territory absent from the table is a :class:`PublicationError`."""
        key = (niveau, code)
        if key not in self._cache:
            if key not in self._groups:
                raise PublicationError(
                    f"le territoire {niveau} {code} est absent de la table des indicateurs"
                )
            if self._columns is None:
                self._columns = {c: self.df[c].to_numpy(dtype=object) for c in [*_COLUMNS, "libelle"]}
            rows = self._groups[key]
            columns = {c: self._columns[c][rows] for c in _COLUMNS}
            libelle = str(self._columns["libelle"][rows[0]])
            self._cache[key] = Territory.from_columns(niveau, code, libelle, columns)
        return self._cache[key]

    def codes(self, niveau: str) -> list[str]:
        """Codes of the territories of one level present in the table, sorted."""
        if niveau not in self._codes:
            self._codes[niveau] = sorted(c for n, c in self._groups if n == niveau)
        return list(self._codes[niveau])

    def has(self, niveau: str, code: str) -> bool:
        """True if the table has this territory."""
        return (niveau, code) in self._groups

    def departements_of(self, code_region: str) -> list[str]:
        """Codes of the région's départements present in the table (COG membership)."""
        cog = _departements_cog()
        members = set(cog.loc[cog["code_region"] == code_region, "code_departement"])
        return [c for c in self.codes("departement") if c in members]

    def region_of(self, code_departement: str) -> str | None:
        """The région code of a département (COG)."""
        cog = _departements_cog()
        hit = cog.loc[cog["code_departement"] == code_departement, "code_region"]
        return str(hit.iloc[0]) if len(hit) else None


def as_table(table) -> IndicatorTable:
    if isinstance(table, IndicatorTable):
        return table
    if isinstance(table, (str, Path)):
        return IndicatorTable.read(table)
    return IndicatorTable(table)


# --------------------------------------------------------------------------------------------- model
@dataclass
class Figure:
    """A chart and/or table with its captions (products.md figure standards).

    ``columns`` are the headers; each row is a list whose first item is a label and the others
    :class:`Cell`. ``chart`` draws the chart into a path (called when the PDF is built). ``alt`` is the
    chart's (or the map's) alternative text, built from the same cells (:mod:`~observatory.publish.alt`);
    ``headline`` is the cell that text is about first, the figure's key number.
    """

    id: str
    titre: str
    unite: str
    champ: str
    lecture: str
    columns: list[str]
    rows: list[list]
    bold_rows: set[int] = field(default_factory=set)
    chart: Callable[[Path], Path] | None = None
    show_table: bool = True
    map_slot: bool = False
    note: str = ""
    alt: str = ""
    headline: Cell | None = None
    bars: dict | None = None
    """A bar chart drawn natively by typst (``bar-chart`` of ``style.typ``; see :mod:`.portrait`)."""

    @property
    def has_secret(self) -> bool:
        """True when a cell of the figure is secret (the figure then carries the ``s`` footnote)."""
        return any(isinstance(c, Cell) and c.secret for r in self.rows for c in r)


@dataclass
class Section:
    """A titled part of a document: intro text, key-figure boxes, figures."""

    titre: str
    intro: list[str] = field(default_factory=list)
    kpis: list[tuple[Cell, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Document:
    """A whole publication before rendering."""

    kind: str
    slug: str
    titre: str
    sous_titre: str
    territoire: Territory
    millesime: int
    sections: list[Section]
    manifest: dict
    region_code: str | None = None


# --------------------------------------------------------------------------------------------- helpers
LECTURE_SECRET = "Lecture : les cases notées « s » sont couvertes par le secret statistique ; leur valeur n'est pas publiée."


def lecture(text: str, *cells: Cell) -> str:
    """The "Lecture :" sentence; when a figure it quotes is not published (or there is none), a sentence
    saying that the cells marked ``s`` are under secrecy instead of a sentence quoting ``s``."""
    if not text or any(not c.ok for c in cells):
        return LECTURE_SECRET
    return "Lecture : " + text[0].lower() + text[1:]


def first_ok(items: Iterable[tuple[str, Cell]]) -> tuple[str, Cell] | None:
    for label, cell in items:
        if cell.ok:
            return label, cell
    return None


def champ_line(t: Territory, millesime: int, what: str = CHAMP_EMPLOI) -> str:
    return f"Champ : {what}, {t.libelle}, {millesime}."


def run_date(manifest: dict) -> str:
    raw = manifest.get("created_at") or manifest.get("run_date") or manifest.get("created")
    if not raw:
        return fmt.MISSING
    try:
        return dt.datetime.fromisoformat(str(raw)).strftime("%d/%m/%Y")
    except ValueError:
        return str(raw)


def export_value(c, percent_scale: float) -> object:
    if not isinstance(c, Cell):
        return c
    if c.secret:
        return fmt.SECRET
    if c.value is None:
        return ""
    value = c.value * percent_scale if c.kind in PCT_KINDS else c.value
    return round(value, EXPORT_DECIMALS.get(c.kind, 1)) + 0.0


def _csv_number(v) -> str:
    if isinstance(v, float):
        return repr(round(v, 6)).replace(".", ",").removesuffix(",0")
    return str(v)
