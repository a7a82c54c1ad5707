"""Panorama, plaquette and égalité report: the numbers printed are the indicator table's.

Built once per module on the fake indicator table of ``tests/fixtures_indicateurs.py`` for Corse (94),
the région with secret cells, and its two départements.
"""

from __future__ import annotations

import sys
import types

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from observatory.publish import documents, fmt, layout_check
from observatory.publish.xlsx import HEADER_ROW
from tests.fixtures_indicateurs import write_output


@pytest.fixture(scope="module")
def vintage(tmp_path_factory):
    v = write_output(tmp_path_factory.mktemp("output"))
    result = documents.build_all(v, regions=["94"])
    table = documents.IndicatorTable.read(v / "tables" / "indicateurs.parquet")
    documents.build_egalite_france(table, documents.read_manifest(v), v)
    return v, result


@pytest.fixture(scope="module")
def table(vintage):
    return pd.read_parquet(vintage[0] / "tables" / "indicateurs.parquet")


@pytest.fixture(scope="module")
def panorama_text(vintage):
    reader = PdfReader(str(vintage[0] / "panoramas" / "region-94.pdf"))
    return fmt.normalize(" ".join(p.extract_text() for p in reader.pages)).replace("\n", " ")


def cell(table, code, indicateur, champ="ess", **keys):
    """The table row of one cell (the test reads the table directly, not through the reader)."""
    k = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes", **keys}
    m = (table.code == code) & (table.indicateur == indicateur) & (table.champ == champ)
    for c, v in k.items():
        m &= table[c] == v
    rows = table[m]
    assert len(rows) == 1, (code, indicateur, champ, keys)
    return rows.iloc[0]


def french(row, formatter):
    value = row.valeur / 100 if row.unite == "pourcent" else row.valeur
    return fmt.normalize(formatter(value))


def test_one_region_builds_only_its_files(vintage):
    v, result = vintage
    assert set(result["regions"]) == {"94"}
    assert set(result["departements"]) == {"2A", "2B"}
    assert (v / "panoramas" / "region-94.pdf").exists()
    assert (v / "panoramas" / "region-94.xlsx").exists()
    assert not (v / "panoramas" / "region-53.pdf").exists()
    assert (v / "panoramas" / "departement-2B.pdf").exists()
    assert (v / "egalite" / "france.pdf").exists()
    assert not list(v.rglob("*.tmp"))


def test_panorama_pdf_numbers_equal_table(table, panorama_text):
    for ind, champ, f in [
        ("effectif_31_12", "ess", fmt.nombre),
        ("etablissements_employeurs", "ess", fmt.nombre),
        ("part_emploi_total", "ess", fmt.pourcent),
        ("part_emploi_prive", "ess", fmt.pourcent),
        ("effectif_31_12", "public", fmt.nombre),
        ("masse_salariale_brute", "ess", fmt.montant),
        ("effectif_31_12", "prive_hors_ess", fmt.nombre),
    ]:
        assert french(cell(table, "94", ind, champ), f) in panorama_text, (ind, champ)
    for dep in ("2A", "2B"):
        eff = french(cell(table, dep, "effectif_31_12"), fmt.nombre)
        assert f"({dep}) " in panorama_text
        assert eff in panorama_text
        assert fmt.rang(cell(table, dep, "rang_france").valeur) in panorama_text
    gap = french(cell(table, "94", "ecart_salarial_fh"), fmt.pourcent)
    assert gap in panorama_text


