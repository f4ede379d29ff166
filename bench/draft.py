"""Drafting benchmark (issue 10): 'plitool draft' for a case of 500 evidence items.

    python bench/draft.py [--items 500] [--keep DIR]

Generated case (synthetic, deterministic): N evidence items added in one 'plitool add -r' (one in
ten a 3-page PDF, whose pages are counted with pypdf), tagged in turn with the six elements; the
case facts of samples/case-facts.toml. Reported:

  add        plitool's vault intake of the N files, for reference
  draft      seconds of the whole 'plitool draft civil-pil' command (a new process: start-up, case,
             ledger, seal check, evidence list, matrix, template, .docx), docx and md
  engine     seconds of build_draft + render in-process (no start-up)
  floor      seconds python-docx alone needs to write a document with the same tables (an
             N-row evidence list, an N-row digests annex) and the same number of paragraphs, with
             no case, template, masking or fonts logic: the least any .docx drafting has to do;
             ratio = engine ÷ floor

Target (issue 10): ≤ 5 s for the whole command at 500 items on the 2-core machine. Nothing here
runs in the test suite.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAGS = ("processing", "unlawful", "harm", "causation", "fault", "amount")


def _pdf(pages: int, salt: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": f"bench {salt}"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def plitool(*args: str, case: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "plitool.cli", "--case", str(case), *args], check=True,
                   capture_output=True, env=env)
    return time.perf_counter() - started


def floor(n: int, paragraphs: int) -> float:
    from docx import Document

    started = time.perf_counter()
    doc = Document()
    for i in range(paragraphs):
        doc.add_paragraph(f"paragraph {i} " * 8)
    for cols in (9, 3):
        table = doc.add_table(rows=1, cols=cols)
        table.style = "Table Grid"
        for r in range(n):
            cells = table.add_row().cells
            for c in range(cols):
                cells[c].paragraphs[0].add_run(f"cell {r}-{c}")
    doc.save(io.BytesIO())
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--keep", type=Path, help="Keep the generated case in this folder.")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plitool-bench-draft-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PLITOOL_LANG": "en"}
    case = work / "case"
    if case.exists():
        shutil.rmtree(case)
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(case), "--title", "bench", "--lang", "zh"],
                   check=True, capture_output=True, env=env)
    files = work / "files"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir()
    for i in range(args.items):
        (files / f"item-{i:04d}.{'pdf' if i % 10 == 0 else 'txt'}").write_bytes(
            _pdf(3, i) if i % 10 == 0 else f"evidence {i}\n".encode() * 20)
    add_s = 0.0
    for tag in TAGS:  # one intake per tag: the items of that tag
        chosen = [str(p) for j, p in enumerate(sorted(files.iterdir())) if j % len(TAGS) == TAGS.index(tag)]
        add_s += plitool("add", *chosen, "--tag", tag, "--collected-by", "bench", case=case, env=env)
    toml = case / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('court = ""', 'court = "示例法院"', 1).replace(
        'number = ""', 'number = "示检〔2026〕1号"', 1) + (ROOT / "samples" / "case-facts.toml").read_text(encoding="utf-8"),
        encoding="utf-8")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    # no leak analysed here: the number affected is left as a marked placeholder
    docx_s = plitool("draft", "civil-pil", "--allow-missing", "-o", str(out / "c.docx"), case=case, env=env)
    md_s = plitool("draft", "civil-pil", "--allow-missing", "--format", "md", "-o", str(out / "c.md"), case=case, env=env)

    sys.path.insert(0, str(ROOT))
    from plitool.filings.draft import build_draft, render
    from plitool.vault.case import Case

    opened = Case.open(case)
    started = time.perf_counter()
    draft = build_draft(opened, "civil-pil", today=date(2026, 11, 30), allow_missing=True)
    data = render(draft, "docx")
    engine_s = time.perf_counter() - started
    floor_s = floor(args.items, len(draft.blocks))
    print(f"items {args.items}: add {add_s:.1f} s | draft civil-pil docx {docx_s:.2f} s, md {md_s:.2f} s "
          f"(target ≤ 5 s) | engine {engine_s:.2f} s vs python-docx floor {floor_s:.2f} s "
          f"= {engine_s / floor_s:.1f} × | {len(data) / 1024:.0f} KiB, {len(draft.evidence)} evidence rows")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
