"""Territorial portraits: every EPCI (by région partition) and the territories drawn on demand (dynamic
partitions of ``portraits_job``, started by ``territoires_sensor`` when a file lands in ``territoires/``).

EPCI portraits read only the published indicator table; each région partition builds the portraits of the
EPCIs whose population lies mostly in that région, in a staging folder moved into place once the layout
check passed (as the panoramas).
"""

import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from observatory import territories
from observatory.errors import TerritoryError
from observatory.publish import portrait
from observatory.territories.build import publish_territory
from pipelines.assets.indicators import indicateurs
from pipelines.partitions import region_partitions
from pipelines.resources import ObservatoryConfig


def _vintage_dir(observatory: ObservatoryConfig) -> Path:
    return observatory.vintage_dir()


@dg.asset(
    group_name="publish",
    partitions_def=region_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # as the panoramas: a backfill over régions is one run
    deps=[indicateurs],
    description=(
        "Portraits of the région's EPCIs (PDF 2–4 pages, XLSX, CSV per chart): key figures, families, comparison "
        "with their département(s), région and France; layout-checked before they replace the previous ones."
    ),
)
def portraits_epci(context: dg.AssetExecutionContext, observatory: ObservatoryConfig) -> dg.MaterializeResult:
    regions = list(context.partition_keys)
    written = portrait.publish_epci_portraits(_vintage_dir(observatory), regions)
    return dg.MaterializeResult(
        metadata={
            "regions": dg.MetadataValue.json(regions),
            "epci": len(written),
            "files": sum(len(v) for v in written.values()),
            "dir": observatory.path_value(str(_vintage_dir(observatory) / portrait.SUBDIR)),
        }
    )


# --------------------------------------------------------------------------------------------- on demand
territoire_partitions = dg.DynamicPartitionsDefinition(name="territoires")
"""One partition per territory file ``territoires/<slug>.csv`` (added by :func:`territoires_sensor`); the job
``portraits_job`` (``pipelines/jobs.py``) runs it, then the portal."""


def territoires_dir() -> Path:
    """Where analysts drop territory files: ``OBSERVATORY_TERRITOIRES_DIR`` (default ``territoires``)."""
    return Path(os.environ.get("OBSERVATORY_TERRITOIRES_DIR", "territoires"))


def territory_file(slug: str, root: Path | None = None) -> Path:
    """The file of partition ``slug`` (the file whose name gives that slug)."""
    root = root or territoires_dir()
    for path in sorted(root.glob("*.csv")):
        if territories.slugify(path.stem) == slug:
            return path
    raise TerritoryError(f"{root}: no territory file for « {slug} » (expected {slug}.csv)")


def _markdown(df) -> str:
    """A small table as markdown (secret values empty)."""
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns)
    lines = [
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
        for row in df.itertuples(index=False)
    ]
    return "\n".join([head, *lines])


@dg.asset(
    group_name="portraits",
    partitions_def=territoire_partitions,
    deps=[indicateurs],
    pool="duckdb_writer",
    description=(
        "A territory on demand (territoires/<slug>.csv): its cells protected jointly with everything published "
        "(complements in every territory it cuts, registry of earlier territories), audited, and its portrait "
        "(PDF, XLSX, CSV) and cells (indicateurs.parquet, niveau 'territoire') under output/<m>/territoires/<slug>/."
    ),
)
def portrait_territoire(
    context: dg.AssetExecutionContext, observatory: ObservatoryConfig, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    req = territories.request_from_file(territory_file(context.partition_key), slug=context.partition_key)
    res = publish_territory(observatory.settings(duckdb.database), req)
    pdf = res.folder / f"{res.slug}.pdf"
    table = res.cells[res.cells["indicateur"].isin(["etablissements_employeurs", "effectif_31_12"])]
    preview = _markdown(table[["champ", "famille", "indicateur", "valeur", "statut"]])
    return dg.MaterializeResult(
        metadata={
            "nom": res.nom,
            "communes": res.n_communes,
            "communes_rattachees": dg.MetadataValue.json(res.mapped),
            "cellules": len(res.cells),
            "cellules_masquees": res.hidden,
            "deja_publie": res.reused,
            "portrait": observatory.path_value(str(pdf)),
            "dossier": observatory.path_value(str(res.folder)),
            "secondes": round(res.seconds, 2),
            "apercu": dg.MetadataValue.md(preview),
        }
    )


def scan_territoires(root: Path) -> dict[str, list[int]]:
    """Territory files: ``{slug: [size, mtime_ns]}`` (hidden and partial files left out)."""
    out: dict[str, list[int]] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*.csv")):
        if path.name.startswith("."):
            continue
        st = path.stat()
        out[territories.slugify(path.stem)] = [st.st_size, st.st_mtime_ns]
    return out


def territoires_requests(seen: dict, found: dict, existing: set[str]) -> tuple[list[str], list[str]]:
    """(slugs to add as partitions, slugs to run): new or changed files, each once."""
    run = sorted(s for s, sig in found.items() if seen.get(s) != sig)
    return sorted(s for s in run if s not in existing), run


@dg.sensor(job_name="portraits_job", default_status=dg.DefaultSensorStatus.STOPPED, minimum_interval_seconds=30)
def territoires_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """A new or replaced ``territoires/<slug>.csv`` adds partition ``<slug>`` and starts its run, once."""
    seen = json.loads(context.cursor) if context.cursor else {}
    found = scan_territoires(territoires_dir())
    existing = set(context.instance.get_dynamic_partitions(territoire_partitions.name))
    add, run = territoires_requests(seen, found, existing)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=s, run_key=f"{s}:{found[s][1]}") for s in run],
        dynamic_partitions_requests=[territoire_partitions.build_add_request(add)] if add else [],
        cursor=json.dumps(found, sort_keys=True),
    )
