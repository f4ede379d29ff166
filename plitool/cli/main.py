"""Entry point. Sub-commands are imported only when used, so ``--help`` starts fast."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import click

from .. import __version__
from ..errors import EXIT_USAGE, PlitoolError
from ..i18n import _
from .common import ENV_CASE, add_shared_options, case_option, lang_option

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
    "holdings": "plitool.cli.provenance_cmds:holdings_group",
    "leak": "plitool.cli.provenance_cmds:leak_group",
    "attribute": "plitool.cli.provenance_cmds:attribute_cmd",
    "canary": "plitool.cli.provenance_cmds:canary_group",
    "items": "plitool.cli.provenance_cmds:items_group",
    "tables": "plitool.cli.provenance_cmds:tables_group",
    "draft": "plitool.cli.draft_cmds:draft_cmd",
    "bundle": "plitool.cli.bundle_cmds:bundle_cmd",
    "verify-bundle": "plitool.cli.bundle_cmds:verify_bundle_cmd",
    "demo": "plitool.cli.demo_cmds:demo_cmd",
}

EXIT_CODES_HELP = """\b
Exit codes:
  0  ok
  1  verification failed (evidence, ledger or checkpoint does not match);
     scan: a file could not be read (corrupt, encrypted, zip bomb)
  2  usage: bad arguments or input, no case found, broken case.toml
  3  environment: unreadable file, unavailable digest, cannot write
  4  a source file changed while it was read (nothing recorded)
  5  the ledger is damaged: run 'plitool verify', then 'plitool repair'
  130  interrupted (Ctrl-C): one line, nothing half-written recorded
  141  the reader of the output went away ('plitool log | head -1')"""


#: ``plitool`` interrupted by Ctrl-C (SIGINT): 128 + 2, what a shell shows for a program the
#: signal ended.
EXIT_INTERRUPTED = 130
#: Its reader went away (``plitool log | head -1``): 128 + 13, what a shell shows for coreutils
#: ended by SIGPIPE. Nothing is printed.
EXIT_BROKEN_PIPE = 141

#: Sub-commands that open a case: each also takes ``--case DIR`` after its name.
OPENS_NO_CASE = frozenset({"init", "verify-proof", "timestamp", "verify-bundle", "demo"})


class PlitoolCliError(click.ClickException):
    """A library error shown as one line on stderr with its documented exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: Any = None) -> None:
        from .common import safe_text  # a message may quote a hostile file name: one escaped line

        click.echo(_("plitool: error: {message}").format(message=safe_text(self.format_message())), err=True)


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is ``exc`` or anything it was raised from or while handling.

    A Ctrl-C that lands in cleanup code can end as a secondary error (an OSError while removing
    a staging file, say) raised during its handling: the interruption still wins.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        if isinstance(e, kind):
            return True
        seen.add(id(e))
        todo += [e.__cause__, e.__context__]
    return False


def _broken_pipe(exc: BaseException) -> bool:
    return _in_chain(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def _usage_line(exc: click.UsageError) -> str:
    """click's three lines (usage, hint, error) as the documented one line."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    command = exc.ctx.command_path if exc.ctx is not None else "plitool"
    return _("{message} (see '{command} --help')").format(message=message, command=command)


def _stop_on_interrupt() -> int:
    """One line for a Ctrl-C; a second one while saying so cuts the line short, nothing more."""
    with suppress(KeyboardInterrupt):
        click.echo(_("plitool: interrupted; nothing half-written was recorded"), err=True)
    return EXIT_INTERRUPTED


def _stop_on_broken_pipe() -> int:
    """The reader is gone: say nothing, and keep Python's exit-time flush from failing too."""
    with suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _sep, attr = target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        add_shared_options(cmd, opens_case=cmd_name not in OPENS_NO_CASE)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlitoolError as exc:
            if _in_chain(exc, KeyboardInterrupt):
                raise KeyboardInterrupt from exc
            raise PlitoolCliError(str(exc), exc.exit_code) from exc

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run plitool; every way out is one line on stderr and a documented exit code.

        click's own ``main`` turns Ctrl-C into "Aborted!" and exit 1 (and, during parsing, a
        blank line first), and shows usage errors as three lines; neither is plitool's contract.
        """
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = self._run(list(sys.argv[1:] if args is None else args), prog_name or "plitool", extra)
        except KeyboardInterrupt:  # even while an error line was being written
            code = _stop_on_interrupt()
        try:
            sys.stdout.flush()  # a closed pipe must show up here, not in Python's exit-time flush
        except OSError as exc:
            if not _broken_pipe(exc):
                raise
            code = _stop_on_broken_pipe()
        sys.exit(code)

    def _run(self, args: list[str], prog_name: str, extra: dict[str, Any]) -> int:
        try:
            with self.make_context(prog_name, args, **extra) as ctx:
                self.invoke(ctx)
            return 0
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            return exc.exit_code
        except click.UsageError as exc:
            click.echo(_("plitool: error: {message}").format(message=_usage_line(exc)), err=True)
            return EXIT_USAGE
        except PlitoolError as exc:  # raised while the command line was read (an option's check)
            if _in_chain(exc, KeyboardInterrupt):
                return _stop_on_interrupt()
            click.echo(_("plitool: error: {message}").format(message=exc), err=True)
            return exc.exit_code
        except click.ClickException as exc:
            if _in_chain(exc, KeyboardInterrupt):  # click.prompt turns Ctrl-C into Abort
                return _stop_on_interrupt()
            exc.show()
            return exc.exit_code
        except click.Abort as exc:
            if _in_chain(exc, KeyboardInterrupt):
                return _stop_on_interrupt()
            click.echo(_("plitool: error: no input (end of file)"), err=True)
            return EXIT_USAGE
        except KeyboardInterrupt:
            return _stop_on_interrupt()
        except SystemExit as exc:
            if _broken_pipe(exc):  # rich exits 1 on a closed pipe
                return _stop_on_broken_pipe()
            if isinstance(exc.code, int) or exc.code is None:
                return exc.code or 0
            raise
        except BaseException as exc:
            if _in_chain(exc, KeyboardInterrupt):
                return _stop_on_interrupt()
            if _broken_pipe(exc):
                return _stop_on_broken_pipe()
            raise


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@case_option(envvar=ENV_CASE)
@lang_option(from_env=True)
@click.version_option(__version__, prog_name="plitool")
def cli() -> None:
    """plitool: evidence vault, provenance and filings for personal-information
    public-interest litigation.

    Start with 'plitool init CASE --title "..."', then 'plitool add FILES'.
    --case and --lang may also follow the sub-command. Every command that reports something
    takes --json.
    """


def main() -> None:
    """The ``plitool`` console script and ``python -m plitool.cli``."""
    cli.main(prog_name="plitool")
