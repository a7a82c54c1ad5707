"""The territory relations: every level as a union of geographic atoms, crossed with the champ tree and families.

The audit's own statement of the relations between territory levels (``observatory.reference.geography``
describes the atoms; the equations are built here, apart from the protection's):

- every territory — France, a région, a département, an EPCI, and the internal ``_geo_inconnu`` /
  ``_epci_inconnu`` — is the sum of its atoms (:func:`territory_equations`), so a département that is
  exactly the union of its EPCIs gives ``département = Σ EPCIs`` and an EPCI straddling two départements
  ties them;
- within each territory, the champ tree (ensemble = public + privé, privé = ESS + privé hors ESS, privé hors
  ESS = sociétés commerciales de l'ESS + autres, ESS loi 2014 = ESS + sociétés commerciales);
- and the families: ESS = Σ its families, ESS loi 2014 = Σ its families, ESS loi 2014 × f = ESS × f for an
  ESS family, ESS loi 2014 × sociétés commerciales = the internal champ ``_sce``;
- and the sexes (headcounts, ETP and payroll), the size bands (those and the establishment counts) and the
  ESS's sectors (headcounts and establishment counts): every territory relation and champ-tree equation
  above holds for the women, for the men and for each size band, and every territory relation for the ESS
  of each sector (an EPCI's ESS women = Σ its atoms' ESS women), and a territory's cell is its women's plus
  its men's, the sum of its size bands, and for the ESS the sum of its sectors (the EPCIs' ESS is published
  by sexe, by size band and by sector: their portraits' figures). The EPCIs and atoms have the ESS alone by
  sexe, by size band and by sector (no other champ, no champ tree there); the other champs by sector are the
  2-D tables' and the champ tables', which the joint check (:mod:`observatory.audit.joint`) adds to these.

A cell is keyed ``(niveau, code, champ, famille, (sexe, tranche, secteur))``, at most one of the four broken
down (:func:`full_key` gives its key in the table).

Every hidden primary headcount is also bounded by these relations (min and max, cells ≥ 0) and checked
against INSEE's protection levels, as in the 2-D tables (:mod:`observatory.audit.intervals`).

Unknowns: hidden published cells, the atoms, the internal champs and territories (never published). An
unknown is *watched* when it is a hidden published cell or an unpublished cell that breaks a primary rule
(recomputed from the microdata): none may be determined. A cell with no establishment is an empty cell (0),
and a headcount with no job at 31/12 a known zero, as in the other checks.
"""

from __future__ import annotations

import pandas as pd

from observatory.audit.intervals import bound_against_levels
from observatory.audit.lp import components, determined_cells, determined_sparse, free_cells
from observatory.audit.report import AuditReport
from observatory.audit.rounding import ROUNDED, check_systems
from observatory.audit.rules import (
    ATOMIC_BREAKDOWN_CHAMPS,
    ATOMIC_LEVELS,
    DEFAULTS,
    departements_of,
    magnitude_secret,
    too_few,
)
from observatory.reference import geography
from observatory.reference.geography import ATOM_LEVEL, UNKNOWN, Geography

_TREE = (
    ("ensemble", ("public", "prive")),
    ("prive", ("ess", "prive_hors_ess")),
    ("prive_hors_ess", ("_sce", "_oth")),
    ("ess_loi_2014", ("ess", "_sce")),
)
_SCE_FAMILY = "societe_commerciale_ess"
_LEVELS = ("france", "region", "departement", "epci", "_geo_inconnu", "_epci_inconnu")
#: The levels stated directly as sums of atoms.
_ATOM_LEVELS = ("departement", "_geo_inconnu", "epci", "_epci_inconnu")
#: Above this many hidden cells a system is solved sparse (:func:`determined_sparse`), not with dense LPs.
DENSE_LIMIT = 400
_INDICATEURS = (("effectif_31_12", "montant"), ("etablissements_employeurs", "comptage"))
#: The breakdowns of a territory cell's last coordinate, in its order, and that coordinate unbroken.
_DIMS = ("sexe", "tranche", "secteur")
_NONE = tuple(DEFAULTS[d] for d in _DIMS)
#: The breakdowns held for the ESS alone at every level (the EPCIs publish the ESS's sectors only): the other
#: champs by sector are tied by the 2-D tables and the champ tables, which the joint check adds to these.
_ESS_ONLY = tuple(i for i, d in enumerate(_DIMS) if d == "secteur")


