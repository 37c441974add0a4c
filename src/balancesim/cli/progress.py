"""What a long command shows on the terminal while it works.

One live display per command, in phases: a spinner with a status line while
it sets up (imports, reading and checking the scenario, building the state),
a bar while it simulates, and a second bar while it writes data and plots.
Times are labelled ("0:00:22 elapsed, 0:00:03 left"), so two bare clocks
side by side cannot be misread. Nothing is shown when stderr is not a
terminal, so logs and pipes get only the results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
)
from rich.text import Text

from balancesim.text.guard import for_terminal


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=max(0, int(seconds))))


class TimesColumn(ProgressColumn):
    """'0:00:22 elapsed, about 0:00:03 left' ('done in 0:00:25' when finished)."""

    max_refresh = 0.5  # the estimate jitters; twice a second is readable

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if elapsed is None:
            return Text("")
        if task.finished:
            return Text(f"done in {_clock(elapsed)}", style="progress.elapsed")
        remaining = task.time_remaining
        left = "time left unknown" if remaining is None else f"about {_clock(remaining)} left"
        return Text(f"{_clock(elapsed)} elapsed, {left}", style="progress.remaining")


class CountColumn(ProgressColumn):
    """'12/40 runs' on a bar with a total; nothing on a spinner-only task."""

    def __init__(self) -> None:
        super().__init__()
        self._count = MofNCompleteColumn()

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        text = self._count.render(task)
        unit = task.fields.get("unit", "")
        return Text.assemble(text, f" {unit}" if unit else "")


class RateColumn(ProgressColumn):
    """'1,234 runs/s' once some work is done."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        if task.total is None or not task.completed or not task.elapsed or task.finished or not unit:
            return Text("")
        return Text(f"{task.completed / task.elapsed:,.0f} {unit}/s", style="progress.data.speed")


class Phases:
    """A command's live display: set-up status, simulation bar, writing bar.

    Use as a context manager; `setting_up(text)` shows a spinner and a status,
    `bar(total, text, unit)` starts a bar and returns the callback that advances
    it, `step(text)` advances the current bar by one and names what is done
    next. Texts are shown literally (scenario names are never markup).
    """

    def __init__(self, console: Console, label: str, *, enabled: bool | None = None) -> None:
        self.label = label
        self.progress = Progress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            CountColumn(),
            RateColumn(),
            TimesColumn(),
            console=console,
            transient=True,
            disable=not (console.is_terminal if enabled is None else enabled),
        )
        self.task = self.progress.add_task(self._describe("starting"), total=None, unit="")

    def _describe(self, text: str) -> str:
        return for_terminal(f"{self.label}: {text}" if self.label else text)

    def __enter__(self) -> Phases:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def setting_up(self, text: str) -> None:
        """A spinner and `text`: work whose length is unknown (imports, checks, set-up, summing up)."""
        if self.progress.tasks[self.task].total is not None:  # after a bar: a new phase
            self._new_task(text, None, "")
        else:
            self.progress.update(self.task, description=self._describe(text))
            self.progress.refresh()  # shown now, however short the step

    def _new_task(self, text: str, total: int | None, unit: str) -> None:
        self.progress.stop_task(self.task)
        self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(self._describe(text), total=total, unit=unit)
        self.progress.refresh()

    def describe(self, text: str) -> None:
        """Change the text of the current phase, keeping its bar."""
        self.progress.update(self.task, description=self._describe(text))

    def bar(self, total: int, text: str, unit: str = "") -> Callable[[int], None]:
        """Start a new phase with a bar of `total` steps; returns `advance(n)`."""
        self._new_task(text, total, unit)
        task = self.task

        def advance(n: int) -> None:
            self.progress.advance(task, n)

        return advance

    def step(self, text: str | None = None) -> None:
        """One step of the current bar done; `text` names the next one."""
        self.progress.advance(self.task, 1)
        if text is not None:
            self.describe(text)
