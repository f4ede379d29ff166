#!/usr/bin/env python3
"""plitool's message catalogues: extract the messages, find the untranslated, merge, compile.

    python tools/i18n.py extract                 plitool/ -> plitool/locale/plitool.pot, then each .po updated
    python tools/i18n.py untranslated [--json F]  how many messages lack a translation (and dump them to F)
    python tools/i18n.py merge F                 translations from the JSON file F into the .po, then compile
    python tools/i18n.py compile                 each .po -> its .mo (fuzzy entries are left out)
    python tools/i18n.py check                   exit 1 if the .pot, a .po or a .mo lags behind the source

``make i18n`` runs extract, compile and untranslated. The JSON that ``untranslated --json`` writes
is a list of entries; fill in each ``msgstr`` and hand the file to ``merge``. ``merge`` also takes
a plain object ``{"English msgid": "译文", ...}``. A translation must keep every ``{placeholder}``
of its English text exactly (a missing or renamed one would crash ``.format()``); ``merge``
refuses a file in which any entry breaks that, before changing anything.

Needs Babel (the ``test`` extra). Which files are read is in ``babel.cfg``; the keywords are those
of :mod:`plitool.i18n`: ``_``, ``ngettext`` (singular, plural) and ``N_``.
"""

from __future__ import annotations

import argparse
import io
import json
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "plitool"
KEYWORDS: dict[str, Any] = {"_": None, "ngettext": (1, 2), "N_": None}
COMMENT_TAGS = ("TRANSLATORS:",)
WIDTH = 100


@dataclass(frozen=True)
class Layout:
    """Where the source and the catalogues are (a temporary copy in the tests)."""

    root: Path = ROOT
    mapping: Path = field(default=ROOT / "babel.cfg")
    locale_dir: Path = field(default=ROOT / "plitool" / "locale")

    @property
    def pot(self) -> Path:
        return self.locale_dir / f"{DOMAIN}.pot"

    def po_files(self) -> list[Path]:
        return sorted(self.locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


# -- placeholders --------------------------------------------------------------------------


def placeholders(text: str) -> set[str]:
    """The ``{name!conv:spec}`` fields of a ``str.format`` template; ValueError if it is malformed."""
    return {
        "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
        for _lit, name, spec, conv in string.Formatter().parse(text)
        if name is not None
    }


def placeholder_problem(msgid: str | tuple[str, ...] | list[str], translation: str) -> str | None:
    """Why ``translation`` cannot stand for ``msgid`` in ``.format()``, or None when it can.

    For a plural message the translation is measured against the plural form: Chinese has one
    form, used for every count.
    """
    english = msgid if isinstance(msgid, str) else msgid[-1]
    try:
        want = placeholders(english)
    except ValueError:
        return None  # the English is not a format template: nothing to keep
    try:
        have = placeholders(translation)
    except ValueError as exc:
        return f"the translation is not a valid template ({exc})"
    if have != want:
        missing, extra = sorted(want - have), sorted(have - want)
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(extra)}"] if extra else [])
        return "; ".join(parts)
    return None


# -- extraction ----------------------------------------------------------------------------


def extract(layout: Layout = Layout()) -> Catalog:
    """Every message marked in the source, as a template catalogue."""
    with layout.mapping.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(layout.mapping))
    catalog = Catalog(project=DOMAIN, domain=DOMAIN, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        layout.root, method_map, options_map, keywords=KEYWORDS, comment_tags=COMMENT_TAGS, strip_comment_tags=True
    ):
        if isinstance(message, tuple) and len(message) == 1:
            message = message[0]
        catalog.add(message, None, [(filename.replace("\\", "/"), lineno)], auto_comments=comments, context=context)
    return catalog


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=WIDTH, sort_by_file=True, ignore_obsolete=True, include_lineno=False)
    return out.getvalue()


