"""Cut a national set of synthetic extracts down to some régions, as a regional observatory receives them.

INSEE delivers a CRESS the extracts of its own région: the establishments located there, their legal units, the
jobs whose workplace is there, the quarterly headcounts of those establishments. :func:`keep_regions` rewrites
the four files of ``observatory generate`` that way, in place, line by line (the kept lines are byte-identical):

- establishments: those whose commune (COG) lies in one of the régions; one whose commune is unknown to the COG
  (a dirty row, quarantined by the pipeline) when its legal unit has an establishment kept;
- legal units: those with an establishment kept;
- jobs (*postes*): those whose workplace région (``REGT``) is one of the régions;
- quarterly headcounts: those of the establishments kept (and those of a SIRET no establishment has: dirty rows).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from observatory.errors import ObservatoryError

ETABLISSEMENTS = "StockEtablissement_utf8.csv"
UNITES_LEGALES = "StockUniteLegale_utf8.csv"


def _lines(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each line of a CSV file with its fields (the first is the header)."""
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            yield line, next(csv.reader([line]))


def _column(path: Path, header: list[str], name: str) -> int:
    if name not in header:
        raise ObservatoryError(f"{path.name}, line 1: no column {name!r} to cut the extract by région")
    return header.index(name)


def _rewrite(path: Path, columns: tuple[str, ...], keep: Callable[..., bool]) -> int:
    """Rewrite ``path`` with its header and the lines whose ``columns`` values ``keep`` accepts; returns the
    lines kept."""
    tmp = path.with_name(f".{path.name}.regional")
    n = 0
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        lines = _lines(path)
        header_line, header = next(lines)
        out.write(header_line)
        idx = [_column(path, header, c) for c in columns]
        for line, fields in lines:
            if keep(*(fields[i] for i in idx)):
                out.write(line)
                n += 1
    os.replace(tmp, path)
    return n


def _filter_parquet(path: Path, column: str, keep) -> int:
    table = pq.read_table(path)
    if column not in table.column_names:
        raise ObservatoryError(f"{path.name}: no column {column!r} to cut the extract by région")
    table = table.filter(keep(table[column].cast(pa.string())))  # dictionary-encoded in large extracts
    pq.write_table(table, path)
    return table.num_rows


def _communes():
    from observatory.reference.cog import communes

    return communes()


def check_regions(regions: Iterable[str]) -> set[str]:
    """The région codes asked for; raises :class:`ObservatoryError` naming those the COG does not know."""
    known = set(_communes()["code_region"].dropna())
    wanted = {str(r) for r in regions}
    unknown = sorted(wanted - known)
    if unknown:
        raise ObservatoryError(f"unknown région code(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return wanted


def keep_regions(raw_dir: str | Path, regions: Iterable[str]) -> dict[str, int]:
    """Cut the extracts of ``raw_dir`` (``data_raw/<millesime>``) to ``regions`` (COG codes), in place.

    Returns the rows kept per file name. Raises :class:`ObservatoryError` for an unknown région code.
    """
    raw = Path(raw_dir)
    com = _communes()
    wanted = check_regions(regions)
    region_of = dict(zip(com["code_commune"], com["code_region"], strict=True))

    # First pass over the establishments: where each is, then the units with one establishment in the régions.
    p_etab = raw / ETABLISSEMENTS
    lines = _lines(p_etab)
    _, header = next(lines)
    i_com = _column(p_etab, header, "codeCommuneEtablissement")
    i_siret, i_siren = _column(p_etab, header, "siret"), _column(p_etab, header, "siren")
    located: list[tuple[str, str, str | None]] = []
    for _, fields in lines:
        located.append((fields[i_siret], fields[i_siren], region_of.get(fields[i_com])))
    units = {siren for _, siren, region in located if region in wanted}
    # kept: located in the régions, or nowhere known and of a unit kept (a dirty row, quarantined downstream)
    etab_kept = {siret for siret, siren, region in located if siren in units and (region in wanted or region is None)}
    every = {siret for siret, _, _ in located}

    kept = {
        ETABLISSEMENTS: _rewrite(p_etab, ("siret",), lambda siret: siret in etab_kept),
        UNITES_LEGALES: _rewrite(raw / UNITES_LEGALES, ("siren",), lambda siren: siren in units),
    }
    regions_array = pa.array(sorted(wanted), type=pa.string())
    kept_array, every_array = (pa.array(sorted(x), type=pa.string()) for x in (etab_kept, every))
    for path in sorted(raw.iterdir()):
        if path.name.startswith("postes_") and path.suffix == ".parquet":
            kept[path.name] = _filter_parquet(path, "REGT", lambda a: pc.is_in(a, regions_array))
        elif path.name.startswith("postes_"):
            kept[path.name] = _rewrite(path, ("REGT",), lambda region: region in wanted)
        elif path.name.startswith("effectifs_trimestriels") and path.suffix == ".parquet":
            kept[path.name] = _filter_parquet(
                path, "siret", lambda a: pc.or_(pc.is_in(a, kept_array), pc.invert(pc.is_in(a, every_array)))
            )
        elif path.name.startswith("effectifs_trimestriels"):
            kept[path.name] = _rewrite(path, ("siret",), lambda siret: siret in etab_kept or siret not in every)
    return kept
