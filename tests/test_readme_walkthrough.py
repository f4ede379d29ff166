"""The README's QuickRide walkthrough, tried as a new user would: its ``sh`` blocks run in order in a
scratch folder, and each must succeed and print what the README shows (``tools/readme_capture.py``
defines the conventions: ``# output varies`` blocks are compared with times, digests,
fingerprints, ports and durations masked)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from types import ModuleType

import pytest

from .conftest import PROJECT_ROOT


def _capture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_capture", PROJECT_ROOT / "tools" / "readme_capture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_capture"] = module
    spec.loader.exec_module(module)
    return module


def _tools_present() -> bool:
    if not all(shutil.which(t) for t in ("openssl", "dot", "tesseract", "bash")):
        return False
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=60).stdout.split()
    return "chi_sim" in langs


def test_the_walkthrough_is_found_with_its_outputs() -> None:
    rc = _capture()
    blocks = rc.parse((PROJECT_ROOT / "README.md").read_text("utf-8"))
    assert len(blocks) >= 10
    assert blocks[0].code.splitlines()[0].startswith("export PLITOOL_LANG=en")
    commands = "\n".join(b.code for b in blocks)
    for needed in ("plitool init", "plitool add", "plitool seal", "plitool scan", "plitool graph", "plitool holdings add",
                   "plitool leak add", "plitool attribute", "plitool draft", "plitool bundle", "plitool verify-bundle"):
        assert needed in commands, needed
    shown = [b for b in blocks if b.output is not None]
    assert len(shown) >= 8 and all(b.output.strip() for b in shown)


def test_a_changed_output_is_caught_and_a_varying_one_only_where_marked() -> None:
    rc = _capture()
    exact = rc.Block(0, "plitool attribute", (0, 1), "probable source: cs-contractor")
    loose = rc.Block(1, "# output varies: times\nplitool seal", (0, 1), "sealed at 2026-11-30T06:51:51Z digest 0123456789abcdef")
    same = ["probable source: cs-contractor  ", "sealed at 2027-01-01T00:00:00Z digest fedcba9876543210"]
    assert rc.differences([exact, loose], same) == []
    assert len(rc.differences([exact, loose], ["probable source: fastroute", same[1]])) == 1
    assert len(rc.differences([exact, loose], [same[0], "sealing failed"])) == 1
    # the same digest change in an unmarked block is a difference
    unmarked = rc.Block(2, "plitool seal", (0, 1), loose.output)
    assert len(rc.differences([unmarked], [same[1]])) == 1


@pytest.mark.slow
@pytest.mark.skipif(not _tools_present(), reason="needs openssl, Graphviz and Tesseract with chi_sim (as .ci/run installs)")
def test_the_readme_walkthrough_runs_and_prints_what_it_shows() -> None:
    rc = _capture()
    blocks = rc.parse((PROJECT_ROOT / "README.md").read_text("utf-8"))
    outputs = rc.run(blocks)  # raises naming the block whose command failed
    problems = rc.differences(blocks, outputs)
    assert problems == [], "\n\n".join(problems) + "\n(re-capture: python tools/readme_capture.py)"
