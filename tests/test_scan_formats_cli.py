"""Every format the scanner reads, through the command line, as a path and as an E-id (issue 8).

The stored copy of evidence has no file-name extension: a reader that needs one (openpyxl) or
guesses by name fails on an E-id while a unit test on ``list.xlsx`` passes. So each format is
scanned twice: as a path (added by ``scan``) and as the E-id that ``plitool add`` gave it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from .assets.pii import files, synth
from .conftest import Cli


def _phone(seed: int) -> str:
    return synth.fake_phone(random.Random(seed))


def _csv(p: Path, phone: str) -> None:
    p.write_text(f"姓名,手机号\r\n张伟,{phone}\r\n", encoding="utf-8")


def _tsv(p: Path, phone: str) -> None:
    p.write_text(f"姓名\t手机号\r\n张伟\t{phone}\r\n", encoding="utf-8")


def _json(p: Path, phone: str) -> None:
    p.write_text(json.dumps({"user": {"mobile": phone}}), encoding="utf-8")


def _jsonl(p: Path, phone: str) -> None:
    p.write_text(json.dumps({"mobile": phone}) + "\n" + json.dumps({"x": 1}) + "\n", encoding="utf-8")


def _text(p: Path, phone: str) -> None:
    p.write_text(f"联系电话 {phone}\n", encoding="utf-8")


def _pdf(p: Path, phone: str) -> None:
    files.make_pdf(p, [f"Tel {phone}"])


def _docx(p: Path, phone: str) -> None:
    files.make_docx(p, [f"电话 {phone}"])


def _xlsx(p: Path, phone: str) -> None:
    files.make_xlsx(p, {"名单": [["姓名", "手机号"], ["张伟", phone]]})


def _har(p: Path, phone: str) -> None:
    files.make_har(p, phone, "someone@example.invalid", "a1b2c3d4-0000-4000-8000-00000000abcd")


def _eml(p: Path, phone: str) -> None:
    files.make_eml(p, "someone@example.invalid", phone, phone)


def _image(p: Path, phone: str) -> None:
    """A screenshot line read by OCR (skipped where Tesseract or a CJK font is missing)."""
    import shutil

    from PIL import Image, ImageDraw

    from .ocr_screens import _font, cjk_font_path

    if shutil.which("tesseract") is None or cjk_font_path() is None:
        pytest.skip("OCR needs tesseract-ocr, tesseract-ocr-chi-sim and a CJK font (fonts-noto-cjk); CI installs them")
    img = Image.new("RGB", (720, 200), (255, 255, 255))
    ImageDraw.Draw(img).text((30, 70), f"手机号：{phone}", font=_font(40), fill=(0, 0, 0))
    img.save(p, format="PNG")


FORMATS: dict[str, tuple[str, Callable[[Path, str], None]]] = {
    "csv": (".csv", _csv), "tsv": (".tsv", _tsv), "json": (".json", _json), "jsonl": (".jsonl", _jsonl),
    "text": (".txt", _text), "pdf": (".pdf", _pdf), "docx": (".docx", _docx), "xlsx": (".xlsx", _xlsx),
    "har": (".har", _har), "eml": (".eml", _eml), "image": (".png", _image),
}


def test_every_format_is_listed() -> None:
    from plitool.pii.extract import FORMATS as SUPPORTED

    assert set(FORMATS) == set(SUPPORTED)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_as_a_path_and_as_an_evidence_id(run: Cli, tmp_path: Path, fmt: str) -> None:
    suffix, make = FORMATS[fmt]
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    make(first, _phone(1))
    make(second, _phone(2))
    assert run("add", str(first)).exit_code == 0
    for target, phone in (("E-0001", _phone(1)), (str(second), _phone(2))):
        result = run("scan", target, "--json")
        assert result.exit_code == 0, result.output
        (f,) = json.loads(result.stdout)["files"]
        assert f["status"] == "scanned" and f["format"] == fmt and f["error"] is None
        assert f["counts"].get("phone", 0) >= 1, f
        masked = f"{phone[:3]}****{phone[-4:]}"
        assert masked in [x["masked"] for x in f["findings"]]
        assert phone not in result.stdout


def test_docx_form_table_reads_labels_beside_their_values(run: Cli, tmp_path: Path) -> None:
    """Chinese forms (statements, registration sheets) are two-column label | value tables, often
    with two pairs per row. The label names the field of the cell beside it; the first row is not
    a header, and the labels themselves are not personal data."""
    import docx

    phone, name, address = _phone(7), "赵大伟", "示例省示例市和平路12号3单元"
    document = docx.Document()
    table = document.add_table(rows=3, cols=4)
    for r, cells in enumerate([("姓名", name, "性别", "男"), ("联系电话", phone, "", ""),
                               ("住址", address, "", "")]):
        for c, text in enumerate(cells):
            table.cell(r, c).text = text
    path = tmp_path / "询问笔录.docx"
    document.save(str(path))
    assert run("add", str(path)).exit_code == 0
    result = run("scan", "E-0001", "--json")
    assert result.exit_code == 0, result.output
    (f,) = json.loads(result.stdout)["files"]
    by_kind: dict[str, list[dict[str, object]]] = {}
    for finding in f["findings"]:
        by_kind.setdefault(str(finding["type"]), []).append(finding)
    assert [x["masked"] for x in by_kind.get("name", [])] == ["赵某"], f["findings"]
    assert any(x["location"] == "table 1 row 1 col 2" for x in by_kind["name"])
    assert f"{phone[:3]}****{phone[-4:]}" in [x["masked"] for x in by_kind.get("phone", [])]
    assert "address" in by_kind, f["findings"]
    for label in ("联某", "住某", "性某"):
        assert label not in result.stdout
    for raw in (name, phone, address):
        assert raw not in result.stdout
