"""The custody ledger: round-trips, chain and Merkle checks, tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plitool.vault.case import Case, init_case
from plitool.errors import LedgerDamaged
from plitool.vault.ledger import Checkpoint, NewEvent, canonical_json, check_checkpoints, scan_ledger
from plitool.vault import merkle

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=5), min_size=1, max_size=8))
def test_round_trip_any_json_data(tmp_path_factory: pytest.TempPathFactory, payloads: list[dict]) -> None:
    case = init_case(tmp_path_factory.mktemp("c") / "case", "round trip")
    with case.locked():
        written = case.ledger.append([NewEvent("note", None, p) for p in payloads])
    scan = scan_ledger(case.paths.ledger)
    assert scan.healthy
    assert [e.data for e in scan.entries[1:]] == payloads
    assert [e.raw for e in scan.entries[1:]] == [e.raw for e in written]
    problems, largest = check_checkpoints(case.ledger, scan.entries)
    assert problems == [] and largest == len(scan.entries)


def test_entries_chain_and_checkpoint_root(case: Case) -> None:
    with case.locked():
        case.ledger.append([NewEvent("note", None, {"text": t}) for t in ("一", "二", "三")])
    scan = case.ledger.scan()
    for before, after in zip(scan.entries, scan.entries[1:]):
        assert after.prev == before.digest
    assert scan.entries[0].prev == "0" * 64
    log = case.ledger.read_log()
    assert log.problems == [] and [(line, size) for line, size, _root in log.checkpoints] == [(2, 1), (3, 4)]
    assert not case.ledger.checkpoint_files()  # new cases keep no per-file checkpoints
    assert case.ledger.log_path.read_bytes().split(b"\n")[0] == f"plitool checkpoint log v1 {case.origin}".encode()
    root = log.checkpoints[-1][2]
    assert root == merkle.root([merkle.leaf_hash(line) for line in case.paths.ledger.read_bytes().splitlines()])
    assert canonical_json(json.loads(scan.entries[1].raw)) == scan.entries[1].raw


def _lines(case: Case) -> list[bytes]:
    return case.paths.ledger.read_bytes().split(b"\n")[:-1]


def _write(case: Case, lines: list[bytes]) -> None:
    case.paths.ledger.write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def filled(case: Case) -> Case:
    for i in range(3):
        with case.locked():
            case.ledger.append([NewEvent("note", None, {"text": f"entry {i}"})])
    return case


def _all_problems(case: Case) -> list[str]:
    scan = case.ledger.scan()
    cp, _ = check_checkpoints(case.ledger, scan.entries)
    return scan.problems + cp


def test_edited_entry(filled: Case) -> None:
    lines = _lines(filled)
    lines[1] = lines[1].replace(b"entry 0", b"entry X")
    _write(filled, lines)
    problems = _all_problems(filled)
    assert any("entry #2 was altered" in p for p in problems)
    assert any("checkpoint 2 does not match" in p and "entry #2" in p for p in problems)


def test_edited_last_entry_is_caught_by_the_checkpoint(filled: Case) -> None:
    lines = _lines(filled)
    lines[-1] = lines[-1].replace(b"entry 2", b"entry Z")
    _write(filled, lines)
    problems = _all_problems(filled)
    assert any("checkpoint 4 does not match" in p for p in problems)


def test_deleted_entry(filled: Case) -> None:
    lines = _lines(filled)
    del lines[2]
    _write(filled, lines)
    problems = _all_problems(filled)
    assert any("deleted, inserted or reordered" in p for p in problems)
    assert any("cut short" in p for p in problems)


def test_swapped_entries(filled: Case) -> None:
    lines = _lines(filled)
    lines[1], lines[2] = lines[2], lines[1]
    _write(filled, lines)
    assert any("reordered" in p for p in _all_problems(filled))


def test_truncated_at_the_end(filled: Case) -> None:
    _write(filled, _lines(filled)[:-1])
    problems = _all_problems(filled)
    assert problems == ["the ledger is cut short: checkpoint 4 records 4 entries, the ledger holds 3"]


def test_appending_to_a_damaged_ledger_is_refused(filled: Case) -> None:
    before = filled.paths.ledger.read_bytes()
    filled.paths.ledger.write_bytes(before + b'{"seq":5,"prev"')
    with pytest.raises(LedgerDamaged, match="incomplete line"):
        with filled.locked():
            filled.ledger.append([NewEvent("note", None, {"text": "x"})])
    assert filled.paths.ledger.read_bytes() == before + b'{"seq":5,"prev"'


def test_unknown_event_name_is_a_programming_error(case: Case) -> None:
    with pytest.raises(ValueError):
        with case.locked():
            case.ledger.append([NewEvent("deleted-evidence")])


def test_checkpoint_parse_rejects_garbage() -> None:
    for text in ("", "origin\n12\n", "o\nx\nAAAA\n", "o\n1\nnot base64!\n"):
        with pytest.raises(ValueError):
            Checkpoint.parse(text)


def test_missing_ledger_is_reported(tmp_path: Path) -> None:
    assert scan_ledger(tmp_path / "none.jsonl").problems


def test_log_digest_is_the_same_read_whole_or_a_few_blocks_at_a_time(tmp_path: Path) -> None:
    """The index hashes the whole log at once (while it settles) and extends the digest a block
    or so at a time after each append: both must give the same digest."""
    import os

    from plitool.vault.index import LOG_BLOCK, _hash_log

    data = os.urandom(10 * LOG_BLOCK + 123)
    path = tmp_path / "log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        whole = _hash_log(fd, 0, len(data), b"")
        chain, pos = b"", 0
        while pos + 3 * LOG_BLOCK <= len(data):
            chain, _digest = _hash_log(fd, pos, pos + 3 * LOG_BLOCK, chain)
            pos += 3 * LOG_BLOCK
        assert _hash_log(fd, pos, len(data), chain) == whole
        assert _hash_log(fd, 0, len(data) - 1, b"")[1] != whole[1]
    finally:
        os.close(fd)


@given(st.integers(min_value=1, max_value=10**10 - 1), st.binary(min_size=32, max_size=32), st.data())
def test_log_line_parses_and_every_strict_prefix_is_a_torn_line(size: int, root: bytes, data: st.DataObject) -> None:
    from plitool.vault.ledger import log_line, parse_log_line

    line = log_line(Checkpoint("o", size, root))[:-1]
    assert parse_log_line(line) == (size, root)
    cut = data.draw(st.integers(min_value=0, max_value=len(line) - 1))
    assert parse_log_line(line[:cut]) is None
    with pytest.raises(ValueError):
        parse_log_line(line + b"x")


# -- the per-entry formatting an intake of 10^4 files runs once per file --------------------------


@settings(deadline=None, max_examples=300)
@given(st.datetimes(min_value=__import__("datetime").datetime(1, 1, 1, 12),
                    timezones=st.none() | st.timezones() | st.just(__import__("datetime").timezone.utc)))
def test_iso_utc_is_exactly_the_strftime_form(moment) -> None:  # type: ignore[no-untyped-def]
    """The isoformat-based iso_utc writes byte for byte what strftime wrote (ledger lines must not
    change): any zone, naive or aware, microseconds 0 or not, years before 1000 included."""
    from datetime import timezone

    from plitool.vault.ledger import iso_utc

    try:
        utc = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return  # not a moment in UTC's range: neither form can write it
    assert iso_utc(moment) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_iso_utc_of_whole_seconds_and_early_years_keeps_the_strftime_form() -> None:
    from datetime import datetime, timezone

    from plitool.vault.ledger import iso_utc

    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.000000Z"
    early = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert iso_utc(early) == early.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@settings(deadline=None, max_examples=200)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_json_dumps_with_the_canonical_options(obj: dict) -> None:
    """canonical_json's encoder, made once, writes what json.dumps with the same options writes."""
    expected = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert canonical_json(obj) == expected
    assert canonical_json(obj) == expected  # a second use of the one encoder: nothing carried over


