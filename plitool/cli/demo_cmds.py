"""``demo``: a thin wrapper over :func:`plitool.demo.run_demo` (the QuickRide sample, end to end)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..i18n import _
from .common import emit_json, err, json_option, plain, safe_text


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("quickride-demo"), show_default=True,
              help="The folder to run the demo in (created; refused when it exists, unless --force).")
@click.option("--force", is_flag=True, help="Replace an earlier demo's folder (never any other folder).")
@json_option
def demo_cmd(out_dir: Path, force: bool, as_json: bool) -> None:
    """Run the fictional QuickRide case end to end on a fresh copy of the sample.

    init, add with custody metadata, seal (a throw-away local TSA, labelled DEMO TSA — not
    trusted), scan and OCR, the provenance graph, holdings, the seized list and canaries,
    attribute, the graph picture, the five drafts, verify, the exhibit bundle and verify-bundle.
    Progress on stderr, then a table of what was produced and where; --json prints the same on
    stdout. Exit 0 when every stage worked and the attribution found the sample's true source; 1
    when it did not; a failing stage passes on its command's exit code. The commands and their
    output are in DIR/demo.log.
    """
    from rich.table import Table

    from ..demo import DemoResult, Stage, StageResult, run_demo

    console = err()
    status: Any = None

    def progress(event: str, stage: Stage, payload: Any) -> None:
        nonlocal status
        if event == "start":
            number, total = payload
            line = _("[{n}/{total}] {title} …").format(n=number, total=total, title=stage.title)
            if console.is_terminal:
                status = console.status(plain(line))
                status.start()
            else:
                console.print(plain(line))
            return
        if status is not None:
            status.stop()
            status = None
        result: StageResult = payload
        console.print(plain(("✓", "green"), " ", _("{title} ({seconds:.1f} s)").format(title=stage.title,
                                                                                       seconds=result.seconds)))
        for note in result.notes:
            console.print(plain((_("note"), "yellow"), _(": "), note))

    try:
        demo: DemoResult = run_demo(out_dir, force=force, progress=progress)
    finally:
        if status is not None:
            status.stop()
    if as_json:
        emit_json(demo.as_json())
    table = Table(title=_("QuickRide demo: {seconds:.0f} s, in {path}").format(seconds=demo.seconds,
                                                                                  path=safe_text(str(demo.out))))
    table.add_column(_("stage"))
    table.add_column(_("seconds"), justify="right")
    table.add_column(_("produced"))
    table.add_column(_("where"))
    for s in demo.stages:
        names = ", ".join(safe_text(p.name) for p in s.produced) or "-"
        folders = sorted({_relative(p.parent, demo.out) for p in s.produced})
        table.add_row(s.key, f"{s.seconds:.1f}", names, ", ".join(folders) or "-")
    console.print(table)
    console.print(plain(_("the commands and their output: {path}").format(path=demo.out / "demo.log")), soft_wrap=True)
    if demo.matches_truth:
        console.print(plain(("✓", "green"), " ", _("the attribution names {top} as the source, as the sample's ground truth "
                                                    "({path}) says").format(top=demo.top, path=demo.truth_path)),
                      soft_wrap=True)
        return
    console.print(plain((_("attribution missed"), "red"), _(": "), _(
        "it names {top} as the source, the sample's ground truth ({path}) says {truth}").format(
            top=demo.top or "-", path=demo.truth_path, truth=demo.truth_source)), soft_wrap=True)
    sys.exit(1)


def _relative(folder: Path, out: Path) -> str:
    """``folder`` as shown in the summary: relative to the demo's folder (``.`` for itself)."""
    try:
        return safe_text(folder.relative_to(out).as_posix() or ".")
    except ValueError:
        return safe_text(str(folder))
