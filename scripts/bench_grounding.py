"""Benchmark the batched grounding stage against the reference's per-sample Sinkhorn loop.

The reference gathered every completion's hidden states on one process and ran a float64
Sinkhorn per completion in a Python loop on CPU. `anomseer.grounding.transport_cost` solves
the whole batch at once with POT on the states' device. Both compute W from the same random
states (valid lengths drawn between half and all of the padded width) and must agree.

    .venv/bin/python scripts/bench_grounding.py   # both cases, 1 thread, on CUDA if present
    .venv/bin/python scripts/bench_grounding.py --case 3b --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch

from anomseer.grounding import transport_cost

CASES = {
    # name: (completions, completion tokens, reference tokens, hidden size)
    "3b": (16, 256, 512, 2048),  # Qwen2.5-VL-3B hidden size, 512-token ExpCoT
    "tiny": (8, 48, 64, 64),  # the offline tiny model's hidden size
}


def per_sample_loop(resp, resp_mask, ref, ref_mask, epsilon=0.08, iterations=50) -> torch.Tensor:
    """The reference way: states to CPU float64, one Sinkhorn per completion in Python."""
    resp, ref = resp.cpu().double(), ref.cpu().double()
    resp_mask, ref_mask = resp_mask.cpu(), ref_mask.cpu()
    costs = []
    for i in range(resp.shape[0]):
        h_resp, h_ref = resp[i][resp_mask[i]], ref[i][ref_mask[i]]
        if len(h_resp) == 0 or len(h_ref) == 0:
            costs.append(1.0)
            continue
        a = torch.softmax(h_resp.norm(dim=-1), dim=0)
        b = torch.softmax(h_ref.norm(dim=-1), dim=0)
        unit_resp = h_resp / h_resp.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        unit_ref = h_ref / h_ref.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        cost = (1.0 - unit_resp @ unit_ref.T).clamp(min=0.0)
        kernel = torch.exp(-cost / epsilon)
        u, v = torch.ones_like(a), torch.ones_like(b)
        for _ in range(iterations):
            u = a / (kernel @ v)
            v = b / (kernel.T @ u)
        costs.append(float((u[:, None] * kernel * v[None, :] * cost).sum()))
    return torch.tensor(costs, dtype=torch.float64)


def random_batch(batch, width, hidden, generator, device, dtype):
    """Random states [batch, width, hidden] and a mask with lengths in [width / 2, width]."""
    states = torch.randn(batch, width, hidden, generator=generator).to(device, dtype)
    lengths = torch.randint(width // 2, width + 1, (batch,), generator=generator)
    mask = (torch.arange(width)[None, :] < lengths[:, None]).to(device)
    return states, mask


def best_time(run: Callable[[], torch.Tensor], repeats: int, device: torch.device) -> float:
    """Fastest of `repeats` timed runs after one warm-up, in seconds."""
    run()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the fastest counts")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where states live"
    )
    parser.add_argument(
        "--states-dtype", default="float32", choices=["float32", "bfloat16"], help="policy dtype"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    states_dtype = getattr(torch, args.states_dtype)
    names = list(CASES) if args.case == "all" else [args.case]

    print(f"device {device}, {args.threads} CPU thread(s), states {args.states_dtype}")
    print(
        "| case (B x n vs m, hidden) | loop float64 CPU s | batched float64 s | speed-up "
        "| batched float32 s | speed-up | max abs diff W (float64) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        batch, width, ref_width, hidden = CASES[name]
        generator = torch.Generator().manual_seed(0)
        resp, resp_mask = random_batch(batch, width, hidden, generator, device, states_dtype)
        ref, ref_mask = random_batch(batch, ref_width, hidden, generator, device, states_dtype)
        inputs = (resp, resp_mask, ref, ref_mask)

        reference = per_sample_loop(*inputs)
        batched = transport_cost(*inputs).cpu()
        difference = (batched - reference).abs().max().item()
        if not math.isfinite(difference) or difference > 1e-6:
            raise SystemExit(f"{name}: batched W differs from the loop by {difference}")

        loop_s = best_time(lambda inputs=inputs: per_sample_loop(*inputs), args.repeats, device)
        f64_s = best_time(lambda inputs=inputs: transport_cost(*inputs), args.repeats, device)
        f32_s = best_time(
            lambda inputs=inputs: transport_cost(*inputs, dtype=torch.float32), args.repeats, device
        )
        print(
            f"| {name} ({batch} x {width} vs {ref_width}, {hidden}) | {loop_s:.4f} | {f64_s:.4f} "
            f"| {loop_s / f64_s:.2f}x | {f32_s:.4f} | {loop_s / f32_s:.2f}x | {difference:.1e} |"
        )


if __name__ == "__main__":
    main()
