"""The CLI's top level: a Ctrl-C anywhere is one line and exit 130 (issue 8, item 2)."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from plitool.cli import main as cli_main
from plitool.cli.main import EXIT_INTERRUPTED, cli
from plitool.errors import StorageError


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _assert_interrupted(result: Any) -> None:
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], result.stderr
    assert "Aborted" not in result.output


def test_ctrl_c_while_click_reads_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*a: Any, **k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main.LazyGroup, "make_context", interrupted)
    _assert_interrupted(_invoke("list"))


@pytest.mark.parametrize(
    "secondary",
    [OSError(28, "No space left on device"), StorageError("cannot remove a staging file"), click.Abort()],
)
def test_ctrl_c_wins_over_an_error_raised_in_cleanup(run: Any, monkeypatch: pytest.MonkeyPatch,
                                                     secondary: BaseException) -> None:
    """A Ctrl-C inside a with-block whose cleanup (``finally``) fails: the interruption wins."""

    def verify_case(*a: Any, **k: Any) -> Any:
        try:
            raise KeyboardInterrupt
        finally:
            raise secondary

    monkeypatch.setattr("plitool.vault.verify.verify_case", verify_case)
    result = CliRunner().invoke(cli, ["--case", str(run.case_root), "verify"], catch_exceptions=False)
    _assert_interrupted(result)


def test_a_real_error_without_interruption_keeps_its_code(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def verify_case(*a: Any, **k: Any) -> Any:
        raise StorageError("the disk is gone")

    monkeypatch.setattr("plitool.vault.verify.verify_case", verify_case)
    result = CliRunner().invoke(cli, ["--case", str(run.case_root), "verify"], catch_exceptions=False)
    assert result.exit_code == 3
    assert result.stderr == "plitool: error: the disk is gone\n"


@pytest.fixture
def english_case(tmp_path: Any) -> Any:
    from plitool.vault.case import init_case

    return init_case(tmp_path / "en-case", "An English case", "en")


@pytest.mark.parametrize("where", ["before", "after"])
def test_lang_pins_the_language_over_the_case(english_case: Any, monkeypatch: pytest.MonkeyPatch,
                                              where: str) -> None:
    from plitool import i18n

    monkeypatch.delenv("PLITOOL_LANG", raising=False)
    i18n.reset()
    try:
        args = ["--case", str(english_case.root), "list", "--json"]
        args = ["--lang", "zh", *args] if where == "before" else [*args, "--lang", "zh"]
        assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
        assert i18n.language() == "zh"  # the case says en: --lang wins
        i18n.reset()
        assert CliRunner().invoke(cli, ["--case", str(english_case.root), "list", "--json"]).exit_code == 0
        assert i18n.language() == "en"
        i18n.reset()
        monkeypatch.setenv("PLITOOL_LANG", "zh")
        assert CliRunner().invoke(cli, ["--case", str(english_case.root), "list", "--json"]).exit_code == 0
        assert i18n.language() == "zh"
    finally:
        i18n.reset()


def test_a_zh_case_speaks_its_language_unless_pinned(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool import i18n
    from plitool.vault.case import init_case

    zh = init_case(tmp_path / "zh-case", "某案", "zh")
    monkeypatch.delenv("PLITOOL_LANG", raising=False)
    i18n.reset()
    try:
        assert CliRunner().invoke(cli, ["--case", str(zh.root), "list", "--json"]).exit_code == 0
        assert i18n.language() == "zh"  # the one loader applied the case's lang
        i18n.reset()
        assert CliRunner().invoke(cli, ["list", "--json", "--case", str(zh.root), "--lang", "en"]).exit_code == 0
        assert i18n.language() == "en"
    finally:
        i18n.reset()


def test_progress_is_passed_on_at_most_once_per_step_and_nothing_is_lost() -> None:
    """The progress callback an intake calls per file moves the bar at most once per step; every
    byte counted reaches it (the last ones through flush)."""
    from plitool.cli.common import throttled

    now = [100.0]
    calls: list[int] = []
    add, flush = throttled(calls.append, step=0.05, clock=lambda: now[0])
    add(10)  # the first count is shown at once
    for _ in range(1000):  # 1,000 small files within one step: no call
        add(4096)
    assert calls == [10]
    now[0] += 0.06
    add(1)
    assert calls == [10, 1000 * 4096 + 1]
    add(7)
    add(8)
    assert len(calls) == 2
    flush()
    assert calls == [10, 1000 * 4096 + 1, 15]
    flush()  # nothing left: no empty call
    assert sum(calls) == 10 + 1000 * 4096 + 1 + 15 and len(calls) == 3
