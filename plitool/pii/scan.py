"""Scan evidence items for personal data: the library behind ``plitool scan``.

Every file scanned is sealed evidence: a path that is not yet in the vault is added first
(:func:`resolve_targets`). The scan reads the stored bytes, never the original. Counts per kind
are always complete; the findings themselves are kept up to ``ScanOptions.limit`` per file (a
leaked list of a million rows has five million findings; the item tables, not a terminal, are
the place for those) unless ``on_finding`` asks for every one.

A file that cannot be read (corrupt, encrypted, a zip bomb, or a parser that crashes on it) is
reported by name with status ``failed`` and the rest of the batch is scanned; callers turn that
into exit code 1.

Every string a scan reports about a file (its name, locations, notes, errors) has passed through
:func:`~.mask.mask_text`: keys, header names, attachment names and parsers' messages quote data.
Raw values exist only in :attr:`Finding.raw`, shown with ``--reveal`` alone.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import CorruptDocument, DocumentProblem, InputNotFound, StorageError, UnreadableInput, UsageError
from ..i18n import _
from ..vault.evidence import EvidenceItem, build_items, get_items
from ..vault.ledger import NewEvent
from ..vault.store import stored_path  # noqa: F401  (callers import it from here too)
from .detect import CellDetector, KnownValues, Match, cell_detector, detect_text, untyped_detector
from .extract import ArchiveLimits, Batch, ExtractState, Table, TextUnit, extract, sniff_format
from .fields import KINDS, field_for_label
from .fingerprint import PREFIX_LEN, Fingerprinter
from .mask import NameMasks, mask, mask_text
from .ocr import OcrLine, OcrSettings
from .tally import Tally

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ScanOptions:
    kinds: frozenset[str] = frozenset(KINDS)
    limit: int | None = 200  # findings kept per file (None: all); counts are always complete
    password: str | None = None
    known_values: KnownValues | None = None
    archive_limits: ArchiveLimits = ArchiveLimits()
    ocr: OcrSettings = OcrSettings()


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    value: str  # normalised, or the masked pattern when partial
    raw: str  # as found: shown only with --reveal and a logged reason
    location: str
    partial: bool = False
    via: str = "pattern"
    #: Read by OCR: the page/frame, the box on it (x0, y0, x1, y1 in its pixels) and the lowest
    #: confidence (0-100) of the words the value covers. ``candidate``: below the OCR threshold,
    #: a value to check by eye, never a certain one (counted apart, never linked across files).
    page: int | None = None
    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None
    candidate: bool = False
    lines: tuple[tuple[int, int, int, int], ...] = ()  # the box on each line, when it wraps over several


@dataclass
class FileScan:
    name: str
    item: str | None
    format: str
    status: str = "scanned"  # scanned | not scanned | failed
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    partial_counts: dict[str, int] = field(default_factory=dict)
    candidate_counts: dict[str, int] = field(default_factory=dict)  # low-confidence OCR values
    findings: list[Finding] = field(default_factory=list)
    units: int = 0  # text units and table rows read
    ocr_units: int = 0  # of which paragraphs and table cells read by OCR
    text_layer: bool = True  # False: pages without any text (scanned images): nothing was read
    encoding: str | None = None
    replaced_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + sum(self.partial_counts.values()) + sum(self.candidate_counts.values())

    @property
    def truncated(self) -> bool:
        return len(self.findings) < self.total


@dataclass
class ScanReport:
    files: list[FileScan]
    added: list[str] = field(default_factory=list)  # items this scan added to the vault

    @property
    def failed(self) -> list[FileScan]:
        return [f for f in self.files if f.status == "failed"]


@dataclass(frozen=True, slots=True)
class OcrPlace:
    page: int
    box: tuple[int, int, int, int] | None
    confidence: float | None
    candidate: bool
    lines: tuple[tuple[int, int, int, int], ...] = ()


class _Recorder:
    __slots__ = ("scan", "limit", "on_finding", "counts", "partial")

    def __init__(self, scan: FileScan, limit: int | None, on_finding: Callable[[Finding], None] | None) -> None:
        self.scan = scan
        self.limit = limit
        self.on_finding = on_finding
        self.counts = scan.counts
        self.partial = scan.partial_counts

    def add(self, m: Match, location: Callable[[], str] | str, ocr: OcrPlace | None = None) -> None:
        candidate = ocr is not None and not m.partial and ocr.candidate
        bucket = self.partial if m.partial else self.scan.candidate_counts if candidate else self.counts
        bucket[m.kind] = bucket.get(m.kind, 0) + 1
        keep = self.limit is None or len(self.scan.findings) < self.limit
        if keep or self.on_finding is not None:
            where = mask_text(location if isinstance(location, str) else location())
            f = Finding(m.kind, m.value, m.raw, where, m.partial, m.via) if ocr is None else Finding(
                m.kind, m.value, m.raw, where, m.partial, "ocr" if m.via == "pattern" else f"ocr+{m.via}",
                ocr.page, ocr.box, ocr.confidence, candidate, ocr.lines if len(ocr.lines) > 1 else ())
            if keep:
                self.scan.findings.append(f)
            if self.on_finding is not None:
                self.on_finding(f)


def scan_file(
    path: Path,
    name: str,
    options: ScanOptions = ScanOptions(),
    *,
    item: str | None = None,
    progress: ProgressCallback | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> FileScan:
    """Scan one file (``name`` is its original name: it picks the format when magic bytes don't)."""
    result = _scan_file(path, name, options, item=item, progress=progress, on_finding=on_finding)
    result.name = mask_text(result.name)
    if result.error:
        # parsers name the path they were given (the store's object path, meaningless to a reader)
        # and spread their advice over several lines: one line, the file called by its name
        error = " ".join(result.error.replace(str(path), _("the file")).split())
        result.error = mask_text(error)
    result.notes = [mask_text(n) for n in result.notes]
    return result


def _scan_file(
    path: Path,
    name: str,
    options: ScanOptions,
    *,
    item: str | None,
    progress: ProgressCallback | None,
    on_finding: Callable[[Finding], None] | None,
) -> FileScan:
    try:
        fmt = sniff_format(path, name)
    except DocumentProblem as exc:
        return FileScan(name=name, item=item, format="?", status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one file's failure must never stop the batch (see _reader_failure)
        return FileScan(name=name, item=item, format="?", status="failed", error=_reader_failure(exc))
    result = FileScan(name=name, item=item, format=fmt)
    if fmt.startswith("not scanned"):
        result.status = "not scanned"
        result.format = "other"
        result.notes.append(fmt)
        return result
    state = ExtractState()
    rec = _Recorder(result, options.limit, on_finding)
    cache: dict[Any, list[Match]] = {}
    paused = fmt in STREAMED_FORMATS and gc.isenabled()
    if paused:
        gc.disable()
    try:
        if fmt == "image" and options.ocr.mode == "never":
            result.status = "not scanned"
            result.notes.append(_("not scanned: image (--ocr never)"))
            return result
        # Once the findings kept are all listed, only counts are left to make: readers that can
        # then give their values in batches, without locations (known values are searched per unit)
        may_count = on_finding is None and options.limit is not None and options.known_values is None
        tally = Tally(options.kinds, result.counts, result.partial_counts)
        for part in extract(path, fmt, state, password=options.password, limits=options.archive_limits,
                            ocr=options.ocr):
            if isinstance(part, Table):
                _scan_table(part, options.kinds, rec, result, progress, options.known_values)
            elif isinstance(part, Batch):
                for fld, texts in part.by_field.items():
                    tally.add(texts, fld)
                result.units += part.units
            else:
                _scan_unit(part, options, rec, cache)
                result.units += 1
                result.ocr_units += isinstance(part, OcrLine)
                if may_count and len(result.findings) >= options.limit:  # type: ignore[operator]
                    state.counting = True
    except DocumentProblem as exc:
        result.status = "failed"
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - see _reader_failure
        result.status = "failed"
        result.error = _reader_failure(exc)
    finally:
        if paused:
            gc.enable()
        result.encoding = state.encoding
        result.replaced_bytes = state.replaced_bytes
        result.text_layer = state.text_layer
        result.notes.extend(state.notes)
    if result.replaced_bytes:
        result.notes.append(_("{n} byte(s) could not be decoded as {encoding} and were replaced").format(
            n=result.replaced_bytes, encoding=state.encoding))
    return result


#: Formats whose readers make no reference cycles: rows and records are freed as soon as they
#: are scanned, so the cycle collector is paused while they are read (it would only walk the
#: blocks of rows held alive, again and again: about a sixth of the time of a large CSV).
STREAMED_FORMATS = frozenset({"csv", "tsv", "json", "har", "jsonl"})


def _reader_failure(exc: Exception) -> str:
    """The reason a reader gave up on one file, for that file's report.

    The readers are third-party parsers (pypdf, openpyxl, python-docx, lxml, email) fed hostile
    input: they raise classes outside their own hierarchies (pypdf's DependencyError), RecursionError,
    MemoryError, AssertionError … Whatever it is concerns this file only: the file is reported as
    failed with the exception's name and message and the batch goes on. KeyboardInterrupt and
    SystemExit are not Exceptions and still stop the scan.
    """
    detail = str(exc).strip()
    return _("not readable ({kind}: {detail})").format(kind=type(exc).__name__, detail=detail[:300]) if detail \
        else _("not readable ({kind})").format(kind=type(exc).__name__)


#: Short texts whose detection is remembered during one file's scan: a dump repeats the same
#: values (a date, a status, a city) across millions of records. Cleared when full.
CACHED_TEXT = 64
CACHE_SIZE = 1 << 16


def _scan_unit(unit: TextUnit, options: ScanOptions, rec: _Recorder, cache: dict[Any, list[Match]]) -> None:
    text = unit.text
    if len(text) <= CACHED_TEXT:
        key = (text, unit.field)
        found = cache.get(key)
        if found is None:
            found = detect_text(text, options.kinds, field=unit.field)  # never changed below: shared
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[key] = found
    else:
        found = detect_text(text, options.kinds, field=unit.field)
    if options.known_values is not None:
        known = options.known_values.search(unit.text)
        if known:
            found = merge_known(found, known, options.kinds)
    if unit.keep is not None:  # a piece of a long line: the overlap belongs to a neighbour
        lo, hi = unit.keep
        found = [m for m in found if lo <= m.start < hi]
    if isinstance(unit, OcrLine):
        threshold = options.ocr.candidate_below
        for m in found:
            where, box, conf = unit.place(m.start, len(m.raw))
            doubtful = conf is None or conf < threshold or unit.doubtful(m.kind, m.value)
            rec.add(m, where, OcrPlace(unit.page, box, conf, doubtful, unit.line_boxes(m.start, len(m.raw))))
        return
    for m in found:
        rec.add(m, unit.location)


def merge_known(found: list[Match], known: list[Match], kinds: frozenset[str]) -> list[Match]:
    """Detected values plus the known values found in the same text, each value once.

    A known value that a detector (or a key) already found at an overlapping place is the same
    finding: it is listed once, with the known form it matched (``known:md5``) when the detector
    saw it plain, so the table says how it was found.
    """
    out = list(found)
    for k in known:
        if k.kind not in kinds:
            continue
        end = k.start + len(k.raw)
        same = next((i for i, m in enumerate(out) if m.kind == k.kind and m.value == k.value
                     and m.start < end and k.start < m.start + max(len(m.raw), 1)), None)
        if same is None:
            same = next((i for i, m in enumerate(out) if m.kind == k.kind and m.value == k.value and m.via == "key"), None)
        if same is None:
            out.append(k)
        elif out[same].via in ("pattern", "key", "header", "label") and k.via != "known:plain":
            out[same] = out[same]._replace(via=k.via)
    out.sort(key=lambda m: m.start)
    return out


BLOCK_ROWS = 2048
#: Rows read at a time while the findings kept are still being listed (each cell detected on its
#: own): a small block, so that few rows are detected cell by cell past the listing's end.
LISTING_ROWS = 64


def _scan_table(table: Table, kinds: frozenset[str], rec: _Recorder, result: FileScan,
                progress: ProgressCallback | None = None, known: KnownValues | None = None) -> None:
    """The hot path: each column gets only the detector its header names.

    Rows are taken in blocks. While findings are still being listed (or every finding is asked
    for), each cell is detected and recorded with its location. After that only counts are
    needed, and a typed column is checked a block at a time (:mod:`.blocks`): one C-speed pass
    over the joined column proves every cell valid in the common case, and only the cells that
    are not (masked, malformed, oddly spaced) go through the per-cell detector.
    """
    from itertools import islice

    from .blocks import block_counter

    plain_untyped = untyped_detector(kinds)
    untyped: CellDetector = plain_untyped
    if known is not None:

        def untyped_or_known(cell: str) -> list[Match] | None:
            found = plain_untyped(cell) or []
            extra = [k for k in known.search(cell) if k.kind in kinds and not any(m.start == k.start for m in found)]
            return (found + extra) or None

        untyped = untyped_or_known

    fields = [field_for_label(h) for h in table.headers] if table.headers is not None else []
    dets = [cell_detector(f, kinds) for f in fields]
    counters = [block_counter(f, kinds) for f in fields]
    ncols = len(dets)
    locate = table.locate
    rows_iter = iter(table.rows)
    listing = True
    filling = rec.on_finding is None and rec.limit is not None  # the listing ends once full
    base = table.first_row
    done_bytes = 0
    while True:
        try:
            block = list(islice(rows_iter, LISTING_ROWS if listing and filling else BLOCK_ROWS))
        except table.errors as exc:
            raise CorruptDocument(_("not a readable {what} near row {row}: {error}").format(
                what=table.what, row=base, error=exc)) from exc
        if not block:
            break
        result.units += len(block)
        if listing:
            listing = rec.on_finding is not None or rec.limit is None or len(result.findings) < rec.limit or not ncols
        if not listing and set(map(len, block)) == {ncols}:
            for ci, col in enumerate(zip(*block, strict=True)):  # every row has ncols cells (checked above)
                det = dets[ci]
                if det is None:
                    continue
                counter = counters[ci]
                done = counter(col) if counter is not None else None
                if done is None:
                    _cells(base, col, range(len(col)), det, ci, rec, locate)
                    continue
                count, leftovers = done
                kind = fields[ci]  # a column with a block counter is typed: never None here
                if count and kind is not None:
                    rec.counts[kind] = rec.counts.get(kind, 0) + count
                if leftovers:
                    _cells(base, col, leftovers, det, ci, rec, locate)
        else:
            for i, cells in enumerate(block):
                if len(cells) > ncols:
                    dets.extend([untyped] * (len(cells) - ncols))
                    counters.extend([None] * (len(cells) - ncols))
                    fields.extend([None] * (len(cells) - ncols))
                    ncols = len(dets)
                ci = -1
                for det, cell in zip(dets, cells, strict=False):  # a short row has fewer cells than columns
                    ci += 1
                    if not cell or det is None:
                        continue
                    _record_cell(rec, det(cell), partial(locate, base + i, ci))
        base += len(block)
        if progress is not None and table.position is not None:
            pos = table.position()
            progress(max(pos - done_bytes, 0))
            done_bytes = pos


def _cells(base: int, col: Sequence[Any], indices: Any, det: Any, ci: int, rec: _Recorder,
           locate: Callable[[int, int], str]) -> None:
    for i in indices:
        cell = col[i]
        if not cell:
            continue
        _record_cell(rec, det(cell), partial(locate, base + i, ci))


def _record_cell(rec: _Recorder, res: Match | list[Match] | None, where: Callable[[], str]) -> None:
    """A cell detector's answer (nothing, one match, or several) into the recorder."""
    if res is None:
        return
    for m in (res,) if isinstance(res, Match) else res:
        rec.add(m, where)


# -- evidence items ----------------------------------------------------------------------

_ITEM_ID = re.compile(r"^(?:E-)?\d{1,9}$", re.I)


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=mask_text(path), reason=exc.strerror)) from exc
    return h.hexdigest()


