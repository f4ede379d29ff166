#!/usr/bin/env python3
"""Generate the QuickRide sample case: a complete fictional case from raw evidence to filings.

Everything here is synthetic; no company, person, number or address exists.

The story (ground truth in ``truth.json``):

* **QuickRide** (快行出行科技有限公司), a ride-hailing app, embeds the **AdNova** analytics SDK
  (艾德诺瓦数据科技有限公司). From 2025-11-01 the SDK receives every rider's phone number and
  device id (OAID) without separate consent: two traffic captures from a test phone show it, the
  privacy policy says the opposite, the permission prompts never ask.
* **FastRoute Express** (速途快递有限公司) outsourced its customer-service desk to **Huilian**
  (汇联客服外包服务有限公司, agent ``cs-contractor``), whose staff could see waybills. A Huilian
  employee exported 4,800 waybill rows on 2026-08-05 and sold them to a data broker.
* The **broker** merged that export with a phone → device-id feed it bought from AdNova (600 rows
  got a device id) and with lists from elsewhere, and sold the merged list to a **fraud ring**
  posing as courier and ride customer service. The list was seized from the ring on 2026-10-20
  (``evidence/seized-list-gbk.csv``: GBK, 5,000 rows, some values masked as 138****1234 / 张某).
* **Canaries**: on 2026-05-20 the investigators issued marker phone numbers (SIMs they control,
  ``canary-pool.txt``) to QuickRide (test rider accounts), FastRoute (test parcels) and, through a
  ticket channel visible only in Huilian's console, to Huilian. Three of Huilian's and one of
  FastRoute's (which reached Huilian's console) are in the seized list; none of QuickRide's.

So the answer attribution should find: source ``cs-contractor`` (origin ``fastroute``), path
cs-contractor → broker → fraud-ring → seized-list.

Canaries: ``plitool canary issue --kind phone --pool FILE`` takes the pool's unused numbers in
file order, so the values are deterministic and this generator plants exactly those numbers. The
command issues canaries *today*; a canary issued after the leak was seen is (rightly) excluded by
time, so ``run.sh`` issues them through the same library call with the story's date
(``issue_canaries.py``, ``--issued 2026-05-20``).

Synthetic values: phone numbers ``1xx0000xxxx`` (people), ``1700000xxxx`` (canary SIMs),
``1710000xxxx`` (fraud callers), ``19900000001`` (the investigators' test phone); resident ID
numbers with the unassigned region code ``99xxxx``, a real birth date and a valid GB 11643 check
digit (as ``plitool.provenance.canary.fake_id_number`` makes them); unified social credit codes
with the unassigned region ``99xxxx`` and a valid check digit; addresses in the fictional city of
江海市 on roads named 样例路, 示范街 ….

Every output is byte-for-byte reproducible (fixed seed; fixed timestamps inside PDF, DOCX, XLSX
and zip members; PNG without time chunks). Run ``python samples/quickride/generate.py`` (writes
beside this script) or ``--out DIR``; ``tests/test_quickride.py`` checks the committed files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SEED = 20261020
FIXED = datetime(2026, 10, 1, 9, 0, 0, tzinfo=timezone.utc)
ZIP_TIME = (2026, 10, 1, 9, 0, 0)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志宇浩然欣怡子涵梓轩雨桐佳琪思远博文"
         "晨阳嘉怡俊杰晓东海燕春梅立新国庆永胜文静丹丹雪梅凤兰德华振宇佳慧")
DISTRICTS = ("滨江区", "临港区", "云溪区", "北塘区", "南湖区")
ROADS = ("样例路", "示范街", "虚构大道", "测试路", "范例巷", "演示路")
ESTATES = ("江畔花园", "云溪小区", "临港新村", "北塘苑", "南湖家园", "星河湾", "翠竹苑", "和平里")
PHONE_PREFIXES = ("133", "135", "136", "137", "138", "139", "150", "151", "152", "158", "186", "188")

TEST_PHONE = "19900000001"
APP_PACKAGE = "com.quickride.app"
QUICKRIDE_HOST = "api.quickride.example"
ADNOVA_HOST = "sdk.adnova.example"

ISSUED = "2026-05-20"
FIRST_SEEN = "2026-10-20"
CANARY_COUNTS = (("quickride", 3), ("fastroute", 3), ("cs-contractor", 3))

N_PEOPLE = 12_500
N_NOISE_POOL = 1_000
N_RIDERS = 6_000
N_FASTROUTE_PEOPLE = 9_000
N_FASTROUTE_EXTRA = 1_000
N_EXPORT = 4_800
N_LEAK = 5_000
N_LEAK_FROM_EXPORT = 4_150
N_LEAK_DEVICE = 600
N_MASK_NAME = 250
N_MASK_PHONE = 200
N_MASK_BOTH_NO_WAYBILL = 50


# -- synthetic values ----------------------------------------------------------------------------


def ric_check_digit(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights)) % 11]


def fake_id_number(rng: random.Random) -> str:
    """As ``plitool.provenance.canary.fake_id_number``: region 99xxxx (unassigned), a real birth
    date, a valid check digit."""
    born = date(1960 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28))
    body = f"99{rng.randrange(10000):04d}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric_check_digit(body)


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(region: str, org: str) -> str:
    """A unified social credit code (GB 32100) with the unassigned region code ``99xxxx``."""
    body = "91" + region + org
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body, weights))
    return body + USCC_CHARS[(31 - total % 31) % 31]


def fake_device(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


class People:
    def __init__(self, rng: random.Random) -> None:
        phones: set[str] = set()
        ids: set[str] = set()
        self.rows: list[dict[str, str]] = []
        while len(self.rows) < N_PEOPLE:
            phone = f"{rng.choice(PHONE_PREFIXES)}0000{rng.randrange(10000):04d}"
            ident = fake_id_number(rng)
            if phone in phones or ident in ids:
                continue
            phones.add(phone)
            ids.add(ident)
            self.rows.append({"name": fake_name(rng), "phone": phone, "id_number": ident, "address": fake_address(rng),
                              "device_id": fake_device(rng)})


def fake_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def fake_address(rng: random.Random) -> str:
    return (f"江海市{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randrange(1, 400)}号{rng.choice(ESTATES)}"
            f"{rng.randrange(1, 30)}栋{rng.randrange(1, 6)}单元{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}室")


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_name(name: str) -> str:
    return name[0] + "某"


# -- deterministic containers --------------------------------------------------------------------


def normalise_zip(data: bytes, core_time: str = "2026-10-01T09:00:00Z") -> bytes:
    """Rewrite an OOXML zip with fixed member times and fixed docProps/core.xml dates."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)", rf"\g<1>{core_time}\g<3>", text)
                body = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


