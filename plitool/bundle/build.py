"""``plitool bundle``: the court-ready exhibit bundle, built in a temporary folder and renamed.

The folder holds::

    exhibits.pdf              cover, index (证据目录), every exhibit, every page stamped, bookmarks
    verification-report.pdf   how each exhibit was collected, its custody, its trusted time, how to check
    bundle.json               the machine-readable index (pages of each exhibit, digests, proofs)
    evidence/E-0003_<name>    the exact collected bytes (names masked like the index)
    ledger/                   ledger.jsonl, checkpoints/, timestamps/ (.tsr, chains), trust/ (roots)
    proofs/E-0003.proof.json  (and proofs/E-0003.proof/): each sealed exhibit's inclusion proof
    SHA256SUMS, B3SUMS        every other file, for ``sha256sum -c`` / ``b3sum -c`` (SM3SUMS with sm3)

**The bundle digest** is the SHA-256 of the lines of ``SHA256SUMS`` (``<hex>  <path>\\n``, sorted by
path) for every file except ``exhibits.pdf``, ``verification-report.pdf`` and ``bundle.json`` (the
files that state it): the evidence, the ledger, checkpoints, tokens, proofs and trust roots. By
hand: ``grep -v -E '  (exhibits.pdf|verification-report.pdf|bundle.json)$' SHA256SUMS | sha256sum``.
Each item's ``exported`` ledger entry records it, with the SHA-256 of ``exhibits.pdf`` and of
``SHA256SUMS``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import (
    CorruptDocument,
    EncryptedDocument,
    NotSealed,
    OutputExists,
    StorageError,
    UsageError,
    VerificationFailed,
)
from ..fsutil import check_output_path, fsync_dir
from ..i18n import _
from ..pii.mask import mask_text
from ..vault.case import Case
from ..vault.evidence import EvidenceItem, build_items, get_items
from ..vault.hashing import hash_file
from ..vault.ledger import NewEvent, iso_utc, utc_now
from ..vault.manifest import ManifestFormat, render_manifest, safe_name
from ..vault.store import stored_path
from . import layout
from .pdfstream import Outline, StreamingPdfWriter

BUNDLE_FORMAT = "plitool-bundle/1"
EXHIBITS = "exhibits.pdf"
REPORT = "verification-report.pdf"
INDEX = "bundle.json"
#: Files that state the bundle digest, so it cannot cover them.
NOT_IN_DIGEST = (EXHIBITS, REPORT, INDEX)
SUMS = {"sha256": "SHA256SUMS", "blake3": "B3SUMS", "sm3": "SM3SUMS"}
DIGEST_RULE = ("SHA-256 of the SHA256SUMS lines ('<hex>  <path>\\n', sorted by path) of every file except "
               "exhibits.pdf, verification-report.pdf and bundle.json")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

Progress = Callable[[str, int, int], None]


def detect_kind(head: bytes, name: str) -> str:
    """``pdf``, ``image`` or ``file``, by content first, then by the original name's extension."""
    lower = name.lower()
    if b"%PDF-" in head[:1024] or lower.endswith(".pdf"):
        return "pdf"
    if head.startswith(PNG_MAGIC) or head.startswith(JPEG_MAGIC) or lower.endswith((".png", ".jpg", ".jpeg")):
        return "image"
    return "file"


@dataclass
class Exhibit:
    id: str
    name: str  # masked, as the index shows it
    file: str  # relative path in the bundle
    kind: str  # pdf | image | file
    size: int
    digests: dict[str, str]
    source: str
    purpose: str
    page_count: int = 1
    first_page: int = 0
    problem: str | None = None
    proof: str | None = None
    trusted_time: dict[str, str] | None = None

    @property
    def pages(self) -> tuple[int, int]:
        return self.first_page, self.first_page + self.page_count - 1

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "file": self.file, "kind": self.kind, "size": self.size,
            "digests": dict(self.digests), "source": self.source, "purpose": self.purpose,
            "pages": list(self.pages), "page_count": self.page_count, "merged": self.problem is None,
            "problem": self.problem, "proof": self.proof, "trusted_time": self.trusted_time,
        }


