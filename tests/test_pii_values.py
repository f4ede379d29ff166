"""Normalisation, masks and fingerprints of personal-data values (synthetic values only)."""

from __future__ import annotations

import random
import string

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from plitool.errors import UsageError
from plitool.pii import blocks
from plitool.pii.fields import field_for_label, parse_types
from plitool.pii.fingerprint import Fingerprinter
from plitool.pii.mask import OMITTED, NameMasks, mask
from plitool.pii.normalize import (
    cn_mobile_e164,
    mask_pattern,
    normalize,
    normalize_id_number,
    normalize_phone,
    pattern_matches,
)

from .assets.pii import synth

FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
phones = st.builds(lambda p, n: p + f"{n:08d}", st.sampled_from(synth.MOBILE_PREFIXES), st.integers(0, 10**8 - 1))
ids = st.integers(0, 2**32).map(lambda seed: synth.fake_id(random.Random(seed)))


# -- phones -------------------------------------------------------------------------------


@given(phones, st.sampled_from(["{n}", "{a} {b} {c}", "{a}-{b}-{c}", "+86{n}", "+86 {a} {b} {c}", "0086{n}",
                                "0086-{a}-{b}-{c}", "86{n}", "(+86) {a}-{b}-{c}", "FULL"]))
def test_every_written_form_of_a_mobile_normalises_to_one_e164(national: str, form: str) -> None:
    a, b, c = national[:3], national[3:7], national[7:]
    text = national.translate(FULLWIDTH) if form == "FULL" else form.format(n=national, a=a, b=b, c=c)
    assert normalize_phone(text) == "+86" + national


@settings(max_examples=400)
@given(st.integers(10**10, 2 * 10**10 - 1))
def test_the_fast_mobile_check_agrees_with_phonenumbers(number: int) -> None:
    national = str(number)
    parsed = phonenumbers.parse("+86" + national)
    expected = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    assert (cn_mobile_e164(national) is not None) == expected
    assert (normalize_phone(national) is not None) == expected


def test_non_mobiles_are_not_phones() -> None:
    for text in ("10012345678", "12345678901", "1381234567", "138123456789", "021-12345678", "+1 202 555 0100"):
        assert normalize_phone(text) is None, text


# -- ID numbers -----------------------------------------------------------------------------


@given(ids)
def test_ids_keep_their_digits_and_upper_case_x(number: str) -> None:
    assert normalize_id_number(number) == number
    assert normalize_id_number(number.lower()) == number
    assert normalize_id_number(number.translate(FULLWIDTH)) == number
    assert normalize_id_number(f"{number[:6]} {number[6:14]} {number[14:]}") == number


@given(st.integers(0, 2**32))
def test_wrong_check_digit_or_birth_date_is_not_an_id(seed: int) -> None:
    rng = random.Random(seed)
    assert normalize_id_number(synth.fake_id(rng, valid=False)) is None
    assert normalize_id_number(synth.fake_id_bad_date(rng)) is None


def test_region_code_is_not_looked_up() -> None:
    """Synthetic 99xxxx numbers (and codes of divisions since merged) are well-formed IDs."""
    number = synth.fake_id(random.Random(1))
    assert number.startswith("99") and not ric.is_valid(number) and normalize_id_number(number) == number


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=string.digits, min_size=17, max_size=17), min_size=1, max_size=40))
def test_block_id_check_agrees_with_stdnum(bodies: list[str]) -> None:
    """The block fast path evaluates stdnum's check-digit formula; it must agree exactly."""
    col = tuple(b + ric.calc_check_digit(b + "0") for b in bodies)
    done = blocks._ids(col)
    per_cell = [normalize_id_number(c) is not None for c in col]
    if done is not None:
        assert done == (len(col), []) and all(per_cell)
    flipped = tuple(c[:-1] + ("0" if c[-1] != "0" else "1") for c in col)
    assert blocks._ids(flipped) is None


# -- e-mail and the rest ---------------------------------------------------------------------


