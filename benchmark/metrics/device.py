"""The torch device of a run (`unimp-bench run --device`), one per process.

`resolve` turns what the user typed (auto, cpu, cuda, cuda:N) into a device string or a DeviceError that says
what to do; `use` makes it the process's device, which models (UniMP, RecBole) and the GPU-capable metrics
(BERTScore, the image judge) read with `current()`. Kept here, the lowest layer that needs it, so that
metrics, benchmark.api and the models all see the same setting.
"""
from __future__ import annotations

import re

_CURRENT = "cpu"
CHOICES = "auto, cpu, cuda or cuda:N"


class DeviceError(ValueError):
    """A device that cannot be used here, with the reason."""


def resolve(spec: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; "cuda"/"cuda:N" only when that GPU exists."""
    spec = spec.strip().lower()
    if spec == "cpu":
        return "cpu"
    m = re.fullmatch(r"(auto|cuda)(?::(\d+))?", spec)
    if not m or (m[1] == "auto" and m[2] is not None):
        raise DeviceError(f"--device {spec!r}: choose {CHOICES}")
    import torch  # heavy: torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if m[1] == "auto":
        return "cuda" if n else "cpu"
    if n == 0:
        raise DeviceError(f"--device {spec}: torch {torch.__version__} sees no CUDA GPU (a CPU-only build, or no "
                          "driver); use --device cpu or auto, or install a CUDA build of torch (see the README)")
    if m[2] is not None and int(m[2]) >= n:
        raise DeviceError(f"--device {spec}: only {n} CUDA GPU(s) visible (cuda:0 to cuda:{n - 1})")
    return spec


def use(device: str) -> None:
    """Make `device` (a `resolve` result) the process's device."""
    global _CURRENT
    if device.startswith("cuda:"):
        import torch  # heavy: torch

        torch.cuda.set_device(int(device.split(":")[1]))  # so libraries asking for "cuda" get this GPU
    _CURRENT = device


def current() -> str:
    return _CURRENT


def gpu_index(device: str) -> int | None:
    """None on the CPU, else the GPU's index (0 for plain "cuda")."""
    if device == "cpu":
        return None
    return int(device.split(":")[1]) if ":" in device else 0
