"""French number formatting (observatory.publish.fmt)."""

import pytest

from observatory.publish import fmt

S = "\u00a0"  # the one space used by every format


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (2_600_000, 0, f"2{S}600{S}000"),
        (999, 0, "999"),
        (1000, 0, f"1{S}000"),
        (12.35, 1, "12,4"),  # half away from zero, not banker's rounding
        (0.125, 2, "0,13"),
        (2.5, 0, "3"),
        (-1234.5, 0, f"{fmt.MINUS}1{S}235"),
        (-0.04, 0, "0"),  # no "-0"
        (13.7, 2, "13,70"),
        (1_234_567.891, 1, f"1{S}234{S}567,9"),
    ],
)
def test_nombre(value, decimals, expected):
    assert fmt.nombre(value, decimals) == expected


def test_pourcent_from_fraction():
    assert fmt.pourcent(0.137) == f"13,7{S}%"
    assert fmt.pourcent(1.0) == f"100,0{S}%"
    assert fmt.pourcent(0.0005) == f"0,1{S}%"
    assert fmt.pourcent(0.5, 0) == f"50{S}%"


def test_amounts():
    assert fmt.montant(1.2e9) == f"1,2{S}Md€"
    assert fmt.montant(1_249_999_999) == f"1,2{S}Md€"
    assert fmt.montant(345_640_000) == f"345,6{S}M€"
    assert fmt.montant(85_300) == f"85{S}300{S}€"
    assert fmt.euros(14.5, 2) == f"14,50{S}€"


def test_missing_and_secret_markers():
    for f in (fmt.nombre, fmt.pourcent, fmt.euros, fmt.montant, fmt.rang, fmt.fois):
        assert f(None) == "n.d."
        assert f(float("nan")) == "n.d."
    assert fmt.SECRET == "s"


def test_rang():
    assert fmt.rang(1) == "1er"
    assert fmt.rang(2) == "2e"
    assert fmt.rang(11.0) == "11e"


def test_parse_roundtrip_and_normalize():
    for value in (2_600_000, 13.7, -1234.5, 14.52):
        assert fmt.parse_nombre(fmt.nombre(value, 2)) == value
    assert fmt.parse_nombre(f"2{S}600{S}000") == 2_600_000
    assert fmt.parse_nombre("13,7 %") == 13.7
    assert fmt.parse_nombre(f"{fmt.MINUS}1,5") == -1.5
    assert fmt.normalize(f"2\u202f600{S}000  €") == "2 600 000 €"


def test_locatif():
    assert fmt.locatif("region", "53", "Bretagne") == "en Bretagne"
    assert fmt.locatif("region", "32", "Hauts-de-France") == "dans les Hauts-de-France"
    assert fmt.locatif("departement", "29", "Finistère", "2") == "dans le Finistère"
    assert fmt.locatif("departement", "01", "Ain", 5) == "dans l'Ain"
    assert fmt.locatif("departement", "75", "Paris", "0") == "à Paris"
    assert fmt.locatif("france", "FR", "France") == "en France"
    assert fmt.locatif("departement", "99", "Ailleurs") == "dans le territoire « Ailleurs »"
