"""TimerPO: GRPO with an optimal-transport grounded advantage and orthogonal projection
(SPEC section 5), as a subclass of TRL's ``GRPOTrainer``.

After TRL has generated and scored a batch (its advantages are A_main, mean-centred per group
with ``scale_rewards="none"``), the trainer takes the current policy's last-layer hidden states
of every completion (prompt and plot in context: kept from TRL's old-log-prob pass when it makes
one, else kept while ``generate`` made the completions, else read in a pass of its own), reads
those of its row's ExpCoT text (read alone), turns each pair into a similarity s with batched
entropic OT on the device that holds them, gathers s and A_main across processes so every
group is whole, and then either mixes A = A_main + alpha * A_ts_perp (``projection:
advantage``, the reference), mixes without the projection (``none``), or keeps the grounded
objective apart and projects its gradient onto the normal plane of the primary one
(``gradient``). Launched as SFT is
(:mod:`anomseer.trainers.sft`): ``anomseer timerpo --config RECIPE`` in one process, ``-m
anomseer.trainers.timerpo`` under ``accelerate launch``; every config field is also a flag
that overrides the recipe (``--alpha 0``).
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from trl import GRPOConfig, GRPOTrainer
from trl.models.utils import disable_gradient_checkpointing

from anomseer.columns import EXPCOT_COLUMN, timerpo_columns
from anomseer.errors import UserInputError
from anomseer.grounding import (
    MARGINALS,
    GroundedSimilarity,
    check_ot_settings,
    grounded_advantage,
    grounded_similarity,
)
from anomseer.projection import (
    PROJECTION_EPS,
    check_alpha,
    combine_advantages,
    grouped,
    orthogonalize_advantages,
    project_gradients_,
)
from anomseer.rewards import get_reward_funcs, reward_columns
from anomseer.trainers.checkpoints import CheckpointWeightsMixin
from anomseer.trainers.configs import (
    AnomSeerModelConfig,
    AnomSeerScriptArguments,
    check_training_config,
    parse_config,
)
from anomseer.trainers.entry import run_main, train_stage
from anomseer.trainers.fsdp2 import Fsdp2Mixin, launched_with
from anomseer.trainers.hidden_states import (
    TextTokens,
    completion_forward_count,
    completion_hidden_states,
    dropout_free,
    eval_mode,
    generated_hidden_states,
    last_hidden_state_hook,
    text_forward_count,
    text_hidden_states,
)
from anomseer.trainers.tower_learning_rates import VisionLearningRate, VisionLearningRateMixin
from anomseer.trainers.vllm_generation import VLLMGenerationMixin

GROUNDINGS = ("ot", "cosine", "none")
"""How a completion's similarity to the ExpCoT is measured; ``none`` is plain GRPO."""
PROJECTIONS = ("advantage", "gradient", "none")
"""Where the grounded signal is made orthogonal to the reward signal, if anywhere."""
OT_DTYPES = {"float64": torch.float64, "float32": torch.float32}
DEFAULT_REWARDS = ("localization", "class", "format")
DEFAULT_REWARD_WEIGHTS = (0.7, 0.2, 0.1)


