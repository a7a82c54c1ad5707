"""The indicator definitions of issue 12, on a hand-made micro-dataset read through the real chain.

Extract files (SIRENE units and establishments, BTS jobs) are written to disk, read by
:func:`observatory.ingest.read_extract` (staging rules and quarantine), classified by
:func:`observatory.perimeter.apply_perimeter`, aggregated by ``sql/indicators/cellules.sql`` and turned into
the indicator table by ``sql/indicators/indicateurs.sql`` — with an all-published mask, so that every figure
can be compared with the value computed by hand below (secrecy is tested elsewhere).

The dataset, all in Guéret (Creuse, 23; région Nouvelle-Aquitaine, 75), except F1:

=====  ==========================  ===========================================================================
A1     association A, 88.10A       12 jobs at 31/12: 6 women (net 20 000, gross 25 000, 1 600 h, age 30),
                                   6 men (net 24 000, gross 30 000, 1 600 h, age 55)
A2     association A (same SIREN)  3 women as in A1 — A is one enterprise with establishments in two bands
B1     association B               4 women: no hours (NBHEUR empty), zero hours (EQTP 0,5), an apprentice
                                   (TYP_EMPLOI A, CONT_TRAV APP), a trainee (TYP_EMPLOI X, EQTP 0,5)
C1     association C               3 women: no net pay, a negative gross pay, an impossible age (200)
D1     SAS (private), 84.11Z       3 jobs: a private establishment in sector 84 (administration publique)
E1     commune (public), 84.11Z    3 jobs
F1     association F, in Spain     5 jobs: an establishment abroad (commune 99134)
=====  ==========================  ===========================================================================
"""

from __future__ import annotations

import pandas as pd
import pytest

from observatory.ingest import read_extract
from observatory.perimeter import apply_perimeter
from observatory.reference import load
from observatory.reference.indicateurs import indicateurs
from observatory.warehouse import connect, run_sql
from tests.bad_inputs.make_corpus import (
    ETAB_HEADER,
    POSTES_HEADER,
    UL_HEADER,
    csv_bytes,
    etab,
    poste,
    ul,
    write,
)

GUERET = "23096"
MASK_NATURES = (
    "comptage", "entreprises", "montant", "salaire", "temps_partiel", "cdd", "age50", "age_moins_25", "age_25_34",
    "age_35_44", "age_45_54", "age_55_plus", "age_inconnu",
)  # fmt: skip
A1, A2, B1, C1, D1, E1, F1 = (
    "10000000100011", "10000000100029", "10000000200019", "10000000300016", "10000000400013",
    "10000000500010", "10000000600017",
)  # fmt: skip

WOMAN = {"SEXE": "2", "AGE": "30", "S_NET": "20000", "S_BRUT": "25000", "NBHEUR": "1600", "EQTP": "1"}
MAN = {"SEXE": "1", "AGE": "55", "S_NET": "24000", "S_BRUT": "30000", "NBHEUR": "1600", "EQTP": "1"}


