"""Independent audit of the territories on demand, and the attack it stands for.

Imports nothing from the protection (:mod:`observatory.territories.protect`). What an attacker holds is
every published file: the indicator table (France, régions, départements, EPCIs) and the cells of every
territory published so far (``territoires/<slug>/indicateurs.parquet``), plus the public COG (which
commune lies in which territory). From them the attacker writes, per nature (establishment counts, jobs at
31/12, part-time jobs), one unknown per *atom* × *leaf* — an atom being the set of communes that the same published
territories hold (a département ∩ EPCI piece, cut again by each territory on demand), a leaf an ESS family,
the sociétés commerciales de l'ESS, the other private employers or the public employers, each split by
sex (women, men) — non-negative, and one equation per published cell: every champ and family, and every
cell by sex of a champ or family (the jobs at 31/12 of the women and men of France, régions, départements,
EPCIs and territories); the part-time jobs (nature ``temps_partiel``) are read from their published rates,
each rate times its published jobs at 31/12, within the rate's rounding (a range, not an equation:
:data:`RATES`). The ESS by sector and by size band (published at every level) has unknowns of its
own, atom × sector and atom × band, tied to the atom's ESS by one equation each (Σ sectors = Σ ESS leaves
and sexes of the atom; likewise the bands): no cell the audit reads crosses a sector with a family, a sex or
a band, so these margins of the atom's ESS are all it needs (an atom's sectors, bands and families × sexes
with the same total always have a table of non-negative counts behind them). The crossings it does not read
(the ESS by sector and sex of a département or a région, every employer by sector…) are left out: a
relaxation, as the régions no new territory touches (and the territories on demand that lie there only). A sector no
published cell names is one unknown ``_autre`` per atom. For every hidden primary cell of a territory
touched by the new ones, two LPs (HiGHS) give the smallest and largest value compatible with everything
published.

:func:`attack` is that computation from published files only. :func:`audit` adds the microdata: it
recomputes the primary rules (its own code) to know which hidden cells are primary and their true values,
and fails when a hidden primary cell is determined, or its interval is narrower than its protection level
(10 % of its value on each side for a frequency cell; for a dominance cell, up to the value at which the
largest contributor falls to 85 %) while it was not before the territories were published. The pieces that
differencing opens (a published territory minus a new one, and the reverse) are held to the same rules: a
piece that breaks a primary rule is a primary cell nobody publishes, and its jobs at 31/12 and part-time jobs
must keep their protection interval; its count of establishments must not be determined (the annual audit's
rule for counts: :mod:`observatory.audit.intervals` bounds the headcounts). The report names the cells
(:attr:`TerritoryAudit.failing_cells`) so that a request can widen them before hiding a whole nature.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from observatory import config, lp

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
ALL_SECTORS, ALL_BANDS = "tous", "toutes"
OTHER = "_autre"
"""The sectors (bands) no published cell names: one unknown per atom, so that the atom's sectors add up."""
BROKEN = ("ess", "toutes")
"""The cell the table breaks down by sector and by size band."""
INDICATEURS = {
    "comptage": "etablissements_employeurs",
    "montant": "effectif_31_12",
    "temps_partiel": "taux_temps_partiel",
}
"""The indicator each nature's cells are read from: the part-time jobs from their rate (see :data:`RATES`)."""
RATES = {"temps_partiel": "effectif_31_12"}
"""Natures published as a rate of another indicator, in percent: the attacker reads the count as the rate
times that indicator's published value, within the rate's rounding (:data:`RATE_UNIT`); a rate beside a hidden
value gives nothing; a cell without a rate row has no jobs at 31/12 (the table writes a rate where there are
some), so its count is 0. Each nature is its own LP: that the part-time jobs of a piece of the map are at most
its jobs at 31/12 is left out (a relaxation; the protection keeps a hidden cell's part-time count from being
derived, since it bounds the hidden jobs from below)."""
RATE_UNIT = 0.1
"""The publication unit of a rate, in percent (``reference/indicateurs.csv``: one decimal)."""
SAFETY = 0.10
TOL = 1e-6
SPREAD_ROUNDS = 4
"""Rounds of :func:`bounds` that move the targets still narrow together (two LPs each) before their own LPs."""
PRESOLVE_FROM = 1000
"""Equations from which the first LP of a system is solved with HiGHS's presolve (:class:`observatory.lp.Equations`)."""


