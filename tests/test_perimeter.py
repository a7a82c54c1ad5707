"""The ESS perimeter in SQL (sql/perimeter/*.sql) on hand-made staging tables: perimeter.md §1–§8."""

from __future__ import annotations

import pandas as pd
import pytest

from observatory import warehouse
from observatory.errors import ObservatoryError
from observatory.perimeter import apply_perimeter
from observatory.reference import load

UL_COLUMNS = [
    "siren",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "economieSocialeSolidaireUniteLegale",
    "etatAdministratifUniteLegale",
    "denominationUniteLegale",
]


def _stage(con, table: str, rows: list[dict], columns: list[str]) -> None:
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    df["_fichier"] = f"{table}.csv"
    df["_ligne"] = range(2, len(df) + 2)
    con.register("_rows", df)
    con.execute(f"CREATE OR REPLACE TABLE staging.{table} AS SELECT * FROM _rows").fetchall()
    con.unregister("_rows")


def _unit(siren, cj, ape="94.99Z", nomenclature="NAFRev2", drapeau=None) -> dict:
    return {
        "siren": siren,
        "categorieJuridiqueUniteLegale": cj,
        "activitePrincipaleUniteLegale": ape,
        "nomenclatureActivitePrincipaleUniteLegale": nomenclature,
        "economieSocialeSolidaireUniteLegale": drapeau,
        "etatAdministratifUniteLegale": "A",
    }


@pytest.fixture
def con():
    c = warehouse.connect()
    yield c
    c.close()


def classify(con, units: list[dict], perimetre="insee-2008-4f", switches=None) -> pd.DataFrame:
    load(con, perimetre, switches)
    _stage(con, "unites_legales", units, UL_COLUMNS)
    warehouse.run_sql(con, "perimeter/unites_legales.sql").fetchall()
    return con.sql("SELECT * FROM ess.unites_legales").df().set_index("siren", drop=False)


def one(con, cj, switches=None, **kw) -> pd.Series:
    return classify(con, [_unit("000000001", cj, **kw)], switches=switches).iloc[0]


# --- §1 legal categories -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cj", "famille"),
    [
        ("9220", "association"),
        ("9210", "association"),
        ("9223", "association"),
        ("9240", "association"),
        ("9260", "association"),
        ("9300", "fondation"),
        ("8210", "mutuelle"),
        ("8250", "mutuelle"),
        ("6411", "mutuelle"),
        ("5195", "cooperative"),
        ("5458", "cooperative"),
        ("5558", "cooperative"),
        ("6316", "cooperative"),
        ("6595", "cooperative"),
        ("6596", "cooperative"),
        ("6100", "cooperative"),
        ("5443", "cooperative"),
        ("5547", "cooperative"),
        ("5432", "cooperative"),
        ("9224", "hors_ess"),
        ("5431", "hors_ess"),
        ("8140", "hors_ess"),
        ("8110", "hors_ess"),
        ("1000", "hors_ess"),
        ("5499", "hors_ess"),
        ("5710", "hors_ess"),
        ("6533", "hors_ess"),
        ("6220", "hors_ess"),
        ("9110", "hors_ess"),
        ("9150", "hors_ess"),
        ("8410", "hors_ess"),
        ("8450", "hors_ess"),
        ("7210", "hors_ess"),
        ("4110", "hors_ess"),
        ("8310", "hors_ess"),
        ("9900", "hors_ess"),
    ],
)
def test_cj_family_default_perimeter(con, cj, famille):
    row = one(con, cj)
    assert row.famille_ess == famille
    assert row.ess == (famille != "hors_ess")
    assert row.ess_loi_2014 == row.ess
    assert row.motif == ("cj_famille" if row.ess else "cj_hors_perimetre")
    assert row.perimetre_version == "insee-2008-4f"


