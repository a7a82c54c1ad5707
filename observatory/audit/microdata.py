"""FREQ, VALUE and MAX of every cell, recomputed from the microdata with pandas (independent of ``sql/indicators``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.audit.rules import DEFAULTS
from observatory.errors import SecrecyError
from observatory.reference.geography import ATOM_LEVEL, UNKNOWN, atom_code

_AUDIT_CROSSINGS = [
    [],
    ["famille"],
    ["secteur"],
    ["tranche"],
    ["sexe"],
    ["pcs"],
    ["sexe", "pcs"],
    ["famille", "sexe"],
    ["secteur", "sexe"],
]
_NIVEAUX = {
    "france": None,
    "region": "code_region",
    "departement": "code_departement",
    "epci": "code_epci",
    # never published, derivable: the geographic atoms and the unknown territories (territory relations)
    ATOM_LEVEL: "code_atome",
    "_geo_inconnu": "geo_inconnu",
    "_epci_inconnu": "epci_inconnu",
}
#: The crossings computed for the internal levels (the territory relations hold on these only).
_INTERNAL_CROSSINGS = ([], ["famille"])


_SUMS = ["effectif", "etp", "masse", "masse_salaire", "s_net", "nbheur", "n_salaries"]
_JOB_MAX = ["max_poste_brut", "max_poste_net"]
#: Quantities whose contributing establishments are counted (``freq_<q>``: jobs at 31/12, ETP, gross pay, and
#: the fields of the mean pay figures: gross pay of the pay field, hours of the hourly-pay field).
CONTRIBUTING = ("effectif", "etp", "masse", "masse_salaire", "nbheur")
#: champ -> the leaves of the partition public / ESS / sociétés commerciales de l'ESS / other private it unites
_CHAMP_LEAVES = {
    "ensemble": ("PUB", "ESS", "SCE", "OTH"),
    "public": ("PUB",),
    "prive": ("ESS", "SCE", "OTH"),
    "ess": ("ESS",),
    "prive_hors_ess": ("SCE", "OTH"),
    "ess_loi_2014": ("ESS", "SCE"),
    # never published, derivable by subtraction: the audit checks that a secret one is not determined
    "_sce": ("SCE",),
    "_oth": ("OTH",),
}


POSTES_COLUMNS = [
    "siret",
    "sexe",
    "pcs",
    "annexe",
    "present_31_12",
    "eqtp",
    "s_brut",
    "s_brut_salaire",
    "s_net",
    "nbheur",
]
ETABS_COLUMNS = [
    "siret",
    "siren",
    "code_region",
    "code_departement",
    "code_epci",
    "secteur",
    "tranche",
    "famille_ess",
    "ess",
    "ess_loi_2014",
    "public",
]
BATCH_ROWS = 2_000_000


class _Codes:
    """Integer codes of one text column, the same across batches (missing values → -1)."""

    def __init__(self, values=()):
        self.values: list = []
        self._id: dict = {}
        for v in values:
            self._code(v)

    def _code(self, v) -> int:
        if v not in self._id:
            self._id[v] = len(self.values)
            self.values.append(v)
        return self._id[v]

    def encode(self, column) -> np.ndarray:
        codes, uniques = pd.factorize(np.asarray(column, dtype=object))
        lut = np.array([self._code(v) for v in uniques] + [-1], dtype=np.int64)
        return lut[codes]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.array(self.values, dtype=object)[codes]

    def __len__(self) -> int:
        return len(self.values)


_JOB_BITS = 16  # sexe and pcs codes in the key of an establishment × sexe × pcs (a few values each)


def _jobs_by_establishment(postes, sirets: pd.Index) -> tuple[pd.DataFrame, dict]:
    """The jobs summed per establishment × sexe × pcs (the finest crossing), with the largest job pay.

    ``postes`` is a DataFrame or an iterable of DataFrames (batches of jobs, so that 25 M jobs never sit in
    memory at once: each batch is summed, then the partial sums). Jobs of an establishment that is not an
    employer establishment are left out (as an inner join would). Returns the columns ``sid`` (position in
    ``sirets``), ``sexe`` and ``pcs`` as integer codes (-1 when missing), then the sums and maxima; and the
    :class:`_Codes` that decode ``sexe`` and ``pcs``.
    """
    agg = {c: "sum" for c in _SUMS} | {c: "max" for c in _JOB_MAX}
    codes = {"sexe": _Codes(), "pcs": _Codes()}
    batches = [postes] if isinstance(postes, pd.DataFrame) else postes
    parts = [_sum_jobs(batch, sirets, agg, codes) for batch in batches]
    base = parts[0] if len(parts) == 1 else pd.concat(parts).groupby(level=0, sort=False).agg(agg)
    k = base.index.to_numpy()
    mask = (1 << _JOB_BITS) - 1
    base = base.reset_index(drop=True)
    base.insert(0, "pcs", (k & mask) - 1)
    base.insert(0, "sexe", ((k >> _JOB_BITS) & mask) - 1)
    base.insert(0, "sid", k >> (2 * _JOB_BITS))
    return base, codes


def _sum_jobs(postes: pd.DataFrame, sirets: pd.Index, agg: dict, codes: dict) -> pd.DataFrame:
    sid = sirets.get_indexer(postes["siret"])
    keep = sid >= 0
    annexe = postes["annexe"].to_numpy(dtype=bool, na_value=False)[keep]
    s_net = postes["s_net"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    nbheur = postes["nbheur"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    s_brut = postes["s_brut"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    sexe = codes["sexe"].encode(postes["sexe"].to_numpy()[keep]) + 1
    pcs = codes["pcs"].encode(postes["pcs"].to_numpy()[keep]) + 1
    if max(len(codes["sexe"]), len(codes["pcs"])) >= (1 << _JOB_BITS) - 1:
        raise SecrecyError("audit: too many distinct sexe or pcs codes in the jobs")
    key = (sid[keep].astype(np.int64) << (2 * _JOB_BITS)) | (sexe << _JOB_BITS) | pcs
    jobs = pd.DataFrame(
        {
            "effectif": postes["present_31_12"].to_numpy(dtype="int64", na_value=0)[keep],
            "etp": postes["eqtp"].to_numpy(dtype="float64", na_value=np.nan)[keep],
            "masse": s_brut,
            # the pay field (ess.postes: non-annex, no apprentice or other job, gross pay known)
            "masse_salaire": postes["s_brut_salaire"].to_numpy(dtype="float64", na_value=np.nan)[keep],
            "s_net": np.where(annexe, 0.0, s_net),
            "nbheur": np.where(annexe, 0.0, nbheur),
            "n_salaries": (~annexe).astype("int64"),
            "max_poste_brut": s_brut,
            "max_poste_net": np.where(annexe, np.nan, s_net),
        }
    )
    return jobs.groupby(key, sort=False).agg(agg)


def _mixed_radix(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 key from integer codes (each in ``0 .. size-1``), the first column most significant."""
    key = np.zeros(len(columns[0]) if columns else 0, np.int64)
    for col, size in zip(columns, sizes, strict=True):
        key = key * size + col
    return key


