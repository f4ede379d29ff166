"""Regenerate the fictional sample case's evidence files (synthetic data only).

Nobody in these files exists. Phone numbers are random numbers of mainland mobile format;
identity numbers use the region code 990000-990299, which no administrative division carries, with
a correct GB 11643 check digit, so that detectors see well-formed numbers that cannot belong to
a real person. Run: python samples/make_samples.py (the outputs are committed; ``--out DIR``
writes them under DIR instead, which is how tests/test_samples.py checks that they are current).

Besides the evidence it writes the provenance part of the case (``flows.yaml``, the story below)
and the holdings of three agents (``holdings/``), built around the 40 people of the chat-group
list so that the attribution has a true answer: 34 of the 40 are in the export of the courier's
outsourced customer-service contractor (and so in the courier's waybills, from which it was
taken), 3 are shop customers whose parcels another courier carried, 3 are in no holdings at all.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
STREETS = ["虚构路", "样例街", "示范大道", "测试巷"]
VICTIM_DEVICE = "A1B2C3D4-0000-4000-8000-00000000SAMP"


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


def fake_person(rng: random.Random) -> tuple[str, str, str, str, str]:
    """(name, phone, ID number, address, shop order id)."""
    return (rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), fake_phone(rng), fake_id(rng),
            f"示例市{rng.choice(STREETS)}{rng.randint(1, 300)}号", f"SO{rng.randint(10**11, 10**12 - 1)}")


def main(root: Path = ROOT) -> None:
    rng = random.Random(20261129)
    ev = root / "evidence"
    ev.mkdir(parents=True, exist_ok=True)
    people = [fake_person(rng) for _ in range(40)]
    # A "leaked" list as found in a chat group: GBK-encoded CSV, as such files usually are.
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["姓名", "手机号", "身份证号", "收件地址", "订单号"])
    w.writerows(people)
    (ev / "泄露名单-群聊截获.csv").write_bytes(buf.getvalue().encode("gbk"))

    (ev / "privacy-policy-2026-10.txt").write_text(
        "示例购物 App 隐私政策（虚构，2026年10月版）\n\n"
        "一、我们收集的信息：手机号码、收货地址、设备标识符。\n"
        "二、我们如何共享：我们不会向第三方提供您的个人信息。\n"
        "（本文件为 plitool 示例案件的虚构材料。）\n",
        encoding="utf-8",
    )
    (ev / "statement-张某.txt").write_text(
        "情况说明（虚构）\n\n本人张某，于2026年10月在示例购物 App 下单后，陆续接到冒充快递客服的诈骗电话，"
        "对方能准确说出本人的订单号和收件地址。\n",
        encoding="utf-8",
    )
    (ev / "screenshot-consent-screen.png").write_bytes(png(64, 40, (230, 236, 245)))
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
                                     "text": json.dumps({"phone": victim[1], "device_id": VICTIM_DEVICE})},
                    },
                    "response": {"status": 200, "content": {"size": 2, "mimeType": "application/json", "text": "{}"}},
                }
            ],
        }
    }
    (ev / "traffic-capture-app-launch.har").write_text(json.dumps(har, ensure_ascii=False, indent=2), encoding="utf-8")
    provenance(root, people, VICTIM_DEVICE)


# -- provenance: the agents, how the data moved, and what three of them held ---------------------

#: The flows of the sample case. Evidence ids are those samples/demo.sh gives: E-0001 privacy
#: policy, E-0002 consent screenshot, E-0003 traffic capture, E-0004 the chat-group list,
#: E-0005 the victim's statement, then the holdings files in HOLDINGS order: E-0006 shop orders,
#: E-0007 courier waybills, E-0008 the contractor's export.
FLOWS = """\
# flows.yaml of the fictional sample case (every organisation and person here is made up).
# Story: buyers of the Example Shopping App (cross-border orders, so the app records the buyer's
# ID number for customs) had their orders shipped by Example Express; Example Express outsourced its
# customer-service desk to a contractor that looks its waybills up; an employee of the
# contractor sold an export to a data broker, who sold it to a fraud ring posing as courier
# customer service; the list turned up in a chat group on a seized phone. The app also sent
# phones and device ids to an analytics SDK (traffic capture E-0003).
agents:
  - id: buyers
    name: 示例购物 App 用户（跨境订单）
    kind: subjects
  - id: shop-app
    name: 示例购物科技有限公司（示例购物 App）
    kind: holder
    hosts: [shop.example.invalid]
  - id: analytics-sdk
    name: 示例分析 SDK 服务商
    kind: intermediary
    hosts: [sdk.example-analytics.invalid]
  - id: courier
    name: 示例快递有限公司
    kind: holder
  - id: cs-contractor
    name: 示例客服外包服务有限公司（示例快递客服外包，至 2026-10-31）
    kind: intermediary
  - id: cs-vendor-new
    name: 新客服外包商（2026-11-01 起）
    kind: intermediary
  - id: broker
    name: 数据贩子"老K"
    kind: infringer             # bought and resold the data: a recipient, not a candidate source
  - id: fraud-ring
    name: 冒充快递客服诈骗团伙
    kind: infringer
  - id: chat-group
    name: 群聊中截获的泄露名单（扣押手机）
    kind: sighting
