"""Markup blocks to Markdown (``--format md``): the same text, tables as pipe tables.

Deterministic: the same case, templates and draft date give byte-identical output (the golden
files in tests/golden/filings/ rely on it).
"""

from __future__ import annotations

from .markup import Block
from .render_docx import TableData


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(data: TableData) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in data.headers) + " |",
             "|" + "|".join("---" for _h in data.headers) + "|"]
    for r, row in enumerate(data.rows):
        cells = [(f"=={_cell(t)}==" if (r, c) in data.flagged else _cell(t)) for c, t in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_md(blocks: list[Block], tables: dict[str, TableData], figure_png: bytes | None, figure_note: str,
              figure_name: str = "graph.png") -> bytes:
    out: list[str] = []
    for block in blocks:
        if block.type == "title":
            out += ["# " + block.text, ""]
        elif block.type == "heading":
            out += ["#" * (block.level + 1) + " " + block.text, ""]
        elif block.type == "para":
            if block.align == "center":
                out += ['<p align="center">' + block.text + "</p>", ""]
            elif block.align == "right":
                out += ['<p align="right">' + block.text + "</p>", ""]
            else:
                out += [block.text, ""]
        elif block.type == "table":
            data = tables.get(block.text)
            if data is not None:
                out += _table(data) + [""]
        elif block.type == "figure":
            if figure_png is not None:
                out += ["![graph](" + figure_name + ")", ""]
            out += ["*" + figure_note + "*", ""]
        elif block.type == "pagebreak":
            out += ["---", ""]
    while out and out[-1] == "":
        out.pop()
    return ("\n".join(out) + "\n").encode("utf-8")
