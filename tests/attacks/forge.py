"""What an attacker who can write the case folder does: forge canonical, correctly chained lines.

The format is public (canonical JSON, ``prev`` = SHA-256 of the previous line), so these helpers
hold no secret: they are what an insider with a text editor and ``sha256sum`` can do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from plitool.vault.ledger import canonical_json


def ledger_path(case_root: Path) -> Path:
    return case_root / ".plitool" / "ledger.jsonl"


def lines(case_root: Path) -> list[bytes]:
    return ledger_path(case_root).read_bytes().split(b"\n")[:-1]


def entries(case_root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(case_root)]


def write_lines(case_root: Path, new: list[bytes]) -> None:
    ledger_path(case_root).write_bytes(b"".join(line + b"\n" for line in new))


def rechain(objs: list[dict[str, Any]]) -> list[bytes]:
    """Renumber and re-chain entries as the attacker would: every link valid."""
    out: list[bytes] = []
    prev = "0" * 64
    for n, obj in enumerate(objs, start=1):
        obj = {**obj, "seq": n, "prev": prev}
        raw = canonical_json(obj)
        out.append(raw)
        prev = hashlib.sha256(raw).hexdigest()
    return out


def append_forged(case_root: Path, obj: dict[str, Any]) -> int:
    """Append one canonical line with the right ``seq`` and ``prev``; return its seq."""
    old = lines(case_root)
    seq = len(old) + 1
    raw = canonical_json({**obj, "seq": obj.get("seq", seq), "prev": hashlib.sha256(old[-1]).hexdigest()})
    write_lines(case_root, [*old, raw])
    return seq


def plant_object(case_root: Path, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = case_root / ".plitool" / "objects" / "sha256" / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o400)  # as plitool stores it: a careful insider leaves no loose mode behind
    return sha


def blake3_hex(data: bytes) -> str:
    import blake3

    return blake3.blake3(data).hexdigest()  # type: ignore[no-any-return]


def synth_items(case_root: Path, n: int, *, seal: bool = False, note_every: int = 0, checkpoint_every: int = 0,
                log: bool = False) -> None:
    """Append ``n`` well-formed 'added' entries (references to files that need not exist) and
    the checkpoint of the new head, as plitool would have written them, without running ``add``
    n times: a large case in seconds. With ``seal``, a last 'sealed' entry records the root of
    the ledger before it (no token: what the index and ``add`` check is the recorded root).
    With ``checkpoint_every`` k, a checkpoint is also written after every k-th entry: the
    history of a case that grew by one ``add`` per k entries (10^5 ``add`` runs, in seconds).
    Checkpoints go into per-file checkpoints (the layout of cases made before the checkpoint
    log) unless ``log``: then they are lines of the checkpoint log, as plitool writes them now."""
    import base64

    from plitool.vault import merkle

    old = lines(case_root)
    leaves = [merkle.leaf_hash(raw) for raw in old]
    prev = hashlib.sha256(old[-1]).hexdigest()
    at = json.loads(old[-1])["at"]
    out: list[bytes] = []
    seq = len(old)
    number = sum(1 for raw in old if json.loads(raw)["event"] == "added")

    edge: merkle.CompactRange = []
    for leaf in leaves:
        merkle.compact_append(edge, leaf)
    meta = json.loads((case_root / ".plitool" / "case.json").read_text())
    folder = case_root / ".plitool" / "checkpoints"
    log_lines: list[str] = []

    def emit(obj: dict[str, Any]) -> None:
        nonlocal prev, seq
        seq += 1
        raw = canonical_json({**obj, "seq": seq, "prev": prev, "at": at})
        out.append(raw)
        leaves.append(merkle.leaf_hash(raw))
        prev = hashlib.sha256(raw).hexdigest()
        if checkpoint_every:
            merkle.compact_append(edge, leaves[-1])
            if seq % checkpoint_every == 0:
                root = base64.b64encode(merkle.compact_root(edge)).decode()
                if log:
                    log_lines.append(f"{seq:010d} {root}\n")
                else:
                    (folder / f"{seq:010d}.txt").write_text(f"plitool.case/{meta['id']}\n{seq}\n{root}\n")

    for i in range(n):
        number += 1
        item = f"E-{number:04d}"
        sha = hashlib.sha256(b"synthetic item %d" % number).hexdigest()
        emit({"event": "added", "item": item, "data": {
            "digests": {"sha256": sha}, "size": 4096, "stored": "reference",
            "original_path": f"/seized/dir{number // 1000}/file{number}.dat", "original_name": f"file{number}.dat",
            "tags": ["harm"]}})
        if note_every and i % note_every == 0:
            emit({"event": "accessed", "item": item, "data": {"reason": "review"}})
    if seal:
        size = seq
        emit({"event": "sealed", "item": None, "data": {
            "checkpoint": {"size": size, "root": base64.b64encode(merkle.root(leaves[:size])).decode(),
                           "file": f"timestamps/{size:010d}/checkpoint.txt", "sha256": "0" * 64},
            "tokens": [], "failures": []}})
    with ledger_path(case_root).open("ab") as fh:
        fh.write(b"".join(raw + b"\n" for raw in out))
    if log:
        if not log_lines or not log_lines[-1].startswith(f"{len(leaves):010d} "):
            log_lines.append(f"{len(leaves):010d} {base64.b64encode(merkle.root(leaves)).decode()}\n")
        path = folder / "checkpoints.log"
        text = "".join(log_lines) if path.exists() else f"plitool checkpoint log v1 plitool.case/{meta['id']}\n" + "".join(log_lines)
        with path.open("a") as fh:
            fh.write(text)
    else:
        write_checkpoint(case_root, leaves)


def log_path(case_root: Path) -> Path:
    return case_root / ".plitool" / "checkpoints" / "checkpoints.log"


def as_old_case(case_root: Path) -> None:
    """The case as plitool wrote it before the checkpoint log: one file per checkpoint, no log,
    and no index that knew the log."""
    path = log_path(case_root)
    rows = path.read_bytes().split(b"\n")
    origin = rows[0].decode().rsplit(" ", 1)[1]
    for row in rows[1:-1]:
        size = int(row[:10])
        (path.parent / f"{size:010d}.txt").write_text(f"{origin}\n{size}\n{row[11:].decode()}\n")
    path.unlink()
    for suffix in ("", "-wal", "-shm"):
        (case_root / ".plitool" / f"index.sqlite{suffix}").unlink(missing_ok=True)


def last_log_line_as_file(case_root: Path) -> None:
    """The newest checkpoint moved from the log's last line to a checkpoint file: the case that
    ``synth_items(..., log=False)`` leaves in a case made with the log, derived from the one that
    ``synth_items(..., log=True)`` leaves (the same ledger, the same root, the same bytes)."""
    path = log_path(case_root)
    rows = path.read_bytes().split(b"\n")
    origin = rows[0].decode().rsplit(" ", 1)[1]
    size, root = int(rows[-2][:10]), rows[-2][11:].decode()
    (path.parent / f"{size:010d}.txt").write_text(f"{origin}\n{size}\n{root}\n")
    path.write_bytes(b"".join(row + b"\n" for row in rows[:-2]))


def copy_case(master: Path, dest: Path) -> Path:
    """A test's own copy of a case built once for a module (``cp -a``: modes and times kept, new
    inodes, so an index copied with it is rebuilt on first use, as for a restored case). Every
    file is a real copy: the large cases' files are the ledger, the log and the index, which the
    tests append to or tamper with."""
    import shutil

    shutil.copytree(master, dest, symlinks=True)
    return dest


def rewrite_log(case_root: Path, roots: dict[int, bytes]) -> None:
    """What an attacker who rewrote the ledger does to the checkpoint log: every line it held,
    with the roots of the rewritten ledger."""
    import base64

    path = log_path(case_root)
    rows = path.read_bytes().split(b"\n")
    out = [rows[0]] + [b"%s %s" % (row[:10], base64.b64encode(roots[int(row[:10])])) for row in rows[1:-1]]
    path.write_bytes(b"".join(row + b"\n" for row in out))


def write_checkpoint(case_root: Path, leaves: list[bytes]) -> Path:
    """The checkpoint file of a ledger with these leaf hashes, as plitool writes it."""
    import base64

    from plitool.vault import merkle

    meta = json.loads((case_root / ".plitool" / "case.json").read_text())
    path = case_root / ".plitool" / "checkpoints" / f"{len(leaves):010d}.txt"
    root = base64.b64encode(merkle.root(leaves)).decode()
    path.write_text(f"plitool.case/{meta['id']}\n{len(leaves)}\n{root}\n")
    return path
