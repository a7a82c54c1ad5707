"""Secrecy across products: the baromètre's year-end quarter protected jointly with the annual table.

A hand-made micro case: Bretagne (53), four départements of three ESS associations (sector ASS) and three
private firms outside the ESS (sector COM) each, no primary secret in the baromètre. The annual table of
2023 is written by hand into ``ind.indicateurs`` (what the annual job leaves in the warehouse), on the
baromètre's cells: it hides some of them and publishes the others, with the baromètre's value (the same
figure) or another one (the two sources differ).
"""

from __future__ import annotations

import pandas as pd
import pytest

from observatory import audit, barometre
from observatory.config import Settings
from observatory.warehouse import connect, run_sql

QUARTERS = [f"{y}-T{n}" for y in (2022, 2023) for n in (1, 2, 3, 4)]
ESS = {"35": (10, 12, 14), "29": (11, 13, 15), "22": (9, 10, 11), "56": (8, 9, 12)}
PHE = {"35": (20, 22, 24), "29": (21, 23, 25), "22": (30, 31, 32), "56": (26, 27, 28)}
KEY = ["niveau", "code", "champ", "famille", "secteur"]
ESS_35 = ("departement", "35", "ess", "toutes", "tous")
ESS_29 = ("departement", "29", "ess", "toutes", "tous")
HIDDEN = ("secret_primaire", "secret_secondaire")


def make_warehouse():
    con = connect(None)
    con.execute(
        "CREATE OR REPLACE TABLE ess.etablissements (siret VARCHAR, siren VARCHAR, code_departement VARCHAR, "
        "code_region VARCHAR, secteur VARCHAR, famille_ess VARCHAR, ess BOOLEAN, public BOOLEAN)"
    )
    con.execute(
        "CREATE OR REPLACE TABLE staging.effectifs_trimestriels (siret VARCHAR, trimestre VARCHAR, "
        "effectif_fin_trimestre INTEGER, masse_salariale DOUBLE)"
    )
    for kind, sizes, secteur, famille, ess in (
        ("E", ESS, "ASS", "association", True),
        ("P", PHE, "COM", "hors_ess", False),
    ):
        for dep, values in sizes.items():
            for i, v in enumerate(values):
                siret = f"{kind}{dep}{i}"
                con.execute(
                    "INSERT INTO ess.etablissements VALUES (?, ?, ?, '53', ?, ?, ?, false)",
                    [siret, siret, dep, secteur, famille, ess],
                )
                con.executemany(
                    "INSERT INTO staging.effectifs_trimestriels VALUES (?, ?, ?, ?)",
                    [(siret, q, v, 1000.0 * v) for q in QUARTERS],
                )
    return con


def year_end_cells(settings) -> pd.DataFrame:
    """The baromètre's cells of 2023-T4 built without an annual table (the grid and the values)."""
    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")
    cells = con.table("ind.barometre_cellules").df()
    con.close()
    return cells[cells.trimestre == "2023-T4"].reset_index(drop=True)


def annual_table(cells: pd.DataFrame, hidden: dict, same: set) -> pd.DataFrame:
    """``effectif_31_12`` of the annual table on the baromètre's cells: ``hidden`` {key: statut}; the cells
    of ``same`` published with the baromètre's value, every other cell published with another (+1000)."""
    rows = []
    for r in cells[cells.statut != "non_disponible"].itertuples(index=False):
        k = (r.niveau, r.code, r.champ, r.famille, r.secteur)
        statut = hidden.get(k, "publie")
        published = float(r.value) if k in same else float(r.value) + 1000
        rows.append(
            {
                "millesime": 2023,
                **dict(zip(KEY, k)),
                "tranche": "toutes",
                "sexe": "tous",
                "pcs": "toutes",
                "indicateur": "effectif_31_12",
                "statut": statut,
                "valeur": published if statut == "publie" else None,
                "valeur_calculee": float(r.value),
            }
        )
    return pd.DataFrame(rows)


def build_with_annual(settings, annual: pd.DataFrame | None):
    """Build the baromètre of 2023-S2 with ``annual`` as the warehouse's annual table; returns the 2023-T4
    cells' statut and value (indexed by the cell key), the published table and the result."""
    con = make_warehouse()
    if annual is not None:
        con.register("_annual", annual)
        con.execute("CREATE TABLE ind.indicateurs AS SELECT * FROM _annual")
    result = barometre.build_barometre(con, settings, "2023-S2")
    cells = con.table("ind.barometre_cellules").df()
    table = con.table("ind.barometre").df()
    deps = con.table("ref.departements").df()
    con.close()
    q4 = cells[cells.trimestre == "2023-T4"].set_index(KEY)
    return q4, table, deps, result


