"""Alternative texts of charts and maps: what a sighted reader takes from the picture, said in French.

A chart is drawn from cells; its alternative text is built from the **same cells, as printed** (the
French formats of :mod:`observatory.publish.fmt`), so a screen-reader user hears the numbers the table and
the chart labels show. A secret cell, which prints ``s``, is said "secret statistique"; a figure absent
from the table (``n.d.``) "non disponible"; a cell with no meaning (``–``) "sans objet".

The texts are read aloud: they name the measure and the territory first, then the values in the order
the chart shows them, largest first where the chart sorts them. typst writes them into the tagged PDF
(``image(..., alt: ...)``, PDF/UA-1 refuses an image without one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from observatory.publish import fmt

SAID = {
    fmt.SECRET: "secret statistique",
    fmt.MISSING: "non disponible",
    fmt.SANS_OBJET: "sans objet",
}
"""How a printed placeholder is said aloud."""


def said(text: str) -> str:
    """A printed figure as it is said: ``s`` → ``secret statistique``, ``n.d.`` → ``non disponible``."""
    return SAID.get(text, text)


def pairs(items: Iterable[tuple[str, str]], sep: str = " : ") -> str:
    """``label : value, label : value`` with placeholders said in words."""
    return ", ".join(f"{label}{sep}{said(text)}" for label, text in items)


NO_DATA = "aucune donnée publiée pour ce territoire"
"""What an empty chart (a territory outside a source's field, such as Mayotte) says."""


def listing(subject: str, items: Iterable[tuple[str, str]]) -> str:
    """One measure over categories: ``subject : a 12,0 %, b 3,5 %.``"""
    said_items = pairs(items, " ")
    return f"{subject} : {said_items or NO_DATA}."


def grouped(subject: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Several series over categories: ``subject. Cat 1 : s1 12 %, s2 10 % ; Cat 2 : ...``.

    ``series`` is ``[(series label, [printed value per category])]``.
    """
    parts = [
        f"{cat} : " + pairs(((name, values[i]) for name, values in series), " ")
        for i, cat in enumerate(categories)
    ]
    return f"{subject}. " + (" ; ".join(parts) if parts else NO_DATA[0].upper() + NO_DATA[1:]) + "."
