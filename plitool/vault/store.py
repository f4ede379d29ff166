"""The content-addressed, read-only object store: ``objects/sha256/ab/abcdef…``."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import StorageError
from ..fsutil import create_exclusive, rename_noreplace
from ..i18n import _
from .hashing import describe_file_type

if TYPE_CHECKING:
    from .evidence import EvidenceItem

HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Stored objects: read-only, and readable by the case's owner alone (their folders are 0700).
READ_ONLY = 0o400
PRIVATE_DIR = 0o700


class ObjectStore:
    def __init__(self, root: Path, staging: Path) -> None:
        self.root = root
        self.staging = staging
        self._made_fans: set[str] = set()  # fan-out folders known to exist: one mkdir each, not per object
        self._fans_fd: int | None = None  # objects/sha256, opened by the first commit

    def path_for(self, sha256: str) -> Path:
        if not HEX64.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open_staging(self, prefix: str = "obj-") -> tuple[BinaryIO, Path]:
        """A new temp file inside the case (same file system as the store, so rename works)."""
        try:
            self.staging.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            fd, name = create_exclusive(self.staging, prefix)
        except OSError as exc:
            raise StorageError(_("cannot write into {folder}: {reason}").format(folder=self.staging, reason=exc.strerror)) from exc
        return os.fdopen(fd, "wb", buffering=0), name

    def staging_batch(self, prefix: str) -> StagingBatch:
        """Staging files for one intake: the folder made once, names drawn from a counter."""
        try:
            self.staging.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        except OSError as exc:
            raise StorageError(_("cannot write into {folder}: {reason}").format(folder=self.staging, reason=exc.strerror)) from exc
        return StagingBatch(os.fspath(self.staging), prefix)

    def close(self) -> None:
        """Let go of the folder descriptor :meth:`commit` keeps."""
        if self._fans_fd is not None:
            os.close(self._fans_fd)
            self._fans_fd = None

    def commit(self, staged: str | os.PathLike[str], sha256: str, size: int, *, read_only: bool = False,
               batch: StagingBatch | None = None) -> bool:
        """Move a staged file into place; return False when the object was already stored.

        An existing object is never replaced. Its size is checked so that a damaged leftover
        (say, from a crash before the data reached the disk) is reported, not silently reused.
        ``read_only``: the staged file was made read-only already (``fchmod`` on its descriptor,
        or created 0400). ``batch``: ``staged`` is the name of one of that batch's files (created
        read-only), moved relative to the batch's folder and to the store's ``sha256`` folder,
        both held open (:meth:`close` lets go of the latter), no path joined or walked again:
        renamed with ``RENAME_NOREPLACE`` (one atomic call that never replaces an object), or
        where the system lacks that flag linked and unlinked, as without a batch. No pathlib here: it runs once per file of an intake of 10^5 files.
        """
        if not HEX64.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        fan = sha256[:2]
        moved = False  # renamed into place: no staging name left to remove
        try:
            if batch is not None:
                name, fans = os.fspath(staged), self._fan_folder(fan)
                moved = rename_noreplace(batch.fd, name, fans, f"{fan}/{sha256}")
                if not moved:
                    os.link(name, f"{fan}/{sha256}", src_dir_fd=batch.fd, dst_dir_fd=fans)
            else:
                parent = os.path.join(self.root, "sha256", fan)
                self._make_fan(fan)
                if not read_only:
                    os.chmod(staged, READ_ONLY)
                os.link(staged, os.path.join(parent, sha256))
            created = True
        except FileExistsError:
            created = False
        except OSError as exc:
            raise StorageError(_("cannot store object {digest}…: {reason}").format(digest=sha256[:12], reason=exc.strerror)) from exc
        finally:
            if batch is not None:
                if not moved:
                    batch.remove(os.fspath(staged))
            else:
                try:
                    os.unlink(staged)
                except FileNotFoundError:
                    pass
        if not created:
            self.check_existing(sha256, size)
        return created

    def _make_fan(self, fan: str) -> None:
        """``objects/sha256/<fan>`` exists (made 0700 if not): one mkdir per fan-out folder."""
        if fan not in self._made_fans:
            for folder in (os.fspath(self.root), os.path.join(self.root, "sha256"), os.path.join(self.root, "sha256", fan)):
                try:
                    os.mkdir(folder, PRIVATE_DIR)
                except FileExistsError:
                    pass
            self._made_fans.add(fan)

    def _fan_folder(self, fan: str) -> int:
        """The ``sha256`` folder's descriptor (opened once), ``fan`` made in it."""
        self._make_fan(fan)
        if self._fans_fd is None:
            self._fans_fd = os.open(os.path.join(self.root, "sha256"), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return self._fans_fd

    def check_existing(self, sha256: str, size: int) -> None:
        st = self.path_for(sha256).lstat()
        if not stat.S_ISREG(st.st_mode):
            raise StorageError(
                _("stored object {digest}… is {kind}, not a regular file: the store was tampered with; "
                  "run 'plitool verify'").format(digest=sha256[:12], kind=describe_file_type(st.st_mode))
            )
        actual = st.st_size
        if actual != size:
            raise StorageError(
                _("stored object {digest}… has {actual} bytes, expected {size}: "
                  "the store is damaged; run 'plitool verify'").format(digest=sha256[:12], actual=actual, size=size)
            )

    def iter_objects(self) -> Iterator[tuple[str, Path]]:
        """Every file under the store, as (name, path); names that are not digests included."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for sub in sorted(base.iterdir()):
            if not sub.is_dir():
                yield sub.name, sub
                continue
            for obj in sorted(sub.iterdir()):
                yield obj.name, obj



class StagingBatch:
    """New staging files in a private folder, named ``<prefix><n>``: ``O_EXCL|O_NOFOLLOW``, so a
    name planted there is skipped, never opened; the folder is not made or looked up again (it
    is held open, and each file is created, linked and removed by its name relative to it).

    Each is created read-only (0400): the descriptor that creates a file may write it whatever
    its mode, and the copy is read-only from its first moment, with no ``fchmod`` per file.
    Close it (or use it as a context manager) once its files are linked or removed."""

    def __init__(self, folder: str, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.counter = 0
        try:
            self.fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise StorageError(_("cannot write into {folder}: {reason}").format(folder=folder, reason=exc.strerror)) from exc

    def __enter__(self) -> StagingBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def path(self, name: str) -> str:
        """The full path of one of the batch's files (for messages and for callers outside it)."""
        return os.path.join(self.folder, name)

    def open(self) -> tuple[int, str]:
        """A new file: its descriptor (write-only) and its name in the batch's folder."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for _attempt in range(100):
            self.counter += 1
            name = f"{self.prefix}{self.counter}"
            try:
                return os.open(name, flags, READ_ONLY, dir_fd=self.fd), name
            except FileExistsError:
                continue
            except OSError as exc:
                raise StorageError(_("cannot write into {folder}: {reason}").format(
                    folder=self.folder, reason=exc.strerror)) from exc
        raise StorageError(_("cannot create a temporary file in {folder}").format(folder=self.folder))

    def remove(self, name: str) -> None:
        """Remove one of the batch's files; one already gone is not an error."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass


def stored_path(case: Any, item: EvidenceItem) -> Path:
    """Where an item's bytes are read (scan, ingest, bundle, draft): the stored copy, or the
    original for a ``--no-copy`` item. A link or a FIFO planted at the stored copy is refused
    before anyone opens it: read through, it would hang the command or feed it other bytes."""
    store = ObjectStore(case.paths.objects, case.paths.staging)
    path = store.path_for(item.sha256)
    if item.stored_copy:
        try:
            st = os.lstat(path)
        except OSError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            # a link or a FIFO planted in the store is never read through ('plitool verify' names it)
            raise StorageError(_("{item}: the stored copy is not a regular file (tampering?); run 'plitool verify'")
                               .format(item=item.id))
        if st is not None:
            return path
    for ref in item.references:
        if os.path.isfile(ref):
            return Path(os.fsdecode(ref))
    raise StorageError(_("{item}: neither a stored copy nor the original is available; run 'plitool verify'").format(
        item=item.id))