@dataclass
class Cell:
    """A published or hidden cell: territory name, (champ, famille), statut, published value, sexe, sector
    and size band."""

    territoire: str
    champ: str
    famille: str
    statut: str
    valeur: float | None
    sexe: str = "tous"
    secteur: str = ALL_SECTORS
    tranche: str = ALL_BANDS
    room: float = 0.0
    """How far the true value may lie from ``valeur`` either way (a count read from a rounded rate)."""

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (self.territoire, self.champ, self.famille, self.sexe, self.secteur, self.tranche)


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
    """The cells of one nature of the published files (indicator table + territories on demand): every champ
    and family (of every sex), and the ESS by sector and by size band."""
    ind = INDICATEURS[nature]
    out = []
    frames = [table[table["niveau"].isin(["france", "region", "departement", "epci"])]]
    frames += [t.assign(niveau="territoire", code=slug) for slug, t in sorted(territories.items())]
    if nature in RATES:
        frames = [_counts_of_rates(df, ind, RATES[nature]) for df in frames]
    present: dict[str, set] = {}
    broken: dict[str, dict[str, set]] = {"secteur": {}, "tranche": {}}
    universe: dict[str, set] = {"secteur": {OTHER}, "tranche": {OTHER}}
    fields = ["niveau", "code", "champ", "famille", "sexe", "secteur", "tranche", "statut"]
    for df in frames:
        whole = (df["secteur"] == ALL_SECTORS) & (df["tranche"] == ALL_BANDS)
        # the ESS by sector or by size band; other crossings are not modelled (left out: a relaxation)
        ess = (df["champ"] == BROKEN[0]) & (df["famille"] == BROKEN[1]) & (df["sexe"] == "tous")
        one = (df["secteur"] == ALL_SECTORS) | (df["tranche"] == ALL_BANDS)
        rows = df[(df["indicateur"] == ind) & (df["sexe"].isin(["tous", *SEXES])) & (df["pcs"] == "toutes")
                  & (whole | (ess & one))]  # fmt: skip
        values = rows["valeur"].to_numpy(dtype=float)
        rooms = rows["room"].to_numpy(dtype=float) if "room" in rows.columns else np.zeros(len(rows))
        columns = [rows[c].to_numpy(dtype=object) for c in fields]
        for v, room, (niveau, code, champ, famille, sexe, secteur, tranche, statut) in zip(
            values.tolist(), rooms.tolist(), zip(*columns, strict=True), strict=True
        ):
            if (champ, famille) not in CELL_LEAVES:
                continue
            v = None if np.isnan(v) else v  # NaN: no value
            name = f"{niveau} {code}"
            if secteur == ALL_SECTORS and tranche == ALL_BANDS:
                out.append(Cell(name, champ, famille, str(statut), v, sexe, room=room))
                present.setdefault(name, set()).add((champ, famille, sexe))
                continue
            column, value = ("secteur", secteur) if secteur != ALL_SECTORS else ("tranche", tranche)
            out.append(Cell(name, *BROKEN, str(statut), v, **{column: value}, room=room))
            broken[column].setdefault(name, set()).add(value)
            universe[column].add(value)
    out += _empty_cells(present)
    for column, by_territory in broken.items():
        # a territory that publishes its ESS by sector lists the sectors it has: the others are zeros
        for name, codes in by_territory.items():
            zeros = sorted(universe[column] - codes)
            out += [Cell(name, *BROKEN, "publie", 0.0, **{column: c}) for c in zeros]
    return out


