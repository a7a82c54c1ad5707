"""NAF rév. 2 with its aggregation levels, from INSEE's tables shipped in the ``pynsee`` package (offline).

``pynsee.metadata.get_activity_list`` is not used: it relies on ``pkg_resources``, which current setuptools
no longer ships. The zip is read directly from the package data.
"""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from importlib import resources

import pandas as pd

SOURCE = "NAF rév. 2, Insee (tables du paquet pynsee)"


def _member(name: str) -> bytes:
    path = resources.files("pynsee.metadata") / "data" / "naf.zip"
    with path.open("rb") as raw, zipfile.ZipFile(raw) as z:
        return z.read(f"naf2008/{name}")


@lru_cache(maxsize=1)
def naf() -> pd.DataFrame:
    """One row per sous-classe (732): ``sous_classe`` (``94.99Z``), ``libelle``, ``classe``, ``groupe``,
    ``division`` (A88, ``94``), ``section`` (A21, ``S``), ``a10``, ``a17``, ``a38``, ``a64``, ``a129``."""
    df = pd.read_csv(
        io.BytesIO(_member("table_NAF2-NA.csv")), sep=";", encoding="cp1252", dtype=str, skiprows=2, header=None
    )
    df = df.iloc[:, :10]
    df.columns = ["sous_classe", "libelle", "classe", "groupe", "a129", "division", "a64", "a38", "section", "a10"]
    df = df[df["sous_classe"].str.match(r"^\d\d\.\d\d[A-Z]$", na=False)].copy()
    df["a17"] = df["a38"].map(_a17_from_a38)
    return df[
        ["sous_classe", "libelle", "classe", "groupe", "division", "section", "a10", "a17", "a38", "a64", "a129"]
    ].reset_index(drop=True)


def _a17_from_a38(a38: str) -> str:
    """A17 from A38, following INSEE's correspondence table (int_eng_na_2008_a17)."""
    manufacturing = {"CA": "C1", "CD": "C2", "CI": "C3", "CJ": "C3", "CK": "C3", "CL": "C4"}
    if a38 in manufacturing:
        return manufacturing[a38]
    if a38 in {"CB", "CC", "CE", "CF", "CG", "CH", "CM"}:
        return "C5"
    if a38 in {"BZ", "DZ", "EZ"}:
        return "DE"
    if a38 in {"MA", "MB", "MC", "NZ"}:
        return "MN"
    if a38 in {"OZ", "PZ", "QA", "QB"}:
        return "OQ"
    if a38 in {"JA", "JB", "JC"}:
        return "JZ"
    if a38 in {"RZ", "SZ", "TZ", "UZ"}:
        return "RU"
    return a38


@lru_cache(maxsize=1)
def libelles_niveaux() -> pd.DataFrame:
    """Labels of every NAF level (section, division, groupe, classe, sous-classe): ``code``, ``libelle``."""
    df = pd.read_csv(io.BytesIO(_member("int_courts_naf_rev_2.csv")), sep=";", encoding="cp1252", dtype=str)
    df = df.iloc[:, [1, 2]]
    df.columns = ["code", "libelle"]
    return df.dropna().reset_index(drop=True)
