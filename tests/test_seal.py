"""``seal``, ``trust`` and the timestamp part of ``verify``, against a real local TSA."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plitool.vault.case import Case
from plitool.errors import NoTimestampAuthority, SealFailed, TokenRejected
from plitool.timestamps.seal import import_reply, prepare_offline, seal_case, timestamps_dir
from plitool.timestamps.trust import add_trust_roots
from .conftest import Cli
from .tsa_support import (  # noqa: F401 - fixtures
    LocalTsa,
    Pki,
    local_tsa,
    make_pki,
    needs_openssl,
    openssl_reply,
    openssl_verifies,
    pki,
    unused_url,
)


def _add(run: Cli, tmp_path: Path, name: str = "a.txt", text: str = "hello") -> Path:
    f = tmp_path / name
    f.write_text(text)
    res = run("add", str(f))
    assert res.exit_code == 0, res.output
    return f


def _files(case: Case) -> list[str]:
    base = timestamps_dir(case)
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()) if base.exists() else []


def _entries(case: Case) -> list:
    return case.ledger.scan().entries


def test_seal_trust_verify_round_trip(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    _add(run, tmp_path)
    res = run("seal", "--tsa", local_tsa.url, "--json")
    # the root is not trusted yet: the token is kept, seal says so with exit 1
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["tokens_kept"] == 1 and doc["tokens_trusted"] == 0
    assert doc["tsa"][0]["verdict"]["verdict"] == "untrusted"
    sealed = [e for e in _entries(case) if e.event == "sealed"]
    assert len(sealed) == 1
    assert run("verify").exit_code == 1  # never silently accepted

    assert run("trust", "add", str(pki.ca), "--name", "test root").exit_code == 0
    listed = json.loads(run("trust", "list", "--json").stdout)
    assert [r["name"] for r in listed["roots"]] == ["test root"]
    assert [e.event for e in _entries(case)][-1] == "trusted"

    report = run("verify", "--json")
    assert report.exit_code == 0, report.output
    doc = json.loads(report.stdout)
    assert doc["ok"] and doc["seals"] == 1
    assert doc["timestamps"][0]["verdict"] == "valid"
    assert set(doc["trusted_times"]) == {"E-0001"}
    assert doc["trusted_times"]["E-0001"]["checkpoint"] == 2
    # the old keys are all still there
    for key in ("entries", "items", "objects_checked", "bytes_checked", "checkpoints", "problems", "notes"):
        assert key in doc

    # the human views name what happened
    log_lines = run("log").stdout.splitlines()
    assert "sealed" in log_lines[-2] and "checkpoint 2 timestamped by" in log_lines[-2]
    assert "trusted" in log_lines[-1] and "trust root test root" in log_lines[-1]
    assert "E-0001 existed no later than" in run("verify").stdout

    # openssl agrees on the stored files
    folder = timestamps_dir(case) / "0000000002"
    assert openssl_verifies(folder / "tsa-01.tsr", folder / "checkpoint.txt", pki.ca)
    assert openssl_verifies(folder / "tsa-01.tsr", folder / "checkpoint.txt", folder / "tsa-01.chain.pem")
    assert (folder / "tsa-01.tsq").is_file()


def test_seal_with_trusted_root_exits_0_and_asks_every_tsa(case: Case, run: Cli, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca, "test root")
    _add(run, tmp_path)
    with LocalTsa(pki) as good, LocalTsa(pki) as broken:
        broken.mode = "http500"
        res = run("seal", "--tsa", broken.url, "--tsa", good.url, "--hash", "sha512", "--timeout", "30")
    assert res.exit_code == 0, res.output
    assert "HTTP 500" in res.stderr
    sealed = [e for e in _entries(case) if e.event == "sealed"][-1]
    assert [t["tsa"] for t in sealed.data["tokens"]] == [good.url]
    assert sealed.data["failures"][0]["tsa"] == broken.url
    assert sealed.data["tokens"][0]["hash"] == "sha512"


def test_tsa_urls_from_case_toml(case: Case, pki: Pki, local_tsa: LocalTsa) -> None:
    text = case.paths.case_file.read_text("utf-8")
    text = text.replace("tsa = []", f'tsa = ["{local_tsa.url}"]').replace("timeout = 10", "timeout = 30")
    case.paths.case_file.write_text(text, "utf-8")
    fresh = Case(case.root)
    assert fresh.config.tsa == (local_tsa.url,) and fresh.config.tsa_timeout == 30.0
    add_trust_roots(fresh, pki.ca)
    result = seal_case(fresh)
    assert result.trusted == 1 and local_tsa.requests == 1


def test_no_tsa_configured(case: Case, run: Cli) -> None:
    with pytest.raises(NoTimestampAuthority):
        seal_case(case)
    assert run("seal").exit_code == 2


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("unreachable", "cannot reach"),
        ("hang", "timed out"),
        ("http500", "HTTP 500"),
        ("garbage", "not an RFC 3161 reply"),
        ("reject", "rejection"),
        ("other-imprint", "other data"),
        ("other-nonce", "another request"),
        ("wrong-eku", "timeStamping"),
        ("expired", "expired"),
    ],
)
def test_failed_seal_writes_nothing(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, mode: str, fragment: str) -> None:
    add_trust_roots(case, pki.ca)
    before = case.paths.ledger.read_bytes()
    checkpoints = sorted(os.listdir(case.paths.checkpoints))
    url = unused_url() if mode == "unreachable" else local_tsa.url
    local_tsa.mode = mode
    # a short time-out only where the TSA never answers: elsewhere the outcome must not depend on speed
    wait = "0.5" if mode == "hang" else "30"
    with pytest.raises(SealFailed, match=fragment):
        seal_case(case, extra_tsa=[url], timeout=float(wait))
    assert case.paths.ledger.read_bytes() == before
    assert sorted(os.listdir(case.paths.checkpoints)) == checkpoints
    assert _files(case) == []
    res = run("seal", "--tsa", url, "--timeout", wait)
    assert res.exit_code == 3
    assert fragment in res.stderr


def test_offline_then_import(case: Case, run: Cli, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca)
    res = run("seal", "--offline", "--json")
    assert res.exit_code == 0, res.output
    req = json.loads(res.stdout)
    size = req["size"]
    tsq = Path(req["tsq"]).read_bytes()
    # the reply from a "connected machine"
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(openssl_reply(pki, tsq))
    # a reply to some other request is refused, nothing recorded
    stranger = tmp_path / "other.tsr"
    from plitool.timestamps.timestamp import make_query

    stranger.write_bytes(openssl_reply(pki, make_query(b"other").der))
    before = case.paths.ledger.read_bytes()
    with pytest.raises(TokenRejected, match="pending"):
        import_reply(case, stranger)
    assert case.paths.ledger.read_bytes() == before
    done = run("seal", "--import", str(reply))
    assert done.exit_code == 0, done.output
    sealed = [e for e in _entries(case) if e.event == "sealed"][-1]
    assert sealed.data["checkpoint"]["size"] == size
    assert sealed.data["tokens"][0]["tsa"] == "imported from reply.tsr"
    assert not list(timestamps_dir(case).glob("*/offline-*.json"))
    assert run("verify").exit_code == 0
    # the same reply twice (issue 8 item 15): "already imported", exit 0, nothing appended
    before = case.paths.ledger.read_bytes()
    again = run("seal", "--import", str(reply))
    assert again.exit_code == 0, again.output
    assert "already imported" in again.output and f"entry #{sealed.seq}" in again.output
    assert case.paths.ledger.read_bytes() == before
    assert json.loads(run("seal", "--import", str(reply), "--json").stdout)["already_imported"] is True
    assert case.paths.ledger.read_bytes() == before


def test_import_of_a_tampered_reply_is_refused(case: Case, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca)
    req = prepare_offline(case)
    blob = bytearray(openssl_reply(pki, req.tsq_path.read_bytes()))
    blob[-10] ^= 1
    bad = tmp_path / "bad.tsr"
    bad.write_bytes(bytes(blob))
    before = case.paths.ledger.read_bytes()
    with pytest.raises(TokenRejected, match="does not verify"):
        import_reply(case, bad)
    assert case.paths.ledger.read_bytes() == before


def test_verify_catches_a_tampered_token(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca)
    _add(run, tmp_path)
    seal_case(case, extra_tsa=[local_tsa.url])
    tsr = next(timestamps_dir(case).glob("*/tsa-01.tsr"))
    blob = bytearray(tsr.read_bytes())
    blob[-10] ^= 1
    tsr.write_bytes(bytes(blob))
    doc = json.loads(run("verify", "--json").stdout)
    assert not doc["ok"]
    assert any(p["kind"] == "timestamp" and "changed" in p["message"] for p in doc["problems"])
    assert doc["trusted_times"] == {}


def test_verify_catches_a_ledger_rewritten_below_a_seal(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    """Rewrite the whole ledger consistently (chain and checkpoints redone): only the seal sees it."""
    from plitool.vault.ledger import GENESIS, NewEvent, encode_entry

    add_trust_roots(case, pki.ca)
    _add(run, tmp_path)
    seal_case(case, extra_tsa=[local_tsa.url])
    entries = _entries(case)
    forged = []
    prev = GENESIS
    import hashlib

    for e in entries:
        data = dict(e.data)
        if e.event == "added":
            data["collected_by"] = "someone else"
        raw = encode_entry(e.seq, prev, e.at, NewEvent(e.event, e.item, data))
        forged.append(raw)
        prev = hashlib.sha256(raw).hexdigest()
    case.paths.ledger.write_bytes(b"".join(r + b"\n" for r in forged))
    for p in case.paths.checkpoints.iterdir():
        p.unlink()
    case.ledger.write_checkpoint(_entries(case))
    doc = json.loads(run("verify", "--json").stdout)
    kinds = {p["kind"] for p in doc["problems"]}
    assert "seal" in kinds, doc["problems"]
    assert any("not an extension" in p["message"] for p in doc["problems"])


def test_two_seals_verify(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    add_trust_roots(case, pki.ca)
    _add(run, tmp_path)
    seal_case(case, extra_tsa=[local_tsa.url])
    _add(run, tmp_path, "b.txt", "world")
    seal_case(case, extra_tsa=[local_tsa.url])
    doc = json.loads(run("verify", "--json").stdout)
    assert doc["ok"], doc["problems"]
    assert doc["seals"] == 2
    assert doc["trusted_times"]["E-0001"]["checkpoint"] < doc["trusted_times"]["E-0002"]["checkpoint"]


def test_verify_catches_a_ledger_cut_back_to_before_its_seal(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    """Remove the seal's own entry (and everything after): the timestamped checkpoint remains."""
    add_trust_roots(case, pki.ca)
    _add(run, tmp_path)
    seal_case(case, extra_tsa=[local_tsa.url])
    keep = _entries(case)[:2]
    case.paths.ledger.write_bytes(b"".join(e.raw + b"\n" for e in keep))
    log = case.ledger.log_path.read_bytes().split(b"\n")  # header, then one line per checkpoint
    case.ledger.log_path.write_bytes(b"".join(line + b"\n" for line in log[:-1] if not line[:10].isdigit() or
                                              int(line[:10]) <= 2))
    doc = json.loads(run("verify", "--json").stdout)
    assert any(p["kind"] == "seal" and "cut short" in p["message"] for p in doc["problems"]), doc["problems"]