@pytest.mark.parametrize(
    ("switch", "cj", "default_famille", "flipped_famille"),
    [
        ("cj_9224_avocats", "9224", "hors_ess", "association"),
        ("smia", "5431", "hors_ess", "cooperative"),
        ("smia", "5631", "hors_ess", "cooperative"),
        ("coop_construction", "6543", "cooperative", "hors_ess"),
        ("coop_hlm", "5647", "cooperative", "hors_ess"),
        ("sica", "6532", "cooperative", "hors_ess"),
    ],
)
def test_family_switches(con, switch, cj, default_famille, flipped_famille):
    assert one(con, cj).famille_ess == default_famille
    flipped = default_famille == "hors_ess"
    row = one(con, cj, switches={switch: flipped})
    assert row.famille_ess == flipped_famille
    assert row.perimetre_version == f"insee-2008-4f+{switch}={'on' if flipped else 'off'}"


def test_fifth_family_only_in_flores_version(con):
    units = [_unit(f"00000000{i}", cj) for i, cj in enumerate(["8310", "8311", "8510", "9900", "9220"])]
    four = classify(con, units)
    assert list(four.famille_ess) == ["hors_ess"] * 4 + ["association"]
    five = classify(con, units, "insee-flores-5f")
    assert list(five.famille_ess) == ["autre_obnl"] * 4 + ["association"]
    assert five.ess.all() and (five.perimetre_version == "insee-flores-5f").all()
    off = classify(con, units, "insee-flores-5f", {"autre_obnl": False})
    assert list(off.famille_ess) == ["hors_ess"] * 4 + ["association"]
    assert set(off.perimetre_version) == {"insee-flores-5f+autre_obnl=off"}
    with pytest.raises(ObservatoryError, match="autre_obnl"):
        load(con, "insee-2008-4f", {"autre_obnl": True})


# --- §2 excluded activities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ape", "ess"),
    [
        ("94.99Z", True),
        ("94.12Z", True),
        ("88.10A", True),
        ("94.91Z", False),
        ("94.92Z", False),
        ("94.11Z", False),
        ("94.20Z", False),
        ("84.11Z", False),
        ("84.30C", False),
    ],
)
def test_activity_exclusion(con, ape, ess):
    row = one(con, "9220", ape=ape)
    assert row.ess == ess
    assert row.famille_ess == ("association" if ess else "hors_ess")
    assert row.motif == ("cj_famille" if ess else "activite_exclue")


def test_exclusion_applies_to_every_family(con):
    units = [_unit(f"00000000{i}", cj, ape="94.91Z") for i, cj in enumerate(["5458", "8210", "9300", "9230"])]
    out = classify(con, units)
    assert (~out.ess).all() and set(out.motif) == {"activite_exclue"}


@pytest.mark.parametrize("nomenclature", ["NAFRev1", "NAF1993", "NAP", None, ""])
def test_other_nomenclature_classified_on_cj_alone(con, nomenclature):
    row = one(con, "9220", ape="91.3E" if nomenclature else None, nomenclature=nomenclature)
    assert (row.famille_ess, row.ess, row.motif) == ("association", True, "nomenclature_non_rev2")
    # an old code that looks like an excluded NAF rév. 2 code is not tested
    row = one(con, "9220", ape="94.91Z", nomenclature=nomenclature)
    assert row.ess and row.motif == "nomenclature_non_rev2"
    # a CJ outside the families stays out whatever the nomenclature
    assert one(con, "5499", ape="91.3E", nomenclature=nomenclature).motif == "cj_hors_perimetre"


def test_rev2_without_activity_code(con):
    row = one(con, "9220", ape=None, nomenclature="NAFRev2")
    assert (row.famille_ess, row.ess, row.motif) == ("association", True, "activite_absente")


# --- §3 legal perimeter, §4 reasons -----------------------------------------------------------------------


def test_sas_flagged_o_is_societe_commerciale_ess(con):
    row = one(con, "5710", ape="62.01Z", drapeau="O")
    assert row.famille_ess == "societe_commerciale_ess"
    assert not row.ess and row.ess_loi_2014
    assert row.motif == "drapeau_sirene"


