"""The code location's executor: the same jobs, their steps run in process, in local processes, or on Celery
workers on other machines — chosen by each run's configuration, never by code.

``execution: config:`` of a run (the launchpad, ``dagster job execute -c``, a schedule's run config) picks one:

- ``multiprocess`` (the default, as Dagster's own default executor): one process per step on this machine;
- ``in_process``: every step in the run's process;
- ``celery``: every step is a task on a Celery queue (broker: Redis), run by whichever ``dagster-celery``
  worker takes it, on any machine that has this package, the same ``DAGSTER_HOME`` instance storage and the
  same data folders (``deploy/celery/`` and the README's "Past one machine"). Pools still hold across
  machines: the ``duckdb_writer`` slot is taken in the instance's storage before a task is queued.

The ``multiprocess`` and ``in_process`` blocks are exactly those of Dagster's default executor, so a run
config written for it is valid here.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    multi_or_in_process_executor,
    multiple_process_executor_requirements,
)
from dagster._core.execution.retries import RetryMode

try:
    from dagster_celery.executor import CELERY_CONFIG
except ImportError:  # an environment made before dagster-celery joined the dependencies: the code location
    CELERY_CONFIG = dg.Permissive()  # still loads; a celery run says what to install (below)

EXECUTOR_CONFIG = dg.Field(
    dg.Selector(
        {
            "multiprocess": MULTI_PROC_CONFIG,
            "in_process": IN_PROC_CONFIG,
            "celery": dg.Field(
                CELERY_CONFIG,
                description=(
                    "Steps as Celery tasks (dagster-celery). `broker` and `backend` must be those the workers "
                    "were started with (`dagster-celery worker start -y deploy/celery/worker.yaml`)."
                ),
            ),
        }
    ),
    default_value={"multiprocess": {}},
)


def _requirements(config) -> list:
    """Steps in other processes need a persistent instance and a reconstructable job (not in process)."""
    return [] if "in_process" in config else multiple_process_executor_requirements()


@dg.executor(name="observatory_executor", config_schema=EXECUTOR_CONFIG, requirements=_requirements)
def observatory_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """``multiprocess`` (default), ``in_process`` or ``celery``, from the run's ``execution`` config."""
    config = init_context.executor_config
    if "celery" not in config:
        return multi_or_in_process_executor.executor_creation_fn(init_context)
    try:
        from dagster_celery.executor import CeleryExecutor
    except ImportError as exc:
        raise dg.DagsterInvariantViolationError(
            "the celery executor needs dagster-celery[redis] (a dependency of this package): run `make install`"
        ) from exc

    celery = config["celery"]
    return CeleryExecutor(
        broker=celery.get("broker"),
        backend=celery.get("backend"),
        include=celery.get("include"),
        config_source=celery.get("config_source"),
        retries=RetryMode.from_config(celery["retries"]),
    )
