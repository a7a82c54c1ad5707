"""Statistical secrecy: primary rules, secondary suppression (τ-Argus) and the independent audit.

Primary rules (INSEE, ``shared/domain/secrecy.md``), applied per cell of ``ind.cellules``:

- **frequency**: a cell built from 1 or 2 units is secret (establishments; enterprises for the enterprise
  count); 0 units is an empty cell, not secret;
- **dominance**: a magnitude is secret when its largest establishment contributes strictly more than 85 %
  (``MAX > 0.85 × VALUE``, computed as ``20·MAX > 17·VALUE`` to stay exact at the boundary);
- **employment and pay cells** (Base Tous salariés): at least 3 establishments, at least 5 jobs (non-annex),
  no single job above 80 % of the cell's gross or net pay, and no establishment above 85 % of **each**
  quantity (jobs at 31/12, ETP, hours, gross and net pay). All magnitudes of one cell share that statut;
- sub-population counts (part-time, fixed-term, aged 50+ jobs) take the frequency and dominance rules;
- women-only and men-only cells are cells of their own (the ``sexe`` breakdown).

Secondary suppression — which engine protects which table, and why:

1. **τ-Argus** (``pytauargus``, Modular ``MOD(1,1,1,1,0)``, HiGHS; recipe of ``shared/domain/secrecy.md``)
   protects the core tables, territory France > région > département × family tree (ESS loi 2014 > ESS >
   families, sociétés commerciales) and × champ tree (ensemble > public, privé > ESS, privé hors ESS >
   sociétés commerciales de l'ESS, autres), for magnitudes (ETP) and establishment counts: 4 runs, each
   under a second on the sample warehouse and the same size for all of France (table size, not the
   number of contributors, drives the Modular time). Our primary cells go in as a-priori unsafe (``U``),
   except a cell implied by an equal primary child (passing both crashes the engine): it stays hidden all
   the same and step 2 protects it. Each table runs once, in its own child process and folder (the
   engine's working directory; scratch files never land in the repository), with a time limit.
2. **Equation closure** (Python, deterministic, no solver) for everything else and for the links between
   tables: every additive equation between cells — territory (département → région → France, EPCI →
   France, unknown territory included), champ tree, ESS loi 2014 = ESS + sociétés commerciales, famille,
   secteur, tranche, sexe, pcs (so pcs × sexe, famille × sexe, secteur × sexe, and every champ of every
   crossing) — holding exactly one hidden cell gets the smallest other cell hidden, to a fixed point
   (:func:`_close`). τ-Argus was too slow for these (up to 5 minutes per subtable and ten passes over ~40
   tables: more than 6 minutes for one secteur table) and its results were not stable under a time limit.
3. **2-D proof and repair**: the local rule cannot see chains of equations, so each 2-D table (région and
   its départements × one breakdown with its total, per champ: the audit's tables) is checked exactly —
   null space of the hidden columns, plus an LP for cells worth 0 — and, while a hidden cell is fixed, the
   smallest published cell that frees it is hidden; then step 2 runs again (:func:`_repair_tables`).

Which complement: every step hides cells in the order of :func:`importance` — cells never published, then
fine crossings, one-breakdown cells, the ESS loi 2014 total, and the champ totals of a territory last (the
figures every publication leads with), the smallest cell first within a tier. τ-Argus' own choices among
those headline totals are dropped (``TAUARGUS_RELEASE_TIER``: the engine ignores cell costs) and steps 2–3
choose their complements instead. A headcount that is 0 by definition (size band ``0``, and any total made
only of such cells, e.g. one establishment with nobody at 31/12; :func:`structural_zeros`) cannot be hidden
by suppression: such cells protect ETP and pay only, as band ``0`` does, and the audit treats them alike.

Hiding more cells never makes a protected pattern unsafe. Same inputs → same mask (sorted orders, no time-dependent step). Jobs at 31/12 in size band
``0`` are 0 by definition: those cells protect ETP / pay, not headcounts. Cells hidden nowhere published —
internal champs ``_sce`` / ``_oth``, the pcs ``autres``, territories ``_geo_inconnu`` / ``_epci_inconnu``
(establishments without a département / EPCI) — are protected like published ones, since subtraction
gives them away. EPCI cells are published for the champ and family crossings only. When no cell is left
to hide in an equation, the build fails (:class:`SecrecyError`): nothing is published unprotected.
Every cell keeps statut ``publie``, ``secret_primaire`` or ``secret_secondaire`` (codes 0, 2, 1).

Other counts: the age bands (jobs at 31/12 by age) join the headcounts' equations as cells of their own
(they add up to the headcount; :func:`_band_system`); the part-time / fixed-term / 50+ counts (published
through their rates) and the enterprise counts (additive along the champ tree and the families only) are
closed along their own equations (:func:`_secondary_counts`). The baromètre's quarterly headcounts get the
same closure and 2-D repair (:func:`protect_additive`) and their own blocking audit (:func:`audit_barometre`).

Limitations: the 2-D proof covers the région × breakdown tables; tables with more than one breakdown, the
champ tree, the sub-population and enterprise counts, and the age bands are protected by the closure (no
equation with exactly one hidden cell), not proven by an LP.
"""

from __future__ import annotations

import itertools
import logging
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from observatory.errors import SecrecyError

log = logging.getLogger(__name__)

KEY = ["niveau", "code", "champ", "famille", "secteur", "tranche", "sexe", "pcs"]
DEFAULTS = {"famille": "toutes", "secteur": "tous", "tranche": "toutes", "sexe": "tous", "pcs": "toutes"}
NATURES = ["comptage", "entreprises", "montant", "temps_partiel", "cdd", "age50"]
PUBLIE, SECONDAIRE, PRIMAIRE = 0, 1, 2
STATUTS = {PUBLIE: "publie", SECONDAIRE: "secret_secondaire", PRIMAIRE: "secret_primaire"}
MIN_UNITS = 3
#: Jobs at 31/12 by age band (the age pyramid); the bands add up to ``effectif`` (jobs at 31/12).
AGE_BANDS = ["age_moins_25", "age_25_34", "age_35_44", "age_45_54", "age_55_plus"]
MIN_SALARIES = 5
EPCI_CHUNK = 200


# --------------------------------------------------------------------------------------------- primary


def frequency_secret(freq) -> pd.Series:
    """Frequency rule: 1 or 2 contributing units is secret; 0 (an empty cell) is not."""
    freq = pd.Series(freq, dtype="float64")
    return (freq >= 1) & (freq < MIN_UNITS)


def dominance_secret(max_contribution, value) -> pd.Series:
    """Dominance rule: the largest contributor strictly above 85 % of the cell (``20·MAX > 17·VALUE``)."""
    m = pd.Series(max_contribution, dtype="float64").fillna(0)
    v = pd.Series(value, dtype="float64").fillna(0)
    return (v > 0) & (m * 20 > v * 17)


def employee_share_secret(max_job_pay, payroll) -> pd.Series:
    """BTS rule: one job strictly above 80 % of the cell's payroll (``5·MAX > 4·PAYROLL``)."""
    m = pd.Series(max_job_pay, dtype="float64").fillna(0)
    v = pd.Series(payroll, dtype="float64").fillna(0)
    return (v > 0) & (m * 5 > v * 4)


def montant_secret(c: pd.DataFrame) -> pd.Series:
    """BTS employment-and-pay rule set for the magnitudes of a cell (see the module docstring)."""
    n_etab = c["n_etab"].astype("float64")
    n_sal = c["n_salaries"].astype("float64").fillna(0)
    secret = (n_etab > 0) & (n_etab < MIN_UNITS)
    secret |= (n_etab > 0) & (n_sal < MIN_SALARIES)
    secret |= employee_share_secret(c["max_poste_brut"], c["masse"])
    secret |= employee_share_secret(c["max_poste_net"], c["s_net"])
    for q in ("effectif", "etp", "masse", "nbheur", "s_net"):
        secret |= dominance_secret(c[f"max_{q}"], c[q])
    return secret.fillna(False).astype(bool)


def primary(cells: pd.DataFrame) -> pd.DataFrame:
    """Primary secrecy flags per cell and nature (``p_<nature>`` booleans), from the cell columns."""
    out = cells[KEY].copy()
    out["p_comptage"] = frequency_secret(cells["n_etab"]).to_numpy()
    out["p_entreprises"] = frequency_secret(cells["n_ent"]).to_numpy()
    out["p_montant"] = montant_secret(cells).to_numpy()
    for sub in ("temps_partiel", "cdd", "age50", *AGE_BANDS):
        out[f"p_{sub}"] = (
            frequency_secret(cells[f"freq_{sub}"]) | dominance_secret(cells[f"max_{sub}"], cells[sub])
        ).to_numpy()
    return out


# ------------------------------------------------------------------------------------------- secondary


