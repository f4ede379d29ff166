"""``plitool verify-bundle DIR``: check a bundle with no case workspace.

Every file against ``SHA256SUMS`` (and ``B3SUMS``, ``SM3SUMS``), nothing unlisted and no link;
the bundle digest; the ledger's hash chain and every checkpoint's Merkle root; every timestamp
token against the checkpoint it seals (with the TSA roots given, else the roots the case trusted
as shipped in ``ledger/trust/``); every inclusion proof with the evidence file's bytes; and that
``exhibits.pdf`` has the pages, bookmarks and stamps the index (``bundle.json``) says.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputNotFound, PlitoolError, UsageError
from ..i18n import _
from ..vault import merkle
from ..vault.hashing import hash_file
from .build import BUNDLE_FORMAT, EXHIBITS, INDEX, SUMS, bundle_digest, front_stamp_text, stamp_text

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: Check files are small; anything larger is not one of ours.
MAX_SMALL = 64 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    check: str
    file: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "file": self.file, "message": self.message}


@dataclass
class BundleReport:
    path: Path
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, check: str, file: str, message: str) -> None:
        self.problems.append(Problem(check, file, message))

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": str(self.path), "bundle_digest": self.digest, "checked": dict(self.checked),
                "problems": [p.as_json() for p in self.problems], "notes": list(self.notes)}


def _read_small(path: Path) -> bytes:
    from ..fsutil import read_regular_file

    return read_regular_file(path, MAX_SMALL)


def _parse_sums(text: str) -> tuple[dict[str, str], list[str]]:
    entries: dict[str, str] = {}
    bad: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not digest or any(c not in "0123456789abcdef" for c in digest) or not _safe_rel(name):
            bad.append(_("line {n} is not '<hex>  <relative path>'").format(n=n))
            continue
        entries[name] = digest
    return entries, bad


def _safe_rel(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _walk(folder: Path, report: BundleReport) -> list[str]:
    """Every regular file under ``folder`` (relative); links and special files are problems."""
    out: list[str] = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                report.fail("files", rel, _("{file} is a symbolic link: a bundle holds only regular files").format(file=rel))
            elif stat.S_ISREG(mode):
                out.append(rel)
            elif not stat.S_ISDIR(mode):
                report.fail("files", rel, _("{file} is not a regular file").format(file=rel))
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
    return sorted(out)


def _check_sums(folder: Path, files: list[str], report: BundleReport) -> dict[str, str]:
    """Returns the SHA-256 of each file that matches its line."""
    sha_file = SUMS["sha256"]
    if sha_file not in files:
        report.fail("sums", sha_file, _("{file} is missing: nothing can be checked").format(file=sha_file))
        return {}
    listed_by: dict[str, dict[str, str]] = {}
    texts: dict[str, str] = {}
    for algo, name in SUMS.items():
        if name not in files:
            continue
        try:
            texts[name] = _read_small(folder / name).decode("utf-8")
        except (PlitoolError, UnicodeDecodeError) as exc:
            report.fail("sums", name, _("{file} cannot be read: {error}").format(file=name, error=exc))
            continue
        entries, bad = _parse_sums(texts[name])
        for line in bad:
            report.fail("sums", name, _("{file}: {problem}").format(file=name, problem=line))
        listed_by[algo] = entries
    sums_names = set(SUMS.values())
    for rel in files:
        if rel not in sums_names and rel not in listed_by.get("sha256", {}):
            report.fail("sums", rel, _("{file} is not listed in {sums}: a file was added to the bundle").format(
                file=rel, sums=sha_file))
    good: dict[str, str] = {}
    want = {rel for entries in listed_by.values() for rel in entries}
    import hashlib

    algos = [a for a in listed_by if a != "sm3" or "sm3" in hashlib.algorithms_available]
    if "sm3" in listed_by and "sm3" not in algos:
        report.notes.append(_("SM3SUMS not checked: SM3 is not available in this Python's OpenSSL"))
    for rel in sorted(want):
        if rel not in files:
            report.fail("sums", rel, _("{file} is listed in the check files but missing").format(file=rel))
            continue
        try:
            digests = hash_file(folder / rel, algos).digests
        except PlitoolError as exc:
            report.fail("sums", rel, str(exc))
            continue
        bad = [SUMS[a] for a in algos if rel in listed_by[a] and listed_by[a][rel] != digests[a]]
        if bad:
            report.fail("sums", rel, _("{file} does not match {sums}: it was changed after the bundle was made").format(
                file=rel, sums=", ".join(bad)))
        else:
            good[rel] = digests["sha256"]
    report.checked["files"] = len(want)
    if "SHA256SUMS" in texts:
        report.digest = bundle_digest(texts["SHA256SUMS"])
    return good


def _check_ledger(folder: Path, report: BundleReport) -> list[bytes]:
    """The chain of the ledger copy, every checkpoint's root; returns the leaves."""
    from ..vault.ledger import CHECKPOINT_LOG, Checkpoint, read_checkpoint_log, scan_ledger

    rel = "ledger/ledger.jsonl"
    path = folder / rel
    if not path.is_file():
        report.fail("ledger", rel, _("{file} is missing").format(file=rel))
        return []
    scan = scan_ledger(path)
    for problem in scan.problems:
        report.fail("ledger", rel, problem)
    leaves = [e.leaf for e in scan.entries]
    cp_dir = folder / "ledger" / "checkpoints"
    cps = sorted(cp_dir.glob("*.txt")) if cp_dir.is_dir() else []  # per-file: cases made before the log
    claims: list[tuple[str, str, int, bytes]] = []  # (file, where in it, size, root)
    for cp_path in cps:
        crel = cp_path.relative_to(folder).as_posix()
        try:
            cp = Checkpoint.parse(_read_small(cp_path).decode("ascii"))
        except (ValueError, UnicodeDecodeError, PlitoolError) as exc:
            report.fail("checkpoint", crel, _("{file} is not a checkpoint: {error}").format(file=crel, error=exc))
            continue
        claims.append((crel, crel, cp.size, cp.root))
    log_rel = f"ledger/checkpoints/{CHECKPOINT_LOG}"
    log = read_checkpoint_log(folder / log_rel, None)
    for problem in log.problems:
        report.fail("checkpoint", log_rel, problem)
    claims += [(log_rel, _("{file}, line {line}").format(file=log_rel, line=line), size, root)
               for line, size, root in log.checkpoints]
    roots = merkle.roots_at(leaves, [size for _f, _w, size, _root in claims if size <= len(leaves)])
    for file, where, size, root in claims:
        if roots.get(size) != root:
            report.fail("checkpoint", file, _("{file} does not match the first {size} entries of the ledger").format(
                file=where, size=size))
    report.checked["ledger_entries"] = len(scan.entries)
    report.checked["checkpoints"] = len(cps) + len(log.checkpoints)
    return leaves


