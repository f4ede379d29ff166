"""One read pass, every digest.

A file is read once in large chunks; each chunk feeds every configured digest and, when the
caller asks for it, is written to a destination (the evidence store's temp file). SHA-256 runs in
the calling thread while the other digests run in a worker thread: both OpenSSL and the BLAKE3
binding release the GIL on large buffers, so on two cores the pass costs about as much as the
slowest digest alone (see ``bench/intake.py``).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import io
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..errors import AlgorithmUnavailable, InputNotFound, SourceChanged, UnreadableInput, UsageError
from ..i18n import _

if TYPE_CHECKING:  # concurrent.futures (and the logging it loads) only for the commands that hash
    from concurrent.futures import Future, ThreadPoolExecutor

#: Digests computed for every item unless ``case.toml`` says otherwise.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("sha256", "blake3")
#: Every digest plitool knows. SM3 (GB/T 32905) needs OpenSSL 3 with SM3 enabled.
KNOWN_ALGORITHMS: tuple[str, ...] = ("sha256", "blake3", "sm3", "sha512")
#: The digest that names objects in the store and chains the ledger.
PRIMARY_ALGORITHM = "sha256"

CHUNK_SIZE = 4 * 1024 * 1024

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just processed."""


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def _new_hasher(name: str) -> _Hasher:
    if name == "blake3":
        import blake3

        return blake3.blake3()  # type: ignore[no-any-return]
    return hashlib.new(name)


def check_algorithms(names: Iterable[str]) -> tuple[str, ...]:
    """Validate digest names before any work starts; return them with SHA-256 first.

    Fails closed: an unknown name or one this OpenSSL lacks is an error, never skipped.
    """
    wanted: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if name not in KNOWN_ALGORITHMS:
            raise AlgorithmUnavailable(
                _("unknown digest {name!r}; plitool knows: {known}").format(name=raw, known=", ".join(KNOWN_ALGORITHMS))
            )
        if name in ("sm3", "sha512") and name not in hashlib.algorithms_available:
            raise AlgorithmUnavailable(
                _("digest {name!r} is not available: this Python's OpenSSL does not provide it; "
                  "use a Python linked to OpenSSL 3 with SM3 enabled, or remove it from case.toml").format(name=name)
            )
        if name not in wanted:
            wanted.append(name)
    if PRIMARY_ALGORITHM not in wanted:
        wanted.insert(0, PRIMARY_ALGORITHM)
    wanted.sort(key=lambda n: n != PRIMARY_ALGORITHM)
    return tuple(wanted)


