"""flows.yaml parsing and validation, the agent graph, time-respecting reach and paths, exports."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import networkx as nx
import pytest

from plitool.errors import FlowsError, GraphvizMissing
from plitool.provenance import exports
from plitool.provenance.exports import FORMATS, Highlight, dot_quote, export_graph
from plitool.provenance.flows import FIELDS, Flows, parse_flows
from plitool.provenance.graph import build_graph, reaches, top_paths

TODAY = date(2026, 6, 1)

EXAMPLE = textwrap.dedent("""\
    agents:
      - id: quickride            # unique, [a-z0-9-]
        name: QuickRide Mobility Co., Ltd.
        kind: holder
        uscc: 91310000MA1FL0000N
      - id: riders
        name: QuickRide users
        kind: subjects
      - id: adnova-sdk
        name: AdNova SDK Co.
        kind: intermediary
      - id: broker
        name: Data broker
        kind: infringer
      - id: chat-list
        name: List sold in a chat group
        kind: sighting
    edges:
      - from: riders
        to: quickride
        kind: collected
        fields: [name, phone, id_number, device_id, location]
        since: 2019-05-01
      - from: quickride
        to: adnova-sdk
        kind: shared_with
        fields: [phone, device_id, location]
        since: 2021-03-01
        until: 2021-09-30
        confidence: 0.9
        evidence: [E-0001, E-0002]
      - from: adnova-sdk
        to: broker
        kind: sold_to
        fields: [phone, device_id]
        since: 2021-06-01
        confidence: 0.5
      - from: broker
        to: chat-list
        kind: observed_at
        since: 2022-01-10
    """)
EVIDENCE = {"E-0001", "E-0002"}


def parse(text: str = EXAMPLE, evidence: set[str] | None = EVIDENCE) -> Flows:
    return parse_flows(text, evidence_ids=evidence, today=TODAY)


def problems(text: str, evidence: set[str] | None = EVIDENCE) -> list[tuple[int, str]]:
    with pytest.raises(FlowsError) as info:
        parse(text, evidence)
    return info.value.problems


# -- parsing --------------------------------------------------------------------------------------


def test_example_parses_with_lines_defaults_and_asserted_edges() -> None:
    flows = parse()
    assert sorted(flows.agents) == ["adnova-sdk", "broker", "chat-list", "quickride", "riders"]
    q = flows.agents["quickride"]
    assert (q.kind, q.name, q.uscc, q.line) == ("holder", "QuickRide Mobility Co., Ltd.", "91310000MA1FL0000N", 2)
    collected, shared, sold, observed = flows.edges
    assert (collected.src, collected.dst, collected.line, collected.since) == ("riders", "quickride", 19, date(2019, 5, 1))
    assert collected.confidence == 1.0 and collected.asserted
    assert shared.fields == {"phone", "device_id", "location"} and shared.until == date(2021, 9, 30)
    assert shared.evidence == ("E-0001", "E-0002") and not shared.asserted and shared.line == 24
    assert sold.confidence == 0.5 and observed.fields == frozenset() and observed.kind == "observed_at"
    assert flows.fields == FIELDS


def test_declared_fields_extend_the_standard_ten() -> None:
    text = "fields: [plate_number]\n" + EXAMPLE.replace("fields: [phone, device_id]", "fields: [phone, plate_number]")
    flows = parse(text)
    assert flows.fields == FIELDS + ("plate_number",)
    assert any(e.fields == {"phone", "plate_number"} for e in flows.edges)


def test_evidence_checked_for_form_only_without_a_ledger() -> None:
    flows = parse(EXAMPLE.replace("E-0002", "E-9"), evidence=None)
    assert flows.edges[1].evidence == ("E-0001", "E-0009")


def _edit(old: str, new: str) -> str:
    assert old in EXAMPLE
    return EXAMPLE.replace(old, new, 1)


@pytest.mark.parametrize(("text", "line", "words"), [
    (_edit("id: quickride ", "id: Quick_Ride "), 2, "agent id 'Quick_Ride'"),
    (_edit("id: riders", "id: quickride"), 6, "used twice (first on line 2)"),
    (_edit("kind: holder", "kind: bank"), 4, "unknown agent kind 'bank'"),
    (_edit("uscc: 91310000MA1FL0000N", "uscc: 91310000MA1FL0000X"), 5, "not a valid unified social credit code"),
    (_edit("to: adnova-sdk", "to: adnova"), 25, "unknown agent 'adnova'"),
    (_edit("kind: shared_with", "kind: leaked"), 26, "unknown edge kind 'leaked'"),
    (_edit("fields: [phone, device_id, location]", "fields: [phone, shoe_size]"), 27, "unknown field 'shoe_size'"),
    (_edit("since: 2021-03-01", "since: 2021-02-30"), 28, "not an ISO date"),
    (_edit("since: 2021-03-01", "since: 2027-01-01"), 28, "in the future"),
    (_edit("until: 2021-09-30", "until: 2021-01-31"), 29, "until 2021-01-31 is before since 2021-03-01"),
    (_edit("confidence: 0.9", "confidence: 1.2"), 30, "from 0 to 1"),
    (_edit("confidence: 0.9", "confidence: high"), 30, "from 0 to 1"),
    (_edit("[E-0001, E-0002]", "[E-0001, E-0003]"), 31, "E-0003 is not in this case's ledger"),
    (_edit("[E-0001, E-0002]", "[E-0001, exhibit-2]"), 31, "'exhibit-2' is not an evidence id"),
    (_edit("    since: 2019-05-01\n", "    since: 2019-05-01\n    color: red\n"), 24, "unknown key 'color'"),
    (_edit("  - from: riders\n    to: quickride\n", "  - from: quickride\n    to: riders\n"), 20,
     "no edge may end at the data subjects 'riders'"),
    (_edit("from: riders", "from: quickride"), 19, "'collected' starts at a group of data subjects"),
    (_edit("to: chat-list", "to: broker"), 38, "an edge from 'broker' to itself"),
    (_edit("    kind: collected\n    fields: [name, phone, id_number, device_id, location]\n", "    kind: collected\n"),
     19, "say which fields travel"),
])
def test_every_problem_is_named_with_its_line(text: str, line: int, words: str) -> None:
    found = problems(text)
    assert any(ln == line and words in msg for ln, msg in found), found


def test_all_problems_are_reported_together_and_str_names_lines() -> None:
    text = _edit("kind: holder", "kind: bank").replace("confidence: 0.5", "confidence: -1")
    with pytest.raises(FlowsError) as info:
        parse(text)
    lines = {ln for ln, _msg in info.value.problems}
    assert {4, 37} <= lines
    assert "flows.yaml:4:" in str(info.value) and "flows.yaml:37:" in str(info.value)


def test_a_broken_agent_is_not_also_unknown_on_its_edges() -> None:
    found = problems(_edit("kind: holder", "kind: bank"))
    assert not any("unknown agent 'quickride'" in msg for _ln, msg in found), found


def test_yaml_syntax_error_names_its_line() -> None:
    found = problems(EXAMPLE.replace("fields: [phone, device_id]", "fields: [phone, device_id"))
    assert found and found[0][0] >= 34 and "not valid YAML" in found[0][1]


def test_python_tags_are_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    found = problems(f"agents: !!python/object/apply:os.system ['touch {marker}']\n")
    assert found and "tag" in found[0][1] and found[0][0] == 1 and not marker.exists()


def test_empty_file_is_a_clear_problem() -> None:
    assert "empty" in problems("")[0][1]


def test_cycle_whose_dates_contradict_is_reported_with_a_line() -> None:
    text = textwrap.dedent("""\
        agents:
          - {id: a, kind: holder}
          - {id: b, kind: intermediary}
          - {id: c, kind: intermediary}
        edges:
          - {from: b, to: c, kind: shared_with, fields: [phone], since: 2020-01-01, until: 2020-06-30}
          - {from: a, to: b, kind: shared_with, fields: [phone], since: 2021-01-01, until: 2021-03-31}
          - {from: c, to: a, kind: sold_to, fields: [phone], since: 2019-01-01, until: 2019-12-31}
        """)
    found = problems(text)  # from whichever edge data starts, a later edge has already closed
    assert [(ln, msg) for ln, msg in found if "cycle" in msg] == [
        (6, "the cycle a → b → c → a cannot be travelled in time order: its dates contradict each other")]
    assert len(parse(text.replace("until: 2019-12-31", "until: 2025-12-31")).edges) == 3  # c → a → b → … later: fine


def test_a_cycle_that_time_allows_is_not_a_problem() -> None:
    text = EXAMPLE + """\
  - from: broker
    to: quickride
    kind: sold_to
    fields: [phone]
    since: 2023-01-01
