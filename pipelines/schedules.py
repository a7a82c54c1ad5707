"""Schedules: the semestrial baromètre, built when the Urssaf quarters are available.

The quarterly headcounts of a quarter arrive about two and a half months after it ends, so the baromètre of
the second semester (ending with Q4) is built in mid-March of the next year, and that of the first
semester (ending with Q2) in mid-September. The semester partitions have their own keys (``2025-S1``), so
this is a plain schedule that picks the partition itself rather than
``build_schedule_from_partitioned_job`` (which cannot offset a custom cron).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.jobs import barometre_job
from pipelines.partitions import previous_semester, semester_key, semester_partitions

BAROMETRE_CRON = "0 6 15 3,9 *"
"""15 March and 15 September at 06:00 (Europe/Paris)."""
TIMEZONE = "Europe/Paris"


def semester_due(when: dt.datetime | dt.date) -> str:
    """The semester whose baromètre is due at ``when``: the semester before the one in progress.

    15 March 2026 → ``2025-S2`` (Q4 2025 is available); 15 September 2026 → ``2026-S1`` (Q2 2026).
    """
    return previous_semester(semester_key(when))


@dg.schedule(
    name="barometre_schedule",
    cron_schedule=BAROMETRE_CRON,
    execution_timezone=TIMEZONE,
    job=barometre_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mid-March (S2 of the previous year) and mid-September (S1): the baromètre of the last semester.",
)
def barometre_schedule(context: dg.ScheduleEvaluationContext):
    """One run for the semester due at this tick; its run key makes a second tick for it a no-op."""
    key = semester_due(context.scheduled_execution_time)
    if not semester_partitions.has_partition_key(key):
        return dg.SkipReason(
            f"semester {key} is not a partition yet: reload the code location (partitions are generated "
            "up to the semester in progress when it loads)"
        )
    return dg.RunRequest(
        run_key=f"barometre-{key}",
        partition_key=key,
        tags={"observatory/trigger": "schedule", "observatory/semestre": key},
    )


ALL_SCHEDULES = [barometre_schedule]
