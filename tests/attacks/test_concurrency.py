"""Issue 7 item 8: repair during add, add during verify, a checkpoint that fails after the append.

Two real processes; the first is held at an exact point by a hook (see hooked.py), never raced by
sleeping.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Plitool
from .hooked import run_hooked, start

HOLD_JOURNAL_START = """
import plitool.vault.journal as journal
_flock = journal.fcntl.flock
_held = []
class _F:
    def __getattr__(self, name):
        return getattr(journal._fcntl_real, name)
    @staticmethod
    def flock(fd, op):
        if not _held:
            _held.append(1)
            pause()
        return _flock(fd, op)
journal._fcntl_real = journal.fcntl
journal.fcntl = _F()
"""

HOLD_BEFORE_RECORD = """
import plitool.vault.intake as intake
_orig = intake._record
def _record(*a, **k):
    pause()
    return _orig(*a, **k)
intake._record = _record
"""


def test_repair_while_an_intake_starts_leaves_it_alone(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence\n")
    held = start(case_root, tmp_path / "sync", HOLD_JOURNAL_START, "add", src)
    held.wait_ready()
    run = plitool("repair", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["repaired"] is False, run.out
    code, out, err = held.release()
    assert code == 0, err
    assert plitool("verify").code == 0
    assert not list((case_root / ".plitool" / "tmp").iterdir())


def test_repair_while_add_links_objects_never_moves_them(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence\n")
    held = start(case_root, tmp_path / "sync", HOLD_BEFORE_RECORD, "add", src)
    held.wait_ready()
    run = plitool("repair", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["repaired"] is False, run.out
    code, out, err = held.release()
    assert code == 0, err
    verify = plitool("verify")
    assert verify.code == 0, verify.out


HOLD_VERIFY_AFTER_SNAPSHOT = """
import plitool.vault.store as store
_orig = store.ObjectStore.iter_objects
def iter_objects(self):
    pause()
    return _orig(self)
store.ObjectStore.iter_objects = iter_objects
"""


def test_add_during_verify_is_not_unexpected(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_bytes(b"first\n")
    assert plitool("add", first).code == 0
    held = start(case_root, tmp_path / "sync", HOLD_VERIFY_AFTER_SNAPSHOT, "verify", "--json")
    held.wait_ready()
    second = tmp_path / "b.txt"
    second.write_bytes(b"second\n")
    assert plitool("add", second).code == 0
    code, out, err = held.release()
    assert code == 0, out
    assert json.loads(out)["problems"] == []


def test_a_real_unexpected_object_is_still_reported(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_bytes(b"first\n")
    assert plitool("add", first).code == 0
    planted = case_root / ".plitool" / "objects" / "sha256" / "ab" / ("ab" + "0" * 62)
    planted.parent.mkdir(exist_ok=True)
    planted.write_bytes(b"planted")
    run = plitool("verify", "--json")
    assert run.code == 1
    assert [p["kind"] for p in json.loads(run.out)["problems"]] == ["unexpected"]


FAIL_CHECKPOINT = """
import plitool.vault.ledger as ledger
from plitool.errors import StorageError
def write_checkpoint(self, entries):
    raise StorageError("cannot write checkpoint: No space left on device")
ledger.Ledger.write_checkpoint = write_checkpoint
"""


def test_checkpoint_failure_after_append_says_what_was_recorded(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence\n")
    code, out, err = run_hooked(case_root, FAIL_CHECKPOINT, "add", src)
    assert code == 3, err
    assert "E-0001 was recorded in the ledger (entry #2)" in err
    assert "No space left on device" in err
    assert "checkpoint" in err
    entries = json.loads(plitool("log", "--json").out)
    assert [e["event"] for e in entries] == ["created", "added"]
    assert plitool("verify").code == 0


def test_checkpoint_failure_after_any_append_says_what_was_recorded(plitool: Plitool, case_root: Path,
                                                                    tmp_path: Path) -> None:
    """Not only 'add': every command that appends (here 'trust add', which logs a 'trusted'
    entry) says what was recorded when the checkpoint after it cannot be written."""
    from tests.tsa_support import make_pki

    pki = make_pki(tmp_path / "pki")
    code, out, err = run_hooked(case_root, FAIL_CHECKPOINT, "trust", "add", pki.ca, "--name", "test root")
    assert code == 3, err
    assert "1 event was recorded in the ledger (entry #2)" in err and "No space left on device" in err
    assert [e["event"] for e in json.loads(plitool("log", "--json").out)] == ["created", "trusted"]