def test_email_is_lower_cased_and_nfkc() -> None:
    assert normalize("email", " Zhang.San@Example.COM ") == "zhang.san@example.com"
    assert normalize("email", "ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ") == "zs@example.com"
    assert normalize("email", "icon@2x.png") is None


def test_bank_card_imei_uscc_use_their_check_digits() -> None:
    rng = random.Random(3)
    card, imei = synth.fake_card(rng), synth.fake_imei(rng)
    assert normalize("bank_card", " ".join(card[i:i + 4] for i in range(0, len(card), 4))) == card
    assert normalize("bank_card", card[:-1] + str((int(card[-1]) + 1) % 10)) is None
    assert normalize("imei", imei) == imei and normalize("imei", imei[:-1] + str((int(imei[-1]) + 1) % 10)) is None
    from stdnum.cn import uscc

    code = "91330106MA2B1C2D3" + uscc.calc_check_digit("91330106MA2B1C2D3")
    assert normalize("uscc", code.lower()) == code


def test_free_fields_collapse_whitespace() -> None:
    assert normalize("name", " 张　三 ") == "张三"
    assert normalize("address", "示例市  虚构路 3号") == "示例市虚构路3号"
    assert normalize("order_id", " so 1234 ") == "SO1234"
    assert normalize("device_id", "a1b2c3d4-0000") == "A1B2C3D4-0000"
    with pytest.raises(ValueError):
        normalize("blood_type", "A")


# -- masks -----------------------------------------------------------------------------------


def test_masks_follow_court_practice() -> None:
    assert mask("phone", "+8613812341234") == "138****1234"
    assert mask("id_number", "110105199001011234") == "110105********1234"
    assert mask("name", "张三") == "张某"
    assert mask("name", "欧阳娜娜") == "欧阳某"
    assert mask("name", "张三", ordinal=2) == "张某乙"
    assert mask("email", "zhangsan@example.com") == "z***@example.com"
    for kind in ("address", "bank_card", "location"):
        assert mask(kind, "anything at all") == OMITTED
    assert mask("order_id", "SO128457041711") == "SO********1711"
    assert mask("device_id", "A1B2C3D4-0000-4000-8000-000000001234") == "****1234"


def test_names_sharing_a_surname_get_ordinals() -> None:
    names = NameMasks(["张三", "张四", "李五", "欧阳娜娜"])
    assert {names.mask("张三"), names.mask("张四")} == {"张某甲", "张某乙"}
    assert names.mask("李五") == "李某" and names.mask("欧阳娜娜") == "欧阳某"


@given(phones)
def test_phone_mask_round_trip(national: str) -> None:
    shown = mask("phone", normalize_phone(national) or "")
    pattern = mask_pattern("phone", shown)
    assert pattern == shown and pattern_matches(pattern, "+86" + national, "phone")
    assert sum(ch.isdigit() for ch in shown) == 7  # never more than the court shows


@given(ids)
def test_id_mask_round_trip(number: str) -> None:
    shown = mask("id_number", number)
    assert len(shown) == 18 and shown.count("*") == 8
    assert mask_pattern("id_number", shown) == shown and pattern_matches(shown, number)
    assert normalize_id_number(shown) is None


@given(st.text(alphabet=synth.SURNAMES, min_size=1, max_size=1), st.text(alphabet=synth.GIVEN, min_size=1, max_size=2))
def test_name_mask_round_trip(family: str, given_name: str) -> None:
    shown = mask("name", family + given_name)
    assert shown == family + "某" and mask("name", shown) == shown
    assert pattern_matches(mask_pattern("name", shown) or "", family + given_name, "name")


@given(st.sampled_from(["phone", "id_number", "email", "name", "address", "order_id", "device_id", "imei", "uscc"]),
       st.text(min_size=1, max_size=40))
def test_mask_never_fails_and_is_idempotent_on_partials(kind: str, value: str) -> None:
    shown = mask(kind, value)
    assert isinstance(shown, str) and shown
    if kind in ("phone", "id_number", "name") and mask_pattern(kind, shown):
        assert mask(kind, shown, partial=True) == mask_pattern(kind, shown)


