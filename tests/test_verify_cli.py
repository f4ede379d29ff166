"""verify, repair and manifest: tamper tests, crash recovery, concurrency, standard tools."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plitool.vault.case import Case

from .conftest import Cli, ledger_bytes

#: Child-process code reporting its peak RSS in KiB. VmHWM belongs to the process image and
#: starts afresh at exec; ru_maxrss would include the parent's memory inherited through fork().
PEAK_RSS_SOURCE = (
    "def peak():\n"
    "    with open('/proc/self/status') as fh:\n"
    "        for line in fh:\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1])\n"
    "    import resource\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
)


@pytest.fixture
def filled(case: Case, run: Cli, evidence_dir: Path) -> Case:
    assert run("add", "-r", str(evidence_dir), "--tag", "harm").exit_code == 0
    return case


def _problems(run: Cli) -> list[dict]:
    result = run("verify", "--json")
    report = json.loads(result.stdout)
    assert (result.exit_code == 0) == report["ok"] == (not report["problems"])
    return report["problems"]


def _object(case: Case, n: int = 0) -> Path:
    return sorted(p for p in (case.paths.objects / "sha256").rglob("*") if p.is_file())[n]


def _ledger_lines(case: Case) -> list[bytes]:
    return case.paths.ledger.read_bytes().split(b"\n")[:-1]


def test_clean_case_verifies(filled: Case, run: Cli) -> None:
    result = run("verify")
    assert result.exit_code == 0 and "OK" in result.output
    report = json.loads(run("verify", "--json").stdout)
    assert report["objects_checked"] == 3 and report["entries"] == 4 and report["checkpoints"] == 2


def test_flipped_byte_in_an_object(filled: Case, run: Cli) -> None:
    obj = _object(filled)
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[0] ^= 0x01
    obj.write_bytes(bytes(data))
    obj.chmod(0o400)  # a careful tamperer restores the mode: the bytes still give it away
    (problem,) = _problems(run)
    assert problem["kind"] == "modified" and problem["item"].startswith("E-")
    assert run("verify").exit_code == 1


def test_missing_and_unexpected_objects(filled: Case, run: Cli) -> None:
    obj = _object(filled)
    moved = obj.with_name("0" * 64)
    obj.rename(moved)
    kinds = sorted(p["kind"] for p in _problems(run))
    assert kinds == ["missing", "unexpected"]


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ("edit", "entry #2 was altered"),
        ("delete", "deleted, inserted or reordered"),
        ("swap", "reordered"),
        ("truncate", "cut short"),
        ("edit-last", "checkpoint 4 does not match"),
    ],
)
def test_ledger_tampering_is_named(filled: Case, run: Cli, tamper: str, expected: str) -> None:
    lines = _ledger_lines(filled)
    if tamper == "edit":
        lines[1] = lines[1].replace(b'"harm"', b'"fault"')
    elif tamper == "delete":
        del lines[2]
    elif tamper == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif tamper == "truncate":
        lines = lines[:-1]
    elif tamper == "edit-last":
        lines[-1] = lines[-1].replace(b'"harm"', b'"fault"')
    filled.paths.ledger.write_bytes(b"".join(line + b"\n" for line in lines))
    messages = [p["message"] for p in _problems(run)]
    assert any(expected in m for m in messages), messages
    # Nothing more is appended to a damaged ledger.
    before = ledger_bytes(filled)
    result = run("add", str(filled.root / "case.toml"))
    assert result.exit_code == 5 and ledger_bytes(filled) == before


def test_crash_leaves_a_partial_line_then_repair(filled: Case, run: Cli, evidence_dir: Path) -> None:
    partial = b'{"at":"2026-11-29T10:00:00.000000Z","data":{"orig'
    with open(filled.paths.ledger, "ab") as fh:
        fh.write(partial)
    result = run("verify")
    assert result.exit_code == 1 and "incomplete line" in result.output
    result = run("add", str(filled.root / "case.toml"))
    assert result.exit_code == 5 and "plitool repair" in result.output
    result = run("repair", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["repaired"] and info["truncated_bytes"] == len(partial)
    assert (filled.root / info["saved_to"]).read_bytes() == partial  # nothing lost
    assert run("verify").exit_code == 0
    log = json.loads(run("log", "--json").stdout)
    assert log[-1]["event"] == "repaired" and log[-1]["data"]["truncated_bytes"] == len(partial)
    assert json.loads(run("repair", "--json").stdout)["repaired"] is False


def test_repair_refuses_other_damage(filled: Case, run: Cli) -> None:
    lines = _ledger_lines(filled)
    del lines[1]
    filled.paths.ledger.write_bytes(b"".join(line + b"\n" for line in lines) + b'{"partial')
    before = ledger_bytes(filled)
    result = run("repair")
    assert result.exit_code == 5 and "nothing changed" in result.output
    assert ledger_bytes(filled) == before


def test_two_concurrent_adds_both_succeed(case: Case, tmp_path: Path) -> None:
    folders = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        for i in range(60):
            (d / f"{i:03d}.txt").write_bytes(f"{name}-{i}".encode() * 50)
        folders.append(d)
    shared = tmp_path / "shared.txt"
    shared.write_bytes(b"same content in both batches")
    cmd = [sys.executable, "-m", "plitool.cli", "--case", str(case.root), "add", "-r"]
    procs = [subprocess.Popen([*cmd, str(d), str(shared)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for d in folders]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    run = Cli(case.root)
    assert run("verify").exit_code == 0
    items = json.loads(run("list", "--json").stdout)
    assert len(items) == 121  # 120 distinct files + the shared one, once
    assert [i["id"] for i in items] == [f"E-{n:04d}" for n in range(1, 122)]
    shared_item = next(i for i in items if i["name"] == "shared.txt")
    assert shared_item["events"] == 2


# -- manifests checked by the standard tools -------------------------------------------------


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs it)")


def test_sha256sum_checks_an_export(filled: Case, run: Cli, tmp_path: Path) -> None:
    _need("sha256sum")
    out = tmp_path / "out"
    assert run("manifest", "--format", "sha256sum", "--export-dir", str(out)).exit_code == 0
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 3
    victim = next((out / "evidence").iterdir())
    victim.write_bytes(b"tampered")
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True).returncode == 1
    exports = [e for e in json.loads(run("log", "--json").stdout) if e["event"] == "exported"]
    assert len(exports) == 3


def test_sha256sum_checks_the_store_itself(filled: Case, run: Cli, tmp_path: Path) -> None:
    _need("sha256sum")
    manifest = tmp_path / "store.sha256"
    assert run("manifest", "-o", str(manifest)).exit_code == 0
    check = subprocess.run(["sha256sum", "-c", str(manifest)], cwd=filled.root, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_b3sum_checks_an_export(filled: Case, run: Cli, tmp_path: Path) -> None:
    _need("b3sum")
    out = tmp_path / "out"
    assert run("manifest", "--format", "b3sum", "--export-dir", str(out)).exit_code == 0
    check = subprocess.run(["b3sum", "-c", "B3SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 3


def test_hashdeep_audits_an_export(filled: Case, run: Cli, tmp_path: Path) -> None:
    _need("hashdeep")
    out = tmp_path / "out"
    assert run("manifest", "--format", "hashdeep", "--export-dir", str(out)).exit_code == 0
    audit = subprocess.run(["hashdeep", "-a", "-k", "hashdeep.txt", "-l", "-r", "evidence"], cwd=out, capture_output=True, text=True)
    assert audit.returncode == 0 and "Audit passed" in audit.stdout, audit.stdout + audit.stderr
    (out / "evidence" / "extra.txt").write_text("planted")
    audit = subprocess.run(["hashdeep", "-a", "-k", "hashdeep.txt", "-l", "-r", "evidence"], cwd=out, capture_output=True, text=True)
    assert audit.returncode != 0


def test_manifest_refuses_to_overwrite(filled: Case, run: Cli, tmp_path: Path) -> None:
    target = tmp_path / "SUMS"
    target.write_text("keep me")
    result = run("manifest", "-o", str(target))
    assert result.exit_code == 2 and target.read_text() == "keep me"
    assert run("manifest", "-o", str(target), "--force").exit_code == 0
    assert target.read_text() != "keep me"


@pytest.mark.slow
def test_two_gigabyte_file_is_streamed_in_constant_memory(case: Case, tmp_path: Path) -> None:
    """A real 2 GiB file through the real command, in a child process whose peak RSS we read."""
    big = tmp_path / "disk-image.raw"
    with open(big, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: no 2 GiB of disk for the source
    code = (
        "import sys\n"
        "from plitool.cli.main import cli\n"
        + PEAK_RSS_SOURCE +
        "try:\n"
        "    cli.main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    print(peak(), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "--case", str(case.root), "add", str(big)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"
    items = json.loads(Cli(case.root)("list", "--json").stdout)
    assert items[0]["size"] == 2 * 1024**3
