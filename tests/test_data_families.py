"""Generators: truth placement, where values change, labels, determinism and fit checks."""

import numpy as np
import pytest

from anomseer.errors import UserInputError
from anomseer.protocol import LABELS
from data_gen.synthetic import anomllm, visualtimeanomaly
from data_gen.synthetic.families import (
    FAMILIES,
    anomaly_type_for,
    family_of,
    generate_sample,
    label_for_family,
    resolve_parameters,
    sample_rng,
    tunable_parameters,
)
from data_gen.synthetic.placement import ExponentialPlacement, exponential_intervals

UNIVARIATE = [name for name, family in FAMILIES.items() if not family.multivariate]
MULTIVARIATE = [name for name, family in FAMILIES.items() if family.multivariate]


def _sample(name, index=0, seed=0, length=None, **overrides):
    length = length or family_of(name).length
    parameters = resolve_parameters(name, length, overrides)
    return generate_sample(name, length, parameters, sample_rng(seed, "train", name, index))


class _ScriptedRng:
    """Stands in for a Generator: returns scripted exponential draws, in order."""

    def __init__(self, draws):
        self.draws = list(draws)

    def exponential(self, mean):
        return self.draws.pop(0)


def test_exponential_placement_hand_checked():
    # gaps floored at 10, anomalies floored at 5: 5 -> 10, 3 -> 5, 300, 40, then 2000 ends it
    rng = _ScriptedRng([5.0, 3.0, 300.0, 40.0, 2000.0])
    placement = ExponentialPlacement(normal_rate=800, anomaly_rate=20, min_anomaly=5, min_normal=10)
    intervals = exponential_intervals(rng, 1000, placement)
    assert intervals == [(10, 15), (315, 355)]
    # the last anomaly is cut at the series end
    rng = _ScriptedRng([990.0, 50.0, 10.0])
    cut = exponential_intervals(rng, 1000, placement)
    assert cut == [(990, 1000)]


def test_exponential_placement_respects_floors_and_cap():
    for index in range(50):
        rng = sample_rng(1, "train", "placement", index)
        placement = ExponentialPlacement(50, 10, min_anomaly=5, min_normal=20)
        spans = exponential_intervals(rng, 1000, placement)
        assert len(spans) <= 8
        previous_end = 0
        for start, end in spans:
            assert start - previous_end >= 20
            assert end - start >= 5 or end == 1000
            previous_end = end


def test_every_family_is_registered_with_its_spec_label():
    assert {family.label for family in FAMILIES.values()} <= set(LABELS)
    # SPEC section 9: the noisy and flat variants map to their base family's class
    expected = {
        "noisy-point": "contextual point",
        "noisy-freq": "seasonal",
        "noisy-trend": "trend",
        "flat-trend": "trend",
        "range": "global point",
        "irregular-vta-seasonal": "seasonal",
    }
    for family, label in expected.items():
        assert anomaly_type_for(family, [(1, 2)]) == label == label_for_family(family)
    assert anomaly_type_for("noisy-point", []) == "normal"
    assert label_for_family("vta-random-walk") == "shapelet"
    with pytest.raises(UserInputError, match="unknown family 'sparkles'"):
        label_for_family("sparkles")


@pytest.mark.parametrize("name", UNIVARIATE + MULTIVARIATE)
def test_samples_are_deterministic_and_well_formed(name):
    first, again, other = _sample(name, 3), _sample(name, 3), _sample(name, 4)
    np.testing.assert_array_equal(first.series, again.series)
    assert first.intervals == again.intervals and first.variates == again.variates
    assert not np.array_equal(first.series, other.series)
    length = family_of(name).length
    assert first.series.shape[-1] == length
    for start, end in first.intervals:
        assert 0 <= start < end <= length
    assert first.intervals == sorted(first.intervals)


def test_sample_streams_are_independent_per_split_family_and_index():
    assert not np.array_equal(
        sample_rng(0, "train", "range", 0).random(4), sample_rng(0, "eval", "range", 0).random(4)
    )
    assert not np.array_equal(
        sample_rng(0, "train", "range", 0).random(4), sample_rng(0, "train", "point", 0).random(4)
    )


