"""The independent secrecy audit: passes on a protected publication, catches what it must."""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from observatory import audit
from observatory.audit import tables as audit_tables
from observatory.audit.rules import DEFAULTS, KEY
from observatory.secrecy import repair
from observatory.warehouse import connect
from tests.conftest import run_cli
from tests.test_indicators import publish_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return publish_sample(tmp_path_factory.mktemp("audit"))


@pytest.fixture(scope="module")
def clean_report(sample):
    """The audit of the micro publication as protected (tests that plant a disclosure restore the table)."""
    return audit.audit_publication(sample)


def test_protected_publication_passes_the_audit(clean_report):
    report = copy.deepcopy(clean_report)
    assert report.passed, report.summary()
    assert report.published_checked > 1000
    assert report.tables_checked > 10 and report.hidden_checked > 50  # secondary cells really were bounded
    # every family at once (observatory.audit.joint): systems no table holds whole, solved, nothing found
    assert report.joint_systems >= 2 and report.joint_hidden > 500 and report.joint_findings == []


def _republish(settings, df):
    df.to_parquet(settings.vintage_output / "tables" / "indicateurs.parquet", index=False)


def _audit_command(settings) -> subprocess.CompletedProcess:
    """``observatory audit`` as an analyst types it, on the publication and warehouse of ``settings``."""
    env = dict(
        os.environ,
        OBSERVATORY_OUTPUT_DIR=str(settings.output_dir),
        OBSERVATORY_WAREHOUSE=str(settings.warehouse),
        OBSERVATORY_MILLESIME=str(settings.millesime),
    )
    return run_cli(["audit", "--millesime", str(settings.millesime)], env)


def test_audit_catches_a_primary_cell_published(sample, clean_report):
    """The ``observatory audit`` command (its exit code and its summary; the API's ``audit_publication`` that
    it calls, whose summary it prints), on the micro publication with one primary headcount published; the
    summary of the publication as protected (the module's audit, not a second run of it through the CLI)."""
    table = sample.vintage_output / "tables" / "indicateurs.parquet"
    original = pd.read_parquet(table)
    lines = clean_report.summary().splitlines()
    assert lines[0] == "secrecy audit: PASSED"
    assert int(lines[1].split(": ")[1]) > 1000  # published cells checked against the primary rules
    try:
        df = original.copy()
        i = df.index[(df.statut == "secret_primaire") & (df.indicateur == "effectif_31_12")][0]
        df.loc[i, ["statut", "valeur"]] = ["publie", 1.0]
        _republish(sample, df)
        planted = _audit_command(sample)
        assert planted.returncode == 1 and planted.stdout.startswith("secrecy audit: FAILED")
        assert "published cells breaking a primary rule: 1" in planted.stdout
    finally:
        _republish(sample, original)


def test_audit_fails_an_epci_cell_by_sector_it_does_not_recompute(sample):
    """The EPCIs are published for their champs and families only: the audit recomputes no other crossing
    there, so a published EPCI cell by sector (a protection that let one through) fails it, with its key."""
    table = sample.vintage_output / "tables" / "indicateurs.parquet"
    original = pd.read_parquet(table)
    try:
        epci = original[
            (original.niveau == "epci") & (original.statut == "publie")
            & (original.indicateur == "effectif_31_12") & (original.famille == "toutes")
        ]  # fmt: skip
        sector = min(set(original.secteur) - {"tous"})
        planted = epci.iloc[[0]].assign(secteur=sector, valeur=1.0)
        _republish(sample, pd.concat([original, planted], ignore_index=True))
        report = audit.audit_publication(sample, intervals=False)
        assert not report.passed
        found = [v for v in report.violations if v.startswith("no microdata")]
        assert len(found) == 1 and f"'{epci.code.iloc[0]}'" in found[0] and f"'{sector}'" in found[0], found
    finally:
        _republish(sample, original)


def _with_truth(sample):
    """The published table, and a copy of it with each row's true value (``valeur_calculee``)."""
    original = pd.read_parquet(sample.vintage_output / "tables" / "indicateurs.parquet")
    con = connect(sample.warehouse, read_only=True)
    truth = con.table("ind.indicateurs").df()
    con.close()
    key = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs", "indicateur"]
    return original, original.merge(truth[[*key, "valeur_calculee"]], on=key)


def _audit_with_published(sample, df, cells, intervals: bool = True):
    """Audit ``df`` (from :func:`_with_truth`) republished with ``cells`` published at their true values."""
    df.loc[cells, "valeur"] = df.loc[cells, "valeur_calculee"]
    df.loc[cells, "statut"] = "publie"
    _republish(sample, df.drop(columns="valeur_calculee"))
    return audit.audit_publication(sample, intervals=intervals)


