"""Workbooks of the publications (openpyxl): a contents sheet, then one sheet per figure.

Layout of a figure sheet (the same everywhere, so a reader or a script finds the data):

- row 1 the title, row 2 the unit, row 3 the champ, row 4 (when the figure has a CSV file) a link to it,
  the data table of the chart at hand;
- row ``HEADER_ROW`` (5) the column headers, data from the next row on;
- after the data: the source line, the "Lecture :" sentence, the secrecy footnote when needed, and the
  chart's description (its alternative text in the PDF).

Numbers are stored as numbers with a display format (``# ##0``, ``0,0 %`` — Excel shows them with the
reader's locale separators); shares are fractions formatted as percentages; a secret cell holds the text
``s``, a missing one is empty.
"""

from __future__ import annotations

import os
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from observatory.publish import notes
from observatory.warehouse import atomic_path

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
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=13, color="A3195B")
_HEAD_FILL = PatternFill("solid", fgColor="F2E4EC")


def _sheet_name(fig_id: str, used: set[str]) -> str:
    name = fig_id[:31]
    i = 2
    while name in used:
        name = f"{fig_id[:28]}_{i}"
        i += 1
    used.add(name)
    return name


def _notes_sheet(wb: Workbook, intro: list[str]) -> None:
    """The "Méthodologie" sheet: the methodology's paragraphs, then every note and definition of
    :mod:`~observatory.publish.notes` the PDF had no room for (the plaquette's)."""
    ws = wb.create_sheet("Méthodologie")
    lines = list(intro)
    lines += [n for n in notes.ANNUELLES if n not in lines]
    if notes.DEFINITIONS not in lines:
        lines += [notes.DEFINITIONS, *notes.definitions()]
    ws.column_dimensions["A"].width = 140
    for i, line in enumerate(lines, start=1):
        c = ws.cell(i, 1, line)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        if line == notes.DEFINITIONS:
            c.font = _BOLD


def write_workbook(doc, path: str | Path, csv_dir: str | Path | None = None) -> Path:
    """Write the workbook of a :class:`~observatory.publish.documents.Document` atomically; return its path.

    ``csv_dir``: where the figures' CSV files are (``<id>.csv``); each sheet and the contents link them by a
    path relative to the workbook, so the links hold wherever the vintage folder is copied.
    """
    from observatory.publish.documents import NOTE_SECRET, SOURCE, Cell, export_value

    path = Path(path)
    wb = Workbook()
    toc = wb.active
    toc.title = "Sommaire"
    toc["A1"] = f"{doc.titre} — {doc.sous_titre} — {doc.millesime}"
    toc["A1"].font = _TITLE
    toc["A2"] = SOURCE
    toc["A3"] = f"Version du périmètre : {doc.manifest.get('perimetre_version', '')}"
    toc["A5"], toc["B5"], toc["C5"], toc["D5"] = "Feuille", "Section", "Titre", "Données (CSV)"
    for c in ("A5", "B5", "C5", "D5"):
        toc[c].font = _BOLD
    used = {"Sommaire"}
    r = 6
    for section in doc.sections:
        for fig in section.figures:
            name = _sheet_name(fig.id, used)
            toc.cell(r, 1, name).hyperlink = f"#'{name}'!A1"
            toc.cell(r, 2, section.titre)
            toc.cell(r, 3, fig.titre)
            csv_link = (
                os.path.relpath(Path(csv_dir) / f"{fig.id}.csv", path.parent).replace(os.sep, "/")
                if csv_dir is not None
                else None
            )
            if csv_link:
                toc.cell(r, 4, csv_link).hyperlink = csv_link
            r += 1
            ws = wb.create_sheet(name)
            ws["A1"] = fig.titre
            ws["A1"].font = _TITLE
            ws["A2"] = fig.unite
            ws["A3"] = fig.champ
            if csv_link:
                ws["A4"] = f"Données du graphique au format CSV : {csv_link}"
                ws["A4"].hyperlink = csv_link
                ws["A4"].font = Font(underline="single", color="1A5A99")
            for j, col in enumerate(fig.columns, start=1):
                c = ws.cell(HEADER_ROW, j, col or "Indicateur")
                c.font = _BOLD
                c.fill = _HEAD_FILL
                c.alignment = Alignment(wrap_text=True, vertical="top")
            for i, row in enumerate(fig.rows, start=HEADER_ROW + 1):
                for j, v in enumerate(row, start=1):
                    if isinstance(v, Cell):
                        if v.secret:
                            c = ws.cell(i, j, "s")
                            c.alignment = Alignment(horizontal="right")
                        elif v.value is None:
                            c = ws.cell(i, j, None)
                        else:  # percentages 0–100, as in the table and the CSV; publication precision
                            c = ws.cell(i, j, export_value(v, 100.0))
                            c.number_format = NUMBER_FORMATS.get(v.kind, "General")
                    else:
                        c = ws.cell(i, j, v)
                    if (i - HEADER_ROW - 1) in fig.bold_rows:
                        c.font = _BOLD
            end = HEADER_ROW + len(fig.rows) + 2
            ws.cell(end, 1, SOURCE)
            ws.cell(end + 1, 1, fig.lecture)
            if fig.note:
                ws.cell(end + 2, 1, fig.note)
            if fig.has_secret:
                ws.cell(end + 3, 1, NOTE_SECRET)
            if fig.alt:
                ws.cell(end + 4, 1, f"Description du graphique : {fig.alt}")
            ws.column_dimensions["A"].width = 44
            for j in range(2, len(fig.columns) + 1):
                ws.column_dimensions[get_column_letter(j)].width = 18
            ws.row_dimensions[HEADER_ROW].height = 30
            ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2)
    toc.column_dimensions["A"].width = 20
    toc.column_dimensions["B"].width = 40
    toc.column_dimensions["C"].width = 80
    toc.column_dimensions["D"].width = 40
    for section in doc.sections:
        if section.metadata:
            r += 1
            for k, v in section.metadata:
                toc.cell(r, 1, k).font = _BOLD
                toc.cell(r, 2, v)
                r += 1
            _notes_sheet(wb, section.intro)
    with atomic_path(path) as tmp:
        wb.save(tmp)
        tmp.chmod(0o644)
    return path
