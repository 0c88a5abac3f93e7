"""UniMP configuration: one dataclass, a comment per field (its help, see benchmark.api.config_schema);
presets are JSON files of overrides. Imports nothing heavy: `unimp-bench models unimp` reads it."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.api.config_schema import ConfigError, check
from benchmark.api.image_features import ENCODERS, ImageEncoderSettings

PRESETS_DIR = Path(__file__).parent / "presets"
FUSIONS = ("fine", "early", "late", "none")
IMAGE_FEATURES = ("tower", "shared")
STRATEGIES = ("multitask", "continual", "multitask+full", "multitask+last")
TEXT_TASKS = ("recommendation", "search", "selection", "rating", "explanation")
IMAGE_TASK = "image"


@dataclass
class UniMPConfig:
    # ---- language model -------------------------------------------------------------------------
    lm: str = "gpt_neox"            # "gpt_neox" | "llama" (random init from lm_args) | "pretrained"
    lm_path: str | None = None      # local folder of a pretrained causal LM, or "pkg:<package>" (its folder)
    lm_gguf_file: str | None = None  # GGUF file name inside lm_path (SmolLM2 preset)
    lm_args: dict = field(default_factory=dict)  # HF config kwargs for a from-scratch LM
    layer_path: str = "gpt_neox.layers"  # explicit path of the decoder-layer ModuleList
    tokenizer: str = "bpe"          # "bpe" (trained here on the training text) | "pretrained"
    bpe_vocab_size: int = 4096      # size of the trained byte-level BPE (without added tokens)
    # ---- vision ---------------------------------------------------------------------------------
    vision_model: str | None = None  # open_clip model name (e.g. "ViT-L-14"); None = vision_args
    vision_args: dict = field(default_factory=dict)  # open_clip CLIPVisionCfg kwargs (tiny encoder)
    vision_checkpoint: str | None = None  # local open_clip checkpoint (pretrained=<path>)
    image_size: int = 32            # pixels (square) fed to the encoder
    freeze_vision: bool = False     # frozen -> features computed once per catalogue image, cached
    image_features: str = "tower"   # "tower": UniMP's own open_clip tower (the fields above); "shared": no
                                    # tower, the frozen features every image-aware baseline reads
                                    # (benchmark.api.image_features: image_encoder, clip_model,
                                    # clip_checkpoint), one token per image, through a trainable linear
                                    # layer into the perceiver resampler
    image_encoder: str = ImageEncoderSettings.image_encoder  # image_features shared: frozen encoder, judge
                                    # (trained here on the catalogue) or open_clip
    clip_model: str = ImageEncoderSettings.clip_model  # image_features shared: open_clip architecture
    clip_checkpoint: str | None = ImageEncoderSettings.clip_checkpoint  # image_features shared: local
                                    # open_clip checkpoint file (image_encoder open_clip)
    # ---- perceiver resampler + cross-attention ----------------------------------------------------
    n_visual_tokens: int = 4        # visual tokens per image (perceiver latents)
    perceiver_depth: int = 1        # perceiver layers
    perceiver_heads: int = 4        # perceiver attention heads
    perceiver_dim_head: int = 32    # width of each perceiver head
    cross_attn_every: int = 2       # a gated cross-attention block before every n-th decoder layer
    cross_attn_heads: int = 4       # heads of the gated cross-attention
    cross_attn_dim_head: int = 32   # width of each cross-attention head
    ff_mult: int = 2                # feed-forward width multiple inside the gated block
    # ---- ablations ------------------------------------------------------------------------------
    fusion: str = "fine"            # "fine" | "early" | "late" | "none" (without vision)
    exclusive_mask: bool = True     # paper eq. 3; False = every token sees all preceding images
    context_reconstruction: bool = True  # paper eq. 7: supervise history items' attribute tokens
    context_weight: float = 1.0     # weight of the reconstruction tokens in the loss
    context_norm: str = "token"     # "token": each reconstruction token weighs context_weight (like an
                                    # answer token); "instance": together they weigh context_weight x
                                    # the answer's length (answer and reconstruction balanced per prompt)
    loss_norm: str = "token"        # "token": the loss averages over a batch's supervised tokens;
                                    # "example": over its examples, each example's tokens summing to 1
                                    # (a one-token rating answer then weighs like a long explanation)
    focal_gamma: float = 2.0        # paper eq. 8; 0 = plain cross-entropy
    strategy: str = "multitask"     # "multitask" | "continual" | "multitask+full" | "multitask+last"
    freeze_lm: bool = False         # paper: True with a pretrained LM (embeddings + head still train)
    # ---- prompts --------------------------------------------------------------------------------
    history: int = 5                # items of history in a prompt (layout.EVAL_HISTORY)
    max_item_tokens: int = 32       # attribute-text tokens kept per item
    max_query_tokens: int = 24      # search-query tokens kept
    max_target_tokens: int = 40     # explanation target / generation length
    category_first: bool = False    # render an item's category before its other attributes inside
                                    # UniMP's prompts (the dataset's item text is unchanged), so a
                                    # max_item_tokens cut keeps it (search queries are categories)
    # ---- item ids (next-item signal) -------------------------------------------------------------
    transition_loss: float = 0.0    # > 0: a cross-entropy over the item-id rows at every history item's
                                    # [EOC], target = the next item (the last one: the instance's own
                                    # next item), weighted this much against the token loss: every
                                    # history transition supervised, as in sequential recommenders
    all_rec_prefixes: bool = False  # every training prefix is a recommendation prompt (no
                                    # max_train_per_task cap for it); batches then draw tasks with
                                    # probability proportional to task_weights instead of weighting the loss
    content_init: bool = False      # item-id rows (input and output) start from the item text's
                                    # sentence embedding (all-MiniLM-L6-v2), PCA-projected to the model
                                    # width; the PCA is fitted on the training items only
    tie_item_ids: bool = False      # input and output item-id rows are one Parameter
    item_bias: bool = False         # a learned bias on each item-id logit (as BERT4Rec's output layer has),
                                    # initialised to the centred log(1 + count) of the item as a target of
                                    # the training recommendation instances (train split only): the model
                                    # starts from a popularity prior instead of learning it through the rows
    candidate_loss: float = 0.0     # > 0: for every trained ranking instance, a cross-entropy over the
                                    # item-id logits at [ANS] restricted to the items its task's candidate
                                    # rule allows (search: the query's category), weighted this much
                                    # against the token loss: the model learns the choice it is scored on
    candidate_loss_tasks: list | None = None  # the tasks it applies to (None: every trained ranking task)
    # ---- image generation (paper §2.3, eq. 9) -------------------------------------------------------
    image_generation: bool = False  # add VQ image tokens to the vocabulary and train the image task
    vq_path: str | None = None      # a saved models/vq tokenizer folder or a taming VQGAN .ckpt; None =
                                    # train one on the dataset's catalogue images (cached, see image_gen)
    vq_args: dict = field(default_factory=dict)  # models.vq.VQConfig overrides when training one here
    vq_steps: int = 1500            # training steps of that tokenizer
    n_retrieved: int = 2            # items the first stage (search) retrieves (paper: 2)
    image_history: bool = True      # False: image prompts without history ("generation without history")
    retrieved_codes: bool = True    # retrieved items also carry their image's VQ codes in the prompt
    image_temperature: float = 0.0  # 0 = greedy image tokens; > 0 = sampling at this temperature
    image_top_k: int = 0            # sampling among the k most likely image tokens (0 = all)
    # ---- training -------------------------------------------------------------------------------
    lr: float = 1e-3                # AdamW learning rate (paper: 2e-4)
    weight_decay: float = 0.01      # AdamW weight decay
    warmup: float = 0.01            # warm-up fraction of the steps (paper: 1%)
    ema_decay: float = 0.0          # > 0: validate, select and keep an exponential moving average of the
                                    # trainable weights (decay per step, e.g. 0.999; not in the paper); 0 = off
    epochs: float = 1.0             # passes over the (capped) training instances (paper: 10)
    batch_size: int = 16            # training prompts per optimizer step
    length_parts: int = 3           # each step's prompts run as up to this many batches of similar length,
                                    # gradients summed: the same step with fewer padding tokens (1 = one batch)
    max_train_per_task: int | None = None  # cap on training instances per task (None = all)
    max_steps: int | None = None    # hard cap on optimizer steps
    time_budget_s: float | None = None  # stop training after this many seconds
    task_weights: dict = field(default_factory=lambda: {"recommendation": 2.0})  # loss weight per task
    train_tasks: list | None = None  # train on (and answer) only these tasks; None = every text task,
                                    # plus image when image_generation (single-task studies)
    select_on: str = "hr@5"         # "hr@5" (valid recommendation) | "loss" (valid loss)
    n_valid: int | None = 256       # validation instances used for model selection (None = all)
    eval_every: int | None = None   # steps between validations (None = once per epoch)
    new_domain_steps: int = 200     # fine-tuning budget (optimizer steps) in the new_domain regime
    eval_batch_size: int = 32       # prompts per batch at inference and validation
    selection: str = "generate"     # "generate" (paper: decode selection tokens) | "threshold" (the
                                    # evaluator thresholds the candidate scores, threshold from valid)
    rating_output: str = "auto"     # "token" (paper: the decoded rating token) | "expectation" | "median" |
                                    # "auto": the one of the three with the lowest MAE on the regime's
                                    # validation rating instances (never test)
    torch_threads: int | None = None  # torch.set_num_threads (1 is much faster on a shared, loaded CPU)
    seed: int = 0                   # seed of initialisation and data order (default: the run's --seed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def encoder_settings(self) -> ImageEncoderSettings:
        """The shared image encoder's settings (image_features "shared"), the baselines' same keys."""
        return ImageEncoderSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ImageEncoderSettings)})

    def validate(self) -> "UniMPConfig":
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.image_features not in IMAGE_FEATURES:
            raise ValueError(f"image_features must be one of {IMAGE_FEATURES}, got {self.image_features!r}")
        if self.image_encoder not in ENCODERS:
            raise ValueError(f"image_encoder must be one of {ENCODERS}, got {self.image_encoder!r}")
        if self.selection not in ("generate", "threshold"):
            raise ValueError(f"selection must be 'generate' or 'threshold', got {self.selection!r}")
        if self.rating_output not in ("auto", "token", "expectation", "median"):
            raise ValueError(f"rating_output must be auto, token, expectation or median, got {self.rating_output!r}")
        if self.length_parts < 1:
            raise ValueError(f"length_parts must be >= 1, got {self.length_parts}")
        if self.loss_norm not in ("token", "example"):
            raise ValueError(f"loss_norm must be 'token' or 'example', got {self.loss_norm!r}")
        if self.context_norm not in ("token", "instance"):
            raise ValueError(f"context_norm must be 'token' or 'instance', got {self.context_norm!r}")
        if self.image_temperature < 0 or self.image_top_k < 0 or self.n_retrieved < 0:
            raise ValueError("image_temperature, image_top_k and n_retrieved must be >= 0")
        if self.train_tasks is not None:
            known = TEXT_TASKS + (IMAGE_TASK,)
            bad = [t for t in self.train_tasks if t not in known]
            if bad or not self.train_tasks:
                raise ValueError(f"train_tasks must be a non-empty list of {known}, got {self.train_tasks!r}")
            if IMAGE_TASK in self.train_tasks and not self.image_generation:
                raise ValueError("train_tasks has 'image' but image_generation is off")
            if "recommendation" not in self.train_tasks and (self.select_on == "hr@5" or self.strategy in ("multitask+full", "multitask+last")):
                raise ValueError("train_tasks without 'recommendation' needs select_on 'loss' and a strategy "
                                 "without a recommendation fine-tune ('multitask' or 'continual')")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.transition_loss < 0:
            raise ValueError("transition_loss must be >= 0")
        if self.candidate_loss < 0:
            raise ValueError("candidate_loss must be >= 0")
        if self.candidate_loss_tasks is not None and not set(self.candidate_loss_tasks) <= set(TEXT_TASKS):
            raise ValueError(f"candidate_loss_tasks must be a list of {TEXT_TASKS}, got {self.candidate_loss_tasks!r}")
        if self.n_valid is not None and self.n_valid < 1:
            raise ValueError("n_valid must be >= 1 or None (all validation instances)")
        if self.cross_attn_every < 1:
            raise ValueError("cross_attn_every must be >= 1")
        return self


def resolve_path(path: str | None) -> str | None:
    """"pkg:<name>" -> the installed package's folder (found without importing it), else `path`."""
    if path and path.startswith("pkg:"):
        spec = importlib.util.find_spec(path[4:])
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"package {path[4:]!r} is not installed (see docs/dependencies.md)")
        return list(spec.submodule_search_locations)[0]
    return path


