"""Ctrl-C (SIGINT) at several points of a large ``add`` and ``verify``, sent to the real process.

Whatever the moment, plitool must print one line on stderr, exit 130 and leave the case
consistent (``plitool verify`` passes afterwards). The signal is sent once the process has
demonstrably read a given number of bytes of the large file: its read position, taken from
``/proc/PID/fdinfo``, not a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Plitool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs /proc/PID/fdinfo (Linux)"),
]

MiB = 1024 * 1024
BIG = 300 * MiB
#: Read positions at which the signal is sent: inside the first chunk's pipeline, early, middle.
OFFSETS = (5 * MiB, 40 * MiB, 150 * MiB)


def _read_position(pid: int, target: Path) -> int | None:
    """Where the process stands in ``target`` (None: it does not have the file open)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(fd) != str(target):
                continue
            for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().splitlines():
                if line.startswith("pos:"):
                    return int(line.split()[1])
        except OSError:
            continue
    return None


def _interrupt_at(argv: list[str], cwd: Path, target: Path, offset: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "plitool.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            pos = _read_position(proc.pid, target)
            if pos is not None and pos >= offset:
                break
            if proc.poll() is not None:
                out, errs = proc.communicate()
                pytest.fail(f"plitool finished before reading {offset} bytes (exit {proc.returncode}): {errs}")
            if time.monotonic() > deadline:
                pytest.fail("plitool never reached the offset")
            time.sleep(0.001)
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, errs)


def _assert_one_line_130(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("plitool: ") and "interrupted" in lines[0]


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "disk.img"
    with path.open("wb") as f:
        f.write(b"plitool interrupt test\n" * 1000)  # not all zeros: a distinct digest
        f.truncate(BIG)  # sparse: cheap to make, read at full speed
    return path


@pytest.mark.parametrize("offset", OFFSETS)
def test_ctrl_c_during_add_is_one_line_130_and_the_case_stays_consistent(
    plitool: Plitool, case_root: Path, big_file: Path, offset: int
) -> None:
    done = _interrupt_at(["--case", str(case_root), "add", str(big_file)], case_root, big_file, offset)
    _assert_one_line_130(done)

    check = plitool("verify")
    assert check.code == 0, check.out + check.err
    assert "Traceback" not in check.err
    # nothing was recorded: the item can be added afterwards as E-0001
    listed = plitool("list", "--json")
    assert listed.code == 0 and listed.out.strip() == "[]"
    assert plitool("repair").code in (0, 2)  # nothing to repair, or a no-op
    assert not [p for p in (case_root / ".plitool" / "tmp").iterdir() if p.name.startswith("obj-")]


@pytest.fixture(scope="module")
def case_with_big_item(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> Path:
    root = tmp_path_factory.mktemp("verify") / "case"
    env = {**os.environ, "PLITOOL_LANG": "en"}
    subprocess.run([sys.executable, "-m", "plitool.cli", "init", str(root), "--title", "interrupt", "--lang", "en"],
                   check=True, capture_output=True, timeout=TIMEOUT, env=env)
    subprocess.run([sys.executable, "-m", "plitool.cli", "--case", str(root), "add", str(big_file)],
                   check=True, capture_output=True, timeout=TIMEOUT, env=env)
    return root


@pytest.mark.parametrize("offset", OFFSETS)
def test_ctrl_c_during_verify_is_one_line_130(case_with_big_item: Path, offset: int) -> None:
    objects = [p for p in (case_with_big_item / ".plitool" / "objects").rglob("*") if p.is_file()]
    (stored,) = [p for p in objects if p.stat().st_size == BIG]
    done = _interrupt_at(["--case", str(case_with_big_item), "verify"], case_with_big_item, stored, offset)
    _assert_one_line_130(done)

    check = Plitool(case_with_big_item)("verify")
    assert check.code == 0, check.out + check.err


def test_ctrl_c_after_the_objects_are_linked_leaves_what_repair_clears(
    plitool: Plitool, case_root: Path, tmp_path: Path
) -> None:
    """The latest point: objects linked into the store, the ledger not yet written.

    The test holds the case lock, so plitool stops exactly there (waiting for it); the journal
    naming the linked objects is the sign that it has arrived.
    """
    import fcntl
    import json

    src = tmp_path / "screenshot.png"
    src.write_bytes(b"\x89PNG " + os.urandom(200_000))
    lock = os.open(case_root / ".plitool" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        env = {**os.environ, "PLITOOL_LANG": "en"}
        proc = subprocess.Popen([sys.executable, "-m", "plitool.cli", "add", "--case", str(case_root), str(src)],
                                cwd=case_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + TIMEOUT
        staging = case_root / ".plitool" / "tmp"
        while True:
            named = []
            for journal in staging.glob("intake-*.json"):
                try:
                    named += json.loads(journal.read_text() or "{}").get("objects", [])
                except ValueError:
                    continue  # caught between truncate and write
            if named and all((case_root / ".plitool" / "objects" / "sha256" / sha[:2] / sha).exists() for sha in named):
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "plitool never linked the object"
            time.sleep(0.001)
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(lock)
    _assert_one_line_130(subprocess.CompletedProcess(proc.args, proc.returncode, out, errs))

    check = plitool("verify")
    assert check.code == 0, check.out + check.err
    assert "interrupted intake" in check.err and "plitool repair" in check.err
    assert plitool("repair").code == 0
    clean = plitool("verify")
    assert clean.code == 0 and "interrupted" not in clean.err
    assert plitool("add", str(src)).code == 0
    assert '"E-0001"' in plitool("list", "--json").out
