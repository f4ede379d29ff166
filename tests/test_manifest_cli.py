"""Issue 8 item 7: one export, several check files; a later format re-uses matching copies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plitool.vault.case import Case

from .conftest import Cli


@pytest.fixture
def filled(case: Case, run: Cli, evidence_dir: Path) -> Case:
    assert run("add", "-r", str(evidence_dir)).exit_code == 0  # 3 items (the hidden note is skipped)
    return case


def _exports(run: Cli) -> list[dict]:
    return [e for e in json.loads(run("log", "--json").stdout) if e["event"] == "exported"]


def _check_all(out: Path) -> None:
    for argv in (["sha256sum", "-c", "SHA256SUMS"], ["b3sum", "-c", "B3SUMS"]):
        if shutil.which(argv[0]):
            check = subprocess.run(argv, cwd=out, capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
            assert check.stdout.count(": OK") == 3
    if shutil.which("hashdeep"):
        audit = subprocess.run(["hashdeep", "-a", "-k", "hashdeep.txt", "-l", "-r", "evidence"], cwd=out,
                               capture_output=True, text=True)
        assert audit.returncode == 0 and "Audit passed" in audit.stdout, audit.stdout + audit.stderr


def test_three_formats_over_one_export(filled: Case, run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("manifest", "--format", "sha256sum", "--format", "b3sum", "--format", "hashdeep",
                 "--export-dir", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(w["format"] for w in report["written"]) == ["b3sum", "hashdeep", "sha256sum"]
    assert len(report["exported"]) == 3 and not any(e["reused"] for e in report["exported"])
    assert sorted(p.name for p in out.iterdir()) == ["B3SUMS", "SHA256SUMS", "evidence", "hashdeep.txt"]
    assert len(list((out / "evidence").iterdir())) == 3  # one set of working copies
    assert len(_exports(run)) == 3  # one exported event per item
    _check_all(out)


def test_a_later_format_reuses_matching_copies(filled: Case, run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("manifest", "--format", "sha256sum", "--export-dir", str(out)).exit_code == 0
    inodes = {p.name: p.stat().st_ino for p in (out / "evidence").iterdir()}
    result = run("manifest", "--format", "b3sum", "--format", "hashdeep", "--export-dir", str(out), "--json")
    assert result.exit_code == 0, result.output  # no --force needed
    report = json.loads(result.stdout)
    assert all(e["reused"] for e in report["exported"]) and len(report["exported"]) == 3
    assert {p.name: p.stat().st_ino for p in (out / "evidence").iterdir()} == inodes  # no second copy
    assert len(_exports(run)) == 3  # and no second exported event
    _check_all(out)


def test_a_copy_that_differs_is_not_reused(filled: Case, run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("manifest", "--export-dir", str(out)).exit_code == 0
    victim = sorted((out / "evidence").iterdir())[0]
    victim.write_bytes(b"changed")
    result = run("manifest", "--format", "b3sum", "--export-dir", str(out))
    assert result.exit_code == 2 and victim.name in result.output
    assert not (out / "B3SUMS").exists()  # refused before anything was written
    result = run("manifest", "--format", "b3sum", "--export-dir", str(out), "--force", "--json")
    assert result.exit_code == 0, result.output
    rewritten = [e for e in json.loads(result.stdout)["exported"] if not e["reused"]]
    assert [Path(e["path"]).name for e in rewritten] == [victim.name]
    assert len(_exports(run)) == 4


def test_several_formats_need_an_export_dir(filled: Case, run: Cli, tmp_path: Path) -> None:
    result = run("manifest", "--format", "sha256sum", "--format", "b3sum")
    assert result.exit_code == 2
    result = run("manifest", "--format", "sha256sum", "--format", "b3sum", "-o", str(tmp_path / "x"))
    assert result.exit_code == 2 and not (tmp_path / "x").exists()
