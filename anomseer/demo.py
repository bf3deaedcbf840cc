"""The whole pipeline on the built-in tiny default: tiny model, data, SFT, TimerPO, evaluation
of the trained checkpoint and of the expert baseline, and one report.

Every stage is the real one (``anomseer gen``, TRL's SFTTrainer, the TimerPO trainer, the
evaluator); only the model is tiny and random, so the scores mean nothing. Each stage leaves
its output in ``out`` and is skipped on a rerun, so an interrupted demo resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from anomseer.atomic_files import write_atomic
from anomseer.recipes import recipes_dir

CURVES = {
    "SFT loss": ("sft", "loss"),
    "TimerPO reward": ("timerpo", "reward"),
    "localization reward": ("timerpo", "rewards/localization_reward/mean"),
    "class reward": ("timerpo", "rewards/class_reward/mean"),
    "format reward": ("timerpo", "rewards/format_reward/mean"),
    "transport cost W": ("timerpo", "grounding/transport_cost"),
    "grounded similarity s": ("timerpo", "grounding/similarity"),
    "|A_ts|": ("timerpo", "grounding/advantage_abs"),
}
"""Training curves of the report: title -> (stage, key in the trainer's log history)."""


@dataclass(frozen=True)
class DemoSize:
    """How much work each stage does; CI runs the same path with smaller numbers."""

    num_per_family: int | None = None
    sft_steps: int = 40
    timerpo_steps: int = 12
    max_new_tokens: int = 96


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


def run_demo(
    out: str | os.PathLike = "runs/demo",
    size: DemoSize = DemoSize(),
    say: Callable[[str], None] = print,
) -> Path:
    """Run every stage into ``out`` (skipping finished ones) and return the report's path."""
    from anomseer.modeling import build_tiny_model

    paths = DemoPaths(Path(out))
    say(f"[1/6] tiny Qwen2.5-VL (random weights) -> {paths.model}")
    build_tiny_model(paths.model)
    say(f"[2/6] synthetic data, preset 'tiny' -> {paths.data}")
    _generate_data(paths.data, size)
    say(f"[3/6] SFT on the expert chain of thought -> {paths.sft}")
    _train("sft", paths.sft, _stage_flags(paths.model, paths.data, paths.sft, size.sft_steps))
    say(f"[4/6] TimerPO (grounded advantage, orthogonal projection) -> {paths.timerpo}")
    flags = _stage_flags(paths.sft, paths.data, paths.timerpo, size.timerpo_steps)
    _train("timerpo", paths.timerpo, flags)
    say("[5/6] evaluation on the held-out split: TimerPO checkpoint and expert baseline")
    runs = _evaluate(paths, size)
    say(f"[6/6] report -> {paths.report}")
    write_demo_report(paths, runs)
    return paths.report


def _generate_data(out: Path, size: DemoSize) -> None:
    from data_gen.build import build_split
    from data_gen.presets import load_preset

    preset = load_preset("tiny")
    for split in ("train", "eval"):
        build_split(preset, split, out, num_per_family=size.num_per_family, progress=False)


def _stage_flags(model: Path, data: Path, output: Path, steps: int) -> list[str]:
    return [
        "--model_name_or_path", str(model),
        "--dataset_name", str(data),
        "--output_dir", str(output),
        "--max_steps", str(steps),
        "--save_steps", str(max(1, steps // 2)),
        "--logging_steps", str(max(1, steps // 20)),
    ]  # fmt: skip


def _train(stage: str, output: Path, flags: Sequence[str]) -> None:
    """Run a training stage from its tiny recipe unless its final model is already saved."""
    history = output / "log_history.json"
    if history.is_file() and (output / "config.json").is_file():
        return
    if stage == "sft":
        from anomseer.trainers.sft import main
    else:
        from anomseer.trainers.timerpo import main
    resume = ["--resume_from_checkpoint", "last"] if any(output.glob("checkpoint-*")) else []
    recipe = recipes_dir() / "tiny-cpu" / f"{stage}.yaml"
    trainer = main(["--config", str(recipe), *flags, *resume])
    write_atomic(history, json.dumps(trainer.state.log_history, indent=1))


def _evaluate(paths: DemoPaths, size: DemoSize) -> list[tuple[str, dict]]:
    from anomseer.evaluation import evaluate

    common = {"data": paths.data, "split": "eval", "progress": False}
    trained = evaluate(
        backend="hf",
        model=str(paths.timerpo),
        out=paths.evaluation("timerpo"),
        max_new_tokens=size.max_new_tokens,
        **common,
    )
    expert = evaluate(backend="expert", out=paths.evaluation("expert"), **common)
    return [("tiny TimerPO checkpoint", trained), ("expert baseline", expert)]


def write_demo_report(paths: DemoPaths, runs: list[tuple[str, dict]]) -> None:
    """The demo's Markdown report: the comparison table, training curves and eval figures."""
    from anomseer.evaluation import compare_runs

    figures = paths.out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    histories = {
        stage: json.loads((folder / "log_history.json").read_text())
        for stage, folder in (("sft", paths.sft), ("timerpo", paths.timerpo))
    }
    plot_training_curves(figures / "training_curves.png", histories)
    lines = [
        "# AnomSeer demo report",
        "",
        "The tiny Qwen2.5-VL has **random weights**: its scores mean nothing. Every stage is "
        "the real one (data generation, SFT with TRL, TimerPO, the evaluator); run the same "
        "commands with a real checkpoint and the 3B/7B recipes for numbers that matter.",
        "",
        "## Held-out evaluation",
        "",
        compare_runs(runs),
        "",
        "## Training curves",
        "",
        "![training curves](figures/training_curves.png)",
        "",
    ]
    for name, folder in (("TimerPO checkpoint", "timerpo"), ("expert baseline", "expert")):
        run = Path("eval") / folder
        lines += [f"## {name}", "", f"Full report: [{run}/report.md]({run}/report.md)", ""]
        lines += [
            f"![{name}: {image.stem}]({run}/{image.relative_to(paths.evaluation(folder))})"
            for image in sorted(paths.evaluation(folder).rglob("*.png"))
        ]
        lines.append("")
    write_atomic(paths.report, "\n".join(lines))


def plot_training_curves(path: Path, histories: dict[str, list[dict]]) -> None:
    """One small panel per curve of ``CURVES`` that the logs hold, against the step."""
    from matplotlib.figure import Figure

    from anomseer.evaluation.figures import save_figure

    panels = []
    for title, (stage, key) in CURVES.items():
        points = [(e["step"], e[key]) for e in histories.get(stage, []) if key in e]
        if points:
            panels.append((title, points))
    columns = 4
    rows = max(1, -(-len(panels) // columns))
    figure = Figure(figsize=(4 * columns, 2.6 * rows))
    for index, (title, points) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        steps, values = zip(*points, strict=True)
        axes.plot(steps, values, marker="o", markersize=2, color="steelblue")
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=7)
    figure.tight_layout()
    save_figure(figure, path)
