"""Stage 5: the semestrial baromètre of employment, partitioned by semester (``2025-S1``, ``2025-S2``).

The table asset writes the warehouse (pool ``duckdb_writer``) and publishes
``output/<millesime>/barometre/<AAAA-Sn>/indicateurs.parquet``; the publications read only that file.
"""

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from observatory import barometre, publication
from observatory.config import Settings
from observatory.publish.barometre_docs import build_barometre_docs
from observatory.warehouse import connect
from pipelines.assets.ingest import WRITER
from pipelines.assets.perimeter import ess_tables
from pipelines.partitions import semester_partitions
from pipelines.resources import ObservatoryConfig, warehouse_connection


@dg.asset(
    group_name="barometre",
    kinds={"duckdb", "parquet"},
    pool=WRITER,
    partitions_def=semester_partitions,
    deps=[ess_tables],
    description=(
        "Headcount at the end of each quarter, year-on-year change and net jobs (ESS, privé hors ESS, privé) "
        "by family, sector, région and département, with secrecy: "
        "`output/<millesime>/barometre/<AAAA-Sn>/indicateurs.parquet`."
    ),
)
def barometre_indicateurs(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, observatory: ObservatoryConfig
) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    with warehouse_connection(duckdb) as con:
        result = barometre.build_barometre(con, settings, context.partition_key)
    cross = result["audit_croise"]
    if cross is not None:
        context.log.info(
            f"baromètre {context.partition_key} against the annual table {settings.millesime}: "
            f"{cross['cellules']} cells in both, {cross['divulgations']} disclosed by the other product "
            f"({'blocking' if barometre.CROSS_PRODUCT_BLOCKING else 'reported, not blocking'})"
        )
    publication.update_manifest(
        settings, merge={"cout_du_secret": {"barometre": {context.partition_key: result["cout_du_secret"]}}}
    )
    joint = {f"secret/{k}": v for k, v in result["protection_conjointe"].items() if k.startswith("cellules_")}
    if cross is not None:
        joint["secret/divulgations_entre_produits"] = cross["divulgations"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result["rows"],
            "trimestres": ", ".join(result["trimestres"]),
            "premier_trimestre": result["premier_trimestre"],
            "path": observatory.path_value(str(result["path"])),
            **{f"statut/{k}": v for k, v in result["statut"].items()},
            **joint,
        }
    )


@dg.asset(
    group_name="barometre",
    kinds={"pdf", "xlsx"},
    partitions_def=semester_partitions,
    deps=[barometre_indicateurs],
    description="The baromètre publications: `france.pdf` and, per région, `region-<code>.pdf` and `.xlsx`.",
)
def barometre_publications(
    context: dg.AssetExecutionContext, observatory: ObservatoryConfig
) -> dg.MaterializeResult:
    settings = Settings(output_dir=observatory.output_root(), millesime=observatory.millesime)
    folder = barometre.barometre_dir(settings, context.partition_key)
    written = build_barometre_docs(folder)
    return dg.MaterializeResult(metadata={"files": len(written), "dir": observatory.path_value(str(folder))})


ALL_ASSETS = [barometre_indicateurs, barometre_publications]



def latest_semester_key(settings: Settings) -> str | None:
    """The latest semester the warehouse's quarterly data complete, if it is a semester partition.

    Opens the warehouse read-only: call it only when no run is writing it (``observatory run`` does,
    between steps).
    """
    if not settings.warehouse.exists():
        return None
    con = connect(settings.warehouse, read_only=True)
    try:
        key = barometre.latest_semester(con)
    except duckdb.CatalogException:  # no quarterly headcounts ingested: nothing to build
        return None
    finally:
        con.close()
    return key if key in semester_partitions.get_partition_keys() else None
