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

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageError
from ..i18n import _

JOURNAL_GLOB = "intake-*.json"


def _is_locked_elsewhere(path: Path) -> bool:
    """True while the intake that owns the journal still runs (it holds the lock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
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
        try:
            staging.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise StorageError(_("cannot write into {folder}: {reason}").format(folder=staging, reason=exc.strerror)) from exc
        fcntl.flock(fd, fcntl.LOCK_EX)
        journal = cls(path, ident, fd)
        journal._write({"pid": os.getpid(), "objects": []})
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


def find_leftovers(staging: Path) -> list[Leftover]:
    """Every intake journal and staging file in the case, grouped by intake."""
    if not staging.is_dir():
        return []
    files = sorted(p for p in staging.iterdir() if p.name.startswith("obj-"))
    out: list[Leftover] = []
    claimed: set[Path] = set()
    for path in sorted(staging.glob(JOURNAL_GLOB)):
        ident = path.stem.removeprefix("intake-")
        running = _is_locked_elsewhere(path)
        try:
            objects = tuple(json.loads(path.read_text("utf-8")).get("objects", []))
        except (OSError, ValueError, AttributeError):
            objects = ()  # a journal cut short by the crash named nothing it had linked yet
        mine = tuple(p for p in files if p.name.startswith(f"obj-{ident}-"))
        claimed.update(mine)
        out.append(Leftover(path, objects, mine, running))
    orphans = tuple(p for p in files if p not in claimed)
    if orphans:
        out.append(Leftover(None, (), orphans, False))
    return out
