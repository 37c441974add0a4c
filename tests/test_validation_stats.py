"""The validation's intervals are scipy's: Wilson for shares of runs, the percentile bootstrap
over replicates otherwise, seeded so that figures repeat and paired arms stay paired."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from balancesim.validation.core import BOOTSTRAP_SAMPLES, Stats


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0),
    ],
)
def test_wilson_interval_known_values(k, n, low, high):
    e = Stats.proportion(np.arange(n) < k)
    assert e.value == k / n
    assert e.low == pytest.approx(low, abs=5e-5) and e.high == pytest.approx(high, abs=5e-5)
    assert 0.0 <= e.low <= e.value <= e.high <= 1.0


def _scipy_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 0xB007]))


def test_bootstrap_is_scipys_percentile_bootstrap():
    x = np.random.default_rng(3).gamma(2.0, 1.0, 300)
    e = Stats(300, seed=5).mean(x)
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=BOOTSTRAP_SAMPLES, method="percentile", rng=_scipy_rng(5)
    ).confidence_interval
    assert e.value == pytest.approx(x.mean(), rel=1e-12)
    assert (e.low, e.high) == pytest.approx((ref.low, ref.high), rel=1e-12)


def test_paired_bootstrap_matches_scipy_paired():
    """A contrast of two arms resamples the same replicates in both (scipy's paired=True)."""
    rng = np.random.default_rng(8)
    luck = rng.normal(0, 1, 200)  # common random numbers: most of the variation is shared
    a, b = luck + 0.05 + rng.normal(0, 0.01, 200), luck
    e = Stats(200, seed=1).boot(lambda m, n: m - n, a, b)
    ref = stats.bootstrap(
        (a, b),
        lambda u, v, axis: u.mean(axis=axis) - v.mean(axis=axis),
        paired=True,
        n_resamples=BOOTSTRAP_SAMPLES,
        method="percentile",
        rng=_scipy_rng(1),
    ).confidence_interval
    assert (e.low, e.high) == pytest.approx((ref.low, ref.high), rel=1e-9)
    assert e.high - e.low < 0.01  # pairing removes the shared luck
    separate = Stats(200, seed=1).mean(a)
    assert separate.high - separate.low > 0.2


def test_figures_repeat_and_arms_share_resamples():
    """Same seed, same figures; every figure uses the same resamples, so shifting an arm
    by a constant shifts its interval by exactly that constant."""
    x = np.random.default_rng(4).normal(size=(150, 3))
    one, two = Stats(150, seed=9), Stats(150, seed=9)
    assert one.mean(x[:, 0]) == two.mean(x[:, 0])
    first, shifted = one.boot(lambda m: m.sum(axis=1), x), one.boot(lambda m: m.sum(axis=1) + 1.0, x)
    assert shifted.low == pytest.approx(first.low + 1.0, abs=1e-12)
    assert shifted.high == pytest.approx(first.high + 1.0, abs=1e-12)
    assert Stats(150, seed=10).mean(x[:, 0]) != one.mean(x[:, 0])
