"""The validation's outputs: the summary table, the Markdown report, plots, JSON and CSV.

The report folder is written as a whole: into a hidden partial folder that
replaces the folder named by `--out` only when complete, under a lock, and
only over a folder that is empty or holds an earlier report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from balancesim.experiment.batch import calendar_month
from balancesim.experiment.folders import (
    check_output,
    clean_partials,
    locked,
    make_partial,
    swap_in,
    write_marker,
)
from balancesim.scenario.verified import MARKER
from balancesim.validation import influence
from balancesim.validation.checks.un_votes import VOTES
from balancesim.validation.core import Check, CheckResult, Estimate, Outcome, Threshold, Validation

# --------------------------------------------------------------------------
# Reporting


def _figure(check: Check, e: Estimate, t: Threshold) -> str:
    f = t.fmt
    return f"{f.format(e.value)} [{f.format(e.low)}, {f.format(e.high)}]"


def table_rows(v: Validation) -> list[dict[str, str]]:
    """One row per criterion: the summary table of the console and the report."""
    rows = []
    for r in v.results:
        c = r.check
        for k, (t, e, verdict) in enumerate(
            zip(c.thresholds, r.outcome.estimates, r.outcome.verdicts, strict=True)
        ):
            ko_text = ""
            if k == 0:
                ko_text = "; ".join(f"{ko.knockout.switch}: {ko.label}" for ko in r.knockouts) or "—"
            rows.append(
                {
                    "check": c.id if k == 0 else "",
                    "claims": c.claims if k == 0 else "",
                    "measure": t.figure,
                    "figure": _figure(c, e, t),
                    "threshold": t.text(),
                    "why": t.why,
                    "verdict": verdict.upper(),
                    "knockout": ko_text,
                }
            )
    return rows


def patterns_line() -> str:
    """Which patterns file the checks were judged against: path, version and sha256."""
    from balancesim.validation.patterns import load

    p = load()
    return f"patterns file {p.path.name}, version {p.version}, sha256 {p.sha256}"


def summary_json(v: Validation) -> dict[str, Any]:
    from balancesim.validation.patterns import load

    p = load()
    out: dict[str, Any] = {
        "patterns": {"file": p.path.name, "version": p.version, "sha256": p.sha256},
        "replicates": v.replicates,
        "seed": v.seed,
        "passed": v.passed,
        "controls_informative": v.controls_ok,
        "seconds": round(v.seconds, 2),
        "runs": v.runs_simulated,
        "checks": [],
        "influence": influence.summary(v.influence),
    }
    for r in v.results:
        c = r.check

        def crit(outcome: Outcome, c: Check = c) -> list[dict[str, Any]]:
            return [
                {
                    "figure": t.figure,
                    "value": e.value,
                    "low": e.low,
                    "high": e.high,
                    "op": t.op,
                    "threshold": t.value,
                    "why": t.why,
                    "verdict": verdict,
                    "detail": e.detail,
                }
                for t, e, verdict in zip(c.thresholds, outcome.estimates, outcome.verdicts, strict=True)
            ]

        out["checks"].append(
            {
                "id": c.id,
                "pattern": c.pattern,
                "claims": c.claims,
                "title": c.title,
                "verdict": r.outcome.verdict,
                "criteria": crit(r.outcome),
                "conflict": _conflict_json(r),
                "arms": {
                    n: {"scenario": a.scenario, "overrides": a.override_dict} for n, a in c.arms.items()
                },
                "knockouts": [
                    {
                        "switch": k.knockout.switch,
                        "overrides": k.knockout.overrides,
                        "arm_overrides": k.knockout.arm_overrides,
                        "verdict": k.outcome.verdict,
                        "informative": k.informative,
                        "criteria": crit(k.outcome),
                    }
                    for k in r.knockouts
                ],
            }
        )
    return out


def _conflict_json(r: CheckResult) -> dict[str, Any] | None:
    c = r.check.conflict
    if c is None:
        return None
    out: dict[str, Any] = {"summary": c.summary, "record": c.record}
    if r.extra is not None:
        out["extra"] = {"figure": c.figure, "value": r.extra.value, "low": r.extra.low, "high": r.extra.high}
    return out


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def write_plots(v: Validation, folder: Path) -> dict[str, str]:
    """One PNG per pattern (sub-checks side by side); returns pattern -> file name."""
    from balancesim.figures import pyplot

    plt = pyplot()

    groups: dict[str, list[CheckResult]] = {}
    for r in v.results:
        groups.setdefault(r.check.pattern, []).append(r)
    files = {}
    for pattern, results in groups.items():
        n = len(results)
        fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 4.2), squeeze=False)
        for ax, r in zip(axes[0], results, strict=True):
            r.check.plot(ax, r.runs, r.ko_runs)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
        fig.suptitle(f"{pattern}: {v.replicates} runs per arm, seed {v.seed}", fontsize=9, x=0.01, ha="left")
        fig.tight_layout()
        name = f"{pattern.lower().replace(' ', '_')}.png"
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        files[pattern] = name
    return files


def _shown(path: str | Path) -> str:
    """A path relative to the working folder where possible (reports travel; absolute paths do not)."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def conflict_line(r: CheckResult) -> str:
    """One line for a check with a documented conflict with the record: what conflicts, and the
    extra figure beside (never instead of) the verdict."""
    c = r.check.conflict
    if c is None:
        return ""
    line = f"{r.check.id} — conflicts with the record: {c.summary}."
    if r.extra is not None:
        e = r.extra
        line += f" Extra figure, not the verdict: {c.figure}: {e.value:.3f} [{e.low:.3f}, {e.high:.3f}]."
    return line