CHAMPS_PUBLIES = ["ensemble", "public", "prive", "ess", "prive_hors_ess", "ess_loi_2014"]
_MEMBERS = {
    "ensemble": lambda c: pd.Series(True, index=c.index),
    "public": lambda c: c.public,
    "prive": lambda c: ~c.public,
    "ess": lambda c: c.ess,
    "prive_hors_ess": lambda c: ~c.public & ~c.ess,
    "ess_loi_2014": lambda c: c.ess_loi_2014,
}


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
    from pytauargus.arb import micro_arb
    from pytauargus.micro import micro_asc_rda
    from pytauargus.result import TableResult

    rec, variables = _records(spec, esp)
    if rec.empty:
        return 0
    names = [v.name for v in variables]
    wd = workdir / spec.name
    wd.mkdir(parents=True, exist_ok=True)
    hrc = {v.name: h for v in variables if (h := v.write_hrc(wd / f"{v.name}.hrc"))}
    # (records, total) of every cell: leaf cells first (vectorised), then their ancestors
    leaves = rec.groupby(names, sort=True).resp.agg(["size", "sum"])
    stats: dict = {}
    for codes, n_leaf, total_leaf in leaves.itertuples(name=None):
        codes = codes if isinstance(codes, tuple) else (codes,)
        for cell in itertools.product(*[v.ancestors(c) for v, c in zip(variables, codes)]):
            n, total = stats.get(cell, (0, 0.0))
            stats[cell] = (n + int(n_leaf), total + total_leaf)
    stats = {cell: (n, round(total, 2)) for cell, (n, total) in stats.items()}
    unsafe = []  # primary cells, and cells hidden by another table (linked tables: they need protection here)
    for cell in sorted(stats):
        keys = [k for k in _cell_keys(variables, cell) if k in status]
        if any(status[k] != PUBLIE for k in keys):
            unsafe.append(cell)
    if not unsafe:
        return 0
    # A primary cell equal to one of its primary children (the siblings are empty) is implied by it;
    # marking both crashes the engine, and τ-Argus hides the parent itself. Checked after the run.
    children = [{} for _ in variables]
    for i, v in enumerate(variables):
        for code, par in v.parent.items():
            children[i].setdefault(par if par is not None else "Total", []).append(code)
    unsafe_set = set(unsafe)
    lines = []
    implied_cells = set()
    for cell in unsafe:
        implied = any(
            (child := cell[:i] + (c,) + cell[i + 1 :]) in unsafe_set and stats[child] == stats[cell]
            for i in range(len(cell))
            for c in children[i].get(cell[i], [])
        )
        if implied:
            implied_cells.add(cell)
        else:
            lines.append(";".join(cell) + ";U")
    apriori = wd / "apriori.hst"
    apriori.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
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
        out = TableResult(
            path=str(wd / "table.tab"), exp_vars=names, response="resp", is_freq=False
        ).dataframe()
    except Exception as exc:
        raise SecrecyError(f"τ-Argus failed on table {spec.name}: {exc}") from exc
    out_status = {tuple(str(r[n]).strip() for n in names): r["status"] for _, r in out.iterrows()}
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


# ------------------------------------------------------------------------------ equation closure
#
# The published cells are tied by additive equations: a parent cell is the sum of its children along one
# dimension (territory, champ, famille, secteur, tranche, sexe, pcs), the other coordinates fixed. A hidden
# cell alone among the hidden cells of one equation is recomputed by subtraction. The closure hides, in every
# equation holding exactly one hidden cell, the smallest other cell (positive value first, then by value,
# ties by key order), all such equations at once, and repeats until no equation holds exactly one hidden
# cell (a fixed point: only cells are added, so it ends). Deterministic: no solver, no time limit.

_GEO_EDGES = (  # child niveau -> (parent niveau, equation tag)
    ("departement", "region", "geo_region"),
    ("region", "france", "geo_france"),
    ("_geo_inconnu", "france", "geo_france"),
    ("epci", "france", "geo_epci"),
    ("_epci_inconnu", "france", "geo_epci"),
)
_CHAMP_EDGES = (  # child champ -> (parent champ, equation tag), on cells without the famille crossing
    ("public", "ensemble", "ch_ensemble"),
    ("prive", "ensemble", "ch_ensemble"),
    ("ess", "prive", "ch_prive"),
    ("prive_hors_ess", "prive", "ch_prive"),
    ("_sce", "prive_hors_ess", "ch_phe"),
    ("_oth", "prive_hors_ess", "ch_phe"),
    ("ess", "ess_loi_2014", "ch_loi"),
    ("_sce", "ess_loi_2014", "ch_loi"),
)
_FLAT = ("secteur", "tranche", "sexe", "pcs")


def _universe(cells: pd.DataFrame, nature: str) -> np.ndarray:
    """Cells taking part in the equations of a nature (published, or derivable from published cells).

    Establishment counts are published without the sexe / pcs breakdown only (and are not additive over
    it); EPCI cells are published for the champ and famille crossings only — their other crossings are
    neither published nor derivable (each of their equations holds some 1 250 unpublished EPCI).
    """
    ok = np.ones(len(cells), bool)
    if nature == "comptage":
        ok &= (cells.sexe == "tous").to_numpy() & (cells.pcs == "toutes").to_numpy()
    epci = cells.niveau.isin(["epci", "_epci_inconnu"]).to_numpy()
    plain = np.ones(len(cells), bool)
    for dim in _FLAT:
        plain &= (cells[dim] == DEFAULTS[dim]).to_numpy()
    return ok & (~epci | plain)


def equations(cells: pd.DataFrame, region_of: dict) -> pd.DataFrame:
    """Long table ``(eq, cell)`` of the additive equations between ``cells`` (row positions).

    Each equation is one parent cell and its children along one dimension; a child missing from ``cells``
    is an empty cell (0). Edges are only drawn to a parent that exists (was computed).
    """
    c = cells[KEY].reset_index(drop=True)
    # every coordinate as its position among that column's values, a cell's key as one integer: parents are
    # looked up in an integer index (a parent with a coordinate that no cell has does not exist)
    codes, values = {}, {}
    for k in KEY:
        codes[k], uniques = pd.factorize(c[k].to_numpy(), use_na_sentinel=False)
        values[k] = pd.Index(uniques)
    sizes = [len(values[k]) for k in KEY]
    if math.prod(sizes) >= 2**62:
        raise SecrecyError(f"secrecy equations: too many distinct coordinates for an integer key ({sizes})")
    pos = pd.Index(_mixed_radix([codes[k] for k in KEY], sizes))

    def code_of(k: str, v) -> int:
        return int(values[k].get_indexer([v])[0])

    edges = []

    def link(child_mask, tag: str, **parent):
        """Edges from the cells of ``child_mask`` to the cell with the coordinates ``parent`` changed
        (an integer code for all, or one per cell)."""
        idx = np.flatnonzero(child_mask)
        if not len(idx):
            return
        cols, absent = [], np.zeros(len(idx), bool)
        for k in KEY:
            col = parent.get(k, codes[k])
            col = np.full(len(idx), col, np.int64) if np.isscalar(col) else col[idx]
            absent |= col < 0
            cols.append(np.maximum(col, 0))
        par = np.where(absent, -1, pos.get_indexer(_mixed_radix(cols, sizes)))
        keep = par >= 0
        edges.append(pd.DataFrame({"child": idx[keep], "parent": par[keep].astype(np.int64), "tag": tag}))

    for child, par, tag in _GEO_EDGES:
        m = codes["niveau"] == code_of("niveau", child)
        if par == "region":
            code = values["code"].get_indexer(c.code.map(region_of).to_numpy())
        else:
            code = code_of("code", "FR")
        link(m, tag, niveau=code_of("niveau", par), code=code)
    toutes = codes["famille"] == code_of("famille", "toutes")
    champ = codes["champ"]
    for child, par, tag in _CHAMP_EDGES:
        link((champ == code_of("champ", child)) & toutes, tag, champ=code_of("champ", par))
    # famille crossing: ess_loi_2014 × f is ess × f (f an ESS family), ess_loi_2014 × sociétés commerciales
    # is _sce (the same establishments): one-child equations, both hidden or both known.
    loi = code_of("champ", "ess_loi_2014")
    link((champ == code_of("champ", "ess")) & ~toutes, "ch_loi", champ=loi)
    link(
        (champ == code_of("champ", "_sce")) & toutes,
        "ch_loi",
        champ=loi,
        famille=code_of("famille", "societe_commerciale_ess"),
    )
    link(~toutes, "famille", famille=code_of("famille", "toutes"))
    for dim in _FLAT:
        default = code_of(dim, DEFAULTS[dim])
        link(codes[dim] != default, dim, **{dim: default})
    e = pd.concat(edges, ignore_index=True)
    e["eq"] = e.groupby(["parent", "tag"], sort=True).ngroup()
    heads = e.drop_duplicates("eq")[["eq", "parent", "tag"]].rename(columns={"parent": "cell"})
    long = pd.concat(
        [
            heads.assign(sign=-1.0),
            e[["eq", "child", "tag"]].rename(columns={"child": "cell"}).assign(sign=1.0),
        ]
    )
    return long.sort_values(["eq", "cell"], kind="stable").reset_index(drop=True)


def check_equations(long: pd.DataFrame, value: np.ndarray, what: str) -> None:
    """Every equation must hold on ``value`` (an additive quantity): otherwise the system is wrong."""
    r = long.sign.to_numpy() * value[long.cell.to_numpy()]
    gap = pd.Series(r).groupby(long["eq"].to_numpy()).sum().abs()
    if (gap > 1e-6).any():
        eq = gap.idxmax()
        raise SecrecyError(f"secrecy equation {eq} does not add up on {what} (gap {gap.max():g})")


