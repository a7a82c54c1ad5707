"""The Dagster code location loads without touching the warehouse, with the expected graph."""

from __future__ import annotations

import dagster as dg

from pipelines import definitions


def test_definitions_load_and_list_the_graph():
    defs = definitions.build_definitions()
    dg.Definitions.validate_loadable(defs)
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == sorted(
        [
            "reference_tables",
            "extracts",
            "staging",
            "unites_legales_classees",
            "ess_tables",
            "qualite",
            "indicateurs_proteges",
            "indicateurs",
            "cartes",
            "egalite_france",
            "rapport_execution",
            "panoramas",
            "portraits_epci",
            "portrait_territoire",
            "portail",
            "publication",
            "barometre_indicateurs",
            "barometre_publications",
        ]
    )
    assert {j for j in ["observatory_job", "panoramas_job", "barometre_job"] if defs.resolve_job_def(j)}
    assert defs.resolve_schedule_def("barometre_schedule").cron_schedule == "0 6 15 3,9 *"
    assert defs.resolve_sensor_def("data_raw_sensor").job_name == "observatory_job"
    assert defs.resolve_sensor_def("territoires_sensor").job_name == "portraits_job"
    assert defs.resolve_job_def("portraits_job").partitions_def.name == "territoires"


def test_every_run_of_the_annual_job_ends_with_its_report():
    """The run report is part of the annual job (UI, sensor, daemon) and comes after every other asset."""
    defs = definitions.build_definitions()
    job = defs.resolve_job_def("observatory_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "rapport_execution" in keys
    graph = defs.resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("rapport_execution")).parent_keys}
    # every other asset of the job is upstream of the report, directly or not (the portal's upstream also has
    # the région and baromètre publications, which other jobs build)
    ancestors, todo = set(), list(upstream)
    while todo:
        name = todo.pop()
        if name not in ancestors:
            ancestors.add(name)
            todo += [k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys]
    assert keys - {"rapport_execution", "publication"} <= ancestors


def test_every_job_ends_with_the_commit_of_its_publication():
    """Every job's last step commits the run's publication: every other asset of the job, and the blocking
    layout check of the panoramas, come before it (a run of the UI publishes nothing unless all passed)."""
    defs = definitions.build_definitions()
    graph = defs.resolve_asset_graph()

    def ancestors(key):
        seen, todo = set(), [key]
        while todo:
            for parent in graph.get(todo.pop()).parent_keys:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    before = ancestors(dg.AssetKey("publication"))
    for name in ("observatory_job", "panoramas_job", "barometre_job", "portraits_job"):
        keys = defs.resolve_job_def(name).asset_layer.executable_asset_keys
        assert keys - {dg.AssetKey("publication")} <= before, name
    assert graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("panoramas"), "panoramas_layout")).blocking


def test_blocking_checks_guard_ingestion_classification_and_publication():
    graph = definitions.build_definitions().resolve_asset_graph()
    blocking = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    for name in [
        "staging_unique_keys",
        "staging_quarantine_rate",
        "ess_units_classified",
        "ess_referential_integrity",
        "ess_orphan_rate",
        "indicateurs_secrecy_audit",
    ]:
        assert blocking[name] is True, name


def test_panoramas_are_partitioned_by_the_18_regions():
    graph = definitions.build_definitions().resolve_asset_graph()
    node = graph.get(dg.AssetKey("panoramas"))
    assert len(node.partitions_def.get_partition_keys()) == 18
    assert node.partitions_def.get_partition_keys()[:3] == ["01", "02", "03"]


def test_cli_ui_schedule_and_sensor_run_the_same_jobs(tmp_path, monkeypatch):
    """``observatory run`` executes the code location's jobs themselves: the assets of each of its runs are
    the selection of the job the UI shows, the schedule ticks and the sensor starts (one graph, one order)."""
    import datetime as dt

    from observatory.config import Settings
    from pipelines import run
    from pipelines.assets import barometre
    from pipelines.schedules import barometre_schedule
    from pipelines.sensors import SENSOR_TARGET_JOB

    executed = []

    class _Result:
        success, all_events, run_id = True, [], "test"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_execute_job(job, instance, run_config, tags, raise_on_error):
        definition = job.get_definition()
        keys = {k.to_user_string() for k in definition.asset_layer.executable_asset_keys}
        executed.append((definition.name, keys, dict(tags), run_config))
        return _Result()

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(run.dg, "execute_job", fake_execute_job)
    monkeypatch.setattr(barometre, "latest_semester_key", lambda settings: "2023-S2")
    monkeypatch.setattr(run, "regions_with_data", lambda vintage, wanted: (wanted, []))  # no table written
    settings = Settings(
        data_dir=tmp_path / "raw", output_dir=tmp_path / "output", warehouse=tmp_path / "wh" / "o.duckdb"
    )
    assert run.run_pipeline(settings)

    defs = definitions.build_definitions()

    def selection(name: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.executable_asset_keys}

    names = [name for name, *_ in executed]
    assert names == ["observatory_job", "panoramas_job", "barometre_job"]
    for name, keys, tags, config in executed:
        assert keys == selection(name), name  # what the UI's launchpad runs for that job
        assert "multiprocess" in config["execution"]["config"]
        assert tags["observatory/trigger"] == "cli"
    assert executed[1][2]["dagster/asset_partition_range_start"] == "01"
    assert executed[1][2]["dagster/asset_partition_range_end"] == "94"
    assert executed[2][2]["dagster/partition"] == "2023-S2"

    # a schedule tick asks for the same baromètre job, the sensor for the same annual job
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 3, 15, 6, tzinfo=dt.UTC), repository_def=defs.get_repository_def()
    )
    request = barometre_schedule.evaluate_tick(context).run_requests[0]
    assert barometre_schedule.job_name == "barometre_job" and request.partition_key == "2023-S2"
    assert selection(barometre_schedule.job_name) == executed[2][1]
    assert selection(SENSOR_TARGET_JOB) == executed[0][1]
    assert {"panoramas", "portraits_epci", "portail", "publication"} == executed[1][1]
    # and the publication of a run that published nothing new is the previous one, swapped in whole
    assert (settings.output_dir / "2023").is_dir()


