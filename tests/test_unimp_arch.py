"""UniMP architecture: the exclusive mask on a hand-written sequence, gates at zero leave the wrapped
LM's logits unchanged (GPT-NeoX and Llama), focal loss, the ablation switches change behaviour."""
from __future__ import annotations

import copy

import pytest
import torch

from models.unimp.config import UniMPConfig
from models.unimp.cross_attention import image_mask, media_index
from models.unimp.losses import focal_loss
from models.unimp.model import UniMP, build_model
from models.unimp.vocab import Vocab, train_bpe

I, E = 101, 102  # [IMG], [EOC] ids of the hand example

NEOX = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=128)
LLAMA = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=64, max_position_embeddings=128)
VISION = dict(width=32, layers=1, head_width=16, patch_size=8, embed_dim=32)


def small_cfg(**kw) -> UniMPConfig:
    base = dict(lm="gpt_neox", lm_args=NEOX, layer_path="gpt_neox.layers", vision_args=VISION, image_size=16,
                n_visual_tokens=2, perceiver_heads=2, perceiver_dim_head=8, cross_attn_heads=2,
                cross_attn_dim_head=8, cross_attn_every=2)
    base.update(kw)
    return UniMPConfig(**base).validate()


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    tok = train_bpe(["title red shoe brand acme price 12", "can you recommend the next item"] * 5, 300)
    return Vocab(tok, n_items=6)


def sample(vocab: Vocab, seed: int = 0):
    """Two prompts, 2 and 1 images (one slot padded), right-padded."""
    v = vocab
    a = [v["[CLS]"], v["[IMG]"], 5, 6, v.item(0), v["[EOC]"], v["[IMG]"], 7, v.item(3), v["[EOC]"], 8, 9, v["[ANS]"]]
    b = [v["[CLS]"], v["[IMG]"], 10, v.item(1), v["[EOC]"], 11, 12, v["[ANS]"], v["[PAD]"], v["[PAD]"],
         v["[PAD]"], v["[PAD]"], v["[PAD]"]]
    ids = torch.tensor([a, b])
    mask = torch.tensor([[1] * 13, [1] * 8 + [0] * 5])
    images = torch.tensor([[0, 3], [1, -1]])
    return ids, mask, images


def with_bank(model: UniMP, n_items: int = 6, seed: int = 0) -> UniMP:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n_items, 3, 16, 16), generator=g, dtype=torch.uint8)
    has = torch.ones(n_items, dtype=torch.bool)
    has[3] = False
    model.set_image_bank(has, pixels=pixels)
    return model


def test_media_index_hand_example():
    #          CLS  IMG  t   t   EOC  IMG  t   EOC  q   IMG  t   EOC  ans  x
    ids = torch.tensor([[1, I, 5, 6, E, I, 7, E, 8, I, 9, E, 3, 4]])
    want = [-1, 0, 0, 0, 0, 1, 1, 1, -1, 2, 2, 2, -1, -1]
    assert media_index(ids, I, E).tolist() == [want]
    present = torch.tensor([[True, False, True]])
    m = image_mask(ids, I, E, present, exclusive=True)
    assert m[0, 2].tolist() == [True, False, False]
    assert m[0, 6].tolist() == [False, False, False]       # item 1 has no image: masked out
    assert not m[0, 12].any()                              # answer: outside any item
    m = image_mask(ids, I, E, present, exclusive=False)   # ablation: all preceding images
    assert m[0, 12].tolist() == [True, False, True]
    assert m[0, 2].tolist() == [True, False, False]
    assert m[0, 0].tolist() == [False, False, False]


