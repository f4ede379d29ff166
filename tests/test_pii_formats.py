"""Every format on generated files, and every bad input of issue 4."""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import tracemalloc
from pathlib import Path

import pytest

from plitool.pii.extract import ArchiveLimits, detect_encoding, sniff_format
from plitool.pii.scan import FileScan, ScanOptions, scan_file

from .assets.pii import files, synth

HEADER = ["姓名", "手机号", "身份证号", "收件地址", "订单号"]


def people(n: int, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    return [[synth.fake_name(rng), synth.fake_phone(rng), synth.fake_id(rng), synth.fake_address(rng),
             f"SO{rng.randint(10**11, 10**12 - 1)}"] for _ in range(n)]


def csv_bytes(rows: list[list[str]], encoding: str, delimiter: str = ",", header: list[str] | None = HEADER) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def scan(path: Path, name: str | None = None, **kw: object) -> FileScan:
    return scan_file(path, name or path.name, ScanOptions(**kw))  # type: ignore[arg-type]


def locations(result: FileScan, kind: str) -> list[str]:
    return [f.location for f in result.findings if f.kind == kind]


# -- CSV / TSV ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-16", "utf-16-le"),
])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    rows = people(30)
    path = tmp_path / "leak.csv"
    path.write_bytes(csv_bytes(rows, encoding))
    result = scan(path)
    assert result.status == "scanned" and result.encoding == expected and result.replaced_bytes == 0
    assert result.counts == {"name": 30, "phone": 30, "id_number": 30, "address": 30, "order_id": 30}
    assert locations(result, "phone")[0] == "row 2 col 2 (手机号)"
    assert {f.value for f in result.findings if f.kind == "phone"} <= {"+86" + r[1] for r in rows}


@pytest.mark.parametrize("delimiter,suffix", [("\t", ".tsv"), (";", ".csv"), ("|", ".txt.csv")])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    path = tmp_path / f"leak{suffix}"
    path.write_bytes(csv_bytes(people(10), "utf-8", delimiter))
    assert scan(path).counts["id_number"] == 10


def test_csv_without_header_gets_every_detector(tmp_path: Path) -> None:
    rows = people(12)
    path = tmp_path / "noheader.csv"
    path.write_bytes(csv_bytes([[r[2], "备注", r[1]] for r in rows], "utf-8", header=None))
    result = scan(path)
    assert result.counts == {"id_number": 12, "phone": 12}
    assert locations(result, "id_number")[0] == "row 1 col 1"


