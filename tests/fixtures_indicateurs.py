"""A realistic fake indicator table (products.md §2) for developing and testing publications.

Three régions (Bretagne 53, Pays de la Loire 52, Corse 94) with their départements, plus France (here the
sum of those régions so that ranks and shares are consistent). Figures follow the national calibration
(ESS ≈ 10 % of all jobs, 14 % of private jobs, associations ≈ 78 % of ESS jobs, women ≈ 68 %...) with noise
from a fixed seed. A few cells are secret: in Corse, small sectors, a family, a size band and a pay cell
(primary), and cells hidden so that they cannot be recomputed (secondary); a derived figure is secret when
one of its inputs is.

Shares are written in percent (0–100) with ``unite='pourcent'``, as the publications assume.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

MILLESIME = 2023
PERIMETRE = "insee-2008-4f"

REGIONS = {"53": "Bretagne", "52": "Pays de la Loire", "94": "Corse"}
DEPARTEMENTS = {
    "22": ("Côtes-d'Armor", "53", 190_000),
    "29": ("Finistère", "53", 300_000),
    "35": ("Ille-et-Vilaine", "53", 420_000),
    "56": ("Morbihan", "53", 230_000),
    "44": ("Loire-Atlantique", "52", 560_000),
    "49": ("Maine-et-Loire", "52", 290_000),
    "53": ("Mayenne", "52", 110_000),
    "72": ("Sarthe", "52", 200_000),
    "85": ("Vendée", "52", 230_000),
    "2A": ("Corse-du-Sud", "94", 52_000),
    "2B": ("Haute-Corse", "94", 45_000),
}
FAMILLES = {"association": 0.78, "cooperative": 0.125, "mutuelle": 0.05, "fondation": 0.045}
# ESS jobs by sector (weights) and ESS share of the sector's jobs (%)
SECTEURS = {
    "AGR": (0.010, 6.0),
    "IND": (0.020, 1.2),
    "COM": (0.040, 3.0),
    "TRA": (0.005, 0.8),
    "HEB": (0.015, 4.0),
    "INF": (0.008, 2.5),
    "FIN": (0.110, 30.0),
    "IMM": (0.006, 5.0),
    "SOU": (0.050, 4.5),
    "ENS": (0.120, 19.0),
    "SAN": (0.060, 9.0),
    "HMS": (0.180, 55.0),
    "ASS": (0.250, 60.0),
    "ART": (0.025, 31.0),
    "SPO": (0.030, 58.0),
    "AUT": (0.065, 35.0),
    "NCL": (0.006, 10.0),
}
TRANCHES = {
    "0": (0.12, 0.0),
    "1-9": (0.63, 0.15),
    "10-49": (0.19, 0.33),
    "50-249": (0.05, 0.30),
    "250+": (0.01, 0.22),
}
PCS = {"cadres": 0.17, "prof_intermediaires": 0.30, "employes": 0.40, "ouvriers": 0.13}
# champ: (share of all jobs, women %, part-time %, cdd %, cadres %, 50+ %, mean net hourly wage)
CHAMPS = {
    "ess": (0.105, 68.0, 36.0, 17.0, 16.0, 30.0, 16.2),
    "prive_hors_ess": (0.645, 42.0, 17.0, 11.0, 20.0, 26.0, 18.9),
    "public": (0.250, 63.0, 20.0, 19.0, 22.0, 36.0, 18.4),
}
WAGE_PCS = {"cadres": 2.0, "prof_intermediaires": 1.12, "employes": 0.78, "ouvriers": 0.8}

# (code, champ, famille, secteur, tranche, sexe, pcs, indicateur) → statut for the secret cells
SECRETS = {
    ("2A", "ess", "toutes", "FIN", "toutes", "tous", "toutes"): "secret_primaire",
    ("2A", "ess", "toutes", "IMM", "toutes", "tous", "toutes"): "secret_secondaire",
    ("2B", "ess", "fondation", "tous", "toutes", "tous", "toutes"): "secret_primaire",
    ("2B", "ess", "mutuelle", "tous", "toutes", "tous", "toutes"): "secret_secondaire",
    ("2B", "ess", "toutes", "tous", "250+", "tous", "toutes"): "secret_primaire",
    ("2B", "ess", "toutes", "tous", "50-249", "tous", "toutes"): "secret_secondaire",
    ("2B", "ess", "toutes", "tous", "toutes", "F", "cadres"): "secret_primaire",
    ("94", "ess", "toutes", "INF", "toutes", "tous", "toutes"): "secret_primaire",
    ("94", "ess", "toutes", "TRA", "toutes", "tous", "toutes"): "secret_secondaire",
}


def _territory_rows(rng, niveau, code, libelle, emploi_total) -> list[dict]:
    """All cells of one territory, from its total salaried employment."""
    rows: list[dict] = []

    def add(
        champ,
        indicateur,
        valeur,
        unite,
        famille="toutes",
        secteur="tous",
        tranche="toutes",
        sexe="tous",
        pcs="toutes",
    ):
        rows.append(
            {
                "niveau": niveau,
                "code": code,
                "libelle": libelle,
                "champ": champ,
                "famille": famille,
                "secteur": secteur,
                "tranche": tranche,
                "sexe": sexe,
                "pcs": pcs,
                "indicateur": indicateur,
                "valeur": float(valeur),
                "unite": unite,
            }
        )

    jitter = lambda s=0.05: float(np.exp(rng.normal(0, s)))
    eff = {}
    for champ, (share, *_rest) in CHAMPS.items():
        eff[champ] = round(emploi_total * share * jitter(0.12))
    eff["prive"] = eff["ess"] + eff["prive_hors_ess"]
    eff["ensemble"] = eff["prive"] + eff["public"]
    for champ in ["ess", "prive_hors_ess", "public", "prive", "ensemble"]:
        e = eff[champ]
        size = {"ess": 11.5, "prive_hors_ess": 9.0, "public": 25.0}.get(champ)
        if size is None:
            parts = ["ess", "prive_hors_ess"] + (["public"] if champ == "ensemble" else [])
            etab = sum(
                r["valeur"]
                for r in rows
                if r["champ"] in parts
                and r["famille"] == "toutes"
                and r["secteur"] == "tous"
                and r["tranche"] == "toutes"
                and r["sexe"] == "tous"
                and r["indicateur"] == "etablissements_employeurs"
            )
            base = CHAMPS["prive_hors_ess"]
        else:
            etab = round(e / size * jitter())
            base = CHAMPS[champ]
        _, femmes, tp, cdd, cadres, a50, wage = base
        etp = round(e * (0.86 if champ != "ess" else 0.80) * jitter(0.02))
        brut_etp = wage * 1820 * 1.29 * jitter(0.03)
        add(champ, "etablissements_employeurs", etab, "nombre")
        add(champ, "entreprises_employeuses", round(etab * 0.72), "nombre")
        add(champ, "effectif_31_12", e, "nombre")
        add(champ, "etp", etp, "nombre")
        add(champ, "masse_salariale_brute", round(etp * brut_etp), "euros")
        add(champ, "salaire_brut_annuel_moyen_etp", round(brut_etp), "euros")
        if champ in ("ess", "prive_hors_ess"):
            add(champ, "part_emploi_prive", 100 * e / eff["prive"], "pourcent")
        if champ in ("ess", "prive_hors_ess", "public", "prive"):
            add(champ, "part_emploi_total", 100 * e / eff["ensemble"], "pourcent")
        f = femmes * jitter(0.03)
        add(champ, "part_femmes", f, "pourcent")
        add(champ, "taux_temps_partiel", tp * jitter(0.05), "pourcent")
        add(champ, "part_cdd", cdd * jitter(0.05), "pourcent")
        add(champ, "part_cadres", cadres * jitter(0.05), "pourcent")
        add(champ, "part_50_ans_et_plus", a50 * jitter(0.04), "pourcent")
        add(champ, "part_femmes_cadres", f * 0.75, "pourcent")
        w = wage * jitter(0.03)
        add(champ, "salaire_net_horaire_moyen", w, "euros")
        add(champ, "effectif_31_12", round(e * f / 100), "nombre", sexe="F")
        add(champ, "effectif_31_12", e - round(e * f / 100), "nombre", sexe="H")
        add(champ, "taux_temps_partiel", tp * 1.35 * jitter(0.03), "pourcent", sexe="F")
        add(champ, "taux_temps_partiel", tp * 0.45 * jitter(0.03), "pourcent", sexe="H")
        add(champ, "part_cadres", cadres * 0.75 * jitter(0.03), "pourcent", sexe="F")
        add(champ, "part_cadres", cadres * 1.4 * jitter(0.03), "pourcent", sexe="H")
        gap_all = 0.16 if champ == "ess" else 0.18
        wh = w * (1 + gap_all * f / 100)
        wf = wh * (1 - gap_all)
        add(champ, "salaire_net_horaire_moyen", wf, "euros", sexe="F")
        add(champ, "salaire_net_horaire_moyen", wh, "euros", sexe="H")
        add(champ, "ecart_salarial_fh", 100 * (1 - wf / wh), "pourcent")
        for pcs, p in PCS.items():
            add(champ, "effectif_31_12", round(e * p * jitter()), "nombre", pcs=pcs)
            wp = w * WAGE_PCS[pcs] * jitter(0.02)
            add(champ, "salaire_net_horaire_moyen", wp, "euros", pcs=pcs)
            g = {"cadres": 0.17, "prof_intermediaires": 0.09, "employes": 0.05, "ouvriers": 0.12}[pcs]
            g *= jitter(0.1)
            whp, wfp = wp * (1 + g / 2), wp * (1 - g / 2)
            add(champ, "salaire_net_horaire_moyen", wfp, "euros", sexe="F", pcs=pcs)
            add(champ, "salaire_net_horaire_moyen", whp, "euros", sexe="H", pcs=pcs)
            add(champ, "ecart_salarial_fh", 100 * (1 - wfp / whp), "pourcent", pcs=pcs)
    # ESS detail: families, sectors, size bands
    e = eff["ess"]
    etab_ess = next(
        r["valeur"]
        for r in rows
        if r["champ"] == "ess" and r["indicateur"] == "etablissements_employeurs" and r["famille"] == "toutes"
    )
    femmes_fam = {"association": 71, "cooperative": 47, "mutuelle": 73, "fondation": 75}
    for fam, p in FAMILLES.items():
        ef = round(e * p * jitter(0.08))
        add("ess", "effectif_31_12", ef, "nombre", famille=fam)
        add("ess", "etablissements_employeurs", round(etab_ess * p * jitter(0.1)), "nombre", famille=fam)
        add("ess", "etp", round(ef * 0.8), "nombre", famille=fam)
        add("ess", "masse_salariale_brute", round(ef * 0.8 * 36_000 * jitter(0.05)), "euros", famille=fam)
        add("ess", "part_femmes", femmes_fam[fam] * jitter(0.03), "pourcent", famille=fam)
    for sec, (p, share) in SECTEURS.items():
        es = round(e * p * jitter(0.15))
        add("ess", "effectif_31_12", es, "nombre", secteur=sec)
        add(
            "ess",
            "etablissements_employeurs",
            max(1, round(etab_ess * p * jitter(0.15))),
            "nombre",
            secteur=sec,
        )
        add("ess", "part_emploi_secteur", share * jitter(0.1), "pourcent", secteur=sec)
        add("ess", "part_femmes", min(95.0, 68 * jitter(0.15)), "pourcent", secteur=sec)
    for tr, (pe, pj) in TRANCHES.items():
        add("ess", "etablissements_employeurs", round(etab_ess * pe * jitter(0.05)), "nombre", tranche=tr)
        add("ess", "effectif_31_12", round(e * pj * jitter(0.05)), "nombre", tranche=tr)
    return rows


def build_table(
    millesime: int = MILLESIME, perimetre_version: str = PERIMETRE, seed: int = 7
) -> pd.DataFrame:
    """The fake indicator table: France, the three régions and their départements."""
    rng = np.random.default_rng(seed)
    rows = []
    for code, (lib, _reg, emp) in DEPARTEMENTS.items():
        rows += _territory_rows(rng, "departement", code, lib, emp)
    for code, lib in REGIONS.items():
        emp = sum(v[2] for v in DEPARTEMENTS.values() if v[1] == code)
        rows += _territory_rows(rng, "region", code, lib, emp)
    rows += _territory_rows(rng, "france", "FR", "France", sum(v[2] for v in DEPARTEMENTS.values()))
    df = pd.DataFrame(rows)
    # départements: share of the region's ESS jobs and ranks (by ESS headcount)
    key = (
        (df.indicateur == "effectif_31_12")
        & (df.champ == "ess")
        & (df.famille == "toutes")
        & (df.secteur == "tous")
        & (df.tranche == "toutes")
        & (df.sexe == "tous")
        & (df.pcs == "toutes")
    )
    dep = df[key & (df.niveau == "departement")][["code", "libelle", "valeur"]].copy()
    dep["region"] = dep.code.map(lambda c: DEPARTEMENTS[c][1])
    reg_tot = df[key & (df.niveau == "region")].set_index("code").valeur
    dep["part_region"] = 100 * dep.valeur / dep.region.map(reg_tot)
    dep["rang_region"] = dep.groupby("region").valeur.rank(ascending=False, method="min")
    dep["rang_france"] = dep.valeur.rank(ascending=False, method="min")
    extra = []
    for r in dep.itertuples():
        for ind, unite in [("part_region", "pourcent"), ("rang_region", "nombre"), ("rang_france", "nombre")]:
            extra.append(
                {
                    "niveau": "departement",
                    "code": r.code,
                    "libelle": r.libelle,
                    "champ": "ess",
                    "famille": "toutes",
                    "secteur": "tous",
                    "tranche": "toutes",
                    "sexe": "tous",
                    "pcs": "toutes",
                    "indicateur": ind,
                    "valeur": float(getattr(r, ind)),
                    "unite": unite,
                }
            )
    df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    df["statut"] = "publie"
    keys = ["code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
    k = list(zip(*(df[c] for c in keys)))
    st = pd.Series([SECRETS.get(t, "publie") for t in k], index=df.index)
    # the pay gap of a secret pay cell is secret too (derived figure)
    for t, s in SECRETS.items():
        if t[5] in ("F", "H"):
            m = (
                (df.code == t[0])
                & (df.champ == t[1])
                & (df.pcs == t[6])
                & (df.indicateur == "ecart_salarial_fh")
            )
            st[m] = s
    secret = (st != "publie") & ~df.indicateur.isin(["rang_region", "rang_france", "part_region"])
    # a secret pay cell hides only the wage indicators of that cell
    pay_only = df.sexe.isin(["F", "H"]) & (df.pcs != "toutes")
    secret &= ~pay_only | (df.indicateur == "salaire_net_horaire_moyen")
    df["statut"] = st.where(secret, "publie")
    df.loc[secret, "valeur"] = np.nan
    df.insert(0, "millesime", millesime)
    df["perimetre_version"] = perimetre_version
    cols = [
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
    return df[cols].sort_values(cols[:11], ignore_index=True)


def build_manifest(millesime: int = MILLESIME, perimetre_version: str = PERIMETRE) -> dict:
    """A run manifest as the pipeline writes it (fields read by the publications)."""
    return {
        "millesime": millesime,
        "perimetre_version": perimetre_version,
        "code_version": "0.1.0+test",
        "created_at": "2025-03-14T09:30:00+01:00",
        "inputs": [{"file": "postes.parquet", "size": 123456, "sha256": "0" * 64}],
        "rows": {"in": 1000, "out": 990, "quarantined": 10},
    }


def write_output(output_dir: str | Path, millesime: int = MILLESIME) -> Path:
    """Write ``<output_dir>/<millesime>/tables/indicateurs.parquet`` and ``manifest.json``; return the vintage dir."""
    vintage = Path(output_dir) / str(millesime)
    (vintage / "tables").mkdir(parents=True, exist_ok=True)
    build_table(millesime).to_parquet(vintage / "tables" / "indicateurs.parquet", index=False)
    (vintage / "manifest.json").write_text(json.dumps(build_manifest(millesime), indent=2), encoding="utf-8")
    return vintage
