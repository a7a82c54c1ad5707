"""The figures of the publications, each a :class:`~observatory.publish.model.Figure` built from one
territory's cells: key figures, families, sectors, size bands, départements, jobs, socio-professional
categories, women and men, pay, and the age pyramid. Charts are drawn by :mod:`~observatory.publish.charts`
(or natively by typst: :func:`native_bars`)."""

from __future__ import annotations

from pathlib import Path

from observatory.publish import alt, charts, fmt
from observatory.publish.model import (
    AGES,
    CHAMP_POSTES,
    CHAMPS,
    FAMILLES,
    FAMILLES_SING,
    PCS,
    PYRAMIDE_ABSENTE,
    SECTEURS,
    TITRE_PYRAMIDE,
    TRANCHES,
    Cell,
    Figure,
    IndicatorTable,
    Territory,
    champ_line,
    derive,
    first_ok,
    lecture,
    share,
)


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
        champ_line(t, y),
        lecture(lect + ".", ess_prive),
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
    empty = total.ok and total.value == 0  # no ESS employer: no share of it
    whole = Cell(None, "sans_objet", "pourcent") if empty else Cell(1.0, kind="pourcent")
    tot = ["Ensemble de l'ESS", t.get("etablissements_employeurs"), total, whole]
    if not compact:
        tot += [t.get("etp"), t.get("masse_salariale_brute")]
    rows.append(tot)
    best = first_ok(
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
        champ_line(t, y),
        lecture(lect),
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


def fig_secteurs(t: Territory, y: int, top: int | None = None, part_secteur: bool = True) -> Figure:
    """ESS jobs by sector and the ESS share of each sector's jobs. ``part_secteur=False``: without that share
    (an EPCI: the table breaks its ESS alone down by sector, not every employer), the sectors ranked and
    charted by their part of the ESS's jobs."""
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
        row = [SECTEURS[s], t.get("etablissements_employeurs", secteur=s), eff, share(eff, total)]
        rows.append([*row, t.get("part_emploi_secteur", secteur=s)] if part_secteur else row)

    def measure(s: str) -> Cell:  # what the chart shows, and the order of its bars
        if part_secteur:
            return t.get("part_emploi_secteur", secteur=s)
        return share(t.get("effectif_31_12", secteur=s), total)

    best = first_ok(sorted(((s, measure(s)) for s in secs), key=lambda x: -(x[1].value or -1)))
    lect = ""
    if part_secteur:
        described = f"Part de l'ESS dans l'emploi salarié de chaque secteur {t.dans}"
        note = "Graphique : part de l'ESS dans l'emploi salarié de chaque secteur."
        if best:
            lect = (
                f"en {y}, l'ESS regroupe {best[1].text()} des emplois salariés du secteur "
                f"« {SECTEURS[best[0]]} » {t.dans}."
            )
    else:
        described = f"Part de chaque secteur dans l'emploi salarié de l'ESS {t.dans}"
        note = "Graphique : part de chaque secteur dans l'emploi salarié de l'ESS."
        if best:
            lect = (
                f"en {y}, le secteur « {SECTEURS[best[0]]} » regroupe {best[1].text()} des emplois salariés "
                f"de l'ESS {t.dans}."
            )
    by_share = sorted(secs, key=lambda s: -(measure(s).value or -1))

    def chart(path: Path) -> Path:
        return charts.barh(
            [SECTEURS[s] for s in by_share], [measure(s).value for s in by_share], path, fmt_value=fmt.pourcent
        )

    titre = "Les principaux secteurs d'activité de l'ESS" if top else "L'ESS par secteur d'activité"
    columns = ["Secteur", "Établissements ESS", "Effectif ESS", "Part des effectifs de l'ESS"]
    return Figure(
        "secteurs",
        titre,
        "Unité : nombre, %",
        champ_line(t, y),
        lecture(lect),
        [*columns, "Part de l'ESS dans le secteur"] if part_secteur else columns,
        rows,
        chart=chart,
        note=note,
        alt=alt.listing(
            f"{described}, de la plus forte à la plus faible",
            [(SECTEURS[s], measure(s).text()) for s in by_share],
        ),
        headline=measure(by_share[0]) if by_share else None,
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
        champ_line(t, y, "établissements employeurs de l'ESS, taille selon l'effectif au 31/12"),
        lecture(lect, share(n_small, n_tot), share(e_small, e_tot)),
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
        champ_line(t, y),
        lecture(lect),
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
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect, f_ess, f_p),
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
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect, cad[1], cad[2]),
        ["Catégorie", *[CHAMPS[c] for c in champs]],
        rows,
        note="Hors catégories non renseignées : le total peut différer de 100 %.",
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
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect),
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