def test_flag_n_keeps_an_association_in_ess(con):
    row = one(con, "9220", drapeau="N")
    assert (row.famille_ess, row.ess, row.ess_loi_2014, row.motif) == (
        "association",
        True,
        True,
        "cj_famille",
    )
    row = one(con, "5710", drapeau="N")
    assert (row.famille_ess, row.ess, row.ess_loi_2014) == ("hors_ess", False, False)
    row = one(con, "9220", drapeau="O")
    assert (row.famille_ess, row.ess, row.ess_loi_2014, row.motif) == (
        "association",
        True,
        True,
        "cj_famille",
    )


def test_excluded_association_flagged_o_enters_legal_perimeter_only(con):
    row = one(con, "9220", ape="94.91Z", drapeau="O")
    assert (row.famille_ess, row.ess, row.ess_loi_2014, row.motif) == (
        "societe_commerciale_ess",
        False,
        True,
        "drapeau_sirene",
    )


@pytest.mark.parametrize(
    ("cj", "motif"),
    [
        (None, "cj_absente"),
        ("", "cj_absente"),
        (" ", "cj_absente"),
        ("1234", "cj_inconnue"),
        ("5400", "cj_inconnue"),
    ],
)
def test_missing_and_unknown_cj(con, cj, motif):
    row = one(con, cj)
    assert (row.famille_ess, row.ess, row.ess_loi_2014, row.motif) == ("hors_ess", False, False, motif)
    flagged = one(con, cj, drapeau="O")
    assert flagged.famille_ess == "societe_commerciale_ess" and flagged.ess_loi_2014
    assert flagged.motif == motif  # the data-quality reason is kept


def test_rows_keep_input_order_and_every_unit_is_kept(con):
    units = [
        _unit(f"{i:09d}", cj)
        for i, cj in zip([5, 3, 9, 1, 7], ["9220", None, "1234", "5710", "9300"], strict=True)
    ]
    out = classify(con, units)
    assert list(out.siren) == [u["siren"] for u in units]
    assert list(con.sql("DESCRIBE ess.unites_legales").df().column_name) == [
        "siren",
        "categorie_juridique",
        "activite_principale",
        "famille_ess",
        "ess",
        "ess_loi_2014",
        "public",
        "motif",
        "perimetre_version",
    ]


# --- §5 public field --------------------------------------------------------------------------------------


def test_public_field_and_its_switch(con):
    units = [
        _unit(f"00000000{i}", cj, ape="84.11Z")
        for i, cj in enumerate(["7210", "7364", "4110", "4140", "9220", "5499", None])
    ]
    out = classify(con, units)
    assert list(out.public) == [True, True, True, True, False, False, False]
    out = classify(con, units, switches={"public_4xxx": False})
    assert list(out.public) == [True, True, False, False, False, False, False]
    assert con.sql("SELECT public_4xxx FROM ref.perimetre_parametres").fetchall() == [(False,)]


# --- establishments, jobs, employer establishments --------------------------------------------------------

ET_COLUMNS = [
    "siret",
    "siren",
    "nic",
    "codeCommuneEtablissement",
    "activitePrincipaleEtablissement",
    "nomenclatureActivitePrincipaleEtablissement",
    "trancheEffectifsEtablissement",
    "etatAdministratifEtablissement",
    "etablissementSiege",
]
PO_COLUMNS = [
    "SIRET",
    "SEXE",
    "AGE",
    "PCS",
    "CPFD",
    "CONT_TRAV",
    "TYP_EMPLOI",
    "FILT",
    "DATDEB",
    "DATFIN",
    "DUREE",
    "NBHEUR",
    "EQTP",
    "S_BRUT",
    "S_NET",
    "DEPT",
    "REGT",
]


def _etab(siret, commune, apet="88.10A", nomenclature="NAFRev2", siege=True) -> dict:
    return {
        "siret": siret,
        "siren": siret[:9],
        "nic": siret[9:],
        "codeCommuneEtablissement": commune,
        "activitePrincipaleEtablissement": apet,
        "nomenclatureActivitePrincipaleEtablissement": nomenclature,
        "trancheEffectifsEtablissement": "01",
        "etatAdministratifEtablissement": "A",
        "etablissementSiege": siege,
    }


