"""The baromètre publications of one semester: ``france.pdf`` and ``region-<code>.pdf``, each with its ``.xlsx``.

They read only the published baromètre table (``barometre/<AAAA-Sn>/indicateurs.parquet``, see
:mod:`observatory.barometre`) and the département geometries: no figure is recomputed from microdata, and
a cell the table marks secret prints ``s``, a cell outside the source's field ``n.d.``. Each publication
shows the last two quarters of the semester against the same quarters a year before (headcount,
year-on-year change, net jobs; ESS, privé hors ESS, privé), the long series since the first quarter
available, the change by family, by sector and by département (table and map, diverging palette centred
on 0), the field of the source and the source line. Documents are typst (``templates/barometre.typ``)
fed with already formatted French text; every file is written atomically.
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

from observatory import config, pools
from observatory.barometre_spec import CHAMP_SOURCE, COST_FILE, TABLE_NAME, quarter_index, quarter_key
from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish import alt, fmt, notes
from observatory.publish.barometre_charts import CHAMPS, SECRET_STATUTS, change_bars, change_map, series_chart
from observatory.publish.model import Cell
from observatory.publish.typst_pdf import compile_pdf
from observatory.reference.indicateurs import to_natural

TEMPLATE = Path(__file__).resolve().parent / "templates" / "barometre.typ"
SOURCE = "Source : Urssaf (effectifs trimestriels du régime général), Insee (SIRENE) — traitement Observatoire de l'ESS"
CHAMP = (
    f"Champ : établissements employeurs du {CHAMP_SOURCE} (Mayotte : n.d.), "
    "effectifs salariés en fin de trimestre."
)
NOTE = "s : secret statistique. n.d. : non disponible (hors du champ de la source, ou base nulle)."
FAMILLES = {
    "association": "Associations",
    "cooperative": "Coopératives",
    "mutuelle": "Mutuelles",
    "fondation": "Fondations",
    "autre_obnl": "Autres organismes de l'ESS",
    "societe_commerciale_ess": "Sociétés commerciales de l'ESS",
}


# ---------------------------------------------------------------------------------------------- cells


KINDS = {"effectif_fin_trimestre": "nombre", "glissement_annuel": "evolution", "solde_annuel": "solde"}
"""How each indicator of the baromètre prints and is exported (kinds of :class:`~observatory.publish.model.Cell`:
a headcount, a signed change in percent, a signed count)."""


def cell_of(valeur: float | None, statut: str, indicateur: str) -> Cell:
    """A cell of the table as the documents hold it: the value when published, ``s`` when secret, ``n.d.``
    otherwise (outside the source's field, or no base)."""
    kind = KINDS.get(indicateur, "nombre")
    if statut in SECRET_STATUTS:
        return Cell(None, statut, kind)
    if statut != "publie" or valeur is None:
        return Cell(None, "absent", kind)
    return Cell(valeur, "publie", kind)




class Barometre:
    """The published table of one semester, indexed for look-ups."""

    def __init__(self, table: pd.DataFrame, semestre: str):
        self.table = table
        self.cost: dict = {}  # what secrecy cost, per level (the semester's cout_du_secret.json)
        self.folder = Path(semestre)  # where its publications go (set by the reader of a semester folder)
        self.semestre = semestre
        self.quarters = sorted(table["trimestre"].unique(), key=quarter_index)
        self.last = self.quarters[-1]
        self.previous = quarter_key(quarter_index(self.last) - 1)
        self.first = self.quarters[0]
        keys = zip(
            table["niveau"],
            table["code"],
            table["champ"],
            table["famille"],
            table["secteur"],
            table["indicateur"],
            table["trimestre"],
            strict=True,
        )
        # the one unit convention of every table: 'pourcent' is 0–100; a Cell holds fractions (charts, fmt)
        valeurs = [
            to_natural(None if pd.isna(v) else float(v), u)
            for v, u in zip(table["valeur"], table["unite"], strict=True)
        ]
        names = self.table.drop_duplicates(["niveau", "code"])
        self._libelles = {
            (n, c): str(x) for n, c, x in zip(names["niveau"], names["code"], names["libelle"], strict=True)
        }
        self._cells = {k: cell_of(v, s, k[5]) for k, v, s in zip(keys, valeurs, table["statut"], strict=True)}

    def cell(
        self, niveau, code, indicateur, trimestre, champ="ess", famille="toutes", secteur="tous"
    ) -> Cell:
        """The cell of the table, or ``n.d.`` when the table has no such row."""
        key = (niveau, code, champ, famille, secteur, indicateur, trimestre)
        return self._cells.get(key) or cell_of(None, "absent", indicateur)

    def libelle(self, niveau: str, code: str) -> str:
        return self._libelles.get((niveau, code), code)

    def values(self, column: str, **where) -> list[str]:
        """Distinct values of ``column`` among the rows matching ``where``, sorted."""
        t = self.table
        for k, v in where.items():
            t = t[t[k] == v]
        return sorted(t[column].unique())


def trimestre_label(trimestre: str) -> str:
    """``2023-T4`` → ``4e trimestre 2023``."""
    year, n = trimestre.split("-T")
    return f"{'1er' if n == '1' else n + 'e'} trimestre {year}"


def semestre_label(semestre: str) -> str:
    """``2023-S2`` → ``2e semestre 2023``."""
    year, n = semestre.split("-S")
    return f"{'1er' if n == '1' else '2e'} semestre {year}"


# --------------------------------------------------------------------------------------------- charts


# -------------------------------------------------------------------------------------------- content


def _departements_of(b: Barometre, niveau: str, code: str) -> list[str]:
    from observatory.reference.cog import departements

    deps = departements()
    if niveau == "region":
        deps = deps[deps["code_region"] == code]
    present = set(b.values("code", niveau="departement"))
    return [c for c in deps["code_departement"] if c in present]


def _sectors(b: Barometre) -> list[tuple[str, str]]:
    from observatory.reference.perimeter import secteurs

    labels = secteurs().drop_duplicates("secteur").set_index("secteur")["libelle_secteur"].to_dict()
    order = list(labels)
    present = [s for s in b.values("secteur", niveau="france", champ="ess") if s != "tous"]
    present.sort(key=lambda s: order.index(s) if s in order else len(order))
    return [(s, labels.get(s, s)) for s in present]


def _figure(fig_id, titre, unite, lecture, chart=None, carte=None, table=None, alt_text="", headline=None) -> dict:
    """One figure of the template; ``headline``: the number its alternative text states first, as printed
    (``None`` for an empty chart), which the accessibility tests look for in the text and the page."""
    return {
        "id": fig_id,
        "titre": titre,
        "unite": unite,
        "chart": chart,
        "alt": alt_text,
        "headline": headline,
        "table": table,
        "note": "",
        "map": None if carte is None else {"path": carte, "message": ""},
        "champ": CHAMP,
        "source": SOURCE,
        "lecture": lecture,
        "secret": NOTE,
    }


def _table(columns: list[str], rows: list[list]) -> dict:
    return {"columns": columns, "rows": rows, "bold": []}


def _section(titre: str, figures: list[dict], intro: list[str] | None = None, kpis: list | None = None) -> dict:
    return {"titre": titre, "intro": intro or [], "kpis": kpis or [], "figures": figures, "metadata": []}


class _Publication:
    """One territory's publication as formatted text, section by section; its charts are drawn into ``workdir``
    by the sections that show them."""

    def __init__(self, b: Barometre, niveau: str, code: str, workdir: Path):
        self.b, self.niveau, self.code, self.workdir = b, niveau, code, workdir
        self.t, self.t1 = b.last, b.previous
        self.libelle = b.libelle(niveau, code)
        self.where = fmt.locatif(niveau, code, self.libelle)
        self.fin = f"fin {self.t.replace('-', ' ')}"

    def c(self, indicateur: str, trimestre: str | None = None, **kw) -> Cell:
        """A cell of this territory (at the semester's last quarter unless ``trimestre``)."""
        return self.b.cell(self.niveau, self.code, indicateur, trimestre or self.t, **kw)

    def key_figures(self) -> dict:
        t, t1, c, where = self.t, self.t1, self.c, self.where
        chiffres = []
        for champ, label in CHAMPS.items():
            row = [label]
            for q in (t1, t):
                row += [
                    c("effectif_fin_trimestre", q, champ=champ).text(),
                    c("glissement_annuel", q, champ=champ).text(),
                    c("solde_annuel", q, champ=champ).text(),
                ]
            chiffres.append(row)
        eff, gl, so = (c(i) for i in ("effectif_fin_trimestre", "glissement_annuel", "solde_annuel"))
        if eff.ok and gl.ok:
            lecture = (
                f"Lecture : à la fin du {trimestre_label(t)}, les établissements de l'ESS emploient "
                f"{eff.text()} salariés {where}, soit {gl.text()} en un an "
                f"({so.text()} emplois par rapport au {trimestre_label(quarter_key(quarter_index(t) - 4))})."
            )
        else:
            lecture = (
                f"Lecture : à la fin du {trimestre_label(t)}, l'effectif salarié de l'ESS {where} "
                f"n'est pas publiable ({eff.text()}) : {NOTE}"
            )
        cols_q = [
            f"Effectif {t1.replace('-', ' ')}", "Évol. 1 an", "Solde 1 an",
            f"Effectif {t.replace('-', ' ')}", "Évol. 1 an", "Solde 1 an",
        ]
        intro = [
            (
                f"{semestre_label(self.b.semestre).capitalize()} : effectifs salariés à la fin du "
                f"{trimestre_label(t1)} et du {trimestre_label(t)}, comparés au même trimestre un an plus tôt."
            ),
            CHAMP,
        ]
        kpis = [
            {"valeur": eff.text(), "libelle": f"salariés de l'ESS {self.fin}"},
            {"valeur": gl.text(), "libelle": "évolution sur un an (ESS)"},
            {"valeur": so.text(), "libelle": "emplois sur un an (ESS)"},
            {
                "valeur": c("glissement_annuel", champ="prive_hors_ess").text(),
                "libelle": "évolution sur un an (privé hors ESS)",
            },
        ]
        fig = _figure(
            "chiffres-cles", "Effectifs salariés et évolution sur un an", "Unité : nombre de salariés, %", lecture,
            table=_table(["Champ", *cols_q], chiffres),
        )
        return _section("Chiffres clés", [fig], intro, kpis)

    def series(self) -> dict:
        t, c = self.t, self.c
        quarters = [q for q in self.b.quarters if quarter_index(q) <= quarter_index(t)]
        serie = {
            champ: [c("effectif_fin_trimestre", q, champ=champ) for q in quarters]
            for champ in ("ess", "prive_hors_ess")
        }
        series_chart(
            quarters,
            {k: [x.value if x.ok else None for x in v] for k, v in serie.items()},
            self.workdir / "serie.svg",
        )

        def said_series(champ: str) -> str:
            cells = [(q, x) for q, x in zip(quarters, serie[champ], strict=True) if x.ok]
            if not cells:
                return f"{CHAMPS[champ]} : {alt.said(fmt.SECRET)}"
            (q0, first), (q1, last) = cells[0], cells[-1]
            said = (
                f"{CHAMPS[champ]} : {first.text()} salariés au {trimestre_label(q0)}, {last.text()} au "
                f"{trimestre_label(q1)}"
            )
            base = next((x for _, x in cells if x.value), None)  # the chart's base: first non-zero quarter
            if base is None:
                return said
            return f"{said} (indice {fmt.nombre(100 * last.value / base.value, 1)})"

        alt_serie = (
            f"Effectif salarié en fin de trimestre {self.where}, indice base 100 au premier trimestre publié de "
            f"chaque champ. {said_series('ess')} ; {said_series('prive_hors_ess')}."
        )
        lecture = (
            f"Lecture : indice 100 au premier trimestre publié de chaque champ ({trimestre_label(self.b.first)} au "
            "plus tôt) ; un indice de 105 signifie 5 % de salariés de plus qu'à ce trimestre."
        )
        fig = _figure(
            "serie-longue",
            f"Effectifs salariés en fin de trimestre depuis le {trimestre_label(quarters[0])}",
            "Unité : indice base 100 au premier trimestre publié",
            lecture,
            chart="serie.svg",
            alt_text=alt_serie,
            headline=next((x.text() for x in reversed(serie["ess"]) if x.ok), fmt.SECRET),
        )
        return _section("Série longue", [fig])

    def families(self) -> dict:
        t, t1, c, where = self.t, self.t1, self.c, self.where
        b, niveau, code = self.b, self.niveau, self.code
        familles = [
            (
                lab,
                [
                    c("effectif_fin_trimestre", famille=f).text(),
                    c("glissement_annuel", t1, famille=f).text(),
                    c("glissement_annuel", famille=f).text(),
                    c("solde_annuel", famille=f).text(),
                ],
            )
            for f, lab in FAMILLES.items()
            if (niveau, code, "ess", f, "tous", "effectif_fin_trimestre", t) in b._cells
        ]
        fam_keys = [f for f, lab in FAMILLES.items() if lab in {r[0] for r in familles}]
        change_bars(
            [FAMILLES[f] for f in fam_keys],
            {"ess": [c("glissement_annuel", famille=f) for f in fam_keys]},
            self.workdir / "familles.svg",
        )
        fam_pub = next((f for f in FAMILLES if c("glissement_annuel", famille=f).ok), None)
        lecture = (
            f"Lecture : {where}, à la fin du {trimestre_label(t)}, l'effectif salarié des "
            f"{FAMILLES[fam_pub].lower()} a évolué de {c('glissement_annuel', famille=fam_pub).text()} "
            "en un an."
            if fam_pub
            else f"Lecture : {where}, aucune évolution par famille n'est publiable ({NOTE})"
        )
        alt_familles = alt.listing(
            f"Évolution sur un an de l'effectif salarié de l'ESS {where} par famille, {self.fin}",
            [(FAMILLES[f], c("glissement_annuel", famille=f).text()) for f in fam_keys],
        )
        columns = [
            "Famille", f"Effectif {t.replace('-', ' ')}", f"Évol. 1 an {t1.replace('-', ' ')}",
            f"Évol. 1 an {t.replace('-', ' ')}", "Solde 1 an",
        ]
        fig = _figure(
            "familles",
            f"Évolution sur un an de l'effectif salarié par famille, {self.fin}",
            "Unité : %, nombre de salariés",
            lecture,
            chart="familles.svg",
            alt_text=alt_familles,
            headline=c("glissement_annuel", famille=fam_keys[0]).text() if fam_keys else None,
            table=_table(columns, [[lab, *vals] for lab, vals in familles]),
        )
        return _section("Par famille de l'ESS", [fig])

    def sectors(self) -> dict:
        t, c, where = self.t, self.c, self.where
        secteurs = _sectors(self.b)
        rows = [
            [
                lab,
                c("effectif_fin_trimestre", secteur=s).text(),
                c("glissement_annuel", secteur=s).text(),
                c("solde_annuel", secteur=s).text(),
                c("glissement_annuel", champ="prive_hors_ess", secteur=s).text(),
            ]
            for s, lab in secteurs
        ]
        change_bars(
            [lab for _, lab in secteurs],
            {
                champ: [c("glissement_annuel", champ=champ, secteur=s) for s, _ in secteurs]
                for champ in ("ess", "prive_hors_ess")
            },
            self.workdir / "secteurs.svg",
        )
        lecture = (
            f"Lecture : {where}, l'effectif salarié de l'ESS varie sur un an, à la fin du {trimestre_label(t)}, "
            "de la valeur indiquée pour chaque secteur ; la barre bleue donne la même évolution dans le privé hors "
            "ESS."
        )
        alt_secteurs = alt.grouped(
            f"Évolution sur un an de l'effectif salarié {where} par secteur, {self.fin}",
            [lab for _, lab in secteurs],
            [
                (CHAMPS[ch], [c("glissement_annuel", champ=ch, secteur=s).text() for s, _ in secteurs])
                for ch in ("ess", "prive_hors_ess")
            ],
        )
        fig = _figure(
            "secteurs",
            f"Évolution sur un an de l'effectif salarié par secteur, {self.fin}",
            "Unité : %, nombre de salariés",
            lecture,
            chart="secteurs.svg",
            alt_text=alt_secteurs,
            headline=c("glissement_annuel", secteur=secteurs[0][0]).text() if secteurs else None,
            table=_table(["Secteur", "Effectif ESS", "Évol. ESS", "Solde ESS", "Évol. privé hors ESS"], rows),
        )
        return _section("Par secteur d'activité", [fig])

    def departements(self) -> dict:
        b, t = self.b, self.t
        deps = _departements_of(b, self.niveau, self.code)
        rows = [
            [
                f"{d} {b.libelle('departement', d)}",
                b.cell("departement", d, "effectif_fin_trimestre", t).text(),
                b.cell("departement", d, "glissement_annuel", t).text(),
                b.cell("departement", d, "solde_annuel", t).text(),
                b.cell("departement", d, "glissement_annuel", t, champ="prive_hors_ess").text(),
            ]
            for d in deps
        ]
        change_map({d: b.cell("departement", d, "glissement_annuel", t) for d in deps}, self.workdir / "carte.svg")
        lecture = (
            f"Lecture : évolution sur un an de l'effectif salarié de l'ESS à la fin du {trimestre_label(t)}, par "
            "département ; rouge : baisse, bleu : hausse, palette centrée sur 0."
        )
        alt_carte = alt.listing(
            f"Carte des départements {self.where} : évolution sur un an de l'effectif salarié de l'ESS, {self.fin}",
            [(row[0], row[2]) for row in rows],
        )
        fig = _figure(
            "departements",
            f"Évolution sur un an de l'effectif salarié de l'ESS, {self.fin}",
            "Unité : %, nombre de salariés",
            lecture,
            carte="carte.svg",
            alt_text=alt_carte,
            headline=rows[0][2] if rows else None,
            table=_table(["Département", "Effectif ESS", "Évol. ESS", "Solde ESS", "Évol. privé hors ESS"], rows),
        )
        return _section("Par département", [fig])

    def methodology(self) -> dict:
        emplois = f"des salariés à la fin du {trimestre_label(self.t)}"
        costs = [
            line
            for level in dict.fromkeys((self.niveau, "departement"))
            if (line := notes.cout_du_secret(self.b.cost, level, "du baromètre", emplois))
        ]
        intro = [
            CHAMP,
            (
                "Les effectifs sont ceux de la déclaration des établissements à la fin de chaque trimestre "
                "(régime général de la sécurité sociale) ; les chiffres « France » sont France hors Mayotte, "
                "somme des régions."
            ),
            *notes.BAROMETRE,
            *notes.definitions(barometre=True),
            (
                "Secret statistique : une case de 1 ou 2 établissements, ou dont le premier établissement "
                "emploie plus de 85 % des salariés, n'est pas publiée (s) ; une évolution l'est dès qu'une des "
                "deux cases dont elle est calculée l'est."
            ),
            *costs,
            SOURCE,
        ]
        return _section("Méthodologie", [], intro)


def territory_content(b: Barometre, niveau: str, code: str, workdir: Path) -> dict:
    """Everything one publication prints, as formatted text, plus the charts written into ``workdir``."""
    p = _Publication(b, niveau, code, workdir)
    return {
        "doc": {
            "titre": f"Baromètre de l'emploi dans l'ESS — {p.libelle}",
            "sous_titre": semestre_label(b.semestre),
            "millesime": "Observatoire de l'ESS",
        },
        "champ": CHAMP,
        "sections": [p.key_figures(), p.series(), p.families(), p.sectors(), p.departements(), p.methodology()],
    }


# ------------------------------------------------------------------------------------------ rendering


def render_pdf(content: dict, workdir: Path, dest: Path) -> Path:
    """Compile the typst template with ``content`` (charts already in ``workdir``) into ``dest``, atomically.

    The publications' one typst call (:func:`~observatory.publish.typst_pdf.compile_pdf`): tagged
    PDF/UA-1, a typst warning fails the build.
    """
    compile_pdf(TEMPLATE.name, content, workdir, dest, timestamp=0)
    return dest


DATA_DIR = "donnees"
"""The CSV behind each figure: ``<semester>/donnees/<france|region-XX>/<figure>.csv``."""


def data_tables(b: Barometre, niveau: str, code: str, content: dict) -> list[tuple[str, object]]:
    """The data behind each figure of one publication, in the PDF's order: ``[(sheet name, Figure)]``.

    Each is a :class:`~observatory.publish.documents.Figure` (id = the PDF figure's, rows of cells read from
    the published table) so the workbook and the CSV are written from the same rows, by the panoramas'
    writers; its ``alt`` is the chart's alternative text in the PDF.
    """
    from observatory.publish import model

    t = b.last
    libelle = b.libelle(niveau, code)
    figs = {f["id"]: f for s in content["sections"] for f in s["figures"]}
    head = ["Champ", "Trimestre", "Effectif fin de trimestre", "Évolution sur un an", "Solde sur un an"]

    def table(fig_id: str, titre: str, columns: list[str], rows: list[list]):
        f = figs.get(fig_id, {})
        return model.Figure(
            fig_id,
            titre,
            f.get("unite", ""),
            CHAMP,
            f.get("lecture", ""),
            columns,
            rows,
            alt=f.get("alt", ""),
        )

    quarters = [q for q in b.quarters if quarter_index(q) <= quarter_index(t)]
    rows = _figure_rows(b, niveau, code, quarters)
    return [
        (
            "Chiffres clés",
            table(
                "chiffres-cles",
                f"Baromètre de l'emploi dans l'ESS — {libelle} — {semestre_label(b.semestre)}",
                head,
                rows["chiffres"],
            ),
        ),
        (
            "Série longue",
            table(
                "serie-longue",
                f"Effectifs salariés en fin de trimestre depuis {quarters[0]} — {libelle}",
                ["Trimestre", *CHAMPS.values()],
                rows["serie"],
            ),
        ),
        (
            "Familles",
            table("familles", f"ESS par famille — {libelle}", ["Famille", *head[1:]], rows["familles"]),
        ),
        ("Secteurs", table("secteurs", f"Par secteur — {libelle}", ["Secteur", *head], rows["secteurs"])),
        (
            "Départements",
            table(
                "departements",
                f"Par département — {libelle}",
                ["Code", "Département", *head],
                rows["departements"],
            ),
        ),
    ]


def _figure_rows(b: Barometre, niveau: str, code: str, quarters: list[str]) -> dict[str, list[list]]:
    """The rows of :func:`data_tables`' figures, by figure: cells of the published table (``b.cell``)."""
    t, t1 = b.last, b.previous

    def values(q, **kw) -> list:
        return [b.cell(niveau, code, i, q, **kw) for i in KINDS]

    def by_departement(d: str, ch: str, q: str) -> list:
        cells = [b.cell("departement", d, i, q, champ=ch) for i in KINDS]
        return [d, b.libelle("departement", d), CHAMPS[ch], q, *cells]

    return {
        "chiffres": [[label, q, *values(q, champ=ch)] for ch, label in CHAMPS.items() for q in (t1, t)],
        "serie": [
            [q, *(b.cell(niveau, code, "effectif_fin_trimestre", q, champ=ch) for ch in CHAMPS)]
            for q in quarters
        ],
        "familles": [
            [FAMILLES[f], q, *values(q, famille=f)]
            for f in FAMILLES
            for q in (t1, t)
            if (niveau, code, "ess", f, "tous", "effectif_fin_trimestre", q) in b._cells
        ],
        "secteurs": [
            [lab, CHAMPS[ch], q, *values(q, champ=ch, secteur=s)]
            for s, lab in _sectors(b)
            for ch in ("ess", "prive_hors_ess")
            for q in (t1, t)
        ],
        "departements": [
            by_departement(d, ch, q)
            for d in _departements_of(b, niveau, code)
            for ch in ("ess", "prive_hors_ess")
            for q in (t1, t)
        ],
    }


def write_csvs(tables: list[tuple[str, object]], csv_dir: Path) -> list[Path]:
    """One CSV per figure, by the panoramas' writer (``;``, ``,`` decimals, UTF-8 BOM, ``s`` if secret)."""
    from observatory.publish import render

    return [render.write_csv(fig, Path(csv_dir) / f"{fig.id}.csv") for _sheet, fig in tables]


def write_xlsx(tables: list[tuple[str, object]], dest: Path, csv_dir: Path | None = None) -> Path:
    """The figures of one publication as a workbook: one sheet per figure, numbers as numbers.

    Layout of a sheet (the panoramas'): the title, the field, the source, then (with ``csv_dir``) row 4 the
    link to the figure's CSV, headers on row 5, data from row 6; after the data the notes and the chart's
    description (its alternative text in the PDF). Percentages 0–100 (as in the table), ``s`` when secret,
    ``n.d.`` when not available.
    """
    import os

    from observatory.publish.model import export_value
    from observatory.publish.xlsx import HEADER_ROW, NUMBER_FORMATS, new_workbook, relative_link, write_cell

    dest = Path(dest)
    with atomic_path(dest) as tmp:
        wb = new_workbook(tmp)  # xlsxwriter: ~5x faster than openpyxl for these workbooks
        bold = wb.add_format({"bold": True})
        link_format = wb.add_format({"underline": 1, "font_color": "#1A5A99"})
        formats = {kind: wb.add_format({"num_format": f}) for kind, f in NUMBER_FORMATS.items()}
        for name, fig in tables:
            ws = wb.add_worksheet(name)
            write_cell(ws, 0, 0, fig.titre, bold)
            write_cell(ws, 1, 0, CHAMP)
            write_cell(ws, 2, 0, SOURCE)
            if csv_dir is not None:
                link = relative_link(
                    os.path.relpath(Path(csv_dir) / f"{fig.id}.csv", dest.parent).replace(os.sep, "/")
                )
                link.text = f"Données du graphique au format CSV : {link.text}"
                ws.write_url(3, 0, link, link_format)
            for j, col in enumerate(fig.columns):
                write_cell(ws, HEADER_ROW - 1, j, col, bold)
            r = HEADER_ROW  # 0-based: the row after the headers
            for row in fig.rows:
                for j, c in enumerate(row):
                    if isinstance(c, str):
                        write_cell(ws, r, j, c)
                    else:
                        write_cell(ws, r, j, _sheet_value(c, export_value), formats[c.kind] if c.ok else None)
                r += 1
            r += 1  # an empty row, then the notes
            for line in [NOTE, *notes.BAROMETRE] + (
                [f"Description du graphique : {fig.alt}"] if fig.alt else []
            ):
                write_cell(ws, r, 0, line)
                r += 1
            ws.set_column(0, 0, 42)
        wb.close()
        tmp.chmod(0o644)
    return dest


def _sheet_value(cell, export_value) -> object:
    """A cell in the workbook: its exported number, ``s`` when secret, ``n.d.`` when not available."""
    return fmt.MISSING if not cell.secret and cell.value is None else export_value(cell, 100.0)


def build_barometre_docs(barometre_dir: Path, regions=None, workers: int | None = None) -> list[Path]:
    """Write ``france.pdf``/``.xlsx`` and ``region-<code>.pdf``/``.xlsx`` into ``barometre_dir``, and the CSV
    behind each of their figures under ``donnees/<france|region-XX>/``.

    ``barometre_dir`` is a semester folder (``output/<millesime>/barometre/<AAAA-Sn>/``) holding the
    published ``indicateurs.parquet``; ``regions`` limits the régions (default: every région of the
    table; the France publication is always written). The publications are independent: ``workers``
    processes (default :func:`observatory.config.workers`) build them when there are enough to pay
    for starting them. Returns the paths written.
    """
    b = _barometre(Path(barometre_dir))
    codes = b.values("code", niveau="region") if regions is None else [str(r) for r in regions]
    todo = [("france", "FR", "france")] + [("region", r, f"region-{r}") for r in codes]
    n = min(config.workers() if workers is None else workers, len(todo) // _MIN_PER_WORKER)
    if n <= 1:
        return [p for niveau, code, stem in todo for p in _publication(b, niveau, code, stem)]
    with pools.spawn_pool(n) as pool:
        parts = pool.map(_publication_in_worker, [Path(barometre_dir)] * len(todo), *zip(*todo, strict=True))
        return [p for part in parts for p in part]


_MIN_PER_WORKER = 5
"""Below this many publications per process, starting a process (≈ 2 s of imports) costs more than it saves."""


def _barometre(barometre_dir: Path) -> Barometre:
    """The semester's published table (and what its secrecy cost), ready for look-ups."""
    path = barometre_dir / f"{TABLE_NAME}.parquet"
    if not path.exists():
        raise PublicationError(f"baromètre: {path} is missing (build the baromètre table first)")
    b = Barometre(pd.read_parquet(path), barometre_dir.name)
    cost = barometre_dir / COST_FILE
    b.cost = json.loads(cost.read_text(encoding="utf-8")) if cost.exists() else {}
    b.folder = barometre_dir
    return b


def _publication(b: Barometre, niveau: str, code: str, stem: str) -> list[Path]:
    """One publication: its PDF, its workbook and the CSV of its figures."""
    with tempfile.TemporaryDirectory(prefix="barometre-") as tmp:
        work = Path(tmp)
        content = territory_content(b, niveau, code, work)
        written = [render_pdf(content, work, b.folder / f"{stem}.pdf")]
    tables = data_tables(b, niveau, code, content)
    csv_dir = b.folder / DATA_DIR / stem
    written.append(write_xlsx(tables, b.folder / f"{stem}.xlsx", csv_dir))
    return written + write_csvs(tables, csv_dir)


@lru_cache(maxsize=1)
def _worker_barometre(barometre_dir: Path) -> Barometre:
    return _barometre(barometre_dir)


def _publication_in_worker(barometre_dir: Path, niveau: str, code: str, stem: str) -> list[Path]:
    return _publication(_worker_barometre(barometre_dir), niveau, code, stem)
