"""``holdings add``, ``leak add``, ``attribute``, ``canary issue|list``, ``items export``, ``tables export``.

Thin wrappers over :mod:`plitool.provenance` (ingest, attribute, canary, items): parse, call one
library function, render. Tables and summaries only ever show fingerprints' counts, agents and
evidence ids, never a personal value (markers are not personal data and are shown in full).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from ..i18n import _, ngettext
from .common import emit_json, err, json_option, open_case, out, plain

map_option = click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD",
                          help="Type a column by hand (header text or 1-based number); FIELD '-' ignores the column.")


def _day(text: str, what: str) -> date:
    from ..provenance.ingest import parse_date

    return parse_date(text, what)


def _ingest(ctx: click.Context, role: str, agent: str, target: str, day_text: str, maps: tuple[str, ...],
            as_json: bool) -> None:
    from ..provenance.ingest import ingest

    what = "--as-of" if role == "holdings" else "--first-seen"
    day = _day(day_text, what)
    case = open_case(ctx)
    console = err()
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % (1 << 20) < n and console.is_terminal:
            console.print(plain(_("  {rows} rows streamed …").format(rows=done[0])), soft_wrap=True)

    result = ingest(case, role=role, agent=agent, target=target, day=day, maps=maps, progress=progress)
    if as_json:
        emit_json(result.as_json())
    else:
        console = out()
        console.print(plain(_("{dataset} → {role} of {agent}: {rows} rows, {records} with personal data ({format})").format(
            dataset=result.dataset, role=role, agent=agent, rows=result.rows, records=result.records,
            format=result.format + (", " + result.encoding if result.encoding else ""))), soft_wrap=True)
        for header, field in result.columns.items():
            console.print(plain(_("  {header} → {field}: {values} fingerprinted, {masked} masked, {invalid} not valid").format(
                header=header, field=field, values=result.values.get(field, 0), masked=result.masked.get(field, 0),
                invalid=result.invalid.get(field, 0))), soft_wrap=True)
    if result.added_to_vault:
        err().print(plain(_("added {dataset} to the vault first").format(dataset=result.dataset)), soft_wrap=True)
    if result.skipped_rows:
        err().print(plain(ngettext("{n} malformed row skipped", "{n} malformed rows skipped", result.skipped_rows)
                    .format(n=result.skipped_rows)), soft_wrap=True)
    err().print(plain(_("streamed {rows} rows in {seconds:.1f} s").format(rows=result.rows, seconds=result.seconds)), soft_wrap=True)


@click.group("holdings")
def holdings_group() -> None:
    """Datasets an agent held, as fingerprint tables."""


@holdings_group.command("add")
@click.argument("agent")
@click.argument("target")
@click.option("--as-of", "as_of", required=True, metavar="DATE", help="The date the agent held this data (YYYY-MM-DD).")
@map_option
@json_option
@click.pass_context
def holdings_add_cmd(ctx: click.Context, agent: str, target: str, as_of: str, maps: tuple[str, ...], as_json: bool) -> None:
    """Fingerprint every value of a table an AGENT held (E-id or a file; a file is added to the vault first).

    Columns are typed by their headers (as 'plitool scan' does), by content when the header says
    nothing, or by --map. Only keyed fingerprints are kept.
    """
    _ingest(ctx, "holdings", agent, target, as_of, maps, as_json)


@click.group("leak")
def leak_group() -> None:
    """Leaked datasets found at a sighting."""


@leak_group.command("add")
@click.argument("sighting")
@click.argument("target")
@click.option("--first-seen", "first_seen", required=True, metavar="DATE", help="When the leak was first seen (YYYY-MM-DD).")
@map_option
@json_option
@click.pass_context
def leak_add_cmd(ctx: click.Context, sighting: str, target: str, first_seen: str, maps: tuple[str, ...], as_json: bool) -> None:
    """Fingerprint a leaked table seen at SIGHTING (E-id or a file; streamed, any size).

    Masked values (138****1234, 张某) are kept as patterns and matched as candidates only.
    """
    _ingest(ctx, "leak", sighting, target, first_seen, maps, as_json)


@click.command("attribute")
@click.option("--sighting", metavar="ID", help="The sighting (default: the only one with a leak).")
@click.option("--p", "p", type=float, default=None, metavar="FLOAT",
              help="Share of leaked records that came from elsewhere, 0 < p < 1 (default 0.1).")
@click.option("--population", type=click.IntRange(min=1), default=None, metavar="N",
              help="N_0, the population the records could be drawn from (default: distinct subjects in all holdings).")
@click.option("--delta-days", "delta_days", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="δ: an agent must have held a record N days before the first sighting.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where the attribution query runs: the embedded DuckDB store, or Apache Spark (pip install 'plitool[spark]').")
@click.option("--spark-remote", "spark_remote", metavar="sc://HOST:PORT",
              help="A Spark Connect server (default: $PLITOOL_SPARK_REMOTE); needs --tables.")
@click.option("--spark-master", "spark_master", metavar="URL",
              help="A Spark master to start a session on, e.g. local[4] (default local[2]; needs Java).")
@click.option("--tables", "tables", metavar="URI",
              help="The item tables exported with 'plitool tables export', at a path the cluster sees.")
@json_option
@click.pass_context
def attribute_cmd(ctx: click.Context, sighting: str | None, p: float | None, population: int | None, delta_days: int,
                  engine: str, spark_remote: str | None, spark_master: str | None, tables: str | None,
                  as_json: bool) -> None:
    """Rank the agents as the probable source of a sighting's leaked records.

    Per agent: posterior, log10 likelihood, guilt score (Papadimitriou & Garcia-Molina), records
    covered, records only it covers, markers hit, records excluded by time and by fields; the
    log10 Bayes factor to the runner-up; the verdict of the sweep over p; a best pair when no
    single agent covers the leak; and the paths from the source to the sighting with evidence.
    """
    from ..provenance.attribute import attribute, check_p

    if p is not None:
        check_p(p)
    case = open_case(ctx)
    result = attribute(case, sighting=sighting, p=p, population=population, delta_days=delta_days, engine=engine,
                       spark_remote=spark_remote, spark_master=spark_master, tables=tables)
    if as_json:
        emit_json(result.as_json())
        return
    _render(result)


def _render(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out()
    console.print(plain(_("Sighting {sighting}: {records} records (first seen {day}; {markers} with markers, {masked} with "
                    "masked values), {affected} affected individuals; p = {p}, N0 = {n0}").format(
        sighting=result.sighting, records=result.records, day=result.first_seen.isoformat(),
        markers=result.marker_records, masked=result.masked_records, affected=result.affected_individuals,
        p=result.p, n0=result.population)), soft_wrap=True)
    table = Table(_("agent"), _("posterior"), _("log10 L"), _("guilt"), _("covered"), _("only it"), _("markers"),
                  _("excl. time"), _("excl. fields"), box=None, padding=(0, 1, 0, 1))
    for a in result.agents:
        table.add_row(escape(a.agent), f"{a.posterior:.4g}", f"{a.log10_likelihood:.2f}", f"{a.guilt:.3f}",
                      str(a.records_covered) + (" " + _("({n} masked, candidates)").format(n=a.masked_candidates)
                                                if a.masked_candidates else ""),
                      str(a.records_only_it_covers), str(a.markers_hit),
                      str(a.excluded_by_time), str(a.excluded_by_fields))
    console.print(table)
    if result.top is not None:
        bf = _("n/a") if result.log10_bayes_factor is None else f"{result.log10_bayes_factor:.2f}"
        console.print(plain(_("probable source: {top}; log10 Bayes factor to the runner-up {runner}: {bf}").format(
            top=result.top, runner=result.runner_up or _("(none)"), bf=bf)), soft_wrap=True)
    else:
        console.print(plain(_("no candidate agent held any of the leaked records before the first sighting")), soft_wrap=True)
    reasons = {"top-changes-with-p": _("the top agent changes with p"),
               "bayes-factor-below-2": _("the Bayes factor is below 100:1 at some p"),
               "identical-allocations": _("the top two agents hold identical allocations"),
               "no-agent-covers": _("no agent covers any record"),
               "single-candidate": _("only one candidate agent")}
    verdict = _("conclusive") if result.verdict == "conclusive" else _("inconclusive")
    why = "; ".join(reasons.get(r, r) for r in result.verdict_reasons)
    console.print(plain(_("verdict over p in {sweep}: {verdict}").format(
        sweep="{" + ", ".join(f"{s.p:g}" for s in result.sweep) + "}", verdict=verdict) + (f" ({why})" if why else "")), soft_wrap=True)
    if result.separating is not None:
        s = result.separating
        console.print(plain(_("records that separate them: {a} only {top}, {b} only {runner}").format(
            a=s.top_only, top=result.top, b=s.runner_up_only, runner=result.runner_up)), soft_wrap=True)
    if result.best_pair is not None:
        bp = result.best_pair
        console.print(plain(_("best pair (combination or collusion): {a} + {b}, covering {n} records, log10 BF over {top}: {bf:.2f}")
                      .format(a=bp.agents[0], b=bp.agents[1], n=bp.records_covered, top=result.top,
                              bf=bp.log10_bayes_factor_vs_top)), soft_wrap=True)
    for i, path in enumerate(result.paths, start=1):
        hops = []
        for e in path.edges:
            evidence = ", ".join(e.evidence) if e.evidence else _("asserted")
            hops.append(f"{e.src} -[{e.kind} {','.join(e.fields)} {e.since or ''}; {evidence}]-> {e.dst}")
        console.print(plain(_("path {n} (score {score:.3g}): {hops}").format(n=i, score=path.score, hops="  ".join(hops))), soft_wrap=True)
    if result.top is not None and not result.paths:
        console.print(plain(_("no time-respecting path from {top} to {sighting} in the graph").format(
            top=result.top, sighting=result.sighting)), soft_wrap=True)


@click.group("canary")
def canary_group() -> None:
    """Marker identities issued to one agent each."""


@canary_group.command("issue")
@click.argument("agent")
@click.option("--kind", type=click.Choice(["email", "phone", "record"]), required=True, help="What kind of marker.")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True, help="How many markers.")
@click.option("--domain", metavar="D", help="Domain for e-mail aliases (one whose mail you receive).")
@click.option("--pool", metavar="FILE", help="File of phone numbers you control, one a line.")
@json_option
@click.pass_context
def canary_issue_cmd(ctx: click.Context, agent: str, kind: str, count: int, domain: str | None, pool: str | None,
                     as_json: bool) -> None:
    """Issue marker identities to AGENT (recorded in the ledger); a marker found in a leak points at it."""
    from ..provenance.canary import issue_canaries

    case = open_case(ctx)
    markers = issue_canaries(case, agent, kind, count=count, domain=domain, pool=pool)
    _show_markers(markers, as_json)


@canary_group.command("list")
@json_option
@click.pass_context
def canary_list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every marker issued, in full (markers are not anyone's personal data)."""
    from ..provenance.canary import list_canaries

    _show_markers(list_canaries(open_case(ctx)), as_json)