UNITS = [
    _unit("100000001", "9220"),  # association 94.99Z
    _unit("100000002", "9220", ape="94.91Z"),  # religious association: out
    _unit("100000003", "5710", ape="62.01Z", drapeau="O"),
    _unit("100000004", "7210", ape="84.11Z"),  # commune
    _unit("100000005", "5499", ape="47.11B"),
]
ETABS = [
    _etab("10000000100011", "75101"),
    _etab("10000000100029", "13201", apet="94.91Z", siege=False),
    _etab("10000000100037", "99999", apet="12.3X"),  # unknown commune, invalid APET
    _etab("10000000200010", "69381", apet="88.10A"),
    _etab("10000000300018", "98727", apet="62.01Z"),  # French Polynesia: outside the territories
    _etab("10000000400016", "2A004", apet="84.11Z"),
    _etab("10000000500013", None, apet="47.11B"),
    _etab("10000000600011", "35238", apet="91.3E", nomenclature="NAFRev1"),  # unit unknown
]


def _job(siret, filt="1", datfin=360, eqtp=1.0, brut=30000.0, **kw) -> dict:
    job = {
        "SIRET": siret,
        "SEXE": "2",
        "AGE": 40,
        "PCS": "543A",
        "CPFD": "C",
        "CONT_TRAV": "CDI",
        "TYP_EMPLOI": "O",
        "FILT": filt,
        "DATDEB": 1,
        "DATFIN": datfin,
        "DUREE": 360,
        "NBHEUR": 1600.0,
        "EQTP": eqtp,
        "S_BRUT": brut,
        "S_NET": None if brut is None else brut * 0.78,
        "DEPT": "75",
        "REGT": "11",
    }
    job.update(kw)
    return job


JOBS = [
    _job("10000000100011"),
    _job("10000000100011", SEXE="1", PCS="380A", CPFD="P", eqtp=0.5, brut=20000.0),
    _job("10000000100011", filt="2", datfin=360, eqtp=0.01, brut=150.0),  # annex job at 31/12
    _job("10000000100011", datfin=180, CONT_TRAV="CDD", eqtp=0.5, brut=9000.0),  # left in June
    _job("10000000100029", datfin=200, eqtp=0.3, brut=5000.0),  # nobody at 31/12
    _job("10000000400016", PCS="622A", eqtp=1.0, brut=28000.0),
    _job("10000000400016", PCS="233A", eqtp=None, brut=None),
    _job("10000000500013", PCS=None, SEXE="9", eqtp=1.0, brut=25000.0),
    _job("99999999900019"),  # unknown establishment
    _job("10000000600011"),  # establishment rejected
] + [_job("10000000200010", eqtp=0.9, brut=26000.0 + i) for i in range(12)]


def build(con, switches=None) -> dict[str, int]:
    load(con, "insee-2008-4f", switches)
    _stage(con, "unites_legales", UNITS, UL_COLUMNS)
    _stage(con, "etablissements", ETABS, ET_COLUMNS)
    _stage(con, "postes", JOBS, PO_COLUMNS)
    return apply_perimeter(con, "insee-2008-4f")


