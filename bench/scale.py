"""Scale benchmark (issue 12): per-command cost against the case's size, side by side in one run.

    python bench/scale.py [--sizes 10000,100000,1000000] [--runs 3] [--baseline /work/main] [--intake-files 10000]

For each size a case is built directly (the ledger's lines and checkpoint are generated as
plitool writes them: ``tests/attacks/forge.synth_items``, no 10^n ``add`` runs), then each
command is timed (median of ``--runs``) with its peak RSS:

  add-one-file     plitool add F (a fresh 4 KB file)        target <= 0.3 s, <= 100 MiB at 10^6
  show             plitool show E-…                         target <= 0.3 s at 10^6
  seal --offline   plitool seal --offline                   target <= 0.3 s at 10^6
  list --json      plitool list --json > /dev/null           target <= 2x json.loads per ledger line
  log --json       plitool log --json > /dev/null            target <= 2x json.loads per ledger line

with the growth factor per x10 of the case, and the first command after the ledger index is
gone (it rebuilds the index: one full check, as every command did before). ``--baseline DIR``
runs the same commands with another plitool tree (e.g. before this change) beside it: the two
trees take turns run by run, so both see the same load. ``--intake-files N`` adds ``add -r`` of
N x 4 KB files (copy mode) against ``cp -r`` + ``sync -f`` and ``hashdeep -c sha256 -r``; every side
works in ``--work``, so ``--work /dev/shm/plitool-scale --sizes 0 --intake-files 10000`` measures
the intake alone on tmpfs (CPU seconds then show the per-file work without the disk's latency).
``--checkpoints 10000,100000,1000000`` adds cases whose ledger holds that many entries *and* as
many checkpoints (one per entry: the history of a case grown by one ``add`` at a time), as lines
of the checkpoint log (generated directly, not by 10^n ``add`` runs), to show that add, show,
seal --offline and list --json do not grow with the number of checkpoints.
``--legacy-checkpoints 10000,100000`` does the same with cases of the layout before the log (one
checkpoint file per entry, which every appending command lists and ``lstat`` s). Commands that
append are timed with the log settled (the last append more than 2 s before); "add right after
an add" times the case where it has not (its checked bytes are hashed again: see
plitool/vault/index.py, SETTLE_NS).

The machine is shared: every figure is printed with the 1-minute load average (``uptime``) seen
while it was measured. Python writes its bytecode cache (into a folder of the work directory),
as an installed plitool has it; without it every run would compile plitool's sources first.
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT))

from tests.attacks.forge import as_old_case, synth_items  # noqa: E402

#: Runs plitool's CLI in-process and reports its own peak RSS (VmHWM, KiB) and CPU seconds (user +
#: system: what the command costs whatever the machine's load) on fd $PEAK_FD.
RUNNER = (
    "import os, sys\n"
    "from plitool.cli.main import cli\n"
    "code = 0\n"
    "try:\n"
    "    cli.main(args=sys.argv[1:], prog_name='plitool')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)\n"
    "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "cpu = sum(os.times()[:2])\n"
    "os.write(int(os.environ['PEAK_FD']), f'{peak} {cpu}\\n'.encode())\n"
    "sys.exit(code)\n"
)


PYCACHE = Path(tempfile.gettempdir()) / "plitool-bench-pycache"


def bench_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(tree), "PLITOOL_LANG": "en", "PYTHONPYCACHEPREFIX": str(PYCACHE / tree.name)}


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


#: CPU seconds of the last plitool command run (see RUNNER)
LAST_CPU = [0.0]


def run(tree: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak MiB of one plitool command run with the code of ``tree`` (its CPU
    seconds in ``LAST_CPU``)."""
    r, w = os.pipe()
    env = {**bench_env(tree), "PEAK_FD": str(w)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env, pass_fds=(w,),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    os.close(w)
    with os.fdopen(r) as fh:
        peak_kib, _sep, cpu = fh.read().strip().partition(" ")
    peak = int(peak_kib or 0) / 1024
    LAST_CPU[0] = float(cpu or 0)
    if proc.returncode != 0:
        raise SystemExit(f"plitool {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed, peak


def build_case(work: Path, size: int, name: str = "", *, checkpoint_every: int = 0, legacy: bool = False) -> Path:
    """A case of ``size`` synthetic items; with ``checkpoint_every``, checkpoints as lines of the
    checkpoint log, or (``legacy``) as one file each, the layout of cases made before the log."""
    case = work / f"case-{size}{name}"
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(case), "--title", "scale", "--lang", "en"],
                   check=True, capture_output=True, env=bench_env(ROOT))
    if legacy:
        as_old_case(case)
    if size:  # an empty case (the intake's) is what init made: synth_items would log its checkpoint twice
        synth_items(case, size, checkpoint_every=checkpoint_every, log=not legacy)
    return case


