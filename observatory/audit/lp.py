"""Min and max of hidden cells under ``Σ parts = total`` equations and cells ≥ 0 (HiGHS LPs)."""

from __future__ import annotations

import contextlib

import numpy as np


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
    """Min and max of each hidden cell (value None) under ``Σ cells = total`` equations, cells ≥ 0.

    ``equations`` are ``(parts, total)`` pairs of cell ids; ``cells`` (default: every hidden cell) are
    those to bound. Returns ``{cell: (min, max)}``, max ``inf`` when unbounded.
    """
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    if not hidden:
        return {}
    idx = {c: i for i, c in enumerate(hidden)}
    kw = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}
    out = {}
    for c in hidden if cells is None else sorted(cells):
        obj = np.zeros(len(hidden))
        obj[idx[c]] = 1.0
        lo = linprog(obj, bounds=(0, None), method="highs", **kw)
        hi = linprog(-obj, bounds=(0, None), method="highs", **kw)
        out[c] = (lo.fun if lo.status == 0 else 0.0, -hi.fun if hi.status == 0 else np.inf)
    return out


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
    """Hidden cells proven *not* determined, with one LP for the whole table instead of two per cell.

    One LP finds a solution ``x*`` of the table's equations whose smallest hidden cell ``t*`` is as large
    as possible (``x ≥ t``, ``t ≤ 1``). For a hidden cell ``c``, ``d`` = the projection of the unit vector
    of ``c`` on the null space of the equations: ``x* ± ε·d`` with ``ε = t*/max|d|`` still solves them
    and stays ≥ 0, so ``c`` takes values at least ``2·ε·d_c`` apart. Cells whose range cannot be shown
    above :data:`EXACT` this way (``t* = 0``: some cell is 0 in every solution, or ``d_c = 0``: fixed by
    the equations) are left to :func:`lp_bounds`.
    """
    from scipy.linalg import qr
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    n = len(hidden)
    if not n:
        return set()
    obj = np.zeros(n + 1)
    obj[-1] = -1.0
    a_ub = np.hstack([-np.eye(n), np.ones((n, 1))])  # t − x_i ≤ 0
    kw = {"A_eq": np.hstack([a_eq, np.zeros((len(b_eq), 1))]), "b_eq": b_eq} if len(b_eq) else {}
    res = linprog(obj, A_ub=a_ub, b_ub=np.zeros(n), bounds=[(0, None)] * n + [(0, 1)], method="highs", **kw)
    if res.status != 0 or res.x[-1] <= 1e-9:
        return set()
    t = res.x[-1]
    # projector on the null space: I − Q Qᵀ, Q an orthonormal basis of the row space (pivoted QR of Aᵀ)
    proj = np.eye(n)
    if len(b_eq):
        q, r, _ = qr(a_eq.T, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > diag[0] * 1e-9).sum()) if len(diag) and diag[0] > 0 else 0
        proj -= q[:, :rank] @ q[:, :rank].T
    free = set()
    for i, c in enumerate(hidden):
        d = proj[:, i]
        if d[i] > 1e-12 and 2 * (t / np.abs(d).max()) * d[i] > EXACT:
            free.add(c)
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

    hidden = sorted(c for c, v in values.items() if v is None)
    idx = {c: i for i, c in enumerate(hidden)}
    r, col, data, rhs = [], [], [], []
    for parts, total in equations:
        coef: dict = {}
        b = 0.0
        for c, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            v = values.get(c, 0.0)
            if v is None:
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
    from scipy.optimize import linprog
    from scipy.sparse.linalg import lsqr

    hidden, a, b = _sparse_system(values, equations)
    n = len(hidden)
    if not n:
        return {}
    m = a.shape[0]
    positive = np.zeros(n, bool)
    points = []
    while True:
        todo = np.flatnonzero(~positive)
        if not len(todo):
            break
        k = len(todo)
        # variables: x (n), y (k); max Σ y; y_i ≤ x_todo_i; y ≤ 1
        pick = sparse.csr_matrix((np.ones(k), (np.arange(k), todo)), shape=(k, n))
        a_ub = sparse.hstack([-pick, sparse.identity(k)], format="csr")
        a_eq = sparse.hstack([a, sparse.csr_matrix((m, k))], format="csr")
        obj = np.concatenate([np.zeros(n), -np.ones(k)])
        res = linprog(
            obj,
            A_ub=a_ub,
            b_ub=np.zeros(k),
            A_eq=a_eq if m else None,
            b_eq=b if m else None,
            bounds=[(0, None)] * n + [(0, 1)] * k,
            method="highs",
        )
        if res.status != 0:  # inconsistent published figures: nothing can be bounded
            return {}
        x = res.x[:n]
        points.append(x)
        new = (x > 1e-9) & ~positive
        if not new.any():
            break
        positive |= new
    out = {hidden[j]: 0.0 for j in np.flatnonzero(~positive) if hidden[j] in watched}
    free = np.flatnonzero(positive)
    if not len(free):
        return out
    sub = a[:, free]
    rng = np.random.default_rng(seed)
    moves = np.zeros(len(free))
    with _one_blas_thread():  # LSQR's many small vector norms: threads only contend (10x slower)
        for _ in range(3):
            r = rng.standard_normal(len(free))
            y = lsqr(sub.T, r, atol=1e-14, btol=1e-14, iter_lim=20 * (len(free) + m))[0] if m else np.zeros(0)
            d = r - (sub.T @ y if m else 0)
            moves = np.maximum(moves, np.abs(d))
    x_mean = np.mean(points, axis=0)
    for j, f in enumerate(free):
        if moves[j] <= 1e-7 and hidden[f] in watched:
            out[hidden[f]] = float(x_mean[f])
    return out
