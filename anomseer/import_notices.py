"""Quiet the two notices importing TRL prints on a machine without a GPU.

TRL's GRPO module imports vLLM, which imports Triton and torch's C++ extension helper; on a
CPU-only machine with the CPU vLLM installed they log "Triton is installed, but
`triton.backends` could not be imported" and "No CUDA runtime is found". Neither concerns a
CPU run. Where CUDA is available the records pass: there they can matter.
"""

from __future__ import annotations

import logging

CPU_IMPORT_NOTICES = {
    "vllm.triton_utils.importing": "Triton is installed, but `triton.backends` could not be",
    "torch.utils.cpp_extension": "No CUDA runtime is found",
}
"""Logger name -> the start of the notice it logs on a machine without CUDA."""


class _CpuImportNotice(logging.Filter):
    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.start):
            return True
        import torch  # imported by then: the records come from importing its extensions

        return torch.cuda.is_available()


def quiet_cpu_import_notices() -> None:
    """Drop the CPU import notices (``CPU_IMPORT_NOTICES``) where CUDA is not available; call
    it before TRL is imported. Calling it again adds nothing."""
    for name, start in CPU_IMPORT_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _CpuImportNotice) for f in logger.filters):
            logger.addFilter(_CpuImportNotice(start))
