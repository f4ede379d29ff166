"""``repair``: mend the one kind of damage a crash can cause, and nothing else.

An interrupted append can leave the ledger ending in an incomplete line. ``repair`` keeps those
bytes in ``.plitool/repair/`` (nothing is lost), truncates the ledger to its last complete line
and logs a ``repaired`` event. An interrupted intake can leave staging files and objects linked
into the store that the ledger never recorded (see :mod:`plitool.vault.journal`): ``repair`` moves those
objects to ``.plitool/repair/`` and removes the staging copies (their sources are untouched).
It also brings loosened permissions back to the permissions model (``.plitool/`` and its folders
0700, the key 0600, objects 0400), which cases made before that model need; only modes change.
Any other problem (edited, deleted or reordered entries) is evidence of tampering or corruption:
``repair`` refuses and leaves the case as it is. It holds the case lock exclusively throughout and
never touches the files of an intake that is still running (its journal is locked).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .case import Case
from ..errors import LedgerDamaged, StorageError
from .evidence import build_items
from ..fsutil import atomic_write
from ..i18n import _
from .journal import find_leftovers
from .ledger import Entry, NewEvent, utc_now
from .permissions import tighten_permissions
from .store import HEX64, ObjectStore


@dataclass(frozen=True)
class RepairResult:
    repaired: bool
    truncated_bytes: int = 0
    saved_to: str | None = None
    actions: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return "; ".join(self.actions) if self.actions else _("nothing to repair")


def repair_ledger(case: Case) -> RepairResult:
    """Mend what a crash leaves: an incomplete last ledger line, an interrupted intake's files."""
    with case.locked():
        scan = case.ledger.scan()
        if scan.problems:
            raise LedgerDamaged(
                _("repair only mends what an interrupted write leaves; this ledger has other problems "
                  "({problem}); nothing changed. Restore the case from a backup.").format(problem=scan.problems[0])
            )
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        events: list[NewEvent] = []
        truncated, saved_rel = 0, None
        if scan.partial_tail:
            tail = scan.partial_tail
            saved = case.paths.repair / f"ledger-tail-{stamp}.bin"
            atomic_write(saved, tail, mode=0o444, overwrite=False)
            size = case.paths.ledger.stat().st_size
            try:
                with open(case.paths.ledger, "r+b") as fh:
                    fh.truncate(size - len(tail))
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise StorageError(_("cannot truncate the ledger: {reason}").format(reason=exc.strerror)) from exc
            scan.partial_tail = b""
            truncated, saved_rel = len(tail), str(saved.relative_to(case.root))
            events.append(
                NewEvent(
                    "repaired",
                    None,
                    {
                        "action": "removed an incomplete last line left by an interrupted write",
                        "truncated_bytes": truncated,
                        "truncated_sha256": hashlib.sha256(tail).hexdigest(),
                        "saved_to": saved_rel,
                    },
                )
            )
        events += _set_aside_interrupted_intakes(case, scan.entries, stamp)
        changed = tighten_permissions(case)
        if changed:
            events.append(NewEvent("repaired", None, {
                # ledger data stays English (it is a record, not a message); the CLI shows it as is
                "action": f"tightened the permissions of {len(changed)} path(s) to the permissions model "
                "(state folder 0700, key 0600, objects 0400)",
                "paths": changed,
            }))
        if not events:
            return RepairResult(False)
        case.ledger.append(events, scan=scan)
        actions = tuple(str(e.data["action"]) + (_(" (kept in {path})").format(path=e.data["saved_to"]) if e.data.get("saved_to") else "")
                    for e in events)
        return RepairResult(True, truncated, saved_rel, actions)


def _set_aside_interrupted_intakes(case: Case, entries: list[Entry], stamp: str) -> list[NewEvent]:
    """Move objects an interrupted intake linked but never recorded to ``repair/``; drop its temp files.

    Only intakes whose process is gone count, and only objects no ledger entry refers to: an
    intake that recorded its objects and crashed just before deleting its journal loses nothing.
    """
    recorded = {it.sha256 for it in build_items(entries).values()}
    store = ObjectStore(case.paths.objects, case.paths.staging)
    events: list[NewEvent] = []
    for leftover in find_leftovers(case.paths.staging):
        if leftover.running or leftover.problem is not None:
            continue  # a live intake's files are its own; a FIFO posing as a journal is for verify to report
        moved: list[str] = []
        for sha in leftover.objects:
            if not isinstance(sha, str) or not HEX64.match(sha):
                continue  # a journal naming something that is not a digest names nothing of ours
            obj = store.path_for(sha)
            if sha in recorded or not obj.is_file():
                continue
            dest = case.paths.repair / f"unrecorded-objects-{stamp}" / sha
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(obj, dest)
            moved.append(sha)
        for temp in leftover.staging:
            temp.unlink(missing_ok=True)
        if leftover.journal is not None:
            leftover.journal.unlink(missing_ok=True)
        data: dict[str, object] = {
            "action": f"set aside what an interrupted intake left: {len(moved)} unrecorded object(s), "
            f"{len(leftover.staging)} staging file(s) removed",
            "objects": moved,
        }
        if moved:
            data["saved_to"] = f"{case.paths.repair.relative_to(case.root)}/unrecorded-objects-{stamp}"
        events.append(NewEvent("repaired", None, data))
    return events
