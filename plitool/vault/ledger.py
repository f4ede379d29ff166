"""The custody ledger: append-only JSON Lines, hash-chained, and the leaves of a Merkle tree.

Every line is one canonical JSON object (sorted keys, no spaces, UTF-8) holding ``seq`` (1, 2,
…), ``prev`` (SHA-256 of the previous line's exact bytes, 64 zeros for the first), ``at`` (UTC
time of the event), ``event``, ``item`` and event-specific ``data``. The exact bytes of the line
(without its newline) are the Merkle leaf. After each command that appends, a checkpoint in the
C2SP tlog-checkpoint text form is written to ``checkpoints/<size>.txt``::

    plitool.case/<case id>
    <tree size>
    <base64 Merkle root>

A hash chain alone cannot show a ledger cut short at its end; the checkpoints (and, once sealed,
their RFC 3161 timestamps) pin the head outside the log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import merkle
from ..errors import LedgerDamaged, OutputExists, PlitoolError, StorageError
from ..fsutil import atomic_write, read_regular_file

GENESIS = "0" * 64
EVENTS = ("created", "added", "re-collected", "accessed", "exported", "note", "sealed", "repaired", "trusted")
CHECKPOINT_RE = re.compile(r"^(\d{10})\.txt$")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Entry:
    seq: int
    prev: str
    at: str
    event: str
    item: str | None
    data: dict[str, Any]
    raw: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def leaf(self) -> bytes:
        return merkle.leaf_hash(self.raw)

    def as_json(self) -> dict[str, Any]:
        return json.loads(self.raw)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class NewEvent:
    event: str
    item: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0] or not lines[1].isdigit():
            raise ValueError("not a checkpoint: expected 'origin\\nsize\\nbase64(root)\\n'")
        root = base64.b64decode(lines[2], validate=True)
        if len(root) != 32:
            raise ValueError("checkpoint root is not 32 bytes")
        return cls(lines[0], int(lines[1]), root)


@dataclass
class LedgerScan:
    """What is on disk: the entries that parse, and every problem seen on the way."""

    entries: list[Entry]
    problems: list[str]
    partial_tail: bytes = b""

    @property
    def healthy(self) -> bool:
        return not self.problems and not self.partial_tail


def encode_entry(seq: int, prev: str, at: str, event: NewEvent) -> bytes:
    if event.event not in EVENTS:
        raise ValueError(f"unknown ledger event {event.event!r}")
    return canonical_json(
        {"seq": seq, "prev": prev, "at": at, "event": event.event, "item": event.item, "data": event.data}
    )


def _decode(raw: bytes) -> Entry:
    obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return Entry(
        seq=int(obj["seq"]),
        prev=str(obj["prev"]),
        at=str(obj["at"]),
        event=str(obj["event"]),
        item=obj.get("item"),
        data=dict(obj.get("data") or {}),
        raw=raw,
    )


def scan_ledger(path: Path) -> LedgerScan:
    """Read the ledger and check its chain. Never raises for content; reports problems."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return LedgerScan([], [f"the ledger {path} is missing"])
    except OSError as exc:
        raise StorageError(f"cannot read the ledger {path}: {exc.strerror}") from exc
    lines = blob.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, as it always should
    entries: list[Entry] = []
    problems: list[str] = []
    prev = GENESIS
    for lineno, raw in enumerate(lines, start=1):
        try:
            entry = _decode(raw)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            problems.append(f"ledger line {lineno} is not a valid entry (edited or damaged)")
            prev = hashlib.sha256(raw).hexdigest()
            continue
        if entry.seq != lineno:
            problems.append(
                f"ledger line {lineno} holds entry #{entry.seq}: entries were deleted, inserted or reordered"
            )
        elif entry.prev != prev:
            problems.append(
                f"ledger entry #{lineno} does not chain to the entry before it: "
                "an entry was edited, deleted or reordered"
            )
        elif canonical_json(entry.as_json()) != raw:
            problems.append(f"ledger entry #{lineno} is not in canonical form (edited by hand?)")
        entries.append(entry)
        prev = hashlib.sha256(raw).hexdigest()
    return LedgerScan(entries, problems, tail)


