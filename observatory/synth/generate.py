"""Orchestration: draw the population, then write the four extracts into ``out_dir``.

Files written (rows per file are returned):

- ``StockUniteLegale_utf8.csv`` — employer legal units, then as many non-employer ones;
- ``StockEtablissement_utf8.csv`` — every employer establishment, one establishment per non-employer unit,
  a few closed establishments, and the dirty duplicates;
- ``postes_<millesime>.csv`` when ``fraction < 0.05``, else ``postes_<millesime>.parquet``;
- ``effectifs_trimestriels.csv`` when ``fraction < 0.05``, else ``.parquet``.

Same arguments → byte-identical files: every random stream is seeded from ``seed`` and a fixed stream key.

Dirty rows (``dirty_rate`` of each file's rows, every kind at least once when the rate is positive): empty CJ,
unknown CJ ``1234`` (legal units); unknown communes ``99999``/``00000``, old nomenclature ``NAFRev1`` on open
establishments, exact duplicate rows (establishments); SIRET of 13 characters, negative ``S_BRUT``, missing
``S_NET``, ``AGE`` 200 (jobs). ``[ND]`` values are written, as in real files, in the name and address columns
of partially diffusible units (statut ``P``, mostly sole traders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from observatory.synth import params, postes, sirene, trimestres
from observatory.synth import population as pop_mod

#: From this fraction on, the jobs and quarterly files are written as Parquet instead of CSV.
SEUIL_PARQUET = 0.05

_VOIES = np.array(["RUE", "AV", "BD", "PL", "CHE", "IMP", "ALL", "RTE", "QU"], dtype=object)
_NOMS_VOIE = np.array(
    ["DE LA REPUBLIQUE", "JEAN JAURES", "VICTOR HUGO", "DE LA GARE", "DU GENERAL DE GAULLE", "PASTEUR",
     "DES ECOLES", "DE L EGLISE", "GAMBETTA", "DU MOULIN", "JULES FERRY", "DE PARIS", "DES LILAS", "DU STADE"],
    dtype=object,
)
_PREFIXES = {
    "association": np.array(["ASSOCIATION", "ASS", "AMICALE", "UNION", "CLUB", "FEDERATION", "COMITE"], dtype=object),
    "fondation": np.array(["FONDATION"], dtype=object),
    "mutuelle": np.array(["MUTUELLE", "MUTUELLE GENERALE", "MUTUELLE NATIONALE"], dtype=object),
    "cooperative": np.array(["COOPERATIVE", "SCOP", "CAISSE", "UNION COOPERATIVE", "SICA"], dtype=object),
    "prive": np.array(["SARL", "SAS", "SOCIETE", "ETS", "GROUPE"], dtype=object),
    "public": np.array(["COMMUNE DE", "SYNDICAT", "CENTRE", "ETABLISSEMENT PUBLIC", "REGIE"], dtype=object),
}
_MOTS = np.array(
    ["DU LITTORAL", "DES TROIS VALLEES", "SAINT MARTIN", "ARC EN CIEL", "LES TILLEULS", "HORIZON", "AVENIR",
     "SOLIDARITE", "DU PAYS", "DES CHENES", "LE PHARE", "BEAUSOLEIL", "DES SOURCES", "L ENVOL", "ATLANTIQUE",
     "DU CENTRE", "MONTAGNE", "DU VAL", "LES GLYCINES", "PROXIMITE"],
    dtype=object,
)


def _cat(*parts: np.ndarray) -> np.ndarray:
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + p.astype(object)
    return out


def _dates(rng: np.random.Generator, n: int, debut: int, fin: int) -> np.ndarray:
    lo = np.datetime64(f"{debut}-01-01")
    span = int((np.datetime64(f"{fin}-12-31") - lo).astype(int))
    # Skewed towards recent years, as in SIRENE.
    off = (span * (1 - rng.random(n) ** 0.6)).astype("timedelta64[D]")
    return np.datetime_as_string(lo + off, unit="D").astype(object)


@dataclass
class _Establishments:
    """Every establishment row (employer ones first, then one per non-employer unit, then closed ones)."""

    ul: np.ndarray  # the legal unit of each row
    rang: np.ndarray  # rank within its unit (0 = head office)
    nic: np.ndarray
    siret: np.ndarray
    n_employeurs: int
    employeur: np.ndarray
    ouvert: np.ndarray
    commune: np.ndarray
    naf: np.ndarray
    nomenclature: np.ndarray
    effectif: np.ndarray
    siege_nic: np.ndarray  # per legal unit: its head office's NIC


def _identifiers(rng_id: np.random.Generator, n_u: int) -> tuple[np.ndarray, np.ndarray]:
    """SIREN of ``n_u`` units: unique 8-digit bases + Luhn key (digits, and as text)."""
    base = np.unique(rng_id.integers(10**6, 10**8, int(n_u * 1.1) + 100))
    base = base[rng_id.permutation(len(base))[:n_u]]
    siren_d = np.hstack([sirene.digits(base, 8), sirene.luhn_cle(sirene.digits(base, 8))[:, None]])
    return siren_d, sirene.to_str(siren_d)


def _establishments(pop, siren_d: np.ndarray, siren: np.ndarray, rng_id: np.random.Generator) -> _Establishments:
    """Employer establishments, one per non-employer unit, and closed ones for a tenth of employer units; NIC =
    4-digit rank + Luhn key over the SIRET."""
    n_u, n_emp = len(pop.u_cj), pop.n_employeurs
    e_ul = pop.e_ul
    n_e = len(e_ul)
    ne_ul = np.arange(n_emp, n_u)
    closed_ul = np.flatnonzero(rng_id.random(n_emp) < 0.1)
    all_ul = np.concatenate([e_ul, ne_ul, closed_ul])
    all_rang = np.concatenate([pop.e_rang, np.zeros(len(ne_ul), dtype=np.int64),
                               np.bincount(e_ul, minlength=n_emp)[closed_ul]])
    nic_base = 1 + 3 * all_rang + rng_id.integers(0, 3, len(all_ul)) * (all_rang > 0)
    pref = np.hstack([siren_d[all_ul][:, :9], sirene.digits(nic_base, 4)])
    key = sirene.luhn_cle(pref)
    nic = sirene.to_str(np.hstack([sirene.digits(nic_base, 4), key[:, None]]))
    n_all = len(all_ul)
    ouvert = np.ones(n_all, dtype=bool)
    ouvert[n_e + len(ne_ul):] = False
    ouvert[n_e:n_e + len(ne_ul)] = pop.u_actif[ne_ul]
    siege_nic = np.empty(n_u, dtype=object)
    siege_nic[all_ul[all_rang == 0]] = nic[all_rang == 0]
    return _Establishments(
        ul=all_ul, rang=all_rang, nic=nic, siret=_cat(siren[all_ul], nic), n_employeurs=n_e,
        employeur=np.arange(n_all) < n_e, ouvert=ouvert,
        commune=np.concatenate([pop.e_commune, pop.u_commune[ne_ul], pop.u_commune[closed_ul]]),
        naf=np.concatenate([pop.e_naf, pop.u_naf[ne_ul], pop.u_naf[closed_ul]]),
        nomenclature=np.concatenate([np.full(n_e, "NAFRev2", dtype=object), pop.u_nomenclature[ne_ul],
                                     pop.u_nomenclature[closed_ul]]),
        effectif=np.concatenate([pop.e_effectif, np.zeros(n_all - n_e, dtype=np.int64)]),
        siege_nic=siege_nic,
    )


def _unit_attributes(pop, champ_seg: np.ndarray, rng_id: np.random.Generator, millesime: int) -> dict:
    """Legal-unit columns drawn before the dirty rows: ESS flag, diffusion status, names, dates, size."""
    n_u, n_emp = len(pop.u_cj), pop.n_employeurs
    u_champ = np.where(pop.u_seg >= 0, champ_seg[np.maximum(pop.u_seg, 0)], "hors_champ")
    u_eff = np.bincount(pop.e_ul, weights=pop.e_effectif, minlength=n_u).astype(np.int64)
    r = rng_id.random(n_u)
    ess_fam = np.isin(u_champ, params.FAMILLES_ESS) | np.isin(pop.u_cj, ["9220", "9210", "9300", "9260"])
    flag = np.where(ess_fam, np.where(r < 0.85, "O", np.where(r < 0.93, "", "N")), np.where(r < 0.9, "N", ""))
    # Commercial companies of the legal ESS perimeter (SAS/SARL SCOP, ESUS): flagged O.
    esus = np.isin(pop.u_cj, ["5710", "5499"]) & (u_champ == "prive") & (rng_id.random(n_u) < 0.004)
    flag = np.where(esus, "O", flag)
    statut = np.where((pop.u_cj == "1000") & (rng_id.random(n_u) < 0.05), "P", "O")
    prefix_idx = rng_id.integers(0, 7, n_u)
    denom = np.empty(n_u, dtype=object)
    for ch, pre in _PREFIXES.items():
        m = u_champ == ch
        denom[m] = _cat(pre[prefix_idx[m] % len(pre)], np.full(int(m.sum()), " ", dtype=object),
                        _MOTS[rng_id.integers(0, len(_MOTS), int(m.sum()))])
    m = u_champ == "hors_champ"
    denom[m] = _cat(np.full(int(m.sum()), "SOCIETE ", dtype=object), _MOTS[rng_id.integers(0, len(_MOTS), int(m.sum()))])
    denom = np.where(pop.u_cj == "1000", "", denom)
    denom = np.where(statut == "P", "[ND]", denom)
    cat_ent = np.where(u_eff >= 5000, "GE", np.where(u_eff >= 250, "ETI", "PME"))
    return {
        "flag": flag,
        "statut": statut,
        "denom": denom,
        "nom": np.where(pop.u_cj == "1000", np.where(statut == "P", "[ND]", "DUPONT"), ""),
        "creation": _dates(rng_id, n_u, 1950, millesime),
        "cat_ent": np.where(np.arange(n_u) < n_emp, cat_ent, ""),
        "tranche": np.where(np.arange(n_u) < n_emp, sirene.tranche(u_eff), "NN"),
        "assoc_id": np.where(
            np.isin(pop.u_cj, ["9220", "9230", "9222", "9223"]) & (rng_id.random(n_u) < 0.7),
            _cat(np.full(n_u, "W", dtype=object),
                 np.char.zfill(rng_id.integers(0, 10**9, n_u).astype(str), 9).astype(object)),
            "",
        ),
        "traitement": _cat(_dates(rng_id, n_u, millesime + 1, millesime + 1), np.full(n_u, "T03:12:45", dtype=object)),
    }


@dataclass
class _Dirty:
    """The dirty rows of the SIRENE files, drawn from their own stream."""

    cj: np.ndarray  # the units' CJ with some emptied or unknown
    k_et: int  # establishments with an unknown commune, and as many with an old nomenclature
    bad: np.ndarray
    ordre_et: np.ndarray  # the establishments' row order, duplicated rows included


def _dirty(seed: int, dirty_rate: float, u_cj: np.ndarray, n_all: int) -> tuple[_Dirty, np.random.Generator]:
    rng_d = np.random.default_rng([seed, 3])
    n_u = len(u_cj)
    cj = u_cj.copy()
    k_et = 0
    if dirty_rate > 0:
        k_ul = max(1, round(dirty_rate * n_u / 2))
        cj[rng_d.choice(n_u, k_ul, replace=False)] = ""
        cj[rng_d.choice(n_u, k_ul, replace=False)] = "1234"
        k_et = max(1, round(dirty_rate * n_all / 3))
    bad = rng_d.choice(n_all, 2 * k_et, replace=False)
    dup = np.sort(rng_d.choice(n_all, k_et, replace=False))
    ordre_et = np.sort(np.concatenate([np.arange(n_all), dup]), kind="stable")
    # the stream goes on in the establishments' file (communes of the unknown-commune rows)
    return _Dirty(cj=cj, k_et=k_et, bad=bad, ordre_et=ordre_et), rng_d


def _write_units(path: Path, pop, siren, e: _Establishments, u: dict, cj, rng_id, millesime: int) -> int:
    n_u, n_emp = len(pop.u_cj), pop.n_employeurs
    ul = sirene.Colonnes()
    ul["siren"] = siren
    ul["statutDiffusionUniteLegale"] = u["statut"]
    ul["dateCreationUniteLegale"] = u["creation"]
    ul["identifiantAssociationUniteLegale"] = u["assoc_id"]
    ul["trancheEffectifsUniteLegale"] = u["tranche"]
    ul["anneeEffectifsUniteLegale"] = np.where(u["tranche"] != "NN", str(millesime), "")
    ul["dateDernierTraitementUniteLegale"] = u["traitement"]
    ul["nombrePeriodesUniteLegale"] = (1 + rng_id.integers(0, 5, n_u)).astype(str).astype(object)
    ul["categorieEntreprise"] = u["cat_ent"]
    ul["anneeCategorieEntreprise"] = np.where(u["cat_ent"] != "", str(millesime - 1), "")
    ul["dateDebut"] = u["creation"]
    ul["etatAdministratifUniteLegale"] = np.where(pop.u_actif, "A", "C")
    ul["nomUniteLegale"] = u["nom"]
    ul["denominationUniteLegale"] = u["denom"]
    ul["categorieJuridiqueUniteLegale"] = cj
    ul["activitePrincipaleUniteLegale"] = pop.u_naf
    ul["nomenclatureActivitePrincipaleUniteLegale"] = pop.u_nomenclature
    ul["nicSiegeUniteLegale"] = e.siege_nic
    ul["economieSocialeSolidaireUniteLegale"] = u["flag"]
    ul["caractereEmployeurUniteLegale"] = np.where(np.arange(n_u) < n_emp, "O", "N")
    sirene.write_csv(path, sirene.COLONNES_UL, ul, n_u)
    return n_u


def _write_establishments(path: Path, com, siren, e: _Establishments, u: dict, dirty: _Dirty, rng_d, rng_id,
                          millesime: int) -> int:
    n_all, k_et, bad = len(e.ul), dirty.k_et, dirty.bad
    tr_e = np.where(e.employeur, sirene.tranche(e.effectif), np.where(e.ouvert, "NN", ""))
    statut_e = u["statut"][e.ul]
    num = (1 + rng_id.integers(0, 120, n_all)).astype(str).astype(object)
    voie = _VOIES[rng_id.integers(0, len(_VOIES), n_all)]
    lib_voie = _NOMS_VOIE[rng_id.integers(0, len(_NOMS_VOIE), n_all)]
    code_com = com.code[e.commune].copy()
    code_com[bad[:k_et]] = np.where(rng_d.random(k_et) < 0.5, "99999", "00000")
    e_naf = e.naf.copy()
    e_naf[bad[k_et:]] = "85.3K"
    e_nom = e.nomenclature.copy()
    e_nom[bad[k_et:]] = "NAFRev1"
    cp_dep = np.where(np.isin(com.dep[e.commune], ["2A", "2B"]), "20", com.dep[e.commune])
    cp_num = rng_id.integers(0, 100, n_all) * 10
    cp = np.array([d + str(x).zfill(5 - len(d))[-(5 - len(d)):] for d, x in zip(cp_dep, cp_num, strict=True)],
                  dtype=object)
    et = sirene.Colonnes()  # columns become Arrow arrays one at a time
    et["siren"] = siren[e.ul]
    et["nic"] = e.nic
    et["siret"] = e.siret
    et["statutDiffusionEtablissement"] = statut_e
    et["dateCreationEtablissement"] = np.maximum(u["creation"][e.ul], _dates(rng_id, n_all, 1970, millesime))
    et["trancheEffectifsEtablissement"] = tr_e
    et["anneeEffectifsEtablissement"] = np.where(e.employeur, str(millesime), "")
    et["dateDernierTraitementEtablissement"] = u["traitement"][e.ul]
    et["etablissementSiege"] = np.where(e.rang == 0, "true", "false")
    et["nombrePeriodesEtablissement"] = (1 + rng_id.integers(0, 4, n_all)).astype(str).astype(object)
    et["numeroVoieEtablissement"] = np.where(statut_e == "P", "[ND]", num)
    et["typeVoieEtablissement"] = np.where(statut_e == "P", "[ND]", voie)
    et["libelleVoieEtablissement"] = np.where(statut_e == "P", "[ND]", lib_voie)
    et["codePostalEtablissement"] = np.where(statut_e == "P", "[ND]", cp)
    et["libelleCommuneEtablissement"] = np.char.upper(com.libelle[e.commune].astype(str)).astype(object)
    et["codeCommuneEtablissement"] = code_com
    et["dateDebut"] = _dates(rng_id, n_all, 2008, millesime)
    et["etatAdministratifEtablissement"] = np.where(e.ouvert, "A", "F")
    et["activitePrincipaleEtablissement"] = e_naf
    et["nomenclatureActivitePrincipaleEtablissement"] = e_nom
    et["caractereEmployeurEtablissement"] = np.where(e.employeur, "O", "N")
    sirene.write_csv(path, sirene.COLONNES_ETAB, et, n_all, ordre=dirty.ordre_et)
    return len(dirty.ordre_et)


def _write_jobs(out_dir: Path, pop, e: _Establishments, champ_seg, millesime: int, fraction: float, seed: int,
                dirty_rate: float) -> dict[str, int]:
    """Jobs and quarterly headcounts of the employer establishments (true communes and activities)."""
    com, n_e = pop.communes, e.n_employeurs
    division = np.array([int(c[:2]) for c in np.unique(pop.e_naf)])
    secteur_par_naf = dict(zip(np.unique(pop.e_naf), params.secteur_de_division(division), strict=True))
    secteur = np.vectorize(secteur_par_naf.get, otypes=[object])(pop.e_naf) if n_e else np.array([], dtype=object)
    dept = com.dep[pop.e_commune]
    emp = postes.Etablissements(
        siret=e.siret[:n_e], seg=pop.e_seg, effectif=pop.e_effectif, dept=dept, regt=com.reg[pop.e_commune],
        secteur=secteur, naf=pop.e_naf,
    )
    fin, annexe = postes.nombres_de_postes(emp, np.random.default_rng([seed, 4]))
    parquet = fraction >= SEUIL_PARQUET
    p_po, n_po, masse = postes.ecrire(out_dir / f"postes_{millesime}", emp, fin, annexe, seed, dirty_rate, parquet)
    p_tr, n_tr = trimestres.ecrire(
        out_dir / "effectifs_trimestriels", millesime, e.siret[:n_e], champ_seg[pop.e_seg], secteur, dept,
        pop.e_effectif, masse, seed, parquet,
    )
    return {p_po.name: n_po, p_tr.name: n_tr}


def generate(out_dir: Path, millesime: int, fraction: float, seed: int, dirty_rate: float) -> dict[str, int]:
    """Write the four synthetic extracts for ``millesime`` at ``fraction`` of the national volume into
    ``out_dir`` and return the number of rows written per file name.

    The random streams are drawn in one fixed order (population, identifiers, establishments, units, dirty rows,
    then the files' own columns): the helpers below are called in that order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pop = pop_mod.build(fraction, np.random.default_rng([seed, 1]))
    champ_seg = np.array([s.champ for s in params.segments()], dtype=object)
    rng_id = np.random.default_rng([seed, 2])
    siren_d, siren = _identifiers(rng_id, len(pop.u_cj))
    e = _establishments(pop, siren_d, siren, rng_id)
    u = _unit_attributes(pop, champ_seg, rng_id, millesime)
    dirty, rng_d = _dirty(seed, dirty_rate, pop.u_cj, len(e.ul))
    p_ul, p_et = out_dir / "StockUniteLegale_utf8.csv", out_dir / "StockEtablissement_utf8.csv"
    summary = {p_ul.name: _write_units(p_ul, pop, siren, e, u, dirty.cj, rng_id, millesime)}
    summary[p_et.name] = _write_establishments(p_et, pop.communes, siren, e, u, dirty, rng_d, rng_id, millesime)
    return summary | _write_jobs(out_dir, pop, e, champ_seg, millesime, fraction, seed, dirty_rate)
