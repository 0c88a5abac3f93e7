"""`unimp-bench prepare`: raw release files -> a frozen, checksummed benchmark folder (protocol 1-2).

The answers of the scored splits (test, new_user, new_domain) go to a separate labels folder
(`<out>.labels` by default; `benchmark.data.labels`), whose files' sha256 the public manifest records.

The whole dataset is written into a staging folder beside `out` and renamed into place only when
complete (the labels folder likewise, just after it), so an interrupted run never leaves a folder that looks like a dataset. `--force` replaces only a
folder that is a prepared dataset (it has a manifest), and the old one is removed only once the new one is in place.
"""
from __future__ import annotations

import gc
import importlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from benchmark import __version__
from benchmark.data import layout
from benchmark.data.errors import DataError, SkipReport
from benchmark.data.images import normalize_to_file, resolve_images
from benchmark.data.io import (
    remove_stale_staging,
    row_group_writer,
    staged_dir,
    write_json,
    write_parquet,
    write_text,
)
from benchmark.data.item_text import attribute_dict, flatten
from benchmark.data.labels import default_labels_dir, is_labels_folder, marker
from benchmark.data.manifest import KnownDigests, file_hashes, is_prepared_dataset, write_manifest_and_card
from benchmark.data.memory import release_freed_memory
from benchmark.data.processing import (
    dedupe_earliest,
    domain_stats,
    k_core,
    seeded_permutation,
    sequence_order,
    sorted_unique,
)
from benchmark.data.regimes import EVAL_SPLITS, SEALED_INTERACTIONS, protocol_name
from benchmark.data.sequences import MAX_HISTORY, Sequences, SplitEvents
from benchmark.data.sources import table
from benchmark.data.sources.common import ANY_TIME, Limits
from benchmark.data.sources.table import timestamps_are_positions
from benchmark.data.spill import (
    DOMAIN_CODE,
    HAS_EXPLANATION,
    ROW,
    SOURCE_ROW,
    TEXTS,
    gather,
    spill_dir,
    spill_path,
    spill_texts,
)
from benchmark.data.world import generate_world
from benchmark.tasks import ANSWER_COLUMNS, TASKS
from benchmark.tasks.builder import TaskBuilder, item_queries
from benchmark.tasks.selection import N_CANDIDATES

DECISIONS = {
    "dedupe": "per domain, one review per (user, item): the earliest (ties: first line in the file)",
    "k_core": "iterative 5-core on users and items, per domain",
    "merge": "six training domains merged by reviewer id; ties in time broken by domain name then item id",
    "item_tokens": "opaque ints from a seeded random permutation of items sorted by (domain, raw id)",
    "item_text": "[IMG] title .. brand .. price .. category .. description .. [EOC], 20 words per value, absent keys omitted",
    "category": "deepest category path joined with ' > '",
    "splits": "leave-last-out per user: last = test, second-to-last = valid, rest = train",
    "new_users": "10% of training-domain users (seeded), held out of every training file, including Office_Products",
    "new_domain": "Office_Products with its own leave-last-out split; its users that are new users are excluded",
    "history": f"instances store up to the last {MAX_HISTORY} items before the target; prompts use the last {layout.EVAL_HISTORY}",
    "search_query": "the target item's category path; instances whose target has no category are dropped",
    "selection": f"{N_CANDIDATES} shuffled candidates: k in {{1,2,3}} positives (the user's last k interactions ending at the target) + negatives of the target's domain the user never touched",
    "explanation": "v1: first sentence of the user's review of the item, at most 30 words, else the summary",
    "image": "instances whose target item has an image; query = target category",
    "images": "re-encoded as RGB PNG, centre-cropped and resized to a fixed square size",
    "sealed": f"the answers of the scored splits ({', '.join(EVAL_SPLITS)}: each task's declared answer columns, "
              f"and the {', '.join(SEALED_INTERACTIONS)} interactions) are in the labels folder, not here; "
              "their sha256 are listed under \"labels\"",
}


