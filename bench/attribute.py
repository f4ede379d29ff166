"""Attribution benchmark (issue 9): bulk ingest and attribution at 10^5, 10^6 (and 10^7) leaked rows.

    python bench/attribute.py [--sizes 100000,1000000] [--with-10m] [--keep DIR]
    python bench/attribute.py --case DIR/n10000000/case      # attribution only, over a kept case
    python bench/attribute.py --case DIR/n1000000/case --memory 200MB --no-floor
                                       # the same under a smaller DuckDB memory limit

Generated data (synthetic, deterministic): 20 holder agents; a leak of N rows × 3 personal-data
fields (name, phone, id_number), 90% drawn from the true source's holdings and 10% from subjects
nobody holds; holdings of 5 N rows in all (the source holds N, the other 19 share 4 N drawn from a
population of 2 N that overlaps the source's). Each size runs in its own process, so the peak RSS
(VmHWM) is that size's alone. Reported per size:

  add        plitool's vault intake of the CSV files (hash + copy), for reference
  ingest     rows/s of ``ingest`` (stream, type, normalise, fingerprint, insert) over all 6 N rows
  attribute  seconds of ``attribute`` (coverage, N_h, likelihood at 6 values of p, guilt, pair,
             affected individuals)
  floor      seconds of a hand-written DuckDB query over the same fingerprint tables: joint coverage
             per agent (candidates by ID number or phone, the other values checked on the same held
             row) and Σ ln P(r|h) at one p, with no time, field, marker or mask logic — the least any
             engine has to do; ratio = attribute ÷ floor
  peak RSS   of the whole size's process
  load       the 1-minute load average before and after (figures taken on a busy machine say so)
  cpu        CPU seconds of ingest and of attribution (all threads, and hashing processes if any):
             on a shared machine wall-clock time follows the other jobs, CPU time much less
  growth     per ×10 (and first to last size): end to end, attribution, attribution CPU, each as
             a multiple of linear (1.00 = the time grew as the rows did)

``--memory`` sets PLITOOL_DUCKDB_MEMORY (default 1GB) for the run. The attribution is cheapest
while its prepared tables fit the limit; a 10^6 case under 200MB against a 10^7 case under
1GB compares the two sizes when neither fits, i.e. the algorithm's growth without the step
from memory to disk that a fixed limit puts between 10^6 and 10^7.

Targets (issue 9): 10^6 end to end (ingest + attribution) ≤ 30 s on the 2-core machine; time
grows no faster than linearly from 10^5 to 10^7; peak RSS ≤ 2 GB at 10^7. Nothing here runs in
the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTS = 20
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰"
CHECK = ["0123456789X"[(1 - 2 * r) % 11] for r in range(11)]
REGIONS = ("110105", "310104", "440305", "510107", "330106", "420102", "610113", "320102")

FLOOR_SQL = """
WITH lv AS (SELECT record, field, fp FROM leaks),
rec AS (SELECT record, count(*) AS nf FROM lv GROUP BY record),
anchor AS (SELECT DISTINCT l.record, h.agent, h.dataset, h.subject_key
           FROM lv l JOIN holdings h ON h.fp = l.fp WHERE l.field IN ('id_number', 'phone')),
verified AS (SELECT a.record, a.agent, a.dataset, a.subject_key, count(*) AS nm
             FROM anchor a JOIN lv l USING (record) JOIN holdings h
               ON h.subject_key = a.subject_key AND h.fp = l.fp AND h.dataset = a.dataset
             GROUP BY ALL),
cov AS (SELECT v.agent, v.record, count(*) AS k FROM verified v JOIN rec USING (record) WHERE v.nm = rec.nf GROUP BY ALL),
nh AS (SELECT agent, sum(rows) AS n FROM datasets WHERE role = 'holdings' GROUP BY agent),
tot AS (SELECT count(*) AS r FROM rec)
SELECT cov.agent, count(*) AS covered,
       sum(ln(0.9 * k / nh.n + 0.1 / $n0)) + (any_value(tot.r) - count(*)) * ln(0.1 / $n0) AS ll
