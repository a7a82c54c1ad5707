"""``observatory classify``: classify the legal units of one StockUniteLegale file in the ESS perimeter.

The file is loaded into ``staging.unites_legales`` of an in-memory DuckDB and classified by the same
``sql/perimeter/unites_legales.sql`` as the pipeline, so the command and the pipeline cannot disagree.

Input: a StockUniteLegale-layout file, CSV (UTF-8 or Windows-1252/Latin-1, ``,`` or ``;`` separated, plain,
gzip or zip) or Parquet, holding at least the columns of :data:`REQUIRED`; other columns are ignored.
Output: a UTF-8 CSV ``siren,famille_ess,ess,ess_loi_2014,motif,perimetre_version`` with ``true``/``false``
booleans, one row per input row, in input order, written atomically.
"""

from __future__ import annotations

import codecs
import gzip
import tempfile
import zipfile
from pathlib import Path

import duckdb

from observatory.config import DEFAULT_PERIMETRE
from observatory.errors import ExtractError
from observatory.files import atomic_path
from observatory.reference.load import load
from observatory.warehouse import connect, run_sql

REQUIRED = (
    "siren",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "economieSocialeSolidaireUniteLegale",
)
OPTIONAL = ("etatAdministratifUniteLegale", "denominationUniteLegale")
OUTPUT_COLUMNS = ("siren", "famille_ess", "ess", "ess_loi_2014", "motif", "perimetre_version")
_SNIFF_BYTES = 1 << 16


def classify_file(input: Path, output: Path, perimetre: str = DEFAULT_PERIMETRE) -> int:
    """Classify every legal unit of ``input`` with perimeter version ``perimetre`` (default switches) and
    write the result to ``output``; return the number of units written.

    Raises :class:`~observatory.errors.ExtractError` when the file cannot be read or lacks a required
    column (line 1, the column named), and :class:`~observatory.errors.ObservatoryError` for an unknown
    perimeter version.
    """
    input, output = Path(input), Path(output)
    con = connect(None)
    try:
        load(con, perimetre)
        _stage_unites_legales(con, input)
        run_sql(con, "perimeter/unites_legales.sql").fetchall()
        columns = ", ".join(OUTPUT_COLUMNS)
        with atomic_path(output) as tmp:
            con.execute(
                f"COPY (SELECT {columns} FROM ess.unites_legales) TO {_literal(tmp)} (FORMAT csv, HEADER true)"
            ).fetchall()
        return con.execute("SELECT count(*) FROM ess.unites_legales").fetchall()[0][0]
    finally:
        con.close()


