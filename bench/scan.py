"""Benchmark: ``plitool scan`` at scale, each measure side by side with its reference (issue 12).

    python bench/scan.py [--rows N] [--json-mb 200] [--report-rows 200000] [--repeat 3]
                         [--baseline DIR] [--only csv,json,har,report] [--keep DIR] [--with-fingerprints] [--cli]

Generates synthetic evidence in a temporary folder (or ``--keep DIR``, reused), then times each
side in its own child process, so each peak RSS is its own:

* **csv**: a GBK leak list (default 1,000,000 rows × 5 columns: name, phone, ID number, address,
  order id, as leaked lists found in chat groups usually are). Reference: a plain ``csv.reader``
  loop over the file decoded as GBK, touching every row. plitool: ``scan_file`` (encoding
  detection, delimiter sniffing, header-guided column typing, validation of every cell, counts
  per kind, the first 100 findings listed). Ratio: plitool's rows/s ÷ the reference's
  (target ≥ 0.5).
* **json**, **har**: a ``--json-mb`` JSON dump (an array of nested user records with Chinese
  keys) and a HAR capture of the same size (entries with query strings, headers, cookies and
  JSON bodies). Reference: ``json.load`` of the file. Ratio: plitool's seconds ÷ the reference's
  (target ≤ 2), and plitool's peak RSS (target ≤ 200 MiB whatever the size).
* **report**: ``plitool scan E-… --json --limit 0`` (every finding) of a ``--report-rows`` CSV,
  through the CLI into /dev/null, beside the same with the default ``--limit 100``: time and
  peak RSS (target: memory flat).

Each side runs ``--repeat`` times alternately (best time kept: other processes only ever slow a
run down; the largest peak kept); the JSON, HAR and report measures run once unless
``--repeat-all``. ``--baseline DIR`` runs plitool's side again with another tree (e.g. the
commit before a change) in the same conditions. The machine's load (``uptime``) is printed with
every figure, and each side's CPU seconds (user + system, start-up included: the machine is
often shared, and CPU time moves less than wall-clock time under load). ``--with-fingerprints`` adds a CSV line: every finding materialised with its
location and keyed-BLAKE3 fingerprint. ``--cli`` also times ``plitool scan E-0001`` over a case
holding the file (added once, its stored copy without a file-name extension), the path a user
takes, start-up included.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
STREETS = ["虚构路", "样例街", "示范大道", "测试巷"]
PREFIXES = ["130", "131", "132", "135", "136", "138", "139", "150", "151", "158", "186", "188", "199", "177"]
TARGET_CSV_RATIO = 0.5
TARGET_CSV_RSS_MB = 300
TARGET_JSON_RATIO = 2.0
TARGET_JSON_RSS_MB = 200


def _person(rng: random.Random) -> dict[str, str]:
    """Synthetic people: 99xxxx region codes (no such division) with correct check digits."""
    from stdnum.cn.ric import calc_check_digit

    body = (f"99{rng.randrange(3):02d}{rng.randrange(100):02d}{rng.randint(1955, 2005)}"
            f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randrange(1000):03d}")
    return {"name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "phone": rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}",
            "id": body + calc_check_digit(body + "0"),
            "address": f"示例市{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            "order": f"SO{rng.randint(10**11, 10**12 - 1)}",
            "email": f"u{rng.randrange(10**9)}@example.invalid"}


def generate(path: Path, rows: int, seed: int = 20261129) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="gbk", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["姓名", "手机号", "身份证号", "收件地址", "订单号"])
        for _ in range(rows):
            p = _person(rng)
            w.writerow([p["name"], p["phone"], p["id"], p["address"], p["order"]])


def _record(rng: random.Random, n: int) -> dict[str, object]:
    p = _person(rng)
    return {"id": n, "用户": {"姓名": p["name"], "手机号": p["phone"], "email": p["email"], "身份证": p["id"]},
            "address": {"province": "示例省", "detail": p["address"]},
            "orders": [{"order_id": p["order"], "amount": round(rng.random() * 100, 2), "items": ["商品A", "商品B"],
                        "paid": True}],
            "device": {"model": "Phone X", "os": "13.1"}, "tags": ["vip", "新客"], "created": "2025-01-01T00:00:00Z",
            "note": None}


def generate_json(path: Path, size: int, seed: int = 1) -> None:
    """An array of nested user records (Chinese keys), ``size`` bytes or a little more."""
    rng = random.Random(seed)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        n = 0
        while written < size:
            text = json.dumps(_record(rng, n), ensure_ascii=False)
            f.write(("," if n else "") + "\n" + text)
            written += len(text.encode()) + 2
            n += 1
        f.write("\n]\n")


def generate_har(path: Path, size: int, seed: int = 2) -> None:
    """A HAR 1.2 capture: each entry a POST with query string, headers, cookies and JSON bodies."""
    rng = random.Random(seed)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": [')
        n = 0
        while written < size:
            r = _record(rng, n)
            user = r["用户"]
            assert isinstance(user, dict)
            entry = {
                "startedDateTime": "2025-01-01T00:00:00Z", "time": 12.5,
                "request": {"method": "POST", "url": f"https://api.example.invalid/v1/user?uid={n}&mobile={user['手机号']}",
                            "httpVersion": "HTTP/1.1",
                            "headers": [{"name": k, "value": v} for k, v in [
                                ("Host", "api.example.invalid"), ("User-Agent", "Mozilla/5.0"), ("Accept", "*/*"),
                                ("X-Device-Id", f"A1B2C3D4-0000-4000-8000-{n:012d}"), ("Cookie", "sid=abc")]],
                            "cookies": [{"name": "sid", "value": "abc"}],
                            "queryString": [{"name": "uid", "value": str(n)}, {"name": "mobile", "value": user["手机号"]}],
                            "postData": {"mimeType": "application/json", "text": json.dumps(user, ensure_ascii=False)}},
                "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                             "headers": [{"name": "Content-Type", "value": "application/json"}], "cookies": [],
                             "content": {"size": 100, "mimeType": "application/json",
                                         "text": json.dumps(r, ensure_ascii=False)}},
                "timings": {"send": 1, "wait": 10, "receive": 1}}
            text = json.dumps(entry, ensure_ascii=False)
            f.write(("," if n else "") + "\n" + text)
            written += len(text.encode()) + 2
            n += 1
        f.write("\n]}}\n")


CHILD = r"""
import csv, json, os, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
extra = {}
rows = 0
if mode == "floor":
    rows = -1  # the header row is not a data row
    with open(path, encoding="gbk", newline="") as f:
        for row in csv.reader(f):
            rows += 1