@dataclass(frozen=True)
class FileIdentity:
    """What must not move while a file is read."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class HashResult:
    digests: dict[str, str]
    size: int
    identity: FileIdentity


def _new_hashers(algorithms: Sequence[str]) -> list[_Hasher]:
    return [_new_hasher(a) for a in algorithms]


def hash_bytes(data: bytes, algorithms: Sequence[str]) -> dict[str, str]:
    hashers = _new_hashers(algorithms)
    for h in hashers:
        h.update(data)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}


def describe_file_type(mode: int) -> str:
    """What a file that is not a regular file is, in words (for refusals and tamper reports)."""
    if stat.S_ISLNK(mode):
        return _("a symbolic link")
    if stat.S_ISFIFO(mode):
        return _("a FIFO (named pipe)")
    if stat.S_ISCHR(mode):
        return _("a character device")
    if stat.S_ISBLK(mode):
        return _("a block device")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    if stat.S_ISDIR(mode):
        return _("a folder")
    return _("not a regular file")


def open_for_reading(path: str | os.PathLike[str] | bytes, *, follow_symlinks: bool = False) -> io.FileIO:
    """Open a regular file, turning OS errors into plitool errors; anything else is refused.

    Opened with ``O_NONBLOCK`` so that a FIFO or a device cannot make plitool wait forever, and
    (unless ``follow_symlinks``) with ``O_NOFOLLOW`` so that a symbolic link planted at the path
    is refused rather than read through. Once ``fstat`` shows a regular file the descriptor is
    switched back to blocking reads.
    """
    shown = os.fsdecode(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise InputNotFound(_("{path} does not exist").format(path=shown)) from exc
    except IsADirectoryError as exc:
        raise InputNotFound(_("{path} is a folder, not a file").format(path=shown)) from exc
    except PermissionError as exc:
        raise UnreadableInput(_("cannot read {path}: permission denied").format(path=shown)) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise UsageError(
                _("{path} is {kind}, not a regular file; not followed").format(path=shown, kind=_("a symbolic link"))
            ) from exc
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=shown, reason=exc.strerror)) from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputNotFound(_("{path} is a folder, not a file").format(path=shown))
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(
                _("{path} is {kind}, not a regular file; refused").format(path=shown, kind=describe_file_type(st.st_mode))
            )
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


#: Below this, a chunk is cheaper to process inline than to hand to the worker thread.
PARALLEL_MIN = 64 * 1024


def _write_all(write: Callable[[memoryview], int | None], view: memoryview) -> None:
    while view:
        written = write(view)
        if written is None:  # buffered writers write everything or raise
            return
        view = view[written:]


def _wait_for(future: Future[int]) -> None:
    """Wait for a worker's chunk to be done; a second Ctrl-C gives up waiting, nothing more."""
    from concurrent.futures import wait as wait_for_futures

    with suppress(KeyboardInterrupt):
        wait_for_futures([future])


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def hash_stream(
    src: _Readable,
    algorithms: Sequence[str],
    *,
    sink: BinaryIO | None = None,
    progress: ProgressCallback | None = None,
    executor: ThreadPoolExecutor | None = None,
    chunk_size: int = CHUNK_SIZE,
    limit: int | None = None,
) -> tuple[dict[str, str], int]:
    """Hash what ``src`` yields (and copy it to ``sink``); return digests and byte count.

    Two buffers are reused for the whole stream. While the calling thread feeds chunk *i* to
    the first digest (SHA-256, the slowest), the worker feeds it to the other digests, writes
    it to ``sink`` and reads chunk *i + 1* into the other buffer. Both hash libraries release
    the GIL, so on two cores the stream costs about one SHA-256 pass.

    With ``limit``, stop after that many bytes, so that a file growing under us cannot keep the
    loop going forever (the caller notices the growth from the file's status).
    """
    first, *rest = hashers = _new_hashers(algorithms)
    write = sink.write if sink is not None else None
    readinto = src.readinto
    buffers = (bytearray(chunk_size), bytearray(chunk_size))

    def read_into(buf: bytearray, already: int) -> int:
        want = chunk_size if limit is None else min(chunk_size, limit - already)
        return (readinto(memoryview(buf)[:want]) or 0) if want > 0 else 0

    def side(view: memoryview, nxt: bytearray, already: int) -> int:
        for h in rest:
            h.update(view)
        if write is not None:
            _write_all(write, view)
        return read_into(nxt, already)

    total = 0
    current = 0
    n = read_into(buffers[0], 0)
    while n:
        size = n
        total += size
        view = memoryview(buffers[current])[:size]
        future: Future[int] | None = None
        try:
            if executor is not None and size >= PARALLEL_MIN:
                future = executor.submit(side, view, buffers[1 - current], total)
                first.update(view)
                n = future.result()
            else:
                first.update(view)
                n = side(view, buffers[1 - current], total)
        except BaseException:
            if future is not None:
                # Ctrl-C (or an error here) while the worker may still hash, write or read with
                # this chunk's buffers: let it finish its bounded share before anything is
                # released or the sink closed, then let the original exception go on.
                _wait_for(future)
            raise
        finally:
            # Releasing a view that the worker still holds raises BufferError; that can only
            # happen when a second interruption cut the wait short, and must not replace the
            # first exception (the buffer stays alive until the worker lets go of it).
            with suppress(BufferError):
                view.release()
        if progress is not None:
            progress(size)
        current = 1 - current
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}, total


def _hash_small(
    src: io.FileIO, algorithms: Sequence[str], limit: int, sink: BinaryIO | None, progress: ProgressCallback | None
) -> tuple[dict[str, str], int]:
    """The whole of a small file in one read: an intake of 10,000 screenshots is per-file overhead."""
    data = b""
    while len(data) < limit:
        part = src.read(limit - len(data))
        if not part:
            break
        data += part
    hashers = _new_hashers(algorithms)
    for h in hashers:
        h.update(data)
    if sink is not None and data:
        _write_all(sink.write, memoryview(data))
    if progress is not None:
        progress(len(data))
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}, len(data)


#: One-shot constructors by digest name, each looked up once: :func:`hash_small_file` runs per file.
_ONE_SHOT: dict[str, Callable[[bytes], _Hasher]] = {}


def _one_shot(name: str) -> Callable[[bytes], _Hasher]:
    ctor = _ONE_SHOT.get(name)
    if ctor is not None:
        return ctor
    if name == "sha256":
        ctor = hashlib.sha256
    elif name == "blake3":
        import blake3

        ctor = blake3.blake3  # one thread (its default): a small file is one chunk anyway
    else:
        ctor = functools.partial(hashlib.new, name)
    _ONE_SHOT[name] = ctor
    return ctor


#: (name, one-shot constructor) pairs per tuple of digest names (a case asks for one tuple).
_CONSTRUCTORS: dict[tuple[str, ...], list[tuple[str, Callable[[bytes], _Hasher]]]] = {}