def resolve_targets(case: Any, targets: Sequence[str], *, progress: ProgressCallback | None = None,
                    note: str = "added by 'plitool scan'") -> tuple[list[EvidenceItem], list[str]]:
    """Evidence ids and paths → items. A path whose content is not yet evidence is added to the
    vault first (so every file analysed is sealed), its intake carrying ``note`` (ledger data:
    English, whatever the language of the run); one already there maps to its item."""
    from ..vault.intake import IntakeOptions, add_evidence

    if not targets:
        raise UsageError(_("name at least one evidence id (E-0003) or file to scan"))
    items = build_items(case.ledger.require_healthy().entries)
    by_sha = {it.sha256: it.id for it in items.values()}
    plan: list[tuple[str, str]] = []  # ("id", E-…) or ("path", sha256 of the new file)
    new_paths: dict[str, str] = {}  # sha256 -> the first path naming that content
    for target in targets:
        if os.path.isdir(target) and not os.path.islink(target):
            raise UsageError(_("{target} is a folder: add it with 'plitool add -r {target}', then name its items")
                             .format(target=mask_text(target)))
        if os.path.lexists(target):
            if os.path.islink(target) or not os.path.isfile(target):
                # the vault does not follow links nor read devices and pipes: say so before any work
                raise UsageError(_("{target} is not a regular file (a symbolic link, device or pipe); name the file "
                                   "itself").format(target=mask_text(target)))
            sha = _sha256_file(target)
            if sha in by_sha:
                plan.append(("id", by_sha[sha]))
            else:
                new_paths.setdefault(sha, target)
                plan.append(("path", sha))
        elif _ITEM_ID.match(target.strip()):
            plan.append(("id", get_items(items, [target])[0].id))
        else:
            raise InputNotFound(_("no such file, and not an evidence id: {target}").format(target=mask_text(target)))
    added: list[str] = []
    if new_paths:
        report = add_evidence(case, list(new_paths.values()), IntakeOptions(note=note), progress=progress)
        # Results are matched by content, not by position: intake reads one file named twice once.
        for res in report.results:
            by_sha[res.digests["sha256"]] = res.item
            if res.event == "added":
                added.append(res.item)
        items = build_items(case.ledger.scan().entries)
    ids = list(dict.fromkeys(by_sha[v] if kind == "path" else v for kind, v in plan))
    return [items[i] for i in ids], added


