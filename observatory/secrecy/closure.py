"""Complement order and the equation closure (step 2 of the protection)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError
from observatory.secrecy.equations import _FLAT
from observatory.secrecy.rules import DEFAULTS

#: Importance tier from which a cell is a territory's champ total (a département's public total and above:
#: :func:`importance`): hidden only when no cheaper cell is near (``chains.repair_chains``), and its tier shared
#: by its twin (:func:`same_figure_tiers`). Not the look-ahead's ``repair.HEADLINE_TIER`` (7: the headline
#: totals themselves).
TOTAL_TIER = 4


def importance(cells: pd.DataFrame) -> np.ndarray:
    """Importance tier of each cell (0 = hidden first as a complement … 8 = hidden last).

    Secondary suppression must protect thin cells by hiding other thin cells, not the figures every
    publication leads with: the champ totals of a territory. Tiers, from the cheapest complement:

    0. cells never published (internal champs ``_sce`` / ``_oth``, territories ``_geo_inconnu`` /
       ``_epci_inconnu``, the pcs ``autres``);
    1. crossings of two breakdowns (sexe × pcs, famille × sexe, secteur × sexe);
    2. one breakdown (famille, secteur, tranche, sexe, pcs), and EPCI cells (2.5: an EPCI's total
       employment, the denominator of its ESS share);
    3. the ESS loi 2014 total of a territory (a secondary product);
    4. the public total of a département, then 5. its ensemble total, then 6. its privé total — in that
       order so that a hidden public cell is paired with ensemble (then, across départements, with
       another public cell), not with privé, which would pull in the ESS or privé hors ESS total;
    7. the ESS and privé hors ESS totals of a département, the public / privé / ensemble totals of a région
       and of France;
    8. the ESS and privé hors ESS totals of a région and of France.

    Within the breakdown tiers 1 and 2, an ess_loi_2014 cell comes half a tier earlier and a région's or
    France's cell a quarter of a tier later (the tiers are ordered numbers, not labels). Within a tier the
    smallest cell goes first (:func:`_order`).
    """
    n_dims = np.zeros(len(cells), np.int64)
    for dim in ("famille", *_FLAT):
        n_dims += (cells[dim] != DEFAULTS[dim]).to_numpy()
    niveau = cells.niveau.to_numpy()
    champ = cells.champ.to_numpy()
    head = np.isin(champ, ["ess", "prive_hors_ess"])
    top = np.isin(niveau, ["region", "france"])
    dep_rank = np.select([champ == "public", champ == "ensemble"], [4, 5], default=6)
    total = np.select([head & top, head | top], [8, 7], default=dep_rank)
    total = np.where(champ == "ess_loi_2014", 3, total)
    tier = np.select([n_dims >= 2, n_dims == 1], [1, 2], default=total)
    # an EPCI's cells come before the départements' (tier 2), its total employment (the denominator of its
    # ESS share) last among them
    epci = np.isin(niveau, ["epci"])
    epci_total = epci & (n_dims == 0) & (champ == "ensemble")
    tier = np.where(epci, np.where(epci_total, 2.5, np.minimum(tier, 2)), tier).astype(float)
    # Within the breakdown tiers: the legal perimeter's cells first (ess_loi_2014 = ess + sociétés
    # commerciales, so a thin sociétés commerciales cell is paired with its ess_loi_2014 cell, not with the
    # ESS one), and a région's or France's cell after its départements'.
    breakdown = n_dims >= 1
    tier = np.where(breakdown & (champ == "ess_loi_2014"), tier - 0.5, tier)
    tier = np.where(breakdown & top, tier + 0.25, tier)
    internal = (
        pd.Series(champ).str.startswith("_").to_numpy() | pd.Series(niveau).str.startswith("_").to_numpy()
    )
    internal |= (cells.pcs == "autres").to_numpy()
    return np.where(internal, 0.0, tier)


def structural_zeros(long: pd.DataFrame, zero: np.ndarray) -> np.ndarray:
    """Extend cells known to be 0 by definition to every parent all of whose children are (fixed point).

    Jobs at 31/12 in size band ``0`` are 0 by definition; a cell whose establishments are all in band
    ``0`` (an ESS made of one establishment with nobody at 31/12, and its région when the région has one
    département) is then 0 by definition too, and so are the parts of such a total (its families, sexes…).
    No suppression can hide that headcount — it follows from which cells exist — so it is treated like
    band ``0``: its secret protects ETP and pay, not jobs.
    """
    zero = zero.copy()
    if not len(long):
        return zero
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    child = long.sign.to_numpy() > 0
    n_eq = int(eq.max()) + 1
    head = np.full(n_eq, -1, np.int64)
    head[eq[~child]] = cell[~child]
    n_children = np.bincount(eq[child], minlength=n_eq)
    while True:
        n_zero = np.bincount(eq[child], weights=zero[cell[child]], minlength=n_eq)
        up = (n_children > 0) & (n_zero == n_children) & (head >= 0)
        up &= ~zero[np.maximum(head, 0)]
        # and the parts of a total that is 0 by definition are 0 (headcounts are not negative)
        down = child & (head[eq] >= 0) & zero[np.maximum(head[eq], 0)] & ~zero[cell]
        if not up.any() and not down.any():
            return zero
        zero[head[up]] = True
        zero[cell[down]] = True


def _order(cost: np.ndarray, tier: np.ndarray | None = None) -> np.ndarray:
    """Complement preference: lowest importance tier first, then positive cost first, then by cost, then
    by key order (cell position)."""
    tier = np.zeros(len(cost), np.int64) if tier is None else tier
    rank = np.lexsort((np.arange(len(cost)), cost, cost <= 0, tier))
    order = np.empty(len(cost), np.int64)
    order[rank] = np.arange(len(cost))
    return order


def _close(
    long: pd.DataFrame,
    hidden: np.ndarray,
    cost: np.ndarray,
    zero: np.ndarray,
    tier: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Fixed point of the closure (section comment); returns the hidden flags and the number of rounds.

    ``zero`` marks cells known to be 0 for one published quantity (jobs at 31/12 in size band ``0``): they
    protect the other quantities, not that one, so an equation with exactly one hidden cell outside
    ``zero`` gets a complement outside ``zero``.
    """
    hidden = hidden.copy()
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    n_eq = int(eq.max()) + 1 if len(eq) else 0
    order = _order(cost, tier)
    rounds = 0
    while True:
        h = hidden[cell]
        n_all = np.bincount(eq, weights=h, minlength=n_eq)
        n_nz = np.bincount(eq, weights=h & ~zero[cell], minlength=n_eq)
        need_nz = n_nz == 1
        # no cell outside ``zero`` left: that quantity is 0 by construction (nothing to protect in it)
        free_nz = np.bincount(eq, weights=~h & ~zero[cell], minlength=n_eq) > 0
        need_nz &= free_nz
        need = need_nz | (n_all == 1)
        if not need.any():
            return hidden, rounds
        rounds += 1
        cand = need[eq] & ~h & ~(need_nz[eq] & zero[cell])
        pick = pd.DataFrame({"eq": eq[cand], "cell": cell[cand], "o": order[cell[cand]]})
        pick = pick.sort_values(["eq", "o"], kind="stable").drop_duplicates("eq")
        stuck = np.setdiff1d(np.flatnonzero(need), pick["eq"].to_numpy())
        if len(stuck):
            members = cell[eq == stuck[0]]
            raise SecrecyError(
                f"secondary suppression: equation {stuck[0]} (cells {members[:6].tolist()}) holds one hidden "
                "cell and no cell left to hide"
            )
        hidden[pick.cell.to_numpy()] = True


