"""A crash (kill -9) at any point of an intake never corrupts a case, and `repair` mends what it leaves.

Each test runs the real command in a child process that dies with os._exit at one chosen point,
then checks what verify says, what repair does, and that the case works afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from plitool.vault.case import Case
from plitool.vault.journal import IntakeJournal, find_leftovers

from .conftest import Cli

CRASHING_CHILD = r"""
import os, sys
from plitool.vault import ledger, store

point = sys.argv[1]
real_commit = store.ObjectStore.commit
linked = [0]

def commit_then_die(self, *args, **kwargs):
    if point == "after-staging" or (point == "after-some-links" and linked[0] == 3):
        os._exit(9)
    linked[0] += 1
    return real_commit(self, *args, **kwargs)

store.ObjectStore.commit = commit_then_die
if point == "before-ledger":
    ledger.Ledger.append = lambda self, *a, **k: os._exit(9)
if point == "mid-ledger-write":
    real_write = os.write
    def half_then_die(fd, data):
        data = bytes(data)
        if b'"event":"added"' in data:  # the ledger append: half of it reaches the disk
            real_write(fd, data[: len(data) // 2])
            os._exit(9)
        return real_write(fd, data)
    os.write = half_then_die

from plitool.cli.main import cli
cli.main(sys.argv[2:], prog_name="plitool")
"""

POINTS = ["after-staging", "after-some-links", "before-ledger", "mid-ledger-write"]


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(8):
        (folder / f"screenshot-{i}.png").write_bytes(f"image {i}".encode() * 100)
    return folder


def _crash(case: Case, point: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, point, "--case", str(case.root), "add", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 9, proc.stderr


def _verify(run: Cli) -> tuple[int, dict]:
    result = run("verify", "--json")
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("point", POINTS)
def test_crash_during_intake_then_repair(case: Case, run: Cli, batch: Path, evidence_dir: Path, point: str) -> None:
    assert run("add", "-r", str(evidence_dir)).exit_code == 0  # evidence recorded before the crash
    before = json.loads(run("list", "--json").stdout)
    _crash(case, point, "-r", str(batch))

    code, report = _verify(run)
    kinds = {p["kind"] for p in report["problems"]}
    if point == "mid-ledger-write":
        assert code == 1 and kinds == {"ledger"}  # the incomplete line, and nothing else
        assert "incomplete line" in report["problems"][0]["message"]
    else:
        assert code == 0, report["problems"]  # leftovers are not tampering
    assert any("interrupted intake" in n for n in report["notes"])
    after = json.loads(run("list", "--json").stdout)
    assert after[: len(before)] == before
    recorded = len(after) - len(before)
    if point == "mid-ledger-write":
        # Entries are durable one by one: the complete lines that reached the disk stand, each
        # with its object in the store (verify re-hashed them above), the torn line does not.
        assert 0 < recorded < 8
        assert [i["name"] for i in after[len(before):]] == [f"screenshot-{i}.png" for i in range(recorded)]
    else:
        assert recorded == 0  # nothing recorded, nothing half-recorded

    result = run("repair", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["repaired"] is True
    code, report = _verify(run)
    assert code == 0 and not report["notes"], report
    assert not [p for p in case.paths.staging.iterdir()]
    unrecorded = list(case.paths.repair.glob("unrecorded-objects-*/*"))
    linked = {"after-staging": 0, "after-some-links": 3}.get(point, 8)
    assert len(unrecorded) == linked - recorded  # only what no entry refers to is set aside
    assert [e["event"] for e in json.loads(run("log", "--json").stdout)][-1] == "repaired"

    # the case works on: the same batch goes in again, and what was recorded is recognised
    result = run("add", "-r", str(batch), "--json")
    assert result.exit_code == 0, result.output
    events = [r["event"] for r in json.loads(result.stdout)["results"]]
    assert events == ["re-collected"] * recorded + ["added"] * (8 - recorded)
    assert run("verify").exit_code == 0


def test_a_running_intake_is_left_alone(case: Case, run: Cli, batch: Path) -> None:
    journal = IntakeJournal.start(case.paths.staging)  # this test's own process "is" the running intake
    try:
        (case.paths.staging / f"{journal.staging_prefix}x").write_bytes(b"half-copied")
        (leftover,) = find_leftovers(case.paths.staging)
        assert leftover.running and len(leftover.staging) == 1
        code, report = _verify(run)
        assert code == 0 and any("running" in n for n in report["notes"])
        assert json.loads(run("repair", "--json").stdout)["repaired"] is False
        assert (case.paths.staging / f"{journal.staging_prefix}x").exists()
    finally:
        journal.abandon()
    (leftover,) = find_leftovers(case.paths.staging)
    assert not leftover.running and leftover.journal is None  # abandoned before linking: journal gone


def test_an_unrecorded_object_without_a_journal_is_still_a_problem(case: Case, run: Cli, batch: Path) -> None:
    assert run("add", "-r", str(batch)).exit_code == 0
    planted = case.paths.objects / "sha256" / "ab" / ("ab" + "0" * 62)
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"planted")
    code, report = _verify(run)
    assert code == 1 and [p["kind"] for p in report["problems"]] == ["unexpected"]
    run("repair")
    assert planted.exists()  # repair never removes what no interrupted intake accounts for
