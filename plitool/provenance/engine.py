"""The attribution engine: every item-level number of the model as aggregate SQL over the item tables.

All SQL of the attribution lives in this module, so that the same statements can move to a
distributed SQL engine for leaks that outgrow one machine. Values are bound as parameters
(``$name``); the only Python-side inputs are two small tables registered from Arrow: ``reach``
(which agent holds which origin's fields from when, from the agent graph) and ``cands`` (the
candidate agents).

Terms (see ``attribution-model.md``): a leaked record r of the sighting, with the fields
``need`` (its values' fields; for a record that carries a marker, only the marker's fields); a
candidate agent h; ``k`` = the number of h's subjects with a row that carries every field of
``need`` with r's values (joint matching: one row, never field by field across rows; a masked
value matches through the fingerprint of its display mask, so k can exceed 1: an ambiguity
count; one subject held in two datasets counts once); ``N_h(need)`` = h's subjects carrying all
of ``need`` held before the cut-off (distinct value tuples where h holds several datasets).

    P(r | h) = (1 − p) · k / N_h(need) + p / N_0      (ε instead of 1/N_0 for a marker record)
    log L(h) = Σ_r ln P(r | h)
    guilt(h) = 1 − exp(Σ_{t ∈ S, h ∈ V_t} ln(1 − (1 − p) / |V_t|))
"""

from __future__ import annotations

import os
import re
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

#: ε: the chance that a marker identity reached the sighting by any other way.
MARKER_EPSILON = 1e-12
#: Fields that (nearly) identify a subject: candidate rows are looked up through these.
STRONG_FIELDS = ["id_number", "phone", "email", "bank_card", "device_id", "order_id", "waybill"]

#: A leaked record is one integer, ``rid`` = (leak dataset's number << 40) | record, and a held
#: subject row is one integer, ``hk`` = (holding dataset's number << 40) | subject_key: the
#: intermediate tables stay narrow (no strings per row) and their joins are integer-keyed. The
#: numbers follow the sorted dataset ids, so ordering by ``rid`` is ordering by (dataset, record).
KEY_BITS = 40
_LOW = (1 << KEY_BITS) - 1

# distinct subjects: a record with a full identifying value counts as its best such value (ID
# number, then phone, e-mail, bank card); any other record as the set of all its values. The two
# kinds never coincide (a full identifying value's fingerprint is no other value's), so they are
# counted apart: one DISTINCT over single values, one over the (few) value sets. Each record's
# best value is worked out where the values are grouped by record anyway (``rec.b``), as one
# integer: its rank (9: none) times 2^59 plus 59 bits of its fingerprint's hash, so that the least
# is the best (a minimum over 16-byte fingerprints per record took 20 s at 10^7 records, this
# 3 s). Two best values share 59 hash bits with probability about n²/2^60 (10^-4 at 10^7
# records), which would count two subjects as one; ``k`` and ``N_0`` tell values apart by hashes too.
_RANK_UNIT = 1 << 59
_BEST = f"""min(CAST(CASE WHEN l.masked THEN 9 ELSE CASE f.field WHEN 'id_number' THEN 0 WHEN 'phone' THEN 1 WHEN 'email' THEN 2
                                                               WHEN 'bank_card' THEN 3 ELSE 9 END END AS BIGINT) * {_RANK_UNIT}
                + CAST(hash(l.fp) & {_RANK_UNIT - 1} AS BIGINT))"""
_AFFECTED = f"""
WITH rest AS (
  SELECT l.rid, list_sort(list(l.fp)) AS every FROM lv l JOIN rec r USING (rid)
  WHERE NOT r.marker AND r.b >= {9 * _RANK_UNIT} GROUP BY l.rid)
SELECT (SELECT count(DISTINCT b) FROM rec WHERE NOT marker AND b < {9 * _RANK_UNIT}) + (SELECT count(DISTINCT every) FROM rest)
"""


