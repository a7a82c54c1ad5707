"""Territorial portraits: one per EPCI of the COG, and one per territory drawn on demand.

A portrait is a 2–4 page document in the plaquettes' style (``plaquette`` banner, same figures and
captions), assembled from the published indicator table only (an EPCI's cells, or a territory's cells from
``territoires/<slug>/indicateurs.parquet``) as a :class:`~observatory.publish.documents.Document`, then
written three ways as every publication is: the PDF (typst), the XLSX and the CSV behind each chart.

What it shows: key figures (ESS, privé hors ESS and public: establishments, jobs, ETP, payroll, pay per ETP,
shares of private and of all employment), the ESS families, a comparison with the territory's
département(s), région(s) and France (jobs, shares, pay, part-time, women, pay gap), then sectors, size bands
and women and men. The indicator table publishes EPCI cells for the champs, the families, the ESS's two
sexes, and the ESS's establishments and jobs by size band and by sector (the protection covers no other
crossing at that level): an EPCI's tables are its own but the ESS's share of each sector's jobs; a territory
on demand (champs, families, the ESS's women and men) shows its département's sectors and size bands; a
sentence says so.

Speed: about 1 250 EPCI portraits per vintage. Matplotlib would cost ~0.2 s per chart, so the portrait's
charts are drawn natively by typst (``bars`` in the figure JSON, ``bar-chart`` in ``style.typ``), and one
:class:`typst.Compiler` is reused for a whole batch (fonts and templates are loaded once).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from observatory import config, pools
from observatory.api import read_indicators
from observatory.errors import PublicationError
from observatory.files import atomic_path
from observatory.publish import (
    alt,
    charts,
    documents,
    figures,
    layout_check,
    model,
    release,
    render,
    typst_pdf,
    xlsx,
)
from observatory.publish.figures import (
    fig_chiffres_cles,
    fig_familles,
    fig_secteurs,
    fig_tranches,
)
from observatory.publish.figures_egalite import fig_plaquette_fh
from observatory.publish.model import (
    CHAMPS,
    Cell,
    Document,
    Figure,
    IndicatorTable,
    Section,
    Territory,
    champ_line,
    lecture,
)

SUBDIR = "portraits"
"""EPCI portraits: ``output/<m>/portraits/epci-<siren>.pdf`` / ``.xlsx``; CSV under ``donnees/epci-<siren>/``."""
TERRITOIRES = "territoires"
"""Territories on demand: ``output/<m>/territoires/<slug>/``."""
TEMPLATE = "portrait.typ"

SECTION_TITLES = model.SECTION_TITLES["portrait"]
NON_VENTILE = (
    "À l'échelle {de}, la table des indicateurs ne publie ni les secteurs, ni la taille des établissements, "
    "ni les ventilations par sexe (le secret statistique n'y est établi que pour les champs et les familles "
    "de l'ESS) : les figures de cette partie sont celles {du}."
)
NON_VENTILE_SECTEURS = (
    "À l'échelle {de}, la table des indicateurs ne publie ni les secteurs, ni la taille des établissements "
    "(le secret statistique n'y est établi que pour les champs et les familles de l'ESS, et ses femmes et "
    "ses hommes) : les figures de cette partie sont celles {du}."
)
NON_VENTILE_PART_SECTEUR = (
    "À l'échelle {de}, la table des indicateurs ventile par secteur l'ESS seule, pas l'ensemble des employeurs "
    "(le secret statistique n'y est établi que pour elle) : la part de l'ESS dans l'emploi salarié de chaque "
    "secteur n'y est pas publiée, celle {du} figure dans son panorama."
)

SANS_ESS = (
    "Aucun établissement employeur de l'ESS n'est recensé {dans} en {y} : les effectifs et les établissements "
    "de l'ESS y sont nuls, ses salaires, taux et parts internes sans objet (–)."
)
SANS_ESS_DETAIL = (
    "Aucun établissement employeur de l'ESS n'est recensé {dans} : les figures de cette partie sont "
    "celles {du}."
)

COMPARAISON = [
    # (label, indicateur, champ, kind)
    ("Effectif salarié de l'ESS au 31/12", "effectif_31_12", "ess", "nombre"),
    ("Établissements employeurs de l'ESS", "etablissements_employeurs", "ess", "nombre"),
    ("Part de l'ESS dans l'emploi salarié privé", "part_emploi_prive", "ess", None),
    ("Part de l'ESS dans l'emploi salarié total", "part_emploi_total", "ess", None),
    ("Salaire brut annuel moyen par ETP (ESS)", "salaire_brut_annuel_moyen_etp", "ess", None),
    ("Taux de temps partiel (ESS)", "taux_temps_partiel", "ess", None),
    ("Part des femmes (ESS)", "part_femmes", "ess", None),
    ("Écart de salaire horaire femmes-hommes (ESS)", "ecart_salarial_fh", "ess", None),
]


_ESS_TOTAL = ("ess", "toutes", "tous", "toutes", "tous", "toutes")


class WithoutESS(Territory):
    """A territory with no ESS employer establishment (many EPCIs of the sample, a few at France), as its
    portrait reads it: the table has no ESS cell there (a cell exists only where establishments contribute),
    which is an empty cell, not a missing one — the ESS totals' counts and sums are 0, its shares of the
    territory's employment 0 %, its rates, means and inner shares without object (``–``). Every other cell,
    and the ESS's breakdowns (no family, sector, band or sexe is listed), as in ``t``.

    Publishing these zeros gives nothing away: the protection and the audit take an empty cell as known (a
    constant of their equations), and the privé total minus the privé hors ESS already says it."""

    ZERO = ("effectif_31_12", "etablissements_employeurs", "entreprises_employeuses", "etp", "masse_salariale_brute")  # fmt: skip
    SHARES = ("part_emploi_total", "part_emploi_prive", "part_etablissements_prive")

    def __init__(self, t: Territory):
        super().__init__(t.niveau, t.code, t.libelle)
        self._cells = t._cells

    def _absent(self, indicateur: str, key: tuple, kind: str | None) -> Cell:
        cell = super()._absent(indicateur, key, kind)
        if key != _ESS_TOTAL:
            return cell
        if indicateur in self.ZERO:
            return Cell(0.0, "publie", cell.kind)
        if indicateur in self.SHARES:
            return Cell(0.0, "publie", kind or "pourcent")
        return Cell(None, "sans_objet", cell.kind)


def without_ess(t: Territory) -> bool:
    """Whether ``t`` is in the table (its ensemble is) but has no ESS employer establishment."""
    return (
        t.get("etablissements_employeurs").statut == "absent"
        and t.get("etablissements_employeurs", champ="ensemble").statut != "absent"
    )


@dataclass(frozen=True)
class Place:
    """Where a territory lies: its départements (largest population first) and régions, from the COG."""

    departements: tuple[str, ...]
    regions: tuple[str, ...]
    communes: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _communes() -> pd.DataFrame:
    from observatory.reference import cog

    com = cog.communes()
    return com[com["type"] == "COM"]


def place_of_communes(codes: Iterable[str]) -> Place:
    """The départements and régions of a set of communes (today's ``COM`` codes), largest population first."""
    com = _communes()
    sub = com[com["code_commune"].isin(set(codes))]
    deps = sub.groupby("code_departement")["population"].sum().sort_values(ascending=False, kind="stable")
    regs = sub.groupby("code_region")["population"].sum().sort_values(ascending=False, kind="stable")
    return Place(tuple(deps.index), tuple(regs.index), tuple(sorted(sub["code_commune"])))


@lru_cache(maxsize=1)
def epci_places() -> dict[str, Place]:
    """Every EPCI's départements, régions and member communes (COG); a straddling EPCI has several."""
    com = _communes().dropna(subset=["code_epci"])
    code, dep, reg = (com[c].tolist() for c in ("code_epci", "code_departement", "code_region"))
    pop, commune = com["population"].tolist(), com["code_commune"].tolist()
    deps: dict[str, dict[str, int]] = {}
    regs: dict[str, dict[str, int]] = {}
    members: dict[str, list[str]] = {}
    for e, d, r, p, c in zip(code, dep, reg, pop, commune, strict=True):
        deps.setdefault(e, {})[d] = deps.get(e, {}).get(d, 0) + p
        regs.setdefault(e, {})[r] = regs.get(e, {}).get(r, 0) + p
        members.setdefault(e, []).append(c)

    def order(weights: dict[str, int]) -> tuple[str, ...]:
        return tuple(k for k, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))

    return {e: Place(order(deps[e]), order(regs[e]), tuple(sorted(members[e]))) for e in sorted(members)}