elif mode == "json.load":
    with open(path, encoding="utf-8") as f:
        json.load(f)
elif mode in ("plitool", "plitool-json", "plitool-har"):
    from plitool.pii.scan import ScanOptions, scan_file
    result = scan_file(Path(path), Path(path).name, ScanOptions(limit=100))
    rows = result.units
    extra = {"counts": result.counts, "encoding": result.encoding, "status": result.status, "error": result.error}
elif mode == "fingerprints":
    from plitool.pii.fingerprint import Fingerprinter
    from plitool.pii.scan import ScanOptions, scan_file
    fp = Fingerprinter(os.urandom(32))
    n = 0
    def every(f):
        global n
        fp.fingerprint(f.kind, f.value, partial=f.partial)
        n += 1
    result = scan_file(Path(path), Path(path).name, ScanOptions(limit=100), on_finding=every)
    rows = result.units
    extra = {"fingerprinted": n}
else:  # report-all / report-100 / cli: the CLI, its stdout to /dev/null; path is the case folder
    from plitool.cli.main import cli
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    code = 0
    args = ["scan", "E-0001"] if mode == "cli" else ["scan", "E-0001", "--json", "--limit",
                                                     "0" if mode == "report-all" else "100"]
    try:
        cli.main(args=["--case", path, *args], prog_name="plitool")
    except SystemExit as exc:
        code = exc.code or 0
    sys.stdout.flush()
    os.dup2(saved, 1)
    extra = {"code": code}
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
cpu = usage.ru_utime + usage.ru_stime  # with the interpreter's start-up and imports
print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "peak_rss_mb": peak_mb, **extra}))
"""


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1].strip()


def run_child(mode: str, path: Path, tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PLITOOL_LANG": "en"}
    # run in the tree: "python -c" puts the working folder first on sys.path, before PYTHONPATH
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path.resolve())], check=True, capture_output=True,
                         text=True, env=env, stdin=subprocess.DEVNULL, cwd=tree)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["load"] = load()
    return got


def best_of(repeat: int, sides: list[tuple[str, str, Path]], path: Path) -> dict[str, dict]:
    """Each (label, mode, tree) run ``repeat`` times alternately: the best time, the largest peak."""
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for label, mode, tree in sides:
            r = run_child(mode, path, tree)
            if label not in best or r["seconds"] < best[label]["seconds"]:
                best[label] = {**r, "peak_rss_mb": max(r["peak_rss_mb"], best.get(label, {}).get("peak_rss_mb", 0))}
            else:
                best[label]["peak_rss_mb"] = max(best[label]["peak_rss_mb"], r["peak_rss_mb"])
    return best


def case_with(folder: Path, name: str, path: Path, tree: Path) -> Path:
    """A case (made once, kept with ``--keep``) holding ``path`` as its evidence item E-0001."""
    case = folder / name
    if not case.exists():
        env = {**os.environ, "PYTHONPATH": str(tree), "PLITOOL_LANG": "en"}
        subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(case.resolve()), "--title", "bench", "--lang",
                        "en"], check=True, capture_output=True, env=env, cwd=tree)
        subprocess.run([sys.executable, "-m", "plitool.cli", "--case", str(case.resolve()), "add", str(path.resolve())],
                       check=True, capture_output=True, env=env, cwd=tree)
    return case


def line(label: str, r: dict, rate: str = "") -> None:
    print(f"  {label:34} {rate:>14} {r['seconds']:>9.2f} s {r['cpu']:>8.2f} s CPU {r['peak_rss_mb']:>7.0f} MiB   "
          f"load {r['load']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--json-mb", type=int, default=200)
    ap.add_argument("--report-rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-all", action="store_true", help="also repeat the JSON, HAR and report measures")
    ap.add_argument("--baseline", type=Path, help="another plitool tree, run beside this one")
    ap.add_argument("--only", default="csv,json,har,report")
    ap.add_argument("--keep", type=Path, help="Generate into (or reuse) this folder instead of a temporary one.")
    ap.add_argument("--with-fingerprints", action="store_true")
    ap.add_argument("--cli", action="store_true",
                    help="also time 'plitool scan E-0001' (the CLI over the stored copy) for CSV, JSON and HAR")
    args = ap.parse_args()
    only = set(args.only.split(","))
    trees = [("", ROOT)] + ([(" (baseline)", args.baseline.resolve())] if args.baseline else [])
    ok = True
    print(f"{os.cpu_count()} CPUs; load average at start: {load()}")
    with tempfile.TemporaryDirectory(prefix="plitool-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)

        def made(name: str, make, *more) -> Path:  # type: ignore[no-untyped-def]
            path = folder / name
            if not path.exists():
                t = time.perf_counter()
                make(path, *more)
                print(f"generated {name}: {path.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - t:.1f} s",
                      file=sys.stderr)
            return path

        if "csv" in only:
            path = made(f"leak-{args.rows}.csv", generate, args.rows)
            sides = [("csv.reader (reference)", "floor", ROOT)]
            sides += [(f"plitool scan{label}", "plitool", tree) for label, tree in trees]
            sides += [("scan + fingerprint every value", "fingerprints", ROOT)] if args.with_fingerprints else []
            best = best_of(args.repeat, sides, path)
            if args.cli:
                for label, tree in trees:
                    case = case_with(folder, f"case-csv-{args.rows}{label.strip(' ()')}", path, tree)
                    best.update(best_of(args.repeat, [(f"plitool scan E-0001 (CLI){label}", "cli", tree)], case))
            floor = best["csv.reader (reference)"]
            print(f"\nCSV, {args.rows:,} rows (GBK), best of {args.repeat}:")
            for label, r in best.items():
                line(label, r, f"{r['rows'] / r['seconds']:,.0f} rows/s" if r["rows"] else "")
            for label, _tree in trees:
                cli_side = best.get(f"plitool scan E-0001 (CLI){label}")
                if cli_side is not None:
                    print(f"  ratio CLI{label} ÷ csv.reader (rows/s): {floor['seconds'] / cli_side['seconds']:.2f}; per CPU "
                          f"second {floor['cpu'] / cli_side['cpu']:.2f} (with the CLI's start-up)")
                ours = best[f"plitool scan{label}"]
                assert ours["rows"] == floor["rows"] == args.rows, (ours["rows"], floor["rows"])
                assert ours["status"] == "scanned" and all(v == args.rows for v in ours["counts"].values()), ours
                ratio = (ours["rows"] / ours["seconds"]) / (floor["rows"] / floor["seconds"])
                met = ratio >= TARGET_CSV_RATIO and ours["peak_rss_mb"] <= TARGET_CSV_RSS_MB
                ok &= met or bool(label)
                print(f"  ratio plitool{label} ÷ csv.reader (rows/s): {ratio:.2f} (target ≥ {TARGET_CSV_RATIO}; "
                      f"per CPU second {floor['cpu'] / ours['cpu']:.2f}); "
                      f"peak {ours['peak_rss_mb']:.0f} MiB (target ≤ {TARGET_CSV_RSS_MB}): {'OK' if met else 'MISSED'}")

        size = args.json_mb << 20
        for fmt in ("json", "har"):
            if fmt not in only:
                continue
            path = made(f"dump-{args.json_mb}mb.{fmt}", generate_json if fmt == "json" else generate_har, size)
            sides = [("json.load (reference)", "json.load", ROOT)]
            sides += [(f"plitool scan{label}", f"plitool-{fmt}", tree) for label, tree in trees]
            repeat = args.repeat if args.repeat_all else 1
            best = best_of(repeat, sides, path)
            if args.cli:
                for label, tree in trees:
                    case = case_with(folder, f"case-{fmt}-{args.json_mb}{label.strip(' ()')}", path, tree)
                    best.update(best_of(repeat, [(f"plitool scan E-0001 (CLI){label}", "cli", tree)], case))
            ref = best["json.load (reference)"]
            print(f"\n{fmt.upper()}, {path.stat().st_size / 2**20:.0f} MiB, best of {repeat}:")
            for label, r in best.items():
                line(label, r, f"{r['rows']:,} values" if r["rows"] else "")
            for label, _tree in trees:
                cli_side = best.get(f"plitool scan E-0001 (CLI){label}")
                if cli_side is not None:
                    print(f"  ratio CLI{label} ÷ json.load (time): {cli_side['seconds'] / ref['seconds']:.2f}; CPU seconds "
                          f"{cli_side['cpu'] / ref['cpu']:.2f} (exit {cli_side['code']})")
                ours = best[f"plitool scan{label}"]
                ratio = ours["seconds"] / ref["seconds"]
                met = ratio <= TARGET_JSON_RATIO and ours["peak_rss_mb"] <= TARGET_JSON_RSS_MB
                ok &= met or bool(label)
                print(f"  ratio plitool{label} ÷ json.load (time): {ratio:.2f} (target ≤ {TARGET_JSON_RATIO}; "
                      f"CPU seconds {ours['cpu'] / ref['cpu']:.2f}); "
                      f"peak {ours['peak_rss_mb']:.0f} MiB (target ≤ {TARGET_JSON_RSS_MB}): "
                      f"{'OK' if met else 'MISSED'}; {ours['status']}, {json.dumps(ours['counts'])}")

        if "report" in only:
            path = made(f"leak-{args.report_rows}.csv", generate, args.report_rows)
            print(f"\nscan --json of a {args.report_rows:,}-row CSV into /dev/null:")
            repeat = args.repeat if args.repeat_all else 1
            for label, tree in trees:
                case = folder / f"case{label.strip(' ()')}"
                if not case.exists():
                    env = {**os.environ, "PYTHONPATH": str(tree), "PLITOOL_LANG": "en"}
                    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(case.resolve()), "--title",
                                    "bench", "--lang", "en"], check=True, capture_output=True, env=env, cwd=tree)
                    subprocess.run([sys.executable, "-m", "plitool.cli", "--case", str(case.resolve()), "add",
                                    str(path.resolve())], check=True, capture_output=True, env=env, cwd=tree)
                best = best_of(repeat, [(f"--limit 100{label}", "report-100", tree),
                                        (f"--limit 0 (every finding){label}", "report-all", tree)], case)
                for name, r in best.items():
                    line(name, r)
    print(f"\nload average at the end: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
