"""Runs started by the UI, the schedule or the sensors: a staging folder per run, committed by the job's last step.

The publication functions alone (a run's copy, what it changed, two runs committing one after the other), then a
small Dagster job whose last steps are the real portal's and run report's keys and the real commit asset: a run
that fails leaves ``output/`` as it was, a run that succeeds changes only what it wrote.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from observatory import publication
from observatory.config import Settings
from pipelines.assets.commit import publication as commit_asset
from pipelines.resources import ObservatoryConfig, default_resources


def _published(tmp_path: Path) -> Settings:
    """A vintage already published: a table, a panorama, a manifest with two sections."""
    settings = Settings(output_dir=tmp_path / "output", warehouse=tmp_path / "wh.duckdb", millesime=2023)
    vintage = settings.vintage_output
    (vintage / "tables").mkdir(parents=True)
    (vintage / "tables" / "indicateurs.csv").write_text("old table\n")
    (vintage / "panoramas").mkdir()
    (vintage / "panoramas" / "region-53.pdf").write_text("old panorama\n")
    (vintage / "panoramas" / "region-52.pdf").write_text("stale panorama\n")
    publication.update_manifest(settings, run={"id": "old"}, barometre={"2023-S2": {"ok": True}})
    return settings


def _tree(vintage: Path) -> dict:
    return {
        str(p.relative_to(vintage)): p.read_text()
        for p in sorted(vintage.rglob("*"))
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")
    }


def test_a_run_commits_only_what_it_changed_and_merges_with_a_run_committed_meanwhile(tmp_path):
    settings = _published(tmp_path)
    before = _tree(settings.vintage_output)
    a = publication.stage_for_run(settings, "run-a")
    b = publication.stage_for_run(settings, "run-b")
    assert publication.stage_for_run(settings, "run-a") == a  # the run's other steps find the same folder
    assert _tree(a.vintage_output) == before  # a copy of the publication
    # run A rewrites the table, removes a stale panorama and sets its run report
    (a.vintage_output / "tables" / "indicateurs.csv").write_text("new table\n")
    (a.vintage_output / "panoramas" / "region-52.pdf").unlink()
    publication.update_manifest(a, run={"id": "a"})
    # run B (started at the same time) publishes a baromètre and its manifest section
    (b.vintage_output / "barometre" / "2024-S1").mkdir(parents=True)
    (b.vintage_output / "barometre" / "2024-S1" / "france.pdf").write_text("baro\n")
    publication.update_manifest(b, merge={"barometre": {"2024-S1": {"ok": True}}})
    assert _tree(settings.vintage_output) == before  # nothing published before a commit

    shown = []  # what the portal, rebuilt after each commit, would list

    def refresh(s):
        shown.append(sorted(_tree(s.vintage_output)))

    publication.commit_run(settings, b, refresh=refresh)
    publication.commit_run(settings, a, refresh=refresh)
    assert "barometre/2024-S1/france.pdf" in shown[1]  # A's portal lists what B committed meanwhile
    assert "panoramas/region-52.pdf" not in shown[1]

    assert _tree(settings.vintage_output) == {
        "barometre/2024-S1/france.pdf": "baro\n",  # B's file, kept by A's commit
        "panoramas/region-53.pdf": "old panorama\n",
        "tables/indicateurs.csv": "new table\n",
    }
    manifest = publication.read_manifest(settings)
    assert manifest["run"] == {"id": "a"}
    assert manifest["barometre"] == {"2023-S2": {"ok": True}, "2024-S1": {"ok": True}}
    assert not Path(a.output_dir).exists() and not Path(b.output_dir).exists()
    assert sorted(p.name for p in settings.output_dir.iterdir()) == ["2023"]  # nothing beside the vintage


def test_staging_folders_of_finished_runs_are_swept_and_live_ones_kept(tmp_path):
    settings = _published(tmp_path)
    import os
    import time

    done = publication.stage_for_run(settings, "done")
    live = publication.stage_for_run(settings, "live")
    foreign = publication.stage_for_run(settings, "foreign")  # another instance's run: unknown here
    lost = publication.stage_for_run(settings, "lost")  # unknown, and a day old
    day_ago = time.time() - publication.UNKNOWN_RUN_AGE_S - 60
    os.utime(lost.output_dir, (day_ago, day_ago))
    status = {"done": True, "live": False}
    removed = publication.sweep_run_staging(settings, lambda run_id: status.get(run_id))
    assert sorted(removed) == sorted([Path(done.output_dir), Path(lost.output_dir)])
    assert Path(live.output_dir).is_dir() and Path(foreign.output_dir).is_dir()


# ------------------------------------------------------------------------------------------ as a Dagster job


def _job(fail: bool):
    """The last steps of a job (keys of the real portal and run report) and the real commit."""

    @dg.asset(name="portail")
    def portail(observatory: ObservatoryConfig) -> dg.MaterializeResult:
        vintage = observatory.vintage_dir()
        (vintage / "tables" / "indicateurs.csv").write_text("new table\n")
        (vintage / "portail").mkdir(exist_ok=True)
        (vintage / "portail" / "index.html").write_text("<html>new</html>\n")
        return dg.MaterializeResult(metadata={"path": observatory.path_value(vintage / "portail" / "index.html")})

    @dg.asset(name="rapport_execution", deps=[portail])
    def rapport(observatory: ObservatoryConfig) -> None:
        publication.update_manifest(observatory.settings("unused.duckdb"), run={"id": "dagster"})
        if fail:
            raise RuntimeError("the run fails after writing")

    return [portail, rapport, commit_asset]


@pytest.mark.parametrize("fail", [True, False])
def test_a_dagster_run_publishes_only_when_every_step_passed(tmp_path, fail):
    settings = _published(tmp_path)
    before = _tree(settings.vintage_output)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            _job(fail), resources=default_resources(settings, stage_run=True), instance=instance,
            raise_on_error=False,
        )  # fmt: skip
        assert result.success is not fail
        staging = sorted(settings.output_dir.parent.glob(".output.run-*.tmp"))
        manifest = publication.read_manifest(settings)
        if fail:
            assert _tree(settings.vintage_output) == before
            assert manifest["run"] == {"id": "old"}
            assert [p.name for p in staging] == [f".output.run-{result.run_id}.tmp"]  # left for inspection
            # the next run's steps sweep it (its run is over)
            assert dg.materialize(_job(False), resources=default_resources(settings, stage_run=True),
                                  instance=instance).success  # fmt: skip
            assert not staging[0].exists()
            assert _tree(settings.vintage_output)["tables/indicateurs.csv"] == "new table\n"
        else:
            tree = _tree(settings.vintage_output)
            portal = {k: tree.pop(k) for k in list(tree) if k.startswith("portail/")}
            assert tree == {**before, "tables/indicateurs.csv": "new table\n"}
            # the portal rebuilt by the commit on the publication as committed (it lists the new table)
            assert "indicateurs.csv" in portal["portail/index.html"]
            assert manifest["run"] == {"id": "dagster"} and manifest["barometre"] == {"2023-S2": {"ok": True}}
            assert staging == []
            (mat,) = result.asset_materializations_for_node("publication")
            assert mat.metadata["files_changed"].value == 3  # the table, the portal, the manifest
            # the UI shows where the file is published, not the run's staging folder
            (shown,) = result.asset_materializations_for_node("portail")
            assert shown.metadata["path"].value == str(settings.vintage_output.absolute() / "portail" / "index.html")


def test_the_code_locations_runs_stage_and_the_cli_does_not():
    from pipelines import definitions, run

    observatory = definitions.defs.resources["observatory"]
    assert observatory.stage_run is True
    config = run._run_config(Settings(), Settings())
    assert config["resources"]["observatory"]["config"]["stage_run"] is False
    for name in ("observatory_job", "panoramas_job", "barometre_job", "portraits_job"):
        job = definitions.defs.resolve_job_def(name)
        assert dg.AssetKey("publication") in job.asset_layer.executable_asset_keys, name


def test_code_version_says_when_the_package_differs_from_its_commit(tmp_path, monkeypatch):
    """A publication made from local changes to the package's tracked files does not claim the commit alone
    (``git_modified``); an untracked file (a notebook, a scratch script) does not count."""
    import subprocess

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "publication.py").write_text("x = 1\n")

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)  # fmt: skip

    git("init", "-q")
    git("add", "pkg/publication.py")
    git("commit", "-q", "-m", "one")
    monkeypatch.setattr(publication, "__file__", str(pkg / "publication.py"))
    clean = publication.code_version()
    assert len(clean["git_commit"]) == 40 and clean["git_modified"] is False
    (pkg / "scratch.py").write_text("")
    assert publication.code_version()["git_modified"] is False
    (pkg / "publication.py").write_text("x = 2\n")
    assert publication.code_version()["git_modified"] is True
