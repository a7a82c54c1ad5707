"""The semestrial baromètre: quarterly headcounts, year-on-year change and net jobs, secrecy, Mayotte, PDFs.

A micro-dataset small enough to compute by hand: three ESS establishments (two associations in Ille-et-
Vilaine, one in Finistère) over eight quarters (2022-T1 … 2023-T4), one private non-ESS establishment,
one in Mayotte (outside the source's field) and one farm (agriculture, outside the field too).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from observatory import barometre
from observatory.config import Settings
from observatory.publish import fmt
from observatory.warehouse import connect

QUARTERS = [f"{y}-T{n}" for y in (2022, 2023) for n in (1, 2, 3, 4)]
ETABLISSEMENTS = [
    # siret, département, région, secteur, famille, ess
    ("A", "35", "53", "ASS", "association", True),
    ("B", "35", "53", "ASS", "association", True),
    ("C", "29", "53", "HMS", "association", True),
    ("D", "29", "53", "COM", "hors_ess", False),
    ("M", "976", "06", "ASS", "association", True),
    ("F", "35", "53", "AGR", "cooperative", True),
]
EFFECTIFS = {  # headcount at the end of each of the eight quarters
    "A": [10, 11, 12, 13, 14, 15, 16, 17],
    "B": [20, 20, 21, 21, 22, 22, 18, 18],
    "C": [30, 31, 32, 33, 30, 29, 28, 40],
    "D": [50, 50, 50, 50, 55, 55, 55, 55],
    "M": [7, 7, 7, 7, 8, 8, 8, 8],
    "F": [5, 5, 5, 5, 5, 5, 5, 5],
}


def _ess_total(q: str, sirets=("A", "B", "C")) -> int:
    i = QUARTERS.index(q)
    return sum(EFFECTIFS[s][i] for s in sirets)


def make_warehouse(path: Path | str | None = None):
    """A warehouse holding the micro-dataset's ``staging.effectifs_trimestriels`` and ``ess.etablissements``."""
    con = connect(path)
    con.execute(
        "CREATE OR REPLACE TABLE ess.etablissements (siret VARCHAR, siren VARCHAR, code_departement VARCHAR, "
        "code_region VARCHAR, secteur VARCHAR, famille_ess VARCHAR, ess BOOLEAN, public BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO ess.etablissements VALUES (?, ?, ?, ?, ?, ?, ?, false)",
        [(s, s, d, r, sec, fam, ess) for s, d, r, sec, fam, ess in ETABLISSEMENTS],
    )
    con.execute(
        "CREATE OR REPLACE TABLE staging.effectifs_trimestriels (siret VARCHAR, trimestre VARCHAR, "
        "effectif_fin_trimestre INTEGER, masse_salariale DOUBLE)"
    )
    con.executemany(
        "INSERT INTO staging.effectifs_trimestriels VALUES (?, ?, ?, ?)",
        [
            (s, q, v, 1000.0 * v)
            for s, values in EFFECTIFS.items()
            for q, v in zip(QUARTERS, values, strict=True)
        ],
    )
    return con


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)


@pytest.fixture
def built(settings):
    """The baromètre of 2023-S2 built on the micro-dataset: (result, published table)."""
    con = make_warehouse()
    result = barometre.build_barometre(con, settings, "2023-S2")
    con.close()
    return result, pd.read_parquet(result["path"])


def _row(
    table, indicateur, trimestre, niveau="france", code="FR", champ="ess", famille="toutes", secteur="tous"
):
    sel = table[
        (table.niveau == niveau)
        & (table.code == code)
        & (table.champ == champ)
        & (table.famille == famille)
        & (table.secteur == secteur)
        & (table.indicateur == indicateur)
        & (table.trimestre == trimestre)
    ]
    assert len(sel) == 1, (indicateur, trimestre, niveau, code, champ, famille, secteur)
    return sel.iloc[0]


