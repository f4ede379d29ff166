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
from .hashing import DEFAULT_ALGORITHMS, check_algorithms

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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON string syntax is a subset TOML accepts, minus DEL)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_case_toml(title: str, lang: str, created: datetime) -> str:
    template = resources.files("plitool.templates").joinpath("case.toml").read_text("utf-8")
    return (
        template.replace("{title}", _toml_string(title))
        .replace("{lang}", _toml_string(lang))
        .replace("{created}", _toml_string(created.strftime("%Y-%m-%dT%H:%M:%SZ")))
    )


def load_config(path: Path) -> CaseConfig:
    """Parse and validate ``case.toml``; every problem names the file and the line or key."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise CaseConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names the line and column: "Expected '=' ... (at line 3, column 7)".
        raise CaseConfigError(f"{path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise CaseConfigError(f"cannot read {path}: {exc.strerror}") from exc

    case = data.get("case")
    if not isinstance(case, dict):
        raise CaseConfigError(f"{path}: missing the [case] table")
    title = case.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CaseConfigError(f"{path}: [case] title must be a non-empty text")
    lang = case.get("lang", "zh")
    if lang not in LANGS:
        raise CaseConfigError(f"{path}: [case] lang must be one of {', '.join(LANGS)}, not {lang!r}")
    for key in ("court", "number"):
        if not isinstance(case.get(key, ""), str):
            raise CaseConfigError(f"{path}: [case] {key} must be text")
    evidence = data.get("evidence", {})
    if not isinstance(evidence, dict):
        raise CaseConfigError(f"{path}: [evidence] must be a table")
    digests = evidence.get("digests", list(DEFAULT_ALGORITHMS))
    if not isinstance(digests, list) or not digests or not all(isinstance(d, str) for d in digests):
        raise CaseConfigError(f"{path}: [evidence] digests must be a non-empty list of names")
    parties = data.get("parties", [])
    if not isinstance(parties, list) or not all(isinstance(p, dict) for p in parties):
        raise CaseConfigError(f"{path}: [[parties]] must be tables")
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
        raw=data,
    )


def _timestamps_section(path: Path, section: Any) -> tuple[tuple[str, ...], float, bool]:
    if not isinstance(section, dict):
        raise CaseConfigError(f"{path}: [timestamps] must be a table")
    tsa = section.get("tsa", [])
    if isinstance(tsa, str):
        tsa = [tsa]
    if not isinstance(tsa, list) or not all(isinstance(u, str) for u in tsa):
        raise CaseConfigError(f"{path}: [timestamps] tsa must be a list of URLs")
    for url in tsa:
        if not url.startswith(("http://", "https://")):
            raise CaseConfigError(f"{path}: [timestamps] tsa: {url!r} is not an http:// or https:// URL")
    timeout = section.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise CaseConfigError(f"{path}: [timestamps] timeout must be a number of seconds between 0 and 600")
    system_roots = section.get("system_roots", False)
    if not isinstance(system_roots, bool):
        raise CaseConfigError(f"{path}: [timestamps] system_roots must be true or false")
    return tuple(dict.fromkeys(u.strip() for u in tsa)), float(timeout), system_roots
