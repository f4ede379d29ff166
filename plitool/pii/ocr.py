"""Read text from images and image-only PDF pages with Tesseract, each word with its box.

Screenshots (PNG, JPEG, WebP, BMP, every frame of a TIFF) and PDF pages without a text layer are
turned into :class:`OcrLine` units: the lines of one OCR paragraph joined (a phone number wrapped
over two lines of a chat bubble is one value), with the box and confidence of every word, so a
value found at characters ``[a, b)`` of the text is placed on the image (``page 2 box
120,340,410,372``) and carries the lowest confidence of the words it covers.

Engine: Tesseract 5 (``tesseract-ocr`` with ``chi_sim`` and ``eng`` from Debian) run as a
subprocess, one page at a time, with a timeout, one thread and an address-space limit: a hostile
image costs one page's bounded time and memory, never the batch. Nothing is downloaded.

Before any pixel is decoded the header's size is checked (:class:`OcrLimits`): a decompression
bomb is refused; a JPEG too large is decoded at 1/2 … 1/8 scale; an image above the OCR budget is
downscaled, with a note. PDF pages are rendered by ``pdftoppm`` (poppler), which draws whatever a
page holds (JBIG2 and CCITT scans, vector text drawn as outlines), at 300 dpi or less for pages
so large that 300 dpi would exceed the pixel budget.

OCR mistakes inside digit runs are repaired before detection (``O``/``o`` → 0, ``l``/``I``/``|``
→ 1 in a run of digits; a mobile or ID number split by spaces or a line break is joined); masks
such as ``138****5678`` are left as they stand, so they stay partial values.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorruptDocument, DocumentProblem, UnsafeArchive
from ..i18n import N_, _, ngettext
from .extract import ExtractState, TextUnit

LANGS = ("chi_sim", "eng")
INSTALL_HINT = N_("install tesseract-ocr and tesseract-ocr-chi-sim")
#: Below this Tesseract word confidence (0-100) a value is a candidate, never a certain finding.
CANDIDATE_BELOW = 70
OCR_MODES = ("auto", "always", "never")


class OcrUnavailable(DocumentProblem):
    """The OCR engine (or its Chinese model) is not installed: images cannot be read."""


@dataclass(frozen=True)
class OcrLimits:
    """Bounds for one image or page. The pixel bounds are checked on the header, before decoding."""

    max_decode_pixels: int = 100_000_000  # refused beyond (a JPEG is first decoded at a reduced scale)
    max_ocr_pixels: int = 16_000_000  # downscaled beyond, with a note
    max_frames: int = 100  # frames of a TIFF / pages of a PDF read by OCR
    timeout: float = 180.0  # seconds per page
    memory: int = 2 << 30  # address space of the tesseract process, bytes
    dpi: int = 300  # rendering of PDF pages


@dataclass(frozen=True)
class OcrSettings:
    mode: str = "auto"  # auto: images and PDF pages without text; always: every PDF page too; never
    limits: OcrLimits = OcrLimits()
    candidate_below: int = CANDIDATE_BELOW


@dataclass(frozen=True)
class Word:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the pixels of the original image/page
    conf: float
    line: tuple[int, int, int] = (0, 0, 0)  # Tesseract's block, paragraph and line


@dataclass(frozen=True, slots=True)
class OcrLine(TextUnit):
    """An OCR paragraph: ``owners[i]`` is the index in ``words`` of the word character ``i`` came
    from (-1 for a joining space)."""

    page: int = 1
    page_word: str = "page"  # "page" (PDF, single images) or "frame" (TIFF)
    words: tuple[Word, ...] = ()
    owners: tuple[int, ...] = ()

    def doubtful(self, kind: str, value: str) -> bool:
        """A name in Latin letters on a line of Chinese: what Tesseract makes of a Chinese name it
        cannot read (``EFM`` for ``彭强``), whatever confidence it claims."""
        return kind == "name" and value.isascii() and _CJK.search(self.text) is not None

    def place(self, start: int, length: int) -> tuple[str, tuple[int, int, int, int] | None, float | None]:
        """(location, box, confidence) of the characters ``[start, start + length)``."""
        idx = {self.owners[i] for i in range(max(start, 0), min(start + max(length, 1), len(self.owners)))} - {-1}
        if not idx:
            return f"{self.page_word} {self.page}", None, None
        boxes = [self.words[i].box for i in idx]
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        conf = min(self.words[i].conf for i in idx)
        return "{page_word} {page} box {x0},{y0},{x1},{y1} conf {conf}".format(
            page_word=self.page_word, page=self.page, x0=box[0], y0=box[1], x1=box[2], y1=box[3],
            conf=round(conf)), box, conf

    def line_boxes(self, start: int, length: int) -> tuple[tuple[int, int, int, int], ...]:
        """The box of the characters ``[start, start + length)`` on each line they cover (a value
        wrapped over two lines of a bubble has two)."""
        idx = {self.owners[i] for i in range(max(start, 0), min(start + max(length, 1), len(self.owners)))} - {-1}
        by_line: dict[tuple[int, int, int], list[tuple[int, int, int, int]]] = {}
        for i in sorted(idx):
            by_line.setdefault(self.words[i].line, []).append(self.words[i].box)
        return tuple((min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))
                     for bs in by_line.values())


# -- the engine --------------------------------------------------------------------------------


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


_langs_cache: dict[str, frozenset[str]] = {}


def check_engine() -> str:
    """The tesseract executable, or :class:`OcrUnavailable` when it or a language model is missing."""
    exe = tesseract_path()
    if exe is None:
        raise OcrUnavailable(_("not scanned: image ({hint})").format(hint=_(INSTALL_HINT)))
    if exe not in _langs_cache:
        try:
            done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
            _langs_cache[exe] = frozenset(done.stdout.split()[1:] if done.returncode == 0 else ())
        except (OSError, subprocess.TimeoutExpired):
            _langs_cache[exe] = frozenset()
    if not set(LANGS) <= _langs_cache[exe]:
        raise OcrUnavailable(_("not scanned: image ({hint})").format(hint=_(INSTALL_HINT)))
    return exe


def _limit_memory(limit: int) -> Any:
    def apply() -> None:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))  # only ever lowered

    return apply


def run_tesseract(image: Any, limits: OcrLimits, psm: int = 3, langs: tuple[str, ...] = LANGS) -> list[dict[str, Any]]:
    """Tesseract's words for one grayscale PIL image: dicts with block/par/line keys, box, conf, text."""
    exe = check_engine()
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with tempfile.TemporaryDirectory(prefix="plitool-ocr-") as tmp:
        src = os.path.join(tmp, "page.png")
        image.save(src, format="PNG", compress_level=1)
        try:
            done = subprocess.run(
                [exe, src, "stdout", "-l", "+".join(langs), "--psm", str(psm), "-c", "preserve_interword_spaces=1", "tsv"],
                capture_output=True, timeout=limits.timeout, env=env, check=False,
                preexec_fn=_limit_memory(limits.memory) if os.name == "posix" else None,  # noqa: PLW1509 - no threads forked
            )
        except subprocess.TimeoutExpired as exc:
            raise CorruptDocument(_("OCR gave up after {seconds} seconds on this page").format(
                seconds=int(limits.timeout))) from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise CorruptDocument(_("OCR could not be started ({error})").format(error=exc)) from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CorruptDocument(_("OCR failed ({detail})").format(detail=(detail[-1] if detail else done.returncode)))
    words = []
    for row in done.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11]
        if not text.strip():
            continue
        try:
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        words.append({"key": (int(cols[2]), int(cols[3])), "line": int(cols[4]),
                      "box": (left, top, left + width, top + height), "conf": conf, "text": text})
    return words


