"""Turn evidence files into text units and tables, each piece with a precise location.

One extractor per format; each yields :class:`TextUnit` (a piece of text: a PDF line, a HAR
header, a JSON value, an e-mail line) and :class:`Table` (rows under a header row, so that each
column gets only the detector its header names). Everything streams: a CSV of any size is read
row by row, an XLSX sheet through openpyxl's read-only mode. DOCX and XLSX are zip files and are
checked against :class:`ArchiveLimits` before any parser sees them (zip bombs are refused).
Parser failures become :class:`~plitool.errors.CorruptDocument` naming the file.

Every file is hostile until read: time and memory are bounded per file (:class:`ArchiveLimits`).
Text is read in pieces of at most :data:`CHUNK_CHARS` characters that overlap, so a 100 MB line
costs no more than many short ones and a value across a piece boundary is still found once; a
JSON/HAR file too large to parse whole is scanned as text; a DOCX's XML, an XLSX's string table
and cells, a PDF's pages and an e-mail's nesting have ceilings, beyond which the file is refused
with its reason (or, for repeated PDF pages, read once).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import functools
import io
import json
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..errors import CorruptDocument, DocumentProblem, EncryptedDocument, UnreadableInput, UnsafeArchive
from ..i18n import _, ngettext
from .fields import field_for_label

if TYPE_CHECKING:
    from .ocr import OcrSettings, OcrTally

SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class TextUnit:
    text: str
    location: str
    field: str | None = None  # the field a header/label/key names for this text
    #: Only matches starting in [keep[0], keep[1]) count: the rest of ``text`` is overlap with the
    #: neighbouring pieces of a long line (seen there whole). None: the whole text.
    keep: tuple[int, int] | None = None


@dataclass
class Table:
    """Rows of cells under a header row (``headers`` None: no header was found).

    ``rows`` yields the cells of consecutive rows, the first numbered ``first_row`` (as people
    see it: the header of a CSV is row 1). Reading it may raise one of ``errors``: the file is
    damaged there. ``position`` tells how many bytes of the file were consumed (progress).
    """

    name: str
    headers: list[str] | None
    rows: Iterator[Sequence[Any]]
    first_row: int
    locate: Callable[[int, int], str]  # (row number, column index) -> location
    what: str = "table"
    errors: tuple[type[BaseException], ...] = ()
    position: Callable[[], int] | None = None


@dataclass(slots=True)
class Batch:
    """Many values without their locations, grouped by the field they sit under: what a JSON or
    HAR reader yields once the scanner only counts (:attr:`ExtractState.counting`). ``units``:
    how many text units they stand for (the values, as :class:`TextUnit` s, that are not empty)."""

    by_field: dict[str | None, list[str]]
    units: int


Part = TextUnit | Table | Batch


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one file may make the scanner decompress, hold and parse.

    The zip bounds (DOCX/XLSX) are checked on the declared sizes before anything is
    decompressed; the others while reading. Each keeps one file well under 1 GB of memory.
    """

    max_total: int = 256 << 20  # bytes, all members of a DOCX/XLSX together, as declared
    max_ratio: int = 200  # uncompressed : compressed, for members above ratio_floor
    ratio_floor: int = 8 << 20
    max_members: int = 20000
    max_docx_xml: int = 16 << 20  # a DOCX's XML parts together: python-docx builds a tree of them (~2 s/MiB)
    max_shared_strings: int = 2_000_000  # entries in an XLSX string table (openpyxl holds them all)
    max_shared_strings_bytes: int = 64 << 20
    max_cells: int = 10_000_000  # cells read from one XLSX
    max_pdf_pages: int = 10_000  # distinct pages whose text is extracted
    max_eml_bytes: int = 64 << 20  # the email package holds a message several times over
    max_eml_depth: int = 50  # nested MIME multiparts


@dataclass
class ExtractState:
    """What an extraction learnt on the way (filled while its parts are consumed)."""

    encoding: str | None = None
    replaced_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    #: False when the file has pages but none carries text (a PDF of scanned images).
    text_layer: bool = True
    #: Set by the reader's consumer once it needs no more locations (it only counts): the JSON
    #: and HAR readers then yield :class:`Batch` parts instead of text units.
    counting: bool = False


# -- decoding with a count of replaced bytes ---------------------------------------------

_tls = threading.local()
COUNTING = "plitool.count-replaced"


