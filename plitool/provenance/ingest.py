"""Bulk ingest of holdings and leaks into the item tables: every value of every row, fingerprinted.

The pipeline is columnar. A table (CSV/TSV in UTF-8, UTF-16 or GBK/GB18030, or XLSX) is read in
batches of :data:`BATCH_ROWS` rows: CSV through pyarrow's streaming reader (non-UTF-8 text is
transcoded in the same streamed pass), XLSX through openpyxl's read-only mode. Each column is
typed once, by its header (:func:`plitool.pii.fields.field_for_label`, the scanner's rule) or
``--map COLUMN=FIELD``, or by its content when it has no telling header. Each batch of a typed
column is normalised with the scanner's functions (:mod:`plitool.pii.normalize`; a column that
the scanner's block check proves clean takes the C-speed path of :mod:`plitool.pii.blocks`),
fingerprinted with keyed BLAKE3 under the case key, and inserted into DuckDB as an Arrow table.
Nothing outlives a batch in Python; a leak of ten million rows streams through.

A value that was masked where it was found (``138****1234``, ``张某``) is kept in a leak as its
canonical pattern and its masked fingerprint, and matched later as a candidate. Holdings carry the
fingerprints of the court-style masks of their values (:data:`MASK_SHAPES`) so that the match needs
no raw value.
"""

from __future__ import annotations

import codecs
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import CorruptDocument, UnreadableInput, UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..pii.fingerprint import Fingerprinter
    from ..vault.case import Case
    from ..vault.evidence import EvidenceItem
    from .items import ItemStore

BATCH_ROWS = 1 << 18
#: Rows per committed slice of an ingest: the ``datasets`` row is written after the last slice
#: (see ``pending`` in :mod:`plitool.provenance.items`), so memory no longer grows with the table.
SLICE_ROWS = 1 << 20
#: The standard field names (flows.yaml may declare more); kept here so ingest works before the
#: flows module is loaded. Must equal ``plitool.provenance.flows.FIELDS``.
STANDARD_FIELDS = ("name", "phone", "id_number", "email", "bank_card", "address", "device_id", "location",
                   "order_id", "waybill")
#: Personal-data kinds of the scanner that are fields of another name here.
KIND_TO_FIELD = {"imei": "device_id"}
#: Kinds the scanner knows that are not personal data of a subject (a company's credit code).
NOT_SUBJECT_DATA = frozenset({"uscc"})
IGNORE = ("-", "none", "ignore")

ProgressCallback = Callable[[int], None]


# -- masks ---------------------------------------------------------------------------------


def mask_key(field_name: str, pattern: str) -> str | None:
    """The join key of a masked pattern, or None when its shape is not one plitool matches.

    Shapes (the ones Chinese sites and judgments use): a phone with the first three and last four
    digits (``138****1234``), an ID number with the first six and last four
    (``110105********1234``), a name by its surname (``张某``, ``张*``, ``张**`` → ``张*``).
    """
    if field_name == "phone":
        if len(pattern) == 11 and pattern[3:7] == "****" and (pattern[:3] + pattern[7:]).isdigit():
            return pattern
        return None
    if field_name == "id_number":
        if len(pattern) == 18 and pattern[6:14] == "*" * 8 and pattern[:6].isdigit() and \
                pattern[14:17].isdigit() and (pattern[17].isdigit() or pattern[17] == "X"):
            return pattern
        return None
    if field_name == "name":
        head = pattern.split("某", 1)[0].rstrip("*")
        return head + "*" if head and "*" not in head else None
    return None


def _held_mask(field_name: str, value: str) -> str | None:
    """The shape key of a full normalised value (its court-style mask), see :func:`mask_key`."""
    if field_name == "phone":
        national = value.removeprefix("+86")
        return national[:3] + "****" + national[7:] if len(national) == 11 else None
    if field_name == "id_number":
        return value[:6] + "*" * 8 + value[14:] if len(value) == 18 else None
    if field_name == "name":
        from ..pii.mask import surname

        family = surname(value)
        return family + "*" if family and len(value) > len(family) else None
    return None


MASK_SHAPES = ("phone", "id_number", "name")


def held_masks(field_name: str, values: list[str]) -> list[str | None]:
    """:func:`_held_mask` of a whole list of normalised values (the ingest builds them in Arrow,
    :func:`held_masks_arrow`; both are held equal to :func:`_held_mask` by the tests)."""
    if field_name == "phone":
        if set(map(len, values)) == {14}:  # +86 and 11 digits: every normalised mobile
            return [v[3:6] + "****" + v[10:] for v in values]
    elif field_name == "id_number":
        return [v[:6] + "********" + v[14:] if len(v) == 18 else None for v in values]
    elif field_name == "name":
        from ..pii.mask import COMPOUND_SURNAMES

        # names repeat: each distinct name's mask is found once
        shapes = {v: (v[:2] + "*" if len(v) > 2 and v[:2] in COMPOUND_SURNAMES else v[:1] + "*") if len(v) > 1 else None
                  for v in dict.fromkeys(values)}
        return list(map(shapes.__getitem__, values))
    return [_held_mask(field_name, v) for v in values]


