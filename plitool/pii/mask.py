"""The one masking module: every output of plitool (terminal, JSON, graphs, drafts) uses it.

Two conventions, for two kinds of output (legal-basis.md §4):

- **Documents that leave the vault** (drafts, announcements, bundle indexes, reports) follow the
  court rule of the SPC Provisions on publishing judgments online (2016, Arts. 8-10): a data
  subject who is not a party appears as 张某 (surname + 某; 张某甲 / 张某乙 when two share a
  surname, a common local practice), and phone and ID numbers, addresses, bank accounts and
  similar values are **deleted** ("（略）"), never partially starred: :func:`court_mask`,
  :func:`court_mask_text`.
- **Analysis screens** (``scan``, ``leak``, graphs, JSON) use plitool's own display convention,
  which no court rule prescribes: a mobile number keeps its first three and last four digits
  (138****1234), an ID number its first six and last four (110105********1234), so that a person
  can tell records apart; home address, bank account and location are omitted; values no rule
  covers keep at most their last four characters: :func:`mask`, :func:`mask_text`.
"""

from __future__ import annotations

import re
import unicodedata

from .normalize import MASK_CHARS, mask_pattern

OMITTED = "（略）"
#: Ordinal suffixes for names sharing a surname: 甲, 乙, 丙 … (then 甲1, 乙1 … after 癸).
ORDINALS = "甲乙丙丁戊己庚辛壬癸"
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 宇文 长孙 司徒 夏侯 轩辕 端木 西门 南宫 独孤 百里 "
    "呼延 钟离 闻人 赫连 澹台 申屠 太史 公冶 濮阳 淳于 单于 太叔 仲孙 万俟 东郭 南门 第五 拓跋".split()
)


def surname(name: str) -> str:
    """The surname of a Chinese name (compound surnames included); the first letter otherwise."""
    name = name.strip()
    if not name:
        return ""
    if name[:2] in COMPOUND_SURNAMES and len(name) > 2:
        return name[:2]
    return name[0]


def _ordinal(n: int) -> str:
    if n <= 0:
        return ""
    q, r = divmod(n - 1, len(ORDINALS))
    return ORDINALS[r] + (str(q) if q else "")


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo"


def _keep_last(value: str, keep: int = 4) -> str:
    """``****`` and the last ``keep`` characters (two for short values); never the length."""
    if len(value) <= keep * 2:
        return "****" + value[-2:] if len(value) > 4 else "****"
    return "****" + value[-keep:]


def mask(kind: str, value: str, *, ordinal: int = 0, partial: bool = False) -> str:
    """plitool's analysis-screen mask of a normalised value of ``kind`` (not a court rule: drafts use
    :func:`court_mask`).

    ``ordinal`` (1, 2, …) adds 甲, 乙, … to a name whose surname another name in the same output
    shares (see :class:`NameMasks`). ``partial``: the value was already masked where it was
    found; its canonical pattern is shown (it reveals nothing the source did not).
    """
    if partial:
        pattern = mask_pattern(kind, value) or value
        if kind in ("address", "location", "bank_card"):
            return OMITTED
        return pattern
    if kind == "phone":
        national = value.removeprefix("+86")
        if len(national) == 11 and national.isdigit():
            return f"{national[:3]}****{national[-4:]}"
        return _keep_last(national)
    if kind == "id_number":
        if len(value) == 18:
            return f"{value[:6]}{'*' * 8}{value[-4:]}"
        return _keep_last(value)
    if kind == "name":
        if "某" in value or any(c in MASK_CHARS for c in value):
            return value  # already masked in the source
        family = surname(value)
        if family and all(_is_cjk(c) for c in family):
            return f"{family}某{_ordinal(ordinal)}"
        return f"{family[:1].upper()}某{_ordinal(ordinal)}" if family else "某"
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}" if domain else _keep_last(value)
    if kind in ("address", "location", "bank_card"):
        return OMITTED
    if kind == "uscc":
        return f"{value[:8]}{'*' * (len(value) - 12)}{value[-4:]}" if len(value) == 18 else _keep_last(value)
    if kind in ("order_id", "waybill"):
        if len(value) > 8:
            return f"{value[:2]}{'*' * (len(value) - 6)}{value[-4:]}"
        return _keep_last(value, 2)
    # imei, device_id and anything a case declares: the last four characters at most
    return _keep_last(value)


