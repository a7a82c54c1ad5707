"""Sensors: a new vintage folder, or a new or replaced extract in one, starts the annual pipeline.

The sensor looks at files only (``OBSERVATORY_DATA_DIR``, default ``data_raw/``): it runs inside the
daemon and never opens the DuckDB warehouse, which a run may be writing. Its cursor is a JSON object
``{"<millesime>/<file>": [size, mtime_ns]}`` of the files already seen; a file whose name, size or
modification time is new (a new vintage folder, a new quarterly file, a file replaced by a fresher extract)
is seen once and starts one run, and never again. New files of the same vintage found at the same tick
start a single run, for that vintage. A file modified less than :data:`SETTLE_SECONDS` ago may still be
being copied; it is left for a later tick.

A second sensor, ``observatory_failure_report`` (on by default), watches for failed runs of
``observatory_job``: it writes their run report (what was read, the failing step or check, timings) to
``last_failed_run.json`` beside the warehouse, as ``observatory run`` does for its own failures. It reads
the run's events from the Dagster instance, never the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import dagster as dg

from pipelines.report import (
    failure_message,
    run_report,
    settings_of_run,
    step_summary,
    trigger_of,
    write_failed_report,
)

SENSOR_TARGET_JOB = "observatory_job"
"""The job the sensor starts: the annual graph (ingestion → perimeter → indicators), defined by the lead."""
SETTLE_SECONDS = 60
"""A file must be this old (seconds since its last modification) before it counts as landed."""

_VINTAGE = re.compile(r"^\d{4}$")
_PARTIAL = (".tmp", ".part", ".partial", ".crdownload", ".lock")


def data_dir() -> Path:
    """The drop zone: ``OBSERVATORY_DATA_DIR`` (default ``data_raw``)."""
    return Path(os.environ.get("OBSERVATORY_DATA_DIR", "data_raw"))


def scan_vintages(root: Path) -> dict[str, list[int]]:
    """Every extract under ``root/<millesime>/``: ``{"2024/postes_2024.csv": [size, mtime_ns]}``.

    Hidden files and partial downloads are left out; files outside a vintage folder are not extracts.
    """
    found: dict[str, list[int]] = {}
    if not root.is_dir():
        return found
    for vintage in sorted(p for p in root.iterdir() if p.is_dir() and _VINTAGE.match(p.name)):
        for path in sorted(vintage.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or path.name.endswith(_PARTIAL):
                continue
            if path.is_file():
                st = path.stat()
                found[rel.as_posix()] = [st.st_size, st.st_mtime_ns]
    return found


def new_files(
    seen: dict[str, list[int]],
    found: dict[str, list[int]],
    now_ns: int,
    settle_seconds: float = SETTLE_SECONDS,
) -> dict[str, list[int]]:
    """The files of ``found`` whose (name, size, mtime) is not in ``seen`` and that have settled."""
    settle_ns = int(settle_seconds * 1e9)
    return {
        name: sig for name, sig in found.items() if seen.get(name) != sig and now_ns - sig[1] >= settle_ns
    }


def run_requests_for(new: dict[str, list[int]]) -> list[dg.RunRequest]:
    """One run per vintage with new files; the run key names the files (with size and mtime) it is for."""
    by_vintage: dict[str, list[str]] = {}
    for name in sorted(new):
        by_vintage.setdefault(name.split("/", 1)[0], []).append(name)
    requests = []
    for vintage, names in sorted(by_vintage.items()):
        signature = ";".join(f"{n}:{new[n][0]}:{new[n][1]}" for n in names)
        requests.append(
            dg.RunRequest(
                run_key=signature,
                run_config={"resources": {"observatory": {"config": {"millesime": int(vintage)}}}},
                tags={
                    "observatory/trigger": "sensor",
                    "observatory/millesime": vintage,
                    "observatory/files": ", ".join(n.split("/", 1)[1] for n in names)[:200],
                },
            )
        )
    return requests


@dg.sensor(
    name="data_raw_sensor",
    job_name=SENSOR_TARGET_JOB,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A new vintage folder or extract in data_raw/ (OBSERVATORY_DATA_DIR) starts the annual pipeline.",
)
def data_raw_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Compare the drop zone with the cursor; request a run per vintage with new files; remember them."""
    seen = json.loads(context.cursor) if context.cursor else {}
    new = new_files(seen, scan_vintages(data_dir()), time.time_ns())
    if not new:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no new file in the drop zone"), cursor=context.cursor
        )
    context.log.info(f"new files: {', '.join(sorted(new))}")
    return dg.SensorResult(
        run_requests=run_requests_for(new),
        cursor=json.dumps({**seen, **new}, sort_keys=True),
    )


@dg.run_failure_sensor(
    name="observatory_failure_report",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "A failed run of observatory_job (UI, sensor, daemon) leaves its run report — what it read, the failing "
        "step or check, timings — in `last_failed_run.json` beside the warehouse; the publication is unchanged."
    ),
)
def failure_report_sensor(context: dg.RunFailureSensorContext):
    """Build the failed run's report from its events, as ``observatory run`` does for its own failures."""
    run = context.dagster_run
    if run.job_name != SENSOR_TARGET_JOB:
        return dg.SkipReason(f"{run.job_name} is not {SENSOR_TARGET_JOB}")
    settings = settings_of_run(run.run_config)
    events = [e.dagster_event for e in context.instance.all_logs(run.run_id) if e.dagster_event is not None]
    stats = context.instance.get_run_stats(run.run_id)
    seconds = (stats.end_time or time.time()) - (stats.start_time or time.time())
    step = step_summary(events, "annual graph", False, seconds)
    step["error"] = failure_message(events)
    report = run_report(settings, [step], seconds, scope="annual graph")
    report.update(run_id=run.run_id, trigger=trigger_of(dict(run.tags)))
    path = write_failed_report(settings, report)
    context.log.info(f"run {run.run_id} failed: {step['error']}; report in {path}")
    return None


ALL_SENSORS = [data_raw_sensor, failure_report_sensor]