def _counts_of_rates(df: pd.DataFrame, rate: str, of: str) -> pd.DataFrame:
    """The rows of ``rate`` (in percent of ``of``) of one published frame as counts: ``valeur`` the rate times
    ``of``'s published value, ``room`` what the rate's rounding leaves (half a :data:`RATE_UNIT` of it), the
    ``statut`` the rate's, or secret where ``of`` is not published (the count is then unknown)."""
    keys = ["niveau", "code", "champ", "famille", "sexe", "secteur", "tranche", "pcs"]
    r = df[df["indicateur"] == rate]
    base = df.loc[df["indicateur"] == of, [*keys, "valeur", "statut"]]
    m = r.merge(base, on=keys, how="left", suffixes=("", "_of"))
    known = (m["statut"] == "publie") & (m["statut_of"] == "publie") & m["valeur_of"].notna()
    whole = m["valeur_of"].to_numpy(dtype=float)
    return m.assign(
        valeur=np.where(known, m["valeur"].to_numpy(dtype=float) * whole / 100, np.nan),
        room=np.where(known, RATE_UNIT / 2 * whole / 100, 0.0),
        statut=np.where(known | (m["statut"] != "publie"), m["statut"], "secret_secondaire"),
    )[[*df.columns.intersection([*keys, "indicateur", "statut"]), "valeur", "room"]]


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


