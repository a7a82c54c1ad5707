"""τ-Argus on the core tables: territory × champ tree, territory × family tree (step 1 of the protection)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError
from observatory.secrecy.rules import _MEMBERS, DEFAULTS, KEY, PUBLIE, SECONDAIRE

EPCI_CHUNK = 200


@dataclass(frozen=True)
class TableSpec:
    """One τ-Argus table: territory tree × (champ tree | family tree | one champ's crossing), one nature."""

    geo: str  # "dep" or "epci"
    var: str  # "ch" (champ tree), "fam" (family tree) or a champ code (table restricted to that champ)
    crossing: str | None  # None, "secteur", "tranche", "sexe", "pcs", "pcs_sexe" (only with a champ code)
    nature: str  # "montant" (response ETP) or "comptage" (response 1 per establishment)

    @property
    def name(self) -> str:
        return f"{self.nature}_{self.geo}_{self.var}_{self.crossing or 'total'}"


#: Tables protected by τ-Argus (territory, second variable), run once per nature in this order.
TAUARGUS_TABLES = [("dep", "fam", None), ("dep", "ch", None)]
#: Modular, at most 1 minute per subtable (the core tables take well under a second; a run reaching the
#: limit would make the mask depend on the machine's speed).
TAUARGUS_SUPPRESS = "MOD(1,1,1,1,0)"
TAUARGUS_TIMEOUT = 120  # seconds for one table (child process); beyond it the build fails
#: τ-Argus complements at or above this :func:`importance` tier (a département's privé total, the ESS /
#: privé hors ESS totals, a région's champ totals) are not kept: the engine's Modular step ignores cell costs
#: (a-priori ``C`` lines change the reported cost, not the choice; checked on the sample) and hid those
#: headline totals to protect thin cells. The closure and the 2-D repair, which follow the importance order,
#: choose the complements of those cells instead; the audit proves the result.
TAUARGUS_RELEASE_TIER = 6


@dataclass
class _Var:
    """A τ-Argus explanatory variable: fixed-width codes, parent links, and the cell keys each code means."""

    name: str
    leaf_of: dict = field(default_factory=dict)  # our value -> leaf code
    parent: dict = field(default_factory=dict)  # code -> parent code (None under Total)
    keys: dict = field(default_factory=dict)  # code -> list of partial key dicts ("Total" included)

    def ancestors(self, code: str) -> list[str]:
        out = [code]
        while self.parent.get(out[-1]) is not None:
            out.append(self.parent[out[-1]])
        return out + ["Total"]

    def write_hrc(self, path: Path) -> str | None:
        if not any(p is not None for p in self.parent.values()):
            return None
        children: dict = {}
        for code, par in self.parent.items():
            children.setdefault(par, []).append(code)
        lines: list[str] = []

        def walk(node, depth):
            for child in sorted(children.get(node, [])):
                lines.append("@" * depth + child)
                walk(child, depth + 1)

        walk(None, 0)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)


def _codes(prefix: str, values) -> dict:
    return {v: f"{prefix}{i:04d}" for i, v in enumerate(sorted(values))}


def _geo_var(kind: str, contrib: pd.DataFrame) -> tuple[_Var, pd.Series]:
    var = _Var("geo", keys={"Total": [{"niveau": "france", "code": "FR"}]})
    if kind == "dep":
        pairs = contrib[["code_region", "code_departement"]].drop_duplicates().fillna("?")
        regs = _codes("R", pairs.code_region.unique())
        deps = _codes("D", pairs.code_departement.unique())
        for r, c in regs.items():
            var.parent[c] = None
            var.keys[c] = [] if r == "?" else [{"niveau": "region", "code": r}]
        for r, d in pairs.itertuples(index=False):
            var.parent[deps[d]] = regs[r]
            var.keys[deps[d]] = [] if d == "?" else [{"niveau": "departement", "code": d}]
        leaf = contrib.code_departement.fillna("?").map(deps)
    else:
        epcis = sorted(contrib.code_epci.fillna("?").unique())
        codes = _codes("E", epcis)
        grouped = len(epcis) > EPCI_CHUNK  # groups of <= 200 EPCI keep each level within τ-Argus limits
        for i, e in enumerate(epcis):
            group = f"G{i // EPCI_CHUNK:04d}" if grouped else None
            if grouped:
                var.parent[group] = None
                var.keys[group] = []
            var.parent[codes[e]] = group
            var.keys[codes[e]] = [] if e == "?" else [{"niveau": "epci", "code": e}]
        leaf = contrib.code_epci.fillna("?").map(codes)
    return var, leaf


def _champ_var(contrib: pd.DataFrame) -> tuple[_Var, pd.Series]:
    var = _Var("ch")
    var.parent = {"PUB": None, "PRI": None, "ESS": "PRI", "PHE": "PRI", "SCE": "PHE", "OTH": "PHE"}
    var.keys = {
        "Total": [{"champ": "ensemble"}],
        "PUB": [{"champ": "public"}],
        "PRI": [{"champ": "prive"}],
        "ESS": [{"champ": "ess"}],
        "PHE": [{"champ": "prive_hors_ess"}],
        "SCE": [{"champ": "_sce"}],
        "OTH": [{"champ": "_oth"}],
    }
    leaf = np.select(
        [contrib.public, contrib.ess, contrib.ess_loi_2014], ["PUB", "ESS", "SCE"], default="OTH"
    )
    return var, pd.Series(leaf, index=contrib.index)


