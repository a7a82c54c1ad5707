"""Colour arithmetic for readable publications: text contrast (WCAG 2.1) and colour-vision deficiency.

- :func:`contrast_ratio` is WCAG 2.1's ratio of relative luminances, ``(L1 + 0.05) / (L2 + 0.05)``: body
  text needs 4.5:1 against its background (success criterion 1.4.3, level AA).
- :func:`simulate` shows a colour as a reader with a dichromacy sees it, with the matrices of Machado,
  Oliveira and Fernandes (2009) at severity 1 (protanopia, deuteranopia, tritanopia), applied in linear RGB.
- :func:`delta_e` is the CIE 1976 distance in CIELAB (D65): about 2 is just noticeable; two series of a chart
  stay apart for a reader when they are 20 or more apart.
- :func:`text_on` picks dark or white text for a label drawn on a coloured bar, whichever contrasts more.
"""

from __future__ import annotations

from matplotlib.colors import to_rgb

MACHADO = {
    "protanopie": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopie": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
    "tritanopie": (
        (1.255528, -0.076749, -0.178779),
        (-0.078411, 0.930809, 0.147602),
        (0.004733, 0.691367, 0.303900),
    ),
}
"""Machado et al. (2009) simulation matrices at severity 1.0, for linear RGB."""

DARK_TEXT = "#222222"
"""The publications' ink (:data:`observatory.publish.charts.TEXT`)."""


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _gamma(c: float) -> float:
    c = min(1.0, max(0.0, c))
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def luminance(colour: str) -> float:
    """WCAG relative luminance of a colour (``#rrggbb`` or any matplotlib colour name)."""
    r, g, b = (_linear(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.1 contrast ratio, from 1 (same luminance) to 21 (black on white)."""
    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on(background: str) -> str:
    """White or dark text, whichever contrasts more with ``background``."""
    white, dark = contrast_ratio("#ffffff", background), contrast_ratio(DARK_TEXT, background)
    return "#ffffff" if white >= dark else DARK_TEXT


def simulate(colour: str, deficiency: str) -> tuple[float, float, float]:
    """``colour`` as seen with ``deficiency`` (a key of :data:`MACHADO`), as sRGB in 0–1."""
    lin = [_linear(c) for c in to_rgb(colour)]
    m = MACHADO[deficiency]
    return tuple(_gamma(sum(m[i][j] * lin[j] for j in range(3))) for i in range(3))


def lab(colour) -> tuple[float, float, float]:
    """CIELAB (D65) of a colour given as a name/hex or an sRGB triple in 0–1."""
    r, g, b = (_linear(c) for c in (colour if isinstance(colour, tuple) else to_rgb(colour)))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a, b) -> float:
    """CIE 1976 colour difference of two colours (names/hex or sRGB triples)."""
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5


def min_delta_e(colours: list[str], deficiency: str | None = None) -> float:
    """The smallest difference between two of ``colours``, as seen with ``deficiency`` (None: normal)."""
    seen = [to_rgb(c) if deficiency is None else simulate(c, deficiency) for c in colours]
    return min(delta_e(a, b) for i, a in enumerate(seen) for b in seen[i + 1 :])
