"""The Dagster code location: every asset, check, job, schedule and sensor, assembled in one place."""

from __future__ import annotations

import dagster as dg

from pipelines.assets import barometre, indicators, ingest, perimeter, publish, rapport
from pipelines.assets.publish import panoramas_layout
from pipelines.checks import ALL_CHECKS
from pipelines.executor import observatory_executor
from pipelines.resources import default_resources
from pipelines.schedules import ALL_SCHEDULES
from pipelines.sensors import ALL_SENSORS

ANNUAL_ASSETS = [
    ingest.reference_tables,
    ingest.extracts,
    ingest.staging,
    perimeter.unites_legales_classees,
    perimeter.ess_tables,
    perimeter.qualite,
    indicators.indicateurs_proteges,
    indicators.indicateurs,
    publish.cartes,
    publish.egalite_france,
    rapport.rapport_execution,
]
REGION_ASSETS = [publish.panoramas]
FINAL_ASSETS = [publish.portail]
BAROMETRE_ASSETS = list(barometre.ALL_ASSETS)
ALL_ASSETS = ANNUAL_ASSETS + REGION_ASSETS + FINAL_ASSETS + BAROMETRE_ASSETS
ALL_ASSET_CHECKS = [*ALL_CHECKS, panoramas_layout]

observatory_job = dg.define_asset_job(
    "observatory_job",
    selection=dg.AssetSelection.assets(*ANNUAL_ASSETS),
    description="The annual vintage: ingestion, perimeter, indicators with secrecy, France products.",
)
panoramas_job = dg.define_asset_job(
    "panoramas_job",
    selection=dg.AssetSelection.assets(*REGION_ASSETS),
    description="The territorial publications of one region (partitioned by region).",
)


def build_definitions() -> dg.Definitions:
    """The definitions; nothing here opens the warehouse (safe for the webserver and the daemon)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_ASSET_CHECKS,
        jobs=[observatory_job, panoramas_job, *barometre.ALL_JOBS],
        schedules=ALL_SCHEDULES,
        sensors=ALL_SENSORS,
        resources=default_resources(),
        # multiprocess (default), in_process or celery: chosen by each run's `execution` config
        executor=observatory_executor,
    )


defs = build_definitions()
