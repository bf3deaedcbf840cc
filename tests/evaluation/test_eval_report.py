import pytest

from anomseer.cli import main
from anomseer.evaluation import evaluate
from anomseer.evaluation.report import format_value, markdown_table
from anomseer.protocol import format_answer


def test_markdown_cells_and_alignment():
    assert format_value(None) == "–" and format_value(0.5) == "0.500" and format_value(7) == "7"
    assert markdown_table(["run", "F1"], [["a", 2 / 3], ["b", None]]) == (
        "| run | F1 |\n|:---|---:|\n| a | 0.667 |\n| b | – |"
    )


def test_report_compares_runs_on_shared_rows(eval_data, chat_server, tmp_path, capsys):
    options = dict(model="stand-model", base_url=chat_server.base_url, figures=False)
    chat_server.answers = {200: format_answer([[60, 61]], "global point", think="spike")}
    good = evaluate(eval_data, "eval", "openai", tmp_path / "good", limit=5, **options)
    chat_server.answers = {}
    evaluate(eval_data, "eval", "openai", tmp_path / "blind", limit=3, **options)
    assert good["bootstrap"] == {"over": "series", "resamples": 1000, "seed": 0, "level": 0.95}
    assert good["overall"]["intervals"]["aff_f1"] == pytest.approx([0.0, 0.6])
    assert good["by_type"]["global point"]["intervals"]["class_accuracy"] == [1.0, 1.0]
    report_md = (tmp_path / "good" / "report.md").read_text()
    assert "| overall | 5 | 0.200 [0.000, 0.600] |" in report_md

    assert main(["report", str(tmp_path / "good"), str(tmp_path / "blind")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "Compared on the 3 series (3 completions) every run answered" in text
    assert "(completions per run: good 5, blind 3)" in text
    # shared rows: good answers 1 of 3 exactly; blind answers nothing valid
    assert "| good | openai stand-model | 0.333 [0.000, 1.000] | 0.333 [0.000, 1.000] |" in text
    assert "| blind | openai stand-model | 0.000 [0.000, 0.000] |" in text
    assert "| blind | -0.333 [-1.000, +0.000] | -0.333 [-1.000, +0.000] |" in text
    assert "| global point | blind | 1 | 0.000 [0.000, 0.000] | 0.000 [0.000, 0.000] " in text
    assert "| -1.000 [-1.000, -1.000] * |" in text  # the global point row, where blind is worse
    # then each run on all its rows, from metrics.json (with its intervals)
    full = lines.index("## Each run on all its rows")
    assert lines[full + 2].startswith("| run | backend / model | n | Aff-P | Aff-R | Aff-F1 |")
    assert lines[full + 4].startswith("| good | openai stand-model | 5 | 0.200 [0.000, 0.600] |")
    assert lines[full + 5].endswith("| 0.000 | 3 | 0 |")  # format rate, invalid, failed
    assert "Note: these runs did not all evaluate the same data" in text

    output = tmp_path / "comparison.md"
    runs = [str(tmp_path / "good"), str(tmp_path / "blind")]
    assert main(["report", *runs, "--output", str(output)]) == 0
    assert output.read_text() == text

    assert main(["report", "--group", f"seeds={runs[0]},{runs[1]}", "--resamples", "200"]) == 0
    grouped = capsys.readouterr().out
    assert "| seeds | openai stand-model | 0.167 [" in grouped  # (1/3 + 0) / 2 per completion
    assert "| seeds | 2 | 0.167 ± 0.236 |" in grouped  # the runs' means 1/3 and 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--group", "solo"], "NAME=OUT1,OUT2"),
        (["--group", "g=only_one"], "at least two run folders"),
        ([], "at least one run folder"),
    ],
)
def test_report_refuses_bad_groups_in_one_line(arguments, message, capsys):
    assert main(["report", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_report_on_an_unfinished_run_is_one_line(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert main(["report", str(tmp_path / "half")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no metrics.json" in err and "evaluating into it" in err


def test_figures_draw_univariate_multivariate_and_failed_samples(tmp_path):
    from PIL import Image

    from anomseer.evaluation.figures import FigureSample, plot_per_type, plot_samples

    def sample(name, series, truth=(), predicted=(), truth_ids=(), predicted_ids=(), error=None):
        return FigureSample(
            id=name,
            series=series,
            truth_intervals=truth,
            truth_variates=truth_ids,
            truth_label="shapelet",
            predicted_intervals=predicted,
            predicted_variates=predicted_ids,
            predicted_label=None if error else "shapelet",
            error=error,
            score=0.5,
        )

    samples = [
        sample("uni", [0.0, 1.0, float("nan"), 0.5] * 50, [[3, 4]], [[100, 101]]),
        sample("multi", [[0.0, 1.0] * 10, [1.0, 1.0] * 10], truth_ids=[1], predicted_ids=[0, 1]),
        sample("failed", [0.0] * 10, error="HTTP 500"),
    ]
    plot_samples(tmp_path / "grid.png", samples)
    by_type = {"shapelet": {"count": 3, "aff_f1": None, "class_accuracy": 0.5, "f1": 0.25}}
    plot_per_type(tmp_path / "bars.png", by_type)
    with Image.open(tmp_path / "grid.png") as grid, Image.open(tmp_path / "bars.png") as bars:
        assert grid.size == (1500, 270) and bars.format == "PNG"
