"""One canonical form per value, so that the same value found twice compares (and hashes) equal.

E.164 phones, upper-case ID check digit, lower-case e-mail, NFKC (full-width digits and letters to
ASCII), digits only for card numbers and IMEIs. ``normalize`` returns None for a value that is not
a valid value of its kind; masked (partial) values have their own form, see :func:`mask_pattern`.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from functools import lru_cache

#: Full-width and ideographic forms that appear in Chinese documents, to ASCII.
_HALFWIDTH = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "＋": "+", "－": "-", "—": "-", "‐": "-", "‑": "-",
     "　": " ", "（": "(", "）": ")", "＠": "@", "．": ".", "＊": "*", "Ｘ": "X", "ｘ": "x"}
)
_SPACE_DASH = re.compile(r"[\s\-()./]+")
_WS = re.compile(r"\s+")
MASK_CHARS = "*＊●•×"


def nfkc(text: str) -> str:
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def halfwidth(text: str) -> str:
    """Full-width digits, plus, minus and the ideographic space to ASCII (cheap; keeps positions)."""
    return text if text.isascii() else text.translate(_HALFWIDTH)


# -- phones: phonenumbers' own metadata is the validator --------------------------------


@lru_cache(maxsize=1)
def _cn_mobile() -> re.Pattern[str]:
    """The national-number pattern libphonenumber uses for mainland mobile numbers."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None and meta.mobile is not None and meta.mobile.national_number_pattern
    return re.compile(meta.mobile.national_number_pattern)


def cn_mobile_e164(national: str) -> str | None:
    """Fast path for an 11-digit ASCII national number: the E.164 form, or None if not a mobile."""
    if _cn_mobile().fullmatch(national):
        return "+86" + national
    return None


def normalize_phone(raw: str) -> str | None:
    """A mainland mobile number in any common form → E.164 (``+8613812345678``), else None."""
    text = halfwidth(raw).strip()
    if len(text) == 11 and text.isdigit() and text.isascii():
        return cn_mobile_e164(text)
    compact = _SPACE_DASH.sub("", text)
    if compact.startswith("+86"):
        national = compact[3:]
    elif compact.startswith("0086"):
        national = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        national = compact[2:]
    else:
        national = compact
    if not (len(national) == 11 and national.isdigit() and national.isascii()):
        return None
    import phonenumbers

    try:
        number = phonenumbers.parse("+86" + national, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- resident identity numbers (GB 11643) -----------------------------------------------


@lru_cache(maxsize=65536)
def _birth_date_ok(digits8: str) -> bool:
    from stdnum.cn import ric
    from stdnum.exceptions import ValidationError

    try:
        born = ric.get_birth_date("000000" + digits8 + "0000")
    except (ValidationError, ValueError):
        return False
    return datetime.date(1900, 1, 1) <= born <= datetime.date.today()


def normalize_id_number(raw: str) -> str | None:
    """An 18-digit resident ID → upper-case form if the GB 11643 check digit and birth date hold.

    The place code is not checked against a list (``stdnum.cn.ric.validate`` does): codes of
    divisions merged or renamed since stay on valid cards, and such lists lag behind.
    """
    text = raw if raw.isascii() else halfwidth(raw)
    if len(text) != 18:
        text = _SPACE_DASH.sub("", text)
        if len(text) != 18:
            return None
    body = text[:17]
    if not (body.isdigit() and body.isascii()):
        return None
    last = text[17].upper()
    from stdnum.cn import ric

    if last != ric.calc_check_digit(text):
        return None
    if not _birth_date_ok(text[6:14]):
        return None
    return body + last


# -- the others --------------------------------------------------------------------------

#: RFC 5322 dot-atom local part (no leading, trailing or doubled dot: ``abc.@163.com`` is not an
#: address) and RFC 1035 host labels (1-63 characters, no hyphen at either end), as the
#: ``email-validator`` rules check them without the network.
_EMAIL = re.compile(r"(?=[^@]{1,64}@)[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*"
                    r"@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}")
_NOT_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "bmp"})


def normalize_email(raw: str) -> str | None:
    text = nfkc(raw).strip().lower()
    if len(text) > 254 or not _EMAIL.fullmatch(text) or text.rsplit(".", 1)[1] in _NOT_TLDS:
        return None
    return text


_CARD_PREFIXES = ("62", "4", "51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27", "34", "37", "35",
                  "60", "65")


def normalize_bank_card(raw: str, *, labelled: bool = False) -> str | None:
    """16–19 digits passing the Luhn check (a plausibility filter, not proof); outside a labelled
    field the number must also start like a card (UnionPay 62, Visa, Mastercard, Amex, JCB …)."""
    from stdnum import luhn

    digits = _SPACE_DASH.sub("", halfwidth(raw))
    if not (16 <= len(digits) <= 19 and digits.isdigit() and digits.isascii()):
        return None
    if not labelled and not digits.startswith(_CARD_PREFIXES):
        return None
    return digits if luhn.is_valid(digits) else None


