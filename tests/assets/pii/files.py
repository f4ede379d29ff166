"""Generators of small evidence files in every format the scanner reads (synthetic content)."""

from __future__ import annotations

import base64
import json
import zipfile
from email.message import EmailMessage
from pathlib import Path


def make_pdf(path: Path, pages: list[str], *, title: str | None = None, password: str | None = None) -> Path:
    """A minimal, valid PDF with one line of Helvetica text per line of each page's string."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages, filled below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        lines = text.split("\n")
        ops = ["BT /F1 12 Tf 14 TL 72 720 Td"]
        for ln in lines:
            esc = ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        page_ids.append(len(objects))
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(page_ids)
    info_id = None
    if title:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
        info_id = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1)
    if info_id:
        trailer += b" /Info %d 0 R" % info_id
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    if password is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(password, algorithm="AES-128")
        with open(path, "wb") as f:
            writer.write(f)
    return path


def make_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None, header: str | None = None) -> Path:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    if header:
        document.sections[0].header.paragraphs[0].text = header
    document.save(str(path))
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(str(path))
    return path


def make_har(path: Path, phone: str, email: str, device: str) -> Path:
    body = json.dumps({"user": {"mobile": phone, "nick": "x"}}).encode()
    har = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        {"request": {"method": "GET", "url": f"https://api.example.invalid/u/{phone}/info?mail={email}&t=1760230502000",
                     "headers": [{"name": "X-Device-Id", "value": device}],
                     "cookies": [{"name": "uid_email", "value": email}], "queryString": []},
         "response": {"status": 200, "headers": [], "cookies": [],
                      "content": {"mimeType": "application/json", "encoding": "base64",
                                  "text": base64.b64encode(body).decode()}}},
        {"request": {"method": "POST", "url": "https://sdk.example.invalid/collect", "headers": [],
                     "postData": {"mimeType": "application/x-www-form-urlencoded", "text": f"oaid={device}&tel={phone}"}},
         "response": {"status": 204, "content": {"mimeType": "image/png", "encoding": "base64",
                                                 "text": base64.b64encode(b"\x89PNG\x00\x00" + phone.encode()).decode()}}},
    ]}}
    path.write_text(json.dumps(har), encoding="utf-8")
    return path


def make_eml(path: Path, sender: str, phone: str, html_phone: str) -> Path:
    msg = EmailMessage()
    msg["From"] = f"Zhang <{sender}>"
    msg["To"] = "office@example.invalid"
    msg["Subject"] = "泄露名单"
    msg.set_content(f"请联系 {phone}\n谢谢")
    msg.add_alternative(f"<p>电话 <b>{html_phone}</b></p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="list.pdf")
    path.write_bytes(bytes(msg))
    return path


def make_zip_bomb(path: Path, kind: str, size: int) -> Path:
    """A DOCX/XLSX-shaped zip whose main part expands to ``size`` bytes of zeros."""
    member = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open(member, "w", force_zip64=True) as f:
            chunk = b"\x00" * (1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
    return path