def test_header_typing_keeps_order_numbers_out_of_phones(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("订单号,下单时间,手机号\n13812341234,1760230502000,138****5678\n", encoding="utf-8")
    result = scan(path)
    assert result.counts == {"order_id": 1} and result.partial_counts == {"phone": 1}


def test_mixed_encodings_are_decoded_with_a_count_of_replaced_bytes(tmp_path: Path) -> None:
    rows = people(20)
    data = csv_bytes(rows, "utf-8")
    lines = data.split(b"\r\n")
    broken = "张三".encode("gbk")  # 4 bytes, none valid UTF-8 here
    for i in (3, 7, 11):
        cells = lines[i].split(b",")
        cells[0] = broken
        lines[i] = b",".join(cells)
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = scan(path)
    assert result.encoding == "utf-8" and result.replaced_bytes == 12
    assert result.counts["phone"] == 20  # the phones on the broken lines are still found
    assert any("12 byte(s)" in n for n in result.notes)


def test_broken_gbk_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    data = csv_bytes(people(10), "gbk")
    path = tmp_path / "broken.csv"
    path.write_bytes(data[:60] + b"\xff" + data[60:] + b"\x81")
    result = scan(path)
    assert result.encoding == "gb18030" and result.replaced_bytes == 2 and result.counts["phone"] == 10


def test_encoding_detection_on_samples() -> None:
    assert detect_encoding(codecs.BOM_UTF8 + b"a") == ("utf-8", 3)
    assert detect_encoding("手机号,13812341234".encode("utf-16-le")) == ("utf-16-le", 0)
    assert detect_encoding("手机号".encode("gbk") * 10) == ("gb18030", 0)
    assert detect_encoding("手机号".encode() * 10 + "手"[:1].encode("utf-8")[:2]) == ("utf-8", 0)


def _big_csv(path: Path, rows: int) -> None:
    rng = random.Random(9)
    with open(path, "w", encoding="gbk", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for _ in range(rows):
            w.writerow([synth.fake_name(rng), synth.fake_phone(rng), synth.fake_id(rng), synth.fake_address(rng),
                        f"SO{rng.randint(10**11, 10**12 - 1)}"])


def _peak(path: Path) -> tuple[int, FileScan]:
    tracemalloc.start()
    try:
        result = scan(path, limit=50)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_large_csv_streams_in_constant_memory(tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _big_csv(small, 5_000)
    _big_csv(large, 40_000)  # about 2.9 MB; peak memory must not follow the file size
    _peak(large)  # warm up: imports, metadata and the bounded caches (one entry per birth date at most)
    peak_small, r_small = _peak(small)
    peak_large, r_large = _peak(large)
    assert r_large.counts == {k: 40_000 for k in ("name", "phone", "id_number", "address", "order_id")}
    assert r_small.units == 5_000 and r_large.units == 40_000 and len(r_large.findings) == 50
    # 8x the rows, the same memory: a block of rows and the listed findings, never the file
    assert peak_large < 4 * 2**20 and peak_large < peak_small + 2**19, (peak_small, peak_large)


def test_block_fast_path_counts_exactly_like_the_per_cell_path(tmp_path: Path) -> None:
    rng = random.Random(4)
    rows = people(6000, seed=4)
    for r in rows:
        roll = rng.random()
        if roll < 0.01:
            r[1] = r[1][:3] + "****" + r[1][-4:]
        elif roll < 0.02:
            r[2] = synth.fake_id(rng, valid=False)
        elif roll < 0.03:
            r[0] = r[0][0] + "某"
        elif roll < 0.04:
            r[3] = " " + r[3] + " 2 单元"
        elif roll < 0.05:
            r[1] = ""
        elif roll < 0.06:
            r[2] = r[2][:-1] + r[2][-1].lower()
        elif roll < 0.07:
            r[1] = "+86 " + r[1]
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_bytes(rows, "gbk"))
    every = scan(path, limit=None)
    fast = scan(path, limit=1)
    assert every.counts == fast.counts and every.partial_counts == fast.partial_counts
    assert every.total == len(every.findings) and fast.units == every.units == 6000


def test_corrupt_csv_is_a_named_problem(tmp_path: Path) -> None:
    path = tmp_path / "huge-field.csv"
    path.write_text("手机号,备注\n13812341234,\"" + "x" * 200_000 + "\"\n", encoding="utf-8")
    result = scan(path)  # a large cell (under the 1 Mi-character bound) is read
    assert result.status == "scanned" and result.counts == {"phone": 1}
    # a quoted cell spanning lines past the bound: memory is not given to it, the file is named
    path.write_text("手机号,备注\n13812341234,\"" + ("x" * 999 + "\n") * 1200 + "\"\n", encoding="utf-8")
    result = scan(path)
    assert result.status == "failed" and "CSV" in (result.error or "") and "field limit" in (result.error or "")


# -- XLSX ---------------------------------------------------------------------------------


def test_xlsx_cells_and_sheets(tmp_path: Path) -> None:
    rows = people(5)
    path = files.make_xlsx(tmp_path / "list.xlsx", {
        "名单": [HEADER] + [[r[0], int(r[1]), r[2], r[3], r[4]] for r in rows] + [[None] * 5, [rows[0][0], None, rows[1][2]]],
        "备注": [["自由文本", f"电话 {rows[2][1]}"]],
    })
    result = scan(path)
    assert result.status == "scanned" and result.format == "xlsx"
    assert result.counts["phone"] == 6 and result.counts["id_number"] == 6 and result.counts["name"] == 6
    assert "名单!B2" in locations(result, "phone") and "备注!B1" in locations(result, "phone")
    assert "名单!C8" in locations(result, "id_number")


def test_corrupt_xlsx(tmp_path: Path) -> None:
    good = files.make_xlsx(tmp_path / "good.xlsx", {"s": [["手机号"], ["13812341234"]]})
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    result = scan(bad)
    assert result.status == "failed" and "XLSX" in (result.error or "")


# -- DOCX ---------------------------------------------------------------------------------


def test_docx_paragraphs_tables_headers(tmp_path: Path) -> None:
    rows = people(3)
    path = files.make_docx(tmp_path / "statement.docx", [f"本人电话 {rows[0][1]}", "没有个人信息", f"身份证 {rows[0][2]}"],
                           table=[["姓名", "手机号"], [rows[1][0], rows[1][1]]], header="联系人邮箱 zs@example.invalid")
    result = scan(path)
    assert result.format == "docx" and result.counts == {"phone": 2, "id_number": 1, "name": 1, "email": 1}
    assert "paragraph 1" in locations(result, "phone") and "table 1 row 2 col 2" in locations(result, "phone")
    assert locations(result, "email") == ["section 1 header paragraph 1"]


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file at all")
    result = scan(path)
    assert result.status == "failed" and "DOCX" in (result.error or "")


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_zip_bombs_are_refused(tmp_path: Path, kind: str) -> None:
    path = files.make_zip_bomb(tmp_path / f"bomb.{kind}", kind, 16 << 20)
    assert path.stat().st_size < 100_000
    result = scan(path)
    assert result.status == "failed" and "refused" in (result.error or "") and "zip bomb" in (result.error or "")
    tight = scan_file(path, path.name, ScanOptions(archive_limits=ArchiveLimits(max_total=1 << 20, ratio_floor=1 << 30)))
    assert tight.status == "failed" and "would expand" in (tight.error or "")


# -- PDF ----------------------------------------------------------------------------------


def test_pdf_pages_and_metadata(tmp_path: Path) -> None:
    rows = people(2)
    path = files.make_pdf(tmp_path / "report.pdf", [f"Phone {rows[0][1]}", f"intro\nID {rows[1][2]}"],
                          title="contact zs@example.invalid")
    result = scan(path)
    assert result.format == "pdf" and result.counts == {"phone": 1, "id_number": 1, "email": 1}
    assert locations(result, "phone") == ["page 1 line 1"] and locations(result, "id_number") == ["page 2 line 2"]
    assert locations(result, "email") == ["metadata /Title"]


def test_encrypted_pdf_needs_its_password(tmp_path: Path) -> None:
    path = files.make_pdf(tmp_path / "locked.pdf", ["Phone 13812341234"], password="s3cret")
    locked = scan(path)
    assert locked.status == "failed" and "--password" in (locked.error or "")
    wrong = scan(path, password="nope")
    assert wrong.status == "failed" and "does not open" in (wrong.error or "")
    opened = scan(path, password="s3cret")
    assert opened.status == "scanned" and opened.counts == {"phone": 1}


@pytest.mark.parametrize("data", [b"%PDF-1.4\n garbage without objects", b"not a pdf at all"])
def test_corrupt_pdf(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    result = scan(path)
    assert result.status == "failed" and "PDF" in (result.error or "")


# -- JSON, JSONL, HAR, e-mail, text, other ---------------------------------------------------


def test_json_paths_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"users": [{"name": "张三", "phone": 13812341234, "addr": "示例市虚构路1号",
                                           "note": "备用 139-1234-1234"}]}, ensure_ascii=False), encoding="utf-8")
    result = scan(path)
    assert result.counts == {"name": 1, "phone": 2, "address": 1}
    assert "$.users[0].phone" in locations(result, "phone") and "$.users[0].note" in locations(result, "phone")


