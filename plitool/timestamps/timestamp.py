"""RFC 3161 trusted timestamps: build a request, ask a TSA, and give a verdict on any reply.

A verdict is one of three, and never anything in between:

``valid``
    status granted, the CMS signature verifies, the TSA certificate carries the critical
    ``timeStamping`` extended key usage, its chain reaches one of the trusted roots (checked at the
    token's own time) and the message imprint (and nonce, when known) is the one expected.
``untrusted``
    the same, except that the chain ends in a root nobody said to trust: "signature valid, root
    not trusted". Reported, never silently accepted.
``invalid``
    anything else, with the reason.

The exact bytes received are what plitool stores and what ``openssl ts -verify`` checks. Some
tokens (OpenSSL's own ``ts -reply`` when it embeds extra certificates, and some commercial TSAs)
list their certificates in a SET that is not in DER order, which ``rfc3161-client`` refuses to
parse. The signature does not cover that SET, so for checking only, the SET is re-ordered in
memory (:func:`der_sort_certificate_set`) and the verdict says so.

``rfc3161_client``, ``cryptography`` and ``urllib`` are imported inside functions so that
``plitool --help`` and ``seal --offline`` start fast.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import TsaFailed, UsageError
from ..i18n import _

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: Hash names accepted for the request imprint (rfc3161-client builds SHA-256 and SHA-512).
REQUEST_HASHES = ("sha256", "sha512")
#: Imprint algorithms a reply may use, by OID.
IMPRINT_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
DEFAULT_TIMEOUT = 10.0
MAX_REPLY_BYTES = 1 << 20
USER_AGENT = "plitool-timestamp/1"


# -- requests and the network ----------------------------------------------------------------


@dataclass(frozen=True)
class TimestampQuery:
    """A TimeStampReq: its DER bytes and what the reply must echo."""

    der: bytes
    nonce: int
    hash_name: str
    digest: bytes


def make_query(data: bytes, hash_name: str = "sha256") -> TimestampQuery:
    """An RFC 3161 request over ``data``: imprint ``hash_name``, a random nonce, certReq true.

    Built by rfc3161-client (imported here, not at start-up: about 0.05 s of an offline seal's
    time), not by hand: the request's DER is the library's to get right."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    if hash_name not in REQUEST_HASHES:
        raise UsageError(
            _("--hash must be one of {choices}, not {given!r}").format(choices=", ".join(REQUEST_HASHES), given=hash_name)
        )
    algorithm = HashAlgorithm.SHA256 if hash_name == "sha256" else HashAlgorithm.SHA512
    req = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(algorithm)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = req.nonce
    assert nonce is not None
    return TimestampQuery(req.as_bytes(), int(nonce), hash_name, hashlib.new(hash_name, data).digest())


