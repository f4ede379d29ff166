"""What keeps attribution within its memory limit at 10^7 leaked rows, and ingest's writer thread:
the engine's prepared tables in a scratch database (deleted afterwards), the spilling settings,
the same answers whatever order holdings and masked leaks arrive in, and clean failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.test_provenance_cli import PLAIN_FLOWS, scene  # noqa: F401 - the fixture

PROV = Path(".plitool") / "provenance"


def _load(run: Cli) -> None:
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0
    assert run("holdings", "add", "courier", "E-0002", "--as-of", "2020-01-01").exit_code == 0
    assert run("leak", "add", "market", "E-0003", "--first-seen", "2023-02-01").exit_code == 0


@pytest.mark.parametrize("in_file", [True, False])
def test_prepared_tables_live_in_a_scratch_database_with_the_spilling_settings(
        scene: tuple[Cli, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch, in_file: bool) -> None:  # noqa: F811
    """Past SCRATCH_MEMORY_RECORDS leaked records the prepared tables are a file in the scratch
    folder; up to it an attached in-memory database (paged all the same): same answer."""
    from plitool.provenance import engine

    run, _pop = scene
    _load(run)
    if in_file:
        monkeypatch.setattr(engine, "SCRATCH_MEMORY_RECORDS", 99)  # the scene's leak has 100 records
    seen: dict[str, Any] = {}
    real = engine.Engine.agent_stats

    def spy(self: Any, **kw: Any) -> Any:
        con = self.con
        seen["settings"] = con.execute(
            "SELECT current_setting('preserve_insertion_order'), current_setting('temp_directory'), "
            "current_setting('memory_limit')").fetchone()
        seen["tables"] = dict(con.execute(
            "SELECT table_name, database_name FROM duckdb_tables() WHERE table_name IN ('lv', 'cand', 'cov', 'cq', 'vt')").fetchall())
        seen["temporary"] = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0]
        seen["files"] = sorted(p.name for p in (run.case_root / PROV / "scratch").iterdir())
        seen["paths"] = [p for (p,) in con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name LIKE 'plitool_work_%'").fetchall()]
        return real(self, **kw)

    monkeypatch.setattr(engine.Engine, "agent_stats", spy)
    r = run("attribute", "--json")
    assert r.exit_code == 0, r.output
    preserve, temp_dir, _limit = seen["settings"]
    assert preserve is False
    assert Path(temp_dir).resolve() == (run.case_root / PROV / "items.duckdb.tmp").resolve()
    # every prepared table is in the scratch database, none in DuckDB's in-memory temporary catalog
    assert set(seen["tables"]) == {"lv", "cand", "cov", "cq", "vt"}
    assert all(db.startswith("plitool_work_") for db in seen["tables"].values())
    assert seen["temporary"] == 0
    if in_file:
        stem = seen["files"][0]
        assert stem.startswith("attribute-") and stem.endswith(".duckdb")
        assert all(f.startswith(stem) for f in seen["files"])  # the database and its write-ahead log
        assert [Path(p).name for p in seen["paths"]] == [stem]
    else:
        assert seen["files"] == [] and seen["paths"] in ([None], [""], [":memory:"]), seen["paths"]
    # ... and gone afterwards, the item tables untouched
    assert list((run.case_root / PROV / "scratch").iterdir()) == []
    assert json.loads(r.stdout)["top"] == "shop"


def test_scratch_database_is_deleted_when_the_engine_fails(scene: tuple[Cli, list[dict[str, str]]],  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from plitool.provenance import engine

    run, _pop = scene
    _load(run)
    prepare = list(engine._PREPARE)
    prepare[-1] = "SELECT error('Out of Memory Error: simulated')"

    monkeypatch.setattr(engine, "_PREPARE", tuple(prepare))
    from plitool.provenance.attribute import attribute
    from plitool.vault.case import Case

    with pytest.raises(duckdb.Error, match="simulated"):
        attribute(Case(run.case_root))
    assert list((run.case_root / PROV / "scratch").iterdir()) == []

    def no_memory(con: Any, stmt: str, params: Any = None) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block of size 256.0 KiB")

    monkeypatch.setattr(engine, "_PREPARE", ("SELECT 1",))
    monkeypatch.setattr(engine.Engine, "records", lambda self: no_memory(self.con, ""))
    r = run("attribute")
    assert r.exit_code == 3 and "PLITOOL_DUCKDB_MEMORY" in r.stderr and r.stderr.count("\n") == 1
    assert list((run.case_root / PROV / "scratch").iterdir()) == []


def test_the_same_answer_in_a_small_memory_limit(scene: tuple[Cli, list[dict[str, str]]],  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's statements stream and spill: a tight limit changes nothing in the output."""
    run, _pop = scene
    _load(run)
    wide = run("attribute", "--json")
    assert wide.exit_code == 0, wide.output
    monkeypatch.setenv("PLITOOL_DUCKDB_MEMORY", "48MB")
    tight = run("attribute", "--json")
    assert tight.exit_code == 0, tight.output
    assert tight.stdout == wide.stdout


