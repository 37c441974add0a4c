"""What the commands print: two lazily made, guarded rich consoles and the result tables.

Every command prints through `out` and `err` (and a live display on `stderr()`),
and these consoles are the text guard for the terminal: they never parse rich
markup (a name such as `[link=file:///etc/passwd]` shows as written, whether
passed as a string, a table cell or a title), and every text they render, by
whatever path, goes through `balancesim.text.guard.for_terminal`, so escape
sequences, OSC 8 hyperlinks and control characters are shown as escapes, never
acted on. A new command gets this by printing with `out.print` / `err.print`;
styles are given as `Text(..., style=...)`, never as markup. rich is imported
on first use: `balancesim --help` does not pay for it.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancesim.text.guard import for_terminal
from balancesim.text.wording import plural

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from balancesim.experiment.batch import Results


UNWRAPPED = 100_000  # the width of standard output when it is not a terminal: never reached


class _LazyConsole:
    """A rich Console made on first use (importing rich costs ~0.1 s of `--help`)."""

    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr

    @cache  # noqa: B019 - two module-level instances, never freed
    def _console(self) -> Console:
        if self.stderr:
            return guarded_console(stderr=True)
        if sys.stdout.isatty():
            return guarded_console()
        # Piped or redirected: nothing is wrapped (a table as wide as its widest row, a line of
        # text as long as it is), so no line breaks inside a word and tools can parse the rows.
        return guarded_console(width=UNWRAPPED, soft_wrap=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)


err: Any = _LazyConsole(stderr=True)
out: Any = _LazyConsole(stderr=False)


def guarded_console(**options: Any) -> Console:
    """A rich Console that shows text as text: no markup, emoji or highlighting, controls escaped.

    Strings are never parsed as markup, and every segment it renders (of a
    string, a `Text`, a table cell or title, a progress bar's description)
    has its control and format characters escaped by `for_terminal`; the
    segments rich itself makes for cursor moves (live displays) are kept.
    """
    return guarded_console_class()(**({"markup": False, "highlight": False, "emoji": False} | options))


@cache
def guarded_console_class() -> type[Console]:
    """The class of `guarded_console` (made on first use: rich is imported then)."""
    from rich.console import Console as RichConsole
    from rich.segment import Segment

    class GuardedConsole(RichConsole):
        def render(self, renderable: Any, options: Any = None) -> Any:
            for segment in super().render(renderable, options):
                if segment.control or segment.text.isprintable():
                    yield segment
                else:
                    yield Segment(for_terminal(segment.text), segment.style)

        def render_str(self, text: str, **kwargs: Any) -> Any:
            kwargs.update(markup=False, emoji=False, highlight=False)
            return super().render_str(for_terminal(text), **kwargs)

    return GuardedConsole


def stderr() -> Console:
    """The real rich Console behind `err` (for live displays, which need the object itself)."""
    return err._console() if isinstance(err, _LazyConsole) else err


def print_files(title: str, folder: Path, files: list[Path], extra: str | None = None) -> None:
    """'Results: FOLDER' and the files in it, one a line, printed as text (never markup)."""
    from rich.text import Text

    out.print(Text.assemble(f"\n{title}: ", (str(folder), "bold")))
    for path in files:
        out.print(Text(f"  {path.relative_to(folder)}"))
    if extra:
        out.print(Text(f"  {extra}"))


def print_outcomes(results: Any, baseline: Any | None) -> None:
    """The table of regional outcomes; every text from the scenario is printed literally."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.experiment.batch import calendar_month
    from balancesim.experiment.effects import labels as effect_labels
    from balancesim.model.metrics import HEADLINE, REGION

    last = int(results.months[-1])
    table = Table(
        title=Text(
            f"{results.scenario.name}: {plural(results.replicates, 'run')}, seed {results.seed}, "
            f"month {last} ({calendar_month(results.scenario.start, last)})"
        ),
        title_justify="left",
    )
    table.add_column("regional outcome")
    table.add_column("median [5%–95%]", justify="right")
    if baseline is not None:
        table.add_column("baseline", justify="right")
        table.add_column("effect (paired)", justify="right")
    labels = effect_labels(results)

    def cell(v: np.ndarray) -> str:
        import numpy as np

        q = np.quantile(v, [0.05, 0.5, 0.95])
        return f"{q[1]:+.3f} [{q[0]:+.3f}, {q[2]:+.3f}]"

    keys = list(HEADLINE) + [f"members.{i}" for i in results.setup.institution_ids]
    for key in keys:
        v = results.values(REGION, key)[last]
        row = [labels.get(key, key.replace("_", " ")), cell(v)]
        if baseline is not None:
            bv = baseline.values(REGION, key)[last] if baseline.has(REGION, key) else None
            row += ["—", "—"] if bv is None else [cell(bv), cell(v - bv)]
        table.add_row(*map(Text, row))
    out.print(table)
    if results.inputs:
        out.print(importance_table(results, baseline, keys, labels))


def print_effects(results: Any, baseline: Any) -> None:
    """The effect first: paired difference at the last month, regional then per state, signs in words."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.experiment.effects import effect_table, effect_title

    table = Table(title=Text(effect_title(results, baseline)), title_justify="left")
    table.add_column("effect on")
    table.add_column("median [5%–95%]", justify="right")
    table.add_column("meaning of the median")
    rows = effect_table(results, baseline)
    for k, row in enumerate(rows):
        if k and row.actor != rows[k - 1].actor and rows[k - 1].actor == "region":
            table.add_section()
        table.add_row(Text(row.label), row.cell, Text(row.reading))
    out.print(table)


def print_assumptions(scenario: Any) -> None:
    """Past the scenario's own end: the trends that carry the world there, as its assumptions."""
    from rich.text import Text

    from balancesim.experiment.batch import calendar_month
    from balancesim.scenario.assumptions import trend_assumptions

    end = calendar_month(scenario.start, scenario.own_horizon)
    until = calendar_month(scenario.start, scenario.horizon)
    out.print(
        Text(f"From {end} (the scenario's own end) to {until} the world moves on with its assumptions:")
    )
    for line in trend_assumptions(scenario):
        out.print(Text(f"  - {line}"))


def print_sweep(outcome: Any) -> None:
    """The sweep's size and time, its Sobol or Morris table (if any) and the files written."""
    plan = outcome.plan
    t = outcome.timings
    out.print(
        f"{plural(len(plan.design), 'design point')} x {plural(plan.replicates, 'run')} = "
        f"{plural(plan.runs, 'run')} ({plural(outcome.chunks_run, 'chunk')} run, "
        f"{outcome.chunks_skipped:,} already done) in {sum(t.values()):.1f} s",
        markup=False,
    )
    month = plan.months[-1]
    if outcome.sobol is not None:
        _index_table(
            f"Sobol indices at month {month} (95% CI)",
            outcome.sobol[outcome.sobol["month"] == month],
            ("S1", "ST"),
            lambda row: (f"{row.S1:+.3f} ± {row.S1_conf:.3f}", f"{row.ST:+.3f} ± {row.ST_conf:.3f}"),
        )
    if getattr(outcome, "morris", None) is not None:
        _index_table(
            f"Morris elementary effects at month {month} (95% CI)",
            outcome.morris[outcome.morris["month"] == month],
            ("mu*", "sigma"),
            lambda row: (f"{row.mu_star:.3f} ± {row.mu_star_conf:.3f}", f"{row.sigma:.3f}"),
        )
    print_files(
        "Sweep", outcome.folder, outcome.files, "chunks/ (every run's outcomes, one Parquet file per chunk)"
    )


def print_robust(result: Any) -> None:
    """`validate --robust`: per check and knock-out, the share of prior draws that pass, fail, are unclear."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.validation.report import patterns_line
    from balancesim.validation.robust import robust_rows

    out.print(f"Judged against the {patterns_line()}", markup=False, soft_wrap=True)
    over = "prior" if result.posterior is None else f"posterior ({result.posterior}) and prior"
    table = Table(
        title=f"Robustness over the baseline's {over}: {plural(result.draws, 'draw')} of "
        f"{len(result.paths)} uncertain values, {result.runs} runs per arm and draw, seed {result.seed}, "
        f"{result.runs_simulated:,} runs in {result.seconds:.0f} s",
        title_justify="left",
    )
    for name in ("check", "title", "knock-out", "holds", "fails", "unclear"):
        table.add_column(name, justify="right" if name in ("holds", "fails", "unclear") else "left")
    for row in robust_rows(result):
        table.add_row(
            row["check"] if not row["knockout"] else "",
            Text(row["title"]) if not row["knockout"] else "",
            Text(row["knockout"] or "(none: the pattern)"),
            f"{row['share_pass']:.0%}",
            f"{row['share_fail']:.0%}",
            f"{row['share_unclear']:.0%}",
        )
    out.print(table)
    j = result.joint
    out.print(
        f"All checks pass together in {j.counts['pass']} of {result.draws} draws ({j.share('pass'):.0%}); "
        f"at least one fails in {j.counts['fail']}, the rest unclear.",
        markup=False,
    )
    out.print(
        "A pattern should hold in most draws; each knock-out should make it fail in most draws "
        "(else the rule behind it is not what produces the pattern there)."
    )


def _index_table(title: str, rows: Any, figures: tuple[str, ...], cells: Any) -> None:
    """A sensitivity table: measure, parameter (as text, never markup), then `cells(row)` per row."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for name in ("measure", "parameter", *figures):
        table.add_column(name, justify="left" if name in ("measure", "parameter") else "right")
    for row in rows.itertuples():
        table.add_row(Text(str(row.measure)), Text(str(row.parameter)), *cells(row))
    out.print(table)


def print_validation(result: Any) -> None:
    """The validation table (one row per check) and which checks or knock-outs fail."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.validation import conflict_line, table_rows
    from balancesim.validation.report import patterns_line

    out.print(f"Judged against the {patterns_line()}", markup=False, soft_wrap=True)
    table = Table(
        title=f"Validation: {result.replicates} runs per arm, seed {result.seed}, "
        f"{result.runs_simulated:,} runs in {result.seconds:.1f} s",
        title_justify="left",
        show_lines=True,
    )
    for name in ("check", "claims", "figure", "value [95%]", "threshold", "why", "verdict", "knock-out"):
        table.add_column(name, overflow="fold")
    style = {"PASS": "green", "FAIL": "bold red", "UNCLEAR": "yellow"}
    for row in table_rows(result):
        verdict = Text(row["verdict"], style=style[row["verdict"]])
        table.add_row(
            row["check"],
            row["claims"],
            row["measure"],
            row["figure"],
            row["threshold"],
            row["why"],
            verdict,
            row["knockout"],
        )
    out.print(table)
    failed = [r.check.id for r in result.results if not r.passed]
    weak = [
        f"{r.check.id} ({k.knockout.switch})"
        for r in result.results
        for k in r.knockouts
        if not k.informative
    ]
    out.print("All checks pass." if not failed else f"Not passing: {', '.join(failed)}.")
    for r in result.results:
        # A documented conflict with the record is printed with the verdict, never instead of it.
        if not r.passed and r.check.conflict is not None:
            out.print(Text(conflict_line(r)))
    if weak:
        listed = ", ".join(weak)
        out.print(f"Knock-outs that leave their pattern in place (the check proves nothing there): {listed}.")
    inert = [r.mechanism.name for r in result.influence if not r.moved]
    if result.influence:
        out.print(
            f"Mechanism influence: {len(result.influence) - len(inert)} of {len(result.influence)} "
            "mechanisms move a headline outcome beyond the noise band"
            + (f"; inert: {', '.join(inert)}." if inert else ".")
        )


def importance_table(
    results: Results, baseline: Results | None, keys: list[str], labels: dict[str, str]
) -> Table:
    """The console table: per regional outcome, the drawn inputs it (and its paired effect) follows most."""
    from rich.table import Table
    from rich.text import Text

    from balancesim.experiment.importance import describe, leading, noise_level
    from balancesim.model.metrics import REGION

    last = int(results.months[-1])
    inputs = results.inputs
    paired = baseline is not None
    chance = noise_level(results.replicates, len(inputs))
    out = Table(
        title=Text(
            f"Drawn inputs that matter most at month {last}: Spearman ρ over {results.replicates} runs "
            f"({len(inputs)} inputs drawn; |ρ| < {chance:.2f} is within chance)"
        ),
        title_justify="left",
    )
    out.add_column("regional outcome")
    out.add_column("outcome follows")
    if paired:
        out.add_column("effect (paired) follows")
    for key in keys:
        v = results.values(REGION, key)[last]
        row = [labels.get(key, key.replace("_", " ")), describe(leading(inputs, v))]
        if paired:
            assert baseline is not None
            effect = v - baseline.values(REGION, key)[last] if baseline.has(REGION, key) else None
            row.append("—" if effect is None else describe(leading(inputs, effect)))
        out.add_row(*map(Text, row))
    return out
