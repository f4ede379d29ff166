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
from operator import itemgetter

from .fields import VALIDATED
from .normalize import _birth_date_ok, _cn_mobile

BlockCounter = Callable[[Sequence[str]], "tuple[int, list[int]] | None"]


def _joined(col: Sequence[str]) -> str | None:
    text = "\n".join(col)
    # a cell holding a line break would make line counts lie: let the per-cell path take it
    return text if text.count("\n") == len(col) - 1 else None


@lru_cache(maxsize=1)
def _mobile_block() -> re.Pattern[str]:
    """Lines that are each empty or a valid mainland mobile number (one C-speed pass)."""
    one = f"(?:{_cn_mobile().pattern.removeprefix('^').removesuffix('$')})"
    # ASCII: phonenumbers' \d would take any script's digits, which the per-cell detector refuses
    return re.compile(f"(?:{one}?\n)*{one}?", re.ASCII)


#: The second and third digits of an 11-digit mainland mobile number that are valid whatever
#: follows (phonenumbers' pattern, without its 1610… and 1740… ranges, which take the slow path).
_MOBILE_PAIRS = re.compile(rb"(?:[38][0-9]|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])*")


def _phones(col: Sequence[str]) -> tuple[int, list[int]] | None:
    text = _joined(col)
    if text is None:
        return None
    rows = len(col)
    if len(text) == 12 * rows - 1 and text.isascii():
        # every cell 11 characters: slices at a stride of 12 read one digit of every cell at once
        data = text.encode("ascii")
        if (data[11::12] == b"\n" * (rows - 1) and data[0::12] == b"1" * rows
                and data.replace(b"\n", b"").isdigit()):
            pairs = bytearray(2 * rows)
            pairs[0::2] = data[1::12]
            pairs[1::2] = data[2::12]
            if _MOBILE_PAIRS.fullmatch(pairs):
                return rows, []
    if not _mobile_block().fullmatch(text):
        return None
    return rows - col.count(""), []


#: Birth dates (8 digits each, back to back) that are certainly valid: born 1900-2019, on a day
#: every month has (no 29 February): no date needs checking on its own.
_SAFE_DATES = re.compile(
    rb"(?:(?:19[0-9]{2}|20[01][0-9])(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)"
    rb"|(?:0[13578]|1[02])31))*")
#: Birth-date strings already found valid (at most one per day since 1900).
_GOOD_DATES: set[str] = set()


def _ids(col: Sequence[str]) -> tuple[int, list[int]] | None:
    """Well-formed, birth dates valid, and every check digit right; any doubt and the per-cell
    detector (``stdnum.cn.ric``) decides the column.

    Every cell is 18 ASCII characters, so the joined column has a digit of every cell at a
    stride of 19: each test is a C-level slice, not a loop over cells. The check digits are
    those of ``stdnum.cn.ric.calc_check_digit``, ``(1 - Σ dᵢ·wᵢ) mod 11`` with wᵢ = 2^(17-i) mod
    11, summed for the whole block in the 16-bit digits of one big integer (:func:`_weighted_sums`);
    a test holds it equal to the stdnum function.
    """
    text = _joined(col)
    rows = len(col)
    if text is None or len(text) != 19 * rows - 1 or not text.isascii():
        return None
    data = text.encode("ascii")
    checks = data[17::19].upper()
    if (data[18::19] != b"\n" * (rows - 1) or checks.translate(None, b"0123456789X")
            or data.count(b"X") + data.count(b"x") != checks.count(b"X")
            or not data.translate(None, b"\nXx").isdigit()):
        return None  # not 17 digits and a check character on every line
    dates = bytearray(8 * rows)
    for k in range(8):
        dates[k::8] = data[6 + k::19]
    if not _SAFE_DATES.fullmatch(dates):
        found = set(map(_DATE, col))
        new = found - _GOOD_DATES
        if new:
            if not all(map(_birth_date_ok, new)):
                return None
            _GOOD_DATES.update(new)
    if bytes(map(_CHECK_BY_SUM.__getitem__, _weighted_sums(data, rows))) != checks:
        return None
    return rows, []


_DATE = itemgetter(slice(6, 14))
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
#: A sum holds Σ codeᵢ·wᵢ = Σ dᵢ·wᵢ + 48·Σ wᵢ ('0' is 48): its value → the check character.
_CHECK_BY_SUM = bytes(ord("0123456789X"[(1 - (v - 48 * sum(_WEIGHTS))) % 11]) for v in range(1 << 16))


def _weighted_sums(data: bytes, rows: int) -> memoryview:
    """Σ codeᵢ·wᵢ over the 17 body characters of each 19-byte line of ``data``: the i-th
    characters of all lines (one slice) become the 16-bit digits of an integer, and the weighted
    integers are added, each line's sum in its own digit. No digit overflows: at most 17
    products of a digit's code (≤ 57) by a weight (≤ 10)."""
    lane = bytearray(2 * rows)
    total = 0
    for i, w in enumerate(_WEIGHTS):
        lane[0::2] = data[i::19]
        total += w * int.from_bytes(lane, "little")
    return memoryview(total.to_bytes(2 * rows + 2, "little")).cast("H")[:rows]


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
