import functools
import json
import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomseer.errors import UserInputError
from anomseer.rewards import (
    DEFAULT_WEIGHTS,
    REWARD_FUNCS,
    class_reward,
    completion_text,
    format_reward,
    get_reward_funcs,
    localization_reward,
    make_total_reward,
    total_reward,
)

ROW = {"intervals": [[10, 20]], "anomaly_type": "trend", "length": 100, "family": "trend"}
LOC_12_18 = (1 + 0.6 + 0.75 + 1 + 0.992 + 2 * 0.992 / 1.992) / 6  # see test_metrics
TRL_EXTRAS = {
    "prompts": None,
    "completion_ids": None,
    "trainer_state": object(),
    "log_extra": print,
    "log_metric": print,
}


def columns(rows):
    """Dataset rows as TRL passes them: one keyword list per column, plus TRL's extras."""
    keys = {"series"} | {key for row in rows for key in row}
    prompts = [[{"role": "user", "content": [{"type": "image"}]}] for _ in rows]
    return {key: [row.get(key) for row in rows] for key in keys} | TRL_EXTRAS | {"prompts": prompts}


def rewards(completions, rows):
    kwargs = columns(rows)
    return {name: fn(completions, **kwargs) for name, fn in REWARD_FUNCS.items()}


def test_crafted_completions_hand_checked():
    completions = [
        "<think>a ramp</think><answer>[[12, 18]]</answer><class>trend</class>",
        "<think>a ramp</think><answer>[[12, 18]]</answer><class>seasonal</class>",
        "<answer>[[12, 18]]</answer><class>trend</class>",  # no think block
        "<think>?</think><answer>[[12, 18]</answer><class>trend</class>",  # broken JSON
        "<think>flat</think><answer>[]</answer><class>normal</class>",
        "I see nothing.",
    ]
    rows = [ROW] * 4 + [{"intervals": [], "anomaly_type": "normal", "length": 100}, ROW]
    got = rewards(completions, rows)
    assert got["format"] == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert got["class"] == [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert got["localization"] == pytest.approx([LOC_12_18] * 3 + [0.0, 1.0, 0.0])
    expected_total = [
        0.7 * LOC_12_18 + 0.2 + 0.1,
        0.7 * LOC_12_18 + 0.1,
        0.7 * LOC_12_18 + 0.2,
        0.2,
        1.0,
        0.0,
    ]
    assert got["total"] == pytest.approx(expected_total)
    assert got["total"][0] == pytest.approx(0.9227647925, abs=1e-10)


def test_conversational_completions_read_like_strings():
    text = "<think>x</think><answer>[[12, 18]]</answer><class>trend</class>"
    as_string = [{"role": "assistant", "content": text}]
    as_parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": text[:20]}, {"type": "text", "text": text[20:]}],
        }
    ]
    assert completion_text(as_string) == completion_text(as_parts) == text
    assert completion_text({"role": "assistant", "content": text}) == text
    for weird in (None, 3, [None, {"content": None}], [{"content": [{"type": "image"}, 7]}]):
        assert completion_text(weird) == ""
    got = total_reward([text, as_string, as_parts], **columns([ROW] * 3))
    assert got == pytest.approx([0.7 * LOC_12_18 + 0.3] * 3)


def test_multivariate_and_irregular_rows():
    multi = {
        "intervals": [],
        "anomaly_type": "shapelet",
        "length": 4,
        "variates": [0, 2],
        "series": [[0.0, 1.0, 0.0, 1.0]] * 3,
    }
    irregular = {
        "intervals": [[4, 6]],
        "anomaly_type": "trend",
        "length": 10,
        "variates": [],
        "series": [0.0, 1.0, None, None] + [1.0] * 6,
    }
    completions = [
        "<think>x</think><answer>[2, 5]</answer><class>shapelet</class>",
        "<think>x</think><answer>[[1, 5]]</answer><class>trend</class>",
    ]
    got = localization_reward(completions, **columns([multi, irregular]))
    # variate ids: P = R = F1 = 0.5; irregular: see test_metrics (P = R = F1 = 0.5 on 8 points)
    aff_f1 = 2 * 0.8125 * 0.9375 / (0.8125 + 0.9375)
    assert got == pytest.approx([0.5, (0.5 * 3 + 0.8125 + 0.9375 + aff_f1) / 6])