def test_panorama_xlsx_numbers_equal_table(vintage, table):
    wb = openpyxl.load_workbook(vintage[0] / "panoramas" / "region-94.xlsx")
    ws = wb["chiffres_cles"]
    header = [c.value for c in ws[HEADER_ROW]]
    assert header[1:] == ["ESS", "Privé hors ESS", "Public"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    ess_eff = rows["Effectif salarié au 31/12"][0]
    assert ess_eff == cell(table, "94", "effectif_31_12").valeur
    assert rows["Effectif salarié au 31/12"][2] == cell(table, "94", "effectif_31_12", "public").valeur
    assert rows["Part de l'emploi salarié total"][0] == pytest.approx(
        cell(table, "94", "part_emploi_total").valeur / 100
    )
    assert ws.cell(HEADER_ROW + 7, 2).number_format == "0.0%"
    fam = {r[0]: r for r in wb["familles"].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    assert fam["Associations"][2] == cell(table, "94", "effectif_31_12", famille="association").valeur
    sheet_text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert documents.SOURCE in sheet_text and "Lecture :" in sheet_text


def test_secret_cells_print_s(vintage, table, panorama_text):
    # région 94: sector INF is primary secret, TRA secondary → every figure of those rows prints "s"
    assert cell(table, "94", "effectif_31_12", secteur="INF").statut == "secret_primaire"
    assert "Information et communication s s s s" in panorama_text
    assert "Transports et entreposage s s s s" in panorama_text
    assert fmt.normalize(documents.NOTE_SECRET) in panorama_text
    wb = openpyxl.load_workbook(vintage[0] / "panoramas" / "region-94.xlsx")
    sect = {r[0]: r for r in wb["secteurs"].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    assert sect["Information et communication"][1:] == ("s", "s", "s", "s")
    # département 2B: two families secret, and the hourly-wage gap of cadres
    text = layout_check.pdf_text(vintage[0] / "panoramas" / "departement-2B.pdf").replace(
        "\n", " "
    )
    assert "Fondations s s s" in text and "Mutuelles s s s" in text
    csv = (vintage[0] / "donnees" / "departement-2B" / "familles.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Famille;")
    assert any(line.startswith("Fondations;s;s;s") for line in lines)
    assert "," in lines[1] and "." not in lines[1].split(";", 1)[1]


def test_every_section_present(vintage, panorama_text):
    for title in documents.SECTION_TITLES["panorama"]:
        assert title in panorama_text
    v = vintage[0]
    for path, kind in [
        (v / "panoramas" / "departement-2A.pdf", "plaquette"),
        (v / "egalite" / "france.pdf", "egalite"),
    ]:
        text = layout_check.pdf_text(path).replace("\n", " ")
        for title in documents.SECTION_TITLES[kind]:
            assert fmt.normalize(title) in text, (path.name, title)
    assert 2 <= len(PdfReader(str(v / "panoramas" / "departement-2A.pdf")).pages) <= 4


def test_egalite_report_cadres_sentence(vintage, table):
    text = layout_check.pdf_text(vintage[0] / "egalite" / "france.pdf").replace("\n", " ")
    f = cell(table, "FR", "part_cadres", sexe="F").valeur
    h = cell(table, "FR", "part_cadres", sexe="H").valeur
    assert f"un homme a {fmt.normalize(fmt.fois(h / f))} fois plus de chances d'être cadre" in text
    wage_f = french(
        cell(table, "FR", "salaire_net_horaire_moyen", "public", sexe="F", pcs="cadres"),
        lambda x: fmt.euros(x, 2),
    )
    assert wage_f in text


def test_layout_check_passes_and_catches_a_wrong_figure(vintage, table, monkeypatch):
    v = vintage[0]
    report = layout_check.check_vintage(v, regions=["94"])
    assert report.ok, report.problems
    assert len(report.checked) == 3
    wrong = {"effectif_31_12/ess": fmt.normalize(fmt.nombre(cell(table, "94", "effectif_31_12").valeur + 1))}
    problems = layout_check.check_pdf(v / "panoramas" / "region-94.pdf", "panorama", wrong)
    assert any("effectif_31_12/ess" in p for p in problems)
    problems = layout_check.check_pdf(v / "panoramas" / "departement-2A.pdf", "panorama")
    assert any("Les secteurs d'activité" in p for p in problems)


def test_missing_map_module_leaves_a_framed_placeholder(tmp_path, monkeypatch):
    v = write_output(tmp_path)
    monkeypatch.setitem(sys.modules, "observatory.publish.maps", types.ModuleType("observatory.publish.maps"))
    table = documents.IndicatorTable.read(v / "tables" / "indicateurs.parquet")
    paths = documents.build_region_panorama(table, {}, "94", v)
    text = layout_check.pdf_text(paths[0])
    assert "Carte des départements non disponible" in text
    assert "n.d." in text  # no manifest: run date not available