def _conflict_lines(r: CheckResult) -> list[str]:
    c = r.check.conflict
    if c is None:
        return []
    lines = [f"*Conflict with the observed record* (the verdict above stands): {c.summary}. {c.record}", ""]
    if r.extra is not None:
        e = r.extra
        lines += [
            f"*Extra figure (not the verdict).* {c.figure}: {e.value:.3f} [{e.low:.3f}, {e.high:.3f}] "
            f"(the threshold {r.check.thresholds[0].text()} applies to the figure above, not to this one).",
            "",
        ]
    return lines


def report_markdown(v: Validation, plots: dict[str, str], command: str = "balancesim validate") -> str:
    lines = [
        "# balancesim validation report",
        "",
        f"`{command}`: {v.replicates} runs per experiment arm, seed {v.seed}, scenarios from "
        f"`{_shown(v.scenario_dir)}`; {v.runs_simulated:,} runs in {v.seconds:.1f} s.",
        "",
        f"Judged against the {patterns_line()}.",
        "",
        "**Verdict: "
        + ("all checks pass" if v.passed else "NOT all checks pass")
        + "; "
        + (
            "every knock-out control removes its pattern."
            if v.controls_ok
            else "some knock-out controls do NOT remove their pattern (see below)."
        )
        + "**",
        "",
        "How to read this report (more in docs/validation.md): each check runs the model many "
        "times with the same seed in every arm (so runs are compared pairwise), computes one or "
        "more figures with a 95% interval, and compares each with a threshold fixed in the code "
        "before any result was seen. *pass*: the whole interval is on the right side of the "
        "threshold; *fail*: the whole interval is on the wrong side; *unclear*: the interval "
        "straddles it. A **knock-out** reruns the check with the rule that should produce the "
        "pattern switched off; it should make the check fail (*pattern lost*). A check that still "
        "passes without its rule proves nothing about that rule (*uninformative*).",
        "",
        "## Summary",
        "",
        "| check | claims | figure | value [95% interval] | threshold | why this threshold | verdict "
        "| knock-out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table_rows(v):
        lines.append(
            "| "
            + " | ".join(
                _md_escape(row[k])
                for k in ("check", "claims", "measure", "figure", "threshold", "why", "verdict", "knockout")
            )
            + " |"
        )
    lines.append("")
    weak = [(r.check.id, k) for r in v.results for k in r.knockouts if not k.informative]
    if weak:
        lines += ["## Knock-outs that do not remove their pattern", ""]
        for cid, k in weak:
            lines.append(
                f"- **{cid}**, `{k.knockout.switch}` ({k.knockout.what}): the check's verdict without "
                f"the rule is *{k.outcome.verdict}*. The pattern is therefore not evidence for that rule; "
                "see the check's section."
            )
        lines.append("")
    current = None
    for r in v.results:
        c = r.check
        if c.pattern != current:
            current = c.pattern
            lines += [f"## {c.pattern}", ""]
            if c.pattern in plots:
                lines += [f"![{c.pattern}]({plots[c.pattern]})", ""]
        lines += [f"### {c.id}: {c.title} ({c.claims}) — {r.outcome.verdict.upper()}", ""]
        lines += [f"*Pattern.* {c.statement}", "", f"*Experiment.* {c.experiment}", ""]
        lines += ["*Arms* (each can be rerun on its own with `balancesim run`):", ""]
        for arm in c.arms.values():
            run = f"balancesim run {arm.command_line()} --seed {v.seed} --replicates {v.replicates}"
            lines.append(f"- {arm.label}: `{run}`")
        lines.append("")
        lines += [
            "| figure | value [95% interval] | threshold | why this threshold | verdict |",
            "|---|---|---|---|---|",
        ]
        for t, e, verdict in zip(c.thresholds, r.outcome.estimates, r.outcome.verdicts, strict=True):
            cells = [_md_escape(t.figure), _figure(c, e, t), t.text(), _md_escape(t.why), verdict]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for t, e in zip(c.thresholds, r.outcome.estimates, strict=True):
            if e.detail:
                lines.append(f"- {t.figure}: {e.detail}.")
        lines.append("")
        for k in r.knockouts:
            figs = "; ".join(
                f"{t.figure}: {_figure(c, e, t)} ({verdict})"
                for t, e, verdict in zip(c.thresholds, k.outcome.estimates, k.outcome.verdicts, strict=True)
            )
            lines.append(f"*Knock-out* `{k.knockout.switch}` ({k.knockout.what}): **{k.label}**. {figs}.")
            lines.append("")
        lines += _conflict_lines(r)
        if c.notes:
            lines += [f"*Notes.* {c.notes}", ""]
    if v.influence:
        lines += influence.markdown(v.influence)
    lines += [
        "## Dates",
        "",
        "Month 0 is "
        + calendar_month("2022-03", 0)
        + "; the UN votes fall at months "
        + ", ".join(f"{m} ({calendar_month('2022-03', m)}, {name})" for name, m, _ in VOTES)
        + ".",
        "",
    ]
    return "\n".join(lines)


REPORT_FILES = ("report.md", "summary.json", "table.csv")


def is_earlier_report(folder: Path) -> bool:
    """Does `folder` hold an unmarked report of `balancesim validate` (an older one), and nothing else?

    It must have the report's files and no others but the PNGs that
    report.md shows: a folder with any other file is the user's, and is not
    replaced.
    """
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        text = (folder / "report.md").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    if not isinstance(summary, dict) or "checks" not in summary:
        return False
    shown = set(re.findall(r"\]\(([^)/]+\.png)\)", text))
    return all(p.name in (*REPORT_FILES, MARKER) or p.name in shown for p in folder.iterdir())


@contextlib.contextmanager
def report_folder(folder: str | Path, inputs: tuple[str | Path, ...] = ()) -> Iterator[list[str]]:
    """Hold `folder` for a validation: locked, and new, empty or an earlier report (`folders.check_output`).

    Raises `folders.FolderBusy` if another command writes it and
    `folders.FolderRefused` if it holds anything else, before any work is
    done. Partial folders of killed validations beside it are removed; the
    block receives the notes about them.
    """
    folder = Path(folder)
    check_output(folder, "validate", inputs, legacy=is_earlier_report)
    with locked(folder):
        check_output(folder, "validate", inputs, legacy=is_earlier_report)
        yield clean_partials(folder.parent).notes()


def write_report(v: Validation, folder: str | Path, command: str = "balancesim validate") -> Path:
    """Write report.md, one PNG per pattern, summary.json and table.csv as the folder `folder`.

    Everything is written into a hidden partial folder beside it, which
    replaces `folder` only when complete: a killed or failed write (a full
    disk) leaves the earlier report whole, never a mix or an empty file.
    Call it inside `report_folder`, which checks and locks the folder.
    """
    import csv

    folder = Path(folder)
    partial = make_partial(folder.parent, folder.name)
    try:
        plots = write_plots(v, partial)
        (partial / "report.md").write_text(report_markdown(v, plots, command), encoding="utf-8")
        (partial / "summary.json").write_text(json.dumps(summary_json(v), indent=2) + "\n", encoding="utf-8")
        rows = table_rows(v)
        with open(partial / "table.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        for path in partial.iterdir():  # durable before the swap
            if path.is_file() and not path.name.startswith("."):
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
        write_marker(partial, "validate")
        swap_in(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder / "report.md"
