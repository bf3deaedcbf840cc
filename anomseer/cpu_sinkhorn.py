"""The grounding solve's Sinkhorn rounds on a CPU, as one compiled loop (numba).

On a CPU, batched torch rounds pay a dispatch per matrix-vector product (200 per solve),
which costs more than the arithmetic of a small completion, and read the kernel twice per
round. This loop runs all rounds of a chunk in one call, over each completion's valid block
only, and reads the kernel once per round: four rows at a time give their entries of u
(from v) and then, while the rows are in cache, their share of K^T u. The recursion is the
reference's, in the arrays' dtype; only the order of the sums differs from a matrix-vector
product. Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True, error_model="numpy")
def transport_costs(
    kernel: np.ndarray,
    cost: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    iterations: int,
) -> np.ndarray:
    """W_k = u^T (K_k * C_k) v after `iterations` rounds u = a / K v, v = b / K^T u from v = 1.

    kernel and cost [c, N, M], token masses a [c, N] and b [c, M], all of one float dtype;
    completion k's valid block is the first rows[k] x cols[k] entries (the rest is ignored).
    """
    out = np.empty(kernel.shape[0], kernel.dtype)
    zero = kernel.dtype.type(0)
    for k in range(kernel.shape[0]):
        n, m = rows[k], cols[k]
        u = np.empty(n, kernel.dtype)
        v = np.ones(m, kernel.dtype)
        column_sums = np.empty(m, kernel.dtype)
        for _ in range(iterations):
            column_sums[:] = zero
            i = 0
            while i + 4 <= n:  # four rows: u_i..u_i+3, then their part of K^T u
                r0, r1 = kernel[k, i, :m], kernel[k, i + 1, :m]
                r2, r3 = kernel[k, i + 2, :m], kernel[k, i + 3, :m]
                s0 = s1 = s2 = s3 = zero
                for j in range(m):
                    s0 += r0[j] * v[j]
                    s1 += r1[j] * v[j]
                    s2 += r2[j] * v[j]
                    s3 += r3[j] * v[j]
                u0, u1 = a[k, i] / s0, a[k, i + 1] / s1
                u2, u3 = a[k, i + 2] / s2, a[k, i + 3] / s3
                u[i], u[i + 1], u[i + 2], u[i + 3] = u0, u1, u2, u3
                for j in range(m):
                    column_sums[j] += r0[j] * u0 + r1[j] * u1 + r2[j] * u2 + r3[j] * u3
                i += 4
            while i < n:  # the last rows, one at a time
                r0 = kernel[k, i, :m]
                s0 = zero
                for j in range(m):
                    s0 += r0[j] * v[j]
                u0 = a[k, i] / s0
                u[i] = u0
                for j in range(m):
                    column_sums[j] += r0[j] * u0
                i += 1
            for j in range(m):
                v[j] = b[k, j] / column_sums[j]
        w = zero
        for i in range(n):
            row, cost_row = kernel[k, i, :m], cost[k, i, :m]
            total = zero
            for j in range(m):
                total += row[j] * cost_row[j] * v[j]
            w += u[i] * total
        out[k] = w
    return out
