"""One error hierarchy for plitool.

The library raises these and never prints or exits; the CLI catches :class:`PlitoolError` once
and turns it into a message on stderr and the exit code below. The codes are part of the
interface (documented in the README) and stay stable:

====  ==============================================================================
code  meaning
====  ==============================================================================
0     everything held
1     verification failed: evidence, ledger or a checkpoint does not match
2     usage: bad arguments or input (missing path, directory without ``-r``, no case,
      a broken ``case.toml``, an unknown evidence id, an output that already exists)
3     environment: a file cannot be read or written, a digest or tool is unavailable
4     a source file changed while it was being read (nothing was recorded)
5     the case's ledger is damaged and must be checked (``plitool verify``/``repair``)
====  ==============================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_SOURCE_CHANGED = 4
EXIT_LEDGER_DAMAGED = 5


class PlitoolError(Exception):
    """Base class: every error plitool raises on purpose. ``str(err)`` is for the user."""

    exit_code: int = EXIT_ENVIRONMENT


# -- usage (2) ---------------------------------------------------------------------------


class UsageError(PlitoolError):
    exit_code = EXIT_USAGE


class InputNotFound(UsageError):
    """A path named by the user does not exist."""


class IsADirectoryWithoutRecursion(UsageError):
    """A directory was given to ``add`` without ``-r``."""


class CaseNotFound(UsageError):
    """No case workspace at or above the given folder."""


class CaseExists(UsageError):
    """``init`` refuses to overwrite an existing case."""


class CaseConfigError(UsageError):
    """``case.toml`` cannot be parsed or holds a bad value."""


class UnknownEvidence(UsageError):
    """An evidence id that the ledger does not know."""


class OutputExists(UsageError):
    """An output file exists and ``--force`` was not given."""


# -- environment (3) ---------------------------------------------------------------------


class EnvironmentProblem(PlitoolError):
    exit_code = EXIT_ENVIRONMENT


class UnreadableInput(EnvironmentProblem):
    """A file exists but cannot be read (permissions, I/O error)."""


class AlgorithmUnavailable(EnvironmentProblem):
    """A digest was asked for that this Python/OpenSSL cannot compute."""


class StorageError(EnvironmentProblem):
    """The case workspace cannot be written, or a stored object is not what it should be."""


# -- others ------------------------------------------------------------------------------


class SourceChanged(PlitoolError):
    """The file's size or modification time moved while it was read: the bytes are not stable."""

    exit_code = EXIT_SOURCE_CHANGED


class LedgerDamaged(PlitoolError):
    """The ledger cannot be appended to safely (partial last line, broken chain)."""

    exit_code = EXIT_LEDGER_DAMAGED


class VerificationFailed(PlitoolError):
    """Raised by callers that want an exception for a failed verification."""

    exit_code = EXIT_VERIFICATION_FAILED


# -- a document that cannot be scanned (1: a problem found; the rest of a batch goes on) ---


class DocumentProblem(PlitoolError):
    """One evidence file could not be (fully) scanned; reported by name, the batch continues."""

    exit_code = EXIT_VERIFICATION_FAILED


class CorruptDocument(DocumentProblem):
    """A PDF, DOCX, XLSX, CSV, JSON, HAR or e-mail file that its parser cannot read."""


class EncryptedDocument(DocumentProblem):
    """An encrypted PDF without a (right) ``--password``."""


class UnsafeArchive(DocumentProblem):
    """A DOCX/XLSX whose decompressed size or ratio exceeds the limits (a zip bomb)."""


# -- trusted timestamps (issue 3) --------------------------------------------------------


class NoTimestampAuthority(UsageError):
    """``seal`` was asked to reach a TSA but none is configured (``case.toml`` or ``--tsa``)."""


class NotSealed(UsageError):
    """``prove`` for an item that no sealed checkpoint covers yet."""


class ProofUnreadable(UsageError):
    """A proof file that is not a plitool proof (or not one this version reads)."""


class BadCertificate(UsageError):
    """A trust root or chain file that holds no readable X.509 certificate."""


class TsaFailed(EnvironmentProblem):
    """One TSA could not be reached or gave no usable answer (the message names it)."""


class SealFailed(EnvironmentProblem):
    """No TSA answered with a valid token; nothing was recorded."""


class TokenRejected(VerificationFailed):
    """A timestamp reply does not verify (``seal --import``): nothing was recorded."""


# -- provenance (issue 9) ----------------------------------------------------------------


class FlowsError(UsageError):
    """``flows.yaml`` (or the derived layer) cannot be used: every problem is named with its line.

    ``problems`` holds them as ``(line, message)`` pairs (line 0: the file as a whole), so that
    ``plitool graph check --json`` can list them one by one.
    """

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[int, str]] = list(problems or [])


class GraphvizMissing(EnvironmentProblem):
    """A picture (SVG/PNG) was asked for but Graphviz ``dot`` is not installed or failed."""
