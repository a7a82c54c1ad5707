"""Regional panorama, departmental plaquette and the France égalité report (typst PDF + XLSX + CSV).

Publications read only the published indicator table (``tables/indicateurs.parquet``) and
``manifest.json``, never microdata. Each document is first assembled as data (:class:`Document`:
sections of :class:`Figure` holding :class:`Cell` values), then written three ways from that one
assembly, so the PDF, the workbook and the CSV files cannot disagree:

- the PDF: figures formatted in French (:mod:`~observatory.publish.fmt`) into a JSON data file read by a
  typst template of ``templates/`` (no value is ever formatted into typst source);
- the XLSX: one sheet per figure, numbers as numbers (shares as fractions with a ``%`` format), ``s``
  for secret cells;
- the CSV: one file per figure under ``donnees/<territory>/``, ``;``-separated with ``,`` decimal
  marks and a UTF-8 BOM (what French Excel opens directly), shares in percent, ``s`` for secret.

Shares: the table stores them with ``unite='pourcent'`` in percent (0–100); :meth:`Territory.get` is the
one place that turns them into fractions. Ranks of départements (``rang_region``, ``rang_france``) are read
as ranks by ESS salaried headcount.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import itertools
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from observatory.errors import PublicationError
from observatory.publish import alt, charts, fmt, notes
from observatory.publish.typst_pdf import TypstWarningError, compile_pdf  # noqa: F401 (TypstWarningError: API)
from observatory.reference.indicateurs import to_natural
from observatory.warehouse import atomic_path

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
            return Cell(None, "absent", kind or KIND_OF.get(indicateur, "nombre"))
        valeur, statut, unite = hit
        value = (
            None if valeur is None or pd.isna(valeur) or str(statut).startswith("secret") else float(valeur)
        )
        default = "pourcent" if unite == "pourcent" else KIND_OF.get(indicateur, "nombre")
        return Cell(to_natural(value, unite), str(statut), kind or default)

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


def _as_table(table) -> IndicatorTable:
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


def _lecture(text: str, *cells: Cell) -> str:
    """The "Lecture :" sentence; when a figure it quotes is not published (or there is none), a sentence
    saying that the cells marked ``s`` are under secrecy instead of a sentence quoting ``s``."""
    if not text or any(not c.ok for c in cells):
        return LECTURE_SECRET
    return "Lecture : " + text[0].lower() + text[1:]


def _first_ok(items: Iterable[tuple[str, Cell]]) -> tuple[str, Cell] | None:
    for label, cell in items:
        if cell.ok:
            return label, cell
    return None


def _champ_line(t: Territory, millesime: int, what: str = CHAMP_EMPLOI) -> str:
    return f"Champ : {what}, {t.libelle}, {millesime}."


def _run_date(manifest: dict) -> str:
    raw = manifest.get("created_at") or manifest.get("run_date") or manifest.get("created")
    if not raw:
        return fmt.MISSING
    try:
        return dt.datetime.fromisoformat(str(raw)).strftime("%d/%m/%Y")
    except ValueError:
        return str(raw)


# --------------------------------------------------------------------------------------------- figures
def fig_chiffres_cles(t: Territory, fr: Territory | None, y: int) -> Figure:
    """ESS vs privé hors ESS vs public: counts, pay, shares of private and of all employment."""
    champs = ["ess", "prive_hors_ess", "public"]
    lignes = [
        ("Établissements employeurs", "etablissements_employeurs"),
        ("Effectif salarié au 31/12", "effectif_31_12"),
        ("Équivalents temps plein (ETP)", "etp"),
        ("Masse salariale brute", "masse_salariale_brute"),
        ("Salaire brut annuel moyen par ETP", "salaire_brut_annuel_moyen_etp"),
        ("Part de l'emploi salarié privé", "part_emploi_prive"),
        ("Part de l'emploi salarié total", "part_emploi_total"),
    ]
    rows = []
    for label, ind in lignes:
        cells = [t.get(ind, champ=c) for c in champs]
        if ind == "part_emploi_prive":
            cells[2] = Cell(None, "sans_objet", "pourcent")
        rows.append([label] + cells)
    ess_prive = t.get("part_emploi_prive")
    lect = f"en {y}, l'ESS emploie {ess_prive.text()} des salariés du secteur privé {t.dans}"
    if fr is not None and fr is not t and fr.get("part_emploi_prive").ok:
        lect += f" (France : {fr.get('part_emploi_prive').text()})"
    rows_chart = [t.libelle] + ([] if fr is None or fr is t else ["France"])
    terr = [t] + ([] if fr is None or fr is t else [fr])

    def chart(path: Path) -> Path:
        series = {c: [x.get("part_emploi_total", champ=c).value for x in terr] for c in champs}
        return charts.stacked_shares(rows_chart, series, path, labels=CHAMPS)

    headline = t.get("part_emploi_total")
    alt_text = alt.grouped(
        "Répartition de l'emploi salarié total entre l'ESS, le privé hors ESS et le public",
        rows_chart,
        [(CHAMPS[c], [x.get("part_emploi_total", champ=c).text() for x in terr]) for c in champs],
    )

    return Figure(
        "chiffres_cles",
        "L'ESS, le privé hors ESS et le public",
        "Unité : nombre, euros, %",
        _champ_line(t, y),
        _lecture(lect + ".", ess_prive),
        ["", *[CHAMPS[c] for c in champs]],
        rows,
        chart=chart,
        note="Graphique : répartition de l'emploi salarié total entre les trois champs.",
        alt=alt_text,
        headline=headline,
    )


def fig_familles(t: Territory, y: int, compact: bool = False) -> Figure:
    """Establishments, jobs, share of ESS jobs, ETP and payroll by ESS family."""
    total = t.get("effectif_31_12")
    fams = [f for f in FAMILLES if t.get("effectif_31_12", famille=f).statut != "absent"]
    rows = []
    for f in fams:
        eff = t.get("effectif_31_12", famille=f)
        row = [FAMILLES[f], t.get("etablissements_employeurs", famille=f), eff, share(eff, total)]
        if not compact:
            row += [t.get("etp", famille=f), t.get("masse_salariale_brute", famille=f)]
        rows.append(row)
    tot = ["Ensemble de l'ESS", t.get("etablissements_employeurs"), total, Cell(1.0, kind="pourcent")]
    if not compact:
        tot += [t.get("etp"), t.get("masse_salariale_brute")]
    rows.append(tot)
    best = _first_ok(
        sorted(
            ((f, share(t.get("effectif_31_12", famille=f), total)) for f in fams),
            key=lambda x: -(x[1].value or -1),
        )
    )
    lect = (
        f"en {y}, {FAMILLES_SING[best[0]]} emploient {best[1].text()} des salariés de l'ESS {t.dans}."
        if best
        else ""
    )
    cols = [
        "Famille",
        "Établissements employeurs",
        "Effectif salarié au 31/12",
        "Part des effectifs de l'ESS",
    ]
    if not compact:
        cols += ["ETP", "Masse salariale brute"]

    def chart(path: Path) -> Path:
        return charts.barh(
            [FAMILLES[f] for f in fams], [t.get("effectif_31_12", famille=f).value for f in fams], path
        )

    by_size = sorted(fams, key=lambda f: -(t.get("effectif_31_12", famille=f).value or -1))

    return Figure(
        "familles",
        "Établissements et effectifs salariés par famille de l'ESS",
        "Unité : nombre, %, euros",
        _champ_line(t, y),
        _lecture(lect),
        cols,
        rows,
        bold_rows={len(rows) - 1},
        chart=chart,
        note="Graphique : effectif salarié au 31/12 par famille.",
        alt=alt.listing(
            f"Effectif salarié au 31/12 de l'ESS par famille {t.dans}, de la plus grande à la plus petite",
            [(FAMILLES[f], t.get("effectif_31_12", famille=f).text()) for f in by_size],
        ),
        headline=t.get("effectif_31_12", famille=by_size[0]) if by_size else None,
    )


def native_bars(fig_id: str, labels: list[str], series: dict[str, list[Cell]], names: dict[str, str]) -> dict:
    """A bar chart drawn by typst (``bar-chart`` of ``style.typ``): lengths relative to the largest value.

    No image: a few boxes and the values as text, about 100× cheaper than a matplotlib SVG (a portrait or a
    plaquette has several), tagged by the template as a figure with the :class:`Figure`'s ``alt``.
    """
    vmax = max((c.value for cells in series.values() for c in cells if c.ok and c.value), default=0) or 1
    return {
        "id": fig_id,
        "series": [
            {"label": names[k], "color": charts.COLORS.get(k, charts.COLORS["ensemble"])} for k in series
        ],
        "rows": [
            {
                "label": lab,
                "values": [
                    {"ratio": (cells[i].value / vmax) if cells[i].ok else 0, "text": cells[i].text()}
                    for cells in series.values()
                ],
            }
            for i, lab in enumerate(labels)
        ],
    }


def native_familles(fam: Figure) -> Figure:
    """:func:`fig_familles` with its chart drawn by typst (:func:`native_bars`): the headcount of each family,
    in the table's order; no family with a headcount, no chart (typst tags no empty figure; the table says so).
    """
    fam.chart, fam.note = None, "Graphique : effectif salarié au 31/12 par famille."
    rows = fam.rows[:-1]  # the last row is the ESS total
    fam.bars = (
        native_bars(
            "familles",
            [r[0] for r in rows],
            {"ess": [r[2] for r in rows]},
            {"ess": "Effectif salarié au 31/12"},
        )
        if rows
        else None
    )
    return fam


def _secteurs(t: Territory) -> list[str]:
    return [s for s in SECTEURS if t.get("effectif_31_12", secteur=s).statut != "absent"]


def fig_secteurs(t: Territory, y: int, top: int | None = None) -> Figure:
    """ESS jobs by sector and the ESS share of each sector's jobs."""
    total = t.get("effectif_31_12")
    secs = sorted(
        _secteurs(t),
        key=lambda s: (
            not t.get("effectif_31_12", secteur=s).ok,
            -(t.get("effectif_31_12", secteur=s).value or 0),
        ),
    )
    if top:
        secs = secs[:top]
    rows = []
    for s in secs:
        eff = t.get("effectif_31_12", secteur=s)
        rows.append(
            [
                SECTEURS[s],
                t.get("etablissements_employeurs", secteur=s),
                eff,
                share(eff, total),
                t.get("part_emploi_secteur", secteur=s),
            ]
        )
    best = _first_ok(
        sorted(
            ((s, t.get("part_emploi_secteur", secteur=s)) for s in secs), key=lambda x: -(x[1].value or -1)
        )
    )
    lect = (
        f"en {y}, l'ESS regroupe {best[1].text()} des emplois salariés du secteur « {SECTEURS[best[0]]} » "
        f"{t.dans}."
        if best
        else ""
    )
    by_share = sorted(secs, key=lambda s: -(t.get("part_emploi_secteur", secteur=s).value or -1))

    def chart(path: Path) -> Path:
        return charts.barh(
            [SECTEURS[s] for s in by_share],
            [t.get("part_emploi_secteur", secteur=s).value for s in by_share],
            path,
            fmt_value=fmt.pourcent,
        )

    titre = "Les principaux secteurs d'activité de l'ESS" if top else "L'ESS par secteur d'activité"
    return Figure(
        "secteurs",
        titre,
        "Unité : nombre, %",
        _champ_line(t, y),
        _lecture(lect),
        [
            "Secteur",
            "Établissements ESS",
            "Effectif ESS",
            "Part des effectifs de l'ESS",
            "Part de l'ESS dans le secteur",
        ],
        rows,
        chart=chart,
        note="Graphique : part de l'ESS dans l'emploi salarié de chaque secteur.",
        alt=alt.listing(
            f"Part de l'ESS dans l'emploi salarié de chaque secteur {t.dans}, de la plus forte à la plus faible",
            [(SECTEURS[s], t.get("part_emploi_secteur", secteur=s).text()) for s in by_share],
        ),
        headline=t.get("part_emploi_secteur", secteur=by_share[0]) if by_share else None,
    )


