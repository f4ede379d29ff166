"""Raw personal data in ``scan`` output without ``--reveal`` (issue 7, item 12).

Keys, header and cookie names, query parameters, attachment names, parsers' error messages and
file names all quote data. A corpus hiding known raw values in each of those places is scanned
through the real CLI, text and ``--json``; no raw value may appear anywhere in stdout or stderr.
"""

from __future__ import annotations

import json
import random
from email.message import EmailMessage
from pathlib import Path

from ..assets.pii import synth
from . import hostile_files as hf
from .conftest import Plitool

RNG = random.Random(2026)
PHONE = synth.fake_phone(RNG)
PHONE2 = synth.fake_phone(RNG)
ID = synth.fake_id(RNG)  # region 99xxxx: no real person
ISSUE_ID = "11010519491231002X"  # the issue's example: a string the scanner must mask
RAW = (PHONE, PHONE2, ID, ISSUE_ID)
MAIL = "someone@example.invalid"  # the value found at each place: the place itself is what leaks


def corpus(folder: Path) -> list[Path]:
    folder.mkdir()
    har = folder / "capture.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": [{
        "request": {"method": "GET", "url": f"https://api.example.invalid/u?{PHONE}={MAIL}&ok=2",
                    "headers": [{"name": f"X-{ISSUE_ID}", "value": MAIL}, {"name": f"X-{ID}", "value": MAIL}],
                    "cookies": [{"name": f"u{PHONE2}", "value": MAIL}]},
        "response": {"status": 200, "headers": [], "cookies": [],
                     "content": {"mimeType": "application/json", "text": json.dumps({"by_phone": {PHONE: MAIL}})}},
    }]}}), encoding="utf-8")
    keyed = folder / "keyed.json"
    keyed.write_text(json.dumps({"by_phone": {PHONE: {"vip": True, "mail": MAIL}}, "ids": {ID: MAIL}}), encoding="utf-8")
    msg = EmailMessage()
    msg["From"] = "someone@example.invalid"
    msg["Subject"] = "名单"
    msg.set_content("见附件")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=f"身份证{ISSUE_ID}.pdf")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=f"客户{PHONE2}.pdf")
    mail = folder / "mail.eml"
    mail.write_bytes(bytes(msg))
    broken = hf.bad_number_xlsx(folder / "broken.xlsx", f"{PHONE}x")  # openpyxl's error quotes the cell
    named = folder / f"客户{PHONE}名单.txt"  # the file's own name is data
    named.write_text("无\n", encoding="utf-8")
    named2 = folder / f"{ID}.csv"
    named2.write_text("a,b\n1,2\n", encoding="utf-8")
    return [har, keyed, mail, broken, named, named2]


def assert_no_raw(*texts: str) -> None:
    for text in texts:
        for raw in RAW:
            assert raw not in text, f"raw {raw} leaked in:\n{text}"


def test_no_raw_value_in_any_output(plitool: Plitool, tmp_path: Path) -> None:
    paths = corpus(tmp_path / "corpus")
    as_json = plitool("scan", "--json", *paths)
    assert as_json.code == 1  # the broken XLSX
    data = json.loads(as_json.out)
    assert len(data["files"]) == len(paths)
    locations = [f["location"] for file in data["files"] for f in file["findings"]]
    masked_phone, masked_id = f"{PHONE[:3]}****{PHONE[-4:]}", f"{ID[:6]}********{ID[-4:]}"
    for expected in (f"request.url ?{masked_phone}", f"request.headers[X-{masked_id}]", "request.cookies[u",
                     f'$.by_phone["{masked_phone}"]', f'$.ids["{masked_id}"]'):
        assert any(expected in loc for loc in locations), (expected, locations)
    as_text = plitool("scan", *[f"E-{i:04d}" for i in range(1, len(paths) + 1)])
    assert as_text.code == 1 and "E-0006" in as_text.out
    missing = plitool("scan", str(tmp_path / f"nosuch{PHONE}.txt"))
    assert missing.code != 0
    assert_no_raw(as_json.out, as_json.err, as_text.out, as_text.err, missing.out, missing.err)
    # what was masked is still there to be read: the places and the errors are named
    assert "broken.xlsx" in as_json.err and "身份证110105********002X.pdf" in as_json.out
    assert f"{PHONE[:3]}****{PHONE[-4:]}" in as_text.out


def test_reveal_still_shows_the_values_it_is_asked_for(plitool: Plitool, tmp_path: Path) -> None:
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"mobile": PHONE}), encoding="utf-8")
    shown = plitool("scan", "--reveal", "--reason", "court order 1", keyed)
    assert shown.code == 0 and PHONE in shown.out


def test_no_control_character_from_evidence_reaches_the_terminal(plitool: Plitool, tmp_path: Path) -> None:
    """A header name or a file name holding ESC, CR or U+202E must not print fake lines (item 9)."""
    spoof = "\x1b[2J\rOK: 0 problems\u202e"
    har = tmp_path / "spoof\rOK.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": [{
        "request": {"method": "GET", "url": "https://x.example.invalid/",
                    "headers": [{"name": f"X-{spoof}", "value": MAIL}]}, "response": {}}]}}), encoding="utf-8")
    run = plitool("scan", har)
    assert run.code == 0
    for text in (run.out, run.err):
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\\x1b[2J\\rOK: 0 problems\\u202e" in run.out and "spoof\\rOK.har" in run.out
