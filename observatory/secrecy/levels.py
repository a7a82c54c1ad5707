"""Protection levels: complements chosen so that every hidden primary headcount stays loosely bounded (step 5).

Hiding a cell is not enough when its complements are small: with a published margin of 766 and a hidden
complement of 19, the hidden cell is bounded to a few percent, and the second largest employer of a dominance
cell estimates the largest one closely. INSEE's protection levels (``shared/domain/secrecy.md``, τ-Argus) say
how far each hidden primary cell of value ``X`` must be able to move, up and down, while every published
figure stays as it is:

- dominance NK(1,85), ``x1`` the largest establishment's headcount: ``x1 / 0.85 − X`` (the amount that brings
  ``x1`` down to 85 % of the cell), computed as ``20·x1 / 17 − X``;
- any other primary cell: 10 % of ``X`` (the safety range of τ-Argus's ``FREQ(3,10)``);
- downwards at most ``X`` (a headcount is not negative).

For each 2-D table of :func:`observatory.secrecy.repair._tables_2d` (région and its départements × one
breakdown, per champ; the champ tables), on the headcounts at 31/12:

1. *check* — the hidden cells move (published cells fixed, every cell ≥ 0) to push every hidden primary
   cell towards its level at once (each one's movement counted as a share of its level), all tables as
   independent blocks of one linear programme per side, then again for the cells left; a cell that gets
   there is safe;
2. *choose* — for each cell that did not, the cheapest perturbation of the whole table that moves it by its
   level (the classic attacker sub-problem of Fischetti and Salazar-González, solved as one LP): moving a
   hidden cell costs nothing, moving a published cell costs by its :func:`~observatory.secrecy.closure.importance`
   tier (a headline total last) and its size; every published cell that the perturbation moves is hidden.
   That perturbation is then feasible with only hidden cells moving: the level is reached.

The same on the ETP and the payroll of the same tables (:class:`Quantity`: they share the headcount's mask,
not its values — each has its own largest establishment, and a cell with nobody at 31/12 still has ETP and
pay); they are published rounded, so in step 1 a published cell moves within the interval its rounded value
stands for (:func:`rounding_room`). Then the same two steps, quantity by quantity, on the territory relations
and the one-breakdown tables as one table (:func:`repair_levels_territory` on the joint system of
:mod:`observatory.secrecy.chains`: the EPCIs, départements, régions and France as unions of geographic atoms,
crossed with the champ tree and the families, with the cells of France, régions and départements × one
secteur, tranche or sexe and the EPCIs' ESS by sexe, size band or sector), where the atoms and the internal champs
and territories are never published and move for free (the protection holds the published ETP and payroll
there at their exact values: ``slack`` 0). A primary cell each family leaves wide enough can be bounded closer
by all of them together (on the sample, 32 headcounts when the levels were proven on the territory relations
alone). That table holds
some 34 000 hidden cells on the sample: each perturbation is searched near its cell first, along the local
equations (:func:`_choose`); before a search of the whole table, when complements were hidden since the last
push, the cells left are pushed again (:class:`_Repush`): most of those searches were of cells that earlier
complements had freed (on the sample, 25 of the first 30 found a perturbation of cost 0); with the push, 12
searches of the whole table instead of 71.

Hiding more cells only widens intervals, so the closure and the 2-D repair that follow (new complements are
alone in other equations) keep what this step proved; the protection loops until no step adds a cell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from observatory.secrecy.chains import NATIONAL_TAGS

log = logging.getLogger(__name__)

SAFETY_RANGE = 0.10
#: Cost of moving a published cell by one job, per importance tier: a complement one tier up costs as much as
#: this many complements of the tier below.
TIER_BASE = 8.0
_EPS = 1e-6
#: Tables of more cells than this are searched near each cell first (:func:`_choose`).
LOCAL_LIMIT = 2000
#: Equations crossed along the local equations only, before the national ones (:func:`_choose`).
LOCAL_HOPS = 8


def protection_levels(
    value: np.ndarray, largest: np.ndarray, primary: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower protection levels of each cell (0 where the cell is not a primary headcount)."""
    value = np.asarray(value, dtype=float)
    largest = np.nan_to_num(np.asarray(largest, dtype=float))
    dominated = (value > 0) & (largest * 20 > value * 17)
    level = np.where(dominated, largest * 20 / 17 - value, SAFETY_RANGE * value)
    active = primary & (value > 0)
    return np.where(active, level, 0.0), np.where(active, np.minimum(level, value), 0.0)


