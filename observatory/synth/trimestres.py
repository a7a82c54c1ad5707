"""Urssaf-style quarterly headcounts: ``siret``, ``trimestre`` (``AAAA-Tn``), ``effectif_fin_trimestre``,
``masse_salariale``.

Field: régime général, i.e. private employers (ESS and privé hors ESS) outside agriculture (NAF 01–03, MSA)
and outside Mayotte; public employers are out, as in Urssaf's published series. Twelve quarters end at Q4 of
the millésime, whose headcount is the establishment's 31/12 headcount of the *postes* file. Earlier quarters
follow the field's trend (ESS +1 %/yr, privé hors ESS +1,5 %/yr), the sector's seasonality
(``saisonnalite.csv``) and a small establishment-level noise. Quarterly payroll = the year's gross payroll of
the establishment's non-annex jobs × its headcount ratio to 31/12 / 4, deflated by 2 %/yr before the
millésime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from observatory.synth import params
from observatory.synth.sirene import OPTIONS_CSV

NB_TRIMESTRES = 12
CROISSANCE = {"ess": 0.010, "prive": 0.015}
HAUSSE_SALAIRES = 0.02


def ecrire(
    path_base: Path,
    millesime: int,
    siret: np.ndarray,
    champ: np.ndarray,
    secteur: np.ndarray,
    dept: np.ndarray,
    effectif: np.ndarray,
    masse_annuelle: np.ndarray,
    seed: int,
    parquet: bool,
) -> tuple[Path, int]:
    """Write the quarterly file for the establishments in the field; return its path and row count."""
    rng = np.random.default_rng([seed, 11])
    garde = (effectif > 0) & (champ != "public") & (secteur != "AGR") & (dept != "976")
    idx = np.flatnonzero(garde)
    h = effectif[idx].astype(float)
    ess = np.isin(champ[idx], params.FAMILLES_ESS)
    g = np.where(ess, CROISSANCE["ess"], CROISSANCE["prive"])
    sais = params.saisonnalite().loc[secteur[idx]].to_numpy()  # (n, 4)
    n = len(idx)
    eff = np.empty((n, NB_TRIMESTRES), dtype=np.int64)
    masse = np.empty((n, NB_TRIMESTRES))
    labels = []
    for t in range(NB_TRIMESTRES):
        k = NB_TRIMESTRES - 1 - t  # quarters before Q4 of the millésime
        q = 3 - k % 4
        annee = millesime - (k // 4)
        labels.append(f"{annee}-T{q + 1}")
        if k == 0:
            e_t = effectif[idx].astype(np.int64)
        else:
            attendu = h * (1 + g) ** (-k / 4) * sais[:, q] / sais[:, 3]
            attendu = attendu * np.exp(rng.normal(0, 0.05, n))
            base = np.floor(attendu)
            e_t = (base + (rng.random(n) < attendu - base)).astype(np.int64)
        eff[:, t] = e_t
        masse[:, t] = np.round(
            masse_annuelle[idx] / 4 * e_t / h * (1 + HAUSSE_SALAIRES) ** (-(k // 4)) * rng.normal(1, 0.02, n), 2
        )
    table = pa.table(
        {
            "siret": pa.array(np.repeat(siret[idx], NB_TRIMESTRES), type=pa.string()),
            "trimestre": pa.array(np.tile(np.asarray(labels, dtype=object), n), type=pa.string()),
            "effectif_fin_trimestre": pa.array(eff.ravel()),
            "masse_salariale": pa.array(masse.ravel()),
        }
    )
    path = path_base.with_suffix(".parquet" if parquet else ".csv")
    if parquet:
        pq.write_table(table, path, compression="zstd")
    else:
        with open(path, "wb") as f:
            f.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, f, write_options=OPTIONS_CSV)
    return path, table.num_rows
