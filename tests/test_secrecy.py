"""Secrecy rules on crafted cells: primary thresholds at and past each boundary, and the choice of complements."""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory import secrecy
from observatory.secrecy import closure


def _cell(**kw) -> pd.DataFrame:
    base = {
        "niveau": "france",
        "code": "FR",
        "champ": "ess",
        "famille": "toutes",
        "secteur": "tous",
        "tranche": "toutes",
        "sexe": "tous",
        "pcs": "toutes",
        "n_etab": 10,
        "n_ent": 10,
        "n_salaries": 100,
        "freq_effectif": 10,
        "freq_etp": 10,
        "freq_masse": 10,
        "freq_salaire": 10,
        "freq_horaire": 10,
        "freq_entreprises": 3,
        "effectif": 100,
        "max_effectif": 10,
        "etp": 100.0,
        "max_etp": 10.0,
        "masse": 1000.0,
        "max_masse": 100.0,
        "nbheur": 1000.0,
        "max_nbheur": 100.0,
        "s_net": 800.0,
        "max_s_net": 80.0,
        "max_poste_brut": 50.0,
        "max_poste_net": 40.0,
        "temps_partiel": 10,
        "freq_temps_partiel": 5,
        "max_temps_partiel": 2,
        "cdd": 10,
        "freq_cdd": 5,
        "max_cdd": 2,
        "age50": 10,
        "freq_age50": 5,
        "max_age50": 2,
    }
    for band in secrecy.AGE_BANDS:
        base.update({band: 20, f"freq_{band}": 5, f"max_{band}": 4})
    base.update(kw)
    return pd.DataFrame([base])


def test_frequency_two_units_secret_three_not_zero_not():
    assert list(secrecy.frequency_secret([0, 1, 2, 3])) == [False, True, True, False]


def test_dominance_strictly_above_85_percent():
    assert list(secrecy.dominance_secret([85.0, 85.1, 0.0], [100.0, 100.0, 0.0])) == [False, True, False]


def test_count_cells_take_the_frequency_rule_only():
    p = secrecy.primary(_cell(n_etab=2, n_ent=3))
    assert p.p_comptage.item() and not p.p_entreprises.item()
    assert not secrecy.primary(_cell(n_etab=3)).p_comptage.item()


def test_bts_establishments_and_employees():
    assert secrecy.primary(_cell(n_etab=2)).p_montant.item()
    assert not secrecy.primary(_cell(n_etab=3)).p_montant.item()
    assert secrecy.primary(_cell(n_salaries=4)).p_montant.item()
    assert not secrecy.primary(_cell(n_salaries=5)).p_montant.item()


def test_frequency_on_the_contributors_and_the_enterprises():
    """Ten establishments, but only two with jobs at 31/12 (or ETP, or pay): their headcount (ETP, payroll)
    is theirs alone; ten establishments of two enterprises likewise — except in a sexe / pcs crossing, where
    the table counts no enterprise (NULL)."""
    for q in ("effectif", "etp", "masse"):
        assert secrecy.primary(_cell(**{f"freq_{q}": 2})).p_montant.item(), q
        assert not secrecy.primary(_cell(**{f"freq_{q}": 3})).p_montant.item(), q
    assert not secrecy.primary(_cell(freq_effectif=0)).p_montant.item()  # no job at 31/12: a known 0
    two = secrecy.primary(_cell(n_ent=2))
    assert two.p_montant.item() and two.p_entreprises.item()
    assert not secrecy.primary(_cell(n_ent=3)).p_montant.item()
    assert not secrecy.primary(_cell(n_ent=None, sexe="F")).p_montant.item()
    # in a sexe / pcs crossing, the enterprises with an establishment in the cell (counted up to 3)
    assert secrecy.primary(_cell(n_ent=None, sexe="F", freq_entreprises=2)).p_montant.item()


def test_the_audit_states_the_contributor_rules_alike():
    from observatory.audit.rules import magnitude_secret

    cells = pd.concat(
        [
            _cell(),
            _cell(freq_effectif=2),
            _cell(freq_masse=1),
            _cell(n_ent=2),
            _cell(n_ent=2, sexe="F"),
            _cell(n_ent=5, sexe="F", freq_entreprises=2),
        ],
        ignore_index=True,
    )
    expect = [False, True, True, True, False, True]
    assert magnitude_secret(cells).tolist() == expect
    sql_like = cells.assign(n_ent=cells.n_ent.where(cells.sexe == "tous"))  # no enterprise count by sexe
    assert secrecy.primary(sql_like).p_montant.tolist() == expect