def _system(ids, rows) -> sparse.csr_matrix:
    """The table's equations as a sparse matrix over its cells ``ids`` (``total − Σ parts = 0``)."""
    col = {int(c): j for j, c in enumerate(ids)}
    r, c_, data = [], [], []
    for i, (total, parts) in enumerate(rows):
        for c, sign in [(total, -1.0)] + [(p, 1.0) for p in parts]:
            if c is not None:
                r.append(i)
                c_.append(col[int(c)])
                data.append(sign)
    return _nonzero_rows(sparse.csr_matrix((data, (r, c_)), shape=(len(rows), len(ids))))


def _nonzero_rows(a: sparse.csr_matrix) -> sparse.csr_matrix:
    """``a`` without its rows of zeros (duplicates summed first)."""
    a = a.tocsr()
    a.sum_duplicates()
    a.eliminate_zeros()
    return a[np.diff(a.indptr) > 0]


@dataclass(frozen=True)
class _Ties:
    """A table's equations with its tied cells as one column: an equation of two cells (a total with one part:
    an EPCI of one atom, a champ with one published child, …) makes them equal in every solution, so the LPs
    need one column for both. An exact reformulation — the same feasible movements, the same optimum — with
    fewer rows and columns: on the sample's joint territory system 22 625 × 19 990 instead of 56 009 × 46 447,
    each LP 2 to 3 times faster.

    ``label``: each cell's column (position in ``ids`` → class); ``a``: the equations over the classes (a
    tie's own equation becomes all zeros); ``size``: the number of cells of each class."""

    label: np.ndarray
    a: sparse.csc_matrix
    size: np.ndarray

    @classmethod
    def of(cls, a: sparse.csr_matrix, limit: int = LOCAL_LIMIT) -> _Ties:
        """The ties of a large table (more than ``limit`` cells); none on a small one: the LP is
        the same, but its solver may pick another of several optimal perturbations, and on the small tables
        (the baromètre's quarters, the 2-D tables) that would change the published masks for no time saved."""
        a = a.tocsr()
        n = a.shape[1]
        if n <= limit:
            return cls(np.arange(n), a.tocsc(), np.ones(n, dtype=np.int64))
        pair = np.flatnonzero(np.diff(a.indptr) == 2)
        first = a.indptr[pair]
        tie = a.data[first] == -a.data[first + 1]  # x − y = 0 (a row "x + y = 0" ties nothing)
        graph = sparse.coo_matrix(
            (np.ones(int(tie.sum())), (a.indices[first[tie]], a.indices[first[tie] + 1])), shape=(n, n)
        )
        m, label = connected_components(graph, directed=False)
        merge = sparse.csr_matrix((np.ones(n), (np.arange(n), label)), shape=(n, m))
        return cls(label, (a @ merge).tocsc(), np.bincount(label, minlength=m))  # by column: LPs take columns

    def whole(self, cols: np.ndarray) -> np.ndarray:
        """The classes all of whose cells are among ``cols`` (positions): those free to move when only
        ``cols`` may (a class with a cell held still is held still by its tie)."""
        return np.bincount(self.label[cols], minlength=len(self.size)) == self.size

    def lower(self, x: np.ndarray) -> np.ndarray:
        """Per class, the largest of its cells' ``x`` (the intersection of their lower bounds)."""
        out = np.full(len(self.size), -np.inf)
        np.maximum.at(out, self.label, x)
        return out

    def upper(self, x: np.ndarray) -> np.ndarray:
        """Per class, the smallest of its cells' ``x``."""
        out = np.full(len(self.size), np.inf)
        np.minimum.at(out, self.label, x)
        return out

    def total(self, x: np.ndarray) -> np.ndarray:
        """Per class, the sum of its cells' ``x`` (a cost)."""
        return np.bincount(self.label, weights=x, minlength=len(self.size))


def rounding_room(value: np.ndarray, slack: float) -> tuple[np.ndarray, np.ndarray]:
    """How far below and above its value each cell of ``value`` can be for an attacker who reads it rounded
    to the unit ``2 · slack`` (half up, as the publication rounds: ``observatory/sql/indicators/
    indicateurs.sql``): the interval [r − slack, r + slack] of the rounded ``r``, cut at 0, minus the value.
    ``(0, 0)`` with no slack (a value published exact)."""
    value = np.maximum(np.asarray(value, dtype=float), 0.0)
    if slack <= 0:
        return np.zeros(len(value)), np.zeros(len(value))
    unit = 2 * slack
    rounded = np.floor(value / unit + 0.5) * unit
    return np.minimum(np.maximum(rounded - slack, 0.0) - value, 0.0), np.maximum(rounded + slack - value, 0.0)


