"""Report charts as SVG, drawn on the server with pygal (a Python dependency: no CDN, no
JavaScript — the portal works offline). Each chart is served as an image of its own."""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

STYLE_ARGS: dict[str, Any] = dict(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#7b8794",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    colors=("#2f855a", "#c53030", "#dd6b20", "#6b46c1", "#2b6cb0", "#718096", "#b7791f", "#319795"),
)
STYLE = Style(**STYLE_ARGS)
# Category colours, so "spam" is red in every chart.
MAILFLOW_SERIES = (
    ("good", "Good mail", "#2f855a"),
    ("spam", "Spam", "#c53030"),
    ("bulk", "Bulk", "#dd6b20"),
    ("edge_blocked", "Edge blocked", "#6b46c1"),
    ("tabl_blocked", "Allow/block list (5.7.703)", "#2b6cb0"),
    ("refused_other", "Other refusals", "#718096"),
    ("failed", "Failed delivery", "#b7791f"),
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
# The SVG is served as an image: its own <style> must apply, nothing else may load or run.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _config(title: str, n_labels: int, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],  # pygal's default loads tooltips from a CDN
        "width": 900,
        "height": 380,
        "disable_xml_declaration": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "x_label_rotation": 30 if n_labels > 10 else 0,
        "show_minor_x_labels": n_labels <= 31,
        "x_labels_major_every": max(n_labels // 12, 1) if n_labels > 31 else None,
        "truncate_legend": 40,
        "print_values": False,
        "no_data_text": "No mail in this period",
        "min_scale": 1,
        **extra,
    }


def _svg(chart: Any) -> str:
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def _short(day: str) -> str:
    return day[5:]  # MM-DD: the year is in the title


def _stacked_days(title: str, days: list[str], series: list[tuple[str, str | None, list[int]]]) -> str:
    colors = tuple(c or STYLE.colors[i % len(STYLE.colors)] for i, (_, c, _) in enumerate(series))
    style = Style(**{**STYLE_ARGS, "colors": colors}) if colors else STYLE
    chart = pygal.StackedBar(**{**_config(title, len(days)), "style": style})
    chart.x_labels = [_short(d) for d in days]
    for label, _color, values in series:
        chart.add(label, values)
    return _svg(chart)


def mailflow(report: dict[str, Any]) -> str:
    days = [r["date"] for r in report["rows"]]
    series = [(label, color, [r[key] for r in report["rows"]]) for key, label, color in MAILFLOW_SERIES]
    return _stacked_days(f"Outbound mail flow, {report['start']} to {report['end']}", days, series)


def spam(report: dict[str, Any]) -> str:
    rows = report["series"]
    days = [r["date"] for r in rows]
    series = [
        ("Built-in filter", "#c53030", [r["builtin"] for r in rows]),
        ("Rspamd", "#9b2c2c", [r["rspamd"] for r in rows]),
        (f"Bulk (BCL ≥ {report['bulk_threshold']})", "#dd6b20", [r["bulk"] for r in rows]),
    ]
    return _stacked_days(
        f"Spam and bulk verdicts by detection, {report['start']} to {report['end']}", days, series
    )


def top_senders(report: dict[str, Any]) -> str:
    chart = pygal.HorizontalBar(
        **_config("Top senders (messages)", 0, legend_at_bottom=False, show_legend=False)
    )
    senders = list(reversed(report["senders"][:10]))
    chart.x_labels = [r["value"] for r in senders]
    chart.add("Messages", [r["messages"] for r in senders])
    return _svg(chart)


def connectors(report: dict[str, Any]) -> str:
    days = report["dates"]
    names = [c["connector"] for c in report["connectors"]][:8]
    volume: dict[tuple[str, str], int] = {}
    for r in report["rows"]:
        volume[(r["date"], r["connector"])] = volume.get((r["date"], r["connector"]), 0) + r["messages"]
    series: list[tuple[str, str | None, list[int]]] = [
        (name + (" (unusual)" if any(c["unusual"] for c in report["connectors"] if c["connector"] == name) else ""),
         None, [volume.get((d, name), 0) for d in days])
        for name in names
    ]  # fmt: skip
    return _stacked_days(f"Messages per connector, {report['start']} to {report['end']}", days, series)


def non_accepted_domains(report: dict[str, Any]) -> str:
    rows = report["series"]
    return _stacked_days(
        f"Mail from non-accepted sender domains, {report['start']} to {report['end']}",
        [r["date"] for r in rows],
        [("Messages", "#6b46c1", [r["messages"] for r in rows])],
    )


CHARTS = {
    "mailflow": mailflow,
    "spam": spam,
    "top-senders": top_senders,
    "connectors": connectors,
    "non-accepted-domains": non_accepted_domains,
}


def render(report: dict[str, Any]) -> str:
    return CHARTS[report["report"]](report)
