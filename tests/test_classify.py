"""``observatory classify``: real SIRENE samples, input formats, errors."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from observatory.classify import classify_file
from observatory.errors import ExtractError, ObservatoryError
from observatory.reference import perimetre

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples" / "sirene"
STOCK = "sirene_StockUniteLegale_sample_trackdechets.csv"
ESS_O = "sirene_UniteLegale_ess_O_numerique_subset.csv"
OUTPUT_COLUMNS = ["siren", "famille_ess", "ess", "ess_loi_2014", "motif", "perimetre_version"]
EXCLUDED = {"94.11Z", "94.20Z", "94.91Z", "94.92Z"}


def sample(name: str) -> Path:
    """A SIRENE sample of ../shared: skip when absent, fail instead under OBSERVATORY_REQUIRE_ALL=1."""
    path = SAMPLES / name
    if not path.exists():
        if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
            pytest.fail(f"{path} is missing")
        pytest.skip(f"{path} is absent")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    exe = ROOT / ".venv" / "bin" / "observatory"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "observatory.cli"]
    return subprocess.run([*cmd, *args], check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)


def read_output(path: Path) -> pd.DataFrame:
    out = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert set(out.ess) <= {"true", "false"} and set(out.ess_loi_2014) <= {"true", "false"}
    return out


def expected_classification(units: pd.DataFrame, version: str = "insee-2008-4f") -> pd.DataFrame:
    """The perimeter rules of perimeter.md §1–§3 written again with pandas, independently of the SQL."""
    fam = perimetre(version).perimetre_cj().set_index("cj").famille
    cj = units.categorieJuridiqueUniteLegale.fillna("").str.strip()
    ape = units.activitePrincipaleUniteLegale.fillna("").str.strip()
    rev2 = units.nomenclatureActivitePrincipaleUniteLegale.fillna("").str.strip().eq("NAFRev2")
    flag = units.economieSocialeSolidaireUniteLegale.fillna("").str.strip().eq("O")
    family = cj.map(fam)
    excluded = rev2 & (ape.isin(EXCLUDED) | ape.str.startswith("84"))
    in_family = family.notna() & family.ne("hors_ess")
    ess = in_family & ~excluded
    motif = pd.Series("cj_famille", index=units.index)
    motif[in_family & ~rev2] = "nomenclature_non_rev2"
    motif[in_family & rev2 & ape.eq("")] = "activite_absente"
    motif[in_family & excluded] = "activite_exclue"
    motif[family.eq("hors_ess")] = "cj_hors_perimetre"
    motif[family.isna()] = "cj_inconnue"
    motif[cj.eq("")] = "cj_absente"
    motif[~ess & flag & motif.isin(["cj_hors_perimetre", "activite_exclue"])] = "drapeau_sirene"
    famille = family.where(ess, "hors_ess").where(ess | ~flag, "societe_commerciale_ess")
    return pd.DataFrame(
        {
            "siren": units.siren,
            "famille_ess": famille,
            "ess": ess.map({True: "true", False: "false"}),
            "ess_loi_2014": (ess | flag).map({True: "true", False: "false"}),
            "motif": motif,
            "perimetre_version": version,
        }
    )


@pytest.mark.parametrize("name", [STOCK, ESS_O])
def test_cli_classifies_real_sirene_samples(tmp_path, name):
    src = sample(name)
    out = tmp_path / "classes.csv"
    proc = run_cli("classify", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    got = read_output(out)
    units = pd.read_csv(src, dtype=str, keep_default_na=False)
    assert len(got) == len(units)
    assert list(got.siren) == list(units.siren)  # one row per unit, in input order
    pd.testing.assert_frame_equal(got, expected_classification(units), check_dtype=False)
    cj = units.categorieJuridiqueUniteLegale
    assert (got.famille_ess[cj == "1000"] == "hors_ess").all()
    ape = units.activitePrincipaleUniteLegale
    associations = (cj == "9220") & ~ape.isin(EXCLUDED)
    assert (got.famille_ess[associations] == "association").all()
    if name == ESS_O:
        # every unit carries the flag: all in the legal perimeter, SAS and SARL only there
        assert (got.ess_loi_2014 == "true").all()
        assert associations.sum() > 2000
        commercial = cj.isin(["5710", "5499"])
        assert (got.famille_ess[commercial] == "societe_commerciale_ess").all()
        assert (got.ess[commercial] == "false").all() and (got.motif[commercial] == "drapeau_sirene").all()
        assert (got.famille_ess[cj == "9260"] == "association").all()
        assert (got.famille_ess[cj.isin(["5458", "5460", "5560"])] == "cooperative").all()
    else:
        assert (cj == "1000").sum() > 3000
        assert (
            (got.motif == "cj_inconnue").sum() == (~cj.isin(perimetre().table_cj.cj) & (cj != "")).sum() > 0
        )
        old = units.nomenclatureActivitePrincipaleUniteLegale != "NAFRev2"
        assert (got.motif[old & (got.ess == "true")] == "nomenclature_non_rev2").all()


def test_cli_flores_version(tmp_path):
    src = sample(ESS_O)
    out = tmp_path / "classes.csv"
    assert run_cli("classify", str(src), "-o", str(out), "--perimetre", "insee-flores-5f").returncode == 0
    got = read_output(out)
    assert set(got.perimetre_version) == {"insee-flores-5f"}
    units = pd.read_csv(src, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected_classification(units, "insee-flores-5f"), check_dtype=False)


UNITS = pd.DataFrame(
    {
        "siren": ["000325175", "100000002", "100000003", "100000004", "100000005", "100000006"],
        "denominationUniteLegale": ["ŒUVRE DES « ÉCOLES » €", "SCOP, ATELIER", "", "A;B", "", "x"],
        "categorieJuridiqueUniteLegale": ["9220", "5458", "5710", "9220", "", "1234"],
        "activitePrincipaleUniteLegale": ["94.99Z", "25.62A", "62.01Z", "94.91Z", "", "70.22Z"],
        "nomenclatureActivitePrincipaleUniteLegale": [
            "NAFRev2",
            "NAFRev1",
            "NAFRev2",
            "NAFRev2",
            "",
            "NAFRev2",
        ],
        "economieSocialeSolidaireUniteLegale": ["N", "O", "O", "", "", ""],
        "caractereEmployeurUniteLegale": ["O", "N", "N", "O", "N", "N"],
    }
)
EXPECTED = [
    ["000325175", "association", "true", "true", "cj_famille"],
    ["100000002", "cooperative", "true", "true", "nomenclature_non_rev2"],
    ["100000003", "societe_commerciale_ess", "false", "true", "drapeau_sirene"],
    ["100000004", "hors_ess", "false", "false", "activite_exclue"],
    ["100000005", "hors_ess", "false", "false", "cj_absente"],
    ["100000006", "hors_ess", "false", "false", "cj_inconnue"],
]


def _write_variant(tmp_path: Path, variant: str) -> Path:
    if variant == "parquet":
        path = tmp_path / "ul.parquet"
        UNITS.assign(siren=UNITS.siren.astype("int64")).to_parquet(path)  # leading zeros lost on purpose
        return path
    sep = ";" if "semicolon" in variant else ","
    encoding = {"cp1252": "cp1252", "bom": "utf-8-sig"}.get(variant.split("_")[0], "utf-8")
    text = UNITS.to_csv(index=False, sep=sep, lineterminator="\r\n" if "crlf" in variant else "\n")
    data = text.encode(encoding)
    if variant.endswith("gz"):
        path = tmp_path / "ul.csv.gz"
        path.write_bytes(gzip.compress(data))
    elif variant.endswith("zip"):
        path = tmp_path / "ul.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("StockUniteLegale_utf8.csv", data)
    else:
        path = tmp_path / "ul.csv"
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "variant",
    ["utf8", "cp1252_semicolon", "bom_crlf", "utf8_semicolon_gz", "cp1252_zip", "utf8_gz", "parquet"],
)
def test_input_formats(tmp_path, variant):
    src = _write_variant(tmp_path, variant)
    out = tmp_path / "out" / "classes.csv"
    assert classify_file(src, out) == len(UNITS)
    got = read_output(out)
    assert got.drop(columns="perimetre_version").values.tolist() == EXPECTED
    assert set(got.perimetre_version) == {"insee-2008-4f"}


def test_missing_column_is_an_extract_error(tmp_path):
    src = tmp_path / "ul.csv"
    UNITS.drop(columns="economieSocialeSolidaireUniteLegale").to_csv(src, index=False)
    out = tmp_path / "classes.csv"
    with pytest.raises(ExtractError) as err:
        classify_file(src, out)
    assert (err.value.file, err.value.line, err.value.column) == (
        str(src),
        1,
        "economieSocialeSolidaireUniteLegale",
    )
    assert not out.exists()
    proc = run_cli("classify", str(src), "-o", str(out))
    assert proc.returncode == 2
    assert "line 1, column 'economieSocialeSolidaireUniteLegale'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_inputs(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ExtractError, match="header"):
        classify_file(empty, tmp_path / "o.csv")
    with pytest.raises(ExtractError, match="existing"):
        classify_file(tmp_path / "absent.csv", tmp_path / "o.csv")
    parquet = tmp_path / "p.parquet"
    UNITS.drop(columns="siren").to_parquet(parquet)
    with pytest.raises(ExtractError) as err:
        classify_file(parquet, tmp_path / "o.csv")
    assert err.value.column == "siren"


def test_unknown_perimeter_version(tmp_path):
    src = _write_variant(tmp_path, "utf8")
    with pytest.raises(ObservatoryError, match="unknown perimeter version"):
        classify_file(src, tmp_path / "o.csv", perimetre="insee-2030")
    proc = run_cli("classify", str(src), "-o", str(tmp_path / "o.csv"), "--perimetre", "insee-2030")
    assert proc.returncode == 2 and "unknown perimeter version" in proc.stderr


def test_windows_1252_byte_after_the_sniffed_head(tmp_path):
    many = pd.concat([UNITS.assign(denominationUniteLegale="ASSOCIATION")] * 2000, ignore_index=True)
    many.loc[len(many) - 1, "denominationUniteLegale"] = "ŒUVRE €"
    src = tmp_path / "ul.csv"
    src.write_bytes(many.to_csv(index=False, sep=";").encode("cp1252"))
    assert src.stat().st_size > 1 << 16
    out = tmp_path / "classes.csv"
    assert classify_file(src, out) == len(many)
    got = read_output(out)
    assert got.drop(columns="perimetre_version").values.tolist() == EXPECTED * 2000
