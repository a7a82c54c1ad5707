"""The evolution section: earlier published vintages (:func:`earlier_vintages`) and the change of the
salaried headcount at 31/12 since then (:func:`fig_evolution`, :func:`evolution_line`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from observatory.publish import alt, charts, fmt
from observatory.publish.model import (
    CHAMPS,
    EVOLUTION_ABSENTE,
    TITRE_EVOLUTION,
    VINTAGES_SHOWN,
    Cell,
    Figure,
    IndicatorTable,
    Section,
    Territory,
    champ_line,
    derive,
    lecture,
)


@dataclass(frozen=True)
class Vintage:
    """An earlier vintage's published table, as the evolution section reads it."""

    millesime: int
    table: IndicatorTable


def earlier_vintages(output_vintage_dir: str | Path, millesime: int) -> list[Vintage]:
    """The published vintages before ``millesime`` (``output/<m>/tables/indicateurs.parquet``), oldest first.

    Only the cells the evolution section reads are loaded (headcount at 31/12 of every territory and field,
    no breakdown), so an earlier vintage costs little to read.
    """
    from observatory import api

    root = Path(output_vintage_dir).parent
    filters = [
        ("indicateur", "==", "effectif_31_12"),
        ("famille", "==", "toutes"),
        ("secteur", "==", "tous"),
        ("tranche", "==", "toutes"),
        ("sexe", "==", "tous"),
        ("pcs", "==", "toutes"),
    ]
    out = []
    for m in api.vintages(root):
        if m < millesime:
            df = api.read_indicators(root / str(m), filters=filters)
            out.append(Vintage(m, IndicatorTable(df)))
    return out[-(VINTAGES_SHOWN - 1) :] if VINTAGES_SHOWN > 1 else []


def _change(a: Cell, b: Cell, relative: bool) -> Cell:
    if relative:
        return derive(lambda x, z: z / x - 1, a, b, kind="evolution")
    return derive(lambda x, z: z - x, a, b, kind="solde")


def _history_cells(t: Territory, history: list[Vintage], champ: str) -> list[Cell]:
    cells = []
    for v in history:
        past = v.table.territory(t.niveau, t.code) if v.table.has(t.niveau, t.code) else None
        cells.append(past.get("effectif_31_12", champ=champ) if past else Cell(None, "absent"))
    return cells + [t.get("effectif_31_12", champ=champ)]


def fig_evolution(t: Territory, y: int, history: list[Vintage], perimetre: str) -> Figure:
    """ESS vs privé hors ESS headcount at 31/12 per vintage, and the change since the previous vintage.

    A change is secret when the headcount of either vintage is (``s``); ``n.d.`` when the territory is
    absent from an earlier table.
    """
    champs = ("ess", "prive_hors_ess")
    years = [v.millesime for v in history] + [y]
    y0 = years[-2]
    rows, changes = [], {}
    for c in champs:
        cells = _history_cells(t, history, c)
        rows.append(
            [CHAMPS[c], *cells, _change(cells[-2], cells[-1], True), _change(cells[-2], cells[-1], False)]
        )
        changes[c] = [_change(a, b, True) for a, b in itertools.pairwise(cells)]
    ess, prive = rows
    verbe = "augmenté" if ess[-1].ok and ess[-1].value >= 0 else "diminué" if ess[-1].ok else "évolué"
    if ess[-2].ok:
        lect = (
            f"entre {y0} et {y}, l'effectif salarié de l'ESS {t.dans} a {verbe} de "
            f"{fmt.pourcent(abs(ess[-2].value))} ({ess[-1].text()} emplois)"
            + (f", contre {prive[-2].text()} dans le privé hors ESS." if prive[-2].ok else ".")
        )
    elif prive[-2].ok:
        lect = (
            f"entre {y0} et {y}, l'effectif salarié du privé hors ESS {t.dans} a évolué de {prive[-2].text()} "
            f"({prive[-1].text()} emplois) ; l'évolution de celui de l'ESS est couverte par le secret statistique."
        )
    else:
        lect = ""
    versions = {v.millesime: v.table.perimetre_version for v in history}
    differ = sorted(m for m, p in versions.items() if p not in (perimetre, "n.d."))
    note = "Évolution : variation depuis le millésime précédent, en % et en nombre d'emplois."
    if differ:
        note += (
            " Attention : le périmètre de l'ESS a changé ("
            + ", ".join(f"{m} : {versions[m]}" for m in differ)
            + f" ; {y} : {perimetre}), l'évolution mêle effet de périmètre et évolution de l'emploi."
        )
    labels = [f"{a}-{b}" for a, b in itertools.pairwise(years)]

    def chart(path: Path) -> Path:
        def bar(c: Cell) -> tuple[float | None, str]:
            text = fmt.SECRET if c.secret else fmt.evolution(c.value) if c.ok else fmt.MISSING
            return (c.value if c.ok else None, text)

        return charts.change_bars(labels, {c: [bar(x) for x in changes[c]] for c in champs}, CHAMPS, path)

    return Figure(
        "evolution",
        TITRE_EVOLUTION,
        "Unité : nombre, %",
        champ_line(t, y),
        lecture(lect),
        ["Champ", *[str(m) for m in years], f"Évolution {y0}-{y} (%)", f"Évolution {y0}-{y} (emplois)"],
        rows,
        chart=chart,
        note=note + " Graphique : évolution annuelle de l'effectif salarié.",
        alt=alt.grouped(
            f"Évolution annuelle de l'effectif salarié {t.dans}",
            list(reversed(labels)),
            [(CHAMPS[c], [x.text() for x in reversed(changes[c])]) for c in champs],
        ),
        headline=changes["ess"][-1] if changes["ess"] else None,
    )


def evolution_section(t: Territory, y: int, history: list[Vintage], perimetre: str) -> Section:
    """The panorama's evolution section: the figure, or one sentence when no earlier vintage is published."""
    if not history:
        return Section("L'évolution de l'emploi", intro=[EVOLUTION_ABSENTE])
    return Section("L'évolution de l'emploi", figures=[fig_evolution(t, y, history, perimetre)])


def evolution_line(t: Territory, y: int, history: list[Vintage]) -> str:
    """The plaquette's one-line evolution (ESS and privé hors ESS since the previous vintage)."""
    if not history:
        return EVOLUTION_ABSENTE
    y0 = history[-1].millesime
    parts = {}
    for c in ("ess", "prive_hors_ess"):
        cells = _history_cells(t, history[-1:], c)
        parts[c] = (_change(cells[0], cells[1], True), _change(cells[0], cells[1], False))
    (e_pct, e_n), (p_pct, _p_n) = parts["ess"], parts["prive_hors_ess"]
    jobs = f" ({e_n.text()} emplois)" if e_n.ok else ""
    return (
        f"Évolution {y0}-{y} de l'effectif salarié au 31/12 : ESS {e_pct.text()}{jobs}, "
        f"privé hors ESS {p_pct.text()}."
    )
