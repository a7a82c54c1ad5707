"""The independent secrecy audit: its own rules and relations, recomputed from the microdata.

It imports nothing from :mod:`observatory.secrecy` (the protection): an error there must not be repeated
here. It recomputes everything it checks from the microdata with its own code (the jobs summed per
establishment in DuckDB by ``sql/audit/``, the cells in pandas; it does not reuse ``sql/indicators``) and proves, on the published table only, that (1) no published cell breaks a primary
rule and (2) in each 2-D table département × breakdown of a region with its margins, no hidden cell is
determined exactly by the published ones (min and max of the cell under the table's equations, HiGHS).

Modules: :mod:`.rules` (the rules, stated again), :mod:`.microdata` (FREQ / VALUE / MAX per cell),
:mod:`.lp` (bounds of hidden cells), :mod:`.tables` (the indicator table's checks), :mod:`.barometre`
(the baromètre's), :mod:`.products` (the baromètre's year-end quarter against the annual table),
:mod:`.intervals` (protection levels), :mod:`.rounding` (ETP and payroll, published values as their rounding
intervals; the champ tables' intervals are in :mod:`.tables`), :mod:`.territories` (the territory relations),
:mod:`.joint` (every family of relations at once), :mod:`.run` (the whole audit), :mod:`.report`.
"""

from __future__ import annotations

from observatory.audit.barometre import audit_barometre, quarter_cells, quarter_cells_of
from observatory.audit.lp import EXACT, determined_cells, free_cells, lp_bounds
from observatory.audit.microdata import recompute_cells
from observatory.audit.products import audit_barometre_annual
from observatory.audit.report import AuditReport
from observatory.audit.run import audit, audit_publication, audit_warehouse

__all__ = [
    "EXACT",
    "AuditReport",
    "audit",
    "audit_barometre",
    "audit_barometre_annual",
    "audit_publication",
    "audit_warehouse",
    "determined_cells",
    "free_cells",
    "lp_bounds",
    "quarter_cells",
    "quarter_cells_of",
    "recompute_cells",
]
