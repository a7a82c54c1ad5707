"""Tests of the synthetic generator at a small fraction: layouts, determinism, coverage, calibration, dirt.

Calibration is recomputed independently with pandas from the written files, classifying legal units by the
CJ families and excluded activities of perimeter.md (version insee-2008-4f); tolerances are wide enough for
the sampling noise of a 1 % fraction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from observatory.reference import naf, regions
from observatory.synth import generate, params
from observatory.synth.sirene import COLONNES_ETAB, COLONNES_UL

FRACTION = 0.01
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "sirene"

ASSOCIATION = ["9210", "9220", "9221", "9222", "9223", "9230", "9240", "9260"]
MUTUELLE = ["8210", "8250", "8290", "6411"]
COOPERATIVE = [
    "5191",
    "5192",
    "5193",
    "5194",
    "5195",
    "5196",
    "5203",
    "5307",
    "5309",
    "5451",
    "5453",
    "5454",
    "5455",
    "5458",
    "5459",
    "5460",
    "5551",
    "5552",
    "5553",
    "5554",
    "5555",
    "5558",
    "5559",
    "5560",
    "5651",
    "5652",
    "5653",
    "5654",
    "5655",
    "5658",
    "5659",
    "5660",
    "6100",
    "6316",
    "6317",
    "6318",
    "6551",
    "6554",
    "6558",
    "6560",
    "6595",
    "6596",
    "5443",
    "5543",
    "5643",
    "6543",
    "5547",
    "5647",
    "5432",
    "5532",
    "5632",
    "6532",
]
FAMILLE = {
    **dict.fromkeys(ASSOCIATION, "association"),
    "9300": "fondation",
    **dict.fromkeys(MUTUELLE, "mutuelle"),
    **dict.fromkeys(COOPERATIVE, "cooperative"),
}
EXCLUES = {"94.11Z", "94.20Z", "94.91Z", "94.92Z"}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth")
    generate(d, millesime=2023, fraction=FRACTION, seed=42, dirty_rate=0.002)
    return d


@pytest.fixture(scope="module")
def data(out: Path) -> dict[str, pd.DataFrame]:
    ul = pd.read_csv(out / "StockUniteLegale_utf8.csv", dtype=str, keep_default_na=False)
    et = pd.read_csv(out / "StockEtablissement_utf8.csv", dtype=str, keep_default_na=False)
    po = pd.read_csv(
        out / "postes_2023.csv", dtype={c: str for c in ["SIRET", "SEXE", "PCS", "FILT", "DEPT", "REGT"]}
    )
    tr = pd.read_csv(out / "effectifs_trimestriels.csv", dtype={"siret": str})
    fam = ul["categorieJuridiqueUniteLegale"].map(FAMILLE).fillna("hors_ess")
    act = ul["activitePrincipaleUniteLegale"]
    exclu = (act.str.startswith("84") | act.isin(EXCLUES)) & (
        ul["nomenclatureActivitePrincipaleUniteLegale"] == "NAFRev2"
    )
    ul["famille"] = fam.where(~exclu, "hors_ess")
    ul["public"] = ul["categorieJuridiqueUniteLegale"].str[:1].isin(["4", "7"])
    e = et.drop_duplicates("siret").merge(ul[["siren", "famille", "public"]], on="siren", how="left")
    jobs = po.merge(
        e[["siret", "famille", "public", "activitePrincipaleEtablissement"]].rename(
            columns={"siret": "SIRET"}
        ),
        on="SIRET",
        how="left",
    )
    jobs["champ"] = np.where(
        jobs["famille"].isin(["association", "cooperative", "mutuelle", "fondation"]),
        "ess",
        np.where(jobs["public"].eq(True), "public", "prive"),
    )
    return {"ul": ul, "et": et, "postes": po, "jobs": jobs, "trim": tr}


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")


def test_files_and_official_headers(out: Path) -> None:
    assert _header(out / "StockUniteLegale_utf8.csv") == COLONNES_UL
    assert _header(out / "StockEtablissement_utf8.csv") == COLONNES_ETAB
    assert len(COLONNES_UL) == 33 and len(COLONNES_ETAB) == 53
    assert _header(out / "postes_2023.csv") == [
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
    assert _header(out / "effectifs_trimestriels.csv") == [
        "siret",
        "trimestre",
        "effectif_fin_trimestre",
        "masse_salariale",
    ]


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples absent")
def test_headers_match_real_sirene_samples() -> None:
    real_et = _header(SAMPLES / "sirene_StockEtablissement_sample_trackdechets.csv")
    assert real_et == COLONNES_ETAB
    real_ul = _header(SAMPLES / "sirene_StockUniteLegale_sample_trackdechets.csv")
    assert [c for c in COLONNES_UL if c in real_ul] == real_ul  # the sample lacks the personal-name columns


def test_deterministic(tmp_path: Path) -> None:
    def digest(d: Path) -> dict[str, str]:
        generate(d, millesime=2023, fraction=0.001, seed=7, dirty_rate=0.002)
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generate(tmp_path / "c", millesime=2023, fraction=0.001, seed=8, dirty_rate=0.002)
    assert (tmp_path / "c" / "postes_2023.csv").read_bytes() != (
        tmp_path / "a" / "postes_2023.csv"
    ).read_bytes()


def test_parameter_tables_use_real_codes() -> None:
    sous_classes = set(naf()["sous_classe"])
    for seg in params.segments():
        assert set(seg.naf[0]) <= sous_classes, seg.nom
        assert all(len(c) == 4 and c.isdigit() for c in seg.cj[0]), seg.nom
    prof = params.profils()
    assert prof.proba.sum(axis=2) == pytest.approx(np.ones(prof.proba.shape[:2]))


def test_identifiers(data) -> None:
    ul, et = data["ul"], data["et"]
    assert ul["siren"].str.fullmatch(r"\d{9}").all() and ul["siren"].is_unique

    def luhn(s: str) -> bool:
        tot = 0
        for i, ch in enumerate(reversed(s)):
            d = int(ch) * (2 if i % 2 else 1)
            tot += d - 9 if d > 9 else d
        return tot % 10 == 0

    assert all(luhn(s) for s in ul["siren"].head(500))
    assert (et["siret"] == et["siren"] + et["nic"]).all()
    assert et["siret"].str.len().eq(14).all()
    siege = et[et["etablissementSiege"] == "true"].drop_duplicates("siren")
    assert set(siege["siren"]) == set(ul["siren"])


def test_every_region_and_departement(data) -> None:
    po = data["postes"]
    assert set(regions()["code_region"]) <= set(po["REGT"])
    assert po["DEPT"].nunique() >= 95


def test_alsace_moselle_local_law(data) -> None:
    et, ul = data["et"], data["ul"]
    sieges = et[et["etablissementSiege"] == "true"].merge(ul, on="siren")
    local = sieges[sieges["categorieJuridiqueUniteLegale"].isin(["9260", "5195"])]
    assert len(local) > 0
    assert local["codeCommuneEtablissement"].str[:2].isin(["57", "67", "68"]).all()


def test_volumes(data) -> None:
    jobs = data["jobs"]
    h = jobs[(jobs["FILT"] == "1") & (jobs["DATFIN"] == 360)]
    # inputs.md §5: 24–26 M job rows; calibration.md: ≈ 25.2 M jobs at 31/12 (ESS 2.6 M at 10.3 %).
    assert 24e6 <= len(jobs) / FRACTION <= 26.3e6
    assert len(h) / FRACTION == pytest.approx(25.2e6, rel=0.04)
    assert (h["champ"] == "ess").sum() / FRACTION == pytest.approx(2.6e6, rel=0.08)
    assert jobs["SIRET"].nunique() / FRACTION == pytest.approx(2.3e6, rel=0.08)
    ess_et = jobs.loc[jobs["champ"] == "ess", "SIRET"].nunique() / FRACTION
    assert ess_et == pytest.approx(210e3, rel=0.12)


def test_calibration_fields_and_families(data) -> None:
    jobs = data["jobs"]
    h = jobs[(jobs["FILT"] == "1") & (jobs["DATFIN"] == 360)]
    part = h["champ"].value_counts(normalize=True)
    assert 0.095 <= part["ess"] <= 0.112
    assert 0.23 <= part["public"] <= 0.28
    assert 0.128 <= part["ess"] / (1 - part["public"]) <= 0.148
    fam = h.loc[h["champ"] == "ess", "famille"].value_counts(normalize=True)
    assert 0.75 <= fam["association"] <= 0.81
    assert 0.10 <= fam["cooperative"] <= 0.15
    assert 0.03 <= fam["mutuelle"] <= 0.07
    assert 0.025 <= fam["fondation"] <= 0.06


def test_calibration_sectors(data) -> None:
    jobs = data["jobs"]
    h = jobs[(jobs["FILT"] == "1") & (jobs["DATFIN"] == 360)]
    div = h["activitePrincipaleEtablissement"].str[:2]
    cibles = {("87", "88"): 0.60, ("93",): 0.58, ("90", "91"): 0.31, ("64", "65", "66"): 0.30, ("85",): 0.19}
    for divs, cible in cibles.items():
        part = (h.loc[div.isin(divs), "champ"] == "ess").mean()
        assert part == pytest.approx(cible, abs=0.10), (divs, part)  # small sectors are noisy at 0.4 %


def test_calibration_jobs(data) -> None:
    jobs = data["jobs"]
    h = jobs[(jobs["FILT"] == "1") & (jobs["DATFIN"] == 360)]
    ess = h[h["champ"] == "ess"]
    femmes, hommes = ess[ess["SEXE"] == "2"], ess[ess["SEXE"] == "1"]
    assert len(femmes) / len(ess) == pytest.approx(0.675, abs=0.025)
    by_fam = ess.groupby("famille")["SEXE"].apply(lambda s: (s == "2").mean())
    assert by_fam["association"] == pytest.approx(0.71, abs=0.03)
    assert by_fam["cooperative"] == pytest.approx(0.47, abs=0.05)
    assert (femmes["CPFD"] == "P").mean() == pytest.approx(0.41, abs=0.04)
    assert (femmes["PCS"].str[0] == "3").mean() == pytest.approx(0.13, abs=0.03)
    assert (hommes["PCS"].str[0] == "3").mean() == pytest.approx(0.22, abs=0.04)
    ecart_brut = 1 - femmes["S_NET"].mean() / hommes["S_NET"].mean()
    ecart_horaire = 1 - (femmes["S_NET"].sum() / femmes["NBHEUR"].sum()) / (
        hommes["S_NET"].sum() / hommes["NBHEUR"].sum()
    )
    assert ecart_brut == pytest.approx(0.23, abs=0.05)
    assert ecart_horaire == pytest.approx(0.16, abs=0.05)
    nn = jobs[(jobs["FILT"] == "1") & (jobs["S_BRUT"] > 0)]

    def etp(x: pd.DataFrame) -> float:
        return x["S_BRUT"].sum() / x["EQTP"].sum()

    assert etp(nn[nn["champ"] == "ess"]) / etp(nn[nn["champ"] == "prive"]) - 1 == pytest.approx(
        -0.147, abs=0.05
    )


def test_size_distribution(data) -> None:
    jobs = data["jobs"]
    ess = jobs[jobs["champ"] == "ess"]
    h = ess[(ess["FILT"] == "1") & (ess["DATFIN"] == 360)].groupby("SIRET").size()
    h = h.reindex(ess["SIRET"].unique(), fill_value=0)
    assert (h < 10).mean() == pytest.approx(0.75, abs=0.06)
    assert h[h < 10].sum() / h.sum() == pytest.approx(0.15, abs=0.06)


def test_job_variables_are_coherent(data) -> None:
    po = data["postes"]
    ok = po[po["AGE"] != 200]
    assert set(po["SEXE"]) == {"1", "2"} and set(po["FILT"]) == {"1", "2"}
    assert set(po["CPFD"]) <= {"C", "P", "N"}
    assert set(po["CONT_TRAV"]) <= {"CDI", "CDD", "APP", "TTP", "TOA", "AUT"}
    assert ((po["DATDEB"] >= 1) & (po["DATDEB"] <= po["DATFIN"]) & (po["DATFIN"] <= 360)).all()
    assert (po["DUREE"] == po["DATFIN"] - po["DATDEB"] + 1).all()
    assert ok["AGE"].between(16, 70).all()
    assert (po["PCS"].str.fullmatch(r"\d{3}[A-Z]")).all()
    # Few jobs ended during the year and annex jobs, so that 25.2 M jobs at 31/12 fit in 24–26 M rows.
    assert 0.01 < ((po["FILT"] == "1") & (po["DATFIN"] < 360)).mean() < 0.03
    assert 0.002 < (po["FILT"] == "2").mean() < 0.01
    # DEPT / REGT follow the establishment's commune.
    et = data["et"].drop_duplicates("siret").set_index("siret")
    sample = po[po["SIRET"].str.len() == 14].sample(2000, random_state=0)
    com = et.loc[sample["SIRET"], "codeCommuneEtablissement"].to_numpy()
    known = ~np.isin(com, ["99999", "00000"])
    dep = np.where(pd.Series(com).str[:2].isin(["97"]), pd.Series(com).str[:3], pd.Series(com).str[:2])
    assert (dep[known] == sample["DEPT"].to_numpy()[known]).all()


def test_dirty_kinds_present(data) -> None:
    ul, et, po = data["ul"], data["et"], data["postes"]
    assert (ul["categorieJuridiqueUniteLegale"] == "").any()
    assert (ul["categorieJuridiqueUniteLegale"] == "1234").any()
    assert et["codeCommuneEtablissement"].isin(["99999", "00000"]).any()
    assert et.duplicated().any()
    assert (
        (et["nomenclatureActivitePrincipaleEtablissement"] == "NAFRev1")
        & (et["etatAdministratifEtablissement"] == "A")
    ).any()
    assert (ul["nomenclatureActivitePrincipaleUniteLegale"] != "NAFRev2").any()
    assert (ul == "[ND]").any().any() and (et == "[ND]").any().any()
    assert (po["SIRET"].str.len() != 14).any()
    assert (po["S_BRUT"] < 0).any()
    assert po["S_NET"].isna().any()
    assert (po["AGE"] == 200).any()
    # ESS flag: O on most ESS units, and on a few commercial companies (legal perimeter only).
    ess = ul[ul["famille"] != "hors_ess"]
    assert (ess["economieSocialeSolidaireUniteLegale"] == "O").mean() > 0.75
    com = ul[ul["categorieJuridiqueUniteLegale"].isin(["5710", "5499"])]
    assert (com["economieSocialeSolidaireUniteLegale"] == "O").any()


def test_quarterly(data) -> None:
    tr, po, jobs = data["trim"], data["postes"], data["jobs"]
    assert tr["trimestre"].nunique() == 12
    assert tr["trimestre"].min() == "2021-T1" and tr["trimestre"].max() == "2023-T4"
    assert tr.groupby("siret").size().eq(12).all()
    h = po[(po["FILT"] == "1") & (po["DATFIN"] == 360)].groupby("SIRET").size()
    q4 = tr[tr["trimestre"] == "2023-T4"].set_index("siret")["effectif_fin_trimestre"]
    assert (q4 == h.reindex(q4.index).fillna(0)).mean() > 0.99
    # Field: no public employers, no agriculture, no Mayotte.
    first = jobs.drop_duplicates("SIRET").set_index("SIRET").reindex(q4.index)
    assert not first["public"].eq(True).any()
    assert not first["activitePrincipaleEtablissement"].str[:2].isin(["01", "02", "03"]).any()
    assert not po.loc[po["SIRET"].isin(q4.index), "DEPT"].eq("976").any()
    # Seasonality: summer peak in hotels and restaurants; trend: growth over the two years.
    sect = first["activitePrincipaleEtablissement"].reindex(tr["siret"]).str[:2].to_numpy()
    heb = tr[np.isin(sect, ["55", "56"])].groupby("trimestre")["effectif_fin_trimestre"].sum()
    assert heb["2023-T3"] > heb["2023-T1"] * 1.08
    tot = tr.groupby("trimestre")["effectif_fin_trimestre"].sum()
    assert 1.0 < tot["2023-T4"] / tot["2021-T4"] < 1.06
    assert (tr.loc[tr["effectif_fin_trimestre"] > 0, "masse_salariale"] > 0).all()


def test_regional_ess_shares_expected_from_the_placement_weights() -> None:
    """At national scale the ESS share of each région is what the placement weights give (small fractions are
    too lumpy to show it: one large establishment moves a small région by points). Expected ESS and other jobs
    per région are recomputed from the weights of every field and the segments' headcounts; each lands within
    0.5 point of the ESS France target scaled to the national share (Corse ≈ 7.6 %, Bretagne ≈ 14 %)."""
    from observatory.synth import population

    com = population.load_communes()
    emplois = pd.Series({s.nom: s.emplois_k for s in params.segments()})
    champ = pd.Series({s.nom: s.champ for s in params.segments()})
    par_champ = emplois.groupby(champ).sum()
    poids = {c: np.diff(np.r_[0.0, com.cum[c]]) for c in com.cum}
    ess = sum(par_champ[f] * poids[f] for f in params.FAMILLES_ESS)
    autres = par_champ["prive"] * poids["prive"] + par_champ["public"] * poids["public"]
    df = pd.DataFrame({"reg": com.reg, "ess": ess, "autres": autres}).groupby("reg").sum()
    part = df["ess"] / (df["ess"] + df["autres"])
    cible = params.regions().set_index("code_region")["part_ess_cible"]
    nationale = df["ess"].sum() / (df["ess"].sum() + df["autres"].sum())
    assert 0.102 <= nationale <= 0.105
    odds = cible / (1 - cible)
    k = (part / (1 - part) / odds).median()
    attendue = k * odds / (1 + k * odds)
    assert set(part.index) == set(cible.index)
    for reg in part.index:
        assert part[reg] == pytest.approx(attendue[reg], abs=0.001), reg
        assert part[reg] == pytest.approx(cible[reg], abs=0.005), reg
    assert part["94"] < 0.08 and part["06"] < 0.055  # Corse and Mayotte no longer inflated by cooperatives


def test_secondary_establishments_mostly_in_the_head_offices_departement(data) -> None:
    """Three secondary establishments in four are drawn in their head office's département (the others
    anywhere, by the field's weights), recomputed from the establishment file's communes."""
    et = data["et"].drop_duplicates("siret")
    et = et[~et["codeCommuneEtablissement"].isin(["99999", "00000"])]
    com = et["codeCommuneEtablissement"]
    et = et.assign(dep=np.where(com.str[:2] == "97", com.str[:3], com.str[:2]))
    employeurs = set(data["postes"]["SIRET"])
    sieges = et[et["etablissementSiege"] == "true"].set_index("siren")["dep"]
    sec = et[(et["etablissementSiege"] == "false") & et["siret"].isin(employeurs) & et["siren"].isin(sieges.index)]
    assert len(sec) > 1000
    same = (sec["dep"].to_numpy() == sieges.loc[sec["siren"]].to_numpy()).mean()
    assert 0.75 <= same <= 0.85


def test_regional_extract_keeps_the_regions_lines_unchanged(out: Path, data, tmp_path: Path) -> None:
    """``observatory generate --region 53 --region 52``: the establishments located in Bretagne and Pays de la
    Loire (and the dirty ones of units kept), their units, the jobs whose workplace is there, the headcounts of
    those establishments; every kept line is the national file's line."""
    import shutil

    from observatory.reference.cog import communes
    from observatory.synth.regional import keep_regions

    raw = tmp_path / "2023"
    shutil.copytree(out, raw)
    kept = keep_regions(raw, ["53", "52"])
    where = dict(zip(communes()["code_commune"], communes()["code_region"], strict=True))
    et = pd.read_csv(raw / "StockEtablissement_utf8.csv", dtype=str, keep_default_na=False)
    region = et["codeCommuneEtablissement"].map(where)
    assert set(region.dropna()) == {"52", "53"} and region.isna().sum() < 0.01 * len(et)
    expected = data["et"][data["et"]["codeCommuneEtablissement"].map(where).isin(["52", "53"])]
    assert len(et) == kept["StockEtablissement_utf8.csv"] >= len(expected) > 0.05 * len(data["et"])
    ul = pd.read_csv(raw / "StockUniteLegale_utf8.csv", dtype=str, keep_default_na=False)
    assert set(ul["siren"]) == set(et["siren"])
    po = pd.read_csv(raw / "postes_2023.csv", dtype=str, keep_default_na=False)
    assert set(po["REGT"]) == {"52", "53"}
    assert len(po) == (data["postes"]["REGT"].isin(["52", "53"])).sum()
    tr = pd.read_csv(raw / "effectifs_trimestriels.csv", dtype={"siret": str})
    national = data["trim"]["siret"].isin(et["siret"]) | ~data["trim"]["siret"].isin(data["et"]["siret"])
    assert (~data["trim"]["siret"].isin(data["et"]["siret"])).sum() < 0.01 * len(tr)
    assert len(tr) == national.sum()
    for name in ("StockEtablissement_utf8.csv", "postes_2023.csv"):
        lines = set((out / name).read_text(encoding="utf-8").splitlines())
        assert set((raw / name).read_text(encoding="utf-8").splitlines()) <= lines


def test_regional_extract_refuses_an_unknown_region(tmp_path: Path) -> None:
    from observatory.errors import ObservatoryError
    from observatory.synth.regional import keep_regions

    with pytest.raises(ObservatoryError, match=r"unknown région code\(s\) 99; known: 01, 02"):
        keep_regions(tmp_path, ["53", "99"])
