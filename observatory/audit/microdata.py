"""FREQ, VALUE and MAX of every cell, recomputed from the microdata by the audit's own code (independent of
``sql/indicators``): the jobs summed per establishment in DuckDB (``sql/audit/``), the cells in pandas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from observatory.audit.rules import ATOMIC_BREAKDOWN_CHAMPS, ATOMIC_DIMS, ATOMIC_LEVELS, DEFAULTS
from observatory.reference.geography import ATOM_LEVEL, UNKNOWN, atom_code
from observatory.warehouse import sql_text

#: The crossings computed for the levels never published (the atoms, the unknown territories: the territory
#: relations hold on these only) and for the EPCIs, published for their champs, families, sexes, size bands
#: and sectors only. A published EPCI cell of another crossing has no recomputed cell, and the audit reports it
#: (:func:`observatory.audit.tables._primary_violations`).
_ATOMIC_BREAKDOWNS = [[d] for d in ATOMIC_DIMS]
_CHAMP_CROSSINGS = ([], ["famille"], *_ATOMIC_BREAKDOWNS)
_CHAMP_LEVELS = ("epci",)
# the territory crossings first: recompute_cells hands them over as soon as they are made
_AUDIT_CROSSINGS = [
    *_CHAMP_CROSSINGS,
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


def _jobs_by_establishment(postes, sirets: pd.Index) -> tuple[pd.DataFrame, dict]:
    """The jobs summed per establishment × sexe × pcs (the finest crossing), with the largest job pay
    (``sql/audit/postes_par_etablissement.sql``, in DuckDB).

    ``postes``: a DataFrame of jobs (the columns :data:`POSTES_COLUMNS`), or a DuckDB connection to the
    warehouse, whose ``ess.postes`` is then summed where it is (25 M jobs at France never come into memory).
    Jobs of an establishment that is not one of ``sirets`` (the employer establishments) are left out, as an
    inner join would. Returns the columns ``sid`` (position in ``sirets``), ``sexe`` and ``pcs`` as integer
    codes (-1 when missing), then the sums and maxima; and the :class:`_Codes` that decode ``sexe`` and ``pcs``.
    """
    employers = pd.DataFrame({"siret": sirets.to_numpy(dtype=object), "sid": np.arange(len(sirets))})
    if isinstance(postes, pd.DataFrame):
        con = duckdb.connect()
        con.register("_audit_postes", postes[POSTES_COLUMNS])
    else:
        con = postes
        con.execute(f"CREATE OR REPLACE TEMP VIEW _audit_postes AS SELECT {', '.join(POSTES_COLUMNS)} FROM ess.postes")
    con.register("_audit_employeurs", employers)
    try:
        sums = con.sql(sql_text("audit/postes_par_etablissement.sql")).to_arrow_table()
    finally:
        con.unregister("_audit_employeurs")
        con.execute("DROP VIEW IF EXISTS _audit_postes")
        if con is not postes:  # the in-memory database of a DataFrame
            con.close()
    base = sums.select(["sid", *_SUMS, *_JOB_MAX]).to_pandas()
    codes = {}
    for i, dim in enumerate(("sexe", "pcs")):  # text → integer codes in Arrow (7 M rows at France)
        encoded = pc.dictionary_encode(sums[dim]).combine_chunks()
        codes[dim] = _Codes(encoded.dictionary.to_pylist())
        base.insert(1 + i, dim, encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64))
    return base.astype({"sid": "int64", "effectif": "int64", "n_salaries": "int64"}), codes


def _aggregate(frame: pd.DataFrame, group: np.ndarray, n: int, spec: dict) -> pd.DataFrame:
    """``frame.groupby(group, sort=True).agg(**spec)`` for groups numbered ``0 .. n-1`` (all present), with
    ``size``, ``sum`` and ``max`` only: sums and sizes by ``np.bincount`` (NaN counted as 0, integer columns
    kept integer; the columns summed have no NaN), the maxima by ``np.fmax.at`` (NaN skipped, as pandas' max;
    twice as fast as a grouped pass, which hashes the group numbers again)."""
    out = {}
    maxima = {}
    for name, (column, how) in spec.items():
        if how == "size":
            out[name] = np.bincount(group, minlength=n)
        elif how == "sum":
            v = frame[column].to_numpy()
            # the sums of the jobs have no NaN (0 when nothing to sum: the SQL's coalesce)
            w = np.bincount(group, weights=v, minlength=n)
            out[name] = w.round().astype(np.int64) if v.dtype.kind in "iub" else w
        elif how == "max":
            maxima[name] = column
            out[name] = None
        else:
            raise ValueError(how)
    top = {}
    for column in set(maxima.values()):
        v = frame[column].to_numpy()
        # every group has a row: the start value is replaced (NaN stays where a group has only NaN)
        top[column] = np.full(n, np.nan if v.dtype.kind == "f" else np.iinfo(v.dtype).min, dtype=v.dtype)
        np.fmax.at(top[column], group, v)
    used = set()
    for name, column in maxima.items():
        out[name] = top[column].copy() if column in used else top[column]
        used.add(column)
    # the arrays are new: one block each, not copied into 2-D blocks (8.7 s of a France audit)
    return pd.DataFrame(out, copy=False)


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


def _atoms(etabs: pd.DataFrame) -> np.ndarray:
    """The geographic atom of each establishment (:func:`atom_code`, computed once per département × EPCI)."""
    pairs = etabs[["code_departement", "code_epci"]].astype(object)
    distinct = pairs.drop_duplicates()
    distinct = distinct.assign(
        atom=[atom_code(d, e) for d, e in zip(distinct.code_departement, distinct.code_epci, strict=True)]
    )
    atoms = pairs.merge(distinct, how="left", on=["code_departement", "code_epci"])["atom"]
    return atoms.to_numpy(dtype=object)


_MAXIMA = {f"max_{q}": (q, "max") for q in ("effectif", "etp", "masse", "s_net", "nbheur")}
#: What each cell × leaf holds, from the rows of its establishments (one row per establishment in the cell).
_PER_CELL = {
    "n_etab": ("sid", "size"),
    **{f"freq_{q}": (f"c_{q}", "sum") for q in CONTRIBUTING},
    **{q: (q, "sum") for q in _SUMS},
    **_MAXIMA,
    **{c: (c, "max") for c in _JOB_MAX},
}
#: How the leaves of a champ combine (the enterprise counts add up when a SIREN has one leaf): these add up…
_ADDED = ["n_etab", "n_ent", "freq_entreprises", *(f"freq_{q}" for q in CONTRIBUTING), *_SUMS]
#: … and these take the largest.
_LARGEST = [*_MAXIMA, *_JOB_MAX]
_JOB_AGG = {c: (c, "sum") for c in _SUMS} | {c: (c, "max") for c in _JOB_MAX}


@dataclass
class _Establishments:
    """The employer establishments as integer codes: their ``siret`` index, leaf (0 public, 1 ESS, 2 sociétés
    commerciales de l'ESS, 3 other private), the codes of their territories and breakdowns (``attrs``,
    decoded by ``codes``), their enterprise (``attrs["siren"]``), whether it has other establishments
    (``multi``) and whether every enterprise has one leaf (``one_leaf``)."""

    sirets: pd.Index
    leaf: np.ndarray
    attrs: dict
    codes: dict
    n_siren: int
    multi: np.ndarray
    one_leaf: bool


def _establishments(etabs: pd.DataFrame) -> _Establishments:
    etabs = etabs.drop_duplicates("siret").reset_index(drop=True)
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
        "code_atome": _atoms(etabs),
        "geo_inconnu": np.where(etabs["code_departement"].isna(), UNKNOWN, None),
        "epci_inconnu": np.where(etabs["code_epci"].isna(), UNKNOWN, None),
    }
    codes = {name: _Codes() for name in attr_values}
    attrs = {name: codes[name].encode(v) for name, v in attr_values.items()}
    siren = pd.factorize(etabs["siren"].to_numpy())[0].astype(np.int64)
    attrs["siren"] = siren
    n_siren = int(siren.max()) + 1 if len(etabs) else 1
    multi = (np.bincount(np.maximum(siren, 0), minlength=n_siren) > 1)[np.maximum(siren, 0)]
    one_leaf = bool((pd.Series(leaf).groupby(siren).nunique() <= 1).all())
    return _Establishments(pd.Index(etabs["siret"]), leaf, attrs, codes, n_siren, multi, one_leaf)


def _by_job_dims(base: pd.DataFrame, job_dims: list, n_sirets: int, codes: dict) -> pd.DataFrame:
    """The jobs summed per establishment × ``job_dims`` (a subset of sexe, pcs) from ``base`` (per establishment ×
    sexe × pcs); a missing value of one of ``job_dims`` leaves the row out."""
    if job_dims == ["sexe", "pcs"]:
        return base
    ok = np.ones(len(base), bool)
    for d in job_dims:
        ok &= base[d].to_numpy() >= 0
    b = base[ok]
    cols = [b["sid"].to_numpy(), *(b[d].to_numpy() for d in job_dims)]
    sizes = [n_sirets, *(len(codes[d]) for d in job_dims)]
    group, uniques = pd.factorize(_mixed_radix(cols, sizes))  # in order of first appearance
    per = _aggregate(b, group, len(uniques), _JOB_AGG)
    parts = _split_radix(uniques, sizes)
    per["sid"] = parts[0]
    for d, p in zip(job_dims, parts[1:], strict=True):
        per[d] = p
    return per


def _largest_band(k: np.ndarray, eff: np.ndarray, band: np.ndarray) -> np.ndarray:
    """For each row, the band of the row with the largest ``eff`` among the rows of its ``k`` (ties: the last)."""
    d = pd.DataFrame({"k": k, "eff": eff, "band": band})
    return d.sort_values("eff", kind="stable").groupby("k").band.transform("last").sort_index().to_numpy()


def recompute_cells(postes, etabs: pd.DataFrame, champ_cells: Callable | None = None) -> pd.DataFrame:
    """FREQ, VALUE and MAX of every cell, from the microdata.

    ``postes``: the jobs, a DataFrame or a connection to the warehouse (:func:`_jobs_by_establishment`).
    ``champ_cells`` (optional) is called with the cells of the crossings none, famille, sexe, tranche and
    secteur as soon as they are made, before the other crossings (the territory relations hold on those only:
    the audit starts checking them meanwhile).

    Independent of ``sql/indicators``. The jobs are summed once per establishment × sexe × pcs, then per
    establishment × crossing; each territory level is grouped once per crossing by the four disjoint
    leaves public / ESS / sociétés commerciales de l'ESS / other private, and a champ is the union of its
    leaves (sums add, maxima take the max). The enterprise count adds up over leaves because a SIREN has
    one leaf (checked: otherwise it is counted per champ directly). Every grouping key is one integer (the
    codes of the territory, the breakdowns and the leaf), decoded to text at the end; a missing breakdown
    value leaves the row out of that crossing, as a groupby on the text columns does.
    """
    est = _establishments(etabs)
    base, job_codes = _jobs_by_establishment(postes, est.sirets)
    codes = {**est.codes, **job_codes}
    etab_effectif = np.bincount(base["sid"], weights=base["effectif"], minlength=len(est.sirets))
    frames = []
    # the establishment × job breakdown sums and their rows' attributes, shared by the crossings with the same
    # job breakdowns (four of them for none, famille, tranche and secteur)
    by_job_dims: dict = {}
    for dims in _AUDIT_CROSSINGS:
        job_dims = [d for d in dims if d in ("sexe", "pcs")]
        if tuple(job_dims) not in by_job_dims:
            per = _by_job_dims(base, job_dims, len(est.sirets), codes)
            sid = per["sid"].to_numpy()
            frame = pd.DataFrame(  # one block per column, not copied into 2-D blocks (nothing writes to them)
                {
                    **{c: per[c].to_numpy() for c in (*_SUMS, *_JOB_MAX, "sid")},
                    "siren": est.attrs["siren"][sid],
                    "eff": etab_effectif[sid],
                    # each row is one establishment in its cell: it contributes to a quantity when positive
                    **{f"c_{q}": (per[q].to_numpy() > 0).astype(np.int64) for q in CONTRIBUTING},
                },
                copy=False,
            )
            by_job_dims[tuple(job_dims)] = per, frame
        per, frame = by_job_dims[tuple(job_dims)]
        sid = per["sid"].to_numpy()
        dim_codes = [per[d].to_numpy() if d in job_dims else est.attrs[d][sid] for d in dims]
        leaf = est.leaf[sid]
        dims_ok = np.ones(len(per), bool)
        for d in dim_codes:
            dims_ok &= d >= 0
        kept = []  # (rows kept, their frame): levels with the same rows (France, régions…) share one copy
        for niveau, col in _NIVEAUX.items():
            if (niveau.startswith("_") or niveau in _CHAMP_LEVELS) and dims not in _CHAMP_CROSSINGS:
                continue
            code = np.zeros(len(per), np.int64) if col is None else est.attrs[col][sid]
            ok = dims_ok & (code >= 0)
            if ok.all():
                sub, level = frame, _Level(niveau, col, code, dim_codes, leaf)
            else:
                sub = next((f for rows, f in kept if np.array_equal(rows, ok)), None)
                if sub is None:
                    sub = frame[ok]
                    kept.append((ok, sub))
                level = _Level(niveau, col, code[ok], [d[ok] for d in dim_codes], leaf[ok])
            frames += _level_cells(level, dims, sub, est, codes)
        if champ_cells is not None and dims == _CHAMP_CROSSINGS[-1]:  # the last of them (made first)
            champ_cells(_with_defaults(pd.concat(frames, ignore_index=True)))
    return _with_defaults(pd.concat(frames, ignore_index=True))


def _with_defaults(out: pd.DataFrame) -> pd.DataFrame:
    """The breakdown columns a crossing does not have, at their totals."""
    for k, v in DEFAULTS.items():
        out[k] = out[k].fillna(v) if k in out else v
    return out


def _combine(by_leaf: pd.DataFrame, cell_key: np.ndarray, n_leaves: int) -> pd.DataFrame:
    """The cells of a champ from the rows of its leaves (``cell_key``: each row's cell, in order of first
    appearance). A champ of one leaf has one row per cell: its rows are its cells."""
    if n_leaves == 1:
        return by_leaf[[*_ADDED, *_LARGEST]].set_axis(pd.Index(cell_key))
    group = by_leaf.groupby(cell_key, sort=False)
    return pd.concat([group[_ADDED].sum(), group[_LARGEST].max()], axis=1)


@dataclass
class _Level:
    """The rows of one territory level in one crossing: the territory code of each row (``col``'s codes, or 0
    for France), its breakdown codes and its leaf."""

    niveau: str
    col: str | None
    code: np.ndarray
    dim_codes: list
    leaf: np.ndarray


def _level_cells(level: _Level, dims: list, sub: pd.DataFrame, est: _Establishments, codes: dict) -> list:
    """The cells of one territory level in one crossing, per champ (frames with the key columns)."""
    n_code = 1 if level.col is None else len(codes[level.col])
    dim_sizes = [len(codes[d]) for d in dims]
    key = _mixed_radix([level.code, *level.dim_codes, level.leaf], [n_code, *dim_sizes, 4])
    # groups numbered in order of first appearance (as ``groupby(sort=False)``); the enterprises of a
    # group are its distinct (group, siren) pairs, counted with one hash pass instead of ``nunique``
    group, leaf_key = pd.factorize(key)
    by_leaf = _aggregate(sub, group, len(leaf_key), _PER_CELL)
    siren = sub["siren"].to_numpy()
    n_siren = est.n_siren
    # as nunique; only the rows of enterprises with several establishments can repeat a (group, siren) pair
    # (one establishment has one row per cell), so only they are hashed
    first = siren >= 0
    several = est.multi[sub["sid"].to_numpy()]
    first[several] &= ~pd.Series(group[several] * n_siren + siren[several]).duplicated().to_numpy()
    # enterprises with an establishment in the cell (the frequency rule's), before the size bands' convention
    by_leaf.insert(1, "freq_entreprises", np.bincount(group[first], minlength=len(leaf_key)))
    eff = sub["eff"].to_numpy()
    if "tranche" in dims:  # an enterprise counts once, in the band of its largest establishment here
        band = level.dim_codes[dims.index("tranche")]
        k = _mixed_radix([level.code, level.leaf, np.maximum(siren, 0)], [n_code, 4, n_siren])
        keep = (band == _largest_band(k, eff, band)) & (siren >= 0)
        first = keep & ~pd.Series(np.where(keep, group * n_siren + siren, -1)).duplicated().to_numpy()
    by_leaf.insert(1, "n_ent", np.bincount(group[first], minlength=len(leaf_key)))
    frames = []
    for champ, leaves in _CHAMP_LEAVES.items():
        if "famille" in dims and champ not in ("ess", "ess_loi_2014"):
            continue
        atomic_breakdown = dims in _ATOMIC_BREAKDOWNS and level.niveau in ATOMIC_LEVELS
        if atomic_breakdown and champ not in ATOMIC_BREAKDOWN_CHAMPS:
            continue
        wanted = np.isin(leaf_key % 4, [_LEAVES.index(x) for x in leaves])
        cell = _combine(by_leaf[wanted], leaf_key[wanted] // 4, len(leaves))
        if not est.one_leaf and len(leaves) > 1:
            every = np.isin(key % 4, [_LEAVES.index(x) for x in leaves])  # rows of the champ
            in_champ = every.copy()
            if "tranche" in dims:  # once in the champ, in the band of its largest establishment there
                idx = np.flatnonzero(in_champ)
                band = level.dim_codes[dims.index("tranche")][idx]
                k = _mixed_radix([level.code, np.maximum(siren, 0)], [n_code, n_siren])[idx]
                in_champ[idx[band != _largest_band(k, eff[idx], band)]] = False
            ent_all = sub["siren"][every].groupby(key[every] // 4, sort=False).nunique()
            cell["freq_entreprises"] = ent_all.reindex(cell.index).to_numpy()
            ent = sub["siren"][in_champ].groupby(key[in_champ] // 4, sort=False).nunique()
            cell["n_ent"] = ent.reindex(cell.index).to_numpy()
        parts = _split_radix(cell.index.to_numpy(), [n_code, *dim_sizes])
        cell = cell.reset_index(drop=True)
        keys = {
            "code": np.full(len(cell), "FR", dtype=object) if level.col is None else codes[level.col].decode(parts[0])
        }
        keys.update({d: codes[d].decode(p) for d, p in zip(dims, parts[1:], strict=True)})
        cell = pd.concat([pd.DataFrame(keys), cell], axis=1)
        cell["niveau"], cell["champ"] = level.niveau, champ
        frames.append(cell)
    return frames