def _count_replaced(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    state = getattr(_tls, "state", None)
    if state is not None:
        state.replaced_bytes += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(COUNTING, _count_replaced)


class _Counting:
    """Route replaced-byte counts of decoding in this thread to ``state`` while active."""

    def __init__(self, state: ExtractState) -> None:
        self.state = state

    def __enter__(self) -> None:
        self.prev = getattr(_tls, "state", None)
        _tls.state = self.state

    def __exit__(self, *exc: object) -> None:
        _tls.state = self.prev


def detect_encoding(head: bytes) -> tuple[str, int]:
    """(Python codec name, BOM length) for text whose first bytes are ``head``.

    BOMs first (UTF-8, UTF-16); UTF-16 without a BOM by its NUL bytes; then UTF-8 if the sample
    is (almost all) valid UTF-8, else GB18030 (a superset of GBK and GB2312).
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:SNIFF_BYTES]
    if len(sample) >= 4 and sample.count(0) * 3 > len(sample):
        even = sample[0::2].count(0)
        odd = sample[1::2].count(0)
        return ("utf-16-be" if even > odd else "utf-16-le"), 0
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(sample, final=False)
        return "utf-8", 0
    except UnicodeDecodeError:
        pass
    non_ascii = len(sample) - len(sample.translate(None, bytes(range(0x80, 0x100))))
    invalid = _invalid_utf8(sample)
    if invalid * 5 <= non_ascii:  # mostly UTF-8 with some broken bytes
        return "utf-8", 0
    return "gb18030", 0


def _invalid_utf8(data: bytes) -> int:
    state = ExtractState()
    with _Counting(state):
        codecs.getincrementaldecoder("utf-8")(COUNTING).decode(data, final=False)
    return state.replaced_bytes


def _open_text(path: Path, state: ExtractState) -> io.TextIOWrapper[BinaryIO]:
    raw = _open_binary(path)
    head = raw.read(SNIFF_BYTES)
    encoding, bom = detect_encoding(head)
    raw.seek(bom)
    state.encoding = encoding
    return io.TextIOWrapper(raw, encoding=encoding, errors=COUNTING, newline="")


def _open_binary(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc


def _sample_text(path: Path, limit: int = SNIFF_BYTES) -> str:
    with _open_binary(path) as f:
        head = f.read(limit)
    encoding, bom = detect_encoding(head)
    text = head[bom:].decode(encoding, "replace")
    cut = text.rfind("\n")
    return text[: cut + 1] if cut > 0 and len(head) == limit else text


# -- long lines: bounded pieces that overlap ------------------------------------------------

#: A line longer than this (in characters) is read in pieces; memory stays bounded by it.
CHUNK_CHARS = 1 << 20
#: Characters shared by consecutive pieces: a value shorter than this is seen whole in one piece.
OVERLAP = 512
#: Characters before a piece's first kept position, so that "not glued to a letter" checks see
#: the character in front of a value.
CONTEXT = 64


def _lines(stream: io.TextIOBase, chunk: int = CHUNK_CHARS) -> Iterator[tuple[int, str, TextUnit | None]]:
    """(line number, line, None) for each line, or (line number, "", piece) for the pieces of a
    line longer than ``chunk``: TextUnits whose ``keep`` spans partition the line's positions, so
    every value is counted once, in the piece where it starts."""
    lineno = 0
    while True:
        line = stream.readline(chunk)
        if not line:
            return
        lineno += 1
        if len(line) < chunk or line.endswith(("\n", "\r")):
            yield lineno, line, None
            continue
        yield from ((lineno, "", unit) for unit in _pieces(stream, line, lineno, chunk))


def _pieces(stream: io.TextIOBase, first: str, lineno: int, chunk: int) -> Iterator[TextUnit]:
    carry = ""  # the end of the previous piece: OVERLAP + CONTEXT characters
    text = first
    offset = 0  # line position of text[len(carry)]
    while True:
        more = "" if text.endswith(("\n", "\r")) else stream.readline(chunk)
        last = not more
        base = offset - len(carry)  # line position of piece[0]
        piece = carry + text
        lo = CONTEXT if carry else 0
        hi = len(piece) if last else len(piece) - OVERLAP
        yield TextUnit(piece.rstrip("\r\n") if last else piece,
                       f"line {lineno} from character {base + lo + 1}", keep=(lo, hi))
        if last:
            return
        carry = piece[-(OVERLAP + CONTEXT):]
        offset += len(text)
        text = more


# -- which format ------------------------------------------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
    (b"RIFF", "RIFF media (WebP/WAV/AVI)"), (b"\x1f\x8b", "gzip archive"), (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"), (b"\xd0\xcf\x11\xe0", "legacy Office document (.doc/.xls)"),
    (b"SQLite format 3\x00", "SQLite database"), (b"\x00\x00\x00", "binary media (MP4/MOV?)"),
    (b"BZh", "bzip2 archive"), (b"\xfd7zXZ", "xz archive"), (b"%!PS", "PostScript"),
)
_EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".tsv": "tsv",
    ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".har": "har", ".eml": "eml",
    ".txt": "text", ".log": "text", ".md": "text", ".text": "text", ".xml": "text", ".html": "text",
    ".htm": "text", ".sql": "text", ".ini": "text", ".yaml": "text", ".yml": "text",
}
FORMATS = ("pdf", "docx", "xlsx", "csv", "tsv", "json", "jsonl", "har", "eml", "text", "image")


def sniff_format(path: Path, name: str) -> str:
    """One of :data:`FORMATS`, or ``"not scanned: <type>"``. ``name`` is the original file name
    (stored evidence has none of its own)."""
    ext = os.path.splitext(name)[1].lower()
    with _open_binary(path) as f:
        head = f.read(8192)
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return _EXTENSIONS.get(ext, "not scanned: damaged zip archive") if ext in (".docx", ".xlsx", ".xlsm") \
                else "not scanned: damaged zip archive"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "not scanned: zip archive" + (f" ({ext})" if ext else "")
    fmt = _EXTENSIONS.get(ext)
    if fmt in ("pdf", "docx", "xlsx"):
        return fmt  # wrong magic: the parser names it as a damaged file
    from .ocr import sniff_image

    if sniff_image(head) is not None:
        return "image"  # read by OCR (plitool.pii.ocr)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"not scanned: {kind}"
    if fmt is not None:
        return fmt
    if not head:
        return "text"
    encoding, bom = detect_encoding(head)
    if b"\x00" in head and not encoding.startswith("utf-16"):
        return "not scanned: binary data" + (f" ({ext})" if ext else "")
    text = head[bom:].decode(encoding, "replace").lstrip("\ufeff \r\n\t")
    if text.startswith(("{", "[")):
        return "json"
    if re.match(r"(?i)(return-path|received|from|message-id|mime-version|delivered-to|date|subject):", text):
        return "eml"
    return "text"


# -- extraction entry point --------------------------------------------------------------


def extract(
    path: Path,
    fmt: str,
    state: ExtractState,
    *,
    password: str | None = None,
    limits: ArchiveLimits = ArchiveLimits(),
    ocr: OcrSettings | None = None,
) -> Iterator[Part]:
    """The parts of one file in ``fmt``; raises :class:`CorruptDocument` & co. while iterating.
    ``ocr``: how images and PDF pages without text are read (:mod:`.ocr`; default: auto)."""
    from .ocr import OcrSettings

    ocr = ocr or OcrSettings()
    with _Counting(state):
        if fmt == "pdf":
            yield from _pdf(path, state, password, limits, ocr)
        elif fmt == "image":
            from .ocr import image_parts, sniff_image

            with _open_binary(path) as f:
                head = f.read(64)
            yield from image_parts(path, sniff_image(head) or "?", state, ocr)
        elif fmt == "docx":
            yield from _docx(path, state, limits)
        elif fmt == "xlsx":
            yield from _xlsx(path, state, limits)
        elif fmt in ("csv", "tsv"):
            yield from _csv(path, state, fmt)
        elif fmt in ("json", "har"):
            yield from _json(path, state, fmt, limits)
        elif fmt == "jsonl":
            yield from _jsonl(path, state)
        elif fmt == "eml":
            yield from _eml(path, state, limits)
        elif fmt == "text":
            yield from _text(path, state)
        else:
            raise ValueError(f"no extractor for {fmt!r}")


# -- PDF ---------------------------------------------------------------------------------


def pdf_failures() -> tuple[type[BaseException], ...]:
    from pypdf.errors import PyPdfError

    return (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, zlib.error, struct.error,
            RecursionError, NotImplementedError, AssertionError, OverflowError, UnicodeError, LookupError)


def _pdf_page_key(page: Any) -> tuple[Any, ...] | None:
    """What a page's text is made of: its content streams and resources, by object number.

    A page tree may list one page object (or pages sharing one content stream) thousands of
    times: 5 KB of PDF that would take hours to extract page by page. Equal keys, equal text.
    """
    ref = getattr(page, "indirect_reference", None)
    try:
        contents = page.get("/Contents")
        resources = page.get("/Resources")
    except Exception:  # noqa: BLE001 - a damaged dictionary: no key, the page is read as it is
        return None
    parts: list[tuple[Any, ...] | None] = []
    for value in (contents, resources):
        if value is None:
            parts.append(None)
        elif hasattr(value, "idnum"):
            parts.append(("ref", value.idnum, value.generation))
        elif isinstance(value, list) and all(hasattr(v, "idnum") for v in value):
            parts.append(("refs", tuple((v.idnum, v.generation) for v in value)))
        elif ref is not None:
            parts.append(("page", ref.idnum, ref.generation))  # inline: only the same page object is the same
        else:
            return None
    return tuple(parts)


def _pdf(path: Path, state: ExtractState, password: str | None, limits: ArchiveLimits,
         ocr: OcrSettings | None = None) -> Iterator[Part]:
    """Pages and document information are read independently: a broken information dictionary
    costs the metadata, not the text; a broken page costs that page (noted), not the others."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    from .ocr import OcrTally

    failures = pdf_failures()
    f = _open_binary(path)
    try:
        try:
            reader = PdfReader(f)
            if reader.is_encrypted:
                opened = reader.decrypt(password) if password is not None else reader.decrypt("")
                if not opened:
                    if password is None:
                        raise EncryptedDocument(_("the PDF is encrypted: give its password with --password"))
                    raise EncryptedDocument(_("the PDF is encrypted and --password does not open it"))
                state.notes.append(_("encrypted PDF opened with the given password") if password
                                   else _("encrypted PDF opened with an empty password"))
            pages = reader.pages
            count = len(pages)
        except FileNotDecryptedError as exc:
            raise EncryptedDocument(_("the PDF is encrypted: give its password with --password")) from exc
        except failures as exc:
            raise CorruptDocument(_("not a readable PDF ({kind}: {error})").format(kind=type(exc).__name__, error=exc)) from exc
        try:
            meta: dict[Any, Any] = dict(reader.metadata or {})  # DocumentInformation is a dict subclass
            info = [(str(key), meta.get(key)) for key in sorted(meta, key=str)]
        except failures as exc:
            info = []
            state.notes.append(_("document information not readable ({kind}: {detail}); the pages are read")
                               .format(kind=type(exc).__name__, detail=exc))
        for key, value in info:
            if isinstance(value, str) and value.strip():
                yield TextUnit(value, f"metadata {key}")
        seen: dict[tuple[Any, ...], int] = {}
        repeated = bad = with_text = read = 0
        ocr_done = OcrTally()
        for number in range(1, count + 1):
            try:
                page = pages[number - 1]
                page_key = _pdf_page_key(page)
                if page_key is not None and page_key in seen:
                    repeated += 1
                    continue
                if read >= limits.max_pdf_pages:
                    state.notes.append(_("only the first {limit} distinct pages of {count} were read (limit)")
                                       .format(limit=limits.max_pdf_pages, count=count))
                    break
                read += 1
                text = page.extract_text() or ""
            except failures as exc:
                bad += 1
                if bad <= 5:
                    state.notes.append(_("page {number} not readable ({kind}: {detail})")
                                       .format(number=number, kind=type(exc).__name__, detail=str(exc)[:200]))
                continue
            if page_key is not None:
                seen[page_key] = number
            if text.strip():
                with_text += 1
            for lineno, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    yield TextUnit(line, f"page {number} line {lineno}")
            if ocr is not None and (ocr.mode == "always" or (ocr.mode == "auto" and not text.strip())):
                yield from _pdf_ocr(path, number, page, state, ocr, password, ocr_done)
        if ocr_done.pages:
            from .ocr import LANGS

            state.notes.append(ngettext(
                "{count} page read by OCR (Tesseract {langs}, rendered at up to {dpi} dpi; boxes in those pixels)",
                "{count} pages read by OCR (Tesseract {langs}, rendered at up to {dpi} dpi; boxes in those pixels)",
                len(ocr_done.pages)).format(count=len(ocr_done.pages), langs="+".join(LANGS),
                                            dpi=ocr.limits.dpi if ocr else 300))
        if repeated:
            state.notes.append(_("{count} page(s) repeat the content of an earlier page: read once")
                               .format(count=repeated))
        if bad > 5:
            state.notes.append(_("{count} pages in all not readable").format(count=bad))
        if count and read and bad == read:
            raise CorruptDocument(_("not a readable PDF: none of its {count} pages could be read").format(count=count))
        if count and not with_text and bad < read:
            state.text_layer = False
            if not ocr_done.pages:
                state.notes.append(_("no text layer: scanned pages? ({count} page(s) without text; OCR them first)")
                                   .format(count=count))
            else:
                state.notes.append(_("no text layer: the pages are images (scanned?), read by OCR"))
    finally:
        f.close()


def _pdf_ocr(path: Path, number: int, page: Any, state: ExtractState, ocr: OcrSettings, password: str | None,
             done: OcrTally) -> Iterator[Part]:
    """OCR one page (see :mod:`.ocr`); a page OCR cannot read is noted, the others still read."""
    from .ocr import OcrUnavailable, pdf_page_lines

    if done.off:
        return
    if len(done.pages) >= ocr.limits.max_frames:
        if not done.capped:
            done.capped = True
            state.notes.append(_("only the first {limit} pages without text were read by OCR (limit)")
                               .format(limit=ocr.limits.max_frames))
        return
    try:
        box = page.mediabox
        size: tuple[float, float] | None = (float(box.width), float(box.height))
    except Exception:  # noqa: BLE001 - a damaged box: pdftoppm decides the size
        size = None
    try:
        yield from pdf_page_lines(path, number, size, state, ocr, password)
        done.pages.append(number)
    except OcrUnavailable as exc:
        state.notes.append(str(exc))
        done.off = True  # said once; the text layer of later pages is still read
    except DocumentProblem as exc:
        state.notes.append(str(exc))


# -- zip containers: DOCX, XLSX -----------------------------------------------------------


def check_archive(path: Path, limits: ArchiveLimits, what: str) -> None:
    """Refuse a zip whose declared contents exceed the limits (the members are not read).

    ``zipfile`` never returns more bytes than a member declares (then the CRC fails), so the
    declared sizes bound what any parser can be made to decompress.
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptDocument(_("not a readable {what} (damaged zip container: {error})").format(what=what, error=exc)) from exc
    if len(infos) > limits.max_members:
        raise UnsafeArchive(_("refused: the {what} holds {count} parts (limit {limit})").format(
            what=what, count=len(infos), limit=limits.max_members))
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafeArchive(
                _("refused: {name} in the {what} would expand {ratio}:1 "
                  "to {size} bytes (a zip bomb; limit {limit}:1)").format(
                    name=info.filename, what=what, ratio=info.file_size // max(info.compress_size, 1),
                    size=info.file_size, limit=limits.max_ratio)
            )
    if total > limits.max_total:
        raise UnsafeArchive(_("refused: the {what} would expand to {total} bytes (limit {limit})").format(
            what=what, total=total, limit=limits.max_total))
    if what == "DOCX":
        xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
        if xml > limits.max_docx_xml:
            raise UnsafeArchive(_("refused: the DOCX's XML would expand to {size} bytes (limit {limit}): too large "
                                  "to read safely").format(size=xml, limit=limits.max_docx_xml))
    if what == "XLSX":
        _check_shared_strings(path, infos, limits)


def _check_shared_strings(path: Path, infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """openpyxl holds an XLSX's whole string table in memory: bound its size and its entries.

    The entries are counted on the decompressed stream (bounded by the declared size), a piece at
    a time, before openpyxl parses anything.
    """
    info = next((i for i in infos if i.filename.lower() == "xl/sharedstrings.xml"), None)
    if info is None:
        return
    if info.file_size > limits.max_shared_strings_bytes:
        raise UnsafeArchive(_("refused: the XLSX's string table would expand to {size} bytes (limit {limit})")
                            .format(size=info.file_size, limit=limits.max_shared_strings_bytes))
    entries = 0
    tail = b""
    with zipfile.ZipFile(path) as z, z.open(info) as f:
        while chunk := f.read(1 << 20):
            data = tail + chunk
            entries += data.count(b"<si>") + data.count(b"<si ") - tail.count(b"<si>") - tail.count(b"<si ")
            tail = data[-3:]
            if entries > limits.max_shared_strings:
                raise UnsafeArchive(_("refused: the XLSX's string table holds more than {limit} strings")
                                    .format(limit=limits.max_shared_strings))


def _zip_failures() -> tuple[type[BaseException], ...]:
    from lxml.etree import LxmlError

    return (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, IndexError, zlib.error, EOFError,
            LxmlError, NotImplementedError)


def _docx(path: Path, state: ExtractState, limits: ArchiveLimits) -> Iterator[Part]:
    check_archive(path, limits, "DOCX")
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    failures = _zip_failures() + (PackageNotFoundError,)
    try:
        with _open_binary(path) as f:
            document = docx.Document(f)  # a file object: the stored copy has no ".docx" ending
        props = document.core_properties
        for key in ("author", "last_modified_by", "title", "subject", "keywords", "comments", "category"):
            value = getattr(props, key, None)
            if isinstance(value, str) and value.strip():
                yield TextUnit(value, f"properties {key}")
        for number, para in enumerate(document.paragraphs, start=1):
            if para.text.strip():
                yield TextUnit(para.text, f"paragraph {number}")
        for tnum, table in enumerate(document.tables, start=1):
            rows = [[cell.text for cell in row.cells] for row in table.rows]
            yield from _docx_table(f"table {tnum}", rows, _docx_locator(f"table {tnum}"))
        for snum, section in enumerate(document.sections, start=1):
            for where, part in (("header", section.header), ("footer", section.footer)):
                if part.is_linked_to_previous and snum > 1:
                    continue
                for pnum, para in enumerate(part.paragraphs, start=1):
                    if para.text.strip():
                        yield TextUnit(para.text, f"section {snum} {where} paragraph {pnum}")
                for tnum, table in enumerate(part.tables, start=1):
                    rows = [[cell.text for cell in row.cells] for row in table.rows]
                    yield from _docx_table(f"{where} table {tnum}", rows,
                                           _docx_locator(f"section {snum} {where} table {tnum}"))
    except (CorruptDocument, UnsafeArchive):
        raise
    except failures as exc:
        raise CorruptDocument(_("not a readable DOCX ({kind}: {error})").format(kind=type(exc).__name__, error=exc)) from exc


def _docx_locator(prefix: str) -> Callable[[int, int], str]:
    """(row number, column index) -> location inside the DOCX table named by ``prefix``."""

    def locate(r: int, c: int) -> str:
        return f"{prefix} row {r} col {c + 1}"

    return locate


def _is_form(rows: list[list[str]]) -> bool:
    """A form: label | value pairs side by side (姓名 | 张三 | 性别 | 男), the usual layout of Chinese
    statements and registration sheets. Most rows then start with a field's label, while the
    first row of a data table is its only row of labels."""
    labelled = sum(1 for row in rows if row and field_for_label(row[0].strip()))
    return len(rows) >= 2 and labelled >= 2 and labelled * 2 >= len(rows)


def _docx_table(name: str, rows: list[list[str]], locate: Callable[[int, int], str]) -> Iterator[Part]:
    if not _is_form(rows):
        yield _table_from_rows(name, rows, locate)
        return
    for r, row in enumerate(rows, start=1):
        c = 0
        while c < len(row):
            text = row[c].strip()
            field = field_for_label(text) if text else None
            if field and c + 1 < len(row):
                # the label names the field of the cell beside it; the label itself is no value
                if row[c + 1].strip():
                    yield TextUnit(row[c + 1], locate(r, c + 1), field)
                c += 2
                continue
            if text:
                yield TextUnit(row[c], locate(r, c))
            c += 1


def _table_from_rows(name: str, rows: list[list[str]], locate: Callable[[int, int], str]) -> Table:
    header = rows[0] if rows else []
    if rows and any(field_for_label(h) for h in header):
        return Table(name, list(header), iter(rows[1:]), 2, locate, "DOCX table")
    return Table(name, None, iter(rows), 1, locate, "DOCX table")


def _cell_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e19 else repr(value)
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)


def _xlsx(path: Path, state: ExtractState, limits: ArchiveLimits) -> Iterator[Part]:
    check_archive(path, limits, "XLSX")
    failures = _zip_failures()
    try:
        import openpyxl
        from openpyxl.utils import get_column_letter
        from openpyxl.utils.exceptions import InvalidFileException

        failures = failures + (InvalidFileException, SyntaxError)  # (xml's ParseError is a SyntaxError)
        # A file object, never the path: openpyxl refuses a path that does not end in .xlsx, and
        # the stored copy of evidence has no ending at all.
        f = _open_binary(path)
        try:
            wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        except BaseException:
            f.close()
            raise
    except failures as exc:
        raise CorruptDocument(_("not a readable XLSX ({kind}: {error})").format(kind=type(exc).__name__, error=exc)) from exc
    read = [0]  # cells read so far, all sheets
    try:
        for ws in wb.worksheets:
            yield from _sheet(ws, get_column_letter, failures, read, limits.max_cells)
    finally:
        wb.close()
        f.close()


def _sheet(ws: Any, letter: Callable[[int], str], failures: tuple[type[BaseException], ...], read: list[int],
           max_cells: int) -> Iterator[Part]:
    title = ws.title

    def rows() -> Iterator[list[str | None]]:
        try:
            ws.reset_dimensions()  # some writers record a wrong sheet size; read what is there
            for row in ws.iter_rows(values_only=True):
                read[0] += len(row)
                if read[0] > max_cells:
                    raise UnsafeArchive(_("refused: the XLSX holds more than {limit} cells (read up to sheet "
                                          "{sheet!r})").format(limit=max_cells, sheet=title))
                yield [_cell_text(v) for v in row]
        except failures as exc:
            raise CorruptDocument(_("not a readable XLSX: sheet {sheet!r} ({kind}: {error})").format(
                sheet=title, kind=type(exc).__name__, error=exc)) from exc

    it = rows()
    number = 0
    first: list[str | None] | None = None
    for cells in it:
        number += 1
        if any(c not in (None, "") for c in cells):
            first = cells
            break
    if first is None:
        return
    locate = lambda r, c: f"{title}!{letter(c + 1)}{r}"  # noqa: E731
    if any(field_for_label(c) for c in first):
        yield Table(title, [c or "" for c in first], it, number + 1, locate, "XLSX sheet")
    else:
        yield Table(title, None, _chain_first(first, it), number, locate, "XLSX sheet")


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


# -- CSV / TSV ---------------------------------------------------------------------------


def _longest_line_exceeds(path: Path, limit: int) -> bool:
    """Whether a physical line of the file is longer than ``limit`` bytes (one streaming pass)."""
    run = 0
    with _open_binary(path) as f:
        while block := f.read(1 << 20):
            last = block.rfind(b"\n")
            if last < 0:
                run += len(block)
            else:
                first = block.find(b"\n")
                if run + first > limit:
                    return True
                if last - first > limit and max(map(len, block[first:last].split(b"\n"))) > limit:
                    return True
                run = len(block) - last - 1
            if run > limit:
                return True
    return False


def _csv(path: Path, state: ExtractState, fmt: str) -> Iterator[Part]:
    if _longest_line_exceeds(path, CHUNK_CHARS):
        # csv would build one row of millions of cells (or one giant cell) in memory
        state.notes.append(_("a line is longer than {limit} bytes: not read as a table; scanned as text in pieces")
                           .format(limit=CHUNK_CHARS))
        yield from _text(path, state)
        return
    sample = _sample_text(path)
    lines = sample.splitlines(keepends=True)[:50]
    delimiter = "\t" if fmt == "tsv" else ","
    try:
        dialect = csv.Sniffer().sniff("".join(lines), delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        pass
    state.notes.append(_("delimiter {delimiter!r}").format(delimiter=delimiter))
    stream = _open_text(path, state)
    raw = stream.buffer
    previous_limit = csv.field_size_limit(CHUNK_CHARS)  # a quoted cell may span lines: bound it too
    try:
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CorruptDocument(_("not a readable CSV at row 1: {error}").format(error=exc)) from exc
        names = [h.strip().lstrip("\ufeff") for h in header]
        has_header = any(field_for_label(h) for h in names)
        if not has_header:
            state.notes.append(_("no header naming a field: every column gets every detector"))
            try:
                has_header = csv.Sniffer().has_header("".join(lines)) if len(lines) > 2 else False
            except csv.Error:
                has_header = False
        headers = names if has_header else None

        def locate(r: int, c: int) -> str:
            label = f" ({names[c]})" if headers is not None and c < len(names) and names[c] else ""
            return f"row {r} col {c + 1}{label}"

        rows: Iterator[Sequence[str]] = reader if headers is not None else _chain_first(header, reader)
        yield Table(path.name, headers, rows, 2 if headers is not None else 1, locate, fmt.upper(), (csv.Error,),
                    raw.tell)
    finally:
        csv.field_size_limit(previous_limit)
        stream.close()


# -- JSON, JSON Lines, HAR -----------------------------------------------------------------


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=1 << 16)
def _key_step(key: str) -> tuple[str, str | None]:
    """A key's path step and the field it names: decided once per distinct key (a dump of a
    million records repeats the same ten keys)."""
    step = f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key, ensure_ascii=False)}]"
    return step, field_for_label(key)


def _json_units(obj: Any, prefix: str, field: str | None = None, root: str = "$") -> Iterator[TextUnit]:
    """Every scalar of a JSON value, with a JSONPath-like location and the field its key names."""
    stack: list[tuple[Any, str, str | None]] = [(obj, root, field)]
    while stack:
        value, where, fld = stack.pop()
        if isinstance(value, dict):
            for key in reversed(list(value)):
                step, named = _key_step(str(key))
                stack.append((value[key], where + step, named or fld))
        elif isinstance(value, list):
            for i in reversed(range(len(value))):
                stack.append((value[i], f"{where}[{i}]", fld))
        elif isinstance(value, str):
            if value:
                yield TextUnit(value, f"{prefix}{where}", fld)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield TextUnit(_cell_text(value) or "", f"{prefix}{where}", fld)
        elif isinstance(value, Decimal):  # ijson's non-integer numbers: as json.load's float
            yield TextUnit(_cell_text(float(value)) or "", f"{prefix}{where}", fld)


#: key → the field it names (None: none), for :func:`_collect`; cleared when full
_KEY_FIELDS: dict[str, str | None] = {}
_NO_FIELD = object()


def _collect(obj: Any, field: str | None, out: dict[str | None, list[str]]) -> int:
    """The scalars of a JSON value, as :func:`_json_units` gives them (the same texts under the
    same fields), gathered into ``out`` by field, without locations nor order. Returns how many."""
    n = 0
    stack: list[tuple[Any, str | None]] = [(obj, field)]
    fields = _KEY_FIELDS
    while stack:
        value, fld = stack.pop()
        t = type(value)
        if t is dict:
            for key, v in value.items():
                named = fields.get(key, _NO_FIELD)
                if named is _NO_FIELD:
                    named = _key_step(str(key))[1]
                    if len(fields) >= 1 << 16:
                        fields.clear()
                    fields[key] = named  # type: ignore[assignment]
                f = fld if named is None else named
                tv = type(v)
                if tv is str:
                    if v:
                        n += 1
                        out.setdefault(f, []).append(v)  # type: ignore[arg-type]
                elif tv is dict or tv is list:
                    stack.append((v, f))  # type: ignore[arg-type]
                elif tv is int:
                    n += 1
                    out.setdefault(f, []).append(str(v))  # type: ignore[arg-type]
                elif tv is float or tv is Decimal:
                    n += 1
                    out.setdefault(f, []).append(_cell_text(float(v)) or "")  # type: ignore[arg-type]
            continue
        for v in value if t is list else (value,):
            tv = type(v)
            if tv is str:
                if v:
                    n += 1
                    out.setdefault(fld, []).append(v)
            elif tv is dict or tv is list:
                stack.append((v, fld))
            elif tv is int:
                n += 1
                out.setdefault(fld, []).append(str(v))
            elif tv is float or tv is Decimal:
                n += 1
                out.setdefault(fld, []).append(_cell_text(float(v)) or "")
    return n


#: Values of a JSON dump or a HAR gathered into one :class:`Batch` (about this many).
BATCH_UNITS = 1 << 14


def _json_whole(path: Path, state: ExtractState, fmt: str) -> Iterator[Part]:
    """The document parsed whole with :func:`json.load`, then walked: what :func:`_json` did
    before it streamed. Kept as the reference the streaming reader is tested against."""
    with _open_text(path, state) as stream:
        try:
            doc = json.load(stream)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CorruptDocument(_("not a readable {format} file ({error})").format(format=fmt.upper(), error=exc)) from exc
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if isinstance(entries, list):
        yield from _har(entries, state)
    elif fmt == "har":
        raise CorruptDocument(_("not a HAR 1.2 file (no log.entries list)"))
    else:
        yield from _json_units(doc, "")


@functools.cache
def _ijson() -> Any:
    """ijson's C backend (yajl2_c) when it is built, else its default."""
    import ijson  # type: ignore[import-untyped]

    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:  # pragma: no cover - depends on the wheel
        return ijson


