"""Hostile inputs to holdings add / leak add / attribute / items export, as real processes.

Each refusal is one line on stderr with exit code 2 (or 1 for a file that cannot be read), never a
traceback, and nothing is written to the item tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Plitool

FLOWS = """\
agents:
  - {id: shop, name: Shop, kind: holder}
  - {id: market, name: Chat group, kind: sighting}
"""

def one_clean_line(err: str) -> None:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("p", ["nan", "0", "1", "-1", "inf", "2.5"])
def test_p_outside_the_open_interval(plitool: Plitool, p: str) -> None:
    r = plitool("attribute", "--p", p)
    assert r.code == 2 and "between 0 and 1" in r.err
    one_clean_line(r.err)


@pytest.mark.parametrize("command", [("holdings", "add", "shop"), ("leak", "add", "market")])
def test_dates_in_the_future_are_refused_before_any_work(plitool: Plitool, case_root: Path, tmp_path: Path,
                                                        command: tuple[str, ...]) -> None:
    path = tmp_path / "t.csv"
    path.write_text("手机号\n13800000001\n", "utf-8")
    option = "--as-of" if command[0] == "holdings" else "--first-seen"
    r = plitool(*command, str(path), option, "2999-12-31")
    assert r.code == 2 and "in the future" in r.err
    one_clean_line(r.err)
    assert not (case_root / ".plitool" / "provenance").exists()
    assert plitool("list", "--json").out.strip() in ("[]", "")  # nothing added to the vault either


def test_unknown_map_field_is_refused(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n13800000001\n", "utf-8")
    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    r = plitool("holdings", "add", "shop", str(path), "--as-of", "2020-01-01", "--map", "x=salary")
    assert r.code == 2 and "unknown field 'salary'" in r.err
    one_clean_line(r.err)


def test_binary_file_is_not_a_table(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02\xff" * 5000)
    r = plitool("leak", "add", "market", str(path), "--first-seen", "2020-01-01")
    assert r.code == 2 and "not a table" in r.err
    one_clean_line(r.err)


def test_xlsx_zip_bomb_is_refused(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    from tests.assets.pii import files

    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    bomb = files.make_zip_bomb(tmp_path / "bomb.xlsx", "xlsx", 16 << 20)
    r = plitool("leak", "add", "market", str(bomb), "--first-seen", "2020-01-01")
    assert r.code == 1 and "zip bomb" in r.err
    one_clean_line(r.err)


def test_a_leak_with_no_personal_data(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    (case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    path = tmp_path / "t.csv"
    path.write_text("手机号,备注\nnot a phone,hello\n12345,world\n", "utf-8")
    r = plitool("leak", "add", "market", str(path), "--first-seen", "2020-01-01")
    assert r.code == 2 and "no personal data found" in r.err
    one_clean_line(r.err)


def test_items_export_over_a_file(plitool: Plitool, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("not a folder", "utf-8")
    r = plitool("items", "export", str(target))
    assert r.code == 2
    one_clean_line(r.err)
    assert target.read_text("utf-8") == "not a folder"


def test_a_partial_copy_added_as_a_second_dataset_does_not_tilt_attribution(plitool: Plitool, case_root: Path,
                                                                              tmp_path: Path) -> None:
    """Two holders hold the same 1,000 people; the leak is 200 of them. Filing a 300-row extract of
    one holder's data as a second dataset of that holder (by mistake, or to point at it) must not
    make it 'conclusive': it still holds the same people (A_h is a set of subjects). Counting rows
    gave those 200 records k = 2 over N_h = 1,300: a Bayes factor of about 10^35 from nothing."""
    (case_root / "flows.yaml").write_text("""\
agents:
  - {id: alpha, kind: holder}
  - {id: beta, kind: holder}
  - {id: market, kind: sighting}
""", "utf-8")
    rows = [f"FR{100000 + i},1380000{i:04d}\n" for i in range(1000)]

    def table(name: str, part: list[str]) -> str:
        (tmp_path / name).write_text("运单号,手机号\n" + "".join(part), "utf-8")
        return str(tmp_path / name)

    for agent, name, part in (("alpha", "alpha.csv", rows), ("beta", "beta.csv", rows[::-1]),
                              ("alpha", "alpha-extract.csv", rows[:300])):
        assert plitool("holdings", "add", agent, table(name, part), "--as-of", "2025-01-01").code == 0
    assert plitool("leak", "add", "market", table("leak.csv", rows[:200]), "--first-seen", "2026-01-01").code == 0
    r = plitool("attribute", "--json")
    assert r.code == 0, r.err
    import json

    out = json.loads(r.out)
    agents = {a["agent"]: a for a in out["agents"]}
    assert agents["alpha"]["log10_likelihood"] == pytest.approx(agents["beta"]["log10_likelihood"], rel=1e-12)
    assert out["verdict"] == "inconclusive"