def test_range_changes_values_only_inside_the_truth():
    for index in range(10):
        anomalous = _sample("range", index)
        # shift (0, 0) draws the same random numbers but adds nothing: the base series
        base = _sample("range", index, shift=[0.0, 0.0])
        changed = np.flatnonzero(anomalous.series != base.series)
        inside = np.zeros(1000, dtype=bool)
        for start, end in anomalous.intervals:
            inside[start:end] = True
            assert np.all(np.abs(anomalous.series - base.series)[start:end] >= 0.5)
        assert inside[changed].all()


@pytest.mark.parametrize("name", ["point", "noisy-point"])
def test_point_replaces_values_only_inside_the_truth(name):
    for index in range(10):
        sample = _sample(name, index, noise_std=0.0)
        sine = np.sin(2 * np.pi * 0.03 * np.arange(1000))
        outside = np.ones(1000, dtype=bool)
        for start, end in sample.intervals:
            outside[start:end] = False
        np.testing.assert_array_equal(sample.series[outside], sine[outside])


def test_freq_multiplies_or_divides_the_instantaneous_frequency_by_three():
    checked = 0
    for index in range(10):
        sample = _sample("freq", index)
        if not sample.intervals:
            continue
        start, end = sample.intervals[0]
        t = np.arange(start + 1)
        np.testing.assert_allclose(
            sample.series[: start + 1], np.sin(2 * np.pi * 0.03 * t), atol=1e-9
        )
        k = np.arange(end - start)
        phase = 2 * np.pi * 0.03 * start
        fits = [
            np.allclose(sample.series[start:end], np.sin(phase + 2 * np.pi * f * k), atol=1e-9)
            for f in (0.09, 0.01)
        ]
        assert fits.count(True) == 1
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(("name", "low", "high"), [("trend", 6, 20), ("flat-trend", 4.5, 6)])
def test_trend_slopes_follow_the_spec(name, low, high):
    checked = 0
    for index in range(20):
        sample = _sample(name, index)
        if not sample.intervals:
            continue
        t = np.arange(1000)
        dsin = np.diff(np.sin(2 * np.pi * 0.02 * t))
        dx = np.diff(sample.series)
        # series = a * (sine + trend) + b; normal slope 3/L fixes a at t = 10
        a = dx[10] / (dsin[10] + 3 / 1000)
        slope = dx / a - dsin
        np.testing.assert_allclose(slope[: sample.intervals[0][0]], 3 / 1000, atol=1e-12)
        start, end = sample.intervals[0]
        inside = slope[start : end - 1] * 1000
        assert np.ptp(inside) < 1e-9 and low <= inside[0] <= high
        assert sample.series.min() == pytest.approx(-1) and sample.series.max() == pytest.approx(1)
        checked += 1
    assert checked >= 3


def _vta_base(name, index):
    """The base signal a VisualTimeAnomaly generator draws first, from the same generator."""
    rng = sample_rng(0, "train", name, index)
    return visualtimeanomaly.noisy_sine(rng, 400, 0.04, 1.5, 0.05)


@pytest.mark.parametrize("name", ["vta-global", "vta-contextual", "vta-seasonal", "vta-shapelet"])
def test_vta_types_change_values_only_inside_the_truth(name):
    for index in range(5):
        sample, base = _sample(name, index), _vta_base(name, index)
        outside = np.ones(400, dtype=bool)
        for start, end in sample.intervals:
            outside[start:end] = False
        np.testing.assert_array_equal(sample.series[outside], base[outside])
        assert not np.array_equal(sample.series[~outside], base[~outside])


def test_vta_point_formulas():
    for name, factor in (("vta-global", 3.5), ("vta-contextual", 2.5)):
        sample, base = _sample(name, 0), _vta_base(name, 0)
        points = [s for s, e in sample.intervals for s in range(s, e)]
        assert len(points) == 20  # ratio 0.05 of 400
        for p in points:
            raw = base[p] * factor * base[max(0, p - 5) : p + 5].std()
            if name == "vta-global":  # pushed to at least the series max (or min)
                expected = max(raw, base.max()) if raw >= 0 else min(raw, base.min())
            else:  # pulled back inside the range
                expected = min(max(raw, base.min()), base.max())
            assert sample.series[p] == pytest.approx(expected)


