"""The QuickRide sample case (samples/quickride/): the committed files are what generate.py writes,
byte for byte; the ground truth agrees with the files; and run.sh, driving the real CLI on a
fresh copy, attributes the seized list to the true source by the true path without any raw
personal value in attribution.json or the graph exports."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import ric, uscc

from .conftest import PROJECT_ROOT

QR = PROJECT_ROOT / "samples" / "quickride"
SCRIPTS = ("generate.py", "run.sh", "issue_canaries.py")


def _committed() -> dict[str, bytes]:
    return {p.relative_to(QR).as_posix(): p.read_bytes() for p in sorted(QR.rglob("*"))
            if p.is_file() and p.name not in SCRIPTS and "__pycache__" not in p.parts}


def _truth() -> dict[str, Any]:
    return json.loads((QR / "truth.json").read_text("utf-8"))


def _table(name: str, encoding: str = "utf-8") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((QR / name).read_bytes().decode(encoding))))


def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "regenerated"
    subprocess.run([sys.executable, str(QR / "generate.py"), "--out", str(out)], check=True, timeout=300,
                   capture_output=True)
    generated = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    committed = _committed()
    assert sorted(generated) == sorted(committed), "run python samples/quickride/generate.py and commit its output"
    # Pictures are drawn with the system's CJK font, whose exact pixels depend on the installed
    # FreeType and font package versions: for them the size and the mode must match, every other
    # file byte for byte.
    pictures = [name for name in generated if name.endswith(".png")]
    changed = [name for name in generated if name not in pictures and generated[name] != committed[name]]
    assert changed == [], f"run python samples/quickride/generate.py and commit its output: {changed}"
    from PIL import Image
    for name in pictures:
        with Image.open(io.BytesIO(generated[name])) as new, Image.open(io.BytesIO(committed[name])) as old:
            assert (new.size, new.mode) == (old.size, old.mode), name
    assert sum(len(d) for d in committed.values()) < 5 * 1024 * 1024


def test_truth_agrees_with_the_files() -> None:
    truth = _truth()
    leak = _table("evidence/seized-list-gbk.csv", "gbk")
    assert len(leak) == truth["leak"]["rows"] == 5000
    masked_phones = [r for r in leak if "*" in r["手机号"]]
    masked_names = [r for r in leak if r["姓名"].endswith("某")]
    lk = truth["leak"]
    assert len(masked_phones) == lk["of_which_masked_phone"] + lk["of_which_masked_name_and_phone_without_waybill"]
    assert len(masked_names) >= lk["of_which_masked_name"] + lk["of_which_masked_name_and_phone_without_waybill"]
    assert sum(1 for r in leak if r["设备号"]) == lk["of_which_with_device_id_from_adnova"]
    export = {r["运单号"] for r in _table("holdings/huilian-cs-export-2026-08.csv")}
    waybills = {r["运单号"] for r in _table("holdings/fastroute-waybills-2026-09.csv")}
    assert export <= waybills  # the contractor's export was taken from FastRoute's waybills
    from_export = [r for r in leak if r["运单号"] in export]
    assert len(from_export) == lk["from_cs_contractor_export"] - lk["of_which_masked_name_and_phone_without_waybill"]
    # the canaries: those truth says are in the leak are, the others are not
    phones = {r["手机号"] for r in leak}
    pool = [line for line in (QR / "canary-pool.txt").read_text("utf-8").splitlines() if line and not line.startswith("#")]
    issued = [c["phone"] for agent in ("quickride", "fastroute", "cs-contractor") for c in truth["canaries"]["by_agent"][agent]]
    assert issued == pool  # 'canary issue --pool' hands numbers out in file order
    for agent, markers in truth["canaries"]["by_agent"].items():
        in_leak = {c["marker"] for c in markers if c["phone"] in phones}
        assert in_leak == set(truth["canaries"]["in_leak"][agent])
    # every agent of the truth is in flows.yaml; the credit codes are valid and fictional (region 99)
    flows = (QR / "flows.yaml").read_text("utf-8")
    for agent in truth["path"] + [truth["origin"]]:
        assert f"id: {agent}\n" in flows
    for code in truth["uscc"].values():
        assert uscc.is_valid(code) and code[2:4] == "99" and code in flows
        assert code in (QR / "case.toml").read_text("utf-8")


def test_identity_numbers_are_valid_but_cannot_be_anyones() -> None:
    from openpyxl import load_workbook

    wb = load_workbook(QR / "holdings" / "quickride-riders-2026-09.xlsx", read_only=True)
    rows = list(wb.active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == _truth()["holdings"]["quickride"]["rows"]
    for row in rows:
        ident = str(row[3])
        # valid check digit and birth date (as plitool's detector requires), unassigned region 99xxxx
        # (so stdnum's is_valid, which looks the region up, says no: nobody can have this number)
        assert ric.calc_check_digit(ident) == ident[-1] and ident.startswith("99"), ident
        assert ric.get_birth_date(ident) is not None
        assert not ric.is_valid(ident)
        assert re.fullmatch(r"1\d\d0000\d{4}", str(row[2]))


def test_flows_cite_the_ids_run_sh_gives() -> None:
    """flows.yaml cites E-ids by the order in which run.sh adds the files; truth.json lists it."""
    text = (QR / "run.sh").read_text("utf-8")
    adds = re.findall(r'^\s*plitool add "\$s/([^"]+)"', text, flags=re.M)
    expanded: list[str] = []
    for path in adds:
        if "$n" in path:  # the statements' loop
            loop = re.search(r"for n in ([\d ]+); do", text)
            assert loop is not None
            expanded += [path.replace("$n", n) for n in loop.group(1).split()]
        else:
            expanded.append(path)
    expected = _truth()["evidence_ids"]
    assert {f"E-{i:04d}": p for i, p in enumerate(expanded, start=1)} == expected
    cited = set(re.findall(r"E-\d{4}", (QR / "flows.yaml").read_text("utf-8")))
    assert cited <= set(expected)


# -- the whole run, through the CLI ----------------------------------------------------------------


def _raw_values() -> set[str]:
    """Every personal value of the sample (canary SIMs excluded: markers are shown in full by design)."""
    values: set[str] = set()
    flows_text = (QR / "flows.yaml").read_text("utf-8") + (QR / "case.toml").read_text("utf-8")

    def add(v: object) -> None:
        s = str(v or "").strip()
        if not s or "*" in s or s.endswith("某"):
            return
        if len(s) <= 2 and s in flows_text:
            return  # a two-character name that is also part of an organisation's name
        values.add(s)

    for r in _table("evidence/seized-list-gbk.csv", "gbk"):
        for k in ("姓名", "手机号", "收件地址", "运单号", "设备号"):
            add(r[k])
    for r in _table("holdings/huilian-cs-export-2026-08.csv"):
        for k in ("运单号", "收件人", "联系电话", "收件地址"):
            add(r[k])
    for line in (QR / "test-phone.txt").read_text("utf-8").splitlines():
        if ":" in line and not line.startswith("#"):
            add(line.split(":", 1)[1])
    return values


@pytest.fixture(scope="module")
def quickride_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed for the demo TSA")
    base = tmp_path_factory.mktemp("quickride")
    shim = base / "bin"
    shim.mkdir()
    plitool = shim / "plitool"
    plitool.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m plitool.cli "$@"\n')
    plitool.chmod(plitool.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(PROJECT_ROOT), "PLITOOL_PYTHON": sys.executable}
    env.pop("PLITOOL_CASE", None)
    env.pop("PLITOOL_LANG", None)
    out = base / "out"
    proc = subprocess.run(["bash", str(QR / "run.sh"), str(out)], env=env, capture_output=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
    return out


@pytest.mark.slow
def test_run_attributes_the_seized_list_to_the_true_source_by_the_true_path(quickride_run: Path) -> None:
    truth = _truth()
    result = json.loads((quickride_run / "attribution.json").read_text("utf-8"))
    assert result["schema"] == "plitool.attribution/1"
    assert result["sighting"] == truth["sighting"]
    assert result["records"] == truth["leak"]["rows"]
    assert result["marker_records"] == sum(len(v) for v in truth["canaries"]["in_leak"].values())
    assert result["top"] == truth["source"]
    assert result["agents"][0]["agent"] == truth["source"]
    assert result["verdict"] == "conclusive"
    path = [{"from": e["from"], "to": e["to"], "kind": e["kind"]} for e in result["paths"][0]["edges"]]
    assert path == truth["path_edges"]
    hits = {a["agent"]: a["markers_hit"] for a in result["agents"]}
    assert hits == truth["expected_markers_hit"]
    # the device-id rows need a field no single agent held: excluded by fields for the source
    source = result["agents"][0]
    assert source["excluded_by_fields"] == truth["leak"]["of_which_with_device_id_from_adnova"]


@pytest.mark.slow
def test_run_outputs_hold_no_raw_personal_value(quickride_run: Path) -> None:
    outputs = [quickride_run / n for n in ("attribution.json", "graph.dot", "graph.graphml", "graph.prov.json", "graph.svg")]
    outputs = [p for p in outputs if p.exists()]
    assert quickride_run / "attribution.json" in outputs and quickride_run / "graph.dot" in outputs
    if shutil.which("dot"):
        assert quickride_run / "graph.svg" in outputs
    values = _raw_values()
    assert len(values) > 10_000
    for p in outputs:
        text = p.read_text("utf-8")
        leaked = sorted(v for v in values if v in text)
        assert leaked == [], f"{p.name} holds raw personal values: {leaked[:5]}"