class NameMasks:
    """Masks for the names of one output: 张某 alone, 张某甲 / 张某乙 when two names share 张.

    Build it from every name the output shows (first pass), then ask for masks (second pass), so
    the suffixes are stable whatever order the names are shown in.
    """

    def __init__(self, names: list[str] | tuple[str, ...] | set[str] = ()) -> None:
        by_surname: dict[str, list[str]] = {}
        for name in sorted(set(names)):
            if "某" in name or any(c in MASK_CHARS for c in name):
                continue
            by_surname.setdefault(surname(name), []).append(name)
        self._ordinals: dict[str, int] = {}
        for group in by_surname.values():
            if len(group) > 1:
                for i, name in enumerate(group, start=1):
                    self._ordinals[name] = i

    def mask(self, name: str) -> str:
        return mask("name", name, ordinal=self._ordinals.get(name, 0))


#: Digit runs long enough to be a phone, an ID or a card number, even glued to letters
#: (``u13812345678``, ``身份证11010519491231002X.pdf``): in text plitool emits, never kept raw.
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{11,19}(?:[Xx](?![0-9A-Za-z]))?(?![0-9])")


def _may_hold_personal_data(text: str) -> bool:
    """False when no detector could find anything in ``text`` (most locations: ``row 12 col 3``):
    no e-mail sign, no label separator, no masked name and fewer than six digits."""
    return ("@" in text or "某" in text or any(c in text for c in ":：=是为")
            or sum(c.isdigit() for c in text) >= 6)


def court_mask(kind: str, value: str, *, ordinal: int = 0) -> str:
    """The court rule for documents that leave the vault: a name becomes 张某 (张某甲 with
    ``ordinal``), every other value is deleted ("（略）"), whether or not it was already masked."""
    if kind == "name":
        return mask("name", value, ordinal=ordinal)
    return OMITTED


def mask_text(text: str) -> str:
    """Any text plitool shows about evidence (a location, a note, a parser's error, a file name)
    with the personal values in it masked (analysis-screen convention).

    Locations name keys, header names and query parameters, which are themselves data (a JSON
    object keyed by phone numbers, a cookie named after the user's number); file names and
    parsers' messages quote the data they came from. The detectors find what they can (labels
    included); then any long digit run left, even glued to letters, is masked by its length
    (11: a phone's mask, 18: an ID number's, else the last four digits), valid or not: here a
    false positive costs a few digits of a location, a miss leaks a person.
    """
    return _mask_spans(text, court=False)


#: A partial mask left in text (``138****1234``, ``110105********1234``, ``****1234``): a court
#: document shows none.
_LONG_DIGITS = re.compile(r"[0-9]{11,}[Xx]?")
_PARTIAL_MASK = re.compile(r"[0-9A-Za-z]*[*＊]{3,}[0-9A-Za-z]*")


def court_mask_text(text: str) -> str:
    """Text from the vault (an item's name, source or note) as a court document may show it:
    names found as 张某, every number, address or account deleted ("（略）"), and any long digit
    run or partial mask left in the text deleted too."""
    masked = _mask_spans(text, court=True)
    masked = _LONG_DIGITS.sub(OMITTED, masked)  # runs no detector could split (two numbers glued together)
    return _PARTIAL_MASK.sub(OMITTED, masked) if "*" in masked or "＊" in masked else masked


def _mask_spans(text: str, *, court: bool) -> str:
    if not text or not _may_hold_personal_data(text):
        return text
    from .detect import detect_text

    spans: list[tuple[int, int, str]] = []
    for found in detect_text(text):
        if found.start < 0 or not found.raw:
            continue
        if court:
            shown = court_mask(found.kind, found.value) if not found.partial or found.kind != "name" else found.value
        else:
            shown = found.value if found.partial and found.kind not in ("address", "location", "bank_card") else mask(
                found.kind, found.value, partial=found.partial)
        spans.append((found.start, found.start + len(found.raw), shown))
    for m in _DIGIT_RUN.finditer(text):
        if any(a < m.end() and m.start() < b for a, b, _s in spans):
            continue
        run = m.group()
        if court:
            shown = OMITTED
        elif len(run) == 11:
            shown = f"{run[:3]}****{run[-4:]}"
        elif len(run) == 18:
            shown = f"{run[:6]}{'*' * 8}{run[-4:]}"
        else:
            shown = "****" + run[-4:]
        spans.append((m.start(), m.end(), shown))
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for a, b, shown in sorted(spans):
        if a < pos:
            continue  # overlapping matches: the first one masks
        out.append(text[pos:a])
        out.append(shown)
        pos = b
    out.append(text[pos:])
    return "".join(out)