_PREPARE = (
    # the sighting's leak datasets and every holding dataset, numbered
    """CREATE OR REPLACE TABLE lds AS
       SELECT dataset, (row_number() OVER (ORDER BY dataset) - 1)::BIGINT AS di
       FROM (SELECT DISTINCT dataset FROM datasets WHERE role = 'leak' AND agent = $sighting)""",
    """CREATE OR REPLACE TABLE hsets AS
       SELECT agent, dataset, (row_number() OVER (ORDER BY agent, dataset) - 1)::BIGINT AS hid
       FROM (SELECT DISTINCT agent, dataset FROM datasets WHERE role IN ('holdings', 'canary'))""",
    # the sighting's values; a marker is an exact identifying value equal to an issued canary's
    # (a record canary's made-up name is held, but a real person may share it)
    """CREATE OR REPLACE TABLE lv AS
       SELECT (d.di << 40) | l.record AS rid, l.fp, f.mask AS fmask, l.masked_pattern IS NOT NULL AS masked,
              (l.masked_pattern IS NULL
               AND l.fp IN (SELECT fp FROM canaries WHERE list_contains($strong, field))) AS marker,
              list_contains($strong, f.field) AS strong
       FROM leaks l JOIN lds d USING (dataset) JOIN fields f USING (field) WHERE l.sighting = $sighting""",
    """CREATE OR REPLACE TABLE rec AS
       SELECT l.rid, bool_or(l.marker) AS marker, bool_or(l.masked) AS masked, bool_or(l.strong) AS anchored,
              CASE WHEN bool_or(l.marker) THEN bit_or(l.fmask) FILTER (WHERE l.marker) ELSE bit_or(l.fmask) END AS need,
              """ + _BEST + """ AS b
       FROM lv l JOIN fields f ON f.mask = l.fmask GROUP BY l.rid""",
    # which (agent, origin dataset) pairs count, with the fields that reach the agent and from when
    """CREATE OR REPLACE TABLE eff AS
       SELECT DISTINCT r.agent, d.agent AS origin, d.dataset AS hds, hs.hid, (d.fieldmask & r.mask) AS mask,
              greatest(d.as_of, coalesce(r.since, d.as_of)) AS since
       FROM datasets d JOIN reach r ON r.origin = d.agent JOIN cands c ON c.agent = r.agent
       JOIN hsets hs ON hs.agent = d.agent AND hs.dataset = d.dataset
       WHERE d.role IN ('holdings', 'canary') AND (d.fieldmask & r.mask) <> 0""",
    # candidate subject rows, found through the record's identifying values only (ID number,
    # phone, e-mail … full or masked), with the identifying fields each row matched: a common
    # name would pull in thousands of rows per record. A record with no identifying value is
    # looked up by all of its values (so all its matches are found here too). Full values meet
    # the held values, masked ones the held values' masks (one streamed probe side).
    """CREATE OR REPLACE TABLE cand0 AS
       WITH anchors AS (
         SELECT lv.rid, lv.fp, lv.fmask, lv.masked FROM lv JOIN rec USING (rid)
         WHERE (lv.marker OR NOT rec.marker) AND (lv.strong OR NOT rec.anchored) /*part: AND lv.rid % $parts = $part */),
       held AS (
         SELECT agent, dataset, subject_key, fp, false AS masked FROM holdings
         /*masks: UNION ALL
         SELECT agent, dataset, subject_key, fp, true AS masked FROM holding_masks */),
       hit AS (
         SELECT a.rid, (hs.hid << 40) | h.subject_key AS hk, a.fmask
         FROM anchors a JOIN held h ON h.fp = a.fp AND h.masked = a.masked
         JOIN hsets hs ON hs.agent = h.agent AND hs.dataset = h.dataset)
       SELECT rid, hk, bit_or(fmask) AS matched FROM hit GROUP BY rid, hk""",
    # joint matching: the record's other values (names, addresses …) checked on the same held row,
    # joined on (row, fp), which is selective even for a common name
    """CREATE OR REPLACE TABLE vals AS
       SELECT c.rid, c.hk, lv.fp, lv.fmask, lv.masked
       FROM cand0 c JOIN lv USING (rid) JOIN rec USING (rid)
       WHERE rec.anchored AND NOT lv.strong AND (lv.marker OR NOT rec.marker)""",
    """CREATE OR REPLACE TABLE hit AS
       WITH held AS (
         SELECT agent, dataset, subject_key, fp, false AS masked FROM holdings WHERE NOT list_contains($strong, field)
         /*masks: UNION ALL
         SELECT agent, dataset, subject_key, fp, true AS masked FROM holding_masks WHERE NOT list_contains($strong, field) */)
       SELECT v.rid, v.hk, v.fmask
       FROM vals v JOIN (SELECT (hs.hid << 40) | h.subject_key AS hk, h.fp, h.masked
                         FROM held h JOIN hsets hs ON hs.agent = h.agent AND hs.dataset = h.dataset) h
         ON h.hk = v.hk AND h.fp = v.fp AND h.masked = v.masked /*part: WHERE v.rid % $parts = $part */""",
    """CREATE OR REPLACE TABLE cand AS
       WITH weak AS (SELECT rid, hk, bit_or(fmask) AS matched FROM hit GROUP BY rid, hk)
       SELECT c.rid, c.hk, c.matched | coalesce(w.matched, 0) AS matched
       FROM cand0 c LEFT JOIN weak w USING (rid, hk)""",
    # per agent and record: k rows matching every needed field in time; late; short of fields;
    # pm = the needed fields matched by rows that agree with r on every field the agent has
    # which subject a masked record's candidate row is: the row's own values of the fields the
    # record shows masked (rows that match a full value all carry that value: one subject)
    # (a sighting without masked values: the rows that match a record's full identifying value
    # all carry that value, one subject, so k is 0 or 1 and the rows need not be told apart: one
    # aggregate per agent and record)
    """CREATE OR REPLACE TABLE tk AS
       WITH mk AS (SELECT rid, bit_or(fmask) AS mneed FROM lv WHERE masked GROUP BY rid)
       SELECT c.rid, c.hk, bit_xor(hash(h.fp)) AS tkey
       FROM cand c JOIN mk USING (rid) JOIN hsets hs ON hs.hid = (c.hk >> 40)
       JOIN holdings h ON h.agent = hs.agent AND h.dataset = hs.dataset AND h.subject_key = (c.hk & $low)
       JOIN fields f ON f.field = h.field
       WHERE (f.mask & mk.mneed) <> 0
       GROUP BY c.rid, c.hk""",
    """CREATE OR REPLACE TABLE cov AS
       WITH per_row AS (
         SELECT e.agent, c.rid, /*masks: c.hk, any_value(coalesce(t.tkey, 0)) AS tkey, */ rec.need, rec.marker,
                bool_or((c.matched & rec.need) = rec.need AND (e.mask & rec.need) = rec.need AND e.since < $cutoff) AS ok,
                bool_or((c.matched & rec.need) = rec.need AND (e.mask & rec.need) = rec.need AND e.since >= $cutoff) AS late,
                bool_or((e.mask & rec.need) <> rec.need AND (c.matched & e.mask & rec.need) <> 0
                        AND (c.matched & e.mask & rec.need) = (e.mask & rec.need)) AS short,
                bit_or(CASE WHEN e.since < $cutoff AND (c.matched & e.mask & rec.need) = (e.mask & rec.need)
                            THEN c.matched & e.mask & rec.need ELSE 0 END) AS pm
         FROM cand c JOIN rec USING (rid) JOIN eff e ON e.hid = (c.hk >> 40) /*masks: LEFT JOIN tk t USING (rid, hk) */
         GROUP BY e.agent, c.rid, /*masks: c.hk, */ rec.need, rec.marker)
       SELECT agent, rid, rid & $low AS record,
              /*masks: any_value(need) AS need, any_value(marker) AS marker, count(DISTINCT tkey) FILTER (WHERE ok) AS k,
              bool_or(late) AS late, bool_or(short) AS short, bit_or(pm) AS pm
       FROM per_row GROUP BY agent, rid */
              /*plain: need, marker, CAST(CASE WHEN ok THEN 1 ELSE 0 END AS BIGINT) AS k, late, short, pm FROM per_row */""",
    # N_h(need): h's subjects, held before the cut-off, with every needed field. An agent that
    # holds one dataset: its rows, counted at ingest. An agent that holds several (its own copy
    # and what reaches it along edges, say) may hold one subject in more than one of them: its
    # subjects are counted as distinct value tuples of the needed fields (all its fields for need
    # 0), as k counts them, so that a copy held twice weighs once (A_h is a set of subjects).
    """CREATE OR REPLACE TABLE nh AS
       WITH needs AS (SELECT DISTINCT need FROM rec UNION SELECT 0::UBIGINT),
       live AS (SELECT DISTINCT agent, hid, mask FROM eff WHERE since < $cutoff),
       multi AS (SELECT agent FROM live GROUP BY agent HAVING count(DISTINCT hid) > 1),
       per AS (
         SELECT e.agent, q.need, hr.agent AS origin, hr.dataset, hr.rowmask, any_value(hr.n) AS n
         FROM needs q CROSS JOIN eff e JOIN holding_rows hr ON hr.dataset = e.hds AND hr.agent = e.origin
         WHERE e.since < $cutoff AND (hr.rowmask & e.mask & q.need) = q.need AND (hr.rowmask & e.mask) <> 0
           AND e.agent NOT IN (SELECT agent FROM multi)
         GROUP BY ALL),
       vals AS (
         SELECT l.agent, l.hid, l.mask, h.subject_key, f.mask AS fm, hash(h.fp) AS hv
         FROM live l JOIN multi USING (agent) JOIN hsets hs ON hs.hid = l.hid
         JOIN holdings h ON h.agent = hs.agent AND h.dataset = hs.dataset JOIN fields f ON f.field = h.field
         WHERE (f.mask & l.mask) <> 0),
       rowsets AS (
         SELECT agent, hid, mask, subject_key, bit_or(fm) AS rowmask FROM vals GROUP BY ALL),
       tuples AS (
         SELECT v.agent, q.need, bit_xor(v.hv) FILTER (WHERE q.need = 0 OR (v.fm & q.need) <> 0) AS tkey
         FROM vals v JOIN rowsets r USING (agent, hid, mask, subject_key) CROSS JOIN needs q
         WHERE (r.rowmask & q.need) = q.need
         GROUP BY v.agent, q.need, v.hid, v.mask, v.subject_key)
       SELECT agent, need, sum(n)::BIGINT AS n_h FROM per GROUP BY agent, need
       UNION ALL
       SELECT agent, need, count(DISTINCT tkey)::BIGINT AS n_h FROM tuples GROUP BY agent, need""",
    """CREATE OR REPLACE TABLE cq AS
       SELECT c.agent, c.rid, c.marker, r.masked, c.k::DOUBLE / nh.n_h AS q
       FROM cov c JOIN nh ON nh.agent = c.agent AND nh.need = c.need JOIN rec r USING (rid)
       WHERE c.k > 0""",
    # objects (one field's value of one subject) and the candidate agents that held each in
    # time, counted by (agent, |V_t|): the guilt score needs no more. Each object's holders are
    # one bit each (candidates numbered, 32 to a word), so the holders are OR-ed per object in
    # one aggregate and counted per distinct holder set, never listed as (object, agent) pairs.
    # (each object in the part of its first record, so that a part holds all of an object's holders;
    # grouped by the fingerprint's 64-bit hash: an integer key, where a 16-byte one took 45 % longer
    # at 10^7 records; two objects share a hash with probability about n²/2^65, 10^-5 at 2·10^7)
    """CREATE OR REPLACE TABLE obj AS
       SELECT fp, hash(fp) AS hv, any_value(fmask) AS fmask, min(rid) AS first FROM lv WHERE NOT masked GROUP BY fp""",
    """CREATE OR REPLACE TABLE vt AS
       WITH cn AS (SELECT agent, row_number() OVER (ORDER BY agent) - 1 AS ci FROM cands),
       per AS (
         SELECT o.hv, cn.ci // 32 AS w, bit_or(CAST(1 AS BIGINT) << (cn.ci % 32)) AS m
         FROM obj o JOIN holdings h ON h.fp = o.fp JOIN eff e ON e.origin = h.agent AND e.hds = h.dataset
         JOIN cn ON cn.agent = e.agent
         WHERE (e.mask & o.fmask) <> 0 AND e.since < $cutoff /*part: AND o.first % $parts = $part */
         GROUP BY o.hv, w),
       nv AS (SELECT hv, CAST(sum(bit_count(m)) AS BIGINT) AS nv FROM per GROUP BY hv),
       sets AS (SELECT p.w, p.m, v.nv, count(*) AS n FROM per p JOIN nv v USING (hv) GROUP BY p.w, p.m, v.nv)
       SELECT cn.agent, s.nv, CAST(sum(s.n) AS BIGINT) AS n
       FROM sets s JOIN cn ON s.w = cn.ci // 32 AND ((s.m >> (cn.ci % 32)) & 1) = 1
       GROUP BY cn.agent, s.nv""",
)

