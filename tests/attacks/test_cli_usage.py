"""The command line's contract, on the real process: one-line usage errors, --case and --lang
after the sub-command, and a closed pipe (issue 8, items 8 and 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Plitool

ENV = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200"}


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(("plitool: error: ", "plitool：错误：")), err
    assert "Traceback" not in err and "Usage:" not in err and "Try '" not in err
    return lines[0]


# -- item 13: usage errors are one line, exit 2 ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["add"], "Missing argument"),  # missing argument
        (["add", "--no-such-option", "x"], "--no-such-option"),  # bad option
        (["frobnicate"], "frobnicate"),  # unknown command
        (["manifest", "--format", "md4sum"], "md4sum"),  # bad choice
        (["--lang", "fr", "list"], "fr"),  # bad choice of the group
        (["add", "x", "--collected-at", "yesterday"], "yesterday"),  # a value an option's check refuses
        (["list", "--case"], "--case"),  # an option without its value
    ],
)
def test_usage_errors_are_one_line_exit_2(plitool: Plitool, args: list[str], words: str) -> None:
    run = plitool(*args)
    assert run.code == 2, run.err
    line = _one_error_line(run.err)
    assert words in line
    assert "--help" in line  # says where to look


def test_case_after_the_subcommand(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    f = tmp_path / "note.txt"
    f.write_text("evidence")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    added = plitool("add", "--case", str(case_root), str(f), case=False, cwd=elsewhere)
    assert added.code == 0, added.err
    checked = plitool("verify", "--case", str(case_root), case=False, cwd=elsewhere)
    assert checked.code == 0, checked.err
    listed = plitool("list", "--json", "--case", str(case_root), case=False, cwd=elsewhere)
    assert listed.code == 0 and '"E-0001"' in listed.out
    # after the sub-command wins over before it and over the environment
    wrong = tmp_path / "not-a-case"
    wrong.mkdir()
    both = plitool("--case", str(wrong), "list", "--json", "--case", str(case_root), case=False, cwd=elsewhere,
                   env={"PLITOOL_CASE": str(wrong)})
    assert both.code == 0, both.err
    # and a sub-group's command takes it too
    assert plitool("trust", "list", "--case", str(case_root), case=False, cwd=elsewhere).code == 0


@pytest.mark.parametrize("command", ["add", "list", "show", "log", "export", "verify", "manifest", "repair",
                                     "seal", "prove", "scan"])
def test_every_case_command_documents_case_and_lang(plitool: Plitool, command: str) -> None:
    helped = plitool(command, "--help", case=False)
    assert helped.code == 0
    assert "--case DIR" in helped.out and "--lang" in helped.out


def test_lang_after_the_subcommand_is_accepted(plitool: Plitool) -> None:
    run = plitool("show", "E-9999", "--lang", "zh", env={"PLITOOL_LANG": ""})
    assert run.code == 2  # the unknown item, not the option
    line = _one_error_line(run.err)
    assert "E-9999" in line and line.startswith("plitool：错误：")  # --lang zh took effect


# -- item 8: a closed pipe -------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_items(tmp_path_factory: pytest.TempPathFactory) -> Plitool:
    """One case with 1,200 items, shared: the tests below only read it."""
    base = tmp_path_factory.mktemp("pipe")
    root, folder = base / "case", base / "many"
    folder.mkdir()
    for i in range(1200):
        (folder / f"受害人截图-{i:04}.txt").write_text(f"item {i}\n")
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(root), "--title", "pipe", "--lang", "en"],
                   check=True, capture_output=True, timeout=TIMEOUT, env=ENV)
    plitool = Plitool(root)
    done = plitool("add", "-r", str(folder), "--source", "victim", "--collected-by", "张检察官", timeout=120)
    assert done.code == 0, done.err
    return plitool


def _argv(plitool: Plitool, *args: str) -> list[str]:
    return [sys.executable, "-m", "plitool.cli", "--case", str(plitool.case_root), *args]


@pytest.mark.parametrize("args", [["log"], ["list"], ["log", "--json"]])
def test_reader_gone_after_one_line(many_items: Plitool, args: list[str]) -> None:
    """``plitool log | head -1``: far more output than a pipe holds, the reader leaves after a line."""
    proc = subprocess.Popen(_argv(many_items, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first
    proc.stdout.close()
    try:
        errors = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors
    assert errors == ""
    # 141 when a write failed; 0 when the last write was cut short without an error (CPython's
    # buffered writer returns a partial count for a pipe whose reader left mid-write): never 1.
    assert code in (0, 141)


@pytest.mark.parametrize("args", [["show", "E-0001"], ["list"], ["log", "--item", "E-0001"], ["show", "E-0001", "--json"]])
def test_reader_gone_before_anything_was_written(many_items: Plitool, args: list[str]) -> None:
    """The reader closed the pipe first: every write fails; plitool says nothing and exits 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(_argv(many_items, *args), stdout=write_end, stderr=subprocess.PIPE, env=ENV,
                              timeout=TIMEOUT)
    finally:
        os.close(write_end)
    errors = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors
    assert errors == ""
    assert proc.returncode == 141


def test_reader_gone_while_verify_fails(many_items: Plitool, tmp_path: Path) -> None:
    """A command that exits 1 on its own (a failed verify) into a closed pipe: still no traceback."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(many_items.case_root, broken)
    victim = next(p for p in (broken / ".plitool" / "objects").rglob("*") if p.is_file())
    victim.chmod(0o644)
    victim.write_bytes(b"tampered")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "plitool.cli", "--case", str(broken), "verify"],
                              stdout=write_end, stderr=subprocess.PIPE, env=ENV, timeout=TIMEOUT)
    finally:
        os.close(write_end)
    errors = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors
    assert proc.returncode == 141