#: An item of a top-level array is built whole (in C) while it stays under this many bytes;
#: past it the document is walked event by event instead (memory bounded by the longest value).
MAX_BUILT_ITEM = 16 << 20


class _ItemTooLarge(Exception):
    pass


class _Utf8Reader:
    """Bytes for ijson: the file decoded as :func:`_open_text` decodes it (detected encoding,
    undecodable bytes replaced and counted), encoded again as UTF-8.

    yajl re-reads a token that spans reads from its start each time more arrives: a string of
    L bytes read in pieces of B costs L²/B. A read holding no quote character is inside such a
    token (or a run of numbers), so the next one is twice as large (up to :data:`MAX_READ`):
    a long string costs a few times its length, not its square."""

    __slots__ = ("stream", "chars", "head", "built", "limit")

    def __init__(self, stream: io.TextIOBase, head: str = "", limit: int | None = MAX_BUILT_ITEM) -> None:
        self.stream = stream
        self.chars = READ_CHARS
        self.head = head
        self.built = 0  # bytes read since the last item was built (see _json)
        self.limit = limit

    def read(self, n: int = -1) -> bytes:
        if n == 0:
            return b""
        if self.head:
            text, self.head = self.head, ""
        else:
            text = self.stream.read(self.chars)
        data = text.encode("utf-8", "surrogatepass")
        self.chars = READ_CHARS if b'"' in data else min(self.chars * 2, MAX_READ)
        self.built += len(data)
        if self.limit is not None and self.built > self.limit:
            raise _ItemTooLarge
        return data


