"""How closely an attacker can bound each hidden primary headcount, against INSEE's protection levels.

A hidden cell that no equation determines exactly may still be bounded too narrowly: the second largest
employer of a dominance cell that the published margins bound to [748, 787] estimates the largest one to within a
few percent. INSEE's protection levels (τ-Argus, ``shared/domain/secrecy.md``) say how wide the feasible
interval of a primary cell of value ``X`` must stay on each side:

- dominance NK(1,85) of the largest contributor ``x1``: ``x1 / 0.85 − X`` (the amount that would bring ``x1``
  down to 85 % of the cell; computed as ``20·x1 / 17 − X``);
- any other primary cell (frequency, too few jobs, another quantity dominated): 10 % of ``X`` (τ-Argus's
  safety range of ``FREQ(3,10)``).

The lower side cannot go below 0: a cell of value ``X`` needs ``X − min ≥ min(level, X)``. Feasible intervals
are the min and max of the cell under the relations of the 2-D tables département × breakdown of each région
(:func:`observatory.audit.tables.two_d_tables`, cells ≥ 0, published cells exact). A cell bounded more
closely is a finding, blocking like the others (:class:`observatory.audit.report.AuditReport`): the protection
chooses its complements for these levels. Stated here apart from the protection's own statement of them.
"""

from __future__ import annotations

import pandas as pd

from observatory.audit.lp import short_of_many
from observatory.audit.rules import DOMINANCE, KEY

SAFETY_RANGE = 0.10
"""Protection level of a primary cell that is not a headcount dominance cell, as a share of its value."""
TOLERANCE = 1e-6


def protection_level(value: float, largest: float) -> float:
    """The level a primary headcount cell of ``value`` needs on each side, ``largest`` its largest
    establishment's headcount (NK(1,85) when it dominates the cell, 10 % of the value otherwise)."""
    num, den = DOMINANCE
    if value > 0 and largest * den > value * num:
        return largest * den / num - value
    return SAFETY_RANGE * value


def primary_headcounts(published: pd.DataFrame, cells: pd.DataFrame) -> tuple[set, dict]:
    """The keys of the hidden primary headcounts of ``published``, and their truth from the recomputed
    ``cells``: key → (value, largest establishment's headcount). Only those cells' keys are built (a merge
    first: tuples of every cell cost seconds on the sample)."""
    rows = published[(published.indicateur == "effectif_31_12") & (published.statut == "secret_primaire")]
    some = cells.merge(rows[KEY].drop_duplicates(), on=KEY)
    truth = dict(
        zip(
            some[KEY].itertuples(index=False, name=None),
            zip(some.effectif.astype(float), some.max_effectif.astype(float), strict=True),
            strict=True,
        )
    )
    return set(rows[KEY].itertuples(index=False, name=None)), truth


def narrow_intervals(tables, published: pd.DataFrame, cells: pd.DataFrame) -> tuple[int, list[str]]:
    """Bound every hidden primary headcount of ``tables`` (``Table2D`` of ``effectif_31_12``) and return how many
    were bounded and a line for each whose interval is narrower than its protection level on either side."""
    primary, truth = primary_headcounts(published, cells)
    systems = [
        (f"{t.champ}, {t.dim}", t.values, t.equations, {c: t.key(c) for c in t.values})
        for t in tables
        if t.indicateur == "effectif_31_12"
    ]
    return bound_against_levels(systems, primary, truth, "hidden primary headcount")


def bound_against_levels(systems, primary: set, truth: dict, what: str) -> tuple[int, list[str]]:
    """The hidden cells of ``systems`` (``(name, values, equations, key of each cell)``) whose key is in
    ``primary``, bounded against their protection level (``truth``: key → (value, largest contributor)).

    Returns how many such cells were bounded and, for each one bounded more closely than its level on
    either side, one line (a cell found in several tables is reported once, from the first).
    """
    checked, leveled = set(), []
    for name, values, equations, key in systems:
        level = {}
        for c, v in values.items():
            k = key[c]
            if v is None and k in primary and k in truth and truth[k][0] > 0:
                level[c] = (truth[k][0], protection_level(*truth[k]))
        if level:
            checked |= {key[c] for c in level}
            leveled.append((name, values, equations, key, level))
    return len(checked), narrower_than_levels(leveled, what)


def narrower_than_levels(systems, what: str) -> list[str]:
    """One line for each cell of ``systems`` (``(name, values, equations, key of each cell, {cell: (value,
    protection level)})``) whose range under its system's equations (cells ≥ 0) does not reach ``value + level``
    above or ``value − min(level, value)`` below, with a few LPs for all of them
    (:func:`~observatory.audit.lp.short_of_many`); a cell found in several systems is reported once, from the
    first, and the lines are sorted by key."""
    kept = []
    for _name, values, equations, _key, level in systems:
        up = {c: x + lv - TOLERANCE for c, (x, lv) in level.items()}
        down = {c: x - min(lv, x) + TOLERANCE for c, (x, lv) in level.items()}
        kept.append((values, equations, up, down))
    narrow = {}
    for (name, _v, _e, key, level), found in zip(systems, short_of_many(kept), strict=True):
        for c, (low, high) in found.items():
            x, lv = level[c]
            narrow.setdefault(
                key[c],
                f"{what} bounded to [{low:g}, {high:g}] ({name}): {key[c]} = {x:g}, protection level ±{lv:.1f}",
            )
    return [narrow[k] for k in sorted(narrow)]
