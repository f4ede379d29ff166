"""Stand-alone checker for the filings templates (issue 10), independent of the draft engine.

Renders templates from ``templates/cn/`` with Jinja2 configured as the filings contract says
(StrictUndefined, no autoescape, trim_blocks, lstrip_blocks) against a fake context that
implements the contract (need / has / val, the ``date``, ``add_days`` and ``mask_name`` filters,
plaintiff / defendants / harm / evidence objects), and checks that every output line is valid
plitool document markup. Three fact sets per template and language:

- ``full``: every case.toml key filled;
- ``measured``: only the summary; the number affected and the kinds come from the leak analysis
  (``harm``), the plaintiff is not a procuratorate, the recommendation is urgent;
- ``empty``: an empty case.toml, no parties, no leak analysed: every ``need()`` yields a
  placeholder, and the placeholders in the text must be exactly the keys ``need()`` reported.

Parties behave as the engine's do (``plitool/filings/facts.py``, ``PartyView``): with no party of a
role the template gets one empty party of that role; a field it prints that case.toml lacks becomes
a placeholder reported as ``parties.<role>.<field>``; ``party.opt(field)`` reads an optional field.

The fake filters are strict on purpose: ``date`` and ``add_days`` refuse a placeholder, so a
template that pipes a missing value into them fails here whatever the real engine does.

Run: ``python tests/filings_template_check.py [KIND ...]`` (``--show KIND LANG VARIANT`` prints one
rendering; ``--keys`` prints the case.toml keys each template reads). Not a pytest module (no
``test_`` prefix); ``tests/test_filings_templates.py`` uses it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates" / "cn"
KINDS = ("recommendation", "announcement")
LANGS = ("zh", "en")
VARIANTS = ("full", "measured", "empty")
TABLES = {"evidence", "matrix", "digests", "harm", "documents", "placeholders"}
PLACEHOLDER = {"zh": "【待补充：{key}】", "en": "[TO BE COMPLETED: {key}]"}
PLACEHOLDER_RE = {"zh": re.compile(r"【待补充：([^】]+)】"), "en": re.compile(r"\[TO BE COMPLETED: ([^\]]+)\]")}
MONTHS = ("January February March April May June July August September October November December").split()
TODAY = dt.date(2026, 11, 30)

# The level-1 headings of each template, in order: the sections of legal-basis.md §3(b) / (c).
EXPECTED_HEADINGS = {
    ("recommendation", "zh"): ["一、查明的事实", "二、你单位的法定职责", "三、本院认为", "四、检察建议", "五、回复期限和法律后果"],
    ("recommendation", "en"): ["I. Facts Found", "II. Your Organ's Statutory Duties", "III. This Procuratorate's View",
                               "IV. Recommendations", "V. Reply Deadline and Consequence"],
    ("announcement", "zh"): ["一、基本事实", "二、损害社会公共利益的情况", "三、法律依据", "四、公告事项", "五、联系方式"],
    ("announcement", "en"): ["I. Facts Found", "II. Harm to the Public Interest", "III. Legal Basis", "IV. Announcement",
                             "V. Contact"],
}


class Placeholder(str):
    """The marker ``need()`` returns for a missing key (a str, as the engine's may be)."""


PARTY_FIELDS = ("name", "uscc", "address", "representative", "basis")


class Party:
    """A party as the engine shows it: a field the template prints but case.toml lacks becomes a
    placeholder and is reported missing as ``parties.<role>.<field>``; ``opt(field)`` reads an
    optional field ("" when absent) and ``kind`` is never a placeholder."""

    def __init__(self, case: "FakeCase", role: str, **data: str) -> None:
        self._case = case
        self._role = role
        self._data = data

    @property
    def kind(self) -> str:
        return self._data.get("kind", "")

    def opt(self, name: str) -> str:
        return self._data.get(name, "")

    def __getattr__(self, name: str) -> str:
        if name not in PARTY_FIELDS:
            raise AttributeError(name)
        value = self._data.get(name, "")
        if _empty(value):
            return self._case.mark_missing(f"parties.{self._role}.{name}")
        return value


@dataclass
class Harm:
    available: bool = False
    sightings: list[dict[str, Any]] = field(default_factory=list)
    total_subjects: int = 0
    kinds: list[str] = field(default_factory=list)
    sensitive_kinds: list[str] = field(default_factory=list)


@dataclass
class EvidenceRow:
    number: int
    id: str
    name: str
    source: str
    collected_by: str
    collected_at: str
    pages: int
    purpose: str
    sha256: str
    blake3: str
    trusted_time: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def short_sha256(self) -> str:
        return self.sha256[:16]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class FakeCase:
    """need / has / val over a case.toml dictionary, recording which keys were read how."""

    def __init__(self, data: dict[str, Any], lang: str) -> None:
        self.data = data
        self.lang = lang
        self.needed: set[str] = set()
        self.optional: set[str] = set()
        self.missing: set[str] = set()

    def _lookup(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def mark_missing(self, key: str) -> Placeholder:
        self.needed.add(key)
        self.missing.add(key)
        return Placeholder(PLACEHOLDER[self.lang].format(key=key))

    def need(self, key: str) -> Any:
        self.needed.add(key)
        value = self._lookup(key)
        return self.mark_missing(key) if _empty(value) else value

    def has(self, key: str) -> bool:
        self.optional.add(key)
        return not _empty(self._lookup(key))

    def val(self, key: str, default: Any = "") -> Any:
        self.optional.add(key)
        value = self._lookup(key)
        return default if _empty(value) else value


def _as_date(value: Any) -> dt.date:
    if isinstance(value, Placeholder):
        raise TypeError(f"a placeholder was piped into a date filter: {value}")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


def format_date(value: Any, lang: str) -> str:
    day = _as_date(value)
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def add_days(value: Any, n: int) -> str:
    return (_as_date(value) + dt.timedelta(days=n)).isoformat()


def mask_name(name: str) -> str:
    return name[:1] + "某" if name else name


def environment(lang: str, templates: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = lambda value: format_date(value, lang)
    env.filters["add_days"] = add_days
    env.filters["mask_name"] = mask_name
    return env


# ---------------------------------------------------------------------------------------------
# Fake cases

def _case_data(lang: str, variant: str) -> dict[str, Any]:
    if variant == "empty":
        return {}
    zh = lang == "zh"
    summary = (
        "示例购物科技有限公司在运营“示例购物”App期间，未经用户单独同意，将用户的手机号码、设备标识符等个人信息"
        "提供给第三方数据分析服务商；其委托的客服外包服务商的员工将订单中的收件人姓名、手机号码、身份证号码和收货地址出售给他人。"
        if zh else
        "While operating the Example Shopping app, Example Shopping Technology Co., Ltd. provided its users' mobile "
        "numbers and device identifiers to a third-party analytics provider without their separate consent; an "
        "employee of its outsourced customer-service contractor sold the recipients' names, mobile numbers, ID numbers "
        "and delivery addresses from its orders to others."
    )
    if variant == "measured":
        return {"case": {"title": "x", "lang": lang}, "facts": {"summary": summary},
                "announcement": {"date": dt.date(2026, 12, 1), "contact": "0571-00000000"},
                "recommendation": {
                    "number": "示检行公建〔2026〕2号" if zh else "Ex. Proc. Admin. Rec. (2026) No. 2",
                    "organ": "示例市市场监督管理局" if zh else "Example Municipal Administration for Market Regulation",
                    "organ_duties": "《中华人民共和国个人信息保护法》第六十条" if zh else "Article 60 of the PIPL",
                    "findings": "该局未依法查处。" if zh else "The Administration did not investigate.",
                    "recommendations": ["依法查处违法行为" if zh else "investigate the unlawful conduct"],
                    "urgent": True}}
    return {
        "case": {"title": "示例购物个人信息保护民事公益诉讼" if zh else "Example Shopping PI public interest case",
                 "number": "", "court": "示例市中级人民法院" if zh else "Example Intermediate People's Court", "lang": lang},
        "facts": {
            "summary": summary,
            "period_start": dt.date(2026, 1, 1),
            "period_end": "2026-10-31",
            "pi_kinds": ["姓名", "手机号码", "身份证号码", "收货地址"] if zh else
                        ["names", "mobile numbers", "ID numbers", "delivery addresses"],
            "minors": True,
            "affected": 1200,
        },
        "announcement": {
            "number": "示检民公告〔2026〕1号" if zh else "Ex. Proc. Civ. Ann. (2026) No. 1",
            "date": "2026-12-01",
            "medium": "正义网" if zh else "jcrb.com",
            "contact": "示例市人民检察院第八检察部，电话0571-00000000" if zh else
                       "Eighth Procuratorial Department, tel. 0571-00000000",
            "responses": "",
        },
        "recommendation": {
            "number": "示检行公建〔2026〕1号" if zh else "Ex. Proc. Admin. Rec. (2026) No. 1",
            "organ": "示例市市场监督管理局" if zh else "Example Municipal Administration for Market Regulation",
            "organ_duties": ["《中华人民共和国个人信息保护法》第六十条第一款", "《中华人民共和国消费者权益保护法》第三十二条"]
                            if zh else ["Article 60, paragraph 1, of the PIPL", "Article 32 of the Consumer Rights Law"],
            "findings": "该局于2026年3月收到有关投诉后，未依法调查处理，违法行为持续至今。" if zh else
                        "The Administration received complaints in March 2026 and did not investigate them; the conduct continues.",
            "recommendations": ["依法对示例购物科技有限公司的违法行为进行调查处理", "督促其删除违法提供的个人信息并整改",
                                "建立健全个人信息保护投诉处理机制"] if zh else
                               ["investigate the unlawful conduct of Example Shopping Technology Co., Ltd.",
                                "require it to delete the personal information unlawfully provided and to rectify",
                                "set up a procedure for handling personal-information complaints"],
            "urgent": False,
            "date": "2026-12-01",
        },
    }


def _parties(case: FakeCase, lang: str, variant: str) -> tuple[Party, list[Party]]:
    """As the engine gives them: with no party of a role, one empty party of that role."""
    zh = lang == "zh"
    if variant == "empty":
        return Party(case, "plaintiff"), [Party(case, "defendant")]
    if variant == "measured":
        plaintiff = Party(case, "plaintiff", name="示例个人信息保护协会" if zh else "Example PI Protection Association",
                          kind="organisation")
        return plaintiff, [Party(case, "defendant", name="示例购物科技有限公司" if zh else "Example Shopping Technology Co., Ltd.")]
    plaintiff = Party(case, "plaintiff", name="示例市人民检察院" if zh else "Example Municipal People's Procuratorate",
                      kind="procuratorate", address="示例市示例区检察路1号" if zh else "1 Procuratorate Road, Example City",
                      representative="王某某" if zh else "Wang Moumou")
    defendants = [
        Party(case, "defendant", name="示例购物科技有限公司" if zh else "Example Shopping Technology Co., Ltd.",
              kind="company", uscc="91990000MA0000000X",
              address="示例市示例区虚构路1号" if zh else "1 Fictional Road, Example City",
              representative="李某某" if zh else "Li Moumou"),
        Party(case, "defendant", name="示例客服外包服务有限公司" if zh else "Example Customer Service Outsourcing Co., Ltd.",
              kind="company", uscc="91990000MA0000001Y"),
    ]
    return plaintiff, defendants


def _harm(lang: str, variant: str) -> Harm:
    if variant == "empty":
        return Harm(available=False)
    zh = lang == "zh"
    kinds = ["姓名", "手机号码", "身份证号码", "地址"] if zh else ["names", "mobile numbers", "ID numbers", "addresses"]
    sensitive = ["身份证号码"] if zh else ["ID numbers"]
    sighting = {"id": "E-0005", "name": "群聊中截获的泄露名单" if zh else "leaked list seized in a chat group",
                "records": 40, "subjects": 40, "kinds": kinds, "sensitive_kinds": sensitive}
    return Harm(available=True, sightings=[sighting], total_subjects=40, kinds=kinds, sensitive_kinds=sensitive)


def _evidence(lang: str, variant: str) -> list[EvidenceRow]:
    if variant != "full":
        return []
    zh = lang == "zh"
    return [
        EvidenceRow(n, f"E-{n:04d}", (f"证据{n}" if zh else f"Exhibit {n}"), "本院调取" if zh else "collected by this office",
                    "检察官" if zh else "procurator", "2026-11-01T10:00:00+08:00", 1,
                    "证明个人信息处理事实" if zh else "proves the processing", f"{n:064x}", f"{n:064x}", None, ["processing"])
        for n in range(1, 4)
    ]


def fake_context(lang: str, variant: str, kind: str = "recommendation") -> tuple[dict[str, Any], FakeCase]:
    """The template context the contract promises, for one fact set; the FakeCase records reads."""
    case = FakeCase(_case_data(lang, variant), lang)
    plaintiff, defendants = _parties(case, lang, variant)
    evidence = _evidence(lang, variant)
    context: dict[str, Any] = {
        "lang": lang,
        "kind": kind,
        "today": format_date(TODAY, lang),
        "need": case.need,
        "has": case.has,
        "val": case.val,
        "plaintiff": plaintiff,
        "defendants": defendants,
        "third_parties": [],
        "evidence": evidence,
        "matrix": [],
        "missing_elements": [],
        "harm": _harm(lang, variant),
        "attribution": None,
        "law": {},
        "documents": [],
    }
    return context, case


def render(kind: str, lang: str, context: dict[str, Any], templates: Path = TEMPLATES) -> str:
    return environment(lang, templates).get_template(f"{kind}.{lang}.md.j2").render(**context)


# ---------------------------------------------------------------------------------------------
# Checks

DIRECTIVE = re.compile(r"^@(center|right|noindent) \S")
HEADING = re.compile(r"^(#{1,4}) \S")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
ZH_L1 = "一二三四五六七八九十"
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
LEAKS = [
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), "a mobile number"),
    (re.compile(r"(?<![\dA-Z])\d{17}[\dXx](?![\dA-Za-z])"), "an identity number"),
    (re.compile(r"\d\*{3,}|\*{3,}\d"), "a partial mask (not the court rule)"),
]
JUNK = [
    (re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}"), "left-over Jinja syntax"),
    (re.compile(r"(?<![A-Za-z])(None|Undefined|True|False)(?![A-Za-z])"), "a Python value printed"),
    (re.compile(r"\['|\[\]|'\]|object at 0x|<[a-z_.]+ "), "a Python repr printed"),
    (re.compile(r"[。，；：、]{2,}|^[。，；：、]"), "doubled Chinese punctuation"),
    (re.compile(r"(?<!\.)\.\.(?!\.)|[,;:]\.| [.,;:]|^[.,;:]"), "doubled punctuation"),
    (re.compile(r"[^#](@(center|right|noindent|table|figure|pagebreak)\b|#{2,4} )"), "a directive inside a line"),
]


def check_markup(text: str, lang: str) -> list[str]:
    """Every problem with ``text`` as plitool document markup (empty when valid)."""
    problems: list[str] = []
    other = "en" if lang == "zh" else "zh"
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}: {line[:60]!r}"
        if not line.strip():
            continue
        if line != line.strip():
            problems.append(f"{where}: leading or trailing whitespace")
        if line.startswith("@"):
            if not (DIRECTIVE.match(line) or line == "@pagebreak" or line == "@figure graph"
                    or (line.startswith("@table ") and line[len("@table "):] in TABLES)):
                problems.append(f"{where}: not a directive of the contract")
        elif line.startswith("#") and not HEADING.match(line):
            problems.append(f"{where}: not a heading of the contract")
        if line.count("**") % 2:
            problems.append(f"{where}: unbalanced ** (bold)")
        for pattern, what in JUNK + LEAKS:
            if pattern.search(line):
                problems.append(f"{where}: {what}")
        if PLACEHOLDER_RE[other].search(line):
            problems.append(f"{where}: a placeholder of the other language")
    return problems