def decisions(new_user_frac: float, new_domain: str | None) -> dict:
    """DECISIONS with the holdout entries as prepared (the paper's wording when they are the paper's)."""
    out = dict(DECISIONS)
    out["new_users"] = (f"{new_user_frac:.0%} of training-domain users (seeded), held out of every training file"
                        + (f", including {new_domain}" if new_domain else "") if new_user_frac else
                        "none: every user is in train, valid and test")
    out["new_domain"] = (DECISIONS["new_domain"].replace(layout.NEW_DOMAIN, new_domain) if new_domain else
                         "none: every domain is a training domain; no new-domain splits")
    return out


def _load_domains(source: str, raw_dir: Path, domains, report: SkipReport, table_items: Path | None,
                  limits: Limits, k: int, spill: Path) -> dict:
    """{domain: (RawDomain whose reviews are the k-core's survivors, their texts spilled into `spill`, the
    reading counts, domain_stats)}."""
    if source == "table":
        return {d: _cleaned(rd, k, spill) for d, rd in table.load_table(raw_dir, table_items, report, limits=limits).items()}
    # Domains are independent files: read and clean them in parallel processes (parsing is CPU-bound; the 2014
    # metadata's Python literals in particular). Each worker fills its own SkipReport, merged here.
    domains = list(domains)
    workers = min(len(domains), os.cpu_count() or 1)
    jobs = [(source, raw_dir, d, report.skip_bad, limits, k, spill) for d in domains]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            loaded = list(tqdm(pool.map(_load_one, jobs), total=len(jobs), desc=f"read {source}", unit="domain"))
    else:
        loaded = [_load_one(j) for j in tqdm(jobs, desc=f"read {source}", unit="domain")]
    for *_, part in loaded:
        report.merge(part)
    return {d: cleaned for d, (*cleaned, _) in zip(domains, loaded)}


def _load_one(job):
    source, raw_dir, domain, skip_bad, limits, k, spill = job
    part = SkipReport(skip_bad=skip_bad)
    # no name holds the read domain here: `_cleaned` lets its id strings go once they are coded
    return *_cleaned(importlib.import_module(f"benchmark.data.sources.{source}").load_domain(raw_dir, domain, part, limits),
                     k, spill), part


def _cleaned(rd, k: int, spill: Path) -> tuple:
    """One domain's dedupe and k-core (protocol 1, per domain), its reading counts and its statistics (those
    of the merged frame's rows of this domain: the same users, items and rows). The survivors' texts are
    spilled (`benchmark.data.spill`): the reviews returned are the other columns, in the spill's row order.
    The dedupe and k-core see the other columns only, the ids as categories whose categories are sorted, so
    their codes sort as the ids do (memory: a code per row instead of a Python string; the texts are taken
    once, into the spill)."""
    reviews, rd = rd.reviews, replace(rd, reviews=None)
    texts = reviews[list(TEXTS)]
    keys = pd.DataFrame({c: pd.Categorical(reviews[c]) if c in ("user", "item") else reviews[c]
                         for c in reviews.columns if c not in TEXTS})
    n_read = len(reviews)
    del reviews  # the id strings go (unless the caller still holds the domain)
    release_freed_memory()  # the metadata's parsing and the codes' hashing, before the dedupe's arrays
    keys[SOURCE_ROW] = np.arange(len(keys))
    reviews, n_dup = dedupe_earliest(keys)
    core = k_core(reviews, k)
    del keys, reviews
    counts = {"reviews_read": n_read, "duplicates_removed": int(n_dup), "after_k_core": int(len(core))}
    stats = domain_stats(core)
    release_freed_memory()  # the dedupe's and k-core's arrays (glibc), before the spill's (Arrow's pool)
    core = spill_texts(core.drop(columns="line"), texts, spill_path(spill, rd.domain))
    del texts
    for col in ("user", "item"):  # a code per row (memory, and what crosses from the reader), the survivors' ids
        core[col] = core[col].cat.remove_unused_categories()
    release_freed_memory()  # the texts and the spill's arrays, before the result is pickled for the main process
    return replace(rd, reviews=core), counts, stats