def test_quarters_for_semesters():
    assert barometre.quarters_for("2023-S1") == ["2022-T3", "2022-T4", "2023-T1", "2023-T2"]
    assert barometre.quarters_for("2023-S2") == ["2023-T1", "2023-T2", "2023-T3", "2023-T4"]
    assert barometre.last_quarter("2024-S1") == "2024-T2"
    assert barometre.semester_of("2023-T3") == "2023-S2"
    with pytest.raises(barometre.BarometreError):
        barometre.quarters_for("2023-S3")


def test_glissement_and_solde_match_a_hand_computation(built):
    _, table = built
    for q in ("2023-T1", "2023-T2", "2023-T3", "2023-T4"):
        year_before = QUARTERS[QUARTERS.index(q) - 4]
        now, before = _ess_total(q), _ess_total(year_before)
        assert _row(table, "effectif_fin_trimestre", q).valeur == now
        assert _row(table, "solde_annuel", q).valeur == now - before
        # a percentage 0–100 (unite 'pourcent', as in the indicator table), published to 0.1 point
        assert _row(table, "glissement_annuel", q).valeur == round(100 * (now / before - 1), 1)
    # 2023-T4 by hand: (17 + 18 + 40) / (13 + 21 + 33) - 1 = 75 / 67 - 1 = 11.94 %; solde +8
    assert _row(table, "glissement_annuel", "2023-T4").valeur == 11.9
    assert _row(table, "solde_annuel", "2023-T4").valeur == 8
    # privé = ESS + privé hors ESS (no public establishment in the source); privé hors ESS is one
    # establishment (D, primary), so privé is hidden too (secondary): ESS and privé would give D away
    assert (
        _row(table, "effectif_fin_trimestre", "2023-T4", champ="prive_hors_ess").statut == "secret_primaire"
    )
    assert _row(table, "effectif_fin_trimestre", "2023-T4", champ="prive").statut == "secret_secondaire"
    assert _row(table, "solde_annuel", "2023-T4", champ="prive").statut == "secret_secondaire"
    # région and département: Ille-et-Vilaine holds A and B
    assert _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53").valeur == 75
    # the first year has no year-before quarter: changes are not available
    assert _row(table, "glissement_annuel", "2022-T4").statut == "non_disponible"
    assert all(table.unite[table.indicateur == "glissement_annuel"] == "pourcent")


def test_table_has_the_indicator_table_columns_plus_trimestre(built):
    _, table = built
    assert list(table.columns) == [
        "millesime",
        "niveau",
        "code",
        "libelle",
        "champ",
        "famille",
        "secteur",
        "tranche",
        "sexe",
        "pcs",
        "indicateur",
        "valeur",
        "unite",
        "statut",
        "perimetre_version",
        "trimestre",
    ]
    assert set(table.indicateur) == set(barometre.INDICATEURS)
    assert set(table.statut) <= {"publie", "secret_primaire", "secret_secondaire", "non_disponible"}
    assert table.valeur[table.statut != "publie"].isna().all()
    assert (table.millesime == 2023).all()


def test_agriculture_and_mayotte_are_outside_the_field(built):
    _, table = built
    # the farm F (AGR, 5 jobs) and the Mayotte establishment M are not counted
    assert _row(table, "effectif_fin_trimestre", "2023-T4").valeur == 17 + 18 + 40
    # (privé is secret here, see above: its change is checked on the Bretagne cells of the same quarter)
    assert _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53").valeur == 17 + 18 + 40
    assert "AGR" not in set(table.secteur)
    mayotte = table[
        ((table.niveau == "departement") & (table.code == "976"))
        | ((table.niveau == "region") & (table.code == "06"))
    ]
    assert len(mayotte) > 0
    assert (mayotte.statut == "non_disponible").all()
    assert mayotte.valeur.isna().all()  # n.d., never 0
    # Alpes-Maritimes (département 06, no establishment here) is not mistaken for the région of Mayotte: see
    # test_territories_are_those_the_extract_covers
    assert _row(table, "effectif_fin_trimestre", "2023-T4").libelle == "France hors Mayotte"


