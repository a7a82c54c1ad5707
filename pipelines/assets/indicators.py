"""Stage 3: the indicator table with statistical secrecy, published atomically (the contract)."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import indicators, ingest, publication
from pipelines.assets.ingest import WRITER
from pipelines.assets.perimeter import ess_tables
from pipelines.resources import ObservatoryConfig, warehouse_connection


@dg.asset(
    group_name="indicators",
    kinds={"duckdb", "parquet"},
    pool=WRITER,
    deps=[ess_tables],
    description=(
        "`output/<millesime>/tables/indicateurs.parquet` and `.csv`: every cell with its secrecy status "
        "(primary rules, then secondary suppression by τ-Argus), and `manifest.json`."
    ),
)
def indicateurs(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    with warehouse_connection(duckdb) as con:
        counts = indicators.build_indicators(con, settings)
        path = publication.publish_indicators(
            con,
            settings,
            inputs=list(ingest.find_extracts(settings.raw_dir).values()),
            row_counts=counts,
            extra={},
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "perimetre_version": settings.perimetre,
            **{f"cells/{k}": v for k, v in counts.items() if isinstance(v, int | float)},
        }
    )
