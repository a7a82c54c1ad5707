"""A realistic fake indicator table and vintage folder, for the maps and portal tests.

The real table (``output/<millesime>/tables/indicateurs.parquet``) is built by the pipeline; these helpers
make one with the same columns (``shared/domain/products.md`` §2) for all 101 départements, 18 régions and
France, with a few secret cells and Mayotte missing where the sources exclude it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from observatory.reference import cog

MILLESIME = 2023
PERIMETRE = "insee-2008-4f"
COLUMNS = [
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
#: Secret cells of the fake table: (indicateur, département) → statut.
SECRET = {
    ("part_emploi_total", "48"): "secret_primaire",
    ("part_emploi_total", "2A"): "secret_secondaire",
    ("effectif_31_12", "48"): "secret_primaire",
    ("effectif_31_12", "2A"): "secret_secondaire",
    ("part_femmes", "23"): "secret_primaire",
    ("ecart_salarial_fh", "23"): "secret_primaire",
    ("ecart_salarial_fh", "05"): "secret_secondaire",
    ("ecart_salarial_fh", "973"): "secret_primaire",
}
#: Indicators the sources do not give for Mayotte (BTS field: France hors Mayotte).
HORS_MAYOTTE = {"ecart_salarial_fh", "part_femmes"}


def _population() -> pd.Series:
    com = cog.communes()
    com = com[com["type"] == "COM"]
    return com.groupby("code_departement")["population"].sum()


def fake_indicator_table(millesime: int = MILLESIME, seed: int = 0) -> pd.DataFrame:
    """A fake published indicator table: France, 18 régions, 101 départements, a few indicators and champs.

    ESS rows are ``famille='toutes'``, ``secteur='tous'``... plus a few distractor rows (a family, a sex, a
    PCS group) that a map must not pick up. Shares are in percent (0–100, ``unite='pourcent'``).
    """
    rng = np.random.default_rng(seed)
    deps = cog.departements()
    regs = cog.regions()
    pop = _population().reindex(deps["code_departement"]).fillna(0).to_numpy()
    pop = np.where(pop > 0, pop, 300_000)  # Mayotte has no population in the package
    n = len(deps)
    emploi_total = np.round(pop * rng.uniform(0.33, 0.45, n))
    part_ess = np.round(rng.uniform(7.0, 18.0, n), 1)
    eff_ess = np.round(emploi_total * part_ess / 100)
    part_f = np.round(rng.uniform(62.0, 74.0, n), 1)
    ecart = np.round(rng.uniform(6.0, 19.0, n), 1)
    dep = pd.DataFrame(
        {
            "code": deps["code_departement"],
            "libelle": deps["libelle"],
            "code_region": deps["code_region"],
            "emploi_total": emploi_total,
            "effectif_31_12": eff_ess,
            "part_emploi_total": part_ess,
            "part_femmes": part_f,
            "ecart_salarial_fh": ecart,
        }
    )
    agg = dep.groupby("code_region")[["emploi_total", "effectif_31_12"]].sum()
    reg = regs.rename(columns={"code_region": "code"}).join(agg, on="code")
    reg["part_emploi_total"] = np.round(100 * reg["effectif_31_12"] / reg["emploi_total"], 1)
    reg["part_femmes"] = np.round(rng.uniform(64.0, 72.0, len(reg)), 1)
    reg["ecart_salarial_fh"] = np.round(rng.uniform(8.0, 16.0, len(reg)), 1)
    fr = pd.DataFrame(
        {
            "code": ["FR"],
            "libelle": ["France"],
            "emploi_total": [dep["emploi_total"].sum()],
            "effectif_31_12": [dep["effectif_31_12"].sum()],
            "part_femmes": [68.4],
            "ecart_salarial_fh": [12.7],
        }
    )
    fr["part_emploi_total"] = np.round(100 * fr["effectif_31_12"] / fr["emploi_total"], 1)

    units = {
        "effectif_31_12": "nombre",
        "part_emploi_total": "pourcent",
        "part_femmes": "pourcent",
        "ecart_salarial_fh": "pourcent",
    }
    rows = []
    for niveau, frame in (("france", fr), ("region", reg), ("departement", dep)):
        for rec in frame.to_dict("records"):
            for ind, unite in units.items():
                mayotte = rec["code"] == "976" or (niveau == "region" and rec["code"] == "06")
                if mayotte and ind in HORS_MAYOTTE:
                    continue
                statut = SECRET.get((ind, rec["code"]), "publie") if niveau == "departement" else "publie"
                valeur = None if statut != "publie" else float(rec[ind])
                rows.append(_row(millesime, niveau, rec, "ess", ind, valeur, unite, statut))
            rows.append(
                _row(
                    millesime,
                    niveau,
                    rec,
                    "ensemble",
                    "effectif_31_12",
                    rec["emploi_total"],
                    "nombre",
                    "publie",
                )
            )
            # Distractors a map must filter out.
            rows.append(
                _row(
                    millesime,
                    niveau,
                    rec,
                    "ess",
                    "part_emploi_total",
                    99.0,
                    "pourcent",
                    "publie",
                    famille="association",
                )
            )
            rows.append(
                _row(millesime, niveau, rec, "ess", "effectif_31_12", 1.0, "nombre", "publie", sexe="F")
            )
            rows.append(
                _row(
                    millesime,
                    niveau,
                    rec,
                    "ess",
                    "ecart_salarial_fh",
                    50.0,
                    "pourcent",
                    "publie",
                    pcs="cadres",
                )
            )
            rows.append(
                _row(
                    millesime, niveau, rec, "prive_hors_ess", "part_emploi_total", 60.0, "pourcent", "publie"
                )
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["valeur"] = table["valeur"].astype("float64")
    return table.sort_values(COLUMNS[:11], ignore_index=True)


def _row(
    millesime, niveau, rec, champ, ind, valeur, unite, statut, famille="toutes", sexe="tous", pcs="toutes"
):
    return {
        "millesime": millesime,
        "niveau": niveau,
        "code": rec["code"],
        "libelle": rec["libelle"],
        "champ": champ,
        "famille": famille,
        "secteur": "tous",
        "tranche": "toutes",
        "sexe": sexe,
        "pcs": pcs,
        "indicateur": ind,
        "valeur": valeur,
        "unite": unite,
        "statut": statut,
        "perimetre_version": PERIMETRE,
    }


def secret_departements(indicateur: str) -> set[str]:
    """The départements whose ``indicateur`` is secret in the fake table."""
    return {code for (ind, code), _ in SECRET.items() if ind == indicateur}


def write_fake_vintage(
    output_dir: Path, millesime: int = MILLESIME, table: pd.DataFrame | None = None
) -> Path:
    """Write a fake ``output/<millesime>/`` tree: indicator table, manifest, and a few product files.

    Products are placeholders with distinct bytes (the portal only links files): panoramas for régions 84 and
    53 and two of their départements, the égalité report, a barometer semester, two maps. Other territories
    deliberately have no files, so the portal must show them as missing. Returns the vintage folder.
    """
    table = fake_indicator_table(millesime) if table is None else table
    root = Path(output_dir) / str(millesime)
    (root / "tables").mkdir(parents=True, exist_ok=True)
    table.to_parquet(root / "tables" / "indicateurs.parquet", index=False)
    table.to_csv(root / "tables" / "indicateurs.csv", index=False)
    manifest = {
        "millesime": millesime,
        "perimetre_version": PERIMETRE,
        "code_version": "0.1.0+test",
        "created_at": "2024-11-05T14:32:10+01:00",
        "inputs": [],
        "rows": {"in": 1000, "out": len(table), "quarantined": 3},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    files = [
        "panoramas/region-84.pdf",
        "panoramas/region-84.xlsx",
        "panoramas/region-84.csv",
        "panoramas/region-53.pdf",
        "panoramas/departement-69.pdf",
        "panoramas/departement-69.xlsx",
        "panoramas/departement-2A.pdf",
        "panoramas/departement-29.xlsx",
        "donnees/region-84-familles.csv",
        "donnees/departement-69-secteurs.csv",
        "donnees/france-chiffres-cles.csv",
        "egalite/france.pdf",
        "barometre/2024-S1/france.pdf",
        "barometre/2024-S1/region-84.pdf",
        "barometre/2024-S1/region-84.xlsx",
        "cartes/part-ess-emploi-departements.png",
        "cartes/part-ess-emploi-departements.svg",
        "cartes/indicateurs.gpkg",
        "qualite/rapport.html",
    ]
    for i, rel in enumerate(files):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"fake {rel} #{i}\n".encode() + bytes(range(256)))
    return root
