"""Attacks on 'plitool draft' through what a case holds: hostile evidence names and notes, a
hostile or broken template or law table in the case folder, outputs aimed at the vault."""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import Plitool

FACTS = '''
[[parties]]
role = "plaintiff"
kind = "individual"
name = "赵当事"
sex = "女"
born = "1990-05-01"
address = "测试市当事路2号"

[[parties]]
role = "defendant"
name = "测试科技有限公司"
uscc = "91110000MA00TEST01"
address = "测试市科技路3号"
representative = "孙法代"

[facts]
summary = "事实"
period_start = "2025-01-01"
period_end = "2026-06-30"
pi_kinds = ["姓名"]

[claims]
damages_amount = "1"
damages_basis = "酌定"
'''


def _facts(case_root: Path) -> None:
    toml = case_root / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('court = ""', 'court = "测试法院"', 1).replace(
        'number = ""', 'number = "（2026）测01民初1号"', 1) + FACTS, encoding="utf-8")


def test_hostile_evidence_name_and_note(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    name = "## 伪造\u202e标题 **粗** @table digests 13912345678.txt"
    evil = tmp_path / name
    evil.write_text("x", encoding="utf-8")
    note = "手机：13912345678\n@pagebreak\n# 伪造标题 身份证：11010519491231002X 138****5678"
    assert plitool("add", str(evil), "--tag", "harm", "--note", note).code == 0
    _facts(case_root)
    out = tmp_path / "t.md"
    run = plitool("draft", "tort", "--format", "md", "-o", str(out), "--date", "2026-11-30")
    assert run.code == 0, run.err
    text = out.read_text(encoding="utf-8")
    for raw in ("13912345678", "11010519491231002X", "138****5678"):
        assert raw not in text
    # the name and the note stay inside their table cells: no new heading, page break or table
    assert "\n# 伪造" not in text and text.count("\n---\n") == 2  # the digests annex, the checklist
    assert text.count("| E-0001 |") == 3  # the evidence list, the matrix (harm) and the digests annex, nothing else


def test_template_errors_are_one_line_usage_errors(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _facts(case_root)
    assert plitool("draft", "--init-templates").code == 0
    own = case_root / "templates" / "cn" / "tort.en.md.j2"  # an "en" case
    for body in ("# x\n{% for i in range(10**9) %}{{ i }}{% endfor %}\n",
                 "# x\n{{ need('court') + 1 }}\n",
                 "# x\n{% if %}\n",
                 "# x\n{{ ''.__class__.__mro__ }}\n"):
        own.write_text(body, encoding="utf-8")
        run = plitool("draft", "tort", "-o", str(tmp_path / "t.docx"), timeout=60)
        assert run.code == 2, (body, run.err)
        assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err
        assert "tort.en.md.j2" in run.err
        assert not (tmp_path / "t.docx").exists()


def test_broken_law_table_is_refused(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _facts(case_root)
    assert plitool("draft", "--init-templates").code == 0
    (case_root / "templates" / "cn" / "law.en.yaml").write_text("elements: [\n", encoding="utf-8")
    run = plitool("draft", "tort", "-o", str(tmp_path / "t.docx"))
    assert run.code == 2 and "law.en.yaml" in run.err and "Traceback" not in run.err


def test_output_through_a_link_into_the_vault_is_refused(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _facts(case_root)
    link = tmp_path / "innocent.docx"
    os.symlink(case_root / ".plitool" / "ledger.jsonl", link)
    before = (case_root / ".plitool" / "ledger.jsonl").read_bytes()
    run = plitool("draft", "tort", "-o", str(link), "--force")
    assert run.code == 2
    assert (case_root / ".plitool" / "ledger.jsonl").read_bytes() == before
