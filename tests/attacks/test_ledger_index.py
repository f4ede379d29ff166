"""Attacks on the ledger index (``.plitool/index.sqlite``): a derived cache must never make plitool
append to a ledger that a full check would refuse, nor hide from ``verify`` what it catches.

The large cases (10^5 entries) are generated directly (``forge.synth_items``), not through
10^5 ``add`` runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from .conftest import Plitool
from .forge import (as_old_case, copy_case, entries, last_log_line_as_file, ledger_path, lines, log_path, rechain,
                    rewrite_log, synth_items, write_checkpoint, write_lines)

LARGE = 100_000
SLOW_TIMEOUT = 600


def _index(case_root: Path) -> Path:
    return case_root / ".plitool" / "index.sqlite"


def _add(plitool: Plitool, tmp_path: Path, name: str, **kw: float) -> None:
    f = tmp_path / name
    f.write_bytes(name.encode() * 100)
    res = plitool("add", f, "--json", **kw)  # type: ignore[arg-type]
    assert res.code == 0, res.err


def _edit_in_place(case_root: Path, seq: int, old: bytes, new: bytes) -> bytes:
    """Change bytes of entry #seq, keeping the file's length (what an editor's 'replace' does)."""
    assert len(old) == len(new)
    blob = ledger_path(case_root).read_bytes()
    rows = blob.split(b"\n")
    assert old in rows[seq - 1]
    rows[seq - 1] = rows[seq - 1].replace(old, new, 1)
    edited = b"\n".join(rows)
    assert len(edited) == len(blob)
    with ledger_path(case_root).open("r+b") as fh:  # same inode, same size: only the times change
        fh.write(edited)
    return edited


def _forge_index_times(case_root: Path) -> None:
    """What an intruder who knows the index does after editing the ledger: record its new times."""
    st = os.stat(ledger_path(case_root))
    with sqlite3.connect(_index(case_root)) as conn:
        conn.execute("UPDATE head SET dev = ?, ino = ?, bytes = ?, mtime_ns = ?, ctime_ns = ?",
                     (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))


# -- small cases ---------------------------------------------------------------------------------


def test_index_is_derived_deleted_or_garbage_it_is_rebuilt(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 50)
    _add(plitool, tmp_path, "a.txt")
    assert _index(case_root).is_file()
    shown = json.loads(plitool("show", "E-0051", "--json").out)
    _index(case_root).unlink()
    assert json.loads(plitool("show", "E-0051", "--json").out) == shown
    _index(case_root).write_bytes(b"this is not a database" * 100)
    assert json.loads(plitool("show", "E-0051", "--json").out) == shown
    _add(plitool, tmp_path, "b.txt")
    with sqlite3.connect(_index(case_root)) as conn:
        assert conn.execute("SELECT entries, items FROM head").fetchone() == (len(lines(case_root)), 52)
    assert plitool("verify").code in (0, 1)  # references to synthetic files are missing: not the point
    assert "altered" not in plitool("verify").out


def test_show_from_index_matches_show_from_the_ledger(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 30, note_every=7)
    _add(plitool, tmp_path, "a.txt")
    _add(plitool, tmp_path, "a.txt")  # a re-collection: found through the index
    fast = {i: plitool("show", i, "--json").out for i in ("E-0001", "E-0008", "E-0031", "8")}
    _index(case_root).unlink()
    _index(case_root).mkdir()  # an index that cannot be opened: every command reads the ledger whole
    slow = {i: plitool("show", i, "--json").out for i in fast}
    assert fast == slow
    assert json.loads(fast["E-0031"])["events"] == 2
    missing = plitool("show", "E-9999")
    assert missing.code != 0 and "E-9999" in missing.err


def test_streamed_list_and_log_print_what_the_whole_ledger_gives(plitool: Plitool, case_root: Path,
                                                                tmp_path: Path) -> None:
    synth_items(case_root, 25, note_every=4)
    _add(plitool, tmp_path, "a.txt")
    _add(plitool, tmp_path, "a.txt")
    streamed = {c: plitool(c, "--json").out for c in ("list", "log")}
    _index(case_root).unlink()
    _index(case_root).mkdir()  # list now builds every item in memory, as before
    whole = {c: plitool(c, "--json").out for c in ("list", "log")}
    assert streamed == whole
    listed = json.loads(streamed["list"])
    assert [i["id"] for i in listed] == [f"E-{n:04d}" for n in range(1, 27)]
    assert listed[0]["events"] == 2 and listed[-1]["events"] == 2
    assert len(json.loads(streamed["log"])) == len(lines(case_root))


