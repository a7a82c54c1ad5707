"""Settings read from environment variables, with the defaults of the embedded setup."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MILLESIME = 2023
DEFAULT_PERIMETRE = "insee-2008-4f"
WORKERS = int(os.environ.get("OBSERVATORY_WORKERS", str(min(2, os.cpu_count() or 1))))
"""Processes that work at once inside one step (the régions' publications, the EPCI portraits, the two halves of
the protection and of the audit on a large table): ``OBSERVATORY_WORKERS``; default: the cores, at most 2."""


def workers() -> int:
    """The processes the calling process may work with at once: :data:`WORKERS`, or 1 in a daemonic process,
    which may not start processes of its own (a ``dagster-celery`` worker runs each step in one: its prefork
    pool's children are daemonic). Every pool of the package asks here before it starts."""
    return 1 if multiprocessing.current_process().daemon else WORKERS


def _path(var: str, default: str) -> Path:
    return Path(os.environ.get(var, default))


@dataclass(frozen=True)
class Settings:
    """Where the observatory reads and writes, and which vintage and perimeter it works on.

    Environment variables: ``OBSERVATORY_DATA_DIR`` (default ``data_raw``), ``OBSERVATORY_OUTPUT_DIR``
    (``output``), ``OBSERVATORY_WAREHOUSE`` (``warehouse/observatory.duckdb``), ``OBSERVATORY_CACHE_DIR``
    (``warehouse/cache``), ``OBSERVATORY_MILLESIME`` (2023), ``OBSERVATORY_PERIMETRE`` (``insee-2008-4f``),
    ``OBSERVATORY_QUARANTINE_MAX`` (share of quarantined rows that fails the run, 0.05).
    """

    data_dir: Path = field(default_factory=lambda: _path("OBSERVATORY_DATA_DIR", "data_raw"))
    output_dir: Path = field(default_factory=lambda: _path("OBSERVATORY_OUTPUT_DIR", "output"))
    warehouse: Path = field(
        default_factory=lambda: _path("OBSERVATORY_WAREHOUSE", "warehouse/observatory.duckdb")
    )
    cache_dir: Path = field(default_factory=lambda: _path("OBSERVATORY_CACHE_DIR", "warehouse/cache"))
    millesime: int = field(
        default_factory=lambda: int(os.environ.get("OBSERVATORY_MILLESIME", DEFAULT_MILLESIME))
    )
    perimetre: str = field(default_factory=lambda: os.environ.get("OBSERVATORY_PERIMETRE", DEFAULT_PERIMETRE))
    quarantine_max: float = field(
        default_factory=lambda: float(os.environ.get("OBSERVATORY_QUARANTINE_MAX", "0.05"))
    )

    @property
    def raw_dir(self) -> Path:
        """The vintage's drop folder: ``data_raw/<millesime>/``."""
        return self.data_dir / str(self.millesime)

    @property
    def vintage_output(self) -> Path:
        """The vintage's publication folder: ``output/<millesime>/``."""
        return self.output_dir / str(self.millesime)

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)