def test_a_masked_leak_added_after_the_holdings_matches_as_before_them(run: Cli, tmp_path: Path) -> None:
    """Held values carry their masks' fingerprints from their own ingest: a masked leak matches
    whether it arrives before or after the holdings, with the same output."""
    hold = tmp_path / "shop.csv"
    hold.write_text("姓名,手机号,身份证号\n张伟,13811110001,11010519491231002X\n张芳,13822220001,110105194912310038\n"
                    "欧阳娜,13933330002,310104198001010017\n", "utf-8")
    leak = tmp_path / "leak.csv"
    leak.write_text("姓名,手机号,身份证号\n张某,138****0001,\n欧阳*,139****0002,310104********0017\n", "utf-8")
    assert run("add", str(hold), str(leak)).exit_code == 0
    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    outs = []
    for order in (("holdings", "leak"), ("leak", "holdings")):
        for step in order:
            if step == "holdings":
                r = run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01")
            else:
                r = run("leak", "add", "market", "E-0002", "--first-seen", "2023-01-01")
            assert r.exit_code == 0, r.output
        r = run("attribute", "--json")
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.stdout))
        import shutil

        shutil.rmtree(run.case_root / PROV)
    assert outs[0] == outs[1]
    shop = {a["agent"]: a for a in outs[0]["agents"]}["shop"]
    assert outs[0]["masked_records"] == 2 and shop["records_covered"] == 2 and shop["masked_candidates"] == 2


