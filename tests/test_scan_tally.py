"""The counting fast paths of JSON and HAR scans against the per-value detectors they stand for.

Once a scan has listed the findings it keeps, a JSON dump's or a HAR's values are gathered per
field without locations (``extract._collect``, ``extract.Batch``) and counted together
(``tally.Tally``: block checks over joined texts, C-level skips). Every count must be what
``detect_text`` finds in each value under its field, and a whole scan must count exactly what the
per-unit scan (``--limit 0``, every finding listed) counts.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plitool.pii import extract
from plitool.pii.detect import detect_text
from plitool.pii.fields import KINDS
from plitool.pii.scan import ScanOptions, scan_file
from plitool.pii.tally import Tally

from .assets.pii import synth
from .test_scan_json_stream import har_doc, value

ODD = ["13812341234", "138 1234 1234", "+8613812341234", "138****1234", "1３８12341234", "13٨12341234",
       "16101234567", "12345678901", "1381234123", "110105********1234", "张某", "向某", "王某某", "某公司",
       "张*", "张三", "欧阳娜娜", "张三3", "John Smith", "a" * 41, "Content-Type", "u1@example.invalid",
       "A.B@Example.invalid", "x@y.png", "abc.@163.com", "中文@例子.中国", "SO123456789012", "AB12345678ABCDEFGH",
       "91350100M000100Y43", "12345", "-12345", "0.30000000000000004", "1e+22", "2025-01-01T00:00:00Z",
       "姓名：张三", "电话=13812341234", "订单号：19527593857", "收货地址: 示例市虚构路1号", "示例市虚构路 12 号",
       "示例市虚构路12号", "示例市\u3000虚构路", "（示例）", "—", "a\nb", "\x1c", " ", "ｘ", "6222021234567890123",
       "4111 1111 1111 1111", "490154203237518", "备用 13912345678", "无", "vip", "13.1"]


def texts_strategy() -> Any:
    rng_texts = st.integers(0, 2**32).map(lambda seed: _generated(random.Random(seed)))
    return st.lists(st.one_of(st.sampled_from(ODD), rng_texts, st.text(min_size=1, max_size=24)), min_size=1,
                    max_size=40)


def _generated(rng: random.Random) -> str:
    return [synth.fake_phone(rng), synth.fake_id(rng), synth.fake_id(rng, valid=False), synth.fake_email(rng),
            synth.fake_name(rng), synth.fake_address(rng), synth.order_number(rng), synth.fake_card(rng),
            synth.fake_imei(rng), synth.fake_id_bad_date(rng)][rng.randrange(10)]


def per_value(texts: list[str], field: str | None, kinds: frozenset[str]) -> tuple[Counter[str], Counter[str]]:
    whole: Counter[str] = Counter()
    partial: Counter[str] = Counter()
    for t in texts:
        for m in detect_text(t, kinds, field=field):
            (partial if m.partial else whole)[m.kind] += 1
    return whole, partial


@settings(max_examples=300, deadline=None)
@given(texts_strategy(), st.sampled_from([None, *KINDS]),
       st.sampled_from([frozenset(KINDS), frozenset({"name", "address"}), frozenset({"phone", "order_id"}),
                        frozenset({"email", "id_number", "uscc"})]),
       st.booleans())
def test_tally_counts_what_detect_text_finds(texts: list[str], field: str | None, kinds: frozenset[str],
                                             uniform: bool) -> None:
    texts = [t for t in texts if t]
    if uniform and texts:  # a block of one kind of value (the fast paths' case) with an odd one in it
        texts = [texts[0]] * 30 + texts[1:2] + [texts[0]] * 5
    counts: dict[str, int] = {}
    partial: dict[str, int] = {}
    Tally(kinds, counts, partial).add(texts, field)
    whole, part = per_value(texts, field, kinds)
    assert (Counter(counts), Counter(partial)) == (whole, part)


@pytest.mark.parametrize("kind", ["phone", "id_number", "email", "name", "address", "order_id", "device_id"])
def test_each_block_fast_path_is_taken_and_agrees(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of clean values are vouched for without detect_text (which would raise here)."""
    rng = random.Random(kind)
    make = {"phone": synth.fake_phone, "id_number": synth.fake_id, "email": lambda r: f"u{r.randrange(10**9)}@ex.invalid",
            "name": synth.fake_name, "address": lambda r: f"示例市虚构路{r.randint(1, 300)}号",
            "order_id": lambda r: f"SO{r.randrange(10**12)}", "device_id": lambda r: f"A1B2C3D4{r.randrange(10**6)}"}[kind]
    texts = [make(rng) for _ in range(1500)]
    expected = per_value(texts, kind, frozenset(KINDS))
    assert expected == (Counter({kind: 1500}), Counter())
    from plitool.pii import tally

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("per-value detection used on a clean block")

    monkeypatch.setattr(tally, "detect_text", refuse)
    counts: dict[str, int] = {}
    Tally(frozenset(KINDS), counts, {}).add(texts, kind)
    assert counts == {kind: 1500}


@pytest.mark.parametrize("seed", range(10))
def test_collect_gathers_the_units_json_units_gives(seed: int) -> None:
    rng = random.Random(seed)
    doc = [value(rng, 5) for _ in range(20)]
    expected = Counter((u.text, u.field) for u in extract._json_units(doc, ""))
    out: dict[str | None, list[str]] = {}
    n = extract._collect(doc, None, out)
    got = Counter((t, f) for f, texts in out.items() for t in texts)
    assert n == sum(expected.values()) and got == expected


