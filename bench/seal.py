#!/usr/bin/env python3
"""Benchmark: seal and verify a case whose ledger holds 100,000 entries; verify-proof per item.

The ledger is built directly with ``Ledger.append`` in batches (notes), plus a few real evidence
files added the normal way so that ``verify`` and ``prove`` have items to work on. A throw-away
local TSA (``samples/demo_tsa.py``'s openssl one) answers the seal; its answer time is measured
apart from plitool's own work. Run: ``.venv/bin/python bench/seal.py [--entries N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plitool.vault.case import Case, init_case  # noqa: E402
from plitool.vault.intake import *  # noqa: E402,F401,F403 - imported so its import time is not measured below
from plitool.vault.ledger import NewEvent  # noqa: E402
from plitool.timestamps.proof import verify_proof, write_proof  # noqa: E402
from plitool.timestamps.seal import check_seals, seal_case  # noqa: E402
from plitool.timestamps.timestamp import load_certificates, post_query  # noqa: E402
from plitool.timestamps.trust import add_trust_roots  # noqa: E402
from plitool.vault.verify import verify_case  # noqa: E402


def load_demo_tsa():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("demo_tsa", ROOT / "samples" / "demo_tsa.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_files(case: Case, folder: Path, count: int) -> None:
    from click.testing import CliRunner

    from plitool.cli.main import cli

    folder.mkdir()
    for i in range(count):
        (folder / f"item-{i:03d}.txt").write_text(f"evidence file {i}\n" * 100)
    res = CliRunner().invoke(cli, ["--case", str(case.root), "add", str(folder), "-r"])
    assert res.exit_code == 0, res.output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        sys.exit("bench/seal.py needs the openssl command for its local TSA")
    demo = load_demo_tsa()
    work = Path(tempfile.mkdtemp(prefix="plitool-bench-seal-"))
    try:
        tsa_dir = work / "tsa"
        tsa_dir.mkdir()
        demo.make_pki(tsa_dir)
        server = demo.serve(tsa_dir, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/tsr"

        case = init_case(work / "case", "bench", "en")
        add_trust_roots(case, tsa_dir / "demo-root-ca.pem", "bench TSA")
        add_files(case, work / "files", args.items)
        t0 = time.perf_counter()
        remaining = args.entries - len(case.ledger.scan().entries)
        batch = 10_000
        with case.locked():
            while remaining > 0:
                n = min(batch, remaining)
                case.ledger.append([NewEvent("note", None, {"text": f"bulk note {i}"}) for i in range(n)])
                remaining -= n
        built = time.perf_counter() - t0
        size = len(case.ledger.scan().entries)
        print(f"ledger: {size:,} entries built in {built:.2f} s (bench set-up, not a figure)")

        tsa_seconds: list[float] = []

        def timed_post(u: str, q: bytes, timeout: float) -> bytes:
            start = time.perf_counter()
            try:
                return post_query(u, q, timeout=timeout)
            finally:
                tsa_seconds.append(time.perf_counter() - start)

        t0 = time.perf_counter()
        result = seal_case(case, extra_tsa=[url], post=timed_post)
        sealed = time.perf_counter() - t0
        assert result.trusted == 1
        print(f"seal:   {sealed * 1000:8.1f} ms total = {(sealed - sum(tsa_seconds)) * 1000:8.1f} ms plitool "
              f"+ {sum(tsa_seconds) * 1000:6.1f} ms TSA answer (local openssl TSA over loopback)")

        case = Case(case.root)
        t0 = time.perf_counter()
        report = verify_case(case)
        verified = time.perf_counter() - t0
        assert report.ok, report.problems
        entries = case.ledger.scan().entries
        items = {e.item: e.seq for e in entries if e.event == "added" and e.item}
        t0 = time.perf_counter()
        check = check_seals(case, entries, items)
        seal_part = time.perf_counter() - t0
        assert not check.problems
        print(f"verify: {verified * 1000:8.1f} ms whole case ({report.entries:,} entries, {report.items} items, "
              f"{report.seals} seal); of which timestamps + consistency ≈ {seal_part * 1000:.1f} ms")

        roots = load_certificates((tsa_dir / "demo-root-ca.pem").read_bytes())
        proofs = []
        t0 = time.perf_counter()
        for item in sorted(items):
            out = work / f"{item}.proof.json"
            write_proof(case, item, out)
            proofs.append((out.read_bytes(), work / "files" / f"item-{int(item[2:]) - 1:03d}.txt"))
        prove_ms = (time.perf_counter() - t0) * 1000 / len(proofs)
        print(f"prove:  {prove_ms:8.1f} ms per item (each re-reads the {size:,}-entry ledger and re-checks the seal)")
        runs = []
        for _ in range(3):
            for blob, data in proofs:
                t0 = time.perf_counter()
                rep = verify_proof(blob, data=data, roots=roots)
                runs.append((time.perf_counter() - t0) * 1000)
                assert rep.ok, rep.checks
        print(f"verify-proof: median {statistics.median(runs):.2f} ms, max {max(runs):.2f} ms per item "
              f"(library call, with --data; target ≤ 50 ms)")
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
