"""The additive equations between the cells of the indicator table (what the closure and repair read)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError
from observatory.reference.geography import ATOM_LEVEL, UNKNOWN, split_atom
from observatory.secrecy.rules import DEFAULTS, KEY

# ------------------------------------------------------------------------------ equation closure
#
# The published cells are tied by additive equations: a parent cell is the sum of its children along one
# dimension (territory, champ, famille, secteur, tranche, sexe, pcs), the other coordinates fixed. A hidden
# cell alone among the hidden cells of one equation is recomputed by subtraction. The closure hides, in every
# equation holding exactly one hidden cell, the smallest other cell (positive value first, then by value,
# ties by key order), all such equations at once, and repeats until no equation holds exactly one hidden
# cell (a fixed point: only cells are added, so it ends). Deterministic: no solver, no time limit.

_GEO_EDGES = (  # child niveau -> (parent niveau, equation tag)
    ("departement", "region", "geo_region"),
    ("region", "france", "geo_france"),
    ("_geo_inconnu", "france", "geo_france"),
    ("epci", "france", "geo_epci"),
    ("_epci_inconnu", "france", "geo_epci"),
)
_CHAMP_EDGES = (  # child champ -> (parent champ, equation tag), on cells without the famille crossing
    ("public", "ensemble", "ch_ensemble"),
    ("prive", "ensemble", "ch_ensemble"),
    ("ess", "prive", "ch_prive"),
    ("prive_hors_ess", "prive", "ch_prive"),
    ("_sce", "prive_hors_ess", "ch_phe"),
    ("_oth", "prive_hors_ess", "ch_phe"),
    ("ess", "ess_loi_2014", "ch_loi"),
    ("_sce", "ess_loi_2014", "ch_loi"),
)
_FLAT = ("secteur", "tranche", "sexe", "pcs")


def _universe(cells: pd.DataFrame, nature: str) -> np.ndarray:
    """Cells taking part in the equations of a nature (published, or derivable from published cells).

    Establishment counts are published without the sexe / pcs breakdown only (and are not additive over
    it). The EPCIs, published for the champ and famille crossings and the ESS by sexe, size band and sector, have
    no other cell: ``ind.cellules`` computes none (``sql/indicators/cellules.sql``: ``croisement_du_niveau``).
    """
    ok = np.ones(len(cells), bool)
    if nature == "comptage":
        ok &= (cells.sexe == "tous").to_numpy() & (cells.pcs == "toutes").to_numpy()
    return ok


def equations(cells: pd.DataFrame, region_of: dict) -> pd.DataFrame:
    """Long table ``(eq, cell)`` of the additive equations between ``cells`` (row positions).

    Each equation is one parent cell and its children along one dimension; a child missing from ``cells``
    is an empty cell (0). Edges are only drawn to a parent that exists (was computed).
    """
    c = cells[KEY].reset_index(drop=True)
    # every coordinate as its position among that column's values, a cell's key as one integer: parents are
    # looked up in an integer index (a parent with a coordinate that no cell has does not exist)
    codes, values = {}, {}
    for k in KEY:
        codes[k], uniques = pd.factorize(c[k].to_numpy(), use_na_sentinel=False)
        values[k] = pd.Index(uniques)
    sizes = [len(values[k]) for k in KEY]
    if math.prod(sizes) >= 2**62:
        raise SecrecyError(f"secrecy equations: too many distinct coordinates for an integer key ({sizes})")
    pos = pd.Index(_mixed_radix([codes[k] for k in KEY], sizes))

    def code_of(k: str, v) -> int:
        return int(values[k].get_indexer([v])[0])

    edges = []

    def link(child_mask, tag: str, **parent):
        """Edges from the cells of ``child_mask`` to the cell with the coordinates ``parent`` changed
        (an integer code for all, or one per cell)."""
        idx = np.flatnonzero(child_mask)
        if not len(idx):
            return
        cols, absent = [], np.zeros(len(idx), bool)
        for k in KEY:
            col = parent.get(k, codes[k])
            col = np.full(len(idx), col, np.int64) if np.isscalar(col) else col[idx]
            absent |= col < 0
            cols.append(np.maximum(col, 0))
        par = np.where(absent, -1, pos.get_indexer(_mixed_radix(cols, sizes)))
        keep = par >= 0
        edges.append(pd.DataFrame({"child": idx[keep], "parent": par[keep].astype(np.int64), "tag": tag}))

    for child, par, tag in _GEO_EDGES:
        m = codes["niveau"] == code_of("niveau", child)
        if par == "region":
            code = values["code"].get_indexer(c.code.map(region_of).to_numpy())
        else:
            code = code_of("code", "FR")
        link(m, tag, niveau=code_of("niveau", par), code=code)
    _link_atoms(c, codes, code_of, values, link)
    toutes = codes["famille"] == code_of("famille", "toutes")
    champ = codes["champ"]
    for child, par, tag in _CHAMP_EDGES:
        link((champ == code_of("champ", child)) & toutes, tag, champ=code_of("champ", par))
    # famille crossing: ess_loi_2014 × f is ess × f (f an ESS family), ess_loi_2014 × sociétés commerciales
    # is _sce (the same establishments): one-child equations, both hidden or both known.
    loi = code_of("champ", "ess_loi_2014")
    link((champ == code_of("champ", "ess")) & ~toutes, "ch_loi", champ=loi)
    link(
        (champ == code_of("champ", "_sce")) & toutes,
        "ch_loi",
        champ=loi,
        famille=code_of("famille", "societe_commerciale_ess"),
    )
    link(~toutes, "famille", famille=code_of("famille", "toutes"))
    for dim in _FLAT:
        default = code_of(dim, DEFAULTS[dim])
        link(codes[dim] != default, dim, **{dim: default})
    e = pd.concat(edges, ignore_index=True)
    e["eq"] = e.groupby(["parent", "tag"], sort=True).ngroup()
    heads = e.drop_duplicates("eq")[["eq", "parent", "tag"]].rename(columns={"parent": "cell"})
    long = pd.concat(
        [
            heads.assign(sign=-1.0),
            e[["eq", "child", "tag"]].rename(columns={"child": "cell"}).assign(sign=1.0),
        ]
    )
    return long.sort_values(["eq", "cell"], kind="stable").reset_index(drop=True)


def _link_atoms(c: pd.DataFrame, codes: dict, code_of, values: dict, link) -> None:
    """Edges from each geographic atom (``observatory.reference.geography``) to its département and to its
    EPCI (``_geo_inconnu`` / ``_epci_inconnu`` for an unknown part): a département is the sum of its atoms,
    an EPCI too, so an EPCI tied to its départements is protected like a département tied to its région."""
    atom = codes["niveau"] == code_of("niveau", ATOM_LEVEL)
    if not atom.any():
        return
    parts = [split_atom(x) if a else (UNKNOWN, UNKNOWN) for x, a in zip(c.code.to_numpy(), atom, strict=True)]
    for i, (known, unknown, tag) in enumerate(
        (("departement", "_geo_inconnu", "geo_atom_dep"), ("epci", "_epci_inconnu", "geo_atom_epci"))
    ):
        part = np.array([p[i] for p in parts], dtype=object)
        niveau = np.where(part == UNKNOWN, code_of("niveau", unknown), code_of("niveau", known)).astype(
            np.int64
        )
        code = values["code"].get_indexer(part).astype(np.int64)
        link(atom, tag, niveau=niveau, code=code)


def check_equations(long: pd.DataFrame, value: np.ndarray, what: str) -> None:
    """Every equation must hold on ``value`` (an additive quantity): otherwise the system is wrong."""
    r = long.sign.to_numpy() * value[long.cell.to_numpy()]
    gap = pd.Series(r).groupby(long["eq"].to_numpy()).sum().abs()
    if (gap > 1e-6).any():
        eq = gap.idxmax()
        raise SecrecyError(f"secrecy equation {eq} does not add up on {what} (gap {gap.max():g})")


def _mixed_radix(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 key from integer codes (each in ``0 .. size-1``), the first column most significant."""
    key = np.zeros(len(columns[0]) if columns else 0, np.int64)
    for col, size in zip(columns, sizes, strict=True):
        key = key * size + col
    return key


def _inside(long: pd.DataFrame, universe: np.ndarray) -> pd.DataFrame:
    """The equations of ``long`` whose cells all lie in ``universe``."""
    ok = pd.Series(universe[long.cell.to_numpy()]).groupby(long["eq"].to_numpy()).transform("all")
    return long[ok.to_numpy()]
