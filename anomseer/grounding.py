"""How close a completion's reasoning is to the expert chain of thought (SPEC section 5, step 2).

Entropic optimal transport between the policy's last-layer hidden states of the completion
tokens and of the ExpCoT tokens gives a transport cost W per completion, W -> similarity
s = clip(exp(-W / tau), 0, 1) -> grounded advantage A_ts = s - group mean. Everything runs
batched (POT's `ot.batch.solve_batch` on torch tensors) on the device holding the states,
without gradient.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from ot.batch import solve_batch

from anomseer.errors import UserInputError
from anomseer.projection import grouped

MARGINALS = ("norm_softmax", "uniform")
"""Token masses: softmax of the hidden-state norms over valid tokens, or uniform."""
SIMILARITIES = ("ot", "cosine")
"""Optimal-transport similarity, or cosine of the mean-pooled states (an ablation)."""

_PAD_KERNEL_GAP = 40.0
"""Padded token pairs get a cost this many epsilons above any real cost (at most 2): their
kernel exp(-cost / epsilon) is e^-40 of the smallest real one, so they change W by less than
1e-15, yet stays positive, so zero-mass padded rows divide 0 by a positive number."""
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


def _marginal(states: torch.Tensor, mask: torch.Tensor, marginals: str) -> torch.Tensor:
    """Token masses over the valid tokens, zero on padding; rows sum to 1."""
    if marginals == "uniform":
        weights = mask.to(states.dtype)
        return weights / weights.sum(dim=1, keepdim=True)
    norms = torch.linalg.vector_norm(states, dim=-1)
    return torch.softmax(norms.masked_fill(~mask, -math.inf), dim=1)


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
    with ref_mask [B, m]. Cost C_tk = max(0, 1 - cos(h_t, h_k)); marginals per `marginals`;
    `iterations` Sinkhorn rounds from ones, u first, no early stop. A side without valid
    tokens gives W = 1. Computed in `dtype` (float64 by default, as the reference) on the
    states' device; memory is a few [B, n, m] tensors of `dtype`, so chunk a large batch.
    """
    _check_pair(resp_states, resp_mask, ref_states, ref_mask)
    check_ot_settings(epsilon=epsilon, iterations=iterations, marginals=marginals)
    device = resp_states.device
    resp_mask = resp_mask.to(device=device, dtype=torch.bool)
    ref_mask = ref_mask.to(device=device, dtype=torch.bool)
    empty = ~resp_mask.any(dim=1) | ~ref_mask.any(dim=1)
    if resp_states.shape[1] == 0 or ref_states.shape[1] == 0:
        return torch.ones(resp_states.shape[0], dtype=dtype, device=device)
    # An empty side is solved over all its positions, to keep the batch finite, then set to 1.
    resp_mask = resp_mask | empty[:, None]
    ref_mask = ref_mask | empty[:, None]

    resp = resp_states.to(dtype)
    ref = ref_states.to(dtype)
    # A zero state normalises to zero: its cosine with anything is 0, its cost 1.
    unit = torch.nn.functional.normalize
    cost = 1.0 - torch.bmm(unit(resp, dim=-1), unit(ref, dim=-1).mT)
    cost.clamp_(min=0.0)
    valid_pairs = resp_mask[:, :, None] & ref_mask[:, None, :]
    cost.masked_fill_(~valid_pairs, 2.0 + _PAD_KERNEL_GAP * epsilon)
    result = solve_batch(
        cost,
        reg=epsilon,
        a=_marginal(resp, resp_mask, marginals),
        b=_marginal(ref, ref_mask, marginals),
        max_iter=iterations,
        tol=0.0,
        method=_sinkhorn_method(device, dtype, epsilon),
        grad="detach",
    )
    return torch.where(empty, 1.0, result.value_linear)


def _sinkhorn_method(device: torch.device, dtype: torch.dtype, epsilon: float) -> str:
    """POT's standard-domain batched Sinkhorn (the reference recursion, several times faster)
    where it is safe, else its log-domain one.

    Safe means: on the CPU (POT 0.9.7's standard-domain batch solver starts from CPU tensors,
    so it fails on other devices) and no kernel value, padded pairs included, underflows in
    ``dtype``. Both give the same W to rounding (tests check both against the recursion).
    """
    smallest_log_kernel = -(2.0 + _PAD_KERNEL_GAP * epsilon) / epsilon
    floor = math.log(torch.finfo(dtype).tiny) + _UNDERFLOW_HEADROOM
    if device.type == "cpu" and smallest_log_kernel > floor:
        return "sinkhorn"
    return "log_sinkhorn"


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
