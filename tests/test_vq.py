"""The image tokenizer: taming VQModel round trip, a short training run, checkpoints (tiny sizes)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from models.vq import VQConfig, VQTokenizer, train_vq
from models.vq.tokenizer import build_vqmodel, images_to_tensor

TINY = VQConfig(resolution=16, ch=32, ch_mult=(1, 2), z_channels=32, n_embed=64, embed_dim=16,
                batch_size=8, restart_dead_codes_every=5)
COLOURS = [(205, 35, 40), (35, 85, 205), (40, 150, 65), (240, 205, 30)]


@pytest.fixture(autouse=True)
def one_thread():
    """The machine's 2 cores are shared: one intra-op thread is many times faster under contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shapes(n: int, size: int = 16, seed: int = 0) -> list[Image.Image]:
    """Coloured squares and discs on white, at seeded positions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        im = Image.new("RGB", (size, size), (255, 255, 255))
        draw = ImageDraw.Draw(im)
        x = int(rng.integers(0, size // 3))
        box = (x, x, x + size // 2, x + size // 2)
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=COLOURS[i % 4])
        out.append(im)
    return out


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vq_images")
    paths = []
    for i, im in enumerate(shapes(16)):
        paths.append(d / f"{i}.png")
        im.save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def trained(image_files, tmp_path_factory):
    torch.set_num_threads(1)
    return train_vq(image_files, tmp_path_factory.mktemp("vq") / "tok", TINY, steps=30, seed=0, progress=False)


def test_config_grid_and_roundtrip():
    assert TINY.grid == 8 and TINY.n_tokens == 64
    assert VQConfig().grid == 8  # default: 32 px, three levels
    assert VQConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    with pytest.raises(ValueError, match="unknown"):
        VQConfig.from_dict({"resolution": 16, "nonsense": 1})


def test_encode_decode_shapes_and_range():
    torch.manual_seed(0)
    tok = VQTokenizer(build_vqmodel(TINY), TINY)
    ims = shapes(3, size=24) + [Image.new("RGB", (30, 20), (10, 200, 10))]  # one non-square image
    tokens = tok.encode(ims)
    assert tokens.shape == (4, 64) and tokens.dtype == torch.long
    assert int(tokens.min()) >= 0 and int(tokens.max()) < TINY.n_embed
    out = tok.decode(tokens)
    assert len(out) == 4 and all(im.size == (16, 16) and im.mode == "RGB" for im in out)
    with pytest.raises(ValueError, match="0..63"):
        tok.decode(torch.full((1, 64), 64))
    with pytest.raises(ValueError, match="64 tokens"):
        tok.decode(torch.zeros((1, 10), dtype=torch.long))


def test_decode_of_tokens_equals_the_models_own_forward():
    """decode(encode(x)) must equal taming's forward pass (quantize -> decode), pixel for pixel."""
    torch.manual_seed(1)
    tok = VQTokenizer(build_vqmodel(TINY), TINY)
    ims = shapes(4)
    with torch.no_grad():
        x = images_to_tensor(ims, 16)
        ref, _ = tok.model(x)
    ref_px = ((ref.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    got = np.stack([np.asarray(im) for im in tok.decode(tok.encode(ims))])
    assert np.abs(got.astype(int) - ref_px.astype(int)).max() <= 1


def test_training_reduces_loss_and_saves(trained, image_files):
    meta = json.loads((trained / "config.json").read_text())
    tr = meta["training"]
    assert (trained / "model.safetensors").is_file() and meta["format"] == "unimp-bench-vq"
    assert tr["rec_loss_last"] < 0.6 * tr["rec_loss_first"], tr
    assert tr["n_heldout_images"] == 1 and tr["n_train_images"] == 15
    held = tr["heldout"]
    assert 0 < held["psnr"] < 100 and -1 <= held["ssim"] <= 1
    tok = VQTokenizer.load(trained)
    assert tok.config == TINY
    # a trained tokenizer reconstructs better than an untrained one
    from models.vq.train import _load, evaluate_reconstruction

    torch.manual_seed(0)
    fresh = evaluate_reconstruction(VQTokenizer(build_vqmodel(TINY), TINY), _load(image_files))
    learnt = evaluate_reconstruction(tok, _load(image_files))
    assert learnt["psnr"] > fresh["psnr"] + 3, (learnt, fresh)


def test_training_is_deterministic(image_files, tmp_path):
    a = train_vq(image_files[:8], tmp_path / "a", TINY, steps=3, seed=5, progress=False)
    b = train_vq(image_files[:8], tmp_path / "b", TINY, steps=3, seed=5, progress=False)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


class _Opaque:
    """A pickled object that torch.load(weights_only=True) must refuse."""


def test_load_user_vqgan_ckpt(trained, tmp_path, image_files):
    """A taming-style Lightning checkpoint + yaml loads and tokenizes exactly like the original."""
    tok = VQTokenizer.load(trained)
    state = dict(tok.model.state_dict())
    state["loss.discriminator.main.0.weight"] = torch.zeros(2)  # discriminator keys are dropped
    torch.save({"state_dict": state, "global_step": 7, "epoch": 1}, tmp_path / "last.ckpt")
    dd = TINY.ddconfig()
    (tmp_path / "last.yaml").write_text(
        "model:\n  target: taming.models.vqgan.VQModel\n  params:\n"
        f"    embed_dim: {TINY.embed_dim}\n    n_embed: {TINY.n_embed}\n"
        f"    ddconfig: {json.dumps(dd)}\n"
        "    lossconfig:\n      target: taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator\n"
    )
    user = VQTokenizer.load(tmp_path / "last.ckpt")
    ims = [Image.open(p) for p in image_files[:4]]
    assert torch.equal(user.encode(ims), tok.encode(ims))
    assert user.n_codes == TINY.n_embed and user.grid == 8

    # anything that is not plain tensors/containers must be refused (weights_only)
    torch.save({"state_dict": state, "callbacks": _Opaque()}, tmp_path / "bad.ckpt")
    (tmp_path / "bad.yaml").write_text((tmp_path / "last.yaml").read_text())
    with pytest.raises(ValueError, match="weights_only"):
        VQTokenizer.load(tmp_path / "bad.ckpt")


def test_training_logs_its_curve(image_files, tmp_path):
    """Each step's losses reach the curve (image_gen keeps them beside the cached tokenizer and copies them into
    the run's curves.csv); the weights are the same with or without logging."""
    from benchmark.api import append_curve
    from benchmark.eval.plots import read_curves

    a = train_vq(image_files[:8], tmp_path / "a", TINY, steps=3, seed=5, progress=False,
                 curve=lambda step, name, value: append_curve(tmp_path / "run", "vq", "train", step, name, value))
    b = train_vq(image_files[:8], tmp_path / "b", TINY, steps=3, seed=5, progress=False)
    rows = read_curves(tmp_path / "run")
    assert [(r["step"], r["name"]) for r in rows] == [(s, n) for s in (1, 2, 3) for n in ("rec_loss", "codebook_loss")]
    assert all(r["regime"] == "vq" and r["value"] >= 0 for r in rows)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def test_cosine_schedule_decays_the_learning_rate_to_zero(image_files, tmp_path):
    """lr_schedule "cosine": step k of n trains at lr * (1 + cos(pi k / n)) / 2 (the last step near 0); "constant"
    keeps lr; the two give different weights; an unknown name is refused."""
    import math
    from dataclasses import replace

    from models.vq.train import lr_schedule

    steps, seen = 6, {}
    for name in ("constant", "cosine"):
        opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=2e-3)
        sched, seen[name] = lr_schedule(opt, name, steps), []
        for _ in range(steps):
            seen[name].append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    assert seen["constant"] == [2e-3] * steps
    assert seen["cosine"] == pytest.approx([2e-3 * (1 + math.cos(math.pi * k / steps)) / 2 for k in range(steps)])
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_schedule(opt, "linear", steps)
    with pytest.raises(ValueError, match="lr_schedule"):  # refused when the config is made, before any training
        replace(TINY, lr_schedule="linear")
    a = train_vq(image_files[:8], tmp_path / "a", TINY, steps=3, seed=5, progress=False)
    b = train_vq(image_files[:8], tmp_path / "b", replace(TINY, lr_schedule="cosine"), steps=3, seed=5, progress=False)
    assert (a / "model.safetensors").read_bytes() != (b / "model.safetensors").read_bytes()
    assert VQTokenizer.load(b).config.lr_schedule == "cosine"
