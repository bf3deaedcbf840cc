import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomseer.protocol import (
    LABELS,
    MAX_ANSWER_CHARS,
    MAX_ITEMS,
    Answer,
    build_messages,
    build_prompt,
    format_answer,
    normalize_label,
    parse_answer,
)


@st.composite
def disjoint_intervals(draw, length=1000):
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=16)))
    pairs = list(zip(cuts[0::2], cuts[1::2], strict=False))
    # keep a gap between neighbours so merging leaves them apart
    return [(s, e) for i, (s, e) in enumerate(pairs) if i == 0 or s > pairs[i - 1][1]]


@given(disjoint_intervals(), st.sampled_from(LABELS), st.text(max_size=200))
def test_round_trip(intervals, label, think):
    think = think.replace("</think>", "")
    text = format_answer(intervals, label, think=think)
    answer = parse_answer(text, 1000)
    assert answer.intervals == intervals
    assert answer.label == label
    assert answer.format_valid and answer.answer_valid


@given(st.sets(st.integers(0, 35), max_size=10), st.sampled_from(LABELS))
def test_multivariate_round_trip(variates, label):
    answer = parse_answer(format_answer([], label, "x", variates=sorted(variates)), 200, True)
    assert answer.variates == sorted(variates)
    both = format_answer([(3, 9)], label, "x", variates=sorted(variates))
    assert parse_answer(both, 200, multivariate=True).intervals == [(3, 9)]


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(), max_size=2000))
def test_random_text_never_raises(text):
    answer = parse_answer(text, 100)
    assert isinstance(answer, Answer)
    assert all(0 <= s < e <= 100 for s, e in answer.intervals)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "<think>",
                "</think>",
                "<answer>",
                "</answer>",
                "<class>",
                "</class>",
                "[",
                "]",
                "{",
                "}",
                ",",
                "1",
                "-3",
                "1e309",
                "10" * 20,
                '"start":',
                '"end":',
                "trend",
                " ",
                "null",
                "é",
            ]
        ),
        max_size=60,
    )
)
def test_tag_soup_never_raises(parts):
    answer = parse_answer("".join(parts), 50)
    assert all(0 <= s < e <= 50 for s, e in answer.intervals)


@pytest.mark.parametrize(
    ("text", "intervals", "label", "valid"),
    [
        (
            "<think>a</think><answer>[[10, 20], [30, 41]]</answer><class>trend</class>",
            [(10, 20), (30, 41)],
            "trend",
            True,
        ),
        ("<think></think><answer>[]</answer><class>normal</class>", [], "normal", True),
        # bare ints are points [p, p+1); dict-style intervals are accepted
        (
            '<think>x</think><answer>[5, {"start": 7, "end": 9}]</answer><class>Global</class>',
            [(5, 6), (7, 9)],
            "global point",
            True,
        ),
        # reversed, negative, float and empty pairs are dropped; end is clipped to L
        (
            "<think>x</think><answer>[[20, 10], [-5, 3], [1.5, 4], [4, 4], [90, 500]]</answer>"
            "<class>seasonal</class>",
            [(90, 100)],
            "seasonal",
            True,
        ),
        # the last answer block counts, the first class block counts
        (
            "<think>t</think><answer>[[1,2]]</answer><answer>[[3,4]]</answer>"
            "<class>shapelet</class><class>trend</class>",
            [(3, 4)],
            "shapelet",
            True,
        ),
        # overlapping intervals are merged
        (
            "<think>t</think><answer>[[1,5],[3,8]]</answer><class>trend</class>",
            [(1, 8)],
            "trend",
            True,
        ),
        # 10^30 is a fine int, clipped to L
        (
            f"<think>t</think><answer>[[0, {10**30}]]</answer><class>trend</class>",
            [(0, 100)],
            "trend",
            True,
        ),
        ("<think>t</think><answer>[[1, 2]]</answer>", [(1, 2)], None, False),
        ("<answer>[[1, 2]]</answer><class>trend</class>", [(1, 2)], "trend", False),
        ("<think>t</think><answer>[[1, 2]</answer><class>trend</class>", [], "trend", False),
        ("<think>t</think><answer>__import__('os')</answer><class>x</class>", [], None, False),
        ('<think>t</think><answer>{"a": 1}</answer><class>trend</class>', [], "trend", False),
        (
            "<think>t</think><answer>```json\n[[2, 4]]\n```</answer><class>trend</class>",
            [(2, 4)],
            "trend",
            True,
        ),
    ],
)
def test_hand_checked_cases(text, intervals, label, valid):
    answer = parse_answer(text, 100)
    assert answer.intervals == intervals
    assert answer.label == label
    assert answer.format_valid is valid


def test_invalid_answer_block_is_flagged():
    assert not parse_answer(
        "<think>a</think><answer>nope</answer><class>trend</class>"
    ).answer_valid
    assert not parse_answer("no tags at all").answer_valid
    assert parse_answer("<answer>[]</answer>").answer_valid


@pytest.mark.parametrize(
    "text",
    [
        "<answer>" + "[" * 200_000 + "]" * 200_000 + "</answer>",
        "<answer>[[1, " + "9" * 50_000 + "]]</answer>",
        "<answer>" * 300_000,
        "</answer>" * 300_000,
        "<think><answer><class>" * 100_000,
        "<answer>[" + "[1, 2]," * 200_000 + "[3, 4]]</answer>",
        "<answer>[[1e999, 2]]</answer><class>\u202etrend\u0000</class>",
        "x" * 1_000_000,
    ],
)
def test_adversarial_inputs_are_bounded(text):
    answer = parse_answer(text, 1000)
    assert len(answer.intervals) <= MAX_ITEMS


def test_huge_answer_is_clipped_not_expanded():
    huge = json.dumps([[i, i + 1] for i in range(0, 2_000_000, 2)])
    assert len(huge) > MAX_ANSWER_CHARS
    # only the first MAX_ANSWER_CHARS characters are read: the cut list is not JSON
    assert parse_answer(f"<answer>{huge}</answer>").answer_valid is False
    many = json.dumps([[i, i + 1] for i in range(0, 10_000, 2)])
    assert len(many) < MAX_ANSWER_CHARS
    assert len(parse_answer(f"<answer>{many}</answer>").intervals) == MAX_ITEMS
    # one huge interval stays one pair: nothing is expanded into points
    assert parse_answer(f"<answer>[[0, {10**30}]]</answer>").intervals == [(0, 10**30)]


def test_non_string_input():
    assert parse_answer(None) == Answer()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Global", "global point"),
        ("  contextual   POINT ", "contextual point"),
        ("seasonal", "seasonal"),
        ("Trend", "trend"),
        ("shapelet", "shapelet"),
        ("NORMAL", "normal"),
        ("frequency", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_label(raw, label):
    assert normalize_label(raw) == label


def test_prompt_states_length_and_classes():
    text = build_prompt(400)
    assert "400" in text and "<think>" in text and "normal" in text
    for label in LABELS:
        assert label in text
    assert "variates" in build_prompt(200, num_variates=9)
    [message] = build_messages(1000)
    assert [part["type"] for part in message["content"]] == ["image", "text"]
    with pytest.raises(ValueError, match="positive"):
        build_prompt(0)


def test_format_answer_rejects_unknown_label():
    with pytest.raises(ValueError, match="unknown label"):
        format_answer([], "sparkles")
