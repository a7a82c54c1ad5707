"""Indicators against an independent pandas computation on a hand-made micro-dataset.

`build_micro(con)` fills ``ess.postes``, ``ess.etablissements_employeurs``, ``ess.unites_legales``,
``ref.departements``, ``ref.regions`` and ``ref.epci`` with a small deterministic dataset (3 régions,
7 départements, 4 EPCI, about 160 establishments and 2 000 jobs); the other test modules reuse it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from observatory.config import Settings
from observatory.indicators import COLONNES, build_indicators
from observatory.publication import publish_indicators
from observatory.reference.indicateurs import indicateurs
from observatory.warehouse import connect, run_sql

REGIONS = {"11": "Île-de-France", "24": "Centre-Val de Loire", "93": "Provence-Alpes-Côte d'Azur"}
DEPARTEMENTS = {
    "75": ("Paris", "11"),
    "92": ("Hauts-de-Seine", "11"),
    "18": ("Cher", "24"),
    "36": ("Indre", "24"),
    "45": ("Loiret", "24"),
    "13": ("Bouches-du-Rhône", "93"),
    "06": ("Alpes-Maritimes", "93"),
}
EPCI = {
    "200054781": ("Métropole du Grand Paris", ["75", "92"]),
    "241800507": ("Bourges Plus", ["18"]),
    "200054807": ("Aix-Marseille-Provence", ["13"]),
    "200030195": ("Nice Côte d'Azur", ["06"]),
}
FAMILLES_ESS = ["association", "cooperative", "mutuelle", "fondation"]
SECTEURS = ["SAN", "HMS", "ASS", "ENS", "COM", "IND", "FIN"]
PCS = ["cadres", "prof_intermediaires", "employes", "ouvriers", "autres"]


def _tranche(n: int) -> str:
    if n == 0:
        return "0"
    if n < 10:
        return "1-9"
    if n < 50:
        return "10-49"
    if n < 250:
        return "50-249"
    return "250+"


def micro_frames(seed: int = 7, n_etab: int = 600) -> dict[str, pd.DataFrame]:
    """The micro-dataset as pandas frames (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    deps = list(DEPARTEMENTS)
    epci_of = {d: e for e, (_, ds) in EPCI.items() for d in ds}
    etabs, postes, uls = [], [], {}
    for i in range(n_etab):
        dep = deps[i % len(deps)] if i < n_etab - 20 else deps[int(rng.integers(0, 2))]
        siren = f"{100000000 + i // 2:09d}"  # two establishments per enterprise
        siret = f"{siren}{i % 2 + 1:05d}"
        kind = rng.choice(["public", "ess", "sce", "phe"], p=[0.2, 0.35, 0.05, 0.4])
        famille = {
            "ess": FAMILLES_ESS[int(rng.integers(0, 4))],
            "sce": "societe_commerciale_ess",
        }.get(kind, "hors_ess")
        secteur = SECTEURS[int(rng.integers(0, len(SECTEURS)))]
        ess, loi, public = kind == "ess", kind in ("ess", "sce"), kind == "public"
        size = int(rng.choice([1, 2, 4, 8, 15, 30, 60]))
        if i == 5:  # one dominant employer
            size = 300
        uls[siren] = {
            "siren": siren,
            "famille_ess": famille,
            "ess": ess,
            "ess_loi_2014": loi,
            "public": public,
        }
        present_n = 0
        for _ in range(size):
            annexe = bool(rng.random() < 0.08)
            present = (not annexe) and bool(rng.random() < 0.85)
            present_n += present
            cadre = rng.random()
            pcs = PCS[min(int(cadre * 5), 4)]
            eqtp = float(np.round(rng.uniform(0.1, 1.0), 3))
            base = {"cadres": 4200, "prof_intermediaires": 2800, "employes": 2100}.get(pcs, 2000)
            sexe = "F" if rng.random() < 0.6 else "H"
            brut = float(
                np.round(base * 12 * eqtp * (0.9 if sexe == "F" else 1.05) * rng.uniform(0.8, 1.2), 2)
            )
            postes.append(
                {
                    "siret": siret,
                    "siren": siren,
                    "code_departement": dep,
                    "code_region": DEPARTEMENTS[dep][1],
                    "code_epci": epci_of.get(dep),
                    "secteur": secteur,
                    "famille_ess": famille,
                    "ess": ess,
                    "ess_loi_2014": loi,
                    "public": public,
                    "sexe": sexe,
                    "age": int(rng.integers(18, 66)),
                    "pcs": pcs,
                    "temps_partiel": bool(eqtp < 0.7),
                    "cdd": bool(rng.random() < 0.15),
                    "annexe": annexe,
                    "present_31_12": present,
                    "dans_champ_salaire": not annexe,
                    "eqtp": eqtp,
                    "s_brut": brut,
                    "s_brut_salaire": None if annexe else brut,
                    "eqtp_salaire": None if annexe else eqtp,
                    "s_net": float(np.round(brut * 0.78, 2)),
                    "nbheur": float(np.round(eqtp * 1607, 1)),
                }
            )
        etabs.append(
            {
                "siret": siret,
                "siren": siren,
                "code_commune": None,
                "code_departement": dep,
                "code_region": DEPARTEMENTS[dep][1],
                "code_epci": epci_of.get(dep),
                "secteur": secteur,
                "famille_ess": famille,
                "ess": ess,
                "ess_loi_2014": loi,
                "public": public,
                "effectif_31_12": present_n,
                "tranche": _tranche(present_n),
            }
        )
    postes = pd.DataFrame(postes)
    etabs = pd.DataFrame(etabs)
    agg = postes.groupby("siret").agg(etp=("eqtp", "sum"), masse_salariale_brute=("s_brut", "sum"))
    etabs = etabs.join(agg, on="siret")
    return {
        "postes": postes,
        "etablissements_employeurs": etabs,
        "unites_legales": pd.DataFrame(list(uls.values())),
    }


def build_micro(con, seed: int = 7, n_etab: int = 600) -> dict[str, pd.DataFrame]:
    """Create the ess.* and ref.* input tables in ``con`` from :func:`micro_frames`."""
    frames = micro_frames(seed, n_etab)
    for schema in ("ess", "ref", "ind"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, df in frames.items():
        con.register("_df", df)
        con.execute(f"CREATE OR REPLACE TABLE ess.{name} AS SELECT * FROM _df")
        con.unregister("_df")
    con.execute("CREATE OR REPLACE TABLE ref.regions (code_region VARCHAR, libelle VARCHAR)")
    con.executemany("INSERT INTO ref.regions VALUES (?, ?)", list(REGIONS.items()))
    con.execute(
        "CREATE OR REPLACE TABLE ref.departements (code_departement VARCHAR, libelle VARCHAR, code_region VARCHAR)"
    )
    con.executemany(
        "INSERT INTO ref.departements VALUES (?, ?, ?)", [(k, *v) for k, v in DEPARTEMENTS.items()]
    )
    con.register("_df", indicateurs())
    con.execute("CREATE OR REPLACE TABLE ref.indicateurs AS SELECT * FROM _df")
    con.unregister("_df")
    con.execute("CREATE OR REPLACE TABLE ref.epci (code_epci VARCHAR, libelle VARCHAR, type VARCHAR)")
    con.executemany("INSERT INTO ref.epci VALUES (?, ?, 'ME')", [(k, v[0]) for k, v in EPCI.items()])
    return frames


@pytest.fixture(scope="module")
def cells():
    con = connect()
    frames = build_micro(con)
    run_sql(con, "indicators/cellules.sql")
    yield con.table("ind.cellules").df(), frames
    con.close()


def _pick(cells, **key):
    key = {
        "famille": "toutes",
        "secteur": "tous",
        "tranche": "toutes",
        "sexe": "tous",
        "pcs": "toutes",
        **key,
    }
    mask = np.ones(len(cells), bool)
    for k, v in key.items():
        mask &= cells[k].to_numpy() == v
    assert mask.sum() == 1, key
    return cells[mask].iloc[0]


def test_cells_against_pandas(cells):
    c, frames = cells
    p = frames["postes"]
    for champ, rows in (
        ("ensemble", p),
        ("ess", p[p.ess]),
        ("prive_hors_ess", p[~p.public & ~p.ess]),
        ("public", p[p.public]),
    ):
        for dep in ("75", "18"):
            d = rows[rows.code_departement == dep]
            cell = _pick(c, niveau="departement", code=dep, champ=champ)
            assert cell.n_etab == d.siret.nunique()
            assert cell.n_ent == d.siren.nunique()
            assert cell.effectif == d.present_31_12.sum()
            assert cell.etp == pytest.approx(d.eqtp.sum())
            assert cell.masse == pytest.approx(d.s_brut.sum())
            per_etab = d.groupby("siret").s_brut.sum()
            assert cell.max_masse == pytest.approx(per_etab.max())
            non_annex = d[~d.annexe]
            assert cell.s_net == pytest.approx(non_annex.s_net.sum())
            assert cell.nbheur == pytest.approx(non_annex.nbheur.sum())
            assert cell.n_salaries == len(non_annex)
            assert cell.max_poste_brut == pytest.approx(d.s_brut.max())


def test_epci_cells_by_sex_against_pandas(cells):
    """An EPCI's cells by sexe (ESS only) and its atoms', recomputed with pandas from the jobs."""
    c, frames = cells
    p = frames["postes"]
    ess = p[p.ess & p.code_epci.notna()]
    checked = 0
    for (epci, sexe), d in ess.groupby(["code_epci", "sexe"]):
        cell = _pick(c, niveau="epci", code=epci, champ="ess", sexe=sexe)
        assert cell.effectif == d.present_31_12.sum()
        assert cell.etp == pytest.approx(d.eqtp.sum())
        assert cell.n_etab == d.siret.nunique()
        checked += 1
    assert checked >= 4
    sexes = c[c.niveau.isin(["epci", "_piece", "_epci_inconnu"]) & (c.sexe != "tous")]
    assert set(sexes.champ) == {"ess"} and set(sexes.famille) == {"toutes"} and set(sexes.pcs) == {"toutes"}


def test_epci_cells_by_size_band_against_pandas(cells):
    """An EPCI's ESS cells by size band (the establishment's band) recomputed with pandas from the jobs and
    establishments; the bands add up to the EPCI's ESS, and no other champ or breakdown has them there."""
    c, frames = cells
    p, e = frames["postes"], frames["etablissements_employeurs"]
    ess = p[p.ess & p.code_epci.notna()].merge(e[["siret", "tranche"]], on="siret")
    checked = 0
    for (epci, tranche), d in ess.groupby(["code_epci", "tranche"]):
        cell = _pick(c, niveau="epci", code=epci, champ="ess", tranche=tranche)
        assert cell.effectif == d.present_31_12.sum()
        assert cell.n_etab == d.siret.nunique()
        checked += 1
    assert checked >= 4
    bands = c[c.niveau.isin(["epci", "_piece", "_epci_inconnu"]) & (c.tranche != "toutes")]
    assert set(bands.champ) == {"ess"} and set(bands.famille) == {"toutes"} and set(bands.sexe) == {"tous"}
    total = bands[bands.niveau == "epci"].groupby("code").effectif.sum()
    ess_epci = c[(c.niveau == "epci") & (c.champ == "ess") & (c.famille == "toutes") & (c.tranche == "toutes")]
    ess_epci = ess_epci[(ess_epci.sexe == "tous") & (ess_epci.secteur == "tous") & (ess_epci.pcs == "toutes")]
    assert total.to_dict() == ess_epci.set_index("code").effectif.to_dict()


def test_epci_cells_by_sector_against_pandas(cells):
    """An EPCI's ESS cells by sector (the establishment's sector) recomputed with pandas from the jobs and
    establishments; the sectors add up to the EPCI's ESS, and no other champ or breakdown has them there (an
    atom's cells, too: a département's ESS by sector is the sum of its atoms')."""
    c, frames = cells
    p = frames["postes"]
    ess = p[p.ess & p.code_epci.notna()]
    ess = ess.assign(secteur=ess.secteur.fillna("NCL"))
    checked = 0
    for (epci, secteur), d in ess.groupby(["code_epci", "secteur"]):
        cell = _pick(c, niveau="epci", code=epci, champ="ess", secteur=secteur)
        assert cell.effectif == d.present_31_12.sum()
        assert cell.etp == pytest.approx(d.eqtp.sum())
        assert cell.n_etab == d.siret.nunique()
        checked += 1
    assert checked >= 4 and ess.secteur.nunique() >= 3
    atomic = c[c.niveau.isin(["epci", "_piece", "_epci_inconnu"]) & (c.secteur != "tous")]
    assert set(atomic.champ) == {"ess"} and set(atomic.famille) == {"toutes"} and set(atomic.sexe) == {"tous"}
    assert set(atomic.tranche) == {"toutes"} and set(atomic.pcs) == {"toutes"}
    total = atomic[atomic.niveau == "epci"].groupby("code").effectif.sum()
    ess_epci = c[(c.niveau == "epci") & (c.champ == "ess") & (c.famille == "toutes") & (c.tranche == "toutes")]
    ess_epci = ess_epci[(ess_epci.sexe == "tous") & (ess_epci.secteur == "tous") & (ess_epci.pcs == "toutes")]
    assert total.to_dict() == ess_epci.set_index("code").effectif.to_dict()
    dep = c[(c.niveau == "departement") & (c.champ == "ess") & (c.secteur != "tous") & (c.famille == "toutes")]
    dep = dep[(dep.sexe == "tous") & (dep.tranche == "toutes") & (dep.pcs == "toutes")]
    atoms = atomic[atomic.niveau == "_piece"]
    by_dep = atoms.assign(dep=atoms.code.str.split("|").str[0]).groupby(["dep", "secteur"]).effectif.sum()
    assert by_dep[by_dep > 0].to_dict() == dep.set_index(["code", "secteur"]).effectif[lambda x: x > 0].to_dict()


def test_sex_pcs_and_family_cells(cells):
    c, frames = cells
    p = frames["postes"]
    f = p[(p.sexe == "F") & (p.pcs == "cadres") & (p.code_region == "11")]
    cell = _pick(c, niveau="region", code="11", champ="ensemble", sexe="F", pcs="cadres")
    assert cell.effectif == f.present_31_12.sum()
    assert cell.max_effectif == f.groupby("siret").present_31_12.sum().max()
    a = p[p.ess & (p.famille_ess == "association")]
    cell = _pick(c, niveau="france", code="FR", champ="ess", famille="association")
    assert cell.etp == pytest.approx(a.eqtp.sum())
    assert not ((c.champ == "prive") & (c.famille != "toutes")).any()


def publish_sample(root: Path, seed: int = 7) -> Settings:
    """Build the micro-dataset warehouse under ``root``, run the indicators and publish them."""
    settings = Settings(output_dir=root / "output", warehouse=root / "warehouse.duckdb", millesime=2023)
    con = connect(settings.warehouse)
    try:
        build_micro(con, seed=seed)
        build_indicators(con, settings)
        publish_indicators(con, settings, inputs=[], row_counts={"postes_in": 0})
    finally:
        con.close()
    return settings


@pytest.fixture(scope="module")
def built(micro_published):
    settings = micro_published
    con = connect(settings.warehouse, read_only=True)
    yield settings, con, micro_frames()
    con.close()


def _ind(con, **key) -> pd.Series:
    full = {
        "famille": "toutes",
        "secteur": "tous",
        "tranche": "toutes",
        "sexe": "tous",
        "pcs": "toutes",
        **key,
    }
    df = con.table("ind.indicateurs").df()
    for k, v in full.items():
        df = df[df[k] == v]
    assert len(df) == 1, full
    return df.iloc[0]


def test_derived_indicators_against_pandas(built):
    _, con, frames = built
    p = frames["postes"]
    d = p[(p.code_region == "24") & p.ess]
    present = d[d.present_31_12]
    na = d[~d.annexe]
    r = {"niveau": "region", "code": "24", "champ": "ess"}
    assert _ind(con, indicateur="part_femmes", **r).valeur_calculee == pytest.approx(
        100 * (present.sexe == "F").mean()
    )
    assert _ind(con, indicateur="taux_temps_partiel", **r).valeur_calculee == pytest.approx(
        100 * present.temps_partiel.mean()
    )
    assert _ind(con, indicateur="part_cdd", sexe="F", **r).valeur_calculee == pytest.approx(
        100 * present[present.sexe == "F"].cdd.mean()
    )
    assert _ind(con, indicateur="part_50_ans_et_plus", **r).valeur_calculee == pytest.approx(
        100 * (present.age >= 50).mean()
    )
    assert _ind(con, indicateur="salaire_brut_annuel_moyen_etp", **r).valeur_calculee == pytest.approx(
        na.s_brut.sum() / na.eqtp.sum()  # the pay field: non-annex jobs (sql/perimeter/postes.sql)
    )
    wage = {s: na[na.sexe == s].s_net.sum() / na[na.sexe == s].nbheur.sum() for s in "FH"}
    assert _ind(con, indicateur="salaire_net_horaire_moyen", sexe="F", **r).valeur_calculee == pytest.approx(
        wage["F"]
    )
    assert _ind(con, indicateur="ecart_salarial_fh", **r).valeur_calculee == pytest.approx(
        100 * (1 - wage["F"] / wage["H"])
    )
    cad = na[na.pcs == "cadres"]
    wc = {s: cad[cad.sexe == s].s_net.sum() / cad[cad.sexe == s].nbheur.sum() for s in "FH"}
    assert _ind(con, indicateur="ecart_salarial_fh", pcs="cadres", **r).valeur_calculee == pytest.approx(
        100 * (1 - wc["F"] / wc["H"])
    )
    all24 = p[p.code_region == "24"]
    prive = all24[~all24.public]
    assert _ind(con, indicateur="part_emploi_prive", **r).valeur_calculee == pytest.approx(
        100 * present.shape[0] / prive.present_31_12.sum()
    )
    assert _ind(con, indicateur="part_emploi_total", **r).valeur_calculee == pytest.approx(
        100 * present.shape[0] / all24.present_31_12.sum()
    )
    etabs = frames["etablissements_employeurs"]
    e24 = etabs[etabs.code_region == "24"]
    assert _ind(con, indicateur="part_etablissements_prive", **r).valeur_calculee == pytest.approx(
        100 * e24.ess.sum() / (~e24.public).sum()
    )
    san = all24[all24.secteur == "SAN"]
    assert _ind(con, indicateur="part_emploi_secteur", secteur="SAN", **r).valeur_calculee == pytest.approx(
        100 * san[san.ess].present_31_12.sum() / san.present_31_12.sum()
    )


def test_ranks_and_share_of_region(built):
    _, con, frames = built
    p = frames["postes"]
    ess = p[p.ess & p.present_31_12]
    by_dep = ess.groupby("code_departement").size()
    region24 = by_dep[["18", "36", "45"]].sort_values(ascending=False)
    row = _ind(con, niveau="departement", code="36", champ="ess", indicateur="part_region")
    assert row.valeur_calculee == pytest.approx(100 * by_dep["36"] / region24.sum())


def test_ranks_among_published_departements_only(built):
    """A rank is computed among the départements whose effectif is published (a rank among all of them
    would bracket a hidden effectif between its neighbours'); a hidden effectif has no rank."""
    _, con, frames = built
    p = frames["postes"]
    ess = p[p.ess & p.present_31_12].groupby("code_departement").size()
    region_of = p.drop_duplicates("code_departement").set_index("code_departement").code_region
    t = con.table("ind.indicateurs").df()
    for dim, v in {
        "famille": "toutes",
        "secteur": "tous",
        "tranche": "toutes",
        "sexe": "tous",
        "pcs": "toutes",
    }.items():
        t = t[t[dim] == v]
    t = t[t.niveau == "departement"]
    eff = t[t.indicateur == "effectif_31_12"].set_index(["champ", "code"])
    rangs = {
        ind: t[t.indicateur == ind].set_index(["champ", "code"]) for ind in ("rang_france", "rang_region")
    }
    n_hidden = 0
    for champ, g in eff.groupby(level="champ"):
        g = g.droplevel("champ")
        pub = g[g.statut == "publie"].valeur_calculee
        if champ == "ess":  # every ESS effectif is published: the ranks of the pandas counts
            assert len(pub) == len(ess)
            pub = ess.astype(float)
        expected = {
            "rang_france": pub.rank(ascending=False, method="min"),
            "rang_region": pub.groupby(region_of[pub.index].to_numpy()).rank(ascending=False, method="min"),
        }
        for ind, r in rangs.items():
            got = r.loc[champ]
            for dep in g.index:
                if dep in pub.index:
                    assert got.loc[dep].valeur_calculee == expected[ind][dep], (champ, dep, ind)
                else:
                    assert pd.isna(got.loc[dep].valeur_calculee) and got.loc[dep].statut != "publie"
                    n_hidden += 1
    assert n_hidden > 0, "the micro-dataset must have hidden département effectifs"


def test_derived_figures_inherit_secrecy(built):
    _, con, _ = built
    ind = con.table("ind.indicateurs").df()
    key = ["niveau", "code", "champ", "famille", "secteur", "tranche", "pcs"]
    eff = ind[ind.indicateur == "effectif_31_12"]
    f = eff[eff.sexe == "F"].set_index(key).st
    h = eff[eff.sexe == "H"].set_index(key).st
    ecart = ind[ind.indicateur == "ecart_salarial_fh"].set_index(key)
    assert len(ecart) > 0
    assert (ecart.st >= f.reindex(ecart.index)).all() and (ecart.st >= h.reindex(ecart.index)).all()
    assert ((ecart.st > 0) == ecart.valeur.isna()).all()
    tot = eff[
        (eff.sexe == "tous")
        & (eff.famille == "toutes")
        & (eff.secteur == "tous")
        & (eff.tranche == "toutes")
        & (eff.pcs == "toutes")
    ]
    ens = tot[tot.champ == "ensemble"].set_index(["niveau", "code"]).st
    parts = ind[ind.indicateur == "part_emploi_total"]
    own = eff.set_index([*key, "sexe"]).st
    assert (
        parts.st.to_numpy() >= ens.reindex(pd.MultiIndex.from_frame(parts[["niveau", "code"]])).to_numpy()
    ).all()
    assert (
        parts.st.to_numpy() >= own.reindex(pd.MultiIndex.from_frame(parts[[*key, "sexe"]])).to_numpy()
    ).all()
    assert set(ind.statut) == {"publie", "secret_primaire", "secret_secondaire"}


def test_published_columns_and_secret_values_empty(built):
    settings, _, _ = built
    df = pd.read_parquet(settings.vintage_output / "tables" / "indicateurs.parquet")
    assert list(df.columns) == COLONNES
    assert df.loc[df.statut != "publie", "valeur"].isna().all()
    assert df.loc[df.statut == "publie", "valeur"].notna().all()
    assert not df.champ.str.startswith("_").any() and "autres" not in set(df.pcs)
    epci = df[df.niveau == "epci"]
    assert len(epci) and set(epci.pcs) == {"toutes"}
    assert "association" in set(epci.famille)
    # the EPCIs by size band: the ESS's establishments and jobs at 31/12 only (the portraits' size figure)
    bands = epci[epci.tranche != "toutes"]
    assert {"0", "1-9", "10-49"} <= set(bands.tranche) and set(bands.champ) == {"ess"}
    assert set(bands.famille) == {"toutes"} and set(bands.sexe) == {"tous"} and set(bands.secteur) == {"tous"}
    assert set(bands.indicateur) == {"effectif_31_12", "etablissements_employeurs"}
    # and by sector, the same two (the portraits' sector figure; not the ESS's share of each sector's jobs)
    sectors = epci[epci.secteur != "tous"]
    assert len(set(sectors.secteur)) >= 3 and set(sectors.champ) == {"ess"} and set(sectors.tranche) == {"toutes"}
    assert set(sectors.famille) == {"toutes"} and set(sectors.sexe) == {"tous"}
    assert set(sectors.indicateur) == {"effectif_31_12", "etablissements_employeurs"}
    assert (sectors.statut == "publie").any()
    # the EPCIs by sexe: the ESS only, no family, no PCS figure (the portraits' women and men)
    sexes = epci[epci.sexe != "tous"]
    assert set(sexes.sexe) == {"F", "H"} and set(sexes.champ) == {"ess"} and set(sexes.famille) == {"toutes"}
    assert not epci.indicateur.isin(["part_cadres", "part_femmes_cadres"]).any()
    assert {"part_femmes", "ecart_salarial_fh"} <= set(epci[epci.sexe == "tous"].indicateur)
    manifest = json.loads((settings.vintage_output / "manifest.json").read_text())
    assert manifest["millesime"] == 2023 and manifest["tables"]["indicateurs"]["rows"] == len(df)


def test_manifest_states_what_secrecy_cost(built):
    """``cout_du_secret``: per level, the published table's figures by statut, and the share of jobs at
    31/12 in hidden headcount cells (public + ESS + privé hors ESS, no breakdown), recomputed here with
    pandas from the published table and the micro-dataset's jobs; not given when one or two cells are hidden."""
    settings, _, frames = built
    df = pd.read_parquet(settings.vintage_output / "tables" / "indicateurs.parquet")
    cost = json.loads((settings.vintage_output / "manifest.json").read_text())["cout_du_secret"]["annuel"]
    assert set(cost) == {"france", "region", "departement", "epci"}
    p = frames["postes"]
    jobs = p[p.present_31_12]
    area = {"france": None, "region": "code_region", "departement": "code_departement", "epci": "code_epci"}
    for niveau, col in area.items():
        t = df[df.niveau == niveau]
        assert cost[niveau]["cellules"] == len(t)
        for statut in ("publie", "secret_primaire", "secret_secondaire"):
            assert cost[niveau][statut] == int((t.statut == statut).sum()), (niveau, statut)
        head = t[(t.indicateur == "effectif_31_12") & t.champ.isin(["public", "ess", "prive_hors_ess"])]
        for dim, total in {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous"}.items():
            head = head[head[dim] == total]
        head = head[head.pcs == "toutes"]
        hidden = head[head.statut != "publie"]
        champ_of = np.where(jobs.public, "public", np.where(jobs.ess, "ess", "prive_hors_ess"))
        key = jobs[col] if col else pd.Series("FR", index=jobs.index)
        cells = set(zip(hidden.code, hidden.champ))
        in_hidden = [(k, c) in cells for k, c in zip(key, champ_of, strict=True)]
        total = len(jobs) if niveau != "epci" else int(jobs[col].notna().sum())
        n_hidden = int(head.statut.isin(["secret_primaire", "secret_secondaire"]).sum())
        expected = round(100 * sum(in_hidden) / total) if not 1 <= n_hidden <= 2 else None  # would bound them
        assert cost[niveau]["part_emploi_masque_pourcent"] == expected, niveau


def test_rerun_with_the_natures_closed_in_two_processes_gives_identical_csv_and_mask(
    built, tmp_path, monkeypatch, beside_submissions
):
    """A second run gives the same bytes and the same mask. It is made as a large table is protected: the
    establishment counts closed in a second process while this one closes the magnitudes
    (``observatory/secrecy/protect.py``), forced on the micro-dataset; the module's run closed both in one."""
    import importlib

    protect_module = importlib.import_module("observatory.secrecy.protect")  # not the function of that name
    monkeypatch.setattr(protect_module, "BESIDE_MIN_CELLS", 0)
    settings, con, _ = built
    again = publish_sample(tmp_path)
    assert [(name, args[0]) for name, args in beside_submissions] == [("_nature_status", "comptage")]
    csv = "tables/indicateurs.csv"
    assert (settings.vintage_output / csv).read_bytes() == (again.vintage_output / csv).read_bytes()
    con2 = connect(again.warehouse, read_only=True)
    try:
        alone, beside_ = con.table("ind.masque").df(), con2.table("ind.masque").df()
    finally:
        con2.close()
    assert (alone.s_comptage == 1).any() and (alone.s_montant == 1).any()  # both natures chose complements
    pd.testing.assert_frame_equal(beside_, alone)


AGE_BANDS = {
    "effectif_age_moins_25": (0, 24),
    "effectif_age_25_34": (25, 34),
    "effectif_age_35_44": (35, 44),
    "effectif_age_45_54": (45, 54),
    "effectif_age_55_plus": (55, 200),
}
_CHAMP_OF = {
    "ess": lambda p: p.ess,
    "prive_hors_ess": lambda p: ~p.public & ~p.ess,
    "public": lambda p: p.public,
    "prive": lambda p: ~p.public,
    "ensemble": lambda p: p.ess | ~p.ess,
    "ess_loi_2014": lambda p: p.ess_loi_2014,
}


def test_age_pyramid_against_pandas(built):
    _, con, frames = built
    ind = con.table("ind.indicateurs").df()
    p = frames["postes"]
    p = p[p.present_31_12]
    cases = [
        ("departement", "75", "ess", "F"),
        ("region", "24", "prive_hors_ess", "tous"),
        ("france", "FR", "ensemble", "H"),
        ("departement", "13", "public", "tous"),
        ("region", "93", "ess_loi_2014", "F"),
        ("departement", "45", "prive", "H"),
    ]
    col = {"departement": "code_departement", "region": "code_region"}
    for niveau, code, champ, sexe in cases:
        sub = p[_CHAMP_OF[champ](p)]
        if niveau != "france":
            sub = sub[sub[col[niveau]] == code]
        if sexe != "tous":
            sub = sub[sub.sexe == sexe]
        for indicateur, (lo, hi) in AGE_BANDS.items():
            row = _ind(con, niveau=niveau, code=code, champ=champ, sexe=sexe, indicateur=indicateur)
            assert row.valeur_calculee == ((sub.age >= lo) & (sub.age <= hi)).sum(), (code, champ, indicateur)
            assert row.unite == "nombre"
            assert (row.statut == "publie") == (row.valeur == row.valeur), "empty valeur exactly when secret"
    # the bands exist for every niveau × champ × sexe, and nowhere else
    bands = ind[ind.indicateur.isin(AGE_BANDS)]
    assert set(bands.niveau) == {"france", "region", "departement"}
    assert set(bands.champ) == set(_CHAMP_OF) and set(bands.sexe) == {"tous", "F", "H"}
    assert (bands.famille == "toutes").all() and (bands.secteur == "tous").all()
    assert (bands.tranche == "toutes").all() and (bands.pcs == "toutes").all()


def test_age_pyramid_cannot_be_recomputed_by_subtraction(built):
    _, con, _ = built
    ind = con.table("ind.indicateurs").df()
    cells = ind[ind.indicateur.isin([*AGE_BANDS, "effectif_31_12"])]
    cells = cells[(cells.famille == "toutes") & (cells.secteur == "tous") & (cells.tranche == "toutes")]
    cells = cells[(cells.pcs == "toutes") & cells.niveau.isin(["france", "region", "departement"])]
    cells = cells.assign(hidden=cells.statut != "publie")
    # bands + their total, F + H = tous, départements + their région: never exactly one hidden cell
    by_cell = cells.groupby(["niveau", "code", "champ", "sexe"]).hidden.sum()
    assert (by_cell != 1).all(), by_cell[by_cell == 1].head()
    bands = cells[cells.indicateur.isin(AGE_BANDS)]
    assert bands.statut.isin(["publie", "secret_primaire", "secret_secondaire"]).all()
    assert (bands.statut == "secret_secondaire").any() and (bands.statut == "publie").any()
    by_sex = bands.groupby(["niveau", "code", "champ", "indicateur"]).hidden.sum()
    assert (by_sex != 1).all(), by_sex[by_sex == 1].head()
    region_of = {d: r for d, (_, r) in DEPARTEMENTS.items()}
    geo = bands[bands.niveau != "france"].assign(
        region=lambda d: np.where(d.niveau == "region", d.code, d.code.map(region_of))
    )
    by_geo = geo.groupby(["region", "champ", "sexe", "indicateur"]).hidden.sum()
    assert (by_geo != 1).all(), by_geo[by_geo == 1].head()
    # and the bands add up to the headcount in every cell
    wide = cells.pivot_table(
        index=["niveau", "code", "champ", "sexe"], columns="indicateur", values="valeur_calculee"
    )
    assert np.allclose(wide[list(AGE_BANDS)].sum(axis=1), wide.effectif_31_12)


def _mask_cells(con):
    cells = con.execute(
        "SELECT * FROM ind.cellules JOIN ind.masque USING (niveau, code, champ, famille, secteur, tranche, sexe, pcs)"
    ).df()
    plain = np.ones(len(cells), bool)
    for dim, total in {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "pcs": "toutes"}.items():
        plain &= cells[dim].to_numpy() == total
    return cells, plain


def test_sub_population_counts_cannot_be_recomputed_by_subtraction(built):
    _, con, _ = built
    cells, plain = _mask_cells(con)
    region_of = {d: r for d, (_, r) in DEPARTEMENTS.items()}
    t = cells[plain & cells.niveau.isin(["region", "departement"]) & ~cells.champ.str.startswith("_")]
    t = t.assign(region=np.where(t.niveau == "region", t.code, t.code.map(region_of)))
    for sub in ("temps_partiel", "cdd", "age50"):
        hidden = t[f"s_{sub}"] != 0
        # a count hidden whenever its cell's headcount is (the rate is secret), primary ones stay primary
        assert (hidden | (t.s_montant == 0)).all() and ((t[f"s_{sub}"] == 2) == t[f"p_{sub}"]).all()
        by_geo = t.assign(h=hidden).groupby(["region", "champ", "sexe"]).h.sum()
        assert (by_geo != 1).all(), (sub, by_geo[by_geo == 1].head())
        by_sex = t.assign(h=hidden).groupby(["niveau", "code", "champ"]).h.sum()
        assert (by_sex != 1).all(), (sub, by_sex[by_sex == 1].head())
    # the closure hid counts of cells whose headcount is published (not only inherited secrets)
    extra = (cells.s_montant == 0) & (cells.pcs == "toutes")
    assert sum(((cells[f"s_{sub}"] == 1) & extra).sum() for sub in ("temps_partiel", "cdd", "age50")) > 0


def test_enterprise_counts_cannot_be_recomputed_along_champs_and_families(built):
    _, con, _ = built
    cells, _ = _mask_cells(con)
    t = cells[
        (cells.sexe == "tous") & (cells.pcs == "toutes") & ~cells.niveau.isin(["epci", "_epci_inconnu"])
    ]
    ent = t.set_index(["niveau", "code", "champ", "famille", "secteur", "tranche"]).s_entreprises != 0
    n_ent = t.set_index(["niveau", "code", "champ", "famille", "secteur", "tranche"]).n_ent
    assert (t.s_entreprises.to_numpy() != 0)[t.s_comptage.to_numpy() != 0].all()
    assert ((t.s_entreprises == 2) == t.p_entreprises).all()
    trees = [
        ("ensemble", ["public", "prive"]),
        ("prive", ["ess", "prive_hors_ess"]),
        ("prive_hors_ess", ["_sce", "_oth"]),
    ]
    trees.append(("ess_loi_2014", ["ess", "_sce"]))
    checked = 0
    for (niveau, code, secteur, tranche), _g in t[t.famille == "toutes"].groupby(
        ["niveau", "code", "secteur", "tranche"]
    ):
        for parent, parts in trees:
            keys = [(niveau, code, c, "toutes", secteur, tranche) for c in [parent, *parts]]
            if n_ent.get(keys[0], 0) != sum(n_ent.get(k, 0) for k in keys[1:]):
                continue  # an enterprise spans two champs: a bound, not an equation
            flags = [bool(ent.get(k, False)) for k in keys if k in ent.index]
            assert sum(flags) != 1, keys
            checked += sum(flags) > 0
    fam = t[(t.champ == "ess") & (t.secteur == "tous") & (t.tranche == "toutes")]
    by_fam = fam.assign(h=fam.s_entreprises != 0).groupby(["niveau", "code"]).h.sum()
    assert (by_fam != 1).all() and checked > 0


def test_contributor_counts_sql_audit_and_pandas_agree(cells):
    """FREQ on the contributors (issue #11): establishments with jobs at 31/12, with ETP, with gross pay, and
    enterprises, in ``ind.cellules`` (SQL), in the audit's own recomputation (pandas, another code path),
    and by hand for a few cells."""
    from observatory.audit.microdata import ETABS_COLUMNS, recompute_cells

    c, frames = cells
    p = frames["postes"]
    etabs = frames["etablissements_employeurs"]
    audit = recompute_cells(p, etabs[[col for col in ETABS_COLUMNS if col in etabs]])
    key = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
    both = c.merge(audit, on=key, suffixes=("_sql", "_audit"))
    assert len(both) > 0.9 * len(c)
    for q in ("freq_effectif", "freq_etp", "freq_masse", "n_etab"):
        assert (both[f"{q}_sql"].astype(int) == both[f"{q}_audit"].astype(int)).all(), q
    # the mean pay figures' contributors: pay in the pay field, hours in the hourly-pay field
    for sql, aud in (("freq_salaire", "freq_masse_salaire"), ("freq_horaire", "freq_nbheur")):
        assert (both[sql].astype(int) == both[aud].astype(int)).all(), sql
    assert (both.freq_salaire <= both.freq_masse_sql).all() and (both.freq_salaire < both.freq_masse_sql).any()
    counted = both.n_ent_sql.notna()
    assert counted.any() and (both.n_ent_sql[counted] == both.n_ent_audit[counted]).all()
    # enterprises up to 3 (SQL: two smallest ids and the largest per grain) = the audit's distinct count
    capped = np.minimum(both.freq_entreprises_audit.astype(int), 3)
    assert (both.freq_entreprises_sql.astype(int) == capped).all()
    by_sex = both[(both.sexe != "tous") & both.n_ent_sql.isna()]
    assert len(by_sex) and (by_sex.freq_entreprises_sql < 3).any() and (by_sex.freq_entreprises_sql == 3).any()
    assert (both.freq_effectif_sql < both.n_etab_sql).any()  # some establishments without jobs at 31/12
    # the quantities and the largest contributions (the dominance rule's), summed and maxed both ways
    for q in ("effectif", "etp", "masse", "max_effectif", "max_etp", "max_masse", "max_s_net", "max_poste_brut"):
        sql, aud = both[f"{q}_sql"].astype(float).to_numpy(), both[f"{q}_audit"].astype(float).to_numpy()
        assert np.allclose(sql, aud, rtol=1e-9, atol=1e-6), q
    assert (both.max_masse_sql.astype(float) < both.masse_sql.astype(float)).any()
    f = p[(p.sexe == "F") & (p.code_departement == "75")]
    by_etab = f.groupby("siret").agg(eff=("present_31_12", "sum"), pay=("s_brut", "sum"))
    cell = _pick(c, niveau="departement", code="75", champ="ensemble", sexe="F")
    assert cell.freq_effectif == (by_etab.eff > 0).sum()
    assert cell.freq_masse == (by_etab.pay > 0).sum()
    assert cell.freq_entreprises == min(3, f.siren.nunique())
