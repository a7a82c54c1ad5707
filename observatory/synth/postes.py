"""Job rows (*postes*, BTS layout) for every employer establishment, written in chunks.

Per establishment of 31/12 headcount ``h``: ``h`` non-annex jobs held at 31/12 (``FILT=1``, ``DATFIN=360``),
a Poisson number of non-annex jobs that ended during the year (more where fixed-term contracts are
frequent; at least one where nobody works at 31/12), and a few annex jobs (``FILT=2``). Ended and annex jobs
are kept few (≈ 2 % of rows) so that the national file holds the published 25.2 M jobs at 31/12 within the
24–26 M rows of inputs.md §5. Sex, part-time,
occupation, contract, dates, hours and pay are drawn per row from the segment's parameters, so family and
sector differences (women's share, part-time, cadres, pay level) come out of the data.

Definitions used: ``EQTP`` = quotité × ``DUREE`` / 360; full-time paid hours = 1 820 a year; gross hourly pay =
base × segment level × PCS group × sex × age × log-normal noise, never below the 2023 SMIC (11,27 €/h) except
apprentices; ``S_NET`` ≈ 78 % (private) or 81 % (public) of ``S_BRUT``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from observatory.synth import params
from observatory.synth.sirene import OPTIONS_CSV

COLONNES = [
    "SIRET", "SEXE", "AGE", "PCS", "CPFD", "CONT_TRAV", "TYP_EMPLOI", "FILT", "DATDEB", "DATFIN", "DUREE",
    "NBHEUR", "EQTP", "S_BRUT", "S_NET", "DEPT", "REGT",
]
HEURES_TEMPS_PLEIN = 1820.0
SMIC_HORAIRE_BRUT = 11.27
SALAIRE_HORAIRE_BASE = 15.0
#: Gross hourly pay factor per PCS group (2 chefs d'entreprise salariés, 3 cadres, 4 PI, 5 employés, 6 ouvriers).
FACTEUR_GROUPE = np.array([2.6, 2.2, 1.3, 0.93, 0.98])
FACTEUR_FEMMES = 0.93
CONTRATS = np.array(["CDI", "CDD", "APP", "TTP", "TOA", "AUT"], dtype=object)
TAILLE_MORCEAU = 2_000_000

#: Kinds of dirty job rows, each written at least once when ``dirty_rate > 0``.
SALETES = ("siret_longueur", "s_brut_negatif", "s_net_manquant", "age_200")


@dataclass
class Etablissements:
    """Per-establishment inputs to the job draw (arrays of the same length)."""

    siret: np.ndarray  # object array of str
    seg: np.ndarray
    effectif: np.ndarray
    dept: np.ndarray
    regt: np.ndarray
    secteur: np.ndarray
    naf: np.ndarray


def nombres_de_postes(et: Etablissements, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of non-annex jobs ended during the year and of annex jobs, per establishment."""
    segs = params.segments()
    cdd = np.array([s.cdd for s in segs])[et.seg]
    h = et.effectif
    fin = rng.poisson(h * (0.002 + 0.04 * cdd) + 0.03)
    fin = np.where(h == 0, np.maximum(fin, 1), fin)
    annexe = rng.poisson(h * 0.004 + 0.01)
    return fin.astype(np.int64), annexe.astype(np.int64)