# -- inputs ----------------------------------------------------------------------------------


def parse_maps(maps: Sequence[str], fields: Sequence[str]) -> dict[str, str | None]:
    """``COLUMN=FIELD`` options → {column: field or None (ignore the column)}."""
    out: dict[str, str | None] = {}
    for text in maps:
        column, sep, name = text.rpartition("=")
        column, name = column.strip(), name.strip().lower()
        if not sep or not column or not name:
            raise UsageError(_("--map takes COLUMN=FIELD, not {text!r}").format(text=text))
        if name in IGNORE:
            out[column] = None
            continue
        if name not in fields:
            raise UsageError(_("unknown field {name!r} in --map {text}; known: {fields} (or - to ignore the column)")
                             .format(name=name, text=text, fields=", ".join(fields)))
        out[column] = name
    return out


def check_date(day: date, what: str, *, today: date | None = None) -> date:
    now = today or datetime.now(timezone.utc).date()
    if day > now:
        raise UsageError(_("{what} {day} is in the future (today is {today})").format(
            what=what, day=day.isoformat(), today=now.isoformat()))
    return day


def parse_date(text: str, what: str, *, today: date | None = None) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(_("{what} must be a date like 2024-03-01, not {text!r}").format(what=what, text=text)) from exc
    return check_date(day, what, today=today)


def load_case_flows(case: Case) -> Any:
    """The case's flows (:func:`plitool.provenance.flows.load_flows`), imported when needed."""
    from .flows import load_flows

    return load_flows(case)


def case_fields(flows: Any) -> tuple[str, ...]:
    declared = tuple(getattr(flows, "fields", ()) or ())
    return tuple(dict.fromkeys(STANDARD_FIELDS + declared))


def check_agent(flows: Any, agent: str, *, what: str) -> None:
    agents = getattr(flows, "agents", {}) or {}
    if not agents:
        raise UsageError(_("the graph is empty: declare the agents in flows.yaml first (see README, 'Provenance graph')"))
    if agent not in agents:
        raise UsageError(_("unknown agent {agent!r} for {what}: it is not declared in flows.yaml (known: {known})")
                         .format(agent=agent, what=what, known=", ".join(sorted(agents)[:20])))


def resolve_dataset(case: Case, target: str, note: str) -> tuple[EvidenceItem, bool]:
    """An evidence id or a path → the evidence item (a path not yet in the vault is added first,
    as 'plitool scan' does); and whether it was added now."""
    from ..pii.scan import resolve_targets

    items, added = resolve_targets(case, [target], note=note)
    return items[0], items[0].id in added


# -- reading tables ----------------------------------------------------------------------------


class _Transcoder(io.RawIOBase):
    """Bytes in any encoding → UTF-8, streamed (undecodable bytes become U+FFFD, counted)."""

    def __init__(self, raw: Any, encoding: str, skip: int) -> None:
        self._raw = raw
        self._raw.read(skip)
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._pending and not self._eof:
            chunk = self._raw.read(1 << 20)
            self._eof = not chunk
            self._pending = self._decoder.decode(chunk, final=self._eof).encode("utf-8")
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class TableSource:
    format: str
    headers: list[str]
    has_header: bool
    batches: Iterator[list[Any]]  # per batch, per column: an Arrow string array (CSV) or a list of cells (XLSX)
    encoding: str | None = None
    skipped_rows: list[int] = field(default_factory=lambda: [0])


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _looks_like_data(cells: Sequence[str | None]) -> bool:
    from ..pii.fields import field_for_label
    from ..pii.normalize import normalize

    if any(field_for_label(c) for c in cells if c):
        return False
    return any(normalize(k, c) for c in cells if c for k in ("phone", "id_number", "email"))


