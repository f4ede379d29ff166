"""Counting a block of one typed column at C speed (the large-table fast path).

A block counter takes the cells of one column for a block of rows and returns ``(count,
leftovers)``: how many cells are certainly valid, normalisable values of the column's field,
and the indices of the non-empty cells it could not vouch for (those go through the per-cell
detector, which decides them exactly). It never counts a cell the per-cell detector would not:
the tests compare both paths on the same files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import repeat
from operator import itemgetter

from .fields import VALIDATED
from .normalize import _birth_date_ok, _cn_mobile

BlockCounter = Callable[[Sequence[str]], "tuple[int, list[int]] | None"]


def _joined(col: Sequence[str]) -> str | None:
    text = "\n".join(col)
    # a cell holding a line break would make line counts lie: let the per-cell path take it
    return text if text.count("\n") == len(col) - 1 else None


@lru_cache(maxsize=1)
def _mobile_lines() -> re.Pattern[str]:
    return re.compile(f"^(?:{_cn_mobile().pattern})$", re.M)


def _phones(col: Sequence[str]) -> tuple[int, list[int]] | None:
    text = _joined(col)
    if text is None:
        return None
    valid = len(_mobile_lines().findall(text))
    nonempty = len(col) - col.count("")
    if valid == nonempty:
        return valid, []
    return None


_ID_BLOCK = re.compile(r"(?:[0-9]{17}[0-9Xx]\n)*[0-9]{17}[0-9Xx]")
#: Birth-date strings already found valid (at most one per day since 1900).
_GOOD_DATES: set[str] = set()


def _ids(col: Sequence[str]) -> tuple[int, list[int]] | None:
    """Well-formed (one regex pass), distinct birth dates valid, and every check digit right;
    any doubt and the per-cell detector (``stdnum.cn.ric``) decides the column.

    The check digits are ``stdnum.cn.ric.calc_check_digit``'s formula, ``(1 - 2·int(body, 13))
    mod 11``, evaluated for the whole block with C-level ``map``; a test holds it equal to the
    stdnum function.
    """
    text = _joined(col)
    if text is None or not _ID_BLOCK.fullmatch(text):
        return None
    dates = set(map(_DATE, col))
    new = dates - _GOOD_DATES
    if new:
        if not all(map(_birth_date_ok, new)):
            return None
        _GOOD_DATES.update(new)
    residues = map(int.__mod__, map(int, map(_BODY, col), repeat(13)), repeat(11))
    if "".join(map(_CHECK_BY_RESIDUE.__getitem__, residues)) != "".join(map(_LAST, col)).upper():
        return None
    return len(col), []


_DATE = itemgetter(slice(6, 14))
_BODY = itemgetter(slice(0, 17))
_LAST = itemgetter(17)
#: int(body, 13) mod 11 → check character, i.e. "0123456789X"[(1 - 2·r) mod 11].
_CHECK_BY_RESIDUE = ["0123456789X"[(1 - 2 * r) % 11] for r in range(11)]


_DIRTY = {
    "name": re.compile(r"[^\S\n]|[某*＊●•×]"),
    "address": re.compile(r"[^\S\n]"),
    "location": re.compile(r"[^\S\n]"),
    "order_id": re.compile(r"[^\S\n]|[*＊●•×]"),
    "waybill": re.compile(r"[^\S\n]|[*＊●•×]"),
    "device_id": re.compile(r"[^\S\n]|[*＊●•×]"),
}


def _as_is(kind: str) -> BlockCounter:
    dirty = _DIRTY[kind]

    def count(col: Sequence[str]) -> tuple[int, list[int]] | None:
        text = _joined(col)
        if text is None or not (text.isascii() or unicodedata.is_normalized("NFKC", text)):
            return None
        # letters and digits only (any script): no spaces to collapse, no mask characters; a
        # name column only letters (normalize_name refuses digits)
        if kind == "name":
            if not (text.replace("\n", "").isalpha() and "某" not in text):
                return None
        elif not text.replace("\n", "").isalnum() and dirty.search(text):
            return None
        return len(col) - col.count(""), []

    return count


def block_counter(field: str | None, kinds: frozenset[str]) -> BlockCounter | None:
    """The block counter for a column typed ``field``; None: use the per-cell detector."""
    if field is None or field not in kinds:
        return None
    if field == "phone":
        return _phones
    if field == "id_number":
        return _ids
    if field in VALIDATED:
        return None
    return _as_is(field)
