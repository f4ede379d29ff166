"""The object store's batch path (StagingBatch, ObjectStore.commit with a batch): what an intake of
10^4 files runs once per file, with the same rules as ObjectStore.commit."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from plitool.errors import StorageError
from plitool.vault.store import READ_ONLY, ObjectStore


def _store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp")


def _stage(store: ObjectStore, data: bytes, prefix: str = "obj-t-"):  # type: ignore[no-untyped-def]
    batch = store.staging_batch(prefix)
    fd, name = batch.open()
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return batch, name


def test_batch_files_are_read_only_from_the_start_and_named_by_a_counter(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.staging_batch("obj-t-") as batch:
        names = []
        for _ in range(3):
            fd, name = batch.open()
            os.close(fd)
            names.append(name)
        assert names == ["obj-t-1", "obj-t-2", "obj-t-3"]
        for name in names:
            assert stat.S_IMODE(os.lstat(batch.path(name)).st_mode) == READ_ONLY
            assert batch.path(name) == os.path.join(tmp_path / "tmp", name)
    assert batch.fd == -1


def test_batch_skips_a_name_planted_in_staging_and_never_opens_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (tmp_path / "tmp").mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"untouched")
    os.symlink(target, tmp_path / "tmp" / "obj-t-1")
    with store.staging_batch("obj-t-") as batch:
        fd, name = batch.open()
        os.write(fd, b"data")
        os.close(fd)
    assert name == "obj-t-2"
    assert target.read_bytes() == b"untouched"


def test_commit_from_a_batch_links_into_the_store_and_removes_the_staging_name(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = b"evidence bytes"
    sha = hashlib.sha256(data).hexdigest()
    batch, name = _stage(store, data)
    try:
        assert store.commit(name, sha, len(data), read_only=True, batch=batch) is True
    finally:
        batch.close()
        store.close()
    stored = store.path_for(sha)
    assert stored.read_bytes() == data
    assert stat.S_IMODE(stored.stat().st_mode) == READ_ONLY
    assert stat.S_IMODE((tmp_path / "objects" / "sha256" / sha[:2]).stat().st_mode) == 0o700
    assert not (tmp_path / "tmp" / name).exists()


def test_commit_from_a_batch_never_replaces_an_object_and_checks_the_one_there(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = b"first copy"
    sha = hashlib.sha256(data).hexdigest()
    batch, name = _stage(store, data)
    assert store.commit(name, sha, len(data), read_only=True, batch=batch) is True
    fd, again = batch.open()
    os.write(fd, b"other bytes, same name")
    os.close(fd)
    assert store.commit(again, sha, len(data), read_only=True, batch=batch) is False  # kept, not replaced
    assert store.path_for(sha).read_bytes() == data
    assert not (tmp_path / "tmp" / again).exists()
    # a damaged object already there (wrong size) is reported, not silently reused
    fd, third = batch.open()
    os.close(fd)
    with pytest.raises(StorageError, match="expected 999"):
        store.commit(third, sha, 999, read_only=True, batch=batch)
    assert not (tmp_path / "tmp" / third).exists()
    batch.close()
    store.close()


def test_commit_from_a_batch_refuses_a_name_that_is_not_a_digest(tmp_path: Path) -> None:
    store = _store(tmp_path)
    batch, name = _stage(store, b"x")
    with pytest.raises(ValueError):
        store.commit(name, "../../escape", 1, read_only=True, batch=batch)
    batch.close()
    store.close()


def test_batch_remove_tolerates_a_name_already_gone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    batch, name = _stage(store, b"x")
    batch.remove(name)
    batch.remove(name)
    assert not (tmp_path / "tmp" / name).exists()
    batch.close()


def test_rename_noreplace_moves_atomically_and_never_replaces(tmp_path: Path) -> None:
    from plitool.fsutil import rename_noreplace

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one").write_bytes(b"1")
    (b / "taken").write_bytes(b"kept")
    fa, fb = os.open(a, os.O_RDONLY | os.O_DIRECTORY), os.open(b, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not rename_noreplace(fa, "one", fb, "moved"):
            pytest.skip("renameat2(RENAME_NOREPLACE) is not available here")
        assert (b / "moved").read_bytes() == b"1" and not (a / "one").exists()
        (a / "two").write_bytes(b"2")
        with pytest.raises(FileExistsError):
            rename_noreplace(fa, "two", fb, "taken")
        assert (b / "taken").read_bytes() == b"kept" and (a / "two").read_bytes() == b"2"
        with pytest.raises(FileNotFoundError):
            rename_noreplace(fa, "missing", fb, "x")
    finally:
        os.close(fa)
        os.close(fb)


def test_commit_from_a_batch_links_and_unlinks_where_renameat2_has_no_noreplace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel or file system without RENAME_NOREPLACE (EINVAL): the object is linked and the
    staging name removed, with the same never-replace rule."""
    import ctypes
    import errno

    from plitool import fsutil

    calls: list[int] = []

    def unsupported(*args: object) -> int:
        calls.append(1)
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(fsutil, "_renameat2", unsupported)
    monkeypatch.setattr(fsutil, "_renamed_once", False)
    store = _store(tmp_path)
    data = b"linked, not renamed"
    sha = hashlib.sha256(data).hexdigest()
    batch, name = _stage(store, data)
    assert store.commit(name, sha, len(data), read_only=True, batch=batch) is True
    assert calls == [1] and fsutil._renameat2 is False  # not asked again
    assert store.path_for(sha).read_bytes() == data and not (tmp_path / "tmp" / name).exists()
    fd, again = batch.open()
    os.write(fd, b"other")
    os.close(fd)
    assert store.commit(again, sha, len(data), read_only=True, batch=batch) is False
    assert store.path_for(sha).read_bytes() == data and not (tmp_path / "tmp" / again).exists()
    assert calls == [1]
    batch.close()
    store.close()


def test_intake_pauses_the_cyclic_gc_and_resumes_it_whatever_happens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector is off while the files are hashed and recorded (the records hold no cycles),
    on again afterwards, after a failure too, and left off if it was off before."""
    import gc

    from plitool.vault import intake
    from plitool.vault.case import init_case

    case = init_case(tmp_path / "case", "gc")
    src = tmp_path / "a.txt"
    src.write_bytes(b"evidence")
    seen: list[bool] = []
    real_record = intake._record

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real_record(*args, **kwargs)

    monkeypatch.setattr(intake, "_record", spy)
    assert gc.isenabled()
    report = intake.add_evidence(case, [src], intake.IntakeOptions())
    assert [r.event for r in report.results] == ["added"] and seen == [False] and gc.isenabled()

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        raise KeyboardInterrupt

    monkeypatch.setattr(intake, "_record", boom)
    with pytest.raises(KeyboardInterrupt):
        intake.add_evidence(case, [src], intake.IntakeOptions())
    assert seen == [False, False] and gc.isenabled()

    gc.disable()
    try:
        with intake.cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
