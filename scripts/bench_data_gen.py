"""Benchmark: complete synthetic samples per second against the public generators' drawing.

A complete sample is what one dataset row needs: the series, its label-free 1000 x 150 plot
encoded as PNG, the expert analyses (including STUMPY's matrix profile), the ExpCoT and the row
dict (``data_gen.build.build_rows`` on the ``anomllm`` preset). The reference is how the
public generators draw: a new matplotlib figure per PNG (pyplot figure, plot, savefig, close),
render only. Worker runs use spawned processes that are warmed up (imports, numba) before the
clock starts, so the numbers are steady-state throughput.

    .venv/bin/python scripts/bench_data_gen.py [--rows 400] [--repeats 3]
"""

from __future__ import annotations

import io
import multiprocessing
import os
import platform
import statistics
import time

from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

os.environ.setdefault("OMP_NUM_THREADS", "1")


def public_style_render_ms(series: list, repeats: int) -> float:
    """Milliseconds per PNG drawing each series in a new pyplot figure (the public way)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(values) -> bytes:
        figure = plt.figure(figsize=(10, 1.5), dpi=100)
        plt.plot(values, color="steelblue")
        plt.ylim(-1, 1)
        plt.tight_layout()
        buffer = io.BytesIO()
        plt.savefig(buffer, format="png")
        plt.close(figure)
        return buffer.getvalue()

    draw(series[0])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for values in series:
            draw(values)
        times.append((time.perf_counter() - start) / len(series) * 1000)
    return statistics.median(times)


def _rows_job(indices: range) -> int:
    from data_gen.build import build_rows

    return len(build_rows(*_JOB, indices))


_JOB: tuple = ()


def _init_worker(job: tuple) -> None:
    global _JOB
    _JOB = job
    from data_gen.expert.panel import warm_up

    warm_up()
    _rows_job(range(0, 8))  # first figure, first analyses: not part of the steady state


def complete_samples_per_second(job: tuple, rows: int, workers: int, repeats: int) -> float:
    """Rows per second with ``workers`` warmed processes (1: in this process)."""
    chunks = [range(i, min(i + 25, rows)) for i in range(0, rows, 25)]
    rates = []
    if workers == 1:
        _init_worker(job)
        for _ in range(repeats):
            start = time.perf_counter()
            done = sum(_rows_job(chunk) for chunk in chunks)
            rates.append(done / (time.perf_counter() - start))
        return statistics.median(rates)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        pool.map(_rows_job, [range(0, 2)] * workers * 2)  # every worker up and warm
        for _ in range(repeats):
            start = time.perf_counter()
            done = sum(pool.map(_rows_job, chunks, chunksize=1))
            rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def stage_breakdown_ms(job: tuple, rows: int) -> dict[str, float]:
    """Median milliseconds per sample of each stage, in this process."""
    from data_gen.build import make_sample, renderer_for, schedule
    from data_gen.expcot import write_expcot
    from data_gen.expert.panel import analyze
    from data_gen.render import png_bytes
    from data_gen.synthetic.families import anomaly_type_for

    preset, split, seed, counts = job
    order = schedule(dict(counts))[:rows]
    renderer = renderer_for(preset.style)
    stages: dict[str, list[float]] = {
        "series": [],
        "plot + PNG": [],
        "expert panel": [],
        "ExpCoT": [],
    }
    for family, index in order:
        t0 = time.perf_counter()
        sample = make_sample(preset, split, seed, family, index)
        t1 = time.perf_counter()
        png_bytes(renderer.render(sample.series), compress_level=1)
        t2 = time.perf_counter()
        evidence = analyze(sample.series)
        t3 = time.perf_counter()
        write_expcot(evidence, sample.intervals, anomaly_type_for(family, sample.intervals))
        t4 = time.perf_counter()
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[name].append(seconds * 1000)
    return {name: statistics.median(values) for name, values in stages.items()}


def main() -> None:
    args = parse_flags(
        __doc__, rows=(400, "rows per timed pass"), repeats=(3, "timed passes (median taken)")
    )

    from data_gen.build import make_sample
    from data_gen.expert.panel import warm_up
    from data_gen.presets import load_preset

    preset = load_preset("anomllm")
    counts = tuple(preset.counts("train").items())
    job = (preset, "train", preset.splits["train"].seed, counts)
    warm_up()
    series = [
        make_sample(preset, "train", 3407, f.name, i).series
        for f in preset.families
        for i in range(6)
    ]

    public_ms = public_style_render_ms(series, args.repeats)
    stages = stage_breakdown_ms(job, min(args.rows, 200))
    one = complete_samples_per_second(job, args.rows, 1, args.repeats)
    two = complete_samples_per_second(job, args.rows, 2, args.repeats)

    print(f"{machine_line()}, Python {platform.python_version()}")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| public-style render only (new figure per PNG) | {public_ms:.1f} ms/image |")
    for name, ms in stages.items():
        print(f"| stage: {name} | {ms:.2f} ms/sample |")
    print(f"| complete sample, 1 worker | {1000 / one:.2f} ms/sample ({one:.0f} samples/s) |")
    print(f"| complete sample, 2 workers | {two:.0f} samples/s |")
    print(f"| complete sample / public render-only time | {1000 / one / public_ms:.2f} |")
    print(f"| speed-up from 2 workers | {two / one:.2f}x |")


if __name__ == "__main__":
    main()
