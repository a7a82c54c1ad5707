"""The territory relations proven as one system (``observatory.secrecy.chains``), on a hand-made geography.

Région R = départements A + B; EPCI E straddles them (atoms A|E, B|E), F lies in A (atom A|F), G in B (atom
B|G). Headcounts: A|E = 5 (one establishment: primary), A|F = 100, B|E = 50, B|G = 200; so A = 105,
B = 250, E = 55, F = 100, G = 200, R = 355. Atoms are never published. Every equation holds at least two
unknowns (the atoms), so a rule that looks at one equation at a time sees nothing, and yet
A|E = A − F = 105 − 100 = 5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.audit.lp import lp_bounds
from observatory.secrecy import chains

NAMES = ["FR", "R", "A", "B", "E", "F", "G", "A|E", "A|F", "B|E", "B|G"]
VALUE = dict(zip(NAMES, [355, 355, 105, 250, 55, 100, 200, 5, 100, 50, 200], strict=True))
EQS = [  # total, parts
    ("FR", ["R"]),
    ("R", ["A", "B"]),
    ("A", ["A|E", "A|F"]),
    ("B", ["B|E", "B|G"]),
    ("E", ["A|E", "B|E"]),
    ("F", ["A|F"]),
    ("G", ["B|G"]),
]
POS = {n: i for i, n in enumerate(NAMES)}
#: complement order: EPCIs first, then départements, the région and France last (atoms are never picked)
ORDER = np.array([10, 9, 5, 6, 1, 2, 3, 0, 0, 0, 0])


def system() -> pd.DataFrame:
    rows = []
    for e, (total, parts) in enumerate(EQS):
        rows.append((e, POS[total], -1.0, "geo"))
        rows += [(e, POS[p], 1.0, "geo") for p in parts]
    return pd.DataFrame(rows, columns=["eq", "cell", "sign", "tag"])


def flags(names) -> np.ndarray:
    out = np.zeros(len(NAMES), bool)
    out[[POS[n] for n in names]] = True
    return out


PUBLISHED = ~flags(["A|E", "A|F", "B|E", "B|G"])
PRIMARY = flags(["A|E"])


def _bounds(hidden: np.ndarray) -> dict:
    """Min and max of every unknown, by the audit's LP (its own code), for the check by hand."""
    values = {n: (None if hidden[POS[n]] or not PUBLISHED[POS[n]] else VALUE[n]) for n in NAMES}
    return lp_bounds(values, [(parts, total) for total, parts in EQS])


def test_a_chain_through_a_straddling_epci_fixes_a_primary_atom():
    hidden = PRIMARY.copy()
    unknown = hidden | ~PUBLISHED
    fixed = chains.fixed_cells(system(), unknown, hidden)
    assert [NAMES[i] for i in fixed] == ["A|E"]
    assert _bounds(hidden)["A|E"] == (5.0, 5.0)  # A − F, as the module says


def test_repair_hides_published_cells_until_no_watched_cell_is_fixed():
    hidden = PRIMARY.copy()
    zero = np.zeros(len(NAMES), bool)
    added = []
    while n := chains.repair_chains(system(), PUBLISHED, hidden, PRIMARY, zero, ORDER):
        added.append(n)
    # round 1: E (the cheapest cell in A|E's equations), A|E still = A − F; round 2: A, then A = R − B is
    # fixed and A|E too; round 3: F (one equation further for A|E) and B (for A)
    assert added == [1, 1, 2]
    assert [n for n in NAMES if hidden[POS[n]]] == ["A", "B", "E", "F", "A|E"]
    unknown = hidden | ~PUBLISHED
    assert len(chains.fixed_cells(system(), unknown, hidden)) == 0
    # by hand: A|E + A|F + B|E = R − G = 155, free in two directions; the LP agrees
    lo, hi = _bounds(hidden)["A|E"]
    assert (lo, hi) == (0.0, 155.0)


def test_a_fixed_epci_takes_another_epci_before_its_departement_total():
    """Found at France: an EPCI fixed as its département minus the other EPCIs had the département's public
    total two equations away (through its atom) and the other EPCIs three; the nearest-first search hid the
    département's headline total. With the tiers, the search goes one equation further and finds the cheaper
    EPCI. Cells: 0 EPCI A (fixed), 1 atom of A, 2 département, 3 atom of B, 4 EPCI B."""
    eqs_of = {0: [0], 1: [0, 1], 2: [1], 3: [1, 2], 4: [2]}
    cells_of = {0: [0, 1], 1: [2, 1, 3], 2: [4, 3]}
    free = np.array([False, False, True, False, True])
    unknown = np.array([True, True, False, True, False])
    assert chains._nearest(0, eqs_of, cells_of, free, unknown) == [2]
    tier = np.array([2.0, 0.0, 4.0, 0.0, 2.0])
    found = chains._nearest(0, eqs_of, cells_of, free, unknown, tier < chains.TOTAL_TIER)
    assert sorted(found) == [2, 4]
    order = tier  # the complement order, tier first
    assert min(found, key=lambda c: (order[c], c)) == 4