def fig_tranches(t: Territory, y: int) -> Figure:
    """Establishments and jobs by size band of the establishment."""
    tr = [k for k in TRANCHES if t.get("etablissements_employeurs", tranche=k).statut != "absent"]
    n_tot, e_tot = t.get("etablissements_employeurs"), t.get("effectif_31_12")
    rows = []
    for k in tr:
        n, e = t.get("etablissements_employeurs", tranche=k), t.get("effectif_31_12", tranche=k)
        rows.append([TRANCHES[k], n, share(n, n_tot), e, share(e, e_tot)])
    rows.append(["Ensemble", n_tot, Cell(1.0, kind="pourcent"), e_tot, Cell(1.0, kind="pourcent")])
    small = [k for k in ("0", "1-9") if k in tr]
    n_small = derive(
        lambda *v: sum(v), *(t.get("etablissements_employeurs", tranche=k) for k in small), kind="nombre"
    )
    e_small = derive(lambda *v: sum(v), *(t.get("effectif_31_12", tranche=k) for k in small), kind="nombre")
    lect = (
        f"en {y}, {share(n_small, n_tot).text()} des établissements employeurs de l'ESS {t.dans} ont "
        f"moins de 10 salariés ; ils regroupent {share(e_small, e_tot).text()} des salariés de l'ESS."
    )

    def chart(path: Path) -> Path:
        series = {"etab": [r[2].value for r in rows[:-1]], "eff": [r[4].value for r in rows[:-1]]}
        return charts.grouped_barh(
            [r[0] for r in rows[:-1]],
            series,
            path,
            fmt_value=fmt.pourcent,
            colors={"etab": charts.COLORS["ess"], "eff": charts.COLORS["ref"]},
            labels={"etab": "Part des établissements", "eff": "Part des effectifs"},
        )

    alt_text = alt.grouped(
        f"Part des établissements employeurs et des effectifs salariés de l'ESS {t.dans} selon la taille "
        "de l'établissement",
        [r[0] for r in rows[:-1]],
        [
            ("établissements", [r[2].text() for r in rows[:-1]]),
            ("effectifs", [r[4].text() for r in rows[:-1]]),
        ],
    )

    return Figure(
        "tranches",
        "Les établissements de l'ESS selon leur taille",
        "Unité : nombre, %",
        _champ_line(t, y, "établissements employeurs de l'ESS, taille selon l'effectif au 31/12"),
        _lecture(lect, share(n_small, n_tot), share(e_small, e_tot)),
        [
            "Taille de l'établissement",
            "Établissements",
            "Part des établissements",
            "Effectif salarié",
            "Part des effectifs",
        ],
        rows,
        bold_rows={len(rows) - 1},
        chart=chart,
        alt=alt_text,
        headline=rows[0][2] if len(rows) > 1 else None,
    )


