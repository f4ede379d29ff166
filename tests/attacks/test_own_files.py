"""Issue 7 item 4: the tool's own files (.plitool/, case.toml) are never taken as evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import Plitool


@pytest.mark.parametrize(
    "args",
    [
        (".plitool/keys/fingerprint.key",),
        ("-r", ".plitool"),
        ("-r", ".plitool/keys"),
        ("case.toml",),
        (".plitool/ledger.jsonl",),
        ("--hidden", "-r", ".plitool"),
    ],
)
def test_adding_the_tools_own_files_is_refused(plitool: Plitool, args: tuple[str, ...]) -> None:
    run = plitool("add", *args)
    assert run.code == 2, run.err
    assert "plitool: error:" in run.err
    assert json.loads(plitool("list", "--json").out) == []


def test_own_files_named_by_another_path_are_refused(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    run = plitool("add", str(case_root / "sub" / ".." / ".plitool" / "keys" / "fingerprint.key"), cwd=tmp_path)
    assert run.code == 2, run.err
    link_parent = tmp_path / "state"
    link_parent.symlink_to(case_root / ".plitool")
    run = plitool("add", link_parent / "keys" / "fingerprint.key")
    assert run.code == 2, run.err
    assert json.loads(plitool("list", "--json").out) == []


def test_add_r_of_case_root_skips_own_files_with_a_note(plitool: Plitool, case_root: Path) -> None:
    (case_root / "evidence.txt").write_bytes(b"real evidence\n")
    run = plitool("add", "-r", "--hidden", ".", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert [Path(r["path"]).name for r in data["results"]] == ["evidence.txt"]
    skipped = {Path(s["path"]).name: s["reason"] for s in data["skipped"]}
    assert ".plitool" in skipped and "case.toml" in skipped
    assert "plitool" in skipped["case.toml"] or "case" in skipped["case.toml"]


def test_scan_of_own_files_is_refused(plitool: Plitool) -> None:
    run = plitool("scan", ".plitool/keys/fingerprint.key")
    assert run.code == 2, run.err
    assert json.loads(plitool("list", "--json").out) == []


def test_case_file_of_another_case_is_ordinary_evidence(plitool: Plitool, tmp_path: Path, case_root: Path) -> None:
    """The rule is about this case's own files: a copy of case.toml elsewhere is just a file."""
    other = tmp_path / "copy-of-case.toml"
    shutil.copy(case_root / "case.toml", other)
    assert plitool("add", other).code == 0
