"""Times people state: the case's time zone, and collection times that cannot be true.

A time written without an offset (``--collected-at 2026-10-01T14:30``) means nothing on its own;
it is read in the case's time zone (``case.toml`` ``timezone``; by default ``Asia/Shanghai`` for a
``zh`` case, else this machine's zone) and the caller is told so. A collection time later than
the intake is impossible and refused, allowing for a small difference between clocks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import UsageError
from ..i18n import _

#: How far a stated collection time may lie ahead of this machine's clock (the collecting
#: device's clock and this one's may differ a little); beyond it the time is refused.
CLOCK_TOLERANCE = timedelta(minutes=5)
#: The zone of a ``zh`` case whose ``case.toml`` names none.
ZH_DEFAULT_ZONE = "Asia/Shanghai"


def valid_zone_name(name: str) -> bool:
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def machine_zone_name() -> str | None:
    """This machine's IANA zone name ($TZ, /etc/localtime, /etc/timezone), when it has one."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text("utf-8").strip())
    except OSError:
        pass
    return next((c for c in candidates if valid_zone_name(c)), None)


@dataclass(frozen=True)
class CaseZone:
    """The zone a case's times without an offset are read in; ``name`` is shown to people."""

    tz: tzinfo
    name: str

    @classmethod
    def for_case(cls, timezone: str, lang: str) -> CaseZone:
        name = timezone or (ZH_DEFAULT_ZONE if lang == "zh" else machine_zone_name())
        if name:
            return cls(ZoneInfo(name), name)
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return cls(local, _("this machine's local time"))


def offset_text(moment: datetime) -> str:
    """``+08:00`` for an aware moment."""
    off = moment.strftime("%z")
    return f"{off[:3]}:{off[3:]}" if off else "+00:00"


def read_in_zone(moment: datetime, zone: CaseZone) -> datetime:
    """An aware moment: one stated with an offset keeps it; one without is read in ``zone``."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone.tz)


def check_collection_time(stated: datetime, now: datetime) -> None:
    """Refuse a collection time later than now (beyond :data:`CLOCK_TOLERANCE`)."""
    if stated - now > CLOCK_TOLERANCE:
        raise UsageError(
            _(
                "--collected-at {stated} is in the future (this machine's clock says {now}): "
                "evidence cannot be collected after it is taken in; check the date, the time "
                "and its offset (tolerance {minutes} minutes)"
            ).format(
                stated=stated.isoformat(timespec="minutes"),
                now=now.astimezone(stated.tzinfo).isoformat(timespec="minutes"),
                minutes=int(CLOCK_TOLERANCE.total_seconds() // 60),
            )
        )
