"""Pages drawn with reportlab: the cover, the index, image and file pages, the report, the stamp.

All text uses reportlab's built-in CID font STSong-Light (Adobe-GB1, not embedded: every PDF
reader ships it), so no font file is needed and the text extracts as Unicode. The words on the
documents come from :data:`LABELS` (both languages side by side), not the message catalogue: a
bundle in Chinese must be Chinese whatever the language of the terminal.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

FONT = "STSong-Light"
STAMP_SIZE = 8.0

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "bundle_title": "证据册",
        "case": "案件", "court": "法院", "number": "案号", "parties": "当事人", "date": "编制日期",
        "exhibits": "证据数量", "pages": "总页数", "digest": "证据册摘要（SHA-256）",
        "digest_covers": "摘要范围：SHA256SUMS 中除 exhibits.pdf、verification-report.pdf、bundle.json 以外"
                         "各行（按路径排序）的 SHA-256，即证据原件、保管链记录、检查点、时间戳令牌、包含证明和信任根。"
                         "手工核对：grep -v -E '  (exhibits.pdf|verification-report.pdf|bundle.json)$' SHA256SUMS | sha256sum",
        "index": "证据目录",
        "col_no": "编号", "col_name": "证据名称", "col_source": "来源", "col_pages": "页码",
        "col_purpose": "证明目的", "col_sha": "SHA-256",
        "stamp": "证据 {id} · 第 {n}/{of} 页 · 总第 {total} 页",
        "stamp_front": "{label} · 总第 {total} 页",
        "file_page": "本证据为电子文件，不能直接排版为页面；原件已附于本 PDF 内，并存放于证据册文件夹中。",
        "file_name": "文件名", "bundle_path": "在证据册中的位置", "size": "大小", "attached": "PDF 附件",
        "bad_page": "本证据无法合并入本文件：{reason}。原件原样存放于证据册文件夹中，摘要如下。",
        "image_caption": "{id} 图片（按页面缩放，原件见证据册）",
        "filler_page": "本页代表 {id} 的第 {n} 页；该证据无法合并（原因见其第 1 页），原件见证据册文件夹。",
        "report_title": "证据核验报告",
        "report_intro": "本报告说明证据册中每份证据的收集情况、摘要、保管记录与可信时间，以及不借助 plitool 手工核验的方法。",
        "collected_at": "收集时间", "collected_by": "收集人", "method": "收集方法", "tool": "收集工具",
        "intake_at": "入库时间", "digests": "摘要值", "custody": "保管记录", "trusted_time": "可信时间",
        "not_sealed": "尚无可信时间戳覆盖（仅依据本机时钟）",
        "existed": "最迟于 {time} 已存在（时间戳服务机构：{tsa}）",
        "seals": "已封存的检查点与可信时间", "checkpoint": "检查点（日志条数 {size}）",
        "root": "默克尔根", "tsa": "时间戳服务机构", "time": "时间", "file": "文件", "serial": "序列号",
        "no_seals": "本案尚未封存任何检查点。",
        "how": "手工核验方法", "how_intro": "在证据册文件夹中运行以下命令（Linux/macOS）：",
        "how_sums": "逐一核对所有文件的 SHA-256 与 BLAKE3：",
        "how_ts": "核对每个时间戳令牌（应输出 Verification: OK）；根证书指纹须与时间戳服务机构公布的一致：",
        "how_incl": "核对每份证据的保管记录在已封存日志中（RFC 6962 包含证明，仅需 python3）：",
        "how_all": "或一次核对全部：",
        "trust_roots": "本案信任的时间戳根证书",
        "masking": "个人信息处理：目录与本报告中的证据名称、来源等按法院公开规则处理（非当事人信息不完整显示）；"
                   "完整信息仅见于证据原件及其保管链记录。",
        "col_time": "时间（UTC）", "col_event": "事件", "col_details": "详情",
        "front": "封面", "index_label": "证据目录", "report_page": "核验报告 · 第 {page} 页",
    },
    "en": {
        "bundle_title": "Bundle of exhibits",
        "case": "Case", "court": "Court", "number": "Case number", "parties": "Parties", "date": "Date",
        "exhibits": "Exhibits", "pages": "Pages", "digest": "Bundle digest (SHA-256)",
        "digest_covers": "The digest covers the lines of SHA256SUMS other than exhibits.pdf, verification-report.pdf "
                         "and bundle.json (sorted by path): the original evidence, the custody ledger, checkpoints, "
                         "timestamp tokens, inclusion proofs and trust roots. By hand: "
                         "grep -v -E '  (exhibits.pdf|verification-report.pdf|bundle.json)$' SHA256SUMS | sha256sum",
        "index": "Index of exhibits",
        "col_no": "No.", "col_name": "Exhibit", "col_source": "Source", "col_pages": "Pages",
        "col_purpose": "Purpose", "col_sha": "SHA-256",
        "stamp": "Exhibit {id} · page {n}/{of} · bundle page {total}",
        "stamp_front": "{label} · bundle page {total}",
        "file_page": "This exhibit is a file that cannot be laid out as pages; the original is attached to this PDF "
                     "and lies in the bundle folder.",
        "file_name": "File name", "bundle_path": "In the bundle folder", "size": "Size", "attached": "PDF attachment",
        "bad_page": "This exhibit could not be merged: {reason}. The original lies unchanged in the bundle folder; "
                    "its digests follow.",
        "image_caption": "{id} image (scaled to the page; the original is in the bundle)",
        "filler_page": "This page stands for page {n} of {id}, which could not be merged (see its first page for why); "
                       "the original is in the bundle folder.",
        "report_title": "Verification report",
        "report_intro": "How each exhibit in this bundle was collected, its digests, its custody history and trusted "
                        "times, and how to check all of it by hand without plitool.",
        "collected_at": "Collected at", "collected_by": "Collected by", "method": "Method", "tool": "Tool",
        "intake_at": "Taken into the vault", "digests": "Digests", "custody": "Custody history",
        "trusted_time": "Trusted time", "not_sealed": "not yet covered by a trusted timestamp (this machine's clock only)",
        "existed": "existed no later than {time} (TSA: {tsa})",
        "seals": "Sealed checkpoints and trusted times", "checkpoint": "Checkpoint (ledger of {size} entries)",
        "root": "Merkle root", "tsa": "TSA", "time": "Time", "file": "File", "serial": "Serial",
        "no_seals": "No checkpoint of this case has been sealed yet.",
        "how": "Checking by hand", "how_intro": "In the bundle folder (Linux/macOS):",
        "how_sums": "Every file against its SHA-256 and BLAKE3:",
        "how_ts": "Each timestamp token (must print Verification: OK); the root's fingerprint must match the one "
                  "the TSA publishes:",
        "how_incl": "Each exhibit's record is in the sealed ledger (RFC 6962 inclusion proof, python3 only):",
        "how_all": "Or everything at once:",
        "trust_roots": "TSA roots this case trusts",
        "masking": "Personal data: names and sources in the index and this report follow the court publication rule "
                   "(people who are not parties are never named in full); full values appear only in the original "
                   "evidence and its custody ledger.",
        "col_time": "time (UTC)", "col_event": "event", "col_details": "details",
        "front": "Cover", "index_label": "Index", "report_page": "Verification report · page {page}",
    },
}


@cache
def register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@cache
def _font_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    register_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont(FONT, STAMP_SIZE)
    c.drawString(0, 0, "证")
    c.showPage()
    c.save()
    return buf.getvalue()


def stamp_font_object() -> tuple[Any, Any]:
    """reportlab's STSong-Light font object (as pypdf reads it) and the reader that holds it."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(_font_pdf()))
    fonts: Any = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]
    for _name, ref in fonts.items():
        if "STSong" in str(ref.get_object().get("/BaseFont", "")):
            return reader, ref
    raise AssertionError("reportlab wrote no STSong-Light font")


