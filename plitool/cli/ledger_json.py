"""``log --json`` and ``list --json`` of a checked ledger, written straight from its lines.

The ledger's lines are canonical JSON (sorted keys, no spaces, ``ensure_ascii=False``): the ledger
index only vouches for a ledger whose every line is. For such a line, the text ``json.dumps(...,
indent=2)`` would print is a re-arrangement of the line's own pieces: its strings and numbers are
already written exactly as the pretty form writes them. So instead of parsing each line into
Python objects and formatting them again (most of the time of ``list --json`` on a large case),
a line is cut at its quotes (one C-level split) and put back together from a *plan*: the output's
fixed text with the places of the line's pieces. Lines share a handful of shapes (the keys and
nesting, with the strings' contents and the numbers left out), so a plan is worked out once per
shape and reused. Anything unexpected (an escaped quote, a shape the plan does not know, a value
of another type than the plan assumes) falls back to the general path for that line: the bytes
written are the same either way, and tests compare the two.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

#: The characters of a line outside its strings that are structure, not a number or literal.
_STRUCTURE = b"{}[],:"
#: Left out of a shape's key: a number's characters (so that lines differing only in their
#: numbers share a plan). ``true``/``false``/``null`` keep enough letters to stay distinct.
_NUMBER_CHARS = b"0123456789.eE+-"


class _Irregular(Exception):
    """Not a shape this module handles: the caller formats the line the general way."""


# -- the shape of a line -----------------------------------------------------------------------
#
# A line ``{"a":"x","n":12,"t":[]}`` split at its quotes gives ``['{', 'a', ':', 'x', ',', 'n',
# ':12,', 't', ':[]}']``: even pieces are outside strings (structure, numbers, literals), odd
# pieces are a string's contents. Nodes of the parsed shape name pieces by their index:
#   ("s", i)          the string held by piece i
#   ("n", i)          the number or literal inside outside-piece i (between structure characters)
#   ("o", [(key_piece, node), ...])   an object (keys are string pieces)
#   ("a", [node, ...])                an array

Node = tuple[Any, ...]


def _shape_tokens(parts: list[bytes]) -> list[Any]:
    """The line as a stream: structure characters (bytes of length 1), ("s", i) and ("n", i)."""
    stream: list[Any] = []
    for i, piece in enumerate(parts):
        if i % 2:
            stream.append(("s", i))
            continue
        start = 0
        end = len(piece)
        while start < end and piece[start] in _STRUCTURE:
            stream.append(piece[start:start + 1])
            start += 1
        tail: list[bytes] = []
        while end > start and piece[end - 1] in _STRUCTURE:
            tail.append(piece[end - 1:end])
            end -= 1
        if start < end:
            middle = piece[start:end]
            if any(c in _STRUCTURE for c in middle) or not _is_scalar(middle):
                raise _Irregular
            stream.append(("n", i))
        stream.extend(reversed(tail))
    return stream


def _is_scalar(text: bytes) -> bool:
    if text in (b"true", b"false", b"null"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return text not in (b"NaN", b"Infinity", b"-Infinity") and not text.lower().startswith((b"nan", b"inf", b"-inf"))


def _parse(parts: list[bytes]) -> Node:
    stream = _shape_tokens(parts)
    pos = 0

    def take() -> Any:
        nonlocal pos
        if pos >= len(stream):
            raise _Irregular
        pos += 1
        return stream[pos - 1]

    def value() -> Node:
        t = take()
        if isinstance(t, tuple):
            return t
        if t == b"{":
            members: list[tuple[int, Node]] = []
            if pos < len(stream) and stream[pos] == b"}":
                take()
                return ("o", members)
            while True:
                key = take()
                if not (isinstance(key, tuple) and key[0] == "s") or take() != b":":
                    raise _Irregular
                members.append((key[1], value()))
                t = take()
                if t == b"}":
                    return ("o", members)
                if t != b",":
                    raise _Irregular
        if t == b"[":
            elements: list[Node] = []
            if pos < len(stream) and stream[pos] == b"]":
                take()
                return ("a", elements)
            while True:
                elements.append(value())
                t = take()
                if t == b"]":
                    return ("a", elements)
                if t != b",":
                    raise _Irregular
        raise _Irregular

    root = value()
    if pos != len(stream):
        raise _Irregular
    return root


# -- plans -------------------------------------------------------------------------------------


class _Template:
    """Output text as fixed pieces and slots; each slot is filled with a piece of the line."""

    def __init__(self) -> None:
        self.fixed: list[bytes] = [b""]
        self.slots: list[int] = []  # piece index per slot
        self.numbers: list[int] = []  # slot numbers whose piece holds a number among structure

    def text(self, b: bytes) -> None:
        self.fixed[-1] += b

    def slot(self, piece: int, number: bool = False) -> int:
        if number:
            self.numbers.append(len(self.slots))
        self.slots.append(piece)
        self.fixed.append(b"")
        return len(self.slots) - 1

    def node(self, n: Node, indent: bytes) -> None:
        """``n`` as ``json.dumps(indent=2)`` writes it at this indentation."""
        kind = n[0]
        if kind == "s":
            self.text(b'"')
            self.slot(n[1])
            self.text(b'"')
            return
        if kind == "n":
            self.slot(n[1], number=True)
            return
        inner = indent + b"  "
        opening, closing = (b"{", b"}") if kind == "o" else (b"[", b"]")
        if not n[1]:
            self.text(opening + closing)
            return
        self.text(opening + b"\n" + inner)
        for i, member in enumerate(n[1]):
            if i:
                self.text(b",\n" + inner)
            if kind == "o":
                self.text(b'"')
                self.slot(member[0])
                self.text(b'": ')
                self.node(member[1], inner)
            else:
                self.node(member, inner)
        self.text(b"\n" + indent + closing)

    def compile(self) -> _Compiled:
        fixed = self.fixed
        template: list[bytes | None] = [fixed[0]]
        for piece in fixed[1:]:
            template += [None, piece]
        if not self.slots:
            return _Compiled(template, lambda parts: (), ())
        if len(self.slots) == 1:
            only = self.slots[0]
            getter: Callable[[list[bytes]], tuple[bytes, ...]] = lambda parts: (parts[only],)  # noqa: E731
        else:
            getter = operator.itemgetter(*self.slots)
        return _Compiled(template, getter, tuple(2 * s + 1 for s in self.numbers))


@dataclass
class _Compiled:
    template: list[bytes | None]
    getter: Callable[[list[bytes]], tuple[bytes, ...]]
    #: positions in the output list whose piece holds a number among structure characters
    numbers: tuple[int, ...]

    def fill(self, parts: list[bytes]) -> list[bytes]:
        out: list[Any] = self.template.copy()
        out[1::2] = self.getter(parts)
        for at in self.numbers:
            out[at] = out[at].strip(_STRUCTURE)
        return out


def _members(root: Node, parts: list[bytes]) -> dict[bytes, Node]:
    if root[0] != "o":
        raise _Irregular
    return {parts[k]: v for k, v in root[1]}


#: The keys of a ledger line, in their canonical (sorted) order.
_LINE_KEYS = (b"at", b"data", b"event", b"item", b"prev", b"seq")


def _line_members(parts: list[bytes]) -> dict[bytes, Node]:
    root = _parse(parts)
    members = _members(root, parts)
    if tuple(members) != _LINE_KEYS or len(members) != len(root[1]):
        raise _Irregular
    if members[b"at"][0] != "s" or members[b"event"][0] != "s" or members[b"seq"][0] != "n" or \
            members[b"data"][0] != "o" or members[b"prev"][0] != "s":
        raise _Irregular
    item = members[b"item"]
    if item[0] == "n":
        if parts[item[1]].strip(_STRUCTURE) != b"null":
            raise _Irregular
    elif item[0] != "s":
        raise _Irregular
    return members


@dataclass
class _LogPlan:
    compiled: _Compiled
    seq_piece: int


def _log_plan(parts: list[bytes]) -> _LogPlan:
    """``{"seq", "at", "event", "item", "data", "hash"}`` as ``log --json`` prints each entry."""
    m = _line_members(parts)
    t = _Template()
    t.text(b'{\n    "seq": ')
    t.node(m[b"seq"], b"    ")
    t.text(b',\n    "at": ')
    t.node(m[b"at"], b"    ")
    t.text(b',\n    "event": ')
    t.node(m[b"event"], b"    ")
    t.text(b',\n    "item": ')
    t.node(m[b"item"], b"    ")
    t.text(b',\n    "data": ')
    t.node(m[b"data"], b"    ")
    t.text(b',\n    "hash": "')
    t.slot(len(parts))  # the line's SHA-256, added to the pieces
    t.text(b'"\n  }')
    return _LogPlan(t.compile(), m[b"seq"][1])


@dataclass
class _ListPlan:
    """How one ``added`` line becomes its item's ``list --json`` record."""

    compiled: _Compiled
    seq_piece: int
    event_piece: int
    item_piece: int
    #: (output position, piece) of ``stored`` when it is a string (else "reference" is fixed)
    stored: tuple[int, int] | None
    sealed_at: int
    tag_pieces: tuple[int, ...]
    #: the data's keys: the plan holds for a line with the same shape only if they are these
    keys: Callable[[list[bytes]], tuple[bytes, ...]]
    key_texts: tuple[bytes, ...]


