"""What every evaluation backend takes and returns: one request per dataset row in, raw
completion texts (or the reason they could not be produced) out. Scoring never happens here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from anomseer.errors import OptionError

if TYPE_CHECKING:
    from PIL import Image
    from transformers import ProcessorMixin


@dataclass(frozen=True)
class EvalRequest:
    """One dataset row as a backend sees it (``prompt`` and ``image`` are None for backends
    that read only the series; ``expert_thresholds`` is the row's calibration of the expert
    baseline when a converter wrote one)."""

    id: str
    length: int
    series: Any
    prompt: list[dict] | None = None
    image: Image.Image | None = None
    expert_thresholds: dict[str, float] | None = None


@dataclass(frozen=True)
class Generation:
    """The completions for one request: ``n`` raw texts, or an ``error`` saying why none came."""

    texts: tuple[str, ...] = ()
    error: str | None = None


class Backend(Protocol):
    """A source of raw completions. ``columns`` are the dataset columns it reads on top of the
    scoring columns; ``options`` is the dataclass of the options it loads with (``load(model,
    options)``); ``settings()`` holds everything that changes its outputs (it is recorded
    in ``run.json`` so a resumed run cannot mix two configurations)."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    options: ClassVar[type]
    default_batch_size: ClassVar[int]
    n: int

    def settings(self) -> dict[str, Any]: ...

    def generate(self, requests: Sequence[EvalRequest]) -> list[Generation]: ...


@dataclass(frozen=True)
class Sampling:
    """Decoding options shared by the model backends, the base of their options;
    ``temperature=0`` is greedy."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    n: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            message = f"$o must be at least 1, got {self.max_new_tokens}"
            raise OptionError(message, o="max_new_tokens")
        if self.temperature < 0:
            raise OptionError(f"$o must be >= 0, got {self.temperature}", o="temperature")
        if self.n < 1:
            raise OptionError(f"$o must be at least 1, got {self.n}", o="n")
        if self.n > 1 and self.temperature == 0:
            raise OptionError(
                f"$n={self.n} samples need $t > 0 (greedy decoding gives {self.n} identical "
                "answers)",
                n="n",
                t="temperature",
            )

    def as_dict(self) -> dict[str, Any]:
        """The settings as recorded in ``run.json``."""
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "n": self.n,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class CheckpointOptions(Sampling):
    """Options of the backends that load a checkpoint: sampling seeded with 0, its dtype
    (``auto``: the checkpoint's),
    the processor's pixel bounds (None: the ones it saved, the training ones) and whether the
    checkpoint's own code may run."""

    seed: int | None = 0
    dtype: str = "auto"
    min_pixels: int | None = None
    max_pixels: int | None = None
    trust_remote_code: bool = False


class PlotBackend:
    """What the model backends share: they answer from the prompt and the plot, sampling
    ``n`` completions per row as their ``sampling`` options say."""

    columns: ClassVar[tuple[str, ...]] = ("prompt", "image")
    sampling: Sampling

    @property
    def n(self) -> int:
        return self.sampling.n


def processor_pixels(processor: ProcessorMixin) -> dict[str, int]:
    """The processor's image pixel bounds (Qwen2.5-VL), as a run's settings record them and
    vLLM's ``mm_processor_kwargs`` takes them."""
    size = processor.image_processor.size
    return {"min_pixels": int(size["shortest_edge"]), "max_pixels": int(size["longest_edge"])}


def require_model(backend: str, model: str | None) -> str:
    """The model argument, or one clear line saying the backend needs one."""
    if not model:
        raise OptionError(
            f"the {backend} backend needs $model (a checkpoint folder or a hub id; for openai, "
            "the model name the server serves)",
            model="model",
        )
    return str(model)
