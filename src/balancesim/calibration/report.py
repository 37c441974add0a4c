"""A calibration's output folder: posterior.parquet, manifest.json, report.md and its figures.

The folder is handled as every output folder is (`folders.output`, the
command line's `--out`): checked before any work (refused when it holds
anything but an earlier calibration), locked for the whole calibration (a
second writer stops at once), and written to a hidden `.NAME.partial`
folder next to the target that is renamed into place only when complete (an
older folder of the same name is replaced only then), so an interrupted
calibration leaves nothing that looks finished. posterior.parquet carries
page checksums and the folder's marker its sha256, which `read_posterior`
verifies.

What the report shows, and the rule fixed before any result was seen:

* prior and posterior marginals of every calibrated parameter;
* **informed or not**: a parameter is *informed* when its posterior sd is
  below `INFORMED` (0.5) times its prior sd, i.e. the targets removed at
  least half its spread; otherwise the data do not pin it down;
* the effective sample size of the posterior's weights, per population;
* the posterior predictive against every target: runs whose values are
  drawn from the posterior (the other priors from their priors), one small
  panel per target over time with the observed value or period marked
  (`analysis.hindcast.figure`), and the prior predictive beside it in the
  table, so each target's fit before and after calibration is visible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from balancesim.calibration.problem import Problem
from balancesim.calibration.smc import Outcome
from balancesim.experiment.folders import Output, written_whole
from balancesim.experiment.store import PARQUET_OPTIONS
from balancesim.scenario.posterior import FILE, WEIGHT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INFORMED = 0.5
PRIOR_GRID = 4000  # quantiles at which a prior's spread and histogram are computed


def parameter_table(problem: Problem, values: dict[str, np.ndarray], weights: np.ndarray) -> pd.DataFrame:
    """Per parameter: prior and posterior mean, sd and 90% band; the sd ratio; informed or not."""
    w = weights / weights.sum()
    prior = problem.values(_grid(problem.dimension))
    rows = []
    for path in problem.paths:
        p, v = prior[path], values[path]
        mean = float(w @ v)
        sd = float(np.sqrt(max(w @ (v - mean) ** 2, 0.0)))
        lo, hi = weighted_quantiles(v, w, [0.05, 0.95])
        prior_sd = float(p.std())
        ratio = sd / prior_sd if prior_sd > 0 else math.nan
        rows.append(
            {
                "path": path,
                "prior_mean": float(p.mean()),
                "prior_sd": prior_sd,
                "prior_p5": float(np.quantile(p, 0.05)),
                "prior_p95": float(np.quantile(p, 0.95)),
                "posterior_mean": mean,
                "posterior_sd": sd,
                "posterior_p5": lo,
                "posterior_p95": hi,
                "sd_ratio": ratio,
                "informed": bool(ratio < INFORMED),
            }
        )
    return pd.DataFrame(rows)


def _grid(dimension: int) -> np.ndarray:
    """Standard-normal coordinates of evenly spaced quantiles, the same in every dimension."""
    from scipy.special import ndtri

    z = ndtri((np.arange(PRIOR_GRID) + 0.5) / PRIOR_GRID)
    return np.repeat(z[:, None], dimension, axis=1)


def weighted_quantiles(x: np.ndarray, w: np.ndarray, q: list[float]) -> tuple[float, ...]:
    """Quantiles of weighted points (the weighted empirical distribution, inverted)."""
    order = np.argsort(x)
    cdf = np.cumsum(w[order]) / w.sum()
    return tuple(float(x[order][min(int(np.searchsorted(cdf, p)), len(x) - 1)]) for p in q)


def population_table(outcome: Outcome) -> pd.DataFrame:
    """Per population: threshold, runs, acceptance rate, ESS, seconds."""
    return pd.DataFrame(
        [
            {
                "population": i,
                "threshold": p.threshold,
                "particles": len(p.weights),
                "simulations": p.simulations,
                "acceptance": p.acceptance,
                "ess": p.ess,
                "seconds": p.seconds,
            }
            for i, p in enumerate(outcome.populations)
        ]
    )


def write_folder(folder: Path | Output, files: dict[str, Any]) -> list[Path]:
    """Write `files` (name -> bytes, text, a DataFrame for Parquet, or a matplotlib figure) atomically.

    Written into a hidden partial folder beside `folder` that replaces it
    only when complete, through the output-folder policy of `calibrate`
    (`folders.written_whole`); `folder` may be the `Output` the command line
    opened before the calibration. Returns the files written.
    """
    final = folder.folder if isinstance(folder, Output) else Path(folder)
    with written_whole(folder, "calibrate") as partial:
        for name, content in files.items():
            target = partial / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, pd.DataFrame):
                content.to_parquet(target, index=False, **PARQUET_OPTIONS)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            elif isinstance(content, str):
                target.write_text(content)
            else:  # a figure
                content.savefig(target, dpi=110)
    if isinstance(folder, Output):
        return folder.commit()
    return sorted(p for p in final.iterdir() if p.is_file() and not p.name.startswith("."))


def marginals_figure(
    problem: Problem, values: dict[str, np.ndarray], weights: np.ndarray, table: pd.DataFrame
) -> Figure:
    """One panel per parameter: prior (grey) and posterior (blue) histograms on the prior's range."""
    from balancesim.figures import pyplot

    plt = pyplot()

    prior = problem.values(_grid(problem.dimension))
    n = problem.dimension
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows + 0.5), squeeze=False)
    for ax, path, row in zip(axes.flat, problem.paths, table.itertuples(index=False), strict=False):
        p = prior[path]
        lo, hi = float(p.min()), float(p.max())
        bins = np.linspace(lo, hi, 31) if hi > lo else 10
        ax.hist(p, bins=bins, density=True, color="0.6", alpha=0.6, label="prior")
        ax.hist(
            values[path],
            bins=bins,
            weights=weights,
            density=True,
            color="tab:blue",
            alpha=0.6,
            label="posterior",
        )
        verdict = "informed" if row.informed else "not informed"
        ax.set_title(
            f"{path}\nsd ratio {row.sd_ratio:.2f}: {verdict}",
            fontsize=7.5,
            color="black" if row.informed else "0.4",
        )
        ax.tick_params(labelsize=6.5)
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(
        f"Prior (grey) and posterior (blue) marginals; informed: posterior sd < {INFORMED} x prior sd",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def report_text(
    name: str,
    manifest: dict[str, Any],
    params: pd.DataFrame,
    populations: pd.DataFrame,
    predictive: pd.DataFrame,
    screening: pd.DataFrame | None,
) -> str:
    """report.md: what was calibrated, how well, what the data pin down, and the fit per target."""
    m = manifest
    informed = params.loc[params["informed"], "path"].tolist()
    loose = params.loc[~params["informed"], "path"].tolist()
    last = populations.iloc[-1]
    lines = [
        f"# Calibration: {name}",
        "",
        f"Targets: `{m['targets_file']}` ({m['targets']} targets). Seed {m['seed']}, budget "
        f"`{m['budget']['name']}` ({m['budget']['particles']} particles, {m['budget']['populations']} "
        f"populations). SMC-ABC with ELFI {m['versions']['elfi']}; {m['simulations']:,} runs in "
        f"{m['timings']['total_s']:.0f} s.",
        "",
    ]
    if m.get("stopped_early"):
        lines += [
            f"**Stopped early** at the budget's {m['budget']['max_simulations']:,} runs: the posterior is "
            f"the last complete population ({len(populations) - 1}).",
            "",
        ]
    lines += [
        f"Effective sample size of the posterior: **{last['ess']:.0f}** of "
        f"{int(last['particles'])} particles.",
        "",
        "## Populations",
        "",
        "| population | threshold | runs | acceptance | ESS | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    r: Any  # pandas types the fields of itertuples' rows as any scalar; here they are numbers
    for r in populations.itertuples(index=False):
        lines.append(
            f"| {r.population} | {r.threshold:.3g} | {r.simulations:,} | {r.acceptance:.3f} | {r.ess:.0f} | "
            f"{r.seconds:.1f} |"
        )
    lines += [
        "",
        "## What the data pin down",
        "",
        f"Rule, fixed before any result: a parameter is *informed* when its posterior sd is below "
        f"{INFORMED} x its prior sd. Informed: {', '.join(f'`{p}`' for p in informed) or 'none'}. "
        f"Not pinned down: {', '.join(f'`{p}`' for p in loose) or 'none'}.",
        "",
        "| parameter | prior mean [90%] | posterior mean [90%] | sd ratio | informed |",
        "|---|---:|---:|---:|---|",
    ]
    for r in params.itertuples(index=False):
        lines.append(
            f"| `{r.path}` | {r.prior_mean:.4g} [{r.prior_p5:.4g}, {r.prior_p95:.4g}] | "
            f"{r.posterior_mean:.4g} [{r.posterior_p5:.4g}, {r.posterior_p95:.4g}] | {r.sd_ratio:.2f} | "
            f"{'yes' if r.informed else 'no'} |"
        )
    lines += ["", "![Prior and posterior marginals](marginals.png)", ""]
    if screening is not None:
        chosen = screening[screening["chosen"]]
        lines += [
            "## Screening",
            "",
            f"{m['screening']['runs']:,} prior runs ranked all {len(screening)} priors by the largest "
            f"|Spearman rho| with a target's statistic (noise level {m['screening']['noise']:.3f}); the "
            f"{len(chosen)} strongest above it were calibrated, the others drawn from their priors in "
            "every run.",
            "",
            "| prior | max abs rho | with target | calibrated |",
            "|---|---:|---|---|",
        ]
        for r in screening.head(max(len(chosen) + 5, 10)).itertuples(index=False):
            lines.append(f"| `{r.path}` | {abs(r.rho):.3f} | {r.target} | {'yes' if r.chosen else 'no'} |")
        lines.append("")
    lines += [
        "## Posterior predictive against every target",
        "",
        f"{m['predictive']['replicates']} runs drawn from the prior and from the posterior (same seed and "
        "noise). Pass rule as `balancesim hindcast` (docs/targets.md).",
        "",
        "| target | observed | prior: median [90%] | pass | posterior: median [90%] | pass |",
        "|---|---|---:|---|---:|---|",
    ]
    for r in predictive.itertuples(index=False):
        lines.append(
            f"| {r.target} | {r.observed} | {r.prior_median:+.3f} [{r.prior_p5:+.3f}, {r.prior_p95:+.3f}] | "
            f"{'PASS' if r.prior_passed else 'FAIL'} | {r.median:+.3f} [{r.p5:+.3f}, {r.p95:+.3f}] | "
            f"{'PASS' if r.passed else 'FAIL'} |"
        )
    passed_prior = int(predictive["prior_passed"].sum())
    passed_post = int(predictive["passed"].sum())
    lines += [
        "",
        f"Targets passed: {passed_prior} of {len(predictive)} under the prior, "
        f"{passed_post} under the posterior.",
        "",
        "![Posterior predictive](predictive.png)",
        "",
    ]
    return "\n".join(lines)


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1, default=_jsonable) + "\n"


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x)}")


def posterior_frame(values: dict[str, np.ndarray], weights: np.ndarray) -> pd.DataFrame:
    """posterior.parquet's table: one column per PATH, then the weights (normalised to sum 1)."""
    frame = pd.DataFrame({p: np.asarray(v, dtype=float) for p, v in values.items()})
    frame[WEIGHT] = weights / weights.sum()
    return frame


__all__ = [
    "FILE",
    "parameter_table",
    "population_table",
    "write_folder",
]
