"""``anomseer.trainers.timerpo.main`` with the flags given after the first argument, in a process
of its own (a colocated engine's state stays there). Writes to the JSON file named by the first
argument the logged steps and, colocated, how far the engine's token embedding moved from the
checkpoint's (it moves only if the weight sync reached the engine)."""

import json
import sys
from pathlib import Path


def embedding(named_tensors) -> "torch.Tensor":  # noqa: F821
    """The token embedding among ``(name, tensor)`` pairs, whichever naming they use."""
    return next(t for name, t in named_tensors if name.endswith("embed_tokens.weight"))


def main() -> None:
    from safetensors.torch import load_file

    from anomseer.trainers.timerpo import main as timerpo

    out, *argv = sys.argv[1:]
    trainer = timerpo(argv)
    result = {"steps": [e for e in trainer.state.log_history if "loss" in e]}
    generation = trainer.vllm_generation
    if generation.mode == "colocate":
        runner = generation.llm.llm_engine.model_executor.driver_worker.model_runner
        served = embedding(runner.model.named_parameters())
        checkpoint = Path(argv[argv.index("--model_name_or_path") + 1]) / "model.safetensors"
        initial = embedding(load_file(checkpoint).items())
        served = served[: len(initial)]  # vLLM pads the vocabulary
        result["embedding_shift"] = (served.float() - initial.float()).abs().max().item()
        result["engine_dtype"] = str(served.dtype)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
