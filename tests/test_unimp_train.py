"""UniMP training: a few steps reduce the loss, a killed run resumes to identical weights, two CPU
processes (gloo) end with identical weights, the adapter runs end to end on synthetic data."""
from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from benchmark.api import RatingAnswer
from benchmark.data.dataset import PreparedDataset
from models.unimp.adapter import UniMPModel
from models.unimp.config import load_config
from models.unimp.decode import rating_probabilities, read_rating
from models.unimp.losses import sequence_loss
from models.unimp.model import build_model
from models.unimp.prompts import PromptBuilder
from models.unimp.synthetic import make_dataset
from models.unimp.train import WeightAverage, collate, epoch_order, step_parts, train_phase
from models.unimp.vision import load_pixels
from models.unimp.vocab import Vocab, train_bpe

SMALL = dict(lm_args={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                      "max_position_embeddings": 512},
             vision_args={"width": 32, "layers": 1, "head_width": 16, "patch_size": 8, "embed_dim": 32},
             image_size=16, n_visual_tokens=2, bpe_vocab_size=300, max_item_tokens=8, batch_size=4,
             time_budget_s=None, lr=3e-3, image_generation=False)  # image generation: test_unimp_image.py


def _setup(root, **over):
    data = PreparedDataset(root)
    texts = [t.replace("[IMG]", "").replace("[EOC]", "") for t in data.items["text"]]
    vocab = Vocab(train_bpe(texts + ["the red one is great"], 300), data.n_items)
    cfg = load_config("tiny", **{**SMALL, **over})
    model = build_model(cfg, vocab)
    pixels, has = load_pixels(data, cfg.image_size)
    model.set_image_bank(has, pixels=pixels)
    builder = PromptBuilder(vocab, data.items, max_item_tokens=8)
    examples = [builder.build(t, r) for t in ("recommendation", "rating", "explanation")
                for _, r in data.instances(t, "train").iloc[:8].iterrows()]
    return data, vocab, cfg, model, examples


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("syn") / "d", n_items=36, n_users=20)


def _loss(model, examples, pad, gamma):
    with torch.no_grad():
        return sequence_loss(model, collate(examples, pad), gamma).item()


def test_training_reduces_loss(syn, tmp_path):
    data, vocab, cfg, model, examples = _setup(syn, lr=1e-2)
    before = _loss(model, examples, vocab["[PAD]"], cfg.focal_gamma)
    order = epoch_order(examples, cfg, 0, 4.0)
    stats = train_phase(model, examples, order, cfg, tmp_path / "p", vocab["[PAD]"], max_steps=12)
    after = _loss(model, examples, vocab["[PAD]"], cfg.focal_gamma)
    assert stats["steps"] == 12
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "p" / "last" / "model.safetensors").is_file()


def test_example_norm_weighs_every_example_alike(syn):
    """loss_norm "example" = the mean of the examples' own losses; "token" = the mean over all their
    supervised tokens (a one-token rating answer is swamped by a long explanation)."""
    data, vocab, cfg, model, examples = _setup(syn)
    pad = vocab["[PAD]"]
    rating = next(e for e in examples if e.task == "rating")
    explanation = max((e for e in examples if e.task == "explanation"), key=lambda e: sum(w > 0 for w in e.weights))
    pair = [rating, explanation]
    with torch.no_grad():
        alone = [sequence_loss(model, collate([e], pad), 2.0).item() for e in pair]
        n_sup = [sum(w > 0 for w in e.weights) for e in pair]
        example = sequence_loss(model, collate(pair, pad), 2.0, "example").item()
        token = sequence_loss(model, collate(pair, pad), 2.0, "token").item()
        # one example alone: both norms agree
        assert sequence_loss(model, collate([rating], pad), 2.0, "example").item() == pytest.approx(alone[0], rel=1e-5)
    assert n_sup[1] > 2 * n_sup[0]
    assert example == pytest.approx(np.mean(alone), rel=1e-5)
    assert token == pytest.approx(np.average(alone, weights=n_sup), rel=1e-5)
    with pytest.raises(ValueError, match="loss norm"):
        sequence_loss(model, collate(pair, pad), 2.0, "batch")
    with pytest.raises(ValueError, match="loss_norm"):
        load_config("tiny", loss_norm="batch")


