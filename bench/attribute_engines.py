"""The attribution on both engines (issue 15): DuckDB (embedded) vs Spark local[2], side by side.

    python bench/attribute_engines.py [--sizes 1000000,10000000] [--keep DIR] [--spark-master local[2]]

Data: bench/attribute.py's generator (20 holder agents; a leak of N records × 3 personal-data
fields, holdings of 5 N subject rows), ingested into a fresh case. Then, each in its own process
so that peak memory is that step's alone:

  duckdb     ``plitool attribute --json`` (the embedded engine)
  export     ``plitool tables export DIR`` (the item tables as Parquet, what a cluster reads):
             seconds, bytes, and bytes per leaked record / per held subject row
  spark      ``plitool attribute --engine spark --spark-master local[2] --tables DIR --json``: the
             same statements transpiled (sqlglot) and run by Spark in one local JVM

Peak memory is the peak of the summed RSS of the process tree (Python and, for Spark, the JVM
it starts), sampled every 0.2 s. Both results must agree (same top agent, verdict, counts; the
posterior within 1e-9 relative); the ratio is spark ÷ duckdb. The 1-minute load average before
and after is printed (the machine is shared). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _base() -> object:
    spec = importlib.util.spec_from_file_location("bench_attribute", ROOT / "bench" / "attribute.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tree_rss_kb(pid: int) -> int:
    """RSS of ``pid`` and all its descendants (kB)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, str, int]:
    """(seconds, peak tree RSS in MB, stdout, stderr, exit code) of one command."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    secs = time.perf_counter() - t
    th.join()
    return secs, peak[0] / 1024, out, err, proc.returncode


def prepare(n: int, base: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from plitool.provenance.ingest import ingest
    from plitool.vault.case import init_case
    from plitool.vault.intake import IntakeOptions, add_evidence

    b = _base()
    work = base / f"n{n}"
    work.mkdir(parents=True, exist_ok=True)
    files, leak, _source = b.generate(n, work)  # type: ignore[attr-defined]
    case = init_case(work / "case", "bench", "en")
    (case.root / "flows.yaml").write_text(b.flows_yaml(), "utf-8")  # type: ignore[attr-defined]
    report = add_evidence(case, [*files, leak], IntakeOptions())
    ids = [r.item for r in report.results]
    t = time.perf_counter()
    for a, item in enumerate(ids[:-1]):
        ingest(case, role="holdings", agent=f"a{a}", target=item, day=date(2020, 1, 1))
    ingest(case, role="leak", agent="market", target=ids[-1], day=date(2023, 1, 1))
    print(f"  n={n:,}: ingest {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    for f in [*files, leak]:
        f.unlink()
    return case.root


def compare(a: dict, b: dict) -> str:
    if [x["agent"] for x in a["agents"]] != [x["agent"] for x in b["agents"]]:
        return "ranking differs"
    for key in ("top", "verdict", "records", "affected_individuals", "population"):
        if a[key] != b[key]:
            return f"{key} differs"
    for x, y in zip(a["agents"], b["agents"], strict=True):
        for k in ("records_covered", "records_only_it_covers", "excluded_by_time", "excluded_by_fields"):
            if x[k] != y[k]:
                return f"{k} of {x['agent']} differs"
        for k in ("posterior", "log10_likelihood", "guilt"):
            if not math.isclose(x[k], y[k], rel_tol=1e-9, abs_tol=1e-300):
                return f"{k} of {x['agent']} differs: {x[k]} vs {y[k]}"
    return "same"


def run_size(n: int, base: Path, master: str, reuse: bool = False) -> dict:
    load0 = os.getloadavg()[0]
    kept = base / f"n{n}" / "case"
    root = kept if reuse and (kept / "case.toml").exists() else prepare(n, base)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PLITOOL_LANG="en")
    cli = [sys.executable, "-m", "plitool.cli", "--case", str(root)]
    duck_s, duck_mb, duck_out, err, rc = measured(cli + ["attribute", "--json"], env)
    assert rc == 0, err
    export = base / f"n{n}" / "tables"
    if reuse and export.exists():
        import shutil

        shutil.rmtree(export)  # exported again, so that the export is timed too
    exp_s, exp_mb, out, err, rc = measured(cli + ["tables", "export", str(export), "--json"], env)
    assert rc == 0, err
    summary = json.loads(out)
    t = summary["tables"]
    spark_s, spark_mb, spark_out, err, rc = measured(
        cli + ["attribute", "--engine", "spark", "--spark-master", master, "--tables", str(export), "--json"], env)
    assert rc == 0, err[-3000:]
    duck, spark = json.loads(duck_out), json.loads(spark_out)
    held_rows = t["holdings"]["rows"]
    return {
        "n": n, "duckdb_s": duck_s, "duckdb_peak_mb": duck_mb, "spark_s": spark_s, "spark_peak_mb": spark_mb,
        "ratio_s": spark_s / duck_s, "ratio_mb": spark_mb / duck_mb if duck_mb else None,
        "export_s": exp_s, "export_bytes": sum(v["bytes"] for v in t.values()),
        "leak_rows": t["leaks"]["rows"], "leak_bytes": t["leaks"]["bytes"],
        "holdings_rows": held_rows, "holdings_bytes": t["holdings"]["bytes"],
        "holding_masks_rows": t["holding_masks"]["rows"], "holding_masks_bytes": t["holding_masks"]["bytes"],
        "agree": compare(duck, spark), "top": duck["top"], "load": (load0, os.getloadavg()[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000", help="leaked records, comma-separated (e.g. 1000000,10000000)")
    ap.add_argument("--keep", help="keep the generated cases and exports here")
    ap.add_argument("--spark-master", default="local[2]")
    ap.add_argument("--reuse", action="store_true",
                    help="use the cases already kept in --keep DIR (e.g. after a run that failed) instead of generating them")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="plitool-bench-engines-"))
    rows = []
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            r = run_size(n, base, args.spark_master, args.reuse)
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    print(f"{'leaked':>12} {'duckdb s':>9} {'MB':>6} {'spark s':>9} {'MB':>6} {'ratio s':>8} {'ratio MB':>8} "
          f"{'B/leak row':>10} {'B/held row':>10} agree")
    for r in rows:
        print(f"{r['n']:>12,} {r['duckdb_s']:>9.1f} {r['duckdb_peak_mb']:>6.0f} {r['spark_s']:>9.1f} "
              f"{r['spark_peak_mb']:>6.0f} {r['ratio_s']:>8.1f} {r['ratio_mb'] or 0:>8.1f} "
              f"{r['leak_bytes'] / max(r['leak_rows'], 1):>10.1f} {r['holdings_bytes'] / max(r['holdings_rows'], 1):>10.1f} "
              f"{r['agree']}")
    print("(rows of the item tables: one per value; a leaked record of 3 fields is 3 leak rows, a held subject 3 "
          "holding rows and 3 mask rows; load average before/after: "
          + ", ".join(f"{r['load'][0]:.1f}/{r['load'][1]:.1f}" for r in rows) + ")")


if __name__ == "__main__":
    main()