def test_mean_pay_takes_its_own_contributors_in_the_protection_and_the_audit():
    """1 or 2 establishments with pay in the pay field, or with hours in the hourly-pay field: the mean pay
    figures are primary, the magnitudes not (they have 10 contributors); 0 is an empty field, not secret."""
    from observatory.audit.rules import pay_rate_secret

    cells = pd.concat(
        [_cell(), _cell(freq_salaire=2), _cell(freq_horaire=1), _cell(freq_salaire=0, freq_horaire=0)],
        ignore_index=True,
    )
    prim = secrecy.primary(cells)
    assert prim.p_salaire.tolist() == [False, True, True, False]
    assert not prim.p_montant.any()
    audit_cells = cells.rename(columns={"freq_salaire": "freq_masse_salaire", "freq_horaire": "freq_nbheur"})
    assert pay_rate_secret(audit_cells).tolist() == [False, True, True, False]


def test_bts_single_employee_share_of_payroll():
    assert not secrecy.primary(_cell(max_poste_brut=800.0)).p_montant.item()  # exactly 80 %
    assert secrecy.primary(_cell(max_poste_brut=800.5)).p_montant.item()
    assert secrecy.primary(_cell(max_poste_net=641.0)).p_montant.item()  # > 80 % of net pay


def test_bts_dominance_on_each_quantity():
    for q, total in (
        ("effectif", 100),
        ("etp", 100.0),
        ("masse", 1000.0),
        ("nbheur", 1000.0),
        ("s_net", 800.0),
    ):
        assert not secrecy.primary(_cell(**{f"max_{q}": total * 0.85})).p_montant.item(), q
        assert secrecy.primary(_cell(**{f"max_{q}": total * 0.851})).p_montant.item(), q


def test_sub_population_counts():
    p = secrecy.primary(_cell(freq_cdd=2, max_temps_partiel=9))
    assert p.p_cdd.item() and p.p_temps_partiel.item() and not p.p_age50.item()


def test_age_band_counts_take_frequency_and_dominance():
    p = secrecy.primary(_cell(freq_age_25_34=2, age_45_54=20, max_age_45_54=17.02))
    assert p.p_age_25_34.item() and p.p_age_45_54.item() and not p.p_age_moins_25.item()
    assert not secrecy.primary(_cell(max_age_45_54=17.0)).p_age_45_54.item()  # exactly 85 %


# ------------------------------------------------------------------------------ secondary: complements


def _keys(rows):
    return pd.DataFrame([dict(zip(secrecy.KEY, r)) for r in rows])


def test_importance_puts_headline_totals_last():
    t = secrecy.DEFAULTS
    rows = [
        ("departement", "21", "_sce", *t.values()),
        ("departement", "21", "ess", "toutes", "tous", "toutes", "F", "cadres"),
        ("departement", "21", "ess", "association", "tous", "toutes", "tous", "toutes"),
        ("departement", "21", "ess_loi_2014", *t.values()),
        ("departement", "21", "public", *t.values()),
        ("departement", "21", "ensemble", *t.values()),
        ("departement", "21", "prive", *t.values()),
        ("departement", "21", "ess", *t.values()),
        ("region", "27", "prive", *t.values()),
        ("region", "27", "prive_hors_ess", *t.values()),
    ]
    assert secrecy.importance(_keys(rows)).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 7, 8]


def test_closure_hides_the_loi_2014_total_not_the_ess_total():
    # ess_loi_2014 = ess + _sce and prive_hors_ess = _sce + _oth, with _sce primary: the closure must hide
    # _oth (never published) and ess_loi_2014 (secondary product), although ess is the smaller cell
    t = tuple(secrecy.DEFAULTS.values())
    champs = ["ess_loi_2014", "ess", "_sce", "prive_hors_ess", "_oth"]
    cells = _keys([("departement", "21", c, *t) for c in champs])
    value = {"ess_loi_2014": 1010.0, "ess": 1000.0, "_sce": 10.0, "prive_hors_ess": 5010.0, "_oth": 5000.0}
    cost = np.array([value[c] for c in champs])
    long = pd.DataFrame(
        {"eq": [0, 0, 0, 1, 1, 1], "cell": [0, 1, 2, 3, 2, 4], "sign": [-1.0, 1, 1, -1.0, 1, 1]}
    )
    hidden0 = np.array([False, False, True, False, False])
    zero = np.zeros(5, bool)
    by_size, _ = closure._close(long, hidden0, cost, zero)
    assert by_size.tolist() == [False, True, True, False, True]  # the old order: the ESS total goes
    hidden, _ = closure._close(long, hidden0, cost, zero, secrecy.importance(cells))
    assert hidden.tolist() == [True, False, True, False, True]


