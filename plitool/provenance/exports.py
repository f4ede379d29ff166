"""The agent graph in the formats other tools read: node-link JSON, GraphML, GEXF, W3C PROV-JSON,
DOT, and a picture (SVG/PNG) drawn by Graphviz ``dot``.

Same inputs, byte-identical output: everything is sorted, nothing carries the time of export
(the GEXF writer's ``lastmodifieddate`` is removed), and no format holds a personal-data value:
agents are organisations and groups, edges name *fields* (``phone``), never values. Evidence
appears by id and SHA-256 only (an original file name can itself be personal data).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from ..errors import GraphvizMissing, UsageError
from ..fsutil import atomic_write
from ..i18n import _
from .flows import AGENT_KINDS, Edge, Flows
from .graph import FlowPath

FORMATS = ("graphml", "gexf", "json", "prov", "dot", "svg", "png")
PICTURES = ("svg", "png")
DOT_TIMEOUT = 120  # seconds: guards a hang, not a speed requirement

#: How each kind of agent is drawn: shape, fill colour.
NODE_STYLE: dict[str, tuple[str, str]] = {
    "subjects": ("ellipse", "#dbeafe"),
    "holder": ("box", "#dcfce7"),
    "intermediary": ("box", "#fef9c3"),
    "infringer": ("octagon", "#fecaca"),
    "sighting": ("note", "#e5e7eb"),
}
EDGE_COLOR = {"collected": "#2563eb", "shared_with": "#ca8a04", "sold_to": "#dc2626", "observed_at": "#4b5563"}
HIGHLIGHT = "#b91c1c"
assert set(NODE_STYLE) == set(AGENT_KINDS)


@dataclass(frozen=True)
class Highlight:
    """What to emphasise: the probable source and the paths from it (from attribution)."""

    source: str | None = None
    paths: tuple[FlowPath, ...] = ()

    @property
    def edges(self) -> frozenset[Edge]:
        return frozenset(e for p in self.paths for e in p.edges)


def _sorted_edges(flows: Flows) -> list[Edge]:
    return sorted(flows.edges, key=Edge.sort_key)


def _edge_label(e: Edge) -> str:
    parts = [e.kind, ", ".join(sorted(e.fields))] if e.fields else [e.kind]
    when = _interval(e)
    if when:
        parts.append(when)
    if e.confidence != 1.0:
        parts.append(f"p={e.confidence:g}")
    parts.append(", ".join(e.evidence) if e.evidence else "asserted")
    return "\n".join(parts)


def _interval(e: Edge) -> str:
    if e.since is None and e.until is None:
        return ""
    return f"{e.since.isoformat() if e.since else '…'} – {e.until.isoformat() if e.until else '…'}"


def export_graph(flows: Flows, fmt: str, *, highlight: Highlight | None = None,
                 evidence: Mapping[str, str] | None = None) -> bytes:
    """The graph in ``fmt`` (one of :data:`FORMATS`). ``evidence``: id → SHA-256 (for PROV)."""
    if fmt == "json":
        return _node_link(flows, highlight)
    if fmt == "graphml":
        return _graphml(flows, highlight)
    if fmt == "gexf":
        return _gexf(flows, highlight)
    if fmt == "prov":
        return _prov(flows, evidence or {})
    if fmt == "dot":
        return to_dot(flows, highlight).encode("utf-8")
    if fmt in PICTURES:
        return render(to_dot(flows, highlight), fmt)
    raise UsageError(_("unknown graph format {format!r}; known: {known}").format(format=fmt, known=", ".join(FORMATS)))


def write_export(path: Path, data: bytes, *, force: bool = False) -> None:
    atomic_write(path, data, overwrite=force)


# -- networkx formats ---------------------------------------------------------------------------


def scalar_graph(flows: Flows, highlight: Highlight | None = None) -> nx.MultiDiGraph:
    """A copy of the graph whose attributes are plain strings, numbers and booleans (GraphML,
    GEXF and JSON cannot hold sets or dates): fields and evidence comma-joined, dates ISO."""
    marked = highlight.edges if highlight else frozenset()
    g = nx.MultiDiGraph()
    for ident in sorted(flows.agents):
        a = flows.agents[ident]
        attrs: dict[str, Any] = {"label": a.name, "kind": a.kind, "derived": a.derived}
        if a.uscc:
            attrs["uscc"] = a.uscc
        if a.hosts:
            attrs["hosts"] = ",".join(a.hosts)
        if highlight is not None:
            attrs["probable_source"] = ident == highlight.source
        g.add_node(ident, **attrs)
    for index, e in enumerate(_sorted_edges(flows)):
        attrs = {
            "kind": e.kind,
            "fields": ",".join(sorted(e.fields)),
            "confidence": float(e.confidence),
            "evidence": ",".join(e.evidence),
            "asserted": e.asserted,
            "derived": e.derived,
            "line": e.line,
        }
        if e.since is not None:
            attrs["since"] = e.since.isoformat()
        if e.until is not None:
            attrs["until"] = e.until.isoformat()
        if highlight is not None:
            attrs["on_path"] = e in marked
        g.add_edge(e.src, e.dst, key=f"e{index}", **attrs)
    return g


def _node_link(flows: Flows, highlight: Highlight | None) -> bytes:
    data = nx.node_link_data(scalar_graph(flows, highlight), edges="edges")
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _graphml(flows: Flows, highlight: Highlight | None) -> bytes:
    buf = io.BytesIO()
    nx.readwrite.graphml.write_graphml_xml(scalar_graph(flows, highlight), buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue()


_GEXF_DATE = re.compile(r' lastmodifieddate="[^"]*"')


def _gexf(flows: Flows, highlight: Highlight | None) -> bytes:
    text = "\n".join(nx.generate_gexf(scalar_graph(flows, highlight), encoding="utf-8", prettyprint=True)) + "\n"
    return _GEXF_DATE.sub("", text).encode("utf-8")  # the date of export would break byte-identity


# -- W3C PROV-JSON --------------------------------------------------------------------------------

PROV_PREFIX = {
    "plitool": "https://github.com/plitool/plitool/ns/provenance#",
    "agent": "urn:plitool:agent:",
    "data": "urn:plitool:data:",
    "evidence": "urn:plitool:evidence:",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _qname(name: str) -> dict[str, str]:
    """A PROV-JSON qualified-name value (a bare string would be read as xsd:string)."""
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _prov(flows: Flows, evidence: Mapping[str, str]) -> bytes:
    """Agents are ``prov:Agent``; what each agent holds is an entity ``data:<agent>`` attributed to
    it; data moving along an edge is ``wasDerivedFrom`` (receiver's data from sender's); evidence
    items are entities with their SHA-256, attributed to the agent whose act they document."""
    doc: dict[str, Any] = {"prefix": PROV_PREFIX, "agent": {}, "entity": {}, "wasDerivedFrom": {},
                           "wasAttributedTo": {}}
    for ident in sorted(flows.agents):
        a = flows.agents[ident]
        record: dict[str, Any] = {"prov:label": a.name, "plitool:kind": a.kind,
                                  "prov:type": _qname("plitool:DataSubjects" if a.kind == "subjects" else "prov:Organization")}
        if a.uscc:
            record["plitool:uscc"] = a.uscc
        doc["agent"][f"agent:{ident}"] = record
        doc["entity"][f"data:{ident}"] = {"prov:label": f"personal data held by {ident}",
                                          "prov:type": _qname("plitool:PersonalDataHoldings")}
        doc["wasAttributedTo"][f"_:held-{ident}"] = {"prov:entity": f"data:{ident}", "prov:agent": f"agent:{ident}"}
    attributed: set[tuple[str, str]] = set()
    for index, e in enumerate(_sorted_edges(flows), start=1):
        rel: dict[str, Any] = {
            "prov:generatedEntity": f"data:{e.dst}",
            "prov:usedEntity": f"data:{e.src}",
            "plitool:kind": e.kind,
            "plitool:fields": ",".join(sorted(e.fields)),
            "plitool:confidence": e.confidence,
            "plitool:evidence": ",".join(e.evidence),
            "plitool:asserted": e.asserted,
        }
        if e.since is not None:
            rel["plitool:since"] = {"$": e.since.isoformat(), "type": "xsd:date"}
        if e.until is not None:
            rel["plitool:until"] = {"$": e.until.isoformat(), "type": "xsd:date"}
        doc["wasDerivedFrom"][f"_:flow-{index}"] = rel
        for ev in e.evidence:
            entity = f"evidence:{ev}"
            if entity not in doc["entity"]:
                rec: dict[str, Any] = {"prov:type": _qname("plitool:Evidence"), "prov:label": ev}
                if ev in evidence:
                    rec["plitool:sha256"] = evidence[ev]
                doc["entity"][entity] = rec
            attributed.add((ev, e.src))
    for ev, agent in sorted(attributed):
        doc["wasAttributedTo"][f"_:documents-{ev}-{agent}"] = {"prov:entity": f"evidence:{ev}",
                                                                "prov:agent": f"agent:{agent}"}
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


# -- DOT and pictures ------------------------------------------------------------------------------


def dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslash and quote escaped, line breaks as centred ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", "\n").replace("\r", "\n")
    return '"' + escaped.replace("\n", "\\n") + '"'


def to_dot(flows: Flows, highlight: Highlight | None = None) -> str:
    """The graph as DOT: nodes shaped and filled by kind, edges coloured by kind and labelled with
    fields, dates and evidence ids; asserted edges dashed; the highlight drawn thick and red."""
    marked = highlight.edges if highlight else frozenset()
    source = highlight.source if highlight else None
    lines = [
        "digraph plitool {",
        "  graph [rankdir=LR, fontname=\"Noto Sans CJK SC,sans-serif\", nodesep=0.4, ranksep=0.8];",
        "  node [fontname=\"Noto Sans CJK SC,sans-serif\", fontsize=11, style=filled];",
        "  edge [fontname=\"Noto Sans CJK SC,sans-serif\", fontsize=9];",
    ]
    for ident in sorted(flows.agents):
        a = flows.agents[ident]
        shape, fill = NODE_STYLE[a.kind]
        label = a.name + "\n(" + (f"{ident}, {a.kind}" if a.name != ident else a.kind) + ")"
        attrs = [f"label={dot_quote(label)}", f"shape={shape}", f"fillcolor={dot_quote(fill)}"]
        if a.kind == "intermediary":
            attrs.append('style="filled,rounded"')
        if ident == source:
            attrs += [f"color={dot_quote(HIGHLIGHT)}", "penwidth=3", "peripheries=2"]
        lines.append(f"  {dot_quote(ident)} [{', '.join(attrs)}];")
    for e in _sorted_edges(flows):
        color = HIGHLIGHT if e in marked else EDGE_COLOR[e.kind]
        attrs = [f"label={dot_quote(_edge_label(e))}", f"color={dot_quote(color)}", f"fontcolor={dot_quote(color)}"]
        if e.asserted:
            attrs.append("style=dashed")
        if e in marked:
            attrs.append("penwidth=3")
        lines.append(f"  {dot_quote(e.src)} -> {dot_quote(e.dst)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_program() -> str | None:
    return shutil.which("dot")


def render(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz ``dot -T<fmt>`` on the text; :class:`GraphvizMissing` (exit 3) where it is absent."""
    program = dot_program()
    if program is None:
        raise GraphvizMissing(_("Graphviz 'dot' is not installed: install the 'graphviz' package "
                                "(apt-get install graphviz), or export --format dot and draw it elsewhere"))
    try:
        proc = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizMissing(_("Graphviz 'dot' could not draw the graph: {reason}").format(reason=exc)) from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip() or str(proc.returncode)
        raise GraphvizMissing(_("Graphviz 'dot' could not draw the graph: {reason}").format(reason=reason))
    return proc.stdout
