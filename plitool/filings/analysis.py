"""What the provenance layer adds to a draft: harm to many, causation and the graph figure; and
the burden-allocation matrix that ties every element to its evidence.

Only counts, kinds of data, agent names and evidence ids come from the item tables: never a
personal value (the tables hold none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import PlitoolError

if TYPE_CHECKING:
    from ..vault.case import Case
    from .evidence import EvidenceRow


@dataclass(frozen=True)
class MatrixRow:
    key: str
    element: str
    bearer: str
    evidence_ids: tuple[str, ...]
    filled: str
    rebuttal: str
    missing: bool


@dataclass(frozen=True)
class SightingHarm:
    id: str
    name: str
    records: int
    subjects: int | None
    kinds: tuple[str, ...]
    sensitive_kinds: tuple[str, ...]


@dataclass(frozen=True)
class Harm:
    available: bool = False
    sightings: tuple[SightingHarm, ...] = ()
    #: at least this many distinct individuals (the largest sighting's count: the same person may
    #: appear in several sightings)
    total_subjects: int | None = None
    kinds: tuple[str, ...] = ()
    sensitive_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribution:
    sighting: str
    sighting_name: str
    source: str
    source_id: str
    posterior: float
    log10_bf: float | None
    verdict: str
    verdict_text: str
    records: int
    affected: int
    path: tuple[dict[str, Any], ...]
    limits: str
    reasons: tuple[str, ...]
    runner_up: str | None


@dataclass(frozen=True)
class Figure:
    png: bytes | None = None
    note: str = ""


@dataclass
class Provenance:
    harm: Harm = field(default_factory=Harm)
    attribution: Attribution | None = None
    figure: Figure = field(default_factory=Figure)


def kind_labels(kinds: list[str] | tuple[str, ...], law: dict[str, Any]) -> tuple[str, ...]:
    names = law.get("kinds", {})
    return tuple(str(names.get(k, k)) for k in kinds)


def _sighting_counts(store: Any, sighting: str) -> tuple[int, list[str]]:
    con = store.con
    # the leak datasets whose ingest finished (a 'datasets' row is written last, see items.pending)
    done = "dataset IN (SELECT dataset FROM datasets WHERE role = 'leak' AND agent = $s)"
    row = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT dataset, record FROM leaks WHERE sighting = $s AND {done})",
                      {"s": sighting}).fetchone()
    kinds = [str(f) for (f,) in con.execute(
        f"SELECT DISTINCT field FROM leaks WHERE sighting = $s AND {done} ORDER BY field", {"s": sighting}).fetchall()]
    return (int(row[0]) if row else 0), kinds


def provenance_for(case: Case, law: dict[str, Any], *, sighting: str | None = None, figure: bool = True) -> Provenance:
    """Harm per sighting, the attribution of the chosen sighting (the only one, or ``sighting``),
    and the graph picture with the probable source highlighted. Anything the case does not have
    (no flows.yaml, no leak ingested, no holdings, no Graphviz) leaves its part empty, with a note."""
    from ..provenance.items import item_store, store_path

    labels = law["labels"]
    out = Provenance(figure=Figure(note=str(labels["figure_none"])))
    if not (case.root / "flows.yaml").is_file() or not store_path(case).exists():
        return out
    from ..provenance.attribute import attribute
    from ..provenance.engine import sightings
    from ..provenance.flows import load_flows

    try:
        flows = load_flows(case)
    except PlitoolError:
        return out
    sensitive = set(law.get("sensitive_kinds", []))
    with item_store(case, read_only=True) as store:
        seen = sightings(store.con)
        counts = {s: _sighting_counts(store, s) for s, _d, _n in seen}
    results: dict[str, Any] = {}
    for s, _d, _n in seen:
        try:
            results[s] = attribute(case, sighting=s, flows=flows)
        except PlitoolError:
            continue
    rows = []
    all_kinds: list[str] = []
    for s, _d, _n in seen:
        records, kinds = counts[s]
        res = results.get(s)
        agent = flows.agents.get(s)
        rows.append(SightingHarm(
            id=s, name=agent.name if agent is not None else s,
            records=res.records if res is not None else records,
            subjects=res.affected_individuals if res is not None else None,
            kinds=kind_labels(kinds, law), sensitive_kinds=kind_labels([k for k in kinds if k in sensitive], law)))
        all_kinds += [k for k in kinds if k not in all_kinds]
    subjects = [r.subjects for r in rows if r.subjects is not None]
    out.harm = Harm(available=bool(rows), sightings=tuple(rows), total_subjects=max(subjects) if subjects else None,
                    kinds=kind_labels(all_kinds, law),
                    sensitive_kinds=kind_labels([k for k in all_kinds if k in sensitive], law))
    chosen = sighting if sighting in results else (next(iter(results)) if len(results) == 1 else None)
    if chosen is None and results:
        chosen = max(results, key=lambda k: results[k].records)
    res = results.get(chosen) if chosen else None
    if res is None or res.top is None:
        return out
    top = flows.agents.get(res.top)
    posterior = res.agents[0].posterior if res.agents else 0.0
    path: tuple[dict[str, Any], ...] = ()
    if res.paths:
        path = tuple({"from": e.src, "from_name": _name(flows, e.src), "to": e.dst, "to_name": _name(flows, e.dst),
                      "kind": str(law.get("edge_kinds", {}).get(e.kind, e.kind)), "evidence": list(e.evidence)} for e in res.paths[0].edges)
    verdict_text = str(labels["verdict_conclusive"] if res.verdict == "conclusive" else labels["verdict_inconclusive"])
    limits = str(labels.get("attribution_limits", "")).format(p=f"{res.p:g}", population=res.population)
    out.attribution = Attribution(
        sighting=res.sighting, sighting_name=_name(flows, res.sighting), source=top.name if top else res.top,
        source_id=res.top, posterior=round(posterior, 4),
        log10_bf=None if res.log10_bayes_factor is None else round(res.log10_bayes_factor, 2),
        verdict=res.verdict, verdict_text=verdict_text, records=res.records, affected=res.affected_individuals,
        path=path, limits=limits, reasons=res.verdict_reasons,
        runner_up=_name(flows, res.runner_up) if res.runner_up else None)
    if figure:
        out.figure = _figure(flows, res.top, res.sighting, labels)
    return out


def _name(flows: Any, ident: str) -> str:
    agent = flows.agents.get(ident)
    return str(agent.name) if agent is not None else ident


def _figure(flows: Any, source: str, target: str, labels: dict[str, Any]) -> Figure:
    from ..provenance.exports import Highlight, render, to_dot
    from ..provenance.graph import top_paths

    try:
        paths = tuple(top_paths(flows, source, target, k=3))
        png = render(to_dot(flows, Highlight(source, paths)), "png")
    except PlitoolError as exc:
        return Figure(note=str(labels["figure_missing"]).format(reason=exc))
    if not png.startswith(b"\x89PNG"):
        return Figure(note=str(labels["figure_missing"]).format(reason="not a PNG"))
    return Figure(png=png, note=str(labels["figure_caption"]))


def build_matrix(law: dict[str, Any], rows: list[EvidenceRow], prov: Provenance, benefit: str) -> list[MatrixRow]:
    labels = law["labels"]
    sep = labels.get("list_sep", "、")
    out = []
    for el in law["elements"]:
        key = str(el["key"])
        ids = tuple(r.id for r in rows if key in r.tags)
        filled: list[str] = []
        if ids:
            filled.append(str(labels["matrix_filled_tags"]).format(tag=key))
        if key == "harm" and prov.harm.available:
            records = sum(s.records for s in prov.harm.sightings)
            subjects = prov.harm.total_subjects
            filled.append(str(labels["matrix_filled_harm"]).format(
                records=records, subjects=subjects if subjects is not None else labels["harm_unknown"]))
        if key == "causation" and prov.attribution is not None:
            a = prov.attribution
            filled.append(str(labels["matrix_filled_causation"]).format(
                source=a.source, posterior=f"{a.posterior:.4f}", verdict=a.verdict_text))
            for edge in a.path:
                ids += tuple(i for i in edge["evidence"] if i not in ids)
        if key == "amount" and benefit:
            filled.append(str(labels["matrix_filled_amount"]).format(benefit=benefit))
        needs = el.get("evidence", True) is not False
        missing = needs and not ids and not filled
        if not needs and not filled:
            filled.append(str(labels["matrix_fault_none"]))
        out.append(MatrixRow(key=key, element=str(el["element"]), bearer=str(el["bearer"]), evidence_ids=ids,
                             filled=sep.join(filled) if filled else str(labels["matrix_missing"]),
                             rebuttal=str(el["rebuttal"]), missing=missing))
    return out