def open_table(path: Path) -> TableSource:
    """The table in a stored evidence file, its format found by content (stored copies have no
    extension): XLSX by its zip members, otherwise delimited text."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError as exc:
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path)
    if head.startswith(b"%PDF") or (b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))):
        raise UsageError(_("not a table (CSV, TSV or XLSX): holdings and leaks are read as tables"))
    return _open_csv(path, head)


def _open_csv(path: Path, head: bytes) -> TableSource:
    import csv

    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]

    from ..pii.extract import detect_encoding

    encoding, bom = detect_encoding(head)
    sample = head[bom:].decode(encoding, "replace")
    lines = [ln for ln in sample.splitlines() if ln.strip()]
    if not lines:
        raise UsageError(_("the table is empty"))
    first = lines[0]
    delimiter = max(",\t;|", key=lambda d: (first.count(d), d == ","))
    first_cells: list[str | None] = [c.strip() or None for c in next(csv.reader([first], delimiter=delimiter))]
    has_header = not _looks_like_data(first_cells)
    ncols = len(first_cells)
    headers = [c or _("column {n}").format(n=i + 1) for i, c in enumerate(first_cells)] if has_header else \
        [_("column {n}").format(n=i + 1) for i in range(ncols)]
    names = [f"c{i}" for i in range(ncols)]
    skipped = [0]

    def on_invalid(row: Any) -> str:
        skipped[0] += 1
        return "skip"

    def batches() -> Iterator[list[Any]]:
        raw = open(path, "rb")
        stream = io.BufferedReader(_Transcoder(raw, encoding, bom), buffer_size=1 << 20)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if has_header else 0, block_size=8 << 20),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values='"' in sample,
                                                 invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                     strings_can_be_null=True, quoted_strings_can_be_null=True),
            )
            pending: list[Any] = []
            count = 0
            for rb in reader:
                pending.append(rb)
                count += rb.num_rows
                while count >= BATCH_ROWS:  # batches of BATCH_ROWS rows, whatever the reader's blocks
                    table = pa.Table.from_batches(pending)
                    yield _columns(table.slice(0, BATCH_ROWS))
                    rest = table.slice(BATCH_ROWS)
                    pending, count = rest.to_batches(), rest.num_rows
            if count:
                yield _columns(pa.Table.from_batches(pending))
        except pa.ArrowInvalid as exc:
            raise CorruptDocument(_("not a readable CSV table: {reason}").format(reason=exc)) from exc
        finally:
            stream.close()

    return TableSource("csv", headers, has_header, batches(), encoding, skipped)


def _columns(table: Any) -> list[Any]:
    return [table.column(i).combine_chunks() for i in range(table.num_columns)]


def _cells(col: Any) -> list[str | None]:
    """A column batch as a list of cells (Python objects: the per-cell paths)."""
    return col if isinstance(col, list) else col.to_pylist()  # type: ignore[no-any-return]


def _open_xlsx(path: Path) -> TableSource:
    import zipfile

    from ..pii.extract import ArchiveLimits, check_archive

    check_archive(path, ArchiveLimits(), "XLSX")  # a zip bomb is refused before it is opened
    try:
        import openpyxl  # type: ignore[import-untyped,unused-ignore]

        # a file object: the stored copy has no extension, which openpyxl would refuse by name
        book = openpyxl.load_workbook(open(path, "rb"), read_only=True, data_only=True)  # noqa: SIM115 - closed with the book
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CorruptDocument(_("not a readable XLSX workbook: {reason}").format(reason=exc)) from exc
    sheet = book.worksheets[0] if book.worksheets else None
    if sheet is None:
        raise UsageError(_("the workbook has no sheet"))
    rows = sheet.iter_rows(values_only=True)
    first: list[str | None] = []
    for row in rows:
        first = [_cell(v) for v in row]
        if any(first):
            break
    if not any(first):
        book.close()
        raise UsageError(_("the table is empty"))
    has_header = not _looks_like_data(first)
    headers = [c or _("column {n}").format(n=i + 1) for i, c in enumerate(first)] if has_header else \
        [_("column {n}").format(n=i + 1) for i in range(len(first))]
    ncols = len(first)

    def batches() -> Iterator[list[Any]]:
        try:
            block: list[list[str | None]] = [] if has_header else [first]
            for row in rows:
                cells = [_cell(v) for v in row[:ncols]]
                if len(cells) < ncols:
                    cells += [None] * (ncols - len(cells))
                block.append(cells)
                if len(block) >= BATCH_ROWS:
                    yield [list(c) for c in zip(*block, strict=True)]
                    block = []
            if block:
                yield [list(c) for c in zip(*block, strict=True)]
        finally:
            book.close()

    return TableSource("xlsx", headers, has_header, batches())


# -- typing and normalising columns ---------------------------------------------------------------


def type_columns(headers: Sequence[str], maps: dict[str, str | None], fields: Sequence[str]) -> list[str | None]:
    """Each column's field, once: ``--map`` first (by header text or 1-based number), then the
    header rules of the personal-data layer."""
    from ..pii.fields import field_for_label

    known = set(fields)
    out: list[str | None] = []
    used_maps: set[str] = set()
    for i, header in enumerate(headers):
        key = header if header in maps else str(i + 1) if str(i + 1) in maps else None
        if key is not None:
            used_maps.add(key)
            out.append(maps[key])
            continue
        kind = field_for_label(header)
        kind = KIND_TO_FIELD.get(kind or "", kind)
        out.append(kind if kind in known and kind not in NOT_SUBJECT_DATA else None)
    unused = set(maps) - used_maps
    if unused:
        raise UsageError(_("--map names no column of this table: {names} (columns: {headers})").format(
            names=", ".join(sorted(unused)), headers=", ".join(headers)))
    return out


def type_by_content(cells: Sequence[str | None]) -> str | None:
    """A column without a telling header: a validated kind when nearly all sampled cells are one."""
    from ..pii.normalize import normalize

    sample = [c for c in cells[:2000] if c][:200]
    if len(sample) < 3:
        return None
    for kind in ("phone", "id_number", "email"):
        if sum(normalize(kind, c) is not None for c in sample) * 10 >= len(sample) * 9:
            return kind
    return None


def _normaliser(field_name: str) -> Callable[[str], str | None]:
    from ..pii.normalize import normalize, normalize_code, normalize_free

    if field_name == "device_id":
        return normalize_code
    if field_name in STANDARD_FIELDS:
        return lambda v: normalize(field_name, v)
    return normalize_free  # a field the case declares


def normalise_column(field_name: str, cells: list[str | None]) -> tuple[list[int], list[str], list[int], list[str], int]:
    """(rows, normalised values, masked rows, masked patterns, invalid count) of one column batch.

    A batch the scanner's block check vouches for (every cell a clean value of the field) takes
    the fast path, which gives what the per-cell normaliser would; any doubt and every cell goes
    through :func:`plitool.pii.normalize.normalize` / :func:`~plitool.pii.normalize.mask_pattern`.
    """
    from ..pii.blocks import block_counter
    from ..pii.fields import KINDS
    from ..pii.normalize import mask_pattern

    clean = cast("list[str]", cells) if None not in cells else [c if c is not None else "" for c in cells]
    counter = block_counter(field_name, frozenset(KINDS)) if field_name in KINDS else None
    if counter is not None and counter(clean) is not None:
        # C-level passes where the column has no empty cell (the common case of a large table)
        if "" in clean:
            rows: list[int] | range = [i for i, c in enumerate(clean) if c]
            values = [clean[i] for i in rows]
        else:
            rows, values = range(len(clean)), clean
        if field_name == "phone":
            values = list(map("+86".__add__, values))
        elif field_name in ("id_number", "order_id", "waybill", "device_id"):
            values = list(map(str.upper, values))
        return list(rows), values, [], [], 0
    from ..pii.normalize import MASK_CHARS

    norm = _normaliser(field_name)
    masked_marks = MASK_CHARS + ("某" if field_name == "name" else "")
    rows, values, mrows, patterns, invalid = [], [], [], [], 0
    for i, cell in enumerate(clean):
        if not cell:
            continue
        if field_name in KINDS and any(c in masked_marks for c in cell):
            # a value masked where it was found (张某 is also a well-formed name): a pattern first
            pattern = mask_pattern(field_name, cell)
            if pattern is not None:
                mrows.append(i)
                patterns.append(pattern)
                continue
        value = norm(cell)
        if value is not None:
            rows.append(i)
            values.append(value)
            continue
        pattern = mask_pattern(field_name, cell) if field_name in KINDS else None
        if pattern is not None:
            mrows.append(i)
            patterns.append(pattern)
        else:
            invalid += 1
    return rows, values, mrows, patterns, invalid


#: Fields whose normalised form of a vouched-for clean cell is the cell upper-cased.
_UPPER = ("id_number", "order_id", "waybill", "device_id")


def normalise_batch(field_name: str, col: Any) -> tuple[list[int] | None, Any, list[int], list[str], int]:
    """:func:`normalise_column` of a column batch, the values as an Arrow string array, and
    ``None`` for the rows when every row has a value.

    When the scanner's block check vouches for every cell of an Arrow column (the common case of
    a large CSV), the values are computed in Arrow from the column itself (``+86`` prepended to a
    phone, ASCII upper-casing), no Python object per value: the same strings the per-cell path
    gives (a test holds the two equal). Any doubt and :func:`normalise_column` decides.
    """
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    from ..pii.blocks import block_counter
    from ..pii.fields import KINDS

    cells = _cells(col)
    if not isinstance(col, list) and col.null_count == 0 and cells and "" not in cells:
        counter = block_counter(field_name, frozenset(KINDS)) if field_name in KINDS else None
        if counter is not None and counter(cast("list[str]", cells)) is not None:
            if field_name == "phone":
                return None, pc.binary_join_element_wise(pa.scalar("+86"), col, ""), [], [], 0
            if field_name in _UPPER:
                if pc.all(pc.string_is_ascii(col)).as_py():
                    return None, pc.utf8_upper(col), [], [], 0
                return None, pa.array(list(map(str.upper, cast("list[str]", cells))), pa.string()), [], [], 0
            return None, col.cast(pa.string()), [], [], 0
    rows, values, mrows, patterns, invalid = normalise_column(field_name, cells)
    return (None if len(rows) == len(cells) else rows), pa.array(values, pa.string()), mrows, patterns, invalid


def held_masks_arrow(field_name: str, values: Any) -> Any:
    """:func:`held_masks` of an Arrow column batch, in Arrow: the court-style mask of each value
    (null where the value has none). The same strings as :func:`_held_mask` (a test holds them equal)."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    def join(*parts: Any) -> Any:
        return pc.binary_join_element_wise(*[pa.scalar(x) if isinstance(x, str) else x for x in parts], "")

    length = pc.utf8_length(values)
    none = pa.scalar(None, pa.string())
    if field_name == "phone" and len(values) and pc.all(pc.equal(length, 14)).as_py() \
            and pc.all(pc.starts_with(values, "+86")).as_py():
        return join(pc.utf8_slice_codeunits(values, 3, 6), "****", pc.utf8_slice_codeunits(values, 10, 14))
    if field_name == "id_number":
        return pc.if_else(pc.equal(length, 18),
                          join(pc.utf8_slice_codeunits(values, 0, 6), "********", pc.utf8_slice_codeunits(values, 14, 18)), none)
    if field_name == "name":
        from ..pii.mask import COMPOUND_SURNAMES

        two = pc.utf8_slice_codeunits(values, 0, 2)
        compound = pc.and_(pc.greater(length, 2), pc.is_in(two, value_set=pa.array(sorted(COMPOUND_SURNAMES), pa.string())))
        head = pc.if_else(compound, two, pc.utf8_slice_codeunits(values, 0, 1))
        return pc.if_else(pc.greater(length, 1), join(head, "*"), none)
    return pa.array([_held_mask(field_name, v) for v in values.to_pylist()], pa.string())


