"""The protection of the indicator table: primary flags, τ-Argus, closure and repair, written to ``ind.masque``."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from observatory import beside
from observatory.reference.indicateurs import half_unit
from observatory.secrecy.chains import joint_system, territory_system
from observatory.secrecy.closure import _close, importance, same_figure_tiers, structural_zeros
from observatory.secrecy.equations import _inside, _universe, check_equations, equations
from observatory.secrecy.levels import Quantity, protection_levels
from observatory.secrecy.repair import _protect_lookahead, _tables_2d
from observatory.secrecy.rules import (
    AGE_BAND_UNPUBLISHED,
    AGE_BANDS,
    DEFAULTS,
    KEY,
    PRIMAIRE,
    PUBLIE,
    SECONDAIRE,
    STATUTS,
    primary,
)
from observatory.secrecy.tauargus import TAUARGUS_RELEASE_TIER, TAUARGUS_TABLES, TableSpec, _run_table

log = logging.getLogger(__name__)


def protect_additive(
    cells: pd.DataFrame,
    hidden: np.ndarray,
    value: np.ndarray,
    known_zero: np.ndarray,
    region_of: dict,
    known: np.ndarray | None = None,
    levels: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Secondary suppression of one additive table of cells (``KEY`` columns), e.g. one baromètre quarter.

    The same machinery as the indicator table's magnitudes: the equations between the cells (territory,
    champ, famille, secteur), the closure in the :func:`importance` order with its look-ahead, and the exact
    2-D proof and repair of each région × breakdown table. ``hidden`` holds the cells to protect (primary
    secrets, and cells hidden by another product), ``known_zero`` cells known to be 0 without publication
    (outside the source's field), ``known`` cells whose value is public elsewhere (published with the same
    value by another product): hiding them protects nothing, so they are constants of the equations, never
    complements — and so is every cell they determine alone (:func:`known_cells`). ``levels``: the ``(up,
    down)`` protection levels of the primary cells (:func:`observatory.secrecy.levels.protection_levels`),
    reached in the 2-D tables as for the annual headcounts. Returns the hidden flags (a superset of
    ``hidden``); a ``known`` cell is never added.
    """
    cells = cells[KEY].reset_index(drop=True)
    long = equations(cells, region_of)
    if not len(long):
        return hidden.copy()
    check_equations(long, value, "value")
    zero = structural_zeros(long, known_zero)
    if known is not None and known.any():
        const = known_cells(long, (known & ~hidden) | zero, hidden)
        # a constant is no unknown of any equation: the closure counts and picks among the other cells only
        long = long[~const[long.cell.to_numpy()]]
        zero = zero | const
    tier = importance(cells)
    tables = list(_tables_2d(cells, region_of, "montant"))
    return _protect_lookahead(long, tables, hidden, value, zero, tier, value, levels=levels)[0]


