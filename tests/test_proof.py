"""``prove`` and ``verify-proof``: one item's proof, checked by plitool and by standard tools."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from plitool.vault.case import Case, init_case
from plitool.timestamps.proof import verify_proof, write_proof
from plitool.timestamps.seal import seal_case
from plitool.timestamps.timestamp import load_certificates
from plitool.timestamps.trust import add_trust_roots
from .conftest import Cli
from .tsa_support import LocalTsa, Pki, local_tsa, openssl_verifies, pki  # noqa: F401 - fixtures


def _add(run: Cli, tmp_path: Path, name: str, text: str) -> Path:
    f = tmp_path / name
    f.write_text(text)
    assert run("add", str(f)).exit_code == 0
    return f


@pytest.fixture
def sealed(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> tuple[Case, Cli, Path, Path]:
    """A case with three items, sealed once with a trusted root; returns the second item's file."""
    add_trust_roots(case, pki.ca, "test root")
    _add(run, tmp_path, "one.txt", "first")
    evidence = _add(run, tmp_path, "two.txt", "second item")
    _add(run, tmp_path, "three.txt", "third")
    seal_case(case, extra_tsa=[local_tsa.url])
    return case, run, evidence, tmp_path / "E-0002.proof.json"


def test_prove_and_verify(sealed: tuple[Case, Cli, Path, Path], pki: Pki) -> None:
    case, run, evidence, out = sealed
    res = run("prove", "E-0002", "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["checkpoint"] == 5
    checked = run("verify-proof", str(out), "--data", str(evidence), "--ca", str(pki.ca), "--json", case=False)
    assert checked.exit_code == 0, checked.output
    doc = json.loads(checked.stdout)
    assert doc["ok"] and doc["item"] == "E-0002"
    assert {c["check"] for c in doc["checks"]} == {"entry", "inclusion", "timestamp", "data"}
    assert doc["existed_no_later_than"].endswith("Z")
    human = run("verify-proof", str(out), "--ca", str(pki.ca), case=False)
    assert human.exit_code == 0 and "existed no later than" in human.stdout


def test_the_proof_checks_with_standard_tools(sealed: tuple[Case, Cli, Path, Path], pki: Pki) -> None:
    case, run, evidence, out = sealed
    assert run("prove", "2", "-o", str(out)).exit_code == 0
    folder = out.with_name("E-0002.proof")
    readme = (folder / "README.md").read_text("utf-8")
    assert "openssl ts -verify -in seal-01.tsr -data checkpoint.txt -CAfile seal-01.chain.pem" in readme
    assert "## 中文" in readme and "sha256sum" in readme
    # 1. sha256sum
    entry = json.loads((folder / "entry.json").read_bytes())
    assert entry["data"]["digests"]["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    # 2. the inclusion path, recomputed by the stdlib-only script shipped in the folder
    proc = subprocess.run([sys.executable, "check_inclusion.py"], cwd=folder, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "inclusion OK" in proc.stdout
    # 3. openssl, with the chain in the proof and with the verifier's own copy of the root
    assert openssl_verifies(folder / "seal-01.tsr", folder / "checkpoint.txt", folder / "seal-01.chain.pem")
    assert openssl_verifies(folder / "seal-01.tsr", folder / "checkpoint.txt", pki.ca)
    # a damaged path fails the script
    lines = (folder / "inclusion.txt").read_text().split()
    (folder / "inclusion.txt").write_text("\n".join(["00" * 32] + lines[1:]) + "\n")
    proc = subprocess.run([sys.executable, "check_inclusion.py"], cwd=folder, capture_output=True, text=True, check=False)
    assert proc.returncode == 1


def test_root_not_given_is_not_trusted(sealed: tuple[Case, Cli, Path, Path]) -> None:
    case, run, _, out = sealed
    run("prove", "E-0002", "-o", str(out))
    res = run("verify-proof", str(out), case=False)
    assert res.exit_code == 1
    assert "root not trusted" in res.stdout.replace("\n", " ")


def test_wrong_data(sealed: tuple[Case, Cli, Path, Path], pki: Pki, tmp_path: Path) -> None:
    case, run, _, out = sealed
    run("prove", "E-0002", "-o", str(out))
    other = tmp_path / "other.txt"
    other.write_text("second itek")
    res = run("verify-proof", str(out), "--data", str(other), "--ca", str(pki.ca), "--json", case=False)
    assert res.exit_code == 1
    checks = {c["check"]: c["ok"] for c in json.loads(res.stdout)["checks"]}
    assert checks == {"entry": True, "inclusion": True, "timestamp": True, "data": False}


def test_proof_for_another_ledger(sealed: tuple[Case, Cli, Path, Path], pki: Pki, local_tsa: LocalTsa, tmp_path: Path) -> None:
    """Graft the checkpoint and timestamp of another (validly sealed) case onto the proof."""
    case, run, _, out = sealed
    run("prove", "E-0002", "-o", str(out))
    other = init_case(tmp_path / "other-case", "another case", "en")
    add_trust_roots(other, pki.ca)
    f = tmp_path / "x.txt"
    f.write_text("x")
    Cli(other.root)("add", str(f))
    Cli(other.root)("add", str(tmp_path / "one.txt"))
    seal_case(other, extra_tsa=[local_tsa.url])
    _, _, foreign = write_proof(other, "E-0002", tmp_path / "foreign.json")
    proof = json.loads(out.read_text("utf-8"))
    proof["checkpoint"] = foreign["checkpoint"]
    proof["timestamps"] = foreign["timestamps"]
    report = verify_proof(json.dumps(proof).encode(), roots=load_certificates(pki.ca.read_bytes()))
    checks = {c.name: c for c in report.checks}
    assert not report.ok
    assert checks["timestamp"].ok  # the foreign token is genuine ...
    assert not checks["inclusion"].ok  # ... but the entry is not in that ledger
    assert "another ledger" in checks["inclusion"].message


def test_tampered_proofs(sealed: tuple[Case, Cli, Path, Path], pki: Pki) -> None:
    case, run, _, out = sealed
    run("prove", "E-0002", "-o", str(out))
    roots = load_certificates(pki.ca.read_bytes())
    original = json.loads(out.read_text("utf-8"))
    assert verify_proof(out.read_bytes(), roots=roots).ok

    edited = json.loads(json.dumps(original))
    edited["ledger_entry"]["line"] = edited["ledger_entry"]["line"].replace("two.txt", "tw0.txt")
    report = verify_proof(json.dumps(edited).encode(), roots=roots)
    assert not report.ok and not {c.name: c.ok for c in report.checks}["inclusion"]

    edited = json.loads(json.dumps(original))
    tsr = bytearray(base64.b64decode(edited["timestamps"][0]["tsr_b64"]))
    tsr[-10] ^= 1
    edited["timestamps"][0]["tsr_b64"] = base64.b64encode(bytes(tsr)).decode()
    report = verify_proof(json.dumps(edited).encode(), roots=roots)
    assert not report.ok and report.verdicts[0][1].status == "invalid"

    edited = json.loads(json.dumps(original))
    edited["item"]["digests"]["sha256"] = "0" * 64
    report = verify_proof(json.dumps(edited).encode(), roots=roots)
    assert not {c.name: c.ok for c in report.checks}["entry"]


def test_not_a_proof(run: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "something else"}')
    assert run("verify-proof", str(junk), case=False).exit_code == 2
    junk.write_bytes(b"\xff\xfe")
    assert run("verify-proof", str(junk), case=False).exit_code == 2
    assert run("verify-proof", str(tmp_path / "missing.json"), case=False).exit_code == 2


def test_prove_needs_a_seal_covering_the_item(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca)
    _add(run, tmp_path, "a.txt", "a")
    out = tmp_path / "p.json"
    res = run("prove", "E-0001", "-o", str(out))
    assert res.exit_code == 2 and "plitool seal" in res.stderr
    seal_case(case, extra_tsa=[local_tsa.url])
    _add(run, tmp_path, "b.txt", "b")
    assert run("prove", "E-0002", "-o", str(out)).exit_code == 2  # added after the seal
    assert run("prove", "E-0009", "-o", str(out)).exit_code == 2  # unknown item
    seal_case(case, extra_tsa=[local_tsa.url])
    assert run("prove", "E-0002", "-o", str(out)).exit_code == 0
    assert run("prove", "E-0002", "-o", str(out)).exit_code == 2  # exists
    assert run("prove", "E-0001", "-o", str(out), "--force").exit_code == 0
    # E-0001 is proved against the earliest seal that covers it
    assert json.loads(out.read_text("utf-8"))["inclusion"]["tree_size"] == 3


def test_proofs_from_one_shared_context_equal_proofs_built_alone(
        sealed: tuple[Case, Cli, Path, Path], local_tsa: LocalTsa, tmp_path: Path) -> None:
    """A bundle builds every proof from one ProofContext (each token checked once): each proof
    must be the one ``prove`` builds for that item alone, whatever order the items come in."""
    from plitool.timestamps.proof import ProofContext, build_proof

    case, run, _evidence, _out = sealed
    _add(run, tmp_path, "four.txt", "after the first seal")
    seal_case(case, extra_tsa=[local_tsa.url])  # two checkpoints: items are proved against different ones
    ctx = ProofContext.load(case)
    for item in ("E-0004", "E-0001", "E-0003", "E-0002", "E-0004"):
        shared, shared_files = build_proof(case, item, context=ctx)
        alone, alone_files = build_proof(case, item)
        for doc, files in ((shared, shared_files), (alone, alone_files)):
            doc.pop("created"), files.pop("README.md")  # the README is written from the proof, time included
        assert shared == alone and shared_files == alone_files
    assert len(ctx.verdicts) == 2  # each of the two tokens checked once, not once per item
    assert {p["inclusion"]["tree_size"] for p in (build_proof(case, i, context=ctx)[0] for i in ("E-0001", "E-0004"))} \
        == {5, 7}
