"""Differencing-safe secrecy for a territory on demand, jointly with everything already published.

The published levels (France, régions, départements, EPCIs) and the territories of the registry keep their
masks: only the new territory's cells can be hidden. For each nature (``comptage``, ``montant``,
``temps_partiel``: :mod:`observatory.territories.cells`; a part-time rate starts hidden, and protected,
where the cell's jobs at 31/12 are):

1. **primary rules** on the territory's cells (:func:`observatory.territories.cells.primary`), internal
   cell ``_oth`` included;
2. **complements**: for every published territory *P* that shares establishments with *T*, the primary
   rules on *P − T* and on *T − P*, cell by
   cell: where the piece breaks a rule and *P*'s cell is published or derivable (its own equations), *T*'s
   cell would give the piece away by subtraction, so *T*'s cell is hidden (``secret_secondaire``). This is
   the classic differencing attack: a département minus a territory covering all but one commune. The rule
   is applied to partial overlaps too (where the piece is only determined together with other published
   cells): it is conservative, and hides more than an exact test would. And cell by cell, where both pieces
   have none of a cell's establishments (*T*'s sector cell holds all of *P*'s in that sector, and nothing
   else), *T*'s cell is *P*'s, so it is hidden where *P* does not publish it: a département's secondary
   sector, published by a territory that misses only communes without it, or every cell of an EPCI redrawn
   commune by commune (both pieces empty: *T* takes *P*'s whole mask). And *T − P* lies inside *T*: where it
   breaks a rule for the jobs at 31/12 or the part-time jobs, *T*'s published cell is an upper bound of it,
   so *T*'s cell is hidden when it does not reach the piece's protection level above it
   (:func:`observatory.territories.cells.needed_above`: a territory holding 11 of its 12 jobs of a kind in
   two establishments outside an EPCI tells that those two have at most 12);
3. **closure inside T**: the champ tree, the families, and the ESS's sexes, sectors and size bands
   (``cells.equations``): an equation whose only unknown is a protected cell gets its smallest published
   cell hidden (families, sectors and bands first, the champ totals last), to a fixed point. Internal cells
   that pass the primary rules may be derived.

The result is then proven by the independent audit (:mod:`observatory.territories.audit`): an LP over the
geography's atoms (communes grouped by the territories that hold them) with every published cell of every
level and territory as a constraint. A hidden primary cell, old or new, or a primary piece, whose interval it
narrows below its protection level (or determines) is repaired in two steps: first the cells the audit names
are widened (:func:`widen`: the new territory's cell of that key hidden, or, hidden already, a cell of each of
its equations), then, if the audit fails again, every cell of that nature in the territory is hidden (the
fallback); if the audit still fails, nothing is published. Steps 1–3 apply the rules and exact derivation
only: the protection intervals are the audit's (a level step like the annual protection's is not built for
territories).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatory.territories import cells as tc

STATUT_CODE = {"publie": 0, "secret_secondaire": 1, "secret_primaire": 2}
INDICATEUR = {
    "comptage": "etablissements_employeurs",
    "montant": "effectif_31_12",
    "temps_partiel": "taux_temps_partiel",  # the count published as a rate: known with the jobs at 31/12
}


@dataclass(frozen=True)
class Published:
    """A published territory: a name, which establishments it holds (boolean array), its mask per nature.

    ``mask[nature]`` maps a cell key (:data:`~observatory.territories.cells.Key`) to the published statut
    (``publie`` / ``secret_*``).
    """

    name: str
    members: np.ndarray
    mask: dict[str, dict[tc.Key, str]]


LEVEL_COLUMNS = {"region": "code_region", "departement": "code_departement", "epci": "code_epci"}


def published_levels(
    etabs: pd.DataFrame, table: pd.DataFrame, within: np.ndarray | None = None
) -> list[Published]:
    """France, régions, départements and EPCIs with their published masks (from the indicator table): the
    cells of every champ and family, those by sex of :data:`~observatory.territories.cells.SEXED`, and the
    ESS by sector and by size band (:data:`~observatory.territories.cells.BROKEN`).

    ``within`` (a mask of the establishments): only the levels holding some of them (the others share no
    establishment with a territory made of them, so :func:`protect_territory` would pass them by)."""
    level = table["niveau"].isin(["france", "region", "departement", "epci"])
    if within is not None:
        level = table["niveau"] == "france"
        for niveau, column in LEVEL_COLUMNS.items():
            held = set(etabs.loc[within, column].dropna())
            level |= (table["niveau"] == niveau) & table["code"].isin(held)
    rows = table[(table["pcs"] == "toutes") & (table["indicateur"].isin(INDICATEUR.values())) & level]
    rows = rows[(rows["secteur"] == tc.TOUS) & (rows["tranche"] == tc.TOUTES) | (
        (rows["champ"] == tc.BROKEN[0]) & (rows["famille"] == tc.BROKEN[1]) & (rows["sexe"] == tc.TOUS)
        & ((rows["secteur"] == tc.TOUS) | (rows["tranche"] == tc.TOUTES))
    )]  # fmt: skip
    sexed = {tc.sexed_key(c, f, s) for c, f in tc.SEXED for s in tc.SEXES}
    nature_of = {v: k for k, v in INDICATEUR.items()}
    masks: dict[tuple[str, str], dict[str, dict]] = {}
    columns = [rows[c].to_numpy(dtype=object) for c in ("niveau", "code", "indicateur", "statut")]
    for values, key in zip(zip(*columns, strict=True), tc.keys_of(rows), strict=True):
        niveau, code, indicateur, statut = values
        if key[2] != tc.TOUS and key not in sexed:
            continue
        masks.setdefault((niveau, code), {}).setdefault(nature_of[indicateur], {})[key] = statut
    codes = {n: pd.factorize(etabs[c]) for n, c in LEVEL_COLUMNS.items()}  # integers: one cheap == each
    out = []
    for (niveau, code), mask in sorted(masks.items()):
        if niveau == "france":
            members = np.ones(len(etabs), bool)
        else:
            ints, uniques = codes[niveau]
            where = uniques.get_indexer([code])[0]
            members = ints == where if where >= 0 else np.zeros(len(etabs), bool)
        out.append(Published(f"{niveau} {code}", members, mask))
    return out


def registry_levels(
    etabs: pd.DataFrame, registry: dict[str, dict], skip: str | None = None, near: set[str] | None = None
) -> list[Published]:
    """The territories of the registry (all but ``skip``) as :class:`Published`; with ``near`` (commune
    codes), only those holding one of them (the others share no establishment with a territory made of
    them, and :func:`protect_territory` would pass them by — each costs a look-up per establishment)."""
    out = []
    commune = etabs["code_commune"]
    for slug, entry in sorted(registry.items()):
        if slug == skip or (near is not None and near.isdisjoint(entry["communes"])):
            continue
        mask: dict[str, dict] = {}
        recorded = pd.DataFrame(entry["masque"])
        # a territory recorded before the cells by sex, sector or band were published has none
        for m, key in zip(entry["masque"], tc.keys_of(recorded), strict=True):
            mask.setdefault(m["nature"], {})[key] = m["statut"]
        out.append(Published(f"territoire {slug}", commune.isin(set(entry["communes"])).to_numpy(), mask))
    return out


def derivable(mask: dict[tc.Key, str]) -> set[tc.Key]:
    """Cells of one territory known from its published cells through its own equations."""
    known = {c for c, s in mask.items() if s == "publie"}
    eqs = tc.equations(mask)
    changed = True
    while changed:
        changed = False
        for total, parts in eqs:
            cells = [total, *parts]
            unknown = [c for c in cells if c not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                changed = True
    return known


def _cost(cell: tc.Key, value: float) -> tuple:
    """Which published cell to hide first: a family, a sector or a size band, then a sex or the ESS loi 2014,
    the champ totals last."""
    champ, famille, sexe, secteur, tranche = cell
    detail = famille != tc.TOUTES or secteur != tc.TOUS or tranche != tc.TOUTES
    tier = 0 if detail else (1 if champ == "ess_loi_2014" or sexe != tc.TOUS else 2)
    return (tier, value, *cell)


def close(mask: dict[tc.Key, str], protect: set, values: dict) -> None:
    """Closure inside the territory: no protected cell may be derived from its published cells (in place).

    A cell whose value is 0 counts as known even when hidden: an attacker may know it otherwise (the jobs
    at 31/12 of the size band ``0``, establishments that employ nobody at 31/12, are 0 by definition), and
    hiding it protects nothing."""
    eqs = tc.equations(mask.keys() | protect)
    zeros = {c for c in mask.keys() | protect if values.get(c, 0.0) == 0}
    while True:
        known = {c for c, s in mask.items() if s == "publie"} | zeros
        leak = None
        changed = True
        while changed and leak is None:
            changed = False
            for total, parts in eqs:
                cells = [total, *parts]
                unknown = [c for c in cells if c not in known]
                if len(unknown) == 1:
                    if unknown[0] in protect:
                        leak = cells
                        break
                    known.add(unknown[0])
                    changed = True
        if leak is None:
            return
        candidates = [c for c in leak if mask.get(c) == "publie"]
        if not candidates:  # pragma: no cover - a protected cell is unknown, so some other cell is published
            return
        # an empty cell (0) gives no protection: the attacker still bounds the hidden cell by the total
        useful = [c for c in candidates if values[c] > 0] or candidates
        pick = min(useful, key=lambda c: _cost(c, values[c]))
        mask[pick] = "secret_secondaire"
        protect.add(pick)


def widen(mask: dict[tc.Key, str], protect: set, motif: dict, keys: set, values: dict) -> None:
    """Widen the intervals of the cells ``keys`` that the audit found too narrow (in place): a published cell
    of those keys is hidden; for a hidden one, each equation of the territory that holds it gets its cheapest
    published cell hidden (:func:`_cost`; a cell of value 0 gives no room). A cell of another territory, or a
    piece, that an attacker bounds too closely is bounded through the new territory's cell of the same key,
    which is what this loosens: by its own value when it is published, by its equations' when it is not."""
    eqs = tc.equations(mask.keys() | protect)
    for k in sorted(keys):
        if mask.get(k) == "publie":
            picks = [k]
        else:
            picks = []
            for total, parts in eqs:
                cells = [total, *parts]
                if k in cells:
                    shown = [c for c in cells if mask.get(c) == "publie" and values.get(c, 0.0) > 0]
                    if shown:
                        picks.append(min(shown, key=lambda c: _cost(c, values[c])))
        protect.add(k)
        for c in picks:
            mask[c] = "secret_secondaire"
            protect.add(c)
            motif[c] = motif[c] or "intervalle trop étroit (audit)"


