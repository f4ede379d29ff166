"""Generators of hostile evidence files for ``scan`` (issue 7, item 10): small code, files made
at test time, nothing large in the repository. Each returns the number of phones it planted where
a scan should still find them."""

from __future__ import annotations

import zipfile
from pathlib import Path


def shared_page_pdf(path: Path, text: str, fanout: int = 46, depth: int = 3) -> Path:
    """A PDF of about 1.5 KB whose page tree lists one page object fanout**depth times (97,336)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = {1: b"<< /Type /Catalog /Pages 5 0 R >>",
            2: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            3: b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"}
    for level in range(depth):
        node = 5 + level
        kid = node + 1 if level < depth - 1 else 4
        parent = b" /Parent %d 0 R" % (node - 1) if level else b""
        objs[node] = (b"<< /Type /Pages" + parent + b" /Kids [" + b" ".join([b"%d 0 R" % kid] * fanout)
                      + b"] /Count %d >>" % fanout ** (depth - level))
    objs[4] = (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
               b"/Resources << /Font << /F1 2 0 R >> >> >>" % (4 + depth))
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for i in range(1, max(objs) + 1):
        offsets[i] = len(out)
        out += b"%d 0 obj\n" % i + objs[i] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (max(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[i] for i in range(1, max(objs) + 1))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (max(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def no_text_pdf(path: Path) -> Path:
    """A one-page PDF whose page draws only a rectangle: what a scanner's image PDF looks like to
    a text extractor."""
    stream = b"0 0 m 100 100 l S"
    body = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, b in enumerate(body, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + b + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


def long_line(path: Path, phones: list[str], size: int, boundaries: int = 1 << 20) -> Path:
    """One line of ``size`` bytes with no newline: commas, and the phones, several of them placed
    across multiples of ``boundaries`` (where a reader that reads pieces cuts)."""
    buf = bytearray(b"," * size)
    positions = []
    for i, _ in enumerate(phones):
        edge = (i + 1) * boundaries
        positions.append(edge - 5 - i % 7 if i % 2 == 0 else edge + 1000 + 97 * i)
    for pos, phone in zip(positions, phones, strict=True):
        assert pos + len(phone) < size - 1
        buf[pos:pos + len(phone)] = phone.encode()
    path.write_bytes(bytes(buf))
    return path


def phone_line(path: Path, phone: str, size: int, separator: str = ",") -> int:
    """A single line of ``size`` bytes made of the same phone number; the count."""
    unit = (phone + separator).encode()
    n = size // len(unit)
    path.write_bytes(unit * n)
    return n


def tiny_header_har(path: Path, size: int, phone: str) -> Path:
    """A HAR of ``size`` bytes: entries with many tiny headers, one of them carrying ``phone``."""
    header = '{"name":"a","value":"b"},'
    entry = ('{"request":{"method":"GET","url":"https://example.invalid/","headers":[' + header * 200
             + '{"name":"x","value":"y"}]},"response":{"status":200,"headers":[]}},')
    first = entry.replace('"value":"y"', f'"value":"tel {phone}"', 1)
    count = max(size // len(entry), 2)
    text = '{"log":{"version":"1.2","entries":[' + first + entry * (count - 2) + entry[:-1] + "]}}"
    path.write_text(text, encoding="ascii")
    return path


def nested_eml(path: Path, depth: int, phone: str) -> Path:
    lines = ["From: a@example.invalid", "To: b@example.invalid", "Subject: nested", "MIME-Version: 1.0",
             'Content-Type: multipart/mixed; boundary="b0"', ""]
    for i in range(1, depth):
        lines += [f"--b{i - 1}", f'Content-Type: multipart/mixed; boundary="b{i}"', ""]
    lines += [f"--b{depth - 1}", "Content-Type: text/plain", "", f"tel {phone}"]
    lines += [f"--b{i}--" for i in reversed(range(depth))]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
       '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
       '</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
       '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>')
_SST_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _xlsx(path: Path, shared_strings: str, cells: str) -> Path:
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_SST_NS}><sheetData>{cells}</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", shared_strings)
    return path


def billion_laughs_xlsx(path: Path) -> Path:
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    sst = (f'<?xml version="1.0"?><!DOCTYPE sst [{entities}]><sst {_SST_NS}><si><t>&lol9;</t></si></sst>')
    return _xlsx(path, sst, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')


def shared_strings_bomb_xlsx(path: Path, entries: int) -> Path:
    """An XLSX whose string table holds ``entries`` one-letter strings (a few hundred KB zipped)."""
    sst = f"<sst {_SST_NS}>" + "<si><t>a</t></si>" * entries + "</sst>"
    return _xlsx(path, sst, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')


def bad_number_xlsx(path: Path, value: str) -> Path:
    """An XLSX whose numeric cell holds ``value``: openpyxl's error quotes it."""
    return _xlsx(path, f"<sst {_SST_NS}></sst>", f'<row r="1"><c r="A1"><v>{value}</v></c></row>')


def big_xml_docx(path: Path, xml_bytes: int, phone: str) -> Path:
    """A DOCX whose document.xml is ``xml_bytes`` long (varied text: it deflates only ~10:1, well
    inside the ratio limit), with ``phone`` in its first paragraph."""
    import random

    rng = random.Random(5)
    head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
            'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            f'<w:p><w:r><w:t>tel {phone}</w:t></w:r></w:p>')
    paragraphs = "".join(f"<w:p><w:r><w:t>record {rng.randrange(10**8)} {rng.randrange(10**8)}</w:t></w:r></w:p>"
                         for _ in range(2000))
    body = paragraphs * (xml_bytes // len(paragraphs) + 1)
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", head + body + "</w:body></w:document>")
    return path