@dataclass
class TimerPOConfig(VisionLearningRate, GRPOConfig):
    r"""``trl.GRPOConfig`` plus the TimerPO fields, with defaults that reproduce the reference run.

    TimerPO fields: ``grounding``, ``projection``, ``alpha``, ``ot_epsilon``, ``ot_iterations``,
    ``ot_temperature``, ``ot_marginals``, ``ot_dtype``, ``expcot_max_tokens``, ``reward_names``.
    Resuming, gradient checkpointing and the model and data fields of a recipe as in
    :class:`~anomseer.trainers.sft.AnomSeerSFTConfig`.

    Changed defaults (SPEC section 5): ``scale_rewards="none"`` (A_main = r - group mean),
    ``beta=0.001`` (TRL's KL is the k3 estimator), ``num_generations=5``,
    ``per_device_train_batch_size=10`` (a multiple of 5 for any number of processes),
    ``max_completion_length=1024``, ``entropy_coef=0.001``, ``lr_scheduler_type="constant"``,
    ``weight_decay=0.01``, ``reward_weights=[0.7, 0.2, 0.1]`` for ``reward_names``
    localization, class, format. Unchanged TRL defaults that match it: ``learning_rate=1e-6``,
    ``epsilon=0.2``, ``temperature=1.0``, ``max_grad_norm=1.0``, ``num_iterations=1``.
    """

    grounding: str = field(
        default="ot",
        metadata={
            "help": "Similarity of a completion to its row's ExpCoT: `ot` (entropic optimal "
            "transport between last-layer token states, s = exp(-W / ot_temperature)), `cosine` "
            "(cosine of the mean-pooled states, an ablation) or `none` (plain GRPO: no hidden-"
            "state pass, no `expcot` column needed).",
            "choices": list(GROUNDINGS),
        },
    )
    projection: str = field(
        default="advantage",
        metadata={
            "help": "`advantage`: A = A_main + alpha * A_ts_perp, A_ts made orthogonal to A_main "
            "within each group (the reference); `none`: A = A_main + alpha * A_ts (ablation); "
            "`gradient`: the grounded objective gets its own backward and its gradient is "
            "projected onto the normal plane of the primary one, g = g_main + alpha (g_aux - "
            "c g_main), over all parameters and processes (DDP and FSDP2, not DeepSpeed).",
            "choices": list(PROJECTIONS),
        },
    )
    alpha: float = field(
        default=0.3,
        metadata={
            "help": "Weight of the grounded term; 0 trains exactly like GRPO while still logging "
            "the grounding metrics."
        },
    )
    ot_epsilon: float = field(
        default=0.08, metadata={"help": "Entropic regularisation of the transport."}
    )
    ot_iterations: int = field(
        default=50,
        metadata={"help": "Sinkhorn rounds (from ones, no early stop, as the reference)."},
    )
    ot_temperature: float = field(
        default=0.5, metadata={"help": "tau in s = clip(exp(-W / tau), 0, 1)."}
    )
    ot_marginals: str = field(
        default="norm_softmax",
        metadata={
            "help": "Token masses: softmax of the hidden-state norms (`norm_softmax`) or uniform.",
            "choices": list(MARGINALS),
        },
    )
    ot_dtype: str = field(
        default="float64",
        metadata={
            "help": "Precision of the transport solve: `float64` as the reference, or `float32` "
            "(faster on most GPUs, within 1e-5 of it).",
            "choices": list(OT_DTYPES),
        },
    )
    expcot_max_tokens: int = field(
        default=512,
        metadata={"help": "The ExpCoT is read up to this many tokens (its first ones)."},
    )
    reward_names: list[str] = field(
        default_factory=lambda: list(DEFAULT_REWARDS),
        metadata={
            "help": "Reward functions by registry name (`localization`, `class`, `format`, "
            "`total`); each is logged on its own and weighted by `reward_weights`."
        },
    )

    # Defaults of the reference run (SPEC section 5).
    reward_weights: list[float] | None = field(
        default_factory=lambda: list(DEFAULT_REWARD_WEIGHTS),
        metadata={"help": "Weight of each reward in `reward_names`, in order."},
    )
    scale_rewards: str = field(
        default="none",
        metadata={
            "help": "`none`: A_main = r - group mean (the reference); `group` or `batch` divide "
            "by a standard deviation as in TRL."
        },
    )
    beta: float = field(
        default=0.001, metadata={"help": "Coefficient of the k3 KL term to the reference model."}
    )
    num_generations: int | None = field(
        default=5, metadata={"help": "Completions per prompt (G, the group size)."}
    )
    per_device_train_batch_size: int = field(
        default=10,
        metadata={
            "help": "Completions per process and micro-step; with gradient accumulation "
            "(steps_per_generation) and the number of processes it makes the generation batch, "
            "which num_generations must divide."
        },
    )
    max_completion_length: int | None = field(
        default=1024, metadata={"help": "Maximum length of a generated completion, in tokens."}
    )
    entropy_coef: float = field(
        default=0.001, metadata={"help": "Entropy bonus coefficient (the reference's 0.001)."}
    )
    lr_scheduler_type: str = field(
        default="constant", metadata={"help": "Learning-rate schedule (the reference: constant)."}
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})

    def __post_init__(self) -> None:
        self._check_timerpo_fields()
        try:
            super().__post_init__()
        except ValueError as error:
            raise UserInputError(self._explain(error)) from error
        check_training_config(self)
        version = fsdp_version(self)
        if self.projection == "gradient" and version == 1:
            raise UserInputError(FSDP1_GRADIENT)
        if self.projection == "gradient" and version and self.gradient_accumulation_steps > 1:
            # FSDP accumulates unsynchronised gradients inside its own buffers, where the two
            # objectives could not be held apart: synchronise every micro-batch instead.
            kwargs = dict(self.accelerator_config.gradient_accumulation_kwargs or {})
            self.accelerator_config.gradient_accumulation_kwargs = {
                **kwargs,
                "sync_each_batch": True,
            }

    def _check_timerpo_fields(self) -> None:
        """Refuse TimerPO settings that cannot work, before anything is loaded."""
        for name, value, choices in (
            ("grounding", self.grounding, GROUNDINGS),
            ("projection", self.projection, PROJECTIONS),
            ("ot_dtype", self.ot_dtype, tuple(OT_DTYPES)),
        ):
            if value not in choices:
                raise UserInputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        check_alpha(self.alpha)
        check_ot_settings(
            self.ot_epsilon, self.ot_iterations, self.ot_marginals, self.ot_temperature
        )
        if self.expcot_max_tokens < 1:
            raise UserInputError(
                f"expcot_max_tokens must be at least 1, got {self.expcot_max_tokens}"
            )
        get_reward_funcs(self.reward_names)  # unknown names fail here, with the known ones
        if self.reward_weights is not None and len(self.reward_weights) != len(self.reward_names):
            raise UserInputError(
                f"reward_weights has {len(self.reward_weights)} values but reward_names has "
                f"{len(self.reward_names)} ({', '.join(self.reward_names)}); give one weight each"
            )
        if self.projection == "gradient" and (self.deepspeed or launched_with("DEEPSPEED")):
            raise UserInputError(
                "projection=gradient needs the two gradients apart, which DeepSpeed does not "
                "give (it reduces them inside backward); use projection=advantage with DeepSpeed, "
                "or launch with DDP or FSDP2 (recipes/accelerate/ddp.yaml, fsdp.yaml)"
            )

    def _explain(self, error: ValueError) -> str:
        """One line for a GRPOConfig refusal, with the fix for the common one."""
        batch, group = self.generation_batch_size, self.num_generations
        if batch is not None and group and batch % group:
            return (
                f"num_generations={group} does not divide the generation batch of {batch} "
                f"completions (per_device_train_batch_size={self.per_device_train_batch_size} x "
                f"{self.world_size} process(es) x steps_per_generation="
                f"{self.steps_per_generation}); change one of them so it does"
            )
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__


