"""``observatory run``: the code location's Dagster jobs, executed as the UI, the schedule and the sensor run them.

One graph: ``observatory_job`` (the annual graph), ``panoramas_job`` over the région partitions (one run for the
régions asked for; ``--region`` builds one) and ``barometre_job`` for the latest semester, each with the
multiprocess executor, the ``duckdb_writer`` pool and the instance of ``DAGSTER_HOME`` (runs show in the UI).
Nothing here lists assets: the jobs of :mod:`pipelines.jobs` do.

The run builds its whole publication in a staging folder (:func:`observatory.publication.stage_publication`)
and swaps it into ``output/<millesime>`` only when every job succeeded: a failed, interrupted or killed run
changes no file under ``output/``. Before it starts, runs of earlier ``observatory run`` processes that died
(``kill -9``, power loss) are marked failed and their pool slots freed (:mod:`pipelines.recovery`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dagster as dg

from observatory import publication
from observatory.config import Settings
from observatory.errors import ObservatoryError
from observatory.files import recover_dir, sweep_stale
from observatory.runlock import run_lock
from pipelines import definitions as d
from pipelines.partitions import REGION_CODES
from pipelines.recovery import HOST, cli_instance, reap_dead_runs
from pipelines.report import failure_message, run_report, step_summary, write_failed_report
from pipelines.resources import run_over

MAX_CONCURRENT = int(os.environ.get("OBSERVATORY_MAX_CONCURRENT", "2"))
"""Steps of one run executed at once by the multiprocess executor (the machine has two cores)."""
QUIET = {"console": {"config": {"log_level": "CRITICAL"}}}
PRELOAD = ["pipelines.definitions", "dagster._core.storage.sqlite_storage"]
"""Modules the step processes' server imports once, before a job's first step: the code location and the
instance's storage (SQLAlchemy and Alembic, which every step otherwise imports on its own when it opens the
instance: 0.8 s a step). Not the map classifier (1.4 s): one step of one job uses it, and every job would wait
for it."""


def _run_config(settings: Settings, staged: Settings) -> dict:
    """The jobs' run config: the multiprocess executor, and the resources pointed at the staged publication."""
    return {
        "execution": {
            "config": {
                "multiprocess": {
                    "max_concurrent": MAX_CONCURRENT,
                    # step processes forked from a server that has imported the code location once: a step
                    # starts in well under a second instead of re-importing pandas, geopandas, dagster…
                    "start_method": {"forkserver": {"preload_modules": PRELOAD}},
                }
            }
        },
        "loggers": QUIET,
        "resources": {
            "duckdb": {"config": {"database": str(settings.warehouse)}},
            "observatory": {
                "config": {
                    "data_dir": str(settings.data_dir),
                    "output_dir": str(staged.output_dir),
                    "cache_dir": str(settings.cache_dir),
                    "millesime": int(settings.millesime),
                    "perimetre": settings.perimetre,
                    "quarantine_max": float(settings.quarantine_max),
                    "stage_run": False,  # the whole run is staged here, and committed by run_pipeline
                }
            },
        },
    }


def _execute(job_fn, label: str, instance, run_config: dict, tags: dict) -> dict:
    """Execute one job of the code location; return what the run report needs about it."""
    t0 = time.perf_counter()
    with dg.execute_job(
        dg.reconstructable(job_fn), instance=instance, run_config=run_config, tags=tags, raise_on_error=False
    ) as result:
        events = result.all_events
        success = result.success
        run_id = result.run_id
    # an executor stopped between a pool slot's claim and its step's start leaves the claim behind
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    elapsed = time.perf_counter() - t0
    step = step_summary(events, label, success, elapsed)
    step["run_id"] = run_id
    _step_windows(instance, run_id, step["assets"])
    if not success:
        step["error"] = failure_message(events)
        print(f"observatory: error: {label}: {step['error']}", file=sys.stderr)
    else:
        print(f"  {label:<40} {elapsed:7.1f} s")
    return step


def _step_windows(instance, run_id: str, assets: dict) -> None:
    """Add each step's start and end (epoch seconds, from the run's event log) to its report entry, so that a
    benchmark can match its memory samples to the steps."""
    try:
        records = instance.all_logs(run_id)
    except Exception:  # noqa: BLE001 - timings are a convenience; the run report must not fail on them
        return
    for record in records:
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.is_step_start:
            assets.setdefault(event.step_key, {})["start"] = round(record.timestamp, 3)
        elif event.is_step_success or event.is_step_failure:
            assets.setdefault(event.step_key, {})["end"] = round(record.timestamp, 3)


def _region_tags(regions: list[str]) -> dict:
    """The partition tags of one panoramas run over ``regions`` (one key, or a range of consecutive keys)."""
    if len(regions) == 1:
        return {"dagster/partition": regions[0]}
    return {"dagster/asset_partition_range_start": regions[0], "dagster/asset_partition_range_end": regions[-1]}


