"""Issue 7 items 3 and 5: outputs never land in .plitool/ or over case.toml, never through a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import Plitool


@pytest.fixture
def item(plitool: Plitool, tmp_path: Path) -> str:
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence bytes\n")
    assert plitool("add", src).code == 0
    return "E-0001"


def _state_snapshot(case_root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(case_root.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.name != "lock":
            out[str(p.relative_to(case_root))] = p.read_bytes()
    return out


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize(
    "target",
    [".plitool/ledger.jsonl", ".plitool/new-file", "case.toml", ".plitool/keys/fingerprint.key", "../case/.plitool/x"],
)
def test_manifest_output_never_inside_state_or_over_case_file(
    plitool: Plitool, item: str, case_root: Path, target: str, force: bool
) -> None:
    before = _state_snapshot(case_root)
    run = plitool("manifest", "-o", target, *(["--force"] if force else []))
    assert run.code == 2, run.err
    assert "plitool: error:" in run.err and "case" in run.err
    assert _state_snapshot(case_root) == before
    assert plitool("verify").code == 0


def test_manifest_output_through_symlinked_parent_is_refused(plitool: Plitool, item: str, case_root: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(case_root / ".plitool")
    before = _state_snapshot(case_root)
    run = plitool("manifest", "-o", link / "ledger.jsonl", "--force")
    assert run.code == 2, run.err
    assert _state_snapshot(case_root) == before


def test_manifest_output_through_symlinked_final_name_is_refused(plitool: Plitool, item: str, case_root: Path, tmp_path: Path) -> None:
    link = tmp_path / "SUMS"
    link.symlink_to(case_root / ".plitool" / "ledger.jsonl")
    before = _state_snapshot(case_root)
    assert plitool("manifest", "-o", link, "--force").code == 2
    assert _state_snapshot(case_root) == before


@pytest.mark.parametrize("where", [".plitool", ".plitool/objects", ".plitool/exports"])
def test_export_dirs_inside_state_are_refused(plitool: Plitool, item: str, case_root: Path, where: str) -> None:
    before = _state_snapshot(case_root)
    for args in (("export", item, "--to", where, "--reason", "x", "--force"),
                 ("manifest", "--export-dir", where, "--force")):
        run = plitool(*args)
        assert run.code == 2, (args, run.err)
    assert _state_snapshot(case_root) == before
    assert "exported" not in plitool("log").out


def test_prove_output_inside_state_is_refused(plitool: Plitool, item: str, case_root: Path) -> None:
    before = _state_snapshot(case_root)
    run = plitool("prove", item, "-o", ".plitool/checkpoints/proof.json", "--force")
    assert run.code == 2, run.err
    assert ".plitool" in run.err  # refused for where it would write, before looking for a seal
    assert _state_snapshot(case_root) == before


def test_export_does_not_write_through_a_planted_temp_symlink(plitool: Plitool, item: str, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"do not touch\n")
    # the old temp name was predictable: .tmp-<final name>
    (dest / ".tmp-E-0001_a.txt").symlink_to(victim)
    run = plitool("export", item, "--to", dest, "--reason", "working copy")
    assert run.code == 0, run.err
    assert victim.read_bytes() == b"do not touch\n"
    assert (dest / "E-0001_a.txt").read_bytes() == b"evidence bytes\n"
    assert not (dest / "E-0001_a.txt").is_symlink()


def test_export_never_writes_through_a_link_at_the_final_name(plitool: Plitool, item: str, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"do not touch\n")
    (dest / "E-0001_a.txt").symlink_to(victim)
    assert plitool("export", item, "--to", dest, "--reason", "copy").code == 2  # exists: no --force
    run = plitool("export", item, "--to", dest, "--reason", "copy", "--force")
    assert run.code == 0, run.err
    assert victim.read_bytes() == b"do not touch\n"  # the link was replaced, its target untouched
    assert not (dest / "E-0001_a.txt").is_symlink()
    assert (dest / "E-0001_a.txt").read_bytes() == b"evidence bytes\n"


def test_manifest_does_not_write_through_a_dangling_symlink(plitool: Plitool, item: str, tmp_path: Path) -> None:
    target = tmp_path / "SHA256SUMS"
    elsewhere = tmp_path / "elsewhere.txt"
    target.symlink_to(elsewhere)  # dangling: exists() says False
    run = plitool("manifest", "-o", target)
    assert run.code == 2, run.err
    assert not elsewhere.exists()
    assert os.readlink(target) == str(elsewhere)
