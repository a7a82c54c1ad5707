"""Min and max of hidden cells under ``Σ parts = total`` equations and cells ≥ 0 (HiGHS LPs)."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np

from observatory import lp


class Interval(NamedTuple):
    """A cell known to lie in ``[lo, hi]`` (a value published rounded: :mod:`observatory.audit.rounding`): an
    unknown of :func:`lp_bounds` and :func:`short_of_many` bounded by it, where an unknown (``None``) is
    only ≥ 0."""

    lo: float
    hi: float


def _unknown(v) -> bool:
    return v is None or isinstance(v, Interval)


def _bounds(values: dict, hidden: list) -> np.ndarray:
    """Each unknown's ``(lo, hi)``: its :class:`Interval`, else ``(0, inf)``."""
    out = np.zeros((len(hidden), 2))
    out[:, 1] = np.inf
    for j, c in enumerate(hidden):
        v = values[c]
        if v is not None:
            out[j] = v
    return out


def _equality_system(values: dict, equations: list) -> tuple[list, np.ndarray, np.ndarray]:
    """The hidden cells (sorted) and ``A x = b`` over them, from ``Σ parts = total`` equations."""
    hidden = sorted(c for c, v in values.items() if v is None)
    idx = {c: i for i, c in enumerate(hidden)}
    rows, rhs = [], []
    for parts, total in equations:
        coef = np.zeros(len(hidden))
        b = 0.0
        for c, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            v = values.get(c, 0.0)
            if v is None:
                coef[idx[c]] += sign
            else:
                b -= sign * v
        if coef.any():
            rows.append(coef)
            rhs.append(b)
    return hidden, np.array(rows).reshape(len(rows), len(hidden)), np.array(rhs)


def determined_cells(values: dict, equations: list, tol: float = 1e-6, free: set = frozenset()) -> dict:
    """The hidden cells (value None) fixed by ``Σ cells = total`` equations and cells ≥ 0: ``{cell: value}``.

    Same answer as comparing the min and max of :func:`lp_bounds`, with far fewer LPs: every LP solution is
    a feasible point, and a cell taking two values over the points found so far is not fixed, so most cells
    are cleared by the solutions of other cells' LPs. ``free``: cells already proven not fixed (e.g. by
    :func:`free_cells`), which get no LP of their own.
    """
    from scipy.optimize import linprog

    if all(v is not None or c in free for c, v in values.items()):
        return {}  # every hidden cell already proven free: no LP
    hidden, a_eq, b_eq = _equality_system(values, equations)
    if not hidden:
        return {}
    n = len(hidden)
    kw = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}
    start = linprog(np.zeros(n), bounds=(0, None), method="highs", **kw)
    if start.status != 0:  # published figures inconsistent with the equations: nothing can be bounded
        return {}
    lo, hi = start.x.copy(), start.x.copy()
    for j in range(n):
        if hi[j] - lo[j] > tol or hidden[j] in free:
            continue
        for sign in (-1.0, 1.0):  # max, then min
            obj = np.zeros(n)
            obj[j] = sign
            res = linprog(obj, bounds=(0, None), method="highs", **kw)
            if res.status == 3:  # unbounded above
                hi[j] = np.inf
                break
            if res.status == 0:
                lo, hi = np.minimum(lo, res.x), np.maximum(hi, res.x)
            if hi[j] - lo[j] > tol:
                break
    return {c: float(lo[j]) for j, c in enumerate(hidden) if hi[j] - lo[j] <= tol and c not in free}


def lp_bounds(values: dict, equations: list, cells=None) -> dict:
    """Min and max of each hidden cell (value None) under ``Σ cells = total`` equations, cells ≥ 0 (an
    :class:`Interval` value: an unknown within it).

    ``equations`` are ``(parts, total)`` pairs of cell ids; ``cells`` (default: every hidden cell) are
    those to bound. Returns ``{cell: (min, max)}``, max ``inf`` when unbounded.
    """
    return _tied_bounds(tied_system(values, equations), cells)


