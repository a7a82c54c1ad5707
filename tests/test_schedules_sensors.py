"""Partitions, the semestrial schedule, the drop-zone sensor, the baromètre assets and the instance YAML."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from observatory.config import Settings
from pipelines import sensors
from pipelines.assets.barometre import ALL_ASSETS as BAROMETRE_ASSETS
from pipelines.assets.barometre import barometre_indicateurs
from pipelines.jobs import END, barometre_job
from pipelines.partitions import (
    REGION_CODES,
    SEMESTER_CRON,
    region_partitions,
    semester_key,
    semester_keys,
    semester_partitions,
    semester_window,
)
from pipelines.resources import default_resources
from pipelines.schedules import barometre_schedule, semester_due
from pipelines.sensors import data_raw_sensor
from tests.test_barometre import make_warehouse

ALL_ASSETS = [*BAROMETRE_ASSETS, *END]  # the baromètre job ends with the portal and the commit

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def instance():
    """One test instance for the module (Dagster keeps a weak reference to the instance between ticks)."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    """The baromètre's definitions with a stand-in for the lead's ``observatory_job`` (the sensor's target)."""

    @dg.op
    def noop():
        return None

    @dg.job(name=sensors.SENSOR_TARGET_JOB)
    def observatory_job():
        noop()

    settings = Settings(
        output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", data_dir=tmp_path / "raw"
    )
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[barometre_job, observatory_job],
        schedules=[barometre_schedule],
        sensors=[data_raw_sensor],
        resources=default_resources(settings),
    )


# ------------------------------------------------------------------------------------------ partitions


def test_region_partitions_are_the_18_cog_regions():
    assert len(REGION_CODES) == 18
    assert {"01", "06", "11", "53", "84", "93", "94"} <= set(REGION_CODES)
    assert region_partitions.get_partition_keys() == REGION_CODES


def test_semester_keys_read_like_2025_s1():
    keys = semester_partitions.get_partition_keys()
    assert keys[:3] == ["2020-S1", "2020-S2", "2021-S1"]
    assert keys[-1] == semester_key(dt.date.today())
    assert semester_keys(until=dt.date(2021, 3, 1)) == ["2020-S1", "2020-S2", "2021-S1"]
    assert semester_key(dt.date(2025, 6, 30)) == "2025-S1"
    assert semester_key(dt.date(2025, 7, 1)) == "2025-S2"
    assert semester_window("2025-S2") == (dt.date(2025, 7, 1), dt.date(2026, 1, 1))
    # the keys follow the semestrial cron: every semester starts on a tick of 0 0 1 1,7 *
    ticks = cron_string_iterator(dt.datetime(2019, 12, 31, tzinfo=dt.UTC).timestamp(), SEMESTER_CRON, "UTC")
    starts = [next(ticks).date() for _ in range(4)]
    assert [semester_window(k)[0] for k in keys[:4]] == starts


# ------------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2026, 3, 15, 6, tzinfo=PARIS), "2025-S2"),
        (dt.datetime(2025, 9, 15, 6, tzinfo=PARIS), "2025-S1"),
        (dt.datetime(2024, 3, 15, 6, tzinfo=PARIS), "2023-S2"),
    ],
)
def test_schedule_requests_the_semester_just_completed(defs, instance, when, expected):
    assert semester_due(when) == expected
    schedule = defs.get_schedule_def("barometre_schedule")
    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
    )
    result = schedule.evaluate_tick(ctx)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == expected
    assert request.run_key == f"barometre-{expected}"
    assert request.job_name in (None, "barometre_job")


