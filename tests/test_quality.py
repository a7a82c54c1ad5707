"""The data-quality report (observatory.quality) on a hand-made micro warehouse.

The staging, quarantine and ``ess`` tables are filled directly with a few rows; the report's figures are
read back from the HTML (parsed, not grepped) and from ``rejets.parquet`` and compared with what was
inserted.
"""

from __future__ import annotations

import os
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from observatory import quality, warehouse
from observatory.config import Settings
from observatory.errors import ObservatoryError
from observatory.ingest import ExtractReport, IngestReport
from observatory.publish.fmt import parse_nombre

SCRIPT = "<script>alert('x')</script>"
UL, ET, PO = "StockUniteLegale_utf8.csv", "StockEtablissement_utf8.csv", "postes_2023.csv"

# (extrait, fichier, ligne, colonne, valeur, motif, action)
QUARANTINE = [
    ("unites_legales", UL, 3, "activitePrincipaleUniteLegale", "99.99Q", "naf_inconnu", "conserve"),
    ("unites_legales", UL, 4, "categorieJuridiqueUniteLegale", SCRIPT, "cj_invalide", "conserve"),
    ("unites_legales", UL, 5, "denominationUniteLegale", None, "colonnes_manquantes", "rejete"),
    ("etablissements", ET, 3, "codeCommuneEtablissement", "99134", "hors_territoire", "conserve"),
    ("etablissements", ET, 4, "codeCommuneEtablissement", "12345", "commune_inconnue", "conserve"),
    ("etablissements", ET, 6, "siren", "999999999", "siren_inconnu", "rejete"),
    ("etablissements", ET, 7, "siret", "1234", "siret_invalide", "rejete"),
    ("etablissements", ET, 7, "siren", "12", "siren_invalide", "rejete"),
    ("postes", PO, 3, "SIRET", "00000000000000", "siret_inconnu", "rejete"),
    ("postes", PO, 5, "S_BRUT", "-12,5", "salaire_negatif", "rejete"),
    ("postes", PO, 6, "EQTP", "x", "motif_du_futur", "rejete"),
]
STAGED_LINES = {
    "unites_legales": (UL, [2, 3, 4, 6, 7, 8]),
    "etablissements": (ET, [2, 3, 4, 5, 6]),
    "postes": (PO, [2, 3, 4]),
}
# per extract: lues, chargées, rejetées à la lecture, au rattachement, total, retenues, signalées
COUNTS = ("lues", "chargees", "lecture", "perimetre", "rejetees", "retenues", "signalees")
EXPECTED_EXTRAITS = {
    kind: dict(zip(COUNTS, values, strict=True))
    for kind, values in (
        ("unites_legales", (7, 6, 1, 0, 1, 6, 2)),
        ("etablissements", (6, 5, 1, 1, 2, 4, 2)),
        ("postes", (5, 3, 2, 1, 3, 2, 0)),
    )
}
# ess.unites_legales: (siren, categorie_juridique, motif, ess, ess_loi_2014)
UNITS = [
    ("000000001", "9220", "cj_famille", True, True),
    ("000000002", "9220", "cj_famille", True, True),
    ("000000003", "5458", "nomenclature_non_rev2", True, True),
    ("000000004", "1234", "cj_inconnue", False, False),
    ("000000005", "1234", "cj_inconnue", False, False),
    ("000000006", SCRIPT, "cj_inconnue", False, False),
    ("000000007", None, "cj_absente", False, False),
    ("000000008", "5710", "drapeau_sirene", False, True),
]
# staging.etablissements line → (siret, commune, code_departement in ess, ess)
ESTABLISHMENTS = {
    2: ("00000000100011", "75056", "75", True),
    3: ("00000000100029", "99134", None, True),
    4: ("00000000200019", "12345", None, False),
    5: ("00000000300016", None, None, True),
    6: ("99999999900019", "69123", None, False),  # siren_inconnu: not in ess.etablissements
}


@pytest.fixture
def con():
    c = warehouse.connect()
    yield c
    c.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        output_dir=tmp_path / "output",
        warehouse=tmp_path / "warehouse" / "observatory.duckdb",
        millesime=2023,
        perimetre="insee-2008-4f",
        quarantine_max=0.05,
    )


