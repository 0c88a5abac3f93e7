"""Insert gated cross-attention into any Hugging Face causal LM, by composition.

The decoder layers are found by an explicit attribute path ("gpt_neox.layers", "model.layers"), never
by class name; every n-th layer is replaced in its ModuleList by a `CrossAttentionLayer` that holds
the original layer and calls it after the gated block. The visual tokens and the image mask of the
current forward pass are handed over through one shared `MediaState` (set by the model, cleared after).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .cross_attention import GatedCrossAttentionBlock


@dataclass
class MediaState:
    """What the cross-attention layers see during one forward pass (None = no vision)."""

    media: torch.Tensor | None = None   # (B, M, L, Dv) visual tokens
    mask: torch.Tensor | None = None    # (B, T, M) bool, rows for the tokens of this forward pass

    def clear(self) -> None:
        self.media = self.mask = None


class CrossAttentionLayer(nn.Module):
    """A decoder layer preceded by a gated cross-attention block; otherwise behaves as the layer."""

    def __init__(self, block: GatedCrossAttentionBlock, decoder_layer: nn.Module, state: MediaState):
        super().__init__()
        self.xattn = block
        self.decoder_layer = decoder_layer
        self.state = state  # shared, plain object (not a submodule)

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        s = self.state
        if s.media is not None and s.mask is not None:
            hidden_states = self.xattn(hidden_states, s.media, s.mask)
        return self.decoder_layer(hidden_states, *args, **kwargs)

    def __getattr__(self, name: str):
        # attributes the LM's forward reads from its layers (e.g. `attention_type`) come from the layer
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("decoder_layer"), name)


def get_layers(lm: nn.Module, layer_path: str) -> nn.ModuleList:
    """The decoder layers at `layer_path` (e.g. "model.layers"); a clear error if the path is wrong."""
    try:
        layers = lm.get_submodule(layer_path)
    except AttributeError as e:
        raise ValueError(f"layer_path {layer_path!r} not found in {type(lm).__name__}: {e}") from None
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"layer_path {layer_path!r} is a {type(layers).__name__}, not a ModuleList")
    return layers


def wrap_decoder_layers(lm: nn.Module, layer_path: str, every: int,
                        make_block: Callable[[], GatedCrossAttentionBlock]) -> tuple[MediaState, list[int]]:
    """Wrap layers i with (i + 1) % every == 0 (every 2nd: layers 1, 3, ...). Returns the shared
    state and the wrapped layer indices."""
    layers = get_layers(lm, layer_path)
    state = MediaState()
    wrapped = []
    for i in range(len(layers)):
        if (i + 1) % every == 0:
            if isinstance(layers[i], CrossAttentionLayer):
                raise ValueError(f"layer {i} of {layer_path} is already wrapped")
            layers[i] = CrossAttentionLayer(make_block(), layers[i], state)
            wrapped.append(i)
    if not wrapped:
        raise ValueError(f"no layer wrapped: {len(layers)} layers, cross_attn_every={every}")
    return state, wrapped
