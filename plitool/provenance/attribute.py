"""Leak attribution: which agent is the probable source of a sighting, and by which path.

:func:`attribute` is pure: it reads the item tables and the agent graph and returns a frozen
:class:`AttributionResult`; the CLI renders it. The numbers come from :mod:`.engine` (aggregate
SQL); this module turns them into the posterior over agents (uniform prior), the Bayes factor,
the p sweep, the best pair and the paths.

``AttributionResult.as_json()`` schema (stable; floats rounded to :data:`DIGITS` significant
digits so that the same inputs give byte-identical JSON)::

    {"schema": "plitool.attribution/1", "sighting": str, "first_seen": "YYYY-MM-DD",
     "cutoff": "YYYY-MM-DD", "p": float, "population": int, "records": int, "marker_records": int,
     "masked_records": int, "affected_individuals": int,
     "agents": [{"agent", "posterior", "log10_likelihood", "guilt", "records_covered",
                 "records_only_it_covers", "markers_hit", "excluded_by_time", "excluded_by_fields",
                 "held_subjects", "masked_candidates"}],           # ranked: posterior, log L, covered, agent id
     "top": str | null, "runner_up": str | null, "log10_bayes_factor": float | null,
     "verdict": "conclusive" | "inconclusive", "verdict_reasons": [str],
     "sweep": [{"p", "top", "runner_up", "log10_bayes_factor"}],
     "separating": {"top_only", "runner_up_only", "differ", "top_only_examples": [[E-id, row]],
                    "runner_up_only_examples": [[E-id, row]]} | null,
     "best_pair": {"agents": [a, b], "records_covered", "log10_likelihood",
                   "log10_bayes_factor_vs_top"} | null,
     "paths": [{"score", "edges": [{"from", "to", "kind", "fields", "since", "until", "confidence",
                                     "evidence", "asserted"}]}]}

``verdict_reasons`` are stable English codes (``top-changes-with-p``, ``bayes-factor-below-2``,
``identical-allocations``, ``no-agent-covers``, ``single-candidate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..i18n import _

if TYPE_CHECKING:
    from ..vault.case import Case

SCHEMA = "plitool.attribution/1"
SWEEP = (0.05, 0.1, 0.2, 0.3, 0.5)
DEFAULT_P = 0.1
DECISIVE = 2.0  # log10 Bayes factor
DIGITS = 10
PAIR_CANDIDATES = 6
CANDIDATE_KINDS = frozenset({"holder", "intermediary"})
NOT_SOURCES = frozenset({"subjects", "infringer", "sighting"})


def _r(x: float | None) -> float | None:
    """Deterministic rounding to DIGITS significant digits (and -0.0 → 0.0)."""
    if x is None or math.isnan(x):
        return None
    if math.isinf(x):
        return x
    if x == 0:
        return 0.0
    out = float(f"{x:.{DIGITS}g}")
    return out + 0.0


@dataclass(frozen=True)
class AgentResult:
    agent: str
    posterior: float
    log10_likelihood: float
    guilt: float
    records_covered: int
    records_only_it_covers: int
    markers_hit: int
    excluded_by_time: int
    excluded_by_fields: int
    held_subjects: int
    masked_candidates: int  # of records_covered: matched through a masked value, a candidate only

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent, "posterior": _r(self.posterior), "log10_likelihood": _r(self.log10_likelihood),
            "guilt": _r(self.guilt), "records_covered": self.records_covered,
            "records_only_it_covers": self.records_only_it_covers, "markers_hit": self.markers_hit,
            "excluded_by_time": self.excluded_by_time, "excluded_by_fields": self.excluded_by_fields,
            "held_subjects": self.held_subjects, "masked_candidates": self.masked_candidates,
        }


@dataclass(frozen=True)
class SweepPoint:
    p: float
    top: str | None
    runner_up: str | None
    log10_bayes_factor: float | None


@dataclass(frozen=True)
class Separating:
    top_only: int
    runner_up_only: int
    differ: int
    top_only_examples: tuple[tuple[str, int], ...]
    runner_up_only_examples: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class BestPair:
    agents: tuple[str, str]
    records_covered: int
    log10_likelihood: float
    log10_bayes_factor_vs_top: float


@dataclass(frozen=True)
class PathEdge:
    src: str
    dst: str
    kind: str
    fields: tuple[str, ...]
    since: str | None
    until: str | None
    confidence: float
    evidence: tuple[str, ...]

    @property
    def asserted(self) -> bool:
        return not self.evidence


@dataclass(frozen=True)
class RoutePath:
    score: float
    edges: tuple[PathEdge, ...]


@dataclass(frozen=True)
class AttributionResult:
    sighting: str
    first_seen: date
    cutoff: date
    p: float
    population: int
    records: int
    marker_records: int
    masked_records: int
    affected_individuals: int
    agents: tuple[AgentResult, ...]
    top: str | None
    runner_up: str | None
    log10_bayes_factor: float | None
    verdict: str
    verdict_reasons: tuple[str, ...]
    sweep: tuple[SweepPoint, ...]
    separating: Separating | None
    best_pair: BestPair | None
    paths: tuple[RoutePath, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "sighting": self.sighting,
            "first_seen": self.first_seen.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "p": _r(self.p),
            "population": self.population,
            "records": self.records,
            "marker_records": self.marker_records,
            "masked_records": self.masked_records,
            "affected_individuals": self.affected_individuals,
            "agents": [a.as_json() for a in self.agents],
            "top": self.top,
            "runner_up": self.runner_up,
            "log10_bayes_factor": _r(self.log10_bayes_factor),
            "verdict": self.verdict,
            "verdict_reasons": list(self.verdict_reasons),
            "sweep": [{"p": _r(s.p), "top": s.top, "runner_up": s.runner_up,
                       "log10_bayes_factor": _r(s.log10_bayes_factor)} for s in self.sweep],
            "separating": None if self.separating is None else {
                "top_only": self.separating.top_only, "runner_up_only": self.separating.runner_up_only,
                "differ": self.separating.differ,
                "top_only_examples": [list(e) for e in self.separating.top_only_examples],
                "runner_up_only_examples": [list(e) for e in self.separating.runner_up_only_examples],
            },
            "best_pair": None if self.best_pair is None else {
                "agents": list(self.best_pair.agents), "records_covered": self.best_pair.records_covered,
                "log10_likelihood": _r(self.best_pair.log10_likelihood),
                "log10_bayes_factor_vs_top": _r(self.best_pair.log10_bayes_factor_vs_top),
            },
            "paths": [{"score": _r(p.score), "edges": [{
                "from": e.src, "to": e.dst, "kind": e.kind, "fields": list(e.fields), "since": e.since,
                "until": e.until, "confidence": _r(e.confidence), "evidence": list(e.evidence),
                "asserted": e.asserted} for e in p.edges]} for p in self.paths],
        }


# -- the steps -----------------------------------------------------------------------------------


def check_p(p: float) -> float:
    if not (isinstance(p, (int, float)) and 0.0 < float(p) < 1.0) or math.isnan(p):
        raise UsageError(_("--p must be strictly between 0 and 1 (the share of records that came from elsewhere), not {p}")
                         .format(p=p))
    return float(p)


def _ranked(stats: list[Any]) -> list[tuple[Any, float]]:
    """(stats, posterior) ranked. An agent that held none of the records before the cut-off
    cannot be the source: posterior 0. The rest share the posterior ∝ L(h) (uniform prior)."""
    live = [s for s in stats if s.covered > 0]
    post: dict[str, float] = {}
    if live:
        top_ll = max(s.log_likelihood for s in live)
        weights = {s.agent: math.exp(s.log_likelihood - top_ll) for s in live}
        total = math.fsum(weights.values())
        post = {a: w / total for a, w in weights.items()}
    order = sorted(stats, key=lambda s: (-post.get(s.agent, 0.0), -s.log_likelihood, -s.covered, s.agent))
    return [(s, post.get(s.agent, 0.0)) for s in order]


def _bf(ranked: list[tuple[Any, float]]) -> tuple[str | None, str | None, float | None]:
    if not ranked or ranked[0][0].covered == 0:
        return None, None, None
    top = ranked[0][0]
    if len(ranked) < 2:
        return top.agent, None, None
    runner = ranked[1][0]
    return top.agent, runner.agent, (top.log_likelihood - runner.log_likelihood) / math.log(10)


def reach_rows(flows: Any, masks: dict[str, int], holders: list[str]) -> list[tuple[str, str, int, date | None]]:
    """The graph's reaches as (agent, origin, field mask, since), plus every holder holding its own data."""
    from .graph import reaches

    every = 0
    for m in masks.values():
        every |= m
    rows: set[tuple[str, str, int, date | None]] = set()
    for r in reaches(flows):
        mask = 0
        for f in r.fields:
            mask |= masks.get(f, 0)
        if r.agent == r.origin and not r.via:
            mask = every
        if mask:
            rows.add((r.agent, r.origin, mask, r.since))
    for h in holders:
        rows.add((h, h, every, None))
    return sorted(rows, key=lambda t: (t[0], t[1], t[2], t[3] or date.min))


