"""``scan``: personal data in evidence, shown masked (``--reveal --reason`` is logged)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..i18n import _, ngettext
from .common import byte_progress, emit_json, err, json_option, open_case, out, safe_text
from .scan_report import StreamedReport


@click.command("scan")
@click.argument("targets", nargs=-1, required=True)
@click.option("--types", "types_text", metavar="LIST",
              help="Only these kinds, comma-separated: phone, id (id_number), email, bank_card, imei, uscc, name, "
                   "address, order_id, waybill, device_id, location. Default: all.")
@click.option("--reveal", is_flag=True, help="Also show the raw values (needs --reason; logged as an 'accessed' custody event).")
@click.option("--reason", help="Why the raw values are shown (kept in the custody ledger).")
@click.option("--known-values", "known_values", type=click.Path(dir_okay=False, path_type=str),
              help="File of the test device's values ('phone: …', 'device_id: …', one a line): also find their "
                   "url-encoded, base64 and MD5/SHA-1/SHA-256 forms.")
@click.option("--password", "ask_password", is_flag=True, help="Ask for the password of encrypted PDFs (not echoed).")
@click.option("--ocr", "ocr_mode", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Read images, and PDF pages without a text layer, by OCR (Tesseract chi_sim+eng); 'always' also "
                   "OCRs PDF pages that have text; 'never' skips images.")
@click.option("--show-boxes", "show_boxes", is_flag=True,
              help="With -o FILE and one image: write a copy with each finding's box and masked label (logged as a "
                   "derived file; the evidence is not changed).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The marked copy (--show-boxes), or with --json the report (written whole or not at all).")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="Findings listed per file (0: all; on a table of millions of rows that is millions). Counts are always complete.")
@json_option
@click.pass_context
def scan_cmd(ctx: click.Context, targets: tuple[str, ...], types_text: str | None, reveal: bool, reason: str | None,
             known_values: str | None, ask_password: bool, ocr_mode: str, show_boxes: bool, output: Path | None,
             force: bool, limit: int, as_json: bool) -> None:
    """Find personal data in evidence items (E-0003) or files.

    A file that is not yet evidence is added to the vault first, so every file analysed is
    sealed; the stored copy is what gets scanned. Shown per file: counts per kind and the
    findings (kind, court-style mask, fingerprint prefix, location: page / sheet!cell /
    row+column / line / HAR entry+part / JSON path). Fingerprints are keyed BLAKE3 under the
    case's secret key: the same value in two files has the same fingerprint.

    Images (PNG, JPEG, WebP, TIFF frames, BMP) and PDF pages without text are read by OCR:
    each finding has its page and box (page 2 box 120,340,410,372) and the OCR confidence; a
    value read with low confidence is a candidate, never a certain finding. --show-boxes -o
    marked.png draws the boxes with masked labels on a copy.

    With --json --limit 0 every finding is listed: the report is written as the findings come,
    without holding them (a million-row leak lists millions); -o FILE writes it to FILE, whole
    or not at all.

    Exit code 1 when a file could not be read (corrupt, encrypted, a zip bomb, an image without
    an OCR engine installed); the other files are still scanned.
    """
    from ..errors import UsageError
    from ..pii.detect import KnownValues
    from ..pii.fields import parse_types
    from ..pii.boxes import check_marked_output, check_marked_source, write_marked_copy
    from ..pii.extract import sniff_format
    from ..pii.fingerprint import Fingerprinter
    from ..pii.ocr import OcrSettings
    from ..pii.scan import (
        ScanOptions,
        stored_path,
        file_record,
        name_masks,
        record_reveal,
        resolve_targets,
        scan_items,
        shared_values,
    )

    if reveal and not (reason and reason.strip()):
        raise UsageError(_("--reveal needs --reason TEXT: showing raw personal data is logged with its reason"))
    if reason and not reveal:
        raise UsageError(_("--reason goes with --reveal"))
    if show_boxes and (output is None or len(targets) != 1):
        raise UsageError(_("--show-boxes needs one image and -o FILE for the marked copy"))
    if output is not None and not (show_boxes or as_json):
        raise UsageError(_("-o goes with --show-boxes (the marked copy) or --json (the report)"))
    kinds = parse_types(types_text)
    known = KnownValues.load(known_values) if known_values else None
    password = click.prompt(_("PDF password"), hide_input=True, err=True) if ask_password else None
    case = open_case(ctx)
    marked_format = check_marked_output(case, output, force) if output is not None and show_boxes else None
    report_path = check_report_output(case, output, force) if output is not None and not show_boxes else None
    fingerprinter = Fingerprinter.for_case(case.paths.fingerprint_key)
    with lazy_progress(_("adding")) as advance:  # drawn only when a new file is hashed into the vault
        items, added = resolve_targets(case, targets, progress=advance)
    if reveal:
        assert reason is not None
        record_reveal(case, items, reason, kinds)
    if marked_format is not None:
        source = stored_path(case, items[0])
        if sniff_format(source, items[0].name) not in ("image", "pdf"):
            raise UsageError(_("--show-boxes draws on images (PNG, JPEG, WebP, TIFF, BMP) and PDF pages read by OCR; "
                               "{item} is neither").format(item=items[0].id))
        check_marked_source(source, marked_format)
    options = ScanOptions(kinds=kinds, limit=None if marked_format else (limit or None), password=password,
                          known_values=known, ocr=OcrSettings(mode=ocr_mode))
    streamed = StreamedReport(fingerprinter, reveal=reveal, several_files=len(items) > 1) \
        if as_json and not limit and marked_format is None else None
    if streamed is not None:  # every finding, each written to the report's spool as it is found
        options = replace(options, limit=0)
    try:
        with byte_progress(_("scanning"), sum(it.size for it in items)) as (advance, _set_total):
            results = scan_items(case, items, options, progress=advance,
                                 on_finding=None if streamed is None else streamed.on_finding)
        if streamed is not None:
            tail = {"shared": [], "shared_compares": "all findings", "added": added, "revealed": reveal,
                    "types": sorted(kinds)}
            with report_sink(report_path, force) as emit:
                streamed.write(results, tail, emit)
            _print_summary(results, added, reveal, None, items)
            if any(r.status == "failed" for r in results):
                ctx.exit(1)
            return
    finally:
        if streamed is not None:
            streamed.close()
    names = name_masks(results)
    marked = None
    if marked_format is not None and output is not None and results[0].status == "scanned":
        marked = write_marked_copy(case, items[0], stored_path(case, items[0]), results[0], fingerprinter, names,
                                   output, marked_format, force=force, password=password)
        if limit:
            results[0].findings = results[0].findings[:limit]
    shared = shared_values(results, fingerprinter, names)
    limited = any(r.total > len(r.findings) for r in results)  # shared values compare listed findings only

    if as_json:
        report = {
            "files": [file_record(r, fingerprinter, names, reveal=reveal) for r in results],
            "shared": shared,
            "shared_compares": "listed findings" if limited else "all findings",
            "added": added,
            "revealed": reveal,
            "types": sorted(kinds),
            **({"marked_copy": {"path": str(marked.path), "sha256": marked.sha256, "boxes": marked.boxes}}
               if marked is not None else {}),
        }
        if report_path is None:
            emit_json(report)
        else:
            with report_sink(report_path, force) as emit:
                emit(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_results(results, shared, limited, fingerprinter, names, reveal)
    _print_summary(results, added, reveal, marked, items)
    if any(r.status == "failed" for r in results):
        ctx.exit(1)


def _print_summary(results: list[Any], added: list[str], reveal: bool, marked: Any, items: list[Any]) -> None:
    console = err()
    if marked is not None:
        console.print(shown(ngettext("marked copy with {n} box written to {path} (logged for {item})",
                                     "marked copy with {n} boxes written to {path} (logged for {item})",
                                     marked.boxes).format(n=marked.boxes, path=marked.path, item=items[0].id)),
                      highlight=False)
    for a in added:
        console.print(_("added {item} to the vault before scanning").format(item=a), highlight=False)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        console.print("[red]{label}[/] {item} ({name}): {error}".format(
            label=shown(_("error:")), item=r.item, name=shown(r.name), error=shown(r.error or "")), highlight=False)
    total = sum(r.total for r in results)
    skipped = sum(r.status == "not scanned" for r in results)
    summary = _("{files}: {findings}, {skipped} not scanned, {failed} failed").format(
        files=ngettext("{n} file", "{n} files", len(results)).format(n=len(results)),
        findings=ngettext("{n} finding", "{n} findings", total).format(n=total), skipped=skipped, failed=len(failed))
    if reveal:
        summary += _("; raw values shown, access logged")
    console.print(shown(summary), highlight=False)


def check_report_output(case: Any, output: Path, force: bool) -> Path:
    """Before any work: the report's file is outside the case's own files and new (or --force)."""
    import os

    from ..errors import OutputExists
    from ..fsutil import check_output_path

    check_output_path(case, output)
    if os.path.lexists(output) and not force:
        raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=output))
    return output


@contextmanager
def report_sink(path: Path | None, force: bool) -> Iterator[Callable[[str], None]]:
    """Where the JSON report goes: stdout, or a file that appears whole when the report is complete
    (an interrupted or failed scan leaves no file, nor half of one)."""
    if path is None:
        yield lambda text: click.echo(text, nl=False)
        return
    from ..fsutil import atomic_output

    with atomic_output(path, overwrite=force) as fh:

        def write(text: str) -> None:
            fh.write(text.encode("utf-8"))

        yield write


def shown(value: object) -> str:
    """Text from evidence (names, locations, notes, parsers' messages) for a rich console: control
    and bidi characters as visible escapes, brackets never read as markup."""
    from rich.markup import escape

    return escape(safe_text(value))


@contextmanager
def lazy_progress(description: str) -> Iterator[Callable[[int], None]]:
    """A byte progress bar that appears on the first bytes reported, not before: scanning
    evidence already in the vault (E-0003) adds nothing and shows no "adding" bar."""
    with ExitStack() as stack:
        bar: list[Callable[[int], None]] = []

        def advance(n: int) -> None:
            if not bar:
                bar.append(stack.enter_context(byte_progress(description))[0])
            bar[0](n)

        yield advance


def _print_results(results: list[Any], shared: list[dict[str, Any]], limited: bool, fingerprinter: Any, names: Any,
                   reveal: bool) -> None:
    from rich.table import Table

    from ..pii.scan import finding_record, fingerprint_prefix

    console = out()
    for r in results:
        unit = _("rows") if r.format in ("csv", "tsv", "xlsx") else _("text units")
        head = f"[bold]{r.item}[/]  {shown(r.name)}  ({r.format}"
        if r.encoding:
            head += f", {r.encoding}"
        head += f", {r.units} {unit})"
        console.print(head, highlight=False)
        if r.status == "not scanned":
            console.print("  " + shown(r.notes[0] if r.notes else _("not scanned")), highlight=False)
            continue
        if r.status == "failed":
            console.print("  [red]{label}[/] {error}".format(label=shown(_("failed:")), error=shown(r.error or "")),
                          highlight=False)
        counts = [f"{k} {v}" for k, v in sorted(r.counts.items())]
        counts += [_("{kind} (masked) {count}").format(kind=k, count=v) for k, v in sorted(r.partial_counts.items())]
        counts += [_("{kind} (OCR candidate) {count}").format(kind=k, count=v)
                   for k, v in sorted(r.candidate_counts.items())]
        if counts:
            line = " · ".join(counts)
            if r.status == "failed":
                line = _("before the failure: {counts}").format(counts=line)
            console.print("  " + shown(line), highlight=False)
        elif r.status == "failed":
            pass  # a file not read has no verdict on personal data
        elif not r.text_layer and not r.ocr_units:
            console.print("  " + shown(_("no text layer: scanned pages? Nothing could be read (OCR them first)")),
                          highlight=False)
        else:
            console.print("  " + shown(_("no personal data found")), highlight=False)
        if r.findings:
            columns = [_("type"), _("masked"), _("fingerprint"), _("found by"), _("location")]
            columns += [_("value")] if reveal else []
            table = Table(*columns, box=None, padding=(0, 1, 0, 2))
            for f in r.findings:
                rec: dict[str, Any] = finding_record(f, fingerprinter, names, reveal=reveal)
                kind = rec["type"] + (_(" (masked)") if rec["partial"] else _(" (candidate?)") if rec.get("candidate")
                                      else "")
                via = rec["via"].removeprefix("known:")
                row = [kind, rec["masked"], fingerprint_prefix(rec["fingerprint"]), via, rec["location"]]
                if reveal:
                    row.append(rec["value"])
                table.add_row(*(shown(str(c)) for c in row))
            console.print(table)
            if r.truncated:
                console.print("  " + shown(_("… {n} more (counts are complete; --limit 0 lists all)")
                                            .format(n=r.total - len(r.findings))), highlight=False)
        for note in r.notes:
            console.print("  [dim]{}[/]".format(shown(_("note: {note}").format(note=note))), highlight=False)
    if shared:
        head = _("Values found in more than one file (same fingerprint, among the listed findings; --limit 0 "
                 "compares all):") if limited else _("Values found in more than one file (same fingerprint):")
        console.print("[bold]{}[/]".format(shown(head)), highlight=False)
        for e in shared:
            console.print(shown(f"  {e['type']:10} {e['masked']}  {fingerprint_prefix(e['fingerprint'])}  "
                                 + _("in {items}").format(items=", ".join(e["items"]))), highlight=False)