def _constructors(algorithms: Sequence[str]) -> list[tuple[str, Callable[[bytes], _Hasher]]]:
    key = algorithms if type(algorithms) is tuple else tuple(algorithms)
    pairs = _CONSTRUCTORS.get(key)
    if pairs is None:
        pairs = _CONSTRUCTORS[key] = [(a, _one_shot(a)) for a in key]
    return pairs


def hash_small_file(
    path: bytes, algorithms: Sequence[str], sink_fd: int | None = None, progress: ProgressCallback | None = None
) -> HashResult | None:
    """:func:`hash_file` for a small regular file, with the fewest system calls and Python
    objects (an intake of 10^4 – 10^5 small files is per-file overhead): ``open``, ``fstat``,
    one ``read``, ``fstat``, ``close``, ``stat``, and one ``write`` to ``sink_fd``. The same
    checks as :func:`hash_file`: not followed if a link, never read if not a regular file, and
    refused if its size, mtime, inode or device moves or the path names another file after the
    read. Returns None, having read nothing, when the file is not small or cannot be opened here:
    the caller then uses :func:`hash_file`, which says precisely what is wrong.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        before = os.fstat(fd)
        size = before.st_size
        if not stat.S_ISREG(before.st_mode) or size >= PARALLEL_MIN:
            return None  # O_NONBLOCK has no effect on a regular file: the read below blocks as usual
        # One byte past the size seen: a file that grew meanwhile gives itself away. A regular
        # file's read returns what is there up to its end; the loop only covers a short read.
        data = os.read(fd, size + 1)
        while len(data) < size:
            part = os.read(fd, size + 1 - len(data))
            if not part:
                break
            data += part
        if progress is not None:
            progress(len(data))
        after = os.fstat(fd)
    except OSError as exc:
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=os.fsdecode(path), reason=exc.strerror)) from exc
    finally:
        os.close(fd)
    try:
        by_path = os.stat(path)
    except OSError as exc:
        raise SourceChanged(_("{path} disappeared while it was read").format(path=os.fsdecode(path))) from exc
    total = len(data)
    ident = (size, before.st_mtime_ns, before.st_ino, before.st_dev)
    if ((after.st_size, after.st_mtime_ns, after.st_ino, after.st_dev) != ident
            or (by_path.st_size, by_path.st_mtime_ns, by_path.st_ino, by_path.st_dev) != ident or total != size):
        raise SourceChanged(
            _("{path} changed while it was read "
              "(size {before} -> {after}, read {total} bytes); not recorded").format(
                path=os.fsdecode(path), before=size, after=after.st_size, total=total)
        )
    digests = {a: ctor(data).hexdigest() for a, ctor in _constructors(algorithms)}
    if sink_fd is not None and data:
        written = os.write(sink_fd, data)  # one call writes it all, but for a short write
        if written < total:
            _write_all(lambda view: os.write(sink_fd, view), memoryview(data)[written:])
    return HashResult(digests, total, FileIdentity(*ident))


def hash_file(
    path: str | os.PathLike[str] | bytes,
    algorithms: Sequence[str],
    *,
    sink: BinaryIO | None = None,
    progress: ProgressCallback | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> HashResult:
    """Hash a regular file in one pass, refusing it if it changes while being read.

    The file's size, mtime and inode are taken before and after the pass (from the open
    descriptor and from the path); any difference, or a byte count that differs from the size,
    raises :class:`SourceChanged`: bytes that moved under us are not evidence of anything.
    """
    with open_for_reading(path) as src:
        before = os.fstat(src.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise UnreadableInput(_("not a regular file: {path}").format(path=os.fsdecode(path)))
        try:
            # Read at most one byte past the size seen at the start: enough to notice growth.
            if before.st_size < PARALLEL_MIN:
                digests, total = _hash_small(src, algorithms, before.st_size + 1, sink, progress)
            else:
                digests, total = hash_stream(
                    src,
                    algorithms,
                    sink=sink,
                    progress=progress,
                    executor=executor,
                    chunk_size=min(CHUNK_SIZE, before.st_size + 1),
                    limit=before.st_size + 1,
                )
        except OSError as exc:
            raise UnreadableInput(_("cannot read {path}: {reason}").format(path=os.fsdecode(path), reason=exc.strerror)) from exc
        after = os.fstat(src.fileno())
    try:
        by_path = os.stat(path)
    except OSError as exc:
        raise SourceChanged(_("{path} disappeared while it was read").format(path=os.fsdecode(path))) from exc
    ident = FileIdentity.of(before)
    if (
        FileIdentity.of(after) != ident
        or FileIdentity.of(by_path) != ident
        or total != before.st_size
    ):
        raise SourceChanged(
            _("{path} changed while it was read "
              "(size {before} -> {after}, read {total} bytes); not recorded").format(
                path=os.fsdecode(path), before=before.st_size, after=after.st_size, total=total)
        )
    return HashResult(digests=digests, size=total, identity=ident)
