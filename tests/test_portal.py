"""The download portal: every link resolves, files are discovered on disk, search works in a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from observatory.publish import portal
from tests.fixtures_maps import write_fake_vintage

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
N_TERRITORIES = 1 + 18 + 101


class _Links(HTMLParser):
    """Every href/src of a page, and the ids and classes of its territory items."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.territories: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])
        if tag == "li" and "territoire" in (a.get("class") or "").split():
            self.territories.append(a["id"])

    def handle_data(self, data):
        self.text.append(data)


def _parse(index: Path) -> _Links:
    p = _Links()
    p.feed(index.read_text(encoding="utf-8"))
    return p


@pytest.fixture
def vintage(tmp_path):
    root = write_fake_vintage(tmp_path / "output")
    portal.build_portal(tmp_path / "output", 2023)
    return root


def test_portal_is_written_under_the_vintage(vintage):
    index = vintage / "portail" / "index.html"
    assert index.exists()
    assert {p.name for p in index.parent.iterdir()} == {"index.html", "style.css", "portail.js"}


def test_every_link_resolves_to_an_existing_file(vintage):
    index = vintage / "portail" / "index.html"
    page = _parse(index)
    assert len(page.links) >= 20
    for link in page.links:
        url = urlparse(link)
        assert not url.scheme and not url.netloc, f"absolute or external link {link}"
        if not url.path:
            continue
        target = (index.parent / unquote(url.path)).resolve()
        assert target.is_file(), f"broken link {link}"
        assert vintage.resolve() in target.parents


def test_every_published_file_is_linked_and_missing_products_are_shown(vintage):
    index = vintage / "portail" / "index.html"
    page = _parse(index)
    linked = {(index.parent / unquote(link)).resolve() for link in page.links}
    for path in vintage.rglob("*"):
        if path.is_file() and "portail" not in path.relative_to(vintage).parts:
            assert path.resolve() in linked, f"{path} is not linked"
    assert len(page.territories) == N_TERRITORIES
    assert {"france-FR", "region-84", "departement-69", "departement-2A", "departement-976"} <= set(
        page.territories
    )
    html = index.read_text(encoding="utf-8")
    # Île-de-France has no panorama in the fake vintage: shown as missing, not linked.
    section = html[html.index('id="region-11"') : html.index('id="departement-75"')]
    assert "PDF : non disponible" in section and "panoramas/region-11" not in section


def test_manifest_facts_are_shown(vintage):
    text = " ".join(_parse(vintage / "portail" / "index.html").text)
    assert "2023" in text and "insee-2008-4f" in text
    assert "5 novembre 2024 à 14\u00a0h\u00a032" in text


def test_files_are_discovered_on_disk(vintage):
    (vintage / "panoramas" / "departement-13.pdf").write_bytes(b"%PDF-1.7 fake")
    (vintage / "barometre" / "2024-S2").mkdir()
    (vintage / "barometre" / "2024-S2" / "region-93.pdf").write_bytes(b"%PDF-1.7 fake")
    (vintage / "egalite" / "france.pdf").unlink()
    index = portal.build_portal(vintage.parent)  # latest vintage found by itself
    html = index.read_text(encoding="utf-8")
    assert "../panoramas/departement-13.pdf" in html
    assert "../barometre/2024-S2/region-93.pdf" in html and "Baromètre 2024, semestre 2" in html
    assert "../egalite/france.pdf" not in html


def test_normalize_matches_the_page_search():
    assert portal.normalize("Auvergne-Rhône-Alpes") == "auvergne rhone alpes"
    assert portal.normalize("Provence-Alpes-Côte d'Azur") == "provence alpes cote d azur"


def test_no_vintage_is_a_clear_error(tmp_path):
    from observatory.errors import PublicationError

    with pytest.raises(PublicationError, match="no vintage folder"):
        portal.build_portal(tmp_path)


