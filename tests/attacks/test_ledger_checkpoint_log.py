"""Attacks on the checkpoint log (``.plitool/checkpoints/checkpoints.log``): one append-only file
instead of one file per checkpoint, so that ``add`` and ``seal`` do not list and ``lstat`` a
folder that grows with the ledger. The ledger index trusts the log by its identity and a digest
of the bytes it checked; these tests make sure that trust never lets an append through that a
full check would refuse, and that ``verify`` still reports what it reported for checkpoint files.

Cases with many checkpoints are generated directly (``forge.synth_items(..., log=True)``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from .conftest import Plitool
from .forge import as_old_case, ledger_path, lines, log_path, synth_items

LARGE = 100_000
SLOW_TIMEOUT = 600


def _settle() -> None:
    """Let freshly written files age past the index's settling time, so that what follows goes
    through the identity check, not a re-read."""
    import time

    from plitool.vault.index import SETTLE_NS

    time.sleep(SETTLE_NS / 1e9 + 0.2)


def _add(plitool: Plitool, tmp_path: Path, name: str, **kw: float) -> None:
    f = tmp_path / name
    f.write_bytes(name.encode() * 100)
    res = plitool("add", f, "--json", **kw)  # type: ignore[arg-type]
    assert res.code == 0, res.err


def _log_lines(case_root: Path) -> list[bytes]:
    return log_path(case_root).read_bytes().split(b"\n")


def _forged_log(case_root: Path, size: int) -> bytes:
    """The log with the root on checkpoint ``size``'s line changed (same length, well formed)."""
    rows = _log_lines(case_root)
    (i,) = [n for n, row in enumerate(rows) if row.startswith(f"{size:010d} ".encode())]
    root = rows[i][11:]
    rows[i] = rows[i][:11] + (b"B" if root[:1] != b"B" else b"C") + root[1:]
    return b"\n".join(rows)


def _rewrite_keeping_times(path: Path, data: bytes) -> None:
    """Same inode, same size, access and modification times put back (``touch -r``): only the
    change time, which no user can set, still moves."""
    st = os.stat(path)
    with path.open("r+b") as fh:
        fh.write(data)
        fh.truncate()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)


def _refused(plitool: Plitool, tmp_path: Path, *, expect: str | None = None) -> None:
    f = tmp_path / "refused.txt"
    f.write_bytes(b"refused")
    res = plitool("add", f)
    assert res.code == 5, (res.code, res.err)
    if expect is not None:
        assert expect in res.err, res.err


def _problems(plitool: Plitool) -> tuple[int, list[dict[str, str]]]:
    res = plitool("verify", "--json")
    return res.code, json.loads(res.out)["problems"]


# -- the layout ----------------------------------------------------------------------------------