# -- the documents -------------------------------------------------------------------------------

POLICY = [
    ("快行出行隐私政策", "title"),
    ("版本：V5.2　　生效日期：2025年10月20日　　更新日期：2025年10月20日", "meta"),
    ("快行出行科技有限公司（以下简称“我们”）深知个人信息对您的重要性。本政策说明我们如何收集、使用、共享您的个人信息。", ""),
    ("一、我们收集的个人信息", "h"),
    ("1. 注册与登录：您的手机号码，用于创建账号和接收验证码。", ""),
    ("2. 实名认证：根据法律规定，我们可能收集您的姓名和身份证号码。", ""),
    ("3. 出行服务：您的上下车地点和行程轨迹，仅用于提供叫车服务。", ""),
    ("4. 设备信息：为保障账号安全，我们会收集设备型号、操作系统版本。我们不会收集您的设备唯一标识符用于广告。", ""),
    ("二、我们如何共享个人信息", "h"),
    ("我们不会向任何第三方提供、出售或共享您的手机号码、身份证号码及设备标识符，但法律法规另有规定或取得您单独同意的除外。", ""),
    ("三、第三方SDK", "h"),
    ("为实现崩溃分析功能，本应用集成了艾德诺瓦统计SDK（艾德诺瓦数据科技有限公司）。该SDK仅收集匿名的崩溃日志，不收集您的手机号码或设备标识符。", ""),
    ("四、您的权利", "h"),
    ("您可以在“我的—设置—隐私”中查询、更正、删除您的个人信息，或撤回同意。", ""),
    ("五、联系我们", "h"),
    ("快行出行科技有限公司　统一社会信用代码：{uscc}", ""),
    ("地址：江海市滨江区示范街88号　个人信息保护负责人邮箱：privacy@quickride.example", ""),
]


def privacy_policy_pdf(quickride_uscc: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle("快行出行隐私政策 V5.2")
    c.setAuthor("快行出行科技有限公司")
    c.setCreator("plitool samples/quickride/generate.py")
    width, height = A4
    y = height - 72
    per_line = 36
    for text, kind in POLICY:
        text = text.format(uscc=quickride_uscc)
        size = 18 if kind == "title" else 13 if kind == "h" else 11
        c.setFont("STSong-Light", size)
        if kind == "title":
            c.drawCentredString(width / 2, y, text)
            y -= 30
            continue
        chunks = [text[i:i + per_line] for i in range(0, len(text), per_line)]
        for chunk in chunks:
            if y < 72:
                c.showPage()
                c.setFont("STSong-Light", size)
                y = height - 72
            c.drawString(60, y, chunk)
            y -= size + 7
        y -= 6
    c.showPage()
    c.save()
    return buf.getvalue()


FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def cjk_font(size: int) -> tuple[Any, str]:
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size), Path(path).name
    return ImageFont.load_default(), "PIL default (no CJK font: Chinese text is not drawn correctly)"


