"""Working copies and check files that standard tools accept.

``sha256sum -c``, ``b3sum -c`` (and an ``sm3sum``-style list) use ``<hex>  <path>`` lines;
hashdeep uses its own header with size, MD5 and SHA-256 so that a plain
``hashdeep -a -k hashdeep.txt -l -r evidence`` (default algorithms) passes its audit.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .case import Case
from ..errors import AlgorithmUnavailable, OutputExists, StorageError, UsageError, VerificationFailed
from .evidence import EvidenceItem
from ..fsutil import atomic_write, fsync_dir
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
            ManifestFormat.SM3SUM: f"an SM3 tool (e.g. gmssl sm3) over each file, compared with '{manifest}'",
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


def _source_of(store: ObjectStore, item: EvidenceItem) -> bytes | str:
    if item.stored_copy:
        return str(store.path_for(item.sha256))
    for ref in item.references:
        if os.path.exists(ref):
            return ref
    raise StorageError(f"{item.id}: neither a stored copy nor its original (--no-copy) is available")


def export_items(
    case: Case,
    items: Sequence[EvidenceItem],
    dest: Path,
    reason: str,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    extra_digests: Sequence[str] = (),
) -> list[ExportedFile]:
    """Copy items out as working copies, checking each copy's digests, and log ``exported``."""
    if not reason.strip():
        raise UsageError("--reason is required: the custody record says why a copy was made")
    store = ObjectStore(case.paths.objects, case.paths.staging)
    targets = [(it, dest / safe_name(it)) for it in items]
    if not force:
        for _, target in targets:
            if target.exists():
                raise OutputExists(f"{target} already exists (use --force to replace it)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {dest}: {exc.strerror}") from exc
    algorithms = list(dict.fromkeys([*case.config.digests, *extra_digests]))
    out: list[ExportedFile] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for item, target in targets:
            tmp = target.with_name(f".tmp-{target.name}")
            try:
                with open(tmp, "wb") as sink:
                    result = hash_file(_source_of(store, item), algorithms, sink=sink, progress=progress, executor=pool)
                    sink.flush()
                    os.fsync(sink.fileno())
                mismatch = [a for a, d in item.digests.items() if a in result.digests and result.digests[a] != d]
                if mismatch:
                    raise VerificationFailed(
                        f"{item.id}: the stored bytes no longer match the ledger ({', '.join(mismatch)}); "
                        "not exported — run 'plitool verify'"
                    )
                os.replace(tmp, target)
            except OSError as exc:
                raise StorageError(f"cannot write {target}: {exc.strerror}") from exc
            finally:
                tmp.unlink(missing_ok=True)
            out.append(ExportedFile(item.id, target, result.size, result.digests))
    fsync_dir(dest)
    with case.locked():
        case.ledger.append(
            [
                NewEvent(
                    "exported",
                    f.item,
                    {"reason": reason, "to": str(f.path), "sha256": f.digests["sha256"]},
                )
                for f in out
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
    return "".join(f"{d[key]}  {path}\n" for path, _, d in rows)


def _needed_digest(fmt: ManifestFormat) -> str | None:
    return {ManifestFormat.B3SUM: "blake3", ManifestFormat.SM3SUM: "sm3", ManifestFormat.HASHDEEP: "md5"}.get(fmt)


def write_manifest(
    case: Case,
    items: Sequence[EvidenceItem],
    fmt: ManifestFormat,
    *,
    output: Path | None,
    export_dir: Path | None,
    reason: str = "manifest export",
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[str, Path | None, list[ExportedFile]]:
    """Build a check file, over exported working copies or over the store itself.

    Returns the text, where it was written (None: the caller prints it) and the exports made.
    """
    if fmt is ManifestFormat.SM3SUM and "sm3" not in hashlib.algorithms_available:
        raise AlgorithmUnavailable("SM3 is not available in this Python's OpenSSL")
    if export_dir is not None and output is None:
        output = export_dir / fmt.default_name
    if output is not None and output.exists() and not force:
        raise OutputExists(f"{output} already exists (use --force to replace it)")
    needed = _needed_digest(fmt)
    extra = [needed] if needed and needed not in case.config.digests else []
    rows: list[tuple[str, int, dict[str, str]]] = []
    exported: list[ExportedFile] = []
    if export_dir is not None:
        exported = export_items(
            case, items, export_dir / EXPORT_SUBDIR, reason, force=force, progress=progress, extra_digests=extra
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
                    raise VerificationFailed(f"{it.id}: stored object does not match the ledger; run 'plitool verify'")
            rows.append((os.path.relpath(path, base), it.size, digests))
    text = render_manifest(fmt, rows, str(base))
    if output is not None:
        atomic_write(output, text.encode("utf-8"), overwrite=True)
    return text, output, exported