def test_an_audit_after_another_on_the_same_warehouse_recomputes_nothing_and_finds_the_same(sample, tmp_path):
    """The cells recomputed from the microdata are kept for the next audit of the same warehouse: the report
    of a publication with a disclosure is the same with them kept as recomputed, an audit writes nothing into
    them, and a write to the warehouse is seen (they are recomputed)."""
    from observatory.audit import run as audit_run

    # (the intervals left out: this is about the cells, and those checks take most of an audit's time)
    assert audit.audit_publication(sample, intervals=False).passed  # as protected; its cells are kept
    ((state, kept),) = audit_run._RECOMPUTED.items()
    assert state == audit_run._warehouse_state(sample.warehouse)
    before = pd.util.hash_pandas_object(kept, index=True).sum()
    original, df = _with_truth(sample)
    try:
        sect = (df.indicateur == "effectif_31_12") & (df.famille == "toutes") & (df.tranche == "toutes")
        sect &= (df.sexe == "tous") & (df.pcs == "toutes") & (df.niveau == "departement")
        hidden = sect & (df.statut != "publie") & (df.secteur != "tous")
        target = df[hidden].iloc[0]
        others = hidden & (df.champ == target.champ) & (df.code == target.code) & (df.secteur != target.secteur)
        with_kept = _audit_with_published(sample, df, others, intervals=False)
        assert audit_run._RECOMPUTED[state] is kept  # used, not recomputed
        audit_run._RECOMPUTED.clear()
        fresh = audit.audit_publication(sample, intervals=False)
    finally:
        _republish(sample, original)
    assert not with_kept.passed and with_kept.recoverable
    assert dataclasses.asdict(with_kept) == dataclasses.asdict(fresh)
    assert pd.util.hash_pandas_object(kept, index=True).sum() == before
    copy_ = tmp_path / "warehouse.duckdb"  # a write to a warehouse changes its state (on a copy of it)
    shutil.copy(sample.warehouse, copy_)
    copied = audit_run._warehouse_state(copy_)
    con = connect(copy_)
    con.execute("CREATE TABLE main.touched AS SELECT 1 AS x")
    con.close()
    assert audit_run._warehouse_state(copy_) != copied


def test_audit_catches_a_hidden_cell_recoverable_by_subtraction(sample):
    original, df = _with_truth(sample)
    try:
        sect = (df.indicateur == "effectif_31_12") & (df.famille == "toutes") & (df.tranche == "toutes")
        sect &= (df.sexe == "tous") & (df.pcs == "toutes") & df.niveau.isin(["region", "departement"])
        target = df[sect & (df.statut == "secret_primaire") & (df.secteur != "tous")].iloc[0]
        # publish, with their true values, every other hidden cell of that champ's secteur tables
        others = sect & (df.champ == target.champ) & (df.statut != "publie")
        others &= ~((df.code == target.code) & (df.secteur == target.secteur))
        report = _audit_with_published(sample, df, others)
        assert any(str(target.code) in r for r in report.recoverable), report.summary()
    finally:
        _republish(sample, original)


def test_lp_bounds_on_a_small_table():
    # 2 x 2 table with margins: one hidden cell is recovered exactly, two in one row still are, four are not.
    values = {
        ("a", 1): 3.0,
        ("a", 2): 4.0,
        ("a", "t"): 7.0,
        ("b", 1): 1.0,
        ("b", 2): 2.0,
        ("b", "t"): 3.0,
        ("t", 1): 4.0,
        ("t", 2): 6.0,
        ("t", "t"): 10.0,
    }
    eqs = [([(r, 1), (r, 2)], (r, "t")) for r in ("a", "b", "t")]
    eqs += [([("a", c), ("b", c)], ("t", c)) for c in (1, 2, "t")]
    one = {**values, ("a", 1): None}
    assert audit.lp_bounds(one, eqs)[("a", 1)] == pytest.approx((3.0, 3.0))
    four = {**values, **dict.fromkeys([("a", 1), ("a", 2), ("b", 1), ("b", 2)])}
    lo, hi = audit.lp_bounds(four, eqs)[("a", 1)]
    assert lo == pytest.approx(1.0) and hi == pytest.approx(4.0) and np.isfinite(hi)


