"""RFC 6962 Merkle tree: checked against a naive recursive definition, with hypothesis."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from plitool.vault import merkle


def naive_root(entries: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written as literally as the RFC states it."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_root(entries[:k]) + naive_root(entries[k:])).digest()


entry_lists = st.lists(st.binary(max_size=12), min_size=0, max_size=70)


@given(entry_lists)
def test_root_matches_naive_definition(entries: list[bytes]) -> None:
    assert merkle.root([merkle.leaf_hash(e) for e in entries]) == naive_root(entries)


@given(entry_lists, st.data())
def test_roots_at_every_prefix(entries: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(e) for e in entries]
    sizes = data.draw(st.lists(st.integers(0, len(entries)), max_size=6))
    got = merkle.roots_at(leaves, sizes)
    assert got == {s: naive_root(entries[:s]) for s in set(sizes)}


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_inclusion_proofs_verify_and_reject_tampering(entries: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(e) for e in entries]
    index = data.draw(st.integers(0, len(leaves) - 1))
    top = naive_root(entries)
    proof = merkle.inclusion_proof(leaves, index)
    assert merkle.verify_inclusion(leaves[index], index, len(leaves), proof, top)
    # Another leaf, another index, a shortened or altered path must all fail.
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, len(leaves), proof, top)
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        assert not merkle.verify_inclusion(leaves[index], other, len(leaves), proof, top) or leaves[other] == leaves[index]
        assert not merkle.verify_inclusion(leaves[index], index, len(leaves), proof[:-1], top)
        bad = list(proof)
        bad[0] = hashlib.sha256(bad[0]).digest()
        assert not merkle.verify_inclusion(leaves[index], index, len(leaves), bad, top)


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_consistency_proofs(entries: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(e) for e in entries]
    old = data.draw(st.integers(1, len(leaves)))
    proof = merkle.consistency_proof(leaves, old)
    old_root, new_root = naive_root(entries[:old]), naive_root(entries)
    assert merkle.verify_consistency(old, len(leaves), old_root, new_root, proof)
    if old < len(leaves):
        # A rewritten history is not consistent with the old head (the first entry really changed:
        # rewriting b"x" as b"x" would be no rewrite at all).
        rewritten = [entries[0] + b"\x00"] + entries[1:old]
        assert not merkle.verify_consistency(old, len(leaves), naive_root(rewritten), new_root, proof)


def test_known_shape_of_three_leaves() -> None:
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert merkle.root([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)
    assert merkle.inclusion_proof([a, b, c], 2) == [merkle.node_hash(a, b)]
