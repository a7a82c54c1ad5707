"""The jobs: one graph, run the same way by ``observatory run``, the UI, the schedule and the sensor."""

from __future__ import annotations

import dagster as dg

from pipelines.assets import barometre, commit, indicators, ingest, perimeter, portraits, publish, rapport
from pipelines.assets.publish import panoramas_layout
from pipelines.checks import ALL_CHECKS

ANNUAL_ASSETS = [
    ingest.reference_tables,
    ingest.extracts,
    ingest.staging,
    perimeter.unites_legales_classees,
    perimeter.ess_tables,
    perimeter.qualite,
    indicators.indicateurs_proteges,
    indicators.indicateurs,
    publish.cartes,
    publish.egalite_france,
    rapport.rapport_execution,
]
REGION_ASSETS = [publish.panoramas, portraits.portraits_epci]
BAROMETRE_ASSETS = list(barometre.ALL_ASSETS)
TERRITOIRE_ASSETS = [portraits.portrait_territoire]
ALL_ASSETS = [
    *ANNUAL_ASSETS, *REGION_ASSETS, publish.portail, *BAROMETRE_ASSETS, *TERRITOIRE_ASSETS, commit.publication
]  # fmt: skip
END = (publish.portail, commit.publication)
"""What every job ends with: the portal, then the commit of the run's publication."""
ALL_ASSET_CHECKS = [*ALL_CHECKS, panoramas_layout]

# Every job that publishes something ends with the portal, which lists what is on disk: whatever runs, in
# whatever order (the CLI, the UI, the schedule, the sensor), the portal shows the publication as it is; then
# the run's publication is committed (pipelines/assets/commit.py).
observatory_job = dg.define_asset_job(
    "observatory_job",
    selection=dg.AssetSelection.assets(*ANNUAL_ASSETS, *END),
    description="The annual vintage: ingestion, perimeter, indicators with secrecy, France products, portal.",
)
panoramas_job = dg.define_asset_job(
    "panoramas_job",
    selection=dg.AssetSelection.assets(*REGION_ASSETS, *END),
    description=(
        "The territorial publications of régions (partitioned by région; a backfill over several is one run), "
        "then the portal."
    ),
)
barometre_job = dg.define_asset_job(
    "barometre_job",
    selection=dg.AssetSelection.assets(*BAROMETRE_ASSETS, *END),
    description="The baromètre of one semester: indicator table, then its publications, then the portal.",
)
portraits_job = dg.define_asset_job(
    "portraits_job",
    selection=dg.AssetSelection.assets(*TERRITOIRE_ASSETS, *END),
    description="One territory on demand (dynamic partition = the slug of territoires/<slug>.csv), then the portal.",
)
JOBS = [observatory_job, panoramas_job, barometre_job, portraits_job]