def _de(t: Territory) -> str:
    """ "de l'EPCI CC du Pays de Landerneau", "du territoire « Pays de Brest »": the territory after « à
    l'échelle »."""
    if t.niveau == "epci":
        return f"de l'EPCI {t.libelle}"
    return f"du territoire « {t.libelle} »"


def _bars_alt(subject: str, labels: list[str], series: dict[str, list[Cell]], names: dict[str, str]) -> str:
    """The alternative text of a :func:`~.documents.native_bars` chart (typst tags it as one figure): its values
    as printed."""
    if len(series) == 1:
        (cells,) = series.values()
        return alt.listing(subject, [(lab, c.text()) for lab, c in zip(labels, cells, strict=True)])
    return alt.grouped(
        subject, labels, [(names[k], [c.text() for c in cells]) for k, cells in series.items()]
    )


def fig_comparaison(t: Territory, refs: list[Territory], y: int) -> Figure:
    """The territory next to its département(s), région(s) and France: jobs, shares, pay, part-time, women."""
    terr = [t, *refs]
    rows = [
        [label] + [x.get(ind, champ=champ, kind=kind) for x in terr]
        for label, ind, champ, kind in COMPARAISON
    ]
    part, ref = t.get("part_emploi_total"), next((r for r in refs if r.niveau == "departement"), None)
    lect = f"en {y}, l'ESS emploie {part.text()} des salariés {t.dans}"
    cells = [part]
    if ref is not None:
        lect += f", contre {ref.get('part_emploi_total').text()} {ref.dans}"
        cells.append(ref.get("part_emploi_total"))
    fig = Figure(
        "comparaison",
        "Le territoire et ses territoires de référence",
        "Unité : nombre, euros, %",
        champ_line(t, y),
        lecture(lect + ".", *cells),
        ["", *[x.libelle for x in terr]],
        rows,
        note="Graphique : part de l'ESS dans l'emploi salarié privé et dans l'emploi salarié total.",
    )
    labels = [x.libelle for x in terr]
    series = {
        "prive": [x.get("part_emploi_prive") for x in terr],
        "ess": [x.get("part_emploi_total") for x in terr],
    }
    names = {"prive": "Part de l'emploi salarié privé", "ess": "Part de l'emploi salarié total"}
    fig.bars = figures.native_bars("comparaison", labels, series, names)
    fig.alt = _bars_alt(
        f"Part de l'ESS dans l'emploi salarié {t.dans} et ses territoires de référence", labels, series, names
    )
    fig.headline = series["prive"][0]
    return fig


