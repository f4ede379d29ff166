"""The recommendation and announcement templates (issue 10), rendered against the filings contract.

Uses the stand-alone checker ``tests/filings_template_check.py`` (a fake context implementing the
contract), so these tests hold whether or not the draft engine is present.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.filings_template_check import (
    KINDS,
    LANGS,
    TEMPLATES,
    VARIANTS,
    Harm,
    check_markup,
    check_render,
    fake_context,
    render,
)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_template_renders_to_valid_markup(kind: str, lang: str, variant: str) -> None:
    text, _, problems = check_render(kind, lang, variant)
    assert problems == []
    assert text.strip()


def test_checker_rejects_bad_markup() -> None:
    bad = "\n".join([
        "@centre 某市人民检察院",        # unknown directive
        "##一、no space",               # heading without a space
        "@table people",                # unknown table
        "**unbalanced bold",
        "涉及None名",                   # a Python value printed
        "  indented line",
        "电话13812345678",              # a raw mobile number
        "138****1234",                  # a partial mask: plitool's screen convention, not the court rule
        "[TO BE COMPLETED: facts.summary]",
        "text {{ left }} over",
        "句号。。重复",
    ])
    problems = check_markup(bad, "zh")
    for line in range(1, 12):
        assert any(p.startswith(f"line {line}:") for p in problems), line


def test_checker_catches_a_placeholder_piped_into_a_date_filter(tmp_path: Path) -> None:
    (tmp_path / "announcement.zh.md.j2").write_text('# 公告\n\n{{ need("announcement.date")|date }}\n', encoding="utf-8")
    _, _, problems = check_render("announcement", "zh", "empty", templates=tmp_path)
    assert problems and "rendering failed" in problems[0]


def test_checker_catches_a_list_printed_raw(tmp_path: Path) -> None:
    (tmp_path / "recommendation.en.md.j2").write_text(
        '# Recommendation\n\n{{ need("recommendation.recommendations") }}\n', encoding="utf-8")
    _, _, problems = check_render("recommendation", "en", "full", templates=tmp_path)
    assert any("repr" in p for p in problems)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_empty_case_lists_exactly_the_required_keys(kind: str, lang: str) -> None:
    text, case, _ = check_render(kind, lang, "empty")
    common = {"parties.plaintiff.kind", "facts.summary", "facts.affected", "facts.pi_kinds"}
    expected = common | ({"recommendation.number", "recommendation.organ", "recommendation.findings",
                          "recommendation.organ_duties", "recommendation.recommendations"}
                         if kind == "recommendation" else
                         {"announcement.date", "announcement.contact", "parties.defendant.name"})
    assert case.missing == expected
    marker = "【待补充：{}】" if lang == "zh" else "[TO BE COMPLETED: {}]"
    for key in expected:
        assert marker.format(key) in text


@pytest.mark.parametrize(("lang", "two_months", "fifteen_days"),
                         [("zh", "两个月内", "十五日内"), ("en", "within two months", "within fifteen days")])
def test_reply_deadline_is_two_months_or_fifteen_days_if_urgent(lang: str, two_months: str, fifteen_days: str) -> None:
    normal, _, _ = check_render("recommendation", lang, "full")         # urgent = false
    urgent, _, _ = check_render("recommendation", lang, "measured")     # urgent = true
    assert two_months in normal and fifteen_days not in normal
    assert fifteen_days in urgent and two_months not in urgent
    for text in (normal, urgent):
        assert ("第二十一条" if lang == "zh" else "Article 21 of") in text
        assert ("行政公益诉讼" if lang == "zh" else "administrative public interest action") in text


def test_recommendation_lists_duties_and_recommendations_from_case_toml() -> None:
    text, _, _ = check_render("recommendation", "zh", "full")
    assert "（1）《中华人民共和国个人信息保护法》第六十条第一款；" in text
    assert "（2）《中华人民共和国消费者权益保护法》第三十二条。" in text
    assert "（三）建立健全个人信息保护投诉处理机制。" in text
    assert text.index("@noindent 示例市市场监督管理局：") < text.index("## 一、")


@pytest.mark.parametrize(("lang", "window"),
                         [("zh", "2026年12月1日至2026年12月31日"), ("en", "1 December 2026 to 31 December 2026")])
def test_announcement_window_is_thirty_days_from_the_date(lang: str, window: str) -> None:
    text, _, _ = check_render("announcement", lang, "full")
    assert window in text


def test_announcement_legal_basis_follows_legal_basis_md() -> None:
    """CPL 58 para. 1 and PIPL 70 for standing (never CPL 58 para. 2 for PI), Interpretation 13."""
    zh, _, _ = check_render("announcement", "zh", "full")
    en, _, _ = check_render("announcement", "en", "full")
    assert "《中华人民共和国民事诉讼法》第五十八条第一款" in zh and "第五十八条第二款" not in zh
    assert "《中华人民共和国个人信息保护法》第七十条" in zh and "第十三条" in zh
    assert "法律规定的消费者组织和由国家网信部门确定的组织" in zh
    assert "Article 58, paragraph 1," in en and "paragraph 2" not in en
    assert "Article 70 of the Personal Information Protection Law" in en and "Article 13 of" in en
    for text in (zh, en):
        assert "惩罚性" not in text and "punitive" not in text.lower()


@pytest.mark.parametrize("kind", KINDS)
def test_minors_cite_their_provisions_only_when_present(kind: str) -> None:
    with_minors, _, _ = check_render(kind, "zh", "full")
    without, _, _ = check_render(kind, "zh", "measured")
    assert "不满十四周岁" in with_minors and "不满十四周岁" not in without
    marker = "第三十一条" if kind == "recommendation" else "《中华人民共和国未成年人保护法》第一百零六条"
    assert marker in with_minors and marker not in without


@pytest.mark.parametrize("kind", KINDS)
def test_number_affected_comes_from_case_toml_else_from_the_leak_analysis(kind: str) -> None:
    stated, _, _ = check_render(kind, "zh", "full")          # facts.affected = 1200, harm total 40
    measured, _, _ = check_render(kind, "zh", "measured")    # no facts.affected: harm total 40
    assert "1200名" in stated and "不少于" not in stated
    assert "不少于40名" in measured
    assert "身份证号码属于敏感个人信息" in measured
    if kind == "recommendation":
        assert "@table harm" in measured and "@table harm" not in stated


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_data_subjects_never_appear(kind: str, lang: str) -> None:
    """Templates get counts only; even a harm object carrying raw values never reaches the text."""
    context, _ = fake_context(lang, "measured", kind)
    raw = ["张三丰", "13812345678", "990101199001011234", "示例路8号"]
    context["harm"] = Harm(available=True, total_subjects=2, kinds=["姓名"], sensitive_kinds=[],
                           sightings=[{"id": "E-0009", "name": raw[0], "records": 2, "subjects": 2,
                                       "kinds": raw, "sensitive_kinds": []}])
    text = render(kind, lang, context)
    for value in raw:
        assert value not in text
    assert check_markup(text, lang) == []


def test_every_template_exists_in_both_languages() -> None:
    for kind in KINDS:
        for lang in LANGS:
            assert (TEMPLATES / f"{kind}.{lang}.md.j2").is_file()


def test_dates_accept_toml_dates_and_iso_strings() -> None:
    context, _ = fake_context("zh", "full", "announcement")
    text = render("announcement", "zh", context)
    assert isinstance(context["val"]("facts.period_start"), dt.date)
    assert "2026年1月1日至2026年10月31日" in text      # period_start is a TOML date, period_end a string


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_no_party_objects_at_all(kind: str, lang: str) -> None:
    """The contract's literal reading (no plaintiff object, an empty defendants list) renders too."""
    context, case = fake_context(lang, "empty", kind)
    context["plaintiff"], context["defendants"] = None, []
    text = render(kind, lang, context)
    assert check_markup(text, lang) == []
    assert "parties.plaintiff.kind" in case.missing
    assert ("parties.defendant.name" in case.missing) == (kind == "announcement")


def test_a_non_procuratorate_plaintiff_cannot_issue_these_documents() -> None:
    """An organisation plaintiff leaves the issuer as a placeholder instead of signing as the organisation."""
    for kind in KINDS:
        text, case, _ = check_render(kind, "zh", "measured")
        assert "示例个人信息保护协会" not in text
        assert "【待补充：parties.plaintiff.kind】" in text and "parties.plaintiff.kind" in case.missing


def test_recommendation_names_the_processor_only_when_case_toml_does() -> None:
    named, _, _ = check_render("recommendation", "zh", "full")
    unnamed, case, _ = check_render("recommendation", "zh", "empty")
    assert "示例购物科技有限公司、示例客服外包服务有限公司在处理个人信息" in named
    assert "有关个人信息处理者在处理个人信息" in unnamed
    assert "parties.defendant.name" not in case.missing
