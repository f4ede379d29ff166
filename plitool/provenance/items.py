"""The item level: holdings and leaks as fingerprint tables in an embedded DuckDB file.

``.plitool/provenance/items.duckdb`` (folder mode 0700) holds only keyed fingerprints, never a
raw personal value (a leak's masked values are kept as their canonical pattern, ``138****1234``,
which is itself a court-style mask). Tables:

``fields(field, bit, mask)``
    every field name in use, with a bit so that a set of fields is one integer.
``datasets(dataset, role, agent, sha256, name, as_of, rows, fields, fieldmask, masked, ignored)``
    one row per ingest: the evidence id, ``role`` = ``holdings`` | ``leak`` | ``canary``, the
    holding agent or the sighting, the as-of date (holdings) or first-seen date (leak).
``holdings(agent, dataset, subject_key, field, fp, since)``
    one row per held value: ``subject_key`` is the row of the dataset, so one subject's fields
    share ``(dataset, subject_key)``; joint matching groups on it (model step 0).
``holding_masks(agent, dataset, subject_key, field, fp)``
    the fingerprints of the court-style masks of held values (``138****1234``, ``110105********1234``,
    the surname), so that masked leak values join as candidates without any raw value kept.
``holding_rows(dataset, rowmask, n)``
    how many rows of a dataset carry exactly the fields in ``rowmask`` (N_h without a scan).
``leaks(sighting, dataset, record, field, fp, masked_pattern, first_seen)``
    one row per leaked value; ``masked_pattern`` is set (and ``fp`` is the pattern's masked
    fingerprint) for a value that was masked where it was found.
``canaries(marker, agent, kind, field, value, fp, issued)``
    marker identities (not anyone's personal data, kept in full).
``pending(dataset, role, agent)``
    ingests under way. A large ingest commits its rows in slices (one transaction for 10^7 rows
    held them all in memory) and writes its ``datasets`` row last, in the transaction that
    deletes its ``pending`` row. Until then its rows are invisible: every reader joins the item
    rows to ``datasets``. Rows of an ingest that never finished (a crash, a kill, Ctrl-C that
    could not clean up) are deleted the next time the tables are opened for writing.

``fp`` is stored uncompressed: it is random, so DuckDB's dictionary/FSST analysis at every
commit found nothing to compress and cost 45% of the insert's CPU (the file grows by ~7%; the
other columns, nearly constant per dataset, stay compressed). ``fp`` is the first 128 bits of
the keyed BLAKE3 fingerprint (:mod:`plitool.pii.fingerprint`), i.e. the first 32 hex digits of what ``plitool scan --json`` prints. The kind is part of the
hashed input, so ``fp`` alone is unique across fields; joins use it alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EnvironmentProblem, StorageError, UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..vault.case import Case

#: Bytes of each fingerprint kept in the tables (128 bits: no collision at any realistic size).
FP_BYTES = 16
STORE_DIR = "provenance"
STORE_FILE = "items.duckdb"
SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS fields(field VARCHAR PRIMARY KEY, bit UTINYINT NOT NULL UNIQUE, mask UBIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS datasets(
        dataset VARCHAR NOT NULL, role VARCHAR NOT NULL, agent VARCHAR NOT NULL, sha256 VARCHAR,
        name VARCHAR, as_of DATE NOT NULL, rows BIGINT NOT NULL, fields VARCHAR[] NOT NULL,
        fieldmask UBIGINT NOT NULL, masked BIGINT NOT NULL DEFAULT 0, ignored BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset, role, agent))""",
    """CREATE TABLE IF NOT EXISTS holdings(
        agent VARCHAR NOT NULL, dataset VARCHAR NOT NULL, subject_key BIGINT NOT NULL,
        field VARCHAR NOT NULL, fp BLOB NOT NULL USING COMPRESSION uncompressed, since DATE NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS holding_masks(
        agent VARCHAR NOT NULL, dataset VARCHAR NOT NULL, subject_key BIGINT NOT NULL,
        field VARCHAR NOT NULL, fp BLOB NOT NULL USING COMPRESSION uncompressed)""",
    "CREATE TABLE IF NOT EXISTS holding_rows(dataset VARCHAR NOT NULL, agent VARCHAR NOT NULL, rowmask UBIGINT NOT NULL, n BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS leaks(
        sighting VARCHAR NOT NULL, dataset VARCHAR NOT NULL, record BIGINT NOT NULL, field VARCHAR NOT NULL,
        fp BLOB NOT NULL USING COMPRESSION uncompressed, masked_pattern VARCHAR, first_seen DATE NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS canaries(
        marker VARCHAR NOT NULL, agent VARCHAR NOT NULL, kind VARCHAR NOT NULL, field VARCHAR NOT NULL,
        value VARCHAR NOT NULL, fp BLOB NOT NULL, issued DATE NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pending(
        dataset VARCHAR NOT NULL, role VARCHAR NOT NULL, agent VARCHAR NOT NULL, PRIMARY KEY (dataset, role, agent))""",
)
#: The item rows of one ingest, per role: (table, the column holding the ingest's agent).
INGEST_TABLES = {"holdings": (("holdings", "agent"), ("holding_masks", "agent"), ("holding_rows", "agent")),
                 "leak": (("leaks", "sighting"),)}

#: What ``items export`` writes, one Parquet file each.
EXPORT_TABLES = ("datasets", "holdings", "holding_masks", "holding_rows", "leaks", "canaries", "fields")
MAX_FIELDS = 63
#: DuckDB's memory limit (its default is 80% of the machine's memory).
MEMORY_ENV = "PLITOOL_DUCKDB_MEMORY"
DEFAULT_MEMORY = "1GB"
_MEMORY = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,3})?\s?(?:[KMGT]i?B)")


def out_of_memory(exc: BaseException) -> EnvironmentProblem:
    """DuckDB ran out of the memory it may use: one clear line naming the limit and how to raise it."""
    limit = os.environ.get(MEMORY_ENV, DEFAULT_MEMORY).strip()
    return EnvironmentProblem(
        _("the item tables need more memory than they may use ({env}={limit}): set {env} higher, for example "
          "{env}=4GB, and run the command again").format(env=MEMORY_ENV, limit=limit))


def store_path(case: Case) -> Path:
    return case.paths.state / STORE_DIR / STORE_FILE


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - a dependency
        raise EnvironmentProblem(_("the item tables need the 'duckdb' package: pip install 'duckdb>=1.0'")) from exc
    return duckdb


class ItemStore:
    """One open connection to the item tables. Use as a context manager. An ingest commits its
    rows in slices and its ``datasets`` row last (:meth:`begin_ingest`, :meth:`finish_ingest`),
    so a crash leaves no visible half dataset; opening the tables for writing deletes the rows of
    an ingest that never finished (:meth:`clean_pending`). Smaller writes go in one transaction
    (:meth:`transaction`)."""

    def __init__(self, path: Path | None, *, read_only: bool = False) -> None:
        """``path`` None: an in-memory store (tests, benchmarks)."""
        duckdb = _duckdb()
        self.path = path
        limit = os.environ.get(MEMORY_ENV, DEFAULT_MEMORY).strip()
        if not _MEMORY.fullmatch(limit):
            raise UsageError(_("{env} must be a size like 1GB or 512MB, not {value!r}").format(env=MEMORY_ENV, value=limit))
        # a bounded working set: joins, aggregates and the attribution's scratch tables beyond it
        # spill to items.duckdb.tmp/ beside the tables (never to the working directory)
        config = {"memory_limit": limit}
        if path is not None:
            config["temp_directory"] = str(path.with_name(path.name + ".tmp"))
        if path is None or (read_only and not path.exists()):
            self.con: Any = duckdb.connect(":memory:", config=config)
        else:
            folder = path.parent
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(folder, 0o700)
            except OSError as exc:
                raise StorageError(_("cannot create {path}: {reason}").format(path=folder, reason=exc.strerror)) from exc
            try:
                self.con = duckdb.connect(str(path), read_only=read_only, config=config)
            except duckdb.OutOfMemoryException as exc:
                raise out_of_memory(exc) from exc
            except duckdb.Error as exc:
                raise StorageError(_("cannot open the item tables {path}: {reason}").format(path=path, reason=exc)) from exc
        if path is None or not read_only or not path.exists():
            for stmt in _SCHEMA:
                self.con.execute(stmt)
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", [str(SCHEMA_VERSION)])
        if not read_only:
            self.clean_pending()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ItemStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- ingests in slices ------------------------------------------------------------------

    def begin_ingest(self, dataset: str, role: str, agent: str) -> None:
        """Record an ingest as under way (committed before any of its rows)."""
        self.con.execute("INSERT INTO pending VALUES (?, ?, ?)", [dataset, role, agent])

    def finish_ingest(self, dataset: str, role: str, agent: str) -> None:
        """Inside the transaction that writes the ``datasets`` row: the ingest is no longer pending."""
        self.con.execute("DELETE FROM pending WHERE dataset = ? AND role = ? AND agent = ?", [dataset, role, agent])

    def discard_ingest(self, dataset: str, role: str, agent: str) -> None:
        """Delete the rows of an unfinished ingest, and its ``pending`` row, in one transaction."""
        with self.transaction():
            for table, column in INGEST_TABLES.get(role, ()):
                # table and column names come from INGEST_TABLES above, never from input
                self.con.execute(f"DELETE FROM {table} WHERE dataset = ? AND {column} = ?", [dataset, agent])
            self.finish_ingest(dataset, role, agent)

    def clean_pending(self) -> list[tuple[str, str, str]]:
        """Delete what ingests that never finished left behind; returns them (dataset, role, agent)."""
        left = [(str(d), str(r), str(a)) for d, r, a in
                self.con.execute("SELECT dataset, role, agent FROM pending ORDER BY ALL").fetchall()]
        for dataset, role, agent in left:
            self.discard_ingest(dataset, role, agent)
        return left

    # -- fields ---------------------------------------------------------------------------

    def field_masks(self, names: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> dict[str, int]:
        """Each field's bit mask, adding the fields not seen before (in sorted order)."""
        known = dict(self.con.execute("SELECT field, mask FROM fields").fetchall())
        new = sorted(set(names) - set(known))
        if new:
            used = len(known)
            if used + len(new) > MAX_FIELDS:
                raise UsageError(_("too many distinct fields in one case (at most {n})").format(n=MAX_FIELDS))
            for i, name in enumerate(new, start=used):
                self.con.execute("INSERT INTO fields VALUES (?, ?, ?)", [name, i, 1 << i])
                known[name] = 1 << i
        return {n: int(known[n]) for n in names}

    def all_field_masks(self) -> dict[str, int]:
        return {f: int(m) for f, m in self.con.execute("SELECT field, mask FROM fields").fetchall()}

    # -- datasets ---------------------------------------------------------------------------

    def has_dataset(self, dataset: str, role: str, agent: str) -> bool:
        row = self.con.execute("SELECT count(*) FROM datasets WHERE dataset = ? AND role = ? AND agent = ?",
                               [dataset, role, agent]).fetchone()
        return bool(row and row[0])

    def datasets(self) -> list[dict[str, Any]]:
        cur = self.con.execute(
            "SELECT dataset, role, agent, sha256, name, as_of, rows, fields, masked, ignored FROM datasets "
            "ORDER BY role, agent, dataset")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def export(self, directory: Path, *, force: bool = False) -> list[Path]:
        """Every table to ``directory/<table>.parquet`` (fingerprints as 32 hex digits)."""
        from ..errors import OutputExists

        targets = [directory / f"{t}.parquet" for t in EXPORT_TABLES]
        if not force:
            existing = [p for p in targets if p.exists()]
            if existing:
                raise OutputExists(_("{path} exists; pass --force to overwrite").format(path=existing[0]))
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(_("cannot create {path}: {reason}").format(path=directory, reason=exc.strerror)) from exc
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

        for table, target in zip(EXPORT_TABLES, targets, strict=True):
            # table and column names come from the fixed schema above, never from input
            cols = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]
            select = ", ".join(f"lower(hex({c})) AS {c}" if c == "fp" else c for c in cols)
            reader = self.con.sql(f"SELECT {select} FROM {table} t{_VISIBLE.get(table, '')} ORDER BY ALL").to_arrow_reader(1 << 16)
            tmp = target.with_name(target.name + ".tmp")
            try:
                with pq.ParquetWriter(tmp, reader.schema) as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise StorageError(_("cannot write {path}: {reason}").format(path=target, reason=exc.strerror)) from exc
        return targets


#: The rows of a finished ingest only (one whose ``datasets`` row is written); see ``pending``.
_HELD = " WHERE EXISTS (SELECT 1 FROM datasets d WHERE d.dataset = t.dataset AND d.agent = t.agent AND d.role IN ('holdings', 'canary'))"
_VISIBLE = {"holdings": _HELD, "holding_masks": _HELD, "holding_rows": _HELD,
            "leaks": " WHERE EXISTS (SELECT 1 FROM datasets d WHERE d.dataset = t.dataset AND d.agent = t.sighting AND d.role = 'leak')"}


def item_store(case: Case, *, read_only: bool = False) -> ItemStore:
    """The case's item tables (created on first use)."""
    return ItemStore(store_path(case), read_only=read_only)
