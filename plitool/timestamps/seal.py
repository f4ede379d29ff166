"""``seal``: pin the ledger's head with RFC 3161 timestamps from one or more TSAs.

A seal is a checkpoint of the ledger (``origin\\nsize\\nbase64(root)\\n``, C2SP form) whose exact
bytes are timestamped. Everything lands under ``.plitool/timestamps/<size>/``::

    checkpoint.txt          the exact bytes the TSAs signed
    tsa-01.tsq              the request sent (DER)
    tsa-01.tsr              the TSA's full TimeStampResp, byte for byte as received
    tsa-01.chain.pem        the certificates needed to check it (embedded ones and the root)
    offline-<nonce>.tsq     --offline: a request to carry to a connected machine
    offline-<nonce>.json    what the reply to it must echo (nonce, hash)

and a ``sealed`` ledger event names those files with their SHA-256. Files are written (atomically)
only for tokens that verified; the ledger entry comes last, so an interrupted seal leaves at
worst unreferenced files, which ``verify`` reports as a note.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..vault import merkle
from ..errors import (
    InputNotFound,
    NoTimestampAuthority,
    PlitoolError,
    SealFailed,
    StorageError,
    TokenRejected,
    TsaFailed,
    UsageError,
)
from ..fsutil import MAX_INPUT_BYTES, atomic_write, read_input, read_regular_file
from ..i18n import _, ngettext
from ..vault.ledger import Checkpoint, Entry, LedgerScan, NewEvent
from .timestamp import (
    REQUEST_HASHES,
    TokenVerdict,
    embedded_certificates,
    fingerprint,
    iso_z,
    load_certificates,
    make_query,
    pem_chain,
    post_query,
    reply_info,
    verify_reply,
)
from .trust import trusted_certificates

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from ..vault.case import Case

TIMESTAMPS_DIR = "timestamps"
PostFunction = Callable[[str, bytes, float], bytes]


def timestamps_dir(case: Case) -> Path:
    return case.paths.state / TIMESTAMPS_DIR


def seal_dir(case: Case, size: int) -> Path:
    return timestamps_dir(case) / f"{size:010d}"


def rel(case: Case, path: Path) -> str:
    return path.relative_to(case.paths.state).as_posix()


@dataclass(frozen=True)
class TsaOutcome:
    """What one TSA did: a kept token (with its verdict) or the reason it was not kept."""

    tsa: str
    verdict: TokenVerdict | None
    error: str | None
    seconds: float
    tsr: str | None = None

    @property
    def kept(self) -> bool:
        return self.verdict is not None and self.verdict.signature_valid

    def as_json(self) -> dict[str, Any]:
        return {
            "tsa": self.tsa,
            "kept": self.kept,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "tsr": self.tsr,
            **({"verdict": self.verdict.as_json()} if self.verdict else {}),
        }


@dataclass
class SealResult:
    checkpoint: Checkpoint
    entry: Entry | None
    outcomes: list[TsaOutcome] = field(default_factory=list)
    #: ``seal --import`` of a reply the ledger already holds: nothing was appended
    already_imported: bool = False

    @property
    def kept(self) -> int:
        return sum(o.kept for o in self.outcomes)

    @property
    def trusted(self) -> int:
        return sum(1 for o in self.outcomes if o.verdict is not None and o.verdict.ok)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.trusted > 0,
            "size": self.checkpoint.size,
            "root": base64.b64encode(self.checkpoint.root).decode(),
            "checkpoint": self.checkpoint.text(),
            "ledger_entry": self.entry.seq if self.entry else None,
            "tokens_kept": self.kept,
            "tokens_trusted": self.trusted,
            "tsa": [o.as_json() for o in self.outcomes],
            "already_imported": self.already_imported,
        }


@dataclass(frozen=True)
class OfflineRequest:
    size: int
    checkpoint_path: Path
    tsq_path: Path
    nonce: int
    hash_name: str

    def as_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "checkpoint": str(self.checkpoint_path),
            "tsq": str(self.tsq_path),
            "nonce": str(self.nonce),
            "hash": self.hash_name,
        }


def _default_post(url: str, query: bytes, timeout: float) -> bytes:
    return post_query(url, query, timeout=timeout)


def _check_hash(hash_name: str) -> None:
    if hash_name not in REQUEST_HASHES:
        raise UsageError(_("--hash must be one of {hashes}, not {name!r}").format(
            hashes=", ".join(REQUEST_HASHES), name=hash_name))


def _chain_for(blob: bytes, verdict: TokenVerdict, roots: Sequence[Certificate]) -> list[Certificate]:
    """The embedded certificates, plus the trusted root they chain to when it is not embedded."""
    certs = embedded_certificates(blob)
    have = {fingerprint(c) for c in certs}
    if verdict.root_sha256 and verdict.root_sha256 not in have:
        certs += [r for r in roots if fingerprint(r) == verdict.root_sha256]
    return certs


def _next_stem(folder: Path, prefix: str) -> str:
    n = 1
    while (folder / f"{prefix}-{n:02d}.tsr").exists() or (folder / f"{prefix}-{n:02d}.tsq").exists():
        n += 1
    return f"{prefix}-{n:02d}"


def _read_state(path: Path) -> bytes:
    """A file of the seal folders, read as verify must: regular files only, bounded, never blocking.

    Raises OSError (what the callers already handle) for anything else: a FIFO planted where a
    token or a checkpoint should be is reported, never waited on.
    """
    try:
        return read_regular_file(path, MAX_INPUT_BYTES)
    except InputNotFound as exc:
        raise FileNotFoundError(errno.ENOENT, str(exc)) from exc
    except PlitoolError as exc:
        raise OSError(errno.EINVAL, str(exc)) from exc


def _write_checkpoint_file(folder: Path, cp_bytes: bytes) -> Path:
    path = folder / "checkpoint.txt"
    if path.exists():
        if path.read_bytes() != cp_bytes:
            raise StorageError(_("{path} exists and differs from the ledger's checkpoint: run 'plitool verify'").format(path=path))
        return path
    atomic_write(path, cp_bytes, overwrite=False)
    return path


def _ledger_digest(case: Case) -> str:
    try:
        return hashlib.sha256(case.paths.ledger.read_bytes()).hexdigest()
    except OSError as exc:
        raise StorageError(_("cannot read the ledger {path}: {reason}").format(path=case.paths.ledger, reason=exc.strerror)) from exc


def _current_checkpoint(case: Case) -> tuple[Checkpoint, bytes, Any, str]:
    digest = _ledger_digest(case)
    scan = case.ledger.require_healthy()
    cp = case.ledger.checkpoint_for(scan.entries)
    return cp, cp.text().encode("ascii"), scan, digest


def _still_prefix(case: Case, cp: Checkpoint, scan: Any = None, digest: str | None = None) -> Any:
    """Under the lock: the ledger still starts with the sealed checkpoint (it only grew).

    Parsing a large ledger is the slow part; when its bytes are those parsed before the
    network round trips, that parse is reused.
    """
    if scan is not None and digest is not None and _ledger_digest(case) == digest:
        return scan
    scan = case.ledger.require_healthy()
    roots = merkle.roots_at([e.leaf for e in scan.entries], [cp.size])
    if roots.get(cp.size) != cp.root:
        raise SealFailed(
            _("the ledger changed under the seal (its first entries no longer match the checkpoint); "
              "nothing was recorded: run 'plitool verify'")
        )
    return scan


def _token_record(case: Case, tsa: str, stem_path: Path, blob: bytes, verdict: TokenVerdict, query_path: Path | None) -> dict[str, Any]:
    info = verdict.info
    assert info is not None
    return {
        "tsa": tsa,
        "tsr": rel(case, stem_path.with_suffix(".tsr")),
        "tsr_sha256": hashlib.sha256(blob).hexdigest(),
        "tsq": rel(case, query_path) if query_path else None,
        "chain": rel(case, stem_path.with_suffix(".chain.pem")),
        "time": iso_z(info.gen_time),
        "tsa_name": info.tsa_name or info.signer,
        "serial": str(info.serial),
        "hash": info.hash_name,
        "verdict": verdict.status,
    }


def seal_case(
    case: Case,
    *,
    extra_tsa: Sequence[str] = (),
    hash_name: str = "sha256",
    timeout: float | None = None,
    use_config: bool = True,
    on_outcome: Callable[[TsaOutcome], None] | None = None,
    post: PostFunction = _default_post,
) -> SealResult:
    """Timestamp the ledger's current checkpoint with every TSA; record the tokens that verify.

    Raises :class:`SealFailed` (nothing written) when no TSA gave a token whose signature holds.
    Tokens whose root is not trusted are kept and reported (``SealResult.trusted`` counts the
    others); the caller decides what that means for its exit code.
    """
    _check_hash(hash_name)
    urls = list(dict.fromkeys([*(case.config.tsa if use_config else ()), *extra_tsa]))
    if not urls:
        raise NoTimestampAuthority(
            _("no TSA to ask: list them in case.toml under [timestamps] tsa = [...] or pass --tsa URL "
              "(or use --offline to carry the request to a connected machine)")
        )
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(_("TSA address {url!r} is not an http:// or https:// URL").format(url=url))
    wait = timeout if timeout is not None else case.config.tsa_timeout
    cp, cp_bytes, first_scan, first_digest = _current_checkpoint(case)
    roots = trusted_certificates(case, entries=first_scan.entries)

    gathered: list[tuple[TsaOutcome, bytes, bytes]] = []  # outcome, tsq, tsr
    outcomes: list[TsaOutcome] = []
    for url in urls:
        query = make_query(cp_bytes, hash_name)
        started = time.perf_counter()
        try:
            blob = post(url, query.der, wait)
        except TsaFailed as exc:
            outcome = TsaOutcome(url, None, str(exc), time.perf_counter() - started)
        else:
            elapsed = time.perf_counter() - started
            verdict = verify_reply(blob, data=cp_bytes, roots=roots, nonce=query.nonce)
            if verdict.signature_valid:
                outcome = TsaOutcome(url, verdict, None, elapsed)
                gathered.append((outcome, query.der, blob))
            else:
                outcome = TsaOutcome(url, verdict, _("{url}: the reply does not verify: {reason}").format(
                    url=url, reason=verdict.message), elapsed)
        outcomes.append(outcome)
        if on_outcome is not None and not outcome.kept:
            on_outcome(outcome)
    if not gathered:
        raise SealFailed(
            _("no TSA answered with a valid token; nothing was recorded:")
            + "\n  " + "\n  ".join(o.error or "?" for o in outcomes)
        )

    with case.locked():
        scan = _still_prefix(case, cp, first_scan, first_digest)
        folder = seal_dir(case, cp.size)
        cp_path = _write_checkpoint_file(folder, cp_bytes)
        tokens = []
        final: list[TsaOutcome] = []
        for outcome in outcomes:
            match = next((g for g in gathered if g[0] is outcome), None)
            if match is None:
                final.append(outcome)
                continue
            _outcome, tsq, blob = match
            assert outcome.verdict is not None
            stem = folder / _next_stem(folder, "tsa")
            atomic_write(stem.with_suffix(".tsq"), tsq, overwrite=False)
            atomic_write(stem.with_suffix(".chain.pem"), pem_chain(_chain_for(blob, outcome.verdict, roots)), overwrite=False)
            atomic_write(stem.with_suffix(".tsr"), blob, overwrite=False)
            tokens.append(_token_record(case, outcome.tsa, stem, blob, outcome.verdict, stem.with_suffix(".tsq")))
            kept = TsaOutcome(outcome.tsa, outcome.verdict, None, outcome.seconds, rel(case, stem.with_suffix(".tsr")))
            final.append(kept)
            if on_outcome is not None:
                on_outcome(kept)
        failures = [{"tsa": o.tsa, "error": o.error} for o in final if not o.kept]
        entry = case.ledger.append([NewEvent("sealed", None, _sealed_data(case, cp, cp_path, cp_bytes, tokens, failures))], scan=scan)[0]
    return SealResult(cp, entry, final)


def _sealed_data(case: Case, cp: Checkpoint, cp_path: Path, cp_bytes: bytes, tokens: list[dict[str, Any]], failures: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "checkpoint": {
            "size": cp.size,
            "root": base64.b64encode(cp.root).decode(),
            "file": rel(case, cp_path),
            "sha256": hashlib.sha256(cp_bytes).hexdigest(),
        },
        "tokens": tokens,
        "failures": failures,
    }


# -- offline -----------------------------------------------------------------------------------


def prepare_offline(case: Case, *, hash_name: str = "sha256") -> OfflineRequest:
    """Write the checkpoint and a request for it, to be carried to a machine that can reach a TSA."""
    _check_hash(hash_name)
    with case.locked():
        view = case.ledger.checked()  # from the ledger index when it vouches for the prefix
        if isinstance(view, LedgerScan):
            cp = case.ledger.checkpoint_for(view.entries)
        else:
            cp = Checkpoint(case.origin, view.size, view.root())
        cp_bytes = cp.text().encode("ascii")
        folder = seal_dir(case, cp.size)
        cp_path = _write_checkpoint_file(folder, cp_bytes)
        query = make_query(cp_bytes, hash_name)
        stem = folder / f"offline-{query.nonce:016x}"
        meta = {"size": cp.size, "nonce": str(query.nonce), "hash": hash_name, "root": base64.b64encode(cp.root).decode()}
        atomic_write(stem.with_suffix(".tsq"), query.der, overwrite=False)
        atomic_write(stem.with_suffix(".json"), json.dumps(meta, indent=2).encode() + b"\n", overwrite=False)
    return OfflineRequest(cp.size, cp_path, stem.with_suffix(".tsq"), query.nonce, hash_name)


def pending_offline(case: Case) -> list[tuple[Path, dict[str, Any]]]:
    base = timestamps_dir(case)
    if not base.is_dir():
        return []
    out = []
    for path in sorted(base.glob("*/offline-*.json")):
        try:
            out.append((path, json.loads(path.read_text("utf-8"))))
        except (OSError, ValueError):
            continue
    return out


def import_reply(case: Case, reply_path: Path) -> SealResult:
    """Verify a reply to an ``--offline`` request and record it as a seal."""
    blob = read_input(reply_path)
    try:
        info = reply_info(blob)
    except ValueError as exc:
        raise TokenRejected(_("{path} is not a usable timestamp reply ({error}); nothing was recorded").format(
            path=reply_path, error=exc)) from exc
    known = _already_imported(case, blob)
    if known is not None:
        return known
    pending = pending_offline(case)
    match = next(((p, m) for p, m in pending if info.nonce is not None and str(info.nonce) == m.get("nonce")), None)
    if match is None:
        raise TokenRejected(
            ngettext("{path} answers none of this case's {n} pending offline request "
                     "(its nonce does not match it); nothing was recorded",
                     "{path} answers none of this case's {n} pending offline requests "
                     "(its nonce matches none of them); nothing was recorded", len(pending)).format(path=reply_path, n=len(pending))
        )
    meta_path, meta = match
    folder = meta_path.parent
    cp_path = folder / "checkpoint.txt"
    try:
        cp_bytes = cp_path.read_bytes()
        cp = Checkpoint.parse(cp_bytes.decode("ascii"))
    except (OSError, ValueError) as exc:
        raise StorageError(_("cannot read the checkpoint {path} of the offline request: {error}").format(
            path=cp_path, error=exc)) from exc
    roots = trusted_certificates(case)
    verdict = verify_reply(blob, data=cp_bytes, roots=roots, nonce=int(meta["nonce"]))
    if not verdict.signature_valid:
        raise TokenRejected(_("{path} does not verify: {reason}; nothing was recorded").format(
            path=reply_path, reason=verdict.message))
    source = f"imported from {reply_path.name}"
    with case.locked():
        scan = _still_prefix(case, cp)
        stem = folder / _next_stem(folder, "tsa")
        tsq_src = meta_path.with_suffix(".tsq")
        atomic_write(stem.with_suffix(".tsq"), tsq_src.read_bytes(), overwrite=False)
        atomic_write(stem.with_suffix(".chain.pem"), pem_chain(_chain_for(blob, verdict, roots)), overwrite=False)
        atomic_write(stem.with_suffix(".tsr"), blob, overwrite=False)
        tokens = [_token_record(case, source, stem, blob, verdict, stem.with_suffix(".tsq"))]
        entry = case.ledger.append([NewEvent("sealed", None, _sealed_data(case, cp, cp_path, cp_bytes, tokens, []))], scan=scan)[0]
        for leftover in (meta_path, tsq_src):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass
    outcome = TsaOutcome(source, verdict, None, 0.0, rel(case, stem.with_suffix(".tsr")))
    return SealResult(cp, entry, [outcome])


def _already_imported(case: Case, blob: bytes) -> SealResult | None:
    """The seal that already holds this exact reply, as a result that appends nothing."""
    digest = hashlib.sha256(blob).hexdigest()
    for entry in case.ledger.scan().entries:
        if entry.event != "sealed":
            continue
        for tok in entry.data.get("tokens", []):
            if tok.get("tsr_sha256") != digest:
                continue
            cp_path = case.paths.state / str(entry.data.get("checkpoint", {}).get("file", ""))
            try:
                cp_bytes = cp_path.read_bytes()
                cp = Checkpoint.parse(cp_bytes.decode("ascii"))
            except (OSError, ValueError) as exc:
                raise StorageError(_("this reply is already imported (seal entry #{seq}), but its checkpoint {path} "
                                     "cannot be read: run 'plitool verify'").format(seq=entry.seq, path=cp_path)) from exc
            verdict = verify_reply(blob, data=cp_bytes, roots=trusted_certificates(case))
            outcome = TsaOutcome(str(tok.get("tsa", "")), verdict, None, 0.0, str(tok.get("tsr")))
            return SealResult(cp, entry, [outcome], already_imported=True)
    return None


# -- reading seals back --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredToken:
    seal_seq: int
    size: int
    tsa: str
    tsr: Path
    chain: Path
    checkpoint: Path
    record: dict[str, Any]


def stored_tokens(case: Case, entries: Sequence[Entry]) -> list[StoredToken]:
    """Every token named by a ``sealed`` entry, in ledger order."""
    out = []
    for entry in entries:
        if entry.event != "sealed":
            continue
        cp = entry.data.get("checkpoint", {})
        for tok in entry.data.get("tokens", []):
            out.append(StoredToken(
                seal_seq=entry.seq,
                size=int(cp.get("size", 0)),
                tsa=str(tok.get("tsa", "")),
                tsr=case.paths.state / str(tok.get("tsr", "")),
                chain=case.paths.state / str(tok.get("chain", "")),
                checkpoint=case.paths.state / str(cp.get("file", "")),
                record=tok,
            ))
    return out


# -- checking stored seals (used by ``verify``) -------------------------------------------------


@dataclass(frozen=True)
class TrustedTime:
    time: datetime
    tsa: str
    checkpoint: int

    def as_json(self) -> dict[str, Any]:
        return {"existed_no_later_than": iso_z(self.time), "tsa": self.tsa, "checkpoint": self.checkpoint}


@dataclass
class SealCheck:
    seals: int = 0
    tokens: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    notes: list[str] = field(default_factory=list)
    trusted_times: dict[str, TrustedTime] = field(default_factory=dict)
    #: the largest ledger size pinned by a seal that holds (consistent, token from a trusted root)
    covered_size: int = 0


def check_seals(case: Case, entries: Sequence[Entry], item_seqs: dict[str, int]) -> SealCheck:
    """Check every stored token, every sealed checkpoint's consistency with the ledger, and work
    out, for each item (id -> seq of its ``added`` entry), the earliest trusted time covering it."""
    from .trust import unlogged_trust_files

    out = SealCheck()
    leaves = [e.leaf for e in entries]
    current_root = merkle.root(leaves)
    roots = trusted_certificates(case, entries=entries)
    checked_sizes: dict[int, bool] = {}
    best: dict[int, tuple[datetime, str]] = {}  # checkpoint size -> earliest trusted time there
    referenced: set[Path] = set()
    for entry in entries:
        if entry.event != "sealed":
            continue
        out.seals += 1
        cp_rec = entry.data.get("checkpoint", {})
        size = int(cp_rec.get("size", -1))
        cp_path = case.paths.state / str(cp_rec.get("file", ""))
        referenced.add(cp_path)
        label = _("seal #{seq} (checkpoint {size})").format(seq=entry.seq, size=size)
        try:
            cp_bytes = _read_state(cp_path)
            cp = Checkpoint.parse(cp_bytes.decode("ascii"))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            out.problems.append(("seal", _("{label}: its checkpoint file {path} cannot be read ({reason}); the ledger "
                                           "says it exists").format(label=label, path=cp_path, reason=reason)))
            if not 0 < size <= len(entries):
                continue
            # The tokens are still evidence: judge them against the checkpoint rebuilt from the ledger.
            cp = Checkpoint(case.origin, size, merkle.roots_at(leaves, [size])[size])
            cp_bytes = cp.text().encode("ascii")
            if hashlib.sha256(cp_bytes).hexdigest() != cp_rec.get("sha256"):
                out.problems.append(("seal", _("{label}: the ledger's first {size} entries no longer have the root "
                                               "the seal recorded: one of them was changed").format(label=label, size=size)))
                checked_sizes[size] = False
        consistent = True
        if checked_sizes.get(size) is False:
            consistent = False
        elif hashlib.sha256(cp_bytes).hexdigest() != cp_rec.get("sha256") or cp.size != size or \
                base64.b64encode(cp.root).decode() != cp_rec.get("root"):
            out.problems.append(("seal", _("{label}: the checkpoint file {name} is not the one recorded (changed)").format(
                label=label, name=cp_path.name)))
            consistent = False
        elif cp.origin != case.origin:
            out.problems.append(("seal", _("{label}: the checkpoint belongs to another log ({origin})").format(
                label=label, origin=cp.origin)))
            consistent = False
        elif size not in checked_sizes:
            if size > len(entries):
                out.problems.append(("seal", _("{label}: the ledger is cut short below a sealed checkpoint "
                                               "({entries} entries, {size} were sealed)").format(
                    label=label, entries=len(entries), size=size)))
                checked_sizes[size] = False
            else:
                proof = merkle.consistency_proof(leaves, size) if size < len(leaves) else []
                ok = merkle.verify_consistency(size, len(leaves), cp.root, current_root, proof)
                if not ok:
                    out.problems.append(("seal", _("{label}: the ledger is not an extension of the sealed checkpoint: "
                                                   "one of its first {size} entries was changed").format(label=label, size=size)))
                checked_sizes[size] = ok
        consistent = consistent and checked_sizes.get(size, False)
        for tok in entry.data.get("tokens", []):
            tsr = case.paths.state / str(tok.get("tsr", ""))
            chain = case.paths.state / str(tok.get("chain", ""))
            referenced.update({tsr, chain, case.paths.state / str(tok.get("tsq") or "")})
            record: dict[str, Any] = {"seal": entry.seq, "checkpoint": size, "tsa": tok.get("tsa"), "tsr": tok.get("tsr")}
            try:
                blob = _read_state(tsr)
            except OSError as exc:
                out.problems.append(("timestamp", _("{label}: token {name} from {tsa} is missing ({reason})").format(
                    label=label, name=tsr.name, tsa=tok.get("tsa"), reason=exc.strerror)))
                out.tokens.append({**record, "verdict": "missing"})
                continue
            if hashlib.sha256(blob).hexdigest() != tok.get("tsr_sha256"):
                out.problems.append(("timestamp", _("{label}: token {name} is not the one recorded (changed)").format(
                    label=label, name=tsr.name)))
                out.tokens.append({**record, "verdict": "changed"})
                continue
            try:
                extra = load_certificates(_read_state(chain))
            except (OSError, ValueError):
                extra = []
            verdict = verify_reply(blob, data=cp_bytes, roots=roots, extra_certs=extra)
            out.tokens.append({**record, **verdict.as_json()})
            if verdict.status == "untrusted":
                out.problems.append(("timestamp", _("{label}: token {name} from {tsa}: {reason}; "
                                                    "if you trust it: plitool trust add ROOT.pem").format(
                    label=label, name=tsr.name, tsa=tok.get("tsa"), reason=verdict.message)))
            elif not verdict.ok:
                out.problems.append(("timestamp", _("{label}: token {name} from {tsa} does not verify: {reason}").format(
                    label=label, name=tsr.name, tsa=tok.get("tsa"), reason=verdict.message)))
            elif consistent and verdict.info is not None:
                when = (verdict.info.gen_time, verdict.info.tsa_name or verdict.info.signer or str(tok.get("tsa")))
                if size not in best or when < best[size]:
                    best[size] = when
    out.trusted_times = _earliest_cover(best, item_seqs)
    for path in unlogged_trust_files(case, entries):
        out.problems.append(("trust", _("trust root {name} is in the trust store but was never added with "
                                        "'plitool trust add' (no ledger entry): it is ignored; remove it or add it properly").format(
            name=path.name)))
    from .trust import missing_trust_files

    for entry, path in missing_trust_files(case, entries):
        out.problems.append(("trust", _("trust root {name} (added by entry #{seq}) is missing from the trust store: "
                                        "{path} was deleted or replaced").format(
            name=entry.data.get("name") or entry.data.get("sha256"), seq=entry.seq, path=path)))
    out.covered_size = max((size for size in best), default=0)
    base = timestamps_dir(case)
    if base.is_dir():
        _check_unreferenced_checkpoints(case, base, referenced, leaves, out)
        _check_unreferenced_tokens(case, base, referenced, leaves, out)
        stray = [p for p in base.glob("*/*") if p.is_file() and p not in referenced and not p.name.startswith("offline-")
                 and p.suffix != ".tsr"]
        if stray:
            out.notes.append(ngettext("{n} file under {folder} is named by no seal (an interrupted seal?): {files}",
                                       "{n} files under {folder} are named by no seal (an interrupted seal?): {files}",
                                       len(stray)).format(
                n=len(stray), folder=base, files=", ".join(p.relative_to(base).as_posix() for p in stray[:5])))
        pending = list(base.glob("*/offline-*.json"))
        if pending:
            out.notes.append(ngettext("{n} offline seal request waits for a reply: 'plitool seal --import REPLY.tsr'",
                                       "{n} offline seal requests wait for a reply: 'plitool seal --import REPLY.tsr'",
                                       len(pending)).format(
                n=len(pending)))
    return out


def _check_unreferenced_checkpoints(case: Case, base: Path, referenced: set[Path], leaves: list[bytes], out: SealCheck) -> None:
    """A timestamped checkpoint whose ``sealed`` entry is gone still pins the ledger's head.

    Cutting the ledger back to before a seal removes the seal's entry, not its files: a stored
    checkpoint larger than the ledger, or one that no longer matches it, is a problem.
    """
    found: list[tuple[Path, Checkpoint]] = []
    for path in sorted(base.glob("*/checkpoint.txt")):
        if path in referenced:
            continue
        try:
            cp = Checkpoint.parse(_read_state(path).decode("ascii"))
        except (OSError, ValueError, UnicodeDecodeError):
            out.problems.append(("seal", _("{path} cannot be read as a checkpoint").format(path=path)))
            continue
        if cp.origin == case.origin:
            found.append((path, cp))
    sizes = [cp.size for _path, cp in found if cp.size <= len(leaves)]
    roots = merkle.roots_at(leaves, sizes)
    for path, cp in found:
        has_token = any(path.parent.glob("*.tsr"))
        if cp.size > len(leaves):
            message = (_("the ledger is cut short: {folder}/checkpoint.txt was timestamped and records {size} entries, "
                         "the ledger holds {held}") if has_token else
                       _("the ledger is cut short: {folder}/checkpoint.txt records {size} entries, "
                         "the ledger holds {held}"))
            out.problems.append(("seal", message.format(folder=path.parent.name, size=cp.size, held=len(leaves))))
        elif roots.get(cp.size) != cp.root:
            out.problems.append(("seal", _("{folder}/checkpoint.txt does not match the ledger: "
                                           "one of its first {size} entries was changed").format(
                folder=path.parent.name, size=cp.size)))


def _check_unreferenced_tokens(case: Case, base: Path, referenced: set[Path], leaves: list[bytes], out: SealCheck) -> None:
    """Every stored token is evidence, named by a ``sealed`` entry or not.

    A token binds the checkpoint of the ledger at its folder's size. Rebuilt from the ledger
    itself (not from a ``checkpoint.txt`` that can be deleted), that checkpoint must carry the
    token's message imprint; a token that matches no prefix of this ledger shows the ledger was
    rewritten after it was sealed.
    """
    for tsr in sorted(base.glob("*/*.tsr")):
        if tsr in referenced:
            continue
        shown = tsr.relative_to(base).as_posix()
        try:
            info = reply_info(_read_state(tsr))
        except (OSError, ValueError) as exc:
            out.problems.append(("seal", _("stored token {path} cannot be read as a timestamp reply ({error})").format(
                path=shown, error=exc)))
            continue
        size = int(tsr.parent.name) if tsr.parent.name.isdigit() else -1
        if size > len(leaves):
            out.problems.append(("seal", _("the ledger is cut short: token {path} timestamps a ledger of {size} entries, "
                                           "the ledger holds {n}").format(path=shown, size=size, n=len(leaves))))
            continue
        matches = False
        if size > 0 and info.hash_name in ("sha256", "sha384", "sha512"):
            text = Checkpoint(case.origin, size, merkle.roots_at(leaves, [size])[size]).text().encode("ascii")
            matches = hashlib.new(info.hash_name, text).digest() == info.imprint
        if matches:
            out.notes.append(_("token {path} is named by no seal entry but timestamps this ledger's first {size} "
                               "entries (an interrupted seal?)").format(path=shown, size=size))
        else:
            out.problems.append(("seal", _("stored token {path} ({time}) timestamps a checkpoint that matches no prefix "
                                           "of this ledger: the ledger was rewritten after it was sealed").format(
                path=shown, time=iso_z(info.gen_time))))


def sealed_size(case: Case, entries: Sequence[Entry]) -> int:
    """The largest ledger size a seal covers, from the ledger and the seals folder alone.

    Cheap (no token is verified): for ``list`` and ``show``. ``verify`` checks the tokens.
    """
    return sealed_size_of(case, entries, len(entries))


def sealed_size_of(case: Case, entries: Sequence[Entry], total: int) -> int:
    """:func:`sealed_size` over the ``sealed`` entries (others are skipped) of a ledger of ``total`` entries."""
    best = 0
    for entry in entries:
        if entry.event != "sealed":
            continue
        size = entry.data.get("checkpoint", {}).get("size")
        if not isinstance(size, int) or size > total or size <= best:
            continue
        if any((case.paths.state / str(tok.get("tsr", ""))).is_file() for tok in entry.data.get("tokens", [])):
            best = size
    return best


@dataclass(frozen=True)
class UnsealedTail:
    """What no seal covers: times that rest on this machine's clock only."""

    never_sealed: bool
    covered_size: int
    entries: tuple[int, int] | None
    items: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "never_sealed": self.never_sealed,
            "covered_size": self.covered_size,
            "entries": list(self.entries) if self.entries else None,
            "items": list(self.items),
        }