def fig_champs_bars(t: Territory) -> tuple[dict, str]:
    """Jobs at 31/12 by champ, as a native bar chart of the key-figure table, and its alternative text."""
    champs = ["ess", "prive_hors_ess", "public"]
    labels = [CHAMPS[c] for c in champs]
    series = {"ess": [t.get("effectif_31_12", champ=c) for c in champs]}
    names = {"ess": "Effectif salarié au 31/12"}
    text = _bars_alt(f"Effectif salarié au 31/12 par champ {t.dans}", labels, series, names)
    return figures.native_bars("chiffres_cles", labels, series, names), text


def _has_sectors(t: Territory) -> bool:
    """Whether the table breaks the territory's ESS jobs down by sector (an EPCI's: the ESS alone)."""
    return any(t.get("effectif_31_12", secteur=s).statut != "absent" for s in model.SECTEURS)


def _has_sector_shares(t: Territory) -> bool:
    """Whether the table gives the ESS's share of each sector's jobs (not an EPCI's: every champ by sector)."""
    return any(t.get("part_emploi_secteur", secteur=s).statut != "absent" for s in model.SECTEURS)


def _has_tranches(t: Territory) -> bool:
    """Whether the table breaks the territory's ESS establishments down by size band (an EPCI's: its
    establishments and jobs at 31/12 only)."""
    return any(t.get("etablissements_employeurs", tranche=k).statut != "absent" for k in model.TRANCHES)