# Architecture kwargs that an override merges into, key by key, instead of replacing: a partial dict
# replacing the preset's would silently build the library's default (GPT-NeoX: 20B parameters).
MERGED_FIELDS = ("lm_args", "vision_args", "vq_args")


def load_config(preset: str = "tiny", **overrides: Any) -> UniMPConfig:
    """A preset (presets/<name>.json, or a path to a JSON file) with `overrides` applied on top (the
    MERGED_FIELDS key by key); the preset's keys and types, then the merged values, are checked
    (benchmark.api.config_schema.ConfigError)."""
    path = Path(preset) if str(preset).endswith(".json") else PRESETS_DIR / f"{preset}.json"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.json"))
        raise FileNotFoundError(f"{path}: no such UniMP preset; known presets: {known}")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"UniMP preset {path}: not JSON: {e}") from e
    if isinstance(values, dict):
        values.pop("_comment", None)
    check(UniMPConfig, values, where=f"UniMP preset {path}")
    merged = {**values, **overrides}
    for key in MERGED_FIELDS:  # {"lm_args": {"hidden_dropout": 0.2}} changes one setting, keeps the preset's size
        if isinstance(values.get(key), dict) and isinstance(overrides.get(key), dict):
            merged[key] = {**values[key], **overrides[key]}
    return check(UniMPConfig, merged, where="UniMP config").validate()


