"""Orthogonal projection of advantages and of gradients (SPEC section 5, step 3 and variant)."""

import pytest
import torch

from anomseer.errors import UserInputError
from anomseer.projection import (
    combine_advantages,
    orthogonalize_advantages,
    project_gradients_,
    projection_coefficient,
)


def test_orthogonalize_by_hand():
    # <A_ts, A_main> = 0.1 + 0.3 = 0.4, ||A_main||^2 = 2: remove 0.4 / (2 + 1e-8) ~ 0.2 A_main.
    a_main = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    a_ts = torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64)
    perp = orthogonalize_advantages(a_ts, a_main, 3)
    assert perp.tolist() == pytest.approx([-0.1, 0.2, -0.1], abs=1e-9)


def test_near_tie_follows_the_spec_formula():
    # ||A_main||^2 = 5e-9, <A_ts, A_main> = 1e-5: c = 1e-5 / (5e-9 + 1e-8) = 2000 / 3, so
    # A_ts_perp = 0.1 - (2000 / 3) * 5e-5 = 0.1 - 1 / 30 = 1 / 15 (a third of A_ts is removed)
    a_main = torch.tensor([5e-5, -5e-5], dtype=torch.float64)
    a_ts = torch.tensor([0.1, -0.1], dtype=torch.float64)
    perp = orthogonalize_advantages(a_ts, a_main, 2)
    assert perp.tolist() == pytest.approx([1 / 15, -1 / 15], rel=1e-12)
    # an exact tie (A_main = 0) passes A_ts unchanged
    assert torch.equal(orthogonalize_advantages(a_ts, torch.zeros(2, dtype=torch.float64), 2), a_ts)


def test_each_group_is_orthogonal_to_its_primary_advantage_and_ties_pass():
    generator = torch.Generator().manual_seed(0)
    groups, size = 16, 5
    rewards = torch.rand(groups, size, generator=generator, dtype=torch.float64)
    rewards[3] = 0.7  # a tie group: every completion scored the same
    rewards[9] = 0.0
    a_main = (rewards - rewards.mean(dim=1, keepdim=True)).view(groups, size)
    similarity = 0.3 + 0.02 * torch.randn(groups, size, generator=generator, dtype=torch.float64)
    a_ts = (similarity - similarity.mean(dim=1, keepdim=True)).view(groups, size)
    perp = orthogonalize_advantages(a_ts.reshape(-1), a_main.reshape(-1), size).view(groups, size)
    dots = (perp * a_main).sum(dim=1)
    ties = torch.tensor([3, 9])
    # what is left of <A_ts, A_main> is its share 1e-8 / (||A_main||^2 + 1e-8)
    before = (a_ts * a_main).sum(dim=1)
    squared = a_main.square().sum(dim=1)
    assert torch.allclose(dots, before * 1e-8 / (squared + 1e-8), rtol=1e-6, atol=1e-15)
    assert torch.equal(perp[ties], a_ts[ties])
    # the grounded term keeps its group mean of zero
    assert perp.sum(dim=1).abs().max() < 1e-12


def test_combine_advantages():
    a_main = torch.tensor([1.0, -1.0])
    a_ts_perp = torch.tensor([0.2, 0.2])
    assert combine_advantages(a_main, a_ts_perp, 0.3).tolist() == pytest.approx([1.06, -0.94])
    assert torch.equal(combine_advantages(a_main, a_ts_perp, 0.0), a_main)
    with pytest.raises(UserInputError, match="alpha must be a finite number >= 0"):
        combine_advantages(a_main, a_ts_perp, -0.1)


def test_mismatched_advantages_are_refused():
    with pytest.raises(ValueError, match="multiple of group_size=4"):
        orthogonalize_advantages(torch.zeros(6), torch.zeros(6), 4)
    with pytest.raises(ValueError, match="differ"):
        orthogonalize_advantages(torch.zeros(6), torch.zeros(4), 2)


def project_gradients(main_grads, aux_grads, alpha):
    """The gradients ``project_gradients_`` leaves on parameters whose ``.grad`` was
    ``main_grads`` (a None gradient stays None)."""
    parameters = []
    for main, aux in zip(main_grads, aux_grads, strict=True):
        like = next((g for g in (main, aux) if g is not None), torch.zeros(1))
        parameter = torch.nn.Parameter(torch.zeros_like(like))
        parameter.grad = None if main is None else main.clone()
        parameters.append(parameter)
    project_gradients_(parameters, aux_grads, alpha)
    return [parameter.grad for parameter in parameters]


def test_project_gradients_two_elements_by_hand():
    # g_main = [1, 0], g_aux = [1, 1]: c = 1, g = [1, 0] + 0.5 ([1, 1] - [1, 0]) = [1, 0.5].
    main = [torch.tensor([1.0]), torch.tensor([0.0])]
    aux = [torch.tensor([1.0]), torch.tensor([1.0])]
    assert projection_coefficient(main, aux).item() == 1.0
    projected = project_gradients(main, aux, 0.5)
    assert [g.item() for g in projected] == [1.0, 0.5]


def test_zero_primary_gradient_lets_the_grounded_gradient_pass():
    main = [torch.zeros(3), None]
    aux = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0])]
    assert projection_coefficient(main, aux).item() == 0.0
    projected = project_gradients(main, aux, 0.3)
    assert projected[0].tolist() == pytest.approx([0.3, 0.6, 0.9])
    assert projected[1].tolist() == pytest.approx([1.2])
    assert project_gradients([None], [None], 0.3) == [None]


