"""The static download portal: ``output/<millesime>/portail/index.html``.

One page lists every territory — France, then the 18 régions each followed by its départements — with a link
to each file published for it, found on disk (never assumed): panoramas and plaquettes (PDF, XLSX, CSV), the
baromètre of every semester, the égalité report, maps, the data behind the charts, the indicator table. An
expected product that is not on disk is shown as "non disponible". A search box filters the territories
(accent- and case-insensitive: "rhone" finds "Auvergne-Rhône-Alpes"). The page shows the vintage, the
perimeter version and the run date from ``manifest.json``.

Links are relative and the CSS and JavaScript are local files beside ``index.html`` (no CDN, no network), so
the portal works opened from disk (``file://``) and served over HTTP. The folder is replaced atomically.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from observatory.barometre_spec import is_semester
from observatory.errors import PublicationError
from observatory.files import atomic_dir
from observatory.publish import fmt, notes
from observatory.publish.map_specs import MAPS, map_alt
from observatory.reference import cog

TEMPLATES = Path(__file__).resolve().parent / "templates" / "portal"
ASSETS = ("style.css", "portail.js")
PORTAL = "portail"
_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
_FORMATS = {
    "pdf": "PDF", "xlsx": "Excel", "csv": "CSV", "parquet": "Parquet", "png": "PNG", "svg": "SVG",
    "gpkg": "GeoPackage", "html": "HTML", "json": "JSON",
}  # fmt: skip
@dataclass
class Link:
    """One file (or a missing one): its format label, relative URL from the portal, size."""

    label: str
    href: str | None = None
    size: str = ""

    @property
    def missing(self) -> bool:
        return self.href is None


@dataclass
class Product:
    """A product of a territory in several formats (e.g. the panorama in PDF, Excel and CSV)."""

    title: str
    links: list[Link] = field(default_factory=list)
    description: str = ""
    """The text alternative of a picture (a map): shown beside its links, which it describes."""

    @property
    def available(self) -> bool:
        return any(not link.missing for link in self.links)


@dataclass
class Territory:
    """A territory of the portal and its products."""

    niveau: str
    code: str
    libelle: str
    products: list[Product] = field(default_factory=list)
    extra_search: str = ""
    """More words the search box matches (an EPCI's or a territory's commune names)."""

    @property
    def search(self) -> str:
        return normalize(f"{self.libelle} {self.code} {self.niveau} {self.extra_search}")

    @property
    def anchor(self) -> str:
        return f"{self.niveau}-{self.code}"


def normalize(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: ``Provence-Alpes-Côte d'Azur`` → ``provence alpes cote d azur``.

    The JavaScript of the page applies the same rule to what the user types.
    """
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _size(path: Path) -> str:
    n = path.stat().st_size
    for unit, scale in (("Go", 1e9), ("Mo", 1e6), ("ko", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}".replace(".", ",") + f"\u00a0{unit}"
    return f"{n}\u00a0o"


class _Files:
    """The files of a vintage folder, by path relative to it; each is claimed by at most one product."""

    def __init__(self, root: Path):
        self.root = root
        self.all: dict[str, Path] = {}
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            hidden = any(part.startswith(".") or part.endswith((".old", ".tmp")) for part in rel.parts)
            if p.is_file() and not hidden and rel.parts[0] != PORTAL:
                self.all[rel.as_posix()] = p
        self.by_dir: dict[str, list[str]] = {}
        for rel in self.all:
            self.by_dir.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else "", []).append(rel)
        self.claimed: set[str] = set()

    def link(self, rel: str, label: str | None = None) -> Link:
        """A link to ``rel`` if it exists, else a missing marker."""
        ext = rel.rsplit(".", 1)[-1]
        label = label or _FORMATS.get(ext, ext.upper())
        path = self.all.get(rel)
        if path is None:
            return Link(label)
        self.claimed.add(rel)
        return Link(label, f"../{quote(rel)}", _size(path))

    def product(self, title: str, stem: str, formats: tuple[str, ...], optional=()) -> Product:
        """Expected formats (shown missing if absent) plus optional ones shown only when present."""
        links = [self.link(f"{stem}.{ext}") for ext in formats]
        links += [self.link(f"{stem}.{ext}") for ext in optional if f"{stem}.{ext}" in self.all]
        return Product(title, links)

    def matching(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [rel for rel in self.all if rx.fullmatch(rel)]

    def in_dir(self, folder: str, ext: str) -> list[str]:
        """Files directly in ``folder`` (relative) ending in ``.ext``, sorted."""
        return sorted(rel for rel in self.by_dir.get(folder, []) if rel.endswith(f".{ext}"))

    def table(self):
        """The published indicator table (``tables/indicateurs.parquet``), read once; None when absent."""
        if not hasattr(self, "_table"):
            import pandas as pd

            path = self.all.get("tables/indicateurs.parquet")
            self._table = None if path is None else pd.read_parquet(path)
        return self._table

    def unclaimed(self) -> list[str]:
        return [rel for rel in self.all if rel not in self.claimed]


def _semesters(files: _Files) -> list[str]:
    found = {rel.split("/")[1] for rel in files.all if rel.startswith("barometre/") and rel.count("/") == 2}
    return sorted((s for s in found if is_semester(s)), reverse=True)


def _donnees(files: _Files, *prefixes: str) -> Product | None:
    """The CSV files behind a territory's charts: ``donnees/<prefix>/<figure>.csv`` (as the documents write
    them) or ``donnees/<prefix>-<figure>.csv``; each link is labelled with the figure's name."""
    links = []
    for prefix in prefixes:
        for rel in files.matching(rf"donnees/{re.escape(prefix)}[-/][^/]+\.csv"):
            name = rel[len(f"donnees/{prefix}") + 1 : -4]
            links.append(files.link(rel, re.sub(r"[-_]+", " ", name)))
    return Product("Données des graphiques (CSV)", links) if links else None


def _barometre_products(files: _Files, semesters: list[str], kind: str, code: str | None) -> list[Product]:
    """Each semester's baromètre of a territory (PDF, XLSX, the CSV behind its figures); France's section also
    links the semester's cost of secrecy."""
    name = kind if code is None else f"{kind}-{code}"
    if not semesters:
        return [Product("Baromètre semestriel", [Link("PDF")])]
    out = []
    for s in semesters:
        title = f"Baromètre {s.replace('-S', ', semestre ')}"
        out.append(files.product(title, f"barometre/{s}/{name}", ("pdf",), ("xlsx",)))
        cost = f"barometre/{s}/cout_du_secret.json"
        if code is None and cost in files.all:
            out.append(Product(f"{title} : coût du secret statistique", [files.link(cost)]))
        # the CSV behind each of its charts and tables, right after it
        data = _figure_csvs(files, f"barometre/{s}/donnees/{name}", f"{title} : données des graphiques (CSV)")
        if data is not None:
            out.append(data)
    return out


def _territories(files: _Files) -> tuple[Territory, list[tuple[Territory, list[Territory]]]]:
    semesters = _semesters(files)
    france = Territory("france", "FR", "France")
    france.products.append(files.product("Égalité femmes-hommes", "egalite/france", ("pdf",)))
    france.products += _barometre_products(files, semesters, "france", None)
    france.products.append(
        Product(
            "Table des indicateurs",
            [files.link("tables/indicateurs.csv"), files.link("tables/indicateurs.parquet")],
        )
    )
    cartes = files.matching(r"cartes/(?!region-|departement-)[^/]+\.(png|svg|pdf|csv)")  # CSV: the map's data
    stems = sorted({rel.rsplit(".", 1)[0] for rel in cartes})
    specs = {spec.name: spec for spec in MAPS}
    for stem in stems:
        name = stem.split("/", 1)[1]
        spec = specs.get(name)
        title = spec.title if spec else name.replace("-", " ").capitalize()
        links = [files.link(rel) for rel in cartes if rel.rsplit(".", 1)[0] == stem]
        france.products.append(Product(f"Carte : {title}", links, _map_description(files, spec)))
    if not stems:
        france.products.append(Product("Cartes", [Link("PNG"), Link("SVG")]))
    france.products.append(Product("Couches cartographiques", [files.link("cartes/indicateurs.gpkg")]))
    if (d := _donnees(files, "france", "egalite-france")) is not None:
        france.products.append(d)

    groups = []
    deps = cog.departements()
    covered = _covered(files)
    for reg in cog.regions().itertuples(index=False):
        if covered is not None and reg.code_region not in covered:
            continue  # a regional extract's publication: the régions it does not cover are not listed
        region = Territory("region", reg.code_region, reg.libelle)
        stem = f"panoramas/region-{reg.code_region}"
        # the data behind the panorama's charts is the "Données des graphiques" product (donnees/region-XX-*.csv)
        region.products.append(files.product("Panorama régional", stem, ("pdf", "xlsx"), ("csv",)))
        region.products += _barometre_products(files, semesters, "region", reg.code_region)
        region_maps = files.matching(rf"cartes/region-{reg.code_region}(-[^/]+)?\.(png|svg|pdf)")
        if region_maps:
            region.products.append(
                Product("Carte des départements", [files.link(rel) for rel in region_maps])
            )
        if (d := _donnees(files, f"region-{reg.code_region}")) is not None:
            region.products.append(d)
        members = []
        for dep in deps[deps["code_region"] == reg.code_region].itertuples(index=False):
            t = Territory("departement", dep.code_departement, dep.libelle)
            t.products.append(
                files.product(
                    "Plaquette départementale",
                    f"panoramas/departement-{dep.code_departement}",
                    ("pdf", "xlsx"),
                )
            )
            if (d := _donnees(files, f"departement-{dep.code_departement}")) is not None:
                t.products.append(d)
            members.append(t)
            members += _epci_portraits(files, dep.code_departement, dep.libelle)
        groups.append((region, members))
    custom = _custom_territories(files)
    if custom:
        groups.append((Territory("groupe", "territoires", "Territoires à la demande"), custom))
    return france, groups


def _covered(files: _Files) -> set[str] | None:
    """The régions the published indicator table covers (all of them for a national extract), or ``None`` when
    there is no table yet (every région is then listed, its products shown missing)."""
    path = files.all.get("tables/indicateurs.parquet")
    if path is None:
        return None
    from observatory.api import read_indicators  # the one reader of the indicator table

    return set(read_indicators(path, filters=[("niveau", "==", "region")])["code"])


def _map_description(files: _Files, spec) -> str:
    """A national map's text alternative, from the published indicator table (the one in the map's files)."""
    table = files.table()
    if spec is None or table is None:
        return ""
    return map_alt(table, spec)


def _epci_portraits(files: _Files, code_departement: str, nom_departement: str) -> list[Territory]:
    """The EPCIs of a département that have a portrait (an EPCI on several départements is under each).

    They are found by the search box (their name, SIREN, communes, or their département's name or code); the
    list shown before any search keeps to France, the régions and the départements."""
    from observatory.publish import portrait

    out = []
    names = _commune_names()
    for code, place in portrait.epci_places().items():
        if code_departement not in place.departements:
            continue
        stem = f"{portrait.SUBDIR}/epci-{code}"
        if f"{stem}.pdf" not in files.all:
            continue
        t = Territory("epci", code, _epci_names().get(code, code))
        t.extra_search = " ".join(
            [code_departement, nom_departement, *(names.get(c, "") for c in place.communes)]
        )
        t.products.append(files.product("Portrait de l'EPCI", stem, ("pdf", "xlsx")))
        if (d := _figure_csvs(files, f"donnees/epci-{code}")) is not None:
            t.products.append(d)
        out.append(t)
    return sorted(out, key=lambda t: normalize(t.libelle))


def _custom_territories(files: _Files) -> list[Territory]:
    """Territories on demand published under ``territoires/<slug>/`` (name read from their cells)."""
    import pandas as pd

    from observatory.publish import portrait

    out = []
    names = _commune_names()
    for rel in files.matching(rf"{portrait.TERRITOIRES}/[^/]+/indicateurs\.parquet"):
        slug = rel.split("/")[1]
        cells = pd.read_parquet(files.all[rel], columns=["libelle"])
        libelle = str(cells["libelle"].iloc[0]) if len(cells) else slug
        t = Territory("territoire", slug, libelle)
        communes = files.all.get(f"{portrait.TERRITOIRES}/{slug}/communes.csv")
        if communes is not None:
            codes = pd.read_csv(communes, dtype=str)["code_commune"]
            t.extra_search = " ".join(names.get(c, "") for c in codes)
        base = f"{portrait.TERRITOIRES}/{slug}"
        t.products.append(files.product("Portrait du territoire", f"{base}/{slug}", ("pdf", "xlsx")))
        t.products.append(
            Product(
                "Cellules du territoire",
                [files.link(f"{base}/indicateurs.csv"), files.link(f"{base}/indicateurs.parquet")],
            )
        )
        if (d := _figure_csvs(files, f"{base}/donnees")) is not None:
            t.products.append(d)
        files.link(f"{base}/communes.csv")
        out.append(t)
    return sorted(out, key=lambda t: normalize(t.libelle))


def _figure_csvs(files: _Files, folder: str, title: str = "Données des graphiques (CSV)") -> Product | None:
    """The CSV behind each figure of a portrait or a baromètre (one file per figure in ``folder``)."""
    rels = files.in_dir(folder, "csv")
    if not rels:
        return None
    return Product(title, [files.link(r, r.rsplit("/", 1)[-1][:-4]) for r in rels])


@lru_cache(maxsize=1)
def _commune_names() -> dict[str, str]:
    com = cog.communes()
    return dict(zip(com["code_commune"], com["libelle"], strict=True))


@lru_cache(maxsize=1)
def _epci_names() -> dict[str, str]:
    ep = cog.epci()
    return dict(zip(ep["code_epci"], ep["libelle"], strict=True))


def _run_date(value: str | None) -> str:
    if not value:
        return "inconnue"
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{dt.day} {_MONTHS[dt.month - 1]} {dt.year} à {dt.hour}\u00a0h\u00a0{dt.minute:02d}"


def _vintage_dir(output_dir: Path, millesime: int | None) -> Path:
    output_dir = Path(output_dir)
    if millesime is not None:
        root = output_dir / str(millesime)
    elif (output_dir / "manifest.json").exists():
        root = output_dir
    else:
        years = sorted(
            (p for p in output_dir.glob("[0-9][0-9][0-9][0-9]") if p.is_dir()), key=lambda p: p.name
        )
        if not years:
            raise PublicationError(f"no vintage folder (output/<millesime>/) in {output_dir}")
        root = years[-1]
    if not root.is_dir():
        raise PublicationError(f"no publication folder {root}: run the pipeline first")
    return root


def build_portal(output_dir: Path, millesime: int | None = None) -> Path:
    """Write ``output_dir/<millesime>/portail/index.html`` (+ its CSS and JS) and return its path.

    ``millesime`` defaults to the latest vintage folder of ``output_dir`` (or ``output_dir`` itself when it
    holds a ``manifest.json``). Files are discovered on disk; the portal folder is replaced atomically.
    """
    import jinja2

    root = _vintage_dir(output_dir, millesime)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    files = _Files(root)
    france, groups = _territories(files)
    about = [files.link("manifest.json", "Manifeste d'exécution (JSON)")]
    if "qualite/rapport.html" in files.all:
        about.append(files.link("qualite/rapport.html", "Rapport qualité (HTML)"))
    about += [files.link(rel) for rel in files.matching(r"qualite/.+") if rel not in files.claimed]
    others = [files.link(rel, rel) for rel in files.unclaimed()]

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    members = [m for _, group in groups for m in group]
    # EPCIs are listed apart (shown when a search finds them): the count is of the other territories
    n_territories = (
        1 + sum(head.niveau != "groupe" for head, _ in groups) + sum(m.niveau != "epci" for m in members)
    )
    n_epci = len({m.code for m in members if m.niveau == "epci"})
    html = env.get_template("index.html.j2").render(
        millesime=manifest.get("millesime", root.name),
        perimetre=manifest.get("perimetre_version", "inconnue"),
        run_date=_run_date(manifest.get("created_at")),
        code_version=fmt.code_version(manifest.get("code_version")) if manifest.get("code_version") else "",
        france=france,
        groups=groups,
        about=about,
        others=others,
        notes=[*notes.ANNUELLES, *notes.definitions(), *notes.BAROMETRE, *notes.definitions(barometre=True)],
        n_territories=n_territories,
        n_epci=n_epci,
        n_epci_texte=fmt.nombre(n_epci),
    )
    with atomic_dir(root / PORTAL) as tmp:
        (tmp / "index.html").write_text(html, encoding="utf-8")
        for asset in ASSETS:
            shutil.copyfile(TEMPLATES / asset, tmp / asset)
        tmp.chmod(0o755)
    return root / PORTAL / "index.html"
