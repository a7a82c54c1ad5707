"""The proof and repair of the territory relations as one system (step 3, after the 2-D tables).

The closure (:func:`observatory.secrecy.closure._close`) leaves no equation with exactly one hidden cell, and
the 2-D repair proves each région × breakdown table; neither sees the chains through the geographic atoms:
an EPCI straddling two départements ties them (département = Σ its atoms, EPCI = Σ its atoms), and a cell
can be fixed by a chain of such equations across the champ tree and the families while every single equation
holds two unknown cells. This module takes that system — every equation of the protection whose cells are
territory cells without secteur / tranche / sexe / pcs breakdown: territory levels and atoms, champ tree,
families (the audit states the same relations on its own, ``observatory.audit.territories``) — proves it
as a whole, and hides more published cells until no watched cell is fixed.

The attacker's unknowns are the hidden cells and every cell never published (atoms, internal champs and
territories), except cells known to be 0. Watched: the hidden published cells and every primary cell
(published level or not).

Proof (:func:`fixed_cells`): on the true values every unknown is positive, so the true point lies inside
the feasible set, and an unknown is fixed exactly when its unit vector lies in the row space of the
equations over the unknowns, i.e. when every vector of their null space is 0 on it. Random vectors
projected on the null space (sparse least squares, LSQR, one BLAS thread) show every cell that is not
fixed: on the sample the system is one component of some 20 000 unknowns, too large for the dense QR of
the 2-D tables.

Repair (:func:`repair_chains`): for each fixed cell, the first published cell in the complement order
(:func:`observatory.secrecy.closure.importance`) among the nearest ones — in the equations that hold it, else
in those of the unknown cells of these, and so on, along the local equations first (not France = Σ of a level) —
is hidden, all at once; the caller closes again and calls it again, to a fixed point.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError
from observatory.reference.geography import ATOM_LEVEL
from observatory.secrecy.closure import TOTAL_TIER
from observatory.secrecy.rules import CHAMPS_PUBLIES, DEFAULTS

log = logging.getLogger(__name__)

#: The territory levels of the system: published levels, internal ones and the atoms.
LEVELS = ("france", "region", "departement", "epci", "_geo_inconnu", "_epci_inconnu", ATOM_LEVEL)
PUBLISHED_LEVELS = ("france", "region", "departement", "epci")
#: The EPCI-like levels (the EPCIs, the unknown EPCI, the atoms): their one-breakdown cells are the ESS's by
#: sexe, by size band and by sector only (``croisement_du_niveau`` of ``sql/indicators/cellules.sql``).
EPCI_LEVELS = ("epci", "_epci_inconnu", ATOM_LEVEL)
#: Equation tags of the system (see :func:`observatory.secrecy.equations.equations`).
TAGS = r"^(?:geo_|ch_|famille$)"
#: And of the joint system (:func:`joint_system`): the one-breakdown tables' too.
JOINT_TAGS = r"^(?:geo_|ch_|famille$|secteur$|tranche$|sexe$)"
#: An unknown that moves by less than this along every probe of the null space is fixed.
FIXED_TOL = 1e-7
#: Probes of the null space. A fixed cell never moves, so the probes can only err towards "fixed" (a free
#: cell moving by less than FIXED_TOL along a random Gaussian probe, probability of the order of 1e-6 per cell
#: and probe): the second probe confirms the first's candidates, and an error would only hide one cell more.
#: A round that finds fixed cells runs every probe (about 0.5 s each on the 29 000 unknowns of France).
PROBES = 2
#: Equations not searched for complements (they hold every territory of a level).
NATIONAL_TAGS = ("geo_france", "geo_epci")
#: Equations crossed, through unknown cells, to find a published cell to hide near a fixed one.
SEARCH_HOPS = 4


def _one_blas_thread():
    """BLAS limited to one thread where ``threadpoolctl`` is installed: LSQR's many small vector operations
    only contend across threads (ten times slower on two cores). Speed only: the result is the same."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1)