@pytest.mark.parametrize("norm", ["token", "example"])
def test_step_parts_give_the_whole_batch_loss_and_gradients(syn, norm):
    """A step run as parts of similar length (each padded to its own longest prompt, divided by the whole
    step's denominators) has the loss and gradients of the step's prompts collated as one batch: the
    token loss, the every-transition loss and the candidate loss included."""
    data, vocab, cfg, model, examples = _setup(syn, transition_loss=1.0)
    model.eval()  # no dropout: both ways see the same network
    pad = vocab["[PAD]"]
    examples = examples[::2] + examples[1::2]          # tasks mixed: lengths differ within the step
    for e in examples[:3]:
        e.cand_group = 0
    masks = torch.zeros(1, data.n_items, dtype=torch.bool)
    masks[0, :5] = True
    params = [p for p in model.parameters() if p.requires_grad]

    def loss_and_grads(batches):
        model.zero_grad(set_to_none=True)
        total = 0.0
        for b in batches:
            den = b.pop("denominators", None)
            loss = sequence_loss(model, b, 2.0, norm, 1.0, masks, 0.5, den)
            loss.backward()
            total += loss.item()
        return total, [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]

    whole = collate(examples, pad)
    parts = step_parts(examples, pad, None, 3, norm)
    assert len(parts) == 3 and sum(len(e.input_ids) for e in examples) <= sum(p["input_ids"].numel() for p in parts)
    assert sum(p["input_ids"].numel() for p in parts) < whole["input_ids"].numel()   # fewer padding tokens
    assert (whole["next_item"] >= 0).any() and (whole["cand_group"] >= 0).any()
    one_loss, one_grads = loss_and_grads([whole])
    part_loss, part_grads = loss_and_grads(parts)
    assert part_loss == pytest.approx(one_loss, rel=1e-5)
    for a, b in zip(one_grads, part_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    assert len(step_parts(examples[:2], pad, None, 3, norm)) == 2   # never an empty part
    with pytest.raises(ValueError, match="length_parts"):
        load_config("tiny", length_parts=0)


def test_resume_gives_identical_weights(syn, tmp_path):
    data, vocab, cfg, model, examples = _setup(syn, eval_every=1)
    order = epoch_order(examples, cfg, 0, 1.0)
    train_phase(model, examples, order, cfg, tmp_path / "straight", vocab["[PAD]"], max_steps=4)
    _, _, _, killed, _ = _setup(syn, eval_every=1)
    out = train_phase(killed, examples, order, cfg, tmp_path / "killed", vocab["[PAD]"], max_steps=4, stop_after=2)
    assert out.get("stopped")
    _, _, _, resumed, _ = _setup(syn, eval_every=1)   # a fresh process: new model, resume from disk
    stats = train_phase(resumed, examples, order, cfg, tmp_path / "killed", vocab["[PAD]"], max_steps=4)
    assert stats["steps"] == 4
    a, b = model.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    _, _, _, fresh, _ = _setup(syn)
    assert not all(torch.equal(a[k], fresh.state_dict()[k]) for k in a)  # training did change weights


def _flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()])