READ_CHARS = 1 << 18
MAX_READ = 1 << 25


#: Values read before a document shows it is a HAR (the ``entries`` list under ``log``) are held
#: back, as a HAR's own header is not scanned; past this many they are scanned as plain JSON.
HAR_LOOKAHEAD_UNITS = 10_000


def _json(path: Path, state: ExtractState, fmt: str, limits: ArchiveLimits) -> Iterator[Part]:
    """A JSON or HAR document, streamed: memory is bounded by the longest value (and, in a HAR,
    the largest entry), never by the file.

    The locations and fields are those of :func:`_json_units` on the whole document, and a HAR
    (``log.entries`` a list, whatever the file's extension) is read entry by entry through
    :func:`_har`, as :func:`_json_whole` did. A document that is an array (a dump of records) has
    its items built by ijson's C builder and walked one at a time; anything else, or an item over
    :data:`MAX_BUILT_ITEM`, is walked from ijson's events (:func:`_json_events`). A key repeated in
    one object is scanned at each place it occurs (a whole parse keeps only its last value,
    which could hide data).
    """
    from ijson.common import JSONError  # type: ignore[import-untyped]

    backend = _ijson()
    replaced = state.replaced_bytes
    done = 0  # items of a top-level array scanned whole

    def entries_again() -> Iterator[Any]:
        """A HAR's entries, each built by ijson's C builder, read again from the start: every
        list at ``log.entries`` (should the document repeat the key) is read as entries, and the
        rest of the document must be well-formed."""
        state.replaced_bytes = replaced  # read again from the start: count the replaced bytes once
        with _open_text(path, state) as stream:
            yield from backend.items(_Utf8Reader(stream, "", limit=None), "log.entries.item")
    try:
        with _open_text(path, state) as stream:
            head = stream.read(READ_CHARS)
            array = fmt == "json" and head.lstrip("\ufeff \t\r\n").startswith("[")
            reader = _Utf8Reader(stream, head, limit=MAX_BUILT_ITEM if array else None)
            if array:
                by_field: dict[str | None, list[str]] = {}
                pending = 0  # units gathered in by_field, not yet yielded
                try:
                    for item in backend.items(reader, "item"):
                        if state.counting:
                            pending += _collect(item, None, by_field)
                            if pending >= BATCH_UNITS:
                                yield Batch(by_field, pending)
                                by_field, pending = {}, 0
                        else:
                            yield from _json_units(item, "", root=f"$[{done}]")
                        done += 1
                        reader.built = 0
                    if pending:
                        yield Batch(by_field, pending)
                    return
                except (_ItemTooLarge, JSONError) as exc:
                    if pending:  # the items read before: counted as before
                        yield Batch(by_field, pending)
                    if not isinstance(exc, _ItemTooLarge):
                        raise
            else:
                yield from _json_events(iter(backend.basic_parse(reader)), state, fmt, entries_again)
                return
        state.replaced_bytes = replaced  # read again from the start: count the replaced bytes once
        with _open_text(path, state) as stream:
            yield from _json_events(iter(backend.basic_parse(_Utf8Reader(stream, "", limit=None))), state, fmt,
                                    entries_again, skip=done)
    except JSONError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptDocument(_("not a readable {format} file ({error})").format(
            format=fmt.upper(), error=detail)) from exc


