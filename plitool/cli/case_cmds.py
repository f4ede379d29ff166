"""``plitool init`` (and ``init --restore`` for a case whose case.toml was lost)."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _
from .common import emit_json, err, json_option


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", help="The case title (used on every document). Required, except with --restore.")
@click.option("--lang", type=click.Choice(["zh", "en"]), help="Language of generated documents and messages.  [default: zh]")
@click.option("--restore", is_flag=True, help="Rewrite a lost case.toml from what the ledger recorded (logged).")
@json_option
@click.pass_context
def init_cmd(ctx: click.Context, directory: Path, title: str | None, lang: str | None, restore: bool, as_json: bool) -> None:
    """Create a case in DIRECTORY (default: here): case.toml and .plitool/.

    Refuses to touch a folder that already holds a case. With --restore, rewrites the case.toml
    of a case whose .plitool/ is intact from the ledger (title, language, time zone, digests,
    TSAs) and logs it; the court, number and parties must then be filled in again.
    """
    from ..i18n import case_language

    if restore:
        if title is not None or lang is not None:
            raise click.UsageError(_("--restore takes the title and language from the ledger; "
                                     "edit case.toml afterwards to change them"), ctx)
        _restore(directory, as_json)
        return
    if title is None:
        raise click.UsageError(_("Missing option '--title'"), ctx)
    from ..vault.case import init_case

    lang = lang or "zh"
    case_language(lang)
    case = init_case(directory, title, lang)
    if as_json:
        emit_json({"root": str(case.root), "case_id": case.case_id, "title": title, "lang": lang})
        return
    err().print(_("Created case [bold]{title}[/] in {root}").format(title=title, root=case.root))
    err().print(_("Edit case.toml for the court and the parties; add evidence with 'plitool add FILES'."))


def _restore(directory: Path, as_json: bool) -> None:
    from ..i18n import case_language
    from ..vault.case import restore_case_file

    restored = restore_case_file(directory)
    case_language(str(restored.facts["lang"]))
    if as_json:
        emit_json({"root": str(restored.case.root), "case_id": restored.case.case_id,
                   "restored": restored.facts, "sources": restored.sources})
        return
    console = err()
    console.print(_("Restored {file} from the ledger (logged as a note):").format(file=restored.case.paths.case_file),
                  highlight=False)
    for key, value in restored.facts.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        source = restored.sources.get(key, "")
        console.print(f"  {key:9} {shown or '-'}  ({_(source) if source else ''})", highlight=False)
    console.print(_("Fill in the court, the number and the parties again: they were never in the ledger."),
                  highlight=False)
