"""Adding evidence: walk, hash and copy in one pass, then record custody under the case lock.

Order of work, chosen so that a crash or a second process never corrupts the case:

1. every input is checked before any byte is read (missing paths, directories without ``-r``);
2. each file is read once: every digest is computed and the bytes are written to a staging file
   inside the case; a file whose size or mtime moves meanwhile is refused;
3. the file system is synced once, staged files are linked into the read-only store;
4. under the case lock, ids are assigned and the custody events appended (one write, one fsync),
   then a checkpoint is written.

Any failure before step 4 deletes the staged files and records nothing.
"""

from __future__ import annotations

import gc
import os
import platform
import socket
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import __version__
from .case import Case
from ..errors import InputNotFound, IsADirectoryWithoutRecursion, SourceChanged, UnreadableInput, UsageError
from .evidence import build_items, item_id, path_record
from ..fsutil import sync_filesystem
from .hashing import HashResult, ProgressCallback, describe_file_type, hash_file, hash_small_file
from ..i18n import _
from .journal import IntakeJournal
from .index import IndexedLedger
from .ledger import DataTemplate, NewEvent, iso_utc, utc_now
from .store import ObjectStore
from .times import check_collection_time, read_in_zone

if TYPE_CHECKING:  # started (and imported) only for a file that is not small: see _LazyPool
    from concurrent.futures import ThreadPoolExecutor

#: Tags naming the legal elements an item supports (legal-basis.md §2); free tags are allowed.
ELEMENT_TAGS = ("processing", "unlawful", "harm", "causation", "fault", "amount")


@dataclass(frozen=True)
class IntakeOptions:
    recursive: bool = False
    hidden: bool = False
    copy: bool = True
    source: str | None = None
    collected_by: str | None = None
    collected_at: datetime | None = None
    method: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class IntakePlan:
    files: list[bytes]
    skipped: list[Skipped]
    total_bytes: int


@dataclass(frozen=True)
class IntakeResult:
    item: str
    event: str  # "added" or "re-collected"
    path: str
    size: int
    digests: dict[str, str]


