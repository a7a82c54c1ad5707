"""The researchers' API reads the published Parquet only, into memory."""

from __future__ import annotations

import os
import sys
import types

import geopandas as gpd
import pytest
from shapely.geometry import Point

import observatory as obs


@pytest.fixture(scope="module")
def out(micro_published):
    return micro_published.output_dir


def test_vintages_and_table_filters(out):
    assert obs.vintages(out) == [2023]
    df = obs.table(2023, out, niveau="region", indicateur="effectif_31_12", champ=["ess", "public"])
    assert set(df.niveau) == {"region"} and set(df.champ) == {"ess", "public"}
    with pytest.raises(KeyError):
        obs.table(None, out, region="11")


def test_open_table_is_an_in_memory_relation(out):
    rel = obs.open_table(output_dir=out)
    n = rel.count("*").fetchall()[0][0]
    assert n == len(obs.table(output_dir=out))


def test_reading_holds_no_file(out, tmp_path):
    rel = obs.open_table(output_dir=out)
    path = out / "2023" / "tables" / "indicateurs.parquet"
    replacement = tmp_path / "x.parquet"
    replacement.write_bytes(path.read_bytes())
    os.replace(replacement, path)  # what a pipeline run does while a notebook is open
    assert rel.count("*").fetchall()[0][0] > 0


def test_territory_and_compare(out):
    t = obs.territory("18", "departement", output_dir=out, champ="ess")
    assert set(t.code) == {"18"} and "rang_region" in set(t.indicateur)
    c = obs.compare("18", "departement", "effectif_31_12", output_dir=out)
    assert list(zip(c.niveau, c.code)) == [("departement", "18"), ("region", "24"), ("france", "FR")]


def test_geometries_joined(out, monkeypatch):
    fake = types.ModuleType("observatory.reference.geo")
    fake.geometries = lambda niveau, cache_dir=None: gpd.GeoDataFrame(
        {"code": ["11", "24", "93"]}, geometry=[Point(0, 0), Point(1, 1), Point(2, 2)], crs="EPSG:2154"
    )
    monkeypatch.setitem(sys.modules, "observatory.reference.geo", fake)
    g = obs.geometries(
        "region",
        output_dir=out,
        indicateur="effectif_31_12",
        champ="ess",
        famille="toutes",
        secteur="tous",
        tranche="toutes",
        sexe="tous",
        pcs="toutes",
    )
    assert len(g) == 3 and g.geometry.notna().all() and g.valeur.notna().any()