class Ledger:
    """Append and checkpoint. Callers hold the case lock around :meth:`append`."""

    def __init__(self, path: Path, checkpoints_dir: Path, origin: str) -> None:
        self.path = path
        self.checkpoints_dir = checkpoints_dir
        self.origin = origin

    def scan(self) -> LedgerScan:
        return scan_ledger(self.path)

    def require_healthy(self) -> LedgerScan:
        scan = self.scan()
        if scan.partial_tail:
            raise LedgerDamaged(
                f"the ledger ends with an incomplete line ({len(scan.partial_tail)} bytes), "
                "left by an interrupted write; run 'plitool verify', then 'plitool repair'"
            )
        # Checkpoints too: a ledger cut short or with its last entry edited still chains, and
        # appending to it would bury the damage under new entries.
        problems = scan.problems or check_checkpoints(self, scan.entries)[0]
        if problems:
            raise LedgerDamaged(
                "the ledger is damaged, so nothing more is appended to it: "
                + problems[0]
                + "; run 'plitool verify' for the full report"
            )
        return scan

    def append(
        self, events: Iterable[NewEvent], *, scan: LedgerScan | None = None, at: datetime | None = None
    ) -> list[Entry]:
        """Append events durably (one write, one fsync) and write a checkpoint of the new head."""
        scan = scan if scan is not None else self.require_healthy()
        prev = scan.entries[-1].digest if scan.entries else GENESIS
        seq = len(scan.entries)
        stamp = iso_utc(at or utc_now())
        new: list[Entry] = []
        for ev in events:
            seq += 1
            raw = encode_entry(seq, prev, stamp, ev)
            new.append(Entry(seq, prev, stamp, ev.event, ev.item, ev.data, raw))
            prev = hashlib.sha256(raw).hexdigest()
        if not new:
            return []
        payload = b"".join(e.raw + b"\n" for e in new)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot append to the ledger {self.path}: {exc.strerror}") from exc
        all_entries = scan.entries + new
        scan.entries = all_entries
        self.write_checkpoint(all_entries)
        return new

    def checkpoint_for(self, entries: list[Entry]) -> Checkpoint:
        return Checkpoint(self.origin, len(entries), merkle.root([e.leaf for e in entries]))

    def write_checkpoint(self, entries: list[Entry]) -> Checkpoint:
        """Write the checkpoint of this head; an existing checkpoint is never replaced."""
        cp = self.checkpoint_for(entries)
        path = self.checkpoint_path(cp.size)
        try:
            atomic_write(path, cp.text().encode("ascii"), overwrite=False)
        except OutputExists as exc:
            if path.read_bytes() != cp.text().encode("ascii"):
                raise LedgerDamaged(f"checkpoint {cp.size} exists with another root; the ledger was rewritten") from exc
        return cp

    def checkpoint_path(self, size: int) -> Path:
        return self.checkpoints_dir / f"{size:010d}.txt"

    def checkpoint_files(self) -> list[Path]:
        if not self.checkpoints_dir.is_dir():
            return []
        return sorted(p for p in self.checkpoints_dir.iterdir() if CHECKPOINT_RE.match(p.name))


def check_checkpoints(ledger: Ledger, entries: list[Entry]) -> tuple[list[str], int]:
    """Compare every stored checkpoint with the ledger; return problems and the largest size."""
    problems: list[str] = []
    parsed: list[tuple[Path, Checkpoint]] = []
    for path in ledger.checkpoint_files():
        try:
            # bounded, regular files only: a FIFO planted here must not hang verify or add
            cp = Checkpoint.parse(read_regular_file(path, 64 * 1024).decode("ascii"))
        except (ValueError, UnicodeDecodeError, PlitoolError) as exc:
            problems.append(f"checkpoint {path.name} cannot be read: {exc}")
            continue
        if cp.origin != ledger.origin:
            problems.append(f"checkpoint {path.name} belongs to another log ({cp.origin})")
            continue
        if int(CHECKPOINT_RE.match(path.name).group(1)) != cp.size:  # type: ignore[union-attr]
            problems.append(f"checkpoint {path.name} records size {cp.size}, not the size its name says")
            continue
        parsed.append((path, cp))
    largest = max((cp.size for _, cp in parsed), default=0)
    if largest > len(entries):
        problems.append(
            f"the ledger is cut short: checkpoint {largest} records {largest} entries, "
            f"the ledger holds {len(entries)}"
        )
    roots = merkle.roots_at([e.leaf for e in entries], [cp.size for _, cp in parsed if cp.size <= len(entries)])
    for path, cp in parsed:
        if cp.size in roots and roots[cp.size] != cp.root:
            problems.append(
                f"checkpoint {cp.size} does not match the ledger: one of its first {cp.size} "
                "entries was changed"
            )
    return problems, largest