def test_territories_are_those_the_extract_covers(settings):
    """A regional extract makes a regional baromètre: no région or département outside it (a 0 there would be
    read as no job); Alpes-Maritimes (département 06) is a département like any other, Mayotte (région 06) is n.d."""
    con = make_warehouse()
    con.execute("INSERT INTO ess.etablissements VALUES ('N', 'N', '06', '93', 'ASS', 'association', true, false)")
    con.executemany(
        "INSERT INTO staging.effectifs_trimestriels VALUES ('N', ?, 4, 4000.0)", [(q,) for q in QUARTERS]
    )
    table = pd.read_parquet(barometre.build_barometre(con, settings, "2023-S2")["path"])
    con.close()
    assert set(table.loc[table.niveau == "region", "code"]) == {"53", "06", "93"}
    assert set(table.loc[table.niveau == "departement", "code"]) == {"35", "29", "976", "06"}
    # one establishment: secret by the frequency rule, as any département's would be (not n.d.)
    assert _row(table, "effectif_fin_trimestre", "2023-T4", "departement", "06").statut == "secret_primaire"
    assert (table[(table.niveau == "region") & (table.code == "06")].statut == "non_disponible").all()


def test_primary_secrecy_and_inheritance(built):
    _, table = built
    # one private non-ESS establishment in Brittany: frequency rule
    r = _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53", champ="prive_hors_ess")
    assert r.statut == "secret_primaire" and pd.isna(r.valeur)
    for ind in ("glissement_annuel", "solde_annuel"):
        assert _row(table, ind, "2023-T4", "region", "53", champ="prive_hors_ess").statut == "secret_primaire"
    # Ille-et-Vilaine associations: 2 establishments -> secret, and so are their changes
    assert (
        _row(table, "effectif_fin_trimestre", "2023-T4", "departement", "35", famille="association").statut
        == "secret_primaire"
    )
    # Brittany's associations: 3 establishments, largest 40 of 75 (53 %) -> published
    r = _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53", famille="association")
    assert r.statut == "publie" and r.valeur == 75


def test_dominance_rule(settings):
    con = make_warehouse()
    con.execute(
        "UPDATE staging.effectifs_trimestriels SET effectif_fin_trimestre = 1000 "
        "WHERE siret = 'C' AND trimestre = '2023-T4'"
    )
    result = barometre.build_barometre(con, settings, "2023-S2")
    table = pd.read_parquet(result["path"])
    # 1000 of 1035 (97 %) in one establishment: secret; the change computed from it too
    assert _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53").statut == "secret_primaire"
    assert _row(table, "glissement_annuel", "2023-T4", "region", "53").statut == "secret_primaire"
    # the quarter before is not dominated
    assert _row(table, "effectif_fin_trimestre", "2023-T3", "region", "53").statut == "publie"


def test_two_semesters_publish_their_own_quarters(settings):
    con = make_warehouse()
    s1 = barometre.build_barometre(con, settings, "2023-S1")
    s2 = barometre.build_barometre(con, settings, "2023-S2")
    t1, t2 = pd.read_parquet(s1["path"]), pd.read_parquet(s2["path"])
    assert s1["path"].parent.name == "2023-S1" and s2["path"].parent.name == "2023-S2"
    assert s1["path"] == settings.output_dir / "2023" / "barometre" / "2023-S1" / "indicateurs.parquet"
    assert (s1["path"].with_suffix(".csv")).exists()
    for t, sem in ((t1, "2023-S1"), (t2, "2023-S2")):
        detail = t[(t.famille != "toutes") | (t.secteur != "tous")]
        changes = detail[detail.indicateur != "effectif_fin_trimestre"]
        assert sorted(changes.trimestre.unique()) == barometre.quarters_for(sem)
        # the long series of totals runs from the first quarter available to the semester's end
        totals = t[
            (t.famille == "toutes") & (t.secteur == "tous") & (t.indicateur == "effectif_fin_trimestre")
        ]
        last = barometre.last_quarter(sem)
        assert sorted(totals.trimestre.unique()) == QUARTERS[: QUARTERS.index(last) + 1]
    # S1 compares 2022-T3 with 2021-T3, absent from the source: not available; 2023-T2 is computed
    assert (
        _row(t1, "glissement_annuel", "2022-T3", "region", "53", famille="association").statut
        == "non_disponible"
    )
    assert _row(t1, "solde_annuel", "2023-T2", "region", "53", famille="association").valeur == (
        _ess_total("2023-T2") - _ess_total("2022-T2")
    )


