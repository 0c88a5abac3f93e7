"""Scoped fixes for running recbole 1.2.1 inside the harness, each with the breakage it addresses.

The global fixes (numpy aliases, scipy `dok_matrix._update`, torchvision ops) live in
`benchmark.data.compat`; the ones here touch process state (argv, working directory, logging, recbole's
TensorBoard writer), so each is a context manager that restores it on exit; plus one guard.
Facts behind them: docs/dependencies.md.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def recbole_process_state(workdir: Path, log_file: Path | None = None) -> Iterator[None]:
    """Run recbole code with a clean `sys.argv` and `workdir` as the working directory.

    Fixes: recbole's `Config` reads `--key=value` pairs from `sys.argv` (pytest's or the CLI's
    arguments would leak into its config); its Trainer writes `./log_tensorboard` (and `init_logger`
    `./log`) in the working directory. Also sends recbole's log lines (it logs through the root
    logger) to `log_file` for the duration of the block.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    old_argv, old_cwd = sys.argv, os.getcwd()
    root = logging.getLogger()
    old_level = root.level
    handler = None
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    sys.argv = [old_argv[0] if old_argv else "unimp-bench"]
    os.chdir(workdir)
    try:
        with warnings.catch_warnings():
            # recbole 1.2.1 under pandas 2.3 / torch 2.13: deprecation notices only (chained
            # `fillna(inplace=True)` still acts in place on pandas 2.x; amp.GradScaler unused on CPU)
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
            root.setLevel(old_level)


class _NoTensorBoard:
    """Stands in for a SummaryWriter: every call does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@contextmanager
def tensorboard_to(log_dir: Path | None) -> Iterator[None]:
    """Trainers built inside the block write their TensorBoard events to `log_dir`, or none when None.

    Fix: recbole's Trainer always opens a SummaryWriter in `./log_tensorboard` (`get_tensorboard`, looked up
    in `recbole.trainer.trainer`); the harness makes it an option with a known folder.
    """
    import recbole.trainer.trainer as trainer_module  # heavy: recbole

    def writer(logger):
        if log_dir is None:
            return _NoTensorBoard()
        from torch.utils.tensorboard import SummaryWriter  # heavy: tensorboard (a dependency of recbole)

        return SummaryWriter(str(log_dir))

    old = trainer_module.get_tensorboard
    trainer_module.get_tensorboard = writer
    try:
        yield
    finally:
        trainer_module.get_tensorboard = old


def refuse_pickled_caches(checkpoint_dir: Path, dataset: str, model: str) -> None:
    """recbole's `create_dataset` / `data_preparation` silently unpickle `<dataset>-*.pth` /
    `<dataset>-for-<model>-dataloader.pth` when such files exist in `checkpoint_dir`. We never write
    them (save_dataset/save_dataloaders are off); refuse to run if one is there rather than unpickle it.
    """
    for path in Path(checkpoint_dir).glob(f"{dataset}-*.pth"):
        raise RuntimeError(f"{path}: unexpected pickled recbole cache; remove it (it would be unpickled)")

