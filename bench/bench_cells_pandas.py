"""Benchmark: the indicator cells (``sql/indicators/cellules.sql``) in DuckDB against the same cells in pandas.

    .venv/bin/python bench/bench_cells_pandas.py                          # fractions 0.01 and 1.0
    .venv/bin/python bench/bench_cells_pandas.py --fractions 0.01 --engines duckdb pandas

Inputs are the classified tables ``ess.postes`` and ``ess.etablissements_employeurs`` (only the columns
``cellules.sql`` reads) exported to Parquet. They are made once per fraction and kept under ``--work``
(default ``/work/national-data/cells``, outside the repository): ``observatory generate`` and ingestion
through :func:`bench_pandas_baseline.prepare` (``data-<f>/``, ``staged-<f>/``), then ``apply_perimeter`` on
a copy of that warehouse and the export (``cells-<f>/postes.parquet``, ``cells-<f>/etablissements.parquet``).

Two engines, each in its own child process so that its peak RSS is its own (``os.wait4``):

- ``duckdb``  the project's ``cellules.sql``, unchanged, run with ``warehouse.run_sql`` in a fresh in-memory
  database (``threads=2``, ``memory_limit=4GB`` as the pipeline) where ``ess.postes`` and
  ``ess.etablissements_employeurs`` are views over the Parquet files; result: ``ind.cellules`` as Arrow.
- ``pandas``  the same cells in pandas and numpy: jobs read ≈ 2 M rows at a time and summed per
  establishment × sexe × pcs under integer keys (amounts in exact integer units as the SQL's DECIMAL: cents,
  1e-4 ETP, 1e-2 hours; a NULL amount adds nothing, and a gross payroll of jobs whose pay is all unknown stays
  NULL as the SQL's ``sum``), then per establishment and detail; then, one territory level and one crossing at
  a time (the EPCIs, ``_epci_inconnu`` and the atoms ``_piece`` only none and famille), grouped per
  territory × breakdown × *leaf* (the establishment's (public, ess, ess_loi_2014) flags); a champ is the
  union of its leaves (sums add, maxima take the max, enterprises are distinct SIRENs: a SIREN found in
  several leaves of a champ is counted once). Enterprises: ``n_ent`` on the crossings without sexe / pcs (by
  size band: once per territory and champ, in the band of its largest establishment of the champ there), ``freq_entreprises`` (the
  distinct SIRENs of the cell up to 3) on every crossing.

Time is measured inside the child from reading the Parquet files to the result in memory (interpreter start
and imports excluded). The parent watches the child's RSS and kills it above ``--max-rss-mb`` or after
``--timeout`` seconds; a killed engine is reported with the phases it finished (pandas prints one line per
territory level), not as a crash. The two results must be the same rows with the same values: sorted on
the cell key, counts and decimal sums compared exactly (DECIMAL scaled to integers, NULL as -1); the run
fails otherwise. Results are printed and appended to ``bench/out/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
WORK = Path("/work/national-data/cells")
BATCH_ROW_GROUPS = 16  # jobs read ≈ 2 M rows at a time by the pandas engine (DuckDB writes 122 880-row groups)

POSTES_COLUMNS = ["siret", "sexe", "pcs", "annexe", "present_31_12", "eqtp", "s_brut", "s_brut_salaire",
                  "eqtp_salaire", "s_net", "nbheur", "temps_partiel", "cdd", "age"]
ETAB_COLUMNS = ["siret", "siren", "code_region", "code_departement", "code_epci", "secteur", "tranche",
                "effectif_31_12", "famille_ess", "ess", "ess_loi_2014", "public"]

SEXES = ["F", "H"]                                   # ess.postes.sexe (staging rejects any other SEXE)
PCS = ["autres", "cadres", "employes", "ouvriers", "prof_intermediaires"]   # ess.postes.pcs groups
KEYS = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
DEFAULTS = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes"}
BANDS = ["age_moins_25", "age_25_34", "age_35_44", "age_45_54", "age_55_plus", "age_inconnu"]
COUNTED = ["temps_partiel", "cdd", "age50", *BANDS]
SUMS = ["n_salaries", "effectif", "etp", "masse", "masse_salaire", "etp_salaire", "s_net", "nbheur",
        *COUNTED]                                    # summed per cell
# freq_<name>: establishments with a non-zero contribution to <column> (pay field: masse_salaire > 0, hourly
# pay field: nbheur > 0)
FREQS = {"effectif": "effectif", "etp": "etp", "masse": "masse", "salaire": "masse_salaire",
         "horaire": "nbheur", **{q: q for q in COUNTED}}
MAXES = ["effectif", "etp", "masse", "s_net", "nbheur", *COUNTED]   # largest establishment contribution
JOB_MAX = ["max_poste_brut", "max_poste_net"]        # largest single job
# Internal columns: the jobs of known gross pay (masse is NULL without any) and the masse fed to max_masse
# (-1 when NULL: the max is -1 exactly when every contribution is NULL, and the sum is NULL then too).
JOB_SUMS = [*SUMS, "n_brut"]
MAX_SOURCE = {"masse": "masse_connue"}
COLUMNS = [
    *KEYS, "n_etab", "n_ent", "n_salaries",
    *(c for q in ("effectif", "etp", "masse") for c in (q, f"freq_{q}", f"max_{q}")),
    "masse_salaire", "etp_salaire", "freq_salaire",
    "s_net", "max_s_net", "nbheur", "max_nbheur", "freq_horaire",
    *(c for q in COUNTED for c in (q, f"freq_{q}", f"max_{q}")),
    *JOB_MAX, "freq_entreprises",
]

# The nine crossings of cellules.sql; sexe and pcs are job attributes, the others the establishment's.
CROSSINGS = [(), ("famille",), ("secteur",), ("tranche",), ("sexe",), ("famille", "sexe"), ("secteur", "sexe"),
             ("pcs",), ("sexe", "pcs")]
# Territory levels (the establishment's code in each: engine_pandas); the EPCI-like ones carry only the
# crossings none and famille (croisement_du_niveau).
LEVELS = ["france", "region", "departement", "epci", "_geo_inconnu", "_epci_inconnu", "_piece"]
EPCI_LIKE = ("epci", "_epci_inconnu", "_piece")
EPCI_CROSSINGS = [(), ("famille",)]


def _true(x) -> bool:
    return x is True


def _false(x) -> bool:
    return x is False


# Champ predicates on a leaf's (public, ess, ess_loi_2014), NULL-aware as SQL's CASE WHEN (NULL → not in).
CHAMPS = {
    "ensemble": lambda pub, ess, loi: True,
    "public": lambda pub, ess, loi: _true(pub),
    "prive": lambda pub, ess, loi: _false(pub),
    "ess": lambda pub, ess, loi: _true(ess),
    "prive_hors_ess": lambda pub, ess, loi: _false(pub) and _false(ess),
    "ess_loi_2014": lambda pub, ess, loi: _true(loi),
    "_sce": lambda pub, ess, loi: _true(loi) and _false(ess),
    "_oth": lambda pub, ess, loi: _false(pub) and _false(ess) and _false(loi),
}
FAMILLE_CHAMPS = ("ess", "ess_loi_2014")


# ------------------------------------------------------------------------------------------- preparation


def prepare_inputs(fraction: float, millesime: int, perimetre: str, work: Path) -> Path:
    """``<work>/cells-<f>/`` with ``postes.parquet`` and ``etablissements.parquet`` (made if missing)."""
    import pyarrow.parquet as pq
    from bench_pandas_baseline import prepare

    cells = work / f"cells-{fraction:g}"
    if (cells / "done").exists() and all(  # an export of an older column list is made again
            set(columns) <= set(pq.read_schema(cells / f"{name}.parquet").names)
            for name, columns in (("postes", POSTES_COLUMNS), ("etablissements", ETAB_COLUMNS))):
        return cells
    staged = prepare(fraction, millesime, perimetre, work)
    shutil.rmtree(cells, ignore_errors=True)
    cells.mkdir(parents=True)
    shutil.copy(staged / "warehouse.duckdb", cells / "warehouse.duckdb")  # the staged cache stays as it is
    subprocess.run([sys.executable, __file__, "--export", str(cells)], check=True)
    (cells / "warehouse.duckdb").unlink()
    shutil.rmtree(cells / "spill", ignore_errors=True)
    (cells / "done").write_text("")
    return cells


def export(cells: Path) -> None:
    """``apply_perimeter`` on ``cells/warehouse.duckdb``, then the columns cellules.sql reads to Parquet."""
    from observatory import perimeter
    from observatory.warehouse import connect

    con = connect(cells / "warehouse.duckdb", threads=2)
    con.execute("SET memory_limit = '4GB'")
    con.execute("SET temp_directory = $t", {"t": str(cells / "spill")})
    con.execute("SET enable_progress_bar = false")
    version = con.execute("SELECT perimetre_version FROM ref.perimetre_parametres").fetchone()[0]
    perimeter.apply_perimeter(con, version.split("+", 1)[0])
    for table, name, columns in (("ess.postes", "postes", POSTES_COLUMNS),
                                 ("ess.etablissements_employeurs", "etablissements", ETAB_COLUMNS)):
        con.execute(f"COPY (SELECT {', '.join(columns)} FROM {table}) TO '{cells / name}.parquet' (FORMAT parquet)")
    con.close()


# --------------------------------------------------------------------------------------------- engines


class _TimedConnection:
    """Passes ``execute`` to a DuckDB connection and records the seconds of each statement."""

    def __init__(self, con, phases: dict):
        self.con, self.phases = con, phases

    def execute(self, stmt, *params):
        name = "sql " + " ".join(stmt.split()[:5]).replace("CREATE OR REPLACE TABLE ", "")
        t0 = time.perf_counter()
        result = self.con.execute(stmt, *params)
        self.phases[name] = round(time.perf_counter() - t0, 2)
        return result


def engine_duckdb(inputs: Path, spill: Path, phases: dict):
    from observatory.warehouse import connect, run_sql

    con = connect(None, threads=2)
    con.execute("SET memory_limit = '4GB'")
    con.execute("SET temp_directory = $t", {"t": str(spill)})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE VIEW ess.postes AS SELECT * FROM read_parquet('{inputs / 'postes.parquet'}')")
    con.execute(f"CREATE VIEW ess.etablissements_employeurs AS "
                f"SELECT * FROM read_parquet('{inputs / 'etablissements.parquet'}')")
    run_sql(_TimedConnection(con, phases), "indicators/cellules.sql")
    t0 = time.perf_counter()
    table = con.table("ind.cellules").to_arrow_table()
    phases["fetch arrow"] = round(time.perf_counter() - t0, 2)
    return table


def _own_peak_mb() -> float:
    """This process's RSS high-water mark (VmHWM), in MB. Unlike ``ru_maxrss`` it does not carry over the
    peak of the parent that spawned the process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _mixed_radix(columns, sizes):
    """One int64 key from integer codes ``columns`` (code i in ``range(sizes[i])``)."""
    import numpy as np

    total = 1
    for s in sizes:
        total *= max(int(s), 1)
    assert total < 2**62, "key space too large for int64"
    key = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
    for col, size in zip(columns, sizes, strict=True):
        key = key * max(int(size), 1) + col
    return key


