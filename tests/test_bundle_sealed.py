"""A sealed case's bundle: proofs and tokens ship with it and check with plitool and openssl."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from plitool.timestamps.seal import seal_case
from plitool.timestamps.trust import add_trust_roots
from plitool.vault.case import Case
from .conftest import Cli
from .test_bundle import make_pdf
from .tsa_support import OPENSSL, LocalTsa, Pki, local_tsa, needs_openssl, pki  # noqa: F401 - fixtures


@pytest.fixture
def sealed_bundle(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> Path:
    add_trust_roots(case, pki.ca, "test root")
    make_pdf(tmp_path / "a.pdf", 2)
    (tmp_path / "b.txt").write_text("second")
    assert run("add", str(tmp_path / "a.pdf"), str(tmp_path / "b.txt")).exit_code == 0
    seal_case(case, extra_tsa=[local_tsa.url])
    (tmp_path / "c.txt").write_text("added after the seal")
    assert run("add", str(tmp_path / "c.txt")).exit_code == 0
    out = tmp_path / "bundle"
    res = run("bundle", "-o", str(out), "--lang", "en")
    assert res.exit_code == 0, res.output
    return out


@needs_openssl
def test_proofs_and_tokens_verify(sealed_bundle: Path, run: Cli, pki: Pki) -> None:
    index = json.loads((sealed_bundle / "bundle.json").read_text("utf-8"))
    by_id = {e["id"]: e for e in index["exhibits"]}
    assert by_id["E-0001"]["proof"] == "proofs/E-0001.proof.json" and by_id["E-0001"]["trusted_time"]
    assert by_id["E-0003"]["proof"] is None  # added after the seal: no proof yet, said in the report
    assert list((sealed_bundle / "ledger" / "timestamps").rglob("*.tsr"))
    res = run("verify-bundle", str(sealed_bundle), "--ca", str(pki.ca), "--json", case=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["checked"]["proofs"] == 2 and doc["checked"]["tokens"] >= 1
    # without --ca: the roots the case trusted, shipped in the bundle, and said so
    res = run("verify-bundle", str(sealed_bundle), "--json", case=False)
    assert res.exit_code == 0 and json.loads(res.stdout)["notes"]


@needs_openssl
def test_the_reports_openssl_commands_work(sealed_bundle: Path) -> None:
    text = "".join(p.extract_text() for p in PdfReader(sealed_bundle / "verification-report.pdf").pages)
    text = text.replace("\n", " ")
    commands = re.findall(r"openssl ts -verify -data \S+ -in \S+ -CAfile \S+", text)
    assert commands
    for cmd in commands:
        proc = subprocess.run(shlex.split(cmd), cwd=sealed_bundle, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "Verification: OK" in proc.stdout, cmd + proc.stdout + proc.stderr
    inclusion = sealed_bundle / "proofs" / "E-0002.proof"
    proc = subprocess.run(["python3", "check_inclusion.py"], cwd=inclusion, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "inclusion OK" in proc.stdout


@needs_openssl
def test_a_forged_token_is_named(sealed_bundle: Path, run: Cli, pki: Pki) -> None:
    tsr = next((sealed_bundle / "ledger" / "timestamps").rglob("*.tsr"))
    data = bytearray(tsr.read_bytes())
    data[-40] ^= 0xFF
    tsr.write_bytes(bytes(data))
    res = run("verify-bundle", str(sealed_bundle), "--ca", str(pki.ca), "--json", case=False)
    assert res.exit_code == 1
    files = {p["file"] for p in json.loads(res.stdout)["problems"]}
    assert tsr.relative_to(sealed_bundle).as_posix() in files


@needs_openssl
def test_another_root_does_not_verify(sealed_bundle: Path, run: Cli, tmp_path: Path) -> None:
    from .tsa_support import make_pki

    other = make_pki(tmp_path / "other", "someone else")
    res = run("verify-bundle", str(sealed_bundle), "--ca", str(other.ca), "--json", case=False)
    assert res.exit_code == 1
    assert {p["check"] for p in json.loads(res.stdout)["problems"]} >= {"timestamp", "proof"}
