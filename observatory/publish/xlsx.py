"""Workbooks of the publications (xlsxwriter): a contents sheet, then one sheet per figure.

Layout of a figure sheet (the same everywhere, so a reader or a script finds the data):

- row 1 the title, row 2 the unit, row 3 the champ, row 4 (when the figure has a CSV file) a link to it,
  the data table of the chart at hand;
- row ``HEADER_ROW`` (5) the column headers, data from the next row on;
- after the data: the source line, the "Lecture :" sentence, the secrecy footnote when needed, and the
  chart's description (its alternative text in the PDF).

Numbers are stored as numbers with a display format (``# ##0``, ``0,0 %`` — Excel shows them with the
reader's locale separators); shares are fractions formatted as percentages; a secret cell holds the text
``s``, a missing one is empty.

Written with xlsxwriter, in memory (3–4× faster than openpyxl for these small workbooks: ~1 250 EPCI
portraits per vintage each have one); every value is written with its explicit type (a text is never read as a
formula or a link).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import xlsxwriter
from xlsxwriter.url import Url

from observatory.files import atomic_path
from observatory.publish import notes
from observatory.publish.model import NOTE_SECRET, SOURCE, Cell, export_value

HEADER_ROW = 5
NUMBER_FORMATS = {
    "nombre": "#,##0",
    "pourcent": '0.0" %"',
    "euros": '#,##0" €"',
    "euros2": '#,##0.0" €"',
    "montant": '#,##0" €"',
    "rang": "0",
    "fois": "0.0",
    "evolution": '+0.0" %";-0.0" %";0.0" %"',
    "solde": "+#,##0;-#,##0;0",
}
ACCENT = "#A3195B"
HEAD_FILL = "#F2E4EC"
LINK = "#1A5A99"
_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def relative_link(path: str) -> Url:
    """A link to a file by a path relative to the workbook, kept with forward slashes.

    xlsxwriter writes ``external:`` links with Windows separators, which a POSIX reader cannot follow; the
    relationship target is set to the path as given (as openpyxl wrote it).
    """
    url = Url("external:" + path)
    url._link = url._relationship_link = path  # xlsxwriter has no public switch for this
    url.text = path
    return url


def new_workbook(path: str | Path) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook built in memory, where a text is never read as a formula, a link or a number."""
    return xlsxwriter.Workbook(str(path), _OPTIONS)


class _Formats:
    """The workbook's cell formats, made once per combination (xlsxwriter needs one object per style)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._cache: dict[tuple, object] = {}
        self.title = wb.add_format({"bold": True, "font_size": 13, "font_color": ACCENT})
        self.bold = self.get(bold=True)
        self.head = wb.add_format(
            {"bold": True, "bg_color": HEAD_FILL, "pattern": 1, "text_wrap": True, "valign": "top"}
        )
        self.link = wb.add_format({"underline": 1, "font_color": LINK})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.wrap_bold = wb.add_format({"text_wrap": True, "valign": "top", "bold": True})

    def get(self, bold: bool = False, num_format: str | None = None, right: bool = False):
        key = (bold, num_format, right)
        if key not in self._cache:
            props: dict = {}
            if bold:
                props["bold"] = True
            if num_format:
                props["num_format"] = num_format
            if right:
                props["align"] = "right"
            self._cache[key] = self.wb.add_format(props) if props else None
        return self._cache[key]


def _sheet_name(fig_id: str, used: set[str]) -> str:
    name = fig_id[:31]
    i = 2
    while name in used:
        name = f"{fig_id[:28]}_{i}"
        i += 1
    used.add(name)
    return name


def write_cell(ws, row: int, col: int, value, fmt=None) -> None:
    """One cell, 0-based, by the value's own type (text stays text, a number a number, ``None`` empty)."""
    if value is None or value == "":
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


@lru_cache(maxsize=1)
def _definitions() -> tuple[str, ...]:
    return tuple(notes.definitions())


def _notes_sheet(wb: xlsxwriter.Workbook, f: _Formats, intro: list[str], used: set[str]) -> None:
    """The "Méthodologie" sheet: the methodology's paragraphs, then every note and definition of
    :mod:`~observatory.publish.notes` the PDF had no room for (the plaquette's)."""
    name = "Méthodologie"
    i = 1
    while name in used:
        name = f"Méthodologie{i}"
        i += 1
    used.add(name)
    ws = wb.add_worksheet(name)
    lines = list(intro)
    lines += [n for n in notes.ANNUELLES if n not in lines]
    if notes.DEFINITIONS not in lines:
        lines += [notes.DEFINITIONS, *_definitions()]
    ws.set_column(0, 0, 140)
    for i, line in enumerate(lines):
        write_cell(ws, i, 0, line, f.wrap_bold if line == notes.DEFINITIONS else f.wrap)


