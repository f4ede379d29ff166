"""Shared CLI pieces: opening the case, JSON output, consoles and progress bars."""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from time import monotonic
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ..vault.case import Case

#: Characters that move the cursor, recolour or clear the terminal, or reorder what follows
#: (bidi controls): C0/C1 controls and DEL (Cc), format characters such as U+202E (Cf), line
#: and paragraph separators, and lone surrogates. Named escapes for the common controls.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe_text(value: object) -> str:
    """``value`` as text that cannot spoof the terminal: every control, bidi or format character
    becomes a visible escape (``\\n``, ``\\x1b``, ``\\u202e``).

    Applied to everything shown on a terminal that came from outside plitool (file names, paths,
    notes, sources, library messages quoting them). The ledger and ``--json`` keep the exact text.
    """
    text = str(value)
    if text.isprintable() and text.isascii():  # the common case, fast
        return text
    return "".join(_escape_char(ch) if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in text)


def plain(*parts: str | tuple[str, str]) -> Text:
    """One line for a rich console: ``str`` parts are outside text (escaped, never read as markup
    or emoji codes); ``(text, style)`` parts are plitool's own words, styled."""
    from rich.text import Text

    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(part[0], style=part[1])
        else:
            line.append(safe_text(part))
    return line


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def open_case(ctx: click.Context) -> Case:
    """The case named by ``--case`` (before or after the sub-command), ``$PLITOOL_CASE`` or found above."""
    from ..vault.case import Case

    return Case.open(explicit=ctx.meta.get(CASE_META) or (ctx.obj or {}).get("case_dir"))


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


_encode_str = json.encoder.encode_basestring  # the C version when available; ensure_ascii=False


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return _encode_str(key)
    if key is True or key is False or key is None:
        return '"' + {True: "true", False: "false", None: "null"}[key] + '"'
    if isinstance(key, int):
        return '"' + int.__repr__(key) + '"'
    if isinstance(key, float):
        return '"' + _float_text(key) + '"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def pretty_json(value: Any, indent: str = "") -> str:
    """Exactly ``json.dumps(value, ensure_ascii=False, indent=2)`` (without cycle checks), with
    strings escaped by the C encoder: the pure-Python indenting encoder was most of the time of
    ``list --json`` on a large case."""
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(value)
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        body = (",\n" + inner).join(_key_text(k) + ": " + pretty_json(v, inner) for k, v in value.items())
        return "{\n" + inner + body + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + inner + (",\n" + inner).join(pretty_json(v, inner) for v in value) + "\n" + indent + "]"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def emit_json_array(elements: Iterable[Any]) -> None:
    """The same text as ``emit_json(list(elements))``, written element by element: a list of a
    million records is never held in memory, whole or as one string."""
    parts: list[str] = []
    size = 0
    first = True
    for element in elements:
        text = ("[\n  " if first else ",\n  ") + pretty_json(element, "  ")
        first = False
        parts.append(text)
        size += len(text)
        if size > 1 << 16:
            click.echo("".join(parts), nl=False)
            parts, size = [], 0
    parts.append("[]\n" if first else "\n]\n")
    click.echo("".join(parts), nl=False)


def out() -> Console:
    """Console for data (stdout)."""
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = 160  # piped into a file: do not squeeze tables to 80 columns
    return console


def err() -> Console:
    """Console for messages, warnings and progress (stderr).

    Soft wrap: a message is never broken into lines by plitool (a terminal folds long lines by
    itself, a pipe or a log file gets each message on one line), so a command in a message can
    always be copied whole.
    """
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def case_zone(case: Case) -> tzinfo:
    """The zone times are shown in: the case's (``case.toml`` ``timezone``; else Asia/Shanghai for
    a ``zh`` case; else this machine's), the same one ``--collected-at`` is read in."""
    return case.config.zone.tz


def when(value: object, zone: tzinfo) -> str:
    """A recorded ISO 8601 time in ``zone``, with its offset: ``2026-11-01 18:00:00+08:00``."""
    if value is None or value == "":
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return safe_text(value)
    if moment.tzinfo is None:
        return safe_text(value)
    return moment.astimezone(zone).isoformat(sep=" ", timespec="seconds")


def words(value: object) -> str:
    """A recorded value as a person reads it: lists joined, yes/no, no Python syntax."""
    from ..i18n import _

    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{safe_text(k)}: {words(v)}" for k, v in value.items())
    return safe_text(value)


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}"  # pragma: no cover


