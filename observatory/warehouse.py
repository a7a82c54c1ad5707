"""DuckDB connection handling, running the ``sql/`` files (package data, ``observatory/sql/``), and atomic
publication of files.

The pipeline is the only writer of the DuckDB file. Readers (notebooks, the API, the portal) read the
Parquet files it publishes; a file is always written under a temporary name and renamed into place, so a
reader never sees a half-written file and a failed run leaves the previous publication intact.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb

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


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it onto ``dest`` in one step.

    On an exception the temporary file is removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{writer_tag()}.", suffix=".tmp", dir=dest.parent)
    os.fchmod(fd, 0o644)  # published files are world-readable (mkstemp makes them 0600)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; on success it replaces ``dest`` (old copy kept until then).

    The swap is two renames: ``dest`` → ``dest.old``, temporary → ``dest``; a crash between them leaves
    ``dest.old`` complete, and :func:`recover_dir` puts it back.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{writer_tag()}.", suffix=".tmp", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = dest.with_name(dest.name + ".old")
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(dest: str | Path) -> None:
    """Undo a swap interrupted by a crash: if ``dest`` is missing but ``dest.old`` exists, restore it."""
    dest = Path(dest)
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, dest)
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
# A temporary name is ``.<dest name>.<host>-<pid>.<random>.tmp`` (plus a suffix for work files derived from it,
# e.g. ``.tmp.gpkg``): the writer can be told from the name, so a sweep never removes a live writer's file.
_TEMP = re.compile(r"^\..+\.tmp(?:[.-].*)?$")
_WRITER = re.compile(r"\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp(?:[.-].*)?$")
FOREIGN_TEMP_AGE_S = 3600
"""A temporary file whose writer cannot be checked (another host, or an unnamed writer) is stale after this."""


def writer_tag() -> str:
    """``<host>-<pid>`` of this process, put in temporary names so that a sweep can tell a dead writer's."""
    return f"{_HOST}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_alive(host: str, pid: int) -> bool | None:
    """Whether the process that made a temporary name still runs (None when it cannot be told from here)."""
    return pid_alive(pid) if host == _HOST else None


def writer_alive(name: str) -> bool | None:
    """Whether the writer named in a temporary name (``.<x>.<host>-<pid>.<random>.tmp``) still runs; None when
    it cannot be told from here (another host, no writer in the name)."""
    writer = _WRITER.search(name)
    return _writer_alive(writer["host"], int(writer["pid"])) if writer else None


def sweep_stale(root: str | Path) -> list[Path]:
    """Remove what killed writers left under ``root``: temporary files and folders (``.*.tmp``) and
    interrupted folder swaps (``X.old``, restored onto ``X`` when ``X`` is missing). Returns what was removed.

    A temporary name carries its writer's host and pid: the file of a writer that still runs is kept, so the
    sweep is safe while another process publishes; a name from another host is removed only when older than
    :data:`FOREIGN_TEMP_AGE_S`. Call it from the run that holds the run lock, before it writes anything.
    """
    root = Path(root)
    removed: list[Path] = []
    if not root.exists():
        return removed
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            if name.endswith(".old") and name in dirnames:
                dest = path.with_name(name[: -len(".old")])
                if not dest.exists():
                    os.replace(path, dest)
                else:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
                continue
            if not _TEMP.match(name):
                continue
            writer = _WRITER.search(name)
            alive = _writer_alive(writer["host"], int(writer["pid"])) if writer else None
            if alive is None:
                try:
                    alive = now - path.lstat().st_mtime < FOREIGN_TEMP_AGE_S
                except FileNotFoundError:
                    continue
            if alive:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        dirnames[:] = [
            d for d in dirnames if (here / d).is_dir() and not _TEMP.match(d) and not d.endswith(".old")
        ]
    return removed


def copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, dest: str | Path, params=None) -> int:
    """Write the result of ``query`` to ``dest`` as Parquet atomically; return the number of rows."""
    with atomic_path(dest) as tmp:
        con.execute(
            f"COPY ({query}) TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd)", params or {}
        )
    return con.execute(f"SELECT count(*) FROM read_parquet('{Path(dest).as_posix()}')").fetchone()[0]
