"""Issue 7 item 6: symlinks and FIFOs in the store, the journals, the checkpoints and the sources.

Every run has the fixture's timeout, so an attack that makes plitool hang fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import Plitool
from .hooked import run_hooked


@pytest.fixture
def stored(plitool: Plitool, case_root: Path, tmp_path: Path) -> Path:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence bytes\n")
    assert plitool("add", src).code == 0
    (obj,) = [p for p in (case_root / ".plitool" / "objects" / "sha256").rglob("*") if p.is_file()]
    return obj


def _problems(plitool: Plitool) -> list[dict[str, str]]:
    run = plitool("verify", "--json")
    assert run.code == 1, run.err
    return json.loads(run.out)["problems"]  # type: ignore[no-any-return]


def test_object_replaced_by_symlink_to_identical_file_fails_verify(plitool: Plitool, stored: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copy(stored, twin)
    os.chmod(stored.parent, 0o700)
    stored.unlink()
    stored.symlink_to(twin)
    problems = _problems(plitool)
    assert any(p["kind"] == "modified" and p["item"] == "E-0001" and "symbolic link" in p["message"] for p in problems)


def test_fifo_at_object_path_is_reported_not_hung(plitool: Plitool, stored: Path) -> None:
    stored.unlink()
    os.mkfifo(stored)
    problems = _problems(plitool)
    assert any(p["kind"] == "modified" and "FIFO" in p["message"] for p in problems)
    assert plitool("export", "E-0001", "--to", "out", "--reason", "x").code != 0
    assert plitool("repair").code == 0


def test_fifo_as_intake_journal_does_not_hang(plitool: Plitool, stored: Path, case_root: Path, tmp_path: Path) -> None:
    os.mkfifo(case_root / ".plitool" / "tmp" / "intake-0123456789ab.json")
    problems = _problems(plitool)
    assert any(p["kind"] == "unexpected" and "intake-0123456789ab.json" in p["message"] and "FIFO" in p["message"]
               for p in problems)
    assert plitool("repair").code == 0
    other = tmp_path / "b.txt"
    other.write_bytes(b"more\n")
    assert plitool("add", other).code == 0


def test_fifo_as_checkpoint_does_not_hang(plitool: Plitool, stored: Path, case_root: Path, tmp_path: Path) -> None:
    os.mkfifo(case_root / ".plitool" / "checkpoints" / "0000000009.txt")
    problems = _problems(plitool)
    assert any("0000000009.txt" in p["message"] for p in problems)
    other = tmp_path / "b.txt"
    other.write_bytes(b"more\n")
    run = plitool("add", other)
    assert run.code == 5, run.err  # damaged: nothing appended, but an answer rather than a hang


def test_named_fifo_and_device_are_refused_per_file(plitool: Plitool, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_bytes(b"good\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = plitool("add", good, fifo, "/dev/null", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert [Path(r["path"]).name for r in data["results"]] == ["good.txt"]
    reasons = {Path(s["path"]).name: s["reason"] for s in data["skipped"]}
    assert "FIFO" in reasons["pipe"] and "device" in reasons["null"]


HOOK_SWAP = """
import plitool.vault.intake as intake
_orig = intake.plan_intake
def plan_intake(*a, **k):
    plan = _orig(*a, **k)
    for f in plan.files:
        os.unlink(f)
        os.mkfifo(f)
    return plan
intake.plan_intake = plan_intake
"""


def test_source_swapped_for_fifo_during_add_does_not_hang(case_root: Path, plitool: Plitool, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence\n")
    code, out, err = run_hooked(case_root, HOOK_SWAP, "add", src)
    assert code == 4, err  # "a source file changed while it was read (nothing recorded)"
    assert "a.txt" in err and "FIFO" in err and "nothing was recorded" in err
    assert json.loads(plitool("list", "--json").out) == []
    assert plitool("verify").code == 0


from ..tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: E402,F401 - fixtures


@pytest.mark.parametrize("victim", ["checkpoint.txt", "tsa-01.tsr"])
def test_fifo_in_a_seal_folder_does_not_hang_verify(plitool: Plitool, stored: Path, case_root: Path,
                                                    pki: Pki, local_tsa: LocalTsa, victim: str) -> None:
    assert plitool("trust", "add", pki.ca, "--name", "test root").code == 0
    assert plitool("seal", "--tsa", local_tsa.url, "--timeout", "30").code == 0
    (target,) = list((case_root / ".plitool").rglob(victim)) or [None]
    assert target is not None, sorted(p.name for p in (case_root / ".plitool").rglob("*"))
    target.unlink()
    os.mkfifo(target)
    run = plitool("verify", "--json")
    assert run.code == 1, run.err
    assert json.loads(run.out)["problems"]


def test_fifo_as_the_ledger_does_not_hang(plitool: Plitool, stored: Path, case_root: Path) -> None:
    ledger = case_root / ".plitool" / "ledger.jsonl"
    ledger.unlink()
    os.mkfifo(ledger)
    run = plitool("verify", "--json")
    assert run.code != 0
    assert "ledger" in run.out + run.err
    assert plitool("add", stored).code != 0  # refused, not hung (the stored object names itself here)


def test_scan_does_not_read_through_a_symlink_planted_at_an_object(plitool: Plitool, stored: Path, tmp_path: Path) -> None:
    """The scanner reads stored copies too: a link planted in the store (pointing at other bytes,
    here a list with a phone number) is refused for that item, never read through."""
    planted = tmp_path / "planted.txt"
    planted.write_text("手机 13912345678\n", encoding="utf-8")
    os.chmod(stored.parent, 0o700)
    stored.unlink()
    stored.symlink_to(planted)
    run = plitool("scan", "E-0001", "--json")
    assert run.code != 0
    assert "13912345678" not in run.out + run.err
    assert "1234" not in run.out  # not even a masked finding: the planted bytes were never read
    assert "regular file" in run.out + run.err


@pytest.mark.parametrize("command", [("bundle", "-o", "b"), ("draft", "civil-pil", "--allow-missing", "--format", "md", "-o", "d.md")])
def test_fifo_or_link_at_object_path_stops_bundle_and_draft(plitool: Plitool, stored: Path, tmp_path: Path,
                                                            command: tuple[str, ...]) -> None:
    """The bundle copies stored objects and the draft counts PDF pages in them: a FIFO planted at
    an object must not hang them, and a link must not be read through; both name the item."""
    os.chmod(stored.parent, 0o700)
    stored.unlink()
    os.mkfifo(stored)
    run = plitool(*command)
    assert run.code != 0 and "E-0001" in run.err and "regular file" in run.err, run.err
    stored.unlink()
    twin = tmp_path / "twin.pdf"
    twin.write_bytes(b"%PDF-1.4 not the evidence\n")
    stored.symlink_to(twin)
    run = plitool(*command)
    assert run.code != 0 and "E-0001" in run.err and "regular file" in run.err, run.err