def _tied_bounds(system: TiedSystem, cells=None) -> dict:
    """:func:`lp_bounds` on a :class:`TiedSystem`."""
    idx = {c: i for i, c in enumerate(system.hidden)}
    out, by_class = {}, {}  # tied cells share their min and max
    solver = _Extremes(system)
    for c in system.hidden if cells is None else sorted(cells):
        k = int(system.label[idx[c]])
        if k not in by_class:
            by_class[k] = (solver(k, -1.0), solver(k, 1.0))
        out[c] = by_class[k]
    return out


class _Extremes:
    """The max (``sign`` +1) or the min (−1) of one variable of a :class:`TiedSystem` after another: ``inf``
    when unbounded above, 0 when the LP finds no solution. The system is handed to HiGHS once, on the first
    call, and each objective solved from the last basis (:class:`observatory.lp.Equations`)."""

    def __init__(self, system: TiedSystem) -> None:
        self.system = system
        self._equations: lp.Equations | None = None

    def __call__(self, k: int, sign: float) -> float:
        system = self.system
        if self._equations is None:
            a = system.a if len(system.b) else None
            n = len(system.box)
            self._equations = lp.Equations(a, system.b, n, lower=system.box[:, 0], upper=system.box[:, 1])
        obj = np.zeros(len(system.box))
        obj[k] = -sign
        res = self._equations.minimize(obj)
        if res.status != lp.OPTIMAL:
            return np.inf if sign > 0 else 0.0
        return -sign * res.fun


def short_of(values: dict, equations: list, up: dict, down: dict) -> dict:
    """The hidden cells whose range under the equations (cells ≥ 0) does not reach ``up[c]`` above or
    ``down[c]`` below, with their exact ``(min, max)``.

    Same answer as :func:`lp_bounds` on every cell of ``up`` and ``down``, with far fewer LPs: one LP pushes
    all the cells of ``up`` up at once (weights ``1 / up``), one pulls all of ``down`` down; a cell that this
    solution (a feasible point) already takes past its requirement needs no LP of its own.
    """
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    idx = {c: i for i, c in enumerate(hidden)}
    kw = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}

    candidates = set()
    for sign, need in ((-1.0, up), (1.0, down)):
        if not need:
            continue
        obj = np.zeros(len(hidden))
        for c, level in need.items():
            obj[idx[c]] = sign / max(abs(level), 1.0)
        res = linprog(obj, bounds=(0, None), method="highs", **kw)
        x = res.x if res.status == 0 else None  # unbounded (a max): no point
        candidates |= {c for c, level in need.items() if x is None or sign * x[idx[c]] > sign * level}
    bounds = lp_bounds(values, equations, candidates) if candidates else {}
    return {
        c: (lo, hi) for c, (lo, hi) in bounds.items() if hi < up.get(c, -np.inf) or lo > down.get(c, np.inf)
    }


