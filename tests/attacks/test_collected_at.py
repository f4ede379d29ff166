"""Stated collection times (issue 8, item 6): no future times; no offset means the case's zone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Plitool


def _set_timezone(case_root: Path, value: str) -> None:
    toml = case_root / "case.toml"
    text = re.sub(r"(?m)^timezone = .*\n", "", toml.read_text("utf-8"))
    toml.write_text(text.replace("[case]\n", f"[case]\ntimezone = {value}\n", 1), "utf-8")


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    f = tmp_path / "受害人截图.png"
    f.write_bytes(b"\x89PNG screenshot")
    return f


@pytest.fixture
def zh_case(tmp_path: Path) -> Plitool:
    root = tmp_path / "zh-case"
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(root), "--title", "某案", "--lang", "zh"],
                   check=True, capture_output=True, timeout=TIMEOUT)
    return Plitool(root)


def _record(plitool: Plitool) -> dict:  # type: ignore[type-arg]
    shown = plitool("show", "E-0001", "--json")
    assert shown.code == 0, shown.err
    return json.loads(shown.out)["record"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("ahead", [timedelta(hours=2), timedelta(days=365)])
def test_a_collection_time_in_the_future_is_refused(plitool: Plitool, evidence: Path, ahead: timedelta) -> None:
    future = (datetime.now(timezone.utc) + ahead).isoformat(timespec="minutes")
    run = plitool("add", str(evidence), "--collected-at", future)
    assert run.code == 2, run.out + run.err
    lines = run.err.splitlines()
    assert len(lines) == 1 and "in the future" in lines[0], run.err
    assert plitool("list", "--json").out.strip() == "[]"  # nothing recorded


def test_a_collection_time_within_the_clock_tolerance_is_kept(plitool: Plitool, evidence: Path) -> None:
    soon = (datetime.now(timezone.utc) + timedelta(minutes=2)).isoformat(timespec="seconds")
    run = plitool("add", str(evidence), "--collected-at", soon)
    assert run.code == 0, run.err
    assert _record(plitool)["collected_at_stated"] is True


def test_no_offset_is_read_as_shanghai_in_a_zh_case_and_said(zh_case: Plitool, evidence: Path) -> None:
    run = zh_case("add", str(evidence), "--collected-at", "2026-10-01T14:30", env={"TZ": "UTC"})
    assert run.code == 0, run.err
    assert "read 2026-10-01T14:30 as Asia/Shanghai (+08:00)" in run.err
    record = _record(zh_case)
    assert record["collected_at"].startswith("2026-10-01T06:30:00")
    assert record["collected_at_offset"] == "+08:00"


def test_no_offset_is_read_in_case_toml_timezone(plitool: Plitool, case_root: Path, evidence: Path) -> None:
    _set_timezone(case_root, '"Europe/Berlin"')
    run = plitool("add", str(evidence), "--collected-at", "2026-07-01T09:00", env={"TZ": "Asia/Shanghai"})
    assert run.code == 0, run.err
    assert "read 2026-07-01T09:00 as Europe/Berlin (+02:00)" in run.err  # summer time
    record = _record(plitool)
    assert record["collected_at"].startswith("2026-07-01T07:00:00") and record["collected_at_offset"] == "+02:00"


def test_a_stated_offset_is_kept_and_no_note_is_given(zh_case: Plitool, evidence: Path) -> None:
    run = zh_case("add", str(evidence), "--collected-at", "2026-10-01T14:30-05:00")
    assert run.code == 0, run.err
    assert "read " not in run.err
    record = _record(zh_case)
    assert record["collected_at"].startswith("2026-10-01T19:30:00") and record["collected_at_offset"] == "-05:00"


def test_an_unknown_timezone_in_case_toml_is_refused(plitool: Plitool, case_root: Path, evidence: Path) -> None:
    _set_timezone(case_root, '"Mars/Olympus_Mons"')
    run = plitool("add", str(evidence))
    assert run.code == 2
    assert "[case] timezone" in run.err and "line " in run.err