def totals_bounds(q4: pd.DataFrame, cell: tuple) -> tuple[float, float]:
    """Min and max of a hidden total of Bretagne's year-end quarter, stated by hand: for each champ, région =
    Σ départements; for each territory, privé = ESS + privé hors ESS; every published total known."""
    terr = [("region", "53")] + [("departement", d) for d in ESS]
    champs = ("ess", "prive_hors_ess", "prive")
    values = {
        (n, c, ch): (
            None
            if q4.statut[(n, c, ch, "toutes", "tous")] in HIDDEN
            else float(q4.value[(n, c, ch, "toutes", "tous")])
        )
        for n, c in terr
        for ch in champs
    }
    eqs = [([("departement", d, ch) for d in ESS], ("region", "53", ch)) for ch in champs]
    eqs += [([(n, c, "ess"), (n, c, "prive_hors_ess")], (n, c, "prive")) for n, c in terr]
    return audit.lp_bounds(values, eqs, cells=[cell[:3]])[cell[:3]]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)


def test_a_cell_hidden_by_the_annual_table_is_hidden_in_the_year_end_quarter(settings):
    cells = year_end_cells(settings)
    # without an annual table: nothing is secret in Bretagne (3 establishments everywhere, no dominance)
    q4, _, _, _ = build_with_annual(settings, None)
    assert not q4.statut.isin(HIDDEN).any()
    # the annual table hides Ille-et-Vilaine's ESS (primary); it publishes the rest with other values
    annual = annual_table(cells, {ESS_35: "secret_primaire"}, same=set())
    q4, table, deps, result = build_with_annual(settings, annual)
    assert q4.statut[ESS_35] == "secret_secondaire"  # forced, not a baromètre primary
    # its one sector (ASS) and one family (association) are the same figure: hidden with it
    assert q4.statut[("departement", "35", "ess", "association", "tous")] in HIDDEN
    assert q4.statut[("departement", "35", "ess", "toutes", "ASS")] in HIDDEN
    # and it cannot be recomputed: its feasible interval (hand-stated equations) holds 36 and is wide
    lo, hi = totals_bounds(q4, ESS_35)
    assert lo < 10 + 12 + 14 < hi and hi - lo >= 10
    assert result["protection_conjointe"]["cellules_masquees_par_la_table_annuelle"] == 1
    # the other quarters are protected on their own: nothing hidden in 2023-T3
    t3 = table[(table.trimestre == "2023-T3") & (table.indicateur == "effectif_fin_trimestre")]
    assert set(t3.statut) <= {"publie", "non_disponible"}
    # the changes inherit: Ille-et-Vilaine's ESS net jobs of 2023-T4 are secret
    solde = table[(table.indicateur == "solde_annuel") & (table.trimestre == "2023-T4")]
    solde = solde.set_index(KEY).statut
    assert solde[ESS_35] == "secret_secondaire" and solde[ESS_29] in ("publie", *HIDDEN)
    assert audit.audit_barometre(table, deps).passed


def test_a_cell_published_by_the_annual_table_is_never_a_complement(settings):
    cells = year_end_cells(settings)
    forced = {ESS_35: "secret_primaire"}
    # reference: nothing known; the région's equation takes other départements' ESS as complements
    # (Finistère's and Morbihan's)
    q4_ref, _, _, _ = build_with_annual(settings, annual_table(cells, forced, same=set()))
    ess = [("departement", d, "ess", "toutes", "tous") for d in ("22", "29", "56")]
    chosen = [k for k in ess if q4_ref.statut[k] in HIDDEN]
    assert chosen, q4_ref.statut[ess]
    # now the annual table publishes that complement with the baromètre's value: public already
    same = {k for k in map(tuple, cells[KEY].itertuples(index=False)) if k[:2] == chosen[0][:2]}
    q4, _, _, result = build_with_annual(settings, annual_table(cells, forced, same=same))
    assert result["protection_conjointe"]["cellules_publiees_par_la_table_annuelle"] == len(same)
    for k in same:  # kept published, with its value
        assert q4.statut[k] == "publie", k
    assert q4.statut[ESS_35] == "secret_secondaire"
    others = [k for k in ess if k != chosen[0]]
    assert any(q4.statut[k] in HIDDEN for k in others)  # another complement took its place
    lo, hi = totals_bounds(q4, ESS_35)
    assert lo < 36 < hi
    # across products: nothing hidden here is published there with its value, nothing recoverable
    assert result["audit_croise"] == {
        "cellules": len(cells) - int((cells.statut == "non_disponible").sum()),
        "divulgations": 0,
    }


