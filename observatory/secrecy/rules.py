"""The primary rules of the protection and the vocabulary of its cells (keys, statuts, champs)."""

from __future__ import annotations

import pandas as pd

KEY = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
DEFAULTS = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes"}
NATURES = ["comptage", "entreprises", "montant", "temps_partiel", "cdd", "age50"]
PUBLIE, SECONDAIRE, PRIMAIRE = 0, 1, 2
STATUTS = {PUBLIE: "publie", SECONDAIRE: "secret_secondaire", PRIMAIRE: "secret_primaire"}
MIN_UNITS = 3
#: Jobs at 31/12 by age band (the age pyramid); the bands add up to ``effectif`` (jobs at 31/12). The last,
#: jobs whose age was impossible in the extract, is never published but follows by subtraction: it counts as
#: known to an attacker (like a structural zero: never hidden, never a complement), so that the published
#: bands are protected as if it were published; it is a count of unreadable records, not protected itself.
AGE_BANDS = ["age_moins_25", "age_25_34", "age_35_44", "age_45_54", "age_55_plus", "age_inconnu"]
AGE_BAND_UNPUBLISHED = "age_inconnu"
MIN_SALARIES = 5
#: Quantities whose contributing establishments (``freq_<q>`` of ind.cellules) take the frequency rule.
CONTRIBUTORS = ("effectif", "etp", "masse")


# --------------------------------------------------------------------------------------------- primary


def frequency_secret(freq) -> pd.Series:
    """Frequency rule: 1 or 2 contributing units is secret; 0 (an empty cell) is not."""
    freq = pd.Series(freq, dtype="float64")
    return (freq >= 1) & (freq < MIN_UNITS)


def dominance_secret(max_contribution, value) -> pd.Series:
    """Dominance rule: the largest contributor strictly above 85 % of the cell (``20·MAX > 17·VALUE``)."""
    m = pd.Series(max_contribution, dtype="float64").fillna(0)
    v = pd.Series(value, dtype="float64").fillna(0)
    return (v > 0) & (m * 20 > v * 17)


def employee_share_secret(max_job_pay, payroll) -> pd.Series:
    """BTS rule: one job strictly above 80 % of the cell's payroll (``5·MAX > 4·PAYROLL``)."""
    m = pd.Series(max_job_pay, dtype="float64").fillna(0)
    v = pd.Series(payroll, dtype="float64").fillna(0)
    return (v > 0) & (m * 5 > v * 4)


def montant_secret(c: pd.DataFrame) -> pd.Series:
    """BTS employment-and-pay rule set for the magnitudes of a cell (see the module docstring)."""
    n_etab = c["n_etab"].astype("float64")
    n_sal = c["n_salaries"].astype("float64").fillna(0)
    secret = (n_etab > 0) & (n_etab < MIN_UNITS)
    secret |= (n_etab > 0) & (n_sal < MIN_SALARIES)
    # the frequency rule on the establishments that contribute to each quantity (jobs at 31/12, ETP, pay),
    # on the enterprise count where the cell has one (NULL in the sexe / pcs crossings; by size band, in the
    # band of each enterprise's largest establishment), and on the enterprises with an establishment in the
    # cell (freq_entreprises, every crossing)
    for q in CONTRIBUTORS:
        secret |= frequency_secret(c[f"freq_{q}"].fillna(0)).to_numpy()
    secret |= frequency_secret(c["n_ent"].astype("float64").fillna(0)).to_numpy()
    secret |= frequency_secret(c["freq_entreprises"].astype("float64").fillna(0)).to_numpy()
    secret |= employee_share_secret(c["max_poste_brut"], c["masse"])
    secret |= employee_share_secret(c["max_poste_net"], c["s_net"])
    for q in ("effectif", "etp", "masse", "nbheur", "s_net"):
        secret |= dominance_secret(c[f"max_{q}"], c[q])
    return secret.fillna(False).astype(bool)


def pay_rate_secret(c: pd.DataFrame) -> pd.Series:
    """The frequency rule on the contributors to the mean pay figures: 1 or 2 establishments with pay in the
    pay field (``freq_salaire``: mean gross pay per ETP) or with hours in the hourly-pay field
    (``freq_horaire``: mean net hourly wage and the women / men gap). A cell can pass the payroll's rule
    (its apprentices and annex jobs have pay) and fail this one."""
    return frequency_secret(c["freq_salaire"].fillna(0)) | frequency_secret(c["freq_horaire"].fillna(0))


def primary(cells: pd.DataFrame) -> pd.DataFrame:
    """Primary secrecy flags per cell and nature (``p_<nature>`` booleans), from the cell columns."""
    out = cells[KEY].copy()
    out["p_comptage"] = frequency_secret(cells["n_etab"]).to_numpy()
    out["p_entreprises"] = frequency_secret(cells["n_ent"]).to_numpy()
    out["p_montant"] = montant_secret(cells).to_numpy()
    out["p_salaire"] = pay_rate_secret(cells).to_numpy()
    for sub in ("temps_partiel", "cdd", "age50", *AGE_BANDS):
        out[f"p_{sub}"] = (
            frequency_secret(cells[f"freq_{sub}"]) | dominance_secret(cells[f"max_{sub}"], cells[sub])
        ).to_numpy()
    return out


CHAMPS_PUBLIES = ["ensemble", "public", "prive", "ess", "prive_hors_ess", "ess_loi_2014"]
_MEMBERS = {
    "ensemble": lambda c: pd.Series(True, index=c.index),
    "public": lambda c: c.public,
    "prive": lambda c: ~c.public,
    "ess": lambda c: c.ess,
    "prive_hors_ess": lambda c: ~c.public & ~c.ess,
    "ess_loi_2014": lambda c: c.ess_loi_2014,
}
