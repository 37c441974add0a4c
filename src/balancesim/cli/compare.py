"""`balancesim compare`: every scenario side by side, on the same seeds: tipping, exits and effects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from balancesim.cli.common import read_scenario, use_posterior
from balancesim.cli.console import err, out, print_files, stderr
from balancesim.cli.exits import InputError
from balancesim.cli.options import posterior_option, replicates_option, seed_option
from balancesim.cli.outputs import output_folder
from balancesim.experiment.folders import legacy_files, lock_path
from balancesim.scenario.verified import read_json

if TYPE_CHECKING:
    from balancesim.experiment.folders import Output

EPILOG_COMPARE = """\b
Examples:
  balancesim compare
  balancesim compare scenarios/baseline.yaml scenarios/russia_pivot.yaml --by 2030-12
  balancesim compare --threshold -0.1 --sustained 6 -n 1000
"""
FORMAT = 1  # the comparison folder's layout (manifest.json's "balancesim_compare")


@click.command(epilog=EPILOG_COMPARE)
@click.argument("scenarios", nargs=-1, type=click.Path(dir_okay=False))
@replicates_option("Runs per scenario.", default=400)
@seed_option("Seed of every scenario's runs (the same for all: common random numbers).", default=20220301)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    default="scenarios/baseline.yaml",
    show_default=True,
    help="The scenario the effects are measured against (added to the list if missing).",
)
@click.option(
    "--by",
    metavar="YYYY-MM",
    help="Tipping and exits by this calendar month; effects at it [default: the scenarios' own end]. "
    "Past their end the scenarios run on with their trends.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1, 1),
    default=0.0,
    show_default=True,
    help="A state tips when its balance falls below this (toward the second power of the pair).",
)
@click.option(
    "--sustained",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="... for this many months in a row.",
)
@posterior_option()
@output_folder(
    "compare",
    "Output folder: new, empty, or an earlier comparison, which is replaced "
    "[default: a new results/compare/<run-id>/].",
    default=lambda p: _new_folder(p["seed"]),
    inputs=lambda p: [*_files(p["scenarios"]), p["baseline"], p["posterior_dir"]],
    legacy=lambda f: _legacy(f),
)
def compare(
    scenarios: tuple[str, ...],
    replicates: int,
    seed: int,
    baseline: str,
    by: str | None,
    threshold: float,
    sustained: int,
    posterior_dir: str | None,
    out: Output,
) -> None:
    """Compare SCENARIO... (default: every file in scenarios/) on the same seeds.

    Per state and scenario: the chance that the balance tips toward China by a
    date, the first month it does, the chance of an exit threat and of an exit
    from each institution, and the effect against the baseline on the balance
    and the hedging index. Writes comparison.csv, comparison.png and
    manifest.json; prints the table.
    """
    try:
        result = _compare(scenarios, replicates, seed, baseline, by, threshold, sustained, posterior_dir, out)
    except BaseException:
        if not out.folder.exists():  # the run id reserved by _new_folder is free again
            lock_path(out.folder).unlink(missing_ok=True)
        raise
    print_comparison(result)
    print_files("Comparison", out.folder, out.commit())


def _compare(
    scenarios: tuple[str, ...],
    replicates: int,
    seed: int,
    baseline: str,
    by: str | None,
    threshold: float,
    sustained: int,
    posterior_dir: str | None,
    out: Output,
) -> Any:
    from balancesim.cli.progress import Phases

    files = _files(scenarios)
    if not files:
        raise InputError("no scenarios given and none in scenarios/")
    if baseline not in files and Path(baseline).resolve() not in {Path(f).resolve() for f in files}:
        files.insert(0, baseline)
    with Phases(stderr(), "compare") as phases:
        phases.setting_up("reading the scenarios")
        specs = _read(files, replicates, seed, by, posterior_dir)
        keys = list(specs)
        base_key = next(
            k for k, f in zip(keys, files, strict=True) if Path(f).resolve() == Path(baseline).resolve()
        )
        month = specs[base_key].horizon  # `--by` has set every horizon to it
        partial = out.open()  # the lock at once: a second writer of the folder stops before simulating
        for note in out.notes:
            err.print(note, markup=False)
        phases.setting_up("loading the simulation libraries")
        from balancesim.analysis.compare import compare as run_compare
        from balancesim.figures.compare import comparison_figure

        progress = phases.bar(replicates * len(specs), "simulating", "runs")
        try:
            result = run_compare(
                specs, base_key, month, threshold, sustained, replicates, seed, progress=progress
            )
        except ValueError as e:
            raise InputError(str(e)) from None
        phases.bar(3, "writing", "files")
        result.table.to_csv(partial / "comparison.csv", index=False, float_format="%.6g")
        phases.step()
        import matplotlib.pyplot as plt

        fig = comparison_figure(result)
        try:
            fig.savefig(partial / "comparison.png", dpi=110)
        finally:
            plt.close(fig)
        phases.step()
        _manifest(partial, result, files, posterior_dir)
        out.commit()
    return result


def _files(scenarios: tuple[str, ...]) -> list[str]:
    """The scenario files given, or every file in scenarios/."""
    return list(scenarios) or [str(p) for p in sorted(Path("scenarios").glob("*.yaml"))]


def _new_folder(seed: int) -> Path:
    """A new results/compare/<run-id>/: the time and the seed, `-2`, `-3`, ... when another took it.

    The id is reserved by creating its lock file exclusively, so comparisons
    started in the same second with the same seed never share a folder.
    """
    import itertools
    import os
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path("results") / "compare"
    for n in itertools.count(1):
        folder = base / (f"{stamp}-seed{seed}" + (f"-{n}" if n > 1 else ""))
        if folder.exists():
            continue
        try:
            base.mkdir(parents=True, exist_ok=True)
            os.close(os.open(lock_path(folder), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        except OSError:
            return folder  # cannot write there: the policy's check says so, with exit status 1
        return folder
    raise AssertionError("unreachable")  # pragma: no cover


def _read(
    files: list[str], replicates: int, seed: int, by: str | None, posterior: str | None
) -> dict[str, Any]:
    """key (the file's stem, made unique) -> the scenario, run to `by` when it ends before."""
    from balancesim.experiment.batch import calendar_month
    from balancesim.scenario.schema import months_between

    specs: dict[str, Any] = {}
    horizon = None
    for f in files:
        spec = read_scenario(f, {"replicates": replicates, "seed": seed})
        if by is not None:
            if months_between(spec.start, by) < 1:
                raise InputError(f"--by {by}: before {f}'s start ({spec.start})")
            spec = read_scenario(f, {"replicates": replicates, "seed": seed, "until": by})
        if posterior is not None:
            use_posterior(spec, posterior)
        if horizon is not None and (spec.horizon, spec.start) != horizon:
            raise InputError(
                f"{f}: runs to {calendar_month(spec.start, spec.horizon)}, the others to "
                f"{calendar_month(horizon[1], horizon[0])}; give --by to compare them at one date"
            )
        horizon = (spec.horizon, spec.start)
        key = Path(f).stem
        while key in specs:
            key += "_"
        specs[key] = spec
    return specs


def _legacy(folder: Path) -> bool:
    """A comparison written before folders were marked (its manifest says so), holding nothing else."""
    manifest = read_json(folder / "manifest.json")
    return (
        isinstance(manifest, dict)
        and "balancesim_compare" in manifest
        and legacy_files("manifest.json", "comparison.csv", "comparison.png")(folder)
    )


def _manifest(folder: Path, result: Any, files: list[str], posterior: str | None) -> None:
    from datetime import UTC, datetime

    from balancesim.experiment.store import source_revision, versions

    source = source_revision()
    manifest = {
        "balancesim_compare": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["balancesim", *sys.argv[1:]],
        "scenario_files": files,
        "scenarios": result.scenarios,
        "baseline": result.baseline,
        "seed": result.seed,
        "replicates": result.replicates,
        "by": result.by_date,
        "by_month": result.by,
        "start": result.start,
        "threshold": result.threshold,
        "sustained": result.sustained,
        "towards": result.towards,
        "away": result.away,
        "definition": result.definition,
        "posterior": posterior,
        "versions": versions(),
        **({"git": source} if source else {}),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def comparison_rows(result: Any) -> list[dict[str, str]]:
    """The terminal table's rows as text: state, scenario, tip chance, first tip, exits, effects."""
    import numpy as np

    from balancesim.analysis.compare import month_label

    rows = []
    for state in result.states:
        for key in result.scenarios:
            sel = result.table[(result.table["scenario"] == key) & (result.table["state"] == state)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            first = "—"
            if np.isfinite(r["first_tip_median"]):
                when = [month_label(result.start, r[f"first_tip_{q}"]) for q in ("median", "p5", "p95")]
                first = f"{when[0]} [{when[1]}, {when[2]}]"
            exits = []
            for inst in result.institutions:
                if f"exit_{inst}" in r and np.isfinite(r[f"exit_{inst}"]):
                    exits.append(
                        f"{inst.upper()} {_share(r[f'exit_threat_{inst}'])}/{_share(r[f'exit_{inst}'])}"
                    )

            def effect(stat: str, r: Any = r, key: str = key) -> str:
                if key == result.baseline or not np.isfinite(r[f"{stat}_median"]):
                    return "—"
                return f"{r[f'{stat}_median']:+.3f} [{r[f'{stat}_p5']:+.3f}, {r[f'{stat}_p95']:+.3f}]"

            rows.append(
                {
                    "state": result.states[state],
                    "scenario": key,
                    "tips": _share(r["tip_chance"]) + (" (starts below)" if r["starts_below"] > 0.5 else ""),
                    "first tip": first,
                    "exit threat/exit": ", ".join(exits) or "—",
                    "balance effect": effect("balance_effect"),
                    "hedging effect": effect("hedging_effect"),
                }
            )
    return rows


def _share(p: float) -> str:
    """0.0025 -> '<1%', 0 -> '0%', 0.996 -> '>99%', else a whole percentage."""
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 < p < 1:
        return ">99%"
    return f"{p:.0%}"


def print_comparison(result: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(
            f"Scenarios compared by {result.by_date}: {len(result.scenarios)} scenarios x "
            f"{result.replicates} runs, seed {result.seed}, baseline '{result.scenarios[result.baseline]}'"
        ),
        title_justify="left",
    )
    rows = comparison_rows(result)
    names = [
        "state",
        "scenario",
        f"tips toward {result.towards}",
        "first tip",
        "exit threat/exit",
        "balance effect",
        "hedging effect",
    ]
    for name in names:
        table.add_column(
            Text(name), justify="left" if name in ("state", "scenario", "exit threat/exit") else "right"
        )
    last = None
    for row in rows:
        if last is not None and row["state"] != last:
            table.add_section()
        last = row["state"]
        table.add_row(*(Text(v) for v in row.values()))
    out.print(table)
    for key, name in result.scenarios.items():
        out.print(Text(f"  {key}: {name}"))
    out.print(Text(result.definition))
