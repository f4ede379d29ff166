"""The committed sample case (samples/) is what samples/make_samples.py generates, and it holds
together: flows.yaml passes ``plitool graph check`` once the sample files are added in the order
samples/demo.sh adds them, and the holdings carry the answer the demo's attribution should find."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from stdnum.cn import ric

from plitool.vault.case import Case

from .conftest import PROJECT_ROOT, Cli

SAMPLES = PROJECT_ROOT / "samples"
#: What make_samples.py writes (everything in samples/ but the scripts).
GENERATED = ("evidence", "holdings", "flows.yaml")


def _files(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for top in GENERATED:
        p = root / top
        for f in sorted([p] if p.is_file() else p.rglob("*")):
            if f.is_file():
                out[f.relative_to(root).as_posix()] = f.read_bytes()
    return out


def _demo_adds() -> list[Path]:
    """The sample files samples/demo.sh adds with 'plitool add', in its order, each once (adding
    the same file again is a custody event, not a new E-id)."""
    text = (SAMPLES / "demo.sh").read_text(encoding="utf-8")
    paths = re.findall(r'^plitool add "\$here/(samples/[^"]+)"', text, flags=re.M)
    return [PROJECT_ROOT / p for p in dict.fromkeys(paths)]


def _table(path: Path, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding))))


def test_committed_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "regenerated"
    subprocess.run([sys.executable, str(SAMPLES / "make_samples.py"), "--out", str(out)], check=True, timeout=120)
    committed, generated = _files(SAMPLES), _files(out)
    assert sorted(generated) == sorted(committed), "run python samples/make_samples.py and commit its output"
    changed = [name for name in generated if generated[name] != committed[name]]
    assert changed == [], "run python samples/make_samples.py and commit its output"
    assert all(len(data) < 100_000 for data in committed.values())


def test_flows_pass_graph_check_with_the_evidence_demo_adds(run: Cli, case: Case) -> None:
    # the screenshot of samples/screens/ is added last (E-0009), for the OCR step: flows.yaml cites no OCR finding
    adds = [p for p in _demo_adds() if p.parent.name != "screens"]
    assert [p.parent.name for p in adds] == ["evidence"] * 5 + ["holdings"] * 3
    for n, path in enumerate(adds, start=1):
        result = run("add", str(path), "--json")
        assert result.exit_code == 0, result.output
        assert f"E-{n:04d}" in result.stdout  # the ids flows.yaml cites
    shutil.copyfile(SAMPLES / "flows.yaml", case.root / "flows.yaml")
    result = run("graph", "check", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["problems"] == [] and data["agents"] == 9 and data["edges"] == 9
    cited = set(re.findall(r"E-\d{4}", (SAMPLES / "flows.yaml").read_text(encoding="utf-8")))
    assert cited == {f"E-{n:04d}" for n in range(1, len(adds) + 1)}  # every sample item is cited somewhere


def test_holdings_point_at_the_contractor_and_are_synthetic() -> None:
    leak = _table(SAMPLES / "evidence" / "泄露名单-群聊截获.csv", "gbk")
    shop = _table(SAMPLES / "holdings" / "shop-app-orders-2026-09.csv", "utf-8-sig")
    courier = _table(SAMPLES / "holdings" / "courier-waybills-2026-09.csv", "gbk")
    contractor = _table(SAMPLES / "holdings" / "cs-contractor-export-2026-08.csv", "utf-8")
    assert (len(shop), len(courier), len(contractor), len(leak)) == (417, 300, 110, 40)
    # one GBK file among the holdings: it must not decode as UTF-8
    try:
        (SAMPLES / "holdings" / "courier-waybills-2026-09.csv").read_bytes().decode("utf-8")
        raise AssertionError("the courier's waybills should be GBK")
    except UnicodeDecodeError:
        pass

    def key(name: str, phone: str, id_number: str, address: str, order: str) -> tuple[str, ...]:
        return name, phone.replace("+86", "").replace(" ", ""), id_number, address, order

    leaked = {key(r["姓名"], r["手机号"], r["身份证号"], r["收件地址"], r["订单号"]) for r in leak}
    in_shop = leaked & {key(r["收货人"], r["手机号"], r["身份证号"], r["收货地址"], r["订单号"]) for r in shop}
    in_courier = leaked & {key(r["收件人"], r["收件人电话"], r["证件号码"], r["收件地址"], r["订单号"]) for r in courier}
    in_contractor = leaked & {key(r["客户姓名"], r["联系电话"], r["身份证号"], r["收件地址"], r["订单号"])
                              for r in contractor}
    # the true source's export holds most of the list jointly (every field on one row); a few
    # leaked people come from elsewhere (3 only at the shop, 3 in no holdings at all)
    assert len(in_contractor) == 34 and in_contractor == in_courier and len(in_shop) == 37
    assert in_contractor < in_shop
    ids = [r["身份证号"] for r in shop] + [r["证件号码"] for r in courier] + [r["身份证号"] for r in contractor]
    assert all(i.startswith("99") and i[17] == ric.calc_check_digit(i) for i in ids)  # fake region, valid check digit
