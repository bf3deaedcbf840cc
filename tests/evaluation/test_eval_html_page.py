"""report.html in a real headless Chromium: every row rendered, the filters and the sort act,
a screenshot that shows something, runs side by side, and no request leaves the file."""

import json

import pytest
from helpers.browser import inked_share
from helpers.cli_run import anomseer
from helpers.eval_fixtures import MULTIVARIATE_ROWS, row_id, univariate_rows

from anomseer.evaluation import evaluate
from anomseer.protocol import format_answer


def _open(page, path):
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def _shown_ids(page) -> list[str]:
    return page.eval_on_selector_all(".row", "rows => rows.map(r => r.dataset.id)")


@pytest.mark.slow
@pytest.mark.usefixtures("expert_ready")
def test_eval_expert_on_the_tiny_preset_writes_a_page_chromium_renders_whole(
    tiny_eval_data, tmp_path, page
):
    out = tmp_path / "expert"
    evaluate(tiny_eval_data, "eval", "expert", out, figures=False, progress=False)
    records = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    ids = [r["id"] for r in records]
    _open(page, out / "report.html")

    page.select_option("#page-size", "0")  # all rows on one page
    assert _shown_ids(page) == ids
    assert page.locator(".row svg path").count() == len(ids)  # each row's series is drawn
    truth_spans = sum(len(r["truth"]["intervals"]) for r in records)
    assert page.locator("rect.truth").count() == truth_spans
    first = records[0]
    reasoning = page.locator(".row").first.locator(".reasoning").inner_text()
    assert reasoning.split()[:4] == first["output"].removeprefix("<think>").split()[:4]

    wrong = [r["id"] for r in records if not r["scores"]["class_correct"]]
    page.select_option("#outcome", "wrong")
    assert _shown_ids(page) == wrong and 0 < len(wrong) < len(ids)
    page.select_option("#outcome", "")
    page.select_option("#type", "trend")
    assert _shown_ids(page) == [r["id"] for r in records if r["anomaly_type"] == "trend"]
    page.select_option("#type", "")
    page.select_option("#sort", "localization:1")
    worst = min(records, key=lambda r: r["scores"]["localization"])
    assert _shown_ids(page)[0] == worst["id"]
    page.select_option("#page-size", "25")
    assert page.inner_text("#shown").startswith(f"rows 1–{len(ids)} of {len(ids)} shown")

    assert inked_share(page.screenshot(full_page=False)) > 0.02  # not a blank page
    assert page.errors == []
    assert all(url.startswith("file://") for url in page.requests), page.requests


@pytest.mark.usefixtures("expert_ready")
def test_multivariate_rows_draw_one_line_per_variate(multivariate_data, tmp_path, page):
    evaluate(multivariate_data, "eval", "expert", tmp_path / "multi", progress=False)
    _open(page, tmp_path / "multi" / "report.html")
    for index, (family, _, _, variates) in enumerate(MULTIVARIATE_ROWS):
        row = page.locator(f'.row[data-id="{row_id(family, index)}"]')
        assert row.locator("svg path").count() == 4  # the fixture's series have 4 variates
        green = row.locator('svg path[stroke="#2ca02c"]')
        assert green.count() == len(variates)  # the truth variates
    assert page.errors == []


def test_report_puts_two_runs_side_by_side_and_marks_false_claims(
    eval_data, chat_server, tmp_path, page
):
    options = dict(model="m", base_url=chat_server.base_url, figures=False, progress=False)
    chat_server.answers = {200: format_answer([[60, 61]], "global point", think="a spike at 60")}
    evaluate(eval_data, "eval", "openai", tmp_path / "good", limit=4, **options)
    chat_server.answers = {200: format_answer([[5, 9]], "trend", think="a rise")}
    chat_server.script = {201: ["500"] * 3}  # the second row's request fails
    evaluate(
        eval_data,
        "eval",
        "openai",
        tmp_path / "bad",
        limit=3,
        max_retries=1,
        backoff=0.01,
        **options,
    )
    log = tmp_path / "bad" / "predictions.jsonl"  # as the faithfulness check will write them
    records = [json.loads(line) for line in log.open()]
    records[0] |= {"faithfulness": 0.5, "claims": [{"text": "a rise", "verified": False},
                                                   {"text": "at 5", "verified": True}]}  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in records))

    html = tmp_path / "side.html"
    result = anomseer("report", tmp_path / "good", tmp_path / "bad", "--html", html, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _open(page, html)
    ids = [row["id"] for row in univariate_rows()]
    assert _shown_ids(page) == ids[:4]
    spike = page.locator(f'.row[data-id="{ids[0]}"]')
    assert spike.locator(".pred .head").all_inner_texts() == [
        "good: global point — class right", "bad: trend — class wrong"
    ]  # fmt: skip
    # the expert run's rows carry the claims eval checked; the edited run's are these two
    assert "✗ a rise" in spike.locator(".claims li.false").all_inner_texts()
    assert "✓ at 5" in spike.locator(".claims li.true").all_inner_texts()
    assert spike.locator("rect.prediction").count() == 2  # one strip per run
    last = page.locator(f'.row[data-id="{ids[3]}"] .pred .head').nth(1).inner_text()
    assert last == "bad: not evaluated on this row"

    page.select_option("#outcome", "disagree")  # only the spike row got two different classes
    assert _shown_ids(page) == [ids[0]]
    page.select_option("#outcome", "invalid")  # the first run's blind answers ("no idea")
    assert _shown_ids(page) == ids[1:4]
    page.select_option("#run", "1")
    page.select_option("#outcome", "failed")
    assert _shown_ids(page) == [ids[1]]
    failed = page.locator(f'.row[data-id="{ids[1]}"] .pred').nth(1)
    assert failed.locator(".head").inner_text() == "bad: no class — request failed"
    assert failed.locator(".reasoning").inner_text().startswith("request failed: ")
    page.select_option("#outcome", "right")  # right in the second run: none
    assert _shown_ids(page) == [] and page.inner_text("#shown").startswith("no row matches")
    assert page.errors == []