@dataclass
class BundleResult:
    path: Path
    digest: str
    exhibits: list[Exhibit]
    total_pages: int
    files: int
    exhibits_sha256: str
    skipped: list[Exhibit] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "bundle_digest": self.digest, "exhibits_pdf_sha256": self.exhibits_sha256,
            "pages": self.total_pages, "files": self.files,
            "exhibits": [e.as_json() for e in self.exhibits],
            "skipped": [{"id": e.id, "problem": e.problem} for e in self.skipped],
        }


def stamp_text(lang: str, exhibit: str, n: int, of: int, total: int) -> str:
    return layout.LABELS[lang]["stamp"].format(id=exhibit, n=n, of=of, total=total)


def front_stamp_text(lang: str, label: str, total: int) -> str:
    return layout.LABELS[lang]["stamp_front"].format(label=layout.LABELS[lang][label], total=total)


# -- checks made before anything is written ----------------------------------------------------


def _pdf_pages(path: Path | str) -> int:
    """The page count of a PDF that can be merged, or an error saying why it cannot."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    from ..pii.extract import pdf_failures

    try:
        with open(path, "rb") as fh:
            reader = PdfReader(fh)
            if reader.is_encrypted and not reader.decrypt(""):
                raise EncryptedDocument(_("the PDF is encrypted and needs a password"))
            count = len(reader.pages)
            for page in reader.pages:  # every page must be reachable, or the merge stops half-way
                page.get("/Contents")
    except FileNotDecryptedError as exc:
        raise EncryptedDocument(_("the PDF is encrypted and needs a password")) from exc
    except pdf_failures() as exc:
        raise CorruptDocument(_("not a readable PDF ({kind}: {error})").format(kind=type(exc).__name__, error=exc)) from exc
    if count == 0:
        raise CorruptDocument(_("the PDF has no pages"))
    return count


def _image_ok(path: Path | str) -> None:
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise CorruptDocument(_("not a readable image ({kind}: {error})").format(kind=type(exc).__name__, error=exc)) from exc


def plan_exhibits(case: Case, items: Sequence[EvidenceItem], *, skip_bad: bool, lang: str | None = None) -> list[tuple[Exhibit, str]]:
    """Each item's exhibit (kind, page count) and the path its bytes are read from.

    An exhibit's 证明目的 is worded as the drafts' evidence list words it (the elements its tags
    name in ``law.<lang>.yaml``, then its note, by the court's masking rule), so that the bundle
    and the complaint filed with it say the same thing about the same exhibit."""
    from ..filings.evidence import purpose_text
    from ..filings.templates import load_law

    law = load_law(case.root, lang or case.config.lang)[0]
    out: list[tuple[Exhibit, str]] = []
    for item in items:
        source = str(stored_path(case, item))
        with open(source, "rb") as fh:
            head = fh.read(1024)
        shown = mask_text(item.name or "")
        # no control or bidi-format character in a file name: it could make a listing lie
        plain_name = "".join(c for c in shown if unicodedata.category(c) not in ("Cc", "Cf"))
        exhibit = Exhibit(
            id=item.id, name=plain_name, file="evidence/" + safe_name(dataclasses.replace(item, name=plain_name)),
            kind=detect_kind(head, item.name or ""), size=item.size, digests=dict(item.digests),
            source=mask_text(str(item.first.get("source") or "")), purpose=purpose_text(item.tags, str(item.first.get("note") or ""), law),
        )
        try:
            if exhibit.kind == "pdf":
                exhibit.page_count = _pdf_pages(source)
            elif exhibit.kind == "image":
                _image_ok(source)
        except (CorruptDocument, EncryptedDocument) as exc:
            if not skip_bad:
                raise type(exc)(_("{item} ({name}): {reason}; it cannot be merged into exhibits.pdf (use --skip-bad for "
                                  "a page saying why, the original still in evidence/)").format(
                    item=item.id, name=shown, reason=exc)) from exc
            exhibit.problem, exhibit.page_count = str(exc), 1
        out.append((exhibit, source))
    return out


# -- writing ------------------------------------------------------------------------------------


def _copy_tree(src: Path, dest: Path) -> None:
    """Regular files only (a link or a device inside the case's state is not copied)."""
    if not src.is_dir():
        return
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            path = Path(root) / name
            if not stat.S_ISREG(os.lstat(path).st_mode) or name.startswith(".tmp-"):
                continue
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target, follow_symlinks=False)


def _copy_evidence(exhibit: Exhibit, source: str, folder: Path, algorithms: Sequence[str]) -> None:
    target = folder / exhibit.file
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as sink:
        result = hash_file(source, algorithms, sink=sink)  # type: ignore[arg-type]
        sink.flush()
        os.fsync(sink.fileno())
    bad = [a for a, d in exhibit.digests.items() if a in result.digests and result.digests[a] != d]
    if bad or result.size != exhibit.size:
        raise VerificationFailed(_("{item}: the stored bytes no longer match the ledger ({what}); no bundle written — "
                                   "run 'plitool verify'").format(item=exhibit.id, what=", ".join(bad) or "size"))
    exhibit.digests.update(result.digests)


def _write_proofs(case: Case, exhibits: Sequence[Exhibit], folder: Path, entries: Sequence[Any]) -> None:
    from ..timestamps.proof import ProofContext, build_proof, files_dir_for
    from ..timestamps.seal import sealed_size, stored_tokens
    from ..timestamps.trust import trusted_certificates
    from ..vault.evidence import build_items

    covered = sealed_size(case, entries)  # cheap: no item beyond it can have a proof
    added = {e.item: e.seq for e in entries if e.event == "added"}
    # one reading of the ledger, one check of each token, for every exhibit's proof
    context = ProofContext(entries, build_items(entries), trusted_certificates(case, entries=entries),
                           stored_tokens(case, entries))
    for ex in exhibits:
        if added.get(ex.id, covered + 1) > covered:
            continue
        try:
            proof, files = build_proof(case, ex.id, context=context)
        except NotSealed:
            continue
        out = folder / "proofs" / f"{ex.id}.proof.json"
        side = files_dir_for(out)
        side.mkdir(parents=True, exist_ok=True)
        for name, blob in files.items():
            (side / name).write_bytes(blob)
        out.write_bytes(json.dumps(proof, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        ex.proof = out.relative_to(folder).as_posix()
        trusted = [s for s in proof["timestamps"] if s.get("trusted_by_case")]
        if trusted:
            first = min(trusted, key=lambda s: s["time"])
            ex.trusted_time = {"time": first["time"], "tsa": first["tsa_name"]}


def _all_files(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            out.append((Path(root) / name).relative_to(folder).as_posix())
    return sorted(out)


def _hash_rows(folder: Path, rel: Sequence[str], algorithms: Sequence[str]) -> dict[str, tuple[int, dict[str, str]]]:
    rows = {}
    for r in rel:
        res = hash_file(folder / r, algorithms)
        rows[r] = (res.size, res.digests)
    return rows


def bundle_digest(sha256sums_text: str) -> str:
    """The bundle digest from the text of SHA256SUMS (see the module's docstring)."""
    import hashlib

    keep = [line for line in sha256sums_text.splitlines(keepends=True)
            if line.rstrip("\n").split("  ", 1)[-1] not in NOT_IN_DIGEST]
    return hashlib.sha256("".join(keep).encode("utf-8")).hexdigest()


def _front_matter(case: Case, lang: str, exhibits: Sequence[Exhibit], digest: str, created: str, total: int) -> tuple[bytes, int]:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Spacer

    L = layout.LABELS[lang]
    cfg = case.config
    flow: list[Any] = [Spacer(1, 40 * mm), layout.para(cfg.title, "title"), layout.para(L["bundle_title"], "title"),
                       Spacer(1, 12 * mm)]
    parties = "\n".join(f"{p.get('role', '')}: {p.get('name', '')}" for p in cfg.parties if p.get("name")) or "—"
    rows = [[L["case"], cfg.title], [L["court"], cfg.court or "—"], [L["number"], cfg.number or "—"],
            [L["parties"], parties], [L["date"], created], [L["exhibits"], str(len(exhibits))],
            [L["pages"], str(total)], [L["digest"], digest]]
    flow += [layout.table(rows, [40 * mm, 120 * mm], header=False), Spacer(1, 6 * mm),
             layout.para(L["digest_covers"], "small"), PageBreak(), layout.para(L["index"], "h1")]
    head = [L["col_no"], L["col_name"], L["col_source"], L["col_pages"], L["col_purpose"], L["col_sha"]]
    body = [[e.id, e.name, e.source or "—", f"{e.pages[0]}–{e.pages[1]}" if e.page_count > 1 else str(e.pages[0]),
             e.purpose or "—", e.digests.get("sha256", "")] for e in exhibits]
    flow.append(layout.table([head, *body], [16 * mm, 40 * mm, 28 * mm, 16 * mm, 28 * mm, 37 * mm]))
    flow += [Spacer(1, 4 * mm), layout.para(L["masking"], "small")]
    buf = io.BytesIO()
    pages = layout.render(flow, buf, f"{cfg.title} — {L['bundle_title']}")
    return buf.getvalue(), pages


def _info_page(lang: str, exhibit: Exhibit, reason: str | None, pages: int = 1) -> bytes:
    """The page standing for a file (or for an exhibit that could not be merged); ``pages`` > 1
    fills the page range the index gave an exhibit that failed half-way."""
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    L = layout.LABELS[lang]
    intro = L["bad_page"].format(reason=reason) if reason else L["file_page"]
    rows = [[L["file_name"], exhibit.name], [L["bundle_path"], exhibit.file], [L["size"], f"{exhibit.size:,} B"]]
    rows += [[k.upper(), v] for k, v in sorted(exhibit.digests.items())]
    if not reason:
        rows.append([L["attached"], Path(exhibit.file).name])
    flow = [layout.para(f"{exhibit.id}  {exhibit.name}", "h1"), layout.para(intro),
            layout.table(rows, [40 * mm, 125 * mm], header=False)]
    for n in range(2, pages + 1):
        flow += [PageBreak(), layout.para(layout.LABELS[lang]["filler_page"].format(id=exhibit.id, n=n))]
    buf = io.BytesIO()
    layout.render(flow, buf, exhibit.id)
    return buf.getvalue()


def _write_exhibits_pdf(case: Case, lang: str, exhibits: Sequence[Exhibit], folder: Path, digest: str, created: str,
                        progress: Progress | None, skip_bad: bool = False) -> int:
    from pypdf import PdfReader

    from ..pii.extract import pdf_failures

    front_count = 2
    for _attempt in range(5):  # the index's length decides where the exhibits start, and the reverse
        page = front_count + 1
        for ex in exhibits:
            ex.first_page, page = page, page + ex.page_count
        total = page - 1
        front, pages = _front_matter(case, lang, exhibits, digest, created, total)
        if pages == front_count:
            break
        front_count = pages
    else:
        raise StorageError(_("the index of exhibits does not settle on a page count"))

    target = folder / EXHIBITS
    with open(target, "xb") as fh:
        writer = StreamingPdfWriter(fh)
        outlines = [Outline(layout.LABELS[lang]["front"], 0), Outline(layout.LABELS[lang]["index_label"], 1)]
        front_reader = PdfReader(io.BytesIO(front))
        memo: dict[tuple[int, int], int] = {}
        for i, pg in enumerate(front_reader.pages):
            label = "front" if i == 0 else "index_label"
            writer.copy_page(pg, memo, layout.stamp_operators(front_stamp_text(lang, label, i + 1)))
        done = 0
        for ex in exhibits:
            if progress:
                progress(ex.id, done, total)

            def stamp_for(i: int, ex: Exhibit = ex) -> Callable[[float, float, float, float, int], bytes]:
                return layout.stamp_operators(stamp_text(lang, ex.id, i + 1, ex.page_count, ex.first_page + i))

            path = folder / ex.file
            outlines.append(Outline(f"{ex.id} {ex.name}", ex.first_page - 1))
            if ex.problem is not None:
                writer.copy_document(PdfReader(io.BytesIO(_info_page(lang, ex, ex.problem))), stamp_for)
            elif ex.kind == "pdf":
                state = writer.mark()
                try:
                    with open(path, "rb") as src:
                        reader = PdfReader(src)
                        if reader.is_encrypted:
                            reader.decrypt("")
                        writer.copy_document(reader, stamp_for)
                        del reader
                except pdf_failures() as exc:
                    # The pages were counted but one cannot be copied: take back what was written;
                    # with --skip-bad the exhibit keeps its page range, filled with pages saying why.
                    writer.rollback(state)
                    reason = _("a page of the PDF cannot be copied ({kind}: {error})").format(
                        kind=type(exc).__name__, error=exc)
                    if not skip_bad:
                        raise CorruptDocument(_("{item} ({name}): {reason}; it cannot be merged into exhibits.pdf (use "
                                                "--skip-bad for pages saying why, the original still in evidence/)").format(
                            item=ex.id, name=ex.name, reason=reason)) from exc
                    ex.problem = reason
                    writer.copy_document(PdfReader(io.BytesIO(_info_page(lang, ex, reason, ex.page_count))), stamp_for)
            elif ex.kind == "image":
                caption = layout.LABELS[lang]["image_caption"].format(id=ex.id)
                try:
                    page_pdf = layout.image_page(path, caption)
                except (OSError, ValueError, SyntaxError, MemoryError) as exc:  # what PIL/reportlab raise on odd images
                    reason = _("the picture cannot be placed on a page ({kind}: {error})").format(
                        kind=type(exc).__name__, error=exc)
                    if not skip_bad:
                        raise CorruptDocument(_("{item} ({name}): {reason} (use --skip-bad for a page saying why, the "
                                                "original still in evidence/)").format(item=ex.id, name=ex.name,
                                                                                       reason=reason)) from exc
                    ex.problem = reason
                    page_pdf = _info_page(lang, ex, reason)
                writer.copy_document(PdfReader(io.BytesIO(page_pdf)), stamp_for)
            else:
                writer.copy_document(PdfReader(io.BytesIO(_info_page(lang, ex, None))), stamp_for)
                writer.attach_file(Path(ex.file).name, path, ex.size, f"{ex.id} {ex.name}")
            done += ex.page_count
            if len(writer.pages) != ex.pages[1]:
                raise StorageError(_("{item}: {n} pages were written where {m} were counted").format(
                    item=ex.id, n=len(writer.pages) - ex.first_page + 1, m=ex.page_count))
        writer.finish(outlines, {"Title": f"{case.config.title} — {layout.LABELS[lang]['bundle_title']}",
                                 "Creator": f"plitool {__version__}", "Subject": f"bundle digest {digest}"})
        fh.flush()
        os.fsync(fh.fileno())
    return total


def build_bundle(
    case: Case,
    output: Path,
    *,
    items: Sequence[str] = (),
    lang: str | None = None,
    force: bool = False,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> BundleResult:
    """Write the bundle folder ``output`` whole, or nothing: every refusal comes first, the work is
    done in a temporary folder beside it, which is renamed into place at the end (and removed on
    any error or Ctrl-C). Then one ``exported`` entry per item records the bundle digest."""
    from .report import write_report

    lang = lang or case.config.lang
    if lang not in layout.LABELS:
        raise UsageError(_("--lang must be zh or en, not {value!r}").format(value=lang))
    output = Path(output)
    check_output_path(case, output)
    if os.path.lexists(output) and not force:
        raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=output))
    if os.path.lexists(output) and not os.path.islink(output) and not os.path.isdir(output):
        raise OutputExists(_("{path} exists and is not a folder; remove it first").format(path=output))
    real_out, real_case = os.path.realpath(output), os.path.realpath(case.root)
    if real_case == real_out or real_case.startswith(real_out.rstrip(os.sep) + os.sep):
        raise UsageError(_("{path} is the case folder or holds it: a bundle never replaces it (with or without "
                           "--force); choose another place").format(path=output))
    if os.path.isdir(output) and not os.path.islink(output) and not _replaceable(output):
        raise OutputExists(_("{path} is a folder that is neither empty nor a plitool bundle: --force replaces only a "
                             "bundle; choose another place or empty it yourself").format(path=output))
    scan = case.ledger.require_healthy()
    all_items = build_items(scan.entries)
    chosen = get_items(all_items, items) if items else list(all_items.values())
    if not chosen:
        raise UsageError(_("the case holds no evidence yet: nothing to bundle"))
    chosen = list({it.id: it for it in chosen}.values())
    planned = plan_exhibits(case, chosen, skip_bad=skip_bad, lang=lang)
    algorithms = list(dict.fromkeys(["sha256", "blake3", *case.config.digests]))

    parent = output.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=parent))
    except OSError as exc:
        raise StorageError(_("cannot create {path}: {reason}").format(path=output, reason=exc.strerror)) from exc
    try:
        exhibits = [ex for ex, _src in planned]
        for ex, src in planned:
            _copy_evidence(ex, src, tmp, algorithms)
        ledger_dir = tmp / "ledger"
        ledger_dir.mkdir()
        with case.locked(shared=True):
            shutil.copyfile(case.paths.ledger, ledger_dir / "ledger.jsonl", follow_symlinks=False)
            for sub in ("checkpoints", "timestamps", "trust"):
                _copy_tree(case.paths.state / sub, ledger_dir / sub)
        _write_proofs(case, exhibits, tmp, scan.entries)
        rows = _hash_rows(tmp, _all_files(tmp), algorithms)
        pre = render_manifest(ManifestFormat.SHA256SUM, [(r, s, d) for r, (s, d) in sorted(rows.items())])
        digest = bundle_digest(pre)
        created = iso_utc(utc_now())
        total = _write_exhibits_pdf(case, lang, exhibits, tmp, digest, created, progress, skip_bad)
        write_report(case, lang, exhibits, scan.entries, tmp / REPORT, digest, created, total)
        index = {
            "format": BUNDLE_FORMAT, "created": created, "tool": f"plitool {__version__}", "lang": lang,
            "case": {"title": case.config.title, "court": case.config.court, "number": case.config.number},
            "bundle_digest": {"sha256": digest, "covers": DIGEST_RULE, "excluded": list(NOT_IN_DIGEST)},
            "exhibits_pdf": {"file": EXHIBITS, "pages": total, "front_pages": exhibits[0].first_page - 1},
            "exhibits": [e.as_json() for e in exhibits],
            "ledger": {"file": "ledger/ledger.jsonl", "entries": len(scan.entries)},
            "sums": [SUMS[a] for a in algorithms if a in SUMS],
        }
        (tmp / INDEX).write_bytes(json.dumps(index, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        rows.update(_hash_rows(tmp, NOT_IN_DIGEST, algorithms))
        ordered = [(r, s, d) for r, (s, d) in sorted(rows.items())]
        fmts = {"sha256": ManifestFormat.SHA256SUM, "blake3": ManifestFormat.B3SUM, "sm3": ManifestFormat.SM3SUM}
        for algo, name in SUMS.items():
            if algo in algorithms:
                (tmp / name).write_text(render_manifest(fmts[algo], ordered), "utf-8")
        if bundle_digest((tmp / SUMS["sha256"]).read_text("utf-8")) != digest:
            raise AssertionError("the bundle digest does not follow from SHA256SUMS")
        exhibits_sha = rows[EXHIBITS][1]["sha256"]
        sums_sha = hash_file(tmp / SUMS["sha256"], ["sha256"]).digests["sha256"]
        for root, dirs, files in os.walk(tmp):
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
            fsync_dir(Path(root))
        _move_into_place(tmp, output, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = Path(os.path.abspath(output))
    with case.locked():
        case.ledger.append([
            NewEvent("exported", ex.id, {
                "reason": "exhibit bundle", "to": str(final / ex.file), "sha256": ex.digests["sha256"],
                "bundle": {"path": str(final), "digest": digest, "exhibits_pdf_sha256": exhibits_sha,
                           "sha256sums_sha256": sums_sha},
            }) for ex in exhibits
        ])
    return BundleResult(final, digest, exhibits, total, len(rows) + len([a for a in algorithms if a in SUMS]),
                        exhibits_sha, [e for e in exhibits if e.problem])


def _replaceable(folder: Path) -> bool:
    """An empty folder, or one holding a plitool bundle (its bundle.json says so): what --force
    may replace. A mistyped ``-o ~ --force`` must not delete a home folder."""
    with os.scandir(folder) as it:
        if next(it, None) is None:
            return True
    index = folder / INDEX
    try:
        if not stat.S_ISREG(os.lstat(index).st_mode) or os.lstat(index).st_size > 64 * 1024 * 1024:
            return False
        return bool(json.loads(index.read_bytes()).get("format") == BUNDLE_FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def _move_into_place(tmp: Path, output: Path, force: bool) -> None:
    """Rename the finished folder to ``output``; an old one (with --force) is moved aside first and
    removed only once the new one is in place. A link at ``output`` is replaced, never followed."""
    old: Path | None = None
    if os.path.lexists(output):
        if not force:
            raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=output))
        if os.path.islink(output) or not os.path.isdir(output):
            os.unlink(output)
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=tmp.parent))
            os.rename(output, old / "previous")
    try:
        os.rename(tmp, output)
    except OSError as exc:
        if old is not None:
            os.rename(old / "previous", output)
            shutil.rmtree(old, ignore_errors=True)
        raise StorageError(_("cannot write {path}: {reason}").format(path=output, reason=exc.strerror)) from exc
    fsync_dir(output.absolute().parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
