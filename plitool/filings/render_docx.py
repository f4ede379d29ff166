"""Markup blocks to a .docx laid out after GB/T 9704-2012 (legal-basis.md §4).

A4; margins 37 mm top, 28 mm left (binding), 26 mm right, 35 mm bottom; title 22 pt 小标宋;
body 16 pt 仿宋 with a first-line indent of two characters and fixed ~28 pt line spacing;
headings 黑体 / 楷体 / 仿宋 bold; page numbers "— 1 —" in 14 pt at the foot, odd pages right, even
pages left; tables with borders and a header row repeated on every page. Every run names its
East-Asian font (``w:eastAsia``), so that Word and LibreOffice never fall back to a Latin font
for Chinese text. Font fallbacks (小标宋 → SimSun, 仿宋 → FangSong …) are declared in the
document's font table (``w:altName``) for machines without the GB fonts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from .markup import Block, Run as markup_run, runs

# East-Asian font names and what a machine without them should use instead.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋"
HEADING_FONTS = {1: "黑体", 2: "楷体", 3: "仿宋"}
FALLBACKS = {"方正小标宋简体": "SimSun", "仿宋": "FangSong", "黑体": "SimHei", "楷体": "KaiTi", "宋体": "SimSun"}
LATIN_FONT = "Times New Roman"


@dataclass(frozen=True)
class TableData:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: relative column widths (sum to anything), or empty for equal widths
    widths: tuple[float, ...] = ()
    #: cells whose text is a placeholder or a missing-evidence flag: highlighted
    flagged: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Layout:
    title_pt: float
    body_pt: float
    line_pt: float
    table_pt: float
    table_line_pt: float
    footer_pt: float


LAYOUTS = {
    "zh": Layout(title_pt=22, body_pt=16, line_pt=28, table_pt=10.5, table_line_pt=15, footer_pt=14),
    "en": Layout(title_pt=16, body_pt=12, line_pt=20, table_pt=9, table_line_pt=12, footer_pt=12),
}


def _set_fonts(run: Any, east_asian: str, size: float, *, bold: bool = False) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = LATIN_FONT
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), LATIN_FONT)


def _spacing(paragraph: Any, line_pt: float, *, indent_pt: float = 0) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(line_pt)
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(indent_pt) if indent_pt else None


def _add_runs(paragraph: Any, text: str, font: str, size: float, *, bold: bool = False) -> None:
    from docx.enum.text import WD_COLOR_INDEX

    for r in runs(text):
        run = paragraph.add_run(r.text)
        _set_fonts(run, font, size, bold=bold or r.bold)
        if r.placeholder:
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _page_number_footer(footer: Any, layout: Layout, align: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    paragraph.alignment = align
    _spacing(paragraph, layout.footer_pt * 1.5)

    def text(t: str) -> None:
        run = paragraph.add_run(t)
        _set_fonts(run, "宋体", layout.footer_pt)

    def field(code: str) -> None:
        for kind, value in (("begin", None), ("instr", code), ("separate", None), ("text", "1"), ("end", None)):
            run = paragraph.add_run()
            _set_fonts(run, "宋体", layout.footer_pt)
            if kind == "instr":
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = value
            elif kind == "text":
                el = OxmlElement("w:t")
                el.text = value
            else:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            run._element.append(el)

    text("— ")
    field(" PAGE ")
    text(" —")


def _declare_fallbacks(document: Any) -> None:
    """``w:altName`` for each GB font in the font table: what to use where it is not installed."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    try:
        part = document.part.part_related_by(RT.FONT_TABLE)
    except KeyError:
        return
    from lxml import etree

    root = etree.fromstring(part.blob)
    known = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for name, alt in FALLBACKS.items():
        if name in known:
            continue
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        alt_el = OxmlElement("w:altName")
        alt_el.set(qn("w:val"), alt)
        font.append(alt_el)
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")
        font.append(charset)
        root.append(font)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _xml_text(text: str) -> str:
    from xml.sax.saxutils import escape

    # characters XML 1.0 cannot hold (controls from a hostile file name) become U+FFFD
    clean = "".join(c if c in "\t\n" or ord(c) >= 32 and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff"
                    else "\ufffd" for c in text)
    return escape(clean)


def _runs_xml(text: str, font: str, size: float, *, bold: bool = False, highlight: bool = False) -> str:
    half = int(round(size * 2))
    out = []
    for r in runs(text) or [markup_run("")]:
        props = (f'<w:rFonts w:ascii="{LATIN_FONT}" w:hAnsi="{LATIN_FONT}" w:eastAsia="{font}" w:cs="{LATIN_FONT}"/>'
                 + ("<w:b/>" if bold or r.bold else "") + f'<w:sz w:val="{half}"/><w:szCs w:val="{half}"/>'
                 + ('<w:highlight w:val="yellow"/>' if highlight or r.placeholder else ""))
        content = "<w:br/>".join(f'<w:t xml:space="preserve">{_xml_text(t)}</w:t>' for t in r.text.split("\n"))
        out.append(f"<w:r><w:rPr>{props}</w:rPr>{content}</w:r>")
    return "".join(out)