# -- the ingest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    role: str  # holdings | leak
    agent: str  # the holding agent, or the sighting
    dataset: str  # evidence id
    added_to_vault: bool
    format: str
    encoding: str | None
    rows: int
    records: int  # rows with at least one personal-data value
    columns: dict[str, str]  # header -> field, typed columns only
    values: dict[str, int]  # field -> values fingerprinted
    masked: dict[str, int]  # field -> masked values kept as patterns
    invalid: dict[str, int]  # field -> cells that are not a valid value of the column's field
    skipped_rows: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role, "agent": self.agent, "dataset": self.dataset, "added_to_vault": self.added_to_vault,
            "format": self.format, "encoding": self.encoding, "rows": self.rows, "records": self.records,
            "columns": self.columns, "values": dict(sorted(self.values.items())),
            "masked": dict(sorted(self.masked.items())), "invalid": dict(sorted(self.invalid.items())),
            "skipped_rows": self.skipped_rows,
        }


def _fp_array(data: bytes, n: int) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    from .items import FP_BYTES

    return pa.Array.from_buffers(pa.binary(FP_BYTES), n, [None, pa.py_buffer(data)])


# -- fingerprinting beside the main loop ---------------------------------------------------------
#
# Keyed BLAKE3 is most of an ingest's CPU (one call per value, and one more per held phone, ID
# number and name for its mask). A table of PARALLEL_MIN_ROWS rows or more is fingerprinted in
# worker processes while the main process reads, normalises and inserts the next batch. A
# worker loads the case key from its file itself; the key never travels through a pipe.

