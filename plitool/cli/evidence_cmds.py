"""``add``, ``list``, ``show``, ``log``, ``export``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .common import byte_progress, emit_json, err, human_size, json_option, open_case, out


def _parse_datetime(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time (e.g. 2026-11-01T14:30+08:00)") from exc
    return moment  # without an offset: read in the case's time zone once the case is open


@click.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("-r", "--recursive", is_flag=True, help="Walk folders (sorted; symbolic links are not followed).")
@click.option("--hidden", is_flag=True, help="With -r, include hidden files and folders.")
@click.option("--source", help="Where it came from: URL, device, person.")
@click.option("--collected-by", help="Who collected it.")
@click.option(
    "--collected-at",
    callback=_parse_datetime,
    help="When it was collected, if earlier than now (ISO 8601; without an offset, read in case.toml's timezone). Both this and the intake time are kept.",
)
@click.option("--method", help="How it was collected (screen capture, forensic image, download …).")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="Legal element it supports: processing, unlawful, harm, causation, fault, amount (free tags allowed). Repeatable.",
)
@click.option("--note", help="A free note kept in the custody record.")
@click.option("--no-copy", is_flag=True, help="Record a reference to the original instead of copying it (huge disk images).")
@json_option
@click.pass_context
def add_cmd(ctx: click.Context, paths: tuple[str, ...], recursive: bool, hidden: bool, source: str | None,
            collected_by: str | None, collected_at: datetime | None, method: str | None, tags: tuple[str, ...],
            note: str | None, no_copy: bool, as_json: bool) -> None:
    """Hash, store and record evidence files.

    Each file is read once: every digest in case.toml (SHA-256 and BLAKE3 by default) is
    computed while the exact bytes are copied into the read-only store. The same content
    added again becomes a second custody event on the same item.
    """
    from ..vault.intake import IntakeOptions, add_evidence

    case = open_case(ctx)
    if collected_at is not None and collected_at.tzinfo is None:
        collected_at = _read_in_case_zone(case, collected_at)
    options = IntakeOptions(recursive=recursive, hidden=hidden, copy=not no_copy, source=source,
                            collected_by=collected_by, collected_at=collected_at, method=method,
                            tags=tuple(t.strip() for t in tags if t.strip()), note=note)
    with byte_progress("hashing") as (advance, set_total):
        report = add_evidence(case, paths, options, progress=advance, on_plan=lambda p: set_total(p.total_bytes))
    if as_json:
        emit_json({
            "results": [{"item": r.item, "event": r.event, "path": r.path, "size": r.size, "digests": r.digests}
                        for r in report.results],
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
            "warnings": report.warnings,
            "ledger_size": report.checkpoint_size,
        })
    else:
        # Plain lines, not a rich table: an intake of 10,000 files must not spend seconds on layout.
        lines = [f"{r.item}  {r.event:12}  {r.digests['sha256'][:16]}…  {human_size(r.size):>10}  {r.path}" for r in report.results]
        if lines:
            click.echo("\n".join(lines))
    console = err()
    for s in report.skipped:
        console.print(f"[yellow]skipped[/] {s.path}: {s.reason}", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    added = sum(r.event == "added" for r in report.results)
    console.print(f"{added} added, {len(report.results) - added} re-collected, {len(report.skipped)} skipped; "
                  f"ledger now holds {report.checkpoint_size} entries")


def _read_in_case_zone(case: Any, stated: datetime) -> datetime:
    """A time stated without an offset is read in the case's zone, and the user is told so."""
    from ..i18n import _
    from ..vault.times import offset_text, read_in_zone

    zone = case.config.zone
    moment = read_in_zone(stated, zone)
    shown = stated.isoformat(timespec="minutes" if not (stated.second or stated.microsecond) else "seconds")
    err().print(_("note: read {stated} as {zone} ({offset})").format(stated=shown, zone=zone.name,
                                                                   offset=offset_text(moment)), highlight=False)
    return moment


def _load_items(ctx: click.Context):  # type: ignore[no-untyped-def]
    from ..vault.evidence import build_items

    case = open_case(ctx)
    return case, build_items(case.ledger.scan().entries)