def _has_sexes(t: Territory) -> bool:
    """Whether the table breaks the territory's ESS down by sexe (an EPCI's: one sexe alone when the other
    has no job)."""
    return any(t.get("effectif_31_12", sexe=s).statut != "absent" for s in ("F", "H"))


def portrait_document(
    table: IndicatorTable,
    manifest: dict,
    t: Territory,
    place: Place,
    titre_sous: str,
    slug: str,
) -> Document:
    """Assemble the portrait of ``t`` (an EPCI or a territory on demand) located by ``place``."""
    y = table.millesime
    sans_ess = without_ess(t)
    if sans_ess:
        t = WithoutESS(t)  # its breakdowns stay absent: the département's are shown
    deps = [table.territory("departement", d) for d in place.departements if table.has("departement", d)]
    regs = [table.territory("region", r) for r in place.regions if table.has("region", r)]
    fr = table.territory("france", table.codes("france")[0]) if table.codes("france") else None
    refs = deps + regs + ([fr] if fr is not None else [])
    kpis = [
        (t.get("effectif_31_12"), "salariés dans l'ESS au 31/12"),
        (t.get("part_emploi_total"), "de l'emploi salarié total"),
        (t.get("part_emploi_prive"), "de l'emploi salarié privé"),
        (t.get("etablissements_employeurs"), "établissements employeurs"),
    ]
    cles = fig_chiffres_cles(t, deps[0] if deps else fr, y)
    cles.chart, cles.note = None, "Graphique : effectif salarié au 31/12 par champ."
    cles.bars, cles.alt = fig_champs_bars(t)
    cles.headline = t.get("effectif_31_12")
    intro_cles = [SANS_ESS.format(dans=t.dans, y=y)] if sans_ess else []
    if len(deps) > 1:
        intro_cles.append(
            f"Ce territoire s'étend sur {len(deps)} départements : "
            + ", ".join(f"{d.libelle} ({d.code})" for d in deps)
            + " ; il est comparé à chacun d'eux."
        )
    fam = figures.native_familles(fig_familles(t, y, compact=True))
    own, own_sexes, own_tranches = _has_sectors(t), _has_sexes(t), _has_tranches(t)
    parts = _has_sector_shares(t)
    src = t if own or not deps else deps[0]
    dep = deps[0] if deps else src
    du = f"du département {dep.libelle} ({dep.code})"
    non_ventile = (NON_VENTILE_SECTEURS if own_sexes else NON_VENTILE).format(de=_de(t), du=du)
    intro_detail = []
    if deps and sans_ess:
        intro_detail = [SANS_ESS_DETAIL.format(dans=t.dans, du=du)]
    elif deps and not own:  # a territory on demand (no breakdown at all): the département's figures
        intro_detail = [non_ventile]
    elif deps and not parts:  # an EPCI: its ESS by sector, size band and sexe, not every employer by sector
        intro_detail = [NON_VENTILE_PART_SECTEUR.format(de=_de(t), du=du)]
    sect = fig_secteurs(src, y, top=8, part_secteur=parts or not own)
    sect.chart, sect.note = None, ""
    tranches = fig_tranches(t if own_tranches else src, y)
    tranches.chart = None
    cadres = t.get("part_cadres").statut != "absent"
    fh = fig_plaquette_fh(t, y, cadres=cadres) if own_sexes else fig_plaquette_fh(src, y)
    sections = [
        Section("Chiffres clés", intro=intro_cles, kpis=kpis, figures=[cles]),
        Section("Comparaison territoriale", figures=[fig_comparaison(t, refs, y)]),
        Section("Les familles de l'ESS", figures=[fam]),
        Section("Secteurs et taille des établissements", intro=intro_detail, figures=[sect, tranches]),
        Section(
            "Égalité femmes-hommes",
            intro=intro_detail if sans_ess else [non_ventile] if deps and not own_sexes else [],
            figures=[fh],
        ),
        documents._methodologie(table, manifest, t, short=True),
    ]
    return Document(
        "portrait",
        slug,
        "L'économie sociale et solidaire",
        titre_sous,
        t,
        y,
        sections,
        manifest,
        region_code=place.regions[0] if place.regions else None,
    )


