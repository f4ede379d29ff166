"""issue 15: the attribution on Spark. One query (engine.py, DuckDB dialect), two engines: every
attribution scenario gives the same rankings, verdicts and counts on both, posteriors within 1e-9
relative; the item tables leave as Parquet with fingerprints only; bad input is one clear line.

The Spark tests share one local session (``spark_session`` in conftest.py, also serving Spark
Connect on a loopback port) and are marked slow; they skip, with the reason, without pyspark or
Java. ``PLITOOL_SPARK_SEEDS=all`` runs all 40 generated seeds instead of the default few.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from plitool.provenance.attribute import AttributionResult, _attribute
from plitool.provenance.items import ItemStore
from tests.conftest import Cli
from tests.test_provenance_cli import PLAIN_FLOWS
from tests.provenance_scenarios import engine_scenarios, generate, write_csv

sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is not installed: pip install 'plitool[spark]'")

SEEDS = range(40) if os.environ.get("PLITOOL_SPARK_SEEDS") == "all" else (0, 1, 5)
SCENARIOS = engine_scenarios(SEEDS)
REL = 1e-9


# -- transpiling (no Spark needed) -----------------------------------------------------------------


def test_every_engine_statement_transpiles_without_duckdb_only_syntax() -> None:
    from plitool.provenance import engine
    from plitool.provenance.spark import transpile

    params = {"sighting": "market", "cutoff": date(2023, 1, 1), "strong": engine.STRONG_FIELDS, "low": engine._LOW,
              "p": 0.1, "n0": 1000.0, "eps": engine.MARKER_EPSILON, "a": "x", "b": "y", "n_ab": 10.0, "limit": 10,
              "slices": 2, "i": 1}
    statements = list(engine._PREPARE) + [engine._AGENT_STATS, engine._SWEEP, engine._PAIR, engine._SEPARATING,
                                          engine._SEPARATING_EXAMPLES, engine._AFFECTED]
    for stmt in statements:
        for masked in (True, False):  # the statements for a sighting with masked values and without
            table, sql = transpile(engine._with_part(engine._with_masks(stmt, masked), False, first=True), params)
            assert (table is not None) == stmt.lstrip().startswith("CREATE OR REPLACE TABLE")
            for duck_only in ("$", "UBIGINT", "LIST_CONTAINS", "HASH(", "::", "CREATE ", "/*", "MASKS:", "PLAIN:", "PART:"):
                assert duck_only not in sql.upper().replace("XXHASH64(", ""), (duck_only, sql)


def test_parameters_become_typed_literals_never_pasted_text() -> None:
    from plitool.provenance.spark import transpile

    _t, sql = transpile("SELECT $s AS s, $f AS f, $d AS d, $l AS l, $n AS n, list_contains($l, x) AS c FROM t",
                        {"s": "it's \\ 'quoted'", "f": 0.1, "d": date(2023, 6, 1), "l": ["phone", "id_number"],
                         "n": 1 << 40})
    assert "'it\\'s \\\\ \\'quoted\\''" in sql  # Spark's string escapes: a quote cannot end the literal
    assert "CAST('0.1' AS DOUBLE)" in sql  # not 0.1, which Spark reads as DECIMAL
    assert "CAST('2023-06-01' AS DATE)" in sql
    assert "ARRAY('phone', 'id_number')" in sql and "ARRAY_CONTAINS(ARRAY('phone', 'id_number'), x)" in sql
    assert str(1 << 40) in sql
    with pytest.raises(KeyError, match=r"\$missing"):
        transpile("SELECT $missing", {})


def test_the_rewrites_where_duckdb_and_spark_differ() -> None:
    from plitool.provenance.spark import transpile

    table, sql = transpile("CREATE OR REPLACE TABLE t AS SELECT bit_xor(hash(fp)) AS h, 0::UBIGINT AS z, "
                           "count(*) FILTER (WHERE x) AS n FROM u GROUP BY ALL", {})
    assert table == "t"
    assert sql.startswith("SELECT") and "XXHASH64(fp)" in sql and "CAST(0 AS BIGINT)" in sql
    assert "FILTER(WHERE" in sql.replace(" (", "(") and "GROUP BY ALL" in sql
    _t, sql = transpile("SELECT hash(fp) % $k FROM u", {"k": 4})
    assert "PMOD(XXHASH64(fp), 4)" in sql  # Spark's 64-bit hash is signed
    _t, sql = transpile("SELECT min({'r': rank, 'f': fp}) AS b, list_sort(list(fp)) FROM v", {})
    assert "STRUCT(rank AS r, fp AS f)" in sql and "ARRAY_SORT(COLLECT_LIST(fp))" in sql


def test_a_missing_function_is_named() -> None:
    from plitool.provenance.spark import missing_function

    exc = Exception("[UNRESOLVED_ROUTINE] Cannot resolve routine `XXHASH64` on search path [`system`.`builtin`]. "
                    "SQLSTATE: 42883")
    assert missing_function(exc) == "XXHASH64"
    assert missing_function(Exception("[TABLE_OR_VIEW_NOT_FOUND] t")) is None


def test_spark_running_out_of_memory_says_how_to_give_it_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task that could not get memory, and a JVM gone (its exception's text cannot even be
    fetched), end in a message naming the memory setting, not a traceback."""
    from plitool.errors import EnvironmentProblem
    from plitool.provenance.spark import DRIVER_MEMORY_ENV, engine_error

    class Gone(Exception):
        def __str__(self) -> str:
            raise RuntimeError("the JVM is gone")

    monkeypatch.setenv(DRIVER_MEMORY_ENV, "4g")
    for exc in (Exception("org.apache.spark.memory.SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] Unable to "
                          "acquire 262144 bytes of memory, got 0."), Gone()):
        err = engine_error(exc, "SELECT 1")
        assert isinstance(err, EnvironmentProblem) and err.exit_code == 3
        assert f"{DRIVER_MEMORY_ENV}=8g (now 4g)" in str(err)
    other = engine_error(Exception("[DIVIDE_BY_ZERO] Division by zero."), "SELECT 1/0")
    assert "memory" not in str(other) and "DIVIDE_BY_ZERO" in str(other)


