"""Working copies and check files that standard tools accept.

``sha256sum -c``, ``b3sum -c`` (and an ``sm3sum``-style list) use ``<hex>  <path>`` lines;
hashdeep uses its own header with size, MD5 and SHA-256 so that a plain
``hashdeep -a -k hashdeep.txt -l -r evidence`` (default algorithms) passes its audit.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .case import Case
from ..errors import AlgorithmUnavailable, OutputExists, PlitoolError, StorageError, UsageError, VerificationFailed
from .evidence import EvidenceItem
from ..fsutil import atomic_output, atomic_write, check_output_path, fsync_dir
from ..i18n import _
from .hashing import ProgressCallback, hash_file
from .ledger import NewEvent
from .store import ObjectStore


class ManifestFormat(str, Enum):
    SHA256SUM = "sha256sum"
    B3SUM = "b3sum"
    SM3SUM = "sm3sum"
    HASHDEEP = "hashdeep"

    @property
    def default_name(self) -> str:
        return {
            ManifestFormat.SHA256SUM: "SHA256SUMS",
            ManifestFormat.B3SUM: "B3SUMS",
            ManifestFormat.SM3SUM: "SM3SUMS",
            ManifestFormat.HASHDEEP: "hashdeep.txt",
        }[self]

    def check_command(self, manifest: Path | str, folder: str = "evidence") -> str:
        """The standard tool's command line that checks this manifest."""
        return {
            ManifestFormat.SHA256SUM: f"sha256sum -c '{manifest}'",
            ManifestFormat.B3SUM: f"b3sum -c '{manifest}'",
            ManifestFormat.SM3SUM: _("an SM3 tool (e.g. gmssl sm3) over each file, compared with '{manifest}'").format(
                manifest=manifest),
            ManifestFormat.HASHDEEP: f"hashdeep -a -k '{manifest}' -l -r {folder}",
        }[self]


EXPORT_SUBDIR = "evidence"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\ufffd]")


def safe_name(item: EvidenceItem) -> str:
    """``E-0001_<original name>`` with nothing a check file or a file system would choke on."""
    name = unicodedata.normalize("NFC", item.name or "unnamed")
    name = _UNSAFE.sub("_", name).strip().lstrip(".") or "unnamed"
    encoded = name.encode("utf-8")
    if len(encoded) > 200:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = encoded[: 200 - len(keep) - 1].decode("utf-8", "ignore") + ("." + keep if keep else "")
    return f"{item.id}_{name}"


@dataclass(frozen=True)
class ExportedFile:
    item: str
    path: Path
    size: int
    digests: dict[str, str]
    #: True when a copy already in the folder matched the ledger byte for byte and was kept as it
    #: is (no second copy, no second ``exported`` event).
    reused: bool = False


def _source_of(store: ObjectStore, item: EvidenceItem) -> bytes | str:
    if item.stored_copy:
        return str(store.path_for(item.sha256))
    for ref in item.references:
        if os.path.exists(ref):
            return ref
    raise StorageError(_("{item}: neither a stored copy nor its original (--no-copy) is available").format(item=item.id))


def _matches_ledger(item: EvidenceItem, digests: dict[str, str], size: int) -> bool:
    return size == item.size and all(digests.get(a) == d for a, d in item.digests.items() if a in digests)


