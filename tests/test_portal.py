"""The download portal: every link resolves, files are discovered on disk, search works in a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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
        proc.terminate()
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
