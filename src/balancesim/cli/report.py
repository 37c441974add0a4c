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
    type=click.Path(dir_okay=False),
    help="The HTML file to write [default: FOLDER.html, beside the folder].",
)
def report(folder: str, out_file: str | None) -> None:
    """Write FOLDER (a `run` or `compare` output) as one HTML file that works offline.

    The question, the effect and comparison tables, every figure (embedded),
    the assumptions (shocks, priors or posterior, trends) and how to reproduce
    it (command, seed, version, git commit).
    """
    from balancesim.analysis.report import ReportError, read_report, report_html
    from balancesim.experiment.store import ManifestError

    source = Path(folder)
    if not source.is_dir():
        raise InputError(f"{folder}: no such folder")
    target = Path(out_file) if out_file else source.parent / f"{source.resolve().name}.html"
    try:
        text = report_html(read_report(source))
    except (ReportError, ManifestError) as e:
        raise InputError(str(e)) from None
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{folder}: cannot read it as a run or comparison ({e})") from None
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise RunError(f"cannot write {target}: {describe_os_error(e)}") from None
    out.print(f"Report: {target}", markup=False)
