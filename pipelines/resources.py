"""Dagster resources: the observatory settings and the DuckDB warehouse (one writer)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory.config import Settings
from observatory.warehouse import ensure_schemas


class ObservatoryConfig(dg.ConfigurableResource):
    """Where the pipeline reads and writes; defaults come from the ``OBSERVATORY_*`` environment variables."""

    data_dir: str = str(Settings().data_dir)
    output_dir: str = str(Settings().output_dir)
    cache_dir: str = str(Settings().cache_dir)
    millesime: int = Settings().millesime
    perimetre: str = Settings().perimetre
    quarantine_max: float = Settings().quarantine_max

    def settings(self, warehouse: str) -> Settings:
        from pathlib import Path

        return Settings(
            data_dir=Path(self.data_dir),
            output_dir=Path(self.output_dir),
            warehouse=Path(warehouse),
            cache_dir=Path(self.cache_dir),
            millesime=self.millesime,
            perimetre=self.perimetre,
            quarantine_max=self.quarantine_max,
        )


@contextlib.contextmanager
def warehouse_connection(duckdb: DuckDBResource) -> Iterator:
    """A read-write connection to the warehouse with its schemas in place (DuckDB 2.0: consume results inside)."""
    with duckdb.get_connection() as con:
        con.execute("SET enable_progress_bar = false")  # a step process's stderr is the terminal of the run
        ensure_schemas(con)
        yield con


def default_resources(settings: Settings | None = None) -> dict:
    """The resources of the embedded setup, built from ``settings`` (default: the environment)."""
    s = settings or Settings()
    s.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        # DuckDB's buffer pool defaults to 80 % of RAM; 4 GB keeps a national run under 8 GB in all
        # (OBSERVATORY_DUCKDB_MEMORY to change it; beyond it DuckDB spills to disk)
        "duckdb": DuckDBResource(
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
        ),
    }