# ------------------------------------------------------------------------------------------ real browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(vintage):
    """The vintage folder served by ``python -m http.server`` on a free local port; stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(vintage)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/portail/index.html", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("http.server did not start")
        yield base
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s. A server that outlives SIGTERM is said in a warning with its signal
    state (how the cause was found: a test process started with SIGINT ignored, then a Dagster in-process run,
    left SIGTERM ignored — ``tests/conftest.py::pytest_configure``)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{proc.pid}/status")
        state = [ln for ln in status.read_text().splitlines() if ln.startswith(("State", "Sig"))] if status.exists() else []
        parent = [ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("Sig")]
        warnings.warn(f"http.server outlived SIGTERM: {state}; the test process: {parent}", stacklevel=1)
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
            pytest.fail(f"Playwright or {CHROMIUM} missing and OBSERVATORY_REQUIRE_ALL=1")
        pytest.skip(f"Playwright or {CHROMIUM} missing")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _visible_names(page) -> list[str]:
    return page.locator("li.territoire:visible > h3.nom").evaluate_all(
        "els => els.map(e => e.firstChild.textContent.trim())"
    )


def test_epci_portraits_are_listed_when_a_search_finds_them(published, browser):
    """After ``make run``: the list shows France, régions and départements; the EPCI portraits appear when the
    search names one of their communes or their département (counted from the COG, not from the page)."""
    from observatory.publish import portrait

    vintage = published.vintage
    page = browser.new_page()
    page.goto((vintage / "portail" / "index.html").as_uri())
    assert page.locator("li.territoire:visible").count() == N_TERRITORIES
    assert page.text_content("#compte") == f"{N_TERRITORIES} territoires"
    on_disk = {p.stem.removeprefix("epci-") for p in (vintage / "portraits").glob("epci-*.pdf")}
    assert str(len(on_disk)) in normalize_spaces(page.text_content("#aide-epci"))
    page.fill("#recherche", "landerneau")
    assert "Communauté d'agglomération du Pays de Landerneau-Daoulas" in _visible_names(page)
    page.fill("#recherche", "finistere")
    in_29 = {c for c, place in portrait.epci_places().items() if "29" in place.departements} & on_disk
    shown = page.locator("li.territoire[data-niveau=epci]:visible").evaluate_all("els => els.map(e => e.id)")
    assert {s.removeprefix("epci-") for s in shown} == in_29 and len(in_29) >= 20
    page.fill("#recherche", "")
    assert page.locator("li.territoire:visible").count() == N_TERRITORIES


def normalize_spaces(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split()).replace(" ", "")


def test_search_filters_territories_in_a_browser(served, browser):
    page = browser.new_page()
    page.goto(f"{served}/portail/index.html")
    assert page.locator("li.territoire:visible").count() == N_TERRITORIES
    page.fill("#recherche", "rhone")
    assert sorted(_visible_names(page)) == ["Auvergne-Rhône-Alpes", "Bouches-du-Rhône", "Rhône"]
    assert page.text_content("#compte") == "3 territoires"
    page.fill("#recherche", "CÔTES d'armor")
    assert _visible_names(page) == ["Côtes-d'Armor"]
    page.fill("#recherche", "2a")
    assert _visible_names(page) == ["Corse-du-Sud"]
    assert page.locator("section.groupe:visible h2").all_inner_texts()[0] == "Corse"
    page.fill("#recherche", "zzz")
    assert page.locator("li.territoire:visible").count() == 0 and page.is_visible("#aucun")
    page.fill("#recherche", "")
    assert page.locator("li.territoire:visible").count() == N_TERRITORIES


def test_download_link_returns_the_file(served, browser, vintage):
    page = browser.new_page()
    page.goto(f"{served}/portail/index.html")
    link = page.locator("#region-84 a.fichier", has_text="PDF").first
    href = link.get_attribute("href")
    response = page.request.get(f"{served}/portail/{href}")
    assert response.status == 200
    assert response.body() == (vintage / "panoramas" / "region-84.pdf").read_bytes()


def test_portal_works_opened_from_disk(browser, vintage):
    page = browser.new_page()
    page.goto((vintage / "portail" / "index.html").as_uri())
    assert page.evaluate("getComputedStyle(document.querySelector('.entete')).backgroundColor") != (
        "rgba(0, 0, 0, 0)"
    )  # the local stylesheet is applied
    page.fill("#recherche", "bretagne")
    assert _visible_names(page) == ["Bretagne"]


class _Products(HTMLParser):
    """Per territory of the portal, its products: title, linked files and formats shown "non disponible"."""

    def __init__(self):
        super().__init__()
        self.items: list[dict] = []  # {"territory", "title", "links", "missing"}
        self._territory = None
        self._product = None
        self._field = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "li" and "territoire" in classes:
            self._territory = a["id"]
        elif tag == "li" and "produit" in classes:
            self._product = {"territory": self._territory, "title": "", "links": [], "missing": []}
            self.items.append(self._product)
        elif self._product is not None and tag == "span" and "titre" in classes:
            self._field = "title"
        elif self._product is not None and tag == "span" and "manquant" in classes:
            self._field = "missing"
        elif self._product is not None and tag == "a" and a.get("href"):
            self._product["links"].append(unquote(a["href"]))

    def handle_endtag(self, tag):
        if tag == "span":
            self._field = None

    def handle_data(self, data):
        if self._product is None or self._field is None:
            return
        if self._field == "title":
            self._product["title"] += data.strip()
        else:
            self._product["missing"].append(data.split(":")[0].strip())


_EXT = {"PDF": "pdf", "Excel": "xlsx", "CSV": "csv", "Parquet": "parquet", "PNG": "png", "SVG": "svg"}


def _candidates(vintage: Path, territory: str, title: str, label: str) -> list[Path]:
    """The files a product shown missing would be, found independently of the portal's own rules."""
    niveau, code = territory.split("-", 1)
    name = "france" if niveau == "france" else f"{niveau}-{code}"
    ext = _EXT.get(label, label.lower())
    if title.startswith("Baromètre"):
        return sorted(vintage.glob(f"barometre/*/{name}.{ext}"))
    if niveau != "france":
        return sorted(vintage.glob(f"panoramas/{name}.{ext}")) + sorted(
            vintage.glob(f"donnees/{name}*/*.{ext}")
        )
    if title.startswith("Égalité"):
        return sorted(vintage.glob(f"egalite/france.{ext}"))
    return sorted(vintage.glob(f"tables/*.{ext}")) + sorted(vintage.glob(f"cartes/*.{ext}"))


