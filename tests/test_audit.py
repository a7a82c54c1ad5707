"""The independent secrecy audit: passes on a protected publication, catches what it must."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory import secrecy
from observatory.warehouse import connect
from tests.test_indicators import publish_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return publish_sample(tmp_path_factory.mktemp("audit"))


def test_protected_publication_passes_the_audit(sample):
    report = secrecy.audit_publication(sample)
    assert report.passed, report.summary()
    assert report.published_checked > 1000
    assert report.tables_checked > 10 and report.hidden_checked > 50  # secondary cells really were bounded


def _republish(settings, df):
    df.to_parquet(settings.vintage_output / "tables" / "indicateurs.parquet", index=False)


def test_audit_catches_a_primary_cell_published(sample):
    table = sample.vintage_output / "tables" / "indicateurs.parquet"
    original = pd.read_parquet(table)
    try:
        df = original.copy()
        i = df.index[(df.statut == "secret_primaire") & (df.indicateur == "effectif_31_12")][0]
        df.loc[i, ["statut", "valeur"]] = ["publie", 1.0]
        _republish(sample, df)
        report = secrecy.audit_publication(sample)
        assert not report.passed
        assert any("primary rule" in v for v in report.violations)
    finally:
        _republish(sample, original)


def test_audit_catches_a_hidden_cell_recoverable_by_subtraction(sample):
    table = sample.vintage_output / "tables" / "indicateurs.parquet"
    original = pd.read_parquet(table)
    con = connect(sample.warehouse, read_only=True)
    truth = con.table("ind.indicateurs").df()
    con.close()
    try:
        key = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs", "indicateur"]
        df = original.merge(truth[[*key, "valeur_calculee"]], on=key)
        sect = (df.indicateur == "effectif_31_12") & (df.famille == "toutes") & (df.tranche == "toutes")
        sect &= (df.sexe == "tous") & (df.pcs == "toutes") & df.niveau.isin(["region", "departement"])
        target = df[sect & (df.statut == "secret_primaire") & (df.secteur != "tous")].iloc[0]
        # publish, with their true values, every other hidden cell of that champ's secteur tables
        others = sect & (df.champ == target.champ) & (df.statut != "publie")
        others &= ~((df.code == target.code) & (df.secteur == target.secteur))
        df.loc[others, "valeur"] = df.loc[others, "valeur_calculee"]
        df.loc[others, "statut"] = "publie"
        _republish(sample, df.drop(columns="valeur_calculee"))
        report = secrecy.audit_publication(sample)
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
    assert secrecy.lp_bounds(one, eqs)[("a", 1)] == pytest.approx((3.0, 3.0))
    four = {**values, **dict.fromkeys([("a", 1), ("a", 2), ("b", 1), ("b", 2)])}
    lo, hi = secrecy.lp_bounds(four, eqs)[("a", 1)]
    assert lo == pytest.approx(1.0) and hi == pytest.approx(4.0) and np.isfinite(hi)