def importance(cells: pd.DataFrame) -> np.ndarray:
    """Importance tier of each cell (0 = hidden first as a complement … 8 = hidden last).

    Secondary suppression must protect thin cells by hiding other thin cells, not the figures every
    publication leads with: the champ totals of a territory. Tiers, from the cheapest complement:

    0. cells never published (internal champs ``_sce`` / ``_oth``, territories ``_geo_inconnu`` /
       ``_epci_inconnu``, the pcs ``autres``);
    1. crossings of two breakdowns (sexe × pcs, famille × sexe, secteur × sexe);
    2. one breakdown (famille, secteur, tranche, sexe, pcs), and EPCI cells;
    3. the ESS loi 2014 total of a territory (a secondary product);
    4. the public total of a département, then 5. its ensemble total, then 6. its privé total — in that
       order so that a hidden public cell is paired with ensemble (then, across départements, with
       another public cell), not with privé, which would pull in the ESS or privé hors ESS total;
    7. the ESS and privé hors ESS totals of a département, the public / privé / ensemble totals of a région
       and of France;
    8. the ESS and privé hors ESS totals of a région and of France.

    Within the breakdown tiers 1 and 2, an ess_loi_2014 cell comes half a tier earlier and a région's or
    France's cell a quarter of a tier later (the tiers are ordered numbers, not labels). Within a tier the
    smallest cell goes first (:func:`_order`).
    """
    n_dims = np.zeros(len(cells), np.int64)
    for dim in ("famille", *_FLAT):
        n_dims += (cells[dim] != DEFAULTS[dim]).to_numpy()
    niveau = cells.niveau.to_numpy()
    champ = cells.champ.to_numpy()
    head = np.isin(champ, ["ess", "prive_hors_ess"])
    top = np.isin(niveau, ["region", "france"])
    dep_rank = np.select([champ == "public", champ == "ensemble"], [4, 5], default=6)
    total = np.select([head & top, head | top], [8, 7], default=dep_rank)
    total = np.where(champ == "ess_loi_2014", 3, total)
    tier = np.select([n_dims >= 2, n_dims == 1], [1, 2], default=total)
    tier = np.where(np.isin(niveau, ["epci"]), np.minimum(tier, 2), tier).astype(float)
    # Within the breakdown tiers: the legal perimeter's cells first (ess_loi_2014 = ess + sociétés
    # commerciales, so a thin sociétés commerciales cell is paired with its ess_loi_2014 cell, not with the
    # ESS one), and a région's or France's cell after its départements'.
    breakdown = n_dims >= 1
    tier = np.where(breakdown & (champ == "ess_loi_2014"), tier - 0.5, tier)
    tier = np.where(breakdown & top, tier + 0.25, tier)
    internal = (
        pd.Series(champ).str.startswith("_").to_numpy() | pd.Series(niveau).str.startswith("_").to_numpy()
    )
    internal |= (cells.pcs == "autres").to_numpy()
    return np.where(internal, 0.0, tier)


def structural_zeros(long: pd.DataFrame, zero: np.ndarray) -> np.ndarray:
    """Extend cells known to be 0 by definition to every parent all of whose children are (fixed point).

    Jobs at 31/12 in size band ``0`` are 0 by definition; a cell whose establishments are all in band
    ``0`` (an ESS made of one establishment with nobody at 31/12, and its région when the région has one
    département) is then 0 by definition too, and so are the parts of such a total (its families, sexes…).
    No suppression can hide that headcount — it follows from which cells exist — so it is treated like
    band ``0``: its secret protects ETP and pay, not jobs.
    """
    zero = zero.copy()
    if not len(long):
        return zero
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    child = long.sign.to_numpy() > 0
    n_eq = int(eq.max()) + 1
    head = np.full(n_eq, -1, np.int64)
    head[eq[~child]] = cell[~child]
    n_children = np.bincount(eq[child], minlength=n_eq)
    while True:
        n_zero = np.bincount(eq[child], weights=zero[cell[child]], minlength=n_eq)
        up = (n_children > 0) & (n_zero == n_children) & (head >= 0)
        up &= ~zero[np.maximum(head, 0)]
        # and the parts of a total that is 0 by definition are 0 (headcounts are not negative)
        down = child & (head[eq] >= 0) & zero[np.maximum(head[eq], 0)] & ~zero[cell]
        if not up.any() and not down.any():
            return zero
        zero[head[up]] = True
        zero[cell[down]] = True


def _order(cost: np.ndarray, tier: np.ndarray | None = None) -> np.ndarray:
    """Complement preference: lowest importance tier first, then positive cost first, then by cost, then
    by key order (cell position)."""
    tier = np.zeros(len(cost), np.int64) if tier is None else tier
    rank = np.lexsort((np.arange(len(cost)), cost, cost <= 0, tier))
    order = np.empty(len(cost), np.int64)
    order[rank] = np.arange(len(cost))
    return order