def _check_tokens(folder: Path, leaves: list[bytes], roots: Sequence[Certificate], report: BundleReport) -> None:
    from ..timestamps.timestamp import load_certificates, verify_reply
    from ..vault.ledger import scan_ledger

    path = folder / "ledger" / "ledger.jsonl"
    if not path.is_file():
        return
    count = 0
    for entry in scan_ledger(path).entries:
        if entry.event != "sealed":
            continue
        cp = entry.data.get("checkpoint", {})
        cp_rel = f"ledger/{cp.get('file', '')}"
        try:
            cp_bytes = _read_small(folder / cp_rel)
        except PlitoolError:
            report.fail("timestamp", cp_rel, _("{file} (sealed by entry #{seq}) is missing").format(file=cp_rel, seq=entry.seq))
            continue
        size = int(cp.get("size", 0))
        if size > len(leaves) or base64.b64encode(merkle.root(leaves[:size])).decode() != cp.get("root"):
            report.fail("timestamp", cp_rel, _("the sealed checkpoint {file} does not match the ledger").format(file=cp_rel))
        for tok in entry.data.get("tokens", []):
            tsr_rel, chain_rel = f"ledger/{tok.get('tsr', '')}", f"ledger/{tok.get('chain', '')}"
            try:
                blob = _read_small(folder / tsr_rel)
            except PlitoolError:
                report.fail("timestamp", tsr_rel, _("{file} is missing").format(file=tsr_rel))
                continue
            try:
                chain = load_certificates(_read_small(folder / chain_rel))
            except (PlitoolError, ValueError):
                chain = []
            verdict = verify_reply(blob, data=cp_bytes, roots=roots, extra_certs=chain)
            count += 1
            if not verdict.ok:
                report.fail("timestamp", tsr_rel, _("{file}: {problem}").format(file=tsr_rel, problem=verdict.message))
    report.checked["tokens"] = count