def test_vta_trend_ramps_the_window_and_keeps_the_level():
    sample, base = _sample("vta-trend", 2), _vta_base("vta-trend", 2)
    (start, end), *_ = sample.intervals
    np.testing.assert_array_equal(sample.series[:start], base[:start])
    ramp = sample.series[start:end] - base[start:end]
    np.testing.assert_allclose(np.abs(ramp), 0.5 * np.arange(end - start))


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_multivariate_truth_is_variate_ids(name):
    for index in range(6):
        sample = _sample(name, index)
        dims = sample.series.shape[0]
        assert dims in (4, 9, 16, 25, 36) and sample.intervals == []
        assert 1 <= len(sample.variates) <= int(np.sqrt(dims)) - 1
        assert all(0 <= v < dims for v in sample.variates)


def test_irregular_drops_points_and_keeps_the_rest():
    rng_a = sample_rng(0, "train", "x", 0)
    rng_b = sample_rng(0, "train", "x", 0)
    base = generate_sample("vta-global", 400, resolve_parameters("vta-global", 400, {}), rng_a)
    parameters = resolve_parameters("irregular-vta-global", 400, {"drop_ratio": [0.1]})
    irregular = generate_sample("irregular-vta-global", 400, parameters, rng_b)
    missing = np.isnan(irregular.series)
    assert missing.sum() == 40
    np.testing.assert_array_equal(irregular.series[~missing], base.series[~missing])
    assert irregular.intervals == base.intervals


def test_parameters_are_checked():
    assert "drop_ratio" in tunable_parameters("irregular-freq")
    assert tunable_parameters("noisy-freq")["noise_std"] == 0.08
    bad = [
        ("nope", 1000, {}, "unknown family"),
        ("range", 1000, {"colour": 1}, "no parameter 'colour'"),
        ("range", 10, {}, "length must be an integer >= 64"),
        ("range", -5, {}, "length must be"),
        ("trend", 500, {}, "does not fit"),
        ("range", 1000, {"shift": [0.8]}, "[low, high] pair"),
        ("range", 1000, {"shift": [0.8, 0.5]}, "low <= high"),
        ("range", 1000, {"min_normal": 2.5}, "must be an integer"),
        ("vta-global", 400, {"ratio": 0.001}, "no anomalous point"),
        ("vta-seasonal", 100, {"radius": 40}, "do not fit"),
        ("vta-square", 200, {"num_variates": [1, 4]}, "at least 4"),
        ("irregular-range", 1000, {"drop_ratio": [0.7]}, "drop_ratio"),
    ]
    for name, length, overrides, message in bad:
        with pytest.raises(UserInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
            resolve_parameters(name, length, overrides)
    assert resolve_parameters("range", 1000, {"shift": [1, 2]})["shift"] == (1.0, 2.0)


def test_generators_need_a_known_shape():
    with pytest.raises(ValueError, match="unknown variate shape"):
        visualtimeanomaly.variate_wise_series(
            np.random.default_rng(0), 200, "circle", visualtimeanomaly.VariateParameters()
        )
    sparse = anomllm.RangeParameters(placement=ExponentialPlacement(1e6, 20.0, 5, 10))
    sample = anomllm.range_series(np.random.default_rng(0), 100, sparse)
    assert sample.intervals == [] and sample.variates == []


def test_flat_overrides_reach_the_nested_placement():
    parameters = resolve_parameters("freq", 1000, {"min_normal": 900, "factor": 2})
    assert parameters["min_normal"] == 900 and parameters["normal_rate"] == 450.0
    for index in range(5):
        sample = _sample("freq", index, min_normal=900)
        assert all(start >= 900 for start, _ in sample.intervals)
        assert len(sample.intervals) <= 1