FROM cov JOIN nh USING (agent) CROSS JOIN tot GROUP BY cov.agent ORDER BY ll DESC
"""


def subject(i: int) -> tuple[str, str, str]:
    """Subject i: a name, a valid mainland mobile number and a valid resident ID number."""
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 31) % len(GIVEN)] + GIVEN[(i // 7) % len(GIVEN)]
    phone = str(13800000000 + i * 3 % 100000000 + (i // 100000000) * 100000000)
    born = date.fromordinal(date(1950, 1, 1).toordinal() + i % 18000)
    body = f"{REGIONS[(i // 18000) % len(REGIONS)]}{born:%Y%m%d}{(i // 144000) % 1000:03d}"
    return name, phone, body + CHECK[int(body, 13) % 11]


def write_csv(path: Path, ids: list[int] | range) -> None:
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as f:
        f.write("姓名,手机号,身份证号\n")
        for i in ids:
            f.write("%s,%s,%s\n" % subject(i))


def generate(n: int, work: Path) -> tuple[list[Path], Path, str]:
    import random

    rng = random.Random(n)
    pop = 2 * n
    files = []
    # a0 is the source: it holds subjects 0..n-1
    write_csv(work / "a0.csv", range(n))
    files.append(work / "a0.csv")
    share = 4 * n // (AGENTS - 1)
    for a in range(1, AGENTS):
        start = rng.randrange(0, pop - share)
        write_csv(work / f"a{a}.csv", range(start, start + share))
        files.append(work / f"a{a}.csv")
    own = rng.sample(range(n), n * 9 // 10)
    elsewhere = range(pop, pop + n - len(own))
    leak = work / "leak.csv"
    write_csv(leak, list(own) + list(elsewhere))
    return files, leak, "a0"


def flows_yaml() -> str:
    lines = ["agents:"] + [f"  - {{id: a{a}, name: Agent {a}, kind: holder}}" for a in range(AGENTS)]
    lines += ["  - {id: ring, name: Ring, kind: infringer}", "  - {id: market, name: Market, kind: sighting}",
              "edges:", "  - {from: a0, to: ring, kind: sold_to, fields: [name, phone, id_number], since: 2022-01-01, evidence: [E-0001]}",
              "  - {from: ring, to: market, kind: observed_at, since: 2023-01-01}"]
    return "\n".join(lines) + "\n"


def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished child processes."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(n: int, keep: str | None, *, floor_query: bool = True) -> dict[str, float | int | str | None]:
    sys.path.insert(0, str(ROOT))
    from plitool.provenance.attribute import attribute
    from plitool.provenance.ingest import ingest
    from plitool.provenance.items import item_store
    from plitool.vault.case import init_case
    from plitool.vault.intake import IntakeOptions, add_evidence

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="plitool-bench-attr-"))
    work = base / f"n{n}"
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    files, leak, source = generate(n, work)
    gen_s = time.perf_counter() - t
    case = init_case(work / "case", "bench", "en")
    (case.root / "flows.yaml").write_text(flows_yaml(), "utf-8")
    t = time.perf_counter()
    report = add_evidence(case, [*files, leak], IntakeOptions())
    add_s = time.perf_counter() - t
    ids = [r.item for r in report.results]
    rows = 0
    cpu0 = _cpu()
    t = time.perf_counter()
    for a, item in enumerate(ids[:-1]):
        res = ingest(case, role="holdings", agent=f"a{a}", target=item, day=date(2020, 1, 1))
        rows += res.rows
    hold_s = time.perf_counter() - t
    t = time.perf_counter()
    res = ingest(case, role="leak", agent="market", target=ids[-1], day=date(2023, 1, 1))
    leak_s = time.perf_counter() - t
    rows += res.rows
    ingest_cpu = _cpu() - cpu0
    cpu0 = _cpu()
    t = time.perf_counter()
    result = attribute(case)
    attr_s = time.perf_counter() - t
    attr_cpu = _cpu() - cpu0
    import duckdb

    t = time.perf_counter()
    floor: list[tuple[str, int, float]] = []
    floor_s: float | None = None
    try:
        if floor_query:
            with item_store(case, read_only=True) as store:
                floor = store.con.execute(FLOOR_SQL, {"n0": float(result.population)}).fetchall()
            floor_s = time.perf_counter() - t
    except (duckdb.OutOfMemoryException, duckdb.IOException):  # one query in the same limit (or out of disk while spilling)
        floor_s = None
    if not keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return {
        "n": n, "generate_s": gen_s, "add_s": add_s, "holdings_rows": rows - res.rows, "holdings_s": hold_s,
        "leak_rows": res.rows, "leak_s": leak_s, "ingest_rows_per_s": rows / (hold_s + leak_s),
        "leak_rows_per_s": res.rows / leak_s, "attribute_s": attr_s, "floor_s": floor_s,
        "ratio": attr_s / floor_s if floor_s else None, "load": (load0, os.getloadavg()[0]), "top": result.top, "expected": source,
        "floor_top": floor[0][0] if floor else None, "verdict": result.verdict, "peak_rss_mb": peak_rss_mb(),
        "end_to_end_s": hold_s + leak_s + attr_s, "ingest_cpu_s": ingest_cpu, "attribute_cpu_s": attr_cpu,
    }


def attribute_only(root: str, *, floor: bool = True) -> dict[str, float | str | None]:
    """``--case DIR``: attribution and floor only, over a case already loaded (a kept 10^7 case:
    its ingest takes longer than the attribution)."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    from plitool.provenance.attribute import attribute
    from plitool.provenance.items import item_store
    from plitool.vault.case import Case

    case = Case(Path(root))
    load0 = os.getloadavg()[0]
    cpu0 = _cpu()
    t = time.perf_counter()
    result = attribute(case)
    attr_s = time.perf_counter() - t
    attr_cpu = _cpu() - cpu0
    attr_rss = peak_rss_mb()
    print(json.dumps({"attribute_s": attr_s, "attribute_cpu_s": attr_cpu, "attribute_peak_rss_mb": attr_rss, "top": result.top}),
          file=sys.stderr, flush=True)
    t = time.perf_counter()
    floor_s: float | None = None
    if floor:
        try:
            with item_store(case, read_only=True) as store:
                store.con.execute(FLOOR_SQL, {"n0": float(result.population)}).fetchall()
            floor_s = time.perf_counter() - t
        except (duckdb.OutOfMemoryException, duckdb.IOException):  # out of memory, or of disk while spilling
            floor_s = None
    return {"attribute_s": attr_s, "attribute_cpu_s": attr_cpu, "attribute_peak_rss_mb": attr_rss, "floor_s": floor_s,
            "memory_limit": os.environ.get("PLITOOL_DUCKDB_MEMORY", "1GB"), "top": result.top,
            "verdict": result.verdict, "records": result.records, "peak_rss_mb": peak_rss_mb(),
            "load": (load0, os.getloadavg()[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--with-10m", action="store_true", help="also 10^7 leaked rows (5·10^7 held; long, needs ~30 GB of disk)")
    ap.add_argument("--keep", help="keep the generated cases in this folder")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--case", help="only attribute (and the floor) over this already loaded case, e.g. a kept 10^7 one")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor (at 10^7 it spills tens of GB of a shared disk)")
    ap.add_argument("--memory", help="PLITOOL_DUCKDB_MEMORY for the run (default: as set, else 1GB), e.g. 200MB")
    args = ap.parse_args()
    if args.memory:
        os.environ["PLITOOL_DUCKDB_MEMORY"] = args.memory  # read when the item tables are opened (and by the --one children)
    if args.case:
        print(json.dumps(attribute_only(args.case, floor=not args.no_floor)))
        return
    if args.one:
        print(json.dumps(one(args.one, args.keep, floor_query=not args.no_floor)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.with_10m and 10_000_000 not in sizes:
        sizes.append(10_000_000)
    results = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n)] + (["--keep", args.keep] if args.keep else []) \
            + (["--no-floor"] if args.no_floor else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"N={n:>10,}  add {r['add_s']:7.1f} s | ingest {r['holdings_rows'] + r['leak_rows']:>11,} rows "
              f"{r['holdings_s'] + r['leak_s']:7.1f} s = {r['ingest_rows_per_s']:>9,.0f} rows/s "
              f"(leak {r['leak_rows_per_s']:,.0f} rows/s) | attribute {r['attribute_s']:6.2f} s, floor "
              + (f"{r['floor_s']:6.2f} s, ratio {r['ratio']:.2f}" if r["floor_s"] else "skipped" if args.no_floor else "out of memory")
              + f" | end to end {r['end_to_end_s']:6.1f} s (CPU: ingest {r['ingest_cpu_s']:.1f} s, attribute {r['attribute_cpu_s']:.1f} s) | "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB | top {r['top']} (truth {r['expected']}, floor {r['floor_top']}), "
              f"{r['verdict']} | load average {r['load'][0]:.1f} → {r['load'][1]:.1f}", flush=True)
    pairs = list(zip(results, results[1:]))
    if len(results) > 2:
        pairs.append((results[0], results[-1]))
    for a, b in pairs:
        scale = b["n"] / a["n"]
        print(f"growth {a['n']:,} → {b['n']:,} (× linear): end to end {b['end_to_end_s'] / a['end_to_end_s'] / scale:.2f}, "
              f"attribution {b['attribute_s'] / a['attribute_s'] / scale:.2f}, "
              f"attribution CPU {b['attribute_cpu_s'] / a['attribute_cpu_s'] / scale:.2f}")

if __name__ == "__main__":
    main()
