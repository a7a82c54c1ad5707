"""Statistical secrecy, the protection: primary rules and secondary suppression (τ-Argus, closure, repair).

The independent audit lives in :mod:`observatory.audit` and imports nothing from this package.
Modules: :mod:`.rules` (primary rules, cell vocabulary), :mod:`.tauargus` (step 1), :mod:`.equations` (the
additive equations between cells), :mod:`.closure` (step 2, complement order), :mod:`.repair` (step 3),
:mod:`.protect` (the whole protection of ``ind.cellules`` and of one additive table).

Primary rules (INSEE, ``shared/domain/secrecy.md``), applied per cell of ``ind.cellules`` — plus, as primary
cells given a priori (``protect(..., a_priori=...)``), the cells that the baromètre's year-end quarter declares
primary by its own rule (the same headcounts at 31/12: :func:`observatory.barometre.year_end_primaries`), so
that no cell is primary in one product and published in the other:

- **frequency**: a cell built from 1 or 2 units is secret (establishments; enterprises for the enterprise
  count); 0 units is an empty cell, not secret;
- **dominance**: a magnitude is secret when its largest establishment contributes strictly more than 85 %
  (``MAX > 0.85 × VALUE``, computed as ``20·MAX > 17·VALUE`` to stay exact at the boundary);
- **employment and pay cells** (Base Tous salariés): at least 3 establishments, and at least 3 among those
  that *contribute* to each quantity (with jobs at 31/12 for the headcount, with ETP, with pay for the
  payroll and pay rates), at least 3 enterprises with an establishment in the cell (every crossing:
  ``freq_entreprises``) and a published enterprise count of at least 3, at least 5 jobs (non-annex), no single job above 80 % of the cell's gross or net pay,
  and no establishment above 85 % of **each** quantity (jobs at 31/12, ETP, hours, gross and net pay). All
  magnitudes of one cell share that statut;
- the mean pay figures (gross pay per ETP, net hourly wage, and the women / men gap on each sex) count their
  own contributors: 1 or 2 establishments with pay in the pay field, or with hours in the hourly-pay field,
  hide them, primary (``s_salaire``), even where the cell's magnitudes are published — they are ratios of
  sums never published, so they need no complement;
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
   France, unknown territory included, and the geographic atoms of ``observatory.reference.geography``:
   atom → its département, atom → its EPCI, so that an EPCI cannot be recovered as its département minus
   the other EPCIs), champ tree, ESS loi 2014 = ESS + sociétés commerciales, famille,
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
gives them away. EPCI cells are published for the champ and family crossings, and the ESS by sexe, by size
band and by sector (the portraits' women and men, size bands and sectors; with their atoms, in the joint system
of step 4 and as per-EPCI sexe, size band and sector × champ tables in step 3). When no cell is left
to hide in an equation, the build fails (:class:`SecrecyError`): nothing is published unprotected.
Every cell keeps statut ``publie``, ``secret_primaire`` or ``secret_secondaire`` (codes 0, 2, 1).

Other counts: the age bands (jobs at 31/12 by age) join the headcounts' equations as cells of their own
(they add up to the headcount; :func:`_band_system`); the part-time / fixed-term / 50+ counts (published
through their rates) and the enterprise counts (additive along the champ tree and the families only) are
closed along their own equations (:func:`_secondary_counts`). The baromètre's quarterly headcounts get the
same closure and 2-D repair (:func:`protect_additive`) and their own blocking audit
(:func:`observatory.audit.audit_barometre`).

4. **Territory relations as one system** (:mod:`.chains`): the territory levels and their atoms, crossed with
   the champ tree and the families, are proven as a whole after the look-ahead (chains through EPCIs that
   straddle départements fix cells while every single equation holds two unknowns): a sparse null-space
   test (LSQR) finds every watched cell (hidden published cells, primary cells) that the system fixes, the
   first published cell in the complement order around it is hidden, then steps 2–3 again, to a fixed point.
   Once that system is proven, the same proof and repair on the territory relations and the one-breakdown
   tables together (:func:`.chains.joint_system`: France, régions and départements × secteur, tranche or
   sexe, each with the champ tree): a cell can be fixed by a 2-D table and its département's sector × champ
   table together while each alone leaves it free (on the sample, 21 such cells before this step). The audit
   checks every family of relations at once on its own (``observatory.audit.joint``).

5. **Protection levels** (:mod:`.levels`): every hidden primary headcount of the 2-D tables can move by
   INSEE's protection level (NK(1,85): ``x1 / 0.85 − X``; otherwise 10 % of ``X``) with every published cell
   fixed — checked for all tables by block LPs, and where it cannot, the cheapest perturbation of its table
   (published cells costed by importance tier) names the cells to hide; then the same in the territory
   system of step 4 (EPCIs, atoms; the annual table only), where the published ETP and payroll are held at
   their exact values (a stronger attacker than one who reads them rounded: safe, and it spares LPs of
   minutes); then steps 2–4 again, in one loop.
   The annual headcounts, ETP and payroll (each with its own levels and zeros; ETP and payroll published
   rounded, so their published cells move within the rounding: :class:`~.levels.Quantity`), and each
   baromètre quarter (:func:`protect_additive` with ``levels``, 2-D tables). In the same loop, the hidden
   ETP and payroll cells that are not primary: a part that one equation bounds no wider than the publication
   unit (e.g. under a published total that rounds to 0) gets that equation loosened (:mod:`.rounded`).

Limitations: the 2-D proof covers the région × breakdown tables, the territory proof the plain territory
cells and the joint proof both with the one-breakdown tables; tables with more than one breakdown, the
sub-population and enterprise counts, and the age bands are protected by the closure (no equation with exactly
one hidden cell), not proven by an LP (the audit's joint check includes the age pyramids).
"""

from __future__ import annotations

from observatory.secrecy.closure import importance, structural_zeros
from observatory.secrecy.equations import check_equations, equations
from observatory.secrecy.levels import protection_levels
from observatory.secrecy.protect import protect, protect_additive, secondary
from observatory.secrecy.rules import (
    AGE_BANDS,
    CHAMPS_PUBLIES,
    DEFAULTS,
    KEY,
    PRIMAIRE,
    PUBLIE,
    SECONDAIRE,
    STATUTS,
    dominance_secret,
    employee_share_secret,
    frequency_secret,
    montant_secret,
    primary,
)

__all__ = [
    "AGE_BANDS",
    "CHAMPS_PUBLIES",
    "DEFAULTS",
    "KEY",
    "PRIMAIRE",
    "PUBLIE",
    "SECONDAIRE",
    "STATUTS",
    "check_equations",
    "dominance_secret",
    "employee_share_secret",
    "equations",
    "frequency_secret",
    "importance",
    "montant_secret",
    "primary",
    "protect",
    "protect_additive",
    "protection_levels",
    "secondary",
    "structural_zeros",
]
