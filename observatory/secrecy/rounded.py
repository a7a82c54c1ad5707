"""Hidden ETP and payroll cells that the rounding of their published totals gives away (a step of the loop).

ETP is published whole and payroll to the thousand euros, so a published figure is an interval: a published
ETP of 0 says that the cell lies in [0, 0.5]. A hidden cell that is a part of such a total is then known to
lie in [0, 0.5] too — as closely as if it had been published — although the headcounts' closure is content
(the hidden cell has a complement, nothing is determined exactly). The audit rejects any hidden cell of these
quantities that an attacker bounds to an interval no wider than the publication's rounding
(:mod:`observatory.audit.rounding`); seen at ``--fraction 0.01 --seed 42``: the ETP of département 26's
private sector outside the ESS in size band ``0`` (0.45 ETP, a complement of the ESS's primary cell), bounded
to [0, 0.5] by the private sector's published 0.

Here every equation is read on its own, with each published cell as the interval its rounded value stands
for and each hidden cell as an unknown ≥ 0 (a cell known to be 0 of the quantity as a constant): a hidden
part whose interval from that one equation is no wider than the publication unit gets its equation loosened —
the total hidden, or a published part whose lower bound is enough to widen it, whichever comes first in the
complement order. One equation's interval contains what all of them allow together, so what is found here is
certainly given away; narrower intervals that take several equations are left to the level repair's LPs and
the audit. The hidden primary cells with a protection level are the level repair's
(:mod:`observatory.secrecy.levels`, with the same rounding): they are not parts to widen here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.secrecy.levels import Quantity, rounding_room

#: Relative margin on the publication unit: an interval this close to the unit counts as no wider (the audit
#: compares with an absolute tolerance: the protection errs on the safe side).
_MARGIN = 1e-6


def _as_read(q: Quantity) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's bounds for an attacker reading it published: the interval its rounded value stands for
    (:func:`~observatory.secrecy.levels.rounding_room`), a single 0 for a cell known to be 0."""
    v = np.maximum(np.asarray(q.value, dtype=float), 0.0)
    room_lo, room_hi = rounding_room(v, q.slack)
    return np.where(q.zero, 0.0, v + room_lo), np.where(q.zero, 0.0, v + room_hi)


def known_to_rounding(long: pd.DataFrame, hidden: np.ndarray, q: Quantity) -> pd.DataFrame:
    """The hidden parts that one equation of ``long`` (``eq``, ``cell``, ``sign`` −1 for the total) bounds
    no wider than the publication unit ``2 · q.slack``: one row per (equation, cell), with the interval's upper
    bound ``high`` and the smallest lower bound ``need`` that a published sibling must have for its hiding to
    widen that interval enough. ``q.zero``: cells known to be 0 of the quantity; the hidden cells with a
    protection level (``q.up > 0``) are the level repair's, not parts to widen."""
    width = 2 * q.slack * (1 + _MARGIN) + _MARGIN
    eq = long["eq"].to_numpy()
    cell = long["cell"].to_numpy()
    total = long["sign"].to_numpy() < 0
    n_eq = int(eq.max()) + 1 if len(eq) else 0
    read_lo, read_hi = _as_read(q)
    # a cell as the attacker reads it: published, its rounding interval; known zero, 0; hidden, [0, ∞)
    known = ~hidden[cell] | q.zero[cell]
    lo = np.where(known, read_lo[cell], 0.0)
    hi = np.where(known, read_hi[cell], np.inf)
    part = ~total
    total_known = np.zeros(n_eq, bool)
    total_known[eq[total]] = known[total]
    total_lo, total_hi = np.zeros(n_eq), np.zeros(n_eq)
    total_lo[eq[total]], total_hi[eq[total]] = lo[total], hi[total]
    parts_lo = np.bincount(eq[part], weights=np.where(known[part], lo[part], 0.0), minlength=n_eq)
    parts_hi = np.bincount(eq[part], weights=np.where(known[part], hi[part], 0.0), minlength=n_eq)
    unknown = np.bincount(eq[part], weights=(~known[part]).astype(float), minlength=n_eq)
    rows = np.flatnonzero(part & ~known & total_known[eq] & (q.value[cell] > 0) & ~(q.up[cell] > 0))
    if not len(rows):
        return pd.DataFrame({"eq": [], "cell": [], "high": [], "need": []})
    e = eq[rows]
    # the part's own lower bound is 0 there: it is ≥ 0 either way
    high = total_hi[e] - parts_lo[e]
    low = np.where(unknown[e] > 1, 0.0, np.maximum(total_lo[e] - parts_hi[e], 0.0))
    bad = high - low <= width
    return pd.DataFrame({"eq": e[bad], "cell": cell[rows][bad], "high": high[bad], "need": width - high[bad]})


def widen_rounded(long: pd.DataFrame, hidden: np.ndarray, q: Quantity, order: np.ndarray) -> int:
    """Loosen every equation of :func:`known_to_rounding` (``hidden`` in place): hide its total, or a
    published part whose lower bound widens every such part of it past the unit, whichever comes first in
    ``order`` (the closure's complement order). Returns the number of cells hidden; the caller closes again
    (:func:`observatory.secrecy.repair._protect_pass`) and calls this again until nothing is added."""
    if q.slack <= 0:
        return 0
    found = known_to_rounding(long, hidden, q)
    if not len(found):
        return 0
    need = found.groupby("eq")["need"].max()
    members = long[long["eq"].isin(need.index)]
    cell = members["cell"].to_numpy()
    is_total = members["sign"].to_numpy() < 0
    lo = _as_read(q)[0][cell]
    enough = is_total | (lo > need.reindex(members["eq"]).to_numpy())
    cand = members.assign(o=order[cell])[~hidden[cell] & enough]
    pick = np.unique(cand.sort_values(["eq", "o"], kind="stable").drop_duplicates("eq")["cell"].to_numpy())
    hidden[pick] = True
    return len(pick)