def screenshot(kind: str) -> tuple[bytes, str]:
    """A phone screenshot (360×740) of the app's first-launch screens."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (360, 740), (246, 246, 246))
    d = ImageDraw.Draw(img)
    small, font_name = cjk_font(14)
    body, _n = cjk_font(16)
    big, _n = cjk_font(20)
    d.rectangle((0, 0, 360, 28), fill=(30, 30, 30))
    d.text((12, 6), "10:03", fill=(255, 255, 255), font=small)
    d.text((290, 6), "5G 87%", fill=(255, 255, 255), font=small)
    d.rectangle((0, 28, 360, 90), fill=(255, 196, 0))
    d.text((20, 45), "快行出行", fill=(30, 30, 30), font=big)
    d.rectangle((0, 90, 360, 740), fill=(40, 40, 40))
    if kind == "permission":
        d.rounded_rectangle((24, 250, 336, 500), radius=14, fill=(255, 255, 255))
        d.text((44, 275), "允许“快行出行”拨打电话和", fill=(20, 20, 20), font=big)
        d.text((44, 305), "管理通话？", fill=(20, 20, 20), font=big)
        d.text((44, 350), "用于读取本机号码和设备信息", fill=(90, 90, 90), font=body)
        d.line((24, 430, 336, 430), fill=(220, 220, 220))
        d.text((70, 455), "拒绝", fill=(120, 120, 120), font=big)
        d.text((230, 455), "始终允许", fill=(0, 110, 220), font=big)
    else:
        d.rounded_rectangle((24, 160, 336, 640), radius=14, fill=(255, 255, 255))
        d.text((44, 185), "个人信息保护提示", fill=(20, 20, 20), font=big)
        lines = ("欢迎使用快行出行！", "我们依据《隐私政策》处理您的", "个人信息。点击“同意并继续”即",
                 "表示您已阅读并同意《隐私政策》", "及《用户协议》。")
        for i, line in enumerate(lines):
            d.text((44, 230 + 26 * i), line, fill=(60, 60, 60), font=body)
        d.rounded_rectangle((54, 500, 306, 546), radius=22, fill=(255, 196, 0))
        d.text((122, 512), "同意并继续", fill=(20, 20, 20), font=big)
        d.text((150, 575), "不同意", fill=(150, 150, 150), font=body)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), font_name


def har(entries: list[dict[str, Any]]) -> bytes:
    doc = {"log": {"version": "1.2", "creator": {"name": "mitmproxy", "version": "10.1.1"},
                   "pages": [], "entries": entries}}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def har_entry(started: str, method: str, url: str, body: dict[str, Any] | None, response: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import parse_qsl, urlsplit

    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else None
    req: dict[str, Any] = {
        "method": method, "url": url, "httpVersion": "HTTP/2.0",
        "headers": [{"name": "host", "value": urlsplit(url).hostname},
                    {"name": "user-agent", "value": "QuickRide/5.2.0 (Android 14; Pixel-TEST)"}],
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)],
        "cookies": [], "headersSize": -1, "bodySize": len(text.encode()) if text else 0,
    }
    if text is not None:
        req["postData"] = {"mimeType": "application/json", "text": text}
    rtext = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
    return {"startedDateTime": started, "time": 87, "request": req,
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/2.0",
                         "headers": [{"name": "content-type", "value": "application/json"}], "cookies": [],
                         "content": {"size": len(rtext.encode()), "mimeType": "application/json", "text": rtext},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(rtext.encode())},
            "cache": {}, "timings": {"send": 1, "wait": 80, "receive": 6}}


def docx_statement(victim: dict[str, str], n: int, details: list[str]) -> bytes:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.author = "江海市人民检察院"
    props.last_modified_by = "江海市人民检察院"
    props.title = f"被害人陈述（{n}）"
    props.created = FIXED.replace(tzinfo=None)
    props.modified = FIXED.replace(tzinfo=None)
    props.revision = 1
    style = doc.styles["Normal"]
    style.font.size = Pt(12)
    doc.add_heading(f"被害人陈述（{n}）", level=1)
    table = doc.add_table(rows=4, cols=2)
    for row, (k, v) in zip(table.rows, (("姓名", victim["name"]), ("身份证号", victim["id_number"]),
                                        ("联系电话", victim["phone"]), ("住址", victim["address"]))):
        row.cells[0].text = k
        row.cells[1].text = v
    for line in details:
        doc.add_paragraph(line)
    doc.add_paragraph("以上内容我看过，与我说的相符。")
    doc.add_paragraph(f"陈述人：{victim['name']}　　记录人：检察官助理 林某　　2026年10月{24 + n}日")
    buf = io.BytesIO()
    doc.save(buf)
    return normalise_zip(buf.getvalue())


def xlsx_holdings(header: list[str], rows: list[list[Any]], title: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.properties.creator = "快行出行科技有限公司"
    wb.properties.lastModifiedBy = "快行出行科技有限公司"
    wb.properties.created = FIXED.replace(tzinfo=None)
    wb.properties.modified = FIXED.replace(tzinfo=None)
    buf = io.BytesIO()
    wb.save(buf)
    return normalise_zip(buf.getvalue())


# -- flows.yaml and case.toml (text, with the credit codes filled in) ------------------------------

#: The evidence ids, as run.sh's 'plitool add' order gives them (flows.yaml cites these).
EVIDENCE_ORDER = (
    ("E-0001", "evidence/quickride-privacy-policy-v5.2.pdf"),
    ("E-0002", "evidence/screenshot-permission-prompt.png"),
    ("E-0003", "evidence/screenshot-consent-screen.png"),
    ("E-0004", "evidence/capture-app-launch.har"),
    ("E-0005", "evidence/capture-login.har"),
    ("E-0006", "holdings/quickride-riders-2026-09.xlsx"),
    ("E-0007", "holdings/fastroute-waybills-2026-09.csv"),
    ("E-0008", "holdings/huilian-cs-export-2026-08.csv"),
    ("E-0009", "evidence/seized-list-gbk.csv"),
    ("E-0010", "evidence/statement-01.docx"),
    ("E-0011", "evidence/statement-02.docx"),
    ("E-0012", "evidence/statement-03.docx"),
    ("E-0013", "evidence/spam-calls-2026-09-10.csv"),
    ("E-0014", "evidence/transfer-records.csv"),
    ("E-0015", "canary-pool.txt"),
)

FLOWS = """\
# flows.yaml of the fictional QuickRide case (samples/quickride/generate.py writes it; every
# organisation and person is made up). Evidence ids are those run.sh's 'plitool add' order gives:
#   E-0001 privacy policy   E-0002/3 screenshots   E-0004/5 traffic captures
#   E-0006 QuickRide riders E-0007 FastRoute waybills E-0008 Huilian export (seized)
#   E-0009 seized list      E-0010-12 victims' statements  E-0013 spam calls  E-0014 transfers
agents:
  - id: riders
    name: 快行出行 App 用户
    kind: subjects
  - id: recipients
    name: 速途快递收件人
    kind: subjects
  - id: quickride
    name: 快行出行科技有限公司（快行出行 App）
    kind: holder
    uscc: {quickride}
    hosts: [{qr_host}]
  - id: adnova-sdk
    name: 艾德诺瓦数据科技有限公司（AdNova SDK）
    kind: intermediary
    uscc: {adnova}
    hosts: [{ad_host}]
  - id: fastroute
    name: 速途快递有限公司
    kind: holder
    uscc: {fastroute}
  - id: cs-contractor
    name: 汇联客服外包服务有限公司（速途快递客服外包）
    kind: intermediary
    uscc: {contractor}
  - id: broker
    name: 数据贩子“老K”
    kind: infringer             # bought and resold: a recipient, not a candidate source
  - id: fraud-ring
    name: 冒充客服诈骗团伙
    kind: infringer
  - id: seized-list
    name: 从诈骗团伙扣押的名单（E-0009）
    kind: sighting