FSDP1_GRADIENT = (
    "projection=gradient supports FSDP version 2 only; set fsdp_version: 2 in the accelerate "
    "config (recipes/accelerate/fsdp.yaml) or fsdp_config version 2, or use projection=advantage"
)


def fsdp_version(config: GRPOConfig) -> int | None:
    """The FSDP version a run with ``config`` will use (None without FSDP): from
    ``TrainingArguments.fsdp`` / ``fsdp_config`` when set there (they take precedence, as in the
    Trainer), else from ``accelerate launch``'s environment (its default version is 1)."""
    plugin_args = getattr(config, "fsdp_plugin_args", None)
    if plugin_args:
        return int(plugin_args.get("fsdp_version", 2))
    if launched_with("FSDP"):
        return int(os.environ.get("FSDP_VERSION", "1"))
    return None


class TimerPOTrainer(
    Fsdp2Mixin,
    CheckpointWeightsMixin,
    VisionLearningRateMixin,
    VLLMGenerationMixin,
    GRPOTrainer,
):
    """``trl.GRPOTrainer`` whose advantages carry the grounded term of SPEC section 5.

    ``reward_funcs`` defaults to the registry functions named by ``args.reward_names``. The
    training dataset needs an ``expcot`` column unless ``args.grounding`` is ``none``. The
    processor's tokenizer is set to pad on the left, as GRPO needs. Resuming loads Qwen2.5-VL
    checkpoint weights correctly (``CheckpointWeightsMixin``); ``use_vllm`` generates on a real
    engine, GPU or CPU (``VLLMGenerationMixin``).

    Logged per step, next to TRL's metrics (``rewards/<function>/mean`` for each reward term):
    ``grounding/transport_cost`` (mean W, ``ot`` only), ``grounding/similarity`` (mean s),
    ``grounding/advantage_abs`` (mean |A_ts|), ``grounding/cosine_main_ts`` (cosine of A_main
    and A_ts over the batch, before projection), ``grounding/tie_fraction`` (share of groups
    whose rewards all tie), ``grounding/time`` (seconds spent grounding a generation batch),
    and with ``projection: gradient`` ``grounding/gradient_coefficient`` (c) and
    ``grounding/aux_loss``.
    """

    _tag_names: ClassVar[list[str]] = ["trl", "grpo", "timerpo", "anomseer"]
    _name = "TimerPO"

    def __init__(
        self,
        model: Any,
        reward_funcs: Any = None,
        args: TimerPOConfig | None = None,
        *more: Any,
        **kwargs: Any,
    ) -> None:
        if not isinstance(args, TimerPOConfig):
            raise TypeError(f"args must be a TimerPOConfig, got {type(args).__name__}")
        if reward_funcs is None:
            reward_funcs = get_reward_funcs(args.reward_names)
        super().__init__(model, reward_funcs, args, *more, **kwargs)
        # TRL left-pads the prompt ids itself; the processor's padding must agree with them
        getattr(self.processing_class, "tokenizer", self.processing_class).padding_side = "left"
        self._aux_grads: list[torch.Tensor | None] | None = None
        self._capturing = False  # armed: keep the states of TRL's next old-log-prob pass
        self._reading_generation = False  # armed: keep the states generate computes
        self._captured_states: torch.Tensor | None = None
        self._dropout_free = dropout_free(self.model)
        self._expcot_tokens = TextTokens(self._tokenizer, args.expcot_max_tokens)
        self._shared_forward: list[Any] | None = None  # see _backward_grounded_objective
        self._check_fsdp_state()

    def _check_fsdp_state(self) -> None:
        """Refuse and synchronise from the accelerator's actual FSDP state, whichever way FSDP
        was turned on (the config's own check covers the ways it can see)."""
        plugin = getattr(self.accelerator.state, "fsdp_plugin", None)
        if plugin is None or self.args.projection != "gradient":
            return
        if plugin.fsdp_version == 1:
            raise UserInputError(FSDP1_GRADIENT)
        self.accelerator.gradient_state.plugin_kwargs["sync_each_batch"] = True

    # ----- grounded advantage -------------------------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        grounded = self.args.grounding != "none"
        self._capturing = grounded and self._trl_reads_old_logps()
        self._reading_generation = grounded and not self._capturing and self._generation_readable()
        from_generation = self._reading_generation
        try:
            batch = super()._generate_and_score_completions(inputs)
        finally:
            self._capturing = self._reading_generation = False
        if from_generation and self._captured_states is not None:
            self._captured_states = _to_width(
                self._captured_states, batch["completion_ids"].size(1)
            )
        elif "old_per_token_logps" not in batch:
            self._captured_states = None
        if not grounded:
            return batch
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        start = time.perf_counter()
        local = self._local_similarity(inputs, batch, mode)
        self._ground_advantages(batch, local, group_size, mode)
        self._metrics[mode]["grounding/time"].append(time.perf_counter() - start)
        return batch

    @torch.no_grad()
    def _local_similarity(
        self, inputs: list[dict[str, Any]], batch: dict[str, Any], mode: str
    ) -> GroundedSimilarity:
        """s (and W) of this process's completions against their rows' ExpCoT.

        Every process makes the same grounding forwards in the same order (ExpCoT reads, then
        completion reads): the counts are agreed across processes first and padded up to."""
        args = self.args
        captured, self._captured_states = self._captured_states, None
        texts = [_expcot_text(row) for row in inputs]
        unique = list(dict.fromkeys(texts))  # the G completions of a prompt share one text
        position = {text: i for i, text in enumerate(unique)}
        reference = torch.tensor([position[text] for text in texts])
        rows = (
            args.per_device_train_batch_size if mode == "train" else args.per_device_eval_batch_size
        )
        own_reads = completion_forward_count(batch, rows) if captured is None else 0
        text_forwards, completion_forwards = self._agreed_counts(
            text_forward_count(len(unique), rows), own_reads
        )
        similarities, costs, done = [], [], 0
        with (
            eval_mode(self.model),
            disable_gradient_checkpointing(self.model, args.gradient_checkpointing_kwargs),
            self.accelerator.autocast(),
        ):
            ref_states, ref_mask = text_hidden_states(
                self.model,
                self._expcot_tokens(unique),
                rows,
                self.accelerator.device,
                forwards=text_forwards,
            )
            if completion_forwards == 0:  # TRL's old-log-prob pass or generate read them
                mask = batch["completion_mask"].bool()
                chunks = zip(captured.split(rows), mask.split(rows), strict=True)
            else:
                chunks = completion_hidden_states(self.model, batch, rows, completion_forwards)
            for states, mask in chunks:
                index = reference[done : done + states.size(0)].to(ref_states.device)
                done += states.size(0)
                with torch.autocast(states.device.type, enabled=False):  # OT in ot_dtype
                    result = grounded_similarity(
                        states,
                        mask,
                        ref_states[index],
                        ref_mask[index],
                        method=args.grounding,
                        temperature=args.ot_temperature,
                        epsilon=args.ot_epsilon,
                        iterations=args.ot_iterations,
                        marginals=args.ot_marginals,
                        dtype=OT_DTYPES[args.ot_dtype],
                    )
                similarities.append(result.similarity)
                if result.transport_cost is not None:
                    costs.append(result.transport_cost)
        return GroundedSimilarity(torch.cat(similarities), torch.cat(costs) if costs else None)

    def _generation_readable(self) -> bool:
        """Whether the completions' states can be kept while TRL generates them: transformers'
        ``generate`` (no vLLM, no continuous batching, no tools or environments, no
        ``rollout_func``), with a model that reads in its current mode as in eval mode."""
        other_generation = self.use_vllm or self.use_transformers_continuous_batching
        if other_generation or self.tools or self.rollout_func is not None:
            return False
        return self._dropout_free or not self.model.training

    def _generate_single_turn(
        self, prompt_ids: list[list[int]], *args: Any, **kwargs: Any
    ) -> tuple[list[list[int]], Any]:
        """TRL's generation; when armed (``_reading_generation``), the completions' last hidden
        states are kept as ``generate`` computes them, plus one decode step for each row's
        last token, on every process."""
        if not self._reading_generation:
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)
        with generated_hidden_states(self.model) as reading:
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *args, **kwargs)
            with (
                torch.no_grad(),
                disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs),
            ):
                self._captured_states = reading.finish(completion_ids, self._tokenizer.pad_token_id)
        return completion_ids, logprobs

    def _trl_reads_old_logps(self) -> bool:
        """Whether TRL's scoring runs a no-grad pass of the policy over the completions (old
        log-probabilities: vLLM importance sampling, or generation out of step with the
        optimiser), whose last hidden states the grounding can then reuse."""
        generate_every = self.args.steps_per_generation * self.num_iterations
        return self.args.gradient_accumulation_steps % generate_every != 0 or bool(
            self.use_vllm and self.vllm_importance_sampling_correction
        )

    def _get_per_token_logps_and_entropies(
        self,
        model: torch.nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """TRL's policy pass, which also (1) keeps the completions' last hidden states of the
        old-log-prob pass, the first no-grad pass of the policy while scoring (TRL's reference
        pass comes after it, with PEFT's adapter disabled), read in eval mode as the grounding
        reads; (2) with ``projection: gradient``, serves the primary loss the forward the
        grounded loss made."""
        if self._shared_forward and torch.is_grad_enabled():
            outputs, self._shared_forward = self._shared_forward[0], None
            return outputs
        read = super()._get_per_token_logps_and_entropies
        call = (model, input_ids, attention_mask, logits_to_keep, *args)
        if self._capturing and model is self.model and not torch.is_grad_enabled():
            self._capturing = False
            with eval_mode(model), last_hidden_state_hook(model, logits_to_keep) as states:
                outputs = read(*call, **kwargs)
            self._captured_states = torch.cat(states)
            return outputs
        outputs = read(*call, **kwargs)
        if self._shared_forward is not None and torch.is_grad_enabled():
            self._shared_forward.append(outputs)
        return outputs

    def _agreed_counts(self, *counts: int) -> tuple[int, ...]:
        """Each count's largest value over all processes (itself on one process)."""
        if self.accelerator.num_processes == 1:
            return counts
        local = torch.tensor(counts, device=self.accelerator.device)
        return tuple(self.accelerator.gather(local).view(-1, len(counts)).amax(dim=0).tolist())

    def _ground_advantages(
        self, batch: dict[str, Any], local: GroundedSimilarity, group_size: int, mode: str
    ) -> None:
        """Gather whole groups, build A_ts (projected or not), and write this process's
        advantages (or, for ``projection: gradient``, its ``grounded_advantages``) to ``batch``."""
        args = self.args
        gather = self.accelerator.gather
        a_main = gather(batch["advantages"]).double()
        similarity = gather(local.similarity.double())
        a_ts = grounded_advantage(similarity, group_size)
        ties = grouped(a_main, group_size).square().sum(dim=1) <= PROJECTION_EPS
        summary = {
            "grounding/similarity": similarity.mean(),
            "grounding/advantage_abs": a_ts.abs().mean(),
            "grounding/cosine_main_ts": torch.nn.functional.cosine_similarity(a_main, a_ts, dim=0),
            "grounding/tie_fraction": ties.double().mean(),
        }
        if local.transport_cost is not None:
            summary["grounding/transport_cost"] = gather(local.transport_cost).double().mean()
        # one device-to-host copy for all of them
        values = torch.stack(list(summary.values())).tolist()
        for name, value in zip(summary, values, strict=True):
            self._metrics[mode][name].append(value)

        size = batch["advantages"].size(0)
        local_part = slice(
            self.accelerator.process_index * size, (self.accelerator.process_index + 1) * size
        )
        dtype = batch["advantages"].dtype
        if args.projection == "gradient":
            batch["grounded_advantages"] = a_ts[local_part].to(dtype)
            return
        if args.projection == "advantage":
            a_ts = orthogonalize_advantages(a_ts, a_main, group_size)
        advantages = combine_advantages(a_main, a_ts, args.alpha).to(dtype)
        batch["advantages"] = advantages[local_part]
        # the completions table shows the advantages the policy is trained on
        logged = self._logs["advantages"]
        for _ in range(min(len(logged), advantages.numel())):
            logged.pop()
        logged.extend(advantages.tolist())

    # ----- gradient projection ------------------------------------------------------------

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor:
        """The primary loss; with ``projection: gradient`` the grounded objective is first
        back-propagated into gradients of its own (see ``_backward_grounded_objective``)."""
        self._shared_forward = None
        if self.model.training and self._projects_gradients():
            self._backward_grounded_objective(model, inputs)
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def training_step(
        self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        """TRL's step; once the gradients of an optimiser step are complete and synchronised,
        the grounded gradient is projected and added: g = g_main + alpha (g_aux - c g_main)."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self._aux_grads is not None and self.accelerator.sync_gradients:
            coefficient = project_gradients_(
                self._trainable_parameters(), self._aux_grads, self.args.alpha
            )
            self._aux_grads = None
            self._metrics["train"]["grounding/gradient_coefficient"].append(coefficient.item())
        return loss

    def _projects_gradients(self) -> bool:
        args = self.args
        return args.projection == "gradient" and args.grounding != "none" and args.alpha > 0

    def _trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimiser steps, from its param groups: under FSDP2 these are the
        sharded parameters that receive the reduced gradients, where the model's own
        ``parameters()`` can be FSDP's temporary unsharded copies between forward and backward."""
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _shares_forward(self) -> bool:
        """Whether the grounded and the primary loss can back-propagate through one forward:
        not where the gradients are synchronised inside backward (DDP's synchronising
        micro-step, FSDP), nor with reentrant gradient checkpointing or an MoE aux loss."""
        checkpointing = self.args.gradient_checkpointing and (
            self.args.gradient_checkpointing_kwargs or {}
        ).get("use_reentrant", True)
        distributed = self.accelerator.num_processes > 1
        synchronising = self.accelerator.sync_gradients or self.is_fsdp_enabled
        return not (checkpointing or self.aux_loss_enabled or (distributed and synchronising))

    def _backward_grounded_objective(self, model: torch.nn.Module, inputs: dict[str, Any]) -> None:
        """Back-propagate the grounded objective (TRL's clipped policy loss with A_ts as the
        advantage, no KL, no entropy bonus) into gradients kept apart from the primary ones.

        The parameters' ``.grad`` holds the primary gradients accumulated so far; they are set
        aside, the grounded gradients accumulated so far are put in their place for this
        backward (so DDP and FSDP synchronise them as usual), then the two are swapped back.
        Where ``_shares_forward``, the graph is kept and the primary loss reuses this forward.
        """
        share = self._shares_forward()
        self._shared_forward = [] if share else None
        params = self._trainable_parameters()
        main_grads = [p.grad for p in params]
        for param, grad in zip(params, self._aux_grads or [None] * len(params), strict=True):
            param.grad = grad
        with self._grounded_objective_only():
            aux_loss = super().compute_loss(
                model, {**inputs, "advantages": inputs["grounded_advantages"]}
            )
        self.accelerator.backward(aux_loss, retain_graph=share)
        self._aux_grads = [p.grad for p in params]
        for param, grad in zip(params, main_grads, strict=True):
            param.grad = grad
        self._metrics["train"]["grounding/aux_loss"].append(
            self.accelerator.gather(aux_loss.detach()).mean().item()
        )

    @contextmanager
    def _grounded_objective_only(self) -> Iterator[None]:
        """While open, TRL's loss is the policy term alone and its metrics go nowhere."""
        saved = (self.beta, self._entropy_bonus_enabled, self.aux_loss_enabled, self._metrics)
        self.beta, self._entropy_bonus_enabled, self.aux_loss_enabled = 0.0, False, False
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        try:
            yield
        finally:
            self.beta, self._entropy_bonus_enabled, self.aux_loss_enabled, self._metrics = saved


def _to_width(states: torch.Tensor, width: int) -> torch.Tensor:
    """``states`` ``[rows, tokens, hidden]`` cut or zero-padded to ``width`` tokens."""
    if states.size(1) >= width:
        return states[:, :width]
    padding = states.new_zeros(states.size(0), width - states.size(1), states.size(2))
    return torch.cat([states, padding], dim=1)


def _expcot_text(row: dict[str, Any]) -> str:
    text = row.get(EXPCOT_COLUMN)
    if not isinstance(text, str):
        raise UserInputError(
            f"row {row.get('id', '?')!r} has no {EXPCOT_COLUMN!r} text (got "
            f"{type(text).__name__}); build the dataset with 'anomseer gen' or set grounding=none"
        )
    return text


def train(
    script_args: AnomSeerScriptArguments, config: TimerPOConfig, model_args: AnomSeerModelConfig
) -> TimerPOTrainer:
    """Run TimerPO as the recipe says, save the final model and processor to ``output_dir``, and
    return the trainer. The data is checked before the model is loaded."""
    purpose = f"TimerPO with grounding={config.grounding}"
    columns = timerpo_columns(grounded=config.grounding != "none")
    columns = (*columns, *reward_columns(config.reward_names))
    return train_stage(TimerPOTrainer, script_args, config, model_args, columns, purpose)


def main(argv: Sequence[str] | None = None) -> TimerPOTrainer:
    """Parse ``--config RECIPE.yaml`` and flag overrides, then train."""
    return train(*parse_config(TimerPOConfig, argv))


if __name__ == "__main__":
    sys.exit(run_main(main, "anomseer timerpo"))
