"""`--out DIR` for every command that writes a folder: the output-folder policy, declared once.

A command declares its output with `output_folder(command=..., help=...,
default=..., inputs=...)` and receives an open `folders.Output` as its `out`
argument: it writes into `out.partial` and may call `out.commit()` (which
returns the files written) to print them; otherwise the folder is committed
when the command returns, and discarded if it fails. Before the command
body runs, the folder has been checked (new, empty, or an earlier output of
the same command holding nothing else; never one of the `inputs`), so bad
folders are refused with one line and exit status 2 before any work, a
folder that cannot be written is exit status 1 ("cannot write there"), and
a second writer of the same folder stops with exit status 1.

Only click is imported here: `balancesim --help` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancesim.cli.exits import InputError, RunError, describe_os_error
from balancesim.cli.options import Decorator, out_option

if TYPE_CHECKING:
    from balancesim.experiment.folders import Judge, Output

Default = Callable[[dict[str, Any]], "str | Path"]
Inputs = Sequence[str] | Callable[[dict[str, Any]], Sequence["str | Path"]]


@contextlib.contextmanager
def reported(folder: Path, option: str = "--out") -> Iterator[None]:
    """The folder policy's errors as the command line reports them (exit 2 refused, 1 otherwise)."""
    from balancesim.experiment.folders import FolderBusy, FolderRefused

    try:
        yield
    except FolderRefused as e:
        raise InputError(str(e)) from None
    except FolderBusy as e:
        raise RunError(str(e)) from None
    except NotADirectoryError as e:  # the path goes through a file: the name is wrong, not the disk
        raise InputError(f"{option} {folder}: not a folder path ({describe_os_error(e)})") from None
    except OSError as e:
        raise RunError(f"{option} {folder}: cannot write there ({describe_os_error(e)})") from None


@contextlib.contextmanager
def opened(
    folder: Path,
    command: str,
    inputs: Sequence[str | Path] = (),
    legacy: Judge | None = None,
    lazy: bool = True,
) -> Iterator[Output]:
    """`folders.output` with its errors reported as the command line does (see `reported`)."""
    from balancesim.experiment.folders import output

    stack = contextlib.ExitStack()
    with reported(folder):
        out = stack.enter_context(output(folder, command, tuple(inputs), legacy=legacy, lazy=lazy))
    with stack:  # later folder errors (a second writer when opened lazily) are classified by exits.py
        yield out


def output_folder(
    command: str,
    help: str,
    default: str | Default | None = None,
    inputs: Inputs = (),
    legacy: Judge | None = None,
) -> Decorator:
    """Declare `--out DIR` for `command`, with the output-folder policy applied before the command runs.

    `default(params)` (or a fixed path) is the folder when `--out` is not
    given, from the command's other parameters; `inputs` names the parameters
    that are input files or folders (a parameter may hold several, `nargs=-1`),
    which the output may neither be nor hold, or `inputs(params)` lists them;
    `legacy` recognises earlier outputs written before folders were marked.
    The command function takes `out` (a `folders.Output`) instead of `out_dir`.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, out_dir: str | None = None, **params: Any) -> Any:
            if out_dir:
                folder = Path(out_dir)
            elif callable(default):
                folder = Path(default(params))
            elif default is not None:
                folder = Path(default)
            else:  # pragma: no cover - a declaration error
                raise TypeError(f"{command}: output_folder needs a default or a required --out")
            given = _inputs(inputs, params)
            with opened(folder, command, given, legacy) as out:
                return f(*args, out=out, **params)

        return out_option(help)(wrapper)

    return decorate


def _inputs(inputs: Inputs, params: dict[str, Any]) -> list[str | Path]:
    """The input paths named by `inputs`: parameter values (one path or several), or `inputs(params)`."""
    if callable(inputs):
        return [p for p in inputs(params) if p]
    found: list[str | Path] = []
    for name in inputs:
        value = params.get(name)
        if isinstance(value, tuple | list):
            found += [v for v in value if v]
        elif value:
            found.append(value)
    return found