def test_establishment_territory_and_sector(con):
    counts = build(con)
    et = con.sql("SELECT * FROM ess.etablissements").df().set_index("siret")
    paris = et.loc["10000000100011"]
    assert (paris.code_commune, paris.code_departement, paris.code_region) == ("75056", "75", "11")
    assert paris.code_epci == "200054781" and paris.secteur == "ASS" and paris.division == "88"
    marseille = et.loc["10000000100029"]
    assert (marseille.code_commune, marseille.code_departement, marseille.code_region) == (
        "13055",
        "13",
        "93",
    )
    lyon = et.loc["10000000200010"]
    assert (lyon.code_departement, lyon.code_region) == ("69", "84")
    assert et.loc["10000000400016"].code_departement == "2A"
    for siret in ("10000000100037", "10000000300018", "10000000500013"):
        row = et.loc[siret]
        assert row[["code_commune", "code_departement", "code_region", "code_epci"]].isna().all(), siret
    assert et.loc["10000000100037"].secteur == "NCL" and pd.isna(et.loc["10000000100037"].division)
    assert et.loc["10000000300018"].secteur == "INF"
    assert et.loc["10000000400016"].secteur == "ADM"
    # the unit's perimeter is the establishment's
    assert et.loc["10000000100029"].famille_ess == "association"  # APET 94.91Z tested only with the switch
    assert et.loc["10000000200010"].famille_ess == "hors_ess"
    assert et.loc["10000000300018"].famille_ess == "societe_commerciale_ess"
    assert et.loc["10000000400016"].public and not et.loc["10000000100011"].public
    assert not et.loc["10000000100029"].siege
    # the establishment of an unknown legal unit is quarantined, not classified
    assert "10000000600011" not in et.index
    assert counts["ess.etablissements"] == 7
    assert counts["quarantaine.siren_inconnu"] == 1
    q = con.sql("SELECT * FROM staging.quarantaine WHERE extrait = 'etablissements'").df()
    assert q.to_dict("records") == [
        {
            "extrait": "etablissements",
            "fichier": "etablissements.csv",
            "ligne": 9,
            "colonne": "siren",
            "valeur": "100000006",
            "motif": "siren_inconnu",
            "action": "rejete",
        }
    ]


def test_establishment_activity_switch(con):
    build(con, {"activite_etablissement": True})
    et = con.sql("SELECT * FROM ess.etablissements").df().set_index("siret")
    # association unit in 94.99Z, establishment in 94.91Z: out with the switch
    row = et.loc["10000000100029"]
    assert (row.famille_ess, row.ess, row.ess_loi_2014) == ("hors_ess", False, False)
    # religious association unit (APEN 94.91Z), establishment in 88.10A: in with the switch
    row = et.loc["10000000200010"]
    assert (row.famille_ess, row.ess, row.ess_loi_2014) == ("association", True, True)
    assert et.loc["10000000100011"].ess
    row = et.loc["10000000300018"]
    assert (row.famille_ess, row.ess, row.ess_loi_2014) == ("societe_commerciale_ess", False, True)


def test_jobs(con):
    counts = build(con)
    po = con.sql("SELECT * FROM ess.postes").df()
    assert len(po) == counts["ess.postes"] == len(JOBS) - 2
    assert list(po.columns) == [
        "siret",
        "siren",
        "code_departement",
        "code_region",
        "code_epci",
        "secteur",
        "famille_ess",
        "ess",
        "ess_loi_2014",
        "public",
        "sexe",
        "age",
        "pcs",
        "temps_partiel",
        "cdd",
        "annexe",
        "present_31_12",
        "dans_champ_salaire",
        "eqtp",
        "s_brut",
        "s_brut_salaire",
        "eqtp_salaire",
        "s_net",
        "nbheur",
    ]
    paris = po[po.siret == "10000000100011"].reset_index(drop=True)
    assert list(paris.sexe) == ["F", "H", "F", "F"]
    assert list(paris.pcs) == ["employes", "cadres", "employes", "employes"]
    assert list(paris.temps_partiel) == [False, True, False, False]
    assert list(paris.cdd) == [False, False, False, True]
    assert list(paris.annexe) == [False, False, True, False]
    assert list(paris.present_31_12) == [True, True, False, False]
    assert set(paris.code_departement) == {"75"} and set(paris.famille_ess) == {"association"}
    other = po[po.siret == "10000000500013"].iloc[0]
    assert pd.isna(other.sexe) and other.pcs == "autres"
    assert set(po[po.siret == "10000000400016"].pcs) == {"ouvriers", "autres"}
    q = con.sql("SELECT * FROM staging.quarantaine WHERE extrait = 'postes' ORDER BY ligne").df()
    assert list(q.valeur) == ["99999999900019", "10000000600011"]
    assert set(q.motif) == {"siret_inconnu"} and set(q.action) == {"rejete"} and list(q.ligne) == [10, 11]
    assert counts["quarantaine.siret_inconnu"] == 2
    # rerunning replaces the quarantine rows instead of appending them again
    assert apply_perimeter(con, "insee-2008-4f")["quarantaine.siret_inconnu"] == 2