def test_tied_unknowns_are_bounded_as_without_the_ties():
    """An EPCI of one atom, a champ with one unknown part: ``x − y = 0`` ties two unknowns, and the LPs take them
    as one variable (:class:`observatory.audit.lp.TiedSystem`). On random tables with such aliases of their
    cells and margins (some published as rounding intervals), every hidden cell's min and max are those of the
    untied system, solved here apart with one dense LP per bound."""
    from scipy.optimize import linprog

    from observatory.audit.lp import Interval, lp_bounds, tied_system

    rng = np.random.default_rng(11)
    for _ in range(12):
        grid = rng.integers(0, 30, size=(3, 4)).astype(float)
        rows, cols = ["0", "1", "2", "t"], ["0", "1", "2", "3", "t"]
        full = {(r, c): grid[int(r), int(c)] for r in rows[:-1] for c in cols[:-1]}
        full.update({(r, "t"): grid[int(r)].sum() for r in rows[:-1]})
        full.update({("t", c): grid[:, int(c)].sum() for c in cols[:-1]})
        full[("t", "t")] = grid.sum()
        eqs = [([(r, c) for c in cols[:-1]], (r, "t")) for r in rows]
        eqs += [([(r, c) for r in rows[:-1]], ("t", c)) for c in cols]
        for k in rng.choice(len(full), 5, replace=False):  # aliases, chained at times: alias of an alias
            cell = list(full)[k]
            full[("alias", "/".join(cell))] = full[cell]
            eqs.append(([cell], ("alias", "/".join(cell))))
            if rng.random() < 0.5:
                full[("alias2", "/".join(cell))] = full[cell]
                eqs.append(([("alias", "/".join(cell))], ("alias2", "/".join(cell))))
        values: dict = {}
        for cell, v in full.items():
            u = rng.random()
            values[cell] = None if u < 0.45 else Interval(max(v - 0.5, 0.0), v + 0.5) if u < 0.6 else v
        system = tied_system(values, eqs)
        hidden = system.hidden
        assert len(system.box) < len(hidden) or not any(v is None for v in values.values())
        # the untied system, dense
        idx = {c: i for i, c in enumerate(hidden)}
        a, b = [], []
        for parts, total in eqs:
            row, rhs = np.zeros(len(hidden)), 0.0
            for c, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
                v = values[c]
                if v is None or isinstance(v, Interval):
                    row[idx[c]] += sign
                else:
                    rhs -= sign * v
            if row.any():
                a.append(row)
                b.append(rhs)
        box = [(0.0, None) if values[c] is None else tuple(values[c]) for c in hidden]
        bounds = lp_bounds(values, eqs)
        for c in hidden:
            obj = np.zeros(len(hidden))
            obj[idx[c]] = 1.0
            lo = linprog(obj, A_eq=np.array(a), b_eq=np.array(b), bounds=box, method="highs")
            hi = linprog(-obj, A_eq=np.array(a), b_eq=np.array(b), bounds=box, method="highs")
            assert lo.status == 0 and bounds[c][0] == pytest.approx(lo.fun, abs=1e-7)
            assert bounds[c][1] == (pytest.approx(-hi.fun, abs=1e-7) if hi.status == 0 else np.inf)


def test_one_establishment_with_nobody_at_31_12_in_a_one_departement_region(tmp_path):
    """Regression (``--fraction 0.005 --seed 7``): the ESS of a one-département région is one establishment
    with no job at 31/12, so its headcount is 0 by definition (size band ``0`` only) and no suppression can
    hide that; the secondary step used to fail ("cannot protect cell … tranche/06") instead of publishing."""
    from observatory.config import Settings
    from observatory.indicators import build_indicators
    from observatory.warehouse import run_sql
    from tests.test_indicators import build_micro

    con = connect(tmp_path / "w.duckdb")
    frames = build_micro(con)
    con.execute("INSERT INTO ref.regions VALUES ('06', 'Mayotte')")
    con.execute("INSERT INTO ref.departements VALUES ('976', 'Mayotte', '06')")
    etabs, postes = [], []
    for i, (kind, n_jobs, present) in enumerate(
        [("ess", 2, False), ("phe", 6, True), ("phe", 8, True), ("phe", 5, True), ("public", 9, True)]
    ):
        siren = f"97600000{i}"
        siret = f"{siren}00001"
        flags = {"ess": kind == "ess", "ess_loi_2014": kind == "ess", "public": kind == "public"}
        famille = "association" if kind == "ess" else "hors_ess"
        geo = {"code_departement": "976", "code_region": "06", "code_epci": None, "secteur": "ASS"}
        etabs.append(
            {
                "siret": siret,
                "siren": siren,
                "code_commune": None,
                **geo,
                "famille_ess": famille,
                **flags,
                "effectif_31_12": n_jobs if present else 0,
                "tranche": ("1-9" if n_jobs < 10 else "10-49") if present else "0",
                "etp": 0.4 * n_jobs,
                "masse_salariale_brute": 9000.0 * n_jobs,
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
                    "temps_partiel": True,
                    "cdd": False,
                    "annexe": False,
                    "present_31_12": present,
                    "dans_champ_salaire": True,
                    "eqtp": 0.4,
                    "s_brut": 9000.0 + 10 * j,
                    "s_brut_salaire": 9000.0 + 10 * j,
                    "eqtp_salaire": 0.4,
                    "s_net": 7000.0 + 10 * j,
                    "nbheur": 640.0,
                }
            )
    for name, rows in (("etablissements_employeurs", etabs), ("postes", postes)):
        df = pd.DataFrame(rows)[list(frames[name].columns)]
        con.register("_df", df)
        con.execute(f"INSERT INTO ess.{name} SELECT * FROM _df")
        con.unregister("_df")
    settings = Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "w.duckdb", millesime=2023)
    build_indicators(con, settings)  # used to raise SecrecyError
    run_sql(con, "indicators/publication.sql")
    pub = con.table("ind.publication").df()
    head = (pub.famille == "toutes") & (pub.secteur == "tous") & (pub.tranche == "toutes")
    head &= (pub.sexe == "tous") & (pub.pcs == "toutes")
    head &= ((pub.niveau == "departement") & (pub.code == "976")) | (
        (pub.niveau == "region") & (pub.code == "06")
    )
    st = pub[head].set_index(["code", "champ", "indicateur"]).statut
    # one establishment: every figure of the ESS of Mayotte and of its région is secret
    for code in ("976", "06"):
        for ind in ("effectif_31_12", "etp", "masse_salariale_brute", "etablissements_employeurs"):
            assert st[(code, "ess", ind)] == "secret_primaire", (code, ind)
        # one public establishment too: public is primary, so privé hors ESS, privé and ensemble (each the
        # only complement left in its equation) are hidden as well
        assert st[(code, "public", "etp")] == "secret_primaire"
        for champ in ("prive_hors_ess", "prive", "ensemble"):
            assert st[(code, champ, "etp")] == "secret_secondaire", (code, champ)
    france = pub[(pub.niveau == "france") & (pub.champ == "ess") & (pub.indicateur == "effectif_31_12")]
    france = france[(france.famille == "toutes") & (france.secteur == "tous") & (france.tranche == "toutes")]
    france = france[(france.sexe == "tous")]
    assert france[france.pcs == "toutes"].statut.tolist() == ["publie"]
    # and nothing hidden can be recomputed from what is published
    report = audit.audit_warehouse(con)
    con.close()
    assert report.passed, report.summary()