_COPY, _REFERENCE = b'"copy"', b'"reference"'


def _list_plan(parts: list[bytes]) -> _ListPlan:
    """The plan for an ``added`` line (a line of another shape is irregular: the caller decides)."""
    m = _line_members(parts)
    if m[b"item"][0] != "s":
        raise _Irregular
    data = _members(m[b"data"], parts)
    digests, size = data.get(b"digests"), data.get(b"size")
    if digests is None or digests[0] != "o" or size is None or size[0] != "n":
        raise _Irregular
    tags = data.get(b"tags")
    if tags is not None and (tags[0] != "a" or any(el[0] != "s" for el in tags[1])):
        raise _Irregular
    t = _Template()
    ind = b"    "
    t.text(b'{\n    "id": ')
    t.node(m[b"item"], ind)
    t.text(b',\n    "name": ')
    if b"original_name" in data:
        t.node(data[b"original_name"], ind)
    else:
        t.text(b'""')
    t.text(b',\n    "size": ')
    t.node(size, ind)
    t.text(b',\n    "digests": ')
    t.node(digests, ind)
    t.text(b',\n    "stored": ')
    stored = data.get(b"stored")
    stored_slot: tuple[int, int] | None = None
    if stored is not None and stored[0] == "s":
        stored_slot = (2 * t.slot(stored[1]) + 1, stored[1])
    else:
        t.text(_REFERENCE)
    for key in (b"collected_at", b"collected_by", b"source"):
        t.text(b',\n    "' + key + b'": ')
        if key in data:
            t.node(data[key], ind)
        else:
            t.text(b"null")
    t.text(b',\n    "tags": ')
    t.node(tags if tags is not None else ("a", []), ind)
    t.text(b',\n    "events": 1,\n    "sealed": ')
    sealed_at = 2 * t.slot(len(parts)) + 1  # filled with true or false
    t.text(b"\n  }")
    tag_pieces = tuple(el[1] for el in tags[1]) if tags is not None else ()
    key_pieces = [k for k, _v in m[b"data"][1]]
    keys: Callable[[list[bytes]], tuple[bytes, ...]] = (
        operator.itemgetter(*key_pieces) if len(key_pieces) > 1 else lambda parts: (parts[key_pieces[0]],))
    return _ListPlan(t.compile(), m[b"seq"][1], m[b"event"][1], m[b"item"][1], stored_slot, sealed_at, tag_pieces,
                     keys, tuple(parts[k] for k in key_pieces))


