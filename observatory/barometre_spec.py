"""What a semester's baromètre is, for the module that builds it (:mod:`observatory.barometre`, warehouse side)
and the one that lays it out (:mod:`observatory.publish.barometre_docs`, which reads published files only): its
periods, written ``AAAA-Tn`` (quarters) and ``AAAA-Sn`` (semesters), its source's field, and the files of its
published folder ``output/<millesime>/barometre/<AAAA-Sn>/``.

A semester ``AAAA-S1`` ends with the second quarter, ``AAAA-S2`` with the fourth; its baromètre publishes the
four quarters that end with it (:data:`QUARTERS_PUBLISHED`).
"""

from __future__ import annotations

import re

from observatory.errors import ObservatoryError

QUARTERS_PUBLISHED = 4
"""Quarters whose breakdowns a semester's baromètre publishes: the year that ends with the semester."""
CHAMP_SOURCE = "régime général, hors agriculture, hors Mayotte"
"""The source's field, stated on every output."""
TABLE_NAME = "indicateurs"
"""The published table: ``indicateurs.parquet`` and ``indicateurs.csv``."""
COST_FILE = "cout_du_secret.json"
"""What the secrecy cost (cells hidden, by reason), read by the publications' methodology line."""

_SEMESTRE = re.compile(r"^(\d{4})-S([12])$")
_TRIMESTRE = re.compile(r"^(\d{4})-T([1-4])$")


class BarometreError(ObservatoryError):
    """The baromètre of a semester cannot be built (malformed semester, quarters missing from the source)."""


def is_semester(code: str) -> bool:
    """Whether ``code`` reads ``AAAA-S1`` or ``AAAA-S2``."""
    return _SEMESTRE.match(code) is not None


def quarter_index(trimestre: str) -> int:
    """``"2023-T2"`` → 4 × 2023 + 1: consecutive quarters have consecutive indexes."""
    m = _TRIMESTRE.match(trimestre)
    if not m:
        raise BarometreError(f"quarter {trimestre!r} does not read AAAA-Tn")
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def quarter_key(index: int) -> str:
    """Inverse of :func:`quarter_index`: 4 × 2023 + 1 → ``"2023-T2"``."""
    return f"{index // 4}-T{index % 4 + 1}"


def parse_semester(semestre: str) -> tuple[int, int]:
    """``"2025-S2"`` → ``(2025, 2)``."""
    m = _SEMESTRE.match(semestre)
    if not m:
        raise BarometreError(f"semester {semestre!r} does not read AAAA-S1 or AAAA-S2")
    return int(m.group(1)), int(m.group(2))


def last_quarter(semestre: str) -> str:
    """The quarter a semester ends with: ``2023-S1`` → ``2023-T2``, ``2023-S2`` → ``2023-T4``."""
    year, half = parse_semester(semestre)
    return f"{year}-T{2 * half}"


def quarters_for(semestre: str) -> list[str]:
    """The quarters a semester's baromètre publishes changes for, oldest first.

    The four quarters ending with the semester, each compared with the same quarter a year before:
    ``2023-S1`` → ``['2022-T3', '2022-T4', '2023-T1', '2023-T2']``; the publications headline the last two.
    """
    end = quarter_index(last_quarter(semestre))
    return [quarter_key(q) for q in range(end - QUARTERS_PUBLISHED + 1, end + 1)]


def semester_of(trimestre: str) -> str:
    """The semester a quarter belongs to: ``2023-T3`` → ``2023-S2``."""
    q = quarter_index(trimestre)
    return f"{q // 4}-S{1 if q % 4 < 2 else 2}"