def _paths(flows: Any, source: str, target: str, before: date) -> tuple[RoutePath, ...]:
    from .graph import top_paths

    out = []
    for fp in top_paths(flows, source, target, k=3, before=before):
        edges = tuple(PathEdge(e.src, e.dst, e.kind, tuple(sorted(e.fields)),
                               e.since.isoformat() if e.since else None, e.until.isoformat() if e.until else None,
                               float(e.confidence), tuple(e.evidence)) for e in fp.edges)
        out.append(RoutePath(float(fp.score), edges))
    return tuple(out)


ENGINES = ("duckdb", "spark")


def attribute(case: Case, *, sighting: str | None = None, p: float | None = None, population: int | None = None,
              delta_days: int = 0, flows: Any = None, engine: str = "duckdb", spark_remote: str | None = None,
              spark_master: str | None = None, tables: str | None = None, spark: Any = None) -> AttributionResult:
    """The attribution of one sighting (the only one when ``sighting`` is None), on the embedded
    DuckDB store or (``engine='spark'``) the same statements on Spark (:mod:`.spark`)."""
    from .ingest import load_case_flows
    from .items import item_store, out_of_memory, store_path

    p = check_p(DEFAULT_P if p is None else p)
    flows = flows if flows is not None else load_case_flows(case)
    agents = getattr(flows, "agents", {}) or {}
    if not agents:
        raise UsageError(_("the graph is empty: declare the agents in flows.yaml first (see README, 'Provenance graph')"))
    if engine not in ENGINES:
        raise UsageError(_("--engine must be one of {names}, not {value!r}").format(names=", ".join(ENGINES), value=engine))
    if engine == "spark":
        from .spark import attribute_on_spark

        return attribute_on_spark(case, flows, agents, sighting=sighting, p=p, population=population,
                                  delta_days=delta_days, remote=spark_remote, master=spark_master, tables=tables,
                                  spark=spark)
    if spark_remote or spark_master or tables:
        raise UsageError(_("--spark-remote, --spark-master and --tables go with --engine spark"))
    if not store_path(case).exists():
        raise UsageError(_("no leak ingested yet: run 'plitool leak add SIGHTING FILE --first-seen DATE' first"))
    import duckdb

    try:
        with item_store(case, read_only=True) as store:
            return _attribute(store, flows, agents, sighting=sighting, p=p, population=population,
                              delta_days=delta_days)
    except duckdb.OutOfMemoryException as exc:
        raise out_of_memory(exc) from exc


