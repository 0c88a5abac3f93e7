"""Rating task: parse raw model outputs to 1..5, then MAE, RMSE and the invalid rate.

An output is parsed as the first number it contains ("4", "4.0", " rating: 4", "rate_4", "4 stars"),
clipped to [1, 5]; no number (or a non-finite one) is unparseable. Unparseable outputs are counted in
`invalid_rate` and scored with a declared fallback rating (3.0, as the official UniMP code).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

FALLBACK_RATING = 3.0
RATING_MIN, RATING_MAX = 1.0, 5.0
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_rating(output) -> float | None:
    """A rating in [1, 5] from a raw output (str or number), or None when unparseable."""
    if output is None or isinstance(output, bool):
        return None
    if isinstance(output, (int, float, np.integer, np.floating)):
        value = float(output)
    else:
        match = _NUMBER.search(str(output))
        if match is None:
            return None
        value = float(match.group())
    if not math.isfinite(value):
        return None
    return min(max(value, RATING_MIN), RATING_MAX)


def rating_metrics(
    ratings: Sequence[float | None], targets: Sequence[float], fallback: float = FALLBACK_RATING
) -> dict[str, np.ndarray]:
    """Per-instance "abs_error", "sq_error" (fallback applied) and "invalid" (1.0 if unparseable).

    Aggregate with `aggregate_rating`: mae = mean abs_error, rmse = sqrt(mean sq_error),
    invalid_rate = mean invalid.
    """
    if len(ratings) != len(targets):
        raise ValueError(f"{len(ratings)} ratings for {len(targets)} targets")
    pred = np.array([np.nan if r is None else float(r) for r in ratings], dtype=np.float64)
    invalid = np.isnan(pred)
    err = np.where(invalid, fallback, pred) - np.asarray(targets, dtype=np.float64)
    return {"abs_error": np.abs(err), "sq_error": err**2, "invalid": invalid.astype(np.float64)}


def aggregate_rating(per_instance: dict[str, np.ndarray]) -> dict[str, float]:
    """mae, rmse, invalid_rate from `rating_metrics`' per-instance arrays."""
    return {
        "mae": float(per_instance["abs_error"].mean()),
        "rmse": float(math.sqrt(per_instance["sq_error"].mean())),
        "invalid_rate": float(per_instance["invalid"].mean()),
    }
