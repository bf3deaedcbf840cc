"""``anomseer demo``: the whole pipeline on a tiny Qwen2.5-VL that learns on a CPU. Build the
offline tiny model (size 'demo', random weights), generate the 'demo' data (brief expert chain of
thought), run SFT, then TimerPO, evaluate the untrained model, both checkpoints and the expert
baseline on the same held-out rows, and write a report with figures that says what the numbers
show. --size small is the longer setting (target: under 20 minutes on 2 cores).

Every stage is the real one (``anomseer gen``, TRL's SFTTrainer, the TimerPO trainer, the
evaluator). Each stage leaves its output in ``--out`` and is skipped on a rerun, so an
interrupted demo resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from anomseer.atomic_files import write_atomic
from anomseer.errors import UserInputError
from anomseer.recipes import read_yaml, recipes_dir

DEMO_PRESET = "demo"
CURVES = {
    "SFT loss": ("sft", "loss"),
    "SFT token accuracy": ("sft", "mean_token_accuracy"),
    "TimerPO reward": ("timerpo", "reward"),
    "localization reward": ("timerpo", "rewards/localization_reward/mean"),
    "class reward": ("timerpo", "rewards/class_reward/mean"),
    "format reward": ("timerpo", "rewards/format_reward/mean"),
    "transport cost W": ("timerpo", "grounding/transport_cost"),
    "grounded similarity s": ("timerpo", "grounding/similarity"),
    "|A_ts|": ("timerpo", "grounding/advantage_abs"),
}
"""Training curves of the report: title -> (stage, key in the trainer's log history)."""
EVAL_BATCH_SIZE = 25
"""Held-out rows generated together: greedy decoding of a tiny model is cheap per row."""


@dataclass(frozen=True)
class DemoSize:
    """How much work each stage does; ``None`` counts take the 'demo' preset's."""

    train_per_family: int | None = None
    eval_per_family: int | None = None
    sft_steps: int = 500
    timerpo_steps: int = 8
    max_new_tokens: int = 224
    """Evaluation token budget: the longest brief completion is about 150 tokens."""


DEMO_SIZES = {
    "default": DemoSize(),
    "small": DemoSize(train_per_family=200, eval_per_family=20, sft_steps=1000, timerpo_steps=40),
    "ci": DemoSize(train_per_family=20, eval_per_family=2, sft_steps=150, timerpo_steps=2),
}
"""``default``: ``make demo`` (target: under 5 minutes on 2 idle cores); ``small``: the longer
setting (target: under 20 minutes); ``ci``: the test suite's reduced run, the same code path."""


def demo_recipe(stage: str) -> Path:
    """The demo's training recipe of ``stage`` (``sft`` or ``timerpo``)."""
    return recipes_dir() / "demo" / f"{stage}.yaml"


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes inside the demo folder."""

    out: Path

    @property
    def model(self) -> Path:
        return self.out / "tiny-model"

    @property
    def data(self) -> Path:
        return self.out / "data"

    @property
    def sft(self) -> Path:
        return self.out / "sft"

    @property
    def timerpo(self) -> Path:
        return self.out / "timerpo"

    def evaluation(self, name: str) -> Path:
        return self.out / "eval" / name

    @property
    def report(self) -> Path:
        return self.out / "report.md"


EVALUATED = (
    ("untrained", "untrained model (random weights)"),
    ("sft", "SFT checkpoint"),
    ("timerpo", "TimerPO checkpoint"),
    ("expert", "expert baseline"),
)
"""The report's runs: eval folder name -> title."""


def run_demo(
    out: str | os.PathLike = "runs/demo",
    size: DemoSize = DemoSize(),
    say: Callable[[str], None] = print,
) -> Path:
    """Run every stage into ``out`` (skipping finished ones) and return the report's path."""
    from anomseer.modeling import build_tiny_model

    if size.sft_steps < 1 or size.timerpo_steps < 1 or size.max_new_tokens < 1:
        raise UserInputError("demo step counts and --max-new-tokens must be at least 1")
    paths = DemoPaths(Path(out))
    say(f"[1/7] tiny Qwen2.5-VL (random weights, size 'demo') -> {paths.model}")
    build_tiny_model(paths.model, size="demo")
    say(f"[2/7] synthetic data, preset '{DEMO_PRESET}' (brief ExpCoT) -> {paths.data}")
    _generate_data(paths.data, size)
    say(f"[3/7] SFT, {size.sft_steps} steps -> {paths.sft}")
    _train("sft", paths.sft, _stage_flags(paths.model, paths.data, paths.sft, size.sft_steps))
    say(f"[4/7] TimerPO, {size.timerpo_steps} steps -> {paths.timerpo}")
    flags = _stage_flags(paths.sft, paths.data, paths.timerpo, size.timerpo_steps)
    _train("timerpo", paths.timerpo, flags)
    say("[5/7] held-out evaluation: untrained, SFT, TimerPO and the expert baseline")
    runs = _evaluate(paths, size)
    say(f"[6/7] report -> {paths.report}")
    histories = write_demo_report(paths, runs)
    say("[7/7] " + summary_line(runs, histories))
    return paths.report


def _generate_data(out: Path, size: DemoSize) -> None:
    """Build both splits, then give torch back its intended thread count: numba's OpenMP layer,
    which the expert's matrix profile starts, raises it to every core, and two threads on two
    busy cores made each training step several times slower."""
    import torch

    from data_gen.build import build_split
    from data_gen.presets import load_preset

    preset = load_preset(DEMO_PRESET)
    try:
        for split, count in (("train", size.train_per_family), ("eval", size.eval_per_family)):
            build_split(preset, split, out, num_per_family=count, progress=False)
    finally:
        torch.set_num_threads(intended_torch_threads())


def intended_torch_threads() -> int:
    """``OMP_NUM_THREADS`` when it is a positive integer (the Makefile sets 1), else every core."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def _stage_flags(model: Path, data: Path, output: Path, steps: int) -> list[str]:
    return [
        "--model_name_or_path", str(model),
        "--dataset_name", str(data),
        "--output_dir", str(output),
        "--max_steps", str(steps),
        "--save_steps", str(max(1, steps // 2)),
        "--logging_steps", str(max(1, steps // 30)),
    ]  # fmt: skip


def _train(stage: str, output: Path, flags: Sequence[str]) -> None:
    """Run a training stage from its demo recipe unless its final model is already saved."""
    from anomseer.trainers.run_record import LOG_HISTORY_FILE

    if (output / LOG_HISTORY_FILE).is_file() and (output / "config.json").is_file():
        return
    if stage == "sft":
        from anomseer.trainers.sft import main
    else:
        from anomseer.trainers.timerpo import main
    # the trainers resume from the newest checkpoint and write the log history themselves
    main(["--config", str(demo_recipe(stage)), *flags])


def _evaluate(paths: DemoPaths, size: DemoSize) -> list[tuple[str, dict]]:
    from anomseer.evaluation import evaluate

    common = {"data": paths.data, "split": "eval", "progress": False}
    runs = []
    for name, title in EVALUATED:
        if name == "expert":
            metrics = evaluate(backend="expert", out=paths.evaluation(name), **common)
        else:
            model = {"untrained": paths.model, "sft": paths.sft, "timerpo": paths.timerpo}[name]
            metrics = evaluate(
                backend="hf",
                model=str(model),
                out=paths.evaluation(name),
                max_new_tokens=size.max_new_tokens,
                batch_size=EVAL_BATCH_SIZE,
                **common,
            )
        runs.append((title, metrics))
    return runs


def write_demo_report(paths: DemoPaths, runs: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    """The demo's Markdown report: what was trained, the held-out comparison, what it shows,
    training curves (constant terms named) and each run's figures. Returns the histories."""
    from anomseer.evaluation import compare_runs
    from anomseer.trainers.run_record import LOG_HISTORY_FILE

    figures = paths.out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    histories = {
        stage: json.loads((folder / LOG_HISTORY_FILE).read_text())
        for stage, folder in (("sft", paths.sft), ("timerpo", paths.timerpo))
    }
    constant = plot_training_curves(figures / "training_curves.png", histories)
    metrics = dict(zip((name for name, _ in EVALUATED), (m for _, m in runs), strict=True))
    rewards = {name: held_out_reward(paths, name) for name in ("sft", "timerpo")}
    lines = [
        "# AnomSeer demo report",
        "",
        _setup_text(paths, histories, metrics["timerpo"]),
        "",
        "## Held-out evaluation",
        "",
        compare_runs(runs),
        "",
        "## What the numbers show",
        "",
        *(f"- {finding}" for finding in findings(paths, metrics, histories, rewards)),
        "",
        "## Training curves",
        "",
        "![training curves](figures/training_curves.png)",
        "",
    ]
    if constant:
        lines += [
            "Constant over every logged step (a flat panel is this, not a plotting error): "
            + "; ".join(f"{title} = {value:.4g}" for title, value in constant.items())
            + ".",
            "",
        ]
    for name, title in EVALUATED:
        run = Path("eval") / name
        lines += [f"## {title}", "", f"Full report: [{run}/report.md]({run}/report.md)", ""]
        lines += [
            f"![{title}: {image.stem}]({run}/{image.relative_to(paths.evaluation(name))})"
            for image in sorted(paths.evaluation(name).rglob("*.png"))
        ]
        lines.append("")
    write_atomic(paths.report, "\n".join(lines))
    return histories


def _setup_text(paths: DemoPaths, histories: dict[str, list[dict]], timerpo: dict) -> str:
    sft_steps = _last_step(histories["sft"])
    timerpo_steps = _last_step(histories["timerpo"])
    frozen = read_yaml(demo_recipe("sft"), "recipe").get("vision_learning_rate") == 0
    tower = " (the vision tower keeps its random weights: vision_learning_rate 0)" if frozen else ""
    return (
        f"A tiny Qwen2.5-VL (`{paths.model.name}`, about 1 M parameters, random initial "
        f"weights) trained here on CPU{tower}: {sft_steps} SFT steps on the brief expert chain "
        f"of thought of the '{DEMO_PRESET}' preset, then {timerpo_steps} TimerPO steps. All four "
        f"runs below answer the same {timerpo['samples']} held-out series (greedy decoding). "
        "Every stage is the real one; a real checkpoint with the 3B/7B recipes is what gives "
        "numbers that matter for the task."
    )


def _last_step(history: list[dict]) -> int:
    return max((int(entry.get("step", 0)) for entry in history), default=0)


def reward_halves(history: list[dict]) -> tuple[float, float] | None:
    """Mean TimerPO training reward over the first and the second half of the logged steps."""
    rewards = [entry["reward"] for entry in history if "reward" in entry]
    if len(rewards) < 2:
        return None
    half = len(rewards) // 2
    first, second = rewards[:half], rewards[half:]
    return sum(first) / len(first), sum(second) / len(second)


def majority_share(metrics: dict) -> tuple[str, float]:
    """The most common truth class of the held-out rows and its share: the class accuracy of
    always answering it."""
    counts = {label: group["count"] for label, group in metrics["by_type"].items()}
    label = max(counts, key=counts.__getitem__)
    return label, counts[label] / sum(counts.values())


def findings(
    paths: DemoPaths,
    metrics: dict[str, dict],
    histories: dict[str, list[dict]],
    rewards: dict[str, float],
) -> list[str]:
    """Plain statements the numbers back, one per line of the report; ``rewards`` holds the
    ``held_out_reward`` of the ``sft`` and ``timerpo`` runs."""
    overall = {name: run["overall"] for name, run in metrics.items()}
    label, share = majority_share(metrics["timerpo"])
    lines = []
    for name, title in EVALUATED[:3]:
        o = overall[name]
        lines.append(
            f"{title}: format rate {_number(o['format_rate'])}, class accuracy "
            f"{_number(o['class_accuracy'])}, "
            f"{localisation_text(o, metrics[name].get('against_baselines', {}).get('metrics'))}."
        )
    accuracy = [e["mean_token_accuracy"] for e in histories["sft"] if "mean_token_accuracy" in e]
    if accuracy:
        lines.append(f"SFT token accuracy at the last logged step: {accuracy[-1]:.3f}.")
    halves = reward_halves(histories["timerpo"])
    if halves is not None:
        lines.append(
            f"TimerPO training reward: {halves[0]:.3f} over the first half of the logged steps, "
            f"{halves[1]:.3f} over the second."
        )
    sft_reward, timerpo_reward = rewards["sft"], rewards["timerpo"]
    lines.append(
        f"Held-out reward (TimerPO's reward functions and weights on the greedy answers): SFT "
        f"checkpoint {sft_reward:.3f}, TimerPO checkpoint {timerpo_reward:.3f} "
        f"({'above' if timerpo_reward > sft_reward else 'not above'} SFT's)."
    )
    best = overall["timerpo"]["class_accuracy"] or 0.0
    verdict = "above" if best > share else "not above"
    lines.append(
        f"Always answering the most common held-out class ({label}) would score class "
        f"accuracy {share:.3f}; the TimerPO checkpoint's {best:.3f} is {verdict} that."
    )
    predicted = predicted_classes(paths.evaluation("timerpo"))
    if len(predicted) == 1 and None not in predicted:
        lines.append(
            f"The TimerPO checkpoint gives the same class ({next(iter(predicted))}) for every "
            "held-out plot: it has learned the answer protocol but does not yet tell the plots "
            "apart by class."
        )
    return lines


def localisation_text(overall: dict, against: dict) -> str:
    """``affiliation F1 0.500 (best trivial baseline 0.635, whole series: -0.136 [...], not
    above), point-adjusted F1 ...`` of one run; the bare affiliation F1 without baselines."""
    if not against:
        return f"affiliation F1 {_number(overall['aff_f1'])}"
    parts = []
    for key, title in (("aff_f1", "affiliation F1"), ("pa_f1", "point-adjusted F1")):
        e = against.get(key)
        if e is None:
            parts.append(f"{title} {_number(overall[key])}")
            continue
        low, high = e["interval"]
        parts.append(
            f"{title} {e['run']:.3f} (best trivial baseline {e['baseline']:.3f}, "
            f"{e['best_baseline'].replace('_', ' ')}: {e['difference']:+.3f} "
            f"[{low:+.3f}, {high:+.3f}], {'above' if e['above'] else 'not above'})"
        )
    return ", ".join(parts)


HELD_OUT_REWARD_COLUMNS = ("intervals", "anomaly_type", "length", "variates", "series")


def held_out_reward(paths: DemoPaths, name: str) -> float:
    """Mean TimerPO reward of run ``name``'s greedy answers to the held-out rows: the reward
    functions and weights of the demo's TimerPO recipe, the code TimerPO trains on, so the SFT
    and TimerPO checkpoints are compared on the quantity TimerPO raises."""
    from anomseer.dataset_loading import load_split
    from anomseer.evaluation.predictions import PREDICTIONS_FILE, PredictionLog
    from anomseer.rewards import get_reward_funcs

    recipe = read_yaml(demo_recipe("timerpo"), "recipe")
    rows = load_split(paths.data, "eval").select_columns(["id", *HELD_OUT_REWARD_COLUMNS])
    by_id = {row["id"]: row for row in rows}
    records = PredictionLog(paths.evaluation(name) / PREDICTIONS_FILE).latest().values()
    answered = [(by_id[r["id"]], r["output"] or "") for r in records]
    columns = {key: [row[key] for row, _ in answered] for key in HELD_OUT_REWARD_COLUMNS}
    texts = [text for _, text in answered]
    totals = [0.0] * len(texts)
    funcs = get_reward_funcs(recipe["reward_names"])
    for weight, func in zip(recipe["reward_weights"], funcs, strict=True):
        totals = [t + weight * r for t, r in zip(totals, func(texts, **columns), strict=True)]
    return sum(totals) / max(1, len(totals))


def predicted_classes(run: Path) -> set[str | None]:
    """Distinct classes an evaluation run predicted (None: no valid class)."""
    from anomseer.evaluation.predictions import PREDICTIONS_FILE, PredictionLog

    return {r["answer"]["label"] for r in PredictionLog(run / PREDICTIONS_FILE).latest().values()}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def summary_line(runs: list[tuple[str, dict]], histories: dict[str, list[dict]]) -> str:
    """One line for the terminal: the TimerPO checkpoint's held-out numbers and reward."""
    overall = dict(runs)["TimerPO checkpoint"]["overall"]
    halves = reward_halves(histories["timerpo"])
    second = f", training reward (2nd half) {halves[1]:.3f}" if halves else ""
    return (
        f"TimerPO checkpoint on held-out rows: format rate {_number(overall['format_rate'])}, "
        f"class accuracy {_number(overall['class_accuracy'])}, affiliation F1 "
        f"{_number(overall['aff_f1'])}{second}"
    )


def plot_training_curves(path: Path, histories: dict[str, list[dict]]) -> dict[str, float]:
    """One small panel per curve of ``CURVES`` that the logs hold, against the step; a constant
    curve says so in its title. Returns the constant curves' titles and values."""
    from matplotlib.figure import Figure

    from anomseer.evaluation.figures import save_figure

    panels = []
    for title, (stage, key) in CURVES.items():
        points = [(e["step"], e[key]) for e in histories.get(stage, []) if key in e]
        if points:
            panels.append((title, points))
    constant = {
        title: points[0][1]
        for title, points in panels
        if len(points) > 1 and all(value == points[0][1] for _, value in points)
    }
    columns = 3
    rows = max(1, -(-len(panels) // columns))
    figure = Figure(figsize=(4.2 * columns, 2.6 * rows))
    for index, (title, points) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        steps, values = zip(*points, strict=True)
        axes.plot(steps, values, marker="o", markersize=2, color="steelblue")
        note = f" (constant {constant[title]:.3g})" if title in constant else ""
        axes.set_title(title + note, fontsize=9)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=7)
    figure.tight_layout()
    save_figure(figure, path)
    return constant


NAME = "demo"
HELP = "run data -> SFT -> TimerPO -> evaluation -> report with a tiny model that learns"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="folder for every stage's output")
    parser.add_argument(
        "--size", choices=tuple(DEMO_SIZES), default="default",
        help="default: target under 5 minutes on 2 cores; small: longer, target under 20; "
        "ci: the test suite's reduced run",
    )  # fmt: skip
    for flag, what in (
        ("--train-per-family", "training series per family"),
        ("--eval-per-family", "held-out series per family"),
        ("--sft-steps", "SFT optimiser steps"),
        ("--timerpo-steps", "TimerPO steps"),
        ("--max-new-tokens", "tokens a checkpoint may generate in the evaluation"),
    ):
        parser.add_argument(flag, type=int, default=None, help=f"{what}; default: --size's")


def run(args: argparse.Namespace) -> int:
    import time

    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(DEMO_SIZES[args.size])
        if getattr(args, field.name, None) is not None
    }
    size = dataclasses.replace(DEMO_SIZES[args.size], **overrides)
    start = time.perf_counter()
    report = run_demo(args.out, size)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; report: {report}")
    return 0
