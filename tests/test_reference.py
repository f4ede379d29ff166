"""README.md's "Reference" section is the map of every command: each command of the click tree has
help text and a row in its command table, and that table is what ``tools/reference.py`` writes."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from types import ModuleType

import click

from plitool.cli.main import COMMANDS, cli

from .conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", PROJECT_ROOT / "tools" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference"] = module
    spec.loader.exec_module(module)
    return module


def _tree() -> Iterator[tuple[str, click.Command]]:
    """(path, command) for every group and command ``plitool --help`` reaches, the root included."""
    root_ctx = click.Context(cli, info_name="plitool")

    def walk(cmd: click.Command, path: list[str], parent: click.Context) -> Iterator[tuple[str, click.Command]]:
        yield " ".join(path), cmd
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd, parent=parent, info_name=path[-1])
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, f"{' '.join(path)} {name}"
                yield from walk(sub, [*path, name], ctx)

    yield "", cli
    for name in COMMANDS:
        cmd = cli.get_command(root_ctx, name)
        assert cmd is not None, name
        yield from walk(cmd, [name], root_ctx)


def _table_rows(readme: str) -> dict[str, str]:
    start, end = readme.index("<!-- reference:commands:start -->"), readme.index("<!-- reference:commands:end -->")
    rows = {}
    for line in readme[start:end].splitlines():
        found = re.match(r"\| `plitool ([a-z -]+)` \|", line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, cmd in _tree():
        if not (cmd.help or "").strip():
            missing.append(f"plitool {path}".strip())
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
                missing.append(f"plitool {path} {'/'.join(param.opts)}")
    assert missing == []


def test_every_command_has_a_row_in_the_readme_table() -> None:
    leaves = {path for path, cmd in _tree() if path and not isinstance(cmd, click.Group)}
    assert {"init", "trust add", "timestamp verify", "graph from-har", "canary issue", "items export", "demo"} <= leaves
    rows = _table_rows(README.read_text("utf-8"))
    assert set(rows) == leaves
    for path, cmd in _tree():
        if path in rows:
            has_json = any("--json" in getattr(p, "opts", ()) for p in cmd.params)
            assert ("| yes |" in rows[path]) == has_json, path


def test_the_readme_table_is_current() -> None:
    ref = _reference()
    readme = README.read_text("utf-8")
    assert ref.render(readme, ref.commands()) == readme, "stale: run python tools/reference.py"
    assert ref.main(["--check"]) == 0


def test_a_stale_table_is_caught() -> None:
    ref = _reference()
    readme = README.read_text("utf-8")
    rows = _table_rows(readme)
    stale = readme.replace(rows["graph from-har"] + "\n", "")
    assert stale != readme
    assert ref.render(stale, ref.commands()) == readme


def test_every_link_of_the_reference_section_names_a_heading() -> None:
    ref = _reference()
    readme = README.read_text("utf-8")
    section = readme[readme.index("\n## Reference\n"):readme.index("\n## Performance")]
    anchors = {ref.anchor(h) for h in re.findall(r"^#{1,6} (.+)$", readme, flags=re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", section))
    assert links and links <= anchors, links - anchors
    for heading in ("### Commands", "### `case.toml` keys", "### `flows.yaml` schema", "### Exit codes", "### JSON output"):
        assert heading in section, heading


def test_every_case_toml_key_of_the_template_is_in_the_reference() -> None:
    """Each key ``templates/case.toml`` documents (commented-out tables included) has a row."""
    template = (PROJECT_ROOT / "templates" / "case.toml").read_text("utf-8")
    readme = README.read_text("utf-8")
    section = readme[readme.index("### `case.toml` keys"):readme.index("### `flows.yaml` schema")]
    rows = [line for line in section.splitlines() if line.startswith("| `[")]
    table, keys = "", []
    for line in template.splitlines():
        header = re.match(r"^#? ?(\[\[?[a-z_]+\]\]?)", line)
        if header:
            table = header.group(1)
            continue
        key = re.match(r"^#? ?([a-z_]+) = ", line)
        if key and table:
            keys.append((table, key.group(1)))
    assert len(keys) >= 50 and ("[timestamps]", "system_roots") in keys and ("[[parties]]", "born") in keys
    missing = [f"{t} {k}" for t, k in keys
               if not any(row.startswith(f"| `{t} ") and re.search(rf"[ ,]{k}[,`]", row.split("|")[1]) for row in rows)]
    assert missing == []
