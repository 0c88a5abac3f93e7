"""A tiny synthetic prepared dataset (benchmark.data.layout format) for UniMP's own tests and benchmark
script, independent of the data pipeline. Structure that a model can learn: each user stays in one
category and walks its items in a fixed cyclic order; images are coloured by category."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.api import instruction, layout, manifest


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


COLORS = ["red", "blue", "green", "yellow", "black", "white"]
NOUNS = ["shoe", "toy", "cream", "snack", "ball", "bottle", "pen"]


def make_dataset(root: str | Path, n_items: int = 48, n_users: int = 40, seq_len: int = 8,
                 image_size: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / layout.IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    n_cat = 6
    cat = np.arange(n_items) % n_cat
    domain = [layout.NEW_DOMAIN if i >= n_items - 2 * n_cat else layout.TRAINING_DOMAINS[c % 6] for i, c in enumerate(cat)]
    rows = []
    for i in range(n_items):
        has_img = i % 7 != 3
        if has_img:
            rgb = np.array([(cat[i] * 40) % 256, (cat[i] * 90) % 256, (cat[i] * 150) % 256], dtype=np.int16)
            px = np.clip(rgb + rng.integers(-20, 20, (image_size, image_size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(px).save(root / "images" / f"{i}.png")
        title = f"{COLORS[cat[i]]} {NOUNS[i % len(NOUNS)]} {i}"
        category = f"{domain[i]} > {COLORS[cat[i]]} things"
        rows.append(dict(item=i, raw_id=f"R{i}", domain=domain[i], title=title, brand=f"brand{i % 5}",
                         price=float(i), category=category, description=None,
                         image=f"images/{i}.png" if has_img else None,
                         text=f"[IMG] title {title} brand brand{i % 5} price {i:.2f} category {category} [EOC]"))
    items = pd.DataFrame(rows)
    write_parquet(root / layout.ITEMS, items)
    by_cat = {c: [i for i in range(n_items) if cat[i] == c] for c in range(n_cat)}
    splits = {s: [] for s in ("train", "valid", "test", "new_user", "new_domain_train", "new_domain_valid", "new_domain")}
    for u in range(n_users):
        c = int(rng.integers(0, n_cat))
        pool = [i for i in by_cat[c] if domain[i] != layout.NEW_DOMAIN]
        start = int(rng.integers(0, len(pool)))
        seq = [pool[(start + k) % len(pool)] for k in range(seq_len)]
        user = f"u{u}"
        if u % 10 == 9:
            splits["new_user"].append((user, seq[:-1], seq[-1]))
            continue
        for t in range(2, seq_len - 2):
            splits["train"].append((user, seq[:t], seq[t]))
        splits["valid"].append((user, seq[:-2], seq[-2]))
        splits["test"].append((user, seq[:-1], seq[-1]))
        if u % 4 == 0:
            nd = [i for i in range(n_items) if domain[i] == layout.NEW_DOMAIN]
            splits["new_domain_train"].append((user, nd[:3], nd[3]))
            splits["new_domain_valid"].append((user, nd[:4], nd[4]))
            splits["new_domain"].append((user, nd[:5], nd[5]))
    for split, events in splits.items():
        for task in ("recommendation", "search", "selection", "rating", "explanation"):
            recs = []
            for n, (user, hist, target) in enumerate(events):
                r = {k: None for k in layout.INSTANCE_COLUMNS}
                r.update(id=f"{task}/{split}/{n}", user=user, history=[int(h) for h in hist],
                         instruction=instruction(task))
                if task in ("recommendation", "search"):
                    r["target_item"] = int(target)
                    if task == "search":
                        r["query"] = items.at[target, "category"]
                        r["instruction"] = r["instruction"].replace("[Query]", r["query"])
                elif task == "selection":
                    negs = [i for i in range(n_items) if domain[i] == domain[target] and i not in hist and i != target]
                    if len(negs) < 4:
                        negs = [i for i in range(n_items) if (domain[i] == layout.NEW_DOMAIN) == (domain[target] == layout.NEW_DOMAIN)
                                and i not in hist and i != target]
                    cands = [int(target)] + [int(x) for x in rng.choice(negs, 4, replace=False)]
                    rng.shuffle(cands)
                    r.update(candidates=cands, target_items=[int(target)])
                else:
                    r["item"] = int(target)
                    if task == "rating":
                        r["target_rating"] = float(1 + (target + u) % 5)
                    else:
                        r["target_text"] = f"the {COLORS[cat[target]]} one is great"
                recs.append(r)
            df = pd.DataFrame(recs, columns=list(layout.INSTANCE_COLUMNS))
            write_parquet(layout.task_path(root, task, split), df)
    manifest.write_manifest(root, {"seed": seed})
    return root
