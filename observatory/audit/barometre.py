"""The audit of the baromètre table (``ind.barometre``): no hidden quarterly headcount determined, and — given
the quarterly file (:func:`quarter_cells`) — none bounded more closely than its protection level."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from observatory.audit.intervals import bound_against_levels
from observatory.audit.lp import determined_cells, free_cells_many
from observatory.audit.report import AuditReport
from observatory.audit.rules import DEFAULTS, departements_of
from observatory.audit.tables import _AUDIT_TREE, _champ_table_equations
from observatory.warehouse import sql_text

_EFFECTIFS = ["siret", "trimestre", "effectif_fin_trimestre"]
_ETABLISSEMENTS = ["siret", "code_departement", "code_region", "famille_ess", "secteur", "ess", "public"]


def quarter_cells(effectifs: pd.DataFrame, etabs: pd.DataFrame) -> dict:
    """Value and largest establishment of every baromètre headcount cell, recomputed from the quarterly file
    (``siret, trimestre, effectif_fin_trimestre``) and the classified establishments (``siret,
    code_departement, code_region, famille_ess, secteur, ess, public``) by the audit's own SQL
    (``sql/audit/barometre_trimestres.sql``: the field and the cells are stated there), apart from the
    protection's.

    Returns ``{(niveau, code, champ, famille, secteur, trimestre): (value, max)}`` for the régions and
    départements, without breakdown, by family and by sector; champs ESS, privé hors ESS, privé, public.
    """
    con = duckdb.connect()
    try:
        con.register("_audit_effectifs", effectifs[_EFFECTIFS])
        con.register("_audit_etablissements", etabs[_ETABLISSEMENTS])
        return _quarter_cells(con)
    finally:
        con.close()


def quarter_cells_of(con) -> dict:
    """:func:`quarter_cells` on the warehouse (the staged quarterly file and ``ess.etablissements``), summed
    where they are (the 22 M quarterly rows of France never come into memory)."""
    views = {
        "_audit_effectifs": ("staging.effectifs_trimestriels", _EFFECTIFS),
        "_audit_etablissements": ("ess.etablissements", _ETABLISSEMENTS),
    }
    for view, (table, columns) in views.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(columns)} FROM {table}")
    try:
        return _quarter_cells(con)
    finally:
        for view in views:
            con.execute(f"DROP VIEW IF EXISTS {view}")


def _quarter_cells(con) -> dict:
    cells = con.sql(sql_text("audit/barometre_trimestres.sql")).fetchnumpy()
    keys = zip(
        *(cells[k].tolist() for k in ("niveau", "code", "champ", "famille", "secteur", "trimestre")),
        strict=True,
    )
    values = zip(cells["valeur"].tolist(), cells["plus_grand"].tolist(), strict=True)
    return dict(zip(keys, values, strict=True))


def audit_barometre(
    published: pd.DataFrame, departements: pd.DataFrame, truth: dict | None = None
) -> AuditReport:
    """LP audit of a baromètre table (``ind.barometre``): no hidden headcount of a quarter is determined.

    For each quarter, champ and breakdown (families of the ESS, sectors, or none) and each région with its
    départements, the headcounts published — ``effectif_fin_trimestre``, and the year-before headcount
    that a published ``solde_annuel`` gives away (effectif(T) − solde(T)) — bound every hidden one under the
    table's equations (min/max LP, :func:`lp_bounds`). Mayotte (outside the source's field) is left out.
    With ``truth`` (:func:`quarter_cells`), every hidden primary headcount of the région × breakdown tables and
    of the champ tables is also bounded against its protection level (NK(1,85) or 10 %,
    :mod:`observatory.audit.intervals`): blocking, as for the annual table.
    """
    report = AuditReport()
    region_of = dict(zip(departements.code_departement, departements.code_region))
    t = published[published.niveau.isin(["region", "departement"]) & (published.statut != "non_disponible")]
    eff = t[t.indicateur == "effectif_fin_trimestre"]
    key = ["niveau", "code", "champ", "famille", "secteur"]
    known = {
        (*r[:5], r[5]): (None if r[6] != "publie" else float(r[7]))
        for r in eff[[*key, "trimestre", "statut", "valeur"]].itertuples(index=False)
    }
    solde = t[(t.indicateur == "solde_annuel") & (t.statut == "publie")]
    for r in solde[[*key, "trimestre", "valeur"]].itertuples(index=False):
        now = known.get((*r[:5], r[5]))
        y, n = int(r[5][:4]), r[5][-1]
        before = (*r[:5], f"{y - 1}-T{n}")
        if now is not None and known.get(before, 0.0) is None:
            known[before] = now - float(r[6])
    cells = pd.DataFrame([(*k, v) for k, v in known.items()], columns=[*key, "trimestre", "v"])
    report.published_checked = int(cells.v.notna().sum())
    primary = {
        (*r[:5], r[5])
        for r in eff[eff.statut == "secret_primaire"][[*key, "trimestre"]].itertuples(index=False)
    }
    _lp_tables(cells, region_of, report, report.recoverable, (primary, truth) if truth is not None else None)
    return report


def _lp_tables(
    cells: pd.DataFrame, region_of: dict, report: AuditReport, findings: list, levels: tuple | None = None
) -> None:
    """Every LP table of the baromètre (:func:`audit_barometre`) over ``cells`` (key, ``trimestre``, ``v``,
    None when hidden): each hidden cell determined exactly is appended to ``findings``."""
    cells = cells.copy()
    cells["region"] = np.where(cells.niveau == "region", cells.code, cells.code.map(region_of))
    tables, keys = [], []
    for dim, other in (("famille", "secteur"), ("secteur", "famille"), (None, None)):
        sub = cells if dim is None else cells[cells[other] == DEFAULTS[other]]
        if dim is None:
            sub = sub[(sub.famille == DEFAULTS["famille"]) & (sub.secteur == DEFAULTS["secteur"])]
        for (trimestre, champ, region), g in sub.groupby(["trimestre", "champ", "region"], sort=True):
            if region == "06" or not g.v.isna().any():
                continue
            col = g[dim] if dim else pd.Series("t", index=g.index)
            total = DEFAULTS[dim] if dim else "t"
            values = {(c, x): (None if pd.isna(v) else v) for c, x, v in zip(g.code, col, g.v)}
            cats = sorted({x for x in col if x != total})
            deps = sorted(d for d, r in region_of.items() if r == region)
            eqs = [([(d, x) for d in deps], (region, x)) for x in [*cats, total]]
            if cats:
                eqs += [([(c, x) for x in cats], (c, total)) for c in [region, *deps]]
            tables.append((f"{trimestre}, {champ}, {dim}", values, eqs))
            keys.append({(c, x): _cell_key(c, x, region, champ, dim, trimestre) for c, x in values})
    _determined_in(tables, report, findings)
    systems = [(name, values, eqs, key) for (name, values, eqs), key in zip(tables, keys, strict=True)]
    systems += _barometre_champ_tables(cells, region_of, report, findings)
    if levels is not None:
        checked, narrow = bound_against_levels(systems, *levels, "hidden baromètre headcount")
        report.interval_checked += checked
        report.interval_narrow += narrow


def _cell_key(code, x, region, champ, dim, trimestre) -> tuple:
    """The published key of cell ``(code, x)`` of a région table along ``dim``."""
    famille = x if dim == "famille" else DEFAULTS["famille"]
    secteur = x if dim == "secteur" else DEFAULTS["secteur"]
    return ("region" if code == region else "departement", code, champ, famille, secteur, trimestre)


def _barometre_champ_tables(
    cells: pd.DataFrame, region_of: dict, report: AuditReport, findings: list
) -> list:
    """The baromètre's tables along the champ tree (privé = ESS + privé hors ESS…), per quarter: (région,
    départements) × champs, and per territory (sectors and their total) × champs. Their hidden cells determined
    exactly go to ``findings``; returns the tables as ``(name, values, equations, published key of each cell)``,
    for the protection levels' check."""
    present = set(cells.champ)
    tree = [(t, parts) for t, parts in _AUDIT_TREE if {t, *parts} <= present]
    if not tree:
        return []
    deps_of = departements_of(region_of)
    t = cells[(cells.famille == DEFAULTS["famille"]) & (cells.region != "06")]
    secteur = DEFAULTS["secteur"]
    plain = t[t.secteur == secteur]
    tables = [
        (f"{q}, région {r}", g.code, r, deps_of.get(r, []), g)
        for (q, r), g in plain.groupby(["trimestre", "region"], sort=True)
    ]
    tables += [
        (f"{q}, {niveau} {code}, secteurs", g.secteur, secteur, sorted(set(g.secteur) - {secteur}), g)
        for (q, niveau, code), g in t.groupby(["trimestre", "niveau", "code"], sort=True)
    ]
    systems, keys = [], []
    for name, col, head, members, g in tables:
        values = {k: (None if pd.isna(v) else float(v)) for k, v in zip(zip(col, g.champ), g.v)}
        if not members or not any(v is None for v in values.values()):
            continue
        systems.append((f"{name}, champs", values, _champ_table_equations(tree, head, members, values)))
        rows = g[["niveau", "code", "champ", "famille", "secteur", "trimestre"]].itertuples(
            index=False, name=None
        )
        keys.append(dict(zip(zip(col, g.champ), rows, strict=True)))
    _determined_in(systems, report, findings)
    return [(name, values, eqs, key) for (name, values, eqs), key in zip(systems, keys, strict=True)]


def _determined_in(tables: list, report: AuditReport, findings: list) -> None:
    """Each ``(name, values, equations)`` table checked: its hidden cells determined exactly are findings.
    The cells most tables leave free are cleared by one joint LP (:func:`free_cells_many`)."""
    frees = free_cells_many([(values, eqs) for _, values, eqs in tables])
    for (name, values, eqs), free in zip(tables, frees, strict=True):
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None for v in values.values()))
        for cell, v in determined_cells(values, eqs, free=free).items():
            findings.append(f"hidden baromètre cell determined exactly ({name}): {cell} = {v:g}")