def _jobs() -> list[list[str]]:
    rows = [poste(A1, **WOMAN) for _ in range(6)] + [poste(A1, **MAN) for _ in range(6)]
    rows += [poste(A2, **WOMAN) for _ in range(3)]
    rows += [
        poste(B1, **{**WOMAN, "NBHEUR": ""}),  # no hours: out of the hourly wage, numerator and denominator
        poste(B1, **{**WOMAN, "NBHEUR": "0", "EQTP": "0.5", "S_NET": "10000", "S_BRUT": "12500"}),
        poste(B1, **{**WOMAN, "AGE": "18", "TYP_EMPLOI": "A", "CONT_TRAV": "APP", "S_NET": "8000",
                     "S_BRUT": "9000"}),  # apprentice: out of every pay figure
        poste(B1, **{**WOMAN, "AGE": "22", "TYP_EMPLOI": "X", "CONT_TRAV": "AUT", "S_NET": "4200",
                     "S_BRUT": "4200", "NBHEUR": "800", "EQTP": "0.5"}),  # trainee: likewise
    ]  # fmt: skip
    rows += [
        poste(C1, **{**WOMAN, "S_NET": ""}),  # no net pay: out of the hourly wage only
        poste(C1, **{**WOMAN, "S_BRUT": "-100"}),  # negative gross pay: out of payroll and gross pay
        poste(C1, **{**WOMAN, "AGE": "200"}),  # impossible age: out of the age figures only
    ]
    rows += [poste(s, **MAN) for s in (D1, E1) for _ in range(3)]
    rows += [poste(F1, **WOMAN) for _ in range(5)]
    return rows


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    d = tmp_path_factory.mktemp("micro")
    units = [
        ul("100000001", ape="88.10A"), ul("100000002", ape="88.10A"), ul("100000003", ape="88.10A"),
        ul("100000004", cj="5710", ape="84.11Z", ess="N", nom="SAS"),
        ul("100000005", cj="7210", ape="84.11Z", ess="N", nom="COMMUNE"),
        ul("100000006", ape="88.10A"),
    ]  # fmt: skip
    etabs = [etab(s, commune=GUERET, ape="88.10A") for s in (A1, A2, B1, C1)]
    etabs += [etab(s, commune=GUERET, ape="84.11Z") for s in (D1, E1)]
    etabs += [etab(F1, commune="99134", ape="88.10A")]
    c = connect()
    load(c)
    for kind, header, rows in (
        ("unites_legales", UL_HEADER, units),
        ("etablissements", ETAB_HEADER, etabs),
        ("postes", POSTES_HEADER, _jobs()),
    ):
        read_extract(c, kind, write(d / f"{kind}.csv", csv_bytes(header, rows)))
    apply_perimeter(c, "insee-2008-4f")
    run_sql(c, "indicators/cellules.sql")
    # every cell published: the definitions are checked on every figure (secrecy has its own tests)
    c.execute(
        "CREATE OR REPLACE TABLE ind.masque AS SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, "
        + ", ".join(
            f"0 AS s_{n}"
            for n in MASK_NATURES
        )
        + " FROM ind.cellules"
    )
    run_sql(c, "indicators/indicateurs.sql", {"millesime": 2023, "perimetre_version": "insee-2008-4f"})
    yield c
    c.close()


def _ind(con, indicateur, niveau="france", code="FR", champ="ess", **key):
    key = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes", **key}
    where = " AND ".join(f"{k} = ?" for k in key)
    rows = con.execute(
        f"SELECT valeur, valeur_calculee, unite FROM ind.indicateurs WHERE niveau = ? AND code = ? AND champ = ? "
        f"AND indicateur = ? AND {where}",
        [niveau, code, champ, indicateur, *key.values()],
    ).fetchall()
    assert len(rows) == 1, (indicateur, niveau, code, champ, key, rows)
    return rows[0]


def test_flagged_jobs_are_kept_in_staging_with_their_reason(con):
    q = con.execute(
        "SELECT motif, action FROM staging.quarantaine WHERE extrait = 'postes' ORDER BY ligne, motif"
    ).fetchall()
    assert q == [
        ("heures_nulles", "conserve"),
        ("salaire_manquant", "conserve"),
        ("salaire_negatif", "conserve"),
        ("age_impossible", "conserve"),
    ]
    assert con.execute("SELECT count(*) FROM staging.postes").fetchone() == (len(_jobs()),)


def test_headcount_and_establishments_keep_the_jobs_with_missing_pay_or_age(con):
    # 12 + 3 + 4 + 3 jobs at 31/12 in the ESS, the 3 of C1 (missing net, negative gross, impossible age) included
    assert _ind(con, "effectif_31_12")[0] == 22
    assert _ind(con, "etablissements_employeurs")[0] == 4
    assert _ind(con, "effectif_31_12", "departement", "23")[0] == 22
    # ETP: every job, apprentice and trainee included: 12 + 3 + (1 + 0,5 + 1 + 0,5) + 3
    assert _ind(con, "etp")[1] == pytest.approx(21.0)


def test_payroll_and_gross_pay_per_etp(con):
    # payroll: every job whose gross pay is known: 330 000 + 75 000 + 50 700 + 50 000 = 505 700 €
    valeur, calculee, unite = _ind(con, "masse_salariale_brute")
    assert (calculee, valeur, unite) == (pytest.approx(505_700), 506_000, "euros")  # published in k€
    # gross pay per ETP: ordinary jobs with a known gross pay (no apprentice, trainee, negative pay):
    # (330 000 + 75 000 + 25 000 + 12 500 + 25 000 + 25 000) / (12 + 3 + 1 + 0,5 + 1 + 1) = 492 500 / 18,5
    valeur, calculee, _ = _ind(con, "salaire_brut_annuel_moyen_etp")
    assert calculee == pytest.approx(492_500 / 18.5) and valeur == 26_622


