"""A minimal stand-in for helper P1's ``plitool.provenance.flows`` / ``graph`` (tests only).

It follows the signatures of ``provenance-interface.md`` closely enough for the item-level tests:
``load_flows(case)`` reads ``flows.yaml`` with PyYAML (no line numbers, little validation),
``reaches`` walks shared_with / sold_to edges time-respecting and field-filtered, ``top_paths``
enumerates simple paths. :func:`install` puts it in ``sys.modules`` only where P1's modules are
absent, so the same tests run unchanged once P1's branch is merged.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

FIELDS: tuple[str, ...] = ("name", "phone", "id_number", "email", "bank_card", "address", "device_id",
                           "location", "order_id", "waybill")
PROPAGATE = ("shared_with", "sold_to")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    kind: str
    uscc: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str
    fields: frozenset[str]
    since: date | None
    until: date | None = None
    confidence: float = 1.0
    evidence: tuple[str, ...] = ()
    line: int = 0
    derived: bool = False

    @property
    def asserted(self) -> bool:
        return not self.evidence


@dataclass(frozen=True)
class Flows:
    agents: dict[str, Agent]
    edges: tuple[Edge, ...]
    fields: tuple[str, ...] = FIELDS
    path: Path | None = None


@dataclass(frozen=True)
class Reach:
    agent: str
    origin: str
    fields: frozenset[str]
    since: date | None
    via: tuple[Edge, ...]


@dataclass(frozen=True)
class FlowPath:
    edges: tuple[Edge, ...]
    score: float


def _date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


def parse_flows(text: str, path: Path | None = None) -> Flows:
    import yaml

    data = yaml.safe_load(text) or {}
    agents = {a["id"]: Agent(a["id"], a.get("name", a["id"]), a.get("kind", "holder")) for a in data.get("agents") or []}
    edges = tuple(Edge(e["from"], e["to"], e.get("kind", "shared_with"), frozenset(e.get("fields") or FIELDS),
                       _date(e.get("since")), _date(e.get("until")), float(e.get("confidence", 1.0)),
                       tuple(e.get("evidence") or ())) for e in data.get("edges") or [])
    return Flows(agents, edges, FIELDS + tuple(data.get("fields") or ()), path)


def load_flows(case: Any) -> Flows:
    path = Path(case.root) / "flows.yaml"
    if not path.exists():
        return Flows({}, (), FIELDS, None)
    return parse_flows(path.read_text("utf-8"), path)


def reaches(flows: Flows) -> list[Reach]:
    out: list[Reach] = []
    for origin in flows.agents:
        out.append(Reach(origin, origin, frozenset(flows.fields), None, ()))
        stack: list[tuple[str, frozenset[str], date | None, tuple[Edge, ...]]] = [(origin, frozenset(flows.fields), None, ())]
        while stack:
            node, fields, since, via = stack.pop()
            for e in flows.edges:
                if e.src != node or e.kind not in PROPAGATE or e.dst in {x.src for x in via} | {origin}:
                    continue
                if since is not None and e.since is not None and e.since < since and (e.until is None or e.until < since):
                    continue
                new_since = max((d for d in (since, e.since) if d is not None), default=None)
                f = fields & e.fields
                if not f:
                    continue
                out.append(Reach(e.dst, origin, f, new_since, via + (e,)))
                stack.append((e.dst, f, new_since, via + (e,)))
    return out


def build_graph(flows: Flows) -> Any:
    import networkx as nx

    g = nx.MultiDiGraph()
    for a in flows.agents.values():
        g.add_node(a.id, kind=a.kind, name=a.name)
    for e in flows.edges:
        g.add_edge(e.src, e.dst, edge=e)
    return g


def top_paths(flows: Flows, source: str, target: str, *, k: int = 3, before: date | None = None) -> list[FlowPath]:
    found: list[FlowPath] = []

    def walk(node: str, via: tuple[Edge, ...], last: date | None) -> None:
        if node == target and via:
            score = 1.0
            for e in via:
                score *= e.confidence
            found.append(FlowPath(via, score))
            return
        for e in flows.edges:
            if e.src != node or e.dst in {x.src for x in via}:
                continue
            if before is not None and e.since is not None and e.since > before:
                continue
            if last is not None and e.since is not None and e.since < last and (e.until is None or e.until < last):
                continue
            walk(e.dst, via + (e,), e.since or last)

    walk(source, (), None)
    found.sort(key=lambda fp: (-fp.score, len(fp.edges), [(e.src, e.dst) for e in fp.edges]))
    return found[:k]


def install() -> None:
    """Make ``plitool.provenance.flows`` / ``graph`` importable (P1's when present, else this)."""
    for name, attrs in (("flows", ("FIELDS", "Agent", "Edge", "Flows", "parse_flows", "load_flows")),
                        ("graph", ("Reach", "FlowPath", "reaches", "top_paths", "build_graph"))):
        full = f"plitool.provenance.{name}"
        try:
            importlib.import_module(full)
            continue
        except ImportError:
            pass
        mod = types.ModuleType(full)
        for attr in attrs:
            setattr(mod, attr, globals()[attr])
        sys.modules[full] = mod
        import plitool.provenance as pkg

        setattr(pkg, name, mod)
