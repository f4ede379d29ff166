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
