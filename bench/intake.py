"""Intake benchmark (issue 2): plitool side by side with the reference tools, in one run.

    python bench/intake.py [--size-mb 1024] [--files 10000] [--runs 3]

Prints medians and the ratios the issue sets targets for:
  copy mode       plitool add            ÷ (openssl dgst -sha256 + cp + sync)   target <= 1.0
  reference mode  plitool add --no-copy  ÷ openssl dgst -sha256                 target <= 1.15
  many files      plitool add -r         ÷ (cp -r + sync -f)                    target <= 1.5
                  plitool add -r         ÷ hashdeep -c sha256 -r                target <= 3.0
                  (also --no-copy ÷ hashdeep, and copy mode ÷ hashdeep + cp -r + sync: the same
                  work on each side, since creating 10,000 files costs more than hashing them)
  peak RSS adding a 2 GiB file                                                  target <= 200 MB
  plitool --help start-up                                                        target <= 0.25 s
Source files are read from the page cache on every side (one warm-up read first), so the
ratios compare the work, not the disk. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLITOOL = [sys.executable, "-m", "plitool.cli"]
# plitool as installed: its bytecode cached (not compiled again by every run)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "plitool-bench-pycache", "intake"))

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


def timed(cmd: list[str] | str, **kw) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def fresh_case(work: Path, name: str) -> Path:
    case = work / name
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([*PLITOOL, "init", str(case), "--title", "bench"], check=True, capture_output=True)
    return case


def make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)


def warm(path: Path) -> None:
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


def median_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(fn() for _ in range(runs))


def bench_big_file(work: Path, size_mb: int, runs: int) -> list[tuple[str, float, float, float]]:
    src = work / "big.bin"
    make_file(src, size_mb << 20)
    warm(src)
    dest = work / "copy.bin"

    def reference_copy() -> float:
        dest.unlink(missing_ok=True)
        t = timed(f"openssl dgst -sha256 '{src}' && cp '{src}' '{dest}' && sync", shell=True)
        dest.unlink()
        return t

    def plitool_copy() -> float:
        case = fresh_case(work, "case-copy")
        t = timed([*PLITOOL, "--case", str(case), "add", str(src)])
        shutil.rmtree(case)
        return t

    def reference_hash() -> float:
        return timed(["openssl", "dgst", "-sha256", str(src)])

    def plitool_nocopy() -> float:
        case = fresh_case(work, "case-ref")
        t = timed([*PLITOOL, "--case", str(case), "add", "--no-copy", str(src)])
        shutil.rmtree(case)
        return t

    rows = []
    ref, ours = median_of(runs, reference_copy), median_of(runs, plitool_copy)
    rows.append((f"{size_mb} MiB, copy mode vs openssl+cp+sync", ours, ref, 1.0))
    ref, ours = median_of(runs, reference_hash), median_of(runs, plitool_nocopy)
    rows.append((f"{size_mb} MiB, --no-copy vs openssl dgst", ours, ref, 1.15))
    src.unlink()
    return rows


def bench_many_files(work: Path, count: int, runs: int) -> list[tuple[str, float, float, float]]:
    folder = work / "many"
    folder.mkdir()
    for i in range(count):
        (folder / f"{i // 1000:02d}").mkdir(exist_ok=True)
        (folder / f"{i // 1000:02d}" / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
    warm_cmd = f"cat $(find '{folder}' -type f) > /dev/null"
    subprocess.run(warm_cmd, shell=True, check=True)

    def reference() -> float:
        return timed(["hashdeep", "-c", "sha256", "-r", str(folder)])

    def reference_copy() -> float:
        dest = work / "many-copy"
        t = timed(f"hashdeep -c sha256 -r '{folder}' > /dev/null && cp -r '{folder}' '{dest}' && sync", shell=True)
        shutil.rmtree(dest)
        return t

    def ours(*extra: str) -> float:
        case = fresh_case(work, "case-many")
        t = timed([*PLITOOL, "--case", str(case), "add", "-r", *extra, str(folder)])
        shutil.rmtree(case)
        return t

    def cp_sync() -> float:
        dest = work / "many-cp"
        t = timed(f"cp -r '{folder}' '{dest}' && sync -f '{dest}'", shell=True)
        shutil.rmtree(dest)
        return t

    hd, copy_ref, cp_ref = median_of(runs, reference), median_of(runs, reference_copy), median_of(runs, cp_sync)
    ours_copy, ours_ref = median_of(runs, ours), median_of(runs, lambda: ours("--no-copy"))
    shutil.rmtree(folder)
    return [
        (f"{count} files of 4 KiB, -r vs cp -r + sync -f", ours_copy, cp_ref, 1.5),
        (f"{count} files of 4 KiB, -r vs hashdeep -c sha256 -r", ours_copy, hd, 3.0),
        (f"{count} files of 4 KiB, -r --no-copy vs hashdeep (same work)", ours_ref, hd, 3.0),
        (f"{count} files of 4 KiB, -r vs hashdeep + cp -r + sync (same work)", ours_copy, copy_ref, 3.0),
    ]


def peak_rss_2g(work: Path) -> float:
    src = work / "two-gig.raw"
    with open(src, "wb") as fh:
        fh.truncate(2 << 30)
    case = fresh_case(work, "case-rss")
    code = (
        "import sys\nfrom plitool.cli.main import cli\n" + PEAK_RSS_SOURCE +
        "try:\n    cli.main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n    print(peak(), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "--case", str(case), "add", str(src)],
                          capture_output=True, text=True, check=True)
    shutil.rmtree(case)
    src.unlink()
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def startup(runs: int) -> float:
    exe = shutil.which("plitool") or str(Path(sys.executable).with_name("plitool"))
    return median_of(max(runs, 5), lambda: timed([exe, "--help"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-rss", action="store_true")
    args = ap.parse_args()
    missing = [t for t in ("openssl", "hashdeep", "cp", "sync") if shutil.which(t) is None]
    if missing:
        sys.exit(f"bench/intake.py needs {', '.join(missing)} (apt-get install hashdeep openssl)")
    (ROOT / ".bench").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / ".bench") as tmp:
        work = Path(tmp)
        rows = bench_big_file(work, args.size_mb, args.runs)
        rows += bench_many_files(work, args.files, args.runs)
        print(f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        print(f"{'benchmark':66} {'plitool':>9} {'reference':>10} {'ratio':>7} {'target':>7}")
        for name, ours, ref, target in rows:
            verdict = "ok" if ours / ref <= target else "MISSED"
            print(f"{name:66} {ours:8.3f}s {ref:9.3f}s {ours / ref:7.2f} {'<= ' + str(target):>7} {verdict}")
        if not args.skip_rss:
            rss = peak_rss_2g(work)
            print(f"{'peak RSS adding a 2 GiB file (copy mode)':66} {rss:8.1f} MiB {'':>10} {'':>7} {'<= 200':>7} {'ok' if rss <= 200 else 'MISSED'}")
        s = startup(args.runs)
        print(f"{'plitool --help start-up':66} {s:8.3f}s {'':>10} {'':>7} {'<= 0.25':>7} {'ok' if s <= 0.25 else 'MISSED'}")
    print(f"(medians of {args.runs} runs; {os.cpu_count()} cores; max RSS of this driver "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
