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
