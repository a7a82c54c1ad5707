"""Regional panorama, departmental plaquette and the France égalité report: each assembled as a
:class:`~observatory.publish.model.Document` from the published indicator table (``tables/indicateurs.parquet``)
and ``manifest.json``, never microdata, then written as PDF, XLSX and CSV by :mod:`~observatory.publish.render`.

Layers of :mod:`observatory.publish` (each imports only the ones before it; checked by import-linter):
:mod:`~observatory.publish.model` (labels, cells, the table's reader, the document structure) →
:mod:`~observatory.publish.figures`, :mod:`~observatory.publish.evolution` → the writers
(:mod:`~observatory.publish.xlsx`, :mod:`~observatory.publish.render`: JSON for typst, CSV) → this module
(assembly of each document, entry points).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from observatory.errors import PublicationError
from observatory.publish import fmt, notes
from observatory.publish.evolution import Vintage, earlier_vintages, evolution_line, evolution_section
from observatory.publish.figures import (
    fig_chiffres_cles,
    fig_departements,
    fig_emplois,
    fig_familles,
    fig_pcs,
    fig_secteurs,
    fig_tranches,
    native_familles,
    pyramide_section_parts,
)
from observatory.publish.figures_egalite import (
    fig_ecarts,
    fig_femmes_familles,
    fig_femmes_secteurs,
    fig_plaquette_fh,
    fig_salaires,
    fig_sexe,
)
from observatory.publish.model import (
    Document,
    Figure,
    IndicatorTable,
    Section,
    Territory,
    as_table,
    champ_line,
    lecture,
    run_date,
)
from observatory.publish.render import write_document


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
    cost = notes.cout_du_secret(
        manifest.get("cout_du_secret", {}).get("annuel"), t.niveau, "de la table des indicateurs",
        "des salariés au 31/12",
    )
    if cost:  # its own paragraph, after the rule it measures (kept by the plaquette's short list below)
        intro.insert(3, cost)
    if short:  # the plaquette: its workbook carries every note and definition (xlsx.write_workbook)
        intro = [*intro[:1], *intro[2:], notes.GEOGRAPHIE, notes.PRECISION]
    else:
        intro += [*notes.ANNUELLES, notes.DEFINITIONS, *notes.definitions()]
    meta = [
        ("Millésime", str(manifest.get("millesime", y))),
        ("Version du périmètre", str(manifest.get("perimetre_version", table.perimetre_version))),
        ("Date d'exécution", run_date(manifest)),
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
        champ_line(d, y),
        lecture(lect, pr, rr, rf),
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


# --------------------------------------------------------------------------------------------- entry points
def build_region_panorama(
    table, manifest: dict, code_region: str, out_dir: str | Path, history: list[Vintage] | None = None
) -> list[Path]:
    """Write ``panoramas/region-<code>.pdf`` and ``.xlsx`` and ``donnees/region-<code>/*.csv`` under ``out_dir``.

    ``history`` (earlier vintages, :func:`earlier_vintages`) feeds the evolution section; none: the section
    says no earlier vintage is published.
    """
    it = as_table(table)
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
    it = as_table(table)
    doc = plaquette_document(it, manifest, code_departement, history)
    out_dir = Path(out_dir)
    return write_document(
        doc, out_dir, it.df, csv_dir=out_dir / "donnees" / f"departement-{code_departement}"
    )


def build_egalite_france(table, manifest: dict, out_dir: str | Path) -> list[Path]:
    """Write ``egalite/france.pdf`` and ``.xlsx`` (and its CSV under ``donnees/egalite-france/``)."""
    it = as_table(table)
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
