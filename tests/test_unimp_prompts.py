"""UniMP prompts and decoding: prompt layout, image order, targets, context weights; decoding shapes
and constrained outputs on a synthetic dataset with a random tiny model."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.dataset import PreparedDataset
from models.unimp import decode
from models.unimp.config import load_config
from models.unimp.model import build_model
from models.unimp.prompts import PromptBuilder
from models.unimp.synthetic import make_dataset
from models.unimp.vision import load_pixels
from models.unimp.vocab import Vocab, train_bpe

SMALL = dict(lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                      "max_position_embeddings": 512},
             vision_args={"width": 32, "layers": 1, "head_width": 16, "patch_size": 8, "embed_dim": 32},
             image_size=16, n_visual_tokens=2, bpe_vocab_size=300)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = PreparedDataset(make_dataset(tmp_path_factory.mktemp("syn") / "d", n_items=36, n_users=20))
    texts = [t.replace("[IMG]", "").replace("[EOC]", "") for t in data.items["text"]]
    vocab = Vocab(train_bpe(texts + ["the red one is great"], 300), data.n_items)
    cfg = load_config("tiny", **SMALL)
    builder = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8)
    model = build_model(cfg, vocab)
    pixels, has = load_pixels(data, cfg.image_size)
    model.set_image_bank(has, pixels=pixels)
    return data, vocab, builder, model


def test_prompt_layout(setup):
    data, vocab, builder, _ = setup
    row = {"history": [1, 2, 3, 4, 5, 6, 7], "instruction": "Given [Item], can you predict the preference?",
           "item": 9, "target_rating": 4.0}
    enc = builder.build("rating", row)
    ids = enc.input_ids
    assert ids[0] == vocab["[CLS]"]
    assert enc.images == [3, 4, 5, 6, 7, 9]                    # last 5 history items, then the asked item
    assert ids.count(vocab["[IMG]"]) == 6 and ids.count(vocab["[EOC]"]) == 6
    assert ids[enc.answer_pos] == vocab["[ANS]"]
    assert ids[enc.answer_pos + 1:] == [vocab.rating(4), vocab["[EOS]"]] == enc.target
    # each item block ends with its own item token then [EOC]
    eocs = [i for i, t in enumerate(ids) if t == vocab["[EOC]"]]
    assert [ids[i - 1] - vocab.item_offset for i in eocs] == [3, 4, 5, 6, 7, 9]
    text = builder.render(enc)
    assert text.startswith("[CLS] [IMG] title") and "<item_3> [EOC]" in text
    assert "can you predict the preference" in text and text.endswith("[ANS] <rate_4> [EOS]")
    # context reconstruction weights cover history attributes + item token, never [IMG]/[EOC]/instruction
    w = np.array(enc.weights)
    assert w[enc.answer_pos + 1:].tolist() == [1.0, 1.0]
    assert all(w[i] == 0 for i, t in enumerate(ids) if t in (vocab["[IMG]"], vocab["[EOC]"]))
    assert w[eocs[0] - 1] == 1.0 and w[eocs[-1] - 1] == 0.0    # history item token vs the asked item
    assert sum(builder.build("rating", row, context=False).weights) == 2.0
    # context_norm "instance": the reconstruction tokens share 2 (= the answer's length) x context_weight
    balanced = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8, context_weight=0.5,
                             context_norm="instance").build("rating", row)
    bw = np.array(balanced.weights)
    assert np.isclose(bw[:balanced.answer_pos].sum(), 0.5 * 2) and bw[balanced.answer_pos + 1:].tolist() == [1.0, 1.0]
    assert np.array_equal(bw[:balanced.answer_pos] > 0, w[:enc.answer_pos] > 0)
    inference = builder.build("rating", row, with_target=False)
    assert inference.input_ids[-1] == vocab["[ANS]"] and len(inference.input_ids) == enc.answer_pos + 1


def test_prompt_tasks(setup):
    data, vocab, builder, _ = setup
    sel = data.instances("selection", "test").iloc[0]
    enc = builder.build("selection", sel)
    cands = [int(c) for c in sel["candidates"]]
    assert enc.images[-5:] == cands
    pos = [j for j, c in enumerate(cands) if c in set(int(t) for t in sel["target_items"])]
    assert enc.target == [vocab.select(j) for j in pos] + [vocab["[EOS]"]]
    assert all(vocab.select(j) in enc.input_ids for j in range(5))
    search = data.instances("search", "test").iloc[0]
    text = builder.render(builder.build("search", search))
    assert text.count(search["query"].split(" > ")[-1].split()[0]) >= 1
    assert builder.build("search", search).target == [vocab.item(int(search["target_item"])), vocab["[EOS]"]]
    row = data.instances("explanation", "test").iloc[0]
    exp = builder.build("explanation", row)
    assert vocab.decode(exp.target[:-1]) == row["target_text"] and exp.target[-1] == vocab["[EOS]"]


def test_decoding_shapes_and_constraints(setup):
    data, vocab, builder, model = setup
    rec = data.instances("recommendation", "test").iloc[:5]
    scores = decode.rank_items(model, builder, rec, "recommendation", batch_size=2)
    assert scores.shape == (5, data.n_items) and scores.dtype == np.float32
    assert np.allclose(np.exp(scores).sum(1), 1, atol=1e-4)
    # one pass equals scoring each prompt alone (padding does not leak)
    alone = np.concatenate([decode.rank_items(model, builder, rec.iloc[[i]], "recommendation") for i in range(5)])
    assert np.allclose(scores, alone, atol=1e-4)
    sel = data.instances("selection", "test").iloc[:4]
    s = decode.selection_scores(model, builder, sel)
    assert s.shape == (4, 5)
    chosen = decode.generate_selection(model, builder, sel)
    for c, row in zip(chosen, sel["candidates"]):
        assert 1 <= len(c) <= 5 and len(set(c)) == len(c) and set(c) <= set(int(x) for x in row)
    rating_rows = data.instances("rating", "test").iloc[:6]
    ratings = decode.generate_rating(model, builder, rating_rows, batch_size=4)
    assert len(ratings) == 6 and all(r in {"1", "2", "3", "4", "5"} for r in ratings)
    # the "token" read-out of the rating distribution is exactly what constrained greedy decoding emits
    probs = decode.rating_probabilities(model, builder, rating_rows, batch_size=4)
    assert np.allclose(probs.sum(1), 1.0)
    assert [str(int(r)) for r in decode.read_rating(probs, "token")] == ratings
    texts = decode.generate_explanation(model, builder, data.instances("explanation", "test").iloc[:3], max_new=5,
                                        batch_size=2)
    assert len(texts) == 3 and all(isinstance(t, str) and "<item_" not in t and "[" not in t for t in texts)


@pytest.mark.parametrize("fusion", ["fine", "early", "late"])
def test_greedy_cache_matches_full_recompute(setup, fusion):
    """KV-cached greedy decoding equals recomputing the whole sequence at every step, for each fusion."""
    import torch

    data, vocab, builder, model = setup
    if fusion != "fine":
        bank = (model._has_image, model._pixels)
        model = build_model(load_config("tiny", **SMALL, fusion=fusion), vocab)
        model.set_image_bank(bank[0], pixels=bank[1])
        for name, p in model.named_parameters():
            if name.endswith("_gate"):
                p.data.fill_(0.5)
    row = data.instances("explanation", "test").iloc[0]
    enc = builder.build("explanation", row, with_target=False)
    text_ids = list(range(vocab.n_base))
    cached = decode.greedy(model, builder, [enc], lambda s, g: text_ids, max_new=4)[0]
    ids = list(enc.input_ids)
    for _ in range(4):
        t = torch.tensor([ids])
        with torch.no_grad():
            logits = model(t, torch.ones_like(t), torch.tensor([enc.images]))[0, -1, : vocab.n_base]
        ids.append(int(logits.argmax()))
    assert cached == ids[len(enc.input_ids):]


def test_length_ordered_batches_give_each_prompt_its_own_result(setup):
    """Prompts are batched in length order (less padding); every result is put back in the prompts' order
    and equals the prompt's result computed alone."""
    data, vocab, builder, model = setup
    encs = [builder.build(task, r, with_target=False) for task in ("recommendation", "explanation", "rating")
            for _, r in data.instances(task, "test").iloc[:3].iterrows()]      # prompts of several lengths
    assert len({len(e.input_ids) for e in encs}) > 2
    rows = data.instances("recommendation", "test").iloc[:1]                      # unused when encs are given
    batched = decode.rank_items(model, builder, rows, "recommendation", batch_size=4, encs=encs)
    alone = np.concatenate([decode.rank_items(model, builder, rows, "recommendation", batch_size=1, encs=[e])
                            for e in encs])
    assert np.allclose(batched, alone, atol=1e-5)
    text_ids = list(range(vocab.n_base))
    gen = decode.greedy(model, builder, encs, lambda s, g: text_ids, max_new=3, batch_size=4)
    assert gen == [decode.greedy(model, builder, [e], lambda s, g: text_ids, max_new=3)[0] for e in encs]