def _worker(rank: int, world: int, port: int, root: str, out: str, two_phases: bool = False) -> None:
    """Train 2 steps in a `world`-process gloo group; with `two_phases`, then 2 steps of the
    multitask+last fine-tune (recommendation only, last layer + head trainable)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    data, vocab, cfg, model, examples = _setup(root)
    order = epoch_order(examples, cfg, 0, 1.0)
    stats = train_phase(model, examples, order, cfg, os.path.join(out, f"r{rank}"), vocab["[PAD]"], max_steps=2)
    record = {"world": stats["world_size"], "steps": stats["steps"]}
    if two_phases:
        before = {k: v.clone() for k, v in model.state_dict().items()}
        rec = [e for e in examples if e.task == "recommendation"]
        stats = train_phase(model, rec, epoch_order(rec, cfg, 1, 2.0), cfg, os.path.join(out, f"r{rank}_ft"),
                            vocab["[PAD]"], policy="last", max_steps=2)
        # by storage, not name: tied item rows are one Parameter under two state-dict keys
        trainable = {p.data_ptr() for p in model.parameters() if p.requires_grad}
        after = model.state_dict()
        moving = {k for k, v in after.items() if v.data_ptr() in trainable}
        record.update(ft_steps=stats["steps"], policy=stats["policy"],
                      frozen_unchanged=all(torch.equal(before[k], after[k]) for k in after if k not in moving),
                      trainable_changed=any(not torch.equal(before[k], after[k]) for k in moving))
    flat = _flat(model)
    record.update(sum=float(flat.double().sum()), head=flat[:50].tolist(), norm=float(flat.double().norm()))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)


def _spawn_two(syn, tmp_path, two_phases: bool) -> tuple[dict, dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_worker, args=(2, port, str(syn), str(tmp_path), two_phases), nprocs=2, join=True)
    return tuple(json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))


def test_two_process_training_identical_weights(syn, tmp_path):
    r0, r1 = _spawn_two(syn, tmp_path, two_phases=False)
    assert r0["world"] == r1["world"] == 2 and r0["steps"] == r1["steps"] == 2
    assert r0["head"] == r1["head"] and r0["sum"] == r1["sum"] and r0["norm"] == r1["norm"]
    _, _, _, fresh, _ = _setup(syn)
    assert float(_flat(fresh).double().norm()) != r0["norm"]                   # and they did train


def test_two_process_fine_tune_phase_keeps_ranks_identical(syn, tmp_path):
    """multitask+last across two processes: the second phase changes the trainable set (last layer +
    head); the ranks stay identical, and only those weights move."""
    r0, r1 = _spawn_two(syn, tmp_path, two_phases=True)
    assert r0["ft_steps"] == r1["ft_steps"] == 2 and r0["policy"] == "last"
    assert r0["frozen_unchanged"] and r1["frozen_unchanged"]
    assert r0["trainable_changed"] and r1["trainable_changed"]
    assert r0["head"] == r1["head"] and r0["sum"] == r1["sum"] and r0["norm"] == r1["norm"]


def test_adapter_end_to_end(syn, tmp_path):
    data = PreparedDataset(syn)
    m = UniMPModel({"preset": "tiny", **SMALL, "max_steps": 2, "n_valid": 8, "new_domain_steps": 2,
                    "max_train_per_task": 12}, run_dir=tmp_path)
    m.fit(data, "main")
    assert m.stats["main"]["phases"][0]["steps"] == 2
    test = data.instances("recommendation", "test")
    assert m.rank("recommendation", test).shape == (len(test), data.n_items)
    sel = data.instances("selection", "test").iloc[:3]
    assert m.rank("selection", sel).shape == (3, 5) and len(m.select(sel)) == 3
    assert len(m.predict_rating(data.instances("rating", "test").iloc[:3])) == 3
    assert len(m.generate_text(data.instances("explanation", "test").iloc[:2])) == 2
    assert m.implements("select") and not UniMPModel({"selection": "threshold"}).implements("select")
    # every answer also carries the expectation read-out: sum r * P(r) over the five rating tokens, in [1, 5]
    reqs = data.instances("rating", "test").iloc[:6]
    answers, probs = m.predict_rating(reqs), rating_probabilities(m.model, m.builder, reqs)
    assert all(isinstance(a, RatingAnswer) for a in answers) and np.allclose(probs.sum(1), 1.0)
    np.testing.assert_allclose([a.expectation for a in answers], probs @ np.arange(1.0, 6.0), rtol=1e-9)
    assert all(1.0 <= a.expectation <= 5.0 for a in answers)
    assert [float(a) for a in answers] == pytest.approx(read_rating(probs, m.rating_readout).tolist(), abs=1e-4)
    exp = UniMPModel({"rating_output": "expectation"})
    exp.model, exp.builder, exp.cfg = m.model, m.builder, exp.cfg
    assert all(1.0 <= float(r) <= 5.0 for r in exp.predict_rating(data.instances("rating", "test").iloc[:3]))
    choice = m.stats["main"]["rating_readout"]  # "auto": chosen on valid, among the three read-outs
    assert choice["chosen"] in choice["valid_mae"] and len(choice["valid_mae"]) == 3
    assert choice["valid_mae"][choice["chosen"]] == min(choice["valid_mae"].values())
    m.fit(data, "new_domain")
    nd = data.instances("recommendation", "new_domain")
    scores_adapted = m.rank("recommendation", nd)
    # reload the saved checkpoint instead of training: same scores
    m2 = UniMPModel({"checkpoint": str(tmp_path / "unimp")}, run_dir=tmp_path / "again")
    m2.fit(data, "main")
    m2.fit(data, "new_domain")
    assert np.allclose(m2.rank("recommendation", nd), scores_adapted, atol=1e-5)


def test_train_tasks_trains_and_answers_only_those_tasks(syn, tmp_path):
    data = PreparedDataset(syn)
    m = UniMPModel({"preset": "tiny", **SMALL, "max_steps": 2, "n_valid": 8, "max_train_per_task": 12,
                    "train_tasks": ["rating"], "select_on": "loss"}, run_dir=tmp_path)
    m.fit(data, "main")
    assert m.tasks == ("rating",)
    assert {e.task for e in m._examples(data, "train")} == {"rating"}
    assert m.supports("rating", "test") and not m.supports("recommendation", "test")
    assert len(m.predict_rating(data.instances("rating", "test").iloc[:3])) == 3
    assert "rating_readout" in m.stats["main"]
    for bad in ({"train_tasks": []}, {"train_tasks": ["ratings"]}, {"train_tasks": ["rating"]},
                {"train_tasks": ["rating"], "select_on": "loss", "strategy": "multitask+last"},
                {"train_tasks": ["image"], "select_on": "loss"}):
        with pytest.raises(ValueError, match="train_tasks"):
            load_config("tiny", **{"image_generation": False, **bad})


def test_evaluator_run_on_tiny_data(tiny_data, tmp_path):
    """The benchmark's own evaluator runs UniMP (briefly trained) on the tiny data (explanation's scoring
    is left out for time: generate_text is covered above)."""
    from benchmark.api import registry
    from benchmark.eval.evaluator import RunOptions, run

    if "unimp" not in registry.MODELS:
        registry.register("unimp", "models.unimp.adapter:UniMPModel", "UniMP")
    config = {"preset": "tiny", **SMALL, "max_steps": 2, "n_valid": 16, "new_domain_steps": 1, "max_train_per_task": 16}
    opts = RunOptions(model="unimp", tasks=("recommendation", "selection", "rating", "image"),
                      splits=("test",), config=config, n_boot=10, run_id="u")
    doc = json.loads((run(tiny_data, tmp_path, opts) / "results.json").read_text())
    status = {(r["task"], r["split"]): r["status"] for r in doc["results"]}
    errors = [r["error"] for r in doc["results"] if r["status"] == "error"]
    assert not errors, errors
    assert status[("image", "test")] == "unsupported"
    assert all(s == "ok" for (t, _), s in status.items() if t != "image")


def test_training_logs_its_curve(syn, tmp_path):
    """Each step's loss and each validation score go to curves.csv (what `unimp-bench plot` draws)."""
    from benchmark.api import append_curve
    from benchmark.eval.plots import read_curves

    data, vocab, cfg, model, examples = _setup(syn)
    order = epoch_order(examples, cfg, 0, 2.0)
    log = lambda *a: append_curve(tmp_path / "run", "main/joint", *a)  # noqa: E731
    train_phase(model, examples, order, cfg.__class__(**{**cfg.__dict__, "eval_every": 3}), tmp_path / "p",
                vocab["[PAD]"], select_fn=lambda m: 0.5, max_steps=6, curve=log)
    rows = read_curves(tmp_path / "run")
    assert [r["step"] for r in rows if r["phase"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert all(r["name"] == "loss" and r["value"] > 0 for r in rows if r["phase"] == "train")
    assert [(r["step"], r["value"]) for r in rows if r["phase"] == "valid"] == [(3, 0.5), (6, 0.5)]


def test_weight_average_follows_its_formula_and_gives_the_weights_back():
    w = torch.nn.Parameter(torch.zeros(3))
    avg = WeightAverage([w], decay=0.5)
    expected = torch.zeros(3)
    for t, value in enumerate((1.0, 2.0, 4.0)):
        with torch.no_grad():
            w.fill_(value)
        avg.update()
        d = min(0.5, (1 + t) / (10 + t))  # 0.1, 0.1818..., then the decay itself
        expected = d * expected + (1 - d) * value
    assert torch.allclose(avg.shadow[0], expected)
    with avg.swapped_in():
        assert torch.equal(w.detach(), avg.shadow[0])
    assert torch.equal(w.detach(), torch.full((3,), 4.0))  # the model's own weights are back
    with pytest.raises(ValueError, match="ema_decay"):
        load_config("tiny", ema_decay=1.0)


def test_averaged_training_selects_and_resumes_the_average(syn, tmp_path):
    """With ema_decay, validation sees the average (not the raw weights), the phase ends holding the chosen
    average, and a killed run resumes to the same weights as one run straight through."""
    seen = []

    def select(model):  # later is better: the phase ends on the last average, which resuming must rebuild
        seen.append(_flat(model).clone())
        return float(len(seen))

    data, vocab, cfg, model, examples = _setup(syn, eval_every=2, ema_decay=0.9)
    order = epoch_order(examples, cfg, 0, 1.0)
    train_phase(model, examples, order, cfg, tmp_path / "straight", vocab["[PAD]"], max_steps=4, select_fn=select)
    raw = load_file(str(tmp_path / "straight" / "last" / "model.safetensors"))
    average = load_file(str(tmp_path / "straight" / "last" / "average.safetensors"))
    keys = [k for k, p in model.named_parameters() if p.requires_grad]
    assert any(not torch.equal(raw[k], average[str(i)]) for i, k in enumerate(keys))  # they differ
    _, _, _, check, _ = _setup(syn)
    check.load_state_dict({k: average[str(i)] for i, k in enumerate(keys)}, strict=False)
    assert torch.equal(seen[-1], _flat(check))  # the last validation saw the average
    assert torch.equal(_flat(model), seen[-1])  # the phase ends on the chosen validation weights

    _, _, _, killed, _ = _setup(syn, eval_every=2, ema_decay=0.9)
    train_phase(killed, examples, order, cfg, tmp_path / "killed", vocab["[PAD]"], max_steps=4, stop_after=2,
                select_fn=select)
    _, _, _, resumed, _ = _setup(syn, eval_every=2, ema_decay=0.9)
    train_phase(resumed, examples, order, cfg, tmp_path / "killed", vocab["[PAD]"], max_steps=4, select_fn=select)
    assert torch.equal(_flat(resumed), _flat(model))

    _, _, _, unselected, _ = _setup(syn, eval_every=2, ema_decay=0.9)  # no selection: it ends on the last average
    train_phase(unselected, examples, order, cfg, tmp_path / "unselected", vocab["[PAD]"], max_steps=4)
    average = load_file(str(tmp_path / "unselected" / "last" / "average.safetensors"))
    check.load_state_dict({k: average[str(i)] for i, k in enumerate(keys)}, strict=False)
    assert torch.equal(_flat(unselected), _flat(check))
