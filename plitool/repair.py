"""``repair``: mend the one kind of damage a crash can cause, and nothing else.

An interrupted append can leave the ledger ending in an incomplete line. ``repair`` keeps those
bytes in ``.plitool/repair/`` (nothing is lost), truncates the ledger to its last complete line
and logs a ``repaired`` event. Any other problem (edited, deleted or reordered entries) is
evidence of tampering or corruption: ``repair`` refuses and leaves the case as it is.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .case import Case
from .errors import LedgerDamaged, StorageError
from .fsutil import atomic_write
from .ledger import NewEvent, utc_now


@dataclass(frozen=True)
class RepairResult:
    repaired: bool
    truncated_bytes: int = 0
    saved_to: str | None = None
    message: str = ""


def repair_ledger(case: Case) -> RepairResult:
    with case.locked():
        scan = case.ledger.scan()
        if scan.problems:
            raise LedgerDamaged(
                "repair only removes an incomplete last line; this ledger has other problems "
                f"({scan.problems[0]}); nothing changed. Restore the case from a backup."
            )
        if not scan.partial_tail:
            return RepairResult(False, message="the ledger has no incomplete last line; nothing to repair")
        tail = scan.partial_tail
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        saved = case.paths.repair / f"ledger-tail-{stamp}.bin"
        atomic_write(saved, tail, mode=0o444, overwrite=False)
        size = case.paths.ledger.stat().st_size
        try:
            with open(case.paths.ledger, "r+b") as fh:
                fh.truncate(size - len(tail))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StorageError(f"cannot truncate the ledger: {exc.strerror}") from exc
        scan.partial_tail = b""
        rel = str(saved.relative_to(case.root))
        case.ledger.append(
            [
                NewEvent(
                    "repaired",
                    None,
                    {
                        "action": "removed an incomplete last line left by an interrupted write",
                        "truncated_bytes": len(tail),
                        "truncated_sha256": hashlib.sha256(tail).hexdigest(),
                        "saved_to": rel,
                    },
                )
            ],
            scan=scan,
        )
        return RepairResult(True, len(tail), rel, f"removed {len(tail)} bytes; kept in {rel}")
