"""Durable, atomic file writes and the case lock.

Everything plitool writes goes through :func:`atomic_write` (temp file in the same folder,
fsync, rename, fsync of the folder) or is an append to the ledger made under :func:`case_lock`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExists, StorageError, UnreadableInput
from .vault.hashing import open_for_reading  # the one place that maps open() errors to plitool errors


def read_input(path: Path) -> bytes:
    """The bytes of a file the user named (a reply, a proof, a certificate), with plitool errors."""
    with open_for_reading(path) as fh:
        try:
            return fh.readall()
        except OSError as exc:
            raise UnreadableInput(f"cannot read {path}: {exc.strerror}") from exc


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExists(f"{path} already exists (use --force to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: no silent overwrite.
            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise OutputExists(f"{path} already exists (use --force to replace it)") from exc
            os.unlink(tmp)
        fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name, use_errno=True) if name else None
    return _libc


def sync_filesystem(path: Path) -> None:
    """Flush every dirty page of the file system holding ``path`` (syncfs, else sync).

    Used once per intake batch instead of one fsync per stored object: the ledger that refers to
    the objects is written only after this returns, so a crash never leaves an entry pointing at
    bytes that were not on disk.
    """
    libc = _load_libc()
    if libc is not None and hasattr(libc, "syncfs"):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


@contextmanager
def case_lock(lock_path: Path, *, shared: bool = False) -> Iterator[None]:
    """An advisory ``flock`` on the case: writers exclusive, readers shared; blocks until free."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot open the case lock {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)  # EINTR is retried by Python
        yield
    finally:
        os.close(fd)