edges:
  - from: buyers
    to: shop-app
    kind: collected
    fields: [name, phone, id_number, address, order_id, device_id]
    since: 2023-03-01
    evidence: [E-0001, E-0002, E-0006]
  - from: shop-app
    to: analytics-sdk
    kind: shared_with
    fields: [phone, device_id]
    since: 2026-10-12           # seen in the traffic capture; the privacy policy denies any sharing
    evidence: [E-0003, E-0001]
  - from: shop-app
    to: courier
    kind: shared_with           # shipping and customs clearance
    fields: [name, phone, id_number, address, order_id]
    since: 2024-01-01
    evidence: [E-0006, E-0007]
  - from: courier
    to: cs-contractor
    kind: shared_with           # outsourced customer service: its desk looks waybills up one by one
    fields: [phone, waybill]    # (what a lookup shows); whole records only in its own export, E-0008
    since: 2025-07-01
    until: 2026-10-31
    evidence: [E-0007, E-0008]
  - from: courier
    to: cs-vendor-new
    kind: shared_with           # the successor vendor: only after the list was seen
    fields: [name, phone, id_number, address, order_id, waybill]
    since: 2026-11-01
  - from: cs-contractor
    to: broker
    kind: sold_to
    fields: [name, phone, id_number, address, order_id]
    since: 2026-08-01
    confidence: 0.7             # an employee's sale, not yet proven
  - from: analytics-sdk
    to: broker
    kind: sold_to
    fields: [phone, device_id]
    since: 2026-10-15
    confidence: 0.2             # the alternative the defence will raise
  - from: broker
    to: fraud-ring
    kind: sold_to
    fields: [name, phone, id_number, address, order_id]
    since: 2026-09-01
    confidence: 0.8
    evidence: [E-0005]
  - from: fraud-ring
    to: chat-group
    kind: observed_at
    since: 2026-10-20
    evidence: [E-0004]
