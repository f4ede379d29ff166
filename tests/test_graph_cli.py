"""``plitool graph`` through the command line, on a case whose evidence went in with ``plitool add``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import networkx as nx
import pytest

from plitool.provenance import exports
from plitool.vault.case import Case

from .conftest import Cli

ASSETS = Path(__file__).parent / "assets" / "provenance"
PHONE = "13812345678"  # the synthetic test-device values of assets/provenance/known.txt
IMEI = "490154203237518"

FLOWS = """\
agents:
  - id: quickride
    name: QuickRide Mobility Co., Ltd.
    kind: holder
    uscc: 91310000MA1FL0000N
    hosts: [quickride.example]
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
    evidence: [E-0001]
  - from: adnova-sdk
    to: broker
    kind: sold_to
    fields: [phone, device_id]
    since: 2021-06-01
  - from: broker
    to: chat-list
    kind: observed_at
    since: 2022-01-10
"""


@pytest.fixture
def graph_case(run: Cli, case: Case, tmp_path: Path) -> Case:
    contract = tmp_path / "sdk-contract.txt"
    contract.write_text("SDK data sharing agreement (synthetic)\n", encoding="utf-8")
    assert run("add", str(contract)).exit_code == 0
    (case.root / "flows.yaml").write_text(FLOWS, encoding="utf-8")
    return case


def test_check_clean(run: Cli, graph_case: Case) -> None:
    result = run("graph", "check")
    assert result.exit_code == 0, result.output
    assert "5 agents, 4 edges, 3 asserted" in result.stdout
    data = json.loads(run("graph", "check", "--json").stdout)
    assert data == {"ok": True, "problems": [], "agents": 5, "edges": 4, "asserted": 3, "derived": 0}


def test_check_names_every_problem_with_its_line(run: Cli, graph_case: Case) -> None:
    bad = FLOWS.replace("evidence: [E-0001]", "evidence: [E-0001, E-0042]").replace("kind: sold_to", "kind: sold")
    bad = bad.replace("since: 2022-01-10", "since: 2099-01-10")
    (graph_case.root / "flows.yaml").write_text(bad, encoding="utf-8")
    result = run("graph", "check")
    assert result.exit_code == 2
    assert "flows.yaml:32: evidence E-0042 is not in this case's ledger" in result.stdout
    assert "flows.yaml:35: unknown edge kind 'sold'" in result.stdout
    assert "flows.yaml:41: since 2099-01-10 is in the future" in result.stdout
    data = json.loads(run("graph", "check", "--json").stdout)
    assert data["ok"] is False and [p["line"] for p in data["problems"]] == [32, 35, 41]
    # the other commands refuse the broken file with the same lines, exit 2
    shown = run("graph", "show")
    assert shown.exit_code == 2 and "flows.yaml:32" in shown.stderr


def test_check_without_flows_file(run: Cli, case: Case) -> None:
    result = run("graph", "check")
    assert result.exit_code == 2 and "no flows.yaml" in result.stdout


def test_show_tree(run: Cli, graph_case: Case) -> None:
    result = run("graph", "show")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for words in ("holder", "quickride", "QuickRide Mobility Co., Ltd.", "→ adnova-sdk", "shared_with",
                  "device_id, location, phone", "2021-03-01 – 2021-09-30", "E-0001", "asserted (no evidence)",
                  "confidence 0.9"):
        assert words in out, words
    line = next(ln for ln in out.splitlines() if "→ broker" in ln)
    assert "asserted" in line and "sold_to" in line


def test_export_formats_refuse_overwrite_and_are_byte_identical(run: Cli, graph_case: Case, tmp_path: Path) -> None:
    target = tmp_path / "out.graphml"
    result = run("graph", "export", "--format", "graphml", "-o", str(target))
    assert result.exit_code == 0, result.output
    first = target.read_bytes()
    g = nx.read_graphml(target)
    assert g.nodes["broker"]["kind"] == "infringer"
    again = run("graph", "export", "--format", "graphml", "-o", str(target))
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert run("graph", "export", "--format", "graphml", "-o", str(target), "--force").exit_code == 0
    assert target.read_bytes() == first
    prov = run("graph", "export", "--format", "prov")
    doc = json.loads(prov.stdout)
    sha = json.loads(run("show", "E-0001", "--json").stdout)["digests"]["sha256"]
    assert doc["entity"]["evidence:E-0001"]["plitool:sha256"] == sha
    assert run("graph", "export", "--format", "prov").stdout == prov.stdout
    png = run("graph", "export", "--format", "png")
    assert png.exit_code == 2 and "-o FILE" in png.stderr


@pytest.mark.skipif(exports.dot_program() is None, reason="Graphviz dot is not installed")
def test_export_svg(run: Cli, graph_case: Case, tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    assert run("graph", "export", "--format", "svg", "-o", str(target)).exit_code == 0
    assert b"<svg" in target.read_bytes() and b"AdNova SDK Co." in target.read_bytes()


def test_export_picture_without_graphviz_exits_3(run: Cli, graph_case: Case, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "dot_program", lambda: None)
    result = run("graph", "export", "--format", "svg", "-o", str(tmp_path / "g.svg"))
    assert result.exit_code == 3 and "Graphviz 'dot' is not installed" in result.stderr
    assert not (tmp_path / "g.svg").exists()


def _from_har(run: Cli, target: str, *extra: str) -> dict:  # type: ignore[type-arg]
    result = run("graph", "from-har", target, "--app", "quickride", "--known-values", str(ASSETS / "known.txt"),
                 "--json", *extra)
    assert result.exit_code == 0, result.output
    for raw in (PHONE, IMEI):
        assert raw not in result.stdout and raw not in result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_from_har_on_an_evidence_id(run: Cli, graph_case: Case, tmp_path: Path) -> None:
    capture = tmp_path / "capture.har"
    shutil.copy(ASSETS / "capture.har", capture)
    assert run("add", str(capture)).exit_code == 0  # E-0002, stored without its extension
    flows_before = (graph_case.root / "flows.yaml").read_bytes()
    data = _from_har(run, "E-0002")
    assert data["item"] == "E-0002" and data["added"] == []
    assert data["first_party_skipped"] == ["api.quickride.example"]
    edges = {e["host"]: e for e in data["edges"]}
    assert set(edges) == {"api.adnova.example", "collect.trackr.example"}  # not the CDN whose *response* had a number
    assert edges["api.adnova.example"]["fields"] == ["phone"] and edges["api.adnova.example"]["since"] == "2024-03-01"
    assert edges["collect.trackr.example"]["fields"] == ["device_id"]  # an MD5 of the IMEI
    assert edges["api.adnova.example"]["to"] == "graph-api-adnova-example" and edges["api.adnova.example"]["new_agent"]
    assert (graph_case.root / "flows.yaml").read_bytes() == flows_before  # the user's file is never rewritten
    derived = graph_case.paths.state / "provenance" / "derived.json"
    layer = json.loads(derived.read_text("utf-8"))
    assert {a["id"]: a["kind"] for a in layer["agents"]} == {"graph-api-adnova-example": "intermediary",
                                                            "graph-collect-trackr-example": "intermediary"}
    check = json.loads(run("graph", "check", "--json").stdout)
    assert check["ok"] and check["edges"] == 6 and check["derived"] == 2
    shown = run("graph", "show").stdout
    assert "graph-api-adnova-example" in shown and "derived" in shown
    # running it again replaces its own edges instead of doubling them
    _from_har(run, "E-0002")
    assert json.loads(run("graph", "check", "--json").stdout)["edges"] == 6
    assert json.loads(derived.read_text("utf-8")) == layer
    exported = json.loads(run("graph", "export", "--format", "json").stdout)
    derived_edges = [e for e in exported["edges"] if e["derived"]]
    assert {e["evidence"] for e in derived_edges} == {"E-0002"} and not any(e["asserted"] for e in derived_edges)


def test_from_har_host_declared_by_an_agent_maps_to_it(run: Cli, graph_case: Case) -> None:
    (graph_case.root / "flows.yaml").write_text(
        FLOWS.replace("    kind: intermediary\n", "    kind: intermediary\n    hosts: [adnova.example]\n", 1), encoding="utf-8")
    data = _from_har(run, str(ASSETS / "capture.har"))
    assert data["added"] == ["E-0002"]  # a path is added to the vault first
    edges = {e["host"]: e for e in data["edges"]}
    assert edges["api.adnova.example"]["to"] == "adnova-sdk" and not edges["api.adnova.example"]["new_agent"]


def test_from_har_unknown_app_is_a_usage_error(run: Cli, graph_case: Case) -> None:
    result = run("graph", "from-har", str(ASSETS / "capture.har"), "--app", "nobody",
                 "--known-values", str(ASSETS / "known.txt"))
    assert result.exit_code == 2 and "unknown agent 'nobody'" in result.stderr


def test_export_highlights_the_probable_source_and_its_path(run: Cli, graph_case: Case) -> None:
    result = run("graph", "export", "--format", "dot", "--source", "quickride", "--target", "chat-list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    on_path = [ln for ln in lines if "->" in ln and "penwidth=3" in ln]
    assert [ln.split("[")[0].strip() for ln in on_path] == ['"adnova-sdk" -> "broker"', '"broker" -> "chat-list"',
                                                           '"quickride" -> "adnova-sdk"']
    assert "peripheries=2" in next(ln for ln in lines if ln.strip().startswith('"quickride" ['))
    data = json.loads(run("graph", "export", "--format", "json", "--source", "quickride", "--target", "chat-list").stdout)
    assert {n["id"] for n in data["nodes"] if n["probable_source"]} == {"quickride"}
    assert sum(e["on_path"] for e in data["edges"]) == 3
    bad = run("graph", "export", "--format", "dot", "--source", "nobody")
    assert bad.exit_code == 2 and "unknown agent 'nobody'" in bad.stderr


def test_from_har_on_evidence_that_is_not_a_capture(run: Cli, graph_case: Case) -> None:
    result = run("graph", "from-har", "E-0001", "--app", "quickride", "--known-values", str(ASSETS / "known.txt"))
    assert result.exit_code == 2 and "E-0001 (sdk-contract.txt) is not a HAR capture" in result.stderr
    assert not (graph_case.paths.state / "provenance" / "derived.json").exists()


def test_from_har_refuses_an_app_that_is_a_sighting(run: Cli, graph_case: Case) -> None:
    result = run("graph", "from-har", str(ASSETS / "capture.har"), "--app", "chat-list",
                 "--known-values", str(ASSETS / "known.txt"))
    assert result.exit_code == 2 and "is a sighting" in result.stderr
