"""The case's trust store: the roots whose timestamps count as trusted.

Roots live in ``.plitool/trust/<sha256 of the DER>.pem``; adding one is logged in the ledger
(event ``trusted``), so the record shows who decided to trust which TSA and when. The
operating system's or ``certifi``'s web roots count only when ``case.toml`` opts in
(``[timestamps] system_roots = true``) or a command is told so: they are many, and a court may
ask why each was trusted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadCertificate, PlitoolError, StorageError
from ..fsutil import atomic_write, read_input
from ..i18n import _
from ..vault.ledger import Entry, NewEvent
from .timestamp import fingerprint, is_self_signed, iso_z, load_certificates, pem_chain

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from ..vault.case import Case

TRUST_DIR = "trust"


@dataclass(frozen=True)
class TrustRoot:
    name: str
    sha256: str
    subject: str
    not_after: str
    source: str  # "case" or "system"
    path: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "subject": self.subject,
            "not_after": self.not_after,
            "source": self.source,
            "path": self.path,
        }


def trust_dir(case: Case) -> Path:
    return case.paths.state / TRUST_DIR


def _describe(cert: Certificate, name: str, source: str, path: str = "") -> TrustRoot:
    return TrustRoot(
        name=name,
        sha256=fingerprint(cert),
        subject=cert.subject.rfc4514_string(),
        not_after=iso_z(cert.not_valid_after_utc),
        source=source,
        path=path,
    )


def read_certificate_file(path: Path) -> list[Certificate]:
    blob = read_input(path)
    try:
        certs = load_certificates(blob)
    except ValueError as exc:
        raise BadCertificate(_("{path} holds no readable X.509 certificate (PEM or DER): {error}").format(
            path=path, error=exc)) from exc
    if not certs:
        raise BadCertificate(_("{path} holds no certificate").format(path=path))
    return certs


def add_trust_roots(case: Case, path: Path, name: str | None = None) -> list[tuple[TrustRoot, bool]]:
    """Copy the root(s) in ``path`` into the trust store; log each new one. (root, newly added)."""
    certs = read_certificate_file(path)
    for cert in certs:
        if not is_self_signed(cert):
            raise BadCertificate(
                _("{path}: {subject} is not a root (it is issued by "
                  "{issuer}); add the self-signed root at the top of its chain").format(
                    path=path, subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string())
            )
    out: list[tuple[TrustRoot, bool]] = []
    folder = trust_dir(case)
    with case.locked():
        scan = case.ledger.require_healthy()
        logged = _logged(scan.entries)
        events = []
        for i, cert in enumerate(certs):
            label = name or cert.subject.rfc4514_string()
            if name and len(certs) > 1:
                label = f"{name} ({i + 1})"
            fp = fingerprint(cert)
            target = folder / f"{fp}.pem"
            rel = f"{TRUST_DIR}/{target.name}"
            root = _describe(cert, label, "case", rel)
            if fp in logged:
                out.append((_describe(cert, logged[fp], "case", rel), False))
                continue
            atomic_write(target, pem_chain([cert]))
            events.append(NewEvent("trusted", None, {
                "name": label, "sha256": fp, "subject": root.subject, "not_after": root.not_after,
                "file": rel, "source_file": os.path.basename(str(path)),
            }))
            out.append((root, True))
        case.ledger.append(events, scan=scan)
    return out


def _logged(entries: Sequence[Entry]) -> dict[str, str]:
    """sha256 -> name of every root added through the ledger (``trusted`` events)."""
    return {str(e.data.get("sha256")): str(e.data.get("name", "")) for e in entries if e.event == "trusted"}


def case_trust_roots(case: Case, entries: Sequence[Entry] | None = None) -> list[tuple[TrustRoot, Certificate]]:
    """The case's roots. A file in the store without its ledger entry does not count."""
    folder = trust_dir(case)
    if not folder.is_dir():
        return []
    names = _logged(entries if entries is not None else case.ledger.scan().entries)
    out = []
    for path in sorted(folder.glob("*.pem")):
        try:
            certs = read_certificate_file(path)
        except (BadCertificate, StorageError):
            continue
        for cert in certs:
            fp = fingerprint(cert)
            if fp in names and path.name == f"{fp}.pem":
                out.append((_describe(cert, names[fp], "case", f"{TRUST_DIR}/{path.name}"), cert))
    return out


def unlogged_trust_files(case: Case, entries: Sequence[Entry]) -> list[Path]:
    folder = trust_dir(case)
    if not folder.is_dir():
        return []
    names = _logged(entries)
    return [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".tmp-")
            and p.name.removesuffix(".pem") not in names]


def missing_trust_files(case: Case, entries: Sequence[Entry]) -> list[tuple[Entry, Path]]:
    """``trusted`` entries whose root is no longer in the trust store (file deleted or replaced).

    The ledger says what must exist: deleting ``trust/`` would otherwise only turn every token
    "untrusted", as if the roots had never been added.
    """
    out = []
    for entry in entries:
        if entry.event != "trusted":
            continue
        fp = str(entry.data.get("sha256", ""))
        path = case.paths.state / str(entry.data.get("file") or f"{TRUST_DIR}/{fp}.pem")
        try:
            ok = any(fingerprint(c) == fp for c in read_certificate_file(path))
        except (PlitoolError, OSError):
            ok = False
        if not ok:
            out.append((entry, path))
    return out


def system_trust_roots() -> list[tuple[TrustRoot, Certificate]]:
    """certifi's bundle when installed, else the system's default CA file."""
    bundle: str | None = None
    try:
        import certifi  # type: ignore[import-not-found]

        bundle = certifi.where()
    except ImportError:
        import ssl

        paths = ssl.get_default_verify_paths()
        for candidate in (paths.cafile, "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
            if candidate and os.path.isfile(candidate):
                bundle = candidate
                break
    if bundle is None:
        return []
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some old web roots have non-positive serials
            certs = load_certificates(Path(bundle).read_bytes())
    except (OSError, ValueError):
        return []
    return [(_describe(c, "system", "system", bundle), c) for c in certs if c.issuer == c.subject]


def trusted_certificates(
    case: Case | None,
    *,
    extra: list[Certificate] | None = None,
    system: bool | None = None,
    entries: Sequence[Entry] | None = None,
) -> list[Certificate]:
    """The roots a verdict may call trusted: the case's, ``extra`` (``--ca``), and system if asked."""
    roots: list[Certificate] = list(extra or [])
    if case is not None:
        roots += [c for _root, c in case_trust_roots(case, entries)]
        if system is None:
            system = case.config.system_roots
    if system:
        roots += [c for _root, c in system_trust_roots()]
    return roots
