"""``observatory run``: materialise the whole graph in process, as the CLI's analysts expect.

Steps run in one process (no DuckDB lock contention); the run shows up in the Dagster UI when
``DAGSTER_HOME`` points at the instance that ``make dev`` uses.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

import dagster as dg

from observatory import publication
from observatory.config import Settings
from observatory.runlock import run_lock
from observatory.warehouse import sweep_stale
from pipelines import definitions as d
from pipelines.partitions import REGION_CODES
from pipelines.report import failure_message, run_report, step_summary, write_failed_report
from pipelines.resources import default_resources

REGION_WORKERS = int(os.environ.get("OBSERVATORY_REGION_WORKERS", "2"))
"""Region partitions built at once by ``observatory run`` (the machine has two cores)."""
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


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
    return failure_message(result.all_events)


def _materialize(assets, resources, instance, selection, partition_key=None, label="") -> dict:
    """Materialise ``selection`` in process; return what the run report needs about it."""
    t0 = time.perf_counter()
    result = dg.materialize(
        [*assets, *d.ALL_ASSET_CHECKS],
        resources=resources,
        instance=instance,
        selection=dg.AssetSelection.assets(*selection),
        partition_key=partition_key,
        raise_on_error=False,
        run_config=QUIET,
        tags={"observatory/trigger": "cli"},
    )
    elapsed = time.perf_counter() - t0
    step = step_summary(result.all_events, label, result.success, elapsed)
    _step_windows(instance, result.run_id, step["assets"])
    if not result.success:
        step["error"] = _failure_message(result)
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


def _die_with_parent(parent: int) -> None:
    """Region worker initializer: the worker dies with the run that started it.

    A run killed with SIGKILL (OOM killer, ``kill -9``) releases the run lock at once; a worker that
    outlived it would go on writing publications without the lock, beside the next run. On Linux the kernel
    kills the worker when its parent dies (``PR_SET_PDEATHSIG``); elsewhere a watchdog thread notices it.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(70)

    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(70)
    threading.Thread(target=watch, name="observatory-parent-watch", daemon=True).start()


def _region_worker(settings: Settings, code: str) -> dict:
    """One region partition in a worker process (spawned: no state shared with the parent)."""
    return _materialize(
        d.ALL_ASSETS, default_resources(settings), _instance(), d.REGION_ASSETS, code, label=f"region {code}"
    )


def _run_regions(settings: Settings, regions: list[str], resources, instance) -> list[dict]:
    """The region partitions: two at a time in worker processes (they read only published files), or in
    this process for a single region."""
    if len(regions) == 1 or REGION_WORKERS <= 1:
        steps = []
        for code in regions:
            steps.append(
                _materialize(d.ALL_ASSETS, resources, instance, d.REGION_ASSETS, code, label=f"region {code}")
            )
            if not steps[-1]["ok"]:
                break
        return steps
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=REGION_WORKERS, mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        return list(pool.map(_region_worker, [settings] * len(regions), regions))


def run_pipeline(settings: Settings, region: str | None = None) -> bool:
    """Run the annual graph, then every region's publications (or only ``region``'s), then the portal.

    Only one run at a time may use a warehouse: a second one raises :class:`RunInProgressError`.
    """
    with run_lock(settings.warehouse):
        # A run killed earlier (SIGKILL, power loss) may have left temporary files or a half-swapped folder
        # in the publication: clean them now that no other run can be writing (live writers' files are kept).
        sweep_stale(settings.vintage_output)
        return _run(settings, region)


def _run(settings: Settings, region: str | None) -> bool:
    resources = default_resources(settings)
    instance = _instance()
    all_assets = d.ALL_ASSETS
    print(f"observatory run: millésime {settings.millesime}, périmètre {settings.perimetre}")
    t0 = time.perf_counter()
    steps: list[dict] = []

    def ok() -> bool:
        return all(step["ok"] for step in steps)

    if region is None:
        steps.append(_materialize(all_assets, resources, instance, d.ANNUAL_ASSETS, label="annual graph"))
        regions = REGION_CODES
    else:
        if region not in REGION_CODES:
            print(
                f"observatory: error: unknown region code {region!r}; known: {', '.join(REGION_CODES)}",
                file=sys.stderr,
            )
            return False
        regions = [region]
    if ok():
        steps += _run_regions(settings, regions, resources, instance)
    if ok():
        steps.append(_materialize(all_assets, resources, instance, d.FINAL_ASSETS, label="portal"))
    if ok() and region is None and d.BAROMETRE_ASSETS:
        from pipelines.assets.barometre import latest_semester_key

        key = latest_semester_key(settings)
        if key:
            steps.append(
                _materialize(
                    all_assets, resources, instance, d.BAROMETRE_ASSETS, key, label=f"baromètre {key}"
                )
            )
    scope = f"region {region}" if region else "full"
    report = run_report(settings, steps, time.perf_counter() - t0, scope)
    if ok():
        publication.update_manifest(settings, run=report)
        print(f"done in {report['seconds']:.1f} s; outputs in {settings.vintage_output}")
    else:
        failed = write_failed_report(settings, report)
        print(
            f"the previous publication in {settings.vintage_output} is unchanged; run report: {failed}",
            file=sys.stderr,
        )
    return ok()