# -- fingerprints ----------------------------------------------------------------------------


def test_fingerprints_are_keyed_and_type_separated() -> None:
    key_a, key_b = bytes(range(32)), bytes(range(1, 33))
    fa, fb = Fingerprinter(key_a), Fingerprinter(key_b)
    assert fa.fingerprint("phone", "+8613812341234") == Fingerprinter(key_a).fingerprint("phone", "+8613812341234")
    assert fa.fingerprint("phone", "+8613812341234") != fb.fingerprint("phone", "+8613812341234")
    assert fa.fingerprint("phone", "13812341234") != fa.fingerprint("order_id", "13812341234")
    assert fa.fingerprint("phone", "138****1234", partial=True) != fa.fingerprint("phone", "138****1234")
    assert key_a.hex() not in repr(fa) and "key hidden" in repr(fa)
    import blake3

    expected = blake3.blake3(b"phone\x1f+8613812341234", key=key_a).hexdigest()
    assert fa.fingerprint("phone", "+8613812341234") == expected
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(fa)


@given(phones, st.sampled_from(["{a} {b} {c}", "+86{n}", "FULL"]))
def test_same_value_any_form_same_fingerprint(national: str, form: str) -> None:
    fp = Fingerprinter(b"k" * 32)
    a, b, c = national[:3], national[3:7], national[7:]
    text = national.translate(FULLWIDTH) if form == "FULL" else form.format(n=national, a=a, b=b, c=c)
    assert fp.fingerprint("phone", normalize_phone(text) or "") == fp.fingerprint("phone", normalize_phone(national) or "")


# -- field names -----------------------------------------------------------------------------


def test_headers_and_keys_name_fields() -> None:
    assert field_for_label("收件人") == "name" and field_for_label("快递单号") == "waybill"
    assert field_for_label("OAID") == "device_id" and field_for_label("order id") == "order_id"
    assert field_for_label("receiverMobile") == "phone" and field_for_label("hostname") is None
    assert field_for_label("收货地址") == "address" and field_for_label("备注") is None


def test_types_option() -> None:
    assert parse_types("phone, id") == {"phone", "id_number"}
    assert len(parse_types(None)) == 12
    with pytest.raises(UsageError):
        parse_types("phone,blood")


def test_block_phone_pairs_never_accept_what_phonenumbers_refuses() -> None:
    """The phone block fast path checks the 2nd and 3rd digits only: every 5-digit prefix it
    accepts must be valid for phonenumbers' mainland mobile pattern whatever follows."""
    import itertools
    import re

    from plitool.pii.normalize import _cn_mobile

    pattern = re.compile(_cn_mobile().pattern)
    for digits in itertools.product("0123456789", repeat=4):
        number = "1" + "".join(digits) + "123456"
        if blocks._MOBILE_PAIRS.fullmatch(number[1:3].encode()):
            assert pattern.fullmatch(number), number


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["13812341234", "16101234567", "17405123456", "17406123456", "12345678901",
                                 "1381234123", "138１2341234", "", "138 1234 1234", "14612341234",
                                 "13٨12341234"]),
                min_size=1, max_size=30))
def test_block_phone_count_agrees_with_the_cells(cells: list[str]) -> None:
    from plitool.pii.detect import cell_detector

    col = tuple(cells)
    done = blocks._phones(col)
    if done is not None:
        det = cell_detector("phone", frozenset({"phone"}))
        assert det is not None
        per_cell = [det(c) for c in col if c]
        assert done == (len(per_cell), []) and all(isinstance(m, type(per_cell[0])) and not m.partial
                                                   for m in per_cell)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.text(alphabet=string.digits, min_size=6, max_size=6),
                          st.dates(min_value=__import__("datetime").date(1890, 1, 1),
                                   max_value=__import__("datetime").date(2030, 12, 31)),
                          st.text(alphabet=string.digits, min_size=3, max_size=3), st.booleans()),
                min_size=1, max_size=30))
