"""How close a completion's reasoning is to the expert chain of thought (SPEC section 5, step 2).

Entropic optimal transport between the policy's last-layer hidden states of the completion
tokens and of the ExpCoT tokens gives a transport cost W per completion, W -> similarity
s = clip(exp(-W / tau), 0, 1) -> grounded advantage A_ts = s - group mean. Everything runs
on the device holding the states, without gradient: cosine costs from float32 matmuls over
each completion's valid tokens, then the reference's Sinkhorn recursion in the requested
dtype over chunks of completions (the whole batch on a GPU, as batched matrix products; on a
CPU chunks small enough to stay in cache, with the kernel built from the dot products and all
rounds run by compiled loops, `anomseer.cpu_sinkhorn`), in the log domain where the standard
one would underflow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch

from anomseer.errors import UserInputError
from anomseer.projection import grouped

MARGINALS = ("norm_softmax", "uniform")
"""Token masses: softmax of the hidden-state norms over valid tokens, or uniform."""
SIMILARITIES = ("ot", "cosine")
"""Optimal-transport similarity, or cosine of the mean-pooled states (an ablation)."""

CPU_CHUNK_PAIRS = 65_536
"""On a CPU, completions are solved together while their padded cost matrices hold at most
this many token pairs (512 KiB in float64, cache-sized); a larger one is solved alone. Small
completions then share one matmul and one pass of each elementwise step instead of paying
torch's dispatch each, and large ones waste no padding. A GPU solves the batch at once."""
_UNDERFLOW_HEADROOM = 20.0
"""Natural-log margin kept above the dtype's smallest normal number in the standard domain."""


class GroundedSimilarity(NamedTuple):
    """Per-completion similarity s in [0, 1] and, for "ot", the transport cost W behind it."""

    similarity: torch.Tensor
    transport_cost: torch.Tensor | None


def check_ot_settings(
    epsilon: float = 0.08,
    iterations: int = 50,
    marginals: str = "norm_softmax",
    temperature: float = 0.5,
) -> None:
    """Refuse settings the transport cost or the similarity cannot use, naming the option."""
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise UserInputError(f"ot_epsilon must be a positive number, got {epsilon}")
    if iterations < 1:
        raise UserInputError(f"ot_iterations must be at least 1, got {iterations}")
    if marginals not in MARGINALS:
        raise UserInputError(
            f"ot_marginals must be one of {', '.join(MARGINALS)}, got {marginals!r}"
        )
    if not (math.isfinite(temperature) and temperature > 0):
        raise UserInputError(f"ot_temperature must be a positive number, got {temperature}")


def _check_pair(
    resp_states: torch.Tensor,
    resp_mask: torch.Tensor,
    ref_states: torch.Tensor,
    ref_mask: torch.Tensor,
) -> None:
    if resp_states.dim() != 3 or ref_states.dim() != 3:
        raise ValueError(
            "states must be [batch, tokens, hidden], got "
            f"{tuple(resp_states.shape)} and {tuple(ref_states.shape)}"
        )
    if resp_mask.shape != resp_states.shape[:2] or ref_mask.shape != ref_states.shape[:2]:
        raise ValueError(
            "masks must be [batch, tokens] matching their states, got "
            f"{tuple(resp_mask.shape)} for {tuple(resp_states.shape)} and "
            f"{tuple(ref_mask.shape)} for {tuple(ref_states.shape)}"
        )
    if resp_states.shape[0] != ref_states.shape[0] or resp_states.shape[2] != ref_states.shape[2]:
        raise ValueError(
            "response and reference states need the same batch and hidden sizes, got "
            f"{tuple(resp_states.shape)} and {tuple(ref_states.shape)}"
        )


