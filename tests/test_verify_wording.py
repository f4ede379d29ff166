"""What ``verify`` says in words (issue 8 item 15): grammar, and one summary line for trusted times."""

from __future__ import annotations

import json
from pathlib import Path

from plitool.vault.case import Case
from .conftest import Cli
from .tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: F401 - fixtures


def _add(run: Cli, tmp_path: Path, name: str, data: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(data)
    assert run("add", str(f)).exit_code == 0


def _flip(case: Case) -> None:
    obj = next(p for p in (case.paths.objects / "sha256").rglob("*") if p.is_file())
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[0] ^= 1
    obj.write_bytes(bytes(data))


def test_one_digest_no_longer_matches(case: Case, run: Cli, tmp_path: Path) -> None:
    text = case.paths.case_file.read_text("utf-8").replace('digests = ["sha256", "blake3"]', 'digests = ["sha256"]')
    case.paths.case_file.write_text(text, "utf-8")
    _add(run, tmp_path, "a.txt", b"abc")
    _flip(case)
    res = run("verify")
    assert res.exit_code == 1
    assert "sha256 no longer matches the ledger" in res.stdout


def test_two_digests_no_longer_match(case: Case, run: Cli, tmp_path: Path) -> None:
    _add(run, tmp_path, "a.txt", b"abc")
    _flip(case)
    assert "blake3, sha256 no longer match the ledger" in run("verify").stdout


def test_trusted_times_are_summarised(case: Case, run: Cli, tmp_path: Path, pki: Pki, local_tsa: LocalTsa) -> None:
    for n in range(3):
        _add(run, tmp_path, f"f{n}.txt", f"file {n}".encode())
    assert run("trust", "add", str(pki.ca), "--name", "test root").exit_code == 0
    assert run("seal", "--tsa", local_tsa.url, "--timeout", "30").exit_code == 0
    plain = run("verify")
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.count("existed no later than") == 1
    assert "3 items existed no later than" in plain.stdout
    verbose = run("verify", "-v")
    assert [f"E-000{n} existed no later than" in verbose.stdout for n in (1, 2, 3)] == [True] * 3
    assert len(json.loads(run("verify", "--json").stdout)["trusted_times"]) == 3
    # sealed, with nothing after the seal but the seal itself: no unsealed tail to state
    assert "not covered by any seal" not in plain.stdout and "never been sealed" not in plain.stdout