def _number(value: Any) -> str:
    """A JSON number as :func:`_json_units` writes it (ijson gives ints and Decimals; json.load
    gives ints and floats)."""
    return str(value) if type(value) is int else _cell_text(float(value)) or ""


def _json_events(events: Iterator[tuple[str, Any]], state: ExtractState, fmt: str,
                 har_entries: Callable[[], Iterator[Any]], skip: int = 0) -> Iterator[Part]:
    """Text units from ijson's ``basic_parse`` events (see :func:`_json`); ``skip``: the first
    items of a top-level array were scanned already. Once the document shows it is a HAR, its
    entries come from ``har_entries`` (read again, built in C) and these events are left."""
    is_map: list[bool] = []  # per open container
    fields: list[str | None] = []  # the field its values inherit
    counters: list[int] = []  # arrays: the next index
    steps: list[int] = []  # the length of the step that led into it
    key_step = ""  # in a map: the current key's path step …
    key_field: str | None = None  # … and the field it names (or the map's)
    path = "$"  # of the open container (of the value, at the top)
    keys: list[str] = []  # the keys leading to the open containers, up to depth 2 (HAR detection)
    # A HAR may still be forming while the root object is open: units are held back (None:
    # given up, past HAR_LOOKAHEAD_UNITS; a HAR file's header is never scanned)
    held: list[TextUnit] | None = [] if fmt == "json" else None
    maybe_har = True
    spilled = False
    har = fmt == "har"
    for event, value in events:
        if event == "map_key":
            key_step, named = _key_step(value)
            key_field = named or fields[-1]
            if len(is_map) <= 2:
                del keys[len(is_map) - 1:]
                keys.append(value)
            continue
        depth = len(is_map)
        if event == "end_map" or event == "end_array":
            is_map.pop()
            fields.pop()
            counters.pop()
            cut = steps.pop()
            path = path[: len(path) - cut]
            if depth == 1 and maybe_har and held:  # the end of the document: not a HAR
                yield from held
                held = None
            continue
        # a value: its path step and field
        if not depth:
            step, fld = "", None
        elif is_map[-1]:
            step, fld = key_step, key_field
        else:
            i = counters[-1]
            counters[-1] = i + 1
            step, fld = f"[{i}]", fields[-1]
        if event == "start_map" or event == "start_array":
            if (event == "start_array" and depth == 2 and maybe_har and keys == ["log", "entries"]
                    and is_map[0] and is_map[1]):
                # a HAR: its entries one at a time; whatever else the document holds is not scanned
                if spilled:
                    state.notes.append(_("the HAR's log.entries list comes after more than {n} other values, "
                                         "which were scanned as JSON").format(n=HAR_LOOKAHEAD_UNITS))
                yield from _har(har_entries(), state)
                return
            is_map.append(event == "start_map")
            fields.append(fld)
            counters.append(0)
            steps.append(len(step))
            path += step
            if depth == 0 and event == "start_array":
                maybe_har = False
                held = None
            continue
        if event == "string":
            if not value:
                continue
            unit = TextUnit(value, path + step, fld)
        elif event == "number":
            unit = TextUnit(_number(value), path + step, fld)
        else:  # boolean, null
            continue
        if not maybe_har or held is None:
            if not har and not (skip and counters and counters[0] <= skip):
                yield unit
        else:
            held.append(unit)
            if len(held) > HAR_LOOKAHEAD_UNITS:
                yield from held
                held = None
                spilled = True
    if har:  # the whole document read, and no log.entries list in it
        raise CorruptDocument(_("not a HAR 1.2 file (no log.entries list)"))
    if held:  # a document that is one string or number
        yield from held


