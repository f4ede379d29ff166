"""The agent graph: who could hold what, from when, and by which paths data travelled.

Time is respected throughout: data present at an agent from day *t* crosses an edge on
``max(t, since)``, and only if that is not after the edge's ``until``. Unknown dates never
constrain. Fields are filtered: what crosses an edge is what arrived *and* what the edge carries.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import networkx as nx  # type: ignore[import-untyped]

from .flows import Edge, Flows, arrival

#: Edge kinds along which an agent's holdings propagate to another agent.
PROPAGATING = ("shared_with", "sold_to")
#: Partial paths ``top_paths`` expands at most (a guard on very dense graphs).
MAX_EXPANSIONS = 200_000


def build_graph(flows: Flows) -> nx.MultiDiGraph:
    """Nodes: agents (attributes ``kind``, ``name``, ``uscc``, ``agent``); edges keyed by their
    index in ``flows.edges`` with attributes ``kind`` and ``edge`` (the :class:`Edge`)."""
    g = nx.MultiDiGraph()
    for ident in sorted(flows.agents):
        a = flows.agents[ident]
        g.add_node(ident, kind=a.kind, name=a.name, uscc=a.uscc, agent=a)
    for index, e in sorted(enumerate(flows.edges), key=lambda ie: ie[1].sort_key()):
        g.add_edge(e.src, e.dst, key=index, kind=e.kind, edge=e)
    return g


@dataclass(frozen=True)
class Reach:
    """``agent`` holds ``fields`` of what ``origin`` held, from ``since`` (None: no date known)."""

    agent: str
    origin: str
    fields: frozenset[str]
    since: date | None
    via: tuple[Edge, ...]


def _earlier_or_same(a: date | None, b: date | None) -> bool:
    """Is ``a`` no later than ``b``? (None is "from the start".)"""
    return a is None or (b is not None and a <= b)


def _dominates(a: Reach, b: Reach) -> bool:
    return a.fields >= b.fields and _earlier_or_same(a.since, b.since)


def reaches(flows: Flows) -> list[Reach]:
    """For every agent as origin, every agent its holdings reach along ``shared_with`` / ``sold_to``
    (and, from a ``subjects`` group, first along ``collected``), time-respecting and field-filtered.

    Per (agent, origin) only the undominated reaches are kept: one that brings a subset of the
    fields no earlier than another is left out. The trivial ``Reach(o, o, all fields, None, ())``
    is included for every agent. Deterministic order.
    """
    out: list[Reach] = []
    outgoing: dict[str, list[Edge]] = {}
    for e in sorted(flows.edges, key=Edge.sort_key):
        outgoing.setdefault(e.src, []).append(e)
    all_fields = frozenset(flows.fields)
    for origin in sorted(flows.agents):
        kept: dict[str, list[Reach]] = {origin: [Reach(origin, origin, all_fields, None, ())]}
        stack = [kept[origin][0]]
        while stack:
            here = stack.pop()
            for e in outgoing.get(here.agent, ()):
                first = not here.via
                if e.kind not in PROPAGATING and not (e.kind == "collected" and first
                                                      and flows.agents[origin].kind == "subjects"):
                    continue
                if e.dst == origin or any(v.src == e.dst for v in here.via):
                    continue  # simple paths only
                ok, t = arrival(here.since, e)
                fields = here.fields & e.fields
                if not ok or not fields:
                    continue
                new = Reach(e.dst, origin, fields, t, here.via + (e,))
                bucket = kept.setdefault(e.dst, [])
                if any(_dominates(r, new) for r in bucket):
                    continue
                bucket[:] = [r for r in bucket if not _dominates(new, r)]
                bucket.append(new)
                stack.append(new)
        for agent in sorted(kept):
            out.extend(sorted(kept[agent], key=_reach_key))
    return out


def _reach_key(r: Reach) -> tuple[Any, ...]:
    return (r.since or date.min, sorted(r.fields), len(r.via), [e.sort_key() for e in r.via])


@dataclass(frozen=True)
class FlowPath:
    edges: tuple[Edge, ...]
    score: float  # product of the edges' confidences

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.edges[0].src, *(e.dst for e in self.edges)) if self.edges else ()

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(sorted({i for e in self.edges for i in e.evidence}))


def top_paths(flows: Flows, source: str, target: str, *, k: int = 3, before: date | None = None,
              kinds: Iterable[str] | None = None) -> list[FlowPath]:
    """The ``k`` best time-respecting simple paths from ``source`` to ``target``, best first.

    Scored by the product of edge confidences; ties broken by fewer edges, then by the edges'
    sort keys, so the order is deterministic. ``before``: data must reach ``target`` no later
    than this day (the first sighting). Best-first search: a path's score never rises as it
    grows, so complete paths come out in order.
    """
    if k <= 0 or source not in flows.agents or target not in flows.agents or source == target:
        return []
    allowed = frozenset(kinds) if kinds is not None else None
    outgoing: dict[str, list[Edge]] = {}
    for e in sorted(flows.edges, key=Edge.sort_key):
        if allowed is None or e.kind in allowed:
            outgoing.setdefault(e.src, []).append(e)
    found: list[FlowPath] = []
    counter = 0
    heap: list[tuple[float, int, tuple[Any, ...], int, tuple[Edge, ...], date | None]] = [(-1.0, 0, (), 0, (), None)]
    while heap and len(found) < k and counter < MAX_EXPANSIONS:
        neg, length, keys, _tie, path, at = heapq.heappop(heap)
        node = path[-1].dst if path else source
        if node == target:
            found.append(FlowPath(path, -neg))
            continue
        visited = {source, *(e.dst for e in path)}
        for e in outgoing.get(node, ()):
            if e.dst in visited:
                continue
            ok, t = arrival(at, e)
            if not ok or (before is not None and t is not None and t > before):
                continue
            counter += 1
            heapq.heappush(heap, (neg * e.confidence, length + 1, keys + (e.sort_key(),), counter, path + (e,), t))
    return found
