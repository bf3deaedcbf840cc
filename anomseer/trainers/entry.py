"""Running a training stage: load its data and model as the recipe says, train, save; and the
script entry point around it (one-line errors, distributed teardown)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from anomseer.errors import UserInputError
from anomseer.trainers.checkpoints import resolve_resume_checkpoint
from anomseer.trainers.model_setup import load_for_training
from anomseer.trainers.run_record import RunRecordCallback
from anomseer.trainers.training_data import load_training_splits

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import ProcessorMixin, Trainer

    from anomseer.trainers.configs import AnomSeerModelConfig, AnomSeerScriptArguments

TrainerT = TypeVar("TrainerT", bound="Trainer")


def train_stage(
    trainer_cls: type[TrainerT],
    script_args: AnomSeerScriptArguments,
    config: Any,
    model_args: AnomSeerModelConfig,
    columns: Sequence[str],
    purpose: str,
    prepare: Callable[[ProcessorMixin, list[Dataset]], dict[str, Any]] | None = None,
) -> TrainerT:
    """Train ``trainer_cls`` as the recipe says and save the final model and processor to
    ``output_dir``. The splits are checked for ``columns`` (which ``purpose`` needs) before
    the model loads; ``prepare(processor, datasets)`` may check them further and returns extra
    trainer arguments (a collator). A rerun resumes as ``resume_from_checkpoint`` says."""
    resume = resolve_resume_checkpoint(config.resume_from_checkpoint, config.output_dir)
    train_dataset, eval_dataset = load_training_splits(script_args, columns, purpose)
    model, processor, peft_config = load_for_training(model_args, config.trust_remote_code)
    datasets = [d for d in (train_dataset, eval_dataset) if d is not None]
    extra = prepare(processor, datasets) if prepare else {}
    trainer = trainer_cls(
        model=model,
        args=config,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[RunRecordCallback()],
        **extra,
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(config.output_dir)
    return trainer


def run_main(main: Callable[[], object], prog: str) -> int:
    """Run a training entry point as a script: bad input ends with one line and exit status 2,
    Ctrl-C with ``PROG: interrupted`` and status 130."""
    try:
        main()
    except UserInputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        release_process_group()
    return 0


def release_process_group() -> None:
    """Tear down torch.distributed when a launcher set it up, every process together: a process
    that exits with the group alive can abort in the collective backend's threads, and a DDP
    reducer freed after its peers have gone can wait in gloo's destructor until the collective
    timeout (both seen with gloo on CPU). Drop the trainer before calling this."""
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # frees an unreachable trainer's DDP reducer while the peers are alive
        dist.barrier()
        dist.destroy_process_group()