_LATIN_WORD = re.compile(r"(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9,.;:'\"!?\-]+")
#: A Latin word read below this confidence on a page of Chinese is read again with chi_sim alone.
REREAD_BELOW = 90


def read_page(image: Any, limits: OcrLimits) -> list[dict[str, Any]]:
    """Tesseract's words for a page. With both models loaded, Tesseract sometimes reads a Chinese
    name as Latin letters (``谢子涵`` → ``Wi, Hid``) with low confidence: such words on a page that
    holds Chinese are replaced by what chi_sim alone reads in the same place, when that is Chinese
    and read with more confidence on average (a second pass, only for pages that have such words).
    A real English word is read as Latin by chi_sim too, so it stays."""
    words = run_tesseract(image, limits)
    cjk_page = any(_CJK.search(w["text"]) for w in words)
    doubtful = [i for i, w in enumerate(words) if w["conf"] < REREAD_BELOW and _LATIN_WORD.fullmatch(w["text"])
                and cjk_page]
    if not doubtful:
        return words
    chinese = run_tesseract(image, limits, langs=("chi_sim",))
    spans: list[list[int]] = []
    for i in doubtful:  # neighbouring doubtful words of a line are read again together
        if spans and spans[-1][-1] == i - 1 and words[i - 1]["line"] == words[i]["line"] \
                and words[i - 1]["key"] == words[i]["key"]:
            spans[-1].append(i)
        else:
            spans.append([i])
    replaced: dict[int, list[dict[str, Any]]] = {}
    for span in spans:
        i = span[0]
        w = {**words[i], "box": (words[i]["box"][0], min(words[j]["box"][1] for j in span), words[span[-1]]["box"][2],
                                 max(words[j]["box"][3] for j in span)),
             "conf": sum(words[j]["conf"] for j in span) / len(span)}
        x0, y0, x1, y1 = w["box"]
        slack = (y1 - y0) * 0.3
        inside = [c for c in chinese if x0 - slack <= (c["box"][0] + c["box"][2]) / 2 <= x1 + slack
                  and y0 - slack <= (c["box"][1] + c["box"][3]) / 2 <= y1 + slack]
        if inside and all(_CJK.match(c["text"]) for c in inside) \
                and sum(c["conf"] for c in inside) / len(inside) > w["conf"]:
            replaced[i] = [{**c, "key": w["key"], "line": w["line"]} for c in sorted(inside, key=lambda c: c["box"][0])]
            for j in span[1:]:
                replaced[j] = []
    return [r for i, w in enumerate(words) for r in replaced.get(i, [w])]