def _close(
    long: pd.DataFrame,
    hidden: np.ndarray,
    cost: np.ndarray,
    zero: np.ndarray,
    tier: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Fixed point of the closure (section comment); returns the hidden flags and the number of rounds.

    ``zero`` marks cells known to be 0 for one published quantity (jobs at 31/12 in size band ``0``): they
    protect the other quantities, not that one, so an equation with exactly one hidden cell outside
    ``zero`` gets a complement outside ``zero``.
    """
    hidden = hidden.copy()
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    n_eq = int(eq.max()) + 1 if len(eq) else 0
    order = _order(cost, tier)
    rounds = 0
    while True:
        h = hidden[cell]
        n_all = np.bincount(eq, weights=h, minlength=n_eq)
        n_nz = np.bincount(eq, weights=h & ~zero[cell], minlength=n_eq)
        need_nz = n_nz == 1
        # no cell outside ``zero`` left: that quantity is 0 by construction (nothing to protect in it)
        free_nz = np.bincount(eq, weights=~h & ~zero[cell], minlength=n_eq) > 0
        need_nz &= free_nz
        need = need_nz | (n_all == 1)
        if not need.any():
            return hidden, rounds
        rounds += 1
        cand = need[eq] & ~h & ~(need_nz[eq] & zero[cell])
        pick = pd.DataFrame({"eq": eq[cand], "cell": cell[cand], "o": order[cell[cand]]})
        pick = pick.sort_values(["eq", "o"], kind="stable").drop_duplicates("eq")
        stuck = np.setdiff1d(np.flatnonzero(need), pick["eq"].to_numpy())
        if len(stuck):
            members = cell[eq == stuck[0]]
            raise SecrecyError(
                f"secondary suppression: equation {stuck[0]} (cells {members[:6].tolist()}) holds one hidden "
                "cell and no cell left to hide"
            )
        hidden[pick.cell.to_numpy()] = True


_TABLE_DIMS = {
    "montant": ("famille", "secteur", "tranche", "sexe"),
    "comptage": ("famille", "secteur", "tranche"),
}


def _departements_of(region_of: dict) -> dict:
    """Région → its départements (sorted), from département → région."""
    deps_of: dict = {}
    for d, r in sorted(region_of.items()):
        deps_of.setdefault(r, []).append(d)
    return deps_of


def _tables_2d(cells: pd.DataFrame, region_of: dict, nature: str):
    """The 2-D tables (région and its départements) × (one breakdown and its total), per champ.

    Yields ``(name, ids, rows)``: cell positions and, for each equation, the positions of its total and
    of its parts. The same tables as the audit (:func:`_lp_checks`).
    """
    deps_of = _departements_of(region_of)
    geo = cells.niveau.to_numpy()
    code = cells.code.to_numpy()
    reg_of_cell = np.where(
        geo == "departement", pd.Series(code).map(region_of).to_numpy(), np.where(geo == "region", code, None)
    )
    base = cells.assign(_reg=reg_of_cell)
    base = base[base._reg.notna() & base.niveau.isin(["region", "departement"])]
    for dim in _TABLE_DIMS[nature]:
        others = [d for d in ("famille", *_FLAT) if d != dim]
        sub = base
        for d in others:
            sub = sub[sub[d] == DEFAULTS[d]]
        if dim == "famille":
            sub = sub[sub.champ.isin(["ess", "ess_loi_2014"])]
        else:
            sub = sub[sub.champ.isin(CHAMPS_PUBLIES)]
        for (champ, region), t in sub.groupby(["champ", "_reg"], sort=True):
            pos = dict(zip(zip(t.code, t[dim]), t.index.to_numpy()))
            cats = sorted({c for c in t[dim] if c != DEFAULTS[dim]})
            if not cats:  # no breakdown along ``dim`` in this table: nothing to prove
                continue
            geos = [region] + deps_of.get(region, [])
            rows = []
            for g in geos:
                rows.append((pos.get((g, DEFAULTS[dim])), [pos.get((g, c)) for c in cats]))
            for c in [*cats, DEFAULTS[dim]]:
                rows.append((pos.get((region, c)), [pos.get((d, c)) for d in geos[1:]]))
            yield f"{nature}/{champ}/{dim}/{region}", t.index.to_numpy(), rows
    yield from _champ_tables(base, deps_of, nature)


#: The champ tree as equations ``total = Σ parts``, from :data:`_CHAMP_EDGES`.
_CHAMP_TREE = tuple(
    (parent, tuple(child for child, p, _ in _CHAMP_EDGES if p == parent))
    for parent in dict.fromkeys(p for _, p, _ in _CHAMP_EDGES)
)


def _champ_tables(base: pd.DataFrame, deps_of: dict, nature: str):
    """The 2-D tables whose second dimension is the champ tree (what the panoramas set side by side: ESS,
    privé hors ESS, public and their totals), for :func:`_tables_2d`:

    - per région, (région and its départements) × champs, on the cells without breakdown;
    - per territory (région, département), (one breakdown and its total) × champs, e.g. the ESS share of
      each sector's jobs.

    The internal champs ``_sce`` / ``_oth`` are cells of these tables (known unless hidden). An equation
    of the tree is used when all its champs are computed (the baromètre has no internal champs); a
    missing part is then an empty cell, and a missing total no equation (as in :func:`equations`).
    """
    present = set(base.champ.unique())
    tree = [(t, parts) for t, parts in _CHAMP_TREE if {t, *parts} <= present]

    def champ_rows(pos, col):
        for total, parts in tree:
            if (t := pos.get((col, total))) is not None:
                yield t, [pos.get((col, p)) for p in parts]

    plain = np.ones(len(base), bool)
    for d in ("famille", *_FLAT):
        plain &= (base[d] == DEFAULTS[d]).to_numpy()
    flat = base[plain]
    for region, t in flat.groupby("_reg", sort=True):
        pos = dict(zip(zip(t.code, t.champ), t.index.to_numpy()))
        geos = [region] + deps_of.get(region, [])
        rows = [r for g in geos for r in champ_rows(pos, g)]
        for champ in sorted(set(t.champ)):
            if (tot := pos.get((region, champ))) is not None:
                rows.append((tot, [pos.get((d, champ)) for d in geos[1:]]))
        yield f"{nature}/champs/{region}", t.index.to_numpy(), rows
    for dim in _TABLE_DIMS[nature]:
        if dim == "famille":
            continue
        sub = base[base.famille == DEFAULTS["famille"]]
        for d in _FLAT:
            if d != dim:
                sub = sub[sub[d] == DEFAULTS[d]]
        for (niveau, code), t in sub.groupby(["niveau", "code"], sort=True):
            cats = sorted({c for c in t[dim] if c != DEFAULTS[dim]})
            if not cats:
                continue
            pos = dict(zip(zip(t[dim], t.champ), t.index.to_numpy()))
            rows = [r for c in [*cats, DEFAULTS[dim]] for r in champ_rows(pos, c)]
            for champ in sorted(set(t.champ)):
                if (tot := pos.get((DEFAULTS[dim], champ))) is not None:
                    rows.append((tot, [pos.get((c, champ)) for c in cats]))
            yield f"{nature}/champs/{dim}/{niveau}/{code}", t.index.to_numpy(), rows


def _determined(ids, rows, hidden, known, value=None) -> np.ndarray:
    """Hidden cells of a table fixed by its equations and ``cells ≥ 0`` (what the audit's LP proves).

    The feasible cells form a polytope; a cell is fixed when it is 0 all over it (only a cell worth 0 can
    be: one LP, max of the cell) or when its unit vector lies in the row space of the equations over the
    hidden columns (its row of the null space is 0), found with a rank-revealing (pivoted) QR.
    """
    from scipy.linalg import qr
    from scipy.optimize import linprog

    unknown = [i for i in ids if hidden[i] and not known[i]]
    if not unknown:
        return np.array([], dtype=np.int64)

    def matrix(cols):
        col = {c: j for j, c in enumerate(cols)}
        a, b = [], []
        for total, parts in rows:
            r = np.zeros(len(cols))
            rhs = 0.0
            for c, sign in [(total, -1.0)] + [(p, 1.0) for p in parts]:
                if c is None:
                    continue
                if c in col:
                    r[col[c]] += sign
                elif value is not None:
                    rhs -= sign * float(value[c])
            if r.any():
                a.append(r)
                b.append(rhs)
        return np.array(a).reshape(len(a), len(cols)), np.array(b)

    pinned = []
    if value is not None and (value[unknown] <= 0).any():
        a, b = matrix(unknown)
        for j, c in enumerate(unknown):
            if value[c] <= 0:
                obj = np.zeros(len(unknown))
                obj[j] = -1.0
                res = linprog(obj, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
                if res.status == 0 and -res.fun <= 1e-6:
                    pinned.append(c)
    free = [c for c in unknown if c not in pinned]
    out = list(pinned)
    if free:
        a, _ = matrix(free)
        if len(a):
            q, r, _ = qr(a.T, mode="economic", pivoting=True)
            d = np.abs(np.diag(r))
            rank = int((d > d[0] * 1e-9).sum()) if len(d) and d[0] > 0 else 0
            # squared norm of the cell's row in an orthonormal basis of the row space: 1 when it is in it
            fixed = (q[:, :rank] ** 2).sum(axis=1) > 1 - 1e-10
            out += [c for c, f in zip(free, fixed) if f]
    return np.array(sorted(out), dtype=np.int64)


def _repair_tables(tables, hidden, known, order, value, proven: set | None = None) -> int:
    """Hide, in each 2-D table, cells until no hidden cell is fixed by the table; returns cells added.

    ``proven``: (table, hidden cells of the table) already shown to leave no cell fixed, kept across calls
    on the same tables, ``known`` and ``value`` (the passes of :func:`_protect_lookahead`): such a table
    is not solved again.
    """
    added = 0
    proven = set() if proven is None else proven
    for _name, ids, rows in tables:
        if (_name, hidden[ids].tobytes()) in proven:
            continue
        while len(fixed := _determined(ids, rows, hidden, known, value)):
            target = int(fixed[0])
            cands = sorted((order[i], i) for i in ids if not hidden[i] and not known[i])
            for _, c in cands:
                hidden[c] = True
                if target not in _determined(ids, rows, hidden, known, value):
                    added += 1
                    break
                hidden[c] = False
            else:
                # no single cell frees it: hide cells in preference order until it is free (more hidden is
                # always safe); a cell still fixed with every cell of its table hidden is fixed by which
                # cells exist, not by published values: no suppression can change that
                for _, c in cands:
                    hidden[c] = True
                    added += 1
                    if target not in _determined(ids, rows, hidden, known, value):
                        break
                else:
                    raise SecrecyError(
                        f"secondary suppression: cell {target} of table {_name} is fixed with its whole "
                        "table hidden"
                    )
        proven.add((_name, hidden[ids].tobytes()))
    return added


#: Importance tier of the headline totals (:func:`importance`) and passes of the look-ahead that keeps them.
HEADLINE_TIER = 7
HEADLINE_PASSES = 3


def _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven=None) -> tuple[np.ndarray, int]:
    """Closure, then the 2-D proof and repair, then the closure again, until both hold."""
    hidden, rounds = _close(long, hidden0, cost, zero, tier)
    # the local rule does not see chains of equations: prove each 2-D table (région × breakdown) and hide
    # more where a hidden cell is still fixed, then close again, until both hold
    order = _order(cost, tier)
    while added := _repair_tables(tables, hidden, zero, order, value, proven):
        log.info("2-D tables: %d cells added", added)
        hidden, more = _close(long, hidden, cost, zero, tier)
        rounds += more
    return hidden, rounds


def _protect_lookahead(long, tables, hidden0, cost, zero, tier, value) -> tuple[np.ndarray, int]:
    """:func:`_protect_pass`, then up to ``HEADLINE_PASSES`` passes with a look-ahead: a complement whose
    equation then had only a headline total left to hide (e.g. the ESS loi 2014 total of a département
    whose sociétés commerciales count 0 jobs) is avoided next pass; a pass is kept only when it hides fewer
    headline totals."""
    proven: set = set()
    hidden, rounds = _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven)
    for _ in range(HEADLINE_PASSES):
        avoid = _headline_triggers(long, hidden, hidden0, tier)
        if not len(avoid):
            break
        tier = tier.copy()
        tier[avoid] = HEADLINE_TIER - 1
        again, more = _protect_pass(long, tables, hidden0, cost, zero, tier, value, proven)
        heads = tier >= HEADLINE_TIER
        if (again & heads).sum() >= (hidden & heads).sum():
            break
        hidden, rounds = again, rounds + more
    return hidden, rounds


def _headline_triggers(long, hidden, hidden0, tier) -> np.ndarray:
    """Complements (hidden, not hidden at the start) below the headline tier that share an equation with a
    headline total hidden as a complement: the cells that forced it."""
    eq = long["eq"].to_numpy()
    cell = long.cell.to_numpy()
    added = hidden & ~hidden0
    head = added & (tier >= HEADLINE_TIER)
    eqs = np.unique(eq[head[cell]])
    if not len(eqs):
        return np.array([], dtype=np.int64)
    inside = np.isin(eq, eqs)
    cand = cell[inside]
    cand = cand[added[cand] & (tier[cand] < HEADLINE_TIER - 1)]
    return np.unique(cand)


def protect_additive(
    cells: pd.DataFrame, hidden: np.ndarray, value: np.ndarray, known_zero: np.ndarray, region_of: dict
) -> np.ndarray:
    """Secondary suppression of one additive table of cells (``KEY`` columns), e.g. one baromètre quarter.

    The same machinery as the indicator table's magnitudes: the equations between the cells (territory,
    champ, famille, secteur), the closure in the :func:`importance` order with its look-ahead, and the exact
    2-D proof and repair of each région × breakdown table. ``hidden`` holds the primary secrets,
    ``known_zero`` cells known to be 0 without publication (outside the source's field). Returns the hidden
    flags (a superset of ``hidden``).
    """
    cells = cells[KEY].reset_index(drop=True)
    long = equations(cells, region_of)
    if not len(long):
        return hidden.copy()
    check_equations(long, value, "value")
    zero = structural_zeros(long, known_zero)
    tier = importance(cells)
    tables = list(_tables_2d(cells, region_of, "montant"))
    return _protect_lookahead(long, tables, hidden, value, zero, tier, value)[0]


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
    tier = importance(cells)
    tier_of = dict(zip(keys, tier.tolist()))
    timings["equations"] = time.perf_counter() - t0
    for nature in ("montant", "comptage"):
        p = dict(zip(keys, prim[f"p_{nature}"].tolist()))
        status = {k: PRIMAIRE if v else PUBLIE for k, v in p.items()}
        for spec in TAUARGUS_TABLES:
            t0 = time.perf_counter()
            added = _run_table(TableSpec(*spec, nature), esp, status, workdir)
            released = [
                k for k, v in status.items() if v == SECONDAIRE and tier_of[k] >= TAUARGUS_RELEASE_TIER
            ]
            for k in released:
                status[k] = PUBLIE
            added -= len(released)
            timings[f"tauargus {nature}_{spec[0]}_{spec[1]}"] = time.perf_counter() - t0
            log.info(
                "τ-Argus %s_%s_%s: %d cells hidden, %.2f s",
                nature,
                *spec[:2],
                added,
                timings[f"tauargus {nature}_{spec[0]}_{spec[1]}"],
            )
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
            zero = np.concatenate([zero, np.zeros(len(bands), bool)])
            hidden0 = np.concatenate([hidden0, band_p | np.tile(hidden0[base], len(AGE_BANDS))])
            tier_n = np.concatenate([tier, importance(bands)])
        check_equations(long, value, "n_etab" if nature == "comptage" else "effectif and age bands")
        zero = structural_zeros(long, zero)
        tables = list(_tables_2d(cells, region_of, nature))
        hidden, rounds = _protect_lookahead(long, tables, hidden0, cost, zero, tier_n, value)
        if nature == "montant":
            m = len(base)
            for j, b in enumerate(AGE_BANDS):
                h = hidden[len(cells) + j * m : len(cells) + (j + 1) * m]
                st = np.where(band_p[j * m : (j + 1) * m], PRIMAIRE, np.where(h, SECONDAIRE, PUBLIE))
                out[f"s_{b}"] = PUBLIE
                out.loc[out.index[base], f"s_{b}"] = st
            hidden = hidden[: len(cells)]
        code = np.where(hidden & (code == PUBLIE), SECONDAIRE, code)
        timings[f"closure {nature}"] = time.perf_counter() - t0
        log.info("closure %s: %d rounds, %d cells hidden in all", nature, rounds, int(hidden.sum()))
        out[f"s_{nature}"] = code
    t0 = time.perf_counter()
    _secondary_counts(cells, prim, out, long_all, tier)
    timings["closure sub-populations, enterprises"] = time.perf_counter() - t0
    return out


#: Equations along which enterprise counts add up: an enterprise (SIREN) belongs to one champ and one family,
#: but may have establishments in several territories, sectors or size bands (no equation there).
_ENTERPRISE_TAGS = ("ch_ensemble", "ch_prive", "ch_phe", "ch_loi", "famille")


def _inside(long: pd.DataFrame, universe: np.ndarray) -> pd.DataFrame:
    """The equations of ``long`` whose cells all lie in ``universe``."""
    ok = pd.Series(universe[long.cell.to_numpy()]).groupby(long["eq"].to_numpy()).transform("all")
    return long[ok.to_numpy()]


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


def protect(con, *, workdir: str | Path | None = None, timings: dict | None = None) -> dict:
    """Primary + secondary secrecy on ``ind.cellules``; writes ``ind.masque``; returns counts per statut.

    ``timings`` (optional) receives the seconds of each step (primary, each τ-Argus table, each closure).
    τ-Argus scratch files go to ``workdir`` (default: a temporary folder), one folder per table.
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
    return counts


# ---------------------------------------------------------------------------------------------- audit
#
# The audit recomputes everything it checks from the microdata with plain pandas (it does not reuse
# ``sql/indicators``) and proves, on the published table only, that (1) no published cell breaks a primary
# rule and (2) in each 2-D table département × breakdown of a region with its margins, no hidden cell is
# determined exactly by the published ones (min and max of the cell under the table's equations, HiGHS).

COUNT_INDICATORS = {"etablissements_employeurs", "part_etablissements_prive"}
_AUDIT_CROSSINGS = [
    [],
    ["famille"],
    ["secteur"],
    ["tranche"],
    ["sexe"],
    ["pcs"],
    ["sexe", "pcs"],
    ["famille", "sexe"],
    ["secteur", "sexe"],
]
_NIVEAUX = {"france": None, "region": "code_region", "departement": "code_departement", "epci": "code_epci"}


@dataclass
class AuditReport:
    """Outcome of the audit: ``passed`` is False when any published cell breaks a rule or is recoverable."""

    published_checked: int = 0
    violations: list = field(default_factory=list)
    hidden_checked: int = 0
    recoverable: list = field(default_factory=list)
    tables_checked: int = 0

    @property
    def passed(self) -> bool:
        return not self.violations and not self.recoverable

    def summary(self) -> str:
        lines = [
            f"secrecy audit: {'PASSED' if self.passed else 'FAILED'}",
            f"  published cells checked against the primary rules: {self.published_checked}",
            f"  published cells breaking a primary rule: {len(self.violations)}",
            f"  2-D tables checked: {self.tables_checked}, hidden cells bounded: {self.hidden_checked}",
            f"  hidden cells determined exactly: {len(self.recoverable)}",
        ]
        lines += [f"    {v}" for v in (self.violations + self.recoverable)[:20]]
        return "\n".join(lines)


_SUMS = ["effectif", "etp", "masse", "s_net", "nbheur", "n_salaries"]
_JOB_MAX = ["max_poste_brut", "max_poste_net"]
#: champ -> the leaves of the partition public / ESS / sociétés commerciales de l'ESS / other private it unites
_CHAMP_LEAVES = {
    "ensemble": ("PUB", "ESS", "SCE", "OTH"),
    "public": ("PUB",),
    "prive": ("ESS", "SCE", "OTH"),
    "ess": ("ESS",),
    "prive_hors_ess": ("SCE", "OTH"),
    "ess_loi_2014": ("ESS", "SCE"),
    # never published, derivable by subtraction: the audit checks that a secret one is not determined
    "_sce": ("SCE",),
    "_oth": ("OTH",),
}


POSTES_COLUMNS = ["siret", "sexe", "pcs", "annexe", "present_31_12", "eqtp", "s_brut", "s_net", "nbheur"]
ETABS_COLUMNS = [
    "siret", "siren", "code_region", "code_departement", "code_epci", "secteur", "tranche", "famille_ess",
    "ess", "ess_loi_2014", "public",
]
BATCH_ROWS = 2_000_000


class _Codes:
    """Integer codes of one text column, the same across batches (missing values → -1)."""

    def __init__(self, values=()):
        self.values: list = []
        self._id: dict = {}
        for v in values:
            self._code(v)

    def _code(self, v) -> int:
        if v not in self._id:
            self._id[v] = len(self.values)
            self.values.append(v)
        return self._id[v]

    def encode(self, column) -> np.ndarray:
        codes, uniques = pd.factorize(np.asarray(column, dtype=object))
        lut = np.array([self._code(v) for v in uniques] + [-1], dtype=np.int64)
        return lut[codes]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.array(self.values, dtype=object)[codes]

    def __len__(self) -> int:
        return len(self.values)


_JOB_BITS = 16  # sexe and pcs codes in the key of an establishment × sexe × pcs (a few values each)


def _jobs_by_establishment(postes, sirets: pd.Index) -> tuple[pd.DataFrame, dict]:
    """The jobs summed per establishment × sexe × pcs (the finest crossing), with the largest job pay.

    ``postes`` is a DataFrame or an iterable of DataFrames (batches of jobs, so that 25 M jobs never sit in
    memory at once: each batch is summed, then the partial sums). Jobs of an establishment that is not an
    employer establishment are left out (as an inner join would). Returns the columns ``sid`` (position in
    ``sirets``), ``sexe`` and ``pcs`` as integer codes (-1 when missing), then the sums and maxima; and the
    :class:`_Codes` that decode ``sexe`` and ``pcs``.
    """
    agg = {c: "sum" for c in _SUMS} | {c: "max" for c in _JOB_MAX}
    codes = {"sexe": _Codes(), "pcs": _Codes()}
    batches = [postes] if isinstance(postes, pd.DataFrame) else postes
    parts = [_sum_jobs(batch, sirets, agg, codes) for batch in batches]
    base = parts[0] if len(parts) == 1 else pd.concat(parts).groupby(level=0, sort=False).agg(agg)
    k = base.index.to_numpy()
    mask = (1 << _JOB_BITS) - 1
    base = base.reset_index(drop=True)
    base.insert(0, "pcs", (k & mask) - 1)
    base.insert(0, "sexe", ((k >> _JOB_BITS) & mask) - 1)
    base.insert(0, "sid", k >> (2 * _JOB_BITS))
    return base, codes


def _sum_jobs(postes: pd.DataFrame, sirets: pd.Index, agg: dict, codes: dict) -> pd.DataFrame:
    sid = sirets.get_indexer(postes["siret"])
    keep = sid >= 0
    annexe = postes["annexe"].to_numpy(dtype=bool, na_value=False)[keep]
    s_net = postes["s_net"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    nbheur = postes["nbheur"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    s_brut = postes["s_brut"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    sexe = codes["sexe"].encode(postes["sexe"].to_numpy()[keep]) + 1
    pcs = codes["pcs"].encode(postes["pcs"].to_numpy()[keep]) + 1
    if max(len(codes["sexe"]), len(codes["pcs"])) >= (1 << _JOB_BITS) - 1:
        raise SecrecyError("audit: too many distinct sexe or pcs codes in the jobs")
    key = (sid[keep].astype(np.int64) << (2 * _JOB_BITS)) | (sexe << _JOB_BITS) | pcs
    jobs = pd.DataFrame(
        {
            "effectif": postes["present_31_12"].to_numpy(dtype="int64", na_value=0)[keep],
            "etp": postes["eqtp"].to_numpy(dtype="float64", na_value=np.nan)[keep],
            "masse": s_brut,
            "s_net": np.where(annexe, 0.0, s_net),
            "nbheur": np.where(annexe, 0.0, nbheur),
            "n_salaries": (~annexe).astype("int64"),
            "max_poste_brut": s_brut,
            "max_poste_net": np.where(annexe, np.nan, s_net),
        }
    )
    return jobs.groupby(key, sort=False).agg(agg)


def _mixed_radix(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 key from integer codes (each in ``0 .. size-1``), the first column most significant."""
    key = np.zeros(len(columns[0]) if columns else 0, np.int64)
    for col, size in zip(columns, sizes, strict=True):
        key = key * size + col
    return key


def _split_radix(key: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of :func:`_mixed_radix`."""
    out = []
    for size in reversed(sizes):
        key, rest = np.divmod(key, size)
        out.append(rest)
    return out[::-1]


_LEAVES = ("PUB", "ESS", "SCE", "OTH")


def recompute_cells(postes, etabs: pd.DataFrame) -> pd.DataFrame:
    """FREQ, VALUE and MAX of every cell, from the microdata, with pandas only.

    ``postes``: the jobs, a DataFrame or an iterable of DataFrames (batches).

    Independent of ``sql/indicators``. The jobs are summed once per establishment × sexe × pcs, then per
    establishment × crossing; each territory level is grouped once per crossing by the four disjoint
    leaves public / ESS / sociétés commerciales de l'ESS / other private, and a champ is the union of its
    leaves (sums add, maxima take the max). The enterprise count adds up over leaves because a SIREN has
    one leaf (checked: otherwise it is counted per champ directly). Every grouping key is one integer (the
    codes of the territory, the breakdowns and the leaf), decoded to text at the end; a missing breakdown
    value leaves the row out of that crossing, as a groupby on the text columns does.
    """
    etabs = etabs.drop_duplicates("siret").reset_index(drop=True)
    sirets = pd.Index(etabs["siret"])
    leaf = np.select(
        [etabs.public.fillna(False).to_numpy(bool), etabs.ess.fillna(False).to_numpy(bool),
         etabs.ess_loi_2014.fillna(False).to_numpy(bool)],
        [0, 1, 2],
        default=3,
    ).astype(np.int64)
    attr_values = {
        "famille": etabs["famille_ess"].to_numpy(),
        "secteur": etabs["secteur"].fillna("NCL").to_numpy(),
        "tranche": etabs["tranche"].to_numpy(),
        "code_region": etabs["code_region"].to_numpy(),
        "code_departement": etabs["code_departement"].to_numpy(),
        "code_epci": etabs["code_epci"].to_numpy(),
    }
    codes = {name: _Codes() for name in attr_values}
    attrs = {name: codes[name].encode(v) for name, v in attr_values.items()}
    attrs["siren"] = pd.factorize(etabs["siren"].to_numpy())[0].astype(np.int64)
    n_siren = int(attrs["siren"].max()) + 1 if len(etabs) else 1
    one_leaf = bool((pd.Series(leaf).groupby(attrs["siren"]).nunique() <= 1).all())
    base, job_codes = _jobs_by_establishment(postes, sirets)
    codes.update(job_codes)
    maxima = {f"max_{q}": (q, "max") for q in ("effectif", "etp", "masse", "s_net", "nbheur")}
    per_cell = {
        "n_etab": ("sid", "size"),
        **{q: (q, "sum") for q in _SUMS},
        **maxima,
        **{c: (c, "max") for c in _JOB_MAX},
    }
    combine = {
        "n_etab": "sum", "n_ent": "sum", **{q: "sum" for q in _SUMS},
        **{c: "max" for c in [*maxima, *_JOB_MAX]},
    }
    values = [*_SUMS, *_JOB_MAX]
    agg = {c: "sum" for c in _SUMS} | {c: "max" for c in _JOB_MAX}
    frames = []
    for dims in _AUDIT_CROSSINGS:
        job_dims = [d for d in dims if d in ("sexe", "pcs")]
        if job_dims == ["sexe", "pcs"]:
            per = base
        else:
            ok = np.ones(len(base), bool)
            for d in job_dims:
                ok &= base[d].to_numpy() >= 0
            b = base[ok]
            cols = [b["sid"].to_numpy(), *(b[d].to_numpy() for d in job_dims)]
            sizes = [len(sirets), *(len(codes[d]) for d in job_dims)]
            per = b[values].groupby(_mixed_radix(cols, sizes), sort=False).agg(agg)
            parts = _split_radix(per.index.to_numpy(), sizes)
            per = per.reset_index(drop=True)
            per["sid"] = parts[0]
            for d, p in zip(job_dims, parts[1:], strict=True):
                per[d] = p
        sid = per["sid"].to_numpy()
        dim_codes = [per[d].to_numpy() if d in job_dims else attrs[d][sid] for d in dims]
        dim_sizes = [len(codes[d]) for d in dims]
        frame = per[[*values, "sid"]].assign(siren=attrs["siren"][sid])
        leaf_of = leaf[sid]
        for niveau, col in _NIVEAUX.items():
            code = np.zeros(len(per), np.int64) if col is None else attrs[col][sid]
            n_code = 1 if col is None else len(codes[col])
            ok = code >= 0
            for d in dim_codes:
                ok &= d >= 0
            key = _mixed_radix([code[ok], *(d[ok] for d in dim_codes), leaf_of[ok]], [n_code, *dim_sizes, 4])
            sub = frame[ok]
            # groups numbered in order of first appearance (as ``groupby(sort=False)``); the enterprises of a
            # group are its distinct (group, siren) pairs, counted with one hash pass instead of ``nunique``
            group, leaf_key = pd.factorize(key)
            by_leaf = sub.groupby(group, sort=True).agg(**per_cell)
            siren = sub["siren"].to_numpy()
            first = ~pd.Series(group * n_siren + siren).duplicated().to_numpy() & (siren >= 0)  # as nunique
            by_leaf.insert(1, "n_ent", np.bincount(group[first], minlength=len(leaf_key)))
            for champ, leaves in _CHAMP_LEAVES.items():
                if "famille" in dims and champ not in ("ess", "ess_loi_2014"):
                    continue
                wanted = np.isin(leaf_key % 4, [_LEAVES.index(x) for x in leaves])
                cell = by_leaf[wanted].groupby(leaf_key[wanted] // 4, sort=False).agg(combine)
                if not one_leaf and len(leaves) > 1:
                    in_champ = np.isin(key % 4, [_LEAVES.index(x) for x in leaves])
                    ent = sub["siren"][in_champ].groupby(key[in_champ] // 4, sort=False).nunique()
                    cell["n_ent"] = ent.reindex(cell.index).to_numpy()
                parts = _split_radix(cell.index.to_numpy(), [n_code, *dim_sizes])
                cell = cell.reset_index(drop=True)
                keys = {"code": np.full(len(cell), "FR", dtype=object) if col is None else codes[col].decode(parts[0])}
                keys.update({d: codes[d].decode(p) for d, p in zip(dims, parts[1:], strict=True)})
                cell = pd.concat([pd.DataFrame(keys), cell], axis=1)
                cell["niveau"], cell["champ"] = niveau, champ
                frames.append(cell)
    out = pd.concat(frames, ignore_index=True)
    for k, v in DEFAULTS.items():
        out[k] = out[k].fillna(v) if k in out else v
    return out


def _primary_violations(published: pd.DataFrame, cells: pd.DataFrame) -> tuple[int, list]:
    pub = published[published.statut == "publie"]
    merged = pub.merge(cells, on=KEY, how="left", indicator=True)
    violations = []
    missing = merged[merged._merge == "left_only"]
    violations += [
        f"no microdata for published cell {tuple(r[KEY])} {r.indicateur}" for _, r in missing.iterrows()
    ]
    m = merged[merged._merge == "both"].reset_index(drop=True)
    count = m.indicateur.isin(COUNT_INDICATORS)
    ent = m.indicateur == "entreprises_employeuses"
    bad = np.where(
        count,
        frequency_secret(m.n_etab),
        np.where(ent, frequency_secret(m.n_ent) | frequency_secret(m.n_etab), montant_secret(m)),
    )
    for _, r in m[bad].iterrows():
        violations.append(f"published cell breaks a primary rule: {tuple(r[KEY])} {r.indicateur}")
    return len(pub), violations


def _equality_system(values: dict, equations: list) -> tuple[list, np.ndarray, np.ndarray]:
    """The hidden cells (sorted) and ``A x = b`` over them, from ``Σ parts = total`` equations."""
    hidden = sorted(c for c, v in values.items() if v is None)
    idx = {c: i for i, c in enumerate(hidden)}
    rows, rhs = [], []
    for parts, total in equations:
        coef = np.zeros(len(hidden))
        b = 0.0
        for c, sign in [(p, 1.0) for p in parts] + [(total, -1.0)]:
            v = values.get(c, 0.0)
            if v is None:
                coef[idx[c]] += sign
            else:
                b -= sign * v
        if coef.any():
            rows.append(coef)
            rhs.append(b)
    return hidden, np.array(rows).reshape(len(rows), len(hidden)), np.array(rhs)


def determined_cells(values: dict, equations: list, tol: float = 1e-6, free: set = frozenset()) -> dict:
    """The hidden cells (value None) fixed by ``Σ cells = total`` equations and cells ≥ 0: ``{cell: value}``.

    Same answer as comparing the min and max of :func:`lp_bounds`, with far fewer LPs: every LP solution is
    a feasible point, and a cell taking two values over the points found so far is not fixed, so most cells
    are cleared by the solutions of other cells' LPs. ``free``: cells already proven not fixed (e.g. by
    :func:`free_cells`), which get no LP of their own.
    """
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    if not hidden:
        return {}
    n = len(hidden)
    kw = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}
    start = linprog(np.zeros(n), bounds=(0, None), method="highs", **kw)
    if start.status != 0:  # published figures inconsistent with the equations: nothing can be bounded
        return {}
    lo, hi = start.x.copy(), start.x.copy()
    for j in range(n):
        if hi[j] - lo[j] > tol or hidden[j] in free:
            continue
        for sign in (-1.0, 1.0):  # max, then min
            obj = np.zeros(n)
            obj[j] = sign
            res = linprog(obj, bounds=(0, None), method="highs", **kw)
            if res.status == 3:  # unbounded above
                hi[j] = np.inf
                break
            if res.status == 0:
                lo, hi = np.minimum(lo, res.x), np.maximum(hi, res.x)
            if hi[j] - lo[j] > tol:
                break
    return {c: float(lo[j]) for j, c in enumerate(hidden) if hi[j] - lo[j] <= tol and c not in free}


def lp_bounds(values: dict, equations: list, cells=None) -> dict:
    """Min and max of each hidden cell (value None) under ``Σ cells = total`` equations, cells ≥ 0.

    ``equations`` are ``(parts, total)`` pairs of cell ids; ``cells`` (default: every hidden cell) are
    those to bound. Returns ``{cell: (min, max)}``, max ``inf`` when unbounded.
    """
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    if not hidden:
        return {}
    idx = {c: i for i, c in enumerate(hidden)}
    kw = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}
    out = {}
    for c in hidden if cells is None else sorted(cells):
        obj = np.zeros(len(hidden))
        obj[idx[c]] = 1.0
        lo = linprog(obj, bounds=(0, None), method="highs", **kw)
        hi = linprog(-obj, bounds=(0, None), method="highs", **kw)
        out[c] = (lo.fun if lo.status == 0 else 0.0, -hi.fun if hi.status == 0 else np.inf)
    return out


def _structural_zeros(values: dict, eqs: list, zeros: set) -> None:
    """A total whose existing parts are all 0 by definition is 0 by definition (in place, to a fixed point).

    Same rule as :func:`structural_zeros` on the secrecy side: such a headcount follows from which cells
    exist, so it is a known zero, not a hidden cell recovered from published figures.
    """
    changed = True
    while changed:
        changed = False
        for parts, total in eqs:
            present = [c for c in parts if c in values]
            if total in values and total not in zeros and present and all(c in zeros for c in present):
                zeros.add(total)
                values[total] = 0.0
                changed = True


EXACT = 1e-6
"""A hidden cell whose range (max − min) is at most this is determined exactly."""


def free_cells(values: dict, equations: list) -> set:
    """Hidden cells proven *not* determined, with one LP for the whole table instead of two per cell.

    One LP finds a solution ``x*`` of the table's equations whose smallest hidden cell ``t*`` is as large
    as possible (``x ≥ t``, ``t ≤ 1``). For a hidden cell ``c``, ``d`` = the projection of the unit vector
    of ``c`` on the null space of the equations: ``x* ± ε·d`` with ``ε = t*/max|d|`` still solves them
    and stays ≥ 0, so ``c`` takes values at least ``2·ε·d_c`` apart. Cells whose range cannot be shown
    above :data:`EXACT` this way (``t* = 0``: some cell is 0 in every solution, or ``d_c = 0``: fixed by
    the equations) are left to :func:`lp_bounds`.
    """
    from scipy.linalg import qr
    from scipy.optimize import linprog

    hidden, a_eq, b_eq = _equality_system(values, equations)
    n = len(hidden)
    if not n:
        return set()
    obj = np.zeros(n + 1)
    obj[-1] = -1.0
    a_ub = np.hstack([-np.eye(n), np.ones((n, 1))])  # t − x_i ≤ 0
    kw = {"A_eq": np.hstack([a_eq, np.zeros((len(b_eq), 1))]), "b_eq": b_eq} if len(b_eq) else {}
    res = linprog(obj, A_ub=a_ub, b_ub=np.zeros(n), bounds=[(0, None)] * n + [(0, 1)], method="highs", **kw)
    if res.status != 0 or res.x[-1] <= 1e-9:
        return set()
    t = res.x[-1]
    # projector on the null space: I − Q Qᵀ, Q an orthonormal basis of the row space (pivoted QR of Aᵀ)
    proj = np.eye(n)
    if len(b_eq):
        q, r, _ = qr(a_eq.T, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > diag[0] * 1e-9).sum()) if len(diag) and diag[0] > 0 else 0
        proj -= q[:, :rank] @ q[:, :rank].T
    free = set()
    for i, c in enumerate(hidden):
        d = proj[:, i]
        if d[i] > 1e-12 and 2 * (t / np.abs(d).max()) * d[i] > EXACT:
            free.add(c)
    return free


def _key_tuples(frame: pd.DataFrame) -> list:
    """The ``KEY`` of each row of ``frame``, as tuples of Python objects."""
    return list(zip(*(frame[k].to_numpy(object) for k in KEY)))


def _zero_headcounts(cells: pd.DataFrame) -> set:
    """Keys of the cells with no job at 31/12 (every establishment in size band 0): known zeros of the
    headcount tables, for an attacker as for the protection (:func:`secondary`)."""
    return set(_key_tuples(cells[cells.effectif == 0]))


def _lp_checks(
    published: pd.DataFrame, departements: pd.DataFrame, report: AuditReport, zero_keys: frozenset = frozenset()
) -> None:
    two = published[published.indicateur.isin(["effectif_31_12", "etablissements_employeurs"])]
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
    for indicateur in ("effectif_31_12", "etablissements_employeurs"):
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
                    if not any(v is None for v in values.values()):
                        continue
                    report.tables_checked += 1
                    free = free_cells(values, eqs)
                    report.hidden_checked += len(free)
                    rest = [c for c, v in values.items() if v is None and c not in free]
                    for cell, (lo, hi) in lp_bounds(values, eqs, rest).items():
                        report.hidden_checked += 1
                        if hi - lo <= EXACT:
                            report.recoverable.append(
                                f"hidden cell determined exactly ({indicateur}, {champ}, {dim}): {cell} = {lo:g}"
                            )


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
    published: pd.DataFrame, cells: pd.DataFrame, departements: pd.DataFrame, report: AuditReport,
    zero_keys: frozenset = frozenset(),
) -> None:
    """The 2-D tables along the champ tree: per région, (région, départements) × champs; per région and
    département, (secteur, tranche or sexe, and its total) × champs — headcounts and establishment counts.

    A published cell is known when its statut is ``publie``. The internal champs (sociétés commerciales de
    l'ESS, other private) are never published: they are unknowns of the tables, and one that breaks a
    primary rule (from the recomputed ``cells``) must not be determined, like a hidden published cell. A
    headcount that is 0 in the microdata is 0 by definition (every establishment is in size band 0,
    visible from which cells exist), as on the protection side.
    """
    region_of = dict(zip(departements.code_departement, departements.code_region))
    deps_of = _departements_of(region_of)
    micro = cells[cells.niveau.isin(["region", "departement"]) & (cells.famille == DEFAULTS["famille"])]
    micro = micro[micro.champ.isin(["_sce", "_oth"])]
    pub = published[
        published.niveau.isin(["region", "departement"])
        & (published.famille == DEFAULTS["famille"])
        & (published.pcs == DEFAULTS["pcs"])
    ]

    for indicateur, nature in (("effectif_31_12", "montant"), ("etablissements_employeurs", "comptage")):
        rows = pub[pub.indicateur == indicateur]
        known = {
            k: (float(v) if st == "publie" else None)
            for k, v, st in zip(_key_tuples(rows), rows.valeur, rows.statut)
        }
        secret = (
            montant_secret(micro) if nature == "montant" else frequency_secret(micro.n_etab)
        ).to_numpy()
        internal = _key_tuples(micro)
        # a secret internal cell must not be determined; the others are unknowns that protect nothing
        watched = {k for k, v in known.items() if v is None}
        watched |= {k for k, s in zip(internal, secret) if s}
        known.update(dict.fromkeys(internal))
        if nature == "montant":
            for k in zero_keys & known.keys():
                known[k] = 0.0
        frame = pd.DataFrame(list(known), columns=KEY, dtype=object)
        frame["v"] = pd.Series(list(known.values()), dtype=object)
        frame["w"] = [k in watched for k in known]
        frame["region"] = np.where(frame.niveau == "region", frame.code, frame.code.map(region_of))
        dims = ("secteur", "tranche", "sexe") if nature == "montant" else ("secteur", "tranche")
        for dim in (None, *dims):
            sub = frame
            for d in _FLAT:
                if d != dim:
                    sub = sub[sub[d] == DEFAULTS[d]]
            groups = sub.groupby("region", sort=True) if dim is None else sub.groupby(["niveau", "code"])
            for name, g in groups:
                keys = list(zip(g.code if dim is None else g[dim], g.champ))
                values = dict(zip(keys, g.v))
                mine = dict(zip(keys, g.w))
                if not any(v is None for v in values.values()):
                    continue
                if dim is None:  # columns: the région (total) and its départements
                    head, members = name, deps_of.get(name, [])
                else:  # columns: the breakdown's total and its categories
                    head, members = DEFAULTS[dim], sorted({c for c in g[dim] if c != DEFAULTS[dim]})
                if not members:
                    continue
                eqs = _champ_table_equations(_AUDIT_TREE, head, members, values)
                report.tables_checked += 1
                # unwatched unknowns (internal cells that pass the primary rules) get no LP of their own
                free = free_cells(values, eqs) | {k for k, v in values.items() if v is None and not mine[k]}
                report.hidden_checked += int(sum(v is None and mine[k] for k, v in values.items()))
                for cell, v in determined_cells(values, eqs, free=free).items():
                    report.recoverable.append(
                        f"hidden cell determined exactly ({indicateur}, champs, {dim or 'territoire'}, {name}): "
                        f"{cell} = {v:g}"
                    )


def _lp_checks_bands(
    published: pd.DataFrame, departements: pd.DataFrame, report: AuditReport, zero_keys: frozenset = frozenset()
) -> None:
    """The age pyramid: per champ, sexe and région, the table départements (and région) × age bands with
    the headcount as total; no hidden band or headcount may be determined by the published ones. A cell
    with no job at 31/12 (``zero_keys``) has a known pyramid of zeros."""
    codes = [f"effectif_{b}" for b in AGE_BANDS]
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
        eqs = [([(c, i) for i in codes], (c, "effectif_31_12")) for c in geos]
        eqs += [([(d, i) for d in deps], (region, i)) for i in [*codes, "effectif_31_12"]]
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None for v in values.values()))
        # one LP clears most hidden cells at once (:func:`free_cells`); the others get their min / max LPs
        for cell, v in determined_cells(values, eqs, free=free_cells(values, eqs)).items():
            report.recoverable.append(
                f"hidden cell determined exactly (age pyramid, {champ}, {sexe}): {cell} = {v:g}"
            )


def audit_barometre(published: pd.DataFrame, departements: pd.DataFrame) -> AuditReport:
    """LP audit of a baromètre table (``ind.barometre``): no hidden headcount of a quarter is determined.

    For each quarter, champ and breakdown (families of the ESS, sectors, or none) and each région with its
    départements, the headcounts published — ``effectif_fin_trimestre``, and the year-before headcount
    that a published ``solde_annuel`` gives away (effectif(T) − solde(T)) — bound every hidden one under the
    table's equations (min/max LP, :func:`lp_bounds`). Mayotte (outside the source's field) is left out.
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
    cells["region"] = np.where(cells.niveau == "region", cells.code, cells.code.map(region_of))
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
            report.tables_checked += 1
            report.hidden_checked += int(sum(v is None for v in values.values()))
            for cell, v in determined_cells(values, eqs).items():
                report.recoverable.append(
                    f"hidden baromètre cell determined exactly ({trimestre}, {champ}, {dim}): {cell} = {v:g}"
                )
    _barometre_champ_tables(cells, region_of, report)
    return report


def _barometre_champ_tables(cells: pd.DataFrame, region_of: dict, report: AuditReport) -> None:
    """The baromètre's tables along the champ tree (privé = ESS + privé hors ESS…), per quarter: (région,
    départements) × champs, and per territory (sectors and their total) × champs."""
    present = set(cells.champ)
    tree = [(t, parts) for t, parts in _AUDIT_TREE if {t, *parts} <= present]
    if not tree:
        return
    deps_of = _departements_of(region_of)
    t = cells[(cells.famille == DEFAULTS["famille"]) & (cells.region != "06")]
    plain = t[t.secteur == DEFAULTS["secteur"]]
    tables = [
        (f"{q}, région {r}", g.code, r, deps_of.get(r, []), g)
        for (q, r), g in plain.groupby(["trimestre", "region"], sort=True)
    ]
    tables += [
        (f"{q}, {niveau} {code}, secteurs", g.secteur, DEFAULTS["secteur"],
         sorted(set(g.secteur) - {DEFAULTS["secteur"]}), g)
        for (q, niveau, code), g in t.groupby(["trimestre", "niveau", "code"], sort=True)
    ]
    for name, col, head, members, g in tables:
        values = {k: (None if pd.isna(v) else float(v)) for k, v in zip(zip(col, g.champ), g.v)}
        if not members or not any(v is None for v in values.values()):
            continue
        eqs = _champ_table_equations(tree, head, members, values)
        report.tables_checked += 1
        report.hidden_checked += int(sum(v is None for v in values.values()))
        for cell, v in determined_cells(values, eqs, free=free_cells(values, eqs)).items():
            report.recoverable.append(f"hidden baromètre cell determined exactly ({name}, champs): {cell} = {v:g}")


def audit(
    published: pd.DataFrame, postes: pd.DataFrame, etabs: pd.DataFrame, departements: pd.DataFrame
) -> AuditReport:
    """Audit a published indicator table against the microdata (see the section comment)."""
    report = AuditReport()
    cells = recompute_cells(postes, etabs)
    report.published_checked, report.violations = _primary_violations(published, cells)
    zero_keys = _zero_headcounts(cells)
    _lp_checks(published, departements, report, zero_keys)
    _lp_checks_champs(published, cells, departements, report, zero_keys)
    _lp_checks_bands(published, departements, report, zero_keys)
    return report


def _postes_batches(con):
    """The jobs of ``ess.postes`` (only the columns the audit reads), in batches of :data:`BATCH_ROWS`."""
    cols = ", ".join(POSTES_COLUMNS)
    reader = con.sql(f"SELECT {cols} FROM ess.postes").to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        yield batch.to_pandas()


def _microdata_audit(published: pd.DataFrame, con) -> AuditReport:
    etabs = con.execute(f"SELECT {', '.join(ETABS_COLUMNS)} FROM ess.etablissements_employeurs").df()
    departements = con.table("ref.departements").df()
    return audit(published, _postes_batches(con), etabs, departements)


def audit_warehouse(con) -> AuditReport:
    """Audit the table about to be published (``ind.publication`` of the warehouse) before it is written.

    Same audit as :func:`audit_publication`; the pipeline runs it as a blocking check so that a table that
    fails it never reaches ``output/``.
    """
    return _microdata_audit(con.table("ind.publication").df(), con)


def audit_publication(settings) -> AuditReport:
    """Audit ``output/<millesime>/tables/indicateurs.parquet`` against the warehouse (opened read-only)."""
    import duckdb

    table = settings.vintage_output / "tables" / "indicateurs.parquet"
    if not table.exists():
        raise SecrecyError(f"no published table to audit: {table}")
    published = pd.read_parquet(table)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return _microdata_audit(published, con)
    finally:
        con.close()