"""

#: The holdings files, in the order samples/demo.sh adds them (E-0006, E-0007, E-0008).
HOLDINGS = ("shop-app-orders-2026-09.csv", "courier-waybills-2026-09.csv", "cs-contractor-export-2026-08.csv")


def _day(rng: random.Random, start: date, days: int) -> date:
    return start + timedelta(days=rng.randrange(days))


def _device(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08X}-{rng.getrandbits(16):04X}-4{rng.getrandbits(12):03X}-8{rng.getrandbits(12):03X}-{rng.getrandbits(48):012X}"


def _spaced_phone(phone: str) -> str:
    """The contractor's system shows numbers as +86 158 2108 9404: the same number once normalised."""
    return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def provenance(root: Path, leaked: list[tuple[str, str, str, str, str]], victim_device: str) -> None:
    rng = random.Random(20261130)
    (root / "flows.yaml").write_text(FLOWS, encoding="utf-8")
    out = root / "holdings"
    out.mkdir(parents=True, exist_ok=True)

    # Who among the 40 leaked people is where. The victim (row 1, whose phone the app's traffic
    # shows) is among the contractor's.
    elsewhere = rng.sample(range(1, len(leaked)), 6)
    other_courier = [leaked[i] for i in elsewhere[:3]]           # shop customers, another courier
    contractor_leaked = [p for i, p in enumerate(leaked) if i not in elsewhere]  # 34
    others = [fake_person(rng) for _ in range(456)]
    shop_courier = others[:190]                                   # shop orders shipped by the courier
    courier_only = [(n, ph, i, a, "XO" + o[2:]) for n, ph, i, a, o in others[190:266]]  # other shops' parcels
    shop_other = others[266:456]                                  # shop orders, another courier
    contractor = contractor_leaked + shop_courier[:56] + courier_only[:20]

    everyone = leaked + shop_courier + courier_only + shop_other
    devices = {p: _device(rng) for p in everyone}
    devices[leaked[0]] = victim_device
    ordered = {p: _day(rng, date(2026, 3, 1), 200) for p in everyone}  # up to 2026-09-16
    waybills = {p: f"EX{rng.randint(10**11, 10**12 - 1)}" for p in contractor_leaked + shop_courier + courier_only}

    # The shop's order export (UTF-8 with a BOM, as a spreadsheet program saves it), as of 2026-09-30.
    shop = [(p, "示例快递") for p in contractor_leaked + shop_courier] + [(p, "另一快递") for p in other_courier + shop_other]
    rng.shuffle(shop)
    rows = [["订单号", "下单时间", "收货人", "手机号", "身份证号", "收货地址", "设备ID", "承运快递"]]
    for (name, phone, ric, addr, order), carrier in shop:
        t = ordered[(name, phone, ric, addr, order)]
        rows.append([order, f"{t.isoformat()} {rng.randint(8, 22):02d}:{rng.randint(0, 59):02d}", name, phone, ric, addr,
                     devices[(name, phone, ric, addr, order)], carrier])
    (out / HOLDINGS[0]).write_bytes(b"\xef\xbb\xbf" + _csv(rows).encode("utf-8"))

    # The courier's waybills for the same period (GBK, as its system exports them).
    courier = contractor_leaked + shop_courier + courier_only
    rng.shuffle(courier)
    rows = [["运单号", "订单号", "收件人", "收件人电话", "证件号码", "收件地址", "揽收日期"]]
    for p in courier:
        rows.append([waybills[p], p[4], p[0], p[1], p[2], p[3], (ordered[p] + timedelta(days=1)).isoformat()])
    (out / HOLDINGS[1]).write_bytes(_csv(rows).encode("gbk"))

    # The contractor's work-order export, found on an employee's computer (UTF-8), dated 2026-08-05.
    rng.shuffle(contractor)
    reasons = ["催件", "修改地址", "清关资料", "投诉延误", "查询物流"]
    rows = [["工单号", "来电日期", "客户姓名", "联系电话", "身份证号", "收件地址", "订单号", "运单号", "来电事由"]]
    for n, p in enumerate(contractor, start=1):
        rows.append([f"GD{n:05d}", _day(rng, date(2026, 6, 1), 60).isoformat(), p[0], _spaced_phone(p[1]), p[2], p[3],
                     p[4], waybills[p], rng.choice(reasons)])
    (out / HOLDINGS[2]).write_bytes(_csv(rows).encode("utf-8"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate the fictional sample case (synthetic data only).")
    parser.add_argument("--out", type=Path, default=ROOT, help="write under this folder instead of samples/")
    main(parser.parse_args().out)
