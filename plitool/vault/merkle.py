"""RFC 6962 / RFC 9162 Merkle tree over the custody ledger.

leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right); a tree of n
leaves splits at k, the largest power of two smaller than n. Inclusion and consistency proofs
follow RFC 9162 §2.1.3 – 2.1.4 so that any RFC 6962 verifier can check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of already-hashed leaves, computed bottom-up in O(n)."""
    if not leaves:
        return EMPTY_ROOT
    # Bottom-up pairing gives the RFC 6962 shape: an odd node at the end of a level is carried
    # up unchanged, which is exactly the "largest power of two" split.
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def roots_at(leaves: Sequence[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """Roots of several prefixes of the same log, sharing work through a compact range."""
    wanted = sorted(set(sizes))
    out: dict[int, bytes] = {}
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    it = iter(wanted)
    target = next(it, None)
    if target == 0:
        out[0] = EMPTY_ROOT
        target = next(it, None)
    for i, leaf in enumerate(leaves, start=1):
        if target is None:
            break
        stack.append((1, leaf))
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            (s, right), (_, left) = stack.pop(), stack.pop()
            stack.append((2 * s, node_hash(left, right)))
        while target == i:
            acc = stack[-1][1]
            for _, h in reversed(stack[:-1]):
                acc = node_hash(h, acc)
            out[i] = acc
            target = next(it, None)
    return out


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of all ``leaves`` (RFC 6962 PATH)."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} outside a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(leaves[:k], index) + [root(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [root(leaves[:k])]


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected: bytes) -> bool:
    try:
        return root_from_inclusion_proof(leaf, index, size, proof) == expected
    except ValueError:
        return False


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Proof that the tree of ``old_size`` leaves is a prefix of the tree of all ``leaves``."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"old size {old_size} outside 1..{n}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 consistency check."""
    if old_size == new_size:
        return old_root == new_root and not proof
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is a node itself
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# -- a compact range: the log's right edge, enough to extend it and to compute its root -----------

CompactRange = list[tuple[int, bytes]]  # (subtree size, hash), sizes strictly decreasing


def compact_append(stack: CompactRange, leaf: bytes) -> None:
    """Add one leaf hash to the right edge of the tree (amortised O(1))."""
    stack.append((1, leaf))
    while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
        (s, right), (_, left) = stack.pop(), stack.pop()
        stack.append((2 * s, node_hash(left, right)))


def compact_root(stack: CompactRange) -> bytes:
    """The RFC 6962 root of the log whose right edge is ``stack``."""
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


def compact_pack(stack: CompactRange) -> bytes:
    """The right edge as bytes (8-byte size + 32-byte hash per subtree), for the ledger index."""
    return b"".join(size.to_bytes(8, "big") + h for size, h in stack)


def compact_unpack(blob: bytes) -> CompactRange:
    if len(blob) % 40:
        raise ValueError("a compact range is a whole number of 40-byte records")
    return [(int.from_bytes(blob[i:i + 8], "big"), blob[i + 8:i + 40]) for i in range(0, len(blob), 40)]