# -- the two outputs ---------------------------------------------------------------------------

_NO_PLAN: Any = object()
P = TypeVar("P")


def _planned(lines: Iterable[bytes], make: Callable[[list[bytes]], P]) -> Iterator[tuple[bytes, list[bytes], P | None]]:
    """Each line with its pieces (split at quotes) and the plan of its shape, made once per shape
    by ``make`` (None: a shape, or an escaped quote, that only the general path handles)."""
    plans: dict[bytes, P | None] = {}
    last_key = b""
    plan: P | None = None
    parts: list[bytes] = []
    for raw in lines:
        if b'\\"' in raw:  # an escaped quote: the quotes are not the strings' boundaries
            plan = None
            last_key = b""
        else:
            parts = raw.split(b'"')
            key = b'"'.join(parts[0::2]).translate(None, _NUMBER_CHARS)
            if key != last_key:
                plan = plans.get(key, _NO_PLAN)
                if plan is _NO_PLAN:
                    try:
                        plan = plans[key] = make(parts)
                    except _Irregular:
                        plan = plans[key] = None
                last_key = key
        yield raw, parts, plan


def log_records(lines: Iterable[bytes], fallback: Callable[[bytes], bytes | None]) -> Iterator[bytes]:
    """Each line's ``log --json`` record (without the array's separators), in order.

    ``fallback(raw)`` formats a line this module does not handle (None: leave the line out).
    """
    sha256 = hashlib.sha256
    for raw, parts, plan in _planned(lines, _log_plan):
        if plan is None:
            got = fallback(raw)
            if got is not None:
                yield got
            continue
        parts.append(sha256(raw).hexdigest().encode("ascii"))
        compiled = plan.compiled
        out: list[Any] = compiled.template.copy()
        out[1::2] = compiled.getter(parts)
        for at in compiled.numbers:
            out[at] = out[at].strip(_STRUCTURE)
        yield b"".join(out)


