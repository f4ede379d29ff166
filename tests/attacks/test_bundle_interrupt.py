"""Ctrl-C in the middle of ``plitool bundle``: nothing half-written, nothing logged."""

from __future__ import annotations

import signal
from pathlib import Path

from pypdf import PdfWriter

from .conftest import TIMEOUT, Plitool
from .hooked import start

HOOK = """
import plitool.bundle.report as _report
_real = _report.write_report
def _held(*args, **kwargs):
    pause()  # exhibits.pdf is written in the temporary folder; the report is next
    return _real(*args, **kwargs)
_report.write_report = _held
"""


def test_ctrl_c_while_the_bundle_is_built_leaves_nothing(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    w = PdfWriter()
    w.add_blank_page(200, 200)
    with open(pdf, "wb") as fh:
        w.write(fh)
    assert plitool("add", pdf).code == 0
    ledger = (case_root / ".plitool" / "ledger.jsonl").read_bytes()
    out = tmp_path / "bundle"
    held = start(case_root, tmp_path / "sync", HOOK, "bundle", "-o", out)
    held.wait_ready()
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".bundle.tmp-")]
    assert temps and (temps[0] / "exhibits.pdf").is_file()  # really caught half-way
    held.proc.send_signal(signal.SIGINT)
    _out, err = held.proc.communicate(timeout=TIMEOUT)
    assert held.proc.returncode == 130, err
    assert err.strip().splitlines() == ["plitool: interrupted; nothing half-written was recorded"]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]
    assert (case_root / ".plitool" / "ledger.jsonl").read_bytes() == ledger
    assert plitool("verify").code == 0
