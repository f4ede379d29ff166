"""The item tables as Parquet for a cluster: ``plitool tables export DIR``.

One folder per table (``holdings/``, ``leaks/`` …, Hive-partitioned by ``--partition-by``) and a
``manifest.json`` with the case id, each table's rows and each file's SHA-256. Only what the
attribution engine reads leaves the case: keyed fingerprints (16 bytes each), agent ids, field
names, evidence ids and dates. Not exported: evidence file names, a canary's value (only its
fingerprint), a masked leak value's pattern (only that it was masked: ``'*'``), and never the
case key. Field masks are written as signed 64-bit integers (they use bits 0–62), so that every
engine reads them as integers.

The folder is written beside its target under a temporary name and renamed into place when
complete, so a failed export leaves nothing half-written; the export is recorded in the custody
ledger with the manifest's digest and every file's.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputExists, StorageError, UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..vault.case import Case

SCHEMA = "plitool.tables/1"
MANIFEST = "manifest.json"
#: Rows of a finished ingest only: an ingest under way (or killed) commits its rows in slices and
#: writes its ``datasets`` row last, so rows without one are not part of the case yet.
_FINISHED = " WHERE EXISTS (SELECT 1 FROM datasets d WHERE d.dataset = t.dataset AND d.agent = t.{agent})"
#: Each exported table: its columns as the engine reads them (DuckDB SQL over the item tables).
EXPORTS: dict[str, str] = {
    "fields": "SELECT field, bit::INTEGER AS bit, mask::BIGINT AS mask FROM fields",
    "datasets": "SELECT dataset, role, agent, sha256, as_of, rows, fieldmask::BIGINT AS fieldmask, masked, ignored "
                "FROM datasets",
    "holdings": "SELECT agent, dataset, subject_key, field, fp, since FROM holdings t" + _FINISHED.format(agent="agent"),
    "holding_masks": "SELECT agent, dataset, subject_key, field, fp FROM holding_masks t" + _FINISHED.format(agent="agent"),
    "holding_rows": "SELECT dataset, agent, rowmask::BIGINT AS rowmask, n FROM holding_rows t" + _FINISHED.format(agent="agent"),
    "leaks": "SELECT sighting, dataset, record, field, fp, CASE WHEN masked_pattern IS NULL THEN NULL ELSE '*' END "
             "AS masked_pattern, first_seen FROM leaks t" + _FINISHED.format(agent="sighting"),
    "canaries": "SELECT marker, agent, kind, field, fp, issued FROM canaries",
}
#: Columns a table may be partitioned by (``--partition-by``), for the tables that have them.
PARTITION_COLUMNS = ("field", "agent", "dataset")
_COLUMNS = {
    "fields": {"field"}, "datasets": {"agent", "dataset"}, "holdings": {"agent", "dataset", "field"},
    "holding_masks": {"agent", "dataset", "field"}, "holding_rows": {"agent", "dataset"},
    "leaks": {"dataset", "field"}, "canaries": {"agent", "field"},
}
#: Only large tables are partitioned (the small ones stay one file each).
_PARTITIONED = ("holdings", "holding_masks", "leaks")


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "case_id": self.manifest["case_id"],
                "manifest_sha256": self.manifest_sha256, "partition_by": self.manifest["partition_by"],
                "tables": {t: {"rows": v["rows"], "bytes": sum(f["bytes"] for f in v["files"]),
                               "files": len(v["files"])} for t, v in self.manifest["tables"].items()}}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_tables(con: Any, directory: Path, *, case_id: str, partition_by: str | None = None) -> dict[str, Any]:
    """Write the tables and the manifest into ``directory`` (which must exist and be empty)."""
    if partition_by is not None and partition_by not in PARTITION_COLUMNS:
        raise UsageError(_("--partition-by must be one of {names}, not {value!r}").format(
            names=", ".join(PARTITION_COLUMNS), value=partition_by))
    tables: dict[str, Any] = {}
    for table, select in EXPORTS.items():
        folder = directory / table
        folder.mkdir()
        row = con.execute(f"SELECT count(*) FROM ({select})").fetchone()
        rows = int(row[0]) if row else 0
        # table names and queries are this module's constants, the path is quoted as a literal
        if partition_by and table in _PARTITIONED and partition_by in _COLUMNS[table] and rows:
            con.execute(f"COPY ({select}) TO {_lit(str(folder))} "
                        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({partition_by}), OVERWRITE_OR_IGNORE)")
        else:
            con.execute(f"COPY ({select}) TO {_lit(str(folder / 'part-0.parquet'))} (FORMAT parquet, COMPRESSION zstd)")
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        tables[table] = {"rows": rows, "files": [
            {"path": p.relative_to(directory).as_posix(), "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files]}
    manifest = {"schema": SCHEMA, "case_id": case_id, "partition_by": partition_by,
                "fingerprint": "keyed BLAKE3, first 16 bytes; the key stays with the case", "tables": tables}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
    return manifest


def export_tables(case: Case, directory: Path, *, partition_by: str | None = None, force: bool = False) -> ExportResult:
    """``plitool tables export``: the case's item tables to ``directory`` (atomically), logged."""
    from ..fsutil import check_output_path
    from ..vault.ledger import NewEvent
    from .items import item_store, store_path

    check_output_path(case, directory)
    if partition_by is not None and partition_by not in PARTITION_COLUMNS:
        raise UsageError(_("--partition-by must be one of {names}, not {value!r}").format(
            names=", ".join(PARTITION_COLUMNS), value=partition_by))
    directory = Path(directory)
    if os.path.lexists(directory) and not force:
        raise OutputExists(_("{path} exists; pass --force to overwrite").format(path=directory))
    if os.path.lexists(directory) and not directory.is_dir():
        raise UsageError(_("{path} exists and is not a folder").format(path=directory))
    if not store_path(case).exists():
        raise UsageError(_("no item tables yet: run 'plitool holdings add' and 'plitool leak add' first"))
    parent = directory.resolve().parent
    if not parent.is_dir():
        raise UsageError(_("the folder {path} does not exist").format(path=parent))
    tmp = parent / f".{directory.name}.tmp-{secrets.token_hex(4)}"
    old = parent / f".{directory.name}.old-{secrets.token_hex(4)}"
    try:
        tmp.mkdir(mode=0o700)
        with item_store(case, read_only=True) as store:
            manifest = write_tables(store.con, tmp, case_id=case.case_id, partition_by=partition_by)
        digest = _sha256(tmp / MANIFEST)
        os.chmod(tmp, 0o755)
        with case.locked():
            case.ledger.append([NewEvent("note", None, {
                "action": "tables export", "directory": str(directory.resolve()), "manifest_sha256": digest,
                "partition_by": partition_by,
                "files": {f["path"]: f["sha256"] for t in manifest["tables"].values() for f in t["files"]}})])
        if os.path.lexists(directory):
            os.replace(directory, old)
        os.replace(tmp, directory)
    except OSError as exc:
        raise StorageError(_("cannot write {path}: {reason}").format(path=directory, reason=exc.strerror or exc)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return ExportResult(directory, manifest, digest)