# -- from words to lines -----------------------------------------------------------------------

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
#: A run that reads as digits to a person: digits with OCR look-alikes, spaces and dashes inside.
_DIGITISH = re.compile(r"(?<![A-Za-z0-9])[0-9OoIl|][0-9OoIl| \-]{5,}[0-9OoIl|Xx](?![A-Za-z0-9])")
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})


def _joiner(left: str, right: str) -> str:
    """Tesseract separates Chinese characters as words: join them without a space."""
    if not left or not right:
        return ""
    if _CJK.match(left[-1]) or _CJK.match(right[0]):
        return ""
    return " "


def _label_before_colon() -> re.Pattern[str]:
    from .fields import LABEL_WORDS

    cjk = [w for w in LABEL_WORDS if _CJK.match(w[0])]
    return re.compile(r"(?<=\S)(?:" + "|".join(map(re.escape, cjk)) + r")(?=\s*[:：0-9])")


_LABEL_AT = _label_before_colon()
_SPACE_IN_CJK = re.compile(r"(?<=[\u2e80-\u9fff\uff00-\uffef\u3000-\u303f]) +(?=[\u2e80-\u9fff\uff00-\uffef\u3000-\u303f])")


def tidy_spaces(text: str, owners: list[int]) -> tuple[str, list[int]]:
    """Tesseract's spaces between Chinese characters are noise (``邓 建华``): removed. A label
    glued to the value before it (``姓名:邓建华手机:138…``) gets a space in front, so each value
    ends where the next label begins."""
    keep = [True] * len(text)
    for m in _SPACE_IN_CJK.finditer(text):
        for i in range(m.start(), m.end()):
            keep[i] = False
    chars = [c for c, k in zip(text, keep, strict=True) if k]
    own = [o for o, k in zip(owners, keep, strict=True) if k]
    text = "".join(chars)
    out: list[str] = []
    out_own: list[int] = []
    pos = 0
    for m in _LABEL_AT.finditer(text):
        out += chars[pos:m.start()] + [" "]
        out_own += own[pos:m.start()] + [-1]
        pos = m.start()
    out += chars[pos:]
    out_own += own[pos:]
    return "".join(out), out_own


