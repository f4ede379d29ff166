"""Detection in text: validators decide, labels name the rest, distractors stay out."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from plitool.errors import UsageError
from plitool.pii.detect import KnownValues, detect_text

from .assets.pii import make_corpus, synth

CORPUS = Path(__file__).parent / "assets" / "pii" / "corpus.jsonl"


def kinds_values(text: str, **kw: object) -> list[tuple[str, str, bool]]:
    return [(m.kind, m.value, m.partial) for m in detect_text(text, **kw)]  # type: ignore[arg-type]


def test_phones_ids_emails_in_running_text() -> None:
    rng = random.Random(7)
    p, i, e = synth.fake_phone(rng), synth.fake_id(rng), synth.fake_email(rng)
    text = f"本人手机{p[:3]} {p[3:7]} {p[7:]}，身份证号{i}，邮箱 {e.upper()}。"
    assert kinds_values(text) == [("phone", "+86" + p, False), ("id_number", i, False), ("email", e, False)]


@pytest.mark.parametrize("text", [
    "订单号 20261012081502", "SO13812345678", "ts=1760230502000", "time 1760230502", "流水号 10012345678",
    "编号 138123456780", "x13812345678", "13812345678901234", "金额 13812.34 元",
])
def test_phone_like_numbers_that_are_not_phones(text: str) -> None:
    assert [k for k, _, _ in kinds_values(text) if k == "phone"] == []


def test_bad_checksum_and_bad_date_ids_are_not_reported() -> None:
    rng = random.Random(11)
    for _ in range(200):
        bad = synth.fake_id(rng, valid=False)
        assert all(k != "id_number" for k, _, _ in kinds_values(f"身份证号 {bad}"))
        assert all(k != "id_number" for k, _, _ in kinds_values(synth.fake_id_bad_date(rng)))


def test_masked_values_are_partial_patterns() -> None:
    found = kinds_values("受害人张某、李某某的手机 138****1234，身份证 110105********123X")
    assert ("name", "张某", True) in found and ("name", "李某某", True) in found
    assert ("phone", "138****1234", True) in found and ("id_number", "110105********123X", True) in found
    assert kinds_values("属于某种情况，向某公司反映") == []


def test_labels_name_the_fields_no_validator_can_recognise() -> None:
    found = kinds_values("收件人：王五；收货地址：示例市虚构路3号 1单元；快递单号: YT1234567890123；设备号=A1B2C3D4")
    assert ("name", "王五", False) in found
    assert ("address", "示例市虚构路3号1单元", False) in found
    assert ("waybill", "YT1234567890123", False) in found and ("device_id", "A1B2C3D4", False) in found
    assert kinds_values("hostname=server1 filename: a.txt") == []


def test_key_field_applies_to_the_whole_value() -> None:
    assert kinds_values("张三", field="name") == [("name", "张三", False)]
    assert kinds_values("王某", field="name") == [("name", "王某", True)]
    assert kinds_values("13812341234", field="phone") == [("phone", "+8613812341234", False)]


def test_types_filter() -> None:
    text = "13812341234 " + synth.fake_id(random.Random(2))
    assert {k for k, _, _ in kinds_values(text, kinds=frozenset({"phone"}))} == {"phone"}


def test_bank_cards_imeis_usccs() -> None:
    rng = random.Random(5)
    card, imei = synth.fake_card(rng), synth.fake_imei(rng)
    found = kinds_values(f"卡号 {card[:4]} {card[4:8]} {card[8:12]} {card[12:16]} {card[16:]} IMEI {imei}")
    assert ("bank_card", card, False) in found and ("imei", imei, False) in found


def test_known_values_in_encoded_and_hashed_forms(tmp_path: Path) -> None:
    values = tmp_path / "device.txt"
    values.write_text("# test phone\nphone: 138 1234 1234\ndevice_id: a1b2c3d4-0000-4000-8000-000000000001\n"
                      "zhang.san@example.com\n", encoding="utf-8")
    known = KnownValues.load(values)
    assert len(known) == 3
    national = "13812341234"
    forms = {
        "md5": hashlib.md5(national.encode()).hexdigest(),
        "sha1": hashlib.sha1(("+86" + national).encode()).hexdigest().upper(),
        "sha256": hashlib.sha256(national.encode()).hexdigest(),
        "base64": base64.b64encode(national.encode()).decode(),
        "url": quote("zhang.san@example.com", safe=""),
    }
    for form, text in forms.items():
        hits = known.search(f"uid={text}&x=1")
        assert hits and hits[0].via == f"known:{form}", form
    dev = known.search('{"oaid":"A1B2C3D400004000800000000000000 1"}')
    assert not dev  # no partial match
    plain = known.search("oaid=a1b2c3d4-0000-4000-8000-000000000001")
    assert plain and plain[0].kind == "device_id" and plain[0].value == "A1B2C3D4-0000-4000-8000-000000000001"


def test_known_values_file_must_say_what_a_value_is(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("something-opaque\n", encoding="utf-8")
    with pytest.raises(UsageError):
        KnownValues.load(bad)
    with pytest.raises(UsageError):
        KnownValues.load(tmp_path / "missing.txt")


# -- the labelled corpus ---------------------------------------------------------------------


def test_committed_corpus_is_the_generated_one() -> None:
    assert CORPUS.read_text("utf-8") == make_corpus.render(make_corpus.build())


@pytest.mark.parametrize("kind", ["phone", "id_number", "email"])
def test_precision_and_recall_on_the_labelled_corpus(kind: str) -> None:
    tp = fp = fn = 0
    for line in CORPUS.read_text("utf-8").splitlines():
        row = json.loads(line)
        truth = Counter(lab["value"] for lab in row["labels"] if lab["type"] == kind)
        found = Counter(m.value for m in detect_text(row["text"]) if m.kind == kind and not m.partial)
        tp += sum((truth & found).values())
        fp += sum((found - truth).values())
        fn += sum((truth - found).values())
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert tp > 150
    assert precision >= 0.98 and recall >= 0.98, (kind, precision, recall, fp, fn)


def test_labels_inside_escaped_json_strings() -> None:
    text = '{"data": "{\\"oaid\\":\\"A1B2C3D4-0000\\",\\"name\\":\\"张三\\"}"}'
    assert kinds_values(text) == [("device_id", "A1B2C3D4-0000", False), ("name", "张三", False)]


def test_a_name_field_holds_a_name() -> None:
    assert kinds_values("user_1024", field="name") == []
    assert kinds_values("https://example.invalid/a", field="name") == []
    assert kinds_values("欧阳娜娜", field="name") == [("name", "欧阳娜娜", False)]


def _pieces_of_corpus() -> list[str]:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    pieces = [piece for t in texts for piece in t.split()]  # short values, as JSON fields hold them
    return texts + pieces + ["vip", "新客", "示例省", "Phone X", "张某", "姓名=王五", "地址：示例市虚构路1号",
                             "１３８１２３４１２３４", "ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ", "收件人：李四"]


@pytest.mark.parametrize("field", [None, "phone", "name", "address", "order_id"])
def test_the_quick_rejection_changes_no_result(monkeypatch: pytest.MonkeyPatch, field: str | None) -> None:
    """detect_text skips texts with no digit, @, 某 or label sign; without that shortcut every
    text of the corpus (and its words) gives the same matches."""
    import re

    from plitool.pii import detect

    texts = _pieces_of_corpus()
    fast = [detect_text(t, field=field) for t in texts]
    monkeypatch.setattr(detect, "_MAY_MATCH", re.compile(""))  # matches every text: no shortcut
    slow = [detect_text(t, field=field) for t in texts]
    assert fast == slow and any(fast)