def fig_departements(table: IndicatorTable, t: Territory, y: int) -> Figure:
    """The région's départements: ESS establishments, jobs, weight, share of the region, ranks."""
    rows = []
    best = None
    for code in table.departements_of(t.code):
        d = table.territory("departement", code)
        pr = d.get("part_region")
        rows.append(
            [
                f"{d.libelle} ({code})",
                d.get("etablissements_employeurs"),
                d.get("effectif_31_12"),
                d.get("part_emploi_total"),
                pr,
                d.get("rang_region"),
                d.get("rang_france"),
            ]
        )
        if pr.ok and (best is None or pr.value > best[1].value):
            best = (d, pr)
    rows.append(
        [
            t.libelle,
            t.get("etablissements_employeurs"),
            t.get("effectif_31_12"),
            t.get("part_emploi_total"),
            Cell(1.0, kind="pourcent"),
            Cell(None, "sans_objet", "rang"),
            Cell(None, "sans_objet", "rang"),
        ]
    )
    by_weight = sorted(rows[:-1], key=lambda r: -(r[3].value if r[3].ok else -1))
    lect = (
        f"en {y}, {best[1].text()} des salariés de l'ESS de la région travaillent {best[0].dans}, "
        f"{best[0].get('rang_region').text()} département de la région par l'effectif de l'ESS."
        if best
        else ""
    )
    return Figure(
        "departements",
        "L'ESS dans les départements",
        "Unité : nombre, %, rang",
        _champ_line(t, y),
        _lecture(lect),
        [
            "Département",
            "Établissements ESS",
            "Effectif ESS",
            "Part de l'emploi total",
            "Part de l'ESS régionale",
            "Rang dans la région",
            "Rang en France",
        ],
        rows,
        bold_rows={len(rows) - 1},
        map_slot=True,
        note=(
            "Rangs selon l'effectif salarié de l'ESS au 31/12 (1er = le plus grand), parmi les départements "
            "dont l'effectif est publié (un effectif couvert par le secret statistique n'a pas de rang)."
        ),
        alt=alt.listing(
            f"Carte des départements {t.dans} : part de l'ESS dans l'emploi salarié total, de la plus forte à "
            "la plus faible",
            [(r[0], r[3].text()) for r in by_weight] + [(t.libelle, rows[-1][3].text())],
        ),
        headline=by_weight[0][3] if by_weight else None,
    )


EMPLOI_INDICATEURS = [
    ("Part des femmes", "part_femmes"),
    ("Part des salariés de 50 ans et plus", "part_50_ans_et_plus"),
    ("Part des cadres", "part_cadres"),
    ("Taux de temps partiel", "taux_temps_partiel"),
    ("Part des contrats à durée déterminée", "part_cdd"),
]


def fig_emplois(t: Territory, y: int) -> Figure:
    """Sex, age 50+, cadres, part-time, fixed-term contracts: ESS vs privé hors ESS vs public."""
    champs = ["ess", "prive_hors_ess", "public"]
    rows = [[label] + [t.get(ind, champ=c) for c in champs] for label, ind in EMPLOI_INDICATEURS]
    f_ess, f_p = t.get("part_femmes"), t.get("part_femmes", champ="prive_hors_ess")
    lect = (
        f"en {y}, {t.dans}, {f_ess.text()} des salariés de l'ESS sont des femmes, contre {f_p.text()} "
        "dans le privé hors ESS."
    )

    def chart(path: Path) -> Path:
        series = {c: [t.get(ind, champ=c).value for _l, ind in EMPLOI_INDICATEURS] for c in champs}
        return charts.grouped_barh(
            [lbl for lbl, _i in EMPLOI_INDICATEURS], series, path, fmt_value=fmt.pourcent, labels=CHAMPS
        )

    alt_text = alt.grouped(
        f"Caractéristiques des emplois {t.dans}, ESS comparée au privé hors ESS et au public",
        [lbl for lbl, _i in EMPLOI_INDICATEURS],
        [(CHAMPS[c], [r[i + 1].text() for r in rows]) for i, c in enumerate(champs)],
    )

    return Figure(
        "emplois",
        "Caractéristiques des emplois",
        "Unité : %",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect, f_ess, f_p),
        ["", *[CHAMPS[c] for c in champs]],
        rows,
        chart=chart,
        alt=alt_text,
        headline=f_ess,
    )


def fig_pcs(t: Territory, y: int) -> Figure:
    """Distribution of jobs by PCS group, ESS vs privé hors ESS vs public."""
    champs = ["ess", "prive_hors_ess", "public"]
    rows = [
        [PCS[p]]
        + [share(t.get("effectif_31_12", champ=c, pcs=p), t.get("effectif_31_12", champ=c)) for c in champs]
        for p in PCS
    ]
    cad = rows[0]
    lect = (
        f"en {y}, {t.dans}, les cadres représentent {cad[1].text()} des salariés de l'ESS et "
        f"{cad[2].text()} de ceux du privé hors ESS."
    )
    return Figure(
        "pcs",
        "Répartition des salariés par catégorie socioprofessionnelle",
        "Unité : % des salariés",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect, cad[1], cad[2]),
        ["Catégorie", *[CHAMPS[c] for c in champs]],
        rows,
        note="Hors catégories non renseignées : le total peut différer de 100 %.",
    )


def fig_femmes_familles(t: Territory, y: int) -> Figure:
    """Share of women by ESS family."""
    fams = [f for f in FAMILLES if t.get("part_femmes", famille=f).statut != "absent"]
    rows = [[FAMILLES[f], t.get("part_femmes", famille=f)] for f in fams]
    rows.append(["Ensemble de l'ESS", t.get("part_femmes")])
    best = _first_ok(
        sorted(((f, t.get("part_femmes", famille=f)) for f in fams), key=lambda x: -(x[1].value or -1))
    )
    lect = (
        f"en {y}, {t.dans}, {best[1].text()} des salariés des {FAMILLES[best[0]].lower()} sont des femmes."
        if best
        else ""
    )

    def chart(path: Path) -> Path:
        return charts.barh(
            [r[0] for r in rows],
            [r[1].value for r in rows],
            path,
            fmt_value=fmt.pourcent,
            color=charts.COLORS["F"],
        )

    return Figure(
        "femmes_familles",
        "Part des femmes par famille de l'ESS",
        "Unité : % des salariés",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect),
        ["Famille", "Part des femmes"],
        rows,
        bold_rows={len(rows) - 1},
        chart=chart,
        show_table=False,
        alt=alt.listing(
            f"Part des femmes parmi les salariés de l'ESS {t.dans}, par famille",
            [(r[0], r[1].text()) for r in [rows[-1], *rows[:-1]]],
        ),
        headline=rows[-1][1],
    )