@settings(deadline=None, max_examples=300)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6),
       st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_data_template_writes_the_canonical_text_of_own_and_shared(own: dict, shared: dict) -> None:
    """What an intake's entries are written with: byte for byte canonical_json({**own, **shared})
    (keys of both interleaved in sorted order, a shared value winning a clash), on any values."""
    from plitool.vault.ledger import DataTemplate

    template = DataTemplate(shared)
    expected = canonical_json({**own, **shared}).decode("utf-8")
    assert template.encode(own) == expected
    assert template.encode(own) == expected  # the plan cached for these keys gives the same text
    other = {k: [v] for k, v in own.items()}  # same keys, other values: the cached plan again
    assert template.encode(other) == canonical_json({**other, **shared}).decode("utf-8")


def test_data_template_on_an_intake_like_entry_with_awkward_values() -> None:
    from plitool.vault.ledger import DataTemplate, encode_entry

    shared = {"collected_at": "2026-11-30T16:41:47.000000Z", "collected_at_stated": True, "note": "引号\"\\\n\u2028",
              "collected_by": None, "tags": ["harm", "因果"], "tool": {"name": "plitool", "python": "3.11.7"},
              "source": "\U0001f600 \x00 \x7f"}
    for own in ({"original_path": "/e/\u202egnp.exe", "original_name": "x", "size": 0, "mtime": "t",
                 "digests": {"sha256": "a" * 64, "blake3": "b" * 64}},
                {"original_path": "/e/\ufffd", "original_path_b64": "gA==", "size": 2**63, "big": 10**30,
                 "flag": False, "ratio": 0.1, "nan": float("nan")}):
        data = {**own, **shared}
        text = DataTemplate(shared).encode(own)
        assert text == json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        for item in ("E-0001", None):
            event = NewEvent("added", item, data, text)
            assert encode_entry(12, "f" * 64, "2026-11-30T16:41:47.123456Z", event) == canonical_json(
                {"seq": 12, "prev": "f" * 64, "at": "2026-11-30T16:41:47.123456Z", "event": "added", "item": item,
                 "data": data})


