"""An ingest killed with SIGKILL after some of its slices were committed (no clean-up can run),
and one interrupted with SIGINT, as real processes: no half dataset is ever visible, and the
next command that writes the item tables deletes what the killed one left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Plitool

FLOWS = """\
agents:
  - {id: shop, name: Shop, kind: holder}
  - {id: courier, name: Courier, kind: holder}
  - {id: market, name: Chat group, kind: sighting}
"""

#: plitool with small batches and slices, stopped by ``signal`` at the ``STOP``-th batch.
WRAPPER = """\
import os, signal, sys
from plitool.provenance import ingest
ingest.BATCH_ROWS, ingest.SLICE_ROWS = 100, 200
real, seen = ingest._count_row_masks, [0]
def count(*a):
    seen[0] += 1
    if seen[0] == int(os.environ["STOP"]):
        os.kill(os.getpid(), getattr(signal, os.environ["SIG"]))
    real(*a)
ingest._count_row_masks = count
from plitool.cli.main import main
sys.argv[0] = "plitool"
main()
"""


def _table(path: Path, start: int, n: int, *, reverse: bool = False) -> Path:
    rows = [f"{100000 + i},1380000{i:04d}\n" for i in range(start, start + n)]
    rows = rows[::-1] if reverse else rows
    path.write_text("订单号,手机号\n" + "".join(rows), "utf-8")
    return path


def _counts(case_root: Path, agent: str) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(case_root / ".plitool" / "provenance" / "items.duckdb"), read_only=True)
    try:
        out = {t: int(con.execute(f"SELECT count(*) FROM {t} WHERE agent = ?", [agent]).fetchone()[0])
               for t in ("holdings", "holding_masks", "holding_rows", "datasets", "pending")}
    finally:
        con.close()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_an_ingest_stopped_after_committed_slices_leaves_no_visible_half_dataset(
        plitool: Plitool, case_root: Path, tmp_path: Path, sig: str) -> None:
    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    assert plitool("holdings", "add", "courier", str(_table(tmp_path / "c.csv", 0, 1000)), "--as-of", "2024-01-01").code == 0
    assert plitool("leak", "add", "market", str(_table(tmp_path / "l.csv", 0, 300)), "--first-seen", "2025-01-01").code == 0
    before = plitool("attribute", "--json")
    assert before.code == 0, before.err
    assert plitool("tables", "export", str(tmp_path / "tables-before")).code == 0
    shop = _table(tmp_path / "s.csv", 0, 1000, reverse=True)  # the same people, other bytes
    assert plitool("add", str(shop)).code == 0  # E-0003
    proc = subprocess.run([sys.executable, "-c", WRAPPER, "--case", str(case_root), "holdings", "add", "shop", "E-0003",
                           "--as-of", "2024-01-01"], capture_output=True, text=True, timeout=TIMEOUT, cwd=case_root,
                          env={**os.environ, "PLITOOL_LANG": "en", "STOP": "7", "SIG": sig})
    assert proc.returncode != 0
    left = _counts(case_root, "shop")
    assert left["datasets"] == 0
    if sig == "SIGKILL":  # 6 batches written, 3 slices committed, no clean-up ran
        assert proc.returncode == -signal.SIGKILL
        assert left["holdings"] >= 2 * 2 * 200 and left["pending"] == 1
    else:  # Ctrl-C: the ingest deleted its own rows on the way out
        assert "Traceback" not in proc.stderr
        assert left == {"holdings": 0, "holding_masks": 0, "holding_rows": 0, "datasets": 0, "pending": 0}
    after = plitool("attribute", "--json")
    assert after.code == 0 and after.out == before.out  # the half dataset is not seen
    assert plitool("items", "export", str(tmp_path / "x"), "--json").code == 0
    # nor is it in the Parquet written for a Spark cluster (it was, for the rows of a killed ingest)
    assert plitool("tables", "export", str(tmp_path / "tables-after")).code == 0
    rows = [{t: v["rows"] for t, v in json.loads((tmp_path / d / "manifest.json").read_text())["tables"].items()}
            for d in ("tables-before", "tables-after")]
    assert rows[1] == rows[0]
    r = plitool("holdings", "add", "shop", "E-0003", "--as-of", "2024-01-01", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"] == 1000
    assert _counts(case_root, "shop") == {**_counts(case_root, "courier"), "datasets": 1}
    out = json.loads(plitool("attribute", "--json").out)
    assert out["verdict"] == "inconclusive"  # shop and courier hold the same 1,000 rows: once each


#: plitool whose attribution kills itself (SIGKILL: no clean-up runs) at its ``STOP``-th statement,
#: after the scratch database of the prepared tables was attached and written.
ATTRIBUTE_WRAPPER = """\
import os, signal, sys
from plitool.provenance import engine
engine.SCRATCH_MEMORY_RECORDS = 0  # the prepared tables in a file, as for a large sighting
real, seen = engine._rows, [0]
def rows(*a, **k):
    seen[0] += 1
    if seen[0] == int(os.environ["STOP"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
engine._rows = rows
from plitool.cli.main import main
sys.argv[0] = "plitool"
main()
"""


@pytest.mark.slow
def test_a_killed_attribution_leaves_no_scratch_database_behind(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """The prepared tables of a SIGKILLed attribution (fingerprints, and at 10^7 leaked rows some
    GB) are deleted by the next attribution; those of a run still alive are not touched."""
    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    assert plitool("holdings", "add", "courier", str(_table(tmp_path / "c.csv", 0, 300)), "--as-of", "2024-01-01").code == 0
    assert plitool("leak", "add", "market", str(_table(tmp_path / "l.csv", 0, 100)), "--first-seen", "2025-01-01").code == 0
    scratch = case_root / ".plitool" / "provenance" / "scratch"
    left = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", ATTRIBUTE_WRAPPER, "--case", str(case_root), "attribute", "--json"],
                              capture_output=True, text=True, timeout=TIMEOUT, cwd=case_root,
                              env={**os.environ, "PLITOOL_LANG": "en", "STOP": "8"})
        assert proc.returncode == -signal.SIGKILL
        left.append([p.name for p in scratch.iterdir() if p.name.endswith(".duckdb")])
    # each killed run left its tables; the second run deleted the first's before it was killed
    assert len(left[0]) == len(left[1]) == 1 and left[0] != left[1], left
    # a live run's scratch file (this test's own pid stands for it) is left alone
    alive = scratch / f"attribute-{os.getpid()}-0badcafe.duckdb"
    alive.write_bytes(b"")
    assert plitool("attribute", "--json").code == 0
    assert sorted(p.name for p in scratch.iterdir()) == [alive.name]