def protect_territory(
    etabs: pd.DataFrame,
    members: np.ndarray,
    others: list[Published],
    hide_all: frozenset = frozenset(),
    too_narrow: dict[str, set] | None = None,
) -> pd.DataFrame:
    """The mask of a new territory (establishments ``members``) against the published ``others``.

    Returns one row per cell key (``champ``, ``famille``, ``sexe``, ``secteur``, ``tranche``) and nature with
    ``statut`` and ``motif``; internal cells are listed (``interne``) but never published. ``hide_all``:
    natures whose every cell is hidden (the fallback); ``too_narrow``: per nature, the keys of the cells the
    audit found bounded too closely (:func:`widen`, the repair tried before the fallback).
    """
    cells_t = tc.aggregate(etabs[members])
    prim = tc.primary(cells_t)
    all_keys = tc.keys_of(cells_t)
    cut = []
    slim = tc.lean(etabs)
    for p in others:
        if not (p.members & members).any():
            continue
        parts = (p.members & ~members, members & ~p.members)
        aggs = [(inside, tc.aggregate(slim[part])) for inside, part in enumerate(parts) if part.any()]
        pieces = [a for _inside, a in aggs]
        # the cells where both pieces are empty (all of them when p has t's establishments): p's cell is t's
        empty = [{k for k, n in zip(tc.keys_of(a), a["n_etab"], strict=True) if n > 0} for a in pieces]
        alike = {c for c in all_keys if not any(c in e for e in empty)}
        prims = [tc.primary(a) for a in pieces]
        # t − p lies inside t: t's published cell bounds it from above, so a primary one needs t's cell at
        # least its protection level above it (per nature, key → how high)
        above: dict[str, dict] = {}
        for (inside, a), pp in zip(aggs, prims, strict=True):
            if not inside:
                continue
            for nature in ("montant", *tc.SUBPOPULATIONS):
                need = tc.needed_above(a, tc.NATURES[nature])
                flags = pp[f"p_{nature}"].to_numpy()
                above[nature] = {k: x for k, x, f in zip(tc.keys_of(a), need, flags, strict=True) if f}
        cut.append((p, prims, alike, above))
    rows = []
    final: dict[str, dict[tc.Key, str]] = {}
    for nature, qty in tc.NATURES.items():
        keys = [c for c in all_keys if tc.of_nature(c, nature)]
        values = dict(zip(all_keys, cells_t[qty], strict=True))
        p_own = dict(zip(all_keys, prim[f"p_{nature}"], strict=True))
        mask = {c: "publie" for c in keys if c not in tc.INTERNAL}
        motif = {c: "" for c in keys}
        protect = set()
        for c in keys:
            if p_own[c]:
                protect.add(c)
                motif[c] = "règle primaire"
                if c in mask:
                    mask[c] = "secret_primaire"
        if nature in tc.SUBPOPULATIONS:
            # a rate is hidden with its jobs at 31/12 (as in the indicator table), and its count kept from
            # being derived: a count of part-time jobs bounds the hidden headcount from below
            for c in keys:
                if final["montant"].get(c, "publie") != "publie":
                    protect.add(c)
                    motif[c] = motif[c] or "effectif au 31/12 masqué"
                    if mask.get(c) == "publie":
                        mask[c] = "secret_secondaire"
        for p, piece_prims, alike, above in cut:
            known_p = derivable(p.mask.get(nature, {}))
            for c in keys:  # a cell with p's establishments: what p does not publish, t may not either
                shown_in_t = mask.get(c) == "publie"
                if c in alike and c in p.mask.get(nature, {}) and c not in known_p and shown_in_t:
                    protect.add(c)
                    mask[c] = "secret_secondaire"
                    motif[c] = motif[c] or f"masqué comme dans {p.name}"
            for pp in piece_prims:
                bads = dict(zip(tc.keys_of(pp), pp[f"p_{nature}"], strict=True))
                for c in keys:
                    if bads.get(c, False) and c in known_p and not p_own[c]:
                        protect.add(c)
                        motif[c] = motif[c] or f"différence avec {p.name}"
                        if mask.get(c) == "publie":
                            mask[c] = "secret_secondaire"
            for c, need in above.get(nature, {}).items():
                if mask.get(c) == "publie" and values.get(c, 0.0) < need:
                    protect.add(c)
                    mask[c] = "secret_secondaire"
                    motif[c] = motif[c] or f"borne la différence avec {p.name}"
        if too_narrow and too_narrow.get(nature):
            widen(mask, protect, motif, too_narrow[nature] & set(keys), values)
        if nature in hide_all:
            for c, statut in list(mask.items()):
                if statut == "publie":
                    mask[c] = "secret_secondaire"
                    motif[c] = "repli après l'audit"
        before = dict(mask)
        close(mask, protect, values)
        final[nature] = mask
        for c in keys:
            if c in mask and before[c] == "publie" and mask[c] != "publie":
                motif[c] = "secret secondaire (équations du territoire)"
            rows.append(
                {
                    **dict(zip(tc.KEY_COLUMNS, c, strict=True)),
                    "nature": nature,
                    "statut": mask.get(c, "interne"),
                    "motif": motif[c],
                }
            )
    return pd.DataFrame(rows)
