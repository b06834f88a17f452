"""Inference precision: bfloat16 where the processor computes it natively, float32 elsewhere.

bf16 matrix products halve sampling time on CPUs with native bf16 (AVX512-BF16, AMX: measured 2.1x for the
default model on a Zen 4 core) and on GPUs; on other CPUs PyTorch emulates them and they are slower than
float32, so ``auto`` only turns bf16 on where it is native.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from choreo.errors import ChoreoError

PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 instructions (Linux ``/proc/cpuinfo`` flags avx512_bf16 or amx_bf16)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain float32)."""
    if precision not in PRECISIONS:
        raise ChoreoError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else None


def autocast(precision: str, device: torch.device):
    """A context that runs the network in the resolved precision (a no-op for float32)."""
    dtype = resolve(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