def test_headline_totals_are_published(sample):
    """Secondary suppression protects thin cells with other thin cells: the ESS and privé hors ESS
    headcounts of every région and département of the micro-dataset stay published (none is primary)."""
    pub = pd.read_parquet(sample.vintage_output / "tables" / "indicateurs.parquet")
    head = (pub.indicateur == "effectif_31_12") & pub.niveau.isin(["region", "departement"])
    for dim, total in DEFAULTS.items():
        head &= pub[dim] == total
    for champ in ("ess", "prive_hors_ess"):
        st = pub[head & (pub.champ == champ)].statut
        assert len(st) == 10 and (st == "publie").all(), (champ, st.value_counts().to_dict())


def test_determined_cells_agrees_with_lp_bounds():
    rng = np.random.default_rng(3)
    for _ in range(30):
        # a 3 x 3 table with margins, random values, random hidden cells
        grid = rng.integers(0, 6, size=(3, 3)).astype(float)
        values = {(str(r), str(c)): grid[r, c] for r in range(3) for c in range(3)}
        values.update({(str(r), "t"): grid[r].sum() for r in range(3)})
        values.update({("t", str(c)): grid[:, c].sum() for c in range(3)})
        values[("t", "t")] = grid.sum()
        labels = ["0", "1", "2"]
        eqs = [([(r, c) for c in labels], (r, "t")) for r in [*labels, "t"]]
        eqs += [([(r, c) for r in labels], ("t", c)) for c in [*labels, "t"]]
        for k in list(values):
            if rng.random() < 0.4:
                values[k] = None
        bounds = audit.lp_bounds(values, eqs)
        expected = {c: lo for c, (lo, hi) in bounds.items() if hi - lo <= 1e-6}
        got = audit.determined_cells(values, eqs)
        assert got.keys() == expected.keys()
        assert all(got[c] == pytest.approx(expected[c]) for c in got)


def test_audit_catches_an_age_band_recoverable_by_subtraction(sample):
    original, df = _with_truth(sample)
    try:
        bands = df.indicateur.str.startswith("effectif_age_") & (df.niveau == "departement")
        target = df[bands & (df.statut != "publie")].iloc[0]
        # publish every other hidden cell of its table (same champ and sexe, bands and headcounts)
        table_cells = (df.champ == target.champ) & (df.sexe == target.sexe) & (df.famille == "toutes")
        table_cells &= (df.secteur == "tous") & (df.tranche == "toutes") & (df.pcs == "toutes")
        table_cells &= df.indicateur.str.startswith("effectif_age_") | (df.indicateur == "effectif_31_12")
        others = table_cells & (df.statut != "publie")
        others &= ~(
            (df.code == target.code) & (df.indicateur == target.indicateur) & (df.niveau == target.niveau)
        )
        report = _audit_with_published(sample, df, others)
        hits = [r for r in report.recoverable if "age pyramid" in r and str(target.code) in r]
        assert hits, report.summary()
    finally:
        _republish(sample, original)


