"""The transparency report as Markdown or as one self-contained HTML page with SVG bar charts."""

from __future__ import annotations

import json
from html import escape
from typing import Any

# (report key, section title) in the order a reader needs them.
_SECTIONS = (
    ("SearchesByMonth", "Searches per month"),
    ("Searches", "Searches per account, key, purpose and month"),
    ("LiveStreamMatches", "Live stream face matches (frames with matches)"),
    ("Thresholds", "Match thresholds used"),
    ("PolicyRefusals", "Policy refusals"),
    ("Deletions", "Deletions (faces)"),
    ("ReviewCases", "Human review cases (opened, and how they closed)"),
    ("Operations", "All audited operations"),
)

# (report key, label columns, value column, chart title)
_CHARTS = (
    ("SearchesByMonth", ("Month",), "Searches", "Searches per month"),
    ("Thresholds", ("Operation", "Threshold"), "Searches", "Searches per threshold"),
    ("PolicyRefusals", ("Key", "Rule"), "Refusals", "Policy refusals per key and rule"),
    ("Deletions", ("Reason", "Collection"), "Faces", "Faces deleted"),
)


def _cell(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _integrity(report: dict[str, Any]) -> str:
    log = report["AuditLog"]
    head = log["Head"]
    state = "verified" if log["Valid"] else f"FAILED VERIFICATION: {log.get('Problem')}"
    whose = f" of account {log['Account']}" if "Account" in log else ""
    return (
        f"Audit log {state}; {log['Records']} records{whose}, head #{head['seq']} {head['hash']}"
    )


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Oversight transparency report",
        "",
        f"Period: {report['From']} to {report['To']} (generated {report['GeneratedAt']})",
        "",
        _integrity(report),
        "",
        "| Total | Count |",
        "|---|---|",
        *(f"| {name} | {count} |" for name, count in report["Totals"].items()),
    ]
    for key, title in _SECTIONS:
        rows = report[key]
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("None in this period.")
            continue
        columns = list(rows[0])
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def bar_chart(title: str, labels: list[str], values: list[int]) -> str:
    """A horizontal SVG bar chart, one bar per label."""
    bar, gap, label_width, plot_width = 18, 6, 260, 360
    height = 30 + len(values) * (bar + gap)
    top = max(values, default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + plot_width + 60}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 28 + i * (bar + gap)
        width = plot_width * value / top
        parts += [
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(label[:40])}</text>",
            f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{bar}" fill="#3b6ea5"/>',
            f'<text x="{label_width + width + 4:.1f}" y="{y + 13}" font-size="12">{value}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>None in this period.</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(row[c]))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: dict[str, Any]) -> str:
    charts = [
        bar_chart(title, [" / ".join(_cell(row[c]) for c in label_columns) for row in rows],
                  [row[value] for row in rows])
        for key, label_columns, value, title in _CHARTS
        if (rows := report[key])
    ]
    totals = _html_table([{"Total": k, "Count": v} for k, v in report["Totals"].items()])
    sections = "".join(
        f"<h2>{escape(title)}</h2>{_html_table(report[key])}" for key, title in _SECTIONS
    )
    status = "ok" if report["AuditLog"]["Valid"] else "bad"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Oversight transparency report</title><style>"
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #bbb;padding:.2em .6em;text-align:left}"
        ".ok{color:#1a7f37}.bad{color:#b00020;font-weight:bold}"
        "</style></head><body><h1>Oversight transparency report</h1>"
        f"<p>Period: {escape(report['From'])} to {escape(report['To'])} "
        f"(generated {escape(report['GeneratedAt'])})</p>"
        f"<p class='{status}'>{escape(_integrity(report))}</p>"
        f"{totals}{''.join(charts)}{sections}</body></html>\n"
    )


RENDERERS = {"json": to_json, "md": to_markdown, "html": to_html}