def _ess_only(x: tuple) -> bool:
    """Whether a cell's breakdown ``x`` is one held for the ESS alone (no champ tree across it)."""
    return any(x[i] != _NONE[i] for i in _ESS_ONLY)


def full_key(k: tuple) -> tuple:
    """A territory cell ``(niveau, code, champ, famille, (sexe, tranche, secteur))``'s key in the table
    (``rules.KEY``)."""
    (sexe, tranche, secteur) = k[4]
    return (*k[:4], secteur, tranche, sexe, DEFAULTS["pcs"])


def territory_equations(geography: Geography, cells: set) -> list:
    """``(parts, total)`` equations over cells ``(niveau, code, champ, famille, (sexe, tranche, secteur))``,
    for the ``(champ, famille, breakdown)`` triples and territories present in ``cells`` (one breakdown at a
    time).

    The territory levels as unions of atoms, stated level by level (the same solutions as "every level =
    Σ of its atoms", in smaller independent systems): France = Σ régions + ``_geo_inconnu``, a région = Σ
    its départements, a département (and ``_geo_inconnu``) = Σ its atoms, an EPCI (and ``_epci_inconnu``)
    = Σ its atoms.
    """
    pairs = sorted({(ch, f, x) for _, _, ch, f, x in cells})
    units = sorted({(n, c) for n, c, *_ in cells})
    breakdowns = sorted({x for *_, x in cells})
    deps_of = departements_of(geography.region_of())
    # a territory none of whose cells nor atoms' cells is in ``cells`` gives equations of known zeros only,
    # which bound nothing (every reader drops an equation without an unknown): left out once per level,
    # not once per (champ, famille) — the COG's 1 250 EPCIs on a test's few territories
    present = set(units)
    members = {
        niveau: {
            code: atoms
            for code, atoms in geography.members(niveau).items()
            if (niveau, code) in present or any((ATOM_LEVEL, a) in present for a in atoms)
        }
        for niveau in _ATOM_LEVELS
    }
    eqs = []
    for ch, f, x in pairs:
        regions = [("region", r, ch, f, x) for r in sorted(deps_of)]
        eqs.append(([*regions, ("_geo_inconnu", UNKNOWN, ch, f, x)], ("france", "FR", ch, f, x)))
        eqs += [
            ([("departement", d, ch, f, x) for d in deps], ("region", r, ch, f, x))
            for r, deps in deps_of.items()
        ]
        if x != _NONE and ch not in ATOMIC_BREAKDOWN_CHAMPS:
            continue  # the atoms have no such cell (a missing cell would be read as an empty one)
        for niveau, by_code in members.items():
            eqs += [
                ([(ATOM_LEVEL, a, ch, f, x) for a in atoms], (niveau, code, ch, f, x))
                for code, atoms in by_code.items()
            ]
    toutes = DEFAULTS["famille"]
    families = sorted({f for _, _, ch, f, _ in cells if f != toutes})
    # per breakdown, its categories and the champs broken down by it (a category no cell has is empty)
    by_dim = {}
    for i, d in enumerate(_DIMS):
        mine = [x for x in breakdowns if x[i] != _NONE[i]]
        if mine:
            by_dim[d] = (mine, sorted({ch for _, _, ch, _, x in cells if x in mine}))
    for niveau, code in units:
        u = (niveau, code)
        atomic = niveau in ATOMIC_LEVELS
        for x in breakdowns:
            # the atomic levels broken down, and every level by sector: the ESS alone, no champ tree
            if x == _NONE or not (atomic or _ess_only(x)):
                for total, parts in _TREE:
                    eqs.append(([(*u, p, toutes, x) for p in parts], (*u, total, toutes, x)))
        for cats, champs in by_dim.values():
            eqs += [
                ([(*u, ch, toutes, x) for x in cats], (*u, ch, toutes, _NONE))
                for ch in champs
                if not atomic or ch in ATOMIC_BREAKDOWN_CHAMPS
            ]
        for champ in ("ess", "ess_loi_2014"):
            fams = [f for f in families if champ == "ess_loi_2014" or f != _SCE_FAMILY]
            if fams:
                eqs.append(([(*u, champ, f, _NONE) for f in fams], (*u, champ, toutes, _NONE)))
        for f in families:
            other = (*u, "_sce", toutes, _NONE) if f == _SCE_FAMILY else (*u, "ess", f, _NONE)
            eqs.append(([other], (*u, "ess_loi_2014", f, _NONE)))
    return eqs