def _draw_group(proba_cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return (u[:, None] > proba_cum).sum(axis=1)


@dataclass
class _Segments:
    """The segments' parameters as arrays indexed by segment."""

    public: np.ndarray
    ess: np.ndarray
    femmes: np.ndarray
    partiel: np.ndarray  # [segment, sexe]
    salaire: np.ndarray
    cdd: np.ndarray
    profil: np.ndarray
    cum: np.ndarray  # cumulated group probabilities [profil, sexe, groupe-1]
    prof: object

    @classmethod
    def read(cls) -> _Segments:
        segs = params.segments()
        prof = params.profils()
        champ = np.array([s.champ for s in segs], dtype=object)
        return cls(
            public=champ == "public",
            ess=np.isin(champ, params.FAMILLES_ESS),
            femmes=np.array([s.femmes for s in segs]),
            partiel=np.array([[s.partiel_h, s.partiel_f] for s in segs]),
            salaire=np.array([s.salaire for s in segs]),
            cdd=np.array([s.cdd for s in segs]),
            profil=np.array([prof.noms.index(s.profil) for s in segs]),
            cum=np.cumsum(prof.proba, axis=2)[..., :-1],
            prof=prof,
        )


def _chunks(counts: np.ndarray) -> list[int]:
    """Bounds of the establishment chunks, each about :data:`TAILLE_MORCEAU` jobs."""
    ends = np.cumsum(counts)
    bornes = [0]
    while bornes[-1] < len(counts):
        nxt = int(np.searchsorted(ends, (ends[bornes[-1] - 1] if bornes[-1] else 0) + TAILLE_MORCEAU))
        bornes.append(min(max(nxt, bornes[-1] + 1), len(counts)))
    return bornes


def _people(sg: _Segments, seg: np.ndarray, rng: np.random.Generator) -> tuple:
    """Sex, part time, socio-professional group and PCS of each job."""
    n = len(seg)
    femme = rng.random(n) < sg.femmes[seg]
    sexe_i = femme.astype(np.int64)
    partiel = rng.random(n) < sg.partiel[seg, sexe_i]
    p_i = sg.profil[seg]
    groupe = _draw_group(sg.cum[p_i, sexe_i], rng.random(n))
    pick = (rng.random(n) * sg.prof.nombre[p_i, groupe]).astype(np.int64)
    pcs = sg.prof.debut[p_i, groupe] + np.minimum(pick, sg.prof.nombre[p_i, groupe] - 1)
    return femme, partiel, groupe, pcs


def _contracts(sg: _Segments, seg, kind, interim, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Contract and job type: public statutory staff are AUT; temporary-work agencies employ TTP missions."""
    n = len(seg)
    u = rng.random(n)
    c31 = np.where(u < sg.cdd[seg] * 0.55, 1, np.where(u > 0.975, 2, 0))
    cfin = np.where(u < 0.6, 1, np.where(u < 0.66, 2, np.where(u < 0.72, 4, 0)))
    cann = np.where(u < 0.5, 1, np.where(u < 0.75, 4, 5))
    contrat = np.where(kind == 0, c31, np.where(kind == 1, cfin, cann))
    contrat = np.where(sg.public[seg] & (contrat == 0) & (rng.random(n) < 0.7), 5, contrat)
    contrat = np.where(interim & (kind > 0), 3, contrat)
    typ = np.where(contrat == 2, "A", np.where(rng.random(n) < np.where(sg.ess[seg], 0.04, 0.012), "X", "O"))
    return contrat, typ


def _ages(kind: np.ndarray, apprenti: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(kind)
    age = np.clip(np.rint(rng.normal(41.5, 11.5, n)), 16, 67).astype(np.int16)
    age = np.where(apprenti, 16 + (rng.random(n) * 9).astype(np.int16), age)
    age = np.where((kind == 1) & (rng.random(n) < 0.4), np.minimum(age, 18 + (rng.random(n) * 12)), age)
    return age.astype(np.int16)


def _periods(kind: np.ndarray, saisonnier: np.ndarray, rng: np.random.Generator) -> tuple:
    """Start, end and length of each job (day of year 1..360); summer jobs in seasonal sectors."""
    n = len(kind)
    debut = np.where(rng.random(n) < 0.82, 1, rng.integers(2, 360, n))
    d1 = np.where(rng.random(n) < 0.3, 1, rng.integers(1, 330, n))
    duree1 = np.ceil(rng.exponential(75, n)).astype(np.int64)
    ete = saisonnier & (rng.random(n) < 0.5)
    d1 = np.where(ete, rng.integers(150, 200, n), d1)
    duree1 = np.where(ete, rng.integers(30, 90, n), duree1)
    f1 = np.minimum(d1 + duree1 - 1, 359)
    d2 = rng.integers(1, 356, n)
    f2 = np.where(rng.random(n) < 0.1, 360, np.minimum(d2 + np.ceil(rng.exponential(6, n)).astype(np.int64), 359))
    datdeb = np.where(kind == 0, debut, np.where(kind == 1, d1, d2)).astype(np.int16)
    datfin = np.where(kind == 0, 360, np.where(kind == 1, f1, f2)).astype(np.int16)
    datdeb = np.minimum(datdeb, datfin)
    return datdeb, datfin, (datfin - datdeb + 1).astype(np.int16)


def _hours_and_pay(sg: _Segments, seg, kind, partiel, duree, femme, groupe, age, apprenti, pub, rng) -> tuple:
    """Hours, full-time equivalent, working-time code, gross and net pay of each job."""
    n = len(seg)
    quotite = np.where(partiel, rng.uniform(0.25, 0.9, n), 1.0)
    nbheur_t = HEURES_TEMPS_PLEIN * quotite * duree / 360.0
    nbheur_a = duree * rng.uniform(1.0, 4.0, n)
    nbheur = np.maximum(np.rint(np.where(kind == 2, nbheur_a, nbheur_t)), 1).astype(np.int32)
    eqtp = np.round(np.where(kind == 2, nbheur / HEURES_TEMPS_PLEIN, quotite * duree / 360.0), 4)
    cpfd = np.where(kind == 2, np.where(rng.random(n) < 0.3, "N", "P"), np.where(partiel, "P", "C"))
    age_f = np.clip(0.78 + 0.011 * (age - 20), 0.78, 1.25)
    horaire = (
        SALAIRE_HORAIRE_BASE * sg.salaire[seg] * FACTEUR_GROUPE[groupe] * np.where(femme, FACTEUR_FEMMES, 1.0)
        * age_f * np.exp(rng.normal(-0.03, 0.25, n))
    )
    horaire = np.where(apprenti, horaire * 0.55, np.maximum(horaire, SMIC_HORAIRE_BRUT))
    brut = np.round(horaire * nbheur, 2)
    net = np.round(brut * np.where(pub, 0.81, 0.78) * (1 + rng.normal(0, 0.01, n)), 2)
    return nbheur, eqtp, cpfd, brut, net


def _soil(sales: dict, lo: int, n: int, siret, brut, age_col, net_mask):
    """Apply the dirty rows that fall in jobs ``lo`` .. ``lo + n - 1`` (in place; returns the SIRET column)."""
    loc = {k: v[(v >= lo) & (v < lo + n)] - lo for k, v in sales.items()}
    brut[loc["s_brut_negatif"]] = -np.abs(brut[loc["s_brut_negatif"]])
    net_mask[loc["s_net_manquant"]] = True
    age_col[loc["age_200"]] = 200
    if len(loc["siret_longueur"]):
        s = siret.to_pylist()
        for i in loc["siret_longueur"]:
            s[i] = s[i][:13]
        siret = pa.array(s, type=pa.string()).dictionary_encode()
    return siret


def _chunk_table(et: Etablissements, sg: _Segments, dicts: dict, a: int, b: int, counts, fin, rng, sales, offset,
                 parquet: bool) -> tuple[pa.Table, np.ndarray]:
    """The jobs of establishments ``a`` .. ``b - 1`` as a table, and their gross payroll (non-annex jobs)."""
    c = counts[a:b]
    n = int(c.sum())
    e = np.repeat(np.arange(a, b), c)
    pos = np.arange(n) - np.repeat(np.cumsum(c) - c, c)
    h = et.effectif[e]
    kind = (pos >= h).astype(np.int8) + (pos >= h + fin[e])  # 0: 31/12, 1: ended, 2: annex
    seg = et.seg[e]
    pub = sg.public[seg]
    femme, partiel, groupe, pcs = _people(sg, seg, rng)
    contrat, typ = _contracts(sg, seg, kind, et.naf[e] == "78.20Z", rng)
    apprenti = contrat == 2
    age = _ages(kind, apprenti, rng)
    datdeb, datfin, duree = _periods(kind, np.isin(et.secteur, ["HEB", "SPO", "ART"])[e], rng)
    nbheur, eqtp, cpfd, brut, net = _hours_and_pay(sg, seg, kind, partiel, duree, femme, groupe, age, apprenti, pub, rng)
    masse = np.bincount(e - a, weights=np.where(kind < 2, brut, 0.0), minlength=b - a)

    siret = pa.DictionaryArray.from_arrays(pa.array(e.astype(np.int32)), dicts["siret"])
    age_col = age.astype(np.int16)
    net_mask = np.zeros(n, dtype=bool)
    if sales:
        siret = _soil(sales, offset, n, siret, brut, age_col, net_mask)
    table = pa.table(
        {
            "SIRET": siret.cast(pa.string()) if not parquet else siret,
            "SEXE": pa.array(np.where(femme, "2", "1")),
            "AGE": pa.array(age_col),
            "PCS": pa.DictionaryArray.from_arrays(pa.array(pcs.astype(np.int32)), dicts["pcs"]),
            "CPFD": pa.array(cpfd),
            "CONT_TRAV": pa.array(CONTRATS[contrat], type=pa.string()),
            "TYP_EMPLOI": pa.array(typ),
            "FILT": pa.array(np.where(kind == 2, "2", "1")),
            "DATDEB": pa.array(datdeb),
            "DATFIN": pa.array(datfin),
            "DUREE": pa.array(duree),
            "NBHEUR": pa.array(nbheur),
            "EQTP": pa.array(eqtp),
            "S_BRUT": pa.array(brut),
            "S_NET": pa.array(net, mask=net_mask),
            "DEPT": _dict(et.dept[e], dicts["dept"]),
            "REGT": _dict(et.regt[e], dicts["regt"]),
        }
    )
    if not parquet:
        table = pa.table({k: (col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col)
                          for k, col in zip(table.column_names, table.columns, strict=True)})
    return table, masse


def ecrire(
    path_base: Path,
    et: Etablissements,
    fin: np.ndarray,
    annexe: np.ndarray,
    seed: int,
    dirty_rate: float,
    parquet: bool,
) -> tuple[Path, int, np.ndarray]:
    """Write the jobs file; return its path, its row count and the gross payroll (Σ ``S_BRUT`` of non-annex
    jobs) per establishment. Jobs are drawn by chunks of establishments, each from its own stream."""
    sg = _Segments.read()
    counts = et.effectif + fin + annexe
    total = int(counts.sum())
    rng_sale = np.random.default_rng([seed, 99])
    sales: dict[str, np.ndarray] = {}
    if dirty_rate > 0:
        k = max(1, round(dirty_rate * total / len(SALETES)))
        for kind in SALETES:
            sales[kind] = np.unique(rng_sale.integers(0, total, k))
    dicts = {
        "siret": pa.array(et.siret, type=pa.string()),
        "dept": pa.array(np.unique(et.dept).astype(object), type=pa.string()),
        "regt": pa.array(np.unique(et.regt).astype(object), type=pa.string()),
        "pcs": pa.array(np.asarray(sg.prof.codes, dtype=object), type=pa.string()),
    }
    masse = np.zeros(len(counts))
    path = path_base.with_suffix(".parquet" if parquet else ".csv")
    writer = None
    fichier = None
    offset = 0
    try:
        for ci, (a, b) in enumerate(itertools.pairwise(_chunks(counts))):
            rng = np.random.default_rng([seed, 7, ci])
            table, masse[a:b] = _chunk_table(et, sg, dicts, a, b, counts, fin, rng, sales, offset, parquet)
            if writer is None:
                if parquet:
                    writer = pq.ParquetWriter(path, table.schema, compression="zstd")
                else:
                    fichier = open(path, "wb")  # noqa: SIM115 - closed in the finally clause
                    fichier.write((",".join(COLONNES) + "\n").encode())
                    writer = pacsv.CSVWriter(fichier, table.schema, write_options=OPTIONS_CSV)
            writer.write_table(table)
            offset += table.num_rows
    finally:
        if writer is not None:
            writer.close()
        if fichier is not None:
            fichier.close()
    return path, total, masse


def _dict(values: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    idx = np.searchsorted(np.asarray(dictionary.to_pylist(), dtype=object), values)
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), dictionary)
