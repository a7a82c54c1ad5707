"""Stage 2: the ESS perimeter applied to legal units, then establishments and jobs joined to territories."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import perimeter, quality
from pipelines.assets.ingest import WRITER, staging
from pipelines.resources import ObservatoryConfig, warehouse_connection


@dg.asset(
    group_name="perimeter",
    kinds={"duckdb"},
    pool=WRITER,
    deps=[staging],
    description=(
        "Legal units classified by the ESS perimeter (`ess.unites_legales`): family, `ess`, `ess_loi_2014`, "
        "`public`, and the reason of each decision."
    ),
)
def unites_legales_classees(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    with warehouse_connection(duckdb) as con:
        counts = perimeter.classify_units(con, observatory.perimetre)
    return dg.MaterializeResult(
        metadata={
            "perimetre_version": observatory.perimetre,
            "dagster/row_count": counts["ess.unites_legales"],
            **{k: v for k, v in counts.items() if k.startswith("motif.")},
        }
    )


@dg.asset(
    group_name="perimeter",
    kinds={"duckdb"},
    pool=WRITER,
    deps=[unites_legales_classees],
    description=(
        "Establishments and jobs joined to their commune, département, région and EPCI (`ess.etablissements`, "
        "`ess.postes`) and the employer establishments with their headcount at 31/12, ETP, payroll and size "
        "band (`ess.etablissements_employeurs`)."
    ),
)
def ess_tables(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    with warehouse_connection(duckdb) as con:
        counts = perimeter.join_territories(con)
    return dg.MaterializeResult(
        metadata={"perimetre_version": observatory.perimetre, **{str(k): v for k, v in counts.items()}}
    )


@dg.asset(
    group_name="perimeter",
    kinds={"html", "parquet"},
    pool=WRITER,
    # ready with the protection (ess_tables), and a fraction of a second long: first, or it waits in the
    # pool's queue through the protection, is handed the slot when the protection ends, and holds it — while
    # the audit, next on the critical path, waits — until Dagster's backoff next checks its claim (6 s here)
    op_tags={"dagster/priority": "1"},
    deps=[ess_tables],
    description=(
        "Data-quality report `qualite/rapport.html` (public: rejected and flagged rows counted by extract and "
        "reason, classification reasons, establishments outside territories) and the row-level quarantine "
        "`qualite/<millesime>/rejets.parquet` beside the warehouse (never published)."
    ),
)
def qualite(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    with warehouse_connection(duckdb) as con:
        info = quality.build_quality_report(con, settings)
    return dg.MaterializeResult(
        metadata={
            "rapport": observatory.path_value(str(info["rapport"])),
            "rows_quarantined": int(info["quarantaine"]),
            "rows_rejected_at_reading": int(info["lignes_rejetees"]),
            "rows_flagged": int(info["lignes_signalees"]),
        }
    )
