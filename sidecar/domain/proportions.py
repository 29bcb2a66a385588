"""Confidence intervals for proportions, written once: Wilson's score interval for one proportion
and Newcombe's hybrid score interval for the difference of two independent ones (method 10 of
Newcombe, "Interval estimation for the difference between independent proportions: comparison of
eleven methods", Statistics in Medicine 17:873-890, 1998).

Pure arithmetic, no dependency: statsmodels or scipy would each bring hundreds of megabytes for
these few lines. Newcombe's interval was chosen because it stays inside [-1, 1], behaves at 0 and
at small counts (a site's first months), and needs no iteration.
"""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist


def z_for(confidence: float) -> float:
    """The two-sided normal quantile: 1.959963984540054 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for ``successes / total`` (without continuity correction)."""
    if total <= 0 or not 0 <= successes <= total:
        raise ValueError("need 0 <= successes <= total and total > 0")
    z = z_for(confidence)
    p = successes / total
    centre = 2 * total * p + z * z
    spread = z * sqrt(z * z + 4 * total * p * (1 - p))
    denominator = 2 * (total + z * z)
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def newcombe_difference(successes_1: int, total_1: int, successes_2: int, total_2: int,
                        confidence: float = 0.95) -> tuple[float, float, float]:
    """``p1 - p2`` and its hybrid score interval: ``(difference, lower, upper)``, each in [-1, 1].

    Each limit combines the distances from each proportion to its own Wilson limits:
    lower = d - sqrt((p1 - l1)² + (u2 - p2)²), upper = d + sqrt((u1 - p1)² + (p2 - l2)²)."""
    p1, p2 = successes_1 / total_1, successes_2 / total_2
    l1, u1 = wilson(successes_1, total_1, confidence)
    l2, u2 = wilson(successes_2, total_2, confidence)
    difference = p1 - p2
    lower = difference - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, lower, upper
