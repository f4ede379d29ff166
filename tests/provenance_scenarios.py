"""Synthetic leak scenarios for the attribution tests (synthetic data only).

:func:`generate` makes a scenario from a seed: a population of subjects (name, phone, ID number),
holders with overlapping allocations, intermediaries fed by two holders from a date, one known
leaker (always a holder, so that the truth is identifiable), a share p of leaked records drawn
from elsewhere, and optionally a canary issued to the leaker. :func:`build` writes it into a case
the way a user would (flows.yaml, CSV files, ``ingest``), :func:`load_direct` writes abstract
allocations straight into an item store (fast, for property tests).
"""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰"
FIELDS3 = ("name", "phone", "id_number")
HEADERS = {"name": "姓名", "phone": "手机号", "id_number": "身份证号"}


def id_number(rng: random.Random) -> str:
    from stdnum.cn import ric

    body = f"{rng.choice(['110105', '310104', '440305', '510107'])}{rng.randrange(1960, 2000)}" \
           f"{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def subject(rng: random.Random) -> dict[str, str]:
    return {"name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
            "phone": f"{rng.choice(('138', '139', '150', '186', '188'))}{rng.randrange(10**8):08d}",
            "id_number": id_number(rng)}


@dataclass
class Holder:
    id: str
    members: list[int]  # indices into the population
    fields: tuple[str, ...] = FIELDS3
    as_of: date = date(2020, 1, 1)


@dataclass
class Scenario:
    seed: int
    population: list[dict[str, str]]
    holders: list[Holder]
    intermediaries: list[tuple[str, tuple[str, str], date]]  # id, fed by (a, b), since
    source: str
    leak: list[dict[str, str]]
    p: float
    first_seen: date = date(2023, 6, 1)
    canary_to: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def flows_yaml(self) -> str:
        lines = ["agents:"]
        for h in self.holders:
            lines.append(f"  - {{id: {h.id}, name: {h.id}, kind: holder}}")
        for iid, _fed, _since in self.intermediaries:
            lines.append(f"  - {{id: {iid}, name: {iid}, kind: intermediary}}")
        lines += ["  - {id: market, name: market, kind: sighting}", "  - {id: ring, name: ring, kind: infringer}",
                  "edges:"]
        for iid, fed, since in self.intermediaries:
            for h in fed:
                lines.append(f"  - {{from: {h}, to: {iid}, kind: shared_with, fields: [name, phone, id_number], "
                             f"since: {since.isoformat()}, evidence: [E-0001]}}")
        lines.append(f"  - {{from: {self.source}, to: ring, kind: sold_to, fields: [name, phone, id_number], "
                     "since: 2022-01-01, confidence: 0.8}")
        lines.append("  - {from: ring, to: market, kind: observed_at, since: 2023-01-01}")
        return "\n".join(lines) + "\n"