edges:
  - from: riders
    to: quickride
    kind: collected
    fields: [name, phone, id_number, device_id, location]
    since: 2022-03-01
    evidence: [E-0001, E-0006]
  - from: quickride
    to: adnova-sdk
    kind: shared_with           # no separate consent; the policy denies it (E-0001)
    fields: [phone, device_id]
    since: 2025-11-01           # SDK 3.x, seen in both captures
    evidence: [E-0001, E-0002, E-0003, E-0004, E-0005]
  - from: recipients
    to: fastroute
    kind: collected
    fields: [name, phone, address, waybill]
    since: 2021-01-01
    evidence: [E-0007]
  - from: fastroute
    to: cs-contractor
    kind: shared_with           # outsourced customer service with access to the waybill console
    fields: [name, phone, address, waybill]
    since: 2025-06-01
    until: 2026-10-31
    evidence: [E-0007, E-0008]
  - from: cs-contractor
    to: broker
    kind: sold_to               # an employee's export, paid on 2026-08-06 and 08-12 (E-0014)
    fields: [name, phone, address, waybill]
    since: 2026-08-06
    confidence: 0.7
    evidence: [E-0008, E-0014]
  - from: adnova-sdk
    to: broker
    kind: sold_to               # the alternative the defence will raise; no direct evidence yet
    fields: [phone, device_id]
    since: 2026-08-20
    confidence: 0.3
  - from: broker
    to: fraud-ring
    kind: sold_to
    fields: [name, phone, address, waybill, device_id]
    since: 2026-09-01
    confidence: 0.8
    evidence: [E-0014]
  - from: fraud-ring
    to: seized-list
    kind: observed_at
    since: 2026-10-20
    evidence: [E-0009, E-0010, E-0011, E-0012, E-0013]
"""

CASE_TOML = """\
# case.toml of the fictional QuickRide case (samples/quickride/generate.py writes it).
# Every name, code and address is made up; the credit codes use the unassigned region 99xxxx.

[case]
title = "快行出行等侵害个人信息民事公益诉讼案（虚构示例）"
lang = "zh"
court = "江海市中级人民法院"
number = "江检民公诉〔2026〕1号"
timezone = "Asia/Shanghai"

