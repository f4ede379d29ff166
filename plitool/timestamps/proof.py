"""``prove`` / ``verify-proof``: a self-contained proof that one item existed by a trusted time.

A proof is one JSON file (format ``plitool-proof/1``) holding, byte for byte:

* the item's ``added`` ledger line (its digests, who collected it, when, from where),
* the RFC 6962 inclusion path from that line (a Merkle leaf) to a sealed checkpoint,
* the checkpoint text the TSAs signed, and
* each TSA's full TimeStampResp with the certificates that check it.

Beside it, a folder with the same pieces as plain files and a README (English and Chinese) lets
anyone check the proof with ``sha256sum``, ``python3`` and ``openssl ts -verify`` only.
:func:`verify_proof` needs no case workspace.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..vault import merkle
from ..errors import NotSealed, OutputExists, ProofUnreadable, StorageError
from ..vault.evidence import build_items, get_items
from ..fsutil import atomic_write, check_output_path
from ..i18n import _
from ..vault.ledger import Checkpoint, canonical_json, iso_utc, utc_now
from .seal import StoredToken, stored_tokens
from .timestamp import (
    TokenVerdict,
    iso_z,
    load_certificates,
    verify_reply,
)
from .trust import trusted_certificates

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from ..vault.case import Case

PROOF_FORMAT = "plitool-proof/1"


def _chain_certs(path: Path) -> list[Certificate]:
    try:
        return load_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []


def best_seal(case: Case, seq: int, tokens: Sequence[StoredToken], roots: Sequence[Certificate],
              *, verdicts: dict[Path, tuple[bytes, TokenVerdict] | None] | None = None,
              ) -> tuple[int, list[tuple[StoredToken, bytes, TokenVerdict]]]:
    """The earliest sealed checkpoint holding entry ``seq`` with a token that verifies.

    Earliest, because its time is the tightest "existed no later than" bound. A checkpoint with
    a trusted token wins over an earlier one whose tokens only have an untrusted root.
    ``verdicts`` (token file -> (reply bytes, verdict), or None when unreadable) lets the proofs
    of many items check each token once.
    """
    memo: dict[Path, tuple[bytes, TokenVerdict] | None] = {} if verdicts is None else verdicts
    by_size: dict[int, list[StoredToken]] = {}
    for tok in tokens:
        if tok.size >= seq:
            by_size.setdefault(tok.size, []).append(tok)
    fallback: tuple[int, list[tuple[StoredToken, bytes, TokenVerdict]]] | None = None
    for size in sorted(by_size):
        good = []
        for tok in by_size[size]:
            if tok.tsr not in memo:
                try:
                    cp_bytes = tok.checkpoint.read_bytes()
                    blob = tok.tsr.read_bytes()
                except OSError:
                    memo[tok.tsr] = None
                else:
                    memo[tok.tsr] = (blob, verify_reply(blob, data=cp_bytes, roots=roots,
                                                        extra_certs=_chain_certs(tok.chain)))
            checked = memo[tok.tsr]
            if checked is not None and checked[1].signature_valid:
                good.append((tok, checked[0], checked[1]))
        if any(v.ok for _tok, _cp, v in good):
            return size, good
        if good and fallback is None:
            fallback = (size, good)
    if fallback is not None:
        return fallback
    raise NotSealed(_("entry #{seq} is not covered by any sealed checkpoint with a valid token yet: run 'plitool seal'").format(
        seq=seq))


@dataclass
class ProofContext:
    """What every proof of one case shares, read and checked once: the healthy ledger, its items,
    the trusted roots, the stored tokens with their verdicts, and the sealed roots already matched
    against the ledger. A bundle of many items builds all its proofs from one context instead of
    re-reading the ledger and re-checking every token per item."""

    entries: Sequence[Any]
    items: dict[str, Any]
    roots: Sequence[Certificate]
    tokens: list[StoredToken]
    verdicts: dict[Path, tuple[bytes, TokenVerdict] | None] = field(default_factory=dict)
    matched: set[tuple[int, bytes]] = field(default_factory=set)

    @classmethod
    def load(cls, case: Case) -> ProofContext:
        entries = case.ledger.require_healthy().entries
        return cls(entries, build_items(entries), trusted_certificates(case, entries=entries), stored_tokens(case, entries))


def build_proof(case: Case, item: str, *, context: ProofContext | None = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The proof document and the loose files that go beside it (name -> bytes)."""
    ctx = context if context is not None else ProofContext.load(case)
    entries = ctx.entries
    found = get_items(ctx.items, [item])[0]
    entry = found.events[0]
    size, chosen = best_seal(case, entry.seq, ctx.tokens, ctx.roots, verdicts=ctx.verdicts)
    cp_bytes = chosen[0][0].checkpoint.read_bytes()
    cp = Checkpoint.parse(cp_bytes.decode("ascii"))
    leaves = [e.leaf for e in entries[:size]]
    if (size, cp.root) not in ctx.matched and merkle.root(leaves) != cp.root:
        raise StorageError(_("the sealed checkpoint {size} does not match the ledger: run 'plitool verify'").format(size=size))
    ctx.matched.add((size, cp.root))
    path = merkle.inclusion_proof(leaves, entry.seq - 1)
    files: dict[str, bytes] = {"entry.json": entry.raw, "checkpoint.txt": cp_bytes}
    stamps = []
    for n, (tok, blob, verdict) in enumerate(chosen, start=1):
        info = verdict.info
        assert info is not None
        chain_pem = tok.chain.read_bytes() if tok.chain.is_file() else b""
        files[f"seal-{n:02d}.tsr"] = blob
        files[f"seal-{n:02d}.chain.pem"] = chain_pem
        stamps.append({
            "file": f"seal-{n:02d}.tsr",
            "tsa": tok.tsa,
            "tsa_name": info.tsa_name or info.signer,
            "time": iso_z(info.gen_time),
            "serial": str(info.serial),
            "policy": info.policy,
            "hash": info.hash_name,
            "tsr_b64": base64.b64encode(blob).decode(),
            "chain_pem": chain_pem.decode("ascii"),
            "root": verdict.root,
            "root_sha256": verdict.root_sha256,
            "trusted_by_case": verdict.ok,
        })
    files["inclusion.txt"] = "".join(h.hex() + "\n" for h in path).encode()
    proof = {
        "format": PROOF_FORMAT,
        "created": iso_utc(utc_now()),
        "tool": f"plitool {__version__}",
        "item": {"id": found.id, "name": found.name, "size": found.size, "digests": dict(found.digests)},
        "ledger_entry": {
            "seq": entry.seq,
            "line": entry.raw.decode("utf-8"),
            "sha256": hashlib.sha256(entry.raw).hexdigest(),
            "leaf_hash": entry.leaf.hex(),
        },
        "inclusion": {
            "algorithm": "RFC 6962 Merkle tree, SHA-256; leaf = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right)",
            "leaf_index": entry.seq - 1,
            "tree_size": size,
            "path": [h.hex() for h in path],
        },
        "checkpoint": {"text": cp_bytes.decode("ascii"), "sha256": hashlib.sha256(cp_bytes).hexdigest()},
        "timestamps": stamps,
    }
    files["README.md"] = proof_readme(proof).encode("utf-8")
    files["check_inclusion.py"] = CHECK_INCLUSION_PY.encode("utf-8")
    return proof, files


