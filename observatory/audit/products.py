"""The audit across products: the baromètre's year-end quarter against the published annual table.

The baromètre's quarter ``<millesime>-T4`` counts the same headcounts as the annual table's
``effectif_31_12`` (on the baromètre's cells: France, régions, départements, by champ, ESS family and
sector; the two sources differ, so most values agree, not all). An attacker holds both publications: a cell
hidden in one product and published with the same value in the other is disclosed, and the other product's
published values, put into the baromètre's equations, may determine more hidden cells. Stated and solved
here on its own, from the published tables and the computed values (what the warehouse holds), with
nothing from the protection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.audit.barometre import _lp_tables
from observatory.audit.report import AuditReport

KEY = ["niveau", "code", "champ", "famille", "secteur"]
"""The baromètre's cell key; the annual table's cells at ``tranche``/``sexe``/``pcs`` totals share it."""
HIDDEN = ("secret_primaire", "secret_secondaire")
TOL = 0.5
"""Headcounts are whole: two published headcounts are the same figure when they differ by less than 0.5."""


def audit_barometre_annual(
    barometre: pd.DataFrame,
    annual: pd.DataFrame,
    departements: pd.DataFrame,
    trimestre: str,
    report: AuditReport | None = None,
) -> AuditReport:
    """Cross-product findings of the baromètre's ``trimestre`` (its year-end quarter) against the annual table.

    ``barometre``: the quarter's headcount cells (``KEY``, ``statut``, ``valeur`` as published — empty when
    hidden — and ``valeur_calculee``, the computed headcount); ``annual``: the annual table's
    ``effectif_31_12`` on the same cells, same columns. Findings (``report.cross_product_findings``):

    - a cell hidden in one product and published by the other with the value it hides;
    - a hidden baromètre cell that the baromètre's equations (the LP tables of :func:`audit_barometre`)
      determine exactly once the annual table's published values are put in for the hidden cells they
      disclose — recovered from both products together, not from the baromètre alone.
    """
    report = AuditReport() if report is None else report
    b = barometre[barometre.statut != "non_disponible"]
    a = annual[annual.statut != "non_disponible"]
    m = b[[*KEY, "statut", "valeur", "valeur_calculee"]].merge(
        a[[*KEY, "statut", "valeur", "valeur_calculee"]], on=KEY, suffixes=("_b", "_a"), validate="one_to_one"
    )
    report.cross_product_checked += len(m)
    hid_b, hid_a = m.statut_b.isin(HIDDEN).to_numpy(), m.statut_a.isin(HIDDEN).to_numpy()
    pub_b, pub_a = (m.statut_b == "publie").to_numpy(), (m.statut_a == "publie").to_numpy()
    same_b = np.abs(m.valeur_a.astype("float64") - m.valeur_calculee_b.astype("float64")).to_numpy() < TOL
    same_a = np.abs(m.valeur_b.astype("float64") - m.valeur_calculee_a.astype("float64")).to_numpy() < TOL
    told = hid_b & pub_a & same_b
    for r in m[told].itertuples(index=False):
        report.cross_product_findings.append(
            f"cell hidden in the baromètre ({trimestre}, {r.statut_b}) and published by the annual table with "
            f"its value: {_name(r)} = {r.valeur_a:g}"
        )
    for r in m[hid_a & pub_b & same_a].itertuples(index=False):
        report.cross_product_findings.append(
            f"cell hidden in the annual table ({r.statut_a}) and published by the baromètre ({trimestre}) with "
            f"its value: {_name(r)} = {r.valeur_b:g}"
        )
    if not told.any():
        return report
    # the attacker's baromètre: its published headcounts, and the annual values of the cells they disclose
    region_of = dict(zip(departements.code_departement, departements.code_region))
    cells = b[b.niveau.isin(["region", "departement"])][[*KEY, "statut", "valeur"]].assign(
        trimestre=trimestre
    )
    cells["v"] = np.where(cells.statut == "publie", cells.valeur.astype("float64"), np.nan)
    alone, both = [], []
    _lp_tables(cells[[*KEY, "trimestre", "v"]], region_of, AuditReport(), alone)
    subst = m[told].set_index(KEY).valeur_a
    idx = pd.MultiIndex.from_frame(cells[KEY])
    cells["v"] = np.where(idx.isin(subst.index), subst.reindex(idx).to_numpy(), cells.v.to_numpy())
    _lp_tables(cells[[*KEY, "trimestre", "v"]], region_of, AuditReport(), both)
    seen = set(alone)
    report.cross_product_findings += [
        f"{f} using the annual table's published values" for f in both if f not in seen
    ]
    return report


def _name(r) -> str:
    return f"({r.niveau} {r.code}, {r.champ}, {r.famille}, {r.secteur})"
