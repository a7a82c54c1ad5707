"""Apply the ESS perimeter to the staged extracts: ``sql/perimeter/*.sql`` → the ``ess.*`` tables.

The ``ref`` tables must have been loaded first with :func:`observatory.reference.load` for the same
perimeter version (the switches chosen there are part of the run). The ``staging`` tables are those of
:mod:`observatory.ingest`.
"""

from __future__ import annotations

import duckdb

from observatory.errors import ObservatoryError
from observatory.warehouse import run_sql

UNIT_STEPS = ("perimeter/unites_legales.sql",)
TERRITORY_STEPS = (
    "perimeter/quarantaine_etablissements.sql",
    "perimeter/etablissements.sql",
    "perimeter/quarantaine_postes.sql",
    "perimeter/postes.sql",
    "perimeter/etablissements_employeurs.sql",
)
STEPS = UNIT_STEPS + TERRITORY_STEPS
TABLES = ("ess.unites_legales", "ess.etablissements", "ess.postes", "ess.etablissements_employeurs")


def apply_perimeter(con: duckdb.DuckDBPyConnection, perimetre_version: str) -> dict[str, int]:
    """Build ``ess.unites_legales``, ``ess.etablissements``, ``ess.postes`` and
    ``ess.etablissements_employeurs`` from ``staging.*``, in that order.

    Returns row counts: one entry per ``ess`` table, ``quarantaine.siren_inconnu`` (establishments of an
    unknown legal unit) and ``quarantaine.siret_inconnu`` (jobs of an unknown establishment), and
    ``motif.<motif>`` for each classification reason of the legal units (see ``unites_legales.sql``).

    Raises :class:`ObservatoryError` when the ``ref`` tables are missing or were loaded for another
    perimeter version.
    """
    counts = classify_units(con, perimetre_version)
    counts.update(join_territories(con))
    return counts


def classify_units(con: duckdb.DuckDBPyConnection, perimetre_version: str) -> dict[str, int]:
    """Build ``ess.unites_legales`` (family, ``ess``, ``ess_loi_2014``, ``public``, reason) and return its row
    count and the count of each reason (``motif.<motif>``)."""
    _check_reference(con, perimetre_version)
    _run_steps(con, UNIT_STEPS)
    counts = {"ess.unites_legales": _count(con, "SELECT count(*) FROM ess.unites_legales")}
    rows = con.execute(
        "SELECT motif, count(*) FROM ess.unites_legales GROUP BY motif ORDER BY motif"
    ).fetchall()
    counts.update({f"motif.{motif}": n for motif, n in rows})
    return counts


def join_territories(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Build ``ess.etablissements``, ``ess.postes`` and ``ess.etablissements_employeurs`` from the classified
    units and the COG; quarantine establishments of unknown units and jobs of unknown establishments."""
    _run_steps(con, TERRITORY_STEPS)
    counts = {table: _count(con, f"SELECT count(*) FROM {table}") for table in TABLES[1:]}
    for motif in ("siren_inconnu", "siret_inconnu"):
        counts[f"quarantaine.{motif}"] = _count(
            con, "SELECT count(*) FROM staging.quarantaine WHERE motif = $motif", {"motif": motif}
        )
    return counts


def _check_reference(con: duckdb.DuckDBPyConnection, perimetre_version: str) -> None:
    loaded = loaded_version(con)
    if loaded is None:
        raise ObservatoryError(
            "the reference tables are not loaded: call observatory.reference.load(con, perimetre=...) first"
        )
    if loaded.split("+", 1)[0] != perimetre_version:
        raise ObservatoryError(
            f"the reference tables were loaded for perimeter {loaded!r}, not {perimetre_version!r}"
        )


def _run_steps(con: duckdb.DuckDBPyConnection, steps: tuple[str, ...]) -> None:
    for step in steps:
        result = run_sql(con, step)
        if result is not None:
            result.fetchall()


def loaded_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The perimeter stamp of the loaded ``ref`` tables (``insee-2008-4f``, ``insee-2008-4f+smia=on``…),
    or ``None`` when they are not loaded."""
    exists = _count(
        con,
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'ref' AND table_name = 'perimetre_parametres'",
    )
    if not exists:
        return None
    rows = con.execute("SELECT perimetre_version FROM ref.perimetre_parametres").fetchall()
    return rows[0][0] if rows else None


def _count(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> int:
    return con.execute(query, params or {}).fetchall()[0][0]