def fig_femmes_secteurs(t: Territory, y: int) -> Figure:
    """Share of women by sector (ESS)."""
    secs = [s for s in SECTEURS if t.get("part_femmes", secteur=s).statut != "absent"]
    secs.sort(key=lambda s: -(t.get("part_femmes", secteur=s).value or -1))
    rows = [[SECTEURS[s], t.get("part_femmes", secteur=s)] for s in secs]
    best = _first_ok((SECTEURS[s], t.get("part_femmes", secteur=s)) for s in secs if s != "NCL")
    lect = (
        f"en {y}, {t.dans}, {best[1].text()} des salariés de l'ESS du secteur « {best[0]} » sont des femmes."
        if best
        else ""
    )

    def chart(path: Path) -> Path:
        return charts.barh(
            [r[0] for r in rows],
            [r[1].value for r in rows],
            path,
            fmt_value=fmt.pourcent,
            color=charts.COLORS["F"],
        )

    return Figure(
        "femmes_secteurs",
        "Part des femmes par secteur d'activité dans l'ESS",
        "Unité : % des salariés",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect),
        ["Secteur", "Part des femmes"],
        rows,
        chart=chart,
        show_table=False,
        alt=alt.listing(
            f"Part des femmes parmi les salariés de l'ESS {t.dans}, par secteur, de la plus forte à la plus "
            "faible",
            [(r[0], r[1].text()) for r in rows],
        ),
        headline=rows[0][1] if rows else None,
    )


def fig_sexe(t: Territory, y: int, champs: list[str], ind: str, titre: str, fig_id: str) -> Figure:
    """One indicator by sex (part-time or cadres) for several champs, with the women/men ratio."""
    rows = []
    for c in champs:
        f, h = t.get(ind, champ=c, sexe="F"), t.get(ind, champ=c, sexe="H")
        ratio = (
            derive(lambda a, b: b / a, f, h, kind="fois")
            if ind == "part_cadres"
            else derive(lambda a, b: a / b, f, h, kind="fois")
        )
        rows.append([CHAMPS[c], f, h, ratio])
    ess = rows[0]
    if ind == "part_cadres":
        lect = (
            f"en {y}, {t.dans}, {ess[1].text()} des femmes salariées de l'ESS sont cadres, contre "
            f"{ess[2].text()} des hommes : un homme a {ess[3].text()} fois plus de chances d'être cadre "
            "qu'une femme."
        )
        cols = ["Champ", "Femmes", "Hommes", "Rapport hommes / femmes"]
    else:
        lect = (
            f"en {y}, {t.dans}, {ess[1].text()} des femmes salariées de l'ESS travaillent à temps "
            f"partiel, contre {ess[2].text()} des hommes."
        )
        cols = ["Champ", "Femmes", "Hommes", "Rapport femmes / hommes"]

    def chart(path: Path) -> Path:
        series = {s: [t.get(ind, champ=c, sexe=s).value for c in champs] for s in ("F", "H")}
        return charts.grouped_barh(
            [CHAMPS[c] for c in champs],
            series,
            path,
            fmt_value=fmt.pourcent,
            labels={"F": "Femmes", "H": "Hommes"},
        )

    return Figure(
        fig_id,
        titre,
        "Unité : % des salariées / des salariés, rapport",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect, *ess[1:]),
        cols,
        rows,
        chart=chart,
        alt=alt.grouped(
            f"{titre} {t.dans}, femmes et hommes",
            [r[0] for r in rows],
            [("femmes", [r[1].text() for r in rows]), ("hommes", [r[2].text() for r in rows])],
        ),
        headline=ess[1],
    )


def fig_salaires(t: Territory, y: int, champ: str = "ess", chart_on: bool = True, fig_id: str = "") -> Figure:
    """Mean net hourly wage by sex × PCS group and the gap (INSEE SAL G1 layout)."""
    groups = [("toutes", "Ensemble")] + list(PCS.items())
    rows = []
    for p, label in groups:
        rows.append(
            [
                label,
                t.get("salaire_net_horaire_moyen", champ=champ, sexe="F", pcs=p),
                t.get("salaire_net_horaire_moyen", champ=champ, sexe="H", pcs=p),
                t.get("salaire_net_horaire_moyen", champ=champ, pcs=p),
                t.get("ecart_salarial_fh", champ=champ, pcs=p),
            ]
        )
    tot = rows[0]
    lect = (
        f"en {y}, {t.dans}, une femme salariée {'de l' + chr(39) + 'ESS' if champ == 'ess' else 'du champ « ' + CHAMPS[champ] + ' »'} "
        f"perçoit en moyenne {tot[1].text()} net de l'heure, contre {tot[2].text()} pour un homme, soit "
        f"un salaire inférieur de {tot[4].text()}."
    )

    def chart(path: Path) -> Path:
        series = {
            s: [t.get("salaire_net_horaire_moyen", champ=champ, sexe=s, pcs=p).value for p, _l in groups]
            for s in ("F", "H")
        }
        return charts.grouped_barh(
            [lbl for _p, lbl in groups],
            series,
            path,
            fmt_value=FORMATS["euros2"],  # as the table prints it (and the alternative text says it)
            labels={"F": "Femmes", "H": "Hommes"},
        )

    return Figure(
        fig_id or f"salaires_{champ}",
        f"Salaire net horaire moyen selon le sexe et la catégorie socioprofessionnelle — {CHAMPS[champ]}",
        "Unité : euros par heure, % (écart = 1 − salaire des femmes / salaire des hommes)",
        _champ_line(t, y, CHAMP_SALAIRES),
        _lecture(lect, tot[1], tot[2], tot[4]),
        ["Catégorie", "Femmes", "Hommes", "Ensemble", "Écart femmes-hommes"],
        rows,
        bold_rows={0},
        chart=chart if chart_on else None,
        alt=alt.grouped(
            f"Salaire net horaire moyen des femmes et des hommes, {CHAMPS[champ]}, {t.dans}, par catégorie "
            "socioprofessionnelle",
            [r[0] for r in rows],
            [("femmes", [r[1].text() for r in rows]), ("hommes", [r[2].text() for r in rows])],
        ),
        headline=tot[1],
    )


def fig_ecarts(t: Territory, y: int) -> Figure:
    """The pay gap by PCS group, ESS vs privé hors ESS vs public (INSEE SAL G2 layout)."""
    champs = ["ess", "prive_hors_ess", "public"]
    groups = [("toutes", "Ensemble")] + list(PCS.items())
    rows = [[label] + [t.get("ecart_salarial_fh", champ=c, pcs=p) for c in champs] for p, label in groups]
    lect = (
        f"en {y}, {t.dans}, le salaire net horaire moyen des femmes est inférieur de {rows[0][1].text()} à "
        f"celui des hommes dans l'ESS, de {rows[0][2].text()} dans le privé hors ESS et de "
        f"{rows[0][3].text()} dans le public."
    )

    def chart(path: Path) -> Path:
        series = {c: [r[i + 1].value for r in rows] for i, c in enumerate(champs)}
        return charts.grouped_barh([r[0] for r in rows], series, path, fmt_value=fmt.pourcent, labels=CHAMPS)

    return Figure(
        "ecarts",
        "Écart de salaire net horaire entre femmes et hommes",
        "Unité : % (1 − salaire des femmes / salaire des hommes)",
        _champ_line(t, y, CHAMP_SALAIRES),
        _lecture(lect, *rows[0][1:]),
        ["Catégorie", *[CHAMPS[c] for c in champs]],
        rows,
        bold_rows={0},
        chart=chart,
        alt=alt.grouped(
            f"Écart de salaire net horaire entre femmes et hommes {t.dans}, par catégorie socioprofessionnelle",
            [r[0] for r in rows],
            [(CHAMPS[c], [r[i + 1].text() for r in rows]) for i, c in enumerate(champs)],
        ),
        headline=rows[0][1],
    )


