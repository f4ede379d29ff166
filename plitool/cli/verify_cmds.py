"""``verify``, ``manifest``, ``repair``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import byte_progress, emit_json, err, human_size, json_option, open_case, out


@click.command("verify")
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Re-hash every item and check the ledger, its checkpoints and the store.

    Exit 0 when everything holds; 1 naming each problem found.
    """
    from ..vault.verify import verify_case

    case = open_case(ctx)
    with byte_progress("verifying") as (advance, set_total):
        report = verify_case(case, progress=advance, on_total=set_total)
    if as_json:
        emit_json(report.as_json())
    else:
        console = out()
        for p in report.problems:
            console.print(f"[red]FAIL[/] {p.kind:11} {p.message}", highlight=False)
        if report.trusted_times:
            # "existed no later than": the earliest trusted timestamp over a checkpoint holding the item.
            for item, t in sorted(report.trusted_times.items()):
                console.print(
                    f"{item} existed no later than {t['existed_no_later_than']}, per TSA {t['tsa']} "
                    f"(checkpoint {t['checkpoint']})",
                    highlight=False,
                )
        for n in report.notes:
            err().print(f"note: {n}", highlight=False)
        verdict = "[green]OK[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
        console.print(
            f"{verdict}: {report.items} items, {report.objects_checked} files re-hashed "
            f"({human_size(report.bytes_checked)}), {report.entries} ledger entries, "
            f"{report.checkpoints} checkpoints, {report.seals} seal(s)"
        )
    if not report.ok:
        sys.exit(1)


@click.command("manifest")
@click.option("--format", "fmts", type=click.Choice(["sha256sum", "b3sum", "sm3sum", "hashdeep"]), multiple=True,
              help="Check-file format (default sha256sum). Repeat it with --export-dir to write several check files over one export.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the check file here (default: stdout, or into --export-dir).")
@click.option("--export-dir", type=click.Path(file_okay=False, path_type=Path), help="Export working copies to DIR/evidence/ and write the check file(s) in DIR; copies already there that match the ledger are re-used.")
@click.option("--reason", default="exported with a check file for independent verification", show_default=True, help="With --export-dir: why the copies are made.")
@click.option("--force", is_flag=True, help="Replace existing files.")
@json_option
@click.pass_context
def manifest_cmd(ctx: click.Context, fmts: tuple[str, ...], output: Path | None, export_dir: Path | None, reason: str,
                 force: bool, as_json: bool) -> None:
    """Write check files that standard tools accept.

    \b
    Without --export-dir the paths point into the case's store; check from the case folder:
        sha256sum -c SHA256SUMS
    With --export-dir DIR, check from DIR:
        sha256sum -c SHA256SUMS | b3sum -c B3SUMS | hashdeep -a -k hashdeep.txt -l -r evidence
    """
    from ..i18n import _, ngettext
    from ..vault.evidence import build_items
    from ..vault.manifest import ManifestFormat, write_manifest

    case = open_case(ctx)
    formats = [ManifestFormat(f) for f in fmts] or [ManifestFormat.SHA256SUM]
    items = list(build_items(case.ledger.scan().entries).values())
    with byte_progress("exporting" if export_dir else "hashing") as (advance, _set_total):
        result = write_manifest(case, items, formats, output=output, export_dir=export_dir, reason=reason,
                                force=force, progress=advance)
    folder = "evidence" if export_dir else ".plitool/objects"
    if as_json:
        emit_json({
            "items": len(items),
            "written": [{"format": f.value, "path": str(p), "check": f.check_command(p.resolve(), folder)}
                        for f, p in result.written],
            "exported": [{"item": e.item, "path": str(e.path), "sha256": e.digests["sha256"], "reused": e.reused}
                         for e in result.exported],
            **({"text": {f.value: t for f, t in result.texts.items()}} if not result.written else {}),
        })
        return
    if not result.written:
        click.echo(result.texts[formats[0]], nl=False)
        return
    copied = sum(not e.reused for e in result.exported)
    reused = len(result.exported) - copied
    console = err()
    where = export_dir if export_dir is not None else case.root
    for fmt, written in result.written:
        console.print(ngettext("wrote {path} ({n} item)", "wrote {path} ({n} items)", len(items)).format(
            path=written, n=len(items)), highlight=False)
    if result.exported:
        console.print(
            ngettext("{n} copy exported", "{n} copies exported", copied).format(n=copied) + "; "
            + ngettext("{n} copy already there re-used (it matches the ledger)",
                       "{n} copies already there re-used (they match the ledger)", reused).format(n=reused),
            highlight=False)
    for fmt, written in result.written:
        console.print(_("check it from {where} with: {command}").format(
            where=where, command=fmt.check_command(written.resolve(), folder)), highlight=False, soft_wrap=True)


@click.command("repair")
@json_option
@click.pass_context
def repair_cmd(ctx: click.Context, as_json: bool) -> None:
    """Mend what a crash leaves, and log it.

    An incomplete last ledger line is removed (its bytes kept in .plitool/repair/); objects an
    interrupted intake linked but never recorded are moved to .plitool/repair/ and its staging
    files removed. Refuses to touch any other kind of damage.
    """
    from ..vault.repair import repair_ledger

    result = repair_ledger(open_case(ctx))
    if as_json:
        emit_json({"repaired": result.repaired, "truncated_bytes": result.truncated_bytes, "saved_to": result.saved_to,
                   "actions": list(result.actions)})
    else:
        err().print(result.message)
