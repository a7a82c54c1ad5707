"""Benchmark: the core aggregation in pandas against DuckDB, at several scales in one run.

    .venv/bin/python bench/bench_pandas_baseline.py                       # fractions 0.01 and 1.0
    .venv/bin/python bench/bench_pandas_baseline.py --fractions 0.01 0.1 1.0 --repeat 2

The core aggregation is the ESS perimeter (legal unit → family on its CJ, activity exclusions, SIRENE flag;
establishment → département through the COG rattachement commune) and, by département × family, the
salaried headcount at 31/12, the full-time equivalents and the gross payroll (``docs/data-model.md``,
``sql/perimeter/*.sql``; default perimeter switches: family of the legal unit).

Inputs are the typed ``staging`` tables, i.e. after ingestion, which has no pandas counterpart (validation,
quarantine with line numbers). They are made once per fraction (``observatory generate`` if the vintage is
missing, then ``ingest_vintage``) and kept in ``bench/out/staged-<fraction>/``: a warehouse file holding
``ref.*`` and ``staging.*``, and the same tables exported to Parquet. Three engines, each in its own child
process so that its peak RSS is its own (``os.wait4``):

- ``pandas``   reads the Parquet files (only the columns it needs) and computes the aggregate in pandas;
- ``duckdb``   the same computation as one DuckDB query over the same Parquet files;
- ``pipeline`` the project's path: ``perimeter.apply_perimeter`` on a copy of the warehouse (staging tables
  already there), then a GROUP BY on ``ess.postes``.

The three results must be equal (counts exactly, sums to 1e-9 relative); the run fails otherwise. Time is
measured inside the child from reading to result (interpreter start and imports excluded); ``ratio`` is
pandas time / engine time. Results are printed and appended to ``bench/out/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
TABLES = ("unites_legales", "etablissements", "postes")
KEYS = ["code_departement", "famille_ess"]
MEASURES = ["postes", "effectif_31_12", "etp", "masse_salariale_brute"]


# ------------------------------------------------------------------------------------------- preparation


def prepare(fraction: float, millesime: int, perimetre: str, work: Path = OUT) -> Path:
    """The staged inputs of ``fraction`` (made if missing): ``<work>/staged-<f>/warehouse.duckdb`` + Parquet
    (extracts in ``<work>/data-<f>/<millesime>``, generated if missing)."""
    staged = work / f"staged-{fraction:g}"
    if (staged / "done").exists():
        return staged
    raw = work / f"data-{fraction:g}" / str(millesime)
    if not raw.exists():
        exe = Path(sys.executable).with_name("observatory")
        subprocess.run([str(exe), "generate", "--fraction", repr(fraction), "--millesime", str(millesime),
                        "--seed", "42", "--out", str(raw.parent)], check=True)
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    code = (
        "import sys; from pathlib import Path\n"
        "from observatory import ingest, reference\n"
        "from observatory.warehouse import connect\n"
        "staged, raw, perimetre = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]\n"
        "con = connect(staged / 'warehouse.duckdb', threads=2)\n"
        "con.execute('SET temp_directory = $t', {'t': str(staged / 'spill')})\n"
        "con.execute('SET enable_progress_bar = false')\n"
        "reference.load(con, perimetre=perimetre)\n"
        "ingest.ingest_vintage(con, raw)\n"
        "for t in ('unites_legales', 'etablissements', 'postes'):\n"
        "    con.execute(f\"COPY staging.{t} TO '{staged / t}.parquet' (FORMAT parquet)\")\n"
        "for t in ('communes', 'categories_juridiques', 'perimetre_cj', 'activites_exclues',\n"
        "          'perimetre_parametres'):\n"
        "    con.execute(f\"COPY ref.{t} TO '{staged / ('ref_' + t)}.parquet' (FORMAT parquet)\")\n"
        "con.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(staged), str(raw), perimetre], check=True)
    (staged / "done").write_text("")
    return staged


# --------------------------------------------------------------------------------------------- engines


def engine_pandas(staged: Path):
    import pandas as pd

    def ref(name: str, columns: list[str]) -> pd.DataFrame:
        return pd.read_parquet(staged / f"ref_{name}.parquet", columns=columns)

    params = ref("perimetre_parametres", ["activite_etablissement"])
    assert not params["activite_etablissement"].iloc[0], "baseline written for the default switches"
    cj_connues = set(ref("categories_juridiques", ["cj"])["cj"])
    familles = ref("perimetre_cj", ["cj", "famille"]).set_index("cj")["famille"]
    exclues = ref("activites_exclues", ["code", "niveau"])
    sous_classes = set(exclues.loc[exclues["niveau"] == "sous_classe", "code"])
    divisions = set(exclues.loc[exclues["niveau"] == "division", "code"])
    communes = ref("communes", ["code_commune", "code_commune_rattachement", "code_departement"])

    # Legal units → family (sql/perimeter/unites_legales.sql).
    ul = pd.read_parquet(staged / "unites_legales.parquet", columns=[
        "siren", "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale",
        "nomenclatureActivitePrincipaleUniteLegale", "economieSocialeSolidaireUniteLegale"])
    cj = ul["categorieJuridiqueUniteLegale"].str.strip().replace("", None)
    act = ul["activitePrincipaleUniteLegale"].str.strip().str.upper().replace("", None)
    nom = ul["nomenclatureActivitePrincipaleUniteLegale"].str.strip()
    drapeau = (ul["economieSocialeSolidaireUniteLegale"].str.strip().str.upper() == "O").fillna(False)
    famille_cj = cj.map(familles).fillna("hors_ess")
    rev2 = (nom == "NAFRev2").fillna(False) & act.notna()
    dans_liste = act.isin(sous_classes) | act.str[:2].isin(divisions)
    ess = cj.notna() & cj.isin(cj_connues) & (famille_cj != "hors_ess") & ~(rev2 & dans_liste.fillna(False))
    famille = famille_cj.where(ess, "hors_ess").mask(~ess & drapeau, "societe_commerciale_ess")
    unites = pd.DataFrame({"siren": ul["siren"], "famille_ess": famille}).drop_duplicates("siren")
    del ul, cj, act, nom, drapeau, famille_cj, rev2, dans_liste, ess, famille

    # Establishments → département (sql/perimeter/etablissements.sql), kept when their unit is known.
    et = pd.read_parquet(staged / "etablissements.parquet",
                         columns=["siret", "siren", "codeCommuneEtablissement"])
    commune = et["codeCommuneEtablissement"].str.strip().replace("", None)
    rattachement = commune.map(communes.set_index("code_commune")["code_commune_rattachement"])
    dept = rattachement.map(communes.set_index("code_commune")["code_departement"])
    etab = pd.DataFrame({"siret": et["siret"], "siren": et["siren"], "code_departement": dept})
    etab = etab.merge(unites, on="siren", how="inner")[["siret", "code_departement", "famille_ess"]]
    del et, commune, rattachement, dept

    # Jobs: summed per establishment first, then joined (sql/perimeter/postes.sql + etablissements_employeurs).
    po = pd.read_parquet(staged / "postes.parquet", columns=["SIRET", "FILT", "DATFIN", "EQTP", "S_BRUT"])
    present = (po["FILT"].str.strip() == "1").fillna(False) & (po["DATFIN"] == 360).fillna(False)
    par_siret = (
        pd.DataFrame({"siret": po["SIRET"], "postes": 1, "effectif_31_12": present.astype("int64"),
                      "etp": po["EQTP"], "masse_salariale_brute": po["S_BRUT"]})
        .groupby("siret", sort=False).sum(min_count=0).reset_index()
    )
    del po, present
    out = (
        par_siret.merge(etab, on="siret", how="inner")
        .groupby(KEYS, dropna=False, sort=False)[MEASURES].sum().reset_index()
    )
    return out


CORE_SQL = """
WITH
unites AS (
    SELECT
        u.siren,
        nullif(trim(u.categorieJuridiqueUniteLegale), '') AS cj,
        nullif(upper(trim(u.activitePrincipaleUniteLegale)), '') AS act,
        nullif(trim(u.nomenclatureActivitePrincipaleUniteLegale), '') AS nom,
        coalesce(upper(trim(u.economieSocialeSolidaireUniteLegale)) = 'O', false) AS drapeau
    FROM read_parquet($ul) AS u
),
classees AS (
    SELECT
        u.siren, u.drapeau, coalesce(p.famille, 'hors_ess') AS famille_cj,
        u.cj IS NOT NULL AND c.cj IS NOT NULL AND coalesce(p.famille, 'hors_ess') <> 'hors_ess'
          AND NOT coalesce(u.nom = 'NAFRev2' AND u.act IS NOT NULL
                           AND (u.act IN (SELECT code FROM read_parquet($ex) WHERE niveau = 'sous_classe')
                                OR left(u.act, 2) IN (SELECT code FROM read_parquet($ex) WHERE niveau = 'division')),
                           false) AS ess
    FROM unites AS u
    LEFT JOIN read_parquet($cjs) AS c ON c.cj = u.cj
    LEFT JOIN read_parquet($pcj) AS p ON p.cj = u.cj
),
familles AS (
    SELECT DISTINCT ON (siren) siren,
        CASE WHEN ess THEN famille_cj WHEN drapeau THEN 'societe_commerciale_ess' ELSE 'hors_ess' END AS famille_ess
    FROM classees
),
etab AS (
    SELECT e.siret, r.code_departement, f.famille_ess
    FROM read_parquet($et) AS e
    JOIN familles AS f ON f.siren = e.siren
    LEFT JOIN read_parquet($com) AS c ON c.code_commune = nullif(trim(e.codeCommuneEtablissement), '')
    LEFT JOIN read_parquet($com) AS r ON r.code_commune = c.code_commune_rattachement
),
par_siret AS (  -- jobs summed per establishment first, as the pandas engine does
    SELECT p.SIRET AS siret,
           count(*) AS postes,
           count(*) FILTER (WHERE coalesce(trim(p.FILT) = '1' AND p.DATFIN = 360, false)) AS effectif_31_12,
           sum(p.EQTP) AS etp,
           sum(p.S_BRUT) AS masse_salariale_brute
    FROM read_parquet($po) AS p
    GROUP BY ALL
)
SELECT e.code_departement, e.famille_ess,
       sum(s.postes) AS postes,
       sum(s.effectif_31_12) AS effectif_31_12,
       coalesce(sum(s.etp), 0) AS etp,
       coalesce(sum(s.masse_salariale_brute), 0) AS masse_salariale_brute
