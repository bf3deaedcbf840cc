"""Faithfulness: claims read from reasoning text, recomputed from the series with the expert
panel, judged within documented tolerances."""

import json
import re

import numpy as np
import pytest

from anomseer.faithfulness import verify_reasoning
from anomseer.faithfulness.claims import MAX_CHARS, extract_claims
from anomseer.faithfulness.tolerances import half_unit, level_floor, statistic_tolerance
from anomseer.protocol import format_answer
from data_gen.expcot import write_brief_expcot, write_expcot, write_variate_expcot
from data_gen.expert.panel import analyze
from data_gen.expert.variates import analyze_variates
from data_gen.synthetic.families import (
    FAMILIES,
    anomaly_type_for,
    family_of,
    generate_sample,
    resolve_parameters,
    sample_rng,
)

pytestmark = pytest.mark.usefixtures("expert_ready")

T = np.arange(1000)
SPIKED = np.sin(2 * np.pi * T / 50)
SPIKED[400] += 4.0
"""20 whole periods of 50 points plus 4 at t = 400 (where the sine is 0): mean 4 / 1000 =
0.004, std sqrt((500 + 16) / 1000 - 0.004^2) = 0.71832, value 4.0 at t = 400."""
RAMP = T / 1000 + 0.2 * np.sin(2 * np.pi * T / 50)
"""Rises by 0.1 every 100 points, under a sine of period 50."""


def test_tolerances_hand_checked():
    assert half_unit("0.111") == pytest.approx(0.0005)
    assert half_unit("50") == 0.5
    assert half_unit("-1.5") == pytest.approx(0.05)
    assert half_unit("3%") == pytest.approx(0.005)
    assert statistic_tolerance("0.12", 0.1) == pytest.approx(0.01)  # 10 % beats rounding 0.005
    assert statistic_tolerance("0.1", 0.01) == pytest.approx(0.05)  # rounding beats 10 %
    assert statistic_tolerance("0.004", 0.004, level_floor(0.71832)) == pytest.approx(0.0143664)


def score(values, text):
    report = verify_reasoning(values, text)
    assert report.claims, text
    return report.score


@pytest.mark.parametrize(
    ("values", "true", "near", "false"),
    [
        (SPIKED, "The mean is 0.004.", "The mean is about 0.015.", "The mean is 0.2."),
        (SPIKED, "Standard deviation of 0.72.", "std 0.78", "std 0.9"),
        (SPIKED, "median 0.00", "median 0.01", "median 0.5"),
        (SPIKED, "A period of about 50 points.", "period of 54 points", "period of 80 points"),
        (SPIKED, "It repeats every 50 points.", "repeats every 46 points", "repeats every 25"),
        (SPIKED, "a spike around t=400", "a spike around t=404", "a spike around t=600"),
        (SPIKED, "It reaches 4.0 at t = 400.", "reaches 3.7 at t = 402", "reaches 2.0 at t = 400"),
        (RAMP, "rising from t=100 to t=300", "increases from 450 to 470", "falls from 100 to 300"),
    ],
)
def test_each_series_claim_true_near_and_false(values, true, near, false):
    assert score(values, true) == 1.0
    assert score(values, near) == 1.0
    assert score(values, false) == 0.0


def test_claims_about_the_answer_must_agree_with_it():
    answer = format_answer([[398, 403]], "global point", think="{}")
    agree = "One anomaly, between t=400 and t=402, so the class is global point."
    disagree = "Two anomalies, one between t=600 and t=650; so the class is trend."
    report = verify_reasoning(SPIKED, answer.format(agree))
    assert [c.kind for c in report.claims] == ["answer count", "answer interval", "answer class"]
    assert report.score == 1.0
    assert verify_reasoning(SPIKED, answer.format(disagree)).score == 0.0
    # bare reasoning has no answer to agree with: those claims are not checkable
    assert verify_reasoning(SPIKED, disagree).score is None


def _sample(family, index=0):
    length = family_of(family).length
    parameters = resolve_parameters(family, length, {})
    return generate_sample(family, length, parameters, sample_rng(7, "eval", family, index))


def _completion(family, sample, brief=False):
    label = anomaly_type_for(family, sample.intervals, sample.variates)
    if sample.series.ndim == 2:
        think = write_variate_expcot(analyze_variates(sample.series), sample.variates, label)
        return format_answer(sample.intervals, label, think=think, variates=sample.variates)
    write = write_brief_expcot if brief else write_expcot
    think = write(analyze(sample.series), sample.intervals, label)
    return format_answer(sample.intervals, label, think=think)


FAMILY_NAMES = [*FAMILIES, "irregular-range"]


@pytest.fixture(scope="module")
def samples():
    return {family: _sample(family) for family in FAMILY_NAMES}


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_each_family_expcot_verifies_on_its_own_series(family, samples):
    sample = samples[family]
    report = verify_reasoning(sample.series, _completion(family, sample))
    assert report.score == 1.0, report.false_claims
    assert len(report.claims) >= 5


def test_brief_expcot_verifies_on_its_own_series(samples):
    sample = samples["range"]
    report = verify_reasoning(sample.series, _completion("range", sample, brief=True))
    assert report.score == 1.0 and len(report.claims) >= 4, report.claims


