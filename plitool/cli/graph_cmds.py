"""``graph``: the agent graph of ``flows.yaml`` — check it, show it, export it, derive edges from a HAR."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..i18n import _, ngettext
from .common import emit_json, err, json_option, open_case, out

FORMAT_CHOICES = ("graphml", "gexf", "json", "prov", "dot", "svg", "png")


@click.group("graph")
def graph_group() -> None:
    """The agent graph: who collected, shared, sold or showed personal data (flows.yaml).

    flows.yaml in the case folder is yours; plitool reads it and never rewrites it. Edges that
    plitool derives from evidence ('graph from-har') are kept apart in .plitool/provenance/.
    """


@graph_group.command("check")
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, as_json: bool) -> None:
    """Validate flows.yaml: every problem with its line; exit 2 when there is one.

    Checked: agent ids and kinds, unified social credit codes, edges between declared agents,
    field names, ISO dates not in the future, 'until' not before 'since', confidence in [0, 1],
    evidence ids that the ledger knows, and cycles whose dates contradict each other.
    """
    from ..provenance.flows import check_flows

    case = open_case(ctx)
    flows, problems = check_flows(case)
    if as_json:
        emit_json({
            "ok": not problems,
            "problems": [{"file": p.file, "line": p.line, "message": p.message} for p in problems],
            "agents": len(flows.agents) if flows else 0,
            "edges": len(flows.edges) if flows else 0,
            "asserted": sum(e.asserted for e in flows.edges) if flows else 0,
            "derived": sum(e.derived for e in flows.edges) if flows else 0,
        })
    else:
        for p in problems:
            click.echo(str(p))
        if not problems and flows is not None:
            asserted = sum(e.asserted for e in flows.edges)
            click.echo(_("flows.yaml is valid: {counts}, {asserted} asserted (no evidence), {derived} derived from "
                         "evidence").format(counts=_counts(len(flows.agents), len(flows.edges)), asserted=asserted,
                                            derived=sum(e.derived for e in flows.edges)))
        else:
            err().print(ngettext("{n} problem", "{n} problems", len(problems)).format(n=len(problems)),
                        highlight=False, markup=False, soft_wrap=True)
    if problems:
        ctx.exit(2)


def _counts(agents: int, edges: int) -> str:
    """"5 agents, 1 edge": each count through ngettext, the separator through the catalogue."""
    return ngettext("{n} agent", "{n} agents", agents).format(n=agents) + _(", ") + \
        ngettext("{n} edge", "{n} edges", edges).format(n=edges)


def _interval(since: Any, until: Any) -> str:
    if since is None and until is None:
        return ""
    return "{since} – {until}".format(since=since.isoformat() if since else "…", until=until.isoformat() if until else "…")


@graph_group.command("show")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print the graph as a tree: agents by kind, each with the edges leaving it.

    An edge shows its kind, fields, dates, confidence and evidence ids; an edge without
    evidence is marked asserted, one derived from evidence (graph from-har) is marked derived.
    --json prints the node-link JSON of 'graph export --format json'.
    """
    from ..provenance.exports import export_graph
    from ..provenance.flows import AGENT_KINDS, Edge, load_flows

    case = open_case(ctx)
    flows = load_flows(case)
    if as_json:
        click.echo(export_graph(flows, "json").decode("utf-8"), nl=False)
        return
    from rich.markup import escape
    from rich.tree import Tree

    tree = Tree("[bold]flows.yaml[/]: " + escape(_counts(len(flows.agents), len(flows.edges))))
    leaving: dict[str, list[Edge]] = {}
    for e in sorted(flows.edges, key=Edge.sort_key):
        leaving.setdefault(e.src, []).append(e)
    for kind in AGENT_KINDS:
        agents = sorted((a for a in flows.agents.values() if a.kind == kind), key=lambda a: a.id)
        if not agents:
            continue
        branch = tree.add(f"[bold]{escape(kind)}[/]")
        for a in agents:
            label = f"[bold]{escape(a.id)}[/]  {escape(a.name)}"
            if a.uscc:
                label += f"  [dim]USCC {escape(a.uscc)}[/]"
            if a.hosts:
                label += "  [dim]" + escape(", ".join(a.hosts)) + "[/]"
            if a.derived:
                label += "  [cyan]" + escape(_("(derived)")) + "[/]"
            node = branch.add(label)
            for e in leaving.get(a.id, []):
                parts = [f"→ [bold]{escape(e.dst)}[/]", escape(e.kind)]
                if e.fields:
                    parts.append(escape(", ".join(sorted(e.fields))))
                when = _interval(e.since, e.until)
                if when:
                    parts.append(escape(when))
                if e.confidence != 1.0:
                    parts.append(escape(_("confidence {value}").format(value=f"{e.confidence:g}")))
                if e.evidence:
                    parts.append("[green]" + escape(", ".join(e.evidence)) + "[/]")
                else:
                    parts.append("[yellow]" + escape(_("asserted (no evidence)")) + "[/]")
                if e.derived:
                    parts.append("[cyan]" + escape(_("derived")) + "[/]")
                else:
                    parts.append("[dim]" + escape(_("line {line}").format(line=e.line)) + "[/]")
                node.add("  ".join(parts))
    out().print(tree, highlight=False)


