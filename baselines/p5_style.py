"""p5-style and vip5-style: a small T5 encoder-decoder trained from scratch on the benchmark's own prompts.

NOT the published P5 (Geng et al. 2022) or VIP5 (Geng et al. 2023): no pretrained T5 initialisation (none
can be fetched offline; `t5_path` loads a local checkpoint and its tokenizer when a user has one), our
prompts (the task instances' instructions), our small sizes. What is kept from them: one seq2seq model for
every task, items as whole tokens `<i{token}>` of the vocabulary, recommendation as generating the next
item's token (scored for every item at once by the first decoding step's logits, P5's whole-item-token
reading), rating as generating a digit, explanation as generating text. vip5-style adds VIP5's visual
prefix: the frozen image features (`benchmark.api.image_features`) of the request's items (last history
items, and the asked item), each mapped by a trained linear layer to one prefix token of the encoder input.

Training: the regime's `train` task instances of recommendation, rating and explanation, shuffled together
(an "epoch" is `examples_per_epoch` of them, a fresh sample each time, when set); after each epoch, MRR@10
of the recommendation `valid` instances; the best epoch's weights are kept and training stops after `stopping_step` epochs without a gain (or at `epochs`).
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from baselines import p5_settings as ps
from benchmark.api import REGIMES, Model, compat, regime_of
from benchmark.api.image_features import item_image_features
from benchmark.metrics.ranking import ranking_metrics_from_ranks, target_ranks

log = logging.getLogger(__name__)

TRAIN_TASKS = ("recommendation", "rating", "explanation")
RANK_TASKS = ("recommendation", "search", "selection")
SPECIALS = ["<pad>", "</s>", "<unk>"]
PROMPT_WORDS = ["history", "item"]  # written by `_prompt` itself, not by the instructions
WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def _words(text: str) -> list[str]:
    return WORD.findall(str(text).lower())


def _split_of(request_id: str) -> str:
    return str(request_id).split("/")[1]


class P5StyleModel(Model):
    name = "p5-style"
    Settings = ps.P5Settings
    visual = False

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir=None):
        super().__init__(config, seed, run_dir)
        self._nets: dict[str, Any] = {}
        self._info: dict[str, dict] = {}

    def supports(self, task: str, split: str) -> bool:
        return task in RANK_TASKS + ("rating", "explanation")

    # ---- vocabulary ---------------------------------------------------------------------------------
    def _tokenizer(self, data, train: dict[str, pd.DataFrame]):
        """A word-level tokenizer over the training prompts and explanations (or the checkpoint's own),
        plus one token per catalogue item and the five rating digits."""
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors  # heavy: tokenizers
        from transformers import AutoTokenizer, PreTrainedTokenizerFast  # heavy: transformers

        items = [f"<i{int(t)}>" for t in data.items.index]
        if self.settings.t5_path:
            tok = AutoTokenizer.from_pretrained(self.settings.t5_path)
        else:
            counts = Counter()
            for df in train.values():
                for text in df["instruction"]:
                    counts.update(_words(text))
            for text in train["explanation"]["target_text"]:
                counts.update(_words(text))
            words = [w for w, c in counts.most_common(self.settings.max_vocab) if c >= 2 and w not in PROMPT_WORDS]
            vocab = {w: i for i, w in enumerate(SPECIALS + PROMPT_WORDS + words)}
            core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
            # whitespace is dropped first: an isolating split alone keeps each space as a piece (an <unk>)
            core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                          pre_tokenizers.Split(Regex(WORD.pattern), behavior="isolated")])
            # every sequence ends with </s>, as T5's own tokenizer does: generated explanations can stop
            core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
            tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>",
                                          unk_token="<unk>")
            tok.backend_tokenizer.normalizer = None
        tok.add_tokens(items + [f"<r{r}>" for r in range(1, 6)], special_tokens=True)
        return tok

    def _prompt(self, row) -> str:
        hist = list(row.history)[-self.settings.max_history:] if row.history is not None else []
        text = str(row.instruction).lower() + " history " + " ".join(f"<i{int(h)}>" for h in hist)
        item = getattr(row, "item", None)
        if item is not None and not (isinstance(item, float) and np.isnan(item)):
            text += f" item <i{int(item)}>"
        return text

    def _visual_items(self, row) -> list[int]:
        hist = list(row.history)[-self.settings.visual_items:] if row.history is not None else []
        item = getattr(row, "item", None)
        if item is not None and not (isinstance(item, float) and np.isnan(item)):
            hist = hist[1:] + [int(item)] if len(hist) >= self.settings.visual_items else hist + [int(item)]
        return [int(h) for h in hist]

    # ---- the network -------------------------------------------------------------------------------
    def _build(self, tok, feat_dim: int):
        import torch  # heavy: torch
        from transformers import T5Config, T5ForConditionalGeneration  # heavy: transformers

        s = self.settings
        if s.t5_path:
            t5 = T5ForConditionalGeneration.from_pretrained(s.t5_path)
        else:
            torch.manual_seed(self.seed)
            t5 = T5ForConditionalGeneration(T5Config(
                vocab_size=len(tok), d_model=s.d_model, d_kv=s.d_model // s.num_heads, d_ff=s.d_ff,
                num_layers=s.num_layers, num_decoder_layers=s.num_layers, num_heads=s.num_heads,
                dropout_rate=s.dropout, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                decoder_start_token_id=tok.pad_token_id))
        t5.resize_token_embeddings(len(tok))
        net = torch.nn.ModuleDict({"t5": t5})
        if self.visual:
            net["visual"] = torch.nn.Linear(feat_dim, t5.config.d_model)
        return net

    def _encode(self, net, tok, rows: pd.DataFrame):
        """(inputs_embeds, attention_mask) for a batch of instances; vip5-style prepends visual tokens."""
        import torch  # heavy: torch

        enc = tok([self._prompt(r) for r in rows.itertuples()], padding=True, truncation=True,
                  max_length=self.settings.max_input, return_tensors="pt")
        emb = net["t5"].get_input_embeddings()(enc["input_ids"])
        mask = enc["attention_mask"]
        if self.visual:
            n = self.settings.visual_items
            idx = np.zeros((len(rows), n), dtype=np.int64)
            has = np.zeros((len(rows), n), dtype=np.int64)
            for b, r in enumerate(rows.itertuples()):
                items = self._visual_items(r)
                idx[b, :len(items)] = items
                has[b, :len(items)] = self._has_image[items]
            vis = net["visual"](torch.from_numpy(self._features[idx]))
            emb = torch.cat([vis, emb], dim=1)
            mask = torch.cat([torch.from_numpy(has), mask], dim=1)
        return emb, mask

    def _targets(self, task: str, rows: pd.DataFrame) -> list[str]:
        if task == "recommendation":
            return [f"<i{int(t)}>" for t in rows["target_item"]]
        if task == "rating":
            return [f"<r{int(np.clip(round(float(t)), 1, 5))}>" for t in rows["target_rating"]]
        return [" ".join(_words(t)[: self.settings.max_output]) for t in rows["target_text"]]

    # ---- training ----------------------------------------------------------------------------------
    def fit(self, data, regime: str) -> None:
        compat.apply()  # before transformers imports torchvision
        import torch  # heavy: torch

        s = self.settings
        torch.set_num_threads(s.threads or torch.get_num_threads())
        t0 = time.perf_counter()
        r = REGIMES[regime]
        train = {t: data.instances(t, r.train) for t in TRAIN_TASKS}
        valid = data.instances("recommendation", r.valid)
        if self.visual:
            self._features, has = item_image_features(data, s)
            self._has_image = has.astype(np.int64)
        tok = self._tokenizer(data, train)
        net = self._build(tok, self._features.shape[1] if self.visual else 0)
        self._tok = tok
        self._item_ids = np.array(tok.convert_tokens_to_ids([f"<i{int(t)}>" for t in data.items.index]))
        self._rating_ids = np.array(tok.convert_tokens_to_ids([f"<r{k}>" for k in range(1, 6)]))
        examples = [(t, i) for t in TRAIN_TASKS for i in range(len(train[t]))]
        opt = torch.optim.AdamW(net.parameters(), lr=s.learning_rate, weight_decay=0.01)
        rng = np.random.default_rng(self.seed)
        best, best_state, waited, epoch, best_epoch = -1.0, None, 0, 0, 0
        while epoch < s.epochs and waited < s.stopping_step:
            net.train()
            order = rng.permutation(len(examples))[: s.examples_per_epoch or len(examples)]
            for start in range(0, len(order), s.batch_size):
                batch = [examples[j] for j in order[start:start + s.batch_size]]
                loss = 0.0
                for task in TRAIN_TASKS:
                    ids = [i for t, i in batch if t == task]
                    if not ids:
                        continue
                    rows = train[task].iloc[ids]
                    emb, mask = self._encode(net, tok, rows)
                    labels = tok(self._targets(task, rows), padding=True, truncation=True,
                                 max_length=s.max_output + 1, return_tensors="pt")["input_ids"]
                    labels[labels == tok.pad_token_id] = -100
                    loss = loss + net["t5"](inputs_embeds=emb, attention_mask=mask, labels=labels).loss * len(ids)
                opt.zero_grad()
                (loss / len(batch)).backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            epoch += 1
            self._nets[regime] = net
            mrr = self._valid_mrr(net, valid, data)
            log.info("%s/%s: epoch %d valid MRR@10 %.4f (%.0f s)", self.name, regime, epoch, mrr, time.perf_counter() - t0)
            if mrr > best:
                best, waited, best_epoch = mrr, 0, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
        net.load_state_dict(best_state)
        net.eval()
        self._nets[regime] = net
        self._info[regime] = {"epochs_at_best": best_epoch, "epochs_run": epoch, "best_valid_mrr10": best,
                              "vocab": len(tok), "train_time_s": round(time.perf_counter() - t0, 2)}

    def _valid_mrr(self, net, valid: pd.DataFrame, data) -> float:
        if len(valid) == 0:
            return 0.0
        scores = self._item_scores(net, valid)
        catalogue = data.catalogue_mask(_split_of(valid["id"].iloc[0]))
        # ties count against the target, as in the evaluator's ranks
        history = [h if h is not None else [] for h in valid["history"]]
        ranks = target_ranks(scores, valid["target_item"].to_numpy(dtype=np.int64), history, catalogue)
        return float(ranking_metrics_from_ranks(ranks)["mrr@10"].mean())

    # ---- verbs -------------------------------------------------------------------------------------
    def _net_for(self, requests: pd.DataFrame):
        regime = regime_of(_split_of(requests["id"].iloc[0])).name
        if regime not in self._nets:
            raise RuntimeError(f"{self.name}: fit(data, {regime!r}) was not called")
        return self._nets[regime]

    def _first_step_logits(self, net, rows: pd.DataFrame) -> np.ndarray:
        import torch  # heavy: torch

        out = []
        net.eval()
        with torch.no_grad():
            for start in range(0, len(rows), 256):
                part = rows.iloc[start:start + 256]
                emb, mask = self._encode(net, self._tok, part)
                start_ids = torch.full((len(part), 1), net["t5"].config.decoder_start_token_id)
                logits = net["t5"](inputs_embeds=emb, attention_mask=mask, decoder_input_ids=start_ids).logits
                out.append(torch.log_softmax(logits[:, 0].float(), dim=-1).numpy())
        return np.concatenate(out)

    def _item_scores(self, net, rows: pd.DataFrame) -> np.ndarray:
        return self._first_step_logits(net, rows)[:, self._item_ids].astype(np.float32)

    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        if len(requests) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        scores = self._item_scores(self._net_for(requests), requests)
        if task == "selection":
            return np.stack([scores[b, np.asarray(c, dtype=np.int64)]
                             for b, c in enumerate(requests["candidates"])]).astype(np.float32)
        return scores

    def predict_rating(self, requests: pd.DataFrame) -> list:
        if len(requests) == 0:
            return []
        logits = self._first_step_logits(self._net_for(requests), requests)[:, self._rating_ids]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return [float(v) for v in p @ np.arange(1, 6)]  # the expected rating under the digit distribution

    def generate_text(self, requests: pd.DataFrame) -> list[str]:
        import torch  # heavy: torch

        if len(requests) == 0:
            return []
        net = self._net_for(requests)
        out = []
        with torch.no_grad():
            for start in range(0, len(requests), 128):
                part = requests.iloc[start:start + 128]
                emb, mask = self._encode(net, self._tok, part)
                ids = net["t5"].generate(inputs_embeds=emb, attention_mask=mask, max_new_tokens=self.settings.max_output,
                                         num_beams=1, do_sample=False)
                out += [t.strip() for t in self._tok.batch_decode(ids, skip_special_tokens=True)]
        return out

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["training"] = self._info
        out["not_the_published_model"] = ("trained from scratch on this benchmark's prompts; no pretrained T5"
                                          if not self.settings.t5_path else "initialised from t5_path")
        return out


class VIP5StyleModel(P5StyleModel):
    name = "vip5-style"
    Settings = ps.VIP5Settings
    visual = True

    def set_inference_data(self, data) -> None:
        """Under --perturb NV the images differ: their features are read again (cached by their sha256)."""
        super().set_inference_data(data)
        features, has = item_image_features(data, self.settings)
        self._features, self._has_image = features, has.astype(np.int64)