def territory_system(long: pd.DataFrame, cells: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The equations of ``long`` (``eq``, ``cell``, ``sign``, ``tag``) that tie territory cells without
    secteur / tranche / sexe / pcs breakdown, and the published flags of ``cells``' positions (published
    level and champ). Positions beyond ``cells`` (age bands) are never part of the system."""
    return _system(long, cells, _breakdowns(cells) == 0, TAGS)


def joint_system(long: pd.DataFrame, cells: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`territory_system` with the one-breakdown tables around it, as one system: besides the territory
    cells without breakdown, the cells of France, a région or a département with one secteur, tranche or sexe
    breakdown (famille and pcs totals), those of the EPCIs and atoms by sexe, size band or sector (an EPCI's women
    = Σ its atoms' women, and so on), and the equations between them — the 2-D tables région × breakdown
    and, per territory, breakdown × champ tree. A hidden cell of a 2-D table that is also a cell of its
    département's sector × champ table can be fixed by both together while each alone leaves it free (the
    audit checks the same families together: ``observatory.audit.joint``). The protection levels of the
    primary cells are proven on it too (:func:`observatory.secrecy.levels.repair_levels_territory`)."""
    n = _breakdowns(cells)
    one = (
        (n == 1)
        & cells.niveau.isin(("france", "region", "departement", *EPCI_LEVELS)).to_numpy()
        & (cells.famille == DEFAULTS["famille"]).to_numpy()
        & (cells.pcs == DEFAULTS["pcs"]).to_numpy()
    )
    return _system(long, cells, (n == 0) | one, JOINT_TAGS)


def _breakdowns(cells: pd.DataFrame) -> np.ndarray:
    """How many of secteur, tranche, sexe, pcs each cell breaks down (the famille crossings apart: they are
    territory cells)."""
    dims = ("secteur", "tranche", "sexe", "pcs")
    return sum((cells[d] != DEFAULTS[d]).to_numpy().astype(np.int64) for d in dims)


def _system(long: pd.DataFrame, cells: pd.DataFrame, member: np.ndarray, tags: str):
    """The equations of ``long`` whose cells are all territory-level ``member`` cells and whose tag matches
    ``tags``, and the published flags of ``cells``' positions (members at a published level and champ)."""
    member = member & cells.niveau.isin(LEVELS).to_numpy()
    published = (
        member & cells.niveau.isin(PUBLISHED_LEVELS).to_numpy() & cells.champ.isin(CHAMPS_PUBLIES).to_numpy()
    )
    cell = long.cell.to_numpy()
    inside = np.zeros(len(cell), bool)
    ok = cell < len(cells)
    inside[ok] = member[cell[ok]]
    all_inside = pd.Series(inside).groupby(long["eq"].to_numpy()).transform("all").to_numpy()
    tagged = long.tag.str.match(tags).to_numpy()
    return long[all_inside & tagged].reset_index(drop=True), published


def fixed_cells(system: pd.DataFrame, unknown: np.ndarray, watch: np.ndarray, seed: int = 0) -> np.ndarray:
    """Positions of the ``watch`` cells among the ``unknown`` ones that the equations of ``system`` fix
    (module docstring); the other cells of the equations are known constants."""
    from scipy import sparse
    from scipy.sparse.linalg import lsqr

    cell = system.cell.to_numpy()
    u = unknown[cell]
    if not (u & watch[cell]).any():
        return np.array([], dtype=np.int64)
    cols, col = np.unique(cell[u], return_inverse=True)
    rows, row = np.unique(system["eq"].to_numpy()[u], return_inverse=True)
    at = sparse.csr_matrix(
        (system.sign.to_numpy()[u], (col, row)), shape=(len(cols), len(rows)), dtype="float64"
    )
    # each equation scaled to unit norm: the same row space (so the same projection), but LSQR converges in
    # about 3.4 times fewer iterations (the national sums hold hundreds of cells, most equations a few)
    at = (at @ sparse.diags(1 / np.sqrt(np.asarray(at.multiply(at).sum(axis=0)).ravel()))).tocsr()
    rng = np.random.default_rng(seed)
    moves = np.zeros(len(cols))
    watched = watch[cols]
    with _one_blas_thread():
        for _ in range(PROBES):
            r = rng.standard_normal(len(cols))
            y = lsqr(at, r, atol=1e-14, btol=1e-14, iter_lim=20 * (len(cols) + len(rows)))[0]
            moves = np.maximum(moves, np.abs(r - at @ y))
            # a probe can only show cells free (moves only grow): once every watched cell has moved, the
            # next probes would change nothing (most often the last round, which proves the system)
            if not (watched & (moves < FIXED_TOL)).any():
                break
    fixed = cols[moves < FIXED_TOL]
    return fixed[watch[fixed]]


