"""``list --json`` and ``log --json`` written from the ledger's lines (``plitool.cli.ledger_json``)
print exactly the bytes of the general path: every record parsed and formatted again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plitool.cli.common import pretty_json
from plitool.cli.ledger_json import list_records, log_records, write_array
from plitool.vault.case import Case
from plitool.vault.evidence import build_items, mark_sealed
from plitool.vault.ledger import canonical_json, decode_entry
from plitool.vault.merkle import leaf_hash

from .attacks.forge import append_forged, entries, ledger_path, lines, synth_items, write_checkpoint
from .conftest import Cli


def _entry_json(raw: bytes) -> dict[str, Any]:
    e = decode_entry(raw)[0]
    return {"seq": e.seq, "at": e.at, "event": e.event, "item": e.item, "data": e.data, "hash": e.digest}


def _general_log(raw: bytes) -> bytes:
    return pretty_json(_entry_json(raw), "  ").encode()


def _array(records: Any) -> bytes:
    out: list[bytes] = []
    write_array(records, out.append)
    return b"".join(out)


texts = st.text(max_size=12) | st.sampled_from(['a"b', "back\\slash", "\\", '"', "张三", "x\ny", "{,:}[]", "e", "-1"])
scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | texts
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=12)


def _line(seq: int, data: dict[str, Any], event: str = "note", item: str | None = None) -> bytes:
    return canonical_json({"seq": seq, "prev": "0" * 64, "at": "2026-11-01T00:00:00.000000Z", "event": event,
                           "item": item, "data": data})


@settings(max_examples=300)
@given(st.lists(st.dictionaries(texts, values, max_size=5), min_size=1, max_size=6))
def test_log_records_are_the_general_records(datas: list[dict[str, Any]]) -> None:
    raws = [_line(n, d, item="E-0001" if n % 2 else None) for n, d in enumerate(datas, start=1)]
    raws += raws  # the second time each shape's plan is reused
    assert _array(log_records(raws, _general_log)) == \
        json.dumps([_entry_json(r) for r in raws], ensure_ascii=False, indent=2).encode() + b"\n"


def _general_item(raw: bytes, sealed: int) -> bytes | None:
    items = build_items([decode_entry(raw)[0]])
    if not items:
        return None
    mark_sealed(items, sealed)
    (item,) = items.values()
    return pretty_json(item.summary(), "  ").encode()


record_extras = st.fixed_dictionaries({}, optional={
    "original_name": texts | st.integers(), "stored": st.sampled_from(["copy", "reference", "other"]) | st.none(),
    "collected_at": texts | st.none(), "collected_by": texts | st.none(), "source": values,
    "tags": st.lists(texts, max_size=3), "note": texts, "zzz": values, "aaa": values,
})


@settings(max_examples=300)
@given(st.lists(record_extras, min_size=1, max_size=5), st.integers(0, 12))
def test_list_records_are_the_general_records(extras: list[dict[str, Any]], sealed: int) -> None:
    raws = [_line(1, {"case_id": "x"}, event="created")]
    for n, extra in enumerate(extras * 2, start=1):
        digest = hashlib.sha256(b"%d" % n).hexdigest()
        raws.append(_line(n + 1, {**extra, "digests": {"sha256": digest}, "size": n * 1000}, "added", f"E-{n:04d}"))
    expected = [r for raw in raws if (r := _general_item(raw, sealed)) is not None]
    got = _array(list_records(raws, sealed, set(), lambda raw: _general_item(raw, sealed)))
    assert got == b"[\n  " + b",\n  ".join(expected) + b"\n]\n"


def _old_list(case: Case) -> bytes:
    """What ``list --json`` printed before: every item built from the whole ledger, then dumped."""
    from plitool.timestamps.seal import sealed_size

    entries_ = case.ledger.scan().entries
    items = build_items(entries_)
    mark_sealed(items, sealed_size(case, entries_))
    return json.dumps([it.summary() for it in items.values()], ensure_ascii=False, indent=2).encode() + b"\n"


def _old_log(case: Case) -> bytes:
    return json.dumps([_entry_json(raw) for raw in lines(case.root)], ensure_ascii=False, indent=2).encode() + b"\n"


def test_list_and_log_json_bytes_are_those_of_the_general_path(case: Case, run: Cli, tmp_path: Path) -> None:
    """A generated ledger of every kind of line: synthetic intakes, real ones (Chinese and quoted
    names, tags, re-collections, copies and references), accesses, a forged note with an escaped
    quote and an odd shape."""
    synth_items(case.root, 300, note_every=37)
    files = tmp_path / "ev"
    files.mkdir()
    (files / '引号"名.txt').write_bytes(b"one")
    (files / "b\\slash.bin").write_bytes(b"two")
    (files / "same.txt").write_bytes(b"one")
    assert run("add", "-r", str(files), "--tag", "harm,causation", "--source", 'https://x.example/?q="1"').exit_code == 0
    assert run("add", "--no-copy", str(files / "b\\slash.bin"), "--note", "再次").exit_code == 0
    append_forged(case.root, {"event": "note", "item": None, "at": entries(case.root)[-1]["at"],
                              "data": {"text": 'a "quoted" note', "n": [1, 2.5, None, True], "deep": {"x": {}}}})
    write_checkpoint(case.root, [leaf_hash(raw) for raw in lines(case.root)])
    listed, logged = run("list", "--json"), run("log", "--json")
    assert listed.exit_code == 0, listed.output
    assert logged.exit_code == 0, logged.output
    assert Case.open(explicit=case.root).ledger.index.open_checked() is not None  # the fast path was taken
    assert listed.stdout_bytes == _old_list(case)
    assert logged.stdout_bytes == _old_log(case)
    assert len(json.loads(listed.stdout_bytes)) == 302  # same.txt is a re-collection
    assert ledger_path(case.root).read_bytes().count(b"\n") == len(json.loads(logged.stdout_bytes))


def test_index_after_add_is_the_index_rebuilt_from_the_ledger(case: Case, run: Cli, tmp_path: Path) -> None:
    """``add`` records its own entries in the index without judging them again: what it records
    (items, digests, events, the latest time) must be exactly what a full check rebuilds."""
    import sqlite3

    files = tmp_path / "batch"
    files.mkdir()
    for n in range(30):
        (files / f"f{n:02d}.txt").write_bytes(b"content %d" % (n % 20))  # ten re-collections
    assert run("add", "-r", str(files)).exit_code == 0
    assert run("add", str(files / "f05.txt"), "--tag", "harm").exit_code == 0
    index = case.root / ".plitool" / "index.sqlite"

    def tables() -> dict[str, list[tuple[object, ...]]]:
        with sqlite3.connect(index) as conn:
            return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()  # noqa: S608
                    for t in ("head", "events", "items", "shas", "checkpoints")}

    after_add = tables()
    assert len(after_add["items"]) == 20 and len(after_add["events"]) == 1 + 30 + 1
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    assert run("show", "E-0001").exit_code == 0  # rebuilt: every entry checked from the first byte
    rebuilt = tables()
    # the rebuilt index keeps only the checkpoint files it found (all of them), the same rows otherwise
    assert {k: v for k, v in rebuilt.items() if k != "checkpoints"} == {k: v for k, v in after_add.items() if k != "checkpoints"}
    assert set(rebuilt["checkpoints"]) >= {after_add["checkpoints"][-1]}