def test_portal_after_make_run_shows_no_existing_product_as_missing(published):
    """``make run``'s sequence (generate, then ``observatory run`` from the CLI): the portal links every file
    of the publication, and nothing it shows "non disponible" exists on disk."""
    vintage = published.vintage
    index = vintage / "portail" / "index.html"
    page = _Products()
    page.feed(index.read_text(encoding="utf-8"))
    territories = {p["territory"] for p in page.items}
    epcis = {t for t in territories if t.startswith("epci-")}
    assert len(territories - epcis) == N_TERRITORIES
    # every EPCI with a portrait on disk is listed (under each of its départements), and no other
    assert epcis == {p.stem for p in (vintage / "portraits").glob("epci-*.pdf")}
    assert len(epcis) > 1000  # the sample's communes cover (nearly) every EPCI
    linked = {(index.parent / link).resolve() for p in page.items for link in p["links"]}
    linked |= {(index.parent / unquote(link)).resolve() for link in _parse(index).links}
    on_disk = [
        p for p in vintage.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(vintage).parts)
        and p.relative_to(vintage).parts[0] != "portail"
    ]  # fmt: skip
    assert [p for p in on_disk if p.resolve() not in linked] == []
    shown_missing = [
        (p["territory"], p["title"], label, _candidates(vintage, p["territory"], p["title"], label))
        for p in page.items
        for label in p["missing"]
    ]
    assert [m for m in shown_missing if m[3]] == []
    # the sample run publishes every product of every territory: the baromètre of the last semester for
    # France and each région, each panorama and plaquette in PDF and Excel
    assert shown_missing == []
    semesters = sorted(p.name for p in (vintage / "barometre").iterdir() if p.is_dir())
    assert semesters, "the run publishes the baromètre of the latest semester"
    for territory in ["france-FR", *(f"region-{c}" for c in ("11", "53", "84", "94"))]:
        titles = [p["title"] for p in page.items if p["territory"] == territory]
        assert f"Baromètre {semesters[-1].replace('-S', ', semestre ')}" in titles, territory
    region = next(
        p for p in page.items if p["territory"] == "region-53" and p["title"] == "Panorama régional"
    )
    assert sorted(Path(link).suffix for link in region["links"]) == [".pdf", ".xlsx"]


def test_a_regional_publication_lists_its_regions_only(tmp_path):
    """The publication of a regional extract (its table covers Pays de la Loire and Bretagne) lists those
    régions and their départements, not 16 others with every product « non disponible »; the baromètre's cost
    of secrecy is linked in the France section."""
    import pandas as pd

    root = write_fake_vintage(tmp_path / "output")
    path = root / "tables" / "indicateurs.parquet"
    table = pd.read_parquet(path)
    table[(table.niveau != "region") | table.code.isin(["52", "53"])].to_parquet(path, index=False)
    (root / "barometre" / "2023-S2").mkdir(parents=True, exist_ok=True)
    (root / "barometre" / "2023-S2" / "cout_du_secret.json").write_text("{}")
    index = portal.build_portal(tmp_path / "output", 2023)
    page = _parse(index)
    departements = ["44", "49", "53", "72", "85", "22", "29", "35", "56"]
    assert sorted(page.territories) == sorted(
        ["france-FR", "region-52", "region-53", *(f"departement-{d}" for d in departements)]
    )
    html = index.read_text(encoding="utf-8")
    assert 'href="../barometre/2023-S2/cout_du_secret.json"' in html
    assert "Baromètre 2023, semestre 2 : coût du secret statistique" in html
