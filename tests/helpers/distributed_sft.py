"""Run under ``accelerate launch``: ``distributed_sft.py OUT_DIR SFT-FLAGS...`` trains with the
real SFT entry point, then each rank writes ``OUT_DIR/rank<N>.json`` with a digest of its
weights, the world size and the step count."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from anomseer.trainers.entry import release_process_group


def weights_digest(model) -> str:
    """SHA-256 over every parameter and buffer (names and float32 bytes), in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    from anomseer.trainers.sft import main as sft_main

    out = Path(sys.argv[1])
    trainer = sft_main(sys.argv[2:])
    model = trainer.accelerator.unwrap_model(trainer.model)
    report = {
        "digest": weights_digest(model),
        "world_size": trainer.args.world_size,
        "step": trainer.state.global_step,
    }
    (out / f"rank{trainer.args.process_index}.json").write_text(json.dumps(report))
    del trainer, model
    release_process_group()


if __name__ == "__main__":
    main()