def unsealed_tail(entries: Sequence[Entry], covered_size: int, item_seqs: dict[str, int]) -> UnsealedTail:
    """Entries after the last covered size, and the items they add.

    A ``sealed`` entry always follows the checkpoint it seals: a tail of nothing but ``sealed``
    entries is not reported (each is backed by its own token).
    """
    never = not any(e.event == "sealed" for e in entries)
    tail = [e for e in entries if e.seq > covered_size]
    span = (tail[0].seq, tail[-1].seq) if tail and any(e.event != "sealed" for e in tail) else None
    items = tuple(sorted((i for i, seq in item_seqs.items() if seq > covered_size), key=lambda i: item_seqs[i]))
    return UnsealedTail(never, covered_size, span, items)


def _earliest_cover(best: dict[int, tuple[datetime, str]], item_seqs: dict[str, int]) -> dict[str, TrustedTime]:
    """For each item, the earliest trusted time among checkpoints that include its entry."""
    import bisect

    sizes = sorted(best)
    suffix: list[tuple[datetime, str, int]] = []
    acc: tuple[datetime, str, int] | None = None
    for size in reversed(sizes):
        cand = (*best[size], size)
        acc = cand if acc is None or cand[0] <= acc[0] else acc
        suffix.append(acc)
    suffix.reverse()
    out: dict[str, TrustedTime] = {}
    for item, seq in item_seqs.items():
        i = bisect.bisect_left(sizes, seq)
        if i < len(sizes):
            t, tsa, size = suffix[i]
            out[item] = TrustedTime(t, tsa, size)
    return out