def test_a_headline_total_s_twin_takes_its_tier():
    # the Côte-d'Or's ESS loi 2014 total is its ESS total (eq 0: no ESS commercial company there); eq 1: the
    # région's loi 2014 total = its two départements'; the Nièvre's (5 jobs) is primary. By tier and size the
    # Côte-d'Or's loi 2014 total (tier 3, 1 000) is the cheapest complement, and it would take the ESS total
    # (tier 7) with it: as one figure they both rank 7, and the closure hides the région's loi 2014 total.
    t = tuple(secrecy.DEFAULTS.values())
    rows = [("departement", "21", "ess"), ("departement", "21", "ess_loi_2014")]
    rows += [("departement", "58", "ess_loi_2014"), ("region", "27", "ess_loi_2014")]
    cells = _keys([(*r, *t) for r in rows])
    cost = np.array([1000.0, 1000.0, 5.0, 1005.0])
    long = pd.DataFrame(
        {
            "eq": [0, 0, 1, 1, 1],
            "cell": [1, 0, 3, 1, 2],
            "sign": [-1.0, 1, -1.0, 1, 1],
            "tag": ["ch_loi", "ch_loi", "geo_region", "geo_region", "geo_region"],
        }
    )
    tier = secrecy.importance(cells)
    assert tier.tolist() == [7, 3, 3, 3]
    same = closure.same_figure_tiers(long, tier)
    assert same.tolist() == [7, 7, 3, 3]
    # below the headline tiers, twins keep their own (a family that is all its total is as cheap as before),
    # except through a geographic atom: an EPCI's atom (tier 0) is the EPCI (tier 2)
    twins = _keys(
        [
            ("epci", "200054781", "ess", *t),
            ("_piece", "69|200054781", "ess", *t),
            ("departement", "21", "ess", "association", *t[1:]),
            ("departement", "21", "ess", "association", "tous", "toutes", "F", "toutes"),
        ]
    )
    pairs = pd.DataFrame(
        {
            "eq": [0, 0, 1, 1],
            "cell": [0, 1, 2, 3],
            "sign": [-1.0, 1, -1.0, 1],
            "tag": ["geo_atom_epci", "geo_atom_epci", "sexe", "sexe"],
        }
    )
    assert closure.same_figure_tiers(pairs, secrecy.importance(twins)).tolist() == [2, 2, 2, 1]
    hidden0, zero = np.array([False, False, True, False]), np.zeros(4, bool)
    assert closure._close(long, hidden0, cost, zero, tier)[0].tolist() == [True, True, True, False]
    assert closure._close(long, hidden0, cost, zero, same)[0].tolist() == [False, False, True, True]


def test_structural_zeros_reach_parents_whose_children_are_all_zero_and_their_parts():
    # eq 0: cell 2 = cells 0 + 1 (both in size band 0); eq 1: cell 3 (a one-département région) = cell 2;
    # eq 2: cell 5 = cells 0 + 4 (4 is not zero by definition)
    long = pd.DataFrame(
        {
            "eq": [0, 0, 0, 1, 1, 2, 2, 2],
            "cell": [2, 0, 1, 3, 2, 5, 0, 4],
            "sign": [-1.0, 1, 1, -1.0, 1, -1.0, 1, 1],
        }
    )
    zero = np.array([True, True, False, False, False, False])
    assert secrecy.structural_zeros(long, zero).tolist() == [True, True, True, True, False, False]
    # downwards: eq 3, cell 6 = cell 7 + cell 8, with cell 6 zero by definition
    long = pd.concat(
        [long, pd.DataFrame({"eq": [3, 3, 3], "cell": [6, 7, 8], "sign": [-1.0, 1, 1]})], ignore_index=True
    )
    zero = np.array([True, True, False, False, False, False, True, False, False])
    assert secrecy.structural_zeros(long, zero).tolist() == [True] * 4 + [False] * 2 + [True] * 3
