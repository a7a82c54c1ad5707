"""The audit's own statement of the primary rules and of the cell vocabulary.

Written apart from :mod:`observatory.secrecy` on purpose: an error in the protection's rules must not be
repeated here. The rules (INSEE, ``shared/domain/secrecy.md``), as exact integer comparisons:

- frequency: 1 or 2 contributing units is secret, 0 units is an empty cell;
- dominance NK(1,85): secret when ``20·MAX > 17·VALUE`` (``VALUE > 0``);
- Base Tous salariés employment and pay cells: at least 3 establishments, and 3 among those contributing to
  each of jobs at 31/12, ETP and gross pay; at least 3 enterprises with an establishment in the cell (every
  crossing), and an enterprise count of at least 3 where the table publishes one; at least 5 (non-annex) jobs, no
  job above 80 % of the gross or net payroll, no establishment above 85 % of jobs at 31/12, ETP, hours,
  gross or net payroll;
- the mean pay figures: besides, at least 3 establishments with pay in the pay field and 3 with hours in the
  hourly-pay field (:func:`pay_rate_secret`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.reference.geography import ATOM_LEVEL

#: Coordinates of a cell of the indicator table, and the value of each breakdown meaning "all".
KEY = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
DEFAULTS = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes"}
FLAT = ("secteur", "tranche", "sexe", "pcs")
#: The levels made of atoms' cells (the EPCIs, the unknown EPCI, the atoms), the breakdowns they have and the
#: champs those are computed for: the EPCIs publish the ESS's women and men, its size bands and its sectors
#: only, and the audit computes no other champ by sexe, size band or sector there, as the protection
#: (limitation: where one atom holds a département's whole figure by one of those of another champ, that
#: figure is checked at the département only).
ATOMIC_LEVELS = ("epci", "_epci_inconnu", ATOM_LEVEL)
ATOMIC_DIMS = ("sexe", "tranche", "secteur")
ATOMIC_BREAKDOWN_CHAMPS = ("ess",)
#: The champs published (the internal ``_sce`` / ``_oth`` are derivable by subtraction, never published).
CHAMPS_PUBLIES = ["ensemble", "public", "prive", "ess", "prive_hors_ess", "ess_loi_2014"]
#: Jobs at 31/12 by age band, as published; with the jobs of impossible age (never published, an unknown of
#: the audit) they add up to the headcount.
AGE_BANDS = ["age_moins_25", "age_25_34", "age_35_44", "age_45_54", "age_55_plus"]
AGE_BAND_UNPUBLISHED = "age_inconnu"
#: The mean pay figures: the magnitudes' rules, and their own contributors (:func:`pay_rate_secret`); the
#: women / men gap takes them on its women's and its men's cells.
PAY_RATES = {"salaire_brut_annuel_moyen_etp", "salaire_net_horaire_moyen"}
PAY_GAP = "ecart_salarial_fh"
#: Indicators published from establishment counts (frequency rule only).
COUNT_INDICATORS = {"etablissements_employeurs", "part_etablissements_prive"}

UNITS_MIN = 3  # establishments (or enterprises) a cell needs
JOBS_MIN = 5  # non-annex jobs an employment and pay cell needs
DOMINANCE = (17, 20)  # NK(1,85): MAX / VALUE above 17/20 (85 %) is secret
JOB_SHARE = (4, 5)  # one job above 4/5 (80 %) of the payroll is secret
DOMINATED_QUANTITIES = ("effectif", "etp", "masse", "nbheur", "s_net")
#: Quantities whose *contributing* establishments take the frequency rule (with jobs at 31/12, ETP, gross pay).
CONTRIBUTING = ("effectif", "etp", "masse")


def _num(x) -> np.ndarray:
    return pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def too_few(units) -> np.ndarray:
    """Frequency rule: 1 or 2 units."""
    u = np.nan_to_num(_num(units), nan=0.0)
    return (u > 0) & (u < UNITS_MIN)


def dominated(largest, total, share=DOMINANCE) -> np.ndarray:
    """``largest`` strictly above ``share`` of ``total`` (a positive total), compared without division."""
    m = np.nan_to_num(_num(largest), nan=0.0)
    v = np.nan_to_num(_num(total), nan=0.0)
    num, den = share
    return (v > 0) & (m * den > v * num)


def magnitude_secret(cells: pd.DataFrame) -> np.ndarray:
    """The employment and pay rule set, per row of ``cells`` (recomputed FREQ / MAX columns)."""
    n_etab = np.nan_to_num(_num(cells["n_etab"]), nan=0.0)
    n_sal = np.nan_to_num(_num(cells["n_salaries"]), nan=0.0)
    out = too_few(n_etab) | ((n_etab > 0) & (n_sal < JOBS_MIN))
    for q in CONTRIBUTING:  # establishments contributing to each quantity (recomputed from the jobs)
        if f"freq_{q}" in cells:
            out |= too_few(cells[f"freq_{q}"])
    if "n_ent" in cells:  # enterprises, where the table counts them: not in the sexe / pcs crossings
        counted = np.ones(len(cells), bool)
        for d in ("sexe", "pcs"):
            if d in cells:
                counted &= (cells[d] == DEFAULTS[d]).to_numpy()
        out |= too_few(cells["n_ent"]) & counted
    if "freq_entreprises" in cells:  # enterprises with an establishment in the cell, every crossing
        out |= too_few(cells["freq_entreprises"])
    out |= dominated(cells["max_poste_brut"], cells["masse"], JOB_SHARE)
    out |= dominated(cells["max_poste_net"], cells["s_net"], JOB_SHARE)
    for q in DOMINATED_QUANTITIES:
        out |= dominated(cells[f"max_{q}"], cells[q])
    return out


def pay_rate_secret(cells: pd.DataFrame) -> np.ndarray:
    """The mean pay figures' own frequency rule: 1 or 2 establishments with pay in the pay field
    (``freq_masse_salaire``) or with hours in the hourly-pay field (``freq_nbheur``), recomputed from the jobs."""
    return too_few(cells["freq_masse_salaire"]) | too_few(cells["freq_nbheur"])


def departements_of(region_of: dict) -> dict:
    """Région → its départements (sorted), from département → région."""
    out: dict = {}
    for d, r in sorted(region_of.items()):
        out.setdefault(r, []).append(d)
    return out
