"""Parameter tables of the synthetic generator, shipped as data files in ``observatory/synth/data``.

- ``segments.csv``: one row per *segment* (a family or field × a group of activities). ``emplois_k`` is the
  segment's salaried headcount at 31/12 at national scale in thousands, on the published scale (≈ 25.2 M jobs,
  ESS ≈ 2.6 M); ``taille`` is the mean 31/12 headcount of its establishments that employ someone at 31/12,
  ``sigma`` the log-normal dispersion and ``taille_max`` the cap; ``etab_ul`` the mean number of employer
  establishments per legal unit; ``profil`` the occupation profile (``profils.csv``); ``femmes`` the share of
  women, ``partiel_f``/``partiel_h`` the part-time rate by sex, ``salaire`` a pay-level factor, ``cdd`` the
  share of fixed-term contracts; ``cj`` and ``naf`` weighted code lists (``code:weight ...``).
- ``profils.csv``: per occupation profile and sex, the PCS group weights (``2``…``6``) and the PCS-ESE codes
  drawn in each group.
- ``regions.csv``: per région, a salaried-employment intensity per inhabitant and the targeted ESS share of
  all jobs (ESS France Atlas commenté 2023).
- ``saisonnalite.csv``: end-of-quarter headcount factors per sector group (Urssaf-style seasonality).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

#: Salaried headcount at 31/12 (non-annex jobs held on 31 December) at fraction 1 before rounding. Every
#: establishment with someone at 31/12 is rounded up to at least one job, which adds ≈ 0.9 %, so the files
#: hold the published ≈ 25.2 M (ESS ≈ 2.6 M). With the few jobs ended during the year and the annex jobs
#: (``postes.nombres_de_postes``) the jobs file holds ≈ 25.8 M rows, within the 24–26 M of inputs.md §5.
#: Segment headcounts (``emplois_k``, summing to ≈ 25.1 M) are scaled by the same factor, so every share
#: (ESS, families, sectors) keeps its value.
EMPLOIS_31_12 = 25_000_000

#: Share of employer establishments nobody works in at 31/12 (employer during the year only).
PART_ETAB_SANS_EFFECTIF = 0.08

FAMILLES_ESS = ("association", "fondation", "mutuelle", "cooperative")
CHAMPS = (*FAMILLES_ESS, "prive", "public")
GROUPES_PCS = (2, 3, 4, 5, 6)

#: NAF division → observatory sector group (perimeter.md §6).
_SECTEURS = [
    ("AGR", 1, 3), ("IND", 5, 43), ("COM", 45, 47), ("TRA", 49, 53), ("HEB", 55, 56), ("INF", 58, 63),
    ("FIN", 64, 66), ("IMM", 68, 68), ("SOU", 69, 82), ("ADM", 84, 84), ("ENS", 85, 85), ("SAN", 86, 86),
    ("HMS", 87, 87), ("ASS", 88, 88), ("ART", 90, 91), ("SPO", 92, 93), ("AUT", 94, 99),
]
SECTEURS = tuple(s for s, _, _ in _SECTEURS)


def secteur_de_division(division: np.ndarray) -> np.ndarray:
    """Sector group code for an array of NAF divisions (ints); ``NCL`` when out of every range."""
    out = np.full(division.shape, "NCL", dtype=object)
    for code, lo, hi in _SECTEURS:
        out[(division >= lo) & (division <= hi)] = code
    return out


def _data(name: str) -> pd.DataFrame:
    with (resources.files("observatory.synth") / "data" / name).open("r", encoding="utf-8") as f:
        return pd.read_csv(f, sep=";", dtype=str, keep_default_na=False)


def parse_poids(spec: str) -> tuple[list[str], np.ndarray]:
    """``"9220:90 9230:5"`` → (codes, probabilities summing to 1); zero weights are dropped."""
    codes, poids = [], []
    for item in spec.split():
        code, w = item.split(":")
        if float(w) > 0:
            codes.append(code)
            poids.append(float(w))
    p = np.asarray(poids, dtype=float)
    return codes, p / p.sum()


@dataclass(frozen=True)
class Segment:
    """One row of ``segments.csv`` with its code lists parsed."""

    nom: str
    champ: str
    emplois_k: float
    taille: float
    sigma: float
    taille_max: int
    etab_ul: float
    profil: str
    femmes: float
    partiel_f: float
    partiel_h: float
    salaire: float
    cdd: float
    cj: tuple[list[str], np.ndarray]
    naf: tuple[list[str], np.ndarray]


@dataclass(frozen=True)
class Profils:
    """Occupation profiles: group probabilities ``proba[profil, sexe(0=h,1=f), groupe]`` and, per profile and
    group, the PCS codes to draw from (as indices into ``codes``)."""

    noms: list[str]
    proba: np.ndarray
    codes: list[str]
    debut: np.ndarray  # [profil, groupe] first index into codes
    nombre: np.ndarray  # [profil, groupe] how many codes


@lru_cache(maxsize=1)
def segments() -> list[Segment]:
    """The segments of ``segments.csv``."""
    out = []
    for r in _data("segments.csv").itertuples(index=False):
        out.append(
            Segment(
                nom=r.segment, champ=r.champ, emplois_k=float(r.emplois_k), taille=float(r.taille),
                sigma=float(r.sigma), taille_max=int(r.taille_max), etab_ul=float(r.etab_ul), profil=r.profil,
                femmes=float(r.femmes), partiel_f=float(r.partiel_f), partiel_h=float(r.partiel_h),
                salaire=float(r.salaire), cdd=float(r.cdd), cj=parse_poids(r.cj), naf=parse_poids(r.naf),
            )
        )
    return out


@lru_cache(maxsize=1)
def profils() -> Profils:
    """The occupation profiles of ``profils.csv``."""
    df = _data("profils.csv")
    noms = sorted(df["profil"].unique())
    proba = np.zeros((len(noms), 2, len(GROUPES_PCS)))
    codes: list[str] = []
    debut = np.zeros((len(noms), len(GROUPES_PCS)), dtype=np.int64)
    nombre = np.zeros_like(debut)
    for r in df.itertuples(index=False):
        p = noms.index(r.profil)
        groupes, w = parse_poids(r.groupes)
        for g, wi in zip(groupes, w, strict=True):
            proba[p, 1 if r.sexe == "2" else 0, GROUPES_PCS.index(int(g))] = wi
        if r.sexe == "1":
            continue
        for gi, g in enumerate(GROUPES_PCS):
            liste = getattr(r, f"codes_{g}").split()
            debut[p, gi] = len(codes)
            nombre[p, gi] = len(liste)
            codes.extend(liste)
    return Profils(noms=noms, proba=proba, codes=codes, debut=debut, nombre=nombre)


@lru_cache(maxsize=1)
def regions() -> pd.DataFrame:
    """``code_region``, ``intensite_emploi``, ``part_ess_cible`` (floats)."""
    df = _data("regions.csv")
    for c in ("intensite_emploi", "part_ess_cible"):
        df[c] = df[c].astype(float)
    return df


@lru_cache(maxsize=1)
def saisonnalite() -> pd.DataFrame:
    """End-of-quarter headcount factors (``T1``…``T4``) per sector group; sectors not listed are flat."""
    df = _data("saisonnalite.csv").set_index("secteur").astype(float)
    return df.reindex(list(SECTEURS) + ["NCL"]).fillna(1.0)
