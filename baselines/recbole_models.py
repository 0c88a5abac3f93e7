"""RecBole's recommenders (MF/BPR, LightGCN, HGN, GRU4Rec, SASRec, S3-Rec, BERT4Rec) as benchmark models.

Each is RecBole's own model class, trained by RecBole's own Trainer (early stopping on the validation
file) on the frozen splits exported by `baselines.recbole_export`, and answers `rank` with RecBole's
own `full_sort_predict` scores mapped to our item tokens (items RecBole never saw get -inf).

Sequential models read the user's history from the request's `history` column (so new users work);
MF, LightGCN and HGN need a trained user embedding and declare `new_user` unsupported.
Tasks: recommendation and search (full ranking; for search the evaluator applies the task's candidate
rule, e.g. the query's category: a personalised-search baseline), selection (the candidates' full-sort scores).

Config: our config dict, checked against the model's settings (baselines/recbole_settings.py: epochs,
stopping_step, learning_rate, train_batch_size, MAX_ITEM_LIST_LENGTH, loss_type, the model's own sizes,
pretrain_epochs for S3-Rec, ...), is passed to RecBole's Config as given, except our `threads` (torch
threads). Defaults: RecBole's documented ones (epochs 300, early stopping after 10 validations without
gain on MRR@10, S3-Rec pretrain_epochs 500), except `use_gpu: False`, `topk: [5, 10]`, and
MAX_ITEM_LIST_LENGTH clipped to the longest exported history. `describe()` records the resolved values,
the loss, the best validation scores per regime, and how training ended ("stopping": epochs, best epoch,
early stop or epoch cap).

Checkpoints hold tensors and plain values only (read with weights_only=True): the best-validation weights,
S3-Rec's pre-trained weights, and the whole training state (RESUME_FILE) after every validation (after every
epoch in S3-Rec's pre-training, which has no validation), from which a killed run (`unimp-bench run --resume`)
continues, pre-training included, and ends as the uninterrupted run would.
`tensorboard: true` writes RecBole's TensorBoard curves under RUN/model/tensorboard/.
"""
from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from baselines import recbole_settings as rs
from baselines.recbole_compat import (
    recbole_process_state,
    refuse_pickled_caches,
    tensorboard_to,
)
from baselines.recbole_export import CATEGORY_FIELD, Export, IdMap, export_regime
from benchmark.api import Model, append_curve, compat, regime_of
from benchmark.metrics import device

log = logging.getLogger(__name__)

RANK_TASKS = ("recommendation", "search", "selection")
BATCH = 256  # requests scored per full_sort_predict call
RESUME_FILE = "resume.pt"  # in the stage's checkpoint folder: the state after the last validation (pre-training: epoch)
_after_resume_state = None  # tests: called (stage, epoch) after the resume state is written, e.g. to simulate a kill


@dataclass
class _Run:
    """Everything one trained regime keeps."""

    config: Any          # recbole Config
    dataset: Any         # recbole Dataset (before build)
    model: Any           # recbole model, eval mode, best validation checkpoint loaded
    trainer: Any
    loaders: tuple       # (train, valid, test) recbole dataloaders
    ids: IdMap
    export: Export
    best_valid: dict
    train_time_s: float
    training: dict | None = None  # epochs trained, best epoch, its valid score, why training stopped


def _split_of(request_id: str) -> str:
    """'<task>/<split>/<n>' -> split."""
    return str(request_id).split("/")[1]


def training_summary(trainer, last_epoch: int) -> dict[str, Any]:
    """How a RecBole Trainer's `fit` ended (epochs 1-based): epochs trained, the best epoch, its valid score,
    and whether early stopping or the epoch cap ended it. `last_epoch`: the last validated epoch (0-based)."""
    patience = trainer.stopping_step
    early = trainer.cur_step > patience  # RecBole stops once `cur_step` evaluations in a row exceed patience
    return {
        "epochs": last_epoch + 1, "epochs_cap": trainer.epochs, "patience": patience,
        "best_epoch": last_epoch + 1 - trainer.cur_step * trainer.eval_step,
        "best_valid": {trainer.config["valid_metric"].lower(): float(trainer.best_valid_score)},
        "stop": (f"early stop: no valid improvement in {trainer.cur_step} evals" if early else "epoch cap"),
    }


def _atomic_save(state: dict, path: Path) -> None:
    import torch  # heavy: torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _save_weights(trainer) -> None:
    """Replaces RecBole's `_save_checkpoint` (the best-validation model): its file pickles RecBole's Config,
    which only `torch.load(weights_only=False)` reads; this one holds tensors only."""
    _atomic_save({"state_dict": trainer.model.state_dict(), "other_parameter": trainer.model.other_parameter()},
                 Path(trainer.saved_model_file))