def geography_of(etabs: pd.DataFrame) -> Geography:
    """The COG's geography, with the atoms of ``etabs`` it lacks (e.g. a test's own territories)."""
    data = geography.from_pieces(etabs)
    ref = geography.cog().atoms
    return Geography(pd.concat([ref, data.atoms[~data.atoms.atom.isin(ref.atom)]], ignore_index=True))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The territory cells: no pcs breakdown, at most one of famille, sexe, tranche and secteur, and the
    sectors of the ESS only."""
    broken = sum((frame[d] != DEFAULTS[d]).astype(int) for d in ("famille", *_DIMS))
    sector = frame.secteur != DEFAULTS["secteur"]
    flat = (frame.pcs == DEFAULTS["pcs"]) & (~sector | frame.champ.isin(ATOMIC_BREAKDOWN_CHAMPS))
    return frame[flat & (broken <= 1)]


def _keys(frame: pd.DataFrame) -> list:
    x = zip(frame.sexe, frame.tranche, frame.secteur, strict=True)
    return list(zip(frame.niveau, frame.code, frame.champ, frame.famille, x, strict=True))


def check_territories(
    published: pd.DataFrame,
    cells: pd.DataFrame,
    geography: Geography,
    report: AuditReport,
    intervals: bool = True,
) -> None:
    """No watched cell determined by the territory relations, and (``intervals``) every hidden primary
    headcount bounded no closer than its protection level (module docstring); results in ``report``."""
    micro = _levels(_plain(cells))
    pub = _plain(published)
    for indicateur, nature in _INDICATEURS:
        values, eqs, watched = territory_system(pub, micro, geography, indicateur, nature)
        comps = components(values, eqs)
        if intervals and nature == "montant":
            _bound_primaries(pub[pub.indicateur == indicateur], micro, comps, report)
        for vals, system in comps:
            mine = {k for k, v in vals.items() if v is None and k in watched}
            if not mine:
                continue
            report.territory_systems += 1
            report.territory_hidden += len(mine)
            if sum(v is None for v in vals.values()) > DENSE_LIMIT:
                found = determined_sparse(vals, system, mine)
            else:
                free = free_cells(vals, system) | {
                    k for k, v in vals.items() if v is None and k not in watched
                }
                found = determined_cells(vals, system, free=free)
            for cell, v in found.items():
                report.territory_findings.append(
                    f"hidden cell determined exactly ({indicateur}, territoires): {cell} = {v:g}"
                )
    if intervals:
        check_systems(rounded_systems(pub, micro, geography), published, cells, report)


def _levels(micro: pd.DataFrame) -> pd.DataFrame:
    return micro[micro.niveau.isin([*_LEVELS, ATOM_LEVEL])]


def territory_system(
    pub: pd.DataFrame, micro: pd.DataFrame, geography: Geography, indicateur: str, nature: str
) -> tuple[dict, list, set]:
    """The territory relations of ``indicateur`` (primary rules of ``nature``) as one system: the values as
    the attacker sees them, the equations and the watched unknowns. ``pub`` and ``micro``: the published and
    recomputed cells without breakdown (:func:`_plain`)."""
    micro = _levels(micro)
    if nature != "montant":  # counts are published without the sexe breakdown (with the size bands)
        micro, pub = micro[micro.sexe == DEFAULTS["sexe"]], pub[pub.sexe == DEFAULTS["sexe"]]
    secret = magnitude_secret(micro) if nature == "montant" else too_few(micro.n_etab)
    keys = _keys(micro)
    zero = (micro.effectif == 0).to_numpy() if nature == "montant" else (micro.n_etab == 0).to_numpy()
    values, shown, hidden = _territory_values(keys, zero, pub[pub.indicateur == indicateur])
    watched = {k for k, s, z in zip(keys, secret, zero, strict=True) if s and not z}
    return values, territory_equations(geography, set(values)), (watched - shown) | hidden


def _territory_values(keys: list, zero, rows: pd.DataFrame) -> tuple[dict, set, set]:
    """The territory cells ``keys`` as the attacker sees them: a cell worth 0 (``zero``) a known 0, the others
    unknown; then the published ``rows``: a published value known, a hidden cell unknown. Returns the values,
    the keys published and the keys hidden (not known to be 0)."""
    values = {k: (0.0 if z else None) for k, z in zip(keys, zero, strict=True)}
    published, hidden = set(), set()
    for k, st, v in zip(_keys(rows), rows.statut, rows.valeur, strict=True):
        if st == "publie":
            values[k] = float(v)
            published.add(k)
        elif values.get(k) is None:
            values[k] = None
            hidden.add(k)
    return values, published, hidden


def rounded_systems(pub: pd.DataFrame, micro: pd.DataFrame, geography: Geography) -> list:
    """The territory relations of the ETP and of the payroll (:data:`observatory.audit.rounding.ROUNDED`),
    as systems for :func:`observatory.audit.rounding.check_systems` (published values as their rounding
    intervals there): published cells as published, the others unknown, a cell worth 0 a known 0.

    Without the sectors: the EPCIs publish no ETP or payroll by sector, so their atoms' cells by sector are
    free unknowns, and a table atoms × sectors whose margins are the atoms' totals and the département's
    sectors always has a non-negative solution when the two margins add up to the same total (an equation
    held without the sectors): they bound nothing more. The départements' sectors are the 2-D tables' and
    the champ tables' (:mod:`observatory.audit.rounding`)."""
    pub = pub[pub.secteur == DEFAULTS["secteur"]]
    micro = micro[micro.secteur == DEFAULTS["secteur"]]
    keys = _keys(micro)
    out = []
    for indicateur, column in ROUNDED.items():
        rows = pub[pub.indicateur == indicateur]
        values, _, _ = _territory_values(keys, (micro[column] == 0).to_numpy(), rows)
        eqs = territory_equations(geography, set(values))
        out.append((f"{indicateur}, territoires", indicateur, values, eqs, {k: full_key(k) for k in values}))
    return out


def _bound_primaries(rows: pd.DataFrame, micro: pd.DataFrame, comps: list, report: AuditReport) -> None:
    """Every hidden primary headcount of ``rows`` bounded by the territory relations (``comps``, the
    independent systems), against INSEE's protection levels (:mod:`observatory.audit.intervals`)."""
    prim = rows[rows.statut == "secret_primaire"]
    primary = set(_keys(prim))
    truth = dict(
        zip(_keys(micro), zip(micro.effectif.astype(float), micro.max_effectif.astype(float), strict=True))
    )
    systems = [
        (f"territoires {i + 1}", vals, eqs, {c: c for c in vals}) for i, (vals, eqs) in enumerate(comps)
    ]
    checked, narrow = bound_against_levels(systems, primary, truth, "hidden primary headcount")
    report.territory_interval_checked += checked
    report.territory_interval_narrow += narrow
