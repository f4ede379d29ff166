"""RFC 3161 core: requests, the network, verdicts, the DER-order trap, interop, ``timestamp verify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from plitool.cli.main import cli
from plitool.errors import TsaFailed, UsageError
from plitool.timestamps.timestamp import (
    _encode,
    _sort_set_of,
    der_sort_certificate_set,
    load_certificates,
    make_query,
    post_query,
    split_reply,
    verify_reply,
)
from .tsa_support import (  # noqa: F401 - fixtures
    INTEROP,
    LocalTsa,
    Pki,
    local_tsa,
    openssl_reply,
    openssl_verifies,
    openssl_verifies_query,
    pki,
    unused_url,
)

DATA = b"plitool.case/test\n3\nAAAA\n"


def _roots(pki: Pki) -> list:
    return load_certificates(pki.ca.read_bytes())


def _cross_check(tmp_path: Path, pki: Pki, reply: bytes, data: bytes = DATA) -> bool:
    r, d = tmp_path / "r.tsr", tmp_path / "d"
    r.write_bytes(reply)
    d.write_bytes(data)
    return openssl_verifies(r, d, pki.ca)


# -- requests ---------------------------------------------------------------------------------


def test_query_has_imprint_nonce_and_cert_request() -> None:
    from rfc3161_client._rust import parse_timestamp_request

    q = make_query(DATA, "sha512")
    req = parse_timestamp_request(q.der)
    assert req.cert_req is True
    assert req.nonce == q.nonce
    assert req.message_imprint.message == q.digest
    assert make_query(DATA).nonce != q.nonce


def test_unknown_hash_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_query(DATA, "md5")


# -- a real local TSA: good and bad answers ---------------------------------------------------


def test_valid_reply_agrees_with_openssl(local_tsa: LocalTsa, pki: Pki, tmp_path: Path) -> None:
    q = make_query(DATA)
    reply = post_query(local_tsa.url, q.der, timeout=5)
    verdict = verify_reply(reply, data=DATA, roots=_roots(pki), nonce=q.nonce)
    assert verdict.status == "valid", verdict.message
    assert verdict.info is not None and verdict.info.nonce == q.nonce
    assert verdict.info.policy == "1.3.6.1.4.1.55555.1.1"
    assert verdict.info.accuracy == "±1s 500ms"
    assert _cross_check(tmp_path, pki, reply)
    (tmp_path / "q.tsq").write_bytes(q.der)
    assert openssl_verifies_query(tmp_path / "r.tsr", tmp_path / "q.tsq", pki.ca)


def test_openssl_reply_hits_the_set_ordering_trap_and_still_gets_a_verdict(pki: Pki) -> None:
    from rfc3161_client import decode_timestamp_response

    reply = openssl_reply(pki, make_query(DATA).der)
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        decode_timestamp_response(reply)
    fixed = der_sort_certificate_set(reply)
    assert fixed != reply and len(fixed) == len(reply)
    decode_timestamp_response(fixed)  # parses once the SET is in DER order
    verdict = verify_reply(reply, data=DATA, roots=_roots(pki))
    assert verdict.ok
    assert any("DER order" in n for n in verdict.notes)


def test_bare_token_is_accepted(pki: Pki, tmp_path: Path) -> None:
    reply = openssl_reply(pki, make_query(DATA).der)
    _, token = split_reply(reply)
    assert token is not None
    verdict = verify_reply(token, data=DATA, roots=_roots(pki))
    assert verdict.ok and any("bare" in n for n in verdict.notes)
    t, d = tmp_path / "t.der", tmp_path / "d"
    t.write_bytes(token)
    d.write_bytes(DATA)
    assert openssl_verifies(t, d, pki.ca, token=True)


def test_untrusted_root_is_reported_not_accepted(pki: Pki, tmp_path: Path) -> None:
    reply = openssl_reply(pki, make_query(DATA).der)
    verdict = verify_reply(reply, data=DATA, roots=[])
    assert verdict.status == "untrusted"
    assert not verdict.ok and verdict.signature_valid
    assert "signature valid, root not trusted" in verdict.message


def test_other_root_is_not_trusted(pki: Pki, tmp_path: Path) -> None:
    from .tsa_support import make_pki

    other = make_pki(tmp_path / "other", label="someone else")
    reply = openssl_reply(pki, make_query(DATA).der)
    verdict = verify_reply(reply, data=DATA, roots=load_certificates(other.ca.read_bytes()))
    assert verdict.status == "untrusted"


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("reject", "status rejection"),
        ("other-imprint", "token is for other data"),
        ("other-nonce", "answers another request"),
        ("wrong-eku", "timeStamping extended key usage"),
        ("expired", "expired"),
        ("garbage", "not an RFC 3161 reply"),
    ],
)
def test_bad_answers_get_a_clear_invalid_verdict(local_tsa: LocalTsa, pki: Pki, mode: str, fragment: str, tmp_path: Path) -> None:
    local_tsa.mode = mode
    q = make_query(DATA)
    reply = post_query(local_tsa.url, q.der, timeout=5)
    verdict = verify_reply(reply, data=DATA, roots=_roots(pki), nonce=q.nonce)
    assert verdict.status == "invalid"
    assert fragment in verdict.message
    if mode != "other-nonce":  # openssl ts -verify -data does not see the nonce ...
        assert not _cross_check(tmp_path, pki, reply)
    (tmp_path / "q.tsq").write_bytes(q.der)  # ... -queryfile does
    (tmp_path / "r.tsr").write_bytes(reply)
    assert not openssl_verifies_query(tmp_path / "r.tsr", tmp_path / "q.tsq", pki.ca)


def test_tampered_reply_fails(pki: Pki, tmp_path: Path) -> None:
    reply = bytearray(openssl_reply(pki, make_query(DATA).der))
    # flip a byte inside the signature value (the last bytes of the SignerInfo)
    reply[-10] ^= 0x01
    verdict = verify_reply(bytes(reply), data=DATA, roots=_roots(pki))
    assert verdict.status == "invalid"
    assert not _cross_check(tmp_path, pki, bytes(reply))


def test_digest_instead_of_data(pki: Pki) -> None:
    import hashlib

    reply = openssl_reply(pki, make_query(DATA).der)
    assert verify_reply(reply, digest=hashlib.sha256(DATA).digest(), roots=_roots(pki)).ok
    assert not verify_reply(reply, digest=hashlib.sha256(b"x").digest(), roots=_roots(pki)).ok
    assert not verify_reply(reply, digest=b"\0" * 5, roots=_roots(pki)).ok


# -- the network --------------------------------------------------------------------------------


def test_unreachable_tsa() -> None:
    with pytest.raises(TsaFailed, match="cannot reach"):
        post_query(unused_url(), b"q", timeout=1)


def test_tsa_that_never_answers_times_out(local_tsa: LocalTsa) -> None:
    local_tsa.mode = "hang"
    with pytest.raises(TsaFailed, match="timed out"):
        post_query(local_tsa.url, make_query(DATA).der, timeout=0.3)


def test_http_500(local_tsa: LocalTsa) -> None:
    local_tsa.mode = "http500"
    with pytest.raises(TsaFailed, match="HTTP 500"):
        post_query(local_tsa.url, make_query(DATA).der, timeout=10)


def test_not_http_is_usage_error() -> None:
    with pytest.raises(UsageError):
        post_query("ftp://example.invalid/", b"q")


# -- DER SET ordering ---------------------------------------------------------------------------


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=6))
def test_der_set_sort_is_idempotent_and_a_permutation(elements: list[bytes]) -> None:
    once = _sort_set_of(elements)
    assert sorted(once) == sorted(elements)
    assert _sort_set_of(once) == once


@given(st.binary(min_size=0, max_size=300))
def test_der_length_encoding_round_trips(content: bytes) -> None:
    from plitool.timestamps.timestamp import _tlv

    blob = _encode(0x04, content)
    tag, start, end = _tlv(blob, 0)
    assert (tag, blob[start:end], end) == (0x04, content, len(blob))


# -- interop: real third-party replies, read in place -------------------------------------------

needs_interop = pytest.mark.skipif(not INTEROP.is_dir(), reason=f"{INTEROP} is absent (shared interop fixtures not laid out)")


@needs_interop
@pytest.mark.parametrize("name", ["response-sha256.tsr", "response-sha384.tsr", "response-sha512.tsr"])
def test_sigstage_replies_verify_for_hello_only(name: str) -> None:
    chain = load_certificates((INTEROP / "sigstage" / "ts_chain.pem").read_bytes())
    blob = (INTEROP / "sigstage" / name).read_bytes()
    assert verify_reply(blob, data=b"hello", roots=[chain[1]]).ok
    bad = verify_reply(blob, data=b"hellO", roots=[chain[1]])
    assert bad.status == "invalid" and "other data" in bad.message


@needs_interop
def test_sigstage_invalid_signature_fails() -> None:
    chain = load_certificates((INTEROP / "sigstage" / "ts_chain.pem").read_bytes())
    verdict = verify_reply((INTEROP / "sigstage" / "response-invalid-signature.tsr").read_bytes(), data=b"hello", roots=[chain[1]])
    assert verdict.status == "invalid" and "signature" in verdict.message


@needs_interop
def test_sigstage_no_embedded_cert_needs_the_chain() -> None:
    chain = load_certificates((INTEROP / "sigstage" / "ts_chain.pem").read_bytes())
    blob = (INTEROP / "sigstage" / "response-no-embedded-cert.tsr").read_bytes()
    assert not verify_reply(blob, data=b"hello", roots=[chain[1]]).ok
    assert verify_reply(blob, data=b"hello", roots=[chain[1]], extra_certs=[chain[0]]).ok


@needs_interop
def test_identrust_reply_verifies_with_der_root() -> None:
    root = load_certificates((INTEROP / "identrust" / "ts_chain.pem").read_bytes())
    verdict = verify_reply((INTEROP / "identrust" / "issue-104.tsr").read_bytes(), data=b"hello", roots=root)
    assert verdict.ok, verdict.message
    assert verdict.info is not None and verdict.info.hash_name == "sha512"


@needs_interop
def test_cli_timestamp_verify_interop(tmp_path: Path) -> None:
    hello = tmp_path / "hello"
    hello.write_bytes(b"hello")
    sig = INTEROP / "sigstage"
    runner = CliRunner()
    ok = runner.invoke(cli, ["timestamp", "verify", str(sig / "response-sha256.tsr"), "--data", str(hello),
                             "--ca", str(sig / "ts_chain.pem"), "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["verdict"] == "valid" and doc["token"]["tsa_name"] == "CN=sigstore-tsa,O=sigstore.dev"
    # the chain file holds the TSA certificate too: the no-embedded-cert token verifies with it
    ok2 = runner.invoke(cli, ["timestamp", "verify", str(sig / "response-no-embedded-cert.tsr"), "--data", str(hello),
                              "--ca", str(sig / "ts_chain.pem")])
    assert ok2.exit_code == 0, ok2.output
    bad = runner.invoke(cli, ["timestamp", "verify", str(sig / "response-invalid-signature.tsr"), "--data", str(hello),
                              "--ca", str(sig / "ts_chain.pem")])
    assert bad.exit_code == 1
    idr = INTEROP / "identrust"
    ok3 = runner.invoke(cli, ["timestamp", "verify", str(idr / "issue-104.tsr"), "--digest",
                              __import__("hashlib").sha512(b"hello").hexdigest(), "--ca", str(idr / "ts_chain.pem")])
    assert ok3.exit_code == 0, ok3.output


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_timestamp_verify_local(pki: Pki, tmp_path: Path) -> None:
    reply = tmp_path / "r.tsr"
    reply.write_bytes(openssl_reply(pki, make_query(DATA).der))
    data = tmp_path / "checkpoint.txt"
    data.write_bytes(DATA)
    runner = CliRunner()
    ok = runner.invoke(cli, ["timestamp", "verify", str(reply), "--data", str(data), "--ca", str(pki.ca)])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.stdout and "policy" in ok.stdout
    untrusted = runner.invoke(cli, ["timestamp", "verify", str(reply), "--data", str(data), "--json"])
    assert untrusted.exit_code == 1
    assert json.loads(untrusted.stdout)["verdict"] == "untrusted"
    both = runner.invoke(cli, ["timestamp", "verify", str(reply)])
    assert both.exit_code == 2
    garbage = tmp_path / "g.tsr"
    garbage.write_bytes(b"nope")
    assert runner.invoke(cli, ["timestamp", "verify", str(garbage), "--data", str(data)]).exit_code == 1
    missing = runner.invoke(cli, ["timestamp", "verify", str(tmp_path / "none.tsr"), "--data", str(data)])
    assert missing.exit_code == 2


def test_der_sort_is_idempotent_on_a_real_reply(pki: Pki) -> None:
    reply = openssl_reply(pki, make_query(DATA).der)
    once = der_sort_certificate_set(reply)
    assert der_sort_certificate_set(once) == once


def test_cli_imports_stay_light() -> None:
    """``plitool --help`` must not pay for rfc3161-client / cryptography / rich."""
    import subprocess
    import sys

    code = (
        "import sys, plitool.cli.main, plitool.cli.seal_cmds; "
        "heavy = [m for m in ('rfc3161_client', 'cryptography', 'rich') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chain_certificates_never_become_trust_anchors(pki: Pki, tmp_path: Path) -> None:
    """Certificates that only complete a chain (a proof's chain.pem) must not make it trusted."""
    from .tsa_support import make_pki

    other = make_pki(tmp_path / "other", label="unrelated")
    reply = openssl_reply(pki, make_query(DATA).der)
    chain = load_certificates(pki.cert("tsa").read_bytes()) + _roots(pki)
    verdict = verify_reply(reply, data=DATA, roots=load_certificates(other.ca.read_bytes()), extra_certs=chain)
    assert verdict.status == "untrusted", verdict.message
    assert verify_reply(reply, data=DATA, roots=_roots(pki), extra_certs=chain).ok