def toy_losses(dtype):
    """A small two-layer model and two different losses on the same batch."""
    generator = torch.Generator().manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model.to(dtype)
    inputs = torch.randn(8, 6, generator=generator, dtype=dtype)
    output = model(inputs)
    main_loss = (output[:, 0] - 1.0).pow(2).mean()
    aux_loss = -torch.log_softmax(output, dim=1)[:, 1].mean() + output.pow(2).mean()
    return model, main_loss, aux_loss


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_projected_gradient_is_orthogonal_to_the_primary_one(dtype, tolerance):
    model, main_loss, aux_loss = toy_losses(dtype)
    params = list(model.parameters())
    main = torch.autograd.grad(main_loss, params, retain_graph=True)
    aux = torch.autograd.grad(aux_loss, params, retain_graph=True)
    alpha = 0.3
    projected = project_gradients(main, aux, alpha)
    flat_main = torch.cat([g.reshape(-1) for g in main]).double()
    flat_aux = torch.cat([g.reshape(-1) for g in aux]).double()
    change = torch.cat([(p - m).reshape(-1) for p, m in zip(projected, main, strict=True)]).double()
    # the grounded part of the update is orthogonal to g_main ...
    cosine = change @ flat_main / (change.norm() * flat_main.norm())
    assert abs(cosine.item()) < tolerance
    # ... and is alpha times g_aux with its g_main component removed
    c = (flat_aux @ flat_main) / (flat_main @ flat_main)
    assert abs(projection_coefficient(main, aux).item() - c.item()) < tolerance * abs(c.item())
    expected = alpha * (flat_aux - c * flat_main)
    assert (change - expected).abs().max() < tolerance * expected.abs().max()


def test_in_place_projection_handles_missing_gradients():
    with_grad, without_grad, untouched = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    with_grad.grad = torch.tensor([1.0, 0.0])
    aux = [torch.tensor([1.0, 1.0]), torch.tensor([2.0, 4.0]), None]
    # g_main = [1, 0, 0, 0, -, -], g_aux = [1, 1, 2, 4]: c = 1
    coefficient = project_gradients_([with_grad, without_grad, untouched], aux, 0.5)
    assert coefficient.item() == 1.0
    assert with_grad.grad.tolist() == [1.0, 0.5]
    assert without_grad.grad.tolist() == [1.0, 2.0]
    assert untouched.grad is None
    with pytest.raises(ValueError, match="3 parameters but 1 aux"):
        project_gradients_([with_grad, without_grad, untouched], [None], 0.5)


def test_projection_refuses_negative_alpha_and_mismatched_lists():
    main = [torch.ones(2)]
    with pytest.raises(UserInputError, match="alpha"):
        project_gradients(main, main, -1.0)
    with pytest.raises(UserInputError, match="alpha"):
        project_gradients(main, main, float("nan"))
    with pytest.raises(ValueError, match="1 main gradients but 2 aux"):
        projection_coefficient(main, [torch.ones(2), torch.ones(2)])
    with pytest.raises(ValueError, match="shapes differ"):
        projection_coefficient(main, [torch.ones(3)])


FULL_MAIN = [torch.tensor([1.0, 2.0, 0.0, -1.0]), torch.tensor([0.5, 0.5])]
FULL_AUX = [torch.tensor([0.0, 1.0, 3.0, 1.0]), torch.tensor([-1.0, 2.0])]


def sharded_worker(rank: int, world_size: int, store: str, out_dir: str) -> None:
    """One of two processes holding half of every gradient, as plain shards and as DTensors."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    try:
        shards_main = [g.chunk(world_size)[rank] for g in FULL_MAIN]
        shards_aux = [g.chunk(world_size)[rank] for g in FULL_AUX]
        plain = project_gradients(shards_main, shards_aux, 0.5)
        mesh = init_device_mesh("cpu", (world_size,))
        dmain = [distribute_tensor(g, mesh, [Shard(0)]) for g in FULL_MAIN]
        daux = [distribute_tensor(g, mesh, [Shard(0)]) for g in FULL_AUX]
        dtensors = [g.full_tensor() for g in project_gradients(dmain, daux, 0.5)]
        coefficient = projection_coefficient(shards_main, shards_aux)
        torch.save(
            {"plain": plain, "dtensor": dtensors, "c": coefficient}, f"{out_dir}/rank{rank}.pt"
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_coefficient_is_reduced_over_processes(tmp_path):
    import torch.distributed.tensor  # imported once here, shared by the forked workers

    world_size = 2
    torch.multiprocessing.start_processes(
        sharded_worker,
        args=(world_size, str(tmp_path / "store"), str(tmp_path)),
        nprocs=world_size,
        start_method="fork",  # the children reuse this process's imports
    )
    single = project_gradients(FULL_MAIN, FULL_AUX, 0.5)
    want_c = projection_coefficient(FULL_MAIN, FULL_AUX).item()
    assert want_c == pytest.approx(1.5 / 6.5)  # each half alone would give 1.5/5.25 and 0/1.25
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(world_size)]
    for param, want in enumerate(single):
        joined = torch.cat([result["plain"][param] for result in results])
        assert (joined - want).abs().max() < 1e-6
        for result in results:
            assert (result["dtensor"][param] - want).abs().max() < 1e-6
    assert [result["c"].item() for result in results] == pytest.approx([want_c] * world_size)