def _region_blocks(regions: list[str]) -> list[list[str]]:
    """``regions`` as runs of consecutive partition keys (a partition range is one run)."""
    blocks: list[list[str]] = []
    for code in sorted(regions, key=REGION_CODES.index):
        if blocks and REGION_CODES.index(code) == REGION_CODES.index(blocks[-1][-1]) + 1:
            blocks[-1].append(code)
        else:
            blocks.append([code])
    return blocks


def published_regions() -> list[str]:
    """The régions a whole run publishes: all 18, or those of ``OBSERVATORY_REGIONS`` (comma-separated COG
    codes: an observatory that publishes its own régions only)."""
    wanted = [c.strip() for c in os.environ.get("OBSERVATORY_REGIONS", "").split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(REGION_CODES))
    if unknown:
        raise ObservatoryError(
            f"OBSERVATORY_REGIONS: unknown région code(s) {', '.join(unknown)}; known: {', '.join(REGION_CODES)}"
        )
    return [c for c in REGION_CODES if c in wanted] or list(REGION_CODES)


def regions_with_data(vintage: Path, wanted: list[str]) -> tuple[list[str], list[str]]:
    """The régions of ``wanted`` that the vintage's indicator table covers, and the others (an extract of one or
    a few régions, as a regional observatory receives it, has no cell for the rest)."""
    from observatory.api import read_indicators

    covered = set(read_indicators(vintage, filters=[("niveau", "==", "region")])["code"])
    return [c for c in wanted if c in covered], [c for c in wanted if c not in covered]


def run_pipeline(settings: Settings, region: str | None = None) -> bool:
    """Run the annual graph, then the régions' publications (or only ``region``'s), then the baromètre; publish
    the result in one step.

    Only one run at a time may use a warehouse: a second one raises :class:`RunInProgressError`.
    """
    if region is not None and region not in REGION_CODES:
        print(
            f"observatory: error: unknown region code {region!r}; known: {', '.join(REGION_CODES)}",
            file=sys.stderr,
        )
        return False
    with run_lock(settings.warehouse):
        instance = cli_instance(settings)
        for line in reap_dead_runs(instance):
            print(f"observatory: {line}", file=sys.stderr)
        # A run killed earlier may have left its staging folder or a half-swapped vintage folder: clean them now
        # that no other run can be writing (live writers' files are kept).
        recover_dir(Path(settings.output_dir).absolute() / str(settings.millesime))
        sweep_stale(settings.vintage_output)
        publication.sweep_staged(settings)
        publication.sweep_run_staging(settings, lambda run_id: run_over(instance, run_id))
        staged = publication.stage_publication(settings)
        try:
            ok = _run(settings, staged, region, instance)
        except BaseException:
            publication.discard_publication(staged)
            raise
        if not ok:
            publication.discard_publication(staged)
        return ok


def _run(settings: Settings, staged: Settings, region: str | None, instance) -> bool:
    print(f"observatory run: millésime {settings.millesime}, périmètre {settings.perimetre}")
    t0 = time.perf_counter()
    config = _run_config(settings, staged)
    tags = {"observatory/trigger": "cli", "observatory/host": HOST, "observatory/pid": str(os.getpid())}
    steps: list[dict] = []

    regions = [region] if region is not None else published_regions()
    if region is None:
        steps.append(_execute(d.observatory_job_def, "annual graph", instance, config, tags))
        if steps[-1]["ok"]:
            regions, absent = regions_with_data(staged.vintage_output, regions)
            if absent:
                print(f"  no data in région(s) {', '.join(absent)}: nothing published for them")
    for block in _region_blocks(regions):
        if not all(s["ok"] for s in steps):
            break
        label = f"region {block[0]}" if len(block) == 1 else f"regions {block[0]}…{block[-1]}"
        steps.append(_execute(d.panoramas_job_def, label, instance, config, {**tags, **_region_tags(block)}))
    if all(s["ok"] for s in steps) and region is None:
        from pipelines.assets.barometre import latest_semester_key

        key = latest_semester_key(settings)
        if key:
            steps.append(
                _execute(
                    d.barometre_job_def, f"baromètre {key}", instance, config, {**tags, "dagster/partition": key}
                )
            )
    ok = all(s["ok"] for s in steps)
    scope = f"region {region}" if region else "full"
    report = run_report(settings, steps, time.perf_counter() - t0, scope)
    # the report names files where the run wrote them: the staged publication, which becomes output/<millesime>
    report = publication.as_published(report, staged, settings)
    if ok:
        publication.update_manifest(staged, run=report)
        publication.commit_publication(settings, staged)
        print(f"done in {report['seconds']:.1f} s; outputs in {settings.vintage_output}")
    else:
        failed = write_failed_report(settings, report)
        print(
            f"the previous publication in {settings.vintage_output} is unchanged; run report: {failed}",
            file=sys.stderr,
        )
    return ok