#: Reporting-body identifiers that start real IMEIs (GSMA TAC allocation).
_IMEI_RBI = frozenset({"00", "01", "10", "30", "33", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86",
                       "91", "98", "99"})


def normalize_imei(raw: str, *, labelled: bool = False) -> str | None:
    from stdnum import imei

    digits = _SPACE_DASH.sub("", halfwidth(raw))
    if not (len(digits) == 15 and digits.isdigit() and digits.isascii()):
        return None
    if not labelled and digits[:2] not in _IMEI_RBI:
        return None
    return digits if imei.is_valid(digits) else None


def normalize_uscc(raw: str) -> str | None:
    from stdnum.cn import uscc

    text = nfkc(raw).strip().upper()
    if len(text) != 18:
        return None
    return text if uscc.is_valid(text) else None


def normalize_free(raw: str) -> str | None:
    """Names, addresses, locations: NFKC, whitespace collapsed (removed between CJK characters)."""
    parts = nfkc(raw).split()
    if len(parts) <= 1:
        return parts[0] if parts else None
    text = " ".join(parts)
    if not text.isascii():
        text = re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)
    return text


_NOT_IN_NAMES = frozenset("@/:=\\<>{}[]|#%&?+_;")


def normalize_name(raw: str) -> str | None:
    """A person's name under a name header/label/key: at most 40 characters, no digits, no URL or
    code punctuation (``"name": "Content-Type"`` in a capture is not a person)."""
    text = normalize_free(raw)
    if text is None or len(text) > 40 or any(c.isdigit() or c in _NOT_IN_NAMES for c in text):
        return None
    return text


def normalize_code(raw: str) -> str | None:
    """Order ids, waybills, device ids: NFKC, no spaces, upper-case (hex ids are case-blind)."""
    text = "".join(nfkc(raw).split()).upper()
    return text or None


_NORMALIZERS = {
    "phone": normalize_phone,
    "id_number": normalize_id_number,
    "email": normalize_email,
    "bank_card": lambda v: normalize_bank_card(v, labelled=True),
    "imei": lambda v: normalize_imei(v, labelled=True),
    "uscc": normalize_uscc,
    "name": normalize_name,
    "address": normalize_free,
    "location": normalize_free,
    "order_id": normalize_code,
    "waybill": normalize_code,
    "device_id": normalize_code,
}


def normalize(kind: str, raw: str) -> str | None:
    """The canonical form of ``raw`` as a ``kind``, or None when it is not a valid one."""
    try:
        fn = _NORMALIZERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind of personal data: {kind!r}") from None
    return fn(raw)  # type: ignore[no-any-return]


# -- masked (partial) values: 138****1234, 110105********1234, 张某 --------------------------

_MASK_RUN = re.compile(f"[{MASK_CHARS}xX]")


def mask_pattern(kind: str, raw: str) -> str | None:
    """The canonical form of a value that was already masked where it was found, or None.

    Hidden characters become ``*``; a phone keeps its visible digits in place
    (``138 **** 1234`` → ``138****1234``); a name keeps the surname (``张某`` / ``张**``).
    """
    text = _WS.sub("", halfwidth(nfkc(raw)))
    if kind == "phone":
        text = text.removeprefix("+86").removeprefix("0086")
        if len(text) == 11 and text[0] == "1" and _MASK_RUN.search(text):
            out = _MASK_RUN.sub("*", text)
            if out.replace("*", "").isdigit() and 3 <= out.count("*") <= 8:
                return out
        return None
    if kind == "id_number":
        if len(text) == 18:
            head, tail = text[:17], text[17]
            out = _MASK_RUN.sub("*", head) + ("*" if tail in MASK_CHARS else tail.upper())
            if "*" in out and out.replace("*", "").replace("X", "").isdigit() and 4 <= out.count("*") <= 14:
                return out
        return None
    if kind == "name":
        if 2 <= len(text) <= 5 and ("某" in text or any(c in MASK_CHARS for c in text)):
            return re.sub(f"[{MASK_CHARS}]", "*", text)
        return None
    if kind in ("email", "bank_card", "imei", "device_id", "order_id", "waybill"):
        if any(c in MASK_CHARS for c in text) and len(text) >= 4:
            return re.sub(f"[{MASK_CHARS}]+", lambda m: "*" * len(m.group()), text.lower() if kind == "email" else text)
        return None
    return None


def pattern_matches(pattern: str, value: str, kind: str = "") -> bool:
    """Whether a full normalised value fits a masked pattern (a candidate, never a certainty)."""
    if kind == "phone":
        value = value.removeprefix("+86")
    if kind == "name":
        head = pattern.split("某", 1)[0].rstrip("*")
        return bool(head) and value.startswith(head) and len(value) >= len(head) + 1
    if len(pattern) != len(value):
        return False
    return all(p == "*" or p == v for p, v in zip(pattern, value, strict=True))  # lengths checked above
