from anomseer.cli import main
from anomseer.evaluation import evaluate
from anomseer.evaluation.report import format_value, markdown_table
from anomseer.protocol import format_answer


def test_markdown_cells_and_alignment():
    assert format_value(None) == "–" and format_value(0.5) == "0.500" and format_value(7) == "7"
    assert markdown_table(["run", "F1"], [["a", 2 / 3], ["b", None]]) == (
        "| run | F1 |\n|:---|---:|\n| a | 0.667 |\n| b | – |"
    )


def test_report_compares_runs_side_by_side(eval_data, chat_server, tmp_path, capsys):
    options = dict(model="stand-model", base_url=chat_server.base_url, figures=False, limit=3)
    chat_server.answers = {200: format_answer([[60, 61]], "global point", think="spike")}
    evaluate(eval_data, "eval", "openai", tmp_path / "good", **options)
    chat_server.answers = {}
    evaluate(eval_data, "eval", "openai", tmp_path / "blind", **options)

    assert main(["report", str(tmp_path / "good"), str(tmp_path / "blind")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("| run | backend / model | n | Aff-P | Aff-R | Aff-F1 | Acc |")
    # good: 1 of 3 rows exact (aff F1 1/3, accuracy 1/3); blind: every answer invalid
    assert lines[2].startswith("| good | openai stand-model | 3 | 0.333 | 0.333 | 0.333 | 0.333 |")
    assert lines[3].startswith("| blind | openai stand-model | 3 | 0.000 | 0.000 | 0.000 | 0.000 |")
    assert lines[3].endswith("| 0.000 | 3 | 0 |")  # format rate, invalid, failed
    assert "| global point | 1.000 / 1.000 | 0.000 / 0.000 |" in text
    assert "| seasonal | 0.000 / 0.000 | 0.000 / 0.000 |" in text
    assert "Note:" not in text

    output = tmp_path / "comparison.md"
    runs = [str(tmp_path / "good"), str(tmp_path / "blind")]
    assert main(["report", *runs, "--output", str(output)]) == 0
    assert output.read_text() == text


def test_report_on_an_unfinished_run_is_one_line(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert main(["report", str(tmp_path / "half")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no metrics.json" in err and "anomseer eval" in err
