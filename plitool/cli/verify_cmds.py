"""``verify``, ``manifest``, ``repair``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..i18n import _, ngettext
from .common import byte_progress, emit_json, err, human_size, json_option, open_case, out, plain, safe_text


def _id_ranges(ids: list[str]) -> str:
    """E-0031, E-0032, E-0033, E-0040 -> "E-0031\u2013E-0033, E-0040" (ids are numbered in order)."""
    parts: list[str] = []
    run: list[str] = []
    for ident in ids:
        if run and ident[2:].isdigit() and run[-1][2:].isdigit() and int(ident[2:]) == int(run[-1][2:]) + 1:
            run.append(ident)
            continue
        if run:
            parts.append(run[0] if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
        run = [ident]
    if run:
        parts.append(run[0] if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
    return ", ".join(parts)


def _unsealed_line(unsealed: dict[str, object]) -> str | None:
    if unsealed.get("never_sealed"):
        return _("this case has never been sealed: every time in it rests on this machine's clock "
                 "(run 'plitool seal', and hand the seal out)")
    span = unsealed.get("entries")
    items = list(unsealed.get("items") or [])  # type: ignore[call-overload]
    if not span and not items:
        return None
    first, last = span if isinstance(span, list) else (None, None)
    where = _("entry #{first}").format(first=first) if first == last else \
        _("entries #{first}\u2013#{last}").format(first=first, last=last)
    if items:
        return _("{entries} and items {items} are not covered by any seal: their times rest on this machine's "
                 "clock (run 'plitool seal')").format(entries=where, items=_id_ranges(items))
    return _("{entries} are not covered by any seal: their times rest on this machine's clock "
             "(run 'plitool seal')").format(entries=where)


@click.command("verify")
@click.option("-v", "--verbose", is_flag=True, help="List the trusted time of every item, not only a summary.")
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, verbose: bool, as_json: bool) -> None:
    """Re-hash every item and check the ledger, its checkpoints, seals and the store.

    Exit 0 when everything holds; 1 naming each problem found. States which entries and items
    no seal covers yet (their times rest on this machine's clock).
    """

    from ..vault.verify import verify_case

    case = open_case(ctx)
    with byte_progress(_("verifying")) as (advance, set_total):
        report = verify_case(case, progress=advance, on_total=set_total)
    if as_json:
        emit_json(report.as_json())
    else:
        console = out()
        for p in report.problems:
            console.print(plain((_("FAIL"), "red"), f" {p.kind:11} ", p.message), soft_wrap=True)  # may quote a hostile path
        if report.trusted_times:
            # "existed no later than": the earliest trusted timestamp over a checkpoint holding the item.
            if verbose:
                for item, t in sorted(report.trusted_times.items()):
                    console.print(plain(
                        _("{item} existed no later than {time}, per TSA {tsa} (checkpoint {checkpoint})").format(
                            item=item, time=t["existed_no_later_than"], tsa=t["tsa"], checkpoint=t["checkpoint"])
                    ), soft_wrap=True)
            else:
                times = sorted(report.trusted_times.items(), key=lambda kv: kv[1]["existed_no_later_than"])
                earliest, latest = times[0][1], times[-1][1]
                n = len(times)
                if n == 1:
                    item, t = times[0]
                    line = _("{item} existed no later than {time}, per TSA {tsa} (checkpoint {checkpoint})").format(
                        item=item, time=t["existed_no_later_than"], tsa=t["tsa"], checkpoint=t["checkpoint"])
                elif earliest["existed_no_later_than"] == latest["existed_no_later_than"]:
                    line = _("{n} items existed no later than {time}, per TSA {tsa} (their earliest trusted time; "
                             "-v lists each)").format(n=n, time=latest["existed_no_later_than"], tsa=latest["tsa"])
                else:
                    line = _("{n} items existed no later than {latest}, each by its earliest trusted time (from "
                             "{earliest}; -v lists each)").format(
                        n=n, latest=latest["existed_no_later_than"], earliest=earliest["existed_no_later_than"])
                console.print(plain(line), soft_wrap=True)
        unsealed = _unsealed_line(report.unsealed)
        if unsealed:
            console.print(plain(unsealed), soft_wrap=True)
        for n_ in report.notes:
            err().print(plain(_("note: {note}").format(note=n_)))
        n_problems = len(report.problems)
        verdict = (_("OK"), "green") if report.ok else (
            ngettext("{n} problem", "{n} problems", n_problems).format(n=n_problems), "red")
        # TRANSLATORS: the separators of the verify summary "OK: 1 item, 1 file re-hashed, …"
        console.print(plain(verdict, _(": "), _(", ").join([
            ngettext("{n} item", "{n} items", report.items).format(n=report.items),
            ngettext("{n} file re-hashed", "{n} files re-hashed", report.objects_checked).format(n=report.objects_checked)
            + f" ({human_size(report.bytes_checked)})",
            ngettext("{n} ledger entry", "{n} ledger entries", report.entries).format(n=report.entries),
            ngettext("{n} checkpoint", "{n} checkpoints", report.checkpoints).format(n=report.checkpoints),
            ngettext("{n} seal", "{n} seals", report.seals).format(n=report.seals),
        ])), soft_wrap=True)
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
    from ..vault.evidence import build_items
    from ..vault.manifest import ManifestFormat, write_manifest

    case = open_case(ctx)
    formats = [ManifestFormat(f) for f in fmts] or [ManifestFormat.SHA256SUM]
    items = list(build_items(case.ledger.scan().entries).values())
    with byte_progress(_("exporting") if export_dir else _("hashing")) as (advance, _total):
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
    counts = ngettext("{n} item", "{n} items", len(items)).format(n=len(items))
    for _fmt, written in result.written:
        console.print(plain(_("wrote {path} ({counts})").format(path=safe_text(written), counts=counts)))
    if result.exported:
        console.print(plain(
            ngettext("{n} copy exported", "{n} copies exported", copied).format(n=copied) + _("; ")
            + ngettext("{n} copy already there re-used (it matches the ledger)",
                       "{n} copies already there re-used (they match the ledger)", reused).format(n=reused)))
    for fmt, written in result.written:
        command = fmt.check_command(written.resolve(), folder)
        # one line, never wrapped: the command is meant to be copied
        console.print(plain(_("check it from {folder} with: {command}").format(folder=safe_text(where),
                                                                               command=safe_text(command))))


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
        err().print(plain(result.message))  # names paths: escaped, never read as markup
