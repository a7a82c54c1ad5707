"""Dagster resources: the observatory settings and the DuckDB warehouse (one writer)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from observatory import publication
from observatory.config import Settings
from observatory.warehouse import ensure_schemas
from pipelines.lifeline import bind_step_to_run


class ObservatoryConfig(dg.ConfigurableResource):
    """Where the pipeline reads and writes; defaults come from the ``OBSERVATORY_*`` environment variables.

    ``stage_run``: the run writes its publication into a staging folder of its own (named after the run, shared
    by its step processes) and its last step, the asset ``publication``, commits what it changed into
    ``output/<millesime>`` (:func:`observatory.publication.commit_run`); a run that fails changes nothing there.
    The code location's default (runs started by the UI, the schedule and the sensors); ``observatory run``
    stages the whole of its jobs itself and sets it off.
    """

    data_dir: str = str(Settings().data_dir)
    output_dir: str = str(Settings().output_dir)
    cache_dir: str = str(Settings().cache_dir)
    millesime: int = Settings().millesime
    perimetre: str = Settings().perimetre
    quarantine_max: float = Settings().quarantine_max
    stage_run: bool = False
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        bind_step_to_run()
        self._run_id = context.run.run_id if context.run is not None else None
        if self.stage_run and context.instance is not None:
            # staging folders of runs that are over (failed, cancelled, gone): their commit will never come
            instance = context.instance
            publication.sweep_run_staging(self._public(), lambda run_id: run_over(instance, run_id))

    def _public(self) -> Settings:
        return Settings(output_dir=Path(self.output_dir), millesime=self.millesime)

    def _staged(self) -> Settings | None:
        if not (self.stage_run and self._run_id):
            return None
        return publication.stage_for_run(self._public(), self._run_id)

    def output_root(self) -> Path:
        """Where this run writes the publication: ``output_dir``, or the run's staging folder (``stage_run``)."""
        staged = self._staged()
        return Path(staged.output_dir) if staged else Path(self.output_dir)

    def vintage_dir(self) -> Path:
        return self.output_root() / str(self.millesime)

    def public(self, value):
        """``value`` (a path, or a report holding paths) with the run's staging folder named as the public
        ``output_dir`` it is committed to: what the UI's metadata and the manifest show."""
        staged = self._staged()
        return value if staged is None else publication.as_published(value, staged, self._public())

    def path_value(self, path) -> dg.MetadataValue:
        """A path metadata value, as published (:meth:`public`)."""
        return dg.MetadataValue.path(self.public(str(path)))

    def commit(self, refresh=None) -> list[Path]:
        """Commit the run's staged publication (``stage_run``; nothing otherwise): the paths changed."""
        staged = self._staged()
        return publication.commit_run(self._public(), staged, refresh) if staged else []

    def settings(self, warehouse: str) -> Settings:
        return Settings(
            data_dir=Path(self.data_dir),
            output_dir=self.output_root(),
            warehouse=Path(warehouse),
            cache_dir=Path(self.cache_dir),
            millesime=self.millesime,
            perimetre=self.perimetre,
            quarantine_max=self.quarantine_max,
        )


class Warehouse(DuckDBResource):
    """dagster-duckdb's resource for the warehouse; a step that uses it ends with its run
    (:func:`pipelines.lifeline.bind_step_to_run`), as one that uses :class:`ObservatoryConfig` does."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        bind_step_to_run()


_RUNNING = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}


def run_over(instance, run_id: str) -> bool | None:
    """Whether run ``run_id`` of ``instance`` is over (its staging folder can go); None when the instance does
    not know it (another instance's run: :func:`observatory.publication.sweep_run_staging` waits)."""
    run = instance.get_run_by_id(run_id)
    return None if run is None else run.status.value not in _RUNNING


@contextlib.contextmanager
def warehouse_connection(duckdb: DuckDBResource) -> Iterator:
    """A read-write connection to the warehouse with its schemas in place (DuckDB 2.0: consume results inside)."""
    with duckdb.get_connection() as con:
        con.execute("SET enable_progress_bar = false")  # a step process's stderr is the terminal of the run
        ensure_schemas(con)
        yield con


def default_resources(settings: Settings | None = None, stage_run: bool = False) -> dict:
    """The resources of the embedded setup, built from ``settings`` (default: the environment); ``stage_run``:
    see :class:`ObservatoryConfig` (the code location's runs)."""
    s = settings or Settings()
    s.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        # DuckDB's buffer pool defaults to 80 % of RAM; 4 GB keeps a national run under 8 GB in all
        # (OBSERVATORY_DUCKDB_MEMORY to change it; beyond it DuckDB spills to disk)
        "duckdb": Warehouse(
            database=str(s.warehouse),
            connection_config={"memory_limit": os.environ.get("OBSERVATORY_DUCKDB_MEMORY", "4GB")},
        ),
        "observatory": ObservatoryConfig(
            data_dir=str(s.data_dir),
            output_dir=str(s.output_dir),
            cache_dir=str(s.cache_dir),
            millesime=s.millesime,
            perimetre=s.perimetre,
            quarantine_max=s.quarantine_max,
            stage_run=stage_run,
        ),
    }
