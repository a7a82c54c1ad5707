"""The last step of every job: the run's publication committed into ``output/<millesime>``.

Runs started by the UI, the schedule and the sensors write into a staging folder of their own
(:class:`pipelines.resources.ObservatoryConfig`, ``stage_run``); this step, which comes after everything the
job publishes, applies what the run changed (:func:`observatory.publication.commit_run`). A run that failed
earlier never reaches it, so ``output/`` keeps the previous publication. ``observatory run`` stages its jobs
itself and commits once at its end: for it this step does nothing.
"""

from pathlib import Path

import dagster as dg

from observatory.publish import portal
from pipelines.assets.publish import portail
from pipelines.assets.rapport import rapport_execution
from pipelines.resources import ObservatoryConfig


def _rebuild_portal(settings) -> None:
    portal.build_portal(Path(settings.output_dir), settings.millesime)


@dg.asset(
    group_name="publish",
    deps=[portail, rapport_execution],
    description=(
        "Commits the run's staged publication into `output/<millesime>`: only the files this run wrote or "
        "removed, the manifest's sections merged, under the publication lock; then the portal rebuilt on the "
        "result (other runs may have committed meanwhile). A failed run never gets here. (`observatory run` "
        "commits itself: no-op.)"
    ),
)
def publication(observatory: ObservatoryConfig) -> dg.MaterializeResult:
    changed = observatory.commit(refresh=_rebuild_portal)
    return dg.MaterializeResult(
        metadata={"files_changed": len(changed), "staged": observatory.stage_run},
    )
