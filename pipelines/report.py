"""The run report: what a run read, published and checked, with timings, built from its Dagster events.

One builder for both ways of running the annual graph: ``observatory run`` (``pipelines/run.py``, from the
events of its in-process results) and any run of ``observatory_job`` started in the UI, by the sensor or by
the daemon (the ``rapport_execution`` asset, from the run's events in ``context.instance``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from observatory.config import Settings

TRIGGER_TAGS = ("dagster/schedule_name", "dagster/sensor_name", "observatory/trigger", "dagster/backfill")
"""Run tags that say who started a run, in order of precedence."""
PUBLISHED_ASSETS = ("indicateurs", "qualite", "cartes", "egalite_france", "portail")
"""Assets whose metadata say what was published."""


def _plain(value):
    """A Dagster metadata value as plain JSON."""
    raw = getattr(value, "value", value)
    if isinstance(raw, int | float | str | bool) or raw is None:
        return raw
    if isinstance(raw, list | dict):
        return raw
    return str(raw)


def step_summary(events: Iterable[dg.DagsterEvent], label: str, ok: bool, seconds: float) -> dict:
    """One step of the report from a run's events: per asset its duration and metadata, and the checks."""
    step = {"label": label, "ok": ok, "seconds": round(seconds, 1), "assets": {}, "checks": {}}
    for event in events:
        if event.is_step_success:
            step["assets"].setdefault(event.step_key, {})["seconds"] = round(
                event.event_specific_data.duration_ms / 1000, 2
            )
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.step_materialization_data.materialization
            entry = step["assets"].setdefault(event.step_key, {})
            entry["metadata"] = {k: _plain(v) for k, v in mat.metadata.items() if k != "summary"}
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            step["checks"][evaluation.check_name] = bool(evaluation.passed)
    return step


def run_report(settings: Settings, steps: list[dict], seconds: float, scope: str) -> dict:
    """What the run read, published and checked, with timings: the ``run`` section of ``manifest.json``."""
    by_asset: dict = {}
    checks: dict = {}
    for step in steps:
        for key, entry in step["assets"].items():
            by_asset.setdefault(key, []).append(entry)
        checks.update(step["checks"])
    staging = (by_asset.get("staging") or [{}])[0].get("metadata", {})
    files = (by_asset.get("extracts") or [{}])[0].get("metadata", {}).get("inputs")
    return {
        "scope": scope,
        "millesime": settings.millesime,
        "perimetre_version": settings.perimetre,
        "ok": all(step["ok"] for step in steps),
        "seconds": round(seconds, 1),
        "read": {"raw_dir": str(settings.raw_dir), "files": files, **staging},
        "published": {
            key: entries[-1].get("metadata", {})
            for key, entries in by_asset.items()
            if key in PUBLISHED_ASSETS
        },
        "regions_published": sorted(
            {
                code
                for step in steps
                if step["ok"]
                for code in (step["assets"].get("panoramas", {}).get("metadata", {}).get("regions") or [])
            }
        ),
        "audit": dict(checks),
        "timings_s": {step["label"]: step["seconds"] for step in steps},
        "steps_s": {key: sum(e.get("seconds", 0) for e in entries) for key, entries in by_asset.items()},
        "steps_window": {
            key: [[e["start"], e["end"]] for e in entries if "start" in e and "end" in e]
            for key, entries in by_asset.items()
        },
        "errors": [step["error"] for step in steps if not step["ok"]],
    }


def summary_markdown(report: dict) -> str:
    """The report as a short Markdown table for the Dagster UI."""
    read = report["read"]
    lines = [
        f"**Millésime {report['millesime']}**, périmètre `{report['perimetre_version']}`, {report['seconds']} s",
        "",
        "| extrait | lues | chargées | rejetées |",
        "|---|---:|---:|---:|",
    ]
    for kind, rep in read.items():
        if isinstance(rep, dict) and "rows_read" in rep:
            lines.append(f"| {kind} | {rep['rows_read']} | {rep['rows_loaded']} | {rep['rows_rejected']} |")
    lines += ["", "| contrôle | résultat |", "|---|---|"]
    lines += [
        f"| {name} | {'ok' if passed else 'ÉCHEC'} |" for name, passed in sorted(report["audit"].items())
    ]
    lines += ["", "| étape | s |", "|---|---:|"]
    lines += [f"| {key} | {s} |" for key, s in report["steps_s"].items()]
    return "\n".join(lines)