def short_of_many(systems: list) -> list[dict]:
    """:func:`short_of` of each ``(values, equations, up, down)`` system, with a few LPs for all of them.

    The systems are independent blocks of one LP per side: every cell of ``up`` is pushed up at once, capped
    at its requirement (a cell that gets there is shown to reach it: the solution is a feasible point), then
    the cells left are pushed again without the others, until a round moves none past its requirement (cells
    of one equation under a published total cannot all rise at once, each may alone); the same downwards.
    Each round's LP holds only the systems with cells left (the others are independent of them). Only the
    cells left at the end get an LP of their own: the bound of the side they were left on, and both bounds
    (as :func:`lp_bounds`) when that one falls short.
    """
    built = [(tied_system(v, e), up, down) for v, e, up, down in systems]
    left = []
    for sign in (1.0, -1.0):  # up: max Σ x ≤ requirement; down: min Σ x ≥ requirement
        pending = {}
        for s, (system, up, down) in enumerate(built):
            idx = {c: i for i, c in enumerate(system.hidden)}
            need = up if sign > 0 else down
            if need:
                pending[s] = {idx[c]: (c, level) for c, level in need.items()}
        while pending:
            got = _push(sign, [(built[s][0], need) for s, need in pending.items()])
            if got is None or not any(got):
                break
            pending = {
                s: {j: cl for j, cl in need.items() if j not in reached}
                for (s, need), reached in zip(pending.items(), got, strict=True)
            }
            pending = {s: need for s, need in pending.items() if need}
        left += [(s, j, c, sign) for s, need in pending.items() for j, (c, _level) in need.items()]
    # each cell left gets the LP of the side it was left on (a push took it past its requirement on the other
    # side, if it has one there: it cannot fall short of it), and both sides when it falls short (the report)
    out: list[dict] = [{} for _ in systems]
    bound: dict = {}  # (system, variable, side): its max (+1) or min (−1); tied cells share them
    solvers: dict[int, _Extremes] = {}

    def extreme(s: int, k: int, side: float) -> float:
        if (s, k, side) not in bound:
            solver = solvers.setdefault(s, _Extremes(built[s][0]))
            bound[(s, k, side)] = solver(k, side)
        return bound[(s, k, side)]

    for s, j, c, sign in left:
        system, up, down = built[s]
        k = int(system.label[j])
        short = extreme(s, k, 1.0) < up.get(c, -np.inf) if sign > 0 else extreme(s, k, -1.0) > down.get(c, np.inf)
        if short:
            out[s][c] = (extreme(s, k, -1.0), extreme(s, k, 1.0))
    return out


def _push(sign: float, systems: list) -> list[set] | None:
    """One round of :func:`short_of_many` on ``(TiedSystem, {position: (cell, requirement)})`` systems: their
    pending cells pushed towards their requirements at once, the systems as independent blocks of one LP.
    Returns, per system, the positions that got there (``None`` when the LP fails)."""
    from scipy import sparse
    from scipy.optimize import linprog

    offsets = np.cumsum([0, *(len(system.box) for system, _need in systems)])
    obj = np.zeros(int(offsets[-1]))
    lo, hi = np.vstack([system.box for system, _need in systems] or [np.zeros((0, 2))]).T.copy()
    for start, (system, need) in zip(offsets, systems):
        for j, (_c, level) in need.items():
            k = start + system.label[j]
            obj[k] -= sign
            if sign > 0:
                hi[k] = min(hi[k], max(level, 0.0))
            else:
                lo[k] = max(lo[k], max(level, 0.0))
    a_eq = sparse.block_diag([system.a for system, _need in systems], format="csr")
    b_eq = np.concatenate([system.b for system, _need in systems])
    kw = {"A_eq": a_eq, "b_eq": b_eq} if a_eq.shape[0] else {}
    res = linprog(obj, bounds=np.column_stack([lo, hi]), method="highs", **kw)
    if res.status != 0:
        return None
    return [
        {j for j, (_c, level) in need.items() if sign * res.x[start + system.label[j]] >= sign * level - 1e-7}
        for start, (system, need) in zip(offsets, systems)
    ]


def _structural_zeros(values: dict, eqs: list, zeros: set) -> None:
    """A total whose existing parts are all 0 by definition is 0 by definition (in place, to a fixed point).

    Same rule as :func:`structural_zeros` on the secrecy side: such a headcount follows from which cells
    exist, so it is a known zero, not a hidden cell recovered from published figures.
    """
    changed = True
    while changed:
        changed = False
        for parts, total in eqs:
            present = [c for c in parts if c in values]
            if total in values and total not in zeros and present and all(c in zeros for c in present):
                zeros.add(total)
                values[total] = 0.0
                changed = True


EXACT = 1e-6
"""A hidden cell whose range (max − min) is at most this is determined exactly."""


def free_cells(values: dict, equations: list) -> set:
    """Hidden cells proven *not* determined, with a few LPs for the whole table instead of two per cell.

    1. Support: LPs ``max Σ y``, ``0 ≤ y ≤ min(x, 1)`` over the hidden cells not yet seen positive, until no
       more turns positive (most tables: one LP). The mean ``x̄`` of the solutions solves the equations and
       is positive on every cell seen positive (the feasible set is convex).
    2. For such a cell ``c``, ``d`` = the projection of its unit vector on the null space of the equations
       restricted to those cells: ``x̄ ± ε·d`` with ``ε = min x̄ / max|d|`` still solves them and stays ≥ 0,
       so ``c`` takes values at least ``2·ε·d_c`` apart.
    Every cell returned has such a witness. Cells left out (0 in every solution found, or ``d_c = 0``: fixed
    by the equations, or a range not shown above :data:`EXACT`) are left to :func:`lp_bounds` or
    :func:`determined_cells`.
    """
    return free_cells_many([(values, equations)])[0]