def fig_plaquette_fh(t: Territory, y: int) -> Figure:
    """Women and men in the département's ESS: share, part-time, cadres, hourly wage, gap."""
    rows = [
        [
            "Part des femmes",
            Cell(None, "sans_objet", "pourcent"),
            Cell(None, "sans_objet", "pourcent"),
            t.get("part_femmes"),
        ],
        [
            "Taux de temps partiel",
            t.get("taux_temps_partiel", sexe="F"),
            t.get("taux_temps_partiel", sexe="H"),
            t.get("taux_temps_partiel"),
        ],
        [
            "Part des cadres",
            t.get("part_cadres", sexe="F"),
            t.get("part_cadres", sexe="H"),
            t.get("part_cadres"),
        ],
        [
            "Salaire net horaire moyen",
            t.get("salaire_net_horaire_moyen", sexe="F"),
            t.get("salaire_net_horaire_moyen", sexe="H"),
            t.get("salaire_net_horaire_moyen"),
        ],
    ]
    gap = t.get("ecart_salarial_fh")
    ratio = derive(lambda a, b: b / a, rows[2][1], rows[2][2], kind="fois")
    lect = (
        f"en {y}, {t.dans}, le salaire net horaire moyen des femmes de l'ESS est inférieur de {gap.text()} "
        f"à celui des hommes ; un homme a {ratio.text()} fois plus de chances d'être cadre qu'une femme."
    )
    return Figure(
        "femmes_hommes",
        "Femmes et hommes dans l'ESS",
        "Unité : %, euros par heure",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect, gap, ratio),
        ["", "Femmes", "Hommes", "Ensemble"],
        rows,
        note=f"Écart de salaire net horaire femmes-hommes : {gap.text()}.",
    )


def has_age_bands(t: Territory) -> bool:
    """True when the table carries the headcount by age band (``effectif_age_*``) for this territory."""
    return any(t.get(ind, sexe=s).statut != "absent" for ind in AGES for s in ("F", "H"))


def fig_pyramide(t: Territory, y: int) -> Figure:
    """Age pyramid by sex of ESS jobs, with privé hors ESS as an outline: shares of each field's headcount.

    A share is ``effectif_age_<band>`` of one sex over the field's ``effectif_31_12`` (both sexes): secret
    when either is. Secret bands print ``s`` and draw no bar.
    """
    champs = ("ess", "prive_hors_ess")
    totals = {c: t.get("effectif_31_12", champ=c) for c in champs}
    rows = []
    for ind, label in AGES.items():
        f, h = t.get(ind, sexe="F"), t.get(ind, sexe="H")
        row = [label, f, h, share(f, totals["ess"]), share(h, totals["ess"])]
        for s in ("F", "H"):
            row.append(share(t.get(ind, champ="prive_hors_ess", sexe=s), totals["prive_hors_ess"]))
        rows.append(row)
    band_shares = [
        (label, {c: share(t.get(ind, champ=c), totals[c]) for c in champs})
        for ind, label in reversed(AGES.items())
    ]
    told = next((b for b in band_shares if b[1]["ess"].ok), None)
    if told:
        lect = (
            f"en {y}, {t.dans}, {told[1]['ess'].text()} des salariés de l'ESS ont "
            f"{told[0].replace('Moins', 'moins')}, contre {told[1]['prive_hors_ess'].text()} dans le privé "
            "hors ESS."
        )
    else:
        lect = f"en {y}, {t.dans}, la répartition par âge des salariés de l'ESS est couverte par le secret."

    def chart(path: Path) -> Path:
        return charts.pyramid(
            [r[0] for r in rows],
            [r[3].value for r in rows],
            [r[4].value for r in rows],
            path,
            ref_women=[r[5].value for r in rows],
            ref_men=[r[6].value for r in rows],
        )

    return Figure(
        "pyramide_ages",
        TITRE_PYRAMIDE,
        "Unité : nombre, % de l'effectif salarié du champ (femmes et hommes)",
        _champ_line(t, y, CHAMP_POSTES),
        _lecture(lect),
        [
            "Âge",
            "Femmes ESS",
            "Hommes ESS",
            "Femmes ESS (%)",
            "Hommes ESS (%)",
            "Femmes privé hors ESS (%)",
            "Hommes privé hors ESS (%)",
        ],
        rows,
        chart=chart,
        note="Graphique : barres pleines, ESS ; contour, privé hors ESS.",
        alt=alt.grouped(
            f"Pyramide des âges des salariés {t.dans}, en % de l'effectif du champ",
            [r[0] for r in rows],
            [
                ("femmes ESS", [r[3].text() for r in rows]),
                ("hommes ESS", [r[4].text() for r in rows]),
                ("femmes privé hors ESS", [r[5].text() for r in rows]),
                ("hommes privé hors ESS", [r[6].text() for r in rows]),
            ],
        ),
        headline=rows[0][3] if rows else None,
    )


def pyramide_section_parts(t: Territory, y: int) -> tuple[list[str], list[Figure]]:
    """The pyramid figure, or (codes absent from the table) the sentence that says it is not available."""
    if has_age_bands(t):
        return [], [fig_pyramide(t, y)]
    return [PYRAMIDE_ABSENTE], []


@dataclass(frozen=True)
class Vintage:
    """An earlier vintage's published table, as the evolution section reads it."""

    millesime: int
    table: IndicatorTable


def earlier_vintages(output_vintage_dir: str | Path, millesime: int) -> list[Vintage]:
    """The published vintages before ``millesime`` (``output/<m>/tables/indicateurs.parquet``), oldest first.

    Only the cells the evolution section reads are loaded (headcount at 31/12 of every territory and field,
    no breakdown), so an earlier vintage costs little to read.
    """
    from observatory import api

    root = Path(output_vintage_dir).parent
    filters = [
        ("indicateur", "==", "effectif_31_12"),
        ("famille", "==", "toutes"),
        ("secteur", "==", "tous"),
        ("tranche", "==", "toutes"),
        ("sexe", "==", "tous"),
        ("pcs", "==", "toutes"),
    ]
    out = []
    for m in api.vintages(root):
        if m < millesime:
            df = api.read_indicators(root / str(m), filters=filters)
            out.append(Vintage(m, IndicatorTable(df)))
    return out[-(VINTAGES_SHOWN - 1) :] if VINTAGES_SHOWN > 1 else []


def _change(a: Cell, b: Cell, relative: bool) -> Cell:
    if relative:
        return derive(lambda x, z: z / x - 1, a, b, kind="evolution")
    return derive(lambda x, z: z - x, a, b, kind="solde")


def _history_cells(t: Territory, history: list[Vintage], champ: str) -> list[Cell]:
    cells = []
    for v in history:
        past = v.table.territory(t.niveau, t.code) if v.table.has(t.niveau, t.code) else None
        cells.append(past.get("effectif_31_12", champ=champ) if past else Cell(None, "absent"))
    return cells + [t.get("effectif_31_12", champ=champ)]


