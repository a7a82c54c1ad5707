"""The women-and-men figures of the publications (the gender-equality indicators of
``shared/domain/products.md``): share of women by family and by sector, a ratio of women to men by champ, net
hourly pay by sex and socio-professional category, the pay gaps, and the plaquette's key figures. Built from one
territory's cells like :mod:`observatory.publish.figures`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from observatory.publish import alt, charts, fmt
from observatory.publish.model import (
    CHAMP_POSTES,
    CHAMP_SALAIRES,
    CHAMPS,
    FAMILLES,
    FORMATS,
    PCS,
    SECTEURS,
    Cell,
    Figure,
    Territory,
    champ_line,
    derive,
    first_ok,
    lecture,
)


def _women_bars(rows: list) -> Callable[[Path], Path]:
    """The chart of a share of women per row (``[label, Cell]``): horizontal bars in the women's colour."""

    def chart(path: Path) -> Path:
        return charts.barh(
            [r[0] for r in rows], [r[1].value for r in rows], path, fmt_value=fmt.pourcent, color=charts.COLORS["F"]
        )

    return chart


def fig_femmes_familles(t: Territory, y: int) -> Figure:
    """Share of women by ESS family."""
    fams = [f for f in FAMILLES if t.get("part_femmes", famille=f).statut != "absent"]
    rows = [[FAMILLES[f], t.get("part_femmes", famille=f)] for f in fams]
    rows.append(["Ensemble de l'ESS", t.get("part_femmes")])
    best = first_ok(
        sorted(((f, t.get("part_femmes", famille=f)) for f in fams), key=lambda x: -(x[1].value or -1))
    )
    lect = (
        f"en {y}, {t.dans}, {best[1].text()} des salariés des {FAMILLES[best[0]].lower()} sont des femmes."
        if best
        else ""
    )

    chart = _women_bars(rows)

    return Figure(
        "femmes_familles",
        "Part des femmes par famille de l'ESS",
        "Unité : % des salariés",
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect),
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
    best = first_ok((SECTEURS[s], t.get("part_femmes", secteur=s)) for s in secs if s != "NCL")
    lect = (
        f"en {y}, {t.dans}, {best[1].text()} des salariés de l'ESS du secteur « {best[0]} » sont des femmes."
        if best
        else ""
    )

    chart = _women_bars(rows)

    return Figure(
        "femmes_secteurs",
        "Part des femmes par secteur d'activité dans l'ESS",
        "Unité : % des salariés",
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect),
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
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect, *ess[1:]),
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
        champ_line(t, y, CHAMP_SALAIRES),
        lecture(lect, tot[1], tot[2], tot[4]),
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
        champ_line(t, y, CHAMP_SALAIRES),
        lecture(lect, *rows[0][1:]),
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


def fig_plaquette_fh(t: Territory, y: int, cadres: bool = True) -> Figure:
    """Women and men in the territory's ESS: share, part-time, cadres, hourly wage, gap. ``cadres=False``
    leaves out the share of cadres (an EPCI: the table has no PCS breakdown there)."""
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
    # a rate the table does not give at all for the territory (a territory on demand's part-time) is left out
    rows = [r for r in rows if r[0] == "Part des femmes" or any(c.statut != "absent" for c in r[1:])]
    gap = t.get("ecart_salarial_fh")
    lect = f"en {y}, {t.dans}, le salaire net horaire moyen des femmes de l'ESS est inférieur de {gap.text()} "
    cadres_row = next((r for r in rows if r[0] == "Part des cadres"), None)
    if cadres and cadres_row is not None:
        ratio = derive(lambda a, b: b / a, cadres_row[1], cadres_row[2], kind="fois")
        lect += f"à celui des hommes ; un homme a {ratio.text()} fois plus de chances d'être cadre qu'une femme."
        shown = (gap, ratio)
    else:
        rows = [r for r in rows if r[0] != "Part des cadres"]
        lect += "à celui des hommes."
        shown = (gap,)
    return Figure(
        "femmes_hommes",
        "Femmes et hommes dans l'ESS",
        "Unité : %, euros par heure",
        champ_line(t, y, CHAMP_POSTES),
        lecture(lect, *shown),
        ["", "Femmes", "Hommes", "Ensemble"],
        rows,
        note=f"Écart de salaire net horaire femmes-hommes : {gap.text()}.",
    )