def files_dir_for(output: Path) -> Path:
    name = output.name.removesuffix(".json")
    return output.with_name(name + ".files" if name == output.name else name)


def write_proof(case: Case, item: str, output: Path, *, force: bool = False) -> tuple[Path, Path, dict[str, Any]]:
    """Write ``output`` (the JSON proof) and the folder beside it; refuses to overwrite without force."""
    folder = files_dir_for(output)
    for target in (output, folder):
        check_output_path(case, target)  # never inside .plitool/ or over case.toml, even with --force
    if not force:
        for target in (output, folder):
            if target.exists():
                raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=target))
    proof, files = build_proof(case, item)
    for name, blob in files.items():
        atomic_write(folder / name, blob)
    atomic_write(output, json.dumps(proof, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    return output, folder, proof


# -- verification without a case ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "message": self.message}


@dataclass
class ProofReport:
    item: str = ""
    checks: list[Check] = field(default_factory=list)
    verdicts: list[tuple[dict[str, Any], TokenVerdict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def existed_no_later_than(self) -> tuple[datetime, str] | None:
        times = [(v.info.gen_time, v.info.tsa_name or v.info.signer) for _stamp, v in self.verdicts if v.ok and v.info]
        return min(times) if times else None

    def as_json(self) -> dict[str, Any]:
        bound = self.existed_no_later_than
        return {
            "ok": self.ok,
            "item": self.item,
            "existed_no_later_than": iso_z(bound[0]) if bound else None,
            "per_tsa": bound[1] if bound else None,
            "checks": [c.as_json() for c in self.checks],
            "timestamps": [{"file": s.get("file"), "tsa": s.get("tsa"), **v.as_json()} for s, v in self.verdicts],
        }


def _load(blob: bytes) -> dict[str, Any]:
    try:
        proof = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProofUnreadable(_("not a plitool proof (not JSON: {error})").format(error=exc)) from exc
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise ProofUnreadable(_("not a plitool proof (format is not {format!r})").format(format=PROOF_FORMAT))
    for key in ("item", "ledger_entry", "inclusion", "checkpoint", "timestamps"):
        if key not in proof:
            raise ProofUnreadable(_("the proof lacks its {part!r} part").format(part=key))
    return proof


def verify_proof(
    blob: bytes,
    *,
    data: Path | None = None,
    roots: Sequence[Certificate] = (),
) -> ProofReport:
    """Check a proof: the entry, its inclusion in the checkpoint, the timestamps, and the data."""
    from ..vault.hashing import hash_file

    proof = _load(blob)
    report = ProofReport(item=str(proof["item"].get("id", "")))
    add = report.checks.append
    try:
        line = str(proof["ledger_entry"]["line"]).encode("utf-8")
        entry = json.loads(line)
        inc = proof["inclusion"]
        index, size = int(inc["leaf_index"]), int(inc["tree_size"])
        path = [bytes.fromhex(h) for h in inc["path"]]
        cp_bytes = str(proof["checkpoint"]["text"]).encode("ascii")
        cp = Checkpoint.parse(cp_bytes.decode("ascii"))
    except (KeyError, TypeError, ValueError, UnicodeError) as exc:
        raise ProofUnreadable(_("the proof is damaged: {error}").format(error=exc)) from exc

    item = proof["item"]
    entry_ok = (
        isinstance(entry, dict)
        and canonical_json(entry) == line
        and entry.get("event") == "added"
        and entry.get("item") == item.get("id")
        and entry.get("seq") == index + 1
        and dict(entry.get("data", {}).get("digests", {})) == {k: v for k, v in item.get("digests", {}).items() if k in entry.get("data", {}).get("digests", {})}
    )
    add(Check("entry", entry_ok,
              _("ledger entry #{seq} records {item} with sha256 {sha256}").format(
                  seq=index + 1, item=item.get("id"), sha256=item.get("digests", {}).get("sha256"))
              if entry_ok else _("the ledger entry does not match the item it claims to prove (edited?)")))

    leaf = merkle.leaf_hash(line)
    included = cp.size == size and merkle.verify_inclusion(leaf, index, size, path, cp.root)
    add(Check("inclusion", included,
              _("entry #{seq} is leaf {index} of the {size}-entry tree whose root the checkpoint records").format(
                  seq=index + 1, index=index, size=size)
              if included else _("the inclusion path does not lead from this entry to the checkpoint's root: "
                                 "the proof is for another ledger or was altered")))

    any_trusted = False
    for stamp in proof["timestamps"]:
        try:
            tsr = base64.b64decode(stamp["tsr_b64"], validate=True)
            chain = load_certificates(stamp["chain_pem"].encode("ascii")) if stamp.get("chain_pem") else []
        except (KeyError, ValueError) as exc:
            raise ProofUnreadable(_("the proof's timestamp {file} is damaged: {error}").format(
                file=stamp.get("file"), error=exc)) from exc
        verdict = verify_reply(tsr, data=cp_bytes, roots=roots, extra_certs=chain)
        report.verdicts.append((stamp, verdict))
        any_trusted = any_trusted or verdict.ok
    if not proof["timestamps"]:
        add(Check("timestamp", False, _("the proof holds no timestamp")))
    elif any_trusted:
        when, who = report.existed_no_later_than or (None, "")
        add(Check("timestamp", True, _("the checkpoint was timestamped at {time} by {tsa}").format(
            time=iso_z(when) if when else "?", tsa=who)))
    else:
        reasons = "; ".join(v.message for _stamp, v in report.verdicts)
        add(Check("timestamp", False, _("no timestamp verifies against a trusted root: {reasons}").format(reasons=reasons)))

    if data is not None:
        recorded = entry.get("data", {}).get("digests", {}) if entry_ok else item.get("digests", {})
        want = {k: v for k, v in recorded.items() if k in ("sha256", "sha512", "blake3", "sm3")}
        result = hash_file(data, list(want) or ["sha256"])
        bad = [k for k, v in want.items() if result.digests.get(k) != v]
        same = not bad and result.size == int(item.get("size", -1))
        add(Check("data", same,
                  _("{path} is the item's exact bytes ({digests} and size match)").format(path=data, digests=", ".join(want))
                  if same
                  else _("{path} is not the item's bytes ({what} differ)").format(path=data, what=", ".join(bad) or "size")))
    return report


# -- the README for people checking by hand ----------------------------------------------------

CHECK_INCLUSION_PY = '''\
"""Recompute an RFC 6962 inclusion proof with the Python standard library only.

Usage: python3 check_inclusion.py   (run in this folder)
Reads entry.json (the exact ledger line), inclusion.txt (one hex hash per line) and
checkpoint.txt, and says whether the path leads from the entry to the checkpoint's root.
"""
import base64, hashlib, json, sys

line = open("entry.json", "rb").read()
path = [bytes.fromhex(h) for h in open("inclusion.txt").read().split()]
origin, size, root_b64 = open("checkpoint.txt").read().split("\\n")[:3]
index, size = json.loads(line)["seq"] - 1, int(size)
h = hashlib.sha256(b"\\x00" + line).digest()
fn, sn = index, size - 1
for p in path:
    if fn & 1 or fn == sn:
        h = hashlib.sha256(b"\\x01" + p + h).digest()
        while not fn & 1 and fn:
            fn >>= 1; sn >>= 1
    else:
        h = hashlib.sha256(b"\\x01" + h + p).digest()
    fn >>= 1; sn >>= 1
ok = sn == 0 and h == base64.b64decode(root_b64)
print("inclusion OK" if ok else "inclusion FAILED", "- leaf", index, "of", size, "in", origin)
sys.exit(0 if ok else 1)
'''


def proof_readme(proof: dict[str, Any]) -> str:
    item = proof["item"]
    inc = proof["inclusion"]
    stamps = proof["timestamps"]
    first = stamps[0]["file"] if stamps else "seal-01.tsr"
    chain = first.replace(".tsr", ".chain.pem")
    times = "\n".join(f"- `{s['file']}`: {s['time']} — {s['tsa_name']} ({s['tsa']}); root SHA-256 `{s.get('root_sha256')}`" for s in stamps)
    sha = item["digests"].get("sha256", "")
    return f"""# Proof for {item['id']} ({item['name']})

Produced by {proof['tool']} on {proof['created']}. The proof's JSON file beside this folder
holds the same pieces; `plitool verify-proof FILE --data EVIDENCE --ca TSA_ROOT.pem`
checks everything at once. Without plitool, check it by hand as follows (Linux/macOS shell, in
this folder).

## English

1. **The evidence file is the one recorded.** `sha256sum EVIDENCE_FILE` must print
   `{sha}` (the `sha256` in `entry.json`, field `data.digests`).
2. **The record is in the ledger.** `entry.json` is ledger line #{inc['leaf_index'] + 1}, byte for byte.
   `python3 check_inclusion.py` recomputes the RFC 6962 Merkle path in `inclusion.txt`
   (leaf = SHA-256(0x00 ‖ line), node = SHA-256(0x01 ‖ left ‖ right)) and compares the result with
   the root (base64, third line) of `checkpoint.txt`, a ledger of {inc['tree_size']} entries.
3. **The checkpoint existed at the stated time.** For each timestamp:
   `openssl ts -verify -in {first} -data checkpoint.txt -CAfile {chain}` must print
   `Verification: OK`. `{chain}` includes the TSA's root as plitool received it: before relying on it,
   compare `openssl x509 -in ROOT.pem -noout -fingerprint -sha256` with the fingerprint the TSA
   publishes, or use your own copy of its root: `-CAfile YOUR_ROOT.pem -untrusted {chain}`.
   `openssl ts -reply -in {first} -text` shows the time, TSA name, policy and serial.

Timestamps in this proof:
{times}

If all three hold, the evidence file existed, exactly as it is, no later than the earliest time
above.

## 中文

1. **证据文件即所记录的文件。** 运行 `sha256sum 证据文件`，结果应为 `{sha}`
   （即 `entry.json` 中 `data.digests` 的 `sha256`）。
2. **该记录在保管日志中。** `entry.json` 逐字节即为日志第 {inc['leaf_index'] + 1} 行。运行
   `python3 check_inclusion.py`，按 RFC 6962 重新计算 `inclusion.txt` 中的默克尔路径
   （叶 = SHA-256(0x00 ‖ 行)，节点 = SHA-256(0x01 ‖ 左 ‖ 右)），并与 `checkpoint.txt`
   第三行（base64）的根值比较（该日志共 {inc['tree_size']} 条）。
3. **检查点在所述时间已经存在。** 对每个时间戳运行
   `openssl ts -verify -in {first} -data checkpoint.txt -CAfile {chain}`，应输出 `Verification: OK`。
   `{chain}` 中的根证书是 plitool 收到的原样：采信前请用
   `openssl x509 -in 根证书.pem -noout -fingerprint -sha256` 与时间戳机构公布的指纹核对，
   或使用您自己持有的根证书：`-CAfile 您的根证书.pem -untrusted {chain}`。
   `openssl ts -reply -in {first} -text` 可显示时间、机构名称、策略与序列号。

三项均成立，即可证明该证据文件（原样）最迟于上列最早时间已经存在。
"""

