"""Seeded stratified sampling: subsets and train/test splits that keep the class proportions."""

from __future__ import annotations

import numpy as np

__all__ = ["class_quotas", "stratified_choice", "stratified_split"]


def class_quotas(counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``k`` draws among classes in proportion to ``counts`` (largest-remainder method).

    Each class gets ``floor(k * n_c / N)``; the draws left over go to the classes with the largest
    fractional parts, ties broken by ``rng``. The quotas sum to ``k`` and never exceed ``counts``.

    Args:
        counts: items per class, non-negative, summing to N >= k.
        k: number of draws, 0 <= k <= N.
        rng: breaks ties between equal remainders.

    Shape:
        counts ``(C,)`` -> quotas ``(C,)`` (int64).
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    exact = k * counts / total if total else np.zeros(len(counts))
    quotas = np.floor(exact).astype(np.int64)
    left = k - int(quotas.sum())
    if left:
        # Random tie-break: shuffle, then a stable sort on the remainders (largest first).
        order = rng.permutation(len(counts))
        order = order[np.argsort(-(exact - quotas)[order], kind="stable")]
        quotas[order[:left]] += 1
    return quotas


def stratified_choice(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement, keeping the class proportions.

    Args:
        labels: integer class of every item.
        k: how many to draw, 0 <= k <= len(labels).
        rng: the source of randomness.

    Returns:
        Sorted indices (the items keep their original relative order).

    Shape:
        labels ``(N,)`` -> indices ``(k,)``.
    """
    labels = np.asarray(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = class_quotas(counts, k, rng)
    chosen = [
        rng.choice(np.flatnonzero(inverse == c), size=int(q), replace=False)
        for c, q in enumerate(quotas)
        if q
    ]
    if not chosen:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(
    labels: np.ndarray, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train/test split, both parts shuffled.

    Args:
        labels: integer class of every item (may be sorted by class: the parts are shuffled).
        n_test: size of the test part, 0 < n_test < len(labels).
        rng: the source of randomness.

    Returns:
        ``(train_indices, test_indices)``, disjoint, covering every item, each in random order.

    Shape:
        labels ``(N,)`` -> ``(N - n_test,)``, ``(n_test,)``.
    """
    test = stratified_choice(labels, n_test, rng)
    mask = np.ones(len(labels), dtype=bool)
    mask[test] = False
    train = np.flatnonzero(mask)
    return rng.permutation(train), rng.permutation(test)
