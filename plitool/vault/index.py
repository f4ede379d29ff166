"""A derived index of the custody ledger (``.plitool/index.sqlite``), so that a command's cost does
not grow with the ledger's length.

The ledger stays the only truth; the index is a cache of what a full check of it established:
the verified prefix (its byte length, entry count, the SHA-256 of its last line, the right edge
of its Merkle tree), the roots of the checkpoints it was checked against, each item's first
record, and each entry's place in the file. It can be deleted at any time; the next command
rebuilds it from the ledger (one full check, as every command did before it existed).

How much the index is trusted, and why:

* A command (``add``, ``show``, ``seal --offline`` …) accepts the verified prefix without reading
  it again only when the ledger file's identity and times are exactly those recorded when the
  prefix was checked (device, inode, size, ``mtime_ns`` and ``ctime_ns``; the change time cannot
  be set back by a user). Any other change (the ledger grew without plitool recording it, the
  filesystem keeps only whole-second times) makes the command re-hash the prefix (one SHA-256
  per line, no JSON parsing) and compare its Merkle root with the recorded one before checking
  only the new entries; any mismatch makes it check the whole ledger from the first byte, as
  before, and refuse to append when that check fails.
* Checkpoint files are checked by identity: each one's (inode, size, ``mtime_ns``, ``ctime_ns``)
  is recorded once its root has been compared with the ledger, with one digest of them all. A
  command that appends lists the folder and ``lstat`` s each file; only files whose identity
  moved are read (and those written less than ``SETTLE_NS`` ago, whose times a rewrite within
  the same clock tick would not move). Commands that only read skip them (``open_checked``).
  Only cases made before the checkpoint log have such files; new cases have none.
* The checkpoint log (``checkpoints/checkpoints.log``) is checked the same way, as one file: its
  identity (inode, size, ``mtime_ns``, ``ctime_ns``) is recorded with the number of bytes checked
  and a digest of those bytes (BLAKE3 chained over 1 MiB blocks, so that an append re-hashes at
  most one block). A command that appends ``fstat`` s it: the recorded identity means nothing to
  read; after its own append it reads back only its line. Otherwise, when the same file only grew
  (or was written to in place), the checked prefix is hashed again (one read, no parsing) and the
  new lines are checked against the ledger; when it shrank, is another file, or its prefix hashes
  differently, every line is read again and checked, and a log that lost a checkpoint already
  checked is refused (``LedgerDamaged``). A log written less than ``SETTLE_NS`` ago has its
  prefix hashed again by each command until it settles.
* The index proves nothing by itself: it lives in the same folder as the ledger, with no secret
  an intruder lacks. Someone who edits an old ledger line *and* rewrites the index's recorded
  file times hides the edit from ``add`` and ``show`` — but that person could equally re-chain
  the ledger and rewrite the checkpoints, which no command short of ``verify`` catches either.
  ``verify`` never uses the index: it reads and checks the ledger from its first byte, and the
  seals' RFC 3161 tokens are what pin the ledger against a writer of this folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat as stat_mod
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import merkle
from ..errors import LedgerDamaged, PlitoolError, StorageError
from ..i18n import _, ngettext
from .ledger import (
    CHECKPOINT_RE,
    LogWrite,
    log_header_problem,
    log_line,
    parse_log_line,
    GENESIS,
    Checkpoint,
    Entry,
    FirstRecord,
    MeaningChecker,
    MeaningState,
    _parse_at,
    canonical_json,
    decode_entry,
    sealed_checkpoint,
)

if TYPE_CHECKING:
    from .ledger import Ledger

INDEX_FILE = "index.sqlite"
SCHEMA = 3
CHUNK = 1024 * 1024
EVENT_BATCH = 5000
#: A checkpoint file whose change time is this close to now may still be rewritten within the same
#: clock tick (file times advance by 1–10 ms on Linux) without its times moving: its identity is
#: not trusted yet, and each command reads it again until it has settled.
SETTLE_NS = 2_000_000_000
#: Checkpoint files are a few dozen bytes; anything larger is not one.
CHECKPOINT_MAX = 64 * 1024
#: The checkpoint log's digest is BLAKE3 chained over blocks of this size: an append re-hashes
#: the last, partial block only.
LOG_BLOCK = 1024 * 1024
#: The log is read this much at a time when it is hashed (a multiple of LOG_BLOCK).
LOG_WINDOW = 4 * LOG_BLOCK

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS head(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema INTEGER NOT NULL, origin TEXT NOT NULL,
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    entries INTEGER NOT NULL, last TEXT NOT NULL, edge BLOB NOT NULL,
    latest_seq INTEGER, latest_text TEXT NOT NULL, items INTEGER NOT NULL,
    cp_digest TEXT NOT NULL, cp_racy TEXT NOT NULL, cp_log TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY, off INTEGER NOT NULL, len INTEGER NOT NULL, event TEXT NOT NULL, item TEXT);
CREATE INDEX IF NOT EXISTS events_item ON events(item, seq) WHERE item IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_sealed ON events(seq) WHERE event = 'sealed';
CREATE TABLE IF NOT EXISTS items(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, size INTEGER NOT NULL,
    digests TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shas(sha TEXT PRIMARY KEY, item TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cpfiles(name TEXT PRIMARY KEY, ino INTEGER NOT NULL, bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL) WITHOUT ROWID;
"""

#: (device, inode, size, mtime_ns, ctime_ns) of the ledger file
FileStat = tuple[int, int, int, int, int]


def _file_stat(st: os.stat_result) -> FileStat:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


