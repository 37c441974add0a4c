"""Screening: which priors the targets respond to, so that SMC-ABC calibrates those.

SMC-ABC's importance weights degenerate as the number of calibrated
dimensions grows (each dimension multiplies the spread of prior / proposal);
with the baseline's 179 priors, measured, the effective sample size fell to
1 of 200 particles in the first SMC population. So a calibration first runs a
pilot of prior draws, one engine call, and ranks every prior by the largest
|Spearman rho| between it and any target's statistic (`importance`). The
strongest `k` above the noise level (`importance.noise_level`, corrected for
the number of priors x targets looked at) are calibrated; every other prior
stays uncertain and is drawn from its prior in every run (`Problem.nuisance`),
so the posterior averages over what the data do not speak to instead of
fixing it. `--param` names the calibrated priors instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancesim.calibration.problem import Problem


@dataclass
class Screening:
    """The pilot's ranking of every prior, and the ones chosen."""

    table: pd.DataFrame  # path, score (max |rho| over targets), target (where it is largest), chosen
    runs: int
    noise: float
    seconds: float

    @property
    def chosen(self) -> list[str]:
        return self.table.loc[self.table["chosen"], "path"].tolist()


def screen(problem: Problem, runs: int, keep: int, seed: int) -> Screening:
    """Rank every prior of `problem` (all calibrated) by how strongly a target follows it."""
    import time

    from balancesim.experiment.importance import noise_level

    started = time.perf_counter()
    rng = np.random.default_rng([seed, 0x5C2EE7])
    z = rng.standard_normal((runs, problem.dimension))
    stats = problem.simulate(z, int(rng.integers(0, 2**62)))
    ids = problem.targets.ids
    rz = _ranks(z)
    rs = _ranks(stats)
    rz -= rz.mean(axis=0)
    rs -= rs.mean(axis=0)
    scale = np.sqrt(np.outer((rz**2).sum(axis=0), (rs**2).sum(axis=0)))
    rho = np.divide(rz.T @ rs, scale, out=np.zeros(scale.shape), where=scale > 0)  # (P, K)
    score = np.abs(rho).max(axis=1)
    where = np.abs(rho).argmax(axis=1)
    noise = noise_level(runs, problem.dimension * len(ids))
    table = pd.DataFrame(
        {
            "path": problem.paths,
            "score": score,
            "rho": rho[np.arange(len(score)), where],
            "target": [ids[k] for k in where],
        }
    )
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    table["chosen"] = (table.index < keep) & (table["score"] > noise)
    if not table["chosen"].any():  # nothing above noise: still calibrate the strongest one
        table.loc[0, "chosen"] = True
    return Screening(table, runs, noise, time.perf_counter() - started)


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=0)
