"""Write a world in the Amazon 2014 release's own formats, per domain:

    reviews_<Domain>_5.json.gz   strict JSON lines, sorted by (asin, time, reviewer)
    meta_<Domain>.json.gz        one Python-literal dict per line (repr), sorted by asin
    images/<asin>.png            for items with an imUrl (which is this relative path)
    world.json                   parameters, file hashes and the latent truth summary

Everything is written into a staging folder beside `out_dir`, renamed into place at the end, so a
folder with world.json is always complete. Gzip members carry mtime 0 and no file name.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np

from benchmark.data import io
from benchmark.data.layout import ALL_DOMAINS
from benchmark.data.processing import lexsort_ints
from benchmark.data.world import text
from benchmark.data.world.build import World, simulate
from benchmark.data.world.catalogue import Catalogue, build_catalogue
from benchmark.data.world.config import BEHAVIOUR, Behaviour, Scale, describe, get_scale
from benchmark.data.world.render import BATCH, pngs
from benchmark.data.world.sampling import stream
from benchmark.data.world.truth import truth_summary

WORLD_JSON = "world.json"
IMAGES = "images"
GZIP_LEVEL = 1  # the reviews and metadata files: 3x faster to write than level 6, ~1.3x larger (images: PNG's own)
REVIEW_CHUNK = 50_000  # review lines built at a time
log = logging.getLogger(__name__)


def reviews_name(domain: str) -> str:
    return f"reviews_{domain}_5.json.gz"


def meta_name(domain: str) -> str:
    return f"meta_{domain}.json.gz"


class _HashingFile:
    """A binary file that hashes what is written to it (so a written file is never read again to hash it)."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _gzip(path: Path, chunks) -> str:
    """Gzip `chunks` (bytes, or an iterable of bytes) into `path` (no name, mtime 0); the file's sha256."""
    with open(path, "wb") as f:
        out = _HashingFile(f)
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=GZIP_LEVEL, mtime=0) as z:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                z.write(chunk)
    return out.sha.hexdigest()


def _strs(values) -> np.ndarray:
    return np.array([str(v) for v in np.asarray(values).tolist()], dtype=object)


def _review_times(day: np.ndarray) -> np.ndarray:
    """'MM D, YYYY' as the 2014 files write reviewTime (each distinct day spelt once)."""
    days, where = np.unique(day, return_inverse=True)  # sort-based (with an inverse): a few thousand days
    return _day_strings(days)[where]


def _day_strings(day: np.ndarray) -> np.ndarray:
    d = day.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12
    dom = (d - month_start).astype(np.int64)
    months = np.array([f"{m:02d} " for m in range(1, 13)], dtype=object)
    days = np.array([f"{k}, " for k in range(1, 32)], dtype=object)
    return months[month] + days[dom] + _strs(year)


def _no_quotes(*arrays) -> None:
    for a in arrays:
        joined = "".join(filter(None, a.tolist()))  # None and "" add nothing (a generator per value cost seconds)
        if '"' in joined or "\\" in joined:
            raise ValueError("generated text must not contain a double quote or backslash")


def review_lines(world: World, domain: int, asin_rank: np.ndarray, user_rank: np.ndarray) -> Iterator[bytes]:
    """One domain's review lines, sorted by (asin, time, reviewer), a chunk at a time (bounded memory)."""
    it = world.interactions
    rng = stream(world.seed, "text", domain)
    rows = np.flatnonzero(it.domain == domain)
    rows = rows[lexsort_ints((user_rank[it.user[rows]], it.day[rows], asin_rank[it.item[rows]]))]
    for lo in range(0, len(rows), REVIEW_CHUNK):
        yield _review_chunk(world, rows[lo:lo + REVIEW_CHUNK], rng)


