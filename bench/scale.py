"""Scale benchmark (issue 12): per-command cost against the case's size, side by side in one run.

    python bench/scale.py [--sizes 10000,100000,1000000] [--runs 3] [--baseline /work/main] [--intake-files 10000]

For each size a case is built directly (the ledger's lines and checkpoint are generated as
plitool writes them: ``tests/attacks/forge.synth_items``, no 10^n ``add`` runs), then each
command is timed (median of ``--runs``) with its peak RSS:

  add-one-file     plitool add F (a fresh 4 KB file)        target <= 0.3 s, <= 100 MiB at 10^6
  show             plitool show E-…                         target <= 0.3 s at 10^6
  seal --offline   plitool seal --offline                   target <= 0.3 s at 10^6
  list --json      plitool list --json > /dev/null           reference: json.loads per ledger line

with the growth factor per x10 of the case, and the first command after the ledger index is
gone (it rebuilds the index: one full check, as every command did before). ``--baseline DIR``
runs the same commands with another plitool tree (e.g. before this change) beside it. The
machine's load (``uptime``) is printed with the figures. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attacks.forge import synth_items  # noqa: E402

#: Runs plitool's CLI in-process and reports its own peak RSS (VmHWM, KiB) on fd $PEAK_FD.
RUNNER = (
    "import os, sys\n"
    "from plitool.cli.main import cli\n"
    "code = 0\n"
    "try:\n"
    "    cli.main(args=sys.argv[1:], prog_name='plitool')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)\n"
    "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "os.write(int(os.environ['PEAK_FD']), f'{peak}\\n'.encode())\n"
    "sys.exit(code)\n"
)


def run(tree: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak MiB of one plitool command run with the code of ``tree``."""
    r, w = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(tree), "PLITOOL_LANG": "en", "PEAK_FD": str(w)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env, pass_fds=(w,),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    os.close(w)
    with os.fdopen(r) as fh:
        peak = int(fh.read().strip() or 0) / 1024
    if proc.returncode != 0:
        raise SystemExit(f"plitool {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed, peak


def build_case(work: Path, size: int) -> Path:
    case = work / f"case-{size}"
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(case), "--title", "scale", "--lang", "en"],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    synth_items(case, size)
    return case


def read_reference(ledger: Path) -> float:
    start = time.perf_counter()
    with ledger.open("rb") as fh:
        for line in fh:
            json.loads(line)
    return time.perf_counter() - start


def median(runs: int, fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    got = [fn() for _ in range(runs)]
    return statistics.median(t for t, _m in got), max(m for _t, m in got)


def bench_size(tree: Path, case: Path, size: int, runs: int, work: Path, label: str) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    index = case / ".plitool" / "index.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    out["first command (index rebuilt)"] = run(tree, ["show", "E-0001"], case)
    counter = iter(range(10**9))

    def add_one() -> tuple[float, float]:
        f = work / f"new-{label}-{size}-{next(counter)}.bin"
        f.write_bytes(os.urandom(4096))
        return run(tree, ["add", str(f)], case)

    out["add-one-file"] = median(runs, add_one)
    out["show"] = median(runs, lambda: run(tree, ["show", f"E-{size // 2:04d}"], case))
    out["seal --offline"] = median(runs, lambda: run(tree, ["seal", "--offline"], case))
    out["list --json"] = median(runs, lambda: run(tree, ["list", "--json"], case))
    out["log --json"] = median(runs, lambda: run(tree, ["log", "--json"], case))
    out["reference: json.loads per line"] = (read_reference(case / ".plitool" / "ledger.jsonl"), 0.0)
    return out


def bench_intake(tree: Path, work: Path, files: int, runs: int) -> dict[str, float]:
    """``add -r`` of ``files`` × 4 KB (copy mode) beside ``cp -r`` + ``sync -f`` and ``hashdeep``."""
    src = work / "intake-src"
    if not src.exists():
        for n in range(files):
            folder = src / f"d{n // 1000}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{n}.bin").write_bytes(os.urandom(4096))
    subprocess.run(["sh", "-c", f"cat {src}/*/* > /dev/null"], check=True)

    def add() -> tuple[float, float]:
        case = build_case(work, 0)
        try:
            return run(tree, ["add", "-r", str(src)], case)
        finally:
            shutil.rmtree(case)

    def cp_sync() -> float:
        dest = work / "cp-dest"
        shutil.rmtree(dest, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(["sh", "-c", f"cp -r {src} {dest} && sync -f {dest}"], check=True)
        took = time.perf_counter() - start
        shutil.rmtree(dest)
        return took

    def hashdeep() -> float:
        start = time.perf_counter()
        subprocess.run(["hashdeep", "-c", "sha256", "-r", str(src)], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    plitool, _peak = median(runs, add)
    reference = statistics.median(cp_sync() for _ in range(runs))
    hashed = statistics.median(hashdeep() for _ in range(runs)) if shutil.which("hashdeep") else float("nan")
    return {"add -r": plitool, "cp -r + sync -f": reference, "hashdeep -c sha256 -r": hashed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated item counts (10^6 takes long)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another plitool tree to run beside this one")
    parser.add_argument("--work", type=Path, help="folder for the cases (default: a temporary one)")
    parser.add_argument("--intake-files", type=int, default=0,
                        help="also time add -r of this many 4 KB files beside cp -r + sync -f and hashdeep (e.g. 10000)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s and int(s)]
    trees = [("this", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    work = args.work or Path(tempfile.mkdtemp(prefix="plitool-scale-"))
    results: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
    intake: dict[str, dict[str, float]] = {}
    try:
        if args.intake_files:
            for label, tree in trees:
                intake[label] = bench_intake(tree, work, args.intake_files, args.runs)
        for size in sizes:
            for label, tree in trees:
                case = build_case(work, size)
                load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
                print(f"# {label}, {size:,} items — {load}", file=sys.stderr, flush=True)
                results[(label, size)] = bench_size(tree, case, size, args.runs, work, label)
                shutil.rmtree(case)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    for label, got in intake.items():
        ref, hd = got["cp -r + sync -f"], got["hashdeep -c sha256 -r"]
        print(f"{label}: add -r of {args.intake_files:,} x 4 KB {got['add -r']:.2f} s; ÷ (cp -r + sync -f) "
              f"{got['add -r'] / ref:.2f} (target <= 1.5); ÷ hashdeep {got['add -r'] / hd:.2f} (target <= 3)")
    if not sizes:
        return
    measures = list(next(iter(results.values())))
    header = "| measure | tree | " + " | ".join(f"{s:,} items" for s in sizes) + " | growth per x10 |"
    print(header)
    print("|" + "---|" * (3 + len(sizes)))
    for measure in measures:
        for label, _tree in trees:
            cells = []
            times = []
            for size in sizes:
                t, m = results[(label, size)][measure]
                times.append(t)
                cells.append(f"{t:.3f} s" + (f", {m:.0f} MiB" if m else ""))
            growth = ", ".join(f"{b / a:.2f}x" for a, b in zip(times, times[1:]) if a > 0) or "-"
            print(f"| {measure} | {label} | " + " | ".join(cells) + f" | {growth} |")
    for size in sizes:
        ref = results[("this", size)]["reference: json.loads per line"][0]
        lst = results[("this", size)]["list --json"][0]
        print(f"list --json ÷ json.loads per line at {size:,}: {lst / ref:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