def _without_dates(text: bytes) -> bytes:
    return b"".join(
        line for line in text.splitlines(keepends=True)
        if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:'))
    )


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already says the same (the dates in the header aside)."""
    if path.exists() and _without_dates(path.read_bytes()) == _without_dates(data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def read_catalog(po: Path) -> Catalog:
    with po.open("rb") as f:
        return read_po(f, locale=po.parent.parent.name, domain=DOMAIN)


def update(layout: Layout = Layout()) -> list[Path]:
    """Write the .pot from the source and bring every .po up to it; the files that changed."""
    template = extract(layout)
    changed = [layout.pot] if _write_if_changed(layout.pot, _po_bytes(template)) else []
    for po in layout.po_files():
        catalog = read_catalog(po)
        # A changed English text keeps its old translation as a fuzzy suggestion: it is listed as
        # untranslated (with that suggestion) until someone confirms it.
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
        if _write_if_changed(po, _po_bytes(catalog)):
            changed.append(po)
    return changed


# -- untranslated, merge -------------------------------------------------------------------


def _messages(catalog: Catalog) -> Iterable[Message]:
    return (m for m in catalog if m.id)


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(s for s in strings)


def untranslated(po: Path) -> list[dict[str, Any]]:
    """Entries without a usable translation, in the shape ``merge`` takes back."""
    out = []
    for message in _messages(read_catalog(po)):
        if _translated(message):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        entry: dict[str, Any] = {"msgid": ids[0]}
        if len(ids) > 1:
            entry["msgid_plural"] = ids[1]
        entry["locations"] = [f"{file}" for file, _line in message.locations]
        if message.auto_comments:
            entry["comments"] = list(message.auto_comments)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy and any(strings):
            entry["suggestion"] = strings[0]  # the translation of the English text as it was before
        entry["msgstr"] = ""
        out.append(entry)
    return out


class MergeError(Exception):
    pass


def _translations_from(data: Any) -> dict[str, str]:
    if isinstance(data, dict):
        pairs = list(data.items())
    elif isinstance(data, list):
        pairs = [(e.get("msgid"), e.get("msgstr")) for e in data if isinstance(e, dict)]
        if len(pairs) != len(data):
            raise MergeError("every entry of the list must be an object with msgid and msgstr")
    else:
        raise MergeError("expected a JSON object {msgid: translation} or a list of entries")
    out = {}
    for msgid, msgstr in pairs:
        if isinstance(msgstr, list) and len(msgstr) == 1:
            msgstr = msgstr[0]  # a plural entry: Chinese has one form (nplurals=1)
        if not isinstance(msgid, str) or not isinstance(msgstr, str):
            raise MergeError(f"msgid and msgstr must be strings: {msgid!r}")
        if msgstr.strip():
            out[msgid] = msgstr  # an entry left empty stays untranslated
    return out


def merge(po: Path, data: Any) -> int:
    """Put the translations into ``po`` (all or nothing); the number of entries translated."""
    catalog = read_catalog(po)
    by_msgid = {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in _messages(catalog)}
    translations = _translations_from(data)
    problems = []
    for msgid, msgstr in translations.items():
        message = by_msgid.get(msgid)
        if message is None:
            problems.append(f"{msgid!r}: not in {po.name} (run extract first?)")
            continue
        why = placeholder_problem(message.id, msgstr)
        if why:
            problems.append(f"{msgid!r}: {why}")
    if problems:
        raise MergeError("nothing was merged:\n  " + "\n  ".join(problems))
    for msgid, msgstr in translations.items():
        message = by_msgid[msgid]
        if isinstance(message.id, tuple):
            count = catalog.num_plurals
            message.string = tuple([msgstr] * count)
        else:
            message.string = msgstr
        message.flags.discard("fuzzy")
        message.previous_id = []
    if translations:
        catalog.revision_date = datetime.now(timezone.utc)
    _write_if_changed(po, _po_bytes(catalog))
    return len(translations)


# -- compile and check ---------------------------------------------------------------------


def mo_bytes(po: Path) -> bytes:
    out = io.BytesIO()
    write_mo(out, read_catalog(po), use_fuzzy=False)
    return out.getvalue()


def compile_all(layout: Layout = Layout()) -> list[Path]:
    written = []
    for po in layout.po_files():
        mo = po.with_suffix(".mo")
        data = mo_bytes(po)
        if not mo.exists() or mo.read_bytes() != data:
            tmp = mo.with_name(mo.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(mo)
            written.append(mo)
    return written


def check(layout: Layout = Layout()) -> list[str]:
    """What is out of date or missing, in words; empty when all is well."""
    problems = []
    template = _po_bytes(extract(layout))
    if not layout.pot.exists() or _without_dates(layout.pot.read_bytes()) != _without_dates(template):
        problems.append(f"{layout.pot} is not what the source says: run make i18n")
    for po in layout.po_files():
        missing = untranslated(po)
        if missing:
            problems.append(f"{po}: {len(missing)} message(s) without a translation")
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != mo_bytes(po):
            problems.append(f"{mo} is not compiled from {po.name}: run make i18n")
    return problems


# -- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None, layout: Layout = Layout()) -> int:
    parser = argparse.ArgumentParser(prog="tools/i18n.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="source -> .pot, and every .po updated to it")
    p_un = sub.add_parser("untranslated", help="count the messages without a translation")
    p_un.add_argument("--json", type=Path, metavar="FILE", help="write them to FILE for translating")
    p_merge = sub.add_parser("merge", help="translations from a JSON file into the .po, then compile")
    p_merge.add_argument("file", type=Path)
    p_merge.add_argument("--lang", default="zh")
    sub.add_parser("compile", help="each .po -> .mo")
    sub.add_parser("check", help="exit 1 if a catalogue lags behind the source")
    args = parser.parse_args(argv)

    if args.command == "extract":
        for path in update(layout):
            print(f"updated {path.relative_to(layout.root)}")
    elif args.command == "compile":
        for path in compile_all(layout):
            print(f"compiled {path.relative_to(layout.root)}")
    elif args.command == "untranslated":
        everything = []
        for po in layout.po_files():
            missing = untranslated(po)
            lang = po.parent.parent.name
            print(f"{lang}: {len(missing)} message(s) without a translation")
            everything.extend(missing)
        if args.json:
            args.json.write_text(json.dumps(everything, ensure_ascii=False, indent=2) + "\n", "utf-8")
            print(f"wrote {len(everything)} entr{'y' if len(everything) == 1 else 'ies'} to {args.json}")
    elif args.command == "merge":
        po = layout.locale_dir / args.lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        try:
            data = json.loads(args.file.read_text("utf-8"))
            count = merge(po, data)
        except (OSError, ValueError, MergeError) as exc:
            print(f"tools/i18n.py: error: {exc}", file=sys.stderr)
            return 1
        compile_all(layout)
        print(f"{args.lang}: merged {count} translation(s); {len(untranslated(po))} still untranslated")
    elif args.command == "check":
        problems = check(layout)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
