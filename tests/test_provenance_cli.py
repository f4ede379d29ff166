"""holdings add / leak add / attribute / canary / items export through the CLI (``plitool add`` first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.provenance_scenarios import generate, write_csv

FLOWS = """\
agents:
  - {id: shop, name: Shop, kind: holder}
  - {id: courier, name: Courier, kind: holder}
  - {id: sdk, name: SDK vendor, kind: intermediary}
  - {id: ring, name: Fraud ring, kind: infringer}
  - {id: market, name: Chat group, kind: sighting}
edges:
  - {from: shop, to: sdk, kind: shared_with, fields: [phone, name], since: 2021-03-01, evidence: [E-0001]}
  - {from: shop, to: ring, kind: sold_to, fields: [name, phone, id_number], since: 2022-01-01, confidence: 0.9, evidence: [E-0002]}
  - {from: ring, to: market, kind: observed_at, since: 2023-01-01}
"""
#: The same agents before any evidence is in the vault (flows.yaml may only cite evidence it has).
PLAIN_FLOWS = FLOWS.replace(", evidence: [E-0001]", "").replace(", evidence: [E-0002]", "")


@pytest.fixture
def scene(run: Cli, tmp_path: Path) -> tuple[Cli, list[dict[str, str]]]:
    pop = generate(7, n_pop=400).population
    write_csv(tmp_path / "shop.csv", pop[:200])
    write_csv(tmp_path / "courier.csv", pop[150:400])
    write_csv(tmp_path / "leak.csv", pop[:80] + pop[400:420])
    res = run("add", str(tmp_path / "shop.csv"), str(tmp_path / "courier.csv"), str(tmp_path / "leak.csv"))
    assert res.exit_code == 0, res.output
    (run.case_root / "flows.yaml").write_text(FLOWS, "utf-8")  # its edges cite E-0001 and E-0002
    return run, pop


def test_holdings_leak_attribute_through_evidence_ids(scene: tuple[Cli, list[dict[str, str]]]) -> None:
    run, pop = scene
    r = run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["columns"] == {"姓名": "name", "手机号": "phone", "身份证号": "id_number"}
    assert data["values"] == {"id_number": 200, "name": 200, "phone": 200}
    assert run("holdings", "add", "courier", "E-0002", "--as-of", "2020-01-01").exit_code == 0
    assert run("leak", "add", "market", "E-0003", "--first-seen", "2023-02-01").exit_code == 0
    r = run("attribute", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["schema"] == "plitool.attribution/1"
    assert out["top"] == "shop" and out["verdict"] == "conclusive"
    assert out["records"] == 100 and out["affected_individuals"] == 100
    shop = out["agents"][0]
    assert shop["agent"] == "shop" and shop["records_covered"] == 80 and shop["records_only_it_covers"] == 80
    sdk = next(a for a in out["agents"] if a["agent"] == "sdk")
    assert sdk["excluded_by_fields"] == 80 and sdk["records_covered"] == 0
    assert [e["from"] for e in out["paths"][0]["edges"]] == ["shop", "ring"]
    assert out["paths"][0]["edges"][0]["evidence"] == ["E-0002"]
    assert run("attribute", "--json").stdout == r.stdout  # byte-identical
    table = run("attribute")
    assert table.exit_code == 0 and "shop" in table.stdout and "conclusive" in table.stdout
    assert "shop -[sold_to id_number,name,phone 2022-01-01; E-0002]-> ring" in table.stdout  # evidence shown
    # no raw personal value anywhere in the output
    for s in pop[:80]:
        assert s["phone"] not in r.stdout + table.stdout and s["id_number"] not in r.stdout + table.stdout


def test_ingest_is_logged_without_raw_values(scene: tuple[Cli, list[dict[str, str]]]) -> None:
    run, pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    ledger = (run.case_root / ".plitool" / "ledger.jsonl").read_text("utf-8")
    last = json.loads(ledger.strip().splitlines()[-1])
    assert last["event"] == "note" and last["item"] == "E-0001"
    assert last["data"]["action"] == "holdings add" and last["data"]["rows"] == 200
    assert pop[0]["phone"] not in ledger and pop[0]["id_number"] not in ledger


def test_a_path_not_in_the_vault_is_added_first(run: Cli, tmp_path: Path) -> None:
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    pop = generate(1, n_pop=40).population
    path = write_csv(tmp_path / "shop.csv", pop)
    r = run("holdings", "add", "shop", str(path), "--as-of", "2020-01-01", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added_to_vault"] is True
    assert "E-0001" in run("list").stdout


def test_gbk_csv_and_xlsx_are_read_from_stored_copies(run: Cli, tmp_path: Path) -> None:
    import openpyxl

    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    pop = generate(2, n_pop=60).population
    write_csv(tmp_path / "gbk.csv", pop[:30], encoding="gbk")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["收件人", "联系电话", "证件号码"])
    for s in pop[30:60]:
        ws.append([s["name"], int(s["phone"]), s["id_number"]])
    wb.save(tmp_path / "list.xlsx")
    assert run("add", str(tmp_path / "gbk.csv"), str(tmp_path / "list.xlsx")).exit_code == 0
    r = run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["encoding"] == "gb18030" and data["values"]["name"] == 30 and data["invalid"]["name"] == 0
    r = run("holdings", "add", "courier", "E-0002", "--as-of", "2020-01-01", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["format"] == "xlsx" and data["values"] == {"id_number": 30, "name": 30, "phone": 30}


def test_map_types_a_column_by_hand(run: Cli, tmp_path: Path) -> None:
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    path = tmp_path / "odd.csv"
    pop = generate(3, n_pop=20).population
    path.write_text("who,x\n" + "".join(f"{s['name']},{s['phone']}\n" for s in pop), "utf-8")
    r = run("holdings", "add", "shop", str(path), "--as-of", "2020-01-01", "--map", "who=name", "--map", "x=phone", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["columns"] == {"who": "name", "x": "phone"}
    r = run("holdings", "add", "courier", "E-0001", "--as-of", "2020-01-01", "--map", "nope=name")
    assert r.exit_code == 2 and "names no column" in r.output


def test_masked_leak_values_match_as_candidates_with_an_ambiguity_count(run: Cli, tmp_path: Path) -> None:
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    hold = tmp_path / "shop.csv"
    # two held subjects share the mask 138****0001; the other holder holds a third one
    hold.write_text("姓名,手机号\n张伟,13811110001\n张芳,13822220001\n李娜,13933330002\n", "utf-8")
    other = tmp_path / "courier.csv"
    other.write_text("姓名,手机号\n张强,13844440001\n王磊,13955550003\n赵军,13966660004\n", "utf-8")
    leak = tmp_path / "leak.csv"
    leak.write_text("姓名,手机号\n张某,138****0001\n李*,139****0002\n", "utf-8")
    assert run("holdings", "add", "shop", str(hold), "--as-of", "2020-01-01").exit_code == 0
    assert run("holdings", "add", "courier", str(other), "--as-of", "2020-01-01").exit_code == 0
    r = run("leak", "add", "market", str(leak), "--first-seen", "2023-01-01", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["masked"] == {"name": 2, "phone": 2}
    out = json.loads(run("attribute", "--json").stdout)
    assert out["masked_records"] == 2
    covered = {a["agent"]: a["records_covered"] for a in out["agents"]}
    assert covered == {"shop": 2, "sdk": 2, "courier": 1}  # sdk received shop's names and phones
    assert out["top"] in ("shop", "sdk") and out["verdict"] == "inconclusive"
    assert {a["agent"]: a["masked_candidates"] for a in out["agents"]} == covered  # never counted as certain
    # the ambiguity count: 138****0001 / 张* fits two of shop's subjects, so that record weighs
    # 2/N_h; with one fitting subject it would weigh 1/N_h
    from plitool.provenance.engine import Engine

    import duckdb

    con = duckdb.connect(str(run.case_root / ".plitool" / "provenance" / "items.duckdb"), read_only=True)
    masks = dict(con.execute("SELECT field, mask FROM fields").fetchall())
    every = sum(masks.values())
    engine = Engine(con, sighting="market", cutoff=__import__("datetime").date(2023, 1, 1),
                    reach=[("shop", "shop", every, None), ("courier", "courier", every, None)], candidates=["shop", "courier"])
    ks = sorted(con.execute("SELECT agent, record, k FROM cov WHERE k > 0").fetchall())
    con.close()
    assert ks == [("courier", 0, 1), ("shop", 0, 2), ("shop", 1, 1)]
    con = duckdb.connect(str(run.case_root / ".plitool" / "provenance" / "items.duckdb"), read_only=True)
    patterns = sorted(p for (p,) in con.execute("SELECT masked_pattern FROM leaks").fetchall())
    con.close()
    assert patterns == ["138****0001", "139****0002", "张某", "李*"]


def test_bad_input_each_a_clear_message(run: Cli, tmp_path: Path) -> None:
    pop = generate(4, n_pop=20).population
    path = write_csv(tmp_path / "shop.csv", pop)
    r = run("holdings", "add", "shop", str(path), "--as-of", "2020-01-01")
    assert r.exit_code == 2 and "flows.yaml" in r.output  # no flows.yaml yet
    (run.case_root / "flows.yaml").write_text("agents: []\n", "utf-8")
    r = run("holdings", "add", "shop", str(path), "--as-of", "2020-01-01")
    assert r.exit_code == 2 and "empty" in r.output  # an empty graph
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    r = run("holdings", "add", "nobody", str(path), "--as-of", "2020-01-01")
    assert r.exit_code == 2 and "unknown agent 'nobody'" in r.output
    r = run("leak", "add", "ghost", str(path), "--first-seen", "2020-01-01")
    assert r.exit_code == 2 and "unknown agent 'ghost'" in r.output
    r = run("holdings", "add", "shop", str(path), "--as-of", "2999-01-01")
    assert r.exit_code == 2 and "in the future" in r.output
    r = run("holdings", "add", "shop", str(path), "--as-of", "yesterday")
    assert r.exit_code == 2 and "must be a date" in r.output
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("colour,size\nred,3\nblue,4\n", "utf-8")
    r = run("leak", "add", "market", str(nothing), "--first-seen", "2020-01-01")
    assert r.exit_code == 2 and "no personal data found" in r.output
    for bad in ("0", "1", "-0.2", "1.5"):
        r = run("attribute", "--p", bad)
        assert r.exit_code == 2 and "between 0 and 1" in r.output
    r = run("attribute")
    assert r.exit_code == 2 and "no leak ingested" in r.output


def test_a_large_leak_streams_in_batches(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool.provenance import ingest

    monkeypatch.setattr(ingest, "BATCH_ROWS", 50)
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    pop = generate(5, n_pop=800).population
    path = write_csv(tmp_path / "leak.csv", pop)
    r = run("leak", "add", "market", str(path), "--first-seen", "2023-01-01")
    assert r.exit_code == 0, r.output
    assert "streamed 1000 rows" in r.output


def test_canary_issue_and_list(run: Cli, tmp_path: Path) -> None:
    from stdnum.cn import ric

    from plitool.pii.normalize import normalize_id_number

    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    r = run("canary", "issue", "shop", "--kind", "record", "--count", "3", "--json")
    assert r.exit_code == 0, r.output
    markers = json.loads(r.stdout)
    assert [m["marker"] for m in markers] == ["M-0001", "M-0002", "M-0003"]
    for m in markers:
        ident = m["values"]["id_number"]
        assert ident.startswith("99") and ric.calc_check_digit(ident) == ident[-1]
        assert normalize_id_number(ident) == ident  # passes a validity filter
    r = run("canary", "issue", "courier", "--kind", "email", "--domain", "canary.example.org", "--json")
    alias = json.loads(r.stdout)[0]["values"]["email"]
    assert alias.endswith("@canary.example.org")
    pool = tmp_path / "pool.txt"
    pool.write_text("13800000001\n13800000002\n", "utf-8")
    r = run("canary", "issue", "sdk", "--kind", "phone", "--pool", str(pool), "--count", "2", "--json")
    assert [m["values"]["phone"] for m in json.loads(r.stdout)] == ["+8613800000001", "+8613800000002"]
    r = run("canary", "issue", "sdk", "--kind", "phone", "--pool", str(pool))
    assert r.exit_code == 2 and "unused number" in r.output
    listed = run("canary", "list", "--json")
    assert len(json.loads(listed.stdout)) == 6
    table = run("canary", "list")
    assert alias in table.stdout and markers[0]["values"]["id_number"] in table.stdout  # shown in full
    ledger = (run.case_root / ".plitool" / "ledger.jsonl").read_text("utf-8")
    assert alias in ledger and '"canary issue"' in ledger
    r = run("canary", "issue", "shop", "--kind", "email")
    assert r.exit_code == 2 and "--domain" in r.output


def test_canary_found_in_a_leak_points_at_its_agent(scene: tuple[Cli, list[dict[str, str]]], tmp_path: Path) -> None:
    run, pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    assert run("holdings", "add", "courier", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    from datetime import date

    from plitool.provenance.canary import issue_canaries
    from plitool.vault.case import Case

    # issued before the leak was first seen (the CLI issues today)
    marker = issue_canaries(Case.open(run.case_root), "courier", "record", today=date(2021, 1, 1))[0].as_json()
    leak = write_csv(tmp_path / "leak2.csv", pop[:40] + [marker["values"]])
    assert run("leak", "add", "market", str(leak), "--first-seen", "2023-01-01").exit_code == 0
    out = json.loads(run("attribute", "--json").stdout)
    courier = next(a for a in out["agents"] if a["agent"] == "courier")
    assert out["top"] == "courier" and courier["posterior"] >= 0.99 and courier["markers_hit"] == 1


def test_items_export_writes_parquet_without_raw_values(scene: tuple[Cli, list[dict[str, str]]], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    run, pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    r = run("items", "export", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    holdings = pq.read_table(tmp_path / "out" / "holdings.parquet")
    assert holdings.num_rows == 600
    fps = holdings.column("fp").to_pylist()
    assert all(len(fp) == 32 for fp in fps)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "out").iterdir())
    assert pop[0]["phone"].encode() not in blob and pop[0]["id_number"].encode() not in blob
    assert run("items", "export", str(tmp_path / "out")).exit_code == 2  # exists, no --force
    assert run("items", "export", str(tmp_path / "out"), "--force").exit_code == 0
    mode = (run.case_root / ".plitool" / "provenance").stat().st_mode & 0o777
    assert mode == 0o700


def test_fingerprints_agree_with_scan(scene: tuple[Cli, list[dict[str, str]]]) -> None:
    """An item-table fingerprint is the first 32 hex digits of what 'plitool scan --json' prints."""
    import duckdb

    run, pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    scan = json.loads(run("scan", "E-0001", "--json", "--types", "phone", "--limit", "5").stdout)
    scanned = {f["fingerprint"][:32] for f in scan["files"][0]["findings"]}
    con = duckdb.connect(str(run.case_root / ".plitool" / "provenance" / "items.duckdb"), read_only=True)
    stored = {h for (h,) in con.execute("SELECT lower(hex(fp)) FROM holdings WHERE field = 'phone'").fetchall()}
    con.close()
    assert scanned and scanned <= stored


def test_parallel_fingerprinting_gives_the_same_tables(scene: tuple[Cli, list[dict[str, str]]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes (large tables) and the in-process path write identical rows."""
    import duckdb

    from plitool.provenance import ingest

    run, _pop = scene
    monkeypatch.setattr(ingest, "BATCH_ROWS", 64)  # several batches in flight
    monkeypatch.setattr(ingest, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_CPUS", 1)
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    monkeypatch.setattr(ingest, "PARALLEL_MIN_ROWS", 10**12)
    assert run("holdings", "add", "courier", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    con = duckdb.connect(str(run.case_root / ".plitool" / "provenance" / "items.duckdb"), read_only=True)
    q = "SELECT subject_key, field, fp FROM {} WHERE agent = ? ORDER BY ALL"
    for table in ("holdings", "holding_masks"):
        shop = con.execute(q.format(table), ["shop"]).fetchall()
        courier = con.execute(q.format(table), ["courier"]).fetchall()
        assert shop == courier and len(shop) == 600
    con.close()


def test_attribution_beyond_the_memory_limit_is_one_clear_error(scene: tuple[Cli, list[dict[str, str]]],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured at 10^7 leaked rows: DuckDB ran out of its 1 GB and the user got a traceback. Any
    failure of the engine is one line naming the limit and how to raise it (exit 3)."""
    run, _pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    assert run("leak", "add", "market", "E-0003", "--first-seen", "2023-02-01").exit_code == 0
    monkeypatch.setenv("PLITOOL_DUCKDB_MEMORY", "64KB")
    r = run("attribute")
    assert r.exit_code == 3, r.output
    assert "PLITOOL_DUCKDB_MEMORY" in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_attribution_running_out_of_memory_mid_query_is_one_clear_error(scene: tuple[Cli, list[dict[str, str]]],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The 10^7 failure happened inside the engine's queries, after the store had opened."""
    import duckdb

    from plitool.provenance import engine

    run, _pop = scene
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    assert run("leak", "add", "market", "E-0003", "--first-seen", "2023-02-01").exit_code == 0

    def no_memory(self: object, *args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 128.0 MiB")

    monkeypatch.setattr(engine.Engine, "__init__", no_memory)
    r = run("attribute")
    assert r.exit_code == 3, r.output
    assert "PLITOOL_DUCKDB_MEMORY=1GB" in r.stderr and r.stderr.count("\n") == 1


def test_a_subject_held_twice_by_one_agent_counts_once(run: Cli, tmp_path: Path) -> None:
    """A_h is a set of subjects (attribution-model.md): a contractor that holds a copy of 500 of
    the holder's rows AND receives all 1,000 of them along a flows.yaml edge holds 1,000 subjects,
    not 1,500 rows, and a leaked record it holds twice is one subject (k = 1, not 2). Counting rows
    made the contractor 'conclusive' over the holder with nothing to separate them."""
    (run.case_root / "flows.yaml").write_text("""\
agents:
  - {id: people, kind: subjects}
  - {id: holder, kind: holder}
  - {id: contractor, kind: intermediary}
  - {id: ring, kind: infringer}
  - {id: list, kind: sighting}
edges:
  - {from: people, to: holder, kind: collected, fields: [phone, waybill], since: 2025-01-01}
  - {from: holder, to: contractor, kind: shared_with, fields: [phone, waybill], since: 2025-02-01}
  - {from: contractor, to: ring, kind: sold_to, fields: [phone, waybill], since: 2026-01-01}
  - {from: holder, to: ring, kind: sold_to, fields: [phone, waybill], since: 2026-01-01}
  - {from: ring, to: list, kind: observed_at, since: 2026-03-01}
""", "utf-8")
    rows = [(f"FR{100000 + i}", f"1380000{i:04d}") for i in range(1000)]

    def table(name: str, part: list[tuple[str, str]]) -> Path:
        path = tmp_path / name
        path.write_text("运单号,手机号\n" + "".join(f"{w},{p}\n" for w, p in part), "utf-8")
        return path

    assert run("holdings", "add", "holder", str(table("holder.csv", rows)), "--as-of", "2025-12-01").exit_code == 0
    assert run("holdings", "add", "contractor", str(table("copy.csv", rows[:500])), "--as-of", "2025-12-01").exit_code == 0
    assert run("leak", "add", "list", str(table("leak.csv", rows[:300])), "--first-seen", "2026-03-01").exit_code == 0
    out = json.loads(run("attribute", "--json").stdout)
    agents = {a["agent"]: a for a in out["agents"]}
    assert agents["holder"]["records_covered"] == agents["contractor"]["records_covered"] == 300
    assert agents["holder"]["log10_likelihood"] == pytest.approx(agents["contractor"]["log10_likelihood"], rel=1e-12)
    assert out["verdict"] == "inconclusive"
    assert out["population"] == 1000
