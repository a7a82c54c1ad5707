"""The executor is configuration: every job of the code location takes ``multiprocess`` (default),
``in_process`` or ``celery`` from its run config, and the files of ``deploy/celery/`` are valid run config.
(The run on real Celery workers is ``tests/test_distributed.py``.)"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.definitions import defs
from pipelines.executor import observatory_executor

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "celery"
JOBS = ["observatory_job", "panoramas_job"]


@pytest.mark.parametrize("name", JOBS)
def test_every_job_takes_the_configurable_executor(name):
    job = defs.resolve_job_def(name)
    assert job.executor_def is observatory_executor


def _executor(job, execution: dict) -> dg.Executor:
    """The executor a run with ``execution`` config gets (as ``execute_job`` builds it)."""
    from dagster._core.executor.init import InitExecutorContext

    config = dg.validate_run_config(job, {"execution": {"config": execution}} if execution else {})
    with dg.instance_for_test() as instance:
        return observatory_executor.executor_creation_fn(
            InitExecutorContext(
                job=dg.reconstructable(_panoramas_job),
                executor_def=observatory_executor,
                executor_config=config["execution"]["observatory_executor"],
                instance=instance,
            )
        )


def _panoramas_job():
    return defs.resolve_job_def("panoramas_job")


@pytest.mark.parametrize(
    ("execution", "kind"),
    [
        ({}, "MultiprocessExecutor"),
        ({"multiprocess": {"max_concurrent": 2}}, "MultiprocessExecutor"),
        ({"in_process": {}}, "InProcessExecutor"),
        (
            {"celery": {"broker": "redis://127.0.0.1:6379/0", "backend": "redis://127.0.0.1:6379/1"}},
            "CeleryExecutor",
        ),
    ],
)
def test_run_config_chooses_the_executor(execution, kind):
    executor = _executor(defs.resolve_job_def("panoramas_job"), execution)
    assert type(executor).__name__ == kind
    if kind == "CeleryExecutor":
        assert (
            executor.broker == "redis://127.0.0.1:6379/0" and executor.backend == "redis://127.0.0.1:6379/1"
        )
    if execution.get("multiprocess"):
        assert executor._max_concurrent == 2


def test_two_executors_at_once_are_refused():
    job = defs.resolve_job_def("panoramas_job")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"execution": {"config": {"in_process": {}, "multiprocess": {}}}})


def test_deploy_files_are_valid_and_agree(monkeypatch):
    monkeypatch.setenv("OBSERVATORY_CELERY_BROKER", "redis://10.0.0.5:6379/0")
    monkeypatch.setenv("OBSERVATORY_CELERY_BACKEND", "redis://10.0.0.5:6379/1")
    run_config = yaml.safe_load((DEPLOY / "run_config.yaml").read_text())
    resolved = dg.validate_run_config(defs.resolve_job_def("observatory_job"), run_config)
    assert set(resolved["execution"]["observatory_executor"]) == {"celery"}
    from dagster_celery.cli import get_validated_config

    worker = get_validated_config(str(DEPLOY / "worker.yaml"))  # what `dagster-celery worker start -y` reads
    assert worker["broker"] == "redis://10.0.0.5:6379/0" and worker["backend"] == "redis://10.0.0.5:6379/1"
    assert (
        run_config["execution"]["config"]["celery"]
        == yaml.safe_load((DEPLOY / "worker.yaml").read_text())["execution"]["config"]
    )