_AGENT_STATS = """
WITH totals AS (
  SELECT count(*) FILTER (WHERE NOT marker) AS plain, count(*) FILTER (WHERE marker) AS markers FROM rec),
solo AS (
  SELECT min(agent) AS agent, count(*) AS n FROM cq GROUP BY rid HAVING count(*) = 1),
solo_n AS (SELECT agent, count(*) AS only_it FROM solo GROUP BY agent),
lik AS (
  SELECT agent,
         count(*) AS covered,
         count(*) FILTER (WHERE marker) AS markers_hit,
         count(*) FILTER (WHERE NOT marker) AS covered_plain,
         count(*) FILTER (WHERE masked) AS covered_masked,
         sum(ln((1 - $p) * q + CASE WHEN marker THEN $p * $eps ELSE $p / $n0 END)) AS ll_covered
  FROM cq GROUP BY agent),
excl AS (
  SELECT agent,
         count(*) FILTER (WHERE k = 0 AND late) AS excluded_time,
         count(*) FILTER (WHERE k = 0 AND NOT late AND short) AS excluded_fields
  FROM cov GROUP BY agent),
guilt AS (SELECT agent, sum(n * ln(1 - (1 - $p) / nv)) AS lg FROM vt GROUP BY agent)
SELECT c.agent,
       coalesce(lik.covered, 0) AS covered,
       coalesce(solo_n.only_it, 0) AS only_it,
       coalesce(excl.excluded_time, 0) AS excluded_time,
       coalesce(excl.excluded_fields, 0) AS excluded_fields,
       coalesce(lik.markers_hit, 0) AS markers_hit,
       coalesce(lik.ll_covered, 0)
         + (t.plain - coalesce(lik.covered_plain, 0)) * ln($p / $n0)
         + (t.markers - coalesce(lik.markers_hit, 0)) * ln($p * $eps) AS log_likelihood,
       coalesce(guilt.lg, 0) AS log_not_guilty,
       coalesce(nh.n_h, 0) AS n_h,
       coalesce(lik.covered_masked, 0) AS covered_masked
FROM cands c CROSS JOIN totals t
LEFT JOIN lik USING (agent) LEFT JOIN solo_n USING (agent) LEFT JOIN excl USING (agent)
LEFT JOIN guilt USING (agent) LEFT JOIN nh ON nh.agent = c.agent AND nh.need = 0
ORDER BY c.agent
"""

