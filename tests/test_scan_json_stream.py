"""The streamed JSON/HAR reader (ijson events) against the whole-document reader it replaced.

``extract._json_whole`` is the former reader (``json.load`` then a walk); the streamed reader
must give the same text units (text, location, field) in the same order, hence the same
findings, on every well-formed document, and fail cleanly on a malformed one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from plitool.pii import extract
from plitool.pii.extract import ArchiveLimits, ExtractState
from plitool.pii.scan import ScanOptions, scan_file

from .assets.pii import files, synth

KEYS = ["name", "姓名", "手机号", "phone", "mobile", "email", "地址", "addr", "收件人", "note", "备注", "id",
        "身份证号", "订单号", "data", "list", "a.b", "with space", "引号\"键", "设备ID", "imei", "", "x-y", "0"]


def units(fn: Any, path: Path, fmt: str) -> tuple[list[tuple[str, str, str | None]], ExtractState]:
    state = ExtractState()
    with extract._Counting(state):  # as extract() counts the bytes decoding replaced
        got = [(u.text, u.location, u.field) for u in fn(path, state, fmt)]
    return got, state


def streamed(path: Path, fmt: str = "json") -> tuple[list[tuple[str, str, str | None]], ExtractState]:
    return units(lambda p, s, f: extract._json(p, s, f, ArchiveLimits()), path, fmt)


def whole(path: Path, fmt: str = "json") -> tuple[list[tuple[str, str, str | None]], ExtractState]:
    return units(extract._json_whole, path, fmt)


def value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 0 and roll < 0.25:
        return {rng.choice(KEYS) + ("" if rng.random() < 0.7 else str(rng.randrange(5))): value(rng, depth - 1)
                for _ in range(rng.randrange(5))}
    if depth > 0 and roll < 0.45:
        return [value(rng, depth - 1) for _ in range(rng.randrange(5))]
    pick = rng.randrange(12)
    return [synth.fake_phone(rng), synth.fake_name(rng), synth.fake_id(rng), synth.fake_email(rng),
            synth.fake_address(rng), f"备用 {synth.fake_phone(rng)}", rng.randrange(-10**12, 10**13),
            rng.random() * 10**rng.randrange(-3, 25), None, rng.random() < 0.5, "", "无"][pick]


@pytest.mark.parametrize("seed", range(12))
def test_generated_nested_documents_give_the_same_units(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    doc = value(rng, 6) if seed % 3 else [value(rng, 5) for _ in range(30)]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, ensure_ascii=bool(seed % 2), indent=None if seed % 4 else 1), encoding="utf-8")
    a, sa = whole(path)
    b, sb = streamed(path)
    assert b == a
    assert (sb.encoding, sb.replaced_bytes) == (sa.encoding, sa.replaced_bytes)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_chinese_keys_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    doc = {"用户列表": [{"姓名": "张三", "手机号": "13812341234", "收件地址": "示例市虚构路1号", "备注": "电话：13912341234"},
                    {"联系人": {"姓名": "李四", "电话": 13912345678}}]}
    path = tmp_path / "users.json"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode(encoding))
    a, _ = whole(path)
    b, state = streamed(path)
    assert b == a and len(b) == 6
    assert ("13812341234", '$["用户列表"][0]["手机号"]', "phone") in b
    result = scan_file(path, path.name, ScanOptions())
    assert result.status == "scanned" and result.counts == {"name": 2, "phone": 3, "address": 1}


def test_deep_nesting(tmp_path: Path) -> None:
    depth = 400  # within json.load's recursion limit: both readers agree
    path = tmp_path / "deep.json"
    path.write_text('{"手机号": ' * depth + '"13812341234"' + "}" * depth, encoding="utf-8")
    a, _ = whole(path)
    b, _ = streamed(path)
    assert b == a and b[0][0] == "13812341234" and b[0][2] == "phone"
    deeper = tmp_path / "deeper.json"  # beyond it: json.load gave up, the stream reads it
    deeper.write_text("[" * 50_000 + '"tel 13812341234"' + "]" * 50_000, encoding="utf-8")
    result = scan_file(deeper, deeper.name, ScanOptions())
    assert result.status == "scanned" and result.counts == {"phone": 1}
    assert result.findings[0].location == "$" + "[0]" * 50_000


def test_huge_strings(tmp_path: Path) -> None:
    filler = "数据" * (3 << 20)  # 6 M characters in one value
    doc = {"blob": filler + " 13812341234 " + filler, "phone": "13912341234", "list": [filler[:1000] + "a@example.com"]}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    a, _ = whole(path)
    b, _ = streamed(path)
    assert b == a
    result = scan_file(path, path.name, ScanOptions())
    assert result.counts == {"phone": 2, "email": 1}
    assert sorted(f.location for f in result.findings) == ["$.blob", "$.list[0]", "$.phone"]


def test_numbers_as_json_load_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text('{"phone": 13812341234, "f": [1.5, 1E2, -0.0, 1e400, 123456789012345678901234567890, 0.1e-7]}')
    a, _ = whole(path)
    b, _ = streamed(path)
    assert b == a and ("13812341234", "$.phone", "phone") in b


def test_a_scalar_document(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text('"电话 13812341234"', encoding="utf-8")
    assert streamed(path)[0] == whole(path)[0] == [("电话 13812341234", "$", None)]


def har_doc(rng: random.Random, entries: int) -> dict[str, Any]:
    out = []
    for n in range(entries):
        phone, email = synth.fake_phone(rng), synth.fake_email(rng)
        body = json.dumps({"用户": {"手机号": phone, "姓名": synth.fake_name(rng)}, "n": n}, ensure_ascii=False)
        out.append({"request": {"method": "POST", "url": f"https://x.example.invalid/p?mobile={phone}&i={n}",
                                "headers": [{"name": "X-Device-Id", "value": "A1B2C3D4-0000-4000-8000-000000000001"},
                                            {"name": "Cookie", "value": f"mail={email}"}],
                                "cookies": [{"name": "mail", "value": email}], "queryString": [],
                                "postData": {"mimeType": "application/json", "text": body}},
                    "response": {"status": 200, "headers": [], "redirectURL": "",
                                 "content": {"mimeType": "application/json", "text": body}},
                    "timings": {"wait": 1.5}})
    return {"log": {"version": "1.2", "creator": {"name": "电话 13900000000", "version": "1"}, "pages": [],
                    "entries": out, "comment": "after the entries 13812349999"}}


@pytest.mark.parametrize("fmt", ["har", "json"])
def test_har_entries_one_at_a_time_give_the_same_units(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har_doc(random.Random(3), 40), ensure_ascii=False), encoding="utf-8")
    a, sa = whole(path, fmt)
    b, sb = streamed(path, fmt)
    assert b == a and len(b) > 200
    assert not any("13900000000" in t or "13812349999" in t for t, _w, _f in b)  # a HAR's header is not scanned
    assert sb.notes == sa.notes


def test_the_har_fixture_scans_as_before(tmp_path: Path) -> None:
    path = files.make_har(tmp_path / "capture.har", "13812341234", "zs@example.invalid", "A1B2C3D4-0000-4000-8000-000000000001")
    a, sa = whole(path, "har")
    b, sb = streamed(path, "har")
    assert b == a and sb.notes == sa.notes and any("binary body" in n for n in sb.notes)


def test_a_har_whose_entries_come_late_is_still_read_as_a_har(tmp_path: Path) -> None:
    doc = {"log": {"pages": [{"title": f"页 {i}"} for i in range(extract.HAR_LOOKAHEAD_UNITS + 5)],
                   "entries": [{"request": {"url": "https://x.example.invalid/?tel=13812341234"}}]}}
    path = tmp_path / "late.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    got, state = streamed(path)
    assert ("13812341234", "entry 1 request.url ?tel", "phone") in got
    assert any("log.entries" in n for n in state.notes)  # the header values were scanned too, and said so


def test_a_repeated_key_is_scanned_at_each_place(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"phone": "13812341234", "phone": "13912341234"}', encoding="utf-8")
    assert whole(path)[0] == [("13912341234", "$.phone", "phone")]  # json.load kept only the last
    assert streamed(path)[0] == [("13812341234", "$.phone", "phone"), ("13912341234", "$.phone", "phone")]


@pytest.mark.parametrize("text", [
    '{"a": 13812341234', '{"phone": "13812341234", "x": [1, 2', '[{"a": 1}, {"b": ', '{"a": 1} trailing',
    '{"a": NaN}', "", '{"a": "tab\there"}', '{"a" 1}',
])
def test_malformed_or_truncated_json_fails_with_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions())
    assert result.status == "failed"
    assert (result.error or "").startswith("not a readable JSON file (")
    assert "\n" not in (result.error or "") and "13812341234" not in (result.error or "")


def test_a_truncated_har_fails(tmp_path: Path) -> None:
    text = json.dumps(har_doc(random.Random(4), 5))
    path = tmp_path / "cut.har"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions())
    assert result.status == "failed" and (result.error or "").startswith("not a readable HAR file (")


@pytest.mark.parametrize("text", ['{"foo": 1}', "[1, 2]", '"x"', '{"log": {"entries": {}}}', '{"log": []}'])
def test_not_a_har(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.har"
    path.write_text(text, encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions())
    assert result.status == "failed" and "not a HAR" in (result.error or "")


def test_locations_never_hold_raw_values(tmp_path: Path) -> None:
    """A key may itself be personal data (a dump keyed by phone number): the location is masked."""
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps({"13812341234": {"姓名": "张三", "邮箱": "zs@example.invalid"},
                                "zs@example.invalid": "x 13912341234"}, ensure_ascii=False), encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions(limit=None))
    assert result.counts
    for f in result.findings:
        for raw in ("13812341234", "13912341234", "zs@example.invalid", "张三"):
            assert raw not in f.location


def test_an_array_item_too_large_to_build_is_walked_event_by_event(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Items of a top-level array are built in C while small; a larger one makes the reader start
    again from the top, event by event, skipping the items already scanned: the same units, each
    once, and the undecodable bytes counted once."""
    monkeypatch.setattr(extract, "MAX_BUILT_ITEM", 1 << 19)
    rng = random.Random(5)
    items = [{"手机号": synth.fake_phone(rng), "i": i} for i in range(3000)]
    items[2500] = {"blob": ["电话 " + synth.fake_phone(rng)] * 60_000, "姓名": "王五"}  # about 1 MB
    body = json.dumps(items, ensure_ascii=False).encode("utf-8")
    body = body.replace(b'"i": 0}', b'"i": 0, "x": "\xff"}', 1)  # one byte that is not UTF-8
    path = tmp_path / "dump.json"
    path.write_bytes(body)
    skipped = []
    events = extract._json_events

    def spy(*args: Any, skip: int = 0) -> Any:
        skipped.append(skip)
        return events(*args, skip=skip)

    monkeypatch.setattr(extract, "_json_events", spy)
    a, sa = whole(path)
    b, sb = streamed(path)
    assert skipped and skipped[0] > 2000  # built item by item up to the large one, then walked
    assert b == a and sb.replaced_bytes == sa.replaced_bytes == 1
    assert len(set((t, w) for t, w, _f in b)) == len(b)  # nothing scanned twice


def test_a_document_that_is_an_array_of_scalars_and_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('["13812341234", 13912341234, null, true, 1.5]', encoding="utf-8")
    assert streamed(path)[0] == whole(path)[0] == [("13812341234", "$[0]", None), ("13912341234", "$[1]", None),
                                                   ("1.5", "$[4]", None)]
    path.write_text('["13812341234"] x', encoding="utf-8")
    result = scan_file(path, path.name, ScanOptions())
    assert result.status == "failed" and "not a readable JSON file" in (result.error or "")


@pytest.mark.parametrize("text", ['[{"phone": "13812341234"}]', '[{"phone": '])
def test_the_cycle_collector_is_running_again_after_a_scan(tmp_path: Path, text: str) -> None:
    import gc

    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    assert gc.isenabled()
    result = scan_file(path, path.name, ScanOptions())
    assert result.status in ("scanned", "failed") and gc.isenabled()
