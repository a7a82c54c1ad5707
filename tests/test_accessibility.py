"""Accessible publications (RGAA / WCAG 2.1 AA, PDF/UA-1).

- PDFs: every product of the sample run is tagged PDF/UA-1 (typst refuses to compile one that breaks the
  rules); read back with PDFium, every figure (chart or map) carries an alternative text, the very text
  built from the cells, which says the figure's headline number as the document prints it, and secret
  cells in words. Title, language ``fr``, headings in order, table headers are checked in the file.
- Colours: series drawn together stay apart for colour-blind readers (Machado 2009 simulation, CIE ΔE),
  map classes too, and every text colour reaches 4.5:1 on its background.
- Portal: axe-core (the copy shipped by ``axe-playwright-python``) in Debian's Chromium at WCAG 2.1 A and
  AA finds no violation, on the portal of the fake vintage and on the sample run's; the search and a
  download work with the keyboard alone, with a visible focus.
"""

from __future__ import annotations

import ctypes
import itertools
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from pypdf import PdfReader

from observatory.errors import PublicationError
from observatory.publish import (
    alt,
    charts,
    colours,
    documents,
    evolution,
    figures,
    fmt,
    layout_check,
    map_specs,
    maps,
    model,
    portal,
    render,
    typst_pdf,
)
from tests import test_portal
from tests.fixtures_indicateurs import build_table

# The portal tests' fixtures: the fake vintage with its portal, served on the loopback, and Chromium.
vintage, served, browser = test_portal.vintage, test_portal.served, test_portal.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEFICIENCIES = [None, "protanopie", "deuteranopie", "tritanopie"]
NUMBER = re.compile(r"[−+]?\d[\d\u00a0]*(?:,\d+)?")


# ------------------------------------------------------------------------------------------ PDF reading
def _text(fn, obj) -> str:
    n = fn(obj, None, 0)
    if n <= 2:
        return ""
    buf = ctypes.create_string_buffer(n)
    fn(obj, buf, n)
    return buf.raw[: n - 2].decode("utf-16-le")


def structure(path: Path) -> list[tuple[int, str, str]]:
    """The tagged structure of a PDF read with PDFium: ``(page, type, alternative text)`` in reading order."""
    out: list[tuple[int, str, str]] = []
    pdf = pdfium.PdfDocument(str(path))

    def walk(elem, page_no):
        out.append(
            (
                page_no,
                _text(pdfium_c.FPDF_StructElement_GetType, elem),
                _text(pdfium_c.FPDF_StructElement_GetAltText, elem),
            )
        )
        for i in range(pdfium_c.FPDF_StructElement_CountChildren(elem)):
            child = pdfium_c.FPDF_StructElement_GetChildAtIndex(elem, i)
            if child:
                walk(child, page_no)

    try:
        for page_no in range(len(pdf)):
            page = pdf[page_no]
            tree = pdfium_c.FPDF_StructTree_GetForPage(page.raw)
            for j in range(pdfium_c.FPDF_StructTree_CountChildren(tree)):
                walk(pdfium_c.FPDF_StructTree_GetChildAtIndex(tree, j), page_no)
            pdfium_c.FPDF_StructTree_Close(tree)
            page.close()
    finally:
        pdf.close()
    return out


def figure_alts(path: Path) -> list[str]:
    return [a for _p, kind, a in structure(path) if kind == "Figure"]


def check_pdf_ua(path: Path) -> None:
    """What PDF/UA-1 asks of the file itself: claimed, tagged, titled, in French, headings in order."""
    reader = PdfReader(str(path))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "fr", path
    assert root["/MarkInfo"]["/Marked"], path
    assert root["/ViewerPreferences"]["/DisplayDocTitle"], path
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfuaid:part(>|=\")1", xmp), path
    assert reader.metadata.title, path
    tags = structure(path)
    levels = [int(kind[1:]) for _p, kind, _a in tags if re.fullmatch(r"H\d", kind)]
    assert levels and levels[0] == 1, path
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), f"{path}: heading levels {levels}"
    kinds = {kind for _p, kind, _a in tags}
    assert "Figure" in kinds and ("Table" not in kinds or "TH" in kinds), path  # tables have headers
    for _p, kind, text in tags:
        if kind == "Figure":
            assert text.strip(), f"{path}: a figure without alternative text"
            assert not re.search(rf"(?<![\w'’]){fmt.SECRET}(?![\w'’])", text), f"{path}: 's' in {text!r}"
            assert fmt.MISSING not in text, f"{path}: 'n.d.' in {text!r}"


