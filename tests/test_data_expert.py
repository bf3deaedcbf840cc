"""Expert analyses (hand-checked numbers), the label-free detector, and what each analysis sees."""

import numpy as np
import pytest

from anomseer.intervals import overlaps_any
from anomseer.protocol import NORMAL_LABEL
from data_gen.expert.detector import expert_detect
from data_gen.expert.panel import (
    analyze,
    departure_spans,
    dominant_period,
    fill_missing,
    noise_level,
    robust_scale,
)
from data_gen.expert.variates import analyze_variates
from data_gen.synthetic.families import family_of, generate_sample, resolve_parameters, sample_rng

pytestmark = pytest.mark.usefixtures("expert_ready")

T = np.arange(1000)


def test_robust_scale_and_spans_hand_checked():
    # median 3, absolute deviations [2, 1, 0, 1, 97] -> MAD 1
    assert robust_scale(np.array([1.0, 2, 3, 4, 100])) == pytest.approx(1.4826)
    z = np.array([0, 4, 4, 0, 0, -5, 0])
    spans = departure_spans(z)
    assert [(s.start, s.end, s.peak, s.z) for s in spans] == [(1, 3, 1, 4.0), (5, 6, 5, -5.0)]
    [joined] = departure_spans(z, gap=3)
    assert (joined.start, joined.end, joined.peak) == (1, 6, 5)


def test_fill_missing_interpolates_linearly():
    np.testing.assert_array_equal(fill_missing(np.array([0.0, np.nan, 2.0])), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(fill_missing(np.array([np.nan, np.nan])), [0.0, 0.0])


def test_dominant_period_and_noise_level():
    period, share = dominant_period(np.sin(2 * np.pi * T / 50) + 0.003 * T)
    assert period == 50.0 and share > 0.99
    white = np.random.default_rng(0).normal(0, 0.2, 1000)
    assert dominant_period(white)[0] is None
    assert noise_level(np.sin(2 * np.pi * T / 50) + white) == pytest.approx(0.2, rel=0.08)
    assert noise_level(np.sin(2 * np.pi * T / 50)) < 1e-3


def test_global_statistics_hand_checked():
    x = np.where(T % 2 == 0, 1.0, -1.0)
    x[500] = 10.0
    g = analyze(x).global_stats
    # 500 values -1, 499 values 1 and one 10: median 0, every |x - 0| but one is 1 -> MAD 1
    assert g.median == 0.0 and g.scale == pytest.approx(1.4826)
    assert g.mean == pytest.approx(0.009) and g.std == pytest.approx(x.std())
    assert g.argmax == 500 and g.max_abs_z == pytest.approx(10 / 1.4826)
    assert [(s.start, s.end) for s in g.spans] == [(500, 501)]


def test_local_trend_frequency_and_discord_see_what_they_should():
    sine = np.sin(2 * np.pi * T / 40)
    spike = sine + np.random.default_rng(0).normal(0, 0.05, T.size)
    spike[300] += 0.5  # inside the sine's range: local, not global
    evidence = analyze(spike)
    assert evidence.global_stats.spans == []
    [local] = evidence.local.spans
    assert (local.start, local.end) == (300, 301)
    neighbours = np.sort(spike[298:303])
    assert evidence.local.max_abs_z == pytest.approx(
        (spike[300] - neighbours[2]) / evidence.local.scale
    )

    sloped = sine + 0.001 * T
    sloped[600:] += 0.004 * (T[600:] - 600)
    trend = analyze(sloped).trend
    assert trend.typical_slope == pytest.approx(0.001, rel=1e-6)
    assert trend.spans and trend.spans[-1].start < 620 < trend.spans[-1].end
    assert trend.span_slopes[-1] > 0.003

    phase = 2 * np.pi * np.cumsum(np.where((T >= 500) & (T < 560), 3 / 40, 1 / 40))
    periodicity = analyze(np.sin(phase)).periodicity
    assert periodicity.period == 40.0
    [span] = periodicity.spans
    assert span.start < 530 < span.end
    assert periodicity.span_periods[0] == pytest.approx(40 / 3, rel=0.1)

    shaped = sine.copy()
    shaped[700:740] = np.sign(sine[700:740])
    discord = analyze(shaped).discord
    assert discord.window == 40 and 660 < discord.start < 740 and discord.z > 3


def test_expert_detect_finds_a_spike_and_passes_a_clean_sine():
    clean = 0.5 * np.sin(2 * np.pi * 0.03 * T)
    answer = expert_detect(clean)
    assert answer.label == NORMAL_LABEL and answer.intervals == []
    assert answer.format_valid and answer.answer_valid and "dominant period" in answer.think
    spiked = clean.copy()
    spiked[612] = 0.95
    answer = expert_detect(spiked)
    assert answer.label == "global point" and answer.intervals == [(612, 613)]
    with_gaps = spiked.copy()
    with_gaps[100:110] = np.nan
    assert expert_detect(with_gaps).intervals == [(612, 613)]


def test_expert_detect_multivariate_flags_the_odd_variate():
    rng = np.random.default_rng(0)
    t = np.arange(200)
    rows = [
        a * np.sin(2 * np.pi * f * t) + rng.normal(0, 0.1, 200)
        for a, f in zip(rng.uniform(0.5, 2, 9), rng.uniform(0.03, 0.05, 9), strict=True)
    ]
    answer = expert_detect(np.stack(rows))
    assert answer.label == NORMAL_LABEL and answer.variates == []
    rows[4] = np.sign(np.sin(2 * np.pi * 0.04 * t)) + rng.normal(0, 0.1, 200)
    answer = expert_detect(np.stack(rows))
    assert answer.label == "shapelet" and answer.variates == [4] and answer.format_valid
    evidence = analyze_variates(np.stack(rows))
    assert evidence.frequencies[4] == pytest.approx(0.04, abs=0.002)


# family -> (analysis whose departures must overlap the truth, least share of truth intervals
# overlapped, measured over the first anomalous samples). The VisualTimeAnomaly contextual
# points are mostly invisible by construction (a value near zero scaled by 2.5 stays near zero).
MATCHING = {
    family: (analysis, least)
    for (analysis, least), families in {
        ("global", 0.8): ["range"],
        ("local", 0.8): ["point", "noisy-point"],
        ("frequency", 0.8): ["freq", "noisy-freq", "vta-seasonal", "vta-shapelet"],
        ("trend", 0.8): ["trend", "flat-trend", "noisy-trend", "vta-trend"],
        ("local", 0.7): ["vta-global"],
        ("local", 0.1): ["vta-contextual"],
    }.items()
    for family in families
}


@pytest.mark.parametrize("family", sorted(MATCHING))
def test_each_family_is_visible_to_its_matching_analysis(family):
    analysis, least = MATCHING[family]
    length = family_of(family).length
    parameters = resolve_parameters(family, length, {})
    hits = total = index = 0
    while total < 10 and index < 60:
        sample = generate_sample(family, length, parameters, sample_rng(7, "eval", family, index))
        index += 1
        if not sample.intervals:
            continue
        evidence = analyze(sample.series)
        spans = {
            "global": evidence.global_stats.spans,
            "local": evidence.local.spans,
            "frequency": evidence.periodicity.spans,
            "trend": evidence.trend.spans,
        }[analysis]
        for start, end in sample.intervals:
            hits += overlaps_any(start, end, [(s.start, s.end) for s in spans])
            total += 1
    assert total >= 10 and hits / total >= least