def _reach(blocks, pending, hidden, zero, value, level, side, slack: float = 0.0) -> list:
    """Step 1 for many tables at once: in each table ``(name, ids, a, grow, ties)``, the hidden cells move
    (published cells and ``zero`` cells fixed, every cell ≥ 0) to push its ``pending`` cells (positions in
    ``ids``) towards their ``level`` by ``side`` (+1 up, −1 down), all at once. The tables are independent blocks
    of one LP (one solve instead of one per table), each over its tied cells' classes (:class:`_Ties`). Returns,
    per table, whether each pending cell got to its level.

    ``slack``: half the publication unit of a quantity published rounded (ETP, payroll): a published cell
    stands for the interval its rounded value stands for, so it may move within it (:func:`rounding_room`)."""
    mats, cols, objs, bounds, at = [], [], [], [], []
    start = width = 0
    for (_name, ids, _a, _g, ties), todo in zip(blocks, pending, strict=True):
        v = value[ids]
        lv = level[ids]
        pub = ~hidden[ids]
        tg = np.zeros(len(ids), bool)
        tg[todo] = True
        room_lo, room_hi = rounding_room(v, slack)
        # a pending cell may move either way (another one's movement may need it), up to its level on its side
        lo = np.where(pub, room_lo, -np.maximum(v, 0.0))
        if side < 0:
            lo = np.where(tg, -lv, lo)
        hi = np.where(tg & (side > 0), lv, np.where(pub, room_hi, np.inf))
        # the classes whose cells all move: a class tied to a fixed cell is fixed
        keep = np.flatnonzero(ties.whole(np.flatnonzero((hidden[ids] | (slack > 0)) & ~zero[ids])))
        mats.append(ties.a)
        cols.append(width + keep)
        width += ties.a.shape[1]
        # each pending cell's movement counts as a share of its level: of two cells that can each get there
        # alone but not together, the one of the smaller level gets there (equal weights may leave both
        # halfway, neither proven: on the sample, 198 more cells went to step 2, where 45 more took a search
        # of the whole table only to hide nothing)
        objs.append(ties.total(np.where(tg, -float(side) / np.maximum(lv, 1.0), 0.0))[keep])
        bounds.append(np.column_stack([ties.lower(lo)[keep], ties.upper(hi)[keep]]))
        column = np.full(len(ties.size), -1)  # −1: tied to a fixed cell, the class does not move
        column[keep] = start + np.arange(len(keep))
        at.append(column[ties.label[todo]])
        start += len(keep)
    # the tables side by side, then their moving columns: one slice of one matrix instead of one per table
    # (thousands of small 2-D tables: the slices cost more than the LP)
    a_eq = _nonzero_rows(_block_diag(mats)[:, np.concatenate(cols)])
    res = linprog(
        np.concatenate(objs),
        A_eq=a_eq,
        b_eq=np.zeros(a_eq.shape[0]),
        bounds=np.vstack(bounds),  # an array: scipy reads a list of pairs one by one
        method="highs",
    )
    if res.status != 0:  # no movement is feasible: only a solver failure gets here
        log.warning("protection levels: joint check failed (%s); each cell is examined alone", res.message)
        return [np.zeros(len(todo), bool) for todo in pending]
    moved = np.append(res.x, 0.0)  # position −1: no movement
    return [
        side * moved[pos] >= level[ids[todo]] - _EPS
        for (_n, ids, _a, _g, _t), todo, pos in zip(blocks, pending, at)
    ]


def _block_diag(mats) -> sparse.csc_matrix:
    """The CSC matrices ``mats`` as the blocks of one block-diagonal CSC matrix (their arrays concatenated,
    the row numbers and pointers shifted: what ``scipy.sparse.block_diag`` gives, without its per-block
    conversions)."""
    rows = np.cumsum([0] + [m.shape[0] for m in mats])
    nnz = np.cumsum([0] + [m.indptr[-1] for m in mats])
    indptr = np.concatenate([[0]] + [m.indptr[1:] + nnz[i] for i, m in enumerate(mats)])
    indices = np.concatenate([m.indices[: m.indptr[-1]] + rows[i] for i, m in enumerate(mats)])
    data = np.concatenate([m.data[: m.indptr[-1]] for m in mats])
    shape = (int(rows[-1]), sum(m.shape[1] for m in mats))
    return sparse.csc_matrix((data, indices, indptr), shape=shape)


