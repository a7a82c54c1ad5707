"""Ingestion: real SIRENE samples load unchanged; a dirty corpus is rejected or quarantined precisely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from observatory.errors import ExtractError
from observatory.ingest import ingest_vintage, quarantine_rate, read_extract
from observatory.warehouse import connect
from tests.bad_inputs.make_corpus import (
    EFFECTIFS_HEADER,
    ETAB_HEADER,
    POSTES_HEADER,
    UL_HEADER,
    csv_bytes,
    effectif,
    etab,
    make_vintage,
    poste,
    ul,
    write,
    write_csv,
    write_parquet,
)

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "sirene"


def sample(name: str) -> Path:
    """A file of ../shared/samples/sirene; skip when absent unless OBSERVATORY_REQUIRE_ALL=1."""
    path = SAMPLES / name
    if not path.exists():
        if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
            pytest.fail(f"missing shared sample {path}")
        pytest.skip(f"shared sample {path} absent")
    return path


@pytest.fixture
def con():
    c = connect()
    yield c
    c.close()


def quarantine(con, motif: str | None = None) -> list[tuple]:
    """(ligne, colonne, valeur, motif, action) rows of staging.quarantaine, in line order."""
    sql = "SELECT ligne, colonne, valeur, motif, action FROM staging.quarantaine"
    if motif:
        return con.execute(sql + " WHERE motif = ? ORDER BY ligne, colonne", [motif]).fetchall()
    return con.execute(sql + " ORDER BY ligne, colonne, motif").fetchall()


def lines_of(con, table: str) -> list[int]:
    return [r[0] for r in con.execute(f"SELECT _ligne FROM staging.{table} ORDER BY _ligne").fetchall()]


# ------------------------------------------------------------------------------------------- real samples


@pytest.mark.parametrize(
    "kind, name",
    [
        ("unites_legales", "sirene_StockUniteLegale_sample_trackdechets.csv"),
        ("unites_legales", "sirene_UniteLegale_ess_O_numerique_subset.csv"),
        ("etablissements", "sirene_StockEtablissement_sample_trackdechets.csv"),
        ("etablissements", "sirene_StockEtablissement_geo_sample_goSirene.csv"),
    ],
)
def test_real_sirene_samples_load_unchanged(con, kind, name):
    path = sample(name)
    n_lines = len(path.read_bytes().splitlines())
    rep = read_extract(con, kind, path)
    assert (rep.encoding, rep.separator, rep.compression) == ("utf-8", ",", None)
    assert rep.rows_read == rep.rows_loaded == n_lines - 1
    assert lines_of(con, kind) == list(range(2, n_lines + 1))
    assert quarantine(con, "doublon") == []
    key = "siren" if kind == "unites_legales" else "siret"
    first = path.read_text(encoding="utf-8").splitlines()[1]
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    expected_key = first.split(",")[header.index(key)]
    assert con.execute(f"SELECT {key} FROM staging.{kind} WHERE _ligne = 2").fetchone()[0] == expected_key


def test_sample_legal_units_keep_leading_zeros_and_old_nomenclatures(con):
    read_extract(con, "unites_legales", sample("sirene_StockUniteLegale_sample_trackdechets.csv"))
    first = con.execute("SELECT siren FROM staging.unites_legales ORDER BY _ligne LIMIT 1").fetchone()[0]
    assert first == "000325175"
    counts = dict(
        con.execute(
            "SELECT nomenclatureActivitePrincipaleUniteLegale, count(*) FROM staging.unites_legales GROUP BY 1"
        ).fetchall()
    )
    assert counts["NAF1993"] == 721 and counts["NAFRev1"] == 91 and counts["NAP"] == 2851
    assert all(r[3] != "naf_inconnu" or r[4] == "conserve" for r in quarantine(con))


def test_sample_polynesia_commune_is_hors_territoire(con):
    read_extract(con, "etablissements", sample("sirene_StockEtablissement_sample_trackdechets.csv"))
    assert quarantine(con, "hors_territoire") == [
        (2, "codeCommuneEtablissement", "98727", "hors_territoire", "conserve")
    ]
    kept = con.execute(
        "SELECT siret, etablissementSiege FROM staging.etablissements WHERE _ligne = 2"
    ).fetchone()
    assert kept == ("00032517500016", False)


# ------------------------------------------------------------------------------------------ whole vintage


def test_ingest_vintage_reports_what_it_read(con, tmp_path):
    make_vintage(tmp_path)
    rep = ingest_vintage(con, tmp_path, require_quarterly=True)
    assert set(rep.extracts) == {"unites_legales", "etablissements", "postes", "effectifs_trimestriels"}
    et = rep.extracts["etablissements"]
    assert (et.compression, et.rows_read, et.rows_loaded) == ("gzip", 3, 3)
    assert rep.extracts["effectifs_trimestriels"].separator == ";"
    assert rep.extracts["postes"].format == "parquet"
    assert quarantine_rate(rep) == 0.0
    meta = rep.to_metadata()
    assert meta["rows_read"] == 2 + 3 + 4 + 2 and meta["postes"]["rows_loaded"] == 4
    assert "taux de quarantaine" in rep.summary()
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = 'postes'"
        ).fetchall()
    )
    assert types["AGE"] == "SMALLINT" and types["S_BRUT"] == "DOUBLE" and types["SEXE"] == "VARCHAR"
    assert con.execute("SELECT AGE, EQTP FROM staging.postes WHERE _ligne = 4").fetchone() == (41, 0.5)
    assert con.execute(
        "SELECT effectif_fin_trimestre FROM staging.effectifs_trimestriels WHERE trimestre = '2024-T2'"
    ).fetchone() == (10,)


def test_quarterly_file_optional_for_annual_run_required_for_barometre(con, tmp_path):
    make_vintage(tmp_path, quarterly=False)
    assert "effectifs_trimestriels" not in ingest_vintage(con, tmp_path).extracts
    with pytest.raises(ExtractError, match=r"effectifs_trimestriels\*.*expected one file"):
        ingest_vintage(con, tmp_path, require_quarterly=True)


def test_missing_file_names_it(con, tmp_path):
    make_vintage(tmp_path)
    (tmp_path / "StockUniteLegale_utf8.csv").unlink()
    with pytest.raises(ExtractError) as err:
        ingest_vintage(con, tmp_path)
    assert err.value.file.endswith("StockUniteLegale*") and err.value.found == "no such file"


# ------------------------------------------------------------------------------------- unusable files


def test_empty_file(con, tmp_path):
    path = write(tmp_path / "StockUniteLegale.csv", b"")
    with pytest.raises(ExtractError) as err:
        read_extract(con, "unites_legales", path)
    assert (err.value.file, err.value.line, err.value.expected) == (
        "StockUniteLegale.csv",
        1,
        "a header line",
    )


def test_header_only(con, tmp_path):
    path = write_csv(tmp_path / "StockUniteLegale.csv", UL_HEADER, [])
    with pytest.raises(ExtractError) as err:
        read_extract(con, "unites_legales", path)
    assert (err.value.line, err.value.expected, err.value.found) == (
        2,
        "at least one data row",
        "end of file",
    )


def test_missing_required_column_names_file_and_column(con, tmp_path):
    header = [c for c in ETAB_HEADER if c != "codeCommuneEtablissement"]
    path = write_csv(tmp_path / "StockEtablissement.csv", header, [])
    with pytest.raises(ExtractError) as err:
        read_extract(con, "etablissements", path)
    assert str(err.value).startswith(
        "StockEtablissement.csv, line 1, column 'codeCommuneEtablissement': expected a column"
    )


def test_renamed_column_is_a_missing_column(con, tmp_path):
    header = ["siret_etab" if c == "siret" else c for c in EFFECTIFS_HEADER]
    path = write_csv(tmp_path / "effectifs_trimestriels.csv", header, [effectif("12345678900011")])
    with pytest.raises(ExtractError) as err:
        read_extract(con, "effectifs_trimestriels", path)
    assert (err.value.line, err.value.column) == (1, "siret")
    assert "siret_etab" in err.value.found


def test_wrong_separator_header_does_not_split(con, tmp_path):
    path = write_csv(tmp_path / "postes_2023.csv", POSTES_HEADER, [poste("12345678900011")], sep="|")
    with pytest.raises(ExtractError) as err:
        read_extract(con, "postes", path)
    assert (err.value.line, err.value.column) == (1, "SIRET")
    assert "separated by ',' or ';'" in err.value.expected


def test_binary_junk_file(con, tmp_path):
    path = write(tmp_path / "StockUniteLegale.csv", bytes(range(256)) * 64)
    with pytest.raises(ExtractError) as err:
        read_extract(con, "unites_legales", path)
    assert err.value.expected == "UTF-8 or Windows-1252 text"
    assert err.value.line == 2 and err.value.found == "byte 0x81"  # 0x0a ends line 1


def test_parquet_missing_column(con, tmp_path):
    header = [c for c in POSTES_HEADER if c != "S_NET"]
    rows = [[v for c, v in zip(POSTES_HEADER, poste("12345678900011"), strict=True) if c != "S_NET"]]
    path = write_parquet(tmp_path / "postes_2023.parquet", header, rows)
    with pytest.raises(ExtractError) as err:
        read_extract(con, "postes", path)
    assert (err.value.file, err.value.column) == ("postes_2023.parquet", "S_NET")


# ------------------------------------------------------------------------ encodings, separators, archives


def test_cp1252_semicolon_file_with_accents(con, tmp_path):
    rows = [ul("123456789", nom="Société coopérative œuvrant à l’été"), ul("234567891", nom="Crèche")]
    path = write_csv(
        tmp_path / "StockUniteLegale.csv", UL_HEADER, rows, sep=";", encoding="cp1252", newline="\r\n"
    )
    rep = read_extract(con, "unites_legales", path)
    assert (rep.encoding, rep.separator, rep.rows_loaded) == ("cp1252", ";", 2)
    names = [
        r[0]
        for r in con.execute(
            "SELECT denominationUniteLegale FROM staging.unites_legales ORDER BY _ligne"
        ).fetchall()
    ]
    assert names == ["Société coopérative œuvrant à l’été", "Crèche"]


def test_utf8_bom_and_explicit_options(con, tmp_path):
    data = b"\xef\xbb\xbf" + csv_bytes(UL_HEADER, [ul("123456789", nom="Élan")], sep=";")
    path = write(tmp_path / "StockUniteLegale.csv", data)
    rep = read_extract(con, "unites_legales", path)
    assert (rep.encoding, rep.separator) == ("utf-8-sig", ";")
    rep = read_extract(con, "unites_legales", path, encoding="utf-8", separator=";")
    assert con.execute("SELECT denominationUniteLegale FROM staging.unites_legales").fetchone() == ("Élan",)


@pytest.mark.parametrize("compress", ["gzip", "zip"])
def test_compressed_csv_keeps_line_numbers(con, tmp_path, compress):
    rows = [etab("12345678900011"), etab("1234567890001"), etab("12345678900029")]
    path = write_csv(tmp_path / "StockEtablissement.csv", ETAB_HEADER, rows, compress=compress)
    rep = read_extract(con, "etablissements", path)
    assert rep.compression == compress and rep.rows_read == 3 and rep.rows_loaded == 2
    assert lines_of(con, "etablissements") == [2, 4]
    assert quarantine(con, "siret_invalide") == [(3, "siret", "1234567890001", "siret_invalide", "rejete")]


def test_parquet_typed_columns_read_as_text(con, tmp_path):
    import pyarrow as pa

    rows = [poste("12345678900011"), poste("12345678900011", AGE="200")]
    path = write_parquet(
        tmp_path / "postes_2023.parquet",
        POSTES_HEADER,
        rows,
        types={"AGE": pa.int32(), "FILT": pa.int8(), "S_NET": pa.float64()},
    )
    rep = read_extract(con, "postes", path)
    assert (rep.format, rep.encoding, rep.rows_read, rep.rows_loaded) == ("parquet", None, 2, 2)
    assert quarantine(con) == [(2, "AGE", "200", "age_impossible", "conserve")]
    assert con.execute("SELECT FILT, S_NET, AGE FROM staging.postes ORDER BY _ligne").fetchall() == [
        ("1", 25000.0, 41), ("1", 25000.0, None)  # the job stays; its impossible age is left empty
    ]


# --------------------------------------------------------------------------------- broken lines → quarantine


def test_truncated_last_line(con, tmp_path):
    data = csv_bytes(UL_HEADER, [ul("123456789"), ul("234567891")]) + b"345678912,O,92"
    path = write(tmp_path / "StockUniteLegale.csv", data)
    rep = read_extract(con, "unites_legales", path)
    assert (rep.rows_read, rep.rows_loaded) == (3, 2)
    assert quarantine(con) == [(4, "denominationUniteLegale", None, "colonnes_manquantes", "rejete")]


def test_invalid_bytes_and_extra_fields_in_utf8_file_are_quarantined(con, tmp_path):
    good = csv_bytes(UL_HEADER, [ul("123456789", nom="Élan")])
    data = (
        good
        + b"234567891,O,9220,94.99Z,NAFRev2,O,A,JUNK\xff\xfe\n"
        + b"345678912,O,9220,94.99Z,NAFRev2,O,A,X,extra\n"
    )
    data += b"\n" + csv_bytes(UL_HEADER, [ul("456789123")])[len(",".join(UL_HEADER)) + 1 :]
    path = write(tmp_path / "StockUniteLegale.csv", data)
    rep = read_extract(con, "unites_legales", path)
    assert rep.encoding == "utf-8" and rep.blank_lines == 1
    assert [(r[0], r[1], r[3]) for r in quarantine(con)] == [
        (3, "denominationUniteLegale", "encodage_invalide"),
        (4, "denominationUniteLegale", "colonnes_en_trop"),
    ]
    assert lines_of(con, "unites_legales") == [2, 6]
    assert (rep.rows_read, rep.rows_loaded, rep.rows_rejected) == (4, 2, 2)


def test_one_megabyte_line_is_quarantined(con, tmp_path):
    rows = [ul("123456789"), ul("234567891", nom="X" * 1_000_000), ul("345678912")]
    path = write_csv(tmp_path / "StockUniteLegale.csv", UL_HEADER, rows)
    rep = read_extract(con, "unites_legales", path)
    q = quarantine(con)
    assert [(r[0], r[3], r[4]) for r in q] == [(3, "ligne_trop_longue", "rejete")]
    assert q[0][2].startswith("234567891,O,9220") and len(q[0][2]) == 200
    assert lines_of(con, "unites_legales") == [2, 4] and rep.rows_rejected == 1


def test_unterminated_quote_is_quarantined(con, tmp_path):
    data = csv_bytes(UL_HEADER, [ul("123456789")]) + b'234567891,O,9220,94.99Z,NAFRev2,O,A,"OPEN\n'
    path = write(tmp_path / "StockUniteLegale.csv", data)
    rep = read_extract(con, "unites_legales", path)
    assert [(r[0], r[3]) for r in quarantine(con)] == [(3, "guillemet_non_ferme")]
    assert rep.rows_loaded == 1


# ---------------------------------------------------------------------------------------- SIRENE rules


def test_establishment_rules(con, tmp_path):
    rows = [
        etab("12345678900011"),  # 2 ok
        etab("12345678900011", commune="13055"),  # 3 duplicate SIRET
        etab("123456789000111"),  # 4 15 digits
        etab("12345678900029", commune="00000"),  # 5 unknown commune, kept
        etab("12345678900037", ape="99.99Z"),  # 6 unknown NAF rév. 2, kept
        etab("12345678900045", ape="17.1P", nomen="NAFRev1"),  # 7 old nomenclature, kept unflagged
        etab("12345678900052", commune="99134"),  # 8 abroad
        etab("12345678900060", commune="[ND]", tranche="[ND]"),  # 9 non-diffusible: not an error
        etab("12345678900078", commune=""),  # 10 empty commune
        ["123456789", "00086", "12345678900094", "O", "", "true", "75056", "A", "94.99Z", "NAFRev2"],  # 11
    ]
    path = write_csv(tmp_path / "StockEtablissement.csv", ETAB_HEADER, rows)
    read_extract(con, "etablissements", path)
    assert quarantine(con) == [
        (3, "siret", "12345678900011", "doublon", "rejete"),
        (4, "siret", "123456789000111", "siret_invalide", "rejete"),
        (5, "codeCommuneEtablissement", "00000", "commune_inconnue", "conserve"),
        (6, "activitePrincipaleEtablissement", "99.99Z", "naf_inconnu", "conserve"),
        (8, "codeCommuneEtablissement", "99134", "hors_territoire", "conserve"),
        (10, "codeCommuneEtablissement", "", "hors_territoire", "conserve"),
        (11, "siret", "12345678900094", "siret_incoherent", "rejete"),
    ]
    assert lines_of(con, "etablissements") == [2, 5, 6, 7, 8, 9, 10]
    nd = con.execute(
        "SELECT codeCommuneEtablissement, trancheEffectifsEtablissement "
        "FROM staging.etablissements WHERE _ligne = 9"
    ).fetchone()
    assert nd == (None, None)


def test_legal_unit_rules(con, tmp_path):
    rows = [
        ul("123456789"),
        ul("12345678"),
        ul("123456789", nom="AGAIN"),
        ul("234567891", ape="9499Z"),
        ul("345678912", ape="70.2C", nomen="NAF1993"),
        ul("456789123", cj="[ND]", nom="[ND]"),
    ]
    path = write_csv(tmp_path / "StockUniteLegale.csv", UL_HEADER, rows)
    read_extract(con, "unites_legales", path)
    assert quarantine(con) == [
        (3, "siren", "12345678", "siren_invalide", "rejete"),
        (4, "siren", "123456789", "doublon", "rejete"),
        (5, "activitePrincipaleUniteLegale", "9499Z", "naf_inconnu", "conserve"),
    ]
    assert lines_of(con, "unites_legales") == [2, 5, 6, 7]
    assert con.execute(
        "SELECT categorieJuridiqueUniteLegale, denominationUniteLegale "
        "FROM staging.unites_legales WHERE _ligne = 7"
    ).fetchone() == (None, None)


# -------------------------------------------------------------------------------------- postes rules


def test_postes_rules(con, tmp_path):
    s = "12345678900011"
    rows = [
        poste(s),  # 2 ok
        poste(s, S_BRUT="-120"),  # 3 negative pay
        poste(s, S_NET=""),  # 4 missing pay
        poste(s, NBHEUR="0"),  # 5 zero hours, EQTP 1: kept, flagged
        poste(s, AGE="200"),  # 6
        poste(s, DATDEB="0", DATFIN="361"),  # 7
        poste(s, DATDEB="200", DATFIN="100"),  # 8
        poste(s, SEXE="3", FILT="0"),  # 9
        poste(s, EQTP="2.5"),  # 10
        poste("1234567890001"),  # 11
        poste(s, S_BRUT="1234,5", EQTP="0,5"),  # 12 decimal comma
    ]
    path = write_csv(tmp_path / "postes_2023.csv", POSTES_HEADER, rows, sep=";")
    rep = read_extract(con, "postes", path)
    assert quarantine(con) == [
        (3, "S_BRUT", "-120", "salaire_negatif", "conserve"),
        (4, "S_NET", None, "salaire_manquant", "conserve"),
        (5, "NBHEUR", "0", "heures_nulles", "conserve"),
        (6, "AGE", "200", "age_impossible", "conserve"),
        (7, "DATDEB", "0", "date_hors_plage", "rejete"),
        (7, "DATFIN", "361", "date_hors_plage", "rejete"),
        (8, "DATFIN", "100", "dates_incoherentes", "rejete"),
        (9, "FILT", "0", "filt_invalide", "rejete"),
        (9, "SEXE", "3", "sexe_invalide", "rejete"),
        (10, "EQTP", "2.5", "eqtp_hors_plage", "rejete"),
        (11, "SIRET", "1234567890001", "siret_invalide", "rejete"),
    ]
    # a job with a missing or negative pay or an impossible age is still a job: kept, that value left empty
    assert lines_of(con, "postes") == [2, 3, 4, 5, 6, 12]
    assert con.execute("SELECT S_BRUT, EQTP FROM staging.postes WHERE _ligne = 12").fetchone() == (
        1234.5,
        0.5,
    )
    kept = con.execute("SELECT _ligne, S_BRUT, S_NET, AGE FROM staging.postes WHERE _ligne IN (3, 4, 6) ORDER BY 1")
    assert [r[0] for r in kept.fetchall()] == [3, 4, 6]
    assert con.execute("SELECT S_BRUT FROM staging.postes WHERE _ligne = 3").fetchone() == (None,)
    assert con.execute("SELECT S_NET FROM staging.postes WHERE _ligne = 4").fetchone() == (None,)
    assert con.execute("SELECT AGE FROM staging.postes WHERE _ligne = 6").fetchone() == (None,)
    assert rep.quarantined["date_hors_plage"] == 2
    assert rep.rows_rejected == 5


def test_effectifs_rules(con, tmp_path):
    s = "12345678900011"
    rows = [
        effectif(s),
        effectif(s, "2025-T5"),
        effectif(s, "2025-T3", "-4"),
        effectif(s),
        effectif(s, "2025-T4", "7", ""),
    ]
    path = write_csv(tmp_path / "effectifs_trimestriels.csv", EFFECTIFS_HEADER, rows)
    read_extract(con, "effectifs_trimestriels", path)
    assert quarantine(con) == [
        (3, "trimestre", "2025-T5", "trimestre_invalide", "rejete"),
        (4, "effectif_fin_trimestre", "-4", "effectif_negatif", "rejete"),
        (5, "siret", s, "doublon", "rejete"),
    ]
    assert con.execute(
        "SELECT trimestre, masse_salariale FROM staging.effectifs_trimestriels ORDER BY _ligne"
    ).fetchall() == [("2025-T2", 98000.5), ("2025-T4", None)]


def test_line_numbers_across_read_chunks_blank_lines_and_crlf(con, tmp_path, monkeypatch):
    from observatory import ingest

    monkeypatch.setattr(ingest, "_CHUNK", 7)  # blank lines fall on chunk boundaries
    body = csv_bytes(UL_HEADER, [ul("123456789"), ul("234567891")], newline="\r\n")
    tail = csv_bytes(UL_HEADER, [ul("345678912"), ul("1")], newline="\r\n").split(b"\r\n", 1)[1]
    path = write(tmp_path / "StockUniteLegale.csv", body + b"\r\n\r\n" + tail)
    rep = read_extract(con, "unites_legales", path)
    assert rep.blank_lines == 2
    assert lines_of(con, "unites_legales") == [2, 3, 6]
    assert quarantine(con) == [(7, "siren", "1", "siren_invalide", "rejete")]
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('staging', 'ref')"
        ).fetchall()
    }
    assert not tables & {"_brut", "_lu", "_rejets", "_csv_rejets"}
