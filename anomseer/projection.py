"""Keep the grounded signal from fighting the reward: orthogonal projection (SPEC section 5).

Two forms of the same idea. On advantages (the reference): per group, remove from the
grounded advantage A_ts its component along the primary advantage A_main, then mix
A = A_main + alpha * A_ts_perp. On gradients: g = g_main + alpha (g_aux - c g_main) with
c = <g_aux, g_main> / ||g_main||^2 over all trainable parameters and all processes (DDP and
FSDP2; DeepSpeed reduces inside backward, where the two gradients cannot be held apart).

Completions are laid out as in TRL: the `group_size` completions of one prompt are
consecutive in the flat per-completion vectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from anomseer.errors import UserInputError

PROJECTION_EPS = 1e-8
"""Added to ||A_main||^2 in the projection's denominator (SPEC section 5); a group whose
||A_main||^2 is at most this counts as a tie in the trainer's ``tie_fraction`` metric."""


def grouped(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """View a flat per-completion vector [B] as [B / group_size, group_size]."""
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    if values.dim() != 1 or values.numel() % group_size:
        raise ValueError(
            f"expected a flat vector whose length is a multiple of group_size={group_size}, "
            f"got shape {tuple(values.shape)}"
        )
    return values.view(-1, group_size)


def orthogonalize_advantages(
    a_ts: torch.Tensor, a_main: torch.Tensor, group_size: int
) -> torch.Tensor:
    """A_ts_perp = A_ts - <A_ts, A_main> / (||A_main||^2 + 1e-8) A_main, per group (SPEC
    section 5); shape [B]. A group whose rewards all tie (A_main = 0) passes unchanged, and a
    near-tie is only partly projected, exactly as the formula says."""
    if a_ts.shape != a_main.shape:
        raise ValueError(f"a_ts {tuple(a_ts.shape)} and a_main {tuple(a_main.shape)} differ")
    ts = grouped(a_ts, group_size)
    main = grouped(a_main, group_size)
    dot = (ts * main).sum(dim=1, keepdim=True)
    squared_norm = (main * main).sum(dim=1, keepdim=True)
    coefficient = dot / (squared_norm + PROJECTION_EPS)
    return (ts - coefficient * main).reshape(a_ts.shape)


def check_alpha(alpha: float) -> None:
    """Refuse a negative or non-finite mixing weight alpha (a config value)."""
    if not math.isfinite(alpha) or alpha < 0:
        raise UserInputError(
            f"alpha must be a finite number >= 0 (0 turns the grounded term off), got {alpha}"
        )


def combine_advantages(a_main: torch.Tensor, a_ts_perp: torch.Tensor, alpha: float) -> torch.Tensor:
    """A = A_main + alpha * A_ts_perp, per completion."""
    check_alpha(alpha)
    if a_main.shape != a_ts_perp.shape:
        raise ValueError(
            f"a_main {tuple(a_main.shape)} and a_ts_perp {tuple(a_ts_perp.shape)} differ"
        )
    return a_main + alpha * a_ts_perp


def _local(grad: torch.Tensor) -> torch.Tensor:
    """This process's part of a gradient (the local shard of an FSDP2 DTensor), flattened."""
    to_local = getattr(grad, "to_local", None)
    local = to_local() if callable(to_local) else grad
    local = local.reshape(-1)
    return local.float() if local.dtype in (torch.float16, torch.bfloat16) else local


@torch.no_grad()
def projection_coefficient(
    main_grads: Sequence[torch.Tensor | None], aux_grads: Sequence[torch.Tensor | None]
) -> torch.Tensor:
    """c = <g_aux, g_main> / ||g_main||^2 over all parameters and processes (0 when g_main = 0).

    A None gradient counts as zeros. Pass the synchronised gradients: replicated (DDP, where
    summing over processes scales both products alike) or sharded (FSDP, where the sum over
    processes is the full product). Returns a float64 scalar tensor.
    """
    if len(main_grads) != len(aux_grads):
        raise ValueError(f"{len(main_grads)} main gradients but {len(aux_grads)} aux gradients")
    present = [g for g in (*main_grads, *aux_grads) if g is not None]
    device = _local(present[0]).device if present else torch.device("cpu")
    products = torch.zeros(2, dtype=torch.float64, device=device)
    for main, aux in zip(main_grads, aux_grads, strict=True):
        if main is None:
            continue
        if aux is not None and aux.shape != main.shape:
            raise ValueError(f"gradient shapes differ: {tuple(main.shape)} vs {tuple(aux.shape)}")
        main_local = _local(main)
        products[1] += torch.dot(main_local, main_local).double()
        if aux is not None:
            products[0] += torch.dot(_local(aux), main_local).double()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(products)
    aux_dot_main, main_squared = products
    return torch.where(main_squared > 0, aux_dot_main / main_squared, 0.0)


@torch.no_grad()
def project_gradients_(
    parameters: Sequence[torch.nn.Parameter],
    aux_grads: Sequence[torch.Tensor | None],
    alpha: float,
) -> torch.Tensor:
    """In place: each parameter's ``.grad`` (g_main) becomes g_main + alpha (g_aux - c g_main).

    Where g_main = 0 (c = 0) the grounded gradient passes unchanged: g = g_main + alpha g_aux;
    a parameter with neither gradient keeps ``.grad`` None. No second copy of the gradients is
    made (they are as large as the model). Returns c.
    """
    check_alpha(alpha)
    if len(parameters) != len(aux_grads):
        raise ValueError(f"{len(parameters)} parameters but {len(aux_grads)} aux gradients")
    coefficient = projection_coefficient([p.grad for p in parameters], aux_grads)
    main_weight = 1.0 - alpha * coefficient.item()
    for parameter, aux in zip(parameters, aux_grads, strict=True):
        if parameter.grad is None:
            if aux is not None:
                parameter.grad = alpha * aux
            continue
        parameter.grad.mul_(main_weight)
        if aux is not None:
            parameter.grad.add_(aux.to(parameter.grad.dtype), alpha=alpha)
    return coefficient

