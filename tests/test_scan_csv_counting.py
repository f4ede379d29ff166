"""A large CSV counted by the block checks (``plitool.pii.blocks``) against the same file
listed cell by cell: the same counts, partial counts, rows and findings, whatever the line ends,
with masked values, wrong check digits and a quoted cell across lines among the rows."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from plitool.pii.scan import ScanOptions, scan_file

from .assets.pii import synth


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
@pytest.mark.parametrize("limit", [0, 5, None])
def test_a_gbk_leak_list_counts_and_lists_as_the_csv_module_reads_it(tmp_path: Path, ending: str,
                                                                    limit: int | None) -> None:
    rng = random.Random(len(ending))
    lines = ["姓名,手机号,身份证号,收件地址,订单号"]
    for i in range(9000):
        row = [synth.fake_name(rng), synth.fake_phone(rng), synth.fake_id(rng), synth.fake_address(rng),
               synth.order_number(rng)]
        if i % 997 == 5:
            row[1] = "138****1234"
        if i % 1499 == 7:
            row[2] = synth.fake_id(rng, valid=False)
        if i == 6000:
            row[3] = '"示例市,虚构路\n1号"'  # a quoted cell across lines
        lines.append(",".join(row))
    path = tmp_path / "leak.csv"
    path.write_bytes((ending.join(lines) + ending).encode("gbk"))
    got = scan_file(path, "leak.csv", ScanOptions(limit=limit))
    # the reference: every row from csv.reader, every cell through the per-cell path (listing)
    ref = scan_file(path, "leak.csv", ScanOptions(limit=None), on_finding=lambda f: None)
    assert got.status == ref.status == "scanned" and got.units == ref.units == 9000
    assert (got.counts, got.partial_counts) == (ref.counts, ref.partial_counts)
    assert got.findings == ref.findings[: len(got.findings)]
    assert got.partial_counts == {"phone": 10}