def micro_warehouse(con, quarantine=QUARANTINE) -> None:
    warehouse.run_sql(con, "staging/quarantaine.sql")
    con.executemany(
        "INSERT INTO staging.quarantaine VALUES (?, ?, ?, ?, ?, ?, ?)", [list(r) for r in quarantine]
    )
    for kind, (file, lines) in STAGED_LINES.items():
        if kind == "etablissements":
            continue
        con.execute(f"CREATE TABLE staging.{kind} (id VARCHAR, _fichier VARCHAR, _ligne BIGINT)")
        con.executemany(f"INSERT INTO staging.{kind} VALUES (?, ?, ?)", [[str(n), file, n] for n in lines])
    con.execute(
        "CREATE TABLE staging.etablissements (siret VARCHAR, codeCommuneEtablissement VARCHAR, "
        "_fichier VARCHAR, _ligne BIGINT)"
    )
    con.executemany(
        "INSERT INTO staging.etablissements VALUES (?, ?, ?, ?)",
        [[siret, commune, ET, line] for line, (siret, commune, _, _) in ESTABLISHMENTS.items()],
    )
    con.execute(
        "CREATE TABLE ess.unites_legales (siren VARCHAR, categorie_juridique VARCHAR, motif VARCHAR, "
        "ess BOOLEAN, ess_loi_2014 BOOLEAN, perimetre_version VARCHAR)"
    )
    con.executemany(
        "INSERT INTO ess.unites_legales VALUES (?, ?, ?, ?, ?, 'insee-2008-4f')", [list(u) for u in UNITS]
    )
    con.execute(
        "CREATE TABLE ess.etablissements (siret VARCHAR, siren VARCHAR, code_departement VARCHAR, ess BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO ess.etablissements VALUES (?, ?, ?, ?)",
        [[siret, siret[:9], dep, ess] for line, (siret, _, dep, ess) in ESTABLISHMENTS.items() if line != 6],
    )


# ----------------------------------------------------------------------------------------- HTML reading


