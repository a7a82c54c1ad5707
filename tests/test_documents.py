"""Panorama, plaquette and égalité report: the numbers printed are the indicator table's.

Built once per module on the fake indicator table of ``tests/fixtures_indicateurs.py`` for Corse (94),
the région with secret cells, and its two départements.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from observatory.errors import PublicationError
from observatory.publish import documents, fmt, layout_check, model, notes
from observatory.publish.xlsx import HEADER_ROW
from tests.fixtures_indicateurs import build_table, write_output

AGE_SHARES = {
    # indicator → (share of women, share of men) of each sex's headcount
    "effectif_age_moins_25": (0.12, 0.09),
    "effectif_age_25_34": (0.21, 0.20),
    "effectif_age_35_44": (0.24, 0.25),
    "effectif_age_45_54": (0.23, 0.24),
    "effectif_age_55_plus": (0.20, 0.22),
}
AGE_SECRETS = {
    # (code, champ, indicateur, sexe) → statut; the sexe "tous" cell of a secret band is secret too
    ("94", "ess", "effectif_age_moins_25", "H"): "secret_primaire",
    ("94", "ess", "effectif_age_55_plus", "H"): "secret_secondaire",
}
EARLIER_SECRETS = {("94", "prive_hors_ess"), ("2B", "ess")}
"""Headcounts at 31/12 (no breakdown) made secret in the earlier vintage 2022."""


def with_age_bands(df: pd.DataFrame) -> pd.DataFrame:
    """The fixture table plus ``effectif_age_*`` cells (sexe F/H/tous) split from each sex's headcount."""
    key = (df.indicateur == "effectif_31_12") & (df.famille == "toutes") & (df.secteur == "tous")
    key &= (
        (df.tranche == "toutes") & (df.pcs == "toutes") & df.champ.isin(["ess", "prive_hors_ess", "public"])
    )
    rows = []
    for r in df[key & df.sexe.isin(["F", "H"])].to_dict("records"):
        left = r["valeur"]
        for i, (ind, shares) in enumerate(AGE_SHARES.items()):
            v = left if i == len(AGE_SHARES) - 1 else round(r["valeur"] * shares[r["sexe"] == "H"])
            left -= v
            rows.append({**r, "indicateur": ind, "valeur": float(v)})
    ages = pd.DataFrame(rows)
    tous = ages.groupby([c for c in ages.columns if c not in ("sexe", "valeur")], as_index=False).valeur.sum()
    ages = pd.concat([ages, tous.assign(sexe="tous")], ignore_index=True)
    for (code, champ, ind, sexe), statut in AGE_SECRETS.items():
        m = (ages.code == code) & (ages.champ == champ) & (ages.indicateur == ind)
        ages.loc[m & (ages.sexe == sexe), "statut"] = statut
        ages.loc[m & (ages.sexe == "tous"), "statut"] = "secret_secondaire"
    ages.loc[ages.statut != "publie", "valeur"] = float("nan")
    return pd.concat([df, ages[df.columns]], ignore_index=True)


def earlier_table() -> pd.DataFrame:
    """Vintage 2022 of the fixture table (another seed), with a few headcounts secret."""
    old = build_table(2022, seed=3)
    for code, champ in EARLIER_SECRETS:
        m = (old.code == code) & (old.champ == champ) & (old.indicateur == "effectif_31_12")
        m &= (old.famille == "toutes") & (old.secteur == "tous") & (old.tranche == "toutes")
        m &= (old.sexe == "tous") & (old.pcs == "toutes")
        old.loc[m, ["statut", "valeur"]] = ["secret_primaire", float("nan")]
    return old


def write_two_vintages(root) -> Path:
    """``root/2022`` (earlier vintage) and ``root/2023`` (with age bands); return the 2023 folder."""
    v = write_output(root)
    path = v / "tables" / "indicateurs.parquet"
    with_age_bands(pd.read_parquet(path)).to_parquet(path, index=False)
    (root / "2022" / "tables").mkdir(parents=True)
    earlier_table().to_parquet(root / "2022" / "tables" / "indicateurs.parquet", index=False)
    return v


@pytest.fixture(scope="module")
def vintage(tmp_path_factory):
    v = write_two_vintages(tmp_path_factory.mktemp("output"))
    result = documents.build_all(v, regions=["94"])
    table = model.IndicatorTable.read(v / "tables" / "indicateurs.parquet")
    documents.build_egalite_france(table, documents.read_manifest(v), v)
    return v, result


