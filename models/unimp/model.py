"""The UniMP module: open_clip vision tower -> perceiver resampler -> a Hugging Face causal LM whose
every n-th decoder layer is preceded by a gated, exclusively masked cross-attention block.
With config.image_features "shared" there is no tower: the frozen features every image-aware baseline
reads (benchmark.api.image_features), through a trainable linear layer, feed the resampler.

Fusion ablations (config.fusion): "fine" (the paper), "early" (each image's projected visual tokens added to
its [IMG] token's input embedding), "late" (the mean of the images seen so far added, gated, to each final
hidden state), "none". Every fusion is causal in the images: a token never sees an image after it.
The model computes hidden states; logits are taken only where needed (`head`), so ranking the whole
catalogue is one matrix product at the answer position.
"""
from __future__ import annotations

import torch
from torch import nn

from benchmark.api import compat

from .config import UniMPConfig, resolve_path
from .cross_attention import GatedCrossAttentionBlock, image_mask
from .lm_wrapper import get_layers, wrap_decoder_layers
from .perceiver import PerceiverResampler
from .vision import VisionEncoder
from .vocab import Vocab


def build_lm(cfg: UniMPConfig, vocab_size: int) -> nn.Module:
    """The causal LM: from scratch (GPT-NeoX / Llama) or pretrained from a local path, resized."""
    compat.apply()  # transformers imports torchvision
    from transformers import (  # heavy: transformers
        AutoModelForCausalLM,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
    )

    if cfg.lm == "gpt_neox":
        return GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=vocab_size, **cfg.lm_args))
    if cfg.lm == "llama":
        return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **cfg.lm_args))
    if cfg.lm == "pretrained":
        if not cfg.lm_path:
            raise ValueError("lm='pretrained' needs lm_path (a local folder)")
        kw = {"gguf_file": cfg.lm_gguf_file} if cfg.lm_gguf_file else {}
        lm = AutoModelForCausalLM.from_pretrained(resolve_path(cfg.lm_path), dtype=torch.float32, **kw)
        lm.resize_token_embeddings(vocab_size)
        return lm
    raise ValueError(f"unknown lm {cfg.lm!r}")


class ItemRows(nn.Module):
    """An embedding table (or output layer) whose item-id rows are a Parameter of their own, `items`,
    which an input table and an output layer can share (config.tie_item_ids). `weight` is the whole
    (V, D) table: the rows before the items, the items, the rows after them."""

    def __init__(self, weight: torch.Tensor, start: int, items: nn.Parameter, bias: torch.Tensor | None = None,
                 output: bool = False):
        super().__init__()
        n = items.shape[0]
        self.before = nn.Parameter(weight[:start].detach().clone())
        self.items = items
        self.after = nn.Parameter(weight[start + n:].detach().clone())
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None
        self.output = output

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([self.before, self.items, self.after])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.output:   # hidden states (..., D) -> logits (..., V)
            return nn.functional.linear(x, self.weight, self.bias)
        return nn.functional.embedding(x, self.weight)   # ids -> embeddings


def tie_item_rows(lm: nn.Module, item_offset: int, n_items: int) -> nn.Parameter:
    """Make the LM's input and output item-id rows one Parameter (initialised from the input rows)."""
    emb, head = lm.get_input_embeddings(), lm.get_output_embeddings()
    items = nn.Parameter(emb.weight[item_offset:item_offset + n_items].detach().clone())
    lm.set_input_embeddings(ItemRows(emb.weight, item_offset, items))
    lm.set_output_embeddings(ItemRows(head.weight, item_offset, items, getattr(head, "bias", None), output=True))
    lm.config.tie_word_embeddings = False  # only the item rows are shared; HF must not re-tie the rest
    return items


