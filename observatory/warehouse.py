"""DuckDB connection handling and running the ``sql/`` files (package data, ``observatory/sql/``).

The pipeline is the only writer of the DuckDB file. Readers (notebooks, the API, the portal) read the
Parquet files it publishes, written atomically (:mod:`observatory.files`).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from observatory.files import atomic_path

SQL_DIR = importlib.resources.files("observatory") / "sql"
"""The SQL files, shipped inside the package (found the same way from a source tree and a wheel)."""
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
SCHEMAS = ("ref", "staging", "ess", "ind")


def connect(path: str | Path | None = None, *, read_only: bool = False, threads: int | None = None):
    """Open the warehouse (``None`` or ``":memory:"`` for an in-memory database) and create its schemas."""
    if path is None or str(path) == ":memory:":
        con = duckdb.connect(":memory:")
    else:
        path = Path(path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = true")
    if not read_only:
        ensure_schemas(con)
    return con


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """Create the warehouse schemas (``ref``, ``staging``, ``ess``, ``ind``) when missing."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def sql_text(relpath: str) -> str:
    """The text of ``sql/<relpath>`` (in the package: ``observatory/sql/<relpath>``)."""
    path = SQL_DIR / relpath
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file observatory/sql/{relpath} in the installed package")
    return path.read_text(encoding="utf-8")


def run_sql(con: duckdb.DuckDBPyConnection, relpath: str, params: Mapping[str, object] | None = None):
    """Run one ``sql/`` file, binding the ``$name`` parameters it uses from ``params``.

    Values are bound, never formatted into the SQL. Parameters the file does not use are ignored; a
    parameter the file uses but ``params`` lacks is an error naming the file.
    """
    text = sql_text(relpath)
    used = set(_PARAM.findall(_strip_comments(text)))
    params = dict(params or {})
    missing = used - params.keys()
    if missing:
        raise KeyError(f"sql/{relpath} needs parameters {sorted(missing)}")
    bound = {k: params[k] for k in used}
    statements = [s for s in _split_statements(text) if s.strip()]
    result = None
    for stmt in statements:
        stmt_params = {k: v for k, v in bound.items() if f"${k}" in stmt}
        result = con.execute(stmt, stmt_params) if stmt_params else con.execute(stmt)
    return result


def _strip_comments(text: str) -> str:
    return re.sub(r"--[^\n]*", "", text)


def _split_statements(text: str) -> list[str]:
    """Split a SQL file on the semicolons that end statements (outside quotes and comments)."""
    text = _strip_comments(text)
    out, buf, quote = [], [], None
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            buf.append(ch)
        elif ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, dest: str | Path, params=None) -> int:
    """Write the result of ``query`` to ``dest`` as Parquet atomically; return the number of rows."""
    with atomic_path(dest) as tmp:
        con.execute(
            f"COPY ({query}) TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd)", params or {}
        )
    return con.execute(f"SELECT count(*) FROM read_parquet('{Path(dest).as_posix()}')").fetchone()[0]
