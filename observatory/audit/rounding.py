"""The quantities published rounded (ETP, payroll): each published value is the interval it stands for.

ETP is published whole and payroll to the thousand euros (``observatory/reference/indicateurs.csv``,
``decimales``): a published ETP of 12 says only that the cell lies in [11.5, 12.5]. An audit that took the
rounded values as exact would be wrong both ways: the rounded parts of a table no longer add up to its
rounded total, so its LP has no solution and bounds nothing (a disclosure passes unseen), and where it has
one it is narrower than what an attacker really knows. Here every published cell of these quantities is an
unknown bounded by its rounding interval (:func:`as_intervals`), every hidden cell an unknown ≥ 0, in the
2-D tables département × breakdown of each région (:func:`observatory.audit.tables.two_d_tables`), and the
checks are those of the exact quantities, to the publication precision:

- a hidden **primary** cell must keep its protection level on each side, computed on that quantity (NK(1,85)
  with the cell's largest establishment for that quantity, otherwise 10 % of its value:
  :func:`observatory.audit.intervals.protection_level`);
- any other hidden cell must not be known as closely as a published one: its feasible interval must be
  wider than the rounding interval (``max − min`` above twice the half-unit).

Unlike the headcounts, a cell with nobody at 31/12 is no known zero here: its ETP and pay come from jobs
that ended in the year.
"""

from __future__ import annotations

import pandas as pd

from observatory.audit.intervals import TOLERANCE, protection_level
from observatory.audit.lp import short_of_many
from observatory.audit.report import AuditReport
from observatory.audit.rules import KEY
from observatory.reference.indicateurs import decimales

#: Indicator → the recomputed cells' column of the same quantity (and its ``max_<column>``).
ROUNDED = {"etp": "etp", "masse_salariale_brute": "masse"}


def half_unit(indicateur: str) -> float:
    """Half the publication unit of ``indicateur``: a published ``v`` stands for [v − half, v + half]."""
    return 0.5 * 10.0 ** (-decimales(indicateur))


def as_intervals(values: dict, equations: list, half: float) -> tuple[dict, list, set]:
    """The system ``(values, equations)`` with every published value ``v`` as the interval it stands for.

    Each published cell ``c`` becomes an unknown with ``c = lo + s`` and ``s + t = hi − lo``, where
    ``lo = max(v − half, 0)``, ``hi = v + half`` and ``s, t ≥ 0`` are unknowns of their own: the same
    ``Σ parts = total`` form as before, so the LPs of :mod:`observatory.audit.lp` bound it unchanged.
    Returns the new values, the new equations and the unknowns added (they protect nothing: no LP of their
    own). Cells are tuples; the added ones are ``("~lo", c)``, ``("~s", c)``, ``("~t", c)``, ``("~w", c)``.
    """
    out, eqs, added = {}, list(equations), set()
    for c, v in values.items():
        if v is None:
            out[c] = None
            continue
        lo, hi = max(float(v) - half, 0.0), float(v) + half
        lo_c, s, t, w = ("~lo", c), ("~s", c), ("~t", c), ("~w", c)
        out.update({c: None, lo_c: lo, s: None, t: None, w: hi - lo})
        eqs += [([lo_c, s], c), ([s, t], w)]
        added |= {c, s, t}
    return out, eqs, added


def check_rounded(tables: list, published: pd.DataFrame, cells: pd.DataFrame, report: AuditReport) -> None:
    """Bound every hidden cell of ``tables`` (:class:`observatory.audit.tables.Table2D` of the indicators of
    :data:`ROUNDED`, published values as intervals) against its requirement (module docstring); findings go
    to ``report.rounded_narrow``, blocking like the exact quantities' (``interval_blocking``)."""
    hidden_rows = published[published.indicateur.isin(list(ROUNDED)) & (published.statut != "publie")]
    primary = {
        (*k, i)
        for *k, i, st in hidden_rows[[*KEY, "indicateur", "statut"]].itertuples(index=False, name=None)
        if st == "secret_primaire"
    }
    keys = list(cells[KEY].itertuples(index=False, name=None))
    truths = {
        column: dict(zip(keys, zip(cells[column].astype(float), cells[f"max_{column}"].astype(float))))
        for column in set(ROUNDED.values())
    }
    systems, meta = [], []
    for t in tables:
        column = ROUNDED.get(t.indicateur)
        if column is None:
            continue
        half = half_unit(t.indicateur)
        truth = truths[column]
        values, eqs, _ = as_intervals(t.values, t.equations, half)
        up, down, need = {}, {}, {}
        for c, v in t.values.items():
            k = t.key(c)
            if v is not None or k not in truth:
                continue
            x, largest = truth[k]
            if (*k, t.indicateur) in primary and x > 0:
                level = protection_level(x, largest)
                up[c], down[c] = x + level - TOLERANCE, x - min(level, x) + TOLERANCE
                need[c] = ("primary", x, level)
            else:
                up[c], down[c] = x + half - TOLERANCE, max(x - half, 0.0) + TOLERANCE
                need[c] = ("other", x, half)
        if need:
            systems.append((values, eqs, up, down))
            meta.append((t, half, need))
    report.rounded_checked += sum(len(need) for _, _, need in meta)
    found_all = short_of_many(systems)
    seen = set()
    for (t, half, need), found in zip(meta, found_all, strict=True):
        name = f"{t.indicateur}, {t.champ}, {t.dim}"
        for c, (low, high) in sorted(found.items()):
            kind, x, level = need[c]
            k = (*t.key(c), t.indicateur)
            if k in seen:
                continue
            if kind == "primary":
                line = (
                    f"hidden primary {t.indicateur} bounded to [{low:,.1f}, {high:,.1f}] ({name}): {k[:-1]} = "
                    f"{x:,.1f}, protection level ±{level:,.1f} (published values as rounding intervals)"
                )
            elif high - low <= 2 * half + TOLERANCE:
                line = (
                    f"hidden {t.indicateur} known to the publication precision, [{low:,.1f}, {high:,.1f}] "
                    f"({name}): {k[:-1]} = {x:,.1f}"
                )
            else:
                continue
            seen.add(k)
            report.rounded_narrow.append(line)
