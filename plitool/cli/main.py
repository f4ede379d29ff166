"""Entry point. Sub-commands are imported only when used, so ``--help`` starts fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__
from ..errors import PlitoolError

#: name -> "module:attribute"; the order here is the order in ``plitool --help``.
COMMANDS: dict[str, str] = {
    "init": "plitool.cli.case_cmds:init_cmd",
    "add": "plitool.cli.evidence_cmds:add_cmd",
    "list": "plitool.cli.evidence_cmds:list_cmd",
    "show": "plitool.cli.evidence_cmds:show_cmd",
    "log": "plitool.cli.evidence_cmds:log_cmd",
    "export": "plitool.cli.evidence_cmds:export_cmd",
    "verify": "plitool.cli.verify_cmds:verify_cmd",
    "manifest": "plitool.cli.verify_cmds:manifest_cmd",
    "repair": "plitool.cli.verify_cmds:repair_cmd",
    "seal": "plitool.cli.seal_cmds:seal_cmd",
    "trust": "plitool.cli.seal_cmds:trust_group",
    "prove": "plitool.cli.seal_cmds:prove_cmd",
    "verify-proof": "plitool.cli.seal_cmds:verify_proof_cmd",
    "timestamp": "plitool.cli.seal_cmds:timestamp_group",
    "scan": "plitool.cli.scan_cmds:scan_cmd",
    "graph": "plitool.cli.graph_cmds:graph_group",
}

EXIT_CODES_HELP = """\b
Exit codes:
  0  ok
  1  verification failed (evidence, ledger or checkpoint does not match);
     scan: a file could not be read (corrupt, encrypted, zip bomb)
  2  usage: bad arguments or input, no case found, broken case.toml
  3  environment: unreadable file, unavailable digest, cannot write
  4  a source file changed while it was read (nothing recorded)
  5  the ledger is damaged: run 'plitool verify', then 'plitool repair'"""


class PlitoolCliError(click.ClickException):
    """A library error shown as one line on stderr with its documented exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        click.echo(f"plitool: error: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlitoolError as exc:
            raise PlitoolCliError(str(exc), exc.exit_code) from exc
        except KeyboardInterrupt as exc:
            raise PlitoolCliError("interrupted; nothing half-written was kept", 130) from exc


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--case",
    "case_dir",
    envvar="PLITOOL_CASE",
    type=click.Path(file_okay=False, path_type=str),
    help="The case folder (env PLITOOL_CASE; default: the nearest folder above holding case.toml).",
)
@click.version_option(__version__, prog_name="plitool")
@click.pass_context
def cli(ctx: click.Context, case_dir: str | None) -> None:
    """plitool: evidence vault, provenance and filings for personal-information
    public-interest litigation.

    Start with 'plitool init CASE --title "..."', then 'plitool add FILES'.
    Every command that reports something takes --json.
    """
    ctx.obj = {"case_dir": case_dir}


main = cli
