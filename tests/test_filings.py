"""plitool draft: the documents it writes, opened again with python-docx and read as Markdown."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from plitool.vault.case import Case

from .conftest import Cli
from .filings_support import (
    KINDS,
    PARTIAL_MASK,
    RAW_VALUES,
    SUBJECT_NAME,
    add_personal_evidence,
    docx_text,
    set_case_facts,
)

GOLDEN = Path(__file__).parent / "golden" / "filings"
DATE = "2026-11-30"


@pytest.fixture
def ready(run: Cli, case: Case, tmp_path: Path) -> Cli:
    add_personal_evidence(run, tmp_path)
    set_case_facts(case.root)
    return run


def _draft(run: Cli, tmp_path: Path, kind: str, lang: str = "zh", fmt: str = "docx", *extra: str) -> Path:
    out = tmp_path / f"{kind}.{lang}.{fmt}"
    result = run("draft", kind, "--lang", lang, "--format", fmt, "-o", str(out), "--date", DATE, *extra)
    assert result.exit_code == 0, result.output
    return out


def _headings(doc: Document) -> list[str]:
    return [p.text for p in doc.paragraphs if p.text and (re.match(r"^[一二三四五六七八九十]+、", p.text)
                                                          or p.text.startswith(("附件", "审查清单")))]


def test_civil_pil_docx_structure(ready: Cli, case: Case, tmp_path: Path) -> None:
    doc = Document(str(_draft(ready, tmp_path, "civil-pil")))
    paras = [p.text for p in doc.paragraphs]
    assert paras[0] == "民事公益诉讼起诉书"
    assert "公益诉讼起诉人：测试市人民检察院，住所地：测试市测试区检察路1号。" in paras  # parties in full
    assert _headings(doc) == ["一、诉讼请求", "二、事实与理由", "三、法律依据", "四、举证责任分配", "五、诉前程序",
                              "六、书证提出命令申请", "七、证据和证据来源", "附件：电子数据摘要值",
                              "审查清单（提交前删除本页）"]
    evidence, matrix, digests = doc.tables[1], doc.tables[0], doc.tables[2]
    # the burden-allocation matrix: one row per element, evidence ids from the tags
    rows = [[c.text for c in r.cells] for r in matrix.rows]
    assert [r[0] for r in rows[1:]] == ["被告系个人信息处理者并实施了处理行为", "处理行为违法",
                                        "侵害众多个人的权益，损害社会公共利益", "因果关系", "过错", "赔偿数额"]
    assert rows[1][2] == "E-0001、E-0003" and rows[2][2] == "E-0001" and rows[3][2] == "E-0002"
    assert rows[4][3] == "【缺少证据】" and rows[6][3] == "【缺少证据】"  # causation, amount: no evidence
    assert "第六十九条第一款" in rows[5][1]  # fault presumed
    # the evidence list: one row per vault item, PDF pages counted
    ev = [[c.text for c in r.cells] for r in evidence.rows]
    assert [r[1] for r in ev[1:]] == ["E-0001", "E-0002", "E-0003"]
    assert [r[5] for r in ev[1:]] == ["1", "—", "3"]
    assert ev[1][6].startswith("证明被告系个人信息处理者并实施了处理行为、处理行为违法")
    assert all(r[8] == "未加盖可信时间戳" for r in ev[1:])
    # digests annex: full values
    items = json.loads(ready("list", "--json").stdout)
    dg = [[c.text for c in r.cells] for r in digests.rows]
    assert dg[1:] == [[i["id"], i["digests"]["sha256"], i["digests"]["blake3"]] for i in items]
    assert all(r[7] == i["digests"]["sha256"][:16] + "\n" + i["digests"]["blake3"][:16] for r, i in zip(ev[1:], items))
    # header rows repeat on every page, tables have borders
    for table in doc.tables:
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
        assert table.style.name == "Table Grid"
    checklist = "\n".join(paras[paras.index("审查清单（提交前删除本页）"):])
    assert "请按提交之日有效的版本逐一核对文书引用的每一条文" in checklist
    assert "要件“因果关系”尚无证据" in checklist and "要件“赔偿数额”尚无证据" in checklist
    assert "GB/T 9704" in checklist  # a verify line
    assert "plitool:templates/cn/civil-pil.zh.md.j2" in checklist
    assert "惩罚性赔偿" in checklist


def test_layout_follows_gbt_9704(ready: Cli, tmp_path: Path) -> None:
    path = _draft(ready, tmp_path, "civil-pil")
    doc = Document(str(path))
    import zipfile

    with zipfile.ZipFile(path) as z:
        fonts = z.read("word/fontTable.xml").decode("utf-8")
    for name, fallback in (("方正小标宋简体", "SimSun"), ("仿宋", "FangSong"), ("黑体", "SimHei"), ("楷体", "KaiTi")):
        assert f'<w:font w:name="{name}"><w:altName w:val="{fallback}"/>' in fonts  # the fallback where it is missing
    s = doc.sections[0]
    mm = [round(x.mm, 1) for x in (s.page_width, s.page_height, s.top_margin, s.left_margin, s.right_margin, s.bottom_margin)]
    assert mm == [210, 297, 37, 28, 26, 35]  # A4; GB/T 9704 margins (stored in twips)
    title = doc.paragraphs[0].runs[0]
    assert title.font.size == Pt(22)
    body = next(p for p in doc.paragraphs if p.text.startswith("依现行法律"))
    assert body.runs[0].font.size == Pt(16)
    assert body.paragraph_format.line_spacing == Pt(28)
    assert body.paragraph_format.first_line_indent == Pt(32)
    # every run of the body and of every table names its East-Asian font
    runs = [r for p in doc.paragraphs for r in p.runs]
    runs += [r for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    assert runs
    for run in runs:
        fonts = run._element.rPr.rFonts
        assert fonts is not None and fonts.get(qn("w:eastAsia")), run.text
    assert title._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert body.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
    # page numbers "— 1 —": a PAGE field between dashes, odd right, even left
    for footer in (s.footer, s.even_page_footer):
        xml = footer._element.xml
        assert "PAGE" in xml and footer.paragraphs[0].text.startswith("— ") and footer.paragraphs[0].text.endswith(" —")
    assert doc.settings.odd_and_even_pages_header_footer


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_raw_personal_data_in_any_draft(ready: Cli, tmp_path: Path, lang: str) -> None:
    for kind in KINDS:
        for fmt in ("docx", "md"):
            path = _draft(ready, tmp_path, kind, lang, fmt)
            text = docx_text(path) if fmt == "docx" else path.read_text(encoding="utf-8")
            for value in RAW_VALUES:
                assert value not in text, (kind, fmt, value)
            assert not PARTIAL_MASK.search(text), (kind, fmt, PARTIAL_MASK.search(text))
            if kind != "production-order":
                assert "王某" in text and "（略）" in text  # the court rule: surname + 某, numbers deleted


def test_organisation_files_a_civil_complaint_as_plaintiff(run: Cli, case: Case, tmp_path: Path) -> None:
    set_case_facts(case.root, """
