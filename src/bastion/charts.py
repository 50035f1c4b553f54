"""Inline SVG charts shared by the evidence report (`bastion report`) and the console:
horizontal bars with a value axis, and stacked bars over time with a legend. Pure
string building, no imports from Bastion; every label is escaped."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6db5", "#d9822b", "#3a9d5d", "#b23a48", "#7d5ba6", "#8c6d31", "#4a8f98")
"""Series colours, in order (colour-blind-safe enough for a few series)."""
BAR_COLOUR = "#2f6db5"
OVER_COLOUR = "#b23a48"


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar: its label, its length in the chart's unit, the text beside it."""

    label: str
    value: float
    text: str
    alert: bool = False


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return float(10 * power)


def axis_scale(biggest: float, *, whole: bool = True) -> tuple[float, int]:
    """A step of 1, 2 or 5 times a power of ten (at least 1 when ``whole``) and how many
    steps (at most 4) reach ``biggest``: the axis ends on a round number."""
    step = nice_ceiling(biggest / 4)
    if whole:
        step = max(step, 1.0)
    steps = max(1, math.ceil(biggest / step - 1e-9))
    return step, steps


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    axis_text: Callable[[float], str] = _number,
    scale_max: float | None = None,
    marker: float | None = None,
    marker_text: str = "",
) -> str:
    """Horizontal bars, one per row, on a shared axis starting at 0; ``marker`` draws a
    dashed reference line (e.g. a budget's 100 %)."""
    label_w, plot_w, value_w, row_h, top = 230, 430, 150, 26, 14
    width = label_w + plot_w + value_w
    height = top + row_h * len(bars) + 34
    biggest = max([b.value for b in bars] + [marker or 0.0])
    step, steps = (
        (scale_max / 4, 4)
        if scale_max is not None
        else axis_scale(biggest, whole=all(b.value == int(b.value) for b in bars))
    )
    top_value = step * steps
    parts = [_svg_open(width, height, title)]
    for tick in range(steps + 1):
        value = step * tick
        x = label_w + plot_w * tick / steps
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 26}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" class="axis">'
            f"{escape(axis_text(value))}</text>"
        )
    for index, bar in enumerate(bars):
        y = top + index * row_h
        length = plot_w * min(bar.value / top_value, 1.0) if top_value else 0.0
        colour = OVER_COLOUR if bar.alert else BAR_COLOUR
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="label">'
            f"{escape(_clip(bar.label, 34))}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{max(length, 1.0):.1f}" '
            f'height="{row_h - 8}" fill="{colour}"><title>{escape(bar.label)}: '
            f"{escape(bar.text)}</title></rect>"
            f'<text x="{label_w + length + 6:.1f}" y="{y + 17}" class="value">'
            f"{escape(bar.text)}</text>"
        )
    if marker is not None and top_value:
        x = label_w + plot_w * min(marker / top_value, 1.0)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 26}" '
            'stroke="#333" stroke-dasharray="4 3" stroke-width="1.5"/>'
            f'<text x="{x + 4:.1f}" y="{top - 2}" class="axis">{escape(marker_text)}</text>'
        )
    parts.append(
        f'<line x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{height - 26}" '
        'stroke="#555" stroke-width="1"/></svg>'
    )
    return "".join(parts)


def stacked_time_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    colours: Sequence[str] = PALETTE,
) -> str:
    """Vertical bars per time bucket (``labels``), each stacked by series, with a y axis
    of counts, every few bucket labels on the x axis, and a legend; series take
    ``colours`` in order."""
    left, right, top, bottom = 56, 16, 34, 46
    plot_w, plot_h = 820, 220
    width, height = left + plot_w + right, top + plot_h + bottom
    count = max(len(labels), 1)
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    step, steps = axis_scale(max(totals, default=0))
    top_value = step * steps
    slot = plot_w / count
    bar_w = max(slot * 0.7, 1.0)
    parts = [_svg_open(width, height, title)]
    for tick in range(steps + 1):
        value = step * tick
        y = top + plot_h - plot_h * tick / steps
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(_number(value))}</text>"
        )
    every = max(1, math.ceil(count / 8))
    for index, label in enumerate(labels):
        x = left + slot * index + (slot - bar_w) / 2
        base: float = top + plot_h
        for number, (name, values) in enumerate(series):
            value = values[index]
            if not value:
                continue
            h = plot_h * value / top_value
            base -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{colours[number % len(colours)]}"><title>'
                f"{escape(label)} {escape(name)}: {value:,}</title></rect>"
            )
        if index % every == 0:
            centre = left + slot * index + slot / 2
            parts.append(
                f'<text x="{centre:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'class="axis">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#555" stroke-width="1"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555" '
        'stroke-width="1"/>'
    )
    x = left
    for number, (name, _) in enumerate(series):
        parts.append(
            f'<rect class="legend" x="{x}" y="8" width="12" height="12" '
            f'fill="{colours[number % len(colours)]}"/>'
            f'<text x="{x + 16}" y="18" class="label">{escape(_clip(name, 24))}</text>'
        )
        x += 28 + 8 * min(len(name), 24)
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