def test_hand_dropped_trust_root_does_not_count(case: Case, run: Cli, local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    _add(run, tmp_path)
    run("seal", "--tsa", local_tsa.url)
    from plitool.timestamps.timestamp import fingerprint, load_certificates
    from plitool.timestamps.trust import trust_dir

    cert = load_certificates(pki.ca.read_bytes())[0]
    trust_dir(case).mkdir(parents=True, exist_ok=True)
    (trust_dir(case) / f"{fingerprint(cert)}.pem").write_bytes(pki.ca.read_bytes())
    doc = json.loads(run("verify", "--json").stdout)
    kinds = [p["kind"] for p in doc["problems"]]
    assert "trust" in kinds and "timestamp" in kinds
    assert json.loads(run("trust", "list", "--json").stdout)["roots"] == []


def test_trust_add_refuses_non_roots_and_garbage(case: Case, run: Cli, pki: Pki, tmp_path: Path) -> None:
    assert run("trust", "add", str(pki.cert("tsa"))).exit_code == 2
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    assert run("trust", "add", str(junk)).exit_code == 2
    assert run("trust", "add", str(tmp_path / "missing.pem")).exit_code == 2
    # DER works; adding twice is a no-op
    import subprocess

    der = tmp_path / "ca.der"
    subprocess.run(["openssl", "x509", "-in", str(pki.ca), "-outform", "DER", "-out", str(der)], check=True)
    first = json.loads(run("trust", "add", str(der), "--json").stdout)
    second = json.loads(run("trust", "add", str(pki.ca), "--json").stdout)
    assert first[0]["added"] and not second[0]["added"]
    assert sum(e.event == "trusted" for e in _entries(case)) == 1


def test_system_roots_are_opt_in(case: Case, run: Cli) -> None:
    doc = json.loads(run("trust", "list", "--json").stdout)
    assert doc == {"system_roots_trusted": False, "roots": []}
    assert run("trust", "list", "--system", "--json").exit_code == 0


def test_bad_timestamps_section_is_a_config_error(case: Case, run: Cli) -> None:
    text = case.paths.case_file.read_text("utf-8").replace("tsa = []", 'tsa = ["ftp://nope"]')
    case.paths.case_file.write_text(text, "utf-8")
    res = run("seal")
    assert res.exit_code == 2 and "[timestamps]" in res.stderr


def test_other_pki_root_is_untrusted_in_verify(case: Case, run: Cli, local_tsa: LocalTsa, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other", label="another org")
    add_trust_roots(case, other.ca)
    _add(run, tmp_path)
    res = run("seal", "--tsa", local_tsa.url)
    assert res.exit_code == 1
    assert "root not trusted" in res.stderr.replace("\n", " ")


@needs_openssl
def test_demo_tsa_helper(case: Case, run: Cli, tmp_path: Path) -> None:
    """samples/demo_tsa.py: starts, prints its URL and CA, seals, and stops when killed."""
    import subprocess
    import sys
    import time

    from .conftest import PROJECT_ROOT

    info = tmp_path / "tsa.env"
    proc = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "samples" / "demo_tsa.py"), "--dir", str(tmp_path / "demo"), "--info-file", str(info)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60  # generous: only guards against a hang, never decides the result
        while not info.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "demo_tsa.py did not start"
            time.sleep(0.05)
        values = dict(line.split("=", 1) for line in info.read_text().splitlines())
        assert values["TSA_URL"].startswith("http://127.0.0.1:")
        assert run("trust", "add", values["TSA_CA"], "--name", "DEMO TSA — not trusted").exit_code == 0
        res = run("seal", "--tsa", values["TSA_URL"], "--timeout", "30")
        assert res.exit_code == 0, res.output
        assert "DEMO TSA — not trusted" in res.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_offline_human_output(case: Case, run: Cli) -> None:
    res = run("seal", "--offline")
    assert res.exit_code == 0
    assert "curl" in res.stdout and "seal --import" in res.stderr
    assert run("seal", "--offline", "--import", "x.tsr").exit_code == 2
    doc = json.loads(run("verify", "--json").stdout)
    assert doc["ok"] and any("offline seal request" in n for n in doc["notes"])
