"""Line charts of the evaluation report as SVG, written with the standard library only.

The SageMaker scikit-learn 1.2-1 image that runs the evaluation has no plotting library (no
matplotlib: aws/sagemaker-scikit-learn-container, branch 1.2-1, requirements.txt), and SVG is text a
browser shows as it is, so the report draws its few curves itself.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 440, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 32, 48  # margins around the unit square
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
REFERENCE = "#888888"


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False  # a reference line (chance, base rate, perfect calibration)
    markers: bool = False


@dataclass
class Chart:
    """A chart on the unit square [0, 1] x [0, 1], as every curve of the report is."""

    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)

    def add(self, series: Series) -> None:
        self.series.append(series)

    def svg(self) -> str:
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
            _text(WIDTH / 2, 18, self.title, size=13, anchor="middle"),
        ]
        for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
            x, y = _px(tick, 0.0)[0], _px(0.0, tick)[1]
            parts.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{HEIGHT - BOTTOM}" stroke="#e5e5e5"/>')
            parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#e5e5e5"/>')
            parts.append(_text(x, HEIGHT - BOTTOM + 14, f"{tick:.1f}", anchor="middle"))
            parts.append(_text(LEFT - 6, y + 4, f"{tick:.1f}", anchor="end"))
        parts.append(
            f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
            'fill="none" stroke="#333333"/>'
        )
        parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 12, self.x_label, anchor="middle"))
        middle = (TOP + HEIGHT - BOTTOM) / 2
        parts.append(
            f'<text x="14" y="{middle}" text-anchor="middle" transform="rotate(-90 14 {middle})">'
            f"{html.escape(self.y_label)}</text>"
        )
        colours = iter(COLOURS)
        legend_y = TOP + 14
        for series in self.series:
            colour = REFERENCE if series.dashed else next(colours, REFERENCE)
            points = " ".join(f"{px},{py}" for px, py in (_px(x, y) for x, y in zip(series.x, series.y)))
            dash = ' stroke-dasharray="5,4"' if series.dashed else ""
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>')
            if series.markers:
                parts.extend(
                    f'<circle cx="{px}" cy="{py}" r="2.5" fill="{colour}"/>'
                    for px, py in (_px(x, y) for x, y in zip(series.x, series.y))
                )
            parts.append(
                f'<line x1="{WIDTH - RIGHT - 150}" y1="{legend_y - 4}" x2="{WIDTH - RIGHT - 130}" '
                f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="1.6"{dash}/>'
            )
            parts.append(_text(WIDTH - RIGHT - 124, legend_y, series.label))
            legend_y += 14
        parts.append("</svg>")
        return "\n".join(parts) + "\n"


def _px(x: float, y: float) -> tuple[float, float]:
    """A point of the unit square in pixels (y grows downwards in SVG); values are clipped to the square."""
    x, y = min(max(float(x), 0.0), 1.0), min(max(float(y), 0.0), 1.0)
    return round(LEFT + x * (WIDTH - LEFT - RIGHT), 1), round(HEIGHT - BOTTOM - y * (HEIGHT - TOP - BOTTOM), 1)


def _text(x: float, y: float, text: str, *, size: int = 11, anchor: str = "start") -> str:
    return f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}">{html.escape(text)}</text>'