def free_cells_many(systems: list) -> list[set]:
    """:func:`free_cells` of each ``(values, equations)`` system, their support LPs solved as one
    block-diagonal LP (independent blocks: the same solutions, one solver call instead of one per table)."""
    from scipy import sparse

    built = [_equality_system(values, equations) for values, equations in systems]
    sizes = [len(hidden) for hidden, _, _ in built]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n = int(offsets[-1])
    if not n:
        return [set() for _ in systems]
    rows, cols, data, rhs = [], [], [], []
    for i, (_, a, b) in enumerate(built):
        r, c = np.nonzero(a)
        rows.append(r + sum(len(x) for x in rhs))
        cols.append(c + offsets[i])
        data.append(a[r, c])
        rhs.append(b)
    m = sum(len(x) for x in rhs)
    a_eq = sparse.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(m, n)
    )
    b_eq = np.concatenate(rhs)
    found = _support(a_eq if m else None, b_eq, n)
    if found is None:
        if len(systems) == 1:  # inconsistent published figures: nothing is proven free
            return [set()]
        # one inconsistent table makes the joint LP infeasible: solve each table alone
        return [free_cells_many([s])[0] for s in systems]
    positive, x_mean = found
    return [
        _free_from_point(built[i], x_mean[offsets[i] : offsets[i + 1]], positive[offsets[i] : offsets[i + 1]])
        for i in range(len(systems))
    ]


def _support(a_eq, b_eq: np.ndarray, n: int):
    """Which of ``n`` cells ≥ 0 under ``a_eq x = b_eq`` (sparse, or None without equations) can be positive,
    and a solution positive on all of them: LPs ``max Σ y``, ``0 ≤ y ≤ min(x, 1)`` over the cells not yet seen
    positive, until no more turns positive; the mean of the solutions (the feasible set is convex). None when
    the equations have no solution ≥ 0."""
    from scipy import sparse
    from scipy.optimize import linprog

    m = 0 if a_eq is None else a_eq.shape[0]
    positive = np.zeros(n, bool)
    total = np.zeros(n)
    count = 0
    while True:
        todo = np.flatnonzero(~positive)
        if not len(todo):
            break
        k = len(todo)
        # variables x (n), y (k): max Σ y, y_i ≤ x_todo_i, 0 ≤ y ≤ 1
        pick = sparse.csr_matrix((np.ones(k), (np.arange(k), todo)), shape=(k, n))
        a_ub = sparse.hstack([-pick, sparse.identity(k)], format="csr")
        kw = (
            {"A_eq": sparse.hstack([a_eq, sparse.csr_matrix((m, k))], format="csr"), "b_eq": b_eq}
            if m
            else {}
        )
        obj = np.concatenate([np.zeros(n), -np.ones(k)])
        # bounds as an array: scipy reads a list of n + k pairs one by one (tens of ms at the sample's sizes)
        bounds = np.column_stack([np.zeros(n + k), np.concatenate([np.full(n, np.inf), np.ones(k)])])
        res = linprog(obj, A_ub=a_ub, b_ub=np.zeros(k), bounds=bounds, method="highs", **kw)
        if res.status != 0:
            return None
        x = res.x[:n]
        total += x
        count += 1
        new = (x > 1e-9) & ~positive
        if not new.any():
            break
        positive |= new
    return positive, total / max(count, 1)


