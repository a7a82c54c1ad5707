"""National figures of generated extracts, recomputed with DuckDB from the files (independent of the pipeline).

Usage::

    .venv/bin/observatory generate --fraction 0.1 --out /tmp/gen && \\
        .venv/bin/python bench/calibration.py /tmp/gen/2023 --fraction 0.1

Legal units are classified from the perimeter CSV files (version ``insee-2008-4f``: CJ family, switches off
by default, excluded activities when the nomenclature is NAFRev2); public = CJ 4xxx/7xxx; jobs at 31/12 =
``FILT = 1`` and ``DATFIN = 360``; régions from the establishment's commune in the COG, and France = Σ régions
(establishments abroad, in a COM or without a known commune are left out, as in the pipeline). Pay figures
on INSEE's salary field, as ``sql/perimeter/postes.sql``: non-annex jobs, no apprentice or other job
(``TYP_EMPLOI`` A or X, ``CONT_TRAV`` APP), a known pay; hourly pay over jobs with positive hours. Counts
are divided by the fraction (national scale). Compare with ``shared/domain/calibration.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from observatory.reference import communes

PERIMETRE = Path(__file__).resolve().parents[1] / "observatory" / "reference" / "perimetre" / "insee-2008-4f"
ESS = "famille IN ('association', 'cooperative', 'mutuelle', 'fondation')"
SECTEURS = {
    "action sociale": ("87", "88"),
    "sports et loisirs": ("93",),
    "arts et spectacles": ("90", "91"),
    "finance et assurance": ("64", "65", "66"),
    "enseignement": ("85",),
}


def load(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    postes = next(folder.glob("postes_*"))
    read = (
        f"read_parquet('{postes}')"
        if postes.suffix == ".parquet"
        else f"read_csv('{postes}', all_varchar=true)"
    )
    con.register("com", communes()[["code_commune", "code_region"]])
    con.execute(f"""
        CREATE TABLE cj AS SELECT * FROM read_csv('{PERIMETRE}.cj.csv', all_varchar=true);
        CREATE TABLE off AS SELECT interrupteur FROM read_csv('{PERIMETRE}.interrupteurs.csv', all_varchar=true)
            WHERE defaut = 'off';
        CREATE TABLE ex AS SELECT * FROM read_csv('{PERIMETRE}.activites_exclues.csv', all_varchar=true);
        CREATE TABLE ul AS SELECT DISTINCT ON (siren) siren, categorieJuridiqueUniteLegale AS cj,
            activitePrincipaleUniteLegale AS naf, nomenclatureActivitePrincipaleUniteLegale AS nom
            FROM read_csv('{folder}/StockUniteLegale_utf8.csv', all_varchar=true);
        CREATE TABLE ulc AS SELECT ul.siren, CASE
            WHEN c.famille IS NOT NULL AND c.famille <> 'hors_ess'
                AND coalesce(c.interrupteur, '') NOT IN (SELECT interrupteur FROM off)
                AND NOT (nom = 'NAFRev2' AND (substr(naf, 1, 2) IN (SELECT code FROM ex WHERE niveau = 'division')
                                              OR naf IN (SELECT code FROM ex WHERE niveau = 'sous_classe')))
                THEN c.famille
            WHEN substr(ul.cj, 1, 1) IN ('4', '7') THEN 'public' ELSE 'prive' END AS famille
            FROM ul LEFT JOIN cj c ON c.cj = ul.cj;
        CREATE TABLE et AS SELECT DISTINCT ON (siret) siret, siren, codeCommuneEtablissement AS commune,
            substr(activitePrincipaleEtablissement, 1, 2) AS division
            FROM read_csv('{folder}/StockEtablissement_utf8.csv', all_varchar=true);
        CREATE TABLE j AS SELECT CAST(p.SIRET AS VARCHAR) AS siret, CAST(p.FILT AS VARCHAR) AS filt,
            CAST(p.DATFIN AS INT) AS datfin, CAST(p.SEXE AS VARCHAR) AS sexe, CAST(p.PCS AS VARCHAR) AS pcs,
            CAST(p.CPFD AS VARCHAR) AS cpfd, CAST(p.S_NET AS DOUBLE) AS net, CAST(p.S_BRUT AS DOUBLE) AS brut,
            CAST(p.NBHEUR AS DOUBLE) AS heures, CAST(p.EQTP AS DOUBLE) AS eqtp,
            CAST(p.FILT AS VARCHAR) = '1' AND coalesce(CAST(p.TYP_EMPLOI AS VARCHAR) NOT IN ('A', 'X'), true)
                AND coalesce(CAST(p.CONT_TRAV AS VARCHAR) <> 'APP', true) AS paie,
            coalesce(ulc.famille, '?') AS famille, com.code_region AS region, et.division
            FROM {read} p JOIN et ON et.siret = CAST(p.SIRET AS VARCHAR)
            LEFT JOIN ulc ON ulc.siren = et.siren JOIN com ON com.code_commune = et.commune
            WHERE com.code_region IS NOT NULL;
        CREATE VIEW h AS SELECT * FROM j WHERE filt = '1' AND datfin = 360;
    """)


def report(con: duckdb.DuckDBPyConnection, fraction: float) -> None:
    def one(sql: str):
        return con.execute(sql).fetchone()

    rows, h31, ended, annex = one(
        "SELECT count(*), count(*) FILTER (WHERE filt = '1' AND datfin = 360), "
        "count(*) FILTER (WHERE filt = '1' AND datfin < 360), count(*) FILTER (WHERE filt = '2') FROM j"
    )
    (etab,) = one("SELECT count(DISTINCT siret) FROM j WHERE filt = '1'")
    (etab_ess,) = one(f"SELECT count(DISTINCT siret) FROM j WHERE filt = '1' AND {ESS}")
    print(
        f"job rows {rows / fraction / 1e6:.2f} M: at 31/12 {h31 / fraction / 1e6:.2f} M, ended during the year "
        f"{ended / fraction / 1e6:.2f} M, annex {annex / fraction / 1e6:.2f} M; employer establishments "
        f"{etab / fraction / 1e6:.3f} M, ESS {etab_ess / fraction / 1e3:.0f} k"
    )
    fam = dict(con.execute("SELECT famille, count(*) FROM h GROUP BY 1").fetchall())
    ess = sum(fam.get(k, 0) for k in ("association", "cooperative", "mutuelle", "fondation"))
    print(
        f"ESS at 31/12 {ess / fraction / 1e6:.3f} M = {ess / h31:.2%} of all jobs, "
        f"{ess / (h31 - fam.get('public', 0)):.2%} of private jobs; public {fam.get('public', 0) / h31:.2%}"
    )
    print(
        "ESS families: "
        + ", ".join(
            f"{k} {fam.get(k, 0) / ess:.1%}" for k in ("association", "cooperative", "mutuelle", "fondation")
        )
    )
    women, pt, cad_f, cad_h, gap, gap_h = one(f"""
        SELECT avg((sexe = '2')::INT), avg((cpfd = 'P')::INT) FILTER (WHERE sexe = '2'),
            avg((pcs[1] = '3')::INT) FILTER (WHERE sexe = '2'), avg((pcs[1] = '3')::INT) FILTER (WHERE sexe = '1'),
            1 - avg(net) FILTER (WHERE sexe = '2' AND paie) / avg(net) FILTER (WHERE sexe = '1' AND paie),
            1 - (sum(net) FILTER (WHERE sexe = '2' AND paie AND heures > 0)
                 / sum(heures) FILTER (WHERE sexe = '2' AND paie AND net IS NOT NULL AND heures > 0))
              / (sum(net) FILTER (WHERE sexe = '1' AND paie AND heures > 0)
                 / sum(heures) FILTER (WHERE sexe = '1' AND paie AND net IS NOT NULL AND heures > 0))
        FROM h WHERE {ESS}""")
    print(
        f"ESS: women {women:.1%}, part-time among women {pt:.1%}, cadres {cad_f:.1%} of women / {cad_h:.1%} "
        f"of men, pay gap {gap:.1%} per job / {gap_h:.1%} per hour"
    )
    (pay,) = one(f"""SELECT (sum(brut) FILTER (WHERE {ESS}) / sum(eqtp) FILTER (WHERE {ESS}))
        / (sum(brut) FILTER (WHERE famille = 'prive') / sum(eqtp) FILTER (WHERE famille = 'prive')) - 1
        FROM j WHERE paie AND brut >= 0""")
    small, small_jobs = (
        one(f"""WITH e AS (SELECT siret, count(*) FILTER (WHERE filt = '1' AND datfin = 360) AS n
        FROM j WHERE {ESS} GROUP BY 1) SELECT avg((n < 10)::INT), sum(n) FILTER (WHERE n < 10) / sum(n) FROM e""")
    )
    print(
        f"ESS pay per ETP vs privé hors ESS {pay:+.1%}; ESS establishments under 10 jobs {small:.1%}, "
        f"holding {small_jobs:.1%} of ESS jobs"
    )
    parts = []
    for name, divisions in SECTEURS.items():
        (share,) = one(f"SELECT avg(({ESS})::INT) FROM h WHERE division IN {tuple(divisions) + ('',)}")
        parts.append(f"{name} {share:.1%}")
    print("ESS share of sector jobs: " + ", ".join(parts))
    regions = con.execute(f"""SELECT region, count(*) FILTER (WHERE {ESS}) / count(*), count(*) FROM h
        WHERE region IS NOT NULL GROUP BY 1 ORDER BY 1""").fetchall()
    print("ESS share by région: " + ", ".join(f"{r} {s:.1%}" for r, s, _ in regions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the vintage folder, e.g. data_raw/2023")
    parser.add_argument("--fraction", type=float, required=True)
    args = parser.parse_args()
    con = duckdb.connect()
    load(con, args.folder)
    report(con, args.fraction)


if __name__ == "__main__":
    main()
