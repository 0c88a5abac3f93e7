"""UniMP with image_features "shared": the frozen image features every image-aware baseline reads
(benchmark.api.image_features, cached by the images' sha256) feed the perceiver resampler; no vision tower."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import benchmark.api.image_features as shared
from benchmark.api import PreparedDataset, cache_root
from models.unimp import model as unimp_model
from models.unimp.adapter import UniMPModel
from models.unimp.config import load_config

SMALL = dict(lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                      "max_position_embeddings": 512},
             n_visual_tokens=2, bpe_vocab_size=300, max_item_tokens=8, batch_size=4, time_budget_s=None, lr=3e-3,
             image_generation=False, max_steps=3, n_valid=8, max_train_per_task=12, new_domain_steps=1,
             image_features="shared")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("UNIMP_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_shared_features_feed_unimp_without_a_tower(tiny_data, tmp_path, monkeypatch):
    data = PreparedDataset(tiny_data)
    feats, has = shared.item_image_features(data)          # what vbpr, causalrec, amr, vip5-style read
    cached = list((cache_root() / "image_features").glob("judge-*.npz"))
    assert len(cached) == 1

    def no_encoding(*a, **k):
        raise AssertionError("the features must come from the cache, not a new encoding")

    def no_tower(*a, **k):
        raise AssertionError("no vision tower with image_features shared")

    monkeypatch.setattr(shared, "_judge_features", no_encoding)
    monkeypatch.setattr(unimp_model, "VisionEncoder", no_tower)
    monkeypatch.setattr("models.unimp.adapter.load_pixels", no_tower)

    m = UniMPModel({"preset": "tiny", **SMALL}, run_dir=tmp_path / "a")
    m.fit(data, "main")
    net = m.model
    assert net.vision is None and not any(k.startswith("vision.") for k in net.state_dict())
    assert net.image_proj.in_features == net.image_proj.out_features == feats.shape[1] == 64
    assert torch.equal(net._features[:, 0], torch.from_numpy(feats)) and torch.equal(net._has_image, torch.from_numpy(has))
    assert m.stats["image_features"]["encoder"] == "judge" and m.stats["image_features"]["dim"] == 64
    assert m.stats["main"]["phases"][0]["steps"] == 3

    # the images reach the answer through the features: other features, other visual tokens
    item = int(np.flatnonzero(has)[0])
    images = torch.tensor([[item]])
    bank = net._features
    with torch.no_grad():
        before = net.encode_images(images)[0].clone()
        net._features = bank.clone()
        net._features[item] += 1.0
        after = net.encode_images(images)[0]
    assert not torch.allclose(before, after)
    net._features = bank

    test = data.instances("recommendation", "test")
    scores = m.rank("recommendation", test)
    assert scores.shape == (len(test), data.n_items) and np.isfinite(scores).all()
    assert len(m.predict_rating(data.instances("rating", "test").iloc[:3])) == 3

    # the projection trains with the paper's policy too (frozen LM): it is not part of any tower
    net.set_trainable("paper")
    assert all(p.requires_grad for p in net.image_proj.parameters())

    # a second run reads the very same features; a saved checkpoint (safetensors) loads to the same scores
    again = UniMPModel({"checkpoint": str(tmp_path / "a" / "unimp")}, run_dir=tmp_path / "b")
    again.fit(data, "main")
    assert again.cfg.image_features == "shared" and again.model.vision is None
    assert torch.equal(again.model._features, net._features)
    assert again.stats["image_features"]["sha256"] == m.stats["image_features"]["sha256"]
    np.testing.assert_allclose(again.rank("recommendation", test), scores, atol=1e-5)


def test_shared_features_settings_are_checked():
    cfg = load_config("tiny", image_features="shared", image_encoder="open_clip", clip_checkpoint="/x/clip.bin")
    assert cfg.encoder_settings() == shared.ImageEncoderSettings("open_clip", "ViT-B-32", "/x/clip.bin")
    assert load_config("tiny").image_features == "tower"     # the tiny preset keeps its own tower
    with pytest.raises(ValueError, match="image_features"):
        load_config("tiny", image_features="clip")
    with pytest.raises(ValueError, match="image_encoder"):
        load_config("tiny", image_encoder="resnet")