def test_expcot_against_another_familys_series_does_not_verify(samples):
    univariate = [f for f in FAMILY_NAMES if samples[f].series.ndim == 1]
    scores = []
    for family, other in zip(univariate, univariate[1:] + univariate[:1], strict=True):
        text = _completion(family, samples[family])
        scores.append(verify_reasoning(samples[other].series, text).score)
    # trend and flat-trend both draw a clean trending sine: a normal trend row's trace can be
    # true of a flat-trend series too; every other pair has false claims
    assert sum(score < 1.0 for score in scores) >= len(scores) - 1, scores
    assert np.mean(scores) <= 0.5, scores


def _nudged(text):
    """Decimals scaled by 1.04 (well inside the 10 % tolerance) and positions 't = N' moved by
    2 points; the thresholds ('> 4.5', '3 sigma') stay."""
    text = re.sub(r"t = (\d+)", lambda m: f"t = {int(m[1]) + 2}", text)
    return re.sub(
        r"(?<![\d.>] )(?<![\d.])(-?\d+)\.(\d+)(?! sigma)",
        lambda m: f"{1.04 * float(m[0]):.{len(m[2])}f}",
        text,
    )


def _altered(text):
    """Every number moved far: integers by 137, decimals doubled plus 0.7."""
    text = re.sub(r"(?<![\d.])\d+(?![\d.])", lambda m: str(int(m[0]) + 137), text)
    return re.sub(r"\d+\.(\d+)", lambda m: f"{2 * float(m[0]) + 0.7:.{len(m[1])}f}", text)


@pytest.mark.parametrize("family", ["range", "point", "freq", "flat-trend", "vta-shapelet"])
def test_numbers_off_by_a_little_verify_and_altered_ones_do_not(family, samples):
    sample = samples[family]
    think, _, answer = _completion(family, sample).removeprefix("<think>").partition("</think>")
    near = verify_reasoning(sample.series, f"<think>{_nudged(think)}</think>{answer}")
    assert near.score == 1.0, near.false_claims
    far = verify_reasoning(sample.series, f"<think>{_altered(think)}</think>{answer}")
    assert far.score <= 0.25, [c for c in far.claims if c.verified]


def test_api_style_free_text():
    text = (
        "<think>Looking at the plot, the signal is a clean sinusoid with a period of about 50 "
        "points and a mean of 0.0. There is a sharp spike around t=400 reaching 4.0 at t=400; "
        "the rest of the series stays in its usual band. So there is one anomaly, between t=398 "
        "and t=402, and the type is global point.</think>"
        "<answer>[[399, 402]]</answer><class>global point</class>"
    )
    report = verify_reasoning(SPIKED, text)
    kinds = [c.kind for c in report.claims]
    assert kinds == [
        "period",
        "mean",
        "spike",
        "value",
        "answer count",
        "answer interval",
        "answer class",
    ]
    assert report.score == 1.0
    wrong = text.replace("50 points", "120 points").replace("t=400", "t=700")
    false = {c.kind for c in verify_reasoning(SPIKED, wrong).false_claims}
    assert false == {"period", "spike", "value"}


def test_each_series_is_analysed_once(monkeypatch):
    import data_gen.expert.panel as panel

    calls = []
    real = panel.analyze
    monkeypatch.setattr(panel, "analyze", lambda *a, **k: calls.append(1) or real(*a, **k))
    fresh = SPIKED + 1e-7  # a series no other test has put in the cache
    for _ in range(3):
        verify_reasoning(fresh, "mean 0.004, a spike around t=400")
    assert len(calls) == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "<think>",
        "mean " * 20_000,
        "[" * 10_000 + "1, 2)" * 5000,
        "spike at t=99999999999999999999, period of 0 points, reaches nan at t = 5",
        "In [5, 3) the local period is 0 points",
        "mean " + "9" * 400 + ".5, a spike at t = " + "9" * 5000,
        "In [0, 1000) the value reaches 1e999 at t = 0 (robust |z| = 1)",
    ],
)
def test_untrusted_text_never_raises(text):
    report = verify_reasoning(SPIKED, text)
    assert report.score is None or 0.0 <= report.score <= 1.0
    json.dumps([claim.as_dict() for claim in report.claims], allow_nan=False)


def test_text_beyond_the_limit_is_ignored():
    assert (
        len(extract_claims("mean 0.1 " * MAX_CHARS)) == MAX_CHARS // 9
    )  # whole "mean 0.1 " items in the first MAX_CHARS


def test_a_series_too_short_for_the_panel_checks_only_the_answer():
    text = "<think>A spike around t=3, one anomaly.</think><answer>[[3, 4]]</answer>"
    report = verify_reasoning(np.zeros(10), text)
    assert [c.kind for c in report.claims] == ["answer count"]


def test_faithfulness_reward():
    from anomseer.errors import UserInputError
    from anomseer.rewards import faithfulness_reward

    completions = [
        "<think>period of about 50 points, a spike around t=400</think><answer>[]</answer>",
        [{"role": "assistant", "content": "a period of 25 points and a spike at t=400"}],
        "nothing checkable",
        "period of about 50 points",
    ]
    series = [SPIKED, SPIKED, SPIKED, None]
    assert faithfulness_reward(completions, series=series, intervals=[[]] * 4) == [1, 0.5, 0, 0]
    with pytest.raises(UserInputError, match="needs the dataset column series"):
        faithfulness_reward(completions, intervals=[[]] * 4)