def test_hourly_wage_and_gap_leave_out_jobs_without_hours_apprentices_and_trainees(con):
    # net pay / hours of ordinary jobs with known net pay and positive hours:
    # A1 264 000 / 19 200, A2 60 000 / 4 800, C1 (negative gross, impossible age) 40 000 / 3 200
    valeur, calculee, _ = _ind(con, "salaire_net_horaire_moyen")
    assert calculee == pytest.approx(364_000 / 27_200) and valeur == 13.4
    assert _ind(con, "salaire_net_horaire_moyen", sexe="F")[1] == pytest.approx(220_000 / 17_600)  # 12,5
    assert _ind(con, "salaire_net_horaire_moyen", sexe="H")[1] == pytest.approx(15.0)
    valeur, calculee, unite = _ind(con, "ecart_salarial_fh")
    assert calculee == pytest.approx(100 * (1 - 12.5 / 15.0)) and (valeur, unite) == (16.7, "pourcent")


def test_age_figures_leave_out_the_impossible_age_only(con):
    # 6 men aged 55 among the 21 jobs of known age (22 minus the age 200)
    valeur, calculee, _ = _ind(con, "part_50_ans_et_plus")
    assert calculee == pytest.approx(100 * 6 / 21) and valeur == 28.6
    bands = {b: _ind(con, f"effectif_age_{b}")[0] for b in ("moins_25", "25_34", "35_44", "45_54", "55_plus")}
    assert bands == {"moins_25": 2, "25_34": 13, "35_44": 0, "45_54": 0, "55_plus": 6}
    assert _ind(con, "part_femmes")[0] == round(100 * 16 / 22, 1)  # 72,7: the age 200 job is a woman too


def test_france_is_the_sum_of_its_regions(con):
    # F1 (in Spain, 5 jobs) is in no territory, France included
    assert con.execute("SELECT code_region FROM ess.etablissements WHERE siret = ?", [F1]).fetchone() == (None,)
    for indicateur in ("effectif_31_12", "etablissements_employeurs", "etp", "masse_salariale_brute"):
        assert _ind(con, indicateur)[1] == _ind(con, indicateur, "region", "75")[1], indicateur
    assert con.execute("SELECT count(*) FROM ind.cellules WHERE niveau = '_geo_inconnu'").fetchone() == (0,)


def test_an_enterprise_is_counted_once_in_the_size_bands(con):
    # A: A1 (12 jobs, 10-49) and A2 (3 jobs, 1-9) → counted once, in the band of its largest establishment
    assert _ind(con, "entreprises_employeuses")[0] == 3
    assert _ind(con, "entreprises_employeuses", tranche="10-49")[0] == 1
    assert _ind(con, "entreprises_employeuses", tranche="1-9")[0] == 2  # B and C
    assert _ind(con, "etablissements_employeurs", tranche="1-9")[0] == 3  # A2, B1, C1
    bands = con.execute(
        "SELECT champ, niveau, code, sum(valeur) FILTER (WHERE tranche <> 'toutes'), "
        "sum(valeur) FILTER (WHERE tranche = 'toutes') FROM ind.indicateurs "
        "WHERE indicateur = 'entreprises_employeuses' AND famille = 'toutes' AND secteur = 'tous' "
        "AND niveau <> 'epci' "  # no size band published for EPCI
        "GROUP BY ALL"
    ).fetchall()
    assert bands and all(parts == total for *_k, parts, total in bands), bands


def test_sector_84_is_published_for_the_public_champ_only(con):
    adm = con.execute(
        "SELECT DISTINCT champ FROM ind.indicateurs WHERE secteur = 'ADM' ORDER BY 1"
    ).fetchall()
    assert adm == [("ensemble",), ("public",)]
    assert _ind(con, "effectif_31_12", champ="public", secteur="ADM")[0] == 3
    # D1, a private SAS declaring 84.11Z, is "non classé" in the private champs
    assert _ind(con, "effectif_31_12", champ="prive_hors_ess", secteur="NCL")[0] == 3
    assert _ind(con, "effectif_31_12", champ="ensemble", secteur="ADM")[0] == 3


def test_units_and_precision_follow_the_reference_table(con):
    ref = indicateurs().set_index("indicateur")
    t = con.table("ind.indicateurs").df()
    assert set(t.indicateur) <= set(ref.index)
    assert (t.unite == ref.unite.reindex(t.indicateur).to_numpy()).all()
    shares = t[(t.unite == "pourcent") & (t.indicateur != "ecart_salarial_fh")].valeur.dropna()
    assert len(shares) and ((shares >= 0) & (shares <= 100)).all()
    dec = ref.decimales.reindex(t.indicateur).to_numpy()
    v = t.valeur.to_numpy()
    ok = [pd.isna(x) or round(x, int(d)) == x for x, d in zip(v, dec, strict=True)]
    assert all(ok)