def test_schedule_ticks_mid_march_and_mid_september_in_paris():
    assert barometre_schedule.execution_timezone == "Europe/Paris"
    assert barometre_schedule.job_name == "barometre_job"
    start = dt.datetime(2025, 1, 1, tzinfo=PARIS).timestamp()
    ticks = cron_string_iterator(start, barometre_schedule.cron_schedule, "Europe/Paris")
    got = [next(ticks) for _ in range(4)]
    assert [(t.year, t.month, t.day, t.hour) for t in got] == [
        (2025, 3, 15, 6),
        (2025, 9, 15, 6),
        (2026, 3, 15, 6),
        (2026, 9, 15, 6),
    ]
    assert [semester_due(t) for t in got] == ["2024-S2", "2025-S1", "2025-S2", "2026-S1"]


def test_schedule_skips_a_semester_the_code_location_does_not_know(defs, instance):
    far = dt.datetime(2100, 3, 15, 6, tzinfo=PARIS)
    ctx = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=far, repository_def=defs.get_repository_def()
    )
    result = defs.get_schedule_def("barometre_schedule").evaluate_tick(ctx)
    assert not result.run_requests
    assert "2099-S2" in result.skip_message


# --------------------------------------------------------------------------------------------- sensor


def _drop(root: Path, rel: str, content: bytes = b"x;y\n1;2\n", age: float = 3600) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def _tick(cursor: str | None):
    ctx = dg.build_sensor_context(cursor=cursor)
    result = data_raw_sensor(ctx)
    return result, result.cursor


@pytest.fixture
def drop_zone(tmp_path, monkeypatch):
    root = tmp_path / "data_raw"
    root.mkdir()
    (root / "README.md").write_text("drop zone\n")
    monkeypatch.setenv("OBSERVATORY_DATA_DIR", str(root))

    def no_duckdb(*_a, **_k):  # the sensor runs in the daemon: it must never open the warehouse
        raise AssertionError("the sensor opened DuckDB")

    monkeypatch.setattr("duckdb.connect", no_duckdb)
    return root


def test_sensor_fires_once_per_new_file_and_not_again(drop_zone):
    result, cursor = _tick(None)
    assert not result.run_requests and json.loads(cursor or "{}") == {}  # README outside a vintage: ignored

    _drop(drop_zone, "2024/StockEtablissement_utf8.csv")
    _drop(drop_zone, "2024/postes_2024.csv")
    result, cursor = _tick(cursor)
    assert len(result.run_requests) == 1  # one vintage, one run
    request = result.run_requests[0]
    assert request.tags["observatory/millesime"] == "2024"
    assert "postes_2024.csv" in request.tags["observatory/files"]
    assert request.run_config["resources"]["observatory"]["config"]["millesime"] == 2024
    assert set(json.loads(cursor)) == {"2024/StockEtablissement_utf8.csv", "2024/postes_2024.csv"}

    result, cursor2 = _tick(cursor)  # nothing new: no run, cursor unchanged
    assert not result.run_requests
    assert cursor2 == cursor

    _drop(drop_zone, "2024/effectifs_trimestriels.csv")  # a new quarterly file
    result, cursor = _tick(cursor)
    assert len(result.run_requests) == 1
    assert "effectifs_trimestriels.csv" in result.run_requests[0].run_key
    assert not _tick(cursor)[0].run_requests

    _drop(drop_zone, "2024/effectifs_trimestriels.csv", b"x;y\n1;2\n3;4\n")  # replaced by a fresher extract
    result, cursor = _tick(cursor)
    assert len(result.run_requests) == 1

    _drop(drop_zone, "2025/StockUniteLegale_utf8.csv")  # a new vintage folder
    _drop(drop_zone, "2025/.StockEtablissement.csv.part")  # hidden partial copy: ignored
    result, cursor = _tick(cursor)
    assert [r.tags["observatory/millesime"] for r in result.run_requests] == ["2025"]
    run_keys = {r.run_key for r in result.run_requests}
    assert len(run_keys) == 1


def test_sensor_waits_for_a_file_still_being_copied(drop_zone):
    _, cursor = _tick(None)
    _drop(drop_zone, "2024/postes_2024.csv", age=0)
    result, cursor = _tick(cursor)
    assert not result.run_requests  # modified just now: may still be copying
    os.utime(drop_zone / "2024/postes_2024.csv", (time.time() - 3600, time.time() - 3600))
    result, cursor = _tick(cursor)
    assert len(result.run_requests) == 1