def known_cells(long: pd.DataFrame, known: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """The constants of a table's protection: cells whose value is known without this table (``known``),
    extended to every published cell that an equation then fixes alone (all its other cells known), to a
    fixed point — such a cell is public whatever this table hides.

    A ``hidden`` cell is never made a constant: where the constants would leave a hidden cell alone in an
    equation, they are released (they become ordinary cells again, which the closure may hide), so that the
    table stays protected on its own; the cross-product audit reports such a cell.
    """
    blocked = hidden.copy()
    if not len(long):
        return known & ~blocked
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    n_eq = int(eq.max()) + 1
    while True:
        const = known & ~blocked
        trapped = np.array([], dtype=np.int64)
        while True:
            unknown = ~const[cell]
            alone = unknown & (np.bincount(eq, weights=unknown, minlength=n_eq)[eq] == 1)
            trapped = np.unique(eq[alone & hidden[cell]])
            grow = alone & ~blocked[cell]
            if len(trapped) or not grow.any():
                break
            const[cell[grow]] = True
        release = np.isin(eq, trapped) & const[cell]
        if not release.any():
            return const
        blocked[cell[release]] = True


def _band_system(cells: pd.DataFrame, region_of: dict, first_eq: int):
    """The age-band cells, as extra cells of the magnitude system (positions ``len(cells)`` onwards).

    Bands exist for the cells without famille / secteur / tranche / pcs breakdown (any sexe) of France, the
    régions, the départements and the unknown territory, every champ (internal ones included). Band ``b``
    of such a cell sits in the tranche slot (``tranche = b``), so :func:`equations` ties it to its cell
    (the bands add up to the cell's jobs at 31/12), to the same band across sexes, champs and territories.
    Returns the base cell positions, the equations (global positions, ids from ``first_eq``) and the
    band rows (band-major: extra position ``j·m + i`` is band ``j`` of base cell ``i``).
    """
    base = np.ones(len(cells), bool)
    for dim in ("famille", "secteur", "tranche", "pcs"):
        base &= (cells[dim] == DEFAULTS[dim]).to_numpy()
    base &= cells.niveau.isin(["france", "region", "departement", "_geo_inconnu"]).to_numpy()
    idx = np.flatnonzero(base)
    sub = cells.iloc[idx][KEY].reset_index(drop=True)
    frame = pd.concat([sub] + [sub.assign(tranche=b) for b in AGE_BANDS], ignore_index=True)
    glob = np.concatenate([idx, len(cells) + np.arange(len(idx) * len(AGE_BANDS))])
    long = equations(frame, region_of)
    long = long.assign(cell=glob[long.cell.to_numpy()], eq=long["eq"].to_numpy() + first_eq)
    return idx, long, frame.iloc[len(idx) :].reset_index(drop=True)


def secondary(
    cells: pd.DataFrame, prim: pd.DataFrame, esp: pd.DataFrame, workdir: Path, timings: dict | None = None
) -> pd.DataFrame:
    """Statut codes ``s_<nature>`` per cell: primary flags, τ-Argus on the core tables, then the closure."""
    timings = {} if timings is None else timings
    out = prim.copy()
    keys = list(zip(*(prim[k].tolist() for k in KEY), strict=True))
    pairs = esp[["code_departement", "code_region"]].dropna().drop_duplicates()
    region_of = dict(zip(pairs.code_departement, pairs.code_region))
    t0 = time.perf_counter()
    long_all = equations(cells, region_of)
    tier = same_figure_tiers(long_all, importance(cells))
    tier_of = dict(zip(keys, tier.tolist()))
    timings["equations"] = time.perf_counter() - t0
    natures = ("montant", "comptage")
    args = {n: (n, cells, prim, esp, long_all, tier, tier_of, keys, region_of, workdir) for n in natures}
    # the counts in a second process on a large table, while this one closes the magnitudes
    counts = beside.start(_nature_status, *args["comptage"], enabled=len(cells) >= BESIDE_MIN_CELLS)
    results = {"montant": _nature_status(*args["montant"]), "comptage": counts.result()}
    for nature in natures:
        columns, nature_timings = results[nature]
        timings.update(nature_timings)
        for name, value in columns.items():
            out[name] = value
    t0 = time.perf_counter()
    _secondary_counts(cells, prim, out, long_all, tier)
    timings["closure sub-populations, enterprises"] = time.perf_counter() - t0
    # the mean pay figures: the magnitudes' statut, and primary where too few establishments contribute to
    # their field. They are ratios of sums never published (pay and ETP of the pay field, hours), so hiding
    # one alone gives no sum away: no complement is needed
    out["s_salaire"] = np.where(prim["p_salaire"].to_numpy(), PRIMAIRE, out["s_montant"].to_numpy())
    return out


#: Below this many cells, both natures are closed in the caller's process: a second process (≈ 2 s to start,
#: the tables to send) pays only on a large table (France: 109 348 cells; the sample: 74 481, where the counts'
#: 6 s beside the magnitudes' 55 s took the protection from 63–65 s to 57 s; the micro-datasets: 4 243).
BESIDE_MIN_CELLS = 20_000


def _nature_status(nature, cells, prim, esp, long_all, tier, tier_of, keys, region_of, workdir) -> tuple:
    """One nature (``montant``, ``comptage``): τ-Argus on its core tables, then the closure with its
    protection levels; returns the statut columns it sets (``s_<nature>``, and the age bands' for
    ``montant``) and its timings."""
    timings: dict = {}
    columns: dict = {}
    primary = dict(zip(keys, prim[f"p_{nature}"].tolist()))
    status = _tauargus_status(nature, primary, esp, tier_of, workdir, timings)
    t0 = time.perf_counter()
    code = np.array([status[k] for k in keys], dtype=np.int64)
    universe = _universe(cells, nature)
    # an equation holding a cell outside the universe (unpublished, not derivable) is no constraint
    long = _inside(long_all, universe)
    value = cells["n_etab" if nature == "comptage" else "effectif"].astype("float64").to_numpy()
    cost = cells["n_etab" if nature == "comptage" else "etp"].astype("float64").fillna(0).to_numpy()
    # a headcount of 0 at 31/12 is known without publication: its establishments are all in size band 0
    # (what the audit assumes of an attacker too)
    zero = (
        ((cells.tranche == "0") | (cells.effectif == 0)).to_numpy()
        if nature == "montant"
        else np.zeros(len(cells), bool)
    )
    hidden0, tier_n = code != PUBLIE, tier
    if nature == "montant":  # the age bands join the headcounts' equations (they add up to them)
        base, long_bands, bands = _band_system(cells, region_of, int(long_all["eq"].max()) + 1)
        long = pd.concat([long, long_bands], ignore_index=True)
        # a band is secret with its cell (the cell's rules apply to its pyramid) or by its own rules
        band_p = np.concatenate([prim[f"p_{b}"].to_numpy()[base] for b in AGE_BANDS])
        band_v = np.concatenate([cells[b].astype("float64").to_numpy()[base] for b in AGE_BANDS])
        value, cost = np.concatenate([value, band_v]), np.concatenate([cost, band_v])
        known = (bands.tranche == AGE_BAND_UNPUBLISHED).to_numpy()  # the unknown-age band (AGE_BANDS)
        band_p &= ~known
        zero = np.concatenate([zero, known])
        hidden0 = np.concatenate([hidden0, (band_p | np.tile(hidden0[base], len(AGE_BANDS))) & ~known])
        tier_n = np.concatenate([tier, importance(bands)])
    check_equations(long, value, "n_etab" if nature == "comptage" else "effectif and age bands")
    zero = structural_zeros(long, zero)
    tables = list(_tables_2d(cells, region_of, nature))
    t1 = time.perf_counter()
    territory, joint = territory_system(long, cells), joint_system(long, cells)
    timings[f"territory system {nature}"] = time.perf_counter() - t1
    levels = None
    if nature == "montant":  # the hidden primary magnitudes keep their protection levels
        levels = _magnitude_levels(cells, prim["p_montant"].to_numpy(), value, zero)
    hidden, rounds = _protect_lookahead(long, tables, hidden0, cost, zero, tier_n, value, territory, levels, joint)
    if nature == "montant":
        m = len(base)
        for j, b in enumerate(AGE_BANDS):
            h = hidden[len(cells) + j * m : len(cells) + (j + 1) * m]
            st = np.where(band_p[j * m : (j + 1) * m], PRIMAIRE, np.where(h, SECONDAIRE, PUBLIE))
            column = np.full(len(cells), PUBLIE, dtype=np.int64)
            column[base] = st
            columns[f"s_{b}"] = column
        hidden = hidden[: len(cells)]
    code = np.where(hidden & (code == PUBLIE), SECONDAIRE, code)
    timings[f"closure {nature}"] = time.perf_counter() - t0
    log.info("closure %s: %d rounds, %d cells hidden in all", nature, rounds, int(hidden.sum()))
    columns[f"s_{nature}"] = code
    return columns, timings


def _tauargus_status(nature: str, primary: dict, esp, tier_of: dict, workdir: Path, timings: dict) -> dict:
    """τ-Argus on the core tables of ``nature``, one after the other (linked: a cell hidden by one is unsafe
    in the next): the status of every cell (``primary``: cell key → primary flag). A complement of a
    headline tier (:data:`TAUARGUS_RELEASE_TIER` and up) is published again: the closure chooses cheaper
    ones."""
    status = {k: PRIMAIRE if v else PUBLIE for k, v in primary.items()}
    for spec in TAUARGUS_TABLES:
        t0 = time.perf_counter()
        added = _run_table(TableSpec(*spec, nature), esp, status, workdir)
        released = [k for k, v in status.items() if v == SECONDAIRE and tier_of[k] >= TAUARGUS_RELEASE_TIER]
        for k in released:
            status[k] = PUBLIE
        added -= len(released)
        name = f"tauargus {nature}_{spec[0]}_{spec[1]}"
        timings[name] = time.perf_counter() - t0
        log.info("τ-Argus %s_%s_%s: %d cells hidden, %.2f s", nature, *spec[:2], added, timings[name])
    return status


#: Magnitudes that share the headcount's mask and are published rounded: the cells' column (with its
#: ``max_<column>``) → the published indicator, whose precision (``ref.indicateurs``) sets the slack.
ROUNDED_MAGNITUDES = {"etp": "etp", "masse": "masse_salariale_brute"}


def _magnitude_levels(cells: pd.DataFrame, primary: np.ndarray, value: np.ndarray, zero: np.ndarray) -> list:
    """The protection levels of the hidden primary magnitudes (:class:`~observatory.secrecy.levels.Quantity`):
    the headcounts at 31/12 (``value``, age bands appended; published exact, ``zero`` their known zeros),
    then ETP and gross payroll, each with its own largest establishment (NK(1,85) on that quantity) and its
    publication rounding as slack. A cell with nobody at 31/12 still has ETP and pay: only cells worth 0 of
    that quantity are constants there."""
    pad = np.zeros(len(value) - len(cells))
    up, down = protection_levels(cells.effectif.to_numpy(), cells.max_effectif.to_numpy(), primary)
    out = [Quantity("effectif", value, np.concatenate([up, pad]), np.concatenate([down, pad]), zero)]
    for column, indicateur in ROUNDED_MAGNITUDES.items():
        v = cells[column].astype("float64").fillna(0).to_numpy()
        up, down = protection_levels(v, cells[f"max_{column}"].astype("float64").to_numpy(), primary)
        out.append(
            Quantity(
                column,
                np.concatenate([v, pad]),
                np.concatenate([up, pad]),
                np.concatenate([down, pad]),
                np.concatenate([v <= 0, np.ones(len(pad), bool)]),
                half_unit(indicateur),
            )
        )
    return out


#: Equations along which enterprise counts add up: an enterprise (SIREN) belongs to one champ and one family,
#: and is counted in one size band per territory (its largest establishment's there, sql/indicators/
#: cellules.sql), but may have establishments in several territories or sectors (no equation there).
_ENTERPRISE_TAGS = ("ch_ensemble", "ch_prive", "ch_phe", "ch_loi", "famille", "tranche")


def _secondary_counts(cells, prim, out, long_all, tier) -> None:
    """Secondary protection of the sub-population counts and of the enterprise counts (``out`` in place).

    The part-time, fixed-term and 50+ counts are published through their rates (count / headcount): a
    count is hidden when its rate is, i.e. when it is primary or its cell's headcount is hidden, and the
    closure then hides more counts until none can be recomputed by subtraction, along the same equations as
    the headcounts (territory, champ, famille, secteur, tranche, sexe; no pcs: rates are published for
    ``pcs = toutes`` only). Enterprise counts add up along the champ tree and the families only (an
    enterprise may span territories, sectors and size bands); they start from their primary flags and
    the establishment counts' mask (the published figure carries both) and are closed along those
    equations. Derived shares inherit through ``sql/indicators/indicateurs.sql``.
    """
    s_montant = out["s_montant"].to_numpy()
    universe = _universe(cells, "montant") & (cells.pcs == "toutes").to_numpy()
    long = _inside(long_all, universe)
    for sub in ("temps_partiel", "cdd", "age50"):
        value = cells[sub].astype("float64").to_numpy()
        check_equations(long, value, sub)
        zero = structural_zeros(long, (cells.tranche == "0").to_numpy())
        p = prim[f"p_{sub}"].to_numpy()
        hidden, _ = _close(long, p | (s_montant != PUBLIE), value, zero, tier)
        out[f"s_{sub}"] = np.where(p, PRIMAIRE, np.where(hidden, SECONDAIRE, PUBLIE))
    long = _inside(long_all, _universe(cells, "comptage"))
    long = long[long.tag.isin(_ENTERPRISE_TAGS).to_numpy()]
    value = cells["n_ent"].astype("float64").to_numpy()
    # where an enterprise spans two champs or families (establishments classified apart), the parts add up
    # to more than the total: a bound, not an equation
    gap = pd.Series(long.sign.to_numpy() * value[long.cell.to_numpy()]).groupby(long["eq"].to_numpy())
    exact = gap.transform("sum").abs().to_numpy() <= 1e-6
    long = long[exact]
    p = prim["p_entreprises"].to_numpy()
    hidden, _ = _close(
        long, p | (out["s_comptage"].to_numpy() != PUBLIE), value, np.zeros(len(cells), bool), tier
    )
    out["s_entreprises"] = np.where(p, PRIMAIRE, np.where(hidden, SECONDAIRE, PUBLIE))


def protect(
    con,
    *,
    workdir: str | Path | None = None,
    timings: dict | None = None,
    a_priori: pd.DataFrame | None = None,
) -> dict:
    """Primary + secondary secrecy on ``ind.cellules``; writes ``ind.masque``; returns counts per statut.

    ``timings`` (optional) receives the seconds of each step (primary, each τ-Argus table, each closure).
    τ-Argus scratch files go to ``workdir`` (default: a temporary folder), one folder per table.
    ``a_priori`` (optional): cells that another product publishing the same headcounts declares primary by
    its own rules (the baromètre's year-end quarter: :func:`observatory.barometre.year_end_primaries`;
    columns ``niveau, code, champ, famille, secteur``, the other ``KEY`` columns at their total when absent).
    Their magnitudes are primary here too (:func:`apply_a_priori`), so the secondary suppression chooses its
    complements around them and no cell is primary in one product and published in the other.
    """
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    cells = con.table("ind.cellules").df()
    # τ-Argus contributors: one row per establishment (its tables cross territory with champ / family)
    esp = con.execute(
        """
        SELECT siret, code_region, code_departement, code_epci, secteur, tranche, famille_ess, ess,
               ess_loi_2014, public, sum(effectif) AS effectif, sum(etp) AS etp
        FROM ind.etab_sexe_pcs
        GROUP BY ALL
        ORDER BY siret
        """
    ).df()
    prim = primary(cells)
    n_a_priori = apply_a_priori(prim, a_priori)
    timings["primary"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="tauargus_") as tmp:
        # absolute: the τ-Argus engine runs in its own working directory
        mask = secondary(cells, prim, esp, Path(workdir or tmp).resolve(), timings)
    mask = mask.sort_values(KEY).reset_index(drop=True)
    con.register("_masque", mask)
    con.execute("CREATE OR REPLACE TABLE ind.masque AS SELECT * FROM _masque")
    con.unregister("_masque")
    counts = {}
    for nature in ("comptage", "montant"):
        for code, name in STATUTS.items():
            counts[f"masque_{nature}_{name}"] = int((mask[f"s_{nature}"] == code).sum())
    counts["masque_montant_primaires_autre_produit"] = n_a_priori
    return counts


def apply_a_priori(prim: pd.DataFrame, a_priori: pd.DataFrame | None) -> int:
    """Make the magnitudes of the ``a_priori`` cells primary in ``prim`` (in place); returns how many cells
    of ``prim`` became primary that the table's own rules publish.

    A cell of ``a_priori`` that ``ind.cellules`` does not hold (the annual table has no such cell: no job
    at 31/12 there) publishes nothing here and is skipped.
    """
    if a_priori is None or not len(a_priori):
        return 0
    keys = a_priori.assign(**{k: v for k, v in DEFAULTS.items() if k not in a_priori.columns})[KEY]
    hit = pd.MultiIndex.from_frame(prim[KEY]).isin(pd.MultiIndex.from_frame(keys.astype(str)))
    new = hit & ~prim["p_montant"].to_numpy()
    prim["p_montant"] = prim["p_montant"].to_numpy() | hit
    log.info(
        "primary: %d cells primary in another product (%d of them new here)", int(hit.sum()), int(new.sum())
    )
    return int(new.sum())
