"""Percentile bootstrap over instances, and the paired bootstrap for comparing two runs.

Every statistic here is a function of the column sums of the (resampled) per-instance data, which is
what makes resampling cheap: resample b's sums are `counts[b] @ data`, where counts[b, i] is how often
instance i was drawn. A mean is `sums / n`; RMSE is `sqrt(sums / n)` of squared errors; corpus BLEU is
computed from summed sufficient statistics (see `benchmark.metrics.text`).

The resample indices depend only on (seed, n, n_boot), so every metric of a run, and both runs of a
paired comparison, use the same resamples.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

# statistic(sums, n) -> value: sums is (..., d) column sums over n instances (d = 1 for a 1-D input).
Statistic = Callable[[np.ndarray, int], np.ndarray]
_BLOCK = 64  # resamples per block: bounds memory at _BLOCK x n counts


def mean_statistic(sums: np.ndarray, n: int) -> np.ndarray:
    """Mean of each column."""
    return sums / n


def rmse_statistic(sums: np.ndarray, n: int) -> np.ndarray:
    """Root of the mean, for per-instance squared errors."""
    return np.sqrt(sums / n)


def _as_2d(data) -> np.ndarray:
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"bootstrap needs a non-empty (n,) or (n, d) array, got shape {x.shape}")
    return x


def _squeeze(v: np.ndarray) -> np.ndarray:
    """(n_boot, 1) -> (n_boot,): a one-column input gives a scalar statistic per resample."""
    return v[:, 0] if v.ndim == 2 and v.shape[1] == 1 else v


def check_n_boot(n_boot, least: int = 1) -> None:
    """ValueError unless `n_boot` is an integer >= `least` (bools and floats are not counts)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < least:
        why = " (0: no intervals)" if least == 0 else ""
        raise ValueError(f"n_boot must be an integer >= {least}{why}, got {n_boot!r}")


def resample_sums(datas: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """Column sums of `n_boot` bootstrap resamples of each (n, d) array, all with the same indices."""
    check_n_boot(n_boot)
    n = len(datas[0])
    rng = np.random.default_rng(seed)
    out = [np.empty((n_boot, x.shape[1])) for x in datas]
    for b0 in range(0, n_boot, _BLOCK):
        b = min(_BLOCK, n_boot - b0)
        idx = rng.integers(0, n, size=(b, n))
        # counts[r, i] = times instance i is drawn in resample r, via one flat bincount
        counts = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        for x, o in zip(datas, out):
            o[b0:b0 + b] = counts @ x
    return out


def bootstrap_distribution(
    data, statistic: Statistic = mean_statistic, n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """The statistic on each of `n_boot` resamples: (n_boot,) or (n_boot, m)."""
    x = _as_2d(data)
    (sums,) = resample_sums([x], n_boot, seed)
    return _squeeze(np.asarray(statistic(sums, len(x)), dtype=np.float64))


def _percentiles(dist: np.ndarray, alpha: float) -> tuple:
    low, high = np.quantile(dist, [alpha / 2, 1 - alpha / 2], axis=0)
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def bootstrap_ci(
    data, statistic: Statistic = mean_statistic, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple:
    """Percentile-method (1 - alpha) interval of `statistic` over instances.

    data: (n,) per-instance values or (n, d) per-instance statistics. Returns (low, high) floats, or
    arrays when the statistic is vector-valued (e.g. the mean of several metric columns at once).
    """
    return _percentiles(bootstrap_distribution(data, statistic, n_boot, seed), alpha)


def paired_bootstrap(
    a, b, statistic: Statistic = mean_statistic, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, float]:
    """Compare runs a and b on the same instances (row i of a and b is the same instance).

    Returns diff = stat(a) - stat(b), its percentile interval [low, high] over resamples that draw the
    same instances for both runs, and a two-sided p-value for "no difference" from the resampled
    differences shifted to mean zero: p = (1 + #{|d*_r - diff| >= |diff|}) / (n_boot + 1).
    """
    xa, xb = _as_2d(a), _as_2d(b)
    if xa.shape != xb.shape:
        raise ValueError(f"paired runs differ in shape: {xa.shape} vs {xb.shape}")
    n = len(xa)
    observed = np.asarray(statistic(xa.sum(0), n) - statistic(xb.sum(0), n), dtype=np.float64)
    if observed.size != 1:
        raise ValueError("paired_bootstrap compares one scalar statistic; pass one metric at a time")
    diff = float(observed.reshape(-1)[0])
    sa, sb = resample_sums([xa, xb], n_boot, seed)
    d = _squeeze(np.asarray(statistic(sa, n) - statistic(sb, n), dtype=np.float64))
    low, high = _percentiles(d, alpha)
    extreme = np.abs(d - diff) >= abs(diff) - 1e-12  # centred at the null of no difference
    p_value = (1 + int(extreme.sum())) / (n_boot + 1)
    return {"diff": diff, "low": low, "high": high, "p_value": float(p_value)}
