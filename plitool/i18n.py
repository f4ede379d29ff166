"""Messages people read, in Chinese and English, through the standard gettext machinery.

Every string shown to a person (errors, verdicts, table headers, summaries, help that is not
click's own) is written in English inside ``_()`` and translated from the catalogue
``plitool/locale/<lang>/LC_MESSAGES/plitool.mo`` (built from the reviewable ``.po`` beside it).
Use ``_("... {name} ...").format(name=...)`` rather than an f-string, so that the template is the
catalogue's key; ``ngettext`` for counts; ``N_`` marks a constant that is translated later.

The language is process-wide, like a locale: ``--lang`` or ``PLITOOL_LANG`` when given, else the
case's ``lang`` in ``case.toml`` once the case is opened, else English.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "plitool"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGS = ("zh", "en")
ENV_LANG = "PLITOOL_LANG"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_pinned = False  # set by --lang / PLITOOL_LANG: the case's own language does not override it


def _load(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)


def set_language(lang: str, *, pin: bool = False) -> None:
    """Switch every later message to ``lang`` ("zh" or "en"); ``pin`` keeps it over the case's."""
    global _translation, _language, _pinned
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    _translation, _language = _load(lang), lang
    _pinned = _pinned or pin


def case_language(lang: str) -> None:
    """The case's ``lang``: used unless the user chose a language with --lang / PLITOOL_LANG."""
    if not _pinned and lang in LANGS:
        set_language(lang)


def language() -> str:
    return _language


def normalize(value: str) -> str | None:
    """"zh", "zh_CN.UTF-8", "zh-Hans", "ZH" -> "zh"; "en_US" -> "en"; anything else -> None."""
    base = value.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return base if base in LANGS else None


def language_from_env() -> str | None:
    """``PLITOOL_LANG`` as a language plitool has ("zh_CN.UTF-8" counts as "zh"), or None."""
    return normalize(os.environ.get(ENV_LANG, ""))


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a constant for the catalogue; translate it with ``_()`` where it is shown."""
    return message


def reset() -> None:
    """Back to English, unpinned (tests)."""
    global _translation, _language, _pinned
    _translation, _language, _pinned = gettext.NullTranslations(), "en", False
