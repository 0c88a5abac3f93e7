"""The prepared-dataset layout: one place that names every file `prepare` writes.

A prepared dataset is a folder::

    manifest.json                   sha256 of every file below, counts, seed, decisions, source
    data_card.md                    generated card with Table-5-style statistics
    items.parquet                   one row per item (all seven domains), see ITEM_COLUMNS
    images/<item_token>.png         one image per item that has one (re-encoded, fixed size)
    interactions/<split>.parquet    see INTERACTION_COLUMNS and INTERACTION_SPLITS
    tasks/<task>/<split>.parquet    frozen task instances, see INSTANCE_COLUMNS; for the scored splits
                                    (test, new_user, new_domain) the inputs only

and, beside it (`<name>.labels/`, kept by the maintainer, never published), the sealed answers of the
scored splits (benchmark.data.labels)::

    labels.json                     {"dataset_sha256": ..., "files": {relative path: sha256}}
    tasks/<task>/<split>.parquet    "id" + the answer columns the task declares (TaskSpec.answers)
    interactions/<split>.parquet    the scored interaction files (regimes.SEALED_INTERACTIONS)

The public manifest lists the labels files' sha256 under "labels" (a commitment), and the dataset sha256
covers them.

Item tokens are ints 0..n_items-1 from a seeded random permutation over all items.
"""
from __future__ import annotations

from pathlib import Path

TRAINING_DOMAINS = (
    "Baby",
    "Beauty",
    "Clothing_Shoes_and_Jewelry",
    "Grocery_and_Gourmet_Food",
    "Sports_and_Outdoors",
    "Toys_and_Games",
)
NEW_DOMAIN = "Office_Products"
ALL_DOMAINS = TRAINING_DOMAINS + (NEW_DOMAIN,)

# items.parquet
ITEM_COLUMNS = {
    "item": "int64",          # the opaque item token (seeded permutation)
    "raw_id": "string",       # the release's id (asin / parent_asin / table id)
    "domain": "string",
    "title": "string",        # None when the release lacks it
    "brand": "string",
    "price": "float64",       # NaN when absent
    "category": "string",     # deepest category path joined with " > "
    "description": "string",
    "image": "string",        # relative path "images/<item>.png" or None (item kept, marked)
    "text": "string",         # flattened attribute dictionary "[IMG] title ... [EOC]" (protocol 1.4)
}

# interactions/<split>.parquet, rows sorted by (user, position)
INTERACTION_COLUMNS = {
    "user": "string",
    "item": "int64",
    "timestamp": "int64",     # unix seconds
    "rating": "float64",
    "review": "string",
    "summary": "string",
    "domain": "string",
}
# train/valid/test: the training-domain users that are not new users (leave-last-out).
# new_user: every interaction of the held-out 10% of users (never in any training file).
# new_domain_*: Office_Products' own leave-last-out split.
INTERACTION_SPLITS = (
    "train", "valid", "test", "new_user",
    "new_domain_train", "new_domain_valid", "new_domain_test",
)

# Task-instance splits. `new_domain` is Office_Products' test split; the model adapts on
# `new_domain_train` (and selects on `new_domain_valid`): see benchmark.data.regimes.
# The tasks (and so the folders under tasks/) are declared in benchmark.tasks.
TASK_SPLITS = ("train", "valid", "test", "new_user", "new_domain_train", "new_domain_valid", "new_domain")

# tasks/<task>/<split>.parquet. Columns that a task does not use are null.
INSTANCE_COLUMNS = {
    "id": "string",           # "<task>/<split>/<n>", unique across the dataset
    "user": "string",
    "history": "list<int64>", # the user's item tokens before the target, oldest first (all of them;
                              # the paper's prompts use the last EVAL_HISTORY)
    "instruction": "string",  # the paper's instruction wording (A.2) for this task
    "query": "string",        # search / image: the target's category path
    "item": "int64",          # rating / explanation: the item the question is about
    "candidates": "list<int64>",  # selection: 5 shuffled candidates
    "target_item": "int64",   # recommendation / search / image: the next item
    "target_items": "list<int64>",  # selection: the k positives
    "target_rating": "float64",     # rating
    "target_text": "string",        # explanation
}
EVAL_HISTORY = 5

MANIFEST = "manifest.json"
LABELS_MARKER = "labels.json"  # marks a labels folder (and names the dataset it belongs to)
LABELS_SUFFIX = ".labels"      # default labels folder: <dataset folder name>.labels beside it
# Hashes of the files as last verified, keyed by (size, mtime, ctime): not part of the dataset (see
# benchmark.data.integrity), so never listed in the manifest nor hashed into the dataset sha256.
VERIFY_CACHE = ".verify-cache.json"
# In a task view (benchmark.data.views), not in a prepared dataset: the scored instance files it withholds.
VIEW_FILE = "view.json"
DATA_CARD = "data_card.md"
SKIPPED = "skipped.jsonl"  # every record `prepare --skip-bad` skipped, with its file and line (only when any)
ITEMS = "items.parquet"
IMAGES_DIR = "images"


def interactions_path(root: Path, split: str) -> Path:
    return Path(root) / "interactions" / f"{split}.parquet"


def task_path(root: Path, task: str, split: str) -> Path:
    return Path(root) / "tasks" / task / f"{split}.parquet"
