"""Attacks on the ledger's meaning: canonical, correctly chained lines that say impossible things.

A hash chain is extended by anyone who can write the file. Each forged line below chains
perfectly; what gives it away is what it says (an item added twice, digests that change, a time
that runs backwards, a gap in the numbering), or, for what no rule can catch, the unsealed tail.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..tsa_support import LocalTsa, Pki, local_tsa, pki  # noqa: F401 - fixtures
from .conftest import Plitool
from .forge import append_forged, blake3_hex, entries, lines, plant_object, rechain, write_lines


def _add(plitool: Plitool, tmp_path: Path, name: str, data: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(data)
    res = plitool("add", f, "--collected-by", "officer")
    assert res.code == 0, res.err


def _problems(plitool: Plitool) -> tuple[int, list[dict]]:
    res = plitool("verify", "--json")
    return res.code, json.loads(res.out)["problems"]


def _seal(plitool: Plitool, pki: Pki, tsa: LocalTsa) -> None:
    assert plitool("trust", "add", pki.ca, "--name", "test root").code == 0
    res = plitool("seal", "--tsa", tsa.url, "--timeout", "30")
    assert res.code == 0, res.err


def _redefine_e0001(case_root: Path) -> tuple[int, str, str]:
    """Swap E-0001's object for planted bytes and append an 'added' line that redefines it."""
    planted = b"planted bytes, not what was collected"
    first = next(e for e in entries(case_root) if e["event"] == "added")
    original_sha = first["data"]["digests"]["sha256"]
    obj = case_root / ".plitool" / "objects" / "sha256" / original_sha[:2] / original_sha
    obj.chmod(0o644)
    obj.unlink()
    sha = plant_object(case_root, planted)
    data = {**first["data"], "digests": {"sha256": sha, "blake3": blake3_hex(planted)}, "size": len(planted)}
    last_at = entries(case_root)[-1]["at"]
    seq = append_forged(case_root, {"at": last_at, "event": "added", "item": "E-0001", "data": data})
    return seq, original_sha, sha


def test_forged_redefinition_of_a_sealed_item(plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki,
                                              local_tsa: LocalTsa) -> None:
    _add(plitool, tmp_path, "a.txt", b"what was really collected")
    _seal(plitool, pki, local_tsa)
    seq, original_sha, planted_sha = _redefine_e0001(case_root)

    code, problems = _problems(plitool)
    assert code == 1
    named = [p for p in problems if p["kind"] == "ledger" and f"#{seq}" in p["message"]]
    assert named and "added exactly once" in named[0]["message"], problems

    # list and show keep the item as its first 'added' entry recorded it
    listed = json.loads(plitool("list", "--json").out)
    assert [it["digests"]["sha256"] for it in listed] == [original_sha]
    shown = json.loads(plitool("show", "E-0001", "--json").out)
    assert shown["digests"]["sha256"] == original_sha and planted_sha not in plitool("show", "E-0001").out

    # nothing is certified or appended on a ledger that says impossible things
    seal = plitool("seal", "--tsa", local_tsa.url, "--timeout", "30")
    assert seal.code == 5, seal.err
    proof = tmp_path / "E-0001.proof.json"
    res = plitool("prove", "E-0001", "-o", proof)
    assert res.code == 5 and "damaged" in res.err and not proof.exists()
    before = lines(case_root)
    assert plitool("add", tmp_path / "a.txt").code == 5 and lines(case_root) == before


