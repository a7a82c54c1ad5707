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
            "portail",
            "barometre_indicateurs",
            "barometre_publications",
        ]
    )
    assert {j for j in ["observatory_job", "panoramas_job", "barometre_job"] if defs.resolve_job_def(j)}
    assert defs.resolve_schedule_def("barometre_schedule").cron_schedule == "0 6 15 3,9 *"
    assert defs.resolve_sensor_def("data_raw_sensor").job_name == "observatory_job"


def test_every_run_of_the_annual_job_ends_with_its_report():
    """The run report is part of the annual job (UI, sensor, daemon) and comes after every other asset."""
    defs = definitions.build_definitions()
    job = defs.resolve_job_def("observatory_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "rapport_execution" in keys
    graph = defs.resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("rapport_execution")).parent_keys}
    # every other asset of the job is upstream of the report, directly or not
    ancestors, todo = set(), list(upstream)
    while todo:
        name = todo.pop()
        if name not in ancestors:
            ancestors.add(name)
            todo += [k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys]
    assert ancestors == keys - {"rapport_execution"}


def test_blocking_checks_guard_ingestion_classification_and_publication():
    graph = definitions.build_definitions().resolve_asset_graph()
    blocking = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    for name in [
        "staging_unique_keys",
        "staging_quarantine_rate",
        "ess_units_classified",
        "ess_referential_integrity",
        "indicateurs_secrecy_audit",
    ]:
        assert blocking[name] is True, name


def test_panoramas_are_partitioned_by_the_18_regions():
    graph = definitions.build_definitions().resolve_asset_graph()
    node = graph.get(dg.AssetKey("panoramas"))
    assert len(node.partitions_def.get_partition_keys()) == 18
    assert node.partitions_def.get_partition_keys()[:3] == ["01", "02", "03"]
