"""Bar charts drawn on the server as SVG: no chart service, no script; every chart is shown with
its figures in a table too (the template does), so the chart is never the only way to read them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = ("#000091", "#18753c", "#b34000", "#6a6af4", "#ce0500")  # DSFR blue, green, orange...
LABEL_WIDTH = 150
WIDTH = 640
BAR = 16
GAP = 10


@dataclass(frozen=True)
class Chart:
    """A chart and the table of its figures (``rows``: category, then one formatted value per series)."""

    key: str
    title: str
    series: list[str]
    rows: list[list[str]]
    svg: Markup


def bars(
    key: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | int | float]]],
    fmt: Callable[[Decimal | int | float], str] = str,
) -> Chart:
    """Horizontal bars, one group per category and one bar per series, each labelled with its value."""
    top = 24 if len(series) > 1 else 4
    group = len(series) * BAR + GAP
    height = top + max(len(categories), 1) * group + 4
    biggest = max((abs(float(v)) for _, values in series for v in values), default=0) or 1.0
    room = WIDTH - LABEL_WIDTH - 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-labelledby="chart-{key}-title" class="web-chart">',
        f'<title id="chart-{key}-title">{escape(title)} (détail dans le tableau ci-dessous)</title>',
    ]
    if len(series) > 1:
        x = LABEL_WIDTH
        for index, (name, _) in enumerate(series):
            parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>')
            parts.append(f'<text x="{x + 16}" y="16" font-size="12">{escape(name)}</text>')
            x += 24 + 7 * len(name)
    for row, category in enumerate(categories):
        y = top + row * group
        label = f'<text x="{LABEL_WIDTH - 8}" y="{y + group / 2}" font-size="12" text-anchor="end">'
        parts.append(f"{label}{escape(category)}</text>")
        for index, (_, values) in enumerate(series):
            value = values[row]
            length = round(abs(float(value)) / biggest * room, 1)
            by = y + index * BAR
            colour = PALETTE[index % len(PALETTE)]
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{by + 2}" width="{length}" height="{BAR - 4}" fill="{colour}"/>')
            parts.append(
                f'<text x="{LABEL_WIDTH + length + 4}" y="{by + BAR - 4}" font-size="11">{escape(fmt(value))}</text>'
            )
    parts.append("</svg>")
    rows = [[category, *(fmt(values[i]) for _, values in series)] for i, category in enumerate(categories)]
    return Chart(key, title, [name for name, _ in series], rows, Markup("".join(parts)))