def post_query(url: str, query: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """POST ``query`` to a TSA and return the body of its answer; :class:`TsaFailed` otherwise."""
    import socket
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise UsageError(_("TSA address {url!r} is not an http:// or https:// URL").format(url=url))
    request = urllib.request.Request(
        url,
        data=query,
        method="POST",
        headers={
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            body: bytes = answer.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TsaFailed(
            _("{url}: the TSA answered HTTP {code} {reason}").format(url=url, code=exc.code, reason=exc.reason)
        ) from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise TsaFailed(_("{url}: no answer within {timeout:g} s (timed out)").format(url=url, timeout=timeout)) from exc
        raise TsaFailed(_("{url}: cannot reach the TSA ({reason})").format(url=url, reason=reason)) from exc
    except (socket.timeout, TimeoutError) as exc:
        raise TsaFailed(_("{url}: no answer within {timeout:g} s (timed out)").format(url=url, timeout=timeout)) from exc
    except (OSError, ValueError) as exc:
        raise TsaFailed(_("{url}: the connection failed ({error})").format(url=url, error=exc)) from exc
    if len(body) > MAX_REPLY_BYTES:
        raise TsaFailed(
            _("{url}: the answer is larger than {limit} bytes; not a timestamp reply").format(url=url, limit=MAX_REPLY_BYTES)
        )
    if not body:
        raise TsaFailed(_("{url}: the TSA answered with an empty body").format(url=url))
    return body


# -- certificates ----------------------------------------------------------------------------


def load_certificates(blob: bytes) -> list[Certificate]:
    """Every certificate in a PEM bundle, or the one certificate of a DER file."""
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE-----" in blob:
        return list(x509.load_pem_x509_certificates(blob))
    return [x509.load_der_x509_certificate(blob)]


def fingerprint(cert: Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


def is_self_signed(cert: Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
        return False
    return True


def pem_chain(certs: Sequence[Certificate]) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


# -- DER surgery: re-order the certificate SET -----------------------------------------------


class _DerError(ValueError):
    pass


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the DER element at ``pos``."""
    if pos + 2 > len(buf):
        raise _DerError(_("truncated"))
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise _DerError(_("high tag numbers are not used here"))
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise _DerError(_("indefinite length (BER, not DER)"))
    else:
        n = first & 0x7F
        if n > 4 or pos + n > len(buf):
            raise _DerError(_("bad length"))
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise _DerError(_("truncated"))
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, element end) of each element in buf[start:end]."""
    out = []
    pos = start
    while pos < end:
        tag, content, stop = _tlv(buf, pos)
        out.append((tag, pos, content, stop))
        pos = stop
    if pos != end:
        raise _DerError(_("elements overrun their container"))
    return out


def _encode(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _sort_set_of(elements: list[bytes]) -> list[bytes]:
    # X.690 11.6: ascending order of the encodings, the shorter padded with trailing zeros.
    width = max((len(e) for e in elements), default=0)
    return sorted(elements, key=lambda e: e.ljust(width, b"\0"))


def _fix_content_info(token: bytes) -> bytes:
    """Re-encode a ContentInfo(SignedData) with its certificates [0] SET in DER order."""
    tag, c0, end = _tlv(token, 0)
    if tag != 0x30 or end != len(token):
        raise _DerError(_("the token is not a SEQUENCE"))
    parts = _children(token, c0, end)
    if len(parts) != 2 or parts[0][0] != 0x06 or parts[1][0] != 0xA0:
        raise _DerError(_("the token is not a CMS ContentInfo"))
    explicit = parts[1]
    inner = _children(token, explicit[2], explicit[3])
    if len(inner) != 1 or inner[0][0] != 0x30:
        raise _DerError(_("the token does not hold a SignedData"))
    sd = inner[0]
    fields = _children(token, sd[2], sd[3])
    rebuilt = []
    for ftag, fstart, fcontent, fend in fields:
        if ftag in (0xA0, 0xA1):  # certificates [0] and crls [1], IMPLICIT SET OF
            elems = [token[start:stop] for _tag, start, _content, stop in _children(token, fcontent, fend)]
            rebuilt.append(_encode(ftag, b"".join(_sort_set_of(elems))))
        else:
            rebuilt.append(token[fstart:fend])
    signed_data = _encode(0x30, b"".join(rebuilt))
    return _encode(0x30, token[parts[0][1] : parts[0][3]] + _encode(0xA0, signed_data))


def split_reply(blob: bytes) -> tuple[bytes | None, bytes | None]:
    """(PKIStatusInfo DER, token DER) of a TimeStampResp; (None, token) for a bare token."""
    tag, c0, end = _tlv(blob, 0)
    if tag != 0x30:
        raise _DerError(_("not a DER SEQUENCE"))
    if end != len(blob):
        raise _DerError(_("{count} stray bytes after the DER structure").format(count=len(blob) - end))
    parts = _children(blob, c0, end)
    if parts and parts[0][0] == 0x06:  # ContentInfo: a bare TimeStampToken
        return None, blob
    if not parts or parts[0][0] != 0x30 or len(parts) > 2:
        raise _DerError(_("not a TimeStampResp"))
    status = blob[parts[0][1] : parts[0][3]]
    token = blob[parts[1][1] : parts[1][3]] if len(parts) == 2 else None
    return status, token


def der_sort_certificate_set(blob: bytes) -> bytes:
    """The same reply with the token's certificate SET in DER order (signature unaffected)."""
    status, token = split_reply(blob)
    if token is None:
        return blob
    fixed = _fix_content_info(token)
    if status is None:
        return fixed
    return _encode(0x30, status + fixed)


# -- verdicts --------------------------------------------------------------------------------

STATUS_NAMES = {0: "granted", 1: "grantedWithMods", 2: "rejection", 3: "waiting", 4: "revocationWarning", 5: "revocationNotification"}


@dataclass(frozen=True)
class TokenInfo:
    """What a token says, whatever the verdict."""

    gen_time: datetime
    tsa_name: str
    signer: str
    policy: str
    serial: int
    accuracy: str | None
    hash_name: str
    imprint: bytes
    nonce: int | None
    certificates: tuple[bytes, ...] = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "time": iso_z(self.gen_time),
            "tsa_name": self.tsa_name,
            "signer": self.signer,
            "policy": self.policy,
            "serial": str(self.serial),
            "accuracy": self.accuracy,
            "hash": self.hash_name,
            "imprint": self.imprint.hex(),
            "nonce": None if self.nonce is None else str(self.nonce),
            "embedded_certificates": len(self.certificates),
        }


@dataclass(frozen=True)
class TokenVerdict:
    status: str  # valid | untrusted | invalid
    message: str
    info: TokenInfo | None = None
    root: str | None = None  # subject of the root the chain ends in, when known
    root_sha256: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    @property
    def signature_valid(self) -> bool:
        return self.status in ("valid", "untrusted")

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.status,
            "ok": self.ok,
            "message": self.message,
            "root": self.root,
            "root_sha256": self.root_sha256,
            "notes": list(self.notes),
            **({"token": self.info.as_json()} if self.info else {}),
        }


def iso_z(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _name_text(name: Any) -> str:
    try:
        value = getattr(name, "value", name)
        return str(value.rfc4514_string()) if hasattr(value, "rfc4514_string") else str(value)
    except Exception:  # pragma: no cover - exotic GeneralName forms
        return str(name)


def _decode(blob: bytes) -> tuple[Any, list[str]]:
    """Parse with rfc3161-client, fixing what can be fixed without touching signed bytes."""
    from rfc3161_client import decode_timestamp_response

    notes: list[str] = []
    try:
        status, token = split_reply(blob)
    except _DerError as exc:
        raise ValueError(_("not an RFC 3161 reply or token (not DER: {error})").format(error=exc)) from exc
    if status is None:
        notes.append(_("a bare TimeStampToken (no TimeStampResp status); check it with openssl ts -verify -token_in"))
        blob = _encode(0x30, bytes.fromhex("3003020100") + blob)
    try:
        return decode_timestamp_response(blob), notes
    except ValueError as exc:
        if "InvalidSetOrdering" not in str(exc):
            raise ValueError(_("not an RFC 3161 reply or token: {error}").format(error=exc)) from exc
    try:
        fixed = der_sort_certificate_set(blob)
        response = decode_timestamp_response(fixed)
    except ValueError as exc:
        raise ValueError(_("not an RFC 3161 reply or token: {error}").format(error=exc)) from exc
    notes.append(
        _(
            "the token lists its certificates out of DER order (as OpenSSL writes them); they were re-ordered "
            "in memory to check it; the signature does not cover that list and the stored bytes are unchanged"
        )
    )
    return response, notes


def _token_info(response: Any) -> TokenInfo:
    from cryptography import x509

    tst = response.tst_info
    try:
        tsa_name = _name_text(tst.name)
    except ValueError:
        tsa_name = ""
    if tsa_name == "None":
        tsa_name = ""
    acc = tst.accuracy
    accuracy = None
    if acc is not None:
        parts = [f"{acc.seconds or 0}s"]
        if acc.millis:
            parts.append(f"{acc.millis}ms")
        if acc.micros:
            parts.append(f"{acc.micros}us")
        accuracy = "±" + " ".join(parts)
    oid = tst.message_imprint.hash_algorithm.dotted_string
    certs = tuple(sorted(response.signed_data.certificates))
    signer = ""
    infos = list(response.signed_data.signer_infos)
    if len(infos) == 1:
        for der in certs:
            cert = x509.load_der_x509_certificate(der)
            if cert.issuer == infos[0].issuer and cert.serial_number == infos[0].serial_number:
                signer = cert.subject.rfc4514_string()
    policy = tst.policy.dotted_string if tst.policy is not None else ""
    return TokenInfo(
        gen_time=tst.gen_time,
        tsa_name=tsa_name,
        signer=signer,
        policy=policy,
        serial=int(tst.serial_number),
        accuracy=accuracy,
        hash_name=IMPRINT_OIDS.get(oid, oid),
        imprint=bytes(tst.message_imprint.message),
        nonce=None if tst.nonce is None else int(tst.nonce),
        certificates=certs,
    )


def _signer_certificate(response: Any, pool: Sequence[Certificate]) -> Certificate | None:
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    for cert in pool:
        if cert.issuer == infos[0].issuer and cert.serial_number == infos[0].serial_number:
            return cert
    return None


def _does_not_chain(error: str) -> bool:
    """The verifier's error says the chain reached none of the roots it was given."""
    lowered = error.lower()
    return "unable to get local issuer certificate" in lowered or "self-signed certificate in certificate chain" in lowered


def _friendly(error: str) -> str:
    """The verifier's (English, OpenSSL-worded) error in words a reader of the verdict knows."""
    lowered = error.lower()
    if "certificate has expired" in lowered:
        return _("the TSA certificate (or one above it) had expired at the token's time")
    if "certificate is not yet valid" in lowered:
        return _("the TSA certificate (or one above it) was not yet valid at the token's time")
    if "signature failure" in lowered or "digest failure" in lowered or "verify:" in lowered and "ecdsa" in lowered:
        return _("the token's signature does not verify: the token was altered or is not from this TSA")
    if _does_not_chain(error):
        return _("the TSA certificate does not chain to any given root")
    if "signer certificate not found" in lowered:
        return _("the TSA certificate is neither embedded in the token nor supplied (--ca)")
    if "unsuitable certificate purpose" in lowered:
        return _("the TSA certificate may not sign timestamps: it lacks the critical timeStamping extended key usage")
    if "eku" in lowered:
        return _("the TSA certificate may not sign timestamps: {error}").format(error=error)
    # The verifier's own words: no catalogue can know them, so they are shown as they come.
    return error.removeprefix("Error while verifying certificates: ")



def verify_reply(
    blob: bytes,
    *,
    data: bytes | None = None,
    digest: bytes | None = None,
    roots: Sequence[Certificate] = (),
    extra_certs: Sequence[Certificate] = (),
    nonce: int | None = None,
) -> TokenVerdict:
    """The verdict on a TimeStampResp or bare token over ``data`` (or its ``digest``).

    ``roots`` are the trusted roots; ``extra_certs`` are certificates that may complete the
    chain (the TSA certificate of a token that embeds none, intermediates, and roots that are
    *not* trusted but let the signature be checked, e.g. a stored chain).
    """
    from rfc3161_client import VerificationError, VerifierBuilder

    if data is None and digest is None:
        raise UsageError(_("give the data the token should cover, or its digest"))
    try:
        response, notes = _decode(blob)
    except ValueError as exc:
        return TokenVerdict("invalid", str(exc))
    status = int(response.status)
    if status != 0:
        texts = "; ".join(response.status_string) if response.status_string else _("no reason given")
        name = STATUS_NAMES.get(status, str(status))
        return TokenVerdict(
            "invalid",
            _("the TSA did not grant a timestamp: status {status} ({reasons})").format(status=name, reasons=texts),
            notes=tuple(notes),
        )
    try:
        info = _token_info(response)
    except ValueError as exc:
        return TokenVerdict("invalid", _("the token cannot be read: {error}").format(error=exc), notes=tuple(notes))

    def verdict(status: str, message: str, root: Certificate | None = None) -> TokenVerdict:
        return TokenVerdict(
            status, message, info,
            root.subject.rfc4514_string() if root is not None else None,
            fingerprint(root) if root is not None else None,
            tuple(notes),
        )

    if data is not None:
        if info.hash_name not in ("sha256", "sha384", "sha512"):
            return verdict("invalid", _("unsupported imprint algorithm {hash}").format(hash=info.hash_name))
        expected = hashlib.new(info.hash_name, data).digest()
    else:
        assert digest is not None
        expected = digest
    if info.imprint != expected:
        if len(expected) == len(info.imprint):
            why = _("the token is for other data: its {hash} imprint is {imprint}, the data's is {expected}").format(
                hash=info.hash_name, imprint=info.imprint.hex(), expected=expected.hex()
            )
        else:
            why = _("the token's imprint is {hash} ({size} bytes); the digest given has {given} bytes").format(
                hash=info.hash_name, size=len(info.imprint), given=len(expected)
            )
        return verdict("invalid", why)
    if nonce is not None and info.nonce != nonce:
        return verdict(
            "invalid", _("the reply answers another request: nonce {got}, sent {sent}").format(got=info.nonce, sent=nonce)
        )

    from cryptography import x509

    embedded = [x509.load_der_x509_certificate(d) for d in info.certificates]
    pool = embedded + list(extra_certs) + list(roots)
    signer = _signer_certificate(response, pool)
    if signer is None:
        return verdict("invalid", _("the TSA certificate is neither embedded in the token nor supplied (--ca)"))

    def attempt(anchors: Sequence[Certificate]) -> tuple[bool, str, bool]:
        """(verified, the reason it did not, whether that reason is a chain reaching no anchor)."""
        builder = VerifierBuilder()
        for anchor in anchors:
            builder = builder.add_root_certificate(anchor)
        if not embedded:
            builder = builder.tsa_certificate(signer)
        seen = {fingerprint(a) for a in anchors} | {fingerprint(signer)}
        for cert in extra_certs:
            fp = fingerprint(cert)
            if fp not in seen and not is_self_signed(cert) and cert not in embedded:
                seen.add(fp)
                builder = builder.add_intermediate_certificate(cert)
        try:
            builder.build().verify(response, expected)
        except VerificationError as exc:
            return False, _friendly(str(exc)), _does_not_chain(str(exc))
        return True, "", False

    trusted = [c for c in roots if is_self_signed(c)]
    reason, unchained = _("no trusted root was given"), False
    if trusted:
        ok, reason, unchained = attempt(trusted)
        if ok:
            return verdict("valid", _("valid: signature, TSA certificate and chain to a trusted root all hold"),
                           _chain_root(signer, pool, trusted))
    trusted_fps = {fingerprint(c) for c in trusted}
    others = [c for c in embedded + list(extra_certs) if is_self_signed(c) and fingerprint(c) not in trusted_fps]
    unique: dict[str, Certificate] = {fingerprint(c): c for c in others}
    if unique:
        ok, other_reason, _unchained = attempt(list(unique.values()))
        if ok:
            root = _chain_root(signer, pool, list(unique.values()))
            shown = root.subject.rfc4514_string() if root is not None else "?"
            return verdict(
                "untrusted",
                _(
                    "signature valid, root not trusted: the chain ends in {root} (SHA-256 {sha256}), "
                    "which is not among the trusted roots"
                ).format(root=shown, sha256=fingerprint(root) if root is not None else "?"),
                root,
            )
        if not trusted or unchained:
            reason = other_reason  # the chain's own flaw (expired, wrong EKU ...) says more
    elif not trusted:
        reason = _("the chain does not reach any root certificate available here: supply the TSA's root (--ca)")
    return verdict("invalid", reason)


def _chain_root(signer: Certificate, pool: Sequence[Certificate], anchors: Sequence[Certificate]) -> Certificate | None:
    """Follow issuers from the signer up to one of ``anchors`` (by name; good enough to report)."""
    current = signer
    for _depth in range(10):
        for anchor in anchors:
            if current.issuer == anchor.subject:
                return anchor
        parent = next((c for c in pool if c.subject == current.issuer and c is not current), None)
        if parent is None or parent.subject == parent.issuer:
            return parent if parent is not None and parent in anchors else None
        current = parent
    return None


def reply_info(blob: bytes) -> TokenInfo:
    """What a reply says, without judging it (for listings). Raises ValueError if unreadable."""
    response, _notes = _decode(blob)
    if int(response.status) != 0:
        raise ValueError(_("status {status}").format(status=STATUS_NAMES.get(int(response.status), response.status)))
    return _token_info(response)


def embedded_certificates(blob: bytes) -> list[Certificate]:
    from cryptography import x509

    response, _notes = _decode(blob)
    return [x509.load_der_x509_certificate(d) for d in sorted(response.signed_data.certificates)]


def openssl_verify_command(tsr: str, data: str, cafile: str, *, bare_token: bool = False) -> str:
    flag = "-token_in -in" if bare_token else "-in"
    return f"openssl ts -verify {flag} {tsr} -data {data} -CAfile {cafile}"
