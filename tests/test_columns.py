from anomseer.columns import (
    COLUMNS,
    MODEL_COLUMNS,
    OPTIONAL_REWARD_COLUMNS,
    OPTIONAL_SCORING_COLUMNS,
    REWARD_COLUMNS,
    SCORING_COLUMNS,
    SFT_COLUMNS,
    SOURCE_COLUMNS,
    converted_features,
    row_features,
    timerpo_columns,
)


def test_features_hold_every_written_column_in_order():
    assert list(row_features()) == list(COLUMNS)
    assert row_features(multivariate=True)["series"].feature.feature.dtype == "float64"
    converted = converted_features(False, ("z_threshold",))
    assert list(converted) == [*COLUMNS, *SOURCE_COLUMNS]
    assert list(converted["expert_thresholds"]) == ["z_threshold"]


def test_every_stage_reads_columns_the_writers_write():
    written = {*COLUMNS, *SOURCE_COLUMNS}
    stages = (SCORING_COLUMNS, OPTIONAL_SCORING_COLUMNS, MODEL_COLUMNS, SFT_COLUMNS, REWARD_COLUMNS)
    for stage in stages:
        assert set(stage) <= written, stage
    assert set(OPTIONAL_REWARD_COLUMNS) <= written
    assert timerpo_columns(grounded=True) == ("image", "prompt", *REWARD_COLUMNS, "expcot")
    assert "expcot" not in timerpo_columns(grounded=False)
