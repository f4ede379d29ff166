"""Labelled synthetic screenshots and scanned pages for the OCR tests and ``bench/ocr.py``.

Each screen is drawn with Pillow and a CJK font from Debian (``fonts-noto-cjk`` or
``fonts-wqy-microhei``): SMS bubbles, a chat list, a table, a call log, at phone resolutions;
the degraded set adds JPEG compression, slight rotation, downscaling and blur; the scanned set is
A4 pages at 300 dpi saved as image-only PDFs. Beside each file ``<name>.truth.json`` lists what a
reader should find: ``{"kind": "phone"|"id_number"|"name", "value": normalised, "page": n}`` and
the masked values that must stay masked.

Synthetic data only: phone numbers are random valid mobile numbers, ID numbers use the unassigned
region code 99xxxx (as ``plitool.provenance.canary.fake_id_number``), names are common surnames
with common given names. Deterministic for a seed (and a font version).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: Noto Sans CJK SC
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀英", "桂英", "建华", "志强", "海燕", "晓明", "文博", "雨桐", "子涵", "思远", "佳怡"]
PREFIXES = ["138", "139", "150", "151", "186", "187", "135", "136", "177", "188", "159", "182", "133", "189"]


def cjk_font_path() -> tuple[str, int] | None:
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            return path, index
    return None


def _font(size: int) -> Any:
    from PIL import ImageFont

    found = cjk_font_path()
    if found is None:
        raise RuntimeError("no CJK font: install fonts-noto-cjk or fonts-wqy-microhei")
    return ImageFont.truetype(found[0], size, index=found[1])


@dataclass
class Truth:
    values: list[dict[str, Any]] = field(default_factory=list)
    masked: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, value: str, page: int = 1) -> None:
        self.values.append({"kind": kind, "value": value, "page": page})


class Fake:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def phone(self) -> str:
        from plitool.pii.normalize import normalize_phone

        while True:
            n = self.rng.choice(PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if normalize_phone(n):
                return n

    def id_number(self) -> str:
        from stdnum.cn import ric

        born = date(1960 + self.rng.randrange(40), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28))
        body = f"99{self.rng.randrange(10000):04d}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return body + ric.calc_check_digit(body + "0")

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def order(self) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(16))

    def spaced(self, phone: str) -> str:
        """How people and apps write a mobile number: plain, 3-4-4 with spaces, or with dashes."""
        return self.rng.choice([phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"])


def _e164(phone: str) -> str:
    return "+86" + phone


def _wrap(draw: Any, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and line:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


# -- layouts ---------------------------------------------------------------------------------


def sms(fake: Fake, size: tuple[int, int] = (1080, 2340)) -> tuple[Any, Truth]:
    """An SMS conversation: grey bubbles with scam messages quoting name, phone and order."""
    from PIL import Image, ImageDraw

    w, h = size
    scale = w / 1080
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    truth = Truth()
    big, body = _font(int(46 * scale)), _font(int(40 * scale))
    sender = "1069" + "".join(fake.rng.choice("0123456789") for _ in range(8))
    d.rectangle((0, 0, w, int(180 * scale)), fill=(246, 246, 246))
    d.text((int(60 * scale), int(70 * scale)), sender, font=big, fill=(0, 0, 0))
    y = int(240 * scale)
    for _ in range(3):
        name, phone, ident = fake.name(), fake.phone(), fake.id_number()
        kind = fake.rng.randrange(3)
        if kind == 0:
            text = (f"【快递通知】尊敬的客户，您的包裹派送异常，收件人姓名：{name}，收件电话：{fake.spaced(phone)}，"
                    f"请回复1重新派送。")
            truth.add("name", name)
        elif kind == 1:
            text = (f"【理赔中心】您好，您在本平台的订单{fake.order()}质量问题可退款，请核实身份证号 {ident} "
                    f"并联系客服 {fake.spaced(phone)}。")
            truth.add("id_number", ident)
        else:
            masked = phone[:3] + "****" + phone[7:]
            text = f"【账户安全】尾号{phone[7:]}的用户{masked}，联系人：{name}，电话 {fake.spaced(phone)} 请勿转告他人。"
            truth.add("name", name)
            truth.masked.append({"kind": "phone", "value": masked})
        truth.add("phone", _e164(phone))
        lines = _wrap(d, text, body, int(760 * scale))
        line_h = int(58 * scale)
        box_h = len(lines) * line_h + int(60 * scale)
        d.rounded_rectangle((int(40 * scale), y, int(860 * scale), y + box_h), radius=int(30 * scale), fill=(233, 233, 235))
        for i, line in enumerate(lines):
            d.text((int(70 * scale), y + int(30 * scale) + i * line_h), line, font=body, fill=(20, 20, 20))
        y += box_h + int(70 * scale)
        if y > h - int(300 * scale):
            break
    return img, truth


def chat(fake: Fake, size: tuple[int, int] = (1170, 2532)) -> tuple[Any, Truth]:
    """A group chat where a seller offers "fresh data" with sample rows (green/white bubbles)."""
    from PIL import Image, ImageDraw

    w, h = size
    s = w / 1170
    img = Image.new("RGB", size, (237, 237, 237))
    d = ImageDraw.Draw(img)
    truth = Truth()
    font, small = _font(int(42 * s)), _font(int(32 * s))
    d.rectangle((0, 0, w, int(200 * s)), fill=(247, 247, 247))
    d.text((int(420 * s), int(100 * s)), "数据交流群(368)", font=font, fill=(0, 0, 0))
    y = int(260 * s)
    messages = ["出售新鲜数据，当天的，要的私聊", "先发几条样例给你看看"]
    for _ in range(4):
        name, phone, ident = fake.name(), fake.phone(), fake.id_number()
        messages.append(f"姓名：{name} 手机：{phone} 身份证：{ident}")
        truth.add("name", name)
        truth.add("phone", _e164(phone))
        truth.add("id_number", ident)
    messages.append("一条两毛，量大从优")
    for i, msg in enumerate(messages):
        mine = i % 5 == 4
        lines = _wrap(d, msg, font, int(760 * s))
        lh = int(58 * s)
        bh = len(lines) * lh + int(50 * s)
        bw = max(d.textlength(line, font=font) for line in lines) + int(60 * s)
        avatar = (w - int(140 * s), y, w - int(40 * s), y + int(100 * s)) if mine else (int(40 * s), y, int(140 * s), y + int(100 * s))
        d.rectangle(avatar, fill=(120, 160, 200) if mine else (200, 150, 120))
        x0 = w - int(170 * s) - bw if mine else int(170 * s)
        d.text((x0, y - int(40 * s)), "" if mine else "数据商" + str(i), font=small, fill=(130, 130, 130))
        d.rounded_rectangle((x0, y, x0 + bw, y + bh), radius=int(12 * s), fill=(149, 236, 105) if mine else (255, 255, 255))
        for j, line in enumerate(lines):
            d.text((x0 + int(30 * s), y + int(25 * s) + j * lh), line, font=font, fill=(0, 0, 0))
        y += bh + int(90 * s)
        if y > h - int(200 * s):
            break
    return img, truth


def table(fake: Fake, size: tuple[int, int] = (1080, 1920), rows: int = 8) -> tuple[Any, Truth]:
    """A leaked list photographed as a table: header row 姓名 / 手机号 / 身份证号."""
    from PIL import Image, ImageDraw

    w, h = size
    s = w / 1080
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    truth = Truth()
    font = _font(int(30 * s))
    cols = [int(30 * s), int(190 * s), int(460 * s), w - int(30 * s)]
    y = int(120 * s)
    rh = int(70 * s)
    d.text((int(30 * s), int(40 * s)), "客户资料导出（第3页）", font=_font(int(40 * s)), fill=(0, 0, 0))
    for r in range(rows + 1):
        cells = ["姓名", "手机号", "身份证号"]
        if r:
            name, phone, ident = fake.name(), fake.phone(), fake.id_number()
            cells = [name, phone, ident]
            truth.add("name", name)
            truth.add("phone", _e164(phone))
            truth.add("id_number", ident)
        d.rectangle((cols[0], y, cols[-1], y + rh), outline=(150, 150, 150), fill=(235, 240, 250) if not r else None)
        for c, text in enumerate(cells):
            d.line((cols[c], y, cols[c], y + rh), fill=(150, 150, 150))
            d.text((cols[c] + int(14 * s), y + int(18 * s)), text, font=font, fill=(0, 0, 0))
        y += rh
    return img, truth


def call_log(fake: Fake, size: tuple[int, int] = (720, 1600)) -> tuple[Any, Truth]:
    """A call log: numbers written 3-4-4, times and places, one masked number."""
    from PIL import Image, ImageDraw

    w, h = size
    s = w / 720
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    truth = Truth()
    font, small = _font(int(34 * s)), _font(int(24 * s))
    d.text((int(30 * s), int(40 * s)), "通话记录", font=_font(int(44 * s)), fill=(0, 0, 0))
    y = int(140 * s)
    for i in range(9):
        phone = fake.phone()
        if i == 4:
            shown = phone[:3] + "****" + phone[7:]
            truth.masked.append({"kind": "phone", "value": shown})
        else:
            shown = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
            truth.add("phone", _e164(phone))
        d.text((int(40 * s), y), shown, font=font, fill=(20, 20, 20))
        d.text((int(40 * s), y + int(50 * s)), fake.rng.choice(["示例省示例市 移动", "广东深圳 联通", "未知"]), font=small,
               fill=(140, 140, 140))
        d.text((w - int(160 * s), y + int(10 * s)), f"{fake.rng.randrange(24):02d}:{fake.rng.randrange(60):02d}",
               font=small, fill=(140, 140, 140))
        d.line((int(40 * s), y + int(110 * s), w, y + int(110 * s)), fill=(225, 225, 225))
        y += int(150 * s)
    return img, truth


def a4_page(fake: Fake, dpi: int = 300) -> tuple[Any, Truth]:
    """A page of a court record / company document at ``dpi``: 12 pt text with labelled parties."""
    from PIL import Image, ImageDraw

    w, h = int(8.27 * dpi), int(11.69 * dpi)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    truth = Truth()
    pt = dpi / 72
    font, head = _font(int(12 * pt)), _font(int(16 * pt))
    d.text((int(1.2 * dpi), int(1.0 * dpi)), "民事起诉状（示例）", font=head, fill=0)
    y = int(1.6 * dpi)
    paras = []
    for role in ("原告", "被告", "第三人"):
        name, phone, ident = fake.name(), fake.phone(), fake.id_number()
        paras.append(f"{role}姓名：{name}，性别：男，身份证号码：{ident}，联系电话：{phone}，住所地示例市示例区示例路{fake.rng.randrange(1, 300)}号。")
        truth.add("name", name)
        truth.add("id_number", ident)
        truth.add("phone", _e164(phone))
    paras.append("诉讼请求：一、判令被告立即停止侵害原告个人信息的行为；二、判令被告在全国性媒体上公开赔礼道歉。")
    paras.append("事实与理由：被告在未取得同意的情况下收集、出售用户个人信息，数量巨大，社会影响恶劣。")
    for p in paras:
        for line in _wrap(d, p, font, int(w - 2.4 * dpi)):
            d.text((int(1.2 * dpi), y), line, font=font, fill=0)
            y += int(12 * pt * 1.8)
        y += int(12 * pt)
    return img, truth


LAYOUTS = {"sms": sms, "chat": chat, "table": table, "calls": call_log}


# -- degradation -----------------------------------------------------------------------------


def degrade(img: Any, rng: random.Random) -> Any:
    """What sharing does to a screenshot: a slight rotation (a photo of a screen), downscaling,
    blur, then JPEG compression (done by the caller when saving)."""
    from PIL import Image, ImageFilter

    angle = rng.choice([-1.5, -1.0, 1.0, 1.5])
    img = img.convert("RGB").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    factor = rng.choice([0.8, 0.9])
    img = img.resize((int(img.width * factor), int(img.height * factor)), Image.Resampling.BILINEAR)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def scanned(img: Any, rng: random.Random) -> Any:
    """A scanner's page: half a degree of skew and some speckle."""
    from PIL import Image

    img = img.rotate(rng.choice([-0.5, 0.5]), resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
    px = img.load()
    for _ in range(img.width * img.height // 2000):
        px[rng.randrange(img.width), rng.randrange(img.height)] = rng.choice([0, 90])
    return img


# -- the sets --------------------------------------------------------------------------------

PHONE_SIZES = [(1080, 2340), (1170, 2532), (720, 1600), (1080, 1920)]


def write_truth(path: Path, truth: Truth, **extra: Any) -> None:
    data = {"values": truth.values, "masked": truth.masked, **extra}
    Path(str(path) + ".truth.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def make_set(out: Path, which: str, count: int | None = None, seed: int = 14) -> list[Path]:
    """Write a set of screens into ``out``: ``clean`` (PNG), ``degraded`` (rotated, blurred JPEG)
    or ``scanned`` (image-only PDF pages at 300 dpi). Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    fake = Fake(seed + {"clean": 0, "degraded": 1000, "scanned": 2000}[which])
    written: list[Path] = []
    if which == "scanned":
        n = count or 2
        for i in range(n):
            pages, truth = [], Truth()
            for p in (1, 2):
                img, t = a4_page(fake)
                pages.append(scanned(img, fake.rng))
                for v in t.values:
                    truth.add(v["kind"], v["value"], page=p)
            path = out / f"scan-{i:02d}.pdf"
            pages[0].save(path, "PDF", resolution=300, save_all=True, append_images=pages[1:])
            write_truth(path, truth, dpi=300)
            written.append(path)
        return written
    names = list(LAYOUTS)
    n = count or 8
    for i in range(n):
        layout = names[i % len(names)]
        size = PHONE_SIZES[(i // len(names)) % len(PHONE_SIZES)]
        if layout == "table":
            size = (size[0], min(size[1], 1400))
        img, truth = LAYOUTS[layout](fake, size)
        if which == "clean":
            path = out / f"{layout}-{i:02d}.png"
            img.save(path, optimize=False)
        else:
            img = degrade(img, fake.rng)
            path = out / f"{layout}-{i:02d}.jpg"
            img.save(path, quality=fake.rng.choice([45, 60, 75]))
        write_truth(path, truth)
        written.append(path)
    return written


def load_truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(str(path) + ".truth.json").read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "ocr-screens")
    for which in ("clean", "degraded", "scanned"):
        for p in make_set(target / which, which):
            print(p)
