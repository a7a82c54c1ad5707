"""EPCI portraits: built from the published table only, layout-checked, listed and searchable in the portal."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser

import pandas as pd
import pypdfium2 as pdfium
import pytest

from observatory.publish import fmt, layout_check, model, portal, portrait
from observatory.reference import cog
from tests.fixtures_indicateurs import build_manifest, build_table
from tests.fixtures_maps import write_fake_vintage


@pytest.fixture(scope="module")
def epci_29() -> tuple[str, str]:
    """An EPCI lying wholly in the Finistère (COG), with its name."""
    places = portrait.epci_places()
    code = next(c for c, p in sorted(places.items()) if p.departements == ("29",))
    name = cog.epci().set_index("code_epci").loc[code, "libelle"]
    return code, name


def _with_epci(table: pd.DataFrame, code: str, name: str) -> pd.DataFrame:
    """The fake table plus EPCI cells: the Finistère's champ and family cells at a tenth, its ESS cells by
    sexe, and its ESS establishments and jobs by size band and by sector, the ESS association headcount secret
    (as the pipeline publishes EPCIs: no PCS crossing, the sexes, size bands and sectors for the ESS only, no
    share of the ESS in a sector's jobs); the EPCI's ESS share of women is 61.3 %."""
    ess = (table["champ"] == "ess") & (table["famille"] == "toutes")
    bands = ess & (table["sexe"] == "tous") & table["indicateur"].isin(["effectif_31_12", "etablissements_employeurs"])
    plain = (table["secteur"] == "tous") & (table["tranche"] == "toutes")
    one = (table["secteur"] == "tous") | (table["tranche"] == "toutes")
    dep = table[
        (table["niveau"] == "departement")
        & (table["code"] == "29")
        & (plain | (bands & one))
        & (table["pcs"] == "toutes")
        & ((table["sexe"] == "tous") | ess)
        & ~table["indicateur"].isin(["part_region", "rang_region", "rang_france", "part_cadres", "part_femmes_cadres"])
    ].copy()
    dep["niveau"], dep["code"], dep["libelle"] = "epci", code, name
    counts = dep["unite"].isin(["nombre", "euros"]) & ~dep["indicateur"].str.startswith("salaire")
    dep.loc[counts, "valeur"] = (dep.loc[counts, "valeur"] / 10).round(0)
    hide = (
        (dep["champ"] == "ess") & (dep["famille"] == "association") & (dep["indicateur"] == "effectif_31_12")
    )
    dep.loc[hide, ["valeur", "statut"]] = [None, "secret_primaire"]
    women = (dep["champ"] == "ess") & (dep["famille"] == "toutes") & (dep["indicateur"] == "part_femmes")
    dep.loc[women & (dep["sexe"] == "tous"), ["valeur", "statut"]] = [61.3, "publie"]
    return pd.concat([table, dep], ignore_index=True)


def test_epci_portrait_pdf_xlsx_csv_and_layout(tmp_path, epci_29):
    code, name = epci_29
    table = model.IndicatorTable(_with_epci(build_table(), code, name))
    written = portrait.build_epci_portraits(table, build_manifest(), tmp_path, [code])[code]
    pdf = tmp_path / "portraits" / f"epci-{code}.pdf"
    assert pdf in written and pdf.with_suffix(".xlsx") in written
    assert 2 <= len(pdfium.PdfDocument(str(pdf))) <= 4
    report = portrait.check_portraits(table, {code: pdf})
    assert report.ok, report.problems
    text = layout_check.flat_text(pdf)
    assert fmt.normalize(name) in text and "Finistère" in text and "Bretagne" in text and "France" in text
    # the comparison CSV holds the EPCI's headcount and the département's, as the table has them
    rows = list(
        csv.reader(
            (tmp_path / "donnees" / f"epci-{code}" / "comparaison.csv").open(encoding="utf-8-sig"),
            delimiter=";",
        )
    )
    eff = next(r for r in rows if r[0].startswith("Effectif salarié de l'ESS"))
    t = table.territory("epci", code).get("effectif_31_12")
    d = table.territory("departement", "29").get("effectif_31_12")
    assert eff[1] == str(int(t.value)) and eff[2] == str(int(d.value))
    familles = list(
        csv.reader(
            (tmp_path / "donnees" / f"epci-{code}" / "familles.csv").open(encoding="utf-8-sig"), delimiter=";"
        )
    )
    assert next(r for r in familles if r[0] == "Associations")[2] == "s"
    # the workbook links each figure's CSV next to its data (the panoramas' layout)
    from tests.test_accessibility import check_workbook_links

    assert check_workbook_links(pdf.with_suffix(".xlsx"), tmp_path) >= 3
    # the sectors, size bands, women and men are its own; the ESS's share of each sector's jobs is not
    # published at that scale, and the portrait says so
    expected = fmt.normalize(
        f"À l'échelle de l'EPCI {name}, la table des indicateurs ventile par secteur l'ESS seule, pas l'ensemble "
        "des employeurs (le secret statistique n'y est établi que pour elle) : la part de l'ESS dans l'emploi "
        "salarié de chaque secteur n'y est pas publiée, celle du département Finistère (29) figure dans son panorama."
    )
    assert expected in text
    assert "ne publie pas les secteurs" not in text
    epci, dep = table.territory("epci", code), table.territory("departement", "29")
    secteurs = list(
        csv.reader(
            (tmp_path / "donnees" / f"epci-{code}" / "secteurs.csv").open(encoding="utf-8-sig"), delimiter=";"
        )
    )
    assert secteurs[0] == ["Secteur", "Établissements ESS", "Effectif ESS", "Part des effectifs de l'ESS (%)"]
    top = max(
        (s for s in model.SECTEURS if epci.get("effectif_31_12", secteur=s).ok),
        key=lambda s: epci.get("effectif_31_12", secteur=s).value,
    )
    row = next(r for r in secteurs if r[0] == model.SECTEURS[top])
    e = epci.get("effectif_31_12", secteur=top).value
    assert e < dep.get("effectif_31_12", secteur=top).value  # the EPCI's own, a tenth of the département's
    assert fmt.normalize(row[2]) == fmt.nombre(e), row
    assert row[3] == f"{100 * e / epci.get('effectif_31_12').value:.1f}".replace(".", ","), row
    tranches = list(
        csv.reader(
            (tmp_path / "donnees" / f"epci-{code}" / "tranches.csv").open(encoding="utf-8-sig"), delimiter=";"
        )
    )
    row = next(r for r in tranches if r[0] == model.TRANCHES["10-49"])
    n, e = (epci.get(i, tranche="10-49").value for i in ("etablissements_employeurs", "effectif_31_12"))
    assert dep.get("etablissements_employeurs", tranche="10-49").value > 10 * n - 10  # a tenth, as made
    assert fmt.normalize(row[1]) == fmt.nombre(n) and fmt.normalize(row[3]) == fmt.nombre(e), row
    fh = (tmp_path / "donnees" / f"epci-{code}" / "femmes_hommes.csv").read_text(encoding="utf-8-sig")
    share = next(line for line in fh.splitlines() if line.startswith("Part des femmes"))
    assert share == "Part des femmes;;;61,3", share
    assert "Part des cadres" not in fh  # no PCS figure for an EPCI


def test_an_epci_without_any_ess_employer_prints_zeros_not_missing(tmp_path, epci_29):
    """An EPCI whose table has no ESS cell (no ESS employer: cells exist only where establishments contribute;
    334 of the sample's 1 250 EPCIs) prints its ESS as 0 and 0,0 %, its ESS rates and the ESS's share of
    itself as without object, says why, and takes the département's breakdowns, saying so."""
    code, name = epci_29
    df = _with_epci(build_table(), code, name)
    df = df[~((df["niveau"] == "epci") & (df["champ"] == "ess"))]
    table = model.IndicatorTable(df)
    assert portrait.without_ess(table.territory("epci", code))
    assert not portrait.without_ess(table.territory("departement", "29"))
    portrait.build_epci_portraits(table, build_manifest(), tmp_path, [code])
    pdf = tmp_path / "portraits" / f"epci-{code}.pdf"
    report = portrait.check_portraits(table, {code: pdf})
    assert report.ok, report.problems
    text = layout_check.flat_text(pdf)
    assert fmt.normalize("Aucun établissement employeur de l'ESS n'est recensé") in text
    assert fmt.normalize("les figures de cette partie sont celles du département Finistère (29)") in text
    assert fmt.MISSING not in text.split("Méthodologie")[0]  # nothing printed as missing
    data = tmp_path / "donnees" / f"epci-{code}"

    def rows(name: str) -> dict[str, list[str]]:
        with (data / name).open(encoding="utf-8-sig") as f:
            return {r[0]: r[1:] for r in csv.reader(f, delimiter=";")}

    comparaison = rows("comparaison.csv")
    dep = table.territory("departement", "29")
    assert comparaison["Effectif salarié de l'ESS au 31/12"][:2] == ["0", str(int(dep.get("effectif_31_12").value))]
    assert comparaison["Part de l'ESS dans l'emploi salarié total"][0] == "0"
    assert comparaison["Taux de temps partiel (ESS)"][0] == ""  # without object
    cles = rows("chiffres_cles.csv")
    epci = table.territory("epci", code)
    assert cles["Effectif salarié au 31/12"][:2] == ["0", str(int(epci.get("effectif_31_12", champ="prive_hors_ess").value))]
    assert rows("familles.csv") == {
        "Famille": ["Établissements employeurs", "Effectif salarié au 31/12", "Part des effectifs de l'ESS (%)"],
        "Ensemble de l'ESS": ["0", "0", ""],
    }


def test_layout_check_catches_a_wrong_key_figure(tmp_path, epci_29):
    code, name = epci_29
    df = _with_epci(build_table(), code, name)
    table = model.IndicatorTable(df)
    portrait.build_epci_portraits(table, build_manifest(), tmp_path, [code])
    wrong = df.copy()
    key = (
        (wrong["niveau"] == "epci") & (wrong["champ"] == "public") & (wrong["indicateur"] == "effectif_31_12")
    )
    wrong.loc[key, "valeur"] = 987654
    report = portrait.check_portraits(
        model.IndicatorTable(wrong), {code: tmp_path / "portraits" / f"epci-{code}.pdf"}
    )
    assert not report.ok and any("effectif_31_12/public" in p for p in report.problems)


class _Items(HTMLParser):
    def __init__(self):
        super().__init__()
        self.items: dict[str, str] = {}
        self.section = None
        self.where: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("data-groupe")
        if tag == "li" and "territoire" in (a.get("class") or "").split():
            self.items[a["id"]] = a.get("data-search", "")
            self.where[a["id"]] = self.section


def test_portal_lists_epci_under_region_and_departement_and_territories(tmp_path, epci_29):
    code, name = epci_29
    root = write_fake_vintage(tmp_path / "output")
    (root / "portraits").mkdir()
    (root / "portraits" / f"epci-{code}.pdf").write_bytes(b"%PDF-1.7 fake")
    (root / "portraits" / f"epci-{code}.xlsx").write_bytes(b"xlsx")
    terr = root / "territoires" / "pays-test"
    (terr / "donnees").mkdir(parents=True)
    pd.DataFrame({"libelle": ["Pays test"], "valeur": [1.0]}).to_parquet(terr / "indicateurs.parquet")
    (terr / "indicateurs.csv").write_text("x\n")
    (terr / "pays-test.pdf").write_bytes(b"%PDF fake")
    commune = portrait.epci_places()[code].communes[0]
    pd.DataFrame({"code_commune": [commune]}).to_csv(terr / "communes.csv", index=False)
    index = portal.build_portal(tmp_path / "output", 2023)
    p = _Items()
    p.feed(index.read_text(encoding="utf-8"))
    anchor = f"epci-{code}"
    assert anchor in p.items and p.where[anchor] == "region-53"
    ids = list(p.items)
    assert ids.index("departement-29") < ids.index(anchor) < ids.index("departement-35")
    nom_commune = cog.communes().set_index("code_commune").loc[commune, "libelle"]
    words = p.items[anchor]
    assert code in words and portal.normalize(nom_commune) in words and portal.normalize(name) in words
    assert (
        "territoire-pays-test" in p.items and portal.normalize(nom_commune) in p.items["territoire-pays-test"]
    )
    html = index.read_text(encoding="utf-8")
    assert re.search(rf'href="\.\./portraits/epci-{code}\.pdf"', html)
    assert 'href="../territoires/pays-test/pays-test.pdf"' in html
