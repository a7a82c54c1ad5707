"""Maps: classes (never empty), insets, the Paris zoom with the same breaks, secret hatching, n.d., files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from observatory.errors import PublicationError
from observatory.publish import map_specs, maps
from tests.fixtures_maps import fake_indicator_table, secret_departements

SPEC = {s.name: s for s in map_specs.MAPS}


@pytest.fixture(scope="module")
def table():
    return fake_indicator_table()


@pytest.fixture(scope="module")
def geo():
    """Geometries from the shared cache (``Settings().cache_dir``), built once and reused across runs."""
    return maps._Geo()


def _axes(fig):
    return {ax.get_label(): ax for ax in fig.axes} | {
        child.get_label(): child for ax in fig.axes for child in ax.child_axes
    }


def _collections(ax, gid):
    return [c for c in ax.collections if c.get_gid() == gid]


def _facecolors(ax):
    out = set()
    for c in _collections(ax, "valeur"):
        out |= {to_hex(fc) for fc in c.get_facecolors()}
    return out


def _legend_texts(fig):
    leg = next(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)
    return leg.get_title().get_text(), [t.get_text() for t in leg.get_texts()]


def test_indicator_values_pick_the_total_cell(table):
    v = map_specs.indicator_values(table, "part_emploi_total", "departement")
    assert len(v) == 101
    assert v["valeur"].max() < 99  # the 'association' family distractor (99 %) is not picked up
    assert set(v.loc[v["valeur"].isna(), "code"]) == secret_departements("part_emploi_total")


def test_classify_never_makes_an_empty_class():
    rng = np.random.default_rng(1)
    values = rng.uniform(5, 20, 101)
    for method in ("fisher_jenks", "quantiles"):
        c = map_specs.classify(values, k=5, method=method)
        assert 4 <= c.k <= 6 and min(c.counts) >= 1 and sum(c.counts) == 101
        assert np.all(np.diff(c.bounds) > 0)
    # Heavy ties: quantiles cannot make 4-6 distinct classes; natural breaks are used instead, none empty.
    tied = [1.0] * 60 + [2.0] * 20 + [3.0, 4.0, 5.0, 6.0, 7.0] * 4
    c = map_specs.classify(tied, k=5, method="quantiles")
    assert c.method == "fisher_jenks" and min(c.counts) >= 1 and 4 <= c.k <= 6
    assert (np.bincount(c.classify(tied), minlength=c.k) >= 1).all()
    with pytest.raises(PublicationError, match="distinct value"):
        map_specs.classify([1.0, 1.0, 2.0, 2.0, 3.0, np.nan])


def test_class_labels_are_in_french_format():
    c = map_specs.Classes(bounds=(7.04, 9.1, 11.75, 13.9, 16.0), counts=(3, 4, 5, 6), method="fisher_jenks")
    assert c.labels()[0] == "de 7,0 à 9,1 (3)"
    assert c.labels()[1] == "plus de 9,1 à 11,8 (4)"
    # a class of one value (equal bounds) does not force 3 decimals on the whole legend
    one = map_specs.Classes(bounds=(2.64, 2.64, 7.56, 10.33, 13.56), counts=(1, 8, 7, 9), method="fisher_jenks")
    assert one.labels() == [
        "de 2,6 à 2,6 (1)",
        "plus de 2,6 à 7,6 (8)",
        "plus de 7,6 à 10,3 (7)",
        "plus de 10,3 à 13,6 (9)",
    ]
    assert list(c.classify([7.04, 9.1, 9.2, 16.0, np.nan])) == [0, 0, 1, 3, -1]


def test_departement_map(table, geo):
    spec = SPEC["part-ess-emploi-departements"]
    fig = maps.draw_map(table, spec, geo=geo)
    axes = _axes(fig)
    assert {"metropole", "paris", *(f"dom-{d}" for d in maps.DOM)} <= set(axes)

    values = map_specs.indicator_values(table, spec.indicateur, "departement")
    classes = map_specs.classify(values["valeur"])
    colors = map_specs.class_colors(spec.cmap, classes.k)
    title, labels = _legend_texts(fig)
    assert "Fisher-Jenks" in title and f"{classes.k} classes" in title
    class_labels = [t for t in labels if t.startswith(("de ", "plus de "))]
    assert len(class_labels) == classes.k == len(set(colors))
    assert "s : secret statistique" in labels
    # Every class is used on the map (never an empty class).
    used = _facecolors(axes["metropole"]) | set().union(*(_facecolors(axes[f"dom-{d}"]) for d in maps.DOM))
    assert used == set(colors)

    # Secret départements (Lozère, Corse-du-Sud) are hatched grey, one path each.
    secret = _collections(axes["metropole"], "secret")
    assert len(secret) == 1 and secret[0].get_hatch()
    assert len(secret[0].get_paths()) == len(secret_departements(spec.indicateur))

    # The Paris zoom uses the same breaks: each of 75, 92, 93, 94 has the colour of its national class.
    v = values.set_index("code")["valeur"]
    expected = {colors[i] for i in classes.classify(v[list(maps.PETITE_COURONNE)])}
    assert _facecolors(axes["paris"]) == expected

    # Overseas insets are drawn in their local projections.
    for dep in maps.DOM:
        ax = axes[f"dom-{dep}"]
        assert _collections(ax, "valeur") or _collections(ax, "secret") or _collections(ax, "nd")
        x0, x1 = ax.get_xlim()
        assert x1 - x0 < 400_000  # metres of a local projection, not Lambert-93 France


def test_mayotte_is_not_available_never_zero(table, geo):
    fig = maps.draw_map(table, SPEC["ecart-salarial-fh-ess-departements"], geo=geo)
    ax = _axes(fig)["dom-976"]
    assert _collections(ax, "nd") and not _collections(ax, "valeur")
    assert "n.d." in [t.get_text() for t in ax.texts]
    _, labels = _legend_texts(fig)
    assert "n.d. : non disponible" in labels
    # Guyane is secret for this indicator: hatched in its inset.
    assert _collections(_axes(fig)["dom-973"], "secret")


def test_circles_map(table, geo):
    fig = maps.draw_map(table, SPEC["effectifs-ess-departements"], geo=geo)
    axes = _axes(fig)
    circles = [c for c in axes["metropole"].collections if c.get_gid() == "cercles"]
    assert len(circles) == 1
    n_metro_published = 96 - len(secret_departements("effectif_31_12"))
    assert len(circles[0].get_offsets()) == n_metro_published
    sizes = circles[0].get_sizes()
    assert sizes.max() > 10 * sizes.min()  # area proportional to the count
    title, labels = _legend_texts(fig)
    assert "surface proportionnelle" in title
    assert any("\u00a0000" in t for t in labels)  # French thousands separator


def test_too_few_values_is_a_clear_error(table, geo):
    t = table.copy()
    mask = (t["indicateur"] == "part_emploi_total") & (t["niveau"] == "departement")
    t.loc[mask, "valeur"] = np.where(t.loc[mask, "valeur"].notna(), 10.0, np.nan)
    with pytest.raises(PublicationError, match="cannot classify"):
        maps.draw_map(t, SPEC["part-ess-emploi-departements"], geo=geo)


def test_render_maps_writes_png_svg_and_gpkg(table, tmp_path):
    paths = maps.render_maps(table, tmp_path)
    cartes = tmp_path / "cartes"
    names = {p.name for p in paths}
    for spec in map_specs.MAPS:
        assert {f"{spec.name}.png", f"{spec.name}.svg"} <= names
        with Image.open(cartes / f"{spec.name}.png") as img:
            assert img.info["dpi"][0] >= 150
        svg = (cartes / f"{spec.name}.svg").read_text(encoding="utf-8")
        assert "Source : Insee (SIRENE, Base Tous salariés)" in svg and "Lecture :" in svg
        assert "Champ :" in svg
    assert not list(cartes.glob(".*"))  # no temporary file left

    layers = dict(pyogrio.list_layers(cartes / "indicateurs.gpkg"))
    assert set(layers) == {"departements", "regions"}
    dep = pyogrio.read_dataframe(cartes / "indicateurs.gpkg", layer="departements")
    reg = pyogrio.read_dataframe(cartes / "indicateurs.gpkg", layer="regions")
    assert len(dep) == 101 and len(reg) == 18
    dep = dep.set_index("code")
    for code in secret_departements("part_emploi_total"):
        assert pd.isna(dep.loc[code, "part_emploi_total"])
        assert dep.loc[code, "part_emploi_total_statut"].startswith("secret")
    assert dep.loc["976", "ecart_salarial_fh_statut"] == "nd" and pd.isna(dep.loc["976", "ecart_salarial_fh"])
    assert dep.loc["69", "part_emploi_total_statut"] == "publie" and dep.loc["69", "part_emploi_total"] > 0


@pytest.mark.parametrize("code", ["84", "11", "04"])
def test_region_map(table, tmp_path, code):
    out = maps.region_map(table, code, tmp_path / f"region-{code}.png")
    assert out == tmp_path / f"region-{code}.png" and out.stat().st_size > 10_000


def test_region_map_svg_and_unknown_region(table, tmp_path):
    out = maps.region_map(table, "53", tmp_path / "carte.svg")
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    with pytest.raises(PublicationError, match="unknown région"):
        maps.region_map(table, "99", tmp_path / "x.png")


def test_a_map_too_few_territories_fill_is_not_drawn_and_its_old_files_go(table, tmp_path):
    """An extract of two régions: the map of the régions cannot be classified. ``render_maps`` leaves it out,
    says why, and removes that map's files of an earlier publication; the département maps are drawn."""
    t = table[(table["niveau"] != "region") | table["code"].isin(["52", "53"])]
    cartes = tmp_path / "cartes"
    cartes.mkdir()
    for ext in ("png", "svg", "csv"):
        (cartes / f"part-ess-emploi-regions.{ext}").write_text("an earlier publication's map")
    skipped: dict[str, str] = {}
    names = {p.name for p in maps.render_maps(t, tmp_path, skipped=skipped)}
    assert list(skipped) == ["part-ess-emploi-regions"]
    assert "cannot classify: 2 distinct value(s) among 2 territories" in skipped["part-ess-emploi-regions"]
    assert not list(cartes.glob("part-ess-emploi-regions.*"))
    assert {f"{s.name}.png" for s in map_specs.MAPS if s.name != "part-ess-emploi-regions"} <= names