def record_reveal(case: Any, items: Sequence[EvidenceItem], reason: str, kinds: frozenset[str]) -> None:
    """Log an ``accessed`` custody event per item before any raw value is shown."""
    if not reason or not reason.strip():
        raise UsageError(_("--reveal needs --reason TEXT (it is kept in the custody ledger)"))
    with case.locked():
        case.ledger.append([
            NewEvent("accessed", it.id, {"action": "scan --reveal", "reason": reason.strip(), "types": sorted(kinds)})
            for it in items
        ])


def scan_items(
    case: Any,
    items: Sequence[EvidenceItem],
    options: ScanOptions = ScanOptions(),
    *,
    progress: ProgressCallback | None = None,
    on_file: Callable[[EvidenceItem], None] | None = None,
    on_finding: Callable[[EvidenceItem, Finding], None] | None = None,
) -> list[FileScan]:
    """Scan each item's stored copy. ``on_finding`` is given every finding of every item as it is
    found (whatever ``options.limit`` keeps): a report of millions of findings is written from it
    without holding them (``scan --json --limit 0``)."""
    results: list[FileScan] = []
    for item in items:
        if on_file is not None:
            on_file(item)
        reported = 0

        def advance(n: int) -> None:
            nonlocal reported
            reported += n
            if progress is not None:
                progress(n)

        try:
            path = stored_path(case, item)
        except StorageError as exc:
            results.append(FileScan(name=item.name, item=item.id, format="?", status="failed", error=str(exc)))
        else:
            results.append(scan_file(path, item.name, options, item=item.id, progress=advance,
                                     on_finding=None if on_finding is None else partial(on_finding, item)))
        if progress is not None and item.size > reported:
            progress(item.size - reported)  # formats read whole (PDF, DOCX …) report at the end
    return results


