"""``flows.yaml``: who collected, shared, sold or showed which personal data, when, on what evidence.

The file is the user's, in the case folder; plitool only reads it. It is parsed with PyYAML's
composer (safe loader: no Python objects, no aliases to code), so every agent, edge and value
keeps the line it stands on, and every problem is reported with that line: a person fixes a
file by line, not by a Python path. Edges that plitool derives from evidence (``graph from-har``)
live in a separate layer, ``.plitool/provenance/derived.json``, and are merged in by
:func:`load_flows`; the user's file is never rewritten.

Checks (all problems are collected, then raised together as one :class:`FlowsError`):
unique agent ids of ``[a-z0-9-]``; known agent and edge kinds; a valid unified social credit
code where one is given; ``from``/``to`` naming declared agents; ``collected`` starting at a
``subjects`` group, ``observed_at`` ending at a ``sighting``, no edge into a ``subjects`` group;
fields among the standard ten plus those declared under ``fields:``; ISO dates not in the future,
``until`` not before ``since``; confidence in [0, 1] (default 1); evidence ids that the case's
ledger knows (an edge without evidence is *asserted*); and cycles whose dates contradict each
other so that data could not travel round them in time order from any starting edge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from ..errors import FlowsError
from ..fsutil import atomic_write
from ..i18n import _

FIELDS: tuple[str, ...] = ("name", "phone", "id_number", "email", "bank_card", "address", "device_id",
                           "location", "order_id", "waybill")
AGENT_KINDS = ("subjects", "holder", "intermediary", "infringer", "sighting")
EDGE_KINDS = ("collected", "shared_with", "sold_to", "observed_at")

FLOWS_FILE = "flows.yaml"
DERIVED_FORMAT = 1

_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EVIDENCE_ID = re.compile(r"^E-(\d{1,9})$", re.I)
_HOST = re.compile(r"^[a-z0-9.-]{1,253}$")
_TOP_KEYS = ("agents", "edges", "fields")
_AGENT_KEYS = ("id", "name", "kind", "uscc", "hosts", "note")
_EDGE_KEYS = ("from", "to", "kind", "fields", "since", "until", "confidence", "evidence", "note")
#: Cycles are checked up to this length (a contradiction in dates shows in short cycles).
_CYCLE_LENGTH = 8
_CYCLE_LIMIT = 10_000


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    kind: str
    uscc: str | None
    line: int
    hosts: tuple[str, ...] = ()  # network hosts that are this agent's (``graph from-har``)
    derived: bool = False


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str
    fields: frozenset[str]
    since: date | None
    until: date | None
    confidence: float
    evidence: tuple[str, ...]
    line: int
    derived: bool = False  # from ``graph from-har``, kept in the derived layer

    @property
    def asserted(self) -> bool:
        """No evidence supports the edge: the user states it."""
        return not self.evidence

    def sort_key(self) -> tuple[Any, ...]:
        return (self.src, self.dst, self.kind, self.since or date.min, self.line, sorted(self.fields), self.evidence)


@dataclass(frozen=True)
class Flows:
    agents: dict[str, Agent]
    edges: tuple[Edge, ...]
    fields: tuple[str, ...]
    path: Path | None


@dataclass(frozen=True)
class Problem:
    line: int  # 0: the file as a whole
    message: str
    file: str = FLOWS_FILE

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


def flows_path(case: Any) -> Path:
    return Path(case.root) / FLOWS_FILE


def derived_path(case: Any) -> Path:
    return Path(case.paths.state) / "provenance" / "derived.json"


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def ledger_evidence_ids(case: Any) -> frozenset[str]:
    from ..vault.evidence import build_items

    return frozenset(build_items(case.ledger.require_healthy().entries))


def check_flows(case: Any) -> tuple[Flows | None, list[Problem]]:
    """The case's flows (file + derived layer) and every problem found, without raising."""
    path = flows_path(case)
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        return None, [Problem(0, _("no {file} in the case folder {folder}; write one (see README, 'Provenance graph')").format(
            file=FLOWS_FILE, folder=case.root))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(0, _("cannot read it as UTF-8 text: {reason}").format(reason=exc))]
    evidence = ledger_evidence_ids(case)
    today = today_utc()
    flows, problems = _parse(text, path, evidence, today)
    derived_agents, derived_edges, derived_problems = _read_derived(derived_path(case))
    problems += derived_problems
    if flows is not None and not problems and (derived_agents or derived_edges):
        flows, more = merge_derived(flows, derived_agents, derived_edges, evidence)
        problems += more
    return flows, problems


