"""Benchmark the grounding solve against the reference's per-completion Sinkhorn loop.

The reference gathered every completion's hidden states on one process and ran a float64
Sinkhorn per completion in a Python loop on CPU, over its valid tokens.
`anomseer.grounding.transport_cost` computes float32 cosine costs over the valid tokens and
runs the same recursion batched in the requested dtype. Both compute W from the same random
states (valid lengths drawn between half and all of the padded width) and must agree.

The second table times the Sinkhorn solve alone on one padded problem of the whole batch:
POT's batched solvers (`ot.batch.solve_batch`, standard and log domain, given the cost
matrices) against this project's, given the float32 dot products, so its time includes
building costs and kernel (standard domain: the compiled kernel pass and rounds of
`anomseer.cpu_sinkhorn` on a CPU, batched `bmm` rounds on CUDA).

Timings: every repeat runs each contender once, in turn, so machine load hits them alike;
the table gives the medians (and, for the whole solve, the ratio of the fastest runs). On a
CPU the clock is this process's CPU time (`--clock cpu`, the default there): time spent
waiting while other processes run is not counted, so a shared machine disturbs the numbers
far less than it does wall time (caches are still shared). With `--threads` above 1 or on
CUDA, use `--clock wall`.

    .venv/bin/python scripts/bench_grounding.py   # both cases, 1 thread, on CUDA if present
    .venv/bin/python scripts/bench_grounding.py --case 3b --repeats 9 --threads 2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
from ot.batch import solve_batch

from anomseer import grounding
from anomseer.grounding import transport_cost

CASES = {
    # name: (completions, completion tokens, reference tokens, hidden size)
    "3b": (16, 256, 512, 2048),  # Qwen2.5-VL-3B hidden size, 512-token ExpCoT
    "tiny": (8, 48, 64, 64),  # the offline tiny model's hidden size
}
EPSILON, ITERATIONS = 0.08, 50


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


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def timings(
    runs: dict[str, Callable[[], object]], repeats: int, device: torch.device, clock: str
) -> dict[str, list[float]]:
    """Seconds of each run by `clock` over `repeats` rounds (each round runs all, in turn),
    after one warm-up round."""
    now = CLOCKS[clock]
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = now()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if round_:
                times[name].append(now() - start)
    return times


def median_times(
    runs: dict[str, Callable[[], object]], repeats: int, device: torch.device, clock: str
) -> dict[str, float]:
    """Median seconds of each run (see `timings`)."""
    measured = timings(runs, repeats, device, clock)
    return {name: statistics.median(t) for name, t in measured.items()}


def padded_problem(resp, resp_mask, ref, ref_mask, dtype) -> grounding._Problem:
    """The whole batch as one padded transport problem in `dtype` (float32 dot products, as
    `transport_cost` builds them for one chunk)."""
    resp_norm = resp.float().norm(dim=-1).to(dtype)
    ref_norm = ref.float().norm(dim=-1).to(dtype)
    return grounding._Problem(
        torch.bmm(resp.float(), ref.float().mT),
        grounding._reciprocal(resp_norm),
        grounding._reciprocal(ref_norm),
        torch.softmax(resp_norm.masked_fill(~resp_mask, -math.inf), dim=1),
        torch.softmax(ref_norm.masked_fill(~ref_mask, -math.inf), dim=1),
        resp_mask,
        ref_mask,
    )


def solver_row(inputs, dtype: torch.dtype, device: torch.device, repeats: int, clock: str) -> str:
    """Sinkhorn on the same padded problem in `dtype`: POT's batched solvers (given the cost
    matrices) and ours (given the dot products: building costs and kernel is timed too)."""
    problem = padded_problem(*inputs, dtype)
    cost, a, b = problem.cost(), problem.a, problem.b
    # POT needs a positive kernel everywhere: padded pairs cost 2 + 40 epsilon instead of 0
    pot_cost = cost.masked_fill(cost == 0.0, 2.0 + 40.0 * EPSILON)

    def pot(method: str) -> torch.Tensor:
        solved = solve_batch(
            pot_cost, reg=EPSILON, a=a, b=b, max_iter=ITERATIONS, tol=0.0, method=method
        )
        return solved.value_linear

    runs = {
        "POT standard": lambda: pot("sinkhorn"),
        "ours standard": lambda: grounding._sinkhorn(problem, EPSILON, ITERATIONS),
        "POT log": lambda: pot("log_sinkhorn"),
        "ours log": lambda: grounding._log_sinkhorn(problem, EPSILON, ITERATIONS),
    }
    if device.type != "cpu":  # POT 0.9.7's standard batch solver starts from CPU tensors
        del runs["POT standard"]
    seconds = median_times(runs, repeats, device, clock)
    times = " | ".join(
        f"{seconds[name]:.4f}" if name in seconds else "-"
        for name in ("POT standard", "ours standard", "POT log", "ours log")
    )
    return f"{str(dtype).removeprefix('torch.')} | {times} |"


def case_rows(name: str, args: argparse.Namespace) -> tuple[str, list[str]]:
    """The whole-solve row of one case, and its Sinkhorn-alone rows."""
    device = torch.device(args.device)
    batch, width, ref_width, hidden = CASES[name]
    generator = torch.Generator().manual_seed(0)
    states_dtype = getattr(torch, args.states_dtype)
    resp, resp_mask = random_batch(batch, width, hidden, generator, device, states_dtype)
    ref, ref_mask = random_batch(batch, ref_width, hidden, generator, device, states_dtype)
    inputs = (resp, resp_mask, ref, ref_mask)

    reference = per_sample_loop(*inputs)
    differences = [
        (transport_cost(*inputs, dtype=dtype).cpu().double() - reference).abs().max().item()
        for dtype in (torch.float64, torch.float32)
    ]
    for difference, limit in zip(differences, (1e-6, 1e-5), strict=True):
        if not math.isfinite(difference) or difference > limit:
            raise SystemExit(f"{name}: W differs from the loop by {difference}")

    times = timings(
        {
            "loop": lambda: per_sample_loop(*inputs),
            "float64": lambda: transport_cost(*inputs),
            "float32": lambda: transport_cost(*inputs, dtype=torch.float32),
        },
        args.repeats,
        device,
        args.clock,
    )
    seconds = {key: statistics.median(values) for key, values in times.items()}
    fastest = {key: min(values) for key, values in times.items()}
    loop_s = seconds["loop"]
    row = (
        f"| {name} ({batch} x {width} vs {ref_width}, {hidden}) | {loop_s:.4f} "
        f"| {seconds['float64']:.4f} | {loop_s / seconds['float64']:.2f}x "
        f"| {seconds['float32']:.4f} | {loop_s / seconds['float32']:.2f}x "
        f"| {fastest['loop'] / fastest['float64']:.2f}x / "
        f"{fastest['loop'] / fastest['float32']:.2f}x "
        f"| {differences[0]:.1e} / {differences[1]:.1e} |"
    )
    solver = [
        f"| {name} | " + solver_row(inputs, dtype, device, args.solver_repeats, args.clock)
        for dtype in (torch.float64, torch.float32)
    ]
    return row, solver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds; medians count")
    parser.add_argument(
        "--solver-repeats", type=int, default=3, help="timed rounds of the Sinkhorn-alone table"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where states live"
    )
    parser.add_argument(
        "--states-dtype", default="float32", choices=["float32", "bfloat16"], help="policy dtype"
    )
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        help="cpu: this process's CPU time (default on a CPU); wall: elapsed (default on CUDA)",
    )
    args = parser.parse_args()
    args.clock = args.clock or ("cpu" if args.device == "cpu" else "wall")
    torch.set_num_threads(args.threads)
    names = list(CASES) if args.case == "all" else [args.case]
    print(
        f"device {args.device}, {args.threads} CPU thread(s), states {args.states_dtype}, "
        f"{args.clock} clock"
    )
    print(
        "| case (B x n vs m, hidden) | loop float64 s | ours float64 s | speed-up "
        "| ours float32 s | speed-up | speed-up of the fastest runs float64 / float32 "
        "| max abs diff W float64 / float32 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    solver_rows = []
    for name in names:
        row, solver = case_rows(name, args)
        print(row, flush=True)
        solver_rows += solver
    print("\nSinkhorn alone, padded batch, median seconds")
    print("| case | dtype | POT standard | ours standard | POT log | ours log |")
    print("|---|---|---|---|---|---|")
    print("\n".join(solver_rows))


if __name__ == "__main__":
    main()
