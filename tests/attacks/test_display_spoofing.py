"""Display spoofing: a file name must never write on the terminal what plitool did not say.

A name holding a newline, a carriage return, an ESC sequence, a C1 control or a bidi override
(U+202E) could print a fake ledger line or a fake verdict ("\\rOK: 0 problems") in front of the
real one, and rich would read ``[bold]`` in a name as markup. Every command that shows a name on
the terminal must show such characters as visible escapes (``\\n``, ``\\x1b``, ``\\u202e``) and
markup literally, while the ledger and ``--json`` keep the exact name.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .conftest import Plitool

FAKE_LINE = "E-0099  added  fake.txt"
FAKE_VERDICT = "OK: 0 problems"

#: name -> the bytes written into the file (each different, so each is its own item)
NAMES = {
    f"a\n{FAKE_LINE}": b"a",
    f"b\r{FAKE_VERDICT}": b"b",
    "c\x1b[2J\x1b[31mred.txt": b"c",
    "d\u202etxt.exe": b"d",
    "[bold]e": b"e",
    "[red]f": b"f",
    "g\u009b31m\x7f\u2066h\u200f.txt": b"g",
}

#: C0 controls except the line feed that ends each line, DEL, C1 controls, bidi controls.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _check_output(what: str, text: str) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, f"{what}: raw control/bidi character {bad.group()!r} reached the terminal:\n{text!r}"
    for line in text.split("\n"):
        stripped = line.strip(" │┃|")
        assert not stripped.startswith(FAKE_LINE), f"{what}: a file name printed a fake ledger line:\n{text}"
        assert not stripped.startswith(FAKE_VERDICT), f"{what}: a file name printed a fake verdict:\n{text}"


def _make_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    paths = {}
    for name, content in NAMES.items():
        (folder / name).write_bytes(content)
        paths[name] = folder / name
    return paths


def test_hostile_names_are_escaped_everywhere_and_kept_exactly_in_json(plitool: Plitool, tmp_path: Path) -> None:
    paths = _make_files(tmp_path / "in")
    added = plitool("add", *paths.values(), "--tag", "harm")
    assert added.code == 0, added.err
    _check_output("add", added.out + added.err)

    listed = plitool("list")
    assert listed.code == 0, listed.err
    _check_output("list", listed.out + listed.err)
    assert "[bold]e" in listed.out and "[red]f" in listed.out, "markup in a name was interpreted:\n" + listed.out
    assert "\\u202e" in listed.out and "\\x1b" in listed.out, listed.out

    by_name = {it["name"]: it["id"] for it in json.loads(plitool("list", "--json").out)}
    assert set(by_name) == set(NAMES), "--json must keep the exact names"

    for name, item in by_name.items():
        shown = plitool("show", item)
        assert shown.code == 0, shown.err
        _check_output(f"show {item}", shown.out + shown.err)
        assert json.loads(plitool("show", item, "--json").out)["name"] == name

    logged = plitool("log")
    _check_output("log", logged.out + logged.err)
    assert len([ln for ln in logged.out.splitlines() if ln.strip()]) == 1 + len(NAMES), "one line per entry:\n" + logged.out
    names_in_log = {e["data"].get("original_name") for e in json.loads(plitool("log", "--json").out)}
    assert set(NAMES) <= names_in_log

    exported = plitool("export", *by_name.values(), "--to", tmp_path / "out", "--reason", "spoof test")
    assert exported.code == 0, exported.err
    _check_output("export", exported.out + exported.err)

    verified = plitool("verify")
    assert verified.code == 0, verified.err
    _check_output("verify", verified.out + verified.err)


def test_verify_problems_naming_a_hostile_path_are_escaped(plitool: Plitool, tmp_path: Path) -> None:
    """A --no-copy item whose original vanished: verify names the path; it must not print a verdict."""
    paths = _make_files(tmp_path / "in")
    spoof = paths[f"b\r{FAKE_VERDICT}"]
    assert plitool("add", "--no-copy", spoof).code == 0
    shutil.rmtree(tmp_path / "in")
    verified = plitool("verify")
    assert verified.code == 1
    _check_output("verify", verified.out + verified.err)
    assert "\\r" + FAKE_VERDICT in verified.out + verified.err


def test_error_messages_naming_a_hostile_path_are_escaped(plitool: Plitool, tmp_path: Path) -> None:
    """A plitool error quoting a path (here: a folder without -r) is one escaped line."""
    folder = tmp_path / f"dir\n{FAKE_LINE}\r{FAKE_VERDICT}\x1b[2J"
    folder.mkdir()
    result = plitool("add", folder)
    assert result.code == 2
    _check_output("add error", result.out + result.err)
    assert len(result.err.strip().splitlines()) == 1, result.err
