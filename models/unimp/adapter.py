"""`UniMPModel`: UniMP behind the benchmark interface (benchmark.api.Model).

Config dict (the run's --config): {"preset": "tiny" | "smollm" | "paper" | path.json, "checkpoint":
folder of a saved model to load instead of training, any UniMPConfig field as an override}.
Checkpoints go to <run_dir>/unimp/<regime>/ (config.json, vocab/, model.safetensors, stats.json, and
vq/ the image tokenizer when image generation is on).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmark.api import TASKS, Model, RatingAnswer, append_curve, compat, io, regime_of
from benchmark.api.image_features import item_image_features

from .config import IMAGE_TASK, TEXT_TASKS, UniMPConfig, UniMPSettings, load_config, resolve_path
from .decode import (
    RATING_READOUTS,
    generate_explanation,
    generate_image_tokens,
    generate_selection,
    image_token_scores,
    rank_items,
    rating_probabilities,
    read_rating,
    readout_maes,
    rows_of,
    selection_scores,
)
from .image_gen import (
    catalogue_codes,
    copy_vq_curve,
    search_retrieve,
    vq_tokenizer,
    vq_training_info,
    with_training_retrieval,
)
from .losses import sequence_loss
from .model import build_model
from .prompts import PromptBuilder
from .train import collate, epoch_order, load_weights, phases, save_weights, train_phase
from .vision import cache_key, frozen_features, load_pixels
from .vocab import Vocab, train_bpe

# Validation image instances the teacher-forced image diagnostic reads: a recorded statistic that no choice uses;
# the whole validation set (1,963 on the default world) cost about 100 s of the demo's UniMP run (cProfile).
IMAGE_VALID_MAX = 512


def hit_rate(scores: np.ndarray, requests: pd.DataFrame, allowed: np.ndarray, k: int = 5) -> float:
    """HR@k with history items and out-of-catalogue items removed (model selection only)."""
    s = scores.copy()
    s[:, ~allowed] = -np.inf
    for b, h in enumerate(requests["history"]):
        s[b, np.asarray(list(h), dtype=np.int64)] = -np.inf
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float(np.mean([t in row for t, row in zip(requests["target_item"].astype(int), top)]))


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion p observed on n instances."""
    if n <= 0:
        return float("nan"), float("nan")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


