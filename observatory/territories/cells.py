"""The cells of a territory on demand, computed from the warehouse's employer establishments.

A territory publishes the cells an EPCI publishes: every champ, and the ESS families, with no other
breakdown (the protection of other crossings would need the sector, size and sex tables of every level).
Each champ and family is a union of *leaves* (``sql/territories/etablissements.sql``); one internal cell is
never published but protected, as in the indicator table: ``_oth`` (the other private employers = privé hors
ESS − the sociétés commerciales de l'ESS).

Two natures, as in :mod:`observatory.secrecy`: ``comptage`` (the establishment count, frequency rule) and
``montant`` (jobs at 31/12, ETP, payroll: the employment-and-pay rules; one statut for the three).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.warehouse import sql_text

FAMILLES_ESS = ["association", "cooperative", "mutuelle", "fondation", "autre_obnl"]
LEAVES = [*FAMILLES_ESS, "_sce", "_oth", "public"]
COMBOS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ensemble", "toutes"): tuple(LEAVES),
    ("public", "toutes"): ("public",),
    ("prive", "toutes"): tuple(x for x in LEAVES if x != "public"),
    ("ess", "toutes"): tuple(FAMILLES_ESS),
    ("prive_hors_ess", "toutes"): ("_sce", "_oth"),
    ("ess_loi_2014", "toutes"): (*FAMILLES_ESS, "_sce"),
    **{("ess", f): (f,) for f in FAMILLES_ESS},
    **{("ess_loi_2014", f): (f,) for f in FAMILLES_ESS},
    ("ess_loi_2014", "societe_commerciale_ess"): ("_sce",),
    ("_oth", "toutes"): ("_oth",),
}
"""Every cell of a territory (champ, famille) and the leaves it adds up (the crossings an EPCI publishes)."""
INTERNAL = {("_oth", "toutes")}
"""Cells never published but protected (the other private employers: privé hors ESS − sociétés commerciales)."""
SCE = ("ess_loi_2014", "societe_commerciale_ess")
EQUATIONS: list[tuple[tuple[str, str], list[tuple[str, str]]]] = [
    (("ensemble", "toutes"), [("public", "toutes"), ("prive", "toutes")]),
    (("prive", "toutes"), [("ess", "toutes"), ("prive_hors_ess", "toutes")]),
    (("prive_hors_ess", "toutes"), [SCE, ("_oth", "toutes")]),
    (("ess_loi_2014", "toutes"), [("ess", "toutes"), SCE]),
    (("ess", "toutes"), [("ess", f) for f in FAMILLES_ESS]),
    (("ess_loi_2014", "toutes"), [*(("ess_loi_2014", f) for f in FAMILLES_ESS), SCE]),
    *((("ess_loi_2014", f), [("ess", f)]) for f in FAMILLES_ESS),
]
"""total = Σ parts, inside one territory (a one-part equation: two names of the same cell)."""
NATURES = {"comptage": "n_etab", "montant": "effectif"}
"""The quantity each nature's relations are checked on."""
QUANTITIES = ["effectif", "etp", "masse", "masse_salaire", "etp_salaire", "s_net", "nbheur", "n_salaries"]
CONTRIBUTORS = ("effectif", "etp", "masse")
"""Quantities whose contributing establishments (``freq_<q>``: a positive value) take the frequency rule."""
PAY_FIELDS = ("masse_salaire", "nbheur")
"""The mean pay figures' fields: their contributors take the frequency rule (:func:`pay_rate_secret`)."""
MIN_UNITS, MIN_SALARIES = 3, 5


def establishments(con) -> pd.DataFrame:
    """Every employer establishment with its commune, leaf and quantities (read once per request)."""
    return con.execute(sql_text("territories/etablissements.sql")).df()


def aggregate(etabs: pd.DataFrame) -> pd.DataFrame:
    """The cells (one row per (champ, famille) of :data:`COMBOS`) of a set of establishments.

    Columns: ``n_etab``, ``n_ent`` (distinct SIREN), the sums of :data:`QUANTITIES`, ``max_<q>`` (largest
    establishment), ``freq_<q>`` (establishments contributing, for :data:`CONTRIBUTORS` and
    :data:`PAY_FIELDS`), ``max_poste_brut`` / ``max_poste_net`` (largest single job).
    """
    rows = []
    for (champ, famille), leaves in COMBOS.items():
        sub = etabs[etabs["feuille"].isin(leaves)]
        row = {"champ": champ, "famille": famille, "n_etab": len(sub), "n_ent": sub["siren"].nunique()}
        for q in QUANTITIES:
            row[q] = float(sub[q].sum())
            row[f"max_{q}"] = float(sub[q].max()) if len(sub) else 0.0
        for q in (*CONTRIBUTORS, *PAY_FIELDS):
            row[f"freq_{q}"] = int((sub[q] > 0).sum())
        row["max_poste_brut"] = float(sub["max_poste_brut"].max()) if len(sub) else 0.0
        row["max_poste_net"] = float(sub["max_poste_net"].max()) if len(sub) else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def primary(cells: pd.DataFrame) -> pd.DataFrame:
    """Primary secrecy per cell and nature (``p_comptage``, ``p_montant``), INSEE rules (secrecy.md).

    Counts: 1 or 2 establishments. Magnitudes: fewer than 3 establishments or 3 enterprises, 1 or 2
    establishments contributing to jobs at 31/12, ETP or payroll, fewer than 5 jobs, one job above 80 % of
    the gross or net pay, one establishment above 85 % of jobs, ETP, payroll, hours or net pay. An empty
    cell (no establishment) is not secret. The mean pay's own rule: :func:`pay_rate_secret`.
    """
    n = cells["n_etab"].to_numpy(float)
    some = n > 0
    p_count = some & (n < MIN_UNITS)
    p_mag = p_count | (some & (cells["n_ent"].to_numpy(float) < MIN_UNITS))
    p_mag |= some & (cells["n_salaries"].to_numpy(float) < MIN_SALARIES)
    for q in CONTRIBUTORS:
        p_mag |= _one_or_two(cells[f"freq_{q}"])
    for top, total in (("max_poste_brut", "masse"), ("max_poste_net", "s_net")):
        v = cells[total].to_numpy(float)
        p_mag |= (v > 0) & (cells[top].to_numpy(float) * 5 > v * 4)
    for q in ("effectif", "etp", "masse", "nbheur", "s_net"):
        v = cells[q].to_numpy(float)
        p_mag |= (v > 0) & (cells[f"max_{q}"].to_numpy(float) * 20 > v * 17)
    return cells[["champ", "famille"]].assign(p_comptage=p_count, p_montant=np.asarray(p_mag, bool))


def pay_rate_secret(cells: pd.DataFrame) -> np.ndarray:
    """The mean pay's frequency rule: 1 or 2 establishments with pay in the pay field or with hours in the
    hourly-pay field (as ``observatory.secrecy.rules.pay_rate_secret`` for the indicator table)."""
    out = np.zeros(len(cells), bool)
    for q in PAY_FIELDS:
        out |= _one_or_two(cells[f"freq_{q}"])
    return out


def _one_or_two(units: pd.Series) -> np.ndarray:
    """The frequency rule on contributing units: 1 or 2 (0 is an empty field, not secret)."""
    f = units.to_numpy(float)
    return (f > 0) & (f < MIN_UNITS)