def repair_chains(
    system: pd.DataFrame,
    published: np.ndarray,
    hidden: np.ndarray,
    primary: np.ndarray,
    zero: np.ndarray,
    order: np.ndarray,
    tier: np.ndarray | None = None,
    name: str = "territory relations",
    tried: dict | None = None,
) -> int:
    """One round: the watched cells fixed by ``system``, and for each a published cell hidden (``hidden``
    in place); returns the cells added (0: the system is proven). ``primary``: the cells hidden by a
    primary rule (watched wherever they are); ``zero``: cells known to be 0 — structural zeros and empty
    cells (constants, never unknowns: on the true values every unknown is then positive). ``name``: the
    system's, for the log and the error. ``tried`` (kept by the caller across rounds): how many rounds each
    cell was already found fixed; a cell found again gets its 2, 4, 8… cheapest candidates hidden, not one
    (deep in a hidden region, one complement at a time took a round each: 1 s on the sample, 3 s at France),
    the extra ones never a headline total (tier ≥ ``TOTAL_TIER``)."""
    if not len(system):
        return 0
    n = len(published)
    unknown = (hidden[:n] | ~published) & ~zero[:n]
    watch = hidden[:n] & (published | primary[:n]) & ~zero[:n]
    fixed = fixed_cells(system, unknown, watch)
    if not len(fixed):
        return 0
    free = published & ~hidden[:n] & ~zero[:n]
    # a headline total is taken only when no cheaper cell is found a few equations further
    cheap = None if tier is None else tier[:n] < TOTAL_TIER
    # complements are searched along the local equations first: the national ones (France = Σ régions,
    # Σ EPCIs) hold every territory, where the cheapest cell is anywhere and most often frees nothing here;
    # they are searched only when nothing local is left (e.g. a one-département région hidden whole)
    local = system[~system.tag.isin(NATIONAL_TAGS).to_numpy()]
    graphs = [_graph(local), None]  # the whole system's graph: built only if some target needs it
    picks = set()
    for target in fixed.tolist():
        cands = []
        for i in range(len(graphs)):
            if graphs[i] is None:
                graphs[i] = _graph(system)
            cands = _nearest(target, *graphs[i], free, unknown, cheap)
            if cands:
                break
        if not cands:
            raise SecrecyError(
                f"secondary suppression: cell {target} is fixed by the {name} and no published cell near it is "
                "left to hide"
            )
        ranked = sorted(cands, key=lambda c: (order[c], c))
        k = 0 if tried is None else tried.get(target, 0)
        # the extra complements of a cell found again: never a headline total
        picks.update([ranked[0], *[c for c in ranked[1:] if cheap is None or cheap[c]][: 2**k - 1]])
        if tried is not None:
            tried[target] = k + 1
    hidden[sorted(picks)] = True
    log.info(
        "%s: %d watched cells fixed (%s), %d cells hidden (%s)",
        name,
        len(fixed),
        fixed[:10].tolist(),
        len(picks),
        sorted(picks)[:10],
    )
    return len(picks)


def _graph(system: pd.DataFrame) -> tuple[dict, dict]:
    """Cell → its equations, equation → its cells (each list in the system's row order)."""
    eq, cell = system["eq"].to_numpy(), system.cell.to_numpy()
    return _lists(cell, eq), _lists(eq, cell)


def _lists(keys: np.ndarray, values: np.ndarray) -> dict:
    """``{key: [values of its rows]}`` (rows in their order), with one sort instead of a Python group-by."""
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    flat, ends = values[order].tolist(), [*starts[1:].tolist(), len(order)]
    # slices of one list: 0.45 s for a million rows of 300 000 keys, against 0.77 s with ``np.split`` and a
    # ``tolist`` per key
    return dict(zip(uniq.tolist(), (flat[a:b] for a, b in zip(starts.tolist(), ends)), strict=True))


def _nearest(
    target: int, eqs_of: dict, cells_of: dict, free: np.ndarray, unknown: np.ndarray, cheap=None
) -> list:
    """The ``free`` cells nearest ``target``: in the equations holding it, else in those of the unknown
    cells of these, and so on (breadth first, at most ``SEARCH_HOPS`` equations away). With ``cheap``, the
    search goes on while every cell found is a headline total (not ``cheap``): e.g. an EPCI fixed as its
    département minus the other EPCIs has the département's public total two equations away and the other
    EPCIs three; all the cells found are returned, the caller picks the first in the complement order."""
    frontier, seen, found = {target}, {target}, []
    for _ in range(SEARCH_HOPS):
        around = {c for a in frontier for e in eqs_of.get(a, []) for c in cells_of[e]} - seen
        found += [c for c in around if free[c]]
        if not around or (found and (cheap is None or any(cheap[c] for c in found))):
            return found
        seen |= around
        frontier = {c for c in around if unknown[c]}
    return found