#: (inode, size, mtime_ns, ctime_ns) of a checkpoint file
CpIdent = tuple[int, int, int, int]
_DIGEST_MOD = 1 << 64


def _cp_ident(st: os.stat_result) -> CpIdent:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _cp_term(name: str, ident: CpIdent) -> int:
    # hash() of a tuple of ints is deterministic (no per-process salt, unlike str); should a
    # Python release change it, the digests differ once and the next command recomputes them.
    return hash((int(name[:10]), *ident)) % _DIGEST_MOD


def _cp_digest(files: dict[str, CpIdent]) -> int:
    """One number for the identities of every checkpoint file: a sum of one hash per file, so that
    an append adds its new file's term without listing the others; any file added, removed,
    replaced or written to changes it (bar a 2^-64 chance). Not a defence against someone who
    can write the index, which no cache in the case folder can be: it tells plitool which
    files to read again."""
    return sum(_cp_term(name, ident) for name, ident in files.items()) % _DIGEST_MOD


def _settled(ident: CpIdent, now_ns: int) -> bool:
    """Times that a rewrite must move: fine-grained, and older than a clock tick or two."""
    mtime, ctime = ident[2], ident[3]
    return bool(mtime % 1_000_000_000 or ctime % 1_000_000_000) and ctime < now_ns - SETTLE_NS


def _fine_times(st: FileStat) -> bool:
    """Whole-second times (FAT, some network filesystems) cannot tell two writes in one second apart."""
    return bool(st[3] % 1_000_000_000 or st[4] % 1_000_000_000)


def _hash_log(fd: int, start: int, end: int, chain: bytes) -> tuple[bytes, bytes]:
    """The log's digest, chained on from ``chain`` (the value at block boundary ``start``) over
    ``[start, end)``: the chain at the last block boundary at or below ``end``, and the digest of
    the whole ``[0, end)`` (the chain with the partial last block, if any, hashed in). Read into
    one reused buffer (the whole log is hashed again while it settles: no copy per block; and no
    mapping, which a file cut short under it would turn into a SIGBUS)."""
    buf = bytearray(min(LOG_WINDOW, max(end - start, 0)))
    view = memoryview(buf)
    pos = start
    while pos < end:
        want = min(len(buf), end - pos)  # a multiple of LOG_BLOCK, but for the last read
        got = 0
        while got < want:
            n = os.preadv(fd, [view[got:want]], pos + got)
            if n <= 0:
                raise _Unusable  # shrank under us
            got += n
        full = got - got % LOG_BLOCK
        for i in range(0, full, LOG_BLOCK):
            chain = _block_digest(chain, view[i:i + LOG_BLOCK])
        if full < got:  # the partial last block, at ``end``
            return chain, _block_digest(chain, view[full:got])
        pos += got
    return chain, chain


def _block_digest(chain: bytes, block: bytes | memoryview) -> bytes:
    # BLAKE3 (about 4x SHA-256 here): a command run within SETTLE_NS of the last append hashes
    # the whole log again, 56 MB at 10^6 checkpoints. Imported here, as elsewhere, to keep the
    # start-up of commands that never hash lean.
    import blake3

    h = blake3.blake3(chain)
    h.update(block)
    return h.digest()


@dataclass
class _LogState:
    """What the index checked of the checkpoint log (kept as JSON in ``head.cp_log``)."""

    ident: CpIdent | None = None  # None: there was no log
    checked: int = 0  # bytes, up to the end of the last complete line
    chain: bytes = b""  # digest chain at the block boundary at or below ``checked``
    digest: bytes = b""  # of the ``checked`` bytes
    count: int = 0  # checkpoints on its lines
    last: tuple[int, bytes] | None = None  # the last one (size, root)
    racy: bool = False  # written less than SETTLE_NS ago: its identity is not trusted yet

    def dumps(self) -> str:
        return json.dumps({"ident": self.ident, "checked": self.checked, "chain": self.chain.hex(),
                           "digest": self.digest.hex(), "count": self.count,
                           "last": None if self.last is None else [self.last[0], self.last[1].hex()],
                           "racy": self.racy})

    @classmethod
    def loads(cls, text: str) -> _LogState:
        d = json.loads(text)
        ident = d["ident"]
        last = d["last"]
        return cls(None if ident is None else tuple(int(v) for v in ident),  # type: ignore[arg-type]
                   int(d["checked"]), bytes.fromhex(d["chain"]), bytes.fromhex(d["digest"]), int(d["count"]),
                   None if last is None else (int(last[0]), bytes.fromhex(last[1])), bool(d["racy"]))


class _Unusable(Exception):
    """The index cannot answer for this ledger as it is: check it the slow way."""


#: How the items table keeps an item's digests: ``json.dumps(digests, sort_keys=True)``, with the
#: encoder made once, not once per item.
_digests_json = json.JSONEncoder(sort_keys=True).encode