def _existing_copy(path: Path, item: EvidenceItem, algorithms: Sequence[str], progress: ProgressCallback | None) -> ExportedFile | None:
    """The copy already at ``path`` if it is a regular file holding exactly the item's bytes."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size != item.size:
        return None
    try:
        result = hash_file(path, algorithms, progress=progress)
    except PlitoolError:
        return None
    if not _matches_ledger(item, result.digests, result.size):
        return None
    return ExportedFile(item.id, path, result.size, result.digests, reused=True)


def export_items(
    case: Case,
    items: Sequence[EvidenceItem],
    dest: Path,
    reason: str,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    extra_digests: Sequence[str] = (),
    reuse: bool = False,
) -> list[ExportedFile]:
    """Copy items out as working copies, checking each copy's digests, and log ``exported``.

    Every check that can refuse comes before the first byte is written: the folder is not inside
    the case's own state, and no target exists (without ``force``). With ``reuse``, a target that
    already holds the item's exact bytes (a regular file, every ledger digest equal) is kept: no
    second copy and no second ``exported`` event. Copies are written through :func:`atomic_output`,
    so nothing planted in the folder (a link at a temp or final name) is ever written through.
    """
    if not reason.strip():
        raise UsageError(_("--reason is required: the custody record says why a copy was made"))
    check_output_path(case, dest)
    store = ObjectStore(case.paths.objects, case.paths.staging)
    targets = [(it, check_output_path(case, dest / safe_name(it))) for it in items]
    algorithms = list(dict.fromkeys([*case.config.digests, *extra_digests]))
    kept: dict[str, ExportedFile] = {}
    for item, target in targets:
        if not os.path.lexists(target):
            continue
        found = _existing_copy(target, item, algorithms, progress) if reuse else None
        if found is not None:
            kept[item.id] = found
        elif not force:
            raise OutputExists(
                _("{path} already exists (use --force to replace it)").format(path=target)
                if not reuse
                else _("{path} already exists and does not hold {item}'s exact bytes (use --force to replace it)").format(
                    path=target, item=item.id)
            )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(_("cannot create {path}: {reason}").format(path=dest, reason=exc.strerror)) from exc
    out: list[ExportedFile] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for item, target in targets:
            if item.id in kept:
                out.append(kept[item.id])
                continue
            with atomic_output(target, overwrite=force) as sink:
                result = hash_file(_source_of(store, item), algorithms, sink=sink, progress=progress, executor=pool)
                mismatch = [a for a, d in item.digests.items() if a in result.digests and result.digests[a] != d]
                if mismatch:
                    raise VerificationFailed(
                        _("{item}: the stored bytes no longer match the ledger ({what}); "
                          "not exported — run 'plitool verify'").format(item=item.id, what=", ".join(mismatch))
                    )
            out.append(ExportedFile(item.id, target, result.size, result.digests))
    fsync_dir(dest)
    written = [f for f in out if not f.reused]
    if written:
        with case.locked():
            case.ledger.append(
                [
                    NewEvent(
                        "exported",
                        f.item,
                        {"reason": reason, "to": str(f.path), "sha256": f.digests["sha256"]},
                    )
                    for f in written
                ]
            )
    return out


def render_manifest(fmt: ManifestFormat, rows: Sequence[tuple[str, int, dict[str, str]]], invoked_from: str = "") -> str:
    """Rows are (relative path, size, digests)."""
    if fmt is ManifestFormat.HASHDEEP:
        lines = [
            "%%%% HASHDEEP-1.0",
            "%%%% size,md5,sha256,filename",
            f"## Invoked from: {invoked_from}",
            "## # plitool manifest --format hashdeep",
            "## ",
        ]
        lines += [f"{size},{d['md5']},{d['sha256']},{path}" for path, size, d in rows]
        return "\n".join(lines) + "\n"
    key = {ManifestFormat.SHA256SUM: "sha256", ManifestFormat.B3SUM: "blake3", ManifestFormat.SM3SUM: "sm3"}[fmt]
    return "".join(f"{d[key]}  {path}\n" for path, _size, d in rows)


def _needed_digest(fmt: ManifestFormat) -> str | None:
    return {ManifestFormat.B3SUM: "blake3", ManifestFormat.SM3SUM: "sm3", ManifestFormat.HASHDEEP: "md5"}.get(fmt)


@dataclass
class ManifestResult:
    """What ``manifest`` produced: each format's text, the files written, the working copies."""

    texts: dict[ManifestFormat, str]
    written: list[tuple[ManifestFormat, Path]]
    exported: list[ExportedFile]


def write_manifest(
    case: Case,
    items: Sequence[EvidenceItem],
    formats: Sequence[ManifestFormat],
    *,
    output: Path | None,
    export_dir: Path | None,
    reason: str = "manifest export",
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> ManifestResult:
    """Build check files, over one set of exported working copies or over the store itself.

    Several formats share one export (one copy and one ``exported`` event per item); a later run
    over the same folder re-uses copies that still match the ledger byte for byte. Every refusal
    (an output inside the case's state, an existing file without ``force``, SM3 missing) comes
    before any work.
    """
    formats = list(dict.fromkeys(formats)) or [ManifestFormat.SHA256SUM]
    if ManifestFormat.SM3SUM in formats and "sm3" not in hashlib.algorithms_available:
        raise AlgorithmUnavailable(_("SM3 is not available in this Python's OpenSSL"))
    if output is not None and len(formats) > 1:
        raise UsageError(_("-o names one file: with several --format, use --export-dir DIR (one check file each)"))
    if output is None and export_dir is None and len(formats) > 1:
        raise UsageError(_("several --format need --export-dir DIR (one check file each), or one -o per run"))
    if export_dir is not None:
        check_output_path(case, export_dir)
    targets: dict[ManifestFormat, Path | None] = {
        fmt: output if output is not None else (export_dir / fmt.default_name if export_dir is not None else None)
        for fmt in formats
    }
    for target in targets.values():
        if target is not None:
            check_output_path(case, target)
            if os.path.lexists(target) and not force:
                raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=target))
    extra = [n for n in dict.fromkeys(_needed_digest(f) for f in formats) if n and n not in case.config.digests]
    rows: list[tuple[str, int, dict[str, str]]] = []
    exported: list[ExportedFile] = []
    if export_dir is not None:
        exported = export_items(
            case, items, export_dir / EXPORT_SUBDIR, reason, force=force, progress=progress, extra_digests=extra,
            reuse=True,
        )
        rows = [(f"{EXPORT_SUBDIR}/{f.path.name}", f.size, f.digests) for f in exported]
        base = export_dir
    else:
        store = ObjectStore(case.paths.objects, case.paths.staging)
        base = case.root
        for it in items:
            if not it.stored_copy:
                continue  # --no-copy items have no stored object to list
            path = store.path_for(it.sha256)
            digests = dict(it.digests)
            if extra:
                digests.update(hash_file(path, ["sha256", *extra], progress=progress).digests)
                if digests["sha256"] != it.sha256:
                    raise VerificationFailed(_("{item}: stored object does not match the ledger; run 'plitool verify'").format(
                        item=it.id))
            rows.append((os.path.relpath(path, base), it.size, digests))
    result = ManifestResult({}, [], exported)
    for fmt, target in targets.items():
        text = render_manifest(fmt, rows, str(base))
        result.texts[fmt] = text
        if target is not None:
            atomic_write(target, text.encode("utf-8"), overwrite=force)
            result.written.append((fmt, target))
    return result