#: The middle dot of the stamp is drawn in Helvetica (WinAnsi 0xB7): STSong-Light's U+00B7 is a
#: glyph that font substitutes (poppler's, for one) lack, and the text must still extract as "·".
DOT = "\u00b7"
DOT_FONT_NAME = "/PltDot"


def stamp_operators(text: str) -> Callable[[float, float, float, float, int], bytes]:
    """Operators writing ``text`` at the bottom right of the page as it is shown (rotation honoured)."""
    from reportlab.pdfbase import pdfmetrics

    register_font()
    font = pdfmetrics.getFont(FONT)
    parts = text.split(DOT)

    def width(size: float) -> float:
        return sum(font.stringWidth(p, size) for p in parts) + (len(parts) - 1) * pdfmetrics.stringWidth(DOT, "Helvetica", size)

    def show(size: float) -> bytes:
        out = []
        for i, part in enumerate(parts):
            if i:
                out.append(f"{DOT_FONT_NAME} {size:.2f} Tf (\\267) Tj /PltStamp {size:.2f} Tf ".encode())
            # UniGB-UCS2-H, the encoding reportlab gives the font: UTF-16BE code units, as a hex string
            out.append(b"<" + part.encode("utf-16-be").hex().encode("ascii") + b"> Tj ")
        return b"".join(out)

    def ops(x0: float, y0: float, x1: float, y1: float, rot: int) -> bytes:
        w, h = (x1 - x0, y1 - y0) if rot in (0, 180) else (y1 - y0, x1 - x0)
        size = STAMP_SIZE
        if width(size) > w - 12:
            size = max(2.0, size * (w - 12) / max(width(size), 1))
        u, v = max(2.0, w - 8 - width(size)), max(2.0, min(6.0, h / 20))
        if rot == 90:
            m = (0, 1, -1, 0, x1 - v, y0 + u)
        elif rot == 180:
            m = (-1, 0, 0, -1, x1 - u, y1 - v)
        elif rot == 270:
            m = (0, -1, 1, 0, x0 + v, y1 - u)
        else:
            m = (1, 0, 0, 1, x0 + u, y0 + v)
        mat = " ".join(f"{x:.3f}".rstrip("0").rstrip(".") for x in m)
        return f"q 0 g BT /PltStamp {size:.2f} Tf {mat} Tm ".encode() + show(size) + b"ET Q\n"

    return ops


