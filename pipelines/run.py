"""``observatory run``: materialise the whole graph in process, as the CLI's analysts expect.

Steps run in one process (no DuckDB lock contention); the run shows up in the Dagster UI when
``DAGSTER_HOME`` points at the instance that ``make dev`` uses.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import time
from pathlib import Path

import dagster as dg

from observatory.config import Settings
from observatory.runlock import run_lock
from pipelines import definitions as d
from pipelines.partitions import REGION_CODES
from pipelines.resources import default_resources

REGION_WORKERS = int(os.environ.get("OBSERVATORY_REGION_WORKERS", "2"))
"""Region partitions built at once by ``observatory run`` (the machine has two cores)."""
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _instance() -> dg.DagsterInstance:
    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        cfg = Path(home) / "dagster.yaml"
        if not cfg.exists():
            src = Path(__file__).resolve().parent.parent / "dagster.yaml"
            if src.exists():
                cfg.write_text(src.read_text())
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The user-facing message of the first failed step: the innermost cause, without a traceback."""
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None and err.cause is not None:
                err = err.cause
            msg = err.message.strip() if err else "unknown error"
            return f"step '{event.step_key}' failed: {msg}"
    for ev in result.get_asset_check_evaluations():
        if not ev.passed:
            return f"check '{ev.check_name}' on {ev.asset_key.to_user_string()} failed"
    return "the run failed"


def _materialize(assets, resources, instance, selection, partition_key=None, label="") -> bool:
    t0 = time.perf_counter()
    result = dg.materialize(
        assets,
        resources=resources,
        instance=instance,
        selection=selection,
        partition_key=partition_key,
        raise_on_error=False,
        run_config=QUIET,
        tags={"observatory/trigger": "cli"},
    )
    elapsed = time.perf_counter() - t0
    if not result.success:
        print(f"observatory: error: {label}: {_failure_message(result)}", file=sys.stderr)
        return False
    print(f"  {label:<40} {elapsed:7.1f} s")
    return True


def _region_worker(settings: Settings, code: str) -> bool:
    """One region partition in a worker process (spawned: no state shared with the parent)."""
    return _materialize(
        d.ALL_ASSETS, default_resources(settings), _instance(), d.REGION_ASSETS, code, label=f"region {code}"
    )


def _run_regions(settings: Settings, regions: list[str], resources, instance) -> bool:
    """The region partitions: two at a time in worker processes (they read only published files), or in
    this process for a single region."""
    if len(regions) == 1 or REGION_WORKERS <= 1:
        return all(
            _materialize(d.ALL_ASSETS, resources, instance, d.REGION_ASSETS, code, label=f"region {code}")
            for code in regions
        )
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=REGION_WORKERS, mp_context=ctx) as pool:
        results = list(pool.map(_region_worker, [settings] * len(regions), regions))
    return all(results)


def run_pipeline(settings: Settings, region: str | None = None) -> bool:
    """Run the annual graph, then every region's publications (or only ``region``'s), then the portal.

    Only one run at a time may use a warehouse: a second one raises :class:`RunInProgressError`.
    """
    with run_lock(settings.warehouse):
        return _run(settings, region)


def _run(settings: Settings, region: str | None) -> bool:
    resources = default_resources(settings)
    instance = _instance()
    all_assets = d.ALL_ASSETS
    print(f"observatory run: millésime {settings.millesime}, périmètre {settings.perimetre}")
    t0 = time.perf_counter()
    if region is None:
        if not _materialize(all_assets, resources, instance, d.ANNUAL_ASSETS, label="annual graph"):
            return False
        regions = REGION_CODES
    else:
        if region not in REGION_CODES:
            print(
                f"observatory: error: unknown region code {region!r}; known: {', '.join(REGION_CODES)}",
                file=sys.stderr,
            )
            return False
        regions = [region]
    if not _run_regions(settings, regions, resources, instance):
        return False
    if not _materialize(all_assets, resources, instance, d.FINAL_ASSETS, label="portal"):
        return False
    if region is None and d.BAROMETRE_ASSETS:
        from pipelines.assets.barometre import latest_semester_key

        key = latest_semester_key(settings)
        if key and not _materialize(
            all_assets, resources, instance, d.BAROMETRE_ASSETS, key, label=f"baromètre {key}"
        ):
            return False
    print(f"done in {time.perf_counter() - t0:.1f} s; outputs in {settings.vintage_output}")
    return True
