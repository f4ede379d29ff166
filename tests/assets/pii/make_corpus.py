"""Generate the labelled detection corpus ``corpus.jsonl`` (synthetic; run from the repo root).

Each line: ``{"text": ..., "labels": [{"type": ..., "value": <normalised>}, ...]}``. Sentences mix
Chinese and English templates, the forms people write numbers in (spaces, dashes, +86/0086,
full-width digits), and distractors that must not be found (order numbers, timestamps, ID
numbers with a wrong check digit or birth date, masked values, phone numbers glued to letters).
``tests/test_pii_corpus.py`` regenerates it in memory and checks the committed file is the same.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

try:
    from . import synth
except ImportError:  # run as a script
    import synth  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
SEED = 20261129
LINES = 800

FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def phone_form(rng: random.Random, national: str) -> str:
    a, b, c = national[:3], national[3:7], national[7:]
    form = rng.choice(["plain", "plain", "space", "dash", "+86", "+86 space", "0086", "86", "full", "(+86)"])
    return {
        "plain": national, "space": f"{a} {b} {c}", "dash": f"{a}-{b}-{c}", "+86": f"+86{national}",
        "+86 space": f"+86 {a} {b} {c}", "0086": f"0086-{national}", "86": f"86{national}",
        "full": national.translate(FULLWIDTH), "(+86)": f"(+86) {a}-{b}-{c}",
    }[form]


def line(rng: random.Random) -> dict:
    parts: list[str] = []
    labels: list[dict] = []
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if pick < 0.3:
            p = synth.fake_phone(rng)
            parts.append(rng.choice(["手机", "电话：", "call ", "联系方式 ", "Tel: ", "客户"]) + phone_form(rng, p))
            labels.append({"type": "phone", "value": "+86" + p})
        elif pick < 0.55:
            i = synth.fake_id(rng)
            if rng.random() < 0.15:
                i = i[:-1] + i[-1].lower()
            parts.append(rng.choice(["身份证号", "证件号码：", "ID ", "身份证 "]) + i)
            labels.append({"type": "id_number", "value": i.upper()})
        elif pick < 0.75:
            e = synth.fake_email(rng)
            shown = e.upper() if rng.random() < 0.1 else e
            parts.append(rng.choice(["邮箱", "email: ", "联系邮箱 ", "<", "mailto:"]) + shown + rng.choice(["", ">", "。", " "]))
            labels.append({"type": "email", "value": e})
        else:
            kind = rng.choice(["order", "badid", "baddate", "masked_phone", "masked_id", "time", "price"])
            if kind == "order":
                parts.append("订单号 " + synth.order_number(rng))
            elif kind == "badid":
                parts.append("身份证号" + synth.fake_id(rng, valid=False))
            elif kind == "baddate":
                parts.append("证件 " + synth.fake_id_bad_date(rng))
            elif kind == "masked_phone":
                p = synth.fake_phone(rng)
                parts.append(f"尾号 {p[:3]}****{p[-4:]}")
            elif kind == "masked_id":
                i = synth.fake_id(rng)
                parts.append(f"{i[:6]}********{i[-4:]}")
            elif kind == "time":
                parts.append(f"时间 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}")
            else:
                parts.append(f"金额 {rng.randint(1, 99999)}.{rng.randint(0, 99):02d} 元")
    return {"text": rng.choice(["，", "; ", " ", "　"]).join(parts), "labels": labels}


def build() -> list[dict]:
    rng = random.Random(SEED)
    return [line(rng) for _ in range(LINES)]


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


if __name__ == "__main__":
    (HERE / "corpus.jsonl").write_text(render(build()), encoding="utf-8")
