"""mask_text: every string a scan shows about a file (location, note, error, name) is masked."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plitool.pii.mask import mask_text

from .assets.pii import synth

RNG = random.Random(12)
PHONE = synth.fake_phone(RNG)
ID = synth.fake_id(RNG)
MP = f"{PHONE[:3]}****{PHONE[-4:]}"
MID = f"{ID[:6]}********{ID[-4:]}"


@pytest.mark.parametrize("text,expected", [
    (f"entry 1 request.url ?{PHONE}", f"entry 1 request.url ?{MP}"),
    (f"entry 1 request.headers[X-{ID}]", f"entry 1 request.headers[X-{MID}]"),
    (f"entry 2 request.cookies[u{PHONE}]", f"entry 2 request.cookies[u{MP}]"),
    (f'$.by_phone["{PHONE}"]', f'$.by_phone["{MP}"]'),
    (f"attachment '身份证{ID}.pdf' (application/pdf)", f"attachment '身份证{MID}.pdf' (application/pdf)"),
    ("attachment '身份证11010519491231002X.pdf'", "attachment '身份证110105********002X.pdf'"),
    ("姓名：张三 备注", "姓名：张某 备注"),
    ("contact zhang.san@example.invalid", "contact z***@example.invalid"),
    ("row 2 col 3 (手机号)", "row 2 col 3 (手机号)"),
    ("page 3 line 12", "page 3 line 12"),
    ("line 1 from character 1048577", "line 1 from character 1048577"),
    ("", ""),
])
def test_known_places(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=12), after=st.text(max_size=12), which=st.sampled_from([PHONE, ID]))
def test_a_value_never_survives_whatever_surrounds_it(before: str, after: str, which: str) -> None:
    # glued to letters, digits excepted: a longer digit run is another number, masked by its length
    if (before and before[-1].isdigit()) or (after and after[0].isdigit()):
        return
    assert which not in mask_text(before + which + after)