def _merged(kept: dict[str, pd.DataFrame], items: pd.DataFrame) -> pd.DataFrame:
    """The domains' interactions (`_cleaned`'s frames, taken out of `kept` one by one) in one frame, in sequence
    order: user and domain as categories, item as its token, and where each row's texts are in the spill. The
    order is found on integer keys (`sequence_order`): the user's rank among all user ids, and the item's row in
    `items` (sorted by domain, raw id). Built as one array per column (memory: no intermediate frames)."""
    domains = list(kept)
    user_ids = np.unique(np.concatenate([core["user"].cat.categories.to_numpy(dtype=object) for core in kept.values()]))
    columns: dict[str, list] = {c: [] for c in ("user", "item", "timestamp", "rating", DOMAIN_CODE, ROW, HAS_EXPLANATION)}
    for code, domain in enumerate(domains):
        core = kept.pop(domain)
        rows = np.flatnonzero((items["domain"] == domain).to_numpy())
        item_row = pd.Series(rows, index=items["raw_id"].to_numpy()[rows])
        item_row = item_row[~item_row.index.duplicated(keep="last")]  # a repeated id: its last row, as a dict would
        users, raw = core["user"].cat, core["item"].cat
        user_rank = np.searchsorted(user_ids, users.categories.to_numpy(dtype=object)).astype(np.int32)
        columns["user"].append(user_rank[users.codes.to_numpy()])
        columns["item"].append(item_row.to_numpy()[item_row.index.get_indexer(raw.categories)][raw.codes.to_numpy()])
        columns[DOMAIN_CODE].append(np.full(len(core), code, dtype=np.int16))
        for c in ("timestamp", "rating", ROW, HAS_EXPLANATION):
            columns[c].append(core[c].to_numpy())
        del core, users, raw
    merged = {c: np.concatenate(parts) for c, parts in columns.items()}
    del columns
    order = sequence_order(merged["user"], merged["timestamp"], merged["item"])
    frame = pd.DataFrame(index=pd.RangeIndex(len(order)))
    for c in list(merged):  # each column in order, its unordered array dropped at once
        frame[c] = merged.pop(c)[order]
    frame["user"] = pd.Categorical.from_codes(frame["user"].to_numpy(), categories=user_ids)
    frame["item"] = items["item"].to_numpy()[frame["item"].to_numpy()]  # the item's row -> its token
    frame["domain"] = pd.Categorical.from_codes(frame[DOMAIN_CODE].to_numpy(), categories=domains)
    return frame


