"""Image-task metrics on hand-made images and features with known answers, and `score_images` end to end
on a small hand-built prepared dataset (coloured shapes whose colour and category are known)."""
from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

from benchmark.data.manifest import write_manifest
from benchmark.metrics import image as im

# ---- a hand-built prepared dataset: category leaf <-> shape, colour word in the title -------------
LEAVES = {"Toys > Balls": "circle", "Toys > Blocks": "square", "Baby > Tents": "triangle",
          "Baby > Gems": "diamond"}
COLOURS = {"red": (205, 35, 40), "blue": (35, 85, 205), "green": (40, 150, 65), "yellow": (240, 205, 30)}


def draw_item(shape: str, colour: str, size: int = 32, jitter: int = 0) -> Image.Image:
    im_ = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im_)
    a, b = 6 + jitter, size - 6 + jitter
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse((a, a, b, b), fill=fill)
    elif shape == "square":
        d.rectangle((a, a, b, b), fill=fill)
    elif shape == "triangle":
        d.polygon([(a, b), (b, b), ((a + b) // 2, a)], fill=fill)
    else:
        d.polygon([((a + b) // 2, a), (b, (a + b) // 2), ((a + b) // 2, b), (a, (a + b) // 2)], fill=fill)
    return im_


def make_dataset(root: Path, per_cell: int = 6, seed: int = 0) -> Path:
    """A prepared-dataset folder (layout.py) with 4 leaves x 4 colours x per_cell items, one item
    without an image, train interactions and image-task instances (test split)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for leaf, shape in LEAVES.items():
        for colour in COLOURS:
            for k in range(per_cell):
                i = len(rows)
                draw_item(shape, colour, jitter=int(rng.integers(-2, 3))).save(root / "images" / f"{i}.png")
                rows.append({"item": i, "raw_id": f"A{i}", "domain": "Toys_and_Games", "title":
                             f"{colour.capitalize()} {shape} thing {k}", "brand": "Lunvel", "price": 9.5,
                             "category": leaf, "description": None, "image": f"images/{i}.png", "text": ""})
    n = len(rows)
    rows.append({"item": n, "raw_id": f"A{n}", "domain": "Toys_and_Games", "title": "Mystery box",
                 "brand": None, "price": float("nan"), "category": "Toys > Balls", "description": None,
                 "image": None, "text": ""})
    pd.DataFrame(rows).to_parquet(root / "items.parquet", index=False)
    # users: each likes one colour; interactions in train; instances: query = target's category
    inter, inst = [], []
    for u in range(12):
        colour = list(COLOURS)[u % 4]
        mine = [r["item"] for r in rows[:n] if r["title"].lower().startswith(colour)]
        seq = [int(x) for x in rng.choice(mine, 6, replace=False)]
        for t, item in enumerate(seq[:-1]):
            inter.append({"user": f"u{u}", "item": item, "timestamp": 1000 + t, "rating": 5.0, "review": "",
                          "summary": "", "domain": "Toys_and_Games"})
        target = seq[-1]
        inst.append({"id": f"image/test/{u}", "user": f"u{u}", "history": seq[:-1], "instruction": "x",
                     "query": rows[target]["category"], "item": None, "candidates": None,
                     "target_item": target, "target_items": None, "target_rating": None, "target_text": None})
    (root / "interactions").mkdir(exist_ok=True)
    pd.DataFrame(inter).to_parquet(root / "interactions" / "train.parquet", index=False)
    (root / "tasks" / "image").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(inst).to_parquet(root / "tasks" / "image" / "test.parquet", index=False)
    write_manifest(root, {})
    return root


SMALL_JUDGE = im.JudgeConfig(width=16, epochs=15, min_steps=0, batch_size=32, lr=3e-3, min_count=3, holdout=0.15)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    from benchmark.data.dataset import PreparedDataset

    return PreparedDataset(make_dataset(tmp_path_factory.mktemp("handmade") / "data"))


@pytest.fixture(scope="module")
def judge(handmade, tmp_path_factory):
    torch.set_num_threads(1)
    cache = tmp_path_factory.mktemp("judge_cache")
    j = im.AttributeJudge.for_dataset(handmade, cache, SMALL_JUDGE)
    j.cache = cache
    return j


# ---- pixel metrics ----------------------------------------------------------------------------------
def test_psnr_known_values():
    a = np.zeros((8, 8, 3), np.uint8)
    assert im.psnr(a, a) == im.PSNR_CAP  # identical: the documented cap, not inf
    b = a + 10                            # MSE 100 -> 10 log10(255^2 / 100)
    assert im.psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 100), abs=1e-9)
    c = a.copy()
    c[0, 0, 0] = 255                      # one channel of one pixel: MSE 255^2 / 192
    assert im.psnr(a, c) == pytest.approx(10 * math.log10(192), abs=1e-9)
    with pytest.raises(ValueError):
        im.psnr(a, np.zeros((4, 4, 3)))


def test_ssim_known_values():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)
    assert im.ssim(x, x) == pytest.approx(1.0, abs=1e-6)
    # constant images: variances 0, so SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    c1 = (0.01 * 255) ** 2
    want = (2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1)
    assert im.ssim(np.full((16, 16, 3), 100), np.full((16, 16, 3), 120)) == pytest.approx(want, abs=1e-6)
    noisy = np.clip(x.astype(int) + rng.integers(-40, 41, x.shape), 0, 255)
    inverted = 255 - x
    assert 0.0 < im.ssim(x, noisy) < 1.0
    assert im.ssim(x, inverted) < 0.0  # anti-correlated structure


def test_ssim_matches_torchmetrics_valid_region():
    """torchmetrics reflect-pads and averages the whole map; its map cropped by 5 px is ours."""
    from benchmark.data import compat

    compat.apply()
    tm = pytest.importorskip("torchmetrics.functional.image")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (30, 26, 3)).astype(np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-50, 51, x.shape), 0, 255).astype(np.uint8)
    tx, ty = (torch.from_numpy(a).permute(2, 0, 1)[None].double() for a in (x, y))
    _, full = tm.structural_similarity_index_measure(ty, tx, data_range=255.0, return_full_image=True)
    assert im.ssim(y, x) == pytest.approx(float(full[..., 5:-5, 5:-5].mean()), abs=1e-5)


# ---- token metrics ----------------------------------------------------------------------------------
def test_token_accuracy_and_nll():
    target = torch.tensor([[0, 1, 2, 3]])
    logits = torch.zeros(1, 4, 4)
    assert im.token_nll(logits, target) == pytest.approx(math.log(4))  # uniform over 4 codes
    logits[0, torch.arange(4), torch.tensor([0, 1, 0, 0])] = 5.0     # right on positions 0 and 1
    assert im.token_accuracy(logits, target) == 0.5
    assert im.token_accuracy(torch.tensor([[0, 1, 2, 0]]), target) == 0.75
    assert im.token_accuracy(torch.tensor([[0, 1, 2, 0]]), torch.tensor([[0, 1, 2, -100]])) == 1.0
    p = torch.softmax(logits[0], -1)[torch.arange(4), target[0]]
    assert im.token_nll(logits, target) == pytest.approx(float(-p.log().mean()), rel=1e-6)


# ---- set-level metrics ----------------------------------------------------------------------------
def test_frechet_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 6))
    a -= a.mean(0)
    assert im.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0, 0, 0, 0])
    assert im.frechet_distance(a, a + shift) == pytest.approx(5.0, abs=1e-6)  # |shift|^2
    # b = 2a: S_b = 4 S_a, so Tr(S + 4S - 2 * 2S) = Tr(S)
    assert im.frechet_distance(a, 2 * a) == pytest.approx(np.trace(np.cov(a, rowvar=False)), rel=1e-6)


def test_personalization_on_constructed_features():
    t = np.array([[0.0, 0], [10, 0], [0, 10], [10, 10]])
    queries, users, items = ["q1", "q1", "q2", "q2"], ["a", "b", "a", "c"], [1, 2, 3, 4]
    score, per, pairs = im.personalization(t + 0.5, t, queries, users, items)   # near own target
    assert (score, pairs) == (1.0, 2) and per.tolist() == [1.0] * 4
    swapped = t[[1, 0, 3, 2]]                                                 # each gets the other's
    assert im.personalization(swapped, t, queries, users, items)[0] == 0.0
    middle = np.array([[5.0, 0], [5, 0], [5, 10], [5, 10]])                  # equidistant: ties
    assert im.personalization(middle, t, queries, users, items)[0] == 0.5
    # same user, or same target item, is not a pair
    s, per, pairs = im.personalization(t, t, ["q"] * 2 + ["r"] * 2, ["a", "a", "b", "c"], [1, 2, 3, 3])
    assert pairs == 0 and math.isnan(s) and np.isnan(per).all()
    # mixed: in q1 one right one wrong
    gen = np.array([[0.0, 1], [0, 1], [0, 10], [10, 10]])
    s, per, _ = im.personalization(gen, t, queries, users, items)
    assert per.tolist() == [1.0, 0.0, 1.0, 1.0] and s == 0.75


# ---- the judge and score_images ---------------------------------------------------------------
def test_item_attributes_parsing():
    items = pd.DataFrame({"title": ["Red round ball", "Grey Box", None, "Plain thing"],
                          "description": ["", "A striped, square box", "blue triangular gem", None],
                          "category": ["Toys > Balls", "Home > Storage > Boxes", "", None]})
    a = im.item_attributes(items)
    assert a["category"].tolist() == ["Balls", "Boxes", None, None]
    assert a["colour"].tolist() == ["red", "gray", "blue", None]
    assert a["shape"].tolist() == ["circle", "square", "triangle", None]
    assert a["pattern"].tolist() == [None, "striped", None, None]


def test_judge_learns_and_is_cached(judge, handmade):
    assert set(judge.classes) == {"category", "colour", "shape"}
    acc = judge.info["holdout_accuracy"]
    assert acc["colour"] >= 0.9 and acc["category"] >= 0.7, acc
    files = sorted(p.suffix for p in judge.cache.iterdir())
    assert files == [".json", ".safetensors"]
    again = im.AttributeJudge.for_dataset(handmade, judge.cache, SMALL_JUDGE)  # from the cache
    probe = [draw_item("circle", "red"), draw_item("square", "blue")]
    assert np.allclose(again.run(probe)[0], judge.run(probe)[0], atol=1e-6)
    _, pred = judge.run(probe)
    assert pred["colour"].tolist() == ["red", "blue"]


def _write_predictions(run_dir: Path, instances: pd.DataFrame, images: list) -> list[dict]:
    recs = []
    for i, img in zip(instances["id"], images):
        rel = f"images/image__test/{i.replace('/', '_')}.png"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(run_dir / rel)
        recs.append({"id": i, "image": rel})
    return recs


def test_score_images_oracle_and_wrong(judge, handmade, tmp_path):
    inst = handmade.instances("image", "test")
    oracle = _write_predictions(tmp_path / "oracle", inst, [handmade.load_image(int(t)) for t in inst["target_item"]])
    s = im.score_images(inst, oracle, handmade, tmp_path / "oracle", judge=judge)
    scores, per, extra = s  # unpacks as a tuple, and answers .get like a dict
    assert s.get("per_instance") is per and s.get("nope") is None
    assert set(per) == {"psnr", "ssim", "attribute_match"} and all(len(v) == len(inst) for v in per.values())
    assert (per["psnr"] == im.PSNR_CAP).all() and np.allclose(per["ssim"], 1.0)
    assert per["attribute_match"].mean() == pytest.approx(extra["judge"]["attribute_match_of_targets"])
    assert scores["frechet"] == pytest.approx(0.0, abs=1e-3)
    assert scores["personalization"] == 1.0 and extra["personalization_pairs"] > 0
    # wrong: every target drawn in another shape and colour
    wrong_imgs = []
    for t in inst["target_item"]:
        row = handmade.items.loc[int(t)]
        shape = LEAVES[row["category"]]
        colour = row["title"].split()[0].lower()
        wrong_imgs.append(draw_item(
            [s_ for s_ in LEAVES.values() if s_ != shape][0], [c for c in COLOURS if c != colour][0]))
    wrong = _write_predictions(tmp_path / "wrong", inst, wrong_imgs)
    w_scores, w_per, _ = im.score_images(inst, wrong, handmade, tmp_path / "wrong", judge=judge)
    assert w_per["attribute_match"].mean() < 0.4 < per["attribute_match"].mean()
    assert w_per["psnr"].mean() < 20 and w_per["ssim"].mean() < 0.9
    assert w_scores["frechet"] > scores["frechet"] + 1e-3
    assert extra["attribute_match_by_attribute"] == {"category": 1.0, "colour": 1.0, "shape": 1.0}
    # an attribute the judge cannot read off real images is left out of attribute_match
    import copy

    blind = copy.copy(judge)
    blind.info = dict(judge.info, holdout_accuracy=dict(judge.info["holdout_accuracy"], category=0.1))
    _, _, b_extra = im.score_images(inst, wrong, handmade, tmp_path / "wrong", judge=blind)
    assert b_extra["judge"]["attributes_used"] == ["colour", "shape"]
    assert set(b_extra["attribute_match_by_attribute"]) == {"colour", "shape"}


def test_score_images_reports_missing_files(judge, handmade, tmp_path):
    from benchmark.data.errors import DataError

    inst = handmade.instances("image", "test")
    recs = [{"id": i, "image": f"images/none/{k}.png"} for k, i in enumerate(inst["id"])]
    with pytest.raises(DataError, match="missing"):
        im.score_images(inst, recs, handmade, tmp_path, judge=judge)
    with pytest.raises(ValueError, match="without a prediction"):
        im.score_images(inst, recs[:-1], handmade, tmp_path, judge=judge)


def test_attribute_labels_fall_back_to_the_judges_reading_of_the_target(judge, handmade, tmp_path):
    """Targets whose text names no colour still get one: what the judge reads off the target image."""
    import copy

    inst = handmade.instances("image", "test")
    view = copy.copy(handmade)
    items = handmade.items.copy()
    silent = inst["target_item"].astype(int).tolist()[::2]
    items.loc[silent, "title"] = "Thing"  # neither colour nor shape stated
    view.__dict__["items"] = items
    gen = []
    for t in inst["target_item"]:  # right shape, wrong colour
        row = handmade.items.loc[int(t)]
        colour = row["title"].split()[0].lower()
        gen.append(draw_item(LEAVES[row["category"]], [c for c in COLOURS if c != colour][0]))
    recs = _write_predictions(tmp_path, inst, gen)
    _, per, extra = im.score_images(inst, recs, view, tmp_path, judge=judge)
    assert extra["attribute_labels_from_text"]["colour"] == len(inst) - len(silent)
    assert len(per["attribute_match"]) == len(inst)
    by = extra["attribute_match_by_attribute"]
    assert by["colour"] == 0.0 and by["category"] >= 0.9 and by["shape"] >= 0.9, by


def test_token_scores_recorded_by_a_model_are_averaged_and_checked(judge, handmade, tmp_path, monkeypatch):
    inst = handmade.instances("image", "test")
    imgs = [handmade.load_image(int(t)) for t in inst["target_item"]]
    preds = _write_predictions(tmp_path / "tok", inst, imgs)
    nll = np.linspace(0.5, 2.0, len(preds))
    for p, v in zip(preds, nll):
        p.update(token_nll=float(v), token_accuracy=0.25)
    _, per, _ = im.score_images(inst, preds, handmade, tmp_path / "tok", judge=judge)
    assert np.allclose(per["token_nll"], nll) and np.allclose(per["token_accuracy"], 0.25)  # means: scoring.py
    preds[0]["token_accuracy"] = 1.5
    with pytest.raises(ValueError, match="invalid token_accuracy"):
        im.score_images(inst, preds, handmade, tmp_path / "tok", judge=judge)
    # paired comparison of two image runs, each scored against its own folder
    from benchmark.eval.scoring import compare_runs

    monkeypatch.setattr(im.AttributeJudge, "for_dataset", classmethod(lambda cls, *a, **k: judge))
    preds[0]["token_accuracy"] = 0.25
    other = _write_predictions(tmp_path / "other", inst, [imgs[-1]] * len(imgs))
    out = compare_runs("image", inst, preds, other, handmade, metric="psnr", n_boot=200,
                       run_dirs=(tmp_path / "tok", tmp_path / "other"))
    assert out["a"] == im.PSNR_CAP and out["diff"] > 0 and out["metric"] == "psnr"


def test_ssim_equals_scikit_image_gaussian_ssim():
    """The docstring's claim: scikit-image's Gaussian SSIM (population covariance) on RGB uint8."""
    from skimage.metrics import structural_similarity

    from benchmark.metrics.image import ssim

    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-60, 60, a.shape), 0, 255).astype(np.uint8)
        ref = structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
        assert abs(ssim(a, b) - ref) < 1e-6
    assert ssim(a, a) == pytest.approx(1.0)


# ---- reproducibility of the judge across machines -----------------------------------------------
_TRAIN_AND_HASH = """
import hashlib, json, sys, torch
from benchmark.data.dataset import PreparedDataset
from benchmark.metrics import image as im
torch.set_num_threads(int(sys.argv[2]))
j = im.AttributeJudge.train(PreparedDataset(sys.argv[1]), im.JudgeConfig(**json.loads(sys.argv[3])))
h = hashlib.sha256()
for k, v in sorted(j.net.state_dict().items()):
    h.update(v.float().contiguous().numpy().tobytes())
print(h.hexdigest())
"""


@pytest.mark.skipif(not torch.backends.cpu.get_cpu_capability().startswith("AVX"), reason="x86 kernels")
def test_judge_is_the_same_on_other_cpu_kernels_and_thread_counts(handmade):
    """Two fresh processes that differ as two machines would (torch's kernels for another instruction set,
    another thread count) train the same judge, bit for bit: the leaderboard recomputes with it."""
    import json
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[1])  # the repository root
    shas = []
    for capability, threads in (("avx2", 2), ("default", 1)):
        env = {**os.environ, "ATEN_CPU_CAPABILITY": capability, "PYTHONPATH": root}
        done = subprocess.run([sys.executable, "-c", _TRAIN_AND_HASH, str(handmade.root), str(threads),
                               json.dumps(asdict(SMALL_JUDGE))], env=env, capture_output=True, text=True, cwd=root)
        assert done.returncode == 0, done.stderr[-2000:]
        shas.append(done.stdout.split()[-1])
    assert shas[0] == shas[1]


def test_score_images_records_the_judges_identity(judge, handmade, tmp_path):
    inst = handmade.instances("image", "test")
    recs = _write_predictions(tmp_path, inst, [handmade.load_image(int(t)) for t in inst["target_item"]])
    ident = im.score_images(inst, recs, handmade, tmp_path, judge=judge).extra["judge"]["identity"]
    again = im.AttributeJudge.for_dataset(handmade, judge.cache, SMALL_JUDGE)  # loaded from the cache
    assert ident["weights_sha256"] == again.sha256 == im.weights_sha256(again.net.float())
    assert ident["config"] == asdict(SMALL_JUDGE) and ident["version"] == im.JUDGE_VERSION


def test_validator_names_a_different_judge():
    from leaderboard.validate import judge_differs

    same = {"judge": {"identity": {"weights_sha256": "a" * 64}}}
    assert judge_differs(same, same) is None
    other = {"judge": {"identity": {"weights_sha256": "b" * 64}}}
    assert "aaaaaaaaaaaa" in judge_differs(same, other) and "bbbbbbbbbbbb" in judge_differs(same, other)
    assert "not recorded" in judge_differs({"judge": {}}, other)
