"""Benchmark: ``plitool bundle`` on 200 exhibits / 2,000 pages, side by side with plain pypdf merging.

Generates 200 PDFs of 10 pages each (reportlab: a heading and 40 lines of text per page, with a
shared font, as scanned-and-OCRed or printed web pages usually are), adds them to a fresh case,
then times, each in its own child process so each peak RSS (VmHWM) is its own:

* the reference: ``pypdf.PdfWriter`` appending the same 200 stored PDFs and writing one file —
  merging only: no stamp, no cover, no index, no report, no digests;
* plitool: ``build_bundle`` — copy and hash every exhibit, ledger and proofs, cover and index,
  every page stamped, bookmarks, verification report, SHA256SUMS and B3SUMS, atomic rename,
  ledger entries.

Each side runs ``--repeat`` times alternately; the best time and the largest peak RSS are kept.
Target (issue 11): streamed, memory bounded: plitool's peak RSS must not grow with the page count
(compare ``--exhibits 50`` with the default), and stays below the reference's.

    python bench/bundle.py [--exhibits 200] [--pages 10] [--image-side 160] [--repeat 2] [--keep DIR]

``--image-side 160`` puts a unique ~40 KB JPEG on every page (scans weigh that much and more):
then the reference holds the whole 80 MB of images in memory until it writes, the bundle does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from pathlib import Path
side, case_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
t = time.perf_counter()
if side == "pypdf":
    from pypdf import PdfWriter
    from plitool.vault.case import Case
    from plitool.vault.evidence import build_items
    from plitool.vault.store import ObjectStore
    case = Case.open(case_dir)
    store = ObjectStore(case.paths.objects, case.paths.staging)
    w = PdfWriter()
    for item in build_items(case.ledger.scan().entries).values():
        w.append(str(store.path_for(item.sha256)))
    with open(out, "wb") as fh:
        w.write(fh)
    pages = len(w.pages)
else:
    from plitool.bundle.build import build_bundle
    from plitool.vault.case import Case
    pages = build_bundle(Case.open(case_dir), out, force=True).total_pages
seconds = time.perf_counter() - t
rss = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss = int(line.split()[1]) * 1024
print(json.dumps({"seconds": seconds, "rss": rss, "pages": pages}))
"""


def make_pdfs(folder: Path, exhibits: int, pages: int, image_side: int = 0) -> list[Path]:
    from reportlab.pdfgen import canvas

    out = []
    rng = __import__("random").Random(11)
    for n in range(exhibits):
        path = folder / f"exhibit-{n:04d}.pdf"
        c = canvas.Canvas(str(path))
        for p in range(pages):
            c.setFont("Helvetica-Bold", 14)
            c.drawString(72, 780, f"Exhibit source {n}, page {p + 1}")
            c.setFont("Helvetica", 9)
            for line in range(40):
                c.drawString(72, 750 - 17 * line, f"{n:04d}-{p:02d}-{line:02d} " + "lorem ipsum dolor sit amet " * 3)
            if image_side:  # a unique photo-like JPEG per page: what scanned exhibits weigh
                import io

                from PIL import Image
                from reportlab.lib.utils import ImageReader

                img = Image.frombytes("RGB", (image_side, image_side), rng.randbytes(image_side * image_side * 3))
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=60)
                c.drawImage(ImageReader(io.BytesIO(buf.getvalue())), 72, 60, width=300, height=300)
            c.showPage()
        c.save()
        out.append(path)
    return out


def run_side(side: str, case_dir: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", CHILD, side, str(case_dir), str(out)], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"{side} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exhibits", type=int, default=200)
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--image-side", type=int, default=0,
                    help="add a unique noise JPEG of this many pixels square to every page (160: about 40 KB)")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="plitool-bench-bundle-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "pdfs"
    src.mkdir(exist_ok=True)
    print(f"generating {args.exhibits} PDFs × {args.pages} pages in {src} …", file=sys.stderr)
    files = make_pdfs(src, args.exhibits, args.pages, args.image_side)
    case_dir = work / "case"
    if not case_dir.exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cli = [sys.executable, "-m", "plitool.cli"]
        subprocess.run([*cli, "init", str(case_dir), "--title", "bench bundle", "--lang", "en"], check=True, env=env,
                       capture_output=True)
        subprocess.run([*cli, "--case", str(case_dir), "add", *map(str, files)], check=True, env=env, capture_output=True)
    best: dict[str, dict[str, float]] = {}
    for _r in range(args.repeat):
        for side in ("pypdf", "plitool"):
            out = work / ("merged.pdf" if side == "pypdf" else "bundle")
            res = run_side(side, case_dir, out)
            prev = best.get(side)
            best[side] = {"seconds": min(res["seconds"], prev["seconds"]) if prev else res["seconds"],
                          "rss": max(res["rss"], prev["rss"]) if prev else res["rss"], "pages": res["pages"]}
    ref, mine = best["pypdf"], best["plitool"]
    mib = 1024 * 1024
    print(f"{'':28}{'seconds':>10}{'peak RSS':>14}{'pages':>8}")
    print(f"{'pypdf PdfWriter (merge only)':28}{ref['seconds']:>10.2f}{ref['rss'] / mib:>10.0f} MiB{ref['pages']:>8.0f}")
    print(f"{'plitool bundle':28}{mine['seconds']:>10.2f}{mine['rss'] / mib:>10.0f} MiB{mine['pages']:>8.0f}")
    print(f"ratio plitool / pypdf: time {mine['seconds'] / ref['seconds']:.2f}×, peak RSS {mine['rss'] / ref['rss']:.2f}×")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"(bench wall time {time.time() - t0:.0f} s)", file=sys.stderr)
