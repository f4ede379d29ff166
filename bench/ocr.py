"""Benchmark: personal data found by OCR in screenshots and scanned pages, against ground truth.

Renders the labelled sets of ``tests/ocr_screens.py`` (clean PNG screenshots at phone
resolutions; degraded ones: rotated 1-1.5°, downscaled, blurred, JPEG 45-75; scanned: image-only
A4 PDFs at 300 dpi with skew and speckle) into a temporary folder, then scans each file two ways,
side by side:

* the reference: plain ``tesseract <image> stdout -l chi_sim+eng`` (PDF pages rendered by
  pdftoppm the same way) with its text given line by line to the same detectors;
* plitool: ``plitool.pii.scan.scan_file`` (paragraphs joined, digit look-alikes repaired,
  boxes and confidences, low-confidence values kept as candidates).

Printed per set and kind (phone, id_number, name): precision and recall of plitool (certain and
candidate findings together; "certain only" recall beside it), the reference's recall, and
whether masked values (``138****5678``) stayed masked; then seconds per screenshot and per A4
page at 300 dpi. Targets: recall ≥ 0.95 for phone and ID numbers on clean screenshots, ≥ 0.85 on
degraded ones.

    python bench/ocr.py [--count 8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ocr_screens import load_truth, make_set  # noqa: E402

KINDS = ("phone", "id_number", "name")
TARGETS = {("clean", "phone"): 0.95, ("clean", "id_number"): 0.95, ("degraded", "phone"): 0.85,
           ("degraded", "id_number"): 0.85}


def plitool_findings(path: Path) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]], set[str], float]:
    from plitool.pii.scan import ScanOptions, scan_file

    started = time.perf_counter()
    result = scan_file(path, path.name, ScanOptions(limit=None))
    seconds = time.perf_counter() - started
    if result.status != "scanned":
        raise SystemExit(f"{path.name}: {result.status} {result.error}")
    every = {(f.kind, f.value, f.page or 1) for f in result.findings if not f.partial and f.kind in KINDS}
    certain = {(f.kind, f.value, f.page or 1) for f in result.findings if not f.partial and not f.candidate
               and f.kind in KINDS}
    masked = {f.value for f in result.findings if f.partial}
    return every, certain, masked, seconds


def reference_findings(path: Path) -> set[tuple[str, str, int]]:
    from plitool.pii.detect import detect_text

    images: list[tuple[int, str]] = []
    tmp = tempfile.mkdtemp()
    try:
        if path.suffix == ".pdf":
            subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", str(path), os.path.join(tmp, "p")], check=True)
            images = [(i, str(p)) for i, p in enumerate(sorted(Path(tmp).glob("p*.png")), start=1)]
        else:
            images = [(1, str(path))]
        out: set[tuple[str, str, int]] = set()
        for page, img in images:
            text = subprocess.run(["tesseract", img, "stdout", "-l", "chi_sim+eng"], capture_output=True, text=True,
                                  env=dict(os.environ, OMP_THREAD_LIMIT="1"), check=True).stdout
            for line in text.splitlines():
                out |= {(m.kind, m.value, page) for m in detect_text(line) if not m.partial and m.kind in KINDS}
        return out
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=8, help="screenshots per set (scanned: PDFs of 2 pages = count // 4)")
    ap.add_argument("--keep", help="write the sets here and keep them")
    args = ap.parse_args()
    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract is not installed (apt install tesseract-ocr tesseract-ocr-chi-sim)")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="plitool-ocr-bench-"))
    seconds: dict[str, list[float]] = defaultdict(list)
    print(f"{'set':9} {'kind':10} {'truth':>5} {'prec':>6} {'recall':>6} {'certain':>7} {'ref.rec':>7}  target")
    try:
        for which in ("clean", "degraded", "scanned"):
            files = make_set(root / which, which, count=max(1, args.count // 4) if which == "scanned" else args.count)
            tp: dict[str, int] = defaultdict(int)
            tp_certain: dict[str, int] = defaultdict(int)
            tp_ref: dict[str, int] = defaultdict(int)
            found: dict[str, int] = defaultdict(int)
            truth_n: dict[str, int] = defaultdict(int)
            masked_ok = masked_n = 0
            for path in files:
                truth = load_truth(path)
                expected = {(v["kind"], v["value"], v["page"]) for v in truth["values"]}
                every, certain, masked, secs = plitool_findings(path)
                pages = 2 if path.suffix == ".pdf" else 1
                seconds["A4 page at 300 dpi" if path.suffix == ".pdf" else "screenshot"].append(secs / pages)
                ref = reference_findings(path)
                for kind in KINDS:
                    exp = {e for e in expected if e[0] == kind}
                    truth_n[kind] += len(exp)
                    tp[kind] += len(exp & every)
                    tp_certain[kind] += len(exp & certain)
                    tp_ref[kind] += len(exp & ref)
                    found[kind] += len({e for e in every if e[0] == kind})
                for m in truth["masked"]:
                    masked_n += 1
                    masked_ok += m["value"] in masked
            for kind in KINDS:
                n = truth_n[kind]
                if not n:
                    continue
                precision = tp[kind] / found[kind] if found[kind] else 1.0
                recall = tp[kind] / n
                target = TARGETS.get((which, kind))
                verdict = "" if target is None else f"≥ {target:.2f} {'ok' if recall >= target else 'MISSED'}"
                print(f"{which:9} {kind:10} {n:5d} {precision:6.2f} {recall:6.2f} {tp_certain[kind] / n:7.2f} "
                      f"{tp_ref[kind] / n:7.2f}  {verdict}")
            if masked_n:
                print(f"{which:9} {'masked':10} {masked_n:5d} stayed masked: {masked_ok}/{masked_n}")
        print()
        for what, values in seconds.items():
            print(f"seconds per {what}: mean {sum(values) / len(values):.2f}, max {max(values):.2f} "
                  f"({len(values)} measured, 1 tesseract thread)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
