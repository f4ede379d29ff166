"""``add``, ``list``, ``show``, ``log``, ``export``."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..i18n import N_, _, ngettext
from .common import (
    byte_progress,
    case_zone,
    emit_json,
    emit_json_array,
    err,
    human_size,
    json_option,
    open_case,
    out,
    plain,
    pretty_json,
    safe_text,
    when,
    words,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.table import Table

    from ..vault.evidence import EvidenceItem
    from ..vault.ledger import Entry

#: ``--tag harm,causation`` is two tags: split on the ASCII comma and the Chinese ones.
_TAG_SEPARATORS = re.compile("[,，、]")


def split_tags(values: tuple[str, ...]) -> tuple[str, ...]:
    """Every tag given, split on commas, stripped, empty ones dropped, first-seen order."""
    return tuple(dict.fromkeys(t.strip() for v in values for t in _TAG_SEPARATORS.split(v) if t.strip()))


def _parse_datetime(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(_("{value!r} is not an ISO 8601 date-time (e.g. 2026-11-01T14:30+08:00)").format(
            value=value)) from exc
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
    help="Legal element it supports: processing, unlawful, harm, causation, fault, amount (free tags allowed). "
         "Repeatable, or several separated by commas: --tag harm,causation.",
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
                            tags=split_tags(tags), note=note)
    with byte_progress(_("hashing")) as (advance, set_total):
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
        # The event's label and the size's text are worked out once per distinct value, not per file.
        labels = {e: f"{_event_label(e):12}" for e in {r.event for r in report.results}}
        sizes = {n: f"{human_size(n):>10}" for n in {r.size for r in report.results}}
        lines = [f"{r.item}  {labels[r.event]}  {r.digests['sha256'][:16]}…  {sizes[r.size]}  {safe_text(r.path)}"
                 for r in report.results]
        if lines:
            click.echo("\n".join(lines))
    console = err()
    for skip in report.skipped:
        console.print(plain((_("skipped"), "yellow"), " ", skip.path, _(": "), skip.reason))
    for w in report.warnings:
        console.print(plain((_("warning:"), "yellow"), " ", w))
    added = sum(r.event == "added" for r in report.results)
    console.print(plain(
        _("{added} added, {recollected} re-collected, {skipped} skipped").format(
            added=added, recollected=len(report.results) - added, skipped=len(report.skipped))
        + _("; ")
        + ngettext("the ledger now holds {n} entry", "the ledger now holds {n} entries", report.checkpoint_size).format(
            n=report.checkpoint_size)
    ))


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
    from ..timestamps.seal import sealed_size
    from ..vault.evidence import build_items, mark_sealed

    case = open_case(ctx)
    entries = case.ledger.scan().entries
    items = build_items(entries)
    mark_sealed(items, sealed_size(case, entries))  # cheap: the ledger and the seals folder, no token checked
    return case, items


def _load_item(ctx: click.Context, wanted: str):  # type: ignore[no-untyped-def]
    """One item, from the ledger index when it vouches for the ledger (only its entries are read)."""
    from ..vault.evidence import item_entries

    case = open_case(ctx)
    found = item_entries(case, wanted)
    if found is None:
        return _load_items(ctx)
    return case, found


# -- list -------------------------------------------------------------------------------------

#: The evidence table's columns, in order: key, header. Which ones are shown depends on the width.
LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("id")),
    ("name", N_("name")),
    ("size", N_("size")),
    ("collected", N_("collected")),
    ("sealed", N_("sealed")),
    ("tags", N_("tags")),
    ("events", N_("events")),
    ("sha256", N_("SHA-256")),
    ("blake3", N_("BLAKE3")),
)
#: Left out, in this order, while the table does not fit: digests first; the name never.
DROP_ORDER = ("blake3", "sha256", "events", "tags")
#: Columns that wrap (never cut) and the narrowest each may become.
WRAP_MIN = {"name": 16, "tags": 10}
#: The name's width (when it is that long) before any digest column is given room.
NAME_BEFORE_DIGESTS = 32
#: The tags' width before the name gets what is left.
TAGS_WIDTH = 20
COLUMN_GAP = 2  # a SIMPLE_HEAD table with collapsed padding: one space, the (blank) divider


def _list_row(item: EvidenceItem, zone: tzinfo) -> dict[str, str]:
    s = item.summary()
    return {
        "id": item.id,
        "name": safe_text(item.name),
        "size": human_size(item.size),
        "collected": when(s["collected_at"], zone),
        "tags": ", ".join(safe_text(t) for t in item.tags),
        "events": str(len(item.events)),
        "sha256": item.sha256[:12] + "…",
        "blake3": item.digests["blake3"][:12] + "…" if "blake3" in item.digests else "",
        "sealed": _("yes") if item.sealed else _("no"),
    }


def _choose_columns(rows: list[dict[str, str]], width: int) -> tuple[list[str], dict[str, int]]:
    """The columns that fit ``width`` (leaving out DROP_ORDER's first), and the width of each
    wrapping column: the name gets what the others leave, then the tags."""
    from rich.cells import cell_len

    natural = {key: max([cell_len(_(header))] + [cell_len(r[key]) for r in rows]) for key, header in LIST_COLUMNS}
    narrowest = {key: min(n, max(WRAP_MIN[key], cell_len(_(dict(LIST_COLUMNS)[key])))) if key in WRAP_MIN else n
                 for key, n in natural.items()}
    keys = [key for key, _h in LIST_COLUMNS]
    for drop in DROP_ORDER:
        # a digest prefix is shown only when the name can stay fairly whole beside it
        name_room = min(natural["name"], NAME_BEFORE_DIGESTS) - narrowest["name"] if drop in ("blake3", "sha256") else 0
        if sum(narrowest[k] for k in keys) + max(name_room, 0) + COLUMN_GAP * (len(keys) - 1) <= width:
            break
        keys.remove(drop)
    room = width - COLUMN_GAP * (len(keys) - 1) - sum(natural[k] for k in keys if k not in WRAP_MIN)
    widths: dict[str, int] = {k: narrowest[k] for k in ("name", "tags") if k in keys}
    room -= sum(widths.values())
    # what is left goes to the tags (usually a few short words), then the name, then long tag lists
    for key, up_to in (("tags", TAGS_WIDTH), ("name", natural["name"]), ("tags", natural["tags"])):
        if key in widths and room > 0:
            grow = max(0, min(room, min(up_to, natural[key]) - widths[key]))
            widths[key] += grow
            room -= grow
    return keys, widths


def evidence_table(rows: list[dict[str, str]], keys: list[str], widths: dict[str, int]) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    headers = dict(LIST_COLUMNS)
    for key in keys:
        if key in WRAP_MIN:  # wrapped, never cut
            table.add_column(_(headers[key]), overflow="fold", width=widths.get(key), min_width=WRAP_MIN[key],
                             max_width=widths.get(key))
        else:
            table.add_column(_(headers[key]), no_wrap=True, justify="right" if key in ("size", "events") else "left")
    for row in rows:
        table.add_row(*(Text(row[k]) for k in keys))  # Text: a name is never read as markup
    return table


@click.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """The evidence table: id, name, size, collection time, tags, events and, if the width
    allows, digest prefixes (full records: --json)."""
    if as_json:
        from ..vault.evidence import open_item_stream

        stream = open_item_stream(open_case(ctx))
        if stream is not None:  # the index vouches for the ledger: one item at a time
            _write_item_records(stream)
            return
    case, items = _load_items(ctx)
    if as_json:
        emit_json_array(it.summary() for it in items.values())
        return
    if not items:
        err().print(_("no evidence yet: add some with 'plitool add FILES'"), highlight=False, markup=False)
        return
    console = out()
    zone = case_zone(case)
    rows = [_list_row(it, zone) for it in items.values()]
    keys, widths = _choose_columns(rows, console.width)
    console.print(evidence_table(rows, keys, widths))
    left_out = [_(dict(LIST_COLUMNS)[k]) for k, _h in LIST_COLUMNS if k not in keys]
    if left_out:
        err().print(
            _("left out at this width: {columns} (see 'plitool list --json' or 'plitool show ID')").format(
                columns=", ".join(left_out)),
            highlight=False, markup=False,
        )


def _utf8_stdout() -> bool:
    """Whether text written to stdout is encoded as UTF-8 (then records are written as bytes)."""
    import codecs
    import sys

    try:
        return codecs.lookup(getattr(sys.stdout, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False


def _write_bytes(data: bytes) -> None:
    click.echo(data, nl=False)


def _write_item_records(stream: Any) -> None:
    """``list --json`` from the checked ledger's lines: the same bytes as
    ``emit_json_array(item.summary() ...)``, without building each item (see ``ledger_json``)."""
    from .ledger_json import list_records, write_array

    def general(raw: bytes) -> bytes | None:
        item = stream.item_of(raw)
        return None if item is None else pretty_json(item.summary(), "  ").encode("utf-8")

    lines = stream.view.raw_lines()
    if not _utf8_stdout():
        emit_json_array(item.summary() for raw in lines if (item := stream.item_of(raw)) is not None)
        return
    write_array(list_records(lines, stream.sealed_size, stream.later, general), _write_bytes)


# -- show -------------------------------------------------------------------------------------


def _entry_json(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "event": e.event, "item": e.item, "data": e.data, "hash": e.digest}


#: Ledger event names as a person reads them.
EVENT_LABELS = {
    "created": N_("case created"),
    "added": N_("added"),
    "re-collected": N_("re-collected"),
    "exported": N_("exported"),
    "accessed": N_("accessed"),
    "sealed": N_("sealed"),
    "trusted": N_("root trusted"),
    "repaired": N_("repaired"),
}


def _event_label(event: str) -> str:
    return _(EVENT_LABELS[event]) if event in EVENT_LABELS else safe_text(event)


#: Recorded fields in the order shown, with their labels; any other field follows with its key.
FIELD_LABELS: dict[str, str] = {
    "original_name": N_("name"),
    "original_path": N_("original path"),
    "original_path_b64": N_("original path (exact bytes, base64)"),
    "size": N_("size"),
    "stored": N_("stored"),
    "collected_at": N_("collected"),
    "collected_by": N_("collected by"),
    "source": N_("source"),
    "method": N_("method"),
    "tags": N_("tags"),
    "note": N_("note"),
    "intake_at": N_("recorded"),
    "mtime": N_("file last modified"),
    "host": N_("computer"),
    "tool": N_("recorded with"),
    "reason": N_("reason"),
    "to": N_("written to"),
    "sha256": N_("SHA-256"),
    "action": N_("action"),
    "types": N_("kinds of data"),
    "text": N_("text"),
    "title": N_("title"),
    "lang": N_("language"),
    "case_id": N_("case id"),
}
#: Folded into another line (the collection time says whether it was stated, and its offset).
FOLDED = {"collected_at_stated", "collected_at_offset", "intake_offset", "digests"}
TIME_FIELDS = {"collected_at", "intake_at", "mtime", "at", "time"}
STORED_WORDS = {"copy": N_("a copy in the vault"), "reference": N_("a reference to the original (not copied)")}


def _field_value(key: str, data: dict[str, Any], zone: tzinfo) -> str:
    value = data.get(key)
    if key in TIME_FIELDS and isinstance(value, str):
        shown = when(value, zone) or "—"
        notes = []
        if key == "collected_at" and data.get("collected_at_stated") is True:
            notes.append(_("as stated at intake"))
        elif key == "collected_at" and data.get("collected_at_stated") is False:
            notes.append(_("not stated: the intake time"))
        offset = data.get({"collected_at": "collected_at_offset", "intake_at": "intake_offset"}.get(key, ""))
        if isinstance(offset, str) and offset and not shown.endswith(offset):
            notes.append(_("local offset then {offset}").format(offset=safe_text(offset)))
        return shown + (" (" + "; ".join(notes) + ")" if notes else "")
    if key == "size" and isinstance(value, int):
        return "{human} ({exact})".format(
            human=human_size(value), exact=ngettext("{n} byte", "{n} bytes", value).format(n=f"{value:,}"))
    if key == "stored" and value in STORED_WORDS:
        return _(STORED_WORDS[value])
    if key == "tool" and isinstance(value, dict):
        return " ".join(safe_text(value[k]) for k in ("name", "version") if value.get(k)) + (
            " (Python {v})".format(v=safe_text(value["python"])) if value.get("python") else "")
    return words(value)


def _field_lines(data: dict[str, Any], zone: tzinfo, skip: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    keys = [k for k in FIELD_LABELS if k in data] + sorted(k for k in data if k not in FIELD_LABELS)
    lines = []
    for key in keys:
        if key in FOLDED or key in skip:
            continue
        label = _(FIELD_LABELS[key]) if key in FIELD_LABELS else safe_text(key.replace("_", " "))
        lines.append((label, _field_value(key, data, zone)))
    for algo, digest in (data.get("digests") or {}).items():
        lines.append((safe_text(algo.upper().replace("SHA", "SHA-")) if algo.startswith("sha") else safe_text(algo.upper()),
                      safe_text(digest)))
    return lines


def _print_fields(lines: list[tuple[str, str]], indent: int) -> None:
    from rich.cells import cell_len

    width = max((cell_len(label) for label, _v in lines), default=0) + 2
    for label, value in lines:
        click.echo(" " * indent + label + " " * (width - cell_len(label)) + value)


@click.command("show")
@click.argument("item_id")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """One item and its whole custody history, every recorded field in words."""
    from ..vault.evidence import get_items

    case, items = _load_item(ctx, item_id)
    (item,) = get_items(items, [item_id])
    if as_json:
        emit_json({**item.summary(), "record": item.first, "history": [_entry_json(e) for e in item.events]})
        return
    zone = case_zone(case)
    click.echo(f"{item.id}  {safe_text(item.name)}")
    if not item.sealed:
        click.echo("  " + _("(unsealed: no seal covers this item yet; its times rest on this machine's clock)"))
    _print_fields(_field_lines(item.first, zone), indent=2)
    click.echo("  " + _("custody history:"))
    for e in item.events:
        click.echo(f"    #{e.seq:<6} {when(e.at, zone)}  {_event_label(e.event)}")
        if e.data is item.first:  # the intake that created the item: its fields are above
            click.echo("      " + _("(the record above)"))
            continue
        _print_fields(_field_lines(e.data, zone), indent=6)


# -- log --------------------------------------------------------------------------------------


@click.command("log")
@click.option("--item", "item_filter", help="Only the entries of this item.")
@json_option
@click.pass_context
def log_cmd(ctx: click.Context, item_filter: str | None, as_json: bool) -> None:
    """The custody ledger, one line per entry (every field: --json)."""
    from ..vault.ledger import iter_ledger

    case = open_case(ctx)
    entries: Iterable[Entry]
    if as_json and not item_filter and _utf8_stdout():
        view = case.ledger.index.open_checked(checkpoints=False)  # only reads
        if view is not None:  # every line is canonical: written from its own pieces
            from ..vault.ledger import decode_entry
            from .ledger_json import log_records, write_array

            def general(raw: bytes) -> bytes:
                return pretty_json(_entry_json(decode_entry(raw)[0]), "  ").encode("utf-8")

            write_array(log_records(view.raw_lines(), general), _write_bytes)
            return
    if item_filter:
        from ..vault.evidence import build_items, get_items

        all_entries = case.ledger.scan().entries
        (it,) = get_items(build_items(all_entries), [item_filter])
        entries = [e for e in all_entries if e.item == it.id]
    else:
        entries = iter_ledger(case.paths.ledger)  # the entries scan() keeps, read one at a time
    if as_json:
        emit_json_array(_entry_json(e) for e in entries)
        return
    zone = case_zone(case)
    for e in entries:
        click.echo(f"#{e.seq:<6} {when(e.at, zone)}  {_event_label(e.event):13} {e.item or '-':7} {_summary(e)}")


def _summary(e: Entry) -> str:
    """One human line per ledger event, escaped; the full record is in --json."""
    d = e.data
    if e.event == "sealed":
        cp = d.get("checkpoint", {})
        tsas = ", ".join(safe_text(t.get("tsa_name") or t.get("tsa", "?")) for t in d.get("tokens", []))
        return _("checkpoint {size} timestamped by {tsas}").format(size=safe_text(cp.get("size", "?")),
                                                                  tsas=tsas or _("no TSA"))
    if e.event == "trusted":
        return _("trust root {name} (SHA-256 {sha256}…)").format(
            name=safe_text(d.get("name") or d.get("subject", "")), sha256=safe_text(str(d.get("sha256", ""))[:16]))
    if e.event == "exported":
        return _("to {path}: {reason}").format(path=safe_text(d.get("to", "?")), reason=safe_text(d.get("reason", "")))
    for key in ("original_name", "reason", "title", "action", "text"):
        if d.get(key):
            return safe_text(d[key])
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
    with byte_progress(_("exporting"), sum(i.size for i in chosen)) as (advance, _total):
        done = export_items(case, chosen, dest, reason, force=force, progress=advance)
    if as_json:
        emit_json([{"item": f.item, "path": str(f.path), "sha256": f.digests["sha256"]} for f in done])
        return
    for f in done:
        click.echo(f"{f.item}  {safe_text(f.path)}")
