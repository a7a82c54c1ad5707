"""Asset checks. Those on ingestion and classification are blocking: a bad extract stops the run
before anything is published. Every check opens the warehouse, so every check joins the ``duckdb_writer`` pool:
DuckDB lets no other process open a file that a writer holds, even read-only."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from observatory import audit
from observatory.warehouse import run_sql
from pipelines.assets.indicators import indicateurs_proteges
from pipelines.assets.ingest import WRITER, staging
from pipelines.assets.perimeter import ess_tables, unites_legales_classees
from pipelines.resources import ObservatoryConfig, warehouse_connection


def _rows(duckdb: DuckDBResource, relpath: str) -> list[tuple]:
    with warehouse_connection(duckdb) as con:
        return run_sql(con, relpath).fetchall()


@dg.asset_check(
    asset=staging, blocking=True, pool=WRITER, description="No duplicate SIREN or SIRET left in staging."
)
def staging_unique_keys(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    rows = _rows(duckdb, "checks/staging_unique_keys.sql")
    return dg.AssetCheckResult(passed=all(n == 0 for _, n in rows), metadata={t: int(n) for t, n in rows})


@dg.asset_check(
    asset=staging,
    blocking=True,
    pool=WRITER,
    description="Share of rejected rows per extract stays below OBSERVATORY_QUARANTINE_MAX (default 5 %).",
)
def staging_quarantine_rate(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.AssetCheckResult:
    rows = _rows(duckdb, "checks/staging_quarantine_rate.sql")
    worst = max((float(r[3]) for r in rows), default=0.0)
    over = [r for r in rows if float(r[3]) > observatory.quarantine_max]
    return dg.AssetCheckResult(
        passed=not over,
        description="; ".join(
            f"{r[0]}: {float(r[3]):.1%} of the rows rejected ({r[2]}), above the threshold "
            f"OBSERVATORY_QUARANTINE_MAX = {observatory.quarantine_max:.0%} (the rows: staging.quarantaine "
            "in the warehouse)"
            for r in over
        )
        or None,
        metadata={
            "threshold": observatory.quarantine_max,
            "worst_rate": worst,
            **{f"{r[0]}/rejected": int(r[2]) for r in rows},
        },
    )


@dg.asset_check(
    asset=unites_legales_classees,
    blocking=True,
    pool=WRITER,
    description="Every legal unit is classified: one family and one reason each.",
)
def ess_units_classified(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    rows = _rows(duckdb, "checks/ess_classification.sql")
    total = sum(r[2] for r in rows)
    unclassified = sum(r[2] for r in rows if r[0] is None or r[1] is None)
    return dg.AssetCheckResult(
        passed=total > 0 and unclassified == 0,
        metadata={
            "units": total,
            "unclassified": unclassified,
            "share_classified": (total - unclassified) / total if total else 0.0,
            **{f"{r[0]}/{r[1]}": int(r[2]) for r in rows},
        },
    )


@dg.asset_check(
    asset=ess_tables,
    blocking=True,
    pool=WRITER,
    description="Referential integrity: territories known to the COG, sectors to the NAF, jobs to establishments.",
)
def ess_referential_integrity(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    rows = _rows(duckdb, "checks/ess_referential_integrity.sql")
    return dg.AssetCheckResult(passed=all(n == 0 for _, n in rows), metadata={c: int(n) for c, n in rows})


@dg.asset_check(
    asset=ess_tables,
    blocking=True,
    pool=WRITER,
    description=(
        "Jobs and establishments join: the share of jobs whose SIRET matches no establishment, and of "
        "establishments whose SIREN matches no legal unit, stays below OBSERVATORY_QUARANTINE_MAX (default 5 %)."
    ),
)
def ess_orphan_rate(duckdb: DuckDBResource, observatory: ObservatoryConfig) -> dg.AssetCheckResult:
    rows = _rows(duckdb, "checks/ess_orphan_rate.sql")
    reference = {"postes": ("jobs", "SIRET", "establishment"), "etablissements": ("establishments", "SIREN", "legal unit")}
    bad = [r for r in rows if float(r[4]) > observatory.quarantine_max]
    message = "; ".join(
        f"{r[1]}: {float(r[4]):.1%} of the {reference[r[0]][0]} ({r[3]} of {r[2]}) have a {reference[r[0]][1]} that "
        f"matches no {reference[r[0]][2]} (threshold {observatory.quarantine_max:.0%}): do the extracts belong "
        "to the same vintage?"
        for r in bad
    )
    return dg.AssetCheckResult(
        passed=not bad,
        description=message or None,
        metadata={
            "threshold": observatory.quarantine_max,
            **{f"{r[0]}/orphans": int(r[3]) for r in rows},
            **{f"{r[0]}/rate": float(r[4]) for r in rows},
        },
    )


@dg.asset_check(
    asset=indicateurs_proteges,
    blocking=True,
    pool=WRITER,
    description=(
        "Independent secrecy audit of the table about to be published: FREQ and MAX recomputed from the "
        "microdata in pandas for every published cell (no primary rule broken), and a min/max linear program "
        "per hidden cell of each 2-D table with published margins (no hidden cell determined exactly), then the "
        "territory relations, and every family of relations at once."
    ),
)
def indicateurs_secrecy_audit(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse_connection(duckdb) as con:
        report = audit.audit_warehouse(con)
    return dg.AssetCheckResult(
        passed=report.passed,
        description=report.reason() or None,
        metadata={
            "summary": dg.MetadataValue.md(report.summary()),
            "published_cells_checked": report.published_checked,
            "primary_violations": len(report.violations),
            "tables_checked": report.tables_checked,
            "hidden_cells_checked": report.hidden_checked,
            "recoverable_hidden_cells": len(report.recoverable),
            "joint_systems_checked": report.joint_systems,
            "recoverable_hidden_cells_jointly": len(report.joint_findings),
        },
    )


ALL_CHECKS = [
    staging_unique_keys,
    staging_quarantine_rate,
    ess_units_classified,
    ess_referential_integrity,
    ess_orphan_rate,
    indicateurs_secrecy_audit,
]
