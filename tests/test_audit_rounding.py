"""The audit of the quantities published rounded (ETP, payroll): published values as the intervals they stand for.

Hand-made tables whose bounds are worked out by hand (module :mod:`observatory.audit.rounding`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.audit.joint import Relations, check_joint_rounded
from observatory.audit.lp import Interval, determined_cells, lp_bounds
from observatory.audit.report import AuditReport
from observatory.audit.rounding import as_intervals, bound_systems, check_rounded
from observatory.audit.rules import DEFAULTS, KEY
from observatory.audit.tables import Table2D
from observatory.reference.indicateurs import half_unit, round_published


def test_half_units_follow_the_publication_precision():
    assert half_unit("etp") == 0.5  # ETP published whole
    assert half_unit("masse_salariale_brute") == 500.0  # payroll to the thousand euros
    # half away from zero, as DuckDB's round in sql/indicators/indicateurs.sql
    got = round_published([4_051_500.0, 12.5, 13.75, -0.5], ["masse_salariale_brute", "etp", "part_emploi_prive", "etp"])
    assert got.tolist() == [4_052_000.0, 13.0, 13.8, -1.0]


def test_a_hidden_cell_is_bounded_by_the_rounding_of_its_neighbours():
    # true values a = 10.4, b = 3.3 (hidden), c = 20.4, total 34.1: published 10, 20 and 34
    values = {("a",): 10.0, ("b",): None, ("c",): 20.0, ("T",): 34.0}
    eqs = [([("a",), ("b",), ("c",)], ("T",))]
    # taken as exact, b = 4 (and the true 3.3 is not even in the answer)
    assert determined_cells(values, eqs) == {("b",): pytest.approx(4.0)}
    v = as_intervals(values, 0.5)
    assert v == {("a",): Interval(9.5, 10.5), ("b",): None, ("c",): Interval(19.5, 20.5), ("T",): Interval(33.5, 34.5)}
    low, high = lp_bounds(v, eqs, [("b",)])[("b",)]
    # b = T − a − c ∈ [33.5 − 10.5 − 20.5, 34.5 − 9.5 − 19.5]
    assert (low, high) == (pytest.approx(2.5), pytest.approx(5.5))


def test_rounded_parts_that_exceed_their_rounded_total_still_bound():
    # true values 2.6 + 2.6 + x (0.3, hidden) = 5.5: published 3, 3 and 6; taken as exact, x = 0 "recovered"
    values = {("p",): 3.0, ("q",): 3.0, ("x",): None, ("T",): 6.0}
    eqs = [([("p",), ("q",), ("x",)], ("T",))]
    assert determined_cells(values, eqs) == {("x",): pytest.approx(0.0)}
    assert lp_bounds(as_intervals(values, 0.5), eqs, [("x",)])[("x",)] == (pytest.approx(0.0), pytest.approx(1.5))


def _table(second: float):
    """Région R (départements D1, D2) × families f1, f2 of the ETP: a 2×2 cycle of hidden cells, (D1, f1)
    primary (ETP 40.2, largest establishment 39: NK level 39 / 0.85 − 40.2 = 5.68), its complement (D2, f1)
    worth ``second``; every margin published rounded."""
    true = {
        ("D1", "f1"): 40.2,
        ("D1", "f2"): 12.3,
        ("D2", "f1"): second,
        ("D2", "f2"): 25.4,
    }
    for c in ("D1", "D2"):
        true[(c, "toutes")] = true[(c, "f1")] + true[(c, "f2")]
    for f in ("f1", "f2", "toutes"):
        true[("R", f)] = true[("D1", f)] + true[("D2", f)]
    hidden = {("D1", "f1"), ("D1", "f2"), ("D2", "f1"), ("D2", "f2")}
    values = {c: None if c in hidden else float(np.round(v)) for c, v in true.items()}
    eqs = [([(g, "f1"), (g, "f2")], (g, "toutes")) for g in ("R", "D1", "D2")]
    eqs += [([("D1", f), ("D2", f)], ("R", f)) for f in ("f1", "f2", "toutes")]
    table = Table2D("etp", "ess", "famille", "R", values, eqs)
    rows = []
    for c, v in true.items():
        key = table.key(c)
        rows.append({**dict(zip(KEY, key)), "etp": v, "max_etp": 39.0 if c == ("D1", "f1") else v / 2})
    cells = pd.DataFrame(rows)
    published = cells[KEY].assign(
        indicateur="etp",
        statut=[
            "secret_primaire" if c == ("D1", "f1") else "secret_secondaire" if c in hidden else "publie"
            for c in true
        ],
    )
    return table, published, cells.assign(masse=0.0, max_masse=0.0)


def test_a_complement_too_small_for_the_protection_level_is_caught():
    table, published, cells = _table(second=2.2)
    report = AuditReport()
    check_rounded([table], published, cells, report)
    assert report.rounded_checked == 4
    # (D1, f1) ≤ R×f1 − 0 = 42.4 rounded (42, so ≤ 42.5 + 0.5 from D2's own rounding ...): far below 40.2 + 5.68
    assert len(report.rounded_narrow) == 1
    assert "hidden primary etp" in report.rounded_narrow[0]
    assert (
        str(("departement", "D1", "ess", "f1", *[DEFAULTS[d] for d in ("secteur", "tranche", "sexe", "pcs")]))
        in (report.rounded_narrow[0])
    )
    assert not report.passed


def test_a_large_complement_protects_the_primary_cell():
    table, published, cells = _table(second=30.6)
    report = AuditReport()
    check_rounded([table], published, cells, report)
    assert report.rounded_checked == 4
    assert report.rounded_narrow == []
    assert report.passed


def _two_families(b: float):
    """The ETP of three hidden cells in two families of relations: a 2-D table holds x + y = 1000 (x primary,
    32 ETP, its largest establishment 30: NK level 30 / 0.85 − 32 = 3.29), the territory relations
    y + z = ``b``; every total published rounded (to the unit). Neither family alone bounds x: the first
    leaves y free, the second does not hold x."""
    names = {"x": ("departement", "D1"), "y": ("departement", "D2"), "z": ("epci", "E1")}
    names |= {"a": ("region", "R"), "b": ("departement", "D3")}
    key = {c: (n, code, "ess", *[DEFAULTS[d] for d in KEY[3:]]) for c, (n, code) in names.items()}
    true = {"x": 32.0, "y": 968.0, "z": b - 968.0, "a": 1000.0, "b": b}
    hidden = {"x", "y", "z"}
    rows = [{**dict(zip(KEY, key[c])), "etp": v, "max_etp": 30.0 if c == "x" else v} for c, v in true.items()]
    cells = pd.DataFrame(rows).assign(masse=0.0, max_masse=0.0)
    status = {"x": "secret_primaire", "y": "secret_secondaire", "z": "secret_secondaire"}
    published = cells[KEY].assign(indicateur="etp", statut=[status.get(c, "publie") for c in true])

    def family(name, equations):
        values = {c: None if c in hidden else true[c] for eq in equations for c in (*eq[0], eq[1])}
        return Relations(name, values, equations, {c: ("etp", *key[c]) for c in values}, hidden & set(values))

    return [family("tableaux 2-D", [(["x", "y"], "a")]), family("territoires", [(["y", "z"], "b")])], published, cells


def test_two_families_together_bound_a_hidden_etp_closer_than_its_level():
    # together: x = a − y ≥ 999.5 − 970.5 = 29 (y ≤ b, z ≥ 0), above 32 − 3.29 = 28.71
    relations, published, cells = _two_families(b=970.0)
    for r in relations:  # each family alone, as the audit's own checks do: x stays wide enough
        checked, narrow = bound_systems(
            [(r.family, "etp", r.values, r.equations, {c: n[1:] for c, n in r.name.items()})], published, cells
        )
        assert (checked, narrow) == (2, [])  # x and y in the first, y and z in the second
    report = AuditReport()
    check_joint_rounded(relations, published, cells, report)
    assert report.joint_rounded_checked == 1  # x, the primary cell (the others are checked by each family)
    assert len(report.joint_rounded_narrow) == 1
    line = report.joint_rounded_narrow[0]
    assert "hidden primary etp bounded to [29.0, 1,000.5]" in line and "every family at once" in line
    assert "'D1'" in line and not report.passed
    # a larger b leaves y room to be small: x ≥ 999.5 − 985.5 = 14, below 28.71
    relations, published, cells = _two_families(b=985.0)
    report = AuditReport()
    check_joint_rounded(relations, published, cells, report)
    assert report.joint_rounded_checked == 1 and report.joint_rounded_narrow == [] and report.passed
