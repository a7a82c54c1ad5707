"""Layout check of the publications: every territory's PDF is read back and checked.

For each panorama, plaquette and the égalité report of a vintage folder:

- **overflow**: every run of text (PDFium's text rectangles) lies inside the page box, and none in the
  strips above the header or below the footer (where a block too tall for a page spills); typst
  warnings already fail the build (``typst_pdf.compile_pdf``);
- **sections**: every section title of the document kind is in the text, and every required figure
  (age pyramid, evolution) is there or replaced by the sentence that says why
  (``model.REQUIRED_CONTENT``);
- **figures**: the key figures printed in the PDF equal the indicator table's, formatted in French:
  they are recomputed here straight from the table rows (not through the document builder) and looked
  for in the extracted text; a secret key figure must print ``s``; the panorama's change of the ESS and
  privé hors ESS headcounts since the previous published vintage is recomputed from both tables;
- **captions**: the source line, a "Lecture :" sentence and a "Champ :" line are present.

``check_vintage`` returns the problems found; the CLI or the pipeline fails the run when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pypdfium2 as pdfium

from observatory.errors import PublicationError
from observatory.publish import fmt
from observatory.publish.model import REQUIRED_CONTENT, SECTION_TITLES, SOURCE, IndicatorTable
from observatory.reference.indicateurs import to_natural

EDGE_PT = 18.0
"""Height of the strips at the top and bottom of a page where no text may be (above the header, below
the footer)."""

KEY_FIGURES = [
    # (indicateur, champ, formatter) — the figures a reader quotes from the first page
    ("effectif_31_12", "ess", fmt.nombre),
    ("etablissements_employeurs", "ess", fmt.nombre),
    ("part_emploi_total", "ess", fmt.pourcent),
    ("part_emploi_prive", "ess", fmt.pourcent),
    ("effectif_31_12", "prive_hors_ess", fmt.nombre),
    ("effectif_31_12", "public", fmt.nombre),
]


@dataclass
class LayoutReport:
    """What the check found: the PDFs it read and the problems (empty when everything is right)."""

    checked: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def _read(path: str | Path, outside: bool) -> tuple[str, list[str]]:
    """One pass over a PDF: its text (PDFium's reading order, spaces normalised as in :func:`fmt.normalize`)
    and, when ``outside``, the runs of text that stick out of a page or lie in the top/bottom edge strips.

    PDF coordinates: origin at the bottom left, y upwards; ``EDGE_PT`` strips at the top and the bottom.
    """
    problems = []
    pages = []
    pdf = pdfium.PdfDocument(str(path))
    try:
        for number, page in enumerate(pdf, start=1):
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            if outside:
                width, height = page.get_size()
                for i in range(textpage.count_rects()):
                    left, bottom, right, top = textpage.get_rect(i)
                    if left < 0 or right > width or top > height - EDGE_PT or bottom < EDGE_PT:
                        text = textpage.get_text_bounded(left, bottom, right, top).strip()
                        problems.append(
                            f"page {number}: text {text[:40]!r} at ({left:.0f}, {height - top:.0f}) "
                            "is outside the page body"
                        )
            textpage.close()
            page.close()
    finally:
        pdf.close()
    lines = fmt.normalize("\n".join(pages)).split("\n")
    return "\n".join(line.strip(" ") for line in lines), problems


def pdf_text(path: str | Path) -> str:
    """The text of a PDF (PDFium's reading order), spaces normalised as in :func:`fmt.normalize`."""
    return _read(path, outside=False)[0]


def _flat(text: str) -> str:
    return fmt.normalize(text.replace("\n", " "))


def flat_text(path: str | Path) -> str:
    """The text of a PDF on one line (line breaks as spaces, spaces normalised): what figures are looked for in."""
    return _flat(pdf_text(path))


def text_outside(path: str | Path) -> list[str]:
    """Runs of text (PDFium's text rectangles) that stick out of a page, or lie in the top/bottom edge strips."""
    return _read(path, outside=True)[1]


def _key_rows(df: pd.DataFrame, niveau: str, code: str) -> pd.DataFrame:
    return df[
        (df["niveau"] == niveau)
        & (df["code"] == code)
        & (df["famille"] == "toutes")
        & (df["secteur"] == "tous")
        & (df["tranche"] == "toutes")
        & (df["sexe"] == "tous")
        & (df["pcs"] == "toutes")
    ]


def expected_figures(df: pd.DataFrame, niveau: str, code: str) -> dict[str, str]:
    """Key figures of one territory as they must print, computed straight from the table rows."""
    return expected_figures_of(df, niveau, [code]).get(code, {})


def expected_figures_of(df: pd.DataFrame, niveau: str, codes: list[str]) -> dict[str, dict[str, str]]:
    """:func:`expected_figures` of many territories of one level, in one pass over the table."""
    wanted = {(ind, champ) for ind, champ, _ in KEY_FIGURES}
    rows = df[
        (df["niveau"] == niveau)
        & df["code"].isin(codes)
        & (df["famille"] == "toutes")
        & (df["secteur"] == "tous")
        & (df["tranche"] == "toutes")
        & (df["sexe"] == "tous")
        & (df["pcs"] == "toutes")
        & df["indicateur"].isin({ind for ind, _ in wanted})
    ]
    first: dict[tuple[str, str, str], tuple] = {}
    columns = ("code", "indicateur", "champ", "statut", "valeur", "unite")
    for code, ind, champ, statut, valeur, unite in zip(*(rows[c].tolist() for c in columns)):
        first.setdefault((code, ind, champ), (statut, valeur, unite))  # the first row, as .iloc[0]
    out: dict[str, dict[str, str]] = {}
    for code in codes:
        figures = out.setdefault(code, {})
        for indicateur, champ, formatter in KEY_FIGURES:
            hit = first.get((code, indicateur, champ))
            if hit is None:
                continue
            statut, valeur, unite = hit
            label = f"{indicateur}/{champ}"
            if str(statut).startswith("secret"):
                figures[label] = fmt.SECRET
            elif pd.notna(valeur):
                figures[label] = fmt.normalize(formatter(to_natural(float(valeur), unite)))
    return out


def expected_evolution(df: pd.DataFrame, earlier: pd.DataFrame, niveau: str, code: str) -> dict[str, str]:
    """The change of the ESS and privé hors ESS headcounts since ``earlier`` (a published table), as printed."""
    now, before = _key_rows(df, niveau, code), _key_rows(earlier, niveau, code)
    out = {}
    for champ in ("ess", "prive_hors_ess"):
        pair = [t[(t["indicateur"] == "effectif_31_12") & (t["champ"] == champ)] for t in (before, now)]
        if any(p.empty for p in pair):
            continue
        (a, b) = (p.iloc[0] for p in pair)
        label = f"evolution/{champ}"
        if str(a["statut"]).startswith("secret") or str(b["statut"]).startswith("secret"):
            out[label] = fmt.SECRET
        elif pd.notna(a["valeur"]) and pd.notna(b["valeur"]) and a["valeur"]:
            out[label] = fmt.normalize(fmt.evolution(float(b["valeur"]) / float(a["valeur"]) - 1))
    return out


def _previous_table(vintage: Path, millesime: int) -> pd.DataFrame | None:
    from observatory import api

    earlier = [m for m in api.vintages(vintage.parent) if m < millesime]
    return api.read_indicators(vintage.parent / str(earlier[-1])) if earlier else None


def check_pdf(path: str | Path, kind: str, expected: dict[str, str] | None = None) -> list[str]:
    """Problems of one PDF: overflow, a missing section or caption, a key figure not as in the table."""
    return _check(Path(path), kind, expected)[0]


def _check(path: Path, kind: str, expected: dict[str, str] | None) -> tuple[list[str], str]:
    """:func:`check_pdf`, and the PDF's text (read once, for the caller's own checks; empty if missing)."""
    if not path.exists():
        return [f"{path.name}: missing"], ""
    text, outside = _read(path, outside=True)
    problems = [f"{path.name}: {p}" for p in outside]
    flat = _flat(text)
    for title in SECTION_TITLES[kind]:
        if fmt.normalize(title) not in flat:
            problems.append(f"{path.name}: section « {title} » missing")
    for titre, absent in REQUIRED_CONTENT.get(kind, []):
        if fmt.normalize(titre) not in flat and fmt.normalize(absent) not in flat:
            problems.append(f"{path.name}: « {titre} » missing (and no sentence saying why)")
    for caption in (fmt.normalize(SOURCE), "Lecture :", "Champ :"):
        if caption not in flat:
            problems.append(f"{path.name}: caption « {caption} » missing")
    tokens = set(flat.split(" "))
    for label, value in (expected or {}).items():
        if value == fmt.SECRET:
            if fmt.SECRET not in tokens:
                problems.append(f"{path.name}: {label} is secret but no « s » is printed")
        elif value not in flat:
            problems.append(f"{path.name}: {label} should print « {value} » (indicator table), not found")
    return problems, text


def check_vintage(
    output_vintage_dir: str | Path,
    regions: list[str] | None = None,
    strict: bool = False,
    pdf_root: str | Path | None = None,
    table: IndicatorTable | None = None,
) -> LayoutReport:
    """Check every regional panorama, departmental plaquette and the égalité report of a vintage folder.

    With ``regions`` only those régions and their départements are checked (a region partition).
    ``pdf_root``: where the PDFs are (a staging folder laid out like the vintage folder; default the vintage
    folder itself); the figures are always those of the vintage's published table (``table`` if already read).
    ``strict`` raises :class:`PublicationError` listing the problems instead of returning them.
    """
    vintage = Path(output_vintage_dir)
    root = Path(pdf_root) if pdf_root is not None else vintage
    table = table or IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    report = LayoutReport()
    todo = table.codes("region") if regions is None else list(regions)
    jobs: list[tuple[Path, str, str, str]] = []
    for reg in todo:
        jobs.append((root / "panoramas" / f"region-{reg}.pdf", "panorama", "region", reg))
        for dep in table.departements_of(reg):
            jobs.append((root / "panoramas" / f"departement-{dep}.pdf", "plaquette", "departement", dep))
    if regions is None and table.codes("france"):
        jobs.append((root / "egalite" / "france.pdf", "egalite", "france", table.codes("france")[0]))
    previous = _previous_table(vintage, table.millesime)
    figures = {  # one pass over the table per level, not one per territory
        niveau: expected_figures_of(table.df, niveau, [c for _p, k, n, c in jobs if n == niveau])
        for niveau in ("region", "departement")
    }
    for path, kind, niveau, code in jobs:
        expected = dict(figures[niveau][code]) if kind != "egalite" else {}
        if kind == "panorama" and previous is not None:
            expected.update(expected_evolution(table.df, previous, niveau, code))
        problems, text = _check(path, kind, expected)  # each PDF read once
        report.problems += problems
        report.checked.append(path)
        if kind == "panorama" and "Carte des départements non disponible" in text:
            report.warnings.append(f"{path.name}: the département map is missing (placeholder printed)")
    if strict and report.problems:
        raise PublicationError("layout check failed:\n" + "\n".join(report.problems))
    return report