def _show_markers(markers: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json([m.as_json() for m in markers])
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(_("marker"), _("agent"), _("kind"), _("issued"), _("values"), box=None)
    for m in markers:
        table.add_row(m.marker, escape(m.agent), m.kind, m.issued.isoformat(),
                      escape("  ".join(f"{f}={v}" for f, v in m.values)))
    out().print(table)
    if not markers:
        err().print(plain(_("no markers issued yet")), soft_wrap=True)


@click.group("items")
def items_group() -> None:
    """The item tables (fingerprints of holdings and leaks)."""


@items_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing Parquet files.")
@json_option
@click.pass_context
def items_export_cmd(ctx: click.Context, directory: Path, force: bool, as_json: bool) -> None:
    """Write every item table to DIRECTORY as Parquet (fingerprints as hex; no raw values)."""
    from ..provenance.items import item_store

    case = open_case(ctx)
    with item_store(case, read_only=True) as store:
        paths = store.export(directory, force=force)
    if as_json:
        emit_json({"files": [str(p) for p in paths]})
    else:
        for p in paths:
            out().print(plain(str(p)), soft_wrap=True)


@click.group("tables")
def tables_group() -> None:
    """The item tables as Parquet for a Spark cluster (fingerprints only)."""


@tables_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--partition-by", "partition_by", type=click.Choice(["field", "agent", "dataset"]), default=None,
              help="Partition the large tables (holdings, leaks) by this column (Hive layout).")
@click.option("--force", is_flag=True, help="Replace an existing DIRECTORY.")
@json_option
@click.pass_context
def tables_export_cmd(ctx: click.Context, directory: Path, partition_by: str | None, force: bool, as_json: bool) -> None:
    """Write the item tables to DIRECTORY as Parquet with a manifest (case id, digests), for
    'plitool attribute --engine spark --tables URI'. Only keyed fingerprints, agent ids, fields and
    dates are written, never a raw value or the case key; the export is recorded in the ledger."""
    from ..provenance.tables import export_tables

    case = open_case(ctx)
    result = export_tables(case, directory, partition_by=partition_by, force=force)
    if as_json:
        emit_json(result.as_json())
        return
    summary = result.as_json()
    for table, info in summary["tables"].items():
        out().print(plain(_("{table}: {rows} rows, {bytes} bytes in {files} files").format(
            table=table, rows=info["rows"], bytes=info["bytes"], files=info["files"])), soft_wrap=True)
    err().print(plain(_("exported to {path} (manifest SHA-256 {digest}; recorded in the ledger)").format(
        path=result.directory, digest=result.manifest_sha256)), soft_wrap=True)
