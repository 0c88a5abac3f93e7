"""Time `prepare` at a given scale (default: paper, ~1.6 M interactions): interactions/s and peak memory.

World generation is timed apart from `prepare` (which reads the 2014-format files like real data).
Usage: python bench/bench_prepare.py [--scale paper] [--workdir DIR (default: <system temp>/unimp-bench-prepare)]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path


def peak_rss_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 2**20  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="paper")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "unimp-bench-prepare")
    args = parser.parse_args()
    from benchmark.data.world import generate_world
    from benchmark.prepare import WORLD_IMAGE_SIZE, prepare

    raw, out = args.workdir / f"raw-{args.scale}", args.workdir / f"data-{args.scale}"
    if not (raw / "world.json").is_file():
        t0 = time.time()
        generate_world(raw, scale=args.scale, seed=0)
        print(f"world generation ({args.scale}): {time.time() - t0:.1f}s, peak RSS {peak_rss_gib():.2f} GiB")
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    prepare("amazon2014", raw, out, seed=0, image_size=WORLD_IMAGE_SIZE[args.scale], scale=args.scale)
    elapsed = time.time() - t0
    manifest = json.loads((out / "manifest.json").read_text())
    n = sum(v["reviews_read"] for v in manifest["reading"].values())
    print(f"prepare ({args.scale}): {n:,} reviews read in {elapsed:.1f}s = {n / elapsed:,.0f} interactions/s; "
          f"peak RSS {peak_rss_gib():.2f} GiB; {manifest['n_items']:,} items; "
          f"{sum(manifest['instances'].values()):,} task instances")


if __name__ == "__main__":
    main()