def test_audit_catches_a_champ_cell_recoverable_by_subtraction(sample):
    """A hidden cell of a territory's secteur × champ table (e.g. the ESS jobs of one sector) becomes
    recoverable when the other hidden cells of that table are published: ESS = privé − privé hors ESS."""
    original, df = _with_truth(sample)
    try:
        sect = (df.indicateur == "effectif_31_12") & (df.famille == "toutes") & (df.tranche == "toutes")
        sect &= (df.sexe == "tous") & (df.pcs == "toutes") & (df.niveau == "departement")
        target = df[sect & (df.statut != "publie") & (df.secteur != "tous") & (df.champ == "ess")].iloc[0]
        others = sect & (df.code == target.code) & (df.statut != "publie")
        others &= ~((df.secteur == target.secteur) & (df.champ == target.champ))
        report = _audit_with_published(sample, df, others)
        cell = f"('{target.secteur}', 'ess') = {target.valeur_calculee:g}"
        hits = [r for r in report.recoverable if "champs, secteur" in r and target.code in r and cell in r]
        assert hits, report.summary()
    finally:
        _republish(sample, original)


def _champ_cells(sce_units: int):
    """A one-département région (``01`` = ``971``) with its champ totals; the sociétés commerciales de
    l'ESS (``_sce``) count ``sce_units`` establishments."""
    jobs = {"ensemble": 100, "public": 20, "prive": 80, "ess": 30, "prive_hors_ess": 50,
            "ess_loi_2014": 36, "_sce": 6, "_oth": 44}
    units = {"ensemble": 40, "public": 5, "prive": 35, "ess": 10, "prive_hors_ess": 25,
             "ess_loi_2014": 10 + sce_units, "_sce": sce_units, "_oth": 25 - sce_units}
    rows = []
    for niveau, code in (("region", "01"), ("departement", "971")):
        for champ, n in jobs.items():
            rows.append({"niveau": niveau, "code": code, "champ": champ, **DEFAULTS,
                         "n_etab": units[champ], "n_salaries": n, "effectif": n, "etp": float(n),
                         "masse": 1000.0 * n, "s_net": 800.0 * n, "nbheur": 1600.0 * n,
                         "max_effectif": 1, "max_etp": 1.0, "max_masse": 1000.0, "max_s_net": 800.0,
                         "max_nbheur": 1600.0, "max_poste_brut": 1000.0, "max_poste_net": 800.0})
    return pd.DataFrame(rows)


def _champ_publication(cells: pd.DataFrame, hidden: set) -> pd.DataFrame:
    """The headcounts and establishment counts of ``cells``' published champs; ``hidden`` champs secret."""
    pub = cells[~cells.champ.str.startswith("_")]
    pub = pd.concat(
        [
            pub[KEY].assign(indicateur=indicateur, valeur=pub[column].astype(float))
            for indicateur, column in (("effectif_31_12", "effectif"), ("etablissements_employeurs", "n_etab"))
        ],
        ignore_index=True,
    )
    pub["statut"] = np.where(pub.champ.isin(hidden), "secret_secondaire", "publie")
    pub.loc[pub.statut != "publie", "valeur"] = np.nan
    return pub


def test_audit_catches_a_secret_internal_champ_given_away_by_the_legal_perimeter():
    """ESS loi 2014 = ESS + sociétés commerciales de l'ESS: with both totals published, two sociétés
    commerciales (a primary secret never published itself) are given away by subtraction; hiding the
    loi 2014 total protects them (privé hors ESS = sociétés commerciales + the rest, both unknown)."""
    deps = pd.DataFrame({"code_departement": ["971"], "code_region": ["01"]})
    cells = _champ_cells(sce_units=2)
    report = audit.AuditReport()
    audit_tables._lp_checks_champs(_champ_publication(cells, set()), cells, deps, report)
    found = {r.split(": ", 1)[1] for r in report.recoverable}
    # jobs (6) and establishments (2), in the région and in its département
    assert found == {"('971', '_sce') = 6", "('01', '_sce') = 6", "('971', '_sce') = 2", "('01', '_sce') = 2"}
    report = audit.AuditReport()
    audit_tables._lp_checks_champs(_champ_publication(cells, {"ess_loi_2014"}), cells, deps, report)
    assert report.recoverable == []
    assert report.hidden_checked == 8  # (2 loi 2014 + 2 sociétés commerciales) × jobs, establishments
    # with three sociétés commerciales the subtraction gives nothing secret away
    cells = _champ_cells(sce_units=3)
    report = audit.AuditReport()
    audit_tables._lp_checks_champs(_champ_publication(cells, set()), cells, deps, report)
    assert report.recoverable == []


