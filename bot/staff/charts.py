"""Small server-rendered SVG charts for the staff pages: no JavaScript, no charting library.

Every chart is a `<figure>` holding an `<svg role="img">` labelled by its own `<title>` and `<desc>` (the
desc states the numbers, so a screen reader gets the data, not just "chart"), with labelled axes. Colours
come from a palette that stays distinguishable for the common colour-vision deficiencies (Okabe-Ito).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from html import escape
from typing import Sequence

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
TEXT = "#222"
GRID = "#ddd"


def _slug(title: str) -> str:
    return "chart-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "x")


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round axis ticks from 0 covering `maximum` (integers when the data are small counts)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if maximum >= 1 and step < 1:
        step = 1
    top = math.ceil(maximum / step) * step
    ticks = []
    value = 0.0
    while value <= top + step / 1e6:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _figure(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<figure class="chart" id="{chart_id}"><figcaption>{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg></figure>"
    )


def _empty(chart_id: str, title: str, width: int = 720, height: int = 80) -> str:
    body = [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{TEXT}">No data in this period</text>']
    return _figure(chart_id, title, f"{title}: no data in this period.", width, height, body)


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16:.1f}" y="{y + 1:.1f}" fill="{TEXT}">{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return parts


def line_chart(title: str, days: Sequence[dt.date], series: Sequence[tuple[str, Sequence[float]]],
               y_label: str, chart_id: str | None = None, x_label: str = "Day") -> str:
    """Values per day, one line per series, with a labelled count axis and dated x axis (`x_label` says whose
    days: the report names its time zone)."""
    chart_id = chart_id or _slug(title)
    if not days or not series:
        return _empty(chart_id, title)
    width, height = 720, 300
    left, right, top, bottom = 60, 20, 36, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max((max(values) if values else 0) for _, values in series))
    top_value = ticks[-1] or 1

    def x_of(index: int) -> float:
        return left + (plot_w / 2 if len(days) == 1 else plot_w * index / (len(days) - 1))

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    body = _legend([name for name, _ in series], left, 18)
    for tick in ticks:
        y = y_of(tick)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">{_number(tick)}</text>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{TEXT}"/>'
                f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{TEXT}"/>')
    step = max(1, math.ceil(len(days) / 8))
    for index in range(0, len(days), step):
        x = x_of(index)
        body.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="{TEXT}"/>'
                    f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="{TEXT}">'
                    f'{days[index].strftime("%b %d")}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" fill="{TEXT}">'
                f'{escape(x_label)}</text>'
                f'<text transform="translate(16 {top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
                f'fill="{TEXT}">{escape(y_label)}</text>')
    for number, (name, values) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, value in enumerate(values):
            body.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(name)}, {days[i].isoformat()}: {_number(value)}</title></circle>')
    desc = "; ".join(
        f"{name}: total {_number(sum(values))}, highest {_number(max(values))} on "
        f"{days[list(values).index(max(values))].isoformat()}" for name, values in series)
    desc = f"From {days[0].isoformat()} to {days[-1].isoformat()}. {desc}."
    return _figure(chart_id, title, desc, width, height, body)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], x_label: str,
              chart_id: str | None = None, percent: bool = False) -> str:
    """Horizontal bars, one per label (long labels are shortened; the full text is in the bar's tooltip)."""
    chart_id = chart_id or _slug(title)
    if not labels:
        return _empty(chart_id, title)
    return stacked_bar_chart(title, labels, [(x_label, values)], x_label, chart_id=chart_id, percent=percent,
                             legend=False)


def stacked_bar_chart(title: str, labels: Sequence[str], segments: Sequence[tuple[str, Sequence[float]]],
                      x_label: str, chart_id: str | None = None, percent: bool = False,
                      legend: bool = True) -> str:
    """Horizontal bars split into named segments (for example a flow's completed / stopped / abandoned runs)."""
    chart_id = chart_id or _slug(title)
    if not labels:
        return _empty(chart_id, title)
    bar, gap = 22, 10
    label_w = 270
    width = 720
    top = 36 if legend else 14
    bottom = 48
    plot_w = width - label_w - 60
    height = top + len(labels) * (bar + gap) + bottom
    totals = [sum(values[i] for _, values in segments) for i in range(len(labels))]
    ticks = [0, 25, 50, 75, 100] if percent else nice_ticks(max(totals))
    top_value = ticks[-1] or 1
    unit = "%" if percent else ""

    def x_of(value: float) -> float:
        return label_w + plot_w * value / top_value

    body = _legend([name for name, _ in segments], label_w, 18) if legend else []
    plot_bottom = top + len(labels) * (bar + gap)
    for tick in ticks:
        x = x_of(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{GRID}"/>'
                    f'<text x="{x:.1f}" y="{plot_bottom + 16}" text-anchor="middle" fill="{TEXT}">'
                    f'{_number(tick)}{unit}</text>')
    body.append(f'<line x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{plot_bottom}" stroke="{TEXT}"/>'
                f'<text x="{label_w + plot_w / 2}" y="{height - 8}" text-anchor="middle" fill="{TEXT}">'
                f'{escape(x_label)}</text>')
    for row, label in enumerate(labels):
        y = top + row * (bar + gap)
        short = label if len(label) <= 36 else label[:35] + "…"
        body.append(f'<text x="{label_w - 8}" y="{y + bar / 2 + 4:.1f}" text-anchor="end" fill="{TEXT}">'
                    f'<title>{escape(label)}</title>{escape(short)}</text>')
        x = float(label_w)
        for number, (name, values) in enumerate(segments):
            value = values[row]
            if value <= 0:
                continue
            w = x_of(value) - label_w
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                        f'fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(label)}, {escape(name)}: '
                        f'{_number(value)}{unit}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + bar / 2 + 4:.1f}" fill="{TEXT}">{_number(totals[row])}{unit}</text>')
    if len(segments) == 1:
        desc = "; ".join(f"{label}: {_number(v)}{unit}" for label, v in zip(labels, segments[0][1]))
    else:
        desc = "; ".join(
            f"{label}: " + ", ".join(f"{name} {_number(values[i])}" for name, values in segments)
            for i, label in enumerate(labels))
    return _figure(chart_id, title, desc + ".", width, height, body)
