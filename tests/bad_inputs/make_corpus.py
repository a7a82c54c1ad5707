"""Write small clean and dirty INSEE-style extracts for the ingestion tests (nothing large is committed).

Each helper writes one file and returns its path; rows are lists of field values in header order.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

UL_HEADER = [
    "siren",
    "statutDiffusionUniteLegale",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "economieSocialeSolidaireUniteLegale",
    "etatAdministratifUniteLegale",
    "denominationUniteLegale",
]
ETAB_HEADER = [
    "siren",
    "nic",
    "siret",
    "statutDiffusionEtablissement",
    "trancheEffectifsEtablissement",
    "etablissementSiege",
    "codeCommuneEtablissement",
    "etatAdministratifEtablissement",
    "activitePrincipaleEtablissement",
    "nomenclatureActivitePrincipaleEtablissement",
]
POSTES_HEADER = [
    "SIRET",
    "SEXE",
    "AGE",
    "PCS",
    "CPFD",
    "CONT_TRAV",
    "TYP_EMPLOI",
    "FILT",
    "DATDEB",
    "DATFIN",
    "DUREE",
    "NBHEUR",
    "EQTP",
    "S_BRUT",
    "S_NET",
    "DEPT",
    "REGT",
]
EFFECTIFS_HEADER = ["siret", "trimestre", "effectif_fin_trimestre", "masse_salariale"]


def ul(siren: str, *, cj="9220", ape="94.99Z", nomen="NAFRev2", ess="O", etat="A", nom="ASSOCIATION"):
    """One StockUniteLegale row."""
    return [siren, "O", cj, ape, nomen, ess, etat, nom]


def etab(siret: str, *, commune="75056", ape="94.99Z", nomen="NAFRev2", siege="true", tranche="11", etat="A"):
    """One StockEtablissement row (siren and nic cut from ``siret``)."""
    return [siret[:9], siret[9:], siret, "O", tranche, siege, commune, etat, ape, nomen]


def poste(siret: str, **over) -> list[str]:
    """One postes row: a full-year full-time CDI, fields overridable by name."""
    row = {
        "SIRET": siret, "SEXE": "2", "AGE": "41", "PCS": "543A", "CPFD": "C", "CONT_TRAV": "CDI",
        "TYP_EMPLOI": "O", "FILT": "1", "DATDEB": "1", "DATFIN": "360", "DUREE": "360", "NBHEUR": "1607",
        "EQTP": "1.00", "S_BRUT": "32000", "S_NET": "25000", "DEPT": "75", "REGT": "11",
    }  # fmt: skip
    row.update(over)
    return [row[c] for c in POSTES_HEADER]


def effectif(siret: str, trimestre="2025-T2", n="12", masse="98000.5"):
    """One quarterly-headcount row."""
    return [siret, trimestre, n, masse]


def csv_bytes(header: list[str], rows: list[list[str]], *, sep=",", encoding="utf-8", newline="\n") -> bytes:
    """CSV text (fields quoted when they hold the separator or a quote) encoded as asked."""

    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if (sep in v or '"' in v) else v

    lines = [sep.join(field(v) for v in r) for r in [header, *rows]]
    return (newline.join(lines) + newline).encode(encoding)


def write(path: Path, data: bytes, *, compress: str | None = None) -> Path:
    """Write ``data`` to ``path`` as is, gzip-compressed (``.gz`` added) or in a zip (``.zip`` replaces
    ``.csv``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress == "gzip":
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    elif compress == "zip":
        inner = path.name
        path = path.with_suffix(".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(inner, data)
    else:
        path.write_bytes(data)
    return path


def write_csv(path: Path, header, rows, *, sep=",", encoding="utf-8", newline="\n", compress=None) -> Path:
    """Write a CSV extract; see :func:`csv_bytes` and :func:`write`."""
    return write(
        path, csv_bytes(header, rows, sep=sep, encoding=encoding, newline=newline), compress=compress
    )


def write_parquet(path: Path, header, rows, *, types: dict[str, pa.DataType] | None = None) -> Path:
    """Write rows as Parquet; columns are text unless ``types`` says otherwise (values converted)."""
    types = types or {}
    arrays = {}
    for i, name in enumerate(header):
        values = [r[i] for r in rows]
        typ = types.get(name, pa.string())
        if pa.types.is_integer(typ):
            values = [int(v) for v in values]
        elif pa.types.is_floating(typ):
            values = [float(v) for v in values]
        arrays[name] = pa.array(values, type=typ)
    pq.write_table(pa.table(arrays), path)
    return Path(path)


def make_vintage(raw_dir: Path, *, quarterly: bool = True) -> Path:
    """A small clean vintage: two legal units, three establishments, four jobs, quarterly headcounts."""
    raw_dir = Path(raw_dir)
    write_csv(raw_dir / "StockUniteLegale_utf8.csv", UL_HEADER, [ul("123456789"), ul("012345678", cj="5499")])
    write_csv(
        raw_dir / "StockEtablissement_utf8.csv",
        ETAB_HEADER,
        [
            etab("12345678900011"),
            etab("12345678900029", commune="13055"),
            etab("01234567800013", commune="2A004"),
        ],
        compress="gzip",
    )
    write_parquet(
        raw_dir / "postes_2023.parquet",
        POSTES_HEADER,
        [
            poste("12345678900011"),
            poste("12345678900011", SEXE="1"),
            poste("12345678900029"),
            poste("01234567800013", CPFD="P", EQTP="0.5", NBHEUR="800"),
        ],
        types={"AGE": pa.int16(), "EQTP": pa.float64(), "S_BRUT": pa.float64()},
    )
    if quarterly:
        write_csv(
            raw_dir / "effectifs_trimestriels.csv",
            EFFECTIFS_HEADER,
            [effectif("12345678900011"), effectif("12345678900011", "2024-T2", "10")],
            sep=";",
        )
    return raw_dir
