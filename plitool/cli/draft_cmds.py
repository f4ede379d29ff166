"""``draft``: complaint drafts from the case facts, the vault and the templates."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _, ngettext
from .common import emit_json, err, json_option, open_case, safe_text

KIND_CHOICES = ("civil-pil", "recommendation", "announcement", "tort", "production-order")


@click.command("draft")
@click.argument("kind", required=False, metavar="KIND", type=click.Choice(KIND_CHOICES))
@click.option("--lang", "doc_lang", type=click.Choice(["zh", "en"]),
              help="Language of the document (default: case.toml's lang). Messages: 'plitool --lang' before 'draft'.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: drafts/KIND.LANG.FORMAT in the case folder).")
@click.option("--format", "fmt", type=click.Choice(["docx", "md"]), default="docx", show_default=True,
              help="docx (GB/T 9704 layout) or md (Markdown, for review and diffs).")
@click.option("--allow-missing", is_flag=True,
              help="Draft even when case facts are missing: highlighted placeholders, listed in the checklist.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("--date", "draft_day", metavar="YYYY-MM-DD",
              help="The date the draft carries (env PLITOOL_DRAFT_DATE; default: today).")
@click.option("--sighting", metavar="ID", help="The sighting whose attribution the causation section states "
              "(default: case.toml [facts] sighting, or the only one).")
@click.option("--init-templates", is_flag=True,
              help="Copy plitool's templates into the case's templates/ folder to edit them (never overwrites).")
@json_option
@click.pass_context
def draft_cmd(ctx: click.Context, kind: str | None, doc_lang: str | None, output: Path | None, fmt: str,
              allow_missing: bool, force: bool, draft_day: str | None, sighting: str | None, init_templates: bool,
              as_json: bool) -> None:
    """Draft a filing: civil-pil, recommendation, announcement, tort or production-order.

    The facts come from case.toml (a missing one is refused, naming its key, unless
    --allow-missing), the evidence list and digests from the vault, harm and causation from the
    attribution when there is one. A review checklist ends every draft. The draft is recorded in
    the custody ledger.
    """
    from ..errors import OutputExists, UsageError
    from ..filings.draft import build_draft, default_output, draft_date, write_draft
    from ..filings.templates import init_templates as copy_templates

    case = open_case(ctx)
    if init_templates:
        if kind is not None:
            raise UsageError(_("--init-templates takes no KIND"))
        copied = copy_templates(case.root)
        if as_json:
            emit_json({"templates": [str(p) for p in copied]})
            return
        for path in copied:
            click.echo(safe_text(path))
        err().print(ngettext("copied {n} template into the case: edit it there; it wins over plitool's",
                             "copied {n} templates into the case: edit them there; they win over plitool's",
                             len(copied)).format(n=len(copied)), highlight=False, markup=False)
        return
    if kind is None:
        raise UsageError(_("give the KIND of draft: {kinds}").format(kinds=", ".join(KIND_CHOICES)))
    lang = doc_lang or case.config.lang
    target = output if output is not None else default_output(case, kind, lang, fmt)
    if output is not None and output.suffix.lower() in (".md", ".docx") and output.suffix.lower()[1:] != fmt:
        raise UsageError(_("{path} does not end in .{format} (choose --format {other})").format(
            path=output, format=fmt, other=output.suffix.lower()[1:]))
    if target.exists() and not force:
        raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=target))
    from ..fsutil import check_output_path

    check_output_path(case, target)
    draft = build_draft(case, kind, lang=lang, allow_missing=allow_missing, today=draft_date(draft_day), fmt=fmt,
                        sighting=sighting)
    written = write_draft(case, draft, target, fmt, force=force)
    if as_json:
        emit_json({**draft.as_json(), "path": str(written.path), "sha256": written.sha256,
                   "figure_file": str(written.figure) if written.figure else None, "ledger_seq": written.ledger_seq})
        return
    click.echo(safe_text(written.path))
    console = err()
    console.print(ngettext("wrote the {kind} draft ({lang}, {format}): {n} evidence item; template: {template}",
                           "wrote the {kind} draft ({lang}, {format}): {n} evidence items; template: {template}",
                           len(draft.evidence)).format(kind=kind, lang=lang, format=fmt, n=len(draft.evidence),
                                                       template=safe_text(draft.template_shown)),
                  highlight=False, markup=False, soft_wrap=True)
    for p in draft.placeholders:
        console.print(_("placeholder: {key} is missing in case.toml").format(key=safe_text(p.where)),
                      style="yellow", highlight=False, markup=False, soft_wrap=True)
    for element in draft.missing_elements if kind in ("civil-pil", "tort") else ():
        console.print(_("no evidence yet for the element: {element}").format(element=safe_text(element)),
                      style="yellow", highlight=False, markup=False, soft_wrap=True)
    console.print(_("a draft: a lawyer must review it (see its checklist) before it is filed"),
                  highlight=False, markup=False, soft_wrap=True)