_SWEEP = """
WITH totals AS (
  SELECT count(*) FILTER (WHERE NOT marker) AS plain, count(*) FILTER (WHERE marker) AS markers FROM rec),
lik AS (
  SELECT agent, count(*) AS covered, count(*) FILTER (WHERE marker) AS markers_hit,
         count(*) FILTER (WHERE NOT marker) AS covered_plain,
         sum(ln((1 - $p) * q + CASE WHEN marker THEN $p * $eps ELSE $p / $n0 END)) AS ll_covered
  FROM cq GROUP BY agent)
SELECT c.agent, coalesce(lik.covered, 0),
       coalesce(lik.ll_covered, 0) + (t.plain - coalesce(lik.covered_plain, 0)) * ln($p / $n0)
         + (t.markers - coalesce(lik.markers_hit, 0)) * ln($p * $eps)
FROM cands c CROSS JOIN totals t LEFT JOIN lik USING (agent) ORDER BY c.agent
"""

_PAIR = """
WITH a AS (SELECT rid, pm, marker FROM cov WHERE agent = $a),
b AS (SELECT rid, pm, marker FROM cov WHERE agent = $b),
u AS (
  SELECT r.rid, r.marker FROM rec r
  JOIN (SELECT rid, coalesce(a.pm, 0) | coalesce(b.pm, 0) AS pm
        FROM a FULL JOIN b USING (rid)) ab USING (rid)
  WHERE ab.pm = r.need),
totals AS (SELECT count(*) FILTER (WHERE NOT marker) AS plain, count(*) FILTER (WHERE marker) AS markers FROM rec)
SELECT count(u.rid) AS covered,
       coalesce(sum(ln((1 - $p) / $n_ab + CASE WHEN u.marker THEN $p * $eps ELSE $p / $n0 END)), 0)
         + (any_value(t.plain) - count(u.rid) FILTER (WHERE NOT u.marker)) * ln($p / $n0)
         + (any_value(t.markers) - count(u.rid) FILTER (WHERE u.marker)) * ln($p * $eps) AS log_likelihood
FROM totals t LEFT JOIN u ON true
"""