def determined_many(systems: list) -> list[dict]:
    """:func:`determined_cells` of each ``(values, equations, also_free)`` system: the cells most tables leave
    free cleared first by one joint LP (:func:`free_cells_many`); ``also_free``: unknowns that protect nothing
    (they get no LP of their own)."""
    frees = free_cells_many([(values, equations) for values, equations, _ in systems])
    return [
        determined_cells(values, equations, free=free | set(also))
        for (values, equations, also), free in zip(systems, frees, strict=True)
    ]


def _free_from_point(system: tuple, x_mean: np.ndarray, positive: np.ndarray) -> set:
    """The cells of ``system`` (hidden, A, b) shown free from ``x_mean``, a solution positive on ``positive``
    (step 2 of :func:`free_cells`)."""
    from scipy.linalg import qr

    hidden, a_eq, b_eq = system
    cols = np.flatnonzero(positive)
    if not len(cols):
        return set()
    x_bar = x_mean[cols]
    # projector on the null space of the equations over those cells: I − Q Qᵀ, Q an orthonormal basis of the
    # row space (pivoted QR of Aᵀ)
    proj = np.eye(len(cols))
    if len(b_eq):
        q, r, _ = qr(a_eq[:, cols].T, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > diag[0] * 1e-9).sum()) if len(diag) and diag[0] > 0 else 0
        proj -= q[:, :rank] @ q[:, :rank].T
    t = float(x_bar.min())
    free = set()
    for i, j in enumerate(cols):
        d = proj[:, i]
        if d[i] > 1e-12 and 2 * (t / np.abs(d).max()) * d[i] > EXACT:
            free.add(hidden[j])
    return free


