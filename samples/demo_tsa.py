#!/usr/bin/env python3
"""A throw-away RFC 3161 timestamp authority for the demo: "DEMO TSA — not trusted".

It makes a fresh root CA and TSA certificate with ``openssl`` (the TSA certificate carries
``extendedKeyUsage = critical,timeStamping``) and answers ``application/timestamp-query`` POSTs
with ``openssl ts -reply`` on 127.0.0.1 until it is killed. Its tokens prove nothing to anyone
else: the root was made a moment ago on this machine. Use it to see plitool's sealing work, never
for a real case.

Usage:
    python3 samples/demo_tsa.py [--dir DIR] [--port N] [--info-file FILE]

Prints, once it listens (shell syntax, so that a script can ``source`` the info file):
    TSA_URL=http://127.0.0.1:PORT/tsr
    TSA_CA=DIR/demo-root-ca.pem
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LABEL = "DEMO TSA — not trusted"

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
"""

TSA_CNF = """\
[ tsa ]
default_tsa = demo
[ demo ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/demo-tsa.pem
certs = $dir/demo-root-ca.pem
signer_key = $dir/demo-tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.99.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"demo_tsa: openssl {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")


def make_pki(d: Path) -> None:
    (d / "ext.cnf").write_text(EXT)
    (d / "tsa.cnf").write_text(TSA_CNF.format(dir=d))
    (d / "tsaserial").write_text("01\n")
    for name in ("demo-root-ca", "demo-tsa"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(d / f"{name}.key"))
    openssl("req", "-x509", "-new", "-utf8", "-key", str(d / "demo-root-ca.key"), "-out", str(d / "demo-root-ca.pem"),
            "-days", "30", "-subj", f"/O=plitool demo/CN={LABEL} (root)", "-config", str(d / "ext.cnf"),
            "-extensions", "ca_ext")
    openssl("req", "-new", "-utf8", "-key", str(d / "demo-tsa.key"), "-out", str(d / "demo-tsa.csr"),
            "-subj", f"/O=plitool demo/CN={LABEL}", "-config", str(d / "ext.cnf"))
    openssl("x509", "-req", "-in", str(d / "demo-tsa.csr"), "-CA", str(d / "demo-root-ca.pem"),
            "-CAkey", str(d / "demo-root-ca.key"), "-CAcreateserial", "-out", str(d / "demo-tsa.pem"),
            "-days", "30", "-extfile", str(d / "ext.cnf"), "-extensions", "tsa_ext")


def serve(d: Path, port: int) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write(f"demo_tsa: {fmt % args}\n")

        def do_POST(self) -> None:  # noqa: N802
            query = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            with lock, tempfile.TemporaryDirectory(dir=d) as tmp:
                q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
                q.write_bytes(query)
                proc = subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"),
                                       "-queryfile", str(q), "-out", str(r)], capture_output=True, check=False)
                body = r.read_bytes() if proc.returncode == 0 and r.exists() else b""
            if not body:
                self.send_error(400, "not a timestamp query")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="Keep the demo CA and keys here (default: a temporary folder, removed on exit).")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (default: chosen by the OS).")
    parser.add_argument("--info-file", type=Path, help="Also write TSA_URL= and TSA_CA= lines to this file once listening.")
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        sys.exit("demo_tsa: the openssl command is needed (Debian: apt-get install openssl)")
    temporary = args.dir is None
    d = Path(tempfile.mkdtemp(prefix="plitool-demo-tsa-")) if temporary else args.dir.resolve()
    d.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        make_pki(d)
        server = serve(d, args.port)
        info = f"TSA_URL=http://127.0.0.1:{server.server_address[1]}/tsr\nTSA_CA={d / 'demo-root-ca.pem'}\n"
        if args.info_file:
            tmp = args.info_file.with_name(args.info_file.name + ".tmp")
            tmp.write_text(info)
            os.replace(tmp, args.info_file)
        sys.stdout.write(info)
        sys.stdout.flush()
        sys.stderr.write(f"demo_tsa: {LABEL}: listening; its root was made just now and proves nothing. Ctrl-C to stop.\n")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if temporary:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
