"""Stage 3: the indicator table with statistical secrecy, audited, then published atomically (the contract)."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import indicators, ingest, publication
from observatory.warehouse import run_sql
from pipelines.assets.ingest import WRITER
from pipelines.assets.perimeter import ess_tables
from pipelines.resources import ObservatoryConfig, warehouse_connection


@dg.asset(
    group_name="indicators",
    kinds={"duckdb"},
    pool=WRITER,
    deps=[ess_tables],
    description=(
        "Every cell of the indicator table with FREQ / VALUE / MAX, the primary rules, secondary suppression "
        "by τ-Argus and the inherited secret of derived figures (`ind.*`); `ind.publication` is the table "
        "about to be published. Nothing is written to `output/` here."
    ),
)
def indicateurs_proteges(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    with warehouse_connection(duckdb) as con:
        counts = indicators.build_indicators(con, settings)
        run_sql(con, "indicators/publication.sql")
    return dg.MaterializeResult(
        metadata={
            "perimetre_version": settings.perimetre,
            **{f"cells/{k}": v for k, v in counts.items() if isinstance(v, int | float)},
        }
    )


@dg.asset(
    group_name="indicators",
    kinds={"parquet", "csv"},
    pool=WRITER,
    deps=[indicateurs_proteges],
    description=(
        "`output/<millesime>/tables/indicateurs.parquet` and `.csv` (the contract every publication reads) and "
        "`manifest.json`, written atomically once the secrecy audit has passed."
    ),
)
def indicateurs(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    inputs = list(ingest.find_extracts(settings.raw_dir).values())
    with warehouse_connection(duckdb) as con:
        path = publication.publish_indicators(con, settings, inputs=inputs)
    manifest = publication.read_manifest(settings)
    return dg.MaterializeResult(
        metadata={
            "path": observatory.path_value(str(path)),
            "dagster/row_count": manifest.get("tables", {}).get("indicateurs", {}).get("rows", 0),
            "perimetre_version": settings.perimetre,
        }
    )
