"""Durable, atomic file writes, bounded reads of inputs, where outputs may go, and the case lock.

Everything plitool writes goes through :func:`atomic_output` / :func:`atomic_write` (a temp file
with an unpredictable name created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` in the same folder, fsync,
rename, fsync of the folder) or is an append to the ledger made under :func:`case_lock`. No output
is ever written through a symbolic link: the temp file cannot be one (``O_EXCL``), and the final
rename replaces a link at the target name rather than following it.

Every output a person names goes through :func:`check_output_path` first: nothing is ever written
inside the case's ``.plitool/`` or over its ``case.toml``, with or without ``--force``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import OutputExists, StorageError, UnreadableInput, UsageError
from .i18n import _
from .vault.hashing import open_for_reading  # the one place that maps open() errors to plitool errors

if TYPE_CHECKING:
    import ctypes

    from .vault.case import Case

#: Inputs read whole into memory (TSA replies, proofs, certificates, known-values lists) are far
#: smaller than this; anything larger is refused before it is read.
MAX_INPUT_BYTES = 16 * 1024 * 1024


def _human_limit(limit: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} B"


def read_regular_file(path: str | os.PathLike[str], limit: int | None, *, follow_symlinks: bool = False) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes, or a plitool error naming it.

    Never blocks on a FIFO or a device (they are refused), and never reads more than
    ``limit + 1`` bytes, so a file growing under us, or ``/dev/zero``, cannot exhaust memory.
    ``limit=None`` reads a regular file whole, however large (for callers that still must).
    Used for the case's own small files too (checkpoints, journals): a symbolic link there is
    refused unless ``follow_symlinks``.
    """
    shown = os.fsdecode(path)
    with open_for_reading(path, follow_symlinks=follow_symlinks) as fh:
        if limit is None:
            try:
                return fh.readall()
            except OSError as exc:
                raise UnreadableInput(_("cannot read {path}: {reason}").format(path=shown, reason=exc.strerror)) from exc
        too_big = UsageError(
            _("{path} is larger than {limit}, the most plitool reads of such a file; refused").format(
                path=shown, limit=_human_limit(limit)
            )
        )
        if os.fstat(fh.fileno()).st_size > limit:
            raise too_big
        chunks: list[bytes] = []
        total = 0
        try:
            while total <= limit:
                part = fh.read(limit + 1 - total)
                if not part:
                    break
                chunks.append(part)
                total += len(part)
        except OSError as exc:
            raise UnreadableInput(_("cannot read {path}: {reason}").format(path=shown, reason=exc.strerror)) from exc
        if total > limit:
            raise too_big
        return b"".join(chunks)


def read_input(path: str | os.PathLike[str], *, limit: int | None = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file the user named (a reply, a proof, a certificate), bounded by size.

    A link the user names is followed (as ``cat`` would), but what it names must be a regular file.
    """
    return read_regular_file(path, limit, follow_symlinks=True)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_path(case: Case, path: str | os.PathLike[str]) -> Path:
    """Refuse an output (file or folder) inside the case's ``.plitool/`` or over its ``case.toml``.

    The path is resolved as the kernel would (every symbolic link, ``..``, the parent's and the
    final name's), so ``../case/.plitool/x``, a link to ``.plitool`` as a parent or a link at the
    final name pointing at the ledger are all caught. Called before any work starts.
    """
    real = os.path.realpath(path)
    state = os.path.realpath(case.paths.state)
    case_file = os.path.realpath(case.paths.case_file)
    if _inside(real, state) or real == case_file:
        raise UsageError(
            _(
                "{path} is inside the case's own {state} folder or is its {case_file}: plitool never "
                "writes an output there (with or without --force); choose another place"
            ).format(path=os.fsdecode(path), state=".plitool/", case_file="case.toml")
        )
    return Path(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_exclusive(folder: Path, prefix: str = ".tmp-") -> tuple[int, Path]:
    """A new, empty file (mode 0600) with an unpredictable name in ``folder``.

    ``O_CREAT|O_EXCL|O_NOFOLLOW``: nothing planted at the name (a file, a symbolic link) is ever
    opened or written through; a clash simply draws another name.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _attempt in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(8)}"
        try:
            return os.open(candidate, flags, 0o600), candidate
        except FileExistsError:
            continue
    raise StorageError(_("cannot create a temporary file in {folder}").format(folder=folder))


@contextmanager
def atomic_output(path: Path, *, mode: int = 0o644, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it replaces ``path`` whole (readers see old or new, never half).

    With ``overwrite=False`` an existing ``path`` (even a dangling symbolic link) is an error, also
    when it appears while we write. With ``overwrite=True`` a symbolic link at ``path`` is replaced
    by the file: its target is never touched.
    """
    path = Path(path)
    cannot_write = _("cannot write {path}: {reason}")
    exists = _("{path} already exists (use --force to replace it)")
    if not overwrite and os.path.lexists(path):
        raise OutputExists(exists.format(path=path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_exclusive(path.parent)
    except OSError as exc:
        raise StorageError(cannot_write.format(path=path, reason=exc.strerror)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: no silent overwrite.
            try:
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError as exc:
                raise OutputExists(exists.format(path=path)) from exc
            os.unlink(tmp)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StorageError(cannot_write.format(path=path, reason=exc.strerror)) from exc
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    with atomic_output(path, mode=mode, overwrite=overwrite) as fh:
        fh.write(data)


_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL | None:
    """The C library's functions (``syncfs``, ``renameat2``): the symbols already loaded into this
    process first (``dlopen(NULL)``, free), ``find_library`` only if they lack ``syncfs`` (it runs
    ``ldconfig`` in a child process: about 11 ms of CPU, paid by every intake)."""
    global _libc
    if _libc is None:
        import ctypes

        loaded = ctypes.CDLL(None, use_errno=True)
        if hasattr(loaded, "syncfs"):
            _libc = loaded
        else:
            import ctypes.util

            name = ctypes.util.find_library("c")
            _libc = ctypes.CDLL(name, use_errno=True) if name else None
    return _libc


#: renameat2's flag: fail with EEXIST rather than replace the target.
_RENAME_NOREPLACE = 1
#: libc's renameat2 once looked up; False once the kernel, the C library or the file system said no.
_renameat2: Any = None
_renamed_once = False


def rename_noreplace(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> bool:
    """Move ``src`` to ``dst`` (names relative to the two folder descriptors) atomically, never
    replacing what is at ``dst``: ``renameat2(RENAME_NOREPLACE)``, one system call where
    ``link`` + ``unlink`` take two. Raises :class:`FileExistsError` if ``dst`` exists (``src``
    is then left where it was) and :class:`OSError` on other failures; returns False, having
    done nothing, where the system cannot do it (old kernel or C library, a file system without
    the flag): the caller then links and unlinks."""
    global _renameat2, _renamed_once
    func = _renameat2
    if func is None:
        libc = _load_libc()
        func = _renameat2 = getattr(libc, "renameat2", False) if libc is not None else False
    if func is False:
        return False
    if func(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        _renamed_once = True
        return True
    import ctypes

    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP) and not _renamed_once:
        _renameat2 = False  # never worked here: the flag (or the call) is not supported
        return False
    raise OSError(err, os.strerror(err), dst)


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
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(
            _("cannot open the case lock {path}: {reason}").format(path=lock_path, reason=exc.strerror)
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)  # EINTR is retried by Python
        yield
    finally:
        os.close(fd)
