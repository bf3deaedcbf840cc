"""Grounded similarity: the batched transport cost against the reference recursion, by hand."""

import math

import numpy as np
import pytest
import torch

from anomseer import grounding
from anomseer.errors import UserInputError
from anomseer.grounding import (
    grounded_advantage,
    grounded_similarity,
    pooled_cosine_similarity,
    similarity_from_cost,
    transport_cost,
)


def reference_cost(resp, ref, epsilon=0.08, iterations=50, marginals="norm_softmax"):
    """The reference recursion in float64 numpy for one completion (valid tokens only)."""
    resp = np.asarray(resp, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if len(resp) == 0 or len(ref) == 0:
        return 1.0
    resp_norm = np.linalg.norm(resp, axis=1)
    ref_norm = np.linalg.norm(ref, axis=1)
    if marginals == "uniform":
        a = np.full(len(resp), 1.0 / len(resp))
        b = np.full(len(ref), 1.0 / len(ref))
    else:
        a = np.exp(resp_norm - resp_norm.max()) / np.exp(resp_norm - resp_norm.max()).sum()
        b = np.exp(ref_norm - ref_norm.max()) / np.exp(ref_norm - ref_norm.max()).sum()
    cos = (resp @ ref.T) / np.maximum(np.outer(resp_norm, ref_norm), 1e-300)
    cost = np.maximum(0.0, 1.0 - cos)
    kernel = np.exp(-cost / epsilon)
    u = np.ones(len(resp))
    v = np.ones(len(ref))
    for _ in range(iterations):
        u = a / (kernel @ v)
        v = b / (kernel.T @ u)
    plan = u[:, None] * kernel * v[None, :]
    return float((plan * cost).sum())


def padded_batch(lengths, hidden, generator, scale=1.0, pad_value=None):
    """Random states [B, max_len, hidden] with a mask from `lengths`; padding is noise or NaN."""
    width = max(lengths)
    states = scale * torch.randn(len(lengths), width, hidden, generator=generator)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    if pad_value is not None:
        states[~mask] = pad_value
    return states, mask


@pytest.mark.parametrize(
    ("resp_lengths", "ref_lengths", "hidden", "scale", "epsilon", "marginals"),
    [
        ([5, 3, 1], [7, 2, 4], 4, 1.0, 0.08, "norm_softmax"),
        ([17, 9, 12, 4], [9, 9, 1, 6], 16, 1.0, 0.08, "uniform"),
        ([1, 6], [12, 3], 8, 3.0, 0.08, "norm_softmax"),
        ([30, 11, 25], [40, 18, 7], 32, 1.0, 0.05, "norm_softmax"),
        ([8, 8], [5, 13], 64, 0.5, 0.2, "uniform"),
    ],
)
def test_transport_cost_matches_reference_recursion(
    resp_lengths, ref_lengths, hidden, scale, epsilon, marginals
):
    generator = torch.Generator().manual_seed(len(resp_lengths) * hidden)
    resp, resp_mask = padded_batch(resp_lengths, hidden, generator, scale)
    ref, ref_mask = padded_batch(ref_lengths, hidden, generator, scale)
    got = transport_cost(resp, resp_mask, ref, ref_mask, epsilon, 50, marginals)
    assert got.dtype == torch.float64
    for i, (n, m) in enumerate(zip(resp_lengths, ref_lengths, strict=True)):
        want = reference_cost(resp[i, :n], ref[i, :m], epsilon, 50, marginals)
        assert abs(got[i].item() - want) < 1e-6, (i, got[i].item(), want)


@pytest.mark.parametrize("standard", [True, False])
def test_both_domains_match_the_reference_recursion(standard, monkeypatch):
    monkeypatch.setattr(grounding, "_standard_domain_is_safe", lambda *_: standard)
    generator = torch.Generator().manual_seed(3)
    resp, resp_mask = padded_batch([9, 2, 14], 16, generator)
    ref, ref_mask = padded_batch([20, 5, 1], 16, generator)
    got = transport_cost(resp, resp_mask, ref, ref_mask)
    for i, (n, m) in enumerate([(9, 20), (2, 5), (14, 1)]):
        assert abs(got[i].item() - reference_cost(resp[i, :n], ref[i, :m])) < 1e-6


def test_underflowing_kernel_falls_back_to_the_log_domain():
    # Opposite tokens cost 2: at epsilon 0.02 their kernel exp(-100) underflows float32, so
    # the standard domain divides by zero; the log domain still gives the float64 recursion.
    generator = torch.Generator().manual_seed(4)
    resp, resp_mask = padded_batch([6, 3], 8, generator)
    ref = torch.cat([-resp[:, :5], resp[:, :1]], dim=1)
    ref_mask = torch.tensor([[True] * 6, [True, True, True, False, False, False]])

    def opposite_tokens(dtype):  # two tokens against their opposites: every cost is 2
        ones, valid = torch.ones(1, 2, dtype=dtype), torch.ones(1, 2, dtype=torch.bool)
        return grounding._Problem(
            -torch.ones(1, 2, 2), ones, ones, ones / 2, ones / 2, valid, valid
        )

    assert not grounding._standard_domain_is_safe(opposite_tokens(torch.float32), 0.02)
    assert grounding._standard_domain_is_safe(opposite_tokens(torch.float32), 0.08)
    assert grounding._standard_domain_is_safe(opposite_tokens(torch.float64), 0.02)
    for solve in (grounding._sinkhorn, grounding._batched_rounds):  # CPU and GPU rounds
        assert not torch.isfinite(solve(opposite_tokens(torch.float32), 0.02, 50)).all()
    got = transport_cost(resp, resp_mask, ref, ref_mask, epsilon=0.02, dtype=torch.float32)
    for i, (n, m) in enumerate([(6, 6), (3, 3)]):
        want = reference_cost(resp[i, :n], ref[i, :m], epsilon=0.02)
        assert abs(got[i].item() - want) < 1e-5, (i, got[i].item(), want)


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_compiled_cpu_rounds_equal_the_batched_rounds_used_on_gpus(dtype, tolerance):
    generator = torch.Generator().manual_seed(5)
    rows, cols = torch.tensor([9, 2, 14, 5]), torch.tensor([20, 5, 1, 7])
    resp_valid = torch.arange(14)[None, :] < rows[:, None]
    ref_valid = torch.arange(20)[None, :] < cols[:, None]
    # cosines within about +-1.5 (those above 1 count as 1); padded dot products are noise
    dots = 2.4 * torch.rand(4, 14, 20, generator=generator) - 1.2
    resp_scale = (0.9 + 0.2 * torch.rand(4, 14, generator=generator)).to(dtype)
    ref_scale = (1.0 / (0.9 + 0.2 * torch.rand(4, 20, generator=generator))).to(dtype)
    logits_a = torch.randn(4, 14, generator=generator).masked_fill(~resp_valid, -math.inf)
    logits_b = torch.randn(4, 20, generator=generator).masked_fill(~ref_valid, -math.inf)
    a, b = torch.softmax(logits_a, 1).to(dtype), torch.softmax(logits_b, 1).to(dtype)
    problem = grounding._Problem(dots, resp_scale, ref_scale, a, b, resp_valid, ref_valid)
    untouched = dots.clone()
    batched = grounding._batched_rounds(problem, 0.08, 50)
    compiled = grounding._sinkhorn(problem, 0.08, 50)
    assert compiled.dtype == batched.dtype == dtype
    assert torch.equal(dots, untouched)  # both read the dot products without writing them
    np.testing.assert_allclose(compiled.numpy(), batched.numpy(), rtol=tolerance, atol=0)


@pytest.mark.parametrize("chunk_pairs", [1, 200, 10**9])
def test_chunking_and_holes_in_the_masks_do_not_change_the_cost(chunk_pairs, monkeypatch):
    monkeypatch.setattr(grounding, "CPU_CHUNK_PAIRS", chunk_pairs)
    generator = torch.Generator().manual_seed(9)
    resp = torch.randn(5, 12, 8, generator=generator)
    ref = torch.randn(5, 15, 8, generator=generator)
    resp_mask = torch.rand(5, 12, generator=generator) < 0.6  # valid tokens with gaps
    ref_mask = torch.zeros(5, 15, dtype=torch.bool)
    ref_mask[:, 4:13] = True  # left- and right-padded
    resp_mask[2] = False
    got = transport_cost(resp, resp_mask, ref, ref_mask)
    assert got[2].item() == 1.0
    for i in (0, 1, 3, 4):
        want = reference_cost(resp[i][resp_mask[i]], ref[i][ref_mask[i]])
        assert abs(got[i].item() - want) < 1e-6, (i, got[i].item(), want)


def test_cpu_chunks_group_similar_sizes_under_the_pair_budget(monkeypatch):
    monkeypatch.setattr(grounding, "CPU_CHUNK_PAIRS", 100)
    resp_lengths, ref_lengths = [2, 10, 3, 1, 4], [5, 20, 5, 5, 5]
    chunks = list(grounding._chunks([0, 1, 2, 3, 4], resp_lengths, ref_lengths, on_cpu=True))
    # sizes 10, 200, 15, 5, 20 pairs: 0, 2, 3, 4 fit in 4 x 4 x 5 = 80; item 1 goes alone
    assert chunks == [[0, 2, 3, 4], [1]]
    assert list(grounding._chunks([0, 1], resp_lengths, ref_lengths, on_cpu=False)) == [[0, 1]]
    assert list(grounding._chunks([], resp_lengths, ref_lengths, on_cpu=False)) == []


def test_cuda_matmuls_run_without_tf32_and_the_setting_is_restored():
    matmul = torch.backends.cuda.matmul
    saved = matmul.fp32_precision
    try:
        matmul.fp32_precision = "tf32"
        with grounding._ieee_float32_matmul(torch.device("cuda")):
            assert matmul.fp32_precision == "ieee"
        assert matmul.fp32_precision == "tf32"
        with grounding._ieee_float32_matmul(torch.device("cpu")):
            assert matmul.fp32_precision == "tf32"
    finally:
        matmul.fp32_precision = saved


def test_padding_content_and_width_do_not_change_the_cost():
    generator = torch.Generator().manual_seed(7)
    resp, resp_mask = padded_batch([6, 4], 8, generator)
    ref, ref_mask = padded_batch([5, 9], 8, generator)
    plain = transport_cost(resp, resp_mask, ref, ref_mask)
    for pad_value in (0.0, 1e4, math.nan):
        wide_resp = torch.full((2, 15, 8), pad_value)
        wide_ref = torch.full((2, 21, 8), pad_value)
        wide_resp[:, :6] = torch.where(resp_mask[:, :, None], resp, pad_value)
        wide_ref[:, :9] = torch.where(ref_mask[:, :, None], ref, pad_value)
        wide_resp_mask = torch.zeros(2, 15, dtype=torch.bool)
        wide_ref_mask = torch.zeros(2, 21, dtype=torch.bool)
        wide_resp_mask[:, :6] = resp_mask
        wide_ref_mask[:, :9] = ref_mask
        wide = transport_cost(wide_resp, wide_resp_mask, wide_ref, wide_ref_mask)
        assert (wide - plain).abs().max() < 1e-12


def test_identical_single_tokens_cost_zero_and_orthogonal_ones_cost_one():
    one = torch.tensor([[[1.0, 0.0]]])
    other = torch.tensor([[[0.0, 3.0]]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    assert transport_cost(one, mask, one, mask).item() == pytest.approx(0.0, abs=1e-15)
    assert transport_cost(one, mask, other, mask).item() == pytest.approx(1.0, abs=1e-15)


def test_two_matched_tokens_leak_exactly_the_kernel_share():
    # Tokens e1, e2 on both sides: C = [[0, 1], [1, 0]], k = exp(-1 / 0.08) off the diagonal;
    # by symmetry one Sinkhorn round is exact: T_off = 0.5 k / (1 + k), W = k / (1 + k).
    states = torch.eye(2)[None]
    mask = torch.ones(1, 2, dtype=torch.bool)
    k = math.exp(-1.0 / 0.08)
    assert transport_cost(states, mask, states, mask).item() == pytest.approx(
        k / (1 + k), rel=1e-12
    )


def test_norm_softmax_marginal_weights_tokens_by_their_norm():
    # Response tokens [1, 0] (norm 1, cost 0) and [0, 2] (norm 2, cost 1) against one reference
    # token [1, 0]: all mass goes to it, so W = a_2 = softmax([1, 2])[1] = e / (1 + e).
    resp = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    ref = torch.tensor([[[1.0, 0.0]]])
    resp_mask = torch.ones(1, 2, dtype=torch.bool)
    ref_mask = torch.ones(1, 1, dtype=torch.bool)
    norm_weighted = transport_cost(resp, resp_mask, ref, ref_mask)
    uniform = transport_cost(resp, resp_mask, ref, ref_mask, marginals="uniform")
    assert norm_weighted.item() == pytest.approx(math.e / (1 + math.e), rel=1e-12)
    assert uniform.item() == pytest.approx(0.5, rel=1e-12)


def test_empty_side_gives_cost_one_and_leaves_the_rest_alone():
    generator = torch.Generator().manual_seed(3)
    resp, resp_mask = padded_batch([4, 4, 4, 4], 8, generator)
    ref, ref_mask = padded_batch([6, 6, 6, 6], 8, generator)
    resp_mask[1] = False
    ref_mask[2] = False
    resp_mask[3] = False
    ref_mask[3] = False
    got = transport_cost(resp, resp_mask, ref, ref_mask)
    assert got[1:].tolist() == [1.0, 1.0, 1.0]
    assert got[0].item() == pytest.approx(reference_cost(resp[0], ref[0]), abs=1e-6)
    no_tokens = transport_cost(torch.zeros(2, 0, 8), torch.zeros(2, 0), ref[:2], ref_mask[:2])
    assert no_tokens.tolist() == [1.0, 1.0]


def test_zero_and_identical_states_stay_finite():
    mask = torch.ones(3, 5, dtype=torch.bool)
    zeros = torch.zeros(3, 5, 16)
    same = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(0))
    assert transport_cost(zeros, mask, zeros, mask).tolist() == pytest.approx([1.0] * 3)
    assert transport_cost(zeros, mask, same, mask).tolist() == pytest.approx([1.0] * 3)
    identical = transport_cost(same, mask, same, mask)
    assert torch.isfinite(identical).all()
    assert (identical >= 0).all() and (identical < 0.05).all()
    cosine = pooled_cosine_similarity(zeros, mask, same, mask)
    assert cosine.tolist() == [0.0, 0.0, 0.0]


def test_no_gradient_and_float32_compute_close_to_float64():
    generator = torch.Generator().manual_seed(11)
    resp, resp_mask = padded_batch([9, 5], 32, generator)
    ref, ref_mask = padded_batch([12, 7], 32, generator)
    resp.requires_grad_(True)
    exact = transport_cost(resp, resp_mask, ref, ref_mask)
    assert not exact.requires_grad
    single = transport_cost(resp, resp_mask, ref, ref_mask, dtype=torch.float32)
    assert single.dtype == torch.float32
    assert (single.double() - exact).abs().max() < 1e-5


@pytest.mark.parametrize(
    ("states_dtype", "ot_dtype", "tolerance"),
    [
        (torch.float64, torch.float64, 1e-6),
        (torch.float32, torch.float64, 1e-6),
        (torch.float32, torch.float32, 1e-5),
        (torch.bfloat16, torch.float64, 1e-6),
    ],
)
def test_float32_cosines_keep_w_within_the_spec_tolerance(states_dtype, ot_dtype, tolerance):
    # hidden size and lengths of a small real model; W against the float64 recursion over
    # the same (rounded) states
    generator = torch.Generator().manual_seed(12)
    resp, resp_mask = padded_batch([40, 23, 64], 512, generator)
    ref, ref_mask = padded_batch([100, 128, 77], 512, generator)
    resp, ref = resp.to(states_dtype), ref.to(states_dtype)
    got = transport_cost(resp, resp_mask, ref, ref_mask, dtype=ot_dtype)
    for i, (n, m) in enumerate([(40, 100), (23, 128), (64, 77)]):
        want = reference_cost(resp[i, :n].double(), ref[i, :m].double())
        assert abs(got[i].item() - want) < tolerance, (i, got[i].item(), want)


def test_similarity_is_exp_of_minus_cost_over_temperature():
    cost = torch.tensor([0.0, 1.0, 0.5, -0.1])
    assert similarity_from_cost(cost, 0.5).tolist() == pytest.approx(
        [1.0, math.exp(-2.0), math.exp(-1.0), 1.0]
    )
    orthogonal = torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.0, 1.0]]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    result = grounded_similarity(orthogonal[0], mask, orthogonal[1], mask)
    assert result.transport_cost.item() == pytest.approx(1.0)
    assert result.similarity.item() == pytest.approx(math.exp(-2.0))


