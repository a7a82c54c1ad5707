"""Independent audit of the territories on demand, and the attack it stands for.

Imports nothing from the protection (:mod:`observatory.territories.protect`). What an attacker holds is
every published file: the indicator table (France, régions, départements, EPCIs) and the cells of every
territory published so far (``territoires/<slug>/indicateurs.parquet``), plus the public COG (which
commune lies in which territory). From them the attacker writes, per nature (establishment counts, jobs at
31/12), one unknown per *atom* × *leaf* — an atom being the set of communes that the same published
territories hold (a département ∩ EPCI piece, cut again by each territory on demand), a leaf an ESS family,
the sociétés commerciales de l'ESS, the other private employers or the public employers, each split by
sex (women, men) — non-negative, and one equation per published cell: every champ and family, and every
cell by sex of a champ or family (the jobs at 31/12 of the women and men of France, régions, départements,
EPCIs and territories). For every hidden primary cell of a territory touched by the new
ones, two LPs (HiGHS) give the smallest and largest value compatible with everything published.

:func:`attack` is that computation from published files only. :func:`audit` adds the microdata: it
recomputes the primary rules (its own code) to know which hidden cells are primary and their true values,
and fails when a hidden primary cell is determined, or its interval is narrower than its protection level
(10 % of its value on each side for a frequency cell; for a dominance cell, up to the value at which the
largest contributor falls to 85 %) while it was not before the territories were published.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

FAMILLES = ["association", "cooperative", "mutuelle", "fondation", "autre_obnl"]
LEAF_NAMES = [*FAMILLES, "_sce", "_oth", "public"]
CELL_LEAVES = {
    ("ensemble", "toutes"): LEAF_NAMES,
    ("public", "toutes"): ["public"],
    ("prive", "toutes"): [x for x in LEAF_NAMES if x != "public"],
    ("ess", "toutes"): FAMILLES,
    ("prive_hors_ess", "toutes"): ["_sce", "_oth"],
    ("ess_loi_2014", "toutes"): [*FAMILLES, "_sce"],
    **{("ess", f): [f] for f in FAMILLES},
    **{("ess_loi_2014", f): [f] for f in FAMILLES},
    ("ess_loi_2014", "societe_commerciale_ess"): ["_sce"],
}
SEXES = ("F", "H")
INDICATEURS = {"comptage": "etablissements_employeurs", "montant": "effectif_31_12"}
SAFETY = 0.10
TOL = 1e-6


@dataclass
class Cell:
    """A published or hidden cell: territory name, (champ, famille), statut, published value, sexe."""

    territoire: str
    champ: str
    famille: str
    statut: str
    valeur: float | None
    sexe: str = "tous"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.territoire, self.champ, self.famille, self.sexe)


@dataclass
class Geography:
    """Communes → the published territories holding them, as atoms."""

    atom_of_commune: dict[str, int]
    territories: dict[str, set[int]]  # territory name -> atoms
    n_atoms: int


def geography(
    communes: pd.DataFrame, custom: dict[str, tuple[str, ...]], regions: set[str] | None = None
) -> Geography:
    """Atoms from the COG communes (``code_commune``, ``code_departement``, ``code_region``, ``code_epci``)
    and the territories on demand (``{slug: communes}``); an extra atom holds what has no commune.

    With ``regions``, only those régions are cut into atoms; every other région is one atom, with its own
    cells as its only constraints (its départements' and EPCIs' cells are left out of the LP: a relaxation
    that keeps the LP small; the régions of every territory on demand must be in ``regions``).
    """
    com = communes[["code_commune", "code_departement", "code_region", "code_epci"]].copy()
    slugs = sorted(custom)
    inside = np.ones(len(com), bool) if regions is None else com["code_region"].isin(regions).to_numpy()
    dep = np.where(inside, com["code_departement"].fillna("?"), "R" + com["code_region"].fillna("?"))
    epci = np.where(inside, com["code_epci"].fillna("?"), "")
    sig = [pd.Series(dep, index=com.index), pd.Series(epci, index=com.index)]
    for s in slugs:
        sig.append(com["code_commune"].isin(set(custom[s])).map({True: "1", False: "0"}))
    key = pd.Series(["|".join(parts) for parts in zip(*sig, strict=True)], index=com.index)
    codes, uniques = pd.factorize(key, sort=True)
    atom_of = dict(zip(com["code_commune"], codes.tolist(), strict=True))
    n = len(uniques) + 1  # the last atom: establishments without a commune
    terr: dict[str, set[int]] = {"france FR": set(range(n))}
    atoms = pd.Series(codes, index=com.index)
    for col, niveau in (
        ("code_region", "region"),
        ("code_departement", "departement"),
        ("code_epci", "epci"),
    ):
        for code, idx in atoms.groupby(com[col].to_numpy()).groups.items():
            if niveau == "region" or inside[com.index.get_indexer(idx)].all():
                terr[f"{niveau} {code}"] = set(atoms[idx].tolist())
    for s in slugs:
        terr[f"territoire {s}"] = {atom_of[c] for c in custom[s] if c in atom_of}
    return Geography(atom_of, terr, n)


def published_cells(table: pd.DataFrame, territories: dict[str, pd.DataFrame], nature: str) -> list[Cell]:
    """The cells of one nature of the published files (indicator table + territories on demand)."""
    ind = INDICATEURS[nature]
    out = []
    frames = [table[table["niveau"].isin(["france", "region", "departement", "epci"])]]
    frames += [t.assign(niveau="territoire", code=slug) for slug, t in sorted(territories.items())]
    for df in frames:
        rows = df[
            (df["indicateur"] == ind)
            & (df["secteur"] == "tous")
            & (df["tranche"] == "toutes")
            & (df["sexe"].isin(["tous", *SEXES]))
            & (df["pcs"] == "toutes")
        ]
        present: dict[str, set] = {}
        for r in rows.itertuples(index=False):
            if (r.champ, r.famille) in CELL_LEAVES:
                v = None if pd.isna(r.valeur) else float(r.valeur)
                name = f"{r.niveau} {r.code}"
                out.append(Cell(name, r.champ, r.famille, str(r.statut), v, r.sexe))
                present.setdefault(name, set()).add((r.champ, r.famille, r.sexe))
        out += _empty_cells(present)
    return out


def _empty_cells(present: dict[str, set]) -> list[Cell]:
    """The cells a published territory leaves out, as the known zeros they are: the table writes a cell only
    where some establishment contributes, so a territory with rows but none for a champ or family (an EPCI
    without mutuelle), or with one sex of a champ but not the other, has none of it."""
    out = []
    for name, keys in present.items():
        for champ, famille in CELL_LEAVES:
            sexed = [s for s in SEXES if (champ, famille, s) in keys]
            missing = [] if (champ, famille, "tous") in keys else ["tous"]
            missing += [s for s in SEXES if sexed and s not in sexed]
            out += [Cell(name, champ, famille, "publie", 0.0, s) for s in missing]
    return out


def _columns(geo: Geography, cell: Cell) -> np.ndarray | None:
    """The unknowns (atom × leaf × sex) a cell adds up, or None when its territory is not in the LP."""
    atoms = geo.territories.get(cell.territoire)
    if atoms is None:
        return None
    k = len(LEAF_NAMES) * len(SEXES)
    leaves = np.array([LEAF_NAMES.index(x) for x in CELL_LEAVES[(cell.champ, cell.famille)]])
    sexes = np.arange(len(SEXES)) if cell.sexe == "tous" else np.array([SEXES.index(cell.sexe)])
    a = np.fromiter(sorted(atoms), dtype=np.int64, count=len(atoms))
    return (a[:, None, None] * k + leaves[None, :, None] * len(SEXES) + sexes[None, None, :]).ravel()


def bounds(
    geo: Geography, cells: list[Cell], targets: list[Cell], narrow=None
) -> dict[tuple, tuple[float, float]]:
    """Min and max of each target cell under every published cell of ``cells`` (x ≥ 0), by LP (HiGHS).

    Unknowns that sit in the same published cells and the same targets are merged first (exact: they only
    ever appear as their sum), which shrinks the LP to the pieces the published cells can tell apart.

    A target that adds up the same merged unknowns as one solved before (two names of one set: France and
    its only région, an EPCI and the département it fills) takes its min and max without an LP.

    ``narrow(key, lo, hi)``: with it, every LP solution is also read as a feasible point for all the targets;
    a target whose values over the points found so far (``lo`` ≥ its min, ``hi`` ≤ its max) are already not
    ``narrow`` gets no LP of its own, and that inner range is returned for it instead of its min and max (a
    wider true range cannot be narrow either).
    """
    pub = [(c, cols) for c in cells if c.statut == "publie" and c.valeur is not None
           if (cols := _columns(geo, c)) is not None]  # fmt: skip
    tgt = [(t, cols) for t in targets if (cols := _columns(geo, t)) is not None]
    n_var = geo.n_atoms * len(LEAF_NAMES) * len(SEXES)
    pattern: list[list[int]] = [[] for _ in range(n_var)]
    for i, (_c, cols) in enumerate(pub + tgt):
        for j in cols:
            pattern[j].append(i)
    merged, index = {}, np.empty(n_var, dtype=np.int64)
    for j, pat in enumerate(pattern):
        index[j] = merged.setdefault(tuple(pat), len(merged))
    m = len(merged)

    def matrix(items) -> csr_matrix:
        rows, cols = [], []
        for i, (_c, cs) in enumerate(items):
            u = np.unique(index[cs])
            rows += [i] * len(u)
            cols += u.tolist()
        return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(items), m))

    a_eq = matrix(pub) if pub else None
    b_eq = np.array([c.valeur for c, _ in pub]) if pub else None
    objectives = matrix(tgt).toarray() if tgt else np.zeros((0, m))
    seen_lo, seen_hi = np.full(len(tgt), np.inf), np.full(len(tgt), -np.inf)
    out, solved = {}, {}
    for k, ((t, _cols), v) in enumerate(zip(tgt, objectives, strict=True)):
        key = t.key
        if v.tobytes() in solved:  # the same unknowns as a target solved already (France = its one région)
            out[key] = solved[v.tobytes()]
            continue
        if narrow is not None and seen_lo[k] <= seen_hi[k] and not narrow(key, seen_lo[k], seen_hi[k]):
            out[key] = (float(seen_lo[k]), float(seen_hi[k]))
            continue
        res = []
        for sign in (1.0, -1.0):
            r = _solve(sign * v, a_eq, b_eq)
            res.append(sign * r.fun if r.status == 0 else (np.inf if sign < 0 else 0.0))
            if r.status == 0 and narrow is not None:  # a feasible point: every target's value there
                at = objectives @ r.x
                seen_lo, seen_hi = np.minimum(seen_lo, at), np.maximum(seen_hi, at)
        out[key] = solved[v.tobytes()] = (res[0], res[1])
    return out


def _solve(objective: np.ndarray, a_eq, b_eq):
    """``min objective · x`` under ``a_eq x = b_eq``, x ≥ 0, by HiGHS without its presolve (half the time on
    these small systems, same optimum), again with it should the solver not conclude."""
    problem = {"A_eq": a_eq, "b_eq": b_eq, "bounds": (0, None), "method": "highs"}
    r = linprog(objective, options={"presolve": False}, **problem)
    return r if r.status in (0, 2, 3) else linprog(objective, **problem)


def attack(
    table: pd.DataFrame,
    territories: dict[str, pd.DataFrame],
    custom: dict[str, tuple[str, ...]],
    communes: pd.DataFrame,
    touched: set[str] | None = None,
) -> dict[str, dict[tuple, tuple[float, float]]]:
    """From published files only: the interval of every hidden cell of the touched territories (all when
    ``touched`` is None), per nature. A hidden cell whose min equals its max has been recovered."""
    geo = geography(communes, custom, _regions_of(communes, custom))
    out = {}
    for nature in INDICATEURS:
        cells = published_cells(table, territories, nature)
        targets = [c for c in cells if c.statut != "publie" and (touched is None or c.territoire in touched)]
        out[nature] = bounds(geo, cells, targets)
    return out


# --------------------------------------------------------------------------------------------- audit
@dataclass
class TerritoryAudit:
    """What the audit found: the cells it checked and the problems (empty when it passed)."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    failing_natures: set[str] = field(default_factory=set)

    @property
    def passed(self) -> bool:
        return not self.problems