class _DbState(MeaningState):
    """The meaning rules' memory, in the index. New items wait in memory and are written in
    batches (:meth:`flush`); reads look there first, then in the open transaction."""

    def __init__(self, conn: sqlite3.Connection, items: int, latest_seq: int | None, latest_text: str) -> None:
        super().__init__()
        self.conn = conn
        self.items = items
        self.latest_seq = latest_seq
        self.latest_text = latest_text
        self.latest_at = _parse_at(latest_text) if latest_text else None
        self.pending: dict[str, FirstRecord] = {}
        self.pending_shas: dict[str, str] = {}
        self._at_text = ""
        self._at: datetime | None = None

    def first(self, item: str) -> FirstRecord | None:
        if item in self.pending:
            return self.pending[item]
        if item == f"E-{self.items + 1:04d}":
            # Every item indexed is E-0001 … E-<items> (an id out of order stops the check), so
            # the next id was never added: no need to ask the database.
            return None
        row = self.conn.execute("SELECT seq, size, digests FROM items WHERE id = ?", (item,)).fetchone()
        return None if row is None else FirstRecord(row[0], row[1], json.loads(row[2]))

    def owner_of(self, sha: str) -> str | None:
        if sha in self.pending_shas:
            return self.pending_shas[sha]
        row = self.conn.execute("SELECT item FROM shas WHERE sha = ?", (sha,)).fetchone()
        return None if row is None else str(row[0])

    def count(self) -> int:
        return self.items

    def add_first(self, item: str, record: FirstRecord) -> None:
        self.pending[item] = record
        self.items += 1

    def add_sha(self, sha: str, item: str) -> None:
        self.pending_shas[sha] = item

    def remember(self, e: Entry) -> None:
        """What :class:`MeaningChecker` records for an entry, without judging it."""
        if e.at != self._at_text:  # the entries of one append share their time: parsed once
            self._at_text, self._at = e.at, _parse_at(e.at)
        at = self._at
        if at is not None and (self.latest_at is None or at > self.latest_at):
            self.latest_seq, self.latest_text, self.latest_at = e.seq, e.at, at
        if e.event == "added" and isinstance(e.item, str) and e.item not in self.pending:
            digests = e.data["digests"]
            self.pending_shas.setdefault(digests["sha256"], e.item)
            self.add_first(e.item, FirstRecord(e.seq, e.data["size"], dict(digests)))

    def flush(self) -> None:
        self.conn.executemany("INSERT INTO items(id, seq, size, digests) VALUES (?, ?, ?, ?)",
                              [(item, r.seq, r.size, _digests_json(r.digests)) for item, r in self.pending.items()])
        self.conn.executemany("INSERT INTO shas(sha, item) VALUES (?, ?)", list(self.pending_shas.items()))
        self.pending.clear()
        self.pending_shas.clear()