# ------------------------------------------------------------------------------------------ alt texts
def test_placeholders_are_said_in_words():
    assert alt.said(fmt.SECRET) == "secret statistique"
    assert alt.said(fmt.MISSING) == "non disponible"
    text = alt.listing("Effectif", [("Associations", "1\u00a0234"), ("Mutuelles", fmt.SECRET)])
    assert text == "Effectif : Associations 1\u00a0234, Mutuelles secret statistique."
    assert alt.listing("Effectif", []) == "Effectif : aucune donnée publiée pour ce territoire."
    assert alt.grouped("Effectif", [], []) == "Effectif. Aucune donnée publiée pour ce territoire."


@pytest.fixture(scope="module")
def fake():
    return model.IndicatorTable(build_table())


def _cell(df, niveau, code, indicateur, champ="ess", **keys):
    k = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes", **keys}
    m = (df.niveau == niveau) & (df.code == code) & (df.indicateur == indicateur) & (df.champ == champ)
    for col, v in k.items():
        m &= df[col] == v
    assert m.sum() == 1
    return df[m].iloc[0]


def test_chart_alt_states_both_territories_from_the_table(fake):
    """The issue's example: the ESS share of all jobs in the région and in France, as printed."""
    df = fake.df
    t, fr = fake.territory("region", "53"), fake.territory("france", "FR")
    fig = figures.fig_chiffres_cles(t, fr, 2023)
    ess_53 = fmt.pourcent(_cell(df, "region", "53", "part_emploi_total").valeur / 100)
    ess_fr = fmt.pourcent(_cell(df, "france", "FR", "part_emploi_total").valeur / 100)
    public_fr = fmt.pourcent(_cell(df, "france", "FR", "part_emploi_total", champ="public").valeur / 100)
    assert f"Bretagne : ESS {ess_53}" in fig.alt
    assert f"France : ESS {ess_fr}" in fig.alt and f"Public {public_fr}" in fig.alt
    assert fig.headline.text() == ess_53


def test_alt_of_a_secret_bar_says_secret_statistique(fake):
    """Haute-Corse: the fixture hides two families' headcounts; the chart's text says so in words."""
    df = fake.df
    t = fake.territory("departement", "2B")
    fig = figures.fig_familles(t, 2023)
    fams = df[
        (df.niveau == "departement")
        & (df.code == "2B")
        & (df.indicateur == "effectif_31_12")
        & (df.champ == "ess")
        & (df.famille != "toutes")
        & (df.secteur == "tous")
        & (df.tranche == "toutes")
        & (df.sexe == "tous")
        & (df.pcs == "toutes")
    ]
    secret = fams[fams.statut.str.startswith("secret")]
    assert len(secret), "the fixture has secret families in Haute-Corse"
    for f in secret.famille:
        assert f"{model.FAMILLES[f]} secret statistique" in fig.alt
    biggest = fams[fams.statut == "publie"].sort_values("valeur").iloc[-1]
    assert fig.headline.text() == fmt.nombre(biggest.valeur)
    assert f"{model.FAMILLES[biggest.famille]} {fmt.nombre(biggest.valeur)}" in fig.alt