_SEPARATING = """
WITH a AS (SELECT rid, q FROM cq WHERE agent = $a),
b AS (SELECT rid, q FROM cq WHERE agent = $b)
SELECT count(*) FILTER (WHERE b.rid IS NULL) AS a_only,
       count(*) FILTER (WHERE a.rid IS NULL) AS b_only,
       count(*) FILTER (WHERE a.rid IS NOT NULL AND b.rid IS NOT NULL AND a.q <> b.q) AS differ
FROM a FULL JOIN b USING (rid)
"""

_SEPARATING_EXAMPLES = """
SELECT d.dataset, (a.rid & $low) + 1 FROM cq a JOIN lds d ON d.di = a.rid >> 40
WHERE a.agent = $a AND NOT EXISTS (SELECT 1 FROM cq b WHERE b.agent = $b AND b.rid = a.rid)
ORDER BY a.rid LIMIT $limit
"""

#: DuckDB settings of an attribution run: the planner may reorder rows (no statement depends on
#: insertion order: every result is aggregated or sorted), which lets large statements stream.
ENGINE_SETTINGS = {"preserve_insertion_order": "false"}
SCRATCH_DIR = "scratch"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unlink(files: Sequence[str]) -> None:
    for f in files:
        try:
            os.unlink(f)
        except OSError:
            pass


def _tagged(sql: str, tag: str, keep: bool) -> str:
    """``sql`` with each ``/*tag: … */`` part's text kept (without the comment marks) or left out."""
    mark = f"/*{tag}:"
    while mark in sql:
        start = sql.index(mark)
        end = sql.index("*/", start)
        sql = sql[:start] + (sql[start + len(mark):end] if keep else "") + sql[end + 2:]
    return sql


