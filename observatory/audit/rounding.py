"""The quantities published rounded (ETP, payroll): each published value is the interval it stands for.

ETP is published whole and payroll to the thousand euros (``observatory/reference/indicateurs.csv``,
``decimales``): a published ETP of 12 says only that the cell lies in [11.5, 12.5]. An audit that took the
rounded values as exact would be wrong both ways: the rounded parts of a table no longer add up to its
rounded total, so its LP has no solution and bounds nothing (a disclosure passes unseen), and where it has
one, it is narrower than what an attacker really knows. Here every published cell of these quantities is an
unknown bounded by its rounding interval (:func:`as_intervals`), every hidden cell an unknown ≥ 0, in the
2-D tables département × breakdown of each région (:func:`observatory.audit.tables.two_d_tables`) and in
the territory relations (EPCIs, départements, régions, France as unions of atoms, × champ tree and
families: :mod:`observatory.audit.territories`), and the checks are those of the exact quantities, to the
publication precision:

- a hidden **primary** cell must keep its protection level on each side, computed on that quantity (NK(1,85)
  with the cell's largest establishment for that quantity, otherwise 10 % of its value:
  :func:`observatory.audit.intervals.protection_level`);
- any other hidden cell must not be known as closely as a published one: its feasible interval must be
  wider than the rounding interval (``max − min`` above twice the half-unit).

Unlike the headcounts, a cell with nobody at 31/12 is no known zero here: its ETP and pay come from jobs
that ended in the year (only a cell worth 0 of the quantity is).
"""

from __future__ import annotations

import pandas as pd

from observatory.audit.intervals import TOLERANCE, protection_level
from observatory.audit.lp import Interval, short_of_many
from observatory.audit.report import AuditReport
from observatory.audit.rules import KEY
from observatory.reference.indicateurs import half_unit

#: Indicator → the recomputed cells' column of the same quantity (and its ``max_<column>``).
ROUNDED = {"etp": "etp", "masse_salariale_brute": "masse"}


def as_intervals(values: dict, half: float) -> dict:
    """``values`` with every published value ``v`` as the interval it stands for: an unknown within
    ``[max(v − half, 0), v + half]`` (:class:`~observatory.audit.lp.Interval`, which the LPs of
    :func:`~observatory.audit.lp.lp_bounds` and :func:`~observatory.audit.lp.short_of_many` take as its
    bounds); a hidden cell (``None``) stays an unknown ≥ 0."""
    return {
        c: None if v is None else Interval(max(float(v) - half, 0.0), float(v) + half)
        for c, v in values.items()
    }


def check_rounded(tables: list, published: pd.DataFrame, cells: pd.DataFrame, report: AuditReport) -> None:
    """Bound every hidden cell of ``tables`` (:class:`observatory.audit.tables.Table2D` of the indicators of
    :data:`ROUNDED`) against its requirement (module docstring): :func:`check_systems`."""
    systems = [
        (
            f"{t.indicateur}, {t.champ}, {t.dim}",
            t.indicateur,
            t.values,
            t.equations,
            {c: t.key(c) for c in t.values},
        )
        for t in tables
        if t.indicateur in ROUNDED
    ]
    check_systems(systems, published, cells, report)


def check_systems(systems: list, published: pd.DataFrame, cells: pd.DataFrame, report: AuditReport) -> None:
    """:func:`bound_systems`, its findings into ``report.rounded_narrow`` (blocking like the exact quantities':
    ``interval_blocking``)."""
    checked, narrow = bound_systems(systems, published, cells)
    report.rounded_checked += checked
    report.rounded_narrow += narrow


def bound_systems(
    systems: list, published: pd.DataFrame, cells: pd.DataFrame, primary_only: bool = False
) -> tuple[int, list]:
    """Bound the hidden published cells of ``systems`` — ``(name, indicateur, values, equations, key)``, values
    as published (``None`` when hidden or never published), ``key``: cell → its ``KEY`` in ``published`` —
    with every published value as its rounding interval (:func:`as_intervals`), against their requirement
    (module docstring). Returns the number of cells checked and the findings (a cell found in several systems
    is reported once). ``primary_only``: the hidden primary cells only (their protection levels)."""
    rows = published[published.indicateur.isin(list(ROUNDED)) & (published.statut != "publie")]
    statut = {
        (*k, i): st for *k, i, st in rows[[*KEY, "indicateur", "statut"]].itertuples(index=False, name=None)
    }
    # the truth of the cells hidden in some rounded indicator only (a tenth of the cells, on the sample)
    hidden_cells = cells.merge(rows[KEY].drop_duplicates(), on=KEY)
    keys = list(hidden_cells[KEY].itertuples(index=False, name=None))
    truths = {
        column: dict(
            zip(keys, zip(hidden_cells[column].astype(float), hidden_cells[f"max_{column}"].astype(float)))
        )
        for column in set(ROUNDED.values())
    }
    kept, meta = [], []
    for name, indicateur, values, equations, key in systems:
        half = half_unit(indicateur)
        truth = truths[ROUNDED[indicateur]]
        up, down, need = {}, {}, {}
        for c, v in values.items():
            k = key.get(c)
            st = statut.get((*k, indicateur)) if k is not None else None
            if v is not None or st is None or k not in truth:
                continue  # published, or never published (an atom, an internal champ): no requirement
            x, largest = truth[k]
            if st == "secret_primaire" and x > 0:
                level = protection_level(x, largest)
                up[c], down[c] = x + level - TOLERANCE, x - min(level, x) + TOLERANCE
                need[c] = ("primary", x, level)
            elif not primary_only:
                up[c], down[c] = x + half - TOLERANCE, max(x - half, 0.0) + TOLERANCE
                need[c] = ("other", x, half)
        if need:
            # in units of the publication (ETP, thousand euros): France's payroll in euros beside a rounding of
            # 500 € is badly scaled for the LP solver
            unit = 2 * half
            scaled = {c: (None if v is None else v / unit) for c, v in values.items()}
            kept.append(
                (
                    as_intervals(scaled, 0.5),
                    equations,
                    {c: x / unit for c, x in up.items()},
                    {c: x / unit for c, x in down.items()},
                )
            )
            meta.append((name, indicateur, key, half, need))
    checked, lines = sum(len(m[-1]) for m in meta), []
    seen = set()
    for (name, indicateur, key, half, need), found in zip(meta, short_of_many(kept), strict=True):
        for c, (low, high) in sorted((c, (lo * 2 * half, hi * 2 * half)) for c, (lo, hi) in found.items()):
            kind, x, level = need[c]
            k = (*key[c], indicateur)
            if k in seen:
                continue
            if kind == "primary":
                line = (
                    f"hidden primary {indicateur} bounded to [{low:,.1f}, {high:,.1f}] ({name}): {k[:-1]} = "
                    f"{x:,.1f}, protection level ±{level:,.1f} (published values as rounding intervals)"
                )
            elif high - low <= 2 * half + TOLERANCE:
                line = (
                    f"hidden {indicateur} known to the publication precision, [{low:,.1f}, {high:,.1f}] "
                    f"({name}): {k[:-1]} = {x:,.1f}"
                )
            else:
                continue
            seen.add(k)
            lines.append(line)
    return checked, lines
