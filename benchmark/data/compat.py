"""Compatibility fixes for the pinned stack, in one place; each says what it fixes.

Call `apply()` (idempotent) before importing torchvision, open_clip, timm, transformers' vision
models, bert-score or recbole; `apply_taming()` before importing taming. Facts behind every fix: docs/dependencies.md.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np

_applied = False


def _torchvision_ops() -> None:
    """torchvision 0.28's compiled part needs a CUDA torch; on the CPU build `import torchvision` fails
    with `operator torchvision::nms does not exist`. Register the two op schemas it checks so the
    import succeeds. Transforms and models work; compiled ops (nms, roi_align) and torchvision.io do
    not, so images are read with PIL everywhere in this project."""
    import torch  # heavy: torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    try:  # a working compiled library (e.g. a user's CUDA install) needs no fix

        libs = sorted(Path(list(spec.submodule_search_locations)[0]).glob("_C*.so"))
        if libs:
            torch.ops.load_library(str(libs[0]))
            if hasattr(torch.ops.torchvision, "nms"):
                return
    except (OSError, RuntimeError):
        pass
    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _torchvision_ops.lib = lib  # keep the registration alive
    except RuntimeError:  # already defined
        pass


def _numpy_aliases() -> None:
    """recbole 1.2.1 uses names numpy 2 removed (`np.float_` in Config, `np.float` in its NDCG/MRR
    metrics, ...): alias them back."""
    for old, new in (("float", float), ("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_), ("bool8", np.bool_)):
        if old not in np.__dict__:
            setattr(np, old, new)


def _scipy_dok_update() -> None:
    """recbole's LightGCN/NGCF call `dok_matrix._update`, gone in scipy 1.17: give it back."""
    from scipy.sparse import dok_matrix  # heavy: scipy

    if not hasattr(dok_matrix, "_update"):
        def _update(self, data):
            for key, value in dict(data).items():
                self[key] = value

        dok_matrix._update = _update


def _lightning_distributed() -> None:
    """taming-transformers 0.0.1 imports `pytorch_lightning.utilities.distributed.rank_zero_only`,
    a module Lightning 2 removed: provide it."""
    name = "pytorch_lightning.utilities.distributed"
    if name in sys.modules:
        return
    try:
        from pytorch_lightning.utilities import rank_zero_only  # heavy: pytorch_lightning
    except ImportError:  # Lightning not installed: taming will fail with its own clear error
        return
    module = types.ModuleType(name)
    module.rank_zero_only = rank_zero_only
    sys.modules[name] = module


def apply() -> None:
    global _applied
    if _applied:
        return
    _torchvision_ops()
    _numpy_aliases()
    _scipy_dok_update()
    _applied = True


def apply_taming() -> None:
    """`apply()` plus the Lightning shim taming needs (kept apart: importing Lightning costs seconds)."""
    apply()
    _lightning_distributed()