@dataclass
class _Feeder:
    """Checks entries one after the other (chain, canonical form, meaning) and indexes them."""

    conn: sqlite3.Connection
    state: _DbState
    seq: int
    last: str
    edge: merkle.CompactRange
    wanted: set[int]
    roots: dict[int, bytes] = field(default_factory=dict)
    sealed: list[tuple[int, tuple[int, bytes]]] = field(default_factory=list)
    rows: list[tuple[int, int, int, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.checker = MeaningChecker(self.state)

    def feed(self, raw: bytes, offset: int) -> None:
        try:
            entry, obj = decode_entry(raw)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise _Unusable from exc
        if canonical_json(obj) != raw:
            raise _Unusable
        self.feed_entry(entry, offset)

    def feed_entry(self, entry: Entry, offset: int, *, own: bool = False, digest: str | None = None,
                   leaf: bytes | None = None) -> None:
        """An entry already decoded (or just encoded by this process: canonical by construction).

        ``own``: appended by this process under the case lock after the ledger was checked, so
        the meaning rules are not applied again; only what they remember (an added item, its
        digest, the latest time) is recorded. The next full check (``verify``, or a rebuilt
        index) applies every rule to these entries like to any other. ``digest`` and ``leaf``:
        the line's SHA-256 and Merkle leaf hash when the caller worked them out already.
        """
        raw = entry.raw
        if entry.seq != self.seq + 1 or entry.prev != self.last:
            raise _Unusable
        if own:
            self.state.remember(entry)
        elif self.checker.check(entry):
            raise _Unusable
        self.seq += 1
        self.last = digest if digest is not None else hashlib.sha256(raw).hexdigest()
        merkle.compact_append(self.edge, leaf if leaf is not None else merkle.leaf_hash(raw))
        if self.seq in self.wanted:
            self.roots[self.seq] = merkle.compact_root(self.edge)
        self._keep(entry, offset)

    def _keep(self, entry: Entry, offset: int) -> None:
        """What the index keeps of an entry in sequence: its events row (written in batches) and,
        for a seal, the checkpoint it sealed."""
        if entry.event == "sealed":
            rec = sealed_checkpoint(entry)
            if rec is not None:
                self.sealed.append((entry.seq, rec))
        self.rows.append((entry.seq, offset, len(entry.raw), entry.event, entry.item if isinstance(entry.item, str) else None))
        if len(self.rows) >= EVENT_BATCH:
            self.flush()

    def feed_own(self, new: Sequence[Entry], offset: int, digests: Sequence[str], edge: merkle.CompactRange) -> int:
        """:meth:`feed_entry` with ``own`` for a whole append, in one loop (an intake appends
        10^4 entries at once): the entries this process just wrote, each line's SHA-256 in
        ``digests``, and ``edge``, the Merkle right edge the append worked out after them (not
        computed a second time). Returns the offset after the last line."""
        first = new[0].seq if new else self.seq + 1
        if any(first <= s < first + len(new) - 1 for s in self.wanted):
            raise _Unusable  # a root wanted inside the append: only feed_entry works those out
        remember, keep = self.state.remember, self._keep
        for entry, digest in zip(new, digests, strict=True):
            if entry.seq != self.seq + 1 or entry.prev != self.last:
                raise _Unusable
            remember(entry)
            self.seq, self.last = entry.seq, digest
            keep(entry, offset)
            offset += len(entry.raw) + 1
        self.edge = list(edge)
        if self.seq in self.wanted:
            self.roots[self.seq] = merkle.compact_root(self.edge)
        return offset

    def flush(self) -> None:
        self.conn.executemany("INSERT INTO events(seq, off, len, event, item) VALUES (?, ?, ?, ?, ?)", self.rows)
        self.rows.clear()
        self.state.flush()


def _lines(fd: int, start: int, end: int, *, torn_end: bool = False) -> Iterator[tuple[bytes, int]]:
    """Every complete line of the file between two offsets, with its offset; a partial end is
    unusable, or (``torn_end``: the checkpoint log's line a crash cut) left out."""
    carry = b""
    carry_at = start
    pos = start
    while pos < end:
        chunk = os.pread(fd, min(CHUNK, end - pos), pos)
        if not chunk:
            raise _Unusable  # the file shrank under us
        pos += len(chunk)
        blob = carry + chunk
        parts = blob.split(b"\n")
        carry = parts.pop()
        at = carry_at
        for line in parts:
            yield line, at
            at += len(line) + 1
        carry_at = at
    if carry and not torn_end:
        raise _Unusable  # an incomplete last line: the slow path reports it


@dataclass
class IndexedLedger:
    """A ledger checked to its end, answered from the index; :meth:`Ledger.append` extends it."""

    index: LedgerIndex
    size: int
    byte_length: int
    last_digest: str
    edge: merkle.CompactRange
    items: int
    stat: FileStat

    def root(self) -> bytes:
        return merkle.compact_root(self.edge)

    def item_for_sha(self, sha: str) -> str | None:
        """The item first added with this content; its ``added`` line is read back to confirm it,
        so that an index edited on its own cannot make ``add`` record a false re-collection."""
        row = self.index.conn.execute(
            "SELECT s.item, e.seq, e.off, e.len FROM shas s JOIN items i ON i.id = s.item "
            "JOIN events e ON e.seq = i.seq WHERE s.sha = ?", (sha,)).fetchone()
        if row is None:
            return None
        (entry,) = self.index.read_entries([(row[1], row[2], row[3])])
        digests = entry.data.get("digests")
        if entry.event != "added" or entry.item != row[0] or not isinstance(digests, dict) or digests.get("sha256") != sha:
            raise self.index.disagrees()
        return str(row[0])

    def items_for_shas(self, shas: Sequence[str]) -> dict[str, str]:
        """:meth:`item_for_sha` for many digests at once (an intake of 10^4 files asks once per
        few hundred, not once per file); only digests already added are in the answer."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(shas))
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            rows = self.index.conn.execute(
                f"SELECT sha FROM shas WHERE sha IN ({','.join('?' * len(part))})", part).fetchall()  # noqa: S608
            for (sha,) in rows:
                item = self.item_for_sha(str(sha))  # its added line read back and compared
                if item is not None:
                    found[str(sha)] = item
        return found

    def has_item(self, item: str) -> bool:
        return self.index.conn.execute("SELECT 1 FROM items WHERE id = ?", (item,)).fetchone() is not None

    def entries_of(self, item: str) -> list[Entry]:
        """Every entry naming the item, read back from the ledger file at the places indexed."""
        rows = self.index.conn.execute(
            "SELECT seq, off, len FROM events WHERE item = ? AND seq <= ? ORDER BY seq", (item, self.size)).fetchall()
        return self.index.read_entries(rows)

    def raw_lines(self) -> Iterator[bytes]:
        """Every line of the checked ledger (canonical JSON, without its newline), in order."""
        fd = os.open(self.index.ledger.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            pos, end, carry = 0, self.byte_length, b""
            while pos < end:
                chunk = os.pread(fd, min(4 * CHUNK, end - pos), pos)
                if not chunk:
                    raise self.index.disagrees()  # the file shrank under us
                pos += len(chunk)
                lines = (carry + chunk).split(b"\n")
                carry = lines.pop()
                yield from lines
            if carry:
                raise self.index.disagrees()
        finally:
            os.close(fd)

    def items_with_later_events(self) -> set[str]:
        """Items named by more than their ``added`` entry (usually few)."""
        rows = self.index.conn.execute(
            "SELECT item FROM events WHERE item IS NOT NULL AND seq <= ? GROUP BY item HAVING count(*) > 1", (self.size,))
        return {str(r[0]) for r in rows}

    def sealed_entries(self) -> list[Entry]:
        rows = self.index.conn.execute(
            "SELECT seq, off, len FROM events WHERE event = 'sealed' AND seq <= ? ORDER BY seq", (self.size,)).fetchall()
        return self.index.read_entries(rows)


class LedgerIndex:
    """Opens, checks and extends the index of one ledger. Every failure means: read the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.path = ledger.path.parent / INDEX_FILE
        self._conn: sqlite3.Connection | None = None

    # -- the database ------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            os.close(fd)
        elif self.path.is_symlink() or not self.path.is_file():
            raise _Unusable
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA_SQL)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _discard(self) -> None:
        """A damaged index file is only a lost cache: remove it, the next command rebuilds it."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except OSError:
                pass

    def disagrees(self) -> LedgerDamaged:
        """The index points at lines that are not what it recorded: drop it (it is only a cache)."""
        self._discard()
        return LedgerDamaged(
            _("the ledger index {path} does not match the ledger, so it was removed; run the command again "
              "(it is rebuilt from the ledger), and 'plitool verify' to check the ledger").format(path=self.path))

    def read_entries(self, rows: Sequence[tuple[int, int, int]]) -> list[Entry]:
        """Entries read back from the ledger at indexed places (each line must be the entry indexed)."""
        out = []
        try:
            fd = os.open(self.ledger.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise StorageError(_("cannot read the ledger {path}: {reason}").format(
                path=self.ledger.path, reason=exc.strerror)) from exc
        try:
            for seq, off, length in rows:
                raw = os.pread(fd, length, off)
                try:
                    entry = decode_entry(raw)[0]
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    entry = None
                if entry is None or entry.seq != seq:
                    raise self.disagrees()
                out.append(entry)
        finally:
            os.close(fd)
        return out

    # -- checking ----------------------------------------------------------------------------

    def open_checked(self, *, checkpoints: bool = True) -> IndexedLedger | None:
        """The ledger checked up to its end (cheaply when the index vouches for its prefix), or
        None when it is not healthy or the index cannot be used: the caller then reads it whole.

        ``checkpoints=False`` is for commands that only read (``show``, ``list``, ``log``): they
        answer the same whether or not a checkpoint file was tampered with (none of them ever
        refused or warned for it; ``verify`` reports it), so they skip the one ``lstat`` per
        checkpoint file and leave the checkpoint files' recorded state alone; the ledger's own
        checks (its identity, the chain, canonical form and meaning of new entries, seals) stay.
        The next command that appends still checks every checkpoint file that moved."""
        for attempt in (1, 2):
            try:
                return self._sync(checkpoints)
            except _Unusable:
                return None
            except LedgerDamaged:
                raise  # the checkpoint log lost checkpoints already checked: refused, not re-checked
            except (sqlite3.DatabaseError, ValueError, json.JSONDecodeError, KeyError, TypeError):
                if attempt == 2:
                    return None
                self._discard()
            except (OSError, PlitoolError, sqlite3.Error):
                return None
        return None

    # -- the checkpoint files ---------------------------------------------------------------

    def _list_checkpoints(self) -> dict[str, CpIdent]:
        """Every checkpoint file's name and identity: one directory listing and one ``lstat`` per
        file, nothing read. Anything but a regular file under a checkpoint's name is unusable
        (the full check reports it)."""
        out: dict[str, CpIdent] = {}
        try:
            listing = os.scandir(self.ledger.checkpoints_dir)
        except FileNotFoundError:
            return out
        except OSError as exc:
            raise _Unusable from exc
        with listing:
            for entry in listing:
                name = entry.name
                if len(name) != 14 or not CHECKPOINT_RE.match(name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    raise _Unusable from exc
                if not stat_mod.S_ISREG(st.st_mode):
                    raise _Unusable
                out[name] = _cp_ident(st)
        return out

    def _read_checkpoint(self, name: str) -> tuple[int, bytes, CpIdent]:
        """One checkpoint file's size, root and identity (taken from the descriptor it is read
        through, so a write after the read changes the identity the next command sees)."""
        path = os.path.join(self.ledger.checkpoints_dir, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise _Unusable from exc
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise _Unusable
            data = b""
            while len(data) <= CHECKPOINT_MAX:
                chunk = os.read(fd, CHECKPOINT_MAX + 1 - len(data))
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise _Unusable from exc
        finally:
            os.close(fd)
        if len(data) > CHECKPOINT_MAX:
            raise _Unusable
        try:
            cp = Checkpoint.parse(data.decode("ascii"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Unusable from exc
        match = CHECKPOINT_RE.match(name)
        if cp.origin != self.ledger.origin or match is None or int(match.group(1)) != cp.size:
            raise _Unusable
        return cp.size, cp.root, _cp_ident(st)

    # -- the checkpoint log --------------------------------------------------------------------

    def _log_ident(self) -> CpIdent | None:
        """The checkpoint log's identity (one ``lstat``), None when there is none."""
        try:
            st = os.lstat(self.ledger.log_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Unusable from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise _Unusable  # a FIFO, a link …: the full check reports it
        return _cp_ident(st)

    def _open_log(self) -> tuple[int, CpIdent] | None:
        try:
            fd = os.open(self.ledger.log_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Unusable from exc
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise _Unusable from exc
        if not stat_mod.S_ISREG(st.st_mode):
            os.close(fd)
            raise _Unusable
        return fd, _cp_ident(st)

    def _check_log(self, state: _LogState | None) -> tuple[_LogState, list[tuple[int, bytes]]]:
        """The checkpoint log's new state, and the checkpoints on the lines read (to be checked
        against the ledger by the caller). ``state`` None: nothing was recorded, read it whole."""
        opened = self._open_log()
        if opened is None:
            if state is not None and state.ident is not None:
                raise self._log_lost(state)
            return _LogState(), []
        fd, now = opened
        try:
            if state is not None and state.ident == now and not state.racy:
                return state, []
            if state is not None and state.ident is not None and now[0] == state.ident[0] \
                    and now[1] >= state.ident[1] and _hash_log(fd, 0, state.checked, b"")[1] == state.digest:
                return self._read_log_lines(fd, state, now)  # the same file, grown: its new lines only
            fresh, cps = self._read_log_lines(fd, _LogState(), now)
        finally:
            os.close(fd)
        if state is not None and state.last is not None:
            sizes = {size for size, _root in cps}
            if state.last[0] not in sizes or sum(1 for size in sizes if size <= state.last[0]) < state.count:
                raise self._log_lost(state)
        return fresh, cps

    def _log_lost(self, state: _LogState) -> LedgerDamaged:
        last = state.last[0] if state.last is not None else 0
        return LedgerDamaged(
            ngettext("the checkpoint log {path} no longer holds the {n} checkpoint it held when it was last checked "
                     "(checkpoint {size}): it was cut short, replaced or deleted, so nothing more is appended to the "
                     "ledger; run 'plitool verify' for the full report",
                     "the checkpoint log {path} no longer holds the {n} checkpoints it held when it was last checked "
                     "(up to checkpoint {size}): it was cut short, replaced or deleted, so nothing more is appended to "
                     "the ledger; run 'plitool verify' for the full report", state.count).format(
                path=self.ledger.log_path, n=state.count, size=last))

    def _read_log_lines(self, fd: int, state: _LogState, now: CpIdent) -> tuple[_LogState, list[tuple[int, bytes]]]:
        """Parse the complete lines after ``state.checked`` (the header first when that is 0) and
        hash them on; a final line without its newline is left for later, torn lines are skipped.
        Anything malformed is unusable: the full check reports it with its line number."""
        cps: list[tuple[int, bytes]] = []
        previous = state.last[0] if state.last is not None else 0
        header = state.checked == 0
        end = state.checked
        for raw, off in _lines(fd, state.checked, now[1], torn_end=True):
            end = off + len(raw) + 1
            if header:
                if log_header_problem(raw, self.ledger.origin, self.ledger.log_path.name) is not None:
                    raise _Unusable
                header = False
                continue
            try:
                parsed = parse_log_line(raw)
            except ValueError as exc:
                raise _Unusable from exc
            if parsed is None:
                continue
            if parsed[0] <= previous:
                raise _Unusable
            previous = parsed[0]
            cps.append(parsed)
        boundary = state.checked - state.checked % LOG_BLOCK
        chain, digest = _hash_log(fd, boundary, end, state.chain)
        last = cps[-1] if cps else state.last
        return _LogState(now, end, chain, digest, state.count + len(cps), last,
                         not _settled(now, time.time_ns())), cps

    def _read_back(self, state: _LogState, written: LogWrite | None, checkpoint: Checkpoint) -> _LogState:
        """After this process appended ``checkpoint``'s line: the log must be the file checked plus
        that line (and the newline ending a torn line before it, if any); its new state."""
        if written is None or written.line != log_line(checkpoint) or written.before != state.ident:
            raise _Unusable
        opened = self._open_log()
        if opened is None:
            raise _Unusable
        fd, now = opened
        try:
            if now != written.after:
                raise _Unusable  # written to since: the next command checks it the careful way
            fresh, cps = self._read_log_lines(fd, state, now)
        finally:
            os.close(fd)
        if cps != [(checkpoint.size, checkpoint.root)]:
            raise _Unusable
        return fresh

    def _known_roots(self, sizes: Sequence[int]) -> dict[int, bytes]:
        """The roots the index checked at these ledger sizes (only those asked for: never all)."""
        out: dict[int, bytes] = {}
        unique = sorted(set(sizes))
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            rows = self.conn.execute(
                f"SELECT size, root FROM checkpoints WHERE size IN ({','.join('?' * len(part))})", part)  # noqa: S608
            out.update((int(size), bytes(root)) for size, root in rows)
        return out

    def _racy_still_good(self, racy: Sequence[str], files: dict[str, CpIdent]) -> bool:
        """Checkpoint files written too recently for their identity to be trusted are read again:
        True when each still holds the root checked and has not settled yet (nothing to record)."""
        read = {name: self._read_checkpoint(name) for name in racy if name in files}
        if len(read) != len(racy):
            return False
        known = self._known_roots([size for size, _root, _ident in read.values()])
        now_ns = time.time_ns()
        for name, (size, root, ident) in read.items():
            if known.get(size) != root:
                raise _Unusable  # another root than the one checked: the full check reports it
            if ident != files[name] or _settled(ident, now_ns):
                return False  # changed (read it the careful way) or settled (record it)
        return True

    # -- checking ----------------------------------------------------------------------------

    _HEAD = ("SELECT schema, origin, dev, ino, bytes, mtime_ns, ctime_ns, entries, last, edge, "
             "latest_seq, latest_text, items, cp_digest, cp_racy, cp_log FROM head WHERE id = 1")

    def _sync(self, checkpoints: bool = True) -> IndexedLedger:
        files = self._list_checkpoints() if checkpoints else None
        fd = os.open(self.ledger.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                raise _Unusable
            now = _file_stat(st)
            conn = self.conn
            head = conn.execute(self._HEAD).fetchone()
            if files is None:
                if self._usable(head) and tuple(head[2:7]) == now and _fine_times(now):
                    return IndexedLedger(self, head[7], head[4], head[8], merkle.compact_unpack(head[9]), head[12], now)
                if not (self._usable(head) and head[2:4] == now[:2] and now[2] >= head[4]):
                    files = self._list_checkpoints()  # a rebuild checks everything, checkpoints included
            digest = format(_cp_digest(files), "x") if files is not None else ""
            log = _LogState.loads(head[15]) if files is not None and self._usable(head) else None
            if files is not None and log is not None and tuple(head[2:7]) == now and _fine_times(now) \
                    and head[13] == digest and (files or log.count or not head[7]) \
                    and log.ident == self._log_ident() and not log.racy:
                racy = json.loads(head[14])
                if not racy or self._racy_still_good(racy, files):
                    # The ledger is the file checked and no checkpoint file moved: nothing to read.
                    return IndexedLedger(self, head[7], head[4], head[8], merkle.compact_unpack(head[9]), head[12], now)
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = conn.execute(self._HEAD).fetchone()  # another command may have moved it meanwhile
                if self._usable(head) and head[2:4] == now[:2] and now[2] >= head[4]:
                    view = self._extend(fd, now, head, files, digest)
                else:
                    view = self._rebuild(fd, now, files if files is not None else self._list_checkpoints())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return view
        finally:
            os.close(fd)

    def _usable(self, head: tuple[Any, ...] | None) -> bool:
        return head is not None and head[0] == SCHEMA and head[1] == self.ledger.origin

    def _extend(self, fd: int, now: FileStat, head: tuple[Any, ...], files: dict[str, CpIdent] | None,
                digest: str) -> IndexedLedger:
        """Check what changed since the recorded state: the checkpoint files whose identity moved
        (read and compared with the roots checked), then the entries appended. The recorded
        prefix is re-hashed (no parsing) only when the ledger file itself is not the one checked,
        or a checkpoint names a size whose root the index never recorded. ``files`` None: the
        checkpoint files are left for the next command that appends (see :meth:`open_checked`)."""
        size, length, last, edge_blob = head[7], head[4], head[8], head[9]
        if files is None:
            return self._extend_ledger_only(fd, now, head)
        racy = set(json.loads(head[14])) & files.keys()
        if head[13] == digest:
            recorded: dict[str, CpIdent] | None = None  # the same files as recorded; only the racy ones to read
            changed = set(racy)
        else:
            recorded = {str(r[0]): (r[1], r[2], r[3], r[4]) for r in
                        self.conn.execute("SELECT name, ino, bytes, mtime_ns, ctime_ns FROM cpfiles")}
            changed = {name for name, ident in files.items() if recorded.get(name) != ident} | racy
        read = {name: self._read_checkpoint(name) for name in sorted(changed)}
        log, log_cps = self._check_log(_LogState.loads(head[15]))
        cps = [(cp_size, root) for cp_size, root, _ident in read.values()] + log_cps
        known = self._known_roots([s for s, _r in cps if s <= size])
        edge = merkle.compact_unpack(edge_blob)
        roots: dict[int, bytes] = {}
        prefix_trusted = tuple(head[2:7]) == now and _fine_times(now)
        if not prefix_trusted or any(s <= size and s not in known for s, _r in cps):
            wanted = {s for s, _r in cps if s <= size}
            edge, count, previous = [], 0, b""
            for raw, _off in _lines(fd, 0, length):
                count += 1
                merkle.compact_append(edge, merkle.leaf_hash(raw))
                if count in wanted:
                    roots[count] = merkle.compact_root(edge)
                previous = raw
            if count != size or merkle.compact_root(edge) != merkle.compact_root(merkle.compact_unpack(edge_blob)) or \
                    (hashlib.sha256(previous).hexdigest() if count else GENESIS) != last:
                raise _Unusable  # the prefix is not the one checked: read the whole ledger
        state = _DbState(self.conn, head[12], head[10], head[11])
        feeder = _Feeder(self.conn, state, size, last, edge, {s for s, _r in cps}, roots)
        for raw, off in _lines(fd, length, now[2]):
            feeder.feed(raw, off)
        feeder.flush()
        self._check_roots(feeder, cps, known, bool(files) or log.count > 0)
        removed = [] if recorded is None else sorted(recorded.keys() - files.keys())
        new_digest, new_racy = self._record_files(read, removed, int(head[13], 16), recorded, files)
        if recorded is not None:  # every identity is at hand: the digest from scratch, not patched
            new_digest = _cp_digest({**files, **{name: ident for name, (_s, _r, ident) in read.items()}})
        return self._store_head(feeder, now, new_digest, new_racy, log)

    def _extend_ledger_only(self, fd: int, now: FileStat, head: tuple[Any, ...]) -> IndexedLedger:
        size, length, last, edge_blob = head[7], head[4], head[8], head[9]
        edge = merkle.compact_unpack(edge_blob)
        if not (tuple(head[2:7]) == now and _fine_times(now)):
            edge, count, previous = [], 0, b""
            for raw, _off in _lines(fd, 0, length):
                count += 1
                merkle.compact_append(edge, merkle.leaf_hash(raw))
                previous = raw
            if count != size or merkle.compact_root(edge) != merkle.compact_root(merkle.compact_unpack(edge_blob)) or \
                    (hashlib.sha256(previous).hexdigest() if count else GENESIS) != last:
                raise _Unusable  # the prefix is not the one checked: read the whole ledger
        feeder = _Feeder(self.conn, _DbState(self.conn, head[12], head[10], head[11]), size, last, edge, set())
        for raw, off in _lines(fd, length, now[2]):
            feeder.feed(raw, off)
        feeder.flush()
        self._check_roots(feeder, [], {}, True)  # the new entries' seals
        return self._store_head(feeder, now, int(head[13], 16), json.loads(head[14]), _LogState.loads(head[15]))

    def _rebuild(self, fd: int, now: FileStat, files: dict[str, CpIdent]) -> IndexedLedger:
        conn = self.conn
        for table in ("head", "events", "items", "shas", "checkpoints", "cpfiles"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        read = {name: self._read_checkpoint(name) for name in sorted(files)}
        log, log_cps = self._check_log(None)
        cps = [(cp_size, root) for cp_size, root, _ident in read.values()] + log_cps
        feeder = _Feeder(conn, _DbState(conn, 0, None, ""), 0, GENESIS, [], {s for s, _r in cps})
        for raw, off in _lines(fd, 0, now[2]):
            feeder.feed(raw, off)
        feeder.flush()
        self._check_roots(feeder, cps, {}, bool(files) or log.count > 0)
        digest, racy = self._record_files(read, [], 0, {}, files)
        return self._store_head(feeder, now, digest, racy, log)

    def _check_roots(self, feeder: _Feeder, checkpoints: list[tuple[int, bytes]], known: dict[int, bytes],
                     any_files: bool) -> None:
        """Every checkpoint file read and every new seal names a root the ledger has at that size."""
        if feeder.seq and not any_files:
            raise _Unusable
        for size, root in checkpoints:
            have = feeder.roots.get(size, known.get(size))
            if size > feeder.seq or have != root:
                raise _Unusable
            self.conn.execute("INSERT OR REPLACE INTO checkpoints(size, root) VALUES (?, ?)", (size, root))
            known[size] = root
        sealed = [(size, root) for _seq, (size, root) in feeder.sealed if 0 < size <= feeder.seq]
        if sealed:
            known.update(self._known_roots([size for size, _root in sealed if size not in known]))
        for size, root in sealed:
            if feeder.roots.get(size, known.get(size)) != root:
                raise _Unusable  # changed under the seal, or a root we cannot tell here: the slow path decides

    def _record_files(self, read: dict[str, tuple[int, bytes, CpIdent]], removed: Sequence[str], digest: int,
                      recorded: dict[str, CpIdent] | None, files: dict[str, CpIdent]) -> tuple[int, list[str]]:
        """Record the identity of each checkpoint file just read (checked) and forget removed ones;
        the new digest, and the files not settled yet (read again by the next command)."""
        now_ns = time.time_ns()
        racy: list[str] = []
        for name in removed:
            digest -= _cp_term(name, recorded[name])  # type: ignore[index]
        if removed:
            self.conn.executemany("DELETE FROM cpfiles WHERE name = ?", [(n,) for n in removed])
        rows = []
        for name, (_size, _root, ident) in read.items():
            old = recorded.get(name) if recorded is not None else files[name]
            if old is not None:
                digest -= _cp_term(name, old)
            digest += _cp_term(name, ident)
            rows.append((name, *ident))
            if not _settled(ident, now_ns):
                racy.append(name)
        self.conn.executemany("INSERT OR REPLACE INTO cpfiles(name, ino, bytes, mtime_ns, ctime_ns) VALUES (?, ?, ?, ?, ?)", rows)
        return digest % _DIGEST_MOD, racy

    def _store_head(self, feeder: _Feeder, now: FileStat, cp_digest: int, cp_racy: list[str],
                    log: _LogState) -> IndexedLedger:
        st = feeder.state
        self.conn.execute(
            "INSERT OR REPLACE INTO head(id, schema, origin, dev, ino, bytes, mtime_ns, ctime_ns, entries, last, edge, "
            "latest_seq, latest_text, items, cp_digest, cp_racy, cp_log) "
            "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (SCHEMA, self.ledger.origin, *now, feeder.seq, feeder.last, merkle.compact_pack(feeder.edge),
             st.latest_seq, st.latest_text, st.items, format(cp_digest, "x"), json.dumps(sorted(cp_racy)),
             log.dumps()))
        return IndexedLedger(self, feeder.seq, now[2], feeder.last, list(feeder.edge), st.items, now)

    # -- after an append ---------------------------------------------------------------------

    def record_append(self, view: IndexedLedger, new: Sequence[Entry], now: FileStat, checkpoint: Checkpoint,
                      hashes: tuple[Sequence[str], Sequence[bytes]] | None = None,
                      edge: merkle.CompactRange | None = None) -> None:
        """Index entries this process just appended to ``view`` (under the case lock), and the
        checkpoint line it appended to the checkpoint log (read back: it must hold this checkpoint).

        Recorded only when the index still describes ``view``; otherwise it is left stale, and
        the next command re-checks. Never raises: the index is a shortcut, not a record.
        ``hashes``: each new line's SHA-256 and Merkle leaf, as the append worked them out;
        ``edge``: the Merkle right edge after them, as the append worked it out for the checkpoint.
        """
        line_digests, leaves = hashes if hashes is not None else ([e.digest for e in new], [e.leaf for e in new])
        try:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = conn.execute("SELECT dev, ino, bytes, mtime_ns, ctime_ns, entries, latest_seq, latest_text, items, "
                                    "cp_digest, cp_racy, cp_log FROM head WHERE id = 1").fetchone()
                if head is None or tuple(head[:5]) != view.stat or head[5] != view.size:
                    raise _Unusable
                state = _DbState(conn, head[8], head[6], head[7])
                feeder = _Feeder(conn, state, view.size, view.last_digest, list(view.edge), {checkpoint.size})
                offset = view.byte_length
                if edge is not None and hashes is not None:
                    offset = feeder.feed_own(new, offset, line_digests, edge)
                else:
                    for e, line_digest, leaf in zip(new, line_digests, leaves, strict=True):
                        feeder.feed_entry(e, offset, own=True, digest=line_digest, leaf=leaf)
                        offset += len(e.raw) + 1
                feeder.flush()
                if offset != now[2] or feeder.roots.get(checkpoint.size) != checkpoint.root:
                    raise _Unusable
                conn.execute("INSERT OR REPLACE INTO checkpoints(size, root) VALUES (?, ?)", (checkpoint.size, checkpoint.root))
                log = self._read_back(_LogState.loads(head[11]), self.ledger.last_log_write, checkpoint)
                fresh = self._store_head(feeder, now, int(head[9], 16), json.loads(head[10]), log)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except (_Unusable, sqlite3.Error, OSError, ValueError, KeyError, TypeError):
            return
        view.size, view.byte_length, view.last_digest = fresh.size, fresh.byte_length, fresh.last_digest
        view.edge, view.items, view.stat = fresh.edge, fresh.items, fresh.stat