PARALLEL_MIN_ROWS = 1_000_000
_worker_fp: Any = None


def _init_worker(key_path: str) -> None:
    global _worker_fp
    from ..pii.fingerprint import Fingerprinter

    _worker_fp = Fingerprinter.for_case(Path(key_path))


def _digest_job(kind: str, encoded: list[bytes], partial: bool, size: int) -> bytes:
    assert _worker_fp is not None
    return _worker_fp.digests_encoded(kind, encoded, partial=partial, size=size)  # type: ignore[no-any-return]


class _Done:
    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value

    def result(self) -> bytes:
        return self.value


#: Fields whose values identify a subject, so a column of them rarely repeats a value.
UNIQUE_FIELDS = frozenset({"phone", "id_number", "email", "bank_card", "device_id", "order_id", "waybill"})


class _Digests:
    """The fingerprints of a column batch: each distinct value was hashed once; ``result()`` maps
    them back onto the batch's rows (in Arrow) as a ``binary(FP_BYTES)`` array."""

    __slots__ = ("job", "values", "distinct")

    def __init__(self, job: Any, values: Any, distinct: Any) -> None:
        self.job, self.values, self.distinct = job, values, distinct

    def result(self) -> Any:
        import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

        fps = _fp_array(self.job.result(), len(self.distinct))
        if len(self.distinct) == len(self.values):  # all distinct: unique() kept them in order
            return fps
        return pc.take(fps, pc.index_in(self.values, value_set=self.distinct))