def fig_evolution(t: Territory, y: int, history: list[Vintage], perimetre: str) -> Figure:
    """ESS vs privé hors ESS headcount at 31/12 per vintage, and the change since the previous vintage.

    A change is secret when the headcount of either vintage is (``s``); ``n.d.`` when the territory is
    absent from an earlier table.
    """
    champs = ("ess", "prive_hors_ess")
    years = [v.millesime for v in history] + [y]
    y0 = years[-2]
    rows, changes = [], {}
    for c in champs:
        cells = _history_cells(t, history, c)
        rows.append(
            [CHAMPS[c], *cells, _change(cells[-2], cells[-1], True), _change(cells[-2], cells[-1], False)]
        )
        changes[c] = [_change(a, b, True) for a, b in itertools.pairwise(cells)]
    ess, prive = rows
    verbe = "augmenté" if ess[-1].ok and ess[-1].value >= 0 else "diminué" if ess[-1].ok else "évolué"
    if ess[-2].ok:
        lect = (
            f"entre {y0} et {y}, l'effectif salarié de l'ESS {t.dans} a {verbe} de "
            f"{fmt.pourcent(abs(ess[-2].value))} ({ess[-1].text()} emplois)"
            + (f", contre {prive[-2].text()} dans le privé hors ESS." if prive[-2].ok else ".")
        )
    elif prive[-2].ok:
        lect = (
            f"entre {y0} et {y}, l'effectif salarié du privé hors ESS {t.dans} a évolué de {prive[-2].text()} "
            f"({prive[-1].text()} emplois) ; l'évolution de celui de l'ESS est couverte par le secret statistique."
        )
    else:
        lect = ""
    versions = {v.millesime: v.table.perimetre_version for v in history}
    differ = sorted(m for m, p in versions.items() if p not in (perimetre, "n.d."))
    note = "Évolution : variation depuis le millésime précédent, en % et en nombre d'emplois."
    if differ:
        note += (
            " Attention : le périmètre de l'ESS a changé ("
            + ", ".join(f"{m} : {versions[m]}" for m in differ)
            + f" ; {y} : {perimetre}), l'évolution mêle effet de périmètre et évolution de l'emploi."
        )
    labels = [f"{a}-{b}" for a, b in itertools.pairwise(years)]

    def chart(path: Path) -> Path:
        def bar(c: Cell) -> tuple[float | None, str]:
            text = fmt.SECRET if c.secret else fmt.evolution(c.value) if c.ok else fmt.MISSING
            return (c.value if c.ok else None, text)

        return charts.change_bars(labels, {c: [bar(x) for x in changes[c]] for c in champs}, CHAMPS, path)

    return Figure(
        "evolution",
        TITRE_EVOLUTION,
        "Unité : nombre, %",
        _champ_line(t, y),
        _lecture(lect),
        ["Champ", *[str(m) for m in years], f"Évolution {y0}-{y} (%)", f"Évolution {y0}-{y} (emplois)"],
        rows,
        chart=chart,
        note=note + " Graphique : évolution annuelle de l'effectif salarié.",
        alt=alt.grouped(
            f"Évolution annuelle de l'effectif salarié {t.dans}",
            list(reversed(labels)),
            [(CHAMPS[c], [x.text() for x in reversed(changes[c])]) for c in champs],
        ),
        headline=changes["ess"][-1] if changes["ess"] else None,
    )


def evolution_section(t: Territory, y: int, history: list[Vintage], perimetre: str) -> Section:
    """The panorama's evolution section: the figure, or one sentence when no earlier vintage is published."""
    if not history:
        return Section("L'évolution de l'emploi", intro=[EVOLUTION_ABSENTE])
    return Section("L'évolution de l'emploi", figures=[fig_evolution(t, y, history, perimetre)])


def evolution_line(t: Territory, y: int, history: list[Vintage]) -> str:
    """The plaquette's one-line evolution (ESS and privé hors ESS since the previous vintage)."""
    if not history:
        return EVOLUTION_ABSENTE
    y0 = history[-1].millesime
    parts = {}
    for c in ("ess", "prive_hors_ess"):
        cells = _history_cells(t, history[-1:], c)
        parts[c] = (_change(cells[0], cells[1], True), _change(cells[0], cells[1], False))
    (e_pct, e_n), (p_pct, _p_n) = parts["ess"], parts["prive_hors_ess"]
    jobs = f" ({e_n.text()} emplois)" if e_n.ok else ""
    return (
        f"Évolution {y0}-{y} de l'effectif salarié au 31/12 : ESS {e_pct.text()}{jobs}, "
        f"privé hors ESS {p_pct.text()}."
    )


# --------------------------------------------------------------------------------------------- documents
def _methodologie(table: IndicatorTable, manifest: dict, t: Territory, short: bool = False) -> Section:
    y = table.millesime
    intro = [
        (
            "Sources : Insee, répertoire SIRENE (unités légales et établissements) et Base Tous salariés "
            f"(postes de l'année {y}). Traitement : Observatoire de l'ESS, à partir de la table des indicateurs "
            "publiée (aucun traitement de données individuelles dans ce document)."
        ),
        (
            "Champ : établissements employeurs (au moins un poste dans l'année) ; effectifs salariés au 31/12 "
            "(postes non annexes) ; l'ESS est délimitée par la catégorie juridique (associations, coopératives, "
            "mutuelles, fondations) selon la version du périmètre indiquée ci-dessous. Le « privé hors ESS » "
            "regroupe les autres employeurs privés ; le « public » les employeurs publics."
        ),
        (
            "Secret statistique : une case construite à partir de moins de 3 établissements, ou dont le "
            "premier établissement représente plus de 85 % de la valeur, est masquée (secret primaire) ; "
            "d'autres cases sont masquées pour qu'elle ne puisse pas être recalculée par différence (secret "
            "secondaire). Une case masquée est notée « s » ; un indicateur calculé à partir d'une case masquée "
            "l'est aussi. « n.d. » : donnée non disponible."
        ),
    ]
    if short:  # the plaquette: its workbook carries every note and definition (xlsx.write_workbook)
        intro = [*intro[:1], *intro[2:], notes.GEOGRAPHIE, notes.PRECISION]
    else:
        intro += [*notes.ANNUELLES, notes.DEFINITIONS, *notes.definitions()]
    meta = [
        ("Millésime", str(manifest.get("millesime", y))),
        ("Version du périmètre", str(manifest.get("perimetre_version", table.perimetre_version))),
        ("Date d'exécution", _run_date(manifest)),
        ("Version du code", fmt.code_version(manifest.get("code_version"))),
    ]
    return Section("Méthodologie", intro=intro, metadata=meta)


