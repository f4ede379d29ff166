"""Output a person reads (issue 8, items 10, 11, 12, 15): through the real command line.

A subprocess, not CliRunner, where the width of the terminal or a pipe matters: rich decides
how to lay out from the real stream and ``COLUMNS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


from plitool.timestamps.seal import timestamps_dir
from plitool.vault.case import Case

from .conftest import Cli
from .tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: F401 - fixtures

CHINESE_NAME = "泄露客户个人信息的截图证据材料第一份.png"  # 20 characters, 40 columns


def plitool(case_root: Path, *args: str | os.PathLike[str], columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLITOOL_LANG": "en"}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    argv = [sys.executable, "-m", "plitool.cli", "--case", str(case_root), *map(os.fspath, args)]
    # stdout and stderr are pipes here, as in a script or `plitool … 2>&1 | tee log`
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, cwd=case_root)


def init(root: Path, lang: str = "en") -> Path:
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(root), "--title", "output test", "--lang", lang],
                   check=True, capture_output=True, timeout=60)
    return root


# -- item 10: the evidence table in 80 columns ---------------------------------------------------


def test_list_in_80_columns_shows_the_whole_name_and_the_whole_time_in_the_case_zone(tmp_path: Path) -> None:
    case = init(tmp_path / "case", lang="zh")  # a zh case: times in Asia/Shanghai unless case.toml says otherwise
    f = tmp_path / CHINESE_NAME
    f.write_bytes(b"screenshot")
    added = plitool(case, "add", f, "--collected-at", "2026-11-01T10:00:00+00:00")
    assert added.returncode == 0, added.stderr

    shown = plitool(case, "list", columns=80)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines if line.isascii()), shown.stdout
    assert "2026-11-01 18:00:00+08:00" in shown.stdout, "the full date-time, in the case's zone, with its offset"
    # the name may wrap but is never cut: the row's first cell, then its continuation lines
    row = [i for i, line in enumerate(lines) if line.startswith("E-0001")][0]
    pieces = [lines[row].split()[1]] + [line.strip() for line in lines[row + 1:] if line.strip()]
    assert "".join(pieces) == CHINESE_NAME, shown.stdout
    assert "…" not in shown.stdout.replace("…  ", "")  # no ellipsis where a name or a date was cut
    assert "SHA-256" in shown.stderr  # left-out digest columns are named, not silently dropped

    wide = plitool(case, "list", columns=200)
    assert "SHA-256" in wide.stdout and CHINESE_NAME in wide.stdout

    record = json.loads(plitool(case, "list", "--json").stdout)[0]
    assert record["name"] == CHINESE_NAME and len(record["digests"]["sha256"]) == 64  # --json keeps everything


def test_case_timezone_from_case_toml_wins(tmp_path: Path) -> None:
    case = init(tmp_path / "case", lang="zh")
    toml = case / "case.toml"
    text = toml.read_text("utf-8")
    if "timezone" not in text:
        pytest.skip("case.toml has no timezone setting in this branch")
    toml.write_text(text.replace("Asia/Shanghai", "Europe/Berlin"), "utf-8")
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert plitool(case, "add", f, "--collected-at", "2026-11-01T10:00:00+00:00").returncode == 0
    assert "2026-11-01 11:00:00+01:00" in plitool(case, "list").stdout


# -- item 11: no hard wrap when stderr is not a terminal ----------------------------------------


def test_manifest_message_keeps_the_check_command_on_one_line_through_a_pipe(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-for-the-case-" * 3) / "案件"
    case = init(deep)
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert plitool(case, "add", f).returncode == 0
    out_dir = tmp_path / ("export-folder-with-a-long-name-" * 3)
    result = plitool(case, "manifest", "--export-dir", out_dir, columns=80)
    assert result.returncode == 0, result.stderr
    line = [ln for ln in result.stderr.splitlines() if "check it from" in ln]
    assert len(line) == 1, result.stderr
    assert line[0].endswith(f" with: sha256sum -c '{(out_dir / 'SHA256SUMS').resolve()}'"), result.stderr
    assert all(len(ln) > 80 for ln in line), "a long message stays whole rather than wrapped at 80 columns"


# -- item 12: show in words ----------------------------------------------------------------------


def test_show_prints_words_not_python_and_every_re_collection(tmp_path: Path) -> None:
    case = init(tmp_path / "case")
    f = tmp_path / "capture.har"
    f.write_text("{}")
    assert plitool(case, "add", f, "--tag", "harm,causation", "--collected-at", "2026-11-01T10:00:00+00:00",
                   "--source", "first source").returncode == 0
    again = plitool(case, "add", f, "--source", "https://app.example/api", "--method", "mitmproxy capture",
                    "--collected-by", "张三", "--note", "second device")
    assert again.returncode == 0 and "re-collected" in again.stdout

    shown = plitool(case, "show", "E-0001")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    for python_syntax in ("['", "']", "True", "False", "None", "{'"):
        assert python_syntax not in text, f"{python_syntax!r} in:\n{text}"
    assert "harm, causation" in text
    assert "(as stated at intake)" in text and "(not stated: the intake time)" in text
    # the re-collection's own record: source, method, who, note, time
    history = text.split("custody history:")[1]
    assert "re-collected" in history
    for value in ("https://app.example/api", "mitmproxy capture", "张三", "second device"):
        assert value in history, history
    assert "source" in history and "method" in history and "collected by" in history
    assert "SHA-256" in text and "BLAKE3" in text


# -- item 15: small ones -------------------------------------------------------------------------


def test_tags_split_on_commas(tmp_path: Path) -> None:
    case = init(tmp_path / "case")
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert plitool(case, "add", f, "--tag", "harm,causation", "--tag", " fault ，amount,, ", "--tag", "harm").returncode == 0
    assert json.loads(plitool(case, "list", "--json").stdout)[0]["tags"] == ["harm", "causation", "fault", "amount"]
    from plitool.cli.evidence_cmds import split_tags

    assert split_tags(("a、b", " ", ",")) == ("a", "b")


def test_counts_are_plural_only_when_plural(tmp_path: Path) -> None:
    case = init(tmp_path / "case")
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert plitool(case, "add", f).returncode == 0
    verified = plitool(case, "verify")
    assert "1 item," in verified.stdout and "1 file re-hashed" in verified.stdout, verified.stdout
    assert "(s)" not in verified.stdout and "1 files" not in verified.stdout and "1 items" not in verified.stdout
    manifest = plitool(case, "manifest", "-o", tmp_path / "SUMS")
    assert "(1 item)" in manifest.stderr, manifest.stderr


def test_log_is_one_readable_line_per_entry(tmp_path: Path) -> None:
    case = init(tmp_path / "case")
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert plitool(case, "add", f).returncode == 0
    assert plitool(case, "export", "E-0001", "--to", tmp_path / "out", "--reason", "for the court").returncode == 0
    lines = plitool(case, "log").stdout.splitlines()
    assert len(lines) == 3
    assert "case created" in lines[0] and "added" in lines[1] and "a.txt" in lines[1]
    assert "exported" in lines[2] and "for the court" in lines[2]


def test_sizes_use_binary_units() -> None:
    from plitool.cli.common import human_size

    assert human_size(1536) == "1.5 KiB" and human_size(5 * 1024**3) == "5.0 GiB"


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\nb", "a\\nb"), ("x\ry", "x\\ry"), ("\x1b[31m", "\\x1b[31m"), ("evil\u202etxt", "evil\\u202etxt"),
    ("\x9b", "\\x9b"), ("\x7f", "\\x7f"), ("泄露 客户.png", "泄露 客户.png"), ("[bold]", "[bold]"),
])
def test_safe_text(raw: str, shown: str) -> None:
    from plitool.cli.common import safe_text

    assert safe_text(raw) == shown


def test_seal_against_an_untrusted_root_advises_trust_add_and_verdicts_say_valid_once(
        case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("a")
    assert run("add", str(f)).exit_code == 0
    sealed = run("seal", "--tsa", local_tsa.url)
    assert sealed.exit_code == 1
    advice = sealed.stderr.strip().splitlines()[-1]
    assert "plitool trust add" in advice and "not trusted" not in advice.split("plitool trust add")[1]
    root_sha256 = json.loads(run("verify", "--json").stdout)["timestamps"][0]["root_sha256"]
    assert root_sha256 in advice, "the advice names the root to look for"

    tsr = sorted(timestamps_dir(case).rglob("*.tsr"))[0]
    checked = run("timestamp", "verify", str(tsr), "--data", str(tsr.parent / "checkpoint.txt"), "--ca", str(pki.ca))
    assert checked.exit_code == 0, checked.output
    first = checked.stdout.splitlines()[0]
    assert first.startswith("VALID ") and not first.lower().startswith("valid valid"), first


def test_case_zone_is_the_case_configs_zone() -> None:
    """case.toml's ``timezone``, else Asia/Shanghai for zh: the zone --collected-at is read in too.
    (A bad name never gets this far: the one case.toml loader refuses it, naming the line.)"""
    from datetime import timezone
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from plitool.cli.common import case_zone, when
    from plitool.vault.config import CaseConfig

    def zone(**config: object) -> object:
        return case_zone(SimpleNamespace(config=CaseConfig(title="t", **config)))  # type: ignore[arg-type]

    assert zone(lang="zh") == ZoneInfo("Asia/Shanghai")
    assert zone(lang="zh", timezone="Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone(lang="en", timezone="Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert when("2026-11-01T10:00:00.000000Z", ZoneInfo("Asia/Shanghai")) == "2026-11-01 18:00:00+08:00"
    assert when("2026-11-01T10:00:00Z", timezone.utc) == "2026-11-01 10:00:00+00:00"
