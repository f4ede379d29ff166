"""Attacks through flows.yaml, a file the user (or someone who handed it over) wrote."""

from __future__ import annotations

from pathlib import Path

from .conftest import Plitool


def test_python_object_tag_is_refused_not_run(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (case_root / "flows.yaml").write_text(
        f"agents: !!python/object/apply:os.system ['touch {marker}']\nedges: []\n", encoding="utf-8")
    run = plitool("graph", "check")
    assert run.code == 2 and "flows.yaml:1: the tag tag:yaml.org,2002:python/object/apply:os.system is not allowed" in run.out
    assert not marker.exists() and "Traceback" not in run.err


def test_alias_bomb_does_not_hang(plitool: Plitool, case_root: Path) -> None:
    lines = ["a0: &a0 [phone, phone, phone, phone, phone, phone, phone, phone, phone]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines += ["agents:", "  - {id: x, kind: holder}", "  - {id: y, kind: intermediary}", "edges:",
              "  - {from: x, to: y, kind: shared_with, fields: *a11}"]
    (case_root / "flows.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = plitool("graph", "check", timeout=30)
    assert run.code == 2 and "unknown key 'a0'" in run.out and "Traceback" not in run.err


def test_deep_nesting_is_a_clear_error(plitool: Plitool, case_root: Path) -> None:
    (case_root / "flows.yaml").write_text("agents: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    run = plitool("graph", "check", timeout=30)
    assert run.code == 2 and "Traceback" not in run.err, run.err