def _unreached(blocks, hidden, zero, value, level, side, slack: float = 0.0, known=frozenset()) -> list:
    """The cells of each table (positions in ``ids``) that cannot reach their level with the table's hidden
    cells: :func:`_reach` on all of them, then again on those left, until a round reaches none (cells of one
    equation under a published total cannot all move up at once, each can alone). With a ``slack``, the
    published cells held fixed first (a cell that gets there so gets there with them moving too: the smaller
    LP settles most cells), then the cells left with the published cells moving within the slack. Only the
    tables with cells left enter each LP. Cells of ``known`` (cell numbers) are taken as reached."""
    pending = [
        np.flatnonzero(hidden[ids] & ~zero[ids] & (level[ids] > 0) & ~np.isin(ids, list(known)))
        for _n, ids, _a, _g, _t in blocks
    ]
    for step in sorted({0.0, slack}):
        while any(len(p) for p in pending):
            live = [i for i, p in enumerate(pending) if len(p)]
            reached = _reach(
                [blocks[i] for i in live], [pending[i] for i in live], hidden, zero, value, level, side, step
            )
            if not any(r.any() for r in reached):
                break
            for i, r in zip(live, reached, strict=True):
                pending[i] = pending[i][~r]
    return pending


def _choose(
    a, ties, movable, value, weight, target, level, side, grow=None, incidence=None, before_whole=None
) -> np.ndarray | None:
    """Step 2: the cheapest perturbation of the table (equations ``a``, and as :class:`_Ties`) moving column
    ``target`` by ``side · level``; returns the movement of each column (``None`` when no perturbation of the
    movable cells reaches the level).

    A large table (the territory system) is searched near the target first: the columns within a few
    equations of it move, the others stay (a perturbation of the neighbourhood that keeps every equation
    touching it is one of the whole table). The neighbourhood grows along the ``grow`` equations (the local
    ones: not France = Σ régions, which holds every territory) one equation further each time no
    perturbation is found, at most :data:`LOCAL_HOPS` times; then the whole table, unless ``before_whole()``
    (:class:`_Repush`) says the target reaches its level with the hidden cells alone (no movement returned)."""
    n = len(movable)
    if n <= LOCAL_LIMIT:
        return _perturbation(ties, np.arange(n), movable, value, weight, target, level, side)
    by_row, by_col = incidence or _incidence(a)
    near = np.zeros(n, bool)
    near[target] = True
    for _ in range(LOCAL_HOPS):
        # the equations holding a cell of the neighbourhood, then their cells (two sparse products)
        rows = (by_row @ near.astype(np.int32) > 0) & (True if grow is None else grow)
        wider = near | (by_col.T @ rows.astype(np.int32) > 0)
        if wider.sum() == near.sum():
            break
        near = wider
        d = _perturbation(ties, np.flatnonzero(near), movable, value, weight, target, level, side)
        if d is not None:
            return d
    # nothing near enough: the whole table, where the costs choose among every cell (a neighbourhood grown
    # along the national equations would hold France's totals before the cheaper cells of other régions)
    if before_whole is not None and before_whole():
        return np.zeros(n)  # reached without moving a published cell: nothing to hide
    return _perturbation(ties, np.arange(n), movable, value, weight, target, level, side)


def _incidence(a) -> tuple:
    """Which cells each equation holds, as 0/1 matrices by row (CSR) and by column (CSC)."""
    by_row = abs(a).astype(bool).astype(np.int8).tocsr()
    return by_row, by_row.tocsc()


