"""The case facts a draft needs, read from ``case.toml``, with every missing key remembered.

Templates ask for facts through ``need(key)`` (a placeholder marker when missing), ``has(key)``
and ``val(key)``; parties through :class:`PartyView`. Whatever was missing is listed afterwards,
so the command can refuse naming each key, or (``--allow-missing``) keep the visible markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ..pii.mask import court_mask_text

#: Keys written without a table name live in [case]: ``need("court")``.
CASE_KEYS = frozenset({"title", "number", "court", "lang", "timezone"})
#: Free text about the facts may quote data subjects: it is shown by the court rule.
MASKED_TABLES = frozenset({"facts"})
MASKED_KEYS = frozenset({"recommendation.findings", "announcement.responses"})
PARTY_FIELDS = ("name", "uscc", "address", "representative", "basis", "sex", "born", "ethnicity", "occupation",
                "employer", "contact", "position")
PARTY_ROLES = ("plaintiff", "defendant", "third-party")

PLACEHOLDER = {"zh": "【待补充：{key}】", "en": "[TO BE COMPLETED: {key}]"}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def one_line(text: str) -> str:
    """A fact as one line: in the document markup a line break would start a new block (a
    heading, a table), so line breaks and other controls inside a value become spaces."""
    line = " ".join("".join(" " if ord(c) < 32 or c in "\u2028\u2029\x85" else c for c in text).split())
    # a value that would open a line as markup (``# title``, ``@table``) is kept as text
    return "\u200b" + line if line[:1] in ("#", "@") else line


def placeholder(lang: str, key: str) -> str:
    return PLACEHOLDER[lang].format(key=key)


def format_date(value: Any, lang: str) -> str:
    """An ISO date (or a date) as the language writes it: 2026年11月30日 / 30 November 2026."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value).strip()[:10])
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
    return f"{day.day} {months[day.month - 1]} {day.year}"


def add_days(value: Any, n: int) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value).strip()[:10])
    return (day + timedelta(days=int(n))).isoformat()


def table_key(key: str) -> str:
    """``claims.damages_amount`` as a person finds it in case.toml: ``[claims] damages_amount``."""
    if key.startswith("parties."):
        _p, role, field = (key.split(".", 2) + ["", ""])[:3]
        return f'[[parties]] role = "{role}": {field}'
    table, _dot, name = key.rpartition(".")
    return f"[{table or 'case'}] {name}"


class Facts:
    """``case.toml``'s tables, looked up by dotted key; missing keys are collected in order."""

    def __init__(self, raw: dict[str, Any], path: Path, lang: str) -> None:
        self.raw = raw
        self.path = path
        self.lang = lang
        self.missing: list[str] = []

    def _lookup(self, key: str) -> Any:
        parts = key.split(".")
        if len(parts) == 1 and parts[0] in CASE_KEYS:
            parts = ["case", parts[0]]
        node: Any = self.raw
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, str):
            node = one_line(node)
            if parts[0] in MASKED_TABLES or ".".join(parts) in MASKED_KEYS:
                node = court_mask_text(node)
        elif isinstance(node, list):
            node = [one_line(v) if isinstance(v, str) else v for v in node]
            if parts[0] in MASKED_TABLES or ".".join(parts) in MASKED_KEYS:
                node = [court_mask_text(v) if isinstance(v, str) else v for v in node]
        return node

    def mark_missing(self, key: str) -> str:
        if key not in self.missing:
            self.missing.append(key)
        return placeholder(self.lang, key)

    def need(self, key: str) -> Any:
        value = self._lookup(key)
        if _empty(value):
            return self.mark_missing(key)
        return value

    def has(self, key: str) -> bool:
        value = self._lookup(key)
        return not _empty(value) and value is not False

    def val(self, key: str, default: Any = "") -> Any:
        value = self._lookup(key)
        return default if _empty(value) else value

    # -- parties -------------------------------------------------------------------------------

    def parties(self, role: str) -> list[PartyView]:
        listed = self.raw.get("parties", [])
        found = [p for p in listed if isinstance(p, dict) and str(p.get("role", "")).strip() == role] \
            if isinstance(listed, list) else []
        return [PartyView(p, role, self) for p in found]


@dataclass
class PartyView:
    """A party as a template sees it: parties are named in full (CPL Art. 124); an empty field a
    template shows becomes a placeholder and is listed as missing."""

    data: dict[str, Any]
    role: str
    facts: Facts

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "") or "").strip()

    def opt(self, field: str) -> str:
        value = self.data.get(field)
        return "" if _empty(value) else one_line(str(value))

    def __getattr__(self, field: str) -> Any:
        if field not in PARTY_FIELDS:
            raise AttributeError(field)
        value = self.data.get(field)
        if _empty(value):
            return self.facts.mark_missing(f"parties.{self.role}.{field}")
        return one_line(str(value))