def test_block_ids_with_any_birth_date_agree_with_the_cells(parts: list[tuple[str, object, str, bool]]) -> None:
    col = []
    for place, born, seq, lower in parts:
        body = place + born.strftime("%Y%m%d") + seq  # type: ignore[attr-defined]
        check = ric.calc_check_digit(body + "0")
        col.append(body + (check.lower() if lower else check))
    done = blocks._ids(tuple(col))
    if done is not None:  # the fast path vouched for every cell: each is valid on its own
        assert done == (len(col), []) and all(normalize_id_number(c) is not None for c in col)


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=string.digits, min_size=17, max_size=17), min_size=1, max_size=60))
def test_block_check_characters_are_stdnums(bodies: list[str]) -> None:
    """The check characters computed a block at a time (sums taken modulo 11 byte by byte)."""
    data = "\n".join(b + "0" for b in bodies).encode("ascii")
    expected = "".join(ric.calc_check_digit(b + "0") for b in bodies).encode("ascii")
    assert blocks._check_chars(data, len(bodies)) == expected


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 10**8 - 1)), min_size=1, max_size=40))
def test_block_phones_by_digit_pairs_agree_with_the_cells(numbers: list[tuple[int, int]]) -> None:
    from plitool.pii.detect import cell_detector

    col = tuple(f"1{pair:02d}{tail:08d}" for pair, tail in numbers)
    det = cell_detector("phone", frozenset({"phone"}))
    assert det is not None
    valid = [det(c) for c in col]
    done = blocks._phones(col)
    if done is not None:
        assert done == (len(col), []) and all(v is not None and not isinstance(v, list) for v in valid)
    elif all(pair in (30, 31, 32, 35, 36, 38, 39, 50, 51, 58, 86, 88, 99, 77) for pair, _tail in numbers):
        raise AssertionError(f"a block of common mobile prefixes was not vouched for: {col}")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(1850, 2099), st.integers(0, 13), st.integers(0, 32)), min_size=1, max_size=40))
def test_block_birth_dates_by_lanes_agree_with_the_pattern(dates: list[tuple[int, int, int]]) -> None:
    rows = [f"990101{y:04d}{m:02d}{d:02d}123X" for y, m, d in dates]
    data = "\n".join(rows).encode("ascii")
    joined = b"".join(r[6:14].encode() for r in rows)
    assert blocks._safe_dates(data, len(rows)) == (blocks._SAFE_DATES.fullmatch(joined) is not None)


@settings(max_examples=400)
@example("name", ["张三", "张某"])
@example("name", ["王*"])
@example("order_id", ["SO1", "A B"])
@example("address", ["e\u0301", "\u0301"])
@given(st.sampled_from(["name", "address", "location", "order_id", "waybill", "device_id"]),
       st.lists(st.one_of(st.sampled_from(["张三", "欧阳娜娜", "示例市虚构路1号", "SO123456789", "A1B2c3", "", "张某", "王*",
                                           "a b", "Ｘ１", "e\u0301", "\u0301", "é", "x\n", "O'Neil", "中\u3000文", "ß",
                                           "Ⅻ", "²", "abc", "ABC123"]),
                          st.text(alphabet="ab1张某* \u0301Ｘ", max_size=6)), min_size=1, max_size=30))
def test_block_labelled_columns_agree_with_the_cells(kind: str, cells: list[str]) -> None:
    from plitool.pii.detect import Match, cell_detector

    col = tuple(cells)
    counter = blocks.block_counter(kind, frozenset({kind}))
    det = cell_detector(kind, frozenset({kind}))
    assert counter is not None and det is not None
    done = counter(col)
    if done is not None:
        found = [det(c) for c in col if c]
        assert done == (len(found), [])
        assert all(isinstance(m, Match) and m.kind == kind and not m.partial for m in found), (kind, col, found)
