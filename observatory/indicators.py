"""Build the indicator tables: cells (FREQ, VALUE, MAX), the secrecy mask, then the indicators.

``build_indicators(con, settings)`` runs, in the warehouse:

1. ``sql/indicators/cellules.sql`` → ``ind.cellules``: one row per cell (territory × champ × crossing) with
   the quantities and what the secrecy rules need (FREQ, MAX per quantity, jobs, largest job pay);
2. :func:`observatory.secrecy.protect` → ``ind.masque``: primary rules (with the baromètre's year-end
   primaries, :func:`observatory.barometre.year_end_primaries`), then secondary suppression with τ-Argus;
   statut per cell and nature (count, enterprises, magnitudes, sub-populations);
3. ``sql/indicators/indicateurs.sql`` → ``ind.indicateurs``: the tidy table of ``products.md`` §2, every
   derived figure carrying the worst statut of the cells it is computed from.

Crossings published (territory × champ × one of): none, famille (ess, ess_loi_2014 only), secteur, tranche,
sexe, pcs, sexe × pcs, famille × sexe and secteur × sexe (for the share of women by family and sector).
Territories: ``france`` (code ``FR``), ``region``, ``departement``, ``epci`` (EPCI published for the champ
and family crossings, for the ESS by sexe — its portrait's women and men — and for the ESS's establishments
and jobs at 31/12 by size band and by sector — its portrait's size and sector figures: that is what the
secondary suppression covers at that level; ``ind.cellules`` holds no other EPCI crossing).
"""

from __future__ import annotations

import logging
import time

from observatory import barometre, secrecy
from observatory.config import Settings
from observatory.warehouse import run_sql

log = logging.getLogger(__name__)

#: Indicator codes, their unit and the definition a statistician checks.
INDICATEURS: dict[str, tuple[str, str]] = {
    "etablissements_employeurs": ("nombre", "establishments with at least one job in the year"),
    "entreprises_employeuses": (
        "nombre",
        "enterprises (SIREN) with an employer establishment; by size band once, in its largest establishment's",
    ),
    "effectif_31_12": ("nombre", "non-annex jobs held at 31/12 (FILT=1, DATFIN=360)"),
    "etp": ("nombre", "full-time equivalents, Σ EQTP"),
    "masse_salariale_brute": ("euros", "gross payroll, Σ S_BRUT of the jobs whose pay is known"),
    "salaire_brut_annuel_moyen_etp": ("euros", "Σ S_BRUT / Σ EQTP over the pay field (sql/perimeter/postes.sql)"),
    "part_emploi_prive": (
        "pourcent",
        "effectif of the cell / effectif of the private field of the territory",
    ),
    "part_emploi_total": ("pourcent", "effectif of the cell / effectif of all employers of the territory"),
    "part_etablissements_prive": (
        "pourcent",
        "establishments of the cell / private establishments of the territory",
    ),
    "part_emploi_secteur": (
        "pourcent",
        "effectif of the champ in the sector / effectif of all employers in the sector",
    ),
    "rang_region": (
        "nombre",
        (
            "rank of the département's effectif among the départements of its region whose effectif is "
            "published (1 = largest); none for a hidden effectif"
        ),
    ),
    "rang_france": (
        "nombre",
        "rank of the département's effectif among all départements whose effectif is published",
    ),
    "part_region": ("pourcent", "effectif of the département / effectif of its region, same champ"),
    "part_femmes": ("pourcent", "women among jobs held at 31/12"),
    "part_femmes_cadres": ("pourcent", "women among cadres at 31/12 (row pcs = cadres)"),
    "taux_temps_partiel": ("pourcent", "part-time among jobs held at 31/12"),
    "part_cdd": ("pourcent", "fixed-term contracts among jobs held at 31/12"),
    "part_cadres": ("pourcent", "cadres among jobs held at 31/12"),
    "part_50_ans_et_plus": ("pourcent", "aged 50 or more among jobs held at 31/12 of known age"),
    "effectif_age_moins_25": ("nombre", "jobs held at 31/12 of employees aged under 25 (AGE at 31/12)"),
    "effectif_age_25_34": ("nombre", "jobs held at 31/12 of employees aged 25 to 34 (AGE at 31/12)"),
    "effectif_age_35_44": ("nombre", "jobs held at 31/12 of employees aged 35 to 44 (AGE at 31/12)"),
    "effectif_age_45_54": ("nombre", "jobs held at 31/12 of employees aged 45 to 54 (AGE at 31/12)"),
    "effectif_age_55_plus": ("nombre", "jobs held at 31/12 of employees aged 55 or more (AGE at 31/12)"),
    "salaire_net_horaire_moyen": ("euros", "Σ S_NET / Σ NBHEUR over the pay field, jobs with hours > 0"),
    "ecart_salarial_fh": ("pourcent", "1 − women's / men's mean net hourly wage (row sexe = tous)"),
}

#: Columns of the published table (products.md §2), in order.
COLONNES = [
    "millesime",
    "niveau",
    "code",
    "libelle",
    "champ",
    "famille",
    "secteur",
    "tranche",
    "sexe",
    "pcs",
    "indicateur",
    "valeur",
    "unite",
    "statut",
    "perimetre_version",
]


def build_indicators(con, settings: Settings, *, workdir=None) -> dict:
    """Create ``ind.cellules``, ``ind.masque`` and ``ind.indicateurs``; return row counts and mask counts.

    The counts also hold ``secondes/<stage>``: the seconds of each stage (logged at INFO as well).

    Raises :class:`observatory.errors.SecrecyError` when the secondary suppression cannot be computed:
    nothing is published unprotected.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    run_sql(con, "indicators/cellules.sql")
    timings["cellules"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the baromètre's year-end quarter shows the same headcounts: its primary cells are primary here too
    a_priori = barometre.year_end_primaries(con, int(settings.millesime))
    mask_counts = secrecy.protect(con, workdir=workdir, timings=timings, a_priori=a_priori)
    timings["secret"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_sql(
        con,
        "indicators/indicateurs.sql",
        {"millesime": int(settings.millesime), "perimetre_version": settings.perimetre},
    )
    timings["indicateurs"] = time.perf_counter() - t0
    for stage, seconds in timings.items():
        log.info("indicators: %-40s %7.2f s", stage, seconds)
    counts = {
        "cellules": con.execute("SELECT count(*) FROM ind.cellules").fetchone()[0],
        "indicateurs": con.execute("SELECT count(*) FROM ind.indicateurs").fetchone()[0],
    }
    for statut, n in con.execute(
        "SELECT statut, count(*) FROM ind.indicateurs GROUP BY statut ORDER BY statut"
    ).fetchall():
        counts[f"indicateurs_{statut}"] = n
    counts.update(mask_counts)
    counts.update({f"secondes/{stage}": round(seconds, 3) for stage, seconds in timings.items()})
    return counts