def _perturbation(ties, cols, movable, value, weight, target, level, side) -> np.ndarray | None:
    """:func:`_choose` with only the columns ``cols`` moving (every equation holding one of them kept), solved
    over the tied cells' classes (:class:`_Ties`: a class moves when all its cells may).

    Solved in units of ``level`` (the target moves by 1, the other cells down to at most ``value / level``):
    the same solution, scaled back; in euros, France's payroll (1e11) beside a level of a few thousand
    made HiGHS report well-posed perturbations infeasible."""
    free = ties.whole(cols) & ties.whole(np.flatnonzero(movable))
    if not free[ties.label[target]]:
        return None  # tied to a cell that stays: it cannot move
    keep = np.flatnonzero(free)
    sub = _nonzero_rows(ties.a[:, keep])
    k = len(keep)
    unit = level if level > 0 else 1.0
    w = ties.total(weight)[keep]
    obj = np.concatenate([w, w])  # d = up − down, cost on both parts
    hi = np.concatenate([np.full(k, np.inf), ties.upper(value / unit)[keep]])
    lo = np.zeros(2 * k)
    t = int(np.searchsorted(keep, ties.label[target]))
    t_up, t_down = (level / unit, 0.0) if side > 0 else (0.0, level / unit)
    lo[t], hi[t], lo[k + t], hi[k + t] = t_up, t_up, t_down, t_down
    problem = {
        "A_eq": sparse.hstack([sub, -sub], format="csr"),
        "b_eq": np.zeros(sub.shape[0]),
        "bounds": np.column_stack([lo, hi]),
        "method": "highs",
    }
    # without HiGHS's presolve: on the sample's whole territory table it took 0.8 s of a 0.9-s solve (0.1 s
    # without, same optimum); with it again should the solver not conclude without
    res = linprog(obj, options={"presolve": False}, **problem)
    if res.status not in (0, 2):
        res = linprog(obj, **problem)
    if res.status != 0:
        return None
    d = np.zeros(len(ties.size))
    d[keep] = (res.x[:k] - res.x[k:]) * unit
    return d[ties.label]


@dataclass(frozen=True)
class Quantity:
    """One magnitude whose hidden primary cells keep their protection levels in the 2-D tables: its ``value``
    per cell, the ``up`` / ``down`` levels (:func:`protection_levels`; 0 where none is needed), the cells
    known without publication (``zero``: constants), and ``slack``, half its publication unit when it is
    published rounded (a published value is the interval it stands for: :func:`_reach`)."""

    name: str
    value: np.ndarray
    up: np.ndarray
    down: np.ndarray
    zero: np.ndarray
    slack: float = 0.0


def repair_levels(
    tables, hidden, zero, value, tier, up, down, proven: set | None = None, slack=0.0, name="", systems=None
) -> int:
    """Hide, in each 2-D table, the published cells that the hidden primary cells need to reach their
    protection levels (``up`` / ``down``, 0 where none is needed); returns the number of cells hidden.

    ``zero`` cells are known without publication (constants); ``proven`` caches the tables already shown to
    reach every level with their hidden cells, across calls (per quantity ``name``); ``systems`` keeps each
    table's equations and ties across calls on the same ``tables`` (by table name); ``slack``: see
    :func:`_reach`. The complements are chosen as if every published value were exact (:func:`_choose`): a
    choice that holds then holds for the rounded values too.
    """
    proven = set() if proven is None else proven
    systems = {} if systems is None else systems
    blocks = []
    for table, ids, rows in tables:
        ids = np.asarray(ids, dtype=np.int64)
        if not rows or (name, table, hidden[ids].tobytes()) in proven:
            continue
        if (hidden[ids] & ~zero[ids] & ((up[ids] > 0) | (down[ids] > 0))).any():
            if table not in systems:
                a = _system(ids, rows)
                systems[table] = (a, _Ties.of(a))
            a, ties = systems[table]
            blocks.append((table, ids, a, None, ties))
    added = _repair_blocks(
        [(f"{name} {t}".strip(), ids, a, g, ties) for t, ids, a, g, ties in blocks],
        hidden,
        zero,
        value,
        tier,
        up,
        down,
        slack,
    )
    for table, ids, _a, _g, _t in blocks:
        proven.add((name, table, hidden[ids].tobytes()))
    return added