def epci_document(
    table: IndicatorTable, manifest: dict, code_epci: str, place: Place | None = None
) -> Document:
    """The portrait of one EPCI (code = its SIREN); ``place``: where it lies, when the caller has it."""
    if place is None:
        place = epci_places().get(code_epci, Place((), ()))
    t = table.territory("epci", code_epci)
    return portrait_document(
        table, manifest, t, place, f"{t.libelle} (EPCI {code_epci})", f"epci-{code_epci}"
    )


# --------------------------------------------------------------------------------------------- writing
class Batch:
    """One typst compiler for many portraits: templates copied once, fonts loaded once."""

    def __init__(self, build: Path):
        import typst

        self.build = build
        for tpl in typst_pdf.TEMPLATES.glob("*.typ"):
            shutil.copy(tpl, build / tpl.name)
        self.compiler = typst.Compiler(
            str(build / TEMPLATE),
            root=str(build),
            font_paths=[str(charts.FONT_DIR)],
            ignore_system_fonts=True,
        )
        self._n = 0

    def compile(self, doc: Document, dest: Path) -> Path:
        """Write ``doc``'s PDF to ``dest`` atomically; a typst warning is a layout failure."""
        import typst

        self._n += 1
        name = f"data-{self._n}.json"
        (self.build / name).write_text(
            json.dumps(render.document_json(doc, self.build), ensure_ascii=False), encoding="utf-8"
        )
        try:
            pdf, warnings = self.compiler.compile_with_warnings(
                format="pdf", sys_inputs={"data": name}, pdf_standards=typst_pdf.PDF_STANDARDS
            )
        except typst.TypstError as exc:
            raise PublicationError(f"typst: {exc.message}\n{exc.diagnostic}") from exc
        finally:
            (self.build / name).unlink(missing_ok=True)
        messages = [getattr(w, "message", str(w)) for w in warnings or []]
        if messages:
            raise typst_pdf.TypstWarningError(f"{dest.name}: typst warnings: " + " | ".join(messages))
        with atomic_path(dest) as tmp:
            tmp.write_bytes(pdf)
            tmp.chmod(0o644)
        return dest


def write_portrait(doc: Document, batch: Batch, pdf: Path, csv_dir: Path) -> list[Path]:
    """PDF, XLSX and one CSV per figure of a portrait; returns the paths."""
    written = [batch.compile(doc, pdf), xlsx.write_workbook(doc, pdf.with_suffix(".xlsx"), csv_dir=csv_dir)]
    for s in doc.sections:
        for f in s.figures:
            written.append(render.write_csv(f, csv_dir / f"{f.id}.csv"))
    return written


