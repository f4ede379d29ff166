"""``scan --json --limit 0``: the report of every finding, written without holding the findings.

A leaked table of a million rows has millions of findings. Built as one document they took
gigabytes; here each finding's JSON text goes to an unnamed temporary file (unlinked at once: it
disappears with the process, however it ends) as it is found, and the report is written from it
when the scan is over. What stays in memory is what the report needs from every file before it
can print one finding: the distinct names (their masks, 张某甲 / 张某乙, depend on every name shown)
and, when several files are scanned, the values listed in more than one of them.

The bytes are exactly those of the report built whole (``emit_json`` of the same data).
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from .common import _encode_str, pretty_json

#: Indentation of a finding in the report: files list (4), file record (6), findings list (8).
FINDING_INDENT = " " * 8
FILE_INDENT = " " * 4
_MASKED_EMPTY = '"masked": ""'
_FINDINGS_EMPTY = "\n" + " " * 6 + '"findings": [],'


class StreamedReport:
    """Collects the findings of a scan (:meth:`on_finding`) and writes the report (:meth:`write`)."""

    def __init__(self, fingerprinter: Any, *, reveal: bool, several_files: bool) -> None:
        self.fp = fingerprinter
        self.reveal = reveal
        self.spool: IO[bytes] = tempfile.TemporaryFile(prefix="plitool-scan-")
        self.per_file: dict[str, int] = {}  # item id -> findings spooled
        self.names: dict[str, int] = {}  # distinct unmasked names, in order of appearance
        self.shared: dict[tuple[str, str], list[str]] | None = {} if several_files else None

    def close(self) -> None:
        self.spool.close()

    def on_finding(self, item: Any, f: Any) -> None:
        from ..pii.mask import NameMasks
        from ..pii.scan import finding_record

        named = f.kind == "name" and not f.partial
        if named:
            index = self.names.setdefault(f.value, len(self.names))
            # the mask is known when every name is: written empty now, filled in at the end
            record = finding_record(f, self.fp, _NO_NAMES, reveal=self.reveal)
            record["masked"] = ""
            text = pretty_json(record, FINDING_INDENT)
        else:
            index = -1
            text = pretty_json(finding_record(f, self.fp, NameMasks(), reveal=self.reveal), FINDING_INDENT)
        marshal.dump((index, text), self.spool)
        self.per_file[item.id] = self.per_file.get(item.id, 0) + 1
        if self.shared is not None and not (f.partial or f.candidate):
            labels = self.shared.setdefault((f.kind, f.value), [])
            if item.id not in labels:
                labels.append(item.id)

    def write(self, results: Sequence[Any], tail: dict[str, Any], emit: Callable[[str], None]) -> None:
        """The report, in pieces given to ``emit``: ``{"files": [...], **tail}`` with ``tail``'s
        "shared" filled in here."""
        from ..pii.mask import NameMasks, mask
        from ..pii.scan import file_record

        names = NameMasks(list(self.names))
        masks = [names.mask(n) for n in self.names]
        shared = []
        for (kind, value), labels in (self.shared or {}).items():
            if len(labels) > 1:
                shared.append({"type": kind, "fingerprint": self.fp.fingerprint(kind, value), "items": labels,
                               "masked": names.mask(value) if kind == "name" else mask(kind, value)})
        self.spool.seek(0)
        out = _Buffered(emit)
        out.write('{\n  "files": [')
        for number, r in enumerate(results):
            record = file_record(r, self.fp, names, reveal=self.reveal)
            record["findings"] = []
            record["findings_truncated"] = False
            head, cut, rest = pretty_json(record, FILE_INDENT).partition(_FINDINGS_EMPTY)
            assert cut, "the file record has a findings list"
            out.write(("\n" if number == 0 else ",\n") + FILE_INDENT + head + "\n" + " " * 6 + '"findings": ')
            count = self.per_file.get(r.item, 0) if r.item is not None else 0
            if not count:
                out.write("[]")
            for i in range(count):
                index, text = marshal.load(self.spool)
                out.write(("[\n" if i == 0 else ",\n") + FINDING_INDENT)
                if index < 0:
                    out.write(text)
                else:
                    before, _cut, after = text.partition(_MASKED_EMPTY)
                    out.write(before + '"masked": ' + _encode_str(masks[index]) + after)
            if count:
                out.write("\n" + " " * 6 + "]")
            out.write("," + rest)
        out.write("\n  ]" if results else "]")
        out.write(",\n" + pretty_json({**tail, "shared": shared} if "shared" not in tail else
                                      {k: (shared if k == "shared" else v) for k, v in tail.items()})[2:] + "\n")
        out.flush()


class _NoNames:
    def mask(self, name: str) -> str:
        return ""


_NO_NAMES: Any = _NoNames()


class _Buffered:
    __slots__ = ("emit", "parts", "size")

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.emit("".join(self.parts))
            self.parts, self.size = [], 0
