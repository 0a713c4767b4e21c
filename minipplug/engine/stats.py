"""Means over training seeds and questions with bootstrap intervals, paired differences and verdicts (numpy only).

A method's scores form a matrix (S seeds, Q questions): one score per question per training seed, on the same
questions for every seed. Both are samples: another seed trains another plug, other questions are other users.
The interval resamples both (a two-stage bootstrap): S seeds with replacement, then Q questions with
replacement, the mean of the chosen rows and columns, repeated; the 2.5% and 97.5% quantiles of those means
are the 95% interval. The same rng_seed gives the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPLICATES = 2000
RNG_SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval [low, high]."""

    mean: float
    low: float
    high: float

    def to_dict(self) -> dict:
        """Rounded for the summary files (6 decimals: far below any difference a dev set can show)."""
        return {"mean": round(self.mean, 6), "low": round(self.low, 6), "high": round(self.high, 6)}


def _counts(rng: np.random.Generator, replicates: int, n: int) -> np.ndarray:
    """(replicates, n): how often each of n units is drawn when n are drawn with replacement."""
    draws = rng.integers(n, size=(replicates, n))
    counts = np.zeros((replicates, n))
    np.add.at(counts, (np.arange(replicates)[:, None], draws), 1.0)
    return counts


def bootstrap_mean(
    scores: np.ndarray, replicates: int = REPLICATES, rng_seed: int = RNG_SEED, level: float = LEVEL
) -> Interval:
    """The mean of a (seeds, questions) matrix and its interval over resampled seeds, then resampled questions."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"expected a non-empty (seeds, questions) matrix, got shape {scores.shape}")
    S, Q = scores.shape
    rng = np.random.default_rng(rng_seed)
    seed_counts = _counts(rng, replicates, S)  # (B, S)
    question_counts = _counts(rng, replicates, Q)  # (B, Q)
    # The mean over the drawn seeds x drawn questions = sum_s sum_q c_s c_q x_sq / (S Q), for each replicate b.
    means = np.einsum("bs,sq,bq->b", seed_counts, scores, question_counts) / (S * Q)  # (B,)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(scores.mean()), float(low), float(high))


def paired_difference(a: np.ndarray, b: np.ndarray, **kw) -> Interval:
    """Mean of a - b over the same seeds and questions, with its interval (same resampling for both)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same (seeds, questions), got {a.shape} and {b.shape}")
    return bootstrap_mean(a - b, **kw)


HOLDS, FAILS, UNSURE = "holds here", "does not hold here", "cannot tell"


def verdict(difference: Interval, higher_is_better: bool = True) -> str:
    """Whether "a beats b" holds, given the interval of a - b: all of it on the better side of 0, all of it on
    the worse side, or 0 inside it (an interval touching 0 cannot tell)."""
    better_low, better_high = (
        (difference.low, difference.high) if higher_is_better else (-difference.high, -difference.low)
    )
    if better_low > 0:
        return HOLDS
    if better_high < 0:
        return FAILS
    return UNSURE
