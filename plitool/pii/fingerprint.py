"""Keyed BLAKE3 fingerprints of normalised values under the case's secret key.

The same value in two files of one case has the same fingerprint; under another case's key it is
unrelated. The kind is part of the hashed input (``kind 0x1f value``), so a phone number and an ID
number never collide even when their digits agree. The key is read from
``.plitool/keys/fingerprint.key`` and never leaves this object: no repr, no logging, no export.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from ..errors import StorageError
from ..i18n import _

KEY_BYTES = 32
SEPARATOR = b"\x1f"
#: Hex digits shown in tables; JSON carries the whole fingerprint.
PREFIX_LEN = 12


class Fingerprinter:
    __slots__ = ("_key", "_blake3")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"a fingerprint key is {KEY_BYTES} bytes")
        import blake3

        self._key = key
        self._blake3 = blake3.blake3

    @classmethod
    def for_case(cls, key_path: Path) -> Fingerprinter:
        """Load the per-case key; refuses a key file that others may read."""
        try:
            st = os.stat(key_path)
            key = Path(key_path).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(_("the case's fingerprint key {path} is missing").format(path=key_path)) from exc
        except OSError as exc:
            raise StorageError(_("cannot read the case's fingerprint key: {reason}").format(reason=exc.strerror)) from exc
        if os.name == "posix" and stat.S_IMODE(st.st_mode) & 0o077:
            raise StorageError(_("the fingerprint key {path} is readable by others; run: chmod 600 {path}").format(
                path=key_path))
        if len(key) != KEY_BYTES:
            raise StorageError(_("the fingerprint key {path} is damaged (not {size} bytes)").format(
                path=key_path, size=KEY_BYTES))
        return cls(key)

    def __repr__(self) -> str:
        return "Fingerprinter(<key hidden>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Fingerprinter holds the case key and is not serialised")

    def fingerprint(self, kind: str, value: str, *, partial: bool = False) -> str:
        """Hex keyed-BLAKE3 of a normalised value (or of a masked pattern when ``partial``)."""
        label = ("masked:" + kind) if partial else kind
        data = label.encode() + SEPARATOR + value.encode("utf-8")
        return self._blake3(data, key=self._key).hexdigest()  # type: ignore[no-any-return]

    def digests(self, kind: str, values: list[str], *, partial: bool = False, size: int = 32) -> bytes:
        """The first ``size`` bytes of each value's fingerprint, concatenated (bulk ingest).

        Byte for byte the prefix of :meth:`fingerprint`'s hex (BLAKE3's output is extendable, so a
        shorter digest is a prefix of the longer one); the loop runs in C-level ``map``, once per distinct value.
        """
        from functools import partial as bind
        from operator import methodcaller

        label = (("masked:" + kind) if partial else kind).encode() + SEPARATOR
        hasher = bind(self._blake3, key=self._key)
        distinct = list(dict.fromkeys(values))
        data = map(label.__add__, map(str.encode, distinct))
        digests = list(map(methodcaller("digest", size), map(hasher, data)))
        if len(distinct) == len(values):
            return b"".join(digests)
        # repeated values (names, surnames of masks): each distinct value is hashed once
        return b"".join(map(dict(zip(distinct, digests, strict=True)).__getitem__, values))

    def digests_encoded(self, kind: str, encoded: Iterable[bytes], *, partial: bool = False, size: int = 32) -> bytes:
        """:meth:`digests` of values already UTF-8 encoded (and de-duplicated by the caller): bulk
        ingest hands over the distinct values of an Arrow column as bytes, no ``str`` per value."""
        from functools import partial as bind
        from operator import methodcaller

        label = (("masked:" + kind) if partial else kind).encode() + SEPARATOR
        hasher = bind(self._blake3, key=self._key)
        return b"".join(map(methodcaller("digest", size), map(hasher, map(label.__add__, encoded))))
