"""``verify-proof --data`` on a large file streams it (issue 7 item 10: a 3 GB file used 6.2 GB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: F401 - fixtures
from .conftest import TIMEOUT, Plitool

#: The file is sparse: large to read, free to make. Memory use must not grow with it.
DATA_SIZE = 256 * 1024 * 1024
MAX_RSS = 128 * 1024 * 1024


def test_verify_proof_streams_data(plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki,
                                   local_tsa: LocalTsa) -> None:
    big = tmp_path / "big.img"
    with open(big, "wb") as fh:
        fh.truncate(DATA_SIZE)
    assert plitool("add", big, "--no-copy").code == 0
    assert plitool("trust", "add", pki.ca).code == 0
    assert plitool("seal", "--tsa", local_tsa.url, "--timeout", "30").code == 0
    proof = tmp_path / "E-0001.proof.json"
    assert plitool("prove", "E-0001", "-o", proof).code == 0

    # A small parent whose only child is verify-proof reports that child's peak memory.
    measure = (
        "import resource, subprocess, sys\n"
        "proc = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "sys.stderr.buffer.write(proc.stderr)\n"
        "print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.stdout.count(b'exact bytes'))\n"
    )
    argv = [sys.executable, "-c", measure, sys.executable, "-m", "plitool.cli", "verify-proof", str(proof),
            "--data", str(big), "--ca", str(pki.ca)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "PLITOOL_LANG": "en"})
    code, max_rss_kib, matched = (int(v) for v in done.stdout.split())
    assert code == 0 and matched == 1, done.stderr
    assert max_rss_kib * 1024 < MAX_RSS, f"verify-proof used {max_rss_kib} KiB for a {DATA_SIZE}-byte file"