def headings(text: str, level: int) -> list[str]:
    prefix = "#" * level + " "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def check_numbering(text: str, lang: str) -> list[str]:
    """Level-1 headings run 一、二、… (I. II. …); level-2 run （一）（二）… ((1) (2) …) under each."""
    problems: list[str] = []
    l1 = l2 = 0
    for line in text.splitlines():
        if line.startswith("## "):
            l1, l2 = l1 + 1, 0
            want = f"{ZH_L1[l1 - 1]}、" if lang == "zh" else f"{ROMAN[l1 - 1]}. "
            if not line[3:].startswith(want):
                problems.append(f"level-1 heading {line!r} should start with {want!r}")
        elif line.startswith("### "):
            l2 += 1
            want = f"（{ZH_L1[l2 - 1]}）" if lang == "zh" else f"({l2}) "
            if not line[4:].startswith(want):
                problems.append(f"level-2 heading {line!r} should start with {want!r}")
    return problems


def check_render(kind: str, lang: str, variant: str, templates: Path = TEMPLATES) -> tuple[str, FakeCase, list[str]]:
    """Render one template with one fact set; return the text, the case reads and the problems."""
    context, case = fake_context(lang, variant, kind)
    try:
        text = render(kind, lang, context, templates)
    except Exception as exc:  # a checker: report any rendering failure as a problem, with its type
        return "", case, [f"rendering failed: {type(exc).__name__}: {exc}"]
    problems = check_markup(text, lang) + check_numbering(text, lang)
    titles = headings(text, 1)
    if len(titles) != 1:
        problems.append(f"expected one title line, found {titles}")
    expected = EXPECTED_HEADINGS.get((kind, lang))
    if expected is not None and headings(text, 2) != expected:
        problems.append(f"sections {headings(text, 2)} differ from {expected}")
    found = set(PLACEHOLDER_RE[lang].findall(text))
    if found != case.missing:
        problems.append(f"placeholders in the text {sorted(found)} differ from the keys need() missed {sorted(case.missing)}")
    if variant == "full" and found:
        problems.append(f"placeholders with every fact given: {sorted(found)}")
    if variant == "empty" and not found:
        problems.append("no placeholder with an empty case.toml")
    if lang == "en":
        for number, line in enumerate(text.splitlines(), 1):
            if CJK.search(PLACEHOLDER_RE["en"].sub("", line)):
                problems.append(f"line {number}: Chinese text in the English template: {line[:60]!r}")
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.startswith(("@table", "@figure", "@pagebreak")) and not CJK.search(line):
                problems.append(f"line {number}: no Chinese in the Chinese template: {line[:60]!r}")
    return text, case, problems