class UniMP(nn.Module):
    def __init__(self, cfg: UniMPConfig, lm: nn.Module, vocab: Vocab, vision: VisionEncoder | None = None,
                 shared_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.lm = lm
        self.img_id, self.eoc_id = vocab["[IMG]"], vocab["[EOC]"]
        self.item_offset, self.n_items = vocab.item_offset, vocab.n_items
        d = lm.config.hidden_size
        if cfg.tie_item_ids:
            tie_item_rows(lm, self.item_offset, self.n_items)
        # a per-item logit bias (config.item_bias; its start value is set from the data, item_init)
        self.item_bias = nn.Parameter(torch.zeros(self.n_items)) if cfg.item_bias else None
        self.uses_vision = cfg.fusion != "none"
        self.state = None
        if self.uses_vision:
            self.vision = None  # stays None with shared features: no tower
            if cfg.image_features == "shared":
                if shared_dim is None:
                    raise ValueError("image_features 'shared' needs the width of the shared features")
                # The paper: frozen CLIP -> perceiver resampler. The shared encoder gives one pooled vector
                # per image (64-d judge body, or open_clip's image embedding), not patch tokens: it enters
                # the resampler as ONE token (a trainable linear layer of the features' own width, so the
                # judge's 64 matches the tiny tower's 64-wide tokens), and the latents attend to [that
                # token; latents]. Splitting the vector into several "tokens" would invent a structure
                # the features do not have.
                self.image_proj = nn.Linear(shared_dim, shared_dim)
                dv = shared_dim
            elif vision is None:
                raise ValueError(f"fusion={cfg.fusion!r} needs a vision encoder")
            else:
                self.vision = vision
                dv = vision.dim
            self.visual_dim = dv
            self.resampler = PerceiverResampler(dv, cfg.n_visual_tokens, cfg.perceiver_depth,
                                                cfg.perceiver_heads, cfg.perceiver_dim_head, cfg.ff_mult)
            if cfg.fusion == "fine":
                self.state, self.wrapped_layers = wrap_decoder_layers(
                    lm, cfg.layer_path, cfg.cross_attn_every,
                    lambda: GatedCrossAttentionBlock(d, dv, cfg.cross_attn_heads, cfg.cross_attn_dim_head, cfg.ff_mult))
            elif cfg.fusion == "early":
                self.early_proj = nn.Linear(dv, d)
            elif cfg.fusion == "late":
                self.late_proj = nn.Linear(dv, d)
                self.late_gate = nn.Parameter(torch.zeros(()))
        # the catalogue's images (not part of the state dict): pixels or frozen features + presence
        self._pixels: torch.Tensor | None = None     # (n_items, 3, S, S) uint8
        self._features: torch.Tensor | None = None   # (n_items, P, D) frozen encoder (shared: P = 1)
        self._has_image: torch.Tensor | None = None  # (n_items,) bool

    # ---- images ---------------------------------------------------------------------------------------
    def set_image_bank(self, has_image: torch.Tensor, pixels: torch.Tensor | None = None,
                       features: torch.Tensor | None = None) -> None:
        self._has_image, self._pixels, self._features = has_image, pixels, features

    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """images: (B, M) item tokens, -1 = padding -> visual tokens (B, M, L, Dv), present (B, M)."""
        if not self.uses_vision or images.shape[1] == 0:
            return None
        if self._has_image is None:
            raise RuntimeError("UniMP: call set_image_bank(...) before using a model with vision")
        B, M = images.shape
        valid = images >= 0
        present = valid & self._has_image.to(images.device)[images.clamp(min=0)]
        uniq, inverse = torch.unique(images[present], return_inverse=True)
        media = torch.zeros(B, M, self.cfg.n_visual_tokens, self.visual_dim, device=images.device)
        if len(uniq):
            if self.vision is None:                                                  # shared features
                feats = self.image_proj(self._features[uniq.cpu()].to(images.device).float())  # (U, 1, Dv)
            elif self._features is not None:
                feats = self._features[uniq.cpu()].to(images.device).float()          # (U, P, Dv)
            else:
                feats = self.vision(self._pixels[uniq.cpu()].to(images.device))     # (U, P, Dv)
            media[present] = self.resampler(feats)[inverse]                         # (U, L, Dv)
        return media, present

    # ---- forward -----------------------------------------------------------------------------------------
    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               media: tuple[torch.Tensor, torch.Tensor] | None = None, past_key_values=None,
               use_cache: bool = False, full_ids: torch.Tensor | None = None):
        """Final hidden states (B, T, D) of `input_ids` (B, T) and the cache.

        attention_mask: (B, T_past + T), 1 = real token; full_ids: (B, T_past + T) all ids so far
        (needed for the image mask when decoding with a cache; default = input_ids)."""
        full_ids = input_ids if full_ids is None else full_ids
        T = input_ids.shape[1]
        embeds = self.lm.get_input_embeddings()(input_ids)                               # (B, T, D)
        attn = attention_mask
        if media is not None and self.cfg.fusion == "early":
            # each image's visual tokens, averaged and projected, are added to its own [IMG] token's input
            # embedding: fused at the input, and causal (a token sees an image only after its [IMG])
            vis, present = media
            is_img = full_ids == self.img_id
            index = (is_img.long().cumsum(1) - 1)[:, -T:]                                  # (B, T)
            b_i, t_i = (is_img[:, -T:] & (index < vis.shape[1])).nonzero(as_tuple=True)
            m_i = index[b_i, t_i]
            keep = present[b_i, m_i]
            b_i, t_i, m_i = b_i[keep], t_i[keep], m_i[keep]
            embeds = embeds.index_put((b_i, t_i), self.early_proj(vis[b_i, m_i].mean(1)), accumulate=True)
        positions = (attn.long().cumsum(-1) - 1).clamp(min=0)[:, -embeds.shape[1]:]         # (B, T')
        if self.state is not None and media is not None:
            vis, present = media
            self.state.media = vis
            self.state.mask = image_mask(full_ids, self.img_id, self.eoc_id, present,
                                         self.cfg.exclusive_mask)[:, -T:]                 # (B, T, M)
        try:
            out = self.lm.base_model(inputs_embeds=embeds, attention_mask=attn, position_ids=positions,
                                     past_key_values=past_key_values, use_cache=use_cache)
        finally:
            if self.state is not None:
                self.state.clear()
        h = out.last_hidden_state                                                          # (B, T, D)
        if media is not None and self.cfg.fusion == "late":
            # each position adds the mean of the images whose [IMG] is at or before it (causal: a history
            # item's [EOC], whose hidden state predicts the next item, must not see that item's image)
            vis, present = media
            seen = image_mask(full_ids, self.img_id, self.eoc_id, present, exclusive=False)[:, -T:]  # (B, T, M)
            w = seen.to(vis.dtype)
            pooled = torch.einsum("btm,bmd->btd", w, vis.mean(2)) / w.sum(-1, keepdim=True).clamp(min=1)  # (B, T, Dv)
            h = h + self.late_gate.tanh() * self.late_proj(pooled)
        return h, out.past_key_values

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Logits over the whole vocabulary: (..., D) -> (..., V)."""
        logits = self.lm.get_output_embeddings()(h)
        if self.item_bias is None:
            return logits
        after = logits.shape[-1] - self.item_offset - self.n_items
        return logits + nn.functional.pad(self.item_bias, (self.item_offset, after))

    def item_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Logits restricted to the item tokens: (B, D) -> (B, n_items)."""
        head = self.lm.get_output_embeddings()
        w = head.items if isinstance(head, ItemRows) else head.weight[self.item_offset:self.item_offset + self.n_items]
        out = h @ w.T
        if head.bias is not None:
            out = out + head.bias[self.item_offset:self.item_offset + self.n_items]
        return out + self.item_bias if self.item_bias is not None else out

    def item_rows(self) -> list[torch.Tensor]:
        """The item-id rows of the input table and of the output layer (one tensor when tied)."""
        emb, head = self.lm.get_input_embeddings(), self.lm.get_output_embeddings()
        if isinstance(emb, ItemRows) and isinstance(head, ItemRows) and emb.items is head.items:
            return [emb.items]
        sl = slice(self.item_offset, self.item_offset + self.n_items)
        return [emb.weight[sl], head.weight[sl]]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Full-vocabulary logits (B, T, V) (used by tests; training uses `hidden` + `head`)."""
        h, _ = self.hidden(input_ids, attention_mask, self.encode_images(images))
        return self.head(h)

    # ---- what trains -------------------------------------------------------------------------------------
    def set_trainable(self, policy: str = "all") -> None:
        """"all"; "paper" (LM body frozen, its input/output embeddings + cross-attention + resampler
        train; vision frozen if cfg.freeze_vision); "last" (last decoder layer + head only)."""
        for p in self.parameters():
            p.requires_grad_(policy == "all")
        if policy == "all":
            if self.uses_vision and self.vision is not None and self.cfg.freeze_vision:
                self.vision.requires_grad_(False)
            return
        if policy == "paper":
            for name, p in self.named_parameters():
                if not name.startswith(("lm.", "vision.")) or ".xattn." in name:
                    p.requires_grad_(True)
            self.lm.get_input_embeddings().requires_grad_(True)
            self.lm.get_output_embeddings().requires_grad_(True)
            if self.uses_vision and self.vision is not None and not self.cfg.freeze_vision:
                self.vision.requires_grad_(True)
        elif policy == "last":
            get_layers(self.lm, self.cfg.layer_path)[-1].requires_grad_(True)
            self.lm.get_output_embeddings().requires_grad_(True)
            if self.item_bias is not None:   # part of the output layer
                self.item_bias.requires_grad_(True)
        else:
            raise ValueError(f"unknown trainable policy {policy!r}")


def build_model(cfg: UniMPConfig, vocab: Vocab, shared_dim: int | None = None) -> UniMP:
    """Deterministic given cfg.seed. shared_dim: the width of the shared image features (image_features
    "shared"; no vision tower is built then)."""
    torch.manual_seed(cfg.seed)
    lm = build_lm(cfg, len(vocab))
    vision = VisionEncoder(cfg) if cfg.fusion != "none" and cfg.image_features == "tower" else None
    return UniMP(cfg, lm, vocab, vision, shared_dim)
