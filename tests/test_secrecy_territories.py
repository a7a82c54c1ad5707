"""Territory relations (issue #11): a département that is exactly the union of its EPCIs.

The territory findings are blocking (``AuditReport.territory_blocking``): the protection proves the territory
relations as one system (``observatory.secrecy.chains``; the chain case itself: ``test_secrecy_chains.py``).

Planted disclosure: Martinique-like, a département of three EPCIs, the third of them one establishment.
Published: the département, its région, two EPCIs; hidden: the third. Then the third = département − the
two others. The audit must catch it on that weakened mask, and pass on what the protection publishes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from observatory import audit, secrecy
from observatory.audit import run as audit_run
from observatory.audit.microdata import ETABS_COLUMNS
from observatory.reference import geography
from observatory.secrecy import closure
from observatory.warehouse import connect, run_sql
from tests.test_indicators import build_micro

EPCIS = {"200041788": 4, "249720053": 4, "249720061": 1}  # EPCI -> public establishments (the last one alone)


def _add_martinique(con, frames, jobs: dict | None = None, ess: bool = False) -> None:
    """Public establishments in the EPCIs of 972 (associations with ``ess``): ``jobs`` maps each EPCI to its
    establishments' headcounts (default: :data:`EPCIS` establishments of 9, 12, 15, … jobs); their jobs
    alternate men and women."""
    if jobs is None:
        sizes = iter(range(9, 1000, 3))
        jobs = {epci: [next(sizes) for _ in range(n)] for epci, n in EPCIS.items()}
    con.execute("INSERT INTO ref.regions VALUES ('02', 'Martinique')")
    con.execute("INSERT INTO ref.departements VALUES ('972', 'Martinique', '02')")
    etabs, postes = [], []
    i = 0
    for epci, sizes in jobs.items():
        for n_jobs in sizes:
            i += 1
            siren = f"97200{i:04d}"
            siret = f"{siren}00001"
            geo = {"code_departement": "972", "code_region": "02", "code_epci": epci, "secteur": "ADM"}
            flags = {"ess": ess, "ess_loi_2014": ess, "public": not ess}
            famille = "association" if ess else "hors_ess"
            etabs.append(
                {
                    "siret": siret,
                    "siren": siren,
                    "code_commune": None,
                    **geo,
                    "famille_ess": famille,
                    **flags,
                    "effectif_31_12": n_jobs,
                    "tranche": "1-9" if n_jobs < 10 else "10-49",
                    "etp": 0.8 * n_jobs,
                    "masse_salariale_brute": 20000.0 * n_jobs,
                }
            )
            for j in range(n_jobs):
                postes.append(
                    {
                        "siret": siret,
                        "siren": siren,
                        **geo,
                        "famille_ess": famille,
                        **flags,
                        "sexe": "F" if j % 2 else "H",
                        "age": 30 + j,
                        "pcs": "employes",
                        "temps_partiel": False,
                        "cdd": False,
                        "annexe": False,
                        "present_31_12": True,
                        "dans_champ_salaire": True,
                        "eqtp": 0.8,
                        "s_brut": 20000.0 + 10 * j,
                        "s_brut_salaire": 20000.0 + 10 * j,
                        "eqtp_salaire": 0.8,
                        "s_net": 15000.0 + 10 * j,
                        "nbheur": 1400.0,
                    }
                )
    for name, rows in (("etablissements_employeurs", etabs), ("postes", postes)):
        df = pd.DataFrame(rows)[list(frames[name].columns)]
        con.register("_df", df)
        con.execute(f"INSERT INTO ess.{name} SELECT * FROM _df")
        con.unregister("_df")


def _published_warehouse(root, jobs=None, ess: bool = False):
    from observatory.config import Settings
    from observatory.indicators import build_indicators

    con = connect(root / "w.duckdb")
    frames = build_micro(con)
    _add_martinique(con, frames, jobs, ess)
    build_indicators(con, Settings(output_dir=root / "output", warehouse=root / "w.duckdb", millesime=2023))
    run_sql(con, "indicators/publication.sql")
    return con


@pytest.fixture(scope="module")
def martinique(tmp_path_factory):
    con = _published_warehouse(tmp_path_factory.mktemp("martinique"))
    yield con
    con.close()


@pytest.fixture(scope="module")
def martinique_narrow(tmp_path_factory):
    """Three public EPCIs in 972: 54 jobs in four establishments, then two lone establishments (2 and 33
    jobs), both primary (:data:`NARROW`)."""
    jobs = {"200041788": [9, 12, 15, 18], "249720053": [2], "249720061": [33]}
    con = _published_warehouse(tmp_path_factory.mktemp("martinique_narrow"), jobs)
    yield con
    con.close()


@pytest.fixture(scope="module")
def martinique_ess(tmp_path_factory):
    """The same three EPCIs of 972 with associations instead (the last EPCI's alone): the EPCIs' ESS is
    published by sexe."""
    con = _published_warehouse(tmp_path_factory.mktemp("martinique_ess"), ess=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def martinique_ess_audit(martinique_ess):
    """The audit of that publication (one run for the tests that read it)."""
    return audit.audit_warehouse(martinique_ess)


def _audit(con, published: pd.DataFrame):
    etabs = con.execute(f"SELECT {', '.join(ETABS_COLUMNS)} FROM ess.etablissements_employeurs").df()
    postes = con.table("ess.postes").df()
    return audit_run.audit(published, postes, etabs, con.table("ref.departements").df())


def _with_true_values(con, pub: pd.DataFrame, undo) -> pd.DataFrame:
    """``pub`` with its cells ``undo`` (a mask) published at their true values."""
    truth = con.table("ind.indicateurs").df().set_index([*secrecy.KEY, "indicateur"]).valeur_calculee
    weak = pub.copy()
    keys = list(weak.loc[undo, [*secrecy.KEY, "indicateur"]].itertuples(index=False, name=None))
    weak.loc[undo, "valeur"] = truth.reindex(keys).round(2).to_numpy()
    weak.loc[undo, "statut"] = "publie"
    return weak


def _plain(pub: pd.DataFrame) -> pd.DataFrame:
    head = pd.Series(True, index=pub.index)
    for dim, total in secrecy.DEFAULTS.items():
        head &= pub[dim] == total
    return pub[head]


def test_protection_hides_a_complement_epci_and_the_audit_proves_it(martinique):
    con = martinique
    pub = _plain(con.table("ind.publication").df())
    eff = pub[(pub.indicateur == "effectif_31_12") & (pub.champ == "public") & (pub.niveau == "epci")]
    st = eff.set_index("code").statut
    assert st["249720061"] == "secret_primaire"
    assert (st[["200041788", "249720053"]] != "publie").any(), "no complement: the département gives it away"
    dep = pub[(pub.niveau == "departement") & (pub.code == "972") & (pub.champ == "public")]
    assert dep.set_index("indicateur").statut["effectif_31_12"] == "publie"  # the headline stays published
    report = audit.audit_warehouse(con)
    assert report.passed, report.summary()
    assert report.territory_systems > 0 and report.territory_hidden > 0
    # the planted disclosure is closed: nothing of 972 or of its EPCIs is determined any more
    assert not [f for f in report.territory_findings if "972" in f or any(e in f for e in EPCIS)], (
        report.summary()
    )


def _every_epci_of_972_but_the_primary_one(con) -> tuple[pd.DataFrame, pd.Series]:
    """The weakened mask: every EPCI of 972 published but the primary one; and the true values."""
    pub = con.table("ind.publication").df()
    truth = con.table("ind.indicateurs").df().set_index([*secrecy.KEY, "indicateur"]).valeur_calculee
    undo = (pub.niveau == "epci") & pub.code.isin(["200041788", "249720053"]) & (pub.statut == "secret_secondaire")
    return _with_true_values(con, pub, undo), truth


@pytest.fixture(scope="module")
def weak_972(martinique):
    """The weakened mask (:func:`_every_epci_of_972_but_the_primary_one`), the true values and its audit."""
    weak, truth = _every_epci_of_972_but_the_primary_one(martinique)
    return weak, truth, _audit(martinique, weak)


def test_audit_catches_an_epci_recovered_from_its_departement(weak_972):
    """The weakened mask: every EPCI of 972 published but the primary one."""
    _weak, truth, report = weak_972
    found = [r for r in report.territory_findings if "249720061" in r]
    assert found, report.summary()
    assert not report.passed  # blocking
    # the value given away is the true headcount of the lone establishment's EPCI
    true = truth[("epci", "249720061", "public", *secrecy.DEFAULTS.values(), "effectif_31_12")]
    assert any(r.endswith(f"= {true:g}") and "effectif_31_12" in r for r in found), found


def test_territory_checks_in_a_second_process_report_the_same(
    martinique, weak_972, monkeypatch, beside_submissions
):
    """A large publication has its territory relations checked in a second process while the first checks the
    2-D tables (``observatory/audit/run.py``): the same report, findings included, as in one process — here
    forced on the weakened micro mask, which the territory relations fail."""
    weak, _truth, alone = weak_972
    monkeypatch.setattr(audit_run, "BESIDE_MIN_ROWS", 0)
    two = _audit(martinique, weak)
    assert [name for name, _ in beside_submissions] == ["_territory_report"]
    assert alone.territory_findings and not alone.passed
    assert dataclasses.asdict(two) == dataclasses.asdict(alone)


def _ess_women(pub: pd.DataFrame, indicateur: str = "effectif_31_12") -> pd.Series:
    """The statut of each 972 territory's ESS women (``niveau/code``) in ``pub``."""
    rows = pub[(pub.indicateur == indicateur) & (pub.champ == "ess") & (pub.famille == "toutes")]
    rows = rows[(rows.secteur == "tous") & (rows.tranche == "toutes") & (rows.pcs == "toutes")]
    rows = rows[(rows.sexe == "F") & (rows.code.isin([*EPCIS, "972"]))]
    return rows.set_index("code").statut


def test_an_epci_s_women_are_protected_against_its_departement_and_the_audit_catches_them_given_away(
    martinique_ess, martinique_ess_audit
):
    """Martinique is exactly its three EPCIs. The lone association's EPCI has its women primary; the
    protection hides another cell among the département's women and the other EPCIs' (else département −
    the other two gives them away), and the audit passes. Published with their true values, those cells give
    the lone EPCI's women away, and the audit names them with their true headcount."""
    con = martinique_ess
    pub = con.table("ind.publication").df()
    women = _ess_women(pub)
    assert women["249720061"] == "secret_primaire"
    assert (women[["972", "200041788", "249720053"]] != "publie").any(), "972 − the others gives it away"
    share = pub[(pub.indicateur == "part_femmes") & (pub.niveau == "epci") & (pub.champ == "ess")]
    assert (share.statut == "publie").any() and share.set_index("code").statut["249720061"] != "publie"
    assert martinique_ess_audit.passed, martinique_ess_audit.summary()
    undo = pub.code.isin(["02", "972", "200041788", "249720053"]) & (pub.sexe == "F") & (pub.champ == "ess")
    report = _audit(con, _with_true_values(con, pub, undo & (pub.statut == "secret_secondaire")))
    assert not report.passed
    truth = con.table("ind.indicateurs").df().set_index([*secrecy.KEY, "indicateur"]).valeur_calculee
    true = truth[("epci", "249720061", "ess", "toutes", "tous", "toutes", "F", "toutes", "effectif_31_12")]
    found = [r for r in report.territory_findings + report.joint_findings if "249720061" in r and "'F'" in r]
    assert any(r.endswith(f"= {true:g}") for r in found), report.summary()


def test_an_epci_s_size_band_is_protected_against_its_departement_and_the_audit_catches_it_given_away(
    martinique_ess, martinique_ess_audit
):
    """The EPCIs' ESS is published by size band (their portraits' figure). The lone association's EPCI has its
    10-49 band primary (one establishment of 33 jobs): for the jobs and for the establishments, the protection
    hides another cell among Martinique's ESS by size band and the other EPCIs' (else 972 − the other two gives
    it away). Published with their true values, those cells give it away, and the audit names it with its true
    value (33 jobs, 1 establishment)."""
    con = martinique_ess
    pub = con.table("ind.publication").df()
    true = {"effectif_31_12": 33, "etablissements_employeurs": 1}
    rows = pub[pub.indicateur.isin(list(true)) & (pub.champ == "ess") & (pub.famille == "toutes")]
    rows = rows[(rows.sexe == "tous") & (rows.code.isin([*EPCIS, "972", "02"]))]
    for indicateur in true:
        band = rows[(rows.tranche == "10-49") & (rows.indicateur == indicateur)].set_index("code").statut
        assert band["249720061"] == "secret_primaire"
        assert (band[["972", "200041788", "249720053"]] != "publie").any(), "972 − the others gives it away"
        assert (band == "publie").any()  # the other EPCIs' bands are published where safe
    assert martinique_ess_audit.passed, martinique_ess_audit.summary()
    report = _audit(con, _with_true_values(con, pub, pub.index.isin(rows.index) & (pub.statut == "secret_secondaire")))
    assert not report.passed
    findings = report.territory_findings + report.joint_findings
    for indicateur, value in true.items():
        found = [r for r in findings if "249720061" in r and "'10-49'" in r and indicateur in r]
        assert any(r.endswith(f"= {value:g}") for r in found), (indicateur, report.summary())


def test_an_epci_s_sector_is_protected_against_its_departement_and_the_audit_catches_it_given_away(
    martinique_ess, martinique_ess_audit
):
    """The EPCIs' ESS is published by sector (their portraits' figure). Every association of 972 is in public
    administration (ADM): the lone association's EPCI has its ADM cell primary (one establishment of 33 jobs),
    and 972's ADM ESS minus the other two EPCIs' would give it away: the protection hides another cell among
    them. Published with their true values, the hidden cells give it away, and the audit names the EPCI's ADM
    cell with its true value (33 jobs, 1 establishment): its sector relations (972 × ADM = Σ its atoms × ADM)
    are the only ones that reach it, its totals and size bands staying hidden."""
    con = martinique_ess
    pub = con.table("ind.publication").df()
    true = {"effectif_31_12": 33, "etablissements_employeurs": 1}
    rows = pub[pub.indicateur.isin(list(true)) & (pub.champ == "ess") & (pub.famille == "toutes")]
    rows = rows[(rows.sexe == "tous") & (rows.tranche == "toutes") & (rows.code.isin([*EPCIS, "972", "02"]))]
    for indicateur in true:
        adm = rows[(rows.secteur == "ADM") & (rows.indicateur == indicateur)].set_index("code").statut
        assert adm["249720061"] == "secret_primaire"
        assert (adm[["972", "200041788", "249720053"]] != "publie").any(), "972 − the others gives it away"
    assert martinique_ess_audit.passed, martinique_ess_audit.summary()
    undo = pub.index.isin(rows[rows.secteur == "ADM"].index) & (pub.statut == "secret_secondaire")
    assert undo.any()
    report = _audit(con, _with_true_values(con, pub, undo))
    assert not report.passed
    findings = report.territory_findings + report.joint_findings
    for indicateur, value in true.items():
        found = [r for r in findings if "249720061" in r and "'ADM'" in r and indicateur in r]
        assert any(r.endswith(f"= {value:g}") for r in found), (indicateur, report.summary())


def test_equations_tie_an_epci_to_its_departement_through_the_atoms():
    """The protection's own equations: département = Σ atoms, EPCI = its atom; the closure then hides a
    second EPCI (not only an atom) next to a primary one."""
    rows = [("departement", "972"), ("region", "02"), ("france", "FR")]
    rows += [("epci", e) for e in EPCIS] + [
        (geography.ATOM_LEVEL, geography.atom_code("972", e)) for e in EPCIS
    ]
    cells = pd.DataFrame([{"niveau": n, "code": c, "champ": "ensemble", **secrecy.DEFAULTS} for n, c in rows])
    long = secrecy.equations(cells, {"972": "02"})
    value = np.array([9.0, 9.0, 9.0, 4, 4, 1, 4, 4, 1])
    secrecy.check_equations(long, value, "effectif")
    tags = set(long.tag)
    assert {"geo_atom_dep", "geo_atom_epci"} <= tags
    hidden0 = np.zeros(len(cells), bool)
    hidden0[5] = True  # the lone EPCI
    hidden, _ = closure._close(long, hidden0, value, np.zeros(len(cells), bool), closure.importance(cells))
    assert hidden[3] or hidden[4], hidden


def test_geography_describes_levels_as_unions_of_atoms():
    rows = pd.DataFrame(
        {
            "code_departement": ["01", "01", "02", "02", None],
            "code_epci": ["E1", "E2", "E2", None, None],
            "code_region": ["R", "R", "R", "R", None],
        }
    )
    geo = geography.from_pieces(rows)
    assert sorted(geo.atoms.atom) == ["01|E1", "01|E2", "02|?", "02|E2", "?|?"]
    assert geo.members("departement") == {"01": ["01|E1", "01|E2"], "02": ["02|?", "02|E2"]}
    assert geo.members("epci") == {"E1": ["01|E1"], "E2": ["01|E2", "02|E2"]}
    assert geo.members("_epci_inconnu") == {"?": ["02|?", "?|?"]}
    assert geo.members("_geo_inconnu") == {"?": ["?|?"]}
    assert geo.straddling_epcis() == {"E2": ["01", "02"]}
    assert geo.region_of() == {"01": "R", "02": "R"}
    # the COG: Martinique is the union of its three EPCIs (the example)
    martinique = [a for a in geography.cog().members("departement")["972"] if not a.endswith("|?")]
    assert martinique == [f"972|{e}" for e in EPCIS]


# Protection levels in the territory relations: a département of three public EPCIs, the two small ones
# primary (one establishment each). Published: the département and the large EPCI, so an attacker knows
# E2 + E3 = 89 − 54 = 35 and bounds E3 (33 jobs, one establishment: NK(1,85) level 33 / 0.85 − 33 = 5.8) to
# [0, 35], short of 38.8 above. Neither the closure (every equation holds two hidden cells) nor the 2-D
# tables (no EPCI in them) see it.
NARROW = {"200041788": 54.0, "249720053": 2.0, "249720061": 33.0}


def _narrow_system():
    from observatory.secrecy.chains import territory_system

    rows = [("departement", "972", 89.0), ("region", "02", 89.0), ("france", "FR", 89.0)]
    rows += [("epci", e, v) for e, v in NARROW.items()]
    rows += [(geography.ATOM_LEVEL, geography.atom_code("972", e), v) for e, v in NARROW.items()]
    cells = pd.DataFrame(
        [{"niveau": n, "code": c, "champ": "public", **secrecy.DEFAULTS} for n, c, _ in rows]
    )
    value = np.array([v for *_, v in rows])
    long = secrecy.equations(cells, {"972": "02"})
    system, published = territory_system(long, cells)
    eqs = [(list(g.cell[g.sign > 0]), int(g.cell[g.sign < 0].iloc[0])) for _, g in long.groupby("eq")]
    return cells, value, system, published, eqs


def _bounds_of_e3(value, hidden, published, eqs):
    """E3's (position 5) min and max by the audit's LP: published cells exact, the others unknown ≥ 0."""
    from observatory.audit.lp import lp_bounds

    vals = {i: (None if hidden[i] or not published[i] else float(v)) for i, v in enumerate(value)}
    return lp_bounds(vals, eqs, [5])[5]


@pytest.mark.parametrize("local", [False, True], ids=["whole-table", "neighbourhood"])
def test_territory_levels_hide_a_complement_so_a_lone_epci_keeps_its_level(monkeypatch, local):
    from observatory.audit.intervals import protection_level
    from observatory.secrecy import levels

    if local:  # the search near the target, as on the sample's 20 000-cell system
        monkeypatch.setattr(levels, "LOCAL_LIMIT", 0)
    cells, value, system, published, eqs = _narrow_system()
    hidden = np.zeros(len(cells), bool)
    hidden[[4, 5]] = True  # E2, E3: primary
    largest = np.array([33.0, 33, 33, 18, 2, 33, 18, 2, 33])
    up, down = levels.protection_levels(value, largest, hidden.copy())
    assert _bounds_of_e3(value, hidden, published, eqs) == pytest.approx((0.0, 35.0))  # the planted leak
    zero = np.zeros(len(cells), bool)
    reached: dict = {}
    added = levels.repair_levels_territory(
        system, published, hidden, zero, value, closure.importance(cells), up, down, reached=reached
    )
    assert added == 1 and hidden[3] and not hidden[:3].any()  # the large EPCI, not the département
    low, high = _bounds_of_e3(value, hidden, published, eqs)
    level = protection_level(33.0, 33.0)
    assert level == pytest.approx(5.8235, abs=1e-3)
    assert high >= 33 + level and low <= 33 - level
    # a second call finds every level reached: nothing more hidden
    assert (
        levels.repair_levels_territory(
            system, published, hidden, zero, value, closure.importance(cells), up, down
        )
        == 0
    )
    # E2 and E3 are remembered as reached, both ways: given that memory, the next call solves no LP at all
    assert reached[1] == reached[-1] == {4, 5}
    monkeypatch.setattr(levels, "_reach", lambda *a, **k: pytest.fail("proved again"))
    assert (
        levels.repair_levels_territory(
            system, published, hidden, zero, value, closure.importance(cells), up, down, reached=reached
        )
        == 0
    )


def test_territory_levels_on_a_whole_publication_and_the_audit_catches_them_weakened(martinique_narrow):
    """The whole publication of the :data:`NARROW` micro-geography: the protection leaves the lone 33-job EPCI
    its level (the audit passes); weakened by publishing every complement of 972, its région and the large
    EPCI — the two lone EPCIs still hidden, so nothing is determined exactly — the département minus the
    published EPCI bounds it to [0, 35], which only the audit's level check finds."""
    con = martinique_narrow
    report = audit.audit_warehouse(con)
    assert report.passed and report.territory_interval_checked > 0, report.summary()
    assert report.territory_interval_narrow == []
    pub = _plain(con.table("ind.publication").df())
    eff = pub[(pub.indicateur == "effectif_31_12") & (pub.champ == "public")].set_index(["niveau", "code"])
    assert eff.statut[("epci", "249720061")] == "secret_primaire"
    # the bound an attacker reads off the published figures: E3 ≤ département − Σ published EPCIs of 972
    if eff.statut[("departement", "972")] == "publie":
        epcis = eff.loc[[("epci", e) for e in NARROW]]
        room = eff.valeur[("departement", "972")] - epcis.valeur[epcis.statut == "publie"].sum()
        assert room >= 33 / 0.85, room
    full = con.table("ind.publication").df()
    ours = ((full.niveau == "epci") & (full.code == "200041788")) | full.code.isin(["972", "02"])
    undo = ours & (full.statut == "secret_secondaire")
    assert undo.any()
    report = _audit(con, _with_true_values(con, full, undo))
    assert not report.passed
    assert not [r for r in report.territory_findings if "249720061" in r]  # not recovered exactly
    lone = [r for r in report.territory_interval_narrow if "'249720061', 'public'" in r]
    assert lone, report.summary()
    assert "bounded to [0, 35]" in lone[0] and "= 33, protection level ±5.8" in lone[0], lone


def test_rounding_room_is_the_interval_of_the_rounded_value():
    from observatory.secrecy.levels import rounding_room

    low, high = rounding_room(np.array([89.9, 12.5, 0.3, 4_051_234.0]), 0.5)
    assert low[:3] == pytest.approx([-0.4, 0.0, -0.3]) and high[:3] == pytest.approx([0.6, 1.0, 0.2])
    low, high = rounding_room(np.array([4_051_234.0, 38_936.4]), 500.0)  # payroll to the thousand euros
    assert low == pytest.approx([-734.0, -436.4]) and high == pytest.approx([266.0, 563.6])
    assert rounding_room(np.array([3.7]), 0.0) == (pytest.approx([0.0]), pytest.approx([0.0]))


def test_territory_levels_of_a_rounded_quantity_read_published_values_as_intervals():
    """The :data:`NARROW` geography in ETP (E1 54.4, E2 2.3, E3 33.2: the département 89.9), published whole:
    an attacker reads 90 and 54, so E2 + E3 lies in [35, 37] and E3 (one establishment: level 33.2 / 0.85 −
    33.2 = 5.86) in [0, 37], short of 39.06 above. The territory levels step with the rounding's slack hides
    the large EPCI; the audit's LP over the rounding intervals then finds E3's level reached."""
    from observatory.audit.lp import lp_bounds
    from observatory.audit.rounding import as_intervals
    from observatory.secrecy import levels

    cells, _, system, published, eqs = _narrow_system()
    etp = np.array([89.9, 89.9, 89.9, 54.4, 2.3, 33.2, 54.4, 2.3, 33.2])
    largest = np.array([33.2, 33.2, 33.2, 18.0, 2.3, 33.2, 18.0, 2.3, 33.2])
    hidden = np.zeros(len(cells), bool)
    hidden[[4, 5]] = True  # E2, E3: primary
    up, down = levels.protection_levels(etp, largest, hidden.copy())
    assert up[5] == pytest.approx(33.2 / 0.85 - 33.2)

    def bounds_of_e3():  # cells as tuples of text, as in the audit's systems
        vals = {
            (str(i),): (None if hidden[i] or not published[i] else float(np.round(v)))
            for i, v in enumerate(etp)
        }
        e = [([(str(p),) for p in parts], (str(t),)) for parts, t in eqs]
        return lp_bounds(as_intervals(vals, 0.5), e, [("5",)])[("5",)]

    assert bounds_of_e3() == pytest.approx((0.0, 37.0))  # the planted leak
    zero = np.zeros(len(cells), bool)
    tier = closure.importance(cells)
    added = levels.repair_levels_territory(system, published, hidden, zero, etp, tier, up, down, 0.5)
    assert added == 1 and hidden[3] and not hidden[:3].any()
    low, high = bounds_of_e3()
    assert high >= 33.2 + up[5] and low <= 33.2 - down[5]
    assert levels.repair_levels_territory(system, published, hidden, zero, etp, tier, up, down, 0.5) == 0
