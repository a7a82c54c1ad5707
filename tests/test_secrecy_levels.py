"""Protection levels chosen by the protection (``observatory.secrecy.levels``), checked with the audit's LP.

The tables are the protection's 2-D tables (``(name, ids, rows)``: a grid of départements × sectors with its
margins); the intervals are computed apart, by :func:`observatory.audit.lp.lp_bounds` (min and max of each
hidden cell, published cells as they are, cells ≥ 0).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from observatory.audit.intervals import protection_level
from observatory.audit.lp import lp_bounds
from observatory.secrecy import levels


def _grid_table(grid: np.ndarray):
    """A (r + 1) × (c + 1) table, margins last; returns the table, the cell values and the position of each
    (row, column) label pair (``"t"`` the margin)."""
    nr, nc = grid.shape
    full = np.zeros((nr + 1, nc + 1))
    full[:nr, :nc] = grid
    full[:nr, nc], full[nr, :nc], full[nr, nc] = grid.sum(axis=1), grid.sum(axis=0), grid.sum()
    rl, cl = [*map(str, range(nr)), "t"], [*map(str, range(nc)), "t"]
    pos = {(r, c): i * (nc + 1) + j for i, r in enumerate(rl) for j, c in enumerate(cl)}
    rows = [(pos[(r, "t")], [pos[(r, c)] for c in cl[:-1]]) for r in rl]
    rows += [(pos[("t", c)], [pos[(r, c)] for r in rl[:-1]]) for c in cl]
    eqs = [([(r, c) for c in cl[:-1]], (r, "t")) for r in rl]
    eqs += [([(r, c) for r in rl[:-1]], ("t", c)) for c in cl]
    return ("montant/ess/secteur/R", np.arange(full.size), rows), full.ravel(), pos, eqs


def _intervals(value, hidden, pos, eqs):
    values = {k: (None if hidden[p] else float(value[p])) for k, p in pos.items()}
    return {pos[k]: b for k, b in lp_bounds(values, eqs).items()}


def _short(value, hidden, up, down, pos, eqs) -> list:
    out = []
    for p, (lo, hi) in _intervals(value, hidden, pos, eqs).items():
        if up[p] > 0 and (hi < value[p] + up[p] - 1e-6 or lo > value[p] - down[p] + 1e-6):
            out.append((p, lo, hi))
    return out


def test_levels_are_insee_nk_1_85_and_ten_percent_as_the_audit_states_them():
    """The protection states the levels in its own code: the same figures as the audit's."""
    value = np.array([100.0, 100, 40, 0, 10])
    largest = np.array([95.0, 85, 30, 0, 10])
    up, down = levels.protection_levels(value, largest, np.array([True, True, True, True, False]))
    expect = [protection_level(v, m) for v, m in zip(value[:3], largest[:3], strict=True)]
    assert up[:3] == pytest.approx(expect)
    assert down[:3] == pytest.approx([min(e, v) for e, v in zip(expect, value[:3], strict=True)])
    assert up[3:].tolist() == [0.0, 0.0] and down[3:].tolist() == [0.0, 0.0]  # empty cell, not primary


def test_small_complements_are_widened_to_the_protection_level():
    """A dominance cell of 100 jobs (95 in one establishment: level 11.76 each side) hidden with complements of
    5 jobs in its row and in its column: the audit's LP bounds it to [50, 105], 5 jobs above its value. After the protection, its
    interval reaches the level on both sides, and no margin (a territory's or a sector's total) is hidden:
    interior cells can do it."""
    grid = np.array([[100.0, 5, 40, 60], [5, 50, 30, 20], [70, 30, 80, 90]])
    table, value, pos, eqs = _grid_table(grid)
    hidden = np.zeros(value.size, bool)
    for rc in [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]:
        hidden[pos[rc]] = True
    largest = np.zeros(value.size)
    largest[pos[("0", "0")]] = 95
    up, down = levels.protection_levels(value, largest, np.isin(np.arange(value.size), [pos[("0", "0")]]))
    lo, hi = _intervals(value, hidden, pos, eqs)[pos[("0", "0")]]
    assert (lo, hi) == pytest.approx((50, 105))  # narrow above: the attack gets within 5 jobs
    tier = np.where([r == "t" or c == "t" for r, c in sorted(pos, key=pos.get)], 7.0, 2.0)
    zero = np.zeros(value.size, bool)
    added = levels.repair_levels([table], hidden, zero, value, tier, up, down)
    assert added > 0
    assert _short(value, hidden, up, down, pos, eqs) == []
    margins = [p for (r, c), p in pos.items() if "t" in (r, c)]
    assert not hidden[margins].any()
    lo, hi = _intervals(value, hidden, pos, eqs)[pos[("0", "0")]]
    assert hi >= 100 + up[pos[("0", "0")]] - 1e-6 and lo <= 100 - down[pos[("0", "0")]] + 1e-6


