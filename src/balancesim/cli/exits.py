"""Exit statuses of the command line, decided in one place.

Every command runs inside `Group.invoke` below, which turns whatever escapes a
command into one line on stderr and one of four statuses:

* 0 success;
* 1 a failure that is not the input's fault (a folder that cannot be written,
  a full disk, a lost worker, a bug);
* 2 invalid input (a bad scenario file, option or manifest);
* 130 interrupted (Ctrl-C), as shells report a process killed by SIGINT.

Commands raise `InputError` (2) or `RunError` (1) with a message when they
know what went wrong; everything else is classified here, so no command
prints a Python traceback. Set `BALANCESIM_TRACEBACK=1` to see the traceback
of an unexpected error (a bug) instead of its one-line summary.

Messages pass through the text guard (`balancesim.text.guard.for_terminal`):
a file name or value quoted in them cannot drive the terminal. This module
imports only click and that guard: `balancesim --help` must stay fast.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from balancesim.text.guard import for_terminal

OK, FAILURE, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130

# Exceptions that mean "the input is wrong", by module and class name. They are
# looked up in sys.modules, so checking for them imports nothing: an exception
# from a module that was never imported cannot be raised.
_INPUT_ERRORS = (
    ("balancesim.scenario.located", "ScenarioError"),
    ("balancesim.sweep", "SweepError"),
    ("balancesim.experiment.batch", "RunTooLarge"),
    ("balancesim.validation.core", "ValidationError"),
    ("balancesim.experiment.store", "ManifestError"),
    ("balancesim.experiment.folders", "FolderRefused"),
)
MAX_MESSAGE = 300  # characters of an unexpected error's text that are shown


class InputError(click.ClickException):
    """Invalid input: the message is printed as is and the exit status is 2."""

    exit_code = BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(for_terminal(self.format_message()), err=True)  # unwrapped: one problem per line


class RunError(click.ClickException):
    """A failure that is not the input's fault: the message as is, exit status 1."""

    exit_code = FAILURE

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {for_terminal(self.format_message())}", err=True)


def _input_types() -> tuple[type[BaseException], ...]:
    found = []
    for module, name in _INPUT_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def describe_os_error(e: OSError) -> str:
    """'PATH: no space left on device' (the file and the reason, without errno noise)."""
    reason = (e.strerror or str(e) or type(e).__name__).rstrip(".")
    reason = reason[0].lower() + reason[1:] if reason else reason
    if e.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    return f"{e.filename}: {reason}" if e.filename else reason


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def classify(e: BaseException) -> BaseException:
    """The exception to raise in place of `e` so that click exits with the right status."""
    if isinstance(e, click.exceptions.Exit | click.ClickException | click.Abort | SystemExit):
        return e  # the command already decided
    if isinstance(e, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return click.exceptions.Exit(INTERRUPTED)
    if isinstance(e, _input_types()):
        return InputError(str(e))
    if isinstance(e, OSError):
        return RunError(describe_os_error(e))
    broken = getattr(sys.modules.get("concurrent.futures"), "BrokenExecutor", None)
    if isinstance(broken, type) and isinstance(e, broken):
        return RunError(
            "a worker process died (killed, or out of memory?); "
            "finished work is kept where the command supports --resume"
        )
    if isinstance(e, MemoryError):
        return RunError("out of memory: try fewer replicates or a smaller --chunk-size")
    if os.environ.get("BALANCESIM_TRACEBACK"):
        return e
    return RunError(
        f"unexpected {type(e).__name__}: {_short(str(e))} "
        "(a bug in balancesim; BALANCESIM_TRACEBACK=1 shows where it happened)"
    )


class Group(click.Group):
    """A click group whose commands exit with the statuses above, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseException as e:  # every exception is classified
            mapped = classify(e)
            if mapped is e:
                raise
            raise mapped from None


def run_program(main: Callable[[], Any]) -> None:
    """Run the click `main` as a program, exiting 130 after Ctrl-C however it was caught.

    CPython remembers a KeyboardInterrupt that passed through code run by
    `exec` (dataclasses, for one, build their methods that way) and, at the
    very end of the interpreter, kills itself with SIGINT even though the
    interrupt was handled: the status is then -2, not 130. After an
    interrupt this runs the exit handlers (worker pools, temporary folders)
    and leaves with 130 directly.
    """
    try:
        main()
    except SystemExit as e:
        if e.code != INTERRUPTED:
            raise
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(INTERRUPTED)
