"""L2-regularised logistic regression on sparse count features, in numpy (training only).

Rows are windows; ``Sparse`` holds them as CSR arrays. Full-batch Adam on the weighted
mean log-loss plus ``l2 / 2 * |w|^2`` (bias not penalised); deterministic. Also the
one-dimensional Platt fit that calibrates out-of-fold scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sparse:
    """CSR rows: ``indices[indptr[i]:indptr[i+1]]`` with ``values`` are row i's features."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    columns: int

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def dot(self, weights: np.ndarray) -> np.ndarray:
        products = self.values * weights[self.indices]
        sums = np.add.reduceat(products, self.indptr[:-1]) if len(products) else products
        empty = self.indptr[:-1] == self.indptr[1:]
        sums = np.where(empty, 0.0, sums) if len(products) else np.zeros(self.rows)
        return np.asarray(sums, dtype=np.float64)

    def transpose_dot(self, residual: np.ndarray) -> np.ndarray:
        row_of = np.repeat(np.arange(self.rows), np.diff(self.indptr))
        return np.bincount(
            self.indices, weights=self.values * residual[row_of], minlength=self.columns
        )


def build(rows: list[dict[int, float]], columns: int) -> Sparse:
    """CSR from one ``{column: value}`` dict per row."""
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for row in rows:
        for column, value in row.items():
            indices.append(column)
            values.append(value)
        indptr.append(len(indices))
    return Sparse(
        np.array(indptr, dtype=np.int64),
        np.array(indices, dtype=np.int64),
        np.array(values, dtype=np.float64),
        columns,
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit(
    x: Sparse,
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    l2: float,
    steps: int = 400,
    rate: float = 0.05,
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising the weighted mean log-loss plus the L2 penalty."""
    weights = np.zeros(x.columns)
    bias = 0.0
    total = float(sample_weight.sum())
    m_w, v_w = np.zeros_like(weights), np.zeros_like(weights)
    m_b = v_b = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        p = _sigmoid(x.dot(weights) + bias)
        residual = sample_weight * (p - y) / total
        grad_w = x.transpose_dot(residual) + l2 * weights
        grad_b = float(residual.sum())
        m_w = beta1 * m_w + (1 - beta1) * grad_w
        v_w = beta2 * v_w + (1 - beta2) * grad_w * grad_w
        m_b = beta1 * m_b + (1 - beta1) * grad_b
        v_b = beta2 * v_b + (1 - beta2) * grad_b * grad_b
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        weights -= rate * (m_w / correction1) / (np.sqrt(v_w / correction2) + eps)
        bias -= rate * (m_b / correction1) / (np.sqrt(v_b / correction2) + eps)
    return weights, bias


def platt(z: np.ndarray, y: np.ndarray, *, prior_weight: float = 1.0) -> tuple[float, float]:
    """``(a, b)`` so that ``sigmoid(a z + b)`` fits the labels (Platt's target smoothing),
    by Newton's method on the two parameters."""
    positives, negatives = float(y.sum()), float(len(y) - y.sum())
    target = np.where(y > 0, (positives + prior_weight) / (positives + 2 * prior_weight),
                      prior_weight / (negatives + 2 * prior_weight))  # fmt: skip
    a, b = 1.0, 0.0
    for _ in range(100):
        p = _sigmoid(a * z + b)
        g = np.array([np.sum((p - target) * z), np.sum(p - target)])
        s = p * (1 - p) + 1e-12
        h = np.array([[np.sum(s * z * z), np.sum(s * z)], [np.sum(s * z), np.sum(s)]])
        h += np.eye(2) * 1e-9
        step = np.linalg.solve(h, g)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-9:
            break
    return a, b