def test_a_local_session_gets_more_shuffle_partitions_for_larger_tables() -> None:
    """8 partitions for small exports; past 3.2·10^7 item-table rows one per 4·10^6 (a 10^7-record
    leak, 3.3·10^8 rows, ran out of memory with 8)."""
    from plitool.provenance.spark import shuffle_partitions

    def manifest(*rows: int) -> dict:
        return {"tables": {f"t{i}": {"rows": n, "files": []} for i, n in enumerate(rows)}}

    assert shuffle_partitions({}) == 8
    assert shuffle_partitions(manifest(3_000_000, 15_000_000, 15_000_000)) == 9
    assert shuffle_partitions(manifest(30_000_000, 150_000_000, 150_000_000, 20)) == 83
    assert shuffle_partitions(manifest(1000)) == 8


# -- one query, two engines ------------------------------------------------------------------------


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats within REL relative (1e-300 absolute for values at zero)."""
    if dataclasses.is_dataclass(a):
        a, b = dataclasses.asdict(a), dataclasses.asdict(b)  # type: ignore[arg-type]
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (float, int)), where
        assert math.isclose(a, float(b), rel_tol=REL, abs_tol=1e-300) or (math.isinf(a) and a == b), (where, a, b)
    else:
        assert a == b, (where, a, b)


def spark_attribute(spark: Any, store: ItemStore, flows: Any, tmp: Path, **kw: Any) -> AttributionResult:
    from plitool.provenance.spark import SparkRunner, SparkStore
    from plitool.provenance.tables import write_tables

    folder = tmp / "tables"
    if not folder.exists():
        folder.mkdir()
        write_tables(store.con, folder, case_id="test-case")
    runner = SparkRunner(spark)
    try:
        runner.read_tables(str(folder), "test-case")
        return _attribute(SparkStore(runner), flows, flows.agents, **kw)
    finally:
        runner.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_both_engines_give_the_same_attribution(name: str, spark_session: Any, tmp_path: Path) -> None:
    with ItemStore(None) as store:
        flows, runs = SCENARIOS[name](store)
        for kw in runs:
            args = {"sighting": None, "p": 0.1, "population": None, "delta_days": 0, **kw}
            duck = _attribute(store, flows, flows.agents, **args)
            spark = spark_attribute(spark_session, store, flows, tmp_path, **args)
            assert [a.agent for a in spark.agents] == [a.agent for a in duck.agents]
            assert (spark.verdict, spark.verdict_reasons, spark.top, spark.runner_up) == \
                (duck.verdict, duck.verdict_reasons, duck.top, duck.runner_up)
            _same(duck, spark, name)


# -- through a case: default tables, the CLI, Spark Connect ----------------------------------------

FLOWS = PLAIN_FLOWS  # the CLI tests' agents and edges, without evidence ids


@pytest.fixture
def loaded(run: Cli, tmp_path: Path) -> tuple[Cli, list[dict[str, str]]]:
    """A case with two holders, a leak with masked values and a canary (every kind of record)."""
    (run.case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    pop = generate(11, n_pop=300).population
    write_csv(tmp_path / "shop.csv", pop[:150])
    write_csv(tmp_path / "courier.csv", pop[100:300])
    assert run("holdings", "add", "shop", str(tmp_path / "shop.csv"), "--as-of", "2020-01-01").exit_code == 0
    assert run("holdings", "add", "courier", str(tmp_path / "courier.csv"), "--as-of", "2020-01-01").exit_code == 0
    from plitool.provenance.canary import issue_canaries
    from plitool.vault.case import Case

    marker = dict(issue_canaries(Case(run.case_root), "shop", "record", today=date(2021, 1, 1))[0].values)
    masked = [{"name": s["name"][0] + "某", "phone": s["phone"][:3] + "****" + s["phone"][-4:], "id_number": ""}
              for s in pop[:5]]
    write_csv(tmp_path / "leak.csv", pop[:60] + pop[300:310] + masked + [marker])
    assert run("leak", "add", "market", str(tmp_path / "leak.csv"), "--first-seen", "2023-06-01").exit_code == 0
    return run, pop


def _json_same(a: str, b: str) -> None:
    _same(json.loads(a), json.loads(b))


@pytest.mark.slow
def test_cli_engine_spark_matches_duckdb_and_leaves_nothing_behind(loaded: tuple[Cli, list[dict[str, str]]],
                                                                   spark_session: Any) -> None:
    run, _pop = loaded
    duck = run("attribute", "--json")
    assert duck.exit_code == 0, duck.output
    out = json.loads(duck.stdout)
    assert out["marker_records"] == 1 and out["masked_records"] == 5 and out["top"] == "shop"
    spark = run("attribute", "--engine", "spark", "--json")
    assert spark.exit_code == 0, spark.output
    _json_same(duck.stdout, spark.stdout)
    scratch = run.case_root / ".plitool" / "provenance" / "scratch"
    assert not scratch.exists() or list(scratch.iterdir()) == []  # the temporary export is gone
    assert spark_session.catalog.listTables() == []  # and every temporary view


@pytest.mark.slow
def test_spark_connect_reads_an_export_and_matches(loaded: tuple[Cli, list[dict[str, str]]], spark_session: Any,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run, _pop = loaded
    r = run("tables", "export", str(tmp_path / "export"), "--partition-by", "field", "--json")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "export" / "holdings" / "field=phone").is_dir()
    duck = run("attribute", "--json")
    monkeypatch.setenv("PLITOOL_SPARK_REMOTE", spark_session.plitool_connect)  # the environment names the server
    spark = run("attribute", "--engine", "spark", "--tables", str(tmp_path / "export"), "--json")
    assert spark.exit_code == 0, spark.output
    _json_same(duck.stdout, spark.stdout)


@pytest.mark.slow
def test_several_datasets_per_agent_agree(run: Cli, tmp_path: Path, spark_session: Any) -> None:
    (run.case_root / "flows.yaml").write_text("""\
