"""Shared CLI pieces: opening the case, JSON output, consoles and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from ..vault.case import Case

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def open_case(ctx: click.Context) -> Case:
    from ..vault.case import Case

    return Case.open(explicit=(ctx.obj or {}).get("case_dir"))


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def out() -> Console:
    """Console for data (stdout)."""
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console.width = 160  # piped into a file: do not squeeze tables to 80 columns
    return console


def err() -> Console:
    """Console for messages, warnings and progress (stderr)."""
    from rich.console import Console

    return Console(stderr=True)


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}"  # pragma: no cover


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
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = err()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    with progress:
        yield (lambda n: progress.advance(task, n)), (lambda t: progress.update(task, total=t))

