"""The audit of the indicator table: primary rules on published cells, and the LP checks of its tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatory.audit.intervals import bound_against_levels, primary_headcounts
from observatory.audit.lp import _structural_zeros, determined_many
from observatory.audit.report import AuditReport
from observatory.audit.rounding import check_systems
from observatory.audit.rules import (
    AGE_BAND_UNPUBLISHED,
    AGE_BANDS,
    CHAMPS_PUBLIES,
    COUNT_INDICATORS,
    DEFAULTS,
    FLAT,
    KEY,
    PAY_GAP,
    PAY_RATES,
    departements_of,
    magnitude_secret,
    pay_rate_secret,
    too_few,
)


def _primary_violations(published: pd.DataFrame, cells: pd.DataFrame) -> tuple[int, list]:
    pub = published[published.statut == "publie"]
    merged = pub.merge(cells, on=KEY, how="left", indicator=True)
    violations = []
    missing = merged[merged._merge == "left_only"]
    violations += [
        f"no microdata for published cell {tuple(r[KEY])} {r.indicateur} (a cell the audit does not recompute, "
        "e.g. an EPCI by sector, is never to be published)"
        for _, r in missing.iterrows()
    ]
    m = merged[merged._merge == "both"].reset_index(drop=True)
    count = m.indicateur.isin(COUNT_INDICATORS)
    ent = m.indicateur == "entreprises_employeuses"
    bad = np.where(
        count,
        too_few(m.n_etab),
        np.where(ent, too_few(m.n_ent) | too_few(m.n_etab), magnitude_secret(m)),
    )
    bad |= m.indicateur.isin(PAY_RATES).to_numpy() & pay_rate_secret(m)
    for _, r in m[bad].iterrows():
        violations.append(f"published cell breaks a primary rule: {tuple(r[KEY])} {r.indicateur}")
    # the women / men gap (on the row sexe = tous) stands on its women's and its men's cells
    gap = pub[pub.indicateur == PAY_GAP]
    for sexe in ("F", "H"):
        sub = gap.assign(sexe=sexe).merge(cells, on=KEY, how="left", indicator=True)
        found = (sub._merge == "both").to_numpy()
        broken = ~found
        broken[found] = magnitude_secret(sub[found]) | pay_rate_secret(sub[found])
        for _, r in sub[broken].iterrows():
            violations.append(f"published pay gap stands on a cell that breaks a primary rule: {tuple(r[KEY])}")
    return len(pub), violations


def _key_tuples(frame: pd.DataFrame) -> list:
    """The ``KEY`` of each row of ``frame``, as tuples of Python objects."""
    return list(zip(*(frame[k].to_numpy(object) for k in KEY)))


def _zero_headcounts(cells: pd.DataFrame) -> set:
    """Keys of the cells with no job at 31/12 (every establishment in size band 0): known zeros of the
    headcount tables, for an attacker as for the protection (:func:`secondary`)."""
    return set(_key_tuples(cells[cells.effectif == 0]))


def _lp_checks(tables: list, report: AuditReport) -> None:
    """Hidden cells of the 2-D tables (:func:`two_d_tables`) determined exactly: findings."""
    checked = []
    for t in tables:
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None for v in t.values.values()))
        checked.append((f"{t.indicateur}, {t.champ}, {t.dim}", t.values, t.equations, ()))
    _report_determined(checked, report)


@dataclass(frozen=True)
class Table2D:
    """A région's table: its départements and itself × the categories of ``dim`` and their total, for one
    indicator and champ. ``values``: ``(code, category) → published value`` (``None`` when hidden),
    ``equations``: ``(parts, total)`` over those ids."""

    indicateur: str
    champ: str
    dim: str
    region: str
    values: dict
    equations: list

    def key(self, cell: tuple) -> tuple:
        """The ``KEY`` of the cell ``(code, category)``."""
        code, cat = cell
        niveau = "region" if code == self.region else "departement"
        k = dict(DEFAULTS, niveau=niveau, code=code, champ=self.champ, **{self.dim: cat})
        return tuple(k[c] for c in KEY)


def two_d_tables(
    published: pd.DataFrame,
    departements: pd.DataFrame,
    zero_keys: frozenset = frozenset(),
    indicateurs: tuple = ("effectif_31_12", "etablissements_employeurs"),
):
    """Every 2-D table département × breakdown (famille, secteur, tranche, sexe) of a région with its
    margins, of each of ``indicateurs`` (default: the headcount and the establishment count), that has a
    hidden cell. ``zero_keys``: cells with nobody at 31/12, known zeros of the headcount only."""
    two = published[published.indicateur.isin(list(indicateurs))]
    pub = dict(
        zip(
            two[[*KEY, "indicateur"]].itertuples(index=False, name=None),
            zip(two.statut, two.valeur, strict=True),
            strict=True,
        )
    )
    region_of = dict(zip(departements.code_departement, departements.code_region))
    margins = {
        "famille": [
            (
                "ess",
                sorted(
                    published.loc[
                        (published.champ == "ess") & (published.famille != "toutes"), "famille"
                    ].unique()
                ),
            ),
            (
                "ess_loi_2014",
                sorted(
                    published.loc[
                        (published.champ == "ess_loi_2014") & (published.famille != "toutes"), "famille"
                    ].unique()
                ),
            ),
        ],
        "secteur": None,
        "tranche": None,
        "sexe": None,
    }
    for indicateur in indicateurs:
        rows = published[published.indicateur == indicateur]
        for dim, spec in margins.items():
            champ_cats = spec or [
                (
                    c,
                    sorted(
                        rows.loc[
                            (rows[dim] != DEFAULTS[dim])
                            & (rows.champ == c)
                            & (rows.famille == "toutes")
                            & (rows.pcs == "toutes"),
                            dim,
                        ].unique()
                    ),
                )
                for c in CHAMPS_PUBLIES
            ]
            for champ, cats in champ_cats:
                if not cats:
                    continue
                for region in sorted(set(region_of.values())):
                    deps = sorted(d for d, r in region_of.items() if r == region)
                    table = _region_table(pub, zero_keys, indicateur, champ, dim, cats, region, deps)
                    if table is not None:
                        yield table


def _region_table(pub: dict, zero_keys, indicateur: str, champ: str, dim: str, cats: list, region: str, deps):
    """:func:`two_d_tables`' table of one région: (région, its départements ``deps``) × (the categories
    ``cats`` of ``dim`` and their total), with their published values (``pub``: key → (statut, valeur));
    ``None`` when it has no hidden cell."""
    geos = [("region", region)] + [("departement", d) for d in deps]
    values = {}
    zeros = set()
    for niveau, code in geos:
        for cat in [*cats, DEFAULTS[dim]]:
            key = dict(DEFAULTS, niveau=niveau, code=code, champ=champ, **{dim: cat})
            k = (*(key[c] for c in KEY), indicateur)
            nobody = dim == "tranche" and cat == "0" or k[:-1] in zero_keys
            if indicateur == "effectif_31_12" and nobody:
                values[(code, cat)] = 0.0  # nobody at 31/12 by definition: a known zero
                zeros.add((code, cat))
            elif k in pub:
                statut, valeur = pub[k]
                values[(code, cat)] = None if statut != "publie" else float(valeur)
    eqs = [([(g[1], cat) for cat in cats], (g[1], DEFAULTS[dim])) for g in geos]
    eqs += [([(d, cat) for d in deps], (region, cat)) for cat in [*cats, DEFAULTS[dim]]]
    _structural_zeros(values, eqs, zeros)
    if any(v is None for v in values.values()):
        return Table2D(indicateur, champ, dim, region, values, eqs)
    return None


def _report_determined(tables: list, report: AuditReport) -> None:
    """Each hidden cell determined exactly in one of ``tables`` (``(name, values, equations, also_free)``,
    checked together: :func:`determined_many`) is a finding, named after its table."""
    found = determined_many([(values, eqs, also) for _, values, eqs, also in tables])
    for (name, *_), cells in zip(tables, found, strict=True):
        for cell, v in cells.items():
            report.recoverable.append(f"hidden cell determined exactly ({name}): {cell} = {v:g}")


_AUDIT_TREE = (  # the champ tree, total = Σ parts (the audit's own statement of perimeter.md)
    ("ensemble", ("public", "prive")),
    ("prive", ("ess", "prive_hors_ess")),
    ("prive_hors_ess", ("_sce", "_oth")),
    ("ess_loi_2014", ("ess", "_sce")),
)


def _champ_table_equations(tree, head, members: list, values: dict) -> list:
    """Equations of a table whose cells are ``(column, champ)``: the champ ``tree`` in each column (head and
    members), and per champ, the head column = Σ member columns (only towards totals that exist)."""
    champs = sorted({ch for _, ch in values})
    eqs = [
        ([(col, p) for p in parts], (col, total))
        for col in [head, *members]
        for total, parts in tree
        if (col, total) in values
    ]
    return eqs + [([(c, ch) for c in members], (head, ch)) for ch in champs if (head, ch) in values]


def _lp_checks_champs(
    published: pd.DataFrame,
    cells: pd.DataFrame,
    departements: pd.DataFrame,
    report: AuditReport,
    zero_keys: frozenset = frozenset(),
) -> list:
    """The 2-D tables along the champ tree (:func:`champ_tables`) of headcounts and establishment counts: no
    hidden cell determined exactly. Returns the tables (:class:`ChampTable`).

    A published cell is known when its statut is ``publie``. The internal champs (sociétés commerciales de
    l'ESS, other private) are never published: they are unknowns of the tables, and one that breaks a
    primary rule (from the recomputed ``cells``) must not be determined, like a hidden published cell.
    """
    built = list(champ_tables(published, cells, departements, CHAMP_TABLE_COUNTS, zero_keys))
    tables: list = []
    for table in built:
        values, mine = table.values, table.watched
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None and mine[k] for k, v in values.items()))
        # unwatched unknowns (internal cells that pass the primary rules) get no LP of their own
        unwatched = {k for k, v in values.items() if v is None and not mine[k]}
        tables.append((table.name, values, table.equations, unwatched))
    _report_determined(tables, report)
    return built


#: The champ tables' indicators: ``(indicateur, nature of its primary rules, breakdowns crossed)``.
CHAMP_TABLE_COUNTS = (
    ("effectif_31_12", "montant", ("secteur", "tranche", "sexe")),
    ("etablissements_employeurs", "comptage", ("secteur", "tranche")),
)
CHAMP_TABLE_MAGNITUDES = (
    ("effectif_31_12", "montant", ("secteur", "tranche", "sexe")),
    ("etp", "montant", ("secteur", "tranche", "sexe")),
    ("masse_salariale_brute", "montant", ("secteur", "tranche", "sexe")),
)


@dataclass
class ChampTable:
    """One table along the champ tree: cells ``(column, champ)`` — the column a territory (the région and its
    départements) or a category of one breakdown (and its total) — with their published values (``None``:
    hidden or never published), equations, whether each unknown must not be found (``watched``: hidden
    published cells, and internal cells that break a primary rule) and each cell's ``KEY`` (``key``)."""

    indicateur: str
    name: str
    values: dict
    equations: list
    watched: dict
    key: dict


def champ_tables(
    published: pd.DataFrame,
    cells: pd.DataFrame,
    departements: pd.DataFrame,
    indicateurs=CHAMP_TABLE_COUNTS,
    zero_keys: frozenset = frozenset(),
):
    """The 2-D tables along the champ tree, for each of ``indicateurs``: per région, (région, départements) ×
    champs; per région and département, (a breakdown's categories and total) × champs. Only tables with a
    hidden cell. A headcount that is 0 in the microdata is 0 by definition (every establishment is in size
    band 0, visible from which cells exist), as on the protection side; not its ETP or pay."""
    region_of = dict(zip(departements.code_departement, departements.code_region))
    deps_of = departements_of(region_of)
    micro = cells[cells.niveau.isin(["region", "departement"]) & (cells.famille == DEFAULTS["famille"])]
    micro = micro[micro.champ.isin(["_sce", "_oth"])]
    pub = published[
        published.niveau.isin(["region", "departement"])
        & (published.famille == DEFAULTS["famille"])
        & (published.pcs == DEFAULTS["pcs"])
    ]
    for indicateur, nature, dims in indicateurs:
        rows = pub[pub.indicateur == indicateur]
        known = {
            k: (float(v) if st == "publie" else None)
            for k, v, st in zip(_key_tuples(rows), rows.valeur, rows.statut)
        }
        secret = magnitude_secret(micro) if nature == "montant" else too_few(micro.n_etab)
        internal = _key_tuples(micro)
        # a secret internal cell must not be determined; the others are unknowns that protect nothing
        watched = {k for k, v in known.items() if v is None}
        watched |= {k for k, s in zip(internal, secret) if s}
        known.update(dict.fromkeys(internal))
        if indicateur == "effectif_31_12":
            for k in zero_keys & known.keys():
                known[k] = 0.0
        frame = pd.DataFrame(list(known), columns=KEY, dtype=object)
        frame["v"] = pd.Series(list(known.values()), dtype=object)
        frame["w"] = [k in watched for k in known]
        frame["k"] = pd.Series(list(known), dtype=object)  # each row's KEY, as a tuple
        frame["region"] = np.where(frame.niveau == "region", frame.code, frame.code.map(region_of))
        for dim in (None, *dims):
            sub = frame
            for d in FLAT:
                if d != dim:
                    sub = sub[sub[d] == DEFAULTS[d]]
            groups = sub.groupby("region", sort=True) if dim is None else sub.groupby(["niveau", "code"])
            for name, g in groups:
                keys = list(zip(g.code if dim is None else g[dim], g.champ))
                values = dict(zip(keys, g.v))
                if not any(v is None for v in values.values()):
                    continue
                if dim is None:  # columns: the région (total) and its départements
                    head, members = name, deps_of.get(name, [])
                else:  # columns: the breakdown's total and its categories
                    head, members = DEFAULTS[dim], sorted({c for c in g[dim] if c != DEFAULTS[dim]})
                if not members:
                    continue
                yield ChampTable(
                    indicateur,
                    f"{indicateur}, champs, {dim or 'territoire'}, {name}",
                    values,
                    _champ_table_equations(_AUDIT_TREE, head, members, values),
                    dict(zip(keys, g.w)),
                    dict(zip(keys, g.k)),
                )


def _lp_checks_bands(
    published: pd.DataFrame,
    departements: pd.DataFrame,
    report: AuditReport,
    zero_keys: frozenset = frozenset(),
) -> list:
    """The age pyramid (:func:`band_tables`): no hidden band or headcount may be determined by the published
    ones. Returns the tables (:class:`BandTable`)."""
    built = list(band_tables(published, departements, zero_keys))
    for t in built:
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None for v in t.values.values()))
    _report_determined([(t.name, t.values, t.equations, t.unwatched) for t in built], report)
    return built


