"""Readers for the four INSEE-style extracts: detection, typed staging tables, validation and quarantine.

A vintage folder ``data_raw/<millesime>/`` holds ``StockUniteLegale*``, ``StockEtablissement*``,
``postes_*`` and (for the baromètre) ``effectifs_trimestriels*``, each as ``.csv``, ``.csv.gz``, ``.zip`` (one
CSV inside) or ``.parquet``.

Reading (this module) turns a file into a temporary table of text columns with the 1-based line number of
each row (header = line 1; Parquet: row number, first row = 1). Every column is read as ``VARCHAR`` under the
name of the header position, with no type inference; columns the observatory does not use are ignored.
Lines the CSV parser cannot read (invalid bytes, too many or too few fields, unterminated quote, over-long
line) are not dropped: they become quarantine rows naming the file, line and column.

Typing and validation are SQL (``sql/staging/<table>.sql``): they build ``staging.<table>`` and append the
rows that break a rule to ``staging.quarantaine`` (``action = 'rejete'``: left out of staging;
``'conserve'``: kept and flagged). See ``docs/data-model.md``.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb

from observatory.errors import ExtractError
from observatory.warehouse import run_sql

_CHUNK = 8 * 1024 * 1024
MAX_LINE_BYTES = 65_536
"""Longest line accepted (real SIRENE lines are under 2 KB); longer lines are quarantined."""
_NULL_SENTINEL = "\x02"  # never in real data: empty fields stay '' and padded (absent) fields become NULL


@dataclass(frozen=True)
class ExtractSpec:
    """What the observatory reads from one kind of extract."""

    kind: str
    """Short name, also the staging table: ``unites_legales``, ``etablissements``, ..."""
    pattern: str
    """File name prefix in the vintage folder."""
    required: tuple[str, ...]
    """Columns that must be in the header (a missing one stops the run)."""
    optional: tuple[str, ...] = ()
    """Columns read when present, NULL otherwise (reported)."""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


EXTRACTS: dict[str, ExtractSpec] = {
    spec.kind: spec
    for spec in (
        ExtractSpec(
            "unites_legales",
            "StockUniteLegale",
            (
                "siren",
                "categorieJuridiqueUniteLegale",
                "activitePrincipaleUniteLegale",
                "nomenclatureActivitePrincipaleUniteLegale",
                "economieSocialeSolidaireUniteLegale",
            ),
            ("etatAdministratifUniteLegale", "denominationUniteLegale"),
        ),
        ExtractSpec(
            "etablissements",
            "StockEtablissement",
            (
                "siret",
                "siren",
                "nic",
                "codeCommuneEtablissement",
                "activitePrincipaleEtablissement",
                "nomenclatureActivitePrincipaleEtablissement",
                "trancheEffectifsEtablissement",
                "etatAdministratifEtablissement",
                "etablissementSiege",
            ),
        ),
        ExtractSpec(
            "postes",
            "postes_",
            (
                "SIRET",
                "SEXE",
                "AGE",
                "PCS",
                "CPFD",
                "CONT_TRAV",
                "TYP_EMPLOI",
                "FILT",
                "DATDEB",
                "DATFIN",
                "DUREE",
                "NBHEUR",
                "EQTP",
                "S_BRUT",
                "S_NET",
                "DEPT",
                "REGT",
            ),
        ),
        ExtractSpec(
            "effectifs_trimestriels",
            "effectifs_trimestriels",
            ("siret", "trimestre", "effectif_fin_trimestre", "masse_salariale"),
        ),
    )
}

_SUFFIXES = (".csv", ".csv.gz", ".zip", ".parquet")
_TEMPORARY = (
    ("VIEW", "_brut"),
    ("TABLE", "_lu"),
    ("TABLE", "_seuils"),
    ("TABLE", "_rejets"),
    ("TABLE", "_entete"),
    ("TABLE", "_csv_rejets"),
    ("TABLE", "_csv_scans"),
    ("TABLE", "_lu_ordonne"),
)


@dataclass
class ExtractReport:
    """What was read from one extract and what happened to its rows."""

    kind: str
    file: str
    format: str
    """``csv`` or ``parquet``."""
    encoding: str | None
    """``utf-8``, ``utf-8-sig`` (with BOM) or ``cp1252``; ``None`` for Parquet."""
    separator: str | None
    compression: str | None
    """``gzip``, ``zip`` or ``None``."""
    rows_read: int = 0
    """Data rows in the file (lines after the header, blank lines excepted), readable or not."""
    rows_loaded: int = 0
    """Rows in the staging table."""
    quarantined: dict[str, int] = field(default_factory=dict)
    """Quarantine rows by motif (rejected and kept-flagged alike)."""
    rows_rejected: int = 0
    """Rows left out of staging (``rows_read - rows_loaded``)."""
    missing_optional: list[str] = field(default_factory=list)
    blank_lines: int = 0
    last_column: str | None = None
    """Last header column: the one named when a line has too few fields."""

    def to_metadata(self) -> dict[str, object]:
        """Flat, JSON-friendly description (Dagster metadata values)."""
        return {
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding or "",
            "separator": self.separator or "",
            "compression": self.compression or "",
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected,
            "quarantined": dict(self.quarantined),
            "missing_optional": list(self.missing_optional),
        }


@dataclass
class IngestReport:
    """The result of :func:`ingest_vintage`: one :class:`ExtractReport` per extract read."""

    raw_dir: str
    extracts: dict[str, ExtractReport] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.extracts.values())

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.extracts.values())

    @property
    def quarantine_rate(self) -> float:
        """Share of the rows read that were left out of staging (0 when nothing was read)."""
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def to_metadata(self) -> dict[str, object]:
        """Metadata for a Dagster ``MaterializeResult``: totals plus one entry per extract."""
        meta: dict[str, object] = {
            "raw_dir": self.raw_dir,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "quarantine_rate": round(self.quarantine_rate, 6),
        }
        for kind, rep in self.extracts.items():
            meta[kind] = rep.to_metadata()
        return meta

    def summary(self) -> str:
        """A few lines of French-friendly text for logs and the CLI."""
        lines = [f"Extraits lus dans {self.raw_dir} :"]
        for kind, r in self.extracts.items():
            how = r.format if r.format == "parquet" else f"{r.encoding}, sep {r.separator!r}"
            if r.compression:
                how += f", {r.compression}"
            lines.append(
                f"  {kind}: {r.file} ({how}) — {r.rows_read} lues, {r.rows_loaded} chargées, "
                f"{r.rows_rejected} rejetées"
            )
            for motif, n in sorted(r.quarantined.items()):
                lines.append(f"      {motif}: {n}")
            if r.missing_optional:
                lines.append(f"      colonnes facultatives absentes : {', '.join(r.missing_optional)}")
        lines.append(f"  taux de quarantaine : {self.quarantine_rate:.3%}")
        return "\n".join(lines)


def quarantine_rate(report: IngestReport) -> float:
    """Share of the rows read that were rejected into quarantine, over all extracts."""
    return report.quarantine_rate


# --------------------------------------------------------------------------------------------- finding files


def find_extract(raw_dir: Path, kind: str) -> Path:
    """The one file of ``kind`` in ``raw_dir``; :class:`ExtractError` if there is none or several."""
    spec = EXTRACTS[kind]
    raw_dir = Path(raw_dir)
    found = sorted(
        p for p in raw_dir.glob(f"{spec.pattern}*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)
    )
    expected = f"one file {spec.pattern}*{{{','.join(_SUFFIXES)}}}"
    if not found:
        raise ExtractError(str(raw_dir / f"{spec.pattern}*"), expected=expected, found="no such file")
    if len(found) > 1:
        raise ExtractError(str(raw_dir), expected=expected, found=", ".join(p.name for p in found))
    return found[0]


def find_extracts(raw_dir: Path, *, require_quarterly: bool = False) -> dict[str, Path]:
    """The vintage's files by extract kind. The three annual extracts are required; the quarterly
    headcounts only when ``require_quarterly``. A missing required file raises :class:`ExtractError`."""
    paths: dict[str, Path] = {}
    for kind in ("unites_legales", "etablissements", "postes", "effectifs_trimestriels"):
        try:
            paths[kind] = find_extract(raw_dir, kind)
        except ExtractError:
            if kind == "effectifs_trimestriels" and not require_quarterly:
                continue
            raise
    return paths


def describe_files(paths: Iterable[Path]) -> list[dict]:
    """Name, size in bytes and SHA-256 of each input file (for the manifest and the Dagster UI)."""
    out = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out.append({"name": Path(path).name, "size": Path(path).stat().st_size, "sha256": digest.hexdigest()})
    return out


# ------------------------------------------------------------------------------------------------- ingestion


def ingest_vintage(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, *, require_quarterly: bool = False
) -> IngestReport:
    """Read the vintage folder ``raw_dir`` into ``staging.*`` and ``staging.quarantaine``.

    The three annual extracts are required; ``effectifs_trimestriels`` is read when present and required
    only when ``require_quarterly`` (the baromètre). A missing file or required column raises
    :class:`ExtractError` before any staging table is replaced.
    """
    raw_dir = Path(raw_dir)
    paths = find_extracts(raw_dir, require_quarterly=require_quarterly)
    report = IngestReport(raw_dir=str(raw_dir))
    prepare_staging(con)
    for kind, path in paths.items():
        report.extracts[kind] = read_extract(con, kind, path)
    return report


def prepare_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``staging`` schema, an empty ``staging.quarantaine``, and the reference tables the checks
    need (``ref.naf``, ``ref.communes``) when they are not loaded yet."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    ensure_reference(con)
    run_sql(con, "staging/quarantaine.sql")


def ensure_reference(con: duckdb.DuckDBPyConnection) -> None:
    """Register ``ref.naf`` and ``ref.communes`` from :mod:`observatory.reference` if they are missing."""
    from observatory import reference

    con.execute("CREATE SCHEMA IF NOT EXISTS ref")
    existing = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ref'"
        ).fetchall()
    }
    for name, frame in (("naf", reference.naf), ("communes", reference.communes)):
        if name not in existing:
            rel = con.from_df(frame())
            rel.create(f"ref.{name}")


def read_extract(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: Path,
    *,
    encoding: str | None = None,
    separator: str | None = None,
) -> ExtractReport:
    """Read one extract file into ``staging.<kind>``, appending its problems to ``staging.quarantaine``.

    ``encoding`` (``utf-8`` or ``cp1252``) and ``separator`` (``,`` or ``;``) are detected when not given.
    Raises :class:`ExtractError` when the file cannot be used at all (missing, empty, no data row, wrong
    separator or missing required column, bytes that are neither UTF-8 nor Windows-1252).
    """
    if kind not in EXTRACTS:
        raise ValueError(f"unknown extract kind {kind!r}; expected one of {sorted(EXTRACTS)}")
    path = Path(path)
    if not path.is_file():
        raise ExtractError(str(path), expected="an existing file", found="no such file")
    spec = EXTRACTS[kind]
    ensure_staging(con)
    if path.name.lower().endswith(".parquet"):
        rep = _load_parquet(con, spec, path)
    else:
        rep = _load_csv(con, spec, path, encoding=encoding, separator=separator)
    run_sql(
        con,
        f"staging/{kind}.sql",
        {"extrait": kind, "fichier": rep.file, "derniere_colonne": rep.last_column},
    )
    for kind_, name in _TEMPORARY:
        con.execute(f"DROP {kind_} IF EXISTS {name}")
    _fill_counts(con, rep)
    return rep


def ensure_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Make sure the quarantine table and the reference tables exist (without emptying them)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'staging' AND table_name = 'quarantaine'"
    ).fetchone()[0]
    if not exists:
        prepare_staging(con)
    else:
        ensure_reference(con)


def _fill_counts(con: duckdb.DuckDBPyConnection, rep: ExtractReport) -> None:
    rep.rows_loaded = con.execute(f"SELECT count(*) FROM staging.{rep.kind}").fetchone()[0]
    rep.rows_rejected = rep.rows_read - rep.rows_loaded
    rows = con.execute(
        "SELECT motif, count(*) FROM staging.quarantaine WHERE extrait = $extrait AND fichier = $fichier "
        "GROUP BY motif ORDER BY motif",
        {"extrait": rep.kind, "fichier": rep.file},
    ).fetchall()
    rep.quarantined = {motif: n for motif, n in rows}


# --------------------------------------------------------------------------------------------------- Parquet


def _load_parquet(con: duckdb.DuckDBPyConnection, spec: ExtractSpec, path: Path) -> ExtractReport:
    try:
        names = [
            r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()
        ]
    except duckdb.Error as exc:
        raise ExtractError(path.name, expected="a readable Parquet file", found=_first_line(exc)) from None
    positions = _match_columns(spec, names, path.name, line=None)
    select = _select_list(spec, positions, names)
    rep = ExtractReport(spec.kind, path.name, "parquet", None, None, None)
    rep.missing_optional = [c for c in spec.optional if c not in positions]
    # A relation, not SQL text: a view cannot hold bound parameters, and the path stays out of the SQL.
    rel = con.read_parquet(str(path), file_row_number=True).project(
        f"{select}, CAST(file_row_number + 1 AS BIGINT) AS _ligne, true AS _complet"
    )
    rel.create_view("_brut", replace=True)
    _empty_rejects(con)
    rep.rows_read = con.execute("SELECT count(*) FROM _brut").fetchone()[0]
    if rep.rows_read == 0:
        raise ExtractError(path.name, line=None, expected="at least one data row", found="no rows")
    return rep


def _select_list(spec: ExtractSpec, positions: dict[str, int], names: list[str]) -> str:
    """``CAST("<source name>" AS VARCHAR) AS "<column>"`` for each column read; NULL for absent optionals.

    Source names come from the file and are quoted as identifiers (double quotes doubled)."""
    parts = []
    for col in spec.columns:
        if col in positions:
            src = names[positions[col]].replace('"', '""')
            parts.append(f'CAST("{src}" AS VARCHAR) AS "{col}"')
        else:
            parts.append(f'CAST(NULL AS VARCHAR) AS "{col}"')
    return ", ".join(parts)


def _empty_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rejets "
        "(ligne BIGINT, colonne VARCHAR, valeur VARCHAR, motif VARCHAR, _fichier VARCHAR)"
    )


# ------------------------------------------------------------------------------------------------------- CSV


@dataclass
class _Scan:
    """What a byte-level pass over the decompressed file found."""

    encoding: str
    header: str
    n_lines: int
    blank_lines: list[int]


def _compression(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".zip"):
        return "zip"
    return None


@contextmanager
def _open_bytes(path: Path) -> Iterator[BinaryIO]:
    """The decompressed bytes of a ``.csv``, ``.csv.gz`` or single-CSV ``.zip`` file."""
    comp = _compression(path)
    try:
        if comp == "gzip":
            with gzip.open(path, "rb") as f:
                yield f
        elif comp == "zip":
            with zipfile.ZipFile(path) as z:
                members = [m for m in z.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise ExtractError(
                        path.name,
                        expected="a zip archive holding one CSV file",
                        found=f"{len(members)} files",
                    )
                with z.open(members[0]) as f:
                    yield f
        else:
            with open(path, "rb") as f:
                yield f
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise ExtractError(path.name, expected=f"a readable {comp or 'CSV'} file", found=str(exc)) from None


def _load_csv(
    con: duckdb.DuckDBPyConnection,
    spec: ExtractSpec,
    path: Path,
    *,
    encoding: str | None,
    separator: str | None,
) -> ExtractReport:
    comp = _compression(path)
    with ExitStack() as stack:
        tmpdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="observatory-ingest-")))
        scan, readable = _prepare_csv(path, comp, encoding, tmpdir)
        sep = separator or _detect_separator(scan.header, spec, path.name)
        names = _split_header(scan.header, sep)
        positions = _match_columns(spec, names, path.name, line=1)
        if scan.n_lines <= 1 + len(scan.blank_lines):
            raise ExtractError(path.name, line=2, expected="at least one data row", found="end of file")
        rep = ExtractReport(spec.kind, path.name, "csv", scan.encoding, sep, comp)
        rep.missing_optional = [c for c in spec.optional if c not in positions]
        rep.blank_lines = len(scan.blank_lines)
        rep.last_column = names[-1]
        _read_csv_table(con, spec, readable, path.name, names, positions, sep, scan)
    rep.rows_read = (
        con.execute("SELECT count(*) FROM _lu").fetchone()[0]
        + con.execute("SELECT count(DISTINCT ligne) FROM _rejets").fetchone()[0]
    )
    return rep


def _prepare_csv(path: Path, comp: str | None, encoding: str | None, tmpdir: Path) -> tuple[_Scan, Path]:
    """Scan the file once (twice for Windows-1252) and give a UTF-8 file DuckDB can read.

    Plain and gzip UTF-8 files are read in place; zip members are extracted and Windows-1252 files are
    transcoded to UTF-8 in ``tmpdir``.
    """
    enc = _normalise_encoding(encoding, path.name) if encoding else None
    if enc in (None, "utf-8"):
        target = tmpdir / "extrait.csv" if comp == "zip" else None
        with _open_bytes(path) as src:
            scan = _scan(src, path.name, "utf-8" if enc else None, target)
        if scan is not None:
            return scan, target or path
    target = tmpdir / "extrait.csv"
    with _open_bytes(path) as src:
        scan = _scan(src, path.name, "cp1252", target)
    return scan, target


def _normalise_encoding(encoding: str, file: str) -> str:
    key = encoding.lower().replace("_", "-")
    if key in ("utf-8", "utf8", "utf-8-sig"):
        return "utf-8"
    if key in ("cp1252", "windows-1252", "latin-1", "latin1", "iso-8859-1", "iso-8859-15"):
        return "cp1252"
    raise ExtractError(file, expected="encoding utf-8 or cp1252", found=encoding)


def _scan(src: BinaryIO, file: str, encoding: str | None, target: Path | None) -> _Scan | None:
    """One pass over the bytes: header, line count, blank lines, encoding; copy (transcoded) to ``target``.

    ``encoding=None`` detects: the file is UTF-8 unless an invalid UTF-8 sequence comes before any valid
    non-ASCII one, in which case ``None`` is returned and the caller rescans as Windows-1252. In a file
    detected as UTF-8, lines with invalid bytes are left to the CSV reader, which quarantines them.
    """
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp = codecs.getincrementaldecoder("cp1252")() if encoding == "cp1252" else None
    checking_utf8 = encoding is None
    seen_multibyte = False
    bom = False
    head = b""
    header: str | None = None
    n_newlines = 0
    blank: list[int] = []
    prev_tail = b""
    last_byte = b""
    first = True
    with ExitStack() as stack:
        out = stack.enter_context(open(target, "wb")) if target is not None else None
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            if first:
                first = False
                if chunk.startswith(codecs.BOM_UTF8):
                    bom = True
                    if cp is not None:
                        raise ExtractError(file, line=1, expected="Windows-1252 text", found="a UTF-8 BOM")
            if checking_utf8:
                try:
                    utf8.decode(chunk)
                    seen_multibyte = seen_multibyte or not chunk.isascii()
                except UnicodeDecodeError as exc:
                    if seen_multibyte or not chunk[: exc.start].isascii():
                        checking_utf8 = False
                    else:
                        return None
            if cp is not None:
                try:
                    text = cp.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = n_newlines + chunk[: exc.start].count(b"\n") + 1
                    raise ExtractError(
                        file,
                        line=line,
                        expected="UTF-8 or Windows-1252 text",
                        found=f"byte 0x{chunk[exc.start]:02x}",
                    ) from None
                if out is not None:
                    out.write(text.encode("utf-8"))
            elif out is not None:
                out.write(chunk)
            if header is None:
                head += chunk[: MAX_LINE_BYTES + 1]
                end = head.find(b"\n")
                if end >= 0 or len(head) > MAX_LINE_BYTES:
                    header = _decode_header(head[: end if end >= 0 else MAX_LINE_BYTES], file, encoding)
            blank.extend(_blank_lines(prev_tail + chunk, len(prev_tail), n_newlines - prev_tail.count(b"\n")))
            n_newlines += chunk.count(b"\n")
            prev_tail = (prev_tail + chunk)[-2:]
            last_byte = chunk[-1:]
    if first:
        raise ExtractError(file, line=1, expected="a header line", found="an empty file")
    if header is None:
        header = _decode_header(head, file, encoding)
    n_lines = n_newlines + (0 if last_byte == b"\n" else 1)
    enc = encoding or ("utf-8-sig" if bom else "utf-8")
    return _Scan(enc, header, n_lines, blank)


def _blank_lines(buf: bytes, offset: int, newlines_before_buf: int) -> list[int]:
    """Line numbers of the empty lines (``\\n\\n`` or ``\\n\\r\\n``) ending in ``buf[offset:]``.

    ``buf[:offset]`` is the carried-over tail of the previous chunk, ``newlines_before_buf`` the number of
    newlines in the file before ``buf``. Blank lines are rare, so this loops over them only.
    """
    starts = []
    for pattern in (b"\n\n", b"\n\r\n"):
        i = buf.find(pattern)
        while i >= 0:
            if i + len(pattern) - 1 >= offset:
                starts.append(i)
            i = buf.find(pattern, i + 1)
    found, counted, pos = [], newlines_before_buf, 0
    for i in sorted(starts):
        counted += buf.count(b"\n", pos, i + 1)
        pos = i + 1
        found.append(counted + 1)  # the newline at i ends line `counted`; the next line is empty
    return found


def _decode_header(raw: bytes, file: str, encoding: str | None) -> str:
    raw = raw.removeprefix(codecs.BOM_UTF8).rstrip(b"\r")
    try:
        return raw.decode("cp1252" if encoding == "cp1252" else "utf-8")
    except UnicodeDecodeError:
        raise ExtractError(file, line=1, expected="a text header line", found=repr(raw[:60])) from None


def _detect_separator(header: str, spec: ExtractSpec, file: str) -> str:
    """``,`` or ``;``: the one that splits the header into the most required columns."""
    best, best_hits = ",", -1
    for sep in (",", ";"):
        names = {n.lower() for n in _split_header(header, sep)}
        hits = sum(c.lower() in names for c in spec.required)
        if hits > best_hits:
            best, best_hits = sep, hits
    if best_hits == 0:
        raise ExtractError(
            file,
            line=1,
            column=spec.required[0],
            expected=f"a header separated by ',' or ';' naming {', '.join(spec.required)}",
            found=header[:120],
        )
    return best


def _split_header(header: str, sep: str) -> list[str]:
    return [n.strip().strip('"').strip() for n in header.split(sep)]


def _match_columns(spec: ExtractSpec, names: list[str], file: str, *, line: int | None) -> dict[str, int]:
    """Position of each column of ``spec`` in ``names`` (exact name, else case-insensitive); a missing
    required column is an :class:`ExtractError` naming it."""
    exact = {n: i for i, n in reversed(list(enumerate(names)))}
    folded = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    positions = {}
    for col in spec.columns:
        pos = exact.get(col, folded.get(col.lower()))
        if pos is not None:
            positions[col] = pos
        elif col in spec.required:
            raise ExtractError(
                file,
                line=line,
                column=col,
                expected=f"a column '{col}' in the header",
                found=", ".join(names)[:200],
            )
    return positions


def _read_csv_table(
    con: duckdb.DuckDBPyConnection,
    spec: ExtractSpec,
    readable: Path,
    file: str,
    names: list[str],
    positions: dict[str, int],
    sep: str,
    scan: _Scan,
) -> None:
    """Create the temporary tables ``_brut`` (readable rows, text columns, ``_ligne``, ``_complet``) and
    ``_rejets`` (lines the CSV parser refused, with line, column, raw text and motif).

    Columns get generated names ``c1``…``cN`` (nothing from the file is written into SQL). Line numbers: rows
    come back in file order; a row's line is its rank plus the header plus the lines skipped before it (blank
    lines, found by the byte scan, and refused lines, reported by the parser with their line).
    """
    generated = [f"c{i + 1}" for i in range(len(names))]
    columns = "{" + ", ".join(f"'{g}': 'VARCHAR'" for g in generated) + "}"
    select = ", ".join(
        f'{generated[positions[c]]} AS "{c}"' if c in positions else f'CAST(NULL AS VARCHAR) AS "{c}"'
        for c in spec.columns
    )
    last = generated[-1]
    con.execute("DROP TABLE IF EXISTS _csv_rejets")
    con.execute("DROP TABLE IF EXISTS _csv_scans")
    options = (
        f"header = true, auto_detect = false, columns = {columns}, delim = $sep, quote = '\"', "
        "escape = '\"', nullstr = $nul, null_padding = true, strict_mode = true, ignore_errors = true, "
        f"store_rejects = true, rejects_table = '_csv_rejets', rejects_scan = '_csv_scans', "
        f"max_line_size = {MAX_LINE_BYTES}, compression = $comp, encoding = 'utf-8'"
    )
    params = {
        "p": str(readable),
        "sep": sep,
        "nul": _NULL_SENTINEL,
        "comp": "gzip" if readable.name.lower().endswith(".gz") else "none",
    }
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lu AS SELECT {select}, {last} IS NOT NULL AS _complet, "
            f"row_number() OVER () AS _rang FROM read_csv($p, {options})",
            params,
        )
    except duckdb.Error as exc:
        raise ExtractError(file, expected="a readable CSV file", found=_first_line(exc)) from None
    con.execute("CREATE OR REPLACE TEMP TABLE _entete (nom_genere VARCHAR, nom VARCHAR)")
    con.executemany("INSERT INTO _entete VALUES (?, ?)", list(zip(generated, names, strict=True)))
    run_sql(con, "staging/lignes_sautees.sql", {"blancs": scan.blank_lines})
    # _brut is in line order (the staging SQL may rely on it: a single-table SELECT keeps the order). With no
    # skipped line it is a plain projection of _lu; otherwise the ASOF join (which does not keep the order)
    # is materialised sorted on _ligne.
    if con.execute("SELECT count(*) FROM _seuils").fetchall()[0][0] == 0:
        con.sql(
            "SELECT * EXCLUDE (_rang), CAST(_rang + 1 AS BIGINT) AS _ligne FROM _lu"
        ).create_view("_brut", replace=True)
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _lu_ordonne AS "
            "SELECT l.* EXCLUDE (_rang), CAST(l._rang + 1 + coalesce(s.j, 0) AS BIGINT) AS _ligne "
            "FROM _lu AS l ASOF LEFT JOIN _seuils AS s ON l._rang > s.v ORDER BY _ligne"
        )
        con.sql("SELECT * FROM _lu_ordonne").create_view("_brut", replace=True)
    run_sql(con, "staging/rejets_csv.sql", {"fichier": file, "derniere_colonne": names[-1]})


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