def _taken_apart(frame: pd.DataFrame, cols: list[str], masks: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """{name: frame.loc[mask, cols]} for each mask, made a column at a time, each column dropped from `frame` as
    soon as it is taken (memory: the merged frame and the groups are never whole side by side)."""
    parts: dict[str, dict] = {name: {} for name in masks}
    for c in cols:
        column = frame.pop(c)
        for name, mask in masks.items():
            parts[name][c] = column[mask].reset_index(drop=True)
        del column
    return {name: pd.DataFrame(columns, columns=cols, copy=False) for name, columns in parts.items()}  # no copy


def _items_frame(raw_domains: dict, kept: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per surviving (domain, raw id), attributes from the metadata when present."""
    rows = []
    for domain, reviews in kept.items():
        ids = pd.Series(sorted(reviews["item"].unique()), name="item")
        meta = raw_domains[domain].items
        merged = ids.to_frame().merge(meta, on="item", how="left") if len(meta) else ids.to_frame()
        merged["domain"] = domain
        rows.append(merged)
    items = pd.concat(rows, ignore_index=True).rename(columns={"item": "raw_id"})
    for col in ("title", "brand", "description", "image_url"):
        if col not in items:
            items[col] = None
    if "price" not in items:
        items["price"] = np.nan
    if "category" not in items:
        items["category"] = None
    items["category"] = [" > ".join(c) if isinstance(c, (list, tuple, np.ndarray)) and len(c) else None
                         for c in items["category"]]
    return items.sort_values(["domain", "raw_id"], kind="stable").reset_index(drop=True)


class _LazyPool:
    """A process pool made on first use; leaving the block cancels the work not yet started and waits for the
    rest (so nothing writes into a staging folder that is being removed). Its workers are started fresh
    ("spawn"), not forked: a fork of the main process, made while it holds the items and the interactions,
    keeps its own copy of every page the main process then changes (0.7 GiB at 4x paper scale), whereas a
    fresh worker imports only the function's module."""

    def __init__(self, workers: int):
        self.workers, self.pool = workers, None

    def map(self, fn, args, chunksize: int = 1):
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self.pool.map(fn, args, chunksize=chunksize)

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> "_LazyPool":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


IMAGE_WORKERS = min(os.cpu_count() or 1, 4)  # processes checking and writing the images
IMAGES_IN_BACKGROUND = 500  # more images than this: worker processes (fewer: not worth starting them)


def _write_images(items: pd.DataFrame, raw_dir: Path, images_dir: Path | None, stage: Path, size: int,
                  report: SkipReport, warnings: list, digests: dict, pool: _LazyPool):
    """Start checking and writing the items' images in `pool`; returns `finish()`, which waits for them and
    gives each item's image path in the folder (None: no image); `digests` then has each written file's sha256."""
    (stage / layout.IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    jobs, rel = [], [None] * len(items)
    missing_files = not_downloaded = 0
    urls = [None if url is None or (isinstance(url, float) and np.isnan(url)) else str(url) for url in items["image_url"]]
    found = resolve_images(zip(items["raw_id"], urls), raw_dir, images_dir)
    out_dir = os.path.join(str(stage / layout.IMAGES_DIR), "")
    for i, (raw_id, url, token, path) in enumerate(zip(items["raw_id"], urls, items["item"], found)):
        if path is None:
            if url and not url.startswith(("http://", "https://")):
                missing_files += 1
                report.record(DataError(raw_dir / url, None, f"image of item {raw_id} not found"), "missing image")
            elif url:
                not_downloaded += 1
            continue
        jobs.append((i, path, f"{out_dir}{token}.png", size))
    args = [(s, d, z) for _, s, d, z in jobs]
    background = len(jobs) > IMAGES_IN_BACKGROUND and pool.workers > 1
    pending = pool.map(normalize_to_file, args, chunksize=256) if background else None

    def finish() -> list:
        if background:
            results = list(tqdm(pending, total=len(args), desc="images", unit="img"))
            pool.shutdown()  # its threads end before the task workers are forked
        else:
            results = [normalize_to_file(a) for a in tqdm(args, desc="images", unit="img", disable=len(args) < 500)]
        for (i, _, dst, _), done in zip(jobs, results):
            if isinstance(done, str):
                rel[i] = f"{layout.IMAGES_DIR}/{os.path.basename(dst)}"
                digests[rel[i]] = done
            else:
                report.record(done, "corrupt image")
        if not_downloaded:
            warnings.append(f"{not_downloaded} items have a web image URL but no downloaded file: run `unimp-bench "
                            "download-images` (or pass --images-dir) to include them; they are kept, marked as without "
                            "image")
        return rel
    return finish


TASK_WORKERS = 2  # processes building the task sets (each set is built and written by one of them)
_TASK_STATE: dict = {}  # a task worker's inputs: set once per worker by `_set_task_state`


def _set_task_state(builders: dict, groups: dict, plan: dict, stage: Path, lstage: Path) -> None:
    _TASK_STATE.update(builders=builders, groups=groups, plan=plan, stage=stage, lstage=lstage, events={})


def _write_task_set(job: tuple[str, str]) -> int:
    """Build one task set (`job`: split, task) a part at a time (memory: about one row group is held), write its
    public file (and for a scored split its answers into the labels folder); its number of instances."""
    split, name = job
    st, spec = _TASK_STATE, TASKS[name]
    group, part = st["plan"][split]
    if split not in st["events"]:  # one split's events (made a part at a time), shared by its tasks
        st["events"] = {split: SplitEvents(st["groups"][group], part)}
    scored = split in EVAL_SPLITS  # scored: inputs in public, the task's answers sealed
    n = 0
    with row_group_writer(layout.task_path(st["stage"], name, split)) as public, \
            row_group_writer(layout.task_path(st["lstage"], name, split)) if scored else nullcontext() as sealed:
        for table in spec.build_parts(st["builders"][group], split, st["events"][split]):
            if scored:
                sealed.write(table.select(["id", *spec.answers]), flush=False)
                table = table.drop_columns(list(ANSWER_COLUMNS))
            public.write(table, flush=False)
            n += table.num_rows
            del table  # (`build_parts` holds no part either) before a row group is joined and encoded
            for writer in (public, sealed) if scored else (public,):
                writer.flush_full()
    release_freed_memory()  # before the next set (glibc and Arrow pools)
    return n


INTERACTION_ROWS = 1 << 18  # interactions whose texts are gathered from the spill together (memory)


def _write_interactions(path: Path, frame: pd.DataFrame, keep: np.ndarray, spill: Path, text_domains: list[str]) -> None:
    """One interaction split file (layout.INTERACTION_COLUMNS): the rows `keep` (a mask) of a group's frame,
    taken INTERACTION_ROWS rows of the frame at a time (memory: the split's rows are never copied whole), the
    texts gathered from the spill: the bytes `write_parquet` gives the split's whole frame with its texts."""
    cols = list(layout.INTERACTION_COLUMNS)
    written = 0
    with row_group_writer(path) as out:
        for lo in range(0, max(len(frame), 1), INTERACTION_ROWS):
            part = frame.iloc[lo:lo + INTERACTION_ROWS][keep[lo:lo + INTERACTION_ROWS]]
            if part.empty and (written or lo + INTERACTION_ROWS < len(frame)):
                continue  # an empty table only for a file of no rows (the types of its columns: pandas')
            written += len(part)
            keys = part[[c for c in cols if c not in TEXTS]].astype({"user": object, "domain": object})  # not categories
            table = pa.Table.from_pandas(keys, preserve_index=False)
            code, row = part[DOMAIN_CODE].to_numpy(), part[ROW].to_numpy()
            for col in TEXTS:
                table = table.add_column(cols.index(col), col, gather(spill, text_domains, code, row, col))
            out.write(table)


def _write_task_sets(builders: dict, groups: dict, plan: dict, stage: Path, lstage: Path) -> dict[str, int]:
    """Every (split, task) set, built by TASK_WORKERS processes (CPU-bound, and Python holds the GIL). The
    workers inherit the builders (fork: no copy); each set is seeded by its split and task only, so its bytes do
    not depend on which worker builds it when. Counts in the fixed (split, task) order."""
    jobs = [(split, spec.name) for split in plan for spec in TASKS.values() if spec.builds]  # variants reuse files
    state = (builders, groups, plan, stage, lstage)
    workers = min(TASK_WORKERS, os.cpu_count() or 1, len(jobs))
    if workers > 1:
        gc.freeze()  # the objects now alive are left alone by the workers' collector (memory: it would copy their pages)
        try:
            with ProcessPoolExecutor(workers, initializer=_set_task_state, initargs=state) as pool:
                counts = list(tqdm(pool.map(_write_task_set, jobs), total=len(jobs), desc="task sets", unit="set"))
        finally:
            gc.unfreeze()
    else:
        _set_task_state(*state)
        counts = [_write_task_set(job) for job in tqdm(jobs, desc="task sets", unit="set")]
        _TASK_STATE.clear()
    return {f"{name}/{split}": n for (split, name), n in zip(jobs, counts)}


def check_out(out: Path, force: bool, labels_out: Path | None = None) -> Path:
    """An existing output folder is replaced only with `force`, and only when it is a prepared dataset (its
    labels folder: a labels folder): a mistyped --out (a home folder, a source tree) must never be deleted.
    The labels folder must lie outside the public one (else the answers would be published). Returns it."""
    labels_out = Path(labels_out) if labels_out is not None else default_labels_dir(out)
    a, b = out.resolve(), labels_out.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise FileExistsError(f"--labels-out {labels_out} must be outside --out {out} (and not contain it): "
                              "the labels folder holds the answers that the public folder must not")
    for folder, is_ours, what, flag in ((out, is_prepared_dataset, f"prepared dataset (no {layout.MANIFEST} with "
                                         "dataset_sha256 and files)", "--out"),
                                        (labels_out, is_labels_folder, f"labels folder (no {layout.LABELS_MARKER})",
                                         "--labels-out")):
        if not os.path.lexists(folder):
            continue
        if not force:
            raise FileExistsError(f"{folder} exists; pass --force to replace it")
        if not folder.is_dir() or folder.is_symlink() or not is_ours(folder):
            raise FileExistsError(f"{folder} is not a {what}, so --force will not replace it; nothing was "
                                  f"deleted. Choose another {flag}.")
    return labels_out


def prepare(source: str, raw_dir: str | Path, out: str | Path, *, seed: int = 0, images_dir: str | Path | None = None,
            image_size: int = 224, k: int = 5, new_user_frac: float = 0.1, skip_bad: bool = False,
            force: bool = False, table_items: str | Path | None = None, domains=layout.ALL_DOMAINS,
            scale: str | None = None, limits: Limits | None = None,
            new_domain: str | None = layout.NEW_DOMAIN, labels_out: str | Path | None = None,
            origin: str | None = None) -> Path:
    """`origin`: what the manifest names as the data's source when it is not the release `source` whose file
    format was read (the embedded world: generated, in the 2014 format). `limits`: accepted rating and time ranges (default: 1..5 stars, 1990-01-01 to a day after now); a
    value outside is a FILE:LINE error, or a counted skip with `skip_bad`. `labels_out`: where the scored
    splits' answers go [default: `<out>.labels` beside `out`].

    Holdouts: `new_user_frac` of the training-domain users (0: none) and the `new_domain` (None: none; the
    default Office_Products only where the data has it). A holdout that is off writes no files."""
    t0 = time.time()
    if not 0 <= new_user_frac < 1:
        raise ValueError(f"the new-user fraction must be in [0, 1), got {new_user_frac}")
    limits = limits or Limits()
    if source == "table" and limits.time is None and timestamps_are_positions(Path(raw_dir)):
        limits = replace(limits, time=ANY_TIME)  # converted positions: an order, not times
    raw_dir, out = Path(raw_dir), Path(out)
    images_dir = Path(images_dir) if images_dir else None
    labels_out = check_out(out, force, labels_out)
    remove_stale_staging(out.parent, out.name)
    remove_stale_staging(labels_out.parent, labels_out.name)
    report, warnings = SkipReport(skip_bad=skip_bad), []
    with spill_dir(out) as spill:  # the review texts, out of memory until written (removed at the end, also on error)
        # 1. per domain, as each is read: dedupe, k-core
        loaded = _load_domains(source, raw_dir, domains, report, Path(table_items) if table_items else None, limits, k,
                               spill)
        raw, kept, stats_raw, domain_counts = {}, {}, {}, {}
        for domain, (rd, counts, stats) in loaded.items():
            raw[domain] = replace(rd, reviews=rd.reviews.iloc[:0])  # the metadata; the reviews are in `kept`
            if counts["after_k_core"] == 0:
                if counts["reviews_read"]:  # no reviews at all (an empty file) is already in the skip report
                    warnings.append(f"{domain}: nothing survives the {k}-core")
                continue
            kept[domain] = rd.reviews
            stats_raw[domain], domain_counts[domain] = counts, stats
        del loaded
        if new_domain is not None and new_domain not in raw and new_domain != layout.NEW_DOMAIN:
            raise DataError(raw_dir, None, f"--new-domain {new_domain}: no such domain in the data "
                            f"(domains: {', '.join(sorted(raw))}); use none to turn the new-domain holdout off")
        if new_domain not in kept:  # the default where absent, or nothing left after the k-core
            new_domain = None
        train_domains = [d for d in kept if d != new_domain]
        if not train_domains:
            raise DataError(raw_dir, None, f"no training-domain interactions survive the {k}-core")

        # 2. items: attributes, seeded tokens, text, images
        items = _items_frame(raw, kept)
        del raw  # memory: the metadata is in `items` now
        items["item"] = seeded_permutation(len(items), seed).astype(np.int64)
        # The public folder is swapped in first, then its labels: if the first swap fails, both old folders stay
        # as they were. (A failure between the two leaves new data beside old labels, which `labels.json` names.)
        with staged_dir(labels_out, replace=True) as lstage, staged_dir(out, replace=True) as stage, \
                _LazyPool(IMAGE_WORKERS) as image_pool:
            image_root = raw_dir.parent if raw_dir.is_file() else raw_dir  # `table`: raw_dir is the interactions file
            image_digests: dict[str, str] = {}
            images_done = _write_images(items, image_root, images_dir, stage, image_size, report, warnings, image_digests,
                                        image_pool)
            # the items' text while the image workers start (they need the ids and tokens only)
            items["text"] = [flatten(attribute_dict(t, b, p, c, d)) for t, b, p, c, d in
                             zip(items["title"], items["brand"], items["price"], items["category"], items["description"])]

            # 3. interactions: merge, order, split (while the images are checked and written)
            text_domains = list(kept)  # the spill files, by DOMAIN_CODE
            n_kept = {d: len(core) for d, core in kept.items()}
            inter = _merged(kept, items)  # empties `kept`
            del kept, rd
            # the interactions' columns but the texts, which stay in the spill (`_write_interactions`)
            cols = [c for c in layout.INTERACTION_COLUMNS if c not in TEXTS] + [DOMAIN_CODE, ROW, HAS_EXPLANATION]
            # the groups' rows taken from the merged frame once each (memory: no intermediate frames)
            office = inter[DOMAIN_CODE].to_numpy() == (text_domains.index(new_domain) if new_domain else -1)
            user_code, user_ids = inter["user"].cat.codes.to_numpy(), inter["user"].cat.categories
            users = user_ids.to_numpy(dtype=object)[sorted_unique(user_code[~office])]  # sorted, as the ids are
            n_new = int(round(new_user_frac * len(users)))
            new_users = set(np.random.default_rng([seed, 1]).choice(users, size=n_new, replace=False).tolist())
            is_new = np.isin(user_code, np.flatnonzero(user_ids.isin(new_users)))
            del user_code, user_ids, users, new_users  # the id strings: the groups hold them until the builders' release
            # the manifest's counts now, then the merged frame is taken apart into the groups
            per_domain = {d: domain_counts[d] for d in sorted(n_kept)}
            per_domain["all training domains"] = domain_stats(inter.loc[~office, ["user", "item"]])
            groups = {g: Sequences.from_frame(frame) for g, frame in _taken_apart(inter, cols, {
                "main": ~office & ~is_new, "new_user": ~office & is_new, "office": office & ~is_new}).items()}
            del inter, office, is_new
            release_freed_memory()  # what the merged frame held, before the split files
            # a holdout that is off has no split: nothing is written for it (no empty files)
            held_out = {"main": True, "new_user": n_new > 0, "office": new_domain is not None}
            inter_plan = {  # interaction split -> (sequence group, leave-last-out part)
                "train": ("main", "train"), "valid": ("main", "valid"), "test": ("main", "test"),
                "new_user": ("new_user", "all"), "new_domain_train": ("office", "train"),
                "new_domain_valid": ("office", "valid"), "new_domain_test": ("office", "test"),
            }
            split_counts = {}
            for split, (g, part) in inter_plan.items():
                if held_out[g]:
                    keep = groups[g].part_mask(part)
                    _write_interactions(layout.interactions_path(lstage if split in SEALED_INTERACTIONS else stage, split),
                                        groups[g].frame, keep, spill, text_domains)
                    split_counts[split] = {"users": groups[g].part_users(part), "interactions": int(keep.sum())}
            del keep
            items["image"] = images_done()
            del images_done  # and the image jobs' paths it holds
            image_digests = KnownDigests(image_digests.items())  # memory: no Python strings held to the end
            items_out = items.sort_values("item")[list(layout.ITEM_COLUMNS)].reset_index(drop=True)
            write_parquet(stage / layout.ITEMS, items_out)
            del items_out

            # 4. task instances
            by_token = items.set_index("item").sort_index()
            queries = item_queries(by_token["category"].to_numpy(dtype=object))  # Arrow: shared by the workers
            has_image = by_token["image"].notna().to_numpy()
            domain_names = sorted(by_token["domain"].unique())
            domain_code = by_token["domain"].map({d: i for i, d in enumerate(domain_names)}).to_numpy()
            pools = [np.flatnonzero(domain_code == i).astype(np.int64) for i in range(len(domain_names))]
            n_items = len(items)
            del by_token, items  # memory: its texts, before the task workers are forked
            plan = {  # task split -> (sequence group, leave-last-out part)
                "train": ("main", "train"), "valid": ("main", "valid"), "test": ("main", "test"),
                "new_user": ("new_user", "test"),
                "new_domain_train": ("office", "train"), "new_domain_valid": ("office", "valid"),
                "new_domain": ("office", "test"),
            }
            plan = {split: (group, part) for split, (group, part) in plan.items() if held_out[group]}
            builders = {g: TaskBuilder(s, queries, has_image, domain_code, pools, seed, (spill, text_domains))
                        for g, s in groups.items() if held_out[g]}
            for b in builders.values():
                b.release_unread()
            release_freed_memory()  # what the merged frames held, before the task tables
            instance_counts = _write_task_sets(builders, groups, plan, stage, lstage)

            # 5. manifest + data card (+ every skipped record, when any)

            if report.records:
                write_text(stage / layout.SKIPPED, "".join(json.dumps(row) + "\n" for row in report.record_rows()))
            labels = file_hashes(lstage)
            manifest = write_manifest_and_card(stage, {
                "benchmark_version": __version__, "source": origin or source, "format": source, "scale": scale, "seed": seed, "k_core": k,
                "protocol": protocol_name(new_user_frac, new_domain), "new_user_fraction": new_user_frac,
                "new_domain": new_domain, "image_size": image_size, "decisions": decisions(new_user_frac, new_domain),
                # the rule, not today's date: the manifest stays the same from day to day (not in the data card,
                # so the embedded world's dataset sha256 is what it was before the ranges were checked)
                "value_ranges": limits.describe(),
                "domains": per_domain, "reading": stats_raw,
                "splits": split_counts,
                "items_without_image": int((~has_image).sum()), "n_items": int(n_items),
                "instances": instance_counts, "skipped": report.to_json(), "warnings": warnings,
            }, labels=labels, known=image_digests)
            write_json(lstage / layout.LABELS_MARKER, marker(manifest["dataset_sha256"], labels))
    print(f"prepared {out} in {time.time() - t0:.1f}s; the scored splits' answers are in {labels_out} "
          "(keep it private)")
    return out


EMBEDDED_SOURCE = "embedded-world"  # the manifest's source for the generated world (its files: amazon2014 format)
WORLD_IMAGE_SIZE = {"tiny": 32, "default": 64, "paper": 32}


def prepare_default(out: str | Path = "data/world-default", raw: str | Path | None = None, scale: str = "default",
                    seed: int = 0, force: bool = False, image_size: int | None = None, new_user_frac: float = 0.1,
                    new_domain: str | None = layout.NEW_DOMAIN, labels_out: str | Path | None = None) -> Path:
    """The embedded default: generate the Amazon-like world in the 2014 format, then the ordinary path."""
    out = Path(out)
    check_out(out, force, labels_out)  # before the world is generated beside it
    raw = Path(raw) if raw else out.parent / "raw" / f"world-{scale}-seed{seed}"
    generate_world(raw, scale=scale, seed=seed)  # returns at once when `raw` already holds this world
    return prepare("amazon2014", raw, out, seed=seed, image_size=image_size or WORLD_IMAGE_SIZE.get(scale, 64),
                   force=force, scale=scale, new_user_frac=new_user_frac, new_domain=new_domain, labels_out=labels_out,
                   origin=EMBEDDED_SOURCE)
