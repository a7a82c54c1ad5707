"""One system of equations, many objectives: ``min c · x`` under ``A x = b``, ``lower ≤ x ≤ upper``, for one
``c`` after another — what the audits do when they bound every hidden cell under the same published cells.

scipy's ``linprog`` hands HiGHS a new model for every objective and solves it from scratch (at the sample's
territory audits, a third of each solve was scipy building and checking the model again). HiGHS's own
Python package (``highspy``) keeps the model: only the costs change between two solves, so the last optimal
basis stays feasible and the next solve starts from it (primal simplex), instead of from nothing. Generic
(no rule of the protection nor of an audit in it): the independent audits and the protection may all use it.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csc_matrix, vstack

OPTIMAL, INFEASIBLE, UNBOUNDED, FAILED = 0, 2, 3, 4
"""``status`` of a :class:`Solution`: scipy's ``linprog`` codes."""

_STATUS = {
    highspy.HighsModelStatus.kOptimal: OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: UNBOUNDED,
}


@dataclass(frozen=True)
class Solution:
    """``status`` (:data:`OPTIMAL`…), ``fun`` the optimum (NaN unless optimal), ``x`` a point reaching it."""

    status: int
    fun: float
    x: np.ndarray | None


class Equations:
    """``A x = b`` with ``lower ≤ x ≤ upper`` (scalars or one value per unknown; ``np.inf`` for none), and
    ``A_ub x ≤ b_ub`` and ``range_lower ≤ A_range x ≤ range_upper`` when given, handed to HiGHS once;
    :meth:`minimize` then solves for one objective after another from the last basis.

    ``presolve``: HiGHS's presolve for the first solve (worth it on large systems only); the later solves
    start from the previous basis without it. A solve HiGHS cannot conclude is tried again from scratch,
    with the presolve the other way, before it is reported :data:`FAILED`.
    """

    def __init__(
        self,
        a_eq,
        b_eq,
        n: int,
        lower=0.0,
        upper=np.inf,
        presolve: bool = False,
        a_ub=None,
        b_ub=None,
        a_range=None,
        range_lower=None,
        range_upper=None,
    ) -> None:
        self.n = n
        self._presolve = presolve
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy()
        lp.col_upper_ = np.minimum(np.broadcast_to(np.asarray(upper, dtype=float), (n,)), inf)
        blocks, row_lower, row_upper = [], [], []
        if a_eq is not None and a_eq.shape[0]:
            blocks.append(csc_matrix(a_eq, dtype=float))
            row_lower.append(np.asarray(b_eq, dtype=float))
            row_upper.append(np.asarray(b_eq, dtype=float))
        if a_ub is not None and a_ub.shape[0]:
            blocks.append(csc_matrix(a_ub, dtype=float))
            row_lower.append(np.full(a_ub.shape[0], -inf))
            row_upper.append(np.asarray(b_ub, dtype=float))
        if a_range is not None and a_range.shape[0]:  # one row each: HiGHS bounds a row on both sides
            blocks.append(csc_matrix(a_range, dtype=float))
            row_lower.append(np.asarray(range_lower, dtype=float))
            row_upper.append(np.asarray(range_upper, dtype=float))
        if blocks:
            a = csc_matrix(vstack(blocks))
            a.sort_indices()
            lp.num_row_ = a.shape[0]
            lp.row_lower_ = np.concatenate(row_lower)
            lp.row_upper_ = np.concatenate(row_upper)
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.num_col_ = n
            lp.a_matrix_.num_row_ = a.shape[0]
            lp.a_matrix_.start_ = a.indptr.astype(np.int32)
            lp.a_matrix_.index_ = a.indices.astype(np.int32)
            lp.a_matrix_.value_ = a.data
        with _quiet_stdout():
            self._highs = highspy.Highs()
        self._highs.setOptionValue("output_flag", False)
        self._highs.setOptionValue("presolve", "on" if presolve else "off")
        self._highs.passModel(lp)
        self._columns = np.arange(n, dtype=np.int32)
        self._first = True

    def minimize(self, objective: np.ndarray) -> Solution:
        """``min objective · x`` over the system."""
        h = self._highs
        h.changeColsCost(self.n, self._columns, np.asarray(objective, dtype=float))
        result = self._run()
        if result.status == FAILED:  # from scratch, presolve the other way
            h.clearSolver()
            h.setOptionValue("presolve", "off" if self._presolve else "on")
            result = self._run()
            h.setOptionValue("presolve", "off")
        return result

    def _run(self) -> Solution:
        h = self._highs
        h.run()
        if self._first:  # later solves start from the basis: presolve would only throw it away
            h.setOptionValue("presolve", "off")
            self._first = False
        status = _STATUS.get(h.getModelStatus(), FAILED)
        if status != OPTIMAL:
            return Solution(status, float("nan"), None)
        x = np.asarray(h.getSolution().col_value, dtype=float)
        return Solution(OPTIMAL, float(h.getInfo().objective_function_value), x)


_STDOUT_LOCK = threading.Lock()


@contextmanager
def _quiet_stdout():
    """HiGHS prints its banner on the process's standard output (file descriptor 1, from C++) the first time a
    solver is made, before any option can silence it: the descriptor points to ``/dev/null`` meanwhile. One
    thread at a time (two threads' saves and restores interleaved would leave the descriptor on ``/dev/null``)."""
    with _STDOUT_LOCK:
        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no standard output at all (a closed descriptor): nothing to silence
            yield
            return
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