def _attribute(store: Any, flows: Any, agents: dict[str, Any], *, sighting: str | None, p: float,
               population: int | None, delta_days: int) -> AttributionResult:
    from .engine import Engine, holding_agents, sightings

    con = store.con
    seen = sightings(con)
    if not seen:
        raise UsageError(_("no leak ingested yet: run 'plitool leak add SIGHTING FILE --first-seen DATE' first"))
    if sighting is None:
        if len(seen) > 1:
            raise UsageError(_("several sightings have leaks ({names}): choose one with --sighting ID")
                             .format(names=", ".join(s for s, _d, _n in seen)))
        sighting = seen[0][0]
    match = [s for s in seen if s[0] == sighting]
    if not match:
        raise UsageError(_("no leak ingested for sighting {sighting!r} (sightings with leaks: {names})")
                         .format(sighting=sighting, names=", ".join(s for s, _d, _n in seen)))
    first_seen = match[0][1]
    cutoff = first_seen - timedelta(days=delta_days)
    holders = holding_agents(con)
    if not holders:
        raise UsageError(_("no holdings ingested yet: run 'plitool holdings add AGENT FILE --as-of DATE' first"))
    masks = store.all_field_masks()
    reach = reach_rows(flows, masks, holders)
    candidates = sorted({a for a, ag in agents.items() if getattr(ag, "kind", "holder") in CANDIDATE_KINDS}
                        | {r[0] for r in reach if getattr(agents.get(r[0]), "kind", "holder") not in NOT_SOURCES})
    if not candidates:
        raise UsageError(_("no candidate source: flows.yaml declares no holder or intermediary"))
    engine = Engine(con, sighting=sighting, cutoff=cutoff, reach=reach, candidates=candidates)
    try:
        return _rank(engine, con, flows, sighting=sighting, first_seen=first_seen, cutoff=cutoff, p=p,
                     population=population)
    finally:
        engine.close()