def panorama_document(
    table: IndicatorTable, manifest: dict, code_region: str, history: list[Vintage] | None = None
) -> Document:
    """Assemble the regional panorama (sections of products.md §3) for one région.

    ``history``: the earlier vintages (:func:`earlier_vintages`) read by the evolution section.
    """
    t = table.territory("region", code_region)
    fr = table.territory("france", table.codes("france")[0]) if table.codes("france") else None
    y = table.millesime
    kpis = [
        (t.get("effectif_31_12"), "salariés dans l'ESS au 31/12"),
        (t.get("part_emploi_total"), "de l'emploi salarié total"),
        (t.get("part_emploi_prive"), "de l'emploi salarié privé"),
        (t.get("etablissements_employeurs"), "établissements employeurs"),
        (t.get("masse_salariale_brute"), "de masse salariale brute"),
    ]
    pyr_intro, pyr_figs = pyramide_section_parts(t, y)
    sections = [
        Section("Chiffres clés", kpis=kpis, figures=[fig_chiffres_cles(t, fr, y)]),
        Section("Les familles de l'ESS", figures=[native_familles(fig_familles(t, y))]),
        Section("Les secteurs d'activité", figures=[fig_secteurs(t, y)]),
        Section("La taille des établissements", figures=[fig_tranches(t, y)]),
        Section("Les départements", figures=[fig_departements(table, t, y)]),
        Section("Les emplois", figures=[fig_emplois(t, y), fig_pcs(t, y)]),
        Section(
            "Égalité femmes-hommes",
            intro=pyr_intro,
            figures=[
                fig_femmes_familles(t, y),
                *pyr_figs,
                fig_sexe(
                    t,
                    y,
                    ["ess", "prive_hors_ess", "public"],
                    "taux_temps_partiel",
                    "Temps partiel selon le sexe",
                    "temps_partiel",
                ),
                fig_sexe(
                    t,
                    y,
                    ["ess", "prive_hors_ess", "public"],
                    "part_cadres",
                    "Part des cadres selon le sexe",
                    "cadres",
                ),
                fig_salaires(t, y, "ess"),
            ],
        ),
        evolution_section(t, y, history or [], table.perimetre_version),
        _methodologie(table, manifest, t),
    ]
    return Document(
        "panorama",
        f"region-{code_region}",
        "Panorama de l'économie sociale et solidaire",
        t.libelle,
        t,
        y,
        sections,
        manifest,
        region_code=code_region,
    )


def plaquette_document(
    table: IndicatorTable, manifest: dict, code_departement: str, history: list[Vintage] | None = None
) -> Document:
    """Assemble the departmental plaquette (2–4 pages) for one département (``history``: earlier vintages)."""
    d = table.territory("departement", code_departement)
    y = table.millesime
    code_region = table.region_of(code_departement)
    reg = table.territory("region", code_region) if code_region and table.has("region", code_region) else None
    kpis = [
        (d.get("effectif_31_12"), "salariés dans l'ESS au 31/12"),
        (d.get("part_emploi_total"), "de l'emploi salarié total"),
        (d.get("part_emploi_prive"), "de l'emploi salarié privé"),
        (d.get("etablissements_employeurs"), "établissements employeurs"),
    ]
    pr, rr, rf = d.get("part_region"), d.get("rang_region"), d.get("rang_france")
    poids_rows = [
        ["Part de l'emploi salarié de l'ESS de la région", pr],
        ["Rang dans la région (effectif de l'ESS, parmi les effectifs publiés)", rr],
        ["Rang en France (effectif de l'ESS, parmi les effectifs publiés)", rf],
    ]
    if reg is not None:
        poids_rows.insert(0, [f"Effectif salarié de l'ESS — {reg.libelle}", reg.get("effectif_31_12")])
    lect = (
        f"en {y}, {pr.text()} des salariés de l'ESS {reg.dans if reg else 'de la région'} travaillent "
        f"{d.dans}, {rr.text()} département de la région et {rf.text()} de France par l'effectif de l'ESS."
    )
    poids = Figure(
        "poids_region",
        "Poids du département dans l'ESS régionale",
        "Unité : nombre, %, rang",
        _champ_line(d, y),
        _lecture(lect, pr, rr, rf),
        ["", "Valeur"],
        poids_rows,
    )
    sections = [
        Section(
            "Chiffres clés",
            intro=[evolution_line(d, y, history or [])],
            kpis=kpis,
            figures=[fig_chiffres_cles(d, reg, y)],
        ),
        Section("Poids dans la région", figures=[poids]),
        Section("Les familles de l'ESS", figures=[native_familles(fig_familles(d, y, compact=True))]),
        Section("Les principaux secteurs", figures=[fig_secteurs(d, y, top=8)]),
        Section("Égalité femmes-hommes", figures=[fig_plaquette_fh(d, y)]),
        _methodologie(table, manifest, d, short=True),
    ]
    for s in sections:
        for f in s.figures:
            if f.id in ("secteurs", "chiffres_cles"):
                f.chart, f.note = None, ""
    return Document(
        "plaquette",
        f"departement-{code_departement}",
        "L'économie sociale et solidaire",
        f"{d.libelle} ({code_departement})",
        d,
        y,
        sections,
        manifest,
        region_code=code_region,
    )


def egalite_document(table: IndicatorTable, manifest: dict, code: str | None = None) -> Document:
    """Assemble the égalité femmes-hommes report for France (or another territory: ``niveau`` france)."""
    codes = table.codes("france")
    if not codes:
        raise PublicationError("la table des indicateurs n'a pas de ligne France (niveau 'france')")
    t = table.territory("france", code or codes[0])
    y = table.millesime
    champs = ["ess", "prive_hors_ess", "public"]
    pyr_intro, pyr_figs = pyramide_section_parts(t, y)
    sections = [
        Section(
            "Salaires selon le sexe et la catégorie socioprofessionnelle",
            figures=[
                fig_ecarts(t, y),
                *[fig_salaires(t, y, c, chart_on=(c == "ess")) for c in champs],
            ],
        ),
        Section(
            "Temps partiel",
            figures=[
                fig_sexe(t, y, champs, "taux_temps_partiel", "Temps partiel selon le sexe", "temps_partiel")
            ],
        ),
        Section(
            "Accès aux postes de cadres",
            figures=[fig_sexe(t, y, champs, "part_cadres", "Part des cadres selon le sexe", "cadres")],
        ),
        Section(
            "Part des femmes par famille et par secteur",
            figures=[fig_femmes_familles(t, y), fig_femmes_secteurs(t, y)],
        ),
        Section("La pyramide des âges", intro=pyr_intro, figures=pyr_figs),
        _methodologie(table, manifest, t),
    ]
    return Document(
        "egalite",
        "france",
        "Égalité femmes-hommes dans l'économie sociale et solidaire",
        t.libelle,
        t,
        y,
        sections,
        manifest,
    )


# --------------------------------------------------------------------------------------------- writers
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


def write_csv(fig: Figure, path: Path) -> Path:
    """One figure's table as CSV: ``;``, ``,`` decimals, UTF-8 BOM, shares in percent, ``s`` if secret."""
    header = [
        c if i == 0 or "%" in c or not _is_pct_col(fig, i) else f"{c} (%)" for i, c in enumerate(fig.columns)
    ]
    header[0] = header[0] or "Indicateur"
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f, delimiter=";", lineterminator="\r\n")
            w.writerow(header)
            for r in fig.rows:
                w.writerow([_csv_number(export_value(c, 100.0)) for c in r])
        tmp.chmod(0o644)
    return path


def _is_pct_col(fig: Figure, i: int) -> bool:
    kinds = {r[i].kind for r in fig.rows if isinstance(r[i], Cell)}
    return bool(kinds) and kinds <= PCT_KINDS


def _figure_json(fig: Figure, chart_path: str | None, map_info: dict | None) -> dict:
    if (chart_path or (map_info or {}).get("path") or fig.bars) and not fig.alt:
        raise PublicationError(f"figure {fig.id!r}: a chart or map without an alternative text")
    return {
        "id": fig.id,
        "titre": fig.titre,
        "unite": fig.unite,
        "champ": fig.champ,
        "source": SOURCE,
        "lecture": fig.lecture,
        "note": fig.note,
        "secret": NOTE_SECRET if fig.has_secret else "",
        "chart": chart_path,
        "bars": fig.bars,
        "map": map_info,
        "alt": fig.alt,
        "table": {
            "columns": fig.columns,
            "rows": [[c.text() if isinstance(c, Cell) else str(c) for c in r] for r in fig.rows],
            "bold": sorted(fig.bold_rows),
        }
        if fig.show_table
        else None,
    }


