"""Run ``plitool`` as a real process with a deterministic pause point, for concurrency attacks.

``start(case_root, hook, args)`` runs ``python -m plitool.cli`` with ``hook`` (Python source)
executed first; the hook may patch a function so that it calls ``pause()`` at the moment under
test. ``pause()`` creates ``READY`` and waits (bounded) until the test creates ``GO``: no sleeps
that race, the other process acts exactly while this one is held at that point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .conftest import TIMEOUT

PRELUDE = """
import os, sys, time
from pathlib import Path
_SYNC = Path(os.environ["PLITOOL_TEST_SYNC"])
def pause():
    (_SYNC / "READY").touch()
    deadline = time.monotonic() + 50
    while not (_SYNC / "GO").exists():
        if time.monotonic() > deadline:
            raise SystemExit("test hook: never released")
        time.sleep(0.01)
"""

RUN = """
sys.argv = ["plitool", *sys.argv[1:]]
from plitool.cli.main import main
main()
"""


class Held:
    def __init__(self, proc: subprocess.Popen[str], sync: Path) -> None:
        self.proc = proc
        self.sync = sync

    def wait_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not (self.sync / "READY").exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"process ended before the pause point ({self.proc.returncode}): {err}")
            assert time.monotonic() < deadline, "process never reached the pause point"
            time.sleep(0.01)

    def release(self) -> tuple[int, str, str]:
        (self.sync / "GO").touch()
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, err


def start(case_root: Path, sync: Path, hook: str, *args: str | os.PathLike[str]) -> Held:
    sync.mkdir(parents=True, exist_ok=True)
    code = PRELUDE + hook + RUN
    env = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200", "PLITOOL_TEST_SYNC": str(sync)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--case", str(case_root), *[os.fspath(a) for a in args]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=case_root,
    )
    return Held(proc, sync)


def run_hooked(case_root: Path, hook: str, *args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Run once with a hook that does not pause (it patches behaviour only)."""
    code = PRELUDE.replace('_SYNC = Path(os.environ["PLITOOL_TEST_SYNC"])', "") + hook + RUN
    env = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", code, "--case", str(case_root), *[os.fspath(a) for a in args]],
        capture_output=True, text=True, env=env, cwd=case_root, timeout=TIMEOUT,
    )
    return proc.returncode, proc.stdout, proc.stderr
