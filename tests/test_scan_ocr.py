"""Screenshots and scanned pages: personal data found by OCR, with its place on the image (issue 14).

Every screen goes through ``plitool add`` and is scanned by its E-id (the stored copy has no
extension). The screens are drawn by ``tests/ocr_screens.py`` with ground truth beside them.
Needs Tesseract with its Chinese model and a CJK font; CI installs them (``.ci/run``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plitool.pii.ocr import repair_digits, repair_masks, sniff_image, tidy_spaces
from plitool.vault.case import Case

from .conftest import Cli
from .ocr_screens import Fake, _font, call_log, chat, cjk_font_path, load_truth, make_set, sms, table

HAVE_OCR = shutil.which("tesseract") is not None and cjk_font_path() is not None
needs_ocr = pytest.mark.skipif(not HAVE_OCR, reason="OCR tests need tesseract-ocr, tesseract-ocr-chi-sim and "
                                                    "fonts-noto-cjk or fonts-wqy-microhei (CI installs them)")
PLACE = re.compile(r"^(page|frame) \d+ box \d+,\d+,\d+,\d+ conf \d+$")


def _json(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


def _add(run: Cli, *paths: Path) -> list[str]:
    result = run("add", *map(str, paths), "--json")
    assert result.exit_code == 0, result.output
    return [r["item"] for r in json.loads(result.stdout)["results"]]


def _recall(files: list[Path], records: list[dict], kinds: tuple[str, ...]) -> dict[str, float]:
    """Recall per kind over ``files``, matching the findings' fingerprints to the truth's values by
    the masked form and the page (the output holds no raw values)."""
    from plitool.pii.mask import mask

    out = {}
    for kind in kinds:
        hits = total = 0
        for path, rec in zip(files, records, strict=True):
            expected = [v for v in load_truth(path)["values"] if v["kind"] == kind]
            found = [(f["masked"], f["page"]) for f in rec["findings"] if f["type"] == kind and not f["partial"]]
            for v in expected:
                total += 1
                hits += (mask(kind, v["value"]), v["page"]) in found
        out[kind] = hits / total if total else 1.0
    return out


# -- pure functions ------------------------------------------------------------------------------


def test_digit_runs_are_repaired_and_masks_kept() -> None:
    def fix(text: str) -> str:
        t, o = repair_masks(text, list(range(len(text))))
        return repair_digits(t, o)[0]

    assert fix("13O l234 5678") == "130 1234 5678"
    assert fix("电话1381 23 45678。") == "电话13812345678。"
    assert fix("99012319900l01123X") == "99012319900101123X"
    assert fix("用户188” ”0806，") == "用户188****0806，"
    assert fix("138****5678") == "138****5678"
    assert fix("Hello 1234567 World") == "Hello 1234567 World"  # too short for a phone: untouched
    assert fix("订单 2023 1108 0001") == "订单 2023 1108 0001"  # 16 digits: not joined


def test_spaces_between_chinese_are_dropped_and_labels_separated() -> None:
    text = "姓名: 邓 建华手机: 15165060546"
    t, o = tidy_spaces(text, list(range(len(text))))
    assert t == "姓名: 邓建华 手机: 15165060546" and len(o) == len(t)


@given(st.text(alphabet="0123456789 -OoIl|*”xX姓名手机:，abc", max_size=60))
def test_repairs_keep_one_owner_per_character(text: str) -> None:
    t, o = tidy_spaces(text, list(range(len(text))))
    t, o = repair_masks(t, o)
    t, o = repair_digits(t, o)
    assert len(t) == len(o) and all(-1 <= i < len(text) for i in o)


def test_image_kinds_by_magic() -> None:
    assert sniff_image(b"\x89PNG\r\n\x1a\n....") == "PNG"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WebP"
    assert sniff_image(b"\x00\x00\x00\x18ftypheic\x00\x00") == "HEIC"
    assert sniff_image(b"II*\x00") == "TIFF" and sniff_image(b"\xff\xd8\xff\xe0") == "JPEG"
    assert sniff_image(b"BM is how this text file starts") is None


# -- through the command line --------------------------------------------------------------------


@needs_ocr
@pytest.mark.slow
def test_clean_screenshots_phone_and_id_recall(run: Cli, tmp_path: Path) -> None:
    files = make_set(tmp_path / "clean", "clean", count=4)
    ids = _add(run, *files)
    result = run("scan", *ids, "--json", "--limit", "0")
    assert result.exit_code == 0, result.output
    records = _json(result)["files"]
    assert [r["format"] for r in records] == ["image"] * 4
    recall = _recall(files, records, ("phone", "id_number", "name"))
    assert recall["phone"] >= 0.95 and recall["id_number"] >= 0.95, recall
    assert recall["name"] >= 0.6, recall
    for rec in records:
        for f in rec["findings"]:
            assert PLACE.match(f["location"]), f["location"]
            assert f["page"] == 1 and len(f["box"]) == 4 and 0 <= f["confidence"] <= 100
            assert f["candidate"] == (f["confidence"] < 70) or (f["type"] == "name" and f["candidate"])
    for path in files:  # personal data never appears raw in the output
        for v in load_truth(path)["values"]:
            assert v["value"].removeprefix("+86") not in result.stdout


@needs_ocr
def test_masked_numbers_stay_masked(run: Cli, tmp_path: Path) -> None:
    img, truth = call_log(Fake(5), (720, 1600))
    path = tmp_path / "calls.png"
    img.save(path)
    (item,) = _add(run, path)
    (rec,) = _json(run("scan", item, "--json", "--limit", "0"))["files"]
    (masked,) = truth.masked
    partial = [f for f in rec["findings"] if f["partial"]]
    assert [f["masked"] for f in partial] == [masked["value"]]
    assert rec["masked_counts"] == {"phone": 1}
    assert rec["counts"]["phone"] >= 7  # 8 numbers written 3-4-4


@needs_ocr
@pytest.mark.slow
def test_degraded_screenshots_recall(run: Cli, tmp_path: Path) -> None:
    files = make_set(tmp_path / "degraded", "degraded", count=3)
    assert all(p.suffix == ".jpg" for p in files)
    ids = _add(run, *files)
    records = _json(run("scan", *ids, "--json", "--limit", "0"))["files"]
    recall = _recall(files, records, ("phone", "id_number"))
    assert recall["phone"] >= 0.85 and recall["id_number"] >= 0.85, recall


@needs_ocr
@pytest.mark.slow
def test_scanned_pdf_pages_are_read_by_ocr(run: Cli, tmp_path: Path) -> None:
    (pdf,) = make_set(tmp_path / "scanned", "scanned", count=1)
    (item,) = _add(run, pdf)
    result = run("scan", item, "--json", "--limit", "0")
    assert result.exit_code == 0
    (rec,) = _json(result)["files"]
    assert rec["format"] == "pdf" and rec["text_layer"] is False
    assert any("read by OCR" in n for n in rec["notes"])
    assert {f["page"] for f in rec["findings"]} == {1, 2}
    recall = _recall([pdf], [rec], ("phone", "id_number"))
    assert recall == {"phone": 1.0, "id_number": 1.0}, recall
    (never,) = _json(run("scan", item, "--json", "--ocr", "never"))["files"]
    assert never["total"] == 0 and any("OCR them first" in n for n in never["notes"])


@needs_ocr
def test_pdf_text_layer_and_ocr_always(run: Cli, tmp_path: Path) -> None:
    """A PDF with text: OCR only with --ocr always (the same values then found twice)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    phone = Fake(8).phone()
    path = tmp_path / "text.pdf"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("STSong-Light", 16)
    c.drawString(72, 700, f"联系电话：{phone}")
    c.save()
    (item,) = _add(run, path)
    (auto,) = _json(run("scan", item, "--json"))["files"]
    assert auto["counts"] == {"phone": 1} and "page" not in auto["findings"][0]
    (always,) = _json(run("scan", item, "--json", "--ocr", "always"))["files"]
    assert always["counts"] == {"phone": 2}
    assert [f.get("page") for f in always["findings"]] == [None, 1]


