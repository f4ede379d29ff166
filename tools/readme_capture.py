#!/usr/bin/env python3
"""Run the README's QuickRide walkthrough and rewrite (or check) the output it shows.

The walkthrough is the part of README.md between ``<!-- walkthrough:start -->`` and
``<!-- walkthrough:end -->``. The convention, for whoever edits it:

* every ```` ```sh ```` block there is run, in order, by one ``bash -e`` session in a scratch
  folder whose ``samples`` is the repository's (so ``samples/quickride/...`` works as in a checkout),
  with ``plitool`` and ``python3`` from the running Python;
* a ```` ```text ```` block right after a ``sh`` block (a blank line between them at most) is that
  block's output, stdout and stderr together, as a terminal 160 columns wide shows it; a ``sh``
  block without one is run and must succeed, but its output is not shown;
* a ``sh`` block whose first line is ``# output varies`` (say why after it) is compared loosely:
  times, hex digests and fingerprints, ``127.0.0.1`` ports and durations are masked on both sides
  first (:data:`VARIABLE`). Every other output must match exactly;
* the scratch folder's path is shown as ``~/quickride`` in the outputs.

    python tools/readme_capture.py           # run, rewrite the text blocks of README.md
    python tools/readme_capture.py --check   # run, exit 1 listing every block that differs

``tests/test_readme_walkthrough.py`` runs ``--check``'s function.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"
VARIES = "# output varies"
SHOWN_DIR = "~/quickride"
SEPARATOR = "@@readme-capture block {n} done@@"
#: What a ``# output varies`` block may change between runs, masked before comparing.
VARIABLE: tuple[tuple[str, str], ...] = (
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", "<TIME>"),
    (r"\b[0-9a-f]{12,64}\b", "<HEX>"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:<PORT>"),
    (r"\b\d+(\.\d+)? ?(s|ms|秒)\b", "<DURATION>"),
    (r"\b\d+(\.\d+)? (KiB|MiB|B)\b", "<SIZE>"),
)
TIMEOUT = 600  # the whole walkthrough; guards a hang


@dataclass
class Block:
    index: int  # position among the sh blocks
    code: str
    output_span: tuple[int, int] | None  # line numbers (start, end) of the text block's body in the README
    output: str | None

    @property
    def loose(self) -> bool:
        return self.code.lstrip().startswith(VARIES)


def parse(text: str) -> list[Block]:
    lines = text.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == START)
        end = next(i for i, line in enumerate(lines) if line.strip() == END)
    except StopIteration:
        raise SystemExit(f"README.md has no {START} … {END} section") from None
    blocks: list[Block] = []
    i = start
    while i < end:
        if lines[i].strip() == "```sh":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            block = Block(len(blocks), "\n".join(lines[i + 1:j]), None, None)
            k = j + 1
            if k < end and not lines[k].strip():
                k += 1
            if k < end and lines[k].strip() == "```text":
                m = k + 1
                while lines[m].strip() != "```":
                    m += 1
                block.output_span = (k + 1, m)
                block.output = "\n".join(lines[k + 1:m])
                j = m
            blocks.append(block)
            i = j
        i += 1
    return blocks


def run(blocks: list[Block]) -> list[str]:
    """Run every block in one bash session; the output of each, as the README shows it."""
    with tempfile.TemporaryDirectory(prefix="plitool-readme-") as scratch:
        work = Path(scratch) / "quickride"
        work.mkdir()
        (work / "samples").symlink_to(ROOT / "samples")
        script = ["set -eo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT", "exec 2>&1"]
        for b in blocks:
            script += [b.code, f"echo '{SEPARATOR.format(n=b.index)}'"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLITOOL_")}
        bindir = str(Path(sys.executable).parent)
        env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="160", TERM="dumb", NO_COLOR="1",
                   PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p))
        # `python3` and `plitool` in the blocks are the running Python and this checkout's plitool
        shim = Path(scratch) / "bin"
        shim.mkdir()
        (shim / "plitool").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m plitool.cli "$@"\n', "utf-8")
        (shim / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', "utf-8")
        for f in shim.iterdir():
            f.chmod(0o755)
        env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
        proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, timeout=TIMEOUT)
        out = proc.stdout.decode("utf-8", "replace").replace(str(work.resolve()), SHOWN_DIR).replace(str(work), SHOWN_DIR)
        pieces = out.split("\n")
        outputs: list[str] = []
        current: list[str] = []
        for line in pieces:
            if re.fullmatch(r"@@readme-capture block \d+ done@@", line):
                outputs.append("\n".join(x.rstrip() for x in current).strip("\n"))
                current = []
            else:
                current.append(line)
        if proc.returncode != 0 or len(outputs) != len(blocks):
            failed = blocks[len(outputs)] if len(outputs) < len(blocks) else blocks[-1]
            tail = "\n".join(current[-15:])
            raise RuntimeError(f"walkthrough block {failed.index + 1} failed (exit {proc.returncode}):\n"
                               f"{failed.code}\n--- its output ---\n{tail}")
        return outputs


def normalise(text: str, loose: bool) -> str:
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    text = "\n".join(lines)
    if loose:
        for pattern, repl in VARIABLE:
            text = re.sub(pattern, repl, text)
    return text


def differences(blocks: list[Block], outputs: list[str]) -> list[str]:
    problems = []
    for b, got in zip(blocks, outputs):
        if b.output is None:
            continue
        if normalise(b.output, b.loose) != normalise(got, b.loose):
            problems.append(f"block {b.index + 1} ({b.code.splitlines()[0][:60]!r}): README shows\n{b.output}\n"
                            f"--- the commands print ---\n{got}")
    return problems


def rewrite(text: str, blocks: list[Block], outputs: list[str]) -> str:
    lines = text.split("\n")
    for b, got in sorted(zip(blocks, outputs), key=lambda p: -(p[0].output_span or (0, 0))[0]):
        if b.output_span is None:
            continue
        start, end = b.output_span
        lines[start:end] = got.split("\n")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a block differs")
    args = parser.parse_args()
    text = README.read_text("utf-8")
    blocks = parse(text)
    outputs = run(blocks)
    if args.check:
        problems = differences(blocks, outputs)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    README.write_text(rewrite(text, blocks, outputs), "utf-8")
    print(f"README.md: {sum(1 for b in blocks if b.output_span)} output blocks rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
