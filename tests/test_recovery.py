"""Runs whose process died: the next ``observatory run`` marks them failed, kills what they left and frees their
``duckdb_writer`` slots (``pipelines/recovery.py``), on a Dagster instance kept on disk."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.test_utils import create_run_for_test

from pipelines.recovery import HOST, reap_dead_runs
from tests.conftest import ROOT

POOL = "duckdb_writer"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")  # the project's instance: SQLite, pools
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        inst.event_log_storage.set_concurrency_slots(POOL, 1)  # as the first run's first writer step does
        yield inst


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _sleeper(*marker: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *marker])


def _run(instance, pid: int, step: str, step_pid: int | None = None):
    run = create_run_for_test(
        instance,
        job_name="observatory_job",
        status=dg.DagsterRunStatus.STARTED,
        tags={"observatory/trigger": "cli", "observatory/host": HOST, "observatory/pid": str(pid)},
    )
    instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, step)
    if step_pid is not None:  # what the multiprocess executor records when it starts a step process
        instance.report_engine_event(
            f'Executing step "{step}" in subprocess.',
            run,
            EngineEventData({"pid": dg.MetadataValue.text(str(step_pid))}),
        )
    return run


def test_a_dead_run_is_marked_failed_its_step_killed_and_its_slot_freed(instance):
    step = _sleeper()  # the step process the killed run left behind, still holding the DuckDB file
    dead = _run(instance, _dead_pid(), "staging", step_pid=step.pid)
    assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 1
    try:
        lines = reap_dead_runs(instance)
        assert step.wait(timeout=10) != 0  # killed
    finally:
        step.kill()
    assert len(lines) == 1
    assert dead.run_id[:8] in lines[0] and "marked failed, pool slots freed" in lines[0]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    info = instance.event_log_storage.get_concurrency_info(POOL)
    assert info.active_slot_count == 0 and info.pending_step_count == 0
    assert reap_dead_runs(instance) == []  # once


def test_a_live_run_and_a_reused_pid_are_told_apart(instance):
    live = _sleeper("observatory")  # an observatory run still working: left alone
    reused = _sleeper()  # the dead run's pid, now another program's: the run is dead
    try:
        alive_run = _run(instance, live.pid, "staging")
        reused_run = _run(instance, reused.pid, "ess_tables")
        time.sleep(0.2)
        lines = reap_dead_runs(instance)
        assert [line for line in lines if alive_run.run_id[:8] in line] == []
        assert len([line for line in lines if reused_run.run_id[:8] in line]) == 1
        assert instance.get_run_by_id(alive_run.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id(reused_run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert reused.poll() is None  # a program that is not one of the run's steps is never killed
        assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 1
    finally:
        live.kill()
        reused.kill()


def test_dagster_yaml_turns_on_run_monitoring(instance):
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_settings.get("free_slots_after_run_end_seconds", 0) > 0


def test_a_slot_left_by_a_finished_run_is_freed_and_a_live_runs_kept(instance):
    # Ctrl-C / SIGTERM between a slot's claim and its step's start: the run is FAILURE, its claim stays, and
    # every later writer step would wait for it forever (seen with `kill -TERM` 12 s into a run)
    stopped = _run(instance, _dead_pid(), "reference_tables")
    instance.report_run_failed(stopped, "interrupted")
    live = _sleeper("observatory")
    try:
        running = _run(instance, live.pid, "staging")  # a live run waits for the slot: its claim stays
        lines = reap_dead_runs(instance)
        assert lines == [f"run {stopped.run_id[:8]} (FAILURE) still held a slot of pool {POOL}: freed"]
        holders = {s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}
        pending = {s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).pending_steps}
        assert stopped.run_id not in holders | pending
        assert running.run_id in holders | pending
        assert reap_dead_runs(instance) == []
    finally:
        live.kill()