def test_missing_quarter_is_a_domain_error(settings):
    con = make_warehouse()
    with pytest.raises(barometre.BarometreError, match="2024-T2"):
        barometre.build_barometre(con, settings, "2024-S1")
    assert barometre.latest_semester(con) == "2023-S2"


def test_publications_state_the_field_and_print_the_table(built, settings):
    from pypdf import PdfReader

    from observatory.publish.barometre_docs import CHAMP, build_barometre_docs

    result, table = built
    written = build_barometre_docs(result["path"].parent, regions=["53"])
    names = sorted(p.relative_to(result["path"].parent).as_posix() for p in written)
    figures = ["chiffres-cles", "departements", "familles", "secteurs", "serie-longue"]
    assert names == sorted(
        ["france.pdf", "france.xlsx", "region-53.pdf", "region-53.xlsx"]
        + [f"donnees/{stem}/{f}.csv" for stem in ("france", "region-53") for f in figures]
    )
    text = fmt.normalize(
        " ".join(p.extract_text() for p in PdfReader(result["path"].parent / "region-53.pdf").pages)
    )
    text = " ".join(text.split())
    assert fmt.normalize(CHAMP) in text
    assert "hors agriculture, hors Mayotte" in text
    assert "Source : Urssaf" in text
    assert "Lecture :" in text
    eff = _row(table, "effectif_fin_trimestre", "2023-T4", "region", "53").valeur
    gl = _row(table, "glissement_annuel", "2023-T4", "region", "53").valeur
    so = _row(table, "solde_annuel", "2023-T4", "region", "53").valeur
    expected = (
        f"emploient {fmt.normalize(fmt.nombre(eff))} salariés en Bretagne, "
        f"soit +{fmt.normalize(fmt.pourcent(gl / 100))} en un an (+{fmt.normalize(fmt.nombre(so))} emplois"
    )
    assert expected in text
    assert "Privé hors ESS s s s s s s" in text  # the secret champ prints s, never a number

    from openpyxl import load_workbook

    ws = load_workbook(result["path"].parent / "region-53.xlsx")["Chiffres clés"]
    rows = {(r[0], r[1]): r[2:] for r in ws.iter_rows(min_row=6, values_only=True) if r and r[1]}
    assert rows[("ESS", "2023-T4")] == (eff, pytest.approx(gl), so)
    assert rows[("Privé hors ESS", "2023-T4")] == ("s", "s", "s")


def _csv(path: Path) -> list[list[str]]:
    import csv

    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # UTF-8 BOM, CRLF: what French Excel opens
    return list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))


def _expected(row) -> str:
    """A table cell as the CSV must write it: ``s`` if secret, empty if not available (or not in the table),
    else its value with a comma decimal mark (percentages 0–100, as in the table)."""
    if row is None:
        return ""
    if row.statut.startswith("secret"):
        return "s"
    if row.statut != "publie":
        return ""
    v = float(row.valeur)
    return (str(int(v)) if v == int(v) else str(v)).replace(".", ",")