def _split_radix(key: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of :func:`_mixed_radix`."""
    out = []
    for size in reversed(sizes):
        key, rest = np.divmod(key, size)
        out.append(rest)
    return out[::-1]


_LEAVES = ("PUB", "ESS", "SCE", "OTH")


def recompute_cells(postes, etabs: pd.DataFrame) -> pd.DataFrame:
    """FREQ, VALUE and MAX of every cell, from the microdata, with pandas only.

    ``postes``: the jobs, a DataFrame or an iterable of DataFrames (batches).

    Independent of ``sql/indicators``. The jobs are summed once per establishment × sexe × pcs, then per
    establishment × crossing; each territory level is grouped once per crossing by the four disjoint
    leaves public / ESS / sociétés commerciales de l'ESS / other private, and a champ is the union of its
    leaves (sums add, maxima take the max). The enterprise count adds up over leaves because a SIREN has
    one leaf (checked: otherwise it is counted per champ directly). Every grouping key is one integer (the
    codes of the territory, the breakdowns and the leaf), decoded to text at the end; a missing breakdown
    value leaves the row out of that crossing, as a groupby on the text columns does.
    """
    etabs = etabs.drop_duplicates("siret").reset_index(drop=True)
    sirets = pd.Index(etabs["siret"])
    leaf = np.select(
        [
            etabs.public.fillna(False).to_numpy(bool),
            etabs.ess.fillna(False).to_numpy(bool),
            etabs.ess_loi_2014.fillna(False).to_numpy(bool),
        ],
        [0, 1, 2],
        default=3,
    ).astype(np.int64)
    attr_values = {
        "famille": etabs["famille_ess"].to_numpy(),
        "secteur": etabs["secteur"].fillna("NCL").to_numpy(),
        "tranche": etabs["tranche"].to_numpy(),
        "code_region": etabs["code_region"].to_numpy(),
        "code_departement": etabs["code_departement"].to_numpy(),
        "code_epci": etabs["code_epci"].to_numpy(),
        "code_atome": np.array(
            [atom_code(d, e) for d, e in zip(etabs["code_departement"], etabs["code_epci"], strict=True)],
            dtype=object,
        ),
        "geo_inconnu": np.where(etabs["code_departement"].isna(), UNKNOWN, None),
        "epci_inconnu": np.where(etabs["code_epci"].isna(), UNKNOWN, None),
    }
    codes = {name: _Codes() for name in attr_values}
    attrs = {name: codes[name].encode(v) for name, v in attr_values.items()}
    attrs["siren"] = pd.factorize(etabs["siren"].to_numpy())[0].astype(np.int64)
    n_siren = int(attrs["siren"].max()) + 1 if len(etabs) else 1
    one_leaf = bool((pd.Series(leaf).groupby(attrs["siren"]).nunique() <= 1).all())
    base, job_codes = _jobs_by_establishment(postes, sirets)
    codes.update(job_codes)
    etab_effectif = np.bincount(base["sid"], weights=base["effectif"], minlength=len(sirets))
    maxima = {f"max_{q}": (q, "max") for q in ("effectif", "etp", "masse", "s_net", "nbheur")}
    per_cell = {
        "n_etab": ("sid", "size"),
        **{f"freq_{q}": (f"c_{q}", "sum") for q in CONTRIBUTING},
        **{q: (q, "sum") for q in _SUMS},
        **maxima,
        **{c: (c, "max") for c in _JOB_MAX},
    }
    combine = {
        "n_etab": "sum",
        "n_ent": "sum",
        "freq_entreprises": "sum",
        **{f"freq_{q}": "sum" for q in CONTRIBUTING},
        **{q: "sum" for q in _SUMS},
        **{c: "max" for c in [*maxima, *_JOB_MAX]},
    }
    values = [*_SUMS, *_JOB_MAX]
    agg = {c: "sum" for c in _SUMS} | {c: "max" for c in _JOB_MAX}
    frames = []
    for dims in _AUDIT_CROSSINGS:
        job_dims = [d for d in dims if d in ("sexe", "pcs")]
        if job_dims == ["sexe", "pcs"]:
            per = base
        else:
            ok = np.ones(len(base), bool)
            for d in job_dims:
                ok &= base[d].to_numpy() >= 0
            b = base[ok]
            cols = [b["sid"].to_numpy(), *(b[d].to_numpy() for d in job_dims)]
            sizes = [len(sirets), *(len(codes[d]) for d in job_dims)]
            per = b[values].groupby(_mixed_radix(cols, sizes), sort=False).agg(agg)
            parts = _split_radix(per.index.to_numpy(), sizes)
            per = per.reset_index(drop=True)
            per["sid"] = parts[0]
            for d, p in zip(job_dims, parts[1:], strict=True):
                per[d] = p
        sid = per["sid"].to_numpy()
        dim_codes = [per[d].to_numpy() if d in job_dims else attrs[d][sid] for d in dims]
        dim_sizes = [len(codes[d]) for d in dims]
        frame = per[[*values, "sid"]].assign(
            siren=attrs["siren"][sid],
            # each row is one establishment in its cell: it contributes to a quantity when it is positive
            **{f"c_{q}": (per[q].to_numpy() > 0).astype(np.int64) for q in CONTRIBUTING},
        )
        leaf_of = leaf[sid]
        for niveau, col in _NIVEAUX.items():
            if niveau.startswith("_") and dims not in _INTERNAL_CROSSINGS:
                continue
            code = np.zeros(len(per), np.int64) if col is None else attrs[col][sid]
            n_code = 1 if col is None else len(codes[col])
            ok = code >= 0
            for d in dim_codes:
                ok &= d >= 0
            key = _mixed_radix([code[ok], *(d[ok] for d in dim_codes), leaf_of[ok]], [n_code, *dim_sizes, 4])
            sub = frame[ok]
            # groups numbered in order of first appearance (as ``groupby(sort=False)``); the enterprises of a
            # group are its distinct (group, siren) pairs, counted with one hash pass instead of ``nunique``
            group, leaf_key = pd.factorize(key)
            by_leaf = sub.groupby(group, sort=True).agg(**per_cell)
            siren = sub["siren"].to_numpy()
            first = ~pd.Series(group * n_siren + siren).duplicated().to_numpy() & (siren >= 0)  # as nunique
            # enterprises with an establishment in the cell (the frequency rule's), before the size bands'
            # convention below
            by_leaf.insert(1, "freq_entreprises", np.bincount(group[first], minlength=len(leaf_key)))
            if "tranche" in dims:  # an enterprise counts once, in the band of its largest establishment here
                band = dim_codes[dims.index("tranche")][ok]
                top = (
                    pd.DataFrame(
                        {
                            "k": _mixed_radix(
                                [code[ok], leaf_of[ok], np.maximum(siren, 0)], [n_code, 4, n_siren]
                            ),
                            "eff": etab_effectif[sub["sid"].to_numpy()],
                            "band": band,
                        }
                    )
                    .sort_values("eff", kind="stable")
                    .groupby("k")
                    .band.transform("last")
                    .sort_index()
                )
                keep = (band == top.to_numpy()) & (siren >= 0)
                first = keep & ~pd.Series(np.where(keep, group * n_siren + siren, -1)).duplicated().to_numpy()
            by_leaf.insert(1, "n_ent", np.bincount(group[first], minlength=len(leaf_key)))
            for champ, leaves in _CHAMP_LEAVES.items():
                if "famille" in dims and champ not in ("ess", "ess_loi_2014"):
                    continue
                wanted = np.isin(leaf_key % 4, [_LEAVES.index(x) for x in leaves])
                cell = by_leaf[wanted].groupby(leaf_key[wanted] // 4, sort=False).agg(combine)
                if not one_leaf and len(leaves) > 1:
                    every = np.isin(key % 4, [_LEAVES.index(x) for x in leaves])  # rows of the champ
                    in_champ = every.copy()
                    if "tranche" in dims:  # once in the champ, in the band of its largest establishment there
                        idx = np.flatnonzero(in_champ)
                        d = pd.DataFrame(
                            {
                                "k": _mixed_radix([code[ok], np.maximum(siren, 0)], [n_code, n_siren]),
                                "eff": etab_effectif[sub["sid"].to_numpy()],
                                "band": dim_codes[dims.index("tranche")][ok],
                            }
                        ).iloc[idx]
                        top = d.sort_values("eff", kind="stable").groupby("k").band.transform("last")
                        in_champ[idx[d.band.to_numpy() != top.reindex(d.index).to_numpy()]] = False
                    ent_all = sub["siren"][every].groupby(key[every] // 4, sort=False).nunique()
                    cell["freq_entreprises"] = ent_all.reindex(cell.index).to_numpy()
                    ent = sub["siren"][in_champ].groupby(key[in_champ] // 4, sort=False).nunique()
                    cell["n_ent"] = ent.reindex(cell.index).to_numpy()
                parts = _split_radix(cell.index.to_numpy(), [n_code, *dim_sizes])
                cell = cell.reset_index(drop=True)
                keys = {
                    "code": np.full(len(cell), "FR", dtype=object)
                    if col is None
                    else codes[col].decode(parts[0])
                }
                keys.update({d: codes[d].decode(p) for d, p in zip(dims, parts[1:], strict=True)})
                cell = pd.concat([pd.DataFrame(keys), cell], axis=1)
                cell["niveau"], cell["champ"] = niveau, champ
                frames.append(cell)
    out = pd.concat(frames, ignore_index=True)
    for k, v in DEFAULTS.items():
        out[k] = out[k].fillna(v) if k in out else v
    return out