class _Hasher:
    """``submit(kind, values, partial)`` (an Arrow string array) → a :class:`_Digests`."""

    def __init__(self, fingerprinter: Fingerprinter, key_path: Path | None, workers: int) -> None:
        self.fingerprinter = fingerprinter
        self.pool: Any = None
        if key_path is not None and workers > 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_worker, initargs=(str(key_path),))

    def submit(self, kind: str, values: Any, partial: bool = False) -> _Digests:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

        from .items import FP_BYTES

        # names, surnames and masks repeat: each distinct value is hashed once (found in Arrow);
        # identifying values (phones, ID numbers …) nearly never do, so they are hashed as they
        # come (a repeat is hashed twice, to the same fingerprint). Handed over as UTF-8 bytes,
        # without a str per value.
        distinct = values if kind in UNIQUE_FIELDS and not partial else pc.unique(values)
        encoded = distinct.cast(pa.binary()).to_pylist()
        if self.pool is None:
            job: Any = _Done(self.fingerprinter.digests_encoded(kind, encoded, partial=partial, size=FP_BYTES))
        else:
            job = self.pool.submit(_digest_job, kind, encoded, partial, FP_BYTES)
        return _Digests(job, values, distinct)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


#: Below this many cores a worker only competes with the main loop and DuckDB's threads: on the
#: 2-core bench machine one worker made a 10^6-row holdings ingest slower (153k vs 171k rows/s).
PARALLEL_MIN_CPUS = 4


def _workers(rows_hint: int) -> int:
    cpus = os.cpu_count() or 1
    if rows_hint < PARALLEL_MIN_ROWS or cpus < PARALLEL_MIN_CPUS:
        return 0
    return max(1, min(4, cpus - 1))