agents:
  - {id: holder, kind: holder}
  - {id: contractor, kind: intermediary}
  - {id: list, kind: sighting}
edges:
  - {from: holder, to: contractor, kind: shared_with, fields: [phone, waybill], since: 2025-02-01}
""", "utf-8")
    rows = [(f"FR{100000 + i}", f"1380000{i:04d}") for i in range(200)]

    def table(name: str, part: list[tuple[str, str]]) -> str:
        path = tmp_path / name
        path.write_text("运单号,手机号\n" + "".join(f"{w},{p}\n" for w, p in part), "utf-8")
        return str(path)

    assert run("holdings", "add", "holder", table("holder.csv", rows), "--as-of", "2025-12-01").exit_code == 0
    assert run("holdings", "add", "contractor", table("copy.csv", rows[:100]), "--as-of", "2025-12-01").exit_code == 0
    assert run("leak", "add", "list", table("leak.csv", rows[:60]), "--first-seen", "2026-03-01").exit_code == 0
    duck = run("attribute", "--json")
    spark = run("attribute", "--engine", "spark", "--json")
    assert spark.exit_code == 0, spark.output
    _json_same(duck.stdout, spark.stdout)
    assert json.loads(spark.stdout)["population"] == 200


# -- privacy across the boundary -------------------------------------------------------------------


@pytest.mark.slow
def test_only_fingerprints_cross_to_the_cluster(loaded: tuple[Cli, list[dict[str, str]]], spark_session: Any,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything written for the cluster (an export; the temporary export and Spark's scratch
    of an --engine spark run, caught before they are deleted) holds no raw value and not the key."""
    from plitool.provenance import spark as plspark
    from plitool.vault.case import Case

    run, pop = loaded
    written: dict[str, bytes] = {}

    def grab(root: Path) -> None:
        for p in root.rglob("*"):
            if p.is_file():
                written[str(p)] = p.read_bytes()

    real_close = plspark.SparkRunner.close

    def close(self: Any) -> None:
        grab(run.case_root / ".plitool" / "provenance" / "scratch")
        real_close(self)

    monkeypatch.setattr(plspark.SparkRunner, "close", close)
    assert run("attribute", "--engine", "spark", "--json").exit_code == 0
    assert any("manifest.json" in p for p in written) and any(p.endswith(".parquet") for p in written)
    assert run("tables", "export", str(tmp_path / "out")).exit_code == 0
    grab(tmp_path / "out")
    blob = b"\n".join(written.values())
    key = Path(Case(run.case_root).paths.fingerprint_key).read_bytes()
    assert len(key) == 32
    for needle in (key, key.hex().encode(), key.hex().upper().encode()):
        assert needle not in blob
    marker = json.loads(run("canary", "list", "--json").stdout)[0]
    values = [v for s in pop[:60] + pop[300:310] for v in s.values()] + list(marker["values"].values())
    values += [s["phone"][:3] + "****" + s["phone"][-4:] for s in pop[:5]]  # not even the masks
    for v in values:
        assert v.encode() not in blob, v