# -- platypus documents -------------------------------------------------------------------------


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    register_font()
    base = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=1, spaceAfter=18),
        "h1": ParagraphStyle("h1", parent=base, fontSize=15, leading=22, spaceBefore=10, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11.5),
        # commands break at spaces only, so that a line copied (or extracted) is never cut inside a path
        "mono": ParagraphStyle("mono", parent=base, fontSize=7.5, leading=10.5, leftIndent=12, spaceBefore=2,
                               spaceAfter=2, backColor="#f2f2f2", wordWrap=None),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10.5),
    }


def para(text: str, style: str = "body") -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), _styles()[style])


def render(flowables: Sequence[Any], target: io.BytesIO | Path, title: str) -> int:
    """Lay out ``flowables`` on A4 pages; return the number of pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    register_font()
    pages = [0]

    def count(canvas: Any, doc: Any) -> None:
        pages[0] = max(pages[0], doc.page)

    doc = SimpleDocTemplate(target if isinstance(target, io.BytesIO) else str(target), pagesize=A4,
                            leftMargin=25 * mm, rightMargin=20 * mm, topMargin=22 * mm, bottomMargin=22 * mm,
                            title=title, author="plitool", creator="plitool")
    doc.build(list(flowables), onFirstPage=count, onLaterPages=count)
    return pages[0]


def table(rows: list[list[str]], widths: Sequence[float], header: bool = True) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    data = [[para(c, "cell") for c in row] for row in rows]
    t = Table(data, colWidths=list(widths), repeatRows=1 if header else 0)
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))] if header else []),
    ]))
    return t


#: Larger images are placed as a reduced copy (A4 at 200 dpi is about 1654 × 2339 pixels), so
#: that one huge picture cannot take the memory of a whole bundle.
MAX_PLACED_PIXELS = 6_000_000
MAX_PLACED_SIDE = 2400


def image_page(path: Path, caption: str) -> bytes:
    """One A4 page with the image scaled to fit (never enlarged past its own size)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from PIL import Image, ImageOps

    register_font()
    with Image.open(path) as probe:
        big = probe.width * probe.height > MAX_PLACED_PIXELS
        turned = probe.format == "JPEG" and probe.getexif().get(0x0112, 1) != 1
        if big or turned:  # a reduced, upright copy on the page; the original stays in evidence/
            probe.draft("RGB", (MAX_PLACED_SIDE, MAX_PLACED_SIDE))
            shown = ImageOps.exif_transpose(probe.convert("RGB"))
            shown.thumbnail((MAX_PLACED_SIDE, MAX_PLACED_SIDE))
            img = ImageReader(shown)
        else:
            img = ImageReader(str(path))  # a JPEG goes in as its own bytes
    iw, ih = img.getSize()
    pw, ph = A4
    margin, top = 36.0, 48.0
    scale = min((pw - 2 * margin) / iw, (ph - margin - top - 20) / ih, 1.0 if iw > 200 else 4.0)
    w, h = iw * scale, ih * scale
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(FONT, 9)
    c.drawString(margin, ph - 30, caption)
    c.drawImage(img, (pw - w) / 2, ph - top - h, width=w, height=h)
    c.showPage()
    c.save()
    return buf.getvalue()
