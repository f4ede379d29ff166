"""case.toml deleted or broken (issue 8, items 4 and 5): every command says so the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import Plitool

#: Every sub-command that opens a case, with arguments that would otherwise succeed (or fail later).
CASE_COMMANDS = [
    ["list"], ["show", "E-0001"], ["log"], ["scan", "E-0001"], ["manifest"], ["verify"], ["repair"],
    ["export", "E-0001", "--to", "out", "--reason", "r"], ["seal", "--offline"], ["prove", "E-0001"],
    ["trust", "list"], ["add", "more.txt"],
]


@pytest.fixture
def with_item(plitool: Plitool, case_root: Path) -> Plitool:
    (case_root / "more.txt").write_text("more evidence\n")
    src = case_root.parent / "leak.txt"
    src.write_text("姓名：张三 电话 13800138000\n")
    assert plitool("add", str(src)).code == 0
    return plitool


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("plitool: error: "), err
    return lines[0]


# -- item 5: a broken case.toml -------------------------------------------------------------


@pytest.mark.parametrize("args", CASE_COMMANDS, ids=lambda a: a[0] if a[0] != "trust" else "trust-list")
def test_broken_case_toml_is_refused_with_its_line_by_every_command(with_item: Plitool, case_root: Path,
                                                                      args: list[str]) -> None:
    toml = case_root / "case.toml"
    text = toml.read_text("utf-8")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("court ="))
    toml.write_text(text.replace('court = ""', "court = 某市中级人民法院"), "utf-8")  # unquoted
    run = with_item(*args)
    assert run.code == 2, (run.code, run.out, run.err)
    message = _one_line(run.err)
    assert "case.toml" in message and f"line {line}" in message


@pytest.mark.parametrize(("key", "value"), [("lang", '"fr"'), ("timezone", '"Asia/Shangai"'), ("title", '""')])
def test_bad_value_names_the_key_and_its_line(with_item: Plitool, case_root: Path, key: str, value: str) -> None:
    toml = case_root / "case.toml"
    lines = [l for l in toml.read_text("utf-8").splitlines() if not l.startswith(f"{key} =")]
    at = lines.index("[case]") + 2
    lines.insert(at - 1, f"{key} = {value}")
    toml.write_text("\n".join(lines) + "\n", "utf-8")
    run = with_item("list")
    assert run.code == 2
    message = _one_line(run.err)
    assert f"line {at}" in message and f"[case] {key}" in message


# -- item 4: a deleted case.toml ------------------------------------------------------------


@pytest.mark.parametrize("args", CASE_COMMANDS, ids=lambda a: a[0] if a[0] != "trust" else "trust-list")
def test_deleted_case_toml_is_named_with_the_way_back(with_item: Plitool, case_root: Path, args: list[str]) -> None:
    (case_root / "case.toml").unlink()
    for run in (with_item(*args), with_item(*args, case=False)):  # --case DIR, and found from the folder
        assert run.code == 2, run.err
        message = _one_line(run.err)
        assert "case.toml is missing" in message and "plitool init --restore" in message


def test_init_restore_rewrites_case_toml_from_the_ledger_and_logs_it(with_item: Plitool, case_root: Path) -> None:
    original = (case_root / "case.toml").read_text("utf-8")
    (case_root / "case.toml").unlink()
    refused = with_item("init", str(case_root), "--title", "again", case=False)
    assert refused.code == 2 and "init --restore" in _one_line(refused.err)

    restored = with_item("init", "--restore", "--json", case=False)  # in the case folder
    assert restored.code == 0, restored.err
    facts = json.loads(restored.out)["restored"]
    assert facts["title"] == "攻击测试 Attack case" and facts["lang"] == "en"
    assert facts["digests"] == ["sha256", "blake3"]
    text = (case_root / "case.toml").read_text("utf-8")
    assert 'title = "攻击测试 Attack case"' in text and 'lang = "en"' in text
    assert re.search(r'^created = "(.*)"$', text, re.M).group(1) == re.search(r'^created = "(.*)"$', original, re.M).group(1)  # type: ignore[union-attr]

    check = with_item("verify")
    assert check.code == 0, check.out + check.err
    log = json.loads(with_item("log", "--json").out)
    assert log[-1]["event"] == "note" and "restored" in log[-1]["data"]["text"]
    assert log[-1]["data"]["restored"]["title"] == "攻击测试 Attack case"
    assert with_item("list", "--json").out.count('"E-0001"') == 1

    again = with_item("init", "--restore", case=False)
    assert again.code == 2 and "nothing to restore" in _one_line(again.err)
    assert with_item("init", "--restore", "--title", "x", case=False).code == 2


def test_init_restore_without_a_case_is_refused(tmp_path: Path, plitool: Plitool) -> None:
    run = plitool("init", str(tmp_path / "nothing"), "--restore", case=False)
    assert run.code == 2
    assert "nothing to restore" in _one_line(run.err)
    assert not (tmp_path / "nothing" / "case.toml").exists()