def _check_proofs(folder: Path, index: dict[str, Any], roots: Sequence[Certificate], report: BundleReport) -> None:
    from ..timestamps.proof import verify_proof

    count = 0
    for ex in index.get("exhibits", []):
        rel = ex.get("proof")
        if not rel:
            continue
        if not _safe_rel(str(rel)) or not _safe_rel(str(ex.get("file", ""))):
            report.fail("proof", str(rel), _("bundle.json names a path outside the bundle"))
            continue
        try:
            result = verify_proof(_read_small(folder / rel), data=folder / ex["file"], roots=roots)
        except PlitoolError as exc:
            report.fail("proof", rel, _("{file}: {problem}").format(file=rel, problem=exc))
            continue
        count += 1
        for c in result.checks:
            if not c.ok:
                report.fail("proof", rel, _("{file}: {check}: {problem}").format(file=rel, check=c.name, problem=c.message))
    report.checked["proofs"] = count


def _check_pdf(folder: Path, index: dict[str, Any], report: BundleReport) -> None:
    from pypdf import PdfReader

    from ..pii.extract import pdf_failures

    info = index.get("exhibits_pdf", {})
    lang = index.get("lang", "zh")
    try:
        reader = PdfReader(folder / EXHIBITS)
        pages = len(reader.pages)
    except pdf_failures() + (OSError,) as exc:
        report.fail("pdf", EXHIBITS, _("{file} cannot be read: {error}").format(file=EXHIBITS, error=exc))
        return
    if pages != info.get("pages"):
        report.fail("pdf", EXHIBITS, _("{file} has {n} pages; the index says {m}").format(file=EXHIBITS, n=pages, m=info.get("pages")))
        return
    try:
        marks = {str(o.title).split(" ", 1)[0]: (reader.get_destination_page_number(o) or 0) + 1
                 for o in reader.outline if not isinstance(o, list)}
    except pdf_failures() as exc:
        marks = {}
        report.fail("pdf", EXHIBITS, _("{file}: bookmarks unreadable: {error}").format(file=EXHIBITS, error=exc))
    expected_next = int(info.get("front_pages", 0)) + 1
    front = int(info.get("front_pages", 0))
    if front >= 1:
        want = front_stamp_text(lang, "front", 1)
        if want not in reader.pages[0].extract_text():
            report.fail("pdf", EXHIBITS, _("{file}: page {page} does not carry the stamp {stamp!r}").format(
                file=EXHIBITS, page=1, stamp=want))
        if report.digest and report.digest not in reader.pages[0].extract_text().replace("\n", ""):
            report.fail("pdf", EXHIBITS, _("{file}: the cover does not state the bundle digest {digest}").format(
                file=EXHIBITS, digest=report.digest))
    for ex in index.get("exhibits", []):
        first, last = (int(n) for n in ex.get("pages", [0, 0]))
        eid = ex.get("id")
        if first != expected_next or last - first + 1 != ex.get("page_count"):
            report.fail("pdf", EXHIBITS, _("{item}: pages {first}–{last} in the index do not follow on").format(
                item=eid, first=first, last=last))
        expected_next = int(last) + 1
        if marks.get(eid) != first:
            report.fail("pdf", EXHIBITS, _("{item}: its bookmark does not point at page {page}").format(item=eid, page=first))
        for n in sorted({first, last}):
            if not 1 <= n <= pages:
                continue
            want = stamp_text(lang, str(eid), n - first + 1, int(ex.get("page_count", 0)), n)
            try:
                text = reader.pages[n - 1].extract_text()
            except pdf_failures():
                text = ""
            if want not in text:
                report.fail("pdf", EXHIBITS, _("{file}: page {page} does not carry the stamp {stamp!r}").format(
                    file=EXHIBITS, page=n, stamp=want))
    if expected_next - 1 != pages:
        report.fail("pdf", EXHIBITS, _("{file}: the index accounts for {n} of its {m} pages").format(
            file=EXHIBITS, n=expected_next - 1, m=pages))
    report.checked["pages"] = pages


