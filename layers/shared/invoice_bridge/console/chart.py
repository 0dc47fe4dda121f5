"""The overview's chart as inline SVG, drawn on the server: no script, no style attribute (the CSP allows
neither), colours as presentation attributes, a <title> per bar for the numbers behind it."""

from __future__ import annotations

from markupsafe import Markup, escape

from .queries import CHANNELS, SendsByDay

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 30
COLOURS = {"einvoice": "#1f5fd6", "email": "#1e7a4f", "print": "#a8610a"}
FAILED = "#c62828"


def _scale(top: int) -> int:
    """A round upper bound for the y axis: the first of 2, 4, 10, 20, 50, 100, 250, ... at or above `top`
    (even, so the middle grid line is a whole number)."""
    bound, steps = 2, (2, 2.5)
    index = 0
    while bound < top:
        bound = int(bound * steps[index % 2])
        index += 1
    return bound


def sends_chart(data: SendsByDay, t: dict[str, str], title_id: str = "chart-title") -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(data.per_day(d, c) for c in CHANNELS) for d in data.days]
    top = _scale(max(totals + [1]))
    slot = plot_w / len(data.days)
    bar = max(slot * 0.7, 2)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{title_id} {title_id}-desc"'
        ' focusable="false" xmlns="http://www.w3.org/2000/svg">',
        f'<desc id="{title_id}-desc">{escape(t["chart_desc"])}</desc>',
    ]
    for value in (0, top // 2, top):
        y = TOP + plot_h - plot_h * value / top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d5d9e0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#4a5263">{value}</text>')
    for index, day in enumerate(data.days):
        x = LEFT + index * slot + (slot - bar) / 2
        base = float(TOP + plot_h)
        label = [day.isoformat()]
        for channel in CHANNELS:
            count = data.per_day(day, channel)
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{COLOURS[channel]}"/>'
            )
            label.append(f"{t['channel_' + channel]}: {count}")
        failed = data.failed_on(day)
        if failed:
            parts.append(f'<circle cx="{x + bar / 2:.1f}" cy="{TOP + 5}" r="4" fill="{FAILED}"/>')
            label.append(f"{t['status_failed']}: {failed}")
        parts.append(
            f'<rect x="{LEFT + index * slot:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}" fill="transparent">'
            f"<title>{escape(', '.join(label))}</title></rect>"
        )
        if index % 5 == 0 or index == len(data.days) - 1:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" fill="#4a5263">'
                f"{day.strftime('%m-%d')}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
