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


# The one-breakdown tables and the territory relations together (``chains.joint_system``): région R =
# départements D1 + D2, secteurs A + B, champ privé = ESS + privé hors ESS. The hidden pattern below (found by
# a search over random patterns) leaves every hidden cell free in each 2-D table of one champ (territory ×
# secteur) and in each champ table of one cell (privé = ESS + privé hors ESS), and in the territory system;
# the tables together fix D2's privé total.
JOINT_CHAMPS = ("prive", "ess", "prive_hors_ess")
JOINT_HIDDEN = [0, 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24, 26]


def _joint_world():
    from observatory import secrecy

    rows = [
        {"niveau": n, "code": c, "champ": ch, **dict(secrecy.DEFAULTS, secteur=s)}
        for n, c in (("region", "R"), ("departement", "D1"), ("departement", "D2"))
        for s in ("tous", "A", "B")
        for ch in JOINT_CHAMPS
    ]
    cells = pd.DataFrame(rows)
    leaf = {
        (c, s, ch): 10.0 + 7 * i
        for i, (c, s, ch) in enumerate(
            (c, s, ch) for c in ("D1", "D2") for s in ("A", "B") for ch in ("ess", "prive_hors_ess")
        )
    }

    def value(code, s, ch):
        codes = ("D1", "D2") if code == "R" else (code,)
        secs = ("A", "B") if s == "tous" else (s,)
        chs = ("ess", "prive_hors_ess") if ch == "prive" else (ch,)
        return sum(leaf[(c, x, y)] for c in codes for x in secs for y in chs)

    values = np.array([value(r.code, r.secteur, r.champ) for r in cells.itertuples()])
    return cells, values, secrecy.equations(cells, {"D1": "R", "D2": "R"})


def _determined_by_lp(long, values, hidden) -> dict:
    """The audit's LP (:func:`observatory.audit.lp.determined_cells`) on the same cells: hidden unknown."""
    from observatory.audit.lp import determined_cells

    vals = {i: (None if hidden[i] else float(v)) for i, v in enumerate(values)}
    eqs = [(list(g.cell[g.sign > 0]), int(g.cell[g.sign < 0].iloc[0])) for _, g in long.groupby("eq")]
    return determined_cells(vals, eqs)


def test_the_joint_system_fixes_a_cell_that_no_table_fixes_alone_and_its_repair_frees_it():
    cells, values, long = _joint_world()
    hidden = np.zeros(len(cells), bool)
    hidden[JOINT_HIDDEN] = True
    territory, _ = chains.territory_system(long, cells)
    joint, published = chains.joint_system(long, cells)
    assert joint["eq"].nunique() == long["eq"].nunique() == 27  # every equation of this world
    members = long.groupby("eq").cell.apply(list)
    code, sect, champ = cells.code.to_numpy(), cells.secteur.to_numpy(), cells.champ.to_numpy()
    tables = [[e for e, cs in members.items() if all(champ[c] == ch for c in cs)] for ch in JOINT_CHAMPS]
    tables += [
        [e for e, cs in members.items() if all(code[c] == g and sect[c] == s for c in cs)]
        for g in ("R", "D1", "D2")
        for s in ("tous", "A", "B")
    ]
    for eqs in [*tables, territory["eq"].unique()]:
        assert not len(chains.fixed_cells(long[long["eq"].isin(eqs)], hidden, hidden))
    assert chains.fixed_cells(joint, hidden, hidden).tolist() == [18]
    assert (cells.iloc[18][["code", "secteur", "champ"]].tolist()) == ["D2", "tous", "prive"]
    assert _determined_by_lp(long, values, hidden) == {18: values[18]}  # the audit's LP finds it too
    zero = np.zeros(len(cells), bool)
    order = np.arange(len(cells))
    primary = hidden.copy()
    rounds = 0
    while chains.repair_chains(joint, published, hidden, primary, zero, order, name="test"):
        rounds += 1
    assert rounds >= 1 and hidden.sum() > len(JOINT_HIDDEN)
    assert not len(chains.fixed_cells(joint, hidden, hidden))
    assert _determined_by_lp(long, values, hidden) == {}