@pytest.fixture(scope="module")
def table(vintage):
    return pd.read_parquet(vintage[0] / "tables" / "indicateurs.parquet")


@pytest.fixture(scope="module")
def panorama_text(vintage):
    reader = PdfReader(str(vintage[0] / "panoramas" / "region-94.pdf"))
    return fmt.normalize(" ".join(p.extract_text() for p in reader.pages).replace("\n", " "))


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
    # a percentage 0–100 as in the table and the CSV, to its publication precision (0.1 point)
    assert rows["Part de l'emploi salarié total"][0] == round(cell(table, "94", "part_emploi_total").valeur, 1)
    assert ws.cell(HEADER_ROW + 7, 2).number_format == '0.0" %"'
    fam = {r[0]: r for r in wb["familles"].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    assert fam["Associations"][2] == cell(table, "94", "effectif_31_12", famille="association").valeur
    sheet_text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert model.SOURCE in sheet_text and "Lecture :" in sheet_text


def test_workbook_links_styles_and_layout(vintage):
    """The contents sheet links each figure's sheet and CSV; a figure sheet links its CSV by a relative POSIX
    path that resolves from the workbook's folder, has bold headers on a fill, frozen panes under them, and
    every Méthodologie definition."""
    book = vintage[0] / "panoramas" / "region-94.xlsx"
    wb = openpyxl.load_workbook(book)
    toc = wb["Sommaire"]
    assert [c.value for c in toc[HEADER_ROW]] == ["Feuille", "Section", "Titre", "Données (CSV)"]
    assert toc["A6"].value == "chiffres_cles" and toc["A6"].hyperlink.location == "'chiffres_cles'!A1"
    assert toc["D6"].hyperlink.target == "../donnees/region-94/chiffres_cles.csv"
    ws = wb["chiffres_cles"]
    link = ws["A4"].hyperlink.target
    assert "\\" not in link and (book.parent / link).resolve().is_file()
    assert ws["A4"].value == f"Données du graphique au format CSV : {link}"
    head = ws.cell(HEADER_ROW, 2)
    assert head.font.b and head.fill.fgColor.rgb.endswith("F2E4EC") and head.alignment.wrap_text
    assert ws.freeze_panes == f"B{HEADER_ROW + 1}" and ws["A1"].font.b
    methodo = [r[0] for r in wb["Méthodologie"].iter_rows(values_only=True)]
    assert notes.DEFINITIONS in methodo and set(notes.definitions()) <= set(methodo)


def test_secret_cells_print_s(vintage, table, panorama_text):
    # région 94: sector INF is primary secret, TRA secondary → every figure of those rows prints "s"
    assert cell(table, "94", "effectif_31_12", secteur="INF").statut == "secret_primaire"
    assert "Information et communication s s s s" in panorama_text
    assert "Transports et entreposage s s s s" in panorama_text
    assert fmt.normalize(model.NOTE_SECRET) in panorama_text
    wb = openpyxl.load_workbook(vintage[0] / "panoramas" / "region-94.xlsx")
    sect = {r[0]: r for r in wb["secteurs"].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    assert sect["Information et communication"][1:] == ("s", "s", "s", "s")
    # département 2B: two families secret, and the hourly-wage gap of cadres
    text = layout_check.flat_text(vintage[0] / "panoramas" / "departement-2B.pdf")
    assert "Fondations s s s" in text and "Mutuelles s s s" in text
    csv = (vintage[0] / "donnees" / "departement-2B" / "familles.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Famille;")
    assert any(line.startswith("Fondations;s;s;s") for line in lines)
    assert "," in lines[1] and "." not in lines[1].split(";", 1)[1]


def test_every_section_present(vintage, panorama_text):
    for title in model.SECTION_TITLES["panorama"]:
        assert title in panorama_text
    v = vintage[0]
    for path, kind in [
        (v / "panoramas" / "departement-2A.pdf", "plaquette"),
        (v / "egalite" / "france.pdf", "egalite"),
    ]:
        text = layout_check.flat_text(path)
        for title in model.SECTION_TITLES[kind]:
            assert fmt.normalize(title) in text, (path.name, title)
    assert 2 <= len(PdfReader(str(v / "panoramas" / "departement-2A.pdf")).pages) <= 4


def test_egalite_report_cadres_sentence(vintage, table):
    text = layout_check.flat_text(vintage[0] / "egalite" / "france.pdf")
    f = cell(table, "FR", "part_cadres", sexe="F").valeur
    h = cell(table, "FR", "part_cadres", sexe="H").valeur
    assert f"un homme a {fmt.normalize(fmt.fois(h / f))} fois plus de chances d'être cadre" in text
    wage_f = french(
        cell(table, "FR", "salaire_net_horaire_moyen", "public", sexe="F", pcs="cadres"),
        lambda x: fmt.euros(x, 1),  # hourly pay to 0.1 €, as INSEE's SAL G1
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
    table = model.IndicatorTable.read(v / "tables" / "indicateurs.parquet")
    paths = documents.build_region_panorama(table, {}, "94", v)
    text = layout_check.flat_text(paths[0])
    assert "Carte des départements non disponible" in text
    assert "n.d." in text  # no manifest: run date not available
    # no earlier vintage, no age bands in the table: one sentence each, and the layout check accepts it
    assert fmt.normalize(model.EVOLUTION_ABSENTE) in text
    assert fmt.normalize(model.PYRAMIDE_ABSENTE) in text
    assert model.TITRE_PYRAMIDE not in text
    assert not (v / "donnees" / "region-94" / "evolution.csv").exists()
    assert layout_check.check_pdf(paths[0], "panorama") == []


def test_layout_check_requires_the_new_figures(vintage):
    v = vintage[0]
    problems = layout_check.check_pdf(v / "egalite" / "france.pdf", "panorama")
    assert any("Évolution de l'effectif" in p for p in problems)
    report = layout_check.check_vintage(v, regions=["94"])
    assert report.ok, report.problems
    wrong = {"evolution/ess": "+99,9 %"}
    assert layout_check.check_pdf(v / "panoramas" / "region-94.pdf", "panorama", wrong)
    expected = layout_check.expected_evolution(
        pd.read_parquet(v / "tables" / "indicateurs.parquet"), earlier_table(), "region", "94"
    )
    assert expected["evolution/prive_hors_ess"] == fmt.SECRET and expected["evolution/ess"] != fmt.SECRET


def test_evolution_numbers_equal_both_tables(vintage, table, panorama_text):
    v = vintage[0]
    old = earlier_table()
    e22, e23 = cell(old, "94", "effectif_31_12").valeur, cell(table, "94", "effectif_31_12").valeur
    p23 = cell(table, "94", "effectif_31_12", "prive_hors_ess").valeur
    pct, diff = e23 / e22 - 1, e23 - e22
    row = " ".join(
        fmt.normalize(x) for x in (fmt.nombre(e22), fmt.nombre(e23), fmt.evolution(pct), fmt.solde(diff))
    )
    assert f"ESS {row}" in panorama_text
    # privé hors ESS is secret in 2022: its headcount and both changes print "s"
    assert f"Privé hors ESS s {fmt.normalize(fmt.nombre(p23))} s s" in panorama_text
    wb = openpyxl.load_workbook(v / "panoramas" / "region-94.xlsx")
    ws = wb["evolution"]
    assert [c.value for c in ws[HEADER_ROW]][1:3] == ["2022", "2023"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]}
    assert rows["ESS"][:2] == (e22, e23)
    assert rows["ESS"][2] == round(100 * pct, 1) and rows["ESS"][3] == pytest.approx(diff)  # %, 0.1 point
    assert rows["Privé hors ESS"] == ("s", p23, "s", "s")
    lines = (v / "donnees" / "region-94" / "evolution.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Champ;2022;2023;Évolution 2022-2023 (%);Évolution 2022-2023 (emplois)"
    ess = lines[1].split(";")
    assert ess[:3] == ["ESS", f"{e22:.0f}", f"{e23:.0f}"]
    assert float(ess[3].replace(",", ".")) == round(100 * pct, 1)
    # plaquettes: one line; 2B's ESS headcount is secret in 2022
    text_2b = layout_check.flat_text(v / "panoramas" / "departement-2B.pdf")
    p_2b = (
        cell(table, "2B", "effectif_31_12", "prive_hors_ess").valeur
        / cell(old, "2B", "effectif_31_12", "prive_hors_ess").valeur
        - 1
    )
    assert f"ESS s, privé hors ESS {fmt.normalize(fmt.evolution(p_2b))}." in text_2b
    text_2a = layout_check.flat_text(v / "panoramas" / "departement-2A.pdf")
    a22, a23 = cell(old, "2A", "effectif_31_12").valeur, cell(table, "2A", "effectif_31_12").valeur
    expected = (
        f"ESS {fmt.normalize(fmt.evolution(a23 / a22 - 1))} ({fmt.normalize(fmt.solde(a23 - a22))} emplois)"
    )
    assert expected in text_2a


def test_age_pyramid_numbers_and_secret_bands(vintage, table, panorama_text):
    v = vintage[0]
    tot = cell(table, "94", "effectif_31_12").valeur
    ptot = cell(table, "94", "effectif_31_12", "prive_hors_ess").valeur
    f = cell(table, "94", "effectif_age_moins_25", sexe="F").valeur
    pf = cell(table, "94", "effectif_age_moins_25", "prive_hors_ess", sexe="F").valeur
    ph = cell(table, "94", "effectif_age_moins_25", "prive_hors_ess", sexe="H").valeur
    n = fmt.normalize
    assert (
        f"Moins de 25 ans {n(fmt.nombre(f))} s {n(fmt.pourcent(f / tot))} s "
        f"{n(fmt.pourcent(pf / ptot))} {n(fmt.pourcent(ph / ptot))}"
    ) in panorama_text
    h = cell(table, "94", "effectif_age_35_44", sexe="H").valeur
    assert (
        f"35 à 44 ans {n(fmt.nombre(cell(table, '94', 'effectif_age_35_44', sexe='F').valeur))} {n(fmt.nombre(h))}"
        in panorama_text
    )
    wb = openpyxl.load_workbook(v / "panoramas" / "region-94.xlsx")
    rows = {
        r[0]: r[1:] for r in wb["pyramide_ages"].iter_rows(min_row=HEADER_ROW + 1, values_only=True) if r[0]
    }
    assert rows["Moins de 25 ans"][:4] == (f, "s", round(100 * f / tot, 1), "s")
    assert rows["55 ans ou plus"][1] == "s"
    header = (
        (v / "donnees" / "region-94" / "pyramide_ages.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    )
    assert header.split(";")[:4] == ["Âge", "Femmes ESS", "Hommes ESS", "Femmes ESS (%)"]
    # France égalité report: its own section, numbers of the France rows
    text = layout_check.flat_text(v / "egalite" / "france.pdf")
    assert "La pyramide des âges" in text and model.TITRE_PYRAMIDE in text
    fr = cell(table, "FR", "effectif_age_55_plus", sexe="H").valeur
    assert n(fmt.pourcent(fr / cell(table, "FR", "effectif_31_12").valeur)) in text
    assert (v / "donnees" / "egalite-france" / "pyramide_ages.csv").exists()


def test_failed_layout_check_leaves_the_previous_publication(tmp_path, monkeypatch):
    from observatory.publish import release

    v = write_output(tmp_path)
    first = release.publish_regions(v, ["94"])
    assert first.report.ok and v / "panoramas" / "region-94.pdf" in first.written["regions"]["94"]
    assert v / "donnees" / "departement-2B" / "familles.csv" in first.moved
    before = {p: p.read_bytes() for p in first.moved}
    # the next build of the partition fails its layout check (a section the documents do not have)
    titles = {
        **model.SECTION_TITLES,
        "panorama": [*model.SECTION_TITLES["panorama"], "Section fantôme"],
    }
    monkeypatch.setattr(layout_check, "SECTION_TITLES", titles)
    path = v / "tables" / "indicateurs.parquet"
    df = pd.read_parquet(path)
    df.loc[df.indicateur == "effectif_31_12", "valeur"] += 1  # the new build would print other numbers
    df.to_parquet(path, index=False)
    with pytest.raises(PublicationError, match="Section fantôme"):
        release.publish_regions(v, ["94"])
    assert {p: p.read_bytes() for p in first.moved} == before
    assert not [p for p in v.iterdir() if p.name.startswith(".")]  # staging folder removed
    # a first publication that fails leaves nothing behind
    fresh = write_output(tmp_path / "fresh")
    with pytest.raises(PublicationError):
        release.publish_regions(fresh, ["94"])
    assert not (fresh / "panoramas").exists() and not (fresh / "donnees").exists()


def test_a_lecture_never_quotes_a_secret_figure(tmp_path):
    v = write_output(tmp_path)
    path = v / "tables" / "indicateurs.parquet"
    df = pd.read_parquet(path)
    m = (
        (df.code == "53")
        & (df.niveau == "region")
        & (df.indicateur == "part_emploi_prive")
        & (df.champ == "ess")
    )
    df.loc[m, ["statut", "valeur"]] = ["secret_secondaire", float("nan")]
    df.to_parquet(path, index=False)
    text = layout_check.flat_text(
        documents.build_region_panorama(model.IndicatorTable(df), {}, "53", v)[0]
    )
    assert "l'ESS emploie s" not in text
    assert fmt.normalize(model.LECTURE_SECRET) in text
    assert "l'ESS emploie" not in text  # the chiffres clés sentence gave way to the secrecy sentence
    assert fmt.code_version({"package": "0.1.0", "git_commit": "fb4b1bd1c04a"}) == "0.1.0 (commit fb4b1bd)"
    local = {"package": "0.1.0", "git_commit": "fb4b1bd1c04a", "git_modified": True}
    assert fmt.code_version(local) == "0.1.0 (commit fb4b1bd modifié)"
    assert fmt.code_version(None) == fmt.MISSING


def test_methodology_says_what_secrecy_cost_at_the_documents_level(tmp_path):
    """The methodology page of a panorama and of a plaquette prints the cost of secrecy of its level, read from
    ``manifest.json`` (``cout_du_secret.annuel``): cells by status in whole percent, the share of jobs in hidden
    headcount cells (0 is printed as less than 1 %)."""
    v = write_output(tmp_path)
    table = model.IndicatorTable.read(v / "tables" / "indicateurs.parquet")
    manifest = documents.read_manifest(v) | {
        "cout_du_secret": {
            "annuel": {
                "region": {"cellules": 200, "publie": 150, "secret_primaire": 30, "secret_secondaire": 20,
                           "part_emploi_masque_pourcent": 0},
                "departement": {"cellules": 1000, "publie": 610, "secret_primaire": 240, "secret_secondaire": 150,
                                "part_emploi_masque_pourcent": 4},
            }
        }
    }
    region = documents.panorama_document(table, manifest, "94", None)
    (methodo,) = [s for s in region.sections if s.titre == "Méthodologie"]
    assert any(
        p.endswith(
            "Coût du secret à l'échelon régional (toutes les régions) : sur 200 cases de la table des indicateurs, "
            "75 % sont publiées, 15 % masquées par le secret primaire et 10 % par le secret secondaire ; les cases "
            "d'effectif masquées regroupent moins de 1 % des salariés au 31/12."
        )
        for p in map(fmt.normalize, methodo.intro)
    )
    dep = table.codes("departement")[0]
    plaquette = documents.plaquette_document(table, manifest, dep, None)
    (methodo,) = [s for s in plaquette.sections if s.titre == "Méthodologie"]
    text = fmt.normalize(" ".join(methodo.intro))
    assert "sur 1 000 cases de la table des indicateurs, 61 % sont publiées, 24 % masquées par le secret primaire " \
        "et 15 % par le secret secondaire ; les cases d'effectif masquées regroupent 4 % des salariés" in text
    # a manifest without the cost (an older publication): no line, no error
    bare = documents.panorama_document(table, documents.read_manifest(v), "94", None)
    assert "Coût du secret" not in " ".join(" ".join(s.intro) for s in bare.sections)


def test_the_manifest_keeps_every_products_secrecy_cost(tmp_path):
    """The annual table's cost and each baromètre's are merged into ``cout_du_secret``, whichever is written
    last (the baromètre job runs on its own too)."""
    from observatory.config import Settings
    from observatory.publication import read_manifest, update_manifest

    settings = Settings(output_dir=tmp_path, millesime=2023)
    update_manifest(settings, merge={"cout_du_secret": {"barometre": {"2023-S1": {"france": {"cellules": 1}}}}})
    update_manifest(settings, merge={"cout_du_secret": {"annuel": {"france": {"cellules": 2}}}}, millesime=2023)
    update_manifest(settings, merge={"cout_du_secret": {"barometre": {"2023-S2": {"france": {"cellules": 3}}}}})
    cost = read_manifest(settings)["cout_du_secret"]
    assert cost == {
        "annuel": {"france": {"cellules": 2}},
        "barometre": {"2023-S1": {"france": {"cellules": 1}}, "2023-S2": {"france": {"cellules": 3}}},
    }
    assert read_manifest(settings)["millesime"] == 2023