def _with_masks(sql: str, masked: bool) -> str:
    """The statement for a sighting with masked values or without: its ``/*masks: … */`` parts
    (the held values' masks and the subjects told apart behind a mask: a second probe of every
    held row, and a count of distinct subjects per record) kept when ``masked``, its
    ``/*plain: … */`` parts kept when not."""
    return _tagged(_tagged(sql, "masks", masked), "plain", not masked)


#: Leaked records per part of the statements that probe every held row or group every value by
#: record (``/*part: … */``): at 10^7 leaked rows the whole build side of those joins (2·10^7
#: identifying values) overflows the 1 GB limit and the join spills its 1.5·10^8-row probe side to
#: disk; a part of 4·10^6 records fits, and each part probes the held rows once more (a scan,
#: filtered by the part's values), so parts are as large as fit.
RECORDS_PER_PART = 4_000_000

_CREATE = re.compile(r"\s*CREATE OR REPLACE TABLE (\w+) AS")


def _with_part(sql: str, parted: bool, *, first: bool) -> str:
    """The statement for one part of its rows: the ``/*part: … */`` filters kept when ``parted``
    (else left out: one part), and every part after the first appended to the first's table."""
    sql = _tagged(sql, "part", parted)
    if not first:
        m = _CREATE.match(sql)
        assert m is not None
        sql = f"INSERT INTO {m.group(1)}" + sql[m.end():]
    return sql