class UniMPModel(Model):
    name = "unimp"
    revision = "1"
    deterministic = False  # torch training and sampling: verified by scores inside the CI, not bytes
    Settings = UniMPSettings

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir: Path | None = None):
        super().__init__(config, seed, run_dir)

        compat.apply()  # before transformers / open_clip import torchvision
        over = {k: v for k, v in self.config.items() if k not in ("preset", "checkpoint")}
        over.setdefault("seed", seed)
        self.cfg: UniMPConfig = load_config(self.config.get("preset", "tiny"), **over)
        self.model = self.vocab = self.builder = self.vq = None
        self._codes: tuple[str, dict] | None = None  # (images key, item -> VQ codes)
        self.stats: dict[str, Any] = {}
        self.rating_readout: str | None = None  # chosen on validation when cfg.rating_output == "auto"
        self._data_key = None
        self._shared = None  # (key, features): the shared image features of the last data asked for
        self.candidate_masks: torch.Tensor | None = None  # (G, n_items): training candidate sets (candidate_loss)
        if self.cfg.torch_threads:
            torch.set_num_threads(self.cfg.torch_threads)

    # ---- setup ----------------------------------------------------------------------------------------
    def _out(self, regime: str) -> Path:
        root = self.run_dir if self.run_dir is not None else Path.cwd() / "unimp-run"
        return root / "unimp" / regime

    def _curve(self, label: str):
        """Training values of one phase to <run_dir>/curves.csv (moved to RUN/curves.csv by the evaluator)."""
        return lambda phase, step, name, value: append_curve(self.run_dir, label, phase, step, name, value)

    def _make_vocab(self, data) -> Vocab:
        cfg = self.cfg
        if cfg.tokenizer == "pretrained":
            from transformers import AutoTokenizer  # heavy: transformers

            kw = {"gguf_file": cfg.lm_gguf_file} if cfg.lm_gguf_file else {}
            return Vocab(AutoTokenizer.from_pretrained(resolve_path(cfg.lm_path), **kw), data.n_items,
                         n_image_codes=self._n_codes())
        texts = [str(t).replace("[IMG]", " ").replace("[EOC]", " ") for t in data.items["text"].fillna("")]
        for task in self.tasks:
            df = data.instances(task, "train")
            texts += df["instruction"].dropna().unique().tolist()
            if task == "explanation":
                texts += df["target_text"].dropna().tolist()
        return Vocab(train_bpe(texts, cfg.bpe_vocab_size), data.n_items, n_image_codes=self._n_codes())

    @staticmethod
    def _dataset_has_images(data) -> bool:
        counts = data.manifest.get("instances", {})
        return bool(counts.get(f"{IMAGE_TASK}/train")) and bool(data.items["image"].notna().any())

    def _n_codes(self) -> int:
        return self.vq.n_codes if self.vq is not None else 0

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks trained on and answered: all text tasks (+ image), or `train_tasks` of them."""
        tasks = TEXT_TASKS + ((IMAGE_TASK,) if self.cfg.image_generation else ())
        chosen = self.cfg.train_tasks
        return tuple(t for t in tasks if chosen is None or t in chosen)

    def _setup(self, data, checkpoint: Path | None = None) -> None:
        if checkpoint is not None:
            saved = json.loads((checkpoint / "config.json").read_text())
            self.cfg = UniMPConfig(**saved).validate()
            base = None
            if self.cfg.tokenizer == "pretrained":
                from transformers import AutoTokenizer  # heavy: transformers

                kw = {"gguf_file": self.cfg.lm_gguf_file} if self.cfg.lm_gguf_file else {}
                base = AutoTokenizer.from_pretrained(resolve_path(self.cfg.lm_path), **kw)
            self.vocab = Vocab.load(checkpoint / "vocab", base)
            if self.cfg.image_generation:
                from models.vq import VQTokenizer  # heavy: torch

                self.vq = VQTokenizer.load(checkpoint / "vq")
        else:
            if self.cfg.image_generation:
                self.vq = vq_tokenizer(self.cfg, data)
                copy_vq_curve(self.vq, self.run_dir)
            self.vocab = self._make_vocab(data)
        if self.vocab.n_image_codes != self._n_codes():
            raise ValueError(f"vocabulary has {self.vocab.n_image_codes} image codes, tokenizer {self._n_codes()}")
        if self.vocab.n_items != data.n_items:
            raise ValueError(f"vocabulary has {self.vocab.n_items} items, dataset {data.n_items}")
        self.model = build_model(self.cfg, self.vocab, self._shared_features(data)[0].shape[-1]
                                 if self.cfg.image_features == "shared" and self.cfg.fusion != "none" else None)
        if checkpoint is not None:
            load_weights(self.model, checkpoint / "model.safetensors")
        elif self.cfg.content_init:
            from .item_init import init_item_rows

            self.stats["content_init"] = init_item_rows(self.model, data)
        if checkpoint is None and self.cfg.item_bias:
            from .item_init import init_item_bias

            self.stats["item_bias"] = init_item_bias(self.model, data)
        self._data_key = None  # a new model: its image bank must be set
        self.set_inference_data(data)
        if checkpoint is None:
            trunc = self.builder.truncation()
            self.stats["item_text_truncation"] = trunc
            print(f"unimp: item text cut at {trunc['max_item_tokens']} tokens for {trunc['text_cut']:.1%} of "
                  f"{trunc['items']} items; category cut for {trunc['category_cut']:.1%} of {trunc['with_category']} "
                  f"items with one (category_first={self.cfg.category_first})")

    def set_inference_data(self, data) -> None:
        """Item texts and images from `data` (a perturbed view under NT/NV)."""
        super().set_inference_data(data)
        if self.model is None:
            return
        cfg = self.cfg
        items = data.items
        key = hashlib.sha256(pd.util.hash_pandas_object(items[["text", "image"]].astype(str), index=False)
                             .values.tobytes()).hexdigest()
        if key == self._data_key:
            return
        self._data_key = key
        self.builder = PromptBuilder(self.vocab, items, cfg.history, cfg.max_item_tokens, cfg.max_query_tokens,
                                     cfg.max_target_tokens, cfg.context_weight, cfg.context_norm, cfg.category_first)
        if self.vq is not None:
            if self._codes is None or self._codes[0] != key:
                self._codes = (key, catalogue_codes(self.vq, data))
            self.builder.image_codes = self._codes[1]
            self.builder.image_history = cfg.image_history
            self.builder.retrieved_codes = cfg.retrieved_codes
        if not self.model.uses_vision:
            return

        if cfg.image_features == "shared":
            feats, has = self._shared_features(data)
            self.model.set_image_bank(has, features=feats)
            return
        pixels, has = load_pixels(data, cfg.image_size)
        if cfg.freeze_vision:
            feats = frozen_features(self.model.vision, pixels, has, cache_key(data.sha256 + key, cfg))
            self.model.set_image_bank(has, features=feats)
        else:
            self.model.set_image_bank(has, pixels=pixels)

    def _shared_features(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared frozen image features of `data`'s images (computed once, cached by their sha256, as
        for the baselines): (n_items, 1, D) float32, has_image (n_items,) bool; recorded in the stats. Kept for
        the last data asked for: model setup asks for the width, then the image bank for the same features."""
        key = (data.sha256, tuple(data.items["image"].astype(str)))  # an NV view swaps images: another key
        if self._shared is not None and self._shared[0] == key:
            return self._shared[1]
        feats, has = item_image_features(data, self.cfg.encoder_settings())
        self.stats["image_features"] = {"encoder": self.cfg.image_encoder, "dim": int(feats.shape[1]),
                                        "with_image": int(has.sum()),
                                        "sha256": hashlib.sha256(np.ascontiguousarray(feats).tobytes()).hexdigest()}
        out = torch.from_numpy(np.array(feats, dtype=np.float32)).unsqueeze(1), torch.from_numpy(np.array(has, dtype=bool))
        self._shared = (key, out)
        return out

    def _examples(self, data, split: str, tasks=None, cap: int | None = None) -> list:
        rng = np.random.default_rng(self.cfg.seed)
        out = []
        for task in tasks or self.tasks:
            df = data.instances(task, split)
            if task == IMAGE_TASK:
                df = df[[int(t) in self.builder.image_codes for t in df["target_item"]]]
                df = with_training_retrieval(df, data, regime_of(split).name,
                                             self.cfg.n_retrieved)
            if cap is not None and len(df) > cap and not (task == "recommendation" and self.cfg.all_rec_prefixes):
                df = df.iloc[np.sort(rng.choice(len(df), cap, replace=False))]
            encs = [self.builder.build(task, r, context=self.cfg.context_reconstruction) for r in rows_of(df)]
            self._assign_candidates(data, split, task, df, encs)
            out += encs
        return out

    def _assign_candidates(self, data, split: str, task: str, df: pd.DataFrame, encs: list) -> None:
        """config.candidate_loss: give each example of a ranking task the row of its candidate set (the
        task's declared rule on this split) in self.candidate_masks, identical sets sharing one row."""
        cfg = self.cfg
        rule = getattr(TASKS[task], "candidates", None)
        if not cfg.candidate_loss or rule is None or not len(df) or (
                cfg.candidate_loss_tasks is not None and task not in cfg.candidate_loss_tasks):
            return
        mask = np.asarray(rule.mask(data, split, df), dtype=bool)
        mask = np.broadcast_to(mask, (len(df), data.n_items))
        rows, inverse = np.unique(mask, axis=0, return_inverse=True)
        known = [] if self.candidate_masks is None else [self.candidate_masks]
        offset = 0 if self.candidate_masks is None else len(self.candidate_masks)
        self.candidate_masks = torch.cat(known + [torch.from_numpy(rows.copy())])
        for e, g in zip(encs, inverse.reshape(-1).tolist()):
            e.cand_group = offset + int(g)

    def _selector(self, data, split: str):
        """Model selection on the validation split: HR@5 of recommendation, or minus the loss."""
        cfg = self.cfg
        rec = data.instances("recommendation", split)
        rec = rec.iloc[: cfg.n_valid]
        if cfg.select_on == "loss":
            cap = None if cfg.n_valid is None else max(1, cfg.n_valid // len(self.tasks))
            encs = self._examples(data, split, cap=cap)

            def neg_loss(model) -> float:
                with torch.no_grad():
                    return -float(np.mean([sequence_loss(model, collate(encs[s:s + 32], self.vocab["[PAD]"]), cfg.focal_gamma,
                                                         cfg.loss_norm).item()
                                           for s in range(0, len(encs), 32)]))
            return neg_loss
        allowed = data.catalogue_mask(split)
        encs = [self.builder.build("recommendation", r, with_target=False) for r in rows_of(rec)]

        def hr5(model) -> float:
            hr = hit_rate(rank_items(model, self.builder, rec, "recommendation", cfg.eval_batch_size, encs), rec, allowed)
            lo, hi = wilson_interval(hr, len(rec))
            print(f"unimp: {split} HR@5 {hr:.4f} [{lo:.4f}, {hi:.4f}] on {len(rec)} instances", flush=True)
            return hr
        return hr5

    # ---- training --------------------------------------------------------------------------------------
    def fit(self, data, regime: str) -> None:
        ckpt = self.config.get("checkpoint")
        if regime == "new_domain" and self.model is None:
            self.fit(data, "main")
        if ckpt:
            path = Path(ckpt) / regime if (Path(ckpt) / regime / "config.json").is_file() else Path(ckpt)
            if regime == "main" or (Path(ckpt) / regime / "config.json").is_file():
                self._setup(data, path)
                self.stats[regime] = {"loaded": str(path)}
                self._choose_rating_readout(data, regime)
                self._valid_image_token_scores(data, regime)
                return
        cfg, out = self.cfg, self._out(regime)
        t0 = time.time()
        if regime == "main":
            if cfg.image_generation and not self._dataset_has_images(data):
                cfg.image_generation = False  # recorded in the resolved config
                print("unimp: the dataset has no item images or no image training instances; image generation off")
            self._setup(data)
            examples = self._examples(data, "train", cap=cfg.max_train_per_task)
            select = self._selector(data, "valid")
            stats = []
            for k, (name, order_kind, policy) in enumerate(phases(cfg)):
                ex = examples if order_kind != "recommendation" else [e for e in examples if e.task == "recommendation"]
                order = epoch_order(ex, cfg, cfg.seed + k, cfg.epochs, "continual" if order_kind == "continual" else "multitask")
                stats.append(train_phase(self.model, ex, order, cfg, out / f"phase{k}_{name}", self.vocab["[PAD]"],
                                         policy, select, desc=f"unimp {name}", curve=self._curve(f"{regime}/{name}"),
                                         candidate_masks=self.candidate_masks))
        elif regime == "new_domain":
            examples = self._examples(data, "new_domain_train", cap=cfg.max_train_per_task)
            select = self._selector(data, "new_domain_valid")
            n_epochs = max(1.0, cfg.new_domain_steps * cfg.batch_size / max(1, len(examples)))
            order = epoch_order(examples, cfg, cfg.seed + 100, n_epochs)
            policy = "paper" if cfg.freeze_lm else "all"
            stats = [train_phase(self.model, examples, order, cfg, out / "adapt", self.vocab["[PAD]"], policy, select,
                                 max_steps=cfg.new_domain_steps, desc="unimp new_domain",
                                 curve=self._curve(f"{regime}/adapt"), candidate_masks=self.candidate_masks)]
        else:
            raise ValueError(f"unknown regime {regime!r}")
        self.stats[regime] = {"fit_time_s": round(time.time() - t0, 2), "phases": stats,
                              "n_train_examples": len(examples)}
        self._choose_rating_readout(data, regime)
        self._valid_image_token_scores(data, regime)
        self.save(out)

    def _valid_image_token_scores(self, data, regime: str) -> None:
        """Teacher-forced token_nll / token_accuracy of the target images' VQ codes on the regime's validation
        image instances (the first IMAGE_VALID_MAX with a target image), recorded in the run's stats. They need
        the target, which is public on validation only (a scored split's answers are sealed and never given to
        a model)."""
        split = "valid" if regime == "main" else "new_domain_valid"
        if self.vq is None or IMAGE_TASK not in self.tasks or not data.has_split(split):
            return
        b, cfg = self.builder, self.cfg
        limit = IMAGE_VALID_MAX if cfg.n_valid is None else min(IMAGE_VALID_MAX, 4 * cfg.n_valid)
        valid = data.instances(IMAGE_TASK, split)
        valid = valid[[int(t) in b.image_codes for t in valid["target_item"]]].iloc[:limit]
        if valid.empty:
            return
        valid = valid.assign(retrieved=search_retrieve(self.model, b, data, valid, cfg.n_retrieved, cfg.eval_batch_size))
        nll, acc = image_token_scores(self.model, b, [b.build(IMAGE_TASK, r) for r in rows_of(valid)],
                                      cfg.eval_batch_size)
        self.stats[regime]["image_valid"] = {"split": split, "n": len(valid), "token_nll": round(float(nll.mean()), 4),
                                             "token_accuracy": round(float(acc.mean()), 4)}

    def _choose_rating_readout(self, data, regime: str) -> None:
        """rating_output "auto": the read-out with the lowest MAE on the regime's validation rating
        instances (ties: the paper's token). Recorded in the run's stats."""
        if self.cfg.rating_output != "auto" or "rating" not in self.tasks:
            self.rating_readout = self.cfg.rating_output
            return
        valid = data.instances("rating", "valid" if regime == "main" else "new_domain_valid")
        valid = valid.iloc[: None if self.cfg.n_valid is None else 4 * self.cfg.n_valid]
        if valid.empty:
            self.rating_readout = "token"
            return
        probs = rating_probabilities(self.model, self.builder, valid, self.cfg.eval_batch_size)
        y = valid["target_rating"].to_numpy(dtype=np.float64)
        mae = readout_maes(probs, y)
        self.rating_readout = min(RATING_READOUTS, key=lambda r: (mae[r], RATING_READOUTS.index(r)))
        self.stats[regime]["rating_readout"] = {"chosen": self.rating_readout, "valid_mae": mae, "n_valid": len(valid)}

    def save(self, folder: Path) -> None:
        """config.json, vocab/, model.safetensors (trainable weights only when the LM is frozen)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        io.write_json(folder / "config.json", self.cfg.to_dict())
        self.vocab.save(folder / "vocab")
        keys = None
        if self.cfg.freeze_lm:
            self.model.set_trainable("paper")
            keys = [k for k, p in self.model.named_parameters() if p.requires_grad]
        save_weights(self.model, folder / "model.safetensors", keys)
        if self.vq is not None:
            self.vq.save(folder / "vq", training=vq_training_info(self.vq))
        io.write_json(folder / "stats.json", self.stats)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["resolved_config"] = self.cfg.to_dict()
        d["training"] = self.stats
        if self.vq is not None:
            d["image_tokenizer"] = {**self.vq.describe(), "training": vq_training_info(self.vq)}
        return d

    # ---- verbs -------------------------------------------------------------------------------------------
    def implements(self, verb: str) -> bool:
        """`select` only when selection is generated (else the evaluator thresholds `rank` scores)."""
        if verb == "select" and self.cfg.selection != "generate":
            return False
        return super().implements(verb)

    def supports(self, task: str, split: str) -> bool:
        return task in self.tasks

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if task in ("recommendation", "search"):
            return rank_items(self.model, self.builder, requests, task, self.cfg.eval_batch_size)
        if task == "selection":
            return selection_scores(self.model, self.builder, requests, self.cfg.eval_batch_size)
        raise ValueError(f"UniMPModel.rank: unsupported task {task!r}")

    def select(self, requests: pd.DataFrame) -> list[list[int]]:
        return generate_selection(self.model, self.builder, requests, self.cfg.eval_batch_size)

    def predict_rating(self, requests: pd.DataFrame) -> list:
        """The configured read-out's rating, each also carrying the expectation read-out (both from one
        forward pass), so a run scores both: mae/rmse and mae-expectation/rmse-expectation."""
        readout = self.rating_readout or self.cfg.rating_output
        probs = rating_probabilities(self.model, self.builder, requests, self.cfg.eval_batch_size)
        expectation = read_rating(probs, "expectation")
        return [RatingAnswer(f"{x:.4f}" if readout == "expectation" else str(int(x)), e)
                for x, e in zip(read_rating(probs, readout), expectation)]

    def generate_text(self, requests: pd.DataFrame) -> list[str]:
        return generate_explanation(self.model, self.builder, requests, self.cfg.max_target_tokens,
                                    self.cfg.eval_batch_size)


    def generate_images(self, requests: pd.DataFrame) -> list:
        """Eq. 9: stage 1 retrieves with UniMP's search, stage 2 decodes image tokens conditioned on the
        retrieved items' images, the query and the history; the VQ decoder makes the pixels. Each image
        carries info["retrieved"] and, where the requests carry the target and it has an image, the
        teacher-forced token scores of the target's codes (info["token_nll"], info["token_accuracy"])."""
        cfg, b = self.cfg, self.builder
        if self.vq is None:
            raise RuntimeError("UniMP: image generation is off (config image_generation: false)")
        retrieved = search_retrieve(self.model, b, self.inference_data, requests, cfg.n_retrieved, cfg.eval_batch_size)
        rows = rows_of(requests.assign(retrieved=retrieved))
        seed = int(hashlib.sha256(str(requests["id"].iloc[0]).encode()).hexdigest()[:8], 16) + cfg.seed if rows else 0
        codes = generate_image_tokens(self.model, b, [b.build(IMAGE_TASK, r, with_target=False) for r in rows],
                                      self.vq.n_tokens, cfg.eval_batch_size, cfg.image_temperature, cfg.image_top_k, seed)
        images = self.vq.decode(codes) if codes else []
        # teacher-forced scores need the target, which a model is never given on a scored split (sealed
        # answers): only when the requests carry it (training-split instances, tests)
        scored = ([i for i, r in enumerate(rows) if int(r["target_item"]) in b.image_codes]
                  if "target_item" in requests else [])
        nll, acc = image_token_scores(self.model, b, [b.build(IMAGE_TASK, rows[i]) for i in scored], cfg.eval_batch_size)
        for i, top in enumerate(retrieved):
            images[i].info["retrieved"] = top
        for i, n, a in zip(scored, nll, acc):
            images[i].info.update(token_nll=float(n), token_accuracy=float(a))
        return images


assert set(TASKS) >= set(TEXT_TASKS) | {IMAGE_TASK}
