"""Observatoire de l'ESS: the library (no Dagster). The researchers' API is re-exported here."""

from observatory.api import compare, geometries, open_table, table, territory, vintages

__all__ = ["compare", "geometries", "open_table", "table", "territory", "vintages"]