def test_a_masked_leak_attributed_in_parts_gives_the_same_output(scene: tuple[Cli, list[dict[str, str]]],  # noqa: F811
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scene's leak plus masked records, attributed with one record per part (the path of
    10^7 leaked rows) and in one part: the same output, byte for byte."""
    from plitool.provenance import engine

    run, pop = scene
    masked = tmp_path / "masked.csv"
    masked.write_text("姓名,手机号,身份证号\n" + "".join(
        f"{p['name'][0]}某,{p['phone'][:3]}****{p['phone'][-4:]},\n" for p in pop[10:40]), "utf-8")
    assert run("add", str(masked)).exit_code == 0  # E-0004
    _load(run)
    assert run("leak", "add", "market", "E-0004", "--first-seen", "2023-02-01").exit_code == 0
    whole = run("attribute", "--json")
    assert whole.exit_code == 0, whole.output
    assert json.loads(whole.stdout)["masked_records"] == 30
    monkeypatch.setattr(engine, "RECORDS_PER_PART", 1)
    parted = run("attribute", "--json")
    assert parted.stdout == whole.stdout


def test_held_masks_of_a_batch_equal_the_per_value_masks() -> None:
    from plitool.provenance.ingest import _held_mask, held_masks

    names = ["张伟", "欧阳娜", "欧阳", "张", "司马光", "张伟", "Li", "王小明"]
    assert held_masks("name", names) == [_held_mask("name", v) for v in names]
    phones = ["+8613811110001", "+8613822220001"]
    assert held_masks("phone", phones) == [_held_mask("phone", v) for v in phones] == ["138****0001", "138****0001"]
    assert held_masks("phone", ["+8613811110001", "+85291234567"]) == [
        _held_mask("phone", v) for v in ["+8613811110001", "+85291234567"]]
    assert held_masks("name", []) == [] and held_masks("phone", []) == []


def test_an_ingest_failing_in_the_writer_thread_leaves_the_tables_as_they_were(
        scene: tuple[Cli, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import duckdb

    from plitool.errors import StorageError
    from plitool.provenance import ingest

    run, _pop = scene
    assert run("holdings", "add", "courier", "E-0002", "--as-of", "2020-01-01").exit_code == 0
    monkeypatch.setattr(ingest, "BATCH_ROWS", 32)
    calls = {"n": 0}
    real = ingest._fp_array

    def failing(data: bytes, n: int) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise StorageError("disk full (simulated)")
        return real(data, n)

    monkeypatch.setattr(ingest, "_fp_array", failing)
    r = run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01")
    assert r.exit_code != 0 and calls["n"] == 4 and "disk full" in r.output
    con = duckdb.connect(str(run.case_root / PROV / "items.duckdb"), read_only=True)
    try:
        for table in ("holdings", "holding_masks", "holding_rows", "datasets"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE agent = 'shop'").fetchone() == (0,)
    finally:
        con.close()
    monkeypatch.setattr(ingest, "_fp_array", real)
    assert run("holdings", "add", "shop", "E-0001", "--as-of", "2020-01-01").exit_code == 0


def test_population_counted_in_slices_is_the_same(scene: tuple[Cli, list[dict[str, str]]],  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """N_0 is counted in disjoint slices when the holdings are large; the sum is exact."""
    import duckdb

    from plitool.provenance import engine

    run, _pop = scene
    _load(run)
    whole = run("attribute", "--json")
    con = duckdb.connect(str(run.case_root / PROV / "items.duckdb"), read_only=True)
    try:
        one = engine.population(con)
        monkeypatch.setattr(engine, "POPULATION_PASS_VALUES", 10)  # one field at a time
        per_field = engine.population(con)
        monkeypatch.setattr(engine, "POPULATION_SLICE_ROWS", 37)  # and each in slices
        sliced = engine.population(con)
        naive = con.execute("SELECT max(c) FROM (SELECT count(DISTINCT fp) AS c FROM holdings GROUP BY field)").fetchone()[0]
    finally:
        con.close()
    assert one == per_field == sliced == naive > 0
    assert run("attribute", "--json").stdout == whole.stdout


def test_a_scratch_folder_that_cannot_be_made_falls_back_to_memory(scene: tuple[Cli, list[dict[str, str]]]) -> None:  # noqa: F811
    run, _pop = scene
    _load(run)
    first = run("attribute", "--json")
    (run.case_root / PROV / "scratch").rmdir()
    (run.case_root / PROV / "scratch").write_text("not a folder", "utf-8")
    again = run("attribute", "--json")
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout
    assert (run.case_root / PROV / "scratch").read_text("utf-8") == "not a folder"


def _counts(root: Path, agent: str) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(root / PROV / "items.duckdb"), read_only=True)
    try:
        out = {t: con.execute(f"SELECT count(*) FROM {t} WHERE agent = ?", [agent]).fetchone()[0]
               for t in ("holdings", "holding_masks", "holding_rows", "datasets")}
        out["pending"] = con.execute("SELECT count(*) FROM pending WHERE agent = ?", [agent]).fetchone()[0]
        return out
    finally:
        con.close()


def _slices(monkeypatch: pytest.MonkeyPatch, stop_at: int) -> dict[str, Any]:
    """Small batches and slices; the ``stop_at``-th batch is interrupted (Ctrl-C) before it is written."""
    from plitool.provenance import ingest, items

    monkeypatch.setattr(ingest, "BATCH_ROWS", 32)
    monkeypatch.setattr(ingest, "SLICE_ROWS", 64)
    seen: dict[str, Any] = {"batches": 0}
    real_count = ingest._count_row_masks

    def count(*a: Any) -> None:
        seen["batches"] += 1
        if seen["batches"] == stop_at:
            raise KeyboardInterrupt
        real_count(*a)

    real_discard = items.ItemStore.discard_ingest

    def discard(self: Any, dataset: str, role: str, agent: str) -> None:
        seen["rows_committed"] = self.con.execute("SELECT count(*) FROM holdings WHERE agent = ?", [agent]).fetchone()[0]
        seen["visible"] = self.con.execute("SELECT count(*) FROM datasets WHERE agent = ?", [agent]).fetchone()[0]
        real_discard(self, dataset, role, agent)

    monkeypatch.setattr(ingest, "_count_row_masks", count)
    monkeypatch.setattr(items.ItemStore, "discard_ingest", discard)
    return seen


def test_ctrl_c_mid_ingest_after_committed_slices_leaves_no_half_dataset(
        scene: tuple[Cli, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Rows are committed in slices and the datasets row last: interrupted after two slices, the
    committed rows were never visible and are deleted; attribution is byte-identical; the same
    file ingests again."""
    run, _pop = scene
    _load(run)
    before = run("attribute", "--json")
    seen = _slices(monkeypatch, stop_at=6)
    r = run("holdings", "add", "sdk", "E-0002", "--as-of", "2020-01-01")
    assert r.exit_code != 0 and seen["batches"] == 6
    assert seen["rows_committed"] >= 2 * 64 and seen["visible"] == 0  # slices were committed, not visible
    assert _counts(run.case_root, "sdk") == {"holdings": 0, "holding_masks": 0, "holding_rows": 0, "datasets": 0, "pending": 0}
    assert run("attribute", "--json").stdout == before.stdout
    monkeypatch.undo()
    assert run("holdings", "add", "sdk", "E-0002", "--as-of", "2020-01-01").exit_code == 0
    assert _counts(run.case_root, "sdk") == {**_counts(run.case_root, "courier"), "datasets": 1}