def _rank(engine: Any, con: Any, flows: Any, *, sighting: str, first_seen: date, cutoff: date, p: float,
          population: int | None) -> AttributionResult:
    from .engine import population as default_population

    n_records, n_markers, n_masked = engine.records()
    n0 = population if population is not None else default_population(con)
    n0 = max(n0, engine.largest_allocation(), 1)
    stats = engine.agent_stats(p=p, n0=n0)
    ranked = _ranked(stats)
    top, runner, bf = _bf(ranked)

    sweep: list[SweepPoint] = []
    for sp in SWEEP:
        r = _ranked(engine.sweep_stats(p=sp, n0=n0))
        t, ru, b = _bf(r)
        sweep.append(SweepPoint(sp, t, ru, b))

    reasons: list[str] = []
    separating: Separating | None = None
    if top is None:
        reasons.append("no-agent-covers")
    else:
        if runner is None:
            reasons.append("single-candidate")
        else:
            a_only, b_only, differ, ex_a, ex_b = engine.separating(top, runner)
            separating = Separating(a_only, b_only, differ, tuple(ex_a), tuple(ex_b))
            top_s, run_s = ranked[0][0], ranked[1][0]
            if a_only == 0 and b_only == 0 and differ == 0 and top_s.covered == run_s.covered:
                reasons.append("identical-allocations")
        if len({s.top for s in sweep}) != 1:
            reasons.append("top-changes-with-p")
        if any(s.log10_bayes_factor is None or s.log10_bayes_factor < DECISIVE for s in sweep):
            if "single-candidate" not in reasons:
                reasons.append("bayes-factor-below-2")
    verdict = "inconclusive" if reasons else "conclusive"

    best_pair = _best_pair(engine, ranked, p=p, n0=n0, n_records=n_records)
    paths: tuple[RoutePath, ...] = ()
    if top is not None:
        paths = _paths(flows, top, sighting, first_seen)

    agent_results = tuple(
        AgentResult(s.agent, post, s.log_likelihood / math.log(10), 0.0 - math.expm1(s.log_not_guilty), s.covered, s.only_it,
                    s.markers_hit, s.excluded_time, s.excluded_fields, s.n_h, s.covered_masked)
        for s, post in ranked)
    return AttributionResult(
        sighting=sighting, first_seen=first_seen, cutoff=cutoff, p=p, population=n0, records=n_records,
        marker_records=n_markers, masked_records=n_masked, affected_individuals=engine.affected(),
        agents=agent_results, top=top, runner_up=runner, log10_bayes_factor=bf, verdict=verdict,
        verdict_reasons=tuple(reasons), sweep=tuple(sweep), separating=separating, best_pair=best_pair, paths=paths)


def _best_pair(engine: Any, ranked: list[tuple[Any, float]], *, p: float, n0: int, n_records: int) -> BestPair | None:
    """When no single agent covers more than (1 − p) of the records: the pair that, as one joint
    source (each record from either, or combined from both on the same subject), explains most."""
    if not ranked or n_records == 0:
        return None
    best_single = max(s.covered for s, _post in ranked)
    if best_single > (1 - p) * n_records:
        return None
    pool = sorted((s for s, _post in ranked if s.covered > 0 or s.excluded_fields > 0),
                  key=lambda s: (-(s.covered + s.excluded_fields), s.agent))[:PAIR_CANDIDATES]
    top_ll = ranked[0][0].log_likelihood
    found: list[BestPair] = []
    for i, a in enumerate(pool):
        for b in pool[i + 1:]:
            # the pair covers at most what each covers or is short of fields on: skip a pair that
            # cannot beat the best single agent before running its query
            if a.covered + a.excluded_fields + b.covered + b.excluded_fields <= best_single:
                continue
            covered, ll = engine.pair(a.agent, b.agent, p=p, n0=n0, n_ab=a.n_h + b.n_h)
            if covered <= best_single:
                continue
            first, second = sorted((a.agent, b.agent))
            found.append(BestPair((first, second), covered, ll / math.log(10), (ll - top_ll) / math.log(10)))
    return min(found, key=lambda bp: (-bp.log10_likelihood, bp.agents), default=None)