#: Checkpoints written less than this ago are read again by each command until they settle (see
#: plitool/vault/index.py, SETTLE_NS); a case's history is older than that in real life.
SETTLE_S = 2.3


def bench_checkpoints(trees: dict[str, Path], count: int, runs: int, work: Path, *,
                      legacy: bool = False) -> dict[str, dict[str, Figure]]:
    """add, add right after an add, show, seal --offline and list --json in a case of ``count``
    entries with one checkpoint per entry (log lines, or files with ``legacy``); each tree its own
    copy, the index built first, outside the figures."""
    tag = "legacy" if legacy else "log"
    cases = {label: build_case(work, count, f"-cp{tag}-{label}", checkpoint_every=1, legacy=legacy) for label in trees}
    label_of = {tree: label for label, tree in trees.items()}
    counter = iter(range(10**9))
    time.sleep(SETTLE_S)
    try:
        for label, tree in trees.items():
            run(tree, ["show", "E-0001"], cases[label])  # builds the index: not what is measured here
            run(tree, ["seal", "--offline"], cases[label])  # the checkpoints checked by a writer once

        def fresh() -> str:
            f = work / f"new-cp{tag}-{count}-{next(counter)}.bin"
            f.write_bytes(os.urandom(4096))
            return str(f)

        def settled(tree: Path, args: list[str]) -> tuple[float, float]:
            time.sleep(SETTLE_S)
            return run(tree, args, cases[label_of[tree]])

        def add_after_add(tree: Path) -> tuple[float, float]:
            run(tree, ["add", fresh()], cases[label_of[tree]])
            return run(tree, ["add", fresh()], cases[label_of[tree]])

        out = {"add-one-file": paired(trees, runs, lambda tree: settled(tree, ["add", fresh()])),
               "add right after an add": paired(trees, runs, add_after_add),
               "show": paired(trees, runs, lambda tree: settled(tree, ["show", f"E-{count // 2:04d}"])),
               "seal --offline": paired(trees, runs, lambda tree: settled(tree, ["seal", "--offline"])),
               "list --json": paired(trees, runs, lambda tree: settled(tree, ["list", "--json"]))}
        return out
    finally:
        for case in cases.values():
            shutil.rmtree(case)


def read_reference(ledger: Path) -> tuple[float, float]:
    """Seconds and CPU seconds of reading the ledger with ``json.loads`` per line (in this process:
    no interpreter start-up on this side)."""
    start, cpu = time.perf_counter(), time.process_time()
    with ledger.open("rb") as fh:
        for line in fh:
            json.loads(line)
    return time.perf_counter() - start, time.process_time() - cpu


#: (seconds, peak MiB, load average, CPU seconds) of one measure
Figure = tuple[float, float, float, float]


def paired(trees: dict[str, Path], runs: int, fn) -> dict[str, Figure]:  # type: ignore[no-untyped-def]
    """``fn(tree)`` -> (seconds, MiB) run ``runs`` times per tree, the trees taking turns; the
    median time, the largest peak and the mean load seen."""
    got: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label in trees}
    for _ in range(runs):
        for label, tree in trees.items():
            before = load()
            t, m = fn(tree)
            got[label].append((t, m, (before + load()) / 2, LAST_CPU[0]))
    return {label: (statistics.median(x[0] for x in g), max(x[1] for x in g), statistics.mean(x[2] for x in g),
                    statistics.median(x[3] for x in g)) for label, g in got.items()}


def drop_index(case: Path) -> None:
    index = case / ".plitool" / "index.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)


def commands(trees: dict[str, Path], cases: dict[str, Path], runs: int, work: Path, tag: str, item: str, *,
             log: bool) -> dict[str, dict[str, Figure]]:
    """add of one fresh 4 KB file, show ITEM, seal --offline, list --json (and log --json), each
    tree in its own copy of the case: {measure: {tree label: figure}}."""
    label_of = {tree: label for label, tree in trees.items()}
    counter = iter(range(10**9))

    def add_one(tree: Path) -> tuple[float, float]:
        f = work / f"new-{tag}-{next(counter)}.bin"
        f.write_bytes(os.urandom(4096))
        return run(tree, ["add", str(f)], cases[label_of[tree]])

    out = {"add-one-file": paired(trees, runs, add_one)}
    measures = [("show", ["show", item]), ("seal --offline", ["seal", "--offline"]), ("list --json", ["list", "--json"])]
    for measure, args in measures + ([("log --json", ["log", "--json"])] if log else []):
        out[measure] = paired(trees, runs, lambda tree, args=args: run(tree, args, cases[label_of[tree]]))
    return out