def test_a_worker_process_failure_is_reported_by_its_message_not_its_traceback():
    """A step whose worker process raised (``concurrent.futures`` chains the worker's traceback text as the
    cause of the error re-raised in the step): the one-line message is the error's, without the traceback."""
    from types import SimpleNamespace

    import dagster as dg
    from dagster._utils.error import SerializableErrorInfo

    from pipelines.report import failure_message

    remote = SerializableErrorInfo('\n"""\nTraceback (most recent call last):\n  File "x.py"\n"""', [], "_RemoteTraceback")
    error = SerializableErrorInfo(
        "observatory.errors.PublicationError: régions absentes de la table des indicateurs : 01\n", [],
        "PublicationError", cause=remote,
    )
    event = SimpleNamespace(
        event_type=dg.DagsterEventType.STEP_FAILURE, is_step_failure=True, step_key="panoramas",
        step_failure_data=SimpleNamespace(error=error),
    )
    message = failure_message([event])
    assert message == (
        "step 'panoramas' failed: observatory.errors.PublicationError: "
        "régions absentes de la table des indicateurs : 01"
    )


def test_a_duckdb_query_stopped_by_sigterm_is_reported_as_an_interruption():
    """SIGTERM during ``staging``: the step's DuckDB query is cancelled and the step fails with DuckDB's
    "Query interrupted" (seen in the SIGTERM fault test); the run's one line says it was interrupted, during
    which step, as for Dagster's own interruption."""
    from types import SimpleNamespace

    import dagster as dg
    from dagster._utils.error import SerializableErrorInfo

    from pipelines.report import failure_message

    def failed(message: str):
        error = SerializableErrorInfo(message, [], "RuntimeError")
        return SimpleNamespace(
            event_type=dg.DagsterEventType.STEP_FAILURE, is_step_failure=True, step_key="staging",
            step_failure_data=SimpleNamespace(error=error), message="",
        )

    expected = "interrupted (Ctrl-C or SIGTERM) during step 'staging'"
    assert failure_message([failed("RuntimeError: Query interrupted\n")]) == expected
    signal = SimpleNamespace(
        event_type=dg.DagsterEventType.ENGINE_EVENT, is_step_failure=False, step_key=None,
        message="Multiprocess executor: received termination signal - forwarding to active child processes",
    )
    assert failure_message([signal, failed("OSError: [Errno 32] Broken pipe\n")]) == expected
    # without a signal, a step's own error stays its message
    own = failure_message([failed("RuntimeError: disk full\n")])
    assert own == "step 'staging' failed: RuntimeError: disk full"


def test_a_whole_run_publishes_the_regions_its_extracts_cover(tmp_path):
    """``observatory run`` on a regional extract: the régions of the indicator table are published, the others
    are named as left out (not a failed run)."""
    import pandas as pd

    from pipelines.run import regions_with_data

    (tmp_path / "tables").mkdir()
    pd.DataFrame(
        {"niveau": ["france", "region", "region", "departement"], "code": ["FR", "53", "52", "35"]}
    ).to_parquet(tmp_path / "tables" / "indicateurs.parquet")
    covered, absent = regions_with_data(tmp_path, ["11", "52", "53"])
    assert covered == ["52", "53"] and absent == ["11"]


def test_a_failed_secrecy_audit_says_what_it_found_in_the_run_s_one_line():
    """The audit check's description is the report's reason (how many findings block the publication and the
    first), and the run's one-line message carries it: the analyst sees which cell, not only which check."""
    from types import SimpleNamespace

    import dagster as dg

    from observatory.audit import AuditReport
    from pipelines.report import failure_message

    found = "hidden etp known to the publication precision, [0.0, 0.5] (etp, champs, tranche, ('departement', '26'))"
    report = AuditReport(rounded_narrow=[found, "another"], recoverable=[])
    assert AuditReport().reason() == "" and not report.passed
    assert report.reason() == f"2 finding(s) block the publication, the first: {found}"
    # a finding that does not block (territory relations reported only) gives no reason
    assert AuditReport(territory_findings=["x"], territory_blocking=False).reason() == ""
    evaluation = SimpleNamespace(
        passed=False,
        check_name="indicateurs_secrecy_audit",
        asset_key=dg.AssetKey("indicateurs_proteges"),
        description=report.reason(),
    )
    event = SimpleNamespace(
        event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, event_specific_data=evaluation
    )
    assert failure_message([event]) == (
        f"check 'indicateurs_secrecy_audit' on indicateurs_proteges failed: {report.reason()}"
    )
