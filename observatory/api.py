"""The researchers' API: read the published indicator table (never the warehouse).

Every reader copies the published Parquet file into memory before querying it, so no file stays open and a
pipeline run can replace the publication while a notebook is working::

    import observatory as obs
    obs.vintages()                                   # [2023]
    obs.table(2023, niveau="region", indicateur="effectif_31_12", champ="ess")
    obs.compare("18", "departement", "part_emploi_total")   # the département, its region, France
    obs.geometries("departement", indicateur="part_emploi_total")

The output folder is ``output_dir`` when given, else ``$OBSERVATORY_OUTPUT_DIR`` (default ``output``); the
vintage is the latest one published when ``millesime`` is None. Secret figures have ``valeur`` empty and a
``statut`` other than ``publie``.
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from observatory.config import Settings

TABLE = Path("tables") / "indicateurs.parquet"


def _output_dir(output_dir) -> Path:
    return Path(output_dir) if output_dir is not None else Settings().output_dir


def vintages(output_dir: str | Path | None = None) -> list[int]:
    """The vintages with a published indicator table, oldest first."""
    root = _output_dir(output_dir)
    if not root.exists():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / TABLE).exists())


def read_indicators(where: str | Path, filters=None) -> pd.DataFrame:
    """The indicator table of a vintage folder (``output/<millesime>``) or of an ``indicateurs.parquet`` file:
    the one reader every product and notebook goes through. One read of the file (no handle kept: a run may
    replace it), codes kept as text, ``filters`` as pyarrow's (``[("indicateur", "==", "effectif_31_12")]``)."""
    path = Path(where)
    data = (path / TABLE if path.is_dir() else path).read_bytes()
    return pq.read_table(io.BytesIO(data), filters=filters).to_pandas()


def _arrow(millesime: int | None, output_dir) -> pa.Table:
    root = _output_dir(output_dir)
    if millesime is None:
        published = vintages(root)
        if not published:
            raise FileNotFoundError(f"no published indicator table under {root}")
        millesime = published[-1]
    data = (root / str(millesime) / TABLE).read_bytes()  # one read, no handle kept: the run may replace it
    return pq.read_table(io.BytesIO(data))


def open_table(millesime: int | None = None, output_dir: str | Path | None = None) -> duckdb.DuckDBPyRelation:
    """The indicator table as a DuckDB relation on a private in-memory connection (SQL-friendly)."""
    con = duckdb.connect(":memory:")
    return con.from_arrow(_arrow(millesime, output_dir))


def table(millesime: int | None = None, output_dir: str | Path | None = None, **filters) -> pd.DataFrame:
    """The indicator table as a DataFrame, filtered on columns: ``champ="ess"`` or ``code=["18", "36"]``."""
    df = _arrow(millesime, output_dir).to_pandas()
    for column, wanted in filters.items():
        if column not in df.columns:
            raise KeyError(f"unknown column {column!r}; columns are {list(df.columns)}")
        values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
        df = df[df[column].isin(values)]
    return df.reset_index(drop=True)


def territory(
    code: str, niveau: str, millesime: int | None = None, output_dir=None, **filters
) -> pd.DataFrame:
    """Every published figure of one territory (``niveau``: france, region, departement, epci)."""
    return table(millesime, output_dir, code=str(code), niveau=niveau, **filters)


def compare(
    code: str,
    niveau: str,
    indicateur: str,
    champ: str = "ess",
    millesime: int | None = None,
    output_dir=None,
    **filters,
) -> pd.DataFrame:
    """One indicator for a territory, its region (for a département) and France, without breakdown.

    ``filters`` select a breakdown (e.g. ``secteur="SAN"``); the others are at their total value.
    """
    from observatory.reference.cog import departements

    keys = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes"}
    keys.update(filters)
    places = [(niveau, str(code))]
    if niveau == "departement":
        region = departements().set_index("code_departement").code_region.get(str(code))
        if region is not None:
            places.append(("region", region))
    places.append(("france", "FR"))
    df = table(millesime, output_dir, indicateur=indicateur, champ=champ, **keys)
    rows = [df[(df.niveau == n) & (df.code == c)] for n, c in places]
    return pd.concat(rows, ignore_index=True)


def geometries(
    niveau: str,
    millesime: int | None = None,
    output_dir=None,
    cache_dir=None,
    **filters,
):
    """Territory geometries (GeoDataFrame, column ``code``) joined to the filtered indicator rows."""
    from observatory.reference.geo import geometries as load_geometries

    gdf = load_geometries(niveau, cache_dir=cache_dir)
    rows = table(millesime, output_dir, niveau=niveau, **filters)
    return gdf.merge(rows, on="code", how="left")