def _jsonl(path: Path, state: ExtractState) -> Iterator[Part]:
    bad = 0
    long = 0
    by_field: dict[str | None, list[str]] = {}  # while counting (ExtractState.counting): values not yet given
    pending = 0
    with _open_text(path, state) as stream:
        try:
            for lineno, line, piece in _lines(stream):
                if piece is not None:
                    long += piece.keep is not None and piece.keep[0] == 0
                    yield piece
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    bad += 1
                    yield TextUnit(line.rstrip("\r\n"), f"line {lineno}")
                    continue
                if state.counting:
                    pending += _collect(obj, None, by_field)
                    if pending >= BATCH_UNITS:
                        yield Batch(by_field, pending)
                        by_field, pending = {}, 0
                else:
                    yield from _json_units(obj, f"line {lineno} ")
        except Exception:
            if pending:  # the lines read before the damage: counted as before
                yield Batch(by_field, pending)
            raise
        if pending:
            yield Batch(by_field, pending)
    if bad:
        state.notes.append(_("{count} line(s) are not JSON; scanned as text").format(count=bad))
    if long:
        state.notes.append(_("{count} line(s) longer than {limit} characters scanned as text in pieces")
                           .format(count=long, limit=CHUNK_CHARS))


class _Units:
    """Where a HAR entry's values go while the scan lists findings: text units with locations."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[TextUnit] = []

    def text(self, text: str, where: str, field: str | None) -> None:
        self.parts.append(TextUnit(text, where, field))

    def json(self, obj: Any, where: str) -> None:
        self.parts.extend(_json_units(obj, where + " "))


class _Fields:
    """… and once it only counts: the texts by field (:class:`Batch`), no locations."""

    __slots__ = ("by_field", "units")

    def __init__(self) -> None:
        self.by_field: dict[str | None, list[str]] = {}
        self.units = 0

    def text(self, text: str, where: str, field: str | None) -> None:
        self.by_field.setdefault(field, []).append(text)
        self.units += 1

    def json(self, obj: Any, where: str) -> None:
        self.units += _collect(obj, None, self.by_field)


_Sink = _Units | _Fields


@functools.lru_cache(maxsize=1 << 12)
def _label_field(name: str) -> str | None:
    """The field a header, cookie or parameter name names (a capture repeats the same names)."""
    return field_for_label(name)


def _body(text: str, mime: str, where: str, sink: _Sink) -> None:
    stripped = text.lstrip()
    if "json" in mime or stripped.startswith(("{", "[")):
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            sink.json(obj, where)
            return
    if "x-www-form-urlencoded" in mime:
        for key, value in parse_qsl(text, keep_blank_values=False):
            sink.text(value, f"{where} [{key}]", _label_field(key))
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            sink.text(line, f"{where} line {lineno}", None)


def _named(items: Any, where: str, sink: _Sink) -> None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"]:
            name = str(item.get("name", ""))
            sink.text(item["value"], f"{where}[{name}]", _label_field(name))


def _dict_at(obj: dict[Any, Any], key: str) -> dict[Any, Any]:
    """``obj[key]`` when it is a JSON object, else an empty one."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _har(entries: Iterable[Any], state: ExtractState) -> Iterator[Part]:
    """A HAR's entries: each entry's text units while the scan lists findings, then (once it
    only counts, :attr:`ExtractState.counting`) the values of many entries in one :class:`Batch`."""
    batch: _Fields | None = None
    try:
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict):
                continue
            if state.counting:
                batch = batch or _Fields()
                _har_entry(entry, number, state, batch)
                if batch.units >= BATCH_UNITS:
                    yield Batch(batch.by_field, batch.units)
                    batch = None
            else:
                units = _Units()
                _har_entry(entry, number, state, units)
                yield from units.parts
    except Exception:
        if batch is not None and batch.units:  # the entries read before the damage: counted as before
            yield Batch(batch.by_field, batch.units)
        raise
    if batch is not None and batch.units:
        yield Batch(batch.by_field, batch.units)