def load_flows(case: Any) -> Flows:
    """``flows.yaml`` in the case folder plus the derived layer; raises :class:`FlowsError`."""
    flows, problems = check_flows(case)
    if problems or flows is None:
        raise flows_error(problems)
    return flows


def flows_error(problems: list[Problem]) -> FlowsError:
    lines = [str(p) for p in problems]
    head = _("{file} has problems:").format(file=FLOWS_FILE) if len(lines) > 1 else ""
    message = "\n".join([head, *("  " + line for line in lines)]) if head else (lines[0] if lines else "")
    return FlowsError(message, [(p.line, p.message) for p in problems])


def parse_flows(text: str, path: Path | None = None, *, evidence_ids: Collection[str] | None = None,
                today: date | None = None) -> Flows:
    """Parse and validate the text of a flows file; raises :class:`FlowsError` naming every problem.

    ``evidence_ids``: the ids the case's ledger knows (None: evidence ids are checked for form
    only). ``today``: dates after it are refused (default: today, UTC).
    """
    flows, problems = _parse(text, path, evidence_ids, today or today_utc())
    if problems or flows is None:
        raise flows_error(problems)
    return flows


# -- parsing -----------------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    def __init__(self, file: str, evidence_ids: Collection[str] | None, today: date) -> None:
        self.file = file
        self.evidence_ids = evidence_ids
        self.today = today
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message, self.file))

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(_line(node), _("{what} must be a mapping of 'key: value' lines").format(what=what))
            return None
        allowed = tuple(allowed)
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                self.problem(_line(key_node), _("unknown key {key!r} in {what}; known: {known}").format(
                    key=key if isinstance(key, str) else "?", what=what, known=", ".join(allowed)))
                continue
            if key in out:
                self.problem(_line(key_node), _("{key!r} is given twice in {what}").format(key=key, what=what))
                continue
            out[key] = value_node
        return out

    def text(self, node: yaml.Node | None, what: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.problem(_line(node), _("{what} must be a single value").format(what=what))
            return None
        value = str(node.value).strip()
        if not value:
            self.problem(_line(node), _("{what} is empty").format(what=what))
            return None
        return value

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, int]]:
        """A list ``[a, b]`` (or a single value) of strings, each with its line."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: list[tuple[str, int]] = []
        for item in items:
            value = self.text(item, what)
            if value is not None:
                out.append((value, _line(item)))
        return out

    def day(self, node: yaml.Node | None, what: str) -> date | None:
        value = self.text(node, what)
        if value is None or node is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            try:
                day = datetime.fromisoformat(value).date()
            except ValueError:
                self.problem(_line(node), _("{what} {value!r} is not an ISO date (YYYY-MM-DD)").format(what=what, value=value))
                return None
        if day > self.today:
            self.problem(_line(node), _("{what} {value} is in the future").format(what=what, value=day.isoformat()))
            return None
        return day


def _parse(text: str, path: Path | None, evidence_ids: Collection[str] | None,
           today: date) -> tuple[Flows | None, list[Problem]]:
    p = _Parser(path.name if path is not None else FLOWS_FILE, evidence_ids, today)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 0
        p.problem(line, _("not valid YAML: {reason}").format(reason=exc.problem or exc.context or "?"))
        return None, p.problems
    except yaml.YAMLError as exc:
        p.problem(0, _("not valid YAML: {reason}").format(reason=exc))
        return None, p.problems
    except RecursionError:
        p.problem(0, _("nested too deeply to be a flows file"))
        return None, p.problems
    if root is None:
        p.problem(0, _("the file is empty: declare 'agents:' and 'edges:'"))
        return None, p.problems
    for node in _odd_tags(root):
        p.problem(_line(node), _("the tag {tag} is not allowed: flows.yaml holds plain values, lists and mappings").format(
            tag=node.tag))
    if p.problems:
        return None, p.problems
    top = p.mapping(root, _("the file"), _TOP_KEYS)
    if top is None:
        return None, p.problems

    fields = list(FIELDS)
    if "fields" in top:
        for name, line in p.strings(top["fields"], _("a declared field")):
            if not _FIELD_NAME.match(name):
                p.problem(line, _("field name {name!r}: use lower-case letters, digits and '_'").format(name=name))
            elif name not in fields:
                fields.append(name)

    agents: dict[str, Agent] = {}
    declared: dict[str, int] = {}  # every id given, valid agent or not: a broken agent is not also "unknown" on its edges
    if "agents" not in top:
        p.problem(_line(root), _("no 'agents:' list"))
    elif not isinstance(top["agents"], yaml.SequenceNode):
        p.problem(_line(top["agents"]), _("'agents:' must be a list ('- id: ...')"))
    else:
        if not top["agents"].value:
            p.problem(_line(top["agents"]), _("'agents:' is empty"))
        for node in top["agents"].value:
            agent = _agent(p, node, declared)
            if agent is not None:
                agents[agent.id] = agent

    edges: list[Edge] = []
    if "edges" in top:
        if not isinstance(top["edges"], yaml.SequenceNode):
            if not (isinstance(top["edges"], yaml.ScalarNode) and top["edges"].tag == "tag:yaml.org,2002:null"):
                p.problem(_line(top["edges"]), _("'edges:' must be a list ('- from: ...')"))
        else:
            for node in top["edges"].value:
                edge = _edge(p, node, agents, declared, fields)
                if edge is not None:
                    edges.append(edge)
    flows = Flows(agents=agents, edges=tuple(edges), fields=tuple(fields), path=path)
    for line, message in time_cycles(flows):
        p.problem(line, message)
    return flows, p.problems


_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map"))


def _odd_tags(root: yaml.Node) -> list[yaml.Node]:
    """Nodes whose tag is not a plain YAML type (``!!python/object`` and the like), each once."""
    odd: list[yaml.Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue  # an alias: the same node again
        seen.add(id(node))
        if node.tag not in _PLAIN_TAGS:
            odd.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    return sorted(odd, key=_line)


def _agent(p: _Parser, node: yaml.Node, seen: dict[str, int]) -> Agent | None:
    what = _("an agent")
    keys = p.mapping(node, what, _AGENT_KEYS)
    if keys is None:
        return None
    line = _line(node)
    ok = True
    ident = p.text(keys.get("id"), "id")
    if "id" not in keys:
        p.problem(line, _("an agent needs an 'id'"))
        ok = False
    elif ident is None:
        ok = False
    elif not _AGENT_ID.match(ident):
        p.problem(_line(keys["id"]), _("agent id {id!r}: use lower-case letters, digits and '-' (at most 64)").format(id=ident))
        ok = False
    elif ident in seen:
        p.problem(_line(keys["id"]), _("agent id {id!r} is used twice (first on line {line})").format(
            id=ident, line=seen[ident]))
        ok = False
        ident = None
    if ident is not None:
        seen[ident] = line
    kind = p.text(keys.get("kind"), "kind")
    if "kind" not in keys:
        p.problem(line, _("agent {id!r} needs a 'kind': one of {kinds}").format(id=ident or "?", kinds=", ".join(AGENT_KINDS)))
        ok = False
    elif kind is not None and kind not in AGENT_KINDS:
        p.problem(_line(keys["kind"]), _("unknown agent kind {kind!r}; known: {kinds}").format(
            kind=kind, kinds=", ".join(AGENT_KINDS)))
        ok = False
    elif kind is None:
        ok = False
    name = p.text(keys["name"], "name") if "name" in keys else None
    uscc = None
    if "uscc" in keys:
        uscc = p.text(keys["uscc"], "uscc")
        if uscc is not None:
            from stdnum.cn import uscc as uscc_code
            from stdnum.exceptions import ValidationError

            try:
                uscc = uscc_code.validate(uscc)
            except ValidationError:
                p.problem(_line(keys["uscc"]), _("{value!r} is not a valid unified social credit code").format(value=uscc))
                ok = False
    hosts: list[str] = []
    if "hosts" in keys:
        for host, host_line in p.strings(keys["hosts"], "hosts"):
            host = host.lower().rstrip(".")
            if not _HOST.match(host):
                p.problem(host_line, _("{value!r} is not a host name").format(value=host))
                ok = False
            else:
                hosts.append(host)
    if not ok or ident is None or kind is None:
        return None
    return Agent(id=ident, name=name or ident, kind=kind, uscc=uscc, line=line, hosts=tuple(sorted(set(hosts))))


def normalize_evidence_id(raw: str) -> str | None:
    m = _EVIDENCE_ID.match(raw.strip())
    return f"E-{int(m.group(1)):04d}" if m else None


def _edge(p: _Parser, node: yaml.Node, agents: Mapping[str, Agent], declared: Mapping[str, int],
          fields: list[str]) -> Edge | None:
    what = _("an edge")
    keys = p.mapping(node, what, _EDGE_KEYS)
    if keys is None:
        return None
    line = _line(node)
    ok = True
    ends: dict[str, str] = {}
    for end in ("from", "to"):
        if end not in keys:
            p.problem(line, _("an edge needs '{key}: AGENT'").format(key=end))
            ok = False
            continue
        ident = p.text(keys[end], end)
        if ident is None:
            ok = False
        elif ident not in agents:
            if ident not in declared:  # a declared agent with problems has had them reported
                p.problem(_line(keys[end]), _("unknown agent {id!r} (declare it under 'agents:')").format(id=ident))
            ok = False
        else:
            ends[end] = ident
    kind = p.text(keys.get("kind"), "kind")
    if "kind" not in keys:
        p.problem(line, _("an edge needs a 'kind': one of {kinds}").format(kinds=", ".join(EDGE_KINDS)))
        ok = False
    elif kind is not None and kind not in EDGE_KINDS:
        p.problem(_line(keys["kind"]), _("unknown edge kind {kind!r}; known: {kinds}").format(
            kind=kind, kinds=", ".join(EDGE_KINDS)))
        ok = False
    elif kind is None:
        ok = False
    if ok and kind is not None:
        src, dst = agents[ends["from"]], agents[ends["to"]]
        if kind == "collected" and src.kind != "subjects":
            p.problem(_line(keys["from"]), _("'collected' starts at a group of data subjects (kind 'subjects'), "
                                            "not at {id!r} (kind {kind!r})").format(id=src.id, kind=src.kind))
            ok = False
        if kind == "observed_at" and dst.kind != "sighting":
            p.problem(_line(keys["to"]), _("'observed_at' ends at a sighting (kind 'sighting'), "
                                          "not at {id!r} (kind {kind!r})").format(id=dst.id, kind=dst.kind))
            ok = False
        if dst.kind == "subjects":
            p.problem(_line(keys["to"]), _("no edge may end at the data subjects {id!r}").format(id=dst.id))
            ok = False
        if src.id == dst.id:
            p.problem(line, _("an edge from {id!r} to itself").format(id=src.id))
            ok = False
    carried: set[str] = set()
    if "fields" in keys:
        for name, field_line in p.strings(keys["fields"], "fields"):
            if name not in fields:
                p.problem(field_line, _("unknown field {name!r}; known: {known} (declare more under 'fields:')").format(
                    name=name, known=", ".join(fields)))
                ok = False
            else:
                carried.add(name)
        if ok and not carried and kind != "observed_at":
            p.problem(_line(keys["fields"]), _("the edge carries no field"))
            ok = False
    elif kind is not None and kind != "observed_at":
        p.problem(line, _("say which fields travel on this edge ('fields: [phone, ...]')"))
        ok = False
    since = p.day(keys.get("since"), "since") if "since" in keys else None
    until = p.day(keys.get("until"), "until") if "until" in keys else None
    if ("since" in keys and since is None) or ("until" in keys and until is None):
        ok = False
    if since is not None and until is not None and until < since:
        p.problem(_line(keys["until"]), _("until {until} is before since {since}").format(
            until=until.isoformat(), since=since.isoformat()))
        ok = False
    confidence = 1.0
    if "confidence" in keys:
        c_node = keys["confidence"]
        value = p.text(c_node, "confidence")
        if value is not None:
            try:
                if c_node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
                    raise ValueError(value)
                confidence = float(value)
                if not 0.0 <= confidence <= 1.0:
                    raise ValueError(value)
            except ValueError:
                p.problem(_line(c_node), _("confidence {value!r} must be a number from 0 to 1").format(value=value))
                ok = False
        else:
            ok = False
    evidence: list[str] = []
    if "evidence" in keys:
        e_node = keys["evidence"]
        if not (isinstance(e_node, yaml.ScalarNode) and e_node.tag == "tag:yaml.org,2002:null"):
            for raw, e_line in p.strings(e_node, "evidence"):
                ident = normalize_evidence_id(raw)
                if ident is None:
                    p.problem(e_line, _("{value!r} is not an evidence id (E-0004)").format(value=raw))
                    ok = False
                elif p.evidence_ids is not None and ident not in p.evidence_ids:
                    p.problem(e_line, _("evidence {id} is not in this case's ledger (see 'plitool list')").format(id=ident))
                    ok = False
                elif ident not in evidence:
                    evidence.append(ident)
    if not ok or kind is None:
        return None
    return Edge(src=ends["from"], dst=ends["to"], kind=kind, fields=frozenset(carried), since=since, until=until,
                confidence=confidence, evidence=tuple(sorted(evidence)), line=line)


# -- time ----------------------------------------------------------------------------------------


def arrival(at: date | None, edge: Edge) -> tuple[bool, date | None]:
    """Data present at ``edge.src`` from ``at`` crosses ``edge`` at the earliest from ``edge.since``.

    Returns (possible, arrival date): impossible when the edge's ``until`` is already past.
    ``None`` means "no date known" and never constrains.
    """
    if at is None:
        t = edge.since
    elif edge.since is None:
        t = at
    else:
        t = max(at, edge.since)
    if t is not None and edge.until is not None and t > edge.until:
        return False, t
    return True, t


def time_cycles(flows: Flows) -> list[tuple[int, str]]:
    """Cycles whose dates contradict each other: from no starting edge can data travel round in
    time order (each edge crossed no earlier than the one before, and before its ``until``)."""
    import networkx as nx  # type: ignore[import-untyped]

    by_pair: dict[tuple[str, str], list[Edge]] = {}
    for e in flows.edges:
        by_pair.setdefault((e.src, e.dst), []).append(e)
    g = nx.DiGraph()
    g.add_edges_from(sorted(by_pair))
    out: list[tuple[int, str]] = []
    for count, cycle in enumerate(nx.simple_cycles(g, length_bound=_CYCLE_LENGTH)):
        if count >= _CYCLE_LIMIT:
            break
        nodes = list(cycle)
        n = len(nodes)
        if any(_round_trip(nodes[i:] + nodes[:i], by_pair) for i in range(n)):
            continue
        start = nodes.index(min(nodes))
        ordered = nodes[start:] + nodes[:start]
        line = min(e.line for i in range(n) for e in by_pair[(ordered[i], ordered[(i + 1) % n])])
        out.append((line, _("the cycle {cycle} cannot be travelled in time order: its dates contradict each other").format(
            cycle=" → ".join([*ordered, ordered[0]]))))
    return sorted(out)


def _round_trip(nodes: list[str], by_pair: Mapping[tuple[str, str], list[Edge]]) -> bool:
    at: date | None = None
    for i, node in enumerate(nodes):
        nxt = nodes[(i + 1) % len(nodes)]
        best: tuple[bool, date | None] | None = None
        for e in by_pair[(node, nxt)]:
            ok, t = arrival(at, e)
            if ok and (best is None or (t is not None and best[1] is not None and t < best[1]) or t is None):
                best = (ok, t)
        if best is None:
            return False
        at = best[1]
    return True


# -- the derived layer (``graph from-har``) -------------------------------------------------------


@dataclass
class DerivedLayer:
    """Agents and edges plitool derived from evidence; never written into the user's file."""

    agents: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        doc = {
            "format": DERIVED_FORMAT,
            "agents": sorted(self.agents, key=lambda a: a["id"]),
            "edges": sorted(self.edges, key=lambda e: (e["from"], e["to"], e["kind"], e["evidence"], e["fields"])),
        }
        return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def read_derived_layer(path: Path) -> DerivedLayer:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return DerivedLayer()
    except (OSError, ValueError) as exc:
        raise FlowsError(_("{path} is damaged: {reason}").format(path=path, reason=exc)) from exc
    if not isinstance(doc, dict) or doc.get("format") != DERIVED_FORMAT:
        raise FlowsError(_("{path} is not a derived layer this version reads").format(path=path))
    return DerivedLayer(agents=list(doc.get("agents", [])), edges=list(doc.get("edges", [])))


