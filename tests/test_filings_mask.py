"""The court rule for documents that leave the vault (legal-basis.md §4): names as 张某, numbers,
addresses and accounts deleted, never partially starred."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from plitool.pii.mask import OMITTED, court_mask, court_mask_text, mask_text


def test_court_mask_deletes_and_keeps_the_surname() -> None:
    assert court_mask("name", "欧阳娜娜") == "欧阳某"
    assert court_mask("name", "张三", ordinal=2) == "张某乙"
    for kind, value in (("phone", "13912345678"), ("id_number", "11010519491231002X"),
                        ("bank_card", "6222021234567890128"), ("address", "北京市朝阳区幸福路8号"),
                        ("email", "wxm@example.com"), ("order_id", "SO128457041711")):
        assert court_mask(kind, value) == OMITTED


def test_text_from_the_vault() -> None:
    text = "姓名：王小明 手机：13912345678 身份证：11010519491231002X 卡号 6222021234567890128"
    assert court_mask_text(text) == "姓名：王某 手机：（略） 身份证：（略） 卡号 （略）"
    # the screen convention keeps telling records apart; the court rule never does
    assert "139****5678" in mask_text(text)
    assert court_mask_text("号码 139****5678，证件 110105********002X") == "号码（略），证件 （略）"
    assert court_mask_text("u13912345678.pdf") == "u（略）.pdf"
    assert court_mask_text("statement-张某.txt") == "statement-张某.txt"


@given(st.lists(st.sampled_from(["手机：{p}", "身份证号：{i}", "{p}", "备注{p}号", "订单 {i} ", "文本", "，", " "]),
                min_size=1, max_size=8),
       st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
       st.from_regex(r"[1-6][0-9]{16}[0-9X]", fullmatch=True))
def test_no_long_digit_run_or_star_survives(parts: list[str], phone: str, ident: str) -> None:
    text = "".join(parts).format(p=phone, i=ident)
    out = court_mask_text(text)
    assert phone not in out and ident not in out
    assert not re.search(r"[0-9]{11,}", out) and "*" not in out