def _har_entry(entry: dict[Any, Any], number: int, state: ExtractState, sink: _Sink) -> None:
    tag = f"entry {number}"
    request = _dict_at(entry, "request")
    response = _dict_at(entry, "response")
    url = request.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        sink.text(urlunsplit((parts.scheme, parts.netloc, parts.path, "", parts.fragment)), f"{tag} request.url", None)
        if isinstance(request.get("queryString"), list) and request["queryString"]:
            _named(request["queryString"], f"{tag} request.queryString", sink)
        else:
            for key, value in parse_qsl(parts.query):
                sink.text(value, f"{tag} request.url ?{key}", _label_field(key))
    for side, msg in (("request", request), ("response", response)):
        cookies = msg.get("cookies")
        skip = {"cookie", "set-cookie"} if isinstance(cookies, list) and cookies else set()
        _named([h for h in msg.get("headers") or [] if isinstance(h, dict)
                and str(h.get("name", "")).lower() not in skip], f"{tag} {side}.headers", sink)
        _named(cookies, f"{tag} {side}.cookies", sink)
    post = _dict_at(request, "postData")
    if post:
        _named(post.get("params"), f"{tag} request.postData.params", sink)
        if isinstance(post.get("text"), str) and post["text"]:
            _body(post["text"], str(post.get("mimeType", "")), f"{tag} request.postData", sink)
    redirect = response.get("redirectURL")
    if isinstance(redirect, str) and redirect:
        sink.text(redirect, f"{tag} response.redirectURL", None)
    content = _dict_at(response, "content")
    body = content.get("text")
    if isinstance(body, str) and body:
        mime = str(content.get("mimeType", ""))
        where = f"{tag} response.content"
        if content.get("encoding") == "base64":
            try:
                data = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError):
                state.notes.append(_("{where}: base64 body cannot be decoded; scanned as it stands").format(
                    where=where))
            else:
                if _looks_binary(data, mime):
                    state.notes.append(_("{where}: binary body ({type}) not scanned").format(
                        where=where, type=mime or _("unknown type")))
                    return
                body = data.decode(detect_encoding(data[:SNIFF_BYTES])[0], COUNTING)
                where += " (base64)"
        _body(body, mime, where, sink)


