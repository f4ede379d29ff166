"""``graph from-har``: ``shared_with`` edges derived from a traffic capture of the app.

The capture is evidence (a path not yet in the vault is added first, as ``scan`` does) and the
stored copy is what is read. The personal-data scanner, given the test device's known values,
finds which requests carry which of them (plain, url-encoded, base64 or hashed); each request's
host is the recipient. Hosts of the app itself (its ``hosts:`` in ``flows.yaml``, or
``--first-party``) are left out. A host that an agent in ``flows.yaml`` declares among its
``hosts:`` is that agent; any other host becomes a new ``intermediary`` agent named after it.

Edges go into the derived layer ``.plitool/provenance/derived.json``, never into the user's
``flows.yaml``; running the command again on the same capture and app replaces its edges.
Only field names and host names are kept: no value found in the capture is stored or shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import CorruptDocument, FlowsError, UnreadableInput, UsageError
from ..i18n import _
from ..pii.detect import KnownValues
from ..pii.scan import ScanOptions, resolve_targets, scan_file, stored_path
from .flows import Flows, derived_path, load_flows, read_derived_layer, today_utc, write_derived_layer

#: Scanner kinds → flow fields (an IMEI is a device identifier; a USCC names a company, not a person).
KIND_TO_FIELD = {"imei": "device_id", "uscc": None}
_ENTRY = re.compile(r"^entry (\d+) request[.]")
SLUG_PREFIX = "graph-"


@dataclass(frozen=True)
class HostShare:
    host: str
    agent: str
    fields: frozenset[str]
    since: date | None
    entries: tuple[int, ...]  # HAR entry numbers (1-based) that carried the data
    new_agent: bool


@dataclass(frozen=True)
class FromHarResult:
    item: str
    app: str
    shares: tuple[HostShare, ...]
    first_party: tuple[str, ...]  # hosts left out as the app's own
    added: tuple[str, ...]  # evidence items added to the vault by this command


def host_slug(host: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return (SLUG_PREFIX + slug)[:64].rstrip("-")


def _matches(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _entries(path: Any, label: str) -> list[dict[str, Any]]:
    """The capture's entries; a file that is not a HAR is the wrong input (exit 2), named."""
    try:
        with open(path, "rb") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise UnreadableInput(_("cannot read {item}: {reason}").format(item=label, reason=exc.strerror)) from exc
    except (ValueError, RecursionError) as exc:
        raise UsageError(_("{item} is not a HAR capture (not JSON: {reason})").format(item=label, reason=exc)) from exc
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise UsageError(_("{item} is not a HAR capture (no log.entries list)").format(item=label))
    return [e if isinstance(e, dict) else {} for e in entries]


def _entry_host(entry: dict[str, Any]) -> str | None:
    request = entry.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    if not isinstance(url, str):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def _entry_day(entry: dict[str, Any]) -> date | None:
    started = entry.get("startedDateTime")
    if not isinstance(started, str):
        return None
    try:
        day = datetime.fromisoformat(started.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return day if day <= today_utc() else None


def shares_in_har(case: Any, target: str, app: str, known: KnownValues, *,
                  first_party: Sequence[str] = ()) -> tuple[FromHarResult, Flows]:
    """Which third-party hosts received which fields of the known values (nothing is written)."""
    if len(known) == 0:
        raise UsageError(_("--known-values names no value: list the test device's phone, device id ..."))
    flows = load_flows(case)
    if app not in flows.agents:
        raise FlowsError(_("unknown agent {id!r}: --app names an agent of flows.yaml").format(id=app))
    if flows.agents[app].kind in ("subjects", "sighting"):
        raise UsageError(_("--app {id!r} is a {kind}, not an organisation that runs an app").format(
            id=app, kind=flows.agents[app].kind))
    items, added = resolve_targets(case, [target])
    (item,) = items
    path = stored_path(case, item)
    entries = _entries(path, f"{item.id} ({item.name})")
    scan = scan_file(path, item.name, ScanOptions(limit=None, known_values=known), item=item.id)
    if scan.status == "failed":
        raise CorruptDocument(scan.error or _("the capture could not be read"))
    wanted = {(kv.kind, kv.value) for kv in known.values}
    per_entry: dict[int, set[str]] = {}
    for f in scan.findings:
        m = _ENTRY.match(f.location)
        if m is None or f.partial:
            continue  # responses travel to the app, not from it; a masked value is not the value
        if not (f.via.startswith("known:") or (f.kind, f.value) in wanted):
            continue
        fld = KIND_TO_FIELD.get(f.kind, f.kind)
        if fld is None or fld not in flows.fields:
            continue
        per_entry.setdefault(int(m.group(1)), set()).add(fld)
    own = tuple(sorted({*flows.agents[app].hosts, *(h.lower().rstrip(".") for h in first_party)}))
    by_host: dict[str, tuple[set[str], list[int], list[date]]] = {}
    skipped: set[str] = set()
    for number in sorted(per_entry):
        host = _entry_host(entries[number - 1]) if number <= len(entries) else None
        if host is None:
            continue
        if _matches(host, own):
            skipped.add(host)
            continue
        fields, numbers, days = by_host.setdefault(host, (set(), [], []))
        fields |= per_entry[number]
        numbers.append(number)
        day = _entry_day(entries[number - 1])
        if day is not None:
            days.append(day)
    shares: list[HostShare] = []
    for host in sorted(by_host):
        fields, numbers, days = by_host[host]
        owner = sorted(a.id for a in flows.agents.values() if a.id != app and _matches(host, a.hosts))
        agent = owner[0] if owner else host_slug(host)
        shares.append(HostShare(host=host, agent=agent, fields=frozenset(fields), since=min(days) if days else None,
                                entries=tuple(numbers), new_agent=not owner and agent not in flows.agents))
    result = FromHarResult(item=item.id, app=app, shares=tuple(shares), first_party=tuple(sorted(skipped)),
                           added=tuple(added))
    return result, flows


def add_edges_from_har(case: Any, target: str, app: str, known: KnownValues, *,
                       first_party: Sequence[str] = ()) -> FromHarResult:
    """Find the shares (:func:`shares_in_har`) and record them in the derived layer, atomically."""
    result, _flows = shares_in_har(case, target, app, known, first_party=first_party)
    path = derived_path(case)
    with case.locked():
        layer = read_derived_layer(path)
        layer.edges = [e for e in layer.edges if not (e.get("from") == app and e.get("evidence") == [result.item]
                                                      and e.get("source") == "har")]
        known_agents = {a["id"] for a in layer.agents}
        for s in result.shares:
            if s.new_agent and s.agent not in known_agents:
                layer.agents.append({"id": s.agent, "name": s.host, "kind": "intermediary", "hosts": [s.host]})
                known_agents.add(s.agent)
            layer.edges.append({
                "from": app, "to": s.agent, "kind": "shared_with", "fields": sorted(s.fields),
                "since": s.since.isoformat() if s.since else None, "until": None, "confidence": 1.0,
                "evidence": [result.item], "source": "har", "host": s.host, "entries": list(s.entries),
            })
        used = {e["to"] for e in layer.edges} | {e["from"] for e in layer.edges}
        layer.agents = [a for a in layer.agents if a["id"] in used]
        write_derived_layer(path, layer)
    return result