@dataclass
class IntakeReport:
    results: list[IntakeResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checkpoint_size: int = 0


def _display(path: bytes) -> str:
    return path.decode("utf-8", "replace")


def _is_hidden(name: bytes) -> bool:
    return name.startswith(b".")


class _OwnFiles:
    """The case's own files, which are never evidence: everything under ``.plitool/`` and ``case.toml``.

    One rule for every path ``add`` (and ``scan``, which adds first) is given: a path named
    explicitly is refused (exit 2, nothing added); met while walking a folder, it is skipped
    with a note. Paths are resolved (links, ``..``) and folders compared by identity, so no
    spelling of the path gets round it.
    """

    def __init__(self, case: Case | None) -> None:
        self.state = os.path.realpath(case.paths.state) if case else None
        self.case_file = os.path.realpath(case.paths.case_file) if case else None
        self.ids: dict[tuple[int, int], str] = {}
        if case is not None:
            for path, reason in ((case.paths.state, _("the case's own {name} folder: never evidence")),
                                 (case.paths.case_file, _("the case's own {name}: never evidence"))):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                self.ids[(st.st_dev, st.st_ino)] = reason.format(name=path.name)

    def refuse_named(self, p: bytes) -> None:
        if self.state is None:
            return
        real = os.path.realpath(os.fsdecode(p))
        if real == self.case_file or real == self.state or real.startswith(self.state + os.sep):
            raise UsageError(
                _("{path} is one of plitool's own files (the case's .plitool/ folder or its case.toml), "
                  "never evidence; nothing was added").format(path=_display(p))
            )


def _not_regular(st: os.stat_result) -> str:
    return _("{kind}: not a regular file").format(kind=describe_file_type(st.st_mode))


def plan_intake(paths: Sequence[str | os.PathLike[str]], options: IntakeOptions, case: Case | None = None) -> IntakePlan:
    """Resolve the inputs into a sorted list of regular files; fail before any work."""
    if not paths:
        raise UsageError(_("name at least one file or folder to add"))
    own = _OwnFiles(case)
    files: list[bytes] = []
    skipped: list[Skipped] = []
    total = 0
    seen: set[tuple[int, int]] = set()

    def take(p: bytes, st: os.stat_result) -> None:
        nonlocal total
        identity = (st.st_dev, st.st_ino)  # the same file named twice (or hard-linked) is read once
        if identity in seen:
            return
        seen.add(identity)
        files.append(p)
        total += st.st_size

    for raw in paths:
        own.refuse_named(os.fsencode(raw))
    for raw in paths:
        p = os.path.abspath(os.fsencode(raw))
        try:
            st = os.lstat(p)
        except FileNotFoundError as exc:
            raise InputNotFound(_("no such file or folder: {path}").format(path=_display(p))) from exc
        except OSError as exc:
            raise UnreadableInput(_("cannot look at {path}: {reason}").format(path=_display(p), reason=exc.strerror)) from exc
        if stat.S_ISLNK(st.st_mode):
            skipped.append(Skipped(_display(p), _("symbolic link (not followed)")))
        elif stat.S_ISDIR(st.st_mode):
            if not options.recursive:
                raise IsADirectoryWithoutRecursion(_("{path} is a folder: use -r to add what it holds").format(path=_display(p)))
            for fp, fst in _walk(p, options.hidden, skipped, own):
                take(fp, fst)
        elif stat.S_ISREG(st.st_mode):
            take(p, st)
        else:
            skipped.append(Skipped(_display(p), _not_regular(st)))
    return IntakePlan(files, skipped, total)


def _walk(top: bytes, hidden: bool, skipped: list[Skipped], own: _OwnFiles):  # type: ignore[no-untyped-def]
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError as exc:
        raise UnreadableInput(_("cannot list {path}: {reason}").format(path=_display(top), reason=exc.strerror)) from exc
    own_ids = own.ids  # runs once per file of a folder of 10^5: the checks inline, regular files first
    for entry in entries:
        path = entry.path
        try:
            est = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise UnreadableInput(_("cannot look at {path}: {reason}").format(path=_display(path), reason=exc.strerror)) from exc
        reason = own_ids.get((est.st_dev, est.st_ino)) if own_ids else None
        if reason is not None:
            skipped.append(Skipped(_display(path), reason))
            continue
        if not hidden and _is_hidden(entry.name):
            skipped.append(Skipped(_display(path), _("hidden (use --hidden)")))
            continue
        mode = est.st_mode
        if stat.S_ISREG(mode):
            yield path, est
        elif stat.S_ISLNK(mode):
            skipped.append(Skipped(_display(path), _("symbolic link (not followed)")))
        elif stat.S_ISDIR(mode):
            yield from _walk(path, hidden, skipped, own)
        else:
            skipped.append(Skipped(_display(path), _not_regular(est)))


def _tool_record() -> dict[str, str]:
    return {"name": "plitool", "version": __version__, "python": platform.python_version()}


def _local_offset(moment: datetime) -> str:
    """The UTC offset the moment was stated in (its own), else this machine's local offset."""
    off = (moment if moment.tzinfo else moment.astimezone()).strftime("%z")
    return f"{off[:3]}:{off[3:]}" if off else "+00:00"


def add_evidence(
    case: Case,
    paths: Sequence[str | os.PathLike[str]],
    options: IntakeOptions,
    *,
    progress: ProgressCallback | None = None,
    on_plan: Callable[[IntakePlan], None] | None = None,
) -> IntakeReport:
    """Hash, store and record the given files; returns what was added or re-collected."""
    with cyclic_gc_paused():
        return _add_evidence(case, paths, options, progress=progress, on_plan=on_plan)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the length of an intake, then resumed as it
    was, whatever happens. An intake of 10^4 – 10^5 files builds a few records per file that
    hold no reference cycles (reference counting frees them as before), but every full
    collection walks all of them again: about a tenth of ``add -r``'s CPU for 10^4 small files.
    Cycles made meanwhile (an exception's traceback) wait for the collector's next pass."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _add_evidence(
    case: Case,
    paths: Sequence[str | os.PathLike[str]],
    options: IntakeOptions,
    *,
    progress: ProgressCallback | None,
    on_plan: Callable[[IntakePlan], None] | None,
) -> IntakeReport:
    algorithms = case.config.digests  # validated (and SM3 checked) before any work
    if options.collected_at is not None:  # an impossible time is refused before any byte is read
        stated = read_in_zone(options.collected_at, case.config.zone)
        check_collection_time(stated, utc_now())
        options = replace(options, collected_at=stated)
    case.ledger.checked()  # fail before reading gigabytes, not after
    plan = plan_intake(paths, options, case)
    if on_plan is not None:
        on_plan(plan)
    report = IntakeReport(skipped=list(plan.skipped))
    store = ObjectStore(case.paths.objects, case.paths.staging)
    intake_at = utc_now()

    journal = IntakeJournal.start(case.paths.staging) if options.copy and plan.files else None
    try:
        hashed = _hash_and_store(case, store, plan, algorithms, journal, progress)
        _record(case, hashed, options, intake_at, report)
    except BaseException:
        if journal is not None:
            journal.abandon()
        raise
    if journal is not None:
        journal.finish()
    return report


class _LazyPool:
    """The worker thread that :func:`hash_stream` hashes large files with, started (and
    ``concurrent.futures`` imported) only when a file is not small: an intake of screenshots
    never needs it."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None

    def get(self) -> ThreadPoolExecutor:
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plitool-hash")
        return self.pool

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def _hash_and_store(
    case: Case,
    store: ObjectStore,
    plan: IntakePlan,
    algorithms: Sequence[str],
    journal: IntakeJournal | None,
    progress: ProgressCallback | None,
) -> list[tuple[bytes, HashResult]]:
    """Read each file once (copying it to staging when there is a journal), then link into the store.

    The loop runs once per file of an intake of 10^4 – 10^5 files: no pathlib, no path joined,
    staging files made and linked by name relative to the batch's open folder."""
    hashed: list[tuple[bytes, HashResult]] = []
    staged: list[str] = []  # every staging file made (names in the batch's folder), removed in all cases
    linked = 0  # staging files already moved into the store (commit removes its staging name)
    batch = store.staging_batch(journal.staging_prefix) if journal is not None else None
    small = hash_small_file
    workers = _LazyPool()
    try:
        try:
            if batch is not None:
                new_staging = batch.open
                for path in plan.files:
                    fd, name = new_staging()
                    staged.append(name)
                    try:
                        result = small(path, algorithms, fd, progress)
                        if result is None:  # a large file (or one to refuse): the streaming path
                            with os.fdopen(fd, "wb", buffering=0, closefd=False) as sink:
                                result = _hash_source(path, algorithms, sink=sink, progress=progress,
                                                      executor=workers.get())
                    finally:
                        os.close(fd)
                    hashed.append((path, result))
            else:
                for path in plan.files:
                    result = small(path, algorithms, None, progress)
                    hashed.append((path, result if result is not None else
                                   _hash_source(path, algorithms, progress=progress, executor=workers.get())))
        finally:
            workers.shutdown()
        if batch is not None and journal is not None and staged:
            sync_filesystem(case.paths.staging)
            journal.record_objects([r.digests["sha256"] for _path, r in hashed])
            commit = store.commit
            for name, (_path, result) in zip(staged, hashed, strict=True):
                commit(name, result.digests["sha256"], result.size, read_only=True, batch=batch)
                linked += 1
            sync_filesystem(case.paths.objects)
    finally:
        if batch is not None:
            for name in staged[linked:]:
                batch.remove(name)
            batch.close()
        store.close()
    return hashed


def _hash_source(path: bytes, algorithms: Sequence[str], **kwargs: Any) -> HashResult:
    """Hash one planned source; one that is gone or no longer a regular file has changed under us."""
    try:
        return hash_file(path, algorithms, **kwargs)
    except UsageError as exc:  # planned as a regular file: now missing, a FIFO, a device, a link
        try:
            now = _("it is now {kind}").format(kind=describe_file_type(os.lstat(path).st_mode))
        except OSError:
            now = _("it is gone")
        raise SourceChanged(
            _("{path} changed while it was being added ({now}); nothing was recorded").format(path=_display(path), now=now)
        ) from exc


def _record(
    case: Case, hashed: list[tuple[bytes, HashResult]], options: IntakeOptions, intake_at: datetime, report: IntakeReport
) -> None:
    """Assign ids and append the custody events under the case lock."""
    collected_at = options.collected_at or intake_at
    common = {
        "collected_at": iso_utc(collected_at),
        "collected_at_offset": _local_offset(collected_at),
        "collected_at_stated": options.collected_at is not None,
        "intake_at": iso_utc(intake_at),
        "intake_offset": _local_offset(intake_at.astimezone()),
        "collected_by": options.collected_by,
        "source": options.source,
        "method": options.method,
        "tags": list(dict.fromkeys(options.tags)),
        "note": options.note,
        "tool": _tool_record(),
        "host": socket.gethostname(),
        "stored": "copy" if options.copy else "reference",
    }
    with case.locked():
        scan = case.ledger.checked()
        by_digest: dict[str, str] = {}
        if isinstance(scan, IndexedLedger):  # the index answers for these digests: nothing else is read
            by_digest = scan.items_for_shas([r.digests["sha256"] for _p, r in hashed])
            known: Callable[[str], str | None] = by_digest.get
            next_number = scan.items + 1
        else:
            items = build_items(scan.entries)
            by_digest = {it.sha256: it.id for it in items.values()}
            known = by_digest.get
            next_number = len(items) + 1
        events: list[NewEvent] = []
        template = DataTemplate(common)  # the fields every file shares, encoded once
        for path, result in hashed:
            sha = result.digests["sha256"]
            record = path_record(path)
            own: dict[str, Any] = {
                **record,
                "size": result.size,
                "mtime": iso_utc(datetime.fromtimestamp(result.identity.mtime_ns / 1e9, timezone.utc)),
                "digests": result.digests,
            }
            data = {**own, **common}
            found = known(sha)
            if found is not None:
                ident, kind = found, "re-collected"
            else:
                ident, kind = item_id(next_number), "added"
                next_number += 1
                by_digest[sha] = ident
            events.append(NewEvent(kind, ident, data, template.encode(own)))
            report.results.append(IntakeResult(ident, kind, record["original_path"], result.size, result.digests))
            if result.size == 0:
                report.warnings.append(
                    _("{item} ({path}) is empty (0 bytes); recorded anyway: an empty file is still a fact").format(
                        item=ident, path=_display(path))
                )
        appended = case.ledger.append(events, scan=scan)
        report.checkpoint_size = appended[-1].seq if appended else (
            scan.size if isinstance(scan, IndexedLedger) else len(scan.entries))