def _split_radix(key, sizes):
    """Inverse of :func:`_mixed_radix`."""
    import numpy as np

    out = []
    for size in reversed(sizes):
        key, rest = np.divmod(key, max(int(size), 1))
        out.append(rest)
    return out[::-1]


def _grouped(frame, key, sum_cols, max_cols, max_names):
    """Per distinct ``key``: n_etab (rows), sums of ``sum_cols``, maxima of ``max_cols`` (named ``max_names``)."""
    import pandas as pd

    g = frame.groupby(key, sort=False)
    return pd.concat([g.size().rename("n_etab"), g[sum_cols].sum(), g[max_cols].max().set_axis(max_names, axis=1)],
                     axis=1)


def _codes(values, labels):
    """Integer codes, in the fixed ``labels``, of a categorical column (an unknown value is an error)."""
    import pandas as pd

    codes = pd.Index(labels).get_indexer(values.cat.categories)[values.cat.codes.to_numpy()]
    assert (codes >= 0).all(), f"unexpected values {sorted(set(values.dropna()) - set(labels))}"
    return codes


def _job_sums(po, sirets):
    """One batch of jobs summed per establishment × sexe × pcs (index: the key of :func:`_mixed_radix` on
    the establishment's position in ``sirets``, the sexe and the pcs); jobs of other SIRETs are left out (the
    inner join). Amounts are exact integers: cents, 1e-4 ETP, 1e-2 hours; a NULL amount adds 0 (``n_brut``
    counts the jobs of known gross pay, so that a masse of none of them stays NULL)."""
    import numpy as np
    import pandas as pd

    assert not po["eqtp"].isna().any(), "ess.postes.eqtp has NULLs"  # guaranteed by the staging rules
    for col in ("s_brut", "s_brut_salaire", "s_net"):
        assert (po[col].fillna(0) >= 0).all(), f"negative {col}"
    sid = sirets.get_indexer(po["siret"].cat.categories.astype(np.int64))[po["siret"].cat.codes.to_numpy()]
    keep = sid >= 0
    po, sid = po[keep], sid[keep]
    present = po["present_31_12"].to_numpy()
    annexe = po["annexe"].to_numpy()
    age = np.asarray(po["age"], dtype=float)  # NaN: impossible age in the extract (no band but age_inconnu)

    def units(col: str, scale: int):
        return np.rint(np.nan_to_num(np.asarray(po[col], dtype=float)) * scale).astype(np.int64)

    s_brut = np.asarray(po["s_brut"], dtype=float)
    masse = units("s_brut", 100)
    s_net = np.where(annexe, 0, units("s_net", 100))  # FILTER (WHERE NOT annexe)
    jobs = pd.DataFrame({
        "n_salaries": ~annexe,
        "effectif": present,
        "etp": units("eqtp", 10_000),
        "masse": masse,
        "masse_salaire": units("s_brut_salaire", 100),
        "etp_salaire": units("eqtp_salaire", 10_000),
        "s_net": s_net,
        "nbheur": np.where(annexe, 0, units("nbheur", 100)),
        "temps_partiel": present & po["temps_partiel"].to_numpy(),
        "cdd": present & po["cdd"].to_numpy(),
        "age50": present & (age >= 50),
        "age_moins_25": present & (age < 25),
        "age_25_34": present & (age >= 25) & (age <= 34),
        "age_35_44": present & (age >= 35) & (age <= 44),
        "age_45_54": present & (age >= 45) & (age <= 54),
        "age_55_plus": present & (age >= 55),
        "age_inconnu": present & np.isnan(age),
        "n_brut": ~np.isnan(s_brut),
        # a NULL pay as 0: pay is >= 0, and a cell without any known pay gets 0 (coalesce at the end)
        "max_poste_brut": masse,
        "max_poste_net": s_net,
    })
    key = _mixed_radix([sid, _codes(po["sexe"], SEXES), _codes(po["pcs"], PCS)], [len(sirets), len(SEXES), len(PCS)])
    g = jobs.groupby(key, sort=False)
    out = g[JOB_SUMS].sum().astype(np.int64)
    out[JOB_MAX] = g[JOB_MAX].max()
    return out


