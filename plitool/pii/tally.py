"""Counting what :func:`~.detect.detect_text` finds in many texts at once (JSON and HAR values).

Once a scan has listed the findings it keeps (``ScanOptions.limit``), only counts are needed,
and locations are not. A JSON dump's or a HAR's values are then gathered per field (the key
they sit under, see :func:`.extract._collect`) and each field's texts are counted together:

* a field's block of texts is vouched for by a few C-speed passes over the joined texts (every
  text a valid mobile number, ID number, e-mail address, or a clean name, address or code) and
  counted in one addition;
* texts that no detector can match (no digit, ``@``, 某 or label sign; or ten characters or
  fewer without ``@``, 某 or a label sign, where every pattern needs eleven) are skipped by C
  loops;
* what is left goes through :func:`detect_text` itself, one text at a time.

The sums are those of :func:`detect_text` on each text, ``partial`` matches apart: the tests
compare both on generated texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from .blocks import _ids, _phones
from .detect import _CANDIDATES, _MAY_MATCH, Match, detect_text
from .fields import VALIDATED
from .normalize import _HALFWIDTH
from .normalize import _NOT_TLDS as NOT_TLDS

#: Texts counted together: a block that fails its check is counted text by text.
BLOCK = 512
#: Texts this short are remembered with what they hold (a dump repeats its dates and statuses).
CACHED_TEXT = 64
CACHE_SIZE = 1 << 16
#: Every pattern of ``_CANDIDATES`` that can make a match needs eleven characters or more,
#: except an e-mail address (``@``); a masked name needs 某 and a label ``:``, ``：`` or ``=``.
SHORT = 10
_SIGNS = re.compile("[@\uff20某:：=]")
_WHITE = re.compile(r"[^\S\n]")

BlockCheck = Callable[[Sequence[str], str, frozenset[str]], bool]


def _joined(texts: Sequence[str]) -> str | None:
    """The texts one per line, as :func:`detect_text` would see each (half-width forms already
    ASCII, NFKC): None when a text holds a line break or would be changed by either."""
    text = "\n".join(texts)
    if text.count("\n") != len(texts) - 1:
        return None
    if not text.isascii() and (text.translate(_HALFWIDTH) != text or not unicodedata.is_normalized("NFKC", text)):
        return None
    return text


def _phone_block(texts: Sequence[str], field: str, kinds: frozenset[str]) -> bool:
    # every text an 11-digit valid mainland mobile: the whole text is one ``sphone`` candidate,
    # and normalize_phone takes it (the blocks module proves the same cells valid for CSV)
    return _phones(texts) is not None and "" not in texts


def _id_block(texts: Sequence[str], field: str, kinds: frozenset[str]) -> bool:
    # every text 17 digits and a right check character with a valid birth date: one ``num``
    # candidate of 18 characters, an ID number before anything else _classify_digits tries
    return _ids(texts) is not None


#: Addresses the candidate pattern takes whole (the e-mail branch comes first in it and
#: matches from the first character to the end) and normalize_email keeps as they are.
_SAFE_EMAILS = re.compile(r"(?:[a-z0-9]{1,32}@(?:[a-z0-9]{1,32}\.){1,4}[a-z]{2,24}\n)*"
                          r"[a-z0-9]{1,32}@(?:[a-z0-9]{1,32}\.){1,4}[a-z]{2,24}")
_BAD_TLD = re.compile(r"\.(?:" + "|".join(sorted(NOT_TLDS)) + r")(?:\n|$)")


def _email_block(texts: Sequence[str], field: str, kinds: frozenset[str]) -> bool:
    text = "\n".join(texts)
    return _SAFE_EMAILS.fullmatch(text) is not None and _BAD_TLD.search(text) is None


def _whole_block(texts: Sequence[str], field: str, kinds: frozenset[str]) -> bool:
    """A labelled field's texts (name, address, code …) that each become exactly one finding of
    the field, taken whole: nothing a pattern matches, no 某 (a masked name), no white space (which
    normalisation would collapse, or which would leave nothing), and already in normal form."""
    text = _joined(texts)
    if text is None or _WHITE.search(text) or ("name" in kinds and "某" in text):
        return False
    if field == "name":
        # normalize_name: at most 40 characters, no digits nor code punctuation; letters alone
        # (any script) hold neither, nor a mask character (mask_pattern: not partial)
        return text.replace("\n", "").isalpha() and max(map(len, texts)) <= 40
    if _CODES.fullmatch(text) and 18 not in set(map(len, texts)):
        # ASCII letters and digits, a letter first: every digit pattern needs no letter or digit
        # before it, so it could only start a text, where a letter stands; a credit code (18
        # characters, which may start with letters) must end where the text does
        return True
    return _MAYBE_CANDIDATE.search(text) is None or _CANDIDATES.search(text) is None


_CODES = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\n[A-Za-z][A-Za-z0-9]*)*")
#: What every match of ``_CANDIDATES`` holds: an @ (e-mail), a * (a masked ID number) or four
#: digits in a row (phones, masked phones, cards, long numbers, credit codes).
_MAYBE_CANDIDATE = re.compile(r"[@*]|[0-9]{4}")


_BLOCK_CHECKS: dict[str, BlockCheck] = {
    "phone": _phone_block, "id_number": _id_block, "email": _email_block,
    "name": _whole_block, "address": _whole_block, "location": _whole_block,
    "order_id": _whole_block, "waybill": _whole_block, "device_id": _whole_block,
}


class Tally:
    """Counts of findings (whole and partial) over texts given a field's block at a time."""

    __slots__ = ("kinds", "counts", "partial", "caches")

    def __init__(self, kinds: frozenset[str], counts: dict[str, int], partial: dict[str, int]) -> None:
        self.kinds = kinds
        self.counts = counts
        self.partial = partial
        #: per field: the same text under another field can give other findings
        self.caches: dict[str | None, dict[str, list[Match]]] = {}

    def add(self, texts: list[str], field: str | None) -> None:
        """Count the findings of ``texts``, each under ``field`` (as ``detect_text(t, kinds,
        field=field)`` would find them). The texts are not empty."""
        kinds = self.kinds
        check = _BLOCK_CHECKS.get(field) if field is not None and field in kinds else None
        if check is None:
            self._each(texts, field)
            return
        assert field is not None
        for lo in range(0, len(texts), BLOCK):
            block = texts[lo:lo + BLOCK]
            if check(block, field, kinds):
                self.counts[field] = self.counts.get(field, 0) + len(block)
            else:
                self._each(block, field)

    def _each(self, texts: list[str], field: str | None) -> None:
        kinds = self.kinds
        if field is None or field in VALIDATED or field not in kinds:
            # what detect_text returns [] for at once (no digit, @, 某 or label sign), and texts
            # too short for any pattern without one of the signs
            texts = [t for t in filter(_MAY_MATCH.search, texts) if len(t) > SHORT or _SIGNS.search(t)]
        cache = self.caches.setdefault(field, {})
        counts = self.counts
        partial = self.partial
        for text in texts:
            if len(text) <= CACHED_TEXT:
                found = cache.get(text)
                if found is None:
                    found = detect_text(text, kinds, field=field)
                    if len(cache) >= CACHE_SIZE:
                        cache.clear()
                    cache[text] = found
            else:
                found = detect_text(text, kinds, field=field)
            for m in found:
                bucket = partial if m.partial else counts
                bucket[m.kind] = bucket.get(m.kind, 0) + 1
