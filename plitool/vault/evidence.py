"""Evidence items as the ledger describes them (the ledger is the only source of truth)."""

from __future__ import annotations

import base64
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UnknownEvidence
from ..i18n import _
from .ledger import Entry

if TYPE_CHECKING:
    from .case import Case
    from .index import IndexedLedger

ITEM_PREFIX = "E-"


def item_id(number: int) -> str:
    return f"{ITEM_PREFIX}{number:04d}"


@dataclass
class EvidenceItem:
    id: str
    sha256: str
    size: int
    digests: dict[str, str]
    name: str
    first: dict[str, Any]
    events: list[Entry] = field(default_factory=list)
    #: Covered by a seal (its ``added`` entry is inside a sealed checkpoint); None: not worked out
    sealed: bool | None = None
    #: seq of the altered entry that is this item's only record (nothing intact to judge it by)
    record_altered: int | None = None

    @property
    def stored_copy(self) -> bool:
        """True when at least one intake copied the bytes into the store."""
        return any(e.data.get("stored") == "copy" for e in self.events if e.event in ("added", "re-collected"))

    @property
    def references(self) -> list[bytes]:
        """Original paths recorded by ``--no-copy`` intakes, as the exact bytes of the path."""
        out: list[bytes] = []
        for e in self.events:
            if e.event in ("added", "re-collected") and e.data.get("stored") == "reference":
                out.append(original_path_bytes(e.data))
        return out

    @property
    def tags(self) -> list[str]:
        """Every tag any intake of this item gave, in first-seen order."""
        tags = (t for e in self.events if e.event in ("added", "re-collected") for t in e.data.get("tags", []))
        return list(dict.fromkeys(tags))

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "digests": dict(self.digests),
            "stored": "copy" if self.stored_copy else "reference",
            "collected_at": self.first.get("collected_at"),
            "collected_by": self.first.get("collected_by"),
            "source": self.first.get("source"),
            "tags": self.tags,
            "events": len(self.events),
            **({} if self.sealed is None else {"sealed": self.sealed}),
        }


def path_record(path_bytes: bytes) -> dict[str, str]:
    """How a path is kept in the ledger: readable text, plus the exact bytes when not UTF-8."""
    text = path_bytes.decode("utf-8", "replace")
    record = {"original_path": text, "original_name": os.path.basename(text)}
    if text.encode("utf-8") != path_bytes:
        record["original_path_b64"] = base64.b64encode(path_bytes).decode()
    return record


def original_path_bytes(data: dict[str, Any]) -> bytes:
    if "original_path_b64" in data:
        return base64.b64decode(data["original_path_b64"])
    return str(data["original_path"]).encode("utf-8")


def _is_record(data: dict[str, Any]) -> bool:
    digests, size = data.get("digests"), data.get("size")
    return isinstance(digests, dict) and isinstance(digests.get("sha256"), str) and isinstance(size, int)


def build_items(entries: Iterable[Entry], *, altered: Collection[int] = ()) -> dict[str, EvidenceItem]:
    """Items as their FIRST ``added`` entry recorded them.

    A later ``added`` for the same id is never plitool's (``verify`` reports it) and changes
    nothing here. ``altered`` names entries known to have been edited: an item whose ``added``
    entry was altered is judged by its last intact ``re-collected`` record, if any.
    """
    items: dict[str, EvidenceItem] = {}
    for e in entries:
        if e.event == "added" and e.item and isinstance(e.item, str):
            if e.item in items or not _is_record(e.data):
                continue
            d = e.data
            items[e.item] = EvidenceItem(
                id=e.item,
                sha256=d["digests"]["sha256"],
                size=int(d["size"]),
                digests=dict(d["digests"]),
                name=d.get("original_name", ""),
                first=d,
                events=[e],
            )
        elif e.item and isinstance(e.item, str) and e.item in items:
            items[e.item].events.append(e)
            if e.event == "re-collected" and isinstance(e.data.get("digests"), dict):
                items[e.item].digests.update(
                    {k: v for k, v in e.data["digests"].items() if k not in items[e.item].digests}
                )
    if altered:
        for item in items.values():
            if item.events[0].seq not in altered:
                continue
            intact = [e for e in item.events if e.event == "re-collected" and e.seq not in altered and _is_record(e.data)]
            if intact:
                last = intact[-1].data
                item.sha256, item.size, item.digests = last["digests"]["sha256"], int(last["size"]), dict(last["digests"])
            else:
                item.record_altered = item.events[0].seq
    return items


def mark_sealed(items: dict[str, EvidenceItem], sealed_size: int) -> None:
    """Set each item's ``sealed``: its ``added`` entry lies inside a sealed checkpoint."""
    for item in items.values():
        item.sealed = item.events[0].seq <= sealed_size


def get_items(items: dict[str, EvidenceItem], ids: Iterable[str]) -> list[EvidenceItem]:
    out = []
    for raw in ids:
        key = normalise_id(raw)
        if key not in items:
            raise UnknownEvidence(_("no evidence item {item!r} in this case (see 'plitool list')").format(item=raw))
        out.append(items[key])
    return out


def normalise_id(raw: str) -> str:
    key = raw.strip().upper()
    return item_id(int(key)) if key.isdigit() else key


def item_entries(case: Case, wanted: str) -> dict[str, EvidenceItem] | None:
    """``{id: item}`` for one item (or ``{}`` when there is none), built from its own entries
    through the ledger index, with ``sealed`` set; None when the index cannot vouch for the
    ledger (the caller then reads it whole, as before)."""
    from ..timestamps.seal import sealed_size_of

    view = case.ledger.index.open_checked(checkpoints=False)  # only reads: see open_checked
    if view is None:
        return None
    key = normalise_id(wanted)
    items = build_items(view.entries_of(key))
    mark_sealed(items, sealed_size_of(case, view.sealed_entries(), view.size))
    return items


@dataclass
class ItemStream:
    """What ``list --json`` needs to write every item from the checked ledger's lines."""

    view: IndexedLedger
    #: entries up to this seq are covered by a seal
    sealed_size: int
    #: items named by more than their ``added`` entry
    later: set[str]

    def item_of(self, raw: bytes) -> EvidenceItem | None:
        """The item a ledger line first adds (its later events read back through the index), or None."""
        from .ledger import decode_entry

        entry = decode_entry(raw)[0]
        if entry.event != "added" or not isinstance(entry.item, str):
            return None
        built = build_items(self.view.entries_of(entry.item) if entry.item in self.later else [entry])
        item = built.get(entry.item)
        if item is None or item.events[0].seq != entry.seq:
            return None
        item.sealed = entry.seq <= self.sealed_size
        return item


def open_item_stream(case: Case) -> ItemStream | None:
    """The ledger checked through its index, with what an item's record needs beyond its own
    line; None when the index cannot vouch for the ledger (the caller then reads it whole)."""
    from ..timestamps.seal import sealed_size_of

    view = case.ledger.index.open_checked(checkpoints=False)  # only reads: see open_checked
    if view is None:
        return None
    return ItemStream(view, sealed_size_of(case, view.sealed_entries(), view.size), view.items_with_later_events())