@dataclass(frozen=True)
class Layout:
    """The unknowns of one atom: leaf × sex, then the ESS's sectors, then its size bands."""

    sectors: tuple[str, ...]
    bands: tuple[str, ...]

    @classmethod
    def of(cls, cells: list[Cell]) -> Layout:
        sectors = sorted({c.secteur for c in cells if c.secteur != ALL_SECTORS})
        bands = sorted({c.tranche for c in cells if c.tranche != ALL_BANDS})
        return cls(tuple(sectors), tuple(bands))

    @property
    def base(self) -> int:
        return len(LEAF_NAMES) * len(SEXES)

    @property
    def per_atom(self) -> int:
        return self.base + len(self.sectors) + len(self.bands)

    def offsets(self, cell: Cell) -> np.ndarray:
        """The unknowns of one atom that a cell adds up (offsets within the atom's block)."""
        if cell.secteur != ALL_SECTORS:
            return np.array([self.base + self.sectors.index(cell.secteur)])
        if cell.tranche != ALL_BANDS:
            return np.array([self.base + len(self.sectors) + self.bands.index(cell.tranche)])
        leaves = np.array([LEAF_NAMES.index(x) for x in CELL_LEAVES[(cell.champ, cell.famille)]])
        sexes = np.arange(len(SEXES)) if cell.sexe == "tous" else np.array([SEXES.index(cell.sexe)])
        return (leaves[:, None] * len(SEXES) + sexes[None, :]).ravel()

    def ties(self, n_atoms: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per atom, Σ its ESS's sectors − Σ its ESS leaves × sexes = 0, and the same for the bands."""
        ess = self.offsets(Cell("", *BROKEN, "", None))
        out = []
        for start, n in ((self.base, len(self.sectors)), (self.base + len(self.sectors), len(self.bands))):
            if not n:
                continue
            parts = np.arange(start, start + n)
            for a in range(n_atoms):
                cols = np.concatenate([a * self.per_atom + parts, a * self.per_atom + ess])
                out.append((cols, np.concatenate([np.ones(n), -np.ones(len(ess))])))
        return out


def _columns(geo: Geography, layout: Layout, cell: Cell) -> np.ndarray | None:
    """The unknowns a cell adds up, or None when its territory is not in the LP."""
    atoms = geo.territories.get(cell.territoire)
    if atoms is None:
        return None
    a = np.fromiter(sorted(atoms), dtype=np.int64, count=len(atoms))
    return (a[:, None] * layout.per_atom + layout.offsets(cell)[None, :]).ravel()


def bounds(
    geo: Geography, cells: list[Cell], targets: list[Cell], narrow=None, needs: dict | None = None
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

    ``needs`` (key → the interval ``(lo, up)`` a target must reach, for ``narrow``'s primary cells): before
    the targets' own LPs, every pending target is pushed up at once, each capped at its ``up`` (one LP: max
    Σ target / up under target ≤ up), then the targets left again, until a round gets none further; then
    down the same way. Each solution is a feasible point, so a target shown at its ``up`` there reaches it
    (as the annual audit's ``short_of_many``): a few LPs instead of two per target.
    """
    layout = Layout.of([*cells, *targets])
    pub = [(c, cols, None) for c in cells if c.statut == "publie" and c.valeur is not None
           if (cols := _columns(geo, layout, c)) is not None]  # fmt: skip
    ranged = [r for r in pub if r[0].room > 0]  # known within a range (a count read from a rounded rate)
    pub = [r for r in pub if r[0].room <= 0]
    ties = layout.ties(geo.n_atoms)
    rows = pub + [(None, cols, signs) for cols, signs in ties]
    tgt = [(t, cols, None) for t in targets if (cols := _columns(geo, layout, t)) is not None]
    n_var = geo.n_atoms * layout.per_atom
    # an unknown's pattern: the rows it appears in, with its sign (the ties subtract the ESS leaves)
    pattern: list[list] = [[] for _ in range(n_var)]
    for i, (_c, cols, signs) in enumerate(rows + tgt + ranged):
        if signs is None:
            for j in cols:
                pattern[j].append(i)
        else:
            for j, sg in zip(cols.tolist(), signs.tolist(), strict=True):
                pattern[j].append(i if sg > 0 else -1 - i)
    merged, index = {}, np.empty(n_var, dtype=np.int64)
    for j, pat in enumerate(pattern):
        index[j] = merged.setdefault(tuple(pat), len(merged))
    m = len(merged)

    def matrix(items) -> csr_matrix:
        rows_, cols_, vals = [], [], []
        for i, (_c, cs, signs) in enumerate(items):
            u, first = np.unique(index[cs], return_index=True)
            rows_.append(np.full(len(u), i))
            cols_.append(u)  # merged unknowns share their sign in every row: the first one's
            vals.append(np.ones(len(u)) if signs is None else signs[first])
        if not items:
            return csr_matrix((0, m))
        data = (np.concatenate(vals), (np.concatenate(rows_), np.concatenate(cols_)))
        return csr_matrix(data, shape=(len(items), m))

    a_eq = matrix(rows) if rows else None
    b_eq = np.array([0.0 if c is None else c.valeur for c, _, _ in rows]) if rows else None
    # a ranged cell: valeur − room ≤ Σ ≤ valeur + room (a hair wider: the product of two rounded figures)
    rng_rows = {
        "a_range": matrix(ranged),
        "range_lower": np.array([c.valeur - c.room for c, _, _ in ranged]) - TOL,
        "range_upper": np.array([c.valeur + c.room for c, _, _ in ranged]) + TOL,
    }
    size = (0 if a_eq is None else a_eq.shape[0]) + len(ranged)
    system = lp.Equations(a_eq, b_eq, m, presolve=size >= PRESOLVE_FROM, **rng_rows)
    objectives = matrix(tgt).toarray() if tgt else np.zeros((0, m))
    seen_lo, seen_hi = np.full(len(tgt), np.inf), np.full(len(tgt), -np.inf)
    if narrow is not None and len(tgt) > 2:
        # two points first, at the largest and the smallest sum of all the targets: many targets differ
        # between them enough to need no LP of their own (four random directions more, solved until
        # 8 December, cost more LPs than they spared: 120 of the 231 LPs of four requests at France)
        total = objectives.sum(axis=0)
        for sign in (1.0, -1.0):
            r = system.minimize(sign * total)
            if r.status == lp.OPTIMAL:
                at = objectives @ r.x
                seen_lo, seen_hi = np.minimum(seen_lo, at), np.maximum(seen_hi, at)
    for side in (1.0, -1.0) if needs and narrow is not None else ():
        level = np.array([needs.get(t.key, (np.nan, np.nan))[0 if side < 0 else 1] for t, _, _ in tgt])

        def short(seen_lo=seen_lo, seen_hi=seen_hi, level=level, side=side) -> np.ndarray:
            seen = seen_hi if side > 0 else seen_lo
            return ~np.isnan(level) & (side * seen < side * level - TOL)

        pending = np.flatnonzero(short())
        while len(pending) and (a_eq is not None or ranged):
            scale = np.maximum(np.abs(level[pending]), 1.0)
            caps = side * objectives[pending]  # side · target ≤ side · level
            push = lp.Equations(a_eq, b_eq, m, a_ub=caps, b_ub=side * level[pending], presolve=True, **rng_rows)
            r = push.minimize(-side * ((1.0 / scale) @ objectives[pending]))
            if r.status != lp.OPTIMAL:
                break
            at = objectives @ r.x
            seen_lo, seen_hi = np.minimum(seen_lo, at), np.maximum(seen_hi, at)
            left = np.flatnonzero(short(seen_lo, seen_hi))
            if len(left) == len(pending):
                break
            pending = left
    # then the targets still narrow over the points found (a piece that no point has moved yet, …) are spread
    # together: the least and the largest sum of them, again for those left, while a round moves some
    pending = [
        k for k, (t, _c, _s) in enumerate(tgt) if narrow is not None and narrow(t.key, seen_lo[k], seen_hi[k])
    ]
    for _round in range(SPREAD_ROUNDS if len(pending) > 2 else 0):
        total = objectives[pending].sum(axis=0)
        for sign in (1.0, -1.0):
            r = system.minimize(sign * total)
            if r.status == lp.OPTIMAL:
                at = objectives @ r.x
                seen_lo, seen_hi = np.minimum(seen_lo, at), np.maximum(seen_hi, at)
        left = [k for k in pending if narrow(tgt[k][0].key, seen_lo[k], seen_hi[k])]
        if len(left) == len(pending) or len(left) <= 2:
            break
        pending = left
    out, solved = {}, {}
    for k, ((t, _cols, _), v) in enumerate(zip(tgt, objectives, strict=True)):
        key = t.key
        if v.tobytes() in solved:  # the same unknowns as a target solved already (France = its one région)
            out[key] = solved[v.tobytes()]
            continue
        if narrow is not None and seen_lo[k] <= seen_hi[k] and not narrow(key, seen_lo[k], seen_hi[k]):
            out[key] = (float(seen_lo[k]), float(seen_hi[k]))
            continue
        res = []
        for sign in (1.0, -1.0):
            r = system.minimize(sign * v)
            res.append(sign * r.fun if r.status == lp.OPTIMAL else (np.inf if sign < 0 else 0.0))
            if r.status == lp.OPTIMAL and narrow is not None:  # a feasible point: every target's value there
                at = objectives @ r.x
                seen_lo, seen_hi = np.minimum(seen_lo, at), np.maximum(seen_hi, at)
        out[key] = solved[v.tobytes()] = (res[0], res[1])
    return out


def attack(
    table: pd.DataFrame,
    territories: dict[str, pd.DataFrame],
    custom: dict[str, tuple[str, ...]],
    communes: pd.DataFrame,
    touched: set[str] | None = None,
) -> dict[str, dict[tuple, tuple[float, float]]]:
    """From published files only: the interval of every hidden cell of the touched territories (all when
    ``touched`` is None), per nature. A hidden cell whose min equals its max has been recovered."""
    geo = geography(communes, custom, _neighbourhood(communes, custom, set(custom))[0])
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
    failing_cells: dict[str, set[tuple]] = field(default_factory=dict)
    """Per nature, the cell keys (``champ, famille, sexe, secteur, tranche``) of the problems: a hidden cell's
    or a piece's, whatever the territory (the new territory's cell of that key is where a repair looks)."""

    @property
    def passed(self) -> bool:
        return not self.problems


def _leaves_of(etabs: pd.DataFrame):
    """``(champ, famille, secteur, tranche) →`` the mask of the establishments in that cell's leaves, sector
    and size band, each computed once."""

    # each column as integer codes once (an Arrow column converted per cell cost 4 s at France)
    codes = {c: pd.factorize(etabs[c]) for c in ("feuille", "secteur", "tranche") if c in etabs.columns}

    def among(column: str, values) -> np.ndarray:
        ints, uniques = codes[column]
        where = uniques.get_indexer(list(values))
        return np.isin(ints, where[where >= 0])  # -1: a value absent (and the code of NULL)

    @functools.cache
    def leaves(champ: str, famille: str, secteur: str = ALL_SECTORS, tranche: str = ALL_BANDS) -> np.ndarray:
        out = among("feuille", CELL_LEAVES[(champ, famille)])
        if secteur != ALL_SECTORS:
            out = out & among("secteur", [secteur])
        if tranche != ALL_BANDS:
            out = out & among("tranche", [tranche])
        return out

    return leaves


def _quantities(etabs: pd.DataFrame, quantity: str = "effectif") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per sex (``tous``, ``F``, ``H``): each establishment's ``quantity`` (jobs at 31/12, part-time jobs…) and
    whether it counts in that sex's cells (every establishment for ``tous``; for a sex, those that employ
    someone of it), as arrays once."""
    out = {"tous": (etabs[quantity].to_numpy(dtype=float), np.ones(len(etabs), bool))}
    for sexe in SEXES:
        jobs = etabs[[f"{q}_{sexe}" for q in ("effectif", "etp", "masse", "n_salaries")]].to_numpy(dtype=float)
        out[sexe] = (etabs[f"{quantity}_{sexe}"].to_numpy(dtype=float), (jobs > 0).any(axis=1))
    return out


def _truth(
    quantities: dict, members: np.ndarray, leaves: np.ndarray, sexe: str = "tous"
) -> tuple[float, float, float, int]:
    """Establishments, total of the quantity, largest contributor and contributing establishments (a positive
    value) of the establishments in both masks; for a sex, its quantity (``effectif_F`` / ``effectif_H``…) and
    the establishments that employ someone of it (``quantities``: :func:`_quantities`)."""
    eff, counted = quantities[sexe]
    return _summary(eff[members & leaves & counted])


def _truth_at(
    quantities: dict, at: np.ndarray, leaves: np.ndarray, sexe: str = "tous"
) -> tuple[float, float, float, int]:
    """:func:`_truth` for the establishments at the positions ``at`` (a piece's: a few among millions)."""
    eff, counted = quantities[sexe]
    return _summary(eff[at[leaves[at] & counted[at]]])


def _summary(values: np.ndarray) -> tuple[float, float, float, int]:
    """Of the values of a cell's establishments: their number, sum, largest and how many are positive (a
    missing value, NaN, left out of the sum and the largest, as pandas does)."""
    n = len(values)
    largest = float(np.fmax.reduce(values)) if n else 0.0
    return (float(n), float(np.nansum(values)), 0.0 if np.isnan(largest) else largest, int(np.sum(values > 0)))


def _required(nature: str, value: float, largest: float) -> tuple[float, float]:
    """The protection interval a hidden primary cell needs: (lower bound ≤ ..., upper bound ≥ ...)."""
    if value <= 0:
        return (value, value)
    need_up = value * (1 + SAFETY)
    if nature != "comptage" and largest * 20 > value * 17:
        need_up = max(need_up, largest / 0.85)
    return (value * (1 - SAFETY), need_up)


def _narrow(nature: str, truth: dict, primary: set, key: tuple, lo: float, hi: float) -> bool:
    """The range [lo, hi] of the hidden cell ``key`` is narrower than its protection needs (``primary``: the
    keys of the primary cells; ``truth``: key → (value, largest contribution))."""
    value, largest = truth[key]
    if key in primary:
        need_lo, need_up = _required(nature, value, largest)
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
    regions, near = _neighbourhood(communes, custom_after, new)
    custom_after = {s: custom_after[s] for s in near}
    before = {s: f for s, f in before.items() if s in near}
    after = {s: f for s, f in after.items() if s in near}
    new_members = etabs["code_commune"].isin({c for s in new for c in custom_after[s]}).to_numpy()
    touched = {f"territoire {s}" for s in custom_after}
    touched.add("france FR")
    for col, niveau in (
        ("code_region", "region"),
        ("code_departement", "departement"),
        ("code_epci", "epci"),
    ):
        touched |= {f"{niveau} {c}" for c in etabs.loc[new_members, col].dropna().unique()}
    geo = geography(communes, custom_after, regions)
    pieces = _pieces(geo, new, touched)
    # the rows of the levels in the LP only (at France, 35 000 EPCI cells of other régions read for nothing)
    named = table["niveau"].astype(str) + " " + table["code"].astype(str)
    table = table[named.isin(geo.territories) & table["indicateur"].isin(INDICATEURS.values())]
    members_of = _members(etabs, custom_after)
    leaves = _leaves_of(etabs)
    jobs = _quantities(etabs)  # counts and jobs read the same: the establishments and their jobs at 31/12
    by_nature = {"comptage": jobs, "montant": jobs}
    by_nature.update({n: _quantities(etabs, n) for n in RATES})  # the part-time jobs of each establishment
    # each on its own system of equations; the LPs (nearly all of the time) let go of Python's lock, so the
    # natures go side by side on the cores allowed (the jobs at 31/12, the longest, first)
    order = sorted(INDICATEURS, key=lambda n: n != "montant")
    check = functools.partial(
        _check_nature, geo, table, before, after, touched, members_of, leaves, by_nature, pieces
    )
    with ThreadPoolExecutor(max_workers=max(1, min(config.workers(), len(order)))) as pool:
        found = dict(zip(order, pool.map(check, order), strict=True))
    for nature in INDICATEURS:  # the report in the natures' order, whatever ended first
        checked, problems = found[nature]
        report.checked += checked
        report.problems += [p for p, _key in problems]
        if problems:
            report.failing_natures.add(nature)
            report.failing_cells[nature] = {key for _p, key in problems}
    return report


def _pieces(geo: Geography, new: set[str], touched: set[str]) -> dict[str, tuple[str, str]]:
    """The pieces that differencing opens: for each new territory *T* and each published territory *P* it
    touches, *P − T* and *T − P* (their atoms; the empty ones left out), added to ``geo.territories`` under
    the names ``piece P − T``; returns ``{piece: (first, second, T)}`` (the first minus the second; *T* the
    new territory whose cells the piece is checked for)."""
    out = {}
    for slug in sorted(new):
        t = f"territoire {slug}"
        for p in sorted(touched - {t}):
            if p not in geo.territories or not geo.territories[p] & geo.territories[t]:
                continue
            for a, b in ((p, t), (t, p)):
                atoms = geo.territories[a] - geo.territories[b]
                if atoms:
                    name = f"piece {a} − {b}"
                    geo.territories[name] = atoms
                    out[name] = (a, b, t)
    return out


def _check_nature(
    geo, table, before, after, touched, members_of, leaves, by_nature, pieces, nature
) -> tuple[int, list]:
    """:func:`audit` for one nature: the hidden cells checked, and the problems found (each with its cell's
    key). The pieces (:func:`_pieces`) are checked too, for the cells the new territory publishes or hides: a
    piece that breaks a primary rule (never published) is held to its protection interval like a hidden
    primary cell — the classic differencing the protection guards against — but for the counts of
    establishments, which must only not be determined (a piece of one establishment is always bounded by 1)."""
    quantities = by_nature[nature]
    cells_after = published_cells(table, after, nature)
    cells_before = published_cells(table, before, nature)
    hidden = [c for c in cells_after if c.statut != "publie" and c.territoire in touched]
    keys_of: dict[str, set] = {}
    for c in cells_after:
        keys_of.setdefault(c.territoire, set()).add(c.key[1:])
    candidates = [
        Cell(name, champ, famille, "piece", None, sexe, secteur, tranche)
        for name, (_a, _b, t) in pieces.items()
        for champ, famille, sexe, secteur, tranche in sorted(keys_of.get(t, ()))
    ]
    # a cell is primary when the audit's own rules say so (not the statut the protection wrote)
    primary, truth = [], {}
    inside = {}  # each piece's establishments (positions), once: its cells are taken among them only
    for c in [*hidden, *candidates]:
        where = leaves(c.champ, c.famille, c.secteur, c.tranche)
        if c.statut == "piece":
            if c.territoire not in inside:
                a, b, _t = pieces[c.territoire]
                inside[c.territoire] = np.flatnonzero(members_of(a) & ~members_of(b))
            n, eff, largest, contributing = _truth_at(quantities, inside[c.territoire], where, c.sexe)
        else:
            n, eff, largest, contributing = _truth(quantities, members_of(c.territoire), where, c.sexe)
        value = n if nature == "comptage" else eff
        truth[c.key] = (value, largest)
        if nature in RATES:  # INSEE's rules on the establishments with some of these jobs
            secret = 0 < contributing < 3 or (eff > 0 and largest * 20 > eff * 17)
        else:
            secret = (0 < n < 3) or (nature == "montant" and eff > 0 and largest * 20 > eff * 17)
        if secret:
            primary.append(c)
    hidden += [c for c in primary if c.statut == "piece"]  # the other pieces are no secret
    if nature == "comptage":  # a piece's count of establishments: its exact recovery only (see the docstring)
        primary = [c for c in primary if c.statut != "piece"]
    narrow = functools.partial(_narrow, nature, truth, {c.key for c in primary})
    needs = {c.key: _required(nature, *truth[c.key]) for c in primary}
    # a cell already shown wide enough by the points of other cells' LPs (an inner range) gets no LP
    b_after = bounds(geo, cells_after, hidden, narrow=narrow, needs=needs)
    suspects = [c for c in hidden if narrow(c.key, *b_after.get(c.key, (0.0, np.inf)))]
    b_before = bounds(geo, cells_before, suspects)  # the same cells, before the new territories
    problems = []
    for c in suspects:
        key = c.key
        lo, hi = b_after.get(key, (0.0, np.inf))
        was = b_before.get(key)
        if was is not None and (was[1] - was[0]) <= (hi - lo) + TOL:
            continue  # already as narrow before the new territories: not their doing
        detail = "".join(f"/{x}" for x in (c.sexe, c.secteur, c.tranche) if x not in ("tous", "toutes"))
        line = (
            f"{nature}: {c.territoire} {c.champ}/{c.famille}{detail} "
            f"({c.statut}) lies in [{lo:g}, {hi:g}] once the new territories are published"
        )
        problems.append((line, key[1:]))
    return len(hidden), problems


def _neighbourhood(
    communes: pd.DataFrame, custom: dict[str, tuple[str, ...]], new: set[str]
) -> tuple[set[str], set[str]]:
    """The régions the LP cuts into atoms and the territories on demand it reads, for the ``new`` ones: the
    régions of the new territories, with every territory on demand holding a commune there, and again the
    régions of those, to a fixed point. A territory elsewhere was audited when it was published, and the new
    cells reach it only through the régions' totals (France = Σ régions): it is left out, as the régions'
    insides are, so that the audit's size depends on the request's région and not on how many territories
    the registry holds."""
    region_of = communes.drop_duplicates("code_commune").set_index("code_commune")["code_region"]
    regions_of = {s: set(region_of.reindex(list(cs)).dropna()) for s, cs in custom.items()}
    near = set(new)
    regions = set().union(*(regions_of[s] for s in near))
    while True:
        more = {s for s, rs in regions_of.items() if s not in near and rs & regions}
        if not more:
            return regions, near
        near |= more
        regions = regions.union(*(regions_of[s] for s in more))


def _members(etabs: pd.DataFrame, custom: dict[str, tuple[str, ...]]):
    commune = etabs["code_commune"]
    # each level's codes as integers (one pass over the establishments; then one integer comparison each)
    cols = {
        n: pd.factorize(etabs[c], use_na_sentinel=True)
        for n, c in (("region", "code_region"), ("departement", "code_departement"), ("epci", "code_epci"))
    }

    # one mask per territory, asked for by every hidden cell of it (an isin over every establishment)
    @functools.cache
    def members(name: str) -> np.ndarray:
        niveau, code = name.split(" ", 1)
        if niveau == "france":
            return np.ones(len(etabs), bool)
        if niveau == "territoire":  # a hash lookup per establishment (np.isin sorts the object arrays)
            return commune.isin(set(custom[code])).to_numpy()
        ints, uniques = cols[niveau]
        where = uniques.get_indexer([code])[0]
        return ints == where if where >= 0 else np.zeros(len(ints), bool)

    return members
