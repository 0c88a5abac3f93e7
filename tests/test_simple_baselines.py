"""Simple baselines: hand-computed expectations on hand-made datasets, then shapes on the tiny dataset."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from baselines.simple.bm25 import BM25Model, BM25PersonalModel
from baselines.simple.mean_rating import MeanRatingModel, MeanRatingStarModel
from baselines.simple.nearest_review import NearestReviewModel
from baselines.simple.pop import PopModel
from baselines.simple.random_model import RandomModel
from baselines.simple.text import BM25Index, tokenize
from benchmark.api.registry import MODELS
from benchmark.data import layout
from benchmark.data.dataset import PreparedDataset
from benchmark.data.manifest import write_manifest
from benchmark.data.perturb import PerturbedDataset
from benchmark.tasks import TASKS

BUILT = tuple(t for t, spec in TASKS.items() if spec.builds)  # the instance sets prepare writes

DOMAIN = "Beauty"


# ---- a hand-made dataset in the documented layout ---------------------------------------------------
def make_items(texts: list[str], categories: list[str | None] | None = None,
               domains: list[str] | None = None) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame({
        "item": np.arange(n, dtype=np.int64), "raw_id": [f"R{i}" for i in range(n)],
        "domain": domains or [DOMAIN] * n, "title": texts, "brand": [None] * n,
        "price": [np.nan] * n, "category": categories or [None] * n, "description": [None] * n,
        "image": [None] * n, "text": [f"[IMG] title {t} [EOC]" for t in texts],
    })


def make_interactions(rows: list[tuple]) -> pd.DataFrame:
    """rows: (user, item, timestamp, rating, review[, summary])."""
    rows = [r if len(r) == 6 else (*r, "") for r in rows]
    df = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating", "review", "summary"])
    df["domain"] = DOMAIN
    return df.astype({"item": "int64", "timestamp": "int64", "rating": "float64"})


def make_instances(task: str, split: str, rows: list[dict]) -> pd.DataFrame:
    cols = list(layout.INSTANCE_COLUMNS)
    full = [{c: r.get(c) for c in cols} | {"id": f"{task}/{split}/{n}", "instruction": ""}
            for n, r in enumerate(rows)]
    return pd.DataFrame(full, columns=cols)


def write_parquet(path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def make_dataset(root, items: pd.DataFrame, interactions: dict[str, pd.DataFrame],
                 instances: dict[tuple[str, str], list[dict]] | None = None) -> PreparedDataset:
    root.mkdir(parents=True, exist_ok=True)
    write_parquet(root / layout.ITEMS, items)
    empty = make_interactions([]).iloc[:0]
    for split in layout.INTERACTION_SPLITS:
        write_parquet(layout.interactions_path(root, split), interactions.get(split, empty))
    for task in BUILT:
        for split in layout.TASK_SPLITS:
            rows = (instances or {}).get((task, split), [])
            write_parquet(layout.task_path(root, task, split), make_instances(task, split, rows))
    write_manifest(root, {})
    return PreparedDataset(root)


# ---- random -----------------------------------------------------------------------------------------
def test_random_is_deterministic_per_seed_and_batch(tmp_path):
    data = make_dataset(tmp_path / "d", make_items(["a", "b", "c", "d"]), {})
    reqs = make_instances("recommendation", "test", [{"user": "u", "history": [0]}] * 3)
    sel = make_instances("selection", "test", [{"user": "u", "history": [0], "candidates": [3, 1, 2, 0, 1]}])
    a, b, c = RandomModel(seed=1), RandomModel(seed=1), RandomModel(seed=2)
    for m in (a, b, c):
        m.fit(data, "main")
    ra = a.rank("recommendation", reqs)
    assert ra.shape == (3, 4) and ra.dtype == np.float32
    np.testing.assert_array_equal(ra, b.rank("recommendation", reqs))
    np.testing.assert_array_equal(ra[1:], a.rank("recommendation", reqs.iloc[1:]))  # batching is irrelevant
    assert not np.array_equal(ra, c.rank("recommendation", reqs))
    assert not np.array_equal(ra[0], ra[1])  # instances draw independently
    assert a.rank("selection", sel).shape == (1, 5)
    many = make_instances("rating", "test", [{"user": "u", "item": 0}] * 200)
    ratings = a.predict_rating(many)
    assert ratings == b.predict_rating(many) and set(ratings) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not a.supports("explanation", "test") and a.supports("search", "test")


# ---- pop --------------------------------------------------------------------------------------------
def pop_dataset(root) -> PreparedDataset:
    items = make_items(["a", "b", "c", "d", "e"],
                       categories=["X > Y", "X > Z", "X > Y", "X > Z", None])
    train = make_interactions([("u1", 3, 1, 5, "r"), ("u2", 3, 2, 5, "r"), ("u3", 3, 3, 5, "r"),
                               ("u1", 1, 4, 4, "r"), ("u2", 1, 5, 4, "r"), ("u1", 0, 6, 3, "r")])
    nd_train = make_interactions([("u9", 4, 1, 5, "r"), ("u8", 4, 2, 5, "r"), ("u9", 2, 3, 5, "r")])
    return make_dataset(root, items, {"train": train, "new_domain_train": nd_train})


def test_pop_ranks_by_training_counts_and_excludes_nothing(tmp_path):
    data = pop_dataset(tmp_path / "d")
    m = PopModel()
    m.fit(data, "main")
    reqs = make_instances("recommendation", "test", [{"user": "u1", "history": [3, 1]}, {"user": "u4", "history": []}])
    s = m.rank("recommendation", reqs)
    assert s.shape == (2, 5) and s.dtype == np.float32
    np.testing.assert_array_equal(s, [[1, 2, 0, 3, 0]] * 2)  # item 3 first even though in u1's history

    search = make_instances("search", "test", [{"user": "u1", "history": [0], "query": "X > Z"},
                                               {"user": "u1", "history": [0], "query": "X > Y"},
                                               {"user": "u1", "history": [0], "query": "nothing"}])
    s = m.rank("search", search)
    np.testing.assert_array_equal(s, [[1, 2, 0, 3, 0]] * 3)  # pop ranks search like recommendation ...
    allowed = TASKS["search"].candidates.mask(data, "test", search)  # ... the search task keeps the query's category
    ninf = -np.inf
    np.testing.assert_array_equal(np.where(allowed, s, ninf), [[ninf, 2, ninf, 3, ninf], [1, ninf, 0, ninf, ninf], [ninf] * 5])

    sel = make_instances("selection", "test", [{"user": "u1", "history": [], "candidates": [0, 3, 1, 4, 2]}])
    np.testing.assert_array_equal(m.rank("selection", sel), [[1, 3, 2, 0, 0]])

    m.fit(data, "new_domain")  # counts come from new_domain_train only
    np.testing.assert_array_equal(m.rank("recommendation", reqs[:1]), [[0, 0, 1, 0, 2]])
    assert not m.supports("rating", "test")


# ---- bm25 -------------------------------------------------------------------------------------------
def test_bm25_index_matches_hand_computed_score_and_rank_bm25():
    docs = [["apple"], ["banana"], ["cherry"], ["apple", "banana"]]
    index = BM25Index(docs)
    # cherry: N=4, n=1 -> idf = ln(3.5/1.5); doc 2 has length 1, avgdl = 5/4
    idf = math.log(3.5 / 1.5)
    expected = idf * (1 * 2.5) / (1 + 1.5 * (1 - 0.75 + 0.75 * 1 / 1.25))
    s = index.scores([["cherry"], ["banana", "apple", "apple"], ["unknown"]])
    np.testing.assert_allclose(s[0], [0, 0, expected, 0])
    np.testing.assert_allclose(s[1], index.bm25.get_scores(["banana", "apple", "apple"]))
    np.testing.assert_array_equal(s[2], 0)
    assert tokenize("[IMG] title Red-Shirt, 100% [EOC]") == ["title", "red", "shirt", "100"]


def test_bm25_ranks_exact_match_first_and_only_answers_search(tmp_path):
    texts = ["waterproof hiking boots", "hiking socks wool", "waterproof phone case", "kitchen knife",
             "leather boots"]
    data = make_dataset(tmp_path / "d", make_items(texts), {})
    m = BM25Model()
    m.fit(data, "main")
    reqs = make_instances("search", "test", [{"user": "u", "history": [], "query": "Waterproof Hiking Boots"},
                                             {"user": "u", "history": [], "query": "kitchen"}])
    s = m.rank("search", reqs)
    assert s.shape == (2, 5) and s.dtype == np.float32
    assert s[0].argmax() == 0 and np.all(s[0, 0] > s[0, 1:])
    assert s[1].argmax() == 3 and np.all(np.delete(s[1], 3) == 0)
    assert m.supports("search", "test") and not m.supports("recommendation", "test")
    with pytest.raises(ValueError):
        m.rank("recommendation", reqs)
    # the evaluator hands over the item text to read at inference: with every attribute dropped
    # (NT at rate 1) nothing matches; the original view restores the scores
    m.set_inference_data(PerturbedDataset(data, "NT", rate=1.0))
    assert np.all(m.rank("search", reqs) == 0)
    m.set_inference_data(data)
    np.testing.assert_array_equal(m.rank("search", reqs), s)


def personal_dataset(root) -> PreparedDataset:
    # items 0 and 1 match the query "running shoes" equally; the user's history is about trail gear
    texts = ["running shoes trail", "running shoes road", "trail backpack", "trail poles",
             "road helmet", "road bottle", "kitchen knife", "garden hose", "desk lamp", "wool socks"]
    categories = ["Shoes"] * 10  # (with 6 items "trail" would be in half the documents: BM25 idf 0)
    items = make_items(texts, categories)
    trail = {"user": "t", "history": [2, 3], "query": "running shoes", "target_item": 0}
    road = {"user": "r", "history": [4, 5], "query": "running shoes", "target_item": 1}
    return make_dataset(root, items, {}, {("search", "valid"): [trail, road]})


def test_bm25_personal_picks_weight_on_valid_and_uses_history(tmp_path):
    data = personal_dataset(tmp_path / "d")
    m = BM25PersonalModel(config={"weights": [0.0, 0.3, 1.0]})
    m.fit(data, "main")
    # w=0 ties items 0 and 1 (pessimistic rank 2: HR@5 1, MRR 1/2); w=0.3 and w=1 both rank each
    # target first (the history items themselves are removed), so the smaller weight wins.
    assert m.weight == 0.3
    test = make_instances("search", "test", [{"user": "t", "history": [2, 3], "query": "running shoes"},
                                             {"user": "r", "history": [4, 5], "query": "running shoes"}])
    s = m.rank("search", test)
    assert s.shape == (2, 10) and s.dtype == np.float32
    assert s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]
    pure = BM25Model()
    pure.fit(data, "main")
    p = pure.rank("search", test)
    assert p[0, 0] == p[0, 1]  # the query alone cannot tell them apart
    assert m.describe()["selected"]["main"]["weight"] == 0.3


# ---- mean-rating ------------------------------------------------------------------------------------
def test_mean_rating_recovers_biases_and_selects_lambda_on_valid(tmp_path):
    user_bias = {"a": -1.0, "b": 0.0, "c": 1.0}
    item_bias = [-1.0, 0.0, 1.0]
    rows = [(u, i, i, 3.0 + bu + item_bias[i], "") for u, bu in user_bias.items() for i in range(3)]
    valid = [{"user": "a", "item": 0, "target_rating": 1.0}, {"user": "c", "item": 2, "target_rating": 5.0}]
    data = make_dataset(tmp_path / "d", make_items(["x", "y", "z", "w"]), {"train": make_interactions(rows)},
                        {("rating", "valid"): valid})
    m = MeanRatingModel(config={"lambdas": [0, 1000]})
    m.fit(data, "main")
    assert m.selection["main"]["lambda"] == 0  # exact biases give valid MAE 0; lambda 1000 shrinks them
    assert m.mu == pytest.approx(3.0)
    np.testing.assert_allclose(m.b_item[:3], item_bias, atol=1e-8)
    np.testing.assert_allclose([m.b_user[m.user_index.get_loc(u)] for u in "abc"], [-1, 0, 1], atol=1e-8)
    reqs = make_instances("rating", "test", [{"user": "c", "item": 2}, {"user": "a", "item": 3},
                                             {"user": "new", "item": 0}, {"user": "new", "item": 3}])
    np.testing.assert_allclose(m.predict_rating(reqs), [5.0, 2.0, 2.0, 3.0], atol=1e-8)
    m.mu = 4.5  # clipping to [1, 5]
    assert m.predict_rating(reqs)[0] == 5.0
    assert m.supports("rating", "test") and not m.supports("recommendation", "test")


def test_mean_rating_star_reads_out_whole_stars_with_an_offset_chosen_on_valid(tmp_path):
    # exact biases (lambda 0): mu = 4, users a/b/c 0/+1/-1, items 0 and 1 both 0
    rows = [("a", 0, 1, 4.0, ""), ("a", 1, 2, 4.0, ""), ("b", 0, 3, 5.0, ""), ("b", 1, 4, 5.0, ""),
            ("c", 0, 5, 3.0, ""), ("c", 1, 6, 3.0, "")]
    # valid scores 4, 4, 3 against truths 5, 5, 3: an offset above 0.5 gets both of "a" right and "c"
    # wrong (MAE 1/3); below it, the reverse (MAE 2/3). The smallest such offset on the grid is 0.55.
    valid = [{"user": "a", "item": 2, "target_rating": 5.0}, {"user": "a", "item": 3, "target_rating": 5.0},
             {"user": "c", "item": 2, "target_rating": 3.0}]
    data = make_dataset(tmp_path / "d", make_items(["x", "y", "z", "w"]), {"train": make_interactions(rows)},
                        {("rating", "valid"): valid})
    m = MeanRatingStarModel(config={"lambdas": [0]})
    m.fit(data, "main")
    assert m.mu == pytest.approx(4.0)
    assert m.selection["main"]["offset"] == 0.55
    assert m.selection["main"]["valid_mae"]["0.0"] == pytest.approx(1 / 3)
    reqs = make_instances("rating", "test", [{"user": "b", "item": 0}, {"user": "new", "item": 3},
                                             {"user": "c", "item": 0}])
    assert m.predict_rating(reqs) == [5.0, 5.0, 4.0]  # 5.55 clipped; 4.55 and 3.55 rounded
    plain = MeanRatingModel(config={"lambdas": [0]})  # the mean read-out: no offset, no rounding
    plain.fit(data, "main")
    assert "offset" not in plain.selection["main"]
    np.testing.assert_allclose(plain.predict_rating(reqs), [5.0, 4.0, 3.0], atol=1e-8)


# ---- nearest-review ---------------------------------------------------------------------------------
def test_nearest_review_returns_review_of_most_similar_item(tmp_path):
    texts = ["red cotton shirt", "red cotton shirt pocket", "steel kettle", "red shirt", "blue denim jeans"]
    train = make_interactions([
        ("C", 1, 10, 5, "Soft and warm. Would buy again.", "s"),
        ("D", 3, 11, 4, "Runs small. Otherwise fine.", "s"),
        ("B", 2, 12, 5, "", "Boils fast"),
        ("C", 4, 13, 3, "Too stiff.", "s"),
        ("E", 4, 14, 4, "Classic fit.", "s"),
    ])
    data = make_dataset(tmp_path / "d", make_items(texts), {"train": train})
    m = NearestReviewModel()
    m.fit(data, "main")
    reqs = make_instances("explanation", "test", [
        {"user": "E", "item": 0},   # nearest reviewed item is 1 (reviewed by C): C's first sentence
        {"user": "C", "item": 0},   # item 1's only reviewer is C itself: skip to item 3 (D)
        {"user": "Z", "item": 2},   # the item itself was reviewed; review empty -> summary
        {"user": "C", "item": 4},   # item 4: C reviewed first, so E's review is used
        {"user": "Z", "item": 4},   # unknown user: the earliest review
    ])
    assert m.generate_text(reqs) == ["Soft and warm.", "Runs small.", "Boils fast", "Classic fit.", "Too stiff."]
    assert m.supports("explanation", "test") and not m.supports("rating", "test")


# ---- every verb on the tiny prepared dataset --------------------------------------------------------
SUPPORTED = {
    RandomModel: ("recommendation", "search", "selection", "rating"),
    PopModel: ("recommendation", "search", "selection"),
    BM25Model: ("search",),
    BM25PersonalModel: ("search",),
    MeanRatingModel: ("rating",),
    MeanRatingStarModel: ("rating",),
    NearestReviewModel: ("explanation",),
}


@pytest.mark.parametrize("cls", list(SUPPORTED), ids=lambda c: c.name)
def test_shapes_on_tiny_dataset(cls, tiny_data):
    data = PreparedDataset(tiny_data)
    model = cls(seed=0)
    assert model.name in MODELS  # its description lives in the registry
    for regime, splits in (("main", ("test", "new_user")), ("new_domain", ("new_domain",))):
        model.fit(data, regime)
        for task in BUILT:
            for split in splits:
                assert model.supports(task, split) == (task in SUPPORTED[cls])
                if task not in SUPPORTED[cls]:
                    continue
                reqs = data.instances(task, split).head(40)
                if task in ("recommendation", "search"):
                    out = model.rank(task, reqs)
                    assert out.shape == (len(reqs), data.n_items) and out.dtype == np.float32
                    assert not np.isnan(out).any()
                elif task == "selection":
                    out = model.rank(task, reqs)
                    assert out.shape == (len(reqs), 5) and out.dtype == np.float32
                elif task == "rating":
                    out = model.predict_rating(reqs)
                    assert len(out) == len(reqs) and all(1 <= float(x) <= 5 for x in out)
                elif task == "explanation":
                    out = model.generate_text(reqs)
                    assert len(out) == len(reqs) and all(isinstance(t, str) and t for t in out)
                    assert all(len(t.split()) <= 30 for t in out)
