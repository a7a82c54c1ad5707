"""Every relation at once: the families of relations checked together where they share hidden cells.

The audit checks each family of relations on its own systems: the 2-D tables département × breakdown of each
région (:func:`~observatory.audit.tables.two_d_tables`), the tables along the champ tree
(:func:`~observatory.audit.tables.champ_tables`), the age pyramids (:func:`~observatory.audit.tables.band_tables`)
and the territory relations (:mod:`observatory.audit.territories`). An attacker holds all of them at once: a
hidden cell of a département × sector table that is also a cell of the sector × champ table of its département
may be narrowed by the two together more than by either.

Here every cell of every family gets one name, ``(indicateur, *KEY)`` (internal unknowns included: the
champs ``_sce`` / ``_oth``, the atoms, the jobs of unknown age), the equations of all families are put
together, and the union is split into independent systems (:func:`~observatory.audit.lp.components`). A system
whose equations all come from one system of one family was checked there; every other one — tied across
tables or families by a hidden cell — is checked again as one: no watched cell determined exactly. What an
attacker knows is the union of what each family knows (a cell known in one is known in all).

The joint systems are large (on the sample, one of 34 000 hidden headcounts and one of 27 000 establishment
counts, tied by the internal champs and the atoms), so they are solved sparse (:func:`determined_sparse`).
The findings are blocking (``AuditReport.joint_blocking``): the protection proves the same families as one
system (``observatory.secrecy.chains.joint_system``, stated there on its own). The same systems bound the
hidden primary headcounts against their protection levels (``levels`` of :func:`check_joint`): on the sample
the joint system of the headcounts holds 34 000 hidden cells and 7 900 primary ones; the LPs that push all of
them up at once, then down, take about 7 s when each reaches its level (two LPs per cell took more than ten
minutes), and 35 s on a publication with 32 cells short of it (their exact bounds). The protection widens
them on its own joint system (``observatory.secrecy.levels.repair_levels_territory``). The ETP and the payroll,
published rounded, get the same bound of their primary cells on their families at once (2-D tables, champ
tables, territories) on demand (:func:`check_joint_rounded`, ``observatory audit --joint-rounded``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from observatory.audit.intervals import narrower_than_levels
from observatory.audit.lp import components, determined_cells, determined_sparse, free_cells
from observatory.audit.report import AuditReport
from observatory.audit.rounding import ROUNDED, bound_systems
from observatory.audit.territories import (
    _INDICATEURS,
    _levels,
    _plain,
    full_key,
    rounded_systems,
    territory_system,
)
from observatory.reference.geography import Geography

#: Above this many hidden cells a joint system is solved sparse (:func:`determined_sparse`).
DENSE_LIMIT = 400


@dataclass
class Relations:
    """One system of one family: ``values`` (cell → published value, ``None`` unknown), ``equations``
    ``(parts, total)``, each cell's global name (``name``: cell → ``(indicateur, *KEY)``) and the unknowns that
    must not be found (``watched``)."""

    family: str
    values: dict
    equations: list
    name: dict
    watched: set


def family_relations(
    two_d: list, champs: list, bands: list, published: pd.DataFrame, cells: pd.DataFrame, geography: Geography
) -> list[Relations]:
    """The systems of the four families over the headcounts and the establishment counts: the tables the
    audit's own checks built (``two_d``: :func:`~observatory.audit.tables.two_d_tables`, ``champs``:
    :func:`~observatory.audit.tables.champ_tables` of the counts, ``bands``:
    :func:`~observatory.audit.tables.band_tables`), and the territory relations of each indicator."""
    out = []
    for t in two_d:
        name = {c: (t.indicateur, *t.key(c)) for c in t.values}
        watched = {c for c, v in t.values.items() if v is None}
        out.append(Relations("tableaux 2-D", t.values, t.equations, name, watched))
    for t in champs:
        name = {c: (t.indicateur, *k) for c, k in t.key.items()}
        out.append(Relations("champs", t.values, t.equations, name, {c for c, w in t.watched.items() if w}))
    for t in bands:
        watched = {c for c, v in t.values.items() if v is None} - t.unwatched
        out.append(Relations("pyramides", t.values, t.equations, t.key, watched))
    for indicateur, nature in _INDICATEURS:
        values, eqs, watched = territory_system(
            _plain(published), _plain(cells), geography, indicateur, nature
        )
        name = {c: (indicateur, *full_key(c)) for c in values}
        out.append(Relations("territoires", values, eqs, name, watched))
    return out


def check_joint(relations: list[Relations], report: AuditReport, levels: dict | None = None) -> dict:
    """The systems of ``relations`` put together (module docstring): each watched unknown determined exactly
    by a system that no one system of a family holds whole is a finding (``report.joint_findings``). Returns
    those cells, by global name, with their value.

    ``levels`` (global name → ``(value, protection level)`` of each hidden primary headcount): the same
    systems also bound those cells, with a few LPs for all of them (:func:`~observatory.audit.lp.short_of_many`);
    each bounded closer than its level on either side is a finding (``report.joint_interval_narrow``)."""
    values, watched, origin, sharpened = _union(relations)
    out = {}
    bounded = []  # (families, values, equations, names, {cell: (value, level)}): systems with primary cells
    for vals, system in components(values, list(origin)):
        sources = [origin[_eq_id(e)] for e in system]
        if set.intersection(*sources) and sharpened.isdisjoint(vals):
            continue  # one system holds every equation, and knows what the others know: checked with its family
        mine = {c for c, v in vals.items() if v is None and c in watched}
        if not mine:
            continue
        families = " + ".join(sorted({relations[s].family for group in sources for s in group}))
        report.joint_systems += 1
        report.joint_hidden += len(mine)
        if sum(v is None for v in vals.values()) > DENSE_LIMIT:
            found = determined_sparse(vals, system, mine)
        else:
            unwatched = {c for c, v in vals.items() if v is None and c not in watched}
            found = determined_cells(vals, system, free=free_cells(vals, system) | unwatched)
        report.joint_findings += [
            f"hidden cell determined exactly ({families}): {c} = {v:g}" for c, v in sorted(found.items())
        ]
        out.update(found)
        mine = {c: levels[c] for c in mine if c in levels and c not in found} if levels else {}
        if mine:
            bounded.append((families, vals, system, {c: c for c in mine}, mine))
    report.joint_interval_checked += sum(len(level) for *_s, level in bounded)
    report.joint_interval_narrow += narrower_than_levels(bounded, "hidden primary headcount")
    return out


def rounded_relations(
    two_d: list, champs: list, published: pd.DataFrame, cells: pd.DataFrame, geography: Geography
) -> list[Relations]:
    """The systems of the ETP and the payroll (:data:`~observatory.audit.rounding.ROUNDED`) in three families:
    the 2-D tables (``two_d``: :func:`~observatory.audit.tables.two_d_tables` of those indicators), the
    tables along the champ tree (``champs``: :func:`~observatory.audit.tables.champ_tables`) and the
    territory relations (:func:`~observatory.audit.territories.rounded_systems`)."""
    out = []
    for t in two_d:
        name = {c: (t.indicateur, *t.key(c)) for c in t.values}
        out.append(Relations("tableaux 2-D", t.values, t.equations, name, _unknown(t.values)))
    for t in champs:
        name = {c: (t.indicateur, *k) for c, k in t.key.items()}
        out.append(Relations("champs", t.values, t.equations, name, {c for c, w in t.watched.items() if w}))
    micro = _levels(_plain(cells))
    for _n, indicateur, values, eqs, key in rounded_systems(_plain(published), micro, geography):
        name = {c: (indicateur, *key[c]) for c in values}
        out.append(Relations("territoires", values, eqs, name, _unknown(values)))
    return out


def _unknown(values: dict) -> set:
    return {c for c, v in values.items() if v is None}


def check_joint_rounded(
    relations: list[Relations], published: pd.DataFrame, cells: pd.DataFrame, report: AuditReport
) -> None:
    """The hidden primary ETP and payroll cells bounded on all their families at once (``relations`` of
    :func:`rounded_relations`) against their protection levels, every published value the interval it
    stands for (:func:`observatory.audit.rounding.bound_systems`). Findings in ``report.joint_rounded_narrow``
    (blocking with the intervals). The protection proves these levels on its own joint system, with the
    published values moving within their rounding (``observatory.secrecy.levels.repair_levels_territory``);
    the other hidden cells' requirement (not known to the publication precision) stays with each family.

    The systems are not split by their hidden cells, as the exact headcounts' are: a published cell is an
    unknown within its rounding interval here, and ties every equation it is in. So each indicator's families
    make one system, checked when it holds more than one family (one family alone was checked with it).

    Left out of the pipeline's blocking audit for its time (on the sample: one system per indicator, every
    published cell an unknown of it too; 16 LPs of about 3 s push its 16 800 primary cells, 45 s beside an
    audit of 38 s): ``observatory audit --joint-rounded`` runs it on a publication."""
    values, _watched, origin, _sharpened = _union(relations)
    families: dict = {}
    for eq, sources in origin.items():
        parts, total = eq
        indicateur = next((c[0] for c in (*parts, total) if c[0] in ROUNDED), None)
        if indicateur is None:
            continue  # empty cells only (0 = 0): bounds nothing
        families.setdefault(indicateur, ([], set()))
        families[indicateur][0].append((list(parts), total))
        families[indicateur][1].update(relations[s].family for s in sources)
    systems = []
    for indicateur, (equations, names) in sorted(families.items()):
        if len(names) < 2:
            continue
        cells_of = {c for parts, total in equations for c in (*parts, total)}
        vals = {c: values[c] for c in cells_of}
        name = f"{' + '.join(sorted(names))}, every family at once"
        systems.append((name, indicateur, vals, equations, {c: c[1:] for c in vals}))
    checked, narrow = bound_systems(systems, published, cells, primary_only=True)
    report.joint_rounded_checked += checked
    report.joint_rounded_narrow += narrow


def _eq_id(equation: tuple) -> tuple:
    parts, total = equation
    return tuple(sorted(parts)), total


def _union(relations: list[Relations]) -> tuple[dict, set, dict, set]:
    """Every system's cells under their global names: the values (known in one system, known in all), the
    watched unknowns, each distinct equation with the systems it comes from, and the cells unknown in some
    system but known in another."""
    values: dict = {}
    unknown_somewhere: set = set()
    watched: set = set()
    origin: dict = {}
    for s, r in enumerate(relations):
        for c, v in r.values.items():
            g = r.name[c]
            if v is not None or g not in values:
                values[g] = v
            if v is None:
                unknown_somewhere.add(g)
        watched |= {r.name[c] for c in r.watched}

        def name(c, s=s, r=r):
            # a cell a table leaves out is an empty cell: a 0 of its own
            return r.name[c] if c in r.values else ("_vide", s, c)

        for parts, total in r.equations:
            for c in (*parts, total):
                if c not in r.values:
                    values[name(c)] = 0.0
            origin.setdefault(_eq_id(([name(p) for p in parts], name(total))), set()).add(s)
    watched = {g for g in watched if values.get(g) is None}
    return values, watched, origin, {g for g in unknown_somewhere if values[g] is not None}
