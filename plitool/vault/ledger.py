"""The custody ledger: append-only JSON Lines, hash-chained, and the leaves of a Merkle tree.

Every line is one canonical JSON object (sorted keys, no spaces, UTF-8) holding ``seq`` (1, 2,
…), ``prev`` (SHA-256 of the previous line's exact bytes, 64 zeros for the first), ``at`` (UTC
time of the event), ``event``, ``item`` and event-specific ``data``. The exact bytes of the line
(without its newline) are the Merkle leaf. After each command that appends, a checkpoint of the
new head (its size and Merkle root) is appended to the checkpoint log ``checkpoints/checkpoints.log``::

    plitool checkpoint log v1 plitool.case/<case id>
    0000000002 <base64 Merkle root of the first 2 entries>
    0000000005 <base64 Merkle root of the first 5 entries>

one line per checkpoint, never rewritten. Each line stands for the C2SP tlog-checkpoint text
``origin\nsize\nbase64(root)\n`` (:class:`Checkpoint`), the form a seal timestamps. Cases made
before the log hold one file per checkpoint, ``checkpoints/<size, 10 digits>.txt``, in that C2SP
form; they are still read and checked everywhere, and new checkpoints go into the log.

A final log line without its newline was cut by a crash mid-write: it is not a checkpoint, the
readers ignore it, and the next append ends it with a newline before writing its own line (so a
line that is a strict prefix of a well-formed one is such a torn line, and is skipped).

A hash chain alone cannot show a ledger cut short at its end; the checkpoints (and, once sealed,
their RFC 3161 timestamps) pin the head outside the log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat as stat_mod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import merkle
from ..errors import InputNotFound, LedgerDamaged, OutputExists, PlitoolError, StorageError
from ..fsutil import atomic_write, open_for_reading, read_regular_file
from ..i18n import _, ngettext

if TYPE_CHECKING:
    from .index import IndexedLedger, LedgerIndex

#: How far an entry's ``at`` may lie before the entry preceding it: a clock corrected by NTP
#: steps back by seconds; more than this is an entry written out of order (or forged).
CLOCK_TOLERANCE = timedelta(minutes=5)
#: Events that never name an item, and events that always do (``note`` may do either).
ITEMLESS_EVENTS = ("created", "sealed", "trusted", "repaired")
ITEM_EVENTS = ("added", "re-collected", "accessed", "exported")
ITEM_ID_RE = re.compile(r"^E-(\d{4,})$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")

GENESIS = "0" * 64
EVENTS = ("created", "added", "re-collected", "accessed", "exported", "note", "sealed", "repaired", "trusted")
CHECKPOINT_RE = re.compile(r"^(\d{10})\.txt$")
#: The checkpoint log (a name CHECKPOINT_RE does not match), and its first line's fixed start.
CHECKPOINT_LOG = "checkpoints.log"
LOG_MAGIC = "plitool checkpoint log v1 "
_LOG_LINE_RE = re.compile(rb"(\d{10}) ([A-Za-z0-9+/]{43}=)")
#: What a crash can leave of a line: a strict prefix of a well-formed one (empty included).
_LOG_TORN_RE = re.compile(rb"\d{0,10}|\d{10} [A-Za-z0-9+/]{0,43}")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC: exactly ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` of the
    moment in UTC, built from ``isoformat`` (C, about a third of strftime's cost: an intake
    formats one per file). Before year 1000 ``%Y`` is not zero-padded here: strftime then."""
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    if moment.year >= 1000:
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drops "+00:00"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: The canonical form's encoder, made once (``json.dumps`` with these options makes one per call).
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


