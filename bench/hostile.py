"""Benchmark: hostile evidence through ``plitool scan``, ``seal --import`` and ``verify-proof``
(issue 7, item 10), measured with ``/usr/bin/time -v`` as the issue measured them.

Every hostile input is generated at full size in a temporary folder by the generators in
``tests/attacks/hostile_files.py`` (the tests use the same code at small sizes), added to a fresh
case beside a good file holding a phone number, and scanned as ``plitool scan E-hostile E-good``.
For each input the script prints wall time, peak RSS, the exit code and whether the good file was
still reported, against the issue's limits (≤ 60 s and ≤ 1 GiB per input, the batch goes on).

Side by side: with ``--before REV`` (default: the commit before the fixes, ``e750087``) the same
inputs also run through that revision of plitool (a ``git worktree`` in the temporary folder),
capped at ``--cap`` seconds and ``--cap-mem`` of address space so that a run which would take
300 s and 3.5 GB ends at the cap; the table prints both and the ratio. ``--no-before`` skips it.

    python bench/hostile.py [--only NAME,...] [--before REV | --no-before] [--cap 90] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.attacks import hostile_files as hf  # noqa: E402  (the generators live with the tests)

LIMIT_S = 60.0
LIMIT_MIB = 1024.0
PHONE = "13800138000"
GOOD = "联系人：王某，手机 13912345678\n"

MiB = 1 << 20


@dataclass
class Case_:
    name: str
    what: str
    make: Callable[[Path], Path]


def _cases() -> list[Case_]:
    return [
        Case_("docx-bomb", "17 MB DOCX expanding to 900 MB (51:1)",
              lambda d: hf.big_xml_docx(d / "bomb.docx", 900 * MiB, PHONE)),
        Case_("pdf-shared-page", "5 KB PDF, one page object referenced 97,336 times",
              lambda d: hf.shared_page_pdf(d / "shared.pdf", f"Tel {PHONE}")),
        Case_("csv-one-line", "CSV: one 100 MB line of phone numbers",
              lambda d: _phone_line(d / "line.csv", 100 * MiB)),
        Case_("txt-one-line", "TXT: one 100 MB line of phone numbers",
              lambda d: _phone_line(d / "line.txt", 100 * MiB)),
        Case_("har-tiny-headers", "200 MB HAR of tiny headers",
              lambda d: hf.tiny_header_har(d / "big.har", 200 * MiB, PHONE)),
        Case_("eml-nested", ".eml with 5,000 nested multiparts",
              lambda d: hf.nested_eml(d / "nested.eml", 5000, PHONE)),
        Case_("xlsx-billion-laughs", "XLSX with XML entity expansion",
              lambda d: hf.billion_laughs_xlsx(d / "laughs.xlsx")),
        Case_("xlsx-shared-strings", "XLSX with a 48 MB sharedStrings bomb",
              lambda d: hf.shared_strings_bomb_xlsx(d / "strings.xlsx", 2_850_000)),
    ]


def _phone_line(path: Path, size: int) -> Path:
    hf.phone_line(path, PHONE, size)
    return path


@dataclass
class Measure:
    seconds: float
    peak_mib: float
    code: int
    good_reported: bool | None
    capped: bool


def timed(argv: list[str], *, env: dict[str, str], cwd: Path, cap_s: float | None, cap_mem: int | None,
          good_id: str | None = None) -> Measure:
    def limits() -> None:
        if cap_mem:
            resource.setrlimit(resource.RLIMIT_AS, (cap_mem, cap_mem))

    cmd = ["/usr/bin/time", "-v", *argv]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=cap_s,
                              preexec_fn=limits, errors="replace")
    except subprocess.TimeoutExpired:
        return Measure(cap_s or 0.0, float("nan"), -9, None, True)
    m_wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    m_rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    seconds = (int(m_wall.group(1) or 0) * 3600 + int(m_wall.group(2)) * 60 + float(m_wall.group(3))) if m_wall else float("nan")
    peak = int(m_rss.group(1)) / 1024 if m_rss else float("nan")
    m_code = re.search(r"Exit status: (\d+)", proc.stderr)
    code = int(m_code.group(1)) if m_code else proc.returncode
    good: bool | None = None
    if good_id is not None:
        try:
            data = json.loads(proc.stdout)
            files = data.get("files", data) if isinstance(data, dict) else data
            good = any(isinstance(f, dict) and f.get("item") == good_id and f.get("counts") for f in files)
        except (ValueError, AttributeError):
            good = False
    killed = "Command terminated by signal" in proc.stderr or code < 0
    return Measure(seconds, peak, code, good, killed)


def plitool_argv(src: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(src), "PLITOOL_LANG": "en"}
    return [sys.executable, "-m", "plitool.cli"], env


def run_case(src: Path, work: Path, sample: Path, good: Path, *, cap_s: float | None, cap_mem: int | None) -> Measure:
    base, env = plitool_argv(src)
    case = work / "case"
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([*base, "init", str(case), "--title", "bench", "--lang", "en"], env=env, check=True,
                   capture_output=True)
    subprocess.run([*base, "--case", str(case), "add", str(sample), str(good)], env=env, check=True,
                   capture_output=True, timeout=600)
    return timed([*base, "--case", str(case), "scan", "E-0001", "E-0002", "--json"], env=env, cwd=work,
                 cap_s=cap_s, cap_mem=cap_mem, good_id="E-0002")


def fmt(m: Measure | None) -> str:
    if m is None:
        return "—"
    if m.capped and m.code == -9:
        return f"> {m.seconds:.0f} s (cap)"
    good = {True: "good file reported", False: "good file NOT reported", None: ""}[m.good_reported]
    return f"{m.seconds:6.1f} s {m.peak_mib:7.0f} MiB exit {m.code} {good}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated names")
    ap.add_argument("--before", default="e750087", help="git revision to compare with (default: e750087)")
    ap.add_argument("--no-before", action="store_true")
    ap.add_argument("--cap", type=float, default=90.0, help="seconds a 'before' run may take")
    ap.add_argument("--cap-mem", type=float, default=4.0, help="GiB of address space a 'before' run may use")
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="plitool-hostile-", dir=args.keep))
    try:
        good = tmp / "good.txt"
        good.write_text(GOOD, encoding="utf-8")
        before_src: Path | None = None
        if not args.no_before:
            before_src = tmp / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before_src), args.before],
                           check=True, capture_output=True)
        chosen = [c for c in _cases() if not args.only or c.name in args.only.split(",")]
        print(f"limits per input: ≤ {LIMIT_S:.0f} s, ≤ {LIMIT_MIB:.0f} MiB; the good file beside it must be reported")
        print(f"{'input':22} {'after (this checkout)':52} {'before ' + args.before if before_src else ''}")
        failures = 0
        for c in chosen:
            work = tmp / c.name
            work.mkdir()
            sample = c.make(work)
            after = run_case(ROOT, work, sample, good, cap_s=600, cap_mem=None)
            before = run_case(before_src, work, sample, good, cap_s=args.cap, cap_mem=int(args.cap_mem * (1 << 30))) \
                if before_src else None
            ok = after.seconds <= LIMIT_S and after.peak_mib <= LIMIT_MIB and bool(after.good_reported)
            failures += not ok
            ratio = ""
            if before and not (after.seconds != after.seconds):
                ratio = f"  time ×{before.seconds / max(after.seconds, 0.01):.1f}"
                if before.peak_mib == before.peak_mib:
                    ratio += f", memory ×{before.peak_mib / max(after.peak_mib, 1):.1f}"
            print(f"{c.name:22} {fmt(after):52} {fmt(before)}{ratio}  {'ok' if ok else 'OVER LIMIT'}")
            print(f"{'':22} ({c.what})")
            sample.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
        failures += _seal_and_proof(tmp, before_src, args)
        return 1 if failures else 0
    finally:
        if not args.no_before and (tmp / "before").exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "before")],
                           capture_output=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _seal_and_proof(tmp: Path, before_src: Path | None, args: argparse.Namespace) -> int:
    """``seal --import /dev/zero`` (killed at 23.5 GB before) and ``verify-proof`` on a 3 GiB --data."""
    failures = 0
    for label, src, cap_s, cap_mem in (("after", ROOT, 600.0, None),
                                       ("before", before_src, args.cap, int(args.cap_mem * (1 << 30)))):
        if src is None:
            continue
        base, env = plitool_argv(src)
        case = tmp / f"seal-{label}"
        subprocess.run([*base, "init", str(case), "--title", "bench", "--lang", "en"], env=env, check=True,
                       capture_output=True)
        m = timed([*base, "--case", str(case), "seal", "--import", "/dev/zero"], env=env, cwd=tmp, cap_s=cap_s,
                  cap_mem=cap_mem)
        refused_fast = m.seconds <= LIMIT_S and m.peak_mib <= LIMIT_MIB and m.code not in (0, -9)
        if label == "after":
            failures += not refused_fast
        print(f"{'seal --import /dev/zero':22} {label:6} {fmt(m)}  {'refused within limits' if refused_fast else ''}")
    return failures


if __name__ == "__main__":
    sys.exit(main())
