"""plitool document markup: the line-based text a template renders to (see the README, "Filings").

Each non-blank line is one block; ``**bold**`` marks bold runs; placeholders (``【待补充：KEY】`` /
``[TO BE COMPLETED: KEY]``) are found by pattern so that the renderers can highlight them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER_RE = re.compile(r"【待补充：[^】]*】|\[TO BE COMPLETED: [^\]]*\]")
TABLES = ("evidence", "matrix", "digests", "harm", "documents", "placeholders")


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    placeholder: bool = False


@dataclass(frozen=True)
class Block:
    #: title, heading, para, table, figure, pagebreak, checklist
    type: str
    text: str = ""
    level: int = 0
    #: para: justify, center, right
    align: str = "justify"
    indent: bool = True


def runs(text: str) -> list[Run]:
    """``text`` split into runs: bold between ``**`` pairs, placeholders on their own."""
    out: list[Run] = []
    for i, part in enumerate(text.split("**")):
        bold = i % 2 == 1
        pos = 0
        for m in PLACEHOLDER_RE.finditer(part):
            if m.start() > pos:
                out.append(Run(part[pos:m.start()], bold))
            out.append(Run(m.group(), bold, placeholder=True))
            pos = m.end()
        if pos < len(part):
            out.append(Run(part[pos:], bold))
    return [r for r in out if r.text]


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#### "):
            blocks.append(Block("heading", line[5:].strip(), level=3))
        elif line.startswith("### "):
            blocks.append(Block("heading", line[4:].strip(), level=2))
        elif line.startswith("## "):
            blocks.append(Block("heading", line[3:].strip(), level=1))
        elif line.startswith("# "):
            blocks.append(Block("title", line[2:].strip()))
        elif line.startswith("@center "):
            blocks.append(Block("para", line[8:].strip(), align="center", indent=False))
        elif line.startswith("@right "):
            blocks.append(Block("para", line[7:].strip(), align="right", indent=False))
        elif line.startswith("@noindent "):
            blocks.append(Block("para", line[10:].strip(), indent=False))
        elif line.startswith("@table "):
            blocks.append(Block("table", line[7:].strip()))
        elif line.startswith("@figure"):
            blocks.append(Block("figure", line[7:].strip() or "graph"))
        elif line == "@pagebreak":
            blocks.append(Block("pagebreak"))
        elif line == "@checklist":
            blocks.append(Block("checklist"))
        else:
            blocks.append(Block("para", line))
    return blocks


def plain_text(blocks: list[Block]) -> str:
    """The text of the blocks (tables and figures by name): what the verify patterns are sought in."""
    return "\n".join(b.text for b in blocks)
