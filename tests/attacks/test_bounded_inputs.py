"""Issue 7 item 10 (inputs read whole): bounded by size, and only regular files."""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import Plitool

LIMIT = 16 * 1024 * 1024


def test_seal_import_dev_zero_fails_fast(plitool: Plitool) -> None:
    run = plitool("seal", "--import", "/dev/zero", timeout=30)
    assert run.code == 2, run.err
    assert "/dev/zero" in run.err and "regular file" in run.err


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def test_seal_import_of_a_huge_reply_is_refused_by_size(plitool: Plitool, tmp_path: Path) -> None:
    big = _sparse(tmp_path / "reply.tsr", LIMIT + 1)
    run = plitool("seal", "--import", big, timeout=30)
    assert run.code == 2, run.err
    assert "reply.tsr" in run.err and "16 MiB" in run.err


def test_verify_proof_of_a_huge_proof_is_refused_by_size(plitool: Plitool, tmp_path: Path) -> None:
    big = _sparse(tmp_path / "x.proof.json", LIMIT + 1)
    run = plitool("verify-proof", big, case=False, timeout=30)
    assert run.code == 2, run.err
    assert "x.proof.json" in run.err and "16 MiB" in run.err


def test_trust_add_of_a_fifo_does_not_hang(plitool: Plitool, tmp_path: Path) -> None:
    fifo = tmp_path / "root.pem"
    os.mkfifo(fifo)
    run = plitool("trust", "add", fifo, timeout=30)
    assert run.code == 2, run.err
    assert "regular file" in run.err


def test_known_values_is_bounded(plitool: Plitool, tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("hello\n")
    fifo = tmp_path / "known.txt"
    os.mkfifo(fifo)
    run = plitool("scan", doc, "--known-values", fifo, timeout=30)
    assert run.code == 2, run.err
    big = _sparse(tmp_path / "known-big.txt", LIMIT + 1)
    run = plitool("scan", doc, "--known-values", big, timeout=30)
    assert run.code == 2, run.err
    assert "16 MiB" in run.err
