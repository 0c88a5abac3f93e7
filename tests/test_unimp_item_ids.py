"""UniMP next-item switches: transition targets at every history [EOC], weighted task sampling, item
ids initialised from content (train-only PCA), tied item-id rows, category-first item text, full
validation selection."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data.dataset import PreparedDataset
from models.unimp import item_init
from models.unimp.config import load_config
from models.unimp.losses import sequence_loss
from models.unimp.model import ItemRows, build_model
from models.unimp.prompts import PromptBuilder, category_first_text
from models.unimp.synthetic import make_dataset
from models.unimp.train import collate, load_weights, loss_task_weights, save_weights, weighted_order
from models.unimp.vision import load_pixels
from models.unimp.vocab import Vocab, train_bpe

SMALL = dict(lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                      "max_position_embeddings": 512},
             vision_args={"width": 32, "layers": 1, "head_width": 16, "patch_size": 8, "embed_dim": 32},
             image_size=16, n_visual_tokens=2, bpe_vocab_size=300, image_generation=False)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = PreparedDataset(make_dataset(tmp_path_factory.mktemp("syn") / "d", n_items=36, n_users=20))
    texts = [t.replace("[IMG]", "").replace("[EOC]", "") for t in data.items["text"]]
    vocab = Vocab(train_bpe(texts + ["the red one is great"], 300), data.n_items)
    return data, vocab


def _model(data, vocab, **over):
    cfg = load_config("tiny", **{**SMALL, **over})
    model = build_model(cfg, vocab)
    pixels, has = load_pixels(data, cfg.image_size)
    model.set_image_bank(has, pixels=pixels)
    return model


def test_transition_targets_are_the_next_ids(setup):
    data, vocab = setup
    b = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8)
    row = {"history": [1, 2, 3, 4, 5, 6, 7], "instruction": None, "target_item": 9}
    enc = b.build("recommendation", row)
    eocs = [i for i, t in enumerate(enc.input_ids) if t == vocab["[EOC]"]]
    assert enc.transitions == list(zip(eocs, [4, 5, 6, 7, 9]))   # window 3..7, then the target
    assert b.build("recommendation", row, with_target=False).transitions == []
    rating = b.build("rating", {"history": [1, 2], "instruction": None, "item": 8, "target_rating": 5.0})
    assert [n for _, n in rating.transitions] == [2, 8]            # the asked item follows the history
    sel = b.build("selection", {"history": [3], "instruction": None, "candidates": [11, 12, 13, 14, 15],
                                "target_items": [13, 14]})
    assert [n for _, n in sel.transitions] == [13]                  # the first positive follows the history
    batch = collate([enc], vocab["[PAD]"])
    assert torch.nonzero(batch["next_item"][0] >= 0).flatten().tolist() == eocs
    assert batch["next_item"][0][eocs].tolist() == [4, 5, 6, 7, 9]


def test_transition_loss_is_item_cross_entropy_at_eocs(setup):
    data, vocab = setup
    model = _model(data, vocab).eval()
    b = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8)
    enc = b.build("recommendation", {"history": [1, 2, 3], "instruction": None, "target_item": 9})
    batch = collate([enc], vocab["[PAD]"])
    with torch.no_grad():
        base = sequence_loss(model, batch, 0.0)
        both = sequence_loss(model, batch, 0.0, transition_weight=0.5)
        h, _ = model.hidden(batch["input_ids"], batch["attention_mask"], model.encode_images(batch["images"]))
        pos = [p for p, _ in enc.transitions]
        logp = torch.log_softmax(model.item_logits(h[0, pos]), -1)
        expected = -logp[torch.arange(3), torch.tensor([2, 3, 9])].mean()
    assert float(both - base) == pytest.approx(0.5 * float(expected), rel=1e-5)


def test_weighted_order_samples_tasks_by_weight(setup):
    data, vocab = setup
    b = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8)
    rec = [b.build("recommendation", r) for _, r in data.instances("recommendation", "train").iterrows()]
    rat = [b.build("rating", r) for _, r in data.instances("rating", "train").iloc[:5].iterrows()]
    examples = rec + rat
    order = weighted_order(examples, {"recommendation": 3.0}, np.random.default_rng(0), 4000)
    share = np.mean([examples[i].task == "recommendation" for i in order])
    assert share == pytest.approx(0.75, abs=0.03)
    rating_idx = [i for i in order if examples[i].task == "rating"]
    assert sorted(rating_idx[:5]) == list(range(len(rec), len(rec) + 5))   # a whole pass before repeats
    assert loss_task_weights(load_config("tiny", all_rec_prefixes=True)) is None
    assert loss_task_weights(load_config("tiny", all_rec_prefixes=False)) == {"recommendation": 2.0}


def test_tied_item_rows_are_one_parameter_and_survive_save_load(setup, tmp_path):
    data, vocab = setup
    model = _model(data, vocab, tie_item_ids=True)
    emb, head = model.lm.get_input_embeddings(), model.lm.get_output_embeddings()
    assert isinstance(emb, ItemRows) and emb.items is head.items
    assert len(model.item_rows()) == 1
    sl = slice(vocab.item_offset, vocab.item_offset + vocab.n_items)
    assert torch.equal(emb.weight[sl], head.weight[sl]) and head.weight.shape == (len(vocab), 32)
    loss = model.item_logits(torch.randn(2, 32)).sum() + emb(torch.tensor([vocab.item(3)])).sum()
    loss.backward()
    assert emb.items.grad is not None and emb.items.grad[3].abs().sum() > 0
    untied = _model(data, vocab, tie_item_ids=False)
    assert len(untied.item_rows()) == 2 and not isinstance(untied.lm.get_input_embeddings(), ItemRows)
    save_weights(model, tmp_path / "m.safetensors")
    again = _model(data, vocab, tie_item_ids=True, seed=1)
    load_weights(again, tmp_path / "m.safetensors")
    assert torch.equal(again.item_rows()[0], model.item_rows()[0])
    assert again.lm.get_input_embeddings().items is again.lm.get_output_embeddings().items


def test_pca_fitted_on_training_items_only():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(10, 6))
    emb[8:] *= 100.0                        # two non-training items of huge spread
    fit = np.arange(8)
    proj = item_init.pca_projection(emb, fit, 3)
    mean = emb[:8].mean(0)
    _, _, vt = np.linalg.svd(emb[:8] - mean, full_matrices=False)
    assert np.allclose(np.abs(proj), np.abs((emb - mean) @ vt[:3].T))
    assert np.allclose(proj[fit].mean(0), 0.0)                         # centred on the training items
    assert not np.allclose(np.abs(proj), np.abs(item_init.pca_projection(emb, np.arange(10), 3)))


def test_content_init_rows_equal_the_scaled_pca_projection(setup, tmp_path, monkeypatch):
    data, vocab = setup
    rng = np.random.default_rng(1)
    fake = rng.normal(size=(data.n_items, 384)).astype(np.float32)
    monkeypatch.setattr(item_init, "item_text_embeddings", lambda d, c=None: fake)
    for tie in (False, True):
        model = _model(data, vocab, tie_item_ids=tie)
        std = float(model.item_rows()[0].detach().std())
        info = item_init.init_item_rows(model, data)
        train = item_init.train_items(data)
        assert info["pca_fit_items"] == len(train) < data.n_items  # some items occur only in eval splits
        proj = item_init.pca_projection(fake, train, 32)
        expected = proj * std / proj[train].std()
        for rows in model.item_rows():
            assert np.allclose(rows.detach().numpy(), expected, atol=1e-6)


def test_item_text_embeddings_are_cached(setup, tmp_path):
    data, _ = setup
    emb = item_init.item_text_embeddings(data, tmp_path)
    assert emb.shape == (data.n_items, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    cached = list(tmp_path.glob(f"{data.sha256}-*.npy"))
    assert len(cached) == 1
    assert np.array_equal(item_init.item_text_embeddings(data, tmp_path), emb)


def test_category_first_moves_only_the_category():
    text = "title Red Tent brand Acme price 10.00 category Sports > Tents description A tent."
    assert category_first_text(text, "Sports > Tents") == \
        "category Sports > Tents title Red Tent brand Acme price 10.00 description A tent."
    assert category_first_text("title Red Tent", "Sports > Tents") == "title Red Tent"   # dropped: unchanged
    assert category_first_text(text, None) == text


def test_category_first_keeps_the_category_under_truncation(setup):
    data, vocab = setup
    late = PromptBuilder(vocab, data.items, max_item_tokens=24)
    first = PromptBuilder(vocab, data.items, max_item_tokens=24, category_first=True)
    assert first.truncation()["category_cut"] < late.truncation()["category_cut"] == 1.0
    item = int(data.items["item"][data.items["category"].notna()].iloc[0])
    assert vocab.decode(first.item_block(item)).startswith("[IMG] category")


def test_adapter_with_every_switch_on(setup, tmp_path, monkeypatch, capsys):
    """Training with all switches on: every recommendation prefix is kept (no cap), content-initialised
    tied item rows, selection on all validation instances with its interval printed; a saved
    checkpoint reloads to the same scores."""
    from models.unimp.adapter import UniMPModel

    data, _ = setup
    fake = np.random.default_rng(2).normal(size=(data.n_items, 384)).astype(np.float32)
    monkeypatch.setattr(item_init, "item_text_embeddings", lambda d, c=None: fake)
    over = {**SMALL, "max_steps": 2, "batch_size": 4, "max_train_per_task": 3, "n_valid": None,
            "transition_loss": 1.0, "all_rec_prefixes": True, "content_init": True, "tie_item_ids": True,
            "category_first": True, "train_tasks": ["recommendation", "rating"]}
    m = UniMPModel({"preset": "tiny", **over}, run_dir=tmp_path)
    m.fit(data, "main")
    n_rec = len(data.instances("recommendation", "train"))
    assert m.stats["main"]["n_train_examples"] == n_rec + 3
    assert m.stats["content_init"]["pca_fit_items"] > 0
    assert m.stats["item_text_truncation"]["max_item_tokens"] == m.cfg.max_item_tokens
    n_valid = len(data.instances("recommendation", "valid"))
    assert "valid HR@5" in (out := capsys.readouterr().out) and f"on {n_valid} instances" in out
    test = data.instances("recommendation", "test")
    m2 = UniMPModel({"checkpoint": str(tmp_path / "unimp" / "main")}, run_dir=tmp_path / "again")
    m2.fit(data, "main")
    assert np.allclose(m2.rank("recommendation", test), m.rank("recommendation", test), atol=1e-5)


def test_item_bias_starts_at_the_training_popularity_and_shifts_every_item_logit(setup, tmp_path):
    data, vocab = setup
    model = _model(data, vocab, item_bias=True).eval()
    info = item_init.init_item_bias(model, data)
    targets = data.instances("recommendation", "train")["target_item"].to_numpy()
    counts = np.bincount(targets, minlength=data.n_items)
    prior = np.log1p(counts) - np.log1p(counts).mean()
    assert info["targets"] == len(targets)
    assert np.allclose(model.item_bias.detach().numpy(), prior, atol=1e-6)
    h = torch.randn(3, 32)
    plain = _model(data, vocab, item_bias=False).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "item_bias"})
    with torch.no_grad():
        assert torch.allclose(model.item_logits(h) - plain.item_logits(h), model.item_bias.expand(3, -1), atol=1e-5)
        sl = slice(vocab.item_offset, vocab.item_offset + vocab.n_items)
        full, base = model.head(h), plain.head(h)
        assert torch.allclose(full[:, sl], model.item_logits(h), atol=1e-5)     # the two read-outs agree
        assert torch.equal(full[:, :vocab.item_offset], base[:, :vocab.item_offset])  # other tokens untouched
    save_weights(model, tmp_path / "b.safetensors")
    again = _model(data, vocab, item_bias=True)
    load_weights(again, tmp_path / "b.safetensors")
    assert torch.equal(again.item_bias, model.item_bias)
    for policy in ("paper", "last"):   # trained with the output layer under every policy
        model.set_trainable(policy)
        assert model.item_bias.requires_grad


def test_candidate_loss_is_cross_entropy_over_the_candidate_items(setup):
    data, vocab = setup
    model = _model(data, vocab).eval()
    b = PromptBuilder(vocab, data.items, history=5, max_item_tokens=8)
    enc = b.build("search", {"history": [1, 2, 3], "instruction": None, "query": "a category", "target_item": 9})
    masks = torch.zeros(2, data.n_items, dtype=torch.bool)
    masks[0, [4, 9, 20, 30]] = True
    masks[1, [4, 20]] = True                          # the target is not in it: it is kept all the same
    with torch.no_grad():
        base = sequence_loss(model, collate([enc], vocab["[PAD]"]), 0.0)
        h, _ = model.hidden(*[collate([enc], vocab["[PAD]"])[k] for k in ("input_ids", "attention_mask")],
                            model.encode_images(collate([enc], vocab["[PAD]"])["images"]))
        logits = model.item_logits(h[0, enc.answer_pos])
        for g, allowed in ((0, [4, 9, 20, 30]), (1, [4, 9, 20])):
            enc.cand_group = g
            batch = collate([enc], vocab["[PAD]"])
            both = sequence_loss(model, batch, 0.0, candidate_masks=masks, candidate_weight=0.5)
            expected = -torch.log_softmax(logits[allowed], -1)[allowed.index(9)]
            assert float(both - base) == pytest.approx(0.5 * float(expected), rel=1e-5)
        enc.cand_group = -1                            # no group: no term, whatever the masks
        assert float(sequence_loss(model, collate([enc], vocab["[PAD]"]), 0.0, candidate_masks=masks,
                                   candidate_weight=0.5)) == pytest.approx(float(base), rel=1e-6)


def test_adapter_candidate_groups_follow_the_tasks_rule(setup, tmp_path):
    """candidate_loss: each search example's row is its query's category within the train catalogue
    (the evaluator's rule), identical sets share a row, other tasks get none; training runs with it."""
    from benchmark.api import TASKS
    from models.unimp.adapter import UniMPModel

    data, _ = setup
    over = {**SMALL, "max_steps": 2, "batch_size": 4, "max_train_per_task": 6, "n_valid": 4,
            "candidate_loss": 1.0, "candidate_loss_tasks": ["search"], "train_tasks": ["recommendation", "search"]}
    m = UniMPModel({"preset": "tiny", **over}, run_dir=tmp_path)
    m.fit(data, "main")
    search = data.instances("search", "train")
    expected = TASKS["search"].candidates.mask(data, "train", search)
    encs = m._examples(data, "train", tasks=["search"])
    got = m.candidate_masks[[e.cand_group for e in encs]].numpy()
    assert np.array_equal(got, expected) and expected.sum(1).min() > 0
    assert len({e.cand_group for e in encs}) == len(np.unique(expected, axis=0))   # a row per distinct set
    assert all(e.cand_group == -1 for e in m._examples(data, "train", tasks=["recommendation"]))
