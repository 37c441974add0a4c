"""`balancesim report`: one self-contained HTML file of a run or comparison folder, to share."""

from __future__ import annotations

import os
from pathlib import Path

import click

from balancesim.cli.console import out
from balancesim.cli.exits import InputError, RunError, describe_os_error

EPILOG_REPORT = """\b
Examples:
  balancesim report results/taiwan_shock/20240101-120000-seed20220301
  balancesim report results/compare/20240101-120000-seed20220301 --out compare.html
"""


@click.command(epilog=EPILOG_REPORT)
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--out",
    "out_file",
    type=click.Path(),
    help="The HTML file to write [default: FOLDER.html, beside the folder].",
)
def report(folder: str, out_file: str | None) -> None:
    """Write FOLDER (a `run` or `compare` output) as one HTML file that works offline.

    The question, the effect and comparison tables, every figure (embedded),
    the assumptions (shocks, priors or posterior, trends) and how to reproduce
    it (command, seed, version, git commit). The file is new or an earlier
    report of the same FOLDER, which is replaced whole; any other file is
    refused (exit status 2), and so is a file inside FOLDER.
    """
    from balancesim.analysis.report import ReportError, is_report_of, read_report, report_html
    from balancesim.experiment.store import ManifestError
    from balancesim.scenario.verified import DamagedFile

    source = Path(folder)
    if not source.is_dir():
        raise InputError(f"{folder}: no such folder")
    target = Path(out_file) if out_file else source.parent / f"{source.resolve().name}.html"
    option = "--out " if out_file else ""
    if source.resolve() == target.resolve() or source.resolve() in target.resolve().parents:
        raise InputError(f"{option}{target}: inside FOLDER, an input of this command; choose another file")
    earlier = target.exists() or target.is_symlink()
    if earlier and not is_report_of(target, source):
        raise InputError(
            f"{option}{target}: exists and is not an earlier report of {folder}; "
            "choose another file (nothing was written)"
        )
    try:
        text = report_html(read_report(source))
    except DamagedFile as e:
        raise RunError(describe_os_error(e)) from None
    except (ReportError, ManifestError) as e:
        raise InputError(str(e)) from None
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{folder}: cannot read it as a run or comparison ({e})") from None
    try:
        _write(target, text.encode("utf-8"), replace=earlier)
    except FileExistsError:
        raise InputError(
            f"{option}{target}: appeared while the report was made; nothing was written"
        ) from None
    except OSError as e:
        raise RunError(f"cannot write {target}: {describe_os_error(e)}") from None
    out.print(f"Report: {target}", markup=False)


def _write(target: Path, data: bytes, replace: bool) -> None:
    """Write `target` whole: a hidden temporary file beside it, then linked (a new file, never
    over one that appeared meanwhile) or renamed over the earlier report."""
    import tempfile

    from balancesim.experiment.folders import fsync_dir

    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the name was taken since it was checked
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if target.exists() or target.is_symlink():
                    raise FileExistsError(target) from None
                os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