FROM par_siret AS s
JOIN etab AS e ON e.siret = s.siret
GROUP BY ALL
"""

PIPELINE_SQL = """
SELECT code_departement, famille_ess,
       count(*) AS postes,
       count(*) FILTER (WHERE present_31_12) AS effectif_31_12,
       coalesce(sum(eqtp), 0) AS etp,
       coalesce(sum(s_brut), 0) AS masse_salariale_brute
FROM ess.postes
GROUP BY ALL
"""


def engine_duckdb(staged: Path):
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    params = {t: str(staged / f"{f}.parquet") for t, f in (
        ("ul", "unites_legales"), ("et", "etablissements"), ("po", "postes"), ("ex", "ref_activites_exclues"),
        ("cjs", "ref_categories_juridiques"), ("pcj", "ref_perimetre_cj"), ("com", "ref_communes"))}
    return con.execute(CORE_SQL, params).df()


def engine_pipeline(staged: Path, work: Path):
    from observatory import perimeter
    from observatory.warehouse import connect

    con = connect(work / "warehouse.duckdb", threads=2)
    con.execute("SET temp_directory = $t", {"t": str(work / "spill")})
    con.execute("SET enable_progress_bar = false")
    version = con.execute("SELECT perimetre_version FROM ref.perimetre_parametres").fetchone()[0]
    perimeter.apply_perimeter(con, version.split("+", 1)[0])
    return con.execute(PIPELINE_SQL).df()


def child(engine: str, staged: Path, result: Path) -> None:
    """Run one engine, write its result to ``result`` (Parquet) and print its compute time as JSON."""
    import resource

    work = None
    if engine == "pipeline":  # the copy is set-up, not measured
        work = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=os.environ.get("BENCH_WORK_DIR")))
        shutil.copy(staged / "warehouse.duckdb", work / "warehouse.duckdb")
    setup_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    if engine == "pandas":
        df = engine_pandas(staged)
    elif engine == "duckdb":
        df = engine_duckdb(staged)
    else:
        df = engine_pipeline(staged, work)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    df.to_parquet(result, index=False)
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "setup_rss_mb": setup_rss}))


def run_child(engine: str, staged: Path) -> tuple[dict, object]:
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        result = Path(tmp) / "result.parquet"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", engine, "--staged", str(staged), "--result", str(result)],
            stdout=subprocess.PIPE,
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{engine} failed with status {proc.returncode}")
        fig = json.loads(out.decode().strip().splitlines()[-1])
        fig["peak_rss_mb"] = usage.ru_maxrss / 1024
        df = pd.read_parquet(result)
    return fig, df


def check_equal(a, b, what: str) -> None:
    import numpy as np

    a = a[KEYS + MEASURES].sort_values(KEYS, na_position="first").reset_index(drop=True)
    b = b[KEYS + MEASURES].sort_values(KEYS, na_position="first").reset_index(drop=True)
    if len(a) != len(b) or not a[KEYS].fillna("∅").equals(b[KEYS].fillna("∅")):
        raise AssertionError(f"{what}: different cells ({len(a)} vs {len(b)})")
    for col in ("postes", "effectif_31_12"):
        if not (a[col].astype("int64").to_numpy() == b[col].astype("int64").to_numpy()).all():
            raise AssertionError(f"{what}: {col} differs")
    for col in ("etp", "masse_salariale_brute"):
        if not np.allclose(a[col].astype(float), b[col].astype(float), rtol=1e-9, atol=1e-6):
            raise AssertionError(f"{what}: {col} differs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.01, 1.0])
    p.add_argument("--millesime", type=int, default=2023)
    p.add_argument("--perimetre", default="insee-2008-4f")
    p.add_argument("--engines", nargs="+", default=["pandas", "duckdb", "pipeline"])
    p.add_argument("--repeat", type=int, default=1, help="runs per engine; the fastest is kept")
    p.add_argument("--work", type=Path, default=OUT,
                   help="where the extracts and staged inputs are kept (default bench/out; they are large)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--staged", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, Path(args.staged), Path(args.result))
        return

    rows = []
    for fraction in args.fractions:
        staged = prepare(fraction, args.millesime, args.perimetre, args.work)
        import duckdb

        n_postes = duckdb.connect().execute(
            "SELECT count(*) FROM read_parquet($p)", {"p": str(staged / "postes.parquet")}
        ).fetchall()[0][0]
        results = {}
        for engine in args.engines:
            runs = []
            for _ in range(args.repeat):
                fig, df = run_child(engine, staged)
                runs.append(fig)
            best = min(runs, key=lambda f: f["seconds"])
            best["all_s"] = [round(f["seconds"], 2) for f in runs]
            best["peak_rss_mb"] = max(f["peak_rss_mb"] for f in runs)
            results[engine] = (best, df)
        first = next(iter(results))
        for engine, (_, df) in results.items():
            check_equal(results[first][1], df, f"fraction {fraction:g}: {first} vs {engine}")
        base = results["pandas"][0]["seconds"] if "pandas" in results else None
        for engine, (fig, df) in results.items():
            rows.append({
                "bench": "pandas_baseline", "fraction": fraction, "engine": engine, "postes": n_postes,
                "cells": len(df), "seconds": round(fig["seconds"], 2), "all_s": fig["all_s"],
                "cpu_s": round(fig["cpu_s"], 2), "peak_rss_mb": round(fig["peak_rss_mb"]),
                "rows_per_s": round(n_postes / fig["seconds"]),
                "pandas_ratio": round(base / fig["seconds"], 1) if base else None,
                "load": round(os.getloadavg()[0], 1),
            })
    print(f"{'fraction':>8} {'engine':<9} {'postes':>11} {'cells':>6} {'time s':>8} {'cpu s':>8} "
          f"{'peak MB':>8} {'postes/s':>11} {'pandas/x':>9}")
    for r in rows:
        print(f"{r['fraction']:>8g} {r['engine']:<9} {r['postes']:>11,} {r['cells']:>6} {r['seconds']:>8.2f} "
              f"{r['cpu_s']:>8.2f} {r['peak_rss_mb']:>8} {r['rows_per_s']:>11,} {r['pandas_ratio']!s:>9}"
              .replace(",", " "))
    print("results equal across engines: yes")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "results.jsonl", "a", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