[[parties]]
role = "plaintiff"
kind = "procuratorate"
name = "江海市人民检察院"
address = "江海市滨江区示范街1号"
representative = "林正清"
position = "检察长"

# An individual plaintiff, used only by 'plitool draft tort' (one person's own complaint under
# PIPL Art. 69); every other filing is the procuratorate's. She is made up like everyone here and
# is none of the people in the generated tables.
[[parties]]
role = "plaintiff"
kind = "individual"
name = "苏晓雯"
sex = "女"
born = "1988-03-14"
ethnicity = "汉族"
address = "江海市北塘区示意巷7号"

[[parties]]
role = "defendant"
kind = "company"
name = "快行出行科技有限公司"
uscc = "{quickride}"
address = "江海市滨江区示范街88号"
representative = "周启航"

[[parties]]
role = "defendant"
kind = "company"
name = "艾德诺瓦数据科技有限公司"
uscc = "{adnova}"
address = "江海市云溪区样例路16号"
representative = "韩书远"

[[parties]]
role = "defendant"
kind = "company"
name = "汇联客服外包服务有限公司"
uscc = "{contractor}"
address = "江海市临港区虚构大道302号"
representative = "曹文彬"

[[parties]]
role = "third-party"
kind = "company"
name = "速途快递有限公司"
uscc = "{fastroute}"
address = "江海市北塘区演示路9号"
representative = "邓海川"

[facts]
summary = "快行出行科技有限公司在快行出行App中嵌入艾德诺瓦数据科技有限公司的统计SDK，自2025年11月起未经用户单独同意向该SDK提供手机号码和设备标识符；速途快递有限公司的客服外包商汇联客服外包服务有限公司员工于2026年8月导出快递运单信息出售给数据贩子，数据贩子将其与设备标识符合并后转售给冒充客服的诈骗团伙，团伙据此拨打诈骗电话，致多名被害人财产损失。"
period_start = "2025-11-01"
period_end = "2026-10-20"
pi_kinds = ["姓名", "手机号码", "收件地址", "快递运单号", "设备标识符"]
sighting = "seized-list"
minors = false
benefit = 38500

[claims]
apology_medium = "国家级新闻媒体"
damages_amount = 1250000
damages_basis = "按违法所得、受影响人数及个人信息保护成本酌定"
fund = "江海市公益诉讼损害赔偿金专户"
behavioural = ["停止未经单独同意向第三方SDK提供手机号码和设备标识符", "建立客服外包人员数据访问权限和导出审计制度"]
deletion = true

[announcement]
number = "江检民公〔2026〕1号"
date = "2026-11-05"
medium = "正义网"
contact = "江海市人民检察院第八检察部（江海市滨江区示范街1号）"
responses = ""

[recommendation]
number = "江检八建〔2026〕1号"
organ = "江海市邮政管理局"
organ_duties = ["《中华人民共和国个人信息保护法》第六十条", "《快递暂行条例》第五条"]
findings = "辖区快递企业速途快递有限公司将客服业务外包后，未对外包商访问运单信息进行权限控制和导出审计，致4800条运单信息被外包商员工导出出售。"
recommendations = ["督促速途快递有限公司对外包客服访问运单信息实行最小权限和导出审计", "在辖区快递企业开展个人信息保护专项检查"]
urgent = false
date = "2026-11-10"

[production]
extra = ["艾德诺瓦SDK数据接收日志（2025年11月1日至今）", "汇联客服系统账号权限配置及导出日志"]

[evidence]
digests = ["sha256", "blake3"]