#: A masked mobile number whose asterisks OCR read as quotes, dots or an x (``188” ”0806``).
_MASKED_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9][0-9])([*＊”“\"'`·.・xX× ]{2,7})([0-9]{4})(?![0-9])")


def repair_masks(text: str, owners: list[int]) -> tuple[str, list[int]]:
    """``188” ”0806`` → ``188****0806``: a mask stays a mask (partial), never a lost value."""
    out: list[str] = []
    own: list[int] = []
    pos = 0
    for m in _MASKED_MOBILE.finditer(text):
        middle = m.group(2)
        if sum(c != " " for c in middle) < 2 or middle.strip() == "":
            continue
        out += list(text[pos:m.start(2)])
        own += owners[pos:m.start(2)]
        out += list("****")
        own += [owners[m.start(2) + min(i, len(middle) - 1)] for i in range(4)]
        pos = m.end(2)
    out += list(text[pos:])
    own += owners[pos:]
    return "".join(out), own


def repair_digits(text: str, owners: list[int]) -> tuple[str, list[int]]:
    """Look-alike letters inside digit runs to digits, and a mobile or ID number split into
    groups by spaces (``138 1234 5678`` is kept: the detector reads it; ``1381 23 45678`` from a
    wrapped line is joined). Positions change only where spaces are removed; ``owners`` follows."""
    chars = list(text)
    own = list(owners)
    for m in reversed(list(_DIGITISH.finditer(text))):
        run = m.group()
        digits = sum(c.isdigit() for c in run)
        lookalikes = sum(c in "OoIl|" for c in run)
        if digits < 7 or lookalikes > 3:
            continue
        fixed = run.translate(_LOOKALIKE)
        compact = fixed.replace(" ", "").replace("-", "")
        standard = re.fullmatch(r"[0-9]{3}[ \-][0-9]{4}[ \-][0-9]{4}", fixed) is not None  # 138 1234 5678
        keep_spaces = standard or not (
            (len(compact) == 11 and compact.isdigit() and compact[0] == "1")
            or (len(compact) == 18 and compact[:17].isdigit()))
        if keep_spaces:
            chars[m.start():m.end()] = list(fixed)
        else:
            kept = [i for i in range(m.start(), m.end()) if fixed[i - m.start()] not in " -"]
            chars[m.start():m.end()] = [fixed[i - m.start()] for i in kept]
            own[m.start():m.end()] = [owners[i] for i in kept]
    return "".join(chars), own


def _unit(ws: list[dict[str, Any]], page: int, page_word: str, scale: float, fld: str | None = None) -> OcrLine | None:
    """Words (in reading order) → one :class:`OcrLine`; boxes scaled back to the original's pixels."""
    text = ""
    owners: list[int] = []
    kept: list[Word] = []
    for w in ws:
        piece = w["text"]
        sep = _joiner(text, piece)
        text += sep + piece
        owners += [-1] * len(sep) + [len(kept)] * len(piece)
        x0, y0, x1, y1 = w["box"]
        kept.append(Word((round(x0 / scale), round(y0 / scale), round(x1 / scale), round(y1 / scale)), w["conf"],
                         (*w["key"], w["line"])))
    text, owners = tidy_spaces(text, owners)
    text, owners = repair_masks(text, owners)
    text, fixed = repair_digits(text, owners)
    if not text.strip():
        return None
    return OcrLine(text, f"{page_word} {page}", fld, page=page, page_word=page_word, words=tuple(kept), owners=tuple(fixed))


def _height(w: dict[str, Any]) -> int:
    return max(w["box"][3] - w["box"][1], 1)


def _cells(line: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The words of one line grouped where the gap is wider than the text is high (table columns)."""
    cells: list[list[dict[str, Any]]] = []
    for w in sorted(line, key=lambda w: w["box"][0]):
        if cells and w["box"][0] - cells[-1][-1]["box"][2] <= COLUMN_GAP * max(_height(w), _height(cells[-1][-1])):
            cells[-1].append(w)
        else:
            cells.append([w])
    return cells


#: A gap wider than this many times the text height separates two table cells.
COLUMN_GAP = 1.2


def _tables(lines: list[list[dict[str, Any]]]) -> Iterator[tuple[set[int], list[tuple[str, list[dict[str, Any]]]]]]:
    """Tables under a header row (``姓名  手机号  身份证号``): (ids of the words used, [(field, cell
    words)]). Each word below the header is given to the column whose header starts nearest to
    its left, row by row, until a row fills fewer than two columns or a wide gap ends the table."""
    from .fields import field_for_label

    ordered = sorted(lines, key=lambda ln: min(w["box"][1] for w in ln))
    used: set[int] = set()
    for index, line in enumerate(ordered):
        if any(id(w) in used for w in line):
            continue
        cells = _cells(line)
        fields = [field_for_label("".join(w["text"] for w in c)) for c in cells]
        if len(cells) < 2 or sum(f is not None for f in fields) < 2:
            continue
        starts = [c[0]["box"][0] for c in cells]
        bottom = max(w["box"][3] for w in line)
        pitch = max(_height(w) for w in line) * 3
        below = sorted((ln for ln in ordered[index + 1:] if not any(id(w) in used for w in ln)
                        and min(w["box"][1] for w in ln) >= bottom - 2), key=lambda ln: min(w["box"][1] for w in ln))
        out: list[tuple[str, list[dict[str, Any]]]] = []
        taken = {id(w) for w in line}
        for row in below:  # a row as Tesseract grouped it (a skewed row stays one line)
            if min(w["box"][1] for w in row) - bottom > pitch:
                break
            columns: dict[int, list[dict[str, Any]]] = {}
            for w in sorted(row, key=lambda w: w["box"][0]):
                centre = (w["box"][0] + w["box"][2]) / 2
                col = max([i for i, x in enumerate(starts) if x <= centre + _height(w)] or [0])
                columns.setdefault(col, []).append(w)
            for col, ws in sorted(columns.items()):
                out.append((fields[col] or "", ws))
            taken |= {id(w) for w in row}
            bottom = max(bottom, max(w["box"][3] for w in row))
        if out:
            used |= taken
            yield taken, out


def lines_from_words(words: list[dict[str, Any]], page: int, page_word: str, scale: float) -> Iterator[OcrLine]:
    """Table cells under their header's field, then one :class:`OcrLine` per OCR paragraph."""
    lines: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for w in words:
        lines.setdefault((*w["key"], w["line"]), []).append(w)
    used: set[int] = set()
    for taken, cells in _tables(list(lines.values())):
        used |= taken
        for fld, ws in cells:
            unit = _unit(ws, page, page_word, scale, fld or None)
            if unit is not None:
                yield unit
    paragraphs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for w in words:
        if id(w) not in used:
            paragraphs.setdefault(w["key"], []).append(w)
    for para in paragraphs.values():
        unit = _unit(para, page, page_word, scale)
        if unit is not None:
            yield unit


# -- images ------------------------------------------------------------------------------------

IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


def sniff_image(head: bytes) -> str | None:
    """``PNG``/``JPEG``/``WebP``/``TIFF``/``BMP`` for images OCR reads, ``HEIC`` for HEIF images
    (no well-kept reader is installed), else None."""
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIC"
    for magic, kind in IMAGE_MAGIC:
        if head.startswith(magic):
            if kind == "BMP" and len(head) >= 18 and int.from_bytes(head[14:18], "little") not in (12, 40, 52, 56, 64, 108, 124):
                return None  # "BM" text, not a bitmap header
            return kind
    return None


def _open_image(path: Path, limits: OcrLimits, state: ExtractState) -> Any:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise UnsafeArchive(_("refused: the image is too large to decode safely ({error})").format(error=exc)) from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise CorruptDocument(_("not a readable image ({error})").format(error=exc)) from exc
    w, h = im.size
    if w * h > limits.max_decode_pixels:
        if im.format == "JPEG":
            # draft() picks the largest 1/2, 1/4, 1/8 reduction that stays at least ``target`` on each
            # side, so under twice it: a quarter of the limit in pixels keeps the result within it
            ratio = (limits.max_decode_pixels / (4 * w * h)) ** 0.5
            im.draft("L", (max(1, int(w * ratio)), max(1, int(h * ratio))))
            if im.size[0] * im.size[1] <= limits.max_decode_pixels:
                state.notes.append(_("image of {w}×{h} pixels decoded at reduced scale {dw}×{dh} (limit {limit} pixels)")
                                   .format(w=w, h=h, dw=im.size[0], dh=im.size[1], limit=limits.max_decode_pixels))
                return im
        im.close()
        raise UnsafeArchive(_("refused: an image of {w}×{h} pixels (limit {limit} pixels; a decompression bomb?)")
                            .format(w=w, h=h, limit=limits.max_decode_pixels))
    return im


def _prepared(frame: Any, limits: OcrLimits, state: ExtractState, where: str) -> tuple[Any, float]:
    """A grayscale copy within the OCR budget, and the scale from the original to it."""
    from PIL import Image

    gray = frame.convert("L") if frame.mode != "L" else frame.copy()
    pixels = gray.width * gray.height
    scale = 1.0
    if pixels > limits.max_ocr_pixels:
        scale = (limits.max_ocr_pixels / pixels) ** 0.5
        gray = gray.resize((max(1, int(gray.width * scale)), max(1, int(gray.height * scale))), Image.Resampling.LANCZOS)
        state.notes.append(_("{where}: downscaled to {w}×{h} pixels for OCR (limit {limit} pixels)").format(
            where=where, w=gray.width, h=gray.height, limit=limits.max_ocr_pixels))
    return gray, scale


def image_parts(path: Path, kind: str, state: ExtractState, settings: OcrSettings) -> Iterator[OcrLine]:
    """The OCR lines of every frame of an image file."""
    from PIL import Image, ImageSequence

    if kind == "HEIC":
        raise OcrUnavailable(_("not scanned: heic (no maintained HEIC reader is installed; convert it to PNG, "
                               "add the copy as evidence)"))
    check_engine()
    im = _open_image(path, settings.limits, state)
    state.text_layer = False
    try:
        frames = getattr(im, "n_frames", 1)
        word = "frame" if frames > 1 else "page"
        if frames > settings.limits.max_frames:
            state.notes.append(_("only the first {limit} of {count} frames were read (limit)").format(
                limit=settings.limits.max_frames, count=frames))
        state.notes.append(ngettext("{kind} image of {w}×{h} pixels, {n} frame, read by OCR (Tesseract {langs})",
                                    "{kind} image of {w}×{h} pixels, {n} frames, read by OCR (Tesseract {langs})",
                                    frames).format(kind=kind, w=im.width, h=im.height, n=frames, langs="+".join(LANGS)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            for number, frame in enumerate(ImageSequence.Iterator(im), start=1):
                if number > settings.limits.max_frames:
                    break
                if frame.width * frame.height > settings.limits.max_decode_pixels:
                    raise UnsafeArchive(_("refused: frame {n} is {w}×{h} pixels (limit {limit} pixels)").format(
                        n=number, w=frame.width, h=frame.height, limit=settings.limits.max_decode_pixels))
                try:
                    gray, scale = _prepared(frame, settings.limits, state,
                                              (_("frame {n}") if frames > 1 else _("page {n}")).format(n=number))
                except (OSError, ValueError, SyntaxError) as exc:
                    raise CorruptDocument(_("not a readable image ({error})").format(error=exc)) from exc
                words = read_page(gray, settings.limits)
                yield from lines_from_words(words, number, word, scale)
    finally:
        im.close()


# -- PDF pages ---------------------------------------------------------------------------------


def pdf_page_lines(path: Path, number: int, size_pt: tuple[float, float] | None, state: ExtractState,
                   settings: OcrSettings, password: str | None = None) -> Iterator[OcrLine]:
    """OCR of one PDF page rendered by pdftoppm (boxes in pixels at the dpi noted)."""
    check_engine()
    page = render_pdf_page(path, number, size_pt, settings.limits, password)
    gray, scale = _prepared(page, settings.limits, state, f"page {number}")
    words = read_page(gray, settings.limits)
    yield from lines_from_words(words, number, "page", scale)


def render_pdf_page(path: Path, number: int, size_pt: tuple[float, float] | None, limits: OcrLimits,
                    password: str | None = None, *, colour: bool = False) -> Any:
    """Page ``number`` as a PIL image, at ``limits.dpi`` or less for a page so large that the
    pixels would exceed ``limits.max_ocr_pixels`` (the same size every time: the marked copy of a
    page is drawn on the pixels its boxes were measured in). A page of unknown size is rendered
    with its long side at 4,000 pixels."""
    from PIL import Image

    exe = shutil.which("pdftoppm")
    if exe is None:
        raise OcrUnavailable(_("page {n}: not read by OCR (install poppler-utils for pdftoppm)").format(n=number))
    dpi = limits.dpi
    args = [exe, "-f", str(number), "-l", str(number), "-png", "-singlefile"] + ([] if colour else ["-gray"])
    if size_pt is not None and size_pt[0] > 0 and size_pt[1] > 0:
        pixels = size_pt[0] / 72 * dpi * size_pt[1] / 72 * dpi
        if pixels > limits.max_ocr_pixels:
            dpi = max(20, int(dpi * (limits.max_ocr_pixels / pixels) ** 0.5))
        args += ["-r", str(dpi)]
    else:
        args += ["-scale-to", "4000"]
    if password:
        args += ["-upw", password]
    with tempfile.TemporaryDirectory(prefix="plitool-pdf-") as tmp:
        out = os.path.join(tmp, "page")
        try:
            done = subprocess.run([*args, str(path), out], capture_output=True, timeout=limits.timeout, check=False,
                                  preexec_fn=_limit_memory(limits.memory) if os.name == "posix" else None)  # noqa: PLW1509
        except subprocess.TimeoutExpired as exc:
            raise CorruptDocument(_("page {n}: rendering gave up after {seconds} seconds").format(
                n=number, seconds=int(limits.timeout))) from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise CorruptDocument(_("page {n}: could not be rendered for OCR ({error})").format(
                n=number, error=exc)) from exc
        if done.returncode != 0 or not os.path.exists(out + ".png"):
            raise CorruptDocument(_("page {n}: could not be rendered for OCR").format(n=number))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(out + ".png") as page:
                page.load()
                return page.copy()


@dataclass
class OcrTally:
    """The PDF pages read by OCR so far; ``off`` once the engine was found missing."""

    pages: list[int] = field(default_factory=list)
    off: bool = False
    capped: bool = False
