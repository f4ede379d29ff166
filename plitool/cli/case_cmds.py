"""``plitool init``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, err, json_option


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", required=True, help="The case title (used on every document).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of generated documents.")
@json_option
def init_cmd(directory: Path, title: str, lang: str, as_json: bool) -> None:
    """Create a case in DIRECTORY (default: here): case.toml and .plitool/.

    Refuses to touch a folder that already holds a case.
    """
    from ..vault.case import init_case

    case = init_case(directory, title, lang)
    if as_json:
        emit_json({"root": str(case.root), "case_id": case.case_id, "title": title, "lang": lang})
        return
    err().print(f"Created case [bold]{title}[/] in {case.root}")
    err().print("Edit case.toml for the court and the parties; add evidence with 'plitool add FILES'.")