def _year_end(table: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """The published baromètre's 2023-T4 headcounts with the computed values (what the audit reads)."""
    t = table[(table.indicateur == "effectif_fin_trimestre") & (table.trimestre == "2023-T4")]
    return t[[*KEY, "statut", "valeur"]].merge(
        cells[[*KEY, "value"]].rename(columns={"value": "valeur_calculee"}), on=KEY
    )


def test_audit_catches_a_year_end_cell_published_while_the_annual_table_hides_it(settings):
    cells = year_end_cells(settings)
    _, table, deps, _ = build_with_annual(settings, None)
    year_end = _year_end(table, cells)
    annual = annual_table(cells, {ESS_35: "secret_primaire", ESS_29: "secret_secondaire"}, same=set())
    # the baromètre built without the annual table publishes both: each gives an annual secret away
    report = audit.audit_barometre_annual(year_end, annual, deps, "2023-T4")
    assert report.cross_product_checked == len(annual)
    assert len(report.cross_product_findings) == 2
    assert any(
        "annual table (secret_primaire)" in f and "departement 35, ess" in f and "= 36" in f
        for f in report.cross_product_findings
    ), report.cross_product_findings
    assert not report.passed  # blocking (the default) ...
    report.cross_product_blocking = False
    assert report.passed  # ... unless asked to report only


def test_audit_catches_a_hidden_cell_whose_complement_the_annual_table_publishes(settings):
    cells = year_end_cells(settings)
    _, table, deps, _ = build_with_annual(settings, None)
    year_end = _year_end(table, cells)
    # plant a baromètre that hides Ille-et-Vilaine's ESS with Finistère's as its only complement (and their
    # family and sector cells, the same figures): protected on its own ...
    pair = year_end.code.isin(["35", "29"]) & (year_end.niveau == "departement") & (year_end.champ == "ess")
    year_end.loc[pair, ["statut", "valeur"]] = ["secret_secondaire", None]
    values = cells.set_index(KEY).value
    # ... while the annual table publishes Finistère's ESS with the same value (39)
    annual = annual_table(cells, {}, same={ESS_29})
    report = audit.audit_barometre_annual(year_end, annual, deps, "2023-T4")
    assert values[ESS_29] == 39
    told = [f for f in report.cross_product_findings if "hidden in the baromètre" in f]
    expected = (
        "cell hidden in the baromètre (2023-T4, secret_secondaire) and published by the annual table with its "
        "value: (departement 29, ess, toutes, tous) = 39"
    )
    assert told == [expected]
    recovered = [f for f in report.cross_product_findings if "using the annual table" in f]
    # Ille-et-Vilaine's ESS (10 + 12 + 14) follows from the région's equation
    assert any("('35', 't') = 36" in f for f in recovered), report.cross_product_findings
    # the same baromètre against an annual table whose Finistère figure differs: nothing to find
    report = audit.audit_barometre_annual(year_end, annual_table(cells, {}, same=set()), deps, "2023-T4")
    assert report.cross_product_findings == []


def test_observatory_audit_sets_the_published_barometre_against_the_published_annual_table(settings):
    """``observatory audit`` (:func:`audit.audit_publication`) runs the cross-product check on the published
    files: here a baromètre built without the annual table publishes Ille-et-Vilaine's ESS, which the
    annual table hides."""
    from observatory.audit.run import _across_products

    cells = year_end_cells(settings)
    annual = annual_table(cells, {ESS_35: "secret_primaire"}, same=set())
    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")  # published under output/2023/barometre/2023-S2
    con.register("_annual", annual)
    con.execute("CREATE TABLE ind.indicateurs AS SELECT * FROM _annual")
    report = audit.AuditReport()
    _across_products(annual.drop(columns="valeur_calculee"), con, settings, report)
    con.close()
    assert report.cross_product_checked == len(annual)
    assert len(report.cross_product_findings) == 1
    assert "(departement 35, ess, toutes, tous) = 36" in report.cross_product_findings[0]
    summary = report.summary()
    assert "across products (baromètre year-end quarter against the annual table; blocking)" in summary
    assert not report.passed


# ------------------------------------------------------------------ the annual protection takes the baromètre's


def _plant_dominance(con, sirets: list[str], shares: list[int], trimestre: str = "2023-T4") -> None:
    """Rewrite the headcounts of ``sirets`` at ``trimestre``: same total, one establishment dominant."""
    for siret, v in zip(sirets, shares, strict=True):
        con.execute(
            "UPDATE staging.effectifs_trimestriels SET effectif_fin_trimestre = ? WHERE siret = ? AND trimestre = ?",
            [v, siret, trimestre],
        )


def test_blocking_cross_product_audit_stops_the_barometre_and_keeps_the_previous_publication(settings):
    """A baromètre primary published by the annual table with its value (an annual table protected without
    it) stops the build with one line, and the baromètre published before is left as it was."""
    cells = year_end_cells(settings)  # publishes output/2023/barometre/2023-S2 (nothing secret)
    folder = barometre.barometre_dir(settings, "2023-S2")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"indicateurs.parquet", "indicateurs.csv", "cout_du_secret.json"}
    con = make_warehouse()
    # Ille-et-Vilaine's ESS at 2023-T4: 10 + 12 + 14 = 36 becomes 34 + 1 + 1 = 36 (same figure, 34 > 0.85 × 36)
    _plant_dominance(con, ["E350", "E351", "E352"], [34, 1, 1])
    # an annual table protected without the baromètre's primaries: it publishes Ille-et-Vilaine's ESS with
    # the baromètre's value (36), the other cells with other values
    annual = annual_table(cells, {}, same={ESS_35})
    con.register("_annual", annual)
    con.execute("CREATE TABLE ind.indicateurs AS SELECT * FROM _annual")
    with pytest.raises(barometre.BarometreError) as err:
        barometre.build_barometre(con, settings, "2023-S2")
    q4 = con.table("ind.barometre_cellules").df().query("trimestre == '2023-T4'").set_index(KEY)
    con.close()
    assert tuple(q4.loc[ESS_35, ["freq", "value", "max"]]) == (3, 36, 34)
    assert q4.statut[ESS_35] == "secret_primaire"
    message = str(err.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith("baromètre 2023-S2: secrecy across products failed, ")
    # the cell itself, then its one family and sector (and their champ cells), recovered from it
    assert "5 cell(s) of 2023-T4 disclosed against the annual table 2023" in message
    assert message.endswith(
        "first: cell hidden in the baromètre (2023-T4, secret_primaire) and published by the annual table with "
        "its value: (departement 35, ess, toutes, tous) = 36"
    ), message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.fixture(scope="module")
def micro_joint(tmp_path_factory):
    """The micro-dataset (``tests.test_indicators``) with a quarterly file that agrees with the annual one
    (every establishment's headcount at 31/12 in each quarter of 2022 and 2023), protected twice: as is,
    and with the planted case — the Cher's foundations at 2023-T4 (five establishments, 87 jobs, largest 46)
    redistributed 83 + 1 + 1 + 1 + 1 = 87 in the quarterly file: the same figure, dominant in the baromètre
    (83 > 0.85 × 87) and not in the annual table (46 of 87)."""
    from observatory.indicators import build_indicators
    from tests.test_indicators import build_micro

    out = {}
    for planted in (False, True):
        root = tmp_path_factory.mktemp("joint")
        con = connect(root / "w.duckdb")
        frames = build_micro(con)
        etabs = frames["etablissements_employeurs"]
        con.execute(
            "CREATE OR REPLACE TABLE ess.etablissements AS SELECT siret, siren, code_departement, code_region,"
            " secteur, famille_ess, ess, public FROM ess.etablissements_employeurs"
        )
        con.execute(
            "CREATE OR REPLACE TABLE staging.effectifs_trimestriels (siret VARCHAR, trimestre VARCHAR,"
            " effectif_fin_trimestre INTEGER, masse_salariale DOUBLE)"
        )
        rows = [(r.siret, q, int(r.effectif_31_12), 0.0) for r in etabs.itertuples() for q in QUARTERS]
        con.register("quarterly", pd.DataFrame(rows))  # one INSERT: executemany took 2.7 s for these 4 800 rows
        con.execute("INSERT INTO staging.effectifs_trimestriels SELECT * FROM quarterly")
        con.unregister("quarterly")
        cell = etabs[(etabs.code_departement == "18") & (etabs.famille_ess == "fondation") & etabs.ess]
        cell = cell[cell.effectif_31_12 > 0].sort_values(["effectif_31_12", "siret"], ascending=[False, True])
        if planted:
            _plant_dominance(con, list(cell.siret), [83, 1, 1, 1, 1])
        settings = Settings(output_dir=root / "output", warehouse=root / "w.duckdb", millesime=2023)
        counts = build_indicators(con, settings)
        run_sql(con, "indicators/publication.sql")
        out[planted] = (con, settings, counts, frames, cell)
    yield out
    for con, *_ in out.values():
        con.close()


FON_18 = ("departement", "18", "ess", "fondation", "tous")


def _annual_headcount(con, key) -> tuple[str, float | None]:
    return con.execute(
        "SELECT statut, valeur FROM ind.indicateurs WHERE indicateur = 'effectif_31_12' AND niveau = ?"
        " AND code = ? AND champ = ? AND famille = ? AND secteur = ? AND tranche = 'toutes' AND sexe = 'tous'"
        " AND pcs = 'toutes'",
        list(key),
    ).fetchall()[0]


def test_a_barometre_primary_is_primary_in_the_annual_table_and_hidden_in_both(micro_joint):
    con, settings, counts, frames, cell = micro_joint[False]
    # by hand: five foundations in the Cher with jobs at 31/12, 87 jobs, the largest 46
    assert list(cell.effectif_31_12) == [46, 25, 8, 7, 1]
    p = frames["postes"]
    jobs = p[(p.code_departement == "18") & (p.famille_ess == "fondation") & p.ess].present_31_12.sum()
    assert jobs == 87
    # quarterly file agreeing with the annual one: the annual table publishes the cell (its own rules)
    assert _annual_headcount(con, FON_18) == ("publie", 87.0)
    assert FON_18 not in set(barometre.year_end_primaries(con, 2023).set_index(KEY).index)
    # (the two rule sets differ even on agreeing sources: a few baromètre primaries are new to the annual table)
    n_before = counts["masque_montant_primaires_autre_produit"]
    b = barometre.build_barometre(con, settings, "2023-S2")
    assert b["audit_croise"]["divulgations"] == 0

    con, settings, counts, _, _ = micro_joint[True]
    # the planted quarter: the baromètre's own rule makes the cell primary (83 > 0.85 × 87) ...
    primaries = barometre.year_end_primaries(con, 2023).set_index(KEY)
    assert tuple(primaries.loc[FON_18, ["freq", "value", "max"]]) == (5, 87, 83)
    # ... so the annual protection takes it as primary, whatever its own rules say, with complements around it
    assert _annual_headcount(con, FON_18) == ("secret_primaire", None)
    assert counts["masque_montant_primaires_autre_produit"] > n_before
    # the annual audit (its own code, from the microdata) finds it neither published nor recoverable
    from observatory.audit.run import audit_warehouse

    report = audit_warehouse(con)
    assert report.passed, report.summary()
    # the baromètre: primary by its rule, nothing disclosed against the annual table (blocking check passed)
    b = barometre.build_barometre(con, settings, "2023-S2")
    q4 = con.table("ind.barometre_cellules").df().query("trimestre == '2023-T4'").set_index(KEY)
    assert q4.statut[FON_18] == "secret_primaire"
    assert tuple(q4.loc[FON_18, ["freq", "value", "max"]]) == (5, 87, 83)
    assert b["audit_croise"]["divulgations"] == 0
    # the two masks agree: every cell the annual table hides is hidden in the year-end quarter, and no cell
    # hidden there is published by the annual table with the same figure
    annual = barometre.annual_headcounts(con, 2023).set_index(KEY)
    m = q4[q4.statut != "non_disponible"].merge(
        annual, left_index=True, right_index=True, how="inner", suffixes=("", "_a")
    )
    assert len(m) > 100 and (m.statut_a == "secret_primaire").sum() >= 1
    assert m[m.statut_a.isin(HIDDEN)].statut.isin(HIDDEN).all()
    told = m.statut.isin(HIDDEN) & (m.statut_a == "publie") & (m.valeur.astype(float) == m.value)
    assert not told.any(), m[told]