def _famille_var(contrib: pd.DataFrame) -> tuple[_Var, pd.Series]:
    bad = contrib[
        (contrib.ess & ~contrib.ess_loi_2014)
        | (contrib.ess & (contrib.famille_ess == "societe_commerciale_ess"))
        | (contrib.ess_loi_2014 & ~contrib.ess & (contrib.famille_ess != "societe_commerciale_ess"))
    ]
    if len(bad):
        raise SecrecyError(
            "the family table assumes ess ⊂ ess_loi_2014 and ess_loi_2014 \\ ess = societe_commerciale_ess; "
            f"{len(bad)} contributions break it (e.g. siret {bad.siret.iloc[0]})"
        )
    fams = _codes("F", contrib.loc[contrib.ess, "famille_ess"].unique())
    var = _Var("fam", parent={"FESS_": None, "FSCE_": None})  # codes of one width (engine requirement)
    var.keys = {
        "Total": [{"champ": "ess_loi_2014"}],
        "FESS_": [{"champ": "ess"}],
        "FSCE_": [{"champ": "ess_loi_2014", "famille": "societe_commerciale_ess"}, {"champ": "_sce"}],
    }
    for f, c in fams.items():
        var.parent[c] = "FESS_"
        var.keys[c] = [{"champ": "ess", "famille": f}, {"champ": "ess_loi_2014", "famille": f}]
    leaf = contrib.famille_ess.map(fams).where(contrib.ess, "FSCE_")
    return var, leaf


def _crossing_var(crossing: str, contrib: pd.DataFrame) -> tuple[_Var, pd.Series]:
    var = _Var("x", keys={"Total": [{}]})
    if crossing == "pcs_sexe":
        pcs = _codes("P", contrib.pcs.unique())
        for p, c in pcs.items():
            var.parent[c + "T"] = None
            var.keys[c + "T"] = [{"pcs": p}]
            for s in ("F", "H"):
                var.parent[c + s] = c + "T"
                var.keys[c + s] = [{"pcs": p, "sexe": s}]
        leaf = contrib.pcs.map(pcs) + contrib.sexe
        var.keys["Total"] = [{}]
        return var, leaf
    codes = _codes("X", contrib[crossing].unique())
    for v, c in codes.items():
        var.parent[c] = None
        var.keys[c] = [{crossing: v}]
    return var, contrib[crossing].map(codes)


def _records(spec: TableSpec, esp: pd.DataFrame):
    """Microdata for τ-Argus (one record per contributor and leaf cell) and its variables."""
    if spec.var == "ch":
        contrib = esp
    elif spec.var == "fam":
        contrib = esp[esp.ess_loi_2014]
    else:
        contrib = esp[_MEMBERS[spec.var](esp)]
    geo, geo_leaf = _geo_var(spec.geo, contrib)
    cols = {"geo": geo_leaf}
    variables = [geo]
    if spec.var in ("ch", "fam"):
        second, second_leaf = (_champ_var if spec.var == "ch" else _famille_var)(contrib)
        cols[second.name] = second_leaf
        variables.append(second)
    else:
        x, x_leaf = _crossing_var(spec.crossing, contrib)
        for code in list(x.keys):
            x.keys[code] = [dict(k, champ=spec.var) for k in x.keys[code]]
        cols["x"] = x_leaf
        variables.append(x)
    frame = pd.DataFrame(cols)
    frame["siret"] = contrib.siret
    # ETP protects the magnitudes; the size-band table uses jobs at 31/12 instead, because its band "0"
    # has no job at 31/12 by definition and so cannot protect the other bands' headcounts.
    quantity = "effectif" if spec.crossing == "tranche" else "etp"
    frame["resp"] = contrib[quantity].astype("float64") if spec.nature == "montant" else 1.0
    group = [v.name for v in variables] + ["siret"]
    agg = "sum" if spec.nature == "montant" else "max"
    rec = frame.groupby(group, sort=True).resp.agg(agg).reset_index().drop(columns="siret")
    rec["resp"] = rec.resp.round(2)
    return rec, variables


def _cell_keys(variables: list[_Var], codes: tuple) -> list[tuple]:
    parts = [v.keys.get(c, []) for v, c in zip(variables, codes)]
    out = []
    for combo in itertools.product(*parts):
        key = dict(DEFAULTS)
        for p in combo:
            key.update(p)
        if "niveau" in key and "champ" in key:
            out.append(tuple(key[k] for k in KEY))
    return out


