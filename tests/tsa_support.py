"""A real RFC 3161 TSA for the tests: ``openssl ts -reply`` behind a loopback HTTP server.

``make_pki`` creates a root CA and TSA certificates with ``openssl``; ``LocalTsa`` serves replies
on 127.0.0.1 (port chosen by the OS) in a thread and can misbehave on request (``mode``):

``ok``          a proper reply
``http500``     HTTP 500
``garbage``     200 with bytes that are not DER
``reject``      a real TimeStampResp with status ``rejection`` (unsupported policy)
``other-imprint`` / ``other-nonce``  a valid token, for another request
``hang``        accepts the request and never answers (until the server stops)
``wrong-eku``   the TSTInfo re-signed (openssl cms) by a certificate without the timeStamping EKU
``expired``     signed by a TSA certificate that expired in 2021

Fixtures for test modules: ``from .tsa_support import pki, local_tsa  # noqa: F401``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop" / "rfc3161"

EXT = """\
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[bad_eku_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

CA_CNF = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/ca.serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[ any ]
organizationName = optional
commonName = supplied
"""

TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/{signer}.crt
certs = $dir/ca.crt
signer_key = $dir/{signer}.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def run(*args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
    assert OPENSSL is not None
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, input=input, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass
class Pki:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def config(self, signer: str = "tsa") -> Path:
        path = self.dir / f"tsa-{signer}.cnf"
        if not path.exists():
            path.write_text(TSA_CNF.format(dir=self.dir, signer=signer))
        return path


def _key(d: Path, name: str) -> None:
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(d / f"{name}.key"))


def make_pki(folder: Path, label: str = "plitool tests") -> Pki:
    """Root CA, a good TSA certificate, one with the wrong EKU and one long expired."""
    d = folder
    d.mkdir(parents=True, exist_ok=True)
    (d / "ext.cnf").write_text(EXT)
    (d / "ca.cnf").write_text(CA_CNF.format(dir=d))
    (d / "index.txt").write_text("")
    (d / "newcerts").mkdir(exist_ok=True)
    (d / "ca.serial").write_text("1000\n")
    (d / "tsaserial").write_text("01\n")
    _key(d, "ca")
    run("req", "-x509", "-new", "-key", str(d / "ca.key"), "-out", str(d / "ca.crt"), "-days", "3650",
        "-subj", f"/O={label}/CN={label} Root CA", "-config", str(d / "ext.cnf"), "-extensions", "ca_ext")
    for name, ext, dates in (
        ("tsa", "tsa_ext", None),
        ("wrong-eku", "bad_eku_ext", None),
        ("expired", "tsa_ext", ("20200101000000Z", "20210101000000Z")),
    ):
        _key(d, name)
        run("req", "-new", "-key", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
            "-subj", f"/O={label}/CN={label} TSA {name}", "-config", str(d / "ext.cnf"))
        args = ["ca", "-batch", "-notext", "-config", str(d / "ca.cnf"), "-cert", str(d / "ca.crt"),
                "-keyfile", str(d / "ca.key"), "-in", str(d / f"{name}.csr"), "-out", str(d / f"{name}.crt"),
                "-extfile", str(d / "ext.cnf"), "-extensions", ext]
        args += ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "730"]
        run(*args)
    return Pki(d)


def openssl_reply(pki: Pki, query: bytes, signer: str = "tsa") -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
        q.write_bytes(query)
        run("ts", "-reply", "-config", str(pki.config(signer)), "-queryfile", str(q), "-out", str(r))
        return r.read_bytes()


def openssl_query(data: bytes, *extra: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        f, q = Path(tmp) / "data", Path(tmp) / "q.tsq"
        f.write_bytes(data)
        run("ts", "-query", "-data", str(f), "-sha256", "-cert", *extra, "-out", str(q))
        return q.read_bytes()


def resign_with(pki: Pki, reply: bytes, signer: str) -> bytes:
    """The reply's TSTInfo signed again (openssl cms) by ``signer``: a token no TSA should make."""
    from plitool.timestamps.timestamp import _children, _encode, _tlv, split_reply

    _, token = split_reply(reply)
    assert token is not None
    _, c0, end = _tlv(token, 0)
    explicit = _children(token, c0, end)[1]
    sd = _children(token, explicit[2], explicit[3])[0]
    encap = [f for f in _children(token, sd[2], sd[3]) if f[0] == 0x30][0]
    econtent = _children(token, encap[2], encap[3])[1]  # [0] EXPLICIT OCTET STRING
    octets = _children(token, econtent[2], econtent[3])[0]
    tstinfo = token[octets[2] : octets[3]]
    with tempfile.TemporaryDirectory() as tmp:
        t, o = Path(tmp) / "tst.der", Path(tmp) / "token.der"
        t.write_bytes(tstinfo)
        run("cms", "-sign", "-binary", "-nodetach", "-in", str(t), "-econtent_type", "id-smime-ct-TSTInfo",
            "-signer", str(pki.cert(signer)), "-inkey", str(pki.dir / f"{signer}.key"), "-md", "sha256",
            "-certfile", str(pki.ca), "-outform", "DER", "-out", str(o))
        signed = o.read_bytes()
    return _encode(0x30, bytes.fromhex("3003020100") + signed)


class LocalTsa:
    """``openssl ts -reply`` over HTTP on 127.0.0.1, in a thread."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.mode = "ok"
        self.requests = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.requests += 1
                status, payload = owner.answer(body)
                if status == 0:
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def answer(self, query: bytes) -> tuple[int, bytes]:
        mode = self.mode
        if mode == "http500":
            return 500, b"internal error"
        if mode == "garbage":
            return 200, b"<html>this is not a timestamp</html>"
        if mode == "hang":
            self._release.wait()
            return 0, b""
        with self._lock:
            if mode == "reject":
                return 200, openssl_reply(self.pki, openssl_query(b"x", "-tspolicy", "1.2.3.4.5"))
            if mode == "other-imprint":
                return 200, openssl_reply(self.pki, openssl_query(b"some other document"))
            if mode == "other-nonce":
                # the same imprint, but a fresh request: the nonce differs
                from plitool.timestamps.timestamp import _children, _tlv

                _, c0, end = _tlv(query, 0)
                imprint = _children(query, c0, end)[1]
                digest = _children(query, imprint[2], imprint[3])[1]
                hexd = query[digest[2] : digest[3]].hex()
                with tempfile.TemporaryDirectory() as tmp:
                    q = Path(tmp) / "q.tsq"
                    run("ts", "-query", "-digest", hexd, "-sha256", "-cert", "-out", str(q))
                    return 200, openssl_reply(self.pki, q.read_bytes())
            if mode == "wrong-eku":
                return 200, resign_with(self.pki, openssl_reply(self.pki, query), "wrong-eku")
            if mode == "expired":
                return 200, openssl_reply(self.pki, query, signer="expired")
            return 200, openssl_reply(self.pki, query)

    def __enter__(self) -> LocalTsa:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def unused_url() -> str:
    """An address on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/tsr"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if OPENSSL is None:
        pytest.skip("the openssl command is not installed")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def local_tsa(pki: Pki):  # type: ignore[no-untyped-def]
    with LocalTsa(pki) as tsa:
        yield tsa


def openssl_verifies(reply: Path, data: Path, cafile: Path, *, token: bool = False) -> bool:
    """``openssl ts -verify``'s verdict (the cross-check for plitool's)."""
    assert OPENSSL is not None
    args = [OPENSSL, "ts", "-verify", "-in", str(reply), "-data", str(data), "-CAfile", str(cafile)]
    if token:
        args.insert(3, "-token_in")
    proc = subprocess.run(args, capture_output=True, check=False)
    return proc.returncode == 0 and b"Verification: OK" in proc.stdout


def openssl_verifies_query(reply: Path, query: Path, cafile: Path) -> bool:
    """``openssl ts -verify -queryfile``: checks the imprint and the nonce of the request too."""
    assert OPENSSL is not None
    proc = subprocess.run([OPENSSL, "ts", "-verify", "-in", str(reply), "-queryfile", str(query), "-CAfile", str(cafile)],
                          capture_output=True, check=False)
    return proc.returncode == 0 and b"Verification: OK" in proc.stdout