def test_a_territory_without_ess_gives_its_prive_hors_ess_away_by_its_prive_total():
    """No ESS employer: the table has no ESS cell there, a known 0 (and the EPCI portraits print it), so the
    privé hors ESS total is the privé total. Published privé and hidden privé hors ESS: the audit recovers the
    hidden one; with the privé total hidden as well (and the public one, which the ensemble would give), not."""
    deps = pd.DataFrame({"code_departement": ["971"], "code_region": ["01"]})
    cells = _champ_cells(sce_units=3)
    cells = cells[cells.champ != "ess"].copy()
    for champ, jobs, units in (("prive_hors_ess", 80, 35), ("ess_loi_2014", 6, 3), ("_oth", 74, 32)):
        cells.loc[cells.champ == champ, ["effectif", "n_salaries", "n_etab"]] = [jobs, jobs, units]
    report = audit.AuditReport()
    audit_tables._lp_checks_champs(_champ_publication(cells, {"prive_hors_ess"}), cells, deps, report)
    found = {r.split(": ", 1)[1] for r in report.recoverable}
    assert {"('971', 'prive_hors_ess') = 80", "('971', 'prive_hors_ess') = 35"} <= found, report.recoverable
    report = audit.AuditReport()
    hidden = {"prive_hors_ess", "prive", "public"}
    audit_tables._lp_checks_champs(_champ_publication(cells, hidden), cells, deps, report)
    assert report.recoverable == []


def test_protection_finds_the_same_fixed_cells_as_the_audit_lp():
    """The protection's test of a 2-D table (pivoted QR on the hidden columns, one LP for cells worth 0)
    and the audit's min/max LPs agree on which hidden cells are fixed, on random 3 × 3 tables."""
    rng = np.random.default_rng(11)
    labels = ["0", "1", "2", "t"]
    pos = {(r, c): 4 * i + j for i, r in enumerate(labels) for j, c in enumerate(labels)}
    rows = [(pos[(r, "t")], [pos[(r, c)] for c in labels[:3]]) for r in labels]
    rows += [(pos[("t", c)], [pos[(r, c)] for r in labels[:3]]) for c in labels]
    eqs = [([(r, c) for c in labels[:3]], (r, "t")) for r in labels]
    eqs += [([(r, c) for r in labels[:3]], ("t", c)) for c in labels]
    for _ in range(40):
        grid = np.zeros((4, 4))
        grid[:3, :3] = rng.integers(0, 4, size=(3, 3))
        grid[:3, 3], grid[3, :3] = grid[:3, :3].sum(axis=1), grid[:3, :3].sum(axis=0)
        grid[3, 3] = grid[:3, :3].sum()
        value = grid.ravel()
        hidden = rng.random(16) < 0.45
        values = {k: (None if hidden[p] else float(value[p])) for k, p in pos.items()}
        fixed_lp = {pos[k] for k, (lo, hi) in audit.lp_bounds(values, eqs).items() if hi - lo <= 1e-6}
        got = repair._determined(np.arange(16), rows, hidden, np.zeros(16, bool), value)
        assert set(got.tolist()) == fixed_lp


def test_free_cells_are_never_determined_and_clear_most_cells():
    """Every cell :func:`free_cells` clears has a range above EXACT (min/max LPs), on random 3 × 3 tables with
    zeros (cells 0 in every solution used to make it clear nothing); and it clears most of the free ones."""
    rng = np.random.default_rng(5)
    labels = ["0", "1", "2"]
    eqs = [([(r, c) for c in labels], (r, "t")) for r in [*labels, "t"]]
    eqs += [([(r, c) for r in labels], ("t", c)) for c in [*labels, "t"]]
    cleared = missed = 0
    for _ in range(60):
        grid = rng.integers(0, 6, size=(3, 3)).astype(float)
        grid[rng.random((3, 3)) < 0.3] = 0.0
        values = {(str(r), str(c)): grid[r, c] for r in range(3) for c in range(3)}
        values.update({(str(r), "t"): grid[r].sum() for r in range(3)})
        values.update({("t", str(c)): grid[:, c].sum() for c in range(3)})
        values[("t", "t")] = grid.sum()
        for k in list(values):
            if rng.random() < 0.45:
                values[k] = None
        bounds = audit.lp_bounds(values, eqs)
        free = audit.free_cells(values, eqs)
        for cell in free:
            lo, hi = bounds[cell]
            assert hi - lo > 1e-6, (cell, lo, hi, values)
        really_free = {c for c, (lo, hi) in bounds.items() if hi - lo > 1e-6}
        cleared += len(free)
        missed += len(really_free - free)
    assert cleared > 0 and missed <= cleared // 10, (cleared, missed)