def _index_rows(case: Case) -> dict[str, list[tuple]]:
    conn = case.ledger.index.conn
    return {
        "head": conn.execute("SELECT entries, last, edge, latest_seq, latest_text, items, bytes FROM head").fetchall(),
        "events": conn.execute("SELECT seq, off, len, event, item FROM events ORDER BY seq").fetchall(),
        "items": conn.execute("SELECT id, seq, size, digests FROM items ORDER BY id").fetchall(),
        "shas": conn.execute("SELECT sha, item FROM shas ORDER BY sha").fetchall(),
        "checkpoints": conn.execute("SELECT size, root FROM checkpoints ORDER BY size").fetchall(),
    }


def test_index_after_an_append_is_what_a_full_rebuild_gives(case: Case) -> None:
    """An append indexes its own entries in one pass (feed_own, reusing the append's line
    digests and Merkle edge): the index it leaves is the one a rebuild from the ledger makes."""
    from plitool.vault.index import IndexedLedger

    with case.locked():
        assert isinstance(case.ledger.checked(), IndexedLedger)
    for batch in range(3):  # several appends, each extending the index the previous one left
        events = [NewEvent("added", f"E-{batch * 4 + i + 1:04d}", {
            "digests": {"sha256": f"{batch * 4 + i:064x}", "blake3": "b" * 64}, "size": i, "stored": "copy",
            "original_path": f"/e/{batch}/{i}", "original_name": str(i), "intake_at": "2026-11-30T16:41:47.000000Z",
            "collected_at": "2026-11-30T16:41:47.000000Z", "collected_at_stated": False}) for i in range(4)]
        events.append(NewEvent("note", None, {"text": f"batch {batch}"}))
        with case.locked():
            view = case.ledger.checked()
            assert isinstance(view, IndexedLedger)
            case.ledger.append(events, scan=view)
    incremental = _index_rows(case)
    assert incremental["head"][0][0] == 1 + 3 * 5 and incremental["head"][0][5] == 12
    case.ledger.index.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{case.paths.state / 'index.sqlite'}{suffix}").unlink(missing_ok=True)
    assert case.ledger.checked() is not None  # rebuilt from the ledger, every entry checked
    rebuilt = _index_rows(case)
    assert rebuilt["head"] == incremental["head"]
    assert rebuilt["events"] == incremental["events"]
    assert rebuilt["items"] == incremental["items"]
    assert rebuilt["shas"] == incremental["shas"]
    assert rebuilt["checkpoints"] == incremental["checkpoints"]  # 1, 6, 11, 16: every root the same
