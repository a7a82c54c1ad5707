"""The run report of the annual job, whoever started it (UI, sensor, daemon, ``observatory run``)."""

import time

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import publication
from pipelines.assets.indicators import indicateurs
from pipelines.assets.perimeter import qualite
from pipelines.assets.publish import cartes, egalite_france, portail
from pipelines.report import run_report, step_summary, summary_markdown, trigger_of
from pipelines.resources import ObservatoryConfig


@dg.asset(
    group_name="indicators",
    kinds={"json"},
    deps=[qualite, indicateurs, cartes, egalite_france, portail],
    description=(
        "The run report, read from this run's events: files and rows read, quarantined rows, what was "
        "published, the checks (secrecy audit) and the time of every asset; written to the `run` section of "
        "`output/<millesime>/manifest.json` and shown here."
    ),
)
def rapport_execution(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, observatory: ObservatoryConfig
) -> dg.MaterializeResult:
    settings = observatory.settings(duckdb.database)
    instance = context.instance
    events = [e.dagster_event for e in instance.all_logs(context.run.run_id) if e.dagster_event is not None]
    start = instance.get_run_stats(context.run.run_id).start_time or time.time()
    seconds = time.time() - start
    step = step_summary(events, "annual graph", True, seconds)
    report = run_report(settings, [step], seconds, scope="annual graph")
    run = instance.get_run_by_id(context.run.run_id)
    report["run_id"] = context.run.run_id
    report["trigger"] = trigger_of(dict(run.tags) if run else {})
    report["ok"] = all(report["audit"].values())
    report = observatory.public(report)  # paths as published, not in the run's staging folder
    path = publication.update_manifest(settings, run=report)
    read = report["read"]
    return dg.MaterializeResult(
        metadata={
            "manifest": observatory.path_value(str(path)),
            "rows_read": read.get("rows_read", 0),
            "rows_rejected": read.get("rows_rejected", 0),
            "rows_quarantined": report["published"].get("qualite", {}).get("rows_quarantined", 0),
            "audit_passed": report["ok"],
            "seconds": round(seconds, 1),
            "trigger": report["trigger"],
            "summary": dg.MetadataValue.md(summary_markdown(report)),
            "report": dg.MetadataValue.json(report),
        }
    )
