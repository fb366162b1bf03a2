"""Aggregate statistics across seeds: the interquartile mean and its bootstrap confidence interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
NUM_RESAMPLES = 2_000


def iqm(values: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of ``values`` (25% trimmed from each end).

    ``scipy.stats.trim_mean`` trims ``int(0.25 * n)`` values per end, so for fewer than 4 values
    it is the plain mean.
    """
    result = stats.trim_mean(np.asarray(values, dtype=float), 0.25, axis=axis)
    return float(result) if axis is None else result


def mean(values: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    result = np.mean(np.asarray(values, dtype=float), axis=axis)
    return float(result) if axis is None else result


def bootstrap_interval(values: Sequence[float], statistic=iqm, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap confidence interval of ``statistic`` over ``values``.

    ``statistic(values, axis=...)`` must reduce along ``axis``. With a single value, or
    identical values, the interval has zero width because resampling cannot vary the statistic.
    """
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("cannot compute a confidence interval of no values")
    if array.size == 1 or np.all(array == array[0]):
        value = statistic(array)
        return value, value

    result = stats.bootstrap(
        (array,), statistic, confidence_level=CONFIDENCE, n_resamples=NUM_RESAMPLES, method="percentile", rng=seed
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)
