"""Marker identities (canaries): issued to one agent, recognised by exact value in a leak.

Kinds: ``email`` (an alias on a domain the user controls), ``phone`` (numbers from a pool the
user controls), ``record`` (a fake person whose resident ID number carries a valid GB 11643 check
digit and a valid birth date but the region code ``99xxxx``, which no division uses, so it
passes a seller's validity filter yet can never be a real person's). Markers are not anyone's
personal data: they are kept and shown in full. The issuance is recorded in the ledger (the
evidence that only that agent received them) and the markers become holdings of the agent from
the issue date, so they propagate downstream like any held data.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputNotFound, UnreadableInput, UsageError
from ..i18n import _, ngettext

if TYPE_CHECKING:
    from ..vault.case import Case

KINDS = ("email", "phone", "record")
MAX_COUNT = 10000
#: Fake names for record markers (common given names; the marker is the ID number).
_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")


@dataclass(frozen=True)
class Marker:
    marker: str  # M-0001
    agent: str
    kind: str
    issued: date
    values: tuple[tuple[str, str], ...]  # (field, normalised value)

    def as_json(self) -> dict[str, Any]:
        return {"marker": self.marker, "agent": self.agent, "kind": self.kind, "issued": self.issued.isoformat(),
                "values": {f: v for f, v in self.values}}


def fake_id_number(rng: secrets.SystemRandom, born: date | None = None) -> str:
    """An 18-digit resident ID with region 99xxxx (unassigned), a real birth date and a valid check digit."""
    from stdnum.cn import ric

    if born is None:
        born = date(1960 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28))
    body = f"99{rng.randrange(10000):04d}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def _pool(path: str) -> list[str]:
    from ..pii.normalize import normalize_phone

    p = Path(path)
    if not p.is_file():
        raise InputNotFound(_("no such file: {path}").format(path=path))
    try:
        lines = p.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableInput(_("cannot read {path}: {reason}").format(path=path, reason=exc)) from exc
    out = []
    for n, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        phone = normalize_phone(text)
        if phone is None:
            raise UsageError(_("{path}, line {line}: not a mainland mobile number").format(path=path, line=n))
        out.append(phone)
    return list(dict.fromkeys(out))


def issue_canaries(case: Case, agent: str, kind: str, *, count: int = 1, domain: str | None = None,
                   pool: str | None = None, today: date | None = None, flows: Any = None) -> list[Marker]:
    """Issue ``count`` markers of ``kind`` to ``agent``: ledger first, then the item tables."""
    from ..vault.ledger import NewEvent
    from .ingest import check_agent, load_case_flows
    from .items import item_store

    if kind not in KINDS:
        raise UsageError(_("--kind must be one of {kinds}").format(kinds=", ".join(KINDS)))
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(_("--count must be between 1 and {n}").format(n=MAX_COUNT))
    if kind == "email":
        if not domain or pool:
            raise UsageError(_("e-mail markers need --domain D (a domain whose mail you receive)"))
        domain = domain.strip().lower()
        if not _DOMAIN.match(domain):
            raise UsageError(_("{domain} is not a domain name").format(domain=domain))
    elif kind == "phone":
        if not pool or domain:
            raise UsageError(_("phone markers need --pool FILE (numbers you control, one a line)"))
    elif domain or pool:
        raise UsageError(_("record markers take neither --domain nor --pool"))
    flows = flows if flows is not None else load_case_flows(case)
    check_agent(flows, agent, what=_("a canary"))
    issued = today or datetime.now(timezone.utc).date()
    rng = secrets.SystemRandom()
    with item_store(case) as store:
        used = {v for (v,) in store.con.execute("SELECT value FROM canaries").fetchall()}
        (n_before,) = store.con.execute("SELECT count(DISTINCT marker) FROM canaries").fetchone() or (0,)
        values: list[tuple[tuple[str, str], ...]] = []
        if kind == "phone":
            assert pool is not None
            free = [p for p in _pool(pool) if p not in used]
            if len(free) < count:
                raise UsageError(ngettext("the pool has {free} unused number; {count} asked",
                                          "the pool has {free} unused numbers; {count} asked", len(free))
                                 .format(free=len(free), count=count))
            values = [(("phone", p),) for p in free[:count]]
        elif kind == "email":
            while len(values) < count:
                alias = f"{agent}-{secrets.token_hex(4)}@{domain}"
                if alias not in used:
                    used.add(alias)
                    values.append((("email", alias),))
        else:
            while len(values) < count:
                ident = fake_id_number(rng)
                if ident not in used:
                    used.add(ident)
                    name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
                    values.append((("name", name), ("id_number", ident)))
        markers = [Marker(f"M-{n_before + i + 1:04d}", agent, kind, issued, v) for i, v in enumerate(values)]
        with case.locked():
            case.ledger.append([NewEvent("note", None, {
                "action": "canary issue", "agent": agent, "kind": kind, "issued": issued.isoformat(),
                "markers": [m.as_json() for m in markers]})])
        _store_markers(case, store, markers)
    return markers


def _store_markers(case: Case, store: Any, markers: Sequence[Marker]) -> None:
    from ..pii.fingerprint import Fingerprinter
    from .ingest import MASK_SHAPES, _held_mask
    from .items import FP_BYTES

    fpr = Fingerprinter.for_case(case.paths.fingerprint_key)
    dataset = f"canary:{markers[0].marker}"
    agent = markers[0].agent
    fields = sorted({f for m in markers for f, _v in m.values})
    with store.transaction():
        masks = store.field_masks(fields)
        fieldmask = 0
        for f in fields:
            fieldmask |= masks[f]
        for key, m in enumerate(markers):
            for f, v in m.values:
                fp = fpr.digests(f, [v], size=FP_BYTES)
                store.con.execute("INSERT INTO canaries VALUES (?, ?, ?, ?, ?, ?, ?)", [m.marker, agent, m.kind, f, v, fp, m.issued])
                store.con.execute("INSERT INTO holdings VALUES (?, ?, ?, ?, ?, ?)", [agent, dataset, key, f, fp, m.issued])
                shape = _held_mask(f, v) if f in MASK_SHAPES else None
                if shape:
                    store.con.execute("INSERT INTO holding_masks VALUES (?, ?, ?, ?, ?)",
                                      [agent, dataset, key, f, fpr.digests(f, [shape], partial=True, size=FP_BYTES)])
        store.con.execute("INSERT INTO datasets VALUES (?, 'canary', ?, NULL, ?, ?, ?, ?, ?, 0, 0)",
                          [dataset, agent, markers[0].kind, markers[0].issued, len(markers), fields, fieldmask])
        store.con.execute(
            "INSERT INTO holding_rows SELECT ?, ?, rowmask, count(*) FROM ("
            " SELECT h.subject_key, bit_or(f.mask) AS rowmask FROM holdings h JOIN fields f USING (field)"
            " WHERE h.dataset = ? AND h.agent = ? GROUP BY h.subject_key) GROUP BY rowmask",
            [dataset, agent, dataset, agent])


def list_canaries(case: Case) -> list[Marker]:
    from .items import item_store, store_path

    if not store_path(case).exists():
        return []
    with item_store(case, read_only=True) as store:
        rows = store.con.execute(
            "SELECT marker, agent, kind, issued, field, value FROM canaries ORDER BY marker, field").fetchall()
    out: dict[str, Marker] = {}
    for marker, agent, kind, issued, f, v in rows:
        prev = out.get(marker)
        out[marker] = Marker(marker, agent, kind, issued, (prev.values if prev else ()) + ((f, v),))
    return list(out.values())