@torch.no_grad()
def transport_cost(
    resp_states: torch.Tensor,
    resp_mask: torch.Tensor,
    ref_states: torch.Tensor,
    ref_mask: torch.Tensor,
    epsilon: float = 0.08,
    iterations: int = 50,
    marginals: str = "norm_softmax",
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """W_i = <T_i, C_i> of entropic OT between response and reference tokens; shape [B].

    resp_states [B, n, d] with resp_mask [B, n] (true = valid token), ref_states [B, m, d]
    with ref_mask [B, m]. Cost C_tk = max(0, 1 - cos(h_t, h_k)) from float32 matmuls;
    marginals per `marginals`; `iterations` Sinkhorn rounds from ones, u first, no early
    stop, in `dtype` (float64 by default, as the reference). A side without valid tokens
    gives W = 1. Runs on the states' device over each completion's valid tokens; memory is a
    few [B, longest valid n, longest valid m] tensors of `dtype` on a GPU, cache-sized on a CPU.
    """
    _check_pair(resp_states, resp_mask, ref_states, ref_mask)
    check_ot_settings(epsilon=epsilon, iterations=iterations, marginals=marginals)
    device = resp_states.device
    resp_tokens = _ValidTokens(resp_states, resp_mask)
    ref_tokens = _ValidTokens(ref_states, ref_mask)
    cost = torch.ones(resp_states.shape[0], dtype=dtype, device=device)
    pairs = zip(resp_tokens.lengths, ref_tokens.lengths, strict=True)
    solvable = [i for i, (n, m) in enumerate(pairs) if n and m]
    chunks = _chunks(solvable, resp_tokens.lengths, ref_tokens.lengths, device.type == "cpu")
    solved, solutions = [], []
    with _ieee_float32_matmul(device):
        for items in chunks:
            resp, resp_valid = resp_tokens.packed(items)
            ref, ref_valid = ref_tokens.packed(items)
            solutions.append(
                _solve(resp, resp_valid, ref, ref_valid, epsilon, iterations, marginals, dtype)
            )
            solved += items
    if solved:
        cost[torch.tensor(solved, device=device)] = torch.cat(solutions)
    return cost


class _ValidTokens:
    """One side's states with where each completion's valid tokens are (read on the host)."""

    def __init__(self, states: torch.Tensor, mask: torch.Tensor) -> None:
        self.states = states
        self.mask = mask.to(device=states.device, dtype=torch.bool)
        host = mask.detach().to("cpu", torch.bool).numpy()
        if host.shape[1] == 0:  # no positions at all: one padding column keeps argmax defined
            host = np.zeros((host.shape[0], 1), dtype=bool)
        lengths = host.sum(axis=1)
        first = host.argmax(axis=1)  # 0 for a row without valid tokens
        last = host.shape[1] - host[:, ::-1].argmax(axis=1)
        self.lengths: list[int] = lengths.tolist()
        self.first: list[int] = first.tolist()
        self.contiguous: list[bool] = ((last - first == lengths) | (lengths == 0)).tolist()

    def packed(self, items: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Float32 states of `items`' valid tokens moved to the front, [c, longest, d], and the
        mask of those positions. Tokens that already start each row are sliced, not gathered
        (one completion's: a view)."""
        lengths = np.array([self.lengths[i] for i in items])
        width = lengths.max()
        device = self.states.device
        valid = torch.from_numpy(np.arange(width) < lengths[:, None]).to(device)
        consecutive = items == list(range(items[0], items[-1] + 1))
        index = None if consecutive else torch.tensor(items, device=device)
        if all(self.contiguous[i] for i in items) and len({self.first[i] for i in items}) == 1:
            start = self.first[items[0]]
            if index is None:  # consecutive rows: a view
                rows = self.states[items[0] : items[-1] + 1]
            else:
                rows = self.states.index_select(0, index)
            return rows[:, start : start + width].float(), valid
        if index is None:
            index = torch.tensor(items, device=device)
        # a stable sort of "is padding" lists each row's valid positions first, in order
        positions = torch.sort(~self.mask[index], dim=1, stable=True).indices[:, :width]
        return self.states[index[:, None], positions].float(), valid


def _chunks(
    items: list[int], resp_lengths: list[int], ref_lengths: list[int], on_cpu: bool
) -> Iterator[list[int]]:
    """Groups of completions solved together (each in batch order): all of them on a GPU; on
    a CPU, completions of similar size while the group's padded cost matrices hold at most
    CPU_CHUNK_PAIRS pairs."""
    if not on_cpu:
        if items:
            yield items
        return
    chunk: list[int] = []
    rows = cols = 0
    for i in sorted(items, key=lambda i: resp_lengths[i] * ref_lengths[i]):
        grown_rows, grown_cols = max(rows, resp_lengths[i]), max(cols, ref_lengths[i])
        if chunk and (len(chunk) + 1) * grown_rows * grown_cols > CPU_CHUNK_PAIRS:
            yield sorted(chunk)
            chunk, grown_rows, grown_cols = [], resp_lengths[i], ref_lengths[i]
        chunk.append(i)
        rows, cols = grown_rows, grown_cols
    if chunk:
        yield sorted(chunk)


@contextmanager
def _ieee_float32_matmul(device: torch.device) -> Iterator[None]:
    """Full float32 matmuls on CUDA even where TF32 is on (its 10-bit mantissa would move
    the cosines by about 1e-3, far outside W's tolerance)."""
    if device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul
    saved = matmul.fp32_precision
    matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        matmul.fp32_precision = saved


def _solve(
    resp: torch.Tensor,
    resp_valid: torch.Tensor,
    ref: torch.Tensor,
    ref_valid: torch.Tensor,
    epsilon: float,
    iterations: int,
    marginals: str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """W of each completion of one packed chunk ([c, n, d] against [c, m, d]); shape [c]."""
    resp_norm = torch.linalg.vector_norm(resp, dim=-1).to(dtype)
    ref_norm = torch.linalg.vector_norm(ref, dim=-1).to(dtype)
    # the small steps before the matmul, which leaves the states in cache but evicts the rest
    resp_scale, ref_scale = _reciprocal(resp_norm), _reciprocal(ref_norm)
    a = _marginal(resp_norm, resp_valid, marginals)
    b = _marginal(ref_norm, ref_valid, marginals)
    dots = torch.bmm(resp, ref.mT)
    problem = _Problem(dots, resp_scale, ref_scale, a, b, resp_valid, ref_valid)
    if _standard_domain_is_safe(problem, epsilon):
        result = _sinkhorn(problem, epsilon, iterations)
        if torch.isfinite(result).all():
            return result
    return _log_sinkhorn(problem, epsilon, iterations)


def _reciprocal(norms: torch.Tensor) -> torch.Tensor:
    """1 / norm, with a zero state counted as a zero unit vector (its cosines are 0)."""
    return 1.0 / norms.clamp(min=1e-12)


class _Problem(NamedTuple):
    """One chunk's transport problem: float32 dot products of its states [c, n, m] and the
    reciprocal norms of their rows (resp_scale [c, n], ref_scale [c, m]), token masses a [c, n]
    and b [c, m] (0 on padding), all but the dots in the solve's dtype, and which tokens are
    real (each completion's valid tokens first)."""

    dots: torch.Tensor
    resp_scale: torch.Tensor
    ref_scale: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    resp_valid: torch.Tensor
    ref_valid: torch.Tensor

    def cost(self) -> torch.Tensor:
        """C = max(0, 1 - cos) [c, n, m] in the solve's dtype. Pairs with a padded token cost
        0, so kernel 1: zero-mass rows and columns then get scaling 0 / (positive) = 0 and add
        nothing to any valid token's sums."""
        cosine = torch.mul(self.dots, self.resp_scale[:, :, None]).mul_(self.ref_scale[:, None, :])
        cost = torch.rsub(cosine.clamp_(max=1.0), 1.0)
        if not (self.resp_valid.all() and self.ref_valid.all()):
            cost.masked_fill_(~(self.resp_valid[:, :, None] & self.ref_valid[:, None, :]), 0.0)
        return cost


def _marginal(norms: torch.Tensor, valid: torch.Tensor, marginals: str) -> torch.Tensor:
    """Token masses over the valid tokens, zero on padding; rows sum to 1."""
    if marginals == "uniform":
        weights = valid.to(norms.dtype)
        return weights / weights.sum(dim=1, keepdim=True)
    return torch.softmax(norms.masked_fill(~valid, -math.inf), dim=1)


def _standard_domain_is_safe(problem: _Problem, epsilon: float) -> bool:
    """Whether every kernel value exp(-C / epsilon) stays well above the dtype's smallest
    normal number (then the scalings u, v stay finite too)."""
    floor = math.log(torch.finfo(problem.a.dtype).tiny) + _UNDERFLOW_HEADROOM
    if -2.0 / epsilon > floor:  # costs are at most 2 (cosines are at least -1)
        return True
    return -problem.cost().max().item() / epsilon > floor


def _sinkhorn(problem: _Problem, epsilon: float, iterations: int) -> torch.Tensor:
    """The reference recursion u = a / K v, v = b / K^T u, batched; W = u^T (K * C) v. On a
    CPU the kernel and rounds are compiled loops (`anomseer.cpu_sinkhorn`), elsewhere `bmm`s."""
    if problem.dots.device.type != "cpu":
        return _batched_rounds(problem, epsilon, iterations)
    from anomseer.cpu_sinkhorn import transport_costs

    arrays = (problem.dots, problem.resp_scale, problem.ref_scale, problem.a, problem.b)
    costs = transport_costs(
        *(array.numpy() for array in arrays),
        problem.resp_valid.numpy().sum(axis=1),
        problem.ref_valid.numpy().sum(axis=1),
        epsilon,
        iterations,
    )
    return torch.from_numpy(costs)


def _batched_rounds(problem: _Problem, epsilon: float, iterations: int) -> torch.Tensor:
    """`_sinkhorn`'s recursion as batched matrix-vector products (`bmm`), on any device."""
    cost = problem.cost()
    kernel = torch.mul(cost, -1.0 / epsilon).exp_()
    a, b = problem.a[:, :, None], problem.b[:, :, None]
    kernel_t = kernel.mT
    v = problem.ref_valid.to(cost.dtype)[:, :, None]
    for _ in range(iterations):
        u = a / torch.bmm(kernel, v)
        v = b / torch.bmm(kernel_t, u)
    return (u * torch.bmm(kernel.mul_(cost), v)).sum(dim=(1, 2))


def _log_sinkhorn(problem: _Problem, epsilon: float, iterations: int) -> torch.Tensor:
    """The same recursion on log u and log v, for kernels that underflow in the dtype."""
    cost = problem.cost()
    log_kernel = cost / -epsilon
    log_a, log_b = problem.a.log(), problem.b.log()
    log_v = torch.zeros_like(problem.b).masked_fill_(~problem.ref_valid, -math.inf)
    for _ in range(iterations):
        log_u = log_a - torch.logsumexp(log_kernel + log_v[:, None, :], dim=2)
        log_v = log_b - torch.logsumexp(log_kernel + log_u[:, :, None], dim=1)
    plan = torch.exp(log_u[:, :, None] + log_kernel + log_v[:, None, :])
    return (plan * cost).sum(dim=(1, 2))


def similarity_from_cost(cost: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """s = clip(exp(-W / temperature), 0, 1), elementwise."""
    check_ot_settings(temperature=temperature)
    return torch.exp(-cost / temperature).clamp(0.0, 1.0)


@torch.no_grad()
def pooled_cosine_similarity(
    resp_states: torch.Tensor,
    resp_mask: torch.Tensor,
    ref_states: torch.Tensor,
    ref_mask: torch.Tensor,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Cosine of the states mean-pooled over valid tokens, clipped to [0, 1]; shape [B].

    A side without valid tokens pools to zero and gives s = 0.
    """
    _check_pair(resp_states, resp_mask, ref_states, ref_mask)

    def pooled(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(device=states.device, dtype=torch.bool)
        total = states.to(dtype).masked_fill(~mask[:, :, None], 0.0).sum(dim=1)
        return total / mask.sum(dim=1, keepdim=True).clamp(min=1)

    cosine = torch.nn.functional.cosine_similarity(
        pooled(resp_states, resp_mask), pooled(ref_states, ref_mask), dim=-1
    )
    return cosine.clamp(0.0, 1.0)


def grounded_similarity(
    resp_states: torch.Tensor,
    resp_mask: torch.Tensor,
    ref_states: torch.Tensor,
    ref_mask: torch.Tensor,
    method: str = "ot",
    temperature: float = 0.5,
    epsilon: float = 0.08,
    iterations: int = 50,
    marginals: str = "norm_softmax",
    dtype: torch.dtype = torch.float64,
) -> GroundedSimilarity:
    """Similarity of each completion to its reference: "ot" (with its W) or "cosine"."""
    if method == "ot":
        cost = transport_cost(
            resp_states, resp_mask, ref_states, ref_mask, epsilon, iterations, marginals, dtype
        )
        return GroundedSimilarity(similarity_from_cost(cost, temperature), cost)
    if method == "cosine":
        similarity = pooled_cosine_similarity(resp_states, resp_mask, ref_states, ref_mask, dtype)
        return GroundedSimilarity(similarity, None)
    raise UserInputError(f"grounding must be one of {', '.join(SIMILARITIES)}, got {method!r}")


def grounded_advantage(similarity: torch.Tensor, group_size: int) -> torch.Tensor:
    """A_ts = s - mean of s over the completion's group; shape [B]."""
    groups = grouped(similarity, group_size)
    return (groups - groups.mean(dim=1, keepdim=True)).reshape(similarity.shape)