def _both(path: Path, name: str, limit: int) -> tuple[Any, Any]:
    counted = scan_file(path, name, ScanOptions(limit=limit))
    listed = scan_file(path, name, ScanOptions(limit=None))
    return counted, listed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("limit", [0, 3, 50])
def test_a_counting_json_scan_counts_what_a_listing_one_does(tmp_path: Path, seed: int, limit: int) -> None:
    rng = random.Random(seed)
    records = [{"姓名": synth.fake_name(rng), "手机号": synth.fake_phone(rng), "身份证": synth.fake_id(rng),
                "email": synth.fake_email(rng), "地址": synth.fake_address(rng), "n": i, "amount": rng.random() * 99,
                "note": value(rng, 3), "订单号": synth.order_number(rng)} for i in range(3000)]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(records, ensure_ascii=bool(seed % 2)), encoding="utf-8")
    counted, listed = _both(path, "dump.json", limit)
    assert counted.status == listed.status == "scanned"
    assert (counted.counts, counted.partial_counts, counted.units) == (listed.counts, listed.partial_counts, listed.units)
    assert counted.findings == listed.findings[:limit] and counted.total == listed.total > 3000


@pytest.mark.parametrize("limit", [0, 7])
def test_a_counting_har_scan_counts_what_a_listing_one_does(tmp_path: Path, limit: int) -> None:
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har_doc(random.Random(5), 3000), ensure_ascii=False), encoding="utf-8")
    counted, listed = _both(path, "capture.har", limit)
    assert counted.status == listed.status == "scanned"
    assert (counted.counts, counted.partial_counts, counted.units) == (listed.counts, listed.partial_counts, listed.units)
    assert counted.findings == listed.findings[:limit] and counted.notes == listed.notes


def test_a_damaged_dump_counts_what_it_read_before_the_damage(tmp_path: Path) -> None:
    rng = random.Random(9)
    text = json.dumps([{"手机号": synth.fake_phone(rng), "n": i} for i in range(40000)])
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 3 // 4], encoding="utf-8")
    counted, listed = _both(path, "cut.json", 1)
    assert counted.status == listed.status == "failed"
    assert (counted.counts, counted.units) == (listed.counts, listed.units) and counted.counts["phone"] > 20000


CLEAN = {"phone": "13812341234", "id_number": "990101199001011230", "email": "u1@example.invalid", "name": "张三",
         "address": "示例市虚构路1号", "location": "示例市", "order_id": "SO12345678", "waybill": "SF1234567890",
         "device_id": "A1B2C3D4"}


@pytest.mark.parametrize("field", [None, *KINDS])
def test_tally_agrees_on_every_odd_text_alone_and_among_clean_ones(field: str | None) -> None:
    """Each odd text makes a whole block, and stands among clean values of the field (the block
    checks must refuse the block it spoils, or count it right)."""
    rng = random.Random(str(field))
    odd = ODD + [_generated(rng) for _ in range(60)]
    for kinds in (frozenset(KINDS), frozenset({field or "phone"})):
        for t in odd:
            clean = CLEAN.get(field or "", t)
            for texts in ([t] * 3, [clean] * 10 + [t] + [clean] * 3):
                counts: dict[str, int] = {}
                partial: dict[str, int] = {}
                Tally(kinds, counts, partial).add(texts, field)
                assert (Counter(counts), Counter(partial)) == per_value(texts, field, kinds), (texts, field, kinds)


def test_a_har_that_repeats_its_entries_key_has_both_lists_read(tmp_path: Path) -> None:
    """The entries are read again from the start, built in C: a second ``entries`` list (a
    repeated key, which a whole parse would keep alone) is read too, rather than left unread."""
    first = '{"request": {"url": "https://x.example.invalid/?tel=13812341234"}}'
    second = '{"request": {"url": "https://x.example.invalid/?tel=13912345678"}}'
    path = tmp_path / "twice.har"
    path.write_text(f'{{"log": {{"entries": [{first}], "version": "1.2", "entries": [{second}]}}}}', encoding="utf-8")
    result = scan_file(path, "twice.har", ScanOptions(limit=None))
    assert result.status == "scanned" and result.counts == {"phone": 2}
    assert [f.location for f in result.findings] == ["entry 1 request.url ?tel", "entry 2 request.url ?tel"]


@pytest.mark.parametrize("limit", [0, 9])
def test_a_counting_json_lines_scan_counts_what_a_listing_one_does(tmp_path: Path, limit: int) -> None:
    rng = random.Random(11)
    lines = [json.dumps({"姓名": synth.fake_name(rng), "mobile": synth.fake_phone(rng), "n": i, "x": value(rng, 3)},
                        ensure_ascii=False) for i in range(4000)]
    lines[100] = "not json 13812341234"
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counted, listed = _both(path, "dump.jsonl", limit)
    assert counted.status == listed.status == "scanned" and counted.notes == listed.notes
    assert (counted.counts, counted.partial_counts, counted.units) == (listed.counts, listed.partial_counts, listed.units)
    assert counted.findings == listed.findings[:limit] and counted.counts["phone"] > 4000