def test_appends_write_log_lines_not_files(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt")
    _add(plitool, tmp_path, "b.txt")
    assert sorted(os.listdir(log_path(case_root).parent)) == ["checkpoints.log"]
    rows = _log_lines(case_root)
    assert rows[0].startswith(b"plitool checkpoint log v1 plitool.case/") and rows[-1] == b""
    assert [row[:10] for row in rows[1:-1]] == [b"0000000001", b"0000000002", b"0000000003"]  # init, add, add
    res = plitool("verify", "--json")
    assert res.code == 0 and json.loads(res.out)["checkpoints"] == 3


def test_old_case_with_checkpoint_files_keeps_them_and_continues_in_the_log(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    as_old_case(case_root)
    synth_items(case_root, 30, checkpoint_every=1)  # a case made before the log: one file each
    _add(plitool, tmp_path, "a.txt")
    folder = log_path(case_root).parent
    assert len([p for p in folder.iterdir() if p.suffix == ".txt"]) == 31
    assert [row[:10] for row in _log_lines(case_root)[1:-1]] == [b"0000000032"]
    res = plitool("verify", "--json")  # the synthetic items' originals do not exist: only those fail
    doc = json.loads(res.out)
    assert doc["checkpoints"] == 32 and [p for p in doc["problems"] if p["kind"] != "reference"] == [], res.out
    # an old file rewritten is still caught, by the append and by verify
    old = folder / "0000000010.txt"
    origin, size, root, _end = old.read_text().split("\n")
    _rewrite_keeping_times(old, f"{origin}\n{size}\n{'B' if root[0] != 'B' else 'C'}{root[1:]}\n".encode())
    _refused(plitool, tmp_path, expect="checkpoint 10")
    code, problems = _problems(plitool)
    assert code == 1 and any("checkpoint 10 does not match" in p["message"] for p in problems), problems
    assert any(p["kind"] == "checkpoint" for p in problems)


# -- rewritten, cut, replaced --------------------------------------------------------------------


def test_log_line_rewritten_in_place_with_its_times_put_back_refuses_the_append(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 300, checkpoint_every=1, log=True)
    _settle()
    _add(plitool, tmp_path, "a.txt")  # builds the index: every line checked once
    _settle()
    _add(plitool, tmp_path, "b.txt")  # answered from it
    _settle()
    _rewrite_keeping_times(log_path(case_root), _forged_log(case_root, 150))
    before = ledger_path(case_root).read_bytes()
    _refused(plitool, tmp_path, expect="checkpoint 150")
    assert ledger_path(case_root).read_bytes() == before
    assert plitool("seal", "--offline").code == 5
    code, problems = _problems(plitool)
    assert code == 1
    assert any(p["kind"] == "checkpoint" and "checkpoint 150 does not match the ledger: entry #150 was altered"
               in p["message"] for p in problems), problems


def test_readers_skip_the_log_but_the_next_append_still_refuses(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, 100, checkpoint_every=1, log=True)
    _settle()
    _add(plitool, tmp_path, "a.txt")
    _settle()
    shown = {c: plitool(*c).out for c in (("show", "E-0050", "--json"), ("list", "--json"), ("log", "--json"))}
    _rewrite_keeping_times(log_path(case_root), _forged_log(case_root, 40))
    for args, out in shown.items():
        res = plitool(*args)
        assert res.code == 0 and res.out == out, args
    synth_items(case_root, 3, checkpoint_every=1, log=True)  # well-formed entries, and their lines
    assert plitool("show", "E-0104", "--json").code == 0
    before = ledger_path(case_root).read_bytes()
    _refused(plitool, tmp_path, expect="checkpoint 40")
    assert ledger_path(case_root).read_bytes() == before


@pytest.mark.parametrize("which", ["last", "middle"])
def test_log_cut_short_refuses_the_append(plitool: Plitool, case_root: Path, tmp_path: Path, which: str) -> None:
    """A line removed (the last one: the log's head moves back; one in the middle: it cannot be
    told from the lines left, which all still match) refuses the append: the log only grows."""
    synth_items(case_root, 50, checkpoint_every=1, log=True)
    _settle()
    _add(plitool, tmp_path, "a.txt")
    _settle()
    rows = _log_lines(case_root)
    drop = len(rows) - 2 if which == "last" else 20
    log_path(case_root).write_bytes(b"\n".join(rows[:drop] + rows[drop + 1:]))
    before = ledger_path(case_root).read_bytes()
    _refused(plitool, tmp_path, expect="checkpoints.log no longer holds")
    assert ledger_path(case_root).read_bytes() == before
    assert plitool("seal", "--offline").code == 5


def test_log_deleted_refuses_the_append(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt")
    log_path(case_root).unlink()
    _refused(plitool, tmp_path)
    code, problems = _problems(plitool)
    assert code == 1 and any(p["kind"] == "checkpoint" and "deleted" in p["message"] for p in problems), problems


def test_log_replaced_by_a_same_size_file_refuses_the_append(plitool: Plitool, case_root: Path,
                                                             tmp_path: Path) -> None:
    """Replaced by rename (a new inode, the times of the old one copied): caught as well."""
    synth_items(case_root, 200, checkpoint_every=1, log=True)
    _settle()
    _add(plitool, tmp_path, "a.txt")
    _settle()
    forged = tmp_path / "forged.log"
    forged.write_bytes(_forged_log(case_root, 7))
    st = os.stat(log_path(case_root))
    assert os.stat(forged).st_size == st.st_size
    os.utime(forged, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(forged, log_path(case_root))
    _refused(plitool, tmp_path, expect="checkpoint 7")


def test_log_copied_to_a_new_inode_unchanged_is_accepted(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """A case copied or restored (cp -a): every inode differs, nothing else; appends go on."""
    synth_items(case_root, 20, checkpoint_every=1, log=True)
    _add(plitool, tmp_path, "a.txt")
    copy = tmp_path / "copy.log"
    copy.write_bytes(log_path(case_root).read_bytes())
    os.replace(copy, log_path(case_root))
    _add(plitool, tmp_path, "b.txt")
    code, problems = _problems(plitool)  # the synthetic items' originals do not exist: only those
    assert [p for p in problems if p["kind"] != "reference"] == [], problems


def test_log_just_written_is_hashed_again_until_it_settles(plitool: Plitool, case_root: Path,
                                                           tmp_path: Path) -> None:
    """A file rewritten within the clock tick of its last write keeps its times; so a log written
    less than SETTLE_NS ago has its checked bytes hashed again by each command."""
    synth_items(case_root, 20, checkpoint_every=1, log=True)
    _add(plitool, tmp_path, "a.txt")
    with sqlite3.connect(case_root / ".plitool" / "index.sqlite") as conn:
        (state,) = conn.execute("SELECT cp_log FROM head").fetchone()
    assert json.loads(state)["racy"] is True
    # What a same-tick rewrite leaves behind: other bytes, and the identity the index recorded.
    forged = _forged_log(case_root, 10)
    log_path(case_root).write_bytes(forged)
    st = os.stat(log_path(case_root))
    with sqlite3.connect(case_root / ".plitool" / "index.sqlite") as conn:
        doc = json.loads(state)
        doc["ident"] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        conn.execute("UPDATE head SET cp_log = ?", (json.dumps(doc),))
    _refused(plitool, tmp_path, expect="checkpoint 10")


# -- a crash mid-write ---------------------------------------------------------------------------


def test_torn_last_line_is_survived_by_the_next_add_and_verify_stays_green(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt")
    _settle()
    with log_path(case_root).open("ab") as fh:  # what a crash mid-write leaves: part of a line
        fh.write(b"0000000003 q8Zx")
    res = plitool("verify", "--json")
    assert res.code == 0, res.out
    _add(plitool, tmp_path, "b.txt")
    rows = _log_lines(case_root)
    assert rows[-3:] == [b"0000000003 q8Zx", rows[-2], b""] and rows[-2].startswith(b"0000000003 ")
    res = plitool("verify", "--json")
    assert res.code == 0 and json.loads(res.out)["problems"] == [], res.out
    assert json.loads(res.out)["checkpoints"] == 3
    _add(plitool, tmp_path, "c.txt")
    assert plitool("verify").code == 0


def test_unreadable_log_line_is_reported_with_its_line_number(plitool: Plitool, case_root: Path,
                                                              tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt")
    _add(plitool, tmp_path, "b.txt")
    rows = _log_lines(case_root)
    rows[1] = b"0000000002 not base64 at all!"
    log_path(case_root).write_bytes(b"\n".join(rows))
    code, problems = _problems(plitool)
    assert code == 1 and any("line 2 of the checkpoint log" in p["message"] for p in problems), problems
    _refused(plitool, tmp_path, expect="line 2 of the checkpoint log")


def test_log_lines_out_of_order_and_of_another_case_are_reported(plitool: Plitool, case_root: Path,
                                                                 tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt")
    _add(plitool, tmp_path, "b.txt")
    rows = _log_lines(case_root)
    log_path(case_root).write_bytes(b"\n".join([rows[0], rows[2], rows[1], b""]))
    code, problems = _problems(plitool)
    assert code == 1 and any("not more than the line before it" in p["message"] for p in problems), problems
    log_path(case_root).write_bytes(b"\n".join([b"plitool checkpoint log v1 plitool.case/other", *rows[1:]]))
    code, problems = _problems(plitool)
    assert code == 1 and any("belongs to another log" in p["message"] for p in problems), problems
    _refused(plitool, tmp_path)


# -- special files -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_special_file_as_log_is_refused_without_hanging(plitool: Plitool, case_root: Path, tmp_path: Path,
                                                        kind: str) -> None:
    _add(plitool, tmp_path, "a.txt")
    real = log_path(case_root)
    kept = tmp_path / "kept.log"
    os.replace(real, kept)
    if kind == "fifo":
        os.mkfifo(real)
    else:
        real.symlink_to(kept)
    before = ledger_path(case_root).read_bytes()
    _refused(plitool, tmp_path)  # an answer, not a hang (every run has a timeout)
    assert ledger_path(case_root).read_bytes() == before
    code, problems = _problems(plitool)
    assert code == 1 and any(p["kind"] == "checkpoint" and "checkpoints.log cannot be read" in p["message"]
                             for p in problems), problems
    assert plitool("seal", "--offline").code == 5


# -- 10^5 checkpoints ----------------------------------------------------------------------------


@pytest.mark.slow
def test_large_log_line_rewritten_refuses_the_append_and_verify_reports_it(
        plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    synth_items(case_root, LARGE, checkpoint_every=1, log=True)
    _settle()
    _add(plitool, tmp_path, "a.txt", timeout=SLOW_TIMEOUT)
    _settle()
    _add(plitool, tmp_path, "b.txt", timeout=SLOW_TIMEOUT)
    assert len(lines(case_root)) == LARGE + 3
    _settle()
    _rewrite_keeping_times(log_path(case_root), _forged_log(case_root, 77_777))
    f = tmp_path / "c.txt"
    f.write_bytes(b"c")
    res = plitool("add", f, timeout=SLOW_TIMEOUT)
    assert res.code == 5 and "checkpoint 77777" in res.err, res.err
    res = plitool("verify", "--json", timeout=SLOW_TIMEOUT)
    assert res.code == 1
    assert any("checkpoint 77777 does not match" in p["message"] for p in json.loads(res.out)["problems"])