[timestamps]
# run.sh seals with a throw-away local TSA (DEMO TSA — not trusted) passed with --tsa.
tsa = []
timeout = 10
system_roots = false
"""


# -- the case ------------------------------------------------------------------------------------


def build() -> tuple[dict[str, bytes], dict[str, Any]]:
    rng = random.Random(SEED)
    people = People(rng).rows
    held_pool = people[:N_PEOPLE - N_NOISE_POOL]
    noise_pool = people[N_PEOPLE - N_NOISE_POOL:]
    files: dict[str, bytes] = {}

    codes = {
        "quickride": uscc("990101", "MA0QR0001"),
        "adnova": uscc("990102", "MA0AD0002"),
        "fastroute": uscc("990103", "MA0FR0003"),
        "cs-contractor": uscc("990104", "MA0HL0004"),
    }

    # canary SIMs the investigators control; issued in file order (canary issue takes unused numbers in order)
    pool = [f"1700000{i:04d}" for i in range(1, 1 + sum(n for _a, n in CANARY_COUNTS))]
    canaries: dict[str, list[str]] = {}
    i = 0
    marker = 1
    markers: dict[str, str] = {}
    pool_lines = ["# Canary SIMs held by the investigators (江海市人民检察院 技术组). Issued on 2026-05-20 in this order:"]
    for agent, n in CANARY_COUNTS:
        canaries[agent] = pool[i:i + n]
        pool_lines.append(f"# {agent}: {', '.join(f'M-{marker + k:04d}' for k in range(n))}")
        for k, sim in enumerate(canaries[agent]):
            markers[sim] = f"M-{marker + k:04d}"
        marker += n
        i += n
    pool_lines += pool
    files["canary-pool.txt"] = ("\n".join(pool_lines) + "\n").encode("utf-8")

    # test phone of the investigators, for the traffic captures
    test_device = fake_device(rng)
    files["test-phone.txt"] = (f"# The investigators' test phone (Pixel-TEST), used for the captures E-0004 and E-0005\n"
                               f"phone: {TEST_PHONE}\ndevice_id: {test_device}\n").encode("utf-8")

    # QuickRide riders (XLSX holdings, produced on request, as of 2026-09-30)
    riders = rng.sample(held_pool, N_RIDERS)
    rider_phones = {p["phone"] for p in riders}
    reg0 = date(2022, 3, 1)
    rider_rows = [[f"QR{100000 + k}", p["name"], p["phone"], p["id_number"], p["device_id"],
                   (reg0 + timedelta(days=rng.randrange(1300))).isoformat()] for k, p in enumerate(riders)]
    files["holdings/quickride-riders-2026-09.xlsx"] = xlsx_holdings(
        ["用户ID", "真实姓名", "手机号", "身份证号", "设备号", "注册日期"], rider_rows, "riders")

    # FastRoute waybills (CSV, as of 2026-09-30)
    recipients = rng.sample(held_pool, N_FASTROUTE_PEOPLE)
    recipients += rng.sample(recipients, N_FASTROUTE_EXTRA)
    day0 = date(2026, 1, 1)
    waybills: list[dict[str, str]] = []
    used_wb: set[str] = set()
    for p in recipients:
        wb = f"FR{rng.randrange(10**12):012d}"
        while wb in used_wb:
            wb = f"FR{rng.randrange(10**12):012d}"
        used_wb.add(wb)
        waybills.append({**p, "waybill": wb, "shipped": (day0 + timedelta(days=rng.randrange(270))).isoformat()})
    waybills.sort(key=lambda w: (w["shipped"], w["waybill"]))
    # one of FastRoute's canary parcels reached Huilian's console; the investigators' test parcels
    canary_parcels = []
    for agent in ("fastroute", "cs-contractor"):
        for k, phone in enumerate(canaries[agent]):
            canary_parcels.append({"name": fake_name(rng), "phone": phone, "address": fake_address(rng),
                                   "waybill": f"FR{rng.randrange(10**12):012d}", "shipped": "2026-05-21", "agent": agent})
    files["holdings/fastroute-waybills-2026-09.csv"] = csv_bytes(
        ["运单号", "收件人", "收件人电话", "收件地址", "寄件日期"],
        [[w["waybill"], w["name"], w["phone"], w["address"], w["shipped"]] for w in waybills])

    # Huilian's export (seized from the employee's computer; the export is dated 2026-08-05)
    before = [w for w in waybills if w["shipped"] <= "2026-08-04"]
    export = sorted(rng.sample(before, N_EXPORT), key=lambda w: (w["shipped"], w["waybill"]))
    files["holdings/huilian-cs-export-2026-08.csv"] = csv_bytes(
        ["工单号", "运单号", "收件人", "联系电话", "收件地址", "寄件日期"],
        [[f"HL{2026000000 + k}", w["waybill"], w["name"], w["phone"], w["address"], w["shipped"]]
         for k, w in enumerate(export)])

    # the seized list (GBK CSV, 5,000 rows)
    from_export = rng.sample(export, N_LEAK_FROM_EXPORT)
    rider_rows_in_leak = [w for w in from_export if w["phone"] in rider_phones]
    with_device = {w["waybill"] for w in rng.sample(rider_rows_in_leak, N_LEAK_DEVICE)}
    plain = [w for w in from_export if w["waybill"] not in with_device]
    rng.shuffle(plain)
    mask_both = {w["waybill"] for w in plain[:N_MASK_BOTH_NO_WAYBILL]}
    mask_name_set = {w["waybill"] for w in plain[N_MASK_BOTH_NO_WAYBILL:N_MASK_BOTH_NO_WAYBILL + N_MASK_NAME]}
    mask_phone_set = {w["waybill"] for w in plain[N_MASK_BOTH_NO_WAYBILL + N_MASK_NAME:
                                                  N_MASK_BOTH_NO_WAYBILL + N_MASK_NAME + N_MASK_PHONE]}
    device_of = {p["phone"]: p["device_id"] for p in riders}
    leak: list[dict[str, str]] = []
    for w in from_export:
        row = {"name": w["name"], "phone": w["phone"], "address": w["address"], "waybill": w["waybill"], "device_id": "",
               "note": rng.choice(("快递理赔", "包裹丢失", "快递退款", "签收异常")), "origin": "cs-contractor"}
        if w["waybill"] in with_device:
            row["device_id"] = device_of[w["phone"]]
            row["note"] = rng.choice(("行程退款", "打车返现", "快递理赔"))
            row["origin"] = "cs-contractor+adnova-sdk"
        if w["waybill"] in mask_both:
            row.update(name=mask_name(w["name"]), phone=mask_phone(w["phone"]), waybill="")
        elif w["waybill"] in mask_name_set:
            row["name"] = mask_name(w["name"])
        elif w["waybill"] in mask_phone_set:
            row["phone"] = mask_phone(w["phone"])
        leak.append(row)
    in_leak_canaries = canaries["cs-contractor"] + canaries["fastroute"][:1]
    for parcel in canary_parcels:
        if parcel["phone"] in in_leak_canaries:
            leak.append({"name": parcel["name"], "phone": parcel["phone"], "address": parcel["address"],
                         "waybill": parcel["waybill"], "device_id": "", "note": "快递理赔", "origin": "canary:" + parcel["agent"]})
    n_noise = N_LEAK - len(leak)
    for p in rng.sample(noise_pool, n_noise):
        leak.append({"name": p["name"], "phone": p["phone"], "address": p["address"],
                     "waybill": f"YT{rng.randrange(10**12):012d}", "device_id": "", "note": rng.choice(("快递理赔", "网购退款")),
                     "origin": "elsewhere"})
    rng.shuffle(leak)
    files["evidence/seized-list-gbk.csv"] = csv_bytes(
        ["序号", "姓名", "手机号", "收件地址", "运单号", "设备号", "备注"],
        [[k + 1, r["name"], r["phone"], r["address"], r["waybill"], r["device_id"], r["note"]] for k, r in enumerate(leak)],
        encoding="gbk")

    # spam-call log from the carrier's anti-fraud platform
    callers = [f"1710000{k:04d}" for k in rng.sample(range(10000), 20)]
    called = [r for r in leak if "*" not in r["phone"] and r["origin"] != "elsewhere" and not r["origin"].startswith("canary")]
    victims_called = rng.sample(called, 1200)
    calls = []
    for r in victims_called:
        for _k in range(1 + (rng.random() < 0.3)):
            t = datetime(2026, 9, 5, 9, 0) + timedelta(minutes=rng.randrange(43 * 24 * 60))
            calls.append([t.strftime("%Y-%m-%d %H:%M:%S"), rng.choice(callers), r["phone"], rng.randrange(5, 600), "疑似诈骗（冒充客服）"])
    calls.sort()
    files["evidence/spam-calls-2026-09-10.csv"] = csv_bytes(["呼叫时间", "主叫号码", "被叫号码", "通话时长(秒)", "标记类型"], calls)

    # victims' statements (DOCX): three people called by the ring, two of them riders whose device id was in the list
    by_phone = {p["phone"]: p for p in held_pool}
    device_victims = [r for r in victims_called if r["device_id"]][:2]
    plain_victims = [r for r in victims_called if not r["device_id"]][:1]
    statements = []
    for n, r in enumerate(device_victims + plain_victims, start=1):
        person = by_phone[r["phone"]]
        lines = [f"2026年9月，我接到一个自称“速途快递客服”的电话，对方准确说出了我的姓名、手机号、收件地址和运单号{r['waybill']}，"
                 "说包裹丢失要给我理赔，让我下载一个会议软件共享屏幕。"]
        if r["device_id"]:
            lines.append("对方还说我“在快行出行App上有一笔行程费用可以退还”，知道我用的是哪台手机，所以我相信了。")
        lines.append("我按对方要求操作后，银行卡被转走了人民币" + str(3000 + 500 * rng.randrange(20)) + "元。我没有把这些信息告诉过任何陌生人。")
        files[f"evidence/statement-{n:02d}.docx"] = docx_statement(person, n, lines)
        statements.append({"file": f"evidence/statement-{n:02d}.docx", "device_id_in_list": bool(r["device_id"])})

    # transfer records (the illegal gains), seized with the employee's and the broker's phones
    transfers = [["2026-08-06 21:14:05", "数据商“老K”", "汇联客服外包 员工 周某", "18000.00", "资料款 4800条"],
                 ["2026-08-12 10:02:41", "数据商“老K”", "汇联客服外包 员工 周某", "20500.00", "尾款"],
                 ["2026-09-01 16:40:12", "诈骗团伙 “阿强”", "数据商“老K”", "65000.00", "合并名单 5000条"]]
    files["evidence/transfer-records.csv"] = csv_bytes(["交易时间", "付款方", "收款方", "金额(元)", "备注"], transfers)

    # screenshots and the privacy policy
    for kind, name in (("permission", "evidence/screenshot-permission-prompt.png"), ("consent", "evidence/screenshot-consent-screen.png")):
        files[name], font_used = screenshot(kind)
    files["evidence/quickride-privacy-policy-v5.2.pdf"] = privacy_policy_pdf(codes["quickride"])

    # two traffic captures from the test phone
    md5 = hashlib.md5(TEST_PHONE.encode()).hexdigest()
    launch = [
        har_entry("2026-10-12T10:03:01.120+08:00", "GET", f"https://{QUICKRIDE_HOST}/v5/config?platform=android&ver=5.2.0",
                  None, {"code": 0, "features": ["ride", "parcel"]}),
        har_entry("2026-10-12T10:03:02.480+08:00", "POST", f"https://{ADNOVA_HOST}/v3/collect",
                  {"app": APP_PACKAGE, "sdk": "adnova-3.4.1", "oaid": test_device, "mobile": TEST_PHONE,
                   "os": "Android 14", "event": "app_launch"}, {"ok": True}),
        har_entry("2026-10-12T10:03:03.015+08:00", "GET", f"https://{ADNOVA_HOST}/v3/ad?did={test_device}&slot=splash",
                  None, {"ad": None}),
    ]
    login = [
        har_entry("2026-10-12T10:05:40.300+08:00", "POST", f"https://{QUICKRIDE_HOST}/v5/login/sms",
                  {"phone": TEST_PHONE, "code": "246810"}, {"code": 0, "uid": "QR-TEST-0001"}),
        har_entry("2026-10-12T10:05:41.020+08:00", "POST", f"https://{ADNOVA_HOST}/v3/event",
                  {"app": APP_PACKAGE, "event": "login", "uid_hash": md5, "oaid": test_device}, {"ok": True}),
    ]
    files["evidence/capture-app-launch.har"] = har(launch)
    files["evidence/capture-login.har"] = har(login)

    truth = {
        "schema": "plitool.sample-truth/1",
        "note": "Ground truth of the fictional QuickRide case (samples/quickride/generate.py). Values are synthetic.",
        "seed": SEED,
        "sighting": "seized-list",
        "first_seen": FIRST_SEEN,
        "source": "cs-contractor",
        "origin": "fastroute",
        "path": ["cs-contractor", "broker", "fraud-ring", "seized-list"],
        "path_edges": [{"from": "cs-contractor", "to": "broker", "kind": "sold_to"},
                       {"from": "broker", "to": "fraud-ring", "kind": "sold_to"},
                       {"from": "fraud-ring", "to": "seized-list", "kind": "observed_at"}],
        "also": {"adnova-sdk": "sold phone → device-id pairs of QuickRide riders to the broker, who appended a device id "
                               "to rows it could match by phone"},
        "leak": {
            "rows": len(leak),
            "from_cs_contractor_export": N_LEAK_FROM_EXPORT,
            "of_which_with_device_id_from_adnova": N_LEAK_DEVICE,
            "of_which_masked_name": N_MASK_NAME,
            "of_which_masked_phone": N_MASK_PHONE,
            "of_which_masked_name_and_phone_without_waybill": N_MASK_BOTH_NO_WAYBILL,
            "canary_rows": len(in_leak_canaries),
            "from_elsewhere": n_noise,
        },
        "holdings": {"quickride": {"file": "holdings/quickride-riders-2026-09.xlsx", "rows": N_RIDERS, "as_of": "2026-09-30"},
                     "fastroute": {"file": "holdings/fastroute-waybills-2026-09.csv", "rows": len(waybills), "as_of": "2026-09-30"},
                     "cs-contractor": {"file": "holdings/huilian-cs-export-2026-08.csv", "rows": N_EXPORT, "as_of": "2026-08-05"}},
        "canaries": {"issued": ISSUED, "kind": "phone", "pool": "canary-pool.txt",
                     "by_agent": {a: [{"marker": markers[p], "phone": p} for p in canaries[a]] for a, _n in CANARY_COUNTS},
                     "in_leak": {a: [markers[p] for p in canaries[a] if p in in_leak_canaries] for a, _n in CANARY_COUNTS}},
        "expected_markers_hit": {"cs-contractor": 4, "fastroute": 1, "quickride": 0, "adnova-sdk": 0},
        "spam_calls": {"rows": len(calls), "victims": len(victims_called), "callers": len(callers)},
        "statements": statements,
        "illegal_gains_yuan": {"cs-contractor employee": 38500, "broker": 65000},
        "uscc": codes,
        "screenshot_font": font_used,
    }
    fill = {"quickride": codes["quickride"], "adnova": codes["adnova"], "fastroute": codes["fastroute"],
            "contractor": codes["cs-contractor"], "qr_host": QUICKRIDE_HOST, "ad_host": ADNOVA_HOST}
    files["flows.yaml"] = FLOWS.format(**fill).encode("utf-8")
    files["case.toml"] = CASE_TOML.format(**fill).encode("utf-8")
    truth["evidence_ids"] = dict(EVIDENCE_ORDER)
    files["truth.json"] = (json.dumps(truth, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return files, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="Write under this folder (default: beside this script).")
    args = parser.parse_args()
    files, truth = build()
    for name, data in sorted(files.items()):
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total / 1024:.0f} KiB, under {args.out} (leak: {truth['leak']['rows']} rows; "
          f"source {truth['source']})")


if __name__ == "__main__":
    main()