def ingest_table(
    store: ItemStore,
    fingerprinter: Fingerprinter,
    path: Path,
    *,
    role: str,
    agent: str,
    dataset: str,
    day: date,
    maps: dict[str, str | None],
    fields: Sequence[str],
    progress: ProgressCallback | None = None,
    key_path: Path | None = None,
    row_masks: dict[int, int] | None = None,
) -> tuple[TableSource, int, int, dict[str, str], dict[str, int], dict[str, int], dict[str, int]]:
    """Stream one table into ``holdings`` or ``leaks``, committing every :data:`SLICE_ROWS` rows
    (the caller has called :meth:`ItemStore.begin_ingest` and writes the ``datasets`` row after).
    ``row_masks`` (holdings): filled with {row's field mask: rows}, what ``holding_rows`` holds."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    source = open_table(path)
    arange = pa.array([], pa.int64())  # 0, 1, … (the keys of a batch's rows, offset per batch)
    types = type_columns(source.headers, maps, fields)
    values: dict[str, int] = {}
    masked: dict[str, int] = {}
    invalid: dict[str, int] = {}
    rows_total = 0
    records = 0
    first = True
    con = store.con
    leak = role == "leak"
    try:
        size_hint = os.path.getsize(path) // 40  # rows, roughly: only picks in-process or parallel hashing
    except OSError:
        size_hint = 0
    hasher = _Hasher(fingerprinter, key_path, _workers(size_hint))
    # One batch's inserts run in a writer thread (DuckDB releases the GIL while it appends) while
    # the main thread reads, normalises and fingerprints the next batch; the connection is only
    # ever used by one thread at a time (the main thread waits before it submits again, and the
    # writer has finished before this function returns or raises).
    from concurrent.futures import Future, ThreadPoolExecutor

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plitool-ingest")
    inflight: list[Future[None]] = []
    # the open slice: a transaction on ``con``, begun by the first batch of a slice (in the main
    # thread for the first, where the fields are registered; then in the writer) and committed by
    # the writer after SLICE_ROWS rows; the main thread commits the last one after the writer is done
    txn = {"open": False, "rows": 0}

    def begin() -> None:
        if not txn["open"]:
            con.execute("BEGIN TRANSACTION")
            txn["open"] = True

    def commit() -> None:
        if txn["open"]:
            con.execute("COMMIT")
            txn["open"], txn["rows"] = False, 0

    def insert(jobs: list[tuple[str, list[Any], Any, Any, int, Any]], rows: int) -> None:
        begin()
        for sql, params, keys, job, n, extra in jobs:
            cols = {"subject_key": keys, "fp": job.result()}
            if extra is not None:
                cols["pattern"] = extra
            con.register("batch_tbl", pa.table(cols))
            try:
                con.execute(sql, params)
            finally:
                con.unregister("batch_tbl")
        txn["rows"] += rows
        if txn["rows"] >= SLICE_ROWS:
            commit()

    def flush() -> None:
        while inflight:
            inflight.pop().result()

    try:
        for batch in source.batches:
            if first:
                for i, cells in enumerate(batch):
                    if types[i] is None and source.headers[i] not in maps and str(i + 1) not in maps:
                        guess = type_by_content(_cells(cells))
                        types[i] = guess if guess in fields else None
                typed = {h: f for h, f in zip(source.headers, types, strict=True) if f}
                if not typed:
                    raise UsageError(_("no personal data found: no column of {dataset} is a known field (columns: {headers}); "
                                       "name them with --map COLUMN=FIELD").format(dataset=dataset, headers=", ".join(source.headers)))
                begin()  # the fields are registered in the first slice
                bits = store.field_masks(sorted(set(typed.values())))
                first = False
            n = len(batch[0]) if batch else 0
            seen = bytearray(n)
            seen_all = False
            full_mask = 0  # holdings: the fields every row of the batch has
            sparse: list[tuple[int, list[int]]] = []  # and the rows of each other field
            ready: list[tuple[str, list[Any], Any, Any, int, Any]] = []
            for ci, field_name in enumerate(types):
                if field_name is None or ci >= len(batch):
                    continue
                rows, vals, mrows, patterns, bad = normalise_batch(field_name, batch[ci])
                invalid[field_name] = invalid.get(field_name, 0) + bad
                if len(vals):
                    full = rows is None  # every row has a value
                    if full:
                        if len(arange) < n:
                            arange = pa.array(range(n), pa.int64())
                        keys = pc.add(arange.slice(0, n), rows_total)
                    else:
                        keys = pa.array([rows_total + r for r in cast("list[int]", rows)], pa.int64())
                    values[field_name] = values.get(field_name, 0) + len(vals)
                    if full:
                        seen_all = True
                    elif not seen_all:
                        for r in cast("list[int]", rows):
                            seen[r] = 1
                    if full:
                        full_mask |= bits[field_name]
                    else:
                        sparse.append((bits[field_name], cast("list[int]", rows)))
                    job = hasher.submit(field_name, vals)
                    if leak:
                        ready.append(("INSERT INTO leaks SELECT ?, ?, subject_key, ?, fp, NULL, ? FROM batch_tbl",
                                      [agent, dataset, field_name, day], keys, job, len(vals), None))
                    else:
                        ready.append(("INSERT INTO holdings SELECT ?, ?, subject_key, ?, fp, ? FROM batch_tbl",
                                      [agent, dataset, field_name, day], keys, job, len(vals), None))
                        if field_name in MASK_SHAPES:
                            shaped = held_masks_arrow(field_name, vals)
                            mkeys = keys
                            if shaped.null_count:
                                has = pc.is_valid(shaped)
                                mkeys, shaped = keys.filter(has), shaped.filter(has)
                            if len(shaped):
                                ready.append(("INSERT INTO holding_masks SELECT ?, ?, subject_key, ?, fp FROM batch_tbl",
                                              [agent, dataset, field_name], mkeys,
                                              hasher.submit(field_name, shaped, partial=True), len(shaped), None))
                if patterns:
                    masked[field_name] = masked.get(field_name, 0) + len(patterns)
                    if leak:
                        keys_for = pa.array([mask_key(field_name, p) or p for p in patterns], pa.string())
                        ready.append(("INSERT INTO leaks SELECT ?, ?, subject_key, ?, fp, pattern, ? FROM batch_tbl",
                                      [agent, dataset, field_name, day],
                                      pa.array([rows_total + r for r in mrows], pa.int64()),
                                      hasher.submit(field_name, keys_for, partial=True), len(keys_for),
                                      pa.array(patterns, pa.string())))
                        if not seen_all:
                            for r in mrows:
                                seen[r] = 1
            if row_masks is not None and not leak:
                _count_row_masks(row_masks, n, full_mask, sparse)
            flush()  # the previous batch's inserts, written meanwhile
            inflight.append(writer.submit(insert, ready, n))
            records += n if seen_all else sum(seen)
            rows_total += n
            if progress is not None:
                progress(n)
        flush()
        commit()
    except BaseException:
        writer.shutdown(wait=True)  # no statement runs on the connection any more
        if txn["open"]:
            try:
                con.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the ingest's own error is the one to report
                pass
        raise
    finally:
        writer.shutdown(wait=True)
        hasher.close()
    if first:
        raise UsageError(_("the table is empty"))
    columns = {h: f for h, f in zip(source.headers, types, strict=True) if f}
    return source, rows_total, records, columns, values, masked, invalid


def _count_row_masks(counts: dict[int, int], n: int, full_mask: int, sparse: list[tuple[int, list[int]]]) -> None:
    """Add one batch's rows to {row's field mask: rows}: a row's mask is the bits of the fields it
    has a value of (rows with none are not subject rows). The fields every row has are one mask;
    only the others are counted row by row."""
    if not sparse:
        if full_mask and n:
            counts[full_mask] = counts.get(full_mask, 0) + n
        return
    masks = [full_mask] * n
    for bit, rows in sparse:
        for r in rows:
            masks[r] |= bit
    from collections import Counter

    for mask, c in Counter(masks).items():
        if mask:
            counts[mask] = counts.get(mask, 0) + c


def ingest(
    case: Case,
    *,
    role: str,
    agent: str,
    target: str,
    day: date,
    maps: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    store: ItemStore | None = None,
    flows: Any = None,
) -> IngestResult:
    """``holdings add`` / ``leak add``: check the agent and date, add the file to the vault if
    needed, stream it into the item tables, record the ingest in the ledger."""
    from ..pii.fingerprint import Fingerprinter
    from ..vault.ledger import NewEvent
    from .items import item_store

    if role not in ("holdings", "leak"):
        raise ValueError(role)
    what = _("holdings") if role == "holdings" else _("a leak")
    check_date(day, _("--as-of") if role == "holdings" else _("--first-seen"))
    flows = flows if flows is not None else load_case_flows(case)
    check_agent(flows, agent, what=what)
    fields = case_fields(flows)
    parsed_maps = parse_maps(maps, fields)
    fingerprinter = Fingerprinter.for_case(case.paths.fingerprint_key)
    started = time.perf_counter()
    item, added = resolve_dataset(case, target, note=f"added by 'plitool {role} add'")  # ledger data
    from ..pii.scan import stored_path

    path = stored_path(case, item)
    own = store is None
    st = store if store is not None else item_store(case)
    try:
        if st.has_dataset(item.id, role, agent):
            raise UsageError(_("{dataset} is already ingested as {role} of {agent}").format(
                dataset=item.id, role=role, agent=agent))
        # rows are committed in slices, invisible until the datasets row is written, last; an
        # ingest that fails (or is interrupted) deletes them, and one that is killed leaves them
        # to the next opening of the tables for writing (ItemStore.clean_pending)
        st.begin_ingest(item.id, role, agent)
        try:
            row_masks: dict[int, int] = {}
            source, rows, records, columns, values, masked, invalid = ingest_table(
                st, fingerprinter, path, role=role, agent=agent, dataset=item.id, day=day, maps=parsed_maps,
                fields=fields, progress=progress, key_path=case.paths.fingerprint_key, row_masks=row_masks)
            if not values and not masked:
                raise UsageError(_("no personal data found in {dataset}: the typed columns ({columns}) hold no valid value")
                                 .format(dataset=item.id, columns=", ".join(f"{h}={f}" for h, f in columns.items())))
            with st.transaction():
                used = sorted(set(values) | set(masked))
                masks = st.field_masks(used)
                fieldmask = 0
                for f in used:
                    fieldmask |= masks[f]
                if role == "holdings":
                    for rowmask, n in sorted(row_masks.items()):
                        st.con.execute("INSERT INTO holding_rows VALUES (?, ?, ?, ?)", [item.id, agent, rowmask, n])
                st.con.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [item.id, role, agent, item.sha256, item.name, day, rows, used, fieldmask,
                                sum(masked.values()), sum(invalid.values())])
                st.finish_ingest(item.id, role, agent)
        except BaseException:
            try:
                st.discard_ingest(item.id, role, agent)
            except Exception:  # noqa: BLE001 - the ingest's own error is the one to report; the rows
                pass  # stay invisible and the next opening for writing deletes them
            raise
    finally:
        if own:
            st.close()
    seconds = time.perf_counter() - started
    result = IngestResult(role, agent, item.id, added, source.format, source.encoding, rows, records, columns,
                          values, masked, invalid, source.skipped_rows[0], seconds)
    with case.locked():
        case.ledger.append([NewEvent("note", item.id, {
            "action": f"{role} add", "agent": agent,
            ("as_of" if role == "holdings" else "first_seen"): day.isoformat(),
            "rows": rows, "records": records, "fields": columns,
            "values": dict(sorted(values.items())), "masked": dict(sorted(masked.items())),
        })])
    return result