@dataclass
class BandTable:
    """One age pyramid: cells ``(code, indicateur)``, their published values (``None``: hidden, or the jobs of
    unknown age), equations, the unknowns that protect nothing (``unwatched``: jobs of unknown age) and each
    cell's ``(indicateur, *KEY)`` (``key``)."""

    name: str
    values: dict
    equations: list
    unwatched: set
    key: dict


def band_tables(published: pd.DataFrame, departements: pd.DataFrame, zero_keys: frozenset = frozenset()):
    """The age pyramids: per champ, sexe and région, the table départements (and région) × age bands with
    the headcount as total, when one of its cells is hidden. A cell with no job at 31/12 (``zero_keys``) has
    a known pyramid of zeros."""
    codes = [f"effectif_{b}" for b in AGE_BANDS]
    unpublished = f"effectif_{AGE_BAND_UNPUBLISHED}"
    region_of = dict(zip(departements.code_departement, departements.code_region))
    t = published[published.indicateur.isin([*codes, "effectif_31_12"])]
    t = t[t.niveau.isin(["region", "departement"])]
    for dim in ("famille", "secteur", "tranche", "pcs"):
        t = t[t[dim] == DEFAULTS[dim]]
    if not t.indicateur.isin(codes).any():
        return
    t = t.assign(region=np.where(t.niveau == "region", t.code, t.code.map(region_of)))
    for (champ, sexe, region), g in t.groupby(["champ", "sexe", "region"], sort=True):
        if (g.statut == "publie").all():
            continue
        zero = [k in zero_keys for k in _key_tuples(g)]
        values = {
            (c, i): (0.0 if z else float(v) if st == "publie" else None)
            for c, i, v, st, z in zip(g.code, g.indicateur, g.valeur, g.statut, zero)
        }
        deps = sorted(d for d, r in region_of.items() if r == region)
        geos = [region, *deps]
        # jobs of unknown age: an unknown ≥ 0 of each territory, never watched (it is no published figure)
        for c in geos:
            values.setdefault((c, unpublished), 0.0 if values.get((c, "effectif_31_12")) == 0.0 else None)
        eqs = [([(c, i) for i in [*codes, unpublished]], (c, "effectif_31_12")) for c in geos]
        eqs += [([(d, i) for d in deps], (region, i)) for i in [*codes, unpublished, "effectif_31_12"]]
        flat = dict(DEFAULTS, champ=champ, sexe=sexe)
        key = {
            (c, i): (i, *(dict(flat, niveau="region" if c == region else "departement", code=c)[k] for k in KEY))
            for c in geos
            for i in [*codes, unpublished, "effectif_31_12"]
        }
        yield BandTable(f"age pyramid, {champ}, {sexe}", values, eqs, {(c, unpublished) for c in geos}, key)