#: A JSON string literal as the canonical encoder writes it (``ensure_ascii=False``).
_STRING: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _value_json(value: Any) -> str:
    """One value in canonical form: text and integers directly, anything else through the encoder."""
    kind = type(value)
    if kind is str:
        return _STRING(value)
    if kind is int:
        return int.__repr__(value)
    return _CANONICAL(value)


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 text unescaped: ``json.dumps(obj, ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))`` encoded in UTF-8."""
    return _CANONICAL(obj).encode("utf-8")


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
    #: ``data``'s canonical JSON text, when the caller encoded it already (:class:`DataTemplate`):
    #: it must be exactly ``canonical_json(data)`` decoded; the entry's line is then built around it.
    data_json: str | None = field(default=None, compare=False, repr=False)


class DataTemplate:
    """The canonical JSON text of many ``data`` objects that share most keys and values, each
    ``{**own, **shared}`` (an intake's entries differ only in the file's path, size, time and
    digests): the shared keys and values are encoded once, each object's own values one by one,
    and the pieces joined in sorted key order. Byte for byte ``canonical_json({**own, **shared})``
    decoded (``tests/test_ledger.py`` checks that on arbitrary values); anything but text keys
    is left to ``canonical_json`` itself."""

    def __init__(self, shared: Mapping[str, Any]) -> None:
        self.shared = dict(shared)
        self._encoded = ({k: _STRING(k) + ":" + _CANONICAL(v) for k, v in self.shared.items()}
                         if all(type(k) is str for k in self.shared) else None)
        self._plans: dict[tuple[str, ...], list[tuple[str, str | None]]] = {}

    def _plan(self, keys: tuple[str, ...]) -> list[tuple[str, str | None]]:
        """(encoded shared pair, None) or (encoded own key with its colon, the own key), sorted."""
        assert self._encoded is not None
        plan: list[tuple[str, str | None]] = []
        for k in sorted(set(keys) | set(self.shared)):
            if k in self.shared:  # a shared value wins, as in {**own, **shared}
                plan.append((self._encoded[k], None))
            else:
                plan.append((_STRING(k) + ":", k))
        self._plans[keys] = plan
        return plan

    def encode(self, own: Mapping[str, Any]) -> str:
        keys = tuple(own)
        plan = self._plans.get(keys)
        if plan is None:
            if self._encoded is None or not all(type(k) is str for k in keys):
                return _CANONICAL({**own, **self.shared})
            plan = self._plan(keys)
        return "{" + ",".join(piece if key is None else piece + _value_json(own[key]) for piece, key in plan) + "}"


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
            raise ValueError(_("not a checkpoint: expected 'origin\\nsize\\nbase64(root)\\n'"))
        root = base64.b64decode(lines[2], validate=True)
        if len(root) != 32:
            raise ValueError(_("checkpoint root is not 32 bytes"))
        return cls(lines[0], int(lines[1]), root)


def log_header(origin: str) -> bytes:
    return f"{LOG_MAGIC}{origin}\n".encode()


def log_line(cp: Checkpoint) -> bytes:
    return f"{cp.size:010d} {base64.b64encode(cp.root).decode()}\n".encode("ascii")


def parse_log_line(raw: bytes) -> tuple[int, bytes] | None:
    """The (size, root) of one checkpoint log line (without its newline); None for a torn line
    (what a crash mid-write leaves, completed by the next append); ValueError for anything else."""
    m = _LOG_LINE_RE.fullmatch(raw)
    if m is not None:
        return int(m.group(1)), base64.b64decode(m.group(2), validate=True)
    if _LOG_TORN_RE.fullmatch(raw):
        return None
    raise ValueError(_("expected '<size, 10 digits> <base64 root>'"))


def log_header_problem(raw: bytes, origin: str | None, name: str) -> str | None:
    """Why the log's first line (without its newline) is not the header of this case's log
    (``origin`` None: of any case's log, as in a bundle, whose checkpoints carry no origin)."""
    magic = LOG_MAGIC.encode()
    if raw == log_header(origin)[:-1] if origin is not None else (raw.startswith(magic) and len(raw) > len(magic)):
        return None
    if raw.startswith(magic):
        return _("the checkpoint log {name} belongs to another log ({origin})").format(
            name=name, origin=raw[len(magic):].decode("utf-8", "replace"))
    return _("the checkpoint log {name} does not start with its header ('{magic}<origin>')").format(
        name=name, magic=LOG_MAGIC)


@dataclass
class CheckpointLog:
    """Every checkpoint of the log file that reads, with its line number, and every problem."""

    exists: bool = False
    checkpoints: list[tuple[int, int, bytes]] = field(default_factory=list)  # (line, size, root)
    problems: list[str] = field(default_factory=list)


def read_checkpoint_log(path: Path, origin: str | None) -> CheckpointLog:
    """Read the whole checkpoint log and check its form (header, lines, sizes increasing); never
    raises for content. A final line without its newline, and torn lines, are not checkpoints."""
    out = CheckpointLog()
    name = path.name
    try:
        blob = read_regular_file(path, None)  # never blocks on a FIFO, never follows a link
    except InputNotFound:
        return out
    except PlitoolError as exc:
        out.exists = True
        out.problems.append(_("the checkpoint log {name} cannot be read: {error}").format(name=name, error=exc))
        return out
    out.exists = True
    lines = blob.split(b"\n")
    lines.pop()  # b"" after the last newline, or a line a crash cut: not a checkpoint either way
    if not lines:
        if blob:
            out.problems.append(_("the checkpoint log {name} has no complete header line").format(name=name))
        return out
    header = log_header_problem(lines[0], origin, name)
    if header is not None:
        out.problems.append(header)
        return out
    previous = 0
    for lineno, raw in enumerate(lines[1:], start=2):
        try:
            parsed = parse_log_line(raw)
        except ValueError as exc:
            out.problems.append(_("line {line} of the checkpoint log {name} cannot be read: {error}").format(
                line=lineno, name=name, error=exc))
            continue
        if parsed is None:
            continue
        size, root = parsed
        if size <= previous:
            out.problems.append(_("line {line} of the checkpoint log {name} records size {size}, not more than the "
                                  "line before it ({previous}): lines were reordered or repeated").format(
                line=lineno, name=name, size=size, previous=previous))
            continue
        previous = size
        out.checkpoints.append((lineno, size, root))
    return out


@dataclass(frozen=True)
class LogWrite:
    """One append to the checkpoint log: the log's identity (inode, size, ``mtime_ns``,
    ``ctime_ns``) before (None: this append created it) and after, and where its line starts."""

    before: tuple[int, int, int, int] | None
    after: tuple[int, int, int, int]
    line_at: int
    line: bytes


@dataclass
class LedgerScan:
    """What is on disk: the entries that parse, and every problem seen on the way."""

    entries: list[Entry]
    problems: list[str]
    partial_tail: bytes = b""
    #: seq of entries known to have been altered after they were written (their bytes no longer
    #: match the ``prev`` the next entry recorded, or they are not in canonical form)
    altered: set[int] = field(default_factory=set)

    @property
    def healthy(self) -> bool:
        return not self.problems and not self.partial_tail


def encode_entry(seq: int, prev: str, at: str, event: NewEvent) -> bytes:
    if event.event not in EVENTS:
        raise ValueError(f"unknown ledger event {event.event!r}")
    if event.data_json is None or type(seq) is not int or not all(type(v) is str for v in (prev, at, event.event)):
        return canonical_json(
            {"seq": seq, "prev": prev, "at": at, "event": event.event, "item": event.item, "data": event.data}
        )
    # The same line, built around the data's canonical text: the keys in sorted order.
    item = "null" if event.item is None else _value_json(event.item)
    return (f'{{"at":{_STRING(at)},"data":{event.data_json},"event":{_STRING(event.event)},"item":{item},'
            f'"prev":{_STRING(prev)},"seq":{int.__repr__(seq)}}}').encode("utf-8")


def decode_entry(raw: bytes) -> tuple[Entry, dict[str, Any]]:
    """The entry a line holds, and the object parsed from it (for the canonical-form check)."""
    obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    entry = Entry(
        seq=int(obj["seq"]),
        prev=str(obj["prev"]),
        at=str(obj["at"]),
        event=str(obj["event"]),
        item=obj.get("item"),
        data=dict(obj.get("data") or {}),
        raw=raw,
    )
    return entry, obj


def _decode(raw: bytes) -> Entry:
    return decode_entry(raw)[0]


def scan_ledger(path: Path) -> LedgerScan:
    """Read the ledger and check its chain. Never raises for content; reports problems."""
    try:
        blob = read_regular_file(path, None)  # never blocks on a FIFO, never follows a link
    except InputNotFound:
        return LedgerScan([], [_("the ledger {path} is missing").format(path=path)])
    except PlitoolError as exc:
        raise StorageError(_("cannot read the ledger {path}: {error}").format(path=path, error=exc)) from exc
    lines = blob.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, as it always should
    entries: list[Entry] = []
    problems: list[str] = []
    altered: set[int] = set()
    prev = GENESIS
    previous: Entry | None = None  # the entry on the line before, when that line parsed
    expected_seq = 1
    for lineno, raw in enumerate(lines, start=1):
        try:
            entry = _decode(raw)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            problems.append(_("ledger line {line} is not a valid entry (edited or damaged)").format(line=lineno))
            prev = hashlib.sha256(raw).hexdigest()
            previous = None
            expected_seq += 1
            continue
        if entry.seq != expected_seq:
            problems.append(
                _("ledger line {line} holds entry #{seq} where #{expected} was expected: entries were deleted, "
                  "inserted or reordered").format(line=lineno, seq=entry.seq, expected=expected_seq)
            )
        elif entry.prev != prev:
            if previous is not None and previous.seq == entry.seq - 1 and previous.seq not in altered:
                # The link is broken at the entry before: its bytes are not those the next entry hashed.
                altered.add(previous.seq)
                problems.append(
                    _("ledger entry #{seq} was altered after it was written: its bytes no longer match the hash "
                      "that entry #{next} recorded").format(seq=previous.seq, next=entry.seq)
                )
            elif previous is None or previous.seq in altered:
                pass  # already reported for the line before
            else:
                problems.append(
                    _("ledger entry #{seq} does not chain to the entry before it: an entry was edited, deleted or "
                      "reordered").format(seq=entry.seq)
                )
        if canonical_json(entry.as_json()) != raw and entry.seq not in altered:
            altered.add(entry.seq)
            problems.append(
                _("ledger entry #{seq} was altered: it is not in canonical form (edited by hand?)").format(seq=entry.seq)
            )
        entries.append(entry)
        prev = hashlib.sha256(raw).hexdigest()
        previous = entry
        expected_seq = entry.seq + 1
    return LedgerScan(entries, problems, tail, altered)


def iter_ledger(path: Path) -> Iterator[Entry]:
    """The entries :func:`scan_ledger` keeps (every complete line that parses), read one at a
    time and checked for nothing: for output that must not hold a million entries in memory."""
    try:
        fh = open_for_reading(path)
    except InputNotFound:
        return
    except PlitoolError as exc:
        raise StorageError(_("cannot read the ledger {path}: {error}").format(path=path, error=exc)) from exc
    with fh:
        pending = b""
        while True:
            try:
                chunk = fh.read(1024 * 1024)
            except OSError as exc:
                raise StorageError(_("cannot read the ledger {path}: {error}").format(path=path, error=exc)) from exc
            if not chunk:
                return  # what is left in ``pending`` is an incomplete last line: scan_ledger skips it too
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for raw in lines:
                try:
                    yield _decode(raw)
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    continue


def _parse_at(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _valid_record(data: dict[str, Any]) -> bool:
    digests = data.get("digests")
    size = data.get("size")
    return (
        isinstance(digests, dict)
        and isinstance(digests.get("sha256"), str)
        and bool(HEX64_RE.match(digests["sha256"]))
        and all(isinstance(v, str) for v in digests.values())
        and isinstance(size, int)
        and not isinstance(size, bool)
        and size >= 0
    )


def _check_intake_times(e: Entry, at: datetime, bad: Callable[[str], None]) -> None:
    """The times an intake records: ``intake_at`` is taken before the entry is written, and a
    collection time nobody stated is the intake time. (A *stated* collection time may lie in the
    past: that is no sign of anything.)"""
    intake = _parse_at(str(e.data.get("intake_at", "")))
    if intake is None:
        return
    if intake > at + CLOCK_TOLERANCE:
        bad(_("ledger entry #{seq} records an intake at {intake}, after the entry itself was written ({at})").format(
            seq=e.seq, intake=e.data.get("intake_at"), at=e.at))
    if e.data.get("collected_at_stated") is False and e.data.get("collected_at") != e.data.get("intake_at"):
        bad(_("ledger entry #{seq} records a collection time ({collected}) that nobody stated but that is not its "
              "intake time ({intake})").format(seq=e.seq, collected=e.data.get("collected_at"), intake=e.data.get("intake_at")))


@dataclass(frozen=True)
class MeaningProblem:
    seq: int
    message: str


@dataclass(frozen=True)
class FirstRecord:
    """What an item's first ``added`` entry recorded, as far as the meaning rules need it."""

    seq: int
    size: int
    digests: dict[str, str]


class MeaningState:
    """What :class:`MeaningChecker` remembers between entries: items, their digests, the latest time.

    This one keeps it in memory; the ledger index (``index.py``) keeps it in SQLite, so that the
    entries appended since the last check are judged without reading the ones before them.
    """

    def __init__(self) -> None:
        self._firsts: dict[str, FirstRecord] = {}
        self._by_sha: dict[str, str] = {}
        self.latest_seq: int | None = None
        self.latest_text = ""
        self.latest_at: datetime | None = None

    def first(self, item: str) -> FirstRecord | None:
        return self._firsts.get(item)

    def owner_of(self, sha: str) -> str | None:
        return self._by_sha.get(sha)

    def count(self) -> int:
        return len(self._firsts)

    def add_first(self, item: str, record: FirstRecord) -> None:
        self._firsts[item] = record

    def add_sha(self, sha: str, item: str) -> None:
        self._by_sha[sha] = item


class MeaningChecker:
    """The rules of :func:`check_meaning`, one entry at a time, over a :class:`MeaningState`."""

    def __init__(self, state: MeaningState | None = None) -> None:
        self.state = state if state is not None else MeaningState()

    def check(self, e: Entry) -> list[MeaningProblem]:
        out: list[MeaningProblem] = []
        st = self.state

        def bad(message: str) -> None:
            out.append(MeaningProblem(e.seq, message))

        at = _parse_at(e.at)
        if at is None:
            bad(_("ledger entry #{seq} has no valid time ('at' is {at!r})").format(seq=e.seq, at=e.at))
        elif st.latest_seq is not None and st.latest_at is not None and at < st.latest_at - CLOCK_TOLERANCE:
            bad(_("ledger entry #{seq} is dated {at}, before entry #{prev} ({prev_at}): time in the ledger never "
                  "runs backwards by more than {minutes} minutes").format(
                seq=e.seq, at=e.at, prev=st.latest_seq, prev_at=st.latest_text,
                minutes=int(CLOCK_TOLERANCE.total_seconds() // 60)))
        if at is not None and (st.latest_at is None or at > st.latest_at):
            st.latest_seq, st.latest_text, st.latest_at = e.seq, e.at, at
        if at is not None and e.event in ("added", "re-collected"):
            _check_intake_times(e, at, bad)

        if e.event not in EVENTS:
            bad(_("ledger entry #{seq} records an unknown event {event!r}").format(seq=e.seq, event=e.event))
            return out
        if e.event == "created":
            if e.seq != 1:
                bad(_("ledger entry #{seq} is a second 'created' entry: a case is created once, by entry #1").format(seq=e.seq))
            return out
        if e.seq == 1:
            bad(_("ledger entry #1 is a {event!r} entry: the ledger starts with the case's 'created' entry").format(event=e.event))
        if e.event in ITEMLESS_EVENTS:
            if e.item is not None:
                bad(_("ledger entry #{seq} ({event}) names item {item}: this event never names one").format(
                    seq=e.seq, event=e.event, item=e.item))
            return out
        if e.item is None:
            if e.event != "note":
                bad(_("ledger entry #{seq} ({event}) names no item").format(seq=e.seq, event=e.event))
            return out
        item = str(e.item)
        if e.event == "added":
            known = st.first(item)
            if known is not None:
                bad(_("ledger entry #{seq} adds {item} again (first added by entry #{first}): an item is added exactly "
                      "once").format(seq=e.seq, item=item, first=known.seq))
                return out
            if not _valid_record(e.data):
                bad(_("ledger entry #{seq} adds {item} without valid digests and size").format(seq=e.seq, item=item))
                return out
            expected = f"E-{st.count() + 1:04d}"
            if item != expected:
                bad(_("ledger entry #{seq} adds {item}, but the next id is {expected}: ids are given in order").format(
                    seq=e.seq, item=item, expected=expected))
            sha = e.data["digests"]["sha256"]
            other = st.owner_of(sha)
            if other is not None:
                bad(_("ledger entry #{seq} adds {item} with the same content as {other}: the same content is "
                      "re-collected, never added twice").format(seq=e.seq, item=item, other=other))
            else:
                st.add_sha(sha, item)
            st.add_first(item, FirstRecord(e.seq, e.data["size"], dict(e.data["digests"])))
            return out
        first = st.first(item)
        if first is None:
            bad(_("ledger entry #{seq} ({event}) names {item}, which no earlier entry added").format(
                seq=e.seq, event=e.event, item=item))
            return out
        if e.event == "re-collected":
            recorded = first.digests
            digests = e.data.get("digests")
            same = (
                _valid_record(e.data)
                and isinstance(digests, dict)
                and e.data.get("size") == first.size
                and all(recorded[a] == d for a, d in digests.items() if a in recorded)
            )
            if not same:
                bad(_("ledger entry #{seq} re-collects {item} with other digests or size than entry #{first} "
                      "recorded: an item's digests and size never change").format(seq=e.seq, item=item, first=first.seq))
        elif e.event == "exported" and e.data.get("sha256") not in (None, first.digests["sha256"]):
            bad(_("ledger entry #{seq} exports {item} with another sha256 than entry #{first} recorded: an item's "
                  "digests never change").format(seq=e.seq, item=item, first=first.seq))
        return out


def check_meaning(entries: Iterable[Entry]) -> list[MeaningProblem]:
    """What the entries say, checked against what plitool ever writes (a chain shows none of this).

    A chain can be extended by anyone who can write the file, so a forged line chains perfectly;
    it gives itself away by saying something plitool never says: an item added twice, digests or
    a size that change, an event about an item nobody added, a time running backwards. Each
    problem names the entry and the rule it breaks.
    """
    checker = MeaningChecker()
    out: list[MeaningProblem] = []
    for e in entries:
        out += checker.check(e)
    return out


def _recorded_but(recorded: Sequence[Entry], exc: PlitoolError) -> PlitoolError:
    """The append (one write, one fsync) and the checkpoint after it are two steps: when the
    second fails the entries are in the ledger all the same, and the error must say so."""
    items = list(dict.fromkeys(e.item for e in recorded if e.item))
    first, last = recorded[0].seq, recorded[-1].seq
    where = (
        _("entry #{seq}").format(seq=first) if first == last else _("entries #{first}–#{last}").format(first=first, last=last)
    )
    if not items:
        what = ngettext("{n} event was", "{n} events were", len(recorded)).format(n=len(recorded))
    elif len(items) <= 5:
        what = ngettext("{items} was", "{items} were", len(items)).format(items=", ".join(items))
    else:
        what = _("{first} … {last} ({n} items) were").format(first=items[0], last=items[-1], n=len(items))
    err = PlitoolError(
        _(
            "{what} recorded in the ledger ({where}); its checkpoint could not be written: {reason}. "
            "Nothing recorded is lost: the next command that writes to this case writes a checkpoint "
            "covering these entries, and 'plitool verify' checks the ledger meanwhile"
        ).format(what=what, where=where, reason=exc)
    )
    err.exit_code = exc.exit_code
    return err


class Ledger:
    """Append and checkpoint. Callers hold the case lock around :meth:`append`."""

    def __init__(self, path: Path, checkpoints_dir: Path, origin: str) -> None:
        self.path = path
        self.checkpoints_dir = checkpoints_dir
        self.origin = origin
        self._index: LedgerIndex | None = None
        #: what the last :meth:`write_checkpoint` appended (the ledger index reads back that line)
        self.last_log_write: LogWrite | None = None

    def scan(self) -> LedgerScan:
        return scan_ledger(self.path)

    def require_healthy(self) -> LedgerScan:
        scan = self.scan()
        if scan.partial_tail:
            raise LedgerDamaged(
                _("the ledger ends with an incomplete line ({size} bytes), "
                  "left by an interrupted write; run 'plitool verify', then 'plitool repair'").format(
                    size=len(scan.partial_tail))
            )
        # Checkpoints too: a ledger cut short or with its last entry edited still chains, and
        # appending to it would bury the damage under new entries.
        problems = scan.problems or [p.message for p in check_meaning(scan.entries)] or \
            check_checkpoints(self, scan.entries)[0] or seal_root_problems(scan.entries)
        if problems:
            raise LedgerDamaged(
                _("the ledger is damaged, so nothing more is appended to it: {problem}; "
                  "run 'plitool verify' for the full report").format(problem=problems[0])
            )
        return scan

    @property
    def index(self) -> LedgerIndex:
        from .index import LedgerIndex

        if self._index is None:
            self._index = LedgerIndex(self)
        return self._index

    def checked(self) -> LedgerScan | IndexedLedger:
        """What :meth:`require_healthy` establishes, answered from the ledger index when it can
        vouch for the ledger's prefix (then only the entries appended since are read): see
        ``index.py`` for what that trusts. Raises like :meth:`require_healthy` otherwise."""
        view = self.index.open_checked()
        return view if view is not None else self.require_healthy()

    def append(
        self, events: Iterable[NewEvent], *, scan: LedgerScan | IndexedLedger | None = None, at: datetime | None = None
    ) -> list[Entry]:
        """Append events durably (one write, one fsync) and write a checkpoint of the new head."""
        from .index import IndexedLedger, _file_stat

        events = list(events)
        view = scan if scan is not None else self.checked()
        if isinstance(view, IndexedLedger):
            prev, seq = view.last_digest, view.size
        else:
            prev = view.entries[-1].digest if view.entries else GENESIS
            seq = len(view.entries)
        stamp = iso_utc(at or utc_now())
        new: list[Entry] = []
        digests: list[str] = []  # each new line's SHA-256 (the next line's ``prev``)
        for ev in events:
            seq += 1
            raw = encode_entry(seq, prev, stamp, ev)
            new.append(Entry(seq, prev, stamp, ev.event, ev.item, ev.data, raw))
            prev = hashlib.sha256(raw).hexdigest()
            digests.append(prev)
        if not new:
            return []
        payload = b"".join(e.raw + b"\n" for e in new)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if isinstance(view, IndexedLedger) and _file_stat(os.fstat(fd)) != view.stat:
                    # changed since it was checked (even under the case lock): check it whole
                    os.close(fd)
                    fd = -1
                    return self.append(events, scan=self.require_healthy(), at=at)
                view_mem = memoryview(payload)
                while view_mem:
                    written = os.write(fd, view_mem)
                    view_mem = view_mem[written:]
                os.fsync(fd)
                after = _file_stat(os.fstat(fd))
            finally:
                if fd >= 0:
                    os.close(fd)
        except OSError as exc:
            raise StorageError(_("cannot append to the ledger {path}: {reason}").format(
                path=self.path, reason=exc.strerror)) from exc
        if isinstance(view, IndexedLedger):
            edge = list(view.edge)
            leaves = [merkle.leaf_hash(e.raw) for e in new]
            for leaf in leaves:
                merkle.compact_append(edge, leaf)
            cp = Checkpoint(self.origin, seq, merkle.compact_root(edge))
            try:
                self.write_checkpoint(cp)
            except PlitoolError as exc:
                raise _recorded_but(new, exc) from exc
            self.index.record_append(view, new, after, cp, (digests, leaves), edge)
            return new
        all_entries = view.entries + new
        view.entries = all_entries
        try:
            self.write_checkpoint(all_entries)
        except PlitoolError as exc:
            raise _recorded_but(new, exc) from exc
        return new

    def checkpoint_for(self, entries: list[Entry]) -> Checkpoint:
        return Checkpoint(self.origin, len(entries), merkle.root([e.leaf for e in entries]))

    def write_checkpoint(self, head: list[Entry] | Checkpoint) -> Checkpoint:
        """Append the checkpoint of this head (all its entries, or its checkpoint already worked
        out from the ledger index) to the checkpoint log; lines already there are never touched."""
        cp = head if isinstance(head, Checkpoint) else self.checkpoint_for(head)
        self.last_log_write = self._append_log_line(cp)
        return cp

    @property
    def log_path(self) -> Path:
        return self.checkpoints_dir / CHECKPOINT_LOG

    def _append_log_line(self, cp: Checkpoint) -> LogWrite:
        """One line, with O_APPEND, then fsync. A log that does not exist yet is created whole
        (header and first line) and linked into place, then its folder is synced."""
        path = self.log_path
        line = log_line(cp)
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            data = log_header(self.origin) + line
            try:
                atomic_write(path, data, overwrite=False)  # fsyncs the file and its folder
            except OutputExists:
                pass  # created meanwhile (appends hold the case lock, so only by hand): append below
            else:
                st = os.lstat(path)
                return LogWrite(None, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), len(data) - len(line), line)
            return self._append_log_line(cp)
        except OSError as exc:
            raise LedgerDamaged(_("the checkpoint log {path} cannot be opened: {reason}").format(
                path=path, reason=exc.strerror)) from exc
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise LedgerDamaged(_("the checkpoint log {path} is not a regular file").format(path=path))
            before = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            # A last line cut by a crash is ended first, so that this line starts clean.
            torn = st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n"
            payload = (b"\n" if torn else b"") + line
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            st = os.fstat(fd)
        except OSError as exc:
            raise StorageError(_("cannot append to the checkpoint log {path}: {reason}").format(
                path=path, reason=exc.strerror)) from exc
        finally:
            os.close(fd)
        return LogWrite(before, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), st.st_size - len(line), line)

    def checkpoint_path(self, size: int) -> Path:
        """Where a case made before the checkpoint log kept the checkpoint of this size."""
        return self.checkpoints_dir / f"{size:010d}.txt"

    def checkpoint_files(self) -> list[Path]:
        """The per-file checkpoints of cases made before the checkpoint log (none in new cases)."""
        if not self.checkpoints_dir.is_dir():
            return []
        return sorted(p for p in self.checkpoints_dir.iterdir() if CHECKPOINT_RE.match(p.name))

    def read_log(self) -> CheckpointLog:
        return read_checkpoint_log(self.log_path, self.origin)


def sealed_checkpoint(entry: Entry) -> tuple[int, bytes] | None:
    """The (size, root) a ``sealed`` entry recorded, when it recorded them in a usable form."""
    cp = entry.data.get("checkpoint")
    if entry.event != "sealed" or not isinstance(cp, dict):
        return None
    size, root = cp.get("size"), cp.get("root")
    if not isinstance(size, int) or isinstance(size, bool) or not isinstance(root, str):
        return None
    try:
        return size, base64.b64decode(root, validate=True)
    except ValueError:
        return None


def seal_root_problems(entries: Sequence[Entry], roots: Mapping[int, bytes] | None = None) -> list[str]:
    """Seals whose recorded root is not the root of the ledger's prefix they name.

    Checkpoint files can be rewritten along with a re-chained ledger; a ``sealed`` entry keeps
    the root its TSAs signed, so a prefix changed under a seal shows here without checking a
    token (``verify`` checks the tokens). ``roots`` may give the prefix roots already known.
    """
    sealed = [(e.seq, rec) for e in entries if e.event == "sealed" and (rec := sealed_checkpoint(e)) is not None]
    sizes = [size for _seq, (size, _root) in sealed if 0 < size <= len(entries)]
    if not sizes:
        return []
    known = dict(roots or {})
    missing = [s for s in sizes if s not in known]
    if missing:
        known.update(merkle.roots_at([e.leaf for e in entries], missing))
    return [
        _("seal entry #{seq} recorded another root for the ledger's first {size} entries than they have now: "
          "one of them was changed under the seal").format(seq=seq, size=size)
        for seq, (size, root) in sealed if 0 < size <= len(entries) and known.get(size) != root
    ]


@dataclass
class CheckpointCheck:
    problems: list[str] = field(default_factory=list)
    largest: int = 0
    #: seq of an entry the checkpoints pin down as altered (checkpoint n-1 matches, n does not)
    altered: set[int] = field(default_factory=set)
    #: checkpoints stored: per-file ones (cases made before the log) and log lines
    count: int = 0


def check_checkpoints(ledger: Ledger, entries: list[Entry]) -> tuple[list[str], int]:
    """Compare every stored checkpoint with the ledger; return problems and the largest size."""
    check = checkpoint_check(ledger, entries)
    return check.problems, check.largest


def checkpoint_check(ledger: Ledger, entries: list[Entry]) -> CheckpointCheck:
    """Compare every stored checkpoint with the ledger, and locate a change between two of them."""
    out = CheckpointCheck()
    problems = out.problems
    parsed: list[tuple[str, Checkpoint]] = []
    files = ledger.checkpoint_files()
    log = ledger.read_log()
    if entries and not files and not log.exists:
        problems.append(_("no checkpoint is stored although the ledger holds {n} entries (every command that "
                          "appends writes one): the checkpoints were deleted").format(n=len(entries)))
    for path in files:
        try:
            # bounded, regular files only: a FIFO planted here must not hang verify or add
            cp = Checkpoint.parse(read_regular_file(path, 64 * 1024).decode("ascii"))
        except (ValueError, UnicodeDecodeError, PlitoolError) as exc:
            problems.append(_("checkpoint {name} cannot be read: {error}").format(name=path.name, error=exc))
            continue
        if cp.origin != ledger.origin:
            problems.append(_("checkpoint {name} belongs to another log ({origin})").format(name=path.name, origin=cp.origin))
            continue
        if int(CHECKPOINT_RE.match(path.name).group(1)) != cp.size:  # type: ignore[union-attr]
            problems.append(_("checkpoint {name} records size {size}, not the size its name says").format(
                name=path.name, size=cp.size))
            continue
        parsed.append((path.name, cp))
    problems += log.problems
    if entries and not files and log.exists and not log.checkpoints and not log.problems:
        problems.append(_("the checkpoint log holds no checkpoint although the ledger holds {n} entries (every "
                          "command that appends writes one): its lines were deleted").format(n=len(entries)))
    parsed += [(CHECKPOINT_LOG, Checkpoint(ledger.origin, size, root)) for _line, size, root in log.checkpoints]
    out.count = len(files) + len(log.checkpoints)
    largest = max((cp.size for _p, cp in parsed), default=0)
    out.largest = largest
    if largest > len(entries):
        problems.append(
            _("the ledger is cut short: checkpoint {size} records {size} entries, the ledger holds {n}").format(
                size=largest, n=len(entries))
        )
    roots = merkle.roots_at([e.leaf for e in entries], [cp.size for _p, cp in parsed if cp.size <= len(entries)])
    matching = sorted(cp.size for _p, cp in parsed if cp.size in roots and roots[cp.size] == cp.root)
    mismatched = sorted({cp.size for _p, cp in parsed if cp.size in roots and roots[cp.size] != cp.root})
    if mismatched:
        first = mismatched[0]
        below = max((m for m in matching if m < first), default=0)
        if below == first - 1:
            out.altered.add(first)
            problems.append(_("checkpoint {size} does not match the ledger: entry #{size} was altered (checkpoint "
                              "{below} still matches)").format(size=first, below=below) if below else
                            _("checkpoint {size} does not match the ledger: entry #{size} was altered").format(size=first))
        else:
            problems.append(_("checkpoint {size} does not match the ledger: one of entries #{low}\u2013#{size} was "
                              "changed").format(size=first, low=below + 1))
        later = len(mismatched) - 1
        if later:
            problems.append(ngettext("{n} later checkpoint no longer matches the ledger either",
                                     "{n} later checkpoints no longer match the ledger either", later).format(n=later))
    return out