def key_usage(kinds: tuple[str, ...] = KINDS) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """For each template: (keys ever read with need(), keys only read with has()/val())."""
    usage: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for kind in kinds:
        for lang in LANGS:
            needed: set[str] = set()
            optional: set[str] = set()
            for variant in VARIANTS:
                _, case, _ = check_render(kind, lang, variant)
                needed |= case.needed
                optional |= case.optional
            usage[(kind, lang)] = (sorted(needed), sorted(optional - needed))
    return usage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--show", nargs=3, metavar=("KIND", "LANG", "VARIANT"))
    parser.add_argument("--keys", action="store_true")
    args = parser.parse_args(argv)
    if args.show:
        text, case, problems = check_render(*args.show)
        print(text)
        print("\n".join(problems) or "ok", file=sys.stderr)
        return 1 if problems else 0
    failures = 0
    for kind in args.kinds:
        for lang in LANGS:
            for variant in VARIANTS:
                _, _, problems = check_render(kind, lang, variant)
                failures += bool(problems)
                print(f"{kind}.{lang} [{variant}]: {'ok' if not problems else f'{len(problems)} problem(s)'}")
                for problem in problems:
                    print(f"    {problem}")
    if args.keys:
        for (kind, lang), (needed, optional) in key_usage(tuple(args.kinds)).items():
            print(f"{kind}.{lang}: need() {', '.join(needed)}")
            print(f"{' ' * len(kind + lang)}  has()/val() {', '.join(optional)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