def _stage_unites_legales(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Create ``staging.unites_legales`` (data-model columns, all text, ``_fichier``, ``_ligne``) from
    ``path``, keeping the file's row order. ``_ligne`` is the line in the file with the header as line 1
    (for CSV: exact unless a quoted value spans several lines)."""
    if not path.is_file():
        raise ExtractError(str(path), expected="an existing StockUniteLegale file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        source, names = _parquet_source(con, path)
        _create_staging(con, path, source, names, line_offset=1)
        return
    with tempfile.TemporaryDirectory(prefix="observatory-classify-") as tmp:
        csv_path = _unzip(path, Path(tmp)) if magic.startswith(b"PK") else path
        compression = "gzip" if magic.startswith(b"\x1f\x8b") else "none"
        head = _head(csv_path, compression)
        if not head.strip():
            raise ExtractError(str(path), line=1, expected="a header line with the StockUniteLegale columns")
        delim = _delimiter(head, path)
        transcoded = not _is_utf8(head)
        if transcoded:
            csv_path, compression = _to_utf8(csv_path, compression, Path(tmp)), "none"
        try:
            _create_from_csv(con, path, csv_path, compression, delim)
        except UnicodeError as exc:
            if transcoded:
                raise ExtractError(str(path), expected="a UTF-8 or Windows-1252 CSV file") from exc
            utf8 = _to_utf8(csv_path, compression, Path(tmp))
            _create_from_csv(con, path, utf8, "none", delim)


def _create_from_csv(con, path: Path, csv_path: Path, compression: str, delim: str) -> None:
    """Stage a UTF-8 CSV; a byte sequence that is not UTF-8 raises :class:`UnicodeError` (the caller
    transcodes and retries), any other reading error an :class:`ExtractError`."""
    source = (
        f"read_csv({_literal(csv_path)}, header = true, all_varchar = true, delim = {_literal(delim)}, "
        f"encoding = 'utf-8', compression = {_literal(compression)})"
    )
    try:
        names = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        _create_staging(con, path, source, names, line_offset=2)
    except duckdb.Error as exc:
        if "unicode" in str(exc).lower() or "utf-8" in str(exc).lower():
            raise UnicodeError(str(exc)) from exc
        raise ExtractError(str(path), expected="a readable CSV file", found=_first_line(exc)) from exc


def _to_utf8(path: Path, compression: str, into: Path) -> Path:
    """Transcode a Windows-1252 file to UTF-8 in ``into`` (streaming). Windows-1252 is a superset of the
    printable Latin-1 range; its five undefined bytes become U+FFFD (codes are ASCII, so only names can
    carry them)."""
    dest = into / "transcoded_utf8.csv"
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as raw, open(dest, "w", encoding="utf-8", newline="") as out:
        decoder = codecs.getincrementaldecoder("cp1252")(errors="replace")
        while chunk := raw.read(1 << 22):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))
    return dest


def _parquet_source(con, path: Path) -> tuple[str, dict[str, str]]:
    source = f"read_parquet({_literal(path)}, file_row_number = true)"
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise ExtractError(str(path), expected="a readable Parquet file", found=_first_line(exc)) from exc
    return source, {r[0]: r[1] for r in rows if r[0] != "file_row_number"}


def _create_staging(con, path: Path, source: str, names: dict[str, str], line_offset: int) -> None:
    """Copy the columns the perimeter needs from ``source`` into ``staging.unites_legales``.

    CSV rows get their line from the order of the scan (kept by ``preserve_insertion_order``), Parquet rows
    from ``file_row_number``; a Parquet ``siren`` stored as a number gets its leading zeros back."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ExtractError(
            str(path),
            line=1,
            column=missing[0],
            expected=f"the StockUniteLegale columns {', '.join(missing)}",
        )
    selected = [_column(c, names.get(c)) for c in (*REQUIRED, *OPTIONAL)]
    if "file_row_number" in source:
        line = f"file_row_number + {line_offset}"
        con.execute(
            f"CREATE OR REPLACE TABLE staging.unites_legales AS SELECT {', '.join(selected)}, "
            f"$fichier AS _fichier, {line} AS _ligne FROM {source} ORDER BY file_row_number",
            {"fichier": path.name},
        ).fetchall()
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE brut AS SELECT {', '.join(selected)} FROM {source}").fetchall()
    keep = ", ".join(_ident(c) for c in (*REQUIRED, *OPTIONAL))
    con.execute(
        f"CREATE OR REPLACE TABLE staging.unites_legales AS SELECT {keep}, $fichier AS _fichier, "
        f"rowid + {line_offset} AS _ligne FROM brut ORDER BY rowid",
        {"fichier": path.name},
    ).fetchall()
    con.execute("DROP TABLE brut").fetchall()


def _column(name: str, type_: str | None) -> str:
    """The select expression of one staged column: text, NULL when absent, a numeric SIREN left-padded."""
    col = _ident(name)
    if type_ is None:
        return f"CAST(NULL AS VARCHAR) AS {col}"
    if name == "siren" and type_ != "VARCHAR":
        return f"lpad(CAST({col} AS VARCHAR), 9, '0') AS {col}"
    return f"CAST({col} AS VARCHAR) AS {col}"


def _unzip(path: Path, into: Path) -> Path:
    """Extract the CSV member of a zip archive (the only member, or the only ``.csv`` one)."""
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            csvs = [m for m in members if m.filename.lower().endswith(".csv")]
            chosen = csvs if len(csvs) == 1 else members
            if len(chosen) != 1:
                raise ExtractError(str(path), expected="a zip archive holding one CSV file")
            return Path(z.extract(chosen[0], into))
    except zipfile.BadZipFile as exc:
        raise ExtractError(str(path), expected="a readable zip archive", found=str(exc)) from exc


def _head(path: Path, compression: str) -> bytes:
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as f:
            return f.read(_SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise ExtractError(str(path), expected="a readable file", found=str(exc)) from exc


def _is_utf8(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _delimiter(head: bytes, path: Path) -> str:
    """The separator of the header line: ``;``, ``,`` or a tab, whichever occurs most."""
    header = head.split(b"\n", 1)[0]
    counts = {d: header.count(d.encode()) for d in (";", ",", "\t")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise ExtractError(str(path), line=1, expected="a header line separated by ',' or ';'")
    return best


def _literal(value: object) -> str:
    """A SQL string literal for a file path or an option (DuckDB table functions take no bound paths)."""
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