def _leaves_of(etabs: pd.DataFrame):
    """``(champ, famille) →`` the mask of the establishments in that cell's leaves, each computed once."""

    @functools.cache
    def leaves(champ: str, famille: str) -> np.ndarray:
        return etabs["feuille"].isin(CELL_LEAVES[(champ, famille)]).to_numpy()

    return leaves


def _truth(
    etabs: pd.DataFrame, members: np.ndarray, leaves: np.ndarray, sexe: str = "tous"
) -> tuple[float, float, float, int]:
    """Establishments, headcount, largest contributor and rows of the establishments in both masks; for a
    sex, its jobs (``effectif_F`` / ``effectif_H``) and the establishments that employ someone of it."""
    sub = etabs[members & leaves]
    if sexe != "tous":
        jobs = sub[[f"{q}_{sexe}" for q in ("effectif", "etp", "masse", "n_salaries")]]
        sub = sub[(jobs > 0).any(axis=1).to_numpy()]
    eff = sub["effectif" if sexe == "tous" else f"effectif_{sexe}"]
    return (float(len(sub)), float(eff.sum()), float(eff.max() if len(sub) else 0), len(sub))


def _required(nature: str, value: float, largest: float, n: int) -> tuple[float, float]:
    """The protection interval a hidden primary cell needs: (lower bound ≤ ..., upper bound ≥ ...)."""
    if value <= 0:
        return (value, value)
    need_up = value * (1 + SAFETY)
    if nature == "montant" and largest * 20 > value * 17:
        need_up = max(need_up, largest / 0.85)
    return (value * (1 - SAFETY), need_up)