def test_a_chart_without_alternative_text_is_refused(tmp_path):
    """Both guards: the model refuses a chart without text, and typst's PDF/UA-1 check refuses the image."""
    fig = model.Figure("x", "Titre", "Unité", "Champ", "Lecture", ["a"], [], chart=lambda p: p)
    with pytest.raises(PublicationError, match="alternative text"):
        render._figure_json(fig, "charts/x.svg", None)
    build = tmp_path / "build"
    (build / "charts").mkdir(parents=True)
    (build / "charts" / "x.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    data = {
        "doc": {
            "titre": "T",
            "sous_titre": "S",
            "millesime": "2023",
            "date": "01/01/2024",
            "perimetre": "p",
            "source": "Source",
        },
        "sections": [
            {
                "titre": "Section",
                "intro": [],
                "kpis": [],
                "metadata": [],
                "figures": [
                    {
                        **render._figure_json(
                            model.Figure("x", "Titre", "U", "C", "L", ["a"], [], alt="texte"),
                            "charts/x.svg",
                            None,
                        ),
                        "alt": None,
                    }
                ],
            }
        ],
    }
    with pytest.raises(PublicationError, match="alt text"):
        typst_pdf.compile_pdf("plaquette.typ", data, build, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
    data["sections"][0]["figures"][0]["alt"] = "Un carré noir."
    typst_pdf.compile_pdf("plaquette.typ", data, build, tmp_path / "x.pdf")
    assert figure_alts(tmp_path / "x.pdf") == ["Un carré noir."]
    check_pdf_ua(tmp_path / "x.pdf")


# ------------------------------------------------------------------------------------------ the sample run
def _products(vintage_dir: Path) -> list[Path]:
    """Every PDF of the run, but 20 of the ~1 250 EPCI portraits (all compiled by the same code)."""
    portraits = sorted((vintage_dir / "portraits").glob("epci-*.pdf"))
    return sorted(
        [p for sub in ("panoramas", "egalite", "barometre") for p in (vintage_dir / sub).rglob("*.pdf")]
        + portraits[:: max(1, len(portraits) // 20)]
    )


def _model(published, table, manifest, history, path: Path) -> model.Document | None:
    stem, sub = path.stem, path.parent.name
    if sub == "panoramas" and stem.startswith("region-"):
        return documents.panorama_document(table, manifest, stem.split("-", 1)[1], history)
    if sub == "panoramas" and stem.startswith("departement-"):
        return documents.plaquette_document(table, manifest, stem.split("-", 1)[1], history)
    if sub == "egalite":
        return documents.egalite_document(table, manifest)
    if sub == "portraits":
        from observatory.publish import portrait

        return portrait.epci_document(table, manifest, stem.split("-", 1)[1])
    return None


def check_barometre_alts(path: Path, alts: list[str], printed: str) -> None:
    """A baromètre PDF's figure texts are the model's, rebuilt from the published baromètre table; each says
    its headline number as printed (in words when secret), and a figure with a table prints it."""
    import tempfile

    import pandas as pd

    from observatory.publish import barometre_docs as bd

    b = bd.Barometre(pd.read_parquet(path.parent / "indicateurs.parquet"), path.parent.name)
    niveau, code = ("france", "FR") if path.stem == "france" else ("region", path.stem.split("-", 1)[1])
    with tempfile.TemporaryDirectory() as tmp:
        content = bd.territory_content(b, niveau, code, Path(tmp))
    figs = [f for sec in content["sections"] for f in sec["figures"] if f["chart"] or f["map"]]
    assert alts == [f["alt"] for f in figs], path
    for f in figs:
        head = f["headline"]
        if head is None:  # an empty chart
            assert alt.NO_DATA in f["alt"].lower(), (path, f["id"])
            continue
        assert alt.said(head) in f["alt"], (path, f["id"], head)
        if f["table"] is not None and head not in (fmt.SECRET, fmt.MISSING):
            assert fmt.normalize(head) in printed, (path, f["id"], head)


def test_barometre_pdf_is_pdf_ua_and_its_figures_state_their_headline(tmp_path):
    """The micro baromètre (tests/test_barometre.py): PDF/UA-1 facts; each figure's text is the model's, says
    its headline (the privé hors ESS series is secret: said in words), which a table prints."""
    from observatory import barometre
    from observatory.config import Settings
    from observatory.publish.barometre_docs import build_barometre_docs
    from tests.test_barometre import make_warehouse

    settings = Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)
    con = make_warehouse()
    folder = barometre.build_barometre(con, settings, "2023-S2")["path"].parent
    con.close()
    build_barometre_docs(folder, regions=["53"])
    pdf = folder / "region-53.pdf"
    check_pdf_ua(pdf)
    alts = figure_alts(pdf)
    assert len(alts) == 4 and "Privé hors ESS : secret statistique" in alts[0]
    check_barometre_alts(pdf, alts, layout_check.flat_text(pdf))
    with pytest.raises(AssertionError):  # the check can fail: a text that lost its headline
        check_barometre_alts(pdf, [alts[0].replace("75 au", "76 au"), *alts[1:]], layout_check.flat_text(pdf))


def test_every_pdf_of_the_sample_run_is_pdf_ua_with_figures_described(published):
    """Each PDF: PDF/UA-1 facts in the file; each figure's alternative text is the model's, contains its
    headline number as the document prints it, and that number is printed in the document."""
    vintage_dir = published.vintage
    table = model.IndicatorTable.read(vintage_dir / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(vintage_dir)
    history = evolution.earlier_vintages(vintage_dir, table.millesime)
    pdfs = _products(vintage_dir)
    kinds = {p.parent.name if p.parent.name != vintage_dir.name else p.name for p in pdfs}
    assert {"panoramas", "egalite", "portraits"} <= kinds and any("barometre" in p.parts for p in pdfs)
    n_figures = 0
    for path in pdfs:
        check_pdf_ua(path)
        alts = figure_alts(path)
        printed = layout_check.flat_text(path)
        doc = _model(published, table, manifest, history, path)
        if doc is None:  # the baromètre: a number of each text is printed in the document
            assert len(alts) >= 4, path
            for text in alts:
                numbers = [n for n in NUMBER.findall(fmt.normalize(text)) if len(n) > 1]
                assert any(n in printed for n in numbers) or "secret statistique" in text, (path, text)
            if path.stem == "france" or path.stem in ("region-11", "region-53", "region-04"):
                check_barometre_alts(path, alts, printed)
            n_figures += len(alts)
            continue
        figs = [f for s in doc.sections for f in s.figures if f.chart is not None or f.map_slot or f.bars]
        assert alts == [f.alt for f in figs], path
        for f, text in zip(figs, alts, strict=True):
            if f.headline is None:  # an empty chart (Mayotte has no establishment in the field)
                assert alt.NO_DATA in text.lower(), (path, f.id, text)
                continue
            head = f.headline.text()
            assert alt.said(head) in text, (path, f.id, head, text)
            if f.show_table and f.headline.ok:
                assert fmt.normalize(head) in printed, (path, f.id, head)
        n_figures += len(alts)
    assert n_figures >= 2 * len(pdfs)


def check_workbook_links(book: Path, root: Path) -> int:
    """Each figure sheet of a documents' workbook links its figure's CSV (a relative path inside ``root``),
    which holds the sheet's rows. Returns the number of sheets checked."""
    import csv

    import openpyxl

    from observatory.publish.xlsx import HEADER_ROW

    wb = openpyxl.load_workbook(book)
    figures = [r[0] for r in wb["Sommaire"].iter_rows(min_row=6, max_col=4, values_only=True) if r[3]]
    assert figures, book.name
    for ws in (wb[name] for name in figures):
        link = ws["A4"].hyperlink
        assert link is not None, (book.name, ws.title)
        target = (book.parent / link.target).resolve()
        assert target.is_file() and root.resolve() in target.parents, (book.name, link.target)
        with open(target, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        n_sheet = 0
        for r in range(HEADER_ROW + 1, ws.max_row + 1):
            if ws.cell(r, 1).value is None:
                break
            n_sheet += 1
        assert len(rows) - 1 == n_sheet, (book.name, ws.title)
        if n_sheet:  # a breakdown can be empty (Mayotte has no sector in the field)
            assert rows[1][0] == ws.cell(HEADER_ROW + 1, 1).value
    return len(figures)


def test_every_chart_of_the_sample_run_has_its_data_table_at_hand(published):
    """Each figure sheet of each workbook (panoramas, plaquettes, égalité, EPCI portraits, baromètre) links the
    figure's CSV (relative path), which holds its rows."""
    v = published.vintage
    books = sorted((v / "panoramas").glob("*.xlsx")) + [v / "egalite" / "france.xlsx"]
    portraits = sorted((v / "portraits").glob("*.xlsx"))
    assert portraits
    books += portraits[:: max(1, len(portraits) // 20)]  # 20 of the ~1 250 EPCI portraits
    linked = sum(check_workbook_links(book, v) for book in books)
    assert linked >= 2 * len(books)
    # the baromètre: one CSV per figure, every value equal to the semester's published table (s when secret)
    import pandas as pd

    from tests.test_barometre import check_barometre_csvs

    semesters = sorted(p.parent for p in v.glob("barometre/*/indicateurs.parquet"))
    assert semesters
    for folder in semesters:
        pubs = [("france", "france", "FR")] + [
            (p.stem, "region", p.stem.split("-", 1)[1]) for p in sorted(folder.glob("region-*.pdf"))
        ]
        seen = check_barometre_csvs(folder, pd.read_parquet(folder / "indicateurs.parquet"), pubs)
        assert seen["s"] > 0 and seen["number"] > 0, (folder.name, seen)


def test_portal_links_the_charts_data_beside_the_territory(tmp_path):
    """The CSV of each chart, as the documents write them (``donnees/<territoire>/<figure>.csv``), is listed in
    its territory's entry, not among the other files."""
    from tests.fixtures_maps import write_fake_vintage

    v = write_fake_vintage(tmp_path / "output")
    for rel in (
        "donnees/region-84/familles.csv",
        "donnees/egalite-france/ecarts.csv",
        "barometre/2024-S1/donnees/region-84/serie-longue.csv",
        "barometre/2024-S1/donnees/france/chiffres-cles.csv",
    ):
        (v / rel).parent.mkdir(parents=True, exist_ok=True)
        (v / rel).write_text("a;b\r\n", encoding="utf-8")
    html = portal.build_portal(tmp_path / "output", 2023).read_text(encoding="utf-8")
    start = html.index('id="region-84"')
    region = html[start : html.index('class="territoire', start)]  # up to the next territory
    assert 'href="../donnees/region-84/familles.csv"' in region and ">familles<" in region
    # the baromètre's data, in the entry right after the baromètre's PDF and workbook
    items = re.findall(r'<li class="produit.*?</li>', region, re.DOTALL)
    i = next(i for i, li in enumerate(items) if "barometre/2024-S1/region-84.pdf" in li)
    assert 'href="../barometre/2024-S1/donnees/region-84/serie-longue.csv"' in items[i + 1]
    assert "Baromètre 2024, semestre 1 : données des graphiques (CSV)" in items[i + 1]
    france = html[html.index('id="france-FR"') : html.index('id="region-')]
    assert 'href="../donnees/egalite-france/ecarts.csv"' in france
    assert 'href="../barometre/2024-S1/donnees/france/chiffres-cles.csv"' in france
    others = html[html.index("Autres fichiers") :] if "Autres fichiers" in html else ""
    assert "donnees/" not in others


IMAGE = re.compile(r"\.(png|svg|jpe?g|gif|webp)$", re.IGNORECASE)


def _image_descriptions(html: str) -> dict[str, str]:
    """Each picture linked by the portal (``href`` of an image file) → the text its link is described by."""
    texts = {
        m[1]: re.sub(r"<[^>]+>", "", m[2]) for m in re.finditer(r'<p id="([^"]+)">(.*?)</p>', html, re.DOTALL)
    }
    out = {}
    for tag in re.findall(r"<a\b[^>]*>", html):
        href = re.search(r'href="([^"]+)"', tag)
        if href and IMAGE.search(href[1]):
            ref = re.search(r'aria-describedby="([^"]+)"', tag)
            out[href[1]] = " ".join(texts.get(i, "") for i in ref[1].split()).strip() if ref else ""
    return out


def map_cells(table, spec):
    """The cells a national map draws (one per territory of its level), selected with pandas."""
    return table[
        (table.niveau == spec.niveau)
        & (table.indicateur == spec.indicateur)
        & (table.champ == "ess")
        & (table.famille == "toutes")
        & (table.secteur == "tous")
        & (table.tranche == "toutes")
        & (table.sexe == "tous")
        & (table.pcs == "toutes")
    ]


def map_headline(table, spec) -> str:
    """The highest published value of a national map's cells (the map's "Lecture :" figure), computed with
    pandas from the table, as the maps print it."""
    sel = map_cells(table, spec)
    sel = sel[sel.statut == "publie"]
    top = sel.valeur.astype(float).max()
    return fmt.pourcent(top / 100) if sel.unite.iloc[0] == "pourcent" else fmt.nombre(top)


def check_maps_described(vintage_dir: Path) -> int:
    """Every map picture the portal links has a text alternative stating the map's headline figure; the SVG
    file carries the same text. Returns the number of pictures checked."""
    import html as html_lib

    import pandas as pd

    table = pd.read_parquet(vintage_dir / "tables" / "indicateurs.parquet")
    page = (vintage_dir / "portail" / "index.html").read_text(encoding="utf-8")
    described = _image_descriptions(page)
    specs = {s.name: s for s in map_specs.MAPS}
    assert described, "the portal links no map"
    for href, text in described.items():
        text = html_lib.unescape(text)
        assert text, f"{href}: no text alternative"
        spec = specs[Path(href).stem]
        head = map_headline(table, spec)
        assert fmt.normalize(head) in fmt.normalize(text), (href, head, text[:200])
        assert fmt.SECRET not in text.split() and fmt.MISSING not in text, (href, text)
        assert text == map_specs.map_alt(table, spec)
        if href.endswith(".svg"):
            svg = (vintage_dir / "portail" / href).resolve().read_bytes().decode("utf-8", "replace")
            if not svg.startswith("fake "):  # a real map (the fake vintage holds placeholder bytes)
                desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.DOTALL)
                assert desc and html_lib.unescape(desc[1]) == text, href
    return len(described)


def test_portal_describes_every_map_it_links(tmp_path):
    """The standalone map files have their text alternative beside their links (``aria-describedby``), built
    from the same cells by the same function as the files' own; the headline is the table's highest value."""
    from tests.fixtures_maps import write_fake_vintage

    v = write_fake_vintage(tmp_path / "output")
    portal.build_portal(tmp_path / "output", 2023)
    assert check_maps_described(v) == 2  # part-ess-emploi-departements.png and .svg
    # the check can fail: a map link without its description is reported
    page = v / "portail" / "index.html"
    page.write_text(
        re.sub(r' aria-describedby="[^"]+"', "", page.read_text(encoding="utf-8")), encoding="utf-8"
    )
    with pytest.raises(AssertionError, match="no text alternative"):
        check_maps_described(v)


def test_map_alt_says_secret_cells_in_words_and_states_the_extremes():
    from tests.fixtures_maps import fake_indicator_table

    table = fake_indicator_table()
    spec = map_specs.MAPS[0]
    text = map_specs.map_alt(table, spec)
    values = map_specs.indicator_values(table, spec.indicateur, spec.niveau)
    secret = values[values.statut.str.startswith("secret")]
    assert len(secret)
    for name in secret.libelle:
        assert f"{name} secret statistique" in text
    pub = values.dropna(subset=["valeur"]).sort_values(["valeur", "code"])

    def at(v):  # every département at that value (ties are named together)
        return ", ".join(pub[pub.valeur == v].libelle)

    low, top = pub.valeur.min(), pub.valeur.max()
    assert f"la plus forte est {fmt.pourcent(top / 100)} ({at(top)})" in text
    assert f"la plus faible {fmt.pourcent(low / 100)} ({at(low)})" in text
    assert len(pub[pub.valeur == low]) == 2  # the fixture has a tie there
    assert f"{len(secret)} départements sous secret statistique" in text


def test_each_national_map_has_its_data_table(tmp_path):
    """``cartes/<map>.csv``: every territory of the map's level with the value drawn, equal to the table's cell
    (computed apart with pandas), ``s`` when secret; the portal links it in the map's entry."""
    import csv

    from tests.fixtures_maps import fake_indicator_table, write_fake_vintage

    table = fake_indicator_table()
    for spec in map_specs.MAPS:
        path = maps.write_map_csv(table, spec, tmp_path / f"{spec.name}.csv")
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        sel = map_cells(table, spec).set_index("code")
        assert len(rows) - 1 == (101 if spec.niveau == "departement" else 18)
        n_secret = 0
        for code, _name, written in rows[1:]:
            cell = sel.loc[code] if code in sel.index else None
            if cell is None or (cell.statut == "publie" and cell.valeur != cell.valeur):
                assert written == "", (spec.name, code)
            elif cell.statut.startswith("secret"):
                assert written == "s", (spec.name, code)
                n_secret += 1
            else:
                assert float(written.replace(",", ".")) == float(cell.valeur), (spec.name, code, written)
        assert n_secret == int(sel.statut.str.startswith("secret").sum())
    v = write_fake_vintage(tmp_path / "output")
    (v / "cartes" / "part-ess-emploi-departements.csv").write_text("a;b\r\n", encoding="utf-8")
    html = portal.build_portal(tmp_path / "output", 2023).read_text(encoding="utf-8")
    entry = next(
        li for li in re.findall(r'<li class="produit.*?</li>', html, re.DOTALL) if "Carte : Part" in li
    )
    assert 'href="../cartes/part-ess-emploi-departements.csv"' in entry


def test_map_files_carry_their_text_alternative(tmp_path):
    """The SVG opens with ``<title>`` and ``<desc>`` (what a screen reader says of it), the PNG has it as its
    ``Description`` text."""
    from PIL import Image

    from tests.fixtures_maps import fake_indicator_table

    table = fake_indicator_table()
    spec = map_specs.MAPS[0]
    fig = maps.draw_map(table, spec)
    text = map_specs.map_alt(table, spec)
    svg = maps.save_figure(fig, tmp_path / "m.svg", "Titre", text).read_text(encoding="utf-8")
    root = svg[svg.index("<svg") :]
    assert 'role="img"' in root[: root.index(">")]
    assert root[root.index(">") + 1 :].startswith('<title id="titre">Titre</title><desc id="description">')
    import html as html_lib

    assert html_lib.unescape(re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.DOTALL)[1]) == text
    png = maps.save_figure(fig, tmp_path / "m.png", "Titre", text)
    assert Image.open(png).text["Description"] == text


# ------------------------------------------------------------------------------------------ colours
SERIES_TOGETHER = [
    ("ess", "prive_hors_ess", "public"),  # chiffres clés, emplois, écarts
    ("F", "H"),  # sexe, salaires, pyramide
    ("ess", "ref"),  # tranches
    ("ess", "prive_hors_ess"),  # évolution, baromètre
]


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
@pytest.mark.parametrize("series", SERIES_TOGETHER, ids="-".join)
def test_chart_series_stay_apart_for_colour_blind_readers(series, deficiency):
    assert colours.min_delta_e([charts.COLORS[s] for s in series], deficiency) >= 20


def test_colour_blind_simulation_merges_red_and_green():
    """The simulation can fail a palette: a red and a green of equal lightness merge for deuteranopia."""
    red, green = "#d62728", "#7f7f00"
    assert colours.min_delta_e([red, green]) > 40
    assert colours.min_delta_e([red, green], "deuteranopie") < 10


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_map_classes_stay_apart_for_colour_blind_readers(deficiency):
    for cmap in sorted({spec.cmap for spec in map_specs.MAPS}):
        for k in range(map_specs.K_RANGE[0], map_specs.K_RANGE[1] + 1):
            cols = map_specs.class_colors(cmap, k)
            seen = [c if deficiency is None else colours.simulate(c, deficiency) for c in cols]
            steps = [colours.delta_e(a, b) for a, b in itertools.pairwise(seen)]
            assert min(steps) >= 10, (cmap, k, deficiency, steps)


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_barometre_map_sides_stay_apart(deficiency):
    """The diverging map: a fall and a rise of the same size never look alike."""
    import matplotlib

    cmap = matplotlib.colormaps["RdBu"]
    for x in (0.3, 0.6, 1.0):
        lo, hi = (matplotlib.colors.to_hex(cmap(0.5 + s * x / 2)) for s in (-1, 1))
        seen = [c if deficiency is None else colours.simulate(c, deficiency) for c in (lo, hi)]
        assert colours.delta_e(*seen) >= 20, (x, deficiency)


def _css_vars(css: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))


def test_text_colours_reach_4_5_to_1():
    """Every text colour of the PDFs, charts and portal against the background it is drawn on."""
    typ = (model.TEMPLATES / "style.typ").read_text(encoding="utf-8")
    tcol = dict(re.findall(r'#let (\w+) = rgb\("(#[0-9A-Fa-f]{6})"\)', typ))
    css = _css_vars((portal.TEMPLATES / "style.css").read_text(encoding="utf-8"))
    pairs = [
        (tcol["ink"], "#ffffff"),
        (tcol["grey"], "#ffffff"),
        (tcol["accent"], "#ffffff"),
        (tcol["accent"], tcol["light"]),  # key figures
        (tcol["ink"], tcol["light"]),  # table header
        (tcol["grey"], tcol["light"]),  # banner millésime
        (tcol["ink"], tcol["zebra"]),  # table stripes
        (charts.TEXT, "#ffffff"),
        (maps.TEXT_GREY, "#ffffff"),
        (css["ink"], "#fafafa"),
        (css["muted"], "#fafafa"),
        (css["muted"], "#ffffff"),
        (css["missing"], "#ffffff"),
        (css["accent"], "#fafafa"),  # group headings
        (css["accent"], css["accent-light"]),  # download buttons
        ("#ffffff", css["accent"]),  # header, focused button
    ]
    pairs += [(colours.text_on(c), c) for c in charts.COLORS.values()]  # labels inside bars
    low = [(fg, bg, round(colours.contrast_ratio(fg, bg), 2)) for fg, bg in pairs]
    assert [p for p in low if p[2] < 4.5] == []


def test_contrast_ratio_matches_wcag_examples():
    assert colours.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert colours.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert colours.text_on("#A0A8B0") == colours.DARK_TEXT and colours.text_on("#A3195B") == "#ffffff"


# ------------------------------------------------------------------------------------------ portal
def axe_violations(page) -> list[dict]:
    """axe-core's violations of WCAG 2.1 A and AA on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert len(results.response["passes"]) >= 10  # the audit did run its rules
    return results.response["violations"]


def _summary(violations: list[dict]) -> list[str]:
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}, {v['nodes'][0]['target']})" for v in violations]


def test_portal_passes_axe_core_at_wcag_21_aa(served, browser):
    page = browser.new_page()
    page.goto(f"{served}/portail/index.html")
    assert _summary(axe_violations(page)) == []
    page.fill("#recherche", "zzz")  # the state with no result
    assert _summary(axe_violations(page)) == []


def test_axe_core_catches_a_broken_portal(served, browser):
    """The audit can fail: a page without its language and with a grey-on-white text is reported."""
    page = browser.new_page()
    page.goto(f"{served}/portail/index.html")
    page.evaluate(
        "document.documentElement.removeAttribute('lang');"
        "document.querySelector('#compte').style.color = '#bbbbbb'"
    )
    assert {"html-has-lang", "color-contrast"} <= {v["id"] for v in axe_violations(page)}


def test_portal_of_the_sample_run_passes_axe_core(published, browser):
    page = browser.new_page()
    page.goto((published.vintage / "portail" / "index.html").as_uri())
    assert _summary(axe_violations(page)) == []


def test_portal_of_the_sample_run_describes_its_maps_and_links_the_barometre_data(published):
    """Every map picture the portal links has its text alternative with the map's headline (the SVG holds the
    same text); every CSV behind a baromètre figure is linked in its territory's entry."""
    v = published.vintage
    assert check_maps_described(v) == 2 * len(map_specs.MAPS)  # PNG and SVG of each national map
    page = (v / "portail" / "index.html").read_text(encoding="utf-8")
    csvs = sorted(v.glob("barometre/*/donnees/*/*.csv"))
    assert csvs and len(csvs) == 5 * len(list(v.glob("barometre/*/*.pdf")))  # five figures per publication
    for path in csvs:
        rel = path.relative_to(v).as_posix()
        stem = path.parent.name
        anchor = "france-FR" if stem == "france" else f"region-{stem.split('-', 1)[1]}"
        start = page.index(f'id="{anchor}"')
        entry = page[start : page.index('class="territoire', start + 1)]
        assert f'href="../{rel}"' in entry, rel


def test_search_and_download_with_the_keyboard_alone(served, browser, vintage):
    """Tab to the skip link, Enter to the search, type, Tab to the first file found, Enter downloads it."""
    page = browser.new_page(accept_downloads=True)
    page.goto(f"{served}/portail/index.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "evitement"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "recherche"
    page.keyboard.type("auvergne rhone")
    assert page.text_content("#compte") == "1 territoire"
    page.keyboard.press("Tab")
    focused = page.evaluate_handle("document.activeElement")
    assert focused.get_attribute("href") == "../panoramas/region-84.pdf"
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert style[0] != "none" and style[1] >= 2  # the focus is visible
    name = page.evaluate("document.activeElement.textContent")
    assert "Panorama régional" in name and "Auvergne-Rhône-Alpes" in name  # the link says what it opens
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert Path(download.value.path()).read_bytes() == (vintage / "panoramas" / "region-84.pdf").read_bytes()