def check_barometre_csvs(folder: Path, table: pd.DataFrame, publications: list[tuple[str, str, str]]) -> dict:
    """Each publication ``(stem, niveau, code)`` of a semester folder: its workbook's sheets link one CSV per
    figure (``donnees/<stem>/``) holding the sheet's rows; every value of those CSV equals the published
    table's cell (``s`` when secret, empty when not available or not in the table). Returns the counts of
    secret, empty and numeric values checked."""
    from openpyxl import load_workbook

    from observatory.publish.barometre_docs import CHAMPS, FAMILLES
    from observatory.reference.perimeter import secteurs

    keys = ["niveau", "code", "champ", "famille", "secteur", "indicateur", "trimestre"]
    cells = {
        k: row for k, row in zip(zip(*(table[c] for c in keys), strict=True), table.itertuples(), strict=True)
    }
    assert len(cells) == len(table)
    champ_of = {v: k for k, v in CHAMPS.items()}
    famille_of = {v: k for k, v in FAMILLES.items()}
    secteur_of = dict(zip(secteurs()["libelle_secteur"], secteurs()["secteur"], strict=True))
    inds = ["effectif_fin_trimestre", "glissement_annuel", "solde_annuel"]
    seen = {"s": 0, "": 0, "number": 0}
    for stem, niveau, code in publications:
        csv_dir = folder / "donnees" / stem
        checks = 0
        for name, rows in ((p.stem, _csv(p)) for p in sorted(csv_dir.glob("*.csv"))):
            head, body = rows[0], rows[1:]
            assert body, (stem, name)
            for r in body:
                if name == "serie-longue":
                    assert head == ["Trimestre", *CHAMPS.values()]
                    pairs = [
                        ((niveau, code, champ_of[h], "toutes", "tous", "effectif_fin_trimestre", r[0]), v)
                        for h, v in zip(head[1:], r[1:], strict=True)
                    ]
                else:
                    if name == "chiffres-cles":
                        q, key = r[1], (niveau, code, champ_of[r[0]], "toutes", "tous")
                    elif name == "familles":
                        q, key = r[1], (niveau, code, "ess", famille_of[r[0]], "tous")
                    elif name == "secteurs":
                        q, key = r[2], (niveau, code, champ_of[r[1]], "toutes", secteur_of[r[0]])
                    else:
                        assert name == "departements"
                        q, key = r[3], ("departement", r[0], champ_of[r[2]], "toutes", "tous")
                    assert head[-3:] == [
                        "Effectif fin de trimestre",
                        "Évolution sur un an (%)",
                        "Solde sur un an",
                    ]
                    pairs = [((*key, ind, q), v) for ind, v in zip(inds, r[-3:], strict=True)]
                for key, written in pairs:
                    assert written == _expected(cells.get(key)), (stem, name, r, key)
                    seen["number" if written not in ("s", "") else written] += 1
                    checks += 1
        assert checks > 50, stem
        wb = load_workbook(folder / f"{stem}.xlsx")
        for ws in wb.worksheets:
            target = folder / ws["A4"].hyperlink.target
            assert target.parent == csv_dir and target.is_file(), (stem, ws.title)
            n_sheet = sum(1 for r in ws.iter_rows(min_row=6, values_only=True) if r[1] is not None)
            assert n_sheet == len(_csv(target)) - 1, (stem, ws.title)
        assert sorted(ws["A4"].hyperlink.target for ws in wb.worksheets) == sorted(
            f"donnees/{stem}/{p.name}" for p in csv_dir.glob("*.csv")
        )
    return seen


def test_barometre_csv_per_figure_holds_the_published_cells(built):
    """Every figure of the baromètre has its CSV (the panoramas' conventions), linked from its workbook sheet;
    each value equals the published table's cell, a secret cell is written ``s``, never a number."""
    from observatory.publish.barometre_docs import build_barometre_docs

    result, table = built
    folder = result["path"].parent
    build_barometre_docs(folder, regions=["53"])
    seen = check_barometre_csvs(folder, table, [("france", "france", "FR"), ("region-53", "region", "53")])
    assert seen["s"] > 0 and seen[""] > 0 and seen["number"] > 0, seen


