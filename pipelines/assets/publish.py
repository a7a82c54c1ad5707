"""Stage 4: publications. They read only the published indicator table, never the warehouse.

Territorial products are partitioned by region so one region can be rebuilt alone and regions can run in
parallel; the France products and the portal depend on all of them.
"""


from pathlib import Path

import dagster as dg

from observatory.publish import documents, maps, portal
from pipelines.assets.indicators import indicateurs
from pipelines.partitions import region_partitions
from pipelines.resources import ObservatoryConfig


def _vintage_dir(observatory: ObservatoryConfig) -> Path:
    return Path(observatory.output_dir) / str(observatory.millesime)


@dg.asset(
    group_name="publish",
    partitions_def=region_partitions,
    deps=[indicateurs],
    description="Regional panorama (PDF, XLSX, CSV per chart) and the plaquettes of the region's départements.",
)
def panoramas(context: dg.AssetExecutionContext, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    region = context.partition_key
    written = documents.build_all(_vintage_dir(observatory), regions=[region])
    files = [str(p) for p in written.get("files", [])] if isinstance(written, dict) else [str(p) for p in written]
    pdf = next((f for f in files if f.endswith(f"region-{region}.pdf")), None)
    metadata = {"region": region, "files": len(files)}
    if pdf:
        metadata["panorama"] = dg.MetadataValue.path(pdf)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="publish",
    deps=[indicateurs],
    description="Maps (PNG, SVG) of ESS shares, jobs, women's share and pay gap, plus `cartes/indicateurs.gpkg`.",
)
def cartes(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    out = _vintage_dir(observatory)
    table = documents.read_table(out)
    written = maps.render_maps(table, out / "cartes")
    return dg.MaterializeResult(metadata={"files": len(written), "dir": dg.MetadataValue.path(str(out / "cartes"))})


@dg.asset(
    group_name="publish",
    deps=[indicateurs],
    description="The France égalité femmes-hommes report (`egalite/france.pdf`).",
)
def egalite_france(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    out = _vintage_dir(observatory)
    path = documents.build_egalite_france(out)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})


@dg.asset(
    group_name="publish",
    deps=[panoramas, cartes, egalite_france],
    description="The static download portal `portail/index.html` (no network resource).",
)
def portail(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    path = portal.build_portal(Path(observatory.output_dir))
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})
