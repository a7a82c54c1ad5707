"""The published geography, described once: every territory level as a union of geographic atoms.

An **atom** is the piece where a département and an EPCI intersect: the communes of département ``d`` that
belong to EPCI ``e``. An EPCI inside one département is one atom; an EPCI straddling ``k`` départements is
``k`` atoms; a département is the union of the atoms of its EPCIs. Establishments without a département
or without an EPCI (commune abroad, missing, or outside every EPCI) fall in the atoms ``(?, ?)`` and
``(d, ?)``: the internal territories ``_geo_inconnu`` (département ``?``) and ``_epci_inconnu`` (EPCI
``?``), never published but derivable by subtraction.

Every published level is then a sum of atom cells, so "département = Σ of its EPCI pieces" or "EPCI = Σ of
its pieces" are relations like "région = Σ of its départements". The protection (:mod:`observatory.secrecy`)
and the audit (:mod:`observatory.audit`) both read this description and build their equations from it
independently. Custom territories (unions of communes) will be added as levels whose atoms are communes.

An atom's code is ``<département>|<EPCI>`` (e.g. ``972|200041788``); codes stay text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

UNKNOWN = "?"
#: The internal territory levels and the atom part that defines them (never published).
INTERNAL_LEVELS = {"_geo_inconnu": "code_departement", "_epci_inconnu": "code_epci"}
#: The niveau under which atom cells are computed and protected (never published).
ATOM_LEVEL = "_piece"


def atom_code(departement, epci) -> str:
    """The code of the atom of département ``departement`` and EPCI ``epci`` (``None`` → ``?``)."""
    d = UNKNOWN if departement is None or pd.isna(departement) else str(departement)
    e = UNKNOWN if epci is None or pd.isna(epci) else str(epci)
    return f"{d}|{e}"


def split_atom(code: str) -> tuple[str, str]:
    """``(département, EPCI)`` of an atom code (``?`` for unknown)."""
    d, _, e = str(code).partition("|")
    return d, e


@dataclass(frozen=True)
class Geography:
    """The atoms (``atom``, ``code_departement``, ``code_epci``, ``code_region``; ``?`` for unknown)."""

    atoms: pd.DataFrame

    def members(self, niveau: str) -> dict[str, list[str]]:
        """Territory code → the sorted atom codes it unites, for ``france``, ``region``, ``departement``,
        ``epci`` and the internal levels ``_geo_inconnu`` / ``_epci_inconnu`` (code ``?``). Computed once per
        level and geography (the audit states its territory relations once per indicator); read-only."""
        known = self.__dict__.setdefault("_members_memo", {})  # a memo beside the frozen fields
        if niveau not in known:
            known[niveau] = self._members(niveau)
        return known[niveau]

    def _members(self, niveau: str) -> dict[str, list[str]]:
        a = self.atoms
        if niveau == "france":
            return {"FR": sorted(a.atom)}
        if niveau in INTERNAL_LEVELS:
            col = INTERNAL_LEVELS[niveau]
            return {UNKNOWN: sorted(a.loc[a[col] == UNKNOWN, "atom"])}
        col = {"region": "code_region", "departement": "code_departement", "epci": "code_epci"}[niveau]
        known = a[a[col] != UNKNOWN]
        return {code: sorted(g.atom) for code, g in known.groupby(col, sort=True)}

    def region_of(self) -> dict[str, str]:
        """Département → région."""
        a = self.atoms[self.atoms.code_departement != UNKNOWN]
        return dict(zip(a.code_departement, a.code_region))

    def straddling_epcis(self) -> dict[str, list[str]]:
        """EPCI → its départements, for the EPCIs spread over more than one département."""
        a = self.atoms[(self.atoms.code_epci != UNKNOWN) & (self.atoms.code_departement != UNKNOWN)]
        deps = a.groupby("code_epci").code_departement.agg(lambda s: sorted(set(s)))
        return {e: d for e, d in deps.items() if len(d) > 1}

    def restrict(self, atoms) -> Geography:
        """The geography with only the atoms ``atoms`` (e.g. those where establishments are)."""
        return Geography(self.atoms[self.atoms.atom.isin(set(atoms))].reset_index(drop=True))


def from_pieces(pieces: pd.DataFrame) -> Geography:
    """The geography of rows with ``code_departement``, ``code_epci`` and ``code_region`` (missing → ``?``),
    e.g. communes or establishments; a département's région is taken from its rows."""
    p = pieces[["code_departement", "code_epci", "code_region"]].astype(object)
    p = p.where(p.notna(), UNKNOWN).drop_duplicates()
    p.loc[p.code_departement == UNKNOWN, "code_region"] = UNKNOWN
    p = p.drop_duplicates(["code_departement", "code_epci"])
    p.insert(0, "atom", [atom_code(d, e) for d, e in zip(p.code_departement, p.code_epci, strict=True)])
    return Geography(p.sort_values("atom").reset_index(drop=True))


@lru_cache(maxsize=1)
def cog() -> Geography:
    """The geography of the COG (every commune's département and EPCI), with the unknown atoms."""
    from observatory.reference import cog as _cog

    com = _cog.communes()
    com = com[com["type"] == "COM"]
    unknown = pd.DataFrame(
        {"code_departement": [UNKNOWN, *sorted(com.code_departement.dropna().unique())]}
    ).assign(code_epci=UNKNOWN)
    unknown["code_region"] = unknown.code_departement.map(dict(zip(com.code_departement, com.code_region)))
    return from_pieces(pd.concat([com, unknown], ignore_index=True))
