"""The cells of a territory on demand, computed from the warehouse's employer establishments.

A territory publishes the cells an EPCI publishes: every champ, the ESS families, the ESS's women and men
(:data:`SEXED`), and the ESS by sector and by establishment size band (:data:`BROKEN`: establishments and
jobs at 31/12, as at EPCI level). Each champ and family is a union of *leaves*
(``sql/territories/etablissements.sql``); one internal cell is never published but protected, as in the
indicator table: ``_oth`` (the other private employers = privé hors ESS − the sociétés commerciales de
l'ESS).

A cell is keyed ``(champ, famille, sexe, secteur, tranche)`` — the indicator table's own breakdown columns,
``sexe`` being ``tous``, ``F`` or ``H``, ``secteur`` ``tous`` or a sector code, ``tranche`` ``toutes`` or a
size band. A territory holds a sector or size-band cell only where some of its ESS establishments lie in it
(as the indicator table writes them): a cell it does not hold is a known zero, so the equations that add the
sectors and the bands up to the ESS (:func:`equations`) name the cells present.

Three natures, as in :mod:`observatory.secrecy`: ``comptage`` (the establishment count, frequency rule),
``montant`` (jobs at 31/12, ETP, payroll: the employment-and-pay rules; one statut for the three) and
``temps_partiel`` (the part-time jobs at 31/12, published through the part-time rate, as in the indicator
table: frequency rule on the establishments with part-time jobs, dominance on the largest of them; every
champ and family and the ESS's sexes, not the sectors and bands: an EPCI publishes none by sector or band).
The cells by sex are magnitudes only (no establishment count by sex is published, at any level).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatory.secrecy.levels import SAFETY_RANGE, protection_levels
from observatory.warehouse import sql_text

FAMILLES_ESS = ["association", "cooperative", "mutuelle", "fondation", "autre_obnl"]
LEAVES = [*FAMILLES_ESS, "_sce", "_oth", "public"]
COMBOS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ensemble", "toutes"): tuple(LEAVES),
    ("public", "toutes"): ("public",),
    ("prive", "toutes"): tuple(x for x in LEAVES if x != "public"),
    ("ess", "toutes"): tuple(FAMILLES_ESS),
    ("prive_hors_ess", "toutes"): ("_sce", "_oth"),
    ("ess_loi_2014", "toutes"): (*FAMILLES_ESS, "_sce"),
    **{("ess", f): (f,) for f in FAMILLES_ESS},
    **{("ess_loi_2014", f): (f,) for f in FAMILLES_ESS},
    ("ess_loi_2014", "societe_commerciale_ess"): ("_sce",),
    ("_oth", "toutes"): ("_oth",),
}
"""Every cell of a territory (champ, famille) and the leaves it adds up (the crossings an EPCI publishes)."""
TOUS, TOUTES = "tous", "toutes"
SEXES = ("F", "H")
SEXED = (("ess", "toutes"),)
"""The cells published by sex too, as at EPCI level (the ESS's women and men), for the ``montant`` nature."""
BROKEN = ("ess", "toutes")
"""The cell published by sector and by size band too (both natures), as at EPCI level."""
Key = tuple[str, str, str, str, str]
"""(champ, famille, sexe, secteur, tranche)."""
KEY_COLUMNS = ["champ", "famille", "sexe", "secteur", "tranche"]


def _all(champ: str, famille: str) -> Key:
    return (champ, famille, TOUS, TOUS, TOUTES)


INTERNAL = {_all("_oth", "toutes")}
"""Cells never published but protected (the other private employers: privé hors ESS − sociétés commerciales)."""
SCE = _all("ess_loi_2014", "societe_commerciale_ess")


def sector_key(secteur: str) -> Key:
    return (*BROKEN, TOUS, secteur, TOUTES)


def band_key(tranche: str) -> Key:
    return (*BROKEN, TOUS, TOUS, tranche)


def sexed_key(champ: str, famille: str, sexe: str) -> Key:
    return (champ, famille, sexe, TOUS, TOUTES)


EQUATIONS: list[tuple[tuple[str, str, str], list[tuple[str, str, str]]]] = [
    (_all("ensemble", "toutes"), [_all("public", "toutes"), _all("prive", "toutes")]),
    (_all("prive", "toutes"), [_all("ess", "toutes"), _all("prive_hors_ess", "toutes")]),
    (_all("prive_hors_ess", "toutes"), [SCE, _all("_oth", "toutes")]),
    (_all("ess_loi_2014", "toutes"), [_all("ess", "toutes"), SCE]),
    (_all("ess", "toutes"), [_all("ess", f) for f in FAMILLES_ESS]),
    (_all("ess_loi_2014", "toutes"), [*(_all("ess_loi_2014", f) for f in FAMILLES_ESS), SCE]),
    *((_all("ess_loi_2014", f), [_all("ess", f)]) for f in FAMILLES_ESS),
    *((_all(c, f), [sexed_key(c, f, s) for s in SEXES]) for c, f in SEXED),
]
"""total = Σ parts, inside one territory (a one-part equation: two names of the same cell). An equation
naming a cell that a nature lacks (the sexes of ``comptage``) never gives that nature anything away."""


def equations(present) -> list[tuple[Key, list[Key]]]:
    """:data:`EQUATIONS` and, for a territory holding the cells ``present``, the ESS = Σ its sectors and
    ESS = Σ its size bands, over the sector and band cells present (the others are known zeros). A
    territory without any sector (or band) cell gets no such equation (none is published: an old one)."""
    out = list(EQUATIONS)
    for breakdown in (3, 4):
        parts = sorted(k for k in present if k[:3] == (*BROKEN, TOUS) and _breakdown(k) == breakdown)
        if parts:
            out.append((_all(*BROKEN), parts))
    return out


def _breakdown(key: Key) -> int | None:
    """3 for a sector cell, 4 for a size-band cell, None otherwise."""
    if key[3] != TOUS:
        return 3
    return 4 if key[4] != TOUTES else None


def of_nature(key: Key, nature: str) -> bool:
    """Whether a cell exists in a nature: every cell in ``montant``, all but the sexes in ``comptage``, all
    but the sectors and size bands in ``temps_partiel``."""
    if nature == "temps_partiel":
        return _breakdown(key) is None
    return nature == "montant" or key[2] == TOUS


NATURES = {"comptage": "n_etab", "montant": "effectif", "temps_partiel": "temps_partiel"}
"""The quantity each nature's relations are checked on."""
SUBPOPULATIONS = ("temps_partiel",)
"""Jobs at 31/12 of a kind, published through their rate (count / jobs at 31/12): a nature each."""
QUANTITIES = [
    "effectif", "etp", "masse", "masse_salaire", "etp_salaire", "s_net", "nbheur", "n_salaries", *SUBPOPULATIONS
]
CONTRIBUTORS = ("effectif", "etp", "masse")
"""Quantities whose contributing establishments (``freq_<q>``: a positive value) take the frequency rule."""
PAY_FIELDS = ("masse_salaire", "nbheur")
"""The mean pay figures' fields: their contributors take the frequency rule (:func:`pay_rate_secret`)."""
MIN_UNITS, MIN_SALARIES = 3, 5


def lean(etabs: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`aggregate` reads, its text columns as categories (cheap to take rows from)."""
    cols = [c for c in etabs.columns if not c.startswith("code_") and c != "siret"]
    out = etabs[cols]
    return out.astype({c: "category" for c in ("feuille", "siren", "secteur", "tranche") if c in out.columns})


def keys_of(frame: pd.DataFrame) -> list[Key]:
    """The cell keys of a frame with the :data:`KEY_COLUMNS` (a mask recorded before the sectors, bands or
    sexes were published lacks their columns: its cells are the ``tous`` / ``toutes`` ones)."""
    defaults = {"sexe": TOUS, "secteur": TOUS, "tranche": TOUTES}
    cols = [
        (frame[c].fillna(defaults[c]) if c in defaults else frame[c])
        if c in frame.columns
        else pd.Series(defaults[c], index=frame.index)
        for c in KEY_COLUMNS
    ]
    return list(zip(*(c.to_numpy(dtype=object) for c in cols), strict=True))


def establishments(con) -> pd.DataFrame:
    """Every employer establishment with its commune, leaf and quantities (read once per request).

    Through Arrow: the same frame as ``.df()`` (same dtypes, equal on the sample), in half the time at France
    (5.7–6.5 s against 10.9–11.7 s for 2.3 M establishments); its chunks combined first, else every later
    take and comparison walks them (a territory at France: 24 s with them combined, 36–47 s without)."""
    return establishments_arrow(con).to_pandas()


def establishments_arrow(con):
    """:func:`establishments` as one Arrow table (its chunks combined)."""
    return con.sql(sql_text("territories/etablissements.sql")).to_arrow_table().combine_chunks()


def aggregate(etabs: pd.DataFrame) -> pd.DataFrame:
    """The cells (one row per key of :func:`keys` ``("montant")``) of a set of establishments.

    Columns: ``champ``, ``famille``, ``sexe``, ``secteur``, ``tranche``, ``n_etab`` (establishments; for a
    sex, those employing someone of it), ``n_ent`` (distinct SIREN among them), the sums of
    :data:`QUANTITIES`, ``max_<q>`` (largest establishment), ``freq_<q>`` (establishments contributing, for
    :data:`CONTRIBUTORS`, :data:`PAY_FIELDS` and :data:`SUBPOPULATIONS`), ``max_poste_brut`` /
    ``max_poste_net`` (largest single job). The cells by sex read
    the establishments' ``<q>_F`` / ``<q>_H`` columns (``sql/territories/etablissements.sql``); a frame
    without them gives the ``tous`` cells only. The sector and size-band cells of :data:`BROKEN` (from the
    ``secteur`` and ``tranche`` columns, when the frame has them) are those holding some establishment.

    Each pass over the establishments groups them once (by leaf, by sector, by band: :class:`_Groups`); a
    cell is a union of groups (a champ of its leaves). A missing value (NULL) is left out of the sums and
    maxima, as pandas and SQL leave it out.
    """
    leaf = _numbers(etabs["feuille"], LEAVES)  # −1: no leaf
    siren = pd.factorize(etabs["siren"])[0]  # integers: the distinct ones of a group counted by bit sets
    fields = [*QUANTITIES, "max_poste_brut", "max_poste_net"]
    sexes = [(TOUS, "")]
    if f"effectif_{SEXES[0]}" in etabs.columns:
        sexes += [(s, f"_{s}") for s in SEXES]
    rows = []
    for sexe, suffix in sexes:
        values = {q: etabs[f"{q}{suffix}"].to_numpy(dtype=float) for q in fields}
        group = leaf
        if sexe != TOUS:  # the establishments employing someone of that sex
            employs = np.logical_or.reduce([values[q] > 0 for q in ("effectif", "etp", "masse", "n_salaries")])
            group = np.where(employs, leaf, -1)
        by_leaf = _Groups(group, len(LEAVES), siren, values)
        for champ, famille in COMBOS if sexe == TOUS else SEXED:
            key = _all(champ, famille) if sexe == TOUS else sexed_key(champ, famille, sexe)
            rows.append(by_leaf.row(key, [LEAVES.index(x) for x in COMBOS[(champ, famille)]]))
    values = {q: etabs[q].to_numpy(dtype=float) for q in fields}
    broken = np.isin(leaf, [LEAVES.index(x) for x in COMBOS[BROKEN]])
    for column, key_of in (("secteur", sector_key), ("tranche", band_key)):
        if column not in etabs.columns:
            continue
        present, group = _numbered(etabs[column], broken)
        by_code = _Groups(group, len(present), siren, values)
        rows += [by_code.row(key_of(code), [i]) for i, code in enumerate(present)]
    return pd.DataFrame(rows)


def _categories(column: pd.Series) -> tuple[list, np.ndarray]:
    """The distinct values of ``column`` and each row's position among them (−1: missing), through its
    categories (:func:`lean` makes them): no string is compared per row."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    return cat.cat.categories.tolist(), cat.cat.codes.to_numpy().astype(np.int64)


def _positions(values: list, codes: np.ndarray, names: list) -> np.ndarray:
    """For category codes ``codes`` of the categories ``values``: each row's position of its value in
    ``names`` (−1: another value, or missing)."""
    number = np.array([names.index(v) if v in names else -1 for v in values] + [-1], dtype=np.int64)
    return number[codes]  # a missing value's code, −1, takes the last


def _numbers(column: pd.Series, names: list) -> np.ndarray:
    """Each row's position of its value in ``names`` (−1: another value, or missing)."""
    return _positions(*_categories(column), names)


def _numbered(column: pd.Series, rows: np.ndarray) -> tuple[list, np.ndarray]:
    """The values of ``column`` in the ``rows``, sorted, and each row's number among them (−1 outside the
    ``rows``)."""
    values, codes = _categories(column)
    used = np.flatnonzero(np.bincount(codes[rows & (codes >= 0)], minlength=len(values)))
    present = sorted(values[i] for i in used)
    return present, np.where(rows, _positions(values, codes, present), -1)


class _Groups:
    """Per group of establishments (``group``: a number in ``[0, n)``, −1 for none), what a cell needs: the
    count, the sums and maxima of ``values`` (quantity → one value per establishment), the contributing
    establishments of :data:`CONTRIBUTORS` and :data:`PAY_FIELDS`, and each enterprise's groups as a bit
    set (the distinct SIREN of a union of groups)."""

    _BITS = 62

    def __init__(self, group: np.ndarray, n: int, siren: np.ndarray, values: dict) -> None:
        g = np.where(group >= 0, group, n)  # the rows of no group in one more, left out at the end
        self.count = np.bincount(g, minlength=n + 1)[:n]
        self.sums, self.maxima, self.freq = {}, {}, {}
        for q, v in values.items():
            self.sums[q] = np.bincount(g, weights=np.where(np.isnan(v), 0.0, v), minlength=n + 1)[:n]
            top = np.full(n + 1, np.nan)
            np.fmax.at(top, g, v)  # NaN only where every value is missing
            self.maxima[q] = top[:n]
            if q in (*CONTRIBUTORS, *PAY_FIELDS, *SUBPOPULATIONS):
                self.freq[q] = np.bincount(g, weights=v > 0, minlength=n + 1)[:n].astype(np.int64)
        # bit b of chunk c: the enterprise has an establishment in group 62 c + b (an establishment without
        # a SIREN counts in no enterprise)
        ok = (group >= 0) & (siren >= 0)
        g, s = group[ok], siren[ok]
        self.bits = []
        for first in range(0, max(n, 1), self._BITS):
            inside = (g >= first) & (g < first + self._BITS)
            bits = np.zeros(int(siren.max(initial=-1)) + 1, np.int64)
            np.bitwise_or.at(bits, s[inside], np.left_shift(1, g[inside] - first, dtype=np.int64))
            self.bits.append(bits)
        self.enterprises = np.array([self._enterprises([i]) for i in range(n)], dtype=np.int64)

    def _enterprises(self, groups: list[int]) -> int:
        """The distinct enterprises of a union of groups (of one chunk of bits)."""
        chunk = {g // self._BITS for g in groups}
        if len(chunk) > 1:
            raise ValueError("a union of groups spans chunks of bits")
        union = sum(1 << (g % self._BITS) for g in groups)
        return int(np.count_nonzero(self.bits[chunk.pop()] & union))

    def row(self, key: Key, groups: list[int]) -> dict:
        """The cell ``key``, the union of ``groups``."""
        n = int(self.count[groups].sum())
        n_ent = int(self.enterprises[groups[0]]) if len(groups) == 1 else self._enterprises(groups)
        row = {**dict(zip(KEY_COLUMNS, key, strict=True)), "n_etab": n, "n_ent": n_ent}
        for q in QUANTITIES:
            row[q] = float(self.sums[q][groups].sum())
            row[f"max_{q}"] = self._max(q, groups) if n else 0.0
        for q in (*CONTRIBUTORS, *PAY_FIELDS, *SUBPOPULATIONS):
            row[f"freq_{q}"] = int(self.freq[q][groups].sum())
        for q in ("max_poste_brut", "max_poste_net"):
            row[q] = self._max(q, groups) if n else 0.0
        return row

    def _max(self, q: str, groups: list[int]) -> float:
        """The largest value of ``q`` in the groups holding an establishment (NaN when all are missing)."""
        return float(np.fmax.reduce(self.maxima[q][[g for g in groups if self.count[g]]]))


def primary(cells: pd.DataFrame) -> pd.DataFrame:
    """Primary secrecy per cell and nature (``p_comptage``, ``p_montant``), INSEE rules (secrecy.md).

    Counts: 1 or 2 establishments. Magnitudes: fewer than 3 establishments or 3 enterprises, 1 or 2
    establishments contributing to jobs at 31/12, ETP or payroll, fewer than 5 jobs, one job above 80 % of
    the gross or net pay, one establishment above 85 % of jobs, ETP, payroll, hours or net pay. Part-time
    jobs (``p_temps_partiel``): 1 or 2 establishments with some, or one above 85 % of them. An empty
    cell (no establishment) is not secret. The mean pay's own rule: :func:`pay_rate_secret`.
    """
    n = cells["n_etab"].to_numpy(float)
    some = n > 0
    p_count = some & (n < MIN_UNITS)
    p_mag = p_count | (some & (cells["n_ent"].to_numpy(float) < MIN_UNITS))
    p_mag |= some & (cells["n_salaries"].to_numpy(float) < MIN_SALARIES)
    for q in CONTRIBUTORS:
        p_mag |= _one_or_two(cells[f"freq_{q}"])
    for top, total in (("max_poste_brut", "masse"), ("max_poste_net", "s_net")):
        v = cells[total].to_numpy(float)
        p_mag |= (v > 0) & (cells[top].to_numpy(float) * 5 > v * 4)
    for q in ("effectif", "etp", "masse", "nbheur", "s_net"):
        p_mag |= _dominated(cells, q)
    # as observatory.secrecy.rules.primary: frequency and dominance on the establishments with such jobs
    subs = {f"p_{q}": _one_or_two(cells[f"freq_{q}"]) | _dominated(cells, q) for q in SUBPOPULATIONS}
    return cells[KEY_COLUMNS].assign(p_comptage=p_count, p_montant=np.asarray(p_mag, bool), **subs)


def needed_above(cells: pd.DataFrame, q: str) -> np.ndarray:
    """How high an attacker must be unable to rule out the quantity ``q`` of each cell, were it primary: its
    value plus the larger of 10 % of it and the dominance level (up to the value at which its largest
    establishment falls to 85 %: :func:`observatory.secrecy.levels.protection_levels`), as the territory audit
    asks."""
    v = cells[q].to_numpy(float)
    up, _down = protection_levels(v, cells[f"max_{q}"].to_numpy(float), np.ones(len(v), bool))
    return v + np.maximum(up, SAFETY_RANGE * v)


def _dominated(cells: pd.DataFrame, q: str) -> np.ndarray:
    """The dominance rule on ``q``: one establishment above 85 % of the cell (``20·max > 17·total``)."""
    v = cells[q].to_numpy(float)
    return (v > 0) & (cells[f"max_{q}"].to_numpy(float) * 20 > v * 17)


def pay_rate_secret(cells: pd.DataFrame) -> np.ndarray:
    """The mean pay's frequency rule: 1 or 2 establishments with pay in the pay field or with hours in the
    hourly-pay field (as ``observatory.secrecy.rules.pay_rate_secret`` for the indicator table)."""
    out = np.zeros(len(cells), bool)
    for q in PAY_FIELDS:
        out |= _one_or_two(cells[f"freq_{q}"])
    return out


def _one_or_two(units: pd.Series) -> np.ndarray:
    """The frequency rule on contributing units: 1 or 2 (0 is an empty field, not secret)."""
    f = units.to_numpy(float)
    return (f > 0) & (f < MIN_UNITS)
