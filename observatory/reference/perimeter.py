"""The ESS statistical perimeter as versioned data: CJ → family tables, excluded activities, switches.

A perimeter version is four files in ``observatory/reference/perimetre/`` (package data, read offline):

- ``versions.csv``: one row per version (``perimetre_version``, ``defaut``, ``familles``, ``libelle``,
  ``source``);
- ``<version>.cj.csv``: every level-III code of the INSEE legal-category nomenclature (``cj``, ``libelle``,
  ``famille``, ``interrupteur``). ``famille`` is the family the code belongs to when its switch is on
  (``association``, ``cooperative``, ``mutuelle``, ``fondation``, ``autre_obnl``, or ``hors_ess``);
  ``interrupteur`` names the switch governing the row, empty when none;
- ``<version>.interrupteurs.csv``: the switches (``interrupteur``, ``defaut`` on/off, ``portee``,
  ``description``). ``portee`` says what a switch governs: ``famille`` (off ⇒ its rows are ``hors_ess``),
  ``public`` (``public_4xxx``: CJ 4xxx counted in the public field) or ``activite``
  (``activite_etablissement``: the activity exclusion is tested on the establishment's APET instead of the
  legal unit's APEN);
- ``<version>.activites_exclues.csv``: NAF rév. 2 codes whose units are out of the perimeter whatever their
  family (``code``, ``niveau`` = ``division`` or ``sous_classe``, ``libelle``).

Changing a table makes a new version. Overriding switches keeps the version but changes its stamp:
``insee-2008-4f+smia=on`` (see :attr:`Perimetre.stamp`), so that an output never claims a perimeter it did
not use. Sector groups (``secteurs.csv``) and named filières (``filieres.csv``) sit beside the folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from observatory.config import DEFAULT_PERIMETRE
from observatory.errors import ObservatoryError

SOURCE = (
    "Périmètre de l'ESS : nomenclature commune Insee–DIIESES–CNCRES (2008), diffusion Flores ; "
    "table CJ reconstruite par l'observatoire"
)
FAMILLES = ("association", "cooperative", "mutuelle", "fondation", "autre_obnl")
HORS_ESS = "hors_ess"
PORTEES = ("famille", "public", "activite")
REQUIRED_SWITCHES = ("activite_etablissement", "public_4xxx")
_ON_OFF = {"on": True, "off": False}


def _data(name: str):
    return resources.files("observatory.reference") / name


def _read_csv(name: str) -> pd.DataFrame:
    with _data(name).open("rb") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8")


@dataclass(frozen=True)
class Interrupteur:
    """One switch of a perimeter version."""

    nom: str
    defaut: bool
    portee: str
    description: str


@dataclass(frozen=True)
class Perimetre:
    """A perimeter version with its switches set.

    ``table_cj`` is the version's table as published (``cj``, ``libelle``, ``famille``, ``interrupteur``);
    :meth:`perimetre_cj` applies the switches. ``interrupteurs`` holds the value of every switch of the
    version (defaults, then overrides).
    """

    version: str
    familles: tuple[str, ...]
    table_cj: pd.DataFrame
    activites_exclues: pd.DataFrame
    declares: tuple[Interrupteur, ...]
    interrupteurs: Mapping[str, bool]

    @property
    def stamp(self) -> str:
        """The version name, followed by ``+name=on|off`` for each switch set away from its default."""
        changed = [
            f"{s.nom}={'on' if self.interrupteurs[s.nom] else 'off'}"
            for s in sorted(self.declares, key=lambda s: s.nom)
            if self.interrupteurs[s.nom] != s.defaut
        ]
        return "+".join([self.version, *changed])

    def perimetre_cj(self) -> pd.DataFrame:
        """Effective CJ → family after switches: ``cj``, ``famille`` (a row whose family switch is off is
        ``hors_ess``). Every code of the nomenclature appears exactly once."""
        t = self.table_cj
        portee = t["interrupteur"].map({s.nom: s.portee for s in self.declares})
        off = t["interrupteur"].map(lambda name: name != "" and not self.interrupteurs[name])
        famille = t["famille"].where(~((portee == "famille") & off), HORS_ESS)
        return pd.DataFrame({"cj": t["cj"], "famille": famille}).reset_index(drop=True)

    def categories_juridiques(self) -> pd.DataFrame:
        """The legal-category nomenclature the version knows: ``cj``, ``libelle``."""
        return self.table_cj[["cj", "libelle"]].reset_index(drop=True)

    def parametres(self) -> pd.DataFrame:
        """One row: ``perimetre_version`` (the stamp), ``activite_etablissement``, ``public_4xxx``."""
        return pd.DataFrame(
            {
                "perimetre_version": [self.stamp],
                "activite_etablissement": [bool(self.interrupteurs["activite_etablissement"])],
                "public_4xxx": [bool(self.interrupteurs["public_4xxx"])],
            }
        )


@lru_cache(maxsize=1)
def _versions_table() -> pd.DataFrame:
    return _read_csv("perimetre/versions.csv")


def versions() -> list[str]:
    """The built-in perimeter versions, default first."""
    t = _versions_table()
    return [
        *t.loc[t["defaut"] == "true", "perimetre_version"],
        *t.loc[t["defaut"] != "true", "perimetre_version"],
    ]


def perimetre(
    version: str = DEFAULT_PERIMETRE, switches: Mapping[str, bool | str] | None = None
) -> Perimetre:
    """Load and validate a perimeter version, then set its switches.

    ``switches`` maps switch names to ``True``/``False`` (or ``"on"``/``"off"``); unset switches keep their
    default. An unknown version, an unknown switch or an inconsistent table raises
    :class:`~observatory.errors.ObservatoryError`.
    """
    known = versions()
    if version not in known:
        raise ObservatoryError(f"unknown perimeter version {version!r}; known versions: {', '.join(known)}")
    table_cj, exclues, declares, familles = _load_version(version)
    values = {s.nom: s.defaut for s in declares}
    for name, value in (switches or {}).items():
        if name not in values:
            raise ObservatoryError(
                f"unknown switch {name!r} for perimeter {version}; switches: {', '.join(sorted(values))}"
            )
        values[name] = _as_bool(name, value)
    return Perimetre(
        version=version,
        familles=familles,
        table_cj=table_cj.copy(),
        activites_exclues=exclues.copy(),
        declares=declares,
        interrupteurs=values,
    )


def _as_bool(name: str, value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _ON_OFF:
        return _ON_OFF[value.strip().lower()]
    raise ObservatoryError(f"switch {name!r}: expected true/false or on/off, found {value!r}")


@lru_cache(maxsize=8)
def _load_version(
    version: str,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[Interrupteur, ...], tuple[str, ...]]:
    row = _versions_table().set_index("perimetre_version").loc[version]
    familles = tuple(row["familles"].split())
    table_cj = _read_csv(f"perimetre/{version}.cj.csv")
    exclues = _read_csv(f"perimetre/{version}.activites_exclues.csv")
    sw = _read_csv(f"perimetre/{version}.interrupteurs.csv")
    declares = tuple(
        Interrupteur(r.interrupteur, _ON_OFF.get(r.defaut, None), r.portee, r.description)
        for r in sw.itertuples(index=False)
    )
    validate(version, table_cj, exclues, declares, familles)
    return table_cj, exclues, declares, familles


def validate(
    version: str,
    table_cj: pd.DataFrame,
    exclues: pd.DataFrame,
    declares: tuple[Interrupteur, ...],
    familles: tuple[str, ...],
) -> None:
    """Check a version's tables; raise :class:`ObservatoryError` naming the file and the fault.

    Checks: each CJ is a 4-digit code listed exactly once (so it has exactly one family); each family is one
    of the version's families or ``hors_ess``; each switch is declared once with a default on/off and a known
    scope, the switches ``activite_etablissement`` and ``public_4xxx`` exist; a row's switch is declared,
    a ``famille`` switch governs only rows of an ESS family, ``public_4xxx`` only 4xxx rows; excluded
    activities are NAF rév. 2 divisions (``84``) or sous-classes (``94.91Z``).
    """
    where = f"perimeter {version}"

    def fail(msg: str) -> None:
        raise ObservatoryError(f"{where}: {msg}")

    unknown_fam = sorted(set(familles) - set(FAMILLES))
    if unknown_fam:
        fail(f"versions.csv names unknown families {unknown_fam}")
    for col in ("cj", "libelle", "famille", "interrupteur"):
        if col not in table_cj.columns:
            fail(f"{version}.cj.csv lacks column {col!r}")
    bad = table_cj.loc[~table_cj["cj"].str.fullmatch(r"\d{4}"), "cj"]
    if len(bad):
        fail(f"{version}.cj.csv: CJ codes must have 4 digits, found {list(bad)[:5]}")
    dup = table_cj.loc[table_cj["cj"].duplicated(), "cj"]
    if len(dup):
        fail(f"{version}.cj.csv: CJ listed more than once (two families?): {sorted(set(dup))[:10]}")
    wrong = table_cj.loc[~table_cj["famille"].isin([*familles, HORS_ESS])]
    if len(wrong):
        pairs = list(zip(wrong["cj"], wrong["famille"], strict=True))[:5]
        fail(f"{version}.cj.csv: families outside {[*familles, HORS_ESS]}: {pairs}")

    names = [s.nom for s in declares]
    if len(set(names)) != len(names):
        fail(f"{version}.interrupteurs.csv declares a switch twice")
    for s in declares:
        if s.defaut is None:
            fail(f"switch {s.nom!r}: default must be 'on' or 'off'")
        if s.portee not in PORTEES:
            fail(f"switch {s.nom!r}: scope must be one of {PORTEES}, found {s.portee!r}")
    for name in REQUIRED_SWITCHES:
        if name not in names:
            fail(f"{version}.interrupteurs.csv must declare switch {name!r}")
    portee = {s.nom: s.portee for s in declares}
    for r in table_cj.loc[table_cj["interrupteur"] != ""].itertuples(index=False):
        if r.interrupteur not in portee:
            fail(f"CJ {r.cj}: switch {r.interrupteur!r} is not declared in {version}.interrupteurs.csv")
        if portee[r.interrupteur] == "famille" and r.famille == HORS_ESS:
            fail(f"CJ {r.cj}: family switch {r.interrupteur!r} on a hors_ess row")
        if portee[r.interrupteur] == "public" and not r.cj.startswith("4"):
            fail(f"CJ {r.cj}: switch {r.interrupteur!r} applies to 4xxx codes only")
        if portee[r.interrupteur] == "activite":
            fail(f"CJ {r.cj}: switch {r.interrupteur!r} is not a CJ switch")

    for col in ("code", "niveau", "libelle"):
        if col not in exclues.columns:
            fail(f"{version}.activites_exclues.csv lacks column {col!r}")
    pattern = {"division": r"\d\d", "sous_classe": r"\d\d\.\d\d[A-Z]"}
    for r in exclues.itertuples(index=False):
        if r.niveau not in pattern or not re.fullmatch(pattern[r.niveau], r.code):
            fail(f"excluded activity {r.code!r} ({r.niveau!r}) is not a NAF rév. 2 division or sous-classe")


@lru_cache(maxsize=1)
def _secteurs() -> pd.DataFrame:
    df = _read_csv("secteurs.csv")
    return df.assign(division=df["division"].replace("", None))


def secteurs() -> pd.DataFrame:
    """Sector groups (perimeter.md §6): ``division`` (NAF rév. 2 A88, ``01``…``99``), ``secteur`` (AGR…AUT),
    ``libelle_secteur``, ``public_seulement`` (``oui`` for a sector of the public field only: ADM, division
    84 — a private establishment declaring it is classed ``NCL``). All 88 divisions map to one sector; a
    last row with no division gives the label of ``NCL`` (non classé: missing or invalid activity code, or
    a public-only activity declared by a private employer), which is kept explicit, never dropped."""
    return _secteurs().copy()


def filieres() -> pd.DataFrame:
    """Named filières for drill-down (perimeter.md §6): ``sous_classe``, ``filiere``, ``libelle_filiere``."""
    return _read_csv("filieres.csv")