def test_secondary_secrecy_across_territories_and_champs(settings):
    """Baromètre cells get the indicator table's secondary suppression: no hidden headcount of a quarter can
    be recomputed by subtraction along région > départements, champs, families or sectors."""
    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")
    cells = con.table("ind.barometre_cellules").df()
    con.close()
    c = cells[cells.q == barometre.quarter_index("2023-T4")]
    st = c.set_index(["niveau", "code", "champ", "famille", "secteur"]).statut
    hidden = st.isin(["secret_primaire", "secret_secondaire"])
    # Ille-et-Vilaine's ESS (A + B) and Finistère's (C) are primary; Bretagne's ESS (3 establishments) is
    # published, and so is France: the two départements protect each other
    assert st[("departement", "35", "ess", "toutes", "tous")] == "secret_primaire"
    assert st[("departement", "29", "ess", "toutes", "tous")] == "secret_primaire"
    assert st[("region", "53", "ess", "toutes", "tous")] == "publie"
    # privé hors ESS is D alone (primary) in Finistère, Bretagne and France: privé (C + D in Finistère,
    # primary there; A + B + C + D above) is hidden with it
    assert st[("departement", "29", "prive", "toutes", "tous")] == "secret_primaire"
    for niveau, code in (("departement", "29"), ("region", "53"), ("france", "FR")):
        assert st[(niveau, code, "prive_hors_ess", "toutes", "tous")] == "secret_primaire"
    for niveau, code in (("region", "53"), ("france", "FR")):
        assert st[(niveau, code, "prive", "toutes", "tous")] == "secret_secondaire"
    # sectors of the ESS in Bretagne: ASS (A + B) is primary, HMS (C) is primary: the total stays published
    assert st[("region", "53", "ess", "toutes", "ASS")] == "secret_primaire"
    # every equation holds 0 or at least 2 hidden cells
    region_of = {"35": "53", "29": "53", "976": "06"}
    for (champ, famille, secteur), g in c.groupby(["champ", "famille", "secteur"]):
        for region in ("53",):
            geo = g[
                (g.niveau == "region") & (g.code == region)
                | (g.niveau == "departement") & g.code.map(region_of).eq(region)
            ]
            n = geo.statut.isin(["secret_primaire", "secret_secondaire"]).sum()
            assert n != 1 or geo.value.sum() == 0, (champ, famille, secteur)
    for niveau, code in (("departement", "35"), ("departement", "29"), ("region", "53"), ("france", "FR")):
        tri = [(niveau, code, ch, "toutes", "tous") for ch in ("prive", "ess", "prive_hors_ess")]
        assert sum(bool(hidden.get(k, False)) for k in tri) != 1, tri
        secteurs = [k for k in hidden.index if k[:3] == (niveau, code, "ess") and k[3] == "toutes"]
        assert sum(bool(hidden[k]) for k in secteurs) != 1, (niveau, code)


def test_barometre_audit_passes_and_catches_a_cell_recoverable_by_subtraction(settings):
    from observatory import audit

    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")  # the blocking audit passed
    table = con.table("ind.barometre").df()
    deps = con.table("ref.departements").df()
    con.close()
    assert audit.audit_barometre(table, deps).passed
    # publish Ille-et-Vilaine's ESS (A + B = 17 + 18, primary): Finistère's (C alone) follows from
    # Bretagne's published ESS by subtraction
    leak = table.copy()
    cell = (
        (leak.indicateur == "effectif_fin_trimestre") & (leak.trimestre == "2023-T4") & (leak.champ == "ess")
    )
    cell &= (leak.niveau == "departement") & (leak.famille == "toutes") & (leak.secteur == "tous")
    i = leak.index[cell & (leak.code == "35")][0]
    leak.loc[i, ["statut", "valeur"]] = ["publie", 17 + 18]
    report = audit.audit_barometre(leak, deps)
    assert not report.passed
    assert any("2023-T4" in r and "'29'" in r and "= 40" in r for r in report.recoverable), report.summary()


def test_barometre_audit_catches_a_cell_recoverable_along_the_champs(settings):
    from observatory import audit

    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")
    table = con.table("ind.barometre").df()
    cells = con.table("ind.barometre_cellules").df()
    deps = con.table("ref.departements").df()
    con.close()
    # publish Finistère's privé (C + D) and ESS (C), both primary: its privé hors ESS (D alone) follows
    q4 = cells[(cells.q == barometre.quarter_index("2023-T4")) & (cells.niveau == "departement")]
    q4 = q4[(q4.code == "29") & (q4.famille == "toutes") & (q4.secteur == "tous")].set_index("champ").value
    leak = table.copy()
    cell = (leak.indicateur == "effectif_fin_trimestre") & (leak.trimestre == "2023-T4")
    cell &= (leak.niveau == "departement") & (leak.code == "29") & (leak.famille == "toutes")
    cell &= leak.secteur == "tous"
    for champ in ("prive", "ess"):
        i = leak.index[cell & (leak.champ == champ)][0]
        leak.loc[i, ["statut", "valeur"]] = ["publie", float(q4[champ])]
    report = audit.audit_barometre(leak, deps)
    expected = f"('29', 'prive_hors_ess') = {float(q4['prive'] - q4['ess']):g}"
    hits = [r for r in report.recoverable if "2023-T4, région 53" in r and "champs" in r and expected in r]
    assert hits, report.summary()