def _save_resume(trainer, epoch: int, train_loader, path: Path) -> None:
    """Everything `Trainer.fit` carries from one epoch to the next, in tensors and plain values (read back
    with weights_only=True): weights, optimizer, early-stopping counters, and every RNG training draws from
    (torch's for dropout, numpy's for negative sampling, the train loader's own shuffling generator)."""
    import torch  # heavy: torch

    np_state = np.random.get_state()
    _atomic_save({
        "epoch": epoch, "cur_step": trainer.cur_step, "best_valid_score": float(trainer.best_valid_score),
        "best_valid_result": {k: float(v) for k, v in (trainer.best_valid_result or {}).items()},
        "state_dict": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
        "rng_torch": torch.get_rng_state(), "rng_loader": train_loader.generator.get_state(),
        "rng_numpy": [torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "rng_python": random.getstate(),
    }, path)


def _resume(trainer, path: Path, train_loader, epochs: int) -> bool:
    """Load `_save_resume`'s state into a freshly built trainer; True when that state is already past the
    end of training (early stop, or the cap of `epochs`)."""
    import torch  # heavy: torch

    s = torch.load(path, map_location="cpu", weights_only=True)
    trainer.model.load_state_dict(s["state_dict"])
    trainer.optimizer.load_state_dict(s["optimizer"])
    trainer.start_epoch, trainer.cur_step = s["epoch"] + 1, s["cur_step"]
    trainer.best_valid_score, trainer.best_valid_result = s["best_valid_score"], s["best_valid_result"] or None
    torch.set_rng_state(s["rng_torch"])
    train_loader.generator.set_state(s["rng_loader"])
    keys, pos, has_gauss, cached = s["rng_numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = s["rng_python"]
    random.setstate((version, tuple(internal), gauss))
    return trainer.cur_step > trainer.stopping_step or trainer.start_epoch >= epochs


class RecBoleModel(Model):
    """Base class: subclasses set `recbole_model`, `kind` ("seq" or "pair") and `uses_user`."""

    recbole_model: ClassVar[str] = ""
    kind: ClassVar[str] = "seq"
    uses_user: ClassVar[bool] = False    # scores depend on a trained user embedding
    loss: ClassVar[str] = "CE"           # RecBole's default loss for the model
    deterministic: ClassVar[bool] = False  # torch training: verified by scores inside the CI, not bytes

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir: Path | None = None):
        super().__init__(config, seed, run_dir)
        self._runs: dict[str, _Run] = {}
        self._items: pd.DataFrame | None = None

    # ---- capability ---------------------------------------------------------------------------
    def supports(self, task: str, split: str) -> bool:
        if task not in RANK_TASKS:
            return False
        return not (self.uses_user and split == "new_user")

    # ---- config -------------------------------------------------------------------------------
    def _work_root(self) -> Path:
        if self.run_dir is None:  # no run folder given: a private temporary one
            self.run_dir = Path(tempfile.mkdtemp(prefix="unimp-recbole-"))
        return self.run_dir / "recbole"

    def recbole_config_dict(self, export: Export, checkpoint_dir: Path) -> dict[str, Any]:
        """The explicit dict handed to RecBole's Config (our overrides last)."""
        d: dict[str, Any] = {
            "data_path": str(export.root),
            "checkpoint_dir": str(checkpoint_dir),
            "benchmark_filename": ["train", "valid", "test"],
            "USER_ID_FIELD": "user_id",
            "ITEM_ID_FIELD": "item_id",
            "RATING_FIELD": None,
            "TIME_FIELD": None,
            "load_col": {"inter": ["user_id", "item_id"]},
            "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "group_by": "user", "order": "TO", "mode": "full"},
            "metrics": ["Hit", "NDCG", "MRR"],
            "topk": [5, 10],
            "valid_metric": "MRR@10",
            "use_gpu": device.current() != "cpu",  # `unimp-bench run --device`
            "gpu_id": device.gpu_index(device.current()) or 0,
            "seed": self.seed,
            "reproducibility": True,
            "show_progress": False,
            "save_dataset": False,
            "save_dataloaders": False,
            "log_wandb": False,
            "worker": 0,
        }
        if self.kind == "seq":
            d["load_col"]["inter"] = ["user_id", "item_id_list", "item_id"]
            d["alias_of_item_id"] = ["item_id_list"]
        d.update({k: v for k, v in self.config.items() if k not in rs.OURS})  # ours, not RecBole's
        if self.kind == "seq":
            # recbole's benchmark-file loader pads item lists to the longest one in the files, while
            # HGN's layers are sized by MAX_ITEM_LIST_LENGTH: use the length the files really have
            # (equal to the configured one whenever some history reaches it, as on real data)
            d["MAX_ITEM_LIST_LENGTH"] = min(self._max_len(), max(export.max_hist, 1))
        if self.kind == "seq" and d.get("loss_type", self.loss) == "CE":
            d["train_neg_sample_args"] = None  # CE scores every item: RecBole refuses negative sampling
        return d

    def _max_len(self) -> int:
        return int(self.config.get("MAX_ITEM_LIST_LENGTH", 50))

    # ---- training -----------------------------------------------------------------------------
    def fit(self, data, regime: str) -> None:
        compat.apply()
        import torch  # heavy: torch

        torch.set_num_threads(self.settings.threads or torch.get_num_threads())
        self._items = data.items
        root = self._work_root()
        t0 = time.perf_counter()
        export = export_regime(data, regime, root, self.kind, self._max_len())
        log.info("%s/%s: exported %s to %s", self.name, regime, export.rows, root / export.name)
        run = self._train(export, data.n_items)
        run.train_time_s = time.perf_counter() - t0
        self._runs[regime] = run
        log.info("%s/%s: trained in %.1f s, best valid %s", self.name, regime, run.train_time_s, run.best_valid)

    def _train(self, export: Export, n_items: int, extra: dict | None = None) -> _Run:
        """Build Config, dataset, loaders, model and Trainer; fit with early stopping; load the best."""
        from recbole.config import Config  # heavy: recbole
        from recbole.data import create_dataset, data_preparation  # heavy: recbole
        from recbole.utils import get_model, get_trainer, init_seed  # heavy: recbole

        workdir = export.root / export.name
        ckpt = workdir / "saved" / f"{self.name}{'-' + extra['train_stage'] if extra else ''}"
        d = self.recbole_config_dict(export, ckpt)
        d.update(extra or {})
        with recbole_process_state(workdir, workdir / f"{self.name}.log"):
            config = Config(model=self._model_class(None, None), dataset=export.name, config_dict=d)
            init_seed(config["seed"], config["reproducibility"])
            refuse_pickled_caches(ckpt, export.name, self.recbole_model)
            dataset = create_dataset(config)
            loaders = data_preparation(config, dataset)
            init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
            model = self._build_model(self._model_class(config, get_model), config, loaders[0].dataset)
            stage = config["train_stage"] or "train"
            label = f"{export.name}/{stage}"  # the regime, and pre-training vs training
            board = self.run_dir / "tensorboard" / label.replace("/", "-") if self.settings.tensorboard else None
            with tensorboard_to(board):
                trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
            resume = ckpt / RESUME_FILE
            # stable names, so that a resumed run finds what its first life wrote: the best-validation weights,
            # or the end of pre-training (written below; S3-Rec's fine-tuning starts from it)
            trainer.saved_model_file = str(ckpt / f"{config['model']}-{'pretrained' if stage == 'pretrain' else 'best'}.pth")
            trainer._save_checkpoint = lambda epoch, verbose=True, **kw: _save_weights(trainer)
            epochs = config["pretrain_epochs"] if stage == "pretrain" else config["epochs"]
            finished = False
            if resume.is_file():
                finished = _resume(trainer, resume, loaders[0], epochs)
                log.info("%s/%s: resumed from %s at epoch %d", self.name, label, resume, trainer.start_epoch)
            bar = tqdm(total=config["epochs"], initial=trainer.start_epoch, unit="epoch", leave=False,
                       desc=f"{self.name}/{export.name} {stage}", disable=stage == "pretrain")

            last_epoch = [trainer.start_epoch - 1]

            def save_state(epoch: int) -> None:  # a killed run continues from here
                _save_resume(trainer, epoch, loaders[0], resume)
                if _after_resume_state is not None:
                    _after_resume_state(stage, epoch)

            def on_epoch(epoch: int, valid_score: float) -> None:  # after each validation pass
                last_epoch[0] = epoch
                bar.update(1)
                bar.set_postfix({config["valid_metric"]: f"{valid_score:.4f}"})
                append_curve(self.run_dir, label, "valid", epoch, config["valid_metric"].lower(), valid_score)
                save_state(epoch)

            train_epoch = trainer._train_epoch

            def logged_epoch(train_data, epoch_idx, *args, **kwargs):  # the epoch's training loss to curves.csv
                loss = train_epoch(train_data, epoch_idx, *args, **kwargs)
                append_curve(self.run_dir, label, "train", epoch_idx, "loss", sum(loss) if isinstance(loss, tuple) else loss)
                if stage == "pretrain":  # no validation to save after: the state after each epoch
                    save_state(epoch_idx)
                return loss

            trainer._train_epoch = logged_epoch

            if stage == "pretrain":
                log.info("%s: pre-training %d epochs (see %s.log)", self.name, config["pretrain_epochs"], self.name)
            try:
                if finished:  # the first life ended training and was killed after: nothing left to train
                    best_valid = trainer.best_valid_result
                else:
                    _, best_valid = trainer.fit(loaders[0], loaders[1], saved=True, show_progress=False,
                                                callback_fn=on_epoch)
            finally:
                bar.close()
            if stage == "pretrain":  # its end, tensors only: what fine-tuning loads (S3Rec's pre_model_path)
                _save_weights(trainer)
            if getattr(model, "train_stage", "finetune") == "finetune":
                self._load_best(trainer, model)
        model.eval()
        return _Run(config, dataset, model, trainer, loaders, IdMap(dataset, export, n_items), export,
                    {k: float(v) for k, v in (best_valid or {}).items()}, 0.0,
                    None if stage == "pretrain" else training_summary(trainer, last_epoch[0]))

    def _model_class(self, config, get_model):
        """RecBole's own model by name (the name alone when `config` is None: RecBole's Config looks it
        up); a model of ours returns its class in both cases."""
        return self.recbole_model if config is None else get_model(config["model"])

    def _build_model(self, cls, config, train_dataset):
        return cls(config, train_dataset).to(config["device"])

    @staticmethod
    def _load_best(trainer, model) -> None:
        """Reload the best-validation checkpoint the Trainer just wrote."""
        import torch  # heavy: torch

        path = Path(trainer.saved_model_file)
        if not path.is_file():  # no validation pass happened: keep the last weights
            return
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only (_save_weights)
        model.load_state_dict(state["state_dict"])
        model.load_other_parameter(state.get("other_parameter"))

    # ---- scoring ------------------------------------------------------------------------------
    def _run_for(self, requests: pd.DataFrame) -> _Run:
        regime = regime_of(_split_of(requests["id"].iloc[0])).name if len(requests) else "main"
        if regime not in self._runs:
            raise RuntimeError(f"{self.name}: fit(data, {regime!r}) was not called")
        return self._runs[regime]

    def _interaction(self, run: _Run, batch: pd.DataFrame):
        """RecBole Interaction for full_sort_predict: user ids and/or the request histories."""
        import torch  # heavy: torch
        from recbole.data.interaction import Interaction  # heavy: recbole

        fields: dict[str, Any] = {}
        if self.uses_user or self.kind == "pair":
            unknown = [u for u in batch["user"] if u not in run.ids.user2rid]
            if unknown:
                raise ValueError(f"{self.name}: no trained embedding for user(s) {unknown[:3]} (new users?)")
            fields[run.config["USER_ID_FIELD"]] = torch.tensor([run.ids.user2rid[u] for u in batch["user"]])
        if self.kind == "seq":
            width = int(run.config["MAX_ITEM_LIST_LENGTH"])
            seq = torch.zeros((len(batch), width), dtype=torch.long)
            lens = torch.zeros(len(batch), dtype=torch.long)
            for b, hist in enumerate(batch["history"]):
                r = run.ids.history_rids(hist)[-width:]
                seq[b, : len(r)] = torch.tensor(r, dtype=torch.long)
                lens[b] = max(len(r), 1)  # an empty history scores from the padding position
            fields[run.model.ITEM_SEQ] = seq
            fields[run.model.ITEM_SEQ_LEN] = lens
        return Interaction(fields)

    def full_scores(self, requests: pd.DataFrame) -> np.ndarray:
        """(B, n_items) float32: RecBole's full_sort_predict for each request, in item-token order."""
        import torch  # heavy: torch

        run = self._run_for(requests)
        out = []
        with torch.no_grad():
            for start in range(0, len(requests), BATCH):
                batch = requests.iloc[start:start + BATCH]
                scores = run.model.full_sort_predict(self._interaction(run, batch))
                scores = scores.view(len(batch), -1).float().cpu().numpy()
                out.append(run.ids.scores_to_tokens(scores))
        if not out:
            return np.zeros((0, run.ids.n_items), dtype=np.float32)
        return np.concatenate(out)

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task not in RANK_TASKS:
            raise NotImplementedError(task)
        scores = self.full_scores(requests)
        if task == "selection":  # the candidates' full-sort scores (-inf for items RecBole never saw)
            rows = [scores[b, np.asarray(c, dtype=np.int64)] for b, c in enumerate(requests["candidates"])]
            return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
        return scores  # recommendation and search alike: the search task's candidate rule keeps the query's category

    # ---- RecBole's own evaluation (for checks and reports) ------------------------------------
    def recbole_evaluate(self, regime: str = "main", part: str = "test") -> dict[str, float]:
        """RecBole's own full-sort evaluator on the exported `part` file ("valid" or "test")."""
        run = self._runs[regime]
        loader = run.loaders[{"valid": 1, "test": 2}[part]]
        result = run.trainer.evaluate(loader, load_best_model=False, show_progress=False)
        return {k: float(v) for k, v in result.items()}

    def describe(self) -> dict[str, Any]:
        keys = ("epochs", "stopping_step", "learning_rate", "train_batch_size", "MAX_ITEM_LIST_LENGTH",
                "loss_type", "embedding_size", "hidden_size", "n_layers", "valid_metric", "seed",
                "train_neg_sample_args", "pretrain_epochs", "train_stage", "weight_decay")
        out = super().describe()
        for regime, run in self._runs.items():
            resolved = {k: run.config[k] for k in keys if run.config[k] is not None}
            resolved["loss"] = run.config["loss_type"] or self.loss
            out.setdefault("recbole", {})[regime] = {
                "model": self.recbole_model, "config": resolved, "best_valid": run.best_valid,
                "train_time_s": round(run.train_time_s, 2), "exported_rows": run.export.rows,
            }
            if run.training:  # read by the demo's summary (benchmark/eval/summary.py)
                out.setdefault("stopping", {})[regime] = run.training
        out["loss"] = self.config.get("loss_type", self.loss)
        return out


# ---- the seven baselines ----------------------------------------------------------------------
class MFModel(RecBoleModel):
    name = "mf"
    recbole_model, kind, uses_user, loss = "BPR", "pair", True, "BPR"
    Settings = rs.MFSettings


class LightGCNModel(RecBoleModel):
    name = "lightgcn"
    recbole_model, kind, uses_user, loss = "LightGCN", "pair", True, "BPR"
    Settings = rs.LightGCNSettings


class HGNModel(RecBoleModel):
    name = "hgn"
    recbole_model, kind, uses_user = "HGN", "seq", True
    Settings = rs.HGNSettings


class GRU4RecModel(RecBoleModel):
    name = "gru4rec"
    recbole_model = "GRU4Rec"
    Settings = rs.GRU4RecSettings


class SASRecModel(RecBoleModel):
    name = "sasrec"
    recbole_model = "SASRec"
    Settings = rs.SASRecSettings


class BERT4RecModel(RecBoleModel):
    name = "bert4rec"
    recbole_model = "BERT4Rec"
    Settings = rs.BERT4RecSettings


class S3RecModel(RecBoleModel):
    """S3-Rec: RecBole's two stages, pre-training on item attributes (the category path's levels),
    then fine-tuning from the pre-trained checkpoint (`pre_model_path`)."""

    name = "s3rec"
    recbole_model = "S3Rec"
    Settings = rs.S3RecSettings

    def recbole_config_dict(self, export: Export, checkpoint_dir: Path) -> dict[str, Any]:
        d = super().recbole_config_dict(export, checkpoint_dir)
        d["load_col"] = {"inter": d["load_col"]["inter"], "item": ["item_id", CATEGORY_FIELD]}
        d["item_attribute"] = CATEGORY_FIELD
        return d

    def _train(self, export: Export, n_items: int, extra: dict | None = None) -> _Run:
        epochs = self.settings.pretrain_epochs  # RecBole's documented default: 500
        # save_step past the last epoch: RecBole's own checkpoint (it pickles its Config) is never written;
        # `_train` writes the pre-trained weights, tensors only, when the stage ends
        pre = super()._train(export, n_items, {"train_stage": "pretrain", "pretrain_epochs": epochs,
                                               "save_step": epochs + 1})
        self._pretrained = Path(pre.trainer.saved_model_file)
        log.info("%s: pre-trained %d epochs -> %s", self.name, epochs, self._pretrained)
        run = super()._train(export, n_items, {"train_stage": "finetune",
                                               "pre_model_path": str(self._pretrained)})
        run.training["pretrain_epochs"] = epochs  # fixed: RecBole's pre-training has no validation to stop on
        return run
