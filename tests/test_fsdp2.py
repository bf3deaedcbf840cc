"""anomseer/trainers/fsdp2.py without launching: which FSDP plugin a run asks for, and the
warning line where FSDP cannot run (one process). Two CPU processes training under FSDP2 are
in test_timerpo.py and test_sharded_training.py."""

import logging

import pytest


@pytest.fixture
def fresh_accelerate_state():
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_the_plugin_comes_from_training_arguments_or_accelerate_launch(tmp_path, monkeypatch):
    from transformers import TrainingArguments

    from anomseer.trainers.fsdp2 import requested_fsdp_plugin

    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    plain = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    assert requested_fsdp_plugin(plain) is None
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "2")
    assert requested_fsdp_plugin(plain).fsdp_version == 2
    monkeypatch.delenv("ACCELERATE_USE_FSDP")
    configured = TrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        fsdp="full_shard",
        fsdp_config={"version": 2},
    )
    assert requested_fsdp_plugin(configured).fsdp_version == 2


def test_fsdp_that_cannot_run_is_one_warning_line(fresh_accelerate_state, caplog):
    from accelerate import Accelerator
    from accelerate.utils import FullyShardedDataParallelPlugin

    from anomseer.trainers.fsdp2 import honour_fsdp_on_cpu

    accelerator = Accelerator(cpu=True)  # one process: nothing to shard across
    with caplog.at_level(logging.WARNING, logger="anomseer.trainers.fsdp2"):
        changed = honour_fsdp_on_cpu(accelerator, FullyShardedDataParallelPlugin(fsdp_version=2))
    assert not changed and accelerator.distributed_type == "NO"
    (line,) = [r.getMessage() for r in caplog.records]
    assert "FSDP was asked for but this run is NO with 1 process(es)" in line
    assert "launch 2 or more processes" in line and "\n" not in line
    assert not honour_fsdp_on_cpu(accelerator, None)  # no FSDP asked for: nothing said
    assert len(caplog.records) == 1