def _cell_xml(text: str, width: int, font: str, layout: Layout, *, highlight: bool = False) -> str:
    line = int(round(layout.table_line_pt * 20))
    paragraph = (f'<w:p><w:pPr><w:spacing w:before="0" w:after="0" w:line="{line}" w:lineRule="exact"/></w:pPr>'
                 f"{_runs_xml(text, font, layout.table_pt, highlight=highlight)}</w:p>")
    return f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{paragraph}</w:tc>'


def _table(document: Any, data: TableData, layout: Layout, width_mm: float) -> None:
    """The table as WordprocessingML, built as text and parsed once: python-docx's cell-by-cell
    API costs seconds for an evidence list of 500 rows. Borders on every cell; the header row
    repeats on every page (``w:tblHeader``); rows never split across pages."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn

    weights = data.widths or tuple(1.0 for _h in data.headers)
    total = sum(weights)
    twips = [int(width_mm / 25.4 * 1440 * w / total) for w in weights]
    border = 'w:val="single" w:sz="4" w:space="0" w:color="000000"'
    borders = "".join(f"<w:{side} {border}/>" for side in ("top", "left", "bottom", "right", "insideH", "insideV"))
    rows = ['<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>'
            + "".join(_cell_xml(h, twips[i], "黑体", layout) for i, h in enumerate(data.headers)) + "</w:tr>"]
    for r, row in enumerate(data.rows):
        rows.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>" + "".join(
            _cell_xml(text, twips[c], BODY_FONT, layout, highlight=(r, c) in data.flagged)
            for c, text in enumerate(row)) + "</w:tr>")
    xml = (f"<w:tbl {nsdecls('w')}><w:tblPr><w:tblStyle w:val=\"TableGrid\"/>"
           f'<w:tblW w:w="{sum(twips)}" w:type="dxa"/><w:jc w:val="center"/><w:tblBorders>{borders}</w:tblBorders>'
           '<w:tblLayout w:type="fixed"/><w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" '
           'w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>'
           + "".join(f'<w:gridCol w:w="{t}"/>' for t in twips) + "</w:tblGrid>" + "".join(rows) + "</w:tbl>")
    body = document.element.body
    sect = body.find(qn("w:sectPr"))
    element = parse_xml(xml)
    if sect is not None:
        sect.addprevious(element)
    else:
        body.append(element)


def render_docx(blocks: list[Block], tables: dict[str, TableData], figure_png: bytes | None, figure_note: str,
                lang: str, title: str, when: date) -> bytes:
    from docx import Document
    from docx.enum.section import WD_SECTION
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    layout = LAYOUTS.get(lang, LAYOUTS["zh"])
    document = Document()
    section = document.sections[0]
    assert section.start_type == WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(25)
    document.settings.odd_and_even_pages_header_footer = True
    _page_number_footer(section.footer, layout, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number_footer(section.even_page_footer, layout, WD_ALIGN_PARAGRAPH.LEFT)
    _declare_fallbacks(document)
    # the default style too, so that an empty paragraph or a new one typed in Word looks the same
    normal = document.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(layout.body_pt)

    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    props = document.core_properties
    props.title = title
    props.author = "plitool"
    props.last_modified_by = "plitool"
    moment = datetime(when.year, when.month, when.day, tzinfo=timezone.utc)
    props.created = moment
    props.modified = moment
    props.revision = 1
    indent = layout.body_pt * 2
    body = document.paragraphs[0] if document.paragraphs else None
    first = True

    def paragraph() -> Any:
        nonlocal first
        if first and body is not None:
            first = False
            return body
        first = False
        return document.add_paragraph()

    for block in blocks:
        if block.type == "title":
            p = paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _spacing(p, layout.title_pt * 1.6)
            _add_runs(p, block.text, TITLE_FONT, layout.title_pt)
        elif block.type == "heading":
            p = paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            _spacing(p, layout.line_pt, indent_pt=indent)
            _add_runs(p, block.text, HEADING_FONTS.get(block.level, BODY_FONT), layout.body_pt, bold=block.level == 3)
        elif block.type == "para":
            p = paragraph()
            p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}.get(
                block.align, WD_ALIGN_PARAGRAPH.JUSTIFY)
            _spacing(p, layout.line_pt, indent_pt=indent if block.indent else 0)
            _add_runs(p, block.text, BODY_FONT, layout.body_pt)
        elif block.type == "table":
            data = tables.get(block.text)
            if data is not None:
                first = False
                _table(document, data, layout, 156)
                spacer = document.add_paragraph()
                _spacing(spacer, layout.table_line_pt)
        elif block.type == "figure":
            if figure_png is not None:
                p = paragraph()
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                _spacing(p, layout.line_pt)
                p.paragraph_format.line_spacing = None  # a picture needs its own height
                p.add_run().add_picture(io.BytesIO(figure_png), width=Mm(150))
            p = paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _spacing(p, layout.line_pt)
            _add_runs(p, figure_note, "楷体", layout.table_pt + 1.5)
        elif block.type == "pagebreak":
            p = paragraph()
            run = p.add_run()
            _set_fonts(run, BODY_FONT, layout.body_pt)
            run.add_break(WD_BREAK.PAGE)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
