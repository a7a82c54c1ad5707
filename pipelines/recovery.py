"""Runs whose process died: found, marked failed, their pool slots freed — so no run ever waits on a dead one.

A run killed with SIGKILL (``kill -9``, the OOM killer, a power loss) stays STARTED in the Dagster instance and
keeps its ``duckdb_writer`` slot: every later run would wait for that slot forever. ``observatory run`` tags its
runs with its host and pid; the next ``observatory run`` (which holds the warehouse's run lock, so no other
CLI run is alive) looks for runs of a dead CLI process, kills the step processes they left (their pids are in
the run's engine events), reports the run failed and frees its slots, and says so in one line. Runs launched
by the daemon (UI, schedule, sensor) are watched by the daemon's run monitoring (``run_monitoring`` in
``dagster.yaml``), which does the same for them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

import dagster as dg

from observatory.config import Settings
from observatory.files import pid_alive

HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def cli_instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance of ``DAGSTER_HOME`` (``make`` sets ``.dagster_home``); without it, one kept beside
    the warehouse, so that run history, pools and dead runs survive from one run to the next."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path(settings.warehouse).absolute().parent / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists() and DAGSTER_YAML.exists():
        cfg.write_text(DAGSTER_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)  # the step processes open the same instance
    return dg.DagsterInstance.get()


def _alive(pid: int, marker: str | None = None) -> bool:
    """Whether ``pid`` runs (and, with ``marker``, its command line contains it: a reused pid is not ours)."""
    if not pid_alive(pid):
        return False
    if marker is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    return marker in cmdline


def _step_pids(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    """The pids of the processes a run started (the multiprocess executor's step workers)."""
    pids = set()
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        data = getattr(event, "event_specific_data", None) if event else None
        metadata = getattr(data, "metadata", None) or {}
        value = metadata.get("pid") if isinstance(metadata, dict) else None
        raw = getattr(value, "value", value)
        if raw is not None and str(raw).isdigit():
            pids.add(int(raw))
    return pids


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs of ``observatory run`` processes of this host that died, kill what they
    left running and free their pool slots. Returns one line per run."""
    lines = []
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=_UNFINISHED, tags={"observatory/host": HOST}))
    for record in records:
        run = record.dagster_run
        pid = run.tags.get("observatory/pid", "")
        if not pid.isdigit() or _alive(int(pid), "observatory"):
            continue
        for step_pid in _step_pids(instance, run.run_id) - {int(pid)}:
            if _alive(step_pid, "python"):
                try:
                    os.kill(step_pid, signal.SIGKILL)
                except OSError:
                    pass
        message = f"its process (pid {pid}) died; marked failed by the next observatory run"
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(
            f"run {run.run_id[:8]} of {run.job_name} ({pid=} on {HOST}) had died: marked failed, pool slots freed"
        )
    return lines + free_slots_of_finished_runs(instance)


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free the pool slots still claimed (or waited for) by runs that have finished. An executor stopped
    between a slot's claim and its step's start (Ctrl-C or SIGTERM at that moment) leaves the claim behind, and
    every later step of the pool would wait for it forever. Returns one line per run."""
    storage = instance.event_log_storage
    holders: dict[str, set[str]] = {}
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for slot in [*info.claimed_slots, *info.pending_steps]:
            holders.setdefault(slot.run_id, set()).add(pool)
    lines = []
    for run_id, pools in sorted(holders.items()):
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            continue
        storage.free_concurrency_slots_for_run(run_id)
        status = run.status.value if run is not None else "deleted"
        lines.append(f"run {run_id[:8]} ({status}) still held a slot of pool {', '.join(sorted(pools))}: freed")
    return lines
