"""Hidden ETP and payroll cells given away by the rounding of a published total (observatory.secrecy.rounded),
against the audit's own LP (observatory.audit.lp with observatory.audit.rounding's intervals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatory.audit.lp import lp_bounds
from observatory.audit.rounding import as_intervals
from observatory.secrecy.levels import Quantity
from observatory.secrecy.rounded import known_to_rounding, widen_rounded

HALF = 0.5  # ETP: published whole


def _long(equations: list[tuple[int, list[int]]]) -> pd.DataFrame:
    """``(total, parts)`` pairs as the protection's long table of equations."""
    rows = []
    for e, (total, parts) in enumerate(equations):
        rows.append((e, total, -1.0))
        rows += [(e, p, 1.0) for p in parts]
    return pd.DataFrame(rows, columns=["eq", "cell", "sign"])


def _etp(value: np.ndarray, levelled: np.ndarray) -> Quantity:
    """ETP published whole, its cells worth 0 known, a protection level (1 ETP) on the ``levelled`` cells."""
    value = np.asarray(value, dtype=float)
    up = np.where(levelled, 1.0, 0.0)
    return Quantity("etp", value, up, np.minimum(up, value), value <= 0, HALF)


def _flags(n: int, on=()) -> np.ndarray:
    out = np.zeros(n, bool)
    out[list(on)] = True
    return out


def test_a_total_published_as_zero_gives_its_hidden_part_away_and_its_own_total_after_it():
    """Département 26 at ``--fraction 0.01 --seed 42``: the private sector's size band 0 published as 0 ETP
    (0.486), its ESS part hidden primary (0.033, protected by its level), the private sector outside the ESS
    a hidden complement (0.453): bounded to [0, 0.5] by the published 0. The total is hidden; then the same
    holds one level up (everyone = private, no public cell in band 0), and that total is hidden next."""
    value = np.array([0.486, 0.0332, 0.4528, 0.486])
    long = _long([(0, [1, 2]), (3, [0])])
    hidden = _flags(4, [1, 2])
    levelled = _flags(4, [1])
    found = known_to_rounding(long, hidden, _etp(value, levelled))
    assert found[["eq", "cell"]].to_numpy().tolist() == [[0, 2]]
    assert found.high.iloc[0] == pytest.approx(0.5)
    order = np.arange(4)
    assert widen_rounded(long, hidden, _etp(value, levelled), order) == 1
    assert hidden.tolist() == [True, True, True, False]
    assert widen_rounded(long, hidden, _etp(value, levelled), order) == 1
    assert hidden.all()
    assert widen_rounded(long, hidden, _etp(value, levelled), order) == 0


def test_a_published_sibling_can_loosen_the_equation_instead_of_the_total():
    """5.2 = 4.9 + 0.3 with 0.3 hidden alone: the published 5 and 5 leave it in [0, 1], one unit wide. Hiding
    the sibling (its lower bound 4.5 lifts the bound to 5.5) or the total both widen it: the complement order
    chooses."""
    value = np.array([5.2, 4.9, 0.3])
    long = _long([(0, [1, 2])])
    levelled = _flags(3)
    for order, expected in (([0, 1, 2], 0), ([2, 0, 1], 1)):
        hidden = _flags(3, [2])
        assert widen_rounded(long, hidden, _etp(value, levelled), np.array(order)) == 1
        assert np.flatnonzero(hidden).tolist() == sorted([2, expected])


def test_wide_enough_levelled_and_zero_parts_are_left():
    # two hidden parts of a published 12: each in [0, 12.5]
    value = np.array([12.3, 6.0, 6.3, 0.0, 0.2])
    long = _long([(0, [1, 2]), (4, [3])])
    hidden = _flags(5, [1, 2, 3])
    assert known_to_rounding(long, hidden, _etp(value, _flags(5))).empty
    # a hidden part worth 0 (a known zero) under a published 0, and a primary cell with its level: not here
    long = _long([(4, [3, 1])])
    value2 = np.array([0.0, 0.2, 0.0, 0.0, 0.2])
    hidden = _flags(5, [1, 3])
    assert known_to_rounding(long, hidden, _etp(value2, _flags(5, [1]))).empty
    assert known_to_rounding(long, hidden, _etp(value2, _flags(5))).cell.tolist() == [1]


@pytest.mark.parametrize("seed", range(3))
def test_one_equation_flags_exactly_what_the_audit_lp_bounds_to_the_unit(seed):
    """Random single equations (a published or hidden total, parts published or hidden, ETP-like values, some
    below 1): the cells flagged are exactly the hidden parts that the audit's LP, with every published value
    as its rounding interval, bounds to an interval no wider than the unit (one equation: its interval is the
    LP's)."""
    rng = np.random.default_rng(seed)
    seen = 0
    for _ in range(50):
        n = int(rng.integers(2, 5))
        parts = np.round(rng.uniform(0, 1.2 if rng.random() < 0.7 else 30, n), 4)
        value = np.concatenate([[parts.sum()], parts])
        hidden = _flags(n + 1, rng.choice(np.arange(1, n + 1), 1 if rng.random() < 0.6 else 2, replace=False))
        hidden[0] = rng.random() < 0.15
        long = _long([(0, list(range(1, n + 1)))])
        flagged = set(known_to_rounding(long, hidden, _etp(value, _flags(n + 1))).cell.tolist())
        published = {i: (None if hidden[i] else float(np.floor(value[i] + 0.5))) for i in range(n + 1)}
        bounds = lp_bounds(as_intervals(published, HALF), [(list(range(1, n + 1)), 0)])
        narrow = {
            i
            for i, (lo, hi) in bounds.items()
            if i > 0 and hidden[i] and value[i] > 0 and not hidden[0] and hi - lo <= 2 * HALF + 1e-6
        }
        assert flagged == narrow, (value.tolist(), hidden.tolist(), bounds)
        seen += len(flagged)
    assert seen >= 3  # the draws do give cells away