#: Seconds between two moves of a progress bar (see byte_progress).
PROGRESS_STEP = 0.05


def throttled(advance: Callable[[int], None], step: float = PROGRESS_STEP,
              clock: Callable[[], float] = monotonic) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``advance`` called at most once per ``step`` seconds, with the counts added up meanwhile;
    and a ``flush`` that passes on what is left. A progress callback runs per chunk and per
    file: an intake of 10^4 small files would spend more time in rich's bookkeeping than in
    hashing, while the bar redraws ten times a second anyway."""
    pending = 0  # counted, not passed on yet
    last = -step  # when advance was last called

    def add(n: int) -> None:
        nonlocal pending, last
        pending += n
        now = clock()
        if now - last >= step:
            advance(pending)
            pending, last = 0, now

    def flush() -> None:
        nonlocal pending
        if pending:
            advance(pending)
            pending = 0

    return add, flush


@contextmanager
def byte_progress(description: str, total: int | None = None) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A rich progress bar on stderr, shown only on a terminal.

    Yields (advance, set_total) callbacks for the library.
    """
    if not sys.stderr.isatty():  # no bar to draw: do not even import rich
        yield (lambda n: None), (lambda t: None)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )

    from rich.text import Text

    class BinarySpeedColumn(ProgressColumn):
        """Speed in the units plitool uses everywhere (MiB/s), not rich's decimal MB/s."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else human_size(int(speed)) + "/s", style="progress.data.speed")

    console = err()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        BinarySpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    advance, flush = throttled(lambda n: progress.advance(task, n))
    with progress:
        yield advance, (lambda t: progress.update(task, total=t))
        flush()



# -- options every sub-command shares: --case and --lang, before or after its name ---------------

ENV_CASE = "PLITOOL_CASE"
#: Where ``--case`` leaves its value (``ctx.meta`` is shared by the group and its sub-commands).
CASE_META = "plitool.case_dir"
CASE_HELP = "The case folder (env PLITOOL_CASE; default: the nearest folder above holding case.toml)."
LANG_HELP = "Language of messages, zh or en (env PLITOOL_LANG; default: the case's lang)."


def _remember_case(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:  # given after the sub-command: wins over the one before it and the env
        ctx.meta[CASE_META] = value


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from ..i18n import set_language

    if value:
        set_language(value.lower(), pin=True)


def _choose_language_or_env(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Before the sub-command: ``--lang``, else ``$PLITOOL_LANG`` (read leniently, like plitool.i18n).

    Every invocation starts from English, unpinned: a case opened by an earlier invocation in the
    same process (a test, a program driving the CLI) does not decide this one's language.
    """
    from ..i18n import language_from_env, reset, set_language

    reset()
    chosen = value.lower() if value else language_from_env()
    if chosen:
        set_language(chosen, pin=True)


def _case_kwargs(envvar: str | None) -> dict[str, Any]:
    return {"envvar": envvar, "type": click.Path(file_okay=False, path_type=str), "metavar": "DIR",
            "expose_value": False, "is_eager": True, "callback": _remember_case, "help": CASE_HELP}


def _lang_kwargs(from_env: bool) -> dict[str, Any]:
    return {"type": click.Choice(["zh", "en"], case_sensitive=False), "expose_value": False, "is_eager": True,
            "callback": _choose_language_or_env if from_env else _choose_language, "help": LANG_HELP}


def case_option(envvar: str | None = None) -> Callable[[Any], Any]:
    """``--case DIR`` for a command that opens a case."""
    return click.option("--case", "case_dir", **_case_kwargs(envvar))


def lang_option(from_env: bool = False) -> Callable[[Any], Any]:
    """``--lang zh|en``: the language of messages, pinned over the case's."""
    return click.option("--lang", "message_lang", **_lang_kwargs(from_env))


def add_shared_options(cmd: click.Command, *, opens_case: bool) -> None:
    """Give a sub-command (each command of a sub-group) ``--case`` and ``--lang`` once.

    Done where the group loads its commands, so that no command can forget them; they show in
    each command's ``--help``. A command with its own ``--lang`` (``init``: the case's language)
    keeps it.
    """
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_shared_options(sub, opens_case=opens_case)
        return
    taken = {opt for p in cmd.params for opt in getattr(p, "opts", ())}
    if opens_case and "--case" not in taken:
        cmd.params.append(click.Option(["--case", "case_dir"], **_case_kwargs(None)))
    if "--lang" not in taken:
        cmd.params.append(click.Option(["--lang", "message_lang"], **_lang_kwargs(False)))