def generate(seed: int, *, n_pop: int = 800, n_holders: int = 4, n_leak: int | None = None, p: float | None = None,
             canary: bool = False) -> Scenario:
    rng = random.Random(seed)
    # subjects n_pop.. are held by nobody: the "elsewhere" records (public sources, another leak)
    pop = [subject(rng) for _ in range(n_pop + n_pop // 4)]
    holders = []
    for i in range(n_holders):
        size = rng.randrange(n_pop // 8, n_pop // 2)
        holders.append(Holder(f"h{i}", sorted(rng.sample(range(n_pop), size))))
    intermediaries = []
    for j in range(rng.choice((1, 2))):
        a, b = rng.sample([h.id for h in holders], 2)
        intermediaries.append((f"m{j}", (a, b), date(2021, rng.randrange(1, 13), 1)))
    source = rng.choice(holders)
    p = p if p is not None else rng.choice((0.05, 0.1, 0.2, 0.3, 0.5))
    n_leak = n_leak or rng.randrange(50, 151)
    own = rng.sample(source.members, min(len(source.members), round(n_leak * (1 - p))))
    other = rng.sample(range(n_pop, len(pop)), min(n_leak - len(own), len(pop) - n_pop))
    leak = [pop[i] for i in own + other]
    rng.shuffle(leak)
    return Scenario(seed, pop, holders, intermediaries, source.id, leak, p, canary_to=source.id if canary else None)


def write_csv(path: Path, rows: list[dict[str, str]], fields: tuple[str, ...] = FIELDS3, encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow([HEADERS.get(x, x) for x in fields])
        for r in rows:
            w.writerow([r.get(x, "") for x in fields])
    return path


def build(case: Any, sc: Scenario, work: Path) -> None:
    """flows.yaml, one CSV per holder and the leak, each ingested through the library."""
    from plitool.provenance.canary import issue_canaries
    from plitool.provenance.ingest import ingest

    (Path(case.root) / "flows.yaml").write_text(sc.flows_yaml(), "utf-8")
    work.mkdir(parents=True, exist_ok=True)
    for h in sc.holders:
        path = write_csv(work / f"{h.id}-{sc.seed}.csv", [sc.population[i] for i in h.members], h.fields)
        ingest(case, role="holdings", agent=h.id, target=str(path), day=h.as_of)
    leak = list(sc.leak)
    if sc.canary_to:
        markers = issue_canaries(case, sc.canary_to, "record", count=1, today=date(2021, 1, 1))
        leak.append(dict(markers[0].values))
    path = write_csv(work / f"leak-{sc.seed}.csv", leak)
    ingest(case, role="leak", agent="market", target=str(path), day=sc.first_seen)


# -- straight into the tables (property tests) ---------------------------------------------------


def _fp(kind: str, value: str) -> bytes:
    return hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=16).digest()


def load_direct(store: Any, holdings: dict[str, list[dict[str, str]]], leak: list[dict[str, str]], *,
                as_of: dict[str, date] | None = None, first_seen: date = date(2023, 1, 1), sighting: str = "market") -> None:
    """Abstract allocations as fingerprint rows (no vault, no files): each dict is one subject row."""
    import pyarrow as pa

    con = store.con

    def rows_table(rows: list[dict[str, str]]) -> Any:
        keys, fields, fps = [], [], []
        for key, r in enumerate(rows):
            for f, v in r.items():
                keys.append(key)
                fields.append(f)
                fps.append(_fp(f, v))
        return pa.table({"k": pa.array(keys, pa.int64()), "f": pa.array(fields, pa.string()),
                         "fp": pa.array(fps, pa.binary(16))})

    with store.transaction():
        names = sorted({f for rows in holdings.values() for r in rows for f in r} | {f for r in leak for f in r})
        masks = store.field_masks(names)
        for agent, rows in sorted(holdings.items()):
            ds = f"D-{agent}"
            day = (as_of or {}).get(agent, date(2020, 1, 1))
            used = sorted({f for r in rows for f in r})
            fm = 0
            for f in used:
                fm |= masks[f]
            tbl = rows_table(rows)
            con.register("tbl", tbl)
            con.execute("INSERT INTO holdings SELECT ?, ?, k, f, fp, ? FROM tbl", [agent, ds, day])
            con.unregister("tbl")
            con.execute("INSERT INTO datasets VALUES (?, 'holdings', ?, NULL, ?, ?, ?, ?, ?, 0, 0)",
                        [ds, agent, ds, day, len(rows), used, fm])
            con.execute("INSERT INTO holding_rows SELECT ?, ?, rowmask, count(*) FROM (SELECT h.subject_key, "
                        "bit_or(f.mask) AS rowmask FROM holdings h JOIN fields f USING (field) WHERE h.dataset = ? "
                        "GROUP BY h.subject_key) GROUP BY rowmask", [ds, agent, ds])
        used = sorted({f for r in leak for f in r})
        fm = 0
        for f in used:
            fm |= masks[f]
        tbl = rows_table(leak)
        con.register("tbl", tbl)
        con.execute("INSERT INTO leaks SELECT ?, 'L-1', k, f, fp, NULL, ? FROM tbl", [sighting, first_seen])
        con.unregister("tbl")
        con.execute("INSERT INTO datasets VALUES ('L-1', 'leak', ?, NULL, 'leak', ?, ?, ?, ?, 0, 0)",
                    [sighting, first_seen, len(leak), used, fm])


def scenario_direct(store: Any, sc: Scenario) -> Any:
    """Load a generated scenario straight into ``store``; returns its flows."""
    from plitool.provenance.flows import Agent, Edge, Flows

    holdings = {h.id: [{f: sc.population[i][f] for f in h.fields} for i in h.members] for h in sc.holders}
    load_direct(store, holdings, sc.leak, first_seen=sc.first_seen)
    agents = {h.id: Agent(h.id, h.id, "holder", None, 0) for h in sc.holders}
    edges = []
    for iid, fed, since in sc.intermediaries:
        agents[iid] = Agent(iid, iid, "intermediary", None, 0)
        for h in fed:
            edges.append(Edge(h, iid, "shared_with", frozenset(FIELDS3), since, None, 1.0, ("E-0001",), 0))
    agents["market"] = Agent("market", "market", "sighting", None, 0)
    return Flows(agents, tuple(edges), FIELDS3 + ("email", "bank_card", "address", "device_id", "location",
                                                  "order_id", "waybill"), None)


def direct_flows(holders: list[str], *, edges: tuple[Any, ...] = ()) -> Any:
    from plitool.provenance.flows import Agent, Flows

    agents = {h: Agent(h, h, "holder", None, 0) for h in holders}
    agents["market"] = Agent("market", "market", "sighting", None, 0)
    return Flows(agents, edges, FIELDS3, None)


# -- every attribution scenario, for feeding each engine (tests/test_provenance_spark.py) -----------


def people(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [subject(rng) for _ in range(n)]


def _canary(store: Any, subject_key: int, fields: str = "AND field = 'id_number'") -> None:
    store.con.execute("INSERT INTO canaries SELECT 'M-0001', 'x', 'record', field, 'v', fp, DATE '2020-01-01' "
                      f"FROM holdings WHERE agent = 'x' AND subject_key = {subject_key} {fields}")


def _identical(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(300)
    held = pop[:200]
    load_direct(store, {"a": held, "b": list(reversed(held)), "c": pop[100:]}, held[:80])
    return direct_flows(["a", "b", "c"]), [{}]


def _distinct(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(400)
    load_direct(store, {"a": pop[:150], "b": pop[100:400]}, pop[:60])
    return direct_flows(["a", "b"]), [{}, {"p": 0.3}]


def _late(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(300)
    load_direct(store, {"early": pop[:200], "late": pop[:60]}, pop[:60],
                as_of={"early": date(2020, 1, 1), "late": date(2023, 6, 1)}, first_seen=date(2023, 1, 1))
    return direct_flows(["early", "late"]), [{}, {"delta_days": 30}]


def _canary_to_x(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(300)
    canary = {"name": "钱伟", "id_number": "990101198001010011"}
    load_direct(store, {"x": pop[:200] + [canary], "y": pop[:200]}, pop[:50] + [canary])
    _canary(store, 200)
    return direct_flows(["x", "y"]), [{}]


def _canary_name(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(300)
    canary = {"name": pop[0]["name"], "id_number": "990101198001010011"}
    load_direct(store, {"x": pop[:200] + [canary], "y": pop[:200]}, pop[:50])
    _canary(store, 200, "")
    return direct_flows(["x", "y"]), [{}]


def _best_pair(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(300)
    a_rows = [{"name": s["name"], "phone": s["phone"]} for s in pop[:200]]
    b_rows = [{"phone": s["phone"], "id_number": s["id_number"]} for s in pop[50:250]]
    load_direct(store, {"a": a_rows, "b": b_rows, "c": pop[250:]}, pop[60:120])
    return direct_flows(["a", "b", "c"]), [{}]


def _scrambled(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(200)
    shuffled = [{"name": pop[i]["name"], "phone": pop[(i + 1) % 100]["phone"], "id_number": pop[(i + 2) % 100]["id_number"]}
                for i in range(100)]
    load_direct(store, {"true": pop[:100], "scrambled": shuffled}, pop[:60])
    return direct_flows(["true", "scrambled"]), [{}]


def _affected(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(100)
    leak = pop[:50] + pop[:10] + [{"phone": s["phone"]} for s in pop[10:15]] + [{"name": "甲乙"}, {"name": "甲乙"}]
    load_direct(store, {"a": pop}, leak)
    return direct_flows(["a"]), [{}]


def _two_sightings(store: Any) -> tuple[Any, list[dict[str, Any]]]:
    pop = people(120)
    load_direct(store, {"a": pop[:60], "b": pop[60:]}, pop[:30], sighting="market")
    store.con.execute("UPDATE datasets SET dataset = 'L-0' WHERE dataset = 'L-1'")
    store.con.execute("UPDATE leaks SET dataset = 'L-0' WHERE dataset = 'L-1'")
    load_direct(store, {}, pop[60:90], sighting="forum")
    return direct_flows(["a", "b"]), [{"sighting": "market"}, {"sighting": "forum", "population": 5000}]


def _generated(seed: int, **kw: Any) -> Any:
    def build_it(store: Any) -> tuple[Any, list[dict[str, Any]]]:
        sc = generate(seed, **kw)
        return scenario_direct(store, sc), [{"p": sc.p}]

    return build_it


#: The fixed scenarios of tests/test_provenance_attribution.py, by name: each loads an item store
#: and returns (flows, the keyword arguments of each attribution to run on it).
FIXED_SCENARIOS = {
    "identical-holders": _identical, "distinct-holders": _distinct, "late-holder": _late,
    "canary-to-x": _canary_to_x, "canary-name-is-no-marker": _canary_name, "best-pair": _best_pair,
    "scrambled-rows": _scrambled, "affected-individuals": _affected, "two-sightings": _two_sightings,
}


def engine_scenarios(seeds: Any = range(40)) -> dict[str, Any]:
    """Every scenario of the attribution tests: the fixed ones and :func:`generate`'s seeds."""
    out = dict(FIXED_SCENARIOS)
    for seed in seeds:
        out[f"generated-{seed}"] = _generated(seed)
    return out