@needs_ocr
def test_every_frame_of_a_tiff_and_webp_bmp(run: Cli, tmp_path: Path) -> None:
    fake = Fake(9)
    first, t1 = sms(fake, (720, 1600))
    second, t2 = table(fake, (720, 900), rows=3)
    tiff = tmp_path / "frames.tiff"
    first.save(tiff, save_all=True, append_images=[second])
    webp, bmp = tmp_path / "chat.webp", tmp_path / "chat.bmp"
    img, t3 = chat(fake, (720, 1560))
    img.save(webp, lossless=True)
    img.convert("RGB").save(bmp)
    ids = _add(run, tiff, webp, bmp)
    result = run("scan", *ids, "--json", "--limit", "0")
    assert result.exit_code == 0, result.output
    rec_tiff, rec_webp, rec_bmp = _json(result)["files"]
    frames = {f["page"] for f in rec_tiff["findings"]}
    assert frames == {1, 2}
    assert all(f["location"].startswith("frame ") for f in rec_tiff["findings"])
    t2_phones = {v["value"] for v in t2.values if v["kind"] == "phone"}
    assert len([f for f in rec_tiff["findings"] if f["page"] == 2 and f["type"] == "phone"]) == len(t2_phones)
    assert rec_webp["counts"].get("phone", 0) >= 3 and rec_webp["counts"] == rec_bmp["counts"]


