"""SIRENE stock files in the official INSEE layouts: ``StockUniteLegale`` (2022 layout, 33 columns) and
``StockEtablissement`` (53 columns), UTF-8, ``,``-separated, codes as text, ``true``/``false`` booleans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COLONNES_UL = [
    "siren", "statutDiffusionUniteLegale", "unitePurgeeUniteLegale", "dateCreationUniteLegale",
    "sigleUniteLegale", "sexeUniteLegale", "prenom1UniteLegale", "prenom2UniteLegale", "prenom3UniteLegale",
    "prenom4UniteLegale", "prenomUsuelUniteLegale", "pseudonymeUniteLegale",
    "identifiantAssociationUniteLegale", "trancheEffectifsUniteLegale", "anneeEffectifsUniteLegale",
    "dateDernierTraitementUniteLegale", "nombrePeriodesUniteLegale", "categorieEntreprise",
    "anneeCategorieEntreprise", "dateDebut", "etatAdministratifUniteLegale", "nomUniteLegale",
    "nomUsageUniteLegale", "denominationUniteLegale", "denominationUsuelle1UniteLegale",
    "denominationUsuelle2UniteLegale", "denominationUsuelle3UniteLegale", "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale", "nomenclatureActivitePrincipaleUniteLegale", "nicSiegeUniteLegale",
    "economieSocialeSolidaireUniteLegale", "caractereEmployeurUniteLegale",
]

COLONNES_ETAB = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "anneeEffectifsEtablissement", "activitePrincipaleRegistreMetiersEtablissement",
    "dateDernierTraitementEtablissement", "etablissementSiege", "nombrePeriodesEtablissement",
    "complementAdresseEtablissement", "numeroVoieEtablissement", "indiceRepetitionEtablissement",
    "dernierNumeroVoieEtablissement", "indiceRepetitionDernierNumeroVoieEtablissement", "typeVoieEtablissement",
    "libelleVoieEtablissement", "codePostalEtablissement", "libelleCommuneEtablissement",
    "libelleCommuneEtrangerEtablissement", "distributionSpecialeEtablissement", "codeCommuneEtablissement",
    "codeCedexEtablissement", "libelleCedexEtablissement", "codePaysEtrangerEtablissement",
    "libellePaysEtrangerEtablissement", "identifiantAdresseEtablissement", "coordonneeLambertAbscisseEtablissement",
    "coordonneeLambertOrdonneeEtablissement", "complementAdresse2Etablissement", "numeroVoie2Etablissement",
    "indiceRepetition2Etablissement", "typeVoie2Etablissement", "libelleVoie2Etablissement",
    "codePostal2Etablissement", "libelleCommune2Etablissement", "libelleCommuneEtranger2Etablissement",
    "distributionSpeciale2Etablissement", "codeCommune2Etablissement", "codeCedex2Etablissement",
    "libelleCedex2Etablissement", "codePaysEtranger2Etablissement", "libellePaysEtranger2Etablissement",
    "dateDebut", "etatAdministratifEtablissement", "enseigne1Etablissement", "enseigne2Etablissement",
    "enseigne3Etablissement", "denominationUsuelleEtablissement", "activitePrincipaleEtablissement",
    "nomenclatureActivitePrincipaleEtablissement", "caractereEmployeurEtablissement",
]

#: SIRENE size bands (``trancheEffectifs*``): lower bound of each band and its code.
_TRANCHES = [
    (1, "01"), (3, "02"), (6, "03"), (10, "11"), (20, "12"), (50, "21"), (100, "22"), (200, "31"),
    (250, "32"), (500, "41"), (1000, "42"), (2000, "51"), (5000, "52"), (10000, "53"),
]


def tranche(effectif: np.ndarray) -> np.ndarray:
    """SIRENE size band of a headcount (``00`` for nobody at 31/12)."""
    bornes = np.array([b for b, _ in _TRANCHES])
    codes = np.array(["00"] + [c for _, c in _TRANCHES], dtype=object)
    return codes[np.searchsorted(bornes, effectif, side="right")]


def luhn_cle(prefix: np.ndarray) -> np.ndarray:
    """Luhn check digit for an (n, k) array of digits, so that the k+1-digit number passes the Luhn test."""
    d = prefix.astype(np.int16)
    k = d.shape[1]
    doubled = (k - 1 - np.arange(k)) % 2 == 0  # positions 2, 4, … from the right once the key is appended
    dd = d[:, doubled] * 2
    d[:, doubled] = np.where(dd > 9, dd - 9, dd)
    return (10 - d.sum(axis=1) % 10) % 10


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) digit array of non-negative integers."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = np.asarray(values, dtype=np.int64).copy()
    for i in range(width - 1, -1, -1):
        out[:, i] = v % 10
        v //= 10
    return out


def to_str(d: np.ndarray) -> np.ndarray:
    """Digit array → fixed-width strings."""
    return np.asarray(d.astype(np.uint8) + ord("0")).view(f"S{d.shape[1]}").ravel().astype(str).astype(object)


class Colonnes(dict):
    """A dict that stores every column as a compact Arrow string array as soon as it is set, so that a
    national-scale file never holds all its columns as Python string objects at once."""

    def __setitem__(self, key: str, value) -> None:
        super().__setitem__(key, value if isinstance(value, pa.Array) else pa.array(value, type=pa.string()))


def write_csv(path: Path, columns: list[str], data: dict, n: int, ordre: np.ndarray | None = None) -> None:
    """Write every column of ``columns`` (missing ones empty) as unquoted text; ``ordre`` optionally gives the
    row order (indices, possibly repeated, e.g. for duplicated rows)."""
    empty = pa.array([""] * n, type=pa.string()) if n else pa.array([], type=pa.string())
    arrays = [data[c] if isinstance(data.get(c), pa.Array) else pa.array(data[c], type=pa.string()) if c in data
              else empty for c in columns]
    table = pa.Table.from_arrays(arrays, names=columns)
    ordre = np.arange(n) if ordre is None else ordre
    with open(path, "wb") as f:
        f.write((",".join(columns) + "\n").encode())
        for i in range(0, len(ordre), LIGNES_PAR_LOT):
            pacsv.write_csv(table.take(pa.array(ordre[i:i + LIGNES_PAR_LOT])), f, write_options=OPTIONS_CSV)


#: Rows written per batch (bounded memory for the reordered copy).
LIGNES_PAR_LOT = 500_000

#: Unquoted CSV as INSEE writes it; the header is written by hand (pyarrow would quote it).
OPTIONS_CSV = pacsv.WriteOptions(quoting_style="none", include_header=False)
