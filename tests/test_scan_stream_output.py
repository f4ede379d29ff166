"""``scan --json --limit 0`` is written as the findings come (issue 12): the same bytes as the
report built whole, an -o file that appears whole or not at all, no traceback on Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from plitool.cli import scan_cmds

from .assets.pii import files, synth
from .conftest import Cli

HEADER = ["姓名", "手机号", "身份证号", "收件地址", "备注"]


def leak(path: Path, rows: int, seed: int, shared: list[list[str]] = ()) -> list[list[str]]:  # type: ignore[assignment]
    rng = random.Random(seed)
    data = [[rng.choice("王李张") + synth.fake_name(rng)[1:], synth.fake_phone(rng), synth.fake_id(rng),
             synth.fake_address(rng), rng.choice(["", "张某", "备用 138****1234", "a@example.invalid"])]
            for _ in range(rows)] + list(shared)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows(data)
    path.write_bytes(buf.getvalue().encode("gb18030"))
    return data


def built_whole(monkeypatch: pytest.MonkeyPatch, run: Cli, *args: str) -> str:
    """The report as ``scan`` built it before streaming: one document, then ``emit_json``."""
    with monkeypatch.context() as m:
        m.setattr(scan_cmds, "StreamedReport", lambda *a, **k: None)
        result = run("scan", "--json", "--limit", "0", *args)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def added(run: Cli, *paths: Path | str) -> list[str]:
    """Evidence goes through 'plitool add' and is used by its E-id."""
    result = run("add", "--json", *map(str, paths))
    assert result.exit_code == 0, result.output
    return [r["item"] for r in json.loads(result.stdout)["results"]]


def files_for(run: Cli, tmp_path: Path) -> list[str]:
    a = tmp_path / "a.csv"
    rows = leak(a, 150, 1)
    b = tmp_path / "b.csv"
    leak(b, 60, 2, shared=rows[:7])  # seven people in both files: shared values
    har = files.make_har(tmp_path / "capture.har", rows[0][1], "zs@example.invalid",
                         "A1B2C3D4-0000-4000-8000-000000000001")
    empty = tmp_path / "empty.txt"
    empty.write_text("无\n", encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text('{"phone": "13812341234", "x": [1, ', encoding="utf-8")
    return added(run, a, b, har, empty, bad)


def test_streamed_report_is_byte_for_byte_the_report_built_whole(run: Cli, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    targets = files_for(run, tmp_path)
    streamed = run("scan", "--json", "--limit", "0", *targets)
    assert streamed.exit_code == 1  # bad.json failed; the others are reported
    whole = built_whole(monkeypatch, run, *targets)
    assert streamed.stdout == whole
    data = json.loads(streamed.stdout)
    assert data["shared"] and data["shared_compares"] == "all findings"
    names = {f["masked"] for f in data["files"][0]["findings"] if f["type"] == "name" and not f["partial"]}
    assert any(m.endswith("某甲") for m in names)  # several names share a surname: ordinals, decided at the end
    assert all(not f["findings_truncated"] for f in data["files"])
    assert sum(len(f["findings"]) for f in data["files"]) == sum(f["total"] for f in data["files"])
    assert data["files"][4]["status"] == "failed"


@pytest.mark.parametrize("extra", [[], ["--types", "phone,name"], ["--reveal", "--reason", "test"]])
def test_one_file_and_options(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]) -> None:
    path = tmp_path / "one.csv"
    leak(path, 80, 3)
    (item,) = added(run, path)
    streamed = run("scan", "--json", "--limit", "0", *extra, item)
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == built_whole(monkeypatch, run, *extra, item)


def test_a_file_without_findings(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "none.txt"
    path.write_text("nothing personal\n", encoding="utf-8")
    (item,) = added(run, path)
    streamed = run("scan", "--json", "--limit", "0", item)
    assert streamed.stdout == built_whole(monkeypatch, run, item)
    assert json.loads(streamed.stdout)["files"][0]["findings"] == []


def test_report_to_a_file_appears_whole(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "one.csv"
    leak(path, 40, 4)
    (item,) = added(run, path)
    report = tmp_path / "out" / "report.json"
    first = run("scan", "--json", "--limit", "0", "-o", str(report), item)
    assert first.exit_code == 0 and first.stdout == ""
    assert report.read_text(encoding="utf-8") == built_whole(monkeypatch, run, item)
    again = run("scan", "--json", "--limit", "0", "-o", str(report), item)
    assert again.exit_code == 2 and "already exists" in again.output
    limited = run("scan", "--json", "-o", str(report), "--force", item)  # the default limit: built whole
    assert limited.exit_code == 0
    assert json.loads(report.read_text(encoding="utf-8"))["files"][0]["findings_truncated"] is True
    assert not [p for p in report.parent.iterdir() if p.name != "report.json"]  # no temporary file left


def test_o_without_json_or_boxes_is_refused(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("x\n", encoding="utf-8")
    result = run("scan", "-o", str(tmp_path / "r.json"), str(path))
    assert result.exit_code == 2 and "--json" in result.output


def test_interrupted_scan_leaves_no_report_file(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool.cli.scan_report import StreamedReport

    path = tmp_path / "one.csv"
    leak(path, 40, 5)
    (item,) = added(run, path)
    report = tmp_path / "report.json"
    seen = []

    def interrupt(self: StreamedReport, item: object, f: object) -> None:
        seen.append(f)
        if len(seen) == 30:
            raise KeyboardInterrupt

    monkeypatch.setattr(StreamedReport, "on_finding", interrupt)
    from plitool.cli.main import cli

    result = run.runner.invoke(cli, ["--lang", "en", "--case", str(run.case_root), "scan", "--json", "--limit", "0",
                                     "-o", str(report), item])
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert "interrupted" in result.output
    assert not report.exists() and list(tmp_path.glob(".tmp-*")) == []
