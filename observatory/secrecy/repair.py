"""The 2-D proof and repair of each région × breakdown table, and the look-ahead over headline totals (step 3)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError
from observatory.secrecy.chains import repair_chains
from observatory.secrecy.closure import _close, _order
from observatory.secrecy.equations import _CHAMP_EDGES, _FLAT
from observatory.secrecy.levels import Quantity, repair_levels, repair_levels_territory
from observatory.secrecy.rounded import widen_rounded
from observatory.secrecy.rules import CHAMPS_PUBLIES, DEFAULTS

log = logging.getLogger(__name__)

_TABLE_DIMS = {
    "montant": ("famille", "secteur", "tranche", "sexe"),
    "comptage": ("famille", "secteur", "tranche"),
}


#: The breakdowns of the EPCIs' cells (their ESS's): each EPCI's (breakdown and its total) × champs table.
_EPCI_DIMS = ("sexe", "tranche", "secteur")


def _departements_of(region_of: dict) -> dict:
    """Région → its départements (sorted), from département → région."""
    deps_of: dict = {}
    for d, r in sorted(region_of.items()):
        deps_of.setdefault(r, []).append(d)
    return deps_of


def _tables_2d(cells: pd.DataFrame, region_of: dict, nature: str):
    """The 2-D tables (région and its départements) × (one breakdown and its total), per champ.

    Yields ``(name, ids, rows)``: cell positions and, for each equation, the positions of its total and
    of its parts. The same tables as the audit (``observatory.audit.tables.two_d_tables``, built apart),
    and each EPCI's sexe, size band and sector × champ tables (:func:`_champ_tables`; the audit holds those
    equations in its territory relations, ``observatory.audit.territories``).
    """
    deps_of = _departements_of(region_of)
    # the keys as Python strings: grouping and iterating Arrow-backed strings, group by group, took most of
    # the time (the same values, in the same order)
    cells = cells[["niveau", "code", "champ", "famille", *_FLAT]].astype(object)
    geo = cells.niveau.to_numpy()
    code = cells.code.to_numpy()
    reg_of_cell = np.where(
        geo == "departement", pd.Series(code).map(region_of).to_numpy(), np.where(geo == "region", code, None)
    )
    base = cells.assign(_reg=reg_of_cell)
    epci = base[geo == "epci"]  # an EPCI's tables: its cells by sexe, size band or sector × champs
    base = base[base._reg.notna() & base.niveau.isin(["region", "departement"])]
    for dim in _TABLE_DIMS[nature]:
        others = [d for d in ("famille", *_FLAT) if d != dim]
        sub = base
        for d in others:
            sub = sub[sub[d] == DEFAULTS[d]]
        if dim == "famille":
            sub = sub[sub.champ.isin(["ess", "ess_loi_2014"])]
        else:
            sub = sub[sub.champ.isin(CHAMPS_PUBLIES)]
        for (champ, region), t in sub.groupby(["champ", "_reg"], sort=True):
            pos = dict(zip(zip(t.code, t[dim]), t.index.to_numpy()))
            cats = sorted({c for c in t[dim] if c != DEFAULTS[dim]})
            if not cats:  # no breakdown along ``dim`` in this table: nothing to prove
                continue
            geos = [region] + deps_of.get(region, [])
            rows = []
            for g in geos:
                rows.append((pos.get((g, DEFAULTS[dim])), [pos.get((g, c)) for c in cats]))
            for c in [*cats, DEFAULTS[dim]]:
                rows.append((pos.get((region, c)), [pos.get((d, c)) for d in geos[1:]]))
            yield f"{nature}/{champ}/{dim}/{region}", t.index.to_numpy(), rows
    yield from _champ_tables(base, deps_of, nature, epci)


#: The champ tree as equations ``total = Σ parts``, from :data:`_CHAMP_EDGES`.
_CHAMP_TREE = tuple(
    (parent, tuple(child for child, p, _ in _CHAMP_EDGES if p == parent))
    for parent in dict.fromkeys(p for _, p, _ in _CHAMP_EDGES)
)


def _champ_tables(base: pd.DataFrame, deps_of: dict, nature: str, epci: pd.DataFrame | None = None):
    """The 2-D tables whose second dimension is the champ tree (what the panoramas set side by side: ESS,
    privé hors ESS, public and their totals), for :func:`_tables_2d`:

    - per région, (région and its départements) × champs, on the cells without breakdown;
    - per territory (région, département, and the EPCIs of ``epci``, their cells by sexe, size band, sector),
      (one breakdown and its total) × champs, e.g. the ESS share of each sector's jobs, or an EPCI's women
      and men.

    The internal champs ``_sce`` / ``_oth`` are cells of these tables (known unless hidden). An equation
    of the tree is used when all its champs are computed (the baromètre has no internal champs); a
    missing part is then an empty cell, and a missing total no equation (as in :func:`equations`).
    """
    present = set(base.champ.unique())
    tree = [(t, parts) for t, parts in _CHAMP_TREE if {t, *parts} <= present]

    def champ_rows(pos, col):
        for total, parts in tree:
            if (t := pos.get((col, total))) is not None:
                yield t, [pos.get((col, p)) for p in parts]

    plain = np.ones(len(base), bool)
    for d in ("famille", *_FLAT):
        plain &= (base[d] == DEFAULTS[d]).to_numpy()
    flat = base[plain]
    for region, t in flat.groupby("_reg", sort=True):
        pos = dict(zip(zip(t.code, t.champ), t.index.to_numpy()))
        geos = [region] + deps_of.get(region, [])
        rows = [r for g in geos for r in champ_rows(pos, g)]
        for champ in sorted(set(t.champ)):
            if (tot := pos.get((region, champ))) is not None:
                rows.append((tot, [pos.get((d, champ)) for d in geos[1:]]))
        yield f"{nature}/champs/{region}", t.index.to_numpy(), rows
    for dim in _TABLE_DIMS[nature]:
        if dim == "famille":
            continue
        sub = pd.concat([base, epci]) if dim in _EPCI_DIMS and epci is not None else base
        sub = sub[sub.famille == DEFAULTS["famille"]]
        for d in _FLAT:
            if d != dim:
                sub = sub[sub[d] == DEFAULTS[d]]
        for (niveau, code), t in sub.groupby(["niveau", "code"], sort=True):
            cats = sorted({c for c in t[dim] if c != DEFAULTS[dim]})
            if not cats:
                continue
            pos = dict(zip(zip(t[dim], t.champ), t.index.to_numpy()))
            rows = [r for c in [*cats, DEFAULTS[dim]] for r in champ_rows(pos, c)]
            # the champs broken down (an EPCI's breakdowns: the ESS only; elsewhere every champ)
            for champ in sorted(set(t.champ[t[dim] != DEFAULTS[dim]])):
                if (tot := pos.get((DEFAULTS[dim], champ))) is not None:
                    rows.append((tot, [pos.get((c, champ)) for c in cats]))
            yield f"{nature}/champs/{dim}/{niveau}/{code}", t.index.to_numpy(), rows


def _determined(ids, rows, hidden, known, value=None) -> np.ndarray:
    """Hidden cells of a table fixed by its equations and ``cells ≥ 0`` (what the audit's LP proves).

    The feasible cells form a polytope; a cell is fixed when it is 0 all over it (only a cell worth 0 can
    be: one LP, max of the cell) or when its unit vector lies in the row space of the equations over the
    hidden columns (its row of the null space is 0), found with a rank-revealing (pivoted) QR.
    """
    from scipy.linalg import qr
    from scipy.optimize import linprog

    unknown = [i for i in ids if hidden[i] and not known[i]]
    if not unknown:
        return np.array([], dtype=np.int64)

    def matrix(cols):
        col = {c: j for j, c in enumerate(cols)}
        a, b = [], []
        for total, parts in rows:
            r = np.zeros(len(cols))
            rhs = 0.0
            for c, sign in [(total, -1.0)] + [(p, 1.0) for p in parts]:
                if c is None:
                    continue
                if c in col:
                    r[col[c]] += sign
                elif value is not None:
                    rhs -= sign * float(value[c])
            if r.any():
                a.append(r)
                b.append(rhs)
        return np.array(a).reshape(len(a), len(cols)), np.array(b)

    pinned = []
    if value is not None and (value[unknown] <= 0).any():
        a, b = matrix(unknown)
        for j, c in enumerate(unknown):
            if value[c] <= 0:
                obj = np.zeros(len(unknown))
                obj[j] = -1.0
                res = linprog(obj, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
                if res.status == 0 and -res.fun <= 1e-6:
                    pinned.append(c)
    free = [c for c in unknown if c not in pinned]
    out = list(pinned)
    if free:
        a, _ = matrix(free)
        if len(a):
            q, r, _ = qr(a.T, mode="economic", pivoting=True)
            d = np.abs(np.diag(r))
            rank = int((d > d[0] * 1e-9).sum()) if len(d) and d[0] > 0 else 0
            # squared norm of the cell's row in an orthonormal basis of the row space: 1 when it is in it
            fixed = (q[:, :rank] ** 2).sum(axis=1) > 1 - 1e-10
            out += [c for c, f in zip(free, fixed) if f]
    return np.array(sorted(out), dtype=np.int64)


def _repair_tables(tables, hidden, known, order, value, proven: set | None = None) -> int:
    """Hide, in each 2-D table, cells until no hidden cell is fixed by the table; returns cells added.

    ``proven``: (table, hidden cells of the table) already shown to leave no cell fixed, kept across calls
    on the same tables, ``known`` and ``value`` (the passes of :func:`_protect_lookahead`): such a table
    is not solved again.
    """
    added = 0
    proven = set() if proven is None else proven
    for _name, ids, rows in tables:
        if (_name, hidden[ids].tobytes()) in proven:
            continue
        while len(fixed := _determined(ids, rows, hidden, known, value)):
            target = int(fixed[0])
            cands = sorted((order[i], i) for i in ids if not hidden[i] and not known[i])
            for _, c in cands:
                hidden[c] = True
                if target not in _determined(ids, rows, hidden, known, value):
                    added += 1
                    break
                hidden[c] = False
            else:
                # no single cell frees it: hide cells in preference order until it is free (more hidden is
                # always safe); a cell still fixed with every cell of its table hidden is fixed by which
                # cells exist, not by published values: no suppression can change that
                for _, c in cands:
                    hidden[c] = True
                    added += 1
                    if target not in _determined(ids, rows, hidden, known, value):
                        break
                else:
                    raise SecrecyError(
                        f"secondary suppression: cell {target} of table {_name} is fixed with its whole "
                        "table hidden"
                    )
        proven.add((_name, hidden[ids].tobytes()))
    return added


#: Importance tier of the headline totals (:func:`importance`) and passes of the look-ahead that keeps them.
HEADLINE_TIER = 7
HEADLINE_PASSES = 3


def _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven=None) -> tuple[np.ndarray, int]:
    """Closure, then the 2-D proof and repair, then the closure again, until both hold."""
    hidden, rounds = _close(long, hidden0, cost, zero, tier)
    # the local rule does not see chains of equations: prove each 2-D table (région × breakdown) and hide
    # more where a hidden cell is still fixed, then close again, until both hold
    order = _order(cost, tier)
    while added := _repair_tables(tables, hidden, zero, order, value, proven):
        log.info("2-D tables: %d cells added", added)
        hidden, more = _close(long, hidden, cost, zero, tier)
        rounds += more
    return hidden, rounds


JOINT = "territory relations and one-breakdown tables together"


def _prove_relations(territory, joint, hidden, hidden0, zero, order, tier, tried: dict, state: dict) -> bool:
    """One round of proof and repair of the territory relations, or, once they are proven and when ``joint``
    is given, of the joint system alone; True when cells were hidden (``hidden`` in place).

    The joint system holds every equation of the territory system, on the same cells with the same published
    flags: a cell the territory relations fix is fixed there too. And from one round to the next cells are
    only hidden. So after the first proof of the territory system (``state["territory"]``), proving the joint
    system proves both: the territory proof that preceded each joint round found nothing (at France, 7 of
    them, 1.4 s each)."""
    if not state.get("territory"):
        if repair_chains(*territory, hidden, hidden0, zero, order, tier):
            return True
        state["territory"] = joint is not None
    return joint is not None and repair_chains(*joint, hidden, hidden0, zero, order, tier, JOINT, tried) > 0


def _protect_lookahead(
    long, tables, hidden0, cost, zero, tier, value, territory=None, levels=None, joint=None
) -> tuple[np.ndarray, int]:
    """:func:`_protect_pass`, then up to ``HEADLINE_PASSES`` passes with a look-ahead: a complement whose
    equation then had only a headline total left to hide (e.g. the ESS loi 2014 total of a département
    whose sociétés commerciales count 0 jobs) is avoided next pass; a pass is kept only when it hides fewer
    headline totals. Then, when ``territory`` is given (``(system, published)`` of
    :func:`observatory.secrecy.chains.territory_system`), the territory relations are proven as one system
    and repaired, and when ``levels`` is given (``(up, down)`` of
    :func:`observatory.secrecy.levels.protection_levels` for ``value``, or a list of
    :class:`~observatory.secrecy.levels.Quantity`, ``value``'s first: the headcounts, then ETP and payroll),
    the hidden primary cells' intervals in the 2-D tables are widened to their protection levels
    (:func:`observatory.secrecy.levels.repair_levels`), then in the territory relations
    (:func:`~observatory.secrecy.levels.repair_levels_territory`); each
    round is followed by the closure and the 2-D repair, until nothing is added (after the look-ahead: each
    territory proof is a sparse solve over the whole territory system). ``joint`` (of
    :func:`observatory.secrecy.chains.joint_system`): once the territory system is proven, the same proof and
    repair on the territory relations and the one-breakdown tables together, and the levels proven on that
    joint system instead of the territory system alone (it holds every territory equation: a feasible point of
    the joint system is one of the territory system, so a cell that reaches its level there reaches it in both;
    the audit bounds the primary cells on its own joint systems, ``observatory.audit.joint``)."""
    proven: set = set()
    tier0 = tier
    # the headcounts (``value``, published exact) first, then any other magnitude sharing the mask
    quantities = (
        [] if levels is None else levels if isinstance(levels, list) else [Quantity("", value, *levels, zero)]
    )
    hidden, rounds = _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven)
    for _ in range(HEADLINE_PASSES):
        avoid = _headline_triggers(long, hidden, hidden0, tier)
        if not len(avoid):
            break
        tier = tier.copy()
        tier[avoid] = HEADLINE_TIER - 1
        again, more = _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven)
        heads = tier >= HEADLINE_TIER
        if (again & heads).sum() >= (hidden & heads).sum():
            break
        hidden, rounds = again, rounds + more
    order = _order(cost, tier0)
    level_proven: set = set()
    systems: dict = {}  # each 2-D table's equations, built once for every quantity and round
    levels_reached: dict = {}  # per quantity: the cells shown to reach their levels in the territory (or joint)
    # system (only hiding follows)
    tried: dict = {}  # the joint system's fixed cells, and how many rounds each was found fixed
    state: dict = {}
    while True:
        while territory is not None and _prove_relations(
            territory, joint, hidden, hidden0, zero | (value <= 0), order, tier0, tried, state
        ):
            hidden, more = _protect_pass(long, tables, hidden, cost, zero, tier0, value, proven)
            rounds += more
        if levels is None:
            return hidden, rounds
        added = 0
        for q in quantities:
            added += repair_levels(
                tables, hidden, q.zero, q.value, tier0, q.up, q.down, level_proven, q.slack, q.name, systems
            )
        for q in quantities:  # the hidden parts that a published total's rounding gives away
            widened = widen_rounded(long, hidden, q, order)
            if widened:
                log.info("%s: %d totals hidden that their rounding gave away", q.name, widened)
            added += widened
        if territory is not None and not added:
            # no rounding slack in the territory system: its published ETP and payroll are held at their exact
            # values, as if the attacker read them unrounded. That attacker knows more than the real one, so
            # a level proven against him holds (a few more cells are widened), and it spares the LPs where
            # every published cell moves within its rounding (up to 150 s each on the sample once the EPCIs
            # are published by sexe)
            for q in quantities:
                added += repair_levels_territory(
                    *(territory if joint is None else joint),
                    hidden,
                    q.zero | (q.value <= 0),
                    q.value,
                    tier0,
                    q.up,
                    q.down,
                    0.0,
                    levels_reached.setdefault(q.name, {}),
                )
        if not added:
            return hidden, rounds
        log.info("protection levels: %d cells added", added)
        hidden, more = _protect_pass(long, tables, hidden, cost, zero, tier0, value, proven)
        rounds += more


def _headline_triggers(long, hidden, hidden0, tier) -> np.ndarray:
    """Complements (hidden, not hidden at the start) below the headline tier that share an equation with a
    headline total hidden as a complement: the cells that forced it."""
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    added = hidden & ~hidden0
    head = added & (tier >= HEADLINE_TIER)
    eqs = np.unique(eq[head[cell]])
    if not len(eqs):
        return np.array([], dtype=np.int64)
    inside = np.isin(eq, eqs)
    cand = cell[inside]
    cand = cand[added[cand] & (tier[cand] < HEADLINE_TIER - 1)]
    return np.unique(cand)
