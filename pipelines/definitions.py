"""The Dagster code location: every asset, check, job, schedule and sensor, assembled in one place."""

from __future__ import annotations

import dagster as dg

from pipelines.assets.portraits import territoires_sensor
from pipelines.executor import observatory_executor
from pipelines.jobs import (  # re-exported: the graph's pieces and jobs
    ALL_ASSET_CHECKS,
    ALL_ASSETS,
    ANNUAL_ASSETS,
    BAROMETRE_ASSETS,
    JOBS,
    REGION_ASSETS,
    barometre_job,
    observatory_job,
    panoramas_job,
)
from pipelines.resources import default_resources
from pipelines.schedules import ALL_SCHEDULES
from pipelines.sensors import ALL_SENSORS


def build_definitions() -> dg.Definitions:
    """The definitions; nothing here opens the warehouse (safe for the webserver and the daemon)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_ASSET_CHECKS,
        jobs=JOBS,
        schedules=ALL_SCHEDULES,
        sensors=[*ALL_SENSORS, territoires_sensor],
        # runs of the UI, the schedule and the sensors stage their publication and commit it at their end
        resources=default_resources(stage_run=True),
        # multiprocess (default), in_process or celery: chosen by each run's `execution` config
        executor=observatory_executor,
    )


defs = build_definitions()
__all__ = [
    "ALL_ASSETS", "ALL_ASSET_CHECKS", "ANNUAL_ASSETS", "BAROMETRE_ASSETS", "JOBS", "REGION_ASSETS",
    "barometre_job", "build_definitions", "defs", "observatory_job", "panoramas_job",
]  # fmt: skip


def job(name: str) -> dg.JobDefinition:
    """A job of the code location, resolved (what ``observatory run`` executes; reconstructable by name)."""
    return defs.resolve_job_def(name)


def observatory_job_def() -> dg.JobDefinition:
    return job("observatory_job")


def panoramas_job_def() -> dg.JobDefinition:
    return job("panoramas_job")


def barometre_job_def() -> dg.JobDefinition:
    return job("barometre_job")