def test_forged_new_item_with_back_dated_intake_time(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    planted = b"an item nobody collected"
    sha = plant_object(case_root, planted)
    template = next(e for e in entries(case_root) if e["event"] == "added")
    data = {**template["data"], "digests": {"sha256": sha, "blake3": blake3_hex(planted)}, "size": len(planted),
            "collected_at": "2026-01-01T00:00:00.000000Z", "intake_at": "2026-01-01T00:00:00.000000Z",
            "original_name": "planted.txt", "original_path": "/tmp/planted.txt"}
    seq = append_forged(case_root, {"at": "2026-01-01T00:00:00.000000Z", "event": "added", "item": "E-0002", "data": data})
    code, problems = _problems(plitool)
    assert code == 1
    assert any(p["kind"] == "ledger" and f"#{seq}" in p["message"] and "backwards" in p["message"] for p in problems), problems


def test_back_dated_collection_time_alone_is_not_tampering_but_is_unsealed(
        plitool: Plitool, case_root: Path, tmp_path: Path, pki: Pki, local_tsa: LocalTsa) -> None:
    """A stated collection time may be in the past; what no rule can catch, the unsealed tail names."""
    _add(plitool, tmp_path, "a.txt", b"first")
    _seal(plitool, pki, local_tsa)
    planted = b"an item added behind the seal"
    sha = plant_object(case_root, planted)
    template = next(e for e in entries(case_root) if e["event"] == "added")
    data = {**template["data"], "digests": {"sha256": sha, "blake3": blake3_hex(planted)}, "size": len(planted),
            "collected_at": "2026-01-01T00:00:00.000000Z", "collected_at_stated": True,
            "original_name": "late.txt", "original_path": "/tmp/late.txt"}
    seq = append_forged(case_root, {"at": entries(case_root)[-1]["at"], "event": "added", "item": "E-0002", "data": data})
    res = plitool("verify", "--json")
    doc = json.loads(res.out)
    assert res.code == 0, doc["problems"]
    assert doc["unsealed"]["items"] == ["E-0002"] and doc["unsealed"]["entries"][1] == seq
    text = plitool("verify").out
    assert "E-0002" in text and "not covered by any seal" in text
    listed = {it["id"]: it["sealed"] for it in json.loads(plitool("list", "--json").out)}
    assert listed == {"E-0001": True, "E-0002": False}
    assert json.loads(plitool("show", "E-0002", "--json").out)["sealed"] is False
    assert "unsealed" in plitool("show", "E-0002").out


def test_never_sealed_case_says_so_once(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    res = plitool("verify")
    assert res.code == 0
    assert res.out.count("never been sealed") + res.err.count("never been sealed") == 1
    assert json.loads(plitool("verify", "--json").out)["unsealed"]["never_sealed"] is True


def test_gap_in_seq(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    n = len(lines(case_root))
    append_forged(case_root, {"seq": n + 2, "at": entries(case_root)[-1]["at"], "event": "note", "item": None,
                              "data": {"text": "skipped a number"}})
    code, problems = _problems(plitool)
    assert code == 1
    assert any(p["kind"] == "ledger" and f"#{n + 2}" in p["message"] and f"#{n + 1}" in p["message"] for p in problems), problems


def test_time_running_backwards(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    seq = append_forged(case_root, {"at": "2020-01-01T00:00:00.000000Z", "event": "note", "item": None, "data": {"text": "x"}})
    code, problems = _problems(plitool)
    assert code == 1 and any(f"#{seq}" in p["message"] and "backwards" in p["message"] for p in problems), problems


def test_re_collection_with_other_digests(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    first = next(e for e in entries(case_root) if e["event"] == "added")
    data = {**first["data"], "digests": {**first["data"]["digests"], "blake3": "0" * 64}}
    seq = append_forged(case_root, {"at": entries(case_root)[-1]["at"], "event": "re-collected", "item": "E-0001", "data": data})
    code, problems = _problems(plitool)
    assert code == 1 and any(f"#{seq}" in p["message"] and "never change" in p["message"] for p in problems), problems


def test_event_naming_an_item_that_does_not_exist(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    _add(plitool, tmp_path, "a.txt", b"first")
    seq = append_forged(case_root, {"at": entries(case_root)[-1]["at"], "event": "exported", "item": "E-0042",
                                    "data": {"reason": "x", "to": "/tmp/x", "sha256": "0" * 64}})
    code, problems = _problems(plitool)
    assert code == 1 and any(f"#{seq}" in p["message"] and "E-0042" in p["message"] for p in problems), problems


def test_edited_entry_2_is_named_not_the_evidence(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """Issue 8 item 3: edit only entry #2's collected_by and size."""
    _add(plitool, tmp_path, "a.txt", b"first")
    _add(plitool, tmp_path, "b.txt", b"second")
    objs = entries(case_root)
    old = lines(case_root)
    objs[1]["data"]["collected_by"] = "someone else"
    objs[1]["data"]["size"] += 1
    from plitool.vault.ledger import canonical_json

    old[1] = canonical_json(objs[1])
    write_lines(case_root, old)
    code, problems = _problems(plitool)
    assert code == 1
    messages = [p["message"] for p in problems]
    assert any("entry #2" in m and "altered" in m for m in messages), messages
    assert not any("#3 does not chain" in m for m in messages), messages
    assert not any(p["kind"] == "modified" for p in problems), problems


def test_rechained_rewrite_with_forged_redefinition_below_no_seal(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """A full rewrite (every link re-chained, checkpoints deleted) still says an item twice."""
    _add(plitool, tmp_path, "a.txt", b"first")
    _redefine_e0001(case_root)
    objs = entries(case_root)
    write_lines(case_root, rechain(objs))
    for cp in (case_root / ".plitool" / "checkpoints").iterdir():
        cp.unlink()
    code, problems = _problems(plitool)
    assert code == 1 and any("added exactly once" in p["message"] for p in problems), problems


def test_back_dated_collection_time_nobody_stated(plitool: Plitool, case_root: Path, tmp_path: Path) -> None:
    """A collection time that was not stated is the intake time: back-dating it alone is caught."""
    _add(plitool, tmp_path, "a.txt", b"first")
    planted = b"an item nobody collected"
    sha = plant_object(case_root, planted)
    template = next(e for e in entries(case_root) if e["event"] == "added")
    assert template["data"]["collected_at_stated"] is False
    data = {**template["data"], "digests": {"sha256": sha, "blake3": blake3_hex(planted)}, "size": len(planted),
            "collected_at": "2026-01-01T00:00:00.000000Z", "original_name": "planted.txt"}
    seq = append_forged(case_root, {"at": entries(case_root)[-1]["at"], "event": "added", "item": "E-0002", "data": data})
    code, problems = _problems(plitool)
    assert code == 1
    assert any(f"#{seq}" in p["message"] and "nobody stated" in p["message"] for p in problems), problems