def test_heic_is_named_not_scanned_and_the_batch_goes_on(run: Cli, tmp_path: Path) -> None:
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    text = tmp_path / "note.txt"
    text.write_text("电话 13812341234\n", encoding="utf-8")
    ids = _add(run, heic, text)
    result = run("scan", *ids, "--json")
    assert result.exit_code == 1
    bad, good = _json(result)["files"]
    assert bad["status"] == "failed" and bad["error"].startswith("not scanned: heic")
    assert good["status"] == "scanned" and good["counts"] == {"phone": 1}


def test_without_tesseract_images_fail_and_others_are_scanned(run: Cli, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    Image.new("RGB", (200, 100), (255, 255, 255)).save(shot)
    text = tmp_path / "note.txt"
    text.write_text("电话 13812341234\n", encoding="utf-8")
    ids = _add(run, shot, text)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no tesseract on the PATH
    result = run("scan", *ids, "--json")
    assert result.exit_code == 1
    bad, good = _json(result)["files"]
    assert bad["status"] == "failed"
    assert bad["error"] == "not scanned: image (install tesseract-ocr and tesseract-ocr-chi-sim)"
    assert good["counts"] == {"phone": 1}
    human = run("scan", *ids)
    assert "install tesseract-ocr and tesseract-ocr-chi-sim" in human.output and human.exit_code == 1


# -- the marked copy -----------------------------------------------------------------------------


@needs_ocr
@pytest.mark.slow
def test_show_boxes_writes_a_logged_marked_copy_and_leaves_the_evidence(run: Cli, case: Case, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from plitool.pii import boxes

    drawn: list[str] = []
    real_draw = boxes.draw_boxes

    def spy(frame, labelled):  # type: ignore[no-untyped-def]
        drawn.extend(label for _box, label, _style in labelled if label)  # "": a wrapped value's second line
        return real_draw(frame, labelled)

    monkeypatch.setattr(boxes, "draw_boxes", spy)
    img, truth = sms(Fake(3), (1080, 2340))
    shot = tmp_path / "sms.png"
    img.save(shot)
    (item,) = _add(run, shot)
    out = tmp_path / "out" / "marked.png"
    result = run("scan", item, "--show-boxes", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = _json(result)
    marked = data["marked_copy"]
    assert marked["boxes"] == data["files"][0]["total"] and marked["boxes"] >= 5
    assert hashlib.sha256(out.read_bytes()).hexdigest() == marked["sha256"]
    with Image.open(out) as copy:
        assert copy.size == img.size
    # the stored evidence is unchanged: verify re-hashes it
    assert run("verify").exit_code == 0
    log = json.loads(run("show", item, "--json").stdout)
    notes = [e for e in log["history"] if e["event"] == "note"]
    assert notes and notes[-1]["data"]["action"] == "scan --show-boxes"
    assert notes[-1]["data"]["output_sha256"] == marked["sha256"] and notes[-1]["data"]["to"] == str(out)
    # the labels drawn are masks, never raw values
    assert all(re.fullmatch(r"(phone|id_number|name) \S+\??", label) for label in drawn), drawn
    assert any("****" in label for label in drawn)
    for v in truth.values:
        assert not any(v["value"].removeprefix("+86") in label or v["value"] in label for label in drawn)
    # refused without --force, before any work; replaced with it; never inside the case
    again_run = run("scan", item, "--show-boxes", "-o", str(out))
    assert again_run.exit_code == 2 and "already exists" in again_run.output
    assert run("scan", item, "--show-boxes", "-o", str(out), "--force").exit_code == 0
    inside = run("scan", item, "--show-boxes", "-o", str(case.root / ".plitool" / "x.png"))
    assert inside.exit_code == 2
    assert run("scan", item, "--show-boxes").exit_code == 2  # needs -o
    assert run("scan", item, "-o", str(tmp_path / "y.png")).exit_code == 2  # -o needs --show-boxes
    assert run("scan", item, "--show-boxes", "-o", str(tmp_path / "y.gif")).exit_code == 2


@needs_ocr
def test_show_boxes_refuses_what_is_not_an_image(run: Cli, tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text("电话 13812341234\n", encoding="utf-8")
    (item,) = _add(run, text)
    result = run("scan", item, "--show-boxes", "-o", str(tmp_path / "m.png"))
    assert result.exit_code == 2 and not (tmp_path / "m.png").exists()


# -- bounds --------------------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` × ``height`` pixels and holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_30000_square_image_is_refused_before_decoding(run: Cli, tmp_path: Path) -> None:
    bomb = _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    text = tmp_path / "note.txt"
    text.write_text("电话 13812341234\n", encoding="utf-8")
    ids = _add(run, bomb, text)
    result = run("scan", *ids, "--json")
    assert result.exit_code == 1
    bad, good = _json(result)["files"]
    if shutil.which("tesseract") is not None:
        assert bad["status"] == "failed" and "refused" in bad["error"], bad["error"]
    assert good["counts"] == {"phone": 1}


@needs_ocr
def test_large_images_are_downscaled_or_drafted_with_a_note(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    from plitool.pii.ocr import OcrLimits, OcrSettings
    from plitool.pii.scan import ScanOptions, scan_file

    phone = Fake(4).phone()
    img = Image.new("L", (1600, 1000), 255)
    ImageDraw.Draw(img).text((100, 400), f"手机号：{phone}", font=_font(90), fill=0)
    png, jpg = tmp_path / "big.png", tmp_path / "big.jpg"
    img.save(png)
    img.save(jpg, quality=90)
    small = ScanOptions(ocr=OcrSettings(limits=OcrLimits(max_decode_pixels=1_000_000, max_ocr_pixels=900_000)))
    refused = scan_file(png, "big.png", small)
    assert refused.status == "failed" and "refused" in (refused.error or "")
    drafted = scan_file(jpg, "big.jpg", small)
    assert drafted.status == "scanned" and any("reduced scale" in n for n in drafted.notes)
    shrunk = scan_file(png, "big.png", ScanOptions(ocr=OcrSettings(limits=OcrLimits(max_ocr_pixels=900_000))))
    assert any("downscaled" in n for n in shrunk.notes) and shrunk.counts == {"phone": 1}
    (f,) = shrunk.findings  # the box is in the original's pixels
    assert f.box is not None and 80 <= f.box[0] <= 700 and 350 <= f.box[1] <= 520


def test_a_hanging_ocr_engine_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that makes Tesseract hang costs the timeout, not the batch (a fake engine sleeps)."""
    from PIL import Image

    from plitool.pii.ocr import OcrLimits, OcrSettings
    from plitool.pii.scan import ScanOptions, scan_file

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tesseract"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --list-langs ]; then printf 'List\\nchi_sim\\neng\\n'; exit 0; fi\n"
                    "exec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    shot = tmp_path / "shot.png"
    Image.new("RGB", (100, 50), (255, 255, 255)).save(shot)
    result = scan_file(shot, "shot.png", ScanOptions(ocr=OcrSettings(limits=OcrLimits(timeout=1))))
    assert result.status == "failed" and "gave up after 1 seconds" in (result.error or "")


def test_the_sample_screenshot_is_what_its_script_draws(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import PROJECT_ROOT

    noto = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    if not noto.is_file():
        pytest.skip("the committed sample is drawn with Noto Sans CJK SC (fonts-noto-cjk)")
    out = tmp_path / "shot.png"
    subprocess.run([sys.executable, str(PROJECT_ROOT / "samples" / "make_screenshot.py"), str(out)], check=True,
                   capture_output=True, timeout=120)
    assert out.read_bytes() == (PROJECT_ROOT / "samples" / "screens" / "scam-sms-2026-10-21.png").read_bytes()


@needs_ocr
def test_frames_beyond_the_limit_are_noted(tmp_path: Path) -> None:
    from PIL import Image

    from plitool.pii.ocr import OcrLimits, OcrSettings
    from plitool.pii.scan import ScanOptions, scan_file

    frames = [Image.new("L", (60, 40), 255) for _ in range(5)]
    tiff = tmp_path / "many.tif"
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    result = scan_file(tiff, "many.tif", ScanOptions(ocr=OcrSettings(limits=OcrLimits(max_frames=2))))
    assert result.status == "scanned"
    assert any("only the first 2 of 5 frames" in n for n in result.notes)


@needs_ocr
@pytest.mark.slow
def test_show_boxes_on_a_scanned_pdf_marks_its_pages(run: Cli, tmp_path: Path) -> None:
    from pypdf import PdfReader

    (pdf,) = make_set(tmp_path / "scanned", "scanned", count=1)
    (item,) = _add(run, pdf)
    assert run("scan", item, "--show-boxes", "-o", str(tmp_path / "m.png")).exit_code == 2  # pages: .pdf or .tif
    out = tmp_path / "marked.pdf"
    result = run("scan", item, "--show-boxes", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = _json(result)
    reader = PdfReader(out)
    assert len(reader.pages) == 2  # both pages hold findings
    width = float(reader.pages[0].mediabox.width)
    assert 590 < width < 600  # still A4 paper (595 pt)
    assert data["marked_copy"]["boxes"] == data["files"][0]["total"]
    assert pdf.read_bytes()[:5] == b"%PDF-" and run("verify").exit_code == 0


@needs_ocr
def test_pdf_pages_beyond_the_ocr_limit_are_noted(tmp_path: Path) -> None:
    from PIL import Image

    from plitool.pii.ocr import OcrLimits, OcrSettings
    from plitool.pii.scan import ScanOptions, scan_file

    pages = [Image.new("L", (200, 280), 255) for _ in range(3)]
    pdf = tmp_path / "blank.pdf"
    pages[0].save(pdf, "PDF", resolution=30, save_all=True, append_images=pages[1:])
    result = scan_file(pdf, "blank.pdf", ScanOptions(ocr=OcrSettings(limits=OcrLimits(max_frames=1))))
    assert result.status == "scanned"
    assert any("only the first 1 pages without text were read by OCR" in n for n in result.notes), result.notes


def test_ocr_never_leaves_images_unscanned(run: Cli, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    Image.new("RGB", (120, 80), (255, 255, 255)).save(shot)
    (item,) = _add(run, shot)
    result = run("scan", item, "--json", "--ocr", "never")
    assert result.exit_code == 0
    (rec,) = _json(result)["files"]
    assert rec["status"] == "not scanned" and rec["notes"] == ["not scanned: image (--ocr never)"]
