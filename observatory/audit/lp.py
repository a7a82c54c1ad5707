"""Min and max of hidden cells under ``Σ parts = total`` equations and cells ≥ 0 (HiGHS LPs)."""

from __future__ import annotations

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
