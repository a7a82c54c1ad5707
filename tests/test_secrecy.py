"""Primary secrecy rules on crafted cells (thresholds exactly at and past each boundary)."""

from __future__ import annotations

import pandas as pd

from observatory import secrecy


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