def repair_levels_territory(
    system, published, hidden, zero, value, tier, up, down, slack: float = 0.0, reached: dict | None = None
) -> int:
    """:func:`repair_levels` on the territory relations as one table (``system``, ``published`` of
    :func:`observatory.secrecy.chains.territory_system`, or of :func:`~observatory.secrecy.chains.joint_system`
    with the one-breakdown tables, as the protection calls it): the EPCIs, départements and régions as unions of
    geographic atoms, crossed with the champ tree and the families.

    The attacker's unknowns there are the hidden cells and every cell never published (atoms, internal champs
    and territories): they move for free; the levels are those of the published primary cells. Returns the
    number of published cells hidden (``hidden`` in place). ``slack``: see :func:`_reach`.

    ``reached`` (by side, +1 / −1, the cells shown to reach their level) carries the proof from one call to
    the next on the same quantity: between two calls cells are only hidden, never published again, and a
    hidden cell only widens the attacker's freedom, so a cell that reached its level still does; only the
    others are proven again (the protection calls this once per round of its loop).
    """
    if not len(system):
        return 0
    ids, col = np.unique(system.cell.to_numpy(), return_inverse=True)
    eqs, row = np.unique(system["eq"].to_numpy(), return_inverse=True)
    a = sparse.csr_matrix((system.sign.to_numpy().astype(float), (row, col)), shape=(len(eqs), len(ids)))
    a.sum_duplicates()
    a.eliminate_zeros()
    keep = np.diff(a.indptr) > 0
    national = system.tag.isin(NATIONAL_TAGS).to_numpy()
    grow = np.bincount(row, weights=national, minlength=len(eqs)) == 0  # the local equations
    pub = np.zeros(len(hidden), bool)
    pub[: len(published)] = published
    open_ = hidden | ~pub  # the attacker's unknowns (zero cells excepted, as everywhere)
    a = a[keep]
    block = [("territoires", ids, a, grow[keep], _Ties.of(a))]
    added = _repair_blocks(
        block, open_, zero, value, tier, np.where(pub, up, 0.0), np.where(pub, down, 0.0), slack, reached
    )
    hidden |= open_ & pub
    return added


def _repair_blocks(blocks, hidden, zero, value, tier, up, down, slack: float = 0.0, reached=None) -> int:
    """Steps 1 and 2 (module docstring) on ``(name, ids, sparse equations, local equations or None,`` their
    :class:`_Ties` ``)`` blocks; ``hidden`` in place. ``reached``: see :func:`repair_levels_territory` (updated in place)."""
    added = 0
    for side, level in ((1, up), (-1, down)):
        known = set() if reached is None else reached.setdefault(side, set())
        pending = _unreached(blocks, hidden, zero, value, level, side, slack, known)
        for (_n, ids, _a, _g, _t), left in zip(blocks, pending, strict=True):
            todo = hidden[ids] & ~zero[ids] & (level[ids] > 0)
            todo[left] = False
            known.update(ids[todo].tolist())  # reached with the hidden cells as they are now
        for block, targets in zip(blocks, pending, strict=True):
            name, ids, a, grow, ties = block
            v = np.maximum(value[ids], 0.0)
            incidence = _incidence(a) if len(targets) and len(ids) > LOCAL_LIMIT else None
            repush = _Repush(block, targets, hidden, zero, value, level, side, slack, known)
            for i, t in enumerate(targets):
                if int(t) in repush.reached:
                    continue  # reached by a push after complements were hidden (:class:`_Repush`)
                weight = np.where(hidden[ids], 0.0, TIER_BASE ** tier[ids] * (1 + v / (1 + v.max())))
                d = _choose(
                    a, ties, ~zero[ids], v, weight, int(t), level[ids[t]], side, grow, incidence,
                    before_whole=partial(repush, i),
                )
                if d is None:
                    log.warning(
                        "protection level out of reach in %s: cell %d (level %.1f)",
                        name,
                        ids[t],
                        level[ids[t]],
                    )
                    continue
                moved = ids[(np.abs(d) > _EPS) & ~hidden[ids]]
                log.debug("level of %d in %s (side %d): hides %s", ids[t], name, side, moved.tolist())
                hidden[moved] = True
                added += len(moved)
                known.add(int(ids[t]))  # the perturbation now moves hidden cells only
    return added


class _Repush:
    """Before a search of the whole table for ``targets[i]``: when complements were hidden since the last push,
    one push (:func:`_reach`) of the targets not reached yet, from ``i`` on; those that get to their level are
    added to ``reached`` (positions) and ``known`` (cell numbers). Returns whether ``targets[i]`` did."""

    def __init__(self, block, targets, hidden, zero, value, level, side, slack, known):
        self.block, self.targets, self.hidden, self.known = block, targets, hidden, known
        self.args = (zero, value, level, side, slack)
        self.seen = int(hidden[block[1]].sum())
        self.reached: set[int] = set()

    def __call__(self, i: int) -> bool:
        ids = self.block[1]
        now = int(self.hidden[ids].sum())
        if now == self.seen:
            return False
        self.seen = now
        rest = np.array([t for t in self.targets[i:] if int(t) not in self.reached], dtype=np.int64)
        zero, value, level, side, slack = self.args
        got = _reach([self.block], [rest], self.hidden, zero, value, level, side, slack)[0]
        self.reached.update(rest[got].tolist())
        self.known.update(ids[rest[got]].tolist())
        log.debug("re-push of %d cells: %d reached", len(rest), int(got.sum()))
        return bool(got[0])