def list_records(lines: Iterable[bytes], sealed_size: int, later: set[str],
                 fallback: Callable[[bytes], bytes | None]) -> Iterator[bytes]:
    """The ``list --json`` record of each item first added by one of these lines, in order.

    An item in ``later`` (one with more events than its ``added`` line), a line of a shape not
    handled here, or one whose tags repeat, goes to ``fallback(raw)`` (None: not an item).
    """
    true, false, added, copy = b"true", b"false", b"added", b"copy"
    later_b = {i.encode("utf-8") for i in later}
    for raw, parts, plan in _planned(lines, _list_plan):
        if plan is None:
            got = fallback(raw)
            if got is not None:
                yield got
            continue
        if parts[plan.event_piece] != added:
            continue  # a re-collection: its item is in ``later``, written from its added line
        if plan.keys(parts) != plan.key_texts or parts[plan.item_piece] in later_b or \
                (plan.tag_pieces and len({parts[i] for i in plan.tag_pieces}) != len(plan.tag_pieces)):
            got = fallback(raw)
            if got is not None:
                yield got
            continue
        parts.append(true if int(parts[plan.seq_piece].strip(_STRUCTURE)) <= sealed_size else false)
        compiled = plan.compiled
        out: list[Any] = compiled.template.copy()
        out[1::2] = compiled.getter(parts)
        for at in compiled.numbers:
            out[at] = out[at].strip(_STRUCTURE)
        if plan.stored is not None:
            out[plan.stored[0]] = _COPY if parts[plan.stored[1]] == copy else _REFERENCE
        yield b"".join(out)


def write_array(records: Iterable[bytes], write: Callable[[bytes], Any]) -> None:
    """The records as a JSON array exactly as ``json.dumps(list, indent=2)`` lays it out, written
    in chunks of about 1 MiB."""
    chunk: list[bytes] = []
    size = 0
    first = True
    for record in records:
        chunk.append(b"[\n  " if first else b",\n  ")
        chunk.append(record)
        first = False
        size += len(record)
        if size > 1 << 20:
            write(b"".join(chunk))
            chunk, size = [], 0
    chunk.append(b"[]\n" if first else b"\n]\n")
    write(b"".join(chunk))
