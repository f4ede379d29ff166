"""Drafts of the sample case: harm to many and causation from the attribution, the graph figure,
and no personal value of the sample leak or holdings in any draft."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document

from plitool.filings.templates import packaged_root
from plitool.vault.case import Case

from .conftest import Cli
from .filings_support import PARTIAL_MASK, docx_text, sample_case_with_attribution, sample_personal_values

KINDS_WITH_TEMPLATES = [k for k in ("civil-pil", "recommendation", "announcement", "tort", "production-order")
                        if (packaged_root() / "cn" / f"{k}.zh.md.j2").is_file()]


@pytest.fixture
def sample(run: Cli, case: Case) -> Cli:
    sample_case_with_attribution(run, case.root)
    return run


def _draft(run: Cli, out: Path, kind: str, *extra: str) -> Path:
    result = run("draft", kind, "-o", str(out), "--date", "2026-11-30", *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_harm_and_causation_come_from_the_attribution(sample: Cli, tmp_path: Path) -> None:
    doc = Document(str(_draft(sample, tmp_path / "c.docx", "civil-pil")))
    text = "\n".join(p.text for p in doc.paragraphs)
    harm = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert harm[1][0] == "群聊中截获的泄露名单（扣押手机） (chat-group)"
    assert harm[1][1] == "40" and harm[1][2] == "40"  # records, distinct individuals
    assert "身份证号码" in harm[1][4]  # sensitive under PIPL Art. 28
    assert "被侵害的个人至少为40名" in text
    assert "第二十八条规定的敏感个人信息" in text
    assert "示例客服外包服务有限公司（示例快递客服外包，至 2026-10-31）最可能是" in text
    assert "不能排除未收集其数据的其他持有方" in text  # the limits are stated
    matrix = [[c.text for c in r.cells] for r in doc.tables[1].rows]
    causation = next(r for r in matrix if r[0] == "因果关系")
    assert "E-0004" in causation[2] and "E-0008" in causation[2] and "E-0005" in causation[2]
    assert "溯源分析：最可能的来源为" in causation[3]
    if shutil.which("dot"):
        assert len(doc.inline_shapes) == 1  # the provenance graph
        assert "图：个人信息流转图" in text
        md = _draft(sample, tmp_path / "c.md", "civil-pil", "--format", "md")
        assert "![graph](c.graph.png)" in md.read_text(encoding="utf-8")
        assert (tmp_path / "c.graph.png").read_bytes().startswith(b"\x89PNG")  # written beside it
        _draft(sample, tmp_path / "p.md", "production-order", "--format", "md")
        assert not (tmp_path / "p.graph.png").exists()  # no figure in it: no picture beside it
    else:
        assert "未能生成流转图" in text


@pytest.mark.slow
def test_without_graphviz_the_figure_is_a_note(sample: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("plitool.provenance.exports.dot_program", lambda: None)
    doc = Document(str(_draft(sample, tmp_path / "c.docx", "civil-pil")))
    assert len(doc.inline_shapes) == 0
    assert any("未能生成流转图" in p.text and "graph export" in p.text for p in doc.paragraphs)


@pytest.mark.slow
def test_no_sample_personal_value_in_any_draft(sample: Cli, tmp_path: Path) -> None:
    values = sample_personal_values()
    assert len(values) > 500  # names, phones, ID numbers, addresses of the synthetic leak and holdings
    for kind in KINDS_WITH_TEMPLATES:
        for lang in ("zh", "en"):
            for fmt in ("docx", "md"):
                out = _draft(sample, tmp_path / f"{kind}.{lang}.{fmt}", kind, "--lang", lang, "--format", fmt)
                text = docx_text(out) if fmt == "docx" else out.read_text(encoding="utf-8")
                leaked = sorted(v for v in values if v in text)
                assert leaked == [], (kind, lang, fmt, leaked[:5])
                assert not PARTIAL_MASK.search(text), (kind, lang, fmt)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS_WITH_TEMPLATES)
def test_libreoffice_converts_each_kind_to_pdf(sample: Cli, tmp_path: Path, kind: str) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui")
    out = _draft(sample, tmp_path / f"{kind}.docx", kind)
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(out)], check=True, capture_output=True, timeout=300)
    pdf = tmp_path / f"{kind}.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF-")
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    assert len(reader.pages) >= 2
    first = reader.pages[0]
    assert round(float(first.mediabox.width)) == 595 and round(float(first.mediabox.height)) == 842  # A4
    assert "— 1 —" in (first.extract_text() or "").replace("\u2014", "—")


#: A template written only against the contract (README, "Filings"), as the recommendation and
#: announcement templates are: every name the contract promises must be there.
CONTRACT_TEMPLATE = """\
# 诉前公告（契约测试）
@center {{ need("announcement.number") }}
{{ plaintiff.name }}（{{ plaintiff.kind }}）{{ plaintiff.address }}{{ plaintiff.representative }}
{% for d in defendants %}@noindent {{ d.name }} {{ d.uscc }} {{ d.address }} {{ d.representative }}
{% endfor %}
{% for t in third_parties %}{{ t.name }}{% endfor %}
公告期间：{{ need("announcement.date")|date }}至{{ need("announcement.date")|add_days(30)|date }}。
{% if has("announcement.responses") %}{{ val("announcement.responses") }}{% else %}无{% endif %}
{{ val("recommendation.organ_duties", [])|join("、") }}
{{ "张三丰"|mask_name }}
## 一、harm
{% if harm.available %}{% for s in harm.sightings %}{{ s.id }} {{ s.name }} {{ s.records }} {{ s.subjects }} {{ s.kinds|join("、") }} {{ s.sensitive_kinds|join("、") }}
{% endfor %}{{ harm.total_subjects }} {{ harm.kinds|join("、") }} {{ harm.sensitive_kinds|join("、") }}{% endif %}
@table harm
## 二、attribution
{% if attribution %}{{ attribution.sighting }} {{ attribution.source }} {{ attribution.source_id }} {{ attribution.posterior }} {{ attribution.log10_bf }} {{ attribution.verdict }}
{% for e in attribution.path %}{{ e["from"] }}→{{ e.to }} {{ e.kind }} {{ e.evidence|join("、") }}
{% endfor %}{{ attribution.limits }}{% endif %}
@figure graph
## 三、matrix
{% for m in matrix %}{{ m.element }}|{{ m.bearer }}|{{ m.evidence_ids|join("、") }}|{{ m.filled }}|{{ m.rebuttal }}|{{ m.missing }}
{% endfor %}{{ missing_elements|join("、") }}
@table matrix
{% for e in evidence %}{{ e.number }} {{ e.id }} {{ e.name }} {{ e.source }} {{ e.collected_by }} {{ e.collected_at }} {{ e.pages }} {{ e.purpose }} {{ e.short_sha256 }} {{ e.sha256 }} {{ e.blake3 }} {{ e.trusted_time }} {{ e.tags|join(",") }}
{% endfor %}
@table evidence
{% for d in documents %}{{ d.name }}{% endfor %}
@table documents
{{ law.elements|length }} {{ lang }} {{ kind }} {{ today }}
@pagebreak
@table digests
@checklist
@right {{ today }}
"""


@pytest.mark.slow
def test_a_template_written_to_the_contract_renders(sample: Cli, case: Case, tmp_path: Path) -> None:
    folder = case.root / "templates" / "cn"
    folder.mkdir(parents=True)
    (folder / "announcement.zh.md.j2").write_text(CONTRACT_TEMPLATE, encoding="utf-8")
    out = _draft(sample, tmp_path / "a.md", "announcement", "--format", "md")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 诉前公告（契约测试）")
    assert "公告期间：2026年11月2日至2026年12月2日。" in text
    assert "张某" in text and "张三丰" not in text
    assert "chat-group 群聊中截获的泄露名单（扣押手机） 40 40" in text
    assert "cs-contractor" in text and "conclusive" in text
    assert text.index("## 审查清单") < text.rindex("2026年11月30日")  # @checklist placed it before the date
    assert "templates/cn/announcement.zh.md.j2, plitool:templates/cn/law.zh.yaml（本案自带模板）" in text