def build_epci_portraits(
    table: IndicatorTable,
    manifest: dict,
    out_dir: str | Path,
    codes: Iterable[str] | None = None,
    places: dict[str, Place] | None = None,
) -> dict[str, list[Path]]:
    """Write the portrait of every EPCI of the table (or of ``codes``) under ``out_dir``.

    Files: ``portraits/epci-<code>.pdf`` and ``.xlsx``, ``donnees/epci-<code>/<figure>.csv``. ``places``:
    the EPCIs' :class:`Place` when the caller has them (a worker process then never reads the COG).
    """
    out_dir = Path(out_dir)
    todo = table.codes("epci") if codes is None else [str(c) for c in codes]
    result = {}
    with tempfile.TemporaryDirectory(prefix="observatoire-portraits-") as tmp:
        batch = Batch(Path(tmp))
        for code in todo:
            place = places.get(code, Place((), ())) if places is not None else None
            doc = epci_document(table, manifest, code, place)
            result[code] = write_portrait(
                doc, batch, out_dir / SUBDIR / f"epci-{code}.pdf", out_dir / "donnees" / f"epci-{code}"
            )
    return result


def epci_region(code_epci: str) -> str | None:
    """The région an EPCI's portrait is published with: the région of most of its population."""
    place = epci_places().get(code_epci)
    return place.regions[0] if place and place.regions else None


def check_portraits(table: IndicatorTable, pdfs: dict[str, Path]) -> layout_check.LayoutReport:
    """Layout check of EPCI portraits: overflow, sections, captions and key figures against the table."""
    report = layout_check.LayoutReport()
    expected = layout_check.expected_figures_of(table.df, "epci", sorted(pdfs))  # one pass, not one per EPCI
    for code, pdf in sorted(pdfs.items()):
        report.problems += layout_check.check_pdf(pdf, "portrait", expected[code])
        report.checked.append(pdf)
    return report


_MIN_PER_WORKER = 40  # below this many portraits per process, starting a process costs more than it saves


def _build_and_check(
    vintage: Path, staging: Path, codes: list[str], places: dict[str, Place] | None = None
) -> tuple[dict, layout_check.LayoutReport]:
    """One worker's share: build the portraits of ``codes`` into ``staging`` and check them."""
    table = IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage)
    written = build_epci_portraits(table, manifest, staging, codes, places)
    report = check_portraits(table, {c: staging / SUBDIR / f"epci-{c}.pdf" for c in codes})
    return written, report


def _in_workers(vintage: Path, staging: Path, codes: list[str]) -> tuple[dict, layout_check.LayoutReport]:
    """:func:`_build_and_check` over ``codes`` split between :func:`observatory.config.workers` fresh
    processes (:func:`observatory.pools.spawn_pool`)."""
    n = max(1, min(config.workers(), len(codes) // _MIN_PER_WORKER))
    if n == 1:
        return _build_and_check(vintage, staging, codes)
    chunks = [codes[i::n] for i in range(n)]
    every = epci_places()  # read from the COG once here, not once per worker
    places = [{c: every.get(c, Place((), ())) for c in chunk} for chunk in chunks]
    written: dict = {}
    report = layout_check.LayoutReport()
    with pools.spawn_pool(n) as pool:
        for part, rep in pool.map(_build_and_check, [vintage] * n, [staging] * n, chunks, places):
            written.update(part)
            report.checked += rep.checked
            report.problems += rep.problems
            report.warnings += rep.warnings
    return written, report


def publish_epci_portraits(output_vintage_dir: str | Path, regions: list[str] | None = None) -> dict:
    """Build, check and publish the EPCI portraits of ``regions`` (all when ``None``), staged as panoramas are.

    An EPCI goes with the région of most of its population. The portraits are built and checked by
    :func:`observatory.config.workers` processes. Returns ``{code: [final paths]}``.
    """
    vintage = Path(output_vintage_dir)
    epcis = read_indicators(vintage, filters=[("niveau", "==", "epci")])["code"]  # the workers read the table
    codes = [c for c in sorted(set(epcis)) if regions is None or epci_region(c) in regions]
    reports: list[layout_check.LayoutReport] = []

    def build(staging: Path) -> dict:
        written, report = _in_workers(vintage, staging, codes)
        reports.append(report)
        return written

    def check(staging: Path) -> layout_check.LayoutReport:
        return reports[0]

    written, _report, staging, _moved = release.publish_staged(vintage, "portraits d'EPCI", build, check)
    return {code: release.final_paths(paths, staging, vintage) for code, paths in written.items()}