def test_appends_made_without_the_index_are_picked_up(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 20)
    _add(plitool, tmp_path, "a.txt")
    synth_items(case_root, 5)  # the ledger grew behind the index's back (well-formed)
    _add(plitool, tmp_path, "b.txt")
    added = [e for e in entries(case_root) if e["event"] == "added"]
    assert [e["item"] for e in added[-2:]] == ["E-0026", "E-0027"]


def test_in_place_edit_of_an_old_line_refuses_the_append(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 40)
    _add(plitool, tmp_path, "a.txt")
    edited = _edit_in_place(case_root, 10, b"file9.dat", b"fi1e9.dat")
    f = tmp_path / "b.txt"
    f.write_bytes(b"b")
    res = plitool("add", f)
    assert res.code == 5, res.err
    assert "#10" in res.err
    assert ledger_path(case_root).read_bytes() == edited  # nothing appended


def test_index_edited_alone_cannot_make_add_record_a_false_re_collection(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    import hashlib

    synth_items(case_root, 10)
    _add(plitool, tmp_path, "a.txt")
    f = tmp_path / "new.txt"
    f.write_bytes(b"new evidence")
    with sqlite3.connect(_index(case_root)) as conn:  # "this content is E-0003 already"
        conn.execute("INSERT INTO shas(sha, item) VALUES (?, 'E-0003')", (hashlib.sha256(b"new evidence").hexdigest(),))
    before = ledger_path(case_root).read_bytes()
    res = plitool("add", f)
    assert res.code == 5 and "index" in res.err, res.err
    assert ledger_path(case_root).read_bytes() == before
    res = plitool("add", f, "--json")  # the index was dropped and is rebuilt from the ledger
    assert res.code == 0, res.err
    assert json.loads(res.out)["results"][0] == {**json.loads(res.out)["results"][0], "item": "E-0012", "event": "added"}


def _settle() -> None:
    """Let freshly written files age past the index's settling time (its identities are trusted
    only then), so that what follows goes through the identity check, not a re-read."""
    import time

    from plitool.vault.index import SETTLE_NS

    time.sleep(SETTLE_NS / 1e9 + 0.2)


def _rewrite_keeping_times(path: Path, data: bytes) -> None:
    """Write new bytes into the same inode and put its access and modification times back
    (``touch -r``): only the change time, which no user can set, still moves."""
    st = os.stat(path)
    with path.open("r+b") as fh:
        fh.write(data)
        fh.truncate()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


def _forged_checkpoint(path: Path) -> bytes:
    origin, size, root, _end = path.read_text().split("\n")
    other = ("B" if root[0] != "B" else "C") + root[1:]  # a well-formed root of the same length
    return f"{origin}\n{size}\n{other}\n".encode()


def test_many_checkpoints_one_rewritten_in_place_with_its_times_put_back_refuses_the_append(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """Commands no longer read every checkpoint file, only those whose identity (inode, size,
    modification and change times) moved since the index checked them: an old one rewritten in
    place, same size, its modification time put back, must still stop the append."""
    synth_items(case_root, 300, checkpoint_every=1)
    _settle()
    _add(plitool, tmp_path, "a.txt")  # builds the index: every checkpoint read once
    _add(plitool, tmp_path, "b.txt")  # answered from it
    cp = case_root / ".plitool" / "checkpoints" / "0000000150.txt"
    _rewrite_keeping_times(cp, _forged_checkpoint(cp))
    before = ledger_path(case_root).read_bytes()
    f = tmp_path / "c.txt"
    f.write_bytes(b"c")
    res = plitool("add", f)
    assert res.code == 5, res.err
    assert "checkpoint 150" in res.err
    assert ledger_path(case_root).read_bytes() == before
    assert plitool("seal", "--offline").code == 5


def test_readers_skip_the_checkpoint_files_but_the_next_append_still_refuses(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """show, list and log only read: they answer the same whatever a checkpoint file holds (they
    never refused for it), so they no longer look at the checkpoint files at all. Running them
    after a checkpoint was rewritten, and after the ledger grew behind plitool's back, must not
    make the next append accept the rewritten checkpoint."""
    synth_items(case_root, 100, checkpoint_every=1)
    _settle()
    _add(plitool, tmp_path, "a.txt")
    shown = {c: plitool(*c).out for c in (("show", "E-0050", "--json"), ("list", "--json"), ("log", "--json"))}
    cp = case_root / ".plitool" / "checkpoints" / "0000000040.txt"
    _rewrite_keeping_times(cp, _forged_checkpoint(cp))
    for args, out in shown.items():
        res = plitool(*args)
        assert res.code == 0 and res.out == out, args
    synth_items(case_root, 3, checkpoint_every=1)  # well-formed entries, and their checkpoints
    assert plitool("show", "E-0104", "--json").code == 0  # the reader indexes the new entries
    before = ledger_path(case_root).read_bytes()
    f = tmp_path / "c.txt"
    f.write_bytes(b"c")
    res = plitool("add", f)
    assert res.code == 5, res.err
    assert "checkpoint 40" in res.err
    assert ledger_path(case_root).read_bytes() == before


def test_many_checkpoints_one_replaced_by_a_same_size_file_refuses_the_append(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """Replaced by rename (a new inode, the times of the old one copied): caught as well."""
    synth_items(case_root, 200, checkpoint_every=1)
    _settle()
    _add(plitool, tmp_path, "a.txt")
    cp = case_root / ".plitool" / "checkpoints" / "0000000007.txt"
    forged = tmp_path / "forged.txt"
    forged.write_bytes(_forged_checkpoint(cp))
    st = os.stat(cp)
    os.utime(forged, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(forged, cp)
    res = plitool("add", tmp_path / "a.txt")
    assert res.code == 5, res.err
    assert "checkpoint 7" in res.err


def test_checkpoint_just_written_is_read_again_until_it_settles(plitool: Plitool, case_root: Path,
                                                                tmp_path: Path) -> None:
    """A file rewritten within the clock tick of its last write keeps its times; so a checkpoint
    written less than SETTLE_NS ago is read again by each command, not trusted by identity.
    (Checkpoint files are what cases made before the checkpoint log hold; for the log, see
    test_ledger_checkpoint_log.py.)"""
    as_old_case(case_root)
    synth_items(case_root, 20, checkpoint_every=1)
    _add(plitool, tmp_path, "a.txt")  # reads the files just written: not settled yet
    with sqlite3.connect(_index(case_root)) as conn:
        (racy,) = conn.execute("SELECT cp_racy FROM head").fetchone()
    newest = f"{len(lines(case_root)) - 1:010d}.txt"
    assert newest in json.loads(racy)
    cp = case_root / ".plitool" / "checkpoints" / newest
    data = _forged_checkpoint(cp)
    # What a same-tick rewrite leaves behind: other bytes, and the identity the index recorded.
    with sqlite3.connect(_index(case_root)) as conn:
        cp.write_bytes(data)
        st = os.stat(cp)
        conn.execute("UPDATE cpfiles SET ino = ?, bytes = ?, mtime_ns = ?, ctime_ns = ? WHERE name = ?",
                     (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, newest))
        from plitool.vault.index import _cp_digest

        listed = {p.name: (s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for p in cp.parent.glob("*.txt")
                  if (s := p.stat())}
        conn.execute("UPDATE head SET cp_digest = ?", (format(_cp_digest(listed), "x"),))
    f = tmp_path / "b.txt"
    f.write_bytes(b"b")
    res = plitool("add", f)
    assert res.code == 5, res.err
    assert f"checkpoint {len(lines(case_root)) - 1}" in res.err


# -- 10^5 entries --------------------------------------------------------------------------------
#
# Each 10^5-entry case is generated once for the module and every test gets its own full copy
# (copy_case); the layouts are derived from one another, byte for byte what generating them
# separately gave: the old layout (one file per checkpoint) by as_old_case, the case whose newest
# checkpoint is a file beside the log (what synth_items(log=False) leaves) by last_log_line_as_file.


def _large_master(tmp_path_factory: pytest.TempPathFactory, name: str, **kw: bool) -> Path:
    from plitool.vault.case import init_case

    root = tmp_path_factory.mktemp(name) / "case"
    init_case(root, "攻击测试 Attack case", "en")
    synth_items(root, LARGE, log=True, **kw)
    return root


@pytest.fixture(scope="module")
def large_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """init, then 10^5 items and the checkpoint of the new head in the checkpoint log."""
    return _large_master(tmp_path_factory, "large")


@pytest.fixture(scope="module")
def sealed_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """init, then 10^5 items, a seal over them and the checkpoint of the new head in the log."""
    return _large_master(tmp_path_factory, "sealed", seal=True)


def _large_case(master: Path, tmp_path: Path, layout: str) -> tuple[Plitool, Path]:
    """This test's own copy of ``master`` in ``layout``: "log" as generated; "files" as a case made
    before the checkpoint log; "mixed" with the newest checkpoint as a file beside the log."""
    root = copy_case(master, tmp_path / "case")
    if layout == "files":
        as_old_case(root)
    elif layout == "mixed":
        last_log_line_as_file(root)
    return Plitool(root), root


@pytest.mark.slow
def test_large_ledger_edit_of_old_line_refused_by_add_and_caught_by_verify(large_master: Path, tmp_path: Path) -> None:
    plitool, case_root = _large_case(large_master, tmp_path, "mixed")
    _add(plitool, tmp_path, "a.txt", timeout=SLOW_TIMEOUT)  # builds the index (one full check)
    _add(plitool, tmp_path, "b.txt", timeout=SLOW_TIMEOUT)  # answered from it
    assert json.loads(plitool("show", f"E-{LARGE + 2:04d}", "--json").out)["name"] == "b.txt"

    edited = _edit_in_place(case_root, 5000, b"file4999.dat", b"fi1e4999.dat")
    f = tmp_path / "c.txt"
    f.write_bytes(b"c")
    res = plitool("add", f, timeout=SLOW_TIMEOUT)
    assert res.code == 5, res.err
    assert "#5000" in res.err
    assert ledger_path(case_root).read_bytes() == edited
    ver = plitool("verify", "--json", timeout=SLOW_TIMEOUT)
    assert ver.code == 1
    assert any("#5000" in p["message"] and "altered" in p["message"] for p in json.loads(ver.out)["problems"])


@pytest.mark.slow
def test_large_ledger_edit_hidden_in_the_index_is_still_caught_by_verify(large_master: Path, tmp_path: Path) -> None:
    """The documented limit: an intruder who rewrites the index's recorded file times hides an
    edit from ``add`` (as re-chaining does today); ``verify`` never reads the index."""
    plitool, case_root = _large_case(large_master, tmp_path, "mixed")
    _add(plitool, tmp_path, "a.txt", timeout=SLOW_TIMEOUT)
    _edit_in_place(case_root, 77, b"file76.dat", b"fi1e76.dat")
    _forge_index_times(case_root)
    plitool("add", tmp_path / "a.txt", timeout=SLOW_TIMEOUT)
    ver = plitool("verify", "--json", timeout=SLOW_TIMEOUT)
    assert ver.code == 1
    assert any("#77" in p["message"] and "altered" in p["message"] for p in json.loads(ver.out)["problems"])


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["files", "log"])
def test_large_ledger_rewritten_checkpoint_refuses_the_append(large_master: Path, tmp_path: Path, layout: str) -> None:
    plitool, case_root = _large_case(large_master, tmp_path, layout)
    _add(plitool, tmp_path, "a.txt", timeout=SLOW_TIMEOUT)
    if layout == "files":
        cp = case_root / ".plitool" / "checkpoints" / "0000000001.txt"
        origin, size, _root, _end = cp.read_text().split("\n")
        cp.write_text(f"{origin}\n{size}\n{'A' * 43}=\n")  # a well-formed checkpoint with another root
    else:
        rows = log_path(case_root).read_bytes().split(b"\n")
        assert rows[1].startswith(b"0000000001 ")
        rows[1] = b"0000000001 " + b"A" * 43 + b"="
        log_path(case_root).write_bytes(b"\n".join(rows))
    before = ledger_path(case_root).read_bytes()
    f = tmp_path / "b.txt"
    f.write_bytes(b"b")
    res = plitool("add", f, timeout=SLOW_TIMEOUT)
    assert res.code == 5, res.err
    assert "checkpoint 1" in res.err
    assert ledger_path(case_root).read_bytes() == before
    res = plitool("seal", "--offline", timeout=SLOW_TIMEOUT)
    assert res.code == 5, res.err


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["files", "log"])
def test_large_ledger_rechained_under_a_seal_refuses_the_append(sealed_master: Path, tmp_path: Path,
                                                                layout: str) -> None:
    """Edit an old entry, re-chain every line after it and rewrite every checkpoint: the chain
    and the checkpoints hold, the root the seal recorded does not."""
    from plitool.vault import merkle

    plitool, case_root = _large_case(sealed_master, tmp_path, layout)
    _add(plitool, tmp_path, "a.txt", timeout=SLOW_TIMEOUT)
    objs = entries(case_root)
    objs[9]["data"]["original_name"] = "innocent.dat"
    forged = rechain(objs)
    write_lines(case_root, forged)
    leaves = [merkle.leaf_hash(raw) for raw in forged]
    if layout == "files":
        for old in (case_root / ".plitool" / "checkpoints").iterdir():
            old.unlink()
        write_checkpoint(case_root, leaves)
    else:  # every line the log held, with the forged ledger's roots
        sizes = [int(row[:10]) for row in log_path(case_root).read_bytes().split(b"\n")[1:-1]]
        rewrite_log(case_root, merkle.roots_at(leaves, sizes))
    f = tmp_path / "b.txt"
    f.write_bytes(b"b")
    res = plitool("add", f, timeout=SLOW_TIMEOUT)
    assert res.code == 5, res.err
    assert "seal entry #" in res.err
    ver = plitool("verify", "--json", timeout=SLOW_TIMEOUT)
    assert ver.code == 1
    assert any(p["kind"] == "seal" for p in json.loads(ver.out)["problems"])
