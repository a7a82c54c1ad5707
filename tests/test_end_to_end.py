"""The whole pipeline on generated sample data, checked as a user would: figures against an independent
pandas computation from the raw extracts, every product present, manifest and run report, region rebuild,
clean errors on bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import MILLESIME, ROOT, observatory_env, run_cli

PERIMETRE = ROOT / "observatory" / "reference" / "perimetre" / "insee-2008-4f"


def _france(table: pd.DataFrame, indicateur: str, champ: str) -> pd.Series:
    sel = table[
        (table.niveau == "france")
        & (table.champ == champ)
        & (table.famille == "toutes")
        & (table.secteur == "tous")
        & (table.tranche == "toutes")
        & (table.sexe == "tous")
        & (table.pcs == "toutes")
        & (table.indicateur == indicateur)
    ]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def _independent_ess_headcount(published) -> tuple[float, float]:
    """ESS headcount at 31/12 and ETP for France, from the raw files with pandas and the perimeter tables.

    Rows the pipeline rejected are taken from its quarantine (``qualite/<m>/rejets.parquet`` beside the
    warehouse, never published); the
    classification follows perimeter.md (CJ family, excluded activities when the nomenclature is NAFRev2).
    """
    raw = published.raw
    rejets = pd.read_parquet(published.warehouse.parent / "qualite" / str(MILLESIME) / "rejets.parquet")
    rejected = rejets[rejets.action == "rejete"]

    def drop_rejected(df: pd.DataFrame, extrait: str) -> pd.DataFrame:
        lines = set(rejected.loc[rejected.extrait == extrait, "ligne"].astype(int))
        return df[~df["_ligne"].isin(lines)]

    ul = pd.read_csv(next(raw.glob("StockUniteLegale*")), dtype=str, keep_default_na=False)
    ul["_ligne"] = range(2, len(ul) + 2)
    ul = drop_rejected(ul, "unites_legales").drop_duplicates("siren")
    cj = pd.read_csv(f"{PERIMETRE}.cj.csv", dtype=str, keep_default_na=False)
    sw = pd.read_csv(f"{PERIMETRE}.interrupteurs.csv", dtype=str)
    off = set(sw.loc[sw.defaut == "off", "interrupteur"])
    ess_cj = set(cj.loc[(cj.famille != "hors_ess") & ~cj.interrupteur.isin(off), "cj"])
    excl = pd.read_csv(f"{PERIMETRE}.activites_exclues.csv", dtype=str)
    naf = ul.activitePrincipaleUniteLegale
    excluded = (ul.nomenclatureActivitePrincipaleUniteLegale == "NAFRev2") & (
        naf.str[:2].isin(excl.loc[excl.niveau == "division", "code"])
        | naf.isin(excl.loc[excl.niveau == "sous_classe", "code"])
    )
    ess_siren = set(ul.loc[ul.categorieJuridiqueUniteLegale.isin(ess_cj) & ~excluded, "siren"])

    et = pd.read_csv(next(raw.glob("StockEtablissement*")), dtype=str, keep_default_na=False)
    et["_ligne"] = range(2, len(et) + 2)
    et = drop_rejected(et, "etablissements").drop_duplicates("siret")
    # France = Σ régions: establishments abroad, in a COM, without or with an unknown commune are in no cell
    outside = rejets[(rejets.extrait == "etablissements") & rejets.motif.isin(["hors_territoire", "commune_inconnue"])]
    et = et[~et["_ligne"].isin(set(outside.ligne.astype(int)))]
    known_siret = set(et.siret[et.siren.isin(set(ul.siren))])

    postes = pd.read_csv(next(raw.glob("postes_*")), dtype={"SIRET": str, "FILT": str})
    postes["_ligne"] = range(2, len(postes) + 2)
    postes = drop_rejected(postes, "postes")
    postes = postes[postes.SIRET.isin(known_siret) & postes.SIRET.str[:9].isin(ess_siren)]
    headcount = float(((postes.FILT == "1") & (postes.DATFIN == 360)).sum())
    return headcount, float(postes.EQTP.sum())


def test_france_ess_headcount_equals_independent_computation(published):
    table = pd.read_parquet(published.vintage / "tables" / "indicateurs.parquet")
    headcount, etp = _independent_ess_headcount(published)
    assert headcount > 1000
    assert _france(table, "effectif_31_12", "ess").valeur == headcount
    assert _france(table, "etp", "ess").valeur == pytest.approx(etp, abs=0.5)  # published whole
    # The three fields partition all employment.
    ensemble = _france(table, "effectif_31_12", "ensemble").valeur
    parts = sum(_france(table, "effectif_31_12", c).valeur for c in ("ess", "prive_hors_ess", "public"))
    assert parts == ensemble


def test_every_product_is_published(published):
    v = published.vintage
    regions = sorted(p.stem.split("-", 1)[1] for p in (v / "panoramas").glob("region-*.pdf"))
    assert len(regions) == 18
    assert len(list((v / "panoramas").glob("departement-*.pdf"))) == 101
    for code in regions:
        assert (v / "panoramas" / f"region-{code}.xlsx").stat().st_size > 0
        assert any((v / "donnees" / f"region-{code}").glob("*.csv"))
    for path in [
        "egalite/france.pdf",
        "cartes/indicateurs.gpkg",
        "portail/index.html",
        "qualite/rapport.html",
        "tables/indicateurs.csv",
    ]:
        assert (v / path).stat().st_size > 0, path
    assert any(v.glob("barometre/*/france.pdf"))
    assert not list(v.rglob("*.tmp")), "temporary files left behind"


def test_manifest_lists_inputs_and_the_run(published):
    manifest = json.loads((published.vintage / "manifest.json").read_text())
    assert manifest["millesime"] == MILLESIME
    assert manifest["perimetre_version"] == "insee-2008-4f"
    for entry in manifest["inputs"]:
        path = Path(entry["path"])
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    csv = published.vintage / "tables" / "indicateurs.csv"
    assert manifest["tables"]["indicateurs"]["csv_sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    run = manifest["run"]
    assert run["ok"] is True and run["scope"] == "full"
    assert run["audit"]["indicateurs_secrecy_audit"] is True
    assert len(run["regions_published"]) == 18
    read = run["read"]
    assert read["rows_read"] > read["rows_rejected"] > 0
    assert read["postes"]["rows_loaded"] + read["postes"]["rows_rejected"] == read["postes"]["rows_read"]


def test_one_region_is_rebuilt_alone(published_copy):
    v = published_copy.vintage
    bretagne = v / "panoramas" / "region-53.pdf"
    idf = v / "panoramas" / "region-11.pdf"
    before = (bretagne.stat().st_mtime_ns, idf.stat().st_mtime_ns)
    result = run_cli(["run", "--millesime", str(MILLESIME), "--region", "53"], published_copy.env)
    assert result.returncode == 0, result.stderr
    assert bretagne.stat().st_mtime_ns > before[0]
    assert idf.stat().st_mtime_ns == before[1]


def test_missing_extract_is_a_clear_error_and_publication_is_kept(published, tmp_path):
    env = observatory_env(tmp_path)
    raw = tmp_path / "data_raw" / str(MILLESIME)
    raw.mkdir(parents=True)
    for f in published.raw.iterdir():
        if not f.name.startswith("postes"):
            shutil.copy(f, raw / f.name)
    out = tmp_path / "output"
    for rel in ("tables/indicateurs.csv", "tables/indicateurs.parquet", "manifest.json"):  # a publication
        (out / str(MILLESIME) / rel).parent.mkdir(parents=True, exist_ok=True)  # (not the whole sample's)
        shutil.copy(published.vintage / rel, out / str(MILLESIME) / rel)

    def files() -> dict:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    before = files()
    result = run_cli(["run", "--millesime", str(MILLESIME)], env)
    assert result.returncode != 0
    assert "postes_" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert files() == before  # nothing added, removed or rewritten


def test_annual_job_run_from_dagster_writes_the_run_report(tmp_path):
    """A run of ``observatory_job`` as the UI, the sensor or the daemon starts it (not ``observatory run``:
    staged in its own folder, committed by its last step) writes the run report into ``manifest.json`` and
    into its own Dagster metadata; its row counts are the staging tables' and its timings cover every asset
    of the job."""
    import dagster as dg
    import duckdb

    from observatory.config import Settings
    from observatory.synth import generate
    from observatory.synth.regional import keep_regions
    from pipelines import definitions
    from pipelines.resources import default_resources

    settings = Settings(
        data_dir=tmp_path / "data_raw",
        output_dir=tmp_path / "output",
        warehouse=tmp_path / "warehouse" / "observatory.duckdb",
        cache_dir=ROOT / "warehouse" / "cache",
        millesime=MILLESIME,
    )
    generate(settings.raw_dir, millesime=MILLESIME, fraction=0.01, seed=42, dirty_rate=0.002)
    keep_regions(settings.raw_dir, ["52", "53"])  # a regional observatory's extract: a quarter of the time
    job = definitions.defs.resolve_job_def("observatory_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(  # staged as the code location's runs are, committed by its last step
            resources=default_resources(settings, stage_run=True), instance=instance,
            tags={"dagster/sensor_name": "test"},
        )  # fmt: skip
        assert result.success
        assert not list(settings.output_dir.parent.glob(".output.run-*.tmp"))  # committed, then removed
        mats = instance.fetch_materializations(dg.AssetKey("rapport_execution"), limit=1).records
        shown = mats[0].asset_materialization.metadata
    run = json.loads((settings.vintage_output / "manifest.json").read_text())["run"]
    assert run["run_id"] == result.run_id and run["trigger"] == "sensor_name: test"
    assert run["ok"] is True and run["audit"]["indicateurs_secrecy_audit"] is True
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for kind in ("unites_legales", "etablissements", "postes", "effectifs_trimestriels"):
            (rows,) = con.execute(f"SELECT count(*) FROM staging.{kind}").fetchone()
            assert run["read"][kind]["rows_loaded"] == rows, kind
        (quarantined,) = con.execute("SELECT count(*) FROM staging.quarantaine").fetchone()
        (published,) = con.execute("SELECT count(*) FROM ind.publication").fetchone()
        regions = {r for (r,) in con.execute("SELECT DISTINCT code_region FROM ess.etablissements WHERE code_region IS NOT NULL").fetchall()}
    finally:
        con.close()
    assert run["published"]["qualite"]["rows_quarantined"] == quarantined > 0
    per_extract = [v for v in run["read"].values() if isinstance(v, dict) and "rows_rejected" in v]
    assert len(per_extract) == 4
    assert run["read"]["rows_rejected"] == sum(v["rows_rejected"] for v in per_extract) > 0
    assert run["published"]["indicateurs"]["dagster/row_count"] == published
    assert sorted(f["name"] for f in run["read"]["files"]) == sorted(p.name for p in settings.raw_dir.iterdir())
    # the report is written by rapport_execution, before the commit of the run's publication
    job_assets = {k.to_user_string() for k in job.asset_layer.executable_asset_keys} - {
        "rapport_execution", "publication"
    }  # fmt: skip
    assert job_assets <= set(run["steps_s"]) and all(s >= 0 for s in run["steps_s"].values())
    assert shown["rows_read"].value == run["read"]["rows_read"]
    # two régions: the map of the régions cannot be classified, it is not drawn and the report says so
    assert regions == {"52", "53"}
    assert "part-ess-emploi-regions" in run["published"]["cartes"]["not_drawn"]
    assert not (settings.vintage_output / "cartes" / "part-ess-emploi-regions.png").exists()
    assert (settings.vintage_output / "cartes" / "part-ess-emploi-departements.png").exists()
    assert shown["report"].value["read"] == run["read"]


def test_failed_annual_run_from_dagster_leaves_its_report(tmp_path, monkeypatch):
    """A run of ``observatory_job`` started outside the CLI that fails (here: the jobs extract is missing)
    leaves, through the ``observatory_failure_report`` sensor, the same report as ``observatory run``: the
    failing step and its one-line message, beside the warehouse; no manifest is written."""
    import dagster as dg

    from pipelines import definitions
    from pipelines.resources import default_resources
    from pipelines.sensors import failure_report_sensor

    env = observatory_env(tmp_path)
    for name, value in env.items():
        if name.startswith("OBSERVATORY_"):
            monkeypatch.setenv(name, value)
    from observatory.config import Settings

    settings = Settings()
    settings.raw_dir.mkdir(parents=True)
    for name in ("StockUniteLegale_utf8.csv", "StockEtablissement_utf8.csv", "effectifs_trimestriels.csv"):
        (settings.raw_dir / name).write_text("x\n")
    job = definitions.defs.resolve_job_def("observatory_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            resources=default_resources(settings), instance=instance, raise_on_error=False
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        (failure,) = [
            e.dagster_event
            for e in instance.all_logs(result.run_id)
            if e.dagster_event is not None and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
        ]
        ctx = dg.build_run_status_sensor_context(
            sensor_name="observatory_failure_report", dagster_event=failure, dagster_instance=instance,
            dagster_run=run,
        ).for_run_failure()
        failure_report_sensor(ctx)
    report = json.loads((settings.warehouse.parent / "last_failed_run.json").read_text())
    assert report["ok"] is False and report["run_id"] == result.run_id and report["trigger"] == "ui"
    (error,) = report["errors"]
    assert error.startswith("step 'extracts' failed") and "postes_" in error and "Traceback" not in error
    assert report["millesime"] == MILLESIME and report["read"]["raw_dir"] == str(settings.raw_dir)
    assert not (settings.vintage_output / "manifest.json").exists()


@pytest.mark.system  # a whole run of its own (≈ 40 s of `make test`'s critical process): `make test-system`
def test_a_regional_extract_publishes_its_region(tmp_path):
    """A CRESS's sequence on its own extract: ``observatory generate --region 94`` then ``observatory run``
    (Corse: two départements, the smallest run of a whole région). The run succeeds and says which régions it
    leaves out; Corse's panorama, plaquettes and baromètre are published and no other région's; the maps that
    two territories cannot fill are left out (named in the run report); the portal lists Corse and its
    départements only. One step and one worker at a time: a correctness test that must
    not take the cores the session's run shares with the other test process."""
    env = {**observatory_env(tmp_path), "OBSERVATORY_WORKERS": "1", "OBSERVATORY_MAX_CONCURRENT": "1"}
    gen = run_cli(["generate", "--fraction", "0.02", "--region", "94", "--millesime", str(MILLESIME)], env)
    assert gen.returncode == 0, gen.stderr
    result = run_cli(["run", "--millesime", str(MILLESIME)], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no data in région(s) 01, 02, 03, 04, 06, 11, 24, 27, 28, 32, 44, 52, 53, 75, 76, 84, 93:" in result.stdout
    v = tmp_path / "output" / str(MILLESIME)
    assert sorted(p.name for p in (v / "panoramas").glob("region-*.pdf")) == ["region-94.pdf"]
    assert sorted(p.stem for p in (v / "panoramas").glob("departement-*.pdf")) == [
        "departement-2A", "departement-2B"
    ]
    semester = next((v / "barometre").iterdir())
    assert sorted(p.name for p in semester.glob("*.pdf")) == ["france.pdf", "region-94.pdf"]
    run = json.loads((v / "manifest.json").read_text())["run"]
    assert "part-ess-emploi-regions" in run["published"]["cartes"]["not_drawn"]
    assert not (v / "cartes" / "part-ess-emploi-regions.png").exists()
    html = (v / "portail" / "index.html").read_text(encoding="utf-8")
    assert 'id="region-94"' in html and 'id="region-11"' not in html and 'id="departement-75"' not in html