INTERRUPTED_MARKS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt", "Query interrupted")
"""What a step's error says when a Ctrl-C or SIGTERM stopped it (the last is DuckDB's, for a query it
cancelled)."""


def failure_message(events: Iterable[dg.DagsterEvent]) -> str:
    """The user-facing message of a run's first failure, in one line: the failed check with what it found, or
    the failed step's innermost cause, without a traceback."""
    events = list(events)
    for event in events:
        if (
            event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and not event.event_specific_data.passed
        ):
            evaluation = event.event_specific_data
            why = f": {evaluation.description}" if getattr(evaluation, "description", None) else ""
            return _one_line(
                f"check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} failed{why}"
            )
    interrupted = any(_interrupted(event) for event in events)
    for event in events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            # the innermost cause, but not a worker process's traceback (concurrent.futures chains it as the
            # cause of the error re-raised in the step: the error itself is the message)
            while err is not None and err.cause is not None and err.cause.cls_name != "_RemoteTraceback":
                err = err.cause
            msg = err.message.strip() if err else "unknown error"
            # a step stopped by the signal fails with what was running: Dagster's interruption, or a DuckDB
            # query that the signal interrupted ("Query interrupted")
            if interrupted or any(mark in msg for mark in INTERRUPTED_MARKS):
                return f"interrupted (Ctrl-C or SIGTERM) during step '{event.step_key}'"
            return _one_line(f"step '{event.step_key}' failed: {msg}")
    if interrupted:
        # the step processes were stopped before they could report a failure of their own
        running = _running_steps(events)
        if not running:
            return "interrupted (Ctrl-C or SIGTERM) before any step started"
        return "interrupted (Ctrl-C or SIGTERM) during " + ", ".join(f"step '{key}'" for key in running)
    return "the run failed"


def _interrupted(event: dg.DagsterEvent) -> bool:
    """The executor's or the run's own word that a termination signal stopped it."""
    message = getattr(event, "message", None) or ""
    return (
        event.event_type == dg.DagsterEventType.ENGINE_EVENT and "termination signal" in message
    ) or (event.event_type == dg.DagsterEventType.RUN_FAILURE and "interrupted" in message)


def _running_steps(events: list[dg.DagsterEvent]) -> list[str]:
    """The steps launched (worker starting or started) and not finished, in the order they were launched."""
    started: dict[str, None] = {}
    for event in events:
        if event.step_key is None:
            continue
        if event.event_type in (
            dg.DagsterEventType.STEP_WORKER_STARTING,
            dg.DagsterEventType.STEP_WORKER_STARTED,
            dg.DagsterEventType.STEP_START,
        ):
            started.setdefault(event.step_key, None)
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            started.pop(event.step_key, None)
    return list(started)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def trigger_of(tags: dict) -> str:
    """Who started a run: the schedule, the sensor, ``observatory run`` (``trigger: cli``) or the UI."""
    for tag in TRIGGER_TAGS:
        if tag in tags:
            return f"{tag.split('/')[-1]}: {tags[tag]}"
    return "ui"


def settings_of_run(run_config: dict) -> Settings:
    """The settings a run used: the environment's, with the run's resource config on top (the sensor sets the
    vintage; the UI's launchpad may set any field)."""
    from pathlib import Path

    base = Settings()
    resources = (run_config or {}).get("resources", {})
    cfg = resources.get("observatory", {}).get("config", {})
    warehouse = resources.get("duckdb", {}).get("config", {}).get("database", str(base.warehouse))
    paths = {k: Path(cfg[k]) for k in ("data_dir", "output_dir", "cache_dir") if k in cfg}
    values = {k: cfg[k] for k in ("millesime", "perimetre", "quarantine_max") if k in cfg}
    return base.with_(warehouse=Path(warehouse), **paths, **values)


def write_failed_report(settings: Settings, report: dict) -> Path:
    """A failed run's report, beside the warehouse (the publication and its manifest are left unchanged)."""
    path = settings.warehouse.parent / "last_failed_run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path