def _map(doc: Document, table_df: pd.DataFrame, build: Path) -> dict:
    """The département map of a région, drawn by ``maps.region_map`` when that module provides it."""
    try:
        maps = importlib.import_module("observatory.publish.maps")
    except ImportError:
        maps = None
    region_map = getattr(maps, "region_map", None)
    if region_map is None:
        return {
            "path": None,
            "message": "Carte des départements non disponible : le module de cartographie "
            "(observatory.publish.maps.region_map) est absent.",
        }
    out = build / "carte.svg"
    try:
        res = region_map(table_df, doc.region_code, out)
    except Exception as exc:  # noqa: BLE001 — a failing map must not block the panorama; the slot says why
        return {"path": None, "message": f"Carte des départements non disponible ({type(exc).__name__})."}
    res = Path(res) if isinstance(res, (str, Path)) else out
    if not res.exists():
        return {"path": None, "message": "Carte des départements non disponible."}
    if res.parent != build:
        shutil.copy(res, build / res.name)
    return {"path": res.name, "message": ""}


def document_json(doc: Document, build: Path, table_df: pd.DataFrame | None = None) -> dict:
    """The JSON data the typst template reads; draws the charts (and the map) into ``build``."""
    (build / "charts").mkdir(parents=True, exist_ok=True)
    sections = []
    for s in doc.sections:
        figs = []
        for f in s.figures:
            chart_rel = None
            if f.chart is not None:
                chart_rel = f"charts/{f.id}.svg"
                f.chart(build / chart_rel)
            map_info = _map(doc, table_df, build) if f.map_slot and table_df is not None else None
            if f.map_slot and map_info is None:
                map_info = {"path": None, "message": "Carte des départements non disponible."}
            figs.append(_figure_json(f, chart_rel, map_info))
        sections.append(
            {
                "titre": s.titre,
                "intro": s.intro,
                "kpis": [{"valeur": c.text(), "libelle": lbl} for c, lbl in s.kpis],
                "figures": figs,
                "metadata": [{"cle": k, "valeur": v} for k, v in s.metadata],
            }
        )
    return {
        "doc": {
            "kind": doc.kind,
            "titre": doc.titre,
            "sous_titre": doc.sous_titre,
            "millesime": str(doc.millesime),
            "date": _run_date(doc.manifest),
            "perimetre": str(doc.manifest.get("perimetre_version", "")),
            "source": SOURCE,
        },
        "sections": sections,
    }


def write_document(
    doc: Document, out_dir: Path, table_df: pd.DataFrame | None = None, csv_dir: Path | None = None
) -> list[Path]:
    """Write a document's PDF and XLSX (and, with ``csv_dir``, one CSV per figure); return the paths."""
    from observatory.publish import xlsx

    sub = {"panorama": "panoramas", "plaquette": "panoramas", "egalite": "egalite"}[doc.kind]
    dest = Path(out_dir) / sub / f"{doc.slug}.pdf"
    written = []
    with tempfile.TemporaryDirectory(prefix="observatoire-typst-") as tmpdir:
        build = Path(tmpdir)
        data = document_json(doc, build, table_df)
        compile_pdf(f"{doc.kind}.typ", data, build, dest)
    written.append(dest)
    written.append(xlsx.write_workbook(doc, dest.with_suffix(".xlsx"), csv_dir=csv_dir))
    if csv_dir is not None:
        for s in doc.sections:
            for f in s.figures:
                written.append(write_csv(f, Path(csv_dir) / f"{f.id}.csv"))
    return written


# --------------------------------------------------------------------------------------------- entry points
def build_region_panorama(
    table, manifest: dict, code_region: str, out_dir: str | Path, history: list[Vintage] | None = None
) -> list[Path]:
    """Write ``panoramas/region-<code>.pdf`` and ``.xlsx`` and ``donnees/region-<code>/*.csv`` under ``out_dir``.

    ``history`` (earlier vintages, :func:`earlier_vintages`) feeds the evolution section; none: the section
    says no earlier vintage is published.
    """
    it = _as_table(table)
    doc = panorama_document(it, manifest, code_region, history)
    out_dir = Path(out_dir)
    return write_document(doc, out_dir, it.df, csv_dir=out_dir / "donnees" / f"region-{code_region}")


def build_departement_plaquette(
    table,
    manifest: dict,
    code_departement: str,
    out_dir: str | Path,
    history: list[Vintage] | None = None,
) -> list[Path]:
    """Write ``panoramas/departement-<code>.pdf`` and ``.xlsx`` (and its CSV under ``donnees/``)."""
    it = _as_table(table)
    doc = plaquette_document(it, manifest, code_departement, history)
    out_dir = Path(out_dir)
    return write_document(
        doc, out_dir, it.df, csv_dir=out_dir / "donnees" / f"departement-{code_departement}"
    )


def build_egalite_france(table, manifest: dict, out_dir: str | Path) -> list[Path]:
    """Write ``egalite/france.pdf`` and ``.xlsx`` (and its CSV under ``donnees/egalite-france/``)."""
    it = _as_table(table)
    doc = egalite_document(it, manifest)
    out_dir = Path(out_dir)
    return write_document(doc, out_dir, it.df, csv_dir=out_dir / "donnees" / "egalite-france")


def read_manifest(vintage_dir: str | Path) -> dict:
    """``manifest.json`` of a vintage folder (an empty dict when it is missing)."""
    path = Path(vintage_dir) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def build_all(
    output_vintage_dir: str | Path,
    regions: Iterable[str] | None = None,
    out_dir: str | Path | None = None,
    table: IndicatorTable | None = None,
) -> dict:
    """Build the publications of a vintage folder ``output/<millesime>/``.

    They are written under ``out_dir`` (default: the vintage folder itself; a staging folder laid out the
    same way for :mod:`observatory.publish.release`); ``table``: the vintage's table when already read.

    ``regions=None`` builds every région of the table, all their départements' plaquettes and the France
    égalité report; with a list of région codes (one région partition of the pipeline) only those
    panoramas and their départements' plaquettes are rebuilt. Returns ``{"regions": {code: [paths]},
    "departements": {code: [paths]}, "egalite": [paths]}``.
    """
    vintage = Path(output_vintage_dir)
    out = Path(out_dir) if out_dir is not None else vintage
    table = table or IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = read_manifest(vintage)
    all_regions = table.codes("region")
    todo = all_regions if regions is None else [str(r) for r in regions]
    unknown = [r for r in todo if r not in all_regions]
    if unknown:
        raise PublicationError(f"régions absentes de la table des indicateurs : {', '.join(unknown)}")
    history = earlier_vintages(vintage, table.millesime)
    result: dict = {"regions": {}, "departements": {}, "egalite": []}
    for code in todo:
        result["regions"][code] = build_region_panorama(table, manifest, code, out, history)
        for dep in table.departements_of(code):
            result["departements"][dep] = build_departement_plaquette(table, manifest, dep, out, history)
    if regions is None and table.codes("france"):
        result["egalite"] = build_egalite_france(table, manifest, out)
    return result