# ------------------------------------------------------------------ intervals against protection levels
def _one_cell_table(value: float, largest: float, complement: float, complement_largest: float):
    """A département whose headcount by sex is published as a total only: men (primary, ``value``, largest
    establishment ``largest``) and women (secondary, ``complement``) hidden."""
    from observatory.audit.tables import Table2D

    values = {("01", "H"): None, ("01", "F"): None, ("01", "tous"): value + complement}
    table = Table2D("effectif_31_12", "ess", "sexe", "84", values, [([("01", "H"), ("01", "F")], ("01", "tous"))])
    rows = [
        (table.key(("01", "H")), "secret_primaire", value, largest),
        (table.key(("01", "F")), "secret_secondaire", complement, complement_largest),
    ]
    frame = pd.DataFrame([dict(zip(KEY, k, strict=True)) for k, *_ in rows])
    published = frame.assign(indicateur="effectif_31_12", statut=[r[1] for r in rows], valeur=np.nan)
    cells = frame.assign(effectif=[r[2] for r in rows], max_effectif=[r[3] for r in rows])
    return table, published, cells


@pytest.mark.parametrize(
    ("value", "largest", "complement", "narrow"),
    [
        # dominance: 95 of 100 jobs in one establishment; level 95 / 0.85 − 100 = 11.76 jobs each side
        (100, 95, 5, True),  # bounded to [0, 105]: 5 jobs above the true value, the largest is estimated well
        (100, 95, 11, True),  # [0, 111]: still under 11.76
        (100, 95, 12, False),  # [0, 112]
        # not dominant (frequency or another rule): 10 % of the value, 4 jobs on a cell of 40
        (40, 30, 3, True),
        (40, 30, 4, False),
    ],
)
def test_a_primary_cell_bounded_closer_than_its_protection_level_is_reported(value, largest, complement, narrow):
    from observatory.audit.intervals import narrow_intervals, protection_level

    table, published, cells = _one_cell_table(value, largest, complement, complement_largest=1)
    checked, found = narrow_intervals([table], published, cells)
    assert checked == 1
    assert len(found) == int(narrow), found
    if narrow:
        level = protection_level(value, largest)
        assert f"[0, {value + complement:g}]" in found[0] and f"±{level:.1f}" in found[0]


def test_protection_levels_are_insee_nk_1_85_and_ten_percent():
    from observatory.audit.intervals import protection_level

    assert protection_level(100, 95) == pytest.approx(95 / 0.85 - 100)
    assert protection_level(100, 85) == pytest.approx(10.0)  # exactly 85 %: not dominant, the safety range
    assert protection_level(0, 0) == 0.0


def _region_table(rng, deps, cats, high):
    """A région table with random cells: its true values (margins included) and its equations."""
    truth = {(d, c): float(rng.integers(0, high)) for d in deps for c in cats}
    for d in deps:
        truth[(d, "t")] = sum(truth[(d, c)] for c in cats)
    for c in [*cats, "t"]:
        truth[("R", c)] = sum(truth[(d, c)] for d in deps)
    eqs = [([(g, c) for c in cats], (g, "t")) for g in [*deps, "R"]]
    eqs += [([(d, c) for d in deps], ("R", c)) for c in [*cats, "t"]]
    return truth, eqs


def test_short_of_equals_one_lp_per_cell_on_a_region_table():
    """The one-LP-for-all shortcut gives the same cells and bounds as a min and a max LP per cell."""
    from observatory.audit.lp import lp_bounds, short_of

    truth, eqs = _region_table(np.random.default_rng(3), ["a", "b", "c", "d"], ["x", "y", "z"], 60)
    hidden = {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("c", "z"), ("d", "z")}
    values = {k: (None if k in hidden else v) for k, v in truth.items()}
    up = {c: truth[c] + 7 for c in hidden}
    down = {c: truth[c] - min(7, truth[c]) for c in hidden}
    full = lp_bounds(values, eqs)
    expected = {c: b for c, b in full.items() if b[1] < up[c] or b[0] > down[c]}
    got = short_of(values, eqs, up, down)
    assert got.keys() == expected.keys()
    for c in got:
        assert got[c] == pytest.approx(expected[c])


def test_observatory_audit_bounds_the_intervals_of_the_micro_publication(sample, clean_report):
    """On the micro publication: every hidden primary headcount of the 2-D tables is bounded, none closer than
    its level after the protection; a line saying so makes the audit fail (blocking)."""
    report = copy.deepcopy(clean_report)
    assert report.passed, report.summary()
    assert report.interval_checked > 0 and report.interval_narrow == []
    assert "protection level" in report.summary() and "10 %; blocking" in report.summary()
    plain = audit.audit_publication(sample, intervals=False)
    assert plain.interval_checked == 0 and plain.interval_narrow == []
    report.interval_narrow = ["hidden primary headcount bounded to [95, 105] (ess, secteur): ..."]
    assert not report.passed


