"""The audit's check of every family of relations at once (:mod:`observatory.audit.joint`)."""

from __future__ import annotations

from observatory.audit.joint import Relations, check_joint
from observatory.audit.lp import determined_cells
from observatory.audit.report import AuditReport


def _named(family: str, values: dict, equations: list, watched: set) -> Relations:
    """A system whose local cell names are already the global ones."""
    return Relations(family, values, equations, {c: c for c in values}, watched)


def test_two_families_together_determine_cells_that_neither_determines_alone():
    """x + y = 10 in one family; x + w = 5 and y + w = 7 in another (w an internal unknown). Alone, each
    leaves x and y free; together, 12 − 2w = 10: w = 1, x = 4, y = 6. A cell that one system determines
    alone (z) is its family's finding, not the joint check's."""
    a = _named("tableaux 2-D", {"x": None, "y": None, "t": 10.0}, [(["x", "y"], "t")], {"x", "y"})
    b = _named(
        "territoires",
        {"x": None, "y": None, "w": None, "a": 5.0, "b": 7.0},
        [(["x", "w"], "a"), (["y", "w"], "b")],
        {"x", "y"},
    )
    c = _named("champs", {"z": None, "s": 3.0}, [(["z"], "s")], {"z"})
    for r in (a, b):
        assert determined_cells(r.values, r.equations) == {}
    assert determined_cells(c.values, c.equations) == {"z": 3.0}
    report = AuditReport()
    found = check_joint([a, b, c], report)
    assert found == {"x": 4.0, "y": 6.0}  # w is no published figure: not watched, not reported
    assert report.joint_systems == 1 and report.joint_hidden == 2
    assert report.joint_findings == [
        "hidden cell determined exactly (tableaux 2-D + territoires): x = 4",
        "hidden cell determined exactly (tableaux 2-D + territoires): y = 6",
    ]
    assert not report.passed  # blocking


def test_a_cell_known_in_one_family_is_known_in_all():
    """The attacker's knowledge is the union: a cell published (or a known 0) in one family is no unknown in
    another. With w published by the first, the second's x + w = 5 and u + w = 9 give x and u, although
    every equation is the second's."""
    b = _named(
        "champs",
        {"x": None, "w": None, "u": None, "a": 5.0, "b": 9.0},
        [(["x", "w"], "a"), (["u", "w"], "b")],
        {"x", "u", "w"},
    )
    assert determined_cells(b.values, b.equations) == {}
    assert check_joint([b], AuditReport()) == {}  # alone: checked with its family
    a = _named("pyramides", {"w": 2.0}, [], set())
    assert check_joint([a, b], AuditReport()) == {"x": 3.0, "u": 7.0}


def test_two_families_together_bound_a_primary_cell_closer_than_its_level():
    """x + y = 55 in one family (x = 50 a primary headcount, level ±5); y + z = 8 in another. Alone, the first
    lets x go anywhere in [0, 55], as far as its level on each side; together y ≤ 8, so x ≥ 47: x cannot go
    down to 45. The joint check finds it, blocking; with the level of 2, x's interval [47, 55] is wide
    enough."""
    a = _named("tableaux 2-D", {"x": None, "y": None, "t": 55.0}, [(["x", "y"], "t")], {"x", "y"})
    b = _named("territoires", {"y": None, "z": None, "s": 8.0}, [(["y", "z"], "s")], {"y", "z"})
    report = AuditReport()
    assert check_joint([a], report, {"x": (50.0, 5.0)}) == {}  # alone: its family's own check
    assert report.joint_interval_checked == 0 and report.passed
    assert check_joint([a, b], report, {"x": (50.0, 5.0)}) == {}
    assert report.joint_interval_checked == 1
    assert report.joint_interval_narrow == [
        "hidden primary headcount bounded to [47, 55] (tableaux 2-D + territoires): x = 50, protection level ±5.0"
    ]
    assert not report.passed
    wide = AuditReport()
    check_joint([a, b], wide, {"x": (50.0, 2.0)})
    assert wide.joint_interval_checked == 1 and wide.joint_interval_narrow == [] and wide.passed
