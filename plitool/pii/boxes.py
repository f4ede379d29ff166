"""A marked copy of a screenshot: each finding's box drawn, its masked value as the label.

For the exhibit bundle and the expert witness: where on the image each personal value was read.
The evidence is never touched: the stored copy is read, a new image is written atomically to the
path asked for (refused if it exists, unless ``force``), and a ``note`` event on the item records
the derived file (its path, SHA-256 and how many boxes) in the custody ledger. Labels carry the
court-style mask and the kind, never the value; a low-confidence candidate is drawn dashed with a
``?``, a value already masked in the source in blue.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OutputExists, UsageError
from ..fsutil import atomic_write, check_output_path
from ..i18n import _
from ..vault.ledger import NewEvent
from .fingerprint import Fingerprinter
from .mask import NameMasks
from .scan import FileScan, finding_record

FONT_PATHS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Noto Sans CJK SC
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
)
#: Output formats by file extension; the multi-page ones can hold every frame of a TIFF.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
           ".pdf": "PDF"}
MULTI_PAGE = ("TIFF", "PDF")
COLOURS = {"certain": (220, 20, 60), "candidate": (255, 140, 0), "masked": (30, 100, 230)}


@dataclass(frozen=True)
class MarkedCopy:
    path: Path
    sha256: str
    boxes: int
    frames: int


def check_marked_output(case: Any, output: Path, force: bool) -> str:
    """Before any work: the output is outside the case's own files, has a known image extension
    and does not exist (unless ``force``). Returns the Pillow format."""
    check_output_path(case, output)
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise UsageError(_("--show-boxes writes PNG, JPEG, WebP, TIFF or PDF: give -o a file ending in one of {exts}")
                         .format(exts=", ".join(sorted(FORMATS))))
    if os.path.lexists(output) and not force:
        raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=output))
    return fmt


def _is_pdf(source: Path) -> bool:
    with open(source, "rb") as f:
        return f.read(5) == b"%PDF-"


def check_marked_source(source: Path, fmt: str) -> None:
    """Before the scan: the evidence is an image (or a PDF) the marked copy can be written for."""
    from .extract import ExtractState
    from .ocr import OcrLimits, _open_image

    if _is_pdf(source):
        if fmt not in MULTI_PAGE:
            raise UsageError(_("a PDF's marked pages are written as .pdf or .tif"))
        return
    im = _open_image(source, OcrLimits(), ExtractState())
    try:
        frames = getattr(im, "n_frames", 1)
    finally:
        im.close()
    if frames > 1 and fmt not in MULTI_PAGE:
        raise UsageError(_("the image has {n} frames: write the marked copy as .tif or .pdf").format(n=frames))


def _font(size: int) -> Any:
    from PIL import ImageFont

    for path, index in FONT_PATHS:
        if os.path.isfile(path):
            try:
                return ImageFont.truetype(path, size, index=index)
            except OSError:
                continue
    return ImageFont.load_default()


def _dashed(draw: Any, box: tuple[int, int, int, int], colour: tuple[int, int, int], width: int) -> None:
    x0, y0, x1, y1 = box
    step = max(6, width * 4)
    for x in range(x0, x1, step * 2):
        draw.line((x, y0, min(x + step, x1), y0), fill=colour, width=width)
        draw.line((x, y1, min(x + step, x1), y1), fill=colour, width=width)
    for y in range(y0, y1, step * 2):
        draw.line((x0, y, x0, min(y + step, y1)), fill=colour, width=width)
        draw.line((x1, y, x1, min(y + step, y1)), fill=colour, width=width)


def draw_boxes(frame: Any, labelled: Sequence[tuple[tuple[int, int, int, int], str, str]]) -> Any:
    """A copy of ``frame`` (RGB) with each (box, label, style) drawn; labels above their box."""
    from PIL import ImageDraw

    img = frame.convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(2, img.width // 400)
    size = max(14, img.width // 45)
    font = _font(size)
    for box, label, style in labelled:
        colour = COLOURS[style]
        pad = width + 2
        x0, y0, x1, y1 = box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad
        if style == "candidate":
            _dashed(draw, (x0, y0, x1, y1), colour, width)
        else:
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
        if not label:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = y0 - (bottom - top) - 2 * width if y0 - (bottom - top) - 2 * width >= 0 else y1 + width
        draw.rectangle((x0, ty, x0 + right - left + 2 * width, ty + bottom - top + 2 * width), fill=colour)
        draw.text((x0 + width - left, ty + width - top), label, font=font, fill=(255, 255, 255))
    return img


def _pdf_pages(source: Path, numbers: list[int], password: str | None) -> Iterator[tuple[int, Any]]:
    """The PDF pages ``numbers``, rendered in colour at the size their OCR boxes were measured on."""
    from pypdf import PdfReader

    from .ocr import OcrLimits, render_pdf_page

    with open(source, "rb") as f:
        reader = PdfReader(f)
        if reader.is_encrypted:
            reader.decrypt(password or "")
        sizes: dict[int, tuple[float, float] | None] = {}
        for n in numbers:
            try:
                box = reader.pages[n - 1].mediabox
                sizes[n] = (float(box.width), float(box.height))
            except Exception:  # noqa: BLE001 - as extract does: pdftoppm decides the size
                sizes[n] = None
    for n in numbers:
        yield n, render_pdf_page(source, n, sizes[n], OcrLimits(), password, colour=True)


def write_marked_copy(case: Any, item: Any, source: Path, scan: FileScan, fp: Fingerprinter, names: NameMasks,
                      output: Path, fmt: str, *, force: bool = False, password: str | None = None) -> MarkedCopy:
    """Draw ``scan``'s OCR findings on a copy of the image at ``source`` (the stored evidence),
    write it to ``output`` atomically and log it as a derived file of ``item``. For a PDF, the
    pages where OCR found something are rendered again (same size as for OCR) and marked."""
    from PIL import ImageSequence

    from .extract import ExtractState
    from .ocr import OcrLimits, _open_image

    by_frame: dict[int, list[tuple[tuple[int, int, int, int], str, str]]] = {}
    for f in scan.findings:
        if f.box is None or f.page is None:
            continue
        rec = finding_record(f, fp, names)
        style = "masked" if f.partial else "candidate" if f.candidate else "certain"
        label = "{kind} {masked}{mark}".format(kind=f.kind, masked=rec["masked"], mark="?" if f.candidate else "")
        for i, box in enumerate(f.lines or (f.box,)):  # a wrapped value: one box per line, labelled once
            by_frame.setdefault(f.page, []).append((box, label if i == 0 else "", style))
    if _is_pdf(source):
        frames = [draw_boxes(page, by_frame[n]) for n, page in _pdf_pages(source, sorted(by_frame), password)]
        if not frames:
            raise UsageError(_("nothing was found by OCR on the PDF's pages: no marked copy to write"))
    else:
        im = _open_image(source, OcrLimits(), ExtractState())
        try:
            frames = [draw_boxes(frame, by_frame.get(n, []))
                      for n, frame in enumerate(ImageSequence.Iterator(im), start=1) if n <= OcrLimits().max_frames]
        finally:
            im.close()
    if len(frames) > 1 and fmt not in MULTI_PAGE:
        raise UsageError(_("the image has {n} frames: write the marked copy as .tif or .pdf").format(n=len(frames)))
    buf = io.BytesIO()
    extra: dict[str, Any] = {"save_all": True, "append_images": frames[1:]} if len(frames) > 1 else {}
    if fmt == "PDF" and _is_pdf(source):
        extra["resolution"] = float(OcrLimits().dpi)  # the pages keep their paper size
    frames[0].save(buf, format=fmt, **extra)
    data = buf.getvalue()
    atomic_write(output, data, overwrite=force)
    sha = hashlib.sha256(data).hexdigest()
    boxes = sum(1 for v in by_frame.values() for _box, label, _style in v if label)
    with case.locked():
        case.ledger.append([NewEvent("note", item.id, {
            "action": "scan --show-boxes", "derived": "marked copy (boxes and masked labels)",
            "to": str(output), "output_sha256": sha, "boxes": boxes,
        })])
    return MarkedCopy(output, sha, boxes, len(frames))
