"""One-pass hashing: agrees with hashlib and the official BLAKE3 vectors; refuses moving files."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blake3
import pytest

from plitool.vault import hashing
from plitool.errors import AlgorithmUnavailable, InputNotFound, SourceChanged

from .conftest import INTEROP

VECTORS = INTEROP / "blake3" / "test_vectors.json"


def test_blake3_official_vectors_through_our_pipeline(tmp_path: Path) -> None:
    if not VECTORS.is_file():
        pytest.skip(f"official BLAKE3 vectors not found at {VECTORS} (../shared/interop is absent)")
    cases = json.loads(VECTORS.read_text())["cases"]
    pattern = bytes(range(251))
    with ThreadPoolExecutor(1) as pool:
        for case in cases:
            n = case["input_len"]
            data = (pattern * (n // 251 + 1))[:n]
            path = tmp_path / f"v{n}"
            path.write_bytes(data)
            result = hashing.hash_file(path, ["sha256", "blake3"], executor=pool)
            assert result.digests["blake3"] == case["hash"][:64], n
            assert result.digests["sha256"] == hashlib.sha256(data).hexdigest()
            assert result.size == n


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, hashing.CHUNK_SIZE, hashing.CHUNK_SIZE * 2 + 17])
def test_one_pass_matches_separate_digests_and_copies_exactly(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    with open(dst, "wb") as sink, ThreadPoolExecutor(1) as pool:
        result = hashing.hash_file(src, ["sha256", "blake3", "sm3"] if "sm3" in hashlib.algorithms_available else ["sha256", "blake3"], sink=sink, executor=pool)
    assert dst.read_bytes() == data
    assert result.digests["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.digests["blake3"] == blake3.blake3(data).hexdigest()
    if "sm3" in result.digests:
        assert result.digests["sm3"] == hashlib.new("sm3", data).hexdigest()


@pytest.mark.parametrize("size", [100, hashing.CHUNK_SIZE + 10])  # the small-file path and the pipeline
def test_file_growing_during_the_read_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"x" * size)

    def append_while_reading(_: int) -> None:
        with open(path, "ab") as fh:
            fh.write(b"more")

    with pytest.raises(SourceChanged, match="changed while it was read"):
        hashing.hash_file(path, ["sha256"], progress=append_while_reading)


def test_file_rewritten_in_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edited.txt"
    path.write_bytes(b"a" * 100)
    st = path.stat()

    def touch(_: int) -> None:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))

    with pytest.raises(SourceChanged):
        hashing.hash_file(path, ["sha256"], progress=touch)


def test_unknown_and_unavailable_algorithms_fail_before_work(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AlgorithmUnavailable, match="unknown digest"):
        hashing.check_algorithms(["sha256", "md4x"])
    monkeypatch.setattr(hashing.hashlib, "algorithms_available", {"sha256"})
    with pytest.raises(AlgorithmUnavailable, match="sm3"):
        hashing.check_algorithms(["sm3"])


def test_sha256_is_always_first() -> None:
    assert hashing.check_algorithms(["blake3"]) == ("sha256", "blake3")
    assert hashing.check_algorithms(["BLAKE3", "sha256", "blake3"]) == ("sha256", "blake3")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        hashing.hash_file(tmp_path / "nope", ["sha256"])


def test_memory_stays_constant_on_a_large_file(tmp_path: Path) -> None:
    """A 256 MiB sparse file is hashed and copied with a few chunks of memory, not its size."""
    path = tmp_path / "big.img"
    with open(path, "wb") as fh:
        fh.truncate(256 * 1024 * 1024)
    tracemalloc.start()
    try:
        with open(os.devnull, "wb") as sink, ThreadPoolExecutor(1) as pool:
            result = hashing.hash_file(path, ["sha256", "blake3"], sink=sink, executor=pool)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == 256 * 1024 * 1024
    assert peak < 8 * hashing.CHUNK_SIZE, peak


# -- the small-file path of an intake (hash_small_file) ---------------------------------------------


def _algorithms() -> list[str]:
    return ["sha256", "blake3", *(["sm3"] if "sm3" in hashlib.algorithms_available else []), "sha512"]


@pytest.mark.parametrize("size", [0, 1, 4096, hashing.PARALLEL_MIN - 1])
def test_small_file_path_agrees_with_hash_file_and_copies_exactly(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fast = hashing.hash_small_file(os.fsencode(src), _algorithms(), fd)
    finally:
        os.close(fd)
    slow = hashing.hash_file(src, _algorithms())
    assert fast == slow
    assert fast is not None and fast.digests["sha256"] == hashlib.sha256(data).hexdigest()
    assert dst.read_bytes() == data


def test_small_file_path_leaves_other_files_to_hash_file(tmp_path: Path) -> None:
    """Nothing is read (a FIFO would hang it) and nothing written: hash_file says what is wrong."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * hashing.PARALLEL_MIN)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(big)
    sink = tmp_path / "sink"
    fd = os.open(sink, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for path in (big, fifo, link, tmp_path / "missing", tmp_path):
            assert hashing.hash_small_file(os.fsencode(path), ["sha256"], fd) is None, path
    finally:
        os.close(fd)
    assert sink.read_bytes() == b""


def test_small_file_growing_or_rewritten_during_the_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"x" * 100)
    st = path.stat()

    def append(_: int) -> None:
        with open(path, "ab") as fh:
            fh.write(b"more")

    def touch(_: int) -> None:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))

    for change in (append, touch):
        with pytest.raises(SourceChanged, match="changed while it was read"):
            hashing.hash_small_file(os.fsencode(path), ["sha256"], None, change)


def test_small_file_swapped_for_another_after_the_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"a" * 100)
    other = tmp_path / "b.txt"
    other.write_bytes(b"b" * 100)

    def swap(_: int) -> None:
        os.replace(other, path)

    with pytest.raises(SourceChanged):
        hashing.hash_small_file(os.fsencode(path), ["sha256"], None, swap)
