"""The embedded world (tiny scale): Amazon 2014 formats, determinism, and the latent structure that
makes the tasks learnable (ratings follow the match, order carries signal, the image tells colour)."""
from __future__ import annotations

import ast
import datetime as dt
import gzip
import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.data.layout import ALL_DOMAINS, NEW_DOMAIN, TRAINING_DOMAINS
from benchmark.data.world import generate_world, simulate
from benchmark.data.world import taxonomy as tx
from benchmark.data.world.text import CLAUSES

REVIEW_KEYS = {"reviewerID", "asin", "helpful", "reviewText", "overall", "summary", "unixReviewTime", "reviewTime"}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return generate_world(tmp_path_factory.mktemp("world") / "tiny", scale="tiny", seed=0)


@pytest.fixture(scope="module")
def latent():
    return simulate("tiny", seed=0)


@pytest.fixture(scope="module")
def reviews(world_dir) -> pd.DataFrame:
    frames = []
    for d in ALL_DOMAINS:
        with gzip.open(world_dir / f"reviews_{d}_5.json.gz", "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        frame = pd.DataFrame(rows)
        frame["domain"] = d
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def meta(world_dir) -> dict[str, dict]:
    out = {}
    for d in ALL_DOMAINS:
        with gzip.open(world_dir / f"meta_{d}.json.gz", "rt", encoding="utf-8") as f:
            for line in f:
                rec = ast.literal_eval(line)
                rec["domain"] = d
                out[rec["asin"]] = rec
    return out


def _hashes(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reviews_are_2014_json_lines(reviews, meta):
    assert set(reviews.domain) == set(ALL_DOMAINS)
    for rec in reviews.head(2000).to_dict("records"):
        assert REVIEW_KEYS <= set(k for k, v in rec.items() if not (isinstance(v, float) and np.isnan(v)))
        assert isinstance(rec["overall"], float) and rec["overall"] in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert isinstance(rec["unixReviewTime"], int) and rec["unixReviewTime"] % 86400 == 0
        day = dt.datetime.fromtimestamp(rec["unixReviewTime"], dt.timezone.utc)
        assert rec["reviewTime"] == f"{day.month:02d} {day.day}, {day.year}"
        up, total = rec["helpful"]
        assert 0 <= up <= total
        assert rec["reviewText"] and rec["summary"]
        assert meta[rec["asin"]]["domain"] == rec["domain"]
    assert reviews.reviewerName.isna().any() and reviews.reviewerName.notna().mean() > 0.8


def test_meta_is_python_literal_with_gaps(world_dir, meta):
    raw = gzip.open(world_dir / "meta_Beauty.json.gz", "rt").readline()
    assert raw.startswith("{'asin': ")  # repr, not JSON
    for rec in meta.values():
        cats = rec["categories"]
        assert isinstance(cats, list) and all(isinstance(c, list) for c in cats)
        assert 3 <= max(len(c) for c in cats) <= 4
        if "imUrl" in rec:
            assert rec["imUrl"] == f"images/{rec['asin']}.png" and (world_dir / rec["imUrl"]).is_file()
        else:
            assert not (world_dir / "images" / f"{rec['asin']}.png").exists()
    n = len(meta)
    for key, low, high in (("imUrl", 0.02, 0.08), ("brand", 0.05, 0.2), ("price", 0.08, 0.25),
                           ("description", 0.05, 0.2)):
        missing = sum(key not in r for r in meta.values()) / n
        assert low <= missing <= high, key
    assert len(list((world_dir / "images").iterdir())) == sum("imUrl" in r for r in meta.values())
    # leaf categories are shared by several items (the search query is the leaf path)
    leaves = pd.Series([" > ".join(max(r["categories"], key=len)) for r in meta.values()])
    assert leaves.value_counts().median() >= 4


def test_same_seed_same_bytes_other_seed_differs(world_dir, tmp_path):
    again = generate_world(tmp_path / "again", scale="tiny", seed=0)
    assert _hashes(again) == _hashes(world_dir)
    raw = gzip.open(world_dir / "reviews_Baby_5.json.gz").read()
    assert gzip.decompress(gzip.compress(raw, mtime=0)) == raw
    header = (world_dir / "reviews_Baby_5.json.gz").read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08  # mtime 0, no file name
    other = _hashes(generate_world(tmp_path / "other", scale="tiny", seed=1))
    same = _hashes(world_dir)
    assert other.keys() != same.keys()  # other asins, so other image names
    assert all(other[k] != same[k] for k in other if k.endswith(".gz"))


def test_files_do_not_depend_on_the_worker_processes(world_dir, tmp_path, monkeypatch):
    """Domain files and image batches are written by worker processes, each from its own random stream: one
    worker per pool gives the same bytes as two (another order of work)."""
    from benchmark.data.world import writer

    monkeypatch.setattr(writer, "WORKERS", 1)
    assert _hashes(generate_world(tmp_path / "one", scale="tiny", seed=0)) == _hashes(world_dir)


def test_generate_world_keeps_same_world_and_refuses_foreign_folder(world_dir, tmp_path):
    stamp = (world_dir / "world.json").stat().st_mtime_ns
    assert generate_world(world_dir, scale="tiny", seed=0) == world_dir
    assert (world_dir / "world.json").stat().st_mtime_ns == stamp
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_world(foreign, scale="tiny", seed=0)
    assert (foreign / "notes.txt").read_text() == "mine"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_colour_only_in_image_for_hidden_items(world_dir, meta, latent):
    cat = latent.catalogue
    asin_index = {a: i for i, a in enumerate(cat.asin)}
    hidden_checked = shown_checked = 0
    for asin, rec in meta.items():
        i = asin_index[asin]
        colour = tx.COLOURS[cat.colour[i]]
        text_words = _words(rec.get("title", "") + " " + rec.get("description", ""))
        if cat.colour_shown[i]:
            if "title" in rec:
                assert colour in _words(rec["title"])
                shown_checked += 1
            continue
        assert not text_words & set(tx.COLOURS), (asin, rec)
        if "imUrl" not in rec:
            continue
        img = np.asarray(Image.open(world_dir / rec["imUrl"]).convert("RGB")).astype(float)
        corners = np.stack([img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]])
        shape_px = img[np.abs(img - np.median(corners, axis=0)).sum(-1) > 60]
        assert len(shape_px) > img.shape[0] * img.shape[1] * 0.1
        seen = np.argmin(((np.array(tx.PALETTE) - np.median(shape_px, axis=0)) ** 2).sum(1))
        assert tx.COLOURS[seen] == colour, asin
        hidden_checked += 1
    assert hidden_checked >= 30 and shown_checked >= 60


def test_ratings_follow_recomputed_match(reviews, latent):
    """Recompute the match from tastes and item attributes (users and pairs without drift only),
    join to the ratings as written in the files."""
    cat, users = latent.catalogue, latent.users
    uidx = {u: i for i, u in enumerate(users.reviewer_id)}
    iidx = {a: i for i, a in enumerate(cat.asin)}
    pair_of = {(u, d): p for p, (u, d) in enumerate(zip(users.pair_user.tolist(), users.pair_domain.tolist()))}
    u = reviews.reviewerID.map(uidx).to_numpy()
    i = reviews.asin.map(iidx).to_numpy()
    p = np.array([pair_of[(a, ALL_DOMAINS.index(d))] for a, d in zip(u, reviews.domain)])
    keep = ~users.colour_drift[u] & ~users.category_drift[p]
    u, i, p, rating = u[keep], i[keep], p[keep], reviews.overall.to_numpy()[keep]
    colour = cat.colour[i] == users.fav_colour[u, 0]
    match = (1.2 * colour + 0.6 * (cat.shape[i] == users.fav_shape[u])
             + 0.8 * (cat.leaf_subtree[cat.leaf[i]] == users.pair_subtree[p, 0])
             + 0.7 * (cat.brand[i][:, None] == users.pair_brands[p]).any(1)
             + 0.6 * (1 - np.minimum(np.abs(cat.price_z[i] - users.price_pref[u]), 2)))
    assert len(rating) > 500
    assert np.corrcoef(match, rating)[0, 1] > 0.35
    assert rating[colour].mean() - rating[~colour].mean() > 0.3
    counts = np.bincount(rating.astype(int), minlength=6)[1:] / len(rating)
    assert counts[4] > 0.4 and counts[3] + counts[4] > 0.6 and counts[0] > 0.01  # 1-5, skewed to 4-5


def test_review_text_matches_rating(reviews):
    text = reviews.reviewText
    liked, disliked = "just what I wanted|I love the .* shade", "not really my style|just not my color"
    # anywhere in the review (later sentences describe attributes that did not decide the rating) ...
    assert reviews.overall[text.str.contains(liked)].mean() - reviews.overall[text.str.contains(disliked)].mean() > 0.5
    # ... and the first clause (the explanation target starts with it) names what decided the rating
    first = text.str.split(r"\. ", n=1, regex=True).str[0]
    lead = first.str.split(", but ", n=1).str[0].str.rstrip(".")

    def pattern(sign: str) -> str:
        clauses = [c for key, group in CLAUSES.items() if (("+" in key) == (sign == "+")) for c in group]
        return "^(?:" + "|".join(re.escape(c).replace(r"\{", "{").replace(r"\}", "}")
                                 .replace("{colour}", ".+").replace("{shape}", ".+").replace("{noun}", ".+")
                                 .replace("{brand}", ".+") for c in clauses) + ")$"

    positive, negative = lead.str.match(pattern("+"), case=False), lead.str.match(pattern("-"), case=False)
    assert (positive | negative).all() and not (positive & negative).any()
    assert reviews.overall[positive].mean() - reviews.overall[negative].mean() > 2
    assert first.str.split().str.len().max() <= 30 and first.nunique() > 100


def test_multi_domain_users_and_office_overlap(reviews):
    per_user = reviews[reviews.domain.isin(TRAINING_DOMAINS)].groupby("reviewerID").domain.nunique()
    assert (per_user >= 2).mean() > 0.2
    office = set(reviews.reviewerID[reviews.domain == NEW_DOMAIN])
    assert office & set(per_user.index) and office - set(per_user.index)


def _five_core(df: pd.DataFrame) -> pd.DataFrame:
    while True:
        users = df.groupby("reviewerID").asin.transform("size")
        items = df.groupby("asin").reviewerID.transform("size")
        keep = (users >= 5) & (items >= 5)
        if keep.all():
            return df
        df = df[keep]


def test_survives_five_core_with_duplicates_and_ties(reviews):
    dup = reviews.duplicated(["reviewerID", "asin"], keep=False)
    assert 0 < reviews.duplicated(["reviewerID", "asin"]).sum() <= 0.02 * len(reviews)
    first = reviews[dup].groupby(["reviewerID", "asin"]).unixReviewTime.agg(["min", "max"])
    assert (first["max"] > first["min"]).all()  # a repeat comes later, so "keep earliest" is defined
    deduped = reviews.sort_values("unixReviewTime").drop_duplicates(["reviewerID", "asin"])
    for d in ALL_DOMAINS:
        part = deduped[deduped.domain == d]
        assert part.groupby("reviewerID").size().min() >= 5
        core = _five_core(part)
        assert len(core) >= 0.85 * len(part), d
    office_users = _five_core(deduped[deduped.domain == NEW_DOMAIN]).reviewerID.nunique()
    assert office_users >= 20
    ties = deduped.duplicated(["reviewerID", "domain", "unixReviewTime"]).mean()
    assert 0.005 < ties < 0.25


def test_sequence_order_carries_signal(reviews, meta):
    """Consecutive reviews of a user in a domain share a leaf category (or are complements, or
    'also bought') far more often than the same reviews in shuffled order."""
    df = reviews.sort_values(["reviewerID", "domain", "unixReviewTime"], kind="stable").drop_duplicates(
        ["reviewerID", "asin"])
    leaf = df.asin.map(lambda a: " > ".join(max(meta[a]["categories"], key=len)))
    same_user = (df.reviewerID.to_numpy()[1:] == df.reviewerID.to_numpy()[:-1]) & \
        (df.domain.to_numpy()[1:] == df.domain.to_numpy()[:-1])
    same = (leaf.to_numpy()[1:] == leaf.to_numpy()[:-1])[same_user].mean()
    shuffled = df.assign(key=np.random.default_rng(0).random(len(df))).sort_values(
        ["reviewerID", "domain", "key"], kind="stable")
    sleaf = shuffled.asin.map(lambda a: " > ".join(max(meta[a]["categories"], key=len))).to_numpy()
    base = (sleaf[1:] == sleaf[:-1])[same_user].mean()
    assert same > 1.2 * base


def test_world_json_records_params_and_truth(world_dir):
    info = json.loads((world_dir / "world.json").read_text())
    assert info["seed"] == 0 and info["params"]["scale"]["name"] == "tiny"
    assert set(info["truth"]["domains"]) == set(ALL_DOMAINS)
    assert info["truth"]["corr_rating_match"] > 0.3
    for name, sha in info["files"].items():
        assert hashlib.sha256((world_dir / name).read_bytes()).hexdigest() == sha


# ---- rating ceilings (benchmark/data/world/ceiling.py) ------------------------------------------------------
def test_prompt_features_count_the_same_pairs_earlier_items(latent):
    from benchmark.data.world.ceiling import prompt_features

    it, cat = latent.interactions, latent.catalogue
    rows, x = prompt_features(latent)
    assert len(rows) == len(x) and not it.duplicate[rows].any()
    for r, f in zip(rows[::97], x[::97]):  # direct recomputation for a sample of rows
        hist = [j for j in range(r - 1, max(-1, r - 6), -1) if it.pair[j] == it.pair[r] and not it.duplicate[j]]
        t, h = it.item[r], it.item[hist]
        assert f[7] == len(hist) > 0
        assert f[:4].tolist() == [float((a[h] == a[t]).sum()) for a in (cat.colour, cat.shape, cat.brand, cat.leaf)]
        assert f[4] == pytest.approx(cat.price_z[t] - cat.price_z[h].mean())


def test_item_means_leave_the_row_out_and_shrink():
    from benchmark.data.world.ceiling import item_means

    item = np.array([0, 0, 0, 1])
    y = np.array([5.0, 3.0, 4.0, 1.0])
    fit = np.array([True, True, False, True])  # global fit mean 3
    got = item_means(item, y, fit, n_items=2, shrink=1.0)
    # row 0: item 0's other fit rating (3) + 1 pseudo-review at 3 -> 3; row 2 (not fit): (5+3+3)/3
    assert got.tolist() == pytest.approx([3.0, 4.0, 11 / 3, 3.0])


def test_rating_ceilings_order_as_the_latent_truth_implies(latent):
    from benchmark.data.world.ceiling import ceilings

    res = ceilings(latent, seed=0)
    assert res["n_eval"] > 100 and res["n_fit"] > res["n_eval"]
    # knowing more of the latent rating can only help; everything but the noise beats always-5 by far
    assert res["latent_match+quality+bias"] < res["latent_match+quality"] < res["always_5"] - 0.1
    assert 0.0 < res["always_5"] < 4.0