class _Tables(HTMLParser):
    """Tables of a page by id: a list of rows, each ``{"cle": data-cle, "cells": [text], "cols": {data-col: text}}``;
    plus the text of every element with an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.by_id: dict[str, str] = {}
        self._table = self._row = self._cell = None
        self._ids: list[list] = []
        self.tags: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"_{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = {"cle": a.get("data-cle"), "cells": [], "cols": {}, "th": False}
        elif tag in ("td", "th") and self._row is not None:
            self._row["th"] = self._row["th"] or tag == "th"
            self._cell = [a.get("data-col"), ""]
        if "id" in a and tag != "table":
            self._ids.append([a["id"], tag, ""])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            col, text = self._cell
            self._row["cells"].append(text.strip())
            if col:
                self._row["cols"][col] = text.strip()
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if not self._row["th"]:
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        if self._ids and self._ids[-1][1] == tag:
            ident, _, text = self._ids.pop()
            self.by_id[ident] = text.strip()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        for entry in self._ids:
            entry[2] += data


def read_html(path: Path) -> _Tables:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def num(text: str) -> float:
    return parse_nombre(text)


# ------------------------------------------------------------------------------------------------ tests


def test_counts_in_the_page_are_the_inserted_ones(con, settings):
    micro_warehouse(con)
    ingest = IngestReport(raw_dir="data_raw/2023")
    ingest.extracts["unites_legales"] = ExtractReport(
        "unites_legales", UL, "csv", "cp1252", ";", "gzip", missing_optional=["denominationUniteLegale"]
    )
    out = quality.build_quality_report(con, settings, ingest=ingest)
    assert out["rapport"] == settings.vintage_output / "qualite" / "rapport.html"
    page = read_html(out["rapport"])

    assert page.by_id["millesime"] == "2023"
    assert page.by_id["perimetre"] == "insee-2008-4f"

    extraits = {r["cle"]: r["cols"] for r in page.tables["table-extraits"]}
    assert list(extraits) == ["unites_legales", "etablissements", "postes"]
    names = {
        "lues": "lignes_lues", "chargees": "lignes_chargees", "lecture": "rejetees_lecture",
        "perimetre": "rejetees_perimetre", "rejetees": "lignes_rejetees", "retenues": "lignes_retenues",
        "signalees": "lignes_signalees",
    }  # fmt: skip
    for kind, expected in EXPECTED_EXTRAITS.items():
        assert {k: num(extraits[kind][col]) for k, col in names.items()} == expected, kind
    assert num(extraits["postes"]["taux_rejet"]) == pytest.approx(60.0)  # 3 / 5
    row_ul = next(r for r in page.tables["table-extraits"] if r["cle"] == "unites_legales")
    assert "cp1252" in row_ul["cells"][0] and "denominationUniteLegale" in row_ul["cells"][0]

    inserted = Counter((e, m, a) for e, _, _, _, _, m, a in QUARANTINE)
    motifs = {tuple(r["cle"].split("/")): num(r["cols"]["signalements"]) for r in page.tables["table-motifs"]}
    assert motifs == inserted
    explained = {r["cle"]: r["cells"][2] for r in page.tables["table-motifs"]}
    assert "Le code commune n" in explained["etablissements/commune_inconnue/conserve"]
    assert explained["postes/motif_du_futur/rejete"] == "Motif sans description dans le rapport qualité."

    classification = {r["cle"]: num(r["cols"]["unites"]) for r in page.tables["table-classification"]}
    units = Counter(u[2] for u in UNITS)
    assert {m: n for m, n in classification.items() if n} == units
    assert classification["activite_exclue"] == 0 and classification["activite_absente"] == 0
    ess = {r["cle"]: num(r["cols"]["unites_ess"]) for r in page.tables["table-classification"]}
    assert ess["cj_famille"] == 2 and ess["cj_inconnue"] == 0
    cj = {r["cells"][0]: num(r["cols"]["unites"]) for r in page.tables["table-cj-inconnues"]}
    assert cj == {"1234": 2, SCRIPT: 1}

    hors = {r["cle"]: num(r["cols"]["etablissements"]) for r in page.tables["table-hors-territoire"]}
    assert hors == {"etranger": 1, "collectivite_outre_mer": 0, "commune_absente": 1, "commune_inconnue": 1}

    assert "table-rejets" not in page.tables  # no row of an extract is published
    assert num(page.by_id["total-quarantaine"]) == len(QUARANTINE)
    assert num(page.by_id["total-lues"]) == 18 and num(page.by_id["total-rejetees"]) == 6

    assert out["quarantaine"] == len(QUARANTINE)
    assert out["par_motif"] == dict(Counter(m for *_, m, _ in QUARANTINE))
    assert {m: n for m, n in out["classification"].items() if n} == units
    assert out["hors_territoire"]["etranger"] == 1
    assert out["taux_rejet_lecture"] == pytest.approx(4 / 18)


def test_rejets_parquet_holds_exactly_the_quarantine_rows(con, settings):
    micro_warehouse(con)
    out = quality.build_quality_report(con, settings)
    got = duckdb.connect().execute(f"SELECT * FROM read_parquet('{out['rejets'].as_posix()}')")
    columns = [d[0] for d in got.description]
    rows = got.fetchall()
    assert columns == ["extrait", "fichier", "ligne", "colonne", "valeur", "motif", "action", "libelle_motif"]

    def key(r):
        return tuple("" if v is None else str(v) for v in r)

    assert sorted((r[:7] for r in rows), key=key) == sorted(QUARANTINE, key=key)
    labels = {r[5]: r[7] for r in rows}
    assert labels["siren_inconnu"] == "Unité légale inconnue"
    assert labels["motif_du_futur"] == "motif_du_futur"
    assert oct(out["rejets"].stat().st_mode & 0o777) == oct(0o644)


def test_the_public_page_holds_no_row_of_an_extract(con, settings):
    """Row-level rejects stay beside the warehouse: the page has counts by extract and reason, and no SIRET,
    line number or value of a rejected row; ``rejets.parquet`` is not under ``output/``."""
    many = [("postes", PO, n, "SIRET", f"9876543210{n:04d}", "siret_inconnu", "rejete") for n in range(300, 2, -1)]
    micro_warehouse(con, many)
    out = quality.build_quality_report(con, settings)
    html = out["rapport"].read_text(encoding="utf-8")
    assert not any(f"9876543210{n:04d}" in html for n in range(3, 301))
    assert out["rejets"] == settings.warehouse.parent / "qualite" / "2023" / "rejets.parquet"
    assert settings.output_dir not in out["rejets"].parents
    assert sorted(os.listdir(settings.vintage_output / "qualite")) == ["rapport.html"]
    page = read_html(out["rapport"])
    assert num(page.by_id["total-quarantaine"]) == len(many)
    assert out["quarantaine"] == len(many)


def test_values_are_escaped_and_the_page_is_self_contained(con, settings):
    micro_warehouse(con)
    html = quality.build_quality_report(con, settings)["rapport"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    for external in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert external not in html
    page = read_html(settings.vintage_output / "qualite" / "rapport.html")
    assert page.tags["script"] == 0


def test_a_failure_leaves_the_previous_report_intact(con, settings, monkeypatch):
    micro_warehouse(con)
    first = quality.build_quality_report(con, settings)
    before = {p: p.read_bytes() for p in (first["rapport"], first["rejets"])}

    con.execute(
        "INSERT INTO staging.quarantaine VALUES ('postes', ?, 9, 'AGE', '200', 'age_impossible', 'rejete')",
        [PO],
    )
    written = []

    def failing_render(data):
        # the new rejets.parquet is already written beside the warehouse at this point
        written.append(first["rejets"])
        raise RuntimeError("template broken")

    monkeypatch.setattr(quality, "render_report", failing_render)
    with pytest.raises(RuntimeError, match="template broken"):
        quality.build_quality_report(con, settings)
    assert written, "the failure should happen after the new rejets.parquet was written"
    assert first["rapport"].read_bytes() == before[first["rapport"]]
    assert sorted(os.listdir(settings.vintage_output)) == ["qualite"]
    assert sorted(os.listdir(settings.vintage_output / "qualite")) == ["rapport.html"]
    temporary = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_qualite%'"
    ).fetchall()
    assert temporary[0][0] == 0

    monkeypatch.undo()
    again = quality.build_quality_report(con, settings)
    assert again["quarantaine"] == len(QUARANTINE) + 1


def test_sections_without_the_ess_tables(con, settings):
    warehouse.run_sql(con, "staging/quarantaine.sql")
    out = quality.build_quality_report(con, settings)
    assert out["classification"] is None and out["hors_territoire"] is None and out["quarantaine"] == 0
    html = out["rapport"].read_text(encoding="utf-8")
    assert html.count("Non disponible") == 2
    assert "Aucune ligne n'a été mise en quarantaine." in html.replace("&#39;", "'")
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{out['rejets'].as_posix()}'").fetchall() == [(0,)]


def test_missing_quarantine_is_an_error(con, settings):
    with pytest.raises(ObservatoryError, match="staging.quarantaine"):
        quality.build_quality_report(con, settings)


def test_end_to_end_agrees_with_the_ingestion_report(con, settings, tmp_path):
    """Real ingestion and perimeter on a small dirty vintage: the page's rows read and rejected at reading
    are the ingestion report's, and the perimeter rejections and classification motifs are counted."""
    from observatory.ingest import ingest_vintage
    from observatory.perimeter import apply_perimeter
    from observatory.reference import load
    from tests.bad_inputs.make_corpus import ETAB_HEADER, POSTES_HEADER, UL_HEADER, etab, poste, ul, write_csv

    raw = tmp_path / "raw" / "2023"
    units = [ul("123456789"), ul("012345678", cj="9999"), ul("12345")]
    write_csv(raw / "StockUniteLegale_utf8.csv", UL_HEADER, units)
    establishments = [
        etab("12345678900011"),
        etab("12345678900029", commune="99134"),
        etab("99999999900011"),
        etab("01234567800013", commune="2A004"),
    ]
    write_csv(raw / "StockEtablissement_utf8.csv", ETAB_HEADER, establishments, sep=";")
    jobs = [poste("12345678900011"), poste("12345678900011", SEXE="3"), poste("99999999900011")]
    write_csv(raw / "postes_2023.csv", POSTES_HEADER, jobs)
    ingest = ingest_vintage(con, raw)
    load(con, "insee-2008-4f")
    apply_perimeter(con, "insee-2008-4f")

    out = quality.build_quality_report(con, settings, ingest=ingest)
    page = read_html(out["rapport"])
    extraits = {r["cle"]: r["cols"] for r in page.tables["table-extraits"]}
    for kind, rep in ingest.extracts.items():
        assert num(extraits[kind]["lignes_lues"]) == rep.rows_read, kind
        assert num(extraits[kind]["rejetees_lecture"]) == rep.rows_rejected, kind
    assert num(extraits["etablissements"]["rejetees_perimetre"]) == 1  # siren 999999999
    assert num(extraits["postes"]["rejetees_perimetre"]) == 1  # its job
    assert out["lignes_lues"] == ingest.rows_read
    assert out["taux_rejet_lecture"] == pytest.approx(ingest.quarantine_rate)
    assert out["classification"]["cj_inconnue"] == 1
    assert out["hors_territoire"]["etranger"] == 1
    assert page.by_id["perimetre"] == "insee-2008-4f"