# -- output records (masks and fingerprints only, unless revealed) -------------------------


def name_masks(files: Sequence[FileScan]) -> NameMasks:
    return NameMasks([f.value for s in files for f in s.findings if f.kind == "name" and not f.partial])


def finding_record(f: Finding, fp: Fingerprinter, names: NameMasks, *, reveal: bool = False) -> dict[str, Any]:
    shown = names.mask(f.value) if f.kind == "name" and not f.partial else mask(f.kind, f.value, partial=f.partial)
    record: dict[str, Any] = {
        "type": f.kind,
        "masked": shown,
        "fingerprint": fp.fingerprint(f.kind, f.value, partial=f.partial),
        "location": f.location,
        "partial": f.partial,
        "via": f.via,
    }
    if f.page is not None:  # read by OCR
        record.update({"page": f.page, "box": list(f.box) if f.box else None,
                       "confidence": None if f.confidence is None else round(f.confidence), "candidate": f.candidate})
        if f.lines:  # wrapped over several lines: the box on each
            record["line_boxes"] = [list(b) for b in f.lines]
    if reveal:
        record["value"] = f.raw
        record["normalized"] = f.value
    return record


def file_record(s: FileScan, fp: Fingerprinter, names: NameMasks, *, reveal: bool = False) -> dict[str, Any]:
    return {
        "item": s.item,
        "name": s.name,
        "format": s.format,
        "status": s.status,
        "error": s.error,
        "encoding": s.encoding,
        "replaced_bytes": s.replaced_bytes,
        "units": s.units,
        "text_layer": s.text_layer,
        "counts": dict(sorted(s.counts.items())),
        "masked_counts": dict(sorted(s.partial_counts.items())),
        "candidate_counts": dict(sorted(s.candidate_counts.items())),
        "total": s.total,
        "findings": [finding_record(f, fp, names, reveal=reveal) for f in s.findings],
        "findings_truncated": s.truncated,
        "notes": s.notes,
    }


def shared_values(files: Sequence[FileScan], fp: Fingerprinter, names: NameMasks) -> list[dict[str, Any]]:
    """Values (by fingerprint) listed in more than one file: the links between pieces of evidence.

    Only listed findings take part (``ScanOptions.limit``); partial (masked) values are left out,
    a mask being a candidate, never a match.
    """
    seen: dict[str, dict[str, Any]] = {}
    for s in files:
        for f in s.findings:
            if f.partial or f.candidate:
                continue
            key = fp.fingerprint(f.kind, f.value)
            entry = seen.setdefault(key, {"type": f.kind, "fingerprint": key, "items": [],
                                          "masked": names.mask(f.value) if f.kind == "name" else mask(f.kind, f.value)})
            label = s.item or s.name
            if label not in entry["items"]:
                entry["items"].append(label)
    return [e for e in seen.values() if len(e["items"]) > 1]


def fingerprint_prefix(fp: str) -> str:
    return fp[:PREFIX_LEN]
