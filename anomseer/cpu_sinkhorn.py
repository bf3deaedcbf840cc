"""The grounding solve's kernel and Sinkhorn rounds on a CPU, as compiled loops (numba).

On a CPU, batched torch rounds pay a dispatch per matrix-vector product (200 per solve),
which costs more than the arithmetic of a small completion, and read the kernel twice per
round; building the cost and kernel from the matmul takes a torch pass per elementwise step.
Here one compiled pass turns the dot products into the kernel's exponents, numpy's vectorised
exp makes the kernel, and one compiled call runs all rounds of a chunk over each completion's
valid block only, reading the kernel once per round: four rows at a time give their entries of
u (from v) and then, while the rows are in cache, their share of K^T u. The cost matrix is
never stored: W's last pass recomputes each cost from its dot product. The recursion is the
reference's, in the arrays' dtype; only the order of the sums differs from a matrix-vector
product. Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

_FASTMATH = {"reassoc", "contract"}


def transport_costs(
    dots: np.ndarray,
    row_scales: np.ndarray,
    col_scales: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    epsilon: float,
    iterations: int,
) -> np.ndarray:
    """W_k = u^T (K_k * C_k) v after `iterations` rounds u = a / K v, v = b / K^T u from v = 1,
    with C = max(0, 1 - cos), cos_ij = dots_ij * row_scales_i * col_scales_j and
    K = exp(-C / epsilon).

    dots [c, N, M] (float32, or the dtype of the rest), reciprocal row norms row_scales [c, N]
    and col_scales [c, M], token masses a [c, N] and b [c, M], all of one float dtype, which
    the rounds run in; completion k's valid block is the first rows[k] x cols[k] entries (the
    rest is ignored).
    """
    kernel = np.empty(dots.shape, a.dtype)
    scale = a.dtype.type(-1.0 / epsilon)
    _kernel_exponents(dots, row_scales, col_scales, rows, cols, scale, kernel)
    np.exp(kernel, out=kernel)
    return _rounds(kernel, dots, row_scales, col_scales, a, b, rows, cols, iterations)


@numba.njit(inline="always")
def _cost(dot, row_scale, col_scale, one):
    """max(0, 1 - cos) as 1 - min(cos, 1), in the scales' dtype."""
    return one - min(dot * row_scale * col_scale, one)


@numba.njit(cache=True, fastmath=_FASTMATH, nogil=True, error_model="numpy")
def _kernel_exponents(dots, row_scales, col_scales, rows, cols, scale, out):
    """out = C * scale (scale = -1 / epsilon) on each valid block, 0 elsewhere (kernel 1)."""
    one = out.dtype.type(1)
    zero = out.dtype.type(0)
    for k in range(dots.shape[0]):
        n, m = rows[k], cols[k]
        for i in range(dots.shape[1]):
            if i >= n:
                out[k, i, :] = zero
                continue
            row_scale = row_scales[k, i]
            for j in range(m):
                out[k, i, j] = _cost(dots[k, i, j], row_scale, col_scales[k, j], one) * scale
            out[k, i, m:] = zero


@numba.njit(cache=True, fastmath=_FASTMATH, nogil=True, error_model="numpy")
def _rounds(kernel, dots, row_scales, col_scales, a, b, rows, cols, iterations):
    """`transport_costs`' rounds and W on the kernel it built."""
    out = np.empty(kernel.shape[0], kernel.dtype)
    zero = kernel.dtype.type(0)
    one = kernel.dtype.type(1)
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
            row, dot_row, row_scale = kernel[k, i, :m], dots[k, i, :m], row_scales[k, i]
            total = zero
            for j in range(m):
                cost = _cost(dot_row[j], row_scale, col_scales[k, j], one)
                total += row[j] * cost * v[j]
            w += u[i] * total
        out[k] = w
    return out
