"""Regenerate the fictional sample case's evidence files (synthetic data only).

Nobody in these files exists. Phone numbers are random numbers of mainland mobile format;
identity numbers use the region code 990000-990299, which no administrative division carries, with
a correct GB 11643 check digit, so that detectors see well-formed numbers that cannot belong to
a real person. Run: python samples/make_samples.py (the outputs are committed).
"""

from __future__ import annotations

import csv
import io
import json
import random
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent / "evidence"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
STREETS = ["虚构路", "样例街", "示范大道", "测试巷"]


def ric_check_digit(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body17, weights))
    return "10X98765432"[total % 11]


def fake_id(rng: random.Random) -> str:
    body = f"99{rng.randint(0, 2):02d}{rng.randint(0, 99):02d}{rng.randint(1960, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + ric_check_digit(body)


def fake_phone(rng: random.Random) -> str:
    return f"1{rng.choice(['38', '39', '58', '86', '88'])}{rng.randint(0, 99999999):08d}"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main() -> None:
    rng = random.Random(20261129)
    HERE.mkdir(parents=True, exist_ok=True)
    people = [
        (rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), fake_phone(rng), fake_id(rng),
         f"示例市{rng.choice(STREETS)}{rng.randint(1, 300)}号", f"SO{rng.randint(10**11, 10**12 - 1)}")
        for _ in range(40)
    ]
    # A "leaked" list as found in a chat group: GBK-encoded CSV, as such files usually are.
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["姓名", "手机号", "身份证号", "收件地址", "订单号"])
    w.writerows(people)
    (HERE / "泄露名单-群聊截获.csv").write_bytes(buf.getvalue().encode("gbk"))

    (HERE / "privacy-policy-2026-10.txt").write_text(
        "示例购物 App 隐私政策（虚构，2026年10月版）\n\n"
        "一、我们收集的信息：手机号码、收货地址、设备标识符。\n"
        "二、我们如何共享：我们不会向第三方提供您的个人信息。\n"
        "（本文件为 plitool 示例案件的虚构材料。）\n",
        encoding="utf-8",
    )
    (HERE / "statement-张某.txt").write_text(
        "情况说明（虚构）\n\n本人张某，于2026年10月在示例购物 App 下单后，陆续接到冒充快递客服的诈骗电话，"
        "对方能准确说出本人的订单号和收件地址。\n",
        encoding="utf-8",
    )
    (HERE / "screenshot-consent-screen.png").write_bytes(png(64, 40, (230, 236, 245)))
    victim = people[0]
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "plitool-sample", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-10-12T08:15:02.000+08:00",
                    "request": {
                        "method": "POST",
                        "url": "https://sdk.example-analytics.invalid/v1/collect?app=shop",
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "queryString": [{"name": "app", "value": "shop"}],
                        "postData": {"mimeType": "application/json",
                                     "text": json.dumps({"phone": victim[1], "device_id": "A1B2C3D4-0000-4000-8000-00000000SAMP"})},
                    },
                    "response": {"status": 200, "content": {"size": 2, "mimeType": "application/json", "text": "{}"}},
                }
            ],
        }
    }
    (HERE / "traffic-capture-app-launch.har").write_text(json.dumps(har, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