def test_every_primary_reaches_its_levels_on_random_tables():
    """On random 4 × 5 tables with random primary cells (and their closure partners), every hidden primary cell
    reaches its protection levels after :func:`levels.repair_levels`, by the audit's LP; cells known to be 0
    are never hidden; and the step adds nothing when every level is already reached."""
    rng = np.random.default_rng(3)
    repaired = 0
    for _ in range(30):
        grid = rng.integers(0, 60, size=(4, 5)).astype(float)
        grid[rng.random(grid.shape) < 0.15] = 0.0
        table, value, pos, eqs = _grid_table(grid)
        interior = np.array([r != "t" and c != "t" for r, c in sorted(pos, key=pos.get)])
        prim = interior & (rng.random(value.size) < 0.2) & (value > 0)
        hidden = prim.copy()
        for r, c in [k for k, p in pos.items() if prim[p]]:  # a partner in the row and in the column
            hidden[pos[(r, str((int(c) + 1) % 5))]] = hidden[pos[(str((int(r) + 1) % 4), c)]] = True
        largest = np.where(rng.random(value.size) < 0.5, value, value * 0.5)
        up, down = levels.protection_levels(value, largest, prim)
        zero = value == 0
        hidden &= ~zero | prim
        tier = np.where(interior, 2.0, 7.0)
        before = hidden.copy()
        added = levels.repair_levels([table], hidden, zero, value, tier, up, down)
        assert not (hidden & ~before & zero).any()
        assert _short(value, hidden, up, down, pos, eqs) == []
        repaired += added > 0
        again = hidden.copy()
        assert levels.repair_levels([table], again, zero, value, tier, up, down) == 0
        assert (again == hidden).all()
    assert repaired >= 5  # the random tables do exercise the repair


