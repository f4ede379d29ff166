"""Intake journals: what an interrupted intake left behind, and whether its process is gone.

An intake in copy mode creates ``.plitool/tmp/intake-<id>.json`` and holds an exclusive
``flock`` on it for as long as it runs; its staging files are named ``obj-<id>-…``. Just before
it links objects into the store it writes their digests into the journal, and once the ledger
records them it deletes the journal. So after a crash (or ``kill -9``):

* the staging files and any objects linked but never recorded are named by a journal;
* a journal whose lock someone else can take belongs to a process that is gone.

``verify`` reports such leftovers as notes, not as tampering, and ``repair`` sets them aside.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import PlitoolError, StorageError
from ..fsutil import read_regular_file
from ..i18n import _
from .hashing import describe_file_type

JOURNAL_GLOB = "intake-*.json"


#: A journal holds a pid and a list of digests: far below this.
JOURNAL_LIMIT = 16 * 1024 * 1024


def _open_journal(path: Path) -> int | None:
    """A descriptor on a regular journal file, or None if it is gone; never blocks, never follows links."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAJournal(_("a symbolic link")) from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotAJournal(describe_file_type(st.st_mode))
    return fd


class NotAJournal(Exception):
    """Something other than a regular file sits where a journal should be (its kind in words)."""


def _is_locked_elsewhere(path: Path) -> bool:
    """True while the intake that owns the journal still runs (it holds the lock)."""
    fd = _open_journal(path)
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return False


class IntakeJournal:
    """The journal of one running intake; create it with :meth:`start`."""

    def __init__(self, path: Path, ident: str, fd: int) -> None:
        self.path = path
        self.id = ident
        self._fd = fd
        self._objects_recorded = False

    @classmethod
    def start(cls, staging: Path) -> IntakeJournal:
        ident = secrets.token_hex(6)
        path = staging / f"intake-{ident}.json"
        # Made under another name, locked and filled, then renamed into place: a journal is never
        # visible unlocked, so a concurrent 'repair' cannot take a starting intake for a dead one.
        pending = staging / f".intake-{ident}.new"
        try:
            staging.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageError(_("cannot write into {folder}: {reason}").format(folder=staging, reason=exc.strerror)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            journal = cls(path, ident, fd)
            journal._write({"pid": os.getpid(), "objects": []})
            os.rename(pending, path)
        except BaseException:
            os.close(fd)
            pending.unlink(missing_ok=True)
            raise
        return journal

    @property
    def staging_prefix(self) -> str:
        return f"obj-{self.id}-"

    def _write(self, content: dict[str, object]) -> None:
        data = json.dumps(content).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def record_objects(self, sha256s: list[str]) -> None:
        """Name the objects about to be linked into the store, durably, before linking them."""
        self._write({"pid": os.getpid(), "objects": sha256s})
        self._objects_recorded = True

    def finish(self) -> None:
        """The ledger records everything: the journal has nothing left to say."""
        self.path.unlink(missing_ok=True)
        os.close(self._fd)

    def abandon(self) -> None:
        """A failure: keep the journal only if objects may have been linked without a record."""
        if not self._objects_recorded:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)


@dataclass(frozen=True)
class Leftover:
    """What one intake left in the case: its journal, the objects it named, its staging files."""

    journal: Path | None
    objects: tuple[str, ...]
    staging: tuple[Path, ...]
    running: bool
    #: Set when the "journal" is not a regular file (a FIFO, a link…): tampering, never touched.
    problem: str | None = None


def find_leftovers(staging: Path) -> list[Leftover]:
    """Every intake journal and staging file in the case, grouped by intake."""
    if not staging.is_dir():
        return []
    files = sorted(p for p in staging.iterdir() if p.name.startswith("obj-"))
    out: list[Leftover] = []
    claimed: set[Path] = set()
    for path in sorted(staging.glob(JOURNAL_GLOB)):
        ident = path.stem.removeprefix("intake-")
        mine = tuple(p for p in files if p.name.startswith(f"obj-{ident}-"))
        claimed.update(mine)
        try:
            running = _is_locked_elsewhere(path)
        except NotAJournal as exc:
            out.append(Leftover(path, (), mine, True, problem=str(exc)))
            continue
        except OSError:
            running = False
        try:
            objects = tuple(json.loads(read_regular_file(path, JOURNAL_LIMIT)).get("objects", []))
        except (PlitoolError, OSError, ValueError, AttributeError):
            objects = ()  # a journal cut short by the crash named nothing it had linked yet
        out.append(Leftover(path, objects, mine, running))
    orphans = tuple(p for p in files if p not in claimed)
    if orphans:
        out.append(Leftover(None, (), orphans, False))
    return out
