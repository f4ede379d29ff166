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
#: The same pairs as numbers 10·d₂ + d₃, one byte each.
_MOBILE_PAIR_CODES = bytes(v for v in range(100) if _MOBILE_PAIRS.fullmatch(b"%02d" % v))


def _lanes(data: bytes, start: int, stride: int, rows: int) -> int:
    """The digits ``data[start::stride]`` (one per row, checked to be digits) as the bytes of an
    integer, each byte a digit's value: arithmetic on it works on every row at once."""
    return int.from_bytes(data[start::stride], "little") - 48 * int.from_bytes(b"\x01" * rows, "little")


def _pair_codes(data: bytes, start: int, stride: int, rows: int) -> bytes:
    """10·d + e for the two digits at ``start`` and ``start + 1`` of every row, one byte a row."""
    return (_lanes(data, start, stride, rows) * 10 + _lanes(data, start + 1, stride, rows)).to_bytes(rows, "little")


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
            if not _pair_codes(data, 1, 12, rows).translate(None, _MOBILE_PAIR_CODES):
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
    if not _safe_dates(data, rows):
        found = set(map(_DATE, col))
        new = found - _GOOD_DATES
        if new:
            if not all(map(_birth_date_ok, new)):
                return None
            _GOOD_DATES.update(new)
    if _check_chars(data, rows) != checks:
        return None
    return rows, []


def _safe_dates(data: bytes, rows: int) -> bool:
    """Whether every birth date (characters 7-14 of each 19-byte line) is certainly valid: by
    lanes of digits (born 1900-2019, months 1-12, days 1-28), else by ``_SAFE_DATES`` (which
    also takes the 29th, 30th and 31st of the months that have them)."""
    century = _pair_codes(data, 6, 19, rows)
    if not century.translate(None, b"\x13\x14"):  # 19, 20
        year = (int.from_bytes(century, "little") - 19 * int.from_bytes(b"\x01" * rows, "little")) * 100 \
            + int.from_bytes(_pair_codes(data, 8, 19, rows), "little")  # 0-199: 1900-2099
        if (not year.to_bytes(rows, "little").translate(None, _YEARS)
                and not _pair_codes(data, 10, 19, rows).translate(None, _MONTHS)
                and not _pair_codes(data, 12, 19, rows).translate(None, _DAYS)):
            return True
    dates = bytearray(8 * rows)
    for k in range(8):
        dates[k::8] = data[6 + k::19]
    return _SAFE_DATES.fullmatch(dates) is not None


_YEARS = bytes(range(120))
_MONTHS = bytes(range(1, 13))
_DAYS = bytes(range(1, 29))
_DATE = itemgetter(slice(6, 14))
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
#: A sum holds Σ codeᵢ·wᵢ = Σ dᵢ·wᵢ + 48·Σ wᵢ ('0' is 48); the check character depends on it
#: modulo 11 alone: value (mod 11, or that plus 11) → the check character.
_CHECK_BY_MOD = bytes(ord("0123456789X"[(1 - (v - 48 * sum(_WEIGHTS))) % 11]) if v < 22 else 0 for v in range(256))
#: byte → byte mod 11, and a high byte h → 256·h mod 11 (= 3·h mod 11)
_MOD11 = bytes(v % 11 for v in range(256))
_HIGH_MOD11 = bytes(256 * v % 11 for v in range(256))


def _check_chars(data: bytes, rows: int) -> bytes:
    """The check character of every line's 17 digits, as stdnum's ``calc_check_digit``: the
    weighted sums (:func:`_weighted_sums`) taken modulo 11 a byte at a time (256·h + l ≡
    3·h + l), by translation tables, so that no Python object is made per line."""
    raw = _weighted_sums(data, rows).tobytes()
    low = int.from_bytes(raw[0::2].translate(_MOD11), "little")
    high = int.from_bytes(raw[1::2].translate(_HIGH_MOD11), "little")
    return (low + high).to_bytes(rows, "little").translate(_CHECK_BY_MOD)  # each byte ≤ 20: no carry


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
        flat = "".join(col)
        ascii_only = flat.isascii()
        # (a cell holding a line break: the per-cell path takes it; NFKC is checked on the cells
        # apart, one a line, so that no cell's start is composed with the cell before)
        if "\n" in flat or not (ascii_only or unicodedata.is_normalized("NFKC", "\n".join(col))):
            return None
        # letters and digits only (any script): no spaces to collapse, no mask characters; a
        # name column only letters (normalize_name refuses digits). ASCII text is tested as
        # bytes (the same classes, a table lookup per byte instead of a Unicode one).
        plain = flat.encode("ascii") if ascii_only else flat
        if kind == "name":
            if not (plain.isalpha() and "某" not in flat):
                return None
        elif not plain.isalnum() and dirty.search(flat):
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
