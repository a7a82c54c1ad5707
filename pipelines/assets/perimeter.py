"""Stage 2: the ESS perimeter applied to legal units, establishments and jobs (``ess.*``)."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import perimeter
from pipelines.assets.ingest import WRITER, staging
from pipelines.resources import ObservatoryConfig, warehouse_connection


@dg.asset(
    group_name="perimeter",
    kinds={"duckdb"},
    pool=WRITER,
    deps=[staging],
    description=(
        "Legal units classified into ESS families (`ess.unites_legales`), establishments and jobs joined to "
        "territories (`ess.etablissements`, `ess.postes`, `ess.etablissements_employeurs`)."
    ),
)
def ess_tables(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    with warehouse_connection(duckdb) as con:
        counts = perimeter.apply_perimeter(con, observatory.perimetre)
    return dg.MaterializeResult(
        metadata={"perimetre_version": observatory.perimetre, **{str(k): v for k, v in counts.items()}}
    )