def test_secrecy_cost_counts_the_published_cells_and_the_hidden_jobs(built, settings):
    """``cout_du_secret.json`` beside the semester's table: cells by status per level (counted again here from
    the published table) and the share of the last quarter's jobs in hidden headcount cells — by hand: every
    département's jobs are in hidden cells (Finistère's ESS and privé hors ESS, Ille-et-Vilaine's ESS) but
    Ille-et-Vilaine's privé hors ESS, which is 0: 100 %. At France only privé hors ESS is hidden (D alone,
    55): its share, 55 / 130 = 42 %, would give it away with the published ESS (75): h / (75 + h) ≈ 0.42 gives
    h ≈ 54, so a share made of one or two hidden cells is not given. The France publication's methodology prints
    its level's line without it."""
    import json

    from observatory.publish.barometre_docs import build_barometre_docs
    from observatory.publish.layout_check import pdf_text

    result, table = built
    cost = json.loads((result["path"].parent / "cout_du_secret.json").read_text())
    assert cost == result["cout_du_secret"]
    for niveau, rows in table.groupby("niveau"):
        counts = rows["statut"].value_counts()
        assert cost[niveau]["cellules"] == len(rows)
        for statut in ("publie", "secret_primaire", "secret_secondaire"):
            assert cost[niveau][statut] == counts.get(statut, 0), (niveau, statut)
    assert cost["france"]["part_emploi_masque_pourcent"] is None  # one hidden cell: not given
    assert cost["departement"]["part_emploi_masque_pourcent"] == 100  # three hidden cells
    build_barometre_docs(result["path"].parent, regions=["53"])
    text = fmt.normalize(pdf_text(result["path"].parent / "france.pdf").replace("\n", " "))
    assert (
        "Coût du secret à l'échelon national (France) : sur 184 cases du baromètre, 17 % sont publiées, 61 % "
        "masquées par le secret primaire et 9 % par le secret secondaire (les autres : n.d.)."
    ) in text
    assert "regroupent" not in text.split("Coût du secret à l'échelon national")[1].split("Coût du secret")[0]


def test_publications_built_by_two_processes_equal_those_built_by_one(built, tmp_path, monkeypatch):
    """The baromètre's publications are independent: two worker processes (the national run's 19) write the
    same workbooks, CSV and PDF texts as one process."""
    import shutil

    from observatory.publish import barometre_docs
    from observatory.publish.layout_check import pdf_text

    result, _ = built
    folders = {}
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}" / "2023-S2"
        folder.mkdir(parents=True)
        for name in ("indicateurs.parquet", "cout_du_secret.json"):
            shutil.copy(result["path"].parent / name, folder / name)
        monkeypatch.setattr(barometre_docs, "_MIN_PER_WORKER", 1)
        written = barometre_docs.build_barometre_docs(folder, workers=workers)
        folders[workers] = sorted(str(p.relative_to(folder)) for p in written)
    assert folders[1] == folders[2] and len(folders[1]) > 6
    for rel in folders[1]:
        one, two = tmp_path / "w1" / "2023-S2" / rel, tmp_path / "w2" / "2023-S2" / rel
        if rel.endswith(".pdf"):
            assert pdf_text(one) == pdf_text(two), rel
        elif rel.endswith(".csv"):
            assert one.read_bytes() == two.read_bytes(), rel