def test_tied_cells_are_one_column_and_the_cheapest_perturbation_is_the_untied_one():
    """A cell equal to another by an equation of two (an EPCI of one atom) is one column of the levels' LPs
    (:class:`levels._Ties`). On random tables with such aliases, restricted at times to a neighbourhood (the
    columns that may move), the perturbation found moves every alias with its cell, keeps every equation,
    moves the target by its level and costs what the untied LP, solved here apart, says is the least."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(5)
    solved = 0
    for _ in range(20):
        (_name, _ids, rows), value, _pos, _eqs = _grid_table(rng.integers(1, 40, size=(3, 4)).astype(float))
        n0 = len(value)
        source = rng.choice(n0, 4, replace=False)
        rows = rows + [(n0 + i, [int(c)]) for i, c in enumerate(source)]
        value = np.concatenate([value, value[source]])
        n = len(value)
        a = levels._system(np.arange(n), rows)
        ties = levels._Ties.of(a, limit=0)  # a table this small is not tied by default
        assert len(ties.size) == n0 and (ties.label[n0:] == ties.label[source]).all()
        movable = rng.random(n) > 0.1
        weight = np.where(rng.random(n) < 0.4, 0.0, 1 + rng.random(n) * 10)
        target = int(rng.choice(np.flatnonzero(movable)))
        cols = np.arange(n) if rng.random() < 0.5 else np.union1d(np.flatnonzero(rng.random(n) < 0.7), [target])
        level, side = float(value[target] * rng.uniform(0.1, 0.9)), int(rng.choice([-1, 1]))
        d = levels._perturbation(ties, cols, movable, value, weight, target, level, side)
        # the untied LP: d = up − down over every cell, the cells outside ``cols`` or not movable held at 0
        free = np.isin(np.arange(n), cols) & movable
        hi = np.concatenate([np.where(free, np.inf, 0.0), np.where(free, value, 0.0)])
        lo = np.zeros(2 * n)
        fixed = (level, 0.0) if side > 0 else (0.0, level)
        lo[target], hi[target], lo[n + target], hi[n + target] = fixed[0], fixed[0], fixed[1], fixed[1]
        dense = a.toarray()
        ref = linprog(
            np.concatenate([weight, weight]),
            A_eq=np.hstack([dense, -dense]),
            b_eq=np.zeros(len(dense)),
            bounds=np.column_stack([lo, hi]),
            method="highs",
        )
        if ref.status == 2:
            assert d is None
            continue
        solved += 1
        assert d is not None and ref.status == 0
        assert np.abs(dense @ d).max() < 1e-7
        assert d[target] == pytest.approx(side * level)
        assert (d[~free] == 0).all() and (d >= -value - 1e-7).all()
        assert (d[n0:] == d[source]).all()
        assert weight @ np.abs(d) == pytest.approx(ref.fun, rel=1e-7, abs=1e-7)
    assert solved >= 8


def test_a_cell_freed_by_a_later_complement_is_pushed_again_instead_of_searched(monkeypatch):
    """:class:`levels._Repush`, asked before a search of the whole table: two published totals T = A + B and
    U = C + D, the primary A (40 jobs, level +4) hidden and short of its level while B is published. With no
    cell hidden since it was made it solves nothing; after C is hidden (a complement for another cell, in the
    other equation) A is still short; after B is hidden A reaches its level with T fixed, and is then known."""
    value = np.array([100.0, 40.0, 60.0, 50.0, 20.0, 30.0])  # T, A, B, U, C, D
    rows = [(0, [1, 2]), (3, [4, 5])]
    ids = np.arange(len(value))
    a = levels._system(ids, rows)
    block = ("t", ids, a, None, levels._Ties.of(a))
    hidden = np.array([False, True, False, False, False, False])
    zero = np.zeros(len(value), bool)
    level = np.where(ids == 1, 4.0, 0.0)
    assert levels._unreached([block], hidden, zero, value, level, 1)[0].tolist() == [1]
    known: set[int] = set()
    repush = levels._Repush(block, np.array([1]), hidden, zero, value, level, 1, 0.0, known)
    pushed = []
    reach = levels._reach
    monkeypatch.setattr(levels, "_reach", lambda *args, **kw: pushed.append(1) or reach(*args, **kw))
    assert repush(0) is False and pushed == []  # nothing hidden since: no LP
    hidden[4] = True
    assert repush(0) is False and pushed == [1] and known == set()
    hidden[2] = True
    assert repush(0) is True and known == {1} and repush.reached == {1}


@pytest.fixture(scope="module")
def protected_seed_1(tmp_path_factory):
    """The audit of the micro publication of seed 1 as the protection makes it (shared by the two tests that
    weaken the protection of the same publication)."""
    from observatory import audit
    from tests.test_indicators import publish_sample

    return audit.audit_publication(publish_sample(tmp_path_factory.mktemp("full"), seed=1))


def test_the_audit_fails_a_protection_without_levels_and_passes_the_protection(
    tmp_path, monkeypatch, protected_seed_1
):
    """Planted disclosure, on a whole micro publication (seed 1): without the levels step, the Loiret's public
    health headcount (21 jobs, primary) is published bounded to [0, 22] — one job above its value, against a
    level of ±3.7 — and the audit fails; with the protection as it is, the audit passes with no narrow cell.
    (The weak protection also goes without the joint proof, whose complements happen to widen that cell.)"""
    from observatory import audit
    from tests.test_indicators import publish_sample

    protect = importlib.import_module("observatory.secrecy.protect")
    with monkeypatch.context() as m:
        m.setattr(protect, "protection_levels", lambda v, x, p: (np.zeros(len(v)), np.zeros(len(v))))
        m.setattr(protect, "joint_system", lambda long, cells: (long.iloc[:0], np.zeros(len(cells), bool)))
        weak = audit.audit_publication(publish_sample(tmp_path / "weak", seed=1))
    assert not weak.passed
    assert len(weak.interval_narrow) == 1
    assert "[0, 22]" in weak.interval_narrow[0] and "'45', 'public'" in weak.interval_narrow[0]
    full = protected_seed_1
    assert full.passed, full.summary()
    assert full.interval_checked > 0 and full.interval_narrow == []


def test_an_additive_table_such_as_a_barometre_quarter_reaches_the_levels_too():
    """``protect_additive`` (the baromètre's quarters) with levels: a région of two départements × three
    sectors, ESS only; the dominance cell 75 × A (100 jobs, 95 in one establishment) would be bounded to 5 jobs
    above its value by its primary-rule partners; after the protection, the audit's LP gives it its ±11.8."""
    import pandas as pd

    from observatory.secrecy import DEFAULTS, protect_additive

    grid = {"75": {"A": 100.0, "B": 5.0, "C": 300.0}, "77": {"A": 5.0, "B": 50.0, "C": 200.0}}
    rows = []
    for code, by in grid.items():
        rows += [("departement", code, s, v) for s, v in by.items()]
        rows.append(("departement", code, "tous", sum(by.values())))
    for s in ("A", "B", "C"):
        rows.append(("region", "11", s, grid["75"][s] + grid["77"][s]))
    rows.append(("region", "11", "tous", sum(sum(by.values()) for by in grid.values())))
    cells = pd.DataFrame(rows, columns=["niveau", "code", "secteur", "value"])
    cells = cells.assign(champ="ess", **{k: v for k, v in DEFAULTS.items() if k != "secteur"})
    pos = {(c, s): i for i, (c, s) in enumerate(zip(cells.code, cells.secteur, strict=True))}
    value = cells.value.to_numpy()
    primary = np.zeros(len(cells), bool)
    primary[[pos[("75", "A")], pos[("75", "B")], pos[("77", "A")]]] = True  # the partners: frequency cells
    largest = np.where(primary, value * 0.5, 0.0)
    largest[pos[("75", "A")]] = 95.0
    up, down = levels.protection_levels(value, largest, primary)
    hidden = protect_additive(
        cells, primary.copy(), value, np.zeros(len(cells), bool), {"75": "11", "77": "11"}, levels=(up, down)
    )
    eqs = [([(g, s) for s in "ABC"], (g, "tous")) for g in ("75", "77", "11")]
    eqs += [([("75", s), ("77", s)], ("11", s)) for s in ("A", "B", "C", "tous")]
    values = {k: (None if hidden[p] else float(value[p])) for k, p in pos.items()}
    lo, hi = lp_bounds(values, eqs)[("75", "A")]
    assert hi >= 100 + up[pos[("75", "A")]] - 1e-6 and lo <= 100 - down[pos[("75", "A")]] + 1e-6
    bare = {k: (None if primary[p] or k in {("77", "B")} else float(value[p])) for k, p in pos.items()}
    assert lp_bounds(bare, eqs)[("75", "A")][1] == pytest.approx(105)  # what the closure alone would leave


def test_a_rounded_quantity_counts_its_published_values_as_intervals():
    """A frequency cell of 56 (level 10 %: 5.6) hidden in a 2 × 2 cycle with complements of 5: taken as exact,
    the published cells let it rise by 5 only, and the step hides more; published rounded to the unit (slack
    0.5: each stands for ±0.5) they let it rise by 6 (the column's 70 and its total move by 0.5 each), which
    the audit's LP over the rounding intervals confirms: nothing to hide."""
    from observatory.audit.rounding import as_intervals

    grid = np.array([[56.0, 5, 40, 60], [5, 50, 30, 20], [70, 30, 80, 90]])
    table, value, pos, eqs = _grid_table(grid)
    cycle = [pos[rc] for rc in [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]]
    target = pos[("0", "0")]
    up, down = levels.protection_levels(value, np.full(value.size, 1.0), np.arange(value.size) == target)
    assert up[target] == pytest.approx(5.6)
    tier = np.where([r == "t" or c == "t" for r, c in sorted(pos, key=pos.get)], 7.0, 2.0)
    zero = np.zeros(value.size, bool)
    exact = np.isin(np.arange(value.size), cycle)
    assert levels.repair_levels([table], exact, zero, value, tier, up, down) > 0
    rounded = np.isin(np.arange(value.size), cycle)
    assert levels.repair_levels([table], rounded, zero, value, tier, up, down, slack=0.5) == 0
    values = {k: (None if rounded[p] else float(value[p])) for k, p in pos.items()}
    lo, hi = lp_bounds(as_intervals(values, 0.5), eqs, [("0", "0")])[("0", "0")]
    assert hi == pytest.approx(62.0) and lo <= 56 - 5.6


def test_the_audit_fails_a_protection_without_payroll_levels_and_passes_the_protection(
    tmp_path, monkeypatch, protected_seed_1
):
    """Planted disclosure on a whole micro publication (seed 1): with levels for the headcounts only, the
    Cher's payroll in size band 0 (38 936 €, primary) is published bounded to [0, 42 000] by the rounded
    payrolls around it, against a level of ±3 894 €, and Île-de-France's private one through the champ tree,
    and the audit fails; with ETP and payroll levels (the protection as it is), it passes."""
    from observatory import audit
    from tests.test_indicators import publish_sample

    protect = importlib.import_module("observatory.secrecy.protect")
    headcounts_only = protect._magnitude_levels
    with monkeypatch.context() as m:
        m.setattr(protect, "_magnitude_levels", lambda *a: headcounts_only(*a)[:1])
        weak = audit.audit_publication(publish_sample(tmp_path / "weak", seed=1))
    assert not weak.passed
    # two cells, each found by its 2-D table and again by the territory relations (which hold the size bands
    # since the EPCIs are published by size band)
    assert len(weak.rounded_narrow) == 4
    assert "[0.0, 42,000.0]" in weak.rounded_narrow[0] and "'18', 'ensemble', 'toutes', 'tous', '0'" in (
        weak.rounded_narrow[0]
    )
    # and one that only the champ tables show among the 2-D tables: Île-de-France's private payroll in size
    # band 0 (134 343 €), bounded through the champ tree of the size-band table
    assert "[0.0, 144,500.0] (masse_salariale_brute, champs, tranche, ('region', '11'))" in weak.rounded_narrow[1]
    territoires = [r for r in weak.rounded_narrow if "(masse_salariale_brute, territoires)" in r]
    assert [r.split(": ", 1)[1] for r in territoires] == [r.split(": ", 1)[1] for r in weak.rounded_narrow[:2]]
    full = protected_seed_1
    assert full.passed, full.summary()
    assert full.rounded_checked > 1000 and full.rounded_narrow == []


def test_the_audit_fails_levels_proven_on_the_territory_relations_alone_and_passes_the_protection(
    tmp_path, monkeypatch
):
    """Planted disclosure on a whole micro publication (seed 5): with the territory relations' levels proven on
    the territory system alone (as before the joint system), the Loiret's public headcount in finance (24 jobs,
    primary, level ±4.2) is bounded to [23, 57] by the 2-D tables, the champ tables and the territory relations
    together, while each family alone leaves it wide enough: only the audit's joint check finds it; its ETP
    and payroll likewise, with the published values as their rounding intervals (``--joint-rounded``). The
    protection proves the levels on the joint system (``repair._protect_lookahead``): the audit passes."""
    from observatory import audit
    from tests.test_indicators import publish_sample

    protect = importlib.import_module("observatory.secrecy.protect")
    repair = importlib.import_module("observatory.secrecy.repair")
    territory_system, on_system = protect.territory_system, repair.repair_levels_territory
    made = {}

    def territory_only(long, cells):
        made["territory"] = territory_system(long, cells)
        return made["territory"]

    with monkeypatch.context() as m:
        m.setattr(protect, "territory_system", territory_only)
        m.setattr(
            repair, "repair_levels_territory", lambda _s, _p, *a, **k: on_system(*made["territory"], *a, **k)
        )
        weak = audit.audit_publication(publish_sample(tmp_path / "weak", seed=5), joint_rounded=True)
    assert not weak.passed
    assert weak.interval_narrow == weak.territory_interval_narrow == weak.rounded_narrow == []
    assert weak.joint_findings == [] and len(weak.joint_interval_narrow) == 1
    assert weak.joint_interval_narrow[0].startswith("hidden primary headcount bounded to [23, 57]")
    assert "'departement', '45', 'public', 'toutes', 'FIN'" in weak.joint_interval_narrow[0]
    # the same cell's ETP (16.1, level ±2.8) and payroll (446 469 €, ±78 789 €)
    etp, pay = weak.joint_rounded_narrow
    assert etp.startswith("hidden primary etp bounded to [14.0, 49.2] (champs + tableaux 2-D + territoires")
    assert pay.startswith("hidden primary masse_salariale_brute bounded to [425,000.0, 1,302,500.0]")
    assert "'departement', '45', 'public', 'toutes', 'FIN'" in etp and "'45', 'public', 'toutes', 'FIN'" in pay
    full = audit.audit_publication(publish_sample(tmp_path / "full", seed=5), joint_rounded=True)
    assert full.passed, full.summary()
    assert full.joint_interval_checked > 50 and full.joint_interval_narrow == []
    assert full.joint_rounded_checked > 200 and full.joint_rounded_narrow == []
