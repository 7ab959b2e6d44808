"""Charts drawn in the page: inline SVG made on the server, no script, no library.

Two kinds are enough for the analytics page: bars stacked by series per day (operations by
action), and a line over time (storage, hit rate). Every label goes through `escape`; the
SVG uses presentation attributes only (no `style`), so the page's CSP needs no exception.
Each chart has a <title> and the page shows its numbers as a table too, for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 40
PALETTE = ("#1f5fd1", "#13795b", "#b42318", "#b7791f", "#6b46c1", "#0e7490", "#64748b")


def _nice_max(value: float) -> float:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    scale = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    for step in (1, 2, 5, 10):
        if value <= step * scale:
            return float(step * scale)
    return float(10 * scale)


def short_number(value: float) -> str:
    """1200 -> 1.2k, 3_400_000 -> 3.4M: axis and legend labels that fit."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _frame(title: str, top: float, unit: str, body: list[str], labels: Sequence[str]) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # horizontal grid lines with their values
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d8dee6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6470">{escape(short_number(value))}{escape(unit)}</text>'
        )
    parts += body
    if labels:
        step = max(1, len(labels) // 8)  # at most about eight labels under the axis
        slot = plot_w / len(labels)
        for i in range(0, len(labels), step):
            x = LEFT + slot * (i + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="#5b6470">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float]], unit: str = ""
) -> Markup:
    """One bar per label (a day), stacked by series (an action), with a legend."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, slot * 0.7)
    body = []
    for i in range(len(labels)):
        y = float(TOP + plot_h)
        for n, (name, values) in enumerate(series.items()):
            height = plot_h * values[i] / top
            if height <= 0:
                continue
            y -= height
            body.append(
                f'<rect x="{LEFT + slot * i + (slot - bar) / 2:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                f"<title>{escape(labels[i])} {escape(name)}: "
                f"{escape(short_number(values[i]))}{escape(unit)}</title></rect>"
            )
    return _frame(title, top, unit, body, labels)


def line(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str = "",
    top: float | None = None,
) -> Markup:
    """A line through one value per label, with a dot on each."""
    top = top if top is not None else _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    points = [
        (LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * min(v, top) / top)
        for i, v in enumerate(values)
    ]
    body = []
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'
        )
    for (x, y), label, value in zip(points, labels, values, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {escape(short_number(value))}{escape(unit)}</title></circle>"
        )
    return _frame(title, top, unit, body, labels)


def legend(names: Sequence[str]) -> list[tuple[str, str]]:
    """Each series' name with its colour, as the stacked bars draw them."""
    return [(name, PALETTE[n % len(PALETTE)]) for n, name in enumerate(names)]
