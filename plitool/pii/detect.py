"""Find personal data in text and in table cells.

Validated kinds (phone, ID number, e-mail, bank card, IMEI, USCC) are found anywhere: a cheap
regular expression proposes candidates bounded by non-alphanumerics, and the validators from
``phonenumbers`` / ``python-stdnum`` decide. A digit run glued to letters (``SO13812345678``) or to
more digits (a 13-digit millisecond timestamp) is never a candidate. Names, addresses, order ids,
waybills, device ids and locations are taken only where a header, a label (``姓名：``) or a JSON
key names them. Values already masked in the source (``138****1234``, ``张某``) are kept as
partial patterns.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from ..errors import UsageError
from ..i18n import _
from .fields import KINDS, LABEL_WORDS, VALIDATED, field_for_label
from .normalize import (
    _birth_date_ok,
    cn_mobile_e164,
    halfwidth,
    mask_pattern,
    normalize,
    normalize_bank_card,
    normalize_email,
    normalize_free,
    normalize_id_number,
    normalize_imei,
    normalize_phone,
    normalize_uscc,
)


class Match(NamedTuple):
    """One value found. ``value`` is normalised (or the masked pattern when ``partial``);
    ``raw`` is the text as it stands in the source and must only be shown with a logged reason.
    (A named tuple: millions are made when a large table is scanned.)"""

    kind: str
    value: str
    raw: str
    partial: bool = False
    via: str = "pattern"  # pattern | header | label | key | known:<form>
    start: int = -1


# -- candidates in free text ------------------------------------------------------------

_CANDIDATES = re.compile(
    r"""
    (?P<email>(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9][A-Za-z0-9.\-]{0,252}\.[A-Za-z]{2,24})(?![A-Za-z0-9])
  | (?<![A-Za-z0-9*])(?P<mphone>(?:\+86|0086)?[ \-]?1[3-9][0-9][ \-]?[*xX]{4}[ \-]?[0-9]{4})(?![0-9A-Za-z*])
  | (?<![A-Za-z0-9*])(?P<mid>[0-9]{1,6}[*]{8,12}[0-9]{0,3}[0-9Xx*])(?![0-9A-Za-z*])
  | (?<![A-Za-z0-9+])(?P<sphone>(?:(?:\+|00)86[ \-]?|\(\+?86\)[ \-]?)?1[3-9][0-9](?:[ \-][0-9]{4}[ \-][0-9]{4}|[0-9]{8}))(?![0-9A-Za-z])
  | (?<![A-Za-z0-9])(?P<card>[0-9]{4}(?:[ \-][0-9]{4}){3}(?:[ \-]?[0-9]{1,3})?)(?![0-9A-Za-z])
  | (?<![A-Za-z0-9])(?P<num>[0-9]{11,19}[Xx]?)(?![0-9A-Za-z])
  | (?<![A-Za-z0-9])(?P<uscc>[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10})(?![0-9A-Za-z])
    """,
    re.X,
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游"
    "辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应"
    "臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_MASKED_NAME = re.compile(
    rf"(?:欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|司徒|夏侯|[{SURNAMES}])某(?:某|[甲乙丙丁戊己庚辛壬癸])?"
    r"(?![些种个天日年月时处地方项类件次位样事物公企单机部门网平店家市省县区村路街])"
)
#: 属于某…, 如何某…, 向某…: a function word, not a surname, stands before 某.
_NOT_SURNAME_BEFORE = {"于": "属关对由至等基位用处终过在", "何": "任如为几", "向": "面方走倾转指投趋"}

_LABEL = re.compile(
    r"(?<![A-Za-z0-9_])(?P<label>" + "|".join(re.escape(w) for w in LABEL_WORDS) + r")(?:\\?[\"'])?[ \t]*(?:[:：=]|是|为)[ \t]*(?:\\?[\"'])?"
    r"(?P<value>[^\s,;，；。|、\"'<>{}\\]{1,120})",
    re.I,
)
_ADDRESS_VALUE = re.compile(r"[^\n,;，；。|\"'<>{}]{2,120}")


def _classify_digits(raw: str, kinds: frozenset[str]) -> Match | None:
    compact = raw.replace(" ", "").replace("-", "")
    n = len(compact)
    if n == 18 and "id_number" in kinds:
        v = normalize_id_number(compact)
        if v:
            return Match("id_number", v, raw)
    if n in (11, 13, 15) and "phone" in kinds and compact[-11] == "1":
        v = normalize_phone(compact)
        if v and (n == 11 or compact[: n - 11] in ("86", "0086")):
            return Match("phone", v, raw)
    if n == 15 and "imei" in kinds:
        v = normalize_imei(compact)
        if v:
            return Match("imei", v, raw)
    if 16 <= n <= 19 and "bank_card" in kinds and compact.isdigit():
        v = normalize_bank_card(compact)
        if v:
            return Match("bank_card", v, raw)
    if n == 18 and "uscc" in kinds and not (compact[:17].isdigit() and _birth_date_ok(compact[6:14])):
        # (an 18-digit number with a birth date in place is an ID number with a wrong check digit)
        v = normalize_uscc(compact)
        if v:
            return Match("uscc", v, raw)
    return None


#: What every candidate, masked name and label needs (before :func:`halfwidth`): a digit or an
#: @ (every pattern of ``_CANDIDATES``), 某 (``_MASKED_NAME``), a label sign (``_labelled``).
_MAY_MATCH = re.compile("[0-9\uff10-\uff19@\uff20某:：=]")


def detect_text(text: str, kinds: frozenset[str] = frozenset(KINDS), *, field: str | None = None) -> list[Match]:
    """Every value of the chosen kinds in a piece of text, in order of position.

    ``field``: the header/label/key the text sits under, if it names one; then the whole text is
    also taken as that field's value when no validator applies (names, addresses, …).
    """
    if not text:
        return []
    if (field is None or field in VALIDATED or field not in kinds) and not _MAY_MATCH.search(text):
        return []  # no digit, no @, no 某, no label sign: no detector below can match
    text = halfwidth(text)
    found: list[Match] = []
    for m in _CANDIDATES.finditer(text):
        group = m.lastgroup
        raw = m.group()
        hit: Match | None = None
        if group == "email":
            if "email" in kinds:
                v = normalize_email(raw)
                hit = Match("email", v, raw) if v else None
        elif group == "mphone":
            if "phone" in kinds:
                p = mask_pattern("phone", raw)
                hit = Match("phone", p, raw, partial=True) if p else None
        elif group == "mid":
            if "id_number" in kinds and len(raw) == 18:
                p = mask_pattern("id_number", raw)
                hit = Match("id_number", p, raw, partial=True) if p else None
        elif group == "sphone":
            if "phone" in kinds:
                v = normalize_phone(raw)
                hit = Match("phone", v, raw) if v else None
        elif group == "card":
            if "bank_card" in kinds:
                v = normalize_bank_card(raw, labelled=field == "bank_card")
                hit = Match("bank_card", v, raw) if v else None
        elif group == "num":
            hit = _classify_digits(raw, kinds)
        elif group == "uscc":
            if "uscc" in kinds:
                v = normalize_uscc(raw)
                hit = Match("uscc", v, raw) if v else None
        if hit is not None:
            found.append(_at(hit, m.start()))
    if "name" in kinds and "某" in text:
        for m in _MASKED_NAME.finditer(text):
            before = text[m.start() - 1] if m.start() else ""
            if before and before in _NOT_SURNAME_BEFORE.get(m.group()[0], ""):
                continue
            if m.group()[0] == "向" and m.start() == 0:
                continue
            found.append(Match("name", m.group(), m.group(), partial=True, start=m.start()))
    if field is None and (":" in text or "：" in text or "=" in text):
        labelled = _labelled(text, kinds, found)
        wins = [(m.start, m.start + len(m.raw)) for m in labelled if m.kind in LABEL_WINS]
        if wins:  # 订单号：19527593857 is an order number, though its digits pass for a phone
            found = [m for m in found if not any(a <= m.start < b for a, b in wins)]
        found.extend(labelled)
    elif field is not None and field in kinds and field not in VALIDATED and not found:
        v = normalize(field, text)
        if v:
            partial = field == "name" and mask_pattern("name", v) is not None
            found.append(Match(field, v, text, partial=partial, via="key"))
    found.sort(key=lambda x: x.start)
    return found


def _at(m: Match, start: int) -> Match:
    return Match(m.kind, m.value, m.raw, m.partial, m.via, start)


#: Identifier kinds whose label names the value outright: the label wins over a pattern that the
#: same digits happen to match (an order number of 11 digits starting 1[3-9] passes for a phone).
LABEL_WINS = frozenset({"order_id", "waybill", "device_id"})


def _labelled(text: str, kinds: frozenset[str], already: list[Match]) -> list[Match]:
    """``姓名：张三``, ``收货地址: 示例市…``: values of the label-only kinds."""
    taken = {m.start for m in already}
    out: list[Match] = []
    for m in _LABEL.finditer(text):
        kind = field_for_label(m.group("label"))
        if kind is None or kind in VALIDATED or kind not in kinds:
            continue
        start = m.start("value")
        if start in taken and kind not in LABEL_WINS:
            continue
        raw = m.group("value")
        if kind == "address":
            am = _ADDRESS_VALUE.match(text, start)
            raw = am.group().strip() if am else raw
        v = normalize(kind, raw)
        if not v:
            continue
        partial = kind == "name" and mask_pattern("name", v) is not None
        if partial and any(x.kind == "name" and x.start == start for x in already):
            continue
        out.append(Match(kind, v, raw, partial=partial, via="label", start=start))
    return out


# -- typed columns: one detector per column, chosen by its header -------------------------

CellDetector = Callable[[str], "Match | list[Match] | None"]


def _phone_cell(cell: str) -> Match | list[Match] | None:
    if len(cell) == 11 and cell.isascii() and cell.isdigit():
        v = cn_mobile_e164(cell)
        return Match("phone", v, cell, via="header") if v else None
    p = mask_pattern("phone", cell)
    if p:
        return Match("phone", p, cell, partial=True, via="header")
    v = normalize_phone(cell)
    if v:
        return Match("phone", v, cell, via="header")
    return _fallback(cell, frozenset({"phone"}))


def _id_cell(cell: str) -> Match | list[Match] | None:
    if len(cell) == 18 and cell.isascii():
        body = cell[:17]
        if body.isdigit():
            from stdnum.cn import ric

            last = cell[17].upper()
            if last == ric.calc_check_digit(cell) and _birth_date_ok(cell[6:14]):
                return Match("id_number", body + last, cell, via="header")
            return None
    p = mask_pattern("id_number", cell)
    if p:
        return Match("id_number", p, cell, partial=True, via="header")
    return _fallback(cell, frozenset({"id_number"}))


def _fallback(cell: str, kinds: frozenset[str]) -> list[Match] | None:
    found = detect_text(cell, kinds)
    return found or None


def _validated_cell(kind: str) -> CellDetector:
    kinds = frozenset({kind})

    def detect(cell: str) -> Match | list[Match] | None:
        v = normalize(kind, cell)
        if v:
            return Match(kind, v, cell, via="header")
        p = mask_pattern(kind, cell)
        if p:
            return Match(kind, p, cell, partial=True, via="header")
        return _fallback(cell, kinds)

    return detect


def _labelled_cell(kind: str) -> CellDetector:
    def detect(cell: str) -> Match | None:
        v = normalize_free(cell) if kind in ("address", "location") else normalize(kind, cell)
        if not v:
            return None
        if kind == "name":
            if "某" in v or "*" in v or "＊" in v:
                p = mask_pattern("name", v)
                if p:
                    return Match("name", p, cell, partial=True, via="header")
        elif "*" in v and kind not in ("address", "location"):
            p = mask_pattern(kind, v)
            if p:
                return Match(kind, p, cell, partial=True, via="header")
        return Match(kind, v, cell, via="header")

    return detect


def untyped_detector(kinds: frozenset[str]) -> Callable[[str], list[Match] | None]:
    """The detector for a column no header types: every validated kind, as in free text."""

    def detect(cell: str) -> list[Match] | None:
        return detect_text(cell, kinds) or None

    return detect


def cell_detector(field: str | None, kinds: frozenset[str]) -> CellDetector | None:
    """The detector for a column: its field's alone when the header names one (None when that
    field was not asked for), else every validated kind."""
    if field is None:
        return untyped_detector(kinds)
    if field not in kinds:
        return None
    if field == "phone":
        return _phone_cell
    if field == "id_number":
        return _id_cell
    if field in VALIDATED:
        return _validated_cell(field)
    return _labelled_cell(field)


# -- known values: encoded and hashed forms in traffic captures ---------------------------


@dataclass(frozen=True)
class KnownValue:
    kind: str
    value: str  # normalised


class KnownValues:
    """Values of the test device (its phone, IMEI, OAID …) and the forms apps send them in.

    File format: one value a line, ``kind: value`` (``phone: 138 1234 5678``, ``device_id: …``) or a
    bare value whose kind is recognised; ``#`` starts a comment. For every value the plain,
    url-encoded, base64 (standard and url-safe, with and without padding) and MD5 / SHA-1 /
    SHA-256 (hex, either case) forms of its usual spellings are searched.
    """

    def __init__(self, values: Iterable[KnownValue]) -> None:
        self.values = list(dict.fromkeys(values))
        self._forms: dict[str, tuple[KnownValue, str]] = {}
        for kv in self.values:
            for spelling in _spellings(kv):
                raw = spelling.encode("utf-8")
                forms = {
                    "url": quote(spelling, safe=""),
                    "base64": base64.b64encode(raw).decode(),
                    "base64url": base64.urlsafe_b64encode(raw).decode(),
                    "md5": hashlib.md5(raw).hexdigest(),
                    "sha1": hashlib.sha1(raw).hexdigest(),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                }
                if kv.kind not in VALIDATED:
                    forms["plain"] = spelling
                for name, form in forms.items():
                    if name.startswith("base64"):
                        for f in (form, form.rstrip("=")):
                            if len(f) >= 8:
                                self._forms.setdefault(f, (kv, name))
                    elif name in ("md5", "sha1", "sha256"):
                        self._forms.setdefault(form, (kv, name))
                    elif form != spelling or name == "plain":
                        if len(form) >= 4:
                            self._forms.setdefault(form, (kv, name))
        keys = sorted(self._forms, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(k) for k in keys)) if keys else None
        self._lower = {k.lower(): v for k, v in self._forms.items() if k.isalnum()}

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def load(cls, path: str | Path) -> KnownValues:
        from ..errors import InputNotFound, PlitoolError
        from ..fsutil import read_input

        try:
            text = read_input(path).decode("utf-8-sig")  # bounded, regular files only
        except InputNotFound as exc:
            raise UsageError(_("--known-values: no such file: {path}").format(path=path)) from exc
        except PlitoolError as exc:
            raise UsageError(_("--known-values: {error}").format(error=exc)) from exc
        except UnicodeDecodeError as exc:
            raise UsageError(_("--known-values: cannot read {path} as UTF-8 text: {error}").format(path=path, error=exc)) from exc
        values: list[KnownValue] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            kind: str | None = None
            head, sep, tail = line.partition(":")
            if sep and (head.strip().lower() in KINDS or field_for_label(head.strip())):
                kind = head.strip().lower() if head.strip().lower() in KINDS else field_for_label(head.strip())
                line = tail.strip()
            if kind is None:
                found = detect_text(line)
                if len(found) == 1 and not found[0].partial:
                    kind = found[0].kind
            if kind is None:
                raise UsageError(_("--known-values line {line}: say what it is, e.g. 'phone: …' or 'device_id: …'").format(
                    line=lineno))
            v = normalize(kind, line)
            if not v:
                raise UsageError(_("--known-values line {line}: not a valid {kind}").format(line=lineno, kind=kind))
            values.append(KnownValue(kind, v))
        return cls(values)

    def search(self, text: str) -> list[Match]:
        if self._re is None or not text:
            return []
        out: list[Match] = []
        for m in self._re.finditer(text):
            kv, form = self._forms[m.group()]
            out.append(Match(kv.kind, kv.value, m.group(), via=f"known:{form}", start=m.start()))
        if any(c.isupper() for c in text if c in "ABCDEF"):
            # upper-case hex digests
            for m in re.finditer(r"(?<![0-9A-Fa-f])[0-9A-F]{32,64}(?![0-9A-Fa-f])", text):
                hit = self._lower.get(m.group().lower())
                if hit is not None and hit[1] in ("md5", "sha1", "sha256") and m.group() not in self._forms:
                    out.append(Match(hit[0].kind, hit[0].value, m.group(), via=f"known:{hit[1]}", start=m.start()))
        return out


def _spellings(kv: KnownValue) -> list[str]:
    """The ways apps write a value before encoding or hashing it."""
    v = kv.value
    if kv.kind == "phone":
        national = v.removeprefix("+86")
        return [national, v, "86" + national, "0086" + national]
    if kv.kind == "email":
        return [v]
    if kv.kind == "device_id":
        return list(dict.fromkeys([v, v.lower(), v.replace("-", ""), v.replace("-", "").lower()]))
    return [v]