def test_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"mobile": "13812341234"}\n{broken 13912341234\n\n{"e": "a@example.com"}\n', encoding="utf-8")
    result = scan(path)
    assert result.counts == {"phone": 2, "email": 1}
    assert locations(result, "phone") == ["line 1 $.mobile", "line 2"] and any("not JSON" in n for n in result.notes)


def test_corrupt_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": 13812341234', encoding="utf-8")
    assert scan(path).status == "failed"


def test_har_parts_and_base64_bodies(tmp_path: Path) -> None:
    path = files.make_har(tmp_path / "capture.har", "13812341234", "zs@example.invalid", "A1B2C3D4-0000-4000-8000-000000000001")
    result = scan(path)
    assert result.format == "har"
    phone_where = locations(result, "phone")
    assert "entry 1 request.url" in phone_where
    assert "entry 1 response.content (base64) $.user.mobile" in phone_where
    assert "entry 2 request.postData [tel]" in phone_where and len(phone_where) == 3  # the PNG body is skipped
    assert set(locations(result, "email")) == {"entry 1 request.url ?mail", "entry 1 request.cookies[uid_email]"}
    assert set(locations(result, "device_id")) == {"entry 1 request.headers[X-Device-Id]", "entry 2 request.postData [oaid]"}
    assert any("binary body" in n for n in result.notes)


def test_har_known_values_hashed(tmp_path: Path) -> None:
    import hashlib

    from plitool.pii.detect import KnownValues

    values = tmp_path / "device.txt"
    values.write_text("phone: 13812341234\n", encoding="utf-8")
    har = {"log": {"entries": [{"request": {"url": "https://t.example.invalid/p?h=" + hashlib.md5(b"13812341234").hexdigest(),
                                            "headers": []}, "response": {}}]}}
    path = tmp_path / "t.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions(known_values=KnownValues.load(values)))
    assert result.counts == {"phone": 1}
    assert result.findings[0].via == "known:md5" and result.findings[0].location == "entry 1 request.url ?h"


def test_not_a_har(tmp_path: Path) -> None:
    path = tmp_path / "x.har"
    path.write_text('{"foo": 1}', encoding="utf-8")
    assert scan(path).status == "failed"


def test_eml_headers_text_html_and_attachments(tmp_path: Path) -> None:
    path = files.make_eml(tmp_path / "mail.eml", "zs@example.invalid", "13812341234", "139 1234 1234")
    result = scan(path)
    assert result.format == "eml" and result.counts == {"email": 2, "phone": 2}
    assert "header From" in locations(result, "email")
    assert any(w.endswith("(text/html) line 1") for w in locations(result, "phone"))
    assert any("attachment 'list.pdf'" in n for n in result.notes)


def test_eml_multipart_boundaries_are_not_bank_cards(tmp_path: Path) -> None:
    """Regression: the random boundary in Content-Type passed the Luhn check one time in ten."""
    from email.message import EmailMessage

    for boundary in ("===============4012888888881881==", "4111111111111111111"):  # both pass Luhn
        msg = EmailMessage()
        msg["From"] = "office@example.invalid"
        msg.set_content("no personal data here")
        msg.add_alternative("<p>none</p>", subtype="html")
        msg.set_boundary(boundary)
        path = tmp_path / "boundary.eml"
        path.write_bytes(bytes(msg))
        result = scan(path)
        assert result.counts == {"email": 1}, result.counts


def test_text_lines(tmp_path: Path) -> None:
    path = tmp_path / "statement.txt"
    path.write_text("情况说明\n本人张某，电话 13812341234。\n", encoding="gb18030")
    result = scan(path)
    assert result.counts == {"phone": 1} and result.partial_counts == {"name": 1}
    assert locations(result, "phone") == ["line 2"]


def test_other_types_are_not_scanned(tmp_path: Path) -> None:
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 20)
    result = scan(gif)
    assert result.status == "not scanned" and result.notes == ["not scanned: GIF image"]
    png = tmp_path / "shot.png"  # images are read by OCR now (tests/test_scan_ocr.py); a damaged one fails
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert sniff_format(png, "shot.png") == "image" and scan(png).status == "failed"
    blob = tmp_path / "data.bin"
    blob.write_bytes(bytes(range(256)))
    assert scan(blob).status == "not scanned"
    stored = tmp_path / "0123abcd"  # a stored object has no extension: the original name decides
    stored.write_bytes(b'{"phone": "13812341234"}')
    assert sniff_format(stored, "capture.json") == "json" and scan(stored, "x").format == "json"


def test_known_values_in_untyped_table_cells(tmp_path: Path) -> None:
    import hashlib

    from plitool.pii.detect import KnownValues

    from stdnum import luhn

    imei = "86000000000000" + luhn.calc_check_digit("86000000000000")
    values = tmp_path / "device.txt"
    values.write_text(f"imei: {imei}\n", encoding="utf-8")
    path = tmp_path / "sdk-log.csv"
    digest = hashlib.sha1(imei.encode()).hexdigest()
    path.write_text(f"时间,参数\n2026-10-01,{digest}\n", encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions(known_values=KnownValues.load(values)))
    assert result.counts == {"imei": 1} and result.findings[0].via == "known:sha1"
    assert result.findings[0].location == "row 2 col 2"