def test_a_killed_ingest_is_invisible_and_cleaned_up_by_the_next_write(
        scene: tuple[Cli, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # noqa: F811
    """A kill gives no chance to clean up (simulated: the clean-up does nothing): the committed
    rows stay without a datasets row. Attribution and export ignore them; the next command that
    opens the tables for writing deletes them, so the dataset is not ingested twice."""
    from plitool.provenance import items

    run, _pop = scene
    _load(run)
    before = run("attribute", "--json")
    exported = run("items", "export", str(tmp_path / "clean"), "--json")
    assert exported.exit_code == 0, exported.output
    assert run("tables", "export", str(tmp_path / "tables-clean")).exit_code == 0
    seen = _slices(monkeypatch, stop_at=6)
    monkeypatch.setattr(items.ItemStore, "discard_ingest", lambda self, *a: seen.setdefault("killed", a))
    assert run("holdings", "add", "sdk", "E-0002", "--as-of", "2020-01-01").exit_code != 0
    left = _counts(run.case_root, "sdk")
    assert left["holdings"] >= 2 * 64 and left["holding_masks"] > 0 and left["datasets"] == 0 and left["pending"] == 1
    assert run("attribute", "--json").stdout == before.stdout
    assert run("items", "export", str(tmp_path / "after"), "--json").exit_code == 0
    import pyarrow.parquet as pq

    for table in items.EXPORT_TABLES:
        if table != "pending":
            assert pq.read_table(tmp_path / "after" / f"{table}.parquet").equals(
                pq.read_table(tmp_path / "clean" / f"{table}.parquet")), table
    # the Parquet tables for a Spark cluster leave the half dataset out too
    assert run("tables", "export", str(tmp_path / "tables-after")).exit_code == 0
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("tables-clean", "tables-after")]
    assert [{t: v["rows"] for t, v in m["tables"].items()} for m in manifests][0] == \
        {t: v["rows"] for t, v in manifests[1]["tables"].items()}
    for table in ("holdings", "holding_masks", "holding_rows", "leaks"):
        assert pq.read_table(tmp_path / "tables-after" / table).sort_by([("dataset", "ascending")]).num_rows == \
            manifests[0]["tables"][table]["rows"], table
    monkeypatch.undo()
    r = run("holdings", "add", "sdk", "E-0002", "--as-of", "2020-01-01")
    assert r.exit_code == 0, r.output
    assert _counts(run.case_root, "sdk") == {**_counts(run.case_root, "courier"), "datasets": 1}


def test_holding_rows_counted_at_ingest_equal_the_sql_count(run: Cli, tmp_path: Path) -> None:
    """holding_rows is counted batch by batch in Python; on a table with gaps in every column it is
    what the former SQL (one GROUP BY over the dataset's held values) gave."""
    import duckdb

    from tests.test_provenance_cli import PLAIN_FLOWS

    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    rows = ["姓名,手机号,身份证号,邮箱"]
    for i in range(300):
        rows.append(",".join([
            "张伟" if i % 3 else "", f"1380000{i:04d}" if i % 4 else "", "110105194912310021" if i % 5 == 0 else "",
            f"u{i}@example.com" if i % 7 else "not an address"]))
    (tmp_path / "gaps.csv").write_text("\n".join(rows) + "\n", "utf-8")
    assert run("holdings", "add", "shop", str(tmp_path / "gaps.csv"), "--as-of", "2020-01-01").exit_code == 0
    con = duckdb.connect(str(run.case_root / PROV / "items.duckdb"), read_only=True)
    try:
        stored = con.execute("SELECT rowmask, n FROM holding_rows ORDER BY ALL").fetchall()
        sql = con.execute(
            "SELECT rowmask, count(*) FROM (SELECT h.subject_key, bit_or(f.mask) AS rowmask FROM holdings h "
            "JOIN fields f USING (field) GROUP BY h.subject_key) GROUP BY rowmask ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert stored == sql and len(stored) > 4


# -- the Arrow paths give what the per-value functions give ---------------------------------------

_CELLS = ["13812345678", "138 1234 5678", "+86 13812345678", "１３８１２３４５６７８", "12345678901", "138****5678",
          "11010519491231002X", "11010519491231002x", "110105194912310021", "110105********002X", "张伟", "欧阳娜",
          "张某", "王*", "李", "Li Lei", "ＡＢ12", "ab-12", "ß12", "straße", "x", "张 伟", "＊", "  "]


def _arrow_and_scalar(field_name: str, cells: list[str | None]) -> tuple[Any, Any]:
    import pyarrow as pa

    from plitool.provenance.ingest import normalise_batch, normalise_column

    rows, vals, mrows, patterns, bad = normalise_batch(field_name, pa.array(cells, pa.string()))
    want = normalise_column(field_name, [c if c is not None else "" for c in cells])
    got = (list(range(len(cells))) if rows is None else rows, vals.to_pylist(), mrows, patterns, bad)
    return got, want


@pytest.mark.parametrize("field_name", ["phone", "id_number", "name", "order_id", "device_id", "address", "email"])
def test_arrow_normalisation_equals_the_per_cell_normalisers(field_name: str) -> None:
    """Clean columns (every cell vouched for: the Arrow path) and dirty ones (the per-cell path)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    clean = {"phone": [f"1{d}{i:09d}" for d in "3589" for i in range(0, 10**9, 10**8)],
             "id_number": ["11010519491231002X", "11010519491231002x", "110105194912310021"[:17] + "X"] * 3,
             "name": ["张伟", "欧阳娜", "司马光", "Li", "王小明"] * 4,
             "order_id": ["ab12", "CD34", "ß12", "ｅｆ56"], "device_id": ["a1b2c3", "D4E5F6"],
             "address": ["北京市朝阳区", "Shanghai"], "email": ["a@b.cn"]}[field_name]
    for cells in (clean, clean + [None], clean + _CELLS, _CELLS):
        got, want = _arrow_and_scalar(field_name, cells)
        assert got == want, cells

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(clean + _CELLS), st.text(alphabet="0123456789Xx*某张欧阳 １", max_size=19)),
                    min_size=1, max_size=30))
    def same(cells: list[str]) -> None:
        got, want = _arrow_and_scalar(field_name, [c or None for c in cells])
        assert got == want

    same()


def test_arrow_held_masks_equal_the_per_value_masks() -> None:
    import pyarrow as pa
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from plitool.pii.mask import COMPOUND_SURNAMES
    from plitool.provenance.ingest import _held_mask, held_masks_arrow

    def check(field_name: str, values: list[str]) -> None:
        got = held_masks_arrow(field_name, pa.array(values, pa.string())).to_pylist()
        assert got == [_held_mask(field_name, v) for v in values], values

    check("name", ["张伟", "欧阳娜", "欧阳", "张", "司马光", "Li", "王小明", *sorted(COMPOUND_SURNAMES)])
    check("phone", ["+8613811110001", "+8613822220001"])
    check("phone", ["+8613811110001", "+85291234567"])
    check("id_number", ["11010519491231002X", "110105194912310"])
    for field_name in ("name", "phone", "id_number"):
        check(field_name, [])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(alphabet="张欧阳司马王李aB1+86*", max_size=20), max_size=20))
    def same(values: list[str]) -> None:
        for field_name in ("name", "phone", "id_number"):
            check(field_name, values)

    same()


def test_every_stored_fingerprint_is_the_scalar_fingerprint_of_its_cell(run: Cli, tmp_path: Path) -> None:
    """Through the whole ingest (Arrow normalisation, distinct values hashed once, masks in Arrow,
    several batches): each held value's and each mask's fingerprint is what Fingerprinter.fingerprint
    gives for the cell normalised one value at a time."""
    import duckdb

    from plitool.pii.fingerprint import Fingerprinter
    from plitool.pii.normalize import normalize
    from plitool.provenance import ingest
    from tests.test_provenance_cli import PLAIN_FLOWS

    (run.case_root / "flows.yaml").write_text(PLAIN_FLOWS, "utf-8")
    names = ["张伟", "欧阳娜", "王小明", "李", "司马光"]
    rows = [(names[i % 5], f"1380000{i % 97:04d}", "11010519491231002X" if i % 3 else "110105194912310021") for i in range(500)]
    rows[7] = ("张伟", "１３８ 0000 0007", "")  # a dirty batch takes the per-cell path
    (tmp_path / "h.csv").write_text("姓名,手机号,身份证号\n" + "".join(",".join(r) + "\n" for r in rows), "utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "BATCH_ROWS", 64)
        assert run("holdings", "add", "shop", str(tmp_path / "h.csv"), "--as-of", "2020-01-01").exit_code == 0
    fpr = Fingerprinter.for_case(run.case_root / ".plitool" / "keys" / "fingerprint.key")
    con = duckdb.connect(str(run.case_root / PROV / "items.duckdb"), read_only=True)
    try:
        held = con.execute("SELECT subject_key, field, lower(hex(fp)) FROM holdings").fetchall()
        masks = con.execute("SELECT subject_key, field, lower(hex(fp)) FROM holding_masks").fetchall()
    finally:
        con.close()
    columns = {"name": 0, "phone": 1, "id_number": 2}
    want_held, want_masks = set(), set()
    for key, row in enumerate(rows):
        for f, c in columns.items():
            value = normalize(f, row[c]) if row[c] else None
            if value is None:
                continue
            want_held.add((key, f, fpr.fingerprint(f, value)[:32]))
            shape = ingest._held_mask(f, value)
            if shape:
                want_masks.add((key, f, fpr.fingerprint(f, shape, partial=True)[:32]))
    assert set(held) == want_held and len(held) == len(want_held) == 500 * 3 - 1 - 167  # 167 ID numbers are invalid
    assert set(masks) == want_masks and len(masks) == len(want_masks)


def test_digests_of_encoded_values_equal_the_digests() -> None:
    from plitool.pii.fingerprint import Fingerprinter

    fpr = Fingerprinter(b"k" * 32)
    values = ["+8613812345678", "张伟", "欧阳*", ""]
    for partial in (False, True):
        assert fpr.digests_encoded("name", [v.encode() for v in values], partial=partial, size=16) == \
            fpr.digests("name", values, partial=partial, size=16) == \
            b"".join(bytes.fromhex(fpr.fingerprint("name", v, partial=partial)[:32]) for v in values)
