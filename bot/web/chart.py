"""Engagement over time as an inline SVG, drawn on the server: no script, no library, nothing fetched.

One stacked bar per day, one colour per response kind (the colours live in style.css, keyed by the
``k-<kind>`` classes). Each bar has a ``<title>`` so hovering shows the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

KINDS = ("like", "ack", "rsvp", "vote", "reply", "click")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 44


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return value


def engagement_svg(days: Sequence[date], counts: Mapping[date, Mapping[str, int]], label: str) -> Markup:
    top = _nice_max(max((sum(counts.get(d, {}).values()) for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.7)
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
    ]
    for tick in range(5):
        value = top * tick // 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        per_kind = counts.get(day, {})
        total = sum(per_kind.values())
        y = TOP + plot_h
        detail = ", ".join(f"{k} {per_kind[k]}" for k in KINDS if per_kind.get(k)) or "no responses"
        parts.append(f'<g class="day" data-day="{day.isoformat()}" data-total="{total}">')
        parts.append(f"<title>{day:%a %d %b}: {escape(detail)}</title>")
        for kind in KINDS:
            n = per_kind.get(kind, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect class="bar k-{kind}" data-kind="{kind}" data-count="{n}" '
                f'x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>'
            )
        parts.append("</g>")
        if len(days) <= 16 or i % 2 == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{day:%d %b}</text>'
            )
    legend_x = LEFT
    for kind in KINDS:
        parts.append(
            f'<rect class="k-{kind}" x="{legend_x}" y="{HEIGHT - 16}" width="10" height="10"/>'
            f'<text class="axis" x="{legend_x + 14}" y="{HEIGHT - 7}">{kind}</text>'
        )
        legend_x += 70
    parts.append("</svg>")
    return Markup("".join(parts))  # every interpolated text above is escaped or a number