def _looks_binary(data: bytes, mime: str) -> bool:
    if mime.startswith(("image/", "audio/", "video/", "font/")) or "octet-stream" in mime or "protobuf" in mime:
        return True
    return b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


# -- e-mail, text ------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")


#: Headers that only describe the message's structure. A multipart boundary is a long random
#: digit run that passes the Luhn check one time in ten: scanning it invents bank cards.
_MIME_STRUCTURE = frozenset({"content-type", "content-transfer-encoding", "mime-version"})


_BOUNDARY = re.compile(rb"""(?im)^[ \t]*content-type:[^\n]*(?:\n[ \t][^\n]*)*?boundary=["']?([^"';\s]+)""")


_CLOSE_DELIMITER = re.compile(rb"(?m)^--([^\s]+?)--[ \t]*\r?$")


def _mime_depth(data: bytes) -> int:
    """How deeply the multiparts of a raw message nest (by their boundaries), without parsing it.

    One pass: each ``boundary=`` opens a level, its close delimiter ``--boundary--`` ends it.
    """
    events = sorted([(m.start(), 1, m.group(1)) for m in _BOUNDARY.finditer(data)]
                    + [(m.start(), 0, m.group(1)) for m in _CLOSE_DELIMITER.finditer(data)])
    stack: list[bytes] = []
    deepest = 0
    for _pos, opens, boundary in events:
        if opens:
            stack.append(boundary)
            deepest = max(deepest, len(stack))
        elif boundary in stack:
            del stack[len(stack) - 1 - stack[::-1].index(boundary):]
    return deepest


def _walk(msg: Any, limit: int) -> Iterator[Any]:
    """The parts of a message, depth first, without recursion, refusing nesting beyond ``limit``."""
    stack: list[tuple[Any, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > limit:
            raise UnsafeArchive(_("refused: MIME parts nested more than {limit} deep").format(limit=limit))
        yield part
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))


def _eml(path: Path, state: ExtractState, limits: ArchiveLimits) -> Iterator[Part]:
    import email
    from email import policy

    size = os.stat(path).st_size
    if size > limits.max_eml_bytes:
        raise UnsafeArchive(_("refused: an e-mail of {size} bytes (limit {limit})").format(
            size=size, limit=limits.max_eml_bytes))
    with _open_binary(path) as f:
        data = f.read()
    depth = _mime_depth(data)
    if depth > limits.max_eml_depth:
        raise UnsafeArchive(_("refused: MIME parts nested {depth} deep (limit {limit})").format(
            depth=depth, limit=limits.max_eml_depth))
    try:
        msg = email.message_from_bytes(data, policy=policy.default)
    except RecursionError as exc:  # nesting the boundary count did not see (message/rfc822 parts)
        raise UnsafeArchive(_("refused: MIME parts nested too deeply to read")) from exc
    del data
    for name, value in msg.items():
        if name.lower() in _MIME_STRUCTURE:
            continue
        yield TextUnit(str(value), f"header {name}", field_for_label(name))
    for number, part in enumerate(_walk(msg, limits.max_eml_depth), start=1):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        if part.get_content_maintype() != "text" or (filename and part.get_content_disposition() == "attachment"):
            if filename:
                state.notes.append(_("attachment {name!r} ({type}) not scanned: add it as evidence to scan it").format(
                    name=filename, type=ctype))
            continue
        try:
            text = part.get_content()
        except (LookupError, UnicodeError, AssertionError):
            payload = part.get_payload(decode=True)  # bytes (or None) for a non-multipart part
            text = (payload if isinstance(payload, bytes) else b"").decode("utf-8", COUNTING)
        if ctype == "text/html":
            text = _TAG.sub(" ", text)
        for lineno, line in enumerate(str(text).splitlines(), start=1):
            if line.strip():
                yield TextUnit(line, f"part {number} ({ctype}) line {lineno}")


def _text(path: Path, state: ExtractState) -> Iterator[Part]:
    with _open_text(path, state) as stream:
        for lineno, line, piece in _lines(stream):
            if piece is not None:
                yield piece
            elif line.strip():
                yield TextUnit(line.rstrip("\r\n"), f"line {lineno}")
