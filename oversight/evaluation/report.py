"""An evaluation report: the JSON result plus text, tables and figures, written as
result.json, report.md and a self-contained report.html (figures also saved as PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module; matplotlib loads only when a figure exists
    from matplotlib.figure import Figure


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class _Figure:
    name: str
    png: bytes
    caption: str


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table, one line per element."""
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


@dataclass
class Report:
    title: str
    result: dict[str, Any]
    blocks: list[str | _Table | _Figure] = field(default_factory=list)

    def text(self, paragraph: str) -> None:
        self.blocks.append(paragraph)

    def table(self, headers: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(_Table(headers, [[str(cell) for cell in row] for row in rows]))

    def figure(self, name: str, figure: Figure, caption: str) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        self.blocks.append(_Figure(name, buffer.getvalue(), caption))

    def markdown(self) -> str:
        parts = [f"# {self.title}"]
        for block in self.blocks:
            if isinstance(block, _Table):
                parts.append("\n".join(markdown_table(block.headers, block.rows)))
            elif isinstance(block, _Figure):
                parts.append(f"![{block.caption}]({block.name}.png)\n\n*{block.caption}*")
            else:
                parts.append(block)
        return "\n\n".join(parts) + "\n"

    def html(self) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            if isinstance(block, _Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
                body = "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                    for row in block.rows)
                parts.append(f"<table><tr>{head}</tr>{body}</table>")
            elif isinstance(block, _Figure):
                data = base64.b64encode(block.png).decode()
                parts.append(f'<figure><img src="data:image/png;base64,{data}" '
                             f'alt="{html.escape(block.caption)}"><figcaption>'
                             f"{html.escape(block.caption)}</figcaption></figure>")
            else:
                parts.append(f"<p>{html.escape(block)}</p>")
        style = ("body{font-family:sans-serif;max-width:60em;margin:auto}"
                 "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
                 "img{max-width:100%}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
                f"{html.escape(self.title)}</title><style>{style}</style></head><body>"
                + "\n".join(parts) + "</body></html>\n")

    def write(self, directory: Path) -> Path:
        """Write every file into `directory`; returns the path of result.json."""
        directory.mkdir(parents=True, exist_ok=True)
        for block in self.blocks:
            if isinstance(block, _Figure):
                (directory / f"{block.name}.png").write_bytes(block.png)
        (directory / "report.md").write_text(self.markdown())
        (directory / "report.html").write_text(self.html())
        result_file = directory / "result.json"
        result_file.write_text(json.dumps(self.result, indent=2) + "\n")
        return result_file


def percent(value: float | None, digits: int = 2) -> str:
    """A rate for a report table; "n/a" where nothing could be measured."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def rate_cell(rate: dict[str, Any]) -> str:
    """A Rate.as_dict() for a table: the rate and the counts behind it; rates below 0.1 % in
    powers of ten, where a percentage with three decimals would round them to nothing."""
    value = rate["rate"]
    return f"{_rate_value(value)} ({rate['count']}/{rate['total']})"


def _rate_value(value: float | None) -> str:
    return f"{value:.1e}" if value and value < 1e-3 else percent(value, 3)


def rate_ci_cell(rate: dict[str, Any]) -> str:
    """`rate_cell` with its 95 % Wilson interval, for rates of small groups."""
    if rate.get("high") is None:
        return rate_cell(rate)
    return (f"{rate_cell(rate)} [{_rate_value(rate['low'])}, {_rate_value(rate['high'])}]")