def bench_size(trees: dict[str, Path], cases: dict[str, Path], size: int, runs: int, work: Path) -> dict[str, dict[str, Figure]]:
    """Every measure at one size: {measure: {tree label: figure}}. Each tree has its own copy of the case."""
    out: dict[str, dict[str, Figure]] = {}
    label_of = {tree: label for label, tree in trees.items()}

    def rebuilt(tree: Path) -> tuple[float, float]:
        drop_index(cases[label_of[tree]])
        return run(tree, ["show", "E-0001"], cases[label_of[tree]])

    out["first command (index rebuilt)"] = paired(trees, 1, rebuilt)
    out.update(commands(trees, cases, runs, work, str(size), f"E-{size // 2:04d}", log=True))
    ledger = cases["this"] / ".plitool" / "ledger.jsonl"
    before = load()
    refs = [read_reference(ledger) for _ in range(runs)]
    ref, ref_cpu = statistics.median(r[0] for r in refs), statistics.median(r[1] for r in refs)
    out["reference: json.loads per line"] = {label: (ref, 0.0, (before + load()) / 2, ref_cpu) for label in trees}
    return out


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_intake(trees: dict[str, Path], work: Path, files: int, runs: int) -> dict[str, Figure]:
    """``add -r`` of ``files`` x 4 KB (copy mode) beside ``cp -r`` + ``sync -f`` and ``hashdeep``,
    all taking turns run by run."""
    src = work / "intake-src"
    if not src.exists():
        for n in range(files):
            folder = src / f"d{n // 1000}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{n}.bin").write_bytes(os.urandom(4096))
    subprocess.run(["sh", "-c", f"cat {src}/*/* > /dev/null"], check=True)

    def add(tree: Path) -> tuple[float, float]:
        case = build_case(work, 0, "-intake")
        try:
            return run(tree, ["add", "-r", str(src)], case)
        finally:
            shutil.rmtree(case)

    def cp_sync(_tree: Path) -> tuple[float, float]:
        dest = work / "cp-dest"
        shutil.rmtree(dest, ignore_errors=True)
        start, cpu = time.perf_counter(), children_cpu()
        subprocess.run(["sh", "-c", f"cp -r {src} {dest} && sync -f {dest}"], check=True)
        took = time.perf_counter() - start
        LAST_CPU[0] = children_cpu() - cpu
        shutil.rmtree(dest)
        return took, 0.0

    def hashdeep(_tree: Path) -> tuple[float, float]:
        start, cpu = time.perf_counter(), children_cpu()
        subprocess.run(["hashdeep", "-c", "sha256", "-r", str(src)], check=True, stdout=subprocess.DEVNULL)
        took = time.perf_counter() - start
        LAST_CPU[0] = children_cpu() - cpu
        return took, 0.0

    refs = {"cp -r + sync -f": cp_sync, **({"hashdeep -c sha256 -r": hashdeep} if shutil.which("hashdeep") else {})}
    sides = {**{f"add -r ({label})": (lambda _t, tree=tree: add(tree)) for label, tree in trees.items()}, **refs}
    got: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, fn in sides.items():
            # The previous side's deletions (a case, cp's copy: 10^4 files) are flushed here, not
            # in the next side's sync: otherwise whichever side follows cp pays for its rmtree.
            subprocess.run(["sync", "-f", str(work)], check=True)
            before = load()
            LAST_CPU[0] = 0.0
            t, _m = fn(ROOT)
            got[name].append((t, (before + load()) / 2, LAST_CPU[0]))
    return {name: (statistics.median(x[0] for x in g), 0.0, statistics.mean(x[1] for x in g),
                   statistics.median(x[2] for x in g)) for name, g in got.items()}