def test_sensor_targets_the_annual_job(defs):
    sensor = defs.get_sensor_def("data_raw_sensor")
    assert sensor.job_name == sensors.SENSOR_TARGET_JOB == "observatory_job"


# --------------------------------------------------------------------------------------------- assets


def test_barometre_asset_materialises_a_semester_partition(tmp_path):
    settings = Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)
    make_warehouse(settings.warehouse).close()
    result = dg.materialize(
        [barometre_indicateurs], partition_key="2023-S2", resources=default_resources(settings)
    )
    assert result.success
    mat = result.asset_materializations_for_node("barometre_indicateurs")[0]
    assert mat.partition == "2023-S2"
    assert mat.metadata["trimestres"].value == "2023-T1, 2023-T2, 2023-T3, 2023-T4"
    assert (settings.output_dir / "2023" / "barometre" / "2023-S2" / "indicateurs.parquet").exists()
    assert barometre_indicateurs.op.pool == "duckdb_writer"


def test_definitions_load(defs):
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("barometre_job")
    assert job.partitions_def.get_partition_keys() == semester_partitions.get_partition_keys()


# ------------------------------------------------------------------------------------------- instance


def test_dagster_yaml_loads_as_a_single_server_instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 2
        assert config.pool_config.default_pool_limit == 1
        assert instance.run_storage.__class__.__name__ == "SqliteRunStorage"
        assert not instance.telemetry_enabled if hasattr(instance, "telemetry_enabled") else True
    assert (home / "history").exists()  # storage under DAGSTER_HOME


@pytest.mark.e2e  # the whole baromètre job (table, secrecy, every document) twice: minutes
def test_barometre_job_for_two_semesters_shows_each_semesters_quarters(tmp_path):
    """The baromètre job run for 2023-S1 then 2023-S2 (as the schedule would request them) publishes, in each
    semester's folder, the semester's last two quarters with the headcounts of a hand computation."""
    from openpyxl import load_workbook

    from tests.test_barometre import _ess_total

    settings = Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)
    make_warehouse(settings.warehouse).close()
    defs = dg.Definitions(assets=ALL_ASSETS, jobs=[barometre_job], resources=default_resources(settings))
    job = defs.resolve_job_def("barometre_job")
    shown = {}
    for key in ("2023-S1", "2023-S2"):
        assert job.execute_in_process(partition_key=key).success
        folder = settings.output_dir / "2023" / "barometre" / key
        assert (folder / "france.pdf").stat().st_size > 0
        ws = load_workbook(folder / "region-53.xlsx")["Chiffres clés"]
        shown[key] = {r[1]: r[2] for r in ws.iter_rows(min_row=6, values_only=True) if r and r[0] == "ESS"}
    assert set(shown["2023-S1"]) == {"2023-T1", "2023-T2"}
    assert set(shown["2023-S2"]) == {"2023-T3", "2023-T4"}
    for key, quarters in shown.items():
        for quarter, headcount in quarters.items():
            assert headcount == _ess_total(quarter), (key, quarter)


def test_sensor_run_request_is_valid_for_the_real_annual_job(drop_zone):
    """The run the sensor asks for is accepted by ``observatory_job`` as defined (its config targets the
    vintage found), so a tick in the daemon starts a run that ends with the run report."""
    from pipelines.definitions import build_definitions

    _drop(drop_zone, "2031/postes_2031.csv")
    result, _ = _tick(None)
    (request,) = result.run_requests
    job = build_definitions().resolve_job_def(sensors.SENSOR_TARGET_JOB)
    config = dg.validate_run_config(job, request.run_config)
    assert config["resources"]["observatory"]["config"]["millesime"] == 2031
    assert "rapport_execution" in {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
