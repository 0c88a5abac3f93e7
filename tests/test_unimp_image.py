"""UniMP image generation at tiny scale: image tokens in the vocabulary, the image prompt, batches of
their own, the two-stage generation through the adapter and the evaluator (images, token scores,
gallery), checkpoints that carry the tokenizer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmark.data.dataset import PreparedDataset
from benchmark.data.labels import default_labels_dir
from benchmark.eval import evaluator
from models.unimp.adapter import UniMPModel
from models.unimp.config import load_config
from models.unimp.prompts import Encoded, PromptBuilder
from models.unimp.train import epoch_order
from models.unimp.vocab import Vocab, train_bpe

TINY_IMAGE = dict(
    lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
             "max_position_embeddings": 512},
    vision_args={"width": 32, "layers": 1, "head_width": 16, "patch_size": 8, "embed_dim": 32},
    image_size=16, n_visual_tokens=2, bpe_vocab_size=300, max_item_tokens=6, batch_size=4, lr=3e-3,
    max_steps=2, n_valid=8, new_domain_steps=1, max_train_per_task=8, eval_batch_size=8,
    image_generation=True, vq_steps=3,
    vq_args={"resolution": 16, "ch": 32, "ch_mult": [1, 2, 2], "n_embed": 16, "embed_dim": 8, "z_channels": 8,
             "batch_size": 4},
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("unimp_cache")
    monkeypatch_module.setenv("UNIMP_BENCH_CACHE", str(root))
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def trained(tiny_data, cache, tmp_path_factory):
    data = PreparedDataset(tiny_data, labels=default_labels_dir(tiny_data))  # targets given: token scores tested
    run = tmp_path_factory.mktemp("unimp_image_run")
    m = UniMPModel({"preset": "tiny", **TINY_IMAGE}, run_dir=run)
    m.fit(data, "main")
    return m, data, run


def test_image_tokens_follow_the_items_and_survive_save(tmp_path):
    vocab = Vocab(train_bpe(["a red round lamp", "a blue square box"] * 5, 280), n_items=7, n_image_codes=4)
    assert vocab.image_offset == vocab.item_offset + 7 and len(vocab) == vocab.image_offset + 4
    assert vocab.image_ids == [vocab.image(k) for k in range(4)]
    assert vocab.name(vocab.image(3)) == "<img_3>" and vocab.name(vocab.item(6)) == "<item_6>"
    vocab.save(tmp_path / "v")
    again = Vocab.load(tmp_path / "v")
    assert (again.n_image_codes, again.image_offset) == (4, vocab.image_offset)


def test_image_prompt_holds_history_retrieved_items_query_and_target_codes(tiny_data):
    data = PreparedDataset(tiny_data, labels=default_labels_dir(tiny_data))  # the target's codes are scored
    vocab = Vocab(train_bpe([str(t) for t in data.items["text"]], 300), data.n_items, n_image_codes=16)
    b = PromptBuilder(vocab, data.items, history=5, max_item_tokens=6)
    row = data.instances("image", "test").iloc[0].to_dict()
    row["retrieved"] = [3, 4]
    b.image_codes = {int(row["target_item"]): list(range(16)), 3: [5] * 16}
    enc = b.build("image", row)
    # the retrieved item 3 carries its codes inside its block (item 4 has none here)
    eoc3 = enc.input_ids.index(vocab.item(3)) + 1
    assert enc.input_ids[eoc3:eoc3 + 17] == [vocab.image(5)] * 16 + [vocab["[EOC]"]]
    b.retrieved_codes = False
    plain = b.build("image", row)
    assert vocab.image(5) not in plain.input_ids[:plain.answer_pos]
    b.retrieved_codes = True
    history = [int(h) for h in list(row["history"])[-5:]]
    assert enc.images == history + [3, 4]                       # history images, then the retrieved ones
    assert enc.target == [vocab.image(k) for k in range(16)]    # the target's codes, no [EOS]
    assert enc.input_ids[enc.answer_pos] == vocab["[ANS]"] and enc.input_ids[-16:] == enc.target
    assert vocab.item(3) in enc.input_ids and vocab.item(4) in enc.input_ids
    assert "[Retrieved Images]" not in b.render(enc)
    b.image_history = False                                     # "generation without history"
    bare = b.build("image", row)
    assert bare.images == [3, 4] and all(vocab.item(h) not in bare.input_ids for h in history if h not in (3, 4))
    with pytest.raises(ValueError, match="no image codes"):
        b.build("image", {**row, "target_item": 10_000})


def test_image_examples_fill_batches_of_their_own():
    cfg = load_config("tiny", batch_size=4, all_rec_prefixes=False)  # epoch passes
    examples = [Encoded("image" if i % 3 == 0 else "rating", [1], [0.0], [], 0) for i in range(30)]
    order = epoch_order(examples, cfg, seed=0, epochs=2.0)
    assert sorted(order.tolist()) == sorted(list(range(30)) * 2)
    full = len(order) // 4 * 4
    kinds = [{examples[i].task for i in order[s:s + 4]} for s in range(0, full, 4)]
    assert sum(len(k) > 1 for k in kinds) <= 1  # only where the partial tails meet
    weighted = epoch_order(examples, load_config("tiny", batch_size=4, all_rec_prefixes=True), seed=0, epochs=2.0)
    assert len(weighted) == 60
    kinds = [{examples[i].task for i in weighted[s:s + 4]} for s in range(0, 60 // 4 * 4, 4)]
    assert sum(len(k) > 1 for k in kinds) <= 1  # task-weighted draws: image batches of their own too
    no_image = [Encoded("rating", [1], [0.0], [], 0) for _ in range(10)]
    assert np.array_equal(epoch_order(no_image, cfg, 0, 1.0), np.random.default_rng(0).permutation(10))


def test_two_stage_generation_returns_images_with_retrieval_and_token_scores(trained):
    m, data, _ = trained
    assert m.supports("image", "test") and m.vocab.n_image_codes == 16
    req = data.instances("image", "test").iloc[:5]
    m.set_inference_data(data)
    images = m.generate_images(req)
    assert len(images) == len(req)
    for im, (_, row) in zip(images, req.iterrows()):
        assert isinstance(im, Image.Image) and im.size == (16, 16) and im.mode == "RGB"
        got = im.info["retrieved"]
        assert 1 <= len(got) <= 2 and not set(got) & set(map(int, row["history"]))
        assert all(data.image_path(i) is not None for i in got)
        if data.image_path(int(row["target_item"])) is not None:
            assert im.info["token_nll"] >= 0 and 0 <= im.info["token_accuracy"] <= 1
    again = m.generate_images(req)  # greedy: deterministic
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    # sampling is seeded: same seed, same images
    m.cfg.image_temperature, m.cfg.image_top_k = 1.0, 8
    try:
        s1, s2 = m.generate_images(req), m.generate_images(req)
    finally:
        m.cfg.image_temperature, m.cfg.image_top_k = 0.0, 0
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(s1, s2))


def test_checkpoint_carries_the_tokenizer(trained, tmp_path):
    m, data, run = trained
    req = data.instances("image", "test").iloc[:3]
    m.set_inference_data(data)
    want = m.generate_images(req)
    assert (run / "unimp" / "main" / "vq" / "model.safetensors").is_file()
    m2 = UniMPModel({"checkpoint": str(run / "unimp")}, run_dir=tmp_path)
    m2.fit(data, "main")
    got = m2.generate_images(req)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(want, got))
    assert m2.describe()["image_tokenizer"]["n_codes"] == 16


def test_evaluator_scores_unimp_images_and_gallery_without_the_sealed_targets(tiny_data, cache, tmp_path, monkeypatch):
    """The evaluator gives the model inputs only: no target, so no teacher-forced token scores on test."""
    monkeypatch.setattr("models.unimp.adapter.IMAGE_VALID_MAX", 3)  # the validation diagnostic's cap
    opts = evaluator.RunOptions(model="unimp", tasks=("image",), splits=("test",), n_boot=20,
                                config={"preset": "tiny", **TINY_IMAGE}, run_id="img")
    run_dir = evaluator.run(tiny_data, tmp_path, opts)
    res = json.loads((run_dir / "results.json").read_text())
    (entry,) = [r for r in res["results"] if r["task"] == "image"]
    assert entry["status"] == "ok", entry["error"]
    assert {"psnr", "ssim"} <= set(entry["scores"]) and not {"token_nll", "token_accuracy"} & set(entry["scores"])
    lines = [json.loads(x) for x in (run_dir / entry["predictions"]).read_text().splitlines()]
    assert all((run_dir / r["image"]).is_file() and "retrieved" in r for r in lines)
    assert (run_dir / "gallery" / "image__test.html").is_file()
    assert res["model"]["details"]["image_tokenizer"]["grid"] == 4
    # reported on validation instead, where the targets are public (the first IMAGE_VALID_MAX instances)
    valid = res["model"]["details"]["training"]["main"]["image_valid"]
    assert valid["split"] == "valid" and valid["n"] == 3
    assert valid["token_nll"] > 0 and 0 <= valid["token_accuracy"] <= 1


def test_validation_probe_of_a_trained_model(trained):
    from models.unimp.probe import rating_probe, recommendation_probe

    m, data, _ = trained
    r = rating_probe(m, data, n=16)
    valid = data.instances("rating", "valid").iloc[:16]
    assert r["n"] == len(valid) and abs(sum(r["mean_probs"]) - 1) < 1e-3
    assert r["true_shares"][4] == round(float((valid["target_rating"] == 5).mean()), 4)
    assert set(r["mae"]) == {"token", "expectation", "median"} and all(0 <= v <= 4 for v in r["mae"].values())
    rec = recommendation_probe(m, data)
    assert rec["n"] == len(data.instances("recommendation", "valid")) and 0 <= rec["hr@5"] <= 1
