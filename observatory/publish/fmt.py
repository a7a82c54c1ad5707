"""French number formatting for every publication (PDF, XLSX labels, charts, CSV).

One convention everywhere: the thousands separator and the space before a unit (``%``, ``€``, ``Md€``)
is the **no-break space** U+00A0 (a normal-width space that never breaks a number across lines), the
decimal mark is a comma, rounding is half away from zero (``12,35`` → ``12,4``, as statisticians expect,
not Python's banker's rounding). A secret cell prints ``s``; a figure absent from the indicator table prints ``n.d.``.

    >>> nombre(2600000)
    '2\xa0600\xa0000'
    >>> pourcent(0.137)
    '13,7\xa0%'
    >>> montant(1.2e9)
    '1,2\xa0Md€'
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

SPACE = "\u00a0"
"""No-break space: thousands separator and space before units."""
MINUS = "\u2212"
"""Typographic minus sign for negative numbers."""
SECRET = "s"
"""What a cell under statistical secrecy prints."""
MISSING = "n.d."
"""What a figure absent from the indicator table (non disponible) prints."""
SANS_OBJET = "–"
"""What a cell that has no meaning (a share of private jobs for the public sector) prints."""

_SPACES = re.compile("[\u00a0\u202f\u2009\u2007 ]+")


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _round(x: float, decimals: int) -> Decimal:
    q = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP)


def nombre(x: float | None, decimals: int = 0) -> str:
    """``2 600 000``, ``12,5``: grouped by thousands, comma decimal mark; ``n.d.`` for a missing value."""
    if _is_missing(x):
        return MISSING
    d = _round(x, decimals)
    if d == 0:
        d = abs(d)
    sign = MINUS if d < 0 else ""
    text = f"{abs(d):f}"
    whole, _, frac = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = SPACE.join(groups)
    if decimals > 0:
        out += "," + frac.ljust(decimals, "0")[:decimals]
    return sign + out


def pourcent(fraction: float | None, decimals: int = 1) -> str:
    """A share given as a **fraction** (0.137) printed as ``13,7 %``."""
    if _is_missing(fraction):
        return MISSING
    return nombre(fraction * 100, decimals) + SPACE + "%"


def points(x: float | None, decimals: int = 1) -> str:
    """A difference of percentages given in points (``2,3 pts``)."""
    if _is_missing(x):
        return MISSING
    return nombre(x, decimals) + SPACE + "pts"


def _signed(text: str, x: float) -> str:
    nonzero = any(ch in "123456789" for ch in text)
    return "+" + text if nonzero and x > 0 else text


def evolution(fraction: float | None, decimals: int = 1) -> str:
    """A change given as a fraction, signed: ``+1,2 %``, ``−0,4 %`` (``0,0 %`` unsigned)."""
    if _is_missing(fraction):
        return MISSING
    return _signed(pourcent(fraction, decimals), fraction)


def solde(x: float | None) -> str:
    """A change in a count, signed: ``+2 300``, ``−150``."""
    if _is_missing(x):
        return MISSING
    return _signed(nombre(x), x)


def euros(x: float | None, decimals: int = 0) -> str:
    """An amount in euros, in full: ``31 250 €``, ``14,52 €``."""
    if _is_missing(x):
        return MISSING
    return nombre(x, decimals) + SPACE + "€"


def montant(x: float | None) -> str:
    """A large amount with its scale: ``1,2 Md€``, ``345,6 M€``, below a million in full (``85 300 €``)."""
    if _is_missing(x):
        return MISSING
    if abs(x) >= 1e9:
        return nombre(x / 1e9, 1) + SPACE + "Md€"
    if abs(x) >= 1e6:
        return nombre(x / 1e6, 1) + SPACE + "M€"
    return euros(x)


def fois(x: float | None) -> str:
    """A ratio read as "N fois": ``1,7``."""
    if _is_missing(x):
        return MISSING
    return nombre(x, 1)


def rang(n: float | None) -> str:
    """A rank: ``1er``, ``2e``, ``12e``."""
    if _is_missing(n):
        return MISSING
    n = round(n)
    return "1er" if n == 1 else f"{n}e"


def normalize(text: str) -> str:
    """Text with every kind of space collapsed to one ASCII space and minus signs as ``-``.

    For comparing a formatted figure with text extracted from a PDF, whatever the extractor made of
    the narrow no-break spaces.
    """
    return _SPACES.sub(" ", text.replace(MINUS, "-")).strip()


def parse_nombre(text: str) -> float:
    """The number in a French-formatted string (``2 600 000``, ``13,7 %``, ``−1,5``); inverse of :func:`nombre`."""
    t = normalize(text).replace(" ", "").rstrip("%€").replace("Md", "").replace("M", "")
    return float(t.replace(",", "."))


LOCATIF_REGIONS = {
    "01": "en Guadeloupe",
    "02": "en Martinique",
    "03": "en Guyane",
    "04": "à La Réunion",
    "06": "à Mayotte",
    "11": "en Île-de-France",
    "24": "en Centre-Val de Loire",
    "27": "en Bourgogne-Franche-Comté",
    "28": "en Normandie",
    "32": "dans les Hauts-de-France",
    "44": "dans le Grand Est",
    "52": "dans les Pays de la Loire",
    "53": "en Bretagne",
    "75": "en Nouvelle-Aquitaine",
    "76": "en Occitanie",
    "84": "en Auvergne-Rhône-Alpes",
    "93": "en Provence-Alpes-Côte d'Azur",
    "94": "en Corse",
}
"""How a sentence says "in the region" (the COG article type is not reliable for régions)."""

_DEP_EXCEPTIONS = {"75": "à Paris", "974": "à La Réunion", "976": "à Mayotte"}


def locatif(niveau: str, code: str, libelle: str, type_nom: str | int | None = None) -> str:
    """ "en Bretagne", "dans le Finistère", "dans l'Ain", "à Paris": the territory as a place in a sentence.

    For départements ``type_nom`` is the COG article type (TNCC: 0/1 no article, 2 Le, 3 La, 4 Les, 5 L');
    without it the name is given as is, after "dans le territoire".
    """
    if niveau == "france":
        return "en France"
    if niveau == "region" and code in LOCATIF_REGIONS:
        return LOCATIF_REGIONS[code]
    if niveau == "departement":
        if code in _DEP_EXCEPTIONS:
            return _DEP_EXCEPTIONS[code]
        article = {"0": "en ", "1": "en ", "2": "dans le ", "3": "en ", "4": "dans les ", "5": "dans l'"}
        if type_nom is not None and str(type_nom) in article:
            return article[str(type_nom)] + libelle
    return f"dans le territoire « {libelle} »"


def code_version(version: object) -> str:
    """The manifest's ``code_version`` for a reader: ``0.1.0 (commit fb4b1bd)``, ``0.1.0 (commit fb4b1bd
    modifié)`` when the package's files differed from the commit; ``n.d.`` when missing."""
    if not version:
        return MISSING
    if isinstance(version, dict):
        package = str(version.get("package") or MISSING)
        commit = version.get("git_commit")
        if not commit:
            return package
        return f"{package} (commit {str(commit)[:7]}{' modifié' if version.get('git_modified') else ''})"
    return str(version)