def _figure_sheet(ws, f: _Formats, fig, csv_link: str | None) -> None:
    """One figure's sheet: title, unit, field, the link to its CSV, the table (secret cells as « s »,
    numbers at the publication precision), source, reading note, notes and the chart's description."""
    write_cell(ws, 0, 0, fig.titre, f.title)
    write_cell(ws, 1, 0, fig.unite)
    write_cell(ws, 2, 0, fig.champ)
    if csv_link:
        link = relative_link(csv_link)
        link.text = f"Données du graphique au format CSV : {csv_link}"
        ws.write_url(3, 0, link, f.link)
    for j, col in enumerate(fig.columns):
        ws.write_string(HEADER_ROW - 1, j, col or "Indicateur", f.head)
    for i, row in enumerate(fig.rows):
        bold = i in fig.bold_rows
        for j, v in enumerate(row):
            if isinstance(v, Cell):
                if v.secret:
                    ws.write_string(HEADER_ROW + i, j, "s", f.get(bold, right=True))
                elif v.value is None:
                    write_cell(ws, HEADER_ROW + i, j, None, f.get(bold))
                else:  # percentages 0–100, as in the table and the CSV; publication precision
                    ws.write_number(
                        HEADER_ROW + i,
                        j,
                        export_value(v, 100.0),
                        f.get(bold, NUMBER_FORMATS.get(v.kind, "General")),
                    )
            else:
                write_cell(ws, HEADER_ROW + i, j, v, f.get(bold))
    end = HEADER_ROW + len(fig.rows) + 1  # 0-based: one empty row after the data
    ws.write_string(end, 0, SOURCE)
    write_cell(ws, end + 1, 0, fig.lecture)
    if fig.note:
        write_cell(ws, end + 2, 0, fig.note)
    if fig.has_secret:
        ws.write_string(end + 3, 0, NOTE_SECRET)
    if fig.alt:
        ws.write_string(end + 4, 0, f"Description du graphique : {fig.alt}")
    ws.set_column(0, 0, 44)
    if len(fig.columns) > 1:
        ws.set_column(1, len(fig.columns) - 1, 18)
    ws.set_row(HEADER_ROW - 1, 30)
    ws.freeze_panes(HEADER_ROW, 1)


def write_workbook(doc, path: str | Path, csv_dir: str | Path | None = None) -> Path:
    """Write the workbook of a :class:`~observatory.publish.model.Document` atomically; return its path.

    ``csv_dir``: where the figures' CSV files are (``<id>.csv``); each sheet and the contents link them by a
    path relative to the workbook, so the links hold wherever the vintage folder is copied.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        wb = new_workbook(tmp)
        f = _Formats(wb)
        toc = wb.add_worksheet("Sommaire")
        toc.write_string(0, 0, f"{doc.titre} — {doc.sous_titre} — {doc.millesime}", f.title)
        toc.write_string(1, 0, SOURCE)
        toc.write_string(2, 0, f"Version du périmètre : {doc.manifest.get('perimetre_version', '')}")
        for j, head in enumerate(("Feuille", "Section", "Titre", "Données (CSV)")):
            toc.write_string(4, j, head, f.bold)
        used = {"Sommaire"}
        r = 5  # 0-based: the sixth row
        for section in doc.sections:
            for fig in section.figures:
                name = _sheet_name(fig.id, used)
                toc.write_url(r, 0, f"internal:'{name}'!A1", string=name)
                toc.write_string(r, 1, section.titre)
                write_cell(toc, r, 2, fig.titre)
                csv_link = (
                    os.path.relpath(Path(csv_dir) / f"{fig.id}.csv", path.parent).replace(os.sep, "/")
                    if csv_dir is not None
                    else None
                )
                if csv_link:
                    toc.write_url(r, 3, relative_link(csv_link))
                r += 1
                _figure_sheet(wb.add_worksheet(name), f, fig, csv_link)
        toc.set_column(0, 0, 20)
        toc.set_column(1, 1, 40)
        toc.set_column(2, 2, 80)
        toc.set_column(3, 3, 40)
        for section in doc.sections:
            if section.metadata:
                r += 1
                for k, v in section.metadata:
                    write_cell(toc, r, 0, k, f.bold)
                    write_cell(toc, r, 1, v)
                    r += 1
                _notes_sheet(wb, f, section.intro, used)
        wb.close()
        tmp.chmod(0o644)
    return path
