"""The attribution engine on Apache Spark: the statements of :mod:`.engine`, transpiled.

The SQL of the attribution is written once, in DuckDB's dialect, in :mod:`.engine`. Here each
statement is parsed with ``sqlglot`` (``read='duckdb'``), rewritten where DuckDB and Spark
differ, and generated in Spark's dialect (``write='spark'``):

* ``$name`` parameters become typed literals built as syntax-tree nodes (strings escaped by the
  generator, floats as ``CAST('repr' AS DOUBLE)`` so Spark does not read them as DECIMAL, dates
  as ``CAST('YYYY-MM-DD' AS DATE)``, lists as ``ARRAY(...)``); no text is pasted into SQL.
* ``CREATE OR REPLACE TABLE t AS q`` becomes a temporary view ``t`` over a local checkpoint (``q`` run once,
  kept in the executors' memory and disk), dropped by :meth:`SparkRunner.close`.
* unsigned integer types (DuckDB ``UBIGINT`` …) become ``BIGINT`` (field masks use bits 0–62);
* DuckDB ``hash(x)`` (64 bits) becomes ``xxhash64(x)`` (64 bits; Spark's ``hash`` has only 32,
  and counts of distinct hash values must agree), and ``hash(x) % n`` becomes
  ``pmod(xxhash64(x), n)`` (Spark's hash is signed).

What sqlglot already translates (``list_contains`` → ``array_contains``, ``list`` →
``collect_list``, struct literals, ``FILTER (WHERE)``, ``GROUP BY ALL``, ``x::T``) is left to it;
``tests/test_provenance_spark.py`` runs every generated attribution scenario on both engines.

The item tables reach Spark as Parquet (``plitool tables export``): fingerprints, agent ids,
fields and dates, never a raw value and never the case key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import EnvironmentProblem, UsageError
from ..i18n import _

#: Environment variable naming a Spark Connect endpoint (``sc://HOST:PORT``).
REMOTE_ENV = "PLITOOL_SPARK_REMOTE"
DEFAULT_MASTER = "local[2]"
CONNECT_PORT = 15002
INSTALL_HINT = "pip install 'plitool[spark]'"
#: Item-table rows per shuffle partition of a session plitool starts: 8 partitions (the start-up
#: value) up to 3.2·10^7 rows, more beyond, so that each task's share of a join or aggregate
#: stays small enough to spill (a 10^7-record leak, 1.8·10^8 rows, failed with 8).
ROWS_PER_PARTITION = 4_000_000


def shuffle_partitions(manifest: Mapping[str, Any]) -> int:
    """Shuffle partitions for the item tables an export's manifest describes (see ROWS_PER_PARTITION)."""
    rows = sum(int(t.get("rows", 0)) for t in manifest.get("tables", {}).values() if isinstance(t, Mapping))
    return max(8, -(-rows // ROWS_PER_PARTITION))


#: Tables of an export that the engine reads (the order is the manifest's).
TABLES = ("fields", "datasets", "holdings", "holding_masks", "holding_rows", "leaks", "canaries")
#: The driver's heap of a session plitool starts (on ``local[N]`` the driver runs the executors too).
DRIVER_MEMORY_ENV = "PLITOOL_SPARK_DRIVER_MEMORY"
#: Spark settings of a session plitool starts itself (a ``--spark-master`` or the default).
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": os.environ.get(DRIVER_MEMORY_ENV, "2g"),
    # the prepared tables are local checkpoints kept in memory and on disk: let the joins and
    # aggregates push them to disk (a 10^7-record leak ran out of memory in an aggregate's spill
    # while half of the heap held checkpoints it could not evict)
    "spark.memory.storageFraction": "0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def require_pyspark() -> Any:
    """pyspark and sqlglot, or a clear message saying how to install them."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise EnvironmentProblem(_("--engine spark needs pyspark and sqlglot: {hint}").format(hint=INSTALL_HINT)) from exc
    import pyspark

    return pyspark


# -- transpiling -----------------------------------------------------------------------------


def _literal(value: Any) -> Any:
    from sqlglot import exp

    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[_literal(v) for v in value])
    raise TypeError(f"no Spark literal for {type(value).__name__}")


def _is_hash(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Anonymous) and str(node.name).lower() == "hash" and len(node.expressions) == 1


def _bind(params: Mapping[str, Any]) -> Any:
    from sqlglot import exp

    def fn(node: Any) -> Any:
        if isinstance(node, exp.Placeholder):
            name = str(node.name)
            if name not in params:
                raise KeyError(f"no value for ${name}")
            return _literal(params[name])
        return node

    return fn


def _rewrite(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.DataType) and node.this in _UNSIGNED:
        return exp.DataType.build("BIGINT")
    if isinstance(node, exp.Mod) and _is_hash(node.this):
        return exp.func("PMOD", exp.func("XXHASH64", node.this.expressions[0]), node.expression)
    if _is_hash(node):
        return exp.func("XXHASH64", node.expressions[0])
    return node


def _unsigned() -> frozenset[Any]:
    from sqlglot import exp

    T = exp.DataType.Type
    return frozenset({T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT, T.UINT128, T.UINT256})


_UNSIGNED: frozenset[Any] = frozenset()


def transpile(sql: str, params: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """(table, Spark SQL) of one DuckDB statement: ``table`` is the name a ``CREATE OR REPLACE
    TABLE t AS q`` creates (then the SQL is ``q``), None for a query."""
    global _UNSIGNED
    import sqlglot
    from sqlglot import exp

    if not _UNSIGNED:
        _UNSIGNED = _unsigned()
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_bind(params or {})).transform(_rewrite)
    if isinstance(tree, exp.Create):
        if str(tree.args.get("kind", "")).upper() != "TABLE" or not isinstance(tree.expression, exp.Query):
            raise ValueError("only CREATE TABLE … AS SELECT is supported")
        return str(tree.this.name), tree.expression.sql(dialect="spark")
    return None, tree.sql(dialect="spark")


# -- errors ------------------------------------------------------------------------------------

_ROUTINE = re.compile(r"UNRESOLVED_ROUTINE\]\s*(?:Cannot resolve routine|Cannot resolve function)\s*`?([A-Za-z0-9_.]+)", re.S)
_ROUTINE_OLD = re.compile(r"Undefined function:?\s*'?`?([A-Za-z0-9_]+)", re.S)


def missing_function(exc: BaseException) -> str | None:
    """The name of the function Spark says it lacks (``UNRESOLVED_ROUTINE`` in Spark 4, "Undefined
    function" before), if that is what ``exc`` says."""
    text = _text(exc)
    for pattern in (_ROUTINE, _ROUTINE_OLD):
        m = pattern.search(text)
        if m:
            return m.group(1).split(".")[-1]
    return None


def _analysis_error() -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = []
    try:
        from pyspark.errors import AnalysisException, PySparkException

        out += [AnalysisException, PySparkException]
    except ImportError:  # pragma: no cover
        pass
    try:  # what a classic session's JVM raises at run time (out of memory, a failed task, a JVM gone)
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]

        out.append(Py4JError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(out)


def _text(exc: BaseException) -> str:
    """``str(exc)``: a Java exception's text is fetched from the JVM, which may be gone."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return f"{type(exc).__name__} (<exception str() failed>)"


def engine_error(exc: BaseException, sql: str) -> EnvironmentProblem:
    name = missing_function(exc)
    if name:
        return EnvironmentProblem(_("the Spark cluster lacks the function {name}() that the attribution query needs "
                                    "(plitool's queries are tested on Spark 4): {sql}").format(
            name=name.lower(), sql=_first_line(sql)))
    text = _text(exc)
    if any(m in text for m in _OUT_OF_MEMORY) or type(exc).__name__ == "Py4JNetworkError":
        return EnvironmentProblem(_("Spark ran out of memory or stopped while running the attribution ({reason}): on a "
                                    "local master give its JVM more memory, e.g. {env}=8g (now {now}), or run it on a "
                                    "cluster with --spark-remote").format(
            reason=_first_line(text), env=DRIVER_MEMORY_ENV, now=os.environ.get(DRIVER_MEMORY_ENV, "2g")))
    return EnvironmentProblem(_("Spark could not run the attribution query: {reason}").format(reason=_first_line(text)))


#: What Spark's errors say when memory ran out (a task's, the JVM's) or the JVM could not answer.
_OUT_OF_MEMORY = ("OutOfMemory", "UNABLE_TO_ACQUIRE_MEMORY", "Java heap space", "Answer from Java side is empty",
                  "<exception str() failed>")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


# -- sessions ----------------------------------------------------------------------------------


def _check_endpoint(remote: str, timeout: float = 5.0) -> None:
    url = urlparse(remote)
    if url.scheme != "sc" or not url.hostname:
        raise UsageError(_("--spark-remote must be a Spark Connect URL like sc://HOST:15002, not {url!r}").format(url=remote))
    port = url.port or CONNECT_PORT
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise EnvironmentProblem(_("cannot reach the Spark Connect server at {host}:{port} ({reason}); check the "
                                   "address and that the server runs (start-connect-server.sh)").format(
            host=url.hostname, port=port, reason=exc.strerror or exc)) from exc


#: Spark's own log of a session plitool starts: errors only (plitool reports failures itself).
LOG4J2 = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


def _quiet() -> None:
    """pyspark logs each failed query as JSON on stderr, and warns about pandas versions it has not
    tried; plitool reports a failure as one line instead."""
    import logging
    import warnings

    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)


def session(*, remote: str | None = None, master: str | None = None, local_dir: Path | None = None) -> Any:
    """A Spark session: Spark Connect at ``remote`` (``sc://HOST:PORT``), else a classic session
    on ``master`` (default ``local[2]``), which needs Java."""
    require_pyspark()
    _quiet()
    if remote and master:
        raise UsageError(_("give --spark-remote or --spark-master, not both"))
    if remote:
        _check_endpoint(remote)
        try:
            # the Connect client itself: it works beside a classic session in the same process
            from pyspark.sql.connect.session import SparkSession as RemoteSession

            return RemoteSession.builder.remote(remote).getOrCreate()
        except ImportError as exc:
            raise EnvironmentProblem(_("Spark Connect needs its client packages (grpcio, pandas …): {hint}").format(
                hint=INSTALL_HINT)) from exc
        except Exception as exc:  # noqa: BLE001 - the client's own errors vary by version
            raise EnvironmentProblem(_("cannot open a Spark Connect session at {url}: {reason}").format(
                url=remote, reason=_first_line(str(exc)))) from exc
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EnvironmentProblem(_("--engine spark on a local master needs a Java runtime (17 or later): install "
                                   "openjdk-17-jre-headless, or use --spark-remote sc://HOST:PORT"))
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master or DEFAULT_MASTER).appName("plitool-attribute")
    for k, v in LOCAL_CONF.items():
        builder = builder.config(k, v)
    if local_dir is not None:
        local_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (local_dir / "log4j2.properties").write_text(LOG4J2, "utf-8")
        builder = builder.config("spark.local.dir", str(local_dir)).config(
            "spark.sql.warehouse.dir", str(local_dir / "warehouse")).config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{local_dir / 'log4j2.properties'}")
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's start-up errors vary
        raise EnvironmentProblem(_("cannot start Spark on {master}: {reason}").format(
            master=master or DEFAULT_MASTER, reason=_first_line(str(exc)))) from exc


# -- running the engine's SQL ------------------------------------------------------------------


class SparkRunner:
    """Runs :mod:`.engine`'s DuckDB statements on a Spark session (see the module doc)."""

    dialect = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self._views: list[str] = []
        self._kept: dict[str, Any] = {}

    def _sql(self, sql: str) -> Any:
        try:
            return self.spark.sql(sql)
        except _analysis_error() as exc:
            raise engine_error(exc, sql) from exc

    def fetchall(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        table, text = transpile(sql, params)
        if table is not None:
            self.create(table, sql, params)
            return []
        try:
            return [tuple(r) for r in self._sql(text).collect()]
        except _analysis_error() as exc:
            raise engine_error(exc, text) from exc

    def fetchone(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def create(self, table: str, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """``CREATE OR REPLACE TABLE table AS …``: computed once and kept by the executors (a local
        checkpoint, memory and disk) as the temporary view ``table``. Checkpointing cuts the
        lineage, so the next statement is planned over this result, not over every statement
        before it (cached views alone made Spark re-plan the whole chain at each step)."""
        name, text = transpile(sql, params)
        assert name == table
        try:
            df = self._sql(text).localCheckpoint(eager=True)
        except _analysis_error() as exc:
            raise engine_error(exc, text) from exc
        old = self._kept.pop(table, None)
        self._kept[table] = df
        df.createOrReplaceTempView(table)
        if table not in self._views:
            self._views.append(table)
        if old is not None:
            _unpersist(old)

    def register(self, name: str, table: Any) -> None:
        """A small Arrow table (``reach``, ``cands``) as a temporary view."""
        from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

        types = {"string": StringType(), "uint64": LongType(), "int64": LongType(), "date32[day]": DateType()}
        schema = StructType([StructField(f.name, types[str(f.type)], True) for f in table.schema])
        rows = [tuple(r[f.name] for f in table.schema) for r in table.to_pylist()]
        self.spark.createDataFrame(rows, schema).createOrReplaceTempView(name)
        if name not in self._views:
            self._views.append(name)

    def read_tables(self, uri: str, case_id: str) -> dict[str, Any]:
        """The item tables of an export at ``uri`` (a path the cluster sees) as temporary views,
        after checking that its manifest names this case."""
        manifest = read_manifest(self.spark, uri)
        if manifest.get("case_id") != case_id:
            raise UsageError(_("{uri} holds the tables of another case ({other}), not of this one ({case}): refused")
                             .format(uri=uri, other=manifest.get("case_id"), case=case_id))
        base = uri.rstrip("/")
        for table in TABLES:
            try:
                df = self.spark.read.parquet(f"{base}/{table}")
            except _analysis_error() as exc:
                raise UsageError(_("{uri} lacks the table {table}: {reason}").format(
                    uri=uri, table=table, reason=_first_line(str(exc)))) from exc
            df.createOrReplaceTempView(table)
            if table not in self._views:
                self._views.append(table)
        return manifest

    def close(self) -> None:
        for df in self._kept.values():
            _unpersist(df)
        for v in reversed(self._views):
            try:
                self.spark.catalog.dropTempView(v)
            except Exception:  # noqa: BLE001
                pass
        self._kept.clear()
        self._views.clear()


def _unpersist(df: Any) -> None:
    try:
        df.unpersist()
    except Exception:  # noqa: BLE001 - best effort: the session may be gone
        pass


MANIFEST = "manifest.json"


def read_manifest(spark: Any, uri: str) -> dict[str, Any]:
    """``manifest.json`` of an export, read through Spark (any file system the cluster sees)."""
    target = uri.rstrip("/") + "/" + MANIFEST
    try:
        rows = spark.read.text(target, wholetext=True).collect()
        data = json.loads(rows[0][0]) if rows else None
    except _analysis_error() as exc:
        raise UsageError(_("{uri} is not a plitool tables export (no readable {manifest}): {reason}").format(
            uri=uri, manifest=MANIFEST, reason=_first_line(str(exc)))) from exc
    except ValueError as exc:
        raise UsageError(_("{uri}: {manifest} is not valid JSON").format(uri=uri, manifest=MANIFEST)) from exc
    if not isinstance(data, dict) or data.get("schema") != "plitool.tables/1":
        raise UsageError(_("{uri} is not a plitool tables export (unknown manifest schema)").format(uri=uri))
    return data


class SparkStore:
    """What :func:`.attribute._attribute` needs of an item store, on Spark: ``con`` (the runner)
    and the field masks."""

    def __init__(self, runner: SparkRunner) -> None:
        self.con = runner

    def all_field_masks(self) -> dict[str, int]:
        return {str(f): int(m) for f, m in self.con.fetchall("SELECT field, mask FROM fields")}


def attribute_on_spark(case: Any, flows: Any, agents: dict[str, Any], *, sighting: str | None, p: float,
                       population: int | None, delta_days: int, remote: str | None = None, master: str | None = None,
                       tables: str | None = None, spark: Any = None) -> Any:
    """:func:`.attribute.attribute` on Spark. The item tables come from ``tables`` (an export's
    URI the cluster sees) or, on a local master, from a temporary export in the case's scratch
    folder (deleted afterwards). ``spark``: a session to use (tests); otherwise one is started
    (and stopped) here, Spark Connect at ``remote`` (or ``$PLITOOL_SPARK_REMOTE``) or ``master``."""
    from .attribute import _attribute
    from .engine import SCRATCH_DIR, sweep_scratch
    from .items import item_store, store_path
    from .tables import write_tables

    require_pyspark()
    if remote and master:
        raise UsageError(_("give --spark-remote or --spark-master, not both"))
    if spark is None and not remote and not master:
        remote = os.environ.get(REMOTE_ENV, "").strip() or None
    if remote and not tables:
        raise UsageError(_("with --spark-remote, the cluster reads the item tables from storage it sees: run "
                           "'plitool tables export DIR', copy DIR there and pass --tables URI"))
    if not tables and not store_path(case).exists():
        raise UsageError(_("no leak ingested yet: run 'plitool leak add SIGHTING FILE --first-seen DATE' first"))
    scratch: Path | None = None
    own = None
    sweep_scratch(store_path(case).parent / SCRATCH_DIR)  # what killed runs left
    try:
        if spark is None:
            from pyspark.sql import SparkSession

            existing = None if remote else SparkSession.getActiveSession()
            if not remote and existing is None:
                scratch = store_path(case).parent / SCRATCH_DIR / f"spark-{os.getpid()}-{os.urandom(4).hex()}"
                scratch.mkdir(mode=0o700, parents=True)
            spark = session(remote=remote, master=master, local_dir=scratch / "local" if scratch else None)
            own = None if existing is not None else spark
        if not tables:
            if scratch is None:
                scratch = store_path(case).parent / SCRATCH_DIR / f"spark-{os.getpid()}-{os.urandom(4).hex()}"
                scratch.mkdir(mode=0o700, parents=True)
            folder = scratch / "tables"
            folder.mkdir()
            with item_store(case, read_only=True) as store:
                write_tables(store.con, folder, case_id=case.case_id)
            tables = str(folder)
        runner = SparkRunner(spark)
        try:
            manifest = runner.read_tables(tables, case.case_id)
            if own is not None and not remote:
                spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(manifest)))
            return _attribute(SparkStore(runner), flows, agents, sighting=sighting, p=p, population=population,
                              delta_days=delta_days)
        finally:
            runner.close()
    finally:
        if own is not None:
            try:
                own.stop()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
