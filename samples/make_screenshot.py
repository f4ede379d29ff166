"""Draw the sample case's scam-SMS screenshot: samples/screens/scam-sms-2026-10-21.png.

A fictional victim's phone shows a fake courier's SMS quoting her name, phone number and order
number (the first row of the leaked list in samples/evidence/), plus a callback number and a
masked number. Drawn with Pillow and Noto Sans CJK SC (fonts-noto-cjk) or WenQuanYi Micro Hei:
the same font gives the same bytes. Synthetic data only.

    python samples/make_screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
         ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0))
OUT = Path(__file__).resolve().parent / "screens" / "scam-sms-2026-10-21.png"
MESSAGES = (
    ("10月21日 09:12", "【示例速递】王娟桂您好，您在示例购物App的订单SO128457041711包裹在运输途中丢失，"
                       "收件人姓名：王娟桂，收件电话：158 2108 9404。"),
    ("10月21日 09:13", "理赔专员将联系您办理双倍赔付，请保持电话畅通，退款专线 139-2046-7713（工号 6618）。"),
    ("10月21日 09:20", "温馨提示：您尾号9404的账户158****9404已通过实名核验，请勿泄露验证码。"),
)


def font(size: int) -> ImageFont.FreeTypeFont:
    for path, index in FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size, index=index)
    raise SystemExit("no CJK font: apt install fonts-noto-cjk (or fonts-wqy-microhei)")


def wrap(draw: ImageDraw.ImageDraw, text: str, f: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=f) > width and line:
            lines.append(line)
            line = ch
        else:
            line += ch
    return lines + ([line] if line else [])


def draw() -> Image.Image:
    w, h = 1080, 2340
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 200), fill=(246, 246, 246))
    d.text((60, 40), "< 信息", font=font(40), fill=(0, 122, 255))
    d.text((360, 100), "106 9000 0001", font=font(44), fill=(0, 0, 0))
    body, small = font(40), font(30)
    y = 280
    for when, text in MESSAGES:
        d.text((w // 2 - 110, y), when, font=small, fill=(140, 140, 140))
        y += 60
        lines = wrap(d, text, body, 760)
        box_h = len(lines) * 58 + 60
        d.rounded_rectangle((40, y, 860, y + box_h), radius=30, fill=(233, 233, 235))
        for i, line in enumerate(lines):
            d.text((70, y + 30 + i * 58), line, font=body, fill=(20, 20, 20))
        y += box_h + 70
    d.text((60, h - 120), "（虚构示例，plitool 示例案件）", font=small, fill=(160, 160, 160))
    return img


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(out, format="PNG", optimize=True)
    print(out)