def test_barometre_audit_recomputes_each_cell_and_checks_the_protection_levels(settings):
    """The audit's own recomputation of the quarterly cells (value, largest establishment) from the quarterly
    file equals the protection's ``ind.barometre_cellules`` on the micro warehouse; with it, the hidden
    primary headcounts are bounded against their protection levels — none too closely after the protection,
    and a level no interval can reach (a planted MAX of ten times the cell) fails the audit."""
    from observatory import audit

    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")  # the blocking audit, levels included, passed
    table = con.table("ind.barometre").df()
    deps = con.table("ref.departements").df()
    cells = con.table("ind.barometre_cellules").df()
    truth = audit.quarter_cells_of(con)
    # the same SQL over DataFrames: a (siret, quarter) given twice counts once (its largest), a quarter not
    # written AAAA-Tn is outside the field
    effectifs = con.table("staging.effectifs_trimestriels").df()
    extra = pd.DataFrame(
        {"siret": ["A", "C"], "trimestre": ["2023-T4", "2023-Q4"], "effectif_fin_trimestre": [3, 999]}
    )
    etabs = con.table("ess.etablissements").df()
    assert audit.quarter_cells(pd.concat([effectifs, extra], ignore_index=True), etabs) == truth
    con.close()
    cells = cells[cells.niveau.isin(["region", "departement"]) & (cells.statut != "non_disponible")]
    compared = 0
    for r in cells[["niveau", "code", "champ", "famille", "secteur", "trimestre", "value", "max"]].itertuples(
        index=False
    ):
        got = truth.get(tuple(r[:6]), (0.0, 0.0))
        assert got == (float(r.value), float(r.max)), r
        compared += 1
    assert compared > 100
    report = audit.audit_barometre(table, deps, truth)
    assert report.passed and report.interval_checked > 0 and report.interval_narrow == [], report.summary()
    eff = table[(table.indicateur == "effectif_fin_trimestre") & (table.statut == "secret_primaire")]
    eff = eff[eff.niveau == "departement"].iloc[0]
    key = (eff.niveau, eff.code, eff.champ, eff.famille, eff.secteur, eff.trimestre)
    planted = dict(truth)
    planted[key] = (truth[key][0], 10 * truth[key][0])
    report = audit.audit_barometre(table, deps, planted)
    assert not report.passed
    assert any(str(key) in line for line in report.interval_narrow), report.summary()


def test_barometre_audit_bounds_a_primary_along_the_champs(settings):
    """The protection levels are checked in the champ tables too (privé = ESS + privé hors ESS per territory),
    not only in the région × breakdown tables. Finistère's privé hors ESS of 2023-T4 (D alone, 55, primary) is
    bounded by nothing in the breakdown tables (Bretagne's is hidden too); publish Finistère's privé (C + D = 95)
    and it is bounded to [20, 95] along the champs. With the truth of a cell that needs a level wider than that
    (largest contributor planted at ten times the cell), only the champ table's bound finds it too narrow."""
    from observatory import audit

    con = make_warehouse()
    barometre.build_barometre(con, settings, "2023-S2")
    table = con.table("ind.barometre").df()
    deps = con.table("ref.departements").df()
    truth = audit.quarter_cells_of(con)
    con.close()
    key = ("departement", "29", "prive_hors_ess", "toutes", "tous", "2023-T4")
    assert truth[key] == (55.0, 55.0)
    planted = {**truth, key: (55.0, 550.0)}
    assert audit.audit_barometre(table, deps, planted).passed  # unbounded above: wide enough
    leak = table.copy()
    cell = (leak.indicateur == "effectif_fin_trimestre") & (leak.trimestre == "2023-T4")
    cell &= (leak.niveau == "departement") & (leak.code == "29") & (leak.champ == "prive")
    cell &= (leak.famille == "toutes") & (leak.secteur == "tous")
    (i,) = leak.index[cell]
    leak.loc[i, ["statut", "valeur"]] = ["publie", 95.0]
    assert audit.audit_barometre(leak, deps, truth).passed  # the true level (±9.7) holds in [20, 95]
    report = audit.audit_barometre(leak, deps, planted)
    assert not report.passed and not report.recoverable, report.summary()
    (line,) = [line for line in report.interval_narrow if str(key) in line]
    assert "bounded to [20, 95]" in line and "champs" in line, line
