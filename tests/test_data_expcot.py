"""ExpCoT: deterministic text whose numbers are recomputed here from the series."""

import math
import re

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.signal import detrend, savgol_filter

from data_gen.expcot import (
    describe_evidence,
    write_brief_expcot,
    write_expcot,
    write_variate_expcot,
)
from data_gen.expert.panel import analyze, matrix_profile
from data_gen.expert.variates import analyze_variates
from data_gen.synthetic.families import family_of, generate_sample, resolve_parameters, sample_rng

pytestmark = pytest.mark.usefixtures("expert_ready")

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
CONSTANTS = {"3", "4", "4.5", "5", "21", "2", "31", "100", "1", "1.3"}


def _numbers(text):
    return NUMBER.findall(text)


def _mad_scale(v):
    return 1.4826 * np.median(np.abs(v - np.median(v)))


def _sample(family, index):
    length = family_of(family).length
    parameters = resolve_parameters(family, length, {})
    return generate_sample(family, length, parameters, sample_rng(11, "train", family, index))


def _running_median(x, size=5):
    padded = np.pad(x, size // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, size), axis=1)


def _headline(x_raw):
    """The panel's headline numbers, computed here independently of data_gen.expert."""
    missing = int(np.isnan(x_raw).sum())
    idx = np.arange(x_raw.size)
    ok = ~np.isnan(x_raw)
    x = np.interp(idx, idx[ok], x_raw[ok])
    noise = _mad_scale(x - savgol_filter(x, 7, 2, mode="mirror")) / math.sqrt(1 - 1 / 3)
    floor = 0.02 * x.std() + 1e-12
    scale = max(_mad_scale(x), floor)
    z = (x - np.median(x)) / scale
    # local: residual from a running median of 5, its peaks replaced once by that median
    local_scale = max(noise, floor)
    median = _running_median(x)
    size = np.abs(x - median) / local_scale
    window_max = np.max(np.lib.stride_tricks.sliding_window_view(np.pad(size, 2, "edge"), 5), 1)
    cleaned = np.where((size > 4) & (size == window_max), median, x)
    local_z = (x - _running_median(cleaned)) / local_scale
    power = np.abs(np.fft.rfft(detrend(x))) ** 2
    power[:4] = 0
    peak = int(np.argmax(power))
    share = power[peak - 1 : peak + 2].sum() / power.sum()
    period = x.size / peak if share >= 0.2 else None
    values = {
        str(x.size),
        f"{noise:.3f}",
        f"{x.mean():.3f}",
        f"{x.std():.3f}",
        f"{np.median(x):.3f}",
        f"{scale:.3f}",
        f"{np.abs(z).max():.1f}",
        str(int(np.argmax(np.abs(z)))),
        f"{share:.0%}".rstrip("%"),
        f"{local_scale:.3f}",
        f"{np.abs(local_z).max():.1f}",
        str(int(np.argmax(np.abs(local_z)))),
    }
    if missing:
        values.add(str(missing))
    if period is not None:
        values |= {f"{period:.1f}", str(round(period))}
        slow = uniform_filter1d(x, round(period), mode="nearest")
    elif noise > 0.05 * x.std():
        slow = savgol_filter(x, 31, 2, mode="nearest")
    else:
        slow = x
    slope = savgol_filter(slow, 21, 2, deriv=1, mode="nearest")
    values.add(f"{np.median(slope) * 100:+.3f}")
    window = int(min(max(round(period) if period else 50, 10), 50, x.size // 8))
    import stumpy

    profile = stumpy.stump(x, window)[:, 0].astype(float)
    discord_z = (profile.max() - np.median(profile)) / max(
        _mad_scale(profile), 0.05 * math.sqrt(window)
    )
    values |= {str(window), str(int(np.argmax(profile))), f"{profile.max():.2f}"}
    values.add(f"{discord_z:.1f}")
    return x, values, {"global": z, "local": local_z}


@pytest.mark.parametrize(
    ("family", "index"),
    [("range", 0), ("noisy-point", 1), ("freq", 0), ("trend", 2), ("irregular-vta-global", 0)],
)
def test_expcot_numbers_are_recomputed_from_the_series(family, index):
    sample = _sample(family, index)
    label = "normal"
    if sample.intervals:
        from data_gen.synthetic.families import label_for_family

        label = label_for_family(family)
    evidence = analyze(sample.series)
    text = write_expcot(evidence, sample.intervals, label)
    assert text == write_expcot(analyze(sample.series), sample.intervals, label)
    x, headline, z = _headline(np.asarray(sample.series, dtype=float))
    numbers = _numbers(text)
    missing_headline = {v for v in headline if v not in numbers and v.lstrip("+") not in numbers}
    assert not missing_headline, f"headline numbers absent from the text: {missing_headline}"
    # every other number is a location or value the test can tie to the series or the truth
    allowed = set(headline) | CONSTANTS
    for start, end in sample.intervals:
        allowed |= {str(start), str(end)}
    spans = (
        evidence.global_stats.spans
        + evidence.local.spans
        + evidence.periodicity.spans
        + evidence.trend.spans
    )
    for span in spans:
        allowed |= {str(span.start), str(span.end)}
    # the stated stretches are where the recomputed scores cross their thresholds
    for spans_of, scores, threshold in (
        (evidence.global_stats.spans, z["global"], 4.5),
        (evidence.local.spans, z["local"], 4),
    ):
        flagged = np.zeros(x.size, dtype=bool)
        for span in spans_of:
            flagged[span.start : span.end] = True
        assert (np.abs(scores) > threshold)[~flagged].sum() == 0
        assert all(abs(scores[span.peak]) > threshold for span in spans_of)
    allowed |= {f"{p:.1f}" for p in evidence.periodicity.span_periods}
    allowed |= {f"{s * 100:+.3f}" for s in evidence.trend.span_slopes}
    allowed |= {str(len(spans)) for spans in _span_lists(evidence)}
    allowed |= {str(len(spans) - 3) for spans in _span_lists(evidence)}
    allowed |= {str(len(sample.intervals)), str(len(sample.intervals) - 3)}
    allowed |= _conclusion_numbers(x, evidence, sample.intervals, label)
    unexplained = [n for n in numbers if n not in allowed and n.lstrip("+") not in allowed]
    assert not unexplained, f"numbers not recomputed: {unexplained}\n{text}"


def _span_lists(evidence):
    return [
        evidence.global_stats.spans,
        evidence.local.spans,
        evidence.periodicity.spans,
        evidence.trend.spans,
    ]


def _conclusion_numbers(x, evidence, intervals, label):
    """Numbers the conclusion may state, recomputed from the series and the truth."""
    values = set()
    outside = np.ones(x.size, dtype=bool)
    for s, e in intervals:
        outside[s:e] = False
    rest = x[outside]
    for s, e in intervals[:3]:
        if label == "global point":
            z = evidence.scores["global_z"][s:e]
            peak = s + int(np.argmax(np.abs(z)))
            values |= {str(peak), f"{x[peak]:.2f}", f"{abs(z[peak - s]):.1f}"}
            values |= {f"{rest.min():.2f}", f"{rest.max():.2f}"}
            # the z-score itself: (x - median) / scale, recomputed
            scale = max(_mad_scale(x), 0.02 * x.std() + 1e-12)
            assert f"{abs(x[peak] - np.median(x)) / scale:.1f}" == f"{abs(z[peak - s]):.1f}"
        elif label == "contextual point":
            z = evidence.scores["local_z"][s:e]
            peak = s + int(np.argmax(np.abs(z)))
            values |= {str(peak), f"{abs(z[peak - s]):.1f}"}
        elif label == "seasonal":
            frequency = np.median(evidence.scores["frequency"][s:e])
            values.add(f"{1 / frequency:.1f}")
        elif label == "trend":
            values.add(f"{np.mean(evidence.scores['slope'][s:e]) * 100:+.3f}")
    return values


def test_normal_and_variate_conclusions():
    t = np.arange(1000)
    clean = np.sin(2 * np.pi * t / 40)
    text = write_expcot(analyze(clean), [], "normal")
    assert text.endswith("no analysis finds a departure, so the series is normal.")
    assert describe_evidence(analyze(clean)) in text
    rng = np.random.default_rng(0)
    rows = np.stack(
        [np.sin(2 * np.pi * 0.04 * np.arange(200)) + rng.normal(0, 0.1, 200) for _ in range(4)]
    )
    rows[2] = np.sign(rows[2])
    evidence = analyze_variates(rows)
    text = write_variate_expcot(evidence, [2], "shapelet")
    assert f"variate 2 (excess {evidence.excess[2]:.2f}) follows" in text
    assert text.endswith("so the class is shapelet.")
    median = f"{np.median(evidence.excess):.2f}"
    assert f"median excess is {median}" in text
    with pytest.raises(ValueError, match="unknown label"):
        write_expcot(analyze(clean), [], "weird")


def test_brief_expcot_gives_the_class_at_first_sight_the_decisive_numbers_then_the_class():
    x = np.zeros(200)
    x[50:53] = [0.5, 3.0, 0.5]
    x[120] = -0.2  # the unlabelled range is [-0.20, 0.00]
    evidence = analyze(x)
    z = abs(evidence.scores["global_z"][51])
    text = write_brief_expcot(evidence, [[50, 53], [150, 151]], "global point")
    assert text == (
        "At first sight: global point. 2 anomalous intervals. In [50, 53) the value reaches "
        f"3.00 at t = 51 (robust |z| = "
        f"{z:.1f}), outside the range [-0.20, 0.00] of the unlabelled points. "
        "So the class is global point."
    )
    assert write_brief_expcot(evidence, [], "normal") == (
        "At first sight: normal. No stretch differs in kind from the rest, so the series is normal."
    )
    with pytest.raises(ValueError, match="unknown label"):
        write_brief_expcot(evidence, [], "weird")


def test_matrix_profile_is_stumpys():
    import stumpy

    x = np.random.default_rng(1).normal(size=300)
    np.testing.assert_allclose(matrix_profile(x, 20), stumpy.stump(x, 20)[:, 0].astype(float))
