"""The published indicators as data (``indicateurs.csv``): code, unit, publication precision, French label and
what each figure covers.

One source for every product: ``observatory/sql/indicators/indicateurs.sql`` and
``observatory/sql/barometre/indicateurs.sql`` round the published ``valeur`` to ``decimales`` (``ref.indicateurs``; the warehouse keeps the computed value), and
the notes of the PDF, XLSX and portal quote ``couverture`` (:mod:`observatory.publish.notes`).

Units (one convention in every file): ``nombre``; ``euros``; ``pourcent``, always a percentage 0–100
(``13,7`` means 13,7 %), never a fraction. ``decimales`` is the number of decimals published, INSEE practice:
counts, ETP and ranks whole, annual pay to the euro, hourly pay to 0,1 € (SAL G1), rates, shares and changes
to 0,1 point, payroll to the thousand euros (``-3``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

UNITES = ("nombre", "euros", "pourcent")


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    with (resources.files("observatory.reference") / "indicateurs.csv").open("rb") as f:
        df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8")
    df["decimales"] = df["decimales"].astype("int64")
    bad = sorted(set(df["unite"]) - set(UNITES))
    if bad:
        raise ValueError(f"indicateurs.csv: unknown unit(s) {bad}")
    if not df["indicateur"].is_unique:
        raise ValueError("indicateurs.csv: an indicator is listed twice")
    return df


def indicateurs() -> pd.DataFrame:
    """``indicateur``, ``unite``, ``decimales``, ``libelle``, ``couverture`` (one row per published code)."""
    return _table().copy()


@lru_cache(maxsize=1)
def _by_code() -> dict[str, dict]:
    return {r["indicateur"]: r for r in _table().to_dict("records")}


def _row(code: str) -> dict:
    try:
        return _by_code()[code]
    except KeyError:
        raise KeyError(f"unknown indicator {code!r} (observatory/reference/indicateurs.csv)") from None


def unite(code: str) -> str:
    return str(_row(code)["unite"])


def decimales(code: str) -> int:
    return int(_row(code)["decimales"])


def half_unit(code: str) -> float:
    """Half the publication unit of ``code``: a published ``v`` stands for [v − half, v + half] (0.5 for ETP,
    500 € for payroll)."""
    return 0.5 * 10.0 ** -decimales(code)


def round_published(values, codes) -> np.ndarray:
    """Each value at the publication precision of its indicator (``codes``, one per value), half away from
    zero as DuckDB's ``round`` in ``sql/indicators/indicateurs.sql``."""
    v = np.asarray(values, dtype=float)
    d = np.array([decimales(c) for c in codes], dtype=int)
    up, down = 10.0 ** np.maximum(d, 0), 10.0 ** np.maximum(-d, 0)  # exact factors either way
    return np.sign(v) * np.floor(np.abs(v) * up / down + 0.5) * down / up + 0.0


def libelle(code: str) -> str:
    return str(_row(code)["libelle"])


def to_natural(valeur: float | None, unite: str) -> float | None:
    """The one place where table units are interpreted: ``pourcent`` values (0–100) become fractions."""
    if valeur is None:
        return None
    return valeur / 100.0 if unite == "pourcent" else valeur


def couverture(code: str) -> str:
    """What the figure covers, in the words every product prints."""
    return str(_row(code)["couverture"])