@click.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """The evidence table: id, name, size, digests, collection, tags."""
    _, items = _load_items(ctx)
    if as_json:
        emit_json([it.summary() for it in items.values()])
        return
    from rich.table import Table

    table = Table("id", "name", "size", "sha256", "blake3", "collected (UTC)", "tags", "events")
    for it in items.values():
        s = it.summary()
        table.add_row(it.id, it.name, human_size(it.size), it.sha256[:12] + "…",
                      it.digests.get("blake3", "")[:12] + "…", (s["collected_at"] or "")[:19],
                      ", ".join(it.tags), str(len(it.events)))
    out().print(table)
    if not items:
        err().print("no evidence yet: add some with 'plitool add FILES'")


def _entry_json(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "event": e.event, "item": e.item, "data": e.data, "hash": e.digest}


@click.command("show")
@click.argument("item_id")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """One item and its whole custody history."""
    from ..vault.evidence import get_items

    _, items = _load_items(ctx)
    (item,) = get_items(items, [item_id])
    if as_json:
        emit_json({**item.summary(), "record": item.first, "history": [_entry_json(e) for e in item.events]})
        return
    click.echo(f"{item.id}  {item.name}")
    for key, value in item.first.items():
        if key not in ("digests", "tool"):
            click.echo(f"  {key:22} {'' if value is None else value}")
    for algo, digest in item.digests.items():
        click.echo(f"  {algo:22} {digest}")
    click.echo("  custody history:")
    for e in item.events:
        extra = e.data.get("reason") or e.data.get("original_path") or e.data.get("text") or ""
        click.echo(f"    #{e.seq:<6} {e.at}  {e.event:13} {extra}")


@click.command("log")
@click.option("--item", "item_filter", help="Only the entries of this item.")
@json_option
@click.pass_context
def log_cmd(ctx: click.Context, item_filter: str | None, as_json: bool) -> None:
    """The custody ledger, entry by entry."""
    case = open_case(ctx)
    entries = case.ledger.scan().entries
    if item_filter:
        from ..vault.evidence import build_items, get_items

        (it,) = get_items(build_items(entries), [item_filter])
        entries = [e for e in entries if e.item == it.id]
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    for e in entries:
        click.echo(f"#{e.seq:<6} {e.at}  {e.event:13} {e.item or '-':7} {_summary(e)}")


def _summary(e: Any) -> str:
    """One human line per ledger event; the full record is in --json."""
    d = e.data
    if e.event == "sealed":
        cp = d.get("checkpoint", {})
        tsas = ", ".join(t.get("tsa_name") or t.get("tsa", "?") for t in d.get("tokens", []))
        return f"checkpoint {cp.get('size', '?')} timestamped by {tsas or 'no TSA'}"
    if e.event == "trusted":
        return f"trust root {d.get('name') or d.get('subject', '')} (sha256 {str(d.get('sha256', ''))[:16]}…)"
    for key in ("original_name", "reason", "title", "action", "text"):
        if d.get(key):
            return str(d[key])
    return ""


@click.command("export")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the working copies.")
@click.option("--reason", required=True, help="Why the copies are made (kept in the custody record).")
@click.option("--force", is_flag=True, help="Replace files that already exist in the folder.")
@json_option
@click.pass_context
def export_cmd(ctx: click.Context, item_ids: tuple[str, ...], dest: Path, reason: str, force: bool, as_json: bool) -> None:
    """Write working copies of items (checked against their digests) and log the export."""
    from ..vault.evidence import get_items
    from ..vault.manifest import export_items

    case, items = _load_items(ctx)
    chosen = get_items(items, item_ids)
    with byte_progress("exporting", sum(i.size for i in chosen)) as (advance, _):
        done = export_items(case, chosen, dest, reason, force=force, progress=advance)
    if as_json:
        emit_json([{"item": f.item, "path": str(f.path), "sha256": f.digests["sha256"]} for f in done])
        return
    for f in done:
        out().print(f"{f.item}  {f.path}", highlight=False)