"""
    flows = parse(text)  # quickride → adnova (2021-03) → broker (2021-06) → quickride (2023): possible
    assert len(flows.edges) == 5


# -- reach and paths --------------------------------------------------------------------------------


def test_reaches_are_time_respecting_and_field_filtered() -> None:
    flows = parse()
    got = {(r.agent, r.origin): r for r in reaches(flows)}
    r = got[("broker", "quickride")]
    assert r.fields == {"phone", "device_id"} and r.since == date(2021, 6, 1) and len(r.via) == 2
    r = got[("adnova-sdk", "riders")]
    assert r.fields == {"phone", "device_id", "location"} and r.since == date(2021, 3, 1)
    assert got[("quickride", "quickride")].fields == set(FIELDS) and got[("quickride", "quickride")].via == ()
    assert ("chat-list", "quickride") not in got  # observed_at shows data; it does not propagate holdings
    assert ("quickride", "adnova-sdk") not in got  # edges are directed


def test_reach_is_cut_where_an_edge_closed_before_the_data_arrived() -> None:
    text = _edit("since: 2021-06-01", "since: 2021-06-01\n    until: 2021-02-01").replace(
        "    since: 2021-06-01\n    until: 2021-02-01", "    since: 2020-01-01\n    until: 2021-02-01")
    flows = parse(text)  # adnova holds quickride's data from 2021-03; its sale channel closed 2021-02
    got = {(r.agent, r.origin) for r in reaches(flows)}
    assert ("adnova-sdk", "quickride") in got and ("broker", "quickride") not in got
    assert ("broker", "adnova-sdk") in got  # adnova's own holdings did travel


SMALL = textwrap.dedent("""\
    agents:
      - {id: src, kind: holder}
      - {id: a, kind: intermediary}
      - {id: b, kind: intermediary}
      - {id: late, kind: intermediary}
      - {id: ring, kind: infringer}
    edges:
      - {from: src, to: a, kind: shared_with, fields: [phone], since: 2020-01-01, confidence: 0.9}
      - {from: a, to: ring, kind: sold_to, fields: [phone], since: 2020-06-01, confidence: 0.8}
      - {from: src, to: b, kind: shared_with, fields: [phone], since: 2020-01-01, confidence: 0.9}
      - {from: b, to: ring, kind: sold_to, fields: [phone], since: 2020-06-01, confidence: 0.8}
      - {from: src, to: ring, kind: sold_to, fields: [phone], since: 2021-01-01, confidence: 0.5}
      - {from: src, to: late, kind: shared_with, fields: [phone], since: 2022-01-01, confidence: 1}
      - {from: late, to: ring, kind: sold_to, fields: [phone], since: 2019-01-01, until: 2021-12-31, confidence: 1}
    """)


def test_top_paths_ranked_by_confidence_with_a_stable_tie_order() -> None:
    flows = parse(SMALL)
    paths = top_paths(flows, "src", "ring", k=5)
    assert [p.nodes for p in paths] == [("src", "a", "ring"), ("src", "b", "ring"), ("src", "ring")]
    assert [round(p.score, 6) for p in paths] == [0.72, 0.72, 0.5]
    assert top_paths(flows, "src", "ring", k=1)[0].nodes == ("src", "a", "ring")


def test_time_violating_path_is_excluded() -> None:
    flows = parse(SMALL)  # src → late (confidence 1) only from 2022, but late → ring closed end of 2021
    assert all("late" not in p.nodes for p in top_paths(flows, "src", "ring", k=10))
    assert top_paths(flows, "late", "ring")[0].nodes == ("late", "ring")


def test_top_paths_before_the_first_sighting() -> None:
    flows = parse(SMALL)
    assert [p.nodes for p in top_paths(flows, "src", "ring", before=date(2020, 12, 31))] == [
        ("src", "a", "ring"), ("src", "b", "ring")]
    assert top_paths(flows, "src", "ring", before=date(2020, 3, 1)) == []


def test_build_graph_carries_the_edges() -> None:
    g = build_graph(parse())
    assert g.nodes["quickride"]["kind"] == "holder" and g.number_of_edges() == 4
    (data,) = g.get_edge_data("quickride", "adnova-sdk").values()
    assert data["edge"].evidence == ("E-0001", "E-0002") and data["kind"] == "shared_with"


# -- exports ----------------------------------------------------------------------------------------

SHA = {"E-0001": "a" * 64, "E-0002": "b" * 64}
TEXT_FORMATS = [f for f in FORMATS if f not in ("svg", "png")]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_same_inputs_give_byte_identical_exports(fmt: str) -> None:
    one = export_graph(parse(), fmt, evidence=SHA)
    two = export_graph(parse(EXAMPLE), fmt, evidence=dict(reversed(list(SHA.items()))))
    assert one == two and len(one) > 200
    assert b"lastmodifieddate" not in one and b"2026-" not in one  # no date of export


def test_graphml_and_gexf_read_back_with_networkx(tmp_path: Path) -> None:
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        path = tmp_path / f"g.{fmt}"
        path.write_bytes(export_graph(parse(), fmt))
        g = reader(path)
        assert g.nodes["quickride"]["kind"] == "holder", fmt
        edges = [d for u, v, d in g.edges(data=True) if (u, v) == ("quickride", "adnova-sdk")]
        assert edges[0]["fields"] == "device_id,location,phone" and edges[0]["evidence"] == "E-0001,E-0002", fmt
        assert float(edges[0]["confidence"]) == 0.9, fmt


def test_node_link_json_round_trips() -> None:
    data = json.loads(export_graph(parse(), "json"))
    g = nx.node_link_graph(data, edges="edges")
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 4
    assert {d["asserted"] for _u, _v, d in g.edges(data=True)} == {True, False}


def test_prov_json_structure() -> None:
    doc = json.loads(export_graph(parse(), "prov", evidence=SHA))
    assert doc["agent"]["agent:quickride"]["prov:type"] == {"$": "prov:Organization", "type": "prov:QUALIFIED_NAME"}
    assert doc["agent"]["agent:riders"]["prov:type"]["$"] == "plitool:DataSubjects"
    assert doc["entity"]["evidence:E-0001"]["plitool:sha256"] == "a" * 64
    flows = list(doc["wasDerivedFrom"].values())
    moved = [f for f in flows if f["prov:usedEntity"] == "data:quickride" and f["prov:generatedEntity"] == "data:adnova-sdk"]
    assert moved and moved[0]["plitool:evidence"] == "E-0001,E-0002" and moved[0]["plitool:since"]["$"] == "2021-03-01"
    attributed = {(a["prov:entity"], a["prov:agent"]) for a in doc["wasAttributedTo"].values()}
    assert ("evidence:E-0001", "agent:quickride") in attributed and ("data:broker", "agent:broker") in attributed
    assert set(doc) == {"prefix", "agent", "entity", "wasDerivedFrom", "wasAttributedTo"}


def test_dot_styles_kinds_marks_asserted_and_highlights() -> None:
    flows = parse()
    path = top_paths(flows, "quickride", "chat-list")[0]
    text = export_graph(flows, "dot", highlight=Highlight("quickride", (path,))).decode()
    broker_line = next(ln for ln in text.splitlines() if ln.strip().startswith('"adnova-sdk" -> "broker"'))
    assert "style=dashed" in broker_line and "asserted" in broker_line and "penwidth=3" in broker_line
    shared_line = next(ln for ln in text.splitlines() if ln.strip().startswith('"quickride" -> "adnova-sdk"'))
    assert "E-0001, E-0002" in shared_line and "dashed" not in shared_line
    assert '"quickride" [' in text and "peripheries=2" in text.split('"quickride" [')[1].split("\n")[0]
    assert "shape=octagon" in text.split('"broker" [')[1].split("\n")[0]


def test_dot_quoting() -> None:
    assert dot_quote('Say "hi"\\ now\nplease') == '"Say \\"hi\\"\\\\ now\\nplease"'
    text = EXAMPLE.replace("name: Data broker", 'name: "Broker \\"X\\" \\\\ Ltd"')
    dot = export_graph(parse(text), "dot").decode()
    assert 'label="Broker \\"X\\" \\\\ Ltd\\n(broker, infringer)"' in dot


@pytest.mark.skipif(exports.dot_program() is None, reason="Graphviz dot is not installed")
def test_svg_via_dot_is_byte_identical() -> None:
    one = export_graph(parse(), "svg")
    assert one.lstrip().startswith(b"<?xml") and b"<svg" in one and b"AdNova SDK Co." in one
    assert export_graph(parse(), "svg") == one


def test_picture_without_graphviz_is_a_clear_environment_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "dot_program", lambda: None)
    with pytest.raises(GraphvizMissing) as info:
        export_graph(parse(), "png")
    assert info.value.exit_code == 3 and "graphviz" in str(info.value)


def test_the_readme_example_is_a_valid_flows_file() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    text = readme.split("```yaml\n# flows.yaml", 1)[1].split("```", 1)[0]
    flows = parse_flows("# flows.yaml" + text, evidence_ids={"E-0004", "E-0007"}, today=TODAY)
    assert len(flows.agents) == 5 and len(flows.edges) == 4 and "plate_number" in flows.fields


# -- properties: reach and paths against brute force -------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from plitool.provenance.flows import Agent, Edge, arrival  # noqa: E402

_NODES = ("s", "a", "b", "c", "t")
_DAYS = st.one_of(st.none(), st.integers(0, 6).map(lambda n: date(2020 + n, 1, 1)))


@st.composite
def random_flows(draw: st.DrawFn) -> Flows:
    agents = {n: Agent(n, n, "holder" if n == "s" else "intermediary", None, i + 1) for i, n in enumerate(_NODES)}
    edges = []
    for i in range(draw(st.integers(0, 9))):
        src, dst = draw(st.sampled_from(_NODES)), draw(st.sampled_from(_NODES))
        if src == dst:
            continue
        since, until = draw(_DAYS), draw(_DAYS)
        if since is not None and until is not None and until < since:
            since, until = until, since
        edges.append(Edge(src, dst, draw(st.sampled_from(("shared_with", "sold_to"))),
                          frozenset(draw(st.sets(st.sampled_from(("phone", "name", "email")), min_size=1))),
                          since, until, draw(st.sampled_from((0.5, 0.8, 1.0))), (), 100 + i))
    return Flows(agents, tuple(edges), FIELDS, None)


def _walk(path: tuple[Edge, ...]) -> tuple[bool, date | None]:
    at: date | None = None
    for e in path:
        ok, at = arrival(at, e)
        if not ok:
            return False, at
    return True, at


def _all_simple(flows: Flows, source: str) -> list[tuple[Edge, ...]]:
    out: list[tuple[Edge, ...]] = []

    def go(path: tuple[Edge, ...], seen: frozenset[str]) -> None:
        node = path[-1].dst if path else source
        for e in flows.edges:
            if e.src == node and e.dst not in seen:
                out.append(path + (e,))
                go(path + (e,), seen | {e.dst})

    go((), frozenset({source}))
    return out


@settings(max_examples=150, deadline=None)
@given(random_flows())
def test_top_paths_match_brute_force(flows: Flows) -> None:
    import math

    brute = [p for p in _all_simple(flows, "s") if p[-1].dst == "t" and _walk(p)[0]]
    brute.sort(key=lambda p: (-math.prod(e.confidence for e in p), len(p), [e.sort_key() for e in p]))
    got = top_paths(flows, "s", "t", k=4)
    assert [p.edges for p in got] == brute[:4]
    for p in got:
        assert p.score == pytest.approx(math.prod(e.confidence for e in p.edges))


@settings(max_examples=150, deadline=None)
@given(random_flows())
def test_reaches_cover_every_time_respecting_path(flows: Flows) -> None:
    got = reaches(flows)
    for r in got:  # every reach is a real, time-respecting path carrying exactly its fields
        if r.via:
            ok, at = _walk(r.via)
            assert ok and at == r.since and r.origin == r.via[0].src and r.agent == r.via[-1].dst
            assert r.fields == frozenset.intersection(*(e.fields for e in r.via))
    for path in _all_simple(flows, "s"):  # and every such path is matched or bettered by one
        ok, at = _walk(path)
        fields = frozenset.intersection(*(e.fields for e in path))
        if not ok or not fields:
            continue
        assert any(r.origin == "s" and r.agent == path[-1].dst and r.fields >= fields
                   and (r.since is None or (at is not None and r.since <= at)) for r in got), path
    assert got == reaches(Flows(flows.agents, tuple(reversed(flows.edges)), flows.fields, None))  # input order
