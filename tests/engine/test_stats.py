"""Means over seeds and questions, bootstrap intervals, paired differences and verdicts (engine/stats.py)."""

from __future__ import annotations

import numpy as np
import pytest

from minipplug.engine.stats import (
    FAILS,
    HOLDS,
    UNSURE,
    Interval,
    bootstrap_mean,
    paired_difference,
    verdict,
)


def direct_bootstrap(scores: np.ndarray, replicates: int, rng_seed: int) -> tuple[float, float]:
    """The two-stage bootstrap written out with indexing: the same draws (seeds first, then questions, all
    replicates at once), each replicate's mean over the chosen rows and columns, the 2.5% and 97.5% quantiles."""
    S, Q = scores.shape
    rng = np.random.default_rng(rng_seed)
    seed_draws = rng.integers(S, size=(replicates, S))
    question_draws = rng.integers(Q, size=(replicates, Q))
    means = [scores[np.ix_(s, q)].mean() for s, q in zip(seed_draws, question_draws)]
    return tuple(np.quantile(means, [0.025, 0.975]))


def test_a_known_paired_difference() -> None:
    # Two seeds, four questions. a - b = [[1, 0, 0, 0], [1, 0, 0, 0]]: a is right where b is wrong on question 0
    # in both seeds and they agree elsewhere, so the mean difference is 2 / 8 = 0.25 exactly.
    a = np.array([[1, 1, 0, 0], [1, 0, 1, 0]])
    b = np.array([[0, 1, 0, 0], [0, 0, 1, 0]])
    d = paired_difference(a, b)
    assert d.mean == 0.25
    assert bootstrap_mean(a).mean == 0.5 and bootstrap_mean(b).mean == 0.25
    # Resampling questions: question 0 drawn k of 4 times gives k / 4; never drawn (prob (3/4)^4 = 0.32) gives 0.
    assert d.low == 0.0 and d.high == pytest.approx(0.75)  # P(k >= 3) = 13/256 = 0.051 > 0.025; P(k = 4) < 0.025


def test_one_seed_two_questions_spans_the_whole_range() -> None:
    # Questions scored 0 and 1: a resample is {0, 0}, {0, 1} or {1, 1} with probability 1/4, 1/2, 1/4, so the
    # 2.5% quantile is 0 and the 97.5% quantile is 1.
    iv = bootstrap_mean(np.array([[0.0, 1.0]]))
    assert (iv.mean, iv.low, iv.high) == (0.5, 0.0, 1.0)


def test_the_counting_shortcut_equals_the_direct_bootstrap() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 2, size=(3, 40)).astype(float)
    iv = bootstrap_mean(scores, replicates=500, rng_seed=7)
    low, high = direct_bootstrap(scores, 500, 7)
    assert iv.low == pytest.approx(low, abs=1e-12) and iv.high == pytest.approx(high, abs=1e-12)


def test_seeds_are_resampled_too() -> None:
    # Every question the same within a seed, seeds far apart: the interval comes from the seeds alone.
    scores = np.array([[0.0] * 30, [1.0] * 30])
    iv = bootstrap_mean(scores)
    assert iv.mean == 0.5 and (iv.low, iv.high) == (0.0, 1.0)  # both seeds drawn as 0s or 1s: 1/4 each


@pytest.mark.parametrize("constant", [1.0, -1.0, 0.0])
def test_a_constant_difference_has_a_zero_width_interval(constant: float) -> None:
    b = np.random.default_rng(0).integers(0, 2, size=(3, 25)).astype(float)
    d = paired_difference(b + constant, b)
    assert d.mean == d.low == d.high == constant


def test_a_constant_fraction_has_a_zero_width_interval_up_to_rounding() -> None:
    d = paired_difference(np.full((2, 9), 0.3), np.zeros((2, 9)))
    assert d.mean == pytest.approx(0.3) and d.high - d.low == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_interval_contains_the_mean(seed: int) -> None:
    scores = np.random.default_rng(seed).integers(0, 2, size=(3, 60)).astype(float)
    iv = bootstrap_mean(scores)
    assert iv.low <= iv.mean <= iv.high and iv.low < iv.high


def test_the_same_rng_seed_gives_the_same_interval_twice() -> None:
    scores = np.random.default_rng(1).integers(0, 2, size=(3, 50)).astype(float)
    assert bootstrap_mean(scores) == bootstrap_mean(scores)
    assert bootstrap_mean(scores, rng_seed=3) == bootstrap_mean(scores, rng_seed=3)
    assert bootstrap_mean(scores, rng_seed=3) != bootstrap_mean(scores, rng_seed=4)  # the seed is used


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same"):
        paired_difference(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="matrix"):
        bootstrap_mean(np.zeros(4))


@pytest.mark.parametrize(
    "low,high,higher,expected",
    [
        (0.01, 0.2, True, HOLDS),
        (-0.2, -0.01, True, FAILS),
        (-0.1, 0.1, True, UNSURE),
        (0.0, 0.1, True, UNSURE),  # touching 0: cannot tell
        (0.0, 0.0, True, UNSURE),  # the same answers everywhere
        (-0.2, -0.01, False, HOLDS),  # MAE: a - b below 0 means a is better
        (0.01, 0.2, False, FAILS),
        (-0.1, 0.0, False, UNSURE),
    ],
)
def test_verdict(low: float, high: float, higher: bool, expected: str) -> None:
    assert verdict(Interval((low + high) / 2, low, high), higher_is_better=higher) == expected
