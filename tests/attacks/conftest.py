"""Attacks against the real command line: each test runs ``plitool`` as a separate process.

A subprocess (not CliRunner) so that hangs, signals, file descriptors and permissions behave as
they do for a user; every run has a timeout, so an attack that makes plitool hang fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Generous: an attack that hangs plitool fails here rather than stalling CI.
TIMEOUT = 60


@dataclass
class Run:
    code: int
    out: str
    err: str


class Plitool:
    """``plitool ARGS`` in a case folder, as a separate process."""

    def __init__(self, case_root: Path) -> None:
        self.case_root = case_root

    def __call__(self, *args: str | os.PathLike[str], case: bool = True, timeout: float = TIMEOUT,
                 env: dict[str, str] | None = None, input: str | None = None, cwd: Path | None = None) -> Run:
        argv: Sequence[str] = [sys.executable, "-m", "plitool.cli", *(["--case", str(self.case_root)] if case else []),
                               *[os.fspath(a) for a in args]]
        full_env = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200", **(env or {})}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=full_env, input=input,
                              cwd=cwd or self.case_root, errors="replace")
        return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def case_root(tmp_path: Path) -> Path:
    """A fresh case, made by the code behind ``plitool init ROOT --title ... --lang en`` in this
    process (the same files, its own id and key; the CLI's init is tested on its own): a Python
    start-up per test was a minute of the suite. The attacks themselves run as processes."""
    from plitool.vault.case import init_case

    root = tmp_path / "case"
    init_case(root, "攻击测试 Attack case", "en")
    return root


@pytest.fixture
def plitool(case_root: Path) -> Plitool:
    return Plitool(case_root)