def test_pooled_cosine_similarity_by_hand():
    resp = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]], [[1.0, 0.0], [0, 0], [0, 0]]])
    resp_mask = torch.tensor([[True, True, False], [True, False, False]])
    ref = torch.tensor([[[2.0, 0.0]], [[-1.0, 0.0]]])
    ref_mask = torch.ones(2, 1, dtype=torch.bool)
    result = grounded_similarity(resp, resp_mask, ref, ref_mask, method="cosine")
    # mean of [1, 0] and [0, 1] is [0.5, 0.5]: cosine with [2, 0] is 1/sqrt(2); the opposite
    # direction clips to 0.
    assert result.similarity.tolist() == pytest.approx([1 / math.sqrt(2), 0.0])
    assert result.transport_cost is None
    empty = pooled_cosine_similarity(resp, torch.zeros(2, 3, dtype=torch.bool), ref, ref_mask)
    assert empty.tolist() == [0.0, 0.0]


def test_grounded_advantage_centres_each_group():
    similarity = torch.tensor([0.2, 0.4, 0.9, 0.1, 0.5, 0.6])
    assert grounded_advantage(similarity, 2).tolist() == pytest.approx(
        [-0.1, 0.1, 0.4, -0.4, -0.05, 0.05]
    )
    assert grounded_advantage(similarity, 3).tolist() == pytest.approx(
        [-0.3, -0.1, 0.4, -0.3, 0.1, 0.2]
    )
    with pytest.raises(ValueError, match="multiple of group_size=4"):
        grounded_advantage(similarity, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "ot_epsilon"),
        ({"iterations": 0}, "ot_iterations"),
        ({"marginals": "softmax"}, "ot_marginals"),
        ({"temperature": -1.0}, "ot_temperature"),
        ({"method": "l2"}, "grounding must be one of ot, cosine"),
    ],
)
def test_bad_settings_name_the_option(kwargs, message):
    states = torch.ones(1, 2, 3)
    mask = torch.ones(1, 2, dtype=torch.bool)
    with pytest.raises(UserInputError, match=message):
        grounded_similarity(states, mask, states, mask, **kwargs)


def test_mismatched_shapes_are_refused():
    states = torch.ones(2, 3, 4)
    with pytest.raises(ValueError, match="masks must be"):
        transport_cost(states, torch.ones(2, 4), states, torch.ones(2, 3))
    with pytest.raises(ValueError, match="same batch and hidden"):
        transport_cost(states, torch.ones(2, 3), torch.ones(2, 3, 5), torch.ones(2, 3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cost_is_computed_on_the_states_device():
    generator = torch.Generator().manual_seed(5)
    resp, resp_mask = padded_batch([9, 5, 7], 64, generator)
    ref, ref_mask = padded_batch([12, 7, 3], 64, generator)
    on_cpu = transport_cost(resp, resp_mask, ref, ref_mask)
    on_gpu = transport_cost(
        resp.cuda().bfloat16(), resp_mask.cuda(), ref.cuda().bfloat16(), ref_mask.cuda()
    )
    assert on_gpu.device.type == "cuda"
    bf16_cpu = transport_cost(resp.bfloat16(), resp_mask, ref.bfloat16(), ref_mask)
    assert (on_gpu.cpu() - bf16_cpu).abs().max() < 1e-6
    assert (on_cpu - bf16_cpu).abs().max() < 1e-3
