"""The evidence list (证据目录) and the digests annex, from the vault's ledger and seals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ..pii.mask import court_mask_text

if TYPE_CHECKING:
    from ..vault.case import Case
    from ..vault.evidence import EvidenceItem

SHORT = 16


@dataclass(frozen=True)
class EvidenceRow:
    number: int
    id: str
    name: str
    source: str
    collected_by: str
    collected_at: str
    pages: str
    purpose: str
    sha256: str
    blake3: str
    short_sha256: str
    short_blake3: str
    trusted_time: str | None
    tags: tuple[str, ...]


def _time(value: Any, zone: tzinfo) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return court_mask_text(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M")


def _pages(case: Case, item: EvidenceItem, none: str) -> str:
    """A PDF's page count (pypdf); 1 for a picture; ``none`` for other electronic data or a
    reference that was not copied into the store."""
    if not item.stored_copy:
        return none
    from ..vault.store import stored_path

    path = stored_path(case, item)  # a link or FIFO planted in the store is refused, never opened
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return none
    if head.startswith(b"%PDF-"):
        from pypdf import PdfReader

        from ..pii.extract import pdf_failures

        try:
            return str(len(PdfReader(str(path)).pages))
        except pdf_failures() + (OSError,):  # a damaged PDF still gets a row; its pages are not counted
            return none
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "1"
    return none


def purpose_text(tags: list[str], note: str, law: dict[str, Any]) -> str:
    """证明目的: the elements the item's tags name, then its note (both shown by the court rule)."""
    labels = law["labels"]
    sep = labels.get("list_sep", "、")
    elements = {e["key"]: e["element"] for e in law["elements"]}
    named = [elements[t] for t in tags if t in elements]
    free = [court_mask_text(t) for t in tags if t not in elements]
    parts = []
    if named:
        parts.append(labels["purpose_prefix"] + sep.join(named))
    if free:
        parts.append(f"{labels['purpose_tag']}: {sep.join(free)}" if law.get("lang") == "en"
                     else f"{labels['purpose_tag']}：{sep.join(free)}")
    if note.strip():
        parts.append(court_mask_text(note.strip()))
    if not parts:
        return str(labels["purpose_default"])
    return ("; " if law.get("lang") == "en" else "；").join(parts)


def evidence_rows(case: Case, law: dict[str, Any]) -> list[EvidenceRow]:
    """One row per vault item, in id order, with the trusted time where a valid seal covers it."""
    from ..timestamps.seal import check_seals
    from ..vault.evidence import build_items

    entries = case.ledger.require_healthy().entries
    items = build_items(entries)
    trusted = check_seals(case, entries, {i.id: i.events[0].seq for i in items.values()}).trusted_times \
        if any(e.event == "sealed" for e in entries) else {}
    zone = case.config.zone.tz
    none = str(law["labels"].get("none", "—"))
    rows = []
    for number, item in enumerate(sorted(items.values(), key=lambda i: i.id), start=1):
        first = item.first
        blake = item.digests.get("blake3", "")
        tt = trusted.get(item.id)
        rows.append(EvidenceRow(
            number=number,
            id=item.id,
            name=court_mask_text(item.name) or item.id,
            source=court_mask_text(str(first.get("source") or "")) or none,
            collected_by=court_mask_text(str(first.get("collected_by") or "")) or none,
            collected_at=_time(first.get("collected_at") or first.get("intake_at"), zone) or none,
            pages=_pages(case, item, none),
            purpose=purpose_text(item.tags, str(first.get("note") or ""), law),
            sha256=item.sha256,
            blake3=blake,
            short_sha256=item.sha256[:SHORT],
            short_blake3=blake[:SHORT],
            trusted_time=f"{_time(tt.time.isoformat(), zone)} ({court_mask_text(tt.tsa)})" if tt else None,
            tags=tuple(item.tags),
        ))
    return rows