def test_short_of_many_equals_short_of_table_by_table():
    """The tables solved as blocks of one LP per side (then again for the cells left) give the same cells and
    bounds as :func:`short_of` on each table, on random région tables with random hidden patterns."""
    from observatory.audit.lp import short_of, short_of_many

    rng = np.random.default_rng(8)
    deps, cats = ["a", "b", "c"], ["x", "y", "z", "w"]
    systems, found = [], 0
    for _ in range(25):
        truth, eqs = _region_table(rng, deps, cats, 40)
        hidden = {k for k in truth if rng.random() < 0.35}
        values = {k: (None if k in hidden else v) for k, v in truth.items()}
        level = {c: float(rng.integers(1, 12)) for c in hidden}
        up = {c: truth[c] + level[c] for c in hidden}
        down = {c: truth[c] - min(level[c], truth[c]) for c in hidden}
        systems.append((values, eqs, up, down))
    for system, got in zip(systems, short_of_many(systems), strict=True):
        expected = short_of(*system)
        assert got.keys() == expected.keys()
        for c in got:
            assert got[c] == pytest.approx(expected[c])
        found += len(got)
    assert found > 5  # the random tables do have cells bounded too closely


def test_mean_pay_of_too_few_contributors_is_hidden_and_the_audit_checks_it(sample):
    """The mean pay figures count their own contributors (issue #11): where a cell's magnitudes pass every
    rule (at least 3 establishments with pay) but only 1 or 2 establishments have pay in the pay field (the
    others pay only apprentices or annex jobs), its mean pay is hidden, primary, while its headcount is not
    primary. Published anyway, the audit finds it — by that rule alone."""
    con = connect(sample.warehouse, read_only=True)
    cells = con.table("ind.cellules").df().merge(con.table("ind.masque").df(), on=KEY)
    con.close()
    original, df = _with_truth(sample)
    few = cells[cells.freq_salaire.between(1, 2) & (cells.s_montant != 2)][KEY]
    rows = df.merge(few, on=KEY)
    pay = rows[rows.indicateur == "salaire_brut_annuel_moyen_etp"]
    assert len(pay) > 0 and (pay.statut == "secret_primaire").all()
    head = rows[rows.indicateur == "effectif_31_12"]
    assert len(head) == len(pay) and not (head.statut == "secret_primaire").any()
    planted = pay.iloc[0]
    i = df.index[
        (df[KEY] == planted[KEY]).all(axis=1) & (df.indicateur == "salaire_brut_annuel_moyen_etp")
    ][0]
    try:
        df.loc[i, ["statut", "valeur"]] = ["publie", df.loc[i, "valeur_calculee"]]
        _republish(sample, df.drop(columns="valeur_calculee"))
        report = audit.audit_publication(sample, intervals=False)
        assert not report.passed
        assert report.violations == [
            f"published cell breaks a primary rule: {tuple(planted[KEY])} salaire_brut_annuel_moyen_etp"
        ]
    finally:
        _republish(sample, original)


def test_audit_bounds_the_etp_of_a_sector_along_the_champ_tree(sample, clean_report):
    """The champ tables crossed with a breakdown (issue #11): a hidden ETP of one champ in one sector of a
    département, whose other champs of that sector are all published, is known to the publication precision
    through the champ tree alone (ess = privé − privé hors ESS) — a relation that neither the one-champ tables
    nor the territory systems hold. Published as planted, the audit finds it there; as protected, it does
    not."""
    original, df = _with_truth(sample)
    flat = (df.famille == "toutes") & (df.tranche == "toutes") & (df.sexe == "tous") & (df.pcs == "toutes")
    etp = df[flat & (df.indicateur == "etp") & (df.secteur != "tous") & (df.niveau == "departement")]
    # a primary ETP large enough that ±1 (two published values rounded to the unit) is inside its level
    hidden = etp[(etp.champ == "ess") & (etp.statut == "secret_primaire") & (etp.valeur_calculee >= 20)]
    # a sector whose other champs are published or secondary: publishing those breaks no primary rule
    target = next(
        t
        for t in hidden.itertuples()
        if not (
            (etp.code == t.code) & (etp.secteur == t.secteur) & (etp.champ != "ess")
            & (etp.statut == "secret_primaire")
        ).any()
    )
    same = etp[(etp.code == target.code) & (etp.secteur == target.secteur)]
    others = same.index[(same.champ != "ess") & (same.statut != "publie")]
    assert len(others) > 0
    try:
        report = _audit_with_published(sample, df, others)
        lines = [line for line in report.rounded_narrow if "champs, secteur" in line]
        assert not report.passed and lines
        assert any(f"'{target.code}', 'ess', 'toutes', '{target.secteur}'" in line for line in lines), lines
    finally:
        _republish(sample, original)
    assert clean_report.passed and not [line for line in clean_report.rounded_narrow if "champs" in line]
