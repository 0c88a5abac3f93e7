"""UniMP presets and switches: the presets load; the paper preset's code path (pretrained LM from a local
folder with its own tokenizer, open_clip tower from a local checkpoint, frozen-feature cache, frozen LM
body) runs at tiny size with random models of the same architectures; learning strategies differ."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmark.data.dataset import PreparedDataset
from models.unimp.adapter import UniMPModel
from models.unimp.config import load_config
from models.unimp.prompts import Encoded
from models.unimp.synthetic import make_dataset
from models.unimp.train import CONTINUAL_ORDER, epoch_order, phases

TINY_VIT = {"embed_dim": 32, "vision_cfg": {"image_size": 16, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
            "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}}


@pytest.mark.parametrize("name", ["tiny", "smollm", "paper"])
def test_presets_load(name):
    cfg = load_config(name)
    assert cfg.cross_attn_every == 2 and cfg.focal_gamma == 2.0
    if name == "paper":
        assert (cfg.lr, cfg.warmup, cfg.epochs, cfg.vision_model) == (2e-4, 0.01, 10.0, "ViT-L-14")
        assert cfg.freeze_lm and cfg.freeze_vision and cfg.layer_path == "gpt_neox.layers"
    with pytest.raises(ValueError):
        load_config(name, fusion="bogus")
    with pytest.raises(ValueError):
        load_config(name, not_a_field=1)


def test_architecture_overrides_merge_into_the_preset():
    """A partial lm_args changes only its keys (replacing would build GPT-NeoX's 20B default); other dict
    fields (task_weights) are replaced whole."""
    tiny = load_config("tiny")
    cfg = load_config("tiny", lm_args={"hidden_dropout": 0.2}, vq_args={"steps": 5},
                      task_weights={"search": 1.0})
    assert cfg.lm_args == {**tiny.lm_args, "hidden_dropout": 0.2}
    assert cfg.vq_args == {**tiny.vq_args, "steps": 5}
    assert cfg.task_weights == {"search": 1.0}
    assert load_config("tiny", lm_args={"hidden_size": 64}).lm_args["num_hidden_layers"] == tiny.lm_args["num_hidden_layers"]
    with pytest.raises(ValueError, match="candidate_loss_tasks"):
        load_config("tiny", candidate_loss=1.0, candidate_loss_tasks=["serach"])


def test_strategies():
    assert [p[2] for p in phases(load_config("tiny"))] == ["all"]
    assert [p[2] for p in phases(load_config("paper"))] == ["paper"]
    assert [p[1:] for p in phases(load_config("tiny", strategy="multitask+last"))] == [("multitask", "all"), ("recommendation", "last")]
    assert phases(load_config("tiny", strategy="multitask+full"))[1][2] == "all"
    cfg = load_config("tiny", all_rec_prefixes=False)  # epoch passes (weighted draws: test_unimp_item_ids)
    ex = [Encoded(t, [0], [0.0], [], 0) for t in ("rating", "recommendation", "explanation") * 4]
    cont = epoch_order(ex, cfg, 0, 1.0, "continual")
    tasks = [ex[i].task for i in cont]
    assert tasks == sorted(tasks, key=CONTINUAL_ORDER.index)              # task after task
    multi = [ex[i].task for i in epoch_order(ex, cfg, 0, 1.0)]
    assert sorted(multi) == sorted(tasks) and multi != tasks


@pytest.fixture(scope="module")
def paper_like(tmp_path_factory):
    """A local folder with a random 2-layer GPT-NeoX + its tokenizer, and a local open_clip checkpoint."""
    from benchmark.data import compat

    compat.apply()
    import open_clip
    from safetensors.torch import save_file
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    from models.unimp.vocab import train_bpe

    root = tmp_path_factory.mktemp("paper")
    data = make_dataset(root / "d", n_items=36, n_users=20)
    texts = PreparedDataset(data).items["text"].tolist()
    tok = PreTrainedTokenizerFast(tokenizer_object=train_bpe(texts, 300), eos_token="</s>")
    tok.add_special_tokens({"eos_token": "</s>"})
    torch.manual_seed(0)
    lm = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=4,
                                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=512))
    lm.save_pretrained(root / "lm")
    tok.save_pretrained(root / "lm")
    (root / "clip").mkdir()
    (root / "clip" / "ViT-unimp-test.json").write_text(json.dumps(TINY_VIT))
    open_clip.add_model_config(root / "clip")
    clip = open_clip.create_model("ViT-unimp-test", pretrained=None)
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, str(root / "clip" / "tower.safetensors"))
    return root, data


def test_paper_code_path_at_tiny_size(paper_like, tmp_path, monkeypatch):
    root, data_root = paper_like
    monkeypatch.setenv("UNIMP_BENCH_CACHE", str(tmp_path / "cache"))
    data = PreparedDataset(data_root)
    over = dict(lm_path=str(root / "lm"), vision_model="ViT-unimp-test",
                vision_checkpoint=str(root / "clip" / "tower.safetensors"), image_size=16, n_visual_tokens=2,
                perceiver_depth=1, perceiver_heads=2, perceiver_dim_head=8, cross_attn_heads=2, cross_attn_dim_head=8,
                max_item_tokens=8, batch_size=4, max_steps=3, n_valid=8, new_domain_steps=1, max_train_per_task=8,
                lr=1e-2, time_budget_s=None)
    m = UniMPModel({"preset": "paper", **over}, run_dir=tmp_path / "run")
    m._setup(data)
    model = m.model
    assert m.vocab.n_base == len(m.vocab.base) and len(m.vocab) == model.lm.get_input_embeddings().num_embeddings
    assert model.wrapped_layers == [1, 3]                                   # every 2nd of 4 layers
    assert model._features is not None and model._pixels is None            # frozen tower: cached features
    assert len(list((tmp_path / "cache" / "vision").glob("*.safetensors"))) == 1
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m.fit(data, "main")                                                     # rebuilds the model (same seed)
    model = m.model
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(".xattn." in k for k in changed) and any(k.startswith("resampler.") for k in changed)
    assert "lm.gpt_neox.embed_in.weight" in changed and "lm.lm_head.weight" in changed
    frozen = [k for k in before if k.startswith("vision.") or (k.startswith("lm.gpt_neox.layers.") and ".xattn." not in k)]
    assert frozen and not (set(frozen) & changed)                          # vision + LM body frozen
    scores = m.rank("recommendation", data.instances("recommendation", "test"))
    assert scores.shape[1] == data.n_items and np.isfinite(scores).all()
    # saved: only trainable weights (the frozen LM comes from lm_path)
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "run" / "unimp" / "main" / "model.safetensors"))
    assert "lm.lm_head.weight" in saved and not any(k in saved for k in frozen)


def test_last_layer_policy(paper_like, tmp_path):
    from models.unimp.model import build_model
    from models.unimp.vocab import Vocab, train_bpe

    cfg = load_config("tiny", lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                       "intermediate_size": 64}, vision_args={"width": 32, "layers": 1, "head_width": 16,
                                                                            "patch_size": 8, "embed_dim": 32}, image_size=16,
                      tie_item_ids=False)
    model = build_model(cfg, Vocab(train_bpe(["a b c d"], 270), 5))
    model.set_trainable("last")
    train = {k for k, p in model.named_parameters() if p.requires_grad}
    assert train and all(k.startswith(("lm.gpt_neox.layers.1.", "lm.lm_head.")) for k in train)
    model.set_trainable("all")
    assert all(p.requires_grad for p in model.parameters())
    # tied item ids: the output layer's item rows are the input table's, so they train too (one Parameter)
    tied = build_model(load_config("tiny", **{**{k: getattr(cfg, k) for k in ("lm_args", "vision_args", "image_size")}}),
                       Vocab(train_bpe(["a b c d"], 270), 5))
    tied.set_trainable("last")
    names = {k for k, p in tied.named_parameters() if p.requires_grad}
    assert names - train == {"lm.gpt_neox.embed_in.items", "lm.lm_head.before", "lm.lm_head.after"}