def test_employer_establishments_against_pandas(con):
    build(con)
    got = con.sql("SELECT * FROM ess.etablissements_employeurs").df().set_index("siret")
    jobs = pd.DataFrame(JOBS)
    known = set(con.sql("SELECT siret FROM ess.etablissements").df().siret)
    in_france = set(con.sql("SELECT siret FROM ess.etablissements WHERE code_region IS NOT NULL").df().siret)
    assert known - in_france, "the fixture has an employer outside every région"
    jobs = jobs[jobs.SIRET.isin(in_france)]  # France = Σ régions: the others are no employer of any cell
    present = (jobs.FILT == "1") & (jobs.DATFIN == 360)
    expected = pd.DataFrame(
        {
            "effectif_31_12": present.groupby(jobs.SIRET).sum(),
            "etp": jobs.groupby("SIRET").EQTP.sum(min_count=0),
            "masse_salariale_brute": jobs.groupby("SIRET").S_BRUT.sum(min_count=0),
        }
    )
    assert sorted(got.index) == sorted(expected.index)
    for siret, row in expected.iterrows():
        assert got.loc[siret, "effectif_31_12"] == row.effectif_31_12, siret
        assert got.loc[siret, "etp"] == pytest.approx(row.etp), siret
        assert got.loc[siret, "masse_salariale_brute"] == pytest.approx(row.masse_salariale_brute), siret
    assert got.loc["10000000100011", "effectif_31_12"] == 2  # the annex job and the June leaver are not
    assert got.loc["10000000100011", "etp"] == pytest.approx(2.01)  # but they count in ETP and payroll
    assert got.loc["10000000100011", "masse_salariale_brute"] == pytest.approx(59150.0)
    assert got.loc["10000000100011", "tranche"] == "1-9"
    assert got.loc["10000000100029", "tranche"] == "0"
    assert got.loc["10000000200010", "tranche"] == "10-49"
    assert got.loc["10000000400016", "etp"] == pytest.approx(1.0)
    assert got.loc["10000000100011", "code_region"] == "11"


def test_size_bands(con):
    load(con)
    units = [_unit("200000001", "9220")]
    sizes = [0, 1, 9, 10, 49, 50, 249, 250]
    etabs = [_etab(f"200000001{i:05d}", "35238") for i in range(len(sizes))]
    jobs = []
    for i, n in enumerate(sizes):
        jobs += [_job(f"200000001{i:05d}", datfin=100)]  # every establishment employs someone
        jobs += [_job(f"200000001{i:05d}") for _ in range(n)]
    _stage(con, "unites_legales", units, UL_COLUMNS)
    _stage(con, "etablissements", etabs, ET_COLUMNS)
    _stage(con, "postes", jobs, PO_COLUMNS)
    apply_perimeter(con, "insee-2008-4f")
    got = con.sql(
        "SELECT effectif_31_12, tranche FROM ess.etablissements_employeurs ORDER BY siret"
    ).fetchall()
    assert got == list(
        zip(sizes, ["0", "1-9", "1-9", "10-49", "10-49", "50-249", "50-249", "250+"], strict=True)
    )


def test_apply_perimeter_counts_and_checks(con):
    with pytest.raises(ObservatoryError, match="not loaded"):
        apply_perimeter(con, "insee-2008-4f")
    counts = build(con)
    assert counts["ess.unites_legales"] == len(UNITS)
    assert counts["motif.cj_famille"] == 1 and counts["motif.activite_exclue"] == 1
    assert counts["motif.drapeau_sirene"] == 1 and counts["motif.cj_hors_perimetre"] == 2
    assert counts["ess.etablissements_employeurs"] == 4  # the fifth employer is outside every région
    with pytest.raises(ObservatoryError, match="insee-flores-5f"):
        apply_perimeter(con, "insee-flores-5f")
    load(con, "insee-2008-4f", {"smia": True})
    assert apply_perimeter(con, "insee-2008-4f")["ess.unites_legales"] == len(UNITS)
