"""``case.toml``: the human-edited case facts."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CaseConfigError
from ..i18n import _
from .hashing import DEFAULT_ALGORITHMS, check_algorithms
from .times import CaseZone, machine_zone_name, valid_zone_name

LANGS = ("zh", "en")


@dataclass(frozen=True)
class CaseConfig:
    title: str
    lang: str = "zh"
    court: str = ""
    number: str = ""
    digests: tuple[str, ...] = DEFAULT_ALGORITHMS
    parties: tuple[dict[str, Any], ...] = ()
    #: [timestamps]: TSA addresses asked by ``plitool seal`` (each one, in order), the time-out
    #: for each, and whether the system / certifi roots count as trusted (opt-in).
    tsa: tuple[str, ...] = ()
    tsa_timeout: float = 10.0
    system_roots: bool = False
    #: [case] timezone: an IANA name; "" means the default (Asia/Shanghai for zh, else this machine's).
    timezone: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def zone(self) -> CaseZone:
        """The zone in which times stated without an offset are read."""
        return CaseZone.for_case(self.timezone, self.lang)


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON string syntax is a subset TOML accepts, minus DEL)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def default_timezone(lang: str) -> str:
    """What ``init`` writes into ``case.toml``: the zone named once, so the case keeps it on any machine."""
    return "Asia/Shanghai" if lang == "zh" else (machine_zone_name() or "")


def render_case_toml(
    title: str,
    lang: str,
    created: datetime,
    *,
    timezone: str | None = None,
    digests: tuple[str, ...] = DEFAULT_ALGORITHMS,
    tsa: tuple[str, ...] = (),
    template: str | None = None,
) -> str:
    if template is None:
        template = resources.files("plitool.templates").joinpath("case.toml").read_text("utf-8")
    zone = default_timezone(lang) if timezone is None else timezone
    return (
        template.replace("{title}", _toml_string(title))
        .replace("{lang}", _toml_string(lang))
        .replace("{timezone}", _toml_string(zone))
        .replace("{created}", _toml_string(created.strftime("%Y-%m-%dT%H:%M:%SZ")))
        .replace("{digests}", _toml_list(digests))
        .replace("{tsa}", _toml_list(tsa))
    )


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def _line_of(text: str, table: str, key: str) -> int | None:
    """The line where ``key`` is set in ``[table]`` (for messages; None when not found)."""
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.strip("[] ")
        elif current == table and stripped.split("=", 1)[0].strip() == key and "=" in stripped:
            return number
    return None


def load_config(path: Path) -> CaseConfig:
    """Parse and validate ``case.toml``; every problem names the file and the line or key.

    The one loader: :meth:`plitool.vault.case.Case.open` calls it, so every command that opens
    a case refuses a broken ``case.toml`` the same way.
    """
    try:
        text = path.read_text("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise CaseConfigError(
            _("{path}: not UTF-8 text ({reason} at byte {start})").format(path=path, reason=exc.reason, start=exc.start)
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names the line and column: "Expected '=' ... (at line 3, column 7)".
        raise CaseConfigError(
            _("{path} is not valid TOML: {problem}; text values go in double quotes").format(path=path, problem=exc)
        ) from exc
    except OSError as exc:
        raise CaseConfigError(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc

    def bad(table: str, key: str, problem: str) -> CaseConfigError:
        line = _line_of(text, table, key)
        where = _("{path}, line {line}").format(path=path, line=line) if line else str(path)
        return CaseConfigError(_("{where}: [{table}] {key} {problem}").format(where=where, table=table, key=key, problem=problem))

    case = data.get("case")
    if not isinstance(case, dict):
        raise CaseConfigError(_("{path}: missing the [case] table").format(path=path))
    title = case.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad("case", "title", _("must be a non-empty text"))
    lang = case.get("lang", "zh")
    if lang not in LANGS:
        raise bad("case", "lang", _("must be one of {choices}, not {value!r}").format(choices=", ".join(LANGS), value=lang))
    for key in ("court", "number"):
        if not isinstance(case.get(key, ""), str):
            raise bad("case", key, _("must be text"))
    timezone = case.get("timezone", "")
    if not isinstance(timezone, str) or (timezone.strip() and not valid_zone_name(timezone.strip())):
        raise bad("case", "timezone", _("must be an IANA time zone name such as \"Asia/Shanghai\" "
                                        "(or \"\" for the default), not {value!r}").format(value=timezone))
    evidence = data.get("evidence", {})
    if not isinstance(evidence, dict):
        raise CaseConfigError(_("{path}: [evidence] must be a table").format(path=path))
    digests = evidence.get("digests", list(DEFAULT_ALGORITHMS))
    if not isinstance(digests, list) or not digests or not all(isinstance(d, str) for d in digests):
        raise bad("evidence", "digests", _("must be a non-empty list of names"))
    parties = data.get("parties", [])
    if not isinstance(parties, list) or not all(isinstance(p, dict) for p in parties):
        raise CaseConfigError(_("{path}: [[parties]] must be tables").format(path=path))
    tsa, tsa_timeout, system_roots = _timestamps_section(path, data.get("timestamps", {}))
    return CaseConfig(
        title=title,
        lang=lang,
        court=case.get("court", ""),
        number=case.get("number", ""),
        digests=check_algorithms(digests),
        parties=tuple(parties),
        tsa=tsa,
        tsa_timeout=tsa_timeout,
        system_roots=system_roots,
        timezone=timezone.strip(),
        raw=data,
    )


def _timestamps_section(path: Path, section: Any) -> tuple[tuple[str, ...], float, bool]:
    if not isinstance(section, dict):
        raise CaseConfigError(_("{path}: [timestamps] must be a table").format(path=path))
    tsa = section.get("tsa", [])
    if isinstance(tsa, str):
        tsa = [tsa]
    if not isinstance(tsa, list) or not all(isinstance(u, str) for u in tsa):
        raise CaseConfigError(_("{path}: [timestamps] tsa must be a list of URLs").format(path=path))
    for url in tsa:
        if not url.startswith(("http://", "https://")):
            raise CaseConfigError(_("{path}: [timestamps] tsa: {url!r} is not an http:// or https:// URL").format(
                path=path, url=url))
    timeout = section.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise CaseConfigError(_("{path}: [timestamps] timeout must be a number of seconds between 0 and 600").format(
            path=path))
    system_roots = section.get("system_roots", False)
    if not isinstance(system_roots, bool):
        raise CaseConfigError(_("{path}: [timestamps] system_roots must be true or false").format(path=path))
    return tuple(dict.fromkeys(u.strip() for u in tsa)), float(timeout), system_roots
