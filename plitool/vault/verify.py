"""``verify``: re-hash every object, check the ledger chain, the checkpoints and the store."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case import Case
from ..errors import PlitoolError
from .evidence import EvidenceItem, build_items
from .hashing import ProgressCallback, describe_file_type, hash_file
from ..i18n import N_, _, ngettext
from .journal import find_leftovers
from .ledger import Entry, check_meaning, checkpoint_check
from .permissions import check_permissions, object_writable
from .store import HEX64, READ_ONLY, ObjectStore


STORED_OBJECT = N_("stored object")
ORIGINAL = N_("original (--no-copy)")


@dataclass(frozen=True)
class Problem:
    kind: str  # ledger | checkpoint | modified | missing | unexpected | reference | permissions | seal | timestamp | trust
    message: str
    item: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "item": self.item, "message": self.message}


@dataclass
class VerifyReport:
    entries: int = 0
    items: int = 0
    objects_checked: int = 0
    bytes_checked: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Trusted timestamps (issue 3): seals found, each stored token's verdict, and for each item
    #: the earliest trusted time of a sealed checkpoint that includes it.
    seals: int = 0
    timestamps: list[dict[str, Any]] = field(default_factory=list)
    trusted_times: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What no seal covers (issue 7): entries after the last sealed checkpoint and the items they
    #: add; their times rest on this machine's clock only.
    unsealed: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "items": self.items,
            "objects_checked": self.objects_checked,
            "bytes_checked": self.bytes_checked,
            "checkpoints": self.checkpoints,
            "problems": [p.as_json() for p in self.problems],
            "notes": self.notes,
            "seals": self.seals,
            "timestamps": self.timestamps,
            "trusted_times": self.trusted_times,
            "unsealed": self.unsealed,
        }


def _expected_bytes(items: dict[str, EvidenceItem]) -> int:
    return sum(it.size * (int(it.stored_copy) + len(it.references)) for it in items.values())


def verify_case(
    case: Case,
    *,
    progress: ProgressCallback | None = None,
    on_total: Callable[[int], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    with case.locked(shared=True):  # a concurrent append is not mistaken for a crash
        scan = case.ledger.scan()
        cps = checkpoint_check(case.ledger, scan.entries)
        report.checkpoints = cps.count
    report.entries = len(scan.entries)
    report.problems += [Problem("ledger", m) for m in scan.problems]
    if scan.partial_tail:
        report.problems.append(
            Problem(
                "ledger",
                _("the ledger ends with an incomplete line ({size} bytes), "
                  "left by an interrupted write; 'plitool repair' removes it (and keeps a copy)").format(
                    size=len(scan.partial_tail)),
            )
        )
    report.problems += [Problem("checkpoint", m) for m in cps.problems]
    report.problems += [Problem("ledger", p.message) for p in check_meaning(scan.entries)]

    # Objects are judged against the last intact record of them, never against an edited entry.
    items = build_items(scan.entries, altered=scan.altered | cps.altered)
    report.items = len(items)
    _check_timestamps(case, scan.entries, items, report)
    store = ObjectStore(case.paths.objects, case.paths.staging)
    if on_total is not None:
        on_total(_expected_bytes(items))
    algorithms = case.config.digests
    expected_objects: set[str] = set()
    report.problems += [Problem("permissions", p.message) for p in check_permissions(case)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="plitool-verify") as pool:
        for item in items.values():
            want = {a: d for a, d in item.digests.items() if a in algorithms}
            targets: list[tuple[str, bytes | str]] = []
            if item.stored_copy:
                expected_objects.add(item.sha256)
                targets.append((STORED_OBJECT, str(store.path_for(item.sha256))))
            targets += [(ORIGINAL, ref) for ref in item.references]
            for label, path in targets:
                shown = os.fsdecode(path)
                if not os.path.lexists(path):  # a dangling link is not "missing": it is read (and refused) below
                    kind = "missing" if label == STORED_OBJECT else "reference"
                    report.problems.append(Problem(kind, _("{item}: {label} is missing ({path})").format(
                        item=item.id, label=_(label), path=shown), item.id))
                    continue
                try:
                    result = hash_file(path, list(want), progress=progress, executor=pool)
                except PlitoolError as exc:
                    report.problems.append(Problem("modified", _("{item}: {label} cannot be read: {error}").format(
                        item=item.id, label=_(label), error=exc), item.id))
                    continue
                report.objects_checked += 1
                report.bytes_checked += result.size
                bad = [a for a, d in want.items() if result.digests.get(a) != d]
                if bad or result.size != item.size:
                    report.problems.append(
                        Problem(
                            "modified",
                            ngettext("{item}: {label} has changed ({what} no longer matches the ledger)",
                                     "{item}: {label} has changed ({what} no longer match the ledger)",
                                     max(len(bad), 1)).format(
                                item=item.id, label=_(label), what=", ".join(bad) or _("size")),
                            item.id,
                        )
                    )
                if label == STORED_OBJECT:
                    report.problems += _writable_object(item.id, path)

    _blame_the_record(items, report)
    _check_store_contents(case, store, expected_objects, report)
    return report


def _writable_object(item: str, path: bytes | str) -> list[Problem]:
    mode = object_writable(os.fsdecode(path))
    if mode is None:
        return []
    return [Problem(
        "permissions",
        _("{item}: stored object is writable (mode {mode:04o}, should be {want:04o}); "
          "'plitool repair' makes it read-only again").format(item=item, mode=mode, want=READ_ONLY),
        item,
    )]


def _in_store(store: ObjectStore, name: str, found: Path, digests: set[str] | dict[str, Any]) -> bool:
    return bool(HEX64.match(name)) and name in digests and found == store.path_for(name)


def _check_store_contents(case: Case, store: ObjectStore, expected_objects: set[str], report: VerifyReport) -> None:
    """Everything in the store must be an object the ledger records (or a live/interrupted intake's).

    The ledger was read at the start, under the lock; an ``add`` may have recorded new objects
    since. So before calling anything "unexpected", the ledger and the journals are read again
    under the lock: only what is still unaccounted for then is reported.
    """
    leftovers = find_leftovers(case.paths.staging)
    pending = {sha: lo for lo in leftovers for sha in lo.objects}
    interrupted: list[str] = []
    suspects: list[tuple[str, Path]] = []
    for name, found in store.iter_objects():
        if _in_store(store, name, found, expected_objects):
            continue
        if _in_store(store, name, found, pending):
            # linked by an intake that has not recorded it (yet): not tampering
            interrupted.append(name)
            continue
        suspects.append((name, found))
    if suspects:
        with case.locked(shared=True):
            recorded_now = {it.sha256 for it in build_items(case.ledger.scan().entries).values() if it.stored_copy}
            leftovers = find_leftovers(case.paths.staging)
        pending = {sha: lo for lo in leftovers for sha in lo.objects}
        late = 0
        for name, found in suspects:
            if _in_store(store, name, found, recorded_now):
                late += 1
                continue
            if _in_store(store, name, found, pending):
                interrupted.append(name)
                continue
            try:
                kind = describe_file_type(os.lstat(found).st_mode)
            except OSError:
                continue  # gone meanwhile (set aside by a repair): nothing to report
            what = _("a file") if kind == _("not a regular file") else kind
            report.problems.append(Problem(
                "unexpected",
                _("unexpected {what} in the store, not recorded in the ledger: {path}").format(what=what, path=found),
            ))
        if late:
            report.notes.append(ngettext(
                "{n} object was recorded by another command while verify ran; it is checked next time",
                "{n} objects were recorded by another command while verify ran; they are checked next time",
                late,
            ).format(n=late))
    for lo in leftovers:
        if lo.problem is not None and lo.journal is not None:
            report.problems.append(Problem(
                "unexpected",
                _("{path} is {kind}, not an intake journal: something other than plitool put it there").format(
                    path=os.path.relpath(lo.journal, case.root), kind=lo.problem),
            ))
    leftovers = [lo for lo in leftovers if lo.problem is None]
    running = [lo for lo in leftovers if lo.running]
    dead = [lo for lo in leftovers if not lo.running]
    if running:
        report.notes.append(ngettext("{n} intake running in this case; its files are not checked yet",
                                     "{n} intakes running in this case; their files are not checked yet",
                                     len(running)).format(n=len(running)))
    if dead:
        staged = sum(len(lo.staging) for lo in dead)
        orphans = sum(1 for sha in interrupted if not pending[sha].running)
        report.notes.append(
            _("an interrupted intake left {staged} staging file(s) and {orphans} stored object(s) the ledger "
              "never recorded; they are not evidence: 'plitool repair' sets them aside").format(
                staged=staged, orphans=orphans)
        )


def _blame_the_record(items: dict[str, EvidenceItem], report: VerifyReport) -> None:
    """An item whose only record was edited cannot be judged by it: a mismatch is the ledger's."""
    suspect = {i.id: i.record_altered for i in items.values() if i.record_altered is not None}
    if not suspect:
        return
    kept: list[Problem] = []
    for p in report.problems:
        if p.kind in ("modified", "missing") and p.item in suspect:
            kept.append(Problem("ledger", _("{item}: its only record, ledger entry #{seq}, was altered, so its stored "
                                            "bytes cannot be judged against it").format(item=p.item, seq=suspect[p.item]),
                                p.item))
        else:
            kept.append(p)
    report.problems = kept


def _check_timestamps(case: Case, entries: list[Entry], items: dict[str, EvidenceItem], report: VerifyReport) -> None:
    """Stored RFC 3161 tokens, sealed checkpoints against the ledger, trusted time per item."""
    from ..timestamps.seal import check_seals, unsealed_tail

    check = check_seals(case, entries, {i.id: i.events[0].seq for i in items.values()})
    report.seals = check.seals
    report.timestamps = check.tokens
    report.trusted_times = {k: v.as_json() for k, v in check.trusted_times.items()}
    report.problems += [Problem(kind, message) for kind, message in check.problems]
    report.notes += check.notes
    tail = unsealed_tail(entries, check.covered_size, {i.id: i.events[0].seq for i in items.values()})
    report.unsealed = tail.as_json()
