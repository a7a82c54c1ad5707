"""observatory.lp: many objectives over one system, against scipy's linprog solving each from scratch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from observatory import lp


def test_bounds_of_a_hidden_cell_by_subtraction():
    """x0 + x1 = 5 and x1 + x2 = 3, x ≥ 0: x0 lies in [2, 5], x1 in [0, 3]; a point is returned."""
    system = lp.Equations(csr_matrix([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]), [5.0, 3.0], 3)
    low = system.minimize(np.array([1.0, 0.0, 0.0]))
    assert low.status == lp.OPTIMAL and low.fun == pytest.approx(2.0) and low.x[0] == pytest.approx(2.0)
    assert -system.minimize(np.array([-1.0, 0.0, 0.0])).fun == pytest.approx(5.0)
    assert -system.minimize(np.array([0.0, -1.0, 0.0])).fun == pytest.approx(3.0)
    assert system.minimize(np.array([0.0, 1.0, 0.0])).fun == pytest.approx(0.0)


def test_infeasible_and_unbounded_are_told_apart():
    assert lp.Equations(csr_matrix([[1.0, 1.0]]), [-1.0], 2).minimize(np.array([1.0, 0.0])).status == lp.INFEASIBLE
    free = lp.Equations(None, None, 2)
    assert free.minimize(np.array([-1.0, 0.0])).status == lp.UNBOUNDED
    assert free.minimize(np.array([1.0, 1.0])).fun == pytest.approx(0.0)  # after an unbounded solve


@pytest.mark.parametrize("seed", range(4))
def test_optima_equal_linprog_s_on_random_systems(seed):
    """Random 0/1 systems with a non-negative solution (published sums of unknowns), twenty objectives in turn
    (warm starts), bounds per unknown included: the same optimum as linprog from scratch, every time."""
    rng = np.random.default_rng(seed)
    m, n = 30, 60
    a = (rng.random((m, n)) < 0.15).astype(float)
    b = a @ rng.integers(0, 9, n)
    upper = np.where(rng.random(n) < 0.2, 12.0, np.inf)
    system = lp.Equations(csr_matrix(a), b, n, upper=upper, presolve=seed % 2 == 0)
    for _ in range(20):
        c = np.where(rng.random(n) < 0.1, rng.choice([-1.0, 1.0], n), 0.0)
        ours = system.minimize(c)
        ref = linprog(c, A_eq=a, b_eq=b, bounds=list(zip(np.zeros(n), upper, strict=True)), method="highs")
        assert ours.status == ref.status
        if ref.status == 0:
            assert ours.fun == pytest.approx(ref.fun, abs=1e-6)
            assert np.allclose(a @ ours.x, b) and (ours.x >= -1e-9).all() and (ours.x <= upper + 1e-9).all()


def test_inequalities_as_linprog_s():
    """``A_ub x ≤ b_ub`` beside the equations: the optimum of linprog with the same rows."""
    rng = np.random.default_rng(9)
    m, n = 12, 30
    a = (rng.random((m, n)) < 0.2).astype(float)
    x0 = rng.integers(0, 9, n).astype(float)
    b = a @ x0
    a_ub = (rng.random((5, n)) < 0.3).astype(float)
    b_ub = a_ub @ x0 + rng.integers(0, 3, 5)  # x0 satisfies them: feasible
    system = lp.Equations(csr_matrix(a), b, n, a_ub=csr_matrix(a_ub), b_ub=b_ub)
    for _ in range(10):
        c = rng.choice([-1.0, 0.0, 1.0], n)
        ours = system.minimize(c)
        ref = linprog(c, A_eq=a, b_eq=b, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        assert ours.status == ref.status
        if ref.status == 0:
            assert ours.fun == pytest.approx(ref.fun, abs=1e-6) and (a_ub @ ours.x <= b_ub + 1e-7).all()


def test_no_banner_on_standard_output_and_none_needed(tmp_path):
    """HiGHS's banner (printed from C++ on the first solver of a process) does not reach standard output, and a
    process whose standard output is closed still solves."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from observatory import lp; "
        "print(lp.Equations(None, None, 1).minimize(np.array([1.0])).fun)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "0.0\n"
    closed = "import os, sys; os.close(1); " + code.replace("print(", "sys.stderr.write(str(") + ")"
    run = subprocess.run([sys.executable, "-c", closed], check=False, capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == "0.0", run.stderr
