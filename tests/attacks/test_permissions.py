"""Issue 7 item 7: other local users read nothing; verify reports loosened permissions.

Tests run as root, so modes are checked with os.stat rather than by reading as another user.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from .conftest import Plitool


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def stored(plitool: Plitool, case_root: Path, tmp_path: Path) -> Path:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence bytes\n")
    assert plitool("add", src).code == 0
    (obj,) = [p for p in (case_root / ".plitool" / "objects" / "sha256").rglob("*") if p.is_file()]
    return obj


def test_init_and_add_make_private_state(case_root: Path, stored: Path) -> None:
    state = case_root / ".plitool"
    assert _mode(state) == 0o700
    for sub in state.rglob("*"):
        if sub.is_dir():
            assert _mode(sub) & 0o077 == 0, sub
    assert _mode(state / "keys" / "fingerprint.key") == 0o600
    assert _mode(stored) == 0o400
    assert _mode(stored.parent) == 0o700
    assert _mode(state / "ledger.jsonl") & 0o077 == 0


def _permission_problems(plitool: Plitool) -> list[dict[str, str]]:
    run = plitool("verify", "--json")
    assert run.code == 1, run.err
    return [p for p in json.loads(run.out)["problems"] if p["kind"] == "permissions"]


def test_verify_reports_a_writable_object(plitool: Plitool, stored: Path) -> None:
    os.chmod(stored, 0o644)
    (p,) = _permission_problems(plitool)
    assert p["item"] == "E-0001" and "writable" in p["message"]


def test_verify_reports_a_loose_key(plitool: Plitool, stored: Path, case_root: Path) -> None:
    os.chmod(case_root / ".plitool" / "keys" / "fingerprint.key", 0o644)
    (p,) = _permission_problems(plitool)
    assert "fingerprint.key" in p["message"] and "0600" in p["message"]


def test_verify_reports_a_state_folder_open_to_others(plitool: Plitool, stored: Path, case_root: Path) -> None:
    os.chmod(case_root / ".plitool", 0o755)
    (p,) = _permission_problems(plitool)
    assert ".plitool" in p["message"]


def test_repair_tightens_an_old_case(plitool: Plitool, stored: Path, case_root: Path) -> None:
    """A case made before this change: 0755 folders, 0444 objects. repair fixes it and logs it."""
    state = case_root / ".plitool"
    for d in [state, *(p for p in state.rglob("*") if p.is_dir())]:
        os.chmod(d, 0o755)
    os.chmod(stored, 0o444)
    assert plitool("verify").code == 1
    run = plitool("repair", "--json")
    assert run.code == 0, run.err
    assert any("permission" in a for a in json.loads(run.out)["actions"])
    assert plitool("verify").code == 0, plitool("verify").out
    assert _mode(state) == 0o700 and _mode(stored) == 0o400