def _review_chunk(world: World, rows: np.ndarray, rng: np.random.Generator) -> bytes:
    it, users, cat = world.interactions, world.users, world.catalogue
    item, user, rating = it.item[rows], it.user[rows], it.rating[rows]
    body, summary = text.reviews(world.signals(rows), world.price_high(rows), rating,
                                 text.slot_arrays(cat, item), rng)
    total = rng.negative_binomial(0.5, 0.35, len(rows))
    up = rng.binomial(total, np.clip(0.45 + 0.12 * (rating - 3), 0.05, 0.95))
    names = users.name[user]
    _no_quotes(body, summary, names)
    # one f-string per line (the object-array `+` chain allocated every intermediate string)
    name_part = ['"reviewerName": "' + x + '", ' if x is not None else "" for x in names.tolist()]
    lines = [f'{{"reviewerID": "{rid}", "asin": "{asin}", {name}'
             f'"helpful": [{u}, {t}], "reviewText": "{b}", "overall": {r}, "summary": "{sm}", '
             f'"unixReviewTime": {sec}, "reviewTime": "{when}"}}'
             for rid, asin, name, u, t, b, r, sm, sec, when in zip(
                 users.reviewer_id[user].tolist(), cat.asin[item].tolist(), name_part, up.tolist(),
                 total.tolist(), body.tolist(), rating.astype(float).tolist(), summary.tolist(),
                 (it.day[rows] * 86400).tolist(), _review_times(it.day[rows]).tolist())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def meta_lines(world: World, domain: int, titles: list, descriptions: list, order: np.ndarray) -> bytes:
    """Metadata of one domain's items (in asin order), each line `repr(dict)` like the 2014 files."""
    cat = world.catalogue
    rng = stream(world.seed, "items_text", 1000 + domain)
    items = order[cat.domain[order] == domain]
    sampler = cat.sampler()
    viewed = sampler.weighted(np.repeat(cat.leaf[items][:, None], 3, axis=1), rng)
    rank = np.empty(len(items), dtype=np.int64)
    rank[np.argsort(-cat.popularity[items], kind="stable")] = np.arange(len(items))
    rank = rank * 37 + rng.integers(1, 38, len(items))
    extra_path = rng.random(len(items)) < 0.10
    extra_first = rng.random(len(items)) < 0.5
    has = cat.has
    out = []
    for j, i in enumerate(items.tolist()):
        asin, path = cat.asin[i], cat.leaf_path[cat.leaf[i]]
        rec: dict = {"asin": asin}
        if has["title"][i]:
            rec["title"] = titles[i]
        if has["price"][i]:
            rec["price"] = float(cat.price[i])
        if has["image"][i]:
            rec["imUrl"] = f"{IMAGES}/{asin}.png"
        if has["related"][i]:
            succ = [a for a in dict.fromkeys(cat.asin[cat.successors[i]].tolist()) if a != asin]
            rec["related"] = {"also_bought": succ,
                              "also_viewed": [a for a in dict.fromkeys(cat.asin[viewed[j]].tolist()) if a != asin]}
            if len(succ) > 1:
                rec["related"]["bought_together"] = succ[:1]
        if has["sales_rank"][i]:
            rec["salesRank"] = {path[0]: int(rank[j])}
        categories = [list(path)]
        if extra_path[j]:  # a second, shorter path, as many 2014 items have
            categories.insert(0 if extra_first[j] else 1, path[:2])
        rec["categories"] = categories
        if has["brand"][i]:
            rec["brand"] = str(cat.brand_name[cat.brand[i]])
        if has["description"][i]:
            rec["description"] = descriptions[i]
        out.append(repr(rec))
    return ("\n".join(out) + "\n").encode("utf-8")


def _image_batch(cat: Catalogue, size: int, noise_sd: float, seed: int, folder: Path, items: np.ndarray,
                 batch: int) -> dict[str, str]:
    """Render, encode and write one batch of images; returns {file name: sha256}. Each batch has
    its own random stream, so the bytes do not depend on which process runs it when."""
    data = pngs(cat.colour[items], cat.shape[items], cat.pattern[items], size, noise_sd, stream(seed, "images", batch))
    digests = {}
    for i, png in zip(items.tolist(), data):
        name = f"{cat.asin[i]}.png"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(png)
        digests[name] = hashlib.sha256(png).hexdigest()
    return digests


# What a worker process writes from: set once per worker by `_set_state` (with the fork start method the
# workers inherit it without a copy; with spawn it is pickled once per worker).
_STATE: dict = {}
WORKERS = 2  # processes per pool: text building and PNG encoding are CPU-bound Python and numpy


def _set_state(**state) -> None:
    _STATE.update(state)


def _domain_files(d: int) -> dict[str, str]:
    """Write one domain's metadata and reviews files; {file name: sha256}."""
    w = _STATE
    name, folder = ALL_DOMAINS[d], w["folder"]
    return {meta_name(name): _gzip(folder / meta_name(name), meta_lines(w["world"], d, w["titles"],
                                                                      w["descriptions"], w["asin_order"])),
            reviews_name(name): _gzip(folder / reviews_name(name), review_lines(w["world"], d, w["asin_rank"],
                                                                                w["user_rank"]))}


def _images(batch: int, items: np.ndarray) -> dict[str, str]:
    s = _STATE
    return _image_batch(s["catalogue"], s["size"], s["noise_sd"], s["seed"], s["images"], items, batch)


class _ImageWriter:
    """The catalogue's images rendered and written by worker processes, from as soon as the catalogue exists
    (while the users and reviews are drawn). A context manager: leaving it cancels what has not started."""

    def __init__(self, cat: Catalogue, scale: Scale, behaviour: Behaviour, seed: int, folder: Path):
        (folder / IMAGES).mkdir(parents=True, exist_ok=True)
        state = dict(catalogue=cat, size=scale.image_size, noise_sd=behaviour.image_noise_sd, seed=seed,
                     images=str(folder / IMAGES))
        self.pool = ProcessPoolExecutor(WORKERS, initializer=partial(_set_state, **state))
        with_image = np.flatnonzero(cat.has["image"])
        self.jobs = [self.pool.submit(_images, b, with_image[lo:lo + BATCH])
                     for b, lo in enumerate(range(0, len(with_image), BATCH))]

    def digests(self) -> dict[str, str]:
        """{file name: sha256} of every image, once all are written."""
        out = {}
        for job in self.jobs:
            out.update(job.result())
        return out

    def __enter__(self) -> "_ImageWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def write_world(world: World, folder: Path, images: _ImageWriter | None = None) -> dict:
    """Write every file of `world` into `folder` (which should be empty); returns world.json's content.
    `images`: its images, already being written into `folder` (else they are written here)."""
    t0 = time.time()
    folder = Path(folder)
    cat, users = world.catalogue, world.users
    asin_order = np.argsort(cat.asin.astype(str), kind="stable")
    asin_rank = np.empty(cat.n_items, dtype=np.int64)
    asin_rank[asin_order] = np.arange(cat.n_items)
    user_rank = np.empty(users.n_users, dtype=np.int64)
    user_rank[np.argsort(users.reviewer_id.astype(str), kind="stable")] = np.arange(users.n_users)
    titles = text.titles(cat)
    descriptions = text.descriptions(cat, stream(world.seed, "items_text"))

    # Processes, not threads: building the text and the images holds the GIL. Every file has its own random
    # stream, so its bytes do not depend on which worker writes it when; the largest domains go first (balance).
    domains = sorted(range(len(ALL_DOMAINS)), key=lambda d: -int((world.interactions.domain == d).sum()))
    state = dict(world=world, folder=folder, asin_order=asin_order, asin_rank=asin_rank, user_rank=user_rank,
                 titles=titles, descriptions=descriptions)
    with (images or _ImageWriter(cat, world.scale, world.behaviour, world.seed, folder)) as images, \
            ProcessPoolExecutor(WORKERS, initializer=partial(_set_state, **state)) as pool:
        hashes = {}
        for job in [pool.submit(_domain_files, d) for d in domains]:
            hashes.update(job.result())
        digests = images.digests()
    images_sha = hashlib.sha256("".join(f"{k} {digests[k]}\n" for k in sorted(digests)).encode()).hexdigest()
    log.info("world: wrote reviews, metadata and %d images in %.1fs", len(digests), time.time() - t0)

    files = {f: hashes[f] for name in ALL_DOMAINS for f in (reviews_name(name), meta_name(name))}
    content = {
        "generator": "unimp-bench world", "format": "amazon2014", "seed": world.seed,
        "params": describe(world.scale, world.behaviour),
        "files": files, "images_sha256": images_sha,
        "truth": truth_summary(world),
    }
    io.write_json(folder / WORLD_JSON, content)
    return content


def _same_params(out: Path, scale, seed: int) -> bool:
    try:
        old = json.loads((out / WORLD_JSON).read_text())
    except (OSError, ValueError):
        return False
    want = json.loads(json.dumps(describe(scale, BEHAVIOUR)))
    return old.get("seed") == seed and old.get("params") == want


def generate_world(out_dir: str | Path, scale: str = "default", seed: int = 0, *, force: bool = False) -> Path:
    """Generate the seven-domain world into `out_dir` in the Amazon 2014 formats; returns `out_dir`.

    Same (scale, seed) gives byte-identical files. An `out_dir` already holding the same world is
    kept as is unless `force`; one holding another world is replaced; any other non-empty folder is
    refused (never deleted).
    """
    out = Path(out_dir)
    scale = get_scale(scale)
    if not force and _same_params(out, scale, seed):
        return out
    if out.exists() and any(out.iterdir()) and not (out / WORLD_JSON).is_file():
        raise FileExistsError(f"{out}: exists, is not empty and holds no {WORLD_JSON}; refusing to replace it")
    stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    try:
        if stage.exists():
            shutil.rmtree(stage)
        t0 = time.time()
        cat = build_catalogue(scale, BEHAVIOUR, seed)
        with _ImageWriter(cat, scale, BEHAVIOUR, seed, stage) as images:  # the images need the catalogue only
            world = simulate(scale, seed, catalogue=cat)
            log.info("world: simulated %s (seed %d) in %.1fs", scale.name, seed, time.time() - t0)
            write_world(world, stage, images)
        if out.exists():
            os.replace(out, old)
        os.replace(stage, out)
    finally:
        for leftover in (stage, old):
            if leftover.exists():
                shutil.rmtree(leftover)
    return out
