"""The unbiased pass@k estimator (Chen et al. 2021)."""

from __future__ import annotations

import math


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples of which c passed (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k), in the product form that stays exact for large n."""
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} is defined for 1 <= k <= n samples (n={n})")
    if not 0 <= c <= n:
        raise ValueError(f"passing samples c={c} must be between 0 and n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(per_task: list[tuple[int, int]], k: int) -> float:
    """The mean of pass_at_k over tasks given as (n, c) pairs."""
    if not per_task:
        raise ValueError("pass@k of an empty task set is undefined")
    return sum(pass_at_k(n, c, k) for n, c in per_task) / len(per_task)