# -- packaging and bad input -----------------------------------------------------------------------


def test_engine_spark_without_pyspark_says_how_to_install(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    (run.case_root / "flows.yaml").write_text(FLOWS, "utf-8")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark → ImportError
    r = run("attribute", "--engine", "spark")
    assert r.exit_code == 3
    assert "pip install 'plitool[spark]'" in r.output


def test_an_unreachable_spark_connect_server_is_one_clear_line(loaded: tuple[Cli, list[dict[str, str]]],
                                                                tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import socket

    run, _pop = loaded
    assert run("tables", "export", str(tmp_path / "export")).exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    before = sorted(p for p in run.case_root.rglob("*"))
    r = run("attribute", "--engine", "spark", "--spark-remote", f"sc://127.0.0.1:{port}", "--tables",
            str(tmp_path / "export"))
    assert r.exit_code == 3
    assert f"cannot reach the Spark Connect server at 127.0.0.1:{port}" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert sorted(p for p in run.case_root.rglob("*")) == before  # nothing written
    r = run("attribute", "--engine", "spark", "--spark-remote", f"sc://127.0.0.1:{port}")
    assert r.exit_code == 2 and "--tables URI" in r.output  # the cluster cannot see the case's files
    r = run("attribute", "--engine", "spark", "--spark-remote", "http://example.org", "--tables", "x")
    assert r.exit_code == 2 and "sc://HOST:15002" in r.output
    assert run("attribute", "--tables", "x").exit_code == 2  # --tables goes with --engine spark


@pytest.mark.slow
def test_tables_of_another_case_are_refused(loaded: tuple[Cli, list[dict[str, str]]], spark_session: Any,
                                            tmp_path: Path) -> None:
    run, _pop = loaded
    assert run("tables", "export", str(tmp_path / "export")).exit_code == 0
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text("utf-8"))
    manifest["case_id"] = "00000000-0000-4000-8000-000000000000"
    (tmp_path / "export" / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    r = run("attribute", "--engine", "spark", "--tables", str(tmp_path / "export"))
    assert r.exit_code == 2
    assert "holds the tables of another case (00000000-0000-4000-8000-000000000000)" in r.output
    (tmp_path / "empty").mkdir()
    r = run("attribute", "--engine", "spark", "--tables", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "is not a plitool tables export" in r.output


@pytest.mark.slow
def test_a_cluster_lacking_a_function_is_named(loaded: tuple[Cli, list[dict[str, str]]], spark_session: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the cluster had no xxhash64: the message names the function, exit 3."""
    from sqlglot import exp

    from plitool.provenance import spark as plspark

    run, _pop = loaded
    real = plspark._rewrite

    def older_cluster(node: Any) -> Any:
        node = real(node)
        if isinstance(node, exp.Anonymous) and str(node.name).upper() == "XXHASH64":
            return exp.func("XXHASH64_NOT_HERE", *node.expressions)
        return node

    monkeypatch.setattr(plspark, "_rewrite", older_cluster)
    r = run("attribute", "--engine", "spark")
    assert r.exit_code == 3, r.output
    assert "lacks the function xxhash64_not_here()" in r.output
    assert spark_session.catalog.listTables() == []


# -- tables export ---------------------------------------------------------------------------------


def test_tables_export_writes_parquet_a_manifest_and_a_ledger_entry(loaded: tuple[Cli, list[dict[str, str]]],
                                                                   tmp_path: Path) -> None:
    import hashlib

    import pyarrow.parquet as pq

    from plitool.vault.case import Case

    run, _pop = loaded
    r = run("tables", "export", str(tmp_path / "out"), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    assert manifest["case_id"] == Case(run.case_root).case_id == summary["case_id"]
    assert set(manifest["tables"]) == {"fields", "datasets", "holdings", "holding_masks", "holding_rows", "leaks", "canaries"}
    for t in manifest["tables"].values():
        for f in t["files"]:
            assert hashlib.sha256((tmp_path / "out" / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    holdings = pq.read_table(tmp_path / "out" / "holdings")
    assert holdings.num_rows == manifest["tables"]["holdings"]["rows"] == 3 * (150 + 200) + 2  # + the canary's
    assert set(holdings.column_names) == {"agent", "dataset", "subject_key", "field", "fp", "since"}
    assert all(len(fp) == 16 for fp in holdings.column("fp").to_pylist())
    canaries = pq.read_table(tmp_path / "out" / "canaries")
    assert "value" not in canaries.column_names  # a marker's value stays home, its fingerprint goes
    leaks = pq.read_table(tmp_path / "out" / "leaks")
    assert set(leaks.column("masked_pattern").to_pylist()) == {None, "*"}
    ledger = (run.case_root / ".plitool" / "ledger.jsonl").read_text("utf-8").strip().splitlines()
    last = json.loads(ledger[-1])["data"]
    assert last["action"] == "tables export" and last["manifest_sha256"] == summary["manifest_sha256"]
    assert last["manifest_sha256"] == hashlib.sha256((tmp_path / "out" / "manifest.json").read_bytes()).hexdigest()
    assert last["files"] == {f["path"]: f["sha256"] for t in manifest["tables"].values() for f in t["files"]}
    # an existing folder needs --force; with it, the folder is replaced whole
    r = run("tables", "export", str(tmp_path / "out"))
    assert r.exit_code == 2 and "--force" in r.output
    (tmp_path / "out" / "stale.txt").write_text("x")
    assert run("tables", "export", str(tmp_path / "out"), "--force", "--partition-by", "agent").exit_code == 0
    assert not (tmp_path / "out" / "stale.txt").exists()
    assert (tmp_path / "out" / "holdings" / "agent=shop").is_dir()
    assert run("tables", "export", str(run.case_root / ".plitool" / "x")).exit_code == 2  # never inside the case state


def test_a_failed_export_leaves_nothing_half_written(loaded: tuple[Cli, list[dict[str, str]]], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool.provenance import tables

    run, _pop = loaded
    ledger = (run.case_root / ".plitool" / "ledger.jsonl").read_bytes()
    real = tables.write_tables

    def disk_full(con: Any, directory: Path, **kw: Any) -> Any:
        real(con, directory, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tables, "write_tables", disk_full)
    r = run("tables", "export", str(tmp_path / "out"))
    assert r.exit_code == 3 and "No space left on device" in r.output
    assert list(tmp_path.glob("*out*")) == [] and list(tmp_path.glob(".out*")) == []
    assert (run.case_root / ".plitool" / "ledger.jsonl").read_bytes() == ledger  # nothing recorded
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
