"""Charts of the publications: matplotlib, one visual style, written as SVG (text drawn as paths).

Every chart is drawn at the width it is printed at (``WIDTH_IN`` inches, the text width of an A4 page
with 2 cm margins), so the 8.5 pt labels are 8.5 pt on paper. Titles, units, source, champ and the
"Lecture :" sentence are set by the document around the chart, not inside it, so that they are
searchable text in the PDF. Value labels use the French formats of :mod:`observatory.publish.fmt`; a
secret value (``None``) has no bar and prints ``s``.

Colours: ESS raspberry, privé hors ESS blue, public grey; women orange and men blue (Okabe–Ito). Every
pair of series drawn together stays 20 or more apart (CIE ΔE) as readers with protanopia, deuteranopia
or tritanopia see them, and every text reaches 4.5:1 against what it is drawn on (a label inside a bar is
white or dark, whichever contrasts more): :mod:`observatory.publish.colours`, ``tests/test_accessibility.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker as mticker
from matplotlib.figure import Figure

from observatory.publish import colours, fmt

WIDTH_IN = 6.7
FONT_SIZE = 8.5
COLORS = {
    "ess": "#A3195B",
    "prive_hors_ess": "#3B6E9C",
    "public": "#A0A8B0",
    "prive": "#527694",
    "ensemble": "#6D6D6D",
    "F": "#E69F00",
    "H": "#2776AD",
    "ref": "#C9C9C9",
}
TEXT = "#222222"

FONT = "DejaVu Sans"
"""The one typeface of charts, maps and PDFs: shipped with matplotlib, so every machine renders alike."""
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
"""Where typst finds :data:`FONT` (system fonts are ignored, so PDFs do not depend on the machine)."""
GRID = "#DDDDDD"

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": FONT_SIZE,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "svg.fonttype": "path",
    "svg.hashsalt": "observatoire-ess",
    "axes.unicode_minus": True,
}

Formatter = Callable[[float], str]


def _figure(height_in: float) -> tuple[Figure, object]:
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, height_in))
        ax = fig.add_subplot()
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.04)
    return path


def _style_axis(ax, fmt_value: Formatter, vmax: float) -> None:
    ax.set_xlim(0, vmax * 1.18 if vmax > 0 else 1)
    tick = (lambda v: fmt.pourcent(v, 0)) if fmt_value is fmt.pourcent else fmt_value
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: tick(v)))
    ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)


def barh(
    labels: Sequence[str],
    values: Sequence[float | None],
    path: str | Path,
    *,
    fmt_value: Formatter = fmt.nombre,
    color: str = COLORS["ess"],
    highlight: Sequence[bool] | None = None,
) -> Path:
    """Horizontal bars, first label on top, each bar labelled with its value (``s`` when secret).

    ``highlight`` draws the flagged bars in ``color`` and the others in a light grey.
    """
    with matplotlib.rc_context(STYLE):
        n = len(labels)
        fig, ax = _figure(0.45 + 0.24 * n)
        ys = list(range(n))[::-1]
        vals = [0.0 if v is None else v for v in values]
        colors = [color if (highlight is None or h) else COLORS["ref"] for h in (highlight or [True] * n)]
        ax.barh(ys, vals, color=colors, height=0.68)
        vmax = max(vals) if vals else 0
        for y, v in zip(ys, values):
            txt = fmt.SECRET if v is None else fmt_value(v)
            ax.text(
                (v or 0) + vmax * 0.01,
                y,
                txt,
                va="center",
                ha="left",
                fontsize=FONT_SIZE - 0.5,
                color=TEXT,
                style="italic" if v is None else "normal",
            )
        ax.set_yticks(ys, labels)
        _style_axis(ax, fmt_value, vmax)
        return _save(fig, path)


def grouped_barh(
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    path: str | Path,
    *,
    fmt_value: Formatter = fmt.nombre,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Path:
    """Horizontal bars grouped by category, one bar per series (legend under the chart)."""
    with matplotlib.rc_context(STYLE):
        k = len(series)
        n = len(categories)
        fig, ax = _figure(0.7 + n * (0.16 * k + 0.12))
        h = 0.8 / k
        vmax = max((v for vals in series.values() for v in vals if v is not None), default=0)
        for i, (name, vals) in enumerate(series.items()):
            ys = [n - 1 - j + (k - 1 - i - (k - 1) / 2) * h for j in range(n)]
            col = (colors or COLORS).get(name, COLORS["ensemble"])
            ax.barh(
                ys,
                [0 if v is None else v for v in vals],
                height=h * 0.92,
                color=col,
                label=(labels or {}).get(name, name),
            )
            for y, v in zip(ys, vals):
                txt = fmt.SECRET if v is None else fmt_value(v)
                ax.text(
                    (v or 0) + vmax * 0.01,
                    y,
                    txt,
                    va="center",
                    ha="left",
                    fontsize=FONT_SIZE - 1,
                    color=TEXT,
                    style="italic" if v is None else "normal",
                )
        ax.set_yticks(range(n), list(categories)[::-1])
        _style_axis(ax, fmt_value, vmax)
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12 if n > 3 else -0.25),
            ncol=k,
            frameon=False,
            fontsize=FONT_SIZE,
        )
        return _save(fig, path)


def stacked_shares(
    rows: Sequence[str],
    series: dict[str, Sequence[float | None]],
    path: str | Path,
    *,
    colors: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Path:
    """100 % stacked horizontal bars (one per row) of shares given as fractions, labelled inside.

    A secret share draws nothing; the row is followed by ``s :`` and the names of its secret series.
    """
    with matplotlib.rc_context(STYLE):
        n = len(rows)
        fig, ax = _figure(0.75 + 0.42 * n)
        for j, row in enumerate(rows):
            y = n - 1 - j
            left = 0.0
            hidden = [(labels or {}).get(name, name) for name, vals in series.items() if vals[j] is None]
            for name, vals in series.items():
                v = vals[j]
                col = (colors or COLORS).get(name, COLORS["ensemble"])
                width = v if v is not None else 0.0
                ax.barh(
                    y,
                    width,
                    left=left,
                    height=0.6,
                    color=col,
                    edgecolor="white",
                    linewidth=0.8,
                    label=(labels or {}).get(name, name) if j == 0 else None,
                )
                if v is not None and v >= 0.06:
                    ax.text(
                        left + width / 2,
                        y,
                        fmt.pourcent(v),
                        ha="center",
                        va="center",
                        color=colours.text_on(col),
                        fontsize=FONT_SIZE,
                        fontweight="bold",
                    )
                left += width
            if hidden:
                ax.text(
                    left + 0.01,
                    y,
                    f"{fmt.SECRET} : " + ", ".join(hidden),
                    ha="left",
                    va="center",
                    color=TEXT,
                    fontsize=FONT_SIZE - 0.5,
                    style="italic",
                )
        ax.set_xlim(0, 1)
        ax.set_yticks(range(n), list(rows)[::-1])
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: fmt.pourcent(v, 0)))
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.18 if n > 2 else -0.3),
            ncol=len(series),
            frameon=False,
        )
        return _save(fig, path)


def pyramid(
    bands: Sequence[str],
    women: Sequence[float | None],
    men: Sequence[float | None],
    path: str | Path,
    *,
    ref_women: Sequence[float | None] | None = None,
    ref_men: Sequence[float | None] | None = None,
    label: str = "ESS",
    ref_label: str = "Privé hors ESS",
) -> Path:
    """Age pyramid of shares (fractions): women to the left, men to the right, first band at the bottom.

    ``ref_women``/``ref_men`` (another field) are drawn as an outline over the bars. A secret share
    (``None``) draws no bar and prints ``s``; each bar is labelled with its value.
    """
    with matplotlib.rc_context(STYLE):
        n = len(bands)
        fig, ax = _figure(0.9 + 0.34 * n)
        ys = list(range(n))
        refs = (ref_women or [None] * n, ref_men or [None] * n)
        known = [v for vals in (women, men, *refs) for v in vals if v is not None]
        vmax = max(known, default=0.0) or 0.01
        pad = vmax * 0.03
        for side, vals, ref, col, who in (
            (-1, women, refs[0], COLORS["F"], "Femmes"),
            (1, men, refs[1], COLORS["H"], "Hommes"),
        ):
            ax.barh(ys, [side * (v or 0.0) for v in vals], height=0.72, color=col, label=f"{who} ({label})")
            if ref_women is not None:
                ax.barh(
                    ys,
                    [side * (r or 0.0) for r in ref],
                    height=0.72,
                    fill=False,
                    edgecolor=TEXT,
                    linewidth=1.0,
                    label=f"{ref_label} (contour)" if side == 1 else None,
                )
            for y, v, r in zip(ys, vals, ref):
                end = max(v or 0.0, r or 0.0)
                ax.text(
                    side * (end + pad),
                    y,
                    fmt.SECRET if v is None else fmt.pourcent(v),
                    va="center",
                    ha="left" if side > 0 else "right",
                    fontsize=FONT_SIZE - 1,
                    color=TEXT,
                    style="italic" if v is None else "normal",
                )
            ax.text(
                side * vmax * 0.6,
                n - 0.35,
                who,
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE,
                color=TEXT,
                fontweight="bold",
            )
        lim = vmax * 1.45
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-0.6, n + 0.1)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_yticks(ys, bands)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: fmt.pourcent(abs(v), 0)))
        ax.xaxis.set_major_locator(mticker.MaxNLocator(6, symmetric=True))
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
        return _save(fig, path)


def change_bars(
    labels: list[str], series: dict[str, list[tuple[float | None, str]]], names: dict[str, str], path: Path
) -> Path:
    """Horizontal bars of year-on-year changes (fractions) around 0, one bar per series: each bar is
    ``(value, text)`` — ``value`` None when not published (secret or not available: a bar of 0 with its
    ``text`` in italics) — and ``names`` labels the series in the legend."""
    with matplotlib.rc_context(STYLE):
        k, n = len(series), len(labels)
        fig, ax = _figure(0.6 + n * (0.15 * k + 0.12))
        h = 0.8 / k
        vals = [v for bars in series.values() for v, _ in bars if v is not None]
        span = max((abs(v) for v in vals), default=0.01) or 0.01
        for i, (key, bars) in enumerate(series.items()):
            ys = [n - 1 - j + ((k - 1) / 2 - i) * h for j in range(n)]
            xs = [v if v is not None else 0.0 for v, _ in bars]
            ax.barh(
                ys, xs, height=h * 0.92, color=COLORS.get(key, COLORS["ensemble"]), label=names.get(key, key)
            )
            for y, x, (v, text) in zip(ys, xs, bars, strict=True):
                ax.text(
                    x + (span * 0.02 if x >= 0 else -span * 0.02),
                    y,
                    text,
                    ha="left" if x >= 0 else "right",
                    va="center",
                    fontsize=FONT_SIZE - 1,
                    color=TEXT,
                    style="normal" if v is not None else "italic",
                )
        ax.set_xlim(-span * 1.45, span * 1.45)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_yticks(range(n), labels[::-1])
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: fmt.pourcent(v, 1)))
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        if k > 1:
            ax.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.1 if n > 4 else -0.3), ncol=k, frameon=False
            )
        return _save(fig, path)