[[parties]]
role = "plaintiff"
kind = "organisation"
name = "测试消费者协会"
uscc = "51110000MJ0000001X"
address = "测试市测试区协会路9号"
representative = "周会长"
basis = "依法设立的消费者组织"

[[parties]]
role = "defendant"
name = "测试科技有限公司"
uscc = "91110000MA00TEST01"
address = "测试市测试区科技路3号"
representative = "孙法代"

[facts]
summary = "事实"
period_start = "2025-01-01"
period_end = "2026-06-30"
pi_kinds = ["姓名"]
affected = 500

[claims]
apology_medium = "全国性媒体"
damages_amount = "1"
damages_basis = "酌定"
fund = "基金"
""")
    doc = Document(str(_draft(run, tmp_path, "civil-pil")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert doc.paragraphs[0].text == "民事起诉状"
    assert "原告：测试消费者协会" in text and "公益诉讼起诉人" not in text
    assert "诉前程序" not in text  # the announcement is the procuratorate's step
    assert "依法设立的消费者组织（《中华人民共和国个人信息保护法》第七十条）" in text


def test_missing_facts_are_refused_naming_each_key(run: Cli, case: Case, tmp_path: Path) -> None:
    out = tmp_path / "x.docx"
    result = run("draft", "civil-pil", "-o", str(out))
    assert result.exit_code == 2
    message = result.output
    assert str(case.paths.case_file) in message
    for key in ("[case] court", "[claims] damages_amount", "[facts] summary", "[announcement] date",
                '[[parties]] role = "defendant": uscc', '[[parties]] role = "plaintiff": name'):
        assert key in message, key
    assert "--allow-missing" in message
    assert not out.exists()


def test_allow_missing_highlights_and_lists_placeholders(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "t.docx"
    result = run("draft", "tort", "-o", str(out), "--allow-missing", "--json", "--date", DATE)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    keys = [p["key"] for p in data["placeholders"]]
    assert "claims.damages_amount" in keys and "court" in keys and "parties.plaintiff.name" in keys
    doc = Document(str(out))
    marked = [r for p in doc.paragraphs for r in p.runs if r.text.startswith("【待补充：")]
    assert marked and all(r.font.highlight_color is not None for r in marked)
    listed = [[c.text for c in row.cells] for row in doc.tables[-1].rows]
    assert [r[1] for r in listed[1:]] == [p["where"] for p in data["placeholders"]]
    assert "尚有 {} 项案件事实待补充".format(len(keys)) in "\n".join(p.text for p in doc.paragraphs)


def test_production_order_is_a_separate_application_with_verify_lines(ready: Cli, tmp_path: Path) -> None:
    doc = Document(str(_draft(ready, tmp_path, "production-order")))
    paras = [p.text for p in doc.paragraphs]
    assert paras[0] == "书证提出命令申请书"
    docs = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert len(docs) == 6 and "访问日志" in docs[5][1]
    text = "\n".join(paras)
    assert "第四十八条第一款" in text and "第四十八条第二款" in text
    assert "第九十五条（控制证据拒不提交的不利推定）的条文措辞待核实" in text  # cited ⇒ in the checklist
    # the complaint refers to it
    civil = Document(str(_draft(ready, tmp_path, "civil-pil")))
    assert any("已另行提交《书证提出命令申请书》" in p.text for p in civil.paragraphs)


def test_reversal_of_causation_is_an_argument_not_law(ready: Cli, tmp_path: Path) -> None:
    for lang, marker, law in (("zh", "（法律论证，并非现行法的明文规定）", "高度可能性的一般证明标准"),
                              ("en", "(an argument, not settled law)", "ordinary high-probability standard")):
        text = _draft(ready, tmp_path, "civil-pil", lang, "md").read_text(encoding="utf-8")
        assert marker in text and law in text
        assert "惩罚性赔偿" not in text.split("审查清单")[0] and "punitive" not in text.split("Review checklist")[0]


def test_golden_markdown(ready: Cli, tmp_path: Path) -> None:
    """--format md is deterministic: the same case and date give these exact files
    (PLITOOL_REGEN_GOLDEN=1 rewrites them after a deliberate template change)."""
    for kind in KINDS:
        for lang in ("zh", "en"):
            text = _draft(ready, tmp_path, kind, lang, "md").read_text(encoding="utf-8")
            # the only case-specific values: the digests of the synthetic evidence
            golden = GOLDEN / f"{kind}.{lang}.md"
            if os.environ.get("PLITOOL_REGEN_GOLDEN"):
                golden.write_text(text, encoding="utf-8")
            assert text == golden.read_text(encoding="utf-8"), f"{golden} differs"


def test_draft_date_from_the_environment(ready: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLITOOL_DRAFT_DATE", "2027-01-02")
    out = tmp_path / "p.md"
    assert ready("draft", "production-order", "--format", "md", "-o", str(out)).exit_code == 0
    assert "2027年1月2日" in out.read_text(encoding="utf-8")


def test_existing_output_needs_force_and_the_draft_is_logged(ready: Cli, case: Case, tmp_path: Path) -> None:
    out = _draft(ready, tmp_path, "tort")
    before = out.read_bytes()
    result = ready("draft", "tort", "-o", str(out))
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_bytes() == before
    assert ready("draft", "tort", "-o", str(out), "--force", "--date", DATE).exit_code == 0
    log = json.loads(ready("log", "--json").stdout)
    notes = [e["data"] for e in log if e["event"] == "note" and e["data"].get("action") == "draft written"]
    assert len(notes) == 2 and notes[-1]["kind"] == "tort" and notes[-1]["evidence_items"] == 3
    import hashlib

    assert notes[-1]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    result = ready("draft", "tort", "-o", str(case.paths.state / "x.docx"))
    assert result.exit_code == 2 and not (case.paths.state / "x.docx").exists()


def test_case_templates_win_and_are_named_in_the_checklist(ready: Cli, case: Case, tmp_path: Path) -> None:
    result = ready("draft", "--init-templates")
    assert result.exit_code == 0, result.output
    own = case.root / "templates" / "cn" / "production-order.zh.md.j2"
    assert own.is_file() and (case.root / "templates" / "cn" / "law.zh.yaml").is_file()
    own.write_text(own.read_text(encoding="utf-8").replace("# 书证提出命令申请书", "# 书证提出命令申请书（本案修订）"),
                   encoding="utf-8")
    text = _draft(ready, tmp_path, "production-order", "zh", "md").read_text(encoding="utf-8")
    assert text.startswith("# 书证提出命令申请书（本案修订）")
    assert "templates/cn/production-order.zh.md.j2（本案自带模板）" in text
    again = ready("draft", "--init-templates")
    assert again.exit_code == 2 and "already exists" in again.output
    assert "本案修订" in own.read_text(encoding="utf-8")  # never overwritten


def test_a_template_cannot_reach_python(ready: Cli, case: Case, tmp_path: Path) -> None:
    assert ready("draft", "--init-templates").exit_code == 0
    own = case.root / "templates" / "cn" / "tort.zh.md.j2"
    own.write_text('# x\n{{ "".__class__.__mro__[1].__subclasses__() }}\n', encoding="utf-8")
    result = ready("draft", "tort", "-o", str(tmp_path / "t.docx"))
    assert result.exit_code == 2 and "template" in result.output
    assert not (tmp_path / "t.docx").exists()


def test_a_fact_cannot_inject_markup(ready: Cli, case: Case, tmp_path: Path) -> None:
    toml = case.paths.case_file
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'summary = "被告在其测试', 'summary = "## 伪造标题\\n@table digests\\n被告在其测试'), encoding="utf-8")
    doc = Document(str(_draft(ready, tmp_path, "civil-pil")))
    assert "伪造标题" not in _headings(doc) and len(doc.tables) == 4  # matrix, evidence, digests, placeholders
    assert any("伪造标题 @table digests 被告在其测试" in p.text for p in doc.paragraphs)


def test_unknown_kind_and_missing_kind_are_usage_errors(ready: Cli) -> None:
    assert ready("draft", "complaint").exit_code == 2
    result = ready("draft")
    assert result.exit_code == 2 and "civil-pil" in result.output


def test_subject_name_is_masked_in_the_facts_too(ready: Cli, tmp_path: Path) -> None:
    text = _draft(ready, tmp_path, "civil-pil", "zh", "md").read_text(encoding="utf-8")
    assert "受害人姓名：王某，手机：（略）" in text and SUBJECT_NAME not in text
