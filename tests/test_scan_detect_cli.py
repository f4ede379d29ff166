"""Issue 8 items 1, 14 and 15 through the command line, on evidence that went through
``plitool add`` (the stored copy has no file-name extension)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .assets.pii import files
from .attacks import hostile_files as hf
from .conftest import Cli

PHONE = "13912340001"
DEVICE = "a1b2c3d4-0000-4000-8000-00000000abcd"


def _scan_id(run: Cli, path: Path, *args: str) -> tuple[int, str, str]:
    added = run("add", str(path), "--json")
    assert added.exit_code == 0, added.output
    item = json.loads(added.stdout)[0]["item"] if added.stdout.lstrip().startswith("[") else "E-0001"
    result = run("scan", item, *args)
    return result.exit_code, result.stdout, result.stderr


def test_known_values_are_listed_once_with_how_they_were_found(run: Cli, tmp_path: Path) -> None:
    values = tmp_path / "device.txt"
    values.write_text(f"phone: {PHONE}\ndevice_id: {DEVICE}\n", encoding="utf-8")
    har = tmp_path / "c.har"
    har.write_text(json.dumps({"log": {"entries": [{
        "request": {"url": f"https://x.example.invalid/c?oaid={DEVICE}&h={hashlib.md5(PHONE.encode()).hexdigest()}",
                    "headers": [{"name": "X-Device-Id", "value": DEVICE}]},
        "response": {"content": {"mimeType": "application/json", "text": json.dumps({"deviceId": DEVICE, "note": f"dev {DEVICE}"})}},
    }]}}), encoding="utf-8")
    code, out, _ = _scan_id(run, har, "--known-values", str(values), "--json")
    assert code == 0
    (f,) = json.loads(out)["files"]
    # four places hold the device id, one the phone's MD5: five findings, each place once
    assert f["counts"] == {"device_id": 4, "phone": 1}, f["findings"]
    locations = [x["location"] for x in f["findings"]]
    assert len(locations) == len(set(locations)) == 5
    vias = {x["location"]: x["via"] for x in f["findings"]}
    assert vias["entry 1 request.url ?h"] == "known:md5"
    text = run("scan", "E-0001", "--known-values", str(values))
    assert "found by" in text.stdout and "md5" in text.stdout


def test_a_label_wins_over_a_pattern(run: Cli, tmp_path: Path) -> None:
    note = tmp_path / "order.txt"
    note.write_text("订单号：19527593857\n联系电话：13912340001\n", encoding="utf-8")
    code, out, _ = _scan_id(run, note, "--json")
    assert code == 0
    (f,) = json.loads(out)["files"]
    assert f["counts"] == {"order_id": 1, "phone": 1}
    assert [x["via"] for x in f["findings"]] == ["label", "pattern"]


def test_malformed_email_addresses_are_not_addresses(run: Cli, tmp_path: Path) -> None:
    note = tmp_path / "mail.txt"
    note.write_text("abc.@163.com a..b@163.com x@-bad.com 正确 zhang.san@example.invalid\n", encoding="utf-8")
    code, out, _ = _scan_id(run, note, "--json")
    (f,) = json.loads(out)["files"]
    assert f["counts"] == {"email": 1} and f["findings"][0]["masked"] == "z***@example.invalid"


def test_a_file_not_read_never_says_no_personal_data_found(run: Cli, tmp_path: Path) -> None:
    broken = hf.bad_number_xlsx(tmp_path / "broken.xlsx", "12x")
    code, out, err = _scan_id(run, broken)
    assert code == 1 and "failed" in out and "no personal data found" not in out


def test_a_broken_information_dictionary_does_not_cost_the_text(run: Cli, tmp_path: Path) -> None:
    pdf = files.make_pdf(tmp_path / "info.pdf", [f"Tel {PHONE}"], title="XTITLEX")
    data = pdf.read_bytes()
    info = b"<< /Title (XTITLEX) >>"
    pdf.write_bytes(data.replace(info, b"[1 2 3]".ljust(len(info))))  # /Info points to an array
    code, out, _ = _scan_id(run, pdf, "--json")
    assert code == 0
    (f,) = json.loads(out)["files"]
    assert f["status"] == "scanned" and f["counts"] == {"phone": 1}
    assert any("document information not readable" in n for n in f["notes"])


def test_scanning_an_evidence_id_shows_no_adding_bar(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from plitool.cli import scan_cmds

    asked: list[str] = []

    @contextmanager
    def recording(description: str, total: int | None = None):  # type: ignore[no-untyped-def]
        asked.append(description)
        yield (lambda n: None), (lambda t: None)

    monkeypatch.setattr(scan_cmds, "byte_progress", recording)
    note = tmp_path / "n.txt"
    note.write_text(f"Tel {PHONE}\n", encoding="utf-8")
    assert run("add", str(note)).exit_code == 0
    assert run("scan", "E-0001").exit_code == 0
    assert asked == ["scanning"]
    other = tmp_path / "m.txt"
    other.write_text("x\n", encoding="utf-8")
    asked.clear()
    assert run("scan", str(other)).exit_code == 0  # a new file: it is added, with its bar
    assert asked == ["adding", "scanning"]


def test_a_parser_error_quoting_a_value_is_masked(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool.pii import extract

    def quoting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise ValueError(f"invalid literal for int() with base 10: '{PHONE}x'")
        yield

    monkeypatch.setattr(extract, "_csv", quoting)
    table = tmp_path / f"名单{PHONE}.csv"
    table.write_text("手机号\n1\n", encoding="utf-8")
    for args in ((), ("--json",)):
        result = run("scan", str(table), *args)
        assert result.exit_code == 1
        assert PHONE not in result.stdout and PHONE not in result.stderr
        assert f"{PHONE[:3]}****{PHONE[-4:]}" in result.stderr  # the error and the name, masked