def _narrow(nature: str, truth: dict, primary: set, key: tuple, lo: float, hi: float) -> bool:
    """The range [lo, hi] of the hidden cell ``key`` is narrower than its protection needs (``primary``: the
    keys of the primary cells; ``truth``: key → (value, largest contribution))."""
    value, largest = truth[key]
    if key in primary:
        need_lo, need_up = _required(nature, value, largest, 0)
        return hi < need_up - TOL or (value > 0 and lo > need_lo + TOL)
    return value > 0 and hi - lo < TOL


def audit(
    etabs: pd.DataFrame,
    table: pd.DataFrame,
    before: dict[str, pd.DataFrame],
    after: dict[str, pd.DataFrame],
    custom_before: dict[str, tuple[str, ...]],
    custom_after: dict[str, tuple[str, ...]],
    communes: pd.DataFrame,
) -> TerritoryAudit:
    """Check that publishing ``after`` (the territories on demand, new ones included) over ``before``
    leaves every hidden primary cell of the touched territories protected (see the module docstring)."""
    report = TerritoryAudit()
    new = set(custom_after) - set(custom_before)
    com_dep = etabs["code_commune"].to_numpy(dtype=object)
    new_members = np.isin(com_dep, [c for s in new for c in custom_after[s]])
    touched = {f"territoire {s}" for s in custom_after}
    touched.add("france FR")
    for col, niveau in (
        ("code_region", "region"),
        ("code_departement", "departement"),
        ("code_epci", "epci"),
    ):
        touched |= {f"{niveau} {c}" for c in etabs.loc[new_members, col].dropna().unique()}
    regions = _regions_of(communes, custom_after)
    geo = geography(communes, custom_after, regions)
    members_of = _members(etabs, custom_after)
    leaves = _leaves_of(etabs)
    for nature in INDICATEURS:
        cells_after = published_cells(table, after, nature)
        cells_before = published_cells(table, before, nature)
        hidden = [c for c in cells_after if c.statut != "publie" and c.territoire in touched]
        # a cell is primary when the audit's own rules say so (not the statut the protection wrote)
        primary, truth = [], {}
        for c in hidden:
            n, eff, largest, _ = _truth(etabs, members_of(c.territoire), leaves(c.champ, c.famille), c.sexe)
            value = n if nature == "comptage" else eff
            truth[c.key] = (value, largest)
            if (0 < n < 3) or (nature == "montant" and eff > 0 and largest * 20 > eff * 17):
                primary.append(c)
        narrow = functools.partial(_narrow, nature, truth, {c.key for c in primary})
        # a cell already shown wide enough by the points of other cells' LPs (an inner range) gets no LP
        b_after = bounds(geo, cells_after, hidden, narrow=narrow)
        report.checked += len(hidden)
        suspects = [c for c in hidden if narrow(c.key, *b_after.get(c.key, (0.0, np.inf)))]
        b_before = bounds(geo, cells_before, suspects)  # the same cells, before the new territories
        for c in suspects:
            key = c.key
            lo, hi = b_after.get(key, (0.0, np.inf))
            was = b_before.get(key)
            if was is not None and (was[1] - was[0]) <= (hi - lo) + TOL:
                continue  # already as narrow before the new territories: not their doing
            report.problems.append(
                f"{nature}: {c.territoire} {c.champ}/{c.famille}{'' if c.sexe == 'tous' else '/' + c.sexe} "
                f"({c.statut}) lies in [{lo:g}, {hi:g}] "
                f"once the new territories are published"
            )
            report.failing_natures.add(nature)
    return report


def _regions_of(communes: pd.DataFrame, custom: dict[str, tuple[str, ...]]) -> set[str]:
    """The régions holding a commune of some territory on demand (the part of France the LP cuts into atoms)."""
    codes = {c for cs in custom.values() for c in cs}
    return set(communes.loc[communes["code_commune"].isin(codes), "code_region"].dropna())


def _members(etabs: pd.DataFrame, custom: dict[str, tuple[str, ...]]):
    commune = etabs["code_commune"].to_numpy(dtype=object)
    cols = {
        n: etabs[c].to_numpy(dtype=object)
        for n, c in (("region", "code_region"), ("departement", "code_departement"), ("epci", "code_epci"))
    }

    # one mask per territory, asked for by every hidden cell of it (an isin over every establishment)
    @functools.cache
    def members(name: str) -> np.ndarray:
        niveau, code = name.split(" ", 1)
        if niveau == "france":
            return np.ones(len(etabs), bool)
        if niveau == "territoire":
            return np.isin(commune, list(custom[code]))
        return cols[niveau] == code

    return members
