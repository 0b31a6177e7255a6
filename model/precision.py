"""Mixed precision: which float type trains the models on a device, and the autocast for it.

Only the training step's forward pass runs in the lower precision (torch.autocast): the
weights, the optimizers' moments and the losses stay float32, and evaluation, snapshots and
checkpoints are float32 whatever trained the models.

Qt-free. torch is imported only inside the functions that need it, so that the settings panel
can describe what "auto" picks on this machine before the window has imported torch.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vae_gui.model.config import PRECISIONS

if TYPE_CHECKING:
    import torch

# Linux's /proc/cpuinfo names for native bf16 arithmetic on x86 (AVX512-BF16 since Cooper
# Lake and Zen 4, AMX since Sapphire Rapids). Without them torch emulates bf16 matrix
# products, which made a training epoch about 10x slower than float32 on an AVX2 CPU
# (docs/benchmarks.md, "Mixed precision (bf16)"): "auto" keeps float32 there.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision that will train the models ("fp32", "bf16" or "fp16"), and why."""

    precision: str
    reason: str


def read_cpu_flags(path: str = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them; empty where they cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):  # x86, ARM
                    return frozenset(value.split())
    except OSError:  # not Linux, or no /proc: no flags known, so no native bf16 assumed
        pass
    return frozenset()


def cpu_has_native_bf16(cpu_flags: Callable[[], Iterable[str]] = read_cpu_flags) -> bool:
    """Whether the CPU does bf16 arithmetic natively (one of NATIVE_BF16_FLAGS)."""
    return not set(NATIVE_BF16_FLAGS).isdisjoint(cpu_flags())


def choose_precision(requested: str, device: torch.device,
                     cpu_flags: Callable[[], Iterable[str]] = read_cpu_flags
                     ) -> PrecisionChoice:
    """The precision `requested` (one of PRECISIONS) trains with on `device`, and why;
    ValueError, with a sentence to act on, where that device cannot train in it."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    kind = device.type
    if requested == "fp32":
        return PrecisionChoice("fp32", "asked for")
    if requested == "fp16":
        if kind != "cuda":
            raise ValueError(f"fp16 training needs a CUDA GPU, but this run trains on {kind}; "
                             "use --precision bf16 or fp32 (auto picks for you).")
        return PrecisionChoice("fp16", "asked for; gradients scaled against underflow")
    if requested == "bf16":
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"bf16 training is not supported on {kind}; use --precision fp32 "
                             "(auto picks for you).")
        if kind == "cpu" and not cpu_has_native_bf16(cpu_flags):
            return PrecisionChoice("bf16", "asked for; this CPU has no native bf16 arithmetic, "
                                           "so it is emulated and slower than fp32")
        return PrecisionChoice("bf16", "asked for")
    # "auto": the fastest precision that keeps the quality, where the hardware has it.
    if kind == "cuda":
        import torch

        # Native support only (Ampere and later): emulated bf16 would be slower than fp16.
        if _cuda_native_bf16(torch):
            return PrecisionChoice("bf16", "auto: this GPU has native bf16")
        return PrecisionChoice("fp16", "auto: this GPU has no native bf16")
    if kind == "cpu":
        if cpu_has_native_bf16(cpu_flags):
            return PrecisionChoice("bf16", "auto: this CPU has native bf16 arithmetic")
        return PrecisionChoice("fp32", "auto: this CPU has no native bf16 arithmetic, "
                                       f"no {' or '.join(NATIVE_BF16_FLAGS)}")
    return PrecisionChoice("fp32", f"auto: mixed precision is not used on {kind}")


def describe_auto(cpu_flags: Callable[[], Iterable[str]] = read_cpu_flags) -> str:
    """What "auto" picks on this machine, in a sentence (for the settings panel), without
    importing torch: a GPU is named only when torch has been imported already."""
    cpu = ("bf16 on this CPU (it has native bf16 arithmetic)" if cpu_has_native_bf16(cpu_flags)
           else "fp32 on this CPU (it has no native bf16 arithmetic, "
                "so bf16 would be slower here)")
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():  # the device that auto trains on
        gpu = "bf16" if _cuda_native_bf16(torch) else "fp16"
        return f"Auto picks {gpu} on this machine's CUDA GPU, which it trains on."
    if torch is not None and torch.backends.mps.is_available():
        return "Auto picks fp32 on this machine's MPS GPU, which it trains on."
    return (f"Auto picks {cpu}; on a CUDA GPU it would pick bf16 where the GPU has it, "
            "else fp16.")


def _cuda_native_bf16(torch) -> bool:
    """Whether the current CUDA GPU does bf16 natively. Older torch (2.2, which pyproject
    allows) has no `including_emulation`, and its answer is False on a GPU without native
    bf16 (a V100, say), as wanted here."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:
        return bool(torch.cuda.is_bf16_supported())


DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16"}


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context that runs a forward pass in `precision` on `device` (a resolved precision:
    "fp32" gives a context that changes nothing)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device.type, dtype=getattr(torch, DTYPE_NAMES[precision]))


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16, whose small gradients would otherwise underflow to zero;
    None for fp32 and bf16 (bf16 has float32's range)."""
    if precision != "fp16":
        return None
    import torch

    return torch.amp.GradScaler(device.type)
