"""Attacks on the seals: delete the files that would show a rewrite, and hope verify looks away.

Every stored token is evidence whatever else was deleted: it must timestamp a prefix of the
ledger as the ledger itself rebuilds it. The ledger's own ``sealed`` and ``trusted`` entries say
which files must exist.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from plitool.vault import merkle
from plitool.vault.ledger import Checkpoint

from ..tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: F401 - fixtures
from .conftest import Plitool
from .forge import blake3_hex, entries, plant_object, rechain, write_lines


def _sealed_case(plitool: Plitool, tmp_path: Path, pki: Pki, tsa: LocalTsa) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"what was really collected")
    assert plitool("add", f).code == 0
    assert plitool("trust", "add", pki.ca, "--name", "test root").code == 0
    res = plitool("seal", "--tsa", tsa.url, "--timeout", "30")
    assert res.code == 0, res.err
    g = tmp_path / "b.txt"
    g.write_bytes(b"later evidence")
    assert plitool("add", g).code == 0
    assert plitool("verify").code == 0


def _problems(plitool: Plitool) -> tuple[int, list[dict]]:
    res = plitool("verify", "--json")
    return res.code, json.loads(res.out)["problems"]


def _state(case_root: Path) -> Path:
    return case_root / ".plitool"


def _rewrite_checkpoints(case_root: Path, lines_count: int) -> None:
    """The attacker regenerates the ledger's checkpoints to fit the rewritten ledger."""
    folder = _state(case_root) / "checkpoints"
    for cp in folder.iterdir():
        cp.unlink()
    raw = (_state(case_root) / "ledger.jsonl").read_bytes().split(b"\n")[:-1]
    origin = Checkpoint.parse(next(_state(case_root).glob("timestamps/*/checkpoint.txt")).read_text()).origin \
        if any(_state(case_root).glob("timestamps/*/checkpoint.txt")) else None
    assert origin is not None
    cp = Checkpoint(origin, lines_count, merkle.root([merkle.leaf_hash(line) for line in raw]))
    (folder / f"{lines_count:010d}.txt").write_text(cp.text())


def test_rewrite_below_a_seal_with_its_checkpoint_deleted(plitool: Plitool, case_root: Path, tmp_path: Path,
                                                          pki: Pki, local_tsa: LocalTsa) -> None:
    _sealed_case(plitool, tmp_path, pki, local_tsa)
    # The insider swaps E-0001's bytes, rewrites its 'added' entry, drops the 'sealed' entry
    # that would show the rewrite, re-chains everything and regenerates the checkpoints.
    objs = entries(case_root)
    planted = b"planted bytes"
    sha = plant_object(case_root, planted)
    added = next(o for o in objs if o["event"] == "added")
    added["data"] = {**added["data"], "digests": {"sha256": sha, "blake3": blake3_hex(planted)}, "size": len(planted)}
    kept = [o for o in objs if o["event"] != "sealed"]
    write_lines(case_root, rechain(kept))
    _rewrite_checkpoints(case_root, len(kept))
    old = added["data"]  # noqa: F841 - the old object stays as an 'unexpected' file unless removed too
    for obj in (_state(case_root) / "objects" / "sha256").rglob("*"):
        if obj.is_file() and obj.name != sha and obj.name not in {o["data"]["digests"]["sha256"] for o in kept if o["event"] == "added"}:
            obj.chmod(0o644)
            obj.unlink()
    for cp in _state(case_root).glob("timestamps/*/checkpoint.txt"):
        cp.unlink()

    code, problems = _problems(plitool)
    assert code == 1, problems
    assert any(p["kind"] == "seal" and "matches no prefix" in p["message"] for p in problems), problems


def test_every_ledger_checkpoint_deleted(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"x")
    assert plitool("add", f).code == 0
    for cp in (_state(case_root) / "checkpoints").iterdir():
        cp.unlink()
    code, problems = _problems(plitool)
    assert code == 1 and any(p["kind"] == "checkpoint" and "deleted" in p["message"] for p in problems), problems


def test_every_seal_checkpoint_deleted(plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki,
                                       local_tsa: LocalTsa) -> None:
    _sealed_case(plitool, tmp_path, pki, local_tsa)
    for cp in _state(case_root).glob("timestamps/*/checkpoint.txt"):
        cp.unlink()
    res = plitool("verify", "--json")
    doc = json.loads(res.out)
    assert res.code == 1
    assert any(p["kind"] == "seal" and "checkpoint.txt" in p["message"] for p in doc["problems"]), doc["problems"]
    # the tokens still verify against the checkpoint rebuilt from the (untouched) ledger
    assert "E-0001" in doc["trusted_times"]


def test_a_seal_folder_deleted(plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki, local_tsa: LocalTsa) -> None:
    _sealed_case(plitool, tmp_path, pki, local_tsa)
    for folder in _state(case_root).glob("timestamps/*"):
        shutil.rmtree(folder)
    code, problems = _problems(plitool)
    assert code == 1
    assert any(p["kind"] == "seal" for p in problems) and any(p["kind"] == "timestamp" and "missing" in p["message"]
                                                              for p in problems), problems


def test_trust_store_deleted(plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki, local_tsa: LocalTsa) -> None:
    _sealed_case(plitool, tmp_path, pki, local_tsa)
    shutil.rmtree(_state(case_root) / "trust")
    code, problems = _problems(plitool)
    assert code == 1
    assert any(p["kind"] == "trust" and "test root" in p["message"] and "missing" in p["message"] for p in problems), problems