def write_derived_layer(path: Path, layer: DerivedLayer) -> None:
    atomic_write(path, layer.to_bytes())


def _read_derived(path: Path) -> tuple[list[Agent], list[Edge], list[Problem]]:
    label = str(Path(".plitool") / "provenance" / "derived.json")
    try:
        layer = read_derived_layer(path)
    except FlowsError as exc:
        return [], [], [Problem(0, str(exc), label)]
    agents: list[Agent] = []
    edges: list[Edge] = []
    try:
        for a in layer.agents:
            agents.append(Agent(id=str(a["id"]), name=str(a.get("name") or a["id"]), kind=str(a["kind"]), uscc=None,
                                line=0, hosts=tuple(a.get("hosts", ())), derived=True))
        for e in layer.edges:
            edges.append(Edge(src=str(e["from"]), dst=str(e["to"]), kind=str(e["kind"]), fields=frozenset(e["fields"]),
                              since=date.fromisoformat(e["since"]) if e.get("since") else None,
                              until=date.fromisoformat(e["until"]) if e.get("until") else None,
                              confidence=float(e.get("confidence", 1.0)), evidence=tuple(e.get("evidence", ())),
                              line=0, derived=True))
    except (KeyError, TypeError, ValueError) as exc:
        return [], [], [Problem(0, _("damaged entry: {reason}").format(reason=exc), label)]
    return agents, edges, []


def merge_derived(flows: Flows, agents: Iterable[Agent], edges: Iterable[Edge],
                  evidence_ids: Collection[str] | None) -> tuple[Flows, list[Problem]]:
    """The user's flows plus derived agents (only ids the file does not declare) and edges."""
    label = str(Path(".plitool") / "provenance" / "derived.json")
    problems: list[Problem] = []
    merged = dict(flows.agents)
    for a in agents:
        if a.id not in merged:
            merged[a.id] = a
    extra: list[Edge] = []
    for e in edges:
        if e.src not in merged or e.dst not in merged:
            problems.append(Problem(0, _("derived edge {src} → {dst}: agent no longer declared").format(src=e.src, dst=e.dst), label))
            continue
        missing = [i for i in e.evidence if evidence_ids is not None and i not in evidence_ids]
        if missing:
            problems.append(Problem(0, _("derived edge {src} → {dst}: evidence {id} is not in the ledger").format(
                src=e.src, dst=e.dst, id=missing[0]), label))
            continue
        extra.append(e)
    fields = tuple(flows.fields) + tuple(sorted({f for e in extra for f in e.fields} - set(flows.fields)))
    return Flows(agents=merged, edges=flows.edges + tuple(extra), fields=fields, path=flows.path), problems
