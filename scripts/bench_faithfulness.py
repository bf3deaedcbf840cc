"""Faithfulness of the ExpCoT on a preset's split: each row's trace checked against its own
series, against another row's series, and with its numbers and positions altered; and the time
of a check (first call with the panel, then cached).

Rows are built as `anomseer gen` builds them (same samples, panel and ExpCoT; no plot is
rendered). The completion (ExpCoT in <think>, then the answer and class) is what is verified,
so the claims about the answer are checked too. "Other series" pairs row k with row
k + n/2 + 1 (another family and another sample). "Altered" moves every number of the trace:
integers by 20-200, decimals scaled by 1.5-3 and shifted by 20-200 units of their last digit.

    .venv/bin/python scripts/bench_faithfulness.py --preset anomllm --per-family 400
"""

from __future__ import annotations

import re
import statistics
import time

import numpy as np
from _common import machine_line, parse_flags  # scripts/ is on sys.path when run as a script

from anomseer.faithfulness import verify_reasoning
from anomseer.faithfulness.series_facts import series_facts
from anomseer.protocol import format_answer
from data_gen.build import make_sample, schedule
from data_gen.expcot import write_brief_expcot, write_expcot
from data_gen.expert.panel import analyze, warm_up
from data_gen.presets import load_preset
from data_gen.synthetic.families import anomaly_type_for


def alter(text: str, rng: np.random.Generator) -> str:
    """Every number of ``text`` moved (see the module docstring), written with its decimals."""

    def moved(m: re.Match) -> str:
        written = m[0]
        shift = int(rng.integers(20, 201)) * (1 if rng.random() < 0.5 else -1)
        decimals = len(written.partition(".")[2])
        if not decimals:
            return str(abs(int(written) + shift))
        value = float(written) * rng.uniform(1.5, 3.0) + shift * 10.0**-decimals
        return f"{value:.{decimals}f}"

    return re.sub(r"\d+(?:\.\d+)?", moved, text)


def main() -> None:
    args = parse_flags(__doc__, per_family=400, seed=0)
    print(machine_line())
    preset = load_preset("anomllm")
    split = preset.split("eval")
    counts = preset.counts("eval", args.per_family)
    order = schedule(counts)
    warm_up()
    rows = []
    for family, index in order:
        sample = make_sample(preset, "eval", split.seed, family, index)
        label = anomaly_type_for(family, sample.intervals, sample.variates)
        write = write_brief_expcot if preset.expcot == "brief" else write_expcot
        think = write(analyze(sample.series), sample.intervals, label)
        rows.append((family, sample, label, think))
    rng = np.random.default_rng(args.seed)
    n = len(rows)
    results: dict[str, dict[str, list[float]]] = {}
    first_times, cached_times, own_claims = [], [], []
    for k, (family, sample, label, think) in enumerate(rows):
        completion = format_answer(sample.intervals, label, think=think)
        start = time.perf_counter()
        own = verify_reasoning(sample.series, completion)
        first_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_reasoning(sample.series, completion)
        cached_times.append(time.perf_counter() - start)
        other = rows[(k + n // 2 + 1) % n][1].series
        altered = format_answer(sample.intervals, label, think=alter(think, rng))
        scores = {
            "own": own.score,
            "other series": verify_reasoning(other, completion).score,
            "altered": verify_reasoning(sample.series, altered).score,
        }
        own_claims.append(len(own.claims))
        for name, score in scores.items():
            group = results.setdefault(family, {}).setdefault(name, [])
            group.append(np.nan if score is None else score)
    print(f"{n} rows of anomllm/eval ({args.per_family} per family)")
    print(f"{'family':<12} {'own':>6} {'other':>6} {'altered':>7}")
    for family, group in results.items():
        cells = [np.nanmean(group[name]) for name in ("own", "other series", "altered")]
        print(f"{family:<12} {cells[0]:6.3f} {cells[1]:6.3f} {cells[2]:7.3f}")
    overall = {
        name: np.nanmean([v for g in results.values() for v in g[name]])
        for name in ("own", "other series", "altered")
    }
    lowest = [min(group["own"]) for group in results.values()]
    print(
        f"overall: own {overall['own']:.3f} (min {np.nanmin(lowest):.3f}), "
        f"other series {overall['other series']:.3f}, altered {overall['altered']:.3f}; claims per "
        f"trace mean {statistics.mean(own_claims):.1f}, min {min(own_claims)}"
    )
    print(
        f"time per check: first {1e3 * statistics.median(first_times):.1f} ms median (panel "
        f"included), cached {1e3 * statistics.median(cached_times):.2f} ms median"
    )
    long_check(rows[1])


def long_check(row: tuple) -> None:
    """A 1,000-point series and a trace of about 1,000 tokens (the ExpCoT three times)."""
    _, sample, label, think = row
    text = format_answer(sample.intervals, label, think=" ".join([think] * 3))
    series = np.asarray(sample.series) + 1e-9  # a series the cache has not seen
    start = time.perf_counter()
    series_facts(series)
    panel = time.perf_counter() - start
    times = []
    for _ in range(20):
        start = time.perf_counter()
        report = verify_reasoning(series, text)
        times.append(time.perf_counter() - start)
    print(
        f"1,000 points, {len(text.split())} words ({len(text)} chars), "
        f"{len(report.claims)} claims: "
        f"panel {1e3 * panel:.1f} ms once, then {1e3 * statistics.median(times):.2f} ms per check"
    )


if __name__ == "__main__":
    main()