@graph_group.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), required=True,
              help="graphml, gexf (Gephi), json (node-link), prov (W3C PROV-JSON), dot, svg or png (Graphviz).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: stdout; a PNG needs -o).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("--source", "source", metavar="AGENT", help="Highlight this agent as the probable source.")
@click.option("--target", "target", metavar="AGENT",
              help="With --source: highlight the best time-respecting paths from the source to this agent.")
@click.option("--paths", "k", default=3, show_default=True, type=click.IntRange(min=1), help="How many paths to highlight.")
@click.pass_context
def export_cmd(ctx: click.Context, fmt: str, output: Path | None, force: bool, source: str | None,
               target: str | None, k: int) -> None:
    """Export the agent graph for other tools, or draw it.

    The same flows and evidence give byte-identical output. Fields and evidence ids are
    comma-joined strings in GraphML/GEXF/JSON; no personal-data value appears in any format.
    SVG and PNG need Graphviz 'dot' (exit 3 where it is missing). --source (and --target)
    draw the probable source and the best paths from it thick and red.
    """
    from ..errors import OutputExists, UsageError
    from ..provenance.exports import Highlight, export_graph, write_export
    from ..provenance.flows import load_flows
    from ..provenance.graph import top_paths
    from ..vault.evidence import build_items

    if output is not None and output.exists() and not force:
        raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=output))
    if output is None and fmt == "png":
        raise UsageError(_("a PNG is binary: give -o FILE"))
    if target is not None and source is None:
        raise UsageError(_("--target goes with --source"))
    case = open_case(ctx)
    flows = load_flows(case)
    highlight = None
    for agent in (source, target):
        if agent is not None and agent not in flows.agents:
            raise UsageError(_("unknown agent {id!r} (see 'plitool graph show')").format(id=agent))
    if source is not None:
        paths = tuple(top_paths(flows, source, target, k=k)) if target is not None else ()
        highlight = Highlight(source, paths)
    evidence = {i.id: i.sha256 for i in build_items(case.ledger.require_healthy().entries).values()}
    data = export_graph(flows, fmt, highlight=highlight, evidence=evidence)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_export(output, data, force=force)
    err().print(_("wrote {path} ({format}, {counts})").format(
        path=output, format=fmt, counts=_counts(len(flows.agents), len(flows.edges))), highlight=False, markup=False, soft_wrap=True)


@graph_group.command("from-har")
@click.argument("target")
@click.option("--app", required=True, metavar="AGENT", help="The agent of flows.yaml whose app made the capture.")
@click.option("--known-values", "known_values", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="File of the test device's values ('phone: …', 'device_id: …', one a line).")
@click.option("--first-party", "first_party", multiple=True, metavar="HOST",
              help="A host (and its subdomains) that is the app's own, besides its 'hosts:' in flows.yaml. Repeatable.")
@json_option
@click.pass_context
def from_har_cmd(ctx: click.Context, target: str, app: str, known_values: str, first_party: tuple[str, ...],
                 as_json: bool) -> None:
    """Add 'shared_with' edges from the app to every third-party host that received personal data.

    TARGET is an evidence id (E-0003) or a HAR file (added to the vault first). The test device's
    known values are searched in every request (plain, url-encoded, base64, MD5/SHA-1/SHA-256);
    each host that received one gets an edge with the fields found and the capture's id as
    evidence. A host that no agent declares among its 'hosts:' becomes a new intermediary
    'graph-<host>'. The edges are kept in .plitool/provenance/derived.json, never in flows.yaml.
    """
    from ..pii.detect import KnownValues
    from ..provenance.har import add_edges_from_har

    known = KnownValues.load(known_values)
    case = open_case(ctx)
    result = add_edges_from_har(case, target, app, known, first_party=first_party)
    if as_json:
        emit_json({
            "item": result.item,
            "app": result.app,
            "added": list(result.added),
            "first_party_skipped": list(result.first_party),
            "edges": [{"from": result.app, "to": s.agent, "kind": "shared_with", "host": s.host,
                       "fields": sorted(s.fields), "since": s.since.isoformat() if s.since else None,
                       "entries": list(s.entries), "new_agent": s.new_agent, "evidence": [result.item]}
                      for s in result.shares],
        })
    else:
        console = out()
        for s in result.shares:
            console.print(_("{app} → {agent} ({host}): {fields}; entries {entries}; evidence {item}").format(
                app=result.app, agent=s.agent, host=s.host, fields=", ".join(sorted(s.fields)),
                entries=", ".join(str(n) for n in s.entries), item=result.item)
                + ("  " + _("(new intermediary)") if s.new_agent else ""), highlight=False, markup=False, soft_wrap=True)
    console = err()
    for item in result.added:
        console.print(_("added {item} to the vault before reading it").format(item=item), highlight=False, markup=False, soft_wrap=True)
    if result.first_party:
        console.print(_("left out as the app's own hosts: {hosts}").format(hosts=", ".join(result.first_party)),
                      highlight=False, markup=False, soft_wrap=True)
    console.print(ngettext("{n} derived edge recorded from {item}", "{n} derived edges recorded from {item}",
                           len(result.shares)).format(n=len(result.shares), item=result.item), highlight=False, markup=False, soft_wrap=True)