@dataclass
class UniMPSettings(UniMPConfig):
    """A run's UniMP config: a preset, then any UniMPConfig field as an override (the defaults listed are
    UniMPConfig's own; the preset, `tiny` unless given, replaces most of them)."""

    preset: str = "tiny"            # presets/<name>.json (tiny, smollm, paper) or the path of a JSON preset
    checkpoint: str | None = None   # folder of a saved UniMP run (<run>/model/unimp) to load instead of training

    @staticmethod
    def presets() -> dict[str, str]:
        """name -> what it is (its "_comment"), for `unimp-bench models unimp`."""
        return {p.stem: json.loads(p.read_text()).get("_comment", "") for p in sorted(PRESETS_DIR.glob("*.json"))}

    @staticmethod
    def resolved(config: dict[str, Any]) -> dict[str, Any]:
        """Every value the model will run with: the preset's contents merged with the overrides (the demo's run
        id covers them, so a changed preset file gives a new id instead of reusing an old result)."""
        over = {k: v for k, v in config.items() if k not in ("preset", "checkpoint")}
        return dataclasses.asdict(load_config(config.get("preset", "tiny"), **over))

    @staticmethod
    def check_resolved(config: dict[str, Any]) -> None:
        """The preset merged with the overrides, checked as the model will build it."""
        over = {k: v for k, v in config.items() if k not in ("preset", "checkpoint")}
        try:
            load_config(config.get("preset", "tiny"), **over)
        except ConfigError:
            raise
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(f"model unimp: {e}") from e