def components(values: dict, equations: list) -> list[tuple[dict, list]]:
    """Split ``Σ parts = total`` equations into independent systems: those sharing no hidden cell.

    Returns ``(values, equations)`` per connected set of hidden cells (value None), each with the known
    values its equations read; equations without a hidden cell are dropped (they bound nothing).
    """
    parent: dict = {}

    def find(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    kept = []
    for parts, total in equations:
        unknown = [c for c in (*parts, total) if c in values and values[c] is None]
        if not unknown:
            continue
        for c in unknown:
            parent.setdefault(c, c)
        root = find(unknown[0])
        for c in unknown[1:]:
            parent[find(c)] = root
        kept.append((parts, total, unknown[0]))
    groups: dict = {}
    for parts, total, first in kept:
        vals, eqs = groups.setdefault(find(first), ({}, []))
        eqs.append((parts, total))
        for c in (*parts, total):
            if c in values:
                vals[c] = values[c]
    return [groups[k] for k in sorted(groups, key=str)]


def _sparse_system(values: dict, equations: list):
    """:func:`_equality_system` as a sparse matrix (CSR) for systems of thousands of hidden cells."""
    from scipy import sparse

    hidden = sorted(c for c, v in values.items() if _unknown(v))
    idx = {c: i for i, c in enumerate(hidden)}
    r, col, data, rhs = [], [], [], []
    for parts, total in equations:
        coef: dict = {}
        b = 0.0
        for c, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            v = values.get(c, 0.0)
            if _unknown(v):
                coef[idx[c]] = coef.get(idx[c], 0.0) + sign
            else:
                b -= sign * v
        coef = {j: a for j, a in coef.items() if a != 0}
        if coef:
            row = len(rhs)
            r += [row] * len(coef)
            col += list(coef)
            data += list(coef.values())
            rhs.append(b)
    a = sparse.csr_matrix((data, (r, col)), shape=(len(rhs), len(hidden)))
    return hidden, a, np.array(rhs)


class TiedSystem(NamedTuple):
    """:func:`_sparse_system` with its tied unknowns as one: an equation ``x − y = 0`` (a total whose one
    unknown part is all that is not published) makes them equal in every solution, so the LPs need one
    variable for both. The same feasible set, so the same min and max; on the sample's territory relations a
    third of the unknowns and of the equations (71 696 × 86 894 → about half), each LP about twice as fast.

    ``hidden``: the unknowns (sorted); ``label``: each one's variable; ``a``, ``b``: the equations over the
    variables (a tie's own equation, now ``0 = 0``, left out); ``box``: each variable's bounds (the
    intersection of its unknowns' :func:`_bounds`)."""

    hidden: list
    label: np.ndarray
    a: object
    b: np.ndarray
    box: np.ndarray


def tied_system(values: dict, equations: list) -> TiedSystem:
    """:class:`TiedSystem` of ``Σ parts = total`` equations over ``values`` (unknowns: ``None`` or an
    :class:`Interval`)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    hidden, a, b = _sparse_system(values, equations)
    box = _bounds(values, hidden)
    n = len(hidden)
    pair = np.flatnonzero(np.diff(a.indptr) == 2)
    first = a.indptr[pair]
    tie = (a.data[first] == -a.data[first + 1]) & (b[pair] == 0)
    graph = sparse.coo_matrix(
        (np.ones(int(tie.sum())), (a.indices[first[tie]], a.indices[first[tie] + 1])), shape=(n, n)
    )
    m, label = connected_components(graph, directed=False)
    merged = (a @ sparse.csr_matrix((np.ones(n), (np.arange(n), label)), shape=(n, m))).tocsr()
    merged.eliminate_zeros()
    keep = (np.diff(merged.indptr) > 0) | (b != 0)  # a row 0 = b ≠ 0 stays: the system has no solution
    lo = np.full(m, -np.inf)
    hi = np.full(m, np.inf)
    np.maximum.at(lo, label, box[:, 0])
    np.minimum.at(hi, label, box[:, 1])
    return TiedSystem(hidden, label, merged[keep], b[keep], np.column_stack([lo, hi]))


def _one_blas_thread():
    """A context limiting BLAS to one thread where ``threadpoolctl`` is installed (speed only)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - same result, slower
        return contextlib.nullcontext()
    return threadpool_limits(1)


def determined_sparse(values: dict, equations: list, watched: set, seed: int = 0) -> dict:
    """The watched hidden cells fixed by the equations and cells ≥ 0, for large systems: ``{cell: value}``.

    1. Cells forced to 0: LPs ``max Σ y``, ``0 ≤ y ≤ min(x, 1)`` over the cells not yet shown positive,
       until none more turns positive; the others are 0 in every solution (fixed). The average of the
       solutions is a point where every other cell is positive (the feasible set is convex).
    2. From such a point every direction of the null space of the equations is feasible for a small step,
       so a cell is fixed exactly when its unit vector lies in the row space: its component in the
       projection of random vectors on the null space (sparse least squares, LSQR) is then 0.
    """
    from scipy import sparse
    from scipy.sparse.linalg import lsqr

    hidden, a, b = _sparse_system(values, equations)
    n = len(hidden)
    if not n:
        return {}
    m = a.shape[0]
    found = _support(a if m else None, b, n)
    if found is None:  # inconsistent published figures: nothing can be bounded
        return {}
    positive, x_mean = found
    out = {hidden[j]: 0.0 for j in np.flatnonzero(~positive) if hidden[j] in watched}
    free = np.flatnonzero(positive)
    if not len(free):
        return out
    sub = a[:, free]
    # each equation scaled to unit norm (equations with no free cell dropped): the same row space, so the
    # same projection, in a few times fewer LSQR iterations (sums over hundreds of cells beside sums of two)
    norms = np.sqrt(np.asarray(sub.multiply(sub).sum(axis=1)).ravel())
    sub = (sparse.diags(1 / norms[norms > 0]) @ sub[norms > 0]).tocsr()
    m = sub.shape[0]
    rng = np.random.default_rng(seed)
    moves = np.zeros(len(free))
    with _one_blas_thread():  # LSQR's many small vector norms: threads only contend (10x slower)
        for _ in range(3):
            r = rng.standard_normal(len(free))
            y = lsqr(sub.T, r, atol=1e-14, btol=1e-14, iter_lim=20 * (len(free) + m))[0] if m else np.zeros(0)
            d = r - (sub.T @ y if m else 0)
            moves = np.maximum(moves, np.abs(d))
    for j, f in enumerate(free):
        if moves[j] <= 1e-7 and hidden[f] in watched:
            out[hidden[f]] = float(x_mean[f])
    return out