@pytest.mark.parametrize("lm,args,path", [("gpt_neox", NEOX, "gpt_neox.layers"), ("llama", LLAMA, "model.layers")])
def test_gates_at_zero_equal_original_lm(vocab, lm, args, path):
    cfg = small_cfg(lm=lm, lm_args=args, layer_path=path)
    model = with_bank(build_model(cfg, vocab)).eval()
    ids, mask, images = sample(vocab)
    torch.manual_seed(0)
    original = copy.deepcopy(model.lm)
    assert len(model.wrapped_layers) == 1 and model.wrapped_layers == [1]
    # the unwrapped LM: replace the wrapper by its inner layer
    layers = original.get_submodule(path)
    layers[1] = layers[1].decoder_layer
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        want = original(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        got = model(ids, mask, images)
        assert torch.allclose(got[mask.bool()], want[mask.bool()], atol=1e-5)
        # opening a gate changes the output of tokens inside items only
        block = model.lm.get_submodule(path)[1].xattn
        block.attn_gate.fill_(1.0)
        opened = model(ids, mask, images)
    diff = (opened - got).abs().amax(-1)
    assert diff[0, 2] > 1e-4                                # a token of item 0 (has an image)
    assert diff[0, 1] > 1e-4
    assert torch.allclose(opened[0, :1], got[0, :1], atol=1e-5)  # [CLS]: no image, unchanged


def test_focal_loss():
    torch.manual_seed(0)
    logits, labels = torch.randn(7, 11), torch.randint(0, 11, (7,))
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(focal_loss(logits, labels, gamma=0.0), ce)
    # hand value: p = 0.5 for the label -> (1 - .5)^2 * ln 2
    two = torch.tensor([[0.0, 0.0]])
    assert abs(focal_loss(two, torch.tensor([0]), gamma=2.0).item() - 0.25 * 0.6931472) < 1e-6
    w = torch.tensor([1.0, 0, 0, 0, 0, 0, 0])
    assert torch.allclose(focal_loss(logits, labels, w, gamma=0.0),
                          torch.nn.functional.cross_entropy(logits[:1], labels[:1]))


@pytest.mark.parametrize("fusion", ["fine", "early", "late"])
def test_fusions_use_the_image(vocab, fusion):
    """Each fusion's output depends on the pixels; "none" has no vision at all."""
    model = with_bank(build_model(small_cfg(fusion=fusion), vocab)).eval()
    for name, p in model.named_parameters():
        if name.endswith("_gate"):
            p.data.fill_(0.5)
    ids, mask, images = sample(vocab)
    with torch.no_grad():
        a = model(ids, mask, images)
        with_bank(model, seed=1)
        b = model(ids, mask, images)
    assert (a - b).abs().max() > 1e-5
    assert a.shape == (2, 13, len(vocab))
    none = build_model(small_cfg(fusion="none"), vocab)
    assert not hasattr(none, "vision") and none(ids, mask, images).shape == a.shape


def test_exclusive_switch_changes_output(vocab):
    outs = []
    for exclusive in (True, False):
        model = with_bank(build_model(small_cfg(exclusive_mask=exclusive), vocab)).eval()
        for name, p in model.named_parameters():
            if name.endswith("_gate"):
                p.data.fill_(0.5)
        ids, mask, images = sample(vocab)
        with torch.no_grad():
            outs.append(model(ids, mask, images))
    assert torch.allclose(outs[0][0, :6], outs[1][0, :6], atol=1e-5)   # first item: same images seen
    assert (outs[0][0, 10:] - outs[1][0, 10:]).abs().max() > 1e-5       # instruction: differs


@pytest.mark.parametrize("fusion", ["fine", "early", "late"])
def test_fusion_is_causal_in_the_images(vocab, fusion):
    """A position never sees an image whose [IMG] comes after it: a history item's [EOC] predicts the next
    item (transition loss), so the next item's image must not reach it. Changing the second image's pixels
    leaves every position before its [IMG] (index 6) unchanged and changes the ones after."""
    model = with_bank(build_model(small_cfg(fusion=fusion, exclusive_mask=False), vocab)).eval()
    for name, p in model.named_parameters():
        if name.endswith("_gate"):
            p.data.fill_(0.5)
    ids, mask, _ = sample(vocab)
    images = torch.tensor([[0, 2], [1, -1]])            # item 2 has an image (item 3 has none)
    with torch.no_grad():
        a = model(ids, mask, images)
        model._pixels = model._pixels.clone()
        model._pixels[2] = 255 - model._pixels[2]
        b = model(ids, mask, images)
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-6)
    assert (a[0, 6:] - b[0, 6:]).abs().max() > 1e-5
    assert torch.allclose(a[1], b[1], atol=1e-6)         # the other prompt never shows item 2


@pytest.mark.parametrize("fusion,static_cache", [("fine", True), ("late", True), ("early", True), ("fine", False)])
def test_cached_greedy_decoding_equals_recomputing_the_whole_sequence(vocab, fusion, static_cache):
    """`decode.greedy` (left-padded batch, KV cache preallocated or grown, images) emits, for each prompt, the tokens a
    decoder that re-reads the whole sequence alone at every step emits."""
    from types import SimpleNamespace

    from models.unimp.decode import greedy
    from models.unimp.prompts import Encoded

    torch.manual_seed(0)
    model = with_bank(build_model(small_cfg(fusion=fusion), vocab)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gate"):
                p.fill_(0.7)   # fusion on (gates start at 0)
    v = vocab
    prompts = [([v["[CLS]"], v["[IMG]"], 5, 6, v.item(0), v["[EOC]"], v["[IMG]"], 7, v.item(3), v["[EOC]"], 8, v["[ANS]"]], [0, 3]),
               ([v["[CLS]"], v["[IMG]"], 10, v.item(1), v["[EOC]"], v["[ANS]"]], [1]),
               ([v["[CLS]"], 11, 12, 13, v["[ANS]"]], [])]
    encs = [Encoded("explanation", ids, [0.0] * len(ids), imgs, len(ids) - 1) for ids, imgs in prompts]
    allowed = list(range(v.n_base))   # no [EOS]: every prompt decodes max_new tokens
    got = greedy(model, SimpleNamespace(vocab=v), encs, lambda step, g: allowed, max_new=6, batch_size=3,
                 static_cache=static_cache)

    def alone(ids: list[int], imgs: list[int]) -> list[int]:
        out = []
        for _ in range(6):
            x = torch.tensor([ids + out])
            images = torch.tensor([imgs], dtype=torch.long) if imgs else torch.zeros(1, 0, dtype=torch.long)
            with torch.no_grad():
                logits = model(x, torch.ones_like(x), images)[0, -1]
            out.append(int(logits[allowed].argmax()))
        return out

    assert got == [alone(ids, imgs) for ids, imgs in prompts]
    assert len({tuple(g) for g in got}) > 1   # the prompts differ, and so do their answers