def check_champ_intervals(
    published: pd.DataFrame,
    cells: pd.DataFrame,
    departements: pd.DataFrame,
    report: AuditReport,
    zero_keys: frozenset = frozenset(),
) -> list:
    """The champ tables (:func:`champ_tables`) of the headcounts, the ETP and the payroll, bounded as the
    one-champ tables are: every hidden primary headcount against its protection level
    (:func:`~observatory.audit.intervals.bound_against_levels`, into ``report.interval_*``), the hidden ETP
    and payroll with the published values as their rounding intervals
    (:func:`~observatory.audit.rounding.check_systems`, into ``report.rounded_*``). Both blocking. Returns the
    champ tables of the ETP and the payroll (for :func:`observatory.audit.joint.check_joint_rounded`)."""
    tables = list(champ_tables(published, cells, departements, CHAMP_TABLE_MAGNITUDES, zero_keys))
    heads = [t for t in tables if t.indicateur == "effectif_31_12"]
    if heads:
        primary, truth = primary_headcounts(published, cells)
        systems = [(t.name, t.values, t.equations, t.key) for t in heads]
        checked, narrow = bound_against_levels(systems, primary, truth, "hidden primary headcount")
        report.interval_checked += checked
        report.interval_narrow += narrow
    magnitudes = [t for t in tables if t.indicateur != "effectif_31_12"]
    systems = [(t.name, t.indicateur, t.values, t.equations, t.key) for t in magnitudes]
    check_systems(systems, published, cells, report)
    return magnitudes
