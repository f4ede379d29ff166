#!/usr/bin/env python3
"""Write (or check) the command table of README.md's "Reference" section from the click tree.

The table sits between ``<!-- reference:commands:start -->`` and ``<!-- reference:commands:end -->``.
Every command and sub-command that ``plitool --help`` reaches (the ``COMMANDS`` dict of
``plitool/cli/main.py``, and each group's commands) gets one row: its purpose (the first sentence
of its help), its arguments and options (``--case``, ``--lang`` and ``--help``, which every
command takes, left out), whether it has ``--json``, and the README section that explains it
(:data:`SECTIONS`: a new command must be given one there, or this script refuses).

    python tools/reference.py           # rewrite the table in README.md
    python tools/reference.py --check   # exit 1 if README.md's table is stale

``tests/test_reference.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- reference:commands:start -->", "<!-- reference:commands:end -->"

#: Where the README explains each command: "command path" -> (heading text, as in README.md).
#: A group's sub-commands may be given by the group's name alone.
SECTIONS: dict[str, str] = {
    "init": "The evidence vault",
    "add": "The evidence vault",
    "list": "The evidence vault",
    "show": "The evidence vault",
    "log": "The evidence vault",
    "export": "The evidence vault",
    "verify": "The evidence vault",
    "manifest": "The evidence vault",
    "repair": "The evidence vault",
    "seal": "Trusted timestamps",
    "trust": "Trusted timestamps",
    "prove": "Trusted timestamps",
    "verify-proof": "Trusted timestamps",
    "timestamp": "Trusted timestamps",
    "scan": "Personal data in evidence",
    "graph": "Provenance graph",
    "holdings": "Leak attribution: holdings, leaks, canaries",
    "leak": "Leak attribution: holdings, leaks, canaries",
    "attribute": "Leak attribution: holdings, leaks, canaries",
    "canary": "Leak attribution: holdings, leaks, canaries",
    "items": "Leak attribution: holdings, leaks, canaries",
    "tables": "Spark: attribution beyond one machine",
    "draft": "Filings",
    "bundle": "The exhibit bundle",
    "verify-bundle": "The exhibit bundle",
    "demo": "A complete case: QuickRide",
}

#: Options every command takes (``add_shared_options`` adds them under these names), not repeated
#: in each row. A command's own ``--lang`` (``init``: the case's; ``draft``, ``bundle``: the
#: documents') has another name and is listed.
SHARED = {"case_dir", "message_lang", "help"}


@dataclass(frozen=True)
class Row:
    path: str  # "graph export"
    purpose: str
    usage: str  # arguments and options
    has_json: bool
    section: str


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def purpose(cmd: object) -> str:
    """The first sentence of the command's help, on one line."""
    import click

    assert isinstance(cmd, click.Command)
    text = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def usage(cmd: object) -> str:
    import click

    assert isinstance(cmd, click.Command)
    parts: list[str] = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            name = (p.metavar or p.name or "").upper()
            name += "…" if p.nargs == -1 else ""
            parts.append(name if p.required else f"[{name}]")
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden and p.name not in SHARED and "--json" not in p.opts:
            longest = max(p.opts, key=len)
            parts.append(longest if p.is_flag else f"{longest} {_metavar(p)}")
    return " ".join(f"`{x}`" for x in parts) or "—"


def _metavar(option: object) -> str:
    import click

    assert isinstance(option, click.Option)
    if option.metavar:
        return option.metavar
    if isinstance(option.type, click.Choice):
        return "|".join(str(c) for c in option.type.choices)
    return (option.name or "value").upper()


def commands() -> list[Row]:
    """Every leaf command of the click tree, in ``plitool --help`` order."""
    import click

    from plitool.cli.main import COMMANDS, cli

    rows: list[Row] = []
    ctx = click.Context(cli, info_name="plitool")

    def walk(cmd: click.Command, path: list[str], parent: click.Context) -> None:
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, parent=parent, info_name=path[-1])
            for name in cmd.list_commands(sub_ctx):
                sub = cmd.get_command(sub_ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name], sub_ctx)
            return
        key = " ".join(path)
        section = SECTIONS.get(key) or SECTIONS.get(path[0])
        if section is None:
            raise SystemExit(f"tools/reference.py: no README section for 'plitool {key}': add it to SECTIONS")
        has_json = any("--json" in getattr(p, "opts", ()) for p in cmd.params)
        rows.append(Row(key, purpose(cmd), usage(cmd), has_json, section))

    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        walk(cmd, [name], ctx)
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(rows: list[Row]) -> str:
    lines = [
        "| command | purpose | arguments and options | `--json` | explained in |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| `plitool {r.path}` | {_cell(r.purpose)} | {_cell(r.usage)} | {'yes' if r.has_json else '—'} "
                     f"| [{r.section}](#{anchor(r.section)}) |")
    return "\n".join(lines)


def render(readme: str, rows: list[Row]) -> str:
    """``readme`` with the table between the markers replaced."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"tools/reference.py: {README.name} lacks the markers {START} … {END}")
    headings = {anchor(h) for h in re.findall(r"^#{1,6} (.+)$", readme, flags=re.M)}
    for r in rows:
        if anchor(r.section) not in headings:
            raise SystemExit(f"tools/reference.py: no heading '{r.section}' in {README.name} (for plitool {r.path})")
    return readme[: start + len(START)] + "\n" + table(rows) + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's command table is stale")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    current = README.read_text("utf-8")
    wanted = render(current, commands())
    if args.check:
        if wanted != current:
            print("README.md's command table is stale: run python tools/reference.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted, "utf-8")
        print("README.md: command table rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
