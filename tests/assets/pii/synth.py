"""Synthetic personal data for the tests: well-formed, never a real person.

ID numbers use the region code 99xxxx (no administrative division carries it) with a correct
GB 11643 check digit; phones are random numbers with mobile prefixes; e-mails use the reserved
``.invalid`` / ``example.*`` domains; bank cards and IMEIs get a correct Luhn digit.
"""

from __future__ import annotations

import random

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
STREETS = ["虚构路", "样例街", "示范大道", "测试巷"]
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "138", "139", "150", "151", "158", "186", "188", "199", "177"]


def ric_check_digit(body17: str) -> str:
    from stdnum.cn import ric

    return ric.calc_check_digit(body17 + "0")


def fake_id(rng: random.Random, *, valid: bool = True) -> str:
    body = (f"99{rng.randint(0, 2):02d}{rng.randint(0, 99):02d}{rng.randint(1950, 2005)}"
            f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}")
    check = ric_check_digit(body)
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


def fake_id_bad_date(rng: random.Random) -> str:
    body = f"99{rng.randint(0, 2):02d}{rng.randint(0, 99):02d}{rng.randint(1960, 2004)}13{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + ric_check_digit(body)


def fake_phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99999999):08d}"


def fake_email(rng: random.Random) -> str:
    user = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
    if rng.random() < 0.5:
        user += str(rng.randint(1, 999))
    return f"{user}@{rng.choice(['example.invalid', 'example.com', 'mail.example.org', 'test.invalid'])}"


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def fake_address(rng: random.Random) -> str:
    return f"示例市{rng.choice(STREETS)}{rng.randint(1, 300)}号"


def fake_card(rng: random.Random) -> str:
    from stdnum import luhn

    body = "62" + "".join(str(rng.randint(0, 9)) for _ in range(15))
    return body + luhn.calc_check_digit(body)


def fake_imei(rng: random.Random) -> str:
    from stdnum import luhn

    body = "86" + "".join(str(rng.randint(0, 9)) for _ in range(12))
    return body + luhn.calc_check_digit(body)


def order_number(rng: random.Random) -> str:
    """Digit runs that look a bit like phones but are not: order numbers and timestamps."""
    return rng.choice([
        f"{rng.randint(10**13, 10**14 - 1)}",  # 14-digit order number
        f"17{rng.randint(10**10, 10**11 - 1)}",  # 13-digit millisecond timestamp
        f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 235959):06d}",  # yyyymmddhhmmss
        f"{rng.choice(['10', '11', '12'])}{rng.randint(10**8, 10**9 - 1)}",  # 11 digits, no mobile prefix
        f"SO{rng.choice(MOBILE_PREFIXES)}{rng.randint(10**7, 10**8 - 1)}",  # glued to letters
        f"{rng.randint(1_600_000_000, 1_800_000_000)}",  # unix seconds
    ])