def _run_table(spec: TableSpec, esp: pd.DataFrame, status: dict, workdir: Path) -> int:
    """Run τ-Argus on one table; mark new secondary cells in ``status``; return how many were added."""
    rec, variables = _records(spec, esp)
    if rec.empty:
        return 0
    stats = _cell_stats(rec, variables)
    # primary cells, and cells hidden by another table (linked tables: they need protection here)
    unsafe = [
        cell
        for cell in sorted(stats)
        if any(status[k] != PUBLIE for k in _cell_keys(variables, cell) if k in status)
    ]
    if not unsafe:
        return 0
    implied_cells = _implied(unsafe, stats, variables)
    wd = workdir / spec.name
    wd.mkdir(parents=True, exist_ok=True)
    try:
        out_status = _run_engine(rec, variables, [c for c in unsafe if c not in implied_cells], wd)
    except Exception as exc:
        raise SecrecyError(f"τ-Argus failed on table {spec.name}: {exc}") from exc
    # An implied cell stays hidden all the same (it is primary or already hidden in ``status``): τ-Argus may
    # report it safe, the equation closure (:func:`_close`) then protects it in every margin it sits in.
    lost = [c for c in unsafe if c not in implied_cells and out_status.get(c) not in ("U", "M")]
    if lost:
        raise SecrecyError(
            f"τ-Argus did not keep {len(lost)} primary cells of {spec.name} unsafe: {lost[:3]}"
        )
    added = 0
    for cell, st in out_status.items():
        if st in ("M", "U"):
            for k in _cell_keys(variables, cell):
                if k in status and status[k] == PUBLIE:
                    status[k] = SECONDAIRE
                    added += 1
    return added


def _cell_stats(rec: pd.DataFrame, variables: list) -> dict:
    """``(records, total)`` of every cell of the table: the leaf cells (vectorised), then their ancestors."""
    names = [v.name for v in variables]
    leaves = rec.groupby(names, sort=True).resp.agg(["size", "sum"])
    stats: dict = {}
    for codes, n_leaf, total_leaf in leaves.itertuples(name=None):
        codes = codes if isinstance(codes, tuple) else (codes,)
        for cell in itertools.product(*[v.ancestors(c) for v, c in zip(variables, codes)]):
            n, total = stats.get(cell, (0, 0.0))
            stats[cell] = (n + int(n_leaf), total + total_leaf)
    return {cell: (n, round(total, 2)) for cell, (n, total) in stats.items()}


def _implied(unsafe: list, stats: dict, variables: list) -> set:
    """The unsafe cells equal to one of their unsafe children (the siblings are empty): implied by it. Marking
    both crashes the engine, and τ-Argus hides the parent itself; checked after the run."""
    children = [{} for _ in variables]
    for i, v in enumerate(variables):
        for code, par in v.parent.items():
            children[i].setdefault(par if par is not None else "Total", []).append(code)
    unsafe_set = set(unsafe)
    return {
        cell
        for cell in unsafe
        if any(
            (child := cell[:i] + (c,) + cell[i + 1 :]) in unsafe_set and stats[child] == stats[cell]
            for i in range(len(cell))
            for c in children[i].get(cell[i], [])
        )
    }


def _run_engine(rec: pd.DataFrame, variables: list, apriori_cells: list, wd: Path) -> dict:
    """τ-Argus in batch on the records ``rec`` with ``apriori_cells`` marked unsafe, in the folder ``wd``:
    the status of every cell of the table (``U`` primary, ``M`` secondary, ``S`` safe…)."""
    from pytauargus.arb import micro_arb
    from pytauargus.micro import micro_asc_rda
    from pytauargus.result import TableResult

    names = [v.name for v in variables]
    hrc = {v.name: h for v in variables if (h := v.write_hrc(wd / f"{v.name}.hrc"))}
    apriori = wd / "apriori.hst"
    apriori.write_text("\n".join(";".join(cell) + ";U" for cell in apriori_cells) + "\n", encoding="utf-8")
    micro_asc_rda(
        {c: rec[c].tolist() for c in rec.columns},
        asc_filename=str(wd / "micro.asc"),
        rda_filename=str(wd / "micro.rda"),
        hrc=hrc or None,
        hierleadstring="@" if hrc else None,
        decimals=2,
    )
    micro_arb(
        arb_filename=str(wd / "batch.arb"),
        asc_filename=str(wd / "micro.asc"),
        rda_filename=str(wd / "micro.rda"),
        explanatory_vars=[names],
        response_var="resp",
        safety_rules="",
        suppress=TAUARGUS_SUPPRESS,
        output_names=[str(wd / "table.tab")],
        output_type="5",
        output_options="SO+",
        apriori={"hst": [str(apriori)], "sep": ";"},
    )
    done = subprocess.run(  # in a child process: an engine crash must not take the pipeline down
        [
            sys.executable,
            "-c",
            "import sys; from pytauargus.engine import run_batch; run_batch(sys.argv[1])",
            str(wd / "batch.arb"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TAUARGUS_TIMEOUT,
        cwd=wd,  # the engine writes its scratch files in the working directory
    )
    if done.returncode != 0:
        raise RuntimeError(f"engine exit code {done.returncode}: {done.stderr.strip()[-300:]}")
    out = TableResult(path=str(wd / "table.tab"), exp_vars=names, response="resp", is_freq=False).dataframe()
    return {tuple(str(r[n]).strip() for n in names): r["status"] for _, r in out.iterrows()}