def bundle_roots(folder: Path, extra: Sequence[Certificate], system: bool = False) -> tuple[list[Certificate], str]:
    """The roots to judge tokens by: ``--ca`` (and system roots) when given, else the case's."""
    from ..timestamps.timestamp import load_certificates
    from ..timestamps.trust import trusted_certificates

    if extra or system:
        return trusted_certificates(None, extra=list(extra), system=system), "given"
    roots: list[Certificate] = []
    trust = folder / "ledger" / "trust"
    if trust.is_dir():
        for p in sorted(trust.iterdir()):
            if p.is_file() and not p.is_symlink():
                try:
                    roots += load_certificates(_read_small(p))
                except (ValueError, PlitoolError):
                    continue
    return roots, "bundle"


def verify_bundle(folder: Path, *, roots: Sequence[Certificate] = (), system_roots: bool = False) -> BundleReport:
    folder = Path(folder)
    if not folder.exists():
        raise InputNotFound(_("{path} does not exist").format(path=folder))
    if not folder.is_dir():
        raise UsageError(_("{path} is not a bundle folder").format(path=folder))
    report = BundleReport(folder)
    files = _walk(folder, report)
    good = _check_sums(folder, files, report)
    index: dict[str, Any] = {}
    if INDEX not in files:
        report.fail("index", INDEX, _("{file} is missing").format(file=INDEX))
    else:
        try:
            index = json.loads(_read_small(folder / INDEX))
            if not isinstance(index, dict) or index.get("format") != BUNDLE_FORMAT:
                raise ValueError(_("not a {format} index").format(format=BUNDLE_FORMAT))
        except (ValueError, PlitoolError) as exc:
            report.fail("index", INDEX, _("{file} cannot be read: {error}").format(file=INDEX, error=exc))
            index = {}
    if index:
        stated = index.get("bundle_digest", {}).get("sha256")
        if report.digest and stated != report.digest:
            report.fail("digest", INDEX, _("the bundle digest {stated} in {file} is not the one SHA256SUMS gives ({digest})").format(
                stated=stated, file=INDEX, digest=report.digest))
        for ex in index.get("exhibits", []):
            rel = str(ex.get("file", ""))
            sha = ex.get("digests", {}).get("sha256")
            if rel in good and good[rel] != sha:
                report.fail("evidence", rel, _("{file} is not the bytes {item} was recorded with").format(file=rel, item=ex.get("id")))
            elif rel not in files:
                report.fail("evidence", rel, _("{file} ({item}) is missing").format(file=rel, item=ex.get("id")))
        report.checked["exhibits"] = len(index.get("exhibits", []))
    leaves = _check_ledger(folder, report)
    trust_roots, whose = bundle_roots(folder, roots, system_roots)
    _check_tokens(folder, leaves, trust_roots, report)
    if whose == "bundle" and report.checked.get("tokens"):
        report.notes.append(_("timestamps judged by the TSA roots the case trusted (ledger/trust/); compare their "
                              "fingerprints with the TSA's, or give your own with --ca"))
    if index:
        _check_proofs(folder, index, trust_roots, report)
        if EXHIBITS in files:
            _check_pdf(folder, index, report)
        else:
            report.fail("pdf", EXHIBITS, _("{file} is missing").format(file=EXHIBITS))
    return report