def _rows(con: Any, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement of this module: on a DuckDB connection, or through the runner of another
    engine (an object with ``dialect`` and ``fetchall``, e.g. :class:`.spark.SparkRunner`, which
    transpiles the statement from DuckDB's dialect)."""
    if getattr(con, "dialect", "duckdb") != "duckdb":
        return list(con.fetchall(sql, params or {}))
    return list(con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall())


def _row(con: Any, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
    rows = _rows(con, sql, params)
    return rows[0] if rows else None


_SCRATCH_NAME = re.compile(r"(?:attribute|spark)-([0-9]+)-[0-9a-f]+(?:\.duckdb(?:\.wal)?)?")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def sweep_scratch(folder: Path) -> None:
    """Delete what attributions killed before their clean-up (SIGKILL, a crash, a power cut) left
    in the scratch folder: their prepared tables, some GB at 10^7 leaked rows. A file or folder
    is a dead run's when the process id in its name no longer runs; a live run's is left alone
    (a reused process id only postpones the deletion to a later run)."""
    import shutil

    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _SCRATCH_NAME.fullmatch(name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        path = folder / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except OSError:
            pass


#: Leaked records up to which the prepared tables live in an attached in-memory database rather
#: than a file: its pages are written to the store's temporary folder only when the memory limit
#: is reached (a 10^6-record attribution ran in a 300 MB limit), and below that nothing is
#: written. Measured (quiet, 2 cores): 10^6 records 7.7 s in memory against 9.0 s in a file;
#: 10^7 records 148 s in memory against 130 s in a file, where the tables far exceed the limit.
SCRATCH_MEMORY_RECORDS = 2_000_000


def _attach_scratch(con: Any, records: int) -> tuple[str, str, list[str]]:
    """Attach a fresh scratch database for the prepared tables and make it the default one, the
    item tables staying visible through the search path: (home catalog, scratch catalog, files).
    In memory (still paged) for a sighting of up to SCRATCH_MEMORY_RECORDS records, an in-memory
    store or a case folder that cannot be written; else a file in the scratch folder."""
    row = con.execute("SELECT database_name, path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    home, path = str(row[0]), row[1]
    name = f"plitool_work_{secrets.token_hex(4)}"
    files: list[str] = []
    target = ":memory:"
    if path:
        folder = Path(path).parent / SCRATCH_DIR
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            sweep_scratch(folder)
            if records > SCRATCH_MEMORY_RECORDS:
                target = str(folder / f"attribute-{os.getpid()}-{name[-8:]}.duckdb")
                files = [target, target + ".wal"]
        except OSError:
            pass
    con.execute(f"ATTACH {_literal(target)} AS {_ident(name)} (READ_ONLY false)")
    try:
        con.execute(f"USE {_ident(name)}")
        con.execute(f"SET search_path = {_literal(name + ',' + home)}")
        for key, value in ENGINE_SETTINGS.items():
            con.execute(f"SET {key} = {value}")
    except BaseException:
        con.execute(f"DETACH DATABASE IF EXISTS {_ident(name)}")
        _unlink(files)
        raise
    return home, name, files


@dataclass(frozen=True)
class AgentStats:
    agent: str
    covered: int
    only_it: int
    excluded_time: int
    excluded_fields: int
    markers_hit: int
    log_likelihood: float  # natural log
    log_not_guilty: float  # Σ ln(1 − (1 − p)/|V_t|); guilt = 1 − exp(this)
    n_h: int  # subject rows held before the cut-off (any field)
    covered_masked: int = 0  # of ``covered``: records matched through a masked value (candidates only)


class Engine:
    """The attribution queries over one open item store, for one sighting and cut-off date.

    The prepared tables live in a scratch database attached beside the item tables (a file in
    ``.plitool/provenance/scratch/`` for a sighting of more than SCRATCH_MEMORY_RECORDS records;
    in memory for a smaller one, an in-memory store or a folder that cannot be written), not in
    DuckDB's temporary tables, which held 1.47 GB in memory at 10^6 leaked rows: either way they
    are paged by DuckDB's buffer manager within the memory limit, and the joins and aggregates
    that build them spill to the store's temp directory. :meth:`close` detaches and deletes the scratch
    database (a finaliser deletes it if an engine is dropped unclosed).
    """

    def __init__(self, con: Any, *, sighting: str, cutoff: date, reach: Sequence[tuple[str, str, int, date | None]],
                 candidates: Sequence[str]) -> None:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        self.con = con
        # another engine's runner keeps the prepared tables itself (and drops them on its close)
        self._runner = getattr(con, "dialect", "duckdb") != "duckdb"
        self._files: list[str] = []
        if self._runner:
            self._home, self._scratch = "", ""
        else:
            row = _row(con, "SELECT coalesce(sum(rows), 0) FROM datasets WHERE role = 'leak' AND agent = $sighting",
                       {"sighting": sighting})
            self._home, self._scratch, self._files = _attach_scratch(con, int(row[0]) if row else 0)
        self._finalizer = weakref.finalize(self, _unlink, self._files)
        try:
            reach_tbl = pa.table({
                "agent": pa.array([r[0] for r in reach], pa.string()),
                "origin": pa.array([r[1] for r in reach], pa.string()),
                "mask": pa.array([r[2] for r in reach], pa.uint64()),
                "since": pa.array([r[3] for r in reach], pa.date32()),
            })
            cands_tbl = pa.table({"agent": pa.array(sorted(set(candidates)), pa.string())})
            con.register("reach", reach_tbl)
            con.register("cands", cands_tbl)
            params = {"sighting": sighting, "cutoff": cutoff, "strong": STRONG_FIELDS, "low": _LOW}
            masked, parts = True, 1
            for stmt in _PREPARE:
                if stmt.lstrip().startswith("CREATE OR REPLACE TABLE cand0"):
                    # from the records (one row each), not a DISTINCT over every value: 2.5 CPU s at 10^7
                    row = _row(con, "SELECT count(*) FILTER (WHERE masked), count(*) FROM rec")
                    masked = bool(row and row[0])
                    # another engine partitions its joins itself
                    parts = 1 if self._runner else max(1, -(-int(row[1] if row else 0) // RECORDS_PER_PART))
                sql = _with_masks(stmt, masked)
                n = parts if "/*part:" in sql else 1
                for part in range(n):
                    text = _with_part(sql, n > 1, first=part == 0)
                    _rows(con, text, {k: v for k, v in {**params, "parts": n, "part": part}.items() if f"${k}" in text})
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Detach and delete the scratch database; the connection is as it was before."""
        if not self._finalizer.alive:
            return
        if self._runner:
            self._finalizer()
            return
        try:
            self.con.execute(f"USE {_ident(self._home)}")
            self.con.execute("RESET search_path")
            self.con.execute(f"DETACH DATABASE IF EXISTS {_ident(self._scratch)}")
        finally:
            self._finalizer()

    def records(self) -> tuple[int, int, int]:
        """(records, marker records, records with a masked value) of the sighting."""
        row = _row(self.con, "SELECT count(*), count(*) FILTER (WHERE marker), count(*) FILTER (WHERE masked) FROM rec")
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def agent_stats(self, *, p: float, n0: int, eps: float = MARKER_EPSILON) -> list[AgentStats]:
        rows = _rows(self.con, _AGENT_STATS, {"p": p, "n0": float(n0), "eps": eps})
        return [AgentStats(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6]), float(r[7]), int(r[8]), int(r[9]))
                for r in rows]

    def largest_allocation(self) -> int:
        row = _row(self.con, "SELECT coalesce(max(n_h), 0) FROM nh WHERE need = 0")
        return int(row[0]) if row else 0

    def sweep_stats(self, *, p: float, n0: int, eps: float = MARKER_EPSILON) -> list[AgentStats]:
        """Only what the p sweep needs (covered, log L); the other counts are zero here."""
        rows = _rows(self.con, _SWEEP, {"p": p, "n0": float(n0), "eps": eps})
        return [AgentStats(r[0], int(r[1]), 0, 0, 0, 0, float(r[2]), 0.0, 0) for r in rows]

    def pair(self, a: str, b: str, *, p: float, n0: int, n_ab: int, eps: float = MARKER_EPSILON) -> tuple[int, float]:
        """(records covered, ln L) of the pair as one joint source (mixture or combination)."""
        row = _row(self.con, _PAIR, {"a": a, "b": b, "p": p, "n0": float(n0), "n_ab": float(max(n_ab, 1)),
                                     "eps": eps})
        assert row is not None
        return int(row[0]), float(row[1])

    def separating(self, a: str, b: str, *, limit: int = 10) -> tuple[int, int, int, list[tuple[str, int]], list[tuple[str, int]]]:
        row = _row(self.con, _SEPARATING, {"a": a, "b": b})
        assert row is not None
        ex_a = [(str(d), int(r)) for d, r in _rows(self.con, _SEPARATING_EXAMPLES, {"a": a, "b": b, "limit": limit, "low": _LOW})]
        ex_b = [(str(d), int(r)) for d, r in _rows(self.con, _SEPARATING_EXAMPLES, {"a": b, "b": a, "limit": limit, "low": _LOW})]
        return int(row[0]), int(row[1]), int(row[2]), ex_a, ex_b

    def affected(self) -> int:
        row = _row(self.con, _AFFECTED)
        return int(row[0]) if row else 0


#: Held values counted in one DISTINCT pass over every field when counting N_0; past this, one
#: field at a time, and a field held in more than POPULATION_SLICE_ROWS rows in disjoint slices
#: (by the value's hash), each within the memory limit (the sum of the slices' counts is the same).
#: A filter on the hash reads every row, so a slice costs about as much as a whole pass: slices
#: start only where a pass would not fit 1 GB (50·10^6 held phone numbers, 18.8·10^6 distinct,
#: were counted in one pass at 1.1 GB peak RSS; all three fields at once ran 60 % longer).
POPULATION_PASS_VALUES = 32_000_000
POPULATION_SLICE_ROWS = 64_000_000

_POPULATION = """SELECT h.field, count(DISTINCT hash(h.fp)) FROM holdings h
                 WHERE EXISTS (SELECT 1 FROM datasets d
                               WHERE d.dataset = h.dataset AND d.agent = h.agent AND d.role = 'holdings')"""


def population(con: Any) -> int:
    """N_0 by default: the most distinct values any one field has across all holdings (markers
    excluded), i.e. the distinct subjects the records could be drawn from.

    Counted over the 64-bit hashes of the fingerprints (8 bytes a value in the hash table instead
    of a 16-byte string): the 1.5·10^8 held values of 10^7 leaked rows in about 10 s. Two values
    share a hash with probability about n²/2^65 (10^-5 at n = 2·10^7 values of one field), which
    would lower N_0 by one; ``k`` and ``N_h`` tell subjects apart the same way."""
    fields = [(str(f), int(n)) for f, n in _rows(
        con, """SELECT f.field, sum(d.rows) FROM fields f JOIN datasets d ON (d.fieldmask & f.mask) <> 0
                WHERE d.role = 'holdings' GROUP BY f.field ORDER BY f.field""")]
    if sum(n for _f, n in fields) <= POPULATION_PASS_VALUES:
        return max((int(c) for _f, c in _rows(con, _POPULATION + " GROUP BY h.field")), default=0)
    best = 0
    for field, rows in fields:
        slices = max(1, -(-rows // POPULATION_SLICE_ROWS))
        where = " AND h.field = $field" + (" AND hash(h.fp) % $slices = $i" if slices > 1 else "")
        n = 0
        for i in range(slices):
            row = _row(con, _POPULATION + where + " GROUP BY h.field",
                       {"field": field, **({"slices": slices, "i": i} if slices > 1 else {})})
            n += int(row[1]) if row else 0
        best = max(best, n)
    return best


def sightings(con: Any) -> list[tuple[str, date, int]]:
    """(sighting, first seen, leak datasets) for every sighting with a leak ingested."""
    return [(str(s), d, int(n)) for s, d, n in _rows(
        con, "SELECT agent, min(as_of), count(*) FROM datasets WHERE role = 'leak' GROUP BY agent ORDER BY agent")]


def holding_agents(con: Any) -> list[str]:
    return [str(a) for (a,) in _rows(
        con, "SELECT DISTINCT agent FROM datasets WHERE role IN ('holdings', 'canary') ORDER BY agent")]