def same_figure_tiers(long: pd.DataFrame, tier: np.ndarray) -> np.ndarray:
    """Cells that are one and the same figure — an equation of two cells, total = its only part — share an
    importance tier: hiding one hides the others. Through the geographic atoms (an EPCI or a département that
    is one atom) they take the highest tier among them, whatever it is; through any other relation only a
    headline total's tier (≥ :data:`TOTAL_TIER`: a département's, a région's or France's champ total) is
    shared — an ESS loi 2014 total that is the ESS total (no ESS commercial company there: the Bas-Rhin's
    ESS total went with its loi 2014 total, a cheap tier-3 complement). Sharing the lower tiers too (a family
    or a size band that holds all of its total) moved the complements onto the EPCIs' ESS totals at France
    (517 → 438 published)."""
    geo = long.tag.isin(["geo_atom_dep", "geo_atom_epci"]).to_numpy()
    tier = np.maximum(tier, _highest_among_twins(long[geo], tier))
    top = _highest_among_twins(long, tier)
    return np.where(top >= TOTAL_TIER, np.maximum(tier, top), tier)


def _highest_among_twins(long: pd.DataFrame, tier: np.ndarray) -> np.ndarray:
    """For each cell, the highest tier among the cells tied to it by equations of two cells."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    size = long.groupby("eq").cell.transform("size").to_numpy()
    pairs = long[size == 2].sort_values(["eq", "sign"], kind="stable")
    if not len(pairs):
        return tier
    a = pairs.cell.to_numpy()[0::2]
    b = pairs.cell.to_numpy()[1::2]
    n = len(tier)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return pd.Series(tier).groupby(label).transform("max").to_numpy()