def engine_pandas(inputs: Path, phases: dict):
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    t0 = time.perf_counter()

    def phase(name: str) -> None:
        """Record the seconds since the previous phase; print them with the peak RSS so far (a parent that
        kills this process still knows how far it went)."""
        nonlocal t0
        phases[name] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        print(json.dumps({"phase": name, "seconds": phases[name], "peak_mb": round(_own_peak_mb())}), flush=True)

    # Establishments: one row per SIRET; every attribute as integer codes (-1 = NULL).
    et = pd.read_parquet(inputs / "etablissements.parquet", columns=ETAB_COLUMNS)
    sirets = pd.Index(et["siret"].astype(np.int64))  # 14 digits (staging rule): an integer key, fast to look up
    assert sirets.is_unique, "ess.etablissements_employeurs has one row per SIRET"
    attr, uniques = {}, {}
    for name, col in (("famille", "famille_ess"), ("secteur", "secteur"), ("tranche", "tranche")):
        values = et[col].fillna("NCL") if name == "secteur" else et[col]
        attr[name], uniques[name] = pd.factorize(values)
    assert (attr["tranche"] >= 0).all(), "the perimeter sets every establishment's tranche"
    # Per territory level, each establishment's code there (-1: not in the level) and the codes' labels, as
    # dans_territoire / territoire_code: the unknown département / EPCI as '?', the atoms '<dép>|<EPCI>'.
    dep, epci = et["code_departement"], et["code_epci"]
    territory = {"france": (np.zeros(len(et), np.int64), np.array(["FR"], dtype=object))}
    for niveau, col in (("region", "code_region"), ("departement", "code_departement"), ("epci", "code_epci")):
        codes, values = pd.factorize(et[col])
        territory[niveau] = (codes, np.asarray(values, dtype=object))
    for niveau, col in (("_geo_inconnu", dep), ("_epci_inconnu", epci)):
        territory[niveau] = (np.where(col.isna().to_numpy(), 0, -1), np.array(["?"], dtype=object))
    codes, values = pd.factorize(dep.fillna("?").astype(str) + "|" + epci.fillna("?").astype(str))
    territory["_piece"] = (codes, np.asarray(values, dtype=object))
    assert list(territory) == LEVELS
    assert et["siren"].notna().all(), "every establishment has a SIREN"
    siren, _ = pd.factorize(et["siren"])
    n_siren = int(siren.max()) + 1
    effectif_etab = et["effectif_31_12"].to_numpy(np.int64)  # the size band's headcount (arg_max)
    # the leaf as in cellules.sql: 100 public + 10 ess + ess_loi_2014, 9 for NULL
    digits = [et[c].astype("Int64").fillna(9).to_numpy(np.int64) for c in ("public", "ess", "ess_loi_2014")]
    leaf, leaf_codes = pd.factorize(100 * digits[0] + 10 * digits[1] + digits[2])
    n_leaf = len(leaf_codes)
    leaf_flags = [tuple(None if x == 9 else bool(x) for x in (c // 100, c // 10 % 10, c % 10)) for c in leaf_codes]
    members = {c: np.array([i for i, f in enumerate(leaf_flags) if pred(*f)], dtype=np.int64)
               for c, pred in CHAMPS.items()}
    # SIRENs with establishments in several leaves (none when the flags are the legal unit's)
    multi = pd.Series(leaf).groupby(siren).nunique()
    multi_leaf_siren = np.zeros(n_siren, bool)
    multi_leaf_siren[multi.index[multi.to_numpy() > 1]] = True
    del et, digits, dep, epci
    phase("read + code establishments")

    # Jobs, read BATCH_ROW_GROUPS Parquet row groups at a time: summed per establishment × sexe × pcs (one
    # integer key), the partial sums of the batches summed again at the end (a SIRET's jobs may straddle two).
    parquet = pq.ParquetFile(inputs / "postes.parquet", read_dictionary=["siret", "sexe", "pcs"])
    groups = list(range(parquet.num_row_groups))
    partials = [_job_sums(parquet.read_row_groups(groups[i:i + BATCH_ROW_GROUPS], columns=POSTES_COLUMNS)
                          .to_pandas(), sirets)
                for i in range(0, len(groups), BATCH_ROW_GROUPS)]
    g = pd.concat(partials).groupby(level=0, sort=False)
    base = g[JOB_SUMS].sum()
    base[JOB_MAX] = g[JOB_MAX].max()
    del partials, g
    phase("jobs → establishment × sexe × pcs")

    # Each establishment's contribution per detail (none, sexe, pcs, sexe × pcs), freq flags beside.
    n_sexe, n_pcs = len(SEXES), len(PCS)
    sid_, sexe_, pcs_ = _split_radix(base.index.to_numpy(), [len(sirets), n_sexe, n_pcs])
    details = {}
    for job_dims in ((), ("sexe",), ("pcs",), ("sexe", "pcs")):
        parts = [sid_, *({"sexe": sexe_, "pcs": pcs_}[x] for x in job_dims)]
        sizes = [len(sirets), *({"sexe": n_sexe, "pcs": n_pcs}[x] for x in job_dims)]
        if job_dims == ("sexe", "pcs"):
            d = base.reset_index(drop=True)
        else:
            g = base.groupby(_mixed_radix(parts, sizes), sort=False)
            d = g[JOB_SUMS].sum()
            d[JOB_MAX] = g[JOB_MAX].max()
            parts = _split_radix(d.index.to_numpy(), sizes)
            d = d.reset_index(drop=True)
        for x, codes in zip(("sid", *job_dims), parts, strict=True):
            d[x] = codes
        for name, q in FREQS.items():
            d[f"freq_{name}"] = (d[q].to_numpy() > 0).astype(np.int64)
        d["masse_connue"] = np.where(d["n_brut"].to_numpy() > 0, d["masse"].to_numpy(), -1)
        details[job_dims] = d
    del base
    phase("per establishment and detail")

    sizes_of = {"famille": len(uniques["famille"]), "secteur": len(uniques["secteur"]),
                "tranche": len(uniques["tranche"]), "sexe": n_sexe, "pcs": n_pcs}
    labels = {"famille": np.asarray(uniques["famille"], dtype=object),
              "secteur": np.asarray(uniques["secteur"], dtype=object),
              "tranche": np.asarray(uniques["tranche"], dtype=object),
              "sexe": np.asarray(SEXES, dtype=object), "pcs": np.asarray(PCS, dtype=object)}
    sum_cols = [*SUMS, *(f"freq_{name}" for name in FREQS)]
    max_cols = [*(MAX_SOURCE.get(q, q) for q in MAXES), *JOB_MAX]
    out_max = [f"max_{c}" for c in MAXES] + JOB_MAX
    frames = []
    for niveau in LEVELS:
        territory_code, code_labels = territory[niveau]
        n_code = len(code_labels)
        for dims in EPCI_CROSSINGS if niveau in EPCI_LIKE else CROSSINGS:
            d = details[tuple(x for x in dims if x in ("sexe", "pcs"))]
            sid = d["sid"].to_numpy()
            champs = FAMILLE_CHAMPS if "famille" in dims else tuple(CHAMPS)
            ok = np.isin(leaf[sid], np.concatenate([members[c] for c in champs]))
            code = territory_code[sid]
            ok &= code >= 0
            dim_codes = [d[x].to_numpy() if x in ("sexe", "pcs") else attr[x][sid] for x in dims]
            for c in dim_codes:
                ok &= c >= 0
            if not ok.any():
                continue
            if ok.mean() < 0.5:  # few contributions (unknown territories, famille crossings): copy them
                d, sid, code, dim_codes = d[ok], sid[ok], code[ok], [c[ok] for c in dim_codes]
                ok = np.ones(len(d), bool)
            sizes = [n_code, *(sizes_of[x] for x in dims), n_leaf]
            key = _mixed_radix([np.where(ok, code, 0), *(np.where(ok, c, 0) for c in dim_codes), leaf[sid]], sizes)
            key[~ok] = -1  # otherwise the rows left out are grouped under -1 and dropped: no copy of the frame
            assert key.max() * n_siren < 2**62, "(cell, siren) pairs do not fit in int64"
            by_leaf = _grouped(d, key, sum_cols, max_cols, out_max).drop(index=-1, errors="ignore")
            leaf_key = by_leaf.index.to_numpy()
            ent = siren[sid]
            # enterprises with an establishment in each (territory, breakdown, leaf): distinct (key, siren) pairs
            pairs = pd.unique(key[ok] * n_siren + ent[ok])
            by_leaf["n_dist"] = pd.Series(pairs // n_siren).value_counts().reindex(leaf_key, fill_value=0).to_numpy()
            by_band = dims == ("tranche",)
            if by_band:
                # an enterprise in the band of its largest establishment per territory and leaf (arg_max(tranche,
                # effectif_etab): the band is a function of the headcount, so ties share it); kept: those, largest
                # first
                kept = np.flatnonzero(ok)
                kept = kept[np.argsort(-effectif_etab[sid[kept]], kind="stable")]
                owner = (code[kept] * n_leaf + leaf[sid[kept]]) * n_siren + ent[kept]
                kept = kept[~pd.Series(owner).duplicated().to_numpy()]
                by_leaf["n_ent"] = pd.Series(key[kept]).value_counts().reindex(leaf_key, fill_value=0).to_numpy()
            counts_ent = not {"sexe", "pcs"} & set(dims)  # n_ent NULL in the crossings with sexe or pcs
            cell_key, cell_leaf = leaf_key // n_leaf, leaf_key % n_leaf
            multi_rows = ok & multi_leaf_siren[ent]
            for champ in champs:
                wanted = np.isin(cell_leaf, members[champ])
                if not wanted.any():
                    continue
                part = by_leaf[wanted]
                g = part.groupby(cell_key[wanted], sort=False)
                cell = g[["n_etab", "n_dist", *(["n_ent"] if by_band else []), *sum_cols]].sum()
                cell[out_max] = g[out_max].max()
                rows = multi_rows & np.isin(leaf[sid], members[champ])
                if rows.any():  # a SIREN in several leaves of the champ is one enterprise (surplus)
                    k, s = key[rows] // n_leaf, ent[rows]
                    per_leaf = pd.DataFrame({"k": k, "s": s, "l": leaf[sid[rows]]}).drop_duplicates()
                    extra = per_leaf.groupby(["k", "s"]).size().sub(1).groupby(level="k").sum()
                    cell["n_dist"] -= extra.reindex(cell.index, fill_value=0).to_numpy()
                    if by_band:  # counted once, in the band of its largest establishment of the champ (surplus_tranche)
                        mine = kept[multi_leaf_siren[ent[kept]] & np.isin(leaf[sid[kept]], members[champ])]
                        top = mine[~pd.Series(code[mine] * n_siren + ent[mine]).duplicated().to_numpy()]
                        fix = (pd.Series(key[top] // n_leaf).value_counts()
                               .sub(pd.Series(key[mine] // n_leaf).value_counts(), fill_value=0))
                        cell["n_ent"] += fix.reindex(cell.index, fill_value=0).to_numpy().astype(np.int64)
                if not counts_ent:
                    cell["n_ent"] = -1
                elif not by_band:
                    cell["n_ent"] = cell["n_dist"]
                cell["freq_entreprises"] = np.minimum(cell["n_dist"].to_numpy(), 3)
                parts = _split_radix(cell.index.to_numpy(), sizes[:-1])
                cell = cell.reset_index(drop=True)
                keys = {"niveau": niveau, "code": code_labels[parts[0]], "champ": champ}
                for x, default in DEFAULTS.items():
                    keys[x] = labels[x][parts[1 + dims.index(x)]] if x in dims else default
                frames.append(pd.concat([pd.DataFrame(keys, index=cell.index), cell], axis=1))
        phase(f"level {niveau}")
    out = pd.concat(frames, ignore_index=True)
    out = out[COLUMNS].astype({c: np.int64 for c in COLUMNS[len(KEYS):]})
    out["n_ent"] = out["n_ent"].astype("Int64").mask(out["n_ent"] < 0)
    unknown_pay = out["max_masse"] < 0  # no job of the cell has a known gross pay: masse NULL as in SQL
    for c in ("masse", "max_masse"):
        out[c] = out[c].astype("Int64").mask(unknown_pay)
    phase("assemble")
    return out


def child(engine: str, inputs: Path, result: Path) -> None:
    """Run one engine, write its result to ``result`` (Parquet) and print its compute time as JSON."""
    if engine == "duckdb":
        import pyarrow.parquet as pq

        import observatory.warehouse  # noqa: F401  (imports are not timed)
    else:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    setup_rss = _own_peak_mb()
    phases: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if engine == "duckdb":
        spill = Path(tempfile.mkdtemp(prefix="spill-", dir=result.parent))
        table = engine_duckdb(inputs, spill, phases)
        n = table.num_rows
    else:
        df = engine_pandas(inputs, phases)
        n = len(df)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if engine == "duckdb":
        pq.write_table(table, result)
        shutil.rmtree(spill, ignore_errors=True)
    else:
        df.to_parquet(result, index=False)
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "setup_rss_mb": setup_rss, "cells": n, "phases": phases}))


def run_child(engine: str, inputs: Path, result: Path, max_rss_mb: float, timeout: float) -> dict:
    """Run ``engine`` in a child process; kill it above ``max_rss_mb`` resident or after ``timeout`` s."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", engine, "--inputs", str(inputs), "--result", str(result)],
        stdout=subprocess.PIPE,
    )
    killed: list[str] = []

    def watch() -> None:
        p, start = psutil.Process(proc.pid), time.monotonic()
        while proc.returncode is None:
            try:
                rss = p.memory_info().rss / 2**20
            except psutil.Error:
                return
            if rss > max_rss_mb or time.monotonic() - start > timeout:
                killed.append(f"RSS {rss:.0f} MB > {max_rss_mb:.0f}" if rss > max_rss_mb else f"> {timeout:.0f} s")
                proc.kill()
                return
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    lines = proc.stdout.read().decode().strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    watcher.join()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    fig = next((r for r in records if "phase" not in r), None)
    if fig is None:
        reason = killed[0] if killed else f"exit status {proc.returncode}"
        fig = {"failed": reason, "phases": {r["phase"]: r["seconds"] for r in records}}
    fig["phase_peak_mb"] = {r["phase"]: r["peak_mb"] for r in records if "phase" in r}
    fig["peak_rss_mb"] = usage.ru_maxrss / 1024
    return fig


def check_equal(duck: Path, pandas_result: Path) -> int:
    """Raise unless both results hold the same cells with the same values; return the number of cells.

    DECIMAL columns of the DuckDB result are scaled to integers (× 10^scale) and every measure compared
    exactly, NULL as -1 on both sides (n_ent in the crossings with sexe or pcs; masse and max_masse of a cell
    whose jobs all lack a gross pay); both sides are sorted on the cell key by the same DuckDB ORDER BY."""
    import duckdb
    import numpy as np

    con = duckdb.connect(config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($p))",
                             {"p": str(duck)}).fetchall())
    if list(types) != COLUMNS:
        raise AssertionError(f"cellules.sql columns differ from the pandas engine's: {list(types)}")
    exprs, plain = [], []
    for c, t in types.items():
        if c in KEYS:
            exprs.append(c)
            plain.append(c)
        else:
            scale = int(t.rstrip(")").split(",")[1]) if t.startswith("DECIMAL") else 0
            exprs.append(f"coalesce(CAST({c} * {10 ** scale} AS BIGINT), -1) AS {c}")
            plain.append(f"coalesce(CAST({c} AS BIGINT), -1) AS {c}")
    order = ", ".join(KEYS)
    a = con.execute(f"SELECT {', '.join(exprs)} FROM read_parquet($p) ORDER BY {order}", {"p": str(duck)}).df()
    b = con.execute(f"SELECT {', '.join(plain)} FROM read_parquet($p) ORDER BY {order}",
                    {"p": str(pandas_result)}).df()
    for name, df in (("duckdb", a), ("pandas", b)):
        if df.duplicated(KEYS).any():
            raise AssertionError(f"{name}: duplicate cell keys")
    if len(a) != len(b) or not a[KEYS].equals(b[KEYS]):
        keys_a = set(a[KEYS].itertuples(index=False))
        keys_b = set(b[KEYS].itertuples(index=False))
        raise AssertionError(f"different cells: {len(a)} vs {len(b)}; only duckdb {len(keys_a - keys_b)} "
                             f"e.g. {sorted(keys_a - keys_b)[:3]}; only pandas {len(keys_b - keys_a)} "
                             f"e.g. {sorted(keys_b - keys_a)[:3]}")
    bad = []
    for c in COLUMNS[len(KEYS):]:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind != "i" or not np.array_equal(x, y):
            diff = np.flatnonzero(x != y)
            bad.append(f"{c}: {len(diff)} cells differ, e.g. {a.loc[diff[0], KEYS].tolist() if len(diff) else ''}"
                       f" duckdb {x[diff[0]] if len(diff) else x.dtype} pandas {y[diff[0]] if len(diff) else ''}")
    if bad:
        raise AssertionError("values differ:\n  " + "\n  ".join(bad))
    return len(a)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.01, 1.0])
    p.add_argument("--millesime", type=int, default=2023)
    p.add_argument("--perimetre", default="insee-2008-4f")
    p.add_argument("--engines", nargs="+", choices=["duckdb", "pandas"], default=["duckdb", "pandas"])
    p.add_argument("--work", type=Path, default=WORK, help="where the extracts and inputs are kept (large)")
    p.add_argument("--max-rss-mb", type=float, default=14_000, help="kill an engine above this resident size")
    p.add_argument("--timeout", type=float, default=1800, help="kill an engine after this many seconds")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--inputs", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--export", help=argparse.SUPPRESS)
    p.add_argument("--check", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.export:
        export(Path(args.export))
        return
    if args.check:
        check_equal(Path(args.check[0]), Path(args.check[1]))
        return
    if args.child:
        child(args.child, Path(args.inputs), Path(args.result))
        return

    import pyarrow.parquet as pq

    rows, failures = [], []
    for fraction in args.fractions:
        inputs = prepare_inputs(fraction, args.millesime, args.perimetre, args.work)
        n_postes = pq.ParquetFile(inputs / "postes.parquet").metadata.num_rows
        with tempfile.TemporaryDirectory(prefix="bench-cells-", dir=args.work) as tmp:
            figs, results = {}, {}
            for engine in args.engines:
                load = os.getloadavg()
                results[engine] = Path(tmp) / f"{engine}.parquet"
                figs[engine] = run_child(engine, inputs, results[engine], args.max_rss_mb, args.timeout)
                figs[engine]["load"] = [round(x, 2) for x in load]
                print(f"fraction {fraction:g} {engine}: {json.dumps(figs[engine])}", flush=True)
            done = [e for e in args.engines if "failed" not in figs[e]]
            equal = None
            if len(done) == 2:  # in a child too: the parent stays small, so the engines' peaks are their own
                check = subprocess.run([sys.executable, __file__, "--check", str(results["duckdb"]),
                                        str(results["pandas"])], check=False, capture_output=True, text=True)
                equal = check.returncode == 0
                if not equal:
                    failures.append(f"fraction {fraction:g}: {check.stderr.strip()[-3000:]}")
        base = figs["pandas"].get("seconds") if "pandas" in done else None
        for engine, fig in figs.items():
            seconds = fig.get("seconds")
            rows.append({
                "bench": "cells_pandas", "fraction": fraction, "engine": engine, "postes": n_postes,
                "cells": fig.get("cells"), "seconds": round(seconds, 2) if seconds else None,
                "cpu_s": round(fig["cpu_s"], 2) if "cpu_s" in fig else None,
                "peak_rss_mb": round(fig["peak_rss_mb"]), "setup_rss_mb": round(fig.get("setup_rss_mb", 0)),
                "pandas_ratio": round(base / seconds, 2) if base and seconds else None,
                "equal": equal, "failed": fig.get("failed"), "phases": fig["phases"],
                "phase_peak_mb": fig["phase_peak_mb"], "load": fig["load"],
                "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            })
    print(f"{'fraction':>8} {'engine':<7} {'job rows':>11} {'cells':>10} {'wall s':>8} {'cpu s':>8} "
          f"{'peak MB':>8} {'pandas/duckdb':>14} {'load 1m':>7}")
    for r in rows:
        cells = f"{r['cells']:,}".replace(",", " ") if r["cells"] is not None else "-"
        wall = f"{r['seconds']:8.2f}" if r["seconds"] is not None else f"{'killed':>8}"
        cpu = f"{r['cpu_s']:8.2f}" if r["cpu_s"] is not None else f"{'-':>8}"
        print(f"{r['fraction']:>8g} {r['engine']:<7} {r['postes']:>11,} {cells:>10} {wall} {cpu} "
              f"{r['peak_rss_mb']:>8} {r['pandas_ratio']!s:>14} {r['load'][0]:>7}".replace(",", " "))
        if r["failed"]:
            print(f"         {r['engine']} stopped: {r['failed']}; phases done: {r['phases']}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "results.jsonl", "a", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    if failures:
        sys.exit("RESULTS DIFFER\n" + "\n".join(failures))
    for fraction in args.fractions:
        verdict = {r["equal"] for r in rows if r["fraction"] == fraction}
        print(f"fraction {fraction:g}: results equal: {'yes' if verdict == {True} else 'not checked'}")


if __name__ == "__main__":
    main()