def test_total_reward_weights_are_configurable():
    completion = ["<think>x</think><answer>[[12, 18]]</answer><class>seasonal</class>"]
    weights = {"localization": 0.5, "class": 0.0, "format": 0.5}
    bound = make_total_reward(weights)
    assert bound(completion, **columns([ROW])) == pytest.approx([0.5 * LOC_12_18 + 0.5])
    assert total_reward(completion, weights=weights, **columns([ROW])) == bound(
        completion, **columns([ROW])
    )
    # TRL names a partial after the function it wraps; the bound reward pickles for workers
    assert isinstance(bound, functools.partial) and bound.func.__name__ == "total_reward"
    assert pickle.loads(pickle.dumps(bound)).keywords == {"weights": weights}
    assert dict(DEFAULT_WEIGHTS) == {"localization": 0.7, "class": 0.2, "format": 0.1}
    for bad in ({"localization": 1.0}, {"localization": 0.9, "class": 0.2, "format": -0.1}):
        with pytest.raises(UserInputError, match="reward weights"):
            make_total_reward(bad)
    with pytest.raises(UserInputError, match="sum to 1"):
        make_total_reward({"localization": 1, "class": 1, "format": 1})


def test_registry():
    assert get_reward_funcs(["localization", "class", "format"]) == [
        localization_reward,
        class_reward,
        format_reward,
    ]
    assert [fn.__name__ for fn in get_reward_funcs(["total"])] == ["total_reward"]
    with pytest.raises(
        UserInputError, match=r"'accuracy'.*known: localization, class, format, total"
    ):
        get_reward_funcs(["format", "accuracy"])


def test_each_completion_is_parsed_once_for_all_reward_terms(monkeypatch):
    import anomseer.rewards as rewards_module

    parsed = []
    real = rewards_module.score_completion

    def counted(text, **kwargs):
        parsed.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(rewards_module, "score_completion", counted)
    completions = ["<answer>[[10, 20]]</answer><class>trend</class>", "no answer"]
    kwargs = columns([ROW, ROW])  # one step: TRL passes the same lists to every function
    first = [fn(completions, **kwargs) for fn in get_reward_funcs(["localization", "class"])]
    assert parsed == completions
    assert first[0] == [1.0, 0.0] and first[1] == [1.0, 0.0]  # exact answer; no answer
    # the next step (new lists), or the same list with a changed text, is scored again
    format_reward(completions, **columns([ROW, ROW]))
    completions[1] = "<answer>[]</answer>"
    format_reward(completions, **kwargs)
    assert len(parsed) == 6


def test_missing_columns_are_named():
    with pytest.raises(UserInputError, match="anomaly_type, length"):
        class_reward(["<answer>[]</answer>"], intervals=[[]])


TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<class>", "</class>", "[", "]", ",", "{"]
fragments = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*TAGS, "trend", "normal", "global", '"start"', "1e999", "-3", "NaN"]),
    st.integers(-(10**20), 10**20).map(str),
)
numbers = st.one_of(st.integers(-5, 120), st.integers(-(10**30), 10**30), st.floats())
spans = st.tuples(st.integers(-5, 120), st.integers(0, 30)).map(lambda p: [p[0], p[0] + p[1]])
answer_bodies = st.one_of(
    st.lists(spans, min_size=1, max_size=6),
    st.lists(st.lists(numbers, min_size=2, max_size=2), max_size=6),
    st.lists(numbers, max_size=6),
    st.lists(st.fixed_dictionaries({"start": numbers, "end": numbers}), max_size=3),
    st.fixed_dictionaries({"variates": st.lists(numbers, max_size=4), "intervals": st.just([])}),
).map(lambda body: json.dumps(body))
shaped = st.tuples(st.text(max_size=20), answer_bodies, st.text(max_size=20)).map(
    lambda t: f"<think>{t[0]}</think><answer>{t[1]}</answer><class>{t[2]}</class>"
)
texts = st.one_of(st.lists(fragments, max_size=25).map("".join), shaped)
completions_st = st.one_of(
    texts,
    texts.map(lambda t: [{"role": "assistant", "content": t}]),
    texts.map(lambda t: [{"role": "assistant", "content": [{"type": "text", "text": t}]}]),
)
rows_st = st.sampled_from(
    [
        ROW,
        {"intervals": [], "anomaly_type": "normal", "length": 50},
        {
            "intervals": [],
            "anomaly_type": "shapelet",
            "length": 8,
            "variates": [1],
            "series": [[0.0] * 8] * 2,
        },
        {
            "intervals": [[2, 3]],
            "anomaly_type": "global point",
            "length": 6,
            "series": [0, None, 1, 9, 1, 0],
        },
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(completions_st, rows_st), min_size=1, max_size=4))
def test_rewards_never_raise_and_stay_in_unit_interval(pairs):
    completions = [c for c, _ in pairs]
    for values in rewards(completions, [row for _, row in pairs]).values():
        assert len(values) == len(pairs)
        assert all(isinstance(v, float) and not math.isnan(v) and 0.0 <= v <= 1.0 for v in values)
