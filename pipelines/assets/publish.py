"""Stage 4: publications. They read only the published indicator table, never the warehouse.

Territorial products are partitioned by region so one region can be rebuilt alone and regions can run in
parallel; the France products and the portal depend on all of them.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from observatory import api
from observatory.publish import documents, layout_check, maps, model, portal, release
from pipelines.assets.barometre import barometre_publications
from pipelines.assets.indicators import indicateurs
from pipelines.assets.perimeter import qualite
from pipelines.partitions import region_partitions
from pipelines.resources import ObservatoryConfig


def _vintage_dir(observatory: ObservatoryConfig) -> Path:
    return observatory.vintage_dir()


def _table(vintage: Path) -> pd.DataFrame:
    return api.read_indicators(vintage)


@dg.asset(
    group_name="publish",
    partitions_def=region_partitions,
    # a backfill over several régions is one run (one step builds them one after the other), as
    # `observatory run` does: starting a process per région costs more than building it
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[indicateurs],
    description=(
        "Regional panorama (PDF, XLSX, CSV per chart) and the plaquettes of the region's départements, built in a "
        "staging folder and moved into place only once their layout check passed."
    ),
)
def panoramas(context: dg.AssetExecutionContext, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    regions = list(context.partition_keys)
    files, departements, pdfs = 0, [], {}
    vintage = _vintage_dir(observatory)
    # the régions are built by observatory.config.workers() processes, each reading the table once
    for region, published in zip(regions, release.publish_each_region(vintage, regions), strict=True):
        written = published.written
        files += sum(len(v) for v in written["regions"].values())
        files += sum(len(v) for v in written["departements"].values())
        departements += sorted(written["departements"])
        pdf = next((str(p) for p in written["regions"].get(region, []) if str(p).endswith(".pdf")), None)
        if pdf:
            pdfs[region] = pdf
        context.log.info(f"région {region} published")
    metadata = {
        "regions": dg.MetadataValue.json(regions),
        "departements": dg.MetadataValue.json(departements),
        "files": files,
    }
    if len(pdfs) == 1:
        metadata["panorama"] = observatory.path_value(next(iter(pdfs.values())))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=panoramas,
    # blocking: the portal and the commit of the run's publication wait for it (and a failure stops them)
    blocking=True,
    description=(
        "Layout check: every PDF of the region renders without text overflow, with every section, and its key "
        "figures equal the indicator table's."
    ),
)
def panoramas_layout(
    context: dg.AssetCheckExecutionContext, observatory: ObservatoryConfig
) -> dg.AssetCheckResult:
    regions = (
        list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else None
    )
    report = layout_check.check_vintage(_vintage_dir(observatory), regions=regions)
    return dg.AssetCheckResult(
        passed=report.ok,
        metadata={
            "checked": len(report.checked),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in report.problems) or "none"),
            "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in report.warnings) or "none"),
        },
    )


@dg.asset(
    group_name="publish",
    deps=[indicateurs],
    description="Maps (PNG, SVG) of ESS shares, jobs, women's share and pay gap, plus `cartes/indicateurs.gpkg`.",
)
def cartes(context: dg.AssetExecutionContext, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    vintage = _vintage_dir(observatory)
    skipped: dict[str, str] = {}
    written = maps.render_maps(_table(vintage), vintage, cache_dir=Path(observatory.cache_dir), skipped=skipped)
    for name, reason in skipped.items():
        context.log.warning(f"map {name} not drawn: {reason}")
    return dg.MaterializeResult(
        metadata={
            "files": len(written),
            "dir": observatory.path_value(str(vintage / "cartes")),
            "not_drawn": dg.MetadataValue.json(skipped),
        }
    )


@dg.asset(
    group_name="publish",
    deps=[indicateurs],
    description="The France égalité femmes-hommes report (`egalite/france.pdf`, XLSX, CSV).",
)
def egalite_france(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    vintage = _vintage_dir(observatory)
    table = model.IndicatorTable.read(vintage / "tables" / "indicateurs.parquet")
    written = documents.build_egalite_france(table, documents.read_manifest(vintage), vintage)
    pdf = next((str(p) for p in written if str(p).endswith(".pdf")), "")
    return dg.MaterializeResult(metadata={"path": observatory.path_value(pdf), "files": len(written)})


@dg.asset(
    group_name="publish",
    deps=[
        qualite,
        panoramas,
        cartes,
        egalite_france,
        barometre_publications,
        dg.AssetKey("portraits_epci"),
        dg.AssetKey("portrait_territoire"),
    ],
    description=(
        "The static download portal `portail/index.html` (no network resource): it lists what is on disk, so "
        "every job that publishes something ends with it."
    ),
)
def portail(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    path = portal.build_portal(observatory.output_root(), observatory.millesime)
    return dg.MaterializeResult(metadata={"path": observatory.path_value(str(path))})