def cell(fig: Figure) -> str:
    t, m, ld, cpu = fig
    return f"{t:.3f} s" + (f", {m:.0f} MiB" if m else "") + (f", cpu {cpu:.2f} s" if cpu else "") + f" (load {ld:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated item counts (10^6 takes long); 0: none")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another plitool tree to run beside this one")
    parser.add_argument("--work", type=Path, help="folder for the cases (default: a temporary one)")
    parser.add_argument("--checkpoints", default="",
                        help="comma-separated counts of checkpoints (log lines, one per entry), e.g. 10000,100000,1000000")
    parser.add_argument("--legacy-checkpoints", default="",
                        help="the same with one checkpoint file per entry (cases made before the log), e.g. 10000,100000")
    parser.add_argument("--intake-files", type=int, default=0,
                        help="also time add -r of this many 4 KB files beside cp -r + sync -f and hashdeep (e.g. 10000)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s and int(s)]
    cp_counts = [int(s) for s in args.checkpoints.split(",") if s and int(s)]
    legacy_counts = [int(s) for s in args.legacy_checkpoints.split(",") if s and int(s)]
    cp_results: dict[int, dict[str, dict[str, Figure]]] = {}
    legacy_results: dict[int, dict[str, dict[str, Figure]]] = {}
    trees = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    work = args.work or Path(tempfile.mkdtemp(prefix="plitool-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, dict[str, Figure]]] = {}
    intake: dict[str, Figure] = {}
    print(f"start: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}; {os.cpu_count()} cores")
    try:
        if args.intake_files:
            intake = bench_intake(trees, work, args.intake_files, args.runs)
        for count in cp_counts:
            print(f"# {count:,} checkpoints (log), load {load():.1f}", file=sys.stderr, flush=True)
            cp_results[count] = bench_checkpoints(trees, count, args.runs, work)
        for count in legacy_counts:
            print(f"# {count:,} checkpoints (files), load {load():.1f}", file=sys.stderr, flush=True)
            legacy_results[count] = bench_checkpoints(trees, count, args.runs, work, legacy=True)
        for size in sizes:
            cases = {label: build_case(work, size, f"-{label}") for label in trees}
            print(f"# {size:,} items, load {load():.1f}", file=sys.stderr, flush=True)
            results[size] = bench_size(trees, cases, size, args.runs, work)
            for case in cases.values():
                shutil.rmtree(case)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if intake:
        print(f"\nadd -r of {args.intake_files:,} x 4 KB files, copy mode (median of {args.runs}, sides taking turns)")
        for name, fig in intake.items():
            print(f"  {name:28} {cell(fig)}")
        ref = intake["cp -r + sync -f"][0]
        hd = intake.get("hashdeep -c sha256 -r", (float("nan"), 0.0, 0.0))[0]
        ref_cpu = intake["cp -r + sync -f"][3]
        hd_cpu = intake.get("hashdeep -c sha256 -r", (0.0, 0.0, 0.0, float("nan")))[3]
        n = args.intake_files
        print(f"  CPU per file: cp -r + sync -f {ref_cpu / n * 1e6:.1f} us, hashdeep {hd_cpu / n * 1e6:.1f} us")
        for label in trees:
            t, cpu = intake[f"add -r ({label})"][0], intake[f"add -r ({label})"][3]
            print(f"  {label}: ÷ (cp -r + sync -f) {t / ref:.2f} (target <= 1.5); ÷ hashdeep {t / hd:.2f} (target <= 3); "
                  f"CPU seconds ÷ cp's {cpu / ref_cpu:.2f}, ÷ hashdeep's {cpu / hd_cpu:.2f}; "
                  f"CPU per file {cpu / n * 1e6:.1f} us (start-up included)")
    for layout, found, counts in (("one checkpoint log line per entry", cp_results, cp_counts),
                                  ("one checkpoint file per entry: cases made before the log", legacy_results,
                                   legacy_counts)):
        if not found:
            continue
        print(f"\n| measure ({layout}) | tree | "
              + " | ".join(f"{c:,} checkpoints" for c in counts) + " | growth per x10 (CPU) |")
        print("|" + "---|" * (3 + len(counts)))
        for measure in next(iter(found.values())):
            for label in trees:
                figs = [found[c][measure][label] for c in counts]
                cpus = [f[3] for f in figs]
                growth = ", ".join(f"{b / a:.2f}x" for a, b in zip(cpus, cpus[1:]) if a > 0) or "-"
                print(f"| {measure} | {label} | " + " | ".join(cell(f) for f in figs) + f" | {growth} |")
    if not sizes:
        return
    measures = list(next(iter(results.values())))
    print("\n| measure | tree | " + " | ".join(f"{s:,} items" for s in sizes) + " | growth per x10 |")
    print("|" + "---|" * (3 + len(sizes)))
    for measure in measures:
        for label in trees if measure != "reference: json.loads per line" else ["this"]:
            figs = [results[size][measure][label] for size in sizes]
            times = [f[0] for f in figs]
            growth = ", ".join(f"{b / a:.2f}x" for a, b in zip(times, times[1:]) if a > 0) or "-"
            print(f"| {measure} | {label} | " + " | ".join(cell(f) for f in figs) + f" | {growth} |")
    print()
    for size in sizes:
        ref, ref_cpu = results[size]["reference: json.loads per line"]["this"][0::3]
        for label in trees:
            lst, lst_cpu = results[size]["list --json"][label][0], results[size]["list --json"][label][3]
            lg, lg_cpu = results[size]["log --json"][label][0], results[size]["log --json"][label][3]
            print(f"{label}, {size:,} items: list --json ÷ json.loads per line {lst / ref:.2f} (CPU seconds: "
                  f"{lst_cpu / ref_cpu:.2f}), log --json ÷ json.loads per line {lg / ref:.2f} (CPU seconds: "
                  f"{lg_cpu / ref_cpu:.2f}) (target <= 2)")


if __name__ == "__main__":
    main()
