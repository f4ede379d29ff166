"""Shared pieces of the filings tests: cases with facts and evidence, and reading drafts back."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

from .conftest import PROJECT_ROOT, Cli

SAMPLES = PROJECT_ROOT / "samples"
KINDS = ("civil-pil", "tort", "production-order")

#: Real-looking synthetic personal data of people who are not parties (valid formats: the
#: detectors must be able to find them, so a leak in a draft would be a real leak).
SUBJECT_NAME = "王小明"
SUBJECT_PHONE = "13912345678"
SUBJECT_ID = "11010519491231002X"
SUBJECT_CARD = "6222021234567890128"
SUBJECT_ADDRESS = "北京市朝阳区幸福路8号院3单元501"
RAW_VALUES = (SUBJECT_NAME, SUBJECT_PHONE, SUBJECT_ID, SUBJECT_CARD, SUBJECT_ADDRESS)
#: A partial mask of a number (138****1234, 110105********1234, ****1234): never in a draft.
PARTIAL_MASK = re.compile(r"[0-9]{0,6}[*＊]{3,}[0-9Xx]{2,}")

FACTS = """
[[parties]]
role = "plaintiff"
kind = "procuratorate"
name = "测试市人民检察院"
address = "测试市测试区检察路1号"
representative = "李检察"

[[parties]]
role = "plaintiff"
kind = "individual"
name = "赵当事"
sex = "女"
born = "1990-05-01"
address = "测试市测试区当事路2号"

[[parties]]
role = "defendant"
kind = "company"
name = "测试科技有限公司"
uscc = "91110000MA00TEST01"
address = "测试市测试区科技路3号"
representative = "孙法代"

[facts]
summary = "被告在其测试 App 中收集用户的姓名、手机号码和身份证号码，未经单独同意提供给第三方。受害人姓名：王小明，手机：13912345678。"
period_start = "2025-01-01"
period_end = "2026-06-30"
pi_kinds = ["姓名", "手机号码", "身份证号码"]
affected = 1200

[claims]
apology_medium = "省级以上新闻媒体"
damages_amount = "100,000"
damages_basis = "被告违法获利"
fund = "个人信息保护公益基金"
behavioural = ["在六个月内完成合规审计"]

[announcement]
number = "测检民公告〔2026〕1号"
date = "2026-10-01"
medium = "正义网"
contact = "测试市人民检察院"
responses = ""
"""


def set_case_facts(case_root: Path, extra: str = FACTS, *, court: str = "测试市中级人民法院",
                   number: str = "测检民公诉〔2026〕1号") -> None:
    toml = case_root / "case.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('court = ""', f'court = "{court}"', 1).replace('number = ""', f'number = "{number}"', 1)
    toml.write_text(text + extra, encoding="utf-8")


def add_personal_evidence(run: Cli, tmp: Path) -> None:
    """Evidence whose name, source and note carry personal data of a non-party subject."""
    folder = tmp / "ev"
    folder.mkdir(exist_ok=True)
    a = folder / f"订单截图_{SUBJECT_PHONE}.png"
    a.write_bytes(b"\x89PNG\r\n\x1a\n synthetic screenshot")
    b = folder / "聊天记录.txt"
    b.write_text(f"姓名：{SUBJECT_NAME} 手机：{SUBJECT_PHONE} 身份证：{SUBJECT_ID}", encoding="utf-8")
    c = folder / "privacy.pdf"
    c.write_bytes(_pdf(3))
    for path, tags, note, source in (
        (a, "processing,unlawful", f"姓名：{SUBJECT_NAME}，手机：{SUBJECT_PHONE}，身份证：{SUBJECT_ID}", "用户手机截图"),
        (b, "harm", f"银行卡号：{SUBJECT_CARD}；住址：{SUBJECT_ADDRESS}", f"受害人提供，电话 {SUBJECT_PHONE}"),
        (c, "processing", "隐私政策 PDF（三页）", "https://app.example.invalid/privacy"),
    ):
        result = run("add", str(path), "--tag", tags, "--note", note, "--source", source,
                     "--collected-by", "检察官 测试", "--collected-at", "2026-09-01T10:00:00+08:00")
        assert result.exit_code == 0, result.output


def _pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def sample_case_with_attribution(run: Cli, case_root: Path) -> None:
    """The demo's sample case: evidence, flows, holdings, the leak and the case facts."""
    adds = [
        ("evidence/privacy-policy-2026-10.txt", "processing,unlawful"),
        ("evidence/screenshot-consent-screen.png", "unlawful"),
        ("evidence/traffic-capture-app-launch.har", "processing,unlawful"),
        ("evidence/泄露名单-群聊截获.csv", "harm,causation"),
        ("evidence/statement-张某.txt", "harm"),
        ("holdings/shop-app-orders-2026-09.csv", "processing"),
        ("holdings/courier-waybills-2026-09.csv", "processing"),
        ("holdings/cs-contractor-export-2026-08.csv", "causation"),
    ]
    for rel, tags in adds:
        result = run("add", str(SAMPLES / rel), "--tag", tags, "--collected-by", "检察官 示例")
        assert result.exit_code == 0, result.output
    shutil.copyfile(SAMPLES / "flows.yaml", case_root / "flows.yaml")
    for args in (("holdings", "add", "shop-app", "E-0006", "--as-of", "2026-09-30"),
                 ("holdings", "add", "courier", "E-0007", "--as-of", "2026-09-30"),
                 ("holdings", "add", "cs-contractor", "E-0008", "--as-of", "2026-08-05"),
                 ("leak", "add", "chat-group", "E-0004", "--first-seen", "2026-10-20")):
        result = run(*args)
        assert result.exit_code == 0, result.output
    text = (case_root / "case.toml").read_text(encoding="utf-8")
    text = text.replace('court = ""', 'court = "示例市中级人民法院"', 1).replace('number = ""', 'number = "示检民公诉〔2026〕1号"', 1)
    (case_root / "case.toml").write_text(text + (SAMPLES / "case-facts.toml").read_text(encoding="utf-8"), encoding="utf-8")


def sample_personal_values() -> set[str]:
    """Every name, phone, ID number and address in the sample leak and holdings (synthetic)."""
    values: set[str] = set()
    for rel, enc in (("evidence/泄露名单-群聊截获.csv", "gbk"), ("holdings/shop-app-orders-2026-09.csv", "utf-8-sig"),
                     ("holdings/courier-waybills-2026-09.csv", "gbk"), ("holdings/cs-contractor-export-2026-08.csv", "utf-8")):
        rows = list(csv.reader(io.StringIO((SAMPLES / rel).read_bytes().decode(enc))))
        for row in rows[1:]:
            for cell in row:
                cell = cell.strip()
                digits = re.sub(r"\D", "", cell)
                if len(digits) >= 11:
                    values.add(digits[-11:] if len(digits) in (11, 13) else cell)
                elif 2 <= len(cell) <= 4 and not cell.isascii() and "示例" not in cell:
                    values.add(cell)  # a name (示例… are the fictional companies, parties here)
                elif len(cell) > 6 and not cell.isascii():
                    values.add(cell)  # an address
    return values


def docx_text(path: Path) -> str:
    """Every piece of text in a .docx: body paragraphs, table cells, headers and footers (the raw
    XML's text nodes, so nothing python-docx does not model can hide a value)."""
    with zipfile.ZipFile(path) as z:
        parts = [z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")]
    text = "\n".join(parts)
    return "\n".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", text)) + "\n" + "\n".join(
        re.findall(r'w:val="([^"]*)"', text))
